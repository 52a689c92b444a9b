"""OpenAI-style frequency and presence penalties over the last characters."""

import math

import keras
from keras import ops

from keras_chargen.samplers.logit_processor import (
    LogitProcessor,
    check_window,
    counts_of,
)
from keras_chargen.samplers.repetition_penalty import WINDOW
from keras_chargen.samplers.sampler import is_real


@keras.saving.register_keras_serializable(package="keras_chargen")
class FrequencyPenalty(LogitProcessor):
    """Frequency and presence penalties, as OpenAI's API defines them.

    With `count` the number of times an id occurs in the row's last
    `window` characters (prompt included), its logit `x` becomes

        x - count * frequency_penalty - (count > 0) * presence_penalty

    The frequency term grows with each repetition; the presence term is paid
    once by every character seen. Negative values make repeats more likely.

    Args:
        frequency_penalty: finite float. Defaults to `0.5`.
        presence_penalty: finite float. Defaults to `0.0`.
        window: int >= 1, how many recent characters count. Defaults to
            `64`.

    Raises:
        ValueError: if a penalty is not a finite number or `window` not an
            int >= 1.

    Example:

    ```python
    penalty = keras_chargen.samplers.FrequencyPenalty(0.3, presence_penalty=0.2)
    generator.generate("the ", 200, processors=[penalty])
    ```
    """

    def __init__(self, frequency_penalty=0.5, presence_penalty=0.0, window=WINDOW):
        for name, value in (
            ("frequency_penalty", frequency_penalty),
            ("presence_penalty", presence_penalty),
        ):
            if not is_real(value) or not math.isfinite(value):
                raise ValueError(
                    f"`{name}` must be a finite number. Received: {name}={value!r}"
                )
        self.frequency_penalty = float(frequency_penalty)
        self.presence_penalty = float(presence_penalty)
        self.window = check_window(window)

    def call(self, logits, recent_ids, step):
        counts = counts_of(recent_ids, ops.shape(logits)[-1])
        present = ops.cast(counts > 0, "float32")
        return (
            logits - counts * self.frequency_penalty - present * self.presence_penalty
        )

    def get_config(self):
        return {
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
            "window": self.window,
        }
