"""The `keras-chargen` command: train, generate, chat, evaluate, score, inspect, serve."""

import argparse
import sys

from keras_chargen.commands import (
    chat,
    evaluate,
    export,
    generate,
    inspect,
    prepare,
    score,
    serve,
    train,
)
from keras_chargen.commands.common import CliError

# `main` hides native start-up lines, then calls `run`: see keras_chargen_cli.
from keras_chargen_cli import main  # noqa: F401

# One line per command, in the order `--help` lists them.
COMMANDS = (
    prepare,
    train,
    generate,
    chat,
    evaluate,
    score,
    inspect,
    export,
    serve,
)


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line, not the whole usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="keras-chargen",
        description="Character-level language models with Keras: train, "
        "generate, chat, evaluate, score and inspect.",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show what TensorFlow, JAX and torch write to stderr from "
        "native code (start-up and log lines; hidden by default)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def run(argv):
    """Parses `argv` and runs the command; returns the exit status."""
    # Building the parser imports Keras and its backend: the option defaults
    # are read from the library.
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except CliError as error:
        print(f"keras-chargen {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nkeras-chargen {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
