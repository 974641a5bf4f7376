"""Write device/package.json (mip) from device/manifest.py: every .py of each `package(...)`, source and target
path the same (relative to package.json), and the manifest's version. `--check` exits 1 if the committed file
differs. Usage: python tools/gen_package_json.py [--check]"""
import json
import sys
from pathlib import Path

from tinypolicy_host.board import manifest

DEVICE = Path(__file__).resolve().parent.parent / "device"


def package_json(device: Path = DEVICE) -> str:
    man = manifest.read(device)
    urls = [[f"{p}/{f.name}", f"{p}/{f.name}"] for p in man.packages for f in sorted((device / p).glob("*.py"))]
    return json.dumps({"urls": urls, "version": man.metadata["version"]}, indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = package_json()
    target = DEVICE / "package.json"
    if "--check" in argv:
        if target.read_text() != text:
            print(f"{target}: differs from device/manifest.py; run python tools/gen_package_json.py")
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
