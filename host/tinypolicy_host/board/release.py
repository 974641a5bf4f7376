"""`make dist`: the release artifacts in one folder, with checksums.

    dist/tinypolicy-<version>-<arch>.zip   per board architecture: .mpy packages, main.py, config, blobs, boards/
    dist/package.json, dist/tinypolicy/    the mip manifest and the runtime sources it lists
                                           (`mpremote mip install dist/package.json`, or host them anywhere)
    dist/tinypolicy-<version>-py3-none-any.whl, dist/tinypolicy-<version>.tar.gz   the host package
    dist/SHA256SUMS                        sha256 of every file above (`sha256sum -c SHA256SUMS`)

The version is pyproject.toml's, the one place it is written; device/package.json must carry the same one
(checked here and by tests/test_release.py)."""
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from ..errors import UserError
from ..paths import DEVICE, REPO
from . import dist, mpy

RELEASE_ARCHES = [a for a in mpy.ARCHES if a != "x64"]  # x64 is the unix port of the tests, not a board


def project_version() -> str:
    """The version in pyproject.toml (the single source)."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def check_device_version() -> str:
    """device/package.json's version must equal pyproject's; returns it."""
    want = project_version()
    got = json.loads((DEVICE / "package.json").read_text()).get("version")
    if got != want:
        raise UserError(f"{DEVICE / 'package.json'}: version: {got!r}, but pyproject.toml says {want!r}")
    return want


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def build_host_package(out: Path) -> list[Path]:
    """Wheel and sdist of the host package via setuptools' PEP 517 backend (no extra build tool needed)."""
    # build_meta rewrites sys.argv: take the folder first
    code = ("import sys; from setuptools import build_meta as b; d = sys.argv[1]; "
            "s = b.build_sdist(d); w = b.build_wheel(d); print('ARTIFACTS', s, w)")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"host package build failed: {proc.stderr.strip().splitlines()[-1:]}")
    names = proc.stdout.rsplit("ARTIFACTS", 1)[-1].split()
    return [out / name for name in names]


def release(out: Path) -> list[Path]:
    """Build every artifact into `out` (emptied first); returns the files listed in SHA256SUMS."""
    version = check_device_version()
    if out.resolve() in (REPO.resolve(), DEVICE.resolve()) or REPO.resolve().is_relative_to(out.resolve()):
        raise UserError(f"{out}: refusing to empty this folder")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = []
    for arch in RELEASE_ARCHES:
        archive = dist.build(arch, out)
        shutil.rmtree(out / archive.stem)  # keep the zip only
        files.append(archive)
    manifest = json.loads((DEVICE / "package.json").read_text())
    for dst, src in manifest["urls"]:
        (out / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(DEVICE / src, out / dst)
    shutil.copy2(DEVICE / "package.json", out / "package.json")
    files.append(out / "package.json")
    files += build_host_package(out)
    sums = "".join(f"{sha256(p)}  {p.name}\n" for p in files)
    (out / "SHA256SUMS").write_text(sums)
    print(f"release {version}: {len(files)} artifacts + SHA256SUMS in {out}")
    return files
