"""Beam search for `TextGenerator`: the compiled loop and the backtracking.

The loop keeps `num_beams` rows per prompt (prompt-major: rows
`b * num_beams .. b * num_beams + num_beams - 1` belong to prompt `b`). At
each step it emits, per beam, the chosen id, the beam it extends and that
id's log-probability; the texts are read back at the end by following the
parents from the last step to the first (as KerasHub's and Hugging Face's
beam searches do), so no per-beam history is gathered inside the loop.
"""

import numpy as np
from keras import ops, tree

from keras_chargen.backend.loops import scan
from keras_chargen.samplers.logit_processor import apply_processors
from keras_chargen.samplers.sampler import remove_reserved

# The starting score of every beam but the first: the first step then
# extends one beam per prompt, never copies of it. A dead beam stays far
# below every real one (real scores are sums of finite log-probabilities).
DEAD = -1e30


def beam_loop(stateful, processors, num_beams):
    """The compiled step loop: `(weights, logits, states, scores, recent, step)`.

    Returns `((ids, parents, log_probs), logits, states, scores, recent,
    step)`, the first three int32 / int32 / float32 `(steps, batch,
    num_beams)`.
    """
    vocabulary_size = stateful.vocabulary_size

    def loop(weights, logits, states, scores, recent, step, steps):
        def body(carry, _):
            logits, states, scores, recent, step = carry
            logits = apply_processors(processors, logits, recent, step)
            batch = ops.shape(scores)[0]
            # The model's own log-probabilities (those `score()` gives), of
            # the processed logits; reserved ids can never be chosen.
            log_probs = remove_reserved(ops.log_softmax(logits, axis=-1))
            log_probs = ops.reshape(log_probs, (batch, num_beams * vocabulary_size))
            total = ops.repeat(scores, vocabulary_size, axis=1) + log_probs
            best, index = ops.top_k(total, num_beams)
            index = ops.cast(index, "int32")
            parent = ops.floor_divide(index, vocabulary_size)
            ids = ops.mod(index, vocabulary_size)
            chosen = ops.take_along_axis(log_probs, index, axis=1)
            offsets = ops.arange(batch, dtype="int32")[:, None] * num_beams
            rows = ops.reshape(parent + offsets, (-1,))
            flat_ids = ops.reshape(ids, (-1,))
            states = tree.map_structure(lambda s: ops.take(s, rows, axis=0), states)
            recent = ops.take(recent, rows, axis=0)
            recent = ops.concatenate([recent[:, 1:], flat_ids[:, None]], axis=1)
            logits, states = stateful.call_with_state(
                flat_ids[:, None], states, step_weights=weights
            )
            carry = (logits[:, 0], states, best, recent, step + 1)
            return carry, (ids, parent, chosen)

        carry, outputs = scan(
            body, (logits, states, scores, recent, step), length=steps
        )
        return outputs, *carry

    return loop


class BeamSearch:
    """The beams of one `generate()` call: start, chunks, ranked texts.

    Args:
        batch: number of prompts.
        num_beams: beams per prompt.
    """

    def __init__(self, batch, num_beams):
        self.batch = batch
        self.num_beams = num_beams
        self.chunks = []
        self.scores = None

    def start(self, logits, states, recent):
        """`(logits, states, scores, recent)` with each prompt's row repeated."""
        k = self.num_beams
        logits = ops.repeat(logits, k, axis=0)
        states = tree.map_structure(lambda s: ops.repeat(s, k, axis=0), states)
        recent = ops.repeat(recent, k, axis=0)
        scores = np.full((self.batch, k), DEAD, np.float32)
        scores[:, 0] = 0.0
        return logits, states, ops.convert_to_tensor(scores), recent

    def add(self, outputs, scores):
        """Keeps one chunk's `(ids, parents, log_probs)` and the scores after it."""
        self.chunks.append(outputs)
        self.scores = scores

    def paths(self):
        """`(ids, log_probs)`, each `(batch, num_beams, steps)`, by backtracking."""
        ids, parents, log_probs = (
            np.concatenate([c[i] for c in self.chunks]) for i in range(3)
        )
        steps = ids.shape[0]
        path_ids = np.zeros((self.batch, self.num_beams, steps), np.int32)
        path_log_probs = np.zeros((self.batch, self.num_beams, steps), np.float64)
        beam = np.tile(np.arange(self.num_beams), (self.batch, 1))
        for t in reversed(range(steps)):
            path_ids[:, :, t] = np.take_along_axis(ids[t], beam, axis=1)
            path_log_probs[:, :, t] = np.take_along_axis(log_probs[t], beam, axis=1)
            beam = np.take_along_axis(parents[t], beam, axis=1)
        return path_ids, path_log_probs

    def all_stopped(self, vectorizer, stops):
        """Whether every beam of every prompt holds a stop string."""
        path_ids, _ = self.paths()
        alive = self.scores.reshape(-1) > DEAD / 2
        return all(
            any(s and s in vectorizer.decode(row) for s in stops)
            for row in path_ids.reshape(-1, path_ids.shape[-1])[alive]
        )

    def ranked(self, vectorizer, stops, length_penalty):
        """Per prompt, `[(continuation, log_probability), ...]`, best first.

        Each beam is cut after its first stop string; beams are ranked by
        `log_probability / len ** length_penalty`, and beams that became the
        same text are kept once. Dead beams (more beams than continuations
        exist) are left out.
        """
        if not self.chunks:
            return [[("", 0.0)] for _ in range(self.batch)]
        path_ids, path_log_probs = self.paths()
        ranked = []
        for ids, log_probs, scores in zip(
            path_ids, path_log_probs, self.scores, strict=True
        ):
            beams = []
            for row, row_log_probs, score in zip(ids, log_probs, scores, strict=True):
                if score <= DEAD / 2:
                    continue
                text = vectorizer.decode(row)
                hits = [text.find(s) + len(s) for s in stops if s and s in text]
                kept = min(hits) if hits else len(text)
                log_probability = float(row_log_probs[:kept].sum())
                score = log_probability / max(kept, 1) ** length_penalty
                beams.append((score, text[:kept], log_probability))
            beams.sort(key=lambda b: -b[0])
            # Beams that differ only after their stop string are one text.
            unique = {text: log_probability for _, text, log_probability in beams}
            ranked.append(list(unique.items()))
        return ranked
