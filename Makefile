# Two entry points (see README): `make demo` runs the smoke suite against the
# bundled agent and prints the report path; `make test` runs lint, types, tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed redis-server

# Debian's redis-server backs the pipeline agent's live call state in tests;
# installed only when missing, so a second `make install` costs nothing.
.PHONY: redis-server
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q redis-server; }

demo: install
	$(BIN)/voxsim run scenarios/smoke.yaml --out runs/smoke

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
