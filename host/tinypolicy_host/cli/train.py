"""`tinypolicy train`: command line of `tinypolicy_host.training.train` (argument parsing, error reporting)."""
import argparse
import csv
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..paths import BUILD, MODELS
from ..training.model import HIDDEN_ACTIVATIONS
from ..training.train import (
    NOISE,
    FlatParams,
    bc_dataset,
    command_line,
    git_commit,
    int8_validator,
    plot_curve,
    train_bc,
    train_es,
    train_rollouts,
    validate,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path,
                        help="output dir (default build/train; with --quick build/train-quick, so a smoke run never "
                             "replaces the spec `tinypolicy export` picks up)")
    parser.add_argument("--models-out", type=Path,
                        help="where the export goes (default models/ and tests/data/golden/; with --quick: "
                             "OUT/models and OUT/golden, inside OUT, so a quick run never replaces the shipped "
                             "policy); golden vectors go beside it (MODELS_OUT/../golden) unless it is the "
                             "repository's models/")
    parser.add_argument("--width", type=int, default=16, help="hidden units per layer (default 16)")
    parser.add_argument("--depth", type=int, default=2, help="hidden layers (default 2)")
    parser.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu", help="hidden layers' activation")
    parser.add_argument("--quick", action="store_true", help="tiny budget (< 60 s) for tests")
    parser.add_argument("--bc-steps", type=int, help="behaviour-cloning steps")
    parser.add_argument("--rollout-iters", type=int, help="rollout fine-tuning iterations")
    parser.add_argument("--batch", type=int, help="episodes per rollout batch (default 512; --quick 64)")
    parser.add_argument("--lr", type=float, default=1e-4, help="rollout backprop learning rate (Adam)")
    parser.add_argument("--es-gens", type=int, help="evolution-strategies generations (default 500)")
    parser.add_argument("--es-pairs", type=int, default=16, help="antithetic pairs per generation")
    parser.add_argument("--es-episodes", type=int, help="episodes per member per generation (default 256; --quick 64)")
    parser.add_argument("--es-lr", type=float, default=3e-3, help="ES step size (Adam)")
    parser.add_argument("--es-sigma", type=float, default=0.02, help="ES perturbation σ")
    parser.add_argument("--qat-gens", type=int, help="quantization-aware ES generations (default 200; --quick 0)")
    parser.add_argument("--qat", choices=("auto", "on", "off"), default="auto",
                        help="quantization-aware fine-tuning (auto: only if int8 weights lose > threshold)")
    parser.add_argument("--qat-threshold", type=float, default=0.3,
                        help="percent of validation return int8 may lose before QAT runs (default 0.3)")
    parser.add_argument("--episodes", type=int,
                        help="evaluation episodes for the returns table (default 500; --quick 50)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--no-export", action="store_true", help="stop after saving the spec")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_arguments(args, counts: dict) -> None:
    """UserError naming the option for an out-of-range value: counts {option: (value, minimum)}, width and depth
    (blob limits), and the learning rates and σ (> 0, finite)."""
    if not 1 <= args.width <= 64:
        raise UserError("--width: must be 1..64 (blob limit)")
    if not 1 <= args.depth <= 7:
        raise UserError("--depth: must be 1..7 (blob limit: 8 layers)")
    for option, (value, minimum) in counts.items():
        if value < minimum:
            raise UserError(f"{option}: {value}: must be >= {minimum}")
    for option, value in (("--lr", args.lr), ("--es-lr", args.es_lr), ("--es-sigma", args.es_sigma)):
        if not (np.isfinite(value) and value > 0):
            raise UserError(f"{option}: {value}: must be a finite number > 0")
    if not np.isfinite(args.qat_threshold):
        raise UserError(f"--qat-threshold: {args.qat_threshold}: must be a finite number")


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from ..training.model import PolicyNet

    quick = args.quick
    bc_steps = args.bc_steps if args.bc_steps is not None else (300 if quick else 3000)
    iters = args.rollout_iters if args.rollout_iters is not None else (5 if quick else 100)
    batch = args.batch if args.batch is not None else (64 if quick else 512)
    gens = args.es_gens if args.es_gens is not None else (10 if quick else 500)
    es_episodes = args.es_episodes if args.es_episodes is not None else (64 if quick else 256)
    qat_gens = args.qat_gens if args.qat_gens is not None else (0 if quick else 200)
    episodes = args.episodes if args.episodes is not None else (50 if quick else 500)
    check_arguments(args, {"--bc-steps": (bc_steps, 0), "--rollout-iters": (iters, 0), "--batch": (batch, 1),
                           "--es-gens": (gens, 0), "--es-pairs": (args.es_pairs, 1),
                           "--es-episodes": (es_episodes, 1), "--qat-gens": (qat_gens, 0),
                           "--episodes": (episodes, 1), "--threads": (args.threads, 1)})
    from ..export.artifacts import default_golden_dir
    from ..userpaths import folder

    out = args.out or (BUILD / ("train-quick" if args.quick else "train"))
    folder(out, "--out", create=False)
    models_out = golden_out = None
    if not args.no_export:
        models_out = args.models_out or (out / "models" if quick else MODELS)
        golden_out = default_golden_dir(models_out)
        folder(models_out, "--models-out", create=False)
        folder(golden_out, "--models-out (golden vectors beside it)", create=False)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the folder: {exc.strerror or exc}") from None

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch_gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    rows: list[dict] = []

    def log(stage, it, **kw):
        rows.append({"stage": stage, "iter": it, "elapsed_s": round(time.perf_counter() - t_start, 3), **kw})

    net = PolicyNet(args.width, args.depth, args.activation)
    val_rng = np.random.default_rng(10_000 + args.seed)  # held out: never the evaluation seeds' states
    n_val = 64 if quick else 1000
    val_starts = np.stack([val_rng.uniform(-np.pi, np.pi, n_val), val_rng.uniform(-1, 1, n_val)])

    total = bc_steps + iters + gens + qat_gens
    qat_done = False
    with tqdm(total=total, desc="train", unit="it", disable=args.no_progress, file=sys.stderr) as bar:
        bar.set_description("expert data")
        data = bc_dataset(rng, 2000 if quick else 30000, 16 if quick else 400)
        bar.set_description("behaviour cloning")
        train_bc(net, data, bc_steps, 512, 3e-3, torch_gen, log, bar)
        best = validate(net, val_starts)
        log("bc", bc_steps, val_return=best)
        if iters:
            bar.set_description("rollout backprop")
            best = train_rollouts(net, iters, batch, args.lr, rng, torch_gen, val_starts, log, bar,
                                  val_every=5 if quick else 10)
        if gens:
            bar.set_description("rollout ES")
            best = train_es(net, gens, args.es_pairs, es_episodes, args.es_lr, args.es_sigma,
                            rng, torch_gen, val_starts, log, bar, val_every=5 if quick else 20)
        if args.qat != "off" and qat_gens:
            q_validate, how = int8_validator()
            ref, q = best, q_validate(net, val_starts)
            loss_pct = 100.0 * (ref - q) / abs(ref)
            log("qat_check", 0, val_return=ref, val_return_int8=q, loss_percent=loss_pct)
            print(f"int8 check ({how}): validation {q:.2f} vs float {ref:.2f} ({loss_pct:+.2f}% loss)",
                  file=sys.stderr)
            if args.qat == "on" or loss_pct > args.qat_threshold:
                bar.set_description("quantization-aware ES")
                fp = FlatParams(net)
                before = fp.get()
                q_best = train_es(net, qat_gens, args.es_pairs, es_episodes, args.es_lr * 0.3,
                                  args.es_sigma * 0.5, rng, torch_gen, val_starts, log, bar, stage="qat",
                                  val_every=20, fake_quant_bits=8, validate_fn=q_validate)
                if q_best > q:
                    qat_done, best = True, validate(net, val_starts)
                else:
                    fp.set(before)
            else:
                bar.update(qat_gens)
        bar.set_description("done")
    train_seconds = time.perf_counter() - t_start

    spec = net.to_spec()
    spec_path = out / "policy_spec.npz"
    spec.save(spec_path)
    with open(out / "train_log.csv", "w", newline="") as fh:
        keys = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    plot_curve(rows, out / "learning_curve.png")
    print(f"trained in {train_seconds:.0f} s (validation return {best:.2f}{', with QAT' if qat_done else ''}); "
          f"spec: {spec_path}")

    provenance = {
        "seed": args.seed, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "git_commit": git_commit(), "train_seconds": round(train_seconds, 1), "torch": torch.__version__,
        "width": args.width, "depth": args.depth, "activation": args.activation, "bc_steps": bc_steps,
        "rollout_backprop_iters": iters, "batch": batch, "es_generations": gens, "es_pairs": args.es_pairs,
        "es_episodes": es_episodes, "qat": qat_done, "quick": quick, "validation_return": best,
        "control_periods_s": [0.005, 0.05], "sensor_noise_sigma": NOISE,
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    if quick and args.no_export:
        return 0
    from ..evaluation.gym import format_table, results_table

    returns = results_table(spec, episodes, warn=lambda m: print(m, file=sys.stderr))
    print(format_table(returns))
    (out / "returns.json").write_text(json.dumps(returns, indent=2) + "\n")
    if args.no_export:
        print(f"export skipped (--no-export): `tinypolicy export --spec {spec_path}` picks up provenance.json and "
              "returns.json beside it")
        return 0
    from ..export.artifacts import export_all

    for path in export_all(spec, out_dir=models_out, provenance=provenance, returns=returns, golden_dir=golden_out):
        print(f"wrote {path}")
    return 0
