"""The `Sampler` base, `GreedySampler`, `RandomSampler` and `samplers.get`.

Contracts every sampler shares (reserved ids, seeds, greedy at temperature
0, config and `.keras` round trips, bad arguments) are checked here for all
of them; the filtering samplers' own distributions are in
filter_samplers_test.py.
"""

import keras
import numpy as np
import pytest
from scipy import stats
from test_case import assert_same_outputs, run_saving_test, run_serialization_test

import keras_chargen
from keras_chargen import samplers

VOCAB = 10
SAMPLES = 20_000

# One configured instance of each sampler, seeded where it draws.
CONFIGURED = [
    samplers.Sampler(temperature=0.9, seed=1),
    samplers.GreedySampler(),
    samplers.RandomSampler(temperature=1.5, seed=2),
    samplers.TopKSampler(k=3, temperature=0.8, seed=3),
    samplers.TopPSampler(p=0.6, temperature=1.2, seed=4),
    samplers.MinPSampler(min_p=0.2, temperature=0.7, seed=5),
    samplers.TypicalSampler(p=0.7, temperature=1.1, seed=6),
    samplers.TemperatureSampler(temperature=0.9, top_k=4, top_p=0.8, seed=7),
]
CLASSES = [type(s) for s in CONFIGURED]
STOCHASTIC = [c for c in CLASSES if c is not samplers.GreedySampler]


def ids_of(samplers_list):
    return [type(s).__name__ for s in samplers_list]


def row_logits(seed=0, vocab=VOCAB):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=1.5, size=(vocab,)).astype("float32")


def tiled(row, batch=SAMPLES):
    return np.tile(row[None, :], (batch, 1))


def tempered_reference(row, temperature=1.0):
    probs = np.zeros(len(row))
    scaled = row[2:].astype("float64") / temperature
    probs[2:] = np.exp(scaled - scaled.max())
    return probs / probs.sum()


def fresh(sampler):
    return type(sampler).from_config(sampler.get_config())


# ------------------------------------------------- the base and RandomSampler
@pytest.mark.parametrize("cls", [samplers.Sampler, samplers.RandomSampler])
@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_random_samples_follow_the_tempered_softmax(cls, temperature):
    row = row_logits(1)
    ids = np.asarray(cls(temperature=temperature, seed=3)(tiled(row)))
    counts = np.bincount(ids, minlength=VOCAB)
    assert counts[:2].sum() == 0
    expected = SAMPLES * tempered_reference(row, temperature)[2:]
    assert stats.chisquare(counts[2:], expected).pvalue > 0.001


@pytest.mark.parametrize("temperature", [1e-6, 0.7, 1e6])
def test_random_probabilities_match_numpy_reference(temperature):
    rows = np.stack([row_logits(seed) for seed in range(4)]) * 5.0
    probs = samplers.RandomSampler(temperature).probabilities(rows)
    expected = [tempered_reference(row, temperature) for row in rows]
    np.testing.assert_allclose(np.asarray(probs), expected, atol=1e-6)


# ------------------------------------------------------- greedy, temperature 0
@pytest.mark.parametrize("cls", CLASSES)
def test_temperature_zero_is_greedy_among_non_reserved_ids(cls):
    rows = np.stack([row_logits(seed) for seed in range(6)])
    rows[:, 0], rows[:, 1] = 100.0, 90.0
    sampler = cls() if cls is samplers.GreedySampler else cls(temperature=0)
    expected = np.argmax(rows[:, 2:], axis=-1) + 2
    np.testing.assert_array_equal(np.asarray(sampler(rows)), expected)
    probs = np.asarray(sampler.probabilities(rows))
    np.testing.assert_array_equal(probs, np.eye(VOCAB)[expected])


def test_greedy_draws_nothing_from_the_seed_generator():
    generator = keras.random.SeedGenerator(5)
    before = keras.ops.convert_to_numpy(generator.state)
    samplers.GreedySampler()(tiled(row_logits(), batch=4), generator)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(generator.state), before)


# --------------------------------------------------- contracts of every sampler
@pytest.mark.parametrize("sampler", CONFIGURED, ids=ids_of(CONFIGURED))
def test_output_is_int32_of_shape_batch(sampler):
    ids = fresh(sampler)(tiled(row_logits(), batch=5))
    assert keras.backend.standardize_dtype(ids.dtype) == "int32"
    assert tuple(ids.shape) == (5,)


@pytest.mark.parametrize("sampler", CONFIGURED, ids=ids_of(CONFIGURED))
def test_reserved_ids_never_emitted_even_with_largest_logits(sampler):
    row = row_logits(4)
    row[0], row[1] = 30.0, 25.0
    ids = np.asarray(fresh(sampler)(tiled(row, batch=5_000)))
    assert not np.isin(ids, [0, 1]).any()
    probs = np.asarray(fresh(sampler).probabilities(tiled(row, batch=2)))
    np.testing.assert_array_equal(probs[:, :2], 0.0)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("cls", STOCHASTIC)
def test_same_seed_gives_same_samples_and_different_seeds_differ(cls):
    logits = tiled(row_logits(5), batch=200)
    first = np.asarray(cls(seed=11)(logits))
    np.testing.assert_array_equal(first, np.asarray(cls(seed=11)(logits)))
    assert (first != np.asarray(cls(seed=12)(logits))).any()


@pytest.mark.parametrize("cls", STOCHASTIC)
def test_successive_calls_advance_the_own_seed_generator(cls):
    sampler = cls(seed=11)
    logits = tiled(row_logits(5), batch=200)
    assert (np.asarray(sampler(logits)) != np.asarray(sampler(logits))).any()


@pytest.mark.parametrize("cls", STOCHASTIC)
def test_given_seed_generator_is_used_instead_of_own_seed(cls):
    logits = tiled(row_logits(7), batch=200)
    first = cls(seed=1)(logits, keras.random.SeedGenerator(3))
    second = cls(seed=2)(logits, keras.random.SeedGenerator(3))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))


# ------------------------------------------------------ config and .keras files
@pytest.mark.parametrize("sampler", CONFIGURED, ids=ids_of(CONFIGURED))
def test_serialization_round_trip_gives_same_samples(sampler):
    restored = run_serialization_test(sampler)
    logits = tiled(row_logits(), batch=100)
    assert_same_outputs(fresh(sampler)(logits), restored(logits))


@pytest.mark.parametrize("sampler", CONFIGURED, ids=ids_of(CONFIGURED))
def test_keras_file_round_trip_gives_same_samples(sampler, tmp_path):
    logits = tiled(row_logits(2), batch=100)
    loaded = run_saving_test(fresh(sampler), logits, tmp_path)
    np.testing.assert_allclose(
        np.asarray(loaded.probabilities(logits)),
        np.asarray(sampler.probabilities(logits)),
        atol=1e-7,
    )


def test_get_config_holds_every_argument():
    assert samplers.GreedySampler().get_config() == {}
    assert samplers.RandomSampler().get_config() == {"temperature": 1.0, "seed": None}
    config = samplers.MinPSampler(min_p=0.05, temperature=0.5, seed=3).get_config()
    assert config == {"min_p": 0.05, "temperature": 0.5, "seed": 3}
    assert samplers.TopKSampler().get_config()["k"] == 5
    assert samplers.TopPSampler().get_config()["p"] == 0.9
    assert samplers.TypicalSampler().get_config()["p"] == 0.95


# --------------------------------------------------------------------- get()
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("beam", samplers.BeamSampler),
        ("greedy", samplers.GreedySampler),
        ("min_p", samplers.MinPSampler),
        ("random", samplers.RandomSampler),
        ("temperature", samplers.TemperatureSampler),
        ("top_k", samplers.TopKSampler),
        ("top_p", samplers.TopPSampler),
        ("typical", samplers.TypicalSampler),
    ],
)
def test_get_by_name_gives_the_sampler_with_its_defaults(name, cls):
    sampler = samplers.get(name)
    assert type(sampler) is cls
    assert sampler.get_config() == cls().get_config()


@pytest.mark.parametrize(
    "class_name", ["top_p", "TopPSampler", "keras_chargen>TopPSampler"]
)
def test_get_by_config_dict(class_name):
    config = {"p": 0.5, "temperature": 0.8, "seed": 3}
    sampler = samplers.get({"class_name": class_name, "config": config})
    assert type(sampler) is samplers.TopPSampler
    assert sampler.get_config() == config


@pytest.mark.parametrize("sampler", CONFIGURED, ids=ids_of(CONFIGURED))
def test_get_of_a_serialized_sampler_gives_it_back(sampler):
    restored = samplers.get(keras.saving.serialize_keras_object(sampler))
    assert type(restored) is type(sampler)
    assert restored.get_config() == sampler.get_config()


@keras.saving.register_keras_serializable(package="samplers_test")
class EvenIdsSampler(samplers.Sampler):
    def filter_log_probabilities(self, log_probabilities):
        ids = keras.ops.arange(keras.ops.shape(log_probabilities)[-1])
        keep = keras.ops.equal(ids % 2, 0)[None, :]
        log_probabilities = keras.ops.where(keep, log_probabilities, -1e30)
        return keras.ops.log_softmax(log_probabilities, axis=-1)


def test_get_revives_a_registered_subclass_and_its_filter_applies():
    config = keras.saving.serialize_keras_object(EvenIdsSampler(seed=1))
    sampler = samplers.get(config)
    assert type(sampler) is EvenIdsSampler
    ids = np.asarray(sampler(tiled(row_logits(3), batch=500)))
    assert set(np.unique(ids)) <= {2, 4, 6, 8}


def test_get_returns_instances_and_duck_typed_objects_unchanged():
    class ArgmaxSampler:
        def get_next_token(self, probabilities):
            return keras.ops.argmax(probabilities, axis=-1)

    sampler, duck = samplers.TopKSampler(k=2), ArgmaxSampler()
    assert samplers.get(sampler) is sampler
    assert samplers.get(duck) is duck
    assert samplers.get(None) is None


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        ("nucleus", r"Known names: 'beam', 'greedy', 'min_p', .*'typical'\. "),
        ("top-p", r"Received: identifier='top-p'"),
        ({"class_name": "Nucleus"}, r"Known names: .*Received: class_name='Nucleus'"),
        ({"class_name": "keras_chargen>CharLM"}, r"class_name='keras_chargen>CharLM'"),
        ({"config": {}}, r"Received: class_name=None"),
        (3, r"must be a sampler name, a config dict.*Received: identifier=3"),
    ],
)
def test_get_raises_for_unknown_identifiers(identifier, message):
    with pytest.raises(ValueError, match=message):
        samplers.get(identifier)


def test_namespace_exposes_every_sampler():
    assert keras_chargen.samplers is samplers
    assert samplers.TemperatureSampler is keras_chargen.TemperatureSampler
    assert all(issubclass(cls, samplers.Sampler) for cls in CLASSES)


# ------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (samplers.RandomSampler, {"temperature": -1.0}, "temperature=-1.0"),
        (samplers.RandomSampler, {"temperature": float("nan")}, "temperature=nan"),
        (samplers.TopKSampler, {"temperature": "1"}, "temperature='1'"),
        (samplers.TopPSampler, {"seed": 1.5}, "seed=1.5"),
        (samplers.TopKSampler, {"k": 0}, "`k` must be an int >= 1. Received: k=0"),
        (samplers.TopKSampler, {"k": 2.0}, "Received: k=2.0"),
        (samplers.TopKSampler, {"k": True}, "Received: k=True"),
        (samplers.TopPSampler, {"p": 0.0}, r"`p` must be a number in \(0, 1\]"),
        (samplers.TopPSampler, {"p": 1.01}, "Received: p=1.01"),
        (samplers.MinPSampler, {"min_p": 0}, r"in \(0, 1\]. Received: min_p=0$"),
        (samplers.MinPSampler, {"min_p": 1.5}, "Received: min_p=1.5"),
        (samplers.MinPSampler, {"min_p": float("nan")}, "Received: min_p=nan"),
        (samplers.MinPSampler, {"min_p": "0.1"}, "Received: min_p='0.1'"),
        (samplers.TypicalSampler, {"p": -0.5}, "Received: p=-0.5"),
        (samplers.TypicalSampler, {"p": None}, "Received: p=None"),
    ],
)
def test_bad_arguments_raise(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_greedy_takes_no_arguments():
    with pytest.raises(TypeError, match="temperature"):
        samplers.GreedySampler(temperature=1.0)
