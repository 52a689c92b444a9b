import math

import keras
import numpy as np
import pytest
from test_case import run_saving_test, run_serialization_test

from keras_chargen.metrics.bits_per_character import BitsPerCharacter
from keras_chargen.metrics.perplexity_metric import PerplexityMetric

VOCAB = 7


def random_batch(rng, batch, time=5, vocab=VOCAB):
    y_true = rng.integers(0, vocab, size=(batch, time))
    logits = rng.normal(scale=2.0, size=(batch, time, vocab)).astype("float32")
    return y_true, logits


def reference_nll(y_true, logits, weights=None):
    """Summed NLL and summed weights, computed independently in float64."""
    logits = np.asarray(logits, dtype="float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
    weights = np.ones_like(nll) if weights is None else weights
    weights = np.broadcast_to(weights, nll.shape)
    return float((nll * weights).sum()), float(weights.sum())


def reference_perplexity(y_true, logits, weights=None):
    total, count = reference_nll(y_true, logits, weights)
    return math.exp(total / count)


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def metric_value(metric, *batches):
    for batch in batches:
        metric.update_state(*batch)
    return float(metric.result())


def test_matches_numpy_reference_many_to_many():
    y_true, logits = random_batch(np.random.default_rng(0), batch=4)
    value = metric_value(PerplexityMetric(), (y_true, logits))
    assert value == pytest.approx(reference_perplexity(y_true, logits), rel=1e-5)


def test_logits_and_probabilities_agree():
    y_true, logits = random_batch(np.random.default_rng(1), batch=4)
    from_logits = metric_value(PerplexityMetric(), (y_true, logits))
    from_probs = metric_value(
        PerplexityMetric(from_logits=False), (y_true, softmax(logits))
    )
    assert from_probs == pytest.approx(from_logits, rel=1e-5)


def test_two_unequal_updates_equal_one_merged_update():
    rng = np.random.default_rng(2)
    first, second = random_batch(rng, batch=2), random_batch(rng, batch=6)
    merged = tuple(np.concatenate(pair) for pair in zip(first, second, strict=True))
    two_updates = metric_value(PerplexityMetric(), first, second)
    one_update = metric_value(PerplexityMetric(), merged)
    assert two_updates == pytest.approx(one_update, rel=1e-5)
    assert two_updates == pytest.approx(reference_perplexity(*merged), rel=1e-5)


def test_result_is_not_mean_of_per_batch_perplexities():
    rng = np.random.default_rng(3)
    first, second = random_batch(rng, batch=1), random_batch(rng, batch=7)
    per_batch_mean = (reference_perplexity(*first) + reference_perplexity(*second)) / 2
    value = metric_value(PerplexityMetric(), first, second)
    assert abs(value - per_batch_mean) > 1e-2 * value


def test_mask_token_id_excludes_those_targets():
    y_true, logits = random_batch(np.random.default_rng(4), batch=4)
    y_true[:, -2:] = 0
    keep = (y_true != 0).astype("float64")
    value = metric_value(PerplexityMetric(mask_token_id=0), (y_true, logits))
    expected = reference_perplexity(y_true, logits, keep)
    assert value == pytest.approx(expected, rel=1e-5)
    assert value != pytest.approx(reference_perplexity(y_true, logits), rel=1e-3)


def test_per_token_sample_weight_multiplies_contributions():
    rng = np.random.default_rng(5)
    y_true, logits = random_batch(rng, batch=3)
    weights = rng.uniform(0.0, 2.0, size=y_true.shape).astype("float32")
    metric = PerplexityMetric()
    metric.update_state(y_true, logits, sample_weight=weights)
    expected = reference_perplexity(y_true, logits, weights)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


def test_per_sequence_sample_weight_weights_whole_rows():
    rng = np.random.default_rng(6)
    y_true, logits = random_batch(rng, batch=3)
    weights = np.array([1.0, 0.0, 3.0], dtype="float32")
    metric = PerplexityMetric(mask_token_id=0)
    metric.update_state(y_true, logits, sample_weight=weights)
    expected_weights = weights[:, None] * (y_true != 0)
    expected = reference_perplexity(y_true, logits, expected_weights)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


def test_many_to_one_shapes():
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, VOCAB, size=(6,))
    logits = rng.normal(size=(6, VOCAB)).astype("float32")
    value = metric_value(PerplexityMetric(), (y_true, logits))
    assert value == pytest.approx(reference_perplexity(y_true, logits), rel=1e-5)


def test_trailing_unit_axis_on_targets_is_squeezed():
    y_true, logits = random_batch(np.random.default_rng(8), batch=2)
    value = metric_value(PerplexityMetric(), (y_true[..., None], logits))
    assert value == pytest.approx(reference_perplexity(y_true, logits), rel=1e-5)


def test_empty_metric_result_is_zero():
    assert float(PerplexityMetric().result()) == 0.0
    assert float(BitsPerCharacter().result()) == 0.0


def test_fully_masked_batch_leaves_result_at_zero():
    y_true, logits = random_batch(np.random.default_rng(9), batch=2)
    value = metric_value(PerplexityMetric(mask_token_id=0), (0 * y_true, logits))
    assert value == 0.0


def test_reset_state_gives_a_fresh_metric():
    rng = np.random.default_rng(10)
    first, second = random_batch(rng, batch=3), random_batch(rng, batch=2)
    metric = PerplexityMetric()
    metric.update_state(*first)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    value = metric_value(metric, second)
    assert value == pytest.approx(reference_perplexity(*second), rel=1e-5)


def test_bits_per_char_is_log2_of_perplexity():
    batch = random_batch(np.random.default_rng(11), batch=4)
    perplexity = PerplexityMetric()
    bits = BitsPerCharacter()
    perplexity.update_state(*batch)
    bits.update_state(*batch)
    expected = math.log2(reference_perplexity(*batch))
    assert float(bits.result()) == pytest.approx(expected, rel=1e-5)
    assert float(perplexity.bits_per_char()) == pytest.approx(expected, rel=1e-5)
    assert float(bits.result()) == pytest.approx(
        math.log2(float(perplexity.result())), rel=1e-5
    )


def test_get_config():
    assert PerplexityMetric(mask_token_id=0).get_config() == {
        "name": "perplexity",
        "dtype": "float32",
        "from_logits": True,
        "mask_token_id": 0,
    }
    assert BitsPerCharacter(from_logits=False).get_config() == {
        "name": "bits_per_char",
        "dtype": "float32",
        "from_logits": False,
        "mask_token_id": None,
    }


SERIALIZED = [
    (PerplexityMetric, {}),
    (PerplexityMetric, {"from_logits": False, "mask_token_id": 3, "name": "custom"}),
    (BitsPerCharacter, {}),
    (BitsPerCharacter, {"from_logits": False, "mask_token_id": 0, "name": "bpc"}),
]


@pytest.mark.parametrize(("cls", "kwargs"), SERIALIZED)
def test_serialization_round_trip(cls, kwargs):
    original = cls(**kwargs)
    restored = run_serialization_test(original)
    assert type(restored) is cls
    assert restored.from_logits == original.from_logits
    assert restored.mask_token_id == original.mask_token_id
    assert restored.name == original.name


@pytest.mark.parametrize(("cls", "kwargs"), SERIALIZED)
def test_keras_file_round_trip_gives_same_metric_values(cls, kwargs, tmp_path):
    y_true, logits = random_batch(np.random.default_rng(12), batch=4)
    y_true[:, -2:] = 0
    from_logits = kwargs.get("from_logits", True)
    y_pred = logits if from_logits else softmax(logits)
    loaded = run_saving_test(cls(**kwargs), (y_true, y_pred), tmp_path)
    mask = kwargs.get("mask_token_id")
    weights = None if mask is None else (y_true != mask).astype("float64")
    expected = reference_perplexity(y_true, logits, weights)
    if cls is BitsPerCharacter:
        expected = math.log2(expected)
    # The loaded metric holds the state of its `evaluate()` on the batch.
    assert float(loaded.result()) == pytest.approx(expected, rel=1e-5)
    assert expected > 1.0


def tiny_model(metrics, learning_rate=1e-2):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, 4)(inputs)
    outputs = keras.layers.Dense(VOCAB)(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=metrics,
    )
    return model


def lm_data(seed, samples=10, time=6):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, size=(samples, time + 1))
    return ids[:, :-1], ids[:, 1:]


def test_metric_in_fit_and_evaluate_matches_reference_from_predict():
    x, y = lm_data(13)
    # A zero learning rate keeps the weights fixed during `fit`, so the value
    # logged by `fit` must equal one computed from `predict` afterwards.
    model = tiny_model(
        [PerplexityMetric(mask_token_id=0), BitsPerCharacter(mask_token_id=0)],
        learning_rate=0.0,
    )
    # Batches of 4, 4 and 2 sequences: a per-batch mean would differ.
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    evaluated = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    logits = model.predict(x, batch_size=4, verbose=0)
    expected = reference_perplexity(y, logits, (y != 0).astype("float64"))
    assert history.history["perplexity"][0] == pytest.approx(expected, rel=1e-5)
    assert evaluated["perplexity"] == pytest.approx(expected, rel=1e-5)
    assert evaluated["bits_per_char"] == pytest.approx(math.log2(expected), rel=1e-5)


@pytest.mark.parametrize("cls", [PerplexityMetric, BitsPerCharacter])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"from_logits": "yes"}, "Received: from_logits='yes'"),
        ({"from_logits": 1}, "Received: from_logits=1"),
        ({"mask_token_id": -1}, "Received: mask_token_id=-1"),
        ({"mask_token_id": 0.5}, "Received: mask_token_id=0.5"),
        ({"mask_token_id": True}, "Received: mask_token_id=True"),
    ],
)
def test_bad_arguments_raise(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)
