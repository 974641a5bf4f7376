"""Where things are: the repository root, the shipped model, the unix MicroPython binary and the heap it runs
device code in, the git commit a run was made from."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import MissingToolError

REPO = Path(__file__).resolve().parents[2]
DEVICE = REPO / "device"
MODELS = REPO / "models"
BOARDS = REPO / "boards"
BUILD = REPO / "build"
LOGS = REPO / "logs"
PLOTS = LOGS / "plots"  # where demo and plot write by default (logs/ is not tracked)
MPY_X64 = BUILD / "mpy" / "x64"
DEFAULT_MODEL = MODELS / "policy_int8.bin"  # the blob tools run when given none (eval --device, ...)
DEFAULT_SPEC = MODELS / "policy_spec.npz"  # the shipped policy's float spec (written by export)
#: Heap of the unix port whenever it stands in for a board (demo, eval --device, vboard, tick bench, device tests):
#: RP2040-sized (~160-200 KB free there), so what would not fit on the board fails on the host first.
BOARD_HEAPSIZE = "128K"
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


def git_commit() -> str:
    """The commit of the repository a run used: 40 hex digits, `-dirty` appended when tracked files differ from
    it, or "unknown" without git (an unpacked release)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0 or not head.stdout.strip():
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")
