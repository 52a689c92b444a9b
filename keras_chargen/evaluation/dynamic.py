"""Dynamic evaluation: the model keeps learning from the text it scores."""

import keras
from keras import ops

from keras_chargen.backend.compiled import compiled
from keras_chargen.evaluation.scoring import chunk_scorer, score_chunks
from keras_chargen.models.state_adapter import as_stateful


def score_adaptive(model, ids, chunk, learning_rate, decay, verbose):
    """`evaluate`'s scoring with one RMSprop step on each chunk after it is scored.

    The step is Keras' own `train_on_batch` on a small model that runs the
    protocol from given states, so the gradient is computed by whichever
    backend runs. After the step every weight moves `decay` of the way back
    to its trained value.
    """
    stateful = as_stateful(model)
    score = compiled(chunk_scorer(stateful), model.variables)
    learner = _StateLearner(stateful, model)
    learner.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0
        ),
    )
    variables = model.trainable_variables
    trained = [ops.copy(v.value) for v in variables]

    def step(inputs, targets, states):
        nll, top_id, top_prob, new_states = score(inputs, targets, states, None)
        learner.train_on_batch([inputs, *_flat(states)], targets)
        if decay:
            for variable, value in zip(variables, trained, strict=True):
                variable.assign(variable.value + decay * (value - variable.value))
        return nll, top_id, top_prob, new_states

    try:
        return score_chunks(stateful, ids, chunk, step, verbose)
    finally:
        for variable, value in zip(variables, trained, strict=True):
            variable.assign(value)


class _StateLearner(keras.Model):
    """Logits of `call_with_state` from states given as inputs, for training."""

    def __init__(self, stateful, model):
        super().__init__(name="state_learner")
        self.stateful = stateful
        self.model = model  # tracked: its variables are this model's
        self._layout = [len(s) for s in stateful.initial_state(1)]

    def call(self, inputs):
        flat = iter(inputs[1:])
        states = [[next(flat) for _ in range(n)] for n in self._layout]
        logits, _ = self.stateful.call_with_state(inputs[0], states)
        return logits


def _flat(states):
    return [s for layer in states for s in layer]
