"""Writes the small .npy fixtures of Tests/losskitTests/NumPyFileTests.swift and
EvalCommandTests.swift. Run once with NumPy (python3 make_fixtures.py); the
outputs are committed, so the tests do not need Python."""
import numpy as np
from numpy.lib import format as npf

def save(name, array, version=None):
    with open(name, "wb") as f:
        if version is None:
            np.save(f, array)
        else:
            npf.write_array(f, array, version=version)

# Supported dtypes and shapes.
save("f32_2x3.npy", np.array([[1.5, -2.0, 0.25], [3.0, 4.0, -0.125]], dtype=np.float32))
save("f64_vec.npy", np.array([0.1, -1e-300, 1e300, 2.5], dtype=np.float64))
save("i64_vec.npy", np.array([1, 0, -100, 2**40], dtype=np.int64))
save("i32_2x2.npy", np.array([[1, -2], [3, 2**31 - 1]], dtype=np.int32))
save("f64_scalar.npy", np.float64(3.25).reshape(()))
save("f32_empty_0x3.npy", np.zeros((0, 3), dtype=np.float32))
save("f64_v2.npy", np.arange(6, dtype=np.float64).reshape(3, 2), version=(2, 0))
save("f32_v3.npy", np.arange(4, dtype=np.float32), version=(3, 0))
save("f16_2x2.npy", np.array([[1.5, -65504.0], [np.float16(0.1), 6e-8]], dtype=np.float16))

# Unsupported: big-endian, Fortran order, another dtype.
save("bad_big_endian.npy", np.array([1.0, 2.0], dtype=">f4"))
save("bad_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
save("bad_uint8.npy", np.array([1, 2, 3], dtype=np.uint8))

# The tutorial's cross-entropy example with its gradient (softmax - one_hot) / N, computed by NumPy.
logits = np.array([[-1.90, -0.29, -2.30], [-0.29, -1.90, -2.30]], dtype=np.float64)
labels = np.array([1, 0], dtype=np.int64)
p = np.exp(logits - logits.max(axis=1, keepdims=True))
p /= p.sum(axis=1, keepdims=True)
save("ce_logits.npy", logits)
save("ce_labels.npy", labels)
save("ce_expected_loss.npy", np.float64(-np.log(p[np.arange(2), labels]).mean()).reshape(()))
save("ce_expected_grad.npy", (p - np.eye(3)[labels]) / 2)

# The same cross-entropy in float16: logits rounded to float16, loss and gradient computed by
# NumPy in float64 from those values (LossKit computes in Float and rounds to float16).
logits16 = logits.astype(np.float16)
p16 = np.exp(logits16.astype(np.float64) - logits16.astype(np.float64).max(axis=1, keepdims=True))
p16 /= p16.sum(axis=1, keepdims=True)
save("ce_logits_f16.npy", logits16)
save("ce_expected_loss_f16.npy", np.float64(-np.log(p16[np.arange(2), labels]).mean()).reshape(()))
save("ce_expected_grad_f16.npy", (p16 - np.eye(3)[labels]) / 2)

# MSE: prediction [0, 3] vs target [1, 0]: loss 5, gradient 2 (x - y) / N = [-1, 3].
save("mse_input.npy", np.array([0.0, 3.0], dtype=np.float32))
save("mse_target.npy", np.array([1.0, 0.0], dtype=np.float32))
