"""`tinypolicy verify DIR`: replay a converted model's golden vectors (unix port, or a board with --device)."""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser):
    parser.add_argument("dir", type=Path, help="folder written by `tinypolicy convert`")
    parser.add_argument("--device", action="store_true", help="replay on a flashed board instead of the unix port")
    parser.add_argument("--port", default=None, help="serial port of the board (default: the remembered one)")
    parser.add_argument("--mpy", action="store_true", help="unix port: run the x64 .mpy build (`make mpy`)")


def run(args) -> int:
    from ..convert.verify import format_results, verify_board, verify_unix

    results = verify_board(args.dir, args.port) if args.device else verify_unix(args.dir, "mpy" if args.mpy else "src")
    print(format_results(results))
    return 0 if results and all(r.ok for r in results) else 1
