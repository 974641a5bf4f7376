# device: the Policy API: load a blob, run it from floats (infer) or Q12 ints without allocating (infer_q).
"""Usage:

    from tinypolicy import Policy, ModelError
    p = Policy.load("models/policy_int8.bin")     # ModelError names file and field on any problem
    p.infer([theta, theta_dot])                   # -> [torque] in N*m (floats; allocates)
    inp = array("i", [theta_q12, theta_dot_q12]); out = array("i", [0])
    p.infer_q(inp, out)                           # out[0] = torque_q12; int8 / q15: allocates nothing

Attributes: dtype ('f32' | 'int8' | 'q15'), n_inputs (2), n_outputs (1), n_layers, max_torque (float N*m),
max_torque_q12 (int), vel_scale (float). Q12 = value * 4096 (rad, rad/s, N*m).
For f32 blobs infer_q converts Q12 -> float, runs the float path and converts back: it works, but allocates
(floats are heap objects), so use an int8 or q15 blob inside a hard timer callback or under heap_lock.
Imports: the integer kernel is imported only when an int8 / q15 blob is loaded, so `import tinypolicy` and f32
blobs also work on ports without the native emitter. Kernel choice, once at load: asm_thumb (kernels_thumb.py)
where the firmware runs ARM code (sys.implementation._mpy: armv6m .. armv7emdp) and the module imports, else
viper (kernels.py).
"""
from array import array

from tinypolicy.errors import ModelError

_I32_MAX = 2147483647
_Q12_LIMIT = _I32_MAX / 4096.0  # |x| in float units whose Q12 value still fits int32


def to_q12(x):
    """Float -> Q12 int: floor(x * 4096 + 0.5), the contract's conversion (host and device alike). Allocates.
    Here, not in fixed.py, so that the float path never imports viper code."""
    v = x * 4096.0 + 0.5
    q = int(v)  # truncates toward zero: step down for negative non-integers (floor without importing math)
    return q - 1 if q > v else q


class Policy:
    n_inputs = 2
    n_outputs = 1

    def __init__(self, model):
        self.dtype = model.dtype
        self.n_layers = model.n_layers
        self.max_torque = model.max_torque
        self.max_torque_q12 = to_q12(model.max_torque)
        self.vel_scale = model.vel_scale
        self._qin = array("i", (0, 0))  # scratch of infer(): Q12 inputs and output
        self._qout = array("i", (0,))
        net = None
        if model.desc is None:  # f32: float reference path (imported only when needed)
            from tinypolicy.floatpath import FloatNet

            net = FloatNet(model)
            self._fwd = None
        self._net = net
        self._desc = model.desc  # int8 / q15: array('i') layer descriptor (loader.D_*); f32: None
        self._blob = None if net else model.blob  # bytearray: weights, bias, mult, shift read in place
        # two int16 activation buffers (ping-pong), each as wide as the widest layer (desc[10])
        self._act = None if net else array("h", bytes(4 * model.desc[10]))
        if net is None:  # int8 / q15: the kernel, imported only now (a port without viper can still run f32)
            thumb = _thumb_module()
            if thumb is None:
                from tinypolicy.kernels import forward

                self._fwd = forward  # in the instance dict: self._fwd(...) binds nothing, allocates nothing
            else:
                self._thumb_setup(thumb, model.desc[10])

    @classmethod
    def load(cls, path):
        """Load and validate a blob. Raises ModelError (missing file, truncated, bad magic / version / CRC,
        dims or shifts outside the format's limits) before allocating anything sized by the file."""
        import sys

        from tinypolicy.loader import load

        try:
            return cls(load(path))
        finally:
            # The loader (~8 KB of RAM as bytecode and strings on the unix port, when not frozen) is only
            # needed here: drop it so a board keeps that heap for the control loop.
            sys.modules.pop("tinypolicy.loader", None)
            pkg = sys.modules.get("tinypolicy")
            if pkg is not None and "loader" in dir(pkg):
                delattr(pkg, "loader")

    def _thumb_setup(self, thumb, widest):
        """asm_thumb: one call per inference with one int argument, the call block's address (no buffer checks:
        cheap and allocation-free); the instance's infer_q becomes _infer_thumb."""
        from uctypes import addressof

        half = widest + (widest & 1)  # even: the second activation buffer starts 4-aligned
        self._act = array("h", bytes(4 * half))
        self._acc = array("i", bytes(4 * widest))
        self._cb = thumb.call_block(self._desc, self._blob, self._act, half, self._qin, self._qout, self._acc)
        self._cba = addressof(self._cb)
        self._fwd = thumb.forward
        self._tin, self._tout = self._qin, self._qout  # the arrays the block points at
        self.infer_q = self._infer_thumb  # type: ignore[method-assign]  # bound once: calls allocate nothing

    def _infer_thumb(self, inp, out):
        if inp is not self._tin or out is not self._tout:  # other arrays than last time: re-point the block
            from uctypes import addressof

            self._cb[4], self._cb[5] = addressof(inp), addressof(out)
            self._tin, self._tout = inp, out
        self._fwd(self._cba)  # type: ignore[call-arg, arg-type, misc]  # asm_thumb: the int address

    def infer_q(self, inp, out):
        """inp: array('i') [theta_q12, theta_dot_q12]; writes torque_q12 into out[0] (array('i'), len >= 1).
        int8 / q15: allocation-free (one viper call). f32: allocates."""
        if self._net is None:
            self._fwd(self._desc, self._blob, self._act, inp, out)  # type: ignore[arg-type, misc]  # viper ptr <- buffer
        else:
            t = self._net.forward(inp[0] / 4096.0, inp[1] / 4096.0)
            out[0] = to_q12(t)

    def infer(self, x):
        """x = [theta (rad), theta_dot (rad/s)] floats -> [torque] (N*m). Integer dtypes: to_q12 of the inputs
        (floor(x * 4096 + 0.5)), the integer kernel, torque_q12 / 4096. Allocates."""
        theta, theta_dot = x[0], x[1]
        if self._net is not None:
            return [self._net.forward(theta, theta_dot)]
        if not -_Q12_LIMIT <= theta <= _Q12_LIMIT:
            raise ValueError("theta %r: outside the Q12 int32 range" % (theta,))
        # theta_dot is clamped to +-32 rad/s by the feature stage anyway: clamping earlier changes nothing.
        theta_dot = -1024.0 if theta_dot < -1024.0 else (1024.0 if theta_dot > 1024.0 else theta_dot)
        self._qin[0] = to_q12(theta)
        self._qin[1] = to_q12(theta_dot)
        self.infer_q(self._qin, self._qout)
        return [self._qout[0] / 4096.0]

    def __repr__(self):
        return "<Policy %s %d layers max_torque=%g>" % (self.dtype, self.n_layers, self.max_torque)


def _thumb_module():
    """tinypolicy.kernels_thumb where the firmware runs ARM code (the arch field of sys.implementation._mpy:
    4 armv6m .. 8 armv7emdp) and the module imports (inline assembler compiled in); else None (use viper)."""
    import sys

    if not 4 <= getattr(sys.implementation, "_mpy", 0) >> 10 <= 8:
        return None
    try:
        import tinypolicy.kernels_thumb as thumb
    except (ImportError, SyntaxError, ValueError):  # no inline assembler / incompatible .mpy
        return None
    return thumb


__all__ = ["Policy", "ModelError"]
