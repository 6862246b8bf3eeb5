"""CPU time of one 60-token trace with gradients and its document — what the server spends per student who
types a sentence — on the shipped lecture models, beside the previous lecture model's shape (381 words,
H = 64, random weights: the cost does not depend on the weights) traced by the same code in this process.

    python benchmarks/trace_cost.py            # 20 sentences per model, time.process_time
    python benchmarks/trace_cost.py -n 50
    python benchmarks/trace_cost.py --quick    # one sentence per model (the smoke test's run)

Sentences are ws_load.py's: its 17 words shuffled, 60 tokens each, so no trace is a cache hit.
"""

from __future__ import annotations

import argparse
import random
import time

from threadpoolctl import threadpool_limits

from app.nn import Model, load_model, random_model, shipped_models_dir
from app.nn.document import document
from app.nn.trace import run_trace

BASE = "the keys to the cabinet are on the table and the cat that the dogs chase is black".split()  # noqa: SIM905


def sentences(n: int, tokens: int = 60) -> list[str]:
    out = []
    for v in range(n):
        words = BASE * (tokens // len(BASE) + 2)
        random.Random(v).shuffle(words)
        out.append(" ".join(words[:tokens]))
    return out


def cost(model: Model, texts: list[str]) -> tuple[float, float, float]:
    """ms per text: forward, forward + gradients, forward + gradients + document."""
    document(run_trace(model, texts[0]))  # warm up: the input-projection table, BLAS
    out = []
    for grads, doc in ((False, False), (True, False), (True, True)):
        start = time.process_time()
        for text in texts:
            trace = run_trace(model, text, gradients=grads)
            if doc:
                document(trace)
        out.append((time.process_time() - start) / len(texts) * 1e3)
    return out[0], out[1], out[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20, help="sentences per model")
    parser.add_argument("--quick", action="store_true", help="one sentence per model")
    args = parser.parse_args()
    if args.quick:
        args.n = 1
    texts = sentences(args.n)
    old_vocab = ["<unk>", *sorted(set(BASE)), *(f"w{k}" for k in range(381 - 1 - len(set(BASE))))]
    old = random_model("lstm", vocab=old_vocab, tokenizer="word", hidden_size=64, input_size=32, model_id="old-shape")
    models = [("previous lecture-lstm shape (V=381, H=64)", old)]
    for model_id in ("lecture-lstm", "lecture-gru", "lecture-rnn"):
        m = load_model(shipped_models_dir() / model_id)
        models.append((f"{model_id} (V={len(m.vocab)}, H={m.hidden_size})", m))
    with threadpool_limits(1):  # as the server runs traces: one BLAS thread each
        rows = [(name, cost(m, texts)) for name, m in models]
    base = rows[0][1][2]
    print(f"60-token trace, CPU ms per sentence (time.process_time over {args.n} sentences)")
    print(f"{'model':<46} {'forward':>8} {'+grads':>8} {'+document':>10} {'vs previous':>12}")
    for name, (fwd, grad, doc) in rows:
        print(f"{name:<46} {fwd:8.2f} {grad:8.2f} {doc:10.2f} {doc / base:11.2f}×")


if __name__ == "__main__":
    main()
