"""The host package layout (issue 10): library subpackages never import `cli`, no import cycles (function-level
imports included), and the board tools import where `fcntl`, `pty` and `termios` do not exist (Windows)."""
import ast
import subprocess
import sys

import pytest

from tinypolicy_host.paths import REPO

PACKAGE = REPO / "host" / "tinypolicy_host"
# Importable on Windows / macOS: every board tool's command and the library it runs (the virtual board,
# devtools/vboard.py, is a Linux pty relay and is the one module allowed to need those modules).
BOARD_TOOLS = ["tinypolicy_host.cli.flash", "tinypolicy_host.cli.monitor", "tinypolicy_host.cli.devtest",
               "tinypolicy_host.cli.eval", "tinypolicy_host.cli.plot", "tinypolicy_host.cli.dist",
               "tinypolicy_host.board.serialio", "tinypolicy_host.evaluation.device"]
POSIX_ONLY = ("fcntl", "pty", "termios", "tty")


def module_name(path) -> str:
    parts = ["tinypolicy_host", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path) -> set[str]:
    """Modules of this package that `path` imports anywhere (top level or inside a function)."""
    name = module_name(path)
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if not base.startswith("tinypolicy_host"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else base)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tinypolicy_host")}
    return found


GRAPH = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_graph_is_read():
    """The checks below see the real imports (a parser that found nothing would pass them vacuously)."""
    assert len(GRAPH) > 40
    assert "tinypolicy_host.evaluation.gym" in GRAPH["tinypolicy_host.evaluation.device"]
    assert "tinypolicy_host.board.devtest" in GRAPH["tinypolicy_host.cli.devtest"]


def test_library_never_imports_cli():
    bad = {m: sorted(d for d in deps if d == "tinypolicy_host.cli" or d.startswith("tinypolicy_host.cli."))
           for m, deps in GRAPH.items() if not (m == "tinypolicy_host.cli" or m.startswith("tinypolicy_host.cli."))}
    assert not {m: d for m, d in bad.items() if d}, "library modules importing cli/"


def test_no_import_cycles():
    state: dict[str, int] = {}
    cycles = []

    def visit(mod, stack):
        state[mod] = 1
        stack.append(mod)
        for dep in sorted(GRAPH.get(mod, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep in GRAPH and not state.get(dep):
                visit(dep, stack)
        stack.pop()
        state[mod] = 2

    for mod in GRAPH:
        if not state.get(mod):
            visit(mod, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {names!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden: as on Windows)", name=name)
for n in {names!r}:
    sys.modules.pop(n, None)
sys.meta_path.insert(0, Block())
import importlib
for m in sys.argv[1:]:
    importlib.import_module(m)
print("imported", len(sys.argv) - 1)
"""


def _import_without_posix(*modules):
    return subprocess.run([sys.executable, "-c", BLOCKER.format(names=POSIX_ONLY), *modules],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module", BOARD_TOOLS)
def test_board_tools_import_without_posix_terminal_modules(module):
    proc = _import_without_posix(module)
    assert proc.returncode == 0, proc.stderr
    assert "imported 1" in proc.stdout


def test_the_blocker_hides_them():
    """The pty relay does need them: if this imported, the test above would prove nothing."""
    proc = _import_without_posix("tinypolicy_host.devtools.vboard")
    assert proc.returncode != 0
    assert "hidden: as on Windows" in proc.stderr
