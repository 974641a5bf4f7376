"""The device's asm_thumb kernel (device/tinypolicy/kernels_thumb.py), compiled by mpy-cross -march=armv6m, run
under the emulator on a blob v2: outputs to compare bit for bit with the host reference, and modelled cycles.

The memory image follows the device exactly: the loader's buffer (the blob file, then the kernel descriptor
`descriptor` — the same ints as device/tinypolicy/loader.py writes — then the loader's own activation area), the
two int16 activation buffers and the int32 accumulators the Policy allocates for the asm kernel (4-aligned, each
activation buffer as wide as the features and every hidden layer, rounded up to even), the SIN_Q14 / TANH_Q14
tables, inp, out and the call block (kernels_thumb.call_block).
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract.blob import FEATURE, HEADER, INPUT, LAYER, OUTPUT
from ..contract.reference import SIN_Q14, TANH_Q14
from ..paths import BUILD, DEVICE
from .emulator import Machine, Run
from .mpyfile import read_mpy

SOURCE = DEVICE / "tinypolicy" / "kernels_thumb.py"
MPY = BUILD / "armv6m_harness" / "kernels_thumb.mpy"
D_HEADER = 16  # loader._D_LAYERS: header ints before the per-layer entries
D_RUN = 11  # loader._D_RUN: layers to run


def compile_kernel(src: Path = SOURCE, out: Path = MPY) -> Path:
    """mpy-cross -march=armv6m the kernel module (when the .mpy is older than the source)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        proc = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=armv6m", "-o", str(out), str(src)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{src}: mpy-cross -march=armv6m failed: {proc.stderr.strip()}")
    return out


def _pad4(n: int) -> int:
    return (n + 3) & ~3


@dataclass
class Layout:
    """What the loader derives from a blob v2: the descriptor ints and the widths the Policy sizes buffers by."""
    desc: list[int]
    widths: list[int]  # n_features, then each layer's n_out
    n_inputs: int
    n_outputs: int


def layout(blob: bytes) -> Layout:
    """The kernel descriptor of loader._descriptor (models/README.md tables; _D_* / per-layer layout of loader.py)
    for blob bytes (a valid blob v2 of an integer dtype)."""
    _, _, dcode, flags, n_layers, n_inputs, n_features, n_outputs, size = HEADER.unpack_from(blob, 0)
    a16, argmax = dcode == 2 or bool(flags & 1), (flags >> 1) & 1
    feat_off = HEADER.size + INPUT.size * n_inputs
    lay_off = feat_off + FEATURE.size * n_features
    out_off = lay_off + LAYER.size * n_layers
    layers = [LAYER.unpack_from(blob, lay_off + LAYER.size * k) for k in range(n_layers)]
    outputs = [OUTPUT.unpack_from(blob, out_off + OUTPUT.size * j) for j in range(n_outputs)]
    wsize = 1 if dcode == 1 else 2
    pos, entries = out_off + OUTPUT.size * n_outputs, []
    for n_in, n_out, act, pshift, lo, hi in layers:
        w_off = pos
        pos += _pad4(n_in * n_out * wsize)
        entries += [n_in, n_out, act, pshift, lo, hi, w_off // wsize, pos // 4]
        pos += 8 * n_out + _pad4(n_out)
    _, _, last_act, _, lo, hi = layers[-1]
    outid = not argmax and last_act not in (2, 4) and all(
        o[1] == 0 and o[6] == 1 and o[7] == 0 and o[8] <= lo and o[9] >= hi for o in outputs)
    half = max([n_features] + [t[1] for t in layers[:-1]])
    amin, amax = (-32768, 32767) if a16 else (-128, 127)
    n_desc = D_HEADER + 8 * n_layers
    desc = [n_layers, amin, amax, int(dcode == 2), half, n_inputs, feat_off, n_outputs, out_off, int(a16), argmax,
            n_layers, int(outid), size + 4 * n_desc, 0, 0, *entries]
    return Layout(desc, [n_features] + [t[1] for t in layers], n_inputs, n_outputs)


@dataclass
class Inference:
    out: list[int]
    run: Run


class ThumbKernel:
    """One blob loaded into an emulated RP2040-like machine as the device's Policy holds it, called like
    Policy.infer_q (and Policy.run_layers: `run` = layers to run)."""

    def __init__(self, blob: bytes, mpy: Path | None = None):
        code = read_mpy(mpy or compile_kernel()).asm
        if len(code) != 1:
            raise RuntimeError(f"expected one asm function in the kernel .mpy, found {len(code)}")
        self.code_bytes = len(code[0].code)
        m = self.machine = Machine()
        self.func = m.load(code[0].code)
        lay = self.layout = layout(blob)
        half = max(lay.widths[:-1])
        half += half & 1
        widest = max(lay.widths[1:])
        image = bytes(blob) + np.asarray(lay.desc, "<i4").tobytes() + bytes(4 * lay.desc[4])
        self.blob = m.alloc(image, 16)
        self.desc = self.blob + len(blob)
        a = m.alloc(bytes(4 * half), 16)
        self.inp = m.alloc(4 * lay.n_inputs, 16)
        self.out = m.alloc(4 * max(widest, lay.n_outputs), 16)
        addrs = [self.desc, self.blob, a, a + 2 * half, self.inp, self.out,
                 m.alloc(SIN_Q14.astype("<u2").tobytes(), 16), m.alloc(TANH_Q14.astype("<u2").tobytes(), 16),
                 m.alloc(bytes(4 * widest), 16)]
        self.cb = m.alloc(np.asarray(addrs, "<u4").tobytes(), 16)

    def infer_q(self, xq, run: int | None = None) -> Inference:
        """xq: n_inputs ints (Q`in_frac`) -> the n_outputs int32 outputs (argmax: [index]); with run = k < n_layers
        the activations after k layers (0: the features), as Policy.run_layers."""
        m, lay = self.machine, self.layout
        m.write(self.inp, np.asarray(xq, "<i4").tobytes())
        n_layers = lay.desc[0]
        k = n_layers if run is None else run
        m.write(self.desc + 4 * D_RUN, int(k).to_bytes(4, "little"))
        r = m.call(self.func, self.cb)
        if r.r0 != 0:
            raise RuntimeError(f"kernel returned {r.r0}, expected 0")
        n = (1 if lay.desc[10] else lay.n_outputs) if k == n_layers else lay.widths[k]
        return Inference(np.frombuffer(m.read(self.out, 4 * n), "<i4").tolist(), r)
