"""GET /api/models and /api/models/{id}: what the zoo holds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.cards import default_model_id, detail_card, public_card
from app.api.deps import ZooDep
from app.api.errors import ApiError
from app.api.schemas import ErrorResponse, ModelDetail, ModelList

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelList, summary="List the loaded models")
async def list_models(zoo: ZooDep) -> dict[str, Any]:
    return {
        "models": [public_card(m) for m in zoo.models.values()],
        "default": default_model_id(zoo),
        "failed": zoo.failed,
    }


@router.get(
    "/{model_id}",
    response_model=ModelDetail,
    summary="One model's card and vocabulary",
    responses={404: {"model": ErrorResponse, "description": "no model with this id"}},
)
async def get_model(model_id: str, zoo: ZooDep) -> dict[str, Any]:
    model = zoo.models.get(model_id)
    if model is None:
        raise ApiError(404, "unknown_model", f"there is no model {model_id!r}; see GET /api/models")
    return detail_card(model)
