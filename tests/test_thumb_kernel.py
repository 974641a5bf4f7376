"""The asm_thumb kernel (device/tinypolicy/kernels_thumb.py) as ARM machine code: mpy-cross -march=armv6m output,
read out of the .mpy and executed under unicorn's Cortex-M0 model (Thumb-1 + BL: a Thumb-2 instruction faults),
priced by the Cortex-M0+ cycle model. Bit-exact with the golden files on every net and integer scheme of the
golden manifest (blob v2: affine / angle inputs, output stage, argmax, w8a8 / w8a16 / q15, 256 wide) and with the
host integer reference on the kernel-path variants and on run_layers (a subset of rows here; every row in
`make cycles`), the C reference built with gcc-arm-none-eabi under the same harness, and the harness pieces."""
import re

import numpy as np
import pytest

from devrun import run_micropython
from tinypolicy_host.armv6m import cases, thumb
from tinypolicy_host.armv6m.cref import CReference
from tinypolicy_host.armv6m.cycles import BlockCost, base_cycles
from tinypolicy_host.armv6m.emulator import Machine
from tinypolicy_host.armv6m.kernel import SOURCE, ThumbKernel, compile_kernel, layout
from tinypolicy_host.armv6m.mpyfile import read_mpy
from tinypolicy_host.board import mpy
from tinypolicy_host.contract.blob import encode_blob
from tinypolicy_host.paths import MODELS


def _subset(case, step=23, head=40):
    if len(case.blob) > 20000:  # the 256-wide net: ~0.5 M modelled cycles per row
        step, head = 100, 3
    idx = np.unique(np.r_[np.arange(min(head, len(case.want))), np.arange(0, len(case.want), step)])
    return case.xq[idx], case.want[idx]


def test_raw_opcode_names_are_their_encodings():
    consts = re.findall(r"^_([A-Z0-9_]+) = const\(0x([0-9A-F]{4})\)", SOURCE.read_text(), re.M)
    assert len(consts) > 30
    for name, value in consts:
        assert thumb.encode(name) == int(value, 16), name
    with pytest.raises(ValueError):
        thumb.encode("LDM_R1_R1")  # writeback with the base in the list: not a form the kernel may use


def test_mpy_reader_finds_the_kernel_and_parses_every_runtime_module(tmp_path):
    m = read_mpy(compile_kernel())
    assert m.arch == "armv6m" and m.version == 6
    assert [(f.n_args, len(f.code) % 2) for f in m.asm] == [(1, 0)]
    assert m.asm[0].code[:2] == bytes.fromhex("f2b5")  # MicroPython's prologue: push {r1, r4-r7, lr}
    kinds = set()
    for path in mpy.compile_arch("armv6m", tmp_path):
        kinds.update(read_mpy(path).kinds)
    assert {"bytecode", "viper", "asm"} <= kinds


def test_descriptor_is_the_device_loaders():
    blobs = [MODELS / "policy_int8.bin", MODELS / "policy_q15.bin"] + [
        cases.GOLDEN / net / f"policy_{net}_{scheme}.bin"
        for net, scheme in (("hardtanh_sigmoid", "q15"), ("argmax", "w8a8"), ("multi", "w8a16"), ("wide", "w8a16"))]
    code = ("from array import array\nfrom tinypolicy.loader import load\n"
            + "".join(f"m = load({str(b)!r})\nprint(list(array('i', m.blob[m.desc_off:m.desc_off + 4 * (16 + 8 * "
                      "m.n_layers)])))\nm = None\n" for b in blobs))
    proc = run_micropython(["-c", code], heapsize="512K")
    assert proc.returncode == 0, proc.stderr
    got = [eval(line) for line in proc.stdout.split("\n") if line]
    assert got == [layout(b.read_bytes()).desc for b in blobs]


def test_cycle_model_prices_taken_and_not_taken_branches():
    m = Machine()
    func = m.load(bytes.fromhex("0138fdd17047"))  # 0: subs r0, #1 / 2: bne 0 / 4: bx lr
    run = m.call(func, 5)
    assert run.r0 == 0 and run.instructions == 5 + 5 + 1
    assert run.cycles == 5 * 1 + 4 * 2 + 1 * 1 + 2  # subs, bne taken 4x / not taken once, bx
    assert run.mix["bcond_taken"] == 4 and run.mix["bcond_not_taken"] == 1
    assert base_cycles(*thumb.classify(0xB5F2)) == 7  # push {r1, r4-r7, lr}: 1 + 6
    assert base_cycles(*thumb.classify(0xBDF2)) == 8  # pop {r1, r4-r7, pc}: 3 + 5
    assert base_cycles(*thumb.classify(0xCA30)) == 3  # ldm r2!, {r4, r5}
    with pytest.raises(ValueError, match="non-ARMv6-M"):
        BlockCost(bytes.fromhex("00bf4ff00000"), 0, 0, 6)  # nop; mov.w r0, #0 (Thumb-2)


@pytest.mark.parametrize("case", cases.golden_cases() + cases.variant_cases(), ids=lambda c: c.name)
def test_thumb_kernel_bit_exact(case):
    k = ThumbKernel(case.blob)
    xq, want = _subset(case)
    got = np.array([k.infer_q(row).out for row in xq])
    bad = np.nonzero((got != want).any(axis=1))[0]
    if len(bad):
        i = bad[0]
        pytest.fail(f"{len(bad)} of {len(want)} differ, first {list(xq[i])}: kernel {list(got[i])}, "
                    f"reference {list(want[i])}")
    assert len(np.unique(want)) > 2


@pytest.mark.parametrize("name", ["pendulum_w8a16", "hardtanh_sigmoid_q15", "argmax_w8a8", "multi_w8a16"])
def test_run_layers_stops_early_with_the_activations(name):
    """desc[_D_RUN] = k < n_layers (Policy.run_layers): the features (k = 0) or layer k's hand-off values."""
    case = next(c for c in cases.golden_cases() if c.name == name)
    xq = case.xq[:12]
    it, traces, _ = case.model.trace(xq)
    k = ThumbKernel(case.blob)
    for run in range(len(case.model.layers)):
        want = it.x if run == 0 else traces[run - 1].out
        got = np.array([k.infer_q(row, run).out for row in xq])
        assert np.array_equal(got, want), (name, run)


@pytest.mark.parametrize("scheme", ["w8a16", "q15"])
def test_wider_than_golden_nets_bit_exact(scheme):
    """3 -> 72 -> 80 -> 1 through the word loops and the pairs (random weights, random inputs)."""
    model = cases.random_policy([72, 80], scheme, seed=5)
    xq = np.array([[0, 0], [5000, -20000], [-12000, 9000], [30000, 140000]])
    k = ThumbKernel(encode_blob(model))
    assert [k.infer_q(row).out for row in xq] == model.forward_q(xq).tolist()


def test_c_reference_bit_exact_and_slower_than_the_kernel():
    case = cases.golden_cases()[0]  # shipped int8 (w8a16)
    ref, k = CReference(case.blob), ThumbKernel(case.blob)
    xq, want = _subset(case)
    c_out, c_cyc, k_cyc = [], [], []
    for row in xq:
        out, run = ref.infer_q(row)
        c_out.append(out)
        c_cyc.append(run.cycles)
        k_cyc.append(k.infer_q(row).run.cycles)
    assert np.array_equal(c_out, want)
    assert max(k_cyc) < min(c_cyc)  # the asm kernel beats gcc -O2 on every input


def test_kernel_cycle_goals_on_the_shipped_nets():
    """Modelled cycles inside the call (the interpreter's ~300-cycle call overhead comes on top: issue 15)."""
    xq = [[0, 0], [9000, 20000], [-30000, -150000]]
    med = {}
    for scheme in ("w8a16", "w8a8", "q15"):
        k = ThumbKernel((MODELS / cases.SCHEME_FILES[scheme]).read_bytes())
        med[scheme] = np.median([k.infer_q(row).run.cycles for row in xq])
    assert med["w8a16"] <= 3800 and med["w8a8"] <= 3800, med
    assert med["q15"] <= 1.3 * med["w8a16"], med


def test_policy_selects_the_thumb_kernel_only_on_arm_firmware():
    """The unix port (x64) reports no ARM arch: Policy runs viper, and kernel='thumb' is refused in one line."""
    code = ("from tinypolicy import Policy\np = Policy.load('models/policy_int8.bin')\nprint(p.kernel)\n"
            "try:\n    Policy.load('models/policy_int8.bin', kernel='thumb')\nexcept ValueError as e:\n    print(e)\n")
    proc = run_micropython(["-c", code])
    assert proc.returncode == 0, proc.stderr
    refused = "kernel 'thumb': not on this port (ARM firmware with the inline assembler)"
    assert proc.stdout.split("\n")[:2] == ["viper", refused]
