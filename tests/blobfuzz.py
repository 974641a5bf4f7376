"""Blob-mutation fuzzing (issue 11): mutated valid blobs through the host reader and the device loader.

Mutations (hypothesis strategies): bit flips, edits of one header/table field to an interesting value, edits of
the weight/bias/requant sections, truncations and extensions; the CRC is recomputed in most cases so the checks
behind it are reached. Field offsets come from one table per blob version (`LAYOUTS`, picked by the blob's version
field): v1, and v2 as /work/coord/V2_FORMAT.md specifies it (header, then input, feature, layer and output tables);
nothing else here depends on the byte layout.

The device side runs in few processes: `run_device` writes the corpus to a folder and one MicroPython process
(tests/mp_blob_check.py) loads every blob, then runs each accepted one on in-range and extreme inputs (viper and
portable kernels) and checks every output against the range the blob declares.
"""
import binascii
import math
import os
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from tinypolicy_host.contract.blob import BlobError, decode_blob
from tinypolicy_host.paths import MODELS, REPO, device_path, micropython_binary

GOLDEN = REPO / "tests" / "data" / "golden"
BASE_BLOBS = sorted([*MODELS.glob("policy_*.bin"), *GOLDEN.glob("*/policy_*.bin")])
CHECKER = Path(__file__).with_name("mp_blob_check.py")


@dataclass(frozen=True)
class Field:
    name: str
    offset: int  # within its header or record
    fmt: str  # struct format character


@dataclass(frozen=True)
class Table:
    name: str
    count: str  # header field holding the number of records
    size: int  # bytes per record
    fields: tuple


@dataclass(frozen=True)
class Layout:
    version: int
    header_size: int
    header: tuple
    tables: tuple  # in file order, right after the header
    total_size: str  # header field with the file length
    crc_size: int = 4


LAYOUTS = {
    1: Layout(1, 24, (Field("magic", 0, "4s"), Field("version", 4, "H"), Field("dtype", 6, "B"),
                      Field("n_layers", 7, "B"), Field("n_inputs", 8, "B"), Field("n_features", 9, "B"),
                      Field("n_outputs", 10, "B"), Field("reserved", 11, "B"), Field("total_size", 12, "I"),
                      Field("vel_scale", 16, "f"), Field("max_torque", 20, "f")),
              (Table("feature", "n_features", 8, (Field("fmult", 0, "i"), Field("fshift", 4, "B"))),
               Table("layer", "n_layers", 16, (Field("n_in", 0, "H"), Field("n_out", 2, "H"),
                                               Field("activation", 4, "B"), Field("pshift", 5, "B"),
                                               Field("lo", 8, "i"), Field("hi", 12, "i")))),
              "total_size"),
    # /work/coord/V2_FORMAT.md, transcribed; used for any blob whose version field says 2.
    2: Layout(2, 16, (Field("magic", 0, "4s"), Field("version", 4, "H"), Field("dtype", 6, "B"), Field("flags", 7, "B"),
                      Field("n_layers", 8, "B"), Field("n_inputs", 9, "B"), Field("n_features", 10, "B"),
                      Field("n_outputs", 11, "B"), Field("total_size", 12, "I")),
              (Table("input", "n_inputs", 20, (Field("kind", 0, "B"), Field("frac", 1, "B"), Field("offset", 4, "f"),
                                               Field("scale", 8, "f"), Field("lo", 12, "f"), Field("hi", 16, "f"))),
               Table("feature", "n_features", 20, (Field("qoff", 0, "i"), Field("qlo", 4, "i"), Field("qhi", 8, "i"),
                                                   Field("fmult", 12, "i"), Field("fshift", 16, "B"))),
               Table("layer", "n_layers", 16, (Field("n_in", 0, "H"), Field("n_out", 2, "H"),
                                               Field("activation", 4, "B"), Field("pshift", 5, "B"),
                                               Field("lo", 8, "i"), Field("hi", 12, "i"))),
               Table("output", "n_outputs", 36, (Field("frac", 0, "B"), Field("oshift", 1, "B"),
                                                 Field("scale", 4, "f"), Field("offset", 8, "f"), Field("lo", 12, "f"),
                                                 Field("hi", 16, "f"), Field("omult", 20, "i"), Field("ooff", 24, "i"),
                                                 Field("qlo", 28, "i"), Field("qhi", 32, "i")))),
              "total_size"),
}

INTERESTING = {
    "B": [0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 128, 255],
    "H": [0, 1, 2, 3, 4, 15, 16, 63, 64, 65, 255, 256, 1000, 32767, 65535],
    "i": [0, 1, -1, 2, 4096, 8192, -8192, 16384, -16384, 32767, 32768, -32768, -32769, 1 << 20, 1 << 24,
          409600, -409600, 2**31 - 1, -2**31],
    "I": [0, 1, 16, 24, 100, 1000, 65535, 65536, 2**32 - 1],
    "f": [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 100.0, 1e6, 600000.0, 1e30, -1e30, 3e38, 1e-45, math.nan, math.inf,
          -math.inf],
    "4s": [b"TPOL", b"TPOm", b"LOPT", b"\0\0\0\0"],
}


def layout_of(data: bytes) -> Layout:
    version = struct.unpack_from("<H", data, 4)[0] if len(data) >= 6 else 1
    return LAYOUTS.get(version, LAYOUTS[1])


def slots(data: bytes) -> list[tuple[str, int, str]]:
    """(name, absolute offset, fmt) of every header and table field of this blob (tables as its header says)."""
    lay = layout_of(data)
    out = [(f.name, f.offset, f.fmt) for f in lay.header]
    head = {f.name: f for f in lay.header}
    pos = lay.header_size
    for t in lay.tables:
        count = struct.unpack_from("<" + head[t.count].fmt, data, head[t.count].offset)[0]
        for r in range(count):
            out += [(f"{t.name} {r} {f.name}", pos + r * t.size + f.offset, f.fmt) for f in t.fields]
        pos += t.size * count
    return [s for s in out if s[1] + struct.calcsize("<" + s[2]) <= len(data)]


def sections_start(data: bytes) -> int:
    lay = layout_of(data)
    head = {f.name: f for f in lay.header}
    return lay.header_size + sum(t.size * struct.unpack_from("<" + head[t.count].fmt, data, head[t.count].offset)[0]
                                 for t in lay.tables)


def fix_crc(data: bytearray) -> bytearray:
    if len(data) >= 4:
        struct.pack_into("<I", data, len(data) - 4, binascii.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    return data


def set_total_size(data: bytearray) -> bytearray:
    lay = layout_of(bytes(data))
    f = next(f for f in lay.header if f.name == lay.total_size)
    if len(data) >= f.offset + 4:
        struct.pack_into("<" + f.fmt, data, f.offset, len(data))
    return data


@dataclass
class Mutant:
    base: str
    what: str
    data: bytes = field(repr=False)


@st.composite
def mutants(draw) -> Mutant:
    base = draw(st.sampled_from(BASE_BLOBS))
    data = bytearray(base.read_bytes())
    kind = draw(st.sampled_from(["bitflip", "field", "field", "field", "fields", "section", "truncate", "extend"]))
    crc = draw(st.sampled_from([True, True, True, False]))
    if kind == "bitflip":
        bits = draw(st.lists(st.integers(0, 8 * len(data) - 1), min_size=1, max_size=3))
        for b in bits:
            data[b // 8] ^= 1 << (b % 8)
        what = f"bitflip {bits}"
    elif kind in ("field", "fields"):
        edits = []
        for _ in range(1 if kind == "field" else draw(st.integers(2, 4))):
            name, off, fmt = draw(st.sampled_from(slots(bytes(data))))
            value = draw(st.one_of(st.sampled_from(INTERESTING[fmt]), _any(fmt)))
            struct.pack_into("<" + fmt, data, off, value)
            edits.append(f"{name}={value!r}")
        what = "field " + ", ".join(edits)
    elif kind == "section":
        start = sections_start(bytes(data))
        end = len(data) - 4
        if end - start < 4:
            return Mutant(base.name, "section (none)", bytes(fix_crc(data)))
        off = draw(st.integers(start, end - 4))
        fmt = draw(st.sampled_from(["b", "h", "i", "f", "B"]))
        value = draw(st.sampled_from({"b": [-128, 127, 0, -1], "h": [-32768, 32767, 0], "i": [2**31 - 1, -2**31, 0],
                                      "f": [math.nan, math.inf, -math.inf, 1e30, 0.0], "B": [31, 32, 255, 0]}[fmt]))
        struct.pack_into("<" + fmt, data, off, value)
        what = f"section @{off} {fmt}={value!r}"
    elif kind == "truncate":
        n = draw(st.integers(0, len(data) - 1))
        data = data[:n]
        if draw(st.booleans()):
            set_total_size(data)
        what = f"truncate to {n}"
    else:
        extra = draw(st.binary(min_size=1, max_size=64))
        data += extra
        if draw(st.booleans()):
            set_total_size(data)
        what = f"extend by {len(extra)}"
    if crc:
        fix_crc(data)
    return Mutant(base.name, what + ("" if crc else " (stale crc)"), bytes(data))


def _any(fmt):
    if fmt == "f":
        return st.floats(width=32, allow_nan=True, allow_infinity=True)
    if fmt == "4s":
        return st.binary(min_size=4, max_size=4)
    bits = struct.calcsize("<" + fmt) * 8
    signed = fmt.islower()
    return st.integers(-(1 << (bits - 1)) if signed else 0, (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1)


def host_verdict(data: bytes) -> tuple[str, str]:
    """('accept', '') / ('reject', message) / ('crash', exception) for the host reader."""
    try:
        decode_blob(data, "fuzz.bin")
    except BlobError as exc:
        return "reject", str(exc)
    except Exception as exc:  # noqa: BLE001 - that is what we count
        return "crash", repr(exc)
    return "accept", ""


@dataclass
class DeviceResult:
    verdict: str  # accept | reject | memory | crash
    text: str = ""
    outputs: int = 0  # outputs of infer_q / infer checked on an accepted blob
    nan: int = 0  # NaN outputs of infer()
    outside: int = 0  # outputs outside the range the blob declares (argmax: an index outside 0..classes-1)
    run_errors: str = ""  # first unexpected exception / bad output running an accepted blob (a non-finite input's
    # ValueError naming that input is expected)


def run_device(blobs: list[bytes], work: Path, per_process: int = 2500, heapsize: str = "512K",
               timeout: float = 900) -> list[DeviceResult]:
    """Each blob through the device loader (and, when accepted, the runtime) on the unix port."""
    work.mkdir(parents=True, exist_ok=True)
    results: list[DeviceResult] = []
    for start in range(0, len(blobs), per_process):
        chunk = blobs[start:start + per_process]
        folder = work / f"chunk{start // per_process}"
        folder.mkdir(exist_ok=True)
        for i, data in enumerate(chunk):
            (folder / f"{i}.bin").write_bytes(data)
        env = dict(os.environ, MICROPYPATH=f"{device_path('src')}:.frozen")
        proc = subprocess.run([micropython_binary(), "-X", f"heapsize={heapsize}", str(CHECKER), str(folder),
                               str(len(chunk))], capture_output=True, text=True, timeout=timeout, env=env)
        got = _parse_device(proc.stdout, len(chunk))
        if len(got) != len(chunk):
            raise RuntimeError(f"device checker stopped after {len(got)} of {len(chunk)} blobs:\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        results += got
    return results


def _parse_device(stdout: str, n: int) -> list[DeviceResult]:
    out: list[DeviceResult] = []
    for line in stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        tag, rest = parts[1], parts[2] if len(parts) > 2 else ""
        if tag == "A":
            n_out, nan, outside, *err = rest.split(" ", 3)
            out.append(DeviceResult("accept", "", int(n_out), int(nan), int(outside), err[0] if err else ""))
        else:
            out.append(DeviceResult({"R": "reject", "M": "memory", "X": "crash"}[tag], rest))
    return out[:n]


def corpus(strategy, n: int, seed: int | None = 0) -> list:
    """n examples of a strategy, drawn by hypothesis (generation only: the checks run on the whole corpus at once,
    because the device side runs in few processes). seed None: a fresh random corpus."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    out: list = []

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x):
        out.append(x)

    if seed is not None:
        collect = hseed(seed)(collect)
    collect()
    return out
