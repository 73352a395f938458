#!/usr/bin/env python3
"""The default recipe in PyTorch, for side-by-side speed comparison with our trainer.

784-256-128-10 MLP, batch 128, Adam (lr 0.002, cosine), real MNIST read from the same gzipped IDX
files. The whole training set is held as one float tensor and batches are sliced from it, which is
PyTorch's fastest input path (no DataLoader). Prints one JSON line with samples/s per epoch.
"""
import argparse
import gzip
import json
import math
import os
import resource
import time

import numpy as np
import torch
from torch import nn

import blasinfo


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(folder, split, shape, limit=None):
    """Images (pixels / 255, as float32 tensors of `shape`) and labels of "train" or "t10k", the first `limit` of them."""
    f = lambda name: os.path.join(folder, f"{split}-{name}-idx{3 if name == 'images' else 1}-ubyte.gz")
    x = torch.from_numpy(read_idx(f("images"))[:limit].reshape(shape).astype(np.float32) / 255.0)
    y = torch.from_numpy(read_idx(f("labels"))[:limit].astype(np.int64))
    return x, y


def train_epoch(model, opt, sched, loss_fn, x, y, batch_size, perm):
    """One pass over x in the order perm, a step per batch; returns the seconds it took."""
    start = time.perf_counter()
    for b in range((len(perm) + batch_size - 1) // batch_size):
        idx = perm[b * batch_size:(b + 1) * batch_size]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
        sched.step()
    return time.perf_counter() - start


def accuracy(model, x, y, batch=1000):
    """Share of x classified as y, in passes of `batch` (a CNN's whole test set at once would not fit)."""
    with torch.no_grad():
        return sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item() for i in range(0, len(y), batch)) / len(y)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load_split(a.data, "train", (-1, 784))
    xt, yt = load_split(a.data, "t10k", (-1, 784))

    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    n = x.shape[0]
    steps_per_epoch = math.ceil(n / a.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps_per_epoch * a.epochs)
    loss_fn = nn.CrossEntropyLoss()
    epochs = []
    for epoch in range(a.epochs):
        seconds = train_epoch(model, opt, sched, loss_fn, x, y, a.batch_size, torch.randperm(n))
        acc = accuracy(model, xt, yt)
        epochs.append({"epoch": epoch + 1, "seconds": seconds, "samples_per_second": n / seconds, "test_accuracy": acc})
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, **blasinfo.describe(),
                      "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "epochs": epochs,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
