# heapsize: 1M
# (the 256-wide golden nets hold ~95 KB with the viper kernel, twice that with the portable one: more than the
# 128K board-sized default; every other device test runs at 128K or states why not)
# device: bit-exact replay of the host's golden vectors (int8 w8a8 / w8a16, q15) on BOTH integer kernels, every
# intermediate through Policy.run_layers, and the f32 path within the manifest's tolerance.
from array import array

from golden import entries, rows

from tinypolicy import Policy

KERNELS = ("viper", "portable")


def _load(e, kernel=None):
    return Policy.load(e["blob"], e.get("max_bytes", 98304), kernel)


def test_golden_outputs_exact_both_kernels():
    n_files = 0
    for net, e in entries("int"):
        for kernel in KERNELS:
            p = _load(e, kernel)
            assert p.kernel == kernel and p.scheme == e["scheme"], (e["blob"], p)
            assert list(p.in_frac) == e["in_frac"] and list(p.out_frac) == e["out_frac"], e["blob"]
            assert list(p.out_lo_q) == e["out_lo_q"] and list(p.out_hi_q) == e["out_hi_q"], e["blob"]
            ni, no = p.n_inputs, p.n_outputs
            inp = array("i", bytes(4 * ni))
            out = array("i", bytes(4 * no))
            head, it = rows(e["golden"])
            assert head[:ni] == ["in%d" % i for i in range(ni)] and len(head) == ni + no, head
            n = 0
            for r in it:
                for i in range(ni):
                    inp[i] = int(r[i])
                p.infer_q(inp, out)
                for j in range(no):
                    assert out[j] == int(r[ni + j]), (e["blob"], kernel, "row", n, "out", j, out[j], r)
                    assert p.out_lo_q[j] <= out[j] <= p.out_hi_q[j]
                n += 1
            assert n >= 200, (e["golden"], n)
        n_files += 1
    assert n_files >= 3, n_files


def test_golden_layers_exact_both_kernels():
    """Features (x*) and every layer's hand-off (l{k}_out*) through run_layers; the last layer's y is checked
    through the outputs above."""
    for net, e in entries("int"):
        if "layers" not in e:
            continue
        for kernel in KERNELS:
            p = _load(e, kernel)
            inp = array("i", bytes(4 * p.n_inputs))
            out = array("i", bytes(4 * max(p.widths)))
            head, it = rows(e["layers"])
            col = {name: i for i, name in enumerate(head)}
            for r in it:
                for i in range(p.n_inputs):
                    inp[i] = int(r[col["in%d" % i]])
                for k in range(p.n_layers):
                    w = p.run_layers(inp, k, out)
                    names = ["x%d" % j for j in range(w)] if k == 0 else ["l%d_out%d" % (k - 1, j) for j in range(w)]
                    for j in range(w):
                        assert out[j] == int(r[col[names[j]]]), (e["blob"], kernel, names[j], out[j], r[0:4])


def test_golden_f32_within_tolerance():
    for net, e in entries("f32"):
        p = _load(e)
        atol, rtol = e.get("atol", 1e-5), e.get("rtol", 1e-5)
        head, it = rows(e["golden"])
        ni = p.n_inputs
        n = 0
        for r in it:
            got = p.infer([float(v) for v in r[:ni]])
            for j in range(len(got)):
                want = float(r[ni + j])
                if p.argmax:
                    assert got[j] == int(want), (e["blob"], r, got)
                else:
                    assert abs(got[j] - want) <= atol + rtol * abs(want), (e["blob"], r, got)
            n += 1
        assert n >= 100, n
