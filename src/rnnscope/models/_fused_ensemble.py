"""The fused simulation of K rate networks of one shape at once: batched products (``bmm``), one
autograd node, a hand-written backward (BPTT).

Member k runs, for steps t = 0 .. T-1 (``y = q x``, ``h`` the nonlinearity's cheap form of
:mod:`rnnscope.models._fused` where it has one, else ``q = 1`` and ``h = phi``; no nonlinearity has one
now, so that small signals stay exact)::

    y_t = c y_{t-1} + [h(y_{t-1}), u_t, 1] @ A_k + q noise_t,        outputs_t = r_t @ W_k + b_k

where the augmented matrix ``A_k`` ((N + I + 1) x N) stacks the recurrence, the input weights and
the bias with every constant folded in, and ``r_t`` is ``h(y_t)`` (a readout of the rates) or
``y_t`` (a readout of the states). The caller forms ``A_k``, ``W_k`` and ``b_k`` from the model's
weights with ordinary (differentiable) torch operations, so this function knows nothing of
low rank, Dale's law or masks, and its backward returns the gradients of ``A_k``, ``W_k``, ``b_k``,
the initial state and the inputs.

**Forward**: the rows ``[h(y_{t-1}), u_t, 1]`` of all steps live in one buffer whose input and
bias columns are filled once; each step is then one ``baddbmm`` (leak and recurrence, input and
bias at once; a second op adds the noise) and ``h`` written into the next row. So the drive needs
no pass of its own, and the weight gradient of the recurrence, input weights and bias is one
batched product per chunk in backward.

**Backward** is the adjoint recursion of the single network's fused path, batched over members:
``lambda_t = G_t + c lambda_{t+1} + h'(y_t) (G^h_t + lambda_{t+1} @ A_h^T)`` (three ops per step).

**Members are independent**: every product is batched over the member axis and every reduction is
per member, and the chunks of steps are sized from one member's (batch, N), so member k's numbers do
not depend on which other members run beside it (a resumed ensemble with fewer members repeats the
uninterrupted one).

Shapes: ``(T, K, B, ...)`` inside (each step's slice one contiguous block), ``(K, B, T, ...)`` at the
boundary (views).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ._fused import _CHEAP, FUSED_NONLINEARITIES, _chunk

__all__ = ["ensemble_simulation", "loop_form"]


def loop_form(phi_name: str) -> tuple[float, str, float, float]:
    """``(q, h, p, r0)`` with ``phi(x) = p h(q x) + r0``: the cheap form the loop runs on (``h`` a
    name of :data:`~rnnscope.models._fused.FUSED_NONLINEARITIES`); ``(1, phi, 1, 0)`` when phi has none."""
    if phi_name in _CHEAP:
        q, h, p, r0 = _CHEAP[phi_name]
        name = next(k for k, (fn, _) in FUSED_NONLINEARITIES.items() if fn is h)
        return q, name, p, r0
    return 1.0, phi_name, 1.0, 0.0


class _EnsembleSimulation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y0, U, A, W_read, b_read, noise, c: float, q: float, h_name: str,
                readout_h: bool):  # noqa: D401 (autograd signature)
        # y0 (K, B, N); U (T, K, B, I); A (K, N + I + 1, N); W_read (K, N, O); b_read (K, O);
        # noise None or (K, B, T, N) in x units. Time is the first axis inside: each step's slices are
        # contiguous (K, B, .) blocks, the batched products' best case (25% faster than strided ones).
        h, _ = FUSED_NONLINEARITIES[h_name]
        T, K, B, n_in = U.shape
        N = y0.shape[-1]
        rows = y0.new_empty(T + 1, K, B, N + n_in + 1)  # [h(y_{t-1}), u_t, 1]; row T holds h(y_{T-1}) only
        rows[:T, :, :, N:N + n_in] = U
        rows[:, :, :, N + n_in] = 1.0
        h(y0, rows[0, :, :, :N])
        S = y0.new_empty(T, K, B, N)
        Y = y0.new_empty(T, K, B, W_read.shape[-1])
        if noise is not None:
            torch.mul(noise.permute(2, 0, 1, 3), q, out=S)
        y = y0
        for t in range(T):
            out = S[t]
            if noise is None:
                torch.baddbmm(y, rows[t], A, beta=c, out=out)
            else:
                out.baddbmm_(rows[t], A)
                if c != 0.0:
                    out.add_(y, alpha=c)
            rate = h(out, rows[t + 1, :, :, :N])
            torch.baddbmm(b_read[:, None, :], rate if readout_h else out, W_read, out=Y[t])
            y = out
        if q != 1.0:
            S.mul_(1.0 / q)  # y -> x
        ctx.save_for_backward(y0, U, A, W_read, rows, S if not readout_h else None)
        ctx.c, ctx.q, ctx.h_name, ctx.readout_h = c, q, h_name, readout_h
        ctx.set_materialize_grads(False)
        return S, Y

    @staticmethod
    @once_differentiable
    def backward(ctx, G_S, G_Y):
        y0, U, A, W_read, rows, S = ctx.saved_tensors
        c, q = ctx.c, ctx.q
        _, dh = FUSED_NONLINEARITIES[ctx.h_name]
        T, K, B, n_in = U.shape
        N = y0.shape[-1]
        need = ctx.needs_input_grad
        A_hT = A[:, :N].transpose(1, 2).contiguous()  # the recurrence's rows, transposed: (K, N, N)
        W_readT = W_read.transpose(1, 2)
        grad_A = torch.zeros_like(A) if need[2] else None
        grad_U = torch.empty_like(U) if need[1] else None
        grad_W = grad_b = None
        if G_Y is not None:
            G_Y = G_Y.contiguous()
            grad_W = torch.zeros_like(W_read) if need[3] else None
            grad_b = G_Y.sum((0, 2)) if need[4] else None
        step = _chunk(T, B, N)  # one member's chunk: the same boundaries for every K
        lam = None  # lambda_{t+1}, in y units
        buf = y0.new_empty(K, B, N)
        for t1 in range(T, 0, -step):
            t0 = max(0, t1 - step)
            Hc = rows[t0 + 1:t1 + 1, :, :, :N]  # h(y_t) for t in [t0, t1)
            D = dh(Hc)
            # the direct part of lambda_t: from the states (x = y / q) and from the readout
            L = G_S[t0:t1] * (1.0 / q) if G_S is not None else None
            if G_Y is not None:
                GR = torch.matmul(G_Y[t0:t1], W_readT)  # (n, K, B, N), each member with its own readout
                if ctx.readout_h:
                    L = torch.mul(GR, D) if L is None else L.addcmul_(GR, D)
                else:
                    L = GR if L is None else L.add_(GR)
            if L is None:
                L = y0.new_zeros(t1 - t0, K, B, N)
            elif not L.is_contiguous():
                L = L.contiguous()
            for i in range(t1 - t0 - 1, -1, -1):
                t = t0 + i
                out = L[i]
                if lam is not None:  # lambda_t += c lambda_{t+1} + h'(y_t) (lambda_{t+1} @ A_h^T)
                    torch.bmm(lam, A_hT, out=buf)
                    if c != 0.0:
                        out.add_(lam, alpha=c)
                    out.addcmul_(buf, D[i])
                lam = out
                # weight gradients of step t, while its rows are in cache: x_t read [h(y_{t-1}), u_t, 1]
                if grad_A is not None:
                    grad_A.baddbmm_(rows[t].transpose(1, 2), out)
                if grad_W is not None:
                    src = rows[t + 1, :, :, :N] if ctx.readout_h else S[t] * q
                    grad_W.baddbmm_(src.transpose(1, 2), G_Y[t])
            if grad_U is not None:
                grad_U[t0:t1] = torch.matmul(L, A[:, N:N + n_in].transpose(1, 2))
        grad_y0 = None
        if need[0] and lam is not None:
            torch.bmm(lam, A_hT, out=buf)
            grad_y0 = buf * dh(rows[0, :, :, :N])
            if c != 0.0:
                grad_y0.add_(lam, alpha=c)
        return grad_y0, grad_U, grad_A, grad_W, grad_b, None, None, None, None, None


def ensemble_simulation(y0: torch.Tensor, inputs: torch.Tensor, A: torch.Tensor, W_read: torch.Tensor,
                        b_read: torch.Tensor, noise: torch.Tensor | None, c: float, q: float, h_name: str,
                        readout_h: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """States (in x units, ``y / q``) and outputs of the K recurrences of the module docstring.

    Shape:
        - y0: (K, B, N), the initial state times q; inputs: (K, B, T, I); A: (K, N + I + 1, N)
        - W_read: (K, N, O); b_read: (K, O); noise: None or (K, B, T, N)
        - returns: states (K, B, T, N) and outputs (K, B, T, O), views with the batch second
    """
    S, Y = _EnsembleSimulation.apply(y0.contiguous(), inputs.permute(2, 0, 1, 3).contiguous(), A, W_read, b_read,
                                     noise, float(c), float(q), h_name, bool(readout_h))
    return S.permute(1, 2, 0, 3), Y.permute(1, 2, 0, 3)
