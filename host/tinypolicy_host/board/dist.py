"""Release folders: per architecture, everything a board needs in the layout it is flashed in.

dist/tinypolicy-<version>-<arch>/ holds tinypolicy/*.mpy (runtime), tinypolicy_app/*.mpy (control app), main.py,
config.json, models/*.bin and boards/ (copy the one for your board to the device as board.py); a .zip of each folder
sits beside it. The .mpy files are those `tinypolicy flash` would copy (flash.package_items): one per current
source, each newer than its source, else a UserError asking for `make mpy` (no release of a stale build)."""
import shutil
from importlib.metadata import version
from pathlib import Path

from ..errors import UserError
from ..paths import BOARDS, BUILD, DEVICE, MODELS
from . import flash, mpy


def build(arch: str, out_root: Path) -> Path:
    """Assemble one release folder from build/mpy/<arch>; returns the zip path."""
    folder = out_root / f"tinypolicy-{version('tinypolicy')}-{arch}"
    for package in mpy.PACKAGES:
        if not (BUILD / "mpy" / arch / package).is_dir():
            raise UserError(f"{BUILD / 'mpy' / arch / package}: missing; run `make mpy` first")
    items = flash.package_items(arch, src=False)  # UserError for a missing or stale .mpy, before anything is written
    if folder.exists():
        shutil.rmtree(folder)
    for item in items:
        dst = folder / item.remote
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(item.local, dst)
    for name in ("main.py", "config.json"):
        if (DEVICE / name).exists():
            shutil.copy2(DEVICE / name, folder / name)
    (folder / "models").mkdir()
    for blob in sorted(MODELS.glob("*.bin")):
        shutil.copy2(blob, folder / "models" / blob.name)
    for board in sorted(BOARDS.glob("*/board.py")):
        dst = folder / "boards" / board.parent.name
        dst.mkdir(parents=True)
        shutil.copy2(board, dst / "board.py")
    return Path(shutil.make_archive(str(folder), "zip", folder.parent, folder.name))
