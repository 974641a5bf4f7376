"""An independent, literal scalar transcription of models/README.md (own struct parsing, Python ints, the loops
exactly as written) must reproduce the committed golden vectors: this guards the vectorised numpy reference
against misreading the contract (and is close to what the device code does). Every net and scheme of the golden
manifest."""
import binascii
import json
import math
import struct

import numpy as np
import pytest

from tinypolicy_host.paths import REPO

GOLDEN = REPO / "tests" / "data" / "golden"


def table(fn):
    out = []
    for k in range(258):
        v = 16384 * fn(k)
        out.append(int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1))
    return out


SIN = table(lambda k: math.sin(k * math.pi / 512))
TANH = table(lambda k: math.tanh(k / 64))


def parse(path):
    """Blob version 2, field by field as models/README.md lists them."""
    data = path.read_bytes()
    assert binascii.crc32(data[:-4]) == struct.unpack_from("<I", data, len(data) - 4)[0]
    magic, version, dtype, flags, n_layers, n_inputs, n_features, n_outputs, total = struct.unpack_from(
        "<4sHBBBBBBI", data, 0)
    assert magic == b"TPOL" and version == 2 and total == len(data)
    pos = 16
    inputs = []
    for _ in range(n_inputs):
        inputs.append(struct.unpack_from("<BB", data, pos))  # kind, frac
        pos += 20
    feats = []
    for _ in range(n_features):
        feats.append(struct.unpack_from("<iiiiB", data, pos))  # qoff, qlo, qhi, fmult, fshift
        pos += 20
    layers = []
    for _ in range(n_layers):
        layers.append(list(struct.unpack_from("<HHBBxxii", data, pos)))
        pos += 16
    outputs = []
    for _ in range(n_outputs):
        frac, oshift = struct.unpack_from("<BB", data, pos)
        omult, ooff, qlo, qhi = struct.unpack_from("<iiii", data, pos + 20)
        outputs.append((oshift, omult, ooff, qlo, qhi))
        pos += 36
    wfmt, wsize = {1: ("b", 1), 2: ("h", 2)}[dtype]
    out = []
    for n_in, n_out, act, p, lo, hi in layers:
        w = struct.unpack_from(f"<{n_in * n_out}{wfmt}", data, pos)
        pos += (n_in * n_out * wsize + 3) & ~3
        b = struct.unpack_from(f"<{n_out}i", data, pos)
        pos += 4 * n_out
        m = struct.unpack_from(f"<{n_out}i", data, pos)
        pos += 4 * n_out
        s = struct.unpack_from(f"<{n_out}B", data, pos)
        pos += (n_out + 3) & ~3
        out.append((n_in, n_out, act, p, lo, hi, w, b, m, s))
    assert pos == len(data) - 4
    wide_act = dtype == 2 or flags & 1
    return wide_act, bool(flags & 2), inputs, feats, out, outputs


def R(s):
    return (1 << s) >> 1


def sq(r):
    i = r >> 6
    f = r & 63
    return SIN[i] + (((SIN[i + 1] - SIN[i]) * f + 32) >> 6)


def sin_t(a):
    q, r = a >> 14, a & 0x3FFF
    return (sq(r), sq(16384 - r), -sq(r), -sq(16384 - r))[q]


def tanh_t(z):
    u = abs(z)
    i, f = u >> 6, u & 63
    t = TANH[i] + (((TANH[i + 1] - TANH[i]) * f + 32) >> 6)
    return -t if z < 0 else t


def reduce(t):
    if t > 12868:  # the two while loops, in closed form for int32 extremes (equal by test_quant)
        t -= -(-(t - 12868) // 25736) * 25736
    while t < -12868:
        t += 25736
    return t


def forward(model, row):
    wide_act, argmax, inputs, feats, layers, outputs = model
    amin, amax = (-32768, 32767) if wide_act else (-128, 127)
    x, f = [], 0
    for (kind, _frac), v in zip(inputs, row, strict=True):
        if kind == 1:
            a = ((reduce(v) * 10430 + 2048) >> 12) & 0xFFFF
            srcs = [sin_t((a + 16384) & 0xFFFF), sin_t(a)]
        else:
            qoff, qlo, qhi = feats[f][:3]
            srcs = [max(qlo, min(qhi, v)) - qoff]
        for src in srcs:
            m, sh = feats[f][3:]
            x.append(max(amin, min(amax, (src * m + R(sh)) >> sh)))
            f += 1
    for n_in, n_out, act, p, lo, hi, W, b, mult, shift in layers:
        ys, hand = [], []
        for j in range(n_out):
            acc = b[j]
            for i in range(n_in):
                acc += (W[j * n_in + i] * x[i]) >> p
            v = max(lo, min(hi, (acc * mult[j] + R(shift[j])) >> shift[j]))
            ys.append(v)
            if act == 2:
                tt = tanh_t(v)
                v = max(-32767, min(32767, tt << 1)) if wide_act else max(-127, min(127, tt >> 7))
            elif act == 4:
                v = 16384 + tanh_t(v)
                v = v if wide_act else (v + 64) >> 7
            hand.append(v)
        x = hand
    if argmax:
        return [ys.index(max(ys))]
    return [max(qlo, min(qhi, ((v * omult + R(oshift)) >> oshift) + ooff))
            for v, (oshift, omult, ooff, qlo, qhi) in zip(x, outputs, strict=True)]


MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
INT_ENTRIES = [(net, b) for net in MANIFEST["nets"] for b in net["blobs"] if b["scheme"] != "f32"]


@pytest.mark.parametrize("net,entry", INT_ENTRIES, ids=[f"{n['name']}-{b['scheme']}" for n, b in INT_ENTRIES])
def test_literal_transcription_reproduces_golden(net, entry):
    model = parse(REPO / entry["blob"])
    rows = np.loadtxt(REPO / entry["golden"], delimiter=",", skiprows=1, dtype=np.int64, ndmin=2).tolist()
    if net["name"] == "wide":  # 256×256 MACs in plain Python per row: a sample
        rows = rows[::25]
    n = net["n_inputs"]
    bad = [(r, got) for r in rows if (got := forward(model, r[:n])) != r[n:]]
    assert not bad, f"{len(bad)} mismatches, first: {bad[:3]}"
