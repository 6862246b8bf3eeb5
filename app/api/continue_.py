"""POST /api/continue: a model's continuation of a text, greedy or sampled with a seed (the slides'
Shakespeare demo, RNN against LSTM on the same line). Same limits and error shape as POST /api/trace."""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import SettingsDep, TracePoolDep, ZooDep
from app.api.errors import BAD_BODY_RESPONSE, ApiError
from app.api.schemas import _STRICT, MAX_TEXT, ErrorResponse, TraceRequest, TraceToken, bounded_int, bounded_text
from app.api.tracing import check_request
from app.nn import Model, TraceInputError
from app.nn.generate import (
    GREEDY,
    MAX_CONTINUATION,
    MAX_SEED,
    MAX_TEMPERATURE,
    Sampling,
    continue_text,
    default_length,
    join_tokens,
)

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
    temperature: float = Field(
        0.0, ge=0.0, le=MAX_TEMPERATURE, description="0: greedy (always the likeliest token); above 0: sample"
    )
    top_k: int = Field(0, ge=0, description="when sampling, draw only from the k likeliest tokens; 0: all")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="when sampling, nucleus: the likeliest tokens up to p")
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="when sampling, fixes the draw; left out, the server picks one"
    )


class SamplingUsed(BaseModel):
    temperature: float
    top_k: int
    top_p: float
    seed: int | None = Field(description="null when greedy")


class ContinueResponse(BaseModel):
    model: str
    text: str = Field(description="the text as given")
    continuation: str = Field(description="what the model writes next; word tokens are joined by spaces")
    tokens: list[TraceToken] = Field(description="the continuation token by token")
    sampling: SamplingUsed = Field(description="how the tokens were chosen, with the seed to write them again")


def _continue(model: Model, text: str, length: int, sampling: Sampling = GREEDY) -> dict[str, Any]:
    tokens = continue_text(model, text, length, sampling)
    return {
        "model": model.id,
        "text": text,
        "continuation": join_tokens(model, tokens),
        "tokens": [{"text": t.text, "id": t.id, "unknown": t.unknown, "join": t.join} for t in tokens],
        "sampling": {
            "temperature": sampling.temperature,
            "top_k": sampling.top_k,
            "top_p": sampling.top_p,
            "seed": None if sampling.greedy else sampling.seed,
        },
    }


@router.post(
    "/continue",
    summary="Continue a text with a model's likeliest tokens, or sampled ones",
    response_model=ContinueResponse,
    responses={
        **BAD_BODY_RESPONSE,
        404: {"model": ErrorResponse, "description": "unknown model"},
        413: {"model": ErrorResponse, "description": "request body over LSTM_EXPLAINER_MAX_BODY_BYTES"},
        422: {"model": ErrorResponse, "description": "invalid request, empty text, text too long, bad length"},
    },
)
async def continue_(body: ContinueRequest, zoo: ZooDep, settings: SettingsDep, pool: TracePoolDep) -> Any:
    """Greedy decoding by default: the model reads `text`, then writes `length` tokens, each time taking its
    likeliest next token (never the unknown token) and reading it back in — the same request always gets the
    same continuation. With a `temperature` above 0 it samples instead (optionally only from the `top_k`
    likeliest tokens or the `top_p` nucleus); the `seed` fixes the draw, and one left out is picked and
    returned, so the same request with that seed writes the same text again."""
    checked = check_request(TraceRequest(model=body.model, text=body.text, gradients=False), zoo, settings)
    length = body.length if body.length is not None else default_length(checked.model)
    seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
    sampling = Sampling(body.temperature, body.top_k, body.top_p, seed if body.temperature > 0 else 0)
    try:
        return await pool.run(partial(_continue, checked.model, body.text, length, sampling), checked.tokens + length)
    except TraceInputError as e:
        raise ApiError(422, e.code, e.message) from e
