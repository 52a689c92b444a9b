"""`TextScorer`: per-character log-probabilities of given texts, batched."""

import numpy as np
from keras import ops

from keras_chargen.backend.compiled import compiled
from keras_chargen.evaluation.scoring import log_probabilities_of

# Texts per batch, and characters per compiled chunk (states carried between
# chunks): memory stays bounded and one compiled shape serves any length.
_SCORE_ROWS = 64
_SCORE_CHUNK = 128


class TextScorer:
    """Scores texts through the recurrent-state protocol; see `TextGenerator.score`.

    Args:
        stateful: an object with `initial_state`, `call_with_state` and
            `step_weights` (`keras_chargen.models.state_adapter.as_stateful`).
        vectorizer: the model's `CharVectorizer`.
        variables: the model's variables (read by the compiled chunk).
        jit_compile: bool, XLA on TensorFlow. Defaults to `False`.
    """

    def __init__(self, stateful, vectorizer, variables, jit_compile=False):
        self._stateful = stateful
        self.vectorizer = vectorizer
        self._chunk = compiled(self._score_chunk, variables, jit_compile=jit_compile)

    def score(self, texts, prompts=None):
        """See `keras_chargen.TextGenerator.score`."""
        single = isinstance(texts, str)
        texts = _as_texts("texts", texts)
        prompts = (
            [""] * len(texts) if prompts is None else _as_texts("prompts", prompts)
        )
        if len(prompts) != len(texts):
            raise ValueError(
                f"`prompts` must hold one prompt per text: {len(texts)}. "
                f"Received {len(prompts)}: prompts={prompts!r:.60}"
            )
        rows = [
            (self.vectorizer.encode(p), self.vectorizer.encode(t))
            for p, t in zip(prompts, texts, strict=True)
        ]
        scores = []
        for start in range(0, len(rows), _SCORE_ROWS):
            scores += self._score_rows(rows[start : start + _SCORE_ROWS])
        return scores[0] if single else scores

    def _score_rows(self, rows):
        # Row i is [0, *prompt, *text] and predicts [*prompt, *text]: the
        # leading padding gives the zero state's logits (the empty context),
        # and the right padding after a short row only follows its last
        # character, so it changes nothing that is kept.
        lengths = [len(p) + len(t) for p, t in rows]
        width = -(-max(1, max(lengths)) // _SCORE_CHUNK) * _SCORE_CHUNK
        inputs = np.zeros((len(rows), width + 1), np.int32)
        for row, (p, t) in zip(inputs, rows, strict=True):
            row[1 : 1 + len(p) + len(t)] = np.concatenate([p, t])
        weights = self._stateful.step_weights("float32")
        states = self._stateful.initial_state(len(rows))
        parts = []
        for start in range(0, width, _SCORE_CHUNK):
            window = inputs[:, start : start + _SCORE_CHUNK + 1]
            log_probs, states = self._chunk(
                weights, window[:, :-1], window[:, 1:], states
            )
            parts.append(ops.convert_to_numpy(log_probs))
        log_probs = np.concatenate(parts, axis=1)
        return [
            log_probs[i, len(p) : n].astype(np.float32)
            for i, ((p, _), n) in enumerate(zip(rows, lengths, strict=True))
        ]

    def _score_chunk(self, weights, inputs, targets, states):
        logits, states = self._stateful.call_with_state(
            inputs, states, step_weights=weights
        )
        return log_probabilities_of(logits, targets)[1], states


def _as_texts(name, texts):
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list | tuple) or not all(
        isinstance(t, str) for t in texts
    ):
        raise TypeError(
            f"`{name}` must be a str or a list of str. Received: {texts!r:.60}"
        )
    if not texts:
        raise ValueError(f"`{name}` must not be an empty list. Received: {name}=[]")
    return list(texts)
