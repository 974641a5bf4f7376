"""`tinypolicy flash`: command line of `tinypolicy_host.board.flash` (argument parsing, error reporting)."""
from pathlib import Path

from ..board import serialio
from ..board.flash import flash


def add_arguments(parser):
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0, or `vboard`")
    parser.add_argument("--board", required=True, help="board folder under boards/: " + ", ".join(serialio.BOARD_ARCH))
    parser.add_argument("--src", action="store_true", help="copy the package as .py source instead of .mpy")
    parser.add_argument("--config", type=Path, help="flashed as config.json (default device/config.json)")
    parser.add_argument("--force", action="store_true", help="copy every file even when the device has it")
    parser.add_argument("--no-reset", action="store_true",
                        help="don't soft-reset first (mpremote `resume`); default: soft reset into the raw REPL")


def run(args) -> int:
    flash(args.port, args.board, src=args.src, config_path=args.config, force=args.force, reset=not args.no_reset)
    return 0
