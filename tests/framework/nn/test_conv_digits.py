"""A small CNN (Conv2d, MaxPool2d, AvgPool2d) trains to high accuracy on scikit-learn's bundled digits."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
import tensorplug.nn.functional as F

datasets = pytest.importorskip("sklearn.datasets")


def test_small_cnn_learns_digits():
    tensorplug.manual_seed(0)
    digits = datasets.load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    train, test = order[:1400], order[1400:]
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding="same"), nn.ReLU(), nn.AvgPool2d(2),  # 32 x 2 x 2
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )
    opt = tensorplug.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x_train = tensorplug.tensor(images[train])
    y_train = tensorplug.tensor(labels[train])
    rng = np.random.default_rng(1)
    for epoch in range(8):
        perm = rng.permutation(len(train))
        for start in range(0, len(train), 32):
            idx = tensorplug.tensor(perm[start:start + 32])
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with tensorplug.no_grad():
        pred = model(tensorplug.tensor(images[test])).argmax(1).numpy()
    accuracy = (pred == labels[test]).mean()
    assert accuracy > 0.95, accuracy
