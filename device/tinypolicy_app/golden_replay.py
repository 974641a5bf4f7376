# device: replay a converted model's golden vectors through the public Policy API (unix port or a board).
"""micropython -m tinypolicy_app.golden_replay BLOB GOLDEN.csv [MAX_BYTES [ATOL RTOL]]

GOLDEN.csv: a header, then rows `in0,...,out0,...`. int8 / q15 blobs: int32 inputs given to `infer_q` and the
int32 outputs it must write, compared exactly. f32 blobs: float inputs given to `infer` and float outputs,
compared with |got - want| <= atol + rtol * |want| (argmax heads: the index exactly).
Prints up to 5 `mismatch row R: got ... want ...` lines and one summary line
`replay BLOB: N rows, M mismatches`; exit status 1 on any mismatch, 2 on a bad blob or file (one `error:` line).
On a board: `from tinypolicy_app.golden_replay import replay; replay('policy_int8.bin', 'golden.csv')`.
"""
from array import array

from tinypolicy import ModelError, Policy

MAX_SHOWN = 5


def _row_ok(p, vals, inp, out, exact, atol, rtol):
    n_in, n_out = p.n_inputs, p.n_outputs
    if exact:
        for i in range(n_in):
            inp[i] = int(vals[i])
        p.infer_q(inp, out)
        got_q = list(out)
        want_q = [int(v) for v in vals[n_in:n_in + n_out]]
        return got_q == want_q, got_q, want_q
    got = p.infer([float(v) for v in vals[:n_in]])
    want = [float(v) for v in vals[n_in:n_in + n_out]]
    for g, w in zip(got, want):
        if abs(g - w) > atol + rtol * abs(w):
            return False, got, want
    return True, got, want


def replay(blob, golden, max_bytes=98304, atol=1e-5, rtol=1e-5):
    """Replay GOLDEN.csv through the blob; returns the number of mismatching rows (prints the summary)."""
    p = Policy.load(blob, max_bytes)
    exact = p.dtype != "f32"
    inp = array("i", [0] * p.n_inputs)
    out = array("i", [0] * p.n_outputs)
    rows = bad = 0
    with open(golden) as f:
        f.readline()
        for line in f:
            line = line.strip()
            if not line:
                continue
            vals = line.split(",")
            if len(vals) != p.n_inputs + p.n_outputs:
                raise ValueError("%s: row %d: %d columns, expected %d" % (golden, rows + 1, len(vals),
                                                                         p.n_inputs + p.n_outputs))
            rows += 1
            ok, got, want = _row_ok(p, vals, inp, out, exact, atol, rtol)
            if not ok:
                bad += 1
                if bad <= MAX_SHOWN:
                    print("mismatch row %d: got %s want %s" % (rows, got, want))
    print("replay %s: %d rows, %d mismatches" % (blob, rows, bad))
    return bad


def main(argv):
    import sys

    if len(argv) not in (2, 3, 5):
        print("usage: micropython -m tinypolicy_app.golden_replay BLOB GOLDEN.csv [MAX_BYTES [ATOL RTOL]]")
        sys.exit(2)
    try:
        max_bytes = int(argv[2]) if len(argv) > 2 else 98304
        tols = [float(v) for v in argv[3:]] or [1e-5, 1e-5]
        bad = replay(argv[0], argv[1], max_bytes, tols[0], tols[1])
    except (ModelError, OSError, ValueError) as exc:
        print("error:", exc)
        sys.exit(2)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
