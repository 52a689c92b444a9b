import keras
import numpy as np
import pytest
from keras import ops

from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM
from keras_chargen.models.state_adapter import as_stateful
from keras_chargen.samplers.temperature_sampler import TemperatureSampler

TEXT = "The quick brown fox jumps over the lazy dog.\nROMEO: Wherefore art thou?\n"
# Longer than any training window a test would use: the state must carry it.
LONG_PROMPT = (TEXT * 3)[:150]
PROMPTS = ["T", "ROMEO: ", "", LONG_PROMPT]
GREEDY = TemperatureSampler(temperature=0.0)


def make_vectorizer(**kwargs):
    return CharVectorizer(vocabulary=sorted(set(TEXT)), **kwargs)


def randomize(model, seed=0, scale=0.8):
    """Large random weights, so greedy continuations are far from constant."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.LayerNormalization):
            continue  # its initial gain 1 and offset 0 keep outputs varied
        for weight in layer.weights:
            weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))
    return model


def char_lm(cell="lstm", num_layers=2, layer_norm=False, seed=0):
    model = CharLM(
        make_vectorizer(),
        embedding_dim=8,
        units=16,
        num_layers=num_layers,
        cell=cell,
        layer_norm=layer_norm,
    )
    return randomize(model, seed)


def user_model(activation=None):
    vocabulary_size = make_vectorizer().vocabulary_size()
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocabulary_size, 8),
            keras.layers.LSTM(16, return_sequences=True),
            keras.layers.Dense(vocabulary_size, activation=activation),
        ]
    )
    return randomize(model)


def greedy_by_rerunning(forward, vectorizer, prompt, length):
    """The tutorial's way: run the whole model on the growing prefix per step."""
    vocabulary = vectorizer.get_vocabulary()
    text = prompt
    for _ in range(length):
        # An empty prefix has no position to read logits from.
        assert text, "the reference starts from a non-empty prefix"
        scores = ops.convert_to_numpy(forward(vectorizer.encode(text)[None]))[0, -1]
        text += vocabulary[int(np.argmax(scores[2:])) + 2]  # ids 0, 1 reserved
    return text


def assert_matches_rerunning(generator, model, vectorizer, prompts, length=15):
    texts = generator.generate(prompts, length, sampler=GREEDY)

    def forward(ids):
        return model(ids, training=False)

    for prompt, text in zip(prompts, texts, strict=True):
        # The empty prompt's first character comes from the zero state,
        # which a full-model run cannot express: check from the second one.
        start = prompt or text[0]
        steps = length - (len(start) - len(prompt))
        assert text == greedy_by_rerunning(forward, vectorizer, start, steps)
    continuations = "".join(t[len(p) :] for p, t in zip(prompts, texts, strict=True))
    assert len(set(continuations)) >= 4, continuations


@pytest.fixture(scope="module")
def model():
    return char_lm()


@pytest.fixture(scope="module")
def generator(model):
    return TextGenerator(model)


# ------------------------------------------------------------- correctness
@pytest.mark.parametrize(
    "cell, num_layers, layer_norm",
    [
        ("lstm", 1, False),
        ("lstm", 2, False),
        ("gru", 1, False),
        ("gru", 2, False),
        ("lstm", 2, True),
    ],
)
def test_greedy_output_equals_rerunning_the_model(cell, num_layers, layer_norm):
    model = char_lm(cell, num_layers, layer_norm, seed=1)
    assert_matches_rerunning(TextGenerator(model), model, model.vectorizer, PROMPTS)


@pytest.mark.parametrize("activation", [None, "softmax"])
def test_sequential_user_model_with_explicit_vectorizer(activation):
    model = user_model(activation)
    vectorizer = make_vectorizer()
    generator = TextGenerator(model, vectorizer=vectorizer)
    assert_matches_rerunning(generator, model, vectorizer, PROMPTS)


# ------------------------------------------------------------ construction
def test_unsupported_layer_raises_listing_layers():
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(10, 4),
            keras.layers.Conv1D(8, 3, padding="causal"),
            keras.layers.Dense(10),
        ]
    )
    with pytest.raises(
        ValueError, match=r"Received layers: \['Embedding', 'Conv1D', 'Dense'\]"
    ):
        TextGenerator(model, vectorizer=make_vectorizer())


def test_model_without_embedding_raises():
    model = keras.Sequential(
        [
            keras.Input(shape=(None, 4)),
            keras.layers.LSTM(8, return_sequences=True),
            keras.layers.Dense(10),
        ]
    )
    with pytest.raises(ValueError, match=r"Received layers: \['LSTM', 'Dense'\]"):
        TextGenerator(model, vectorizer=make_vectorizer())


def test_plain_model_without_vectorizer_raises():
    with pytest.raises(ValueError, match="Received a model of type Sequential"):
        TextGenerator(user_model())


# -------------------------------------------------------- length and prompts
def test_length_zero_returns_the_prompts_alone(generator):
    assert generator.generate(["ROMEO", ""], 0) == ["ROMEO", ""]


def test_negative_length_raises(generator):
    with pytest.raises(
        ValueError, match=r"`length` must be >= 0\. Received: length=-1"
    ):
        generator.generate("ROMEO", -1)


def test_texts_are_prompt_plus_exactly_length_characters(generator):
    texts = generator.generate(PROMPTS, 25, sampler=TemperatureSampler(seed=1))
    for prompt, text in zip(PROMPTS, texts, strict=True):
        assert text.startswith(prompt)
        assert len(text) == len(prompt) + 25


def test_single_prompt_returns_a_str(generator):
    text = generator.generate("", 10, sampler=TemperatureSampler(seed=1))
    assert isinstance(text, str)
    assert len(text) == 10


def test_unknown_prompt_characters_become_oov_by_default(generator):
    text = generator.generate("The €uro", 10, sampler=TemperatureSampler(seed=1))
    assert text.startswith("The €uro")
    assert len(text) == 18
    assert "\ufffd" not in text


def test_unknown_prompt_characters_dropped_when_the_vectorizer_drops(model):
    generator = TextGenerator(model, vectorizer=make_vectorizer(on_unknown="drop"))
    with_unknown = generator.generate("The €uro", 10, sampler=GREEDY)
    without = generator.generate("The uro", 10, sampler=GREEDY)
    assert with_unknown == "The €uro" + without[len("The uro") :]


def test_unknown_prompt_characters_raise_when_the_vectorizer_raises(model):
    generator = TextGenerator(model, vectorizer=make_vectorizer(on_unknown="raise"))
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['€'\]"):
        generator.generate("The €uro", 10)


# ----------------------------------------------------------------- sampling
def test_same_seed_gives_the_same_text(generator):
    first = generator.generate(PROMPTS, 30, sampler=TemperatureSampler(seed=7))
    second = generator.generate(PROMPTS, 30, sampler=TemperatureSampler(seed=7))
    assert first == second


def test_different_seeds_give_different_texts(generator):
    first = generator.generate("ROMEO", 30, sampler=TemperatureSampler(seed=7))
    second = generator.generate("ROMEO", 30, sampler=TemperatureSampler(seed=8))
    assert first != second


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_padding_and_oov_ids_are_never_generated(temperature):
    model = char_lm(num_layers=1)
    bias = np.zeros(model.vocabulary_size, dtype="float32")
    bias[:2] = 100.0  # padding and OOV are by far the most likely ids
    model.get_layer("logits").bias.assign(bias)
    sampler = TemperatureSampler(temperature, seed=0)
    texts = TextGenerator(model).generate(["ROMEO", ""], 40, sampler=sampler)
    assert [len(t) for t in texts] == [45, 40]
    assert not any("\ufffd" in t for t in texts)


# ---------------------------------------------------------------- streaming
@pytest.mark.parametrize("chunk_size", [1, 7, 64])
def test_stream_pieces_concatenate_to_generate(generator, chunk_size):
    sampler = TemperatureSampler(seed=3)
    pieces = list(generator.stream("ROMEO", 40, sampler=sampler, chunk_size=chunk_size))
    assert "".join(pieces) == generator.generate("ROMEO", 40, sampler=sampler)[5:]
    assert len(pieces) == -(-40 // chunk_size)


def test_stream_of_length_zero_yields_nothing(generator):
    assert list(generator.stream("ROMEO", 0)) == []


# ------------------------------------------------------------- stop strings
def cut_after(text, stop):
    return text[: text.index(stop) + len(stop)]


def test_generate_cuts_right_after_the_first_stop_string(generator):
    full = generator.generate("ROMEO", 200, sampler=GREEDY)[5:]
    stop = full[10:12]
    text = generator.generate("ROMEO", 200, sampler=GREEDY, stop=stop)
    assert text == "ROMEO" + cut_after(full, stop)


def test_generate_cuts_at_the_earliest_of_several_stop_strings(generator):
    full = generator.generate("ROMEO", 40, sampler=GREEDY)[5:]
    late, early = full[20:22], full[3]
    text = generator.generate("ROMEO", 40, sampler=GREEDY, stop=[late, early])
    assert text == "ROMEO" + cut_after(full, early)


def test_generate_cuts_each_prompt_on_its_own(generator):
    fulls = generator.generate(PROMPTS, 30, sampler=GREEDY)
    stop = fulls[0][len(PROMPTS[0]) :][5]
    texts = generator.generate(PROMPTS, 30, sampler=GREEDY, stop=stop)
    for prompt, full, text in zip(PROMPTS, fulls, texts, strict=True):
        continuation = full[len(prompt) :]
        if stop in continuation:
            continuation = cut_after(continuation, stop)
        assert text == prompt + continuation


def test_stop_string_in_the_prompt_does_not_cut(generator):
    full = generator.generate("ROMEO", 20, sampler=GREEDY)
    absent = next(c for c in "ROME" if c not in full[5:])
    assert generator.generate("ROMEO", 20, sampler=GREEDY, stop=absent) == full


@pytest.mark.parametrize("chunk_size", [1, 8])
def test_stream_cuts_right_after_the_first_stop_string(generator, chunk_size):
    full = generator.generate("ROMEO", 60, sampler=GREEDY)[5:]
    stop = full[7:9]  # straddles the first chunk boundary when chunk_size=8
    pieces = generator.stream(
        "ROMEO", 60, sampler=GREEDY, stop=stop, chunk_size=chunk_size
    )
    assert "".join(pieces) == cut_after(full, stop)


def test_nonstandard_cells_step_with_the_keras_cell():
    vectorizer = make_vectorizer()
    softsign = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(vectorizer.vocabulary_size(), 4),
        keras.layers.LSTM(8, activation="softsign", return_sequences=True),
        keras.layers.Dense(vectorizer.vocabulary_size()),
    ])  # fmt: skip
    softsign = randomize(softsign)
    assert as_stateful(softsign).step_weights() is None
    assert_matches_rerunning(
        TextGenerator(softsign, vectorizer=vectorizer),
        softsign,
        vectorizer,
        ["ab", "World", "c d"],
    )


def test_bfloat16_generation_produces_text(model):
    text = TextGenerator(model, dtype="bfloat16").generate("ab", 30)
    assert len(text) == 32 and "\ufffd" not in text


def test_bad_dtype_raises(model):
    with pytest.raises(ValueError, match="Received: dtype='int8'"):
        TextGenerator(model, dtype="int8")


def test_go_backwards_layers_are_rejected():
    vectorizer = make_vectorizer()
    backwards = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(vectorizer.vocabulary_size(), 4),
        keras.layers.GRU(8, go_backwards=True, return_sequences=True),
        keras.layers.Dense(vectorizer.vocabulary_size()),
    ])  # fmt: skip
    with pytest.raises(ValueError, match="go_backwards=True"):
        TextGenerator(backwards, vectorizer=vectorizer)


def test_vectorizer_must_fit_the_model(model):
    with pytest.raises(
        ValueError, match="The vectorizer has 5 ids but the model's Embedding has"
    ):
        TextGenerator(model, vectorizer=CharVectorizer(vocabulary="abc"))
