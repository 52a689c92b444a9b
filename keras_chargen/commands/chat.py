"""`keras-chargen chat`: the interactive prompt loop."""

import sys
from pathlib import Path

from keras_chargen.commands.common import load_char_model, non_negative_float
from keras_chargen.commands.generate import TEMPERATURE, add_sampling_arguments

HELP = """Type a prompt and press Enter to continue it. Commands:
  /temperature T   sampling temperature (0 = greedy)
  /top_p P         nucleus sampling (1 = off)      /top_k K   (0 = off)
  /length N        characters per answer           /seed S    (none = random)
  /save FILE       save the last generation        /settings  show settings
  /help            this text                       /quit      leave (or Ctrl-D)"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "chat",
        help="interactive generation loop",
        description="Type prompts, read streamed continuations; change sampling "
        "settings and save generations as you go.",
    )
    p.add_argument("model", help="a .keras file written by `keras-chargen train`")
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

    model = load_char_model(args.model)
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
        self.settings = {
            "temperature": args.temperature,
            "top_k": args.top_k,
            "top_p": args.top_p,
            "length": args.length,
            "seed": args.seed,
        }
        self.last = None
        self.interactive = sys.stdin.isatty()

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
        elif name in self.settings:
            self.set(name, value)
        else:
            print(f"unknown command /{name}; /help lists them")
        return True

    def set(self, name, value):
        from keras_chargen.samplers.temperature_sampler import TemperatureSampler

        try:
            parsed = None if value.lower() in ("", "none", "off") else float(value)
            if name in ("top_k", "length", "seed") and parsed is not None:
                parsed = int(parsed)
            if (name == "top_k" and parsed == 0) or (name == "top_p" and parsed == 1):
                parsed = None
            if name == "length" and (parsed is None or parsed < 0):
                raise ValueError(
                    f"`length` must be an integer >= 0. Received: {value!r}"
                )
            candidate = {**self.settings, name: parsed}
            TemperatureSampler(
                *(candidate[k] for k in ("temperature", "top_k", "top_p", "seed"))
            )
        except (ValueError, TypeError) as error:
            print(f"not changed: {error}")
            return
        self.settings[name] = parsed
        print(f"{name} = {parsed}")

    def generate(self, prompt):
        from keras_chargen.samplers.temperature_sampler import TemperatureSampler

        s = self.settings
        sampler = TemperatureSampler(
            s["temperature"], s["top_k"], s["top_p"], s["seed"]
        )
        text = prompt
        try:
            for piece in self.generator.stream(prompt, s["length"], sampler):
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
