"""Generate the open-loop replay vectors for the device control loop (host, CPython).

    .venv/bin/python tools/gen_replay_data.py [--model models/policy_int8.bin]

data/inputs.csv: `theta_q12,theta_dot_q12` rows (Q12 ints, so the device reads exactly what the host used; no
float parsing on a board with single-precision floats): a grid over [-pi, pi] x [-8, 8], wrapped angles beyond
+-pi, speeds beyond the +-32 rad/s clamp, and seeded random states.
data/outputs_expected.csv: `torque_q12` from the host numpy integer reference (`QuantMLP.forward_q`), the
single source of truth; its first line names the model and its CRC32 so a test can tell stale data from a
device bug. Re-run after `make train` changes the model.
"""
import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "host"))

from tinypolicy_host.contract.blob import read_blob  # noqa: E402
from tinypolicy_host.contract.reference import QuantMLP, to_q12  # noqa: E402

DATA = REPO / "data"


def model_tag(path: Path) -> str:
    rel = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
    return f"# model: {rel} crc32=0x{zlib.crc32(path.read_bytes()):08x}"


def replay_inputs(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    th_grid, w_grid = np.meshgrid(np.linspace(-np.pi, np.pi, 33), np.linspace(-8, 8, 17))
    theta = [to_q12(th_grid.ravel())]
    theta_dot = [to_q12(w_grid.ravel())]
    edge_th = np.array([0, 12867, 12868, 12869, -12868, -12869, 25736, -25736, 4 * 25736 + 5, -10 * 4096, 40000])
    edge_w = np.array([0, 131072, 131073, -131072, -131073, 200000, -200000, 1, -1, 32767, -32768])
    theta.append(edge_th)
    theta_dot.append(edge_w)
    rng = np.random.default_rng(seed)
    theta.append(to_q12(rng.uniform(-np.pi, np.pi, 300)))
    theta_dot.append(to_q12(rng.normal(0, 3, 300)))
    return np.concatenate(theta).astype(np.int64), np.concatenate(theta_dot).astype(np.int64)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "models" / "policy_int8.bin")
    args = ap.parse_args(argv)
    policy = read_blob(args.model)
    if not isinstance(policy, QuantMLP):
        print(f"error: {args.model}: want an int8 or q15 blob (integer reference)", file=sys.stderr)
        return 2
    theta, theta_dot = replay_inputs()
    torque = policy.forward_q(np.stack([theta, theta_dot], axis=1))[:, 0]
    DATA.mkdir(exist_ok=True)
    with open(DATA / "inputs.csv", "w") as f:
        f.write("theta_q12,theta_dot_q12\n")
        f.writelines(f"{a},{b}\n" for a, b in zip(theta, theta_dot, strict=True))
    with open(DATA / "outputs_expected.csv", "w") as f:
        f.write(model_tag(args.model) + "\n")
        f.write("torque_q12\n")
        f.writelines(f"{t}\n" for t in torque)
    print(f"{len(theta)} rows -> {DATA / 'inputs.csv'}, {DATA / 'outputs_expected.csv'} ({model_tag(args.model)[2:]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
