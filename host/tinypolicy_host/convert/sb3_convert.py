"""`tinypolicy convert MODEL.zip`: an SB3 model → blobs (f32, int8 w8a16 / w8a8, Q15), the actor's ONNX and
metadata.json in one folder.

Calibration: with an env id, observations from rollouts of SB3's deterministic policy (seeds CALIB_SEED…); a
second rollout set (seeds HELD_OUT_SEED…) is held out for the accuracy report. Without one, rows drawn uniformly
from the input ranges (VecNormalize's clip range or the observation space's bounds). The f32 spec is checked
against `model.predict(obs, deterministic=True)` on the held-out rows before anything is written.
"""
import binascii
import datetime
import hashlib
import json
from pathlib import Path

import numpy as np

from ..contract.blob import SCHEME_BLOB_NAMES, write_blob
from ..contract.spec import MLPSpec, SpecError
from ..errors import UserError
from ..paths import git_commit
from . import sb3, sb3_load

CALIB_SEED = 10_000
HELD_OUT_SEED = 20_000
PREDICT_TOLERANCE = 1e-5
INT_SCHEMES = ("w8a16", "w8a8", "q15")
ONNX_NAME = "policy.onnx"
GOLDEN_ROWS = 256  # held-out observations in the golden vectors (plus the writer's edge cases)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def observation_rows(sb: sb3_load.SB3Model, env_id: str | None, episodes: int, seed: int,
                     n_uniform: int = 4096) -> np.ndarray:
    """Rollout observations (env given) or rows uniform in the spec's input ranges."""
    if env_id:
        return sb3_load.rollouts(sb, env_id, episodes, seed)
    spec = sb3.to_spec(sb)  # raises naming the first unbounded input
    lo, hi = np.array([i.lo for i in spec.inputs]), np.array([i.hi for i in spec.inputs])
    return np.random.default_rng(seed).uniform(lo, hi, size=(n_uniform, len(lo)))


def action_errors(spec: MLPSpec, model, obs: np.ndarray) -> dict:
    """Float vs quantized actions on `obs`: per output mean / max |error| (argmax: the share of other indices)."""
    want, got = spec.forward(obs), model.forward(obs)
    if spec.argmax:
        return {"rows": len(obs), "class_mismatch": float(np.mean(want[:, 0] != got[:, 0]))}
    err = np.abs(got - want)
    return {"rows": len(obs), "mean_abs": err.mean(axis=0).tolist(), "max_abs": err.max(axis=0).tolist()}


def convert_sb3(zip_path: Path, out_dir: Path, vecnormalize: Path | None = None, env_id: str | None = None,
                episodes: int = 20, schemes: tuple[str, ...] = INT_SCHEMES, provenance: dict | None = None) -> dict:
    """Convert; returns the metadata written to out_dir/metadata.json."""
    import onnx

    from ..export.artifacts import quant_metadata
    from ..export.golden import write_golden_net
    from ..export.onnx_mlp import build_onnx, run_onnx
    from ..quantize.quant import quantize
    from .artifacts import GOLDEN_DIR, relative_entry

    sb = sb3_load.load(zip_path, vecnormalize)
    calib = observation_rows(sb, env_id, episodes, CALIB_SEED)
    held = observation_rows(sb, env_id, max(episodes // 4, 1), HELD_OUT_SEED)
    try:
        spec = sb3.to_spec(sb, calib).float32()
        spec.validate()
    except SpecError as exc:
        raise UserError(f"{zip_path}: the actor does not fit blob v2: {exc}") from None
    want = np.asarray(sb.predict(held.astype(np.float32)), np.float64).reshape(len(held), -1)
    diff = float(np.max(np.abs(spec.forward(held) - want)))
    if diff > PREDICT_TOLERANCE:
        raise UserError(f"{zip_path}: the converted actor differs from SB3's predict by {diff:.3g} "
                        f"(> {PREDICT_TOLERANCE:g}) on held-out observations")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(build_onnx(spec, doc=f"deterministic actor of {Path(zip_path).name} ({sb.algo})"),
              str(out_dir / ONNX_NAME))
    onnx_diff = float(np.max(np.abs(run_onnx(out_dir / ONNX_NAME, held) - want)))
    models = {s: quantize(spec, s, calib) for s in schemes}
    blobs = {s: out_dir / SCHEME_BLOB_NAMES[s] for s in ("f32", *schemes)}
    write_blob(blobs["f32"], spec)
    for s, q in models.items():
        write_blob(blobs[s], q)
    # golden vectors (host integer reference) for `tinypolicy verify DIR`, on held-out observations
    rows = held[np.random.default_rng(0).permutation(len(held))[:GOLDEN_ROWS]]
    golden, _ = write_golden_net(out_dir / GOLDEN_DIR, "model", spec, models, rows, blobs, n_layer_rows=8)
    meta = {
        "format": "tinypolicy-metadata/2",
        "blob_version": 2,
        "env": env_id,
        "source": {"algo": sb.algo, "model": Path(zip_path).name, "model_sha256": sha256_file(zip_path),
                   "vecnormalize": Path(vecnormalize).name if vecnormalize else None,
                   "vecnormalize_sha256": sha256_file(vecnormalize) if vecnormalize else None},
        "model": {
            "inputs": [{"name": i.name, "kind": i.kind, "frac": i.frac, "clip": [i.lo, i.hi], "offset": i.offset,
                        "scale": i.scale} for i in spec.inputs],
            "outputs": [{"name": o.name, "frac": o.frac, "scale": o.scale, "offset": o.offset,
                         "range": [o.lo, o.hi]} for o in spec.outputs],
            "argmax": spec.argmax, "dims": spec.dims,
            "layers": [{"n_in": int(d.weight.shape[1]), "n_out": int(d.weight.shape[0]), "activation": d.activation}
                       for d in spec.layers],
            "n_params": int(sum(d.weight.size + d.bias.size for d in spec.layers)),
        },
        "artifacts": {name: _file_entry(out_dir / name) for name in
                      [ONNX_NAME] + [SCHEME_BLOB_NAMES[s] for s in ("f32", *schemes)]},
        "default_int8_scheme": "w8a16",
        "quantization": {s: quant_metadata(q) for s, q in models.items()},
        "calibration": {"rows": len(calib), "from": f"rollouts of SB3's deterministic policy, {episodes} episodes, "
                        f"seeds {CALIB_SEED}.." if env_id else "uniform in the input ranges"},
        "checks": {"held_out_rows": len(held), "f32_vs_predict_max_abs": diff, "onnx_vs_predict_max_abs": onnx_diff},
        "action_error": {s: action_errors(spec, q, held) for s, q in models.items()},
        "golden": relative_entry(golden, out_dir),
        "provenance": {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "git_commit": git_commit(), "converter": "tinypolicy_host.convert.sb3_convert",
                       **(provenance or {})},
    }
    (out_dir / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def _file_entry(path: Path) -> dict:
    data = path.read_bytes()
    entry = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if path.suffix == ".bin":
        entry["crc32"] = f"{binascii.crc32(data[:-4]) & 0xFFFFFFFF:#010x}"
    return entry
