"""`tinypolicy train`: train the pendulum policy, save its FloatPolicySpec, then export (unless --no-export).

Stages (deterministic for a given --seed; torch on 2 CPU threads):
1. Behaviour cloning of the expert (energy-shaping swing-up + LQR catch, `expert.py`) on states sampled uniformly
   over θ ∈ [−π, π], θ̇ ∈ [−8, 8] plus states visited by expert rollouts (MSE on torque).
2. Rollout fine-tuning by back-propagation through differentiable rollouts of the torch Pendulum-v1 simulator
   (`plant.step`): 10 s episodes from the Pendulum-v1 start distribution (plus some hanging / fast starts), the
   control period drawn per batch from 5–50 ms, Gaussian sensor noise σ = 0.01 on θ and θ̇ in half the batches,
   loss = Pendulum-v1 cost summed over the episode and scaled by dt/0.05 (so every period weighs a 10 s episode
   alike); periods under 20 ms use 6 s episodes. Measured: this does not improve the cloned policy (best
   validation stays at the BC value with lr 1e-4; larger steps collapse the catch into a slow drift): the
   swing-up is bang-bang, the clip passes no gradient, and gradients through 200 unstable steps are dominated by
   rare huge samples. Kept (100 iterations, ~15 s) because it is the intended method and cheap.
3. Rollout fine-tuning by antithetic evolution strategies on the same objective (same plant, periods, noise,
   starts; all members share starts and noise): this is the stage that reaches the bar (validation −151.8 →
   −139.6 in 300 generations; 500 by default). Each stage keeps its checkpoint with the best validation return
   (1000 held-out start states from another generator, never the evaluation seeds).
4. Quantization-aware fine-tuning (ES through int8 per-output-channel weight fake-quant), only when the int8 policy
   (bit-exact `quant` reference when present) loses more than --qat-threshold percent of validation return, or
   with --qat on. `PolicyNet.fake_quant_bits = 8` also gives the straight-through fake-quant for gradient training.

Outputs in --out (default build/train/): policy_spec.npz, provenance.json, train_log.csv, learning_curve.png,
returns.json (the evaluate.results_table; skipped with --quick --no-export).
"""
import csv
import datetime
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract.spec import pendulum_policy
from ..paths import git_commit
from .plant import DT, EPISODE_SECONDS, MAX_SPEED, MAX_TORQUE

NOISE = 0.01
PERIODS = (0.005, 0.01, 0.02, 0.05)


# --- data -----------------------------------------------------------------------------------------------------


def bc_dataset(rng: np.random.Generator, n_uniform: int, n_rollouts: int):
    """(θ, θ̇, u_expert) arrays: uniform states plus states visited by expert rollouts at mixed periods."""
    from .expert import expert_torque
    from .plant import rollout_np

    th = rng.uniform(-np.pi, np.pi, n_uniform)
    thd = rng.uniform(-MAX_SPEED, MAX_SPEED, n_uniform)
    dts = np.full(n_uniform, DT)
    for dt in PERIODS:
        k = n_rollouts // len(PERIODS)
        if k == 0:
            continue
        th0, thd0 = rng.uniform(-np.pi, np.pi, k), rng.uniform(-1, 1, k)
        _, ths, thds, _ = rollout_np(lambda a, b, dt=dt: expert_torque(a, b, dt), th0, thd0, dt=dt, noise=NOISE,
                                     rng=rng)
        stride = max(1, int(round(0.05 / dt)))
        ths, thds = ths[::stride].ravel(), thds[::stride].ravel()
        th, thd = np.concatenate([th, ths]), np.concatenate([thd, thds])
        dts = np.concatenate([dts, np.full(ths.shape, dt)])
    u = np.concatenate([expert_torque(th[dts == dt], thd[dts == dt], dt) for dt in np.unique(dts)])
    order = np.concatenate([np.nonzero(dts == dt)[0] for dt in np.unique(dts)])
    return th[order], thd[order], u


def start_states(rng: np.random.Generator, n: int):
    """Pendulum-v1 start distribution (θ ~ U[−π, π], θ̇ ~ U[−1, 1]) with 10% hanging-still and 10% faster starts."""
    th = rng.uniform(-np.pi, np.pi, n)
    thd = rng.uniform(-1.0, 1.0, n)
    k = n // 10
    th[:k] = np.pi + rng.normal(0, 0.02, k)
    thd[:k] = rng.normal(0, 0.02, k)
    thd[k:2 * k] = rng.uniform(-4.0, 4.0, k)
    return th, thd


# --- stages ---------------------------------------------------------------------------------------------------


def train_bc(net, data, steps, batch, lr, torch_gen, log, bar):
    import torch

    th, thd, u = (torch.as_tensor(a, dtype=torch.float32) for a in data)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps), eta_min=lr * 0.05)
    for it in range(steps):
        idx = torch.randint(0, len(u), (batch,), generator=torch_gen)
        pred = net.mlp(net.features(th[idx], thd[idx]))
        # the output clip is implicit: only penalise overshoot inside ±max_torque
        target = u[idx]
        pred_c = torch.where(target.abs() >= MAX_TORQUE - 1e-6,
                             torch.where(target > 0, torch.clamp(pred, max=MAX_TORQUE),
                                         torch.clamp(pred, min=-MAX_TORQUE)), pred)
        loss = torch.mean((pred_c - target) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % 50 == 0 or it == steps - 1:
            log("bc", it, loss=float(loss.detach()), lr=sched.get_last_lr()[0])
        bar.update(1)


def rollout_loss(net, th0, thd0, dt, noise, steps, torch_gen):
    """Mean over the batch of the Pendulum-v1 cost summed over `steps` steps, scaled by dt/0.05."""
    import torch

    from .plant import step

    th, thd = th0, thd0
    total = torch.zeros_like(th0)
    for _ in range(steps):
        if noise:
            n1 = torch.randn(th.shape, generator=torch_gen) * noise
            n2 = torch.randn(th.shape, generator=torch_gen) * noise
            u = net(th + n1, thd + n2)
        else:
            u = net(th, thd)
        th, thd, cost = step(th, thd, u, dt)
        total = total + cost
    return total.mean() * (dt / DT)


def validate(net, starts, dt=DT, noise=0.0) -> float:
    """Mean return (normalised to 50 ms) on the numpy plant from held-out start states, float64 spec forward."""
    from .plant import rollout_np

    ret, *_ = rollout_np(pendulum_policy(net.to_spec()), starts[0], starts[1], dt=dt, noise=noise,
                         rng=np.random.default_rng(7))
    return float(ret.mean() * dt / DT)


def choose_dt(rng: np.random.Generator) -> float:
    """Control period for one batch: half at 50 ms (the scored period), the rest spread over 5–50 ms."""
    if rng.random() < 0.5:
        return DT
    return float(np.exp(rng.uniform(np.log(0.005), np.log(0.05))))


def train_rollouts(net, iters, batch, lr, rng, torch_gen, val_starts, log, bar, stage="rollout",
                   val_every=25, horizon_s=EPISODE_SECONDS, short_horizon_s=6.0):
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, iters), eta_min=lr * 0.05)
    best = (validate(net, val_starts), {k: v.clone() for k, v in net.state_dict().items()})
    log(stage, 0, val_return=best[0])
    for it in range(iters):
        dt = choose_dt(rng)
        noise = NOISE if rng.random() < 0.5 else 0.0
        # fine periods: a shorter horizon (swing-up + a few seconds of holding) keeps the cost bounded
        seconds = horizon_s if dt >= 0.02 else min(horizon_s, short_horizon_s)
        steps = int(round(seconds / dt))
        th0, thd0 = start_states(rng, batch)
        loss = rollout_loss(net, torch.as_tensor(th0, dtype=torch.float32), torch.as_tensor(thd0, dtype=torch.float32),
                            dt, noise, steps, torch_gen) * (EPISODE_SECONDS / seconds)
        opt.zero_grad()
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0))
        opt.step()
        sched.step()
        row = {"loss": float(loss.detach()), "dt": dt, "noise": noise, "grad_norm": gnorm, "lr": sched.get_last_lr()[0]}
        if (it + 1) % val_every == 0 or it == iters - 1:
            v = validate(net, val_starts)
            row["val_return"] = v
            if v > best[0]:
                best = (v, {k: t.clone() for k, t in net.state_dict().items()})
            bar.set_postfix(val=f"{v:.2f}", best=f"{best[0]:.2f}")
        log(stage, it + 1, **row)
        bar.update(1)
    net.load_state_dict(best[1])
    return best[0]


# --- evolution strategies ------------------------------------------------------------------------------------


class FlatParams:
    """Batched forward of a population of parameter vectors of `net`, each laid out as
    `torch.nn.utils.parameters_to_vector(net.parameters())` lays them out (`vector_to_parameters` puts one back)."""

    def __init__(self, net):
        self.net = net
        self.shapes = [p.shape for p in net.parameters()]
        self.sizes = [p.numel() for p in net.parameters()]

    def unflatten(self, pop, fake_quant_bits: int = 0):
        from .model import fake_quant_per_channel

        out, o = [], 0
        for i, (shape, n) in enumerate(zip(self.shapes, self.sizes, strict=True)):
            t = pop[:, o:o + n].reshape(pop.shape[0], *shape).float()
            if fake_quant_bits and i % 2 == 0:  # weights (P, out, in): per-output-channel symmetric int8
                t = fake_quant_per_channel(t, fake_quant_bits)
            out.append(t)
            o += n
        return out

    def returns(self, pop, th0, thd0, dt, noise, steps, torch_gen, fake_quant_bits=0):
        """Mean return (50 ms scale) of each population member over the same start states and sensor noise."""
        import torch

        from .plant import step

        ps = self.unflatten(pop, fake_quant_bits)
        act = self.net.act  # the net's own activation module (relu, tanh, hardtanh, sigmoid)
        n_pop = pop.shape[0]
        th, thd = th0.expand(n_pop, -1).clone(), thd0.expand(n_pop, -1).clone()
        total = torch.zeros_like(th)
        for _ in range(steps):
            a, b = th, thd
            if noise:  # same noise for every member (common random numbers)
                a = a + torch.randn(th.shape[1], generator=torch_gen) * noise
                b = b + torch.randn(th.shape[1], generator=torch_gen) * noise
            x = torch.stack([torch.cos(a), torch.sin(a), b * self.net.vel_scale], -1)
            for i in range(0, len(ps), 2):
                x = torch.baddbmm(ps[i + 1][:, None, :], x, ps[i].transpose(1, 2))
                if i < len(ps) - 2:
                    x = act(x)
            u = x[..., 0].clamp(-self.net.max_torque, self.net.max_torque)
            th, thd, cost = step(th, thd, u, dt)
            total -= cost
        return total.mean(1) * (dt / DT)


def train_es(net, gens, pairs, episodes, lr, sigma, rng, torch_gen, val_starts, log, bar, stage="es",
             val_every=20, fake_quant_bits=0, validate_fn=None):
    """Antithetic evolution strategies (centred ranks, Adam) on the closed-loop return: the rollout objective
    without gradients through the plant, so the bang-bang swing-up and the catch are optimised as a whole.
    Each generation draws a control period (half at 50 ms, the rest log-uniform 5–50 ms) and, half of the time,
    sensor noise σ = 0.01; all members see the same starts and noise."""
    import torch
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    validate_fn = validate_fn or validate
    fp = FlatParams(net)
    flat = parameters_to_vector(net.parameters()).detach().double()
    m, v = torch.zeros_like(flat), torch.zeros_like(flat)
    best = (validate_fn(net, val_starts), flat.clone())
    log(stage, 0, val_return=best[0])
    for it in range(gens):
        frac = it / max(1, gens)
        lr_t = lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * frac)))
        sigma_t = sigma * (0.5 + 0.5 * (1 - frac))
        dt = choose_dt(rng)
        noise = NOISE if rng.random() < 0.5 else 0.0
        seconds = EPISODE_SECONDS if dt >= 0.02 else 6.0
        th0, thd0 = start_states(rng, episodes)
        eps = torch.randn(pairs, flat.numel(), generator=torch_gen, dtype=torch.float64)
        pop = torch.cat([flat + sigma_t * eps, flat - sigma_t * eps])
        with torch.no_grad():
            ret = fp.returns(pop, torch.as_tensor(th0, dtype=torch.float32)[None],
                             torch.as_tensor(thd0, dtype=torch.float32)[None], dt, noise,
                             int(round(seconds / dt)), torch_gen, fake_quant_bits).double()
        ranks = torch.empty_like(ret)
        ranks[ret.argsort()] = torch.arange(len(ret), dtype=torch.float64)
        ranks = ranks / (len(ret) - 1) - 0.5
        grad = ((ranks[:pairs] - ranks[pairs:])[:, None] * eps).sum(0) / (2 * pairs * sigma_t)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        flat = flat + lr_t * (m / (1 - 0.9 ** (it + 1))) / (torch.sqrt(v / (1 - 0.999 ** (it + 1))) + 1e-8)
        row = {"loss": -float(ret.mean()), "dt": dt, "noise": noise, "lr": lr_t, "sigma": sigma_t}
        if (it + 1) % val_every == 0 or it == gens - 1:
            vector_to_parameters(flat.float(), net.parameters())
            val = validate_fn(net, val_starts)
            row["val_return"] = val
            if val > best[0]:
                best = (val, flat.clone())
            bar.set_postfix(val=f"{val:.2f}", best=f"{best[0]:.2f}")
        log(stage, it + 1, **row)
        bar.update(1)
    vector_to_parameters(best[1].float(), net.parameters())
    return best[0]


@dataclass
class TrainConfig:
    """One training run (what `tinypolicy train` resolved from its options; --quick sets the small budgets)."""
    out: Path  # policy_spec.npz, provenance.json, train_log.csv, learning_curve.png, returns.json
    models_out: Path | None = None  # export the trained policy here (None: no export)
    golden_out: Path | None = None  # golden vectors of that export
    seed: int = 0
    width: int = 16  # hidden units per layer
    depth: int = 2  # hidden layers
    activation: str = "relu"
    quick: bool = False  # recorded in the provenance; smaller validation set and validation intervals
    bc_steps: int = 3000  # behaviour-cloning steps
    rollout_iters: int = 100  # rollout backprop iterations
    batch: int = 512  # episodes per rollout batch
    lr: float = 1e-4  # rollout backprop learning rate (Adam)
    es_gens: int = 500  # evolution-strategies generations
    es_pairs: int = 16  # antithetic pairs per generation
    es_episodes: int = 256  # episodes per member per generation
    es_lr: float = 3e-3
    es_sigma: float = 0.02
    qat: str = "auto"  # auto | on | off
    qat_threshold: float = 0.3  # percent of validation return int8 may lose before QAT runs (auto)
    qat_gens: int = 200
    episodes: int = 500  # evaluation episodes for the returns table
    threads: int = 2  # torch threads
    progress: bool = True  # progress bar on stderr


def train_policy(cfg: TrainConfig) -> None:
    """Train, write the outputs into `cfg.out`, evaluate (returns table) and export into `cfg.models_out`."""
    import torch
    from torch.nn.utils import parameters_to_vector, vector_to_parameters
    from tqdm import tqdm

    from .model import PolicyNet

    quick, bc_steps, iters, batch, gens = cfg.quick, cfg.bc_steps, cfg.rollout_iters, cfg.batch, cfg.es_gens
    es_episodes, qat_gens, episodes, out = cfg.es_episodes, cfg.qat_gens, cfg.episodes, cfg.out
    models_out, golden_out = cfg.models_out, cfg.golden_out
    t_start = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    torch_gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    rows: list[dict] = []

    def log(stage, it, **kw):
        rows.append({"stage": stage, "iter": it, "elapsed_s": round(time.perf_counter() - t_start, 3), **kw})

    net = PolicyNet(cfg.width, cfg.depth, cfg.activation)
    val_rng = np.random.default_rng(10_000 + cfg.seed)  # held out: never the evaluation seeds' states
    n_val = 64 if quick else 1000
    val_starts = np.stack([val_rng.uniform(-np.pi, np.pi, n_val), val_rng.uniform(-1, 1, n_val)])

    total = bc_steps + iters + gens + qat_gens
    qat_done = False
    with tqdm(total=total, desc="train", unit="it", disable=not cfg.progress, file=sys.stderr) as bar:
        bar.set_description("expert data")
        data = bc_dataset(rng, 2000 if quick else 30000, 16 if quick else 400)
        bar.set_description("behaviour cloning")
        train_bc(net, data, bc_steps, 512, 3e-3, torch_gen, log, bar)
        best = validate(net, val_starts)
        log("bc", bc_steps, val_return=best)
        if iters:
            bar.set_description("rollout backprop")
            best = train_rollouts(net, iters, batch, cfg.lr, rng, torch_gen, val_starts, log, bar,
                                  val_every=5 if quick else 10)
        if gens:
            bar.set_description("rollout ES")
            best = train_es(net, gens, cfg.es_pairs, es_episodes, cfg.es_lr, cfg.es_sigma,
                            rng, torch_gen, val_starts, log, bar, val_every=5 if quick else 20)
        if cfg.qat != "off" and qat_gens:
            q_validate, how = int8_validator()
            ref, q = best, q_validate(net, val_starts)
            loss_pct = 100.0 * (ref - q) / abs(ref)
            log("qat_check", 0, val_return=ref, val_return_int8=q, loss_percent=loss_pct)
            print(f"int8 check ({how}): validation {q:.2f} vs float {ref:.2f} ({loss_pct:+.2f}% loss)",
                  file=sys.stderr)
            if cfg.qat == "on" or loss_pct > cfg.qat_threshold:
                bar.set_description("quantization-aware ES")
                before = parameters_to_vector(net.parameters()).detach().clone()
                q_best = train_es(net, qat_gens, cfg.es_pairs, es_episodes, cfg.es_lr * 0.3,
                                  cfg.es_sigma * 0.5, rng, torch_gen, val_starts, log, bar, stage="qat",
                                  val_every=20, fake_quant_bits=8, validate_fn=q_validate)
                if q_best > q:
                    qat_done, best = True, validate(net, val_starts)
                else:
                    vector_to_parameters(before, net.parameters())
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
        "seed": cfg.seed, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "git_commit": git_commit(), "train_seconds": round(train_seconds, 1), "torch": torch.__version__,
        "width": cfg.width, "depth": cfg.depth, "activation": cfg.activation, "bc_steps": bc_steps,
        "rollout_backprop_iters": iters, "batch": batch, "es_generations": gens, "es_pairs": cfg.es_pairs,
        "es_episodes": es_episodes, "qat": qat_done, "quick": quick, "validation_return": best,
        "control_periods_s": [0.005, 0.05], "sensor_noise_sigma": NOISE,
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    if quick and cfg.models_out is None:
        return
    from ..evaluation.gym import format_table, results_table

    returns = results_table(spec, episodes, warn=lambda m: print(m, file=sys.stderr))
    print(format_table(returns))
    (out / "returns.json").write_text(json.dumps(returns, indent=2) + "\n")
    if cfg.models_out is None:
        print(f"export skipped (--no-export): `tinypolicy export --spec {spec_path}` picks up provenance.json and "
              "returns.json beside it")
        return
    from ..export.artifacts import export_all

    for path in export_all(spec, out_dir=models_out, provenance=provenance, returns=returns, golden_dir=golden_out):
        print(f"wrote {path}")


# --- outputs --------------------------------------------------------------------------------------------------


def plot_curve(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    bc = [r for r in rows if r["stage"] == "bc" and r.get("loss") is not None]
    if bc:
        axes[0].semilogy([r["iter"] for r in bc], [r["loss"] for r in bc])
    axes[0].set(title="behaviour cloning", xlabel="step", ylabel="MSE (N·m)²")
    offset = 0
    for stage, colour in (("rollout", "C0"), ("es", "C2"), ("qat", "C1")):
        rs = [r for r in rows if r["stage"] == stage]
        if not rs:
            continue
        tr = [r for r in rs if r.get("loss") is not None and r.get("dt") == DT]
        axes[1].plot([offset + r["iter"] for r in tr], [-r["loss"] for r in tr], colour, alpha=0.3, lw=0.8,
                     label=f"{stage}: training batch (50 ms; ES: perturbed members)")
        vr = [r for r in rs if r.get("val_return") is not None]
        axes[1].plot([offset + r["iter"] for r in vr], [r["val_return"] for r in vr], colour, marker=".",
                     label=f"{stage}: validation (1000 held-out starts)")
        offset += max(r["iter"] for r in rs)
    axes[1].axhline(-150, color="k", ls="--", lw=0.8, label="quality bar −150 (measured on eval seeds)")
    axes[1].set(title="fine-tuning (backprop, ES, QAT)", xlabel="iteration",
                ylabel="return per 10 s episode (50 ms scale)")
    lo = min([r["val_return"] for r in rows if r.get("val_return") is not None] + [-200.0])
    axes[1].set_ylim(max(lo, -400), -130)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def command_line() -> str:
    """The training command as typed (`tinypolicy train ...`), or a note when called from Python."""
    argv = sys.argv[1:]
    if argv[:1] == ["train"]:
        return " ".join(["tinypolicy", *argv])
    return "tinypolicy train (called from Python)"


def int8_validator():
    """(validate_fn, description): validation return of the int8 policy through the bit-exact integer reference."""
    from ..quantize.calibration import pendulum_calibration
    from ..quantize.quant import DEFAULT_INT8, quantize
    from .plant import rollout_np

    def q_validate(net, starts):
        spec = net.to_spec()
        model = quantize(spec, DEFAULT_INT8, pendulum_calibration(spec))
        ret, *_ = rollout_np(pendulum_policy(model), starts[0], starts[1], dt=DT)
        return float(ret.mean())

    return q_validate, "integer reference"
