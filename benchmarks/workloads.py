"""The workloads, written once against the torch API.

Each ``fw_*`` builder takes ``lib`` (``torch`` or ``tensorplug``) and returns
``step()``; the NumPy twins live in ``numpy_ref.py``. A builder that hits a
missing piece of tensorplug raises, and the suite reports the workload as
``n/a: <reason>`` for that implementation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import numpy_ref, transformer


@dataclass
class Workload:
    """One row of the table: a framework builder, a NumPy builder and the target it is held to."""

    name: str
    desc: str
    unit: str                      # "us" or "ms" per ``per_step`` units of work
    fw: Callable                   # fw(lib) -> step
    np: Callable                   # np() -> step
    per_step: int = 1              # units of work in one step() (100 ops for the per-op rows)
    targets: dict = field(default_factory=dict)  # {"torch": max ratio, "numpy": max ratio}
    kind: str = "time"             # "time" or "rss"


def fw_per_op(lib, grad):
    a = lib.ones(2, 2, requires_grad=grad)
    b = lib.ones(2, 2)
    if not grad:
        def step():
            for _ in range(100):
                a + b
        return step

    def step_grad():
        acc = a
        for _ in range(100):
            acc = acc + b
        acc.sum().backward()
    return step_grad


def fw_matmul(lib, n=1024):
    lib.manual_seed(0)
    a = lib.randn(n, n)
    b = lib.randn(n, n)

    def step():
        a @ b
    return step


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def train_step(lib, model, opt, x, y):
    """A training step of ``model`` on (x, y) with cross-entropy: zero_grad, forward, backward, step."""
    cross_entropy = lib.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def fw_mlp_train(lib, batch, optimizer):
    lib.manual_seed(0)
    model = _mlp(lib)
    if optimizer == "sgd":
        opt = lib.optim.SGD(model.parameters(), lr=0.01)
    else:
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.randn(batch, 784)
    y = lib.randint(0, 10, (batch,))
    return train_step(lib, model, opt, x, y)


def fw_mlp_infer(lib, batch=4096):
    lib.manual_seed(0)
    model = _mlp(lib)
    model.eval()
    x = lib.randn(batch, 784)

    def step():
        with lib.no_grad():
            model(x)
    return step


def fw_cnn_train(lib, batch=64):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    x = lib.randn(batch, 1, 28, 28)
    y = lib.randint(0, 10, (batch,))
    return train_step(lib, model, opt, x, y)


def fw_lstm_train(lib, seq=32, batch=32, hidden=128, inputs=128, optimizer="sgd"):
    lib.manual_seed(0)
    lstm = lib.nn.LSTM(inputs, hidden)
    if optimizer == "sgd":
        opt = lib.optim.SGD(lstm.parameters(), lr=0.01)
    else:
        opt = lib.optim.Adam(lstm.parameters(), lr=1e-3)
    x = lib.randn(seq, batch, inputs)

    def step():
        opt.zero_grad()
        out, _ = lstm(x)
        loss = (out * out).mean()
        loss.backward()
        opt.step()
    return step


def fw_rss_train(lib):
    return fw_mlp_train(lib, 64, "sgd")


WORKLOADS = [
    Workload("add_nograd", "2x2 add, no grad", "us", lambda lib: fw_per_op(lib, False),
             lambda: numpy_ref.per_op(False), per_step=100, targets={"torch": 0.8}),
    Workload("add_grad", "2x2 add, requires_grad, backward every 100 ops", "us",
             lambda lib: fw_per_op(lib, True), lambda: numpy_ref.per_op(True), per_step=100,
             targets={"torch": 1.0}),
    Workload("matmul_1024", "1024x1024 @ 1024x1024 float32", "ms", fw_matmul, numpy_ref.matmul),
    Workload("mlp_sgd_b64", "MLP 784-256-256-10 train step, SGD, batch 64", "ms",
             lambda lib: fw_mlp_train(lib, 64, "sgd"), lambda: numpy_ref.mlp_train(64, "sgd"),
             targets={"torch": 1.0}),
    Workload("mlp_adam_b64", "MLP train step, Adam, batch 64", "ms",
             lambda lib: fw_mlp_train(lib, 64, "adam"), lambda: numpy_ref.mlp_train(64, "adam"),
             targets={"torch": 1.0}),
    Workload("mlp_sgd_b512", "MLP train step, SGD, batch 512", "ms",
             lambda lib: fw_mlp_train(lib, 512, "sgd"), lambda: numpy_ref.mlp_train(512, "sgd"),
             targets={"torch": 1.1, "numpy": 1.10}),
    Workload("mlp_adam_b512", "MLP train step, Adam, batch 512", "ms",
             lambda lib: fw_mlp_train(lib, 512, "adam"), lambda: numpy_ref.mlp_train(512, "adam"),
             targets={"torch": 1.1, "numpy": 1.10}),
    Workload("cnn_b64", "CNN 1x28x28 conv16-pool-conv32-pool-linear10 train step, SGD, batch 64", "ms",
             fw_cnn_train, numpy_ref.cnn_train, targets={"torch": 1.0}),
    Workload("mlp_infer_b4096", "MLP inference, batch 4096, no_grad", "ms", fw_mlp_infer,
             numpy_ref.mlp_infer, targets={"numpy": 1.05}),
    Workload("lstm_b32", "LSTM 128->128 train step, seq 32, batch 32, SGD", "ms", fw_lstm_train,
             numpy_ref.lstm_train, targets={"torch": 1.3}),
    Workload("lstm_adam_b32", "LSTM 32->128 train step, seq 32, batch 32, Adam", "ms",
             lambda lib: fw_lstm_train(lib, inputs=32, optimizer="adam"),
             lambda: numpy_ref.lstm_train(inputs=32, optimizer="adam"), targets={"torch": 1.3}),
    Workload("decoder_train", "nanoGPT-style decoder train step (4 layers, n_embd 128, 4 heads, block 64, "
             "batch 8), AdamW", "ms", transformer.fw_decoder_train,
             transformer.np_unavailable("no hand-written NumPy transformer"), targets={"torch": 1.5}),
    Workload("decoder_eval", "the same decoder's forward and loss under no_grad", "ms",
             transformer.fw_decoder_eval, transformer.np_unavailable("no hand-written NumPy transformer"),
             targets={"torch": 1.2}),
    Workload("gelu_16384x384", "GELU forward + backward, 16384x384 float32", "ms", transformer.fw_gelu,
             transformer.np_unavailable("numpy has no erf"), targets={"torch": 1.5}),
    Workload("layer_norm", "LayerNorm(512) forward + backward, 2048 rows", "ms", transformer.fw_layer_norm,
             transformer.np_layer_norm),
    Workload("attention", "causal scaled_dot_product_attention forward + backward, 8x4x256x32", "ms",
             transformer.fw_attention, transformer.np_attention),
    Workload("embedding_bwd", "Embedding(50304, 128) lookup of 8192 tokens, backward", "ms",
             transformer.fw_embedding_backward, transformer.np_embedding_backward),
    Workload("rss_200", "RSS growth over 200 MLP SGD steps (batch 64), after 20 warm-up steps", "MB",
             fw_rss_train, numpy_ref.rss_train, kind="rss"),
]

BY_NAME = {w.name: w for w in WORKLOADS}
