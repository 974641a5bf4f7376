# host (CPython, the project's .venv): bring your own model -- a PyTorch MLP -> ONNX -> TinyPolicy blobs -> device.
#
#   .venv/bin/python examples/convert_onnx.py [OUT_DIR]          (default: build/examples/line_follower)
#
# A made-up line follower: 3 reflectance sensors (0..1) in, 2 motor commands (-1..1) out, as a small
# nn.Sequential fitted in a few seconds to a hand-written steering rule. Then the three steps you run on your own
# model: export to ONNX, `tinypolicy convert` with calibration data, load the int8 blob on MicroPython.
import csv
import os
import subprocess
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent  # tinypolicy and micropython live beside this python
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "build" / "examples" / "line_follower"
OUT.mkdir(parents=True, exist_ok=True)


def steering_rule(s):
    """The behaviour to learn: steer towards the darker side, slow down when the line is lost."""
    left, mid, right = s[:, 0], s[:, 1], s[:, 2]
    turn = torch.tanh(3.0 * (right - left))
    speed = 0.3 + 0.6 * mid
    return torch.stack([speed + 0.5 * turn, speed - 0.5 * turn], dim=1).clamp(-1, 1)


# 1. Your model: any nn.Sequential of Linear + relu / tanh / sigmoid / hardtanh layers.
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2), nn.Hardtanh())
x = torch.rand(4096, 3)
y = steering_rule(x)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for _ in range(600):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
print(f"fitted: mse {loss.item():.5f}")

# 2. Export to ONNX (what torch, skl2onnx, Keras and Stable-Baselines3 users all can produce).
model.eval()
onnx_path = OUT / "line_follower.onnx"
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the exporter's deprecation chatter
    torch.onnx.export(model, (torch.zeros(1, 3),), str(onnx_path), opset_version=17, dynamo=False,
                      input_names=["sensors"], output_names=["motors"])

# Calibration data: sensor readings as your robot sees them (a CSV with a header of input names, or .npy).
calib = OUT / "calib.csv"
with open(calib, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["left", "mid", "right"])
    w.writerows(torch.rand(2000, 3).tolist())

# 3. Convert: writes policy_{int8,q15,f32}.bin, metadata.json, golden vectors, and prints the accuracy report;
#    it also replays the golden vectors on the unix MicroPython port (exit status 1 unless bit-exact).
subprocess.run([str(VENV_BIN / "tinypolicy"), "convert", str(onnx_path), "--calib", str(calib), "--out", str(OUT)],
               check=True)

# 4. On the device: the blob is all it needs. Here the unix port; on a board copy policy_int8.bin next to the
#    tinypolicy package and run the same three lines.
probe = [0.9, 0.2, 0.1]  # line far to the left
code = ("from tinypolicy import Policy\n"
        f"p = Policy.load('{OUT / 'policy_int8.bin'}')\n"
        f"print(p.dtype, p.n_inputs, p.n_outputs, ' '.join('%.3f' % v for v in p.infer({probe})))\n")
env = dict(os.environ, MICROPYPATH=str(REPO / "device"))
dev = subprocess.run([str(VENV_BIN / "micropython"), "-c", code], env=env, capture_output=True, text=True, check=True)
want = model(torch.tensor([probe])).detach()[0].tolist()
print(f"device int8: {dev.stdout.strip()}   torch: {want[0]:.3f} {want[1]:.3f}")
