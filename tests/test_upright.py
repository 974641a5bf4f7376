"""The one upright rule (evaluation/upright.py) that the demo, the plots and `tinypolicy eval` share."""
import math

import numpy as np
import pytest

from tinypolicy_host.evaluation.upright import UPRIGHT_RAD, upright_since


@pytest.mark.parametrize("theta, expected", [
    ([3.0, 1.0, 0.05, -0.05, 0.0], 2.0),  # settles at the third sample
    ([0.0, 0.0, 0.0], 0.0),  # upright throughout
    ([0.0, 0.05, 0.5], None),  # falls at the end
    ([3.0, 2 * math.pi - 0.05, 2 * math.pi + 0.02], 1.0),  # wrapped: 2π − 0.05 is upright
    ([0.0, UPRIGHT_RAD, 0.0], 2.0),  # the band is open: |θ| = 0.1 is not upright
])
def test_upright_since(theta, expected):
    t = np.arange(len(theta), dtype=float)
    assert upright_since(t, np.array(theta)) == expected


def test_empty_run_is_not_upright():
    assert upright_since(np.array([]), np.array([])) is None
