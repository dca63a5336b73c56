"""Bad input through the workflow's entry points: every case stops its rule with one line that
names the file and the problem, exits non-zero, leaves no output behind and leaves earlier
results alone. Damaged prior files and checkpoints name the file below; random bytes for every
reader are in test_bad_input_fuzz.py."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from distillery.cg.serialise import load_priors
from distillery.errors import InputError
from distillery.train.checkpoint import CheckpointManager
from tests.conftest import run_snakemake

RNG = np.random.default_rng(7)
POSITIONS = RNG.uniform(0.0, 4.0, size=(3, 4, 3))
GOOD = {"R": POSITIONS, "z": np.array([6, 1, 1, 8]), "E": np.array([-1.0, -1.1, -0.9]),
        "F": RNG.normal(size=(3, 4, 3))}
XYZ_FRAME = ("2\nProperties=species:S:1:pos:R:3:forces:R:3 energy={e} pbc=\"F F F\"\n"
             "{a} 0.0 0.0 0.0 {f} 0.0 0.0\nH 0.0 0.0 0.9 0.0 0.0 0.1\n")
CSV_ROW = "1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R\n"


def _npz_bytes(**changes: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{**GOOD, **changes})
    return buffer.getvalue()


def _random_bytes() -> bytes:
    return np.random.default_rng(3).integers(0, 256, 600, dtype=np.uint8).tobytes()


MOLECULAR = {"track": "forcefield", "format": "npz", "temperature": 300}
XYZ = {"track": "forcefield", "format": "extxyz", "temperature": 300}
CAN = {"track": "classifier", "format": "can_csv"}
# dataset name: (raw file name, content, dataset config, what the error line must say)
CASES = {
    "npz_truncated": ("t.npz", _npz_bytes()[:300], MOLECULAR, "t.npz: "),
    "npz_empty": ("e.npz", b"", MOLECULAR, "e.npz: file: found not a readable NPZ"),
    "npz_random": ("r.npz", _random_bytes(), MOLECULAR, "r.npz: file: found not a readable"),
    "npz_dtype": ("d.npz", _npz_bytes(E=np.array(["a", "b", "c"])), MOLECULAR,
                  "d.npz: E: found dtype <U1, expected a numeric array"),
    "npz_nan": ("n.npz", _npz_bytes(F=np.where(np.arange(36).reshape(3, 4, 3) == 20, np.nan,
                                                GOOD["F"])), MOLECULAR,
                "n.npz: F: found NaN/inf in 1 frame(s), first 1"),
    "npz_shape": ("s.npz", _npz_bytes(F=GOOD["F"][:, :, :2]), MOLECULAR,
                  "s.npz: F: found shape (3, 4, 2)"),
    "npz_duplicated": ("u.npz", _npz_bytes(R=POSITIONS[[0, 1, 0]]), MOLECULAR,
                       "u.npz: positions: found frame 2 identical to 0"),
    "npz_huge": ("h.npz", _npz_bytes(E=GOOD["E"] * 1e8), MOLECULAR,
                 "h.npz: energy: found |energy| per atom up to"),
    "npz_unknown_element": ("z.npz", _npz_bytes(z=np.array([6, 1, 1, 150])), MOLECULAR,
                            "z.npz: z: found atomic number 150"),
    # a force unit that is no energy/length, as when energy and force units get mixed up
    "npz_mixed_units": ("m.npz", _npz_bytes(), {**MOLECULAR, "units": {"forces": "kcal/mol"}},
                        "m.npz: units.forces: found 'kcal/mol'"),
    # Hartree and Hartree/Bohr labels declared as meV: magnitudes far below any sampled system
    "npz_hartree_as_mev": ("v.npz", _npz_bytes(F=GOOD["F"] * 0.02),
                           {**MOLECULAR, "units": {"energy": "meV"}},
                           "fix: check units.energy and units.forces (e.g. Hartree declared"),
    "xyz_truncated": ("t.xyz", XYZ_FRAME.format(e=1.0, a="C", f=0.1).encode()[:-30], XYZ,
                      "t.xyz: file (frame 0, line 1): found atom count"),
    "xyz_empty": ("e.xyz", b"", XYZ, "e.xyz: file: found no frames"),
    "xyz_unknown_element": ("z.xyz", XYZ_FRAME.format(e=1.0, a="Xq", f=0.1).encode(), XYZ,
                            "z.xyz: file: found unparseable extended XYZ"),
    "xyz_nan": ("n.xyz", XYZ_FRAME.format(e=1.0, a="C", f="nan").encode(), XYZ,
                "n.xyz: forces (frame 0): found NaN/inf"),
    "csv_empty": ("e.csv", b"", CAN, "e.csv: file: found no rows"),
    "csv_random": ("r.csv", _random_bytes(), CAN, "r.csv: "),
    "csv_bad_hex": ("h.csv", (CSV_ROW + CSV_ROW.replace("0316", "03zz")).encode(), CAN,
                    "h.csv: CAN ID (data row 2)"),
    "csv_dlc": ("d.csv", (CSV_ROW + CSV_ROW.replace(",8,", ",9,")).encode(), CAN,
                "d.csv: DLC (data row 2)"),
}


def _digest(directory: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(directory)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                            p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """One workdir: a good dataset ingested first, then every bad one in a single run."""
    work = tmp_path_factory.mktemp("bad_input")
    raw = work / "raw"
    raw.mkdir()
    (raw / "good.npz").write_bytes(_npz_bytes())
    datasets = {"good": {**MOLECULAR, "raw": str(raw / "good.npz")}}
    for name, (filename, content, cfg, _) in CASES.items():
        (raw / filename).write_bytes(content)
        datasets[name] = {**cfg, "raw": str(raw / filename)}
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({"datasets": datasets}))
    run_snakemake(work, "results/good/data/splits.json", configfiles=(config,))
    before = _digest(work / "results/good")
    # the good dataset's raw file goes bad too: its ingest reruns and fails
    (raw / "good.npz").write_bytes(_npz_bytes()[:300])
    targets = [f"results/{name}/data/splits.json" for name in ("good", *CASES)]
    result = run_snakemake(work, *targets, "--keep-going", configfiles=(config,), check=False)
    return work, result, before


def test_a_failed_rerun_removes_only_the_outputs_of_the_failed_job(sweep):
    """The failed ingest's own old outputs are gone, never partial; everything else the
    dataset had (its split, written from the old frames) keeps its bytes and mtime."""
    work, result, before = sweep
    assert result.returncode != 0
    after = _digest(work / "results/good")
    assert "data/frames.parquet" in before and "data/frames.parquet" not in after
    assert "data/summary.json" not in after
    kept = {k: v for k, v in before.items() if not k.startswith(("data/frames", "data/summary",
                                                               "logs/ingest", "benchmarks/"))}
    assert "data/splits.json" in kept
    assert {k: after[k] for k in kept} == kept


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_stops_its_rule_with_one_line_and_no_output(sweep, name):
    work, _, _ = sweep
    filename, _, _, message = CASES[name]
    text = (work / f"results/{name}/logs/ingest.log").read_text()
    log = text.strip().splitlines()
    # a handled input error, not an exception that escaped the readers
    assert "Traceback" not in text, text[-2000:]
    assert re.match(rf"ERROR: {re.escape(str(work / 'raw' / filename))}: .+: found .+, "
                    r"expected .+", log[-1]), log[-1]
    assert message in log[-1], log[-1]
    data = work / f"results/{name}/data"
    assert not data.exists() or list(data.iterdir()) == []


def test_bad_config_stops_before_any_job(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"datasets": {"md": {
        "track": "forcefield", "format": "npz", "raw": "x.npz", "unit": {"energy": "eV"}}}}))
    result = run_snakemake(tmp_path, "results/md/data/frames.parquet", configfiles=(config,),
                           check=False)
    assert result.returncode != 0
    assert "config: datasets.md.unit: unknown key, expected one of [" in result.stderr
    assert "'units'" in result.stderr
    assert not (tmp_path / "results").exists()


def test_damaged_checkpoints_name_the_file_and_the_fix(tmp_path):
    manager = CheckpointManager(tmp_path)
    manager.save({"net": np.arange(1000.0)}, epoch=3)
    whole = manager.path("latest").read_bytes()
    for damaged in (whole[: len(whole) // 2], b"", b"[1, 2, 3]",
                    json.dumps({"format": "distillery-checkpoint", "epoch": "3", "state": {}})
                    .encode(), pickle.dumps({"epoch": 3, "state": {}})):
        manager.path("latest").write_bytes(damaged)
        with pytest.raises(InputError, match=r"latest\.json: checkpoint: .*fix: delete"):
            manager.load_latest()


def test_damaged_prior_files_name_the_file(tmp_path):
    (tmp_path / "p.yaml").write_text("kind: parametric\nbond: [unclosed\n")
    (tmp_path / "n.json").write_text('{"kind": "parametric", "kT": 0.025, "topology": '
                                     '{"n_beads": 3, "bonds": [[0, 1], [1, 2]], "exclusion": 3},'
                                     '"bond": {"C-C": {"form": "harmonic", "k": NaN, "x0": 3.8}}}')
    (tmp_path / "o.json").write_text('{"kind": "parametric", "kT": 0.025, "topology": '
                                     '{"n_beads": 3, "bonds": [[0, 1], [1, 2]], "exclusion": 3},'
                                     '"bond": {"form": "harmonic", "k": 1.0, "x0": 3.8}}')
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as archive:
        archive.writestr("meta.npy", b"not an array")
    for name, message in (("p.yaml", "p.yaml: file: found an unreadable prior file"),
                          ("n.json", "n.json: bond/C-C: found non-finite parameters"),
                          # a file from before per-class priors: one term per kind
                          ("o.json", "o.json: bond: found {'form': 'harmonic'"),
                          ("z.npz", "z.npz: file: found an unreadable prior file")):
        with pytest.raises(InputError, match=message.replace(".", r"\.")):
            load_priors(tmp_path / name)
