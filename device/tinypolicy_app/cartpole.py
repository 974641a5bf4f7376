# device: simulated CartPole-v1 plant in floats (plain MicroPython: every port, WebAssembly included).
"""Gymnasium CartPole-v1's equations, constants and integrator: gravity 9.8 m/s^2, cart 1.0 kg, pole 0.1 kg,
pole half-length 0.5 m, force +-10 N, tau = 0.02 s per step, explicit Euler (gymnasium's default "euler"
kinematics: positions move with the old velocities). State: x (m, cart position), x_dot (m/s), theta (rad, 0 =
upright, positive = leaning right), theta_dot (rad/s), in gymnasium's observation order. Action 0 pushes left,
1 pushes right (the zoo policy's argmax index). Terminated once |x| > 2.4 m or |theta| > 12 deg, as gymnasium;
the episode limit (500 steps in CartPole-v1) is the caller's. Floats allocate: a demo / test plant, not a
timer-callback one (tinypolicy_app.plant is the allocation-free fixed-point pendulum).
"""
import math

GRAVITY = 9.8  # m/s^2
MASSCART = 1.0  # kg
MASSPOLE = 0.1  # kg
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5  # m: half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0  # N
TAU = 0.02  # s per step
X_LIMIT = 2.4  # m
THETA_LIMIT = 12 * 2 * math.pi / 360  # rad (12 degrees)


class CartPole:
    """The plant: x, x_dot, theta, theta_dot (units above); `step(action)` advances tau; `steps` counts them;
    `terminated` is '' while within the limits, else which limit it crossed ('x' or 'theta')."""

    def __init__(self, x=0.0, x_dot=0.0, theta=0.0, theta_dot=0.0):
        self.x = x
        self.x_dot = x_dot
        self.theta = theta
        self.theta_dot = theta_dot
        self.steps = 0
        self.terminated = ""
        self._check()

    def step(self, action):
        """One tau step pushing left (action 0) or right (1); returns `terminated`."""
        force = FORCE_MAG if action == 1 else -FORCE_MAG
        c = math.cos(self.theta)
        s = math.sin(self.theta)
        temp = (force + POLEMASS_LENGTH * self.theta_dot * self.theta_dot * s) / TOTAL_MASS
        theta_acc = (GRAVITY * s - c * temp) / (LENGTH * (4.0 / 3.0 - MASSPOLE * c * c / TOTAL_MASS))
        x_acc = temp - POLEMASS_LENGTH * theta_acc * c / TOTAL_MASS
        self.x += TAU * self.x_dot
        self.x_dot += TAU * x_acc
        self.theta += TAU * self.theta_dot
        self.theta_dot += TAU * theta_acc
        self.steps += 1
        return self._check()

    def observation(self):
        """[x, x_dot, theta, theta_dot]: the policy's input vector (the zoo blob's input order)."""
        return [self.x, self.x_dot, self.theta, self.theta_dot]

    def _check(self):
        if not -X_LIMIT <= self.x <= X_LIMIT:
            self.terminated = "x"
        elif not -THETA_LIMIT <= self.theta <= THETA_LIMIT:
            self.terminated = "theta"
        return self.terminated
