"""PySCF reference labels: multipoles consistent with the far-field ESP, and the NPZ ingests."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule

from distillery.data.electrostatics import COULOMB
from distillery.data.frames import FrameSet
from distillery.data.npz import read_npz
from distillery.electrostatics.generate import EspReferenceSettings, generate_reference
from distillery.electrostatics.physics import centre_of_mass

pytest.importorskip("pyscf")
WATER = molecule("H2O")
FAST = EspReferenceSettings(basis="sto-3g", n_frames=2, n_points=40)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    rng = np.random.default_rng(0)
    frames = FrameSet(numbers=[WATER.numbers] * 3,
                      positions=[WATER.positions + rng.normal(scale=0.03, size=(3, 3))
                                 for _ in range(3)])
    path = tmp_path_factory.mktemp("esp") / "water.npz"
    record = generate_reference(frames, path, FAST, seed=0, log=lambda _: None)
    return path, record


def test_reference_reads_back_with_every_label(reference):
    path, record = reference
    fs = read_npz(path)
    assert record["n_frames"] == len(fs) == 2 and record["seconds_per_frame"] > 0
    assert fs.extras["esp"].shape == (2, 40) and fs.extras["esp_grid"].shape == (2, 40, 3)
    assert fs.extras["quadrupole"].shape == (2, 3, 3)
    for q in fs.extras["mono"]:
        assert abs(q.sum()) < 1e-8 and q[0] < 0 < q[1]  # neutral, O negative, H positive
    # water's HF dipole is about 1.7 D (STO-3G)
    assert 1.2 < np.linalg.norm(fs.extras["dipole"][0]) / 0.2081943 < 2.2


def test_far_field_esp_is_the_dipole_plus_quadrupole_potential(reference):
    from distillery.electrostatics.generate import label_frame

    origin = centre_of_mass(WATER.positions, WATER.numbers)
    direction = np.array([0.3, -0.5, 0.81]) / np.linalg.norm([0.3, -0.5, 0.81])
    grid = origin + np.array([25.0, 40.0])[:, None] * direction
    labels, _ = label_frame(WATER.numbers, WATER.positions, grid, FAST)
    r = np.linalg.norm(grid - origin, axis=1)
    expected = COULOMB * (labels["dipole"] @ direction / r**2
                          + direction @ labels["quadrupole"] @ direction / r**3)
    np.testing.assert_allclose(labels["esp"], expected, rtol=2e-3)
