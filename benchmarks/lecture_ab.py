"""Short A/B training runs of the lecture recipe: each variant on the recipe's own schedule (cosine over its
8,000 steps, so a short run is the start of a real one), the same seed and so the same first batches, stopped
after --steps; every --every steps it prints the validation (mean log p of the answer on 300 held-out
generated stories), the answer accuracy, and the LSTM's mean gates and |c| on 32 stories. The first variant
is the baseline. What docs/lecture-lstm-diagnosis.md reports was measured with it.

    python benchmarks/lecture_ab.py                                   # short=0 (the old mix) vs short=0.3
    python benchmarks/lecture_ab.py --variants "short=0;short=0,fb=3;short=0,ortho" --steps 1000
    python benchmarks/lecture_ab.py --arch gru --variants "short=0"
    python benchmarks/lecture_ab.py --quick          # two steps on a stand-in text (the smoke test's run)

A variant is comma-separated changes: fb=B (forget bias), ob=B (output-gate bias), ortho (orthogonal recurrent
blocks), chrono (b_f ~ log U(1, 30), b_i = −b_f), lr=R, pen=λ (adds λ/N · ½‖c‖² per step, N scored tokens),
hinge=λ (the same, on the part of |c| beyond thr=T, default 2),
emb=S (the embedding's N(0, 1) start scaled by S), warmup=W (a linear warm-up of the rate over W steps),
notext (story rows only), short=S (the share of short stories among the story rows), real=S (the share of long
stories whose distractor clauses come mostly from the training text).
Needs the training extras (`pip install ".[train]"`), except with --quick.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app.nn.model as model_module
from app.nn.model import Model, init_params
from app.nn.tokenizer import tokenizer_from_config
from app.train.optim import Adam, clip_by_global_norm, cosine_rate
from app.train.recipe import lm_loss
from app.train.tasks import lecture

SCHEDULE = 8000  # the recipe's max_steps: the cosine runs over these whatever --steps is
STAND_IN = "the students opened their books and the teacher spoke about the weather in spain . " * 40


def parse(variant: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in variant.split(","))):
        key, _, value = part.partition("=")
        out[key] = float(value) if value else True
    return out


def init(arch: str, opts: dict[str, Any], vocab_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    H, I = 128, 64  # the recipe's sizes
    params = init_params(arch, 1, vocab_size, I, H, rng, forget_bias=opts.get("fb", 1.0), dtype=np.float32)
    G = params["layers.0.weight_hh"].shape[0] // H
    params["embedding.weight"] *= np.float32(opts.get("emb", 1.0))  # N(0, 1) is PyTorch's default
    if opts.get("ortho"):
        for k in range(G):
            q, r = np.linalg.qr(rng.normal(size=(H, H)))
            params["layers.0.weight_hh"][k * H : (k + 1) * H] = q * np.sign(np.diag(r))
    if arch == "lstm":
        b_ih, b_hh = params["layers.0.bias_ih"], params["layers.0.bias_hh"]
        if opts.get("chrono"):
            b = np.log(rng.uniform(1, 30, H))
            b_ih[H : 2 * H], b_ih[:H], b_hh[: 2 * H] = b, -b, 0.0
        if "ob" in opts:
            b_ih[3 * H :], b_hh[3 * H :] = opts["ob"], 0.0
    return params


def cell_stats(model: Model) -> dict[str, float]:
    if not model.spec.has_cell:
        return {}
    rng = np.random.default_rng(5)
    stories = [lecture.story(rng) for _ in range(32)]
    x = np.zeros((32, max(len(s.tokens) for s in stories)), dtype=np.int64)
    for b, s in enumerate(stories):
        x[b, : len(s.tokens)] = [model.tokenizer.index[w] for w in s.tokens]
    caches = model.forward(x).caches[0]
    out = {g: float(np.mean([c["act"][g].mean() for c in caches])) for g in ("input", "forget", "output")}
    out["|c|"] = float(np.mean([np.abs(c["c"]).mean() for c in caches[-10:]]))
    return out


def run(arch: str, variant: str, steps: int, every: int, data: lecture.LectureData, config: dict[str, Any],
        quick: bool) -> list[dict[str, Any]]:  # fmt: skip
    opts = parse(variant)
    rng = np.random.default_rng(0)
    params = init(arch, opts, len(config["vocab"]), rng)
    card = {"id": f"ab-{arch}", "arch": arch, "layers": 1, "input_size": 64, "hidden_size": 128}
    model = Model(card, params, tokenizer_from_config(config))
    lr = opts.get("lr", 3e-3)
    opt = Adam(params, lr)
    penalty = {"lam": opts.get("pen", opts.get("hinge", 0.0)), "n": 1.0}
    bound = opts.get("thr", 2.0) if "hinge" in opts else 0.0  # a hinge: only |c| beyond the bound is penalised
    original = model_module.step_backward

    def step_backward(spec: Any, p: Any, cache: Any, dh: Any, dc: Any) -> Any:  # ∂(λ/N·½‖c‖²)/∂c = λ/N·c
        if dc is not None and penalty["lam"]:
            c = cache["c"][-dc.shape[0] :]
            dc = dc + np.float32(penalty["lam"] / penalty["n"]) * (c - np.clip(c, -bound, bound))
        return original(spec, p, cache, dh, dc)

    model_module.step_backward = step_backward  # type: ignore[assignment]
    lecture.SHORT_SHARE = opts.get("short", 0.3)  # read by LectureData.batch
    lecture.REAL_STORY_SHARE = opts.get("real", 0.0)  # so is this
    rows: list[dict[str, Any]] = []
    ema = float("nan")
    try:
        for step in range(1, steps + 1):
            step_lr = cosine_rate(lr, step, SCHEDULE)
            step_lr *= min(1.0, step / opts.get("warmup", 1))  # a linear warm-up over that many steps
            batch = data.batch(rng)
            if opts.get("notext"):
                batch = tuple(a[: lecture.STORY_ROWS] for a in batch)
            penalty["n"] = float((batch[2] != 0).sum())
            loss, grads, _ = lm_loss(model, batch, None)
            clip_by_global_norm(grads.params, 1.0)
            opt.step(grads.params, step_lr)
            ema = loss if math.isnan(ema) else 0.95 * ema + 0.05 * loss
            if step % every == 0 or step == steps:
                g = lecture.generated_eval(model, 20 if quick else 300)
                rows.append({"step": step, "loss": ema, "val": g["logp"], "acc": g["accuracy"], **cell_stats(model)})
                print_row(arch, variant, rows[-1])
    finally:
        model_module.step_backward = original  # type: ignore[assignment]
    return rows


def print_row(arch: str, variant: str, row: dict[str, Any]) -> None:
    extra = "  ".join(f"{k} {row[k]:.2f}" for k in ("input", "forget", "output", "|c|") if k in row)
    print(f"{arch:5} {variant or 'defaults':28} step {row['step']:5}  loss {row['loss']:.3f}  "
          f"val {row['val']:+.3f}  acc {row['acc']:.3f}  {extra}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="lstm", choices=("lstm", "gru", "rnn"))
    parser.add_argument("--variants", default="short=0;short=0.3", help="';'-separated, the first is the baseline")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--quick", action="store_true", help="two steps of each variant on a stand-in text")
    args = parser.parse_args()
    config = {"kind": "word", "vocab": list(lecture.lecture_vocab()), "unk": "<unk>", "lowercase": True}
    if args.quick:
        args.steps, args.every, args.variants = 2, 2, "short=0;short=0.3,pen=1e-4"
        paragraphs = [STAND_IN]
    else:
        paragraphs = lecture.corpus()[0][: -lecture.HELD_OUT_PARAGRAPHS]
    data = lecture.LectureData(tokenizer_from_config(config), paragraphs)
    results = {v: run(args.arch, v, args.steps, args.every, data, config, args.quick) for v in args.variants.split(";")}
    base, *others = results
    print(f"\nval at step {args.steps}, beside the baseline ({base or 'defaults'}):")
    for v in others:
        print(f"  {v:28} {results[v][-1]['val']:+.3f} vs {results[base][-1]['val']:+.3f}")


if __name__ == "__main__":
    main()
