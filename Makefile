# The commands of the README and the documentation: `make demo`, `make test`, `make docs`, `make reliability`,
# `make bench` and `make helm`; `make lock`, `make schema` and `make chart-readme` regenerate committed files.
# Each creates .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test docs lint-imports bench reliability helm lock schema chart-readme clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench,docs]'
	touch $(STAMP)

## demo: the scaler on the built-in simulator (options pass through: make demo ARGS="--for 2m")
demo: $(STAMP)
	$(BIN)/scaler demo $(ARGS)

## test: the whole suite, unused and undefined names (ruff) and import layering included
test: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

## docs: build the documentation site (docs/, mkdocs.yml) into site/; a broken link or anchor fails it.
## NO_MKDOCS_2_WARNING silences the theme's notice about MkDocs 2.0, printed on every run.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## helm: fetch the Helm binary the chart tests run (v4.1.4, linux-amd64, SHA-256 checked) into .cache/helm/
helm: $(STAMP)
	$(BIN)/python -m tests.deploy.fetch_helm

## lock: recompile requirements.lock, the image's dependencies pinned with their hashes, from
## pyproject.toml (existing pins are kept; make lock ARGS=--upgrade takes the newest allowed).
## One lock for every platform and every Python from requires-python's minimum on (--universal).
UV_VERSION := 0.13.9
LOCK_COMMAND := uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --output-file requirements.lock --quiet
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/$(LOCK_COMMAND) $(ARGS)

## schema: regenerate the policy JSON Schema (scaler/policy/schema.json) from the models
schema: $(STAMP)
	$(BIN)/python -m scaler.policy.schema > scaler/policy/schema.json

## chart-readme: regenerate the values table of helm/simplismart-scaler/README.md from values.yaml's comments
chart-readme: $(STAMP)
	$(BIN)/python -m tests.deploy.chart_readme

## reliability: the whole reliability and security suite with large case counts (minutes);
## `make test` runs a fast subset of every scenario. The table is printed at the end and
## written to bench/results/reliability.json. A single test may take up to 30 minutes here.
reliability: $(STAMP)
	SCALERTEST_RELIABILITY=full $(BIN)/python -m pytest tests/reliability -q --timeout=1800

## bench: the scale benchmark, 10,000 deployments (about 14 minutes; options pass through: make bench ARGS="--quick")
bench: $(STAMP)
	$(BIN)/python bench/scale_bench.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build site *.egg-info
