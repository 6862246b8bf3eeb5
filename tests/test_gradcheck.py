"""Central-difference gradient checks of every parameter and the initial states, for every arch."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn import ARCHS, Stepper, random_model, run_trace
from app.nn.cells import step_forward
from app.nn.document import document, expected_p
from app.nn.interventions import parse_interventions, step_clamps
from app.nn.model import Model, log_softmax

EPS = 1e-5  # central differences: truncation O(EPS²), roundoff O(1e-16/EPS); 1e-5 balances them


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-12))


def small(arch: str, layers: int, seed: int = 0) -> Model:
    return random_model(arch, vocab=["<unk>", *"abcdef"], hidden_size=4, input_size=3, layers=layers, seed=seed)


def batch(model: Model, seed: int = 1, B: int = 2, T: int = 5):
    rng = np.random.default_rng(seed)
    V = len(model.vocab)
    tokens = rng.integers(0, V, (B, T))
    targets = rng.integers(0, V, (B, T))
    weights = rng.uniform(0.2, 1.0, (B, T))  # a random weighted loss exercises every step's gradient
    h0 = [rng.normal(0, 0.5, (B, model.hidden_size)) for _ in range(model.layers)]
    c0 = [rng.normal(0, 0.5, (B, model.hidden_size)) if model.spec.has_cell else None for _ in h0]
    return tokens, targets, weights, (h0, c0)


def central(f, x: np.ndarray, idx: tuple[int, ...]) -> float:
    """∂f/∂x[idx] by central differences."""
    old = x[idx]
    x[idx] = old + EPS
    up = f()
    x[idx] = old - EPS
    down = f()
    x[idx] = old
    return (up - down) / (2 * EPS)


def numeric(f, x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        g[idx] = central(f, x, idx)
    return g


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_parameter_and_initial_state(arch: str, layers: int) -> None:
    model = small(arch, layers)
    tokens, targets, weights, state = batch(model)
    loss = lambda: model.loss_and_grads(tokens, targets, weights, state)[0]  # noqa: E731
    _, grads, _ = model.loss_and_grads(tokens, targets, weights, state)
    assert set(grads.params) == set(model.params)
    for name, p in model.params.items():
        err = rel_err(grads.params[name], numeric(loss, p))
        assert err < 1e-6, f"{arch} L={layers} {name}: relative error {err:.2e}"
    for l in range(layers):
        assert rel_err(grads.h0[l], numeric(loss, state[0][l])) < 1e-6, f"{arch} dh0[{l}]"
        if model.spec.has_cell:
            assert rel_err(grads.c0[l], numeric(loss, state[1][l])) < 1e-6, f"{arch} dc0[{l}]"


@pytest.mark.parametrize("arch", [a for a in ARCHS if a not in ("rnn", "irnn")])
def test_clamped_gates_are_constants_in_the_backward(arch: str) -> None:
    model = small(arch, 2)
    tokens, targets, weights, state = batch(model)
    gates = model.spec.gates
    raw = [
        {"gate": gates[0], "value": 0.3 if gates[0] != "candidate" else -0.3, "layer": 0, "units": [1, 2],
         "start": 1, "stop": 4},
        {"gate": gates[-1], "value": 0.9, "layer": 1, "units": None, "start": 2, "stop": None},
    ]  # fmt: skip
    ivs = parse_interventions(raw, model.spec, model.layers, model.hidden_size)
    clamps = step_clamps(ivs, model.layers, tokens.shape[1], model.hidden_size, np.float64)
    loss = lambda: model.loss_and_grads(tokens, targets, weights, state, clamps)[0]  # noqa: E731
    _, grads, _ = model.loss_and_grads(tokens, targets, weights, state, clamps)
    for name, p in model.params.items():
        err = rel_err(grads.params[name], numeric(loss, p))
        assert err < 1e-6, f"{arch} clamped {name}: relative error {err:.2e}"


def offset_loss(model: Model, ids: list[int], t_loss: int, target: int, l: int, k: int, delta: np.ndarray) -> float:
    """L_t with h_k of layer l shifted by delta (the shift reaches the layer above and the next step)."""
    stepper = Stepper(model)
    logits = None
    for t, tok in enumerate(ids[: t_loss + 1]):
        xw = stepper.table[tok][None]
        for layer, p in enumerate(stepper.params):
            if layer > 0:
                xw = stepper.h[layer - 1] @ p["weight_ih"].T + p["bias_ih"]
            cache = step_forward(model.spec, p, xw, stepper.h[layer], stepper.c[layer])
            stepper.h[layer] = cache["h"] + (delta if (layer, t) == (l, k) else 0.0)
            stepper.c[layer] = cache["c"]
        logits = stepper.h[-1] @ model.params["decoder.weight"].T + model.params["decoder.bias"]
    return float(-log_softmax(logits[0])[target])


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn", "peephole"])
def test_gradient_triangle_matches_central_differences(arch: str) -> None:
    model = small(arch, 2, seed=3)
    text = "abcadfe"
    trace = run_trace(model, text, target="b")
    ids = [tok.id for tok in trace.tokens]
    tri = trace.triangle
    assert tri is not None
    T = len(ids)
    assert list(tri.loss_steps) == list(range(T))  # every step has a next token, the last has the target
    for t in (2, T - 1):
        target = trace.expected[t]
        for l in range(2):
            for k in range(t + 1):
                delta = np.zeros((1, model.hidden_size))
                grad = np.zeros(model.hidden_size)
                for u in range(model.hidden_size):
                    delta[0, u] = EPS
                    up = offset_loss(model, ids, t, target, l, k, delta)
                    delta[0, u] = -EPS
                    down = offset_loss(model, ids, t, target, l, k, delta)
                    delta[0, u] = 0.0
                    grad[u] = (up - down) / (2 * EPS)
                expect = np.linalg.norm(grad)
                got = tri.hidden[l, t, k]
                assert abs(got - expect) <= 1e-6 * max(expect, 1e-8), f"{arch} L{t} h[{l},{k}]: {got} vs {expect}"
            assert np.isnan(tri.hidden[:, t, t + 1 :]).all()


def test_cell_norm_is_the_total_derivative() -> None:
    """‖∂L_t/∂c_k‖ counts the path through h_k = o·tanh(c_k) as well as the conveyor belt."""
    model = small("lstm", 1, seed=5)
    trace = run_trace(model, "abcdefab")
    ids, T, t = [tok.id for tok in trace.tokens], len(trace.tokens), 6
    p = model.layer(0)

    def loss_with_cell_offset(k: int, delta: np.ndarray) -> float:
        h = np.zeros((1, 4))
        c = np.zeros((1, 4))
        for s in range(t + 1):
            a = model.xw_table()[ids[s]][None] + h @ p["weight_hh"].T + p["bias_hh"]
            i, f, g, o = (1 / (1 + np.exp(-a[:, :4])), 1 / (1 + np.exp(-a[:, 4:8])), np.tanh(a[:, 8:12]),
                          1 / (1 + np.exp(-a[:, 12:])))  # fmt: skip
            c = f * c + i * g + (delta if s == k else 0.0)
            h = o * np.tanh(c)
        logits = h @ model.params["decoder.weight"].T + model.params["decoder.bias"]
        return float(-log_softmax(logits[0])[ids[t + 1]])

    assert T == 8
    for k in range(t + 1):
        grad = np.zeros(4)
        for u in range(4):
            d = np.zeros((1, 4))
            d[0, u] = EPS
            up = loss_with_cell_offset(k, d)
            d[0, u] = -EPS
            grad[u] = (up - loss_with_cell_offset(k, d)) / (2 * EPS)
        assert trace.triangle is not None
        assert trace.triangle.cell is not None
        np.testing.assert_allclose(trace.triangle.cell[0, t, k], np.linalg.norm(grad), rtol=1e-6)


@pytest.mark.parametrize("arch", ARCHS)
def test_param_gradients_are_those_of_the_last_loss(arch: str) -> None:
    model = small(arch, 2, seed=7)
    trace = run_trace(model, "fadebca", target="c")
    tri = trace.triangle
    assert tri is not None and tri.params is not None and tri.param_step == 6
    ids = np.array([[tok.id for tok in trace.tokens]])
    weights = np.zeros((1, 7))
    weights[0, 6] = 1.0
    targets = np.array([[*ids[0, 1:], trace.target.id]])  # type: ignore[union-attr]
    _, grads, _ = model.loss_and_grads(ids, targets, weights)
    for name, g in grads.params.items():
        np.testing.assert_allclose(tri.params.params[name], g, rtol=1e-9, atol=1e-13, err_msg=name)


PIECES_VOCAB = ["<unk>", "a", "b", "c", "ab", "##a", "##b", "##c", "##ca", "."]


def pieces_model(arch: str, layers: int, seed: int) -> Model:
    return random_model(arch, vocab=PIECES_VOCAB, tokenizer="word", hidden_size=4, input_size=3, layers=layers,
                        seed=seed)  # fmt: skip


def word_loss(model: Model, ids: list[int], pieces: list[int], l: int, k: int, delta: np.ndarray) -> float:
    """−log p(word | ids) = −Σ_j log p(piece_j | ids, pieces before j), with h_k of layer l shifted."""
    stepper = Stepper(model)
    loss = 0.0
    feed = ids + pieces[:-1]
    for t, tok in enumerate(feed):
        xw = stepper.table[tok][None]
        for layer, p in enumerate(stepper.params):
            if layer > 0:
                xw = stepper.h[layer - 1] @ p["weight_ih"].T + p["bias_ih"]
            cache = step_forward(model.spec, p, xw, stepper.h[layer], stepper.c[layer])
            stepper.h[layer] = cache["h"] + (delta if (layer, t) == (l, k) else 0.0)
            stepper.c[layer] = cache["c"]
        if t >= len(ids) - 1:
            logits = stepper.h[-1] @ model.params["decoder.weight"].T + model.params["decoder.bias"]
            loss -= float(log_softmax(logits[0])[pieces[t - len(ids) + 1]])
    return loss


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_a_target_of_pieces_is_scored_as_one_word_and_its_gradients_check(arch: str) -> None:
    """The target "bcab" reads as b ##ca ##b: its loss is −log of the product of the three pieces'
    probabilities, each given the text and the pieces before it, and ‖∂L/∂h_k‖ of that last loss (through
    the target's own steps after the text) matches central differences."""
    model = pieces_model(arch, 2, seed=11)
    trace = run_trace(model, "a b ab c", target="bcab")
    ids = [tok.id for tok in trace.tokens]
    pieces = [PIECES_VOCAB.index(p) for p in ("b", "##ca", "##b")]
    assert [p.id for p in trace.target_pieces] == pieces
    assert trace.target is not None and trace.target.text == "bcab" and trace.expected[-1] == pieces[0]
    none = np.zeros((1, model.hidden_size))
    want = word_loss(model, ids, pieces, 0, 0, none)
    np.testing.assert_allclose(trace.losses[-1], want, rtol=1e-12)
    np.testing.assert_allclose(expected_p(trace)[-1], np.exp(-want), rtol=1e-12)
    assert document(trace)["steps"][-1]["expected"]["token"] == "bcab"
    tri = trace.triangle
    assert tri is not None and tri.hidden.shape[-1] == len(ids)
    T = len(ids)
    for l in range(2):
        for k in range(T):
            grad = np.zeros(model.hidden_size)
            for u in range(model.hidden_size):
                d = np.zeros((1, model.hidden_size))
                d[0, u] = EPS
                up = word_loss(model, ids, pieces, l, k, d)
                d[0, u] = -EPS
                grad[u] = (up - word_loss(model, ids, pieces, l, k, d)) / (2 * EPS)
            got, expect = tri.hidden[l, T - 1, k], np.linalg.norm(grad)
            assert abs(got - expect) <= 1e-6 * max(expect, 1e-8), f"{arch} h[{l},{k}]: {got} vs {expect}"


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_the_weight_gradients_of_a_target_of_pieces_are_its_whole_word_loss(arch: str) -> None:
    """∂L/∂θ of the last loss equals the training loss's gradient over the text and the target's steps,
    with weight 1 on each piece of the target and 0 elsewhere."""
    model = pieces_model(arch, 2, seed=12)
    trace = run_trace(model, "b a c", target="abca")  # ab ##ca
    tri = trace.triangle
    assert tri is not None and tri.params is not None and tri.param_step == 2
    pieces = [p.id for p in trace.target_pieces]
    assert len(pieces) == 2
    ids = np.array([[*(tok.id for tok in trace.tokens), *pieces[:-1]]])
    targets = np.array([[*ids[0, 1:], pieces[-1]]])
    targets[0, 2] = pieces[0]
    weights = np.zeros((1, ids.shape[1]))
    weights[0, 2:] = 1.0
    loss, grads, _ = model.loss_and_grads(ids, targets, weights)
    np.testing.assert_allclose(loss, trace.losses[-1], rtol=1e-12)
    for name, g in grads.params.items():
        np.testing.assert_allclose(tri.params.params[name], g, rtol=1e-9, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_long_sequences_with_an_answer_weight_check(arch: str) -> None:
    # Training has T≈40 and weight mostly on the answer; the checks above use T=5 with weight everywhere.
    model = random_model(arch, vocab=["<unk>", *"abcdefgh"], hidden_size=6, input_size=4, layers=1, seed=0)
    model.params = {k: v.astype(np.float64) for k, v in model.params.items()}
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, 9, (3, 40)), rng.integers(0, 9, (3, 40))
    weights = np.zeros((3, 40))
    weights[:, -1], weights[0, 5] = 1.0, 0.3
    loss = lambda: model.loss_and_grads(tokens, targets, weights)[0]  # noqa: E731
    _, grads, _ = model.loss_and_grads(tokens, targets, weights)
    for name, p in model.params.items():
        for _ in range(15):
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            num, got = central(loss, p, idx), grads.params[name][idx]
            assert abs(num - got) <= 1e-6 * max(abs(num), abs(got), 1e-8), f"{arch} {name}{idx}: {got} vs {num}"


@pytest.mark.parametrize("arch", [a for a in ARCHS if a not in ("rnn", "irnn")])
def test_a_clamped_triangle_of_several_blocks_is_each_losss_own_backward(arch: str) -> None:
    """The triangle's sweeps share each step's coefficients between blocks (step_backward keeps them in the
    trace's caches); every row must still be its loss's own backward through the clamped forward."""
    model = small(arch, 2, seed=5)
    text = "abcadfebcafedabcfeadbcfaebdcafbedcafbedacfb"  # 43 steps: two blocks of losses
    gates = model.spec.gates
    raw = [{"gate": gates[0], "value": 0.2 if gates[0] != "candidate" else -0.2, "layer": 0, "units": [0, 2],
            "start": 3, "stop": 38},
           {"gate": gates[-1], "value": 0.8, "layer": 1, "units": None, "start": 30, "stop": None}]  # fmt: skip
    trace = run_trace(model, text, target="b", interventions=raw)
    tri = trace.triangle
    assert tri is not None and len(tri.loss_steps) > 32
    ids = np.array([[tok.id for tok in trace.tokens]])
    tape = model.forward(ids, clamps=trace.clamps)  # plain per-step caches, nothing kept between sweeps
    for r, t in enumerate(tri.loss_steps):
        if r % 7 and r != len(tri.loss_steps) - 1:
            continue
        d = np.exp(log_softmax(tape.logits[t, 0]))
        d[trace.expected[t]] -= 1.0
        d_top = (d @ model.params["decoder.weight"])[None]
        norms = np.full((model.layers, len(ids[0])), np.nan)

        def seen(l: int, s: int, a: int, dh: np.ndarray, dc: np.ndarray | None, norms=norms) -> None:
            norms[l, s] = np.linalg.norm(dh[0])

        model.backward(tape, 1, lambda s, rows, t=t, d_top=d_top: (0, d_top if s == t else None),
                       params=False, on_step=seen)  # fmt: skip
        got = tri.hidden[:, r, : t + 1]
        assert np.allclose(got, norms[:, : t + 1], rtol=1e-12, atol=1e-15), f"{arch} row {r}"
