"""`tinypolicy lint`: command line of `tinypolicy_host.devtools.lint` (argument parsing, error reporting)."""
import subprocess
import sys

from ..devtools.lint import RUFF_PATHS, device_type_check
from ..paths import REPO


def add_arguments(parser):
    parser.add_argument("--no-types", action="store_true", help="skip the device type check")


def run(args) -> int:
    paths = [p for p in RUFF_PATHS if (REPO / p).exists()]
    rc = subprocess.run([sys.executable, "-m", "ruff", "check", *paths], cwd=REPO).returncode
    if not args.no_types:
        rc = device_type_check() or rc
    return rc
