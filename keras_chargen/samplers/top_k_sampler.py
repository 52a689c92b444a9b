"""Top-k sampling: draw among the `k` most likely ids."""

import keras
from keras import ops

from keras_chargen.samplers.sampler import Sampler, is_int, renormalize


@keras.saving.register_keras_serializable(package="keras_chargen")
class TopKSampler(Sampler):
    """Draws each next id among the `k` most likely ones.

    The temperature is applied first (in float32), then every id less likely
    than the `k`-th is removed (ids tied with the `k`-th are kept) and the
    rest renormalised; ids 0 and 1 are never drawn. `k=1` is greedy.

    Args:
        k: int >= 1. Number of most likely ids to keep. Defaults to `5`.
        temperature, seed: as in `keras_chargen.samplers.Sampler`, which
            also gives the call arguments (`logits`, `seed_generator`) and
            the result (int32 ids, shape `(batch,)`).

    Raises:
        ValueError: if `k` is not an int `>= 1`, or for a bad `temperature`
            or `seed` (see `Sampler`).

    Example:

    ```python
    sampler = keras_chargen.samplers.TopKSampler(k=10, seed=1)
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """

    def __init__(self, k=5, temperature=1.0, seed=None):
        if not is_int(k) or k < 1:
            raise ValueError(f"`k` must be an int >= 1. Received: k={k!r}")
        super().__init__(temperature=temperature, seed=seed)
        self.k = int(k)

    def filter_log_probabilities(self, log_probabilities):
        return keep_top_k(log_probabilities, self.k)

    def get_config(self):
        config = super().get_config()
        config.update({"k": self.k})
        return config


def keep_top_k(log_probabilities, k):
    """Keeps the `k` most likely ids of each row (and any tied with the k-th)."""
    sorted_desc = -ops.sort(-log_probabilities, axis=-1)
    k = ops.minimum(k, ops.shape(log_probabilities)[-1])
    threshold = ops.take(sorted_desc, k - 1, axis=-1)[:, None]
    return renormalize(
        log_probabilities, ops.greater_equal(log_probabilities, threshold)
    )
