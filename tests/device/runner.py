# device: tiny test runner for tests/device/test_*.py, on the unix port and on a board.
#
#   micropython tests/device/runner.py test_loader test_kernels   (unix port, from the repo root,
#                                                                    MICROPYPATH=device:tests/device)
#   mpremote run tests/device/runner.py                                (board: runs every test module it finds)
#
# Prints one line per test: "PASS mod.fn", "SKIP mod.fn: why" or "FAIL mod.fn" followed by the traceback
# with each line prefixed "| ". The exit code (unix) is the number of failures.
import sys

from devtest import Skip


def run_module(name):
    failures = 0
    mod = __import__(name)
    for fn_name in sorted(n for n in dir(mod) if n.startswith("test_")):
        fn = getattr(mod, fn_name)
        label = name + "." + fn_name
        try:
            fn()
            print("PASS", label)
        except Skip as exc:
            print("SKIP", label + ":", exc)
        except Exception as exc:  # noqa: BLE001 - report every failure, keep going
            failures += 1
            print("FAIL", label)
            _print_traceback(exc)
    return failures


def _print_traceback(exc):
    import io

    buf = io.StringIO()
    sys.print_exception(exc, buf)
    for line in buf.getvalue().splitlines():
        print("|", line)


def discover():
    import os

    here = __file__.rpartition("/")[0] or "."
    return sorted(f[:-3] for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py"))


def main(names):
    failures = 0
    for name in names or discover():
        try:
            failures += run_module(name)
        except Exception as exc:  # noqa: BLE001 - an import error fails the whole module
            failures += 1
            print("FAIL", name + ".<import>")
            _print_traceback(exc)
    print("device tests done:", failures, "failed")
    return failures


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
