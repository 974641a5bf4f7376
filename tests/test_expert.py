"""The expert (energy-shaping swing-up + LQR catch) swings up from hanging and holds, at every control period."""
import numpy as np
import pytest

from tinypolicy_host.evaluation.gym import swing_up
from tinypolicy_host.training.expert import expert_torque, lqr_gain


@pytest.mark.parametrize("dt", [0.005, 0.01, 0.02, 0.05])
def test_expert_swings_up_from_hanging(dt):
    result = swing_up(lambda th, thd: expert_torque(th, thd, dt), dt, noise=0.01)
    assert result["ok"], result
    assert result["final_abs_theta"] < 0.05


def test_lqr_gain_stabilises_the_discrete_linearisation():
    for dt in (0.005, 0.05):
        k = lqr_gain(dt)
        a = np.array([[1 + 15 * dt * dt, dt], [15 * dt, 1.0]])
        b = np.array([[3 * dt * dt], [3 * dt]])
        assert np.max(np.abs(np.linalg.eigvals(a - b @ k[None, :]))) < 1.0


def test_expert_torque_is_bounded_and_vectorised():
    th = np.linspace(-7, 7, 101)
    u = expert_torque(th, np.linspace(-8, 8, 101))
    assert u.shape == (101,) and np.all(np.abs(u) <= 2.0)
