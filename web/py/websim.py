# device (MicroPython WebAssembly, also the unix port): the browser demo's simulations, one control tick at a time.
"""A shipped policy (`tinypolicy.Policy`, the device runtime unchanged) on a simulated plant, stepped by the page
(web/app.js) in real time. Everything here runs inside MicroPython. Two tasks:

`Sim` — Gymnasium Pendulum-v1 (g = 10, m = l = 1, |u| <= 2 N*m, |theta_dot| <= 8 rad/s), semi-implicit Euler
with dt = the control period, theta = 0 upright, wrapped into [-pi, pi). In floats: the device app's plant
(tinypolicy_app/plant.py) is a viper kernel, and the webassembly port has no native emitter. The policy is
models/policy_<dtype>.bin: theta, theta_dot in (Q12) -> torque out (`policy.out_frac[0]`: Q12 N*m).

`CartSim` — Gymnasium CartPole-v1 (the device app's float plant, tinypolicy_app/cartpole.py; one tick = one
tau = 20 ms step) with the zoo policy models/zoo/cartpole/policy_<dtype>.bin: the raw observation [x, x_dot,
theta, theta_dot] in (the input stage is in the blob) -> [action index] out (0 push left, 1 push right).

Sensor (both): the true state plus Gaussian noise of sigma (in each observation's unit), converted to the blob's
input formats (`policy.in_frac`) for `infer_q`, as the device loop feeds it. int8 / Q15 blobs run the portable
integer kernel here (no native emitter).
"""
import math
import random
import time
from array import array

from tinypolicy import Policy
from tinypolicy.floats import to_q
from tinypolicy_app.cartpole import FORCE_MAG, TAU, CartPole

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


class _Run:
    """What both tasks share: the policy, the noisy sensor, the timed `infer_q` and the tick / missed-tick clock.
    A task supplies `_observe()` (true state, a list in the blob's input order), `_act(out)` (the policy's output
    -> the actuator command) and `_advance()` (one plant step of dt under the last command)."""

    def __init__(self, blob, dt, sigma, seed):
        self.policy = Policy.load(blob)
        self.dtype = self.policy.dtype
        self.kernel = self.policy.kernel  # 'portable' / 'float' on the webassembly port, 'viper' on unix
        self.in_frac = self.policy.in_frac
        self.dt = dt
        self.sigma = sigma
        random.seed(seed)
        self.inp = array("i", bytes(4 * self.policy.n_inputs))
        self.out = array("i", bytes(4 * self.policy.n_outputs))
        self.t = 0.0
        self.steps = 0  # plant steps (ticks + missed): t = steps * dt, no float drift
        self.ticks = 0
        self.missed = 0
        self.infer_us = 0
        self.infer_us_sum = 0  # sum over ticks, for a mean the page reads (the port's clock is coarse)
        self.terminated = ""  # '' while the episode goes on (the pendulum's always does)

    def tick(self):
        """One control tick: sense (+ noise) -> policy (infer_q, timed) -> actuator -> plant step."""
        obs = self._observe()
        for i in range(len(obs)):
            v = obs[i]
            if self.sigma:
                v += self.sigma * gauss()
            self.inp[i] = to_q(v, self.in_frac[i])
        t0 = time.ticks_us()
        self.policy.infer_q(self.inp, self.out)
        us = time.ticks_diff(time.ticks_us(), t0)
        self.infer_us = us
        self.infer_us_sum += us
        self._act(self.out)
        self.ticks += 1
        self._step()

    def hold(self):
        """A missed tick (the page fell behind real time): the plant moves on under the last command."""
        self.missed += 1
        self._step()

    def _step(self):
        self._advance()
        self.steps += 1
        self.t = self.steps * self.dt


class Sim(_Run):
    """Pendulum-v1 episode. `period_ms`: control period = plant step; `theta0` (rad) start angle, at rest;
    `sigma`: sensor noise standard deviation (rad for theta, rad/s for theta_dot). Read after each tick: t (s),
    theta, theta_dot (true plant state), torque (N*m, last command), infer_us (last infer_q call), ticks, missed,
    upright_since (s, -1.0 while |theta| >= 0.1 rad)."""

    def __init__(self, blob, period_ms, theta0, sigma=0.0, seed=1):
        super().__init__(blob, period_ms / 1000.0, sigma, seed)
        self.out_scale = 1.0 / (1 << self.policy.out_frac[0])
        self.theta = wrap(theta0)
        self.theta_dot = 0.0
        self.torque = 0.0
        self.upright_since = -1.0
        self._track()

    def push(self, dv):
        """A disturbance: add dv (rad/s) to the pendulum's angular velocity."""
        self.theta_dot = max(-MAX_SPEED, min(MAX_SPEED, self.theta_dot + dv))

    def _observe(self):
        return (self.theta, self.theta_dot)

    def _act(self, out):
        self.torque = out[0] * self.out_scale

    def _advance(self):
        u = max(-MAX_TORQUE, min(MAX_TORQUE, self.torque))
        w = self.theta_dot + (1.5 * G * math.sin(self.theta) + 3.0 * u) * self.dt
        w = max(-MAX_SPEED, min(MAX_SPEED, w))
        self.theta = wrap(self.theta + w * self.dt)
        self.theta_dot = w

    def _step(self):
        super()._step()
        self._track()

    def _track(self):
        if abs(self.theta) >= UPRIGHT:
            self.upright_since = -1.0
        elif self.upright_since < 0:
            self.upright_since = self.t


class CartSim(_Run):
    """CartPole-v1 episode from the cart at rest at x = 0 with the pole at `theta0` (rad); `sigma`: sensor noise
    standard deviation (m, m/s, rad, rad/s). Read after each tick: t (s), steps (balanced steps so far), x,
    x_dot, theta, theta_dot (true plant state), action (last command: 0 left, 1 right; -1 before the first),
    force (N), terminated ('' while balanced, else 'x' or 'theta': the plant stops there), infer_us, ticks,
    missed."""

    def __init__(self, blob, theta0, sigma=0.0, seed=1):
        super().__init__(blob, TAU, sigma, seed)
        self.plant = CartPole(theta=theta0)
        self.action = -1
        self.force = 0.0
        self._sync()

    def tick(self):
        if not self.terminated:
            super().tick()

    def hold(self):
        if not self.terminated and self.action >= 0:
            super().hold()

    def push(self, dv):
        """A disturbance: an impulse on the pole, dv (rad/s) added to its angular velocity."""
        self.plant.theta_dot += dv
        self._sync()

    def _observe(self):
        return self.plant.observation()

    def _act(self, out):
        self.action = out[0]

    def _advance(self):
        self.plant.step(self.action)
        self._sync()

    def _sync(self):
        p = self.plant
        self.x, self.x_dot, self.theta, self.theta_dot = p.x, p.x_dot, p.theta, p.theta_dot
        self.force = 0.0 if self.action < 0 else (FORCE_MAG if self.action == 1 else -FORCE_MAG)
        self.terminated = p.terminated
