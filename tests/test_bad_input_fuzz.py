"""Every reader turns any damaged input into InputError, never another exception."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from distillery.array_files import load_arrays
from distillery.cg.serialise import load_priors
from distillery.data.can import combine_captures, read_can_csv
from distillery.data.extxyz import read_extxyz
from distillery.data.frames import write_frames
from distillery.data.ingest import ingest
from distillery.data.npz import read_npz
from distillery.errors import InputError
from distillery.train.checkpoint import CheckpointManager
from distillery.train.tensor_files import load_tensors

CSV = (
    "1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R\n"
    "1478198376.389636,018f,8,fe,5b,00,00,00,3c,00,00,R\n"
    "1478198376.389864,0260,2,19,21,T\n"
)
XYZ = (
    "2\nProperties=species:S:1:pos:R:3:forces:R:3 energy=1.0 pbc=\"F F F\"\n"
    "Cu 0.0 0.0 0.0 1.0 1.0 1.0\nAu 1.0 1.0 1.0 1.0 1.0 1.0\n"
)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


def _csv(path):
    return combine_captures([read_can_csv(path, "dos", "c")], str(path))


def _xyz(path):
    return write_frames(f"{path}.parquet", read_extxyz(path))


def _npz(path):
    return write_frames(f"{path}.parquet", read_npz(path))


def _checkpoint(path):
    return CheckpointManager(path.parent).load(path.stem)


def _model_arrays(path):
    return load_arrays(path, "arrays", "fix")


def _tensors(path):
    return load_tensors(path, "tensors", "fix")


def _only_input_errors(reader, path) -> None:
    try:
        reader(path)
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)


CHARS = list(",.\n0123456789abzRT -=\"")
edits = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(CHARS)), min_size=1, max_size=6)


def _mutate(text: str, changes: list[tuple[int, str]]) -> str:
    chars = list(text)
    for position, char in changes:
        chars[position % len(chars)] = char
    return "".join(chars)


@FUZZ
@given(changes=edits)
def test_mutated_text_inputs(tmp_path_factory, changes):
    tmp = tmp_path_factory.mktemp("fuzz")
    for name, text, reader in (("x.csv", CSV, _csv), ("x.xyz", XYZ, _xyz)):
        path = tmp / name
        path.write_text(_mutate(text, changes))
        _only_input_errors(reader, path)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("bytes")
    for name, reader in (("x.npz", _npz), ("x.csv", _csv), ("x.xyz", _xyz),
                         ("p.yaml", load_priors), ("p.json", load_priors),
                         ("p.npz", load_priors), ("latest.json", _checkpoint),
                         ("m.npz", _model_arrays), ("m.safetensors", _tensors)):
        path = tmp / name
        path.write_bytes(data)
        _only_input_errors(reader, path)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                      max_size=4))
def test_corrupted_npz_bytes(tmp_path_factory, flips):
    tmp = tmp_path_factory.mktemp("npz")
    good = tmp / "good.npz"
    np.savez(good, R=np.zeros((2, 2, 3)), z=[1, 2], E=[0.0, 1.0], F=np.zeros((2, 2, 3)))
    data = bytearray(good.read_bytes())
    for position, value in flips:
        data[position % len(data)] = value
    path = tmp / "bad.npz"
    path.write_bytes(bytes(data))
    _only_input_errors(_npz, path)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                      max_size=4), tensors=st.booleans(), in_json=st.booleans())
# a byte in the zip's central directory that makes zipfile raise NotImplementedError
@example(flips=[(237, 64)], tensors=False, in_json=False)
def test_corrupted_checkpoint_bytes(tmp_path_factory, flips, tensors, in_json):
    """Damage the JSON or the arrays file of a checkpoint; the arrays file's digest is updated
    so that its reader, not the digest check, meets the damage."""
    tmp = tmp_path_factory.mktemp("checkpoint")
    manager = CheckpointManager(tmp, tensors=tensors)
    weights = torch.arange(6.0).reshape(2, 3) if tensors else np.arange(6.0).reshape(2, 3)
    manager.save({"w": weights, "opt": {0: {"step": 3}}, "rng": [1, 2]}, 1)
    payload = json.loads(manager.path("latest").read_text())
    target = manager.path("latest") if in_json else tmp / payload["arrays"]
    data = bytearray(target.read_bytes())
    for position, value in flips:
        data[position % len(data)] = value
    target.write_bytes(bytes(data))
    if not in_json:
        payload["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
        manager.path("latest").write_text(json.dumps(payload))
    try:
        manager.load_latest()
    except InputError as exc:
        assert str(exc).startswith((str(target), str(manager.path("latest"))))
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"R": np.repeat(np.arange(6.0).reshape(1, 2, 3), 2, axis=0)}, "frame 1 identical to 0"),
        ({"R": np.arange(12.0).reshape(2, 2, 3) * 1e6}, "positions: found values up to"),
        ({"F": np.full((2, 2, 3), 5e4)}, "forces: found values up to 5e\\+04.*check units.forces"),
        ({"E": np.array([1e9, 0.0])}, r"energy: found \|energy\| per atom up to 5e\+08"),
        ({"R": np.zeros((0, 2, 3)), "F": np.zeros((0, 2, 3)), "E": np.zeros(0)}, "R: found 0 fr"),
    ],
)
def test_implausible_frames_are_rejected(tmp_path, arrays, message):
    base = {"R": np.arange(12.0).reshape(2, 2, 3), "z": np.array([1, 8]), "E": np.zeros(2),
            "F": np.zeros((2, 2, 3))}
    path = tmp_path / "raw.npz"
    np.savez(path, **{**base, **arrays})
    with pytest.raises(InputError, match=message):
        ingest([str(path)], {"format": "npz"}, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
