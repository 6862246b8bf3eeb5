"""One error shape for every client mistake: ``{"detail": {"code": slug, "message": sentence}}``.

The code is stable and machine-readable; the message says what to change. The WebSocket sends the same
code and message in its ``error`` envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.api.schemas import ErrorResponse
from app.nn import TraceInputError


class ApiError(HTTPException):
    """A client's mistake with a slug. An HTTPException, so FastAPI re-raises it even from body reading."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, detail={"code": code, "message": message})
        self.code = code
        self.message = message


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"detail": {"code": code, "message": message, **extra}}


def describe_validation_errors(errors: list[Any]) -> str:
    """Pydantic's errors as one sentence: ``text: Field required; gradients: Input should be ...``."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "the request is not valid"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    # The pydantic errors ride along for tools; `input` and `ctx` may hold non-JSON values, so keep the rest.
    slim = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in errors]
    body = error_body("invalid_request", describe_validation_errors(errors), errors=slim)
    return JSONResponse(body, status_code=422)


async def _trace_input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TraceInputError)
    return JSONResponse(error_body(exc.code, exc.message), status_code=422)


UNREADABLE_BODY = (
    'the request body could not be read as JSON (is it UTF-8 text?); send an object like {"model": '
    '"lecture-lstm", "text": "the clouds are in the"}'
)
# The status every JSON-body route may answer when the body is not even readable.
BAD_BODY_RESPONSE = {400: {"model": ErrorResponse, "description": "the body is not readable JSON (code bad_body)"}}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    # Framework errors (unknown path, wrong method) carry a plain string; give them the same shape.
    if isinstance(exc.detail, dict):
        body = {"detail": exc.detail}
    elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":  # FastAPI's words
        body = error_body("bad_body", UNREADABLE_BODY)
    else:
        body = error_body(f"http_{exc.status_code}", str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(TraceInputError, _trace_input_error)
    app.add_exception_handler(HTTPException, _http_error)
