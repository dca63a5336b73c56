"""The tracks a dataset can run, declared once for settings, metrics records, rules and the
project database."""

from __future__ import annotations

from typing import Literal, get_args

Track = Literal["forcefield", "coarse_grained", "classifier", "electrostatics"]
TRACKS: tuple[Track, ...] = get_args(Track)
