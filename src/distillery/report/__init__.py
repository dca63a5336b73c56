"""Run-wide reports: leaderboard, benchmarks table, learning curves, config diff, notebook,
HTML report checks."""
