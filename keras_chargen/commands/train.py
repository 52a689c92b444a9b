"""`keras-chargen train`: a corpus in, one `.keras` file out."""

import json

from keras_chargen.commands.common import (
    CliError,
    fraction,
    positive_float,
    positive_int,
)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a model on a corpus",
        description="Train a character LSTM/GRU and save it as one .keras file, "
        "with a CSV log and a training-history PNG next to it.",
    )
    p.add_argument(
        "--corpus",
        default="pydoc",
        help="name (pydoc, alice, shakespeare), path or URL (default: pydoc, embedded)",
    )
    p.add_argument(
        "--output", default="run.keras", help="model file (default: run.keras)"
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=20,
        help="at most this many epochs (default: 20)",
    )
    p.add_argument(
        "--minutes",
        type=positive_float,
        help="wall-clock budget; stops cleanly and saves",
    )
    p.add_argument(
        "--no-anneal",
        dest="anneal",
        action="store_false",
        help="with --minutes, keep the learning rate instead of lowering it "
        "to 10%% over the last 20%% of the budget",
    )
    p.add_argument("--seed", type=int, default=1337, help="random seed (default: 1337)")
    p.add_argument(
        "--sequence-length",
        type=positive_int,
        default=100,
        help="characters per training window (default: 100)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        help="windows per batch (default: 64)",
    )
    p.add_argument(
        "--validation-split",
        type=fraction,
        default=0.1,
        help="held-out tail of the text (default: 0.1)",
    )
    p.add_argument(
        "--units", type=positive_int, help="units per recurrent layer (default: 256)"
    )
    p.add_argument(
        "--embedding-dim", type=positive_int, help="embedding size (default: 64)"
    )
    p.add_argument("--layers", type=positive_int, help="recurrent layers (default: 2)")
    p.add_argument("--dropout", type=fraction, help="dropout in [0, 1) (default: 0.1)")
    p.add_argument(
        "--learning-rate",
        type=positive_float,
        help="Adam learning rate (default: 0.003)",
    )
    p.add_argument(
        "--cell",
        choices=("lstm", "gru"),
        default="lstm",
        help="recurrent cell (default: lstm)",
    )
    p.add_argument(
        "--layer-norm",
        action="store_true",
        help="LayerNormalization after each recurrent layer",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its last epoch",
    )
    p.add_argument(
        "--prompt",
        action="append",
        help="prompt for the samples shown (repeatable; default: newline)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary as JSON at the end"
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar and no samples"
    )
    p.set_defaults(run=run)


def run(args):
    import keras_chargen
    from keras_chargen.data.corpus import CorpusError

    hyperparameters = {
        name: value
        for name, value in (
            ("lstm_units", args.units),
            ("embedding_dim", args.embedding_dim),
            ("num_layers", args.layers),
            ("dropout", args.dropout),
            ("learning_rate", args.learning_rate),
        )
        if value is not None
    }
    try:
        _, summary = keras_chargen.train(
            args.corpus,
            args.output,
            epochs=args.epochs,
            minutes=args.minutes,
            anneal=args.anneal,
            seed=args.seed,
            sequence_length=args.sequence_length,
            batch_size=args.batch_size,
            validation_split=args.validation_split,
            cell=args.cell,
            layer_norm=args.layer_norm,
            resume=args.resume,
            sample_prompts=args.prompt or ("\n",),
            verbose=0 if args.quiet else "auto",
            **hyperparameters,
        )
    except (CorpusError, ValueError, OSError) as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"\nSaved {summary['model_path']} after {summary['epochs']} epoch(s) in "
            f"{summary['wall_seconds'] / 60:.1f} min: best validation "
            f"{summary['best_val_bits_per_char']:.3f} bits/char "
            f"(perplexity {summary['best_val_perplexity']:.2f}, accuracy "
            f"{summary['best_val_accuracy']:.3f}). Plot: {summary['plot_path']}, "
            f"log: {summary['log_path']}"
        )
