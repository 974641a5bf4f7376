"""`tinypolicy dist`: command line of `tinypolicy_host.board.dist` (argument parsing, error reporting)."""
from pathlib import Path

from ..board import mpy
from ..board.dist import build
from ..paths import REPO


def add_arguments(parser):
    parser.add_argument("--out", type=Path, default=REPO / "dist")


def run(args) -> int:
    for arch in mpy.ARCHES:
        if arch == "x64":
            continue
        archive = build(arch, args.out)
        print(f"{arch:10s} {archive.stat().st_size:7d} bytes  {archive}")
    return 0
