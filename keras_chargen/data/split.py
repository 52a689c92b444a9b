"""`split_text`: the one train/validation split of keras_chargen."""

import numbers


def split_text(text, validation_split=0.1):
    """Splits a text into a contiguous training head and a held-out tail.

    The one definition of the split: `make_datasets`, `train`,
    `keras-chargen evaluate`, `search` and the examples all call it, so a
    model is always scored on the characters it did not see. The tail holds
    `round(len(text) * validation_split)` characters of `text` as given
    (before any normalisation).

    Args:
        text: a `str`.
        validation_split: float in `[0, 1)`, the tail's share. Defaults to
            `0.1`.

    Returns:
        `(head, tail)`, two `str` with `head + tail == text`.

    Raises:
        TypeError: if `text` is not a `str`.
        ValueError: if `validation_split` is not in `[0, 1)`.

    Example:

    ```python
    train_text, val_text = keras_chargen.split_text("abcdefghij", 0.2)
    (train_text, val_text)  # ('abcdefgh', 'ij')
    ```
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str. Received type {type(text).__name__}")
    head = split_sizes(len(text), validation_split)[0]
    return text[:head], text[head:]


def split_sizes(num_characters, validation_split=0.1):
    """The sizes of `split_text`'s head and tail for a text of this length.

    The rule itself, for texts that are not held as one `str` (a prepared
    corpus counts its characters, then cuts its id array at the same place).

    Args:
        num_characters: int >= 0, the text's length.
        validation_split: float in `[0, 1)`. Defaults to `0.1`.

    Returns:
        `(head, tail)` character counts, summing to `num_characters`.

    Raises:
        ValueError: if `validation_split` is not in `[0, 1)`.
    """
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, numbers.Real)
        or not 0 <= validation_split < 1
    ):
        raise ValueError(
            "`validation_split` must be in [0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    held_out = int(round(num_characters * validation_split))
    return num_characters - held_out, held_out
