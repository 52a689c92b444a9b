"""`BeamSampler`: exhaustive search, greedy, ranking, stops, configs."""

import itertools

import numpy as np
import pytest
from test_case import run_serialization_test

from keras_chargen import samplers
from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM

pytestmark = pytest.mark.all_backends

CHARACTERS = "ab."  # 3 characters: |V| ** depth beams is exhaustive


def random_char_lm(characters, seed=0, scale=1.0):
    model = CharLM(
        CharVectorizer(vocabulary=list(characters)),
        embedding_dim=4,
        units=8,
        num_layers=1,
    )
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def generator():
    return TextGenerator(random_char_lm(CHARACTERS))


def exhaustive(generator, prompt, depth):
    """Every continuation of `depth` characters with its log-probability."""
    continuations = ["".join(c) for c in itertools.product(CHARACTERS, repeat=depth)]
    scores = generator.score(continuations, prompts=[prompt] * len(continuations))
    return {c: float(s.sum()) for c, s in zip(continuations, scores, strict=True)}


@pytest.mark.parametrize("depth", [pytest.param(2, marks=pytest.mark.large), 3])
def test_width_v_to_the_depth_equals_exhaustive_search(generator, depth):
    prompts = ["ab", ""]
    beams = samplers.BeamSampler(
        num_beams=len(CHARACTERS) ** depth, return_all_beams=True
    )
    results = generator.generate(prompts, depth, sampler=beams)
    for prompt, result in zip(prompts, results, strict=True):
        expected = exhaustive(generator, prompt, depth)
        found = {text[len(prompt) :]: log_p for text, log_p in result}
        assert found.keys() == expected.keys()
        for continuation, log_p in found.items():
            assert log_p == pytest.approx(expected[continuation], abs=1e-4)
        best = max(expected, key=expected.get)
        assert result[0][0] == prompt + best
        log_ps = [log_p for _, log_p in result]
        assert log_ps == sorted(log_ps, reverse=True)
    best_only = samplers.BeamSampler(num_beams=len(CHARACTERS) ** depth)
    assert generator.generate(prompts, depth, sampler=best_only) == [
        r[0][0] for r in results
    ]


def test_width_one_equals_greedy():
    generator = TextGenerator(
        random_char_lm(sorted(set("the cat sat on a mat.")), seed=1)
    )
    prompts = ["the cat", "a", ""]
    greedy = generator.generate(prompts, 25, samplers.GreedySampler())
    assert generator.generate(prompts, 25, samplers.BeamSampler(num_beams=1)) == greedy


def test_beams_of_a_batch_equal_beams_of_each_prompt(generator):
    beams = samplers.BeamSampler(num_beams=5, return_all_beams=True)
    together = generator.generate(["ab", "b.a", ""], 6, sampler=beams)
    alone = [generator.generate(p, 6, sampler=beams) for p in ["ab", "b.a", ""]]
    for a, b in zip(together, alone, strict=True):
        assert [t for t, _ in a] == [t for t, _ in b]
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-4)


def test_log_probabilities_equal_the_scores_of_the_texts(generator):
    beams = samplers.BeamSampler(num_beams=4, return_all_beams=True)
    result = generator.generate("a", 12, sampler=beams)
    assert len(result) == 4 and len({t for t, _ in result}) == 4
    for text, log_p in result:
        assert log_p == pytest.approx(
            float(generator.score(text[1:], prompts="a").sum()), abs=1e-4
        )


def test_stream_yields_the_best_beam_once_at_the_end(generator):
    beams = samplers.BeamSampler(num_beams=3, return_all_beams=True)
    best = generator.generate("ab", 10, sampler=beams)[0][0]
    pieces = list(generator.stream("ab", 10, sampler=beams, chunk_size=2))
    assert pieces == [best[2:]]


def test_stop_strings_cut_each_beam_and_length_penalty_ranks_them(generator):
    def ranked(length_penalty):
        beams = samplers.BeamSampler(8, length_penalty, return_all_beams=True)
        return generator.generate("a", 10, sampler=beams, stop="b")

    for length_penalty in (0.0, 1.0, 3.0):
        result = ranked(length_penalty)
        assert len({t for t, _ in result}) == len(result) > 1
        for text, _ in result:
            assert text.endswith("b") or len(text) == 11
            assert text.count("b") <= 1
        keys = [log_p / (len(t) - 1) ** length_penalty for t, log_p in result]
        assert keys == sorted(keys, reverse=True)
    lengths = {lp: [len(t) for t, _ in ranked(lp)] for lp in (0.0, 3.0)}
    assert lengths[0.0] != lengths[3.0]  # the penalty changed the ranking


def test_beams_that_become_one_text_at_their_stop_are_kept_once(generator):
    beams = samplers.BeamSampler(num_beams=8, return_all_beams=True)
    result = generator.generate("a", 10, sampler=beams, stop=".")
    texts = [t for t, _ in result]
    assert len(texts) == len(set(texts))
    assert all(t.endswith(".") or len(t) == 11 for t in texts)


def test_banned_strings_hold_in_every_beam(generator):
    processors = [samplers.BannedStrings(["..", "ba"])]
    beams = samplers.BeamSampler(num_beams=6, return_all_beams=True)
    result = generator.generate("b", 12, sampler=beams, processors=processors)
    assert len(result) == 6
    for text, _ in result:
        assert ".." not in text and "ba" not in text


def test_more_beams_than_continuations_returns_only_real_ones(generator):
    beams = samplers.BeamSampler(num_beams=20, return_all_beams=True)
    result = generator.generate("a", 1, sampler=beams)
    assert sorted(t for t, _ in result) == ["a.", "aa", "ab"]


def test_length_zero_gives_the_prompt(generator):
    assert generator.generate(["ab", ""], 0, samplers.BeamSampler(3)) == ["ab", ""]


def test_config_round_trip_and_get():
    sampler = samplers.BeamSampler(
        num_beams=6, length_penalty=0.5, return_all_beams=True
    )
    revived = run_serialization_test(sampler)
    assert revived.get_config() == {
        "num_beams": 6,
        "length_penalty": 0.5,
        "return_all_beams": True,
    }
    assert type(samplers.get("beam")) is samplers.BeamSampler
    config = {"class_name": "BeamSampler", "config": {"num_beams": 2}}
    assert samplers.get(config).num_beams == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_beams": 0}, r"`num_beams` must be an int >= 1. Received: num_beams=0"),
        ({"num_beams": 2.0}, "Received: num_beams=2.0"),
        ({"length_penalty": float("nan")}, "Received: length_penalty=nan"),
        ({"return_all_beams": 1}, "Received: return_all_beams=1"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        samplers.BeamSampler(**kwargs)
