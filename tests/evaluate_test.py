import math

import keras
import numpy as np
import pytest

from keras_chargen.evaluation.char_ngram_model import CharNGramModel
from keras_chargen.evaluation.evaluate import evaluate
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM
from keras_chargen.samplers.temperature_sampler import TemperatureSampler

TRAIN_TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n" * 3
# Held-out text: ",", "z" and "!" are outside the vocabulary.
TEXT = "the cat and the dog sat on the log, then the mat.\n" * 4 + "zoo!"


def tiny_model(cell="lstm", num_layers=1, layer_norm=False, seed=0):
    vectorizer = CharVectorizer(vocabulary=sorted(set(TRAIN_TEXT)))
    model = CharLM(
        vectorizer,
        embedding_dim=6,
        units=12,
        num_layers=num_layers,
        dropout=0.0,
        cell=cell,
        layer_norm=layer_norm,
    )
    # Large random weights (biases included): varied, confident predictions.
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "layer_norm" not in weight.path:
            weight.assign(rng.normal(scale=0.7, size=weight.shape).astype("float32"))
    return model


def log_softmax(logits):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def reference(model):
    """Per-character log-probabilities from one NumPy pass over the whole text.

    `model.predict` on the whole text from the zero state is the scoring
    with carried states; the first character comes from the output layer
    applied to the zero state, which for this model is the Dense bias.
    """
    ids = model.vectorizer.encode(TEXT)
    later = log_softmax(model.predict(ids[None], verbose=0)[0, :-1])
    bias = keras.ops.convert_to_numpy(model.get_layer("logits").bias)
    first = log_softmax(bias[None])
    log_probs = np.concatenate([first, later])
    return ids, log_probs


@pytest.fixture(scope="module")
def report(model):
    return evaluate(model, TEXT, batch_size=16, train_text=TRAIN_TEXT, verbose=0)


def test_report_has_the_stable_keys(report):
    assert list(report) == [
        "characters",
        "loss",
        "bits_per_char",
        "perplexity",
        "accuracy",
        "confidence",
        "oov_rate",
        "unigram_bits_per_char",
        "ngram_bits_per_char",
        "ngram_order",
        "baseline_fit_on",
        "generation",
        "adapted",
    ]


def test_loss_is_the_mean_negative_log_likelihood(report, reference):
    ids, log_probs = reference
    nll = -log_probs[np.arange(len(ids)), ids]
    assert report["characters"] == len(TEXT)
    np.testing.assert_allclose(report["loss"], nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(
        report["bits_per_char"], nll.mean() / math.log(2), rtol=1e-5
    )
    np.testing.assert_allclose(report["perplexity"], math.exp(nll.mean()), rtol=1e-5)


def test_accuracy_counts_unknown_characters_as_errors(report, reference):
    ids, log_probs = reference
    hits = (log_probs.argmax(axis=-1) == ids) & (ids != 1)
    assert report["accuracy"] == pytest.approx(hits.mean(), abs=1e-9)


def test_confidence_is_the_mean_top_1_probability(report, reference):
    _, log_probs = reference
    expected = np.exp(log_probs.max(axis=-1)).mean()
    np.testing.assert_allclose(report["confidence"], expected, rtol=1e-5)


def test_oov_rate_is_the_share_of_unknown_characters(report):
    unknown = sum(c not in TRAIN_TEXT for c in TEXT)  # ",", "z" and "!"
    assert unknown == 6
    assert report["oov_rate"] == pytest.approx(unknown / len(TEXT))


def test_results_do_not_depend_on_batch_size(model):
    reports = [
        evaluate(model, TEXT, batch_size=size, verbose=0) for size in (1, 7, 1000)
    ]
    for key in ("loss", "accuracy", "confidence", "oov_rate"):
        values = [r[key] for r in reports]
        np.testing.assert_allclose(values, values[0], atol=1e-5, err_msg=key)


def test_deeper_models_are_scored_like_a_single_pass():
    model = tiny_model(cell="gru", num_layers=2, layer_norm=True, seed=1)
    ids = model.vectorizer.encode(TEXT)
    later = log_softmax(model.predict(ids[None], verbose=0)[0, :-1])
    # LayerNormalization of the zero state gives its offset, 0 here: the
    # first character's logits are the Dense bias again.
    bias = keras.ops.convert_to_numpy(model.get_layer("logits").bias)
    log_probs = np.concatenate([log_softmax(bias[None]), later])
    nll = -log_probs[np.arange(len(ids)), ids]
    loss = evaluate(model, TEXT, batch_size=9, verbose=0)["loss"]
    expected = nll.mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_unknown_characters_are_scored_as_id_1_whatever_on_unknown():
    model = tiny_model()
    model.vectorizer.on_unknown = "raise"
    report = evaluate(model, "zz", verbose=0)
    assert report["oov_rate"] == 1.0
    assert report["accuracy"] == 0.0


def test_unigram_baseline_uses_add_one_smoothing(model):
    report = evaluate(model, "abc", train_text="aab", verbose=0)
    # Counts a: 2, b: 1, others: 0; alphabet a, b + one unknown bucket.
    expected = -(math.log2(3 / 6) + math.log2(2 / 6) + math.log2(1 / 6)) / 3
    assert report["unigram_bits_per_char"] == pytest.approx(expected)


def test_without_train_text_the_unigram_baseline_is_fit_on_the_text(model):
    report = evaluate(model, "aab", verbose=0)
    expected = -(2 * math.log2(3 / 6) + math.log2(2 / 6)) / 3
    assert report["unigram_bits_per_char"] == pytest.approx(expected)
    assert report["baseline_fit_on"] == "text"
    assert report["ngram_bits_per_char"] is None
    assert report["ngram_order"] is None


def test_ngram_baseline_is_a_kneser_ney_model_fit_on_train_text(report):
    expected = CharNGramModel(order=5).fit(TRAIN_TEXT).bits_per_char(TEXT)
    assert report["ngram_bits_per_char"] == pytest.approx(expected)
    assert report["ngram_order"] == 5
    assert report["baseline_fit_on"] == "train_text"


def test_generation_metrics_are_reported_when_asked(model):
    report = evaluate(
        model,
        TEXT,
        train_text=TRAIN_TEXT,
        num_generations=3,
        generation_length=40,
        sampler=TemperatureSampler(1.0, seed=3),
        verbose=0,
    )
    generation = report["generation"]
    assert generation["generations"] == 3
    assert generation["characters"] == 120
    assert 0 < generation["distinct_3"] <= 1
    assert 0 <= generation["memorized_8"] <= 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"text": ""}, "`text` must not be empty"),
        (
            {"batch_size": 0},
            r"`batch_size` must be an int >= 1. Received: batch_size=0",
        ),
        ({"ngram_order": 0}, "`ngram_order` must be an int >= 1"),
        ({"num_generations": -1}, "`num_generations` must be an int >= 0"),
        ({"verbose": 3}, "`verbose` must be 'auto', 0, 1 or 2"),
        ({"train_text": ""}, "`train_text` must not be empty"),
        (
            {"adapt_chunk": 0},
            "`adapt_chunk` must be an int >= 1. Received: adapt_chunk=0",
        ),
        (
            {"adapt_learning_rate": 0.0},
            r"`adapt_learning_rate` must be a number > 0. Received: adapt_learning_rate=0.0",
        ),
        ({"adapt_learning_rate": True}, "`adapt_learning_rate` must be a number > 0"),
        (
            {"adapt_decay": 1.5},
            r"`adapt_decay` must be a number in \[0, 1\]. Received: adapt_decay=1.5",
        ),
        ({"adapt_decay": -0.1}, r"`adapt_decay` must be a number in \[0, 1\]"),
    ],
)
def test_bad_arguments_raise_value_error(model, kwargs, message):
    kwargs = {"text": TEXT, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate(model, **kwargs)


def test_text_must_be_a_str(model):
    with pytest.raises(TypeError, match="`text` must be a str. Received type list"):
        evaluate(model, ["abc"])


def test_model_without_vocabulary_is_rejected():
    model = CharLM(vocabulary_size=10, embedding_dim=2, units=4, num_layers=1)
    with pytest.raises(ValueError, match="needs the model's vocabulary"):
        evaluate(model, TEXT)


# ------------------------------------------------------- dynamic evaluation
REPEATED = "abc cab bac. " * 40


def test_adaptive_scoring_learns_from_a_repetitive_text():
    model = tiny_model(seed=3)
    static = evaluate(model, REPEATED, verbose=0)
    adaptive = evaluate(
        model, REPEATED, adapt=True, adapt_learning_rate=1e-2, adapt_chunk=13, verbose=0
    )
    assert static["adapted"] is False and adaptive["adapted"] is True
    assert adaptive["characters"] == static["characters"] == len(REPEATED)
    # The model has never seen this text: only adaptation can learn its loop.
    assert adaptive["bits_per_char"] < static["bits_per_char"] - 0.5, (adaptive, static)
    assert adaptive["accuracy"] > static["accuracy"]


def test_adaptive_scoring_predicts_each_chunk_before_learning_from_it():
    model = tiny_model(seed=4)
    chunk = 13
    # Scoring just the first chunk (plus the first character) involves no
    # update before it is scored, so it must match the static figure.
    head = REPEATED[: chunk + 1]
    static = evaluate(model, head, verbose=0)
    adaptive = evaluate(model, head, adapt=True, adapt_chunk=chunk, verbose=0)
    np.testing.assert_allclose(adaptive["loss"], static["loss"], rtol=1e-5)


def test_full_decay_undoes_every_step_so_scores_match_the_frozen_model():
    # adapt_decay=1 moves every weight all the way back after each step.
    model = tiny_model(seed=6)
    static = evaluate(model, REPEATED, verbose=0)
    adaptive = evaluate(
        model, REPEATED, adapt=True, adapt_learning_rate=1e-2, adapt_chunk=13,
        adapt_decay=1.0, verbose=0,
    )  # fmt: skip
    np.testing.assert_allclose(adaptive["loss"], static["loss"], rtol=1e-5)


def test_decay_pulls_the_adapted_model_back_towards_its_training():
    # On a text unlike anything seen in training, forgetting less of the
    # adaptation scores better: a strong pull back costs bits.
    model = tiny_model(seed=7)
    kwargs = dict(adapt=True, adapt_learning_rate=1e-2, adapt_chunk=13, verbose=0)
    free = evaluate(model, REPEATED, adapt_decay=0.0, **kwargs)
    pulled = evaluate(model, REPEATED, adapt_decay=0.5, **kwargs)
    static = evaluate(model, REPEATED, verbose=0)
    assert free["bits_per_char"] < pulled["bits_per_char"] < static["bits_per_char"]


def test_adaptive_scoring_leaves_the_model_unchanged():
    model = tiny_model(seed=5)
    before = [w.copy() for w in model.get_weights()]
    evaluate(model, REPEATED, adapt=True, adapt_learning_rate=1e-2, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_adaptive_scoring_runs_on_a_deeper_model():
    # The second layer's state gradient enters the backward loop with a
    # static batch size: the loop must keep it (a shape error once).
    model = tiny_model(num_layers=2, seed=8)
    static = evaluate(model, REPEATED, verbose=0)
    adaptive = evaluate(
        model, REPEATED, adapt=True, adapt_learning_rate=1e-2, adapt_chunk=13,
        adapt_decay=1.0, verbose=0,
    )  # fmt: skip
    np.testing.assert_allclose(adaptive["loss"], static["loss"], rtol=1e-5)
