"""A fused simulation of rate networks: drive, recurrence and readout of all time steps in one
autograd node, with a hand-written backward (BPTT).

Every :class:`~rnnscope.models.RateRNN` (continuous time with Euler, or discrete time; full rank or
low rank; noise; masks and Dale's law, which only change the effective J) runs

    x_t = c x_{t-1} + phi(x_{t-1}) @ A [@ B] + a (u_t @ W_in^T + b) + noise_t,     y_t = r_t @ W_out^T + b_out

with ``c = 1 - dt/tau`` and ``a = dt/tau`` (continuous) or ``c = 0``, ``a = 1`` (discrete);
``A = a J^T`` for a full-rank network (``B`` absent), or ``A = n`` and ``B = a m^T / N`` for a
low-rank one (O(N K) per step); ``r_t = phi(x_t)`` (or ``x_t`` for a readout of the states).

**Forward**, without autograd: the drive of a chunk of steps is one matrix product written into the
states' buffer; each step is then three small ops in place -- the scaled add of the previous state,
one ``addmm_`` for the recurrence, and ``phi`` -- and ``phi(x_t)`` is both the rate the readout needs
and the input of the next step, so it is computed once. Every nonlinearity runs as itself: tanh is
torch's tanh, exact for small signals. (An earlier version ran it as ``2 sigmoid(2 x) - 1`` with
the factors folded into the weights, which has an absolute error of ~1e-7 near 0 in float32: a
random network at g = 0.5 then decayed only to ~7e-7 instead of to ~1e-45. The exact tanh costs
3-6% of a training step at 128-256 units and ~20% of a forward pass without gradients, measured.)
The readout of all steps is one product at the end.

**Backward** is the adjoint recursion ``lambda_t = dL/dx_t``:

    lambda_t = G_t + c lambda_{t+1} + (G^r_t + lambda_{t+1} @ A^T [...]) * phi'(x_t),

also three ops per step (``mm``, a scaled add, ``addcmul_``; one more for low rank), with
``phi'`` from the saved rates (``1 - r^2`` for tanh, ``r > 0`` for relu, ...); the direct part
``G_t + G^r_t * phi'(x_t)``, with the readout's gradient ``G^r = G_y @ W_out``, is evaluated for a
chunk of steps at a time, in the buffer the adjoints then accumulate into. The gradients of the
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


def _tanh_d(r):  # 1 - r^2 in one pass (``1 - r * r`` took 40x longer on a (100, 64, 128) chunk)
    return torch.addcmul(r.new_ones(()), r, r, value=-1.0)


def _relu_d(r):
    return (r > 0).to(r.dtype)


def _sigmoid_d(r):  # r - r^2 in one pass
    return torch.addcmul(r, r, r, value=-1.0)


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


#: name -> (q, h, p, r0) with phi(x) = p h(q x) + r0 and h cheaper than phi, which the loops run on
#: with the factors folded into the weights. Empty on purpose: a cheap form must keep small signals
#: exact, and tanh's ``2 sigmoid(2 x) - 1`` does not (in float32 its error near 0 is ~1e-7, so
#: activity that should decay to 1e-45 stopped at ~7e-7); tests/models/test_fused.py holds it to that.
_CHEAP: dict[str, tuple[float, object, float, float]] = {}


def _phi_batched(name: str, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """phi(x) into out for a chunk of steps, through the cheap form where there is one."""
    if name in _CHEAP:
        q, h, p, r0 = _CHEAP[name]
        return h(x * q, out).mul_(p).add_(r0)
    return FUSED_NONLINEARITIES[name][0](x, out)


def _thin(X: torch.Tensor, W_T: torch.Tensor) -> torch.Tensor:
    """X @ W for (M, N) by (N, K) with few columns K (low-rank projections), given W_T = W^T
    contiguous: computed as (W^T X^T)^T, 2.4x faster than ``X @ W`` for (64, 8192) by (8192, 2)
    (measured); returns a transposed view."""
    return torch.mm(W_T, X.t()).t()


def _drive_into(U: torch.Tensor, W_t: torch.Tensor, out: torch.Tensor) -> None:
    """out = U @ W_t for (M, I) by (I, N). With few inputs and many units, as a sum of I outer products:
    the product with I <= 8 inner terms writes a wide output 2.5-3x slower (measured at N >= 1024)."""
    if U.shape[1] == 0:
        out.zero_()
    elif U.shape[1] <= 8 and out.shape[1] >= 1024:
        torch.mul(U[:, :1], W_t[0], out=out)
        for i in range(1, U.shape[1]):
            out.addcmul_(U[:, i: i + 1], W_t[i])
    else:
        torch.mm(U, W_t, out=out)


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
        # The loop runs on y = q x with h = h(y) in place of phi(x) = p h(q x) + r0 (for a cheap form
        # of _CHEAP; q = p = 1, r0 = 0 otherwise), which folds into the weights and the drive:
        #   y_t = c y_{t-1} + h_{t-1} @ (q p A) [@ B] + q (E_t + r0 1 @ A [@ B]).
        q, h, p, r0 = _CHEAP.get(phi_name, (1.0, phi, 1.0, 0.0))
        A_loop = A if q * p == 1.0 else (q * p) * A
        W_in_a = ((a * q) * W_in).t().contiguous()
        A_loop_T = A_loop.t().contiguous() if B is not None else None
        shift = None if b is None else (a * q) * b
        if r0 != 0.0:
            ones_a = A.sum(0) if B is None else A.sum(0) @ B
            shift = (q * r0) * ones_a if shift is None else shift + (q * r0) * ones_a
        # the readout of rolling (unconverted) h: phi @ W_out^T + b_out = h @ (p W_out)^T + b_out + r0 W_out 1
        W_read, b_read = W_out.t(), b_out
        if readout_rates and q != 1.0 and not store:
            W_read, b_read = (p * W_out).t(), b_out + r0 * W_out.sum(1)
        y = x0 if q == 1.0 else q * x0
        h_prev = R[0] if q == 1.0 else h(y, torch.empty_like(y))
        for t0 in range(0, T, step):
            t1 = min(T, t0 + step)
            off = 0 if store else t0
            Sc = S[t0:t1]
            _drive_into(U[t0:t1].reshape((t1 - t0) * batch, U.shape[-1]), W_in_a, Sc.view(-1, N))  # the chunk's drive, in place
            if shift is not None:
                Sc += shift
            if noise is not None:
                Sc.add_(noise[:, t0:t1].transpose(0, 1), alpha=q)
            Sl, Rl = Sc.unbind(0), R[t0 + 1 - off: t1 + 1 - off].unbind(0)
            for i in range(t1 - t0):
                out = Sl[i]  # holds the drive of step t
                if c != 0.0:
                    out.add_(y, alpha=c)
                if B is None:
                    out.addmm_(h_prev, A_loop)
                else:
                    out.addmm_(_thin(h_prev, A_loop_T), B)
                h_prev = h(out, Rl[i])
                y = out
            # h_prev may stay in the rolling buffer: the next chunk reads it in its first step, before
            # it writes R[1], and overwrites R[n] only at step n - 1 (n >= 1)
            if q != 1.0:  # y -> x, and h -> phi(x) where the rates are kept for backward
                y = y.clone()  # the next chunk starts from y, which is scaled in place here
                S[t0:t1].mul_(1.0 / q)
                if store:
                    h_prev = h_prev.clone()  # and from h, whose row of R becomes phi here
                    R[t0 + 1 - off: t1 + 1 - off].mul_(p).add_(r0)
            src = R[t0 + 1 - off: t1 + 1 - off] if readout_rates else S[t0:t1]
            torch.addmm(b_read, src.reshape(-1, N), W_read, out=Y[t0:t1].view((t1 - t0) * batch, Y.shape[-1]))
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
        Bc = B.contiguous() if B is not None else None
        grads = {k: None for k in ("x0", "U", "W_in", "b", "A", "B", "W_out", "b_out")}
        if need[2]:  # accumulated transposed, (I, N): U^T @ L is 3x faster than L^T @ U for few inputs
            grads["W_in"] = W_in.new_zeros(W_in.shape[1], W_in.shape[0])
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
            return _phi_batched(ctx.phi_name, prev, torch.empty_like(prev))

        step = _chunk(T, batch, N)
        lam = None  # lambda_{t+1}
        for t1 in range(T, 0, -step):
            t0 = max(0, t1 - step)
            n = t1 - t0
            Rc = rates(t0, t1)
            D = dphi(Rc[1:])  # phi'(x_t) for t in [t0, t1)
            # direct gradients of x_t: through the states (G_S) and through the readout (G_Y)
            Gx = G_S[t0:t1] if G_S is not None else None
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
            # L starts as the direct part of lambda_t, Gx_t + phi'(x_t) Gr_t (one pass for the chunk)
            if Gr is not None:
                L = torch.mul(Gr, D) if Gx is None else torch.addcmul(Gx, Gr, D)
            else:
                L = Gx.clone() if Gx is not None else x0.new_zeros(n, batch, N)  # L is written in place
            Ll, Dl = L.unbind(0), D.unbind(0)
            buf = x0.new_empty(batch, N)
            for i in range(n - 1, -1, -1):
                out = Ll[i]
                if lam is not None:  # lambda_t += c lambda_{t+1} + phi'(x_t) (lambda_{t+1} @ A^T)
                    torch.mm(lam if B is None else _thin(lam, Bc), At, out=buf)
                    if c != 0.0:
                        out.add_(lam, alpha=c)
                    out.addcmul_(buf, Dl[i])
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
                grads["W_in"].addmm_(Uf.t(), Lf, alpha=a)
            if grads["b"] is not None:
                grads["b"].add_(Lf.sum(0), alpha=a)
            if grads["U"] is not None:
                grads["U"][t0:t1] = (a * L) @ W_in
        if need[0] and lam is not None:
            back = lam @ At if B is None else _thin(lam, Bc) @ At
            r0 = torch.empty_like(x0)
            phi(x0, r0)
            grads["x0"] = back * dphi(r0)
            if c != 0.0:
                grads["x0"].add_(lam, alpha=c)
        if grads["W_in"] is not None:
            grads["W_in"] = grads["W_in"].t().contiguous()
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
