"""`tinypolicy animate`: command line of `tinypolicy_host.board.animate` (argument parsing, error reporting)."""
from pathlib import Path

from ..board.animate import animate_log


def add_arguments(parser):
    parser.add_argument("log", type=Path, help="CSV log from `make demo` or `make monitor`")
    parser.add_argument("--out", type=Path, required=True, help="GIF file to write")
    parser.add_argument("--fps", type=float, default=12.0, help="frames per second (default 12)")
    parser.add_argument("--title", default="", help="title above the plots (default: the log's file name)")


def run(args) -> int:
    print(animate_log(args.log, args.out, fps=args.fps, title=args.title))
    return 0
