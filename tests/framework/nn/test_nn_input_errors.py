"""Misused nn functions raise torch's exception type with torch's message (no NumPy error escapes), and
the lenient cases torch accepts are accepted. Each row is compared with torch itself."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")


def _f(m, *shape):
    return m.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


def _i(m, *shape):
    return m.tensor(np.arange(int(np.prod(shape))).reshape(shape) - 3)


ERRORS = {
    "batch_norm_running_mean": lambda m: m.nn.functional.batch_norm(_f(m, 2, 3, 5), _f(m, 4), _f(m, 4).abs()),
    "batch_norm_running_var": lambda m: m.nn.functional.batch_norm(_f(m, 2, 3, 5), _f(m, 3), _f(m, 4).abs()),
    "batch_norm_weight": lambda m: m.nn.functional.batch_norm(_f(m, 2, 3, 5), None, None, _f(m, 4), training=True),
    "BatchNorm2d_channels": lambda m: m.nn.BatchNorm2d(4)(_f(m, 2, 3, 5, 5)),
    "InstanceNorm2d_affine_channels": lambda m: m.nn.InstanceNorm2d(4, affine=True)(_f(m, 2, 3, 5, 5)),
    "layer_norm_weight": lambda m: m.nn.functional.layer_norm(_f(m, 2, 5), [5], _f(m, 4)),
    "layer_norm_bias": lambda m: m.nn.functional.layer_norm(_f(m, 2, 5), [5], None, _f(m, 5, 1)),
    "embedding_1d_weight": lambda m: m.nn.functional.embedding(m.tensor([0, 1]), _f(m, 4)),
    "bilinear_input1": lambda m: m.nn.functional.bilinear(_f(m, 3, 3), _f(m, 3, 2), _f(m, 5, 4, 2)),
    "bilinear_input2": lambda m: m.nn.Bilinear(4, 2, 5)(_f(m, 3, 4), _f(m, 3, 3)),
    "bilinear_batch": lambda m: m.nn.functional.bilinear(_f(m, 3, 4), _f(m, 2, 2), _f(m, 5, 4, 2)),
    "bilinear_bias": lambda m: m.nn.functional.bilinear(_f(m, 3, 4), _f(m, 3, 2), _f(m, 5, 4, 2), _f(m, 4)),
    "cross_entropy_smoothing_above_1": lambda m: m.nn.functional.cross_entropy(_f(m, 3, 4), m.tensor([0, 1, 1]),
                                                                                 label_smoothing=1.5),
    "nll_loss_vector_target": lambda m: m.nn.functional.nll_loss(_f(m, 4), m.tensor([0, 1])),
    "pad_reflect_value": lambda m: m.nn.functional.pad(_f(m, 2, 3, 5), (1, 1), mode="reflect", value=1.0),
    "pad_uint8_negative_value": lambda m: m.nn.functional.pad(m.zeros(2, 3, dtype=m.uint8), (1, 1), value=-1),
    "pad_int8_large_value": lambda m: m.nn.functional.pad(m.zeros(2, 3, dtype=m.int8), (1, 1), value=200),
    "dropout_integer": lambda m: m.nn.functional.dropout(_i(m, 2, 4), 0.5),
}
for _name in ("gelu", "elu", "selu", "celu", "silu", "mish", "softplus", "leaky_relu", "hardswish", "hardsigmoid",
              "logsigmoid", "glu", "hardshrink", "softshrink"):
    ERRORS[f"{_name}_integer"] = lambda m, name=_name: getattr(m.nn.functional, name)(_i(m, 2, 4))
ERRORS["prelu_integer"] = lambda m: m.nn.functional.prelu(_i(m, 2, 4), m.tensor([1]))
ERRORS["layer_norm_integer"] = lambda m: m.nn.functional.layer_norm(_i(m, 2, 4), (4,))
ERRORS["group_norm_integer"] = lambda m: m.nn.functional.group_norm(_i(m, 2, 4), 1)
ERRORS["rms_norm_integer"] = lambda m: m.nn.functional.rms_norm(_i(m, 2, 4), (4,))


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_as_torchs(name):
    assert_same_error(ERRORS[name])


ACCEPTED = {
    # a 1-D input's class index may come in a 1-vector; a negative smoothing is no smoothing
    "cross_entropy_vector_target": lambda m: m.nn.functional.cross_entropy(_f(m, 4), m.tensor([1]), reduction="none"),
    "nll_loss_vector_target": lambda m: m.nn.functional.nll_loss(_f(m, 4), m.tensor([2])),
    "cross_entropy_negative_smoothing": lambda m: m.nn.functional.cross_entropy(_f(m, 3, 4), m.tensor([0, 1, 1]),
                                                                                  label_smoothing=-0.1),
    "threshold_integer": lambda m: m.nn.functional.threshold(_i(m, 2, 4), 0.5, 7.0),
    "pad_int64_fractional_value": lambda m: m.nn.functional.pad(_i(m, 2, 3), (1, 1), value=1.5),
    "pad_reflect_zero_value": lambda m: m.nn.functional.pad(_f(m, 2, 3, 5), (1, 1), mode="reflect", value=0),
    "dropout_integer_eval": lambda m: m.nn.functional.dropout(_i(m, 2, 4), 0.5, training=False),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_as_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, ours = ACCEPTED[name](torch), ACCEPTED[name](tensorplug)
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_instance_norm_warns_where_the_channels_do_not_match_num_features():
    for m in (torch, tensorplug):
        with pytest.warns(UserWarning, match="does not match num_features"):
            m.nn.InstanceNorm1d(4)(_f(m, 2, 3, 5))


@pytest.mark.parametrize("case", ["batch_norm_2d", "batch_norm_1d", "batch_norm_no_length", "group_norm",
                                  "group_norm_no_length", "instance_norm", "instance_norm_no_length"])
def test_norms_of_empty_batches_as_torch(case):
    """torch normalises nothing and returns the empty result (training keeps the running statistics)."""
    make = {"batch_norm_2d": lambda m: (m.nn.BatchNorm2d(3), (0, 3, 4, 4)),
            "batch_norm_1d": lambda m: (m.nn.BatchNorm1d(3), (0, 3)),
            "batch_norm_no_length": lambda m: (m.nn.BatchNorm1d(3), (2, 3, 0)),
            "group_norm": lambda m: (m.nn.GroupNorm(1, 3), (0, 3, 4)),
            "group_norm_no_length": lambda m: (m.nn.GroupNorm(3, 3), (2, 3, 0)),
            "instance_norm": lambda m: (m.nn.InstanceNorm1d(3, track_running_stats=True), (0, 3, 4)),
            "instance_norm_no_length": lambda m: (m.nn.InstanceNorm1d(3, track_running_stats=True), (2, 3, 0))}[case]
    for m in (torch, tensorplug):
        module, shape = make(m)
        x = m.zeros(*shape, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = module(x)
        out.sum().backward()
        assert tuple(out.shape) == shape and tuple(x.grad.shape) == shape
        if case.startswith("batch_norm"):  # (torch's InstanceNorm averages no samples into NaN statistics)
            assert module.running_mean.tolist() == [0.0] * 3 and module.running_var.tolist() == [1.0] * 3
