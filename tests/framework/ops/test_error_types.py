"""Misuse raises torch's exception type with torch's key phrase: empty arg-reductions, sizes too big to
store or allocate, ints beyond int64, and integer input to ops that only have float kernels."""
from __future__ import annotations

import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

# name: (call(module), key phrase both messages contain)
CASES = {
    "argmax_empty": (lambda m: m.tensor([]).argmax(), "Expected reduction dim to be specified"),
    "argmin_empty": (lambda m: m.tensor([]).argmin(), "Expected reduction dim to be specified"),
    "amax_empty": (lambda m: m.tensor([]).amax(), "Expected reduction dim to be specified"),
    "amin_empty": (lambda m: m.zeros(0, 3).amin(), "Expected reduction dim to be specified"),
    "max_empty_dim": (lambda m: m.zeros(0, 3).max(0), "max(): Expected reduction dim 0 to have non-zero size"),
    "min_empty_dim": (lambda m: m.zeros(0, 3).min(0), "min(): Expected reduction dim 0 to have non-zero size"),
    "empty_2**62": (lambda m: m.empty(2 ** 62), "Storage size calculation overflowed"),
    "zeros_2**62": (lambda m: m.zeros(2 ** 62), "Storage size calculation overflowed"),
    "ones_2**40_squared": (lambda m: m.ones(2 ** 40, 2 ** 40), "Storage size calculation overflowed"),
    "full_2**62": (lambda m: m.full((2 ** 62,), 1.0), "Storage size calculation overflowed"),
    "rand_2**62": (lambda m: m.rand(2 ** 62), "Storage size calculation overflowed"),
    "randint_2**62": (lambda m: m.randint(0, 5, (2 ** 62,)), "Storage size calculation overflowed"),
    "randperm_2**62": (lambda m: m.randperm(2 ** 62), "Storage size calculation overflowed"),
    "arange_2**62": (lambda m: m.arange(0, 2 ** 62), "Storage size calculation overflowed"),
    "linspace_2**62": (lambda m: m.linspace(0, 1, 2 ** 62), "Storage size calculation overflowed"),
    "eye_2**31": (lambda m: m.eye(2 ** 31), "Storage size calculation overflowed"),
    "new_zeros_2**62": (lambda m: m.zeros(3).new_zeros(2 ** 62), "Storage size calculation overflowed"),
    "empty_2**63": (lambda m: m.empty(2 ** 63), "Overflow when unpacking long long"),
    "tensor_2**64": (lambda m: m.tensor([2 ** 64]), "Overflow when unpacking long long"),
    "tensor_2**63": (lambda m: m.tensor(2 ** 63), "Overflow when unpacking long long"),
    "tensor_below_int64": (lambda m: m.tensor([[1], [-2 ** 63 - 1]]), "Overflow when unpacking long long"),
    "softmax_int": (lambda m: m.softmax(m.tensor([1, 2]), 0), "softmax_lastdim_kernel_impl\" not implemented"),
    "softmax_bool": (lambda m: m.softmax(m.tensor([True]), 0), "softmax_lastdim_kernel_impl\" not implemented"),
    "log_softmax_int": (lambda m: m.log_softmax(m.tensor([1, 2]), 0), "not implemented for 'Long'"),
    "F.softmax_int": (lambda m: m.nn.functional.softmax(m.tensor([1, 2]), 0), "not implemented for 'Long'"),
    "lerp_int": (lambda m: m.lerp(m.tensor([1, 2]), m.tensor([3, 4]), 0.5), "lerp_kernel_scalar"),
    "lerp_int_tensor_weight": (lambda m: m.lerp(m.tensor([1, 2]), m.tensor([3, 4]), m.tensor([1, 1])),
                               "lerp_kernel_tensor"),
    "logaddexp_int": (lambda m: m.logaddexp(m.tensor([1, 2]), m.tensor([3, 4])), "logaddexp_cpu"),
    "addcdiv_int": (lambda m: m.addcdiv(m.tensor([1.0, 2]), m.tensor([3, 4]), m.tensor([3, 4])),
                    "Integer division with addcdiv is no longer supported"),
    "argmax_bool": (lambda m: m.tensor([True, False]).argmax(), "argmax(): does not support bool input"),
    "argmin_bool_dim": (lambda m: m.tensor([True, False]).argmin(0), "argmin(): does not support bool input"),
    "addcmul_bool": (lambda m: m.addcmul(*(m.tensor([True]),) * 3), "addcmul_cpu_out"),
    "rand_int64": (lambda m: m.rand(3, dtype=m.int64), "\"check_uniform_bounds\" not implemented for 'Long'"),
    "rand_like_int": (lambda m: m.rand_like(m.ones(2, dtype=m.int64)), "check_uniform_bounds"),
    "randn_int32": (lambda m: m.randn(3, dtype=m.int32), "\"normal_kernel_cpu\" not implemented for 'Int'"),
    "arange_bool": (lambda m: m.arange(3, dtype=m.bool), "\"arange_cpu\" not implemented for 'Bool'"),
    "linspace_bool": (lambda m: m.linspace(0, 1, 3, dtype=m.bool), "\"linspace_cpu\" not implemented"),
    "cdist_half": (lambda m: m.cdist(m.ones(2, 3, dtype=m.float16), m.ones(2, 3, dtype=m.float16)),
                   "\"cdist\" not implemented for 'Half'"),
    "cdist_bfloat16": (lambda m: m.cdist(m.ones(2, 3, dtype=m.bfloat16), m.ones(2, 3)), "not implemented for"),
    "clamp_number_and_tensor": (lambda m: m.clamp(m.ones(2), min=0.0, max=m.ones(2)),
                                "received an invalid combination of arguments"),
    "cosine_similarity_int": (lambda m: m.nn.functional.cosine_similarity(m.tensor([[1, 2]]), m.tensor([[1, 2]])),
                              "expected common dtype to be floating point"),
    "normalize_int": (lambda m: m.nn.functional.normalize(m.tensor([[1, 2]])),
                      "Expected a floating point or complex tensor as input"),
}


def _raised(call, module):
    with pytest.raises(Exception) as info:
        call(module)
    return info.value


@pytest.mark.parametrize("name", CASES)
def test_error_type_and_phrase_match_torch(name):
    call, phrase = CASES[name]
    want = _raised(call, torch)
    got = _raised(call, tp)
    assert isinstance(got, type(want)), f"tensorplug raised {type(got).__name__}, torch {type(want).__name__}"
    assert phrase in str(want)
    assert phrase in str(got)


@pytest.mark.parametrize("factory", ["randn", "rand", "empty", "zeros"])
def test_out_of_memory_names_the_bytes_of_the_dtype_asked_for(factory):
    # 2**60 bytes: beyond any machine's address space, so the allocation fails everywhere
    with pytest.raises(MemoryError) as info:
        getattr(tp, factory)(2 ** 29, 2 ** 29)
    assert isinstance(info.value, RuntimeError)
    assert "can't allocate memory" in str(info.value)
    assert f"{2 ** 60} bytes" in str(info.value)  # float32: 4 bytes each, not the 8 of randn's float64 draw


def test_max_and_min_over_a_dim_still_take_bool():
    for m in (tp, torch):
        values, indices = m.tensor([[False, True], [True, True]]).max(1)
        assert values.tolist() == [True, True] and indices.tolist() == [1, 0]
