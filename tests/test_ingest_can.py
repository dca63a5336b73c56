"""CAN ingest: the Car-Hacking CSV layout, bad rows, and the streaming Parquet writer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from distillery.data.can import (
    Capture,
    combine_captures,
    ingest_can,
    read_can_csv,
    read_can_frames,
)
from distillery.data.generate.can_bus import simulate_capture, write_capture
from distillery.data.ingest import ingest
from distillery.errors import InputError

CAR_HACKING = """1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R
1478198376.389636,018f,8,fe,5b,00,00,00,3c,00,00,R
1478198376.389864,0260,2,19,21,T
1478198376.390096,02a0,8,64,00,9a,1d,97,02,bd,00,R
"""


def test_car_hacking_layout_parses_short_dlc_and_flags(tmp_path):
    path = tmp_path / "gear_dataset.csv"
    path.write_text(CAR_HACKING)
    table = combine_captures([read_can_csv(path, "spoofing", "gear")], str(path))
    assert table["timestamp"].tolist() == [1478198376.389427, 1478198376.389636,
                                           1478198376.389864, 1478198376.390096]
    assert table["can_id"].tolist() == [0x316, 0x18F, 0x260, 0x2A0]
    assert table["dlc"].tolist() == [8, 8, 2, 8]
    assert table.loc[0, [f"b{i}" for i in range(8)]].tolist() == [5, 0x21, 0x68, 9, 0x21, 0x21,
                                                                  0, 0x6F]
    assert table.loc[2, ["b0", "b1", "b2"]].tolist() == [0x19, 0x21, 0]
    assert table["label"].astype(str).tolist() == ["normal", "normal", "spoofing", "normal"]
    assert table["capture"].unique().tolist() == ["gear"]
    assert table["b7"].dtype == np.uint8


def test_headered_layout_with_space_separated_data(tmp_path):
    path = tmp_path / "capture.csv"
    path.write_text("Timestamp,Arbitration_ID,DLC,Data,Label\n"
                    "0.5,1A0,3,01 02 ff,normal\n0.6,000,8,00 00 00 00 00 00 00 00,DoS\n")
    table = combine_captures([read_can_csv(path, "x", "c")], str(path))
    assert table["can_id"].tolist() == [0x1A0, 0]
    assert table.loc[0, ["b0", "b1", "b2", "b3"]].tolist() == [1, 2, 255, 0]
    assert table["label"].astype(str).tolist() == ["normal", "dos"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1478198376.39,03zz,8,05,21,68,09,21,21,00,6f,R", r"CAN ID \(data row 2\)"),
        ("1478198376.39,0316,9,05,21,68,09,21,21,00,6f,R", r"DLC \(data row 2\).*integer 0..8"),
        ("1478198376.39,0316,2,05,g1,R", r"data bytes \(data row 2\)"),
        ("1478198376.39,0316,2,05,01,X", r"flag \(data row 2\)"),
        ("1478198376.39,0316,2,05,01,R,R", r"fields \(data row 2\).*3 \+ DLC \+ 1 fields"),
        ("abc,0316,2,05,01,R", r"timestamp \(data row 2\)"),
    ],
)
def test_bad_rows_stop_with_file_row_line_and_fix(tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(CAR_HACKING.splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(InputError, match=message) as info:
        read_can_csv(path, "dos", "bad")
    text = str(info.value)
    assert text.startswith(f"{path}: ") and f"found {line!r} on line 2" in text
    assert "on_bad_rows: skip" in text and "'car_hacking'" in text and "\n" not in text


def test_bad_rows_can_be_skipped_and_are_counted(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(CAR_HACKING + "1478198376.4,0316,9,05,R\n1478198376.5,0316,1,05,R\n")
    table = read_can_csv(path, "dos", "bad", on_bad_rows="skip")
    assert table["timestamp"].tolist()[-1] == 1478198376.5
    assert len(table) == 5
    summary = ingest_can([Capture(str(path), "bad", "dos")], tmp_path / "f.parquet",
                         on_bad_rows="skip")
    assert summary["frames"] == 5 and summary["skipped_rows"] == 1


def test_a_capture_of_only_bad_rows_is_an_error_even_when_skipping(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("1478198376.4,0316,9,05,R\n")
    with pytest.raises(InputError, match=r"wrong.csv: file: found all 1 rows bad"):
        read_can_csv(path, "dos", "wrong", on_bad_rows="skip")


def test_time_going_backwards_names_the_row(tmp_path):
    path = tmp_path / "late.csv"
    lines = CAR_HACKING.splitlines()
    path.write_text("\n".join([lines[1], lines[0]]) + "\n")
    with pytest.raises(InputError, match=r"late.csv: timestamp \(data row 2\).*on line 2.*"
                                         r"timestamps non-decreasing.*sort the capture"):
        read_can_csv(path, "dos", "late")


def test_errors_in_later_blocks_count_rows_and_lines_over_the_whole_file(tmp_path):
    path = tmp_path / "long.csv"
    good = CAR_HACKING.splitlines()[0]
    # blank lines count as lines, not as data rows
    path.write_text("\n".join([good] * 30 + ["", ""] + [good] * 17
                              + [good.replace("0316", "03zz")]) + "\n")
    reader_error = r"CAN ID \(data row 48\): found .* on line 50"
    with pytest.raises(InputError, match=reader_error):
        ingest_can([Capture(str(path), "long", "dos")], tmp_path / "f.parquet", block_bytes=128)
    assert not (tmp_path / "f.parquet").exists()
    with pytest.raises(InputError, match=reader_error):
        read_can_csv(path, "dos", "long")


def test_time_order_is_checked_across_block_boundaries(tmp_path):
    path = tmp_path / "late.csv"
    times = [1478198376 + i / 1000 for i in range(30)] + [1478198376.0005]
    path.write_text("".join(f"{t:.6f},0316,2,05,21,R\n" for t in times))
    # blocks smaller than a line hold one line each
    with pytest.raises(InputError, match=r"timestamp \(data row 31\).*on line 31.*"
                                         r"previous frame's 1478198376.029000"):
        ingest_can([Capture(str(path), "late", "dos")], tmp_path / "f.parquet", block_bytes=16)


def test_generated_capture_round_trips_with_injected_attack(tmp_path):
    rows = simulate_capture("fuzzy", duration=4.0, n_bursts=2, seed=3)
    path = tmp_path / "fuzzy.csv"
    write_capture(path, rows)
    table = read_can_csv(path, "fuzzy", "fuzzy")
    flagged = sum(1 for r in rows if r[-1] == "T")
    assert len(table) == len(rows)
    assert (table["label"] == "fuzzy").sum() == flagged > 0
    np.testing.assert_allclose(table["timestamp"], [r[0] for r in rows], atol=1e-6)
    assert table["can_id"].tolist() == [r[1] for r in rows]
    np.testing.assert_array_equal(table[["b0", "b1"]].to_numpy()[0], rows[0][3][:2])


@pytest.fixture()
def captures(tmp_path):
    """Two generated Car-Hacking captures and an attack-free text capture."""
    entries = []
    for attack in ("dos", "spoofing"):
        path = tmp_path / f"{attack}.csv"
        write_capture(path, simulate_capture(attack, duration=2.0, n_bursts=1, seed=5))
        entries.append({"path": str(path), "attack": attack, "capture": attack})
    text = tmp_path / "normal_run_data.txt"
    text.write_text(
        "Timestamp: 1479121434.850202        ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2\n"
        "Timestamp: 1479121434.850423        ID: 02c0    000    DLC: 8    14 00 00 00 00 00 00 00\n"
        "Timestamp: 1479121434.850977        ID: 0430    000    DLC: 5    00 00 00 00 00\n")
    entries.append({"path": str(text), "attack": "none", "capture": "normal_run_data"})
    return entries


@pytest.mark.parametrize("block_bytes", [1 << 20, 4096])
def test_streamed_parquet_equals_the_in_memory_table(tmp_path, captures, block_bytes):
    paths = [e["path"] for e in captures]
    expected = combine_captures([read_can_csv(e["path"], e["attack"], e["capture"])
                                 for e in captures], ",".join(paths))
    out = tmp_path / "frames.parquet"
    summary = ingest_can([Capture.from_entry(e) for e in captures], out,
                         block_bytes=block_bytes)
    streamed = read_can_frames(out)
    pd.testing.assert_frame_equal(streamed, expected)
    assert (pq.ParquetFile(out).metadata.num_row_groups > 3) == (block_bytes == 4096)
    assert summary["frames"] == len(expected)
    assert summary["labels"] == expected["label"].value_counts().sort_index().to_dict()
    assert summary["can_ids"] == expected["can_id"].nunique()
    assert summary["layouts"] == {"dos": "car_hacking", "spoofing": "car_hacking",
                                  "normal_run_data": "car_hacking_text"}


def test_ingested_table_holds_exactly_the_generated_frames(tmp_path):
    """The Parquet content, built independently from the generator's rows: what the in-memory
    ingest wrote before streaming (frame numbers over all captures, sorted label classes),
    with each `raw:` entry's vehicle tag as a column."""
    entries, expected = [], []
    for attack, vehicle in (("spoofing", "a"), ("dos", "b")):
        rows = simulate_capture(attack, duration=2.0, n_bursts=1, seed=8, vehicle=vehicle)
        path = tmp_path / f"{attack}.csv"
        write_capture(path, rows)
        entries.append({"path": str(path), "attack": attack, "capture": attack,
                        "vehicle": vehicle})
        expected += [{"capture": attack, "vehicle": vehicle, "timestamp": float(f"{t:.6f}"),
                      "can_id": i, "dlc": n,
                      **{f"b{k}": int(data[k]) if k < n else 0 for k in range(8)},
                      "label": attack if flag == "T" else "normal"}
                     for t, i, n, data, flag in rows]
    table = pd.DataFrame(expected)
    table.insert(0, "frame", np.arange(len(table), dtype=np.int64))
    table = table.astype({"capture": str, "vehicle": str, "can_id": np.int32, "dlc": np.int8,
                          **{f"b{k}": np.uint8 for k in range(8)}, "label": "category"})
    ingest([e["path"] for e in entries], {"format": "can_csv", "raw": entries},
           tmp_path / "frames.parquet")
    pd.testing.assert_frame_equal(read_can_frames(tmp_path / "frames.parquet"), table)


def test_workflow_ingest_passes_layout_and_bad_row_options(tmp_path, captures):
    cfg = {"track": "classifier", "format": "can_csv", "raw": captures,
           "layout": "car_hacking", "on_bad_rows": "skip"}
    # the text capture read as Car-Hacking CSV: every row bad, so even skipping stops
    with pytest.raises(InputError, match=r"normal_run_data.txt: file: found all 3 rows bad"):
        ingest([e["path"] for e in captures], cfg, tmp_path / "frames.parquet")
    captures[2]["layout"] = "car_hacking_text"
    summary = ingest([e["path"] for e in captures], cfg, tmp_path / "frames.parquet")
    assert summary["layouts"]["normal_run_data"] == "car_hacking_text"
    assert summary["captures"] == 3 and summary["skipped_rows"] == 0
    assert set(read_can_frames(tmp_path / "frames.parquet")["label"].astype(str)) == {
        "normal", "dos", "spoofing"}
