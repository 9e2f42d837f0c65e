"""Two-dimensional path integration (Cueva & Wei 2018; place-cell targets as in Sorscher et al.).

An agent walks at random in a square box. The network is told where the walk starts during a short
cue period, then receives only the agent's velocity and must report its position at every step,
either directly (``output="position"``) or as the activity of a population of place cells
(``output="place_cells"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_choice, check_float, check_int
from ..errors import ShapeError
from ._base import AbstractTask, Timeline, TrialBatch, check_lasts_a_step

__all__ = ["PathIntegration"]

#: Seed of the generator that places the place-cell centres (the same for every batch and task).
_PLACE_CELL_SEED = 0
#: Number of most active place cells whose centres are averaged by ``decode_position``.
_DECODE_TOP_K = 3


@dataclass(frozen=True)
class PathIntegration(AbstractTask):
    """Path integration of a random walk in a square box.

    The walk: the agent starts at a uniformly random position in ``[0, box_size]^2`` with a uniformly
    random heading and stays there during the cue period. Then, at every step, its speed is drawn
    from a Rayleigh distribution of mean ``mean_speed`` and its heading takes a Gaussian step of
    standard deviation ``turn_std * sqrt(dt / 1 s)`` (a random walk of the heading). A step that
    would leave the box is reflected off the wall, and the heading is mirrored with it. The velocity
    given to the network is the actual displacement of the step divided by ``dt``, so integrating it
    reproduces the positions exactly, reflections included.

    Args:
        dt: time step in ms.
        duration: duration of the walk in ms, after the cue period.
        box_size: side of the square box in m.
        mean_speed: mean running speed in m/s (rodent-like: 0.2).
        turn_std: heading diffusion in rad/sqrt(s); the heading's standard deviation grows as
            ``turn_std * sqrt(t / 1 s)``. The default, 2 rad/sqrt(s), is close to the rotation noise
            of Sorscher et al.'s rat trajectories (about 1.6 rad/sqrt(s)).
        cue_duration: duration in ms of the initial cue period, during which the start position is
            shown and the agent does not move.
        output: ``"position"`` (two outputs, ``x`` and ``y``) or ``"place_cells"``.
        n_place_cells: number of place cells (for ``output="place_cells"``).
        place_cell_width: width (standard deviation) of the place fields in m.

    Inputs: ``velocity_x``, ``velocity_y`` (velocity / ``mean_speed``, so O(1); 0 during the cue),
    ``cue_x``, ``cue_y`` (start position / ``box_size`` - 0.5, only during the cue period).

    Outputs: for ``output="position"``, ``x`` and ``y`` = position / ``box_size`` - 0.5. For
    ``output="place_cells"``, ``place0``, ``place1``, ... with the target of Sorscher et al.: a
    softmax over cells of ``-|position - centre|^2 / (2 width^2)``. The centres are drawn uniformly
    in the box by a generator with a fixed seed, so they are a fixed function of the task's
    parameters (see :attr:`place_cell_centres`). Both outputs use the ``"mse"`` loss.

    The mask is 0 during the cue period and 1 after it, on every output.

    Conditions: ``position`` (batch, time, 2), the position at the end of each step in m;
    ``start`` (batch, 2) in m; ``velocity`` (batch, time, 2) in m/s.
    """

    name: ClassVar[str] = "path_integration"
    summary: ClassVar[str] = "2-D path integration: report position in a box from velocity inputs"
    # stop with a margin over the target (mean error < 10% of the box on fresh trials)
    default_criterion: ClassVar[float] = 0.92
    recommended: ClassVar[dict] = {"training": {"learning_rate": 1e-2, "steps": 3000}}

    dt: float = 20.0
    duration: float = 2000.0
    box_size: float = 1.0
    mean_speed: float = 0.2
    turn_std: float = 2.0
    cue_duration: float = 100.0
    output: str = "position"
    n_place_cells: int = 64
    place_cell_width: float = 0.12

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "dt", check_float(owner, "dt", self.dt, low=0, low_inclusive=False))
        for name in ("duration", "cue_duration"):
            object.__setattr__(self, name, check_float(owner, name, getattr(self, name), low=0, low_inclusive=False))
            check_lasts_a_step(self, name)
        for name in ("box_size", "mean_speed", "place_cell_width"):
            object.__setattr__(self, name, check_float(owner, name, getattr(self, name), low=0, low_inclusive=False))
        object.__setattr__(self, "turn_std", check_float(owner, "turn_std", self.turn_std, low=0))
        object.__setattr__(self, "output", check_choice(owner, "output", self.output, ("position", "place_cells")))
        object.__setattr__(
            self, "n_place_cells", check_int(owner, "n_place_cells", self.n_place_cells, low=_DECODE_TOP_K)
        )

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("velocity_x", "velocity_y", "cue_x", "cue_y")

    @property
    def output_names(self) -> tuple[str, ...]:
        if self.output == "position":
            return ("x", "y")
        return tuple(f"place{i}" for i in range(self.n_place_cells))

    @property
    def place_cell_centres(self) -> torch.Tensor:
        """Centres of the place fields in m, uniform in the box, the same for every batch.

        Shape: (n_place_cells, 2), float64.
        """
        g = torch.Generator().manual_seed(_PLACE_CELL_SEED)
        return self.box_size * torch.rand(self.n_place_cells, 2, generator=g, dtype=torch.float64)

    def place_cell_activity(self, position: torch.Tensor) -> torch.Tensor:
        """The place-cell target for positions in m: softmax of ``-|position - c|^2 / (2 width^2)``.

        Shape: position (..., 2) -> (..., n_place_cells), float64.
        """
        if position.shape[-1:] != (2,):
            raise ShapeError(f"'position' must have a last axis of size 2 (x, y). Got shape {tuple(position.shape)}.")
        d2 = ((position.double()[..., None, :] - self.place_cell_centres) ** 2).sum(-1)
        return torch.softmax(-d2 / (2 * self.place_cell_width**2), dim=-1)

    def decode_position(self, outputs: torch.Tensor) -> torch.Tensor:
        """Positions in m read out from outputs of this task.

        For ``output="position"``: ``(outputs + 0.5) * box_size``. For ``output="place_cells"``: the
        mean of the centres of the 3 most active cells (Sorscher et al.). Decoding the exact targets
        this way is off by a few cm (about 6 cm on average with the default 64 cells in a 1 m box):
        the decoder's floor, reported as ``decoding_error`` by :meth:`evaluate`.

        Shape: outputs (..., output_size) -> (..., 2), float64.
        """
        if not isinstance(outputs, torch.Tensor) or outputs.shape[-1:] != (self.output_size,):
            shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
            raise ShapeError(
                f"'outputs' must be a torch.Tensor whose last axis has the task's output_size "
                f"{self.output_size}. Got {shape} instead."
            )
        outputs = outputs.detach().double()
        if self.output == "position":
            return (outputs + 0.5) * self.box_size
        top = outputs.topk(_DECODE_TOP_K, dim=-1).indices
        return self.place_cell_centres.to(outputs.device)[top].mean(-2)

    def _walk(self, start: torch.Tensor, n_steps: int, generator: torch.Generator) -> torch.Tensor:
        """Positions after each of ``n_steps`` steps of the reflected random walk, (batch, n_steps, 2)."""
        B, g, L = start.shape[0], generator, self.box_size
        dt_s = self.dt / 1000.0
        heading = 2 * math.pi * torch.rand(B, generator=g, dtype=torch.float64)
        # Rayleigh speeds of the given mean: scale * sqrt(-2 log U), U in (0, 1].
        scale = self.mean_speed / math.sqrt(math.pi / 2)
        u = 1.0 - torch.rand(B, n_steps, generator=g, dtype=torch.float64)
        speed = scale * torch.sqrt(-2.0 * torch.log(u))
        turns = self.turn_std * math.sqrt(dt_s) * torch.randn(B, n_steps, generator=g, dtype=torch.float64)
        positions = torch.empty(B, n_steps, 2, dtype=torch.float64)
        pos = start.clone()
        for t in range(n_steps):
            heading = heading + turns[:, t]
            direction = torch.stack([torch.cos(heading), torch.sin(heading)], dim=1)
            new = pos + speed[:, t, None] * dt_s * direction
            # Fold into [0, L] (reflection off the walls); an odd number of crossings mirrors the heading.
            crossings = torch.floor(new / L)
            folded = torch.remainder(new, 2 * L)
            new = torch.where(folded > L, 2 * L - folded, folded)
            flip = torch.where(torch.remainder(crossings, 2) == 1, -1.0, 1.0).double()
            direction = direction * flip
            heading = torch.atan2(direction[:, 1], direction[:, 0])
            positions[:, t] = new
            pos = new
        return positions

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        g, B = generator, batch_size
        full = lambda v: torch.full((B,), v, dtype=torch.float64)  # noqa: E731
        tl = Timeline({"cue": full(self.cue_duration), "walk": full(self.duration)}, self.dt)
        n_cue = int(tl.end("cue")[0])
        T = tl.n_steps
        start = self.box_size * torch.rand(B, 2, generator=g, dtype=torch.float64)
        walk = self._walk(start, T - n_cue, g)
        position = torch.cat([start[:, None, :].expand(B, n_cue, 2), walk], dim=1)
        previous = torch.cat([start[:, None, :], position[:, :-1]], dim=1)
        velocity = (position - previous) / (self.dt / 1000.0)

        cue = tl.mask("cue")
        inputs = torch.zeros(B, T, 4)
        inputs[..., 0:2] = (velocity / self.mean_speed).float()
        inputs[..., 2:4] = cue[..., None].float() * (start / self.box_size - 0.5).float()[:, None, :]
        if self.output == "position":
            targets = (position / self.box_size - 0.5).float()
        else:
            targets = self.place_cell_activity(position).float()
        mask = tl.mask("walk")[..., None].float().expand(B, T, self.output_size).clone()
        return TrialBatch(
            inputs=inputs,
            targets=targets,
            mask=mask,
            conditions={"position": position, "start": start, "velocity": velocity},
            periods=tl.periods,
            lengths=tl.lengths,
            dt=self.dt,
        )

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """Position error of the (decoded) outputs, in units of ``box_size``.

        Returns ``position_error`` (mean Euclidean distance between the decoded and the true
        position over the scored steps), ``final_error`` (the same at each trial's last step,
        averaged over trials), ``decoding_error`` (the error of decoding the targets themselves:
        the floor of the top-3 place-cell decoder, 0 for ``output="position"``) and
        ``performance = clip(1 - (position_error - decoding_error), 0, 1)``. So the usual goal, a
        position error below 10% of the box beyond what the readout itself loses, is
        ``performance >= 0.9`` (the default criterion).
        """
        outputs = self._check_outputs(outputs, batch)
        true = batch.conditions["position"].to(outputs.device)
        scored = batch.mask[..., 0] > 0
        error = (self.decode_position(outputs) - true).norm(dim=-1) / self.box_size
        floor = (self.decode_position(batch.targets) - true).norm(dim=-1) / self.box_size
        position_error = float(error[scored].mean())
        decoding_error = float(floor[scored].mean())
        last = batch.lengths.to(outputs.device) - 1
        final_error = float(error[torch.arange(batch.batch_size, device=outputs.device), last].mean())
        return {
            "performance": min(max(1.0 - (position_error - decoding_error), 0.0), 1.0),
            "position_error": position_error,
            "final_error": final_error,
            "decoding_error": decoding_error,
        }
