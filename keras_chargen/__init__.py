"""keras_chargen: Keras 3 components for character-level language models.

Everything public is imported here; docs and examples use only these names.
"""

from keras_chargen.bits_per_character import BitsPerCharacter
from keras_chargen.build_char_lstm import build_char_lstm
from keras_chargen.char_lm import CharLM
from keras_chargen.char_vectorizer import CharVectorizer
from keras_chargen.corpus import CorpusError, list_corpora, load_corpus, strip_gutenberg
from keras_chargen.datasets import make_datasets
from keras_chargen.perplexity_metric import PerplexityMetric
from keras_chargen.temperature_sampler import TemperatureSampler
from keras_chargen.text_generator import TextGenerator

__version__ = "0.1.0"

__all__ = [
    "BitsPerCharacter",
    "CharLM",
    "CharVectorizer",
    "CorpusError",
    "PerplexityMetric",
    "TemperatureSampler",
    "TextGenerator",
    "build_char_lstm",
    "list_corpora",
    "load_corpus",
    "make_datasets",
    "strip_gutenberg",
    "__version__",
]
