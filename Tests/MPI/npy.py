#!/usr/bin/env python3
"""Writes and compares the .npy files of the MPI tests, with Python's standard
library only (no NumPy needed).

  npy.py cross-entropy DIR ROWS CLASSES SEED   logits (float32, normal x 3) and int64 targets
  npy.py linear-head DIR N D V SEED             input (N, D), linear_weight (V, D), target (N), linear_bias (V)
  npy.py target-out-of-range DIR ROWS CLASSES   int64 targets, the last one = CLASSES
  npy.py close A B RELATIVE                     |a - b| <= RELATIVE * max|b| over every entry (exit 1 otherwise)
"""
import math
import random
import struct
import sys


def write(path, shape, values, dtype):
    code = {"float32": ("<f4", "f"), "int64": ("<i8", "q")}[dtype]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        code[0], "".join("%d, " % s for s in shape) if len(shape) != 1 else "%d," % shape[0])
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%d%s" % (len(values), code[1]), *values))


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", path
    major = data[6]
    if major == 1:
        length, start = struct.unpack("<H", data[8:10])[0], 10
    else:
        length, start = struct.unpack("<I", data[8:12])[0], 12
    header = data[start:start + length].decode("latin1")
    body = data[start + length:]
    descr = header.split("'descr':")[1].split("'")[1]
    fmt = {"<f4": "f", "<f8": "d", "<i8": "q", "<i4": "i"}[descr]
    count = len(body) // struct.calcsize(fmt)
    return list(struct.unpack("<%d%s" % (count, fmt), body))


def main(argv):
    kind = argv[1]
    if kind == "cross-entropy":
        folder, rows, classes, seed = argv[2], int(argv[3]), int(argv[4]), int(argv[5])
        rng = random.Random(seed)
        write(folder + "/logits.npy", (rows, classes), [3 * rng.gauss(0, 1) for _ in range(rows * classes)], "float32")
        write(folder + "/targets.npy", (rows,), [rng.randrange(classes) for _ in range(rows)], "int64")
    elif kind == "linear-head":
        folder, n, d, v, seed = argv[2], int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6])
        rng = random.Random(seed)
        write(folder + "/hidden.npy", (n, d), [rng.gauss(0, 1) for _ in range(n * d)], "float32")
        write(folder + "/head.npy", (v, d), [0.3 * rng.gauss(0, 1) for _ in range(v * d)], "float32")
        write(folder + "/tokens.npy", (n,), [rng.randrange(v) for _ in range(n)], "int64")
        write(folder + "/bias.npy", (v,), [0.5 * rng.gauss(0, 1) for _ in range(v)], "float32")
    elif kind == "target-out-of-range":
        folder, rows, classes = argv[2], int(argv[3]), int(argv[4])
        write(folder + "/bad-targets.npy", (rows,), [i % classes for i in range(rows - 1)] + [classes], "int64")
    elif kind == "close":
        a, b, tolerance = read(argv[2]), read(argv[3]), float(argv[4])
        if len(a) != len(b):
            print("different sizes: %d and %d" % (len(a), len(b)))
            return 1
        scale = max(abs(x) for x in b)
        worst = max(abs(x - y) for x, y in zip(a, b))
        print("largest difference %.3g (%.3g of the largest entry %.6g)" % (worst, worst / scale if scale else worst, scale))
        if not (worst <= tolerance * scale) or any(math.isnan(x) for x in a):
            return 1
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
