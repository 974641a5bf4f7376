"""`tinypolicy dist`: command line of `tinypolicy_host.board.release` (argument parsing, error reporting)."""
from pathlib import Path

from ..board.release import release
from ..paths import REPO


def add_arguments(parser):
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="release folder (emptied first)")


def run(args) -> int:
    for path in release(args.out):
        print(f"{path.stat().st_size:9d} bytes  {path}")
    return 0
