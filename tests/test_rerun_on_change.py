"""A changed setting reruns exactly the jobs that read it, and their dependents.

One dry run on the finished tiny run, with one setting changed per track: a force-field
student's epochs, the CG simulation's steps, the classifier's KD temperature and a prior term
list. Snakemake must give "params changed" as the reason of exactly the jobs that read those
settings; every other job it plans must be there only because an input is rebuilt.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEFAULT_CONFIG, TINY_CONFIG, planned_jobs, run_snakemake

pytestmark = pytest.mark.workflow

CHANGES = {
    "md": {"forcefield": {"student": {"train": {"epochs": 3}}}},
    "cg": {"cg": {"simulate": {"steps": 240}}},
    "can": {"classifier": {"kd": {"temperature": 2.5}}},
    "ala2": {"cg": {"terms": ["bond", "angle", "dihedral"]}},
}
# (rule, wildcards) of the jobs that read the changed settings; report_run_config records the
# whole configuration. md's baseline reads its student's settings too, but it is planned as
# the student's dependent: the student's train_info.json, an input, sets its step budget
READERS = {
    ("ff_train", "dataset=md, model=student"),
    ("cg_simulate", "dataset=cg"),
    ("cg_fit_priors", "dataset=ala2"),
    ("report_run_config", ""),
}


def test_a_changed_setting_reruns_exactly_its_readers_and_their_dependents(
        tiny_run: Path, tmp_path: Path) -> None:
    overlay = tmp_path / "changes.yaml"
    overlay.write_text(yaml.safe_dump({"datasets": CHANGES}))
    result = run_snakemake(tiny_run, "-n", configfiles=(DEFAULT_CONFIG, TINY_CONFIG, overlay))
    jobs = planned_jobs(result.stdout + result.stderr)

    changed = {(rule, wc) for rule, wc, reason in jobs if "Params have changed" in reason}
    kd_students = {(rule, wc) for rule, wc in changed if rule == "can_train"}
    # the distilled students and their seed repeats (`_kd_rep<k>`) read the KD temperature
    assert kd_students and all(re.search(r"_kd(_rep[0-9]+)?$", wc) for _, wc in kd_students), (
        changed)
    assert changed - kd_students == READERS
    others = [(rule, wc, reason) for rule, wc, reason in jobs if (rule, wc) not in changed]
    assert all(reason.startswith("Input files updated by another job") or rule == "all"
               for rule, wc, reason in others), others
    # nothing of a dataset whose settings stayed the same
    assert not [job for job in jobs if "dataset=mol" in job[1]]
