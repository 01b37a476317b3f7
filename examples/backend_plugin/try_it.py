"""Use the example plugin: its backend by name, its loss and optimizer as tensorplug.nn / tensorplug.optim names.

    TENSORPLUG_PLUGINS=tensorplug_example PYTHONPATH=examples/backend_plugin python examples/backend_plugin/try_it.py
"""
import tensorplug
from tensorplug import nn, optim

with tensorplug.use_backend("counting"):
    backend = tensorplug.get_backend()
    tensorplug.manual_seed(0)
    model = nn.Linear(3, 1)
    x = tensorplug.randn(32, 3)
    y = x @ tensorplug.tensor([[1.0], [-2.0], [0.5]])
    loss_fn = nn.PseudoHuberLoss()
    opt = optim.SignSGD(model.parameters(), lr=0.01)
    first = None
    for step in range(200):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    print(f"backend {backend.name} on {x.device}: loss {first:.4f} -> {loss.item():.4f}, "
          f"{backend.matmuls} matmuls counted")
    print("plugins:", sorted(tensorplug.registry.plugins()))
