"""Molecular frames in memory (`FrameSet`) and on disk (one Parquet row per frame)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.errors import InputError
from distillery.io import atomic_path

# whether a value belongs to an atom or to the whole frame, where a format says so
ATOM, FRAME = "atom", "frame"
# per-frame 3x3 tensors stored as 9-value lists: stress (eV/Å³) and virial (eV)
TENSORS = ("stress", "virial")


@dataclass
class FrameSet:
    """Frames with possibly different atom counts; units eV, Å, eV/Å (stress eV/Å³, virial eV).

    `extras` holds further per-frame arrays with n_frames as first axis: numeric arrays
    (n_frames, ...) for per-frame values, or object arrays of one (n_atoms_i, ...) array per
    frame for per-atom values (see `per_atom`), so indexing and concatenation work on both.
    """

    numbers: list[np.ndarray]
    positions: list[np.ndarray]
    energy: np.ndarray | None = None
    forces: list[np.ndarray] | None = None
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    stress: np.ndarray | None = None
    virial: np.ndarray | None = None

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
            stress=None if self.stress is None else self.stress[idx],
            virial=None if self.virial is None else self.virial[idx],
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


def per_atom(values: list[np.ndarray]) -> np.ndarray:
    """An extras column of per-atom values: object array holding one array per frame."""
    column = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        column[i] = value
    return column


# Arrow field metadata recording the shape of extras stored as list columns
ATOM_SHAPE, FRAME_SHAPE = b"distillery:atom_shape", b"distillery:frame_shape"


def _arrow_type(dtype: np.dtype) -> pa.DataType:
    return {"b": pa.bool_(), "i": pa.int64(), "u": pa.int64()}.get(dtype.kind, pa.float64())


def _extra_field(name: str, values: np.ndarray) -> tuple[pa.Field, pa.Array]:
    if values.dtype == object:
        arrays = [np.asarray(v) for v in values]
        kind = _arrow_type(arrays[0].dtype) if arrays else pa.float64()
        shape = list(arrays[0].shape[1:]) if arrays else []
        column = _list_column([a.astype(kind.to_pandas_dtype()) for a in arrays], kind)
        return pa.field(name, column.type, metadata={ATOM_SHAPE: json.dumps(shape)}), column
    if values.ndim == 1:
        column = pa.array(values)
        return pa.field(name, column.type), column
    kind = _arrow_type(values.dtype)
    column = _list_column(list(values.astype(kind.to_pandas_dtype())), kind)
    shape = json.dumps(list(values.shape[1:]))
    return pa.field(name, column.type, metadata={FRAME_SHAPE: shape}), column


def _extra_values(column: pa.ChunkedArray, field_: pa.Field, counts: np.ndarray) -> np.ndarray:
    metadata = field_.metadata or {}
    if ATOM_SHAPE in metadata:
        shape = json.loads(metadata[ATOM_SHAPE])
        return per_atom([p.reshape(-1, *shape) for p in _split_list(column, None, counts)])
    if FRAME_SHAPE in metadata:
        shape = json.loads(metadata[FRAME_SHAPE])
        flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(counts), *shape)
    return column.to_numpy()


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
    for name in TENSORS:
        values = getattr(fs, name)
        if values is not None:
            columns[name] = _list_column(list(np.asarray(values, np.float64)), pa.float64())
    fields = [pa.field(name, column.type) for name, column in columns.items()]
    for name, values in fs.extras.items():
        field_, column = _extra_field(name, np.asarray(values))
        fields.append(field_)
        columns[name] = column
    return pa.Table.from_arrays(list(columns.values()), schema=pa.schema(fields))


def _split_list(column: pa.ChunkedArray, width: int | None, counts: np.ndarray) -> list[np.ndarray]:
    arr = column.combine_chunks()
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    offsets = arr.offsets.to_numpy()
    pieces = [flat[offsets[i] : offsets[i + 1]] for i in range(len(counts))]
    return [p.reshape(-1, width) for p in pieces] if width else pieces


def from_table(table: pa.Table) -> FrameSet:
    counts = table.column("n_atoms").to_numpy().astype(np.int64)
    names = table.column_names
    known = {"frame", "n_atoms", "numbers", "positions", "energy", "forces", "cell", "pbc",
             *TENSORS}
    return FrameSet(
        numbers=[z.astype(np.int64) for z in _split_list(table.column("numbers"), None, counts)],
        positions=_split_list(table.column("positions"), 3, counts),
        energy=table.column("energy").to_numpy() if "energy" in names else None,
        forces=_split_list(table.column("forces"), 3, counts) if "forces" in names else None,
        cell=(
            np.stack(_split_list(table.column("cell"), 3, counts)) if "cell" in names else None
        ),
        pbc=np.stack(_split_list(table.column("pbc"), None, counts)) if "pbc" in names else None,
        extras={n: _extra_values(table.column(n), table.schema.field(n), counts)
                for n in names if n not in known},
        **{name: np.stack(_split_list(table.column(name), 3, counts))
           for name in TENSORS if name in names},
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
