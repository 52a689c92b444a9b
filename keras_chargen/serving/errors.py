"""Every error the server sends is JSON: `{"error": {...}}`, never a traceback.

`{"error": {"type", "message", "field", "received"}}`: `field` names the
part of the request that was wrong (`"temperature"`, `"prompts[2]"`,
`"body"`) and `received` what came (shortened). Validation errors are 422,
the server's limits 413 (too large) or 429 (too many requests at once),
unknown paths 404, wrong methods 405.
"""

import json
import math

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

_SHOWN = 80  # characters of a received value quoted back


class ApiError(Exception):
    """An error answered as `status` with a JSON body (see module docstring)."""

    def __init__(self, status, message, field=None, received=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.received = received
        self.headers = headers


def error_response(status, kind, message, field=None, received=None, headers=None):
    body = {"type": kind, "message": message}
    if field is not None:
        body["field"] = field
        body["received"] = shown(received)
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def shown(value):
    """`value` as JSON can carry it, cut to a few dozen characters."""
    if isinstance(value, bool | int) and abs(value) < 2**63 or value is None:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=True, default=repr)
        except ValueError:  # NaN / infinity inside
            text = repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def field_name(loc):
    """`("body", "prompts", 2)` -> `"prompts[2]"`; union member tags are dropped."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    if not parts or not isinstance(parts[0], str):
        return "body"
    name = parts[0]
    for part in parts[1:]:
        if isinstance(part, int):
            name += f"[{part}]"
    return name


async def _validation_error(request: Request, error: RequestValidationError):
    errors = error.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = field_name(first.get("loc", ()))
    received = first.get("input")
    message = f"`{field}`: {first.get('msg', 'invalid value')}. Received: {field}={shown(received)!r}"
    if isinstance(received, bytes):  # FastAPI read a body that was not JSON
        field, received = "body", None
        kind = request.headers.get("content-type")
        message = (
            "the body must be a JSON object sent with `Content-Type: "
            f"application/json`. Received: Content-Type {kind!r}"
        )
    elif first.get("type") == "json_invalid":
        field, received = "body", None
        reason = first.get("ctx", {}).get("error", "JSON decode error")
        message = f"the body is not valid JSON: {reason}"
    return error_response(
        422, "invalid_request", message, field=field, received=received
    )


async def _api_error(request: Request, error: ApiError):
    kind = {413: "too_large", 429: "too_many_requests", 503: "unavailable"}.get(
        error.status, "invalid_request"
    )
    return error_response(
        error.status, kind, error.message, error.field, error.received, error.headers
    )


async def _http_error(request: Request, error: HTTPException):
    if error.status_code == 400:  # FastAPI could not read the body (not UTF-8)
        message = f"the body is not valid JSON: {error.detail}"
        return error_response(422, "invalid_request", message, field="body")
    return error_response(
        error.status_code,
        "not_found" if error.status_code == 404 else "http_error",
        f"{request.method} {request.url.path}: {error.detail}",
        headers=getattr(error, "headers", None),
    )


async def _internal_error(request: Request, error: Exception):
    return error_response(500, "internal", f"internal error: {type(error).__name__}")


def add_error_handlers(app):
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` is answered 413 unread.

    The body is read (up to the limit) before the app sees it, then handed
    on whole; later `receive()` calls go to the client as usual, so
    disconnects are still noticed.
    """

    def __init__(self, app, max_bytes):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(int(declared), scope, receive, send)
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            if total > self.max_bytes:
                return await self._too_large(total, scope, receive, send)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, size, scope, receive, send):
        response = error_response(
            413,
            "too_large",
            f"the request body is {size} bytes or more; this server takes at "
            f"most {self.max_bytes} bytes",
        )
        await response(scope, receive, send)
