"""Training throughput: the tutorial's formulation vs this library's pipeline.

Side by side in one run, same corpus, same model size (Embedding(256) ->
LSTM(512) -> LSTM(512) -> Dense), same batch size, same optimizer:

(a) the tutorial's formulation, re-implemented here: 100-character windows
    cut every 3 characters, ONE supervised next character per window
    (one-hot target, softmax output, categorical cross-entropy), and
    `recurrent_dropout=0.3`, which forces the slow unfused LSTM cell.
(b) this library: `make_datasets` windows where every position predicts the
    next character (100 supervised characters per window) and
    `build_char_lstm` (input dropout only, fused kernels stay usable), whose
    LSTM layers run the fused CPU loop with bfloat16 matrix products on CPUs
    that have bfloat16 units (float32 elsewhere).
(c) as (b) with float32 products in the fused loop.
(d) as (b) with `keras.layers.LSTM`'s own loop: what the fused loop gains.

The figure that matters is supervised characters per second: how many
next-character predictions the optimizer learns from per second of work.

Run from the repository root:

    python benchmarks/training.py           # ~4 minutes on a 2-core CPU
    python benchmarks/training.py --quick   # tiny sizes, a smoke test

It prints a Markdown table, the ratios to (a) (issue 3's target: (b)/(a) >=
50x) and (b)/(d).
"""

import argparse
import datetime
import os
import platform
import time
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

import keras_chargen
from keras_chargen.backend import tensorflow as fused_lstm
from keras_chargen.models import char_lm

# ---- settings ----
UNITS = 512  # the tutorial's 2 x LSTM(512)
EMBEDDING_DIM = 256
SEQUENCE_LENGTH = 100
STEP = 3  # the tutorial cut a window every 3 characters
BATCH_SIZE = 64
WARMUP_STEPS = 3  # traced and discarded
TIMED_STEPS = 15  # batches timed for each method
CORPUS = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "corpora"
    / "tinyshakespeare.txt"
)
CHARACTERS = 150_000  # the first 150k characters
# ----


def load_text(characters):
    if CORPUS.exists():
        return CORPUS.read_text(encoding="utf-8")[:characters], "tiny-shakespeare"
    return keras_chargen.load_corpus("pydoc")[:characters], "pydoc (embedded)"


def tutorial_model(vocabulary_size, units, embedding_dim):
    model = keras.Sequential([
        keras.Input((SEQUENCE_LENGTH,), dtype="int32"),
        keras.layers.Embedding(vocabulary_size, embedding_dim),
        keras.layers.LSTM(units, return_sequences=True, recurrent_dropout=0.3),
        keras.layers.LSTM(units, recurrent_dropout=0.3),
        keras.layers.Dense(vocabulary_size, activation="softmax"),
    ])  # fmt: skip
    model.compile(keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    return model


def tutorial_dataset(ids, vocabulary_size, batch_size):
    starts = np.arange(0, len(ids) - SEQUENCE_LENGTH, STEP)
    x = np.stack([ids[s : s + SEQUENCE_LENGTH] for s in starts])
    y = keras.utils.to_categorical(ids[starts + SEQUENCE_LENGTH], vocabulary_size)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0)
    return dataset.batch(batch_size, drop_remainder=True).repeat().prefetch(2)


class StepTimer(keras.callbacks.Callback):
    """Wall time of the batches after the warm-up ones."""

    def __init__(self, warmup):
        super().__init__()
        self.warmup = warmup
        self.start = None
        self.seconds = None

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.warmup:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


def supervised_chars_per_second(model, dataset, per_batch, warmup, steps):
    timer = StepTimer(warmup)
    model.fit(
        dataset, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0
    )
    return per_batch * steps / timer.seconds, timer.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TIMED_STEPS)
    parser.add_argument("--quick", action="store_true", help="tiny model and counts")
    args = parser.parse_args()
    units, embedding_dim, steps = UNITS, EMBEDDING_DIM, args.steps
    if args.quick:
        units, embedding_dim, steps = 32, 16, 2
    keras.utils.set_random_seed(0)
    text, name = load_text(CHARACTERS)
    vectorizer = keras_chargen.CharVectorizer()
    vectorizer.adapt(text)
    vocabulary_size = vectorizer.vocabulary_size()
    ids = vectorizer.encode(text)

    model_a = tutorial_model(vocabulary_size, units, embedding_dim)
    data_a = tutorial_dataset(ids, vocabulary_size, BATCH_SIZE)
    rate_a, seconds_a = supervised_chars_per_second(
        model_a, data_a, BATCH_SIZE, WARMUP_STEPS, steps
    )

    train_ds, _ = keras_chargen.make_datasets(
        text, vectorizer, SEQUENCE_LENGTH, BATCH_SIZE, validation_split=0.1, seed=0
    )
    per_batch = BATCH_SIZE * SEQUENCE_LENGTH
    rows = []
    for label in ("b", "c", "d"):
        # (d) builds the same CharLM, compiled the same way, with Keras' LSTM.
        cells = {"lstm": keras.layers.LSTM} if label == "d" else {}
        with mock.patch.dict(char_lm._CELLS, cells):
            model = keras_chargen.build_char_lstm(
                vectorizer=vectorizer, lstm_units=units, embedding_dim=embedding_dim,
                num_layers=2, learning_rate=1e-3,
            )  # fmt: skip
        if label == "c":
            for layer in model.layers:
                if isinstance(layer, fused_lstm.LSTM):
                    layer.training_matmul_dtype = "float32"
        rate, seconds = supervised_chars_per_second(
            model, train_ds.repeat(), per_batch, WARMUP_STEPS, steps
        )
        rows.append((label, rate, seconds))

    products = "bfloat16" if fused_lstm._cpu_has_bfloat16_units() else "float32"
    names = {
        "b": f"keras_chargen: many-to-many windows, fused LSTM loop ({products} products)",
        "c": "as (b), float32 products",
        "d": "as (b), keras.layers.LSTM's own loop",
    }
    print(
        "| method | supervised chars / batch | seconds per batch | supervised chars/s | ratio |"
    )
    print("|---|---:|---:|---:|---:|")
    print(f"| (a) tutorial: many-to-one, step 3, recurrent_dropout=0.3 | {BATCH_SIZE} "
          f"| {seconds_a / steps:.3f} | {rate_a:,.0f} | 1x |")  # fmt: skip
    for label, rate, seconds in rows:
        print(f"| ({label}) {names[label]} | {per_batch:,} "
              f"| {seconds / steps:.3f} | {rate:,.0f} | {rate / rate_a:,.0f}x |")  # fmt: skip
    rate_b, rate_d = rows[0][1], rows[2][1]
    print(f"\nFused loop against Keras' own: (b)/(d) = {rate_b / rate_d:.2f}x")
    print()
    print(
        f"Corpus: {name}, first {len(text):,} characters, {vocabulary_size} ids. "
        f"Model: 2 x LSTM({units}), embedding {embedding_dim}, batch {BATCH_SIZE}, "
        f"{steps} timed batches each after {WARMUP_STEPS} warm-up batches."
    )
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}, "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}."
    )


if __name__ == "__main__":
    main()
