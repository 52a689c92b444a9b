"""keras_chargen.samplers: how the next character is chosen.

One sampler per module, a `Sampler` base class and `get()`, as
`keras_hub.samplers`.
"""

from keras_chargen.samplers.greedy_sampler import GreedySampler
from keras_chargen.samplers.min_p_sampler import MinPSampler
from keras_chargen.samplers.random_sampler import RandomSampler
from keras_chargen.samplers.sampler import Sampler
from keras_chargen.samplers.serialization import get
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.samplers.top_k_sampler import TopKSampler
from keras_chargen.samplers.top_p_sampler import TopPSampler
from keras_chargen.samplers.typical_sampler import TypicalSampler

__all__ = [
    "GreedySampler",
    "MinPSampler",
    "RandomSampler",
    "Sampler",
    "TemperatureSampler",
    "TopKSampler",
    "TopPSampler",
    "TypicalSampler",
    "get",
]
