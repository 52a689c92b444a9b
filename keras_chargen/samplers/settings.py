"""`from_settings`: a sampler and logit processors from plain settings.

One mapping from flat, JSON-friendly settings (what a command line, a chat
command or an HTTP request carries) to the library's objects, so every
front end builds them, and rejects bad values, the same way.
"""

from keras_chargen.samplers.banned_strings import BannedStrings
from keras_chargen.samplers.beam_sampler import BeamSampler
from keras_chargen.samplers.frequency_penalty import FrequencyPenalty
from keras_chargen.samplers.greedy_sampler import GreedySampler
from keras_chargen.samplers.min_p_sampler import MinPSampler
from keras_chargen.samplers.no_repeat_ngram import NoRepeatNGram
from keras_chargen.samplers.random_sampler import RandomSampler
from keras_chargen.samplers.repetition_penalty import RepetitionPenalty
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.samplers.temperature_schedule import TemperatureSchedule
from keras_chargen.samplers.top_k_sampler import TopKSampler
from keras_chargen.samplers.top_p_sampler import TopPSampler
from keras_chargen.samplers.typical_sampler import TypicalSampler

# Each sampler name, its class and the settings it takes (setting name ->
# the class's argument name).
SAMPLER_SETTINGS = {
    "beam": (
        BeamSampler,
        {
            "num_beams": "num_beams",
            "length_penalty": "length_penalty",
            "return_all_beams": "return_all_beams",
        },
    ),
    "greedy": (GreedySampler, {}),
    "min_p": (
        MinPSampler,
        {"min_p": "min_p", "temperature": "temperature", "seed": "seed"},
    ),
    "random": (RandomSampler, {"temperature": "temperature", "seed": "seed"}),
    "temperature": (
        TemperatureSampler,
        {
            "temperature": "temperature",
            "top_k": "top_k",
            "top_p": "top_p",
            "seed": "seed",
        },
    ),
    "top_k": (
        TopKSampler,
        {"top_k": "k", "temperature": "temperature", "seed": "seed"},
    ),
    "top_p": (
        TopPSampler,
        {"top_p": "p", "temperature": "temperature", "seed": "seed"},
    ),
    "typical": (
        TypicalSampler,
        {"typical_p": "p", "temperature": "temperature", "seed": "seed"},
    ),
}
PENALTIES = ("repetition_penalty", "frequency_penalty", "presence_penalty")
PROCESSOR_SETTINGS = (
    *PENALTIES,
    "penalty_window",
    "no_repeat_ngram",
    "ban",
    "temperature_schedule",
)
SETTINGS = (
    "sampler",
    *dict.fromkeys(k for _, keys in SAMPLER_SETTINGS.values() for k in keys),
    *PROCESSOR_SETTINGS,
)


def from_settings(settings):
    """Returns `(sampler, processors)` built from a dict of settings.

    A setting that is absent or `None` is not set. The sampler:

    - `sampler`: one of `"beam"`, `"greedy"`, `"min_p"`, `"random"`,
      `"temperature"`, `"top_k"`, `"top_p"`, `"typical"`. When not set:
      `"beam"` if `num_beams` is set, else `"min_p"` if `min_p` is, else
      `"typical"` if `typical_p` is, else `"temperature"` (which takes
      `top_k` and `top_p`).
    - its arguments: `temperature`, `seed` (every sampler but `greedy` and
      `beam`); `top_k`, `top_p` (`temperature`, or `k` of `top_k` / `p` of
      `top_p`); `min_p`; `typical_p` (`p` of `typical`); `num_beams`,
      `length_penalty`, `return_all_beams` (`beam`). The sampler's own
      defaults fill the rest.

    The processors, in this order:

    - `repetition_penalty` -> `RepetitionPenalty(penalty)`;
    - `frequency_penalty`, `presence_penalty` -> one `FrequencyPenalty`;
    - `penalty_window`: the `window` of those penalties and of
      `NoRepeatNGram` (each class's default otherwise);
    - `no_repeat_ngram` -> `NoRepeatNGram(n)`;
    - `ban`: a str or a list of str -> `BannedStrings(strings)`;
    - `temperature_schedule`: `[start, end, steps]` ->
      `TemperatureSchedule(start, end, steps)`.

    Args:
        settings: a dict of the settings above.

    Returns:
        `(sampler, processors)`: a sampler and a list of processors
        (possibly empty), ready for `TextGenerator.generate()`.

    Raises:
        ValueError: for an unknown setting or sampler name, a setting that
            the chosen sampler does not take, `penalty_window` without a
            penalty or `no_repeat_ngram`, or a value its class rejects (the
            message names the argument and the value).

    Example:

    ```python
    sampler, processors = keras_chargen.samplers.from_settings(
        {"min_p": 0.05, "seed": 1, "repetition_penalty": 1.2, "ban": ["#"]}
    )
    generator.generate("ROMEO:", 200, sampler=sampler, processors=processors)
    ```
    """
    if not isinstance(settings, dict):
        raise ValueError(
            f"`settings` must be a dict. Received: settings={settings!r:.60}"
        )
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(
            f"Unknown setting {unknown[0]!r}. Known settings: "
            f"{', '.join(SETTINGS)}. Received: {unknown[0]}={settings[unknown[0]]!r:.40}"
        )
    given = {k: v for k, v in settings.items() if v is not None}
    return _sampler(given), _processors(given)


def sampler_name(settings):
    """The name of the sampler `from_settings(settings)` builds."""
    given = {k: v for k, v in settings.items() if v is not None}
    return given.get("sampler", _implied_sampler(given))


def _sampler(given):
    name = sampler_name(given)
    if name not in SAMPLER_SETTINGS:
        raise ValueError(
            f"Unknown sampler. Known samplers: {', '.join(sorted(SAMPLER_SETTINGS))}. "
            f"Received: sampler={name!r}"
        )
    cls, arguments = SAMPLER_SETTINGS[name]
    sampler_keys = {k for _, keys in SAMPLER_SETTINGS.values() for k in keys}
    for key in sorted(sampler_keys & set(given)):
        if key not in arguments:
            takes = ", ".join(arguments) or "no settings"
            raise ValueError(
                f"`{key}` does not apply to the {name!r} sampler (it takes {takes}). "
                f"Received: sampler={name!r}, {key}={given[key]!r}"
            )
    return cls(**{arguments[k]: v for k, v in given.items() if k in arguments})


def _implied_sampler(given):
    if "num_beams" in given:
        return "beam"
    if "min_p" in given:
        return "min_p"
    if "typical_p" in given:
        return "typical"
    return "temperature"


def _processors(given):
    window = (
        {} if "penalty_window" not in given else {"window": given["penalty_window"]}
    )
    if window and not any(k in given for k in (*PENALTIES, "no_repeat_ngram")):
        raise ValueError(
            "`penalty_window` needs a penalty or `no_repeat_ngram` to apply to. "
            f"Received: penalty_window={given['penalty_window']!r} alone"
        )
    processors = []
    if "repetition_penalty" in given:
        processors.append(RepetitionPenalty(given["repetition_penalty"], **window))
    if "frequency_penalty" in given or "presence_penalty" in given:
        processors.append(
            FrequencyPenalty(
                given.get("frequency_penalty", 0.0),
                given.get("presence_penalty", 0.0),
                **window,
            )
        )
    if "no_repeat_ngram" in given:
        processors.append(NoRepeatNGram(given["no_repeat_ngram"], **window))
    if given.get("ban"):
        processors.append(BannedStrings(given["ban"]))
    if "temperature_schedule" in given:
        schedule = given["temperature_schedule"]
        if not isinstance(schedule, list | tuple) or len(schedule) != 3:
            raise ValueError(
                "`temperature_schedule` must be [start, end, steps]. "
                f"Received: temperature_schedule={schedule!r}"
            )
        processors.append(TemperatureSchedule(*schedule))
    return processors
