"""Accuracy table of `tinypolicy convert` per model kind (the numbers in the convert closing note).

    .venv/bin/python tools/convert_accuracy.py [--out DIR]

Builds the test models of tests/convert_models.py (torch per activation, Keras, sklearn pipeline and classifiers,
SB3 PPO / SAC actors, a hand-made graph with no-op and scaling nodes), converts each (int8 = w8a16, w8a8 for
comparison, q15, f32) and prints per model and blob: held-out max / mean / p99 absolute error against onnxruntime
(worst output), p99 as % of that output's calibrated range, and whether the goal holds (int8 ≤ 1 %, q15 ≤ 0.05 %;
argmax heads: share of rows whose class differs). Golden vectors of every blob are replayed on the unix port.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import convert_models as cm  # noqa: E402

from tinypolicy_host.convert.pipeline import Options, run_convert  # noqa: E402
from tinypolicy_host.convert.verify import verify_unix  # noqa: E402

RANGE = "-2:2"


def models(folder: Path) -> list[tuple[str, Path, Options]]:
    sk = cm.sklearn_models(folder)
    sb3 = cm.sb3_actors(folder)
    calib = folder / "sk_calib.npy"
    out = [(f"torch {a} (opset {o})", cm.torch_mlp(folder, a, o), Options(input_range=RANGE))
           for a, o in (("relu", 13), ("tanh", 15), ("sigmoid", 17), ("hardtanh", 19), ("identity", 21))]
    out += [("keras Dense relu/tanh", cm.keras_dense(folder), Options(input_range=RANGE)),
            ("sklearn MLPRegressor + StandardScaler", sk["sk_reg_pipeline"], Options(calib=calib)),
            ("sklearn MLPClassifier 2-class + scaler", sk["sk_cls2_pipeline"], Options(calib=calib)),
            ("sklearn MLPClassifier 3-class", sk["sk_cls3"], Options(calib=calib)),
            ("SB3 PPO CartPole (Categorical)", sb3["sb3_ppo_cartpole"], Options(input_range="-3:3")),
            ("SB3 PPO Pendulum (Gaussian)", sb3["sb3_ppo_pendulum"],
             Options(input_range="-1:1,-1:1,-8:8", angle_inputs=(0,))),
            ("SB3 SAC Pendulum", sb3["sb3_sac_pendulum"], Options(input_range="-1:1,-1:1,-8:8", angle_inputs=(0,))),
            ("hand-made no-op/scaling graph", cm.handmade_noop_scaling(folder),
             Options(input_range="-3:5,-4:0,0:100"))]
    return out


def summary(result) -> list[str]:
    lines = []
    for row in result.rows:
        if row["split"] != "held-out":
            continue
        if "classes" in row:
            c = row["classes"]
            lines.append(f"  {row['blob']:8s} class differs on {c['mismatches']} of {c['rows']} rows")
            continue
        j = max(range(len(row["stats"])), key=lambda k: row["stats"][k]["p99"] / row["ranges"][k])
        s, r = row["stats"][j], row["ranges"][j]
        lines.append(f"  {row['blob']:8s} max {s['max']:.3g}  mean {s['mean']:.3g}  p99 {s['p99']:.3g} "
                     f"({100 * s['p99'] / r:.3f} % of range {r:.3g}, output {j})")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="keep the converted folders here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out_root = args.out or folder / "out"
        for k, (label, path, opts) in enumerate(models(folder)):
            result = run_convert(path, out_root / f"m{k}", opts)
            spec = result.converted.spec
            replays = verify_unix(result.out_dir)
            exact = all(r.ok for r in replays)
            print(f"{label}: {spec.n_inputs} inputs → {'→'.join(map(str, spec.dims[1:]))} "
                  f"({', '.join(d.activation for d in spec.layers)}){' argmax' if spec.argmax else ''}; "
                  f"golden replay on unix port: {'bit-exact' if exact else 'MISMATCH'}")
            print("\n".join(summary(result)))
            print("  " + ("; ".join(result.misses) if result.misses else "goals met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
