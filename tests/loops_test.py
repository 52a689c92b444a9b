import keras
import numpy as np
import pytest
from keras import ops

from keras_chargen.backend.compiled import compiled
from keras_chargen.backend.loops import scan


def step(carry, x):
    total, count = carry
    total = total + x
    # The per-step output is shaped unlike the carry.
    return (total, count + 1), {"sum": total, "pair": ops.stack([total, total * 2], -1)}


def python_loop(xs):
    total, outs = np.zeros(3, "float32"), []
    for x in xs:
        total = total + x
        outs.append(total.copy())
    return total, np.stack(outs)


@pytest.mark.parametrize("length", [1, 5])
def test_scan_over_xs_matches_a_python_loop(length):
    xs = np.arange(length * 3, dtype="float32").reshape(length, 3)
    init = (ops.zeros(3), ops.convert_to_tensor(0))
    (total, count), ys = compiled(lambda init, xs: scan(step, init, xs), [])(init, xs)
    expected_total, expected = python_loop(xs)
    np.testing.assert_allclose(ops.convert_to_numpy(total), expected_total)
    assert int(ops.convert_to_numpy(count)) == length
    np.testing.assert_allclose(ops.convert_to_numpy(ys["sum"]), expected)
    assert tuple(ys["pair"].shape) == (length, 3, 2)


def test_scan_with_a_length_and_no_xs():
    def count(carry, _):
        return carry + 1, ops.cast(carry, "int32")

    carry, ys = scan(count, ops.convert_to_tensor(0.0), length=4)
    assert float(ops.convert_to_numpy(carry)) == 4.0
    np.testing.assert_array_equal(ops.convert_to_numpy(ys), [0, 1, 2, 3])


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the limit worked around is in Keras' TensorFlow ops.scan only",
)
def test_keras_tensorflow_scan_still_needs_outputs_shaped_as_the_carry():
    """When this starts failing, Keras lifted the limit: use ops.scan itself."""
    import tensorflow as tf

    def f(carry, x):
        return carry + x, ops.stack([carry, carry])

    with pytest.raises((ValueError, TypeError)):
        tf.function(lambda xs: ops.scan(f, ops.zeros(()), xs))(ops.ones(3))
