"""`keras-chargen chat`: the interactive prompt loop."""

import sys
from pathlib import Path

from keras_chargen.commands.common import (
    CliError,
    add_model_argument,
    load_model_argument,
    non_negative_float,
)
from keras_chargen.commands.decoding_options import (
    COMMANDS,
    COMMANDS_HELP,
    parse_command,
    settings_from_args,
    takes,
)
from keras_chargen.commands.generate import TEMPERATURE, add_sampling_arguments

HELP = (
    """Type a prompt and press Enter to continue it. Commands:
  /temperature T   sampling temperature (0 = greedy)
  /top_p P         nucleus sampling (1 = off)      /top_k K   (0 = off)
  /length N        characters per answer           /seed S    (none = random)
"""
    + COMMANDS_HELP
    + """
  /save FILE       save the last generation        /settings  show settings
  /help            this text                       /quit      leave (or Ctrl-D)"""
)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "chat",
        help="interactive generation loop",
        description="Type prompts, read streamed continuations; change sampling "
        "settings and save generations as you go.",
    )
    add_model_argument(p)
    p.add_argument(
        "--temperature",
        type=non_negative_float,
        default=TEMPERATURE,
        help="starting temperature (default: %(default)s)",
    )
    add_sampling_arguments(p)
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.generation.text_generator import TextGenerator

    model = load_model_argument(args)
    session = _Session(TextGenerator(model, dtype=args.dtype), args)
    print(f"Loaded {args.model} ({model.vocabulary_size} ids). /help for commands.")
    try:
        session.loop()
    except KeyboardInterrupt:
        # Ctrl-C at the prompt leaves, like Ctrl-D. A signal that comes just
        # before `input()` blocks is only raised after it returns, outside
        # the loop's own handler.
        print()


class _Session:
    def __init__(self, generator, args):
        self.generator = generator
        decoding = settings_from_args(args)
        self.settings = {
            "temperature": args.temperature,
            "top_k": decoding.pop("top_k"),
            "top_p": decoding.pop("top_p"),
            "length": args.length,
            "seed": decoding.pop("seed"),
            **decoding,
        }
        try:
            self.decoders()
        except ValueError as error:  # bad flags: one line, exit 2
            raise CliError(str(error)) from None
        self.last = None
        self.interactive = sys.stdin.isatty()

    def decoders(self):
        """`(sampler, processors)` of the settings; `ValueError` if bad."""
        from keras_chargen.samplers.settings import from_settings

        sampler, processors = from_settings(self.decoding())
        for processor in processors:  # a ban must fit the model's characters
            processor.build(self.generator.vectorizer)
        return sampler, processors

    def decoding(self):
        """The settings that choose the sampler and processors."""
        settings = {k: v for k, v in self.settings.items() if k != "length"}
        # Greedy decoding and beam search have no temperature and no seed.
        for setting in ("temperature", "seed"):
            if not takes(settings, setting):
                settings[setting] = None
        return settings

    def loop(self):
        while True:
            try:
                line = input("> " if self.interactive else "")
            except (EOFError, KeyboardInterrupt):
                print()
                return
            if line.startswith("/"):
                if not self.command(line):
                    return
            elif line:
                self.generate(line)

    def command(self, line):
        name, _, value = line[1:].partition(" ")
        value = value.strip()
        if name in ("quit", "exit"):
            return False
        if name == "help":
            print(HELP)
        elif name == "settings":
            print(", ".join(f"{k}={v}" for k, v in self.settings.items()))
        elif name == "save":
            self.save(value)
        elif name in ("temperature", "length", "ban", "temperature_schedule") or (
            name in COMMANDS
        ):
            self.set(name, value)
        else:
            print(f"unknown command /{name}; /help lists them")
        return True

    def set(self, name, value):
        try:
            if name == "length":
                if not value.isdigit():
                    raise ValueError(
                        f"`length` must be an integer >= 0. Received: {value!r}"
                    )
                candidate = {**self.settings, "length": int(value)}
            elif name == "temperature":
                candidate = {**self.settings, "temperature": float(value)}
            else:
                # 0 turns top-k off and 1 top-p, as they always did.
                if (name == "top_k" and value == "0") or (
                    name == "top_p" and value in ("1", "1.0")
                ):
                    value = "off"
                candidate = parse_command(name, value, self.settings)
            previous, self.settings = self.settings, candidate
            try:
                self.decoders()
            except ValueError:
                self.settings = previous
                raise
        except (ValueError, TypeError) as error:
            print(f"not changed: {error}")
            return
        setting = COMMANDS.get(name, (name,))[0]
        print(f"{setting} = {self.settings[setting]}")

    def generate(self, prompt):
        sampler, processors = self.decoders()
        text = prompt
        try:
            pieces = self.generator.stream(
                prompt, self.settings["length"], sampler, processors=processors
            )
            for piece in pieces:
                sys.stdout.write(piece)
                sys.stdout.flush()
                text += piece
        except KeyboardInterrupt:
            print("\n(stopped)")
        except ValueError as error:  # e.g. on_unknown="raise" and a new character
            print(f"cannot continue this prompt: {error}")
            return
        print()
        self.last = text

    def save(self, filename):
        from keras_chargen.models.saving import replace_atomically

        if self.last is None:
            print("nothing to save yet: generate something first")
        elif not filename:
            print("usage: /save FILE")
        else:
            path = Path(filename).expanduser()
            try:
                replace_atomically(
                    path,
                    lambda tmp: Path(tmp).write_text(
                        self.last + "\n", encoding="utf-8"
                    ),
                )
            except OSError as error:
                print(f"not saved: {error}")
                return
            print(f"saved {len(self.last)} characters to {path}")
