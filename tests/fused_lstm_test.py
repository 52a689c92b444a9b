"""The fused TensorFlow LSTM loop against `keras.layers.LSTM`."""

import keras
import numpy as np
import pytest

from keras_chargen.backend import tensorflow as tf_backend
from keras_chargen.models.char_lm import CharLM

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the fused loop is TensorFlow code; other backends train with Keras' loop",
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
    import tensorflow as tf

    rng = np.random.default_rng(2)
    weights = [tf.constant(rng.normal(size=s).astype("float32")) for s in
               ((BATCH, STEPS, UNITS), (BATCH, UNITS), (BATCH, UNITS))]  # fmt: skip
    x, h0, c0 = (tf.constant(v) for v in (x, h0, c0))
    with tf.GradientTape() as tape:
        tape.watch([x, h0, c0])
        outputs, h, c = run(x, h0, c0, mask)
        # Outputs at masked steps are not defined the same way: leave them out.
        outputs = tf.where(mask[..., None], outputs, 0.0)
        loss = sum(
            tf.reduce_sum(a * w) for a, w in zip((outputs, h, c), weights, strict=True)
        )
    grads = tape.gradient(loss, [x, h0, c0, *layer.trainable_variables])
    return [np.asarray(v) for v in (outputs, h, c, *grads)]


def keras_run(layer):
    def run(x, h0, c0, mask):
        return layer(x, initial_state=[h0, c0], mask=mask, training=True)

    return run


def fused_run(layer, matmul_dtype):
    cell = layer.cell

    def run(x, h0, c0, mask):
        return tf_backend.fused_lstm(
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
    import tensorflow as tf

    fused, plain = charlm_pair(training_matmul_dtype="float32")
    assert fused.fused_lstm_active and not plain.fused_lstm_active
    ids = np.random.default_rng(0).integers(1, 9, size=(4, 11)).astype("int32")
    results = []
    for model in (fused, plain):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(ids, training=training) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        results.append(
            [np.asarray(loss)] + [np.asarray(tf.convert_to_tensor(g)) for g in grads]
        )
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_inference_uses_float32_products_even_when_training_uses_bfloat16():
    fused, plain = charlm_pair(training_matmul_dtype="bfloat16")
    ids = np.random.default_rng(0).integers(1, 9, size=(4, 11)).astype("int32")
    np.testing.assert_allclose(
        np.asarray(fused(ids, training=False)),
        np.asarray(plain(ids, training=False)),
        atol=1e-5,
    )


def test_gru_or_another_backend_cannot_force_the_fused_loop():
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
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert tf_backend.cpu_has_bfloat16_units(str(cpuinfo)) is expected
    assert tf_backend.cpu_has_bfloat16_units(str(tmp_path / "missing")) is False


def test_a_static_batch_size_survives_the_loops():
    # A graph traced for one fixed batch size (here 1) gives the states a
    # static batch dimension, which the loops' slices lose: the carried
    # states must keep it, through both stacked layers.
    import tensorflow as tf

    model = CharLM(vocabulary_size=10, embedding_dim=FEATURES, units=UNITS)
    ids = tf.constant([[0, 0, 3, 4, 5, 6, 7]], "int32")
    outputs = tf.function(lambda ids: model(ids, training=True))(ids)
    assert outputs.shape == (1, 7, 10)
