"""Molecular frames in memory (`FrameSet`) and on disk (one Parquet row per frame)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.errors import InputError
from distillery.io import atomic_path


@dataclass
class FrameSet:
    """Frames with possibly different atom counts; units eV, Å, eV/Å."""

    numbers: list[np.ndarray]
    positions: list[np.ndarray]
    energy: np.ndarray | None = None
    forces: list[np.ndarray] | None = None
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def n_atoms(self) -> np.ndarray:
        return np.array([len(z) for z in self.numbers], dtype=np.int64)

    def subset(self, indices: np.ndarray | list[int]) -> FrameSet:
        idx = np.asarray(indices, dtype=np.int64)
        return FrameSet(
            numbers=[self.numbers[i] for i in idx],
            positions=[self.positions[i] for i in idx],
            energy=None if self.energy is None else self.energy[idx],
            forces=None if self.forces is None else [self.forces[i] for i in idx],
            cell=None if self.cell is None else self.cell[idx],
            pbc=None if self.pbc is None else self.pbc[idx],
            extras={k: v[idx] for k, v in self.extras.items()},
        )

    def is_uniform(self) -> bool:
        """True when every frame has the same atoms in the same order."""
        first = self.numbers[0]
        return all(len(z) == len(first) and np.array_equal(z, first) for z in self.numbers)

    def stacked_positions(self) -> np.ndarray:
        self._require_uniform()
        return np.stack(self.positions)

    def stacked_forces(self) -> np.ndarray:
        self._require_uniform()
        if self.forces is None:
            raise ValueError("frames carry no forces")
        return np.stack(self.forces)

    def _require_uniform(self) -> None:
        if not self.is_uniform():
            raise ValueError("frames differ in atoms; stacking needs identical atoms per frame")


def _list_column(arrays: list[np.ndarray], dtype: pa.DataType) -> pa.Array:
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = np.concatenate([a.ravel() for a in arrays]) if arrays else np.array([])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=dtype))


def to_table(fs: FrameSet) -> pa.Table:
    """Arrow table following the data contract (flattened n×3 lists)."""
    columns: dict[str, pa.Array] = {
        "frame": pa.array(np.arange(len(fs), dtype=np.int64)),
        "n_atoms": pa.array(fs.n_atoms.astype(np.int32)),
        "numbers": _list_column([np.asarray(z, np.int8) for z in fs.numbers], pa.int8()),
        "positions": _list_column(fs.positions, pa.float64()),
    }
    if fs.energy is not None:
        columns["energy"] = pa.array(np.asarray(fs.energy, np.float64))
    if fs.forces is not None:
        columns["forces"] = _list_column(fs.forces, pa.float64())
    if fs.cell is not None:
        columns["cell"] = _list_column(list(np.asarray(fs.cell, np.float64)), pa.float64())
    if fs.pbc is not None:
        columns["pbc"] = _list_column(list(np.asarray(fs.pbc, bool)), pa.bool_())
    for name, values in fs.extras.items():
        columns[name] = pa.array(values)
    return pa.table(columns)


def _split_list(column: pa.ChunkedArray, width: int | None, counts: np.ndarray) -> list[np.ndarray]:
    arr = column.combine_chunks()
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    offsets = arr.offsets.to_numpy()
    pieces = [flat[offsets[i] : offsets[i + 1]] for i in range(len(counts))]
    return [p.reshape(-1, width) for p in pieces] if width else pieces


def from_table(table: pa.Table) -> FrameSet:
    counts = table.column("n_atoms").to_numpy().astype(np.int64)
    names = table.column_names
    known = {"frame", "n_atoms", "numbers", "positions", "energy", "forces", "cell", "pbc"}
    return FrameSet(
        numbers=[z.astype(np.int64) for z in _split_list(table.column("numbers"), None, counts)],
        positions=_split_list(table.column("positions"), 3, counts),
        energy=table.column("energy").to_numpy() if "energy" in names else None,
        forces=_split_list(table.column("forces"), 3, counts) if "forces" in names else None,
        cell=(
            np.stack(_split_list(table.column("cell"), 3, counts)) if "cell" in names else None
        ),
        pbc=np.stack(_split_list(table.column("pbc"), None, counts)) if "pbc" in names else None,
        extras={n: table.column(n).to_numpy() for n in names if n not in known},
    )


def write_frames(path: str | Path, fs: FrameSet) -> None:
    """Validate against the frame schema, then write Parquet atomically."""
    from distillery.data.schemas import validate_frames

    table = to_table(fs)
    validate_frames(table, str(path))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_frames(path: str | Path) -> FrameSet:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(path, "file", f"unreadable Parquet ({exc})", "a frames Parquet file",
                         fix="rerun the ingest rule") from None
    return from_table(table)
