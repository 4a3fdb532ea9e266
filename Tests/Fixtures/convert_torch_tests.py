#!/usr/bin/env python3
"""PyTorch's own test samples for the functions LossKit implements, as
"loss-reference/1" cases (the format is documented in the shared make_cases.py).

    python3 convert_torch_tests.py --out torch-cases-pytorch-suite.json

Sources, all from the installed torch's `torch.testing._internal`:

  opinfo     the `sample_inputs` (float32, requires_grad=True) of every OpInfo in
             `common_methods_invocations.op_db` whose function LossKit implements
             (`nn.functional.cross_entropy`, ..., `softmax`, `sum`, ...; variants
             such as `softmax.with_dtype` included); id `opinfo/<op>[.<variant>]/<k>`
  module     the `module_inputs_func` samples (float32) of the loss, softmax,
             log-softmax and softmin modules of `common_modules.module_db`;
             id `module/<class>/<k>`
  common_nn  the criterion tests and the loss/softmax module tests of `common_nn`
             (`criterion_tests`, `module_tests`, `get_new_module_tests()`);
             id `common_nn/<test name>`

How a sample becomes a case:
  - Arguments are bound to the PyTorch function's parameter names
    (`inspect.signature`; a fixed table for the C builtins torch.softmax, sum, ...).
    Tensors become inputs under those names, `weight` and `pos_weight` keyword
    constants; everything else is an option, written as the sample gives it
    (`dim` as an int or a list, `keepdim`, legacy `size_average` / `reduce`,
    `dtype` as its Python name, e.g. "torch.float64"). Python lists of lengths
    (`ctc_loss`) become int64 tensors. `triplet_margin_with_distance_loss`'s
    `nn.PairwiseDistance()` (p 2, eps 1e-6) is written "pairwise_distance";
    `linear_cross_entropy`'s `options=` (chunking only) is left out.
  - A module sample's tensors are the arguments its `forward` passes to the
    functional (found by recording that call with a TorchFunctionMode), its
    options the constructor's arguments (bound by `__init__`'s signature;
    `LinearCrossEntropyLoss`'s `in_features`, `num_classes`, `out_features`,
    `bias`, `device` and `dtype` only shape its parameters, which become the
    inputs `linear_weight` and `linear_bias`). A common_nn test is recorded the
    same way; its options are the keyword arguments of the recorded call that
    differ from the function's defaults.
  - Floating inputs are rounded to float32 values, integer and bool ones written
    as int64. PyTorch then evaluates the function in float64; the gradients, by
    autograd, are those of every floating input that requires grad in the sample
    (module parameters included), except `weight` and `pos_weight`. The upstream
    gradient is all ones for a 0-d output, otherwise float32-exact normal values
    drawn from a generator seeded with the case id's CRC-32.
  - Self-check: the case's float64 output is compared with PyTorch's own float32
    evaluation of the original call (relative 1e-5, plus 1e-6 of the largest
    magnitude; NaN and infinities must match). Where that fails, the original
    call is evaluated in float64 on the same inputs: if it agrees with the case
    (1e-12) the difference is float32 rounding and the case is kept, otherwise
    the case is left out.
  - Samples that cannot be written are counted by reason; exact duplicates
    (same function, options and inputs) are written once. The counts are printed
    and stored in the file's "summary".

Deterministic: torch's, Python's `random` and NumPy's generators are seeded with
the CRC-32 of a name before the test modules are imported ("import"), before
`get_new_module_tests()` ("get_new_module_tests") and before each OpInfo's (with
its variant), module's and common_nn test's samples are drawn (its name).
"""
import argparse
import copy
import inspect
import json
import math
import random
import sys
import types
import unittest
import warnings
import zlib
from collections import Counter, OrderedDict, defaultdict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# ---------------------------------------------------------------------------
# Which PyTorch functions are LossKit functions.

LOSSKIT_FUNCTIONS = {
    "l1_loss", "mse_loss", "rmse", "mape", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "softmax", "log_softmax", "logsumexp", "sum", "mean", "amax",
    "multi_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "focal_cross_entropy",
    "cross_entropy_z_loss", "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "multivariate_gaussian_nll", "ctc_loss", "smooth_l1_loss", "huber_loss", "msle", "log_cosh",
    "soft_margin_loss", "hinge", "squared_hinge", "margin_ranking_loss", "hinge_embedding_loss", "sigmoid_focal",
    "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "dice", "linear_cross_entropy", "softmin",
}

# The PyTorch callables, by identity, and the LossKit name each one is.
FUNCTION_NAMES = {}
for _name in sorted(LOSSKIT_FUNCTIONS):
    if hasattr(F, _name):
        FUNCTION_NAMES[getattr(F, _name)] = _name
for _name in ("softmax", "log_softmax", "logsumexp", "sum", "mean", "amax"):
    FUNCTION_NAMES[getattr(torch, _name)] = _name

# C builtins have no inspectable signature: their positional parameter names.
BUILTIN_PARAMETERS = {
    torch.softmax: ("input", "dim", "dtype"),
    torch.log_softmax: ("input", "dim", "dtype"),
    torch.logsumexp: ("input", "dim", "keepdim"),
    torch.sum: ("input", "dim", "keepdim", "dtype"),
    torch.mean: ("input", "dim", "keepdim", "dtype"),
    torch.amax: ("input", "dim", "keepdim"),
}

MODULE_FUNCTIONS = {
    "CrossEntropyLoss": "cross_entropy", "NLLLoss": "nll_loss", "MSELoss": "mse_loss", "L1Loss": "l1_loss",
    "SmoothL1Loss": "smooth_l1_loss", "HuberLoss": "huber_loss", "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "KLDivLoss": "kl_div",
    "PoissonNLLLoss": "poisson_nll_loss", "GaussianNLLLoss": "gaussian_nll_loss",
    "MarginRankingLoss": "margin_ranking_loss", "HingeEmbeddingLoss": "hinge_embedding_loss",
    "SoftMarginLoss": "soft_margin_loss", "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
    "MultiLabelMarginLoss": "multilabel_margin_loss", "MultiMarginLoss": "multi_margin_loss",
    "CosineEmbeddingLoss": "cosine_embedding_loss", "TripletMarginLoss": "triplet_margin_loss",
    "TripletMarginWithDistanceLoss": "triplet_margin_with_distance_loss", "CTCLoss": "ctc_loss",
    "Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin",
    "LinearCrossEntropyLoss": "linear_cross_entropy",
}
# Constructor arguments that only shape a module's parameters.
STRUCTURAL_CONSTRUCTOR_ARGS = {"in_features", "num_classes", "out_features", "bias", "device", "dtype"}

CONSTANT_INPUTS = ("weight", "pos_weight")
TENSOR_PARAMETERS = {"weight", "pos_weight", "linear_bias"}  # None means "absent"
LENGTH_PARAMETERS = {"input_lengths", "target_lengths"}


class Unexpressible(Exception):
    """A sample the format cannot hold; the message is the reason."""


# ---------------------------------------------------------------------------
# Importing torch.testing._internal without its test-only dependencies.

class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "TestCase":
            return unittest.TestCase
        return type(name, (), {})


def import_testing():
    stubbed = []
    for _ in range(20):
        try:
            import torch.testing._internal.common_methods_invocations as cmi
            import torch.testing._internal.common_modules as cm
            import torch.testing._internal.common_nn as cnn
            return cmi, cm, cnn, stubbed
        except ModuleNotFoundError as e:
            if not e.name or e.name.startswith("torch") or e.name in sys.modules:
                raise
            sys.modules[e.name] = _StubModule(e.name)
            stubbed.append(e.name)
    raise RuntimeError("could not import torch.testing._internal")


# ---------------------------------------------------------------------------
# Tensors and numbers as JSON.

def number_json(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def tensor_json(t):
    t = t.detach()
    if not t.is_floating_point():
        return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.reshape(-1).tolist()]}
    return {"shape": list(t.shape), "dtype": "float32",
            "data": [number_json(float(v)) for v in t.double().reshape(-1).tolist()]}


def round_tensor(t):
    """float32 values in float64 storage; integers and bools as int64."""
    t = t.detach()
    if t.is_floating_point():
        return t.float().double()
    return t.to(torch.int64)


def tree_map(fn, value):
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(tree_map(fn, v) for v in value)
    if isinstance(value, list):
        return [tree_map(fn, v) for v in value]
    if isinstance(value, dict):
        return {k: tree_map(fn, v) for k, v in value.items()}
    return value


def cast_to(dtype):
    """The original sample's tensors in `dtype` (floats rounded to float32 first)."""
    def cast(t):
        t = t.detach()
        return t.float().to(dtype) if t.is_floating_point() else t
    return cast


# ---------------------------------------------------------------------------
# Binding arguments to PyTorch's parameter names.

def bind(fn, args, kwargs):
    if fn in BUILTIN_PARAMETERS:
        names = BUILTIN_PARAMETERS[fn]
        if len(args) > len(names):
            raise Unexpressible("more positional arguments than known parameters")
        bound = OrderedDict(zip(names, args))
        for k, v in kwargs.items():
            if k in bound:
                raise Unexpressible(f"argument {k} given twice")
            bound[k] = v
        return bound, {}
    sig = inspect.signature(fn)
    ba = sig.bind(*args, **kwargs)
    defaults = {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    return OrderedDict(ba.arguments), defaults


def is_default(value, default):
    if isinstance(value, torch.Tensor) or isinstance(default, torch.Tensor):
        return False
    try:
        return type(value) is type(default) and value == default or (value is None and default is None)
    except Exception:  # noqa: BLE001
        return False


class Recorder(TorchFunctionMode):
    """Records the top-level torch-function calls (nested calls run with the mode popped)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        self.calls.append((func, args, kwargs, result))
        return result


def recorded_call(run):
    """Runs `run()`; returns (func, args, kwargs, output) of the LossKit function whose
    result it returned, or None when it called none."""
    with Recorder() as rec:
        out = run()
    known = [c for c in rec.calls if c[0] in FUNCTION_NAMES]
    if not known:
        return None
    for c in known:
        if c[3] is out:
            return c
    raise Unexpressible("output is not the result of one functional call")


# ---------------------------------------------------------------------------
# A candidate: one sample, bound to names, before conversion.

class Candidate:
    def __init__(self, source, cid, label, fname, fn, bound, original, drop_defaults=None, options_override=None):
        self.source = source        # "opinfo", "module", "common_nn"
        self.cid = cid
        self.label = label          # the op / module / test it came from (for the summary)
        self.fname = fname          # LossKit name
        self.fn = fn                # the callable evaluated for the reference
        self.bound = bound          # name -> value, as PyTorch passes it
        self.original = original    # cast -> PyTorch's own output of the original call
        self.drop_defaults = drop_defaults or {}
        self.options_override = options_override


def option_value(name, value, notes):
    """JSON option and Python keyword value for a non-tensor argument."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value, value
    if isinstance(value, int):
        return value, value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unexpressible(f"non-finite option {name}")
        return value, value
    if isinstance(value, torch.dtype):
        return str(value), value
    if isinstance(value, (list, tuple, torch.Size)) and all(isinstance(v, int) and not isinstance(v, bool)
                                                             for v in value):
        return list(value), value
    if name == "distance_function":
        if value is F.pairwise_distance or (isinstance(value, nn.PairwiseDistance) and value.norm == 2.0
                                           and value.eps == 1e-6 and not value.keepdim):
            return "pairwise_distance", value
        raise Unexpressible("non-tensor kwarg: callable distance_function")
    if name == "options" and type(value).__name__ == "LinearCrossEntropyOptions":
        notes["linear_cross_entropy options= (chunking) left out"] += 1
        return None, None
    if callable(value):
        raise Unexpressible(f"non-tensor kwarg: callable {name}")
    raise Unexpressible(f"non-JSON kwarg: {name} of type {type(value).__name__}")


class Converter:
    def __init__(self):
        self.cases = []
        self.seen = {}
        self.reasons = Counter()             # reason -> count
        self.reasons_by_label = defaultdict(Counter)  # reason -> label -> count
        self.notes = Counter()
        self.per_source = defaultdict(Counter)
        self.selfcheck = Counter()

    def reject(self, source, label, reason):
        self.reasons[reason] += 1
        self.reasons_by_label[reason][label] += 1
        self.per_source[source]["unexpressible"] += 1

    def add(self, cand):
        self.per_source[cand.source]["samples"] += 1
        try:
            case = self.convert(cand)
        except Unexpressible as e:
            self.reject(cand.source, cand.label, str(e))
            return
        key = json.dumps([case["function"], case["options"], case["inputs"]], sort_keys=True)
        if key in self.seen:
            self.per_source[cand.source]["duplicates"] += 1
            self.notes["exact duplicate written once"] += 1
            return
        self.seen[key] = case["id"]
        self.cases.append(case)
        self.per_source[cand.source]["cases"] += 1

    def convert(self, cand):
        inputs, constants, options, pykw = OrderedDict(), OrderedDict(), OrderedDict(), {}
        grad_names = []
        for name, value in cand.bound.items():
            if name == "_stacklevel":
                continue
            if name in cand.drop_defaults and is_default(value, cand.drop_defaults[name]):
                continue
            if isinstance(value, torch.Tensor):
                if value.is_complex():
                    raise Unexpressible("complex dtype")
                if value.dtype in (torch.float16, torch.bfloat16):
                    self.notes[f"{value.dtype} input rounded to float32"] += 1
                if not value.is_floating_point() and value.dtype not in (torch.int64,):
                    self.notes[f"{str(value.dtype)[6:]} tensor written as int64"] += 1
                if value.requires_grad and not value.is_floating_point():
                    raise Unexpressible("requires_grad on integer")
                if name in CONSTANT_INPUTS:
                    constants[name] = round_tensor(value)
                else:
                    inputs[name] = round_tensor(value)
                    if value.requires_grad and value.is_floating_point():
                        grad_names.append(name)
                continue
            if name in LENGTH_PARAMETERS and isinstance(value, (list, tuple)):
                inputs[name] = torch.tensor(list(value), dtype=torch.int64)
                self.notes["ctc_loss length list written as int64 tensor"] += 1
                continue
            if value is None and name in TENSOR_PARAMETERS:
                continue
            j, p = option_value(name, value, self.notes)
            if j is None and p is None and name == "options":
                continue
            options[name] = j
            pykw[name] = p
        if cand.options_override is not None:
            options, pykw = cand.options_override
        if not inputs:
            raise Unexpressible("no tensor input")

        out, up, grads = self.evaluate(cand, inputs, constants, pykw, grad_names)
        if not isinstance(out, torch.Tensor):
            raise Unexpressible("output is not a tensor")
        if not out.is_floating_point():
            raise Unexpressible("output is not floating-point")
        self.self_check(cand, out)
        if not torch.isfinite(out).all():
            self.notes["output not finite (kept: NaN/Infinity as strings)"] += 1

        case_inputs = OrderedDict((k, tensor_json(v)) for k, v in inputs.items())
        for k, v in constants.items():
            case_inputs[k] = tensor_json(v)
        return {
            "id": cand.cid,
            "function": cand.fname,
            "options": options,
            "inputs": case_inputs,
            "output": tensor_json(out),
            "upstream": tensor_json(up),
            "gradients": grads,
        }

    def call(self, cand, inputs, constants, pykw, leaves):
        kwargs = dict(pykw)
        for k, v in inputs.items():
            kwargs[k] = leaves.get(k, v)
        kwargs.update(constants)
        return cand.fn(**kwargs)

    def evaluate(self, cand, inputs, constants, pykw, grad_names):
        def attempt(names):
            leaves = {k: inputs[k].clone().requires_grad_(True) for k in names}
            out = self.call(cand, inputs, constants, pykw, leaves)
            if not isinstance(out, torch.Tensor):
                return out, None, {}
            up = torch.ones((), dtype=torch.float64) if out.dim() == 0 else upstream_for(cand.cid, out.shape)
            grads = {}
            if leaves and out.requires_grad:
                gs = torch.autograd.grad(out, list(leaves.values()), grad_outputs=up.to(out.dtype),
                                         allow_unused=True)
                for k, g in zip(leaves, gs):
                    if g is not None:
                        grads[k] = tensor_json(g)
            return out.detach(), up, grads

        try:
            return attempt(grad_names)
        except Exception as first:  # noqa: BLE001
            try:
                out, up, _ = attempt([])
            except Exception as e:  # noqa: BLE001
                raise Unexpressible(f"torch raised: {type(e).__name__}: {short(e)}")
            # Differentiate what autograd can; name what it cannot.
            kept = []
            for k in grad_names:
                try:
                    attempt([k])
                    kept.append(k)
                except Exception:  # noqa: BLE001
                    self.notes[f"{cand.fname}: no gradient for {k} ({type(first).__name__})"] += 1
            return attempt(kept)

    def self_check(self, cand, out):
        try:
            with torch.no_grad():
                want32 = cand.original(cast_to(torch.float32))
        except Exception as e:  # noqa: BLE001
            raise Unexpressible(f"original call raised in float32: {type(e).__name__}: {short(e)}")
        if close(out, want32, 1e-5, 1e-6):
            self.selfcheck["agrees with float32 within 1e-5"] += 1
            return
        try:
            with torch.no_grad():
                want64 = cand.original(cast_to(torch.float64))
        except Exception as e:  # noqa: BLE001
            raise Unexpressible(f"original call raised in float64: {type(e).__name__}: {short(e)}")
        if close(out, want64, 1e-12, 1e-14):
            self.selfcheck["float32 evaluation off by more than 1e-5, float64 agrees (kept)"] += 1
            return
        self.selfcheck["disagrees with the original call (left out)"] += 1
        raise Unexpressible("self-check: differs from the original call")


def short(e):
    s = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return s[:90]


def upstream_for(cid, shape):
    g = torch.Generator().manual_seed(zlib.crc32(cid.encode()))
    return torch.randn(tuple(shape), generator=g, dtype=torch.float64).float().double()


def close(got, want, rel, absolute):
    if not isinstance(want, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
        return False
    g, w = got.detach().double(), want.detach().double()
    if not torch.equal(torch.isnan(g), torch.isnan(w)):
        return False
    inf = torch.isinf(g) | torch.isinf(w)
    if not torch.equal(g[inf], w[inf]):
        return False
    fin = torch.isfinite(w) & torch.isfinite(g)
    if fin.sum() == 0:
        return True
    scale = w[fin].abs().max()
    return bool(((g[fin] - w[fin]).abs() <= rel * w[fin].abs() + absolute * scale).all())


# ---------------------------------------------------------------------------
# Sources.

def opinfo_candidates(cmi, conv):
    for op in cmi.op_db:
        base = op.name
        fname = base[len("nn.functional."):] if base.startswith("nn.functional.") else base
        if fname not in LOSSKIT_FUNCTIONS:
            continue
        label = base + ("." + op.variant_test_name if op.variant_test_name else "")
        dtype = torch.float32 if torch.float32 in op.supported_dtypes("cpu") else torch.float64
        seed_for(label)
        samples = list(op.sample_inputs("cpu", dtype, requires_grad=True))
        for k, s in enumerate(samples):
            cid = f"opinfo/{label}/{k}"
            try:
                bound, _ = bind(op.op, (s.input,) + tuple(s.args), dict(s.kwargs))
            except Unexpressible as e:
                conv.per_source["opinfo"]["samples"] += 1
                conv.reject("opinfo", label, str(e))
                continue

            def original(cast, s=s, op=op):
                return op.op(tree_map(cast, s.input), *tree_map(cast, tuple(s.args)), **tree_map(cast, dict(s.kwargs)))
            yield Candidate("opinfo", cid, label, fname, op.op, bound, original)


def module_candidates(cm, conv):
    for info in cm.module_db:
        cls = info.module_cls
        name = cls.__name__
        if name not in MODULE_FUNCTIONS:
            continue
        fname = MODULE_FUNCTIONS[name]
        seed_for(name)
        inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float32, requires_grad=True, training=True)
        for k, mi in enumerate(inputs):
            cid = f"module/{name}/{k}"
            ci, fi = mi.constructor_input, mi.forward_input
            if fi is None:
                continue
            try:
                module = cls(*ci.args, **ci.kwargs)
                ctor = inspect.signature(cls.__init__).bind(None, *ci.args, **ci.kwargs).arguments
                ctor.pop(next(iter(ctor)))  # self
                rec = recorded_call(lambda: module(*fi.args, **fi.kwargs))
                if rec is None:
                    raise Unexpressible("forward calls no LossKit function")
                func, args, kwargs, _ = rec
                traced, defaults = bind(func, args, kwargs)
                bound = OrderedDict()
                for key, value in traced.items():
                    if isinstance(value, torch.Tensor) or (key in LENGTH_PARAMETERS and isinstance(value, (list, tuple))):
                        bound[key] = value
                params = set(defaults) | set(traced)
                for key, value in ctor.items():
                    if key in STRUCTURAL_CONSTRUCTOR_ARGS and name == "LinearCrossEntropyLoss":
                        continue
                    if key in CONSTANT_INPUTS:
                        continue  # the module passes its weight buffer: taken from the call
                    if key not in params:
                        raise Unexpressible(f"constructor kwarg without functional counterpart: {key}")
                    bound[key] = value
            except Unexpressible as e:
                conv.per_source["module"]["samples"] += 1
                conv.reject("module", name, str(e))
                continue
            except Exception as e:  # noqa: BLE001
                conv.per_source["module"]["samples"] += 1
                conv.reject("module", name, f"torch raised: {type(e).__name__}: {short(e)}")
                continue

            def original(cast, module=module, fi=fi):
                m = copy.deepcopy(module)
                m.to(dtype=torch.float32)
                m.to(dtype=cast(torch.zeros(1)).dtype)
                return m(*tree_map(cast, tuple(fi.args)), **tree_map(cast, dict(fi.kwargs)))
            yield Candidate("module", cid, name, fname, func, bound, original)


def common_nn_tests(cnn):
    seed_for("get_new_module_tests")
    new_tests = cnn.get_new_module_tests()
    for t in cnn.criterion_tests:
        yield "criterion", t
    for t in list(cnn.module_tests) + list(new_tests):
        yield "module", t


def test_name(kind, t):
    if t.get("fullname"):
        return t["fullname"]
    base = t.get("module_name") or getattr(t.get("constructor"), "__name__", "?")
    return base + ("_" + t["desc"] if t.get("desc") else "")


def common_nn_candidates(cnn, conv):
    names = Counter()
    for kind, t in common_nn_tests(cnn):
        name = test_name(kind, t)
        names[name] += 1
        if names[name] > 1:
            name = f"{name}#{names[name]}"
        args = {k: v for k, v in t.items() if k not in ("fullname",)}
        args.setdefault("constructor", getattr(nn, t.get("module_name", ""), None))
        if args["constructor"] is None:
            continue
        args.pop("module_name", None)
        default_dtype = t.get("default_dtype", torch.float32)
        previous = torch.get_default_dtype()
        try:
            torch.set_default_dtype(default_dtype)
            seed_for(name)
            test = (cnn.CriterionTest if kind == "criterion" else cnn.NewModuleTest)(**args)
            module = test.constructor(*test.constructor_args)
            input = test._get_input()
            extra = tuple(test.extra_args)
            leaves = []

            def grad(x):
                if x.is_floating_point():
                    x = x.detach().requires_grad_(True)
                    leaves.append(x)
                return x
            input = tree_map(grad, input)
            if kind == "criterion":
                target = test._get_target()
                call_args = (tuple(input) if isinstance(input, tuple) else (input,)) + (target,) + extra
            else:
                call_args = tuple(input) if isinstance(input, tuple) else (input,)
            try:
                rec = recorded_call(lambda: module(*call_args))
            except Unexpressible as e:
                if any(w in name.lower() for w in ("loss", "softmax", "softmin")):
                    conv.per_source["common_nn"]["samples"] += 1
                    conv.reject("common_nn", name, str(e))
                continue
            except Exception as e:  # noqa: BLE001
                if any(w in name.lower() for w in ("loss", "softmax", "softmin")):
                    conv.per_source["common_nn"]["samples"] += 1
                    conv.reject("common_nn", name, f"torch raised: {type(e).__name__}: {short(e)}")
                continue
        except Exception as e:  # noqa: BLE001
            if any(w in name.lower() for w in ("loss", "softmax", "softmin")):
                conv.per_source["common_nn"]["samples"] += 1
                conv.reject("common_nn", name, f"test setup raised: {type(e).__name__}: {short(e)}")
            continue
        finally:
            torch.set_default_dtype(previous)
        if rec is None:
            continue
        func, fargs, fkwargs, _ = rec
        try:
            bound, defaults = bind(func, fargs, fkwargs)
        except Unexpressible as e:
            conv.per_source["common_nn"]["samples"] += 1
            conv.reject("common_nn", name, str(e))
            continue

        def original(cast, func=func, fargs=fargs, fkwargs=fkwargs):
            return func(*tree_map(cast, tuple(fargs)), **tree_map(cast, dict(fkwargs)))
        yield Candidate("common_nn", f"common_nn/{name}", name, FUNCTION_NAMES[func], func, bound, original,
                        drop_defaults=defaults)


# ---------------------------------------------------------------------------

def summary_of(conv, stubbed):
    return {
        "sources": {k: dict(v) for k, v in sorted(conv.per_source.items())},
        "unexpressible": {r: {"count": n, "by": dict(sorted(conv.reasons_by_label[r].items()))}
                          for r, n in conv.reasons.most_common()},
        "self_check": dict(conv.selfcheck),
        "notes": dict(sorted(conv.notes.items())),
        "stubbed_imports": stubbed,
    }


def print_summary(conv, path):
    print(f"{len(conv.cases)} cases written to {path}")
    print()
    print(f"{'source':<12}{'samples':>9}{'cases':>8}{'unexpressible':>15}{'duplicates':>12}")
    for src in ("opinfo", "module", "common_nn"):
        c = conv.per_source.get(src, Counter())
        print(f"{src:<12}{c['samples']:>9}{c['cases']:>8}{c['unexpressible']:>15}{c['duplicates']:>12}")
    print()
    print("unexpressible samples, by reason:")
    for reason, n in conv.reasons.most_common():
        by = ", ".join(f"{k} {v}" for k, v in sorted(conv.reasons_by_label[reason].items()))
        print(f"  {n:>5}  {reason}  [{by}]")
    if not conv.reasons:
        print("  none")
    print()
    print("self-check:")
    for k, v in conv.selfcheck.items():
        print(f"  {v:>5}  {k}")
    print()
    print("notes:")
    for k, v in sorted(conv.notes.items()):
        print(f"  {v:>5}  {k}")


def seed_for(label):
    """Seeds every generator sample functions draw from (some use Python's `random`)."""
    seed = zlib.crc32(label.encode())
    torch.manual_seed(seed)
    random.seed(seed)
    try:
        import numpy
        numpy.random.seed(seed)
    except ImportError:
        pass


def main():
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    seed_for("import")
    cmi, cm, cnn, stubbed = import_testing()
    conv = Converter()
    for source in (opinfo_candidates(cmi, conv), module_candidates(cm, conv), common_nn_candidates(cnn, conv)):
        for cand in source:
            conv.add(cand)
    doc = {
        "format": "loss-reference/1",
        "generator": f"PyTorch {torch.__version__} (float64), convert_torch_tests.py: PyTorch's OpInfo, "
                     "module_db and common_nn samples",
        "seed": 0,
        "cases": conv.cases,
        "summary": summary_of(conv, stubbed),
    }
    with open(a.out, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"), allow_nan=False)
    print_summary(conv, a.out)


if __name__ == "__main__":
    main()
