"""POST /api/continue: a model's greedy continuation of a text (the slides' Shakespeare demo, RNN against
LSTM on the same line). Same limits and error shape as POST /api/trace."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import SettingsDep, TracePoolDep, ZooDep
from app.api.errors import BAD_BODY_RESPONSE, ApiError
from app.api.schemas import _STRICT, MAX_TEXT, ErrorResponse, TraceRequest, TraceToken, bounded_int, bounded_text
from app.api.tracing import check_request
from app.nn import Model, TraceInputError
from app.nn.generate import MAX_CONTINUATION, continue_text, default_length, join_tokens

router = APIRouter(prefix="/api", tags=["continue"])


class ContinueRequest(BaseModel):
    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={"examples": [{"model": "shakespeare-lstm", "text": "To be, or not to be", "length": 80}]},
    )

    model: bounded_text(1, 200)  # type: ignore[valid-type]
    text: bounded_text(1, MAX_TEXT) = Field(  # type: ignore[valid-type]
        description="limited like a trace's text (LSTM_EXPLAINER_MAX_CHARS, _MAX_WORD_TOKENS)"
    )
    length: bounded_int(1, MAX_CONTINUATION) | None = Field(  # type: ignore[valid-type]
        None, description="tokens to write; default 200 for character models, 20 for word models"
    )


class ContinueResponse(BaseModel):
    model: str
    text: str = Field(description="the text as given")
    continuation: str = Field(description="what the model writes next; word tokens are joined by spaces")
    tokens: list[TraceToken] = Field(description="the continuation token by token, each the argmax of its step")


def _continue(model: Model, text: str, length: int) -> dict[str, Any]:
    tokens = continue_text(model, text, length)
    return {
        "model": model.id,
        "text": text,
        "continuation": join_tokens(model, tokens),
        "tokens": [{"text": t.text, "id": t.id, "unknown": t.unknown} for t in tokens],
    }


@router.post(
    "/continue",
    summary="Continue a text with a model's likeliest tokens",
    response_model=ContinueResponse,
    responses={
        **BAD_BODY_RESPONSE,
        404: {"model": ErrorResponse, "description": "unknown model"},
        413: {"model": ErrorResponse, "description": "request body over LSTM_EXPLAINER_MAX_BODY_BYTES"},
        422: {"model": ErrorResponse, "description": "invalid request, empty text, text too long, bad length"},
    },
)
async def continue_(body: ContinueRequest, zoo: ZooDep, settings: SettingsDep, pool: TracePoolDep) -> Any:
    """Greedy decoding: the model reads `text`, then writes `length` tokens, each time taking its likeliest
    next token (never the unknown token) and reading it back in. Deterministic: the same request always
    gets the same continuation."""
    checked = check_request(TraceRequest(model=body.model, text=body.text, gradients=False), zoo, settings)
    length = body.length if body.length is not None else default_length(checked.model)
    try:
        return await pool.run(partial(_continue, checked.model, body.text, length), checked.tokens + length)
    except TraceInputError as e:
        raise ApiError(422, e.code, e.message) from e
