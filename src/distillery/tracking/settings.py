"""Settings of experiment tracking: the `tracking:` section of the workflow config."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class TrackingSettings(BaseModel):
    """Where and how training and evaluation jobs are logged to MLflow.

    `uri` None means a local SQLite store `<results>/mlflow.db` with artifacts under
    `<results>/mlruns/`; any MLflow tracking URI (`http://host:5000`, `sqlite:///...`) works.
    Without `strict`, an unreachable store never stops a job: the run is queued under
    `<results>/tracking_pending/` and `python -m distillery.tracking sync` replays it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Log training and evaluation jobs to MLflow."""
    uri: str | None = None
    """MLflow tracking URI; null: the local SQLite store `<results>/mlflow.db`."""
    strict: bool = False
    """An unreachable store stops the job (instead of queueing the run)."""
    experiment_prefix: str = ""
    """Prefix of the experiments, one per dataset named `<prefix><dataset>`; a prefix keeps
    projects apart on a shared server."""
    http_timeout_s: float = Field(5.0, gt=0)
    """Seconds to wait for the tracking server: one that does not answer must not hold up
    training (fail fast, queue)."""
    http_retries: int = Field(1, ge=0, le=10)
    """Immediate retries of a request; one rides out a dropped connection to a live
    server."""
    max_artifact_mb: float = Field(50.0, ge=0)
    """Outputs larger than this many MB are not copied into the artifact store (trajectories,
    caches)."""

    def tracking_uri(self, results_dir: str | Path) -> str:
        """The store to log to: `uri`, or the local SQLite store under `results_dir`."""
        if self.uri is not None:
            return self.uri
        return f"sqlite:///{(Path(results_dir) / 'mlflow.db').resolve()}"

    def artifact_location(self, results_dir: str | Path, experiment: str) -> str | None:
        """Artifact root of a new experiment: `mlruns/<experiment>` beside a SQLite store
        (`<results>/mlruns/` for the default one); None (the server's default) otherwise."""
        uri = self.tracking_uri(results_dir)
        if not uri.startswith("sqlite:///"):
            return None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in experiment)
        store = Path(uri.removeprefix("sqlite:///"))
        return (store.parent / "mlruns" / safe).resolve().as_uri()

    def experiment(self, dataset: str) -> str:
        return f"{self.experiment_prefix}{dataset}"
