"""Static checks: ruff on all Python (host, device, tests, tools) and mypy of the device code against the
MicroPython stubs of the port it runs on, so a `machine` API the board lacks is caught before it reaches a board.

Each stub set is pinned in requirements-stubs-<name>.txt and installed by `make setup` into .venv/stubs/<name>
(not site-packages: every port's stubs define the same module names). The portable device package and the
Pico board module are checked against the rp2 stubs, each other board module against its own port's stubs."""
import os
import subprocess
import sys
from pathlib import Path

from ..errors import UserError
from ..paths import REPO

STUBS_ROOT = REPO / ".venv" / "stubs"
RUFF_PATHS = ["host", "device", "tests", "tools", "boards"]
DEVICE_STUBS = "rp2"  # the device package (device/) is checked against these
BOARD_STUBS = {"rpi_pico": "rp2", "esp32": "esp32"}  # boards/<name>/board.py -> stub set
NOT_TYPE_CHECKED = {"unix"}  # runs on the unix port against the simulated plant: no `machine` module


def stubs_dir(stubs: str) -> Path:
    return STUBS_ROOT / stubs


def type_check_groups() -> dict[str, list[Path]]:
    """Stub set -> the files checked against it: device/**/*.py with DEVICE_STUBS, boards/<name>/board.py with
    BOARD_STUBS[name]. A board folder missing from BOARD_STUBS is an error, not silently skipped."""
    groups: dict[str, list[Path]] = {DEVICE_STUBS: sorted((REPO / "device").rglob("*.py"))}
    for board in sorted((REPO / "boards").glob("*/board.py")):
        name = board.parent.name
        if name in NOT_TYPE_CHECKED:
            continue
        if name not in BOARD_STUBS:
            raise UserError(f"boards/{name}: no stub set for this board (add it to lint.BOARD_STUBS)")
        groups.setdefault(BOARD_STUBS[name], []).append(board)
    return groups


def mypy_command(stubs: str, targets: list[Path], cache_dir: Path | None = None) -> list[str]:
    """mypy with one port's stubs as the only library view (--custom-typeshed-dir: the viper names come from
    the stubs' __builtins__). A cache per stub set, so checking two ports in turn does not invalidate it."""
    cache = cache_dir if cache_dir is not None else REPO / ".mypy_cache" / stubs
    return [sys.executable, "-m", "mypy", "--config-file", str(REPO / "device" / "mypy.ini"),
            "--custom-typeshed-dir", str(stubs_dir(stubs)), "--cache-dir", str(cache),
            *[str(t) for t in targets]]


def type_check(stubs: str, targets: list[Path], capture: bool = False,
               cache_dir: Path | None = None) -> subprocess.CompletedProcess:
    """Run mypy over `targets` against .venv/stubs/<stubs> (from the repo root, as `make lint` does).
    Errors inside the third-party stubs are not ours and are silenced by device/mypy.ini."""
    env = dict(os.environ, MYPYPATH=str(stubs_dir(stubs)))
    return subprocess.run(mypy_command(stubs, targets, cache_dir), cwd=REPO, env=env,
                          capture_output=capture, text=True)


def _folder(path: Path) -> str:
    rel = path.relative_to(REPO)
    return "device/" if rel.parts[0] == "device" else f"{rel.parent}/"


def device_type_check() -> int:
    groups = type_check_groups()
    missing = [str(stubs_dir(s)) for s in groups if not stubs_dir(s).is_dir()]
    if missing:
        raise UserError(f"{', '.join(missing)} missing: run `make setup`")
    rc = 0
    for stubs, targets in groups.items():
        where = dict.fromkeys(_folder(t) for t in targets)  # in order, once each
        print(f"mypy against the {stubs} stubs: {' '.join(where)}", flush=True)
        rc = type_check(stubs, targets).returncode or rc
    return rc
