"""Scoring a text as one stream, chunk by chunk, with the states carried."""

import math

import keras
import numpy as np
from keras import ops

from keras_chargen.backend.compiled import compiled
from keras_chargen.layers.char_vectorizer import OOV_ID
from keras_chargen.models.state_adapter import as_stateful

_LN2 = math.log(2)


def score_frozen(model, ids, batch_size, verbose):
    """Per-character NLL (nats), top-1 hit and top-1 probability, float64."""
    stateful = as_stateful(model)
    weights = stateful.step_weights("float32")
    score = chunk_scorer(stateful)

    def step(inputs, targets, states):
        return score(inputs, targets, states, weights)

    return score_chunks(
        stateful, ids, batch_size, compiled(step, model.variables), verbose
    )


def score_chunks(stateful, ids, batch_size, step, verbose):
    states = stateful.initial_state(1)
    first_logits, _ = stateful.call_with_state(np.zeros((1, 1), np.int32), states)
    first = ops.convert_to_numpy(ops.log_softmax(first_logits[0, 0], axis=-1))
    nll = [np.array([-first[ids[0]]], np.float64)]
    hits = [np.array([first.argmax() == ids[0]])]
    top1 = [np.array([math.exp(first.max())])]

    inputs, targets = ids[:-1], ids[1:]
    progbar = keras.utils.Progbar(
        len(ids), verbose=verbose, unit_name="char", stateful_metrics=["bits_per_char"]
    )
    total = float(nll[0][0])
    for start in range(0, len(inputs), batch_size):
        size = min(batch_size, len(inputs) - start)
        # Padding (id 0) leaves the states unchanged; its outputs are dropped.
        chunk = np.zeros((2, batch_size), np.int32)
        chunk[0, :size] = inputs[start : start + size]
        chunk[1, :size] = targets[start : start + size]
        loss, top_id, prob, states = step(chunk[:1], chunk[1:], states)
        nll.append(ops.convert_to_numpy(loss)[:size].astype(np.float64))
        hits.append(ops.convert_to_numpy(top_id)[:size] == chunk[1, :size])
        top1.append(ops.convert_to_numpy(prob)[:size].astype(np.float64))
        total += nll[-1].sum()
        done = start + size + 1
        progbar.update(done, [("bits_per_char", total / done / _LN2)])
    if len(ids) == 1:
        progbar.update(1, [("bits_per_char", total / _LN2)])
    nll, hits, top1 = (np.concatenate(parts) for parts in (nll, hits, top1))
    # An unknown character is never a correct prediction, even if id 1 wins.
    return nll, hits & (ids != OOV_ID), top1


def log_probabilities_of(logits, targets):
    """float32 log-softmax of `logits` and its value at each target id."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    targets = ops.expand_dims(ops.cast(targets, "int32"), -1)
    return log_probs, ops.take_along_axis(log_probs, targets, axis=-1)[..., 0]


def chunk_scorer(stateful):
    def score(inputs, targets, states, weights):
        logits, states = stateful.call_with_state(inputs, states, step_weights=weights)
        log_probs, target_log_probs = log_probabilities_of(logits[0], targets[0])
        top_id = ops.cast(ops.argmax(log_probs, axis=-1), "int32")
        top_prob = ops.exp(ops.max(log_probs, axis=-1))
        return -target_log_probs, top_id, top_prob, states

    return score
