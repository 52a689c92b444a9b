"""`TextGenerator` with every sampler, and with duck-typed KerasHub samplers."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_chargen import samplers
from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM
from keras_chargen.samplers.loop_sampler import loop_sampler

TEXT = "The quick brown fox jumps over the lazy dog.\nROMEO: Wherefore art thou?\n"
PROMPTS = ["ROMEO", ""]
LENGTH = 30

SEEDED = [
    samplers.RandomSampler(seed=1),
    samplers.TopKSampler(k=4, seed=2),
    samplers.TopPSampler(p=0.8, temperature=1.3, seed=3),
    samplers.MinPSampler(min_p=0.1, seed=4),
    samplers.TypicalSampler(p=0.9, seed=5),
    samplers.TemperatureSampler(0.9, top_k=5, top_p=0.9, seed=6),
]
ALL = [samplers.GreedySampler(), *SEEDED]


def ids_of(sampler_list):
    return [type(s).__name__ for s in sampler_list]


def char_lm(seed=0):
    model = CharLM(
        CharVectorizer(vocabulary=sorted(set(TEXT))),
        embedding_dim=8,
        units=16,
        num_layers=1,
    )
    # Large random weights, so that continuations are far from constant.
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.8, size=weight.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def generator():
    return TextGenerator(char_lm())


def reseeded(sampler, seed):
    config = sampler.get_config()
    if "seed" not in config:
        return sampler  # greedy: nothing to seed
    return type(sampler).from_config({**config, "seed": seed})


class ArgmaxSampler:
    """KerasHub's protocol, deterministic."""

    def get_next_token(self, probabilities):
        return ops.argmax(probabilities, axis=-1)


class KerasHubStyleSampler:
    """As a keras_hub.samplers sampler: its own seed generator, categorical."""

    def __init__(self, seed=None, temperature=1.0):
        self.seed = seed
        self.temperature = temperature
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_next_token(self, probabilities):
        return keras.random.categorical(
            ops.log(probabilities), 1, seed=self.seed_generator, dtype="int32"
        )[:, 0]


class UniformSampler(KerasHubStyleSampler):
    """Any allowed id, uniformly: a seed that did not move would repeat one."""

    def get_next_token(self, probabilities):
        logits = ops.where(probabilities > 0, 0.0, -1e9)
        return keras.random.categorical(logits, 1, seed=self.seed_generator)[:, 0]


# ------------------------------------------------------------ every sampler
@pytest.mark.parametrize("sampler", ALL, ids=ids_of(ALL))
def test_same_seed_gives_the_same_text_and_stream_equals_generate(generator, sampler):
    texts = generator.generate(PROMPTS, LENGTH, sampler=sampler)
    assert [len(t) for t in texts] == [5 + LENGTH, LENGTH]
    # An unseeded call in between does not change what the seed gives.
    generator.generate(PROMPTS, LENGTH, sampler=reseeded(sampler, None))
    assert generator.generate(PROMPTS, LENGTH, sampler=sampler) == texts
    pieces = list(generator.stream("ROMEO", LENGTH, sampler=sampler, chunk_size=7))
    assert "".join(pieces) == texts[0][5:]


@pytest.mark.parametrize("sampler", SEEDED, ids=ids_of(SEEDED))
def test_different_seeds_give_different_texts(generator, sampler):
    first = generator.generate("ROMEO", LENGTH, sampler=sampler)
    assert generator.generate("ROMEO", LENGTH, sampler=reseeded(sampler, 99)) != first


@pytest.mark.parametrize("sampler", ALL, ids=ids_of(ALL))
def test_padding_and_oov_ids_are_never_generated(sampler):
    model = char_lm()
    bias = np.zeros(model.vocabulary_size, dtype="float32")
    bias[:2] = 100.0  # padding and OOV are by far the most likely ids
    model.get_layer("logits").bias.assign(bias)
    texts = TextGenerator(model).generate(PROMPTS, 40, sampler=sampler)
    assert [len(t) for t in texts] == [45, 40]
    assert not any("\ufffd" in t for t in texts)


@pytest.mark.parametrize(
    "sampler",
    [
        samplers.TemperatureSampler(temperature=0.0),
        samplers.TopKSampler(k=1, seed=1),
        samplers.TopPSampler(p=1e-6, seed=1),
        samplers.MinPSampler(min_p=1.0, seed=1),
        samplers.TypicalSampler(temperature=0.0),
        ArgmaxSampler(),
    ],
    ids=["temperature_0", "top_k_1", "top_p_tiny", "min_p_1", "typical_t0", "duck"],
)
def test_greedy_limits_give_the_greedy_text(generator, sampler):
    greedy = generator.generate(PROMPTS, LENGTH, sampler=samplers.GreedySampler())
    assert generator.generate(PROMPTS, LENGTH, sampler=sampler) == greedy
    assert len(set(greedy[0][5:])) >= 3


def test_samplers_with_the_same_config_but_another_class_get_their_own_loop():
    top_p, typical = (
        samplers.TopPSampler(0.5, seed=1),
        samplers.TypicalSampler(0.5, seed=1),
    )
    assert top_p.get_config() == typical.get_config()
    shared = TextGenerator(char_lm())
    shared.generate("ROMEO", LENGTH, sampler=top_p)
    expected = TextGenerator(char_lm()).generate("ROMEO", LENGTH, sampler=typical)
    assert shared.generate("ROMEO", LENGTH, sampler=typical) == expected


# --------------------------------------------------------------- duck typing
def test_duck_typed_sampler_is_seeded_and_streams_like_generate(generator):
    sampler = KerasHubStyleSampler(seed=3)
    state = ops.convert_to_numpy(sampler.seed_generator.state)
    text = generator.generate("ROMEO", LENGTH, sampler=sampler)
    assert generator.generate("ROMEO", LENGTH, sampler=sampler) == text
    pieces = generator.stream("ROMEO", LENGTH, sampler=sampler, chunk_size=8)
    assert "".join(pieces) == text[5:]
    other = generator.generate("ROMEO", LENGTH, sampler=KerasHubStyleSampler(seed=4))
    assert other != text
    # The seed travels through the loop; the sampler's own state is not written.
    np.testing.assert_array_equal(
        ops.convert_to_numpy(sampler.seed_generator.state), state
    )


def test_duck_typed_sampler_draws_move_on_at_every_step(generator):
    text = generator.generate("", 40, sampler=UniformSampler(seed=5))
    assert len(set(text)) > 5


def test_duck_typed_sampler_gets_tempered_probabilities_without_reserved_ids():
    received = []

    class Recorder(KerasHubStyleSampler):
        def get_next_token(self, probabilities):
            received.append(ops.convert_to_numpy(probabilities))
            return super().get_next_token(probabilities)

    logits = np.random.default_rng(0).normal(size=(3, 12)).astype("float32")
    logits[:, :2] = 50.0
    choose = loop_sampler(Recorder(seed=1, temperature=0.7))
    ids = ops.convert_to_numpy(choose(logits, keras.random.SeedGenerator(2)))
    expected = samplers.RandomSampler(temperature=0.7).probabilities(logits)
    np.testing.assert_allclose(received[0], ops.convert_to_numpy(expected), atol=1e-6)
    assert ids.dtype == np.int32 and ids.shape == (3,)
    assert not np.isin(ids, [0, 1]).any()


@pytest.mark.parametrize("bad", ["top_p", object(), samplers.TopKSampler])
def test_a_non_sampler_raises(generator, bad):
    with pytest.raises(
        TypeError,
        match=r"`sampler` must be a keras_chargen.samplers.Sampler or an object "
        r"with a `get_next_token\(probabilities\)` method. Received: ",
    ):
        generator.generate("ROMEO", 5, sampler=bad)
