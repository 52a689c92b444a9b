"""`scan`: `keras.ops.scan` whose per-step outputs may differ from its carry.

Keras 3.15's TensorFlow `ops.scan` stores the per-step outputs in arrays
shaped like the carry, so a step that carries states but emits a token (or
features of another size) fails there. On TensorFlow this runs the same loop
with `tf.while_loop` and one `tf.TensorArray` per output; on JAX and torch
it is `keras.ops.scan` itself. `tests/loops_test.py` checks both against a
Python loop, and that the limit still exists in Keras' own op (when it goes,
so can this module).
"""

import keras
from keras import ops, tree


def scan(f, init, xs=None, length=None):
    """As `keras.ops.scan(f, init, xs, length)`: `f(carry, x) -> (carry, y)`.

    Returns:
        `(final_carry, stacked_ys)`, the ys stacked on a new first axis.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.scan(f, init, xs=xs, length=length)
    import tensorflow as tf

    xs_flat = [] if xs is None else [tf.convert_to_tensor(x) for x in tree.flatten(xs)]
    n = int(length) if xs is None else tf.shape(xs_flat[0])[0]

    def read(i):
        return (
            None if xs is None else tree.pack_sequence_as(xs, [a[i] for a in xs_flat])
        )

    # One step outside the loop tells the outputs' structure, shapes and
    # dtypes (and keeps a zero-length scan out of the picture: n >= 1).
    carry, first = f(init, read(0))
    arrays = [
        tf.TensorArray(y.dtype, size=n, element_shape=y.shape).write(0, y)
        for y in tree.flatten(first)
    ]

    def body(i, carry, arrays):
        carry, y = f(carry, read(i))
        flat = tree.flatten(y)
        return i + 1, carry, [a.write(i, v) for a, v in zip(arrays, flat, strict=True)]

    _, carry, arrays = tf.while_loop(lambda i, *_: i < n, body, (1, carry, arrays))
    return carry, tree.pack_sequence_as(first, [a.stack() for a in arrays])
