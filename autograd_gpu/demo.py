"""Train a small CNN on scikit-learn's bundled 8x8 digits: ``python -m autograd_gpu.demo``.

Conv(1->16) -> ReLU -> MaxPool -> Conv(16->32) -> ReLU -> MaxPool -> Flatten -> Linear(128->64) -> ReLU
-> Linear(64->10), Adam with cosine-annealed lr, cross-entropy, on a fixed stratified 75/25 split (1347 train
/ 450 held-out images). Runs on CUDA when a GPU is available, else on the CPU. Needs the ``demo`` extra:
scikit-learn, matplotlib, tqdm.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np

import autograd_gpu as torch
from autograd_gpu import nn
from autograd_gpu.utils.data import DataLoader, TensorDataset


def build_model() -> nn.Module:
    """The demo CNN for (N, 1, 8, 8) inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def load_data(device, seed: int = 0):
    """Standardised digits as ((x_train, y_train), (x_test, y_test)); the split is fixed (not seeded)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    mean, std = x_tr.mean(), x_tr.std()
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    t = lambda a: torch.tensor(a, device=device)  # noqa: E731
    return (t(x_tr), t(y_tr)), (t(x_te), t(y_te))


def evaluate(model: nn.Module, x, y, batch_size: int = 512) -> float:
    """Accuracy of ``model`` on (x, y)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            logits = model(x[i:i + batch_size])
            pred = logits.detach()._host().argmax(axis=1)
            correct += int((pred == y[i:i + batch_size]._host()).sum())
    model.train()
    return correct / x.shape[0]


def plot(history: dict, path: str) -> None:
    """Loss and accuracy per epoch, written as a PNG (matplotlib, Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["loss"], marker="o")
    ax1.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    ax2.plot(epochs, history["train_acc"], marker="o", label="train")
    ax2.plot(epochs, history["test_acc"], marker="o", label="held-out")
    ax2.set(title="accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.01))
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _blas_single_thread():
    """Tiny GEMMs run fastest on one BLAS thread (OpenBLAS threads spin against each other on busy cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def train(device=None, epochs: int = 15, seed: int = 0, batch_size: int = 32, lr: float = 3e-3,
          plot_path: str | None = "digits_training.png", progress: bool = True, out=sys.stdout) -> dict:
    """Train the demo CNN; returns the history (loss, train_acc, test_acc, time per epoch) and the final
    test accuracy."""
    from tqdm import tqdm
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    (x_tr, y_tr), (x_te, y_te) = load_data(device)
    model = build_model().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=batch_size, shuffle=True, generator=gen)
    history = {"loss": [], "train_acc": [], "test_acc": [], "time": []}
    print(f"training on {device}: {x_tr.shape[0]} train / {x_te.shape[0]} held-out images, {epochs} epochs",
          file=out)
    start = time.perf_counter()
    with _blas_single_thread():
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            total, n = 0.0, 0
            bar = tqdm(loader, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not progress,
                       file=sys.stderr)
            for xb, yb in bar:
                loss = loss_fn(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * xb.shape[0]
                n += xb.shape[0]
                bar.set_postfix(loss=f"{total / n:.4f}")
            sched.step()
            train_acc, test_acc = evaluate(model, x_tr, y_tr), evaluate(model, x_te, y_te)
            dt = time.perf_counter() - t0
            for k, v in zip(history, (total / n, train_acc, test_acc, dt)):
                history[k].append(v)
            tqdm.write(f"epoch {epoch:2d}  loss {total / n:.4f}  train acc {train_acc:.3f}  "
                       f"test acc {test_acc:.3f}  time {dt:.2f}s", file=out)
    history["total_time"] = time.perf_counter() - start
    history["test_accuracy"] = history["test_acc"][-1]
    if plot_path:
        plot(history, plot_path)
        print(f"plot written to {plot_path}", file=out)
    print(f"test accuracy: {history['test_accuracy']:.3f}", file=out)
    return history


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m autograd_gpu.demo", description=__doc__.split("\n")[0])
    p.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:N (default: cuda when available, else cpu)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--plot", default="digits_training.png",
                   help="PNG path for the loss/accuracy plot ('' for none)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    a = p.parse_args(argv)
    return train(a.device, a.epochs, a.seed, a.batch_size, a.lr, a.plot or None, progress=not a.no_progress)


if __name__ == "__main__":
    main()
