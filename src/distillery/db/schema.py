"""Tables of the project database, and the wide `metrics` view generated from its data.

Long tables keep every figure (`metric_values`: one row per dataset x variant x model x
metric); the `metrics` view turns them into one row per model with a column per metric name,
so `select model, force_mae from metrics where dataset = 'md'` works. The view is rebuilt
whenever metrics are written, so new metric names become columns.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    track TEXT,
    format TEXT,
    n_frames INTEGER,           -- frames (molecular) or rows (CAN) after ingest
    n_train INTEGER,
    n_val INTEGER,
    n_test INTEGER,
    summary TEXT                -- JSON: the ingest summary
);
CREATE TABLE IF NOT EXISTS runs (
    path TEXT PRIMARY KEY,      -- the job's provenance file, relative to results/
    rule TEXT NOT NULL,
    dataset TEXT,               -- NULL for run-wide jobs (data_summary, leaderboard, ...)
    wildcards TEXT NOT NULL,    -- JSON object
    variant TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    seconds REAL,
    host TEXT,
    git_commit TEXT,
    provenance TEXT NOT NULL    -- JSON: the whole provenance record
);
CREATE TABLE IF NOT EXISTS models (
    dataset TEXT NOT NULL,
    track TEXT NOT NULL,
    variant TEXT NOT NULL,
    split TEXT NOT NULL,
    model TEXT NOT NULL,
    role TEXT NOT NULL,
    n_params INTEGER,
    size_bytes INTEGER,
    device TEXT,
    throughput REAL,
    throughput_unit TEXT,
    primary_metric TEXT NOT NULL,
    primary_value REAL,
    direction TEXT NOT NULL,
    primary_unit TEXT,
    goals_passed INTEGER NOT NULL,
    goals_total INTEGER NOT NULL,
    source TEXT NOT NULL,       -- the metrics.json, relative to results/
    PRIMARY KEY (dataset, variant, model)
);
CREATE TABLE IF NOT EXISTS metric_values (
    dataset TEXT NOT NULL,
    track TEXT NOT NULL,
    variant TEXT NOT NULL,
    model TEXT NOT NULL,
    role TEXT NOT NULL,
    metric TEXT NOT NULL,       -- dotted name: force_mae, energy.mae_per_atom, throughput
    value REAL,                 -- NULL: not finite or not measured
    PRIMARY KEY (dataset, variant, model, metric)
);
CREATE TABLE IF NOT EXISTS goals (
    dataset TEXT NOT NULL,
    variant TEXT NOT NULL,
    model TEXT NOT NULL,
    goal TEXT NOT NULL,
    value REAL,
    threshold REAL NOT NULL,
    comparison TEXT NOT NULL,
    passed INTEGER NOT NULL,
    PRIMARY KEY (dataset, variant, model, goal)
);
CREATE TABLE IF NOT EXISTS summaries (
    dataset TEXT NOT NULL,
    track TEXT NOT NULL,
    variant TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (dataset, variant, key)
);
CREATE TABLE IF NOT EXISTS configs (
    dataset TEXT NOT NULL,
    variant TEXT NOT NULL,
    config TEXT NOT NULL,       -- JSON: the run config narrowed to this dataset and its track
    source TEXT NOT NULL,
    PRIMARY KEY (dataset, variant)
);
CREATE TABLE IF NOT EXISTS benchmarks (
    path TEXT NOT NULL,         -- the benchmark TSV, relative to results/
    repeat INTEGER NOT NULL,    -- row of the TSV (Snakemake's `repeat()` writes several)
    rule TEXT NOT NULL,
    dataset TEXT,
    wildcards TEXT NOT NULL,
    s REAL,                     -- Snakemake's benchmark columns, units as Snakemake writes them
    h_m_s TEXT,
    max_rss REAL,
    max_vms REAL,
    max_uss REAL,
    max_pss REAL,
    io_in REAL,
    io_out REAL,
    mean_load REAL,
    cpu_time REAL,
    extra TEXT,                 -- JSON: extended-format columns, if any
    PRIMARY KEY (path, repeat)
);
"""

# columns of the `metrics` view that come from `models`; a metric of the same name (in any
# letter case: SQLite column names are case-insensitive) stays in `metric_values` only
MODEL_COLUMNS = ("dataset", "track", "variant", "split", "model", "role", "n_params",
                 "size_bytes", "device", "throughput", "throughput_unit", "primary_metric",
                 "primary_value", "direction", "primary_unit", "goals_passed", "goals_total",
                 "source")
# SQLite allows 2000 columns by default; a view wider than this is no longer readable anyway
MAX_METRIC_COLUMNS = 1500


def ident(name: str) -> str:
    """An SQL identifier, quoted (metric names contain dots)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(TABLES)
    if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'metrics'").fetchone() is None:
        refresh_metrics_view(conn)


def metric_columns(conn: sqlite3.Connection) -> list[str]:
    """Metric names that become columns of the view: sorted, unique ignoring case."""
    taken = {c.lower() for c in MODEL_COLUMNS}
    names = []
    for (name,) in conn.execute("SELECT DISTINCT metric FROM metric_values ORDER BY metric"):
        if name.lower() not in taken:
            taken.add(name.lower())
            names.append(name)
    return names[:MAX_METRIC_COLUMNS]


def refresh_metrics_view(conn: sqlite3.Connection) -> None:
    """(Re)create the wide view: one row per dataset x variant x model."""
    fixed = ", ".join(f"m.{ident(c)}" for c in MODEL_COLUMNS)
    pivot = "".join(
        f",\n    MAX(CASE WHEN v.metric = {literal(name)} THEN v.value END) AS {ident(name)}"
        for name in metric_columns(conn))
    conn.execute("DROP VIEW IF EXISTS metrics")
    conn.execute(
        f"CREATE VIEW metrics AS\nSELECT {fixed}{pivot}\nFROM models AS m\n"
        "LEFT JOIN metric_values AS v\n"
        "    ON v.dataset = m.dataset AND v.variant = m.variant AND v.model = m.model\n"
        "GROUP BY m.dataset, m.variant, m.model")
