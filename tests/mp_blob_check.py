# device: the device side of the blob fuzz (tests/blobfuzz.py): load N blobs, run each accepted one.
#
#   micropython -X heapsize=512K tests/mp_blob_check.py FOLDER N     (MICROPYPATH=device)
#
# One line per blob FOLDER/<i>.bin: "<i> R <ModelError text>", "<i> M" (MemoryError), "<i> X <other exception>",
# or "<i> A <max_torque_q12> <min out> <max out> <NaN outputs> <outputs outside +-max_torque> [<error>]" after
# infer_q and infer on extreme inputs (a NaN input to infer must raise ValueError or give a bounded output).
import gc
import sys
from array import array

from tinypolicy import ModelError, Policy

INPUTS = ((0, 0), (12868, 0), (-12868, 0), (4096, 4096), (0, 131072), (0, -131072), (4194303, 4194303),
          (-4194303, -4194303), (2147483647, 2147483647), (-2147483648, -2147483648), (6434, -90000), (100000, 3000))
NAN = float("nan")


def limit_q12(p):
    hi = getattr(p, "out_hi_q", None)  # version 2: the declared range per output
    if hi is not None:
        return hi[0]
    return p.max_torque_q12


def check(p):
    mt = limit_q12(p)
    inp, out = array("i", (0, 0)), array("i", (0,))
    lo = hi = nan = outside = 0
    err = ""
    for k, (th, w) in enumerate(INPUTS):
        inp[0], inp[1] = th, w
        try:
            p.infer_q(inp, out)
            v = out[0]
            lo, hi = (v, v) if k == 0 else (min(lo, v), max(hi, v))
            if v > mt or v < -mt:
                outside += 1
        except Exception as exc:  # noqa: BLE001 - reported
            err = err or "infer_q %r" % (exc,)
        try:
            r = p.infer([th / 4096, w / 4096])[0]
            if r != r:
                nan += 1
        except ValueError:
            pass
        except Exception as exc:  # noqa: BLE001 - reported
            err = err or "infer %r" % (exc,)
    try:
        r = p.infer([NAN, 0.0])[0]
        if r != r:
            nan += 1
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001 - reported
        err = err or "infer(nan) %r" % (exc,)
    return "%d %d %d %d %d %s" % (mt, lo, hi, nan, outside, err)


def main(folder, n):
    for i in range(n):
        gc.collect()
        try:
            p = Policy.load("%s/%d.bin" % (folder, i))
        except ModelError as exc:
            print(i, "R", str(exc).replace("\n", " "))
            continue
        except MemoryError:
            print(i, "M")
            continue
        except Exception as exc:  # noqa: BLE001 - the fuzz counts these
            print(i, "X", repr(exc).replace("\n", " "))
            continue
        try:
            print(i, "A", check(p))
        except MemoryError:
            print(i, "A 0 0 0 0 0 MemoryError while running")
        p = None


main(sys.argv[1], int(sys.argv[2]))
