"""The one BPTT trainer used by every model and task."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import yaml

from .._threads import few_threads
from .._validation import check_device, check_int, check_seed
from ..dynamics import simulate
from ..errors import CheckpointError, ConfigError, TrainingDivergedError, TrainingInterruptedError
from ..models._base import AbstractRNN
from ..tasks._base import AbstractTask, TrialBatch
from ._callbacks import Callback
from ._checkpoint import atomic_write_text, jsonable, load_checkpoint, save_checkpoint, strict_json
from ._config import TrainingConfig
from ._losses import LOSSES
from ._run_description import describe_run, run_summary

__all__ = ["Trainer", "TrainingResult", "derive_seed", "learning_rate_at", "CHECKPOINT_NAME", "METRICS_NAME",
           "CONFIG_NAME", "SUMMARY_NAME"]

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.jsonl"
CONFIG_NAME = "config.yaml"
SUMMARY_NAME = "summary.json"

_LOG = logging.getLogger(__name__)


def derive_seed(seed: int, stream: str, index: int = 0) -> int:
    """A 63-bit seed for item ``index`` of a named random ``stream`` of run ``seed``.

    Step k of a run always draws the same batch and noise, so a resumed run repeats an
    uninterrupted one exactly.
    """
    digest = hashlib.sha256(f"{seed}:{stream}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def learning_rate_at(config: TrainingConfig, step: int) -> float:
    """The learning rate of the optimisation step that follows ``step`` steps done (the schedule of
    ``config.lr_schedule``): a function of the step alone, so a resumed run repeats an
    uninterrupted one."""
    lr = config.learning_rate
    if config.lr_schedule == "constant":
        return lr
    final = config.final_learning_rate
    if config.lr_schedule == "step":
        return lr if step < round(config.lr_drop_at * config.steps) else float(final)
    final = 0.0 if final is None else final
    frac = min(step / max(config.steps, 1), 1.0)
    return final + 0.5 * (lr - final) * (1.0 + math.cos(math.pi * frac))


def _flush_denormal_is_on() -> bool:
    """Whether torch flushes denormal floats to zero now (torch has no getter: a product that should
    give a float32 denormal comes out 0 when flushing is on)."""
    return bool((torch.tensor([1e-30], dtype=torch.float32) * 1e-10)[0] == 0)


def check_fits_task(model: AbstractRNN, task: AbstractTask) -> None:
    """Raise ConfigError unless ``model`` has the task's input and output sizes and its dt."""
    if model.input_size != task.input_size or model.output_size != task.output_size:
        raise ConfigError(
            f"The model has input_size={model.input_size}, output_size={model.output_size}, but task "
            f"{task.name!r} needs input_size={task.input_size}, output_size={task.output_size}."
        )
    if model.time == "continuous" and not math.isclose(model.dt, task.dt):
        raise ConfigError(
            f"The model's dt ({model.dt:g} ms) differs from the task's dt ({task.dt:g} ms); "
            "build both with the same dt."
        )


def make_optimizer(model: torch.nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config`` over the trainable parameters of ``model``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("Every parameter of the model is frozen: there is nothing to train.")
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.learning_rate)
    return torch.optim.SGD(params, lr=config.learning_rate)


@contextlib.contextmanager
def training_settings(work_per_step: int):
    """torch's global settings during a fit, restored afterwards: denormal floats flushed to zero
    (in gradients and optimiser moments they made CPU training up to 25x slower, measured on
    measure_set_go) and one intra-op thread for small steps (:func:`~rnnscope._threads.few_threads`)."""
    was_flushing = _flush_denormal_is_on()
    torch.set_flush_denormal(True)
    try:
        with few_threads(work_per_step):
            yield
    finally:
        torch.set_flush_denormal(was_flushing)


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one record to ``run_dir/metrics.jsonl`` as strict JSON (the folder is made if needed)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / METRICS_NAME, "a", encoding="utf-8") as f:
        f.write(strict_json(record) + "\n")


def read_metrics_text(run_dir: Path | None) -> str | None:
    """The text of ``run_dir/metrics.jsonl`` (None when there is none); a file that is not UTF-8 text
    is refused with a :class:`~rnnscope.errors.CheckpointError` that says what to do."""
    path = None if run_dir is None else run_dir / METRICS_NAME
    if path is None or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path} is damaged: it is not UTF-8 text (byte {exc.start}). Move it away to "
                              "resume (the checkpoint does not need it; the history before it is lost).") from None


def read_metrics_until(run_dir: Path, step: int, text: str | None = None) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl`` (or of its ``text``, read earlier) up to ``step``; the
    file is rewritten without the later ones (written after the checkpoint a run resumes from) and
    without a line cut by a kill."""
    if text is None:
        text = read_metrics_text(run_dir)
    if text is None:
        return []
    kept, records = [], []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if rec.get("step", 0) <= step:
            kept.append(line)
            records.append(rec)
    atomic_write_text(run_dir / METRICS_NAME, "".join(k + "\n" for k in kept))
    return records


def divergence_message(config: TrainingConfig, loss: float, step: int, kept: str) -> str:
    """What a run whose loss became ``loss`` at ``step`` says (``kept``: where its last checkpoint is)."""
    return (f"The training loss became {loss} at step {step}; training stopped. {kept} "
            f"Try a smaller learning_rate (now {config.learning_rate:g}), gradient clipping "
            f"(grad_clip, now {config.grad_clip}), a smaller initial gain g, or a larger tau.")


@dataclass
class TrainingResult:
    """What :meth:`Trainer.fit` returns."""

    steps: int
    loss: float
    performance: float
    evaluation: dict[str, float]
    stopped: str  # "criterion" or "max_steps"
    wall_time: float
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Backpropagation through time for any :class:`AbstractRNN` on any :class:`AbstractTask`.

    Each step draws a fresh batch (seeded by the step number), simulates the model with its noise,
    minimises the masked loss plus regularisers with the optimiser, and every ``eval_every`` steps
    scores a fixed held-out batch with ``task.evaluate``. Training stops at ``config.steps`` or
    when the held-out performance reaches the criterion.

    With a ``run_dir``, the trainer writes a run folder, the same whether it was built in Python or
    by ``rnnscope train``: ``config.yaml`` (the run described as plain data, :func:`describe_run`:
    the task, the model's kind and constructor arguments, the training settings), so that
    :func:`rnnscope.runs.load_run`, ``rnnscope analyse`` and ``rnnscope train --resume`` read it;
    ``metrics.jsonl``; ``checkpoint.safetensors``, written atomically every ``checkpoint_every`` steps
    and at the end (:meth:`resume` continues from it); and ``summary.json`` when the fit ends (the
    scores of the evaluation that ended it). A fit from step 0 refuses a folder that already holds a
    checkpoint (resume it instead), and starts ``metrics.jsonl`` afresh (the lines of an earlier
    start that left no checkpoint would otherwise mix two runs). :meth:`interrupt` (e.g. from a
    signal handler) stops the fit between two steps, after a checkpoint of the step reached.

    Args:
        model: the network; its input and output sizes must match the task's.
        task: the task to train on; its ``dt`` must equal the model's.
        config: a :class:`TrainingConfig`.
        run_dir: the run folder, or None to keep everything in memory.
        device: where to train (``"cpu"``, ``"cuda"``, ...); default: where the model is.
        progress: show a progress bar; default: only when stderr is a terminal.
        checkpoint_metadata: JSON-able data saved in every checkpoint (e.g. the run configuration).
        callbacks: :class:`~rnnscope.training.Callback` objects called during :meth:`fit`.
        run_config: the run's description written to ``config.yaml`` and into every checkpoint (the
            sections of a run configuration, as ``rnnscope.runs.RunConfig.to_dict()`` gives them);
            None: described from the model, task and config (:func:`describe_run`); a run that cannot
            be described so (a model a run configuration cannot name, a task class not registered)
            gets no ``config.yaml``, and the log says why. False: no ``config.yaml`` and no
            ``summary.json`` (a folder that its caller describes, such as a data fit's).
    """

    def __init__(
        self,
        model: AbstractRNN,
        task: AbstractTask,
        config: TrainingConfig | None = None,
        *,
        run_dir: str | Path | None = None,
        device: torch.device | str | None = None,
        progress: bool | None = None,
        checkpoint_metadata: dict[str, Any] | None = None,
        callbacks: Sequence[Callback] = (),
        run_config: dict[str, Any] | Literal[False] | None = None,
    ) -> None:
        if not isinstance(model, AbstractRNN):
            raise ConfigError(f"The 'model' parameter of Trainer must be an AbstractRNN. Got {type(model).__name__} instead.")
        if not isinstance(task, AbstractTask):
            raise ConfigError(f"The 'task' parameter of Trainer must be an AbstractTask. Got {type(task).__name__} instead.")
        config = config or TrainingConfig()
        if not isinstance(config, TrainingConfig):
            raise ConfigError(f"The 'config' parameter of Trainer must be a TrainingConfig. Got {type(config).__name__} instead.")
        check_fits_task(model, task)
        self.model = model
        self.task = task
        self.config = config
        self.device = check_device("Trainer", "device", device) if device is not None else next(model.parameters()).device
        self.model.to(self.device)
        self.loss_name = config.loss or task.default_loss
        self.loss_fn = LOSSES[self.loss_name]
        self.criterion = config.criterion if config.criterion is not None else task.default_criterion
        self.optimizer = make_optimizer(model, config)
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"The 'callbacks' parameter of Trainer must hold Callback objects. "
                                  f"Got {type(cb).__name__} instead.")
        self.callbacks = callbacks
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.checkpoint_metadata = dict(checkpoint_metadata or {})
        self.run_config, self._undescribed = self._describe(run_config)
        self.step = 0
        self.elapsed = 0.0
        self.last_loss = float("nan")
        self.last_evaluation: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []
        self._eval_batch: TrialBatch | None = None
        self._last_checkpoint_step: int | None = None
        self._last_checkpoint_finite = True
        self._interrupted_by: str | None = None

    # ------------------------------------------------------------------ pieces
    def loss(self, batch: TrialBatch, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Total loss (task loss + regularisers) and the task loss alone on ``batch``."""
        traj = simulate(self.model, batch.inputs, noise=True, generator=generator)
        task_loss = self.loss_fn(traj.outputs, batch.targets, batch.mask)
        total = task_loss
        cfg = self.config
        if cfg.rate_l2 > 0:
            total = total + cfg.rate_l2 * self.model.rates(traj.states).pow(2).mean()
        if cfg.weight_l2 > 0:
            rec = self.model.parameter_groups()["recurrent"]
            total = total + cfg.weight_l2 * sum(p.pow(2).mean() for p in rec)
        return total, task_loss

    def train_step(self) -> float:
        """One optimisation step on the batch of the current step number; returns the task loss."""
        cfg = self.config
        batch = self.task.sample(cfg.batch_size, seed=derive_seed(cfg.seed, "batch", self.step)).to(self.device)
        gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "noise", self.step))
        total, task_loss = self.loss(batch, gen)
        value = float(task_loss.detach())
        if not math.isfinite(float(total.detach())):
            self._diverged(value)
        self.optimizer.zero_grad(set_to_none=True)
        lr = learning_rate_at(cfg, self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        total.backward()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.last_loss = value
        return value

    def evaluate(self, batch_size: int | None = None, seed: int | None = None) -> dict[str, float]:
        """Score the model with ``task.evaluate`` on held-out trials (with the model's noise).

        Without arguments, the same held-out batch is used every time (seeded from the run seed).
        The returned dict also holds ``loss``, the task loss on that batch.
        """
        if batch_size is None and seed is None:
            if self._eval_batch is None:
                self._eval_batch = self.task.sample(
                    self.config.eval_batch_size, seed=derive_seed(self.config.seed, "eval")
                ).to(self.device)
            batch = self._eval_batch
            gen_seed = derive_seed(self.config.seed, "eval-noise")
        else:
            own = "Trainer.evaluate"
            n = self.config.eval_batch_size if batch_size is None else check_int(own, "batch_size", batch_size, low=1)
            s = derive_seed(self.config.seed, "evaluate", 0) if seed is None else check_seed(own, "seed", seed)
            batch = self.task.sample(n, seed=s).to(self.device)
            gen_seed = derive_seed(s, "evaluate-noise")
        with torch.no_grad():
            traj = simulate(self.model, batch.inputs, noise=True, generator=torch.Generator().manual_seed(gen_seed))
            scores = dict(self.task.evaluate(traj.outputs, batch))
            scores["loss"] = float(self.loss_fn(traj.outputs, batch.targets, batch.mask))
        return scores

    # ------------------------------------------------------------------ the loop
    def fit(self, steps: int | None = None) -> TrainingResult:
        """Train until ``steps`` (default ``config.steps``) or the criterion; returns the result.

        Small networks (batch x hidden_size^2 below 2^20 multiply-adds per step) train on one
        intra-op thread: their products take microseconds, and splitting them over threads only adds
        synchronisation (10x slower on a busy 2-core machine, measured).

        Denormal floats (< 1e-38) in gradients and optimiser moments made CPU training up to 25x
        slower (measured on measure_set_go), so they are flushed to zero during the fit; torch's
        setting (and the thread count) is restored when it returns: the trainer leaves no global
        state changed.
        """
        with training_settings(self.config.batch_size * self.model.hidden_size**2):
            return self._fit(steps)

    def interrupt(self, reason: str = "interrupted") -> None:
        """Ask a running :meth:`fit` to stop after the step in progress: it saves a checkpoint of the
        step reached (with a ``run_dir``) and raises :class:`~rnnscope.errors.TrainingInterruptedError`.
        Safe to call from a signal handler (it only sets a flag; the step is never cut)."""
        self._interrupted_by = str(reason)

    def _fit(self, steps: int | None) -> TrainingResult:
        total_steps = self.config.steps if steps is None else check_int("Trainer.fit", "steps", steps, low=0)
        cfg = self.config
        fresh = self.step == 0 and self._last_checkpoint_step is None
        if fresh:
            self._refuse_existing_checkpoint()
        self._check_metrics_file()
        if self.step == 0 and not self.history:
            self._start_fresh_metrics()
        self._write_config(fresh)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        start = time.perf_counter() - self.elapsed
        stopped = "max_steps"
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total_steps, initial=self.step, desc=f"training {self.task.name}", unit="step",
                       file=sys.stderr, dynamic_ncols=True)
        try:
            if self.step == 0 and not self.last_evaluation:
                self._evaluate_and_log()
            if cfg.stop_at_criterion and self.last_evaluation.get("performance", 0.0) >= self.criterion:
                stopped = "criterion"
            while stopped != "criterion" and self.step < total_steps:
                if self._interrupted_by is not None:
                    self._stop_interrupted()
                loss = self.train_step()
                self.elapsed = time.perf_counter() - start
                if self.step % cfg.log_every == 0:
                    self._log({"step": self.step, "loss": loss, "time": round(self.elapsed, 3)})
                for cb in self.callbacks:
                    cb.on_step_end(self, loss)
                if self.step % cfg.eval_every == 0 or self.step == total_steps:
                    self._evaluate_and_log()
                    if cfg.stop_at_criterion and self.last_evaluation["performance"] >= self.criterion:
                        stopped = "criterion"
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", perf=f"{self.last_evaluation.get('performance', float('nan')):.3f}")
                if self.step % cfg.checkpoint_every == 0 and stopped != "criterion":
                    self.save_checkpoint()
        finally:
            if bar is not None:
                bar.close()
        self.elapsed = time.perf_counter() - start
        if self._last_checkpoint_step != self.step:  # the periodic one may have just been written
            self.save_checkpoint()
        result = TrainingResult(
            steps=self.step,
            loss=self.last_loss if math.isfinite(self.last_loss) else float(self.last_evaluation.get("loss", float("nan"))),
            performance=float(self.last_evaluation.get("performance", float("nan"))),
            evaluation=dict(self.last_evaluation),
            stopped=stopped,
            wall_time=self.elapsed,
            history=list(self.history),
        )
        if self.run_dir is not None and self.run_config is not None:
            summary = run_summary(result, self.run_config, self.criterion, cfg.eval_batch_size)
            atomic_write_text(self.run_dir / SUMMARY_NAME, strict_json(summary, indent=2))
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        return result

    def _stop_interrupted(self) -> None:
        reason, self._interrupted_by = self._interrupted_by, None
        if self._last_checkpoint_step != self.step:
            self.save_checkpoint()
        saved = (f"Its checkpoint is saved in {self.run_dir}; resume from it to continue."
                 if self.run_dir is not None else "Without a run_dir, nothing was saved.")
        raise TrainingInterruptedError(f"Training stopped at step {self.step} ({reason}). {saved}",
                                       step=self.step, signal_name=str(reason))

    def _evaluate_and_log(self) -> None:
        self.last_evaluation = self.evaluate()
        self._log({"step": self.step, "eval": self.last_evaluation})
        for cb in self.callbacks:
            cb.on_evaluation(self, self.last_evaluation)

    # ------------------------------------------------------------------ persistence
    def _describe(self, given: Mapping[str, Any] | Literal[False] | None) -> tuple[dict[str, Any] | None, str | None]:
        """The run's description and, when there is none to write, why."""
        if given is False or (given is None and self.run_dir is None):
            return None, None
        if given is not None:
            if not isinstance(given, Mapping):
                raise ConfigError(f"The 'run_config' parameter of Trainer must be a mapping of the sections of a run "
                                  f"configuration, False or None. Got {type(given).__name__} instead.")
            return jsonable(dict(given)), None
        try:
            return describe_run(self.model, self.task, self.config, device=self.device), None
        except ConfigError as exc:
            return None, str(exc)

    def _refuse_existing_checkpoint(self) -> None:
        path = None if self.run_dir is None else self.run_dir / CHECKPOINT_NAME
        if path is None or not path.exists():
            return
        try:
            at = f" (step {load_checkpoint(path).step})"
        except CheckpointError:
            at = ""
        raise ConfigError(f"{self.run_dir} already holds a checkpoint{at}; a fit from step 0 would overwrite it. "
                          f"Continue it with trainer.resume() before fit() (on the command line: rnnscope train "
                          f"--resume {self.run_dir}), or give another run_dir.")

    def _write_config(self, fresh: bool) -> None:
        """``config.yaml`` of the run folder: written at a fresh start, and on resume where it is missing
        (a folder of an earlier version); never rewritten under a run that has a checkpoint."""
        if self.run_dir is None:
            return
        path = self.run_dir / CONFIG_NAME
        if self.run_config is None:
            if self._undescribed is not None and fresh:
                _LOG.info("%s gets no %s: %s. load_run and the command line cannot read it; Trainer.resume can.",
                          self.run_dir, CONFIG_NAME, self._undescribed)
            return
        if fresh or not path.exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, yaml.safe_dump(self.run_config, sort_keys=False))

    def _log(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        if self.run_dir is not None:
            append_metrics(self.run_dir, record)

    def _check_metrics_file(self) -> None:
        path = None if self.run_dir is None else self.run_dir / METRICS_NAME
        if path is not None and path.exists() and not path.is_file():
            raise CheckpointError(f"{path} is not a file; the trainer writes its history there. Move it away.")

    def _start_fresh_metrics(self) -> None:
        path = None if self.run_dir is None else self.run_dir / METRICS_NAME
        if path is not None and path.is_file() and path.stat().st_size > 0:
            path.write_bytes(b"")
            _LOG.info("%s held the history of an earlier start from step 0; it starts afresh.", path)

    def save_checkpoint(self, path: str | Path | None = None) -> Path | None:
        """Write the checkpoint (to ``run_dir`` unless ``path`` is given); returns its path."""
        if path is None:
            if self.run_dir is None:
                return None
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path = self.run_dir / CHECKPOINT_NAME
        meta = {
            **self.checkpoint_metadata,
            **({} if self.run_config is None else {"run_config": self.run_config}),
            "elapsed": self.elapsed,
            "last_loss": self.last_loss if math.isfinite(self.last_loss) else None,
            "last_evaluation": self.last_evaluation,
            "training_config": self.config.to_dict(),
        }
        save_checkpoint(path, self.model, self.optimizer, step=self.step, metadata=meta)
        self._last_checkpoint_step = self.step
        self._last_checkpoint_finite = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        for cb in self.callbacks:
            cb.on_checkpoint(self, Path(path))
        return Path(path)

    def resume(self, path: str | Path | None = None) -> Trainer:
        """Restore weights, optimiser state and step from a checkpoint (default: the run's own).

        Lines of ``metrics.jsonl`` written after that checkpoint are dropped, so the file reads as
        if the run had never been interrupted.
        """
        if path is None:
            if self.run_dir is None:
                raise ConfigError("Trainer.resume needs a checkpoint path or a run_dir.")
            path = self.run_dir / CHECKPOINT_NAME
        ckpt = load_checkpoint(path)
        self._check_metrics_file()
        history_text = read_metrics_text(self.run_dir)
        try:
            self.model.load_state_dict(ckpt.model_state, strict=True)
            if ckpt.optimizer_state is not None:
                self.optimizer.load_state_dict(ckpt.optimizer_state)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"The checkpoint {path} does not fit this model and optimiser (other sizes or "
                                  f"settings): {str(exc).splitlines()[0]}") from None
        self.step = ckpt.step
        self._last_checkpoint_step = ckpt.step
        self._last_checkpoint_finite = all(bool(torch.isfinite(t).all()) for t in ckpt.model_state.values()
                                           if t.is_floating_point())
        self.elapsed = float(ckpt.metadata.get("elapsed", 0.0))
        last = ckpt.metadata.get("last_loss")
        self.last_loss = float("nan") if last is None else float(last)
        self.last_evaluation = {k: float("nan") if v is None else v  # strict JSON stored NaN as null
                                for k, v in (ckpt.metadata.get("last_evaluation") or {}).items()}
        if history_text is not None:
            self.history.extend(read_metrics_until(self.run_dir, self.step, history_text))
        return self

    def _diverged(self, loss: float) -> None:
        self._log({"step": self.step + 1, "diverged": True, "loss": loss if math.isfinite(loss) else str(loss)})
        if self._last_checkpoint_step is not None and self.run_dir is not None and self._last_checkpoint_finite:
            kept = f"The last good checkpoint (step {self._last_checkpoint_step}) is kept in {self.run_dir}."
        elif self._last_checkpoint_step is not None and self.run_dir is not None:
            kept = (f"The last checkpoint (step {self._last_checkpoint_step}, in {self.run_dir}) already holds NaN or "
                    "infinite weights: resuming from it cannot help; start the run again.")
        else:
            kept = "No checkpoint had been written yet."
        raise TrainingDivergedError(divergence_message(self.config, loss, self.step + 1, kept))
