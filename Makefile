# Quick start: `make run` (whole workflow on the embedded data), `make test` (test suite).
# Both create .venv from the pinned requirements.txt on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# pip installs without compiling every file to bytecode (a minute saved); Python compiles the
# modules it imports on first use, which needs bytecode writing allowed
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run validate test lint report clean venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name distillery --display-name "distillery" >/dev/null
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --report report.html

# long training to convergence on top of the default run (README "Validation mode")
validate: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --configfile config/validation.yaml

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake report.html
