"""The C reference loop (benchmarks/c_ref/mlp_ref.c) built for a bare-metal Cortex-M0+ with Debian's
gcc-arm-none-eabi (`-O2 -mcpu=cortex-m0plus -mthumb`, as the issue's figure) and run under the same emulator and
cycle model as the asm_thumb kernel, on the same policies and inputs.

benchmarks/c_ref/m0_entry.c wraps mlp_ref.c (its MLP_REF_FREESTANDING core: no libc; any blob v2): `tp_setup(blob,
size, sin, tanh)` once, then `tp_infer(in, out)` per inference (int32 inputs -> int32 outputs); cycles are counted
from tp_infer's first instruction to its return. The image is linked at IMAGE_ADDR in the emulated SRAM (the model
prices every access as zero-wait SRAM: a copy-to-RAM build; from XIP flash the RP2040 would pay cache misses).
"""
from __future__ import annotations

import shutil
import subprocess

import numpy as np

from ..contract.reference import SIN_Q14, TANH_Q14
from ..paths import BUILD, REPO
from .emulator import Machine, Run
from .kernel import layout

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
    """mlp_ref.c's infer() on one blob v2 in an emulated machine, called like ThumbKernel.infer_q."""

    def __init__(self, blob: bytes):
        image, self.symbols = build()
        m = self.machine = Machine()
        lay = layout(blob)
        self.n_out = 1 if lay.desc[10] else lay.n_outputs
        self.inp = m.alloc(4 * lay.n_inputs, 16)
        self.out = m.alloc(4 * 16, 16)
        addrs = [m.alloc(bytes(blob), 16), len(blob), m.alloc(SIN_Q14.astype("<i4").tobytes(), 16),
                 m.alloc(TANH_Q14.astype("<i4").tobytes(), 16)]
        m.place(IMAGE_ADDR, image)
        rc = m.call(self.symbols["tp_setup"], *addrs, limit=10_000_000).r0
        if rc != 0:
            raise RuntimeError(f"tp_setup returned {rc}")
        self.text_bytes = self.symbols.get("tp_setup", IMAGE_ADDR) - IMAGE_ADDR  # infer() precedes the entry points

    def infer_q(self, xq) -> tuple[list[int], Run]:
        m = self.machine
        m.write(self.inp, np.asarray(xq, "<i4").tobytes())
        run = m.call(self.symbols["tp_infer"], self.inp, self.out)
        return np.frombuffer(m.read(self.out, 4 * self.n_out), "<i4").tolist(), run
