"""Exported step models: artifact sizes and per-character latency, side by side.

One CharLM (the default 2x256 LSTM, Embedding(64), over 67 ids:
tiny-shakespeare's 65 characters plus the 2 reserved ones; Keras' default
initialisation, since speed and size do not depend on the weights) is
exported to a SavedModel, ONNX and LiteRT. Each artifact runs the NumPy
driver loop of `keras_chargen/export/driver.py` at batch 1, with the
runtime's default threads and with one thread: a 100-character prompt, then
one call per character, greedy; its text must equal `TextGenerator`'s. The
same model's `TextGenerator` (compiled TensorFlow loop, batch 1) is the
reference row. Each method is run once to warm up and then timed
`--repeats` times; the table shows the best run's milliseconds per generated
character (the prompt's call included, as a user sees it) and its speed
relative to `TextGenerator` (above 1x: faster).

    python benchmarks/export.py [--units 256] [--length 200] [--repeats 3]
"""

import argparse
import string
import tempfile
import time
from pathlib import Path

import keras_chargen
from keras_chargen.export import driver

FORMATS = ("tf_saved_model", "onnx", "litert")


def build(units, layers):
    vocabulary = sorted(set(string.ascii_letters + " \n!$&',-.:;?3"))
    # Keras' initialisers, not large random weights: a recurrent net with a
    # large random recurrent kernel is chaotic, and float32 rounding alone
    # (graph vs eager, one runtime vs another) then changes greedy text.
    return keras_chargen.CharLM(
        keras_chargen.CharVectorizer(vocabulary=vocabulary),
        units=units,
        num_layers=layers,
    )


def best_ms_per_char(run, length, repeats):
    run()  # warm-up (compiles the TextGenerator loop for this length)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return 1000 * best / length


def size_of(path):
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model = build(args.units, args.layers)
    prompt = ("ROMEO: But soft, what light through yonder window breaks? " * 2)[:100]
    greedy = keras_chargen.samplers.GreedySampler()
    generator = keras_chargen.TextGenerator(model)
    expected = generator.generate(prompt, length=args.length, sampler=greedy)
    rows = [
        (
            "TextGenerator (TF)",
            "-",
            None,
            lambda: generator.generate(prompt, length=args.length, sampler=greedy),
        )
    ]
    with tempfile.TemporaryDirectory() as folder:
        for format in FORMATS:
            start = time.perf_counter()
            path = keras_chargen.export_step_model(
                model, Path(folder) / format, format=format
            )
            seconds = time.perf_counter() - start
            file = path / driver.StepRunner(path).manifest["model_file"]
            size = f"{size_of(file) / 2**20:.2f} MiB"
            # A SavedModel runs on TensorFlow's own thread settings.
            threads = (None,) if format == "tf_saved_model" else (None, 1)
            for num_threads in threads:
                runner = driver.StepRunner(path, num_threads=num_threads)
                text = driver.generate(runner, prompt, args.length)
                assert text == expected, f"{format}: the driver's text differs"
                label = "default threads" if num_threads is None else "1 thread"
                rows.append(
                    (
                        f"driver, {format}, {label}",
                        size,
                        seconds,
                        lambda r=runner: driver.generate(r, prompt, args.length),
                    )
                )
        results = [
            (name, size, export, best_ms_per_char(run, args.length, args.repeats))
            for name, size, export, run in rows
        ]
    reference = results[0][3]
    print(
        f"{args.layers}x{args.units} LSTM, {model.count_params():,} parameters; "
        f"prompt {len(prompt)} chars, {args.length} generated, batch 1, "
        f"best of {args.repeats}"
    )
    print("| runs | artifact size | export s | ms / char | speed vs TextGenerator |")
    print("|---|---|---|---|---|")
    for name, size, export, ms in results:
        export_s = "-" if export is None else f"{export:.1f}"
        ratio = reference / ms
        print(f"| {name} | {size} | {export_s} | {ms:.3f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
