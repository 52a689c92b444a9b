"""Greedy decoding: always the most likely id."""

import keras

from keras_chargen.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="keras_chargen")
class GreedySampler(Sampler):
    """Picks the most likely id of each row (the argmax), never 0 or 1.

    No randomness and no arguments: it is `Sampler(temperature=0)`, and its
    `probabilities()` are one-hot at the chosen id. Ties go to the lowest
    id. Its `temperature` attribute is `0.0`; its config is empty.

    Call arguments:
        logits: float tensor of shape `(batch, vocabulary_size)`.
        seed_generator: ignored. Defaults to `None`.

    Returns:
        An int32 tensor of ids, shape `(batch,)`.

    Example:

    ```python
    sampler = keras_chargen.samplers.GreedySampler()
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """

    def __init__(self):
        super().__init__(temperature=0.0)

    def get_config(self):
        return {}
