"""`keras-chargen train`: a corpus in, one `.keras` file out."""

import argparse
import json

from keras_chargen.commands.common import (
    CliError,
    fraction,
    library_default,
    non_negative_float,
    positive_float,
    positive_int,
)

# Each option's `dest` is the name of the `keras_chargen.train` argument it
# sets, and its default is read from `train` or from SEARCH_SPACE.
HYPERPARAMETERS = {  # option -> build_char_lstm hyperparameter
    "--units": "lstm_units",
    "--embedding-dim": "embedding_dim",
    "--layers": "num_layers",
    "--dropout": "dropout",
    "--learning-rate": "learning_rate",
}


def add_parser(subparsers):
    from keras_chargen.training.run_settings import DEFAULT_EPOCHS
    from keras_chargen.training.train import train

    p = subparsers.add_parser(
        "train",
        help="train a model on a corpus",
        description="Train a character LSTM/GRU and save it as one .keras file, "
        "with a CSV log and a training-history PNG next to it.",
    )

    def option(flag, help, **kwargs):
        dest = flag[2:].replace("-", "_")
        kwargs.setdefault("default", library_default(train, dest))
        p.add_argument(flag, help=help, **kwargs)

    option(
        "--corpus",
        "name (pydoc, alice, shakespeare), path, URL, folder, quoted glob, or a "
        "folder written by `prepare` (default: %(default)s, embedded)",
    )
    option("--output", "model file (default: %(default)s)")
    option(
        "--epochs",
        "at most this many epochs (default: with --minutes, no limit; without, "
        f"{DEFAULT_EPOCHS})",
        type=positive_int,
    )
    option(
        "--minutes",
        "wall-clock budget: trains until it is spent (or early stopping), "
        "stops cleanly and saves",
        type=positive_float,
    )
    p.add_argument(
        "--no-anneal",
        dest="anneal",
        action="store_false",
        default=library_default(train, "anneal"),
        help="with --minutes, keep the learning rate instead of lowering it "
        "to 10%% over the last 20%% of the budget",
    )
    option("--seed", "random seed (default: %(default)s)", type=int)
    option(
        "--sequence-length",
        "characters per training window (default: %(default)s)",
        type=positive_int,
    )
    option(
        "--batch-size", "windows per batch (default: %(default)s)", type=positive_int
    )
    option(
        "--validation-split",
        "held-out tail of the text (default: %(default)s)",
        type=fraction,
    )
    _add_hyperparameters(p)
    option(
        "--cell",
        "recurrent cell (default: %(default)s)",
        choices=("lstm", "gru"),
    )
    option(
        "--layer-norm",
        "LayerNormalization after each recurrent layer",
        action="store_true",
    )
    option(
        "--weight-decay",
        "AdamW's decoupled weight decay (default: 0, plain Adam)",
        type=non_negative_float,
    )
    option(
        "--variational-dropout",
        "one dropout mask per sequence instead of one per time step; "
        "--no-variational-dropout turns it off (default: off)",
        action=argparse.BooleanOptionalAction,
    )
    option(
        "--resume",
        "continue an interrupted run from its last epoch",
        action="store_true",
    )
    from keras_chargen.models.presets import list_presets

    option(
        "--init-from",
        "fine-tune: start from this .keras file or preset "
        f"({', '.join(list_presets())}) instead of random weights; new "
        "characters extend its vocabulary",
        metavar="MODEL_OR_PRESET",
    )
    prompts = ", ".join(map(repr, library_default(train, "sample_prompts")))
    p.add_argument(
        "--prompt",
        action="append",
        dest="sample_prompts",
        metavar="PROMPT",
        help=f"prompt for the samples shown (repeatable; default: {prompts})",
    )
    _add_distributed(p)
    p.add_argument(
        "--json", action="store_true", help="print the summary as JSON at the end"
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar and no samples"
    )
    p.set_defaults(run=run)


def _add_hyperparameters(p):
    """Unset, they are not passed: `build_char_lstm` applies SEARCH_SPACE's
    defaults, and a resumed run compares the settings it was started with."""
    from keras_chargen.models.build_char_lstm import SEARCH_SPACE

    meaning = {
        "lstm_units": ("units per recurrent layer", positive_int),
        "embedding_dim": ("embedding size", positive_int),
        "num_layers": ("recurrent layers", positive_int),
        "dropout": ("dropout in [0, 1)", fraction),
        "learning_rate": ("Adam learning rate", positive_float),
    }
    for flag, name in HYPERPARAMETERS.items():
        description, type_ = meaning[name]
        p.add_argument(
            flag,
            dest=name,
            type=type_,
            metavar=flag[2:].replace("-", "_").upper(),
            help=f"{description} (default: {SEARCH_SPACE[name][1]:g})",
        )


def _add_distributed(p):
    """`--distributed` and its three settings, all setting `train`'s
    `distributed`: `True`, or a dict of the settings given (the rest come
    from Keras' variables). A setting alone implies `--distributed`."""
    from keras_chargen.training.distributed import ENVIRONMENT
    from keras_chargen.training.train import train

    class Join(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            if not isinstance(namespace.distributed, dict):
                namespace.distributed = True

    class Setting(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            given = namespace.distributed
            given = given if isinstance(given, dict) else {}
            namespace.distributed = {**given, self.const: values}

    p.add_argument(
        "--distributed",
        action=Join,
        nargs=0,
        default=library_default(train, "distributed"),
        help="data-parallel training over several processes or machines "
        "(KERAS_BACKEND=jax): run the same command on each, with its own "
        "--process-id; --batch-size is the global batch; process 0 writes the "
        "files (see docs/scaling.md)",
    )
    meaning = {
        "coordinator_address": ("HOST:PORT", "process 0's address and a free port"),
        "num_processes": ("N", "the number of processes"),
        "process_id": ("K", "this process, 0 to N-1"),
    }
    for name, (metavar, description) in meaning.items():
        p.add_argument(
            f"--{name.replace('_', '-')}",
            action=Setting,
            dest="distributed",
            const=name,
            metavar=metavar,
            help=f"distributed: {description} (default: ${ENVIRONMENT[name]})",
        )


def run(args):
    import keras_chargen
    from keras_chargen.data.corpus import CorpusError

    options = {
        name: getattr(args, name)
        for name in (*HYPERPARAMETERS.values(), "sample_prompts")
        if getattr(args, name) is not None
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
            weight_decay=args.weight_decay,
            variational_dropout=args.variational_dropout,
            resume=args.resume,
            init_from=args.init_from,
            verbose=0 if args.quiet else "auto",
            distributed=args.distributed,
            **options,
        )
    except (CorpusError, ValueError, OSError) as error:
        raise CliError(str(error)) from None
    if summary is None:  # a distributed run's process other than 0
        print("\nTrained with the other processes; process 0 saved the model.")
        return
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"\nSaved {summary['model_path']} after {summary['epochs']} epoch(s) in "
            f"{summary['wall_seconds'] / 60:.1f} min (stopped by "
            f"{summary['stop_reason']}): best validation "
            f"{summary['best_val_bits_per_char']:.3f} bits/char "
            f"(perplexity {summary['best_val_perplexity']:.2f}, accuracy "
            f"{summary['best_val_accuracy']:.3f}). Plot: {summary['plot_path']}, "
            f"log: {summary['log_path']}"
        )
