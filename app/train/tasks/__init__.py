"""One module per task: its generator or corpus, its vocabulary, its evaluation and its recipe.

Recipes are looked up by name; a real-text recipe is built on first use, because building it fetches its
corpus."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from ..recipe import Recipe

# name → "module" (its RECIPE) or "module:function" (a function that builds the recipe)
RECIPES: dict[str, str] = {
    "recall": "recall",
    "counting": "counting",
    "lecture": "lecture:recipe",
    "shakespeare": "shakespeare:recipe",
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


__all__ = ["RECIPES", "get_recipe"]
