"""MLflow tracking of the workflow's training and evaluation jobs.

One experiment per dataset, one run per job, tagged with the rule, its wildcards, the
variant, the code's git commit and the workflow invocation's id. mlflow is imported only when
a run actually logs (`TrackingSettings.enabled`), and an unreachable store never stops a job:
the run is queued under `<results>/tracking_pending/` for `python -m distillery.tracking sync`.
"""

from distillery.tracking.run import NullRun, TrackedRun, tracked_job, tracked_run
from distillery.tracking.settings import TrackingSettings

__all__ = ["NullRun", "TrackedRun", "TrackingSettings", "tracked_job", "tracked_run"]
