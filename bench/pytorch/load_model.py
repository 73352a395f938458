#!/usr/bin/env python3
"""Loads our model.safetensors into the torch.nn module docs/models.md shows, strictly, and evaluates it.

Reads the safetensors file by hand (an 8-byte header length, a JSON header, raw little-endian
tensors), so only torch and numpy are needed. Prints the preset, the tensors loaded and the test
accuracy on the first N test images, to compare with `evaluate --model FILE --test-limit N`.
"""
import argparse
import json
import struct

import numpy as np
import torch
from torch import nn

from cnn import model_for
from mlp import accuracy, load_split


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", t["dtype"]
        start, end = t["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[start:end], dtype="<f4").copy().reshape(t["shape"]))
    return meta, tensors


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--test-limit", type=int, default=10000)
    a = p.parse_args()
    meta, state = load_safetensors(a.model)
    preset = {"conv6k5p2,relu,maxpool2,conv16k5,relu,maxpool2,flatten,dense120,relu,dense84,relu,dense10": "lenet5",
              "conv32k3,relu,conv64k3,relu,maxpool2,dropout0.25,flatten,dense128,relu,dropout0.5,dense10": "cnn"}[meta["layers"]]
    holder = nn.Module()
    holder.layers, _ = model_for(preset)
    holder.load_state_dict(state, strict=True)
    holder.eval()
    x, y = load_split(a.data, "t10k", (-1, 1, 28, 28), a.test_limit)
    acc = accuracy(holder.layers, x, y)
    print(json.dumps({"preset": preset, "tensors": {k: list(v.shape) for k, v in state.items()}, "strict": True,
                      "test_images": len(y), "accuracy": acc}))


if __name__ == "__main__":
    main()
