# distillery: raw data -> validated Parquet -> teacher -> distilled student -> evaluation.
# Run `snakemake --cores all` (or `make run`); see README.md.

configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/ingest.smk"


report: "report/workflow.rst"


for _extra in (
    "teacher", "distill", "evaluate", "priors", "classifier", "export", "md", "report"
):
    if Path(workflow.basedir, "rules", f"{_extra}.smk").exists():

        include: f"rules/{_extra}.smk"


rule all:
    default_target: True
    input:
        all_targets(),
