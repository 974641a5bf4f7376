# device + host: a tiny version-2 blob packer for the device tests (plain Python: runs on MicroPython and CPython).
"""Test helper only, not the contract's writer (that is the host's contract/blob.py). `pack(...)` lays out the
header, the four tables, the per-layer sections (each padded to 4) and the CRC exactly as models/README.md
(version 2) says; `from_v1(data)` rewrites a version-1 pendulum blob as the equivalent version-2 one (θ angle
Q12, θ̇ affine Q12 clamped to ±32 rad/s, one output ±max_torque in Q12), so the v1 golden vectors replay on it.

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
    body = b""
    for e in inputs:
        body += struct.pack("<BB2xffff", *e)
    for e in features:
        body += struct.pack("<iiiiB3x", *e)
    for e in layers:
        body += struct.pack("<HHBB2xii", *e[:6])
    for e in outputs:
        body += struct.pack("<BB2xffffiiii", *e)
    wfmt = "<%d" + "fbh"[dcode]
    for e in layers:
        w, b = e[6], e[7]
        body += _pad(struct.pack(wfmt % len(w), *w))
        body += struct.pack(("<%df" if dcode == 0 else "<%di") % len(b), *b)
        if dcode:
            body += struct.pack("<%di" % len(e[8]), *e[8]) + _pad(bytes(e[9]))
    n_features = len(features)
    total = 16 + len(body) + 4
    head = struct.pack("<4sHBBBBBBI", b"TPOL", 2, dcode, flags, len(layers), len(inputs), n_features, len(outputs),
                       total)
    data = head + body
    return data + struct.pack("<I", crc32(data) & 0xFFFFFFFF)


def from_v1(data):
    """A version-1 blob (bytes) -> the same net as a version-2 blob (bytes); int8 becomes W8A8."""
    _m, _v, dcode, n_layers, _ni, _nf, _no, _r, _t, vel_scale, max_torque = struct.unpack_from("<4sHBBBBBBIff",
                                                                                                data, 0)
    quant = dcode != 0
    feats = [struct.unpack_from("<iB", data, 24 + 8 * i) for i in range(3)]
    wsize = (4, 1, 2)[dcode]
    pos = 24 + 24 + 16 * n_layers
    layers = []
    for k in range(n_layers):
        n_in, n_out, act, pshift, lo, hi = struct.unpack_from("<HHBB2xii", data, 48 + 16 * k)
        n = n_in * n_out
        w = struct.unpack_from("<%d%s" % (n, "fbh"[dcode]), data, pos)
        pos += (n * wsize + 3) & ~3
        b = struct.unpack_from("<%d%s" % (n_out, "fi"[quant]), data, pos)
        pos += 4 * n_out
        mult, shift = (), b""
        if quant:
            mult = struct.unpack_from("<%di" % n_out, data, pos)
            pos += 4 * n_out
            shift = data[pos:pos + n_out]
            pos += (n_out + 3) & ~3
        layers.append((n_in, n_out, act, pshift, lo, hi, w, b, mult, shift))
    big = 1e30  # the f32 path of v1 did not clip theta_dot
    inputs = [(1, 12, 0.0, 0.0, 0.0, 0.0), (0, 12, 0.0, vel_scale, -32.0 if quant else -big, 32.0 if quant else big)]
    if quant:
        features = [(0, 0, 0, feats[0][0], feats[0][1]), (0, 0, 0, feats[1][0], feats[1][1]),
                    (0, -131072, 131072, feats[2][0], feats[2][1])]
    else:
        features = [(0, 0, 0, 0, 0)] * 3
    q = int(max_torque * 4096)  # floor: the integer clamp stays inside the declared range
    outputs = [(12, 0, 1.0, 0.0, -max_torque, max_torque, 1, 0, -q, q)]
    return pack(DTYPES[dcode], inputs, features, layers, outputs)
