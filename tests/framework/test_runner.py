"""``python -m tensorplug run``: PyTorch scripts run unmodified with ``torch`` aliased to tensorplug."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tensorplug
from tensorplug.runner import run_path, torch_alias

ROOT = Path(__file__).resolve().parents[2]


def _run(script, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    return subprocess.run([sys.executable, "-m", "tensorplug", "run", str(script), *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def _as_pytorch(code):
    """A tensorplug script with its imports pointed back at torch: the plain PyTorch original."""
    code = re.sub(r"^(\s*)import tensorplug as torch\s*$", r"\1import torch", code, flags=re.M)
    code = re.sub(r"^(\s*)import tensorplug\.", r"\1import torch.", code, flags=re.M)
    code = re.sub(r"^(\s*)from tensorplug(\.|\s)", r"\1from torch\2", code, flags=re.M)
    return code


def test_seed_tutorial_torch_script_runs_unmodified(tmp_path):
    pytest.importorskip("matplotlib")
    code = _as_pytorch((ROOT / "examples" / "seed_tutorial.py").read_text())
    assert "import torch\n" in code and "import torch.nn.functional as F\n" in code
    assert not re.search(r"^\s*(import|from) tensorplug", code, flags=re.M)
    script = tmp_path / "seed_tutorial_torch.py"
    script.write_text(code)
    proc = _run(script, str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Tensor'>" in out          # print(type(uninit_float))
    assert "x * y (elementwise multiply) refused:" in out and "must match the size of tensor b" in out
    assert "AddBackward0" in out and "SumBackward0" in out
    assert "Parameter containing:" in out
    final = float(out.rsplit("final loss:", 1)[1].split()[0])
    assert final < 1.0
    for name in ("seed_data.png", "seed_fit_manual.png", "seed_fit_sgd.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_submodules_resolve_to_tensorplug():
    import tensorplug.nn.functional
    import tensorplug.optim.lr_scheduler
    import tensorplug.utils.data
    with torch_alias():
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.optim as optim
        from torch.autograd import Variable
        from torch.optim import lr_scheduler
        from torch.utils.data import DataLoader
        assert torch.Tensor is tensorplug.Tensor
        assert nn.Linear is tensorplug.nn.Linear
        assert F.relu is tensorplug.nn.functional.relu
        assert optim.SGD is tensorplug.optim.SGD
        assert Variable is tensorplug.autograd.Variable
        assert lr_scheduler.StepLR is tensorplug.optim.lr_scheduler.StepLR
        assert DataLoader is tensorplug.utils.data.DataLoader
        assert torch.utils.data.TensorDataset is tensorplug.utils.data.TensorDataset
        assert torch.cuda.is_available() is tensorplug.cuda.is_available()
        x = torch.ones(2, requires_grad=True)
        (x * 3).sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]
    assert "torch" not in sys.modules or not repr(sys.modules["torch"]).startswith("<module 'torch' (alias")


def test_real_torch_is_hidden_then_restored():
    real = pytest.importorskip("torch")
    import torch.nn.functional  # noqa: F401 - loaded before the block
    before = sys.modules["torch.nn.functional"]
    with torch_alias():
        import torch
        assert torch is not real and torch.Tensor is tensorplug.Tensor
    import torch
    assert torch is real
    assert sys.modules["torch.nn.functional"] is before


def test_missing_api_errors_name_the_pytorch_name():
    with torch_alias():
        import torch
        with pytest.raises(ModuleNotFoundError, match=r"tensorplug does not provide torch\.no_such_module \(used "
                                                      r"by test_runner\.py"):
            import torch.no_such_module  # noqa: F401
        with pytest.raises(AttributeError, match=r"tensorplug does not provide torch\.no_such_function"):
            torch.no_such_function
        with pytest.raises(ImportError, match=r"tensorplug does not provide torch\.nn\.NoSuchLayer"):
            from torch.nn import NoSuchLayer  # noqa: F401
        assert not hasattr(torch, "no_such_function")
        assert hasattr(torch.nn, "Linear")


def test_script_args_exit_code_and_traceback(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import sys
        import torch
        import helper                      # the script's folder is on sys.path
        print("args", sys.argv[1:], helper.VALUE, torch.__name__)
        if sys.argv[1] == "fail":
            torch.definitely_missing()
        sys.exit(int(sys.argv[1]))
    """))
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    proc = _run(script, "3", "--flag")
    assert proc.returncode == 3, proc.stderr
    assert "args ['3', '--flag'] 42 torch" in proc.stdout
    proc = _run(script, "fail")
    assert proc.returncode == 1
    assert "tensorplug does not provide torch.definitely_missing (used by prog.py, line 7)" in proc.stderr
    assert proc.stderr.lstrip().startswith("Traceback")
    assert "runpy" not in proc.stderr


def test_missing_script_is_a_clear_error(tmp_path):
    proc = _run(tmp_path / "nope.py")
    assert proc.returncode == 2
    assert "can't open file" in proc.stderr


def test_run_path_in_process_leaves_no_alias(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import torch\nresult = torch.tensor([1, 2]).sum().item()\n")
    out = run_path(script)
    assert out["result"] == 3
    assert not any(name == "torch" and repr(mod).startswith("<module 'torch' (alias")
                   for name, mod in sys.modules.items())


def test_amp_and_backend_switch_idioms_run_unmodified(tmp_path):
    script = tmp_path / "amp_train.py"
    script.write_text(
        "import torch\n"
        "import torch.nn as nn\n"
        "import torch.backends.cudnn as cudnn\n"
        "from torch.cuda.amp import autocast, GradScaler\n"
        "from torch.testing import assert_close\n"
        "cudnn.benchmark = True\n"
        "torch.backends.cuda.matmul.allow_tf32 = True\n"
        "torch.set_float32_matmul_precision('high')\n"
        "device = 'cuda' if torch.cuda.is_available() else 'cpu'\n"
        "torch.manual_seed(0)\n"
        "model = torch.compile(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).to(device))\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-2)\n"
        "scaler = torch.amp.GradScaler(device)\n"
        "x, y = torch.randn(32, 4, device=device), torch.randn(32, 1, device=device)\n"
        "first = None\n"
        "for _ in range(60):\n"
        "    opt.zero_grad(set_to_none=True)\n"
        "    with torch.autocast(device_type=device, dtype=torch.float16):\n"
        "        loss = nn.functional.mse_loss(model(x), y)\n"
        "    first = first if first is not None else loss.item()\n"
        "    scaler.scale(loss).backward()\n"
        "    scaler.step(opt)\n"
        "    scaler.update()\n"
        "assert_close(loss, loss.clone())\n"
        "assert loss.item() < first, (first, loss.item())\n"
        "print('ok', scaler.get_scale())\n")
    out = _run(script)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_torch_module_paths_hold_the_same_objects():
    # paths scripts import from or name in annotations (issue 13, item 1)
    with torch_alias():
        import torch
        import torch.nn.modules.module
        from torch.distributions.categorical import Categorical
        from torch.distributions.normal import Normal
        from torch.nn.modules.loss import _Loss, CrossEntropyLoss
        from torch.nn.modules.utils import _pair
        from torch.utils.data.dataloader import DataLoader, default_collate
        from torch.utils.data.dataset import Dataset
        from torch.utils.data.sampler import RandomSampler

        def forward(model: torch.nn.modules.linear.Linear, act: torch.nn.modules.activation.ReLU):
            return act(model(torch.ones(1, 2)))

        layer = torch.nn.Linear(2, 3)
        assert isinstance(layer, torch.nn.modules.module.Module)
        assert torch.nn.modules.container.Sequential is tensorplug.nn.Sequential
        assert torch.nn.modules.conv.Conv2d is tensorplug.nn.Conv2d
        assert torch.nn.modules.Linear is tensorplug.nn.Linear
        out_proj = torch.nn.MultiheadAttention(4, 2).out_proj
        assert isinstance(out_proj, torch.nn.modules.linear.NonDynamicallyQuantizableLinear)
        assert issubclass(CrossEntropyLoss, _Loss) and _pair(3) == (3, 3)
        assert forward(layer, torch.nn.ReLU()).shape == (1, 3)
        assert Categorical is tensorplug.distributions.Categorical
        assert Normal is tensorplug.distributions.Normal
        assert DataLoader is tensorplug.utils.data.DataLoader and Dataset is tensorplug.utils.data.Dataset
        assert default_collate is tensorplug.utils.data.default_collate
        assert RandomSampler is tensorplug.utils.data.RandomSampler


def test_missing_tensor_method_or_keyword_names_the_pytorch_api(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import sys
        import torch
        x = torch.ones(2, 3)
        assert not hasattr(x, "no_such_method")      # hasattr keeps working
        if sys.argv[1] == "method":
            x.no_such_method(1)
        if sys.argv[1] == "keyword":
            torch.nn.Linear(2, 3, no_such_keyword=1)
        def mine(a):
            return a
        mine(b=1)                                     # the script's own mistake stays Python's error
    """))
    proc = _run(script, "method")
    assert ("AttributeError: tensorplug does not provide torch.Tensor.no_such_method (used by prog.py, line 7)"
            in proc.stderr), proc.stderr
    proc = _run(script, "keyword")
    assert ("TypeError: tensorplug does not provide the keyword argument 'no_such_keyword' of torch.nn.Linear "
            "(used by prog.py, line 9)" in proc.stderr), proc.stderr
    proc = _run(script, "none")
    assert "TypeError: mine() got an unexpected keyword argument 'b'" in proc.stderr, proc.stderr


def test_scripts_print_what_they_print_under_torch(tmp_path):
    """Under ``run`` the reprs name torch (``torch.Size``, ``torch.float32``), so a script's output is the
    text it gives under torch; outside the alias they name tensorplug."""
    script = tmp_path / "shapes.py"
    script.write_text(textwrap.dedent("""
        import torch
        x = torch.ones(2, 3)
        print(x.shape, x.dtype, torch.int64, torch.strided, torch.FloatTensor)
        print(torch.tensor([1.5], dtype=torch.float64), torch.zeros(2, dtype=torch.bool))
    """))
    ours = _run(script)
    assert ours.returncode == 0, ours.stderr
    expected = ("torch.Size([2, 3]) torch.float32 torch.int64 torch.strided <class 'torch.FloatTensor'>\n"
                "tensor([1.5000], dtype=torch.float64) tensor([False, False])\n")
    assert ours.stdout == expected
    pytest.importorskip("torch")
    theirs = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert theirs.stdout == expected
    with torch_alias():
        assert repr(tensorplug.ones(1).shape) == "torch.Size([1])"
    assert repr(tensorplug.ones(1).shape) == "tensorplug.Size([1])" and repr(tensorplug.float32) == "tensorplug.float32"
