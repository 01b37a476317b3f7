"""``.to()``: tensors and modules read their arguments the same way (one parser, torch's ``_parse_to``)."""
from __future__ import annotations

import pytest

import tensorplug as tp


def _outcome(fn):
    """The device a call lands on, or the type of the error it raises."""
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - the error type is the outcome compared
        return type(exc)
    return str(result.device if isinstance(result, tp.Tensor) else next(result.parameters()).device)


def test_a_device_index_means_that_cuda_device_for_tensors_and_modules():
    # torch: .to(0) is .to("cuda:0") (it was read as a dtype for tensors here)
    expected = _outcome(lambda: tp.ones(2).to("cuda:0"))
    assert _outcome(lambda: tp.ones(2).to(0)) == expected
    assert _outcome(lambda: tp.nn.Linear(1, 1).to(0)) == expected


@pytest.mark.parametrize("args, kwargs", [
    ((tp.float64,), {}), (("cpu",), {}), ((tp.device("cpu"),), {}), (("cpu", tp.float64), {}),
    ((tp.zeros(1, dtype=tp.float64),), {}), ((), {"dtype": tp.float64, "device": "cpu"}),
])
def test_tensor_and_module_take_the_same_spellings(args, kwargs):
    t = tp.ones(2).to(*args, **dict(kwargs))
    m = tp.nn.Linear(1, 1).to(*args, **dict(kwargs))
    assert (t.dtype, t.device) == (m.weight.dtype, m.weight.device)


def test_unknown_keywords_are_named():
    for target in (tp.ones(1), tp.nn.Linear(1, 1)):
        with pytest.raises(TypeError, match=r"unexpected keyword arguments \['colour'\]"):
            target.to(colour="red")


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_bfloat16_to_integers_as_torch(dtype):
    # through float32 as torch: wrapping -2.5 to 254 in uint8 and 300 to 44 in int8, INT_MIN for NaN and inf
    # in int32/int64 (bfloat16's own cast saturated and gave 0)
    torch = pytest.importorskip("torch")
    values = [-2.5, -0.0, 1.5, float("nan"), float("inf"), -float("inf"), 300.0, -129.0]
    got = tp.tensor(values).bfloat16().to(getattr(tp, dtype))
    want = torch.tensor(values).bfloat16().to(getattr(torch, dtype))
    assert got.dtype.name == dtype
    assert got.tolist() == want.tolist()
