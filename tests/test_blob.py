"""Blob v2 writer/reader: exact round trip per scheme, rejections naming the file and field, and a mutated-blob
corpus that the host reader and the device loader (unix port, one process) accept identically (issue 11 item 4)."""
import binascii
import struct

import numpy as np
import pytest

from devrun import run_micropython
from specs import random_spec
from tinypolicy_host.contract.blob import (
    HEADER,
    BlobError,
    decode_blob,
    encode_blob,
    read_blob,
    write_blob,
)
from tinypolicy_host.contract.reference import QuantMLP
from tinypolicy_host.export.testnets import clip_spec, multi_spec, rows_for
from tinypolicy_host.quantize.quant import quantize

SPEC = random_spec()
CALIB = np.stack([np.random.default_rng(1).uniform(-np.pi, np.pi, 2000),
                  np.random.default_rng(2).uniform(-8, 8, 2000)], axis=1)
MODELS = {"f32": SPEC.float32(), **{s: quantize(SPEC, s, CALIB) for s in ("w8a8", "w8a16", "q15")}}
MULTI = multi_spec()
MULTI_MODELS = {"f32": MULTI.float32(), **{s: quantize(MULTI, s, rows_for(MULTI, 2000, 3))
                                          for s in ("w8a8", "w8a16", "q15")}}
CLIP = clip_spec()
CLIP_MODELS = {"f32": CLIP.float32(), **{s: quantize(CLIP, s, rows_for(CLIP, 2000, 4))
                                        for s in ("w8a8", "w8a16", "q15")}}


def same(a, b):
    if isinstance(a, QuantMLP):
        return isinstance(b, QuantMLP) and a.same_as(b)
    return (encode_blob(a) == encode_blob(b))


@pytest.mark.parametrize("models", [MODELS, MULTI_MODELS, CLIP_MODELS], ids=["pendulum", "multi", "clip"])
@pytest.mark.parametrize("scheme", ["f32", "w8a8", "w8a16", "q15"])
def test_round_trip(tmp_path, models, scheme):
    path = tmp_path / "p.bin"
    write_blob(path, models[scheme])
    back = read_blob(path)
    assert same(models[scheme], back)
    assert encode_blob(back) == path.read_bytes()
    x = CALIB[:300] if models is MODELS else rows_for(CLIP if models is CLIP_MODELS else MULTI, 300, 9)
    np.testing.assert_array_equal(models[scheme].forward(x), back.forward(x))


def _recrc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, len(data) - 4, binascii.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    return bytes(data)


def _edit(blob: bytes, fmt: str, offset: int, value) -> bytes:
    data = bytearray(blob)
    struct.pack_into(fmt, data, offset, value)
    return _recrc(data)


BASE = encode_blob(MODELS["w8a16"])
L0 = HEADER.size + 20 * 2 + 20 * 3  # layer table of the pendulum blob
F32_CLIP = encode_blob(CLIP_MODELS["f32"])
L0C = HEADER.size + 20 * 4 + 20 * 4  # layer table of the clip net's blob (layer 0: clip 0..6 as float32 bits)
CASES = {
    "magic": (_edit(BASE, "<4s", 0, b"XPOL"), "magic"),
    "version1": (_edit(BASE, "<H", 4, 1), "version 1 blobs are no longer loaded"),
    "version3": (_edit(BASE, "<H", 4, 3), "version"),
    "dtype": (_edit(BASE, "<B", 6, 7), "dtype"),
    "flags": (_edit(BASE, "<B", 7, 4), "flags"),
    "a16_q15": (_edit(encode_blob(MODELS["q15"]), "<B", 7, 1), "flags"),
    "n_layers": (_edit(BASE, "<B", 8, 0), "n_layers"),
    "n_features": (_edit(BASE, "<B", 10, 4), "n_features"),
    "total_size": (_edit(BASE, "<I", 12, len(BASE) + 4), "total_size"),
    "kind": (_edit(BASE, "<B", HEADER.size, 5), "input 0 kind"),
    "angle_frac": (_edit(BASE, "<B", HEADER.size + 1, 11), "input 0 frac"),
    "layer_act": (_edit(BASE, "<B", L0 + 4, 9), "layer 0 activation"),
    "relu_lo": (_edit(BASE, "<i", L0 + 8, -1), "layer 0 lo"),
    "hidden_hi": (_edit(BASE, "<i", L0 + 12, 40000), "layer 0 lo/hi"),
    "crc": (bytes(BASE[:-1]) + bytes([BASE[-1] ^ 1]), "crc32"),
    "out_range": (_edit(BASE, "<i", L0 + 16 * 3 + 32, 9000), "output 0 qlo/qhi"),
    "out_nan": (_edit(BASE, "<f", L0 + 16 * 3 + 16, float("nan")), "output 0 scale/offset/lo/hi"),
    "truncated": (BASE[:40], "total_size"),
    "f32_clip_nan": (_edit(F32_CLIP, "<f", L0C + 12, float("nan")), "layer 0 pshift/lo/hi"),
    "f32_clip_order": (_edit(F32_CLIP, "<f", L0C + 12, -1.0), "layer 0 pshift/lo/hi"),
    "f32_clip_pshift": (_edit(F32_CLIP, "<B", L0C + 5, 1), "layer 0 pshift/lo/hi"),
    "f32_relu_bounds": (_edit(F32_CLIP, "<B", L0C + 4, 1), "layer 0 pshift/lo/hi"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rejections_name_the_file_and_field(tmp_path, case):
    data, field = CASES[case]
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    with pytest.raises(BlobError) as exc:
        read_blob(path)
    assert str(exc.value).startswith(f"{path}: ") and field in str(exc.value), str(exc.value)


def test_file_problems(tmp_path):
    with pytest.raises(BlobError, match="cannot open"):
        read_blob(tmp_path / "missing.bin")
    with pytest.raises(BlobError, match="not a regular file"):
        read_blob(tmp_path)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * 100000)
    with pytest.raises(BlobError, match="needs 100000 bytes, max_bytes is 98304"):
        read_blob(big)


def test_int32_bound_violation_is_rejected():
    data = bytearray(BASE)
    # layer 0's mult section: raise every mult so |acc|·mult overflows
    model = decode_blob(BASE)
    model.layers[0].mult[:] = 2**30
    with pytest.raises(BlobError, match="layer 0 mult"):
        decode_blob(encode_blob(model), "x.bin")
    assert data == BASE


def mutations(blob: bytes, seed: int, n: int) -> list[bytes]:
    """Mutated copies of a valid blob: single-byte field edits and bit flips in the header and tables with the
    CRC recomputed (so the deeper checks are reached), the same in the data sections, truncations, extensions."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        data = bytearray(blob)
        kind = k % 5
        if kind in (0, 1):  # tables, CRC fixed
            pos = int(rng.integers(0, min(len(blob) - 4, 400)))
            data[pos] = int(rng.integers(0, 256)) if kind == 0 else data[pos] ^ (1 << int(rng.integers(0, 8)))
            out.append(_recrc(data))
        elif kind == 2:  # data sections, CRC fixed
            pos = int(rng.integers(0, len(blob) - 4))
            data[pos] ^= 1 << int(rng.integers(0, 8))
            out.append(_recrc(data))
        elif kind == 3:
            out.append(bytes(data[:int(rng.integers(0, len(blob)))]))
        else:
            out.append(bytes(data) + bytes(int(rng.integers(1, 9))))
    return out


LOAD_ALL = r'''
import gc
import sys
from tinypolicy import Policy, ModelError
for path in open(sys.argv[1]).read().split():
    gc.collect()
    try:
        Policy.load(path)
        print("OK")
    except ModelError as e:
        print("ERR")
'''


def test_host_reader_and_device_loader_accept_the_same_blobs(tmp_path):
    corpus = []
    for scheme in ("w8a8", "w8a16", "q15", "f32"):
        for models in (MODELS, MULTI_MODELS, CLIP_MODELS):
            corpus += mutations(encode_blob(models[scheme]), len(corpus), 60)
    paths, host = [], []
    for i, data in enumerate(corpus):
        path = tmp_path / f"m{i}.bin"
        path.write_bytes(data)
        paths.append(str(path))
        try:
            read_blob(path)
            host.append("OK")
        except BlobError:
            host.append("ERR")
    (tmp_path / "list.txt").write_text("\n".join(paths))
    script = tmp_path / "load_all.py"
    script.write_text(LOAD_ALL)
    proc = run_micropython([script, tmp_path / "list.txt"], heapsize="1M", timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:]
    device = proc.stdout.split()
    assert len(device) == len(host)
    differ = [(paths[i], host[i], device[i]) for i in range(len(host)) if host[i] != device[i]]
    assert not differ, differ[:5]
    assert 0 < host.count("OK") < len(host)


def test_writer_refuses_values_the_format_cannot_hold():
    model = decode_blob(BASE)
    model.layers[0].weight[0, 0] = 200  # not an int8
    with pytest.raises(ValueError, match="layer 0 weight does not fit int8"):
        encode_blob(model)
    spec = SPEC.float32()
    spec.outputs[0].hi = float("inf")
    with pytest.raises(ValueError, match="output 0"):
        encode_blob(spec)


def test_max_bytes_is_a_parameter(tmp_path):
    from tinypolicy_host.paths import REPO

    wide = REPO / "tests/data/golden/wide/policy_wide_w8a16.bin"  # 77 052 bytes
    assert read_blob(wide).scheme == "w8a16"
    with pytest.raises(BlobError, match="needs 77052 bytes, max_bytes is 65536"):
        read_blob(wide, max_bytes=65536)
