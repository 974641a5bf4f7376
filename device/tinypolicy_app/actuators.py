# device: actuator stage: simulated torque into the plant, or the board's motor driver.
"""Every actuator has `write(torque_q12)` (Q12 N*m) and `off()` (safe state: zero torque). `write` runs in the
control tick and allocates nothing. Before it, the control loop clamps every command to +-min(the board's hardware
limit, the model's declared range) (`torque_limit`: defence in depth, the hardware limit is the board's, not the
model file's)."""
DEFAULT_LIMIT_Q12 = 8192  # 2 N*m, Pendulum-v1's (the simulated plant's) limit: a board module without MAX_TORQUE_Q12
LIMIT_MAX_Q12 = 16384  # 4 N*m, as the rig's FULL_SCALE_MAX_Q12


def torque_limit(board):
    """The board's hardware torque limit, Q12 N*m: board.MAX_TORQUE_Q12 (an int 1..16384), DEFAULT_LIMIT_Q12 when
    the board module has none. Returns (limit, error text or None); an invalid value gives limit 0 (motor off)."""
    lim = getattr(board, "MAX_TORQUE_Q12", DEFAULT_LIMIT_Q12)
    if type(lim) is not int or not 1 <= lim <= LIMIT_MAX_Q12:
        return 0, "board: MAX_TORQUE_Q12 %r: an integer 1..%d (Q12 N*m)" % (lim, LIMIT_MAX_Q12)
    return lim, None


class SimActuator:
    """Applies the torque to the simulated plant (it is integrated in the plant stage of the same tick)."""

    def __init__(self, plant):
        self.plant = plant

    def write(self, torque_q12):
        self.plant.torque = torque_q12

    def off(self):
        self.plant.torque = 0


class NullActuator:
    """Open-loop replay: the torque goes only to the log/output file."""

    def write(self, torque_q12):
        pass

    def off(self):
        pass


class BoardActuator:
    """The rig's motor via the board module: board.write_actuator(torque_q12) maps torque to PWM duty and
    direction; board.actuator_off() stops the motor."""

    def __init__(self, board):
        self.write = board.write_actuator
        self.off = board.actuator_off
