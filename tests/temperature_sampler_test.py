import random

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats
from test_case import assert_same_outputs, run_saving_test, run_serialization_test

from keras_chargen.backend.compiled import compiled
from keras_chargen.backend.loops import scan
from keras_chargen.samplers.temperature_sampler import TemperatureSampler

VOCAB = 10
SAMPLES = 20_000


def row_logits(seed=0, vocab=VOCAB):
    return (
        np.random.default_rng(seed).normal(scale=1.5, size=(vocab,)).astype("float32")
    )


def tiled(row, batch=SAMPLES):
    return np.tile(row[None, :], (batch, 1))


def reference_probabilities(row, temperature=1.0, top_k=None, top_p=None):
    """The filtered distribution over the whole vocabulary, in float64."""
    probs = np.zeros(len(row))
    scaled = row[2:].astype("float64") / temperature
    allowed = np.exp(scaled - scaled.max())
    allowed /= allowed.sum()
    order = np.argsort(-allowed, kind="stable")
    if top_k is not None:
        allowed[order[top_k:]] = 0.0
        allowed /= allowed.sum()
    if top_p is not None:
        mass_before = np.cumsum(allowed[order]) - allowed[order]
        allowed[order[mass_before >= top_p]] = 0.0
        allowed /= allowed.sum()
    probs[2:] = allowed
    return probs


def emitted_ids(sampler, row, batch=SAMPLES):
    ids = np.asarray(sampler(tiled(row, batch)))
    assert ids.shape == (batch,)
    return ids


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_samples_follow_tempered_softmax(temperature):
    row = row_logits(1)
    ids = emitted_ids(TemperatureSampler(temperature=temperature, seed=3), row)
    counts = np.bincount(ids, minlength=VOCAB)
    assert counts[:2].sum() == 0
    expected = SAMPLES * reference_probabilities(row, temperature)[2:]
    assert stats.chisquare(counts[2:], expected).pvalue > 0.001


def test_output_is_int32_of_shape_batch():
    ids = TemperatureSampler(seed=0)(tiled(row_logits(), batch=5))
    assert keras.backend.standardize_dtype(ids.dtype) == "int32"
    assert tuple(ids.shape) == (5,)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": 0.7},
        {"temperature": 1.3, "top_k": 3},
        {"temperature": 1.0, "top_p": 0.6},
        {"temperature": 2.0, "top_k": 5, "top_p": 0.5},
        {"temperature": 1.0, "top_k": 50},
    ],
)
def test_probabilities_match_numpy_reference(kwargs):
    rows = np.stack([row_logits(seed) for seed in range(4)])
    probs = np.asarray(TemperatureSampler(**kwargs).probabilities(rows))
    expected = np.stack([reference_probabilities(row, **kwargs) for row in rows])
    np.testing.assert_allclose(probs, expected, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs", [{"top_k": 3}, {"top_p": 0.5}, {"top_k": 4, "top_p": 0.7}]
)
def test_filtering_never_emits_a_filtered_id(kwargs):
    row = row_logits(2)
    allowed = set(np.flatnonzero(reference_probabilities(row, **kwargs)))
    ids = emitted_ids(TemperatureSampler(seed=4, **kwargs), row)
    assert set(np.unique(ids)) <= allowed
    assert len(allowed) < VOCAB - 2


def test_top_p_always_keeps_the_most_likely_id():
    row = row_logits(3)
    ids = emitted_ids(TemperatureSampler(top_p=1e-6, seed=5), row, batch=200)
    assert set(np.unique(ids)) == {int(np.argmax(row[2:])) + 2}


def test_reserved_ids_never_emitted_even_with_largest_logits():
    row = row_logits(4)
    row[0], row[1] = 30.0, 25.0
    ids = emitted_ids(TemperatureSampler(temperature=2.0, seed=6), row)
    assert not np.isin(ids, [0, 1]).any()


def test_greedy_picks_argmax_among_non_reserved_ids():
    rows = np.stack([row_logits(seed) for seed in range(6)])
    rows[:, 0] = 100.0
    rows[:, 1] = 90.0
    ids = np.asarray(TemperatureSampler(temperature=0)(rows))
    np.testing.assert_array_equal(ids, np.argmax(rows[:, 2:], axis=-1) + 2)


def test_greedy_probabilities_are_one_hot():
    rows = np.stack([row_logits(seed) for seed in range(3)])
    probs = np.asarray(TemperatureSampler(temperature=0).probabilities(rows))
    expected = np.eye(VOCAB)[np.argmax(rows[:, 2:], axis=-1) + 2]
    np.testing.assert_array_equal(probs, expected)


@pytest.mark.parametrize("temperature", [1e-6, 1e6])
def test_extreme_temperatures_give_finite_normalised_probabilities(temperature):
    rows = np.stack([row_logits(seed) for seed in range(3)]) * 10.0
    probs = np.asarray(TemperatureSampler(temperature).probabilities(rows))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        probs, [reference_probabilities(row, temperature) for row in rows], atol=1e-5
    )


def test_same_seed_gives_same_samples_and_different_seeds_differ():
    logits = tiled(row_logits(5), batch=200)
    first = np.asarray(TemperatureSampler(seed=11)(logits))
    again = np.asarray(TemperatureSampler(seed=11)(logits))
    other = np.asarray(TemperatureSampler(seed=12)(logits))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_successive_calls_advance_the_seed_generator():
    sampler = TemperatureSampler(seed=11)
    logits = tiled(row_logits(5), batch=200)
    assert (np.asarray(sampler(logits)) != np.asarray(sampler(logits))).any()


def test_seeded_output_ignores_global_seed():
    logits = tiled(row_logits(6), batch=200)
    keras.utils.set_random_seed(1)
    first = np.asarray(TemperatureSampler(seed=21)(logits))
    keras.utils.set_random_seed(2)
    second = np.asarray(TemperatureSampler(seed=21)(logits))
    np.testing.assert_array_equal(first, second)


def test_seeded_call_leaves_global_rng_state_unchanged():
    python_state, numpy_state = random.getstate(), np.random.get_state()
    TemperatureSampler(top_k=3, top_p=0.9, seed=21)(tiled(row_logits(), batch=10))
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


def test_given_seed_generator_is_used_instead_of_own_seed():
    logits = tiled(row_logits(7), batch=200)
    first = TemperatureSampler(seed=1)(logits, keras.random.SeedGenerator(3))
    second = TemperatureSampler(seed=2)(logits, keras.random.SeedGenerator(3))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))


def test_probabilities_compile_for_any_batch_size():
    sampler = TemperatureSampler(top_k=4, top_p=0.8, seed=8)
    row = row_logits(8)
    probabilities = compiled(sampler.probabilities, [])
    for batch in (500, 3):
        probs = ops.convert_to_numpy(probabilities(tiled(row, batch=batch)))
        assert probs.shape == (batch, row.shape[-1])
        np.testing.assert_allclose(
            probs[-1], reference_probabilities(row, top_k=4, top_p=0.8), atol=1e-6
        )


def test_samples_inside_a_compiled_loop_with_the_seed_carried():
    # As TextGenerator does: the seed state is a loop variable, mapped onto a
    # SeedGenerator by a StatelessScope, so the loop is a pure function.
    sampler = TemperatureSampler(temperature=0.8, top_k=3)
    carrier = keras.random.SeedGenerator(9)
    logits = ops.convert_to_tensor(tiled(row_logits(9), batch=4))

    def generate(seed_state):
        def body(seed_state, _):
            with keras.StatelessScope([(carrier.state, seed_state)]) as scope:
                ids = sampler(logits, carrier)
            return scope.get_current_value(carrier.state), ids

        return scan(body, seed_state, length=6)

    run = compiled(generate, [])
    _, ids = run(ops.convert_to_tensor([9, 0], carrier.state.dtype))
    _, again = run(ops.convert_to_tensor([9, 0], carrier.state.dtype))
    ids = ops.convert_to_numpy(ids)
    assert ids.shape == (6, 4)
    np.testing.assert_array_equal(ids, ops.convert_to_numpy(again))
    assert len({tuple(r) for r in ids}) > 1  # the seed moves on at each step
    allowed = set(np.flatnonzero(reference_probabilities(row_logits(9), 0.8, 3)))
    assert set(np.unique(ids)) <= allowed


def test_get_config():
    sampler = TemperatureSampler(temperature=0.5, top_k=3, top_p=0.9, seed=7)
    assert sampler.get_config() == {
        "temperature": 0.5,
        "top_k": 3,
        "top_p": 0.9,
        "seed": 7,
    }
    assert TemperatureSampler().get_config() == {
        "temperature": 1.0,
        "top_k": None,
        "top_p": None,
        "seed": None,
    }


SAVED = [
    {"temperature": 0.5, "top_k": 3, "top_p": 0.9, "seed": 7},
    {"temperature": 0.0, "top_k": 2, "seed": 1},
    {"temperature": 0.0},
    {"temperature": 1.5, "top_p": 0.8, "seed": 3},
]


@pytest.mark.parametrize("kwargs", SAVED)
def test_serialization_round_trip_gives_same_samples(kwargs):
    sampler = TemperatureSampler(**kwargs)
    restored = run_serialization_test(sampler)
    assert restored.get_config() == sampler.get_config()
    logits = tiled(row_logits(), batch=100)
    assert_same_outputs(sampler(logits), restored(logits))


@pytest.mark.parametrize("kwargs", SAVED)
def test_keras_file_round_trip_gives_same_samples(kwargs, tmp_path):
    logits = tiled(row_logits(2), batch=100)
    loaded = run_saving_test(TemperatureSampler(**kwargs), logits, tmp_path)
    assert loaded.get_config() == TemperatureSampler(**kwargs).get_config()
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded.probabilities(logits)),
        ops.convert_to_numpy(TemperatureSampler(**kwargs).probabilities(logits)),
        atol=1e-7,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": float("nan")}, "Received: temperature=nan"),
        ({"temperature": float("inf")}, "Received: temperature=inf"),
        ({"temperature": -0.5}, "Received: temperature=-0.5"),
        ({"temperature": "1.0"}, "Received: temperature='1.0'"),
        ({"temperature": True}, "Received: temperature=True"),
        ({"top_k": 0}, "Received: top_k=0"),
        ({"top_k": 2.5}, "Received: top_k=2.5"),
        ({"top_p": 0.0}, "Received: top_p=0.0"),
        ({"top_p": 1.5}, "Received: top_p=1.5"),
        ({"top_p": float("nan")}, "Received: top_p=nan"),
        ({"seed": 1.5}, "Received: seed=1.5"),
        ({"seed": "1"}, "Received: seed='1'"),
    ],
)
def test_bad_parameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TemperatureSampler(**kwargs)
