"""A small convolutional network on scikit-learn's bundled 8x8 digits (no download).

    python examples/small_cnn.py [--epochs N]

Conv2d -> ReLU -> MaxPool2d, twice, then a linear classifier; needs
scikit-learn (pip install scikit-learn).
"""
import argparse
import time

import tensorplug as torch
import tensorplug.nn as nn
from tensorplug.utils.data import DataLoader, TensorDataset


def digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("this example needs scikit-learn: pip install scikit-learn")
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    return x, torch.tensor(y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    torch.manual_seed(0)
    x, y = digits()
    order = torch.randperm(len(y))
    x, y = x[order], y[order]
    n_train = 1400
    train = DataLoader(TensorDataset(x[:n_train], y[:n_train]), batch_size=64, shuffle=True)

    model = nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 8x8 -> 4x4
        nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 4x4 -> 2x2
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for epoch in range(args.epochs):
        for xb, yb in train:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = (model(x[n_train:]).argmax(1) == y[n_train:]).float().mean().item()
        print(f"epoch {epoch}  loss {loss.item():.4f}  test accuracy {acc:.3f}")
    print(f"{sum(p.numel() for p in model.parameters())} parameters, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
