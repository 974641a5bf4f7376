# heapsize: 1M
# device: 256-wide int8 nets (17 -> 256 -> 256 -> 6, W8A8 and W8A16): both kernels agree, allocation-free,
# within the default max_bytes. (The generator needs the big heap; the loaded policy itself fits 128K.)
import gc
import os
from array import array

from v2blob import Lcg, random_net

from devtest import assert_no_alloc
from tinypolicy import Policy


def _wide(a16):
    try:
        os.mkdir("build/tmp")
    except OSError:
        pass
    path = "build/tmp/wide_%s.bin" % ("a16" if a16 else "a8")
    data = random_net("int8", (0,) * 17, (256, 256, 6), (1, 1, 0), a16=a16, seed=9)
    with open(path, "wb") as f:
        f.write(data)
    return path, len(data)


def test_wide_nets_agree_and_allocate_nothing():
    for a16 in (False, True):
        path, size = _wide(a16)
        assert size <= 98304, size
        gc.collect()
        pv = Policy.load(path, kernel="viper")
        pp = Policy.load(path, kernel="portable")
        assert pv.widths == (17, 256, 256, 6) and pv.scheme == ("w8a16" if a16 else "w8a8")
        inp = array("i", bytes(4 * 17))
        ov = array("i", bytes(4 * 256))
        op = array("i", bytes(4 * 256))
        r = Lcg(2)
        seen = set()
        for n in range(40):
            for i in range(17):
                inp[i] = r.next(-(1 << (pv.in_frac[i] + 4)), 1 << (pv.in_frac[i] + 4))
            pv.infer_q(inp, ov)
            pp.infer_q(inp, op)
            assert ov[:6] == op[:6], (a16, n, list(ov[:6]), list(op[:6]))
            seen.add(tuple(ov[:6]))
            if n % 10 == 0:
                for k in (1, 2):
                    assert pv.run_layers(inp, k, ov) == pp.run_layers(inp, k, op) == 256
                    assert ov == op, (a16, "layer", k)
        assert len(seen) >= 30, len(seen)
        assert_no_alloc(lambda: pv.infer_q(inp, ov))
        assert_no_alloc(lambda: pp.infer_q(inp, op))
        pv = pp = None
        gc.collect()
