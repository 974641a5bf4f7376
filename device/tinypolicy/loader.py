# device: policy blob loader (format version 2): every check before anything sized by the file is allocated.
# Blob format: models/README.md (version 2, little-endian; the agreed contract). `load(path, max_bytes)` returns
# a `Model`; every failure raises ModelError("<path>: <field>: <what>").
#
# Order of checks: the path is a regular file (stat mode: not a directory, not a FIFO), size <= max_bytes, the
# 16-byte header (magic, version — version 1 gets the re-export message —, dtype, flags, counts within limits,
# total_size = file size), then the tables, read into one small buffer (<= 5.2 KB for the largest legal tables):
# inputs (kind, frac, float fields finite, affine lo < hi), n_features = sum of the inputs' features, features
# (fshift, clamps, angle entries zero, the int32 bound), layers (dims chained, activation, pshift, lo/hi rules),
# outputs (declared range bounded and finite, integer clamp inside it, argmax entry), total_size = the size implied
# by the tables. Only then is the blob buffer allocated and read, then CRC32, then per layer: f32 weights and
# biases finite, int shifts <= 31, and the int32 bounds of the dense arithmetic and of the output stage (the host
# reader's rule: `_dense_bounds`).
#
# Model: dtype 'f32' | 'int8' | 'q15', scheme, a16, argmax, n_inputs, n_features, n_outputs, n_layers, blob (the
# whole file: kernels read weights, bias, mult, shift, the feature and the output tables in place; every table and
# section starts at a multiple of 4), inputs [(kind, frac, offset, scale, lo, hi)], outputs [(frac, oshift, scale,
# offset, lo, hi, omult, ooff, qlo, qhi)], layers [(n_in, n_out, act, pshift, lo, hi, w_off, b_off)] (byte offsets),
# feat_off / out_off (byte offsets of the feature / output tables), desc (int dtypes: the kernel descriptor).
#
# Kernel descriptor and buffers (int dtypes): `blob` holds the file (total_size bytes), then the descriptor of
# _D_LAYERS + 8 * n_layers int32 at byte total_size (the kernels find it through the header's total_size), then the
# two int16 ping-pong activation buffers of _D_HALF entries each, so the kernel takes one buffer and the caller's
# inp / out (each buffer argument of a viper call costs ~160 x64 instructions of checks). Descriptor header:
# _D_NLAYERS, _D_AMIN / _D_AMAX (feature clamp: -128, 127 for A8, else -32768, 32767), _D_WIDE (0 int8 weights,
# 1 int16), _D_HALF (max(n_features, widest hidden layer)), _D_NIN, _D_FEAT (byte offset of the feature table), _D_NOUT,
# _D_OUT (byte offset of the output table), _D_A16 (1: 16-bit tanh / sigmoid hand-off: int8 A16 and q15), _D_ARGMAX,
# _D_RUN (layers to run: n_layers; fewer = `Policy.run_layers`), _D_OUTID (1: every output stage is the identity on
# the last layer's clamp range, as the pendulum's: skipped), _D_ACT (byte offset of the activation buffers), then
# per layer the v1 entry of 8 ints: n_in, n_out, act, pshift, lo, hi, w_off (in weight elements: bytes for int8,
# halfwords for q15), b_off (in 32-bit words; mult follows at b_off + n_out words, the shift bytes at byte
# 4 * (b_off + 2 * n_out)).
import struct

from micropython import const

from tinypolicy import checks as _c
from tinypolicy.errors import ModelError

_HEADER = const(16)
_D_LAYERS = const(16)  # descriptor words before the per-layer entries (the header words above: 0..13, _load)


class Model:
    """The loaded blob (fields: the module docstring); built by load()."""

    dtype: str
    scheme: str
    a16: int
    argmax: int
    blob: bytearray
    conv: tuple
    n_inputs: int
    n_features: int
    n_outputs: int
    n_layers: int
    inputs: list
    outputs: list
    layers: list
    feat_off: int
    out_off: int
    desc_off = None  # int dtypes: byte offset of the kernel descriptor in blob (= total_size)


def _crc32(data):
    try:
        from binascii import crc32  # unix, rp2, esp32, webassembly builds

        return crc32(data) & 0xFFFFFFFF
    except ImportError:
        pass
    crc = 0xFFFFFFFF  # small fallback: zlib polynomial, bitwise (ports without binascii.crc32)
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def load(path, max_bytes=98304):
    """Validate and load a blob; returns a Model or raises ModelError naming the file and the field. The default
    max_bytes, 96 KiB, fits a 17-256-256-6 int8 net (an RP2040 heap keeps ~100 KB)."""
    import os

    def fail(field, what):
        raise ModelError("%s: %s: %s" % (path, field, what))

    try:
        st = os.stat(path)
        kind = st[0] & 0xF000
        if kind == 0x4000:
            fail("read", "is a directory")
        if kind and kind != 0x8000:  # FIFO, device, socket: reading could block forever
            fail("read", "not a regular file")
        if st[6] > max_bytes:
            fail("file size", "needs %d bytes, max_bytes is %d" % (st[6], max_bytes))
        f = open(path, "rb")
    except OSError as exc:
        fail("cannot open", exc)
    try:
        return _load(f, st[6], fail)
    except OSError as exc:  # EIO, EISDIR on ports whose stat has no mode, ...
        fail("read", exc)
    finally:
        f.close()


def _header(head, size, fail):
    if len(head) < _HEADER:
        fail("header", "truncated: %d bytes" % len(head))
    magic, version, dcode, flags, n_layers, n_inputs, n_features, n_outputs, total = struct.unpack(
        "<4sHBBBBBBI", head)
    if magic != b"TPOL":
        fail("magic", "%r: not a TinyPolicy blob" % magic)
    if version == 1:
        fail("version", "version 1 blobs are no longer loaded: re-export with `tinypolicy export` / "
             "`tinypolicy convert`")
    if version != 2:
        fail("version", "%d is not supported (only 2)" % version)
    if dcode > 2:
        fail("dtype", "%d: 0 f32, 1 int8, 2 q15" % dcode)
    if flags & ~3 or (flags & 1 and dcode != 1):
        fail("flags", "0x%02x: bit0 A16 (int8 only), bit1 ARGMAX" % flags)
    for name, v, top in (("n_layers", n_layers, 8), ("n_inputs", n_inputs, 64), ("n_features", n_features, 128),
                         ("n_outputs", n_outputs, 1 if flags & 2 else 16)):
        if not 1 <= v <= top:
            fail(name, "%d is outside 1..%d" % (v, top))
    if total != size:
        fail("total_size", "%d bytes, the file has %d" % (total, size))
    return dcode, flags, n_layers, n_inputs, n_features, n_outputs


def _load(f, size, fail):
    head = f.read(_HEADER)
    dcode, flags, n_layers, n_inputs, n_features, n_outputs = _header(head, size, fail)
    quant = dcode != 0
    argmax = flags >> 1
    feat_off = _HEADER + 20 * n_inputs
    lay_off = feat_off + 20 * n_features
    out_off = lay_off + 16 * n_layers
    sec_off = out_off + 36 * n_outputs
    if size < sec_off + 4:
        fail("tables", "truncated: %d bytes, the tables need %d" % (size, sec_off + 4))
    tabs = f.read(sec_off - _HEADER)  # <= 64*20 + 128*20 + 8*16 + 16*36 bytes
    if len(tabs) != sec_off - _HEADER:
        fail("tables", "truncated")
    inputs = _c.inputs(tabs, n_inputs, n_features, fail)
    conv = _c.features(tabs, feat_off - _HEADER, inputs, quant, fail)
    layers, n_last = _c.layers(tabs, lay_off - _HEADER, n_layers, n_features, n_outputs, quant, argmax, fail)
    outputs = _c.outputs(tabs, out_off - _HEADER, n_outputs, argmax, n_last, fail)
    wsize = (4, 1, 2)[dcode]
    pos = sec_off
    half = n_features
    for t in layers:
        n_out = t[1]
        t.append(pos)  # w_off
        pos += (t[0] * n_out * wsize + 3) & ~3
        t.append(pos)  # b_off
        pos += 4 * n_out
        if quant:
            pos += 4 * n_out + ((n_out + 3) & ~3)
        if t is not layers[-1]:
            half = max(half, n_out)
    if pos + 4 != size:
        fail("total_size", "%d bytes, the tables imply %d" % (size, pos + 4))

    # Sizes are consistent and bounded: read the file into its one buffer (int dtypes: with room behind it for
    # the kernel descriptor and the two activation buffers), then check the CRC.
    dsize = 4 * (_D_LAYERS + 8 * n_layers)
    blob = bytearray(size + (dsize + 4 * half if quant else 0))
    mv = memoryview(blob)
    blob[:_HEADER] = head
    blob[_HEADER:sec_off] = tabs
    tabs = None
    n = f.readinto(mv[sec_off:size])
    if n != size - sec_off:
        fail("total_size", "file ended early (%d of %d bytes)" % (sec_off + (n or 0), size))
    stored = struct.unpack_from("<I", blob, size - 4)[0]
    crc = _crc32(mv[:size - 4])
    if crc != stored:
        fail("crc32", "CRC mismatch (stored 0x%08x, computed 0x%08x)" % (stored, crc))
    a16 = dcode == 2 or flags & 1
    if quant:
        _c.dense_bounds(blob, layers, outputs, dcode == 2, a16, argmax, fail)
    else:
        _c.floats_finite(blob, layers, fail)

    m = Model()
    m.dtype = ("f32", "int8", "q15")[dcode]
    m.scheme = ("f32", "w8a16" if a16 else "w8a8", "q15")[dcode]
    m.a16, m.argmax, m.blob, m.conv = a16, argmax, blob, conv
    m.n_inputs, m.n_features, m.n_outputs, m.n_layers = n_inputs, n_features, n_outputs, n_layers
    m.inputs, m.outputs, m.layers, m.feat_off, m.out_off = inputs, outputs, layers, feat_off, out_off
    if quant:
        # The kernel descriptor (module docstring): header words, then per layer n_in, n_out, act, pshift, lo, hi,
        # w_off in weight elements, b_off in words.
        _n, _o, act, _p, lo, hi, _w, _b = layers[-1]
        oid = not argmax and act != 2 and act != 4
        for e in outputs:  # (frac, oshift, ..., omult, ooff, qlo, qhi): y -> y, and the clamp changes nothing
            if e[1] or e[6] != 1 or e[7] or e[8] > lo or e[9] < hi:
                oid = False
        struct.pack_into("<14i", blob, size,
                         n_layers,  # word 0 _D_NLAYERS
                         -32768 if a16 else -128,  # 1 _D_AMIN
                         32767 if a16 else 127,  # 2 _D_AMAX
                         dcode == 2,  # 3 _D_WIDE
                         half,  # 4 _D_HALF
                         n_inputs,  # 5 _D_NIN
                         feat_off,  # 6 _D_FEAT
                         n_outputs,  # 7 _D_NOUT
                         out_off,  # 8 _D_OUT
                         1 if a16 else 0,  # 9 _D_A16
                         argmax,  # 10 _D_ARGMAX
                         n_layers,  # 11 _D_RUN (Policy.run_layers lowers it)
                         oid,  # 12 _D_OUTID
                         size + dsize)  # 13 _D_ACT; words 14, 15 stay 0
        for k in range(n_layers):
            t = layers[k]
            struct.pack_into("<8i", blob, size + 4 * _D_LAYERS + 32 * k, *t[:6], t[6] // wsize, t[7] // 4)
        m.desc_off = size
    return m
