"""A temperature that changes with the number of characters generated."""

import math

import keras
from keras import ops

from keras_chargen.samplers.logit_processor import LogitProcessor
from keras_chargen.samplers.sampler import is_int, is_real


@keras.saving.register_keras_serializable(package="keras_chargen")
class TemperatureSchedule(LogitProcessor):
    """Divides the logits by a temperature that moves from `start` to `end`.

    At step `t` (the number of characters generated before this one in the
    call) the logits are divided by

        start + (end - start) * min(t, steps) / steps

    a straight line from `start` to `end` over `steps` characters, then
    `end`. It multiplies with the sampler's own `temperature` (a sampler
    with `temperature=0.8` and a schedule from 1 to 0.5 samples at 0.8,
    then down to 0.4). Greedy decoding is unchanged by it (dividing the
    logits keeps the argmax); beam search scores with the scheduled
    distribution.

    Args:
        start: float > 0, the first character's temperature. Defaults to
            `1.0`.
        end: float > 0, the temperature from step `steps` on. Defaults to
            `0.7`.
        steps: int >= 1, characters to go from `start` to `end`. Defaults
            to `100`.

    Raises:
        ValueError: if `start` or `end` is not a finite number > 0, or
            `steps` not an int >= 1.

    Example:

    ```python
    # Adventurous for the first line, then calmer.
    schedule = keras_chargen.samplers.TemperatureSchedule(1.2, 0.6, steps=80)
    generator.generate("ROMEO:", 300, processors=[schedule])
    ```
    """

    def __init__(self, start=1.0, end=0.7, steps=100):
        for name, value in (("start", start), ("end", end)):
            if not is_real(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a finite number > 0. Received: {name}={value!r}"
                )
        if not is_int(steps) or steps < 1:
            raise ValueError(f"`steps` must be an int >= 1. Received: steps={steps!r}")
        self.start = float(start)
        self.end = float(end)
        self.steps = int(steps)

    def temperature(self, step):
        """The temperature at `step` (a float32 tensor)."""
        done = ops.minimum(ops.cast(step, "float32"), float(self.steps))
        return self.start + (self.end - self.start) * done / self.steps

    def call(self, logits, recent_ids, step):
        return logits / self.temperature(step)

    def get_config(self):
        return {"start": self.start, "end": self.end, "steps": self.steps}
