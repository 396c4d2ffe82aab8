# Every target creates .venv on first use and installs the project from its own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck pytest diagrams bench soak fuzz mutate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/callfsm demo

# ruff, then the layers of README "Architecture" ([tool.importlinter] in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check fsm adapters tests bench soak fuzz
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict fsm adapters

# one worker per core, each test file in one worker (its module fixtures start once)
pytest: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadfile

test: lint typecheck pytest

diagrams: $(STAMP)
	$(BIN)/callfsm diagrams --out diagrams --format dot,mmd,svg --readme

bench: $(STAMP)
	$(BIN)/python -m bench

# the fault-injection soak through the simulator (10,000 calls, about 6 minutes); a smoke run is in make test
soak: $(STAMP)
	$(BIN)/python -m soak

# atheris over the JSON and XML event parsers, bounded in time; findings go to .fuzz-corpus/
# (libFuzzer writes into its first directory, so tests/corpus is only read)
FUZZ_TIME ?= 60
fuzz: $(STAMP)
	$(BIN)/pip install --quiet atheris
	mkdir -p .fuzz-corpus
	$(BIN)/python fuzz/atheris_events.py -max_total_time=$(FUZZ_TIME) -artifact_prefix=.fuzz-corpus/ .fuzz-corpus tests/corpus

# mutmut over fsm/ and the wire codec ([tool.mutmut] in pyproject.toml), stopped after MUTATE_TIME seconds;
# the score counts only mutants already checked, so a short run reports a partial score (tests/README.md)
MUTATE_TIME ?= 3600
MUTATE_STAMP := $(VENV)/.mutate-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
$(MUTATE_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	@rm -f $(VENV)/.mutate-*
	@touch $(MUTATE_STAMP)

mutate: $(MUTATE_STAMP)
	-timeout --signal=INT --kill-after=30 $(MUTATE_TIME) $(BIN)/mutmut run --max-children 2
	$(BIN)/python tests/mutation_score.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .fuzz-corpus
