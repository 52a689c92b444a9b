"""The fused LSTM loops (TensorFlow, JAX) against `keras.layers.LSTM`."""

import keras
import numpy as np
import pytest

from keras_chargen.backend import fused
from keras_chargen.backend import tensorflow as tf_backend
from keras_chargen.models.char_lm import CharLM

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(
    BACKEND not in ("tensorflow", "jax"),
    reason="torch has no fused loop: Keras' own LSTM trains there",
)

BATCH, STEPS, FEATURES, UNITS = 5, 7, 3, 4


def reference_layer(seed=0):
    rng = np.random.default_rng(seed)
    layer = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    layer.build((None, None, FEATURES))
    layer.set_weights(
        [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    )
    return layer


def inputs(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    h0 = rng.normal(size=(BATCH, UNITS)).astype("float32")
    c0 = rng.normal(size=(BATCH, UNITS)).astype("float32")
    mask = np.ones((BATCH, STEPS), bool)
    mask[1, :3] = False  # left padding
    mask[2, :] = False  # all padding
    mask[3, 4] = False  # a gap
    return x, h0, c0, mask


def values_and_gradients(run, layer, x, h0, c0, mask):
    """`run`'s outputs and the gradients of a weighted sum of them."""
    rng = np.random.default_rng(2)
    weights = [rng.normal(size=s).astype("float32") for s in
               ((BATCH, STEPS, UNITS), (BATCH, UNITS), (BATCH, UNITS))]  # fmt: skip

    def loss(values, x, h0, c0):
        with keras.StatelessScope(
            list(zip(layer.trainable_variables, values, strict=True))
        ):
            outputs, h, c = run(x, h0, c0, mask)
        # Outputs at masked steps are not defined the same way: leave them out.
        outputs = keras.ops.where(mask[..., None], outputs, 0.0)
        terms = zip((outputs, h, c), weights, strict=True)
        return sum(keras.ops.sum(a * w) for a, w in terms), (outputs, h, c)

    values = [v.value for v in layer.trainable_variables]
    if BACKEND == "jax":
        import jax

        grad = jax.grad(loss, argnums=(0, 1, 2, 3), has_aux=True)
        (d_values, d_x, d_h0, d_c0), outputs = grad(values, x, h0, c0)
        grads = [d_x, d_h0, d_c0, *d_values]
    else:
        import tensorflow as tf

        x, h0, c0 = (tf.constant(v) for v in (x, h0, c0))
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0, *values])
            total, outputs = loss(values, x, h0, c0)
        grads = tape.gradient(total, [x, h0, c0, *values])
    return [np.asarray(v) for v in (*outputs, *grads)]


def keras_run(layer):
    def run(x, h0, c0, mask):
        return layer(x, initial_state=[h0, c0], mask=mask, training=True)

    return run


def fused_run(layer, matmul_dtype):
    cell = layer.cell

    def run(x, h0, c0, mask):
        return fused.fused_lstm_function()(
            x, h0, c0, mask.astype("float32"),
            cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value,
            matmul_dtype,
        )  # fmt: skip

    return run


def test_float32_matches_keras_lstm_values_and_gradients():
    layer = reference_layer()
    expected = values_and_gradients(keras_run(layer), layer, *inputs())
    values = values_and_gradients(fused_run(layer, "float32"), layer, *inputs())
    for a, b in zip(expected, values, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_bfloat16_products_stay_close_to_float32():
    layer = reference_layer()
    expected = values_and_gradients(keras_run(layer), layer, *inputs())
    values = values_and_gradients(fused_run(layer, "bfloat16"), layer, *inputs())
    for a, b in zip(expected, values, strict=True):
        # bfloat16 keeps 8 bits of mantissa: ~1% of the largest entry.
        np.testing.assert_allclose(b, a, atol=0.03 * np.abs(a).max())


def charlm_pair(**kwargs):
    fused = CharLM(
        vocabulary_size=9, embedding_dim=3, units=UNITS, dropout=0.0, **kwargs
    )
    plain = CharLM(
        vocabulary_size=9,
        embedding_dim=3,
        units=UNITS,
        dropout=0.0,
        use_fused_lstm=False,
    )
    plain.set_weights(fused.get_weights())
    return fused, plain


@pytest.mark.parametrize("training", [False, True])
def test_charlm_trains_the_same_with_and_without_the_fused_loop(training):
    fused_model, plain = charlm_pair(training_matmul_dtype="float32")
    assert fused_model.fused_lstm_active and not plain.fused_lstm_active
    ids = np.random.default_rng(0).integers(1, 9, size=(4, 11)).astype("int32")
    results = []
    for model in (fused_model, plain):
        loss, grads = model_loss_and_gradients(model, ids, training)
        results.append([loss, *grads])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def model_loss_and_gradients(model, ids, training):
    variables = model.trainable_variables

    def loss(values):
        with keras.StatelessScope(list(zip(variables, values, strict=True))):
            return keras.ops.sum(model(ids, training=training) ** 2)

    values = [v.value for v in variables]
    if BACKEND == "jax":
        import jax

        total, grads = jax.value_and_grad(loss)(values)
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(values)
            total = loss(values)
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(total, values)]
    return np.asarray(total), [np.asarray(g) for g in grads]


def test_inference_uses_float32_products_even_when_training_uses_bfloat16():
    fused, plain = charlm_pair(training_matmul_dtype="bfloat16")
    ids = np.random.default_rng(0).integers(1, 9, size=(4, 11)).astype("int32")
    np.testing.assert_allclose(
        np.asarray(fused(ids, training=False)),
        np.asarray(plain(ids, training=False)),
        atol=1e-5,
    )


def test_a_gru_cannot_force_the_fused_loop():
    with pytest.raises(ValueError, match="`use_fused_lstm=True` needs cell='lstm'"):
        CharLM(vocabulary_size=9, units=4, cell="gru", use_fused_lstm=True)
    assert not CharLM(vocabulary_size=9, units=4, cell="gru").fused_lstm_active


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu sse avx512f", False),
        ("fpu amx_bf16 amx_tile", True),
        ("fpu avx512_bf16", True),
    ],  # fmt: skip
)
def test_bfloat16_units_are_read_from_the_cpu_flags(tmp_path, flags, expected):
    # Plain Python: the same on every backend.
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert tf_backend.cpu_has_bfloat16_units(str(cpuinfo)) is expected
    assert tf_backend.cpu_has_bfloat16_units(str(tmp_path / "missing")) is False


@pytest.mark.skipif(BACKEND != "tensorflow", reason="a TensorFlow graph detail")
def test_a_static_batch_size_survives_the_loops():
    # A graph traced for one fixed batch size (here 1) gives the states a
    # static batch dimension, which the loops' slices lose: the carried
    # states must keep it, through both stacked layers.
    import tensorflow as tf

    model = CharLM(vocabulary_size=10, embedding_dim=FEATURES, units=UNITS)
    ids = tf.constant([[0, 0, 3, 4, 5, 6, 7]], "int32")
    outputs = tf.function(lambda ids: model(ids, training=True))(ids)
    assert outputs.shape == (1, 7, 10)
