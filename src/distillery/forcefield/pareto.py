"""Pareto front of accuracy against speed: the models no other model beats on both."""

from __future__ import annotations

from collections.abc import Mapping

# name -> (frames/s, force MAE); None where a model was not timed or scored
Points = Mapping[str, tuple[float | None, float | None]]


def dominators(points: Points, name: str) -> list[str]:
    """The models at least as fast and as accurate as `name` and strictly better in one
    (empty for a model on the front; a model without both numbers is compared with none)."""
    speed, error = points[name]
    if speed is None or error is None:
        return []
    return [other for other, (s, e) in points.items()
            if other != name and s is not None and e is not None
            and s >= speed and e <= error and (s > speed or e < error)]


def pareto_front(points: Points) -> list[str]:
    """The models with both numbers that no other model dominates, fastest first."""
    front = [n for n, (s, e) in points.items()
             if s is not None and e is not None and not dominators(points, n)]
    return sorted(front, key=lambda n: -points[n][0])
