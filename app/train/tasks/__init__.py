"""One module per task: its generator or corpus, its vocabulary, its evaluation and its recipe.

Recipes are looked up by name; a real-text recipe is built on first use, because building it fetches its
corpus."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from ..recipe import Recipe

# name → "module" (its RECIPE) or "module:function" (a function that builds the recipe)
RECIPES: dict[str, str] = {
    "recall": "recall",
    "counting": "counting",
    "lecture": "lecture:recipe",
    "grammar": "grammar",
    "shakespeare": "shakespeare:recipe",
    "sentiment": "sentiment:recipe",
    "series": "series:recipe",
    "intent": "intent:recipe",
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise SystemExit(f"unknown recipe {name!r}; recipes: {', '.join(RECIPES)}")
    module, _, builder = RECIPES[name].partition(":")
    found = import_module(f"{__name__}.{module}")
    if builder:
        build: Callable[[], Recipe] = getattr(found, builder)
        return build()
    return found.RECIPE


def get_evaluate(name: str) -> Callable[[Any, bool], dict[str, Any]] | None:
    """A recipe's evaluation without building the recipe (which may fetch a corpus): the module's RECIPE's,
    or its EVALUATE; None for a task whose evaluation needs its corpus (its card carries a check sample)."""
    module, _, builder = RECIPES[name].partition(":")
    found = import_module(f"{__name__}.{module}")
    return getattr(found, "EVALUATE", None) if builder else found.RECIPE.evaluate


__all__ = ["RECIPES", "get_evaluate", "get_recipe"]
