# Coarse-grained track: map frames to beads, fit physical priors by Boltzmann inversion (or read
# the user's prior file), learn the residual with an ML force field, evaluate the track's models
# (full / prior-only / ml-only; prior-only alone without a delta model), simulate the CG model.
# The steps live in distillery.cg.steps and distillery.cg.simulation.

PRIOR_TERMS = ["bond", "angle", "dihedral", "pair"]
CG_FRAMES = f"{CG_DIR}/cg_frames.parquet"
CG_PRIORS = f"{CG_DIR}/priors.npz"
CG_DELTA = f"{CG_DIR}/delta/model.npz"
CG_BEADS = f"{CG_DIR}/beads.json"


def cg(wildcards):
    """The dataset's `cg:` block, with its temperature and seed filled in."""
    return SETTINGS.cg(wildcards.dataset)


def cg_mapping_topology(wildcards):
    """The topology file a selection mapping reads."""
    mapping = cg(wildcards).mapping
    return [str(shipped_file(mapping.topology))] if mapping.topology else []


def cg_constrained_hydrogens(wildcards):
    """Whether the generated reference constrained bonds to hydrogen (mapping warnings)."""
    generate = dataset_cfg(wildcards.dataset).generate
    return getattr(generate, "constraints", None) == "HBonds"


def cg_fit_inputs(wildcards):
    """The mapped training data; the true parameters beside generated data (to check the
    fits); the user's prior file (`cg.priors.file`), which replaces the fit."""
    inputs = {k: v.format(dataset=wildcards.dataset)
              for k, v in (("frames", CG_FRAMES), ("beads", CG_BEADS), ("splits", SPLITS))}
    generate = dataset_cfg(wildcards.dataset).generate
    if generate is not None and generate.kind == "cg_chain":
        inputs["truth"] = f"data/raw/{SETTINGS.base_dataset(wildcards.dataset)}_truth.json"
    if cg(wildcards).priors.file is not None:
        inputs["user"] = cg(wildcards).priors.file
    return inputs


def cg_model_inputs(wildcards):
    """Mapped frames, splits and priors; the delta model where the dataset has one (a
    `delta: null` dataset runs its priors alone)."""
    inputs = {"frames": CG_FRAMES, "splits": SPLITS, "priors": CG_PRIORS}
    if cg(wildcards).delta is not None:
        inputs["model"] = CG_DELTA
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def cg_delta_targets(dataset):
    """The delta model's training history, for datasets that train one."""
    return [f"{CG_DIR}/delta/history.csv"] if SETTINGS.cg(dataset).delta is not None else []


def cg_report(path, caption, **labels):
    return report(path, caption=f"../report/{caption}", category="Coarse-grained",
                  subcategory="{dataset}", labels=labels)


rule cg_map:
    """All-atom frames to beads (positions by weighted centres or the selected atom, forces
    summed per bead); bead types and bonds for the priors."""
    input:
        frames=FRAMES,
        topology=cg_mapping_topology,
    output:
        frames=CG_FRAMES,
        beads=CG_BEADS,
    params:
        **settings_params(cg=lambda wc: cg(wc).mapping),
        constrained_hydrogens=cg_constrained_hydrogens,
    log:
        log_path("cg_map"),
    benchmark:
        benchmark_path("cg_map")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/cg_map.py"


rule cg_fit_priors:
    """Histograms of bonds, angles, dihedrals and non-bonded distances over the training frames,
    Boltzmann inversion, parametric or spline fits (or the priors of `cg.priors.file`, checked
    against the beads); plots of each prior over its histogram."""
    input:
        unpack(cg_fit_inputs),
    output:
        priors=CG_PRIORS,
        readable=f"{CG_DIR}/priors.yaml",
        summary=cg_report(f"{CG_DIR}/fit_summary.json", "priors_fit_summary.rst",
                          table="prior fit summary"),
        **{f"plot_{term}": cg_report(f"{CG_DIR}/plots/fit_{term}.svg", "priors_fit.rst",
                                     term=term, figure="prior fit")
           for term in PRIOR_TERMS},
    params:
        **settings_params(cg=lambda wc: cg(wc).fitting(),
                          temperature=lambda wc: dataset_cfg(wc.dataset).temperature),
    log:
        log_path("cg_fit_priors"),
    benchmark:
        benchmark_path("cg_fit_priors")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/cg_fit_priors.py"


rule cg_train_delta:
    """ML force field trained on reference minus prior energies and forces (resumable)."""
    input:
        frames=CG_FRAMES,
        splits=SPLITS,
        priors=CG_PRIORS,
    output:
        model=CG_DELTA,
        model_yaml=f"{CG_DIR}/delta/model.yaml",
        history_csv=cg_report(f"{CG_DIR}/delta/history.csv", "priors_delta_history.rst",
                              table="delta model metrics per epoch"),
        history_parquet=f"{CG_DIR}/delta/history.parquet",
        info=f"{CG_DIR}/delta/train_info.json",
    params:
        **settings_params(delta=lambda wc: cg(wc).delta),
        checkpoints=f"{CHECKPOINTS}/delta",
        cache_dir=JAX_CACHE,
    log:
        log_path("cg_train_delta"),
    benchmark:
        benchmark_path("cg_train_delta")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/cg_train_delta.py"


rule cg_evaluate_modes:
    """Force and energy metrics on the test split of the dataset's models: full, prior-only
    and ml-only, or prior-only alone without a delta model."""
    input:
        unpack(cg_model_inputs),
    output:
        metrics=f"{CG_DIR}/metrics.json",
        table=cg_report(f"{CG_DIR}/metrics_modes.csv", "priors_modes.rst",
                        table="metrics per evaluation mode"),
        parity=cg_report(f"{CG_DIR}/plots/parity_modes.svg", "priors_modes.rst",
                         figure="force parity per mode"),
    params:
        **settings_params(models=lambda wc: cg(wc).models()),
        cache_dir=JAX_CACHE,
    log:
        log_path("cg_evaluate_modes"),
    benchmark:
        benchmark_path("cg_evaluate_modes")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/cg_evaluate_modes.py"


rule cg_simulate:
    """Langevin dynamics of prior + ML (and of the prior alone), or of the prior alone without
    a delta model, from test frames; Jensen–Shannon divergences of bonds, angles, dihedrals
    and a 2-D free-energy surface against the reference; stability."""
    input:
        unpack(cg_model_inputs),
    output:
        summary=f"{CG_DIR}/simulation.json",
        table=cg_report(f"{CG_DIR}/simulation.csv", "cg_simulation.rst",
                        table="CG simulation divergences and stability"),
        trajectory=f"{CG_DIR}/simulation/trajectory.npz",
        distributions=cg_report(f"{CG_DIR}/plots/sim_distributions.svg", "cg_simulation.rst",
                                figure="distributions"),
        fes=cg_report(f"{CG_DIR}/plots/sim_fes.svg", "cg_fes.rst",
                      figure="free-energy surfaces"),
    params:
        **settings_params(simulate=lambda wc: cg(wc).simulate,
                          models=lambda wc: cg(wc).simulated()),
        cache_dir=JAX_CACHE,
    log:
        log_path("cg_simulate"),
    benchmark:
        benchmark_path("cg_simulate")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/cg_simulate.py"


register_targets(
    "coarse_grained",
    f"{CG_DIR}/priors.yaml",
    f"{CG_DIR}/fit_summary.json",
    *[f"{CG_DIR}/plots/fit_{term}.svg" for term in PRIOR_TERMS],
    cg_delta_targets,
    f"{CG_DIR}/metrics.json",
    f"{CG_DIR}/metrics_modes.csv",
    f"{CG_DIR}/plots/parity_modes.svg",
    f"{CG_DIR}/simulation.json",
    f"{CG_DIR}/simulation.csv",
    f"{CG_DIR}/plots/sim_distributions.svg",
    f"{CG_DIR}/plots/sim_fes.svg",
)
