"""Generation speed: the tutorial's loops vs TextGenerator on every Keras backend.

Measures characters per second, side by side in one run, on the same randomly
initialised model of the tutorial's size (Embedding(256) -> LSTM(512) ->
LSTM(512) -> Dense over tiny-shakespeare's 65 characters, plus the 2
reserved ids). Speed does not depend on the weights, so nothing is trained:
the TensorFlow worker builds the model and saves its weights to a temporary
`.weights.h5` file, and every other worker loads them (a check compares the
prompt's logits across backends).

Two anchors, both on TensorFlow, both what a user would otherwise copy from
the TensorFlow tutorial "Text generation with an RNN":

(a) the per-character `model.predict` loop: keep a 100-character window of
    ids; for each new character call `model.predict(window[None])`, sample
    from the last position's logits with a temperature, append, slide. The
    1x anchor.
(b, c) the tutorial's `OneStep`: a `tf.function` step that calls
    `Embedding -> LSTM(return_state=True) x 2 -> Dense` with the states
    passed in and out, samples with `tf.random.categorical` at the same
    temperature (reserved ids masked, as the tutorial masks `[UNK]`), and a
    Python loop calling it once per character; the first call takes the
    whole prompt (the 100-character prompt in every row: like the
    tutorial's model, this one has no padding mask). Same weights, copied
    from the CharLM. Ids in and out (the tutorial converts strings inside
    the step: a little slower, so this anchor is, if anything, fast). At
    batch 1 and batch `--batch`.

Then per backend (TensorFlow: `tf.function`, JAX: `jax.jit`, torch:
`no_grad`), `keras_chargen.TextGenerator`: the prompt runs through the
network once, then one recurrent step per character in a compiled loop, at
batch 1 (float32) and batch `--batch` (float32, and bfloat16 matrix
products: the `matmuls` column says which, and a line under the table
whether bfloat16 helped on each backend; CPUs without AMX or AVX512-BF16
emulate it; states and the output layer stay float32).

A Keras process has one backend, so each backend's rows run in a subprocess
of this script (`--backend-worker NAME`, printing JSON), one after another;
the parent prints one table. Each method is timed twice after a warm-up
call (of the same length where the loop compiles per length) and the
faster run is kept, so a burst of load from
another process counts against no method. Every timed call includes its
prompt (TextGenerator's batch: 61-100 characters, left-padded to 100).

Run from the repository root:

    python benchmarks/generation.py            # ~5 min on a quiet 2-core CPU, ~15 loaded
    python benchmarks/generation.py --quick    # tiny sizes, a smoke test (< 2 min)

`--decoding` measures the decoding options instead (issue 14), in this
process, on the backend KERAS_BACKEND names (TensorFlow by default), on the
same model: each sampler and each logit processor (with the baseline
sampler) at batch `--batch`, chars/s relative to plain temperature sampling
(`TemperatureSampler(0.8)`) in the same run; and beam search with
`--beams` beams on one prompt against one batch-`--beams` stream of that
sampler: both run `--beams` rows per step, so the ratio of their steps per
second is what beam search's top-k and state gathers cost. Targets: every
processor >= 0.85x, beam search >= 0.5x.

    python benchmarks/generation.py --decoding          # ~5 min on 2 cores
    python benchmarks/generation.py --decoding --quick  # smoke test

It prints a Markdown table (chars/s, the ratio to (a) and to OneStep at the
same batch size), the CPU (model name, AMX, AVX512-BF16) and the redesign
issue's targets with the measured values next to them: on the fastest
backend batch 1 >= 1000x (a) and >= 8x OneStep; batch 64 >= 2x OneStep;
TensorFlow not below the previous figures. The previous TensorFlow figures
(keras_chargen 0.1.0's TextGenerator) were 4,220 chars/s at batch 1 and
19,963 chars/s at batch 64 on an AMD EPYC: another CPU, so only ratios
measured in one run compare.
"""

import argparse
import string
import sys
import tempfile
from pathlib import Path

import workers
from workers import BACKEND_NAMES, format_number, format_ratio, verdict

# ---- settings (most have a command-line flag; see --help) ----
UNITS = 512  # units per LSTM layer (the tutorial's 2 x 512)
NUM_LAYERS = 2
EMBEDDING_DIM = 256
WINDOW = 100  # characters the tutorial feeds to every predict call
TEMPERATURE = 0.8  # sampling temperature, same for every method
TUTORIAL_CHARS = 40  # characters timed for (a): it runs at ~2-7 chars/s
CHARS = 1000  # characters timed at batch 1 (OneStep and TextGenerator)
BATCH = 64  # prompts generated together
BATCH_CHARS = 1000  # characters per prompt at batch `BATCH`
SEED = 0
BEAMS = 8  # beams of the --decoding beam-search row
DECODING_CHARS = 300  # characters per prompt in the --decoding rows
WORKER_TIMEOUT = 1800  # seconds per backend worker
# ----

# tiny-shakespeare's 65 characters, and a public-domain passage as the prompt.
VOCABULARY = "\n !$&',-.3:;?" + string.ascii_uppercase + string.ascii_lowercase
PROMPT = (
    "Now is the winter of our discontent\n"
    "Made glorious summer by this sun of York;\n"
    "And all the clouds that lour'd upon our house\n"
    "In the deep bosom of the ocean buried.\n"
)[:WINDOW]
TARGETS = {"batch1_vs_predict": 1000, "batch1_vs_onestep": 8, "batch_vs_onestep": 2}
PREVIOUS_TENSORFLOW = "4,220 chars/s at batch 1 and 19,963 at batch 64 (AMD EPYC)"


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1. Received: {text}")
    return value


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorial-chars", type=positive_int, default=TUTORIAL_CHARS)
    parser.add_argument("--chars", type=positive_int, default=CHARS)
    parser.add_argument("--batch", type=positive_int, default=BATCH)
    parser.add_argument("--batch-chars", type=positive_int, default=BATCH_CHARS)
    parser.add_argument("--units", type=positive_int, default=UNITS)
    parser.add_argument("--embedding-dim", type=positive_int, default=EMBEDDING_DIM)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--quick", action="store_true", help="tiny model and counts (smoke test)"
    )
    parser.add_argument(
        "--decoding",
        action="store_true",
        help="time each sampler, logit processor and beam search instead",
    )
    parser.add_argument("--beams", type=positive_int, default=BEAMS)
    # Set by the parent process for its workers.
    parser.add_argument(
        "--backend-worker", choices=workers.BACKENDS, help=argparse.SUPPRESS
    )
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.decoding_chars = DECODING_CHARS
    if args.quick:
        args.tutorial_chars, args.chars, args.batch, args.batch_chars = 3, 50, 4, 20
        args.units, args.embedding_dim = 32, 16
        args.decoding_chars = 20
    return args


# ------------------------------------------------------------------ parent
def main():
    args = parse_args()
    if args.backend_worker:
        workers.emit(worker(args))
        return
    if args.decoding:
        decoding_benchmark(args)
        return
    with tempfile.TemporaryDirectory() as directory:
        weights = str(Path(directory) / "model.weights.h5")
        # TensorFlow first: its worker writes the weights the others load.
        reports = [
            workers.run_worker(
                __file__, backend, [*sys.argv[1:], "--weights", weights],
                WORKER_TIMEOUT,
            )
            for backend in workers.BACKENDS
        ]  # fmt: skip
    rows = [row for report in reports for row in report["rows"]]
    print_table(rows)
    print()
    print_targets(rows)
    print()
    model = reports[0]["model"]
    spread = max(
        max(
            abs(a - b)
            for a, b in zip(r["model"]["logits"], model["logits"], strict=True)
        )
        for r in reports
    )
    print(
        f"Model: {NUM_LAYERS} x LSTM({args.units}), embedding {args.embedding_dim}, "
        f"vocabulary {model['vocabulary_size']} ids, {model['parameters']:,} "
        f"parameters, the same weights in every worker (prompt logits agree "
        f"within {spread:.1e}); temperature {TEMPERATURE}; batch 1: "
        f"{args.chars:,} characters after a {len(PROMPT)}-character prompt, "
        f"batch {args.batch}: {args.batch_chars:,} per prompt."
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
    """Adds `label` ("(a)", "(b)", ...) and the rates and ratios to each row."""
    for index, row in enumerate(rows):
        row["label"] = f"({chr(ord('a') + index)})"
        row["rate"] = row["chars"] / row["seconds"]
    predict = next(r for r in rows if r["kind"] == "predict")
    onestep = {r["batch"]: r for r in rows if r["kind"] == "onestep"}
    for row in rows:
        row["vs_predict"] = row["rate"] / predict["rate"]
        row["vs_onestep"] = row["rate"] / onestep[row["batch"]]["rate"]
    return rows


def print_table(rows):
    label_rows(rows)
    print(
        "| row | method | backend | batch | matmuls | characters | seconds "
        "| chars/s | vs (a) predict | vs OneStep |"
    )
    print("|---|---|---|---:|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['label']} | {row['method']} | {row['backend']} | {row['batch']} "
            f"| {row['dtype']} | {row['chars']:,} | {format_number(row['seconds'])} "
            f"| {format_number(row['rate'])} | {format_ratio(row['vs_predict'])} "
            f"| {format_ratio(row['vs_onestep'])} |"
        )


def print_targets(rows):
    generator = [r for r in rows if r["kind"] == "generator"]
    single = max((r for r in generator if r["batch"] == 1), key=lambda r: r["rate"])
    batch = max(generator, key=lambda r: (r["batch"], r["rate"]))
    print("Targets (redesign issue):")
    print(
        f"- batch 1, fastest backend {single['label']} {single['backend']} "
        f"{format_number(single['rate'])} chars/s: "
        f"{verdict(single['vs_predict'], TARGETS['batch1_vs_predict'])} the "
        f"predict loop; {verdict(single['vs_onestep'], TARGETS['batch1_vs_onestep'])} "
        "OneStep."
    )
    print(
        f"- batch {batch['batch']}, fastest {batch['label']} {batch['backend']} "
        f"{batch['dtype']} {format_number(batch['rate'])} chars/s: "
        f"{verdict(batch['vs_onestep'], TARGETS['batch_vs_onestep'])} OneStep."
    )
    tensorflow = [r for r in generator if r["backend"] == "TensorFlow"]
    figures = "; ".join(
        f"batch {r['batch']} {r['dtype']} {format_number(r['rate'])} chars/s "
        f"({format_ratio(r['vs_predict'])} (a), {format_ratio(r['vs_onestep'])} OneStep)"
        for r in tensorflow
    )
    print(
        f"- TensorFlow not below the previous figures: now {figures}. Previous: "
        f"{PREVIOUS_TENSORFLOW}, another CPU: compare ratios, not chars/s."
    )
    for backend in dict.fromkeys(r["backend"] for r in generator):
        pair = {
            r["dtype"]: r["rate"]
            for r in generator
            if r["backend"] == backend and r["batch"] == batch["batch"]
        }
        if len(pair) == 2:
            gain = pair["bfloat16"] / pair["float32"]
            helps = "helps" if gain > 1 else "does not help"
            print(
                f"- bfloat16 at batch {batch['batch']}, {backend}: "
                f"{format_ratio(gain)} float32 ({helps})."
            )


# ------------------------------------------------------------------ worker
def worker(args):
    """Builds or loads the model, measures this backend's rows, returns a report."""
    import keras
    import numpy as np

    import keras_chargen

    backend = keras.backend.backend()
    keras.utils.set_random_seed(args.seed)
    vectorizer = keras_chargen.CharVectorizer(vocabulary=VOCABULARY)
    model = keras_chargen.CharLM(
        vectorizer,
        embedding_dim=args.embedding_dim,
        units=args.units,
        num_layers=NUM_LAYERS,
    )
    if backend == "tensorflow":
        model.save_weights(args.weights)
    else:
        model.load_weights(args.weights)
    prompt_ids = vectorizer.encode(PROMPT)[None]
    logits = keras.ops.convert_to_numpy(model(prompt_ids))[0, -1]

    # Different lengths, as a real batch of prompts has.
    prompts = [PROMPT[i % 40 :] for i in range(args.batch)]
    rows = []
    if backend == "tensorflow":
        rows += tutorial_rows(args, model, vectorizer)
    sampler = keras_chargen.TemperatureSampler(TEMPERATURE, seed=args.seed)
    runs = [(1, "float32"), (args.batch, "float32"), (args.batch, "bfloat16")]
    for batch, dtype in runs:
        generator = keras_chargen.TextGenerator(model, dtype=dtype)
        inputs = PROMPT if batch == 1 else prompts
        length = args.chars if batch == 1 else args.batch_chars
        # Warm-up: TensorFlow and JAX compile the loop per length; torch runs
        # it eagerly, so a short call does.
        warmup = min(length, 10) if backend == "torch" else length
        generator.generate(inputs, warmup, sampler=sampler)
        seconds = workers.timed(generator.generate, inputs, length, sampler)
        rows.append(
            row("generator", "`TextGenerator`", batch, dtype, batch * length, seconds)
        )
    return {
        "versions": workers.worker_versions(),
        "rows": rows,
        "model": {
            "parameters": model.count_params(),
            "vocabulary_size": vectorizer.vocabulary_size(),
            "logits": [float(x) for x in np.asarray(logits, "float64")],
        },
    }


def row(kind, method, batch, dtype, chars, seconds):
    import keras

    backend = BACKEND_NAMES[keras.backend.backend()]
    return dict(
        kind=kind, method=method, backend=backend, batch=batch, dtype=dtype,
        chars=chars, seconds=seconds,
    )  # fmt: skip


def tutorial_rows(args, model, vectorizer):
    """(a) the predict loop and (b, c) OneStep at batch 1 and `args.batch`."""
    import numpy as np

    rng = np.random.default_rng(args.seed)
    predict_loop(model, vectorizer, PROMPT, 1, rng)  # builds predict's function
    seconds = workers.timed(
        predict_loop, model, vectorizer, PROMPT, args.tutorial_chars, rng
    )
    rows = [
        row("predict", "tutorial loop: `model.predict` on the 100-char window per char",
            1, "float32", args.tutorial_chars, seconds),
    ]  # fmt: skip
    one_step = OneStep(tutorial_model(model), TEMPERATURE, model.vocabulary_size)
    for batch, length in ((1, args.chars), (args.batch, args.batch_chars)):
        # The whole prompt in every row, as the tutorial's batch example has
        # it: OneStep has no padding mask. Its prompt call runs as many steps
        # as TextGenerator's left-padded batch.
        ids = np.repeat(vectorizer.encode(PROMPT)[None], batch, axis=0)
        check_same_logits(model, one_step.model, ids)
        one_step_loop(one_step, ids, length)  # traces both call shapes
        seconds = workers.timed(one_step_loop, one_step, ids, length)
        rows.append(
            row("onestep", "tutorial `OneStep`: `tf.function` step, states in and out",
                batch, "float32", batch * length, seconds)
        )  # fmt: skip
    return rows


def predict_loop(model, vectorizer, prompt, length, rng):
    """The tutorial's generation: the whole window through `predict` per char."""
    import numpy as np

    window = list(vectorizer.encode(prompt)[-WINDOW:])
    generated = []
    for _ in range(length):
        logits = model.predict(np.array([window]), verbose=0)[0, -1]
        scaled = logits[2:].astype("float64") / TEMPERATURE  # ids 0, 1 reserved
        probabilities = np.exp(scaled - scaled.max())
        probabilities /= probabilities.sum()
        next_id = 2 + rng.choice(len(probabilities), p=probabilities)
        generated.append(next_id)
        window = window[1:] + [next_id]
    return vectorizer.decode(generated)


def tutorial_model(char_lm):
    """The tutorial's `MyModel` with two LSTMs, holding `char_lm`'s weights."""
    import keras
    import numpy as np

    class MyModel(keras.Model):
        def __init__(self, vocab_size, embedding_dim, rnn_units):
            super().__init__()
            self.embedding = keras.layers.Embedding(vocab_size, embedding_dim)
            self.lstm_0 = keras.layers.LSTM(
                rnn_units, return_sequences=True, return_state=True
            )
            self.lstm_1 = keras.layers.LSTM(
                rnn_units, return_sequences=True, return_state=True
            )
            self.dense = keras.layers.Dense(vocab_size)

        def call(self, inputs, states=None, return_state=False, training=False):
            x = self.embedding(inputs, training=training)
            states = states or [None, None]
            x, *state_0 = self.lstm_0(x, initial_state=states[0], training=training)
            x, *state_1 = self.lstm_1(x, initial_state=states[1], training=training)
            x = self.dense(x, training=training)
            return (x, [state_0, state_1]) if return_state else x

    copy = MyModel(char_lm.vocabulary_size, char_lm.embedding_dim, char_lm.units)
    copy(np.ones((1, 2), "int32"))
    pairs = [("embedding", copy.embedding), ("lstm_0", copy.lstm_0),
             ("lstm_1", copy.lstm_1), ("logits", copy.dense)]  # fmt: skip
    for name, layer in pairs:
        layer.set_weights(char_lm.get_layer(name).get_weights())
    return copy


class OneStep:
    """The tutorial's `OneStep`, with ids in and out instead of strings."""

    def __init__(self, model, temperature, vocabulary_size):
        import numpy as np
        import tensorflow as tf

        self.model = model
        self.temperature = temperature
        mask = np.zeros(vocabulary_size, "float32")
        mask[[0, 1]] = -np.inf  # reserved ids, as the tutorial masks "[UNK]"
        self.prediction_mask = tf.constant(mask)
        self.generate_one_step = tf.function(self._generate_one_step)

    def _generate_one_step(self, input_ids, states=None):
        import tensorflow as tf

        predicted_logits, states = self.model(
            input_ids, states=states, return_state=True
        )
        predicted_logits = predicted_logits[:, -1, :] / self.temperature
        predicted_logits = predicted_logits + self.prediction_mask
        predicted_ids = tf.random.categorical(predicted_logits, num_samples=1)
        return tf.cast(tf.squeeze(predicted_ids, axis=-1), "int32"), states


def one_step_loop(one_step, prompt_ids, length):
    """The tutorial's loop: one `generate_one_step` call per character."""
    import numpy as np

    next_ids, states = one_step.generate_one_step(prompt_ids)
    result = [next_ids]
    for _ in range(length - 1):
        next_ids, states = one_step.generate_one_step(next_ids[:, None], states=states)
        result.append(next_ids)
    return np.stack([ids.numpy() for ids in result], axis=1)


def check_same_logits(char_lm, copy, ids):
    """The OneStep model must compute what the CharLM computes."""
    import numpy as np

    expected = np.asarray(char_lm(ids))[:, -1]
    got = np.asarray(copy(ids))[:, -1]
    if not np.allclose(expected, got, atol=1e-4):
        raise RuntimeError(
            "The OneStep model's logits must match the CharLM's. Received a "
            f"max difference of {np.abs(expected - got).max():.2e}"
        )


# ---------------------------------------------------------------- decoding
DECODING_TARGETS = {"processor": 0.85, "beam": 0.5}


def decoding_benchmark(args):
    """Samplers, processors and beam search, relative to temperature sampling."""
    import keras

    import keras_chargen
    from keras_chargen import samplers

    keras.utils.set_random_seed(args.seed)
    vectorizer = keras_chargen.CharVectorizer(vocabulary=VOCABULARY)
    model = keras_chargen.CharLM(
        vectorizer,
        embedding_dim=args.embedding_dim,
        units=args.units,
        num_layers=NUM_LAYERS,
    )
    generator = keras_chargen.TextGenerator(model)
    baseline = samplers.TemperatureSampler(TEMPERATURE, seed=args.seed)
    rows = [("sampler", "`TemperatureSampler(0.8)` (baseline)", baseline, [])]
    rows += [
        ("sampler", f"`{type(s).__name__}`", s, [])
        for s in [
            samplers.GreedySampler(),
            samplers.RandomSampler(TEMPERATURE, seed=args.seed),
            samplers.TopKSampler(k=10, temperature=TEMPERATURE, seed=args.seed),
            samplers.TopPSampler(p=0.9, temperature=TEMPERATURE, seed=args.seed),
            samplers.MinPSampler(0.05, temperature=TEMPERATURE, seed=args.seed),
            samplers.TypicalSampler(0.9, temperature=TEMPERATURE, seed=args.seed),
        ]
    ]
    processors = [
        samplers.RepetitionPenalty(1.2, window=64),
        samplers.FrequencyPenalty(0.3, 0.3, window=64),
        samplers.NoRepeatNGram(8, window=128),
        samplers.BannedStrings(["&", "the the", "ROMEO"]),
        samplers.TemperatureSchedule(1.2, 0.7, steps=100),
    ]
    rows += [("processor", f"`{type(p).__name__}`", baseline, [p]) for p in processors]
    rows.append(("all", "all five processors together", baseline, processors))
    prompts = [PROMPT[i % 40 :] for i in range(args.batch)]
    length = args.decoding_chars
    measured = []

    def run(sampler, chain):
        return lambda: generator.generate(
            prompts, length, sampler=sampler, processors=chain
        )

    run(baseline, [])()  # compiles the baseline's loop
    for kind, name, sampler, chain in rows:
        run(sampler, chain)()  # compiles this row's loop
        # The baseline is timed again right before each row, and the ratio
        # taken to that neighbour, so that a burst of load from other work
        # on the machine moves both sides of a ratio alike.
        reference = workers.timed(run(baseline, []))
        seconds = workers.timed(run(sampler, chain))
        measured.append(
            (kind, name, args.batch, args.batch * length, seconds, reference)
        )
    # Beam search: `beams` rows per step for one prompt, against a batch of
    # `beams` prompts sampled with the baseline.
    stream_prompts = prompts[: args.beams]
    beam = samplers.BeamSampler(num_beams=args.beams)
    for kind, name, inputs, sampler in (
        ("stream", f"`TemperatureSampler(0.8)`, one batch-{args.beams} stream",
         stream_prompts, baseline),
        ("beam", f"`BeamSampler(num_beams={args.beams})`, one prompt",
         PROMPT, beam),
    ):  # fmt: skip
        generator.generate(inputs, length, sampler=sampler)
        seconds = workers.timed(generator.generate, inputs, length, sampler)
        measured.append((kind, name, args.beams, args.beams * length, seconds, None))
    # Beam search against the batch-`beams` stream timed right before it.
    measured[-1] = (*measured[-1][:5], measured[-2][4])
    print_decoding_table(measured)
    print()
    print_decoding_targets(measured)
    print()
    print(
        f"Model: {NUM_LAYERS} x LSTM({args.units}), embedding {args.embedding_dim}, "
        f"vocabulary {vectorizer.vocabulary_size()} ids; backend "
        f"{BACKEND_NAMES[keras.backend.backend()]}, float32; {length:,} characters "
        "per prompt after a 61-100-character prompt; each row timed twice after "
        "a warm-up call, the faster run kept. Rows per step: the batch, or the "
        "beams; beam search's `characters` counts rows x steps."
    )
    print(workers.machine_line([{"versions": workers.worker_versions()}]))


def decoding_ratio(row):
    """Speed relative to the reference timed next to it (same rows per step)."""
    kind, _, _, _, seconds, reference = row
    return 1.0 if reference is None else reference / seconds


def print_decoding_table(measured):
    print(
        "| kind | method | rows per step | characters | seconds | chars/s "
        "| reference seconds | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in measured:
        kind, name, rows, chars, seconds, reference = row
        shown = "-" if reference is None else format_number(reference)
        print(
            f"| {kind} | {name} | {rows} | {chars:,} | {format_number(seconds)} "
            f"| {format_number(chars / seconds)} | {shown} "
            f"| {format_ratio(decoding_ratio(row))} |"
        )


def print_decoding_targets(measured):
    print("Targets (issue 14); each ratio to the reference timed next to it:")
    for row in measured:
        if row[0] in ("processor", "all"):
            target = DECODING_TARGETS["processor"]
            print(
                f"- {row[1]}: {verdict(decoding_ratio(row), target)} temperature sampling."
            )
    beam = next(m for m in measured if m[0] == "beam")
    print(
        f"- {beam[1]}: {verdict(decoding_ratio(beam), DECODING_TARGETS['beam'])} one "
        f"batch-{beam[2]} stream (steps per second)."
    )


if __name__ == "__main__":
    main()
