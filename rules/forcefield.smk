# Force-field track: teacher -> teacher-labelled distill set -> distilled students, one per size
# (each with the same architecture trained on the reference labels alone as its baseline) ->
# test metrics, speed and Pareto figure -> a model card per student -> StableHLO export -> MD
# stability. Checkpoints live outside the rule outputs, so an interrupted training resumes
# instead of restarting. A sweep variant reads the trained teacher and the distill set of the
# first dataset of its family with the same settings of them and seed (`ff_source`).


include: "forcefield_inputs.smk"


rule ff_train:
    """Teacher on the reference labels, a student on the teacher's, or a baseline (its
    student's architecture on the reference labels alone, for as many epochs as give it at
    least its student's optimizer steps, stopping early on the validation split): energy +
    force loss, EMA, early stopping."""
    input:
        unpack(ff_train_inputs),
    output:
        **ff_model_outputs("{model}"),
    wildcard_constraints:
        model=one_of(FF_MODELS),
    params:
        **settings_params(role=ff_role),
        teacher_weight=lambda wc: (ff(wc).distill.teacher_weight
                                   if model_role(wc.model) == "student" else None),
        checkpoints=f"{CHECKPOINTS}/{{model}}",
        cache_dir=JAX_CACHE,
    log:
        log_path("ff_train_{model}"),
    benchmark:
        benchmark_path("ff_train_{model}")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_train.py"


rule ff_distill_sample:
    """Training frames, displaced copies and teacher-MD frames, not yet labelled."""
    input:
        unpack(ff_teacher_inputs),
        frames=FRAMES,
        splits=SPLITS,
    output:
        frames=f"{FF_DIR}/distill/frames.parquet",
    params:
        **settings_params(
            teacher=lambda wc: ff(wc).teacher,
            distill=lambda wc: ff(wc).distill,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
        cache_dir=JAX_CACHE,
    log:
        log_path("ff_distill_sample"),
    benchmark:
        benchmark_path("ff_distill_sample")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_distill_sample.py"


rule ff_distill_label:
    """One chunk of the distillation frames labelled by the teacher (a job of its own)."""
    input:
        unpack(ff_teacher_inputs),
        frames=f"{FF_DIR}/distill/frames.parquet",
    output:
        labels=f"{FF_DIR}/distill/labels_{{chunk}}.npz",
    wildcard_constraints:
        chunk=r"\d+",
    params:
        **settings_params(
            teacher=lambda wc: ff(wc).teacher,
            distill=lambda wc: ff(wc).distill,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
        cache_dir=JAX_CACHE,
    log:
        log_path("ff_distill_label_{chunk}"),
    benchmark:
        benchmark_path("ff_distill_label_{chunk}")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_distill_label.py"


rule ff_distill_set:
    """The labelled chunks gathered into the distillation set and its HVP targets."""
    input:
        frames=f"{FF_DIR}/distill/frames.parquet",
        labels=ff_distill_chunks,
    output:
        frames=f"{FF_DIR}/distill_set.parquet",
        hvp=f"{FF_DIR}/distill_hvp.npz",
    log:
        log_path("ff_distill_set"),
    benchmark:
        benchmark_path("ff_distill_set")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_distill_set.py"


rule ff_evaluate:
    """Energy/force errors of every model against the reference labels (per element and
    component), the students' agreement with the teacher, throughput, latency at several batch
    sizes, speed-ups, goals, and the Pareto figure of force MAE against frames/s."""
    input:
        unpack(ff_evaluate_inputs),
        frames=FRAMES,
        splits=SPLITS,
    output:
        metrics=f"{FF_DIR}/metrics.json",
        parity=ff_figure("parity"),
        errors=ff_figure("errors"),
        pareto=ff_figure("pareto"),
    params:
        models=lambda wc: ff(wc).models(),
        seed_groups=lambda wc: ff(wc).seed_groups(),
        **settings_params(
            teacher=lambda wc: ff(wc).teacher,
            evaluate=lambda wc: ff(wc).evaluate,
            goals=lambda wc: ff(wc).goals,
        ),
        cache_dir=JAX_CACHE,
    # speeds and speed-ups are only comparable when no other job shares the machine
    threads: workflow.cores
    log:
        log_path("ff_evaluate"),
    benchmark:
        benchmark_path("ff_evaluate")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_evaluate.py"


rule ff_card:
    """The model card of one student: size, speed beside the teacher's, accuracy against the
    reference and the teacher, MD stability, distillation set, goals and what it is fit for."""
    input:
        unpack(ff_card_inputs),
    output:
        card=report(
            f"{FF_DIR}/cards/{{model}}.md",
            caption="../report/ff_card.rst",
            category="Force field",
            subcategory="{dataset}: model cards",
            labels={"model": "{model}"},
        ),
    wildcard_constraints:
        model=one_of(FF_STUDENTS),
    params:
        temperature=lambda wc: ff(wc).md_stability.temperature,
    log:
        log_path("ff_card_{model}"),
    benchmark:
        benchmark_path("ff_card_{model}")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_card.py"


rule ff_export:
    """StableHLO energy/forces/virial program of one model, checked on test frames."""
    input:
        model=f"{FF_DIR}/{{model}}/model.npz",
        frames=FRAMES,
        splits=SPLITS,
    output:
        program=f"{EXPORT_DIR}/{{model}}/forcefield.stablehlo",
        params=f"{EXPORT_DIR}/{{model}}/params.npz",
        meta=f"{EXPORT_DIR}/{{model}}/forcefield.json",
        check=f"{EXPORT_DIR}/{{model}}/check.json",
    wildcard_constraints:
        model=one_of(FF_MODELS),
    params:
        **settings_params(export=lambda wc: ff(wc).export),
    log:
        log_path("ff_export_{model}"),
    benchmark:
        benchmark_path("ff_export_{model}")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_export.py"


rule ff_md_run:
    """Seeded NVE + Langevin runs of one exported model (or of an ASE/export teacher as it is)
    from test-split structures: exports in the JAX engine, ASE calculators in ASE's
    integrators."""
    input:
        unpack(ff_md_model_inputs),
        frames=FRAMES,
        splits=SPLITS,
    output:
        trajectories=f"{MD_DIR}/{{model}}/trajectories.npz",
        summary=f"{MD_DIR}/{{model}}/summary.json",
    wildcard_constraints:
        model=one_of(FF_MODELS),
    params:
        **settings_params(
            teacher=lambda wc: ff(wc).teacher,
            md=lambda wc: ff(wc).md_stability,
            seed=lambda wc: dataset_seed(wc.dataset),
        ),
        cache_dir=JAX_CACHE,
    log:
        log_path("ff_md_run_{model}"),
    benchmark:
        benchmark_path("ff_md_run_{model}")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_md_run.py"


rule ff_md_report:
    """NVE energy, Langevin temperature and g(r) figures; one stability table."""
    input:
        trajectories=lambda wc: md_runs(wc, "trajectories.npz"),
        summaries=lambda wc: md_runs(wc, "summary.json"),
        frames=FRAMES,
        splits=SPLITS,
    output:
        nve=md_figure("nve_energy", "md_nve_energy"),
        langevin=md_figure("langevin_temperature", "md_langevin_temperature"),
        rdf=md_figure("rdf", "md_rdf"),
        table=report(
            f"{MD_DIR}/md_stability.csv",
            caption="../report/md_stability.rst",
            category="Force field",
            subcategory="{dataset}: MD stability",
            labels={"table": "MD stability"},
        ),
        summary=f"{MD_DIR}/md_stability.json",
    params:
        **settings_params(md=lambda wc: ff(wc).md_stability),
    log:
        log_path("ff_md_report"),
    benchmark:
        benchmark_path("ff_md_report")
    conda:
        conda_env("forcefield")
    script:
        "../workflow_scripts/ff_md_report.py"


register_targets(
    "forcefield",
    f"{FF_DIR}/metrics.json",
    lambda dataset: [f"{EXPORT_DIR}/{m}/check.json" for m in ff_trained_models(dataset)
                     if m not in SETTINGS.forcefield(dataset).seed_replicas()],
    lambda dataset: [f"{FF_DIR}/cards/{m}.md"
                     for m in SETTINGS.forcefield(dataset).student_models()],
    f"{MD_DIR}/md_stability.json",
)
