"""CAN CSV ingest: the Car-Hacking layout, the headered layout and bad rows."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.data.can import combine_captures, read_can_csv, read_can_frames, write_can_frames
from distillery.data.generate.can_bus import simulate_capture, write_capture
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
    assert table["can_id"].tolist() == [0x316, 0x18F, 0x260, 0x2A0]
    assert table["dlc"].tolist() == [8, 8, 2, 8]
    assert table.loc[2, ["b0", "b1", "b2"]].tolist() == [0x19, 0x21, 0]
    assert table["label"].astype(str).tolist() == ["normal", "normal", "spoofing", "normal"]
    assert table["capture"].unique().tolist() == ["gear"]
    out = tmp_path / "frames.parquet"
    write_can_frames(out, table)
    back = read_can_frames(out)
    assert back["timestamp"].tolist() == table["timestamp"].tolist()
    assert back["b7"].dtype == np.uint8


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
        ("abc,0316,2,05,01,R", r"timestamp \(data row 2\)"),
    ],
)
def test_bad_rows_stop_with_row_and_field(tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(CAR_HACKING.splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(InputError, match=message) as info:
        read_can_csv(path, "dos", "bad")
    assert "bad.csv" in str(info.value) and "on_bad_rows: skip" in str(info.value)


def test_bad_rows_can_be_skipped(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(CAR_HACKING + "1478198376.4,0316,9,05,R\n")
    table = read_can_csv(path, "dos", "bad", on_bad_rows="skip")
    assert len(table) == 4


def test_time_going_backwards_fails_schema(tmp_path):
    path = tmp_path / "late.csv"
    lines = CAR_HACKING.splitlines()
    path.write_text("\n".join([lines[1], lines[0]]) + "\n")
    with pytest.raises(InputError, match="timestamps non-decreasing"):
        combine_captures([read_can_csv(path, "dos", "late")], str(path))


def test_generated_capture_round_trips_with_injected_attack(tmp_path):
    rows = simulate_capture("fuzzy", duration=4.0, n_bursts=2, seed=3)
    path = tmp_path / "fuzzy.csv"
    write_capture(path, rows)
    table = read_can_csv(path, "fuzzy", "fuzzy")
    flagged = sum(1 for r in rows if r[-1] == "T")
    assert len(table) == len(rows)
    assert (table["label"] == "fuzzy").sum() == flagged > 0
    np.testing.assert_allclose(table["timestamp"], [r[0] for r in rows], atol=1e-6)
