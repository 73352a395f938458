#!/usr/bin/env python3
"""The convolutional presets in PyTorch (train --model lenet5|cnn), same recipe, for comparison.

lenet5: conv 6@5x5 pad 2, ReLU, max-pool 2, conv 16@5x5, ReLU, max-pool 2, flatten, 120, 84, 10;
adam lr 0.002 cosine. cnn (Keras mnist_cnn): conv 32@3x3, ReLU, conv 64@3x3, ReLU, max-pool 2,
dropout .25, flatten, 128, ReLU, dropout .5, 10; adam lr 0.002 cosine. Batch 128, real MNIST from
the same gzipped IDX files held as one tensor (no DataLoader). Prints one JSON line: seconds,
samples/s and test accuracy per epoch, the epoch that first reached 99 %, peak RSS.
"""
import argparse
import json
import math
import resource

import numpy as np
import torch
from torch import nn

import blasinfo
from mlp import accuracy, load_split, train_epoch


def model_for(name):
    if name == "lenet5":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)), 0.002
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                         nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10)), 0.002


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model", choices=["lenet5", "cnn"], default="cnn")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=60000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load_split(a.data, "train", (-1, 1, 28, 28), a.train_limit)
    xt, yt = load_split(a.data, "t10k", (-1, 1, 28, 28))

    model, lr = model_for(a.model)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x.shape[0]
    steps_per_epoch = math.ceil(n / a.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps_per_epoch * a.epochs)
    loss_fn = nn.CrossEntropyLoss()
    epochs, reached = [], None
    total = 0.0
    for epoch in range(a.epochs):
        model.train()
        seconds = train_epoch(model, opt, sched, loss_fn, x, y, a.batch_size, torch.randperm(n))
        total += seconds
        model.eval()
        acc = accuracy(model, xt, yt)
        if reached is None and acc >= 0.99:
            reached = {"epoch": epoch + 1, "train_seconds": total}
        epochs.append({"epoch": epoch + 1, "seconds": seconds, "samples_per_second": n / seconds, "test_accuracy": acc})
    print(json.dumps({"torch": torch.__version__, "model": a.model, "threads": a.threads, "mkldnn": torch.backends.mkldnn.is_available(),
                      **blasinfo.describe(), "epochs": epochs, "reached_99": reached,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
