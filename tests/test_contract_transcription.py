"""An independent, literal scalar transcription of models/README.md (own struct parsing, Python ints, the loops
exactly as written) must reproduce the committed golden vectors: this guards the vectorised numpy reference
against misreading the contract (and is close to what the device code does)."""
import binascii
import math
import struct

import numpy as np
import pytest

from tinypolicy_host.paths import MODELS, REPO

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
    data = path.read_bytes()
    assert binascii.crc32(data[:-4]) == struct.unpack_from("<I", data, len(data) - 4)[0]
    magic, version, dtype, n_layers, n_inputs, n_features, n_outputs, _, total = struct.unpack_from(
        "<4sHBBBBBBI", data, 0)
    assert magic == b"TPOL" and version == 1 and total == len(data)
    feats = [struct.unpack_from("<iB", data, 24 + 8 * i) for i in range(n_features)]
    pos = 24 + 8 * n_features
    layers = []
    for _ in range(n_layers):
        layers.append(list(struct.unpack_from("<HHBBxxii", data, pos)))
        pos += 16
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
    return dtype, feats, out


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


def forward(model, theta, theta_dot):
    dtype, feats, layers = model
    amin, amax = (-128, 127) if dtype == 1 else (-32768, 32767)
    t = theta
    if t > 12868:  # the two while loops, in closed form for int32 extremes (equal by test_quant)
        t -= -(-(t - 12868) // 25736) * 25736
    while t < -12868:
        t += 25736
    a = ((t * 10430 + 2048) >> 12) & 0xFFFF
    c, s = sin_t((a + 16384) & 0xFFFF), sin_t(a)
    w = max(-131072, min(131072, theta_dot))
    x = [max(amin, min(amax, (v * m + R(sh)) >> sh)) for v, (m, sh) in zip((c, s, w), feats, strict=True)]
    for n_in, n_out, act, p, lo, hi, W, b, mult, shift in layers:
        y = []
        for j in range(n_out):
            acc = b[j]
            for i in range(n_in):
                acc += (W[j * n_in + i] * x[i]) >> p
            v = max(lo, min(hi, (acc * mult[j] + R(shift[j])) >> shift[j]))
            if act == 2:
                tt = tanh_t(v)
                v = max(-127, min(127, tt >> 7)) if dtype == 1 else max(-32767, min(32767, tt << 1))
            y.append(v)
        x = y
    return x[0]


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_literal_transcription_reproduces_golden(dtype):
    model = parse(MODELS / f"policy_{dtype}.bin")
    rows = np.loadtxt(GOLDEN / f"golden_{dtype}.csv", delimiter=",", skiprows=1, dtype=np.int64).tolist()
    bad = [(th, thd, want, got) for th, thd, want in rows if (got := forward(model, th, thd)) != want]
    assert not bad, f"{len(bad)} mismatches, first: {bad[:3]}"


@pytest.mark.parametrize("dtype", ["int8", "q15"])
def test_literal_transcription_matches_reference_on_a_tanh_net(tmp_path, dtype):
    from tinypolicy_host.contract.blob import write_blob
    from tinypolicy_host.contract.spec import DenseSpec, FloatPolicySpec
    from tinypolicy_host.export.artifacts import golden_inputs
    from tinypolicy_host.quantize.quant import quantize

    rng = np.random.default_rng(8)
    dims = [3, 10, 12, 1]
    spec = FloatPolicySpec(0.125, 2.0, [
        DenseSpec((rng.normal(size=(dims[k + 1], dims[k])) * 1.5).astype(np.float32),
                  rng.normal(size=dims[k + 1]).astype(np.float32), "tanh" if k < 2 else "identity")
        for k in range(3)])
    policy = quantize(spec, dtype)
    write_blob(tmp_path / "t.bin", policy)
    model = parse(tmp_path / "t.bin")
    theta_q, theta_dot_q = golden_inputs()
    idx = np.r_[0:120, 560:760]
    want = policy.forward_q(theta_q[idx], theta_dot_q[idx]).tolist()
    got = [forward(model, int(a), int(b)) for a, b in zip(theta_q[idx], theta_dot_q[idx], strict=True)]
    assert got == want
