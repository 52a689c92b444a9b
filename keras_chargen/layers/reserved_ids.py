"""The ids `CharVectorizer` reserves, defined once for the whole package.

Id 0 is padding (and the mask value of the model's `Embedding`), id 1 stands
for characters outside the vocabulary, and the vocabulary's characters
follow from id `NUM_RESERVED_IDS`. The sampler never emits a reserved id and
the embedding tools leave their rows out.
"""

PADDING_ID = 0
OOV_ID = 1
# The tokens `CharVectorizer.get_vocabulary()` lists for the reserved ids.
PADDING_TOKEN = ""
OOV_TOKEN = "[UNK]"
# Every id below this one is reserved; the first character gets this id.
NUM_RESERVED_IDS = 2
