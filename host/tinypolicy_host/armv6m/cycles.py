"""Cortex-M0+ cycle model (RP2040 settings): a price per instruction class, applied to executed code.

Timings: ARM Cortex-M0+ Technical Reference Manual (ARM DDI 0484C), table 3.1 "Cortex-M0+ instruction summary",
for a system with zero wait states:

| class | instructions | cycles |
|---|---|---|
| alu | mov(s), add(s), subs, adcs, sbcs, rsbs, cmp, cmn, logic, tst, shifts, rors, extends, rev*, sp adjust, adr | 1 |
| mul | muls | 1 (RP2040: the fast single-cycle multiplier option; 32 with the small one) |
| load | ldr/ldrh/ldrb/ldrsh/ldrsb (immediate, register, sp- and pc-relative) | 2 |
| store | str/strh/strb (immediate, register, sp-relative) | 2 |
| ldm / stm | ldm rn!, {N regs} / stm rn!, {N regs} | 1 + N |
| push / pop | push {N regs (+lr)} / pop {N regs} | 1 + N |
| pop_pc | pop {N low regs, pc} | 3 + N |
| bcond | b<cond> | 2 taken, 1 not taken |
| b / bx / blx | b, bx, blx | 2 |
| bl | bl (32-bit) | 3 |
| pc_write | mov pc, rm / add pc, rm | 2 |
| sys32 | dmb, dsb, isb, mrs, msr | 3 (MSR, barriers; the model uses 3 for all) |
| hint | nop, yield, sev, wfe, wfi | 1 (wfe/wfi: not modelled) |

Limits of the model: it assumes every fetch and data access is a zero-wait-state SRAM access. That is right for
code MicroPython loads from a `.mpy` (it runs from the heap in SRAM) and for data in SRAM, and it ignores the
RP2040's bus matrix contention (the second core, DMA), interrupts, the single-cycle I/O port (1-cycle loads only
for SIO, unused here) and XIP flash: C code linked to run from flash would pay cache misses (the model treats it as
SRAM-resident, i.e. a `.time_critical` / copy-to-RAM build). The MicroPython interpreter around the call (method
lookup, argument conversion, ~300 cycles per call according to the issue's emulator figures) is not executed here.
"""
from __future__ import annotations

from collections import Counter

from .thumb import classify

FIXED = {"alu": 1, "mul": 1, "load": 2, "store": 2, "b": 2, "bx": 2, "bl": 3, "pc_write": 2, "sys32": 3,
         "hint": 1}
BCOND_TAKEN, BCOND_NOT_TAKEN = 2, 1


def base_cycles(cls: str, n: int) -> int:
    """Cycles of one instruction of class `cls` (n: registers transferred), conditional branches not taken."""
    if cls in ("ldm", "stm", "push", "pop"):
        return 1 + n
    if cls == "pop_pc":
        return 3 + n
    if cls == "bcond":
        return BCOND_NOT_TAKEN
    if cls in FIXED:
        return FIXED[cls]
    raise ValueError(f"no timing for instruction class {cls!r}")


class BlockCost:
    """Static cost of a straight run of instructions [start, start + size): cycles with a final conditional
    branch not taken, instruction counts per class, and whether it ends in a conditional branch."""

    def __init__(self, mem: bytes, base: int, start: int, size: int):
        self.cycles, self.count, self.mix = 0, 0, Counter()
        self.ends_bcond = False
        pos, end = start - base, start - base + size
        while pos < end:
            hw = int.from_bytes(mem[pos:pos + 2], "little")
            hw2 = int.from_bytes(mem[pos + 2:pos + 4], "little") if pos + 4 <= len(mem) else 0
            cls, n = classify(hw, hw2)
            if cls == "undefined":
                raise ValueError(f"undefined or non-ARMv6-M instruction {hw:#06x} at {base + pos:#x}")
            self.cycles += base_cycles(cls, n)
            self.count += 1
            self.mix[cls] += 1
            self.ends_bcond = cls == "bcond"
            pos += 4 if cls in ("bl", "sys32") else 2
