"""Temperature sampling with optional top-k and nucleus (top-p) filtering."""

import keras

from keras_chargen.samplers.sampler import Sampler, is_int, is_real
from keras_chargen.samplers.top_k_sampler import keep_top_k
from keras_chargen.samplers.top_p_sampler import keep_top_p


@keras.saving.register_keras_serializable(package="keras_chargen")
class TemperatureSampler(Sampler):
    """Samples the next token id from logits with a temperature.

    Ids `0` (padding) and `1` (out-of-vocabulary) are never sampled: they are
    removed before anything else. `temperature=0` picks the most likely
    remaining id (greedy, no randomness). Otherwise the logits are divided by
    `temperature` and normalised with `log_softmax` in float32, then
    optionally filtered: `top_k` keeps the `k` most likely ids, and `top_p`
    (nucleus sampling) keeps the smallest set of most likely ids whose
    probability adds up to at least `top_p`, computed on the distribution
    left by `top_k`. The most likely id is always kept. One id per row is
    then drawn with `keras.random.categorical`.

    It is a `keras_chargen.samplers.Sampler` combining `TopKSampler` and
    `TopPSampler`; it uses only `keras.ops` and `keras.random`, and can be
    called inside a `tf.function` or `tf.while_loop`: it branches only on
    its own configuration, never on tensor values.

    Args:
        temperature: float. Divides the logits; higher is more random, `0`
            means greedy decoding. Defaults to `1.0`.
        top_k: int or None. Number of most likely ids to keep. `None` keeps
            all. Defaults to `None`.
        top_p: float or None. Cumulative probability to keep, in `(0, 1]`.
            `None` keeps all. Defaults to `None`.
        seed: int or None. Seed of the sampler's own
            `keras.random.SeedGenerator`, used when no `seed_generator` is
            passed to the call. Defaults to `None`.

    Call arguments:
        logits: float tensor of shape `(batch, vocabulary_size)`.
        seed_generator: optional `keras.random.SeedGenerator` to draw from
            instead of the sampler's own one. Defaults to `None`.

    Returns:
        An int32 tensor of sampled ids, shape `(batch,)`.

    Raises:
        ValueError: if `temperature` is not a finite number `>= 0`, `top_k`
            is not `None` or an int `>= 1`, `top_p` is not `None` or in
            `(0, 1]`, or `seed` is not `None` or an int.

    Example:

    ```python
    sampler = keras_chargen.TemperatureSampler(temperature=0.8, top_p=0.9, seed=1)
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """

    def __init__(self, temperature=1.0, top_k=None, top_p=None, seed=None):
        super().__init__(temperature=temperature, seed=seed)
        if top_k is not None and (not is_int(top_k) or top_k < 1):
            raise ValueError(
                f"`top_k` must be None or an int >= 1. Received: top_k={top_k!r}"
            )
        if top_p is not None and (not is_real(top_p) or not 0 < top_p <= 1):
            raise ValueError(
                f"`top_p` must be None or a number in (0, 1]. Received: top_p={top_p!r}"
            )
        self.top_k = None if top_k is None else int(top_k)
        self.top_p = None if top_p is None else float(top_p)

    def filter_log_probabilities(self, log_probabilities):
        if self.top_k is not None:
            log_probabilities = keep_top_k(log_probabilities, self.top_k)
        if self.top_p is not None and self.top_p < 1:
            log_probabilities = keep_top_p(log_probabilities, self.top_p)
        return log_probabilities

    def get_config(self):
        config = super().get_config()
        config.update({"top_k": self.top_k, "top_p": self.top_p})
        return config
