"""Find the largest batch size that fits in memory, framework agnostic."""

from __future__ import annotations

from collections.abc import Callable


def probe_batch_size(
    try_fn: Callable[[int], None],
    start: int,
    maximum: int,
    is_oom: Callable[[BaseException], bool],
) -> int:
    """Double the batch from `start` while `try_fn(size)` succeeds (up to `maximum`); on an
    out-of-memory error bisect between the last size that fitted and the one that failed.

    Errors that are not out-of-memory propagate. Raises MemoryError if even one sample fails.
    """
    maximum = max(int(maximum), 1)
    size = min(max(int(start), 1), maximum)

    def fits(n: int) -> bool:
        try:
            try_fn(n)
        except Exception as exc:
            if is_oom(exc):
                return False
            raise
        return True

    # find a size that fits by halving, then grow by doubling
    while not fits(size):
        if size == 1:
            raise MemoryError("a batch of one sample does not fit in memory")
        size //= 2
    good, bad = size, None
    while bad is None and good < maximum:
        candidate = min(good * 2, maximum)
        if fits(candidate):
            good = candidate
        else:
            bad = candidate
    # back off: bisect between the largest fitting and the smallest failing size
    while bad is not None and bad - good > 1:
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good


def is_oom_error(exc: BaseException) -> bool:
    """Recognise out-of-memory errors of JAX/XLA and PyTorch from their message."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return any(key in text for key in ("resource_exhausted", "out of memory"))
