"""Transformer workloads, written once against the torch API (``lib`` is torch or tensorplug).

The decoder is nanoGPT's model (Karpathy's ``model.py``) at the size of its
character-level Shakespeare config scaled down: 4 layers, n_embd 128, 4 heads,
block 64, batch 8, vocabulary 65, no dropout, tied input/output embedding; the
attention is nanoGPT's explicit ``q @ k.T -> masked_fill -> softmax -> @ v``
path (its fallback when flash attention is unavailable) and the MLP uses exact
GELU. Trained with AdamW as nanoGPT does (weight decay 0.1 on matrices only).
"""
from __future__ import annotations

import math

VOCAB, BLOCK, N_EMBD, N_HEAD, N_LAYER, BATCH = 65, 64, 128, 4, 4, 8


def _decoder_classes(lib):
    nn = lib.nn
    F = nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)
            self.c_proj = nn.Linear(N_EMBD, N_EMBD)
            self.register_buffer("bias", lib.tril(lib.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

        def forward(self, x):
            b, t, c = x.size()
            q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
            k = k.view(b, t, N_HEAD, c // N_HEAD).transpose(1, 2)
            q = q.view(b, t, N_HEAD, c // N_HEAD).transpose(1, 2)
            v = v.view(b, t, N_HEAD, c // N_HEAD).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(b, t, c)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(N_EMBD)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(N_EMBD)
            self.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD)
            self.gelu = nn.GELU()
            self.mlp_proj = nn.Linear(4 * N_EMBD, N_EMBD)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp_proj(self.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(VOCAB, N_EMBD)
            self.wpe = nn.Embedding(BLOCK, N_EMBD)
            self.h = nn.ModuleList([Block() for _ in range(N_LAYER)])
            self.ln_f = nn.LayerNorm(N_EMBD)
            self.lm_head = nn.Linear(N_EMBD, VOCAB, bias=False)
            self.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT

        def forward(self, idx, targets=None):
            t = idx.size(1)
            pos = lib.arange(0, t, dtype=lib.long)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            if targets is None:
                return logits, None
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    return GPT


def _decoder(lib):
    lib.manual_seed(0)
    model = _decoder_classes(lib)()
    idx = lib.randint(0, VOCAB, (BATCH, BLOCK))
    targets = lib.randint(0, VOCAB, (BATCH, BLOCK))
    return model, idx, targets


def _adamw(lib, model):
    """nanoGPT's optimizer groups: weight decay on matrices (dim >= 2), none on biases and norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return lib.optim.AdamW(groups, lr=6e-4, betas=(0.9, 0.95))


def fw_decoder_train(lib):
    model, idx, targets = _decoder(lib)
    opt = _adamw(lib, model)

    def step():
        opt.zero_grad(set_to_none=True)
        _, loss = model(idx, targets)
        loss.backward()
        opt.step()
    return step


def fw_decoder_eval(lib):
    model, idx, targets = _decoder(lib)
    model.eval()

    def step():
        with lib.no_grad():
            model(idx, targets)
    return step


def fw_gelu(lib, rows=16384, cols=384):
    lib.manual_seed(0)
    x = lib.randn(rows, cols, requires_grad=True)
    g = lib.randn(rows, cols)
    gelu = lib.nn.functional.gelu

    def step():
        x.grad = None
        gelu(x).backward(g)
    return step


def fw_layer_norm(lib, rows=BATCH * BLOCK * 4, cols=N_EMBD * 4):
    lib.manual_seed(0)
    norm = lib.nn.LayerNorm(cols)
    x = lib.randn(rows, cols, requires_grad=True)
    g = lib.randn(rows, cols)

    def step():
        x.grad = None
        norm.zero_grad()
        norm(x).backward(g)
    return step


def fw_attention(lib, batch=BATCH, heads=N_HEAD, length=BLOCK * 4, dim=N_EMBD // N_HEAD):
    """``scaled_dot_product_attention`` with a causal mask, forward and backward."""
    lib.manual_seed(0)
    q, k, v = (lib.randn(batch, heads, length, dim, requires_grad=True) for _ in range(3))
    g = lib.randn(batch, heads, length, dim)
    sdpa = lib.nn.functional.scaled_dot_product_attention

    def step():
        q.grad = k.grad = v.grad = None
        sdpa(q, k, v, is_causal=True).backward(g)
    return step


def fw_embedding_backward(lib, vocab=50304, dim=128, tokens=BATCH * 1024):
    """GPT-2's vocabulary: the gradient of an embedding lookup scattered back into its rows."""
    lib.manual_seed(0)
    emb = lib.nn.Embedding(vocab, dim)
    idx = lib.randint(0, vocab, (tokens,))
    g = lib.randn(tokens, dim)

    def step():
        emb.weight.grad = None
        emb(idx).backward(g)
    return step


# hand-written NumPy twins (float32, the same shapes) ------------------------------------------------

def np_unavailable(reason):
    """A NumPy builder for rows without a meaningful hand-written twin: the suite reports n/a."""
    def build():
        raise NotImplementedError(reason)
    return build


def np_layer_norm(rows=BATCH * BLOCK * 4, cols=N_EMBD * 4):
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, cols), dtype=np.float32)
    g = rng.standard_normal((rows, cols), dtype=np.float32)
    w = np.ones(cols, np.float32)
    b = np.zeros(cols, np.float32)
    return lambda: layer_norm_step(x, w, b, g)


def layer_norm_step(x, w, b, g, eps=1e-5):
    """LayerNorm over the last axis and its gradients ``(y, gx, gw, gb)`` for upstream ``g``."""
    import numpy as np
    mu = x.mean(axis=-1, keepdims=True)
    d = x - mu
    rstd = 1 / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps)
    xhat = d * rstd
    y = xhat * w + b
    gw, gb = (g * xhat).sum(0), g.sum(0)
    gh = g * w
    gx = rstd * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
    return y, gx, gw, gb


def np_attention(batch=BATCH, heads=N_HEAD, length=BLOCK * 4, dim=N_EMBD // N_HEAD):
    import numpy as np
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.standard_normal((batch, heads, length, dim), dtype=np.float32) for _ in range(4))
    return lambda: causal_attention_step(q, k, v, g)


def causal_attention_step(q, k, v, g):
    """Causal softmax attention and its gradients ``(out, gq, gk, gv)`` for upstream ``g``."""
    import numpy as np
    length = q.shape[-2]
    s = q @ k.swapaxes(-1, -2)
    s *= 1 / math.sqrt(q.shape[-1])
    s[..., np.triu(np.ones((length, length), bool), 1)] = -np.inf
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(-1, keepdims=True)
    out = s @ v
    gv = s.swapaxes(-1, -2) @ g
    gp = g @ v.swapaxes(-1, -2)
    gs = s * (gp - (gp * s).sum(-1, keepdims=True))
    gs *= 1 / math.sqrt(q.shape[-1])
    return out, gs @ k, gs.swapaxes(-1, -2) @ q, gv


def np_embedding_backward(vocab=50304, dim=128, tokens=BATCH * 1024):
    import numpy as np
    rng = np.random.default_rng(0)
    idx = rng.integers(0, vocab, tokens)
    g = rng.standard_normal((tokens, dim), dtype=np.float32)

    def step():
        gw = np.zeros((vocab, dim), np.float32)
        np.add.at(gw, idx, g)
        return gw
    return step
