"""No-repeat-n-gram for characters: never write an n-gram twice."""

import keras
from keras import ops

from keras_chargen.samplers.logit_processor import LogitProcessor, ban, check_window
from keras_chargen.samplers.sampler import is_int

# How far back repeated n-grams are looked for by default.
WINDOW = 128


@keras.saving.register_keras_serializable(package="keras_chargen")
class NoRepeatNGram(LogitProcessor):
    """Bans each character that would repeat an `n`-gram of recent text.

    With `c_1 .. c_{n-1}` the row's last `n - 1` characters, every id `x`
    such that `c_1 .. c_{n-1} x` already occurs among the row's last
    `window` characters (prompt included) is removed. `n=1` bans every
    character of the window. As for word models' no-repeat-n-gram, but per
    character: a character model needs a larger `n` (8 to 16 blocks looping
    phrases, a small `n` blocks ordinary spelling). If every character of a
    row would be banned, that row is left unchanged for the step.

    Args:
        n: int >= 1, the n-gram length. Defaults to `8`.
        window: int >= `n`, how many recent characters are searched.
            Defaults to `128`.

    Raises:
        ValueError: if `n` is not an int >= 1 or `window` not an int >= `n`.

    Example:

    ```python
    no_repeat = keras_chargen.samplers.NoRepeatNGram(n=10)
    generator.generate("the ", 200, processors=[no_repeat])
    ```
    """

    def __init__(self, n=8, window=WINDOW):
        if not is_int(n) or n < 1:
            raise ValueError(f"`n` must be an int >= 1. Received: n={n!r}")
        self.n = int(n)
        self.window = check_window(window, minimum=self.n)

    def call(self, logits, recent_ids, step):
        n, width = self.n, self.window
        starts = width - n + 1  # n-grams that fit in the window
        # An n-gram starting at j is complete (no padding) when its first id
        # is not padding: the window is left-padded.
        match = recent_ids[:, :starts] != 0
        for k in range(n - 1):
            prefix_id = recent_ids[:, width - n + 1 + k : width - n + 2 + k]
            match = ops.logical_and(match, recent_ids[:, k : starts + k] == prefix_id)
        following = recent_ids[:, n - 1 :]
        hits = ops.one_hot(following, ops.shape(logits)[-1], dtype="float32")
        banned = ops.sum(hits * ops.cast(match, "float32")[:, :, None], axis=1) > 0
        return ban(logits, banned)

    def get_config(self):
        return {"n": self.n, "window": self.window}
