"""Shared test helpers: the device log header, fake repository trees, a virtual board's flash contents."""
import shutil
from pathlib import Path

from tinypolicy_host.paths import BUILD, MODELS

#: The header line of the device's CSV log (device/tinypolicy_app/logger.py; the contract, exactly this).
LOG_HEADER = "tick,t_us,theta,theta_dot,torque,infer_us,lateness_us,overruns,flags"
LOG_COLUMNS = LOG_HEADER.split(",")
PATH_CONSTANTS = ("REPO", "DEVICE", "BOARDS", "BUILD", "MODELS")


def fake_repo(root: Path, files: dict, monkeypatch, *modules) -> Path:
    """Write `files` (path relative to `root` -> text, bytes, or None for an empty folder) and point the path
    constants (REPO, DEVICE, BOARDS, BUILD, MODELS) each of `modules` has at the fake tree."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for module in modules:
        for name in PATH_CONSTANTS:
            if hasattr(module, name):
                monkeypatch.setattr(module, name, root if name == "REPO" else root / name.lower())
    return root


def flash_fs(fs: Path, packages=("tinypolicy", "tinypolicy_app"), models: bool = True) -> Path:
    """A board's flash as `make flash` leaves it: the packages' x64 .mpy build and (optionally) the blobs."""
    for package in packages:
        shutil.copytree(BUILD / "mpy" / "x64" / package, fs / package)
    if models:
        shutil.copytree(MODELS, fs / "models", ignore=shutil.ignore_patterns("*.onnx", "*.json", "*.md", "*.npz"))
    return fs
