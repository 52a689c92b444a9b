"""Sampling from the whole tempered softmax."""

import keras

from keras_chargen.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="keras_chargen")
class RandomSampler(Sampler):
    """Draws each next id from `softmax(logits / temperature)`.

    Every id but 0 (padding) and 1 (out-of-vocabulary) may be drawn; the
    temperature is applied in float32 and `temperature=0` is greedy.

    Args:
        temperature, seed: as in `keras_chargen.samplers.Sampler`, which
            also gives the call arguments (`logits`, `seed_generator`) and
            the result (int32 ids, shape `(batch,)`).

    Raises:
        ValueError: if `temperature` is not a finite number `>= 0` or `seed`
            is not `None` or an int.

    Example:

    ```python
    sampler = keras_chargen.samplers.RandomSampler(temperature=0.8, seed=1)
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """
