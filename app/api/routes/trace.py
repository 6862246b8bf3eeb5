"""POST /api/trace: the whole trace document in one response."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.api.deps import SettingsDep, TracePoolDep, ZooDep
from app.api.errors import BAD_BODY_RESPONSE
from app.api.schemas import ErrorResponse, TraceDocument, TraceRequest
from app.api.tracer import check_request, dumps, run_document

router = APIRouter(tags=["trace"])


@router.post(
    "/trace",
    summary="Trace a text through a model",
    response_class=Response,
    responses={
        200: {"model": TraceDocument, "description": "exactly `lstm-explainer trace --json`"},
        **BAD_BODY_RESPONSE,
        404: {"model": ErrorResponse, "description": "unknown model"},
        413: {"model": ErrorResponse, "description": "request body over LSTM_EXPLAINER_MAX_BODY_BYTES"},
        422: {
            "model": ErrorResponse,
            "description": "invalid request, text too long, bad target/intervention",
        },
    },
)
async def trace(body: TraceRequest, zoo: ZooDep, settings: SettingsDep, pool: TracePoolDep) -> Response:
    checked = check_request(body, zoo, settings)
    document = await run_document(checked, body, pool)
    # The document is already JSON-ready; skip FastAPI's re-validation and serialise it once, fast.
    return Response(dumps(document), media_type="application/json")
