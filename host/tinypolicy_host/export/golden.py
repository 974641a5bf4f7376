"""Golden vectors: what the device must compute, from the host integer reference (format: tests/data/golden/README.md).

Per net, a folder with one CSV per integer scheme (`golden_<scheme>.csv`: int32 inputs → int32 outputs), a
per-layer file of every intermediate for a subset of rows (`golden_<scheme>_layers.csv`), and `golden_f32.csv`
(float inputs → float outputs of the f32 blob's parameters in float64); `manifest.json` lists the nets, their
blobs and formats. Paths in the manifest are relative to the repository root.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..contract.blob import output_qrange, read_blob, write_blob
from ..contract.reference import I32_MAX, I32_MIN, PI_Q12, TABLE_ACTIVATIONS, TWO_PI_Q12, QuantMLP
from ..contract.spec import MLPSpec
from ..paths import REPO

GOLDEN_SEED = 20261125
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "tinypolicy-golden/2"
F32_ATOL = F32_RTOL = 1e-5  # double-precision ports: float64 host vs the device's float path
ARGMAX_MARGIN = 1e-4  # f32 argmax rows whose top-2 logits are closer than this are left out

ANGLE_EDGES = [0, 1, -1, 2, PI_Q12 // 2, -PI_Q12 // 2, 6434, -6434, PI_Q12 - 1, PI_Q12, PI_Q12 + 1, -PI_Q12 + 1,
               -PI_Q12, -PI_Q12 - 1, TWO_PI_Q12 - 1, TWO_PI_Q12, TWO_PI_Q12 + 1, -TWO_PI_Q12, 3 * PI_Q12,
               -3 * PI_Q12, 5 * TWO_PI_Q12 + 100, -7 * TWO_PI_Q12 - 100, 1000000, -1000000, I32_MAX, I32_MIN,
               I32_MIN + 1, 410, -410, 2048, -2048]


def affine_edges(q_lo: int, q_hi: int, q_off: int, frac: int) -> list[int]:
    """Integer edge cases of an affine input: 0, ±1, ±1.0, its clamp bounds and ±1 around them, twice and far
    past them, its offset, the int32 limits."""
    one = 1 << frac
    vals = [0, 1, -1, one, -one, q_lo, q_lo - 1, q_lo + 1, q_hi, q_hi - 1, q_hi + 1, q_off, 2 * q_lo, 2 * q_hi,
            8 * q_hi, 8 * q_lo, I32_MAX, I32_MIN]
    return [int(np.clip(v, I32_MIN, I32_MAX)) for v in dict.fromkeys(vals)]


def input_edges(model: QuantMLP) -> list[list[int]]:
    edges, f = [], 0
    for inp in model.inputs:
        if inp.kind == "angle":
            edges.append(ANGLE_EDGES)
            f += 2
        else:
            q = model.features[f]
            edges.append(affine_edges(q.qlo, q.qhi, q.qoff, inp.frac))
            f += 1
    return edges


def golden_int_inputs(model: QuantMLP, float_rows: np.ndarray, seed: int = GOLDEN_SEED) -> np.ndarray:
    """(N, n_inputs) int32 inputs: edge cases first (two inputs: every pair of edge values; more: each input's
    edges with the other inputs at random calibration rows, then all inputs at their k-th edge together), then
    `float_rows` converted with to_q per input."""
    edges = input_edges(model)
    rng = np.random.default_rng(seed)
    qrows = model.quantize_inputs(float_rows)
    if model.n_inputs == 1:
        edge = np.array(edges[0], np.int64)[:, None]
    elif model.n_inputs == 2:
        edge = np.array([(a, b) for a in edges[0] for b in edges[1]], np.int64)
    else:
        rows = []
        for i, vals in enumerate(edges):
            base = qrows[rng.integers(0, len(qrows), len(vals))].copy()
            base[:, i] = vals
            rows.append(base)
        n = max(len(v) for v in edges)
        rows.append(np.array([[v[k % len(v)] for v in edges] for k in range(n)], np.int64))
        edge = np.concatenate(rows)
    return np.concatenate([edge, qrows]).astype(np.int64)


def layer_rows(n_rows: int, n_edge: int, n_per: int = 100) -> np.ndarray:
    """Rows of the per-layer file: every 4th edge case (fewer for a small n_per: about 2·n_per of them) and n_per
    random rows from each third of the rest."""
    rest = n_rows - n_edge
    picks = [np.arange(0, n_edge, max(4, -(-n_edge // (2 * n_per))))]
    for g in range(3):
        start = n_edge + g * rest // 3
        picks.append(start + np.arange(min(n_per, rest // 3)))
    return np.concatenate(picks)


def golden_table(model: QuantMLP, xq: np.ndarray) -> str:
    out = model.forward_q(xq)
    cols = [f"in{i}" for i in range(model.n_inputs)] + [f"out{j}" for j in range(model.n_outputs)]
    data = np.concatenate([xq, out], axis=1)
    return _csv(cols, data)


def golden_layers_table(model: QuantMLP, xq: np.ndarray) -> str:
    """Every intermediate (column names in tests/data/golden/README.md)."""
    it, traces, out = model.trace(xq)
    cols = {f"in{i}": xq[:, i] for i in range(model.n_inputs)}
    for i, inp in enumerate(model.inputs):
        if inp.kind == "angle":
            for name, v in zip(("red", "turn", "cos", "sin"), it.angle[i], strict=True):
                cols[f"a{i}_{name}"] = v
        else:
            cols[f"a{i}_clamped"] = it.clamped[i]
    for f in range(it.x.shape[1]):
        cols[f"x{f}"] = it.x[:, f]
    for k, (layer, tr) in enumerate(zip(model.layers, traces, strict=True)):
        parts = [("acc", tr.acc)] + ([("pre", tr.y)] if layer.activation in TABLE_ACTIVATIONS else [])
        for tag, arr in parts + [("out", tr.out if layer.activation in TABLE_ACTIVATIONS else tr.y)]:
            for j in range(layer.n_out):
                cols[f"l{k}_{tag}{j}"] = arr[:, j]
    for j in range(out.shape[1]):
        cols[f"out{j}"] = out[:, j]
    return _csv(list(cols), np.stack([np.asarray(v, np.int64) for v in cols.values()], axis=1))


def _csv(cols: list[str], data: np.ndarray) -> str:
    lines = [",".join(cols)] + [",".join(map(str, row)) for row in np.asarray(data).tolist()]
    return "\n".join(lines) + "\n"


def golden_f32_table(spec: MLPSpec, x: np.ndarray) -> str:
    """Float32 inputs → outputs of the f32 blob's parameters in float64 (`%.9g`); argmax: unambiguous rows."""
    spec32 = spec.float32()
    x = np.asarray(x, np.float32).astype(np.float64)
    if spec32.argmax:
        logits = spec32.activations(x)[-1]
        top2 = np.sort(logits, axis=1)[:, -2:]
        x = x[top2[:, 1] - top2[:, 0] >= ARGMAX_MARGIN]
    y = spec32.forward(x)
    cols = [f"in{i}" for i in range(spec.n_inputs)] + [f"out{j}" for j in range(spec.n_outputs)]
    fmt = [f"{float(v):.9g}" if j < spec.n_inputs or not spec32.argmax else str(int(v))
           for row in np.concatenate([x, y], axis=1) for j, v in enumerate(row)]
    width = spec.n_inputs + spec.n_outputs
    lines = [",".join(cols)] + [",".join(fmt[r:r + width]) for r in range(0, len(fmt), width)]
    return "\n".join(lines) + "\n"


def f32_inputs(spec: MLPSpec, float_rows: np.ndarray) -> np.ndarray:
    """Float edge rows (zeros, each affine input at its clip bounds and beyond, angles at ±π, ±2π, 100) then the
    given rows, as float32."""
    edge = []
    for i, inp in enumerate(spec.inputs):
        vals = ([np.pi, -np.pi, 2 * np.pi, -3 * np.pi, 100.0] if inp.kind == "angle"
                else [inp.lo, inp.hi, 2 * inp.hi - inp.lo, 2 * inp.lo - inp.hi])
        for v in vals:
            row = np.zeros(spec.n_inputs)
            row[i] = v
            edge.append(row)
    edge.append(np.zeros(spec.n_inputs))
    return np.concatenate([np.array(edge), np.asarray(float_rows, np.float64)]).astype(np.float32)


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def blob_entry(model, blob: Path) -> dict:
    """The manifest entry of one blob (its scheme, file, Q formats, integer output ranges, size)."""
    if isinstance(model, QuantMLP):
        lo = [o.qlo for o in model.outputs]
        hi = [o.qhi for o in model.outputs]
        scheme, dtype = model.scheme, model.dtype
        in_frac, out_frac = model.in_frac, model.out_frac
    else:
        scheme = dtype = "f32"
        in_frac = [i.frac for i in model.inputs]
        out_frac = [0] if model.argmax else [o.frac for o in model.outputs]
        q = [(0, model.dims[-1] - 1)] if model.argmax else [output_qrange(o) for o in model.outputs]
        lo, hi = [a for a, _ in q], [b for _, b in q]
    return {"scheme": scheme, "dtype": dtype, "blob": _rel(blob), "in_frac": list(in_frac),
            "out_frac": list(out_frac), "out_lo_q": lo, "out_hi_q": hi, "bytes": blob.stat().st_size}


def write_golden_net(folder: Path, name: str, spec: MLPSpec, quantized: dict, float_rows: np.ndarray,
                     blobs: dict, n_layer_rows: int = 100) -> tuple[dict, list[Path]]:
    """Golden files of one net into folder/: quantized = {scheme: QuantMLP} already written to blobs[scheme]
    (blobs['f32'] too, if any); float_rows = the random (float) input rows. Returns (manifest entry, written)."""
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"name": name, "dir": _rel(folder), "n_inputs": spec.n_inputs, "n_outputs": spec.n_outputs,
             "argmax": spec.argmax, "blobs": []}
    written = []
    for scheme, model in quantized.items():
        model = read_blob(blobs[scheme], max_bytes=1 << 20)  # exactly what the blob holds
        xq = golden_int_inputs(model, float_rows)
        n_edge = len(xq) - len(float_rows)
        g, lg = folder / f"golden_{scheme}.csv", folder / f"golden_{scheme}_layers.csv"
        g.write_text(golden_table(model, xq))
        lg.write_text(golden_layers_table(model, xq[layer_rows(len(xq), n_edge, n_layer_rows)]))
        written += [g, lg]
        entry["blobs"].append({**blob_entry(model, blobs[scheme]), "golden": _rel(g), "layers": _rel(lg)})
    if "f32" in blobs:
        g = folder / "golden_f32.csv"
        g.write_text(golden_f32_table(spec, f32_inputs(spec, float_rows)))
        written.append(g)
        entry["blobs"].append({**blob_entry(read_blob(blobs["f32"], max_bytes=1 << 20), blobs["f32"]),
                               "golden": _rel(g), "atol": F32_ATOL, "rtol": F32_RTOL})
    return entry, written


def write_manifest(golden_dir: Path, entries: list[dict]) -> Path:
    path = golden_dir / MANIFEST
    path.write_text(json.dumps({"format": MANIFEST_FORMAT, "nets": entries}, indent=1) + "\n")
    return path


def quantize_and_write(folder: Path, tag: str, spec: MLPSpec, calib, schemes) -> tuple[dict, dict]:
    """Quantize spec per scheme and write folder/policy_<tag>_<scheme>.bin (+ f32 when 'f32' in schemes)."""
    from ..quantize.quant import quantize

    folder.mkdir(parents=True, exist_ok=True)
    quantized, blobs = {}, {}
    for scheme in schemes:
        path = folder / f"policy_{tag}_{scheme}.bin"
        model = spec.float32() if scheme == "f32" else quantize(spec, scheme, calib)
        write_blob(path, model)
        blobs[scheme] = path
        if scheme != "f32":
            quantized[scheme] = model
    return quantized, blobs

