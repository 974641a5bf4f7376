"""Kill a flash at file boundaries on the virtual board and check the board still boots (tests and `make fuzz`).

`killed_flashes` restores a snapshot of the board's filesystem, runs `flash.flash` with an `on_step` hook that
raises at step k (the host dies right after a completed file operation on the board), and boots the board's
filesystem in a fresh unix-port interpreter exactly as a board would (`boot.py`, then `import main`)."""
import io
import os
import shutil
import subprocess
from pathlib import Path

from tinypolicy_host.board import flash
from tinypolicy_host.paths import micropython_binary


class Killed(Exception):
    """The simulated kill of the host process."""


def snapshot(fs: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(fs, dst)


def restore(fs: Path, src: Path) -> None:
    """Replace the contents of fs (kept as a folder: the virtual board's interpreter has it as its cwd)."""
    for p in fs.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in src.iterdir():
        shutil.copytree(p, fs / p.name) if p.is_dir() else shutil.copy2(p, fs / p.name)


def boot(fs: Path, timeout: float = 60) -> str:
    """What the board's filesystem runs at power-on: boot.py if present, then `import main` (stdout + stderr)."""
    env = dict(os.environ, MICROPYPATH=":.frozen")
    code = ("exec(open('boot.py').read())\n" if (fs / "boot.py").exists() else "") + "import main"
    proc = subprocess.run([micropython_binary(), "-X", "heapsize=128K", "-c", code], cwd=fs, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.stdout + proc.stderr


def run(port: str, board: str = "unix", on_step=None, **kw) -> dict:
    return flash.flash(port, board, out=io.StringIO(), on_step=on_step, **kw)


def count_steps(port: str, fs: Path, before: Path, **kw) -> list[str]:
    steps: list[str] = []
    restore(fs, before)
    run(port, on_step=steps.append, **kw)
    return steps


def killed_flashes(port: str, fs: Path, before: Path, ks, **kw):
    """For each k: restore `before`, flash with a kill after step k; yields (k, step name, what the board boots)."""
    for k in ks:
        restore(fs, before)
        seen: list[str] = []

        def step(what, k=k, seen=seen):
            seen.append(what)
            if len(seen) > k:
                raise Killed(what)

        try:
            run(port, on_step=step, **kw)
        except Killed:
            pass
        yield k, seen[-1] if seen else "", boot(fs)
