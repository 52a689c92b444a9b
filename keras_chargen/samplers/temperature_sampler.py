"""Temperature sampling with optional top-k and nucleus (top-p) filtering."""

import math
import numbers

import keras
from keras import ops

# Ids below NUM_RESERVED_IDS (padding, out-of-vocabulary) are never generated.
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS

# Filtered ids get the most negative finite float32 instead of -inf, so that
# no `inf - inf` can turn into NaN further down.
_FILTERED = -3.4028234663852886e38


@keras.saving.register_keras_serializable(package="keras_chargen")
class TemperatureSampler:
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

    The sampler is a plain class (as KerasHub samplers are), uses only
    `keras.ops` and `keras.random`, and can be called inside a `tf.function`
    or `tf.while_loop`: it branches only on its own configuration, never on
    tensor values.

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
        if (
            not _is_real(temperature)
            or not math.isfinite(temperature)
            or temperature < 0
        ):
            raise ValueError(
                "`temperature` must be a finite number >= 0 (0 means greedy). "
                f"Received: temperature={temperature!r}"
            )
        if top_k is not None and (not _is_int(top_k) or top_k < 1):
            raise ValueError(
                f"`top_k` must be None or an int >= 1. Received: top_k={top_k!r}"
            )
        if top_p is not None and (not _is_real(top_p) or not 0 < top_p <= 1):
            raise ValueError(
                f"`top_p` must be None or a number in (0, 1]. Received: top_p={top_p!r}"
            )
        if seed is not None and not _is_int(seed):
            raise ValueError(f"`seed` must be None or an int. Received: seed={seed!r}")
        self.temperature = float(temperature)
        self.top_k = None if top_k is None else int(top_k)
        self.top_p = None if top_p is None else float(top_p)
        self.seed = None if seed is None else int(seed)
        self._seed_generator = None

    def __call__(self, logits, seed_generator=None):
        logits = ops.cast(ops.convert_to_tensor(logits), "float32")
        if self.temperature == 0:
            return self._greedy(logits)
        if seed_generator is None:
            seed_generator = self._own_seed_generator()
        samples = keras.random.categorical(
            self._log_probabilities(logits), 1, dtype="int32", seed=seed_generator
        )
        return samples[:, 0]

    def probabilities(self, logits):
        """Returns the distribution `__call__` samples from.

        Args:
            logits: float tensor of shape `(batch, vocabulary_size)`.

        Returns:
            A float32 tensor of shape `(batch, vocabulary_size)` whose rows
            sum to 1, with zeros at ids 0, 1 and every filtered id. For
            `temperature=0` it is one-hot at the greedy choice.
        """
        logits = ops.cast(ops.convert_to_tensor(logits), "float32")
        if self.temperature == 0:
            ids = ops.arange(ops.shape(logits)[-1], dtype="int32")
            greedy = ops.expand_dims(self._greedy(logits), axis=-1)
            return ops.cast(ops.equal(ids[None, :], greedy), "float32")
        return ops.exp(self._log_probabilities(logits))

    def _own_seed_generator(self):
        # Created on first use so that a sampler that only ever receives the
        # caller's generator never creates a variable of its own.
        if self._seed_generator is None:
            self._seed_generator = keras.random.SeedGenerator(self.seed)
        return self._seed_generator

    def _remove_reserved(self, values):
        ids = ops.arange(ops.shape(values)[-1], dtype="int32")
        return ops.where(ids[None, :] < NUM_RESERVED_IDS, _FILTERED, values)

    def _greedy(self, logits):
        return ops.cast(ops.argmax(self._remove_reserved(logits), axis=-1), "int32")

    def _log_probabilities(self, logits):
        logits = self._remove_reserved(logits)
        # Shift so the best allowed id sits at 0 before dividing: a tiny
        # temperature then stretches the others downwards, never to +inf.
        shifted = logits - ops.max(logits, axis=-1, keepdims=True)
        scaled = self._remove_reserved(shifted / self.temperature)
        log_probs = ops.log_softmax(ops.maximum(scaled, _FILTERED), axis=-1)
        if self.top_k is not None:
            log_probs = self._keep_top_k(log_probs)
        if self.top_p is not None and self.top_p < 1:
            log_probs = self._keep_top_p(log_probs)
        return log_probs

    def _keep_top_k(self, log_probs):
        sorted_desc = -ops.sort(-log_probs, axis=-1)
        k = ops.minimum(self.top_k, ops.shape(log_probs)[-1])
        threshold = ops.take(sorted_desc, k - 1, axis=-1)[:, None]
        return _renormalize(log_probs, ops.greater_equal(log_probs, threshold))

    def _keep_top_p(self, log_probs):
        sorted_desc = -ops.sort(-log_probs, axis=-1)
        sorted_probs = ops.exp(sorted_desc)
        # Probability mass strictly before each id: the top id has 0 < top_p
        # and is always kept; the id that reaches top_p is kept too.
        mass_before = ops.cumsum(sorted_probs, axis=-1) - sorted_probs
        kept = ops.less(mass_before, self.top_p)
        threshold = ops.min(ops.where(kept, sorted_desc, 0.0), axis=-1, keepdims=True)
        return _renormalize(log_probs, ops.greater_equal(log_probs, threshold))

    def get_config(self):
        return {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _renormalize(log_probs, keep):
    return ops.log_softmax(ops.where(keep, log_probs, _FILTERED), axis=-1)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
