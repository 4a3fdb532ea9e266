#!/usr/bin/env python3
"""Side-by-side timing of LossKit and PyTorch on the same CPU, in one run.

For each operation, shape and thread count, PyTorch (in this process) and
`losskit bench --json` (a subprocess) are timed alternately, ROUNDS times each;
each side's median over its rounds' medians is reported with the ratio
PyTorch / LossKit (> 1 means LossKit is faster). Needs `pip install torch`.

    python3 Benchmarks/compare_pytorch.py [--losskit Tool/.build/release/losskit] [--rounds 3] [--quick]
    python3 Benchmarks/compare_pytorch.py --ops softmax --shapes 2048x2048,512x8192
    python3 Benchmarks/compare_pytorch.py --ops softmax,log-softmax --sweep   # rows of 16 ... 32768
    python3 Benchmarks/compare_pytorch.py --ops cross-entropy --shapes 1024x32000 --dtype bfloat16

--dtype float16 or bfloat16 times both sides in that type: PyTorch's tensors are created in it
(its CPU kernels accumulate in float32 and return the input's type), and LossKit runs
`losskit bench --dtype`; the memory floor counts 2 bytes per element then.

Beside the two, each row gives the machine's memory floor for the operation's bytes, measured
in the same rounds by Benchmarks/memory_floor.c (built here with `cc -O2 -march=native`): the
time to read the inputs once and write the outputs once and do nothing else, at the same
thread count, and LossKit's time as a multiple of it. --no-floor leaves it out.
"""
import argparse, datetime, json, os, platform, statistics, subprocess, sys, time

import torch
import torch.nn.functional as F

# (op, shape) as `losskit bench` names them: four cross-entropy shapes (a classifier's 1000
# classes, a 32000-token and a 128256-token vocabulary) for every row operation, 4194304
# elements for the pointwise losses, and linear cross-entropy.
DEFAULT_ROW_SHAPES = ("256x1000", "4096x1000", "1024x32000", "64x128256")
CASES = [(op, shape) for op in ("cross-entropy", "cross-entropy-forward", "softmax", "log-softmax", "logsumexp")
         for shape in DEFAULT_ROW_SHAPES] + [
    ("mse", "4194304"), ("l1", "4194304"), ("bce-with-logits", "4194304"),
    ("linear-cross-entropy", "1024x512x32000"),
]
# Shapes beyond the default ones: short rows (where per-row work dominates), long rows, tiny and huge vectors,
# 64 MiB of short rows, and one row of 4M (a count, as `losskit bench` reads it).
EXTRA = [(op, shape) for op in ("cross-entropy", "softmax", "log-softmax", "logsumexp")
         for shape in ("100000x2", "8192x10", "65536x16", "40960x100", "16384x256", "512x50257",
                       "1048576x16", "4194304")] + [
    (op, shape) for op in ("mse", "l1", "bce-with-logits") for shape in ("4096", "33554432")]
QUICK = [("cross-entropy", "4096x1000"), ("softmax", "4096x1000"), ("mse", "4194304")]
# --sweep: row lengths across every kernel path, about 4M elements each.
SWEEP_LENGTHS = (16, 24, 48, 100, 128, 160, 200, 256, 320, 512, 768, 1000, 1500, 2048, 3000, 4096, 6000, 8192, 32768)
ROW_OPS = ("cross-entropy", "cross-entropy-forward", "softmax", "log-softmax", "logsumexp")


def element_count(dims):
    """ROWSxCOLUMNS or a count: the number of elements, as `losskit bench` reads it."""
    return dims[0] * dims[1] if len(dims) == 2 else dims[0]


DTYPES = {"float": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def torch_step(op, dims, dtype="float"):
    """A closure running one PyTorch step equivalent to `losskit bench OP --dtype DTYPE`."""
    g = torch.Generator().manual_seed(1)
    kind = DTYPES[dtype]
    if len(dims) == 3:
        n, d, v = dims
        x = torch.randn(n, d, generator=g).float().requires_grad_(True)
        w = (0.05 * torch.randn(v, d, generator=g)).float().requires_grad_(True)
        t = torch.randint(0, v, (n,), generator=g)
        def step():
            x.grad = None
            w.grad = None
            F.linear_cross_entropy(x, w, t).backward()
        return step
    if op in ROW_OPS:
        n, c = dims if len(dims) == 2 else (1, dims[0])  # one row, as `losskit bench` reads a count
        x = (3 * torch.randn(n, c, generator=g)).to(kind)
        t = torch.randint(0, c, (n,), generator=g)
    else:
        count = element_count(dims)
        x = (3 * torch.randn(count, generator=g)).to(kind)
        y = torch.rand(count, generator=g).to(kind)
    if op == "cross-entropy":
        x.requires_grad_(True)
        def step():
            x.grad = None
            F.cross_entropy(x, t).backward()
    elif op == "cross-entropy-forward":
        def step():
            with torch.no_grad():
                F.cross_entropy(x, t)
    elif op in ("softmax", "log-softmax", "logsumexp"):
        fn = {"softmax": lambda: torch.softmax(x, dim=1), "log-softmax": lambda: torch.log_softmax(x, dim=1),
              "logsumexp": lambda: torch.logsumexp(x, dim=1)}[op]
        def step():
            with torch.no_grad():
                fn()
    else:
        loss = {"mse": F.mse_loss, "l1": F.l1_loss, "bce-with-logits": F.binary_cross_entropy_with_logits}[op]
        x.requires_grad_(True)
        def step():
            x.grad = None
            loss(x, y).backward()
    return step


def floor_traffic(op, dims, dtype="float"):
    """(floats read, floats written) that `losskit bench OP` cannot do without: the input (and
    the target, for the pointwise losses) read once, the output or gradient written once.
    Class-index targets and per-row results are left out (a float per row at most). None for
    linear-cross-entropy, whose time is its GEMMs'."""
    if len(dims) == 3:
        return None
    n = element_count(dims)
    if dtype != "float":
        n = (n + 1) // 2  # 2-byte elements: counted in floats' bytes
    if op in ("cross-entropy-forward", "logsumexp"):
        return n, 0
    if op in ("mse", "l1", "bce-with-logits"):
        return 2 * n, n
    return n, n


def build_floor():
    """Builds memory_floor.c next to this script (in .build/, which git ignores); returns its path."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, ".build", "memory_floor")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    try:
        subprocess.run([cc, "-O2", "-march=native", "-pthread", "-o", out, os.path.join(here, "memory_floor.c")],
                       check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"compare_pytorch.py: could not build memory_floor.c with {cc!r} ({e}); "
                 "set CC to a C compiler, or pass --no-floor")
    return out


def time_floor(binary, traffic, threads):
    out = subprocess.run([binary, str(traffic[0]), str(traffic[1]), str(threads), "0.3"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["floor_ns"]


def time_torch(step, seconds=1.0):
    for _ in range(2):
        step()
    t0 = time.perf_counter_ns()
    step()
    estimate = max(time.perf_counter_ns() - t0, 1)
    runs = max(5, min(100000, int(seconds * 1e9 / estimate)))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        step()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times)


def host_check():
    """A 32 MiB copy at 1 thread (median of 30), to show how busy the host's memory is: the
    VM's timings move by tens of percent with it."""
    torch.set_num_threads(1)
    a, b = torch.ones(8 << 20), torch.empty(8 << 20)
    times = []
    for _ in range(30):
        t0 = time.perf_counter_ns()
        b.copy_(a)
        times.append(time.perf_counter_ns() - t0)
    ms = statistics.median(times) / 1e6
    return f"a 32 MiB copy at 1 thread takes {ms:.2f} ms ({2 * 32 * 1.048576 / ms:.0f} GB/s read+write)"


def time_losskit(binary, op, shape, threads, dtype="float"):
    out = subprocess.run([binary, "bench", op, "--shape", shape, "--threads", str(threads), "--json", "--dtype", dtype],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["median_ns"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--losskit", default="Tool/.build/release/losskit")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true", help="three cases only")
    ap.add_argument("--ops", help="comma-separated operations to run (default: all)")
    ap.add_argument("--extra", action="store_true", help="the other shapes (EXTRA) instead of the default ones")
    ap.add_argument("--shapes", help="comma-separated shapes (e.g. 2048x2048,4194304) for the operations in --ops")
    ap.add_argument("--no-floor", action="store_true", help="leave out the memory floor columns")
    ap.add_argument("--dtype", default="float", choices=sorted(DTYPES),
                    help="element type of both sides (float, float16, bfloat16)")
    ap.add_argument("--sweep", action="store_true",
                    help="rows of 16 to 32768 columns, ~4M elements each, for the row operations in --ops")
    a = ap.parse_args()
    ops = a.ops.split(",") if a.ops else None
    if a.shapes or a.sweep:
        if not ops:
            ap.error("--shapes and --sweep need --ops")
        shapes = a.shapes.split(",") if a.shapes else [f"{4194304 // n}x{n}" for n in SWEEP_LENGTHS]
        if a.sweep and not all(op in ROW_OPS for op in ops):
            ap.error(f"--sweep takes row operations: {', '.join(ROW_OPS)}")
        cases = [(op, shape) for op in ops for shape in shapes]
    else:
        cases = QUICK if a.quick else EXTRA if a.extra else CASES
        if ops:
            cases = [c for c in cases if c[0] in ops]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"# LossKit vs PyTorch {torch.__version__}, {datetime.date.today()}, {cpu}, {os.cpu_count()} cores")
    print(f"# element type: {a.dtype}")
    print(f"# medians of {a.rounds} alternating rounds (each round ~1 s per side); ratio = PyTorch / LossKit")
    floor = None if a.no_floor else build_floor()
    print(f"# before: {host_check()}")
    if floor:
        print("# floor: the same bytes read once and written once (memory_floor.c), same rounds and threads")
    print()
    if floor:
        print("| operation | shape | threads | PyTorch ms | LossKit ms | ratio | floor ms | LossKit / floor |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
    else:
        print("| operation | shape | threads | PyTorch ms | LossKit ms | ratio |")
        print("|---|---|---:|---:|---:|---:|")
    for op, shape in cases:
        dims = [int(d) for d in shape.split("x")]
        for threads in [int(t) for t in a.threads.split(",")]:
            torch.set_num_threads(threads)
            if a.dtype != "float" and len(dims) == 3:
                continue  # linear-cross-entropy: `losskit bench` times Float only
            step = torch_step(op, dims, a.dtype)
            traffic = floor_traffic(op, dims, a.dtype) if floor else None
            tt, lt, ft = [], [], []
            for _ in range(a.rounds):
                tt.append(time_torch(step))
                # PyTorch's OpenMP workers spin for a while after a parallel region: let them
                # go idle, so that they do not take a core from the next measurement.
                time.sleep(0.3)
                lt.append(time_losskit(a.losskit, op, shape, threads, a.dtype))
                if traffic:
                    ft.append(time_floor(floor, traffic, threads))
            t, l = statistics.median(tt), statistics.median(lt)
            row = f"| {op} | {shape} | {threads} | {t / 1e6:.3f} | {l / 1e6:.3f} | {t / l:.2f}x |"
            if floor:
                f = statistics.median(ft) if ft else None
                row += f" {f / 1e6:.3f} | {l / f:.2f}x |" if f else " — | — |"
            print(row, flush=True)
    print()
    print(f"# after: {host_check()}")


if __name__ == "__main__":
    sys.exit(main())
