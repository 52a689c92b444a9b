"""`SampleTextCallback`: generations from fixed prompts while training."""

import keras

from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.samplers.temperature_sampler import TemperatureSampler


class SampleTextCallback(keras.callbacks.Callback):
    """Generates text from fixed prompts every `every` epochs.

    Seeing samples improve is the quickest check that training works. The
    samples are kept as data in `callback.samples` (a list of dicts with
    `epoch`, `prompt`, `temperature` and `text`) and printed only when
    `verbose`. Generation uses a seeded sampler and the model's weights
    read-only, so it never changes the training result: the same seed gives
    the same weights with or without this callback.

    **Note:** the samples are not put into `logs`: Keras' progress bar,
    which runs after user callbacks, averages every value in `logs` and
    fails on strings.

    Args:
        prompts: a `str` or list of `str` to continue. Defaults to `"\\n"`.
        length: int, characters generated per sample. Defaults to `200`.
        temperatures: a float or list of floats (0 = greedy). Defaults to
            `(0.5, 1.0)`.
        every: int, sample every this many epochs. Defaults to `1`.
        seed: int seed of the samplers. Defaults to `1337`.
        vectorizer: the `CharVectorizer`, when the model does not hold one.
            Defaults to `None` (use `model.vectorizer`).
        verbose: bool, print the samples. Defaults to `True`.

    Example:

    ```python
    callback = keras_chargen.SampleTextCallback(["ROMEO:"], temperatures=[0.8])
    model.fit(train_ds, epochs=3, callbacks=[callback])
    callback.samples[-1]["text"]
    ```
    """

    def __init__(
        self,
        prompts="\n",
        length=200,
        temperatures=(0.5, 1.0),
        every=1,
        seed=1337,
        vectorizer=None,
        verbose=True,
    ):
        super().__init__()
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise ValueError(
                f"`prompts` must be a str or a non-empty list of str. Received: prompts={prompts!r}"
            )
        if isinstance(temperatures, int | float):
            temperatures = [temperatures]
        samplers = [TemperatureSampler(t, seed=seed) for t in temperatures]
        if not samplers:
            raise ValueError("`temperatures` must not be empty. Received: []")
        if not isinstance(every, int) or every < 1:
            raise ValueError(
                f"`every` must be a positive int. Received: every={every!r}"
            )
        if not isinstance(length, int) or length < 1:
            raise ValueError(
                f"`length` must be a positive int. Received: length={length!r}"
            )
        self.prompts = prompts
        self.length = length
        self.temperatures = [float(t) for t in temperatures]
        self.every = every
        self.seed = seed
        self.vectorizer = vectorizer
        self.verbose = verbose
        self.samples = []
        self._samplers = samplers
        self._generator = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        if self._generator is None:
            self._generator = TextGenerator(self.model, vectorizer=self.vectorizer)
        for temperature, sampler in zip(self.temperatures, self._samplers, strict=True):
            texts = self._generator.generate(self.prompts, self.length, sampler)
            for prompt, text in zip(self.prompts, texts, strict=True):
                sample = {
                    "epoch": epoch + 1,
                    "prompt": prompt,
                    "temperature": temperature,
                    "text": text,
                }
                self.samples.append(sample)
                if self.verbose:
                    print(
                        f"\n--- epoch {epoch + 1}, temperature {temperature}:\n{text}"
                    )
