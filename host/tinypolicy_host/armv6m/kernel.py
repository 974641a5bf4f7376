"""The device's asm_thumb kernel (device/tinypolicy/kernels_thumb.py), compiled by mpy-cross -march=armv6m, run
under the emulator on a policy: outputs to compare bit for bit with the host reference, and modelled cycles.

The memory image follows the device exactly: the blob bytes (v1 layout; wider layers than v1's 64 units get the
same section layout after a v1-sized header area), the loader's descriptor (`descriptor`, the same ints as
device/tinypolicy/loader.py), two int16 activation buffers (4-aligned, each as wide as the widest layer rounded
up to even), an int32 accumulator buffer, the SIN_Q14 / TANH_Q14 tables, inp, out and the call block.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract.blob import DTYPE_CODES, FEATURE, HEADER, LAYER, MAGIC, MAX_UNITS, VERSION, encode_blob
from ..paths import BUILD, DEVICE
from ..quantize.quant import SIN_Q14, TANH_Q14, QuantPolicy
from .emulator import Machine, Run
from .mpyfile import read_mpy

SOURCE = DEVICE / "tinypolicy" / "kernels_thumb.py"
MPY = BUILD / "armv6m_harness" / "kernels_thumb.mpy"
_ACT_CODES = {"identity": 0, "relu": 1, "tanh": 2, "hardtanh": 3, "sigmoid": 4}
_D_LAYERS = 11


def compile_kernel(src: Path = SOURCE, out: Path = MPY) -> Path:
    """mpy-cross -march=armv6m the kernel module (when the .mpy is older than the source)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        proc = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=armv6m", "-o", str(out), str(src)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{src}: mpy-cross -march=armv6m failed: {proc.stderr.strip()}")
    return out


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def blob_image(policy: QuantPolicy) -> bytes:
    """The blob bytes the device loads: encode_blob for v1-sized nets; wider nets (> 64 units, beyond v1's limit)
    get the same header, tables and per-layer sections (total_size and CRC left 0: the kernels do not read them)."""
    if max(policy.dims) <= MAX_UNITS:
        return encode_blob(policy)
    wdt = "<i1" if policy.dtype == "int8" else "<i2"
    out = bytearray(HEADER.pack(MAGIC, VERSION, DTYPE_CODES[policy.dtype], len(policy.layers), 2, 3, 1, 0, 0,
                                policy.vel_scale, policy.max_torque))
    for m, sh in zip(policy.fmult, policy.fshift, strict=True):
        out += FEATURE.pack(int(m), int(sh))
    for q in policy.layers:
        out += LAYER.pack(q.n_in, q.n_out, _ACT_CODES[q.activation], int(q.pshift), int(q.lo), int(q.hi))
    for q in policy.layers:
        out += _pad4(np.asarray(q.weight).astype(wdt).tobytes()) + np.asarray(q.bias).astype("<i4").tobytes()
        out += np.asarray(q.mult).astype("<i4").tobytes() + _pad4(np.asarray(q.shift).astype("<u1").tobytes())
    return bytes(out + b"\0\0\0\0")


def descriptor(policy: QuantPolicy) -> list[int]:
    """The kernel descriptor of loader.load (models/README.md sizes; _D_* / _L_* layout of loader.py)."""
    wide = 0 if policy.dtype == "int8" else 1
    wsize = 1 + wide
    amin, amax = policy.act_range
    half = max([3] + [q.n_out for q in policy.layers])
    desc = [len(policy.layers), amin, amax, wide, *map(int, policy.fmult), *map(int, policy.fshift), half]
    pos = HEADER.size + 3 * FEATURE.size + LAYER.size * len(policy.layers)
    for q in policy.layers:
        w_off = pos
        pos += -(-q.n_in * q.n_out * wsize // 4) * 4
        b_off = pos
        pos += 8 * q.n_out + -(-q.n_out // 4) * 4
        desc += [q.n_in, q.n_out, _ACT_CODES[q.activation], int(q.pshift), int(q.lo), int(q.hi), w_off // wsize,
                 b_off // 4]
    return desc


@dataclass
class Inference:
    torque_q12: int
    run: Run


class ThumbKernel:
    """One policy loaded into an emulated RP2040-like machine, called like Policy.infer_q."""

    def __init__(self, policy: QuantPolicy, mpy: Path | None = None):
        code = read_mpy(mpy or compile_kernel()).asm
        if len(code) != 1:
            raise RuntimeError(f"expected one asm function in the kernel .mpy, found {len(code)}")
        self.code_bytes = len(code[0].code)
        m = self.machine = Machine()
        self.func = m.load(code[0].code)
        widest = max([3] + [q.n_out for q in policy.layers])
        half = widest + (widest & 1)
        desc = descriptor(policy)
        self.desc = desc
        a = m.alloc(bytes(4 * half), 16)
        addrs = [m.alloc(np.asarray(desc, "<i4").tobytes(), 16), m.alloc(blob_image(policy), 16), a, a + 2 * half]
        self.inp = m.alloc(8, 16)
        self.out = m.alloc(4, 16)
        addrs += [self.inp, self.out, m.alloc(SIN_Q14.astype("<u2").tobytes(), 16),
                  m.alloc(TANH_Q14.astype("<u2").tobytes(), 16), m.alloc(bytes(4 * widest), 16)]
        self.cb = m.alloc(np.asarray(addrs, "<u4").tobytes(), 16)

    def infer_q(self, theta_q12: int, theta_dot_q12: int) -> Inference:
        m = self.machine
        m.write(self.inp, np.array([theta_q12, theta_dot_q12], "<i4").tobytes())
        run = m.call(self.func, self.cb)
        if run.r0 != 0:
            raise RuntimeError(f"kernel returned {run.r0}, expected 0")
        return Inference(int(np.frombuffer(m.read(self.out, 4), "<i4")[0]), run)
