"""Logit processors: NumPy references, the generation loop, configs, errors.

Each processor is compared with a NumPy float64 reference of its formula,
on random logits and random windows of recent ids (left-padded as the loop
pads them); a sampler fed the processed logits draws (chi-square) from the
distribution the formula gives; greedy generation with processors equals a
Python loop that re-runs the whole model on the text so far and applies the
reference (so the loop carries the window, prompt tail included); banned
strings and repeated n-grams never appear in generated text.
"""

import numpy as np
import pytest
from keras import ops
from scipy import stats
from test_case import run_serialization_test

from keras_chargen import samplers
from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM

pytestmark = pytest.mark.all_backends

VOCAB = 9
BATCH = 6
WINDOW = 12
TEXT = "the cat sat on the mat. "


# ------------------------------------------------------- NumPy references
def counts_reference(recent, vocab=VOCAB):
    counts = np.zeros((len(recent), vocab))
    for row, ids in zip(counts, recent, strict=True):
        for i in ids:
            if i != 0:
                row[i] += 1
    return counts


def repetition_reference(logits, recent, penalty):
    out = logits.astype("float64").copy()
    seen = counts_reference(recent, logits.shape[1]) > 0
    out[seen] = np.where(out[seen] > 0, out[seen] / penalty, out[seen] * penalty)
    return out


def frequency_reference(logits, recent, frequency, presence):
    counts = counts_reference(recent, logits.shape[1])
    return logits - counts * frequency - (counts > 0) * presence


def ngram_banned_reference(recent, n, vocab=VOCAB):
    banned = np.zeros((len(recent), vocab), bool)
    for row, ids in zip(banned, recent, strict=True):
        ids = list(ids)
        prefix = ids[len(ids) - (n - 1) :] if n > 1 else []
        for j in range(len(ids) - n + 1):
            gram = ids[j : j + n]
            if 0 not in gram and gram[:-1] == prefix:
                row[gram[-1]] = True
    return banned


def strings_banned_reference(recent, id_strings, vocab=VOCAB):
    banned = np.zeros((len(recent), vocab), bool)
    for row, ids in zip(banned, recent, strict=True):
        for s in id_strings:
            if len(s) == 1 or list(ids[len(ids) - (len(s) - 1) :]) == s[:-1]:
                row[s[-1]] = True
    return banned


def softmax_reference(logits):
    """float64 softmax over the non-reserved ids, zeros at 0 and 1."""
    probs = np.zeros(logits.shape)
    scaled = logits[:, 2:].astype("float64")
    e = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probs[:, 2:] = e / e.sum(axis=1, keepdims=True)
    return probs


def random_case(seed=0, vocab=VOCAB, width=WINDOW, distinct=3):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(BATCH, vocab)).astype("float32")
    # Few distinct ids so that repeats (and repeated n-grams) are common.
    recent = rng.integers(2, 2 + distinct, size=(BATCH, width)).astype("int32")
    for row, pad in zip(recent, rng.integers(0, width // 2, size=BATCH), strict=True):
        row[:pad] = 0  # left padding of short texts
    return logits, recent


def processed(processor, logits, recent, step=0):
    return np.asarray(processor(logits, recent, np.int32(step)), "float64")


# ---------------------------------------------------- formulas, one by one
@pytest.mark.parametrize("penalty", [1.5, 0.7, 1.0])
def test_repetition_penalty_follows_ctrl_formula(penalty):
    logits, recent = random_case(1)
    processor = samplers.RepetitionPenalty(penalty, window=WINDOW)
    expected = repetition_reference(logits, recent, penalty)
    np.testing.assert_allclose(
        processed(processor, logits, recent), expected, rtol=1e-6
    )


@pytest.mark.parametrize(
    ("frequency", "presence"), [(0.5, 0.0), (0.3, 1.2), (-0.4, 0.2)]
)
def test_frequency_and_presence_penalties_follow_openai_formula(frequency, presence):
    logits, recent = random_case(2)
    processor = samplers.FrequencyPenalty(frequency, presence, window=WINDOW)
    expected = frequency_reference(logits, recent, frequency, presence)
    np.testing.assert_allclose(
        processed(processor, logits, recent), expected, rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_no_repeat_ngram_bans_exactly_the_repeating_characters(n):
    logits, recent = random_case(3, distinct=2)
    banned = ngram_banned_reference(recent, n)
    out = processed(samplers.NoRepeatNGram(n, window=WINDOW), logits, recent)
    # Rows where the rule would leave no character are left as they were.
    keeps_some = ~banned[:, 2:].all(axis=1)
    assert keeps_some.any() and banned[keeps_some].any()
    np.testing.assert_array_equal(out[keeps_some] < -1e37, banned[keeps_some])
    np.testing.assert_array_equal(out[~keeps_some], logits[~keeps_some])


def test_banned_strings_ban_the_completing_character():
    vectorizer = CharVectorizer(vocabulary=list("abcdefg"))  # ids 2..8
    processor = samplers.BannedStrings(["g", "ab", "bca", "ccc"])
    processor.build(vectorizer)
    logits, _ = random_case(4)
    # Each row's last two characters (0: padding): after "a", after "bc",
    # after "cc", after "ca", after a lone "c", and at the start.
    recent = np.array([[4, 2], [3, 4], [4, 4], [4, 2], [0, 4], [0, 0]], "int32")
    id_strings = [[ord(c) - ord("a") + 2 for c in s] for s in processor.strings]
    banned = strings_banned_reference(recent, id_strings)
    assert banned[:4, 2:5].any(axis=1).all()  # a prefix matched in these rows
    np.testing.assert_array_equal(processed(processor, logits, recent) < -1e37, banned)


@pytest.mark.parametrize(
    ("step", "temperature"), [(0, 1.5), (30, 1.0), (60, 0.5), (500, 0.5)]
)
def test_temperature_schedule_is_linear_then_constant(step, temperature):
    logits, recent = random_case(5)
    processor = samplers.TemperatureSchedule(start=1.5, end=0.5, steps=60)
    np.testing.assert_allclose(
        processed(processor, logits, recent, step), logits / temperature, rtol=1e-6
    )


def test_sampler_draws_from_the_penalized_distribution():
    logits, recent = random_case(6)
    logits, recent = np.tile(logits[:1], (20_000, 1)), np.tile(recent[:1], (20_000, 1))
    penalties = [
        samplers.RepetitionPenalty(1.8, window=WINDOW),
        samplers.FrequencyPenalty(0.4, 0.3, window=WINDOW),
    ]
    out = logits
    for processor in penalties:
        out = processor(out, recent, np.int32(0))
    expected = softmax_reference(
        frequency_reference(
            repetition_reference(logits[:1], recent[:1], 1.8), recent[:1], 0.4, 0.3
        )
    )[0]
    sampler = samplers.RandomSampler(seed=3)
    np.testing.assert_allclose(
        np.asarray(sampler.probabilities(out))[0], expected, rtol=1e-5, atol=1e-7
    )
    counts = np.bincount(np.asarray(sampler(out)), minlength=VOCAB)
    allowed = expected > 0
    assert counts[~allowed].sum() == 0
    _, p_value = stats.chisquare(counts[allowed], expected[allowed] * counts.sum())
    assert p_value > 1e-4


# -------------------------------------------------------- in the generator
@pytest.fixture(scope="module")
def model():
    model = CharLM(
        CharVectorizer(vocabulary=sorted(set(TEXT))),
        embedding_dim=8,
        units=16,
        num_layers=1,
    )
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.8, size=weight.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def generator(model):
    return TextGenerator(model)


def greedy_reference(model, prompt, length, rule):
    """Re-runs the whole model on the text so far; `rule(logits, ids)`."""
    vectorizer = model.vectorizer
    ids = list(vectorizer.encode(prompt))
    for _ in range(length):
        logits = ops.convert_to_numpy(model(np.array([ids or [0]], "int32")))[0, -1]
        logits = rule(logits[None].astype("float64"), ids)[0]
        logits[:2] = -np.inf
        ids.append(int(np.argmax(logits)))
    return vectorizer.decode(np.array(ids, "int32"))


def test_greedy_with_penalties_equals_a_full_rerun_with_the_formulas(model, generator):
    window = 10
    processors = [
        samplers.RepetitionPenalty(1.6, window=window),
        samplers.FrequencyPenalty(0.3, 0.5, window=window),
    ]

    def rule(logits, ids):
        recent = np.zeros((1, window), "int32")
        tail = np.array(ids[-window:], "int32")
        recent[0, window - len(tail) :] = tail
        out = repetition_reference(logits, recent, 1.6)
        return frequency_reference(out, recent, 0.3, 0.5)

    prompts = ["the cat", "a"]
    texts = generator.generate(
        prompts, 16, samplers.GreedySampler(), processors=processors
    )
    assert texts == [greedy_reference(model, p, 16, rule) for p in prompts]
    plain = generator.generate(prompts, 16, samplers.GreedySampler())
    assert texts != plain


def repeats_an_ngram(text, start, n, window):
    """Whether an n-gram ending at or after `start` occurs in the window before it."""
    for end in range(max(start, n - 1), len(text)):
        gram = text[end - n + 1 : end + 1]
        earlier = text[max(0, end - window) : end]
        if gram in earlier:
            return True
    return False


@pytest.mark.parametrize(
    "sampler",
    [samplers.GreedySampler(), samplers.RandomSampler(temperature=1.5, seed=2)],
    ids=["greedy", "random"],
)
def test_banned_strings_and_repeated_ngrams_never_appear(generator, sampler):
    banned = ["t", "a ", "e m", "ss"]
    processors = [samplers.BannedStrings(banned), samplers.NoRepeatNGram(4, window=30)]
    prompts = ["the ca", "on the ma", ""]
    texts = generator.generate(prompts, 80, sampler, processors=processors)
    for prompt, text in zip(prompts, texts, strict=True):
        # A banned string may start in the prompt; it must not end after it.
        for s in banned:
            assert s not in text[max(0, len(prompt) - len(s) + 1) :], (s, text)
        assert not repeats_an_ngram(text, len(prompt), 4, 30), text
    free = generator.generate(prompts, 80, sampler)
    assert any(s in t for s in banned for t in free)  # the bans had work to do


def test_seeded_generation_with_processors_streams_like_generate(generator):
    sampler = samplers.TopKSampler(k=4, seed=5)
    processors = [
        samplers.RepetitionPenalty(1.4, window=6),
        samplers.TemperatureSchedule(1.5, 0.5, steps=20),
        samplers.BannedStrings("at"),
    ]
    text = generator.generate("the cat", 40, sampler, processors=processors)
    assert generator.generate("the cat", 40, sampler, processors=processors) == text
    # Chunks of 3: the window and the step count carry over between calls.
    pieces = generator.stream(
        "the cat", 40, sampler, chunk_size=3, processors=processors
    )
    assert "".join(pieces) == text[len("the cat") :]
    assert "at" not in text[len("the ca") :]  # may start on the last "a"


def test_processor_with_a_character_outside_the_vocabulary_raises(generator):
    with pytest.raises(
        ValueError, match=r"vocabulary.*Received: strings=\['xyz'\] with 'xyz'"
    ):
        generator.generate("the", 5, processors=samplers.BannedStrings("xyz"))


@pytest.mark.parametrize("bad", ["penalty", 3, [samplers.GreedySampler()]])
def test_processors_of_the_wrong_type_raise(generator, bad):
    with pytest.raises(TypeError, match="`processors` must be a keras_chargen"):
        generator.generate("the", 5, processors=bad)


# ---------------------------------------------------- configs and errors
PROCESSORS = [
    samplers.RepetitionPenalty(1.3, window=16),
    samplers.FrequencyPenalty(0.2, presence_penalty=0.4, window=20),
    samplers.NoRepeatNGram(6, window=40),
    samplers.BannedStrings(["ab", "c"]),
    samplers.TemperatureSchedule(1.2, 0.6, steps=50),
]


@pytest.mark.parametrize("processor", PROCESSORS, ids=lambda p: type(p).__name__)
def test_processor_config_round_trip(processor):
    revived = run_serialization_test(processor)
    assert revived.get_config() == processor.get_config()
    assert revived.window == processor.window


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (
            samplers.RepetitionPenalty,
            {"penalty": 0},
            r"`penalty` must be a finite number > 0. Received: penalty=0",
        ),
        (samplers.RepetitionPenalty, {"penalty": -1.2}, "Received: penalty=-1.2"),
        (
            samplers.RepetitionPenalty,
            {"window": 0},
            r"`window` must be an int >= 1. Received: window=0",
        ),
        (
            samplers.FrequencyPenalty,
            {"frequency_penalty": float("inf")},
            "Received: frequency_penalty=inf",
        ),
        (
            samplers.FrequencyPenalty,
            {"presence_penalty": "1"},
            "Received: presence_penalty='1'",
        ),
        (samplers.NoRepeatNGram, {"n": 0}, r"`n` must be an int >= 1. Received: n=0"),
        (
            samplers.NoRepeatNGram,
            {"n": 8, "window": 5},
            r"`window` must be an int >= 8. Received: window=5",
        ),
        (
            samplers.BannedStrings,
            {"strings": ["ok", ""]},
            "must be a list of non-empty str",
        ),
        (
            samplers.TemperatureSchedule,
            {"start": 0},
            r"`start` must be a finite number > 0. Received: start=0",
        ),
        (
            samplers.TemperatureSchedule,
            {"steps": 0},
            r"`steps` must be an int >= 1. Received: steps=0",
        ),
    ],
)
def test_bad_processor_arguments_raise(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)
