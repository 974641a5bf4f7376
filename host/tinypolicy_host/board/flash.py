"""Deploy the application to a board (or the virtual board) with mpremote, verified and atomic.

What goes where on the board's filesystem (paths relative to the board's cwd, `/` on a board):

    tinypolicy/*.mpy    the runtime and the control app compiled for the board's arch (build/mpy/<arch>/,
    tinypolicy_app/*.mpy  `make mpy`), or their *.py with --src
    models/<blob>.bin   the model blob config.json names ("model": "models/policy_int8.bin"), then every other
                        shipped models/policy_*.bin
    config.json         device/config.json (or --config)
    board.py            boards/<board>/board.py
    main.py             device/main.py (last: the app only starts with everything else in place)

Each file is hashed ON the device first (sha256 where `hashlib.sha256` exists, else `binascii.crc32`) and only
copied when it differs. A copy goes to `<name>.new`, is hashed on the device and compared with the local hash,
then `os.rename`d over the old file, so an interrupted flash leaves every file either old or new, never torn.
Package modules that no longer exist locally are removed first (a stale `.py` would shadow the new `.mpy`).
"""
import base64
import hashlib
import json
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..paths import BOARDS, BUILD, DEVICE, REPO
from . import serialio
from .mpy import PACKAGES, package_sources

CHUNK = 1024  # bytes per raw-REPL write (sent base64-encoded: 1368 bytes of source, ~1 KB of heap to decode)

# Defined on the device once per connection. Plain MicroPython; uses relative paths only.
DEVICE_HELPERS = """\
import os, binascii
from binascii import a2b_base64
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
def _tp_mkdirs(p):
    d = ''
    for part in p.split('/')[:-1]:
        d = d + '/' + part if d else part
        try:
            os.mkdir(d)
        except OSError:
            pass
def _tp_replace(tmp, dst):
    try:
        os.rename(tmp, dst)
    except OSError:
        os.remove(dst)  # FAT: rename does not replace an existing file (littlefs and unix do)
        os.rename(tmp, dst)
def _tp_files(d):
    out = []
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return out
    for e in entries:
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            out.extend(_tp_files(p))
        else:
            out.append(p)
    return out
"""


@dataclass
class Item:
    local: Path
    remote: str  # relative path on the board

    def data(self) -> bytes:
        return self.local.read_bytes()


def local_hash(data: bytes, alg: str) -> str:
    if alg == "sha256":
        return hashlib.sha256(data).hexdigest()
    return "%08x" % (zlib.crc32(data) & 0xFFFFFFFF)


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
    if not isinstance(model, str):
        raise UserError(f"{config_path}: model: expected a path string like \"models/policy_int8.bin\"")
    if not model:
        dtype = config.get("dtype", "auto")
        model = f"models/policy_{'int8' if dtype in ('auto', None) else dtype}.bin"
    found = [model]
    if config.get("sensor") == "replay":
        found.append(config.get("replay_input") or "data/inputs.csv")
    for rel in found:
        if not isinstance(rel, str) or rel.startswith("/") or ".." in rel.split("/"):
            raise UserError(f"{config_path}: {rel!r} must be a path relative to the board's cwd, "
                            "like 'models/policy_int8.bin'")
    return found


def plan(board: str, src: bool, config_path: Path) -> list[Item]:
    arch = board_arch(board)
    items = package_items(arch, src)
    try:
        config = json.loads(config_path.read_text())
    except OSError as exc:
        raise UserError(f"{config_path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{config_path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise UserError(f"{config_path}: expected a JSON object")
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
    board_py = BOARDS / board / "board.py"
    main_py = DEVICE / "main.py"
    for p in (board_py, main_py):
        if not p.is_file():
            raise UserError(f"{p.relative_to(REPO)}: missing")
    items += [Item(config_path, "config.json"), Item(board_py, "board.py"), Item(main_py, "main.py")]
    return items


class Device:
    """Device-side file operations over an mpremote transport in the raw REPL."""

    def __init__(self, transport):
        self.t = transport
        self._exec(DEVICE_HELPERS)
        self.alg = self._eval("_tp_ALG")

    def _exec(self, code: str) -> bytes:
        from mpremote.transport import TransportError, TransportExecError

        try:
            return self.t.exec(code)
        except TransportExecError as exc:
            raise UserError(f"device error: {exc.error_output.strip().splitlines()[-1]}") from None
        except (TransportError, OSError) as exc:  # OSError: serial.SerialException, an unplugged board
            raise UserError(f"--port {self.t.device_name}: lost the connection to the board ({exc}); files "
                            "not yet replaced keep their previous version: flash again") from None

    def _eval(self, expr: str):
        import ast

        return ast.literal_eval(self._exec(f"print(repr({expr}))").decode().strip())

    def hashes(self, paths: list[str]) -> list[str | None]:
        return self._eval(f"[_tp_hash(p) for p in {paths!r}]")

    def files(self, folder: str) -> list[str]:
        return self._eval(f"_tp_files({folder!r})")

    def write_verified(self, item: Item, data: bytes) -> None:
        tmp = item.remote + ".new"
        self._exec(f"_tp_mkdirs({item.remote!r})\nf = open({tmp!r}, 'wb')")
        try:
            for i in range(0, len(data), CHUNK):  # base64: 1.33x on the wire, any bytes
                self._exec(f"f.write(a2b_base64({base64.b64encode(data[i:i + CHUNK])!r}))")
        finally:
            self._exec("f.close()")
        got, want = self.hashes([tmp])[0], local_hash(data, self.alg)
        if got != want:
            self._exec(f"os.remove({tmp!r})")
            raise UserError(f"{item.remote}: verification failed: device {self.alg} {got} != local {want}; "
                            "the previous version is still in place")
        self._exec(f"_tp_replace({tmp!r}, {item.remote!r})")

    def sync(self, items: list[Item], force: bool = False, out=sys.stdout) -> tuple[list[str], list, list, int]:
        """Copy (verified) the items whose hash on the device differs. Returns (local hashes, copied remote
        paths, unchanged remote paths, bytes copied); one line per file to `out`."""
        datas = [it.data() for it in items]
        local = [local_hash(d, self.alg) for d in datas]
        remote = self.hashes([it.remote for it in items])
        copied, unchanged, nbytes = [], [], 0
        for it, data, want, have in zip(items, datas, local, remote, strict=True):
            if have == want and not force:
                unchanged.append(it.remote)
                print(f"  = {it.remote:32s} {len(data):6d} B  unchanged ({self.alg} matches)", file=out)
                continue
            t1 = time.monotonic()
            self.write_verified(it, data)
            copied.append(it.remote)
            nbytes += len(data)
            print(f"  + {it.remote:32s} {len(data):6d} B  copied, verified on device "
                  f"({time.monotonic() - t1:.2f} s)", file=out, flush=True)
        return local, copied, unchanged, nbytes

    def remove(self, path: str) -> None:
        self._exec(f"os.remove({path!r})")


def flash(port: str, board: str, src: bool = False, config_path: Path | None = None,
          force: bool = False, reset: bool = True, out=sys.stdout) -> dict:
    """Deploy; returns a summary dict (copied, unchanged, removed, verified, alg, bytes, seconds)."""
    items = plan(board, src, config_path or DEVICE / "config.json")
    port = serialio.resolve_port(port)
    t0 = time.monotonic()
    transport = serialio.connect(port)
    try:
        serialio.enter_raw_repl(transport, soft_reset=reset)
        dev = Device(transport)
        kind = "source" if src else f"{serialio.BOARD_ARCH[board]} .mpy"
        print(f"flash: {len(items)} files ({kind}) to {port}, board {board}; device hash {dev.alg}", file=out)
        # First remove package modules that are not part of this build (a stale .py would shadow its new .mpy, so
        # this must not wait until after main.py) and leftovers of interrupted flashes; then copy.
        wanted = {it.remote for it in items}
        removed = [p for package in PACKAGES for p in dev.files(package) if p not in wanted]
        leftovers = [it.remote + ".new" for it in items]
        removed += [p for p, h in zip(leftovers, dev.hashes(leftovers), strict=True) if h is not None]
        for path in removed:
            dev.remove(path)
            print(f"  - {path:32s} removed ({'leftover' if path.endswith('.new') else 'not in this build'})",
                  file=out)
        local, copied, unchanged, nbytes = dev.sync(items, force, out)
        # Final check of the whole set, in one round trip.
        final = dev.hashes([it.remote for it in items])
        bad = [it.remote for it, h, want in zip(items, final, local, strict=True) if h != want]
        if bad:
            raise UserError(f"verification failed after flashing: {', '.join(bad)}")
    finally:
        serialio.close(transport)
    seconds = time.monotonic() - t0
    print(f"flash: {len(copied)} copied ({nbytes} B), {len(unchanged)} unchanged, {len(removed)} removed; "
          f"all {len(items)} files verified on the device ({dev.alg}) in {seconds:.2f} s", file=out)
    return {"copied": copied, "unchanged": unchanged, "removed": removed, "verified": [it.remote for it in items],
            "alg": dev.alg, "bytes": nbytes, "seconds": seconds}
