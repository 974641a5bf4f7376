"""pytest collection of device tests: each `def test_*` in tests/device/test_*.py becomes one pytest item,
run on the unix MicroPython port twice: from source ("src") and from the x64 .mpy build ("mpy").

One MicroPython process runs a whole file (a process start costs ~50 ms); each item then reports its own
PASS/FAIL/SKIP with the MicroPython traceback.

Shared fixtures: `vboard` (an empty virtual board) and `flashed_board` (one holding what `make flash` puts
there); plain helpers are in helpers.py."""
import re

import pytest

from devrun import DEVICE_TESTS, run_micropython, test_file_heapsize
from helpers import flash_fs
from tinypolicy_host.devtools.vboard import VBoardProcess

_results: dict = {}


@pytest.fixture
def vboard(tmp_path):
    """A running virtual board whose flash is the empty folder tmp_path/fs (main.py not run at boot)."""
    with VBoardProcess(tmp_path / "fs", tmp_path / "port", run_main=False) as vb:
        yield vb


@pytest.fixture
def flashed_board(tmp_path):
    """(virtual board, its flash folder) holding both packages (x64 .mpy) and the blobs, as after `make flash`."""
    fs = flash_fs(tmp_path / "fs")
    with VBoardProcess(fs, tmp_path / "port", run_main=False) as vb:
        yield vb, fs


def pytest_sessionstart(session):
    """The [mpy] variants and the .mpy-based tests import build/mpy/x64: bring it up to date with the sources
    (a no-op when `make test` just ran `make mpy`), so a direct `pytest` never tests stale compiled code."""
    from tinypolicy_host.board import mpy
    from tinypolicy_host.paths import BUILD

    mpy.compile_arch("x64", BUILD / "mpy")


def pytest_pycollect_makemodule(module_path, parent):
    # Device test files are MicroPython, not CPython: collect them as device files, never import them.
    if module_path.parent == DEVICE_TESTS:
        return DeviceFile.from_parent(parent, path=module_path)
    return None


class DeviceFile(pytest.File):
    def collect(self):
        names = re.findall(r"^def (test_\w+)\(", self.path.read_text(), re.M)
        for variant in ("src", "mpy"):
            for name in sorted(names):
                yield DeviceItem.from_parent(self, name=f"{name}[{variant}]", fn=name, variant=variant)


class DeviceItem(pytest.Item):
    def __init__(self, *, fn, variant, **kw):
        super().__init__(**kw)
        self.fn, self.variant = fn, variant

    def runtest(self):
        results = _run_file(self.path, self.variant)
        module = self.path.stem
        status, detail = results.get(f"{module}.{self.fn}", ("MISSING", results.get("<output>", "")))
        if status == "SKIP":
            pytest.skip(detail)
        if status != "PASS":
            raise DeviceTestFailure(f"{module}.{self.fn} [{self.variant}]: {status}\n{detail}")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, DeviceTestFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"device {self.path.stem}.{self.fn} [{self.variant}]"


class DeviceTestFailure(Exception):
    pass


def _run_file(path, variant):
    key = (path, variant)
    if key not in _results:
        proc = run_micropython([DEVICE_TESTS / "runner.py", path.stem], variant=variant,
                               heapsize=test_file_heapsize(path), extra_path=[DEVICE_TESTS])
        _results[key] = _parse(proc.stdout, proc.stderr)
    return _results[key]


def _parse(stdout, stderr):
    """Map 'module.fn' -> (status, detail) from the runner's PASS/FAIL/SKIP lines."""
    results, current = {"<output>": stdout + stderr}, None
    for line in stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASS", "FAIL"):
            current = rest.strip()
            results[current] = (word, "")
        elif word == "SKIP":
            label, _, reason = rest.partition(": ")
            results[label.rstrip(":")] = ("SKIP", reason)
            current = None
        elif line.startswith("| ") and current:
            status, detail = results[current]
            results[current] = (status, detail + line[2:] + "\n")
    if stderr.strip():
        for label, value in list(results.items()):
            if label != "<output>" and value[0] == "FAIL":
                results[label] = (value[0], value[1] + stderr)
    return results
