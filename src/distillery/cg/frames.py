"""Coarse-grained frames: an all-atom FrameSet mapped to beads."""

from __future__ import annotations

from distillery.cg.mapping import BeadInfo, CGMapping, bead_info, from_config
from distillery.cg.settings import MappingSettings
from distillery.data.frames import FrameSet
from distillery.errors import InputError


def map_frames(frames: FrameSet, mapping: CGMapping) -> FrameSet:
    """Bead positions and aggregated forces; energies carry over unchanged."""
    atoms = frames.stacked_positions()
    numbers = mapping.bead_numbers(frames.numbers[0])
    forces = None if frames.forces is None else list(mapping.forces(frames.stacked_forces()))
    return FrameSet(numbers=[numbers.copy() for _ in range(len(frames))],
                    positions=list(mapping.positions(atoms)), energy=frames.energy,
                    forces=forces)


def map_dataset(frames: FrameSet, mapping: MappingSettings, source: str = "config"
                ) -> tuple[FrameSet, BeadInfo]:
    """Apply the `cg.mapping` of a dataset config; all frames must hold the same molecule.
    Returns the bead frames and the beads' types (and bonds, from a topology file)."""
    if len(frames) == 0 or not frames.is_uniform():
        raise InputError(source, "frames", "frames with differing atoms (or none)",
                         "the same molecule in every frame for a coarse-grained mapping")
    if frames.forces is None:
        raise InputError(source, "forces", "missing", "reference forces to fit and learn from")
    cg_map = from_config(mapping, frames.numbers[0], source)
    return map_frames(frames, cg_map), bead_info(cg_map, frames.numbers[0])

