"""Training an ensemble: K networks of one shape in one process, each exactly as it trains alone."""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .._validation import check_device
from ..dynamics import add_noise
from ..errors import CheckpointError, ConfigError, TrainingInterruptedError
from ..models import RateRNN
from ..models.ensemble import RateEnsemble
from ..tasks._base import AbstractTask, TrialBatch
from ._checkpoint import load_checkpoint, save_checkpoint_state
from ._config import TrainingConfig
from ._losses import LOSSES
from ._trainer import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    TrainingResult,
    append_metrics,
    check_fits_task,
    derive_seed,
    divergence_message,
    learning_rate_at,
    make_optimizer,
    read_metrics_until,
    training_settings,
)

__all__ = ["EnsembleTrainer"]


@dataclass
class _Member:
    """What the trainer keeps of one member: its settings, folder, evaluation batch and record."""

    config: TrainingConfig
    run_dir: Path | None
    metadata: dict[str, Any]
    last_loss: float = float("nan")
    last_evaluation: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    eval_batch: TrialBatch | None = None
    result: TrainingResult | None = None  # set when the member stops
    message: str | None = None  # why a diverged member stopped
    last_checkpoint_step: int | None = None
    final_state: dict[str, torch.Tensor] | None = None  # the weights it stopped with


class EnsembleTrainer:
    """Trains the members of a :class:`~rnnscope.models.ensemble.RateEnsemble` together, each as
    :class:`~rnnscope.training.Trainer` trains it alone.

    Member k gets the batches, noise and held-out batch of its own training seed
    (``derive_seed(configs[k].seed, stream, step)``), the learning rate of the step, its own loss and
    regularisers (the ensemble's loss is the sum of the members', so member k's gradient is its own),
    gradient clipping by its own gradient norm, and Adam's moments of its own weights (Adam is
    elementwise). A member stops at its own criterion or divergence; it is then taken out of the
    ensemble (with its optimiser state), and the others go on. Its folder gets what a single run's
    gets: ``metrics.jsonl`` and ``checkpoint.safetensors`` in the single run's format, so a member's
    folder resumes alone as well as in the ensemble.

    Trials of different lengths (tasks with random durations) are padded at the end with zero inputs
    and mask: a step never sees a later input, so each member's outputs, loss and scores are those of
    its own batch.

    Args:
        model: the ensemble.
        task: the task every member trains on.
        configs: one :class:`TrainingConfig` per member, equal but for ``seed``.
        run_dirs: one folder per member for metrics and checkpoints, or None to keep everything in memory.
        device: where to train; default: where the model is.
        progress: a progress bar over steps; default: only when stderr is a terminal.
        checkpoint_metadata: one JSON-able dict per member saved in its checkpoints (its run configuration).
    """

    def __init__(self, model: RateEnsemble, task: AbstractTask, configs: Sequence[TrainingConfig], *,
                 run_dirs: Sequence[str | Path] | None = None, device: torch.device | str | None = None,
                 progress: bool | None = None, checkpoint_metadata: Sequence[dict[str, Any]] | None = None) -> None:
        own = "EnsembleTrainer"
        if not isinstance(model, RateEnsemble):
            raise ConfigError(f"The 'model' parameter of {own} must be a RateEnsemble. Got {type(model).__name__} instead.")
        if not isinstance(task, AbstractTask):
            raise ConfigError(f"The 'task' parameter of {own} must be an AbstractTask. Got {type(task).__name__} instead.")
        K = model.n_members
        configs = list(configs)
        for name, given in (("configs", configs), ("run_dirs", run_dirs), ("checkpoint_metadata", checkpoint_metadata)):
            if given is not None and len(given) != K:
                raise ConfigError(f"The {name!r} parameter of {own} must have one entry per member ({K}). "
                                  f"Got {len(given)} instead.")
        for k, cfg in enumerate(configs):
            if not isinstance(cfg, TrainingConfig):
                raise ConfigError(f"The 'configs' parameter of {own} must hold TrainingConfig objects. "
                                  f"Got {type(cfg).__name__} at position {k} instead.")
            differ = sorted(key for key, v in replace(cfg, seed=0).to_dict().items()
                            if v != replace(configs[0], seed=0).to_dict()[key])
            if differ:
                raise ConfigError(f"The 'configs' parameter of {own} must differ only in seed. Member {k} differs "
                                  f"from member 0 in {', '.join(differ)}.")
        check_fits_task(model.template, task)
        self.model = model
        self.task = task
        self.config = configs[0]  # the shared settings (each member's seed is in its own config)
        self.device = check_device(own, "device", device) if device is not None else next(model.parameters()).device
        self.model.to(self.device)
        self.loss_name = self.config.loss or task.default_loss
        self.loss_fn = LOSSES[self.loss_name]
        self.criterion = self.config.criterion if self.config.criterion is not None else task.default_criterion
        self.optimizer = make_optimizer(model, self.config)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        dirs = [None] * K if run_dirs is None else [Path(d) for d in run_dirs]
        metadata = [{}] * K if checkpoint_metadata is None else checkpoint_metadata
        self.members = [_Member(cfg, d, dict(meta)) for cfg, d, meta in zip(configs, dirs, metadata)]
        self.seeds = model.seeds  # each member's initial-weight seed
        self.active = list(range(K))  # the members still training, by position in the ensemble
        self.step = 0
        self.elapsed = 0.0
        self._interrupted_by: str | None = None

    def interrupt(self, reason: str = "interrupted") -> None:
        """Ask a running :meth:`fit` to stop after the step in progress: every member still training
        saves a checkpoint of that step (with its run_dir) and
        :class:`~rnnscope.errors.TrainingInterruptedError` is raised, as :meth:`Trainer.interrupt
        <rnnscope.training.Trainer.interrupt>` does. Safe to call from a signal handler."""
        self._interrupted_by = str(reason)

    # ------------------------------------------------------------------ batches of all members
    def _stack(self, batches: Sequence[TrialBatch], seeds: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The members' noisy inputs padded to one length, (K, batch, T, I), and their process noise
        (K, batch, T, N) or None, each drawn from the member's own generator as simulate draws it."""
        T = max(b.n_steps for b in batches)
        inputs, noises = [], []
        for b, s in zip(batches, seeds):
            u, xi = add_noise(self.model.template, b.inputs, torch.Generator().manual_seed(s))
            inputs.append(torch.nn.functional.pad(u, (0, 0, 0, T - b.n_steps)))
            if xi is not None:
                noises.append(torch.nn.functional.pad(xi, (0, 0, 0, T - b.n_steps)))
        return torch.stack(inputs), (torch.stack(noises) if noises else None)

    def _simulate(self, batches: Sequence[TrialBatch], seeds: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        U, noise = self._stack(batches, seeds)
        return self.model.simulate_members(U, noise=noise)

    def _member_loss(self, i: int, batch: TrialBatch, states: torch.Tensor,
                     outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Member at position ``i``: its total loss (task loss and regularisers, as Trainer.loss) and task loss."""
        T = batch.n_steps
        task_loss = self.loss_fn(outputs[:, :T], batch.targets, batch.mask)
        total = task_loss
        cfg = self.config
        if cfg.rate_l2 > 0:
            total = total + cfg.rate_l2 * self.model.template.rates(states[:, :T]).pow(2).mean()
        if cfg.weight_l2 > 0:
            total = total + cfg.weight_l2 * sum(p[i].pow(2).mean() for p in self.model.parameter_groups()["recurrent"])
        return total, task_loss

    # ------------------------------------------------------------------ one step
    def train_step(self) -> dict[int, float]:
        """One optimisation step of every active member on its batch of this step; returns
        ``{member: task loss}``. A member whose loss is not finite stops (diverged)."""
        step = self.step
        members = [self.members[k] for k in self.active]
        batches = [self.task.sample(m.config.batch_size, seed=derive_seed(m.config.seed, "batch", step)).to(self.device)
                   for m in members]
        states, outputs = self._simulate(batches, [derive_seed(m.config.seed, "noise", step) for m in members])
        total = None
        losses: dict[int, float] = {}
        diverged = []
        for i, (k, batch) in enumerate(zip(self.active, batches)):
            loss_i, task_i = self._member_loss(i, batch, states[i], outputs[i])
            losses[k] = float(task_i.detach())
            if not math.isfinite(float(loss_i.detach())):
                diverged.append(k)
                continue  # its gradient stays zero; it leaves the ensemble below
            total = loss_i if total is None else total + loss_i
        self.optimizer.zero_grad(set_to_none=True)
        lr = learning_rate_at(self.config, step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if total is not None:
            total.backward()
            if self.config.grad_clip is not None:
                self._clip_per_member(self.config.grad_clip)
            self.optimizer.step()
        self.step += 1
        for k, value in losses.items():
            self.members[k].last_loss = value
        for k in diverged:
            self._diverged(k, losses[k])
        return losses

    def _clip_per_member(self, max_norm: float) -> None:
        """``clip_grad_norm_`` for each member alone: its gradients scaled by ``max_norm / (its norm + 1e-6)``
        where that is below 1."""
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])  # (params, K)
        coef = (max_norm / (torch.linalg.vector_norm(norms, dim=0) + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.ndim - 1))))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, batch_size: int | None = None, seeds: Sequence[int] | None = None) -> dict[int, dict[str, float]]:
        """Every active member scored by ``task.evaluate`` on held-out trials, as
        :meth:`Trainer.evaluate <rnnscope.training.Trainer.evaluate>` scores it: without arguments on its
        fixed held-out batch, else on ``batch_size`` trials drawn with ``seeds[i]`` (one per active member).
        Returns ``{member: scores}`` (with ``loss``)."""
        members = [self.members[k] for k in self.active]
        if seeds is None and batch_size is None:
            for m in members:
                if m.eval_batch is None:
                    m.eval_batch = self.task.sample(m.config.eval_batch_size,
                                                    seed=derive_seed(m.config.seed, "eval")).to(self.device)
            batches = [m.eval_batch for m in members]
            noise_seeds = [derive_seed(m.config.seed, "eval-noise") for m in members]
        else:
            if seeds is None or len(seeds) != len(members):
                raise ConfigError(f"The 'seeds' parameter of EnsembleTrainer.evaluate must give one seed per active "
                                  f"member ({len(members)}). Got {seeds!r} instead.")
            n = batch_size or self.config.eval_batch_size
            batches = [self.task.sample(n, seed=s).to(self.device) for s in seeds]
            noise_seeds = [derive_seed(s, "evaluate-noise") for s in seeds]
        with torch.no_grad():
            _, outputs = self._simulate(batches, noise_seeds)
            out = {}
            for i, (k, batch) in enumerate(zip(self.active, batches)):
                y = outputs[i, :, :batch.n_steps]
                scores = dict(self.task.evaluate(y, batch))
                scores["loss"] = float(self.loss_fn(y, batch.targets, batch.mask))
                out[k] = scores
        return out

    def _evaluate_and_log(self) -> None:
        for k, scores in self.evaluate().items():
            self.members[k].last_evaluation = scores
            self._log(k, {"step": self.step, "eval": scores})

    # ------------------------------------------------------------------ the loop
    def fit(self, steps: int | None = None) -> list[TrainingResult]:
        """Train every member until ``steps`` (default ``config.steps``) or its criterion; returns one
        :class:`~rnnscope.training.TrainingResult` per member, in order (``stopped`` is ``"criterion"``,
        ``"max_steps"`` or ``"diverged"``; a diverged member's reason is in :meth:`message`)."""
        K, N = self.model.n_members, self.model.member_hidden_size
        with training_settings(self.config.batch_size * K * N**2):
            self._fit(steps)
        return [m.result for m in self.members]

    def message(self, k: int) -> str | None:
        """Why member ``k`` diverged, or None."""
        return self.members[k].message

    def _fit(self, steps: int | None) -> None:
        total_steps = self.config.steps if steps is None else int(steps)
        cfg = self.config
        start = time.perf_counter() - self.elapsed
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total_steps, initial=self.step, desc=f"training {len(self.active)} x {self.task.name}",
                       unit="step", file=sys.stderr, dynamic_ncols=True)
        try:
            if self.step == 0 and not any(self.members[k].last_evaluation for k in self.active):
                self._evaluate_and_log()
            self._stop_at_criterion()
            while self.active and self.step < total_steps:
                if self._interrupted_by is not None:
                    self._stop_interrupted()
                losses = self.train_step()
                self.elapsed = time.perf_counter() - start
                if self.step % cfg.log_every == 0:
                    for k in self.active:
                        self._log(k, {"step": self.step, "loss": losses[k], "time": round(self.elapsed, 3)})
                if self.step % cfg.eval_every == 0 or self.step == total_steps:
                    self._evaluate_and_log()
                    self._stop_at_criterion()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(active=len(self.active))
                if self.step % cfg.checkpoint_every == 0:
                    for k in self.active:
                        self._save(k)
        finally:
            if bar is not None:
                bar.close()
        self.elapsed = time.perf_counter() - start
        self._stop(list(self.active), "max_steps")

    def _stop_interrupted(self) -> None:
        reason, self._interrupted_by = self._interrupted_by, None
        for k in self.active:
            if self.members[k].last_checkpoint_step != self.step:
                self._save(k)
        saved = ("Their checkpoints are saved; resume from them to continue."
                 if all(self.members[k].run_dir is not None for k in self.active) else
                 "Members without a run_dir saved nothing.")
        raise TrainingInterruptedError(f"Training of the ensemble stopped at step {self.step} ({reason}). {saved}",
                                       step=self.step, signal_name=reason)

    def _stop_at_criterion(self) -> None:
        if self.config.stop_at_criterion:
            self._stop([k for k in self.active
                        if self.members[k].last_evaluation.get("performance", 0.0) >= self.criterion], "criterion")

    def _stop(self, gone: Sequence[int], reason: str) -> None:
        """Members ``gone`` stop: their checkpoint at this step, their result, and they leave the ensemble."""
        for k in gone:
            m = self.members[k]
            if reason != "diverged" and m.last_checkpoint_step != self.step:
                self._save(k)
            m.final_state = self.model.member_state_dict(self.active.index(k))
            loss = m.last_loss if math.isfinite(m.last_loss) else float(m.last_evaluation.get("loss", float("nan")))
            m.result = TrainingResult(steps=self.step if reason != "diverged" else self.step - 1, loss=loss,
                                      performance=float(m.last_evaluation.get("performance", float("nan"))),
                                      evaluation=dict(m.last_evaluation), stopped=reason, wall_time=self.elapsed,
                                      history=list(m.history))
        if gone:
            self._remove(gone)

    def _diverged(self, k: int, loss: float) -> None:
        m = self.members[k]
        self._log(k, {"step": self.step, "diverged": True, "loss": loss if math.isfinite(loss) else str(loss)})
        if m.last_checkpoint_step is not None and m.run_dir is not None:
            kept = f"The last good checkpoint (step {m.last_checkpoint_step}) is kept in {m.run_dir}."
        else:
            kept = "No checkpoint had been written yet."
        m.message = divergence_message(m.config, loss, self.step, kept)
        self._stop([k], "diverged")

    def member(self, k: int) -> RateRNN:
        """Member ``k`` as a :class:`~rnnscope.models.RateRNN` with its weights now (its final weights once
        it stopped; for a diverged member, those of its failed step)."""
        m = self.members[k]
        if k in self.active:
            return self.model.member(self.active.index(k))
        model = copy.deepcopy(self.model.template).to(self.device)
        model.load_state_dict(m.final_state)
        model.seed = self.seeds[k]
        return model

    def _remove(self, gone: Sequence[int]) -> None:
        """Take members out of the ensemble, with their optimiser state."""
        keep = [i for i, k in enumerate(self.active) if k not in gone]
        self.active = [self.active[i] for i in keep]
        if not keep:  # nothing left to train: the ensemble stays as it was
            return
        state = self.optimizer.state_dict()
        self.model = self.model.select(keep)
        self.optimizer = make_optimizer(self.model, self.config)
        state["state"] = {idx: {name: (v[keep] if isinstance(v, torch.Tensor) and v.ndim > 0 else v)
                                for name, v in entries.items()} for idx, entries in state["state"].items()}
        self.optimizer.load_state_dict(state)

    # ------------------------------------------------------------------ persistence
    def _log(self, k: int, record: dict[str, Any]) -> None:
        m = self.members[k]
        m.history.append(record)
        if m.run_dir is not None:
            append_metrics(m.run_dir, record)

    def _member_optimizer_state(self, i: int) -> dict[str, Any]:
        """The optimiser's state_dict of the member at position ``i``, as a single run's optimiser has it."""
        state = self.optimizer.state_dict()
        return {"state": {idx: {name: (v[i] if isinstance(v, torch.Tensor) and v.ndim > 0 else v)
                                for name, v in entries.items()} for idx, entries in state["state"].items()},
                "param_groups": state["param_groups"]}

    def _save(self, k: int) -> None:
        m = self.members[k]
        if m.run_dir is None:
            return
        m.run_dir.mkdir(parents=True, exist_ok=True)
        i = self.active.index(k)
        meta = {**m.metadata, "elapsed": self.elapsed,
                "last_loss": m.last_loss if math.isfinite(m.last_loss) else None,
                "last_evaluation": m.last_evaluation, "training_config": m.config.to_dict()}
        save_checkpoint_state(m.run_dir / CHECKPOINT_NAME, self.model.member_state_dict(i),
                              self._member_optimizer_state(i), step=self.step, metadata=meta)
        m.last_checkpoint_step = self.step

    def resume(self) -> EnsembleTrainer:
        """Restore every member's weights, optimiser state and step from the checkpoint in its folder.

        The members' checkpoints must be at one step (an ensemble writes them together); lines of
        ``metrics.jsonl`` written after it are dropped, as :meth:`Trainer.resume
        <rnnscope.training.Trainer.resume>` does.
        """
        if any(m.run_dir is None for m in self.members):
            raise ConfigError("EnsembleTrainer.resume needs a run_dir for every member.")
        ckpts = [load_checkpoint(m.run_dir / CHECKPOINT_NAME) for m in self.members]
        steps = sorted({c.step for c in ckpts})
        if len(steps) != 1:
            raise CheckpointError(f"The members' checkpoints are at different steps ({', '.join(map(str, steps))}): "
                                  "an ensemble resumes members at one step; resume the others one by one.")
        for i, (m, c) in enumerate(zip(self.members, ckpts)):
            try:
                self.model.load_member_state_dict(i, c.model_state)
            except (RuntimeError, ValueError) as exc:
                raise CheckpointError(f"The checkpoint in {m.run_dir} does not fit the ensemble's member: {exc}") from None
            m.last_checkpoint_step = c.step
            last = c.metadata.get("last_loss")
            m.last_loss = float("nan") if last is None else float(last)
            m.last_evaluation = dict(c.metadata.get("last_evaluation") or {})
            if (m.run_dir / METRICS_NAME).is_file():
                m.history.extend(read_metrics_until(m.run_dir, c.step))
        if all(c.optimizer_state is not None for c in ckpts):
            first = ckpts[0].optimizer_state
            state = {idx: {name: (torch.stack([c.optimizer_state["state"][idx][name] for c in ckpts])
                                  if isinstance(v, torch.Tensor) and v.ndim > 0 else v)
                           for name, v in entries.items()} for idx, entries in first["state"].items()}
            self.optimizer.load_state_dict({"state": state, "param_groups": first["param_groups"]})
        self.step = steps[0]
        self.elapsed = max(float(c.metadata.get("elapsed", 0.0)) for c in ckpts)
        return self
