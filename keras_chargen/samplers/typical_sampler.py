"""Locally typical sampling: keep the ids whose surprise is near the entropy."""

import keras
from keras import ops

from keras_chargen.samplers.sampler import Sampler, is_real, renormalize


@keras.saving.register_keras_serializable(package="keras_chargen")
class TypicalSampler(Sampler):
    """Locally typical sampling (Meister et al. 2022).

    The temperature is applied first (in float32). Each id's surprise
    `-log p` is compared with the row's entropy `H = -sum(p log p)`; ids are
    ranked by `|-log p - H|`, the smallest set of the best-ranked ids whose
    probabilities add up to at least `p` is kept (ids tied with the last
    one too) and renormalised. Unlike top-p it may drop the most likely id
    when that id is far more predictable than the row's average. Ids 0 and
    1 are never drawn.

    Args:
        p: float in `(0, 1]`. Probability mass to keep; `1` keeps every id.
            Defaults to `0.95`.
        temperature, seed: as in `keras_chargen.samplers.Sampler`, which
            also gives the call arguments (`logits`, `seed_generator`) and
            the result (int32 ids, shape `(batch,)`).

    Raises:
        ValueError: if `p` is not a number in `(0, 1]`, or for a bad
            `temperature` or `seed` (see `Sampler`).

    Example:

    ```python
    sampler = keras_chargen.samplers.TypicalSampler(p=0.9, seed=1)
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """

    def __init__(self, p=0.95, temperature=1.0, seed=None):
        if not is_real(p) or not 0 < p <= 1:
            raise ValueError(f"`p` must be a number in (0, 1]. Received: p={p!r}")
        super().__init__(temperature=temperature, seed=seed)
        self.p = float(p)

    def filter_log_probabilities(self, log_probabilities):
        if self.p == 1:
            return log_probabilities
        probs = ops.exp(log_probabilities)
        # Removed and reserved ids have p = 0 and a finite log p, so they add
        # exactly 0 to the entropy and rank last.
        entropy = -ops.sum(probs * log_probabilities, axis=-1, keepdims=True)
        distance = ops.abs(-log_probabilities - entropy)
        order = ops.argsort(distance, axis=-1)
        sorted_distance = ops.take_along_axis(distance, order, axis=-1)
        sorted_probs = ops.take_along_axis(probs, order, axis=-1)
        # As for top-p: keep every id whose mass before it is below p.
        mass_before = ops.cumsum(sorted_probs, axis=-1) - sorted_probs
        kept = ops.less(mass_before, self.p)
        threshold = ops.max(
            ops.where(kept, sorted_distance, 0.0), axis=-1, keepdims=True
        )
        return renormalize(log_probabilities, ops.less_equal(distance, threshold))

    def get_config(self):
        config = super().get_config()
        config.update({"p": self.p})
        return config
