"""Release: the version lives in pyproject.toml only (device/package.json must agree), CHANGELOG.md names it,
and `make dist` (board.release) writes every artifact with a checksum that verifies."""
import hashlib
import json
import re
import tarfile
import zipfile

import pytest

from tinypolicy_host.board import mpy, release
from tinypolicy_host.errors import UserError
from tinypolicy_host.paths import BUILD, DEVICE, REPO


def test_device_package_version_is_the_project_version():
    assert release.check_device_version() == release.project_version()
    assert json.loads((DEVICE / "package.json").read_text())["version"] == release.project_version()


def test_a_mismatched_device_version_is_one_error(tmp_path, monkeypatch):
    (tmp_path / "package.json").write_text(json.dumps({"urls": [], "version": "9.9.9"}))
    monkeypatch.setattr(release, "DEVICE", tmp_path)
    with pytest.raises(UserError, match=r"package\.json: version: '9\.9\.9', but pyproject\.toml says"):
        release.check_device_version()


def test_changelog_has_an_unreleased_section_and_the_current_version():
    text = (REPO / "CHANGELOG.md").read_text()
    assert re.search(r"^## \[Unreleased\]", text, re.M)
    assert re.search(rf"^## \[{re.escape(release.project_version())}\]", text, re.M)


def test_refuses_to_empty_the_repository():
    with pytest.raises(UserError, match="refusing to empty"):
        release.release(REPO)


@pytest.mark.slow
def test_release_writes_every_artifact_with_verifying_checksums(tmp_path):
    for arch in release.RELEASE_ARCHES:  # what `make dist` gets from `make mpy`
        mpy.compile_arch(arch, BUILD / "mpy")
    out = tmp_path / "dist"
    files = release.release(out)
    v = release.project_version()
    names = sorted(p.name for p in files)
    assert names == sorted([f"tinypolicy-{v}-{a}.zip" for a in release.RELEASE_ARCHES]
                           + ["package.json", f"tinypolicy-{v}.tar.gz", f"tinypolicy-{v}-py3-none-any.whl"])
    sums = dict(reversed(line.split("  ")) for line in (out / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == names
    for name, digest in sums.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    with zipfile.ZipFile(out / f"tinypolicy-{v}-armv6m.zip") as z:
        inside = z.namelist()
    assert f"tinypolicy-{v}-armv6m/tinypolicy/policy.mpy" in inside
    assert f"tinypolicy-{v}-armv6m/models/policy_int8.bin" in inside
    with zipfile.ZipFile(out / f"tinypolicy-{v}-py3-none-any.whl") as z:
        assert "tinypolicy_host/cli/__init__.py" in z.namelist()
    with tarfile.open(out / f"tinypolicy-{v}.tar.gz") as t:
        assert f"tinypolicy-{v}/pyproject.toml" in t.getnames()
    manifest = json.loads((out / "package.json").read_text())
    assert all((out / dst).is_file() for dst, _ in manifest["urls"])  # mip install from the release folder works
