"""The JSON bodies of the server's endpoints, as pydantic models.

Strict types (no `"5"` for 5, no `true` for 1), unknown fields refused (a
misspelt `temprature` is an error, not a silent default), finite numbers
only, and text that can be written back as UTF-8 (no lone surrogates).
The server's own limits (`--max-length`, `--max-prompt-chars`, ...) are
checked by `app.py`, which answers 413 for them.
"""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# The sampler settings' defaults, shown in the OpenAPI schema.
TEMPERATURE = 0.8
LENGTH = 200
MAX_STOPS = 8
MAX_STOP_CHARS = 64


def _encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"text must be valid Unicode (no lone surrogates): {error.reason} "
            f"at position {error.start}"
        ) from None
    return text


Text = Annotated[str, AfterValidator(_encodable)]
Stop = Annotated[
    str, Field(min_length=1, max_length=MAX_STOP_CHARS), AfterValidator(_encodable)
]
Probability = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class GenerateRequest(_Body):
    """`POST /v1/generate`: continue `prompt` (or each of `prompts`)."""

    prompt: Text | None = Field(
        None, description="Text to continue. Give `prompt` or `prompts`."
    )
    prompts: list[Text] | None = Field(
        None, min_length=1, description="Several texts to continue, one row each."
    )
    length: int = Field(LENGTH, ge=0, description="Characters to add to each prompt.")
    temperature: float = Field(
        TEMPERATURE, ge=0, le=100, allow_inf_nan=False, description="0 is greedy."
    )
    top_k: int | None = Field(
        None, ge=1, description="Keep the k likeliest characters."
    )
    top_p: Probability | None = Field(None, description="Nucleus sampling mass.")
    min_p: Probability | None = Field(
        None,
        description="Keep characters at least this fraction as likely as the best.",
    )
    typical_p: Probability | None = Field(None, description="Locally typical sampling.")
    seed: int | None = Field(
        None,
        ge=0,
        lt=2**63,
        description="Same seed, same text, alone or batched with others. "
        "Row i of `prompts` uses `seed + i`. Random when left out (the reply says which).",
    )
    stop: Stop | list[Stop] | None = Field(
        None, description="End each text right after the first of these strings."
    )
    stream: bool = Field(False, description="Answer with Server-Sent Events.")

    def prompt_list(self):
        """The prompts as a list; raises `ValueError` unless exactly one field is set."""
        if (self.prompt is None) == (self.prompts is None):
            raise ValueError(
                "give exactly one of `prompt` and `prompts`. Received: "
                f"prompt={_short(self.prompt)}, prompts={_short(self.prompts)}"
            )
        return [self.prompt] if self.prompts is None else self.prompts

    def stop_list(self):
        if self.stop is None:
            return []
        stops = [self.stop] if isinstance(self.stop, str) else self.stop
        if len(stops) > MAX_STOPS:
            raise ValueError(
                f"`stop` takes at most {MAX_STOPS} strings. Received: {len(stops)}"
            )
        return stops


class ScoreRequest(_Body):
    """`POST /v1/score`: log-probabilities of texts (optionally after prompts)."""

    text: Text | None = Field(None, description="A text to score.")
    texts: list[Text] | None = Field(None, min_length=1, description="Texts to score.")
    prompt: Text | None = Field(None, description="Context for `text` (not scored).")
    prompts: list[Text] | None = Field(None, description="One context per text.")
    per_character: bool = Field(
        False, description="Also return each character's log-probability."
    )

    def text_lists(self):
        """`(texts, prompts or None)`; raises `ValueError` for a bad combination."""
        if (self.text is None) == (self.texts is None):
            raise ValueError(
                "give exactly one of `text` and `texts`. Received: "
                f"text={_short(self.text)}, texts={_short(self.texts)}"
            )
        if self.text is not None:
            if self.prompts is not None:
                raise ValueError(
                    "`prompts` goes with `texts`; use `prompt` with `text`"
                )
            return [self.text], None if self.prompt is None else [self.prompt]
        if self.prompt is not None:
            raise ValueError("`prompt` goes with `text`; use `prompts` with `texts`")
        if self.prompts is not None and len(self.prompts) != len(self.texts):
            raise ValueError(
                "`prompts` must have one prompt per text. Received: "
                f"{len(self.prompts)} prompts for {len(self.texts)} texts"
            )
        return self.texts, self.prompts


def _short(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
