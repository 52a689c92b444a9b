"""`load_training_data`: what `train` reads, from any corpus source."""

from typing import NamedTuple

from keras_chargen.data.corpus import load_corpus
from keras_chargen.data.datasets import make_datasets
from keras_chargen.data.prepared import PreparedCorpus, is_prepared_corpus
from keras_chargen.layers.char_vectorizer import CharVectorizer


class TrainingData(NamedTuple):
    """The corpus, its vocabulary and the two datasets `train` fits on.

    `text` is a `str`, or a `PreparedCorpus` for a prepared folder; both
    give the number of characters with `len(text)`.
    """

    text: object
    vectorizer: CharVectorizer
    train_ds: object
    val_ds: object


def load_training_data(
    corpus,
    text,
    sequence_length,
    batch_size,
    validation_split,
    *,
    seed=None,
    verbose=True,
    extend=None,
):
    """Reads a corpus and cuts it into training and validation windows.

    Args:
        corpus: a name, path, URL, folder or glob for `load_corpus`, or a
            folder written by `prepare_corpus` (read through memory maps,
            never whole); ignored when `text` is given.
        text: Optional `str`, the text itself.
        sequence_length, batch_size, validation_split, seed: see
            `make_datasets`.
        verbose: bool, passed to `load_corpus`. Defaults to `True`.
        extend: Optional `CharVectorizer` whose ids are kept: the corpus's
            new characters are added after them (fine-tuning). Defaults to
            `None`: a vocabulary learned from the corpus.

    Returns:
        A `TrainingData`.
    """
    if text is None and is_prepared_corpus(corpus):
        text = PreparedCorpus(corpus)
        characters = "".join(text.vocabulary)
        vectorizer = text.vectorizer()
    else:
        if text is None:
            text = load_corpus(corpus, verbose=verbose)
        characters = text
        vectorizer = CharVectorizer()
        vectorizer.adapt(text)
    if extend is not None:
        # Imported here: models/ builds on data/, not the other way round.
        from keras_chargen.models.vocabulary_extension import extended_vectorizer

        vectorizer = extended_vectorizer(extend, characters)
    train_ds, val_ds = make_datasets(
        text, vectorizer, sequence_length, batch_size, validation_split, seed=seed
    )
    return TrainingData(text, vectorizer, train_ds, val_ds)
