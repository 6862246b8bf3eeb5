"""POST /api/continue: a model's continuation of a text, greedy or sampled with a seed (the slides'
Shakespeare demo, RNN against LSTM on the same line). Same limits and error shape as POST /api/trace."""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

from fastapi import APIRouter

from app.api.deps import SettingsDep, TracePoolDep, ZooDep
from app.api.errors import BAD_BODY_RESPONSE, ApiError
from app.api.schemas import ContinueRequest, ContinueResponse, ErrorResponse, TraceRequest
from app.api.tracer import check_request, continuation_for
from app.nn import TraceInputError
from app.nn.generate import MAX_SEED, Sampling, default_length

router = APIRouter(tags=["continue"])


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
async def continue_text(body: ContinueRequest, zoo: ZooDep, settings: SettingsDep, pool: TracePoolDep) -> Any:
    """Greedy decoding by default: the model reads `text`, then writes `length` tokens, each time taking its
    likeliest next token (never the unknown token) and reading it back in — the same request always gets the
    same continuation. With a `temperature` above 0 it samples instead (optionally only from the `top_k`
    likeliest tokens or the `top_p` nucleus); the `seed` fixes the draw, and one left out is picked and
    returned, so the same request with that seed writes the same text again."""
    checked = check_request(TraceRequest(model=body.model, text=body.text, gradients=False), zoo, settings)
    length = body.length if body.length is not None else default_length(checked.model)
    seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
    sampling = Sampling(body.temperature, body.top_k, body.top_p, seed if body.temperature > 0 else 0)
    job = partial(continuation_for, checked.model, body.text, length, sampling)
    try:
        return await pool.run(job, checked.tokens + length)
    except TraceInputError as e:
        raise ApiError(422, e.code, e.message) from e
