#!/usr/bin/env python3
"""Reference cases for PyTorch semantics beyond one shape per input, in the
"loss-reference/1" format of the shared make_cases.py, whose generator (class Gen:
inputs in float32, PyTorch in float64, gradients by autograd) this script imports.

    python3 make_semantics_cases.py --out torch-cases-semantics.json [--make-cases DIR]

- broadcasting where PyTorch broadcasts without a warning: gaussian_nll_loss (input
  against target, with every var layout), kl_div, poisson_nll_loss,
  hinge_embedding_loss, soft_margin_loss (the target to the input's shape),
  multilabel_soft_margin_loss (which sums over dimension input.dim() - 1 of the
  broadcast shape), margin_ranking_loss, cosine_embedding_loss (rows),
  triplet_margin_loss and triplet_margin_with_distance_loss;
- linear_cross_entropy's probability targets, (V, *out_features, D) weights and
  ignore_index (None by default in PyTorch 2.15);
- sum, mean, amax and logsumexp over lists of dimensions, with and without keepdim,
  and without dim; softmax, log_softmax and softmin with dtype=torch.float64;
- the legacy size_average= and reduce= keywords;
- int64 targets of losses whose target is floating point (PyTorch promotes them);
- 0-d inputs of multi_margin_loss and multilabel_margin_loss.
"""
import argparse, json, os, sys

here = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--make-cases", default=os.path.join(here, "..", "..", "..", "shared", "reference"),
                    help="directory of make_cases.py")
    a = ap.parse_args()
    sys.path.insert(0, a.make_cases)
    import make_cases  # noqa: E402
    from make_cases import Gen, f32  # noqa: E402
    import torch  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
    import warnings  # noqa: E402

    warnings.filterwarnings("ignore")  # the legacy keywords' deprecation warnings

    # Keyword-only and non-JSON arguments, bound here; the case keeps PyTorch's names.
    def linear_cross_entropy(input, linear_weight, target, linear_bias=None, **kw):
        return F.linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, **kw)

    def with_dtype(fn):
        def call(input, dtype=None, **kw):
            return fn(input, dtype=getattr(torch, dtype.replace("torch.", "")) if dtype else None, **kw)
        return call

    make_cases.EXTRA.update({
        "linear_cross_entropy": linear_cross_entropy, "softmax": with_dtype(F.softmax),
        "log_softmax": with_dtype(F.log_softmax), "softmin": with_dtype(F.softmin),
    })

    t = torch.tensor
    gen = Gen(0)

    def n(*shape, scale=1.0):  # Gen's draws, 0-d included
        return gen.randn(*(shape or (1,)), scale=scale).reshape(shape)

    def rand(*shape, lo=0.0, hi=1.0):
        return gen.rand(*(shape or (1,)), lo=lo, hi=hi).reshape(shape)

    def shape_id(*shapes):
        return "_".join("x".join(map(str, s)) or "0d" for s in shapes)

    def signs(*shape):
        return f32(torch.where(rand(*shape) > 0.5, 1.0, -1.0))

    # gaussian_nll_loss: input and target broadcast; var relative to the input.
    for xs, ys, vs in (((3, 4), (4,), (3, 4)), ((3, 4), (4,), (3, 1)), ((3, 4), (4,), (3,)), ((4,), (3, 4), (4,)),
                       ((4,), (3, 4), ()), ((3, 1), (1, 4), (3, 1)), ((2, 3, 4), (3, 4), (2, 1, 4)),
                       ((3, 4), (2, 3, 4), (1, 4)), ((1, 4), (3, 1), (1, 1))):
        for red in ("none", "mean", "sum"):
            gen.add(f"gaussian_nll_loss/{shape_id(xs, ys, vs)}/{red}", "gaussian_nll_loss",
                    {"input": n(*xs), "target": n(*ys), "var": rand(*vs, lo=0.2, hi=2.0)},
                    {"reduction": red, "full": red == "sum"})
    # Elementwise losses that broadcast both ways.
    pairs = (((3, 4), (4,)), ((4,), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((3, 4), (1,)))
    for xs, ys in pairs:
        sid = shape_id(xs, ys)
        for red in ("none", "mean", "sum", "batchmean"):
            gen.add(f"kl_div/{sid}/{red}", "kl_div", {"input": n(*xs), "target": rand(*ys, lo=0.0, hi=1.0)},
                    {"reduction": red})
        gen.add(f"kl_div/log_target/{sid}", "kl_div", {"input": n(*xs), "target": n(*ys)},
                {"reduction": "batchmean", "log_target": True})
        for red in ("none", "mean"):
            gen.add(f"poisson_nll_loss/{sid}/{red}", "poisson_nll_loss",
                    {"input": n(*xs), "target": f32(torch.floor(rand(*ys, lo=0.0, hi=4.0)))},
                    {"reduction": red, "full": True})
            gen.add(f"poisson_nll_loss/rate/{sid}/{red}", "poisson_nll_loss",
                    {"input": rand(*xs, lo=0.1, hi=3.0), "target": rand(*ys, lo=0.0, hi=3.0)},
                    {"reduction": red, "log_input": False})
            gen.add(f"hinge_embedding_loss/{sid}/{red}", "hinge_embedding_loss",
                    {"input": n(*xs), "target": signs(*ys)}, {"reduction": red, "margin": 0.5})
            gen.add(f"multilabel_soft_margin_loss/{sid}/{red}", "multilabel_soft_margin_loss",
                    {"input": n(*xs), "target": rand(*ys)}, {"reduction": red})
    for xs, ys in (((3, 4), (2, 3, 4)), ((3, 4), (4,))):
        gen.add(f"multilabel_soft_margin_loss/weighted/{shape_id(xs, ys)}", "multilabel_soft_margin_loss",
                {"input": n(*xs), "target": rand(*ys), "weight": rand(4, lo=0.2, hi=2.0)}, {"reduction": "none"})
    # soft_margin_loss: the target broadcasts to the input's shape.
    for xs, ys in (((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3, 4), (3, 4)), ((3, 4), (1,))):
        for red in ("none", "sum"):
            gen.add(f"soft_margin_loss/{shape_id(xs, ys)}/{red}", "soft_margin_loss",
                    {"input": n(*xs), "target": signs(*ys)}, {"reduction": red})
    # Same rank, sizes broadcast.
    for s1, s2, st in (((3, 4), (1, 4), (3, 1)), ((3,), (1,), (1,)), ((2, 3, 4), (1, 3, 1), (2, 1, 4))):
        for red in ("none", "mean"):
            gen.add(f"margin_ranking_loss/{shape_id(s1, s2, st)}/{red}", "margin_ranking_loss",
                    {"input1": n(*s1), "input2": n(*s2), "target": signs(*st)}, {"reduction": red, "margin": 0.3})
    for s1, s2, st in (((3, 4), (1, 4), (3,)), ((3, 4), (3, 4), (1,)), ((1, 4), (3, 4), (1,)), ((4,), (4,), ())):
        for red in ("none", "sum"):
            gen.add(f"cosine_embedding_loss/{shape_id(s1, s2, st)}/{red}", "cosine_embedding_loss",
                    {"input1": n(*s1), "input2": n(*s2), "target": signs(*st)}, {"reduction": red, "margin": -0.2})
    for sa, sp, sn in (((3, 4), (1, 4), (3, 4)), ((3, 4), (3, 1), (1, 4)), ((4,), (1,), (4,))):
        for swap in (False, True):
            gen.add(f"triplet_margin_loss/{shape_id(sa, sp, sn)}/swap{swap}", "triplet_margin_loss",
                    {"anchor": n(*sa), "positive": n(*sp), "negative": n(*sn)},
                    {"reduction": "none", "margin": 2.0, "swap": swap})
        gen.add(f"triplet_margin_with_distance_loss/{shape_id(sa, sp, sn)}", "triplet_margin_with_distance_loss",
                {"anchor": n(*sa), "positive": n(*sp), "negative": n(*sn)},
                {"reduction": "mean", "margin": 2.0, "distance_function": "pairwise_distance"})

    # linear_cross_entropy: probability targets, (V, *out_features, D) weights, ignore_index.
    def probabilities(*shape, dim):
        return f32(torch.softmax(n(*shape, scale=2.0), dim=dim))

    for red in ("none", "mean", "sum"):
        x, w, b = n(5, 3), n(4, 3, scale=0.5), n(4)
        gen.add(f"linear_cross_entropy/probabilities/{red}", "linear_cross_entropy",
                {"input": x, "linear_weight": w, "target": probabilities(5, 4, dim=1), "linear_bias": b},
                {"reduction": red, "label_smoothing": 0.1})
        gen.add(f"linear_cross_entropy/probabilities/weighted/{red}", "linear_cross_entropy",
                {"input": x, "linear_weight": w, "target": probabilities(5, 4, dim=1),
                 "weight": rand(4, lo=0.2, hi=2.0)}, {"reduction": red})
        gen.add(f"linear_cross_entropy/probabilities/unbatched/{red}", "linear_cross_entropy",
                {"input": n(3), "linear_weight": w, "target": probabilities(4, dim=0)}, {"reduction": red})
        wk, bk = n(4, 2, 3, 3, scale=0.5), n(4, 2, 3)
        target_k = gen.randint(0, 4, 5, 2, 3)
        target_k[0, 1, 2] = -100
        gen.add(f"linear_cross_entropy/out_features/{red}", "linear_cross_entropy",
                {"input": x, "linear_weight": wk, "target": target_k, "linear_bias": bk,
                 "weight": rand(4, lo=0.2, hi=2.0)}, {"reduction": red, "label_smoothing": 0.2})
        gen.add(f"linear_cross_entropy/out_features/probabilities/{red}", "linear_cross_entropy",
                {"input": x, "linear_weight": wk, "target": probabilities(5, 4, 2, 3, dim=1)}, {"reduction": red})
        target_i = gen.randint(0, 4, 5)
        target_i[1] = 2
        gen.add(f"linear_cross_entropy/ignore_index2/{red}", "linear_cross_entropy",
                {"input": x, "linear_weight": w, "target": target_i}, {"reduction": red, "ignore_index": 2})
        gen.add(f"linear_cross_entropy/ignore_index_none/{red}", "linear_cross_entropy",
                {"input": x, "linear_weight": w, "target": t([0, -100, 3, 1, -100])}, {"reduction": red, "ignore_index": None})

    # Reductions over lists of dimensions, keepdim, and no dim.
    x4 = n(2, 3, 4, 5)
    for name in ("sum", "mean", "amax", "logsumexp"):
        for dims, keep in (([1, 3], False), ([3, -3], True), ([0, 1, 2, 3], False), ([], True), ([2], True), ([-1, 0], False)):
            gen.add(f"{name}/dims{dims}/keepdim{keep}", name, {"input": x4}, {"dim": dims, "keepdim": keep})
        if name != "logsumexp":
            gen.add(f"{name}/nodim", name, {"input": x4})
            gen.add(f"{name}/dimNone/keepdim", name, {"input": n(3, 2)}, {"dim": None, "keepdim": True})
    for name in ("softmax", "log_softmax", "softmin"):
        for dim in (0, 1, -1):
            gen.add(f"{name}/dim{dim}/float64", name, {"input": n(3, 4, 2, scale=3.0)}, {"dim": dim, "dtype": "torch.float64"})
        gen.add(f"{name}/implicit_dim", name, {"input": n(2, 3, 4)})

    # The legacy keywords, replacing reduction.
    x, y = n(3, 4), n(3, 4)
    for sa, rd in ((None, False), (False, None), (True, True), (False, True), (True, False)):
        opts = {k: v for k, v in (("size_average", sa), ("reduce", rd)) if v is not None}
        sid = f"size_average{sa}/reduce{rd}"
        gen.add(f"legacy/mse_loss/{sid}", "mse_loss", {"input": x, "target": y}, {**opts, "reduction": "sum"})
        gen.add(f"legacy/nll_loss/{sid}", "nll_loss",
                {"input": f32(torch.log_softmax(x, dim=1)), "target": t([0, 3, 1]), "weight": rand(4, lo=0.5, hi=2.0)}, opts)
        gen.add(f"legacy/kl_div/{sid}", "kl_div", {"input": x, "target": rand(3, 4)}, {**opts, "reduction": "batchmean"})
        gen.add(f"legacy/multilabel_soft_margin_loss/{sid}", "multilabel_soft_margin_loss",
                {"input": x, "target": rand(3, 4)}, opts)
        gen.add(f"legacy/triplet_margin_loss/{sid}", "triplet_margin_loss",
                {"anchor": x, "positive": y, "negative": n(3, 4)}, opts)

    # int64 targets where the target is floating point: PyTorch promotes them.
    ti = t([1, -1, -1, 1])
    gen.add("int64_target/margin_ranking_loss", "margin_ranking_loss",
            {"input1": n(4), "input2": n(4), "target": ti}, {"margin": 0.5})
    gen.add("int64_target/soft_margin_loss", "soft_margin_loss", {"input": n(4), "target": ti}, {"reduction": "none"})
    gen.add("int64_target/hinge_embedding_loss", "hinge_embedding_loss", {"input": n(4), "target": ti}, {})
    gen.add("int64_target/multilabel_soft_margin_loss", "multilabel_soft_margin_loss",
            {"input": n(2, 4), "target": t([[1, 0, 0, 1], [0, 0, 1, 1]])}, {"reduction": "none"})

    # 0-d inputs: one sample of one class.
    for red in ("none", "sum"):
        for target in (t(0), t([0])):
            gen.add(f"multi_margin_loss/0d/target{list(target.shape)}/{red}", "multi_margin_loss",
                    {"input": t(0.75), "target": target}, {"reduction": red})
            gen.add(f"multilabel_margin_loss/0d/target{list(target.shape)}/{red}", "multilabel_margin_loss",
                    {"input": t(-0.5), "target": target}, {"reduction": red})

    assert not gen.skipped, gen.skipped
    doc = {"format": "loss-reference/1", "generator": f"PyTorch {torch.__version__} (float64), make_semantics_cases.py",
           "seed": 0, "cases": gen.cases}
    with open(a.out, "w") as f:
        json.dump(doc, f)
    print(f"{len(gen.cases)} cases written to {a.out}")


if __name__ == "__main__":
    main()
