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
PLOTS      ?= plots
DURATION   ?= 0
SRC        ?=
STAMP      := $(VENV)/.setup-stamp

.PHONY: setup demo test test-fast train flash monitor plot bench bench-quick cycles vboard mpy dist lint clean help

help:
	@echo "make demo | test | setup | train | flash PORT=.. BOARD=.. | monitor PORT=.. OUT=.. [DURATION=s]"
	@echo "     plot LOG=.. [PLOTS=dir]"
	@echo "     bench | cycles | vboard | mpy | dist | lint | clean"

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

demo: $(STAMP)
	$(TP) demo --log $(LOG) --plots $(PLOTS)

test: $(STAMP) mpy lint
	$(PY) -m pytest

# Trains, exports models/ (ONNX, metadata, blobs, golden vectors), then refreshes the device replay vectors.
train: $(STAMP)
	$(TP) train
	$(PY) tools/gen_replay_data.py

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
