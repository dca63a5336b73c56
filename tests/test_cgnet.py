"""The CGnet delta model of the coarse-grained track: forces = -dE/dR, symmetries of its
geometry features (mirror images differ), the molecule taken from the prior topology, a
save/load round trip, and training on a chiral residual that distances alone cannot fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from distillery.cg import geometry
from distillery.cg.delta import delta_model, mode_metrics, mode_predictions, train_delta
from distillery.cg.energy import Priors, prior_energy
from distillery.cg.settings import DeltaSettings
from distillery.cg.terms import HarmonicTerm
from distillery.cg.topology import chain
from distillery.data.frames import FrameSet
from distillery.errors import ConfigError
from distillery.potentials.cgnet import geometry_features
from distillery.potentials.model import CGnetForceField, force_field, load_model, save_model
from distillery.potentials.settings import CGnetSettings
from distillery.train.settings import FFTrainSettings, ScheduleSettings

N_BEADS = 5
TOPOLOGY = chain(N_BEADS)
SMALL = CGnetSettings(width=16, depth=2)


def _frames(n: int, seed: int) -> np.ndarray:
    """Zig-zag chains with random torsions of both signs (bond ~1.5 Å, angle ~110°)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, N_BEADS, 3))
    x[:, 1, 0] = 1.5
    x[:, 2] = [1.5 + 1.5 * np.cos(np.radians(70)), 1.5 * np.sin(np.radians(70)), 0.0]
    for k in range(3, N_BEADS):
        b1, b2 = x[:, k - 2] - x[:, k - 3], x[:, k - 1] - x[:, k - 2]
        n1 = np.cross(b1, b2)
        n1 /= np.linalg.norm(n1, axis=1, keepdims=True)
        u = b2 / np.linalg.norm(b2, axis=1, keepdims=True)
        phi = rng.uniform(-np.pi, np.pi, n)[:, None]
        # the next bond leaves at 110° to b2, turned by phi about it
        perp = np.cos(phi) * np.cross(n1, u) + np.sin(phi) * n1
        x[:, k] = x[:, k - 1] + 1.5 * (np.cos(np.radians(70)) * u + np.sin(np.radians(70)) * perp)
    return x + rng.normal(0, 0.05, x.shape)


def _random_params(model: CGnetForceField, seed: int = 0) -> dict:
    """Untrained weights with stats fitted on random frames (float64)."""
    positions = _frames(50, seed)
    frames = FrameSet(numbers=[np.full(N_BEADS, 6)] * 50, positions=list(positions),
                      energy=np.zeros(50), forces=list(np.ones_like(positions)))
    params = {"net": model.init(seed), "stats": model.fit_stats(frames, frames.energy,
                                                                frames.forces)}
    return jax.tree.map(lambda a: np.asarray(a, np.float64), params)


def _energy(model: CGnetForceField, params: dict, x: np.ndarray) -> float:
    # jitted once per model (and precision)
    key = (id(model), jax.config.jax_enable_x64)
    fn = _JITTED.setdefault(key, jax.jit(lambda p, y: model.energy(
        p, y, jnp.full(N_BEADS, 6, jnp.int32), jnp.zeros((3, 3)), None)))
    return float(fn(params, jnp.asarray(x)))


_JITTED: dict = {}


def test_cgnet_takes_its_molecule_from_the_prior_topology() -> None:
    model = delta_model(SMALL, TOPOLOGY)
    assert isinstance(model, CGnetForceField) and model.cutoff == 0.0
    assert model.config["n_beads"] == N_BEADS
    assert model.config["dihedrals"] == [[0, 1, 2, 3], [1, 2, 3, 4]]
    # 10 distances, 3 angle cosines, 2 x (sin, cos)
    assert model.module.n_features == 10 + 3 + 4
    # what the settings name explicitly is kept
    only_phi = delta_model(SMALL.model_copy(update={"dihedrals": ((0, 1, 2, 3),)}), TOPOLOGY)
    assert only_phi.module.n_features == 10 + 3 + 2
    with pytest.raises(ConfigError, match="needs its molecule"):
        force_field(SMALL)
    with pytest.raises(ConfigError, match="angles and dihedrals must index beads"):
        force_field({"kind": "cgnet", "n_beads": 3, "angles": [[0, 1, 5]], "dihedrals": []})


def test_delta_settings_take_a_cgnet_by_kind() -> None:
    delta = DeltaSettings.model_validate({"model": {"kind": "cgnet", "width": 8}})
    assert isinstance(delta.model, CGnetSettings)
    assert delta.model.depth == CGnetSettings().depth
    with pytest.raises(ValueError, match="features"):
        DeltaSettings.model_validate({"model": {"kind": "cgnet", "features": 8}})


def test_cgnet_forces_are_minus_energy_gradient_by_finite_differences() -> None:
    model = delta_model(SMALL, TOPOLOGY)
    x = _frames(1, 3)[0]
    with jax.enable_x64(True):
        params = _random_params(model)
        _, forces = jax.jit(model.energy_and_forces)(
            params, jnp.asarray(x), jnp.full(N_BEADS, 6, jnp.int32), jnp.zeros((3, 3)), None)
        forces = np.asarray(forces)
        assert np.abs(forces).max() > 1e-3  # a non-trivial check
        h = 1e-5
        for bead, axis in [(0, 0), (1, 2), (2, 1), (4, 0)]:
            plus, minus = x.copy(), x.copy()
            plus[bead, axis] += h
            minus[bead, axis] -= h
            fd = -(_energy(model, params, plus) - _energy(model, params, minus)) / (2 * h)
            assert forces[bead, axis] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_features_are_rigid_motion_invariant_and_dihedral_sines_flip_under_reflection():
    model = delta_model(SMALL, TOPOLOGY)
    x = _frames(4, 5)
    angles, dihedrals = TOPOLOGY.angles, TOPOLOGY.dihedrals
    with jax.enable_x64(True):
        features = np.asarray(geometry_features(jnp.asarray(x), N_BEADS, angles, dihedrals))
        rot = Rotation.from_euler("xyz", [0.4, -1.3, 2.2]).as_matrix()
        moved = x @ rot.T + np.array([3.0, -1.0, 7.5])
        np.testing.assert_allclose(
            geometry_features(jnp.asarray(moved), N_BEADS, angles, dihedrals), features,
            atol=1e-12)
        mirrored = np.asarray(geometry_features(jnp.asarray(x * [1.0, 1.0, -1.0]), N_BEADS,
                                                angles, dihedrals))
        n_even = 10 + 3
        sines = slice(n_even, n_even + 2)
        np.testing.assert_allclose(mirrored[:, :n_even], features[:, :n_even], atol=1e-12)
        np.testing.assert_allclose(mirrored[:, sines], -features[:, sines], atol=1e-12)
        np.testing.assert_allclose(mirrored[:, n_even + 2:], features[:, n_even + 2:],
                                   atol=1e-12)
        # the features are the cosine of each angle and sine/cosine of each IUPAC dihedral
        np.testing.assert_allclose(features[:, 10:n_even],
                                   np.cos(geometry.angles(x, angles)), atol=1e-12)
        np.testing.assert_allclose(np.arctan2(features[:, sines], features[:, n_even + 2:]),
                                   geometry.dihedrals(x, dihedrals), atol=1e-12)
        # so a mirror image has another energy, unlike with a network on distances alone
        params = _random_params(model)
        e, e_mirror = (_energy(model, params, y) for y in (x[0], x[0] * [1.0, 1.0, -1.0]))
        assert abs(e - e_mirror) > 1e-4
        assert _energy(model, params, moved[0]) == pytest.approx(e, abs=1e-10)


def test_padding_frames_give_finite_losses() -> None:
    """Batches are padded with all-zero frames: features and gradients stay finite there."""
    model = delta_model(SMALL, TOPOLOGY)
    params = _random_params(model)
    grad = jax.jit(jax.grad(lambda x: model.energy(params, x, jnp.zeros(8, jnp.int32),
                                                   jnp.zeros((3, 3)), None)))(jnp.zeros((8, 3)))
    assert np.isfinite(np.asarray(grad)).all()


def test_saved_cgnet_reloads_with_its_molecule_and_identical_energies(tmp_path) -> None:
    model = delta_model(SMALL, TOPOLOGY)
    params = _random_params(model)
    save_model(tmp_path, model, params)
    loaded, loaded_params = load_model(tmp_path)
    assert isinstance(loaded, CGnetForceField) and loaded.config == model.config
    for x in _frames(3, 7):
        assert _energy(loaded, loaded_params, x) == _energy(model, params, x)


def test_cgnet_learns_a_chiral_residual(tmp_path) -> None:
    """A residual energy a sin(phi) is odd under reflection: on chains of both handednesses
    a mirror-blind model (distances only) can at best predict its mean, zero; a CGnet fits it."""
    positions = _frames(240, 11)
    phi = geometry.dihedrals(positions, TOPOLOGY.dihedrals)
    priors = Priors(TOPOLOGY, 0.0258, {"bond": {"bead-bead": HarmonicTerm(10.0, 1.5)}})
    amplitude = 0.2

    def chiral(x: jnp.ndarray) -> jnp.ndarray:
        return amplitude * jnp.sum(jnp.sin(geometry.dihedrals(x, TOPOLOGY.dihedrals, jnp)))

    reference = jax.vmap(jax.value_and_grad(lambda x: prior_energy(priors, x) + chiral(x)))
    energy, grad = reference(jnp.asarray(positions))
    frames = FrameSet(numbers=[np.full(N_BEADS, 6)] * len(positions), positions=list(positions),
                      energy=np.asarray(energy, np.float64),
                      forces=list(-np.asarray(grad, np.float64)))
    assert np.abs(phi).max() > 3.0 and (phi > 0).mean() > 0.3  # both handednesses occur
    train, test = frames.subset(range(200)), frames.subset(range(200, 240))
    cfg = FFTrainSettings(epochs=40, batch_size=20, energy_weight=0.0, checkpoint_every=0,
                          schedule=ScheduleSettings(lr=1e-2, warmup_steps=10))
    model, result, _ = train_delta(SMALL, cfg, train, test.subset([]), priors, tmp_path,
                                   log=lambda _: None)
    metrics = mode_metrics(mode_predictions(priors, model, result.params, test), test)
    assert metrics["full"]["force_mae"] < 0.3 * metrics["prior-only"]["force_mae"]
