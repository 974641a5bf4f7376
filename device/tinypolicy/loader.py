# device: policy blob loader: validates header, tables, sizes and CRC32 before allocating the model.
"""Blob format: models/README.md (version 1, little-endian).

`load(path)` returns a `Model`:
- `dtype` 'f32' | 'int8' | 'q15', `vel_scale`, `max_torque` (floats), `n_layers`;
- `blob`: the whole file as a bytearray (int8 / q15 kernels read weights, bias, mult and shift in place: every
  section starts at a multiple of 4, and all targets are little-endian);
- `desc`: array('i') descriptor read by kernels.forward (layout: the _D_* / _L_* constants below);
- `layers`: list of (n_in, n_out, activation, w_off, b_off) byte offsets (the float path uses them).

Order of checks (the header and tables are read into small fixed buffers; nothing sized by the file is allocated
before the structural checks pass): file exists and is not a directory, file size <= 64 KiB, header length, magic,
version, dtype, n_layers 1..8, n_inputs 2, n_features 3, n_outputs 1, total_size == file size, per layer n_in /
n_out 1..64 and chained, activation known, pshift <= 15, lo <= hi, relu lo == 0, tanh / sigmoid |lo|, |hi| <=
16384, other hidden lo/hi within int16 (activation buffers), f32 pshift / lo / hi zero, total_size == size implied
by the layer table. Then the blob buffer (bytearray(total_size), <= 64 KiB) is allocated and the file read into it,
then CRC32, vel_scale / max_torque finite, and (int8 / q15) the descriptor is built: 11 + 8 * n_layers ints (35 for
the shipped 3-layer nets), checking every fshift and per-output shift <= 31 and every feature's |v * fmult| +
R(fshift) within int32 (v: 16384 for cos / sin, 131072 for theta_dot) as it goes. The int8 / q15 model's RAM is
the blob itself (720 bytes for the shipped 2x16 int8 net) + descriptor + 2 activation buffers: ~1.5 KB per
loaded int8 policy, measured with gc.mem_alloc.
Every failure raises ModelError("<path>: <field>: <what>"); I/O errors (a directory, an unreadable file) use the
field "cannot open" or "read".
"""
import struct
from array import array

from micropython import const

from tinypolicy.errors import ModelError

MAGIC = b"TPOL"
_VERSION = const(1)
DTYPES = ("f32", "int8", "q15")
ACTIVATIONS = ("identity", "relu", "tanh", "hardtanh", "sigmoid")
_N_INPUTS = const(2)
_N_FEATURES = const(3)
_N_OUTPUTS = const(1)
_MAX_LAYERS = const(8)
_MAX_UNITS = const(64)
_MAX_PSHIFT = const(15)
_MAX_SHIFT = const(31)
_MAX_FILE = const(65536)
_HEADER_SIZE = const(24)
_FEATURE_SIZE = const(8)
_LAYER_SIZE = const(16)
_TANH_LIMIT = const(16384)

# desc (array('i')) layout for kernels.forward
_D_NLAYERS = const(0)
_D_AMIN = const(1)
_D_AMAX = const(2)
_D_WIDE = const(3)  # 0 int8 weights, 1 int16 weights
_D_FMULT = const(4)  # 3 entries
_D_FSHIFT = const(7)  # 3 entries
_D_HALF = const(10)  # size of one int16 activation buffer: max(3, widest layer); act holds two of them
_D_LAYERS = const(11)  # then 8 ints per layer:
_L_NIN = const(0)
_L_NOUT = const(1)
_L_ACT = const(2)
_L_PSHIFT = const(3)
_L_LO = const(4)
_L_HI = const(5)
_L_WOFF = const(6)  # weight offset in weight elements (bytes for int8, halfwords for q15)
_L_BOFF = const(7)  # bias offset in 32-bit words; mult follows at +n_out words, shift bytes at +2*n_out words
_L_STRIDE = const(8)


class Model:
    def __init__(self, dtype, vel_scale, max_torque, blob, desc, layers):
        self.dtype = dtype
        self.vel_scale = vel_scale
        self.max_torque = max_torque
        self.blob = blob
        self.desc = desc
        self.layers = layers
        self.n_layers = len(layers)


def _pad4(n):
    return (n + 3) & ~3


def _crc32(data):
    try:
        from binascii import crc32  # unix, rp2, esp32 builds

        return crc32(data) & 0xFFFFFFFF
    except ImportError:
        pass
    crc = 0xFFFFFFFF  # small fallback: zlib polynomial, bitwise (ports without binascii.crc32)
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def load(path):
    """Validate and load a blob; returns a Model or raises ModelError naming the file and the field."""
    import os

    def fail(field, what):
        raise ModelError("%s: %s: %s" % (path, field, what))

    try:
        st = os.stat(path)
    except OSError as exc:
        raise ModelError("%s: cannot open: no such file (%s)" % (path, exc))
    if st[0] & 0xF000 == 0x4000:  # S_IFDIR
        fail("read", "is a directory")
    size = st[6]
    if size > _MAX_FILE:
        fail("file size", "%d bytes exceeds the %d-byte limit" % (size, _MAX_FILE))
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise ModelError("%s: cannot open: %s" % (path, exc))
    try:
        return _load(f, size, fail)
    except OSError as exc:  # EIO, EISDIR on ports whose stat has no mode, ...
        fail("read", str(exc))
    finally:
        f.close()


def _load(f, size, fail):
    head = f.read(_HEADER_SIZE)
    if len(head) < _HEADER_SIZE:
        fail("header", "truncated: %d bytes, the header alone is %d" % (len(head), _HEADER_SIZE))
    magic, version, dcode, n_layers, n_inputs, n_features, n_outputs, _r, total, vel_scale, max_torque = (
        struct.unpack("<4sHBBBBBBIff", head))
    if magic != MAGIC:
        fail("magic", "%r is not %r (not a TinyPolicy blob)" % (magic, MAGIC))
    if version != _VERSION:
        fail("version", "%d is not supported (this loader knows version %d)" % (version, _VERSION))
    if dcode >= len(DTYPES):
        fail("dtype", "unknown code %d (0 f32, 1 int8, 2 q15)" % dcode)
    dtype = DTYPES[dcode]
    if not 1 <= n_layers <= _MAX_LAYERS:
        fail("n_layers", "%d is outside 1..%d" % (n_layers, _MAX_LAYERS))
    if n_inputs != _N_INPUTS:
        fail("n_inputs", "%d, expected %d" % (n_inputs, _N_INPUTS))
    if n_features != _N_FEATURES:
        fail("n_features", "%d, expected %d" % (n_features, _N_FEATURES))
    if n_outputs != _N_OUTPUTS:
        fail("n_outputs", "%d, expected %d" % (n_outputs, _N_OUTPUTS))
    if total != size:
        fail("total_size", "header says %d bytes but the file has %d (truncated or padded?)" % (total, size))
    tables_end = _HEADER_SIZE + _FEATURE_SIZE * _N_FEATURES + _LAYER_SIZE * n_layers
    tabs = f.read(tables_end - _HEADER_SIZE)
    if len(tabs) < tables_end - _HEADER_SIZE or size < tables_end + 4:
        fail("layer table", "truncated: %d bytes, the tables need %d" % (size, tables_end + 4))

    wsize = (4, 1, 2)[dcode]
    quant = dcode != 0
    pos = tables_end
    prev = _N_FEATURES
    layers = []
    for k in range(n_layers):
        n_in, n_out, act, pshift, lo, hi = struct.unpack_from("<HHBB2xii", tabs, 24 + _LAYER_SIZE * k)
        name = "layer %d " % k
        if not 1 <= n_in <= _MAX_UNITS:
            fail(name + "n_in", "%d exceeds limit 1..%d" % (n_in, _MAX_UNITS))
        if not 1 <= n_out <= _MAX_UNITS:
            fail(name + "n_out", "%d exceeds limit 1..%d" % (n_out, _MAX_UNITS))
        if n_in != prev:
            fail(name + "n_in", "%d does not match the previous output size %d" % (n_in, prev))
        if act >= len(ACTIVATIONS):
            fail(name + "activation", "unknown code %d (0 identity, 1 relu, 2 tanh, 3 hardtanh, 4 sigmoid)" % act)
        if pshift > _MAX_PSHIFT:
            fail(name + "pshift", "%d exceeds %d" % (pshift, _MAX_PSHIFT))
        if not quant and (pshift or lo or hi):
            fail(name + "pshift/lo/hi", "must be 0 in an f32 blob")
        if quant:
            if lo > hi:
                fail(name + "lo/hi", "lo %d > hi %d" % (lo, hi))
            if act == 1 and lo != 0:
                fail(name + "lo", "%d: a relu layer clamps at lo = 0" % lo)
            table = act == 2 or act == 4  # tanh, sigmoid: lo, hi clamp the tanh table's input
            if table and (lo < -_TANH_LIMIT or hi > _TANH_LIMIT):
                fail(name + "lo/hi", "%d, %d: a %s pre-activation must stay within +-%d" % (
                    lo, hi, ACTIVATIONS[act], _TANH_LIMIT))
            if not table and k < n_layers - 1 and (lo < -32768 or hi > 32767):
                fail(name + "lo/hi", "%d, %d: outside the int16 activation buffers" % (lo, hi))
        w_off = pos
        pos += _pad4(n_in * n_out * wsize)
        b_off = pos
        pos += 4 * n_out
        if quant:
            pos += 4 * n_out + _pad4(n_out)
        layers.append((n_in, n_out, act, pshift, lo, hi, w_off, b_off))
        prev = n_out
    if prev != _N_OUTPUTS:
        fail("layer %d n_out" % (n_layers - 1), "%d does not match n_outputs %d" % (prev, _N_OUTPUTS))
    if pos + 4 != total:
        fail("total_size", "%d bytes but the layer table implies %d" % (total, pos + 4))

    # Sizes are consistent and bounded: read the file into its one buffer, then check the CRC.
    blob = bytearray(size)
    blob[:tables_end] = head + tabs
    mv = memoryview(blob)
    n = f.readinto(mv[tables_end:])
    if n != size - tables_end:
        fail("total_size", "file ended early (%d of %d bytes)" % (tables_end + (n or 0), size))
    stored = struct.unpack_from("<I", blob, size - 4)[0]
    crc = _crc32(mv[:size - 4])
    if crc != stored:
        fail("crc32", "CRC mismatch (stored 0x%08x, computed 0x%08x)" % (stored, crc))
    if not (max_torque > 0 and max_torque < 1e30 and -1e30 < vel_scale < 1e30):
        fail("vel_scale/max_torque", "%r, %r: must be finite, max_torque > 0" % (vel_scale, max_torque))

    desc = None
    if quant:
        desc = array("i", bytes(4 * (_D_LAYERS + _L_STRIDE * n_layers)))
        desc[_D_NLAYERS] = n_layers
        desc[_D_AMIN], desc[_D_AMAX] = (-128, 127) if dcode == 1 else (-32768, 32767)
        desc[_D_WIDE] = dcode - 1
        half = _N_FEATURES
        for t in layers:
            half = max(half, t[1])
        desc[_D_HALF] = half
        for i in range(_N_FEATURES):
            fmult, fshift = struct.unpack_from("<iB", blob, _HEADER_SIZE + _FEATURE_SIZE * i)
            if fshift > _MAX_SHIFT:
                fail("feature %d fshift" % i, "%d exceeds %d" % (fshift, _MAX_SHIFT))
            # |v * fmult| + R(fshift) < 2^31 for every source value v (|cos|, |sin| <= 16384 Q14, |theta_dot| <=
            # 131072 Q12 after its clamp): the host reader's rule (quant.int32_bound_violations)
            src = 131072 if i == 2 else 16384
            if (src * abs(fmult) + (1 << fshift >> 1)) >> 31:  # > 2^31 - 1: 32-bit and 64-bit ports would disagree
                fail("feature %d fmult" % i, "|%d*%d| + R(%d) exceeds int32" % (src, fmult, fshift))
            desc[_D_FMULT + i] = fmult
            desc[_D_FSHIFT + i] = fshift
        for k in range(n_layers):
            n_in, n_out, act, pshift, lo, hi, w_off, b_off = layers[k]
            s_off = b_off + 8 * n_out
            for j in range(n_out):
                if blob[s_off + j] > _MAX_SHIFT:
                    fail("layer %d shift" % k, "%d exceeds %d" % (blob[s_off + j], _MAX_SHIFT))
            d = _D_LAYERS + _L_STRIDE * k
            desc[d + _L_NIN] = n_in
            desc[d + _L_NOUT] = n_out
            desc[d + _L_ACT] = act
            desc[d + _L_PSHIFT] = pshift
            desc[d + _L_LO] = lo
            desc[d + _L_HI] = hi
            desc[d + _L_WOFF] = w_off // wsize
            desc[d + _L_BOFF] = b_off // 4
    return Model(dtype, vel_scale, max_torque, blob, desc, [(t[0], t[1], t[2], t[6], t[7]) for t in layers])
