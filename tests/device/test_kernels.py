# device: the viper forward kernel layer by layer against the host reference's intermediates (bit-exact).
from array import array

from tinypolicy.kernels import forward
from tinypolicy.loader import load

GOLDEN = "tests/data/golden/"


def _check_layers(blob_path, layers_csv):
    """Run the kernel truncated to 1..n_layers layers and compare every layer's outputs to lk_out columns."""
    m = load(blob_path)
    n_layers = m.desc[0]
    half = m.desc[10]
    act = array("h", bytes(4 * half))
    inp = array("i", (0, 0))
    out = array("i", (0,))
    rows = 0
    with open(layers_csv) as f:
        head = f.readline().strip().split(",")
        cols = {name: i for i, name in enumerate(head)}
        for line in f:
            v = [int(x) for x in line.split(",")]
            inp[0], inp[1] = v[cols["theta_q12"]], v[cols["theta_dot_q12"]]
            for k in range(n_layers):
                m.desc[0] = k + 1
                forward(m.desc, m.blob, act, inp, out)
                base = half if k % 2 == 0 else 0  # ping-pong: layer 0 writes act[half..]
                j = 0
                while ("l%d_out%d" % (k, j)) in cols:
                    want = v[cols["l%d_out%d" % (k, j)]]
                    got = out[0] if k == n_layers - 1 else act[base + j]
                    assert got == want, (blob_path, inp[0], inp[1], "layer", k, "unit", j, got, want)
                    j += 1
            rows += 1
    m.desc[0] = n_layers
    assert rows > 10, rows


def test_int8_layers_exact():
    _check_layers("models/policy_int8.bin", GOLDEN + "golden_int8_layers.csv")


def test_q15_layers_exact():
    _check_layers("models/policy_q15.bin", GOLDEN + "golden_q15_layers.csv")


def test_tanh_net_layers_exact():
    for dtype in ("int8", "q15"):
        _check_layers(GOLDEN + "tanh/policy_tanh_%s.bin" % dtype, GOLDEN + "tanh/golden_tanh_%s_layers.csv" % dtype)


def test_hardtanh_sigmoid_net_layers_exact():
    for dtype in ("int8", "q15"):
        _check_layers(GOLDEN + "hardtanh_sigmoid/policy_hs_%s.bin" % dtype,
                      GOLDEN + "hardtanh_sigmoid/golden_hs_%s_layers.csv" % dtype)


def test_features_exact():
    m = load("models/policy_q15.bin")
    act = array("h", bytes(4 * m.desc[10]))
    inp = array("i", (0, 0))
    out = array("i", (0,))
    m.desc[0] = 0  # features only
    with open(GOLDEN + "golden_q15_layers.csv") as f:
        head = f.readline().strip().split(",")
        ix = [head.index(n) for n in ("theta_q12", "theta_dot_q12", "x0", "x1", "x2")]
        for line in f:
            v = line.split(",")
            inp[0], inp[1] = int(v[ix[0]]), int(v[ix[1]])
            forward(m.desc, m.blob, act, inp, out)
            assert [act[0], act[1], act[2]] == [int(v[i]) for i in ix[2:]], (inp[0], inp[1])
