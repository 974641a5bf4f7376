"""Run ARMv6-M machine code under unicorn (a Cortex-M0 CPU model: Thumb-1 + BL only, so any Thumb-2 instruction
faults) and price it with the Cortex-M0+ cycle model (cycles.py).

Memory: one 512 KiB RAM region at 0x20000000 (where the RP2040's SRAM is) holding code, data and the stack, plus
a small region at RETURN_ADDR that the called function returns into (emulation stops there). Counting: a unicorn
basic-block hook adds each block's static cost (cycles.BlockCost, cached per block) and one cycle more when the
previous block ended in a conditional branch that was taken (the next block does not start right after it).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .cycles import BCOND_NOT_TAKEN, BCOND_TAKEN, BlockCost

RAM_BASE, RAM_SIZE = 0x20000000, 0x80000
RETURN_ADDR = 0x30000000  # lr on entry (| 1: Thumb); emulation stops when the pc gets there
STACK_TOP = RAM_BASE + RAM_SIZE


class EmulatorMissing(RuntimeError):
    """unicorn is not installed."""


@dataclass
class Run:
    r0: int  # return value (signed 32-bit)
    cycles: int
    instructions: int
    mix: Counter = field(default_factory=Counter)  # instructions per class (bcond split into taken / not taken)


class Machine:
    """A Cortex-M0+-like machine: `alloc` data, `load` code, `call` functions with up to 4 int arguments."""

    def __init__(self):
        try:
            from unicorn import UC_ARCH_ARM, UC_HOOK_BLOCK, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
            from unicorn.arm_const import UC_CPU_ARM_CORTEX_M0
        except ImportError as exc:  # pragma: no cover - a pinned dependency
            raise EmulatorMissing(f"unicorn is not installed ({exc}); run make setup") from None
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M0)
        self.uc.mem_map(RAM_BASE, RAM_SIZE)
        self.uc.mem_map(RETURN_ADDR, 0x1000)
        self._next = RAM_BASE
        self._limit = STACK_TOP - 0x4000  # alloc stays below this (a placed image or the stack)
        self._code: dict[int, bytes] = {}  # base -> bytes of loaded code (the cost model reads these)
        self._costs: dict[tuple[int, int], BlockCost] = {}
        self.uc.hook_add(UC_HOOK_BLOCK, self._on_block)
        self._run: Run | None = None
        self._pending_bcond_end = None

    # ---- memory ----
    def alloc(self, data: bytes | int, align: int = 16) -> int:
        """Place bytes (or reserve that many zero bytes) in RAM; returns the address."""
        raw = bytes(data) if not isinstance(data, int) else bytes(data)
        addr = (self._next + align - 1) & ~(align - 1)
        if addr + len(raw) > self._limit:
            raise MemoryError("emulated RAM full")
        if raw:
            self.uc.mem_write(addr, raw)
        self._next = addr + max(len(raw), 1)
        return addr

    def load(self, code: bytes) -> int:
        """Place machine code; returns its address (4-aligned, as MicroPython allocates it)."""
        addr = self.alloc(code, 4)
        self._code[addr] = bytes(code)
        return addr

    def place(self, addr: int, image: bytes) -> None:
        """Put a linked image (code and data) at its link address, above everything alloc hands out."""
        if addr < self._next or addr + len(image) > STACK_TOP - 0x4000:
            raise MemoryError(f"image at {addr:#x} overlaps allocated RAM or the stack")
        self.uc.mem_write(addr, bytes(image))
        self._code[addr] = bytes(image)
        self._limit = min(self._limit, addr)

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.uc.mem_read(addr, n))

    def write(self, addr: int, data: bytes) -> None:
        self.uc.mem_write(addr, bytes(data))

    # ---- execution ----
    def _cost(self, address: int, size: int) -> BlockCost:
        key = (address, size)
        cost = self._costs.get(key)
        if cost is None:
            for base, code in self._code.items():
                if base <= address and address + size <= base + len(code):
                    cost = BlockCost(code, base, address, size)
                    break
            else:
                raise ValueError(f"executed code at {address:#x} outside the loaded code")
            self._costs[key] = cost
        return cost

    def _on_block(self, uc, address, size, _user):
        run = self._run
        if run is None or not RAM_BASE <= address < RAM_BASE + RAM_SIZE:
            if self._pending_bcond_end is not None and run is not None:  # returned right after a bcond
                self._settle(address)
            return
        if self._pending_bcond_end is not None:
            self._settle(address)
        cost = self._cost(address, size)
        run.cycles += cost.cycles
        run.instructions += cost.count
        run.mix.update(cost.mix)
        self._pending_bcond_end = address + size if cost.ends_bcond else None

    def _settle(self, next_address: int) -> None:
        taken = next_address != self._pending_bcond_end
        self._run.cycles += BCOND_TAKEN - BCOND_NOT_TAKEN if taken else 0
        self._run.mix["bcond_taken" if taken else "bcond_not_taken"] += 1
        self._run.mix["bcond"] -= 1
        self._pending_bcond_end = None

    def call(self, func: int, *args: int, limit: int = 50_000_000) -> Run:
        """Call the Thumb function at `func` with int arguments in r0-r3 (AAPCS), lr = RETURN_ADDR; returns the
        signed r0 and the modelled cycles from its first instruction to its return (the return included)."""
        from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_R0, UC_ARM_REG_SP

        if len(args) > 4:
            raise ValueError("at most 4 arguments (r0-r3)")
        for k, v in enumerate(args):
            self.uc.reg_write(UC_ARM_REG_R0 + k, v & 0xFFFFFFFF)
        self.uc.reg_write(UC_ARM_REG_SP, STACK_TOP)
        self.uc.reg_write(UC_ARM_REG_LR, RETURN_ADDR | 1)
        self._run = Run(0, 0, 0, Counter())
        self._pending_bcond_end = None
        try:
            self.uc.emu_start(func | 1, RETURN_ADDR, count=limit)
        finally:
            run, self._run = self._run, None
        if self._pending_bcond_end is not None:
            self._pending_bcond_end = None
        pc = self.uc.reg_read(__import__("unicorn").arm_const.UC_ARM_REG_PC)
        if pc & ~1 != RETURN_ADDR:
            raise RuntimeError(f"function did not return within {limit} instructions (pc {pc:#x})")
        r0 = self.uc.reg_read(UC_ARM_REG_R0)
        run.r0 = r0 - (1 << 32) if r0 & 0x80000000 else r0
        run.mix = Counter({k: v for k, v in run.mix.items() if v})
        return run
