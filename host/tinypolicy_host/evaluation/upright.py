"""When the pendulum counts as upright: one threshold for the demo summary, the angle plot's band, the swing-up
check of `tinypolicy eval` and the board end-to-end test."""
import math

import numpy as np

UPRIGHT_RAD = 0.1  # |θ| below this (θ wrapped to [-π, π], 0 = upright) is upright


def wrap_angle(theta: np.ndarray) -> np.ndarray:
    """θ in rad wrapped to [-π, π)."""
    return (theta + math.pi) % (2 * math.pi) - math.pi


def upright_since(t: np.ndarray, theta: np.ndarray, band: float = UPRIGHT_RAD) -> float | None:
    """First time in `t` after which |θ| (wrapped) < `band` for the rest of the run; None if the last sample is
    not upright."""
    bad = np.nonzero(np.abs(wrap_angle(np.asarray(theta, np.float64))) >= band)[0]
    if len(bad) == 0:
        return float(t[0]) if len(t) else None
    if bad[-1] == len(theta) - 1:
        return None
    return float(t[bad[-1] + 1])
