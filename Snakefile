# distillery: raw data -> validated Parquet -> teacher -> distilled student -> evaluation.
# Run `snakemake --cores all` (or `make run`); see README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/forcefield.smk"
include: "rules/cg.smk"
include: "rules/can.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
