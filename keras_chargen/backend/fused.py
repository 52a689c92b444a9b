"""Which fused LSTM training loop this Keras backend has, if any.

`CharLM(use_fused_lstm="auto")` asks here. TensorFlow and JAX have one
(`backend/tensorflow.py`, `backend/jax.py`), used on the CPU only: on a GPU,
Keras' own LSTM runs cuDNN. torch has none: Keras' own loop trains there.
"""

import keras


def fused_lstm_function():
    """The backend's `fused_lstm(inputs, h0, c0, mask, kernel, recurrent_kernel,
    bias, matmul_dtype)`, or `None` where there is none (torch, any GPU)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_chargen.backend import tensorflow

        return None if tensorflow.gpu_available() else tensorflow.fused_lstm
    if backend == "jax":
        import jax

        from keras_chargen.backend import jax as jax_backend

        return jax_backend.fused_lstm if jax.default_backend() == "cpu" else None
    return None


def default_training_matmul_dtype():
    """What `training_matmul_dtype="auto"` means for the fused loop.

    bfloat16 on CPUs with bfloat16 matrix units (AMX, AVX512-BF16), else
    float32. Measured at 2x512 on such a CPU (docs/benchmarks.md): 1.7x
    float32's speed on TensorFlow, 1.09x on JAX.
    """
    from keras_chargen.backend import tensorflow

    return "bfloat16" if tensorflow.cpu_has_bfloat16_units() else "float32"
