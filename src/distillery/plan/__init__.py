"""Hardware-aware planning: per development mode, the force-field size and batch size that fit
this device, from real training steps measured on it and searched with Optuna's TPE sampler.

`python -m distillery.plan --dataset md --mode all` (or the `plan` rule) writes a config
overlay per mode under `<results>/<dataset>/plan/`, `plan.json` with every measurement and
`step_times.csv`, and logs the plan as an MLflow run. Modes and their rules:
`distillery.plan.search`.
"""
