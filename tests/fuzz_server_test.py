"""Fuzzing the server's JSON endpoints: every answer is 2xx or 4xx JSON.

hypothesis (as the other fuzz modules, see `fuzz_corpus_test.py` for why
not atheris) rather than schemathesis: schemathesis would generate from
the OpenAPI schema, which is exactly what the server already validates;
these strategies send the schema's fields with values of every JSON type
(huge ints, NaN, lone surrogates, nested objects), unknown fields, and
bodies that are not JSON at all, through a real HTTP client to a real
server on a loopback port. One more dependency would add little.

The short runs are part of the default suite; `-m large` runs each
property on many more inputs (see `fuzzing.py`).
"""

import json
import time

import httpx
import pytest
from conftest import make_text, random_model_file
from fuzzing import fuzz
from hypothesis import example
from hypothesis import strategies as st

# Any code point, lone surrogates included (JSON escapes them as \udXXX).
CHARS = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
TEXTS = st.text(CHARS, max_size=24)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN and infinities too: json.dumps writes them
    TEXTS,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4)
    ),
    max_leaves=8,
)
PROBABILITY = st.floats(-0.5, 1.5) | JSON

GENERATE_FIELDS = {
    "prompt": TEXTS | JSON,
    "prompts": st.lists(TEXTS, max_size=6) | JSON,
    "length": st.integers(-3, 48) | JSON,
    "temperature": st.floats(-1, 3) | JSON,
    "top_k": st.integers(-2, 80) | JSON,
    "top_p": PROBABILITY,
    "min_p": PROBABILITY,
    "typical_p": PROBABILITY,
    "seed": st.integers(-5, 2**64) | JSON,
    "stop": TEXTS | st.lists(st.text(max_size=3), max_size=10) | JSON,
    "stream": st.booleans() | JSON,
}
SCORE_FIELDS = {
    "text": TEXTS | JSON,
    "texts": st.lists(TEXTS, max_size=6) | JSON,
    "prompt": TEXTS | JSON,
    "prompts": st.lists(TEXTS, max_size=6) | JSON,
    "per_character": st.booleans() | JSON,
}


def bodies(fields):
    """Objects with some of `fields` (and now and then an unknown one)."""
    known = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(TEXTS, JSON, max_size=2)
    return st.one_of(known, st.tuples(known, extra).map(lambda p: {**p[1], **p[0]}))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from keras_chargen.models.loading import load_model
    from keras_chargen.serving import BackgroundServer, Limits, create_app

    path = tmp_path_factory.mktemp("fuzz_server") / "run.keras"
    random_model_file(path, make_text(300))
    limits = Limits(max_length=48, max_prompt_chars=64, max_prompts=4)
    app = create_app(load_model(path), model_path=path, limits=limits, max_compiled=4)
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, timeout=60) as c,
    ):
        while c.get("/health").json()["status"] != "ok":
            time.sleep(0.05)
        c.engine = app.state.engine
        yield c


def check_answer(response, body=None):
    """2xx or 4xx, JSON (SSE events of JSON for a stream), errors explained."""
    assert response.status_code < 500, response.text
    if response.headers["content-type"].startswith("text/event-stream"):
        events = [
            json.loads(line[len("data: ") :])
            for line in response.text.splitlines()
            if line.startswith("data: ")
        ]
        assert events and events[-1] == {
            "rows": 1 if "prompt" in body else len(body["prompts"])
        }
        return
    payload = response.json()
    if response.status_code >= 400:
        assert payload["error"]["message"]
        return
    assert response.status_code == 200
    if "choices" in payload:
        for choice in payload["choices"]:
            assert len(choice["text"]) <= body.get("length", 200)
            assert choice["finish_reason"] in ("length", "stop")


def post_json(client, path, body):
    # json.dumps writes NaN / Infinity and escapes lone surrogates, as a
    # careless client would send them.
    data = json.dumps(body).encode("utf-8")
    return client.post(path, content=data, headers={"content-type": "application/json"})


@fuzz(body=bodies(GENERATE_FIELDS))
@example(body={"prompt": "a", "length": 5, "stream": True})
@example(body={"prompt": "\ud800"})
@example(body={"prompt": "a", "temperature": float("nan")})
@example(body={"prompt": "a", "seed": 2**64})
@example(body={"prompts": ["a", "b"], "stop": ["", "x"]})
def test_generate_answers_2xx_or_4xx_json(client, body):
    check_answer(post_json(client, "/v1/generate", body), body)
    # Ever new filter settings compile new loops, but only 4 are kept.
    assert client.engine.stats()["compiled_loops"] <= 4


test_generate_answers_2xx_or_4xx_json_large = (
    test_generate_answers_2xx_or_4xx_json.large
)


@fuzz(body=bodies(SCORE_FIELDS))
@example(body={"texts": ["a", ""], "prompts": ["", "b"]})
@example(body={"text": "", "per_character": True})
def test_score_answers_2xx_or_4xx_json(client, body):
    check_answer(post_json(client, "/v1/score", body), body)


test_score_answers_2xx_or_4xx_json_large = test_score_answers_2xx_or_4xx_json.large


@fuzz(
    data=st.binary(max_size=300),
    path=st.sampled_from(["/v1/generate", "/v1/score", "/v1/model", "/health", "/x"]),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
)
@example(data=b'{"prompt": "a",', path="/v1/generate", content_type="application/json")
@example(data=b"\xff\xfe", path="/v1/score", content_type="application/json")
def test_any_bytes_answer_2xx_or_4xx_json(client, data, path, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(path, content=data, headers=headers)
    assert response.status_code < 500, response.text
    assert response.json()["error"]["message"] or response.status_code == 200


test_any_bytes_answer_2xx_or_4xx_json_large = (
    test_any_bytes_answer_2xx_or_4xx_json.large
)
