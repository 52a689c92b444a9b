"""`Row` (one text being generated) and `RowBatch` (rows stepped together).

A `RowBatch` holds, for the rows sharing one sampler, the logits and the
recurrent states of each row as NumPy arrays, so that rows can join and
leave between chunks (`add`, `keep`) while the compiled loop only ever sees
one padded array per state.
"""

import threading

import numpy as np
from keras import tree


class Row:
    """One prompt's generation, fed to the engine and answered through `deliver`.

    Args:
        prompt_ids: int32 NumPy ids of the prompt.
        length: characters to generate.
        temperature: float >= 0 (0 is greedy).
        noise: a `RowNoise` for this row's seed.
        stops: list of stop strings (the text ends after the first one).
        deliver: `deliver(row, piece, finish_reason)`, called from the
            engine thread with each new piece of text (`finish_reason` is
            `None` until the last call, then `"length"`, `"stop"`,
            `"cancelled"` or `"error"`).
        cancelled: Optional `threading.Event` shared by the rows of one
            request; set, the row is dropped at the next chunk boundary.
        index: the row's place in its request. Defaults to `0`.
    """

    def __init__(
        self,
        prompt_ids,
        length,
        temperature,
        noise,
        stops,
        deliver,
        cancelled=None,
        index=0,
    ):
        self.index = index
        self.prompt_ids = prompt_ids
        self.length = length
        self.temperature = float(temperature)
        self.noise = noise
        self.stops = [s for s in stops if s]
        self.deliver = deliver
        self.cancelled = cancelled or threading.Event()
        self.text = ""

    def add_text(self, piece):
        """Appends a decoded chunk; returns `(piece, finish_reason or None)`."""
        piece = piece[: self.length - len(self.text)]
        start = max(0, len(self.text) - max((len(s) for s in self.stops), default=0))
        self.text += piece
        ends = [
            self.text.find(s, start) + len(s)
            for s in self.stops
            if self.text.find(s, start) >= 0
        ]
        if ends:
            end = min(ends)
            piece = piece[: len(piece) - (len(self.text) - end)]
            self.text = self.text[:end]
            return piece, "stop"
        return piece, "length" if len(self.text) >= self.length else None


class RowBatch:
    """The rows of one sampler with their logits and flattened states."""

    def __init__(self):
        self.rows = []
        self.logits = None
        self.states = None  # flat list of (rows, units) arrays
        self.structure = None  # the nesting of the model's states

    def add(self, rows, logits, states):
        """Appends rows with their prefill results (`states` nested)."""
        flat = [np.asarray(s) for s in tree.flatten(states)]
        logits = np.asarray(logits)
        if not self.rows:
            self.rows, self.logits, self.states = list(rows), logits, flat
            self.structure = states
            return
        self.rows += rows
        self.logits = np.concatenate([self.logits, logits])
        self.states = [
            np.concatenate(pair) for pair in zip(self.states, flat, strict=True)
        ]

    def keep(self, mask):
        """Keeps the rows where `mask` is true."""
        mask = np.asarray(mask, bool)
        self.rows = [row for row, k in zip(self.rows, mask, strict=True) if k]
        self.logits = self.logits[mask]
        self.states = [s[mask] for s in self.states]

    def padded(self, size):
        """Logits, nested states and temperatures padded with zero rows to `size`."""
        extra = size - len(self.rows)

        def pad(a):
            return np.concatenate([a, np.zeros((extra,) + a.shape[1:], a.dtype)])

        temperature = np.array([[r.temperature] for r in self.rows], np.float32)
        states = tree.pack_sequence_as(self.structure, [pad(s) for s in self.states])
        return pad(self.logits), states, pad(temperature)

    def update(self, logits, states):
        """Takes the loop's outputs back, dropping the padding rows."""
        n = len(self.rows)
        self.logits = np.asarray(logits)[:n]
        self.states = [np.asarray(s)[:n] for s in tree.flatten(states)]
