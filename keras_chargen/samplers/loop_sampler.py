"""`loop_sampler(sampler)`: what the generation loop calls to pick an id.

A `keras_chargen.samplers.Sampler` is called as it is. Any other object with
KerasHub's `get_next_token(probabilities)` method (a `keras_hub.samplers`
sampler, or a user's own class) is wrapped so that it gets what KerasHub
gives it, float32 `softmax(logits / temperature)`, with the reserved ids
at probability 0, and draws from the seed that travels through the loop.
"""

import keras
from keras import ops

from keras_chargen.samplers.sampler import (
    Sampler,
    check_temperature,
    greedy_probabilities,
    tempered_log_probabilities,
)


def loop_sampler(sampler):
    """Returns a callable `(logits, seed_generator) -> int32 ids (batch,)`.

    Args:
        sampler: a `keras_chargen.samplers.Sampler`, or an object with a
            `get_next_token(probabilities)` method.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(sampler, Sampler):
        return sampler
    if callable(getattr(sampler, "get_next_token", None)):
        return _GetNextTokenSampler(sampler)
    raise TypeError(
        "`sampler` must be a keras_chargen.samplers.Sampler or an object with "
        f"a `get_next_token(probabilities)` method. Received: {sampler!r:.60}"
    )


class _GetNextTokenSampler:
    """Calls a KerasHub-style sampler's `get_next_token(probabilities)`.

    Its tempered probabilities come from its `temperature` attribute
    (default 1), as KerasHub's `compute_probabilities` does, in float32 and
    without the reserved ids. The `keras.random.SeedGenerator`s among its
    attributes (where KerasHub samplers keep theirs) are mapped, for the
    call, onto seeds drawn from the loop's generator: its draws move on at
    every step and start again from the same seed on every call, while its
    own generators are never written.
    """

    def __init__(self, sampler):
        self.temperature = check_temperature(getattr(sampler, "temperature", 1.0))
        self.sampler = sampler

    def __call__(self, logits, seed_generator):
        probabilities = self.probabilities(logits)
        generators = [
            value
            for value in getattr(self.sampler, "__dict__", {}).values()
            if isinstance(value, keras.random.SeedGenerator)
        ]
        mapping = [(g.state, seed_generator.next()) for g in generators]
        with keras.StatelessScope(state_mapping=mapping):
            token = self.sampler.get_next_token(probabilities)
        return ops.cast(token, "int32")

    def probabilities(self, logits):
        logits = ops.cast(ops.convert_to_tensor(logits), "float32")
        if self.temperature == 0:
            return greedy_probabilities(logits)
        return ops.exp(tempered_log_probabilities(logits, self.temperature))
