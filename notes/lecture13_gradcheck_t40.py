import numpy as np
from app.nn import random_model
EPS=1e-5
for arch in ("lstm","gru"):
    m = random_model(arch, vocab=["<unk>", *"abcdefgh"], hidden_size=6, input_size=4, layers=1, seed=0)
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    rng = np.random.default_rng(3); B,T=3,40
    tok = rng.integers(0,9,(B,T)); tgt = rng.integers(0,9,(B,T))
    w = np.zeros((B,T)); w[:, -1] = 1.0; w[0, 5] = 0.3; w[1, 20:] = 0.0  # sparse, answer-at-end like training
    f = lambda: m.loss_and_grads(tok,tgt,w)[0]
    _, g, _ = m.loss_and_grads(tok,tgt,w)
    worst = 0
    for name,p in m.params.items():
        for _ in range(15):
            idx = tuple(rng.integers(0,s) for s in p.shape); o=p[idx]
            p[idx]=o+EPS; up=f(); p[idx]=o-EPS; dn=f(); p[idx]=o
            num=(up-dn)/(2*EPS); an=g.params[name][idx]
            worst=max(worst, abs(num-an)/max(abs(num),abs(an),1e-8))
    print(arch, "T=40 sparse weights: worst rel err over sampled entries", f"{worst:.2e}")
