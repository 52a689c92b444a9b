"""The decoding options of `generate` and `chat`: flags, /commands, objects.

One place defines the sampler and logit-processor flags, the chat
/commands that change the same settings, and their conversion into a
sampler and processors (through `keras_chargen.samplers.from_settings`,
which the server uses too). Values are checked by the library classes; a
bad one becomes a one-line `CliError`.
"""

import argparse

from keras_chargen.commands.common import CliError, number, positive_int, probability


def integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


# flag -> (setting, argparse type, help). `--top-k`, `--top-p` and `--seed`
# keep the checks they always had; the library checks the rest.
FLAGS = {
    "--top-k": ("top_k", positive_int, "sample only among the k likeliest characters"),
    "--top-p": (
        "top_p",
        probability,
        "nucleus sampling: the smallest set holding this probability",
    ),
    "--min-p": ("min_p", number, "min-p sampling: keep p >= MIN_P * p_max, in (0, 1]"),
    "--typical": ("typical_p", number, "locally typical sampling, mass in (0, 1]"),
    "--beams": ("num_beams", integer, "beam search with this many beams (>= 1)"),
    "--length-penalty": (
        "length_penalty",
        number,
        "beam search: rank beams cut by --stop by log p / len**X",
    ),
    "--repetition-penalty": (
        "repetition_penalty",
        number,
        "CTRL penalty (> 0; > 1 penalises) on characters of the last --penalty-window",
    ),
    "--frequency-penalty": (
        "frequency_penalty",
        number,
        "subtract X * count of each character in the window from its logit",
    ),
    "--presence-penalty": (
        "presence_penalty",
        number,
        "subtract X from the logit of each character present in the window",
    ),
    "--penalty-window": (
        "penalty_window",
        integer,
        "characters the penalties and --no-repeat-ngram look back over",
    ),
    "--no-repeat-ngram": (
        "no_repeat_ngram",
        integer,
        "never repeat a character n-gram of this length",
    ),
    "--seed": ("seed", int, "seed for reproducible samples"),
}

# chat's /commands: name -> (setting, parse of the text after it).
COMMANDS = {
    "sampler": ("sampler", str),
    "top_k": ("top_k", int),
    "top_p": ("top_p", float),
    "min_p": ("min_p", float),
    "typical": ("typical_p", float),
    "beams": ("num_beams", int),
    "length_penalty": ("length_penalty", float),
    "repetition_penalty": ("repetition_penalty", float),
    "frequency_penalty": ("frequency_penalty", float),
    "presence_penalty": ("presence_penalty", float),
    "penalty_window": ("penalty_window", int),
    "no_repeat_ngram": ("no_repeat_ngram", int),
    "seed": ("seed", int),
}

COMMANDS_HELP = """  /sampler NAME     beam, greedy, min_p, random, temperature, top_k, top_p, typical
  /min_p P  /typical P  /beams N  /length_penalty X   sampler settings
  /repetition_penalty X  /frequency_penalty X  /presence_penalty X
  /penalty_window N  /no_repeat_ngram N               penalties (off: none)
  /ban TEXT         never write TEXT (repeatable)   /ban off   clear the bans
  /temperature_schedule START END STEPS             (off: none)"""


def add_decoding_arguments(parser):
    """Adds `--sampler` and the flags of every sampler and processor."""
    from keras_chargen.samplers.settings import SAMPLER_SETTINGS

    parser.add_argument(
        "--sampler",
        choices=sorted(SAMPLER_SETTINGS),
        help="how the next character is chosen (default: beam with --beams, min_p "
        "with --min-p, typical with --typical, else temperature)",
    )
    for flag, (setting, kind, text) in FLAGS.items():
        parser.add_argument(flag, dest=setting, type=kind, help=text)
    parser.add_argument(
        "--ban",
        action="append",
        metavar="TEXT",
        help="never generate TEXT (a character or a string; repeatable)",
    )
    parser.add_argument(
        "--temperature-schedule",
        nargs=3,
        type=number,
        metavar=("START", "END", "STEPS"),
        help="divide the logits by a temperature going from START to END over "
        "STEPS characters (on top of --temperature)",
    )


def settings_from_args(args):
    """The decoding settings of parsed arguments, for `from_settings`."""
    settings = {"sampler": args.sampler, "ban": args.ban}
    settings.update({setting: getattr(args, setting) for setting, *_ in FLAGS.values()})
    schedule = args.temperature_schedule
    if schedule is not None:
        start, end, steps = schedule
        settings["temperature_schedule"] = [
            start,
            end,
            int(steps) if float(steps).is_integer() else steps,
        ]
    return settings


def takes(settings, setting):
    """Whether the sampler `settings` choose takes `setting` (e.g. "seed")."""
    from keras_chargen.samplers.settings import SAMPLER_SETTINGS, sampler_name

    name = sampler_name(settings)
    return name in SAMPLER_SETTINGS and setting in SAMPLER_SETTINGS[name][1]


def build(settings):
    """`(sampler, processors)` from settings, or `CliError` saying what is wrong."""
    from keras_chargen.samplers.settings import from_settings

    try:
        return from_settings(settings)
    except ValueError as error:
        raise CliError(str(error)) from None


def parse_command(name, value, settings):
    """The settings after chat's `/name value` (`ValueError` if unreadable).

    `off`, `none` or nothing unsets a setting (`/ban off` clears every
    ban, `/ban TEXT` adds one). The caller checks the result by building it.
    """
    if name == "temperature_schedule":
        if value.lower() in ("", "off", "none"):
            return {**settings, "temperature_schedule": None}
        try:
            start, end, steps = value.split()
            schedule = [float(start), float(end), int(steps)]
        except ValueError:
            raise ValueError(
                "`temperature_schedule` must be START END STEPS, e.g. 1.2 0.6 80. "
                f"Received: {value!r}"
            ) from None
        return {**settings, "temperature_schedule": schedule}
    if name == "ban":
        bans = [] if value.lower() in ("", "off", "none") else [value]
        bans = [*(settings.get("ban") or []), *bans] if bans else None
        candidate = {**settings, "ban": bans}
    else:
        setting, parse = COMMANDS[name]
        if value.lower() in ("", "off", "none"):
            parsed = None
        else:
            try:
                parsed = parse(value)
            except ValueError:
                kind = {int: "an integer", float: "a number"}.get(parse, "a name")
                raise ValueError(
                    f"`{setting}` must be {kind}. Received: {value!r}"
                ) from None
        candidate = {**settings, setting: parsed}
    return candidate
