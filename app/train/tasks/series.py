"""Series (numbers, one-step-ahead forecasting): read a series value by value and forecast the next one at
every step — the slides' "the value of a time series may depend on an underlying process with many
characteristic times".

* **Synthetic series** with more than one characteristic time: a seasonal cycle (period 6–14 steps), a slow
  drift, and spikes whose effect comes back k steps later (k 5–12, one k per series), with noise.
* **Real series** shipped inside the `statsmodels` wheel on PyPI (pinned by SHA-256; fetched by the training
  command and cached, never committed): yearly sunspot numbers 1700–2008 (an 11-year cycle of varying height)
  and Mauna Loa CO₂ (weekly, averaged into months, gaps left out; a trend under a 12-month cycle), shown as
  ppm − 300 so that both live on the scale of the synthetic series. The first 80% of each trains, the last
  20% is held out.
* **Normalisation** — fixed and in the card: the model reads x = (v − 50) / 30 and forecasts in those units;
  its loss is the squared error ½ (z_t − x_{t+1})² at every step.
* **Evaluation** — windows of W = 24 values from held-out series: the forecast of value 25 from the LSTM's
  run over the window (from a zero state), against persistence (value 24 again) and a least-squares linear
  autoregression on the same 24 values (fitted on training windows of the same mixture). Mean squared
  errors in the series' own units; the margins are the baselines' MSE over the model's.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from typing import Any

import numpy as np

from ...nn.model import Model
from ..fetch import PackageFile, fetch_members
from ..recipe import Recipe

MEAN, SCALE = 50.0, 30.0
WINDOW = 24
STATSMODELS = PackageFile(
    package="statsmodels",
    version="0.14.4",
    filename="statsmodels-0.14.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="e332c2d9b806083d1797231280602340c5c913f90d4caa0213a6a54679ce9331",
    pip_args=(
        *("--only-binary", ":all:", "--platform", "manylinux_2_17_x86_64"),
        *("--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"),
    ),
    cache_name="statsmodels-datasets",
)
FILES = {"statsmodels/datasets/sunspots/sunspots.csv": "sunspots.csv", "statsmodels/datasets/co2/co2.csv": "co2.csv"}


# --------------------------------------------------------------------------------------- the real series
@cache
def real_series() -> dict[str, np.ndarray]:
    """{"sunspots": yearly sunspot numbers, "co2": monthly mean CO₂ in ppm − 300}."""
    folder = fetch_members(STATSMODELS, FILES)
    rows = list(csv.reader(io.StringIO((folder / "sunspots.csv").read_text())))[1:]
    sunspots = np.array([float(r[1]) for r in rows])
    months: dict[str, list[float]] = {}
    for date, value in list(csv.reader(io.StringIO((folder / "co2.csv").read_text())))[1:]:
        if value:
            months.setdefault(date[:6], []).append(float(value))
    co2 = np.array([np.mean(v) for _, v in sorted(months.items())]) - 300.0
    return {"sunspots": sunspots, "co2": co2}


def split(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cut = int(0.8 * len(series))
    return series[:cut], series[cut:]


# --------------------------------------------------------------------------------------- the generator
def synthetic(rng: np.random.Generator, n: int) -> np.ndarray:
    """A series of n values with a seasonal cycle, a slow drift and echoing spikes (see the docstring)."""
    t = np.arange(n + 40)
    period = rng.uniform(6, 14)
    season = rng.uniform(5, 25) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    drift = np.cumsum(rng.normal(0, 0.6, len(t)))
    k = int(rng.integers(5, 13))
    spikes = np.zeros(len(t))
    at = rng.random(len(t)) < rng.uniform(0.02, 0.08)
    spikes[at] = rng.uniform(15, 40, at.sum()) * rng.choice([-1, 1], at.sum())
    echo = np.zeros(len(t))
    echo[k:] = rng.uniform(0.5, 0.9) * spikes[:-k]  # the spike's effect comes back k steps later
    values = rng.uniform(30, 70) + season + drift + spikes + echo + rng.normal(0, rng.uniform(0.5, 3), len(t))
    return values[40:]


def _windows(rng: np.random.Generator, count: int, length: int, real: bool = True, part: int = 0) -> np.ndarray:
    """`count` windows of `length` values: about a third from the real series' part (0 train, 1 held out)."""
    series = real_series() if real else {}
    out = np.empty((count, length))
    for b in range(count):
        if series and rng.random() < 0.35:
            s = split(series[str(rng.choice(sorted(series)))])[part]
            start = int(rng.integers(0, len(s) - length))
            out[b] = s[start : start + length]
        else:
            out[b] = synthetic(rng, length)
    return out


def normalise(v: np.ndarray) -> np.ndarray:
    return (v - MEAN) / SCALE


def series_loss(model: Model, batch: Any, state: Any) -> Any:
    x = normalise(batch)
    weights = np.full((x.shape[0], x.shape[1] - 1), 1.0 / (x.shape[0] * (x.shape[1] - 1)))
    return model.loss_and_grads(x[:, :-1], x[:, 1:], weights)


# --------------------------------------------------------------------------------------- the evaluation
def forecast_last(model: Model, windows: np.ndarray) -> np.ndarray:
    """The model's forecast of the value after each window, in the series' units."""
    tape = model.forward(normalise(windows))
    return MEAN + SCALE * tape.logits[-1, :, 0]


def fit_ar(windows: np.ndarray) -> np.ndarray:
    """Least-squares AR(W) with an intercept: the next value from the W before it."""
    X = np.concatenate([windows[:, :-1], np.ones((len(windows), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(X, windows[:, -1], rcond=None)
    return coef


def heldout_windows() -> dict[str, np.ndarray]:
    """Windows of W + 1 values: every window of the real series' held-out parts, and 400 synthetic series
    of a seed the training never draws."""
    out = {}
    for name, s in real_series().items():
        test = split(s)[1]
        out[name] = np.stack([test[i : i + WINDOW + 1] for i in range(len(test) - WINDOW)])
    rng = np.random.default_rng(31337)
    out["synthetic"] = np.stack([synthetic(rng, WINDOW + 1) for _ in range(400)])
    return out


@cache
def ar_coefficients() -> np.ndarray:
    """The AR baseline, fitted on 20,000 training windows of the training mixture."""
    return fit_ar(_windows(np.random.default_rng(2024), 20000, WINDOW + 1))


def series_eval(model: Model, full: bool) -> dict[str, Any]:
    """MSE of the model, persistence and the AR baseline on held-out windows; `val` is the model's MSE over
    all of them (lower is better). During training: 300 synthetic windows only (no AR fit needed)."""
    if not full:
        rng = np.random.default_rng(99)
        w = np.stack([synthetic(rng, WINDOW + 1) for _ in range(300)])
        return {"val": float(np.mean((forecast_last(model, w[:, :-1]) - w[:, -1]) ** 2))}
    coef = ar_coefficients()
    by: dict[str, Any] = {}
    errs: dict[str, list[np.ndarray]] = {"model": [], "persistence": [], "ar": []}
    for name, w in heldout_windows().items():
        past, nxt = w[:, :-1], w[:, -1]
        e = {
            "model": (forecast_last(model, past) - nxt) ** 2,
            "persistence": (past[:, -1] - nxt) ** 2,
            "ar": (np.concatenate([past, np.ones((len(w), 1))], 1) @ coef - nxt) ** 2,
        }
        for k, v in e.items():
            errs[k].append(v)
        m = {k: round(float(v.mean()), 4) for k, v in e.items()}
        by[name] = {"windows": len(w), "mse": m, "margin_over_persistence": round(m["persistence"] / m["model"], 3),
                    "margin_over_ar": round(m["ar"] / m["model"], 3)}  # fmt: skip
    total = {k: float(np.concatenate(v).mean()) for k, v in errs.items()}
    return {
        "val": total["model"],
        "heldout_mse": {k: round(v, 4) for k, v in total.items()},
        "margin_over_persistence": round(total["persistence"] / total["model"], 3),
        "margin_over_ar": round(total["ar"] / total["model"], 3),
        "heldout_by_series": by,
        "window": WINDOW,
    }


EVALUATE = series_eval  # fetches the real series (cached) like training does


def recipe() -> Recipe:
    def batch(rng: np.random.Generator, level: int) -> np.ndarray:
        return _windows(rng, 32, int(rng.integers(WINDOW + 1, 65)))

    real_series()  # fetched before training starts, so a missing registry fails at once
    return Recipe(
        name="series",
        title="Forecast a time series",
        task="numbers separated by commas or spaces: forecast the next one at every step",
        description=(
            "One-step-ahead forecasting: the network reads a series value by value and forecasts the next value "
            "at every step. Trained on synthetic series with a seasonal cycle, a slow drift and spikes that come "
            "back k steps later, and on yearly sunspot numbers and Mauna Loa CO₂ (ppm − 300) from statsmodels. "
            "Values are read as (v − 50) / 30; type values roughly between 0 and 150."
        ),
        tokenizer={"kind": "numbers", "vocab": ["<number>"], "unk": None, "lowercase": False},
        hidden={"lstm": 24, "gru": 28, "rnn": 40, "irnn": 40, "peephole": 24, "cifg": 26},
        input_size=1,
        batch=batch,
        evaluate=series_eval,
        val_name="mean squared error of the next value, held-out windows of 24",
        kind="forecaster",
        normalisation={"mean": MEAN, "scale": SCALE},
        loss=series_loss,
        higher_is_better=False,
        lr=4e-3,
        max_steps=3000,
        eval_every=100,
        patience=8,
        minutes=5,
        provenance={
            "generator": "app/train/tasks/series.py",
            "real_series": {
                **STATSMODELS.provenance(),
                "files": list(FILES),
                "licence": "public domain (statsmodels' dataset notes)",
                "transform": "co2: weekly → monthly means, gaps left out, − 300 ppm; first 80% trains",
            },
            "normalisation": "x = (v − 50) / 30; the forecast is 50 + 30·z",
            "loss": "squared error ½ (z_t − x_{t+1})², every step",
        },
        example=("20, 35, 48, 40, 25, 12, 20, 36, 50, 41, 26, 13, 21, 37, 49, 42, 27, 14", ""),
    )
