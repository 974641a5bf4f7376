"""`tinypolicy devtest --port P`: the device test suite (tests/device/) on a board or the virtual board.

The device packages and blobs must be on the board already (`make flash`). This copies tests/device/*.py and the
golden vectors they read (tests/data/golden/, ~1.7 MB; `--no-data` skips them and the tests that need them fail)
with flash's verified copy, only what changed, to the same relative paths inside the flashed version's folder
(the cwd boot.py enters at each reset; the next flash replaces the folder). Then each test module runs
in a fresh interpreter (soft reset first, as pytest gives each file its own process on the unix port) through
tests/device/runner.py; the PASS / SKIP / FAIL lines are echoed and the exit status is 1 if any test failed.
A module that prints nothing for SILENCE_S (a hung test) or a lost connection ends the run with one error line.
"""

import io
import re
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..paths import REPO
from . import serialio
from .flash import Device, Item

TESTS = REPO / "tests" / "device"
DATA = REPO / "tests" / "data" / "golden"
BOARD_TESTS = "tests/device"  # on the board, relative to its cwd (the tests open tests/data/..., models/...)
SILENCE_S = 300.0  # mpremote's follow timeout: per character (time without output), not per module
_RESULT = re.compile(r"^(PASS|SKIP|FAIL) (\S+?)(:.*)?$")


def plan(modules: list[str], with_data: bool, tests_dir: Path = TESTS) -> tuple[list[str], list[Item]]:
    """(module names to run, files to copy)."""
    found = sorted(p.stem for p in tests_dir.glob("test_*.py"))
    unknown = [m for m in modules if m not in found]
    if unknown:
        raise UserError(f"{', '.join(unknown)}: no such module in {tests_dir} (have: {', '.join(found)})")
    items = [Item(p, f"{BOARD_TESTS}/{p.name}") for p in sorted(tests_dir.glob("*.py"))]
    if with_data:
        items += [Item(p, p.relative_to(REPO).as_posix()) for p in sorted(DATA.rglob("*")) if p.is_file()]
    return modules or found, items


def run_module(transport, module: str, out) -> dict:
    """Soft reset, run one module with the runner, echo its lines; {"pass", "skip", "fail", "seconds"}."""
    from mpremote.transport import TransportError

    where = f"--port {transport.device_name}: {module}"
    try:
        serialio.enter_raw_repl(transport, soft_reset=True)
        t0 = time.monotonic()
        transport.exec_raw_no_follow(f"import sys\nsys.path.insert(0, {BOARD_TESTS!r})\nimport runner\n"
                                     f"runner.main([{module!r}])")
    except (TransportError, OSError) as exc:  # OSError: serial.SerialException, e.g. a board unplugged
        raise UserError(f"{where}: could not start the module on the board ({_one_line(exc)})") from None
    counts = {"pass": 0, "skip": 0, "fail": 0}
    buf = b""

    def consume(data: bytes) -> None:
        nonlocal buf
        buf += data
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace").strip("\r\x04")
            m = _RESULT.match(line)
            if m:
                counts[m.group(1).lower()] += 1
            if line and not line.startswith("device tests done"):
                print(f"  {line}", file=out, flush=True)

    try:
        _, err = transport.follow(timeout=SILENCE_S, data_consumer=consume)
    except TransportError as exc:  # follow's only TransportError: no end marker and no output for SILENCE_S
        raise UserError(f"{where}: the board printed nothing for {SILENCE_S:.0f} s and the module did not end "
                        f"({_one_line(exc)}); a hung test?") from None
    except OSError as exc:
        raise UserError(f"{where}: lost the connection to the board ({_one_line(exc)})") from None
    consume(b"\n")
    if err.strip():  # an error outside the runner's own reporting (e.g. the runner itself missing)
        counts["fail"] += 1
        print(f"  FAIL {module}: {err.decode(errors='replace').strip().splitlines()[-1]}", file=out)
    counts["seconds"] = time.monotonic() - t0
    return counts


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def run_on_board(port: str, modules: list[str] | None = None, with_data: bool = True, tests_dir: Path = TESTS,
                 out=sys.stdout) -> dict:
    names, items = plan(modules or [], with_data, tests_dir)
    port = serialio.resolve_port(port)
    transport = serialio.connect(port)
    totals = {"pass": 0, "skip": 0, "fail": 0, "modules": {}}
    try:
        try:
            serialio.enter_raw_repl(transport, soft_reset=True)
        except OSError as exc:
            raise UserError(f"--port {port}: lost the connection to the board ({_one_line(exc)})") from None
        dev = Device(transport, at_root=False)  # into the flashed version's folder (the cwd boot.py entered)
        print(f"devtest: {len(items)} files to {port} (device hash {dev.alg})", file=out)
        copied, unchanged, nbytes = dev.sync(items, out=io.StringIO())  # one summary line, not 20
        print(f"devtest: {len(copied)} copied ({nbytes} B), {len(unchanged)} unchanged", file=out)
        for name in names:
            print(f"{name}:", file=out, flush=True)
            counts = run_module(transport, name, out)
            totals["modules"][name] = counts
            for k in ("pass", "skip", "fail"):
                totals[k] += counts[k]
    finally:
        serialio.close(transport)
    print(f"devtest: {totals['pass']} passed, {totals['skip']} skipped, {totals['fail']} failed "
          f"({len(names)} modules on {port})", file=out)
    return totals
