# Electrostatics track: PySCF reference labels (on request, or shipped) -> teacher charge
# models on the reference (atom-centred, and with off-centre charges) -> teacher-labelled
# distillation set -> a smaller distilled student -> ESP, dipole and quadrupole errors of the
# reference charges, the per-frame fitted charges and every learned model, speed, figures.


include: "electrostatics_inputs.smk"


rule es_reference:
    """PySCF labels (ESP on vdW-surface points, dipole, quadrupole, Mulliken charges) of frames
    of the source dataset, as a compressed float32 NPZ: built only when asked for, or when a
    dataset's `raw` names it."""
    input:
        frames=es_reference_frames,
    output:
        npz=ES_REFERENCE,
        provenance="data/raw/esp/{dataset}.json",
    wildcard_constraints:
        dataset=one_of(ES_DATASETS),
    params:
        **settings_params(
            reference=lambda wc: es(wc).reference,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
    log:
        log_path("es_reference"),
    benchmark:
        benchmark_path("es_reference")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/es_reference.py"


rule es_train:
    """A teacher charge model on the reference labels, or the student on the teacher's
    (ESP, dipole, quadrupole and charge losses; one train-vs-validation line per epoch)."""
    input:
        unpack(es_train_inputs),
    output:
        **es_model_outputs("{model}"),
    wildcard_constraints:
        dataset=one_of(ES_DATASETS),
        model=one_of(ES_MODELS),
    params:
        **settings_params(role=lambda wc: es(wc).roles()[wc.model]),
        cache_dir=JAX_CACHE,
    log:
        log_path("es_train_{model}"),
    benchmark:
        benchmark_path("es_train_{model}")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/es_train.py"


rule es_distill:
    """The training frames and displaced copies of them, labelled by the teacher."""
    input:
        teacher=f"{ES_DIR}/teacher/model.npz",
        frames=FRAMES,
        splits=SPLITS,
    output:
        frames=f"{ES_DIR}/distill_set.parquet",
    wildcard_constraints:
        dataset=one_of(ES_DATASETS),
    params:
        **settings_params(
            distill=lambda wc: es(wc).distill,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
        cache_dir=JAX_CACHE,
    log:
        log_path("es_distill"),
    benchmark:
        benchmark_path("es_distill")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/es_distill.py"


rule es_evaluate:
    """Test-split ESP RMSE, dipole, quadrupole and charge MAE of the reference charges, the
    per-frame fit and every learned model; the student against the teacher; speed; goals;
    ESP and dipole parity and the ESP error on one frame's surface points."""
    input:
        unpack(es_evaluate_inputs),
        frames=FRAMES,
        splits=SPLITS,
    output:
        metrics=f"{ES_DIR}/metrics.json",
        esp_parity=es_figure("esp_parity"),
        dipole_parity=es_figure("dipole_parity"),
        esp_surface=es_figure("esp_error_surface"),
    wildcard_constraints:
        dataset=one_of(ES_DATASETS),
    params:
        models=lambda wc: list(es(wc).roles()),
        **settings_params(
            evaluate=lambda wc: es(wc).evaluate,
            goals=lambda wc: es(wc).goals,
        ),
        cache_dir=JAX_CACHE,
    # speeds and speed-ups are only comparable when no other job shares the machine
    threads: workflow.cores
    log:
        log_path("es_evaluate"),
    benchmark:
        benchmark_path("es_evaluate")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/es_evaluate.py"


register_targets(
    "electrostatics",
    f"{ES_DIR}/metrics.json",
    f"{ES_DIR}/figures/esp_parity.png",
    f"{ES_DIR}/figures/dipole_parity.png",
    f"{ES_DIR}/figures/esp_error_surface.png",
)
