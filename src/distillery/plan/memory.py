"""Memory of a training step: the limit candidates must fit, XLA's buffer sizes of the compiled
programs, and the usage measured while the step runs (device memory on GPUs, RSS on the CPU)."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import jax

MB = 2.0**20


def tree_bytes(tree: Any) -> int:
    return int(sum(leaf.nbytes for leaf in jax.tree.leaves(tree)))


def program_bytes(compiled: Any) -> int:
    """Arguments, outputs and temporaries of a compiled XLA program, less what they share."""
    stats = compiled.memory_analysis()
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes
               + stats.temp_size_in_bytes - stats.alias_size_in_bytes)


def _rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc), else its peak so far."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MemoryProbe:
    """What one device uses: bytes in use on a GPU (XLA's allocator), the process's RSS on the
    CPU (XLA's CPU client keeps no statistics)."""

    def __init__(self, device: jax.Device) -> None:
        self.device = device
        self.on_device = device.memory_stats() is not None

    def current(self) -> int:
        if self.on_device:
            return int(self.device.memory_stats().get("bytes_in_use", 0))
        return _rss_bytes()

    def default_limit(self, ram_fraction: float) -> tuple[float, str]:
        """The limit in MB and where it comes from."""
        if self.on_device:
            limit = self.device.memory_stats().get("bytes_limit")
            if limit:
                return limit / MB, f"{self.device.platform} memory JAX may allocate"
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return ram_fraction * ram / MB, f"{ram_fraction:g} of {ram / 2**30:.1f} GiB RAM"

    def peak_during(self, fn: Callable[[], None], interval_s: float = 0.002) -> int:
        """The highest usage sampled while `fn` runs (from a thread: XLA releases the GIL)."""
        peak = [self.current()]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], self.current())
                time.sleep(interval_s)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            fn()
        finally:
            done.set()
            thread.join()
        return max(peak[0], self.current())
