#!/usr/bin/env python3
"""Reference cases at values that break naive formulas, in the "loss-reference/1" format of
the shared make_cases.py, whose generator (class Gen: inputs in float32, PyTorch in float64,
gradients by autograd) this script imports rather than copies.

    python3 make_hard_value_cases.py --out torch-cases-hard-values.json [--make-cases DIR]

Every input is exact in float32, so LossKit's Float and Double see the same values:

- cross-entropy under a large common offset of the logits (1e10, 1e13, 1e17, -1e17): rows
  of tied logits, whose loss is log of the number of ties, and rows whose target trails by
  one float32 step; class indices and probabilities, label smoothing, class weights, classes
  not last, rows of 4, 40 and 300 classes; the same for the z-loss, focal cross-entropy and
  linear_cross_entropy (a head whose logits carry the offset);
- cross-entropy with a +inf logit (NaN in PyTorch, in float32 and float64);
- NaN inputs to the losses with a hinge (margin_ranking_loss, hinge_embedding_loss,
  cosine_embedding_loss, the triplet losses, hinge, squared_hinge, multi_margin_loss,
  multilabel_margin_loss): PyTorch's clamp keeps NaN, and its backward passes 0 that the
  chain rule then multiplies;
- amax of a row holding NaN, logsumexp of a row holding +inf, l1_loss where input - target
  is NaN;
- sigmoid_focal with gamma < 1 where torchvision's 1 - p_t rounds to 0 (its gradient is NaN
  there; LossKit's, a deliberate difference, is finite: `losskit verify` reports DIFF).
"""
import argparse, json, math, os, sys

here = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--make-cases", default=os.path.join(here, "..", "..", "..", "shared", "reference"),
                    help="directory of make_cases.py")
    a = ap.parse_args()
    sys.path.insert(0, a.make_cases)
    from make_cases import Gen, f32  # noqa: E402
    import torch  # noqa: E402

    t = torch.tensor
    inf, nan = math.inf, math.nan
    gen = Gen(0)

    def exact(values):
        """A float32-exact tensor: fails rather than round an input."""
        x = t(values)
        assert torch.equal(f32(x), x) or bool(((f32(x) == x) | x.isnan()).all()), values
        return x

    # Offsets and their float32 spacing (the smallest step a trailing logit can take).
    e10, e13, e17 = float(f32(t(1e10))), float(f32(t(1e13))), float(f32(t(1e17)))
    u10 = 1024.0
    u13 = float(torch.nextafter(torch.tensor(e13, dtype=torch.float32), torch.tensor(inf, dtype=torch.float32))) - e13
    u17 = float(torch.nextafter(torch.tensor(e17, dtype=torch.float32), torch.tensor(inf, dtype=torch.float32))) - e17
    offset_rows = exact([
        [e17, e17, e17, e17],                  # ties: log 4
        [e10, e10, e10, e10 - u10],            # target trails by one step
        [e13, e13 - u13, e13, e13 + u13],
        [-e17, -e17, -e17 - u17, -e17],
    ])
    offset_targets = t([0, 3, 1, 2])
    weights = exact([0.5, 2.0, 1.0, 0.25])
    for red in ("none", "mean", "sum"):
        gen.add(f"offset/cross_entropy/indices/{red}", "cross_entropy",
                {"input": offset_rows, "target": offset_targets}, {"reduction": red})
        gen.add(f"offset/cross_entropy/indices/{red}/label_smoothing0.1", "cross_entropy",
                {"input": offset_rows, "target": offset_targets}, {"reduction": red, "label_smoothing": 0.1})
        gen.add(f"offset/cross_entropy/indices/{red}/weight/label_smoothing0.1", "cross_entropy",
                {"input": offset_rows, "target": offset_targets, "weight": weights},
                {"reduction": red, "label_smoothing": 0.1})
        probs = exact([[0.0, 1.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]])
        gen.add(f"offset/cross_entropy/probabilities/{red}", "cross_entropy",
                {"input": offset_rows, "target": probs}, {"reduction": red})
        gen.add(f"offset/cross_entropy/probabilities/{red}/weight/label_smoothing0.1", "cross_entropy",
                {"input": offset_rows, "target": probs, "weight": weights}, {"reduction": red, "label_smoothing": 0.1})
    # One row, [1e17] * 4, target 0: log 4 whatever the precision.
    row = exact([[e17] * 4])
    gen.add("offset/cross_entropy/1e17x4", "cross_entropy", {"input": row, "target": t([0])}, {"reduction": "none"})
    gen.add("offset/cross_entropy/1e17x4/label_smoothing0.1", "cross_entropy", {"input": row, "target": t([0])},
            {"reduction": "none", "label_smoothing": 0.1})
    gen.add("offset/cross_entropy/1e17x4/probabilities", "cross_entropy",
            {"input": row, "target": exact([[0.0, 1.0, 0.0, 0.0]])}, {"reduction": "none"})
    # Classes not last, (N, C, d): the strided path.
    strided = offset_rows.reshape(2, 2, 4).transpose(1, 2).contiguous()  # (2, 4, 2)
    gen.add("offset/cross_entropy/indices/2x4x2/none", "cross_entropy",
            {"input": strided, "target": t([[0, 3], [1, 2]])}, {"reduction": "none"})
    gen.add("offset/cross_entropy/indices/2x4x2/none/label_smoothing0.1", "cross_entropy",
            {"input": strided, "target": t([[0, 3], [1, 2]])}, {"reduction": "none", "label_smoothing": 0.1})
    # Longer rows (the vectorized paths for rows of 16 or more and of 256 or more).
    for c in (40, 300):
        long_rows = torch.full((3, c), e17)
        long_rows[1] = e10
        long_rows[1, 1::3] = e10 - u10
        long_rows[2] = -e17
        long_rows[2, ::7] = -e17 + u17
        long_rows = exact(long_rows.tolist())
        for red in ("none", "mean"):
            gen.add(f"offset/cross_entropy/indices/3x{c}/{red}", "cross_entropy",
                    {"input": long_rows, "target": t([0, 1, 7])}, {"reduction": red})
            gen.add(f"offset/cross_entropy/indices/3x{c}/{red}/label_smoothing0.1", "cross_entropy",
                    {"input": long_rows, "target": t([0, 1, 7])}, {"reduction": red, "label_smoothing": 0.1})
    # The z-loss and focal cross-entropy at an offset (the z-loss's lse^2 takes lse itself).
    moderate = exact([[1e4, 1e4 + 0.5, 1e4 - 0.25], [1e4 + 1.0, 1e4, 1e4]])
    for red in ("none", "mean"):
        gen.add(f"offset/cross_entropy_z_loss/{red}", "cross_entropy_z_loss",
                {"input": moderate, "target": t([0, 2])}, {"reduction": red, "z_loss": 1e-4})
        gen.add(f"offset/focal_cross_entropy/{red}", "focal_cross_entropy",
                {"input": offset_rows, "target": offset_targets}, {"reduction": red, "gamma": 2.0})
    # A linear head whose bias carries the offset; input · weight is a multiple of the
    # offset's float32 step, so every logit is exact in float32 (and the input's gradient,
    # G · weight, does not cancel as it would with the offset in the weight).
    from make_cases import tensor_json  # noqa: E402
    import torch.nn.functional as F  # noqa: E402

    def add_linear(cid, inputs, options):
        leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items() if k != "target"}
        out = F.linear_cross_entropy(leaves["input"], leaves["linear_weight"], inputs["target"],
                                     linear_bias=leaves["linear_bias"], **options)
        up = torch.ones(()) if out.dim() == 0 else gen.randn(*out.shape)
        grads = torch.autograd.grad(out, list(leaves.values()), grad_outputs=up)
        gen.cases.append({"id": cid, "function": "linear_cross_entropy", "options": options,
                          "inputs": {k: tensor_json(v) for k, v in inputs.items()}, "output": tensor_json(out),
                          "upstream": tensor_json(up), "gradients": {k: tensor_json(g) for k, g in zip(leaves, grads)}})

    head = {"input": exact([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]),
            "linear_weight": exact([[u10, 0.0], [0.0, u10], [u10, u10], [-u10, 0.0], [0.0, -2 * u10]]),
            "target": t([0, 3, 4]), "linear_bias": exact([e10, e10, e10 - u10, e10, e10])}
    for red in ("none", "mean"):
        for opts in ({}, {"label_smoothing": 0.1}):
            add_linear(f"offset/linear_cross_entropy/{red}{'/label_smoothing0.1' if opts else ''}", head,
                       {"reduction": red, **opts})

    # +inf logits: NaN rows, in PyTorch's float32 and float64 alike.
    for red in ("none", "mean"):
        gen.add(f"inf/cross_entropy/{red}", "cross_entropy",
                {"input": exact([[inf, 0.0, 1.0], [0.0, 1.0, 2.0], [1.0, inf, 0.0]]), "target": t([0, 1, 2])},
                {"reduction": red})

    # NaN behind hinges.
    for red in ("none", "mean", "sum"):
        gen.add(f"nan/margin_ranking_loss/{red}", "margin_ranking_loss",
                {"input1": exact([nan, 1.0, 2.0, 0.5]), "input2": exact([0.0, 3.0, 1.0, nan]),
                 "target": exact([-1.0, 1.0, -1.0, 1.0])}, {"reduction": red, "margin": 0.3})
        gen.add(f"nan/hinge_embedding_loss/{red}", "hinge_embedding_loss",
                {"input": exact([nan, 1.0, nan, 0.5]), "target": exact([-1.0, 1.0, 1.0, -1.0])},
                {"reduction": red, "margin": 1.0})
        gen.add(f"nan/cosine_embedding_loss/{red}", "cosine_embedding_loss",
                {"input1": exact([[nan, 1.0], [1.0, 2.0], [0.0, 1.0]]),
                 "input2": exact([[1.0, 1.0], [1.0, 0.0], [nan, 2.0]]), "target": exact([-1.0, -1.0, 1.0])},
                {"reduction": red, "margin": 0.0})
        triplet = {"anchor": exact([[nan, 1.0], [1.0, 2.0], [0.0, 0.0]]),
                   "positive": exact([[1.0, 1.0], [1.0, 0.0], [2.0, 0.0]]),
                   "negative": exact([[0.0, 1.0], [5.0, 5.0], [1.0, nan]])}
        for p, swap in ((2.0, False), (2.0, True), (1.0, False)):
            gen.add(f"nan/triplet_margin_loss/{red}/p{p}/swap{swap}", "triplet_margin_loss", triplet,
                    {"reduction": red, "margin": 1.0, "p": p, "swap": swap})
        gen.add(f"nan/triplet_margin_with_distance_loss/cosine/{red}", "triplet_margin_with_distance_loss", triplet,
                {"reduction": red, "margin": 0.5, "distance_function": "cosine"})
        gen.add(f"nan/hinge/{red}", "hinge", {"input": exact([nan, 0.5, 2.0]), "target": exact([1.0, -1.0, 1.0])},
                {"reduction": red})
        gen.add(f"nan/squared_hinge/{red}", "squared_hinge",
                {"input": exact([nan, 0.5, 2.0]), "target": exact([1.0, -1.0, 1.0])}, {"reduction": red})
        gen.add(f"nan/multi_margin_loss/{red}", "multi_margin_loss",
                {"input": exact([[nan, 1.0, 0.5], [0.25, 0.125, 0.875]]), "target": t([1, 2])}, {"reduction": red})
        gen.add(f"nan/multilabel_margin_loss/{red}", "multilabel_margin_loss",
                {"input": exact([[nan, 1.0, 0.5], [0.25, 0.125, 0.875]]), "target": t([[1, -1, 0], [2, 0, -1]])},
                {"reduction": red})
        gen.add(f"nan/l1_loss/{red}", "l1_loss",
                {"input": exact([nan, 1.0, 2.0, 3.0]), "target": exact([1.0, nan, 2.0, 1.0])}, {"reduction": red})

    # Reductions with NaN and +inf.
    gen.add("nan/amax/dim1", "amax", {"input": exact([[nan, 1.0, 2.0], [1.0, 3.0, 3.0]])}, {"dim": 1})
    gen.add("inf/logsumexp/dim1", "logsumexp",
            {"input": exact([[inf, 1.0, 2.0], [1.0, 2.0, 3.0], [-inf, -inf, -inf], [inf, inf, 0.0]])}, {"dim": 1})

    # torchvision's sigmoid focal loss with gamma < 1 where its 1 - p_t rounds to 0 in float64
    # (logits beyond about 37 toward the target): NaN gradient there (0 · inf).
    for red in ("none", "mean"):
        gen.add(f"saturated/sigmoid_focal/{red}/gamma0.5", "sigmoid_focal",
                {"input": exact([40.0, -40.0, 100.0, 3.0]), "target": exact([1.0, 0.0, 1.0, 1.0])},
                {"reduction": red, "alpha": 0.25, "gamma": 0.5})

    assert not gen.skipped, gen.skipped
    doc = {"format": "loss-reference/1", "generator": f"PyTorch {torch.__version__} (float64), make_hard_value_cases.py",
           "seed": 0, "cases": gen.cases}
    with open(a.out, "w") as f:
        json.dump(doc, f)
    print(f"{len(gen.cases)} cases written to {a.out}")


if __name__ == "__main__":
    main()
