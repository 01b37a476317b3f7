"""Sparse COO tensors against torch: construction, conversion, products, reductions, gradients, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

INDICES = [[0, 1, 1, 0, 2], [2, 0, 2, 2, 1]]  # (0, 2) twice: uncoalesced
VALUES = [3.0, 4.0, 5.0, 1.0, -2.0]


def _both(fn):
    """``fn(lib)`` for tensorplug and torch, torch's sparse-invariant warning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(tensorplug), fn(torch)


def _close(ours, theirs, tol=1e-6):
    if getattr(theirs, "is_sparse", False):
        assert ours.is_sparse
        ours, theirs = ours.to_dense(), theirs.to_dense()
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def _sparse(lib, values=VALUES, size=(3, 3), **kwargs):
    return lib.sparse_coo_tensor(lib.tensor(INDICES), lib.tensor(values), size, **kwargs)


def test_construction_metadata_matches_torch():
    ours, theirs = _both(_sparse)
    assert ours.is_sparse and not tensorplug.ones(2).is_sparse
    assert ours.layout is tensorplug.sparse_coo and tensorplug.ones(2).layout is tensorplug.strided
    assert isinstance(ours, tensorplug.Tensor)
    for name in ("sparse_dim", "dense_dim", "_nnz", "is_coalesced", "dim", "numel"):
        assert getattr(ours, name)() == getattr(theirs, name)(), name
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.size(1) == theirs.size(1)
    assert ours._indices().tolist() == theirs._indices().tolist()
    assert ours.type() == theirs.type() == "torch.sparse.FloatTensor"


def test_inferred_size_hybrid_values_and_index_dtypes():
    def build(lib):
        idx = lib.tensor(INDICES, dtype=lib.int32)
        return lib.sparse_coo_tensor(idx, lib.ones(5, 2, dtype=lib.float64))
    ours, theirs = _both(build)
    assert tuple(ours.shape) == tuple(theirs.shape) == (3, 3, 2)
    assert ours._indices().dtype is tensorplug.int64
    assert (ours.sparse_dim(), ours.dense_dim()) == (theirs.sparse_dim(), theirs.dense_dim())
    _close(ours, theirs)
    _close(*_both(lambda lib: lib.sparse_coo_tensor([[0, 1], [1, 0]], [1, 2], (2, 2), dtype=lib.float64)))


def test_legacy_float_tensor_constructor_of_old_gcn_code():
    def build(lib):
        return lib.sparse.FloatTensor(lib.tensor(INDICES), lib.tensor(VALUES), lib.Size([3, 3]))
    with pytest.warns(UserWarning, match="deprecated"):
        tensorplug.sparse.FloatTensor(tensorplug.tensor(INDICES), tensorplug.tensor(VALUES), tensorplug.Size([3, 3]))
    _close(*_both(build))
    ours, theirs = _both(lambda lib: lib.sparse.FloatTensor(2, 3))
    assert ours._nnz() == theirs._nnz() == 0 and tuple(ours.shape) == (2, 3)


def test_to_dense_adds_repeated_entries_and_coalesce_sums_them():
    ours, theirs = _both(_sparse)
    _close(ours.to_dense(), theirs.to_dense())
    c_ours, c_theirs = ours.coalesce(), theirs.coalesce()
    assert c_ours.is_coalesced() and c_ours.indices().tolist() == c_theirs.indices().tolist()
    _close(c_ours.values(), c_theirs.values())


@pytest.mark.parametrize("sparse_dim", [None, 1, 2])
def test_to_sparse_keeps_non_zero_entries_in_torch_order(sparse_dim):
    data = np.array([[[0.0, 1.0], [0.0, 0.0]], [[2.0, 0.0], [3.0, 4.0]]])
    ours, theirs = _both(lambda lib: lib.tensor(data).to_sparse(*([] if sparse_dim is None else [sparse_dim])))
    assert ours._indices().tolist() == theirs._indices().tolist()
    _close(ours._values(), theirs._values())
    assert ours.is_coalesced() == theirs.is_coalesced()
    assert tensorplug.tensor(data).to_dense() is not None


def test_repr_matches_torch():
    ours, theirs = _both(lambda lib: _sparse(lib, dtype=lib.float64))
    assert repr(ours) == repr(theirs).replace("torch.", "tensorplug.")
    ours, theirs = _both(lambda lib: _sparse(lib, requires_grad=True))
    assert repr(ours) == repr(theirs).replace("torch.", "tensorplug.")


PRODUCTS = {
    "sparse.mm": lambda lib, s, d: lib.sparse.mm(s, d),
    "mm": lambda lib, s, d: lib.mm(s, d),
    "spmm": lambda lib, s, d: lib.spmm(s, d),
    "matmul": lambda lib, s, d: lib.matmul(s, d),
    "@": lambda lib, s, d: s @ d,
    "method": lambda lib, s, d: s.mm(d),
    "vector": lambda lib, s, d: s @ d[:, 0],
    "dense @ sparse": lambda lib, s, d: d.t() @ s,
    "addmm": lambda lib, s, d: lib.sparse.addmm(lib.ones(3, 2, dtype=d.dtype), s, d, beta=0.5, alpha=2.0),
}


@pytest.mark.parametrize("name", list(PRODUCTS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_and_gradients_of_dense_operand_and_values(name, dtype):
    dense = np.arange(6.0).reshape(3, 2) / 4 - 0.5
    weights = np.cos(np.arange(6.0))

    def run(lib):
        dt = getattr(lib, dtype)
        values = lib.tensor(VALUES, dtype=dt, requires_grad=True)
        d = lib.tensor(dense, dtype=dt, requires_grad=True)
        out = PRODUCTS[name](lib, lib.sparse_coo_tensor(lib.tensor(INDICES), values, (3, 3)), d)
        (out * lib.tensor(weights[:out.numel()], dtype=dt).reshape(out.shape)).sum().backward()
        return out, values.grad, d.grad
    for ours, theirs in zip(*_both(run)):
        _close(ours, theirs)


@pytest.mark.parametrize("coalesced", [True, False])
def test_leaf_sparse_gradient_is_sparse_with_its_pattern(coalesced):
    def run(lib):
        s = _sparse(lib, requires_grad=True)
        s = s.coalesce().detach().requires_grad_() if coalesced else s
        d = lib.tensor(np.arange(6.0).reshape(3, 2), dtype=lib.float32)
        lib.sparse.mm(s, d).pow(2).sum().backward()
        return s.grad, s.is_leaf
    (ours, leaf), (theirs, torch_leaf) = _both(run)
    assert ours.is_sparse and theirs.is_sparse and leaf == torch_leaf
    _close(ours, theirs)


def test_to_sparse_passes_gradients_back_to_the_dense_source():
    data = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]])

    def run(lib):
        x = lib.tensor(data, requires_grad=True)
        d = lib.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
        out = lib.sparse.mm(x.to_sparse(), d)
        (out * out).sum().backward()
        return out, x.grad, d.grad
    for ours, theirs in zip(*_both(run)):
        _close(ours, theirs)


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), 2, (0, 2), (1, 2)])
def test_sparse_sum_matches_torch_values_and_gradients(dim):
    def run(lib):
        values = lib.tensor(np.arange(10.0).reshape(5, 2) - 4, requires_grad=True)
        s = lib.sparse_coo_tensor(lib.tensor(INDICES), values, (3, 3, 2))
        out = lib.sparse.sum(s) if dim is None else lib.sparse.sum(s, dim)
        dense = out.to_dense() if out.is_sparse else out
        (dense * dense).sum().backward()
        return out, values.grad
    for ours, theirs in zip(*_both(run)):
        _close(ours, theirs)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sparse_softmax_over_specified_entries(fn, dim):
    # torch 2.13's backward of a negative dim differs from the same positive dim's (its forward agrees):
    # tensorplug gives the positive dim's gradient, so torch runs with the positive dim
    def run(lib):
        values = lib.tensor([3.0, 40.0, 5.0, 1.0, -2.0, 0.5], requires_grad=True)
        idx = lib.tensor([[0, 1, 1, 0, 2, 2], [2, 0, 2, 1, 1, 0]])
        axis = dim % 2 if lib is torch else dim
        out = getattr(lib.sparse, fn)(lib.sparse_coo_tensor(idx, values, (3, 3)), axis)
        (out.values() * lib.tensor([1.0, -2.0, 0.5, 3.0, 1.5, -1.0])).sum().backward()
        return out, values.grad
    (ours, g_ours), (theirs, g_theirs) = _both(run)
    assert ours._indices().tolist() == theirs._indices().tolist()
    _close(ours._values(), theirs._values())
    _close(g_ours, g_theirs)


def test_methods_shape_casts_and_arithmetic():
    cases = {
        "t": lambda lib, s: s.t(),
        "transpose": lambda lib, s: s.transpose(0, 1),
        "double": lambda lib, s: s.double(),
        "to": lambda lib, s: s.to(lib.float64),
        "detach": lambda lib, s: s.detach(),
        "clone": lambda lib, s: s.clone(),
        "scale": lambda lib, s: 2 * s / 4,
        "neg": lambda lib, s: -s,
        "sparse + sparse": lambda lib, s: s + s.t(),
        "sparse - sparse": lambda lib, s: s - s.t(),
        "dense + sparse": lambda lib, s: lib.ones(3, 3) + s,
        "dense - sparse": lambda lib, s: lib.ones(3, 3) - s,
        "sum": lambda lib, s: s.sum(),
    }
    for name, case in cases.items():
        ours, theirs = _both(lambda lib: case(lib, _sparse(lib)))
        assert getattr(ours, "is_sparse", False) == theirs.is_sparse, name
        _close(ours, theirs)


def test_graph_attention_style_custom_function():
    """pyGAT's SpGAT: a custom Function builds a sparse tensor from edge scores, multiplies it with
    node features, and writes the values' gradient itself from the saved sparse tensor's indices."""
    def run(lib):
        class SpecialSpmm(lib.autograd.Function):
            @staticmethod
            def forward(ctx, indices, values, shape, b):
                a = lib.sparse_coo_tensor(indices, values, shape)
                ctx.save_for_backward(a, b)
                ctx.N = shape[0]
                return lib.matmul(a, b)

            @staticmethod
            def backward(ctx, grad_output):
                a, b = ctx.saved_tensors
                grad_a_dense = grad_output.matmul(b.t())
                edge_idx = a._indices()[0, :] * ctx.N + a._indices()[1, :]
                return None, grad_a_dense.view(-1)[edge_idx], None, a.t().matmul(grad_output)

        edge = lib.tensor([[0, 0, 1, 2, 2], [0, 1, 2, 0, 2]])
        h = lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
        a = lib.tensor(np.linspace(0.5, -0.5, 8, dtype=np.float32).reshape(1, 8), requires_grad=True)
        edge_h = lib.cat((h[edge[0, :], :], h[edge[1, :], :]), dim=1).t()
        edge_e = lib.exp(-lib.nn.functional.leaky_relu(a.mm(edge_h).squeeze(), 0.2))
        rowsum = SpecialSpmm.apply(edge, edge_e, lib.Size([3, 3]), lib.ones(3, 1))
        h_prime = SpecialSpmm.apply(edge, edge_e, lib.Size([3, 3]), h) / rowsum
        (h_prime * h_prime).sum().backward()
        return h_prime, h.grad, a.grad
    for ours, theirs in zip(*_both(run)):
        _close(ours, theirs, tol=1e-5)


def test_gcn_layer_training_step_matches_torch():
    """pygcn's GraphConvolution: support = input @ W, output = spmm(adj, support); one Adam step."""
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 6, 14), rng.integers(0, 6, 14)
    features, weight = rng.standard_normal((6, 5)), rng.standard_normal((5, 3))

    def run(lib):
        adj = lib.sparse.FloatTensor(lib.tensor(np.stack([rows, cols])), lib.ones(14) / 3, lib.Size([6, 6]))
        w = lib.nn.Parameter(lib.tensor(weight, dtype=lib.float32))
        opt = lib.optim.Adam([w], lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            out = lib.spmm(adj, lib.mm(lib.tensor(features, dtype=lib.float32), w))
            loss = lib.nn.functional.nll_loss(lib.log_softmax(out, 1), lib.tensor([0, 1, 2, 0, 1, 2]))
            loss.backward()
            opt.step()
        return loss, w
    for ours, theirs in zip(*_both(run)):
        _close(ours, theirs, tol=1e-5)


def test_every_backend_builds_multiplies_and_differentiates(backend):
    s = tensorplug.sparse_coo_tensor(tensorplug.tensor(INDICES), tensorplug.tensor(VALUES), (3, 3))
    d = tensorplug.ones(3, 2, requires_grad=True)
    out = tensorplug.sparse.mm(s.coalesce(), d)
    out.sum().backward()
    expected = np.zeros((3, 3))
    np.add.at(expected, tuple(np.array(INDICES)), VALUES)
    np.testing.assert_allclose(out.detach().numpy(), expected @ np.ones((3, 2)))
    np.testing.assert_allclose(d.grad.numpy(), expected.T @ np.ones((3, 2)))
    np.testing.assert_allclose(s.to_dense().numpy(), expected)


MISUSE = {
    "indices not 2-D": (lambda lib: lib.sparse_coo_tensor(lib.tensor([0, 1]), lib.ones(2), (3,)), RuntimeError,
                        "sparse_dim"),
    "nnz mismatch": (lambda lib: lib.sparse_coo_tensor(lib.tensor(INDICES), lib.ones(3), (3, 3)), RuntimeError,
                     "must have same nnz"),
    "size too small": (lambda lib: lib.sparse_coo_tensor(lib.tensor(INDICES), lib.ones(5), (3, 2),
                                                         check_invariants=True), RuntimeError,
                       "size is inconsistent with indices"),
    "negative index": (lambda lib: lib.sparse_coo_tensor(lib.tensor([[0, -1]]), lib.ones(2), (3,),
                                                         check_invariants=True), RuntimeError, "negative index"),
    "size rank": (lambda lib: lib.sparse_coo_tensor(lib.tensor(INDICES), lib.ones(5), (3,)), RuntimeError,
                  "len(size) == sparse_dim + dense_dim"),
    "hybrid size": (lambda lib: lib.sparse_coo_tensor(lib.tensor(INDICES), lib.ones(5, 4), (3, 3, 5)),
                    RuntimeError, "values has incorrect size"),
    "sparse + dense": (lambda lib: _sparse(lib) + 1, RuntimeError, "add(sparse, dense) is not supported"),
    "mm shapes": (lambda lib: lib.sparse.mm(_sparse(lib), lib.ones(4, 2)), RuntimeError, "Expected dim 0 size 3"),
    "mm dtypes": (lambda lib: lib.sparse.mm(_sparse(lib), lib.ones(3, 2, dtype=lib.float64)), RuntimeError,
                  "expected scalar type Float but found Double"),
    "mm vector": (lambda lib: lib.spmm(_sparse(lib), lib.ones(3)), IndexError, "Dimension out of range"),
    "uncoalesced indices()": (lambda lib: _sparse(lib).indices(), RuntimeError, "call .coalesce() first"),
    "dense indices()": (lambda lib: lib.ones(2, 2).indices(), RuntimeError, "sparse coordinate tensor layout"),
    "dense coalesce()": (lambda lib: lib.ones(2, 2).coalesce(), RuntimeError, "sparse coordinate tensor layout"),
    "numpy": (lambda lib: _sparse(lib).numpy(), TypeError, "Use Tensor.to_dense() first"),
    "to_sparse dim": (lambda lib: lib.ones(2, 2).to_sparse(3), RuntimeError, "sparse_dim argument must be in"),
    "t of 3-D": (lambda lib: lib.ones(2, 2, 2).to_sparse().t(), RuntimeError, "t() expects a tensor with <= 2"),
    "to_dense dtype": (lambda lib: _sparse(lib).to_dense(dtype=lib.float64), RuntimeError,
                       "dtype argument is not supported"),
}


@pytest.mark.parametrize("case", list(MISUSE))
def test_misuse_raises_torch_type_and_phrase(case):
    fn, kind, phrase = MISUSE[case]
    for lib in (tensorplug, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(kind, match=phrase.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
                               .replace("+", r"\+")):
                fn(lib)


@pytest.mark.parametrize("use", [lambda s: s.exp(), lambda s: tensorplug.exp(s), lambda s: s.view(9),
                                 lambda s: s[0], lambda s: tensorplug.cat([s, s])])
def test_unsupported_operations_say_what_is_provided(use):
    # torch raises NotImplementedError for an op its sparse backend lacks; tensorplug lacks more of them
    with pytest.raises(NotImplementedError, match=r"tensorplug does not provide .* for sparse COO tensors \(used "
                                                  r"by test_sparse\.py, line \d+\).*to_dense\(\) first"):
        use(_sparse(tensorplug))


def test_a_method_no_tensor_has_names_the_user_line():
    with pytest.raises(AttributeError, match=r"tensorplug does not provide Tensor\.to_sparse_csr \(used by "
                                             r"test_sparse\.py, line \d+\)"):
        _sparse(tensorplug).to_sparse_csr()
    assert not hasattr(_sparse(tensorplug), "no_such_method")


def test_runner_gives_torch_sparse_names(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "gcn.py"
    script.write_text("import torch\n"
                      "adj = torch.sparse.FloatTensor(torch.LongTensor([[0, 1], [1, 0]]), torch.ones(2),"
                      " torch.Size([2, 2]))\n"
                      "print(torch.spmm(adj, torch.eye(2)).tolist(), adj.layout == torch.sparse_coo)\n")
    out = subprocess.run([sys.executable, "-W", "ignore", "-m", "tensorplug", "run", str(script)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[[0.0, 1.0], [1.0, 0.0]] True"
