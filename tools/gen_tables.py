"""Generate device/tinypolicy/tables.py from the host integer reference (tinypolicy_host.quantize.quant).

    .venv/bin/python tools/gen_tables.py          # rewrite the file
    .venv/bin/python tools/gen_tables.py --check  # exit 1 if it is out of date

The tables are `bytes` literals (little-endian uint16, values 0…16384): 516 bytes each, read by the viper
kernels through ptr16, and kept in flash when the package is frozen.
"""
import argparse
import sys
from pathlib import Path

from tinypolicy_host.contract.tables import device_tables_source

TARGET = Path(__file__).resolve().parents[1] / "device" / "tinypolicy" / "tables.py"


def source() -> str:
    return device_tables_source(as_bytes=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    args = parser.parse_args(argv)
    text = source()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"error: {TARGET} is out of date: run tools/gen_tables.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
