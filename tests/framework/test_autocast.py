"""``tensorplug.autocast`` against torch's: every listed op's result dtype, values and leaf-gradient dtypes.

The casts apply to the tensors of a backend that declares ``autocast_dtypes``; NumPy declares none
(docs/differences.md says why), so these tests register ``amp_numpy``, the NumPy backend declaring
float16 and bfloat16, and compare with torch. tensorplug follows torch's CUDA op lists (the device
autocast is for), and torch runs here on the CPU, whose lists differ: the reference is therefore torch
with the CUDA rule's casts written out (``torch_reference``), and each case also records whether
torch's own CPU autocast agrees (``CPU_DIFFERS`` lists the ops where it does not, checked both ways).
"""
from __future__ import annotations

import re
import threading
import types
from pathlib import Path

import numpy as np
import pytest

import tensorplug
from tensorplug_numpy.backend import NumpyBackend

torch = pytest.importorskip("torch")

AMP_BACKEND = "amp_numpy"
TOL = {"float16": 1e-2, "bfloat16": 4e-2}


class AmpNumpyBackend(NumpyBackend):
    """The NumPy backend opting in to autocast: float16 and bfloat16 compute (slowly) in NumPy."""
    name = AMP_BACKEND
    autocast_dtypes = ("float16", "bfloat16")


@pytest.fixture(scope="module")
def amp_backend():
    module = types.ModuleType("tp_test_amp_backend")

    @tensorplug.hookimpl
    def tensorplug_add_backends():
        return [tensorplug.BackendSpec(AMP_BACKEND, "cpu", AmpNumpyBackend)]

    module.tensorplug_add_backends = tensorplug_add_backends
    reg = tensorplug.registry.REGISTRY
    pm = reg._load()
    pm.register(module, name=module.__name__)
    reg._backends = None
    with tensorplug.use_backend(AMP_BACKEND):
        yield AMP_BACKEND
    pm.unregister(module)
    reg._backends = None


# inputs: (kind, shape[, values]); F a float32 leaf, A a leaf in the autocast dtype (both require grad),
# I int64 class indices below ``values``, S +-1 targets and P positive targets in the autocast dtype
def F(*shape, values="normal"):
    return ("F", shape, values)


def A(*shape, values="normal"):
    return ("A", shape, values)


def I(*shape, high=3):  # noqa: E743 - the kind's letter
    return ("I", shape, high)


def S(*shape):
    return ("S", shape, None)


def P(*shape):
    return ("P", shape, None)


LOWER = {
    "matmul": (lambda L, a, b: L.matmul(a, b), [F(3, 4), F(4, 5)]),
    "__matmul__": (lambda L, a, b: a @ b, [F(2, 3, 4), F(4, 5)]),
    "mm": (lambda L, a, b: L.mm(a, b), [F(3, 4), F(4, 5)]),
    "bmm": (lambda L, a, b: L.bmm(a, b), [F(2, 3, 4), F(2, 4, 5)]),
    "mv": (lambda L, a, b: L.mv(a, b), [F(3, 4), F(4)]),
    "addmm": (lambda L, c, a, b: L.addmm(c, a, b), [F(5), F(3, 4), F(4, 5)]),
    "einsum": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [F(3, 4), F(4, 5)]),
    "linear": (lambda L, x, w, b: L.nn.functional.linear(x, w, b), [F(2, 3, 4), F(5, 4), F(5)]),
    "conv1d": (lambda L, x, w, b: L.nn.functional.conv1d(x, w, b, padding=1), [F(2, 3, 8), F(4, 3, 3), F(4)]),
    "conv2d": (lambda L, x, w, b: L.nn.functional.conv2d(x, w, b), [F(1, 2, 6, 6), F(3, 2, 3, 3), F(3)]),
    "conv3d": (lambda L, x, w: L.nn.functional.conv3d(x, w), [F(1, 2, 4, 4, 4), F(3, 2, 2, 2, 2)]),
    "conv_transpose1d": (lambda L, x, w: L.nn.functional.conv_transpose1d(x, w, stride=2),
                         [F(1, 2, 5), F(2, 3, 3)]),
    "conv_transpose2d": (lambda L, x, w, b: L.nn.functional.conv_transpose2d(x, w, b),
                         [F(1, 2, 4, 4), F(2, 3, 3, 3), F(3)]),
    "conv_transpose3d": (lambda L, x, w: L.nn.functional.conv_transpose3d(x, w), [F(1, 2, 3, 3, 3), F(2, 3, 2, 2, 2)]),
    "prelu": (lambda L, x, w: L.nn.functional.prelu(x, w), [F(2, 3, 4), F(3)]),
    "scaled_dot_product_attention": (lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(
        q, k, v, is_causal=True), [F(1, 2, 4, 8), F(1, 2, 4, 8), F(1, 2, 4, 8)]),
}

FLOAT32 = {
    "exp": (lambda L, a: L.exp(a), [A(6)]),
    "expm1": (lambda L, a: a.expm1(), [A(6)]),
    "log": (lambda L, a: L.log(a), [A(6, values="positive")]),
    "log1p": (lambda L, a: a.log1p(), [A(6, values="positive")]),
    "log2": (lambda L, a: L.log2(a), [A(6, values="positive")]),
    "log10": (lambda L, a: L.log10(a), [A(6, values="positive")]),
    "reciprocal": (lambda L, a: a.reciprocal(), [A(6, values="positive")]),
    "rsqrt": (lambda L, a: L.rsqrt(a), [A(6, values="positive")]),
    "tan": (lambda L, a: L.tan(a), [A(6, values="unit")]),
    "acos": (lambda L, a: L.acos(a), [A(6, values="unit")]),
    "asin": (lambda L, a: a.asin(), [A(6, values="unit")]),
    "cosh": (lambda L, a: L.cosh(a), [A(6)]),
    "sinh": (lambda L, a: a.sinh(), [A(6)]),
    "pow": (lambda L, a: L.pow(a, 2), [A(6)]),
    "__pow__": (lambda L, a, b: a ** b, [A(6, values="positive"), A(6)]),
    "__rpow__": (lambda L, a: 2 ** a, [A(6)]),
    "softplus": (lambda L, a: L.nn.functional.softplus(a), [A(6)]),
    "softmax": (lambda L, a: L.softmax(a, -1), [A(3, 5)]),
    "log_softmax": (lambda L, a: L.nn.functional.log_softmax(a, -1), [A(3, 5)]),
    "softmin": (lambda L, a: L.nn.functional.softmin(a, -1), [A(3, 5)]),
    "layer_norm": (lambda L, a, w, b: L.nn.functional.layer_norm(a, (5,), w, b), [A(3, 5), F(5), F(5)]),
    "rms_norm": (lambda L, a, w: L.nn.functional.rms_norm(a, (5,), w), [A(3, 5), F(5)]),
    "group_norm": (lambda L, a, w, b: L.nn.functional.group_norm(a, 2, w, b), [A(2, 4, 3), F(4), F(4)]),
    "cosine_similarity": (lambda L, a, b: L.nn.functional.cosine_similarity(a, b), [A(3, 5), A(3, 5)]),
    "normalize": (lambda L, a: L.nn.functional.normalize(a), [A(3, 5)]),
    "sum": (lambda L, a: a.sum(), [A(3, 5)]),
    "prod": (lambda L, a: L.prod(a, 1), [A(3, 5, values="unit")]),
    "cumsum": (lambda L, a: L.cumsum(a, 0), [A(3, 5)]),
    "cumprod": (lambda L, a: a.cumprod(1), [A(3, 5, values="unit")]),
    "logsumexp": (lambda L, a: L.logsumexp(a, 1), [A(3, 5)]),
    "norm": (lambda L, a: a.norm(), [A(3, 5)]),
    "cdist": (lambda L, a, b: L.cdist(a, b), [A(3, 5), A(4, 5)]),
    "cross_entropy": (lambda L, a, t: L.nn.functional.cross_entropy(a, t), [A(4, 3), I(4)]),
    "nll_loss": (lambda L, a, t: L.nn.functional.nll_loss(a, t), [A(4, 3), I(4)]),
    "mse_loss": (lambda L, a, b: L.nn.functional.mse_loss(a, b), [A(3, 4), F(3, 4)]),
    "l1_loss": (lambda L, a, b: L.nn.functional.l1_loss(a, b), [A(3, 4), A(3, 4)]),
    "smooth_l1_loss": (lambda L, a, b: L.nn.functional.smooth_l1_loss(a, b), [A(3, 4), A(3, 4)]),
    "huber_loss": (lambda L, a, b: L.nn.functional.huber_loss(a, b), [A(3, 4), A(3, 4)]),
    "kl_div": (lambda L, a, t: L.nn.functional.kl_div(a, t, reduction="batchmean"), [A(3, 4), P(3, 4)]),
    "binary_cross_entropy_with_logits": (lambda L, a, t: L.nn.functional.binary_cross_entropy_with_logits(a, t),
                                         [A(3, 4), P(3, 4)]),
    "poisson_nll_loss": (lambda L, a, t: L.nn.functional.poisson_nll_loss(a, t), [A(3, 4), P(3, 4)]),
    "margin_ranking_loss": (lambda L, a, b, t: L.nn.functional.margin_ranking_loss(a, b, t), [A(5), A(5), S(5)]),
    "hinge_embedding_loss": (lambda L, a, t: L.nn.functional.hinge_embedding_loss(a, t), [A(5), S(5)]),
    "soft_margin_loss": (lambda L, a, t: L.nn.functional.soft_margin_loss(a, t), [A(5), S(5)]),
    "multi_margin_loss": (lambda L, a, t: L.nn.functional.multi_margin_loss(a, t), [A(4, 3), I(4)]),
    "multilabel_margin_loss": (lambda L, a, t: L.nn.functional.multilabel_margin_loss(a, t), [A(2, 3), I(2, 3)]),
    "cosine_embedding_loss": (lambda L, a, b, t: L.nn.functional.cosine_embedding_loss(a, b, t),
                              [A(3, 5), A(3, 5), S(3)]),
    "triplet_margin_loss": (lambda L, a, b, c: L.nn.functional.triplet_margin_loss(a, b, c),
                            [A(3, 5), A(3, 5), A(3, 5)]),
}

PROMOTE = {
    "atan2": (lambda L, a, b: L.atan2(a, b), [F(5), A(5)]),
    "addcmul": (lambda L, a, b, c: L.addcmul(a, b, c), [F(5), A(5), A(5)]),
    "addcdiv": (lambda L, a, b, c: L.addcdiv(a, b, c), [F(5), A(5), A(5, values="positive")]),
    "dot": (lambda L, a, b: L.dot(a, b), [F(5), F(5)]),  # float32 stays: the matmul inside does not cast
    "bilinear": (lambda L, a, b, w: L.nn.functional.bilinear(a, b, w), [A(3, 4), A(3, 2), F(5, 4, 2)]),
    "grid_sample": (lambda L, x, g: L.nn.functional.grid_sample(x, g, align_corners=False),
                    [F(1, 2, 4, 4), A(1, 3, 3, 2, values="unit")]),
    "index_put": (lambda L, a, v: a.index_put((L.tensor([0, 2]),), v), [F(5), A(2)]),
    "scatter_add": (lambda L, a, v: a.scatter_add(0, L.tensor([0, 2]), v), [F(5), A(2)]),
}

RULES = {"lower": LOWER, "float32": FLOAT32, "promote": PROMOTE}
CASES = [(rule, name) for rule, table in RULES.items() for name in table]

# torch's CPU autocast lists differ from its CUDA lists; tensorplug follows CUDA's. On the CPU, torch
# keeps these float32-list ops in the input dtype, does not lower mv, and does not promote for the
# promote-list ops that need it (index_put / scatter_add then fail on mixed dtypes)
CPU_DIFFERS = {"mv", "exp", "expm1", "log", "log1p", "log2", "log10", "reciprocal", "rsqrt", "tan", "acos",
               "asin", "cosh", "sinh", "pow", "__pow__", "__rpow__", "softplus", "softmax", "log_softmax",
               "softmin", "layer_norm", "rms_norm", "group_norm", "cosine_similarity", "normalize", "sum",
               "cumsum", "cumprod", "logsumexp", "norm", "bilinear", "index_put", "scatter_add"}


def _arrays(specs, seed):
    rng = np.random.default_rng(seed)
    out = []
    for kind, shape, values in specs:
        if kind == "I":
            out.append(rng.integers(0, values, shape).astype("int64"))
            continue
        a = rng.standard_normal(shape).astype("float32")
        if kind == "S":
            a = np.where(a > 0, 1.0, -1.0).astype("float32")
        elif kind == "P" or values == "positive":
            a = np.abs(a) + 0.5
        elif values == "unit":
            a = np.tanh(a) * 0.9
        out.append(a)
    return out


def _inputs(lib, specs, arrays, low):
    """Tensors of ``lib``: leaves that require grad for F (float32) and A (``low``), the rest constants."""
    out = []
    for (kind, _, _), a in zip(specs, arrays):
        t = lib.tensor(a)
        if kind != "I":
            t = t.to(getattr(lib, "float32" if kind == "F" else low))
        if kind in "FA":
            t.requires_grad_()
        out.append(t)
    return out


def _cast(rule, tensors, low):
    """Each floating tensor cast by the CUDA rule, as torch's autocast does (float64 and ints untouched)."""
    floats = [t for t in tensors if t.dtype in (torch.float16, torch.bfloat16, torch.float32)]
    to = {"lower": low, "float32": torch.float32}.get(rule)
    if rule == "promote":
        to = low
        for t in floats:
            to = torch.promote_types(to, t.dtype)
    return [t.to(to) if any(t is f for f in floats) else t for t in tensors]


def _backward(lib, out):
    weights = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype("float32"))
    (out.float() * weights).sum().backward()


def _host(t):
    return t.detach().float().numpy().astype("float64")


def torch_reference(rule, name, low_name):
    """Torch's result and leaf gradients with the CUDA rule's casts written out, and the result dtype of
    torch's own CPU autocast (None where it fails)."""
    fn, specs = RULES[rule][name]
    arrays = _arrays(specs, seed=len(name))
    low = getattr(torch, low_name)
    leaves = _inputs(torch, specs, arrays, low_name)
    out = fn(torch, *_cast(rule, leaves, low))
    _backward(torch, out)
    try:
        with torch.autocast("cpu", dtype=low):
            cpu_dtype = fn(torch, *_inputs(torch, specs, arrays, low_name)).dtype
    except RuntimeError:
        cpu_dtype = None
    return out, [t.grad for t in leaves if t.requires_grad], cpu_dtype


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
@pytest.mark.parametrize("rule, name", CASES, ids=[name for _, name in CASES])
def test_listed_op_dtypes_values_and_gradients_match_torch(amp_backend, rule, name, low):
    want, want_grads, cpu_dtype = torch_reference(rule, name, low)
    fn, specs = RULES[rule][name]
    leaves = _inputs(tensorplug, specs, _arrays(specs, seed=len(name)), low)
    with tensorplug.autocast("cpu", dtype=getattr(tensorplug, low)):
        got = fn(tensorplug, *leaves)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], name
    tol = TOL[low]
    np.testing.assert_allclose(_host(got), _host(want), rtol=tol, atol=tol, err_msg=name)
    _backward(tensorplug, got)
    grads = [t.grad for t in leaves if t.requires_grad]
    for g, w in zip(grads, want_grads, strict=True):
        assert str(g.dtype).split(".")[-1] == str(w.dtype).split(".")[-1], name
        np.testing.assert_allclose(_host(g), _host(w), rtol=tol, atol=tol, err_msg=f"{name} gradient")
    # the CUDA rule, as the reference applies it, is torch's CPU rule too except where listed
    assert (cpu_dtype == want.dtype) == (name not in CPU_DIFFERS), (name, cpu_dtype, want.dtype)


def test_every_op_that_autocasts_has_a_case():
    framework = Path(tensorplug.__file__).parent
    hooked = {}
    for path in framework.rglob("*.py"):
        text = path.read_text()
        for rule, fn in re.findall(r"_amp\.run\(_amp\.(\w+), (\w+)", text):
            hooked[fn] = rule.lower()
        # the functions declared by elementwise._float_function(name, op, doc, autocast=True)
        for fn, args in re.findall(r"^(\w+) = _float_function\(((?:.|\n\s)*?)\)$", text, re.M):
            if "autocast=True" in args:
                hooked[fn] = "float32"
    hooked.pop("function")  # _float_function's own call, for the functions above
    del hooked["loss_fn"]  # functional_loss._elementwise_loss's call, for the two losses it serves:
    hooked.update(mse_loss="float32", l1_loss="float32")
    covered = {name: rule for rule, table in RULES.items() for name in table}
    covered["binary_cross_entropy"] = "banned"
    missing = {fn: rule for fn, rule in hooked.items() if covered.get(fn) != rule}
    assert not missing, f"ops that autocast without a case here (or under another rule): {missing}"


def test_binary_cross_entropy_refuses_to_autocast_as_torch_on_cuda(amp_backend):
    x = tensorplug.rand(3).requires_grad_()
    with tensorplug.autocast("cpu"):
        with pytest.raises(RuntimeError, match="binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast"):
            tensorplug.nn.functional.binary_cross_entropy(x, tensorplug.rand(3))


def test_numpy_backend_keeps_every_dtype():
    # NumPy has no fast float16/bfloat16 GEMM: the numpy backend declares no autocast dtype (documented)
    with tensorplug.use_backend("numpy"):
        assert tensorplug.get_backend().autocast_dtypes == ()
        for low in ("float16", "bfloat16"):
            for rule, name in CASES:
                fn, specs = RULES[rule][name]
                arrays = _arrays(specs, seed=1)
                try:
                    plain = fn(tensorplug, *_inputs(tensorplug, specs, arrays, low)).dtype
                except (RuntimeError, NotImplementedError) as exc:  # e.g. torch has no float16 cdist
                    plain = type(exc)
                with tensorplug.autocast("cpu", dtype=getattr(tensorplug, low)):
                    try:
                        got = fn(tensorplug, *_inputs(tensorplug, specs, arrays, low)).dtype
                    except (RuntimeError, NotImplementedError) as exc:
                        got = type(exc)
                assert got is plain, name


def _mlp(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(6, 8), lib.nn.ReLU(), lib.nn.Linear(8, 3))


def test_a_training_step_gives_torchs_dtypes_and_float32_gradients(amp_backend):
    x = np.random.default_rng(0).standard_normal((5, 6)).astype("float32")
    y = np.array([0, 2, 1, 1, 0])
    results = {}
    for lib in (torch, tensorplug):
        model = _mlp(lib)
        if lib is tensorplug:  # the same weights on both sides
            with tensorplug.no_grad():
                for p, q in zip(model.parameters(), results[torch][2]):
                    p.copy_(tensorplug.tensor(q.detach().numpy()))
        with lib.autocast("cpu", dtype=lib.float16):
            out = model(lib.tensor(x))
            loss = lib.nn.functional.cross_entropy(out, lib.tensor(y))
        loss.backward()
        results[lib] = (out, loss, list(model.parameters()))
    out, loss, params = results[tensorplug]
    t_out, t_loss, t_params = results[torch]
    assert (out.dtype, loss.dtype) == (tensorplug.float16, tensorplug.float32)
    assert (t_out.dtype, t_loss.dtype) == (torch.float16, torch.float32)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-2)
    for p, q in zip(params, t_params):
        assert p.grad.dtype == tensorplug.float32
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=2e-2, atol=2e-3)


def _state(lib):
    return (lib.is_autocast_enabled("cpu"), str(lib.get_autocast_dtype("cpu")).split(".")[-1],
            lib.is_autocast_enabled(), lib.is_autocast_cache_enabled())


def test_state_api_nesting_and_disabled_regions_as_torch(amp_backend):
    seen = {}
    for lib in (torch, tensorplug):
        a, b = lib.ones(2, 2), lib.ones(2, 2)
        trace = [_state(lib), str(lib.get_autocast_dtype("cuda")).split(".")[-1]]
        with lib.autocast("cpu", dtype=lib.float16):
            trace += [_state(lib), (a @ b).dtype]
            with lib.autocast("cpu", dtype=lib.bfloat16, cache_enabled=False):
                trace += [_state(lib), (a @ b).dtype]
                with lib.autocast("cpu", enabled=False):
                    trace += [_state(lib), (a @ b).dtype]
            trace += [_state(lib), (a @ b).dtype]
        trace += [_state(lib), (a @ b).dtype]
        seen[lib] = [str(x).split(".")[-1] for x in trace]
    assert seen[tensorplug] == seen[torch]


def test_decorator_and_argument_errors_as_torch():
    @tensorplug.autocast("cpu")
    def enabled():
        return tensorplug.is_autocast_enabled("cpu")

    assert enabled() and not tensorplug.is_autocast_enabled("cpu")
    for lib in (torch, tensorplug):
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
            lib.autocast(0)
        with pytest.raises(RuntimeError, match="device type at start of device string: nodevice"):
            lib.autocast("nodevice")
        with pytest.raises(TypeError, match="requires a callable"):
            lib.autocast("cpu")(3)
        with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported"):
            region = lib.autocast("cpu", dtype=lib.float64)
        with region:
            assert not lib.is_autocast_enabled("cpu")
        if not lib.cuda.is_available():
            with pytest.warns(UserWarning, match="CUDA is not available or torch_xla is imported"):
                with lib.autocast("cuda"):
                    assert not lib.is_autocast_enabled("cuda")


def _cast_nodes(lib, cache_enabled=True, no_grad_first=False):
    """Whether two uses of one weight in a region share one cast node, and whether a new region casts anew."""
    w = lib.ones(3, 3, requires_grad=True)
    x = lib.ones(2, 3)
    with lib.autocast("cpu", dtype=lib.float16, cache_enabled=cache_enabled):
        if no_grad_first:
            with lib.no_grad():
                x @ w
        a, b = x @ w, x @ w
    with lib.autocast("cpu", dtype=lib.float16):
        c = x @ w
    node = lambda t: t.grad_fn.next_functions[1][0]  # noqa: E731
    shared = node(a) is node(b)
    (a.float().sum() + b.float().sum()).backward()
    return shared, node(c) is node(a), a.requires_grad, str(w.grad.dtype).split(".")[-1]


@pytest.mark.parametrize("cache_enabled, no_grad_first", [(True, False), (False, False), (True, True)])
def test_the_cast_of_a_weight_is_cached_per_region_as_torch(amp_backend, cache_enabled, no_grad_first):
    assert _cast_nodes(tensorplug, cache_enabled, no_grad_first) == _cast_nodes(torch, cache_enabled, no_grad_first)


def test_autocast_is_per_thread(amp_backend):
    seen = []

    def other():
        with tensorplug.use_backend(AMP_BACKEND):
            a = tensorplug.ones(2, 2)
            seen.append(((a @ a).dtype, tensorplug.is_autocast_enabled("cpu")))

    with tensorplug.autocast("cpu", dtype=tensorplug.float16):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert tensorplug.amp.active
    assert seen == [(tensorplug.float32, False)]
    assert not tensorplug.amp.active  # the ops' one check is off again


def _custom_function_dtypes(lib):
    """A custom Function whose forward asks for float32 inputs (custom_fwd) and one that keeps the
    region's state, with the dtypes seen inside forward and backward."""
    seen = []

    class Float32Matmul(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=lib.float32)
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            out = a @ b
            seen.append(("fwd", a.dtype, out.dtype, lib.is_autocast_enabled("cpu")))
            return out

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            seen.append(("bwd", g.dtype, lib.is_autocast_enabled("cpu")))
            return g @ b.t(), a.t() @ g

    class RegionMatmul(Float32Matmul):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu")
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            out = a @ b
            seen.append(("fwd", a.dtype, out.dtype, lib.is_autocast_enabled("cpu")))
            return out

    a = lib.ones(2, 2, requires_grad=True)
    with lib.autocast("cpu", dtype=lib.float16):
        x = a.half()
        outs = [Float32Matmul.apply(x, x), RegionMatmul.apply(x, x)]
    for out in outs:
        out.float().sum().backward()
    return [tuple(str(v).split(".")[-1] for v in row) for row in seen] + [str(a.grad.dtype)]


def test_custom_fwd_and_custom_bwd_as_torch(amp_backend):
    got, want = _custom_function_dtypes(tensorplug), _custom_function_dtypes(torch)
    assert got[:-1] == want[:-1] and got[-1].split(".")[-1] == want[-1].split(".")[-1]
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        tensorplug.amp.custom_fwd(device_type=None)
