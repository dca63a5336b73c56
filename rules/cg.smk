# Coarse-grained track: map frames to beads, fit physical priors by Boltzmann inversion (or read
# the user's prior file), learn the residual with an ML force field, evaluate the track's models
# (full / prior-only / ml-only; prior-only alone without a delta model), simulate the CG model.
# The steps live in distillery.cg.steps and distillery.cg.simulation.

include: "cg_inputs.smk"


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
    """ML force field trained on reference minus prior energies and forces (resumable); with
    `cg.priors.train` the parametric priors refined with it. The full model's priors (refined,
    or the fitted ones) beside it."""
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
        priors=CG_FULL_PRIORS,
        priors_yaml=f"{CG_DIR}/delta/priors.yaml",
    params:
        **settings_params(delta=lambda wc: cg(wc).delta,
                          train_priors=lambda wc: cg(wc).priors.train),
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
    and ml-only, or prior-only alone without a delta model (the final delta model, or the
    training checkpoint of `cg.evaluate.checkpoint`); the simulation's figures beside them
    and the track's goals on the simulated model."""
    input:
        unpack(cg_model_inputs),
        simulation=f"{CG_DIR}/simulation.json",
    output:
        metrics=f"{CG_DIR}/metrics.json",
        table=cg_report(f"{CG_DIR}/metrics_modes.csv", "priors_modes.rst",
                        table="metrics per evaluation mode"),
        parity=cg_report(f"{CG_DIR}/plots/parity_modes.svg", "priors_modes.rst",
                         figure="force parity per mode"),
    params:
        **settings_params(models=lambda wc: cg(wc).models(), goals=lambda wc: cg(wc).goals,
                          checkpoint=lambda wc: cg(wc).evaluate.checkpoint,
                          priors_trained=lambda wc: cg(wc).priors.train),
        checkpoints=f"{CHECKPOINTS}/delta",
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
    and a 2-D free-energy surface against the reference and between the halves of each run;
    basin populations and sampling; stability per replica."""
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
                          models=lambda wc: cg(wc).simulated(),
                          checkpoint=lambda wc: cg(wc).evaluate.checkpoint),
        checkpoints=f"{CHECKPOINTS}/delta",
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


rule cg_export_openmm:
    """The fitted prior as an OpenMM System (bonds, angles, dihedrals and non-bonded pairs as
    custom forces, one force group per kind; bead masses of their elements), a PDB of the first
    CG frame to start from, and the System's agreement with the JAX prior on the first frames."""
    input:
        priors=CG_PRIORS,
        frames=CG_FRAMES,
    output:
        system=f"{CG_DIR}/openmm/system.xml",
        pdb=f"{CG_DIR}/openmm/start.pdb",
        check=f"{CG_DIR}/openmm/check.json",
    log:
        log_path("cg_export_openmm"),
    benchmark:
        benchmark_path("cg_export_openmm")
    conda:
        conda_env("data")
    script:
        "../workflow_scripts/cg_export_openmm.py"


register_targets(
    "coarse_grained",
    f"{CG_DIR}/openmm/system.xml",
    f"{CG_DIR}/openmm/start.pdb",
    f"{CG_DIR}/openmm/check.json",
)
