"""Where things are: the repository root, shipped models, the unix MicroPython binary."""
import os
import shutil
import sys
from pathlib import Path

from .errors import MissingToolError

REPO = Path(__file__).resolve().parents[2]
DEVICE = REPO / "device"
MODELS = REPO / "models"
BOARDS = REPO / "boards"
BUILD = REPO / "build"
LOGS = REPO / "logs"
PLOTS = REPO / "plots"
MPY_X64 = BUILD / "mpy" / "x64"
VBOARD_DIR = BUILD / "vboard"  # the virtual board: its flash (fs/) and the file holding its port path (port)
VBOARD_PORT_FILE = VBOARD_DIR / "port"


def micropython_binary() -> str:
    """The unix-port `micropython` to run device code with.

    `$MICROPYTHON` wins; otherwise the one installed into the running venv, then PATH.
    """
    env = os.environ.get("MICROPYTHON")
    if env:
        return env
    beside = Path(sys.executable).with_name("micropython")
    if beside.exists():
        return str(beside)
    found = shutil.which("micropython")
    if not found:
        raise MissingToolError("no micropython binary: run `make setup` or set MICROPYTHON=/path/to/micropython")
    return found


def device_path(variant: str = "mpy") -> str:
    """MICROPYPATH entry for the device packages on the unix port: the x64 .mpy build ("mpy": compiled with
    mpy-cross, as a board runs them) or the sources ("src")."""
    if variant == "mpy":
        if not (MPY_X64 / "tinypolicy").is_dir():
            raise MissingToolError(f"{MPY_X64} is missing: run `make mpy`")
        return str(MPY_X64)
    return str(DEVICE)
