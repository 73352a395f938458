#!/usr/bin/env python3
"""PyTorch DistributedDataParallel with the gloo backend: the same MLP and recipe, global batch 128
split over `world` processes (one thread each). On loopback it spawns every rank; with --rank and
--master it is one rank of a run across hosts (GLOO_SOCKET_IFNAME names the interface). Rank 0
prints one JSON line."""
import argparse
import json
import os
import resource
import socket
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import blasinfo
from cnn import model_for
from mlp import accuracy, load_split


def worker(rank, world, port, args, queue, master="127.0.0.1"):
    os.environ["MASTER_ADDR"] = master
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(args.seed)
    # The convolutional presets (cnn.py) read images as 1×28×28; the MLP reads 784 pixels.
    shape = (-1, 784) if args.model == "mlp" else (-1, 1, 28, 28)
    x, y = load_split(args.data, "train", shape, args.train_limit)
    if args.model == "mlp":
        net, lr = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)), args.lr
    else:
        net, lr = model_for(args.model)
    model = nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    per_rank = args.batch_size // world
    g = torch.Generator().manual_seed(args.seed)
    steps = n // args.batch_size
    # The same recipe as mlp.py and our trainer: cosine decay over the whole run.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps * args.epochs)
    xt, yt = load_split(args.data, "t10k", shape)
    epochs = []
    for epoch in range(args.epochs):
        perm = torch.randperm(n, generator=g)
        dist.barrier()
        start = time.perf_counter()
        for b in range(steps):
            idx = perm[b * args.batch_size + rank * per_rank: b * args.batch_size + (rank + 1) * per_rank]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
        dist.barrier()
        seconds = time.perf_counter() - start
        # Evaluation is outside the timed part, as in our trainer.
        model.eval()
        acc = accuracy(model, xt, yt)
        model.train()
        epochs.append({"epoch": epoch + 1, "seconds": seconds, "samples_per_second": steps * args.batch_size / seconds, "test_accuracy": acc})
        dist.barrier()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    queue.put({"rank": rank, "rss_mb": rss_mb, "epochs": epochs, **blasinfo.describe()})
    dist.destroy_process_group()


class ListQueue:
    """What worker() reports into, for a single rank in this process."""
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--world", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--model", choices=["mlp", "lenet5", "cnn"], default="mlp", help="the MLP, or a convolutional preset of cnn.py (with its learning rate)")
    p.add_argument("--train-limit", type=int, default=60000)
    p.add_argument("--rank", type=int, help="this process's rank, for a run across hosts (with --master)")
    p.add_argument("--master", help="host:port of rank 0, for a run across hosts")
    args = p.parse_args()
    if args.rank is not None:
        host, port = args.master.rsplit(":", 1)
        queue = ListQueue()
        worker(args.rank, args.world, int(port), args, queue, master=host)
        if args.rank == 0:
            r = queue.items[0]
            print(json.dumps({"world": args.world, "rank": 0, "epochs": r["epochs"], "openblas_core": r["openblas_core"],
                              "samples_per_second": r["epochs"][-1]["samples_per_second"], "test_accuracy": r["epochs"][-1]["test_accuracy"],
                              "peak_rss_mb": r["rss_mb"]}))
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.spawn(worker, args=(args.world, port, args, queue), nprocs=args.world, join=True)
    ranks = [queue.get() for _ in range(args.world)]
    epochs = next(r["epochs"] for r in ranks if r["rank"] == 0)
    rank0 = next(r for r in ranks if r["rank"] == 0)
    print(json.dumps({"world": args.world, "epochs": epochs, "openblas_core": rank0["openblas_core"], "openblas_config": rank0["openblas_config"], "samples_per_second": epochs[-1]["samples_per_second"],
                      "test_accuracy": epochs[-1]["test_accuracy"], "peak_rss_mb_per_rank": max(r["rss_mb"] for r in ranks)}))


if __name__ == "__main__":
    main()
