# device: one fixed infer_q loop for comparing two runtimes' instruction counts (bench/baseline.py: v1 vs v2).
"""N infer_q calls of a pendulum blob (2 inputs: theta, theta_dot in Q12; 1 output: torque in Q12), with the
loop of the v1 benchmark script, so that only the runtime under test differs between the two counts. Plain
MicroPython; both runtimes' `Policy.load(path)` / `infer_q(inp, out)` take these buffers.

    MICROPYPATH=<runtime> micropython device/bench/infer_q_loop.py BLOB N [nocall]

`nocall` runs the same loop without the call: the harness' own cost, subtracted by the caller."""
import sys
from array import array

from tinypolicy import Policy


def main(path, n, call):
    p = Policy.load(path)
    inp = array("i", (0, 0))
    out = array("i", (0,))
    th = array("i", ((k * 6151) % 25736 - 12868 for k in range(64)))  # +-pi rad in Q12
    thd = array("i", ((k * 9973) % 65536 - 32768 for k in range(64)))  # +-8 rad/s in Q12
    f = p.infer_q
    if call:
        for i in range(n):
            j = i & 63
            inp[0] = th[j]
            inp[1] = thd[j]
            f(inp, out)
    else:
        for i in range(n):
            j = i & 63
            inp[0] = th[j]
            inp[1] = thd[j]
    print("BENCH count n=%d call=%d last=%d" % (n, call, out[0]))


main(sys.argv[1], int(sys.argv[2]), len(sys.argv) < 4 or sys.argv[3] != "nocall")
