"""Nucleus (top-p) sampling: draw among the likeliest ids holding mass `p`."""

import keras
from keras import ops

from keras_chargen.samplers.sampler import Sampler, is_real, renormalize


@keras.saving.register_keras_serializable(package="keras_chargen")
class TopPSampler(Sampler):
    """Nucleus sampling (Holtzman et al. 2020): the likeliest ids holding `p`.

    The temperature is applied first (in float32); then the smallest set of
    most likely ids whose probabilities add up to at least `p` is kept, the
    rest removed and the kept ids renormalised. The most likely id is always
    kept; ids 0 and 1 are never drawn.

    Args:
        p: float in `(0, 1]`. Probability mass to keep; `1` keeps every id.
            Defaults to `0.9`.
        temperature, seed: as in `keras_chargen.samplers.Sampler`, which
            also gives the call arguments (`logits`, `seed_generator`) and
            the result (int32 ids, shape `(batch,)`).

    Raises:
        ValueError: if `p` is not a number in `(0, 1]`, or for a bad
            `temperature` or `seed` (see `Sampler`).

    Example:

    ```python
    sampler = keras_chargen.samplers.TopPSampler(p=0.9, seed=1)
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """

    def __init__(self, p=0.9, temperature=1.0, seed=None):
        if not is_real(p) or not 0 < p <= 1:
            raise ValueError(f"`p` must be a number in (0, 1]. Received: p={p!r}")
        super().__init__(temperature=temperature, seed=seed)
        self.p = float(p)

    def filter_log_probabilities(self, log_probabilities):
        if self.p == 1:
            return log_probabilities
        return keep_top_p(log_probabilities, self.p)

    def get_config(self):
        config = super().get_config()
        config.update({"p": self.p})
        return config


def keep_top_p(log_probabilities, p):
    """Keeps the smallest set of likeliest ids whose mass reaches `p`."""
    sorted_desc = -ops.sort(-log_probabilities, axis=-1)
    sorted_probs = ops.exp(sorted_desc)
    # Probability mass strictly before each id: the top id has 0 < p and is
    # always kept; the id that reaches p is kept too.
    mass_before = ops.cumsum(sorted_probs, axis=-1) - sorted_probs
    kept = ops.less(mass_before, p)
    threshold = ops.min(ops.where(kept, sorted_desc, 0.0), axis=-1, keepdims=True)
    return renormalize(
        log_probabilities, ops.greater_equal(log_probabilities, threshold)
    )
