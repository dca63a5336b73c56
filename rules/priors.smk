# Coarse-grained track: map frames to beads, fit physical priors by Boltzmann inversion, learn
# the residual with an ML force field, evaluate full / prior-only / ml-only, simulate the CG model.

PRIORS_DIR = f"{RESULTS}/{{dataset}}/priors"
PRIOR_TERMS = ["bond", "angle", "dihedral", "pair"]
PRIORS_CACHE = f"{RESULTS}/.jax_cache"


def cg_cfg(wildcards):
    return dataset_cfg(wildcards.dataset).get("cg", {})


def cg_temperature(wildcards):
    return dataset_cfg(wildcards.dataset).get("temperature")


def cg_truth(wildcards):
    """True parameters beside generated data (to check the fits), none for user data."""
    generate = dataset_cfg(wildcards.dataset).get("generate")
    if generate and generate["kind"] == "cg_chain":
        return [f"data/raw/{wildcards.dataset}_truth.json"]
    return []


def cg_report(path, caption, **labels):
    return report(path, caption=f"../report/{caption}", category="Coarse-grained",
                  subcategory="{dataset}", labels=labels)


rule cg_map:
    """All-atom frames to beads (positions by weighted centres, forces summed per bead)."""
    input:
        frames=f"{RESULTS}/{{dataset}}/data/frames.parquet",
    output:
        frames=f"{PRIORS_DIR}/cg_frames.parquet",
    params:
        cg=cg_cfg,
    log:
        log_path("cg_map"),
    benchmark:
        benchmark_path("cg_map")
    script:
        "../workflow_scripts/cg_map.py"


rule fit_priors:
    """Histograms of bonds, angles, dihedrals and non-bonded distances over the training frames,
    Boltzmann inversion, parametric or spline fits; plots of each fit over its histogram."""
    input:
        frames=rules.cg_map.output.frames,
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
        truth=cg_truth,
    output:
        priors=f"{PRIORS_DIR}/priors.npz",
        readable=f"{PRIORS_DIR}/priors.yaml",
        summary=cg_report(f"{PRIORS_DIR}/fit_summary.json", "priors_fit_summary.rst",
                          table="prior fit summary"),
        **{f"plot_{term}": cg_report(f"{PRIORS_DIR}/plots/fit_{term}.svg", "priors_fit.rst",
                                     term=term, figure="prior fit")
           for term in PRIOR_TERMS},
    params:
        cg=cg_cfg,
        temperature=cg_temperature,
    log:
        log_path("fit_priors"),
    benchmark:
        benchmark_path("fit_priors")
    script:
        "../workflow_scripts/prior_fit.py"


rule train_delta:
    """ML force field trained on reference minus prior energies and forces (resumable)."""
    input:
        frames=rules.cg_map.output.frames,
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
        priors=rules.fit_priors.output.priors,
    output:
        model=f"{PRIORS_DIR}/delta/model.pkl",
        model_yaml=f"{PRIORS_DIR}/delta/model.yaml",
        history_csv=cg_report(f"{PRIORS_DIR}/delta/history.csv", "priors_delta_history.rst",
                              table="delta model metrics per epoch"),
        history_parquet=f"{PRIORS_DIR}/delta/history.parquet",
        info=f"{PRIORS_DIR}/delta/train_info.json",
    params:
        model=lambda wc: cg_cfg(wc).get("delta", {}).get("model", {}),
        train=lambda wc: {"seed": dataset_seed(wc.dataset),
                          **cg_cfg(wc).get("delta", {}).get("train", {})},
        checkpoints=f"{RESULTS}/{{dataset}}/checkpoints/delta",
        cache_dir=PRIORS_CACHE,
    log:
        log_path("train_delta"),
    benchmark:
        benchmark_path("train_delta")
    script:
        "../workflow_scripts/prior_train_delta.py"


rule evaluate_modes:
    """Force and energy metrics on the test split for full, prior-only and ml-only."""
    input:
        frames=rules.cg_map.output.frames,
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
        priors=rules.fit_priors.output.priors,
        model=rules.train_delta.output.model,
    output:
        metrics=f"{PRIORS_DIR}/metrics.json",
        table=cg_report(f"{PRIORS_DIR}/metrics_modes.csv", "priors_modes.rst",
                        table="metrics per evaluation mode"),
        parity=cg_report(f"{PRIORS_DIR}/plots/parity_modes.svg", "priors_modes.rst",
                         figure="force parity per mode"),
    params:
        cache_dir=PRIORS_CACHE,
    log:
        log_path("evaluate_modes"),
    benchmark:
        benchmark_path("evaluate_modes")
    script:
        "../workflow_scripts/prior_evaluate_modes.py"


rule cg_simulate:
    """Langevin dynamics of prior + ML from test frames; Jensen–Shannon divergences of bonds,
    angles, dihedrals and a 2-D free-energy surface against the reference; stability."""
    input:
        frames=rules.cg_map.output.frames,
        splits=f"{RESULTS}/{{dataset}}/data/splits.json",
        priors=rules.fit_priors.output.priors,
        model=rules.train_delta.output.model,
    output:
        summary=f"{PRIORS_DIR}/simulation.json",
        table=cg_report(f"{PRIORS_DIR}/simulation.csv", "cg_simulation.rst",
                        table="CG simulation divergences and stability"),
        trajectory=f"{PRIORS_DIR}/simulation/trajectory.npz",
        distributions=cg_report(f"{PRIORS_DIR}/plots/sim_distributions.svg", "cg_simulation.rst",
                                figure="distributions"),
        fes=cg_report(f"{PRIORS_DIR}/plots/sim_fes.svg", "cg_simulation.rst",
                      figure="free-energy surface"),
    params:
        simulate=lambda wc: cg_cfg(wc).get("simulate", {}),
        temperature=cg_temperature,
        seed=lambda wc: dataset_seed(wc.dataset),
        cache_dir=PRIORS_CACHE,
    log:
        log_path("cg_simulate"),
    benchmark:
        benchmark_path("cg_simulate")
    script:
        "../workflow_scripts/cg_simulate.py"


register_targets(
    "coarse_grained",
    f"{PRIORS_DIR}/priors.yaml",
    f"{PRIORS_DIR}/fit_summary.json",
    *[f"{PRIORS_DIR}/plots/fit_{term}.svg" for term in PRIOR_TERMS],
    f"{PRIORS_DIR}/delta/history.csv",
    f"{PRIORS_DIR}/metrics.json",
    f"{PRIORS_DIR}/metrics_modes.csv",
    f"{PRIORS_DIR}/plots/parity_modes.svg",
    f"{PRIORS_DIR}/simulation.json",
    f"{PRIORS_DIR}/simulation.csv",
    f"{PRIORS_DIR}/plots/sim_distributions.svg",
    f"{PRIORS_DIR}/plots/sim_fes.svg",
)
