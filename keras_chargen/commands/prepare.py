"""`keras-chargen prepare`: a corpus of any size -> memory-mapped id arrays."""

from keras_chargen.commands.common import CliError, fraction, library_default


def add_parser(subparsers):
    from keras_chargen.data.prepare import prepare_corpus

    p = subparsers.add_parser(
        "prepare",
        help="write a large or many-file corpus as memory-mapped id arrays",
        description="Read a text file, a folder or a glob in one streaming pass "
        "and write its characters as ids (train.npy, validation.npy) with a "
        "manifest.json, for `train --corpus DIR` and `evaluate --corpus DIR`. "
        "Re-running on unchanged sources reuses the output; changed sources "
        "rebuild it.",
    )
    p.add_argument("source", help="a text file, a folder, or a quoted glob")
    p.add_argument("--output", required=True, help="the folder to write")
    p.add_argument(
        "--validation-split",
        type=fraction,
        default=library_default(prepare_corpus, "validation_split"),
        help="held-out tail of the text (default: %(default)s)",
    )
    p.add_argument(
        "--encoding",
        default=library_default(prepare_corpus, "encoding"),
        help="text encoding of the files (default: %(default)s)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.data.downloader import CorpusError
    from keras_chargen.data.prepare import prepare_corpus

    try:
        corpus = prepare_corpus(
            args.source,
            args.output,
            args.validation_split,
            encoding=args.encoding,
            verbose=not args.quiet,
        )
    except (CorpusError, ValueError, OSError) as error:
        raise CliError(str(error)) from None
    print(
        f"{corpus.path}: {len(corpus):,} characters "
        f"({corpus.split_size('train'):,} train, "
        f"{corpus.split_size('validation'):,} validation), "
        f"{len(corpus.vocabulary)} distinct, {corpus.dtype.name} ids"
    )
