"""keras_chargen: Keras 3 components for character-level language models.

Everything public is imported here; docs and examples use only these names.
"""

from keras_chargen import samplers
from keras_chargen.data.corpus import (
    CorpusError,
    list_corpora,
    load_corpus,
    strip_gutenberg,
)
from keras_chargen.data.datasets import make_datasets
from keras_chargen.data.prepare import prepare_corpus
from keras_chargen.data.prepared import PreparedCorpus
from keras_chargen.data.sources import corpus_files
from keras_chargen.data.split import split_text
from keras_chargen.evaluation.char_ngram_model import CharNGramModel
from keras_chargen.evaluation.evaluate import evaluate
from keras_chargen.evaluation.generation_quality import generation_quality
from keras_chargen.evaluation.nearest_characters import char_name, nearest_characters
from keras_chargen.export.export_step_model import export_step_model
from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.metrics.bits_per_character import BitsPerCharacter
from keras_chargen.metrics.perplexity_metric import PerplexityMetric
from keras_chargen.models.build_char_lstm import build_char_lstm
from keras_chargen.models.char_lm import CharLM
from keras_chargen.models.presets import list_presets
from keras_chargen.models.saving import save_model
from keras_chargen.plots.embeddings import plot_embeddings
from keras_chargen.plots.history import plot_history
from keras_chargen.samplers.temperature_sampler import TemperatureSampler
from keras_chargen.training.sample_text_callback import SampleTextCallback
from keras_chargen.training.train import train
from keras_chargen.tuning.search import search

__version__ = "0.1.0"

__all__ = [
    "BitsPerCharacter",
    "CharLM",
    "CharNGramModel",
    "CharVectorizer",
    "CorpusError",
    "PerplexityMetric",
    "SampleTextCallback",
    "TemperatureSampler",
    "TextGenerator",
    "build_char_lstm",
    "char_name",
    "evaluate",
    "export_step_model",
    "generation_quality",
    "list_corpora",
    "list_presets",
    "load_corpus",
    "make_datasets",
    "prepare_corpus",
    "PreparedCorpus",
    "corpus_files",
    "nearest_characters",
    "plot_embeddings",
    "plot_history",
    "samplers",
    "save_model",
    "search",
    "split_text",
    "strip_gutenberg",
    "train",
    "__version__",
]
