"""A fused recurrence for rate networks: all time steps forward, hand-written BPTT backward.

The recurrence of every :class:`~rnnscope.models.RateRNN` (continuous time with Euler, or discrete
time; full rank or low rank; noise; masks and Dale's law, which only change the effective J) is

    x_t = c x_{t-1} + phi(x_{t-1}) @ A [@ B] + E_t,        t = 0 .. T-1,

with ``c = 1 - dt/tau`` (continuous) or 0 (discrete), ``A = (dt/tau) J^T`` for a full-rank network
(``B`` absent), or ``A = n`` and ``B = (dt/tau) m^T / N`` for a low-rank one (O(N K) per step), and
``E_t = (dt/tau) drive_t + noise_t`` computed for all steps at once.

Forward runs the loop without autograd: three small ops per step (phi, one ``addmm`` written in place
into the output, one scaled add). Backward is the adjoint recursion

    lambda_{t-1} = G_{t-1} + c lambda_t + (lambda_t @ A^T [...]) * phi'(x_{t-1}),

again three ops per step (four for low rank), with ``phi'`` evaluated for a chunk of steps at a time;
the weight gradient ``sum_t phi(x_{t-1})^T lambda_t`` is one large matrix product per chunk after the
loop, where the hardware is efficient. Saved for backward: the states only (the output itself), so
memory is the states, their gradient and the gradient of E, against the several tensors per step that
the autograd graph of a plain loop keeps. Not twice differentiable (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["fused_recurrence", "FUSED_NONLINEARITIES"]

_CHUNK_ELEMENTS = 1 << 22  # ~16 MB of float32 per chunk buffer in backward


def _tanh_d(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return 1.0 - r * r


def _relu_d(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype)


def _sigmoid_d(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return r * (1.0 - r)


def _softplus_d(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def _linear_d(r: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(x)


#: name -> (phi, phi' given (phi(x), x)); the nonlinearities with a fused path.
FUSED_NONLINEARITIES = {
    "tanh": (torch.tanh, _tanh_d),
    "relu": (torch.relu, _relu_d),
    "sigmoid": (torch.sigmoid, _sigmoid_d),
    "softplus": (torch.nn.functional.softplus, _softplus_d),
    "linear": (lambda x: x, _linear_d),
}


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x0, E, A, B, c: float, phi_name: str):  # noqa: D401 (autograd signature)
        # x0 (batch, N); E (T, batch, N) contiguous; A (N, N) or (N, K); B None or (K, N)
        phi, _ = FUSED_NONLINEARITIES[phi_name]
        T = E.shape[0]
        S = torch.empty_like(E)
        x = x0
        for t in range(T):
            r = phi(x)
            if B is None:
                torch.addmm(E[t], r, A, out=S[t])
            else:
                torch.addmm(E[t], r @ A, B, out=S[t])
            if c != 0.0:
                S[t].add_(x, alpha=c)
            x = S[t]
        ctx.save_for_backward(x0, S, A, B)
        ctx.c, ctx.phi_name = c, phi_name
        return S

    @staticmethod
    @once_differentiable
    def backward(ctx, G):
        x0, S, A, B = ctx.saved_tensors
        c, (phi, dphi) = ctx.c, FUSED_NONLINEARITIES[ctx.phi_name]
        T, batch, N = S.shape
        need_x0, need_E, need_A, need_B = ctx.needs_input_grad[:4]
        G = G.contiguous()
        Lam = torch.empty_like(S)  # lambda_t = dL/dx_t (total), also dL/dE_t
        At = A.t().contiguous()
        Bt = B.t().contiguous() if B is not None else None
        chunk = max(1, min(T, _CHUNK_ELEMENTS // max(1, batch * N)))

        def prev(t0: int, t1: int) -> torch.Tensor:
            """States x_{t-1} for t in [t0, t1): (t1 - t0, batch, N)."""
            if t0 == 0:
                return torch.cat([x0.unsqueeze(0), S[: t1 - 1]]) if t1 > 1 else x0.unsqueeze(0)
            return S[t0 - 1: t1 - 1]

        lam = G[T - 1]
        Lam[T - 1] = lam
        grad_x0 = None
        for t1 in range(T, 0, -chunk):
            t0 = max(0, t1 - chunk)
            X = prev(t0, t1)
            D = dphi(phi(X), X)  # phi'(x_{t-1}) for t in [t0, t1)
            for t in range(t1 - 1, t0 - 1, -1):
                back = lam @ At if B is None else (lam @ Bt) @ At  # dL/dphi(x_{t-1})
                if t > 0:
                    out = Lam[t - 1]
                    torch.add(G[t - 1], lam, alpha=c, out=out) if c != 0.0 else out.copy_(G[t - 1])
                    out.addcmul_(back, D[t - t0])
                    lam = out
                else:
                    grad_x0 = back * D[0]
                    if c != 0.0:
                        grad_x0.add_(lam, alpha=c)
        grad_A = grad_B = None
        if need_A or need_B:
            # sum_t phi(x_{t-1})^T lambda_t, one large product per chunk
            if B is None:
                grad_A = torch.zeros_like(A)
            else:
                grad_A = torch.zeros_like(A) if need_A else None
                grad_B = torch.zeros_like(B) if need_B else None
            for t0 in range(0, T, chunk):
                t1 = min(T, t0 + chunk)
                R = phi(prev(t0, t1)).reshape(-1, N)
                L = Lam[t0:t1].reshape(-1, N)
                if B is None:
                    grad_A.addmm_(R.t(), L)
                else:
                    if grad_A is not None:
                        grad_A.addmm_(R.t(), L @ Bt)
                    if grad_B is not None:
                        grad_B.addmm_((R @ A).t(), L)
        return (grad_x0 if need_x0 else None, Lam if need_E else None, grad_A, grad_B, None, None)


def fused_recurrence(x0: torch.Tensor, E: torch.Tensor, A: torch.Tensor, B: torch.Tensor | None,
                     c: float, phi_name: str) -> torch.Tensor:
    """All states of ``x_t = c x_{t-1} + phi(x_{t-1}) @ A [@ B] + E_t`` (module docstring).

    Shape:
        - x0: (batch, N); E: (batch, T, N); A: (N, N) or (N, K); B: None or (K, N)
        - returns: (batch, T, N)
    """
    S = _Recurrence.apply(x0.contiguous(), E.transpose(0, 1).contiguous(), A, B, float(c), phi_name)
    return S.transpose(0, 1)
