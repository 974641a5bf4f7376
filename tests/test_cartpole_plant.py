"""The device app's CartPole-v1 plant (device/tinypolicy_app/cartpole.py, run on the unix MicroPython port, from
source and from the .mpy build) against gymnasium's CartPole-v1 in CPython: same start state and actions, same
states after every step (float tolerance: libm vs numpy cos/sin, grown by the unstable dynamics) and the same
termination step and reason."""
import binascii
import struct

import gymnasium
import numpy as np
import pytest

from devrun import run_micropython

BALANCED_STEPS = 200
TOL = 1e-9  # abs/rel per state component (measured here: at most 1.1e-16 over the 209 steps)

# CartPole(x, x_dot, theta, theta_dot) from argv-like literals, then one line per step: the state's 4 doubles
# (little-endian, hex: exact bits) and `terminated`
DEVICE_SCRIPT = """
import binascii, struct
from tinypolicy_app.cartpole import CartPole
p = CartPole(*STATE)
for a in ACTIONS:
    p.step(a)
    print(binascii.hexlify(struct.pack('<4d', p.x, p.x_dot, p.theta, p.theta_dot)).decode(), p.terminated or '-')
"""


def _gymnasium_run(seed):
    """(start state, actions, states after each step, index of the terminating step) from gymnasium: a linear
    state feedback balances for BALANCED_STEPS, then constant pushes to the right until the pole falls."""
    env = gymnasium.make("CartPole-v1").unwrapped
    env.reset(seed=seed)
    start = [float(v) for v in env.state]
    actions, states, end = [], [], None
    for i in range(BALANCED_STEPS + 300):
        x, x_dot, theta, theta_dot = env.state
        a = int(theta + 0.3 * theta_dot + 0.02 * x + 0.1 * x_dot > 0) if i < BALANCED_STEPS else 1
        _, _, terminated, _, _ = env.step(a)
        actions.append(a)
        states.append([float(v) for v in env.state])
        if terminated:
            end = i
            break
    env.close()
    return start, actions, np.array(states), end


@pytest.mark.parametrize("variant", ["src", "mpy"])
def test_device_cartpole_matches_gymnasium(variant):
    start, actions, want, end = _gymnasium_run(seed=3)
    assert end is not None and end >= BALANCED_STEPS, f"gymnasium run: terminated at step {end}"
    code = f"STATE = {start!r}\nACTIONS = {actions!r}\n" + DEVICE_SCRIPT
    proc = run_micropython(["-c", code], variant=variant)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.split()
    got = np.array([struct.unpack("<4d", binascii.unhexlify(h)) for h in lines[0::2]])
    flags = lines[1::2]
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    # the same termination: none while balanced, the pole's angle at the very step gymnasium ends
    assert flags[:end] == ["-"] * end, flags[:end]
    assert flags[end] == "theta", (end, flags[end], want[end])
