"""`tinypolicy train`: command line of `tinypolicy_host.training.train` (argument parsing, error reporting)."""
import argparse
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..export.artifacts import default_golden_dir
from ..paths import BUILD, MODELS
from ..training.model import HIDDEN_ACTIVATIONS
from ..training.train import TrainConfig, train_policy
from ..userpaths import folder


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

    train_policy(TrainConfig(
        out=out, models_out=models_out, golden_out=golden_out, seed=args.seed, width=args.width, depth=args.depth,
        activation=args.activation, quick=quick, bc_steps=bc_steps, rollout_iters=iters, batch=batch, lr=args.lr,
        es_gens=gens, es_pairs=args.es_pairs, es_episodes=es_episodes, es_lr=args.es_lr, es_sigma=args.es_sigma,
        qat=args.qat, qat_threshold=args.qat_threshold, qat_gens=qat_gens, episodes=episodes, threads=args.threads,
        progress=not args.no_progress))
    return 0
