"""Reader and writer of the `.bin` policy blob, version 2 (little-endian; byte layout in models/README.md).

`encode_blob(model)` / `write_blob(path, model)` take an MLPSpec (dtype f32) or a QuantMLP (int8 w8a8 / w8a16,
q15); `read_blob(path)` / `decode_blob(data)` return the same kind of object (round trip exact for every field
the blob stores). The reader applies the check list of models/README.md ("Loader checks") in the same order as
the device loader: header and tables against the file size before any array is read, then the CRC, then the
values and the int32 bounds (`int32_bound_violations`), raising BlobError "<file>: <field>: <what>".
"""
from __future__ import annotations

import binascii
import math
import stat
import struct
from pathlib import Path

import numpy as np

from ..errors import UserError
from .reference import (
    I16_MAX,
    I16_MIN,
    TABLE_ACTIVATIONS,
    TANH_LIMIT_Q12,
    QFeature,
    QLayer,
    QOutput,
    QuantMLP,
    int32_bound_violations,
)
from .spec import (
    ACTIVATIONS,
    INPUT_KINDS,
    MAX_CLASSES,
    MAX_FEATURES,
    MAX_FRAC,
    MAX_HIDDEN,
    MAX_INPUTS,
    MAX_LAYERS,
    MAX_OUTPUTS,
    Q_LIMIT,
    DenseSpec,
    InputSpec,
    MLPSpec,
    OutputSpec,
)

MAGIC = b"TPOL"
VERSION = 2
#: File names of one policy's blobs (models/ and every export folder): "int8" is the default int8 scheme
#: (w8a16); the w8a8 variant ships beside it.
BLOB_NAMES = {"f32": "policy_f32.bin", "int8": "policy_int8.bin", "q15": "policy_q15.bin"}
SCHEME_BLOB_NAMES = {"f32": "policy_f32.bin", "w8a16": "policy_int8.bin", "w8a8": "policy_int8_a8.bin",
                     "q15": "policy_q15.bin"}
DTYPE_CODES = {"f32": 0, "int8": 1, "q15": 2}
DTYPE_NAMES = {v: k for k, v in DTYPE_CODES.items()}
ACTIVATION_CODES = {name: i for i, name in enumerate(ACTIVATIONS)}
KIND_CODES = {name: i for i, name in enumerate(INPUT_KINDS)}
FLAG_A16, FLAG_ARGMAX = 1, 2
WEIGHT_DTYPE = {"f32": "<f4", "int8": "<i1", "q15": "<i2"}
BIAS_DTYPE = {"f32": "<f4", "int8": "<i4", "q15": "<i4"}
MAX_PSHIFT, MAX_SHIFT = 15, 31
MAX_BYTES = 98304  # the device's Policy.load default (96 KiB)

HEADER = struct.Struct("<4sHBBBBBBI")  # 16 bytes
INPUT = struct.Struct("<BB2xffff")  # 20: kind, frac, offset, scale, lo, hi
FEATURE = struct.Struct("<iiiiB3x")  # 20: qoff, qlo, qhi, fmult, fshift
LAYER = struct.Struct("<HHBB2xii")  # 16: n_in, n_out, activation, pshift, lo, hi
OUTPUT = struct.Struct("<BB2xffffiiii")  # 36: frac, oshift, scale, offset, lo, hi, omult, ooff, qlo, qhi
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


def blob_size(dtype: str, dims: list[int], n_inputs: int, n_outputs: int) -> int:
    """total_size of a blob (CRC included); dims = [n_features, n_out of each layer]."""
    n_layers = len(dims) - 1
    size = (HEADER.size + INPUT.size * n_inputs + FEATURE.size * dims[0] + LAYER.size * n_layers
            + OUTPUT.size * n_outputs)
    size += sum(layer_data_size(dtype, dims[k], dims[k + 1]) for k in range(n_layers))
    return size + CRC_SIZE


def _section(arr: np.ndarray, dtype: str) -> bytes:
    raw = np.ascontiguousarray(arr).astype(dtype).tobytes()
    return raw + b"\0" * (_pad4(len(raw)) - len(raw))


def _fits(arr, dtype) -> bool:
    info = np.iinfo(np.dtype(dtype))
    a = np.asarray(arr)
    return bool(a.size == 0 or (a.min() >= info.min and a.max() <= info.max))


def output_qrange(o: OutputSpec | QOutput) -> tuple[int, int]:
    """The integer clamp inside the declared range: qlo = ceil(lo·2^frac), qhi = floor(hi·2^frac)."""
    return math.ceil(o.lo * 2.0**o.frac), math.floor(o.hi * 2.0**o.frac)


def f32_outputs(spec: MLPSpec) -> list[QOutput]:
    """The output table entries of an f32 blob (integer stage: omult 1, ooff 0, qlo/qhi from the range)."""
    if spec.argmax:
        n = spec.dims[-1]
        return [QOutput(0, 1.0, 0.0, 0.0, float(n - 1), 1, 0, 0, 0, n - 1)]
    return [QOutput(o.frac, o.scale, o.offset, o.lo, o.hi, 1, 0, 0, *output_qrange(o)) for o in spec.outputs]


def f32_clip_bits(d: DenseSpec) -> tuple[int, int]:
    """The (lo, hi) layer-table words of an f32 blob: a clip layer's bounds as float32 bit patterns, else 0, 0."""
    if d.activation != "clip":
        return 0, 0
    return struct.unpack("<ii", struct.pack("<ff", d.lo, d.hi))


def encode_blob(model: MLPSpec | QuantMLP) -> bytes:
    """The blob bytes of a float spec (f32) or a quantized model (int8 / q15)."""
    if isinstance(model, QuantMLP):
        dtype, flags = model.dtype, (FLAG_A16 if model.a16 else 0)
        layers = [(q.n_in, q.n_out, q.activation, q.pshift, q.lo, q.hi, q.weight, q.bias, q.mult, q.shift)
                  for q in model.layers]
        features, outputs = model.features, model.outputs
    elif isinstance(model, MLPSpec):
        model.validate()
        dtype, flags = "f32", 0
        layers = [(d.weight.shape[1], d.weight.shape[0], d.activation, 0, *f32_clip_bits(d), d.weight, d.bias, None,
                   None) for d in model.layers]
        features, outputs = [QFeature(0, 0)] * model.n_features, f32_outputs(model)
    else:
        raise TypeError(f"cannot write a {type(model).__name__} as a blob")
    if model.argmax:
        flags |= FLAG_ARGMAX
    dims = [layers[0][0]] + [entry[1] for entry in layers]
    total = blob_size(dtype, dims, len(model.inputs), len(outputs))
    out = bytearray(HEADER.pack(MAGIC, VERSION, DTYPE_CODES[dtype], flags, len(layers), len(model.inputs),
                                len(features), len(outputs), total))
    for inp in model.inputs:
        vals = (0.0, 0.0, 0.0, 0.0) if inp.kind == "angle" else (inp.offset, inp.scale, inp.lo, inp.hi)
        out += INPUT.pack(KIND_CODES[inp.kind], inp.frac, *vals)
    for f in features:
        out += FEATURE.pack(int(f.qoff), int(f.qlo), int(f.qhi), int(f.fmult), int(f.fshift))
    for n_in, n_out, act, pshift, lo, hi, *_ in layers:
        out += LAYER.pack(n_in, n_out, ACTIVATION_CODES[act], int(pshift), int(lo), int(hi))
    for o in outputs:
        out += OUTPUT.pack(o.frac, o.oshift, o.scale, o.offset, o.lo, o.hi, o.omult, o.ooff, o.qlo, o.qhi)
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


def write_blob(path, model: MLPSpec | QuantMLP) -> int:
    """Write the blob; returns its size in bytes."""
    data = encode_blob(model)
    Path(path).write_bytes(data)
    return len(data)


def read_blob(path, max_bytes: int = MAX_BYTES) -> MLPSpec | QuantMLP:
    """Read and validate a blob file: MLPSpec for f32, QuantMLP for int8 / q15."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise BlobError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BlobError(f"{path}: read: not a regular file")
    if st.st_size > max_bytes:
        raise BlobError(f"{path}: file size: needs {st.st_size} bytes, max_bytes is {max_bytes}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BlobError(f"{path}: read: {exc.strerror or exc}") from None
    return decode_blob(data, str(path), max_bytes)


def decode_blob(data: bytes, name: str = "<blob>", max_bytes: int = MAX_BYTES) -> MLPSpec | QuantMLP:
    """Validate and decode blob bytes; `name` is used in error messages."""
    def fail(fld, what):
        raise BlobError(f"{name}: {fld}: {what}")

    size = len(data)
    if size > max_bytes:
        fail("file size", f"needs {size} bytes, max_bytes is {max_bytes}")
    if size < HEADER.size:
        fail("header", f"truncated: {size} bytes, the header alone is {HEADER.size}")
    magic, version, dcode, flags, n_layers, n_inputs, n_features, n_outputs, total_size = HEADER.unpack_from(data)
    if magic != MAGIC:
        fail("magic", f"{magic!r} is not {MAGIC!r} (not a TinyPolicy blob)")
    if version == 1:
        fail("version", "version 1 blobs are no longer loaded: re-export with `tinypolicy export` / "
                        "`tinypolicy convert`")
    if version != VERSION:
        fail("version", f"{version} is not supported (this reader knows version {VERSION})")
    if dcode not in DTYPE_NAMES:
        fail("dtype", f"unknown code {dcode} (0 f32, 1 int8, 2 q15)")
    dtype = DTYPE_NAMES[dcode]
    a16, argmax = bool(flags & FLAG_A16), bool(flags & FLAG_ARGMAX)
    if flags & ~(FLAG_A16 | FLAG_ARGMAX) or (a16 and dtype != "int8"):
        fail("flags", f"{flags:#04x}: only bit0 A16 (int8 only) and bit1 ARGMAX are defined")
    scheme = "f32" if dtype == "f32" else ("q15" if dtype == "q15" else ("w8a16" if a16 else "w8a8"))
    for fld, value, top in (("n_layers", n_layers, MAX_LAYERS), ("n_inputs", n_inputs, MAX_INPUTS),
                            ("n_features", n_features, MAX_FEATURES),
                            ("n_outputs", n_outputs, 1 if argmax else MAX_OUTPUTS)):
        if not 1 <= value <= top:
            fail(fld, f"{value} is outside 1…{top}")
    if total_size != size:
        fail("total_size", f"header says {total_size} bytes but the file has {size} (truncated or padded?)")
    o_in = HEADER.size
    o_feat = o_in + INPUT.size * n_inputs
    o_layer = o_feat + FEATURE.size * n_features
    o_out = o_layer + LAYER.size * n_layers
    tables_end = o_out + OUTPUT.size * n_outputs
    if size < tables_end + CRC_SIZE:
        fail("tables", f"truncated: {size} bytes, the tables need {tables_end + CRC_SIZE}")
    inputs_raw = [INPUT.unpack_from(data, o_in + INPUT.size * i) for i in range(n_inputs)]
    feats = [QFeature(m, s, off, lo, hi) for off, lo, hi, m, s in
             (FEATURE.unpack_from(data, o_feat + FEATURE.size * f) for f in range(n_features))]
    table = [LAYER.unpack_from(data, o_layer + LAYER.size * k) for k in range(n_layers)]
    outs_raw = [OUTPUT.unpack_from(data, o_out + OUTPUT.size * j) for j in range(n_outputs)]

    # ---- input and feature tables ----
    kinds, f = [], 0
    for i, (kind, frac, *_vals) in enumerate(inputs_raw):
        if kind >= len(INPUT_KINDS):
            fail(f"input {i} kind", f"unknown code {kind} (0 affine, 1 angle)")
        kinds.append(INPUT_KINDS[kind])
        if kinds[-1] == "angle" and frac != 12:
            fail(f"input {i} frac", f"{frac}: an angle input is Q12")
        if frac > MAX_FRAC:
            fail(f"input {i} frac", f"{frac} exceeds {MAX_FRAC}")
        f += 2 if kinds[-1] == "angle" else 1
    if f != n_features:
        fail("n_features", f"{n_features}, but the inputs expand to {f} features")
    f = 0
    for kind in kinds:
        for _ in range(2 if kind == "angle" else 1):
            q = feats[f]
            if dtype == "f32" and (q.qoff or q.qlo or q.qhi or q.fmult or q.fshift):
                fail(f"feature {f}", "must be all zero in an f32 blob")
            if kind == "angle" and (q.qoff or q.qlo or q.qhi):
                fail(f"feature {f} qoff/qlo/qhi", "must be 0 for an angle feature")
            if q.qlo > q.qhi:
                fail(f"feature {f} qlo/qhi", f"qlo {q.qlo} > qhi {q.qhi}")
            if q.fshift > MAX_SHIFT:
                fail(f"feature {f} fshift", f"{q.fshift} exceeds {MAX_SHIFT}")
            f += 1

    # ---- layer table ----
    prev = n_features
    for k, (n_in, n_out, act, pshift, lo, hi) in enumerate(table):
        last = k == n_layers - 1
        top = (MAX_CLASSES if argmax else MAX_OUTPUTS) if last else MAX_HIDDEN
        if not 1 <= n_in <= max(MAX_HIDDEN, MAX_FEATURES):
            fail(f"layer {k} n_in", f"{n_in} is outside 1…{MAX_HIDDEN}")
        if n_in != prev:
            fail(f"layer {k} n_in", f"{n_in} does not match the previous output size {prev}")
        if not (2 if last and argmax else 1) <= n_out <= top:
            fail(f"layer {k} n_out", f"{n_out} is outside {2 if last and argmax else 1}…{top}")
        if act >= len(ACTIVATIONS):
            fail(f"layer {k} activation", f"unknown code {act} (0 identity, 1 relu, 2 tanh, 3 hardtanh, 4 sigmoid, "
                                          "5 clip)")
        if pshift > MAX_PSHIFT:
            fail(f"layer {k} pshift", f"{pshift} exceeds {MAX_PSHIFT}")
        if dtype == "f32" and ACTIVATIONS[act] == "clip":
            flo, fhi = struct.unpack("<ff", struct.pack("<ii", lo, hi))
            if pshift or not (math.isfinite(flo) and math.isfinite(fhi) and flo < fhi):
                fail(f"layer {k} pshift/lo/hi", "an f32 clip layer needs pshift 0 and float32 lo < hi, finite")
        elif dtype == "f32":
            if pshift or lo or hi:
                fail(f"layer {k} pshift/lo/hi", "must be 0 in an f32 blob")
        else:
            if lo > hi:
                fail(f"layer {k} lo/hi", f"lo {lo} > hi {hi}")
            if ACTIVATIONS[act] == "relu" and lo != 0:
                fail(f"layer {k} lo", f"{lo}: a relu layer clamps at lo = 0")
            if ACTIVATIONS[act] in TABLE_ACTIVATIONS and (lo < -TANH_LIMIT_Q12 or hi > TANH_LIMIT_Q12):
                fail(f"layer {k} lo/hi", f"{lo}, {hi}: a {ACTIVATIONS[act]} pre-activation must stay within "
                                         f"±{TANH_LIMIT_Q12}")
            if not last and (lo < I16_MIN or hi > I16_MAX):
                fail(f"layer {k} lo/hi", f"{lo}, {hi}: outside the int16 activation buffers ({I16_MIN}…{I16_MAX})")
        prev = n_out
    if not argmax and prev != n_outputs:
        fail(f"layer {n_layers - 1} n_out", f"{prev} does not match n_outputs {n_outputs}")

    # ---- output table ----
    outputs = [QOutput(frac, scale, off, lo, hi, omult, ooff=ooff, oshift=oshift, qlo=qlo, qhi=qhi)
               for frac, oshift, scale, off, lo, hi, omult, ooff, qlo, qhi in outs_raw]
    for j, o in enumerate(outputs):
        if not all(math.isfinite(v) for v in (o.scale, o.offset, o.lo, o.hi)):
            fail(f"output {j} scale/offset/lo/hi", "must be finite")
        if o.frac > MAX_FRAC:
            fail(f"output {j} frac", f"{o.frac} exceeds {MAX_FRAC}")
        if o.oshift > MAX_SHIFT:
            fail(f"output {j} oshift", f"{o.oshift} exceeds {MAX_SHIFT}")
        if o.lo > o.hi:
            fail(f"output {j} lo/hi", f"{o.lo} > {o.hi}")
        if max(abs(o.lo), abs(o.hi)) * 2.0**o.frac >= Q_LIMIT:
            fail(f"output {j} lo/hi", f"|range|·2^{o.frac} must stay below 2^24")
        if o.qlo > o.qhi:
            fail(f"output {j} qlo/qhi", f"qlo {o.qlo} > qhi {o.qhi}")
        if o.qlo < o.lo * 2.0**o.frac or o.qhi > o.hi * 2.0**o.frac:
            fail(f"output {j} qlo/qhi", f"{o.qlo}, {o.qhi} in Q{o.frac} leave the declared range [{o.lo}, {o.hi}]")
        if argmax and (o.frac, o.oshift, o.scale, o.offset, o.lo, o.hi, o.omult, o.ooff, o.qlo, o.qhi) != (
                0, 0, 1.0, 0.0, 0.0, float(prev - 1), 1, 0, 0, prev - 1):
            fail(f"output {j}", f"an argmax head's entry must be frac 0, oshift 0, scale 1, offset 0, lo 0, "
                                f"hi {prev - 1}, omult 1, ooff 0, qlo 0, qhi {prev - 1}")
    expected = blob_size(dtype, [n_features] + [t[1] for t in table], n_inputs, n_outputs)
    if expected != total_size:
        fail("total_size", f"{total_size} bytes but the tables imply {expected}")

    # ---- after the read: CRC, floats, arrays, bounds ----
    crc_stored = struct.unpack_from("<I", data, size - CRC_SIZE)[0]
    crc = binascii.crc32(data[:size - CRC_SIZE]) & 0xFFFFFFFF
    if crc != crc_stored:
        fail("crc32", f"stored {crc_stored:#010x}, computed {crc:#010x} (file corrupted)")
    inputs = []
    for i, (_kind, frac, off, scale, lo, hi) in enumerate(inputs_raw):
        if kinds[i] == "angle":
            if (off, scale, lo, hi) != (0.0, 0.0, 0.0, 0.0):
                fail(f"input {i} offset/scale/lo/hi", "must be 0 for an angle input")
        elif not (all(math.isfinite(v) for v in (off, scale, lo, hi)) and lo < hi):
            fail(f"input {i} offset/scale/lo/hi", f"{off}, {scale}, {lo}, {hi}: must be finite with lo < hi")
        inputs.append(InputSpec(kinds[i], frac, off, scale, lo, hi))
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
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                fail(f"layer {k} weight/bias", "non-finite value")
            bounds = struct.unpack("<ff", struct.pack("<ii", lo, hi)) if ACTIVATIONS[act] == "clip" else (0.0, 0.0)
            layers.append(DenseSpec(w.astype(np.float32), b.astype(np.float32), ACTIVATIONS[act], *bounds))
            continue
        mult = take("<i4", n_out)
        shift = take("<u1", n_out)
        if shift.max() > MAX_SHIFT:
            fail(f"layer {k} shift", f"{int(shift.max())} exceeds {MAX_SHIFT}")
        layers.append(QLayer(ACTIVATIONS[act], int(pshift), int(lo), int(hi), w.astype(np.int64),
                             b.astype(np.int64), mult.astype(np.int64), shift.astype(np.int64)))
    assert pos == size - CRC_SIZE, (pos, size)
    if dtype == "f32":
        outs = [OutputSpec(o.frac, o.scale, o.offset, o.lo, o.hi) for o in outputs]
        return MLPSpec(inputs, layers, outs, argmax)
    model = QuantMLP(dtype, a16, argmax, inputs, feats, layers, outputs)
    violations = int32_bound_violations(model)
    if violations:
        fld, _, what = violations[0].partition(": ")
        fail(fld, what + " (32-bit and 64-bit devices would disagree)")
    assert model.scheme == scheme
    return model


def blob_scheme(model: MLPSpec | QuantMLP) -> str:
    """'f32' | 'w8a8' | 'w8a16' | 'q15'."""
    return model.scheme if isinstance(model, QuantMLP) else "f32"
