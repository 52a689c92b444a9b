"""Sampling from the whole tempered softmax."""

import keras

from keras_chargen.samplers.sampler import Sampler


@keras.saving.register_keras_serializable(package="keras_chargen")
class RandomSampler(Sampler):
    """Draws each next id from `softmax(logits / temperature)`.

    Every id but 0 (padding) and 1 (out-of-vocabulary) may be drawn; the
    temperature is applied in float32 and `temperature=0` is greedy.

    Args:
        temperature: float. Divides the logits; higher is more random, `0`
            means greedy decoding. Defaults to `1.0`.
        seed: int or None. Seed of the sampler's own
            `keras.random.SeedGenerator`; `TextGenerator` starts every call
            from it. `None` draws a random seed. Defaults to `None`.

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
    sampler = keras_chargen.samplers.RandomSampler(temperature=0.8, seed=1)
    next_ids = sampler(logits)  # logits: (batch, vocabulary_size)
    ```
    """
