# device: actuator stage: simulated torque into the plant, or the board's motor driver.
"""Every actuator has `write(torque_q12)` (Q12 N*m, already clamped by the policy to +-max_torque) and
`off()` (safe state: zero torque). `write` runs in the control tick and allocates nothing."""


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
