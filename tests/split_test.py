import numpy as np
import pytest

import keras_chargen
from keras_chargen.data.split import split_text


@pytest.mark.parametrize("length", [0, 1, 9, 10, 11, 95, 1000])
@pytest.mark.parametrize("validation_split", [0.0, 0.05, 0.1, 0.25, 0.5, 0.999])
def test_head_plus_tail_is_the_text(length, validation_split):
    text = "".join(chr(0x4E00 + i) for i in range(length))
    head, tail = split_text(text, validation_split)
    assert head + tail == text
    assert len(tail) == round(length * validation_split)


@pytest.mark.parametrize(
    "text, validation_split, expected",
    [
        ("abcdefghij", 0.2, ("abcdefgh", "ij")),
        ("abcdefghij", 0.0, ("abcdefghij", "")),
        ("abcdefghij", 0.04, ("abcdefghij", "")),  # 0.4 characters round to 0
        ("abcdefghij", 0.06, ("abcdefghi", "j")),  # 0.6 round to 1
        ("abcdefghij", 0.5, ("abcde", "fghij")),
        ("", 0.5, ("", "")),
    ],
)
def test_tail_holds_the_rounded_share(text, validation_split, expected):
    assert split_text(text, validation_split) == expected


def test_default_holds_out_a_tenth():
    text = "x" * 95 + "y" * 5 + "z" * 100
    assert split_text(text) == ("x" * 95 + "y" * 5 + "z" * 80, "z" * 20)


def test_characters_are_code_points_not_bytes():
    text = "😀e\u0301\n\r\n" * 4  # 24 code points, 40 UTF-8 bytes
    head, tail = split_text(text, 0.25)
    assert (len(head), len(tail)) == (18, 6)
    assert tail == text[18:]


def test_numpy_float_split_is_accepted():
    assert split_text("abcdefghij", np.float32(0.2)) == ("abcdefgh", "ij")


def test_is_the_public_split():
    assert keras_chargen.split_text is split_text


@pytest.mark.parametrize("text", [b"abc", ["abc"], None, 3])
def test_non_str_text_raises_type_error(text):
    with pytest.raises(TypeError) as info:
        split_text(text, 0.1)
    assert str(info.value) == (
        f"`text` must be a str. Received type {type(text).__name__}"
    )


@pytest.mark.parametrize("validation_split", [1, 1.0, 1.5, -0.1, True, "0.1", None])
def test_validation_split_outside_zero_one_raises(validation_split):
    with pytest.raises(ValueError) as info:
        split_text("abcdefghij", validation_split)
    assert str(info.value) == (
        "`validation_split` must be in [0, 1). "
        f"Received: validation_split={validation_split!r}"
    )
