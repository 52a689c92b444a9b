"""`TopKSampler`, `TopPSampler`, `MinPSampler` and `TypicalSampler`.

Each is compared with a NumPy reference of its rule in float64: the
probabilities it returns, and (chi-square) the frequencies of 20,000 ids it
draws; the ids its rule removes are never drawn.
"""

import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_chargen import samplers
from keras_chargen.backend.compiled import compiled

VOCAB = 10
SAMPLES = 20_000


def row_logits(seed=0, vocab=VOCAB, scale=1.5):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=scale, size=(vocab,)).astype("float32")


def tiled(row, batch=SAMPLES):
    return np.tile(row[None, :], (batch, 1))


# ------------------------------------------------------- NumPy references
def keep_top_k(probs, k):
    keep = np.zeros(len(probs), bool)
    keep[np.argsort(-probs, kind="stable")[:k]] = True
    return keep


def keep_top_p(probs, p):
    order = np.argsort(-probs, kind="stable")
    mass_before = np.cumsum(probs[order]) - probs[order]
    keep = np.zeros(len(probs), bool)
    keep[order[mass_before < p]] = True
    return keep


def keep_min_p(probs, min_p):
    return probs >= min_p * probs.max()


def keep_typical(probs, p):
    """Meister et al. 2022: rank by |-log p - H|, keep the mass p first."""
    allowed = np.flatnonzero(probs > 0)
    log_p = np.log(probs[allowed])
    entropy = -(probs[allowed] * log_p).sum()
    distance = np.abs(-log_p - entropy)
    order = np.argsort(distance, kind="stable")
    mass_before = np.cumsum(probs[allowed][order]) - probs[allowed][order]
    keep = np.zeros(len(probs), bool)
    keep[allowed[order[mass_before < p]]] = True
    return keep


RULES = {
    samplers.TopKSampler: ("k", keep_top_k),
    samplers.TopPSampler: ("p", keep_top_p),
    samplers.MinPSampler: ("min_p", keep_min_p),
    samplers.TypicalSampler: ("p", keep_typical),
}


def reference_probabilities(sampler, row):
    """The distribution `sampler` should draw from, over the whole vocabulary."""
    config = sampler.get_config()
    probs = np.zeros(len(row))
    scaled = row[2:].astype("float64") / config["temperature"]
    probs[2:] = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    name, keep = RULES[type(sampler)]
    probs = np.where(keep(probs, config[name]), probs, 0.0)
    return probs / probs.sum()


# Each filter removes some ids of row_logits(1) and keeps several.
FILTERS = [
    samplers.TopKSampler(k=3, seed=1),
    samplers.TopKSampler(k=4, temperature=2.0, seed=2),
    samplers.TopPSampler(p=0.7, seed=3),
    samplers.TopPSampler(p=0.8, temperature=0.6, seed=4),
    samplers.MinPSampler(min_p=0.1, seed=5),
    samplers.MinPSampler(min_p=0.3, temperature=1.5, seed=6),
    samplers.TypicalSampler(p=0.6, seed=7),
    samplers.TypicalSampler(p=0.8, temperature=1.3, seed=8),
]
IDS = [f"{type(s).__name__}-{s.get_config()}" for s in FILTERS]


@pytest.mark.parametrize("sampler", FILTERS, ids=IDS)
def test_probabilities_match_numpy_reference(sampler):
    rows = np.stack([row_logits(seed) for seed in range(6)])
    probs = np.asarray(sampler.probabilities(rows))
    expected = [reference_probabilities(sampler, row) for row in rows]
    np.testing.assert_allclose(probs, expected, atol=1e-6)


@pytest.mark.parametrize("sampler", FILTERS, ids=IDS)
def test_samples_follow_the_filtered_distribution(sampler):
    row = row_logits(1)
    expected = reference_probabilities(sampler, row)
    kept = np.flatnonzero(expected)
    assert 2 <= len(kept) < VOCAB - 2  # the filter matters for this row
    ids = np.asarray(sampler(tiled(row)))
    assert set(np.unique(ids)) <= set(kept)  # filtered ids are never drawn
    counts = np.bincount(ids, minlength=VOCAB)[kept]
    assert stats.chisquare(counts, SAMPLES * expected[kept]).pvalue > 0.001


def test_top_k_of_one_and_min_p_of_one_are_greedy():
    rows = np.stack([row_logits(seed) for seed in range(8)])
    greedy = np.argmax(rows[:, 2:], axis=-1) + 2
    for sampler in (samplers.TopKSampler(k=1, seed=0), samplers.MinPSampler(1.0)):
        np.testing.assert_array_equal(np.asarray(sampler(rows)), greedy)


def test_top_k_larger_than_the_vocabulary_keeps_every_id():
    rows = np.stack([row_logits(seed) for seed in range(3)])
    wide = samplers.TopKSampler(k=1000).probabilities(rows)
    full = samplers.RandomSampler().probabilities(rows)
    np.testing.assert_allclose(np.asarray(wide), np.asarray(full), atol=1e-7)


def test_top_p_always_keeps_the_most_likely_id():
    row = row_logits(3)
    ids = np.asarray(samplers.TopPSampler(p=1e-6, seed=5)(tiled(row, batch=200)))
    assert set(np.unique(ids)) == {int(np.argmax(row[2:])) + 2}


@pytest.mark.parametrize("cls", [samplers.TopPSampler, samplers.TypicalSampler])
def test_mass_one_keeps_every_id(cls):
    rows = np.stack([row_logits(seed) for seed in range(3)])
    kept = cls(p=1.0, temperature=0.8).probabilities(rows)
    full = samplers.RandomSampler(temperature=0.8).probabilities(rows)
    np.testing.assert_allclose(np.asarray(kept), np.asarray(full), atol=1e-7)


def test_min_p_keeps_more_ids_when_the_model_is_less_sure():
    peaked, flat = row_logits(2, scale=4.0), row_logits(2, scale=0.5)
    probs = np.asarray(
        samplers.MinPSampler(0.2).probabilities(np.stack([peaked, flat]))
    )
    assert (probs[0] > 0).sum() < (probs[1] > 0).sum()


def test_typical_can_drop_the_most_likely_id():
    # One id at 0.4 and twenty at 0.03: H = 2.47 nats; the twenty (surprise
    # 3.51) are nearer to H than the first (0.92). 17 of them reach p = 0.5,
    # and the other three, tied with them, are kept too.
    probs = np.array([0.0, 0.0, 0.4] + [0.03] * 20)
    logits = np.log(np.maximum(probs, 1e-30)).astype("float32")[None, :]
    logits[0, :2] = 0.0
    kept = np.asarray(samplers.TypicalSampler(p=0.5).probabilities(logits))[0]
    np.testing.assert_allclose(kept, [0.0, 0.0, 0.0] + [1 / 20] * 20, atol=1e-6)


@pytest.mark.parametrize("sampler", FILTERS[::2], ids=IDS[::2])
@pytest.mark.parametrize("temperature", [1e-6, 1e6])
def test_extreme_temperatures_give_finite_normalised_probabilities(
    sampler, temperature
):
    config = {**sampler.get_config(), "temperature": temperature}
    sampler = type(sampler).from_config(config)
    rows = np.stack([row_logits(seed) for seed in range(3)]) * 10.0
    probs = np.asarray(sampler.probabilities(rows))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)
    expected = [reference_probabilities(sampler, row) for row in rows]
    np.testing.assert_allclose(probs, expected, atol=1e-5)


@pytest.mark.parametrize("sampler", FILTERS[1::2], ids=IDS[1::2])
def test_probabilities_compile_for_any_batch_size(sampler):
    row = row_logits(8)
    probabilities = compiled(sampler.probabilities, [])
    for batch in (500, 3):
        probs = ops.convert_to_numpy(probabilities(tiled(row, batch=batch)))
        assert probs.shape == (batch, VOCAB)
        np.testing.assert_allclose(
            probs[-1], reference_probabilities(sampler, row), atol=1e-6
        )
