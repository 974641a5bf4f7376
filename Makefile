# TinyPolicy — one entry point. `make demo` and `make test` set everything up themselves.
PYTHON_SYS ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
TP         := $(VENV)/bin/tinypolicy
export MICROPYTHON ?= $(abspath $(VENV)/bin/micropython)
PORT       ?=
BOARD      ?= unix
OUT        ?= logs/run.csv
LOG        ?= logs/demo.csv
PLOTS      ?= logs/plots
DURATION   ?= 0
SRC        ?=
STAMP      := $(VENV)/.setup-stamp

.PHONY: setup demo test test-fast train zoo flash monitor plot bench bench-quick cycles fuzz vboard mpy dist lint clean help

help:
	@echo "make demo | test | setup | train | flash PORT=.. BOARD=.. | monitor PORT=.. OUT=.. [DURATION=s]"
	@echo "     plot LOG=.. [PLOTS=dir]"
	@echo "     bench | cycles | fuzz | vboard | mpy | dist | lint | zoo (long: train + convert + evaluate models/zoo) | clean"

setup: $(STAMP)

# Re-runs only when the pins or the project metadata change.
# MicroPython stubs per port (rp2, esp32) go to their own folder: fresh each time, so no stale module lingers.
$(STAMP): requirements.txt requirements-stubs-rp2.txt requirements-stubs-esp32.txt pyproject.toml
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	@# Debian's arm-none-eabi gcc builds the C reference for the emulated Cortex-M0+ (tests/test_thumb_*.py).
	command -v arm-none-eabi-gcc >/dev/null || { if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq gcc-arm-none-eabi; \
	    else echo "warning: run 'sudo apt-get install gcc-arm-none-eabi' (the armv6m C reference needs it)"; fi; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -rf $(VENV)/stubs/rp2 $(VENV)/stubs/esp32
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps \
	    --target $(VENV)/stubs/rp2 -r requirements-stubs-rp2.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps \
	    --target $(VENV)/stubs/esp32 -r requirements-stubs-esp32.txt
	touch $@

# Writes only into logs/ (not tracked): the log and logs/plots/*.png.
demo: $(STAMP)
	$(TP) demo --log $(LOG) --plots $(PLOTS)

# The example plots committed in plots/ (README, plots/README.md): rewritten only here, from a fresh demo run.
.PHONY: plots
plots: $(STAMP)
	$(TP) demo --log logs/demo.csv --plots plots

test: $(STAMP) mpy lint
	$(PY) -m pytest

# Trains, exports models/ (ONNX, metadata, blobs, golden vectors), then refreshes the device replay vectors.
train: $(STAMP)
	$(TP) train
	$(PY) tools/gen_replay_data.py

# The policy zoo (long; not part of `make test`): trains (niced, one torch thread; a finished training of the same
# setup in build/zoo is reused), converts and evaluates every task into models/zoo/, writes models/zoo/README.md.
zoo: $(STAMP) mpy
	OMP_NUM_THREADS=1 nice -n 19 $(TP) zoo

mpy: $(STAMP)
	$(TP) mpy

flash: $(STAMP) mpy
	$(TP) flash --port "$(PORT)" --board $(BOARD) $(if $(SRC),--src,)

monitor: $(STAMP)
	$(TP) monitor --port "$(PORT)" --out $(OUT) --duration $(DURATION)

plot: $(STAMP)
	$(TP) plot $(LOG) --out $(PLOTS)

vboard: $(STAMP)
	$(TP) vboard

bench: $(STAMP) mpy
	$(TP) bench

# Full fuzz campaigns (issue 11: blobs, configs, replay files, serial link, killed flashes) -> benchmarks/fuzz.md.
# The quick slice of the same kits is part of `make test` (tests/test_fuzz.py).
fuzz: $(STAMP) mpy
	$(PY) tools/fuzz.py

bench-quick: $(STAMP) mpy
	$(TP) bench --quick

# RP2040 cycle model alone (every golden vector through the armv6m code, the cycle table)
cycles: $(STAMP)
	$(TP) cycles --out benchmarks/rp2040_cycles.md

dist: $(STAMP) mpy
	$(TP) dist

lint: $(STAMP)
	$(TP) lint

clean:
	rm -rf build .pytest_cache .ruff_cache .mypy_cache

# ---- Browser demo, examples, docs, release (issue 13) -------------------------------------------------------------
# web/: npm packages (MicroPython WebAssembly, playwright-core) via npm ci; Debian's chromium for the browser test
# (apt-get as root; where it cannot be installed the test says so, and fails under CI=true); Debian's graphviz for
# the diagram check (tests/test_docs.py).
WEB_PORT  ?= 8000
WEB_STAMP := web/node_modules/.setup-stamp
APT_GET   := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: web diagram gif

setup: $(WEB_STAMP)
test: $(WEB_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { $(APT_GET) update && $(APT_GET) install -y nodejs npm; }
	@test -x /usr/bin/chromium || { $(APT_GET) update && $(APT_GET) install -y chromium; } \
	    || echo "warning: could not install chromium: the browser test fails under CI=true and skips elsewhere"
	@command -v dot >/dev/null || { $(APT_GET) update && $(APT_GET) install -y graphviz; } \
	    || echo "warning: could not install graphviz: tests/test_docs.py cannot check docs/architecture.svg"
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Serves the repository on 127.0.0.1 (the page loads device/ and models/ from it); Ctrl-C stops.
web: $(WEB_STAMP)
	@echo "TinyPolicy browser demo: http://127.0.0.1:$(WEB_PORT)/web/   (Ctrl-C stops the server)"
	$(PYTHON_SYS) -m http.server --bind 127.0.0.1 --directory . $(WEB_PORT)

# docs/architecture.svg from its Graphviz source (Debian's graphviz: apt-get install graphviz); commit both.
diagram:
	@command -v dot >/dev/null || { echo "diagram: needs Graphviz dot (apt-get install graphviz)"; exit 1; }
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg

# docs/demo.gif from a real run: a fresh `make demo`-style run logged to docs/demo.csv (GIF_RUN=0: reuse that log).
GIF_RUN ?= 1
gif: $(STAMP)
	$(if $(filter 1,$(GIF_RUN)),$(TP) demo --log docs/demo.csv --plots build/gif/plots --quiet)
	$(TP) animate docs/demo.csv --out docs/demo.gif \
	    --title "TinyPolicy: the shipped int8 policy on the unix MicroPython port (make demo, 10 ms period)"
