# device + host: a tiny version-2 blob packer for the device tests (plain Python: runs on MicroPython and CPython).
"""Test helper only, not the contract's writer (that is the host's contract/blob.py). `pack(...)` lays out the
header, the four tables, the per-layer sections (each padded to 4) and the CRC exactly as models/README.md
(version 2) says; `random_net(...)` builds valid random nets of any shape for the kernel and loader tests;
`offsets` / `recrc` help edit fields.

inputs:   [(kind, frac, offset, scale, lo, hi)]          kind 0 affine, 1 angle
features: [(qoff, qlo, qhi, fmult, fshift)]              one per feature (an angle input has two: cos, sin)
layers:   [(n_in, n_out, act, pshift, lo, hi, W, b, mult, shift)]  W flat, row-major by output
outputs:  [(frac, oshift, scale, offset, lo, hi, omult, ooff, qlo, qhi)]
"""
import struct

try:
    from binascii import crc32
except ImportError:  # CPython
    from zlib import crc32

DTYPES = ("f32", "int8", "q15")
A16 = 1
ARGMAX = 2


def _pad(b):
    return b + bytes(-len(b) % 4)


def pack(dtype, inputs, features, layers, outputs, flags=0):
    dcode = DTYPES.index(dtype)
    parts = [b""]
    for e in inputs:
        parts.append(struct.pack("<BB2xffff", *e))
    for e in features:
        parts.append(struct.pack("<iiiiB3x", *e))
    for e in layers:
        parts.append(struct.pack("<HHBB2xii", *e[:6]))
    for e in outputs:
        parts.append(struct.pack("<BB2xffffiiii", *e))
    wfmt = "<%d" + "fbh"[dcode]
    for e in layers:
        w, b = e[6], e[7]
        parts.append(_pad(w if isinstance(w, (bytes, bytearray)) else struct.pack(wfmt % len(w), *w)))  # int8: raw
        parts.append(struct.pack(("<%df" if dcode == 0 else "<%di") % len(b), *b))
        if dcode:
            parts.append(struct.pack("<%di" % len(e[8]), *e[8]) + _pad(bytes(e[9])))
    total = 16 + sum(len(x) for x in parts) + 4
    parts[0] = struct.pack("<4sHBBBBBBI", b"TPOL", 2, dcode, flags, len(layers), len(inputs), len(features),
                           len(outputs), total)
    data = bytearray(b"".join(parts))
    parts = None
    return data + struct.pack("<I", crc32(data) & 0xFFFFFFFF)


class Lcg:
    """Deterministic pseudo-random ints, the same on every port."""

    def __init__(self, seed):
        self.s = seed & 0x7FFFFFFF

    def next(self, lo, hi):
        """An int in lo..hi (inclusive)."""
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return lo + (self.s >> 4) % (hi - lo + 1)


def _bits(n):
    b = 0
    while n >> b:
        b += 1
    return b


def random_net(dtype, kinds, widths, acts, a16=False, argmax=False, seed=1, out_frac=10):
    """A valid random version-2 blob (bytes): inputs of `kinds` (0 affine Q`8+i%5`, 1 angle Q12), dense layers of
    `widths` (the last one: n_outputs, or the classes of an argmax head) with activation codes `acts`, int8 (W8A8 or
    W8A16) or q15. Every requant is sized from the loader's own int32 bound so the blob passes all checks while the
    activations span their range; the output stage (omult, oshift, ooff) is non-trivial."""
    r = Lcg(seed)
    quant = dtype != "f32"
    a16 = a16 or dtype == "q15"
    amax = 32767 if a16 else 127
    inputs, features = [], []
    for i in range(len(kinds)):
        if kinds[i]:
            inputs.append((1, 12, 0.0, 0.0, 0.0, 0.0))
            for _ in range(2):
                features.append((0, 0, 0, amax * 4 if quant else 0, 2 if quant else 0))
        else:
            frac = 8 + i % 5
            inputs.append((0, frac, 0.25 * i, 0.5, -4.0 - i, 4.0 + i))
            q = (4 + i) << frac
            qoff = r.next(-q // 4, q // 4)
            fm = amax * 65536 // (2 * q)
            features.append((qoff, -q, q, fm, 16) if quant else (0, 0, 0, 0, 0))
    layers = []
    xmax = amax + 1
    n_in = len(features)
    for k in range(len(widths)):
        n_out, act = widths[k], acts[k]
        last = k == len(widths) - 1
        if dtype == "f32":
            w = [r.next(-1000, 1000) / 1000.0 for _ in range(n_in * n_out)]
            b = [r.next(-100, 100) / 100.0 for _ in range(n_out)]
            layers.append((n_in, n_out, act, 0, 0, 0, w, b, (), b""))
            n_in = n_out
            continue
        wmax = 127 if dtype == "int8" else 32767
        p = 0 if dtype == "int8" else max(0, _bits(n_in) + 1)
        if dtype == "int8":  # raw bytes: a 256x256 layer as a list would not fit a board-sized heap
            w = bytearray(n_in * n_out)
            for i in range(n_in * n_out):
                w[i] = r.next(-wmax, wmax) & 0xFF
        else:
            w = [r.next(-wmax, wmax) for _ in range(n_in * n_out)]
        b = [r.next(-2000, 2000) for _ in range(n_out)]
        if act in (2, 4):
            lo, hi, target = -16384, 16384, 14
        elif act == 1:
            lo, hi, target = 0, amax, 8 if not a16 else 15
        elif last:
            lo, hi, target = -(1 << 20), 1 << 20, 18
        else:
            lo, hi, target = -amax, amax, 7 if not a16 else 15
        mult, shift = [], []
        for j in range(n_out):
            acc = abs(b[j])
            for i in range(n_in):
                v = w[j * n_in + i]
                if dtype == "int8" and v > 127:
                    v -= 256
                acc += (abs(v) * xmax + (1 << p) - 1) >> p
            m = max(1, min(1 << 15, (1 << 30) // acc))
            mult.append(m if j % 3 else -m if act != 1 else m)
            shift.append(max(0, min(31, _bits(acc * m) - target)))
        layers.append((n_in, n_out, act, p, lo, hi, w, b, mult, bytes(shift)))
        if act == 2:
            xmax = 32767 if a16 else 127
        elif act == 4:
            xmax = 32767 if a16 else 256
        else:
            xmax = max(abs(lo), abs(hi))
        n_in = n_out
    outputs = []
    if argmax:
        outputs.append((0, 0, 1.0, 0.0, 0.0, widths[-1] - 1.0, 1, 0, 0, widths[-1] - 1))
    else:
        for j in range(widths[-1]):
            frac = out_frac + j % 3
            lim = 1000.0
            q = int(lim * (1 << frac))
            if quant:
                outputs.append((frac, 1 + j % 4, 1.0, 0.0, -lim, lim, 1 + j % 3, r.next(-100, 100), -q, q))
            else:
                outputs.append((frac, 0, 2.0, 0.5, -lim, lim, 0, 0, -q, q))
    return pack(dtype, inputs, features, layers, outputs, (A16 if a16 and dtype == "int8" else 0) |
                (ARGMAX if argmax else 0))


def recrc(data):
    """data (bytearray) with its CRC32 recomputed after an edit."""
    struct.pack_into("<I", data, len(data) - 4, crc32(bytes(data[:len(data) - 4])) & 0xFFFFFFFF)
    return data


def offsets(data):
    """Byte offsets of a version-2 blob: inputs, features, layers, outputs, sections, and per layer (w_off,
    b_off, mult_off, shift_off)."""
    dcode, _fl, n_layers, n_inputs, n_features, n_outputs = struct.unpack_from("<BBBBBB", data, 6)
    o = {"inputs": 16, "features": 16 + 20 * n_inputs}
    o["layers"] = o["features"] + 20 * n_features
    o["outputs"] = o["layers"] + 16 * n_layers
    pos = o["sections"] = o["outputs"] + 36 * n_outputs
    sec = []
    for k in range(n_layers):
        n_in, n_out = struct.unpack_from("<HH", data, o["layers"] + 16 * k)
        w = pos
        pos += (n_in * n_out * (4, 1, 2)[dcode] + 3) & ~3
        b = pos
        pos += 4 * n_out
        sec.append((w, b, pos, pos + 4 * n_out))
        if dcode:
            pos += 4 * n_out + ((n_out + 3) & ~3)
    o["sec"] = sec
    return o
