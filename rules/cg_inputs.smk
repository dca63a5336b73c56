# Input functions and paths of the coarse-grained track (rules/cg.smk).

PRIOR_TERMS = ["bond", "angle", "dihedral", "pair"]
CG_FRAMES = f"{CG_DIR}/cg_frames.parquet"
CG_PRIORS = f"{CG_DIR}/priors.npz"
CG_DELTA = f"{CG_DIR}/delta/model.npz"
CG_FULL_PRIORS = f"{CG_DIR}/delta/priors.npz"
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
    """Mapped frames, splits and priors; the delta model and the full model's priors (refined
    with `cg.priors.train`) where the dataset has one (a `delta: null` dataset runs its priors
    alone)."""
    inputs = {"frames": CG_FRAMES, "splits": SPLITS, "priors": CG_PRIORS}
    if cg(wildcards).delta is not None:
        inputs["model"] = CG_DELTA
        inputs["full_priors"] = CG_FULL_PRIORS
    return {k: v.format(dataset=wildcards.dataset) for k, v in inputs.items()}


def cg_delta_targets(dataset):
    """The delta model's training history, for datasets that train one."""
    return [f"{CG_DIR}/delta/history.csv"] if SETTINGS.cg(dataset).delta is not None else []


def cg_report(path, caption, **labels):
    return report(path, caption=f"../report/{caption}", category="Coarse-grained",
                  subcategory="{dataset}", labels=labels)
