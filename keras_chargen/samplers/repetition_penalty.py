"""CTRL's repetition penalty over the last `window` characters."""

import math

import keras
from keras import ops

from keras_chargen.samplers.logit_processor import (
    LogitProcessor,
    check_window,
    counts_of,
)
from keras_chargen.samplers.sampler import is_real

# The window of recent characters the penalties look at by default.
WINDOW = 64


@keras.saving.register_keras_serializable(package="keras_chargen")
class RepetitionPenalty(LogitProcessor):
    """The repetition penalty of CTRL (Keskar et al. 2019), per character.

    Each id that occurs in the row's last `window` characters (prompt
    included) has its logit `x` replaced by

        x / penalty   if x > 0
        x * penalty   otherwise

    so with `penalty > 1` every recently seen character becomes less likely
    (and with `penalty < 1` more likely), however often it occurred. Other
    ids keep their logits. `penalty=1` changes nothing.

    Args:
        penalty: float > 0. Defaults to `1.2`.
        window: int >= 1, how many recent characters count. Defaults to
            `64`.

    Raises:
        ValueError: if `penalty` is not a finite number > 0 or `window` not
            an int >= 1.

    Example:

    ```python
    penalty = keras_chargen.samplers.RepetitionPenalty(penalty=1.3, window=32)
    generator.generate("the ", 200, processors=[penalty])
    ```
    """

    def __init__(self, penalty=1.2, window=WINDOW):
        if not is_real(penalty) or not math.isfinite(penalty) or penalty <= 0:
            raise ValueError(
                f"`penalty` must be a finite number > 0. Received: penalty={penalty!r}"
            )
        self.penalty = float(penalty)
        self.window = check_window(window)

    def call(self, logits, recent_ids, step):
        seen = counts_of(recent_ids, ops.shape(logits)[-1]) > 0
        penalized = ops.where(logits > 0, logits / self.penalty, logits * self.penalty)
        return ops.where(seen, penalized, logits)

    def get_config(self):
        return {"penalty": self.penalty, "window": self.window}
