"""Task variance, clusters of units and lesions: how one network shares its units among many tasks
(Yang, Joglekar, Song, Newsome & Wang 2019).

- :func:`condition_variance`: for each unit, the variance of its activity across trials (stimulus
  conditions) at each time step, averaged over the scored steps. Trials must share their epochs step by
  step for this to mean "variance across conditions" (Yang et al. use fixed timings and no noise).
- :func:`task_variance`: that variance for every unit and every task of a network, simulated without
  noise, into a :class:`TaskVariance` (units x tasks) that knows the *active* units (summed variance
  above a threshold), their *normalised* profiles (each unit divided by its largest task variance) and
  the *fractional task variance* of a pair of tasks, ``(v_A - v_B) / (v_A + v_B)``, in [-1, 1].
- :func:`cluster_units`: k-means of the normalised profiles for each k of a range, keeping the k with
  the best silhouette score, into a :class:`UnitClusters` (labels, the order that sorts units by
  cluster, the score of each k).
- :func:`lesion_effect`: the performance on each task with and without a group of units silenced.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._validation import check_choice, check_float, check_int, check_seed
from ..dynamics import simulate
from ..errors import ConfigError, ShapeError
from ..models._base import AbstractRNN
from ..tasks._base import AbstractTask, TrialBatch
from ._results_io import load_result, save_result
from .perturbation import silence

__all__ = [
    "TaskVariance",
    "UnitClusters",
    "LesionEffect",
    "condition_variance",
    "task_variance",
    "cluster_units",
    "lesion_effect",
]


def condition_variance(activity: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Variance across trials at each step, averaged over the steps where ``steps`` holds for at least
    two trials (population variance, the trials of a step weighted equally).

    Shape:
        - activity: (batch, time, units)
        - steps: (batch, time) bool, the trial-steps that count
        - returns: (units,) float64
    """
    if not isinstance(activity, torch.Tensor) or activity.ndim != 3:
        raise ShapeError(f"'activity' must be a (batch, time, units) tensor. Got "
                         f"{getattr(activity, 'shape', type(activity).__name__)} instead.")
    if not isinstance(steps, torch.Tensor) or tuple(steps.shape) != tuple(activity.shape[:2]):
        raise ShapeError(f"'steps' must be a (batch, time) bool tensor matching activity "
                         f"{tuple(activity.shape[:2])}. Got {getattr(steps, 'shape', steps)!r} instead.")
    a = activity.detach().to(torch.float64)
    w = steps.to(torch.float64)[..., None]
    n = w.sum(0)  # (time, 1)
    mean = (a * w).sum(0) / n.clamp_min(1)
    var = (w * (a - mean) ** 2).sum(0) / n.clamp_min(1)  # (time, units)
    use = (n[:, 0] >= 2)
    if not bool(use.any()):
        raise ConfigError("condition_variance needs at least one step shared by two or more trials.")
    return var[use].mean(0)


@dataclass(frozen=True)
class TaskVariance:
    """The variance of each unit's activity across conditions, per task.

    Attributes:
        variance: variance of every unit in every task.
        tasks: the name of each task (column).
        threshold: a unit is active when its variance summed over tasks exceeds this.

    Shape:
        - variance: (units, tasks), float64
    """

    variance: torch.Tensor
    tasks: tuple[str, ...]
    threshold: float = 1e-3

    @property
    def active(self) -> torch.Tensor:
        """Bool (units,): the units whose summed task variance exceeds :attr:`threshold`."""
        return self.variance.sum(1) > self.threshold

    @property
    def normalised(self) -> torch.Tensor:
        """The active units' profiles divided by each unit's largest task variance: (active, tasks)."""
        v = self.variance[self.active]
        return v / v.amax(1, keepdim=True)

    def task_index(self, task: str) -> int:
        if task not in self.tasks:
            raise ConfigError(f"Unknown task {task!r}; this task variance has {', '.join(self.tasks)}.")
        return self.tasks.index(task)

    def fractional(self, task_a: str, task_b: str) -> torch.Tensor:
        """Fractional task variance of the active units, ``(v_A - v_B) / (v_A + v_B)``: 1 for a unit
        selective to A only, -1 to B only, 0 for both alike. Units silent in both get NaN.

        Shape: returns (active,).
        """
        v = self.variance[self.active]
        a, b = v[:, self.task_index(task_a)], v[:, self.task_index(task_b)]
        total = a + b
        return torch.where(total > 0, (a - b) / total.clamp_min(1e-300), torch.full_like(total, float("nan")))

    def save(self, path: str | Path) -> Path:
        """Write the result to one ``.npz`` file (:meth:`load` reads it)."""
        return save_result(path, "TaskVariance", {"variance": self.variance},
                           {"tasks": list(self.tasks), "threshold": self.threshold})

    @classmethod
    def load(cls, path: str | Path) -> TaskVariance:
        """Read a result written by :meth:`save`."""
        t, meta = load_result(path, "TaskVariance", ("variance",))
        return cls(variance=t["variance"].to(torch.float64), tasks=tuple(meta["tasks"]),
                   threshold=float(meta["threshold"]))

    def __repr__(self) -> str:
        return f"TaskVariance(units={self.variance.shape[0]}, tasks={len(self.tasks)}, active={int(self.active.sum())})"


def task_variance(
    model: AbstractRNN,
    tasks: Mapping[str, AbstractTask],
    *,
    n_trials: int = 256,
    seed: int = 0,
    exclude_periods: Sequence[str] = ("fixation",),
    threshold: float = 1e-3,
) -> TaskVariance:
    """Simulate ``model`` without noise on trials of each task and measure each unit's variance across
    trials (conditions), averaged over time, on the rates (``model.rates``).

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        tasks: name -> task. Trials should share their epochs step by step (e.g. Yang et al.'s tasks
            with ``timing="fixed"`` and ``input_noise=0``); otherwise the variance mixes epochs.
        n_trials: trials per task, ``task.sample(n_trials, seed=seed)``.
        seed: seed of the trials.
        exclude_periods: periods left out (the paper leaves out the fixation epoch); a period a batch
            does not have is ignored.
        threshold: the activity threshold of :attr:`TaskVariance.active`.

    Returns:
        A :class:`TaskVariance`.
    """
    own = "task_variance"
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {own} must be an AbstractRNN. Got {type(model).__name__} instead.")
    if not isinstance(tasks, Mapping) or not tasks or not all(isinstance(t, AbstractTask) for t in tasks.values()):
        raise ConfigError(f"The 'tasks' parameter of {own} must be a non-empty mapping of names to tasks. "
                          f"Got {tasks!r} instead.")
    n_trials = check_int(own, "n_trials", n_trials, low=2)
    seed = check_seed(own, "seed", seed)
    threshold = check_float(own, "threshold", threshold, low=0.0)
    columns = []
    for task in tasks.values():
        batch = task.sample(n_trials, seed=seed)
        rates = _rates(model, batch)
        steps = torch.arange(batch.n_steps)[None, :] < batch.lengths[:, None]
        for name in exclude_periods:
            if name in batch.periods:
                steps &= ~batch.period_mask(name)
        columns.append(condition_variance(rates, steps))
    return TaskVariance(variance=torch.stack(columns, 1), tasks=tuple(tasks), threshold=threshold)


def _rates(model: AbstractRNN, batch: TrialBatch) -> torch.Tensor:
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    device = param.device if param is not None else torch.device("cpu")
    with torch.no_grad():
        traj = simulate(model, batch.inputs.to(device=device, dtype=dtype), noise=False)
        return model.rates(traj.states).cpu()


@dataclass(frozen=True)
class UnitClusters:
    """Clusters of units by their normalised task-variance profiles.

    Attributes:
        labels: the cluster of each unit (clusters numbered by the task where their mean profile
            peaks, then by size).
        n_clusters: the number of clusters chosen.
        silhouette: the silhouette score of each k tried.
        k_values: the k tried.
        order: unit indices sorted by cluster (for the units x tasks figure).

    Shape:
        - labels, order: (units,)
        - silhouette, k_values: (n_k,)
    """

    labels: np.ndarray
    n_clusters: int
    silhouette: np.ndarray
    k_values: np.ndarray
    order: np.ndarray

    def members(self, cluster: int) -> np.ndarray:
        """Indices (into the clustered units) of the units of ``cluster``."""
        return np.flatnonzero(self.labels == cluster)


def cluster_units(
    profiles: torch.Tensor | np.ndarray,
    *,
    k_range: Sequence[int] = range(2, 30),
    n_init: int = 20,
    seed: int = 0,
) -> UnitClusters:
    """k-means of unit profiles (e.g. :attr:`TaskVariance.normalised`) for each k of ``k_range``,
    keeping the k with the highest silhouette score (Yang et al. 2019: k = 2..29, 20 initialisations).

    Needs scikit-learn (the optional extra ``populations``).

    Shape: profiles (units, features).
    """
    own = "cluster_units"
    try:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score
    except ImportError:
        raise ConfigError(f"{own} needs scikit-learn, the optional extra 'populations': "
                          f"pip install 'rnnscope[populations]'.") from None
    X = np.asarray(profiles.detach().cpu() if isinstance(profiles, torch.Tensor) else profiles, dtype=np.float64)
    if X.ndim != 2 or not np.isfinite(X).all():
        raise ShapeError(f"'profiles' must be a finite (units, features) array. Got shape {X.shape} instead.")
    n_init = check_int(own, "n_init", n_init, low=1)
    seed = check_seed(own, "seed", seed)
    ks = [int(k) for k in k_range if 2 <= int(k) < X.shape[0]]
    if not ks:
        raise ConfigError(f"The 'k_range' parameter of {own} must hold a k with 2 <= k < units ({X.shape[0]}). "
                          f"Got {list(k_range)!r} instead.")
    scores, fits = [], []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(X)
        fits.append(km.labels_)
        scores.append(silhouette_score(X, km.labels_) if len(set(km.labels_)) > 1 else -1.0)
    best = int(np.argmax(scores))
    raw = fits[best]
    # number the clusters by the feature where their mean profile peaks, then by size
    keys = sorted(set(raw), key=lambda c: (int(np.argmax(X[raw == c].mean(0))), -int((raw == c).sum())))
    relabel = {c: i for i, c in enumerate(keys)}
    labels = np.array([relabel[c] for c in raw])
    order = np.lexsort((np.arange(len(labels)), labels))
    return UnitClusters(labels=labels, n_clusters=len(keys), silhouette=np.asarray(scores), k_values=np.asarray(ks),
                        order=order)


@dataclass(frozen=True)
class LesionEffect:
    """Performance on each task before and after lesioning a group of units.

    Attributes:
        tasks: the task names.
        units: the lesioned units.
        baseline: performance of the intact network on each task.
        lesioned: performance with the units lesioned.
        method: how: "remove" (outgoing weights set to 0) or "silence" (state held at 0).

    Shape:
        - units: (n_units,)
        - baseline, lesioned: (tasks,)
    """

    tasks: tuple[str, ...]
    units: np.ndarray
    baseline: np.ndarray
    lesioned: np.ndarray
    method: str = "silence"

    @property
    def change(self) -> np.ndarray:
        """``lesioned - baseline`` per task."""
        return self.lesioned - self.baseline


def lesion_effect(
    model: AbstractRNN,
    tasks: Mapping[str, AbstractTask],
    units: Sequence[int] | np.ndarray | torch.Tensor,
    *,
    n_trials: int = 256,
    seed: int = 0,
    method: str = "auto",
) -> LesionEffect:
    """Score every task with and without the lesioned ``units``, noise off, on the same trials.

    ``method``: ``"remove"`` (the paper's lesion: the units' outgoing weights, recurrent and readout,
    set to 0 on a copy of the model, so the rest of the network no longer hears them; models that
    hold an (N, N) ``recurrent_weight`` or low-rank ``n`` and an ``output_weight``, as RateRNN), ``"silence"`` (their state held at 0 throughout, :func:`~rnnscope.analysis.silence`; any
    model: a silenced ReLU or tanh unit sends nothing, but a softplus unit still sends its rate at
    0, log 2, a constant push on every unit it projects to) or ``"auto"`` (remove where the model
    holds its outgoing weights as RateRNN does, else silence). ``LesionEffect.method`` records which was used.
    """
    own = "lesion_effect"
    idx = torch.as_tensor(np.asarray(units, dtype=np.int64).reshape(-1))
    if not isinstance(tasks, Mapping) or not tasks:
        raise ConfigError(f"The 'tasks' parameter of {own} must be a non-empty mapping of names to tasks. "
                          f"Got {tasks!r} instead.")
    n_trials = check_int(own, "n_trials", n_trials, low=1)
    seed = check_seed(own, "seed", seed)
    method = check_choice(own, "method", method, ("auto", "remove", "silence"))
    lesion = silence(idx.tolist())
    lesion.check(model.hidden_size)
    removable = _has_outgoing_weights(model)
    if method == "remove" and not removable:
        raise ConfigError(f"The 'method' parameter of {own} is 'remove', which sets outgoing weights to 0 and "
                          f"needs a model with an (N, N) recurrent_weight (or a low-rank n) and an output_weight, "
                          f"such as RateRNN; got a {type(model).__name__}. Use method='silence' instead.")
    method = ("remove" if removable else "silence") if method == "auto" else method
    lesioned_model = _without_outgoing_weights(model, idx) if method == "remove" else model
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    device = param.device if param is not None else torch.device("cpu")
    base, les = [], []
    with torch.no_grad():
        for task in tasks.values():
            batch = task.sample(n_trials, seed=seed)
            inputs = batch.inputs.to(device=device, dtype=dtype)
            intact = simulate(model, inputs, noise=False).outputs.cpu()
            if method == "remove":
                hurt = simulate(lesioned_model, inputs, noise=False).outputs.cpu()
            else:
                hurt = simulate(model, inputs, noise=False, intervention=lesion.bind(batch)).outputs.cpu()
            base.append(task.evaluate(intact, batch)["performance"])
            les.append(task.evaluate(hurt, batch)["performance"])
    return LesionEffect(tasks=tuple(tasks), units=idx.numpy(), baseline=np.asarray(base), lesioned=np.asarray(les),
                        method=method)


def _has_outgoing_weights(model: AbstractRNN) -> bool:
    """Whether ``model`` holds its outgoing weights as RateRNN does: an (N, N) ``recurrent_weight``
    (or a low-rank ``n`` of shape (N, K)) and an (outputs, N) ``output_weight``."""
    N = model.hidden_size
    W, n, out = (getattr(model, name, None) for name in ("recurrent_weight", "n", "output_weight"))
    recurrent = (isinstance(W, torch.Tensor) and tuple(W.shape) == (N, N)) or \
        (W is None and isinstance(n, torch.Tensor) and n.dim() == 2 and n.shape[0] == N)
    return recurrent and isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[1] == N


def _without_outgoing_weights(model: AbstractRNN, units: torch.Tensor) -> AbstractRNN:
    """A copy of ``model`` whose ``units`` send nothing: their columns of the recurrent weights (or
    their rows of the low-rank ``n`` and their columns of a random bulk) and of the readout set to 0."""
    lesioned = copy.deepcopy(model)
    with torch.no_grad():
        if getattr(lesioned, "recurrent_weight", None) is not None:
            lesioned.recurrent_weight[:, units] = 0.0
        else:
            lesioned.n[units] = 0.0
            if getattr(lesioned, "bulk", None) is not None:
                lesioned.bulk[:, units] = 0.0
        lesioned.output_weight[:, units] = 0.0
    return lesioned
