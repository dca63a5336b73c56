"""Every supported CAN capture layout, on small files written the way each public dataset
writes them: detection, parsed values, the layout override, and bad rows."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.data.can import Capture, CaptureReader, combine_captures, ingest_can, read_can_csv
from distillery.data.can_layouts import detect_layout
from distillery.errors import ConfigError, InputError

BYTES = [f"b{i}" for i in range(8)]

# Car-Hacking attack-free capture (normal_run_data.txt)
CAR_HACKING_TEXT = (
    "Timestamp: 1479121434.850202        ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2\n"
    "Timestamp: 1479121434.850423        ID: 02c0    000    DLC: 8    14 00 00 00 00 00 00 00\n"
    "Timestamp: 1479121434.850977        ID: 0430    000    DLC: 5    00 00 1f 00 00\n"
)
# can-train-and-test
CAN_TRAIN_TEST = (
    "timestamp,arbitration_id,data_field,attack\n"
    "1597759710.1258929,0C1,0000000000000000,0\n"
    "1597759710.1261239,1F7,A3FF01,1\n"
    "1597759710.1263,0D1,,0\n"
)
# SynCAN test files (train_1 says Signal1..Signal4, train_2..4 have no header)
SYNCAN = (
    "Label,Time,ID,Signal1_of_ID,Signal2_of_ID,Signal3_of_ID,Signal4_of_ID\n"
    "0,0.0,id2,0.5,0.25,,\n"
    "0,12.5,id7,1.0,,,\n"
    "1,25.0,id10,0.0,0.2,0.6,0.999\n"
)
# ROAD candump logs: 3 or 8 hex digit IDs, data possibly empty
CANDUMP = (
    "(1436509052.249713) can0 044#2A366C2BBA\n"
    "(1436509052.249909) can0 1C5#\n"
    "(1436509052.250101) can0 18FEF100#0102030405060708\n"
)
PLAIN_CSV = (
    "timestamp,can_id,dlc,b0,b1,b2,b3,b4,b5,b6,b7,label\n"
    "0.5,1A0,3,01,02,ff,,,,,,normal\n"
    "0.6,0x000,8,00,00,00,00,00,00,00,00,DoS\n"
)


def _read(tmp_path, name, text, **options):
    path = tmp_path / name
    path.write_text(text)
    return combine_captures([read_can_csv(path, "attack", "c", **options)], str(path))


def _bytes(table, row):
    return table.loc[row, BYTES].tolist()


def test_car_hacking_text_layout(tmp_path):
    table = _read(tmp_path, "normal_run_data.txt", CAR_HACKING_TEXT)
    assert table["timestamp"].tolist() == [1479121434.850202, 1479121434.850423,
                                           1479121434.850977]
    assert table["can_id"].tolist() == [0x350, 0x2C0, 0x430]
    assert table["dlc"].tolist() == [8, 8, 5]
    assert _bytes(table, 0) == [0x05, 0x28, 0x84, 0x66, 0x6D, 0, 0, 0xA2]
    assert _bytes(table, 2) == [0, 0, 0x1F, 0, 0, 0, 0, 0]
    assert set(table["label"].astype(str)) == {"normal"}


def test_can_train_test_layout_takes_dlc_from_the_data(tmp_path):
    table = _read(tmp_path, "DoS-1.csv", CAN_TRAIN_TEST)
    assert table["timestamp"].tolist() == [1597759710.1258929, 1597759710.1261239,
                                           1597759710.1263]
    assert table["can_id"].tolist() == [0x0C1, 0x1F7, 0x0D1]
    assert table["dlc"].tolist() == [8, 3, 0]
    assert _bytes(table, 1) == [0xA3, 0xFF, 0x01, 0, 0, 0, 0, 0]
    assert table["label"].astype(str).tolist() == ["normal", "attack", "normal"]


@pytest.mark.parametrize("header", [SYNCAN.splitlines()[0] + "\n",
                                    "Label,Time,ID,Signal1,Signal2,Signal3,Signal4\n", ""])
def test_syncan_signals_become_quantised_bytes(tmp_path, header):
    table = _read(tmp_path, "test_flooding.csv", header + SYNCAN.split("\n", 1)[1])
    assert table["timestamp"].tolist() == [0.0, 0.0125, 0.025]  # Time is in ms
    assert table["can_id"].tolist() == [2, 7, 10]
    assert table["dlc"].tolist() == [2, 1, 4]  # the signals present
    # round(s * 255) per signal: 0.5 -> 128 (127.5 to even), 0.25 -> 64, 0.999 -> 255
    assert _bytes(table, 0) == [128, 64, 0, 0, 0, 0, 0, 0]
    assert _bytes(table, 1) == [255, 0, 0, 0, 0, 0, 0, 0]
    assert _bytes(table, 2) == [0, 51, 153, 255, 0, 0, 0, 0]
    assert table["label"].astype(str).tolist() == ["normal", "normal", "attack"]


def test_candump_layout_with_empty_data_and_extended_ids(tmp_path):
    table = _read(tmp_path, "ambient_dyno_drive_basic_long.log", CANDUMP)
    assert table["timestamp"].tolist() == [1436509052.249713, 1436509052.249909,
                                           1436509052.250101]
    assert table["can_id"].tolist() == [0x044, 0x1C5, 0x18FEF100]
    assert table["dlc"].tolist() == [5, 0, 8]
    assert _bytes(table, 0) == [0x2A, 0x36, 0x6C, 0x2B, 0xBA, 0, 0, 0]
    assert _bytes(table, 2) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert set(table["label"].astype(str)) == {"normal"}  # no label field: all normal


def test_candump_optional_label_field(tmp_path):
    lines = CANDUMP.splitlines()
    table = _read(tmp_path, "labelled.log", f"{lines[0]} 0\n{lines[1]} 1\n{lines[2]}\n")
    assert table["label"].astype(str).tolist() == ["normal", "attack", "normal"]


def test_attack_intervals_label_every_frame_inside_them(tmp_path):
    path = tmp_path / "correlated_signal_attack_1.log"
    path.write_text("".join(f"({100 + t:.6f}) can0 0D0#00{t:02d}\n" for t in range(10)))
    capture = Capture(str(path), "correlated", "correlated_signal", attack_intervals=((2, 4),))
    frames = np.concatenate([f.label for f in CaptureReader(capture)])
    assert frames.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]


def test_plain_headered_csv(tmp_path):
    table = _read(tmp_path, "capture.csv", PLAIN_CSV)
    assert table["can_id"].tolist() == [0x1A0, 0]
    assert _bytes(table, 0) == [1, 2, 0xFF, 0, 0, 0, 0, 0]
    assert table["label"].astype(str).tolist() == ["normal", "dos"]


@pytest.mark.parametrize(
    ("first_line", "layout"),
    [
        ("1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R", "car_hacking"),
        (CAR_HACKING_TEXT.splitlines()[0], "car_hacking_text"),
        (CAN_TRAIN_TEST.splitlines()[0], "can_train_test"),
        (SYNCAN.splitlines()[0], "syncan"),
        ("Label,Time,ID,Signal1,Signal2,Signal3,Signal4", "syncan"),
        ("0,0.0,id2,0.5,0.25,,", "syncan"),
        (CANDUMP.splitlines()[0], "candump"),
        (PLAIN_CSV.splitlines()[0], "csv"),
    ],
)
def test_layout_detection_from_the_first_line(first_line, layout):
    assert detect_layout(first_line) == layout


def test_crlf_lines_blank_lines_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "DoS-1.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n" + CAN_TRAIN_TEST.replace("\n", "\r\n\r\n").encode())
    table = combine_captures([read_can_csv(path, "attack", "c")], str(path))
    assert table["dlc"].tolist() == [8, 3, 0]


def test_layout_override(tmp_path):
    path = tmp_path / "train_2.csv"
    path.write_text(SYNCAN.split("\n", 1)[1])
    assert len(read_can_csv(path, "attack", "c", layout="syncan")) == 3
    with pytest.raises(InputError, match=r"train_2.csv: CAN ID \(data row 1\).*on line 1.*"
                                         r"layout 'car_hacking'"):
        read_can_csv(path, "attack", "c", layout="car_hacking")
    with pytest.raises(ConfigError, match="layout: found 'pcap'"):
        read_can_csv(path, "attack", "c", layout="pcap")


@pytest.mark.parametrize(
    ("name", "good", "damage", "line", "message"),
    [
        ("normal_run_data.txt", CAR_HACKING_TEXT, ("DLC: 5", "DLC: 6"), 3,
         r"data bytes \(data row 3\)"),
        ("normal_run_data.txt", CAR_HACKING_TEXT, ("ID: 02c0", "ID 02c0"), 2,
         r"line \(data row 2\).*'Timestamp: <seconds> ID: <hex id>"),
        ("DoS-1.csv", CAN_TRAIN_TEST, ("A3FF01", "A3FF0"), 3, r"data \(data row 2\)"),
        ("DoS-1.csv", CAN_TRAIN_TEST, ("1F7", "1G7"), 3, r"CAN ID \(data row 2\)"),
        ("DoS-1.csv", CAN_TRAIN_TEST, ("A3FF01,1", "A3FF01,2"), 3, r"flag \(data row 2\)"),
        ("test_flooding.csv", SYNCAN, ("0.5,0.25,,", "0.5,,0.25,"), 2,
         r"signals \(data row 1\).*empty only after the last signal"),
        ("test_flooding.csv", SYNCAN, ("1.0,,,", "1.5,,,"), 3, r"signals \(data row 2\)"),
        ("test_flooding.csv", SYNCAN, ("id7", "ecu7"), 3, r"CAN ID \(data row 2\)"),
        ("road.log", CANDUMP, ("044#", "044"), 1, r"frame \(data row 1\).*single '#'"),
        ("road.log", CANDUMP, ("1C5#", "1C5#F"), 2, r"data \(data row 2\)"),
        ("road.log", CANDUMP, ("(1436509052.249909)", "1436509052.249909"), 2,
         r"timestamp \(data row 2\).*in parentheses"),
        ("capture.csv", PLAIN_CSV, (",DoS", ","), 3, r"label \(data row 2\)"),
    ],
)
def test_bad_rows_of_every_layout_name_file_row_and_line(tmp_path, name, good, damage, line,
                                                          message):
    path = tmp_path / name
    path.write_text(good)
    rows = len(read_can_csv(path, "attack", "c"))
    path.write_text(good.replace(*damage))
    with pytest.raises(InputError, match=message) as info:
        read_can_csv(path, "attack", "c")
    error = str(info.value)
    assert error.startswith(f"{path}: ") and f"on line {line}," in error
    assert "on_bad_rows: skip" in error and "\n" not in error
    assert len(read_can_csv(path, "attack", "c", on_bad_rows="skip")) == rows - 1


def test_non_ascii_bytes_are_a_bad_row(tmp_path):
    path = tmp_path / "gear_dataset.csv"
    path.write_bytes(b"1478198376.389427,0316,2,05,21,R\n1478198376.389636,0316,2,\xff5,21,R\n")
    with pytest.raises(InputError, match=r"text \(data row 2\): found '1478198376.389636,0316,2,"
                                         r"\?5,21,R' on line 2, expected ASCII text"):
        read_can_csv(path, "dos", "gear")


@pytest.mark.parametrize(("text", "message"), [
    ("", "file: found no rows"),
    ("\n \n", "file: found no rows"),
    (CAN_TRAIN_TEST.splitlines()[0] + "\n", "file: found no rows"),
    ("a,b,c\n1,2,3\n", r"timestamp: found columns \['a', 'b', 'c'\], expected a column named"),
    ("\x89PNG\x1a\n\x00\x00", r"file: found a first line that is not text"),
])
def test_empty_or_unusable_files(tmp_path, text, message):
    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        ingest_can([Capture(str(path), "x")], tmp_path / "f.parquet")
    assert not (tmp_path / "f.parquet").exists()
