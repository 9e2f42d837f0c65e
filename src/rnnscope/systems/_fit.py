"""Fit a rate network to a dynamical system (Doya 1993): the trajectory task and the fit."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from .._threads import few_threads
from .._validation import check_float, check_int, check_seed
from ..analysis import find_fixed_points
from ..dynamics import simulate
from ..errors import ConfigError
from ..models import RateRNN
from ..tasks import AbstractTask, TrialBatch
from ..training import Trainer, TrainingConfig
from ._systems import DynamicalSystem, SystemTrajectories, limit_cycle_period

__all__ = ["TrajectoryTask", "FittedSystem", "fit_dynamical_system", "normalised_mse"]


@dataclass(frozen=True, eq=False)
class TrajectoryTask(AbstractTask):
    """Reproduce a system's trajectory from an initial condition given as an input pulse.

    A trial starts with ``pulse_steps`` steps during which the input carries the (standardised)
    initial condition ``x0``; the input is zero afterwards, so the network then runs autonomously.
    The target, scored from the last pulse step on, is the system's trajectory from ``x0``, sampled
    every ``dt`` for ``duration``, standardised per variable with the mean and std of a bank of
    trajectories. Trials are drawn from that bank of ``n_trajectories`` precisely integrated
    trajectories (computed once; initial conditions uniform in the system's box, run for
    ``transient`` time units first for systems whose interesting part is an attractor).

    Args:
        system: the :class:`DynamicalSystem`, or None when ``trajectories`` are given.
        trajectories: a bank of given trajectories (e.g. recorded) instead of a system; ``dt``,
            ``duration`` and ``n_trajectories`` then come from it.
        dt: sampling step (the network's time step), in the system's time units.
        duration: length of the scored trajectory.
        pulse_steps: steps of the initial-condition pulse.
        n_trajectories: size of the trajectory bank.
        transient: time to integrate the sampled initial conditions before they are used.
        bank_seed: seed of the bank's initial conditions.
    """

    system: DynamicalSystem | None = None
    trajectories: SystemTrajectories | None = None
    dt: float = 0.1
    duration: float = 8.0
    pulse_steps: int = 3
    n_trajectories: int = 1024
    transient: float = 0.0
    bank_seed: int = 0
    _bank: Any = field(default=None, init=False, repr=False)
    #: per-variable mean and std of the bank (set at construction), shape (dim,)
    mean: Any = field(default=None, init=False, repr=False)
    std: Any = field(default=None, init=False, repr=False)

    name: ClassVar[str] = "trajectories"
    summary: ClassVar[str] = "reproduce a dynamical system's trajectory from its initial condition"
    default_loss: ClassVar[str] = "mse"
    default_criterion: ClassVar[float] = 1.0

    def __post_init__(self) -> None:
        own = "TrajectoryTask"
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if self.trajectories is not None:
            tr = self.trajectories
            if self.system is not None or not isinstance(tr, SystemTrajectories):
                raise ConfigError(f"{own} takes either a 'system' or a SystemTrajectories bank as 'trajectories', "
                                  f"not both. Got system={self.system!r}, trajectories={type(tr).__name__}.")
            if tr.states.ndim != 3 or tr.states.shape[0] < 2 or tr.states.shape[1] < 2:
                raise ConfigError(f"The 'trajectories' parameter of {own} needs states of shape (batch >= 2, "
                                  f"time >= 2, dim). Got {tr.states.shape} instead.")
            set_("dt", float(tr.dt))
            set_("duration", float(tr.dt * (tr.states.shape[1] - 1)))
            set_("n_trajectories", int(tr.states.shape[0]))
        elif not isinstance(self.system, DynamicalSystem):
            raise ConfigError(f"The 'system' parameter of {own} must be a DynamicalSystem (or give 'trajectories'). "
                              f"Got {type(self.system).__name__} instead.")
        set_("dt", check_float(own, "dt", self.dt, low=0, low_inclusive=False))
        set_("duration", check_float(own, "duration", self.duration, low=self.dt))
        set_("pulse_steps", check_int(own, "pulse_steps", self.pulse_steps, low=1))
        set_("n_trajectories", check_int(own, "n_trajectories", self.n_trajectories, low=2))
        set_("transient", check_float(own, "transient", self.transient, low=0))
        set_("bank_seed", check_int(own, "bank_seed", self.bank_seed, low=0))
        if self.trajectories is not None:
            set_("_bank", self.trajectories)
        else:
            x0 = self.system.sample_initial_conditions(self.n_trajectories, seed=self.bank_seed)
            set_("_bank", self.integrate(x0))
        s = self._bank.states.reshape(-1, self._bank.states.shape[-1])
        set_("mean", s.mean(0))
        set_("std", s.std(0))

    @property
    def state_names(self) -> tuple[str, ...]:
        if self.system is not None:
            return self.system.state_names
        return tuple(f"x{i}" for i in range(self._bank.states.shape[-1]))

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f"{n}0" for n in self.state_names)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.state_names

    def params(self) -> dict[str, Any]:
        return {"system": type(self.system).__name__ if self.system is not None else None, "dt": self.dt,
                "duration": self.duration,
                "pulse_steps": self.pulse_steps, "n_trajectories": self.n_trajectories,
                "transient": self.transient, "bank_seed": self.bank_seed}

    def integrate(self, initial_conditions) -> SystemTrajectories:
        """Trajectories from ``initial_conditions`` (after ``transient``), sampled for this task."""
        if self.system is None:
            raise ConfigError("This TrajectoryTask was built from given trajectories and has no system to integrate.")
        x0 = np.asarray(initial_conditions, dtype=np.float64)
        if self.transient > 0:
            x0 = self.system.trajectories(x0, self.transient, self.transient).states[:, -1]
        return self.system.trajectories(x0, self.duration, self.dt)

    def standardise(self, states) -> np.ndarray:
        return (np.asarray(states) - self.mean) / self.std

    def unstandardise(self, values) -> np.ndarray:
        return np.asarray(values) * self.std + self.mean

    def batch_from(self, trajectories: SystemTrajectories) -> TrialBatch:
        """The trials of given trajectories (e.g. held-out initial conditions)."""
        z = torch.as_tensor(self.standardise(trajectories.states), dtype=torch.float32)  # (B, T, D)
        B, T, D = z.shape
        P = self.pulse_steps
        n = P - 1 + T
        inputs = torch.zeros(B, n, D)
        inputs[:, :P] = z[:, :1]
        targets = torch.zeros(B, n, D)
        targets[:, P - 1:] = z
        mask = torch.zeros(B, n, D)
        mask[:, P - 1:] = 1.0
        periods = {"pulse": torch.tensor([[0, P]]).expand(B, 2).clone(),
                   "free": torch.tensor([[P, n]]).expand(B, 2).clone()}
        return TrialBatch(inputs=inputs, targets=targets, mask=mask,
                          conditions={"initial_condition": torch.as_tensor(trajectories.states[:, 0])},
                          periods=periods, lengths=torch.full((B,), n, dtype=torch.long), dt=self.dt)

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        idx = torch.randint(self.n_trajectories, (batch_size,), generator=generator).numpy()
        bank = self._bank
        return self.batch_from(SystemTrajectories(bank.times, bank.states[idx], bank.dt))

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """``nmse``: masked MSE over the variance of the targets (per variable, averaged);
        ``performance = 1 - nmse`` clipped to [0, 1]."""
        out = self._check_outputs(outputs, batch)
        nmse = normalised_mse(out, batch.targets, batch.mask)
        return {"performance": min(max(1.0 - nmse, 0.0), 1.0), "nmse": nmse}


def normalised_mse(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> float:
    """Masked MSE of each output variable over the masked variance of its target, averaged.

    Shape: outputs, targets, mask (batch, time, dim).
    """
    m = mask.to(torch.float64)
    o, t = outputs.to(torch.float64), targets.to(torch.float64)
    w = m.sum((0, 1)).clamp_min(1e-12)
    mse = ((o - t) ** 2 * m).sum((0, 1)) / w
    mu = (t * m).sum((0, 1)) / w
    var = ((t - mu) ** 2 * m).sum((0, 1)) / w
    return float((mse / var.clamp_min(1e-12)).mean())


@dataclass
class FittedSystem:
    """A rate network fitted to a dynamical system, with its task and scores.

    Attributes:
        model: the fitted :class:`~rnnscope.models.RateRNN` (time in the system's units).
        task: the :class:`TrajectoryTask` it was trained on (standardisation, pulse, dt).
        heldout_nmse: normalised MSE on trajectories from held-out initial conditions.
        heldout: those held-out trajectories.
        training: the trainer's :class:`~rnnscope.training.TrainingResult`.
        wall_time: seconds spent training.
    """

    model: Any
    task: TrajectoryTask
    heldout_nmse: float
    heldout: SystemTrajectories
    training: Any
    wall_time: float

    def predict(self, initial_conditions, n_steps: int | None = None) -> np.ndarray:
        """The network's trajectories (in the system's units) from ``initial_conditions``.

        The initial condition is given as the input pulse, then the network runs autonomously for
        ``n_steps`` steps after the pulse (default: the task's duration). Row 0 is the readout at
        the end of the pulse, which the training made equal to the initial condition.

        Shape:
            - initial_conditions: (batch, dim)
            - returns (batch, n_steps + 1, dim)
        """
        x0 = np.atleast_2d(np.asarray(initial_conditions, dtype=np.float64))
        task = self.task
        T = int(round(task.duration / task.dt)) if n_steps is None else check_int("FittedSystem.predict", "n_steps",
                                                                                   n_steps, low=0)
        P = task.pulse_steps
        dtype = next(self.model.parameters()).dtype
        u = torch.zeros(x0.shape[0], P + T, x0.shape[1], dtype=dtype)
        u[:, :P] = torch.as_tensor(task.standardise(x0), dtype=dtype)[:, None]
        with torch.no_grad(), few_threads(x0.shape[0] * self.model.hidden_size**2):
            out = simulate(self.model, u, noise=False).outputs[:, P - 1:]
        return task.unstandardise(out.to(torch.float64).numpy())

    def state_after(self, initial_condition, n_steps: int) -> torch.Tensor:
        """The network's hidden state ``n_steps`` after the pulse of ``initial_condition`` (e.g. a
        point on the fitted attractor to start a Lyapunov estimate from). Shape: (hidden_size,)."""
        task = self.task
        x0 = np.asarray(initial_condition, dtype=np.float64).reshape(1, -1)
        n_steps = check_int("FittedSystem.state_after", "n_steps", n_steps, low=0)
        P = task.pulse_steps
        dtype = next(self.model.parameters()).dtype
        u = torch.zeros(1, P + n_steps, x0.shape[1], dtype=dtype)
        u[:, :P] = torch.as_tensor(task.standardise(x0), dtype=dtype)[:, None]
        with torch.no_grad():
            return simulate(self.model, u, noise=False).states[0, -1].to(torch.float64)

    def period(self, initial_condition=None, *, duration: float | None = None, transient: float | None = None,
               variable: int = 0) -> tuple[float, float, int]:
        """Period of the network's oscillation (autonomous run from a pulse), from the crossings of
        the readout ``variable`` through its mean: ``(period, std, number of cycles)``."""
        task = self.task
        x0 = np.zeros(len(task.state_names)) if initial_condition is None else initial_condition
        if initial_condition is None:
            x0[0] = 2.0
        duration = 12 * task.duration if duration is None else duration
        transient = 3 * task.duration if transient is None else transient
        z = self.predict(np.asarray(x0)[None], int(round(duration / task.dt)))[0]
        return limit_cycle_period(z[:, variable], task.dt, transient=int(round(transient / task.dt)))

    def fixed_points(self, *, n_trials: int = 64, n_candidates: int = 512, seed: int = 0):
        """Fixed points of the network at zero input (its autonomous dynamics), searched from the
        states visited on ``n_trials`` trials, and their readouts in the system's units.

        Returns ``(FixedPoints, readouts)``; readouts has shape (n, dim).
        """
        batch = self.task.sample(n_trials, seed=seed)
        dtype = next(self.model.parameters()).dtype
        with torch.no_grad():
            traj = simulate(self.model, batch.inputs.to(dtype), noise=False)
        fps = find_fixed_points(self.model, None, traj, n_candidates=n_candidates, seed=seed, progress=False).fixed()
        with torch.no_grad():
            z = self.model.readout(fps.states.to(dtype)).to(torch.float64).numpy()
        return fps, self.task.unstandardise(z)


def fit_dynamical_system(
    system: DynamicalSystem | SystemTrajectories,
    *,
    hidden_size: int = 64,
    tau: float = 0.5,
    dt: float = 0.1,
    duration: float = 8.0,
    pulse_steps: int = 3,
    transient: float = 0.0,
    n_trajectories: int = 1024,
    steps: int = 400,
    batch_size: int = 32,
    learning_rate: float = 0.01,
    n_heldout: int = 64,
    model: Any = None,
    seed: int = 0,
    progress: bool | None = False,
) -> FittedSystem:
    """Train a continuous-time rate network to reproduce a dynamical system (Doya 1993).

    The network ``tau dx/dt = -x + J tanh(x) + I u + b`` reads the system's state out linearly
    from its rates, ``z = W tanh(x) + c`` (standardised per variable). The initial condition enters
    as an input pulse over the first ``pulse_steps`` steps; afterwards the input is zero, so the
    trajectory the network is trained to follow is generated by its own autonomous dynamics -- the
    vector field that the fixed-point search, the period and the Lyapunov exponent then analyse.
    (Setting the initial state through a learned linear map would need a second kind of trial
    input; the pulse keeps the one trainer and the one simulation loop.) Training is BPTT with
    :class:`~rnnscope.training.Trainer` on trials drawn from a bank of precisely integrated
    trajectories; the score is the normalised MSE on trajectories from ``n_heldout`` held-out
    initial conditions.

    Args:
        system: a :class:`DynamicalSystem`, or a bank of :class:`SystemTrajectories` (then ``dt``,
            ``duration``, ``n_trajectories`` and ``transient`` come from it, and the held-out set is
            its last ``n_heldout`` trajectories).
        hidden_size, tau, dt: the network (tau and dt in the system's time units).
        duration: length of each training trajectory.
        pulse_steps: steps of the initial-condition pulse.
        transient: time each sampled initial condition is integrated before use (Lorenz: onto the attractor).
        n_trajectories: size of the training bank.
        steps, batch_size, learning_rate: Adam with gradient clipping at 1.
        n_heldout: held-out initial conditions.
        model: a :class:`~rnnscope.models.RateRNN` to continue training (e.g. the ``fit.model`` of a
            fit on shorter trajectories: a curriculum), instead of a fresh one; its sizes and ``dt``
            must fit (``hidden_size`` and ``tau`` are then ignored).
        seed: seed of the network, the bank and the batches.
        progress: progress bar.

    Returns:
        A :class:`FittedSystem`.
    """
    own = "fit_dynamical_system"
    seed = check_seed(own, "seed", seed)
    n_heldout = check_int(own, "n_heldout", n_heldout, low=1)
    if isinstance(system, SystemTrajectories):
        if system.states.shape[0] <= n_heldout + 1:
            raise ConfigError(f"The 'n_heldout' parameter of {own} must leave at least 2 of the "
                              f"{system.states.shape[0]} given trajectories for training. Got {n_heldout}.")
        train = SystemTrajectories(system.times, system.states[:-n_heldout], system.dt)
        heldout = SystemTrajectories(system.times, system.states[-n_heldout:], system.dt)
        task = TrajectoryTask(trajectories=train, pulse_steps=pulse_steps)
    elif isinstance(system, DynamicalSystem):
        task = TrajectoryTask(system, dt=dt, duration=duration, pulse_steps=pulse_steps,
                              n_trajectories=n_trajectories, transient=transient, bank_seed=seed)
        heldout = task.integrate(system.sample_initial_conditions(n_heldout, seed=seed + 1_000_003))
    else:
        raise ConfigError(f"The 'system' parameter of {own} must be a DynamicalSystem or SystemTrajectories. "
                          f"Got {type(system).__name__} instead.")
    D = len(task.state_names)
    if model is None:
        model = RateRNN(D, hidden_size, D, tau=tau, dt=task.dt, seed=seed)
    elif not isinstance(model, RateRNN) or model.input_size != D or model.output_size != D \
            or not math.isclose(model.dt, task.dt):
        got = (f"{type(model).__name__}(input_size={model.input_size}, output_size={model.output_size}, "
               f"dt={model.dt:g})") if isinstance(model, RateRNN) else type(model).__name__
        raise ConfigError(f"The 'model' parameter of {own} must be a RateRNN with input_size = output_size = {D} "
                          f"and dt = {task.dt:g}. Got {got} instead.")
    config = TrainingConfig(steps=steps, batch_size=batch_size, learning_rate=learning_rate, grad_clip=1.0,
                            eval_every=max(steps, 1), eval_batch_size=128, stop_at_criterion=False,
                            checkpoint_every=max(steps, 1), log_every=max(steps // 20, 1), seed=seed)
    start = time.perf_counter()
    with few_threads(batch_size * model.hidden_size**2):
        result = Trainer(model, task, config, progress=progress).fit()
        wall = time.perf_counter() - start
        batch = task.batch_from(heldout)
        with torch.no_grad():
            out = simulate(model, batch.inputs, noise=False).outputs
    nmse = normalised_mse(out, batch.targets, batch.mask)
    return FittedSystem(model=model, task=task, heldout_nmse=nmse, heldout=heldout, training=result, wall_time=wall)
