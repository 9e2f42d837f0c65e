"""A fused simulation of rate networks: drive, recurrence and readout of all time steps in one
autograd node, with a hand-written backward (BPTT).

Every :class:`~rnnscope.models.RateRNN` (continuous time with Euler, or discrete time; full rank or
low rank; noise; masks and Dale's law, which only change the effective J) runs

    x_t = c x_{t-1} + phi(x_{t-1}) @ A [@ B] + a (u_t @ W_in^T + b) + noise_t,     y_t = r_t @ W_out^T + b_out

with ``c = 1 - dt/tau`` and ``a = dt/tau`` (continuous) or ``c = 0``, ``a = 1`` (discrete);
``A = a J^T`` for a full-rank network (``B`` absent), or ``A = n`` and ``B = a m^T / N`` for a
low-rank one (O(N K) per step); ``r_t = phi(x_t)`` (or ``x_t`` for a readout of the states).

**Forward**, without autograd: the drive of a chunk of steps is one matrix product; each step is then
three small ops written in place into the preallocated outputs -- the scaled add of the previous
state and the drive, one ``addmm_`` for the recurrence, and ``phi`` -- and ``phi(x_t)`` is both the
rate the readout needs and the input of the next step, so it is computed once. The readout of all
steps is one product at the end.

**Backward** is the adjoint recursion ``lambda_t = dL/dx_t``:

    lambda_t = G_t + c lambda_{t+1} + (G^r_t + lambda_{t+1} @ A^T [...]) * phi'(x_t),

also three ops per step (``addmm``, a scaled add, ``addcmul_``; one more for low rank), with
``phi'`` from the saved rates (``1 - r^2`` for tanh, ``r > 0`` for relu, ...) and the readout's
gradient ``G^r = G_y @ W_out`` evaluated for a chunk of steps at a time. The gradients of the
weights -- ``sum_t phi(x_{t-1})^T lambda_t`` for the recurrence, ``a sum_t lambda_t^T u_t`` for the
input weights -- are large matrix products per chunk, where the hardware is efficient.

**Memory**: saved for backward are the rates ``phi(x_t)`` of all steps for short simulations, or
for long ones (more than 2^23 state values) only the states, from which the rates of each chunk
are recomputed in backward (one batched ``phi`` per chunk); the drive, the adjoints and the
readout's gradient exist one chunk at a time. So a long training step holds the states and
chunk-sized buffers, against the several tensors per step that the autograd graph of a plain loop
keeps. Not twice differentiable (``once_differentiable``).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["fused_simulation", "FUSED_NONLINEARITIES"]

_CHUNK_ELEMENTS = 1 << 21  # elements of a (steps, batch, N) chunk buffer (8 MB of float32)
# Rates of all steps are kept for backward up to this many elements (32 MB of float32); longer
# simulations keep only the states and recompute the rates of each chunk in backward (one batched
# phi per chunk), which halves the memory of a training step for a few percent more time.
_STORE_RATES_LIMIT = 1 << 23


def _tanh(x, out):
    return torch.tanh(x, out=out)


def _relu(x, out):
    return torch.clamp_min(x, 0.0, out=out)


def _sigmoid(x, out):
    return torch.sigmoid(x, out=out)


def _softplus(x, out):
    return out.copy_(torch.nn.functional.softplus(x))


def _linear(x, out):
    return out.copy_(x)


def _tanh_d(r):
    return 1.0 - r * r


def _relu_d(r):
    return (r > 0).to(r.dtype)


def _sigmoid_d(r):
    return r * (1.0 - r)


def _softplus_d(r):  # softplus'(x) = sigmoid(x) = 1 - exp(-softplus(x)); 1 where softplus is x (x > 20)
    return torch.where(r > 20.0, 1.0, -torch.expm1(-r))


def _linear_d(r):
    return torch.ones_like(r)


#: name -> (phi written into ``out``, phi' as a function of the rate r = phi(x)).
FUSED_NONLINEARITIES = {
    "tanh": (_tanh, _tanh_d),
    "relu": (_relu, _relu_d),
    "sigmoid": (_sigmoid, _sigmoid_d),
    "softplus": (_softplus, _softplus_d),
    "linear": (_linear, _linear_d),
}


def _chunk(T: int, batch: int, N: int) -> int:
    return max(1, min(T, _CHUNK_ELEMENTS // max(1, batch * N)))


class _Simulation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x0, U, W_in, b, A, B, W_out, b_out, noise, c: float, a: float, phi_name: str,
                readout_rates: bool):  # noqa: D401 (autograd signature)
        # x0 (batch, N); U (T, batch, I) contiguous; W_in (N, I); b (N,) or None; A (N, N) or (N, K);
        # B None or (K, N); W_out (O, N); b_out (O,); noise None or (batch, T, N)
        phi, _ = FUSED_NONLINEARITIES[phi_name]
        T, batch, _ = U.shape
        N = x0.shape[1]
        step = _chunk(T, batch, N)
        store = T * batch * N <= _STORE_RATES_LIMIT
        S = x0.new_empty(T, batch, N)
        Y = x0.new_empty(T, batch, W_out.shape[0])
        # rates r = phi(x_{t-1}) at index t - off: all steps when stored, else a rolling chunk buffer
        R = x0.new_empty((T if store else step) + 1, batch, N)
        phi(x0, R[0])
        W_in_a = (a * W_in).t()
        b_a = None if b is None else a * b
        x = x0
        for t0 in range(0, T, step):
            t1 = min(T, t0 + step)
            off = 0 if store else t0
            if not store and t0 > 0:
                R[0].copy_(R[step])
            E = U[t0:t1] @ W_in_a  # the drive of the chunk, (n, batch, N)
            if b_a is not None:
                E += b_a
            if noise is not None:
                E += noise[:, t0:t1].transpose(0, 1)
            for t in range(t0, t1):
                out = S[t]
                if c != 0.0:
                    torch.add(E[t - t0], x, alpha=c, out=out)
                else:
                    out.copy_(E[t - t0])
                if B is None:
                    out.addmm_(R[t - off], A)
                else:
                    out.addmm_(R[t - off] @ A, B)
                phi(out, R[t + 1 - off])
                x = out
            src = R[t0 + 1 - off: t1 + 1 - off] if readout_rates else S[t0:t1]
            torch.addmm(b_out, src.reshape(-1, N), W_out.t(), out=Y[t0:t1].view((t1 - t0) * batch, Y.shape[-1]))
        ctx.save_for_backward(x0, U, W_in, A, B, W_out, R if store else None, S if not (store and readout_rates) else None)
        ctx.c, ctx.a, ctx.phi_name, ctx.readout_rates, ctx.has_b = c, a, phi_name, readout_rates, b is not None
        ctx.set_materialize_grads(False)
        return S, Y

    @staticmethod
    @once_differentiable
    def backward(ctx, G_S, G_Y):
        x0, U, W_in, A, B, W_out, R, S = ctx.saved_tensors
        c, a = ctx.c, ctx.a
        phi, dphi = FUSED_NONLINEARITIES[ctx.phi_name]
        T, batch, _ = U.shape
        N = x0.shape[1]
        need = ctx.needs_input_grad
        At = A.t().contiguous()
        Bt = B.t().contiguous() if B is not None else None
        grads = {k: None for k in ("x0", "U", "W_in", "b", "A", "B", "W_out", "b_out")}
        if need[2]:
            grads["W_in"] = torch.zeros_like(W_in)
        if ctx.has_b and need[3]:
            grads["b"] = x0.new_zeros(N)
        if need[4]:
            grads["A"] = torch.zeros_like(A)
        if B is not None and need[5]:
            grads["B"] = torch.zeros_like(B)
        if need[1]:
            grads["U"] = torch.empty_like(U)
        if G_Y is not None:
            G_Y = G_Y.contiguous()
            if need[6]:
                grads["W_out"] = torch.zeros_like(W_out)
            if need[7]:
                grads["b_out"] = G_Y.reshape(T * batch, G_Y.shape[-1]).sum(0)

        def rates(t0: int, t1: int) -> torch.Tensor:
            """phi(x_{t-1}) for t in [t0, t1]: (t1 - t0 + 1, batch, N)."""
            if R is not None:
                return R[t0: t1 + 1]
            prev = torch.cat([x0.unsqueeze(0), S[: t1]]) if t0 == 0 else S[t0 - 1: t1]
            out = torch.empty_like(prev)
            phi(prev, out)
            return out

        step = _chunk(T, batch, N)
        lam = None  # lambda_{t+1}
        for t1 in range(T, 0, -step):
            t0 = max(0, t1 - step)
            n = t1 - t0
            Rc = rates(t0, t1)
            D = dphi(Rc[1:])  # phi'(x_t) for t in [t0, t1)
            # direct gradients of x_t: through the states (G_S) and through the readout (G_Y)
            Gx = G_S[t0:t1].contiguous() if G_S is not None else None
            Gr = None
            if G_Y is not None:
                GW = G_Y[t0:t1] @ W_out  # (n, batch, N)
                if ctx.readout_rates:
                    Gr = GW
                else:
                    Gx = GW if Gx is None else Gx + GW
                if grads["W_out"] is not None:
                    src = Rc[1:] if ctx.readout_rates else S[t0:t1]
                    grads["W_out"].addmm_(G_Y[t0:t1].reshape(n * batch, -1).t(), src.reshape(n * batch, N))
            L = x0.new_empty(n, batch, N)
            for t in range(t1 - 1, t0 - 1, -1):
                i = t - t0
                out = L[i]
                if lam is None:  # t = T - 1: nothing later depends on x_t
                    back = Gr[i] if Gr is not None else None
                    if Gx is not None:
                        out.copy_(Gx[i])
                    else:
                        out.zero_()
                else:
                    if B is None:
                        back = torch.addmm(Gr[i], lam, At) if Gr is not None else lam @ At
                    else:
                        back = torch.addmm(Gr[i], lam @ Bt, At) if Gr is not None else (lam @ Bt) @ At
                    if Gx is not None:
                        torch.add(Gx[i], lam, alpha=c, out=out)
                    else:
                        torch.mul(lam, c, out=out)
                if back is not None:
                    out.addcmul_(back, D[i])
                lam = out
            # weight gradients of this chunk: x_t depends on the weights through phi(x_{t-1}) and u_t
            Rp = Rc[:-1].reshape(n * batch, N)
            Lf = L.reshape(n * batch, N)
            if grads["A"] is not None:
                grads["A"].addmm_(Rp.t(), Lf if B is None else Lf @ Bt)
            if grads["B"] is not None:
                grads["B"].addmm_((Rp @ A).t(), Lf)
            Uf = U[t0:t1].reshape(n * batch, -1)
            if grads["W_in"] is not None:
                grads["W_in"].addmm_(Lf.t(), Uf, alpha=a)
            if grads["b"] is not None:
                grads["b"].add_(Lf.sum(0), alpha=a)
            if grads["U"] is not None:
                grads["U"][t0:t1] = (a * L) @ W_in
        if need[0] and lam is not None:
            back = lam @ At if B is None else (lam @ Bt) @ At
            r0 = torch.empty_like(x0)
            phi(x0, r0)
            grads["x0"] = back * dphi(r0)
            if c != 0.0:
                grads["x0"].add_(lam, alpha=c)
        return (grads["x0"], grads["U"], grads["W_in"], grads["b"], grads["A"], grads["B"], grads["W_out"],
                grads["b_out"], None, None, None, None, None)


def fused_simulation(x0: torch.Tensor, inputs: torch.Tensor, W_in: torch.Tensor, b: torch.Tensor | None,
                     A: torch.Tensor, B: torch.Tensor | None, W_out: torch.Tensor, b_out: torch.Tensor,
                     noise: torch.Tensor | None, c: float, a: float, phi_name: str,
                     readout_rates: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """States and outputs of the recurrence of the module docstring.

    Shape:
        - x0: (batch, N); inputs: (batch, T, I); W_in: (N, I); b: (N,) or None
        - A: (N, N) or (N, K); B: None or (K, N); W_out: (O, N); b_out: (O,)
        - noise: None or (batch, T, N)
        - returns: states (batch, T, N) and outputs (batch, T, O)
    """
    S, Y = _Simulation.apply(x0.contiguous(), inputs.transpose(0, 1).contiguous(), W_in, b, A, B, W_out, b_out,
                             noise, float(c), float(a), phi_name, bool(readout_rates))
    return S.transpose(0, 1), Y.transpose(0, 1)
