"""`Engine`: one thread owns the model and steps every active row in batches.

Requests arriving together share the compiled loop. The engine thread
repeats: take the rows that arrived (prefill their prompts in one call and
append them to the batch of their sampler), drop the rows whose client
went away, run one compiled chunk of `chunk_size` steps for each batch,
and hand each row its new text. Batch sizes and prompt widths are padded
to powers of two, so TensorFlow and JAX compile a handful of shapes, not
one per size. Nothing waits on a client: text goes to the client's own
queue (see `app.py`), so a slow reader never holds up the loop.

Everything runs through the model's recurrent-state protocol
(`as_stateful`: `initial_state`, `call_with_state`, `step_weights`),
`backend.compiled.compiled` and `backend.loops.scan`, as `TextGenerator`
does; the choice of each id is `row_sampling.pick_ids`.
"""

import collections
import concurrent.futures
import logging
import queue
import threading

import keras
import numpy as np
from keras import ops, tree

from keras_chargen.backend.compiled import compiled
from keras_chargen.backend.loops import scan
from keras_chargen.generation.text_generator import TextGenerator, prefill
from keras_chargen.models.state_adapter import as_stateful
from keras_chargen.serving.row_batch import RowBatch
from keras_chargen.serving.row_sampling import (
    RowNoise,
    filter_sampler,
    pick_ids,
    sampler_key,
)

_LOG = logging.getLogger("keras_chargen.serving")
_MIN_WIDTH = 16  # the narrowest prefill: short prompts share one shape


def bucket(n, smallest=1):
    """The power of two >= `n` (and >= `smallest`)."""
    size = smallest
    while size < n:
        size *= 2
    return size


class Engine:
    """Batches generation rows from many requests on one model.

    Args:
        model: a `keras_chargen.CharLM` (or a model with the protocol and a
            `vectorizer`).
        chunk_size: steps per compiled call; rows join and leave between
            calls and text reaches clients one chunk at a time. Defaults
            to `8`.
        max_batch: the most rows stepped together per sampler; more wait.
            Defaults to `64`.
        dtype: the step's matrix-product dtype, as for `TextGenerator`.
            Defaults to `"float32"`.
        max_compiled: how many sampler settings keep a compiled loop (the
            least recently used is dropped). Defaults to `16`.
    """

    def __init__(
        self, model, chunk_size=8, max_batch=64, dtype="float32", max_compiled=16
    ):
        self.model = model
        self.max_compiled = max_compiled
        self.vectorizer = model.vectorizer
        self.chunk_size = chunk_size
        self.max_batch = max_batch
        self.dtype = dtype
        self.vocabulary_size = self.vectorizer.vocabulary_size()
        self._stateful = as_stateful(model)
        self._generator = TextGenerator(model, dtype=dtype)  # for `score`
        self._inbox = queue.Queue()
        self._waiting = collections.deque()
        self._batches = {}  # sampler key -> (sampler, RowBatch)
        self._functions = collections.OrderedDict()
        self._weights = None
        self._closing = False
        self.ready = False
        self.rows_finished = 0
        self.rows_cancelled = 0
        self.chunks_run = 0
        self.compiled_loops = 0
        self._thread = threading.Thread(
            target=self._loop, name="keras-chargen-engine", daemon=True
        )

    # ------------------------------------------------------------ public API
    def start(self):
        self._thread.start()
        return self

    def close(self, timeout=10):
        """Stops the thread; rows still running end with `"cancelled"`."""
        self._closing = True
        self._inbox.put(None)
        self._thread.join(timeout)

    def submit(self, sampler, rows):
        """Queues rows that use `sampler`'s filtering (thread-safe)."""
        self._inbox.put(("rows", sampler, list(rows)))

    def call(self, fn, *args):
        """Runs `fn(*args)` on the engine thread; returns a `Future`."""
        future = concurrent.futures.Future()
        self._inbox.put(("call", future, fn, args))
        return future

    def score(self, texts, prompts=None):
        """`TextGenerator.score` on the engine thread; returns a `Future`."""
        return self.call(self._generator.score, texts, prompts)

    @property
    def alive(self):
        return self._thread.is_alive()

    def stats(self):
        """Counts for `/health`: rows stepping, rows waiting, totals."""
        return {
            "active_rows": sum(len(b.rows) for _, b in list(self._batches.values())),
            "waiting_rows": len(self._waiting) + self._inbox.qsize(),
            "rows_finished": self.rows_finished,
            "rows_cancelled": self.rows_cancelled,
            "chunks_run": self.chunks_run,
            "compiled_loops": self.compiled_loops,
        }

    # ------------------------------------------------------------ the thread
    def warm_up(self):
        """Compiles the prefill and the default sampler's loop for the buckets.

        Runs on the engine thread before it takes requests (`/health` says
        `"starting"` until then), so the first clients do not wait for it.
        """
        sampler = filter_sampler()
        sizes = [1, 2]  # TensorFlow: the second shape traces for any batch size
        if keras.backend.backend() == "jax":  # JAX compiles each bucket
            sizes = [2**i for i in range(bucket(self.max_batch).bit_length())]
        for size in sizes:
            width = _MIN_WIDTH * (2 if size > 1 else 1)
            logits, states = self._prefill([np.ones(width, np.int32)] * size)
            batch = RowBatch()
            rows = [_WarmUpRow(self.vocabulary_size) for _ in range(size)]
            batch.add(rows, logits, states)
            self._run_chunk(sampler, batch, warm_up=True)
        self.ready = True

    def _loop(self):
        try:
            self.warm_up()
        except Exception:
            _LOG.exception("warm-up failed; compiling on first use instead")
            self.ready = True
        while not self._closing:
            self._take_inbox(block=not self._batches and not self._waiting)
            self._admit()
            for key in list(self._batches):
                sampler, batch = self._batches[key]
                self._drop_cancelled(batch)
                if batch.rows:
                    self._run_chunk(sampler, batch)
                if not batch.rows:
                    del self._batches[key]
        for _, batch in self._batches.values():
            for row in batch.rows:
                row.deliver(row, "", "cancelled")

    def _take_inbox(self, block):
        try:
            item = self._inbox.get(block=block, timeout=0.5 if block else None)
            while True:
                self._handle(item)
                item = self._inbox.get_nowait()
        except queue.Empty:
            return

    def _handle(self, item):
        if item is None:
            return
        if item[0] == "rows":
            _, sampler, rows = item
            self._waiting.extend((sampler, row) for row in rows)
            return
        _, future, fn, args = item
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args))
            except Exception as error:  # the caller turns it into a reply
                future.set_exception(error)

    def _admit(self):
        """Prefills the waiting rows that fit and appends them to their batch."""
        admitted, later = [], collections.deque()
        sizes = {key: len(b.rows) for key, (_, b) in self._batches.items()}
        while self._waiting:
            sampler, row = self._waiting.popleft()
            if row.cancelled.is_set() or row.length == 0:
                self._finish(
                    row, "", "cancelled" if row.cancelled.is_set() else "length"
                )
                continue
            key = sampler_key(sampler)
            if sizes.get(key, 0) >= self.max_batch:
                later.append((sampler, row))
                continue
            sizes[key] = sizes.get(key, 0) + 1
            admitted.append((key, sampler, row))
        self._waiting = later
        if not admitted:
            return
        rows = [row for _, _, row in admitted]
        try:
            logits, states = self._prefill([row.prompt_ids for row in rows])
        except Exception:
            _LOG.exception("prefill failed")
            for row in rows:
                self._finish(row, "", "error")
            return
        flat = [np.asarray(s) for s in tree.flatten(states)]
        for key in dict.fromkeys(k for k, _, _ in admitted):
            picked = [i for i, (k, _, _) in enumerate(admitted) if k == key]
            sampler = next(s for k, s, _ in admitted if k == key)
            part = tree.pack_sequence_as(states, [s[picked] for s in flat])
            _, batch = self._batches.setdefault(key, (sampler, RowBatch()))
            batch.add([rows[i] for i in picked], logits[picked], part)

    def _prefill(self, prompts):
        width = bucket(max(1, max(len(p) for p in prompts)), _MIN_WIDTH)
        size = bucket(len(prompts))
        ids = np.zeros((size, width), np.int32)  # left padding
        for row, prompt in zip(ids, prompts, strict=False):
            row[width - len(prompt) :] = prompt
        logits, states = self._function("prefill", None)(
            self._step_weights(), ops.convert_to_tensor(ids)
        )
        n = len(prompts)
        logits = ops.convert_to_numpy(logits)[:n]
        states = tree.map_structure(lambda s: ops.convert_to_numpy(s)[:n], states)
        return logits, states

    def _run_chunk(self, sampler, batch, warm_up=False):
        size = bucket(len(batch.rows))
        logits, states, temperature = batch.padded(size)
        noise = np.zeros((self.chunk_size, size, self.vocabulary_size), np.float32)
        for i, row in enumerate(batch.rows):
            noise[:, i] = row.noise.draw(self.chunk_size)
        try:
            tokens, logits, states = self._function("chunk", sampler)(
                self._step_weights(),
                ops.convert_to_tensor(logits),
                tree.map_structure(ops.convert_to_tensor, states),
                ops.convert_to_tensor(temperature),
                ops.convert_to_tensor(noise),
            )
            tokens = ops.convert_to_numpy(tokens)
        except Exception:
            _LOG.exception("generation chunk failed")
            for row in batch.rows:
                self._finish(row, "", "error")
            batch.keep([False] * len(batch.rows))
            return
        if warm_up:
            return
        self.chunks_run += 1
        batch.update(
            ops.convert_to_numpy(logits),
            tree.map_structure(ops.convert_to_numpy, states),
        )
        keep = []
        for row, ids in zip(batch.rows, tokens, strict=False):
            piece, finish = row.add_text(self.vectorizer.decode(ids))
            if finish:
                self._finish(row, piece, finish)
            else:
                row.deliver(row, piece, None)
            keep.append(finish is None)
        batch.keep(keep)

    def _drop_cancelled(self, batch):
        keep = [not row.cancelled.is_set() for row in batch.rows]
        if all(keep):
            return
        for row, k in zip(batch.rows, keep, strict=True):
            if not k:
                self._finish(row, "", "cancelled")
        batch.keep(keep)

    def _finish(self, row, piece, reason):
        if reason == "cancelled":
            self.rows_cancelled += 1
        else:
            self.rows_finished += 1
        row.deliver(row, piece, reason)

    # ----------------------------------------------------- compiled functions
    def _step_weights(self):
        if self._weights is None:
            self._weights = self._stateful.step_weights(self.dtype)
        return self._weights

    def _function(self, kind, sampler):
        key = (kind, None if sampler is None else sampler_key(sampler))
        if key in self._functions:
            self._functions.move_to_end(key)
            return self._functions[key]
        fn = self._prefill_fn if kind == "prefill" else self._chunk_fn(sampler)
        self._functions[key] = compiled(fn, self.model.variables)
        # Each distinct filter setting compiles a loop: keep the most recent
        # ones only, so that clients sending ever new values cannot grow memory.
        while len(self._functions) > self.max_compiled + 1:  # + the prefill
            oldest = next(k for k in self._functions if k[0] != "prefill")
            del self._functions[oldest]
        self.compiled_loops = sum(k[0] == "chunk" for k in self._functions)
        return self._functions[key]

    def _prefill_fn(self, weights, prompt_ids):
        return prefill(self._stateful, weights, prompt_ids)

    def _chunk_fn(self, sampler):
        def chunk(weights, logits, states, temperature, noise):
            def body(carry, step_noise):
                logits, states = carry
                ids = pick_ids(sampler, logits, temperature, step_noise)
                logits, states = self._stateful.call_with_state(
                    ids[:, None], states, step_weights=weights
                )
                return (logits[:, 0], states), ids

            (logits, states), ids = scan(body, (logits, states), xs=noise)
            return ops.transpose(ids), logits, states

        return chunk


class _WarmUpRow:
    """A stand-in row for `warm_up`: temperature 1, seed 0."""

    temperature = 1.0

    def __init__(self, vocabulary_size):
        self.noise = RowNoise(0, vocabulary_size)
