# device (unix port or a board): the control loop on the simulated pendulum, stepped in simulated time.
#
#   MICROPYPATH=device .venv/bin/micropython examples/sim_loop.py [int8|q15|f32] [period_ms]
#
# Builds the app's stages by hand -- sensor (plant state + noise) -> policy -> actuator -> plant -> log ring --
# and runs ControlLoop.batch_step() (the same step the timer callback runs, at simulated time) for 10 s,
# starting from hanging down. Prints the log (the device's CSV format, one row per 0.5 s here) and when the
# pendulum got upright (|theta| < 0.1 rad from then on).
import sys

from tinypolicy import Policy
from tinypolicy_app.actuators import SimActuator
from tinypolicy_app.logger import HEADER, Ring, write_line
from tinypolicy_app.loop import ControlLoop
from tinypolicy_app.plant import Pendulum, to_q20
from tinypolicy_app.sensors import Noise, PlantSensor

dtype = sys.argv[1] if len(sys.argv) > 1 else "int8"
period_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 10

policy = Policy.load("models/policy_%s.bin" % dtype)  # ModelError names the file and field on a bad blob
plant = Pendulum(to_q20(3.14159), 0, period_ms)  # theta = pi (down), at rest; state in Q20
noise = Noise(0.002, 0.01, seed=1)  # sensor noise sigma: 0.002 rad, 0.01 rad/s
ring = Ring(64)  # log rows, filled by the tick, printed by the foreground
loop = ControlLoop(policy, PlantSensor(plant, noise), SimActuator(plant), plant, ring, period_ms,
                   decimation=500 // period_ms, max_torque_q12=policy.out_hi_q[0])

write_line(HEADER)
for _ in range(10000 // period_ms):  # 10 s
    loop.batch_step()
    ring.drain(write_line)

up_tick = loop.last_not_upright + 1  # first tick of the final upright stretch
theta = plant.st[0] / 1048576  # Q20 -> rad (floats are fine outside the tick)
print("# %s policy, %d ms period: upright from t = %.2f s; final theta = %.4f rad; median inference %d us"
      % (dtype, period_ms, up_tick * period_ms / 1000, theta, loop.infer_hist.median()))
