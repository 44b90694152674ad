# Two commands: `make run` serves the demo campus, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 0.0.0.0
PORT ?= 5000

.PHONY: install run test translations bench clean

install: $(VENV)/.installed translations

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -q -d patrol/translations

run: install
	$(BIN)/patrol init
	$(BIN)/patrol demo --if-empty
	$(BIN)/patrol serve --host $(HOST) --port $(PORT) --show-demo-logins

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/check_form.py

clean:
	rm -rf $(VENV) build *.egg-info
