#!/usr/bin/env python3
"""Reference cases for torch.nn.functional.linear_cross_entropy, in the
"loss-reference/1" format documented in the shared make_cases.py: inputs drawn
in float32, evaluated by PyTorch in float64, gradients by autograd.

    python3 make_linear_cases.py --seed 0 --out torch-cases-linear.json

Inputs: input (N, D), linear_weight (V, D), target (N), optional linear_bias (V),
and the keyword constant weight (V, class weights). Needs torch >= 2.13.
"""
import argparse, json, math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def f32(t):
    return t.float().double()


def number(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def tensor_json(t):
    t = t.detach()
    if t.dtype == torch.int64:
        return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.reshape(-1).tolist()]}
    return {"shape": list(t.shape), "dtype": "float32", "data": [number(float(v)) for v in t.reshape(-1).tolist()]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    g = torch.Generator().manual_seed(a.seed)
    cases = []
    for n, d, v in ((7, 5, 11), (16, 8, 37), (3, 1, 2)):
        for reduction in ("none", "mean", "sum"):
            for variant in ("plain", "bias", "weight/ignore", "smoothing", "all"):
                x = f32(torch.randn(n, d, generator=g))
                w = f32(0.5 * torch.randn(v, d, generator=g))
                t = torch.randint(0, v, (n,), generator=g)
                inputs = {"input": x, "linear_weight": w, "target": t}
                options = {"reduction": reduction}
                kwargs = {}
                if variant in ("bias", "all"):
                    inputs["linear_bias"] = f32(torch.randn(v, generator=g))
                if variant in ("weight/ignore", "all"):
                    cw = f32(0.2 + 1.8 * torch.rand(v, generator=g))
                    inputs["weight"] = cw
                    t[::3] = -100
                    options["ignore_index"] = -100
                if variant in ("smoothing", "all"):
                    options["label_smoothing"] = 0.15
                leaves = {k: inputs[k].clone().requires_grad_(True) for k in ("input", "linear_weight", "linear_bias") if k in inputs}
                if "linear_bias" in leaves:
                    kwargs["linear_bias"] = leaves["linear_bias"]
                if "weight" in inputs:
                    kwargs["weight"] = inputs["weight"]
                out = F.linear_cross_entropy(leaves["input"], leaves["linear_weight"], t, **kwargs, **options)
                up = torch.ones(()) if out.dim() == 0 else f32(torch.randn(*out.shape, generator=g))
                grads = torch.autograd.grad(out, list(leaves.values()), grad_outputs=up)
                cases.append({
                    "id": f"linear_cross_entropy/{n}x{d}x{v}/{reduction}/{variant}",
                    "function": "linear_cross_entropy",
                    "options": options,
                    "inputs": {k: tensor_json(val) for k, val in inputs.items()},
                    "output": tensor_json(out),
                    "upstream": tensor_json(up),
                    "gradients": {k: tensor_json(gr) for k, gr in zip(leaves, grads)},
                })
    doc = {"format": "loss-reference/1", "generator": f"PyTorch {torch.__version__} (float64)", "seed": a.seed, "cases": cases}
    with open(a.out, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"), allow_nan=False)
    print(f"{len(cases)} cases written to {a.out}")


if __name__ == "__main__":
    main()
