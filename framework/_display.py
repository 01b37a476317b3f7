"""The package name reprs show: ``tensorplug``, or ``torch`` while ``import torch`` gives tensorplug
(``python -m tensorplug run``, ``runner.torch_alias``), so a script prints what it prints under torch
(``torch.Size([2, 3])``, ``torch.float32``)."""

MODULE = "tensorplug"
