"""`compiled(fn, variables)`: one inference function compiled for the backend.

As KerasHub's `CausalLM.make_generate_function`: `tf.function` on
TensorFlow; `jax.jit` on JAX, with the current values of `variables` passed
in and mapped onto the variables by a `keras.StatelessScope` (so a compiled
function never sees stale weights captured at trace time); `torch.no_grad`
on torch (eager; `torch.compile` has not been measured for this loop). `fn` must not assign variables: state that changes
(the sampler's seed) travels in and out as arguments.
"""

import keras


def compiled(fn, variables, static_argnames=(), jit_compile=False):
    """Returns `fn` compiled for the current Keras backend.

    Args:
        fn: a function of tensors (and the `static_argnames` as Python
            values) written in `keras.ops`, reading `variables`.
        variables: the `keras.Variable`s `fn` reads.
        static_argnames: names of keyword arguments that are Python values
            fixing shapes (e.g. a number of steps): a new value compiles a
            new function. Defaults to `()`.
        jit_compile: bool, XLA on TensorFlow (JAX always uses XLA).
            Defaults to `False`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    if backend == "jax":
        import jax

        variables = list(variables)

        def stateless(values, *args, **kwargs):
            with keras.StatelessScope(
                state_mapping=list(zip(variables, values, strict=True))
            ):
                return fn(*args, **kwargs)

        jitted = jax.jit(stateless, static_argnames=tuple(static_argnames))

        def run(*args, **kwargs):
            return jitted([v.value for v in variables], *args, **kwargs)

        return run
    if backend == "torch":
        import torch

        def run(*args, **kwargs):
            with torch.no_grad():
                return fn(*args, **kwargs)

        return run
    raise ValueError(
        "keras_chargen runs on the TensorFlow, JAX and torch backends. "
        f"Received: KERAS_BACKEND={backend!r}"
    )
