"""Train a LeNet-5-class CNN on Fashion-MNIST with numpy alone and export it to ONNX.

    python examples/cnn/train_lenet.py --out examples/cnn/lenet_fashion.onnx

The network (the classic LeNet-5 shapes, ReLU and max pooling):

    Conv 1->6 5x5 pad 2 -> Relu -> MaxPool 2 -> Conv 6->16 5x5 -> Relu -> MaxPool 2
    -> Flatten -> Gemm 400->120 -> Relu -> Gemm 120->84 -> Relu -> Gemm 84->10 (logits)

On crossbars (bias row included) its layers are 26x6, 151x16, 401x120, 121x84 and 85x10
arrays of G+/G- pairs. Training: Adam, cross-entropy, mini-batches of 128, float32, seeded; a
few minutes per epoch on two cores. The committed ``lenet_fashion.onnx`` came from the defaults;
CI never retrains. PyTorch users export their own model with ``torch.onnx.export`` instead
(``docs/cnn.md``). Needs the ``onnx`` package and the Fashion-MNIST IDX files
(``apt-get install dataset-fashion-mnist``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def im2col(x: np.ndarray, k: int, pad: int) -> tuple[np.ndarray, int, int]:
    """(B, C, H, W) -> (B*H'*W', C*k*k) patches (stride 1), ordered (c, ky, kx)."""
    b, c, h, w = x.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = x.shape[2] - k + 1, x.shape[3] - k + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # (B, C, Ho, Wo, k, k)
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(b * ho * wo, c * k * k)
    return np.ascontiguousarray(cols), ho, wo


def col2im(dcols: np.ndarray, shape: tuple[int, int, int, int], k: int, pad: int) -> np.ndarray:
    b, c, h, w = shape
    hp, wp = h + 2 * pad, w + 2 * pad
    ho, wo = hp - k + 1, wp - k + 1
    d = dcols.reshape(b, ho, wo, c, k, k)
    out = np.zeros((b, c, hp, wp), dtype=dcols.dtype)
    for ky in range(k):
        for kx in range(k):
            out[:, :, ky : ky + ho, kx : kx + wo] += d[:, :, :, :, ky, kx].transpose(0, 3, 1, 2)
    return out[:, :, pad : pad + h, pad : pad + w]


def maxpool2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b, c, h, w = x.shape
    r = x.reshape(b, c, h // 2, 2, w // 2, 2)
    out = r.max(axis=(3, 5))
    mask = r == out[:, :, :, None, :, None]
    return out, mask


def maxpool2_back(dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    b, c, h2, _, w2, _ = mask.shape
    d = mask * dout[:, :, :, None, :, None]
    d = d / np.maximum(mask.sum(axis=(3, 5), keepdims=True), 1)
    return d.reshape(b, c, h2 * 2, w2 * 2)


class LeNet:
    SHAPES = {"c1": (6, 1, 5, 5), "c2": (16, 6, 5, 5), "f1": (400, 120), "f2": (120, 84), "f3": (84, 10)}

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.p: dict[str, np.ndarray] = {}
        for name, shape in self.SHAPES.items():
            fan_in = int(np.prod(shape[1:])) if name.startswith("c") else shape[0]
            self.p[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
            self.p[name + "b"] = np.zeros(shape[0] if name.startswith("c") else shape[1], np.float32)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        p, cache = self.p, {}
        b = x.shape[0]
        c1, ho, wo = im2col(x, 5, 2)
        z1 = (c1 @ p["c1"].reshape(6, -1).T + p["c1b"]).reshape(b, ho, wo, 6).transpose(0, 3, 1, 2)
        a1 = np.maximum(z1, 0)
        m1, mask1 = maxpool2(a1)
        c2, ho2, wo2 = im2col(m1, 5, 0)
        z2 = (c2 @ p["c2"].reshape(16, -1).T + p["c2b"]).reshape(b, ho2, wo2, 16).transpose(0, 3, 1, 2)
        a2 = np.maximum(z2, 0)
        m2, mask2 = maxpool2(a2)
        f = m2.reshape(b, -1)
        z3 = f @ p["f1"] + p["f1b"]
        a3 = np.maximum(z3, 0)
        z4 = a3 @ p["f2"] + p["f2b"]
        a4 = np.maximum(z4, 0)
        logits = a4 @ p["f3"] + p["f3b"]
        cache.update(x=x, c1=c1, z1=z1, mask1=mask1, m1=m1, c2=c2, z2=z2, mask2=mask2, f=f, z3=z3, a3=a3, z4=z4, a4=a4)
        return logits, cache

    def backward(self, dlogits: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
        p, g = self.p, {}
        b = dlogits.shape[0]
        g["f3"], g["f3b"] = cache["a4"].T @ dlogits, dlogits.sum(0)
        d4 = (dlogits @ p["f3"].T) * (cache["z4"] > 0)
        g["f2"], g["f2b"] = cache["a3"].T @ d4, d4.sum(0)
        d3 = (d4 @ p["f2"].T) * (cache["z3"] > 0)
        g["f1"], g["f1b"] = cache["f"].T @ d3, d3.sum(0)
        dm2 = (d3 @ p["f1"].T).reshape(b, 16, 5, 5)
        dz2 = maxpool2_back(dm2, cache["mask2"]) * (cache["z2"] > 0)
        dz2c = dz2.transpose(0, 2, 3, 1).reshape(-1, 16)
        g["c2"], g["c2b"] = (dz2c.T @ cache["c2"]).reshape(p["c2"].shape), dz2c.sum(0)
        dm1 = col2im(dz2c @ p["c2"].reshape(16, -1), cache["m1"].shape, 5, 0)
        dz1 = maxpool2_back(dm1, cache["mask1"]) * (cache["z1"] > 0)
        dz1c = dz1.transpose(0, 2, 3, 1).reshape(-1, 6)
        g["c1"], g["c1b"] = (dz1c.T @ cache["c1"]).reshape(p["c1"].shape), dz1c.sum(0)
        return g


def to_onnx(net: LeNet, path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    p = net.p
    inits = [numpy_helper.from_array(v.astype(np.float32), name) for name, v in p.items()]
    nodes = [
        helper.make_node("Conv", ["input", "c1", "c1b"], ["z1"], name="conv1", kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["z1"], ["a1"], name="relu1"),
        helper.make_node("MaxPool", ["a1"], ["m1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["m1", "c2", "c2b"], ["z2"], name="conv2", kernel_shape=[5, 5]),
        helper.make_node("Relu", ["z2"], ["a2"], name="relu2"),
        helper.make_node("MaxPool", ["a2"], ["m2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["m2"], ["f"], name="flatten", axis=1),
        # Gemm with B stored (in, out): transB = 0
        helper.make_node("Gemm", ["f", "f1", "f1b"], ["z3"], name="fc1"),
        helper.make_node("Relu", ["z3"], ["a3"], name="relu3"),
        helper.make_node("Gemm", ["a3", "f2", "f2b"], ["z4"], name="fc2"),
        helper.make_node("Relu", ["z4"], ["a4"], name="relu4"),
        helper.make_node("Gemm", ["a4", "f3", "f3b"], ["logits"], name="fc3"),
    ]
    graph = helper.make_graph(
        nodes, "lenet_fashion",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pyims examples/cnn/train_lenet.py")
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).with_name("lenet_fashion.onnx")))
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from pyims.data import load_dataset

    ds = load_dataset("fashion-mnist", path=args.data)
    x_tr = ds.train.x_norm.reshape(-1, 1, 28, 28).astype(np.float32)
    x_te = ds.test.x_norm.reshape(-1, 1, 28, 28).astype(np.float32)
    y_tr, y_te = ds.train.y, ds.test.y
    net = LeNet(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    m = {k: np.zeros_like(v) for k, v in net.p.items()}
    v = {k: np.zeros_like(v) for k, v in net.p.items()}
    step = 0
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = rng.permutation(len(y_tr))
        lr = args.lr * (0.5 ** (epoch // 3))
        for start in range(0, len(order), args.batch):
            idx = order[start : start + args.batch]
            logits, cache = net.forward(x_tr[idx])
            z = logits - logits.max(1, keepdims=True)
            prob = np.exp(z) / np.exp(z).sum(1, keepdims=True)
            prob[np.arange(idx.size), y_tr[idx]] -= 1.0
            grads = net.backward(prob / idx.size, cache)
            step += 1
            for k, gk in grads.items():
                m[k] = 0.9 * m[k] + 0.1 * gk
                v[k] = 0.999 * v[k] + 0.001 * gk * gk
                mh, vh = m[k] / (1 - 0.9**step), v[k] / (1 - 0.999**step)
                net.p[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        acc = np.mean(np.concatenate([net.forward(x_te[s : s + 1000])[0].argmax(1) for s in range(0, len(y_te), 1000)]) == y_te)
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    to_onnx(net, Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
