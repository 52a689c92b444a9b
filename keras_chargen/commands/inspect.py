"""`keras-chargen inspect`: layers, nearest characters, embedding plot."""

from keras_chargen.commands.common import (
    CliError,
    check_output_folder,
    library_default,
    load_char_model,
    positive_int,
)

DEFAULT_CHARS = "aeiou .,"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def add_parser(subparsers):
    from keras_chargen.evaluation.nearest_characters import nearest_characters

    p = subparsers.add_parser(
        "inspect",
        help="layer summary, nearest characters, embedding plot",
        description="Show a model's layers, the characters nearest to some "
        "characters in its embedding (cosine similarity), and optionally a "
        "2-D PCA plot of all character embeddings.",
    )
    p.add_argument("model", help="a .keras file written by `keras-chargen train`")
    p.add_argument(
        "--chars",
        help=r"characters to look up; \n, \t, \r and \\ are understood "
        f"(default: {DEFAULT_CHARS!r}, those in the vocabulary)",
    )
    p.add_argument(
        "--k",
        type=positive_int,
        default=library_default(nearest_characters, "k"),
        help="neighbours per character (default: %(default)s)",
    )
    p.add_argument("--plot", help="write the embedding PCA plot to this PNG file")
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.evaluation.nearest_characters import (
        char_name,
        nearest_characters,
    )

    check_output_folder(args.plot, "--plot")
    model = load_char_model(args.model)
    chars = _chars(args.chars, model.vectorizer.vocabulary)
    try:
        neighbours = {c: nearest_characters(model, c, k=args.k) for c in chars}
    except ValueError as error:  # a character outside the vocabulary
        raise CliError(str(error)) from None
    model.summary()
    print(f"\nNearest characters by cosine similarity of embedding rows (k={args.k}):")
    names = [char_name(c) for pairs in neighbours.values() for c, _ in pairs]
    width = max(map(len, names + [char_name(c) for c in chars]), default=1)
    for char, pairs in neighbours.items():
        cells = "   ".join(f"{char_name(c):<{width}} {s:6.3f}" for c, s in pairs)
        print(f"  {char_name(char):<{width}}  |  {cells}")
    if args.plot:
        from keras_chargen.plots.embeddings import plot_embeddings

        print(f"\nWrote {plot_embeddings(model, args.plot)}")


def _chars(text, vocabulary):
    """The distinct characters to look up, in order."""
    if text is None:
        chars = [c for c in DEFAULT_CHARS if c in vocabulary]
        missing = [c for c in DEFAULT_CHARS if c not in vocabulary]
        if missing:
            print(f"(not in the vocabulary, skipped: {''.join(missing)!r})")
        return chars
    chars = list(dict.fromkeys(_unescape(text)))
    if not chars:
        raise CliError("--chars is empty")
    return chars


def _unescape(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
