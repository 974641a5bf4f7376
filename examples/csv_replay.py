# device (unix port or a board): replay recorded sensor data through the policy, open loop, into a CSV of torques.
#
#   MICROPYPATH=device .venv/bin/micropython examples/csv_replay.py [IN.csv] [OUT.csv] [model.bin]
#   (defaults: data/inputs.csv, stdout, models/policy_int8.bin)
#
# IN.csv: what a rig's sensor gave, one row per tick: `theta_q12,theta_dot_q12` (Q12 = value * 4096, rad and
# rad/s; a header row and '#' comment lines are allowed). OUT.csv: `torque_q12` per row (Q12 N*m), what the
# policy commands for it -- e.g. to check a new model against a recorded run before it drives the motor.
import sys
from array import array

from tinypolicy import ModelError, Policy
from tinypolicy_app.sensors import load_replay

src = sys.argv[1] if len(sys.argv) > 1 else "data/inputs.csv"
dst = sys.argv[2] if len(sys.argv) > 2 else None
model = sys.argv[3] if len(sys.argv) > 3 else "models/policy_int8.bin"

try:
    policy = Policy.load(model)  # ModelError names the file and the field
    rows = load_replay(src)  # array('i') [th0, w0, th1, w1, ...]; ValueError names the file:line of a bad row
except (ModelError, ValueError, OSError) as exc:
    print("error:", exc)
    sys.exit(1)
inp = array("i", (0, 0))  # preallocated: infer_q writes into `out`, allocating nothing (int8 / q15)
out = array("i", (0,))

f = open(dst, "w") if dst else sys.stdout
f.write("torque_q12\n")
for i in range(0, len(rows), 2):
    inp[0] = rows[i]
    inp[1] = rows[i + 1]
    policy.infer_q(inp, out)
    f.write("%d\n" % out[0])
if dst:
    f.close()
    print("%d rows: %s -> %s (%s)" % (len(rows) // 2, src, dst, model))
