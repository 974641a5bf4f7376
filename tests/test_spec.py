"""The float hand-off MLPSpec: limits with one error naming the field, npz round trip, the version-1 pendulum spec
file converted on load, and the float forward of the input / output stages."""
import numpy as np
import pytest

from specs import random_spec
from tinypolicy_host.contract.spec import (
    DenseSpec,
    InputSpec,
    MLPSpec,
    OutputSpec,
    SpecError,
    load_spec_file,
    pendulum_params,
)
from tinypolicy_host.errors import UserError
from tinypolicy_host.export.testnets import argmax_spec, clip_spec, multi_spec


def test_npz_round_trip(tmp_path):
    for spec in (random_spec(), multi_spec(), argmax_spec(), clip_spec()):
        spec.save(tmp_path / "s.npz")
        back = MLPSpec.load(tmp_path / "s.npz")
        assert back.inputs == spec.inputs and back.outputs == spec.outputs and back.argmax == spec.argmax
        assert [(d.activation, d.lo, d.hi) for d in back.layers] == [(d.activation, d.lo, d.hi) for d in spec.layers]
        x = np.random.default_rng(0).uniform(-3, 3, (50, spec.n_inputs))
        np.testing.assert_array_equal(back.forward(x), spec.forward(x))


def test_version_1_pendulum_spec_file_is_converted_on_load(tmp_path):
    spec = random_spec()
    arrays = {"vel_scale": np.float64(0.125), "max_torque": np.float64(2.0),
              "activations": np.array([d.activation for d in spec.layers])}
    for k, d in enumerate(spec.layers):
        arrays[f"w{k}"], arrays[f"b{k}"] = d.weight, d.bias
    np.savez(tmp_path / "v1.npz", **arrays)
    back = load_spec_file(tmp_path / "v1.npz")
    assert [i.kind for i in back.inputs] == ["angle", "affine"] and pendulum_params(back) == (0.125, 2.0)
    x = np.random.default_rng(1).uniform(-4, 4, (100, 2))
    np.testing.assert_array_equal(back.forward(x), spec.forward(x))


def test_forward_stages():
    spec = MLPSpec([InputSpec("affine", 12, 1.0, 2.0, -1.0, 3.0), InputSpec("angle")],
                   [DenseSpec(np.eye(3), np.zeros(3), "identity")],
                   [OutputSpec(12, 2.0, 0.5, -5.0, 5.0), OutputSpec(12, 1.0, 0.0, -1.0, 1.0),
                    OutputSpec(12, -1.0, 0.0, -0.5, 0.5)])
    out = spec.forward(np.array([[10.0, np.pi / 2]]))
    # feature 0 = (clip(10, -1, 3) - 1)·2 = 4 → 4·2 + 0.5 = 8.5 → clip 5; cos(π/2) ≈ 0; -sin(π/2) = -1 → -0.5
    np.testing.assert_allclose(out, [[5.0, 0.0, -0.5]], atol=1e-12)
    amax = MLPSpec([InputSpec("affine", 12, 0.0, 1.0, -1.0, 1.0)], [DenseSpec(np.array([[1.0], [-1.0]]),
                                                                              np.zeros(2), "identity")],
                   [OutputSpec(0, 1.0, 0.0, 0.0, 1.0)], argmax=True)
    assert amax.forward(np.array([[0.5], [-0.5]]))[:, 0].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("edit,field", [
    (lambda s: s.inputs.append(InputSpec("affine", 12, 0.0, 1.0, 0.0, 0.0)), "input 2 lo/hi"),
    (lambda s: setattr(s.inputs[1], "lo", -np.inf), "input 1 offset/scale/lo/hi"),
    (lambda s: setattr(s.inputs[0], "frac", 10), "input 0 frac"),
    (lambda s: setattr(s.inputs[1], "kind", "log"), "input 1 kind"),
    (lambda s: setattr(s.layers[0], "activation", "gelu"), "layer 0 activation"),
    (lambda s: setattr(s.layers[0], "activation", "clip"), "layer 0 lo/hi"),  # bounds 0, 0: need lo < hi
    (lambda s: (setattr(s.layers[0], "activation", "clip"), setattr(s.layers[0], "hi", np.inf)), "layer 0 lo/hi"),
    (lambda s: setattr(s.outputs[0], "hi", 1e9), "output 0 lo/hi"),
    (lambda s: (setattr(s.layers[1], "weight", np.zeros((300, 16))), setattr(s.layers[1], "bias", np.zeros(300)),
                setattr(s.layers[2], "weight", np.zeros((1, 300)))), "layer 1 n_out"),
    (lambda s: s.outputs.append(OutputSpec()), "outputs"),
])
def test_validate_names_the_field(edit, field):
    spec = random_spec()
    edit(spec)
    with pytest.raises(SpecError, match=field):
        spec.validate()


def test_a_user_file_that_is_not_a_spec_is_one_error(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="x.npz: not a policy spec"):
        load_spec_file(tmp_path / "x.npz")
    with pytest.raises(UserError, match="no such spec file"):
        load_spec_file(tmp_path / "missing.npz")
