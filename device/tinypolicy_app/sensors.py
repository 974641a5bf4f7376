# device: sensor stage: simulated pendulum (+ Gaussian noise), CSV replay, board sensor.
"""Every sensor has `read(inp)`: write [theta_q12, theta_dot_q12] into the preallocated array('i') `inp` that
the policy reads (Q12 rad, Q12 rad/s), allocating nothing. `done` becomes true when a finite source ends.

Noise: Gaussian, sigma in rad (theta) and rad/s (theta_dot), applied in the sensor stage, seeded.
- PRNG: Marsaglia multiply-with-carry with base 2^16 and multiplier 16365 (16365 * 2^16 - 1 and
  (16365 * 2^16 - 2) / 2 are both prime: period 5.4e8). State x < 16366 * 2^16 < 2^30: every intermediate is a
  small int on 32-bit ports, no literal above 0x3fffffff.
- N(0, 1) by Irwin-Hall: the sum of 12 uniform 12-bit draws minus 24570 has mean 0 and standard deviation
  4095.9999, i.e. it *is* a standard normal in Q12 (range +-24570, i.e. +-6 sigma).
- noise_q20 = (z_q12 * sigma_q16) >> 8, sigma <= 1.0 (sigma_q16 <= 65536 keeps the product below 2^31).
"""
from array import array

import micropython
from micropython import const

# Every sensor writes |value| < INPUT_LIMIT_Q12 (2^22 in Q12: 1024 rad, 1024 rad/s); the loop treats anything
# else (or a read that raises, e.g. a float NaN written into the int array) as an invalid reading: zero torque.
# The bound keeps every tick value a small int (the loop logs inp << 8 as Q20, < 2^30 on 32-bit ports).
INPUT_LIMIT_Q12 = const(4194304)

_MWC_A = const(16365)
_MWC_M = const(1072496639)  # 16365 * 2^16 - 1: the state lives in 1 .. M - 1
_IH_MEAN = const(24570)  # 12 * 4095 / 2


@micropython.viper
def gauss_q12(st: ptr32) -> int:
    """One N(0, 1) sample in Q12 from the MWC state st[0] (updated in place). Allocation-free."""
    x = st[0]
    acc = 0
    for _ in range(12):
        x = _MWC_A * (x & 0xFFFF) + (x >> 16)
        acc += (x & 0xFFFF) >> 4
    st[0] = x
    return acc - _IH_MEAN


@micropython.viper
def _sense(plant: ptr32, noise, inp: ptr32):
    """inp = Q12 view of the Q20 plant state plus noise; noise = array('i') [mwc, sigma_theta_q16,
    sigma_dot_q16] (passed as the object: gauss_q12 takes it from here)."""
    nz = ptr32(noise)
    one = 1
    sb = one << 31  # sign-restore of ptr32 loads on 64-bit targets
    for k in range(2):
        v = (plant[k] ^ sb) - sb
        sigma = nz[1 + k]
        if sigma:
            v += (int(gauss_q12(noise)) * sigma) >> 8  # type: ignore[arg-type]
        inp[k] = (v + 128) >> 8


def seed_state(seed):
    """MWC start state for a seed (any int): 1 .. M - 1."""
    return (seed % (_MWC_M - 1)) + 1


def sigma_q16(sigma):
    return int(sigma * 65536 + 0.5)


class Noise:
    """Seeded Gaussian noise source; `st` = array('i') [mwc_state, sigma_theta_q16, sigma_dot_q16]."""

    def __init__(self, sigma_theta, sigma_dot, seed):
        self.st = array("i", (seed_state(seed), sigma_q16(sigma_theta), sigma_q16(sigma_dot)))


class PlantSensor:
    """Reads the simulated plant's true state (Q20) as Q12 with optional noise."""

    done = False

    def __init__(self, plant, noise=None):
        self.plant_st = plant.st
        self.noise_st = noise.st if noise is not None else array("i", (1, 0, 0))

    def read(self, inp):
        _sense(self.plant_st, self.noise_st, inp)


class BoardSensor:
    """The rig's angle sensor via the board module: board.read_sensor(inp) fills Q12 theta, theta_dot."""

    done = False

    def __init__(self, board):
        self.read = board.read_sensor
