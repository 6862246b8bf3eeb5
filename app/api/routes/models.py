"""GET /api/models and /api/models/{id}: what the zoo holds. /api/models/{id}/ is also the model's
directory, laid out as on disk (model.json, weights.safetensors), for the engine in the page
(static/js/features/local-forward.js) to load as it loads a static site's models."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.cards import default_model_id, detail_card, public_card
from app.api.deps import SettingsDep, ZooDep
from app.api.errors import ApiError
from app.api.schemas import ErrorResponse, ModelDetail, ModelList
from app.api.tracer import dumps
from app.nn import Model, Zoo
from app.nn.files import model_card, weights_file

router = APIRouter(prefix="/models", tags=["models"])
UNKNOWN = {404: {"model": ErrorResponse, "description": "no model with this id"}}


def _model(zoo: Zoo, model_id: str) -> Model:
    model = zoo.models.get(model_id)
    if model is None:
        raise ApiError(404, "unknown_model", f"there is no model {model_id!r}; see GET /api/models")
    return model


@router.get("", response_model=ModelList, summary="List the loaded models")
async def list_models(zoo: ZooDep) -> dict[str, Any]:
    return {
        "models": [public_card(m) for m in zoo.models.values()],
        "default": default_model_id(zoo),
        "failed": zoo.failed,
    }


@router.get("/{model_id}", response_model=ModelDetail, summary="One model's card and vocabulary", responses=UNKNOWN)
async def get_model(model_id: str, zoo: ZooDep) -> dict[str, Any]:
    return detail_card(_model(zoo, model_id))


# Serialised once per model (the largest shipped one is 3.5 MB): a hall of pages asks for the same few. The
# routes that use them are plain functions, run in the thread pool: the first answer takes a while.
def _tagged(body: bytes) -> tuple[bytes, str]:
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@lru_cache(maxsize=32)
def _card(model: Model) -> tuple[bytes, str]:
    return _tagged(dumps(model_card(model)))


@lru_cache(maxsize=8)
def _weights(model: Model) -> tuple[bytes, str]:
    return _tagged(weights_file(model))


def _file(request: Request, body: bytes, etag: str, media_type: str) -> Response:
    # Revalidated on every load (a restarted server may hold other weights under the same id); unchanged
    # files cost a 304.
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def offered(model: Model, max_bytes: int) -> bool:
    """Whether pages may have the model's weights: its float32 parameters within the cap (cheap to ask
    for every model on every page; the route checks the file's real size)."""
    return model.n_params() * 4 <= max_bytes


@router.get(
    "/{model_id}/model.json",
    summary="The model's card, as its model.json",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "model.json"}, **UNKNOWN},
)
def get_model_json(model_id: str, zoo: ZooDep, request: Request) -> Response:
    return _file(request, *_card(_model(zoo, model_id)), "application/json")


@router.get(
    "/{model_id}/weights.safetensors",
    summary="The model's weights, as its weights.safetensors",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "the parameters the server traces with (float32, or float64 when they need it)",
        },
        **UNKNOWN,
        403: {"model": ErrorResponse, "description": "larger than LSTM_EXPLAINER_LOCAL_FORWARD_MAX_BYTES"},
    },
)
def get_weights(model_id: str, zoo: ZooDep, settings: SettingsDep, request: Request) -> Response:
    model = _model(zoo, model_id)
    limit = settings.local_forward_max_bytes
    # the estimate first: a model over the cap is never serialised
    if not offered(model, limit) or len(_weights(model)[0]) > limit:
        raise ApiError(403, "too_large", f"{model_id!r} has more than the {limit:,} bytes of weights this server sends")
    return _file(request, *_weights(model), "application/octet-stream")
