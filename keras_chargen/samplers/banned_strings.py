"""Banned characters and banned strings."""

import keras
import numpy as np
from keras import ops

from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS
from keras_chargen.samplers.logit_processor import LogitProcessor, ban


@keras.saving.register_keras_serializable(package="keras_chargen")
class BannedStrings(LogitProcessor):
    """Never lets the generated text contain any of `strings`.

    A one-character string bans that character at every step. For a
    longer string `s`, the character `s[-1]` is banned at every step where
    the row's last `len(s) - 1` characters (prompt or generated) are
    `s[:-1]`: the string can never be completed, even across the prompt's
    end. If every character of a row would be banned, that row is left
    unchanged for the step (so a set of strings that leaves nothing to
    write is not enforced there).

    Args:
        strings: a `str` or a list of non-empty `str`. Defaults to `()`.

    Raises:
        ValueError: if a string is empty or not a `str`; `build()` raises
            if a string holds a character outside the model's vocabulary
            (it could never be generated: nothing to ban).

    Example:

    ```python
    banned = keras_chargen.samplers.BannedStrings(["#", "the the"])
    generator.generate("the ", 200, processors=[banned])
    ```
    """

    def __init__(self, strings=()):
        strings = [strings] if isinstance(strings, str) else list(strings)
        bad = [s for s in strings if not isinstance(s, str) or not s]
        if bad:
            raise ValueError(
                "`strings` must be a list of non-empty str. "
                f"Received: strings={strings!r:.80}"
            )
        self.strings = strings
        self.window = max([1, *(len(s) - 1 for s in strings)])
        self._groups = None

    def build(self, vectorizer):
        index = {c: i + NUM_RESERVED_IDS for i, c in enumerate(vectorizer.vocabulary)}
        unknown = sorted({c for s in self.strings for c in s if c not in index})
        if unknown:
            raise ValueError(
                "`strings` may only hold characters of the model's vocabulary "
                f"(others are never generated). Received: strings={self.strings!r:.80} "
                f"with {''.join(unknown)!r}"
            )
        # Strings grouped by length: one comparison per group and step.
        groups = {}
        for s in dict.fromkeys(self.strings):
            groups.setdefault(len(s), []).append([index[c] for c in s])
        self._groups = {
            length: np.asarray(ids, np.int32) for length, ids in groups.items()
        }

    def call(self, logits, recent_ids, step):
        if self._groups is None:
            raise ValueError(
                "BannedStrings needs the model's vocabulary: call "
                "`build(vectorizer)` first (TextGenerator does)."
            )
        vocabulary_size = ops.shape(logits)[-1]
        banned = ops.zeros_like(logits) > 0
        for length, ids in self._groups.items():
            last = ops.one_hot(ids[:, -1], vocabulary_size, dtype="float32")
            if length == 1:
                match = ops.ones((ops.shape(logits)[0], len(ids)), "float32")
            else:
                context = recent_ids[:, self.window - (length - 1) :]
                prefixes = ops.convert_to_tensor(ids[:, :-1])
                equal = context[:, None, :] == prefixes[None, :, :]
                match = ops.cast(ops.all(equal, axis=-1), "float32")
            banned = ops.logical_or(banned, ops.matmul(match, last) > 0)
        return ban(logits, banned)

    def get_config(self):
        return {"strings": list(self.strings)}
