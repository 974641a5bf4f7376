"""The scaling table of `tinypolicy bench`: cost per inference and per multiply-accumulate (MAC) at three net
sizes, for each blob dtype and engine, measured in one run.

Nets: the shipped pendulum policy (models/policy_*.bin, 3 features → 16 → 16 → 1), and two random but seeded
affine-input relu MLPs (export/testnets.affine_relu_spec) of about 8 → 64 → 64 → 4 and 17 → 256 → 256 → 6, quantized
by the project's quantizer and written to build/bench/scaling/ (never the repo). Schemes: int8 = w8a16 (the
default), int8 w8a8, q15, f32.

Engines: MicroPython on the unix port (device_bench.py, public API only) with the viper and the portable integer
kernel (f32: the float path); the C loop of the same arithmetic (benchmarks/c_ref/mlp_ref.c, checked against
the host reference first); TensorFlow Lite Micro on the same float net quantized its own way (bench/tflm.py).
Time: block median per call; instructions: callgrind at two call counts, differenced (bench/ref.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..contract.blob import read_blob, write_blob
from ..export.testnets import SEED, affine_relu_spec, pendulum_calib, pendulum_rows, rows_for
from ..paths import BUILD, MODELS, REPO
from ..quantize.quant import quantize
from . import ref

OUT = BUILD / "bench" / "scaling"
#: (name, dims or None for the shipped pendulum net)
FULL_SIZES = (("pendulum", None), ("64 wide", [8, 64, 64, 4]), ("256 wide", [17, 256, 256, 6]))
QUICK_SIZES = (("pendulum", None), ("64 wide", [8, 64, 64, 4]))
SCHEMES = ("w8a16", "w8a8", "q15", "f32")
LABEL = {"w8a16": "int8", "w8a8": "int8 w8a8", "q15": "q15", "f32": "f32"}
SHIPPED = {"w8a16": "policy_int8.bin", "w8a8": "policy_int8_a8.bin", "q15": "policy_q15.bin", "f32": "policy_f32.bin"}
# the 256-wide q15 (148 KB) and f32 (286 KB) blobs exceed Policy.load's default 96 KiB limit and the 256K heap:
# the scaling runs load with this limit in a larger heap (no RP2040 holds those two; the int8 ones fit)
MAX_BYTES, HEAPSIZE = 1 << 20, "2M"
# rough instructions per MAC and per call, to size the callgrind call counts (only the run time depends on them)
COST = {"viper": (30, 10000), "portable": (800, 40000), "float": (2100, 80000), "c": (10, 1000)}


@dataclass
class Net:
    name: str
    spec: object  # float MLPSpec
    calib: np.ndarray
    blobs: dict = field(default_factory=dict)  # scheme -> Path
    models: dict = field(default_factory=dict)  # scheme -> QuantMLP / MLPSpec as read back

    @property
    def dims(self) -> list[int]:
        return self.spec.dims

    @property
    def macs(self) -> int:
        d = self.dims
        return sum(d[k] * d[k + 1] for k in range(len(d) - 1))

    @property
    def shape(self) -> str:
        return "→".join(str(d) for d in self.dims)


def build_nets(sizes=FULL_SIZES, out: Path = OUT) -> list[Net]:
    """The nets of `sizes` with one blob per scheme (the pendulum's are the shipped files)."""
    out.mkdir(parents=True, exist_ok=True)
    nets = []
    for k, (name, dims) in enumerate(sizes):
        if dims is None:
            net = Net(name, read_blob(MODELS / SHIPPED["f32"]), pendulum_calib())
            net.blobs = {s: MODELS / f for s, f in SHIPPED.items() if (MODELS / f).exists()}
        else:
            spec = affine_relu_spec(dims, SEED + 100 + k, prefix="x")
            net = Net(name, spec, rows_for(spec, 4096, SEED + 200 + k))
            tag = "x".join(str(d) for d in dims)
            for scheme in SCHEMES:
                model = spec if scheme == "f32" else quantize(spec, scheme, net.calib)
                net.blobs[scheme] = out / f"mlp_{tag}_{scheme}.bin"
                write_blob(net.blobs[scheme], model)
        net.models = {s: read_blob(p, MAX_BYTES) for s, p in net.blobs.items()}
        nets.append(net)
    return nets


def test_rows(net: Net, n: int = 400, seed: int = 99) -> np.ndarray:
    """Float input rows for checks: pendulum-style for the pendulum, in and beyond the input ranges otherwise."""
    return pendulum_rows(n, seed) if net.name == "pendulum" else rows_for(net.spec, n, seed)


def domain_rows(net: Net, n: int = 400, seed: int = 99) -> np.ndarray:
    """Float input rows inside the calibrated domain (where an int8 net's ranges hold): TFLM's agreement."""
    return pendulum_calib(n, seed) if net.name == "pendulum" else rows_for(net.spec, 2 * n, seed)[:n]


def _calls(engine: str, macs: int, target: float = 3e7) -> tuple[int, int]:
    """(n1, n2) call counts: about `target` instructions between them, at least 2 calls apart."""
    per_mac, fixed = COST[engine]
    k = int(min(5000, max(2, target / (per_mac * macs + fixed))))
    return max(1, k // 4), max(1, k // 4) + k


# ---- measurements -------------------------------------------------------------------------------------------

def device_records(nets: list[Net], cfg: dict, variant: str, budget_ms: int) -> list[dict]:
    """device_bench.py (memory, latency) for every blob, one process each (so every policy is loaded into the
    same fresh heap; also, this unix-port build aborts on a command-line argument of 256 characters or more):
    integer blobs with each kernel, f32 blobs with the float path."""
    from .device import run_device_bench

    records = []
    for net in nets:
        for scheme, blob in net.blobs.items():
            for kernel in ((None,) if scheme == "f32" else ("viper", "portable")):
                recs, _raw = run_device_bench(cfg["n"], cfg["warmup"], cfg["block"], variant=variant, blobs=[blob],
                                              kernel=kernel, sections=("memory", "latency"), budget_ms=budget_ms,
                                              heapsize=HEAPSIZE, max_bytes=MAX_BYTES)
                errors = [r for r in recs if r["record"] == "error"]
                if errors:
                    raise RuntimeError(f"device_bench.py {blob.name} {kernel}: {errors[0]}")
                records += recs
    return records


def _device_row(records, blob: Path, kernel: str | None) -> tuple[dict | None, dict | None]:
    lat = mem = None
    for r in records:
        if str(r.get("dtype")) != str(blob) or (kernel and r.get("kernel") != kernel):
            continue
        if r["record"] == "latency" and r.get("api") == "infer_q":
            lat = r
        elif r["record"] == "memory":
            mem = r
    return lat, mem


def measure(nets: list[Net], cfg: dict, variant: str = "mpy", *, budget_ms: int = 2000, instr: bool = True,
            tflm: bool = True, c_binary: Path | None = None) -> dict:
    """All rows of the scaling table: {"rows": [...], "tflm": [...], "notes": [...]}. A failing engine is
    noted and the others still measured."""
    notes: list[str] = []
    rows: list[dict] = []
    try:
        records = device_records(nets, cfg, variant, budget_ms)
    except Exception as exc:  # noqa: BLE001
        records = []
        notes.append(f"MicroPython: {type(exc).__name__}: {exc}"[:300])
    if c_binary is None:
        c_binary, _ = ref.build_c()
    for net in nets:
        for scheme, blob in net.blobs.items():
            base = {"net": net.name, "shape": net.shape, "macs": net.macs, "dtype": LABEL[scheme],
                    "blob_bytes": blob.stat().st_size}
            for kernel in (("float",) if scheme == "f32" else ("viper", "portable")):
                lat, mem = _device_row(records, blob, None if kernel == "float" else kernel)
                row = {**base, "engine": f"micropython {kernel}", "median_ns": lat["median_ns"] if lat else "",
                       "calls": lat["n"] if lat else "", "policy_ram_bytes": mem["policy_bytes"] if mem else ""}
                if instr:
                    row["instructions"] = _try(notes, f"{net.name} {scheme} {kernel} instructions",
                                               lambda b=blob, k=kernel, m=net.macs: ref.device_instructions(
                                                   *_calls(k, m), variant, blob=b,
                                                   kernel=None if k == "float" else k,
                                                   heapsize=HEAPSIZE, max_bytes=MAX_BYTES))
                rows.append(row)
            rows.append(_c_row(net, scheme, blob, base, c_binary, cfg, instr, notes))
    out = {"rows": rows, "tflm": [], "notes": notes}
    if tflm:
        for net in nets:
            out["tflm"].append(_try(notes, f"{net.name} TFLM", lambda n=net: _tflm_row(n, cfg, instr)) or {})
        rows += [t["row"] for t in out["tflm"] if t]
    for r in rows:
        _per_mac(r)
    return out


def _c_row(net: Net, scheme: str, blob: Path, base: dict, binary: Path, cfg: dict, instr: bool, notes) -> dict:
    model = net.models[scheme]
    rows = test_rows(net)
    if scheme != "f32":
        rows = model.quantize_inputs(rows)
    bad, diff = ref.check_c_blob(binary, blob, rows)
    check = (f"bit-exact vs host reference: {bad} mismatches / {len(rows)}" if scheme != "f32" else
             f"vs float64 spec: max abs diff {diff:.2e} ({bad} rows beyond 1e-3 of the range) / {len(rows)}")
    row = {**base, "engine": "c (gcc -O2)", "check": check, "mismatches": bad, "policy_ram_bytes": ""}
    lat = _try(notes, f"{net.name} {scheme} C latency",
               lambda: ref.c_latency(binary, blob, max(cfg["n"], 2000), max(cfg["warmup"], 200), cfg["block"]))
    row["median_ns"] = lat["median_ns"] if lat else ""
    row["calls"] = lat["n"] if lat else ""
    if instr:
        row["instructions"] = _try(notes, f"{net.name} {scheme} C instructions",
                                   lambda: ref.c_instructions(binary, blob, *_calls("c", net.macs)))
    return row


def _tflm_row(net: Net, cfg: dict, instr: bool) -> dict:
    from . import tflm

    data, info = tflm.build_tflite(net.spec, net.calib)
    path = OUT / f"tflm_{net.name.replace(' ', '_')}.tflite"
    path.write_bytes(data)
    rows = domain_rows(net)
    agree = tflm.agreement(net.spec, data, info, rows, net.models.get("w8a8"))
    xq = tflm.quantize_features(net.spec, rows[:64], info)
    lat = tflm.invoke_latency(data, xq, max(cfg["n"] // 2, 500), max(cfg["warmup"] // 2, 50), cfg["block"])
    row = {"net": net.name, "shape": net.shape, "macs": net.macs, "dtype": "int8 w8a8", "engine": "tflm (Python)",
           "median_ns": lat["median_ns"], "calls": lat["n"], "blob_bytes": len(data), "policy_ram_bytes": "",
           "check": (f"int8 activations, own rounding: max abs diff vs float {agree['max_abs_diff_vs_float_lsb']:.1f}"
                     f" LSB (mean {agree['mean_abs_diff_vs_float_lsb']:.2f})")}
    if instr:
        counts = tflm.instructions_per_invoke(path, *_calls("c", net.macs, 1e7))
        row["instructions"] = counts["invoke"]
        agree["instructions_process"] = counts["process"]
    return {"row": row, "agreement": agree, "tflite": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else
            str(path), "version": tflm.version()}


def _try(notes: list, what: str, fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - one engine failing must not lose the table
        notes.append(f"{what}: {type(exc).__name__}: {exc}"[:300])
        return ""


def _per_mac(r: dict) -> None:
    for src, dst in (("median_ns", "ns_per_mac"), ("instructions", "instructions_per_mac")):
        v = r.get(src, "")
        r[dst] = round(float(v) / r["macs"], 3) if v not in ("", None) else ""
