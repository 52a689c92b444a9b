"""`keras-chargen evaluate`: score held-out text, next to no-training baselines."""

import json
import sys
from pathlib import Path

from keras_chargen.commands.common import (
    CliError,
    add_model_argument,
    fraction,
    library_default,
    load_model_argument,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)


def add_parser(subparsers):
    from keras_chargen.evaluation.evaluate import evaluate
    from keras_chargen.samplers.temperature_sampler import TemperatureSampler
    from keras_chargen.training.train import train

    def default(name):
        return library_default(evaluate, name)

    p = subparsers.add_parser(
        "evaluate",
        help="score a held-out text: bits/char, accuracy, baselines",
        description="Score every character of a held-out text with its full "
        "preceding context, next to unigram and n-gram baselines; optionally "
        "measure the diversity and novelty of generated samples.",
    )
    add_model_argument(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="a text file to score (all of it)")
    source.add_argument(
        "--corpus",
        help="a corpus name, path or URL as for `train`: its held-out tail is "
        "scored and its head is the training text",
    )
    p.add_argument(
        "--validation-split",
        type=fraction,
        default=library_default(train, "validation_split"),
        help="with --corpus: the held-out tail, as in `train` (default: "
        "%(default)s; 0 scores the whole corpus)",
    )
    p.add_argument(
        "--train-text",
        help="the training text file, for the baselines and the novelty of samples",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=default("batch_size"),
        help="characters per compiled step (default: %(default)s)",
    )
    p.add_argument(
        "--ngram-order",
        type=positive_int,
        default=default("ngram_order"),
        help="order of the Kneser-Ney n-gram baseline (default: %(default)s)",
    )
    p.add_argument(
        "--generations",
        dest="num_generations",
        metavar="GENERATIONS",
        type=non_negative_int,
        default=default("num_generations"),
        help="samples to generate for diversity and novelty (default: %(default)s)",
    )
    p.add_argument(
        "--generation-length",
        type=positive_int,
        default=default("generation_length"),
        help="characters per sample (default: %(default)s)",
    )
    p.add_argument(
        "--temperature",
        type=non_negative_float,
        default=library_default(TemperatureSampler, "temperature"),
        help="sampling temperature of the samples (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=library_default(TemperatureSampler, "seed"),
        help="seed for reproducible samples",
    )
    p.add_argument(
        "--adapt",
        action="store_true",
        default=default("adapt"),
        help="dynamic evaluation: the model keeps learning from the text as "
        "it scores it (each character is still predicted before it is learnt)",
    )
    p.add_argument(
        "--adapt-learning-rate",
        type=positive_float,
        default=default("adapt_learning_rate"),
        help="with --adapt: RMSprop learning rate (default: %(default)s)",
    )
    p.add_argument(
        "--adapt-decay",
        type=fraction,
        default=default("adapt_decay"),
        help="with --adapt: fraction of the way back to the trained weights "
        "after each step (default: %(default)s; 0 for none)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.data.corpus import CorpusError
    from keras_chargen.evaluation.evaluate import evaluate
    from keras_chargen.samplers.temperature_sampler import TemperatureSampler

    model = load_model_argument(args)
    try:
        text, train_text, source = _texts(args)
        report = evaluate(
            model,
            text,
            batch_size=args.batch_size,
            train_text=train_text,
            ngram_order=args.ngram_order,
            num_generations=args.num_generations,
            generation_length=args.generation_length,
            sampler=TemperatureSampler(args.temperature, seed=args.seed),
            adapt=args.adapt,
            adapt_learning_rate=args.adapt_learning_rate,
            adapt_decay=args.adapt_decay,
            verbose=0 if args.json or args.quiet or not sys.stdout.isatty() else 1,
        )
    except (CorpusError, ValueError) as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"\n{args.model} on {source}\n")
    print(format_table(report, args))


def _texts(args):
    """The text to score, the training text (or None), and a description."""
    from keras_chargen.data.corpus import load_corpus
    from keras_chargen.data.prepared import is_prepared_corpus
    from keras_chargen.data.split import split_text

    train_text = None
    if args.train_text:
        train_text = load_corpus(Path(args.train_text), verbose=False)
    if args.text:
        return load_corpus(Path(args.text), verbose=False), train_text, args.text
    if is_prepared_corpus(args.corpus):
        return _prepared_texts(args, train_text)
    corpus = load_corpus(args.corpus, verbose=not args.json)
    # The split `train` made: the model never saw the tail.
    head, tail = split_text(corpus, args.validation_split)
    if not tail:
        return corpus, train_text, f"all of corpus {args.corpus!r}"
    source = f"the last {args.validation_split:.0%} of corpus {args.corpus!r}"
    if train_text is None:
        train_text = head
        source += " (its head is the training text)"
    return tail, train_text, source


def _prepared_texts(args, train_text):
    """A prepared corpus's validation split, and its training split when small.

    The n-gram baseline holds its training text in memory: a training split
    above `_MAX_BASELINE_CHARACTERS` is left out (pass `--train-text`).
    """
    from keras_chargen.data.prepared import PreparedCorpus

    corpus = PreparedCorpus(args.corpus)
    if args.validation_split != corpus.validation_split:
        raise ValueError(
            f"{args.corpus} was prepared with validation_split="
            f"{corpus.validation_split}; its split is fixed. Pass that value. "
            f"Received: validation_split={args.validation_split!r}"
        )
    if not corpus.split_size("validation"):
        raise ValueError(f"{args.corpus} has no validation split to score.")
    source = f"the validation split of prepared corpus {args.corpus!r}"
    if train_text is None and corpus.split_size("train") <= _MAX_BASELINE_CHARACTERS:
        train_text = corpus.text("train")
        source += " (its training split is the training text)"
    return corpus.text("validation"), train_text, source


_MAX_BASELINE_CHARACTERS = 50_000_000


def format_table(report, args):
    """The report as an aligned two-column table."""
    fit_on = (
        "training text" if report["baseline_fit_on"] == "train_text" else "scored text"
    )
    rows = [
        ("characters", f"{report['characters']:,}"),
        ("loss (nats/char)", report["loss"]),
        (
            "bits per character"
            + (" (dynamic evaluation)" if report["adapted"] else ""),
            report["bits_per_char"],
        ),
        ("perplexity", report["perplexity"]),
        ("top-1 accuracy", report["accuracy"]),
        ("mean top-1 confidence", report["confidence"]),
        ("out-of-vocabulary rate", report["oov_rate"]),
        (
            f"baseline: unigram bits/char (fit on {fit_on})",
            report["unigram_bits_per_char"],
        ),
    ]
    if report["ngram_order"] is not None:
        rows.append(
            (
                f"baseline: {report['ngram_order']}-gram Kneser-Ney bits/char",
                report["ngram_bits_per_char"],
            )
        )
    generation = report["generation"]
    if generation is not None:
        rows.append(
            (
                f"samples ({generation['generations']} x {args.generation_length} "
                f"chars, temperature {args.temperature:g})",
                "",
            )
        )
        for key, value in generation.items():
            if key.startswith("distinct_"):
                rows.append((f"  distinct {key.split('_')[1]}-grams", value))
            elif key.startswith("memorized_"):
                label = f"  {key.split('_')[1]}-grams found in training text"
                rows.append((label, value))
    width = max(len(name) for name, _ in rows)
    lines = [f"{'metric':<{width}}  {'value':>10}"]
    for name, value in rows:
        lines.append(f"{name:<{width}}  {_format(value):>10}")
    return "\n".join(lines)


def _format(value):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.4f}"
