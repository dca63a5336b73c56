"""Real training steps of one candidate: the force-field loop's own jitted gradient and
optimizer update (`distillery.train.potential_loop.LossFunctions`) on a padded batch of the dataset,
timed after compiling and warming up, with its memory analysed and measured."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from distillery.forcefield.settings import RoleSettings
from distillery.plan.memory import MB, MemoryProbe, program_bytes, tree_bytes
from distillery.potentials.model import ForceField, count_parameters
from distillery.potentials.neighbours import Bucket, take_batch
from distillery.train.batch_probe import is_oom_error
from distillery.train.plan_settings import TimingSettings
from distillery.train.potential_loop import LossFunctions, batch_norms
from distillery.train.settings import run_seed


@dataclass(frozen=True, order=True)
class Candidate:
    features: int
    n_layers: int
    batch_size: int

    def label(self) -> str:
        return f"f{self.features} l{self.n_layers} b{self.batch_size}"


@dataclass
class Measurement:
    """One candidate on this device. `status` oom: over the memory limit by XLA's analysis
    (then never run), by the usage measured while it ran, or an out-of-memory error."""

    candidate: Candidate
    status: Literal["ok", "oom"]
    n_params: int
    step_ms: float | None = None  # median of the timed steps
    steps_timed: int = 0
    analysed_mb: float | None = None  # XLA's buffers of the step plus the training state
    measured_mb: float | None = None  # usage measured over the warm-up steps
    memory_mb: float | None = None  # the larger of the two: what the limit is checked on
    compile_s: float | None = None
    seconds: float = 0.0  # wall time this measurement took
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("candidate"))
        return out


class StepMeter:
    """Measures candidates of one role's model on one bucket of frames (the largest)."""

    def __init__(self, role: RoleSettings, bucket: Bucket, stats: Mapping[str, np.ndarray],
                 probe: MemoryProbe, limit_mb: float, timing: TimingSettings) -> None:
        self.role = role
        self.bucket = bucket
        self.stats = jax.tree.map(jnp.asarray, dict(stats))
        self.probe = probe
        self.limit_mb = limit_mb
        self.timing = timing

    def model(self, candidate: Candidate) -> ForceField:
        return ForceField(self.role.model.model_copy(update={
            "features": candidate.features, "n_layers": candidate.n_layers}))

    def measure(self, candidate: Candidate) -> Measurement:
        start = time.perf_counter()
        try:
            result = self._measure(candidate)
        except Exception as exc:
            if not is_oom_error(exc):
                raise
            result = Measurement(candidate, "oom", count_parameters(jax.eval_shape(
                self.model(candidate).init, 0)), reason=" ".join(str(exc).split())[:200])
        finally:
            # compiled programs and buffers of this candidate must not count for the next
            jax.clear_caches()
            gc.collect()
        result.seconds = time.perf_counter() - start
        return result

    def _measure(self, candidate: Candidate) -> Measurement:
        model = self.model(candidate)
        fns = LossFunctions(model, self.role.train)
        net = _random_params(model, run_seed(self.role.train.seed))
        opt_state, ema, stats = fns.optimizer.init(net), net, self.stats
        n_params = count_parameters(net)
        rows = np.arange(min(candidate.batch_size, len(self.bucket.index)))
        batch = take_batch(self.bucket, rows, candidate.batch_size)
        norms = batch_norms([batch])
        lr, decay = jnp.asarray(float(self.role.train.schedule.lr)), jnp.asarray(0.5)
        started = time.perf_counter()
        grad_program = fns.grad.lower(net, stats, batch, norms).compile()
        update_program = fns.update.lower(net, opt_state, ema, net, lr, decay).compile()
        compile_s = time.perf_counter() - started
        # what lives at once: the gradient program beside optimizer state and EMA, or the
        # update program (old and new state) beside the energy statistics
        analysed = max(program_bytes(grad_program) + tree_bytes((opt_state, ema)),
                       program_bytes(update_program) + tree_bytes(stats)) / MB
        if analysed > self.limit_mb:
            return Measurement(candidate, "oom", n_params, analysed_mb=analysed,
                               memory_mb=analysed, compile_s=compile_s,
                               reason=f"XLA buffers {analysed:.1f} MB over the limit "
                                      f"{self.limit_mb:.1f} MB: not run")
        state = {"net": net, "opt_state": opt_state, "ema": ema}

        def step() -> None:
            # one batch as the training loop runs it: host batch, gradient (whose sums the
            # loop reads back every batch), optimizer update with EMA
            host = take_batch(self.bucket, rows, candidate.batch_size)
            grads, sums = fns.grad(state["net"], stats, host, batch_norms([host]))
            jax.device_get(sums)
            state["net"], state["opt_state"], state["ema"] = fns.update(
                state["net"], state["opt_state"], state["ema"], grads, lr, decay)
            jax.block_until_ready(state["net"])

        def warm_up() -> None:
            for _ in range(self.timing.warmup_steps):
                step()

        before = self.probe.current()
        peak = self.probe.peak_during(warm_up)
        # a GPU reports the device's whole usage; on the CPU the RSS grows by what the step
        # allocates beyond the training state already resident
        measured = (peak if self.probe.on_device
                    else tree_bytes(state) + tree_bytes(stats) + max(peak - before, 0)) / MB
        memory = max(analysed, measured)
        if memory > self.limit_mb:
            return Measurement(candidate, "oom", n_params, analysed_mb=analysed,
                               measured_mb=measured, memory_mb=memory, compile_s=compile_s,
                               reason=f"measured {measured:.1f} MB over the limit "
                                      f"{self.limit_mb:.1f} MB")
        times = self._timed(step)
        return Measurement(candidate, "ok", n_params, step_ms=1e3 * statistics.median(times),
                           steps_timed=len(times), analysed_mb=analysed, measured_mb=measured,
                           memory_mb=memory, compile_s=compile_s)

    def _timed(self, step: Any) -> list[float]:
        timing, times = self.timing, []
        start = time.perf_counter()
        while len(times) < timing.max_steps and (
                len(times) < timing.min_steps or time.perf_counter() - start < timing.min_time_s):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        return times


def _random_params(model: ForceField, seed: int) -> Any:
    """Parameters of the model's shapes and dtypes, drawn with numpy: their values do not
    change what a step costs, and the network's own initialiser runs op by op for seconds."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda leaf: jnp.asarray(0.1 * rng.standard_normal(leaf.shape),
                                                 leaf.dtype), jax.eval_shape(model.init, seed))
