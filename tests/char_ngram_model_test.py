import math

import numpy as np
import pytest

from keras_chargen.evaluation.char_ngram_model import CharNGramModel


def test_order_2_matches_a_hand_computed_case():
    # "abab": bigrams ab x2, ba x1 -> D2 = n1 / (n1 + 2 n2) = 1/3.
    # Continuation counts a: 1, b: 1 -> D1 = 2 / (2 + 0) = 1, kept at 0.9.
    # Alphabet a, b + the unknown bucket: uniform 1/3.
    model = CharNGramModel(order=2).fit("abab")
    p_a = (1 - 0.9 + 0.9 * 2 / 3) / 2  # P1(a) = P1(b) = 0.35
    p_unknown = (0.9 * 2 / 3) / 2  # P1(c) = 0.3
    p_b_after_a = (2 - 1 / 3 + (1 / 3) * 1 * p_a) / 2
    p_c_after_b = (0 + (1 / 3) * 1 * p_unknown) / 1
    expected = np.log([p_a, p_b_after_a, p_c_after_b])
    np.testing.assert_allclose(model.log_probs("abc"), expected)
    assert model.discounts == pytest.approx([0.9, 1 / 3])


def test_bits_per_char_is_the_mean_negative_log2_probability():
    model = CharNGramModel(order=3).fit("abracadabra")
    log_probs = model.log_probs("cadabra")
    assert model.bits_per_char("cadabra") == pytest.approx(
        -log_probs.mean() / math.log(2)
    )


@pytest.mark.parametrize("context", ["", "a", "th", "the", "zq", "x\u00e9y"])
def test_probabilities_sum_to_one_in_any_context(context):
    model = CharNGramModel(order=4).fit("the cat sat on the mat; the hat")
    # Every character of the alphabet, plus one for the unknown bucket.
    candidates = list(model.alphabet) + ["\u2603"]
    total = sum(np.exp(model.log_probs(context + c)[-1]) for c in candidates)
    assert total == pytest.approx(1.0)


def test_higher_orders_beat_the_unigram_on_repetitive_text():
    text = "to be or not to be, that is the question. " * 20
    bits = [CharNGramModel(order).fit(text).bits_per_char(text) for order in (1, 3, 5)]
    assert bits[0] > bits[1] > bits[2]


def test_a_text_shorter_than_the_order_still_gives_probabilities():
    model = CharNGramModel(order=5).fit("ab")
    assert np.all(np.isfinite(model.log_probs("abba")))


@pytest.mark.parametrize("order", [0, -1, 2.5, True])
def test_order_must_be_a_positive_int(order):
    with pytest.raises(ValueError, match=r"`order` must be an int >= 1. Received"):
        CharNGramModel(order)


def test_fit_rejects_empty_text():
    with pytest.raises(ValueError, match="`text` must not be empty"):
        CharNGramModel().fit("")


def test_log_probs_before_fit_raises():
    with pytest.raises(ValueError, match="not fitted yet"):
        CharNGramModel().log_probs("abc")
