"""Hyperparameter search for a character LSTM, with KerasTuner.

    python tuning/search.py          # Hyperband on the embedded corpus: 6-7 min on 2 CPU cores
    python tuning/search.py --corpus shakespeare --tuner bayesian --max-trials 30 --minutes 120

Run the same command again to resume: finished trials are not re-run.
`--overwrite` starts over. Results, the search space and how to spread a
search over several machines: docs/tuning.md. The search itself is
`keras_chargen.search`; this script only reads the settings and prints.
"""

import argparse
import json
import sys

# -----------------------------------------------------------------------------
# Settings: the defaults of the command-line options below. Edit them here.
CORPUS = "pydoc"  # name (pydoc, alice, shakespeare), path or URL; pydoc is embedded
TUNER = "hyperband"  # hyperband | bayesian | random (why Hyperband: docs/tuning.md)
MAX_TRIALS = None  # bayesian / random: trials (None: 10); hyperband: an optional cap
EPOCHS = 3  # the most epochs one model trains (Hyperband's max_epochs)
MINUTES = 9.0  # wall-clock budget; then the running trial stops and none starts
DIRECTORY = "tuning_runs"  # the project goes in DIRECTORY/PROJECT_NAME
PROJECT_NAME = "chargen"
SEED = 1337  # seeds the tuner, the data and every trial's weights
SEQUENCE_LENGTH = 100  # characters per training window
BATCH_SIZE = 64  # windows per batch
SEARCH_SPACE = None  # e.g. {"lstm_units": [128, 256], "num_layers": 2}; None: defaults
# -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line, not the whole usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _search_space(text):
    try:
        space = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error.msg})") from None
    if not isinstance(space, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return space


def parse_args(argv=None):
    from keras_chargen.commands.common import positive_float, positive_int

    p = _Parser(prog="search.py", description=__doc__.split("\n")[0])
    p.add_argument(
        "--corpus", default=CORPUS, help="name, path or URL (default: %(default)s)"
    )
    p.add_argument(
        "--tuner", choices=("hyperband", "bayesian", "random"), default=TUNER
    )
    p.add_argument("--max-trials", type=positive_int, default=MAX_TRIALS)
    p.add_argument(
        "--epochs", type=positive_int, default=EPOCHS, help="(default: %(default)s)"
    )
    p.add_argument(
        "--minutes", type=positive_float, default=MINUTES, help="(default: %(default)s)"
    )
    p.add_argument("--directory", default=DIRECTORY, help="(default: %(default)s)")
    p.add_argument(
        "--project-name", default=PROJECT_NAME, help="(default: %(default)s)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="start over instead of resuming"
    )
    p.add_argument("--seed", type=int, default=SEED, help="(default: %(default)s)")
    p.add_argument("--sequence-length", type=positive_int, default=SEQUENCE_LENGTH)
    p.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE)
    p.add_argument(
        "--search-space", type=_search_space, default=SEARCH_SPACE,
        help='JSON updating the search space, e.g. \'{"num_layers": 1, "lstm_units": [64, 128]}\'',
    )  # fmt: skip
    p.add_argument("--output", help="best model file (default: in the project folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from keras_chargen.tuning.search import search

    try:
        summary = search(
            args.corpus,
            tuner=args.tuner,
            max_trials=args.max_trials,
            epochs=args.epochs,
            minutes=args.minutes,
            directory=args.directory,
            project_name=args.project_name,
            overwrite=args.overwrite,
            seed=args.seed,
            sequence_length=args.sequence_length,
            batch_size=args.batch_size,
            search_space=args.search_space,
            output=args.output,
            # Progress bars in a terminal, one line per epoch in a log file.
            verbose=0 if args.quiet else 1 if sys.stdout.isatty() else 2,
        )
    except (ValueError, OSError) as error:  # bad settings, unreadable corpus
        print(f"search.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nsearch.py: interrupted; run the same command to resume", file=sys.stderr
        )
        return 130
    if summary["role"] == "worker":
        print(
            f"\nWorker done in {summary['wall_seconds'] / 60:.1f} min; the chief writes the results."
        )
        return 0
    _print_summary(summary, args)
    return 0


def _print_summary(summary, args):
    statuses = [row["status"] for row in summary["trials"]]
    print(
        f"\n{len(statuses)} trials ({statuses.count('COMPLETED')} completed, "
        f"{statuses.count('FAILED')} failed) in {summary['wall_seconds'] / 60:.1f} min: "
        f"{args.tuner}, epochs={args.epochs}, corpus={args.corpus}"
        + (", stopped by the time budget" if summary["stopped_by_time_limit"] else "")
    )
    print(f"\n{summary['table']}\n")
    if summary["best_trial"] is None:
        print("No trial completed: no model saved.")
    else:
        settings = " ".join(
            f"{k}={v}" for k, v in summary["best_hyperparameters"].items()
        )
        print(
            f"Best: trial {summary['best_trial']}, {summary['best_val_bits_per_char']:.3f} "
            f"val bits/char (perplexity {summary['best_val_perplexity']:.2f}): {settings}\n"
            f"Model: {summary['model_path']}  (try: keras-chargen generate "
            f"{summary['model_path']} --prompt 'The ')"
        )
    print(f"Results: {summary['csv_path']}, {summary['plot_path']}")


if __name__ == "__main__":
    sys.exit(main())
