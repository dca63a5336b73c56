# distillery: raw data -> validated Parquet -> teacher -> distilled student -> evaluation.
# Run `snakemake --cores all` (or `make run`); see README.md.

configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/ingest.smk"
include: "rules/teacher.smk"
include: "rules/distill.smk"
include: "rules/evaluate.smk"
include: "rules/priors.smk"
include: "rules/classifier.smk"
include: "rules/export.smk"
include: "rules/md.smk"
# last: collects the final targets every track file registered
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
