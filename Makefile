# The two set-up commands of README: `make demo` and `make test`. Both install what they need
# (Debian packages when their binaries are missing, a virtualenv with the package) and are safe
# to run again.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test system-deps venv stores-down clean bench

system-deps:
	@scripts/install-system-deps.sh chromium prometheus

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: system-deps venv
	$(BIN)/pytest

# The whole harness on the bundled real threads: stores, legacy, rewrite, proxy, a replay, the
# report UI (Ctrl-C stops it and the stores). `ARGS=--no-serve` exits after the replay.
demo: system-deps venv
	$(BIN)/tapcompare demo $(ARGS)

# Benchmarks (never part of `make test`): results/*.json + *.md and results/REPORT.md; about 10 minutes.
bench: system-deps venv
	@scripts/install-system-deps.sh wrk nginx
	$(BIN)/python benchmarks/run_all.py

stores-down: venv
	$(BIN)/tapcompare stores down

clean: 
	-$(BIN)/tapcompare stores down
	rm -rf $(VENV) .tapcompare
