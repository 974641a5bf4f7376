"""Reader and writer of the `.bin` policy blob (version 1, little-endian; byte layout in models/README.md).

`write_blob(path, policy)` takes a FloatPolicySpec (dtype f32) or a QuantPolicy (int8 / q15);
`read_blob(path)` returns the same kind of object (round trip exact for every field the blob stores). The reader
checks the header and tables against the file size before it reads any array, then the CRC, then the values,
and raises BlobError naming the file and the field.
"""
from __future__ import annotations

import binascii
import struct
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..quantize.quant import TABLE_ACTIVATIONS, TANH_LIMIT_Q12, QLayer, QuantPolicy, int32_bound_violations
from .spec import DenseSpec, FloatPolicySpec

MAGIC = b"TPOL"
VERSION = 1
#: File names of the three blobs of one policy (models/ and every export folder).
BLOB_NAMES = {"f32": "policy_f32.bin", "int8": "policy_int8.bin", "q15": "policy_q15.bin"}
DTYPE_CODES = {"f32": 0, "int8": 1, "q15": 2}
DTYPE_NAMES = {v: k for k, v in DTYPE_CODES.items()}
ACTIVATION_CODES = {"identity": 0, "relu": 1, "tanh": 2, "hardtanh": 3, "sigmoid": 4}
ACTIVATION_NAMES = {v: k for k, v in ACTIVATION_CODES.items()}
WEIGHT_DTYPE = {"f32": "<f4", "int8": "<i1", "q15": "<i2"}
BIAS_DTYPE = {"f32": "<f4", "int8": "<i4", "q15": "<i4"}
N_INPUTS, N_FEATURES, N_OUTPUTS = 2, 3, 1
MAX_LAYERS, MAX_UNITS, MAX_PSHIFT, MAX_SHIFT = 8, 64, 15, 31
MAX_FILE = 65536
I16_MIN, I16_MAX = -32768, 32767  # the device's activation buffers

HEADER = struct.Struct("<4sHBBBBBBIff")  # 24 bytes
FEATURE = struct.Struct("<iB3x")  # 8 bytes
LAYER = struct.Struct("<HHBB2xii")  # 16 bytes
CRC_SIZE = 4


class BlobError(UserError):
    """A policy blob that cannot be used: the message names the file and the field."""


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def layer_data_size(dtype: str, n_in: int, n_out: int) -> int:
    """Bytes of one layer's data sections (each padded to a multiple of 4)."""
    size = _pad4(n_out * n_in * np.dtype(WEIGHT_DTYPE[dtype]).itemsize) + 4 * n_out
    if dtype != "f32":
        size += 4 * n_out + _pad4(n_out)
    return size


def blob_size(dtype: str, dims: list[int]) -> int:
    """total_size of a blob with these layer dims (CRC included)."""
    n_layers = len(dims) - 1
    size = HEADER.size + FEATURE.size * N_FEATURES + LAYER.size * n_layers
    size += sum(layer_data_size(dtype, dims[k], dims[k + 1]) for k in range(n_layers))
    return size + CRC_SIZE


def _section(arr: np.ndarray, dtype: str) -> bytes:
    raw = np.ascontiguousarray(arr).astype(dtype).tobytes()
    return raw + b"\0" * (_pad4(len(raw)) - len(raw))


def _fits(arr, dtype) -> bool:
    info = np.iinfo(np.dtype(dtype))
    a = np.asarray(arr)
    return bool(a.size == 0 or (a.min() >= info.min and a.max() <= info.max))


def encode_blob(policy: FloatPolicySpec | QuantPolicy) -> bytes:
    """The blob bytes of a float spec (f32) or a quantized policy (int8 / q15)."""
    if isinstance(policy, QuantPolicy):
        dtype = policy.dtype
        layers = [(q.n_in, q.n_out, q.activation, q.pshift, q.lo, q.hi, q.weight, q.bias, q.mult, q.shift)
                  for q in policy.layers]
        fmult, fshift = list(policy.fmult), list(policy.fshift)
    elif isinstance(policy, FloatPolicySpec):
        dtype = "f32"
        layers = [(d.weight.shape[1], d.weight.shape[0], d.activation, 0, 0, 0, d.weight, d.bias, None, None)
                  for d in policy.layers]
        fmult, fshift = [0] * N_FEATURES, [0] * N_FEATURES
    else:
        raise TypeError(f"cannot write a {type(policy).__name__} as a blob")
    dims = [layers[0][0]] + [entry[1] for entry in layers] if layers else []
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise ValueError(f"n_layers must be 1…{MAX_LAYERS}, got {len(layers)}")
    if dims[0] != N_FEATURES or dims[-1] != N_OUTPUTS or not all(1 <= d <= MAX_UNITS for d in dims):
        raise ValueError(f"layer dims {dims} outside the format (3 features in, 1 output, 1…64 units)")
    total = blob_size(dtype, dims)
    out = bytearray(HEADER.pack(MAGIC, VERSION, DTYPE_CODES[dtype], len(layers), N_INPUTS, N_FEATURES, N_OUTPUTS,
                                0, total, policy.vel_scale, policy.max_torque))
    for m, s in zip(fmult, fshift, strict=True):
        out += FEATURE.pack(int(m), int(s))
    for n_in, n_out, act, pshift, lo, hi, *_ in layers:
        out += LAYER.pack(n_in, n_out, ACTIVATION_CODES[act], int(pshift), int(lo), int(hi))
    for k, (n_in, n_out, _act, _p, _lo, _hi, w, b, mult, shift) in enumerate(layers):
        if dtype != "f32":
            for name, arr, dt in (("weight", w, WEIGHT_DTYPE[dtype]), ("bias", b, "<i4"), ("mult", mult, "<i4"),
                                  ("shift", shift, "<u1")):
                if not _fits(arr, dt):
                    raise ValueError(f"layer {k} {name} does not fit {np.dtype(dt).name}")
        out += _section(np.asarray(w).reshape(n_out, n_in), WEIGHT_DTYPE[dtype])
        out += _section(np.asarray(b).reshape(n_out), BIAS_DTYPE[dtype])
        if dtype != "f32":
            out += _section(np.asarray(mult), "<i4") + _section(np.asarray(shift), "<u1")
    out += struct.pack("<I", binascii.crc32(bytes(out)) & 0xFFFFFFFF)
    assert len(out) == total, (len(out), total)
    return bytes(out)


def write_blob(path, policy: FloatPolicySpec | QuantPolicy) -> int:
    """Write the blob; returns its size in bytes."""
    data = encode_blob(policy)
    Path(path).write_bytes(data)
    return len(data)


def read_blob(path) -> FloatPolicySpec | QuantPolicy:
    """Read and validate a blob file: FloatPolicySpec for f32, QuantPolicy for int8 / q15."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BlobError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_FILE:
        raise BlobError(f"{path}: file size: {size} bytes exceeds the {MAX_FILE}-byte limit")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BlobError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_blob(data, str(path))


def decode_blob(data: bytes, name: str = "<blob>") -> FloatPolicySpec | QuantPolicy:
    """Validate and decode blob bytes; `name` is used in error messages."""
    def fail(fld, what):
        raise BlobError(f"{name}: {fld}: {what}")

    size = len(data)
    if size > MAX_FILE:
        fail("file size", f"{size} bytes exceeds the {MAX_FILE}-byte limit")
    if size < HEADER.size:
        fail("header", f"truncated: {size} bytes, the header alone is {HEADER.size}")
    (magic, version, dtype_code, n_layers, n_inputs, n_features, n_outputs, _reserved, total_size, vel_scale,
     max_torque) = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        fail("magic", f"{magic!r} is not {MAGIC!r} (not a TinyPolicy blob)")
    if version != VERSION:
        fail("version", f"{version} is not supported (this reader knows version {VERSION})")
    if dtype_code not in DTYPE_NAMES:
        fail("dtype", f"unknown code {dtype_code} (0 f32, 1 int8, 2 q15)")
    dtype = DTYPE_NAMES[dtype_code]
    if not 1 <= n_layers <= MAX_LAYERS:
        fail("n_layers", f"{n_layers} is outside 1…{MAX_LAYERS}")
    for fld, value, want in (("n_inputs", n_inputs, N_INPUTS), ("n_features", n_features, N_FEATURES),
                             ("n_outputs", n_outputs, N_OUTPUTS)):
        if value != want:
            fail(fld, f"{value}, expected {want}")
    if total_size != size:
        fail("total_size", f"header says {total_size} bytes but the file has {size} (truncated or padded?)")
    tables_end = HEADER.size + FEATURE.size * n_features + LAYER.size * n_layers
    if size < tables_end + CRC_SIZE:
        fail("layer table", f"truncated: {size} bytes, the tables need {tables_end + CRC_SIZE}")
    features = [FEATURE.unpack_from(data, HEADER.size + FEATURE.size * i) for i in range(n_features)]
    table = [LAYER.unpack_from(data, HEADER.size + FEATURE.size * n_features + LAYER.size * k)
             for k in range(n_layers)]
    prev = n_features
    for k, (n_in, n_out, act, pshift, lo, hi) in enumerate(table):
        if not 1 <= n_in <= MAX_UNITS:
            fail(f"layer {k} n_in", f"{n_in} is outside 1…{MAX_UNITS}")
        if not 1 <= n_out <= MAX_UNITS:
            fail(f"layer {k} n_out", f"{n_out} is outside 1…{MAX_UNITS}")
        if n_in != prev:
            fail(f"layer {k} n_in", f"{n_in} does not match the previous output size {prev}")
        if act not in ACTIVATION_NAMES:
            fail(f"layer {k} activation",
                 f"unknown code {act} (0 identity, 1 relu, 2 tanh, 3 hardtanh, 4 sigmoid)")
        if pshift > MAX_PSHIFT:
            fail(f"layer {k} pshift", f"{pshift} exceeds {MAX_PSHIFT}")
        if dtype == "f32" and (pshift or lo or hi):
            fail(f"layer {k} pshift/lo/hi", "must be 0 in an f32 blob")
        if dtype != "f32" and lo > hi:
            fail(f"layer {k} lo/hi", f"lo {lo} > hi {hi}")
        if dtype != "f32" and act == ACTIVATION_CODES["relu"] and lo != 0:
            fail(f"layer {k} lo", f"{lo}: a relu layer clamps at lo = 0")
        if (dtype != "f32" and ACTIVATION_NAMES[act] in TABLE_ACTIVATIONS
                and (lo < -TANH_LIMIT_Q12 or hi > TANH_LIMIT_Q12)):
            fail(f"layer {k} lo/hi", f"{lo}, {hi}: a {ACTIVATION_NAMES[act]} pre-activation must stay within "
                                     f"±{TANH_LIMIT_Q12}")
        # As the device loader: a hidden layer's outputs go to the int16 activation buffers (table activations
        # are bounded above; the last layer writes the int32 torque).
        if (dtype != "f32" and ACTIVATION_NAMES[act] not in TABLE_ACTIVATIONS and k < n_layers - 1
                and (lo < I16_MIN or hi > I16_MAX)):
            fail(f"layer {k} lo/hi", f"{lo}, {hi}: outside the int16 activation buffers ({I16_MIN}…{I16_MAX})")
        prev = n_out
    if prev != n_outputs:
        fail(f"layer {n_layers - 1} n_out", f"{prev} does not match n_outputs {n_outputs}")
    expected = blob_size(dtype, [n_features] + [t[1] for t in table])
    if expected != total_size:
        fail("total_size", f"{total_size} bytes but the layer table implies {expected}")
    crc_stored = struct.unpack_from("<I", data, size - CRC_SIZE)[0]
    crc = binascii.crc32(data[:size - CRC_SIZE]) & 0xFFFFFFFF
    if crc != crc_stored:
        fail("crc32", f"stored {crc_stored:#010x}, computed {crc:#010x} (file corrupted)")
    for i, (fmult, fshift) in enumerate(features):
        if dtype == "f32" and (fmult or fshift):
            fail(f"feature {i} fmult/fshift", "must be 0 in an f32 blob")
        if fshift > MAX_SHIFT:
            fail(f"feature {i} fshift", f"{fshift} exceeds {MAX_SHIFT}")
    if not (np.isfinite(vel_scale) and np.isfinite(max_torque) and max_torque > 0):
        fail("vel_scale/max_torque", f"{vel_scale}, {max_torque}: must be finite, max_torque > 0")

    pos = tables_end
    layers = []
    for k, (n_in, n_out, act, pshift, lo, hi) in enumerate(table):
        def take(dt, count):
            nonlocal pos
            arr = np.frombuffer(data, dt, count, pos)
            pos += _pad4(count * np.dtype(dt).itemsize)
            return arr

        w = take(WEIGHT_DTYPE[dtype], n_out * n_in).reshape(n_out, n_in)
        b = take(BIAS_DTYPE[dtype], n_out)
        if dtype == "f32":
            layers.append(DenseSpec(w.astype(np.float32), b.astype(np.float32), ACTIVATION_NAMES[act]))
            continue
        mult = take("<i4", n_out)
        shift = take("<u1", n_out)
        if shift.max() > MAX_SHIFT:
            fail(f"layer {k} shift", f"{int(shift.max())} exceeds {MAX_SHIFT}")
        layers.append(QLayer(ACTIVATION_NAMES[act], int(pshift), int(lo), int(hi), w.astype(np.int64),
                             b.astype(np.int64), mult.astype(np.int64), shift.astype(np.int64)))
    assert pos == size - CRC_SIZE, (pos, size)
    if dtype == "f32":
        return FloatPolicySpec(float(vel_scale), float(max_torque), layers)
    policy = QuantPolicy(dtype, float(vel_scale), float(max_torque),
                         np.array([f[0] for f in features], np.int64), np.array([f[1] for f in features], np.int64),
                         layers)
    violations = int32_bound_violations(policy)
    if violations:
        fld, _, what = violations[0].partition(": ")
        fail(fld, what + " (32-bit and 64-bit devices would disagree)")
    return policy
