"""`tinypolicy devtest`: command line of `tinypolicy_host.board.devtest` (argument parsing, error reporting)."""

from ..board.devtest import run_on_board


def add_arguments(parser):
    parser.add_argument("--port", required=True, help="serial port of a flashed board, e.g. /dev/ttyACM0, or `vboard`")
    parser.add_argument("modules", nargs="*", help="test modules, e.g. test_loader (default: all of tests/device)")
    parser.add_argument("--no-data", action="store_true", help="don't copy tests/data/golden (saves ~1.7 MB)")


def run(args) -> int:
    totals = run_on_board(args.port, args.modules, with_data=not args.no_data)
    return 1 if totals["fail"] else 0
