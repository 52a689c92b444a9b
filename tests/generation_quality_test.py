import numpy as np
import pytest

from keras_chargen.evaluation.generation_quality import generation_quality


def test_distinct_ratios_match_hand_counts():
    report = generation_quality(["abab", "abc"])
    # 1-grams: a b a b a b c -> 3 distinct of 7.
    # 2-grams: ab ba ab | ab bc -> 3 distinct of 5.
    # 3-grams: aba bab | abc -> 3 distinct of 3.
    assert report["distinct_1"] == pytest.approx(3 / 7)
    assert report["distinct_2"] == pytest.approx(3 / 5)
    assert report["distinct_3"] == pytest.approx(1.0)
    assert report["generations"] == 2
    assert report["characters"] == 7


def test_memorized_share_matches_hand_counts():
    train = "the cat sat on the mat"
    report = generation_quality(["the dog", "cat sat"], train, ngram_sizes=(3,))
    # "the dog": the, "he " found; "e d", " do", "dog" not. "cat sat": all 5.
    assert report["memorized_3"] == pytest.approx(7 / 10)


def test_memorized_share_matches_a_set_of_training_ngrams():
    rng = np.random.default_rng(0)
    train = "".join(rng.choice(list("ab "), size=3000))
    texts = [train[100:400], "".join(rng.choice(list("ab "), size=300))]
    report = generation_quality(texts, train, ngram_sizes=(8, 16))
    for n in (8, 16):
        known = {train[i : i + n] for i in range(len(train) - n + 1)}
        grams = [t[i : i + n] for t in texts for i in range(len(t) - n + 1)]
        expected = sum(g in known for g in grams) / len(grams)
        assert report[f"memorized_{n}"] == pytest.approx(expected)


def test_ngrams_do_not_cross_text_boundaries():
    report = generation_quality(["ab", "cd"], "xbcx", ngram_sizes=(2,))
    assert report["memorized_2"] == 0.0  # "bc" spans two texts
    assert report["distinct_2"] == 1.0


def test_without_train_text_memorized_shares_are_none():
    report = generation_quality(["hello world"])
    assert report["memorized_8"] is None
    assert report["memorized_16"] is None
    assert report["memorized_32"] is None


def test_texts_shorter_than_n_give_none():
    report = generation_quality(["ab"], "abc")
    assert report["distinct_3"] is None
    assert report["memorized_8"] is None


def test_unicode_characters_are_compared_exactly():
    report = generation_quality(["caf\u00e9s\u2603"], "un caf\u00e9s\u2603!", (6,))
    assert report["memorized_6"] == 1.0


def test_a_single_str_is_rejected():
    with pytest.raises(TypeError, match="`texts` must be a list of str, not one str"):
        generation_quality("hello")


def test_empty_list_is_rejected():
    with pytest.raises(ValueError, match=r"`texts` must hold at least one text"):
        generation_quality([])


def test_bad_ngram_sizes_are_rejected():
    with pytest.raises(ValueError, match=r"`ngram_sizes` must hold ints >= 1"):
        generation_quality(["abc"], "abc", ngram_sizes=(0,))
