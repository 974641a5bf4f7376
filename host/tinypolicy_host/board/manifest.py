"""device/manifest.py read on the host: its metadata, its packages and which modules each architecture's .mpy
build leaves out (its ONLY_FOR / NOT_FOR tables: module path relative to device/ -> architectures)."""
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Manifest:
    metadata: dict = field(default_factory=dict)
    packages: list[str] = field(default_factory=list)
    only_for: dict = field(default_factory=dict)
    not_for: dict = field(default_factory=dict)

    def left_out(self, arch: str) -> set[str]:
        """Module paths (relative to device/) the `arch` build does not ship."""
        return ({m for m, arches in self.only_for.items() if arch not in arches}
                | {m for m, arches in self.not_for.items() if arch in arches})


def read(device: Path) -> Manifest:
    """Execute device/manifest.py with the manifest functions it uses; a folder without one: empty Manifest."""
    man = Manifest()
    path = device / "manifest.py"
    if not path.exists():
        return man

    def metadata(**kw):
        man.metadata.update(kw)

    def package(name, files=None, base_path=".", opt=None):
        if files is not None or base_path != ".":
            raise ValueError(f"{path}: package({name!r}): only whole packages under device/ are supported")
        man.packages.append(name)

    scope = {"metadata": metadata, "package": package}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    man.only_for = scope.get("ONLY_FOR", {})
    man.not_for = scope.get("NOT_FOR", {})
    return man
