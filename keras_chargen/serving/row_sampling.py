"""Per-row sampling for the server: randomness that ignores the batch.

A request with a seed must give the same text whether it runs alone or in a
batch with others, so nothing random may depend on the batch: each row owns
a counter-based generator (NumPy's Philox, keyed by the row's seed) that
draws Gumbel noise for `chunk_size` steps at a time on the host, and the
compiled loop picks `argmax(filtered log-probabilities + noise)`, which is
a draw from the sampler's filtered distribution (the Gumbel-max trick).
The filtering itself is the sampler's own `filter_log_probabilities`.

The temperature travels per row, so rows that differ only in temperature
share a batch; the other settings (`top_k`, `top_p`, `min_p`,
`typical_p`) choose the sampler, and rows with different samplers run in
separate batches.
"""

import numpy as np
from keras import ops

from keras_chargen.samplers.min_p_sampler import MinPSampler
from keras_chargen.samplers.sampler import greedy_ids, tempered_log_probabilities
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.samplers.typical_sampler import TypicalSampler

# Floor for the uniform draws, so that -log(-log(u)) stays finite.
_TINY = np.finfo(np.float32).tiny


def filter_sampler(top_k=None, top_p=None, min_p=None, typical_p=None):
    """The sampler whose `filter_log_probabilities` a batch uses.

    Its own temperature (1) is not used: each row brings its own.

    Raises:
        ValueError: `min_p` or `typical_p` combined with another filter, or
            a value the sampler refuses (its message names it).
    """
    if min_p is not None and (top_k, top_p, typical_p) != (None, None, None):
        raise ValueError(
            "`min_p` cannot be combined with `top_k`, `top_p` or `typical_p`. "
            f"Received: min_p={min_p!r}, top_k={top_k!r}, top_p={top_p!r}, "
            f"typical_p={typical_p!r}"
        )
    if typical_p is not None and (top_k, top_p) != (None, None):
        raise ValueError(
            "`typical_p` cannot be combined with `top_k` or `top_p`. "
            f"Received: typical_p={typical_p!r}, top_k={top_k!r}, top_p={top_p!r}"
        )
    if min_p is not None:
        return MinPSampler(min_p=min_p)
    if typical_p is not None:
        return TypicalSampler(p=typical_p)
    return TemperatureSampler(top_k=top_k, top_p=top_p)


def sampler_key(sampler):
    """Rows whose samplers have equal keys share a compiled loop and a batch."""
    return (type(sampler).__name__, tuple(sorted(sampler.get_config().items())))


class RowNoise:
    """Gumbel noise for one row: `draw(steps)` -> float32 `(steps, vocabulary)`.

    The `n`-th call returns the same values for a given seed wherever the
    row sits in a batch and whatever else runs.
    """

    def __init__(self, seed, vocabulary_size):
        self.vocabulary_size = vocabulary_size
        self._generator = np.random.Generator(np.random.Philox(key=seed))

    def draw(self, steps):
        uniform = self._generator.random((steps, self.vocabulary_size), np.float32)
        return -np.log(-np.log(np.maximum(uniform, _TINY)))


def pick_ids(sampler, logits, temperature, noise):
    """Next ids `(batch,)`: Gumbel-max over the filtered distribution.

    Args:
        sampler: a `keras_chargen.samplers.Sampler` (only its
            `filter_log_probabilities` is used).
        logits: float `(batch, vocabulary)`.
        temperature: float32 `(batch, 1)`; 0 means greedy for that row.
        noise: float32 `(batch, vocabulary)` Gumbel noise.
    """
    greedy = ops.less_equal(temperature[:, 0], 0.0)
    safe = ops.where(ops.greater(temperature, 0.0), temperature, 1.0)
    log_probabilities = sampler.filter_log_probabilities(
        tempered_log_probabilities(logits, safe)
    )
    sampled = ops.cast(ops.argmax(log_probabilities + noise, axis=-1), "int32")
    return ops.where(greedy, greedy_ids(logits), sampled)
