"""`make bench` section "cycles" (also `make cycles`): the RP2040 cycle model (host/tinypolicy_host/armv6m).

- every golden row of every net and integer scheme of the golden manifest (the 256-wide net: every WIDE_STEP-th
  row) and of the kernel-path variants through the asm_thumb kernel's armv6m machine code and the C reference,
  compared with the golden files / the host reference;
- the cycle table: modelled cycles per inference of the asm_thumb kernel and of mlp_ref.c (gcc-arm-none-eabi -O2
  -mcpu=cortex-m0plus) at the three benchmark sizes (armv6m.cases.BENCH_SIZES), w8a16 / w8a8 / q15, with µs at
  125 MHz, cycles per MAC and the asm kernel's instruction mix.
"""
from __future__ import annotations

import numpy as np

from ..armv6m import cases
from ..armv6m.cref import CReference, gcc_version
from ..armv6m.kernel import ThumbKernel
from .markdown import table as _table

CLOCK_HZ = 125_000_000
# The issue's figures (issue 15: an emulated RP2040 running the official rp2 firmware v1.28.0, shipped 2x16 net,
# cycles per Policy.infer_q from Python): quoted as the baseline, not measured by this harness.
ISSUE_VIPER = {"int8": 23_300, "q15": 37_600, "f32": 1_132_000}
ISSUE_VIPER_KERNEL_INT8 = 21_100
ISSUE_C_INT8 = 7_914
ISSUE_CALL_OVERHEAD = 330  # issue: an int-argument asm call from Python ~4 100 vs ~3 770 cycles inside it


SCHEMES = ("w8a16", "w8a8", "q15")
WIDE_STEP = 8  # nets with > 100 000 MACs (the 256-wide golden net, ~0.5 M modelled cycles a row): every 8th row


def _states(n: int, seed: int = 3) -> np.ndarray:
    """Operating-box states (Q12), (n, 2): θ ∈ ±π, θ̇ ∈ ±8 rad/s (an angle beyond ±π adds the reduction loop)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(-12868, 12869, n), rng.integers(-32768, 32769, n)], axis=1)


def golden_check(quick: bool = False) -> list[dict]:
    """Bit-exactness of the asm kernel and the C reference on the golden rows (every row, the wide net every
    WIDE_STEP-th; quick: every 10th)."""
    rows = []
    for case in cases.golden_cases() + cases.variant_cases():
        step = 10 if quick else (WIDE_STEP if cases.macs(case.model) > 100_000 else 1)
        idx = np.arange(0, len(case.want), step)
        for engine, impl in (("asm_thumb", ThumbKernel(case.blob)), ("c", CReference(case.blob))):
            got = [impl.infer_q(case.xq[i]) for i in idx]
            got = np.array([r.out if engine == "asm_thumb" else r[0] for r in got])
            bad = int(np.count_nonzero((got != case.want[idx]).any(axis=1)))
            rows.append({"case": case.name, "engine": engine, "rows": len(idx), "mismatches": bad})
    return rows


def cycle_table(n_states: int = 12) -> list[dict]:
    """Per size, scheme and engine: median / min / max modelled cycles over n_states random states, and how many
    outputs differ from the host reference (0)."""
    xq = _states(n_states)
    out = []
    for size in cases.BENCH_SIZES:
        for scheme in SCHEMES:
            model, blob = cases.bench_policy(size, scheme)
            want = model.forward_q(xq)
            for engine, impl in (("asm_thumb", ThumbKernel(blob)), ("c", CReference(blob))):
                cyc, mix, got = [], None, []
                for row in xq:
                    r = impl.infer_q(row)
                    run = r.run if engine == "asm_thumb" else r[1]
                    got.append(r.out if engine == "asm_thumb" else r[0])
                    cyc.append(run.cycles)
                    mix = run.mix
                med = float(np.median(cyc))
                out.append({"size": size, "dtype": scheme, "engine": engine, "macs": cases.macs(model),
                            "mismatches": int(np.count_nonzero((np.array(got) != want).any(axis=1))),
                            "cycles_median": int(med), "cycles_min": int(min(cyc)), "cycles_max": int(max(cyc)),
                            "us_at_125mhz": round(med / CLOCK_HZ * 1e6, 1),
                            "cycles_per_mac": round(med / cases.macs(model), 2),
                            "mix": " ".join(f"{k}={v}" for k, v in sorted(mix.items()))})
    return out


def run(quick: bool = False) -> dict:
    return {"golden": golden_check(quick), "table": cycle_table(4 if quick else 12), "gcc": gcc_version(),
            "quick": quick}


def render(result: dict) -> list[str]:
    """The RESULTS.md section."""
    table = result["table"]

    def get(size, dtype, engine, key="cycles_median"):
        return next(r[key] for r in table if (r["size"], r["dtype"], r["engine"]) == (size, dtype, engine))

    L = ["## RP2040 cycle model (emulated Cortex-M0+, not a board)", "",
         ("The asm_thumb kernel's armv6m machine code, read out of the `.mpy` that `mpy-cross -march=armv6m` "
          "writes, and the C reference `benchmarks/c_ref/mlp_ref.c` built with Debian's gcc-arm-none-eabi "
          f"{result['gcc']} `-O2 -mcpu=cortex-m0plus -mthumb`, both run under unicorn (Cortex-M0 model) and priced "
          "with the Cortex-M0+ TRM timings (RP2040: single-cycle multiplier, zero-wait SRAM; "
          "`host/tinypolicy_host/armv6m/cycles.py` has the table and the model's limits). Cycles are counted "
          "inside the call (the asm function's own prologue and epilogue included); the interpreter's call "
          f"overhead (≈ {ISSUE_CALL_OVERHEAD} cycles for an int-argument asm call, from the issue's emulator) "
          "comes on top. µs at 125 MHz. Benchmark nets (blob v2): the pendulum's inputs (θ angle, θ̇ affine) → 3 "
          "features → hidden relu layers → 1 output, random weights quantized by the project's quantizer; the "
          "shipped int8 blob is w8a16 (`models/policy_int8.bin`), w8a8 is `models/policy_int8_a8.bin`."), ""]
    rows = []
    for size in cases.BENCH_SIZES:
        for dtype in SCHEMES:
            a, c = get(size, dtype, "asm_thumb"), get(size, dtype, "c")
            rows.append([size, dtype, get(size, dtype, "asm_thumb", "macs"), a,
                         get(size, dtype, "asm_thumb", "us_at_125mhz"), get(size, dtype, "asm_thumb", "cycles_per_mac"),
                         c, get(size, dtype, "c", "us_at_125mhz"), f"{a / c:.2f}"])
    L += _table(["net", "scheme", "MACs", "asm_thumb cycles", "µs", "cycles/MAC", "C -O2 cycles", "µs", "asm / C"],
                rows)
    L += ["", f"Outputs of these runs that differ from the host reference: {sum(r['mismatches'] for r in table)}."]
    first = next(iter(cases.BENCH_SIZES))
    a8, c8 = get(first, "w8a16", "asm_thumb"), get(first, "w8a16", "c")
    L += ["", ("Baseline (the issue's emulated RP2040 running the official rp2 firmware v1.28.0 with our viper "
               "kernel, shipped 2×16 net, cycles per `infer_q` from Python; quoted, not measured here): int8 viper "
               f"{ISSUE_VIPER['int8']:,} (kernel alone {ISSUE_VIPER_KERNEL_INT8:,}), Q15 viper "
               f"{ISSUE_VIPER['q15']:,}, f32 {ISSUE_VIPER['f32']:,}. Shipped int8 (w8a16) here: asm_thumb "
               f"{a8:,} cycles inside the call (≈ {a8 + ISSUE_CALL_OVERHEAD:,} with the call: "
               f"{ISSUE_VIPER['int8'] / (a8 + ISSUE_CALL_OVERHEAD):.1f}× faster than viper), "
               f"w8a8 {get(first, 'w8a8', 'asm_thumb'):,}, Q15 {get(first, 'q15', 'asm_thumb'):,} "
               f"({get(first, 'q15', 'asm_thumb') / a8:.2f}× w8a16)."),
          "", (f"Calibration: the issue's emulator measured {ISSUE_C_INT8:,} cycles for the blob-v1 mlp_ref.c on "
               "the shipped int8 net, and this model gave 7 916 for that code (commit c42b03b, +0.0 %); the blob-v2 "
               f"mlp_ref.c (generic input stage, output stage, argmax) takes {c8:,} here on the shipped w8a16 "
               "blob."), ""]
    mix = get(first, "w8a16", "asm_thumb", "mix")
    L += [f"Instruction mix of the shipped int8 (w8a16) inference (asm_thumb): {mix}.", ""]
    g = result["golden"]
    rows_note = "every 10th row" if result.get("quick") else f"the 256-wide net every {WIDE_STEP}th row"
    bad = sum(r["mismatches"] for r in g)
    L += [(f"Bit-exactness on the golden vectors: {sum(r['rows'] for r in g):,} inferences over "
           f"{len({r['case'] for r in g})} blobs (every net and integer scheme of tests/data/golden/manifest.json and "
           f"the kernel-path variants; {rows_note}), asm_thumb and C on each, "
           f"{bad} mismatches."), ""]
    L += _table(["case", "engine", "rows", "mismatches"], [[r["case"], r["engine"], r["rows"], r["mismatches"]]
                                                          for r in g])
    return L
