"""``check_model``: the public checker of the model contract (run it on your own models).

Like gymnasium's ``check_env``: every analysis of the library trusts what a model declares (its
Jacobian, its time form, its low-rank structure), so a model that gets one of them wrong gives
silently wrong fixed points or Lyapunov exponents. :func:`check_model` compares each declaration
with what the model actually computes.
"""

from __future__ import annotations

import copy
import io
import math

import torch

from ..dynamics import simulate
from ..errors import ModelContractError
from ._base import AbstractRNN, LowRankFactors, autograd_jacobian

__all__ = ["check_model"]


def check_model(model: AbstractRNN, *, n_states: int = 4, seed: int = 0, state_scale: float = 0.5,
                rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """Verify that ``model`` honours the model contract; raise ``ModelContractError`` if not.

    Checks, in float64 on a copy (the model itself is left as it was):

    - attributes: ``input_size``, ``hidden_size``, ``output_size`` (ints), ``time`` (continuous or
      discrete), ``dt`` > 0, ``time_constant`` (None or > 0), noise levels;
    - shapes: ``initial_state``, ``drive`` (keeps the leading axes), ``flow``, ``readout``, ``rates``;
    - the vector field against one step of :func:`~rnnscope.dynamics.simulate` (Euler
      ``x + dt f(x)`` in continuous time, the map in discrete time), and the fused simulation (if
      any) against the plain loop, outputs and gradients;
    - ``flow_jacobian`` against autograd, and ``jacobian_product_fn`` against ``flow_jacobian @ Q``
      (plain, scaled and shifted, and in place);
    - ``low_rank_factors`` (if given): the flow and readout equal the rate-network form they promise;
    - dtype and device moves (float32 and float64 agree; ``for_analysis`` gives a float64 copy
      without gradients and leaves the model untouched; a CUDA copy agrees where a GPU is present);
    - ``state_dict`` save and reload gives the same outputs.

    Args:
        model: the model to check.
        n_states: number of random states the checks evaluate at.
        seed: seed of those states and inputs.
        state_scale: standard deviation of the random states around the initial state.
        rtol, atol: tolerances of the float64 comparisons.
    """
    name = type(model).__name__
    _require(isinstance(model, AbstractRNN), f"{name} is not an AbstractRNN")
    _check_attributes(model, name)
    gen = torch.Generator().manual_seed(seed)
    work = model.for_analysis()
    N, I = model.hidden_size, model.input_size
    device = work.initial_state(1).device
    x0 = work.initial_state(n_states)
    _require(tuple(x0.shape) == (n_states, N), f"{name}.initial_state({n_states}) has shape {tuple(x0.shape)}, "
                                                f"expected {(n_states, N)}")
    x = x0.to(torch.float64) + state_scale * torch.randn(n_states, N, generator=gen, dtype=torch.float64).to(device)
    u = torch.randn(n_states, I, generator=gen, dtype=torch.float64).to(device)
    with torch.no_grad():
        _check_shapes(work, name, x, u, gen)
        _check_step(work, name, x, u, rtol, atol)
        d = work.drive(u)
        _check_jacobian(work, name, x, d, gen, rtol, atol)
        factors = work.low_rank_factors()
        if factors is not None:
            _check_low_rank(work, name, factors, x, u, rtol, atol)
    _check_fused(model, name, gen)
    _check_moves(model, work, name, x, u, rtol, atol)
    _check_state_dict(model, name, gen)


# ---------------------------------------------------------------------------------------------- pieces
def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ModelContractError(message)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def _worst(a: torch.Tensor, b: torch.Tensor) -> str:
    if a.shape != b.shape:
        return f"shapes {tuple(a.shape)} and {tuple(b.shape)}"
    if a.numel() == 0:
        return "empty tensors"
    a, b = a.detach(), b.detach()
    return f"max |difference| {float((a - b).abs().max()):.3g} (max |value| {float(b.abs().max()):.3g})"


def _check_attributes(model: AbstractRNN, name: str) -> None:
    for attr in ("input_size", "hidden_size", "output_size"):
        v = getattr(model, attr, None)
        _require(isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                 f"{name}.{attr} must be an int >= 0, got {v!r}")
    _require(model.hidden_size >= 1, f"{name}.hidden_size must be >= 1, got {model.hidden_size}")
    _require(model.time in ("continuous", "discrete"),
             f"{name}.time must be 'continuous' or 'discrete', got {model.time!r}")
    dt = model.dt
    _require(isinstance(dt, (int, float)) and not isinstance(dt, bool) and math.isfinite(dt) and dt > 0,
             f"{name}.dt must be a float > 0 (ms), got {dt!r}")
    tc = model.time_constant
    _require(tc is None or (isinstance(tc, (int, float)) and math.isfinite(tc) and tc > 0),
             f"{name}.time_constant must be None or a float > 0 (ms), got {tc!r}")
    sig = model.process_noise_std
    if isinstance(sig, torch.Tensor):
        _require(tuple(sig.shape) == (model.hidden_size,) and bool((sig >= 0).all()),
                 f"{name}.process_noise_std must be a float >= 0 or a (hidden_size,) tensor >= 0, "
                 f"got shape {tuple(sig.shape)}")
    else:
        _require(isinstance(sig, (int, float)) and sig >= 0, f"{name}.process_noise_std must be >= 0, got {sig!r}")
    _require(isinstance(model.input_noise_std, (int, float)) and model.input_noise_std >= 0,
             f"{name}.input_noise_std must be a float >= 0, got {model.input_noise_std!r}")
    groups = model.parameter_groups()
    _require(isinstance(groups, dict), f"{name}.parameter_groups() must return a dict, got {type(groups).__name__}")
    own = {id(p) for p in model.parameters()}
    for key, params in groups.items():
        for p in params:
            _require(isinstance(p, torch.nn.Parameter) and id(p) in own,
                     f"{name}.parameter_groups()[{key!r}] holds a tensor that is not a parameter of the model")


def _check_shapes(model: AbstractRNN, name: str, x: torch.Tensor, u: torch.Tensor, gen: torch.Generator) -> None:
    N, I, O = model.hidden_size, model.input_size, model.output_size
    n = x.shape[0]
    seq = torch.randn(2, 3, I, generator=gen, dtype=torch.float64).to(x.device)
    d = model.drive(seq)
    _require(tuple(d.shape[:2]) == (2, 3) and d.ndim == 3,
             f"{name}.drive must keep the leading axes: (2, 3, {I}) gave {tuple(d.shape)}")
    d = model.drive(u)
    f = model.flow(x, d)
    _require(tuple(f.shape) == (n, N), f"{name}.flow of ({n}, {N}) states gave shape {tuple(f.shape)}")
    _require(f.dtype == torch.float64, f"{name}.flow of float64 states gave {f.dtype} (the float64 copy from "
                                       f"for_analysis must compute in float64)")
    z = model.readout(x)
    _require(tuple(z.shape) == (n, O), f"{name}.readout of ({n}, {N}) states gave shape {tuple(z.shape)}")
    r = model.rates(x)
    _require(r.shape[:-1] == x.shape[:-1], f"{name}.rates must keep the leading axes, gave {tuple(r.shape)}")
    v = model.vector_field(x, u)
    _require(_close(v, f, 0, 0), f"{name}.vector_field(x, u) differs from flow(x, drive(u))")


def _check_step(model: AbstractRNN, name: str, x: torch.Tensor, u: torch.Tensor, rtol: float, atol: float) -> None:
    f = model.vector_field(x, u)
    expected = x + model.dt * f if model.time == "continuous" else f
    got = simulate(model, u[:, None, :], x, noise=False, fused=False).states[:, 0]
    _require(_close(got, expected, rtol, atol),
             f"one step of simulate differs from the vector field ({'x + dt f(x)' if model.time == 'continuous' else 'the map f(x)'}): "
             f"{_worst(got, expected)}")


def _check_jacobian(model: AbstractRNN, name: str, x: torch.Tensor, d: torch.Tensor, gen: torch.Generator,
                    rtol: float, atol: float) -> None:
    N = model.hidden_size
    J = model.flow_jacobian(x, d)
    _require(tuple(J.shape) == (x.shape[0], N, N), f"{name}.flow_jacobian gave shape {tuple(J.shape)}, "
                                                   f"expected {(x.shape[0], N, N)}")
    ref = autograd_jacobian(model.flow, x, d)
    scale = max(float(ref.abs().max()), 1.0)
    _require(_close(J, ref, rtol, atol * scale),
             f"{name}.flow_jacobian differs from the autograd Jacobian of flow: {_worst(J, ref)}")
    # the batched Jacobian over other leading axes
    J2 = model.flow_jacobian(x[None].expand(2, -1, -1), d[None].expand(2, -1, -1))
    _require(tuple(J2.shape) == (2, x.shape[0], N, N) and _close(J2[1], J, rtol, atol * scale),
             f"{name}.flow_jacobian of (2, n, N) states is not the batched Jacobian")
    jvp = model.jacobian_product_fn()
    Q = torch.randn(N, 3, generator=gen, dtype=torch.float64).to(x.device)
    for i in range(x.shape[0]):
        for scale_, add in ((1.0, 0.0), (0.3, 1.0)):
            got = jvp(x[i], Q, d[i], scale=scale_, add=add)
            want = scale_ * (ref[i] @ Q) + add * Q
            _require(_close(got, want, rtol, atol * scale),
                     f"{name}.jacobian_product_fn(scale={scale_}, add={add}) differs from "
                     f"scale * flow_jacobian @ Q + add * Q: {_worst(got, want)}")
        inplace = Q.clone()
        out = jvp(x[i], inplace, d[i], scale=0.3, add=1.0, out=inplace)
        want = 0.3 * (ref[i] @ Q) + Q
        _require(_close(out, want, rtol, atol * scale) and _close(inplace, want, rtol, atol * scale),
                 f"{name}.jacobian_product_fn with out=Q (in place) is wrong: {_worst(inplace, want)}")


def _check_low_rank(model: AbstractRNN, name: str, f: LowRankFactors, x: torch.Tensor, u: torch.Tensor,
                    rtol: float, atol: float) -> None:
    N = model.hidden_size
    _require(f.m.shape == f.n.shape and f.m.ndim == 2 and f.m.shape[0] == N,
             f"{name}.low_rank_factors: m and n must both be (hidden_size, K); got {tuple(f.m.shape)}, "
             f"{tuple(f.n.shape)}")
    _require(model.time == "discrete" or model.time_constant is not None,
             f"{name}.low_rank_factors needs a time_constant in continuous time (the flow is (-x + ...) / tau)")
    c = u @ f.input_weight.T
    if f.bias is not None:
        c = c + f.bias
    total = f.phi(x) @ f.connectivity().T + c
    expected = total if model.time == "discrete" else (total - x) / model.time_constant
    got = model.vector_field(x, u)
    _require(_close(got, expected, rtol, atol),
             f"{name}.flow is not the rate-network form its low_rank_factors promise: {_worst(got, expected)}")
    r = f.phi(x) if f.readout_from_rates else x
    z = r @ f.output_weight.T + f.output_bias
    _require(_close(model.readout(x), z, rtol, atol),
             f"{name}.readout is not the linear readout its low_rank_factors promise: {_worst(model.readout(x), z)}")


def _check_fused(model: AbstractRNN, name: str, gen: torch.Generator) -> None:
    """The fused path (if any) equals the plain loop: outputs and gradients, with and without noise."""
    m = copy.deepcopy(model).to(torch.float64)
    B, T = 3, 5
    u = torch.randn(B, T, m.input_size, generator=gen, dtype=torch.float64).to(m.initial_state(1).device)
    trainable = [p for p in m.parameters() if p.requires_grad]
    for noise in (False, True):
        seeded = lambda: torch.Generator().manual_seed(7)  # noqa: E731
        plain = simulate(m, u, noise=noise, generator=seeded(), fused=False)
        fused = simulate(m, u, noise=noise, generator=seeded(), fused=True)
        _require(_close(fused.states, plain.states, 1e-9, 1e-10),
                 f"{name}: the fused simulation (noise={noise}) differs from the plain loop: "
                 f"{_worst(fused.states, plain.states)}")
        _require(_close(fused.outputs, plain.outputs, 1e-9, 1e-10),
                 f"{name}: the fused simulation's outputs (noise={noise}) differ from the plain loop's")
        if trainable:
            g_plain = _grads(plain, trainable)
            g_fused = _grads(simulate(m, u, noise=noise, generator=seeded(), fused=True), trainable)
            for a, b in zip(g_fused, g_plain):
                _require(_close(a, b, 1e-8, 1e-10),
                         f"{name}: gradients through the fused simulation differ from the plain loop's: {_worst(a, b)}")


def _grads(traj, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    loss = traj.outputs.pow(2).sum() + traj.states.pow(2).sum()
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]


def _check_moves(model: AbstractRNN, work: AbstractRNN, name: str, x: torch.Tensor, u: torch.Tensor,
                 rtol: float, atol: float) -> None:
    before = {k: (v.dtype, v.requires_grad) for k, v in model.named_parameters()}
    again = model.for_analysis()
    after = {k: (v.dtype, v.requires_grad) for k, v in model.named_parameters()}
    _require(before == after, f"{name}.for_analysis changed the model itself (dtypes or requires_grad)")
    for k, p in again.named_parameters():
        _require(p.dtype == torch.float64 and not p.requires_grad,
                 f"{name}.for_analysis must give float64 parameters without gradients; {k} is {p.dtype}, "
                 f"requires_grad={p.requires_grad}")
    m32 = copy.deepcopy(model).to(torch.float32)
    with torch.no_grad():
        f32 = m32.vector_field(x.to(torch.float32), u.to(torch.float32))
        f64 = work.vector_field(x, u)
    _require(f32.dtype == torch.float32, f"{name} moved to float32 computes in {f32.dtype}")
    scale = max(float(f64.abs().max()), 1.0)
    _require(_close(f32.to(torch.float64), f64, 1e-3, 1e-4 * scale),
             f"{name} in float32 and float64 disagree beyond float32 rounding: {_worst(f32.to(torch.float64), f64)}")
    if torch.cuda.is_available():
        mc = copy.deepcopy(work).to("cuda")
        with torch.no_grad():
            fc = mc.vector_field(x.to("cuda"), u.to("cuda")).cpu()
        _require(_close(fc, f64.cpu(), rtol, atol * scale), f"{name} on CUDA disagrees with the CPU: {_worst(fc, f64)}")


def _check_state_dict(model: AbstractRNN, name: str, gen: torch.Generator) -> None:
    src = copy.deepcopy(model).to(torch.float64)
    buffer = io.BytesIO()
    torch.save(src.state_dict(), buffer)
    dst = copy.deepcopy(src)
    with torch.no_grad():
        for p in dst.parameters():
            p.add_(1.0)  # reloading must undo this
    buffer.seek(0)
    dst.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    u = torch.randn(2, 4, src.input_size, generator=gen, dtype=torch.float64).to(src.initial_state(1).device)
    a = simulate(src, u, noise=False).outputs
    b = simulate(dst, u, noise=False).outputs
    _require(_close(a, b, 0, 0), f"{name}: a state_dict saved and reloaded gives other outputs: {_worst(b, a)}")

