"""Training throughput: the tutorial's formulation vs CharLM on every Keras backend.

Side by side in one run, same corpus, same model size (Embedding(256) ->
LSTM(512) -> LSTM(512) -> Dense), same batch size, same optimizer:

(a) the tutorial's formulation, re-implemented here (TensorFlow):
    100-character windows cut every 3 characters, ONE supervised next
    character per window (one-hot target, softmax output, categorical
    cross-entropy), and `recurrent_dropout=0.3`, which forces the slow
    unfused LSTM cell. The 1x anchor.

Then per backend (TensorFlow, JAX, torch), this library: `make_datasets`
windows where every position predicts the next character (100 supervised
characters per window) and `build_char_lstm`'s `CharLM` (input dropout
only):

- its defaults (`use_fused_lstm="auto"`, `training_matmul_dtype="auto"`):
  the fused CPU training loop where the backend has one (TensorFlow, JAX;
  bfloat16 products on TensorFlow on CPUs with bfloat16 units), Keras' own
  LSTM loop elsewhere (torch);
- where the fused loop ran: the same with the other `training_matmul_dtype`
  (float32 / bfloat16 products), and with `use_fused_lstm=False`, Keras'
  own loop: what the fused loop gains.

`fit` runs as a user gets it (XLA on JAX, eager on torch). All CharLM rows
are built by `build_char_lstm` and compiled the same way (a variant is
`CharLM.from_config` of its config with the switch changed, compiled from
its compile config). The `LSTM loop` and `products` columns are read from
each built model (`fused_lstm_active`, `training_matmul_dtype`), so they
say what ran.

The figure that matters is supervised characters per second: how many
next-character predictions the optimizer learns from per second of work.
A Keras process has one backend, so each backend's rows run in a subprocess
of this script (`--backend-worker NAME`, printing JSON), one after another;
the parent prints one table.

Run from the repository root:

    python benchmarks/training.py           # ~6 min on a quiet 2-core CPU, ~10 loaded
    python benchmarks/training.py --quick   # tiny sizes, a smoke test (< 2 min)

It prints a Markdown table with the ratios to (a) (issue 3's target: the
TensorFlow default row >= 50x (a)) and to TensorFlow's Keras loop, then per
backend the fused loop against Keras' own. Earlier figures for plain Keras
LSTM 2x512 training by backend (AMD EPYC, another CPU: compare ratios):
TensorFlow 3,119, JAX 4,533, torch 1,005 supervised chars/s.
"""

import argparse
import sys
import time
from pathlib import Path

import workers
from workers import BACKEND_NAMES, format_number, format_ratio, verdict

# ---- settings ----
UNITS = 512  # the tutorial's 2 x LSTM(512)
EMBEDDING_DIM = 256
SEQUENCE_LENGTH = 100
STEP = 3  # the tutorial cut a window every 3 characters
BATCH_SIZE = 64
WARMUP_STEPS = 3  # traced and discarded
TIMED_STEPS = 15  # batches timed for each method
CORPUS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
)
CHARACTERS = 150_000  # the first 150k characters
WORKER_TIMEOUT = 1800  # seconds per backend worker
TARGET_VS_TUTORIAL = 50  # issue 3: TensorFlow's default row / (a)
# ----


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TIMED_STEPS)
    parser.add_argument("--quick", action="store_true", help="tiny model and counts")
    # Set by the parent process for its workers.
    parser.add_argument(
        "--backend-worker", choices=workers.BACKENDS, help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    args.units, args.embedding_dim, args.characters = UNITS, EMBEDDING_DIM, CHARACTERS
    if args.quick:
        args.units, args.embedding_dim, args.steps, args.characters = 32, 16, 2, 20_000
    return args


# ------------------------------------------------------------------ parent
def main():
    args = parse_args()
    if args.backend_worker:
        workers.emit(worker(args))
        return
    reports = [
        workers.run_worker(__file__, backend, sys.argv[1:], WORKER_TIMEOUT)
        for backend in workers.BACKENDS
    ]
    rows = [row for report in reports for row in report["rows"]]
    print_table(rows)
    print()
    print_summary(rows)
    print()
    report = reports[0]
    print(
        f"Corpus: {report['corpus']}, first {report['characters']:,} characters, "
        f"{report['vocabulary_size']} ids. Model: 2 x LSTM({args.units}), "
        f"embedding {args.embedding_dim}, batch {BATCH_SIZE}, Adam 1e-3, "
        f"{args.steps} timed batches each after {WARMUP_STEPS} warm-up batches."
    )
    print(
        "Workers (wall seconds, import and compilation included): "
        + ", ".join(
            f"{BACKEND_NAMES[r['versions']['backend']]} {r['wall_seconds']:.0f}"
            for r in reports
        )
        + "."
    )
    print(workers.machine_line(reports))


def label_rows(rows):
    """Adds `label` ("(a)", "(b)", ...), the rates and the ratios to each row."""
    for index, row in enumerate(rows):
        row["label"] = f"({chr(ord('a') + index)})"
        row["rate"] = row["per_batch"] * row["steps"] / row["seconds"]
    tutorial = rows[0]["rate"]
    keras_loop = keras_loop_row(rows, "TensorFlow")["rate"]
    for row in rows:
        row["vs_tutorial"] = row["rate"] / tutorial
        row["vs_keras_tensorflow"] = row["rate"] / keras_loop
    return rows


def keras_loop_row(rows, backend):
    """The backend's CharLM row that trained with Keras' own LSTM loop."""
    return next(
        r
        for r in rows
        if r["kind"] != "tutorial" and r["backend"] == backend and r["loop"] == "Keras"
    )


def print_table(rows):
    label_rows(rows)
    print(
        "| row | method | backend | LSTM loop | products | supervised chars / batch "
        "| seconds per batch | supervised chars/s | vs (a) | vs TensorFlow Keras loop |"
    )
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['label']} | {row['method']} | {row['backend']} | {row['loop']} "
            f"| {row['products']} | {row['per_batch']:,} "
            f"| {format_number(row['seconds'] / row['steps'])} "
            f"| {format_number(row['rate'])} | {format_ratio(row['vs_tutorial'])} "
            f"| {format_ratio(row['vs_keras_tensorflow'])} |"
        )


def print_summary(rows):
    defaults = {r["backend"]: r for r in rows if r["kind"] == "default"}
    tensorflow = defaults["TensorFlow"]
    print(
        f"- Issue 3, {tensorflow['label']} TensorFlow's defaults / (a): "
        f"{verdict(tensorflow['vs_tutorial'], TARGET_VS_TUTORIAL)}."
    )
    for backend, default in defaults.items():
        keras_loop = keras_loop_row(rows, backend)
        fused = [r for r in rows if r["backend"] == backend and r["loop"] == "fused"]
        gains = ", ".join(
            f"{r['label']} {r['products']} products "
            f"{format_ratio(r['rate'] / keras_loop['rate'])}"
            for r in fused
        )
        if fused:
            print(
                f"- {backend}, fused loop against Keras' own "
                f"{keras_loop['label']}: {gains}."
            )
        if default is tensorflow:
            continue
        print(
            f"- {backend} defaults {default['label']}: "
            f"{format_ratio(default['rate'] / tensorflow['rate'])} TensorFlow's "
            f"defaults {tensorflow['label']}."
        )


# ------------------------------------------------------------------ worker
def worker(args):
    """Measures this backend's rows; returns a report."""
    import keras

    import keras_chargen

    backend = keras.backend.backend()
    keras.utils.set_random_seed(0)
    text, corpus = load_text(args.characters)
    vectorizer = keras_chargen.CharVectorizer()
    vectorizer.adapt(text)
    vocabulary_size = vectorizer.vocabulary_size()
    rows = []
    if backend == "tensorflow":
        model = tutorial_model(vocabulary_size, args.units, args.embedding_dim)
        data = tutorial_dataset(vectorizer.encode(text), vocabulary_size)
        seconds = timed_fit(model, data, args.steps)
        rows.append(
            row("tutorial", "tutorial: many-to-one, step 3, `recurrent_dropout=0.3`",
                "Keras", "float32", BATCH_SIZE, args.steps, seconds)
        )  # fmt: skip
    train_ds, _ = keras_chargen.make_datasets(
        text, vectorizer, SEQUENCE_LENGTH, BATCH_SIZE, validation_split=0.1, seed=0
    )
    default = char_lm(vectorizer, args.units, args.embedding_dim)
    variants = [("default", "`CharLM`, many-to-many windows, defaults", default)]
    if default.fused_lstm_active:
        other = {"bfloat16": "float32", "float32": "bfloat16"}[
            default.training_matmul_dtype
        ]
        variants += [
            ("products", f'as the defaults, `training_matmul_dtype="{other}"`',
             variant(default, training_matmul_dtype=other)),
            ("keras_loop", "as the defaults, `use_fused_lstm=False`",
             variant(default, use_fused_lstm=False, training_matmul_dtype="auto")),
        ]  # fmt: skip
    for kind, method, model in variants:
        seconds = timed_fit(model, train_ds.repeat(), args.steps)
        loop = "fused" if model.fused_lstm_active else "Keras"
        rows.append(
            row(kind, method, loop, model.training_matmul_dtype,
                BATCH_SIZE * SEQUENCE_LENGTH, args.steps, seconds)
        )  # fmt: skip
    return {
        "versions": workers.worker_versions(),
        "rows": rows,
        "corpus": corpus,
        "characters": len(text),
        "vocabulary_size": vocabulary_size,
    }


def row(kind, method, loop, products, per_batch, steps, seconds):
    import keras

    backend = BACKEND_NAMES[keras.backend.backend()]
    return dict(
        kind=kind, method=method, backend=backend, loop=loop, products=products,
        per_batch=per_batch, steps=steps, seconds=seconds,
    )  # fmt: skip


def load_text(characters):
    import keras_chargen

    if CORPUS.exists():
        return CORPUS.read_text(encoding="utf-8")[:characters], "tiny-shakespeare"
    return keras_chargen.load_corpus("pydoc")[:characters], "pydoc (embedded)"


def char_lm(vectorizer, units, embedding_dim):
    """`build_char_lstm`'s compiled CharLM of the benchmark's size."""
    import keras_chargen

    return keras_chargen.build_char_lstm(
        vectorizer=vectorizer, lstm_units=units, embedding_dim=embedding_dim,
        num_layers=2, learning_rate=1e-3,
    )  # fmt: skip


def variant(model, **switches):
    """`model` rebuilt with `switches` (fresh weights), compiled the same way."""
    import keras_chargen

    copy = keras_chargen.CharLM.from_config({**model.get_config(), **switches})
    copy.compile_from_config(model.get_compile_config())
    return copy


def tutorial_model(vocabulary_size, units, embedding_dim):
    import keras

    model = keras.Sequential([
        keras.Input((SEQUENCE_LENGTH,), dtype="int32"),
        keras.layers.Embedding(vocabulary_size, embedding_dim),
        keras.layers.LSTM(units, return_sequences=True, recurrent_dropout=0.3),
        keras.layers.LSTM(units, recurrent_dropout=0.3),
        keras.layers.Dense(vocabulary_size, activation="softmax"),
    ])  # fmt: skip
    model.compile(keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    return model


def tutorial_dataset(ids, vocabulary_size):
    import keras
    import numpy as np
    import tensorflow as tf

    starts = np.arange(0, len(ids) - SEQUENCE_LENGTH, STEP)
    x = np.stack([ids[s : s + SEQUENCE_LENGTH] for s in starts])
    y = keras.utils.to_categorical(ids[starts + SEQUENCE_LENGTH], vocabulary_size)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0)
    return dataset.batch(BATCH_SIZE, drop_remainder=True).repeat().prefetch(2)


def timed_fit(model, dataset, steps):
    """Seconds `steps` batches of `model.fit` take after `WARMUP_STEPS` ones."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        # Not async-safe, so Keras hands it materialised logs: every batch
        # has finished computing when its end is timed (JAX included).
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == WARMUP_STEPS:
                self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start

    timer = StepTimer()
    model.fit(
        dataset, epochs=1, steps_per_epoch=WARMUP_STEPS + steps, callbacks=[timer],
        verbose=0,
    )  # fmt: skip
    return timer.seconds


if __name__ == "__main__":
    main()
