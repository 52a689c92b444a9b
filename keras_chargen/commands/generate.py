"""`keras-chargen generate`: prompts x temperatures from a `.keras` file."""

import sys
from pathlib import Path

from keras_chargen.commands.common import (
    CliError,
    add_model_argument,
    check_output_folder,
    library_default,
    load_model_argument,
    non_negative_float,
    non_negative_int,
    positive_int,
)
from keras_chargen.commands.decoding_options import (
    build,
    settings_from_args,
    takes,
)

# The command's own defaults, shared with `chat`: text for reading, a bit
# below the library's neutral temperature 1 and longer than
# `TextGenerator.generate`'s 100 characters.
TEMPERATURE = 0.8
LENGTH = 300


def add_sampling_arguments(p):
    """Options shared with `chat`: length, dtype and every decoding option."""
    from keras_chargen.commands.decoding_options import add_decoding_arguments
    from keras_chargen.generation.text_generator import TextGenerator

    p.add_argument(
        "--length",
        type=non_negative_int,
        default=LENGTH,
        help="characters to generate (default: %(default)s)",
    )
    add_decoding_arguments(p)
    p.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default=library_default(TextGenerator, "dtype"),
        help="dtype of the step's matrix products; bfloat16 is faster for many "
        "samples on CPUs with AMX (default: %(default)s)",
    )


def add_parser(subparsers):
    p = subparsers.add_parser(
        "generate",
        help="generate text from a trained model",
        description="Continue prompts with a trained model. Several prompts or "
        "temperatures give the prompts x temperatures table.",
    )
    add_model_argument(p)
    p.add_argument(
        "--prompt",
        action="append",
        help="text to continue (repeatable; default: a newline)",
    )
    p.add_argument(
        "--temperature",
        type=non_negative_float,
        nargs="+",
        default=[TEMPERATURE],
        help=f"one or more temperatures; 0 = greedy (default: {TEMPERATURE:g})",
    )
    add_sampling_arguments(p)
    p.add_argument(
        "--num-samples",
        type=positive_int,
        default=1,
        help="samples per prompt and temperature (default: %(default)s)",
    )
    p.add_argument(
        "--stop", action="append", help="cut each sample after this string (repeatable)"
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="print characters as they are generated (one prompt, one temperature)",
    )
    p.add_argument("--output", help="also write the generations to this file")
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.generation.text_generator import TextGenerator
    from keras_chargen.models.saving import replace_atomically

    check_output_folder(args.output, "--output")
    prompts = args.prompt or ["\n"]
    settings = settings_from_args(args)
    # Greedy decoding and beam search have no temperature: the default one
    # is not passed to them (one given explicitly is an error).
    temperatures = args.temperature
    if not takes(settings, "temperature") and temperatures == [TEMPERATURE]:
        temperatures = [None]
    decoders = [build({**settings, "temperature": t}) for t in temperatures]
    model = load_model_argument(args)
    generator = TextGenerator(model, dtype=args.dtype)
    try:
        if args.stream:
            text = _stream(generator, prompts, decoders, args)
            sections = [("", text)]
        else:
            sections = _table(generator, prompts, decoders, args)
    except ValueError as error:  # e.g. a prompt character outside the vocabulary
        raise CliError(str(error)) from None
    if args.output:
        content = "\n\n".join(
            f"{title}\n{text}" if title else text for title, text in sections
        )
        try:  # a full disk or a read-only folder: the old file stays as it was
            replace_atomically(
                Path(args.output),
                lambda tmp: Path(tmp).write_text(content + "\n", encoding="utf-8"),
            )
        except OSError as error:
            raise CliError(
                f"cannot write --output {args.output!r}: {error.strerror or error}"
            ) from None
        print(f"\nWrote {args.output}", file=sys.stderr)


def _stream(generator, prompts, decoders, args):
    if len(prompts) > 1 or len(decoders) > 1 or args.num_samples > 1:
        raise CliError(
            "--stream takes one --prompt, one --temperature and --num-samples 1"
        )
    sampler, processors = decoders[0]
    sys.stdout.write(prompts[0])
    text = prompts[0]
    pieces = generator.stream(
        prompts[0], args.length, sampler, stop=args.stop, processors=processors
    )
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
        text += piece
    sys.stdout.write("\n")
    return text


def _label(sampler):
    """How a table title names a sampler: by its temperature where it has one."""
    if hasattr(sampler, "temperature"):
        return f"temperature {sampler.temperature:g}"
    return f"beam search, {sampler.num_beams} beams"


def _table(generator, prompts, decoders, args):
    batch = [p for p in prompts for _ in range(args.num_samples)]
    single = len(batch) == 1 and len(decoders) == 1
    sections = []
    for sampler, processors in decoders:
        texts = generator.generate(
            batch, args.length, sampler, stop=args.stop, processors=processors
        )
        for i, text in enumerate(texts):
            title = (
                ""
                if single
                else (
                    f"=== prompt {batch[i]!r} | {_label(sampler)}"
                    + (
                        f" | sample {i % args.num_samples + 1}"
                        if args.num_samples > 1
                        else ""
                    )
                    + " ==="
                )
            )
            print(f"{title}\n{text}\n" if title else text)
            sections.append((title, text))
    return sections
