"""JAX-specific code: the fused LSTM training loop (see backend/tensorflow.py).

The same algorithm as the TensorFlow loop, written with `jax.lax.scan` and a
`jax.custom_vjp`: the inputs of all time steps are multiplied by the kernel
in one product before the loop, the backward loop does one product per step,
and the kernels' gradients are one product each after it (autodiff of a
scan would accumulate them step by step). `tests/fused_lstm_test.py`
compares values and gradients with `keras.layers.LSTM`.
"""

import functools


def fused_lstm(
    inputs, h0, c0, mask, kernel, recurrent_kernel, bias, matmul_dtype="float32"
):
    """An LSTM over `inputs`; same contract as the TensorFlow `fused_lstm`.

    Returns:
        `(outputs, h, c)`: the states after every step `(batch, time,
        units)` and the final states.
    """
    return _fused(matmul_dtype)(inputs, h0, c0, mask, kernel, recurrent_kernel, bias)


@functools.cache
def _fused(matmul_dtype):
    import jax
    import jax.numpy as jnp

    def matmul(a, b):
        return jnp.matmul(a.astype(matmul_dtype), b.astype(matmul_dtype)).astype(
            "float32"
        )

    def forward(inputs, h0, c0, mask, kernel, recurrent_kernel, bias):
        steps, features = inputs.shape[1], inputs.shape[2]
        units = h0.shape[1]
        x = jnp.swapaxes(inputs, 0, 1)
        m = jnp.swapaxes(mask, 0, 1)[:, :, None]
        z_inputs = (matmul(x.reshape(-1, features), kernel) + bias).reshape(
            steps, -1, 4 * units
        )
        low_recurrent = recurrent_kernel.astype(matmul_dtype)

        def step(carry, inp):
            h, c = carry
            z_t, m_t = inp
            z = z_t + jnp.matmul(h.astype(matmul_dtype), low_recurrent).astype(
                "float32"
            )
            i, f, g, o = jnp.split(z, 4, axis=-1)
            i, f, g, o = (
                jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
            )  # fmt: skip
            c_new = f * c + i * g
            tanh_c = jnp.tanh(c_new)
            h = h + m_t * (o * tanh_c - h)
            c = c + m_t * (c_new - c)
            return (h, c), (h, c, jnp.concatenate([i, f, g, o], -1), tanh_c)

        (h, c), (hs, cs, gates, tanh_cs) = jax.lax.scan(step, (h0, c0), (z_inputs, m))
        outputs = (jnp.swapaxes(hs, 0, 1), h, c)
        residuals = (x, m, h0, c0, hs, cs, gates, tanh_cs, kernel, recurrent_kernel)
        return outputs, residuals

    def backward(residuals, cotangents):
        x, m, h0, c0, hs, cs, gates, tanh_cs, kernel, recurrent_kernel = residuals
        d_outputs, d_h, d_c = cotangents
        d_outputs = jnp.swapaxes(d_outputs, 0, 1)
        steps, _, features = x.shape
        units = h0.shape[1]
        h_prev = jnp.concatenate([h0[None], hs[:-1]], 0)
        c_prev = jnp.concatenate([c0[None], cs[:-1]], 0)
        low_recurrent_t = recurrent_kernel.T.astype(matmul_dtype)

        def back_step(carry, inp):
            d_h, d_c = carry
            gate, tanh_c, c_before, m_t, d_out = inp
            i, f, g, o = jnp.split(gate, 4, axis=-1)
            d_h = d_h + d_out
            # A masked step passed the states through untouched.
            d_h_new = m_t * d_h
            d_c_new = m_t * d_c + d_h_new * o * (1 - tanh_c * tanh_c)
            d_z = jnp.concatenate(
                [
                    d_c_new * g * i * (1 - i),
                    d_c_new * c_before * f * (1 - f),
                    d_c_new * i * (1 - g * g),
                    d_h_new * tanh_c * o * (1 - o),
                ],
                -1,
            )
            d_h_prev = (
                jnp.matmul(d_z.astype(matmul_dtype), low_recurrent_t).astype("float32")
                + (1 - m_t) * d_h
            )
            d_c_prev = d_c_new * f + (1 - m_t) * d_c
            return (d_h_prev, d_c_prev), d_z

        (d_h0, d_c0), d_zs = jax.lax.scan(
            back_step,
            (d_h, d_c),
            (gates, tanh_cs, c_prev, m, d_outputs),
            reverse=True,
        )
        d_z = d_zs.reshape(-1, 4 * units)
        d_inputs = matmul(d_z, kernel.T).reshape(steps, -1, features)
        return (
            jnp.swapaxes(d_inputs, 0, 1),
            d_h0,
            d_c0,
            jnp.zeros_like(jnp.swapaxes(m[:, :, 0], 0, 1)),
            matmul(x.reshape(-1, features).T, d_z),
            matmul(h_prev.reshape(-1, units).T, d_z),
            d_z.sum(0),
        )

    @jax.custom_vjp
    def run(inputs, h0, c0, mask, kernel, recurrent_kernel, bias):
        return forward(inputs, h0, c0, mask, kernel, recurrent_kernel, bias)[0]

    run.defvjp(forward, backward)
    return run
