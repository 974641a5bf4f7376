"""Deploy the application to a board (or the virtual board) with mpremote: staged, verified, switched atomically.

The board's filesystem (paths relative to its root, `/` on a board):

    boot.py               device/boot.py: at every reset, makes the current version's folder the working directory
    tp/current            the current version's name: 16 hex digits of the sha256 of its file names and contents
    tp/<version>/         main.py (device/main.py), config.json (device/config.json or --config), board.py
                          (boards/<board>/board.py), tinypolicy/ and tinypolicy_app/ (build/mpy/<arch>/*.mpy, or
                          the .py sources with --src), models/ (the blob config.json names, then every other
                          shipped models/policy_*.bin)

An update is atomic as a whole:
  1. stage: the new version's folder is filled; files the current version already has are copied on the board
     (nothing sent), the rest over the link. A folder left by an interrupted flash of the same version is reused
     (only files whose hash differs are written again). Nothing the board boots from is touched.
  2. verify: every staged file is hashed on the board (sha256; crc32 where a firmware lacks hashlib.sha256) in one
     round trip and compared with the local hash.
  3. boot.py, only if it differs: written to boot.py.new, verified, renamed over boot.py (it boots whatever version
     tp/current names, old or new).
  4. switch: tp/current.new is written and verified, then renamed over tp/current: one small write. On FAT, where
     rename does not replace, the old pointer is removed first and boot.py reads tp/current.new meanwhile.
  5. clean up: other version folders, and the files of the flat layout older flashes left at the root.
A kill or a lost cable at any point leaves the old version (before step 4) or the new one (after it) bootable; the
next flash completes the work. `on_step` (tests) is called after every change on the board's filesystem.

File work uses mpremote's transport API (`fs_listdir`, `fs_mkdir`, `fs_writefile`, `fs_rmfile`, `fs_rmdir`,
`fs_stat`). DEVICE_HELPERS adds only what it lacks:
- `_tp_hashes(paths)`: the hashes of many files in one round trip, None for a missing one (`fs_hashfile` costs two
  round trips per file and raises for a missing file), with the crc32 fallback.
- `_tp_replace(tmp, dst)`: write-then-rename (mpremote has no rename), with the FAT fallback.
- `_tp_copy(src, dst)`: a copy on the board, so unchanged files are staged without sending them again.
- `_tp_root()`: leave the version folder boot.py entered (the cwd of a raw-REPL session after a reset).
"""
import hashlib
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..paths import BOARDS, BUILD, DEVICE, REPO
from . import serialio
from .devconfig import check_config
from .mpy import PACKAGES, package_sources

VERSIONS = "tp"  # folder of the version folders and the pointer
POINTER = VERSIONS + "/current"
BOOT = "boot.py"
FLAT_LAYOUT = ("main.py", "config.json", "board.py", *PACKAGES, "models")  # what flashes before versions wrote

# Defined on the device once per connection. Plain MicroPython.
DEVICE_HELPERS = """\
import os, binascii
try:
    from hashlib import sha256 as _tp_H
    _tp_ALG = 'sha256'
except ImportError:
    _tp_H = None
    _tp_ALG = 'crc32'
def _tp_hash(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    b = bytearray(512)
    m = memoryview(b)
    h = _tp_H() if _tp_H else None
    c = 0
    while True:
        n = f.readinto(b)
        if not n:
            break
        if h:
            h.update(m[:n])
        else:
            c = binascii.crc32(m[:n], c)
    f.close()
    return binascii.hexlify(h.digest()).decode() if h else '%08x' % (c & 0xffffffff)
def _tp_hashes(ps):
    return [_tp_hash(p) for p in ps]
def _tp_replace(tmp, dst):
    try:
        os.rename(tmp, dst)
    except OSError:
        os.remove(dst)  # FAT: rename does not replace an existing file (littlefs and unix do)
        os.rename(tmp, dst)
def _tp_copy(src, dst):
    b = bytearray(512)
    with open(src, 'rb') as f, open(dst, 'wb') as g:
        while True:
            n = f.readinto(b)
            if not n:
                break
            g.write(memoryview(b)[:n])
def _tp_root():
    d = os.getcwd()
    i = d.rfind('/tp/')
    if i >= 0 and '/' not in d[i + 4:]:
        os.chdir(d[:i] or '/')
"""


@dataclass
class Item:
    local: Path
    remote: str  # path inside the version folder

    def data(self) -> bytes:
        return self.local.read_bytes()


def local_hash(data: bytes, alg: str) -> str:
    if alg == "sha256":
        return hashlib.sha256(data).hexdigest()
    return "%08x" % (zlib.crc32(data) & 0xFFFFFFFF)


def version_of(items: list[Item], datas: list[bytes]) -> str:
    """16 hex digits naming a version: its file names and contents (the same files give the same name)."""
    h = hashlib.sha256()
    for it, data in sorted(zip(items, datas, strict=True), key=lambda p: p[0].remote):
        h.update(f"{it.remote}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return h.hexdigest()[:16]


def board_arch(board: str) -> str:
    if board not in serialio.BOARD_ARCH:
        raise UserError(f"--board {board}: unknown board; known: {', '.join(serialio.BOARD_ARCH)}")
    if not (BOARDS / board).is_dir():
        raise UserError(f"--board {board}: boards/{board}/ is missing")
    return serialio.BOARD_ARCH[board]


def package_items(arch: str, src: bool) -> list[Item]:
    sources = package_sources(DEVICE, arch)
    if not sources:
        raise UserError(f"{DEVICE}: no device package sources found ({', '.join(PACKAGES)})")
    if src:
        return [Item(p, p.relative_to(DEVICE).as_posix()) for p in sources]
    root = BUILD / "mpy" / arch
    items = []
    for p in sources:
        mpy = root / p.relative_to(DEVICE).with_suffix(".mpy")
        if not mpy.exists():
            raise UserError(f"{mpy.relative_to(REPO)}: missing .mpy build for {arch}: run `make mpy` "
                            "(or flash the sources with --src / SRC=1)")
        if mpy.stat().st_mtime < p.stat().st_mtime:
            raise UserError(f"{mpy.relative_to(REPO)}: older than {p.relative_to(REPO)}: run `make mpy`")
        items.append(Item(mpy, mpy.relative_to(root).as_posix()))
    return items


def data_paths(config: dict, config_path: Path) -> list[str]:
    """Relative paths of the data files the app reads as configured: the model blob ("model"; "" means
    models/policy_<dtype>.bin, int8 for dtype auto) and, for sensor "replay", the replay input."""
    model = config.get("model", "")
    if not model:
        dtype = config.get("dtype", "auto")
        model = f"models/policy_{'int8' if dtype == 'auto' else dtype}.bin"
    found = [model]
    if config.get("sensor") == "replay":
        found.append(config.get("replay_input") or "data/inputs.csv")
    for rel in found:
        if rel.startswith("/") or ".." in rel.split("/"):
            raise UserError(f"{config_path}: {rel!r} must be a path relative to the board's cwd, "
                            "like 'models/policy_int8.bin'")
    return found


def plan(board: str, src: bool, config_path: Path) -> tuple[list[Item], Item]:
    """(the files of a version, boot.py). The config is checked with the device's own rule first."""
    arch = board_arch(board)
    items = package_items(arch, src)
    config = check_config(config_path)
    wanted = data_paths(config, config_path)
    for rel in wanted:
        local = REPO / rel
        if not local.is_file():
            raise UserError(f"{config_path}: {rel} not found in the repository (the model: `make train`; "
                            "or fix the path)")
        items.append(Item(local, rel))
    # The other shipped blobs too (a few hundred bytes each): switching "dtype"/"model" in config.json, or
    # device/bench/device_bench.py comparing f32/int8/q15, then needs no reflash.
    for local in sorted((REPO / "models").glob("policy_*.bin")):
        rel = local.relative_to(REPO).as_posix()
        if rel not in wanted:
            items.append(Item(local, rel))
    board_py, main_py, boot_py = BOARDS / board / "board.py", DEVICE / "main.py", DEVICE / BOOT
    for p in (board_py, main_py, boot_py):
        if not p.is_file():
            raise UserError(f"{p.relative_to(REPO)}: missing")
    items += [Item(config_path, "config.json"), Item(board_py, "board.py"), Item(main_py, "main.py")]
    return items, Item(boot_py, BOOT)


class Device:
    """File operations on the board over an mpremote transport in the raw REPL, relative to the board's root
    (`at_root=False`: relative to the session's cwd, the current version's folder after a reset)."""

    def __init__(self, transport, on_step=None, at_root=True):
        self.t = transport
        self.on_step = on_step or (lambda what: None)
        self._dirs: set[str] = set()  # folders known to exist
        self._exec(DEVICE_HELPERS + ("_tp_root()\n" if at_root else ""))
        self.alg = self._eval("_tp_ALG")

    def _call(self, fn, *args):
        from mpremote.transport import TransportError

        try:
            return fn(*args)
        except TransportError as exc:
            output = getattr(exc, "error_output", "") or str(exc)
            last = output.strip().splitlines()[-1] if output.strip() else type(exc).__name__
            raise UserError(f"device error: {last}") from None
        except OSError as exc:  # an fs_* error (errno, path); serial.SerialException (no errno): unplugged
            if exc.errno:
                raise UserError(f"device error: {exc}") from None
            raise UserError(f"--port {self.t.device_name}: lost the connection to the board ({exc}); the board "
                            "keeps the version it had (or the new one, if the switch was made): flash again") from None

    def _exec(self, code: str) -> bytes:
        return self._call(self.t.exec, code)

    def _eval(self, expr: str):
        import ast

        return ast.literal_eval(self._exec(f"print(repr({expr}))").decode().strip())

    def hashes(self, paths: list[str]) -> list[str | None]:
        return self._eval(f"_tp_hashes({paths!r})")

    def listdir(self, folder: str) -> list[tuple[str, bool]]:
        """(name, is a folder) of the entries of `folder` ('' = root); [] when it does not exist."""
        from mpremote.transport import TransportError

        try:
            return [(e.name, bool(e.st_mode & 0x4000)) for e in self.t.fs_listdir(folder)]
        except (OSError, TransportError):
            return []

    def mkdirs(self, path: str) -> None:
        """The folders above `path` (mpremote's fs_mkdir makes one)."""
        parts = path.split("/")[:-1]
        for k in range(1, len(parts) + 1):
            folder = "/".join(parts[:k])
            if folder in self._dirs:
                continue
            if (parts[k - 1], True) not in self.listdir("/".join(parts[:k - 1])):
                self._call(self.t.fs_mkdir, folder)
                self.on_step(f"mkdir {folder}")
            self._dirs.add(folder)

    def write(self, path: str, data: bytes) -> None:
        self.mkdirs(path)
        self._call(self.t.fs_writefile, path, data)
        self.on_step(f"write {path}")

    def copy(self, src: str, dst: str) -> None:
        self.mkdirs(dst)
        self._exec(f"_tp_copy({src!r}, {dst!r})")
        self.on_step(f"copy {src} -> {dst}")

    def replace(self, path: str, data: bytes) -> None:
        """Write-then-rename: `path` is the old file or the new one, never a torn one."""
        tmp = path + ".new"
        self.write(tmp, data)
        got, want = self.hashes([tmp])[0], local_hash(data, self.alg)
        if got != want:
            self.remove(tmp)
            raise UserError(f"{path}: verification failed: device {self.alg} {got} != local {want}; "
                            "the previous version is still in place")
        self._exec(f"_tp_replace({tmp!r}, {path!r})")
        self.on_step(f"rename {tmp} -> {path}")

    def sync(self, items: list[Item], out=sys.stdout) -> tuple[list[str], list[str], int]:
        """Replace (write, verify, rename) each item whose hash on the board differs: (copied, unchanged, bytes)."""
        datas = [it.data() for it in items]
        remote = self.hashes([it.remote for it in items])
        copied, unchanged, nbytes = [], [], 0
        for it, data, have in zip(items, datas, remote, strict=True):
            if have == local_hash(data, self.alg):
                unchanged.append(it.remote)
                continue
            self.replace(it.remote, data)
            copied.append(it.remote)
            nbytes += len(data)
            print(f"  + {it.remote:32s} {len(data):6d} B  copied, verified on device", file=out)
        return copied, unchanged, nbytes

    def remove(self, path: str) -> None:
        self._call(self.t.fs_rmfile, path)
        self.on_step(f"remove {path}")

    def remove_tree(self, path: str, is_dir: bool) -> None:
        if is_dir:
            for name, sub in self.listdir(path):
                self.remove_tree(f"{path}/{name}", sub)
            self._call(self.t.fs_rmdir, path)
            self._dirs.discard(path)
            self.on_step(f"rmdir {path}")
        else:
            self.remove(path)

    def read_pointer(self) -> str | None:
        names = [n for n, is_dir in self.listdir(VERSIONS) if not is_dir]
        for name in ("current", "current.new"):
            if name in names:
                text = self._eval(f"open({VERSIONS + '/' + name!r}).read(40).strip()")
                if text:
                    return text
        return None


def stage(dev: Device, items: list[Item], datas: list[bytes], local: list[str], version: str, current: str | None,
          force: bool, out) -> tuple[list[str], list[str], int]:
    """Fill tp/<version>/ (see the module docstring, step 1). Returns (sent, unchanged, bytes sent)."""
    folder = f"{VERSIONS}/{version}"
    staged = dev.hashes([f"{folder}/{it.remote}" for it in items])
    old = dev.hashes([f"{VERSIONS}/{current}/{it.remote}" for it in items]) if current and current != version \
        else [None] * len(items)
    sent, unchanged, nbytes = [], [], 0
    for it, data, want, have, before in zip(items, datas, local, staged, old, strict=True):
        dst = f"{folder}/{it.remote}"
        if have == want and not force:
            unchanged.append(it.remote)
            print(f"  = {it.remote:32s} {len(data):6d} B  unchanged ({dev.alg} matches)", file=out)
            continue
        t1 = time.monotonic()
        if before == want and not force:
            dev.copy(f"{VERSIONS}/{current}/{it.remote}", dst)
            unchanged.append(it.remote)
            print(f"  = {it.remote:32s} {len(data):6d} B  unchanged (copied on the board from the current version)",
                  file=out)
            continue
        dev.write(dst, data)
        sent.append(it.remote)
        nbytes += len(data)
        print(f"  + {it.remote:32s} {len(data):6d} B  sent ({time.monotonic() - t1:.2f} s)", file=out, flush=True)
    final = dev.hashes([f"{folder}/{it.remote}" for it in items])
    bad = [it.remote for it, h, want in zip(items, final, local, strict=True) if h != want]
    if bad:
        raise UserError(f"verification failed on the board ({dev.alg}): {', '.join(bad)}; the previous version "
                        "is still the one that boots")
    return sent, unchanged, nbytes


def clean_up(dev: Device, version: str, out) -> list[str]:
    """Step 5: other version folders, the old flat layout, and leftovers."""
    removed = []
    for name, is_dir in dev.listdir(VERSIONS):
        if name not in (version, "current"):
            dev.remove_tree(f"{VERSIONS}/{name}", is_dir)
            removed.append(f"{VERSIONS}/{name}")
    for name, is_dir in dev.listdir(""):
        if name in FLAT_LAYOUT or name.endswith(".new") and name[:-4] in (*FLAT_LAYOUT, BOOT):
            dev.remove_tree(name, is_dir)
            removed.append(name)
    for path in removed:
        print(f"  - {path:32s} removed", file=out)
    return removed


def flash(port: str, board: str, src: bool = False, config_path: Path | None = None,
          force: bool = False, reset: bool = True, out=sys.stdout, on_step=None) -> dict:
    """Deploy; returns a summary dict (version, previous, copied, unchanged, removed, verified, alg, bytes,
    seconds). `copied` lists the files sent over the link."""
    items, boot = plan(board, src, config_path or DEVICE / "config.json")
    port = serialio.resolve_port(port)
    t0 = time.monotonic()
    transport = serialio.connect(port)
    try:
        serialio.enter_raw_repl(transport, soft_reset=reset)
        dev = Device(transport, on_step)
        datas = [it.data() for it in items]
        local = [local_hash(d, dev.alg) for d in datas]
        version = version_of(items, datas)
        current = dev.read_pointer()
        kind = "source" if src else f"{serialio.BOARD_ARCH[board]} .mpy"
        print(f"flash: {len(items)} files ({kind}) to {port}, board {board}, version {version} (current: "
              f"{current or 'none'}); device hash {dev.alg}", file=out)
        copied, unchanged, nbytes = stage(dev, items, datas, local, version, current, force, out)
        boot_data = boot.data()
        if dev.hashes([BOOT])[0] != local_hash(boot_data, dev.alg) or force:
            dev.replace(BOOT, boot_data)
            print(f"  + {BOOT:32s} {len(boot_data):6d} B  replaced (write, verify, rename)", file=out)
        if current != version or dev.hashes([POINTER])[0] is None:
            dev.replace(POINTER, version.encode())
            print(f"  > {POINTER:32s} -> {version} (the switch)", file=out)
        removed = clean_up(dev, version, out)
    finally:
        serialio.close(transport)
    seconds = time.monotonic() - t0
    print(f"flash: version {version}: {len(copied)} sent ({nbytes} B), {len(unchanged)} unchanged, {len(removed)} "
          f"removed; all {len(items)} files verified on the device ({dev.alg}) in {seconds:.2f} s", file=out)
    return {"version": version, "previous": current, "copied": copied, "unchanged": unchanged, "removed": removed,
            "verified": [it.remote for it in items], "alg": dev.alg, "bytes": nbytes, "seconds": seconds}
