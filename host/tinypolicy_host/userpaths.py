"""Paths the user gave, checked before a command does its (long) work: a UserError naming the option and the path
instead of a traceback halfway through. Neither check truncates or leaves behind a file that was not there."""

import os
from pathlib import Path

from .errors import UserError


def _where(path: Path, label: str) -> str:
    return f"{label} {path}" if label else str(path)


def writable_file(path, label: str = "", make_parent: bool = False) -> Path:
    """`path` can be written as a file (its folder created first when `make_parent`); an existing file is kept."""
    path = Path(path)
    where = _where(path, label)
    if path.is_dir():
        raise UserError(f"{where}: is a folder, not a file")
    existed = path.exists()
    try:
        if make_parent:
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        raise UserError(f"{where}: cannot write ({exc.strerror or exc})") from None
    if not existed:
        path.unlink()
    return path


def folder(path, label: str = "", create: bool = True) -> Path:
    """`path` is a folder or can become one (no file in the way); with `create`, made and checked writable."""
    path = Path(path)
    where = _where(path, label)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise UserError(f"{where}: " + ("is a file, not a folder" if p == path else f"{p} is a file"))
            break
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{where}: cannot create the folder ({exc.strerror or exc})") from None
        if not os.access(path, os.W_OK):
            raise UserError(f"{where}: the folder is not writable")
    return path
