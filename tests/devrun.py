"""Run device code on the unix MicroPython port from pytest (one process per call)."""
import os
import subprocess
from pathlib import Path

from tinypolicy_host.paths import BOARD_HEAPSIZE, REPO, device_path, micropython_binary

DEVICE_TESTS = REPO / "tests" / "device"
HEAPSIZE = BOARD_HEAPSIZE


def run_micropython(args, *, variant="src", heapsize=HEAPSIZE, cwd=REPO, extra_path=(), timeout=300,
                    input_text=None, check=False, device=None):
    """Run `micropython -X heapsize=… args…` with the device package importable (from `device`, a folder, in place
    of the variant's); returns CompletedProcess."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([str(device or device_path(variant)), *map(str, extra_path), ".frozen"])
    cmd = [micropython_binary(), "-X", f"heapsize={heapsize}", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          input=input_text, check=check)


def test_file_heapsize(path: Path) -> str:
    """A device test file may ask for a larger heap with a first-lines comment `# heapsize: 512K`."""
    for line in path.read_text().splitlines()[:5]:
        if line.startswith("# heapsize:"):
            return line.split(":", 1)[1].strip()
    return HEAPSIZE
