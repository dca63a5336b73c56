"""The project database `results/project.db`: every dataset, job, metric, config and
benchmark of the workflow in one plain SQLite file.

Tables: `datasets`, `runs` (one per job, from its provenance), `models`, `metric_values`
(long: dataset, track, variant, model, role, metric, value), `goals`, `summaries`, `configs`,
`benchmarks` (Snakemake's benchmark TSVs); view `metrics` (one row per model, one column per
metric name). For example::

    python -m distillery.db query "select model, force_mae from metrics where dataset='md'"
    python -m distillery.db query --csv "select model, value from metric_values
        where dataset='md' and metric='force_mae'"

Nothing in the file is specific to this package, so any SQLite client reads it; Datasette
serves it as is: `datasette results/project.db`. Rules keep it current with `write_through`;
`rebuild` (or `python -m distillery.db rebuild --results results`) recreates it from results/.
The `db_sync` rule loads a run's metrics records with `distillery.db.sync.sync_metrics` before
the leaderboard and the analytics notebook read them.
"""

from distillery.db.backfill import DB_NAME, RebuildReport, rebuild
from distillery.db.query import query, query_frame
from distillery.db.write import write_through

__all__ = ["DB_NAME", "RebuildReport", "query", "query_frame", "rebuild", "write_through"]
