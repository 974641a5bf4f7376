# device: entry point: runs the pendulum control app with the board module chosen at deploy time.
#
# Board: `make flash` puts this file into a version folder /tp/<version>/ beside config.json, board.py (a copy of
# boards/<name>/board.py), tinypolicy/, tinypolicy_app/ and models/; /boot.py (device/boot.py) makes the current
# version's folder the cwd at every reset, so this runs at boot from there (or `import main`). Without version
# folders (a manual copy of `make dist`), the same files sit at the root beside it.
# Unix port (from the repo): `cd device && micropython -X heapsize=128K main.py --mode batch --period-ms 20`
# (the unix board module is found in ../boards/unix when no `board` module is on the path).
import sys

import micropython

if hasattr(micropython, "alloc_emergency_exception_buf"):
    micropython.alloc_emergency_exception_buf(100)  # tracebacks from a hard IRQ need this, allocate early

HERE = __file__.rpartition("/")[0] or "."

try:
    import board  # type: ignore[import-not-found]  # deployed board module
except ImportError:
    sys.path.append(HERE + "/../boards/unix")
    import board  # type: ignore[import-not-found]  # noqa: E402

# Command-line flags and the exit status only when run as a script on the unix port: a board (and the virtual
# board, where the monitor does `import main`) reads config.json only, guards Ctrl-C on its serial link during the
# run (tinypolicy_app/link.py) and returns to the REPL.
_CLI = __name__ == "__main__" and board.NAME == "unix"
try:
    from tinypolicy_app import app  # noqa: E402

    _rc = app.main(board, sys.argv[1:] if _CLI else [], HERE, link=not _CLI)
except MemoryError:  # importing the app needs most of a small heap: one line, the motor was never started
    print("# error: memory: the heap is too small to load the app -> safe state: zero torque, nothing runs")
    print("# info: done")
    _rc = 1
if _CLI:
    sys.exit(_rc)
