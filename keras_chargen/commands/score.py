"""`keras-chargen score`: bits per character of a text, or of each of its lines."""

import codecs
import json
import math
from pathlib import Path

from keras_chargen.commands.common import (
    CliError,
    add_model_argument,
    load_model_argument,
)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "score",
        help="bits/char of a text, or of each line (to rank candidates)",
        description="Score a text with a trained model: bits per character of "
        "the whole text, or of each line on its own (each line from the empty "
        "context, without its line break), e.g. to rank candidate lines.",
    )
    add_model_argument(p)
    p.add_argument("--text", required=True, help="a UTF-8 text file to score")
    p.add_argument(
        "--per-line",
        action="store_true",
        help="score each line on its own: one output line per input line, "
        "then the total",
    )
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(run=run)


def run(args):
    text = read_text(args.text)
    model = load_model_argument(args)
    pieces = text.split("\n") if args.per_line else [text]
    if args.per_line and text.endswith("\n"):
        pieces.pop()  # the last line break ends the last line
    try:
        scores = model.score(pieces)
    except ValueError as error:  # e.g. a vectorizer with on_unknown="raise"
        raise CliError(str(error)) from None
    rows = [_row(score) for score in scores]
    total = _summary(
        sum(row["characters"] for row in rows), sum(row["bits"] for row in rows)
    )
    if total["characters"] == 0:
        raise CliError(
            f"{args.text!r} has only empty lines: there are no characters to score"
        )
    if args.json:
        report = dict(total)
        if args.per_line:
            report["lines"] = [
                {"text": piece, **row} for piece, row in zip(pieces, rows, strict=True)
            ]
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    characters = f"{total['characters']:,} characters"
    if not args.per_line:
        print(f"{total['bits_per_char']:.4f} bits/char over {characters}")
        return
    for piece, row in zip(pieces, rows, strict=True):
        bits = _format_bits(row["bits_per_char"])
        print(f"{bits}  {piece}" if piece else bits)
    lines = f"{len(pieces)} line{'s' * (len(pieces) != 1)}"
    print(f"{_format_bits(total['bits_per_char'])}  total: {lines}, {characters}")


def read_text(path):
    """The text of a UTF-8 file (a BOM dropped, line breaks as `\\n`)."""
    path = Path(path)
    if not path.is_file():
        raise CliError(f"text file {str(path)!r} does not exist")
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CliError(
            f"{str(path)!r} is not UTF-8 text: byte {data[error.start]:#04x} at "
            f"offset {error.start} cannot be decoded"
        ) from None
    if not text:
        raise CliError(f"text file {str(path)!r} is empty: there is nothing to score")
    # As `load_corpus` reads training text: the model never saw "\r".
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _row(score):
    bits = -float(score.astype("float64").sum()) / math.log(2)
    return _summary(len(score), bits)


def _summary(characters, bits):
    return {
        "characters": characters,
        "bits": bits,
        "bits_per_char": bits / characters if characters else None,
    }


def _format_bits(value):
    return f"{'n/a':>8}" if value is None else f"{value:8.4f}"
