# The two commands: `make demo` and `make test`. Both work from a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := aws,neo4j,app,notebook,dask,serve,k8s,azure,dev
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit clean constraints

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/blastwall --store .blastwall/demo demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Everything but the browser tests on both cores (a test file stays on one worker, with its fixtures),
# then the browser tests alone: they time pages, and a second worker would be timing itself.
test: lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not ui"
	$(BIN)/python -m pytest -m ui

# Regenerate the constraints file from what a fresh install resolves to today.
constraints:
	rm -rf /tmp/bw-constraints && $(PY) -m venv /tmp/bw-constraints
	/tmp/bw-constraints/bin/python -m pip install -q --upgrade pip
	/tmp/bw-constraints/bin/python -m pip install -q -e '.[$(EXTRAS)]'
	/tmp/bw-constraints/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .blastwall .pytest_cache .mypy_cache .ruff_cache test-output
