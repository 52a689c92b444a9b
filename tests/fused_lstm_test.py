import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_chargen.backend import tensorflow as fused_module

BATCH, STEPS, FEATURES, UNITS = 5, 7, 3, 4


def layers_with_the_same_weights(training_matmul_dtype="auto", seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    reference = keras.layers.LSTM(
        UNITS, return_sequences=True, return_state=True, **kwargs
    )
    fused = fused_module.LSTM(
        UNITS,
        return_sequences=True,
        return_state=True,
        training_matmul_dtype=training_matmul_dtype,
        **kwargs,
    )
    for layer in (reference, fused):
        layer.build((None, None, FEATURES))
    weights = [
        rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()
    ]
    reference.set_weights(weights)
    fused.set_weights(weights)
    return reference, fused


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


def loss_and_gradients(layer, x, h0, c0, mask, training):
    rng = np.random.default_rng(2)
    weights = [tf.constant(rng.normal(size=s).astype("float32")) for s in
               ((BATCH, STEPS, UNITS), (BATCH, UNITS), (BATCH, UNITS))]  # fmt: skip
    x, h0, c0 = (tf.constant(v) for v in (x, h0, c0))
    with tf.GradientTape() as tape:
        tape.watch([x, h0, c0])
        outputs, h, c = layer(
            x, initial_state=[h0, c0], mask=tf.constant(mask), training=training
        )
        # Outputs at masked steps are not defined the same way: leave them out.
        outputs = tf.where(mask[..., None], outputs, 0.0)
        loss = sum(
            tf.reduce_sum(a * w) for a, w in zip((outputs, h, c), weights, strict=True)
        )
    grads = tape.gradient(loss, [x, h0, c0, *layer.trainable_variables])
    return [outputs, h, c], grads


@pytest.mark.parametrize("training", [False, True])
def test_float32_matches_keras_lstm_values_and_gradients(training):
    reference, fused = layers_with_the_same_weights(training_matmul_dtype="float32")
    data = inputs()
    expected_values, expected_grads = loss_and_gradients(reference, *data, training)
    values, grads = loss_and_gradients(fused, *data, training)
    for a, b in zip(expected_values + expected_grads, values + grads, strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)


def test_bfloat16_training_products_stay_close_to_float32():
    reference, fused = layers_with_the_same_weights(training_matmul_dtype="bfloat16")
    data = inputs()
    expected_values, expected_grads = loss_and_gradients(reference, *data, True)
    values, grads = loss_and_gradients(fused, *data, True)
    for a, b in zip(expected_values + expected_grads, values + grads, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        # bfloat16 keeps 8 bits of mantissa: ~1% of the largest entry.
        np.testing.assert_allclose(b, a, atol=0.03 * np.abs(a).max())


def test_inference_uses_float32_products_even_when_training_uses_bfloat16():
    reference, fused = layers_with_the_same_weights(training_matmul_dtype="bfloat16")
    data = inputs()
    expected, _ = loss_and_gradients(reference, *data, False)
    values, _ = loss_and_gradients(fused, *data, False)
    for a, b in zip(expected, values, strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)


def test_zero_output_for_mask_zeroes_the_masked_outputs():
    reference, fused = layers_with_the_same_weights(zero_output_for_mask=True)
    x, h0, c0, mask = inputs()
    expected = reference(x, initial_state=[h0, c0], mask=mask)[0]
    outputs = fused(x, initial_state=[h0, c0], mask=mask)[0]
    np.testing.assert_allclose(np.asarray(outputs), np.asarray(expected), atol=1e-5)
    assert np.all(np.asarray(outputs)[~mask] == 0)


def test_unsupported_settings_run_the_keras_loop(monkeypatch):
    calls = []
    monkeypatch.setattr(fused_module, "fused_lstm", lambda *a: calls.append(a))
    x, h0, c0, _ = inputs()
    fused_module.LSTM(UNITS, return_sequences=True, recurrent_dropout=0.2)(
        x, training=True
    )
    fused_module.LSTM(UNITS, return_sequences=False)(x)
    fused_module.LSTM(UNITS, return_sequences=True, activation="relu")(x)
    assert calls == []


def test_training_matmul_dtype_is_validated():
    with pytest.raises(
        ValueError,
        match="`training_matmul_dtype` must be 'auto', 'bfloat16' or 'float32'. "
        "Received: training_matmul_dtype='float16'",
    ):
        fused_module.LSTM(UNITS, training_matmul_dtype="float16")


def test_config_round_trip():
    layer = fused_module.LSTM(
        UNITS, return_sequences=True, training_matmul_dtype="float32"
    )
    config = layer.get_config()
    assert config["training_matmul_dtype"] == "float32"
    assert fused_module.LSTM.from_config(config).get_config() == config


def test_auto_reads_the_cpu_flags(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    original = fused_module.Path
    for flags, expected in (
        ("fpu sse avx512f", False),
        ("fpu amx_bf16 amx_tile", True),
    ):
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.setattr(fused_module, "Path", lambda _: original(cpuinfo))
        fused_module._cpu_has_bfloat16_units.cache_clear()
        assert fused_module._cpu_has_bfloat16_units() is expected
    fused_module._cpu_has_bfloat16_units.cache_clear()


def test_a_static_batch_size_survives_the_loops():
    # A graph traced for one fixed batch size (here 1) gives the states a
    # static batch dimension, which the loops' slices lose: the carried
    # states must keep it, through both stacked layers.
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, FEATURES, mask_zero=True)(inputs)
    x = fused_module.LSTM(UNITS, return_sequences=True)(x)
    model = keras.Model(inputs, fused_module.LSTM(UNITS, return_sequences=True)(x))
    ids = tf.constant([[0, 0, 3, 4, 5, 6, 7]], "int32")
    outputs = tf.function(model)(ids)
    assert outputs.shape == (1, 7, UNITS)
    np.testing.assert_allclose(np.asarray(outputs), np.asarray(model(ids)), atol=1e-6)
