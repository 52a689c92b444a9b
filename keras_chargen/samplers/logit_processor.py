"""The `LogitProcessor` base class: changes logits before a sampler sees them."""

import json

import keras
from keras import ops

from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS
from keras_chargen.samplers.sampler import FILTERED, is_int


@keras.saving.register_keras_serializable(package="keras_chargen")
class LogitProcessor:
    """Base class of the logit processors: penalties, bans, schedules.

    A processor changes the float32 logits of each row before the sampler
    (any sampler, `BeamSampler` included) chooses the next id. It may look
    at the last `window` ids of its row (the prompt's tail, then the
    generated characters) and at the number of characters generated so far
    in the call. `TextGenerator` carries those ids and that count through
    its compiled loop and applies the processors in the order given, so a
    processor uses only `keras.ops`, branches only on its own
    configuration, and runs on every backend.

    To write one, subclass it, keep every `__init__` argument as an
    attribute returned by `get_config()`, set `window` to the number of
    recent ids it needs (the base class needs none: `0`), and override
    `call()`. A processor that needs the model's characters (as
    `BannedStrings` does) overrides `build(vectorizer)`, which
    `TextGenerator` calls before generating.

    Call arguments:
        logits: float32 tensor `(batch, vocabulary_size)`.
        recent_ids: int32 tensor `(batch, window)`, the row's last `window`
            ids, oldest first, left-padded with id 0 where the row's text
            is shorter.
        step: int32 scalar tensor, the number of characters generated
            before this one in this call.

    Returns:
        The processed float32 logits, same shape. Removed ids are set to
        about `-3.4e38`.

    Example:

    ```python
    class BanOneId(keras_chargen.samplers.LogitProcessor):
        def __init__(self, banned_id):
            self.banned_id = banned_id

        def call(self, logits, recent_ids, step):
            ids = keras.ops.arange(keras.ops.shape(logits)[-1])
            return keras.ops.where(ids[None, :] == self.banned_id, -1e30, logits)

        def get_config(self):
            return {"banned_id": self.banned_id}
    ```
    """

    window = 0

    def build(self, vectorizer):
        """Prepares what the processor needs from the model's vocabulary.

        Args:
            vectorizer: the generator's `keras_chargen.CharVectorizer`.
        """

    def __call__(self, logits, recent_ids, step):
        logits = ops.cast(ops.convert_to_tensor(logits), "float32")
        return self.call(logits, ops.cast(recent_ids, "int32"), step)

    def call(self, logits, recent_ids, step):
        """The processing itself; subclasses override it (the base keeps all)."""
        return logits

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_window(window, minimum=1):
    """`window` as an int; raises `ValueError` unless an int >= `minimum`."""
    if not is_int(window) or window < minimum:
        raise ValueError(
            f"`window` must be an int >= {minimum}. Received: window={window!r}"
        )
    return int(window)


def counts_of(recent_ids, vocabulary_size):
    """float32 `(batch, vocabulary_size)`: how often each id is in the window.

    Padding (id 0) is not counted.
    """
    one_hot = ops.one_hot(recent_ids, vocabulary_size, dtype="float32")
    counts = ops.sum(one_hot, axis=1)
    ids = ops.arange(vocabulary_size, dtype="int32")
    return ops.where(ids[None, :] == 0, 0.0, counts)


def ban(logits, banned):
    """`logits` with the `banned` (bool, same shape) ids set to about -3.4e38.

    A row in which every non-reserved id would be banned is left as it was:
    the sampler can only draw a character, and a row without any would
    draw a reserved id.
    """
    ids = ops.arange(ops.shape(logits)[-1], dtype="int32")
    real = ids[None, :] >= NUM_RESERVED_IDS
    some_left = ops.any(ops.logical_and(real, ops.logical_not(banned)), axis=-1)
    banned = ops.logical_and(banned, some_left[:, None])
    return ops.where(banned, FILTERED, logits)


def as_processors(processors):
    """`processors` (None, one processor or a list) as a list; checks types."""
    if processors is None:
        return []
    if isinstance(processors, LogitProcessor):
        return [processors]
    if isinstance(processors, str) or not hasattr(processors, "__iter__"):
        processors = [processors]
    processors = list(processors)
    bad = [p for p in processors if not isinstance(p, LogitProcessor)]
    if bad:
        raise TypeError(
            "`processors` must be a keras_chargen.samplers.LogitProcessor or a "
            f"list of them. Received: {bad[0]!r:.60}"
        )
    return processors


def window_of(processors):
    """The number of recent ids the generation loop carries for `processors`."""
    return max([1, *(p.window for p in processors)])


def apply_processors(processors, logits, recent_ids, step):
    """Applies `processors` in order; `recent_ids` is `window_of` wide.

    The result is clamped at about -3.4e38, so that a penalty applied to a
    removed id never gives `-inf`.
    """
    logits = ops.cast(logits, "float32")
    if not processors:
        return logits
    width = recent_ids.shape[-1]
    for processor in processors:
        logits = processor(logits, recent_ids[:, width - processor.window :], step)
    return ops.maximum(logits, FILTERED)


def processors_key(processors):
    """What decides whether two lists of processors share a compiled loop."""
    return tuple(
        (type(p), json.dumps(p.get_config(), sort_keys=True, default=repr))
        for p in processors
    )
