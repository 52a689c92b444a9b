"""`keras-chargen generate`: prompts x temperatures from a `.keras` file."""

import sys
from pathlib import Path

from keras_chargen.commands.common import (
    CliError,
    check_output_folder,
    library_default,
    load_char_model,
    non_negative_float,
    non_negative_int,
    positive_int,
    probability,
)

# The command's own defaults, shared with `chat`: text for reading, a bit
# below the library's neutral temperature 1 and longer than
# `TextGenerator.generate`'s 100 characters.
TEMPERATURE = 0.8
LENGTH = 300


def add_sampling_arguments(p):
    """Options shared with `chat`."""
    from keras_chargen.generation.text_generator import TextGenerator
    from keras_chargen.samplers.temperature_sampler import TemperatureSampler

    p.add_argument(
        "--length",
        type=non_negative_int,
        default=LENGTH,
        help="characters to generate (default: %(default)s)",
    )
    p.add_argument(
        "--top-k",
        type=positive_int,
        default=library_default(TemperatureSampler, "top_k"),
        help="sample only among the k likeliest characters",
    )
    p.add_argument(
        "--top-p",
        type=probability,
        default=library_default(TemperatureSampler, "top_p"),
        help="nucleus sampling: the smallest set holding this probability",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=library_default(TemperatureSampler, "seed"),
        help="seed for reproducible samples",
    )
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
    p.add_argument("model", help="a .keras file written by `keras-chargen train`")
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
    from keras_chargen.samplers.temperature_sampler import TemperatureSampler

    check_output_folder(args.output, "--output")
    prompts = args.prompt or ["\n"]
    model = load_char_model(args.model)
    generator = TextGenerator(model, dtype=args.dtype)
    samplers = [
        TemperatureSampler(t, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
        for t in args.temperature
    ]
    try:
        if args.stream:
            text = _stream(generator, prompts, samplers, args)
            sections = [("", text)]
        else:
            sections = _table(generator, prompts, samplers, args)
    except ValueError as error:  # e.g. a prompt character outside the vocabulary
        raise CliError(str(error)) from None
    if args.output:
        content = "\n\n".join(
            f"{title}\n{text}" if title else text for title, text in sections
        )
        replace_atomically(
            Path(args.output),
            lambda tmp: Path(tmp).write_text(content + "\n", encoding="utf-8"),
        )
        print(f"\nWrote {args.output}", file=sys.stderr)


def _stream(generator, prompts, samplers, args):
    if len(prompts) > 1 or len(samplers) > 1 or args.num_samples > 1:
        raise CliError(
            "--stream takes one --prompt, one --temperature and --num-samples 1"
        )
    sys.stdout.write(prompts[0])
    text = prompts[0]
    for piece in generator.stream(prompts[0], args.length, samplers[0], stop=args.stop):
        sys.stdout.write(piece)
        sys.stdout.flush()
        text += piece
    sys.stdout.write("\n")
    return text


def _table(generator, prompts, samplers, args):
    batch = [p for p in prompts for _ in range(args.num_samples)]
    single = len(batch) == 1 and len(samplers) == 1
    sections = []
    for sampler in samplers:
        texts = generator.generate(batch, args.length, sampler, stop=args.stop)
        for i, text in enumerate(texts):
            title = (
                ""
                if single
                else (
                    f"=== prompt {batch[i]!r} | temperature {sampler.temperature:g}"
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
