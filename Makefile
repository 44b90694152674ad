# Two commands: `make run` serves the demo campus, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 0.0.0.0
PORT ?= 5000

.PHONY: install run test translations messages bench clean

install: $(VENV)/.installed translations

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d patrol/translations

run: install
	$(BIN)/patrol init
	$(BIN)/patrol demo --if-empty
	$(BIN)/patrol serve --host $(HOST) --port $(PORT) --show-demo-logins

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/check_form.py
	$(BIN)/python bench/reports.py

clean:
	rm -rf $(VENV) build *.egg-info

# Refresh the message catalogues after changing user-visible strings; then translate zh.
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -o patrol/translations/messages.pot --sort-output .
	$(BIN)/pybabel -q update -i patrol/translations/messages.pot -d patrol/translations --no-fuzzy-matching
