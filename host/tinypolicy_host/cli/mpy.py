"""`tinypolicy mpy`: command line of `tinypolicy_host.board.mpy` (argument parsing, error reporting)."""
from pathlib import Path

from ..board.mpy import APP, ARCHES, PACKAGES, RUNTIME, compile_arch
from ..paths import BUILD


def add_arguments(parser):
    parser.add_argument("--arch", action="append", choices=sorted(ARCHES), help="only these (default: all)")
    parser.add_argument("--out", type=Path, default=BUILD / "mpy")


def run(args) -> int:
    arches = args.arch or list(ARCHES)
    for arch in arches:
        files = compile_arch(arch, args.out)
        by_package = {pkg: sum(p.stat().st_size for p in files if p.parent.name == pkg) for pkg in PACKAGES}
        total = sum(by_package.values())
        print(f"{arch:10s} {len(files):3d} files {total:6d} B (runtime {by_package[RUNTIME]:6d} B, app "
              f"{by_package[APP]:6d} B)  -> {args.out / arch}  ({ARCHES[arch]})")
    return 0
