"""``python -m tensorplug demo``: train a small network end to end, with nothing to download.

It classifies scikit-learn's bundled 8x8 handwritten digits with a two-layer
MLP on the selected backend, shows a progress bar with the loss and accuracy,
prints a summary and writes a loss/accuracy plot::

    python -m tensorplug demo                      # default backend (TENSORPLUG_BACKEND or numpy)
    python -m tensorplug demo --epochs 5 --out digits.png --backend numpy
    python -m tensorplug demo --out plots/                # a directory: plots/tensorplug-demo.png
"""
from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["main", "load_digits", "train", "plot_path"]

DEFAULT_PLOT = "tensorplug-demo.png"


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m tensorplug demo",
        description="Train an MLP on scikit-learn's bundled digits (no download) and report: a progress bar "
                    "with loss and accuracy, a summary, and a loss/accuracy plot (PNG).",
        epilog="The backend is, in order: --backend, TENSORPLUG_BACKEND, numpy.")
    p.add_argument("--backend", default=None, help="backend or device to train on (e.g. numpy, cupy, cuda:0)")
    p.add_argument("--epochs", type=int, default=20, help="passes over the training set (default 20)")
    p.add_argument("--out", default=DEFAULT_PLOT,
                   help="where to write the plot: a file (.png, .pdf, .svg, ...) or an existing directory, "
                        f"which gets {DEFAULT_PLOT} (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the split, init and shuffling")
    p.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 0.002)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def load_digits(seed=0, test_fraction=0.2):
    """The digits as float32 host arrays scaled to [0, 1]: (x_train, y_train, x_test, y_test).

    Raises:
        ImportError: scikit-learn is not installed (the message says how to install it).
    """
    try:
        from sklearn.datasets import load_digits as _load
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError("the demo reads scikit-learn's bundled digits data; install it with: "
                          "pip install scikit-learn") from None
    x, y = _load(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return x_tr, y_tr.astype("int64"), x_te, y_te.astype("int64")


def _accuracy(model, x, y):
    import tensorplug
    with tensorplug.no_grad():
        pred = model(x).argmax(dim=1)
    correct = int((pred == y).sum().item())
    return correct, correct / len(y)


def train(epochs=20, seed=0, batch_size=64, lr=2e-3, progress=True):
    """Train the demo MLP on the current default backend; returns a dict of results and history."""
    import tensorplug
    from tensorplug import nn, optim
    from tensorplug.utils.data import DataLoader, TensorDataset

    tensorplug.manual_seed(seed)
    x_tr, y_tr, x_te, y_te = load_digits(seed)
    x_train = tensorplug.tensor(x_tr)
    y_train = tensorplug.tensor(y_tr)
    x_test = tensorplug.tensor(x_te)
    y_test = tensorplug.tensor(y_te)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True)

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=lr)

    from tqdm.auto import tqdm
    history = {"loss": [], "train_acc": [], "test_acc": []}
    start = time.perf_counter()
    test_acc = float("nan")
    bar = tqdm(total=epochs * len(loader), desc="training", unit="batch", disable=not progress,
               dynamic_ncols=True, file=sys.stderr)
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            total = 0.0
            seen = 0
            for xb, yb in loader:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item() * len(yb)
                seen += len(yb)
                bar.update(1)
                bar.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{total / seen:.4f}", test_acc=f"{test_acc:.3f}",
                                refresh=False)
            model.eval()
            _, train_acc = _accuracy(model, x_train, y_train)
            _, test_acc = _accuracy(model, x_test, y_test)
            history["loss"].append(total / seen)
            history["train_acc"].append(train_acc)
            history["test_acc"].append(test_acc)
            bar.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{total / seen:.4f}", test_acc=f"{test_acc:.3f}")
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    correct, test_acc = _accuracy(model, x_test, y_test)
    backend = tensorplug.get_backend()
    return {"backend": backend.name, "device": str(backend.device), "epochs": epochs, "seconds": elapsed,
            "test_accuracy": test_acc, "test_correct": correct, "n_test": len(y_te), "n_train": len(y_tr),
            "history": history, "model": model}


def plot(history, path):
    """Write the loss and accuracy curves to ``path`` (PNG, matplotlib's Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, history["loss"], marker="o")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (cross-entropy)")
    ax1.set_title("loss")
    ax2.plot(epochs, history["train_acc"], marker="o", label="train")
    ax2.plot(epochs, history["test_acc"], marker="o", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1.01)
    ax2.set_title("accuracy")
    ax2.legend()
    fig.suptitle("tensorplug demo: digits MLP")
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_path(out):
    """Where the plot goes for ``--out``: a directory gets tensorplug-demo.png in it.

    Raises:
        ValueError: the file name's extension is not an image format matplotlib writes.
    """
    if os.path.isdir(out):
        return os.path.join(out, DEFAULT_PLOT)
    formats = _plot_formats()
    extension = os.path.splitext(out)[1].lstrip(".").lower()
    if extension not in formats:
        got = f"'.{extension}'" if extension else "no extension"
        raise ValueError(f"--out {out}: the plot's file name must end in one of "
                         f"{', '.join('.' + f for f in formats)}, got {got}; "
                         f"name a .png file or an existing directory")
    return out


def _plot_formats():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:  # no plot will be written; the name must still make sense
        return ["png", "pdf", "svg", "jpg", "jpeg"]
    return sorted(FigureCanvasAgg.get_supported_filetypes())


def main(argv=None) -> int:
    """Run the demo; returns the exit code (0 on success)."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.epochs < 1:
        sys.stderr.write(f"tensorplug demo: --epochs must be at least 1, got {args.epochs}\n")
        return 2
    try:  # before training: a bad --out must not cost a run
        out = plot_path(args.out)
    except ValueError as exc:
        sys.stderr.write(f"tensorplug demo: {exc}\n")
        return 2
    import tensorplug
    from tensorplug import registry

    try:
        backend = tensorplug.get_backend(args.backend)
    except (ValueError, RuntimeError) as exc:
        sys.stderr.write(f"tensorplug demo: {exc}\n")
        return 2
    reason = f"--backend {args.backend}" if args.backend else registry.selection_reason()
    try:
        with tensorplug.use_backend(backend):
            result = train(args.epochs, args.seed, args.batch_size, args.lr, progress=not args.no_progress)
    except ImportError as exc:
        sys.stderr.write(f"tensorplug demo: {exc}\n")
        return 2
    plot_note = None
    try:
        plot(result["history"], out)
    except ImportError:
        plot_note = "plot: skipped (matplotlib is not installed: pip install matplotlib)"
    print(f"tensorplug demo: digits MLP, {result['n_train']} training / {result['n_test']} test images, "
          f"8x8 pixels, 10 classes")
    print(f"backend: {result['backend']} on {result['device']} (chosen by: {reason})")
    print(f"epochs: {result['epochs']}  final training loss: {result['history']['loss'][-1]:.4f}")
    print(f"final test accuracy: {result['test_accuracy']:.4f} ({result['test_correct']}/{result['n_test']})")
    print(f"time: {result['seconds']:.1f} s")
    print(plot_note or f"plot: {os.path.abspath(out)}")
    return 0
