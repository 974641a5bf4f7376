"""A small reader of MicroPython `.mpy` files (version 6, sub-versions 2 and 3): finds the machine code of the
`@micropython.asm_thumb` functions that `mpy-cross -march=armv6m` stored in them.

Format (MicroPython's docs/reference/mpyfiles.rst and tools/mpy-tool.py describe it): header `M`, version,
feature byte (bits 0-1 sub-version, bits 2-5 native arch, bit 6: an arch-flags vuint follows the header),
small-int bits; then vuint n_qstr, vuint n_obj, the qstrs (vuint len<<1 | static flag, bytes, NUL), the constant
objects (type byte, ...), then the module's raw code, recursively: vuint kind_len (kind = bits 0-1: 0 bytecode,
1 native Python, 2 viper, 3 inline asm; bit 2: has children; length = kind_len >> 3), that many bytes of code,
then per kind: native Python: vuint prelude offset; viper: vuint scope flags and optional rodata / bss /
relocation sections; asm: vuint scope flags, vuint n_pos_args, vuint type signature. Then, with children, vuint
n_children and the children. vuints are big-endian groups of 7 bits, the high bit set on every byte but the last.
Function names come from the bytecode of the enclosing scope, which this reader does not decode: asm functions
are returned in file order (the order of their definitions in the source module).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ARCHES = {0: None, 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp",
          8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc"}
KINDS = ("bytecode", "native", "viper", "asm")
_OBJ_TUPLE, _OBJ_STR_BYTES, _OBJ_SIMPLE = 10, (5, 6), (0, 1, 2, 3, 4)
_VIPER_RELOC, _VIPER_RODATA, _VIPER_BSS = 0x10, 0x20, 0x40


class MpyError(ValueError):
    """A file this reader cannot parse (the message names the file and the offset)."""


@dataclass
class AsmFunction:
    code: bytes  # machine code (armv6m: Thumb halfwords, little-endian)
    n_args: int
    type_sig: int
    offset: int  # of the code in the file


@dataclass
class MpyFile:
    version: int
    sub_version: int
    arch: str | None
    asm: list[AsmFunction]
    kinds: list[str]  # kind of every raw code, in file order


class _Reader:
    def __init__(self, data: bytes, name: str):
        self.data, self.name, self.pos = data, name, 0

    def fail(self, what: str):
        raise MpyError(f"{self.name}: offset {self.pos}: {what}")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            self.fail("truncated")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            self.fail(f"truncated (needs {n} bytes)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self) -> int:
        v = 0
        while True:
            b = self.byte()
            v = v << 7 | b & 0x7F
            if not b & 0x80:
                return v

    def qstr(self) -> None:
        n = self.uint()
        if not n & 1:  # not a static qstr: bytes + NUL follow
            self.take((n >> 1) + 1)

    def obj(self) -> None:
        kind = self.byte()
        if kind in _OBJ_SIMPLE:
            return
        if kind == _OBJ_TUPLE:
            for _ in range(self.uint()):
                self.obj()
            return
        n = self.uint()
        self.take(n + (1 if kind in _OBJ_STR_BYTES else 0))

    def raw_code(self, out: MpyFile) -> None:
        kind_len = self.uint()
        kind, has_children, size = kind_len & 3, kind_len >> 2 & 1, kind_len >> 3
        start = self.pos
        code = self.take(size)
        out.kinds.append(KINDS[kind])
        if kind == 1:
            self.uint()  # prelude offset
        elif kind == 2:
            flags = self.uint()
            rodata = self.uint() if flags & _VIPER_RODATA else 0
            if flags & _VIPER_BSS:
                self.uint()
            self.take(rodata)
            if flags & _VIPER_RELOC:
                while (op := self.byte()) != 0xFF:
                    if op & 1:
                        self.uint()
                    if op >> 1 <= 5 and op >> 1 & 1:
                        self.uint()
        elif kind == 3:
            self.uint()  # scope flags
            n_args, type_sig = self.uint(), self.uint()
            out.asm.append(AsmFunction(code, n_args, type_sig, start))
        if has_children:
            for _ in range(self.uint()):
                self.raw_code(out)


def read_mpy(path: Path | str) -> MpyFile:
    """Parse an .mpy file; raises MpyError on anything it does not understand."""
    path = Path(path)
    r = _Reader(path.read_bytes(), str(path))
    head = r.take(4)
    if head[0] != ord("M"):
        r.fail("not an .mpy file (no 'M')")
    if head[1] != 6:
        r.fail(f".mpy version {head[1]}: this reader knows version 6")
    feat = head[2]
    out = MpyFile(head[1], feat & 3, ARCHES.get(feat >> 2 & 0xF, f"arch {feat >> 2 & 0xF}"), [], [])
    if feat & 0x40:
        r.uint()  # arch flags
    n_qstr, n_obj = r.uint(), r.uint()
    for _ in range(n_qstr):
        r.qstr()
    for _ in range(n_obj):
        r.obj()
    r.raw_code(out)
    if r.pos != len(r.data):
        r.fail(f"{len(r.data) - r.pos} bytes left after the module's raw code")
    return out
