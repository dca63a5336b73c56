"""The coarse-grained evaluation modes (prior + ML, prior alone, ML alone) as the metrics
record: one model entry per mode, the simulation's figures beside the force errors, and the
goals of `CGGoalSettings` on the simulated model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distillery.cg.settings import MODELS, CGGoalSettings
from distillery.metrics.build import Headline, check, environment, model_record, number, ratio
from distillery.metrics.record import Goal, MetricsFile

# model (evaluation mode) -> role: the model as simulated, the prior it corrects, and the ML
# residual alone (an ablation: it is never used without the prior)
ROLES = {"full": "full", "prior-only": "prior", "ml-only": "ablation"}
HEADLINE = Headline(primary="force_mae", direction="minimize", unit="eV/Å",
                    n_params="n_parameters")
ENERGY_NOTE = "energies compared after removing the mean offset"


def simulated_figures(simulation: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{simulated model: its figures} from `simulation.json` (`cg_simulate`'s summary): the
    reported model's at the top level, the prior alone's under `prior_only`."""
    keys = ("js_divergence", "js_halves", "stability", "basin_populations", "sampling")
    out = {simulation["model"]: {k: simulation.get(k) for k in keys}}
    if simulation.get("prior_only"):
        out["prior-only"] = dict(simulation["prior_only"])
    return out


def basin_error(populations: Mapping[str, float] | None,
                reference: Mapping[str, float]) -> float | None:
    """Largest |population - reference population| over the basins; None without basins."""
    if not populations or not reference:
        return None
    return max(abs(populations[b] - reference[b]) for b in reference)


def simulation_goals(model: str, figures: Mapping[str, Mapping[str, Any]],
                     simulation: Mapping[str, Any], goals: CGGoalSettings) -> list[Goal]:
    """The goals of the simulated `model`: its free-energy JS over the reference-halves floor
    and (full with the prior alone beside it, unless that goal is null) over the prior's, its
    largest basin-population error (where basins are defined) and its fraction of stable
    replicas."""
    own = figures[model]
    fes = number((own.get("js_divergence") or {}).get("fes"))
    floor = number(simulation["js_reference_halves"].get("fes"))
    out = [check("fes_js_vs_floor", ratio(fes, floor), goals.max_fes_js_vs_floor, "<=")]
    if model == "full" and "prior-only" in figures and goals.max_fes_js_vs_prior is not None:
        prior = (figures["prior-only"].get("js_divergence") or {}).get("fes")
        out.append(check("fes_js_vs_prior", ratio(fes, prior), goals.max_fes_js_vs_prior, "<="))
    reference = simulation["reference"]["basin_populations"]
    if reference:
        out.append(check("basin_error", basin_error(own.get("basin_populations"), reference),
                         goals.max_basin_error, "<="))
    stability = own["stability"]
    out.append(check("stable_fraction",
                     ratio(stability["stable_replicas"], stability["n_replicas"]),
                     goals.min_stable_fraction, ">="))
    return out


def cg_metrics(dataset: str, modes: Mapping[str, Mapping[str, Any]],
               device: str | Mapping[str, Any], n_frames: int, *,
               simulation: Mapping[str, Any] | None = None,
               goals: CGGoalSettings | None = None, variant: str = "default",
               split: str = "test", priors_trained: bool = False,
               checkpoint: str | None = None) -> MetricsFile:
    """`modes`: {full|prior-only|ml-only: flat figures} as `mode_metrics` computes them (plus
    `n_parameters` of the ML model where it takes part), the dataset's models
    (`CGSettings.models`): all three, or prior-only alone. `simulation`: the summary of
    `cg_simulate`; its figures join the simulated models and the reported one carries the
    `goals` (the defaults when None). `priors_trained`: whether `full` adds the network to
    priors refined with it (`cg.priors.train`; `prior-only` is always the fitted prior);
    `checkpoint`: the training checkpoint evaluated in place of the final delta model. No
    throughput: the modes are not timed."""
    if not modes or set(modes) - set(MODELS):
        raise ValueError(f"coarse-grained modes: found {sorted(modes)}, expected some of "
                         f"{list(MODELS)}")
    figures = simulated_figures(simulation) if simulation is not None else {}
    model_goals = {} if simulation is None else {simulation["model"]: simulation_goals(
        simulation["model"], figures, simulation, goals or CGGoalSettings())}
    records = tuple(
        model_record(mode, ROLES[mode], {**modes[mode], **figures.get(mode, {})}, HEADLINE,
                     device=device, goals=model_goals.get(mode, ()))
        for mode in MODELS if mode in modes)
    summary: dict[str, Any] = {"n_frames": n_frames, "energy_note": ENERGY_NOTE,
                               "priors_trained": priors_trained}
    if "full" in modes:
        summary["delta_checkpoint"] = checkpoint or "final"
    if {"full", "prior-only"} <= set(modes):
        # how much of the prior's force error the ML correction removes
        summary["force_mae_ratio_full_vs_prior"] = ratio(
            modes["full"].get(HEADLINE.primary), modes["prior-only"].get(HEADLINE.primary))
    if simulation is not None:
        summary["simulation"] = {
            "model": simulation["model"],
            "fes_js_reference_halves": simulation["js_reference_halves"].get("fes"),
            "fes_js": {m: (f.get("js_divergence") or {}).get("fes") for m, f in figures.items()},
            "fes_js_halves": {m: (f.get("js_halves") or {}).get("fes")
                              for m, f in figures.items()},
            "fes_js_ratio_full_vs_prior": simulation.get("fes_js_ratio_full_vs_prior"),
            "basin_populations": {"reference": simulation["reference"]["basin_populations"],
                                  **{m: f.get("basin_populations") for m, f in figures.items()}},
            "n_replicas": simulation["n_replicas"],
            "simulated_ps_total": simulation["simulated_ps_total"],
        }
    return MetricsFile(dataset=dataset, track="coarse_grained", variant=variant, split=split,
                       models=records, summary={**summary, **environment(device)})
