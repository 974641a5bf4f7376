"""Static checks: ruff on all Python (host, device, tests, tools) and mypy of the device package against the
RP2040 MicroPython stubs, so a `machine` API the board lacks is caught before it reaches a board."""
import os
import subprocess
import sys

from .paths import REPO

STUBS = REPO / ".venv" / "stubs" / "rp2"
RUFF_PATHS = ["host", "device", "tests", "tools", "boards"]


def add_arguments(parser):
    parser.add_argument("--no-types", action="store_true", help="skip the device type check")


def device_type_check() -> int:
    """mypy over device/ with the rp2 stubs as the only library view (viper names come from the stubs'
    __builtins__). Errors inside the third-party stubs are not ours and are silenced."""
    if not STUBS.is_dir():
        print(f"error: {STUBS} missing: run `make setup`", file=sys.stderr)
        return 2
    env = dict(os.environ, MYPYPATH=str(STUBS))
    targets = [str(p) for p in sorted((REPO / "device").rglob("*.py"))]
    targets += [str(p) for p in sorted((REPO / "boards").glob("*/board.py")) if "unix" not in p.parts]
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "device" / "mypy.ini"),
           "--custom-typeshed-dir", str(STUBS), *targets]
    return subprocess.run(cmd, cwd=REPO, env=env).returncode


def run(args) -> int:
    paths = [p for p in RUFF_PATHS if (REPO / p).exists()]
    rc = subprocess.run([sys.executable, "-m", "ruff", "check", *paths], cwd=REPO).returncode
    if not args.no_types:
        rc = device_type_check() or rc
    return rc
