# Allmende: `make demo` runs the main job on embedded defaults, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

SCAN   := .venv-scan
SCAN_STAMP := $(SCAN)/.installed-checkov

.PHONY: demo test lint typecheck pytest scan-venv system-packages bench bench-service bench-sim bench-exec clean

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

# System packages some tests use: Debian's headless Chromium for the console's browser tests (a browser
# download is impossible here), jq for the README walkthrough, libnghttp2's headers for the C load generator.
# Where one is missing and apt is at hand (as root, or with password-less sudo), install them; never fail:
# without them those tests skip and say why.
APT_PACKAGES := chromium chromium-driver jq libnghttp2-dev

system-packages:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver -a -x /usr/bin/jq -a -f /usr/include/nghttp2/nghttp2.h || { \
	  command -v apt-get >/dev/null || { echo "no apt-get: tests that need $(APT_PACKAGES) will skip"; exit 0; }; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO="sudo -n"; else \
	    echo "not root and no sudo: tests that need $(APT_PACKAGES) will skip"; exit 0; fi; \
	  $$SUDO apt-get install -y --no-install-recommends $(APT_PACKAGES) \
	  || { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends $(APT_PACKAGES); } \
	  || echo "$(APT_PACKAGES) could not be installed: the tests that need them will skip"; }

pytest: $(STAMP) $(SCAN_STAMP) system-packages
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
