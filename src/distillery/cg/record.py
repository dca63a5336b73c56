"""The coarse-grained evaluation modes (prior + ML, prior alone, ML alone) as the metrics
record: one model entry per mode. The track has no goals yet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distillery.cg.settings import MODELS
from distillery.metrics.build import Headline, environment, model_record, ratio
from distillery.metrics.record import MetricsFile

# model (evaluation mode) -> role: the model as simulated, the prior it corrects, and the ML
# residual alone (an ablation: it is never used without the prior)
ROLES = {"full": "full", "prior-only": "prior", "ml-only": "ablation"}
HEADLINE = Headline(primary="force_mae", direction="minimize", unit="eV/Å",
                    n_params="n_parameters")
ENERGY_NOTE = "energies compared after removing the mean offset"


def cg_metrics(dataset: str, modes: Mapping[str, Mapping[str, Any]],
               device: str | Mapping[str, Any], n_frames: int, *, variant: str = "default",
               split: str = "test") -> MetricsFile:
    """`modes`: {full|prior-only|ml-only: flat figures} as `mode_metrics` computes them (plus
    `n_parameters` of the ML model where it takes part), the dataset's models
    (`CGSettings.models`): all three, or prior-only alone. No throughput: the modes are not
    timed."""
    if not modes or set(modes) - set(MODELS):
        raise ValueError(f"coarse-grained modes: found {sorted(modes)}, expected some of "
                         f"{list(MODELS)}")
    records = tuple(model_record(mode, ROLES[mode], modes[mode], HEADLINE, device=device)
                    for mode in MODELS if mode in modes)
    summary: dict[str, Any] = {"n_frames": n_frames, "energy_note": ENERGY_NOTE}
    if {"full", "prior-only"} <= set(modes):
        # how much of the prior's force error the ML correction removes
        summary["force_mae_ratio_full_vs_prior"] = ratio(
            modes["full"].get(HEADLINE.primary), modes["prior-only"].get(HEADLINE.primary))
    return MetricsFile(dataset=dataset, track="coarse_grained", variant=variant, split=split,
                       models=records, summary={**summary, **environment(device)})
