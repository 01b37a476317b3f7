"""An MLP classifier on synthetic spirals: Dataset, DataLoader, Adam, and a checkpoint round trip.

    python examples/mlp_classifier.py [--epochs N]

Runs on the default backend (TENSORPLUG_BACKEND, else numpy) in a few seconds.
"""
import argparse
import math
import os
import tempfile

import tensorplug as torch
import tensorplug.nn as nn
import tensorplug.nn.functional as F
from tensorplug.utils.data import DataLoader, TensorDataset, random_split


def spirals(n_per_class=200, classes=3, noise=0.2):
    """Points on ``classes`` interleaved spiral arms, labelled by arm."""
    xs, ys = [], []
    for c in range(classes):
        r = torch.linspace(0.1, 1.0, n_per_class)
        theta = r * 4.0 + c * 2 * math.pi / classes + torch.randn(n_per_class) * noise
        xs.append(torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1))
        ys.append(torch.full((n_per_class,), c, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)


class MLP(nn.Module):
    def __init__(self, hidden=64, classes=3):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.out(x)


def accuracy(model, loader):
    correct = total = 0
    model.eval()
    with torch.no_grad():
        for xb, yb in loader:
            correct += (model(xb).argmax(1) == yb).sum().item()
            total += len(yb)
    model.train()
    return correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    torch.manual_seed(0)
    x, y = spirals()
    train_set, test_set = random_split(TensorDataset(x, y), [0.8, 0.2])
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(args.epochs):
        for xb, yb in train_loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        if epoch % 10 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}  test accuracy {accuracy(model, test_loader):.3f}")

    # save and restore: a pickle-free, checksummed checkpoint
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mlp.tp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": args.epochs}, path)
        ckpt = torch.load(path)
        restored = MLP()
        restored.load_state_dict(ckpt["model"])
    print(f"restored model test accuracy {accuracy(restored, test_loader):.3f}")


if __name__ == "__main__":
    main()
