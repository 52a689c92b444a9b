"""The `Sampler` base class: temperature in float32, reserved ids removed."""

import math
import numbers

import keras
from keras import ops

# Ids below NUM_RESERVED_IDS (padding, out-of-vocabulary) are never generated.
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS

# Filtered ids get the most negative finite float32 instead of -inf, so that
# no `inf - inf` or `0 * inf` can turn into NaN further down.
FILTERED = -3.4028234663852886e38


@keras.saving.register_keras_serializable(package="keras_chargen")
class Sampler:
    """Base sampler class: picks the next id from logits.

    Ids `0` (padding) and `1` (out-of-vocabulary) are removed before
    anything else, so no sampler ever emits them. The logits are then cast
    to float32, divided by `temperature` and normalised with `log_softmax`;
    `filter_log_probabilities()`, which subclasses override, decides which
    ids may be drawn, and one id per row is drawn from what is left with
    `keras.random.categorical`. `temperature=0` picks the most likely
    remaining id (greedy, no randomness). The base class keeps every id: it
    samples from the tempered softmax.

    Samplers are plain classes, as KerasHub's are. They use only `keras.ops`
    and `keras.random`, branch only on their own configuration (never on
    tensor values) and draw only through the seed generator they are given,
    so `TextGenerator` can call them inside its compiled loop on every
    backend.

    To write a new sampler, subclass `Sampler`, keep every `__init__`
    argument as an attribute, return them from `get_config()` (the base
    config updated) and override `filter_log_probabilities()`.

    Args:
        temperature: float. Divides the logits; higher is more random, `0`
            means greedy decoding. Defaults to `1.0`.
        seed: int or None. Seed of the sampler's own
            `keras.random.SeedGenerator` (used when no `seed_generator` is
            passed to the call); `TextGenerator` starts every call from it.
            `None` draws a random seed. Defaults to `None`.

    Call arguments:
        logits: float tensor of shape `(batch, vocabulary_size)`.
        seed_generator: optional `keras.random.SeedGenerator` to draw from
            instead of the sampler's own one. Defaults to `None`.

    Returns:
        An int32 tensor of sampled ids, shape `(batch,)`.

    Raises:
        ValueError: if `temperature` is not a finite number `>= 0` or `seed`
            is not `None` or an int.

    Example:

    ```python
    class NoSpaceSampler(keras_chargen.samplers.Sampler):
        def __init__(self, space_id, **kwargs):
            super().__init__(**kwargs)
            self.space_id = space_id

        def filter_log_probabilities(self, log_probabilities):
            ids = keras.ops.arange(keras.ops.shape(log_probabilities)[-1])
            space = ids[None, :] == self.space_id
            log_probabilities = keras.ops.where(space, -1e30, log_probabilities)
            return keras.ops.log_softmax(log_probabilities, axis=-1)

        def get_config(self):
            config = super().get_config()
            config.update({"space_id": self.space_id})
            return config
    ```
    """

    def __init__(self, temperature=1.0, seed=None):
        self.temperature = check_temperature(temperature)
        if seed is not None and not is_int(seed):
            raise ValueError(f"`seed` must be None or an int. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._seed_generator = None

    def __call__(self, logits, seed_generator=None):
        logits = ops.cast(ops.convert_to_tensor(logits), "float32")
        if self.temperature == 0:
            return greedy_ids(logits)
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
            return greedy_probabilities(logits)
        return ops.exp(self._log_probabilities(logits))

    def filter_log_probabilities(self, log_probabilities):
        """Chooses which ids may be drawn; subclasses override it.

        Args:
            log_probabilities: float32 tensor `(batch, vocabulary_size)`, the
                tempered log-softmax, with reserved ids at about `-3.4e38`.

        Returns:
            The log-probabilities to draw from, same shape, each row
            normalised, with removed ids at about `-3.4e38` (see
            `renormalize`). The base class returns its input.
        """
        return log_probabilities

    def _log_probabilities(self, logits):
        return self.filter_log_probabilities(
            tempered_log_probabilities(logits, self.temperature)
        )

    def _own_seed_generator(self):
        # Created on first use so that a sampler that only ever receives the
        # caller's generator never creates a variable of its own.
        if self._seed_generator is None:
            self._seed_generator = keras.random.SeedGenerator(self.seed)
        return self._seed_generator

    def get_config(self):
        return {"temperature": self.temperature, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_temperature(temperature):
    """`temperature` as a float; raises `ValueError` unless finite and >= 0."""
    if not is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(
            "`temperature` must be a finite number >= 0 (0 means greedy). "
            f"Received: temperature={temperature!r}"
        )
    return float(temperature)


def remove_reserved(values):
    """`values` with the reserved ids' columns set to about `-3.4e38`."""
    ids = ops.arange(ops.shape(values)[-1], dtype="int32")
    return ops.where(ids[None, :] < NUM_RESERVED_IDS, FILTERED, values)


def greedy_ids(logits):
    """The most likely non-reserved id of each row, as int32 `(batch,)`."""
    return ops.cast(ops.argmax(remove_reserved(logits), axis=-1), "int32")


def greedy_probabilities(logits):
    """One-hot float32 rows at `greedy_ids(logits)`."""
    ids = ops.arange(ops.shape(logits)[-1], dtype="int32")
    greedy = ops.expand_dims(greedy_ids(logits), axis=-1)
    return ops.cast(ops.equal(ids[None, :], greedy), "float32")


def tempered_log_probabilities(logits, temperature):
    """float32 `log_softmax(logits / temperature)` without the reserved ids.

    `temperature` must be `> 0`.
    """
    logits = remove_reserved(ops.cast(logits, "float32"))
    # Shift so the best allowed id sits at 0 before dividing: a tiny
    # temperature then stretches the others downwards, never to +inf.
    shifted = logits - ops.max(logits, axis=-1, keepdims=True)
    scaled = remove_reserved(shifted / temperature)
    return ops.log_softmax(ops.maximum(scaled, FILTERED), axis=-1)


def renormalize(log_probabilities, keep):
    """Keeps the ids where `keep` is true and normalises each row again."""
    return ops.log_softmax(ops.where(keep, log_probabilities, FILTERED), axis=-1)


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
