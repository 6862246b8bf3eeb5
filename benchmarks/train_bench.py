"""Training throughput (tokens/s) of the NumPy trainer on the Shakespeare recipe's shape, beside baselines in
this process: the NumPy forward alone, and — where torch happens to be installed — the same model trained
with PyTorch (nn.Embedding + nn.LSTM/GRU/RNN + nn.Linear, Adam, clipping) on the same number of threads.

    python benchmarks/train_bench.py                  # lstm, gru, rnn at the shipped sizes
    python benchmarks/train_bench.py --arch lstm --steps 20
    python benchmarks/train_bench.py --quick    # one step of the LSTM, batch 4 × 20 (the smoke test's run)

torch is never a dependency of the app; without it the PyTorch column is skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.nn.model import Model, init_params
from app.nn.tokenizer import Tokenizer
from app.train.optim import Adam, clip_by_global_norm

BATCH, WINDOW, VOCAB, EMBED = 32, 100, 68, 32  # the shakespeare recipe's batch, window and embedding
HIDDEN = {"lstm": 256, "gru": 296, "rnn": 512}


def best_of(fn: Callable[[], object], steps: int) -> float:
    """Seconds per call: the median of `steps` timed calls after two warm-up calls."""
    fn(), fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def numpy_model(arch: str) -> Model:
    H = HIDDEN[arch]
    vocab = [f"c{k}" for k in range(VOCAB)]
    params = init_params(arch, 1, VOCAB, EMBED, H, np.random.default_rng(0), dtype=np.float32)
    card = {"id": f"bench-{arch}", "title": "bench", "arch": arch, "layers": 1, "input_size": EMBED,
            "hidden_size": H, "tokenizer": {"kind": "char", "vocab": vocab}}  # fmt: skip
    return Model(card, params, Tokenizer("char", vocab, None, False))


def bench_numpy(arch: str, steps: int) -> tuple[float, float]:
    model = numpy_model(arch)
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, VOCAB, (BATCH, WINDOW))
    targets = rng.integers(0, VOCAB, (BATCH, WINDOW))
    weights = np.full((BATCH, WINDOW), 1.0 / (BATCH * WINDOW))
    opt = Adam(model.params, 2e-3)

    def train_step() -> None:
        _, grads, _ = model.loss_and_grads(inputs, targets, weights)
        clip_by_global_norm(grads.params, 5.0)
        opt.step(grads.params)

    return best_of(train_step, steps), best_of(lambda: model.forward(inputs), steps)


def bench_torch(arch: str, steps: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    rnn_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[arch]

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBED)
            self.rnn = rnn_cls(EMBED, HIDDEN[arch], batch_first=True)
            self.decoder = torch.nn.Linear(HIDDEN[arch], VOCAB)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.decoder(self.rnn(self.embedding(x))[0])

    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    inputs = torch.randint(0, VOCAB, (BATCH, WINDOW))
    targets = torch.randint(0, VOCAB, (BATCH, WINDOW))

    def train_step() -> None:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(inputs).reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()

    return best_of(train_step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(HIDDEN), action="append")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="one step of the LSTM on a batch of 4 × 20")
    args = parser.parse_args()
    if args.quick:
        global BATCH, WINDOW
        args.arch, args.steps, BATCH, WINDOW = ["lstm"], 1, 4, 20
    tokens = BATCH * WINDOW
    print(f"batch {BATCH} × window {WINDOW} = {tokens} tokens per step, vocabulary {VOCAB}, embedding {EMBED}")
    print(f"{'arch':<5} {'H':>4} {'numpy tok/s':>12} {'train/forward':>14} {'torch tok/s':>12} {'numpy/torch':>12}")
    for arch in args.arch or ["lstm", "gru", "rnn"]:
        train_s, forward_s = bench_numpy(arch, args.steps)
        torch_s = bench_torch(arch, args.steps)
        torch_txt = f"{tokens / torch_s:12.0f} {torch_s / train_s:12.2f}" if torch_s else f"{'—':>12} {'—':>12}"
        print(f"{arch:<5} {HIDDEN[arch]:>4} {tokens / train_s:12.0f} {train_s / forward_s:14.2f} {torch_txt}")


if __name__ == "__main__":
    main()
