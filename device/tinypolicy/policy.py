# device: the Policy API: load a blob, run it from floats (infer) or ints without allocating (infer_q).
# Usage:
#
#     from tinypolicy import Policy, ModelError
#     p = Policy.load("models/policy_int8.bin")     # ModelError names file and field; max_bytes=98304 by default
#     p.infer([theta, theta_dot])                   # -> n_outputs floats (argmax head: [index]); allocates
#     inp = array("i", [theta_q12, theta_dot_q12]); out = array("i", [0] * p.n_outputs)
#     p.infer_q(inp, out)                           # int8 / q15: allocates nothing
#
# Attributes: dtype ('f32' | 'int8' | 'q15'), scheme ('f32' | 'w8a8' | 'w8a16' | 'q15'), n_inputs, n_outputs,
# n_layers, kernel ('thumb' | 'viper' | 'portable' | 'float'), in_frac / out_frac (tuples: input i of infer_q is
# floor(x * 2^in_frac[i] + 0.5), output j is y * 2^out_frac[j]; argmax: the index, frac 0), out_lo_q / out_hi_q
# (tuples: each output's integer clamp, inside its declared range), max_torque (float: the declared hi of output 0,
# for the pendulum app), in_kind (per input 0 affine, 1 angle), layers ((n_in, n_out, activation code) per layer:
# 0 identity, 1 relu, 2 tanh, 3 hardtanh, 4 sigmoid), widths (n_features, then each layer's n_out).
# Kernels (chosen once, at load): int8 / q15 blobs run the asm_thumb kernel (kernels_thumb.py) where the firmware
# runs ARM code (sys.implementation._mpy arch armv6m .. armv7emdp) and the module imports, else the viper kernel
# (kernels.py) where the port has the native emitter and the build has the module (armv6m .mpy builds leave it
# out: device/manifest.py), else the portable plain-MicroPython kernel (portable.py), all bit-identical;
# `Policy.load(path, kernel="viper")` (or "thumb", "portable") forces one ("not in this build" / "not on this port":
# ValueError). f32 blobs run the float path (floatpath.py); their infer_q converts the ints to floats and back
# (clamped to out_lo_q..out_hi_q): it works, but allocates, so use an int8 or q15 blob inside a hard timer callback
# or under heap_lock. `import tinypolicy` and f32 blobs need no native emitter.
from array import array


def _thumb():
    """tinypolicy.kernels_thumb where the firmware runs ARM code (the arch field of sys.implementation._mpy:
    4 armv6m .. 8 armv7emdp) and the module imports (inline assembler compiled in); else None."""
    import sys

    if not 4 <= getattr(sys.implementation, "_mpy", 0) >> 10 <= 8:
        return None
    try:
        import tinypolicy.kernels_thumb as thumb
    except (ImportError, SyntaxError, ValueError):  # no inline assembler / a .mpy of another arch
        return None
    return thumb


def _viper():
    """kernels.forward; 0 where the build has no kernels module (armv6m .mpy: device/manifest.py), None where it
    cannot run (no native emitter, a .mpy of another arch)."""
    try:
        from tinypolicy.kernels import forward

        return forward
    except ImportError:
        return 0
    except (SyntaxError, ValueError):
        return None


def _col(rows, i, j=0):
    """Column i of a table as a tuple; with j: columns i..j-1 of each row, as tuples."""
    return tuple(tuple(r[i:j]) if j else r[i] for r in rows)


class Policy:
    def __init__(self, m, kernel=None):
        self.dtype = m.dtype
        self.scheme = m.scheme
        self.n_inputs = m.n_inputs
        self.n_outputs = m.n_outputs
        self.n_layers = m.n_layers
        self.argmax = bool(m.argmax)
        self.in_frac = _col(m.inputs, 1)
        self.out_frac = _col(m.outputs, 0)
        self.out_lo_q = _col(m.outputs, 8)
        self.out_hi_q = _col(m.outputs, 9)
        self.max_torque = m.outputs[0][5]
        self.widths = (m.n_features,) + _col(m.layers, 1)  # features, then each layer's n_out
        self.layers = _col(m.layers, 0, 3)  # (n_in, n_out, activation code) per layer
        self.in_kind = _col(m.inputs, 0)  # per input: 0 affine, 1 angle (Q12 rad)
        self._conv = m.conv  # infer(): per input (angle?, frac, integer clamp qlo, qhi of its feature)
        self._qin = array("i", bytes(4 * m.n_inputs))
        self._qout = array("i", bytes(4 * max(self.widths)))
        self._net = self._port = self._fwd = self._blob = self._doff = None
        if m.desc_off is None:  # f32: float reference path (imported only when needed)
            from tinypolicy.floatpath import FloatNet

            self._net = FloatNet(m)
            self.kernel = "float"
            return
        if kernel not in (None, "thumb", "viper", "portable"):
            raise ValueError("kernel %r: use 'thumb', 'viper' or 'portable'" % (kernel,))
        thumb = _thumb() if kernel in (None, "thumb") else None
        if kernel == "thumb" and thumb is None:
            raise ValueError("kernel 'thumb': not on this port (ARM firmware with the inline assembler)")
        self._blob = m.blob  # the file, the kernel descriptor and the activation buffers (loader.py)
        self._doff = m.desc_off
        if thumb is not None:
            self._thumb_setup(thumb, m)
            return
        shifted = m.dtype == "int8" and max(t[3] for t in m.layers)  # int8 with a product shift: portable only
        fwd = _viper() if kernel != "portable" and not shifted else None
        if kernel == "viper" and not fwd:
            raise ValueError("kernel 'viper': " + ("not for int8 with pshift > 0" if shifted else "not on this port"
                                                   if fwd is None else "not in this build"))
        if not fwd:
            from tinypolicy.portable import PortableNet

            self._port = PortableNet(m)  # holds its own copies of the parameters: the blob is dropped
            self._blob = None
            self.kernel = "portable"
        else:
            self._fwd = fwd  # in the instance dict: self._fwd(...) binds nothing, allocates nothing
            self.kernel = "viper"

    def _thumb_setup(self, thumb, m):
        """asm_thumb: one call per inference with one int argument, the call block's address (no buffer checks:
        cheap and allocation-free); the instance's infer_q becomes _infer_thumb."""
        from uctypes import addressof

        half = max(self.widths[:-1])  # features and hidden layers (the last layer writes out / the argmax)
        half += half & 1  # even: the second activation buffer starts 4-aligned
        self._act = array("h", bytes(4 * half))
        self._acc = array("i", bytes(4 * max(self.widths[1:])))
        self._cb = thumb.call_block(m.blob, m.desc_off, self._act, half, self._qin, self._qout, self._acc)
        self._cba = addressof(self._cb)
        self._fwd = thumb.forward
        self._tin, self._tout = self._qin, self._qout  # the arrays the block points at
        self.infer_q = self._infer_thumb  # type: ignore[method-assign]  # bound once: calls allocate nothing
        self.kernel = "thumb"

    def _infer_thumb(self, inp, out):
        if inp is not self._tin or out is not self._tout:  # other arrays than last time: re-point the block
            from uctypes import addressof

            self._cb[4], self._cb[5] = addressof(inp), addressof(out)
            self._tin, self._tout = inp, out
        self._fwd(self._cba)  # type: ignore[call-arg, arg-type, misc]  # asm_thumb: the int address

    @classmethod
    def load(cls, path, max_bytes=98304, kernel=None):
        """Load and validate a blob. Raises ModelError (missing or not a regular file, larger than max_bytes,
        truncated, bad magic / version / CRC, fields outside the format's limits) before allocating anything
        sized by the file. kernel: None (automatic), 'thumb', 'viper' or 'portable' (int8 / q15 blobs)."""
        import gc
        import sys

        gc.collect()  # the loader's code (compiled from source, or a .mpy) wants contiguous heap blocks
        from tinypolicy.loader import load

        try:
            m = load(path, max_bytes)
        finally:
            # The loader and its checks (~8 KB of RAM as bytecode and strings on the unix port, when not
            # frozen) are only needed here: drop them (before the kernel is imported: compiling it from source
            # wants the room) so a board keeps that heap for the control loop.
            load = None  # type: ignore[assignment]  # release the function object with its module
            pkg = sys.modules.get("tinypolicy")
            for name in ("loader", "checks"):
                sys.modules.pop("tinypolicy." + name, None)
                if pkg is not None and name in dir(pkg):
                    delattr(pkg, name)
            gc.collect()
        return cls(m, kernel)

    def infer_q(self, inp, out):
        """inp: array('i') of n_inputs (Q`in_frac`); out: array('i') of n_outputs (Q`out_frac`, clamped to
        out_lo_q..out_hi_q; argmax: out[0] = index). int8 / q15: allocation-free. f32: allocates.
        The lengths are not checked here (the control tick's cost): size both buffers once, from n_inputs /
        n_outputs."""
        if self._fwd is not None:
            self._fwd(self._blob, inp, out)  # type: ignore[misc]  # viper ptr <- buffer
        elif self._port is not None:
            self._port.forward(inp, out, self.n_layers)
        else:
            self._float_q(inp, out, -1)

    def run_layers(self, inp, k, out):
        """The input stage and the first k layers (0 <= k <= n_layers) of infer_q(inp, out), for benchmarks and
        layer tests; returns the number of values written into out (k = n_layers: infer_q's outputs; else the
        activations after layer k, 0 = the features, in the kernel's int format; f32: as Q12 ints)."""
        if not 0 <= k <= self.n_layers:
            raise ValueError("k %r: 0..%d" % (k, self.n_layers))
        if len(out) < self.widths[k] or len(inp) < self.n_inputs:
            raise ValueError("run_layers: out needs %d ints, inp %d" % (self.widths[k], self.n_inputs))
        if k == self.n_layers:
            self.infer_q(inp, out)
            return self.n_outputs
        b = self._blob
        if self._fwd is not None and b is not None:
            run = self._doff + 44  # descriptor word 11 (loader._D_RUN), little-endian; k <= 8 fits its low byte
            b[run] = k
            try:
                self.infer_q(inp, out)  # the kernel's call (viper or asm_thumb) with the descriptor's run count
            finally:
                b[run] = self.n_layers
        elif self._port is not None:
            self._port.forward(inp, out, k)
        else:
            self._float_q(inp, out, k)
        return self.widths[k]

    def _float_q(self, inp, out, run):
        from tinypolicy.floats import float_q

        float_q(self, inp, out, run)

    def infer(self, x):
        """x: n_inputs floats (the inputs' units) -> list of n_outputs floats (argmax head: [index], an int).
        A NaN / inf input raises ValueError naming it (details: floats.infer). Allocates."""
        from tinypolicy.floats import infer

        return infer(self, x)

    def __repr__(self):
        return "<Policy %s %s %s>" % (self.scheme, self.widths, self.kernel)

