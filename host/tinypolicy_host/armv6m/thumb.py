"""Thumb-1 (ARMv6-M) halfword encoding and classification: what the cycle model and the kernel's raw opcodes need.

`encode(name)` turns the kernel's raw-opcode names (device/tinypolicy/kernels_thumb.py: `_OP_OPERANDS`, e.g.
`LDM_R2_R4_R5` = `ldm r2!, {r4, r5}`, `LDRSB_R4_R1_R6` = `ldrsb r4, [r1, r6]`, `LDR_R0_SP_8` = `ldr r0, [sp, #8]`,
`CMP_R2_R9` = `cmp r2, r9`) into the halfword (ARMv6-M ARM, section A6.7 encodings T1).
`classify(hw, hw2)` names the instruction class of a halfword (with the next one for 32-bit BL / system ops);
the cycle model (cycles.py) prices each class.
"""
from __future__ import annotations

_REG_OFFSET = {"STR": 0x5000, "STRH": 0x5200, "STRB": 0x5400, "LDRSB": 0x5600, "LDR": 0x5800, "LDRH": 0x5A00,
               "LDRB": 0x5C00, "LDRSH": 0x5E00}
_EXTEND = {"SXTH": 0xB200, "SXTB": 0xB240, "UXTH": 0xB280, "UXTB": 0xB2C0}
_HIGH = {"ADD": 0x4400, "CMP": 0x4500, "MOV": 0x4600}


def _reg(tok: str) -> int:
    if tok == "SP":
        return 13
    if tok == "LR":
        return 14
    if not (tok.startswith("R") and tok[1:].isdigit() and int(tok[1:]) <= 15):
        raise ValueError(f"{tok!r} is not a register")
    return int(tok[1:])


def _low(tok: str) -> int:
    r = _reg(tok)
    if r > 7:
        raise ValueError(f"{tok} is not a low register (r0-r7)")
    return r


def encode(name: str) -> int:
    """Halfword of a raw-opcode name (see the module docstring). Raises ValueError for anything else."""
    op, *args = name.split("_")
    if op in ("LDM", "STM"):
        base, regs = _low(args[0]), [_low(a) for a in args[1:]]
        if not regs or base in regs:
            raise ValueError(f"{name}: needs a register list without the base (writeback form)")
        return (0xC800 if op == "LDM" else 0xC000) | base << 8 | sum(1 << r for r in regs)
    if op in _EXTEND and len(args) == 2:
        return _EXTEND[op] | _low(args[1]) << 3 | _low(args[0])
    if op in ("LDR", "STR") and len(args) == 3 and args[1] == "SP":
        imm = int(args[2])
        if imm % 4 or not 0 <= imm <= 1020:
            raise ValueError(f"{name}: sp offset must be a multiple of 4 in 0..1020")
        return (0x9800 if op == "LDR" else 0x9000) | _low(args[0]) << 8 | imm >> 2
    if op in _REG_OFFSET and len(args) == 3:
        return _REG_OFFSET[op] | _low(args[2]) << 6 | _low(args[1]) << 3 | _low(args[0])
    if op in ("ADD", "SUB") and len(args) == 2 and args[0] == "SP":
        imm = int(args[1])
        if imm % 4 or not 0 <= imm <= 508:
            raise ValueError(f"{name}: sp adjustment must be a multiple of 4 in 0..508")
        return (0xB000 if op == "ADD" else 0xB080) | imm >> 2
    if op in _HIGH and len(args) == 2:
        d, m = _reg(args[0]), _reg(args[1])
        return _HIGH[op] | (d >> 3) << 7 | m << 3 | (d & 7)
    raise ValueError(f"{name}: not a known raw-opcode form")


def classify(hw: int, hw2: int = 0) -> tuple[str, int]:
    """(class, n) of the instruction starting with halfword hw: n = registers transferred for ldm / stm / push /
    pop (pop: low registers; class 'pop_pc' when PC is in the list), else 0. Classes: alu, mul, load, store,
    ldm, stm, push, pop, pop_pc, b, bcond, bl, bx, pc_write (mov / add with Rd = pc), sys32 (dmb, dsb, isb, mrs,
    msr), hint, undefined."""
    top5 = hw >> 11
    if top5 in (0x1D, 0x1E, 0x1F):  # 32-bit encodings
        if top5 == 0x1E and hw2 >> 14 == 0b11 and hw2 & 0x1000:
            return "bl", 0
        if top5 == 0x1E and hw2 >> 14 == 0b10:
            return "sys32", 0
        return "undefined", 0
    if hw >> 10 == 0b010001:  # special data processing, bx / blx
        op = (hw >> 8) & 3
        if op == 3:
            return "bx", 0
        if op in (0, 2) and (hw & 7 | (hw >> 4) & 8) == 15:
            return "pc_write", 0
        return "alu", 0
    if hw >> 6 == 0b0100001101:  # muls
        return "mul", 0
    if hw >> 14 == 0 or hw >> 10 == 0b010000:  # shifts, add / sub / mov / cmp immediate, data processing
        return "alu", 0
    if hw >> 11 == 0b01001:  # ldr literal
        return "load", 0
    if hw >> 12 == 0b0101:  # register offset
        return ("store" if (hw >> 9) & 7 < 3 else "load"), 0
    if hw >> 13 == 0b011 or hw >> 12 == 0b1000:  # ldr/str (b) immediate, ldrh/strh immediate
        return ("load" if hw & 0x0800 else "store"), 0
    if hw >> 12 == 0b1001:  # sp-relative
        return ("load" if hw & 0x0800 else "store"), 0
    if hw >> 12 == 0b1010:  # adr, add rd, sp, #imm
        return "alu", 0
    if hw >> 12 == 0b1100:  # ldm / stm
        return ("ldm" if hw & 0x0800 else "stm"), bin(hw & 0xFF).count("1")
    if hw >> 12 == 0b1011:  # misc
        if hw >> 9 == 0b1011010:
            return "push", bin(hw & 0x1FF).count("1")
        if hw >> 9 == 0b1011110:
            return ("pop_pc" if hw & 0x100 else "pop"), bin(hw & 0xFF).count("1")
        if hw >> 8 in (0xB0, 0xB2, 0xBA) or hw >> 5 == 0b10110110011:  # sp adjust, extend, rev, cps
            return "alu", 0
        if hw >> 8 == 0xBF:
            return "hint", 0
        return "undefined", 0
    if hw >> 12 == 0b1101:
        cond = (hw >> 8) & 0xF
        if cond == 0xF:
            return "undefined", 0  # svc
        return ("bcond" if cond != 0xE else "undefined"), 0
    if hw >> 11 == 0b11100:
        return "b", 0
    return "undefined", 0
