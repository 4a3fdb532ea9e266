#!/usr/bin/env python3
"""Reference cases at the places random inputs never reach, in the "loss-reference/1"
format of the shared make_cases.py, whose generator (class Gen: inputs in float32,
PyTorch in float64, gradients by autograd) this script imports rather than copies.

    python3 make_edge_cases.py --out torch-cases-kinks.json [--make-cases DIR]

- hinge kinks: margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss,
  triplet_margin_loss, triplet_margin_with_distance_loss and make_cases' hinge, with
  elements exactly at the hinge (its clamp's argument 0) and on either side: PyTorch's
  clamp backward is where(z > 0, grad, 0) there;
- cosine_embedding_loss on zero vectors, where PyTorch's epsilon (1e-12 added to each
  squared norm, as a float32) sets the gradient;
- gaussian_nll_loss with every var layout PyTorch accepts (one dimension of size 1
  anywhere, or the last dropped);
- the weight= that PyTorch 2.15 added to l1_loss, mse_loss and huber_loss;
- ctc_loss's unbatched form ((T, C) log-probabilities);
- multilabel_soft_margin_loss with weights of every shape that broadcasts to the input.
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
    from make_cases import Gen, f32  # noqa: E402
    import torch  # noqa: E402

    t = torch.tensor
    gen = Gen(0)
    for red in ("none", "sum", "mean"):
        # Kinks: each input's first element sits exactly on the hinge.
        gen.add(f"kink/margin_ranking_loss/{red}", "margin_ranking_loss",
                {"input1": t([1.0, 2.0, 0.5, -1.0]), "input2": t([1.0, 1.0, 1.0, 0.5]), "target": t([1.0, -1.0, 1.0, -1.0])},
                {"reduction": red, "margin": 0.0})
        gen.add(f"kink/margin_ranking_loss/margin/{red}", "margin_ranking_loss",
                {"input1": t([1.5, 2.0, 0.5]), "input2": t([1.0, 1.0, 1.0]), "target": t([1.0, 1.0, -1.0])},
                {"reduction": red, "margin": 0.5})
        gen.add(f"kink/hinge_embedding_loss/{red}", "hinge_embedding_loss",
                {"input": t([1.0, 0.25, 2.0, 0.5]), "target": t([-1.0, -1.0, -1.0, 1.0])},
                {"reduction": red, "margin": 1.0})
        gen.add(f"kink/hinge/{red}", "hinge",
                {"input": t([1.0, -0.5, 2.0, -1.0]), "target": t([1.0, 1.0, -1.0, -1.0])}, {"reduction": red})
        gen.add(f"kink/cosine_embedding_loss/{red}", "cosine_embedding_loss",
                {"input1": t([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]]), "input2": t([[0.0, 1.0], [1.0, 0.5], [-1.0, 0.0]]),
                 "target": t([-1.0, -1.0, -1.0])}, {"reduction": red, "margin": 0.0})
        gen.add(f"kink/triplet_margin_loss/{red}", "triplet_margin_loss",
                {"anchor": t([[0.0], [0.0], [0.0]]), "positive": t([[1.0], [1.0], [2.0]]),
                 "negative": t([[2.0], [1.5], [1.0]])},
                {"reduction": red, "margin": 1.0, "eps": 0.0})
        gen.add(f"kink/triplet_margin_loss/swap/{red}", "triplet_margin_loss",
                {"anchor": t([[0.0, 0.0], [0.0, 0.0]]), "positive": t([[1.0, 0.0], [0.5, 0.0]]),
                 "negative": t([[2.0, 0.0], [3.0, 0.0]])},
                {"reduction": red, "margin": 1.0, "eps": 0.0, "swap": True})
        gen.add(f"kink/triplet_margin_with_distance_loss/cosine/{red}", "triplet_margin_with_distance_loss",
                {"anchor": t([[1.0, 0.0], [1.0, 0.0]]), "positive": t([[0.0, 1.0], [1.0, 1.0]]),
                 "negative": t([[-1.0, 0.0], [0.0, 1.0]])},
                {"reduction": red, "margin": 1.0, "distance_function": "cosine"})
        # Zero vectors in the cosine embedding loss: the epsilon is all that is left.
        gen.add(f"cosine_embedding_loss/zero_vectors/{red}", "cosine_embedding_loss",
                {"input1": t([[0.0, 0.0], [0.0, 0.0], [3.0, -1.0]]), "input2": t([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]),
                 "target": t([1.0, -1.0, 1.0])}, {"reduction": red, "margin": -0.5})
    # Every var layout gaussian_nll_loss accepts, for a (2, 4, 3) input and a (3, 4) one.
    x3, y3 = gen.randn(2, 4, 3), gen.randn(2, 4, 3)
    for shape in ((2, 4, 3), (1, 4, 3), (2, 1, 3), (2, 4, 1), (2, 4)):
        v = gen.rand(*shape, lo=0.2, hi=2.0)
        for full in (False, True):
            gen.add(f"gaussian_nll_loss/var{'x'.join(map(str, shape))}/full{full}", "gaussian_nll_loss",
                    {"input": x3, "target": y3, "var": v}, {"reduction": "mean", "full": full})
    x2, y2 = gen.randn(3, 4), gen.randn(3, 4)
    for shape in ((1, 4), (3, 1), (3,)):
        gen.add(f"gaussian_nll_loss/var{'x'.join(map(str, shape))}/sum", "gaussian_nll_loss",
                {"input": x2, "target": y2, "var": gen.rand(*shape, lo=0.2, hi=2.0)}, {"reduction": "sum"})
    # PyTorch 2.15's weight= on l1_loss, mse_loss and huber_loss (the input's shape).
    xw, yw = gen.randn(3, 4), gen.randn(3, 4)
    ww, zeros = gen.rand(3, 4, lo=0.0, hi=2.0), torch.zeros(3, 4)
    for red in ("none", "sum", "mean"):
        for name, opts in (("l1_loss", {}), ("mse_loss", {}), ("huber_loss", {"delta": 0.5})):
            gen.add(f"weight/{name}/{red}", name, {"input": xw, "target": yw, "weight": ww}, {"reduction": red, **opts})
            if red == "mean":  # all-zero weights: 0/0 for l1 and mse, 0 for huber
                gen.add(f"weight/{name}/zeros/{red}", name, {"input": xw, "target": yw, "weight": zeros},
                        {"reduction": red, **opts})
    # multilabel_soft_margin_loss's weight, broadcast as PyTorch broadcasts it.
    xm, ym = gen.randn(3, 4), f32((gen.rand(3, 4) > 0.5).double())
    for shape in ((4,), (1, 4), (3, 1), (3, 4)):
        gen.add(f"multilabel_soft_margin_loss/weight{'x'.join(map(str, shape))}", "multilabel_soft_margin_loss",
                {"input": xm, "target": ym, "weight": gen.rand(*shape, lo=0.2, hi=2.0)}, {"reduction": "mean"})
    # ctc_loss's unbatched form: log_probs (T, C), targets (S) or (1, S), lengths () or (1).
    lp = torch.log_softmax(gen.randn(6, 4, scale=2.0), dim=1)
    for red in ("none", "sum", "mean"):
        gen.add(f"ctc_loss/unbatched/{red}", "ctc_loss",
                {"log_probs": lp, "targets": t([1, 2, 2]), "input_lengths": t(6), "target_lengths": t(3)},
                {"reduction": red, "blank": 0})
        gen.add(f"ctc_loss/unbatched/padded/{red}", "ctc_loss",
                {"log_probs": lp, "targets": t([[3, 1, 0, 0]]), "input_lengths": t([5]), "target_lengths": t([2])},
                {"reduction": red, "blank": 0, "zero_infinity": True})
    assert not gen.skipped, gen.skipped
    doc = {"format": "loss-reference/1", "generator": f"PyTorch {torch.__version__} (float64), make_edge_cases.py",
           "seed": 0, "cases": gen.cases}
    with open(a.out, "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
