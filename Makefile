# The two set-up commands of README: `make demo` and `make test`. Both install what they need
# (Debian packages when their binaries are missing, a virtualenv with the package) and are safe
# to run again.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test system-deps venv stores-down clean

system-deps:
	@scripts/install-system-deps.sh chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: system-deps venv
	$(BIN)/pytest

demo: system-deps venv
	$(BIN)/tapcompare stores up
	$(BIN)/tapcompare stores status

stores-down: venv
	$(BIN)/tapcompare stores down

clean: 
	-$(BIN)/tapcompare stores down
	rm -rf $(VENV) .tapcompare
