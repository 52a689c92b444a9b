"""`keras-chargen serve`: a real server process on a free loopback port.

One server per module, started through the command line; a real HTTP
client (httpx) reads its JSON and its Server-Sent Events.
"""

import concurrent.futures
import hashlib
import json
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from conftest import make_text, random_model_file, run_cli

TEXT = make_text(400)
MAX_LENGTH = 60_000  # long enough that a row is still running when its client leaves
MAX_CONCURRENT = 20


def _start(model_path, *flags):
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_chargen_cli", "serve", str(model_path),
         "--port", "0", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"server did not start: {line!r} {process.stderr.read()}")
    url = match.group(1)
    deadline = time.monotonic() + 120
    while httpx.get(url + "/health").json()["status"] != "ok":
        assert time.monotonic() < deadline, "the engine did not warm up"
        time.sleep(0.1)
    return process, url


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "run.keras"
    random_model_file(path, TEXT)
    return path


@pytest.fixture(scope="module")
def server(model_file):
    process, url = _start(
        model_file, "--max-length", str(MAX_LENGTH), "--max-concurrent",
        str(MAX_CONCURRENT), "--max-prompts", "4", "--max-prompt-chars", "500",
    )  # fmt: skip
    yield {"url": url, "pid": process.pid, "model": model_file, "process": process}
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server["url"], timeout=60) as c:
        yield c


def post_json(client, path, body):
    # json.dumps escapes lone surrogates (httpx's `json=` refuses them).
    data = json.dumps(body).encode("utf-8")
    return client.post(path, content=data, headers={"content-type": "application/json"})


def generate(client, **body):
    response = client.post("/v1/generate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def sse_events(lines):
    """`(name, data)` pairs from an iterator of SSE lines."""
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            yield name, json.loads(line[len("data: ") :])


def stream(client, **body):
    """The streamed text and the end event of one prompt."""
    text, end = "", None
    with client.stream("POST", "/v1/generate", json={**body, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for name, data in sse_events(r.iter_lines()):
            if name == "text":
                text += data["text"]
            elif name == "end":
                end = data
            elif name == "done":
                break
    return text, end


def health(client):
    return client.get("/health").json()


# ---------------------------------------------------------------- endpoints
def test_health_and_model_info(client, server):
    assert health(client)["status"] == "ok"
    info = client.get("/v1/model").json()
    digest = hashlib.sha256(server["model"].read_bytes()).hexdigest()
    assert info["sha256"] == digest
    assert info["file"] == "run.keras"
    assert info["vocabulary"][2:] == sorted(set(TEXT))
    assert info["vocabulary_size"] == len(set(TEXT)) + 2
    assert info["settings"]["units"] == 8
    assert info["limits"]["max_length"] == MAX_LENGTH


def test_openapi_schema_and_playground_page(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/generate", "/v1/score", "/v1/model", "/health"} <= set(schema["paths"])
    props = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert {"prompt", "prompts", "temperature", "top_p", "seed", "stream"} <= set(props)
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="generate"' in page.text and 'id="stop"' in page.text


def test_generate_is_reproducible_from_its_seed(client):
    first = generate(client, prompt="the ", length=80, seed=7, temperature=1.0)
    second = generate(client, prompt="the ", length=80, seed=7, temperature=1.0)
    other = generate(client, prompt="the ", length=80, seed=8, temperature=1.0)
    (choice,) = first["choices"]
    assert choice == second["choices"][0]
    assert choice["text"] != other["choices"][0]["text"]
    assert len(choice["text"]) == 80 and set(choice["text"]) <= set(TEXT)
    assert (choice["prompt"], choice["finish_reason"], choice["seed"]) == (
        "the ",
        "length",
        7,
    )


def test_unseeded_reply_names_the_seed_that_reproduces_it(client):
    choice = generate(client, prompt="a", length=40)["choices"][0]
    again = generate(client, prompt="a", length=40, seed=choice["seed"])
    assert again["choices"][0]["text"] == choice["text"]


def test_greedy_rows_ignore_the_seed(client):
    texts = {
        generate(client, prompt="the ", length=30, temperature=0, seed=s)["choices"][0][
            "text"
        ]
        for s in (1, 2, 3)
    }
    assert len(texts) == 1


def test_prompts_run_as_rows_with_consecutive_seeds(client):
    both = generate(client, prompts=["the ", "a "], length=30, seed=4)["choices"]
    alone = generate(client, prompt="a ", length=30, seed=5)["choices"][0]
    assert [c["seed"] for c in both] == [4, 5]
    assert both[1]["text"] == alone["text"]


def test_stop_string_ends_the_text_after_it(client):
    choice = generate(client, prompt="the ", length=300, seed=3, stop=["e", "zz"])
    choice = choice["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["text"].endswith("e") and "e" not in choice["text"][:-1]


def test_stream_gives_the_json_text(client):
    text, end = stream(client, prompt="the ", length=50, seed=11, top_p=0.9)
    expected = generate(client, prompt="the ", length=50, seed=11, top_p=0.9)
    assert text == expected["choices"][0]["text"]
    assert end == {"index": 0, "finish_reason": "length", "seed": 11}


def test_samplers_filter_the_distribution(client):
    # min_p=1 and top_k=1 keep only the likeliest id: greedy decoding.
    greedy = generate(client, prompt="the ", length=40, temperature=0)
    for settings in ({"min_p": 1.0}, {"top_k": 1}):
        sampled = generate(client, prompt="the ", length=40, seed=2, **settings)
        assert sampled["choices"][0]["text"] == greedy["choices"][0]["text"]


def test_score_matches_the_library(client, server):
    from keras_chargen.models.loading import load_model

    body = {"texts": ["the cat", "a dog"], "prompts": ["", "the "], "per_character": 1}
    assert client.post("/v1/score", json=body).status_code == 422  # strict bool
    body["per_character"] = True
    scores = client.post("/v1/score", json=body).json()["scores"]
    expected = load_model(server["model"]).score(body["texts"], body["prompts"])
    for got, want in zip(scores, expected, strict=True):
        np.testing.assert_allclose(got["log_probabilities"], want, atol=1e-5)
        assert got["characters"] == len(want)
        assert got["log_probability"] == pytest.approx(float(np.sum(want)), abs=1e-4)


# -------------------------------------------------------------- concurrency
def test_sixteen_concurrent_streams_reproduce_their_seeds(client, server):
    prompts = [("the ", "a ", "queen ", "")[i % 4] + "x" * (i // 4) for i in range(16)]
    alone = [
        generate(client, prompt=p, length=120, seed=100 + i, temperature=0.9)
        for i, p in enumerate(prompts)
    ]
    with httpx.Client(base_url=server["url"], timeout=60) as shared:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            together = list(
                pool.map(
                    lambda ip: stream(
                        shared, prompt=ip[1], length=120, seed=100 + ip[0],
                        temperature=0.9,
                    ),
                    enumerate(prompts),
                )
            )  # fmt: skip
    assert [t for t, _ in together] == [a["choices"][0]["text"] for a in alone]
    assert all(end["finish_reason"] == "length" for _, end in together)


def test_a_disconnected_client_stops_its_row(client, server):
    before = health(client)["rows_cancelled"]
    with httpx.Client(base_url=server["url"], timeout=30) as leaving:
        body = {"prompt": "the ", "length": MAX_LENGTH, "stream": True}
        with leaving.stream("POST", "/v1/generate", json=body) as response:
            name, data = next(sse_events(response.iter_lines()))
            assert name == "text" and data["text"]
    # The row would run for seconds more; leaving drops it at a chunk boundary.
    deadline = time.monotonic() + 10
    while health(client)["rows_cancelled"] == before:
        assert time.monotonic() < deadline, health(client)
        time.sleep(0.05)
    assert health(client)["active_rows"] == 0


def test_a_client_that_does_not_read_stalls_no_one(client, server):
    body = {"prompt": "the ", "length": MAX_LENGTH, "stream": True}
    with httpx.Client(base_url=server["url"], timeout=30) as slow:
        with slow.stream("POST", "/v1/generate", json=body):
            started = time.monotonic()
            for seed in range(3):
                generate(client, prompt="a", length=200, seed=seed)
            elapsed = time.monotonic() - started
            assert health(client)["active_rows"] == 1  # still generating, unread
    assert elapsed < 10


def test_over_max_concurrent_is_429_and_capacity_returns(client, server):
    body = {"prompt": "the ", "length": MAX_LENGTH, "stream": True}
    with httpx.Client(base_url=server["url"], timeout=30) as busy:
        streams = [busy.stream("POST", "/v1/generate", json=body) for _ in range(20)]
        responses = [s.__enter__() for s in streams]
        try:
            assert all(r.status_code == 200 for r in responses)
            refused = client.post("/v1/generate", json={"prompt": "a", "length": 5})
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            error = refused.json()["error"]
            assert "--max-concurrent" in error["message"]
        finally:
            for s in streams:
                s.__exit__(None, None, None)
    deadline = time.monotonic() + 10
    while health(client)["in_flight_requests"]:
        assert time.monotonic() < deadline, health(client)
        time.sleep(0.05)
    assert generate(client, prompt="a", length=5)["choices"][0]["finish_reason"]


def test_bounded_load(client, server):
    """64 requests, 8 at a time: requests/s, p50/p99 latency, no errors."""
    bodies = [{"prompt": "the ", "length": 100, "seed": i} for i in range(64)]

    def timed(body):
        start = time.perf_counter()
        response = client.post("/v1/generate", json=body)
        return time.perf_counter() - start, response.status_code

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(timed, bodies))
    wall = time.perf_counter() - start
    latencies = sorted(t for t, _ in results)
    errors = sum(code != 200 for _, code in results)
    print(
        f"\nload: {len(bodies)} requests x 100 chars, 8 at a time: "
        f"{len(bodies) / wall:.1f} requests/s, p50 {np.percentile(latencies, 50):.3f} s, "
        f"p99 {np.percentile(latencies, 99):.3f} s, errors {errors}"
    )
    assert errors == 0


# --------------------------------------------------------------- bad input
BAD_BODIES = [
    ({"prompt": "a", "length": "5"}, "length", "5"),
    ({"prompt": "a", "length": True}, "length", True),
    ({"prompt": "a", "length": -1}, "length", -1),
    ({"prompt": "a", "temperature": -0.5}, "temperature", -0.5),
    ({"prompt": "a", "temperature": "hot"}, "temperature", "hot"),
    ({"prompt": "a", "top_p": 1.5}, "top_p", 1.5),
    ({"prompt": "a", "top_p": 0}, "top_p", 0),
    ({"prompt": "a", "top_k": 0}, "top_k", 0),
    ({"prompt": "a", "min_p": 2}, "min_p", 2),
    ({"prompt": "a", "min_p": 0.1, "top_k": 3}, "min_p", 0.1),
    ({"prompt": "a", "typical_p": 0.5, "top_p": 0.5}, "typical_p", 0.5),
    ({"prompt": "a", "seed": -3}, "seed", -3),
    ({"prompt": "a", "seed": 2**70}, "seed", str(2**70)),
    ({"prompt": "a", "seed": 1.5}, "seed", 1.5),
    ({"prompt": 5}, "prompt", 5),
    ({"prompt": "\ud800"}, "prompt", "\\ud800"),
    ({"prompts": []}, "prompts", "[]"),
    ({"prompts": ["a", 3]}, "prompts[1]", 3),
    ({"prompt": "a", "stop": [""]}, "stop", '[""]'),
    ({"prompt": "a", "stop": ["e"] * 9}, "stop", None),
    ({"prompt": "a", "stream": "yes"}, "stream", "yes"),
    ({"prompt": "a", "temprature": 1}, "temprature", 1),
    ({}, "prompt", None),
    ({"prompt": "a", "prompts": ["b"]}, "prompt", None),
]


@pytest.mark.parametrize("body, field, received", BAD_BODIES)
def test_bad_generate_body_is_422_naming_field_and_value(client, body, field, received):
    response = post_json(client, "/v1/generate", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["received"] == received
    assert error["message"]


def test_non_finite_numbers_are_422(client):
    raw = b'{"prompt": "a", "temperature": NaN}'
    response = client.post(
        "/v1/generate", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "temperature"
    assert response.json()["error"]["received"] == "NaN"


@pytest.mark.parametrize(
    "content, content_type, needle",
    [
        (b'{"prompt": "a",', "application/json", "not valid JSON"),
        (b"\xff\xfe\x00", "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "valid dictionary"),
        (b'{"prompt": "a"}', "text/plain", "Content-Type"),
    ],
)
def test_malformed_bodies_are_422(client, content, content_type, needle):
    response = client.post(
        "/v1/generate", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 422
    assert needle in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"prompt": "a", "length": MAX_LENGTH + 1}, "length"),
        ({"prompt": "x" * 501}, "prompts[0]"),
        ({"prompts": ["a"] * 5}, "prompts"),
    ],
)
def test_over_the_limits_is_413(client, body, field):
    response = client.post("/v1/generate", json=body)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["field"] == field and "--max-" in error["message"]


def test_a_huge_body_is_413_before_it_is_parsed(client):
    response = client.post("/v1/generate", json={"prompt": "x" * 2_000_000})
    assert response.status_code == 413
    assert "bytes" in response.json()["error"]["message"]


def test_unknown_paths_and_methods_are_json(client):
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    wrong = client.get("/v1/generate")
    assert wrong.status_code == 405 and "error" in wrong.json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"texts": []}, "texts"),
        ({"text": "a", "texts": ["b"]}, "texts"),
        ({"texts": ["a", "b"], "prompts": ["c"]}, "texts"),
        ({"text": 3}, "text"),
    ],
)
def test_bad_score_body_is_422(client, body, field):
    response = client.post("/v1/score", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def _rss_kib(pid):
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def test_bad_input_does_not_grow_memory(client, server):
    def burst():
        for i in range(100):
            body, _, _ = BAD_BODIES[i % len(BAD_BODIES)]
            assert post_json(client, "/v1/generate", body).status_code == 422
            too_long = {"prompt": "x", "length": MAX_LENGTH + 1 + i}
            assert client.post("/v1/generate", json=too_long).status_code == 413

    burst()  # allocator pools settle
    before = _rss_kib(server["pid"])
    for _ in range(3):
        burst()
    grown = _rss_kib(server["pid"]) - before
    assert grown < 20_000, f"RSS grew {grown} KiB over 600 bad requests"
    assert health(client)["status"] == "ok"


# ---------------------------------------------------------------- the command
def test_serve_a_missing_file_is_one_line_exit_2(tmp_path, capsys):
    code = run_cli(["serve", str(tmp_path / "none.keras")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "does not exist" in err


def test_serve_an_unknown_preset_lists_the_presets(capsys):
    code = run_cli(["serve", "--preset", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "'nope'" in err and "shakespeare" in err


def test_serve_on_a_port_in_use_is_one_line_exit_2(model_file, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        code = run_cli(["serve", str(model_file), "--port", str(port)])
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


@pytest.mark.parametrize("port", ["-1", "70000", "http"])
def test_serve_bad_port_is_exit_2(model_file, port, capsys):
    assert run_cli(["serve", str(model_file), "--port", port]) == 2
    assert "port" in capsys.readouterr().err


def test_server_stops_cleanly_on_sigterm(server, client):
    # The last test of the module: it stops the module's server.
    process = server["process"]
    assert health(client)["status"] == "ok"
    process.terminate()
    # uvicorn shuts down, then re-raises the signal: the usual status of a
    # process ended by SIGTERM.
    assert process.wait(timeout=30) == -signal.SIGTERM
    assert "Traceback" not in process.stderr.read()
