"""`tinypolicy plot`: command line of `tinypolicy_host.board.plot` (argument parsing, error reporting)."""
from pathlib import Path

from ..board.logformat import read_log
from ..board.plot import plot_log
from ..paths import PLOTS


def add_arguments(parser):
    parser.add_argument("log", type=Path, help="CSV log from `make monitor` or `make demo`")
    parser.add_argument("--out", type=Path, default=PLOTS, help="folder for the PNGs (default logs/plots/)")


def run(args) -> int:
    paths = plot_log(args.log, args.out)
    log = read_log(args.log)
    for p in paths:
        print(p)
    if log.malformed:
        print(f"plot: skipped {len(log.malformed)} malformed line(s) of {args.log}")
    return 0
