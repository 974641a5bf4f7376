# device (MicroPython WebAssembly, also the unix port): the browser demo's simulation, one control tick at a time.
"""The shipped policy (`tinypolicy.Policy`, the device runtime unchanged) on a simulated Gymnasium Pendulum-v1,
stepped by the page (web/app.js) in real time. Everything here runs inside MicroPython.

Plant: Pendulum-v1's equations (g = 10, m = l = 1, |u| <= 2 N*m, |theta_dot| <= 8 rad/s), semi-implicit Euler
with dt = the control period, theta = 0 upright, wrapped into [-pi, pi). In floats: the device app's plant
(tinypolicy_app/plant.py) is a viper kernel, and the webassembly port has no native emitter.
Sensor: theta (rad), theta_dot (rad/s) plus Gaussian noise of sigma (rad, rad/s), converted to the blob's input
formats (`policy.in_frac`: Q12 for the pendulum) for `infer_q`, as the device loop feeds it; the torque comes back
in `policy.out_frac[0]` (Q12 N*m). int8 / Q15 blobs run the portable integer kernel here (no native emitter).
"""
import math
import random
import time
from array import array

from tinypolicy import Policy
from tinypolicy.floats import to_q

G = 10.0
MAX_SPEED = 8.0  # rad/s
MAX_TORQUE = 2.0  # N*m
UPRIGHT = 0.1  # rad: |theta| below counts as upright (as the device loop counts it)
_TWO_PI = 2.0 * math.pi


def wrap(theta):
    """Angle (rad) into [-pi, pi)."""
    return (theta + math.pi) % _TWO_PI - math.pi


def gauss():
    """One N(0, 1) sample (Box-Muller from random.random(); the port's random has no gauss)."""
    u = 1.0 - random.random()  # (0, 1]: log(0) cannot happen
    return math.sqrt(-2.0 * math.log(u)) * math.cos(_TWO_PI * random.random())


class Sim:
    """One episode. `period_ms`: control period = plant step; `theta0` (rad) start angle, at rest; `sigma`:
    sensor noise standard deviation (rad for theta, rad/s for theta_dot). Read after each tick: t (s), theta,
    theta_dot (true plant state), torque (N*m, last command), infer_us (last infer_q call), ticks, missed,
    upright_since (s, -1.0 while |theta| >= 0.1 rad)."""

    def __init__(self, blob, period_ms, theta0, sigma=0.0, seed=1):
        self.policy = Policy.load(blob)
        self.dtype = self.policy.dtype
        self.kernel = self.policy.kernel  # 'portable' / 'float' on the webassembly port, 'viper' on unix
        self.in_frac = self.policy.in_frac
        self.out_scale = 1.0 / (1 << self.policy.out_frac[0])
        self.dt = period_ms / 1000.0
        self.sigma = sigma
        random.seed(seed)
        self.inp = array("i", (0, 0))
        self.out = array("i", (0,))
        self.theta = wrap(theta0)
        self.theta_dot = 0.0
        self.torque = 0.0
        self.t = 0.0
        self.steps = 0  # plant steps (ticks + missed): t = steps * dt, no float drift
        self.ticks = 0
        self.missed = 0
        self.infer_us = 0
        self.infer_us_sum = 0  # sum over ticks, for a mean the page reads (the port's clock is coarse)
        self.upright_since = -1.0
        self._track()

    def tick(self):
        """One control tick: sense (+ noise) -> policy (infer_q, timed) -> actuator -> plant step."""
        th, w = self.theta, self.theta_dot
        if self.sigma:
            th += self.sigma * gauss()
            w += self.sigma * gauss()
        self.inp[0] = to_q(th, self.in_frac[0])
        self.inp[1] = to_q(w, self.in_frac[1])
        t0 = time.ticks_us()
        self.policy.infer_q(self.inp, self.out)
        us = time.ticks_diff(time.ticks_us(), t0)
        self.infer_us = us
        self.infer_us_sum += us
        self.torque = self.out[0] * self.out_scale
        self.ticks += 1
        self._plant_step()

    def hold(self):
        """A missed tick (the page fell behind real time): the plant moves on under the last torque."""
        self.missed += 1
        self._plant_step()

    def push(self, dv):
        """A disturbance: add dv (rad/s) to the pendulum's angular velocity."""
        self.theta_dot = max(-MAX_SPEED, min(MAX_SPEED, self.theta_dot + dv))

    def _plant_step(self):
        u = max(-MAX_TORQUE, min(MAX_TORQUE, self.torque))
        w = self.theta_dot + (1.5 * G * math.sin(self.theta) + 3.0 * u) * self.dt
        w = max(-MAX_SPEED, min(MAX_SPEED, w))
        self.theta = wrap(self.theta + w * self.dt)
        self.theta_dot = w
        self.steps += 1
        self.t = self.steps * self.dt
        self._track()

    def _track(self):
        if abs(self.theta) >= UPRIGHT:
            self.upright_since = -1.0
        elif self.upright_since < 0:
            self.upright_since = self.t
