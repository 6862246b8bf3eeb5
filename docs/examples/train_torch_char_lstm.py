"""Train a small character LSTM with PyTorch and save it so LSTM Explainer can look inside.

    pip install torch safetensors
    python docs/examples/train_torch_char_lstm.py --out /tmp/mymodel
    lstm-explainer import pytorch /tmp/mymodel/weights.safetensors --vocab /tmp/mymodel/vocab.json \
        --tokenizer char --id my-lstm --out ./my-models --unk "<unk>"
    lstm-explainer trace my-lstm "hello world, hello lect" --target u --models ./my-models --json | head -c 400
    lstm-explainer serve --models ./my-models      # then pick "my-lstm" in the model menu

Any module that holds an nn.Embedding, an nn.LSTM / nn.GRU / nn.RNN and an nn.Linear head works; the
attribute names do not matter. Save the state_dict with safetensors (never pickle), and the vocabulary
as a JSON list in index order.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

TEXT = "hello world, hello lecture hall. " * 50


class CharLSTM(nn.Module):
    def __init__(self, vocab_size: int, embed: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.embed(x))
        return self.head(h)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    torch.manual_seed(0)
    vocab = ["<unk>", *sorted(set(TEXT))]
    ids = torch.tensor([vocab.index(ch) for ch in TEXT])
    model = CharLSTM(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(args.steps):
        start = torch.randint(0, len(ids) - 65, (16,))
        batch = torch.stack([ids[s : s + 65] for s in start])
        logits = model(batch[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(args.out / "weights.safetensors"))
    (args.out / "vocab.json").write_text(json.dumps(vocab))
    print(f"saved {args.out}/weights.safetensors and vocab.json")


if __name__ == "__main__":
    main()
