# distillery: raw data -> validated Parquet -> teacher -> distilled student -> evaluation.
# Run `snakemake --cores all` (or `make run`); see README.md.

import os
import uuid

from snakemake.utils import min_version

min_version("9.0")

# one id per workflow invocation: every job's MLflow run is tagged with it
os.environ.setdefault("DISTILLERY_RUN_ID", uuid.uuid4().hex)


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/forcefield.smk"
include: "rules/electrostatics.smk"
include: "rules/cg.smk"
include: "rules/can.smk"
include: "rules/report.smk"
include: "rules/sweeps.smk"
include: "rules/plan.smk"


onsuccess:
    # benchmark TSVs are written after each job ends: backfill them (and all else) at the end
    from distillery.db import rebuild

    if Path(RESULTS).is_dir():
        rebuild(RESULTS)


rule all:
    default_target: True
    input:
        all_targets(),
