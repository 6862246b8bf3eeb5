"""µs per step of the traced forward and of the gradient-norm triangle, beside two baselines in this process
(ratios, since machines are noisy): a plain NumPy LSTM loop that records nothing, and — where torch is
installed — PyTorch's fused `nn.LSTM` forward (float64, the same weights, no recording). Everything runs on
one thread (one BLAS thread, as the server runs traces; torch.set_num_threads(1)).

    python benchmarks/core_bench.py              # (H=16, T=50) and (H=256, T=1000)
    python benchmarks/core_bench.py --no-long    # skip the T=1000 triangle (it is O(T²·H²) work)
    python benchmarks/core_bench.py --quick      # the tiniest run (the smoke test's): H=16, T=50, few repeats
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from app.nn import random_model, run_trace
from app.nn.trace import gradient_triangle


def plain_loop(model, ids: list[int]) -> np.ndarray:
    """What a student writes: per step, W·[h, x] + b, four gates, no recording, no decoder."""
    p = model.layer(0)
    W = np.concatenate([p["weight_hh"], p["weight_ih"]], axis=1)  # (4H, H + I)
    b = p["bias_ih"] + p["bias_hh"]
    E = model.params["embedding.weight"]
    H = model.hidden_size
    h, c = np.zeros(H), np.zeros(H)
    for k in ids:
        z = W @ np.concatenate([h, E[k]]) + b
        i = 1 / (1 + np.exp(-z[:H]))
        f = 1 / (1 + np.exp(-z[H : 2 * H]))
        g = np.tanh(z[2 * H : 3 * H])
        o = 1 / (1 + np.exp(-z[3 * H :]))
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


def torch_forward(model, ids: list[int]) -> Callable[[], object] | None:
    """PyTorch's fused LSTM forward over the same embedded tokens with the same weights (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    p = model.layer(0)
    lstm = torch.nn.LSTM(model.input_size, model.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{name}_l0").copy_(torch.from_numpy(p[name]))
    x = torch.from_numpy(model.params["embedding.weight"][ids][:, None, :].copy())  # (T, 1, I)

    def run() -> object:
        with torch.no_grad():
            return lstm(x)

    return run


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(H: int, T: int, triangle: bool, repeats: int) -> None:
    model = random_model("lstm", vocab=["<unk>", *"abcdefghijklmnopqrstuvwxyz .,;:!?'"], hidden_size=H,
                         input_size=32, seed=0)  # fmt: skip
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), T))
    ids = [t.id for t in model.tokenizer.tokenize(text)]
    model.xw_table()  # built once per model when it loads, not per trace
    base = best_of(lambda: plain_loop(model, ids), repeats)
    fwd = best_of(lambda: run_trace(model, text, gradients=False), repeats)
    fused = torch_forward(model, ids)
    ref = best_of(fused, repeats) if fused is not None else None
    print(f"H={H:<4} T={T:<5} plain loop        {base / T * 1e6:9.1f} µs/step")
    if ref is not None:
        print(f"{'':13} torch nn.LSTM     {ref / T * 1e6:9.1f} µs/step   (fused forward, float64, 1 thread)")
    vs_torch = f", {fwd / ref:5.2f}× torch nn.LSTM" if ref is not None else "  (torch not installed)"
    print(f"{'':13} traced forward    {fwd / T * 1e6:9.1f} µs/step   {fwd / base:5.2f}× the plain loop{vs_torch}")
    if triangle:
        trace = run_trace(model, text, gradients=False)

        def fresh_triangle() -> None:
            trace.triangle = None  # computed rows are kept: time the whole triangle each time
            gradient_triangle(trace)

        tri = best_of(fresh_triangle, max(1, repeats // 3))
        print(f"{'':13} full triangle     {tri / T * 1e6:9.1f} µs/step   {tri / fwd:5.2f}× the traced forward"
              f"  ({T * (T + 1) // 2:,} gradient norms)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-long", action="store_true", help="skip the T=1000 triangle")
    ap.add_argument("--quick", action="store_true", help="the tiniest run: H=16, T=50, three repeats")
    args = ap.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread, as the server runs traces and torch here
        if args.quick:
            bench(16, 50, True, 3)
            return
        bench(16, 50, True, 30)
        bench(256, 1000, not args.no_long, 5)


if __name__ == "__main__":
    main()
