"""`make zoo` / `tinypolicy zoo`: train (or reuse a finished training of the same configuration), convert,
evaluate and record every zoo task into models/zoo/<task>/, then write the results table.

models/zoo/<task>/: model.zip (+ vecnormalize.pkl), the SB3 files the blobs come from; policy.onnx; policy_f32.bin,
policy_int8.bin (w8a16), policy_int8_a8.bin (w8a8), policy_q15.bin; metadata.json (`env`, provenance, training,
checks, action errors, returns, device figures). Pendulum-v1 is the shipped policy in models/ (not retrained).
"""
import json
import shutil
from pathlib import Path

from ..contract.blob import SCHEME_BLOB_NAMES
from ..convert.sb3_convert import convert_sb3, sha256_file
from . import evaluate
from .tasks import Task

ZIP_NAME, VECNORM_NAME = "model.zip", "vecnormalize.pkl"
#: train.json fields that must match the task for a finished training to be reused
TRAIN_KEYS = ("env", "algo", "hidden", "budget", "seed")


def finished_training(t: Task, folder: Path) -> dict | None:
    """train.json of a finished training of this task's configuration in `folder`, else None."""
    path = folder / "train.json"
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    want = {"env": t.env_id, "algo": t.algo, "hidden": list(t.hidden), "budget": t.n_timesteps, "seed": t.seed}
    return info if all(info.get(k) == want[k] for k in TRAIN_KEYS) else None


def trained_files(t: Task, folder: Path) -> tuple[Path, Path | None]:
    """(model zip, VecNormalize pkl or None): the best periodic evaluation's model, else the final one."""
    for stem in ("best", "final"):
        z = folder / f"{stem}.zip"
        if z.is_file():
            v = folder / f"{stem}_vecnormalize.pkl"
            return z, (v if t.normalize else None)
    raise FileNotFoundError(f"{folder}: no best.zip / final.zip")


def build_task(t: Task, models_dir: Path, build_dir: Path, episodes: int, retrain: bool = False,
               log=print) -> dict:
    """Everything for one task; returns its metadata (also written to models_dir/<task>/metadata.json)."""
    from .train import train

    work = build_dir / t.name
    info = None if retrain else finished_training(t, work)
    if info is None:
        log(f"{t.name}: training {t.algo.upper()} {t.hidden} on {t.env_id} ({t.n_timesteps} steps budget)")
        info = train(t, work)
    zip_path, vec_path = trained_files(t, work)
    out = models_dir / t.name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(zip_path, out / ZIP_NAME)
    if vec_path:
        shutil.copyfile(vec_path, out / VECNORM_NAME)
    log(f"{t.name}: converting {zip_path.name}")
    meta = convert_sb3(out / ZIP_NAME, out, out / VECNORM_NAME if vec_path else None, t.env_id,
                       provenance={"task": t.name, "hyperparameters_source": t.source,
                                   "hyperparameters": {k: v for k, v in t.hyper.items()},
                                   "actor_hidden": list(t.hidden), "critic_hidden": list(t.critic),
                                   "n_envs": t.n_envs, "normalize": t.normalize, "training": info,
                                   "trained_file": zip_path.name})
    for name in (ZIP_NAME, VECNORM_NAME) if vec_path else (ZIP_NAME,):
        meta["artifacts"][name] = {"bytes": (out / name).stat().st_size, "sha256": sha256_file(out / name)}
    meta["goal"] = t.goal
    log(f"{t.name}: evaluating {episodes} held-out episodes (float on the host, int8 / Q15 on the unix port)")
    meta["returns"] = evaluate.returns(out, t.env_id, episodes)
    meta["device_figures"] = evaluate.device_figures([out / SCHEME_BLOB_NAMES[s] for s in ("w8a16", "q15", "f32")])
    (out / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def pendulum_meta(models: Path, episodes: int) -> dict:
    """The shipped pendulum policy's row data (models/metadata.json + a held-out evaluation on the device)."""
    shipped = json.loads((models / "metadata.json").read_text())
    err = shipped["quantization_error"]["w8a16"]
    return {"env": "Pendulum-v1", "goal": -140.0, "source": {"algo": "distilled expert (tinypolicy train)"},
            "model": {"dims": shipped["model"]["dims"]},
            "artifacts": {k: v for k, v in shipped["artifacts"].items() if k.endswith(".bin")},
            "action_error": {"w8a16": {"mean_abs": [err["mean_abs_error_Nm"]], "max_abs": [err["max_abs_error_Nm"]]}},
            "returns": evaluate.pendulum_returns(models, episodes),
            "device_figures": evaluate.device_figures([models / SCHEME_BLOB_NAMES[s] for s in ("w8a16", "q15", "f32")]),
            "provenance": {"training": {}, "shipped": shipped["provenance"]}}


def run_zoo(tasks: list[Task], models: Path, build_dir: Path, episodes: int, header: str, retrain: bool = False,
            pendulum: bool = True, log=print) -> list[dict]:
    """Build every task, then models/zoo/README.md's table (pendulum first). Returns the table rows."""
    from . import report

    zoo = models / "zoo"
    rows = []
    if pendulum:
        meta = pendulum_meta(models, episodes)
        (zoo / "pendulum").mkdir(parents=True, exist_ok=True)
        (zoo / "pendulum" / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
        rows.append(report.row("pendulum", meta))
    for t in tasks:
        rows.append(report.row(t.name, build_task(t, zoo, build_dir, episodes, retrain, log)))
    (zoo / "README.md").write_text(report.markdown(rows, header))
    return rows
