"""One error shape for every client mistake: ``{"detail": {"code": slug, "message": sentence}}``.

The code is stable and machine-readable; the message says what to change. The WebSocket sends the same
code and message in its ``error`` envelope.
"""

from __future__ import annotations

import re
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


# Pydantic's error types as rules in words; `{...}` are filled from the error's context.
RULES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be a string",
    "string_unicode": "contains an unpaired surrogate (\\ud800-\\udfff), which is not text",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "none_required": "must be null",
    "finite_number": "must be a finite number",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} characters",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} items",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be greater than {gt}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be {expected}",
    "string_pattern_mismatch": "must match the pattern {pattern}",
}
# Where a value may take several forms (`id`: a string or an integer), pydantic's location names the form
# it tried, e.g. `function-after[...]` or `int`; those are types, not fields, and the user never wrote them.
_FORM = re.compile(r"^(str|int|float|bool|list|dict|none|constrained-\w+|[\w-]+\[.*\]|[\w-]*-\w+)$")


def _loc(err: Any) -> list[str | int]:
    return [p for p in err.get("loc", ()) if p != "body" and not (isinstance(p, str) and _FORM.match(p))]


def _rule(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "string_too_short" and err.get("ctx", {}).get("min_length") == 1:
        return "must not be empty"
    if kind in RULES:
        try:
            return RULES[kind].format(**err.get("ctx", {}))
        except (KeyError, IndexError):
            pass
    return str(err.get("msg", "is not valid")).removeprefix("Value error, ")


def describe_validation_errors(errors: list[Any]) -> str:
    """Pydantic's errors as one sentence that names each field and its rule in words, never a repr:
    ``text: is required; interventions.0.layer: must be at most 3; id: must be a string or an integer``."""
    rules: dict[str, list[str]] = {}
    for err in errors:
        rule = _rule(err)
        said = rules.setdefault(".".join(map(str, _loc(err))), [])
        if rule not in said:
            said.append(rule)
    parts = [f"{loc}: {' or '.join(said)}" if loc else " or ".join(said) for loc, said in rules.items()]
    return "; ".join(parts) or "the request is not valid"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):  # not JSON at all: the same answer as unreadable
        return JSONResponse(error_body("bad_body", UNREADABLE_BODY), status_code=400)
    # The pydantic errors ride along for tools; `input` and `ctx` may hold non-JSON values, so keep the rest.
    slim = [{"type": e.get("type"), "loc": _loc(e), "msg": _rule(e)} for e in errors]
    body = error_body("invalid_request", describe_validation_errors(errors), errors=slim)
    return JSONResponse(body, status_code=422)


async def _trace_input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TraceInputError)
    return JSONResponse(error_body(exc.code, exc.message), status_code=422)


UNREADABLE_BODY = (
    'the request body is not readable JSON (is it complete, UTF-8 text?); send an object like {"model": '
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
