"""The C reference loop (benchmarks/c_ref/mlp_ref.c) built for a bare-metal Cortex-M0+ with Debian's
gcc-arm-none-eabi (`-O2 -mcpu=cortex-m0plus -mthumb`, as the issue's figure) and run under the same emulator and
cycle model as the asm_thumb kernel, on the same policies and inputs.

benchmarks/c_ref/m0_entry.c wraps mlp_ref.c (its MLP_REF_FREESTANDING core: no libc): `tp_setup(blob, size,
sin, tanh)` once, then `tp_infer(theta_q12, theta_dot_q12)` -> torque_q12 per inference; cycles are counted from
tp_infer's first instruction to its return. The image is linked at IMAGE_ADDR in the emulated SRAM (the model
prices every access as zero-wait SRAM: a copy-to-RAM build; from XIP flash the RP2040 would pay cache misses).
mlp_ref.c implements identity, relu and tanh layers (no sigmoid): run it on such nets.
"""
from __future__ import annotations

import shutil
import subprocess

import numpy as np

from ..paths import BUILD, REPO
from ..quantize.quant import SIN_Q14, TANH_Q14, QuantPolicy
from .emulator import Machine
from .kernel import blob_image

C_DIR = REPO / "benchmarks" / "c_ref"
ENTRY = C_DIR / "m0_entry.c"
OUT = BUILD / "armv6m_harness"
GCC = "arm-none-eabi-gcc"
CFLAGS = ["-O2", "-mcpu=cortex-m0plus", "-mthumb", "-ffreestanding", "-nostdlib", "-DMAX_UNITS=256"]
IMAGE_ADDR = 0x20060000
_LINKER_SCRIPT = f"""SECTIONS {{
  . = {IMAGE_ADDR:#x};
  .text : {{ *(.text*) *(.rodata*) }}
  .data : {{ *(.data*) }}
  .bss : {{ *(.bss*) *(COMMON) }}
}}
"""


class ToolchainMissing(RuntimeError):
    """gcc-arm-none-eabi is not installed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolchainMissing(f"{name} not found: install Debian's gcc-arm-none-eabi (`make setup` runs "
                               "apt-get install -y gcc-arm-none-eabi as root)")
    return path


def gcc_version() -> str:
    out = subprocess.run([_tool(GCC), "-dumpversion"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def build() -> tuple[bytes, dict[str, int]]:
    """Compile and link the bare-metal C reference; returns (image bytes at IMAGE_ADDR, symbol -> address)."""
    OUT.mkdir(parents=True, exist_ok=True)
    elf, binary, script = OUT / "mlp_ref_m0.elf", OUT / "mlp_ref_m0.bin", OUT / "m0.ld"
    sources = [ENTRY, C_DIR / "mlp_ref.c"]
    if not elf.exists() or any(elf.stat().st_mtime < s.stat().st_mtime for s in sources):
        script.write_text(_LINKER_SCRIPT)
        proc = subprocess.run([_tool(GCC), *CFLAGS, "-T", str(script), "-o", str(elf), str(ENTRY), "-lgcc"],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{ENTRY}: {GCC} failed: {proc.stderr.strip()}")
        subprocess.run([_tool("arm-none-eabi-objcopy"), "-O", "binary", str(elf), str(binary)], check=True)
    nm = subprocess.run([_tool("arm-none-eabi-nm"), str(elf)], capture_output=True, text=True, check=True)
    symbols = {}
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[parts[2]] = int(parts[0], 16)
    return binary.read_bytes(), symbols


class CReference:
    """mlp_ref.c's infer() on one policy in an emulated machine, called like ThumbKernel.infer_q."""

    def __init__(self, policy: QuantPolicy):
        if any(q.activation == "sigmoid" for q in policy.layers):
            raise ValueError("mlp_ref.c has no sigmoid layers")
        image, self.symbols = build()
        m = self.machine = Machine()
        blob = blob_image(policy)
        addrs = [m.alloc(blob, 16), len(blob), m.alloc(SIN_Q14.astype("<i4").tobytes(), 16),
                 m.alloc(TANH_Q14.astype("<i4").tobytes(), 16)]
        m.place(IMAGE_ADDR, image)
        rc = m.call(self.symbols["tp_setup"], *addrs, limit=10_000_000).r0
        if rc != 0:
            raise RuntimeError(f"tp_setup returned {rc}")
        self.text_bytes = self.symbols.get("tp_setup", IMAGE_ADDR) - IMAGE_ADDR  # infer() precedes the entry points

    def infer_q(self, theta_q12: int, theta_dot_q12: int):
        run = self.machine.call(self.symbols["tp_infer"], theta_q12, theta_dot_q12)
        return run.r0, run


def c_torques(policy: QuantPolicy, theta, theta_dot) -> np.ndarray:
    ref = CReference(policy)
    return np.array([ref.infer_q(int(a), int(b))[0] for a, b in zip(theta, theta_dot, strict=True)])
