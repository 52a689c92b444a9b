"""TensorFlow-specific code: the fused LSTM training loop.

`CharLM(use_fused_lstm="auto")` trains its LSTM layers with `fused_lstm`
on the TensorFlow backend without a GPU (`backend/fused.py` decides). Without a GPU, Keras runs an LSTM
one time step at a time, and per step multiplies both the input and the
previous output by their kernels, then lets automatic differentiation mirror
that loop. `fused_lstm` instead:

- multiplies the inputs of all time steps by the kernel in one matrix
  product before the loop, so the loop itself does one product per step;
- differentiates by hand: the backward loop does one product per step too,
  and the kernels' gradients are one product each after it;
- takes those products in `matmul_dtype` (bfloat16 on CPUs with bfloat16
  matrix units, when the model's `training_matmul_dtype` says so), the
  elementwise gate math and the carried states staying in float32.

`tests/fused_lstm_test.py` compares its values and gradients with
`keras.layers.LSTM`.
"""

import functools
from pathlib import Path


def fused_lstm(
    inputs, h0, c0, mask, kernel, recurrent_kernel, bias, matmul_dtype="float32"
):
    """An LSTM over `inputs` with a hand-written gradient (TensorFlow).

    Keras' gate order (input, forget, cell, output), sigmoid gates, tanh
    cell. Float32 in and out; `matmul_dtype` is the dtype of the matrix
    products only. Written with `tf.while_loop` and `tf.TensorArray`, since
    `keras.ops.scan` cannot emit per-step values shaped unlike its carry.

    Args:
        inputs: `(batch, time, features)`.
        h0, c0: initial states, `(batch, units)`.
        mask: `(batch, time)`, 1 where a step counts and 0 where the states
            carry over unchanged.
        kernel, recurrent_kernel, bias: the LSTM cell's weights.
        matmul_dtype: `"float32"` or `"bfloat16"`.

    Returns:
        `(outputs, h, c)`: the states after every step `(batch, time,
        units)` and the final states.
    """
    import tensorflow as tf

    def low(a):
        return tf.cast(a, matmul_dtype)

    def matmul(a, b, **kwargs):
        return tf.cast(tf.matmul(low(a), low(b), **kwargs), "float32")

    @tf.custom_gradient
    def run(inputs, h0, c0, mask, kernel, recurrent_kernel, bias):
        steps = tf.shape(inputs)[1]
        features, units = tf.shape(inputs)[2], tf.shape(h0)[1]
        # Time-major, so each step reads one slice off the front.
        x = tf.transpose(inputs, (1, 0, 2))
        m = tf.transpose(mask)[:, :, None]
        z_inputs = tf.reshape(
            matmul(tf.reshape(x, (-1, features)), kernel) + bias, (steps, -1, 4 * units)
        )
        low_recurrent = low(recurrent_kernel)

        def step(t, h, c, hs, cs, gates, tanh_cs):
            z = z_inputs[t] + tf.cast(tf.matmul(low(h), low_recurrent), "float32")
            i, f, g, o = tf.split(z, 4, axis=-1)
            i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
            c_new = f * c + i * g
            tanh_c = tf.tanh(c_new)
            h = h + m[t] * (o * tanh_c - h)
            c = c + m[t] * (c_new - c)
            # The loop needs the carried shapes fixed; the slices lost the
            # static batch size.
            h.set_shape(h0.shape)
            c.set_shape(c0.shape)
            return (
                t + 1, h, c, hs.write(t, h), cs.write(t, c),
                gates.write(t, tf.concat([i, f, g, o], -1)), tanh_cs.write(t, tanh_c),
            )  # fmt: skip

        arrays = [tf.TensorArray("float32", size=steps) for _ in range(4)]
        _, h, c, *arrays = tf.while_loop(
            lambda t, *_: t < steps, step, (0, h0, c0, *arrays)
        )
        hs, cs, gates, tanh_cs = (a.stack() for a in arrays)

        def grad(d_outputs, d_h, d_c):
            d_outputs = tf.transpose(d_outputs, (1, 0, 2))
            h_prev = tf.concat([h0[None], hs[:-1]], 0)
            c_prev = tf.concat([c0[None], cs[:-1]], 0)
            low_recurrent_t = tf.transpose(low_recurrent)

            def back_step(t, d_h, d_c, d_zs):
                # The carried shapes are the loop's entry shapes: adding
                # d_outputs (batch None) would otherwise lose a static batch.
                shape_h, shape_c = d_h.shape, d_c.shape
                i, f, g, o = tf.split(gates[t], 4, axis=-1)
                tanh_c = tanh_cs[t]
                d_h = d_h + d_outputs[t]
                # A masked step passed the states through untouched.
                d_h_new = m[t] * d_h
                d_c_new = m[t] * d_c + d_h_new * o * (1 - tanh_c * tanh_c)
                d_z = tf.concat(
                    [
                        d_c_new * g * i * (1 - i),
                        d_c_new * c_prev[t] * f * (1 - f),
                        d_c_new * i * (1 - g * g),
                        d_h_new * tanh_c * o * (1 - o),
                    ],
                    -1,
                )
                d_h_prev = tf.cast(tf.matmul(low(d_z), low_recurrent_t), "float32")
                d_h_prev = d_h_prev + (1 - m[t]) * d_h
                d_c_prev = d_c_new * f + (1 - m[t]) * d_c
                d_h_prev.set_shape(shape_h)
                d_c_prev.set_shape(shape_c)
                return t - 1, d_h_prev, d_c_prev, d_zs.write(t, d_z)

            _, d_h0, d_c0, d_zs = tf.while_loop(
                lambda t, *_: t >= 0,
                back_step,
                (steps - 1, d_h, d_c, tf.TensorArray("float32", size=steps)),
            )
            d_z = tf.reshape(d_zs.stack(), (-1, 4 * units))
            flat_x = tf.reshape(x, (-1, features))
            flat_h_prev = tf.reshape(h_prev, (-1, units))
            d_inputs = tf.reshape(
                matmul(d_z, kernel, transpose_b=True), (steps, -1, features)
            )
            return (
                tf.transpose(d_inputs, (1, 0, 2)),
                d_h0,
                d_c0,
                tf.zeros_like(mask),
                matmul(flat_x, d_z, transpose_a=True),
                matmul(flat_h_prev, d_z, transpose_a=True),
                tf.reduce_sum(d_z, 0),
            )

        return (tf.transpose(hs, (1, 0, 2)), h, c), grad

    # Tensors, not variables: the gradient flows back to them through the
    # reads, and tf.custom_gradient then needs no `variables` argument.
    weights = [tf.identity(w) for w in (kernel, recurrent_kernel, bias)]
    return run(inputs, h0, c0, mask, *weights)


@functools.cache
def cpu_has_bfloat16_units(cpuinfo_path="/proc/cpuinfo"):
    """Whether this CPU multiplies bfloat16 matrices in hardware (Linux).

    True when `cpuinfo_path` lists `amx_bf16` or `avx512_bf16`.
    """
    try:
        cpuinfo = Path(cpuinfo_path).read_text()
    except OSError:
        return False
    flags = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
    return bool({"amx_bf16", "avx512_bf16"} & set(flags.split()))


@functools.cache
def gpu_available():
    """Whether TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
