# `make demo` and `make test` each build the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Every node and command the suite starts is a new Python process: compiled once
# here, they load Hotline's bytecode instead of compiling its sources each time (as
# they would where PYTHONDONTWRITEBYTECODE is set). Stale files are recompiled.
BYTECODE := $(BIN)/python -m compileall -q -j 0 hotline bench
# The suite's tests wait on real time (rings, polls, failovers) as well as use CPU:
# on two cores, three processes keep both busy where two leave them idle at times
# (bench/RESULTS.md, 2026-12-03 evening).
PYTEST_WORKERS ?= 3
# mypy's incremental cache outside the checkout, so that a fresh clone on the same
# machine checks only what changed (about 1 s instead of 30); mypy compares each
# module's hash with its cache entry, so a cache from other sources is not trusted.
MYPY := $(BIN)/mypy --cache-dir $(or $(MYPY_CACHE_DIR),$(HOME)/.cache/hotline-mypy)

.PHONY: demo test lint typecheck bench catalogue font clean

# uv installs the pinned packages (constraints.txt) in seconds from its cache where pip
# takes minutes; it compiles their bytecode as pip would, for the reason above.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BYTECODE)
	$(BIN)/hotline demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check hotline tests bench
	$(BIN)/ruff format --check hotline tests bench

typecheck: $(STAMP)
	$(MYPY)

test: $(STAMP)
	$(BIN)/ruff check hotline tests bench
	$(MYPY)
	$(BYTECODE)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.console

# After changing console strings: refresh the template and merge it into the
# Chinese catalogue, then translate the new entries (tests/web/test_console_catalogue.py checks).
catalogue: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k Invalid --no-location --omit-header -o hotline/locale/messages.pot .
	$(BIN)/pybabel update -i hotline/locale/messages.pot -d hotline/locale -l zh_Hans --no-fuzzy-matching -w 100

# The console's Chinese font: a subset of Noto Sans CJK SC (SIL OFL 1.1, from the
# system's fonts-noto-cjk package), committed with its licence in web/static/fonts.
font: $(STAMP)
	$(BIN)/python tools/cjk_font.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-data test-artifacts

# Coverage-guided fuzzing (atheris) of the envelope decoder, the bundle reader and
# the invitation reader, FUZZ_SECONDS each; each corpus grows under .venv/fuzz across
# runs, and an input that fails is written there as crash-* (see python -m fuzz -h).
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := envelope bundle invitation

.PHONY: fuzz
fuzz: $(STAMP)
	for target in $(FUZZ_TARGETS); do \
		$(BIN)/python -m fuzz $$target --seconds $(FUZZ_SECONDS) \
			--corpus $(VENV)/fuzz/$$target --artifacts $(VENV)/fuzz/crashes || exit 1; \
	done
