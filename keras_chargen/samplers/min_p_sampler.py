"""Min-p sampling: keep the ids at least `min_p` times as likely as the best."""

import math

import keras
from keras import ops

from keras_chargen.samplers.sampler import Sampler, is_real, renormalize


@keras.saving.register_keras_serializable(package="keras_chargen")
class MinPSampler(Sampler):
    """Min-p sampling (Nguyen et al. 2024): a cut that scales with confidence.

    The temperature is applied first (in float32); then every id with
    `p < min_p * p_max` is removed, `p_max` being the probability of the
    row's most likely id, and the rest renormalised. A confident row keeps
    few ids, a flat one many. The most likely id is always kept; ids 0 and
    1 are never drawn. `min_p=1` keeps only the most likely id (and ties).

    Args:
        min_p: float in `(0, 1]`. The fraction of the top probability an id
            needs to be kept. Defaults to `0.1`.
        temperature, seed: as in `keras_chargen.samplers.Sampler`, which
            also gives the call arguments (`logits`, `seed_generator`) and
            the result (int32 ids, shape `(batch,)`).

    Raises:
        ValueError: if `min_p` is not a number in `(0, 1]`, or for a bad
            `temperature` or `seed` (see `Sampler`).

    Example:

    ```python
    sampler = keras_chargen.samplers.MinPSampler(min_p=0.05, seed=1)
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """

    def __init__(self, min_p=0.1, temperature=1.0, seed=None):
        if not is_real(min_p) or not 0 < min_p <= 1:
            raise ValueError(
                f"`min_p` must be a number in (0, 1]. Received: min_p={min_p!r}"
            )
        super().__init__(temperature=temperature, seed=seed)
        self.min_p = float(min_p)

    def filter_log_probabilities(self, log_probabilities):
        # p >= min_p * p_max, compared in log space so that tiny
        # probabilities at a low temperature do not all underflow to 0.
        best = ops.max(log_probabilities, axis=-1, keepdims=True)
        keep = ops.greater_equal(log_probabilities, best + math.log(self.min_p))
        return renormalize(log_probabilities, keep)

    def get_config(self):
        config = super().get_config()
        config.update({"min_p": self.min_p})
        return config
