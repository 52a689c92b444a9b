"""keras_chargen.samplers: how the next character is chosen.

One sampler per module, a `Sampler` base class and `get()`, as
`keras_hub.samplers`; `BeamSampler` for beam search; logit processors
(penalties, bans, a temperature schedule) that compose with any of them;
`from_settings()` to build both from plain settings.
"""

from keras_chargen.samplers.banned_strings import BannedStrings
from keras_chargen.samplers.beam_sampler import BeamSampler
from keras_chargen.samplers.frequency_penalty import FrequencyPenalty
from keras_chargen.samplers.greedy_sampler import GreedySampler
from keras_chargen.samplers.logit_processor import LogitProcessor
from keras_chargen.samplers.min_p_sampler import MinPSampler
from keras_chargen.samplers.no_repeat_ngram import NoRepeatNGram
from keras_chargen.samplers.random_sampler import RandomSampler
from keras_chargen.samplers.repetition_penalty import RepetitionPenalty
from keras_chargen.samplers.sampler import Sampler
from keras_chargen.samplers.serialization import get
from keras_chargen.samplers.settings import from_settings
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.samplers.temperature_schedule import TemperatureSchedule
from keras_chargen.samplers.top_k_sampler import TopKSampler
from keras_chargen.samplers.top_p_sampler import TopPSampler
from keras_chargen.samplers.typical_sampler import TypicalSampler

__all__ = [
    "BannedStrings",
    "BeamSampler",
    "FrequencyPenalty",
    "GreedySampler",
    "LogitProcessor",
    "MinPSampler",
    "NoRepeatNGram",
    "RandomSampler",
    "RepetitionPenalty",
    "Sampler",
    "TemperatureSampler",
    "TemperatureSchedule",
    "TopKSampler",
    "TopPSampler",
    "TypicalSampler",
    "from_settings",
    "get",
]
