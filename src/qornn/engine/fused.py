"""Inputs → recurrence → readout in one autograd node, chunk by chunk (linear recurrences).

For a :class:`~qornn.model.SequenceModel` whose recurrence is linear,

    z_t = U x_t + b,   h_t = W h_{t-1} + z_t  (h_0 = 0),
    readout ``all``:  y_t = V σ(h_t) + c  for every t;   readout ``last``:  h_T only,

:class:`FusedLinear` never builds a (B, T, n) tensor.  Time is cut into chunks of C
steps; for each chunk the inputs z (C, B, n) are computed in one batched operation,
the recurrence runs step by step in a small time-major buffer that stays in cache,
and (readout ``all``) σ and the readout V are applied to the whole chunk at once.
Only the outputs and the state at each chunk boundary are kept (gradient
checkpointing, (T/C, B, n) memory).

The backward pass visits the chunks in reverse: it recomputes the chunk's states
from its boundary state, pushes ∂L/∂y through V and σ' (∂L/∂h_t from the readout),
runs the adjoint recurrence g_t = ∂L/∂h_t + Wᵀ g_{t+1} over the chunk and
accumulates, per chunk, ∂L/∂U = Σ g_t x_tᵀ, ∂L/∂b = Σ g_t, ∂L/∂V, ∂L/∂c and the
gradient of W (dense: Σ g_t h_{t-1}ᵀ; sign schemes: the row scaling r of
:mod:`.linear`).  Exact (no approximation): the same states, in the same order of
operations as the forward pass.

Sign schemes (HadamRNN, Block-HadamRNN: W h = d ⊙ (S h), S the unnormalized (block)
Sylvester matrix, d = ±1/√m) keep q_t = S h_t instead of h_t in the step loop, so
that a step is two kernel calls, an in-place ``addcmul`` and an in-place transform:

    q_t = S(z_t + d ⊙ q_{t-1}),     and afterwards, batched: h_t = z_t + d ⊙ q_{t-1};

the adjoint likewise keeps b_t = S(d ⊙ g_t): b_t = S(d ⊙ (∂L/∂h_t + b_{t+1})),
g_t = ∂L/∂h_t + b_{t+1}.
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ..hadamard import _fht_module, fwht_kernel_available, sylvester

#: Target number of floats in one (C, B, n) chunk buffer (C = this / (B·n), clamped).
CHUNK_ELEMENTS = 1 << 19
CHUNK_MIN, CHUNK_MAX = 4, 64


def chunk_size(batch: int, n: int) -> int:
    return max(CHUNK_MIN, min(CHUNK_MAX, CHUNK_ELEMENTS // max(1, batch * n)))


# ---- the recurrence over one chunk ------------------------------------------------------------------
class _Buffers:
    """A (steps, B, n) time-major buffer with its per-step torch views (and numpy rows for the kernel)."""

    def __init__(self, steps, batch, n, like, m=None, kernel=False):
        self.t = torch.empty(steps, batch, n, dtype=like.dtype, device=like.device)
        self.v = list(self.t.unbind(0))
        self.rows = [a.reshape(-1, m) for a in self.t.numpy()] if kernel else None


class SignChunkOp:
    """W = diag(d)·(I_q ⊗ S_m), d = ±1/√m: the step loop on q_t = S h_t (see module docstring)."""

    def __init__(self, d: torch.Tensor, m: int):
        self.d = d.detach()
        self.n, self.m = d.shape[0], m
        self.kernel = (d.device.type == "cpu" and d.dtype in (torch.float32, torch.float64)
                       and fwht_kernel_available())
        if self.kernel:
            import importlib

            core = importlib.import_module(_fht_module().__name__ + "._core")
            self.fht = core.fht_2d_f32_rows if d.dtype == torch.float32 else core.fht_2d_f64_rows
            self.name = "fht"
        else:
            kw = dict(dtype=d.dtype, device=d.device)
            if m <= 32:
                self.s = sylvester(m, **kw)
                self.name = "gemm"
            else:
                k = m.bit_length() - 1
                self.a, self.b = 2 ** (k // 2), m // 2 ** (k // 2)
                self.sa, self.sb = sylvester(self.a, **kw), sylvester(self.b, **kw)
                self.name = "kron"

    def buffers(self, steps, batch, like):
        return _Buffers(steps, batch, self.n, like, self.m, self.kernel)

    def _transform_(self, buf: _Buffers, t: int) -> None:
        """buf[t] ← buf[t]·S (block transform of every row, in place)."""
        if self.kernel:
            self.fht(buf.rows[t], 1)
            return
        buf.v[t].copy_(self._transform(buf.v[t]))

    def forward_chunk(self, z, buf, states=True):
        """Run the chunk: z (c, B, n) are its inputs; buf.t[0] holds q before the chunk, buf.t[t] gets q_t.

        Returns (h, prev): the states (written over z; only when ``states``) and prev = q_{t-1}
        (c, B, n), what the gradient of W needs.
        """
        c, d, v, zv, fht = z.shape[0], self.d, buf.v, list(z.unbind(0)), self.fht if self.kernel else None
        for t in range(c):
            torch.addcmul(zv[t], v[t], d, out=v[t + 1])
            if fht is not None:
                fht(buf.rows[t + 1], 1)
            else:
                self._transform_(buf, t + 1)
        prev = buf.t[:c]
        if states:
            z.addcmul_(prev, d)  # h_t = z_t + d ⊙ q_{t-1}
        return z, prev

    def advance(self, z, q, rows, acc=None, g=None):
        """q ← q after the chunk's steps, in one (B, n) buffer that stays in cache (``rows``: its numpy view).

        With ``acc`` (B, n) and the chunk's adjoint ``g``, also acc += g_t ⊙ q_{t-1} (for the W gradient).
        """
        d, zv = self.d, list(z.unbind(0))
        gv = list(g.unbind(0)) if g is not None else None
        for t in range(len(zv)):
            if gv is not None:
                acc.addcmul_(gv[t], q)
            torch.addcmul(zv[t], q, d, out=q)
            if self.kernel:
                self.fht(rows, 1)
            else:
                q.copy_(self._transform(q))

    def last_state(self, z_last, q):
        """h_T = z_T + d ⊙ q_{T-1}."""
        return torch.addcmul(z_last, q, self.d)

    def _transform(self, x):
        rows = x.reshape(-1, self.m)
        if self.name == "gemm":
            return (rows @ self.s).view(x.shape)
        return torch.matmul(self.sa, (rows.view(-1, self.b) @ self.sb).view(-1, self.a, self.b)).view(x.shape)

    def adjoint_chunk(self, gs, buf, carry):
        """gs (c, B, n) = ∂L/∂h_t → g_t (written over gs); carry = b after the chunk, updated in place."""
        c, d, v, fht = gs.shape[0], self.d, buf.v, self.fht if self.kernel else None
        torch.mul(gs, d, out=buf.t[:c])
        buf.t[c].copy_(carry)
        for t in range(c - 1, -1, -1):
            v[t].addcmul_(v[t + 1], d)
            if fht is not None:
                fht(buf.rows[t], 1)
            else:
                self._transform_(buf, t)
        gs.add_(buf.t[1:c + 1])
        carry.copy_(buf.t[0])
        return gs

    def grad_accumulator(self, like):
        return like.new_zeros(self.n)

    def accumulate(self, acc, g, prev, scratch):
        torch.mul(g, prev, out=scratch)
        acc += scratch.view(-1, self.n).sum(0)

    def grad_w(self, acc, w):
        # ∂L/∂W restricted to row scalings of W: r_i = Σ g_i (W h_{t-1})_i = d_i Σ g_i q_{t-1,i}
        return (acc * self.d).unsqueeze(1) * w

    def grad_w_rows(self, acc2d, w):
        """grad_w from a (B, n) accumulator of g_t ⊙ q_{t-1} (see :meth:`advance`)."""
        return self.grad_w(acc2d.sum(0), w)


class DenseChunkOp:
    """W as a dense matrix: one ``addmm`` per step."""

    name = "dense"

    def __init__(self, w: torch.Tensor):
        self.w = w.detach()
        self.wt = self.w.t()
        self.n = w.shape[0]

    def buffers(self, steps, batch, like):
        return _Buffers(steps, batch, self.n, like)

    def forward_chunk(self, z, buf, states=True):
        c, v, zv, wt = z.shape[0], buf.v, list(z.unbind(0)), self.wt
        for t in range(c):
            torch.addmm(zv[t], v[t], wt, out=v[t + 1])
        return buf.t[1:c + 1], buf.t[:c]

    def adjoint_chunk(self, gs, buf, carry):
        c, v, w = gs.shape[0], buf.v, self.w
        buf.t[:c].copy_(gs)
        buf.t[c].copy_(carry)
        for t in range(c - 1, -1, -1):
            v[t].addmm_(v[t + 1], w)
        carry.copy_(buf.t[0])
        return buf.t[:c]

    def grad_accumulator(self, like):
        return like.new_zeros(self.n, self.n)

    def accumulate(self, acc, g, prev, scratch):
        acc.addmm_(g.reshape(-1, self.n).t(), prev.reshape(-1, self.n))

    def grad_w(self, acc, w):
        return acc


# ---- σ of the readout --------------------------------------------------------------------------------
def _sigma(kind, h, out):
    if kind == "relu":
        return torch.clamp_min(h, 0.0, out=out)
    if kind == "tanh":
        return torch.tanh(h, out=out)
    return h


def _sigma_backward_(kind, grad, h, feats):
    """grad ← grad ⊙ σ'(h), in place (σ(h) = feats)."""
    if kind == "relu":  # one fused pass (masked_fill_ with h <= 0 is several times slower)
        torch.ops.aten.threshold_backward.grad_input(grad, h, 0.0, grad_input=grad)
    elif kind == "tanh":
        grad.mul_(1.0 - feats * feats)
    return grad


# ---- the autograd node ---------------------------------------------------------------------------------
class FusedLinear(torch.autograd.Function):
    """out = FusedLinear.apply(x, u, b, w, v, c, spec); see the module docstring.

    x: token ids (B, T) (then z_t = u[:, x_t] + b) or features (B, T, in) (z_t = u x_t + b);
    w: the effective W (for its gradient); v, c: readout (``all``) or None (``last``);
    spec: (op, readout, σ kind, chunk size, whether to keep the chunk-boundary states for the
    backward pass).  Returns logits (B, T, out) or h_T (B, n).
    """

    @staticmethod
    def forward(ctx, x, u, b, w, v, c, spec):
        op, readout, kind, chunk, keep = spec  # keep: save what the backward pass needs
        tokens = not torch.is_floating_point(x)
        batch, steps, n = x.shape[0], x.shape[1], u.shape[0]
        xt = x.t().contiguous() if tokens else x.transpose(0, 1)
        table = (u.t() + b).contiguous() if tokens else None
        buf = op.buffers(chunk + 1, batch, u)
        buf.t[0].zero_()
        zbuf = u.new_empty(chunk, batch, n)
        starts = list(range(0, steps, chunk))
        bounds = u.new_empty(len(starts) if keep else 0, batch, n)
        if readout == "all":
            fbuf = u.new_empty(chunk * batch, n)
            # (out, T, B): y = V·σ(h) per chunk as one (out, n) × (n, C·B) GEMM (twice as fast as the
            # transposed product for a handful of outputs); returned as a (B, T, out) view
            logits = u.new_empty(v.shape[0], steps, batch)
            c_col = c.unsqueeze(1)
        out = None
        single = readout == "last" and hasattr(op, "advance")
        if single:  # only h_T is wanted: one (B, n) state buffer, hot in cache
            q = buf.t[0]
            rows = buf.rows[0] if buf.rows is not None else None
        for k, t0 in enumerate(starts):
            t1 = min(t0 + chunk, steps)
            cl = t1 - t0
            z = _inputs(xt, t0, t1, table, u, b, zbuf)
            if keep:
                bounds[k].copy_(buf.t[0])
            if single:
                op.advance(z[:-1] if t1 == steps else z, q, rows)
                if t1 == steps:
                    out = op.last_state(z[-1], q)
                continue
            h, _ = op.forward_chunk(z, buf, states=readout == "all" or t1 == steps)
            buf.t[0].copy_(buf.t[cl])
            if readout == "all":
                feats = _sigma(kind, h.reshape(-1, n), fbuf[:cl * batch])
                torch.addmm(c_col, v, feats.t(), out=logits[:, t0:t1].view(v.shape[0], -1))
            elif t1 == steps:
                out = h[-1].clone()
        ctx.spec, ctx.tokens = spec, tokens
        ctx.save_for_backward(x, u, b, w, v, c, bounds)
        return logits.permute(2, 1, 0) if readout == "all" else out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        op, readout, kind, chunk, _ = ctx.spec
        x, u, b, w, v, c, bounds = ctx.saved_tensors
        tokens = ctx.tokens
        need_x, need_u, need_b, need_w, need_v, need_c = ctx.needs_input_grad[:6]
        batch, steps, n = x.shape[0], x.shape[1], u.shape[0]
        xt = x.t().contiguous() if tokens else x.transpose(0, 1)
        table = (u.t() + b).contiguous() if tokens else None
        buf, adj = op.buffers(chunk + 1, batch, u), op.buffers(chunk + 1, batch, u)
        zbuf, gbuf, fbuf = (u.new_empty(chunk, batch, n) for _ in range(3))
        carry = u.new_zeros(batch, n)
        grad_table = torch.zeros_like(table) if tokens and (need_u or need_b) else None
        grad_u = torch.zeros_like(u) if not tokens and need_u else None
        grad_b = torch.zeros_like(b) if not tokens and need_b else None
        grad_x = torch.empty_like(x) if not tokens and need_x else None
        single = readout == "last" and hasattr(op, "advance")
        if single:
            q, rows = buf.t[0], (buf.rows[0] if buf.rows is not None else None)
            acc = u.new_zeros(batch, n) if need_w else None
        else:
            acc = op.grad_accumulator(u) if need_w else None
        grad_v = grad_c = grad_tm = None
        if readout == "all":
            grad_tm = grad_out.permute(2, 1, 0).contiguous()  # (out, T, B), the layout of the logits
            grad_v = torch.zeros_like(v) if need_v else None
            grad_c = grad_tm.sum((1, 2)) if need_c else None
        starts = list(range(0, steps, chunk))
        for k in range(len(starts) - 1, -1, -1):
            t0 = starts[k]
            t1 = min(t0 + chunk, steps)
            cl = t1 - t0
            z = _inputs(xt, t0, t1, table, u, b, zbuf)
            gs = gbuf[:cl]
            if single:  # the adjoint needs no states: run it first, then the states with the W gradient
                gs.zero_()
                if t1 == steps:
                    gs[-1].copy_(grad_out)
                g = op.adjoint_chunk(gs, adj, carry)
                if acc is not None:
                    q.copy_(bounds[k])
                    op.advance(z, q, rows, acc, g)
                _input_grads(g, xt, t0, t1, x, u, grad_table, grad_u, grad_b, grad_x)
                continue
            buf.t[0].copy_(bounds[k])
            h, prev = op.forward_chunk(z, buf, states=readout == "all")
            if readout == "all":
                gl = grad_tm[:, t0:t1].reshape(v.shape[0], -1)  # (out, C·B)
                feats = _sigma(kind, h, fbuf[:cl])
                torch.mm(gl.t(), v, out=gs.view(-1, n))
                _sigma_backward_(kind, gs, h, feats)
                if grad_v is not None:
                    grad_v.addmm_(gl, feats.reshape(-1, n))
            else:
                gs.zero_()
                if t1 == steps:
                    gs[-1].copy_(grad_out)
            g = op.adjoint_chunk(gs, adj, carry)
            if acc is not None:
                op.accumulate(acc, g, prev, fbuf[:cl])
            _input_grads(g, xt, t0, t1, x, u, grad_table, grad_u, grad_b, grad_x)
        if grad_table is not None:
            grad_u = grad_table.t() if need_u else None
            grad_b = grad_table.sum(0) if need_b else None
        grad_w = None
        if acc is not None:
            grad_w = op.grad_w_rows(acc, w) if single else op.grad_w(acc, w)
        return grad_x, grad_u, grad_b, grad_w, grad_v, grad_c, None


def _input_grads(g, xt, t0, t1, x, u, grad_table, grad_u, grad_b, grad_x):
    """Accumulate the gradients of the chunk's inputs z_t = U x_t + b from g_t = ∂L/∂z_t."""
    n = g.shape[-1]
    g2 = g.reshape(-1, n)
    if grad_table is not None:
        grad_table.index_add_(0, xt[t0:t1].reshape(-1), g2)
    if grad_u is not None:
        grad_u.addmm_(g2.t(), xt[t0:t1].reshape(-1, x.shape[2]))
    if grad_b is not None:
        grad_b += g2.sum(0)
    if grad_x is not None:
        grad_x[:, t0:t1].copy_((g2 @ u).view(t1 - t0, x.shape[0], -1).transpose(0, 1))


def _inputs(xt, t0, t1, table, u, b, zbuf):
    """z (t1 - t0, B, n) of the chunk, written into ``zbuf``."""
    c = t1 - t0
    z = zbuf[:c]
    flat = z.view(-1, z.shape[-1])
    if table is not None:
        torch.index_select(table, 0, xt[t0:t1].reshape(-1), out=flat)
    elif u.shape[1] == 1:  # one feature (sMNIST, pMNIST): an outer product, not a GEMM
        torch.addcmul(b, xt[t0:t1].reshape(-1, 1), u.t(), out=flat)
    else:
        torch.addmm(b, xt[t0:t1].reshape(c * xt.shape[1], -1), u.t(), out=flat)
    return z


# ---- dispatch from SequenceModel --------------------------------------------------------------------------
def fused_op(rnn, like: torch.Tensor, need_w: bool = True):
    """(op, perm, inv, W) for the fused path of a linear-recurrence OrthoRNN.

    perm/inv are None without a permutation; W is the effective matrix (in permuted
    coordinates), or None for the sign schemes when no gradient is wanted (``need_w``).
    """
    from . import _sign_structure

    sign = _sign_structure(rnn)
    if sign is None or rnn.hidden_size < SIGN_MIN_SIZE:
        w = rnn.weight_hh_l0
        return DenseChunkOp(w), None, None, w
    w = rnn.weight_hh_l0 if need_w else None  # only for its gradient (see SignChunkOp.grad_w)
    scheme, m, perm = sign
    with torch.no_grad():
        # ±1/√m, with the scale taken from the scheme's own basis so both engines round alike
        d = scheme.signs(rnn.recurrent_latent).to(like.dtype) * scheme.basis[0, 0].to(like.dtype)
    if perm is not None:
        w = w[perm][:, perm] if w is not None else None
        return SignChunkOp(d, m), perm, scheme.inv_perm, w
    return SignChunkOp(d, m), None, None, w


#: Below this hidden size the dense step (one addmm) is used even for the sign schemes.
SIGN_MIN_SIZE = 32


def applies(model, x) -> bool:
    """Whether :func:`sequence_forward` takes ``model(x)`` (else the generic path runs)."""
    from .nonlinear import kind_of

    rnn = getattr(model, "rnn", None)
    if getattr(rnn, "engine", None) != "auto" or not getattr(rnn, "linear_recurrence", False):
        return False
    if not getattr(rnn, "batch_first", False) or not hasattr(rnn, "recurrent_latent"):
        return False
    if model.readout == "all":
        if kind_of(rnn.activation) not in ("relu", "tanh", "identity") or model.output.bias is None:
            return False
    elif model.readout != "last":
        return False
    if model.embedding is None and not torch.is_floating_point(x):
        if x.dim() != 2 or x.dtype not in (torch.int64, torch.int32) or x.shape[1] == 0 or x.shape[0] == 0:
            return False
        return bool(x.numel()) and 0 <= int(x.min()) and int(x.max()) < rnn.input_size
    if model.embedding is not None:
        return x.dim() == 2 and x.shape[0] > 0 and x.shape[1] > 0
    return x.dim() == 3 and x.shape[-1] == rnn.input_size and x.shape[0] > 0 and x.shape[1] > 0


def sequence_forward(model, x):
    """``model(x)`` for a SequenceModel through :class:`FusedLinear`, or None when it does not apply."""
    from .nonlinear import kind_of

    if not applies(model, x):
        return None
    rnn = model.rnn
    inp = model.embedding(x) if model.embedding is not None else x
    if not torch.is_floating_point(inp):
        inp = inp.long()
    u = rnn.weight_ih_l0
    b = rnn.bias_hh_l0 if rnn.bias_hh_l0 is not None else u.new_zeros(rnn.hidden_size)
    grad = torch.is_grad_enabled()
    op, perm, inv, w = fused_op(rnn, u, need_w=grad)
    v, c = (model.output.weight, model.output.bias) if model.readout == "all" else (None, None)
    if perm is not None:  # work in permuted coordinates h' = h[perm]: permute the weights, not the states
        u, b = u[perm], b[perm]
        if v is not None:
            v = v[:, perm]
    spec = (op, model.readout, kind_of(rnn.activation), chunk_size(inp.shape[0], rnn.hidden_size), grad)
    out = FusedLinear.apply(inp, u, b, w, v, c, spec)
    if model.readout == "all":
        return out
    if inv is not None:
        out = out[:, inv]
    return model.output(rnn.activation(out))


def plan_sequence(model, x) -> str | None:
    """Name of the fused path ``model(x)`` takes (e.g. ``fused-all-sign-fht``), or None (generic path)."""
    if not applies(model, x):
        return None
    rnn = model.rnn
    op = fused_op(rnn, rnn.weight_ih_l0)[0]
    return f"fused-{model.readout}-{'sign-' if isinstance(op, SignChunkOp) else ''}{op.name}"
