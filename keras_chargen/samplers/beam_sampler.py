"""Beam search: keep the `num_beams` likeliest continuations at every step."""

import math

import keras

from keras_chargen.samplers.sampler import is_int, is_real


@keras.saving.register_keras_serializable(package="keras_chargen")
class BeamSampler:
    """Beam search over characters, for `TextGenerator`.

    Not a per-step sampler but a search: `TextGenerator.generate()` keeps,
    for each prompt, the `num_beams` continuations with the highest sum of
    log-probabilities so far. At each step every beam is extended by every
    character (ids 0 and 1 never), the `num_beams` best extensions of all
    beams survive, and the model's recurrent states are reordered to follow
    them (a gather along the batch axis of every state tensor). Logit
    processors apply to each beam's logits before the log-softmax, with each
    beam's own recent characters. There is no randomness: no `seed`.

    The search runs for the whole `length`; a beam is not ended early by a
    stop string. Afterwards each beam is cut after its first stop string
    (if any) and the beams are ranked by

        sum(log p) / len ** length_penalty

    over the characters kept, `len` their number. Without stop strings
    every beam has `length` characters, so `length_penalty` does not change
    the ranking; with them, `length_penalty > 0` favours longer texts and
    `< 0` shorter ones.

    `num_beams=1` is greedy decoding. With `num_beams = n ** depth`, `n` the
    number of characters, a search of `depth` steps is exhaustive.

    **Note:** `TextGenerator.stream()` with a `BeamSampler` can only yield
    once the search has ended: the best beam is not known before. It
    yields the whole continuation as one piece.

    Args:
        num_beams: int >= 1. Defaults to `4`.
        length_penalty: finite float, the exponent above. Defaults to `1.0`.
        return_all_beams: bool. When `True`, `generate()` returns for each
            prompt a list of `(text, log_probability)` pairs, every beam,
            best first (`log_probability` is the natural-log sum over the
            continuation's kept characters, without the length penalty);
            when `False`, the best text alone. Defaults to `False`.

    Raises:
        ValueError: if `num_beams` is not an int >= 1, `length_penalty` not
            a finite number, or `return_all_beams` not a bool.

    Example:

    ```python
    beams = keras_chargen.samplers.BeamSampler(num_beams=8, return_all_beams=True)
    for text, log_probability in generator.generate("ROMEO:", 40, sampler=beams):
        print(f"{log_probability:8.2f}  {text!r}")
    ```
    """

    def __init__(self, num_beams=4, length_penalty=1.0, return_all_beams=False):
        if not is_int(num_beams) or num_beams < 1:
            raise ValueError(
                f"`num_beams` must be an int >= 1. Received: num_beams={num_beams!r}"
            )
        if not is_real(length_penalty) or not math.isfinite(length_penalty):
            raise ValueError(
                "`length_penalty` must be a finite number. "
                f"Received: length_penalty={length_penalty!r}"
            )
        if not isinstance(return_all_beams, bool):
            raise ValueError(
                "`return_all_beams` must be a bool. "
                f"Received: return_all_beams={return_all_beams!r}"
            )
        self.num_beams = int(num_beams)
        self.length_penalty = float(length_penalty)
        self.return_all_beams = return_all_beams

    def get_config(self):
        return {
            "num_beams": self.num_beams,
            "length_penalty": self.length_penalty,
            "return_all_beams": self.return_all_beams,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
