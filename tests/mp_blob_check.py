# device: the device side of the blob fuzz (tests/blobfuzz.py): load N blobs, run each accepted one.
#
#   micropython -X heapsize=512K tests/mp_blob_check.py FOLDER N     (MICROPYPATH=device)
#
# One line per blob FOLDER/<i>.bin: "<i> R <ModelError text>", "<i> M" (MemoryError), "<i> X <other exception>",
# or "<i> A <outputs checked> <NaN outputs> <outputs outside the declared range> [<first run error>]".
# An accepted blob runs infer_q on int32 input vectors (in-range values and the int32 extremes, every input the
# same and mixed) and infer on float vectors (up to +-1e300), arrays sized from n_inputs / n_outputs. Every output
# is checked against the range the file itself declares (its output table, read here from the bytes): infer_q's
# out[j] within qlo..qhi and within the declared lo..hi in Q`frac`, infer's floats within lo..hi; an argmax head's
# index within 0..classes-1 (the last layer's n_out). Run errors: any exception (a NaN / inf input must raise
# ValueError naming that input; a finite one only when the input is an angle beyond the Q12 int32 range), an
# output list of the wrong length, a write past out[n_outputs - 1]. int8 / q15 blobs run twice where the port has
# viper: on the automatic kernel and on the portable one, which must give the same infer_q outputs bit for bit.
import gc
import struct
import sys
from array import array

from tinypolicy import ModelError, Policy

INTS = (0, 1, -1, 4096, -4096, 12868, -12868, 131072, -131072, 4194303, -4194303, 1 << 24, 2147483647,
        -2147483648)
FLOATS = (0.0, 0.25, -0.25, 1.0, -1.0, 3.14159, -3.14159, 8.0, -8.0, 40.0, -40.0, 1e6, -1e6, 1e30, -1e30, 1e300,
          -1e300)
NONFINITE = (float("nan"), float("inf"), float("-inf"))
_LIM = 2147483647 / 4096  # an angle given to infer must stay within +-_LIM rad (Q12 int32)
GUARD = 0x5A5A5A5A  # two ints behind out[n_outputs - 1]: a kernel writing past its outputs changes them


def declared(path):
    """Per output (frac, lo, hi, qlo, qhi) from the file's output table; argmax: (0, 0, classes - 1, 0, classes -
    1) from the layer table. lo/hi are floats (the declared range); qlo/qhi ints."""
    with open(path, "rb") as f:
        data = f.read()
    n_layers, n_inputs, n_features, n_outputs = data[8], data[9], data[10], data[11]
    lay = 16 + 20 * n_inputs + 20 * n_features
    if data[7] & 2:
        classes = struct.unpack_from("<H", data, lay + 16 * (n_layers - 1) + 2)[0]
        return [(0, 0.0, classes - 1.0, 0, classes - 1)]
    base = lay + 16 * n_layers
    out = []
    for j in range(n_outputs):
        frac, lo, hi, qlo, qhi = struct.unpack_from("<B3x8xff8xii", data, base + 36 * j)
        out.append((frac, lo, hi, qlo, qhi))
    return out


def angles(path):
    with open(path, "rb") as f:
        data = f.read(16 + 20 * 64)
    return [data[16 + 20 * i] == 1 for i in range(data[9])]


class Check:
    def __init__(self, p, path):
        self.p = p
        self.decl = declared(path)
        self.angle = angles(path)
        self.n = self.nan = self.outside = 0
        self.err = ""
        self.trace = []  # every infer_q output, in order (the kernels must agree bit for bit)

    def fail(self, what):
        self.err = self.err or what.replace("\n", " ")

    def ints(self, inp, out):
        p = self.p
        for j in range(p.n_outputs, len(out)):
            out[j] = GUARD
        try:
            p.infer_q(inp, out)
        except Exception as exc:  # noqa: BLE001 - reported
            self.fail("infer_q%r: %r" % (list(inp), exc))
            return
        for j in range(p.n_outputs, len(out)):
            if out[j] != GUARD:
                self.fail("infer_q%r wrote out[%d]" % (list(inp), j))
        for j in range(p.n_outputs):
            frac, lo, hi, qlo, qhi = self.decl[j]
            v = out[j]
            self.trace.append(v)
            self.n += 1
            if not (qlo <= v <= qhi and lo * (1 << frac) <= v <= hi * (1 << frac)):
                self.outside += 1
                self.fail("infer_q%r: out[%d] = %d outside %d..%d" % (list(inp), j, v, qlo, qhi))

    def floats(self, x):
        p = self.p
        try:
            ys = p.infer(x)
        except ValueError as exc:
            for i in range(len(x)):  # expected only for an angle beyond +-2^31 / 2^12
                if self.angle[i] and not -_LIM <= x[i] <= _LIM and ("input %d:" % i) in str(exc):
                    return
            self.fail("infer%r: %r" % (x, exc))
            return
        except Exception as exc:  # noqa: BLE001 - reported
            self.fail("infer%r: %r" % (x, exc))
            return
        if len(ys) != p.n_outputs:
            self.fail("infer%r: %d outputs, n_outputs is %d" % (x, len(ys), p.n_outputs))
            return
        for j in range(p.n_outputs):
            _f, lo, hi, _ql, _qh = self.decl[j]
            y = ys[j]
            self.n += 1
            if y != y:
                self.nan += 1
                self.fail("infer%r: out %d is NaN" % (x, j))
            elif not lo <= y <= hi:
                self.outside += 1
                self.fail("infer%r: out %d = %r outside %r..%r" % (x, j, y, lo, hi))

    def nonfinite(self, x, i):
        try:
            ys = self.p.infer(x)
        except ValueError as exc:
            if ("input %d:" % i) not in str(exc):
                self.fail("infer%r: ValueError not naming input %d: %s" % (x, i, exc))
            return
        except Exception as exc:  # noqa: BLE001 - reported
            self.fail("infer%r: %r" % (x, exc))
            return
        self.fail("infer%r gave %r (a non-finite input must raise ValueError)" % (x, ys))

    def run(self):
        p = self.p
        n_in = p.n_inputs
        inp = array("i", bytes(4 * n_in))
        out = array("i", bytes(4 * (p.n_outputs + 2)))
        m = len(INTS)
        for k in range(m):
            for mixed in (0, 1):
                for i in range(n_in):
                    inp[i] = INTS[(k + 5 * i) % m] if mixed else INTS[k]
                self.ints(inp, out)
        m = len(FLOATS)
        for k in range(m):
            self.floats([FLOATS[k]] * n_in)
            self.floats([FLOATS[(k + 3 * i) % m] for i in range(n_in)])
        for v in NONFINITE:
            for i in sorted({0, n_in - 1}):
                x = [0.0] * n_in
                x[i] = v
                self.nonfinite(x, i)
        return self


def run(p, path):
    """The check of the loaded policy p (automatic kernel), then (int8 / q15 blobs on a port with viper) again on
    the portable kernel, which must give the same infer_q outputs. Returns the "A" line's fields."""
    c = Check(p, path).run()
    p = None
    if c.p.kernel in ("viper", "thumb"):
        c.p = None
        gc.collect()
        c2 = Check(Policy.load(path, kernel="portable"), path).run()
        c.n, c.nan, c.outside = c.n + c2.n, c.nan + c2.nan, c.outside + c2.outside
        c.fail(c2.err)
        if c2.trace != c.trace:
            k = next(k for k in range(len(c.trace)) if c.trace[k] != c2.trace[k])
            c.fail("kernels disagree: infer_q output %d is %d (automatic) but %d (portable)" % (
                k, c.trace[k], c2.trace[k]))
    return "%d %d %d %s" % (c.n, c.nan, c.outside, c.err)


def main(folder, n):
    for i in range(n):
        gc.collect()
        path = "%s/%d.bin" % (folder, i)
        try:
            p = Policy.load(path)
        except ModelError as exc:
            print(i, "R", str(exc).replace("\n", " "))
            continue
        except MemoryError:
            print(i, "M")
            continue
        except Exception as exc:  # noqa: BLE001 - the fuzz counts these
            print(i, "X", repr(exc).replace("\n", " "))
            continue
        try:
            print(i, "A", run(p, path))
        except MemoryError:
            print(i, "A 0 0 0 MemoryError while running")
        p = None


main(sys.argv[1], int(sys.argv[2]))
