"""tensorplug.nn as a namespace: torch's names, functional re-exports, plugin losses."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tensorplug
from tensorplug import nn
import tensorplug.nn.functional as F


def test_torch_names_exist():
    for name in ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
                 "Linear", "Bilinear", "Identity", "Flatten", "Unflatten", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
                 "GroupNorm", "Dropout", "Embedding", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh",
                 "Softmax", "LogSoftmax", "Softplus", "Hardtanh", "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss",
                 "BCELoss", "BCEWithLogitsLoss"]:
        assert isinstance(getattr(nn, name), type), name
    for name in ["linear", "relu", "gelu", "softmax", "log_softmax", "dropout", "embedding", "batch_norm",
                 "layer_norm", "group_norm", "one_hot", "pad", "mse_loss", "l1_loss", "cross_entropy", "nll_loss",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits"]:
        assert callable(getattr(F, name)), name
    assert nn.init.kaiming_uniform_ and nn.utils.clip_grad_norm_


def test_unknown_name():
    with pytest.raises(AttributeError, match="module 'tensorplug.nn' has no attribute 'NoSuchLayer'"):
        nn.NoSuchLayer


def test_plugin_losses_appear_on_nn():
    losses = tensorplug.registry.losses()
    if not losses:
        pytest.skip("no plugin provides losses here")
    name, cls = next(iter(losses.items()))
    assert getattr(nn, name) is cls
    assert issubclass(cls, nn.Module)


def test_disabled_autoload_names_the_plugin():
    if not tensorplug.registry.losses():
        pytest.skip("no plugin provides losses here")
    name = next(iter(tensorplug.registry.losses()))
    code = (f"import tensorplug.nn as nn\n"
            f"try:\n    nn.{name}\nexcept AttributeError as e:\n    print(e)\n")
    env = dict(os.environ, TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("TENSORPLUG_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert f"module 'tensorplug.nn' has no attribute '{name}'" in out.stdout
    assert "TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD" in out.stdout and "plugin" in out.stdout


def test_frontend_does_not_import_numpy():
    import pathlib
    root = pathlib.Path(nn.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import numpy" not in text and "import cupy" not in text, path
