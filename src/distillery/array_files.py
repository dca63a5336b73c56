"""Files that hold only arrays: NPZ archives written and read without pickle, and the check
that turns away pickle files before anything reads them.

Unpickling runs whatever code the file names, so model, checkpoint and graph files are plain
arrays plus JSON/YAML metadata, and a pickle (or a torch zip archive around one) found where
such a file belongs is refused by its first bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from distillery.errors import InputError, reason
from distillery.io import atomic_write

PICKLE_FOUND = "a pickle file"
NO_PICKLES = "pickle files are never loaded because loading one can run any code"


def is_pickle(path: str | Path) -> bool:
    """Whether the file starts like a pickle (protocol 2-5) or is a zip archive holding one,
    as `torch.save` writes them. Unreadable files are left to the reader's own error."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if head != b"PK":
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith(".pkl") for name in archive.namelist())
    # a damaged archive raises any of these (NotImplementedError: a garbled version field)
    except (OSError, zipfile.BadZipFile, ValueError, NotImplementedError, EOFError,
            RuntimeError):
        return False


def refuse_pickle(path: str | Path, field: str, expected: str, fix: str) -> None:
    """Raise InputError when `path` is a pickle, before any reader touches it."""
    if is_pickle(path):
        raise InputError(path, field, PICKLE_FOUND, expected, fix=f"{fix} ({NO_PICKLES})")


def save_arrays(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write named arrays as an NPZ archive (atomically); object arrays are refused.

    Written member by member like `np.savez`, whose keyword interface cannot take the names
    `file` or `allow_pickle`; the bytes depend only on the names and arrays.
    """
    with atomic_write(path) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED,
                                                       allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


def load_arrays(path: str | Path, expected: str, fix: str) -> dict[str, np.ndarray]:
    """All arrays of an NPZ archive, read with `allow_pickle=False`; a pickle, a missing,
    damaged or foreign file raises a one-line InputError naming the file."""
    refuse_pickle(path, "file", expected, fix)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an archive")
        with archive:
            return {key: archive[key] for key in archive.files}
    # damaged archives fail in zipfile, zlib or numpy's header parser with many types
    except Exception as exc:
        raise InputError(path, "file", f"an unreadable NPZ archive ({reason(exc)})", expected,
                         fix=fix) from None
