"""Point-charge electrostatics against known answers; surface points; the constrained fit."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from ase import units
from ase.build import molecule
from ase.data import vdw_radii

from distillery.electrostatics.physics import (
    centre_of_mass,
    dipole,
    esp,
    fit_charges,
    quadrupole,
    vdw_surface,
)

WATER = molecule("H2O")


def test_esp_of_one_charge_is_q_over_r():
    grid = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, -4.0]])
    values = esp(np.array([0.5]), np.zeros((1, 3)), grid)
    # 1 e at 1 Å: 14.3996 V (e / (4 pi eps0 Å))
    np.testing.assert_allclose(values, [0.5 * 14.399645 / 2.0, 0.5 * 14.399645 / 4.0],
                               rtol=1e-6)
    np.testing.assert_allclose(esp(jnp.array([0.5]), jnp.zeros((1, 3)), jnp.asarray(grid)),
                               values, rtol=1e-6)


def test_dipole_and_quadrupole_of_point_charges():
    sites = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, -0.5]])
    mu = dipole(np.array([1.0, -1.0]), sites, np.array([3.0, -2.0, 7.0]))
    np.testing.assert_allclose(mu, [0.0, 0.0, 1.0])  # 1 e·Å = 4.803 D
    np.testing.assert_allclose(mu[2] / units.Debye, 4.80320, rtol=1e-5)
    # linear quadrupole +q -2q +q at z = ±a: Θzz = ½ Σ q (3z² - z²) = 2 q a², Θxx = Θyy = -q a²
    linear = np.array([[0.0, 0.0, 1.5], [0.0, 0.0, 0.0], [0.0, 0.0, -1.5]])
    theta = quadrupole(np.array([1.0, -2.0, 1.0]), linear, np.zeros(3))
    np.testing.assert_allclose(theta, np.diag([-2.25, -2.25, 4.5]), atol=1e-12)


def test_centre_of_mass_of_water_lies_near_oxygen():
    com = centre_of_mass(WATER.positions, WATER.numbers)
    np.testing.assert_allclose(com, WATER.get_center_of_mass(), atol=1e-9)


def test_surface_points_lie_on_the_outermost_shells_only():
    grid = vdw_surface(WATER.positions, WATER.numbers, 200, rng=np.random.default_rng(0))
    assert grid.shape == (200, 3)
    gap = np.linalg.norm(grid[:, None] - WATER.positions[None], axis=-1) / vdw_radii[
        WATER.numbers]
    nearest = gap.min(axis=1)
    # each point sits on a shell of 1.4-2.0 vdW radii of its nearest atom, none inside one
    assert nearest.min() > 1.4 - 1e-9 and nearest.max() < 2.0 + 1e-9
    assert len(np.unique(grid.round(8), axis=0)) == 200


def test_constrained_fit_recovers_the_charges_that_made_the_esp():
    charges = np.array([-0.8, 0.45, 0.35])  # sums to 0
    grid = vdw_surface(WATER.positions, WATER.numbers, 150)
    values = esp(charges, WATER.positions, grid)
    np.testing.assert_allclose(fit_charges(grid, values, WATER.positions), charges, atol=1e-8)
    # a total charge the ESP does not support is still met exactly
    shifted = fit_charges(grid, values, WATER.positions, total_charge=1.0)
    assert abs(shifted.sum() - 1.0) < 1e-10
