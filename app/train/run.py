"""The training loop: minibatches, (truncated) BPTT, Adam, clipping, curriculum, early stopping."""

from __future__ import annotations

import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.files import load_model, save_model
from ..nn.model import Model, init_params
from ..nn.tokenizer import tokenizer_from_config
from .cards import new_card, trained_card, untrained_card
from .optim import Adam, clip_by_global_norm, cosine_rate
from .recipe import Recipe
from .tasks import get_recipe


def _fmt_time(s: float) -> str:
    return f"{int(s // 60)}:{int(s % 60):02d}"


class Progress:
    """One status line on stderr: step, loss, validation metric, tokens/s, ETA."""

    def __init__(self, total: int, budget_s: float, stream: Any = sys.stderr):
        self.total, self.budget, self.stream = total, budget_s, stream
        self.start = time.perf_counter()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def update(self, step: int, loss: float, val: str, tokens: int, force: bool = False) -> None:
        if not (self.tty or force):
            return
        el = time.perf_counter() - self.start
        eta = min(el / max(step, 1) * (self.total - step), self.budget - el)
        width = 24
        done = int(width * step / self.total)
        bar = "█" * done + "·" * (width - done)
        line = (f"{bar} {step}/{self.total}  loss {loss:.4f}  {val}  {tokens / max(el, 1e-9):,.0f} tok/s  "
                f"ETA {_fmt_time(max(eta, 0))}")  # fmt: skip
        self.stream.write(("\r" if self.tty else "") + line + ("" if self.tty else "\n"))
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def train(
    recipe: Recipe,
    arch: str = "lstm",
    seed: int = 0,
    minutes: float | None = None,
    hidden: int | None = None,
    max_steps: int | None = None,
    log: Any = sys.stderr,
    start: Model | None = None,
    lr: float | None = None,
    forget_bias: float | None = None,
) -> tuple[Model, dict[str, Any]]:
    """Train a model on `recipe`, from fresh weights or on from `start`'s (a model of this recipe's shape).
    Deterministic for a seed as long as the step count is the same (the time budget only cuts a run short,
    and the card says so)."""
    rng = np.random.default_rng(seed)
    H = start.hidden_size if start is not None else hidden or recipe.hidden[arch]
    V = len(recipe.vocab)
    n_out = len(recipe.classes) if recipe.kind == "classifier" else None
    bias = 1.0 if forget_bias is None else forget_bias
    params = init_params(arch, recipe.layers, V, recipe.input_size, H, rng, forget_bias=bias, dtype=np.float32,
                         kind=recipe.kind, n_out=n_out)  # fmt: skip
    if recipe.prepare is not None and start is None:
        recipe.prepare(params, rng)
    if start is not None:
        if start.arch != arch or start.vocab != recipe.vocab or set(start.params) != set(params):
            raise SystemExit(f"{start.id} is not a {recipe.name} {arch} model: it cannot be trained on")
        for k in params:
            params[k][...] = start.params[k]
    model = Model(new_card(recipe, arch, H), params, tokenizer_from_config(recipe.tokenizer))
    lr = lr if lr is not None else recipe.lr
    opt = Adam(params, lr)
    steps = max_steps or recipe.max_steps
    budget = 60 * (minutes if minutes is not None else recipe.minutes)
    progress = Progress(steps, budget, log)
    level_k = 0
    best_val, best_params, best_step, stale = None, None, 0, 0
    state = None
    tokens_seen, loss_ema, val_txt = 0, float("nan"), "val —"
    start = time.perf_counter()
    step = 0
    stopped = "max_steps"
    history: list[dict[str, float]] = []
    for step in range(1, steps + 1):
        step_lr = cosine_rate(lr, step, steps)
        batch = recipe.batch(rng, recipe.levels[level_k])
        loss, grads, tape = recipe.loss(model, batch, state)
        if recipe.stream:
            state = Model.final_state(tape)
        clip_by_global_norm(grads.params, recipe.clip)
        opt.step(grads.params, step_lr)
        tokens_seen += int(tape.tokens.size)  # positions processed, scored or not
        loss_ema = loss if math.isnan(loss_ema) else 0.95 * loss_ema + 0.05 * loss
        if step % recipe.eval_every == 0 or step == steps:
            can_level_up = recipe.level_eval is not None and level_k < len(recipe.levels) - 1
            if can_level_up and recipe.level_eval(model, recipe.levels[level_k]) >= recipe.level_up:  # type: ignore[misc]
                level_k += 1
            val = recipe.evaluate(model, False)["val"]
            history.append({"step": step, "loss": round(loss_ema, 5), "val": round(val, 5)})
            better = best_val is None or (val > best_val if recipe.higher_is_better else val < best_val)
            # only the hardest curriculum level counts towards early stopping
            if better:
                best_val, best_step, stale = val, step, 0
                best_params = {k: v.copy() for k, v in params.items()}
            elif level_k == len(recipe.levels) - 1:
                stale += 1
            val_txt = f"val {val:.4f} (best {best_val:.4f})"
            if len(recipe.levels) > 1:
                val_txt += f" level {recipe.levels[level_k]}"
            progress.update(step, loss_ema, val_txt, tokens_seen, force=True)
            if stale >= recipe.patience:
                stopped = "early_stopping"
                break
        else:
            progress.update(step, loss_ema, val_txt, tokens_seen)
        if time.perf_counter() - start > budget:
            stopped = "time_budget"
            break
    progress.close()
    elapsed = time.perf_counter() - start
    if best_params is not None:
        for k in params:
            params[k][...] = best_params[k]
    info = {
        "recipe": recipe.name, "seed": seed, "steps": step, "best_step": best_step, "stopped_by": stopped,
        "train_seconds": round(elapsed, 1), "tokens_per_second": round(tokens_seen / elapsed, 1),
        "train_loss": round(loss_ema, 5), "lr": lr, "clip": recipe.clip, "forget_bias": bias, "hidden": H,
        "batch": "see recipe", "curriculum_level": recipe.levels[level_k], "history": history,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "numpy": np.__version__,
    }  # fmt: skip
    return model, info


def init_untrained(recipe: Recipe, arch: str, forget_bias: float, seed: int, model_id: str | None = None) -> Model:
    """An untrained model of the recipe's shape: what training starts from (for the forget-bias lesson)."""
    H = recipe.hidden[arch]
    rng = np.random.default_rng(seed)
    params = init_params(arch, recipe.layers, len(recipe.vocab), recipe.input_size, H, rng, forget_bias=forget_bias,
                         dtype=np.float32, kind=recipe.kind,
                         n_out=len(recipe.classes) if recipe.kind == "classifier" else None)  # fmt: skip
    card = untrained_card(recipe, arch, H, forget_bias, seed, params, model_id)
    return Model(card, params, tokenizer_from_config(recipe.tokenizer))


def train_recipe(
    name: str,
    arch: str | None = None,
    out: Path | None = None,
    seed: int = 0,
    minutes: float | None = None,
    hidden: int | None = None,
    steps: int | None = None,
    lr: float | None = None,
    start: Path | None = None,
    forget_bias: float | None = None,
) -> Path:
    recipe = get_recipe(name)
    arch = arch or "lstm"
    begun = load_model(start, dtype=np.float32) if start is not None else None
    model, info = train(recipe, arch, seed, minutes, hidden, steps, start=begun, lr=lr, forget_bias=forget_bias)
    if begun is not None:  # the card tells the whole story: this run, and the one it went on from
        info["continued_from"] = begun.card.get("provenance", {})
    given = (("hidden", hidden), ("steps", steps), ("lr", lr), ("forget-bias", forget_bias))
    flags = "".join(f" --{k} {v}" for k, v in given if v is not None)
    info["command"] = f"lstm-explainer train {name} --arch {arch} --seed {seed}{flags}" + (
        f" --start {start}" if start is not None else ""
    )
    out = out or Path("models") / model.id
    model.card["provenance"] = info  # kept even if the evaluation below fails: the run can be re-carded
    save_model(model, out)
    saved = load_model(out)  # evaluate exactly what ships: float32 weights, float64 arithmetic
    card = trained_card(saved, recipe, info)
    model.card = card
    save_model(model, out)
    v = card["metrics"]["validation"]
    print(f"{model.id}: {v['name']} = {v['value']}  ({info['steps']} steps, {info['train_seconds']} s) → {out}")
    return out
