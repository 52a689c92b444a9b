"""`create_app(model)`: the FastAPI app behind `keras-chargen serve`.

`POST /v1/generate` (JSON, or Server-Sent Events with `"stream": true`),
`POST /v1/score`, `GET /v1/model`, `GET /health`, `GET /` (the playground
page) and the OpenAPI schema at `/openapi.json` (`/docs` shows it). All
generation goes through one `Engine`, which batches the rows of requests
that run at the same time.
"""

import asyncio
import dataclasses
import hashlib
import importlib.resources
import json
import os
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import keras
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from keras_chargen.serving.engine import Engine
from keras_chargen.serving.errors import ApiError, BodyLimit, add_error_handlers
from keras_chargen.serving.limits import Limits
from keras_chargen.serving.row_batch import Row
from keras_chargen.serving.row_sampling import RowNoise, filter_sampler
from keras_chargen.serving.schemas import GenerateRequest, ScoreRequest


def create_app(
    model,
    model_path=None,
    limits=None,
    chunk_size=8,
    max_batch=64,
    dtype="float32",
    max_compiled=16,
):
    """The server's ASGI app for a loaded model.

    Args:
        model: a `keras_chargen.CharLM` with its vectorizer (e.g. from
            `keras_chargen.models.loading.load_model`).
        model_path: Optional path of the model's file, for `/v1/model`
            (name and sha256). Defaults to `None`.
        limits: a `Limits`. Defaults to `Limits()`.
        chunk_size, max_batch, dtype, max_compiled: as for
            `keras_chargen.serving.engine.Engine`.

    Returns:
        A `fastapi.FastAPI` app; its lifespan starts and stops the engine.
    """
    limits = limits or Limits()
    engine = Engine(
        model,
        chunk_size=chunk_size,
        max_batch=max_batch,
        dtype=dtype,
        max_compiled=max_compiled,
    )
    info = _model_info(model, model_path, limits, chunk_size, max_batch, dtype)
    counts = {"in_flight": 0, "requests": 0}

    @asynccontextmanager
    async def lifespan(app):
        engine.start()
        yield
        await asyncio.to_thread(engine.close)

    app = FastAPI(
        title="keras-chargen",
        version=info["keras_chargen_version"],
        summary="Character-level text generation from a keras_chargen model.",
        lifespan=lifespan,
    )
    app.state.engine = engine
    add_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def playground():
        return _playground_html()

    @app.get("/health")
    async def health():
        """Whether the engine runs, with its row counts."""
        return {
            "status": ("ok" if engine.ready else "starting")
            if engine.alive
            else "stopped",
            "in_flight_requests": counts["in_flight"],
            "requests": counts["requests"],
            **engine.stats(),
        }

    @app.get("/v1/model")
    async def model_info():
        """The model's file, vocabulary, settings and the server's limits."""
        return info

    @app.post("/v1/generate")
    async def generate(body: GenerateRequest, request: Request):
        """Continues the prompt(s); `"stream": true` answers with SSE."""
        prompts, stops, sampler = _check_generate(body, limits)
        encoded = [_encode(model.vectorizer, p, "prompt") for p in prompts]
        _take_slot(counts, limits)
        seed = body.seed if body.seed is not None else _random_seed()
        loop = asyncio.get_running_loop()
        events = asyncio.Queue()
        cancelled = threading.Event()
        left = [len(prompts)]

        def deliver(row, piece, finish):
            loop.call_soon_threadsafe(_arrived, row, piece, finish)

        def _arrived(row, piece, finish):
            events.put_nowait((row.index, piece, finish))
            if finish is not None:
                left[0] -= 1
                if not left[0]:
                    counts["in_flight"] -= 1

        rows = [
            Row(
                ids,
                body.length,
                body.temperature,
                RowNoise(seed + i, engine.vocabulary_size),
                stops,
                deliver,
                cancelled=cancelled,
                index=i,
            )
            for i, ids in enumerate(encoded)
        ]
        engine.submit(sampler, rows)
        seeds = [seed + i for i in range(len(rows))]
        if body.stream:
            return StreamingResponse(
                _sse(events, len(rows), seeds, cancelled),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        started = time.perf_counter()
        try:
            texts, reasons = await _collect(events, len(rows))
        finally:
            cancelled.set()  # a handler cancelled mid-way stops its rows
        if "error" in reasons:
            raise ApiError(503, "generation failed on the server; see its log")
        return {
            "choices": [
                {"index": i, "prompt": p, "text": t, "finish_reason": r, "seed": s}
                for i, (p, t, r, s) in enumerate(
                    zip(prompts, texts, reasons, seeds, strict=True)
                )
            ],
            "seconds": round(time.perf_counter() - started, 4),
        }

    @app.post("/v1/score")
    async def score(body: ScoreRequest):
        """Natural-log probability of each text (after its prompt, if given)."""
        try:
            texts, prompts = body.text_lists()
        except ValueError as error:
            raise ApiError(422, f"{error}", field="texts", received=None) from None
        _check_sizes(texts, "texts", limits)
        _check_sizes(prompts or [], "prompts", limits)
        for t in texts + (prompts or []):
            _encode(model.vectorizer, t, "texts")
        _take_slot(counts, limits)
        try:
            values = await asyncio.wrap_future(engine.score(texts, prompts))
        finally:
            counts["in_flight"] -= 1
        return {"scores": [_score_entry(v, body.per_character) for v in values]}

    return app


def _check_generate(body, limits):
    try:
        prompts = body.prompt_list()
        stops = body.stop_list()
    except ValueError as error:
        field = "stop" if "`stop`" in str(error) else "prompt"
        raise ApiError(422, str(error), field=field, received=None) from None
    if body.length > limits.max_length:
        raise ApiError(
            413,
            f"`length` must be <= {limits.max_length} on this server "
            f"(--max-length). Received: length={body.length}",
            field="length",
            received=body.length,
        )
    _check_sizes(prompts, "prompts", limits)
    try:
        sampler = filter_sampler(body.top_k, body.top_p, body.min_p, body.typical_p)
    except ValueError as error:
        raise ApiError(
            422,
            str(error),
            field="min_p" if body.min_p else "typical_p",
            received=body.min_p or body.typical_p,
        ) from None
    return prompts, stops, sampler


def _check_sizes(texts, field, limits):
    if len(texts) > limits.max_prompts:
        raise ApiError(
            413,
            f"`{field}` may hold at most {limits.max_prompts} strings on this "
            f"server (--max-prompts). Received: {len(texts)}",
            field=field,
            received=len(texts),
        )
    for i, text in enumerate(texts):
        if len(text) > limits.max_prompt_chars:
            raise ApiError(
                413,
                f"a prompt or text may have at most {limits.max_prompt_chars} "
                f"characters on this server (--max-prompt-chars). Received: "
                f"{len(text)} characters",
                field=f"{field}[{i}]",
                received=len(text),
            )


def _take_slot(counts, limits):
    if counts["in_flight"] >= limits.max_concurrent:
        raise ApiError(
            429,
            f"the server is running {counts['in_flight']} requests, its limit "
            "(--max-concurrent); try again shortly",
            headers={"Retry-After": "1"},
        )
    counts["in_flight"] += 1
    counts["requests"] += 1


def _encode(vectorizer, text, field):
    try:
        return vectorizer.encode(text)
    except ValueError as error:  # on_unknown="raise" and an unknown character
        raise ApiError(422, f"`{field}`: {error}", field=field, received=text) from None


async def _collect(events, n):
    texts, reasons = [""] * n, [None] * n
    while None in reasons:
        index, piece, finish = await events.get()
        texts[index] += piece
        if finish is not None:
            reasons[index] = finish
    return texts, reasons


async def _sse(events, n, seeds, cancelled):
    """`event: text` pieces, one `event: end` per row, then `event: done`."""
    finished = 0
    try:
        while finished < n:
            index, piece, finish = await events.get()
            if piece:
                yield _event("text", {"index": index, "text": piece})
            if finish is not None:
                finished += 1
                end = {"index": index, "finish_reason": finish, "seed": seeds[index]}
                yield _event("end", end)
        yield _event("done", {"rows": n})
    finally:
        cancelled.set()  # the client left (or all rows ended): nothing more to run


def _event(name, data):
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _score_entry(values, per_character):
    values = np.asarray(values, np.float64)
    total = float(values.sum())
    entry = {
        "log_probability": total,
        "characters": int(values.size),
        "bits_per_character": -total / values.size / np.log(2) if values.size else None,
    }
    if per_character:
        entry["log_probabilities"] = [float(v) for v in values]
    return entry


def _random_seed():
    return int.from_bytes(os.urandom(4), "little")


def _model_info(model, path, limits, chunk_size, max_batch, dtype):
    import keras_chargen

    config = {k: v for k, v in model.get_config().items() if k != "vectorizer"}
    info = {
        "file": None,
        "sha256": None,
        "vocabulary_size": model.vectorizer.vocabulary_size(),
        "vocabulary": list(model.vectorizer.get_vocabulary()),
        "settings": json.loads(json.dumps(config, default=repr)),
        "backend": keras.backend.backend(),
        "dtype": dtype,
        "chunk_size": chunk_size,
        "max_batch": max_batch,
        "limits": dataclasses.asdict(limits),
        "keras_chargen_version": keras_chargen.__version__,
    }
    if path is not None:
        info["file"] = Path(path).name
        info["sha256"] = _sha256(path)
    return info


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _playground_html():
    page = importlib.resources.files("keras_chargen.serving") / "static/playground.html"
    return page.read_text(encoding="utf-8")
