# Allmende: `make demo` runs the main job on embedded defaults, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

SCAN   := .venv-scan
SCAN_STAMP := $(SCAN)/.installed-checkov

.PHONY: demo test lint typecheck pytest scan-venv browser bench bench-service bench-sim bench-exec clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all]'
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(BIN)/allmende demo

test: $(STAMP) lint typecheck pytest

# checkov pins packaging<24 where pytest needs >=24: it gets a venv of its own, which the chart's scan test uses.
$(SCAN_STAMP):
	test -x $(SCAN)/bin/python || $(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/pip install --quiet 'checkov>=3.2,<4'
	touch $@

scan-venv: $(SCAN_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check solver scheduler simulations tests bench support
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy solver scheduler simulations

# The console's browser tests drive Debian's headless Chromium (a browser download is impossible here).
# Where it is missing and apt is at hand (as root, or with password-less sudo), install it; never fail:
# without it those tests skip and say why.

browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  command -v apt-get >/dev/null || { echo "no apt-get: the browser tests will skip"; exit 0; }; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO="sudo -n"; else \
	    echo "not root and no sudo: the browser tests will skip"; exit 0; fi; \
	  $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver \
	  || { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; } \
	  || echo "chromium could not be installed: the browser tests will skip"; }

pytest: $(STAMP) $(SCAN_STAMP) browser
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m bench.solver_bench

LOADGEN := bench/loadgen/loadgen

# The C load generator needs libnghttp2's headers (Debian: apt-get install libnghttp2-dev); without
# them the benchmark falls back to Python clients and says so.
$(LOADGEN): bench/loadgen/loadgen.c
	$(CC) -O2 -Wall -Wextra -o $@ $< -lnghttp2

bench-service: $(STAMP)
	-$(MAKE) --no-print-directory $(LOADGEN)
	$(BIN)/python -m bench.service_bench

bench-sim: $(STAMP)
	$(BIN)/python -m bench.sim_bench

bench-exec: $(STAMP)
	$(BIN)/python -m bench.exec_bench

bench-console: $(STAMP)
	$(BIN)/python -m bench.console_bench --markdown docs/benchmarks.md

clean:
	rm -rf $(VENV) $(SCAN) .pytest_cache .mypy_cache .ruff_cache
