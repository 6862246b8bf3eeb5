"""The `lstm-explainer` command (also `python -m app`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import orjson

from .nn import ModelFileError, TraceInputError, load_zoo, trace_document
from .nn.cells import ARCHS
from .nn.files import env_model_dirs


def _models_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--models", action="append", type=Path, default=[], metavar="DIR",
        help="a directory of model directories (repeatable; also LSTM_EXPLAINER_MODELS)",
    )  # fmt: skip


def _json_arg(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from e


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (what was wrong and where to look) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lstm-explainer", description="Watch a real, trained LSTM read your sentence.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("serve", help="start the web app (http://127.0.0.1:8000 by default)")
    p.add_argument("--host", default=None, help="default 127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default 8000")
    p.add_argument("--workers", type=int, default=1)
    _models_arg(p)

    p = sub.add_parser("models", help="list the models found")
    p.add_argument("--json", action="store_true", help="print the model cards as JSON")
    _models_arg(p)

    p = sub.add_parser("trace", help="trace a text through a model and print the trace document")
    p.add_argument("model")
    p.add_argument("text")
    p.add_argument("--target", default=None, help="the token that should follow the text")
    p.add_argument("--intervene", action="append", type=_json_arg, default=[], metavar="JSON",
                   help='clamp a gate, e.g. \'{"gate": "forget", "value": 0, "start": 3}\' (repeatable)')  # fmt: skip
    p.add_argument("--no-gradients", action="store_true", help="skip the gradients through time")
    p.add_argument("--json", action="store_true", help="print the whole document as JSON (the default)")
    _models_arg(p)

    p = sub.add_parser("import", help="import weights trained with PyTorch or Keras into a model directory")
    p.add_argument("format", choices=["pytorch", "keras"])
    p.add_argument("weights", type=Path, help="PyTorch: .safetensors or .npz; Keras: .keras, .weights.h5 or .npz "
                   "(pickle files are refused)")  # fmt: skip
    p.add_argument("--vocab", type=Path, required=True, help="JSON list of tokens in index order, or {token: index}")
    p.add_argument("--tokenizer", choices=["char", "word"], required=True)
    p.add_argument("--id", required=True, dest="model_id", help="the model's id and directory name")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/ID/")
    p.add_argument("--unk", default=None, help="the vocabulary's unknown token, if it has one")
    p.add_argument("--lowercase", action="store_true", help="lowercase text before tokenizing")
    p.add_argument("--nonlinearity", choices=["tanh", "relu"], default=None,
                   help="a plain RNN's (nn.RNN, SimpleRNN): the weights do not record it")  # fmt: skip
    p.add_argument("--ignore", action="append", default=[], metavar="PATTERN",
                   help="leave out tensors matching this glob on purpose, e.g. 'drop.mask' (repeatable)")  # fmt: skip

    p = sub.add_parser("train", help="train a model from a recipe")
    p.add_argument("recipe")
    p.add_argument("--arch", choices=ARCHS, default=None)
    p.add_argument("--out", type=Path, default=None, help="default: ./models/ID")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=None, help="training time budget")
    p.add_argument("--hidden", type=int, default=None, help="override the recipe's hidden size")
    p.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    p.add_argument("--lr", type=float, default=None, help="override the recipe's peak learning rate")
    p.add_argument("--start", type=Path, default=None, help="train on from this model directory's weights")
    p.add_argument("--forget-bias", type=float, default=None,
                   help="the forget gate's starting bias (default +1); larger remembers longer at first")  # fmt: skip

    p = sub.add_parser("init", help="write an untrained model in a recipe's shape (e.g. to compare forget biases)")
    p.add_argument("recipe")
    p.add_argument("--arch", choices=ARCHS, default="lstm")
    p.add_argument("--forget-bias", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--id", dest="model_id", default=None)
    p.add_argument("--out", type=Path, required=True, help="writes OUT/ID/")

    p = sub.add_parser("export", help="write one self-contained HTML page that works offline")
    p.add_argument("model", nargs="?", help="the view's model (with --scene: default the scene's first)")
    p.add_argument("text", nargs="?", help="the view's text (with --scene: default the scene's first)")
    p.add_argument("--target", default=None)
    p.add_argument("--intervene", action="append", type=_json_arg, default=[], metavar="JSON")
    p.add_argument("--scene", default=None, help="export a scene instead of a single view")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--models", action="append", default=None, metavar="A,B",
                   help="the models the page carries (default: those the view or scene shows)")  # fmt: skip
    p.add_argument("--model-dir", action="append", type=Path, default=[], metavar="DIR", dest="model_dirs",
                   help="a directory of model directories (repeatable; also LSTM_EXPLAINER_MODELS)")  # fmt: skip

    p = sub.add_parser("site", help="write the app as a static site (no Python needed to serve it)")
    p.add_argument("out", type=Path, metavar="OUT_DIR")
    p.add_argument("--models", action="append", default=None, metavar="A,B",
                   help="the models the site carries (default: every model found)")  # fmt: skip
    p.add_argument("--model-dir", action="append", type=Path, default=[], metavar="DIR", dest="model_dirs",
                   help="a directory of model directories (repeatable; also LSTM_EXPLAINER_MODELS)")  # fmt: skip
    return parser


def cmd_models(args: argparse.Namespace) -> int:
    zoo = load_zoo([*env_model_dirs(), *args.models])
    cards = [public_card(m.card) for m in zoo.models.values()]
    if args.json:
        print(json.dumps({"models": cards, "failed": zoo.failed}, indent=2, ensure_ascii=False))
        return 0
    for c in cards:
        val = c.get("metrics", {}).get("validation")
        metric = f"  [{val['name']}: {val['value']:g}]" if val else ""
        print(
            f"{c['id']:<30} {c['arch']:<8} {c['layers']}×{c['hidden_size']:<5} {c['tokenizer']:<5} {c['title']}"
            + metric
        )
    for f in zoo.failed:
        print(f"failed: {f['path']}: {f['error']}", file=sys.stderr)
    return 0


def public_card(card: dict[str, Any]) -> dict[str, Any]:
    """A card for listing: the tokenizer reduced to its kind (vocabularies can be long)."""
    out = {k: v for k, v in card.items() if k != "tokenizer"}
    out["tokenizer"] = card["tokenizer"]["kind"]
    out["vocab_size"] = len(card["tokenizer"]["vocab"])
    return out


def cmd_trace(args: argparse.Namespace) -> int:
    zoo = load_zoo([*env_model_dirs(), *args.models])
    model = zoo.models.get(args.model)
    if model is None:
        print(
            f"error: no model {args.model!r}; models: {', '.join(sorted(zoo.models)) or 'none'}",
            file=sys.stderr,
        )
        return 2
    doc = trace_document(model, args.text, args.target, args.intervene or None, not args.no_gradients)
    sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .nn.importers import import_to_dir, read_vocab

    out = import_to_dir(
        args.out, fmt=args.format, weights=args.weights, vocab=read_vocab(args.vocab), tokenizer=args.tokenizer,
        model_id=args.model_id, unk=args.unk, lowercase=args.lowercase, nonlinearity=args.nonlinearity,
        ignore=args.ignore,
    )  # fmt: skip
    print(f"wrote {out}")
    for note in json.loads((out / "model.json").read_text(encoding="utf-8"))["provenance"]["notes"]:
        print(f"note: {note}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .config import get_settings
    from .serve import serve

    settings = get_settings()  # flags win over LSTM_EXPLAINER_HOST / _PORT, which win over the defaults
    serve(host=args.host or settings.host, port=args.port or settings.port, model_dirs=args.models,
          workers=args.workers)  # fmt: skip
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train.run import train_recipe

    train_recipe(args.recipe, arch=args.arch, out=args.out, seed=args.seed, minutes=args.minutes, hidden=args.hidden,
                 steps=args.steps, lr=args.lr, start=args.start, forget_bias=args.forget_bias)  # fmt: skip
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from .nn import save_model
    from .train.run import init_untrained
    from .train.tasks import get_recipe

    model = init_untrained(get_recipe(args.recipe), args.arch, args.forget_bias, args.seed, args.model_id)
    print(f"wrote {save_model(model, args.out / model.id)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_file, parse_model_ids

    if args.scene is None and (args.model is None or args.text is None):
        print('error: lstm-explainer export needs MODEL and "TEXT", or --scene NAME', file=sys.stderr)
        return 2
    if args.out.is_dir():
        print(f"error: --out {args.out} is a directory; give the page's file name, e.g. {args.out / 'page.html'}",
              file=sys.stderr)  # fmt: skip
        return 2
    models = parse_model_ids(args.models)
    if models and (dirs := [m for m in models if Path(m).is_dir()]):
        print(f"error: --models picks models by id (e.g. --models lecture-lstm,lecture-rnn); {dirs[0]} is a "
              f"directory: give model directories with --model-dir {dirs[0]}", file=sys.stderr)  # fmt: skip
        return 2
    exported = export_file(args.model, args.text, args.target, args.intervene, args.scene, args.out,
                           args.model_dirs, models=models)  # fmt: skip
    print(f"wrote {exported.summary()}")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from .export import parse_model_ids
    from .site import write_site

    site = write_site(args.out, parse_model_ids(args.models), args.model_dirs)
    print(f"wrote {site.summary()}")
    print(f"serve it from any static host, e.g. python -m http.server -d {args.out} 8080")
    return 0


COMMANDS = {
    "models": cmd_models, "trace": cmd_trace, "import": cmd_import, "serve": cmd_serve,
    "train": cmd_train, "init": cmd_init, "export": cmd_export, "site": cmd_site,
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (TraceInputError, ModelFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the user gave that cannot be read or written
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
