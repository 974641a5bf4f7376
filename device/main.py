# device: entry point: runs the pendulum control app with the board module chosen at deploy time.
#
# Board: `make flash` stages each version in its own folder and switches with one small write (see
# host .../board/flash.py): /main.py (this file), /tp/current (the name of the version folder, e.g. "a1b2c3d4";
# /tp/current.new while a switch is being made on FAT), /tp/<version>/{config.json, board.py, tinypolicy/,
# tinypolicy_app/, models/}. This file reads the pointer and runs that folder; a board flashed without version
# folders (or the repo tree) runs the files beside this one. Runs at boot (or `mpremote run main.py`).
# Unix port (from the repo): `cd device && micropython -X heapsize=128K main.py --mode batch --period-ms 20`
# (the unix board module is found in ../boards/unix when no `board` module is on the path).
import sys

import micropython

if hasattr(micropython, "alloc_emergency_exception_buf"):
    micropython.alloc_emergency_exception_buf(100)  # tracebacks from a hard IRQ need this, allocate early

HERE = __file__.rpartition("/")[0] or "."


def _version_folder(here):
    """The flashed version folder named by tp/current (or tp/current.new), or None."""
    for name in ("current", "current.new"):
        try:
            with open(here + "/tp/" + name) as f:
                ver = f.read(64).strip()
        except OSError:
            continue
        if ver and "/" not in ver and "." not in ver:
            return here + "/tp/" + ver
    return None


_ver = _version_folder(HERE)
if _ver is not None:
    sys.path.insert(0, _ver)
    HERE = _ver

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
