# device: the device side of the app fuzz (tests/appfuzz.py): many runs of the control app in one process.
#
#   cd device && micropython -X heapsize=128K ../tests/mp_app_runs.py RUNS.txt     (MICROPYPATH=.:../boards/unix)
#
# RUNS.txt: one run per line, its command-line flags separated by tabs. Each run prints "=== run <k>", the app's
# output, then "=== rc <k> <exit status>"; an exception that escapes the app is printed as a traceback (the fuzz
# counts those).
import gc
import sys

import board  # type: ignore[import-not-found]  # boards/unix on MICROPYPATH

from tinypolicy_app import app


def main(runs_path):
    with open(runs_path) as f:
        runs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for k, argv in enumerate(runs):
        gc.collect()
        print("=== run", k)
        try:
            rc = app.main(board, argv, ".")
        except BaseException as exc:  # noqa: BLE001 - what the fuzz looks for
            sys.print_exception(exc, sys.stdout)
            rc = -1
        print("=== rc", k, rc)


main(sys.argv[1])
