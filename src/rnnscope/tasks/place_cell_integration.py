"""Path integration onto a place-cell code, in the form of Sorscher et al. (2019, 2023).

A simulated rat runs in a square box. The network is told the place-cell code of where the run starts
(one encoding step), then receives only the rat's velocity and must give, at every step, the
activity of a population of place cells with difference-of-softmax tuning. Networks trained so (ReLU
units, no biases, weight decay on the recurrent weights, a cross-entropy loss) develop grid-like
units; :func:`rnnscope.analysis.grid_scores` measures them.

This sits beside :mod:`~rnnscope.tasks.path_integration` (Cueva & Wei 2018: an x, y readout, a random
walk reflected off the walls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_float, check_int, check_seed
from ..errors import ShapeError
from ._base import AbstractTask, TrialBatch

__all__ = ["PlaceCellIntegration"]

#: Number of most active place cells whose centres are averaged by ``decode_position`` (Sorscher et al.).
_DECODE_TOP_K = 3


@dataclass(frozen=True)
class PlaceCellIntegration(AbstractTask):
    """Path integration with place-cell targets, Sorscher et al.'s task.

    The trajectory (Sorscher et al.'s rat model): the rat starts at a uniformly random position in the
    box ``[0, box_size]^2`` with a uniformly random heading. At every step its speed is drawn from a
    Rayleigh distribution of scale ``speed_scale`` and its heading turns by ``dt`` times a Gaussian
    rotational velocity of standard deviation ``rotation_std``. Within ``border_region`` of a wall,
    heading towards it, the rat turns away until it runs along the wall and slows to
    ``wall_slowdown`` of its speed. The rare step that would still cross a wall stops at it. The
    velocity input is the actual displacement of each step divided by ``dt``, so integrating it
    reproduces the positions exactly.

    The place cells (difference-of-softmax tuning): centres uniform in the box, drawn by a generator
    seeded with ``place_cell_seed`` (a fixed function of the parameters, :attr:`place_cell_centres`).
    With ``d`` the distance from a centre, the code of a position is
    ``softmax(-d^2 / (2 w^2)) - softmax(-d^2 / (2 surround_scale w^2))`` over the cells, shifted by its
    minimum to be >= 0 and normalised to sum 1 (a probability vector, the target of the
    cross-entropy loss). ``surround_scale`` multiplies the *variance* of the surround, as in the
    authors' code (``surround_scale = 2``: a surround sqrt(2) times as wide as the centre).

    The initial state: Sorscher et al. set the network's initial state to a learnt linear encoding of
    the place-cell code at the start. Here the trial's first step is an encoding step whose inputs are
    that code (the inputs ``place0``, ``place1``, ...; zero velocity); a discrete-time network started
    from zero then has the state ``phi(W_in code)`` after it, a learnt encoding, and the velocity steps
    follow. The encoding step is not scored.

    Args:
        dt: time step in ms (Sorscher et al.: 20 ms).
        sequence_length: number of velocity steps per trial (20).
        box_size: side of the square box in m (2.2).
        n_place_cells: number of place cells (512).
        place_cell_width: width ``w`` (standard deviation) of the place fields' centre in m (0.12).
        surround_scale: ratio of the surround's variance to the centre's (2).
        rotation_std: standard deviation of the rotational velocity in rad/s (11.52).
        speed_scale: scale of the Rayleigh distribution of speeds in m/s (0.13 * 2 pi).
        border_region: distance from a wall in m within which the rat turns away (0.03).
        wall_slowdown: factor on the speed within that region when heading towards the wall (0.25).
        place_cell_seed: seed of the place-cell centres.

    Inputs: ``velocity_x``, ``velocity_y`` (m/s, 0 on the encoding step), then ``place0``, ... (the
    place-cell code of the start times ``n_place_cells``, so of mean 1, on the encoding step; 0
    afterwards).

    Outputs: ``place0``, ``place1``, ... with the place-cell code as target, loss ``"cross_entropy"``
    (the softmax of the outputs against the code), scored on every velocity step.

    Conditions: ``position`` (batch, time, 2), the position in m at the end of each step (the start
    on the encoding step); ``start`` (batch, 2) in m; ``velocity`` (batch, time, 2) in m/s.
    """

    name: ClassVar[str] = "place_cell_integration"
    summary: ClassVar[str] = "path integration onto difference-of-softmax place cells (Sorscher et al.)"
    default_loss: ClassVar[str] = "cross_entropy"
    # performance = 1 - excess decoding error / box_size; 0.99: 2.2 cm above the decoder's floor in the 2.2 m box
    default_criterion: ClassVar[float] = 0.99
    # No recommended settings for `rnnscope train` yet: the network and training that give grid-like
    # units are in rnnscope.experiments.grid_cells (train_grid_network, QUICK and FULL).

    dt: float = 20.0
    sequence_length: int = 20
    box_size: float = 2.2
    n_place_cells: int = 512
    place_cell_width: float = 0.12
    surround_scale: float = 2.0
    rotation_std: float = 11.52
    speed_scale: float = 0.13 * 2 * math.pi
    border_region: float = 0.03
    wall_slowdown: float = 0.25
    place_cell_seed: int = 0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        for name in ("dt", "box_size", "place_cell_width", "speed_scale"):
            set_(name, check_float(owner, name, getattr(self, name), low=0, low_inclusive=False))
        set_("surround_scale", check_float(owner, "surround_scale", self.surround_scale, low=1, low_inclusive=False))
        set_("rotation_std", check_float(owner, "rotation_std", self.rotation_std, low=0))
        set_("border_region", check_float(owner, "border_region", self.border_region, low=0,
                                          high=self.box_size / 2))
        set_("wall_slowdown", check_float(owner, "wall_slowdown", self.wall_slowdown, low=0, high=1))
        set_("sequence_length", check_int(owner, "sequence_length", self.sequence_length, low=1))
        set_("n_place_cells", check_int(owner, "n_place_cells", self.n_place_cells, low=_DECODE_TOP_K))
        set_("place_cell_seed", check_seed(owner, "place_cell_seed", self.place_cell_seed))

    @property
    def place_cell_names(self) -> tuple[str, ...]:
        return tuple(f"place{i}" for i in range(self.n_place_cells))

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("velocity_x", "velocity_y", *self.place_cell_names)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.place_cell_names

    @property
    def place_cell_centres(self) -> torch.Tensor:
        """Centres of the place fields in m, uniform in the box, the same for every batch.

        Shape: (n_place_cells, 2), float64.
        """
        g = torch.Generator().manual_seed(self.place_cell_seed)
        return self.box_size * torch.rand(self.n_place_cells, 2, generator=g, dtype=torch.float64)

    def place_cell_activity(self, position: torch.Tensor) -> torch.Tensor:
        """The difference-of-softmax place-cell code of positions in m (>= 0, sums to 1 over cells).

        Shape: position (..., 2) -> (..., n_place_cells), float64.
        """
        if not isinstance(position, torch.Tensor) or position.shape[-1:] != (2,):
            shape = tuple(position.shape) if isinstance(position, torch.Tensor) else type(position).__name__
            raise ShapeError(f"'position' must be a torch.Tensor with a last axis of size 2 (x, y). Got {shape}.")
        d2 = ((position.double()[..., None, :] - self.place_cell_centres.to(position.device)) ** 2).sum(-1)
        var = self.place_cell_width**2
        code = torch.softmax(-d2 / (2 * var), dim=-1) - torch.softmax(-d2 / (2 * self.surround_scale * var), dim=-1)
        code = code - code.amin(dim=-1, keepdim=True)
        return code / code.sum(dim=-1, keepdim=True)

    def decode_position(self, outputs: torch.Tensor) -> torch.Tensor:
        """Positions in m read out from place-cell outputs: the mean centre of the 3 most active cells.

        Shape: outputs (..., n_place_cells) -> (..., 2), float64.
        """
        if not isinstance(outputs, torch.Tensor) or outputs.shape[-1:] != (self.n_place_cells,):
            shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
            raise ShapeError(f"'outputs' must be a torch.Tensor whose last axis has the {self.n_place_cells} "
                             f"place cells. Got {shape} instead.")
        top = outputs.detach().topk(_DECODE_TOP_K, dim=-1).indices
        return self.place_cell_centres.to(outputs.device)[top].mean(-2)

    def trajectories(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Positions in m of ``batch_size`` runs: the start, then one per step.

        Shape: returns (batch_size, sequence_length + 1, 2), float64.
        """
        B, g, L, T = batch_size, generator, self.box_size, self.sequence_length
        dt_s = self.dt / 1000.0
        pos = L * torch.rand(B, 2, generator=g, dtype=torch.float64)
        heading = 2 * math.pi * torch.rand(B, generator=g, dtype=torch.float64)
        speed = self.speed_scale * torch.sqrt(-2.0 * torch.log(1.0 - torch.rand(B, T, generator=g, dtype=torch.float64)))
        rotation = self.rotation_std * torch.randn(B, T, generator=g, dtype=torch.float64)
        # outward normal of the walls x = 0, y = 0, x = L, y = L
        normals = torch.tensor([math.pi, -math.pi / 2, 0.0, math.pi / 2], dtype=torch.float64)
        out = torch.empty(B, T + 1, 2, dtype=torch.float64)
        out[:, 0] = pos
        for t in range(T):
            dist = torch.stack([pos[:, 0], pos[:, 1], L - pos[:, 0], L - pos[:, 1]], dim=1)
            d_wall, nearest = dist.min(dim=1)
            towards = torch.remainder(heading - normals[nearest] + math.pi, 2 * math.pi) - math.pi
            near = (d_wall < self.border_region) & (towards.abs() < math.pi / 2)
            turn = torch.where(near, torch.sign(towards) * (math.pi / 2 - towards.abs()), torch.zeros_like(heading))
            v = torch.where(near, self.wall_slowdown * speed[:, t], speed[:, t])
            heading = heading + turn + dt_s * rotation[:, t]
            step = v[:, None] * dt_s * torch.stack([torch.cos(heading), torch.sin(heading)], dim=1)
            pos = (pos + step).clamp(0.0, L)
            out[:, t + 1] = pos
        return out

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        B, T, P = batch_size, self.sequence_length + 1, self.n_place_cells
        position = self.trajectories(B, generator)
        velocity = torch.zeros(B, T, 2, dtype=torch.float64)
        velocity[:, 1:] = torch.diff(position, dim=1) / (self.dt / 1000.0)
        code = self.place_cell_activity(position)
        inputs = torch.zeros(B, T, 2 + P)
        inputs[..., 0:2] = velocity.float()
        inputs[:, 0, 2:] = (self.n_place_cells * code[:, 0]).float()  # mean 1 over the cells
        mask = torch.ones(B, T, P)
        mask[:, 0] = 0.0
        periods = {"encode": torch.tensor([[0, 1]]).expand(B, 2).clone(),
                   "run": torch.tensor([[1, T]]).expand(B, 2).clone()}
        return TrialBatch(
            inputs=inputs,
            targets=code.float(),
            mask=mask,
            conditions={"position": position, "start": position[:, 0].clone(), "velocity": velocity},
            periods=periods,
            lengths=torch.full((B,), T, dtype=torch.long),
            dt=self.dt,
        )

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """Decoding error of the outputs (top-3 place cells, Sorscher et al.).

        Returns ``decoding_error_cm`` (mean distance in cm between the decoded and the true position
        over the scored steps), ``final_error_cm`` (the same on the last step), ``target_error_cm``
        (the error of decoding the targets themselves: the decoder's floor) and
        ``performance = clip(1 - (decoding_error - target_error) / box_size, 0, 1)``: what the
        network loses beyond the decoder's floor.
        """
        outputs = self._check_outputs(outputs, batch)
        true = batch.conditions["position"].to(outputs.device)
        scored = batch.mask[..., 0] > 0
        error = (self.decode_position(outputs) - true).norm(dim=-1)
        floor = (self.decode_position(batch.targets.to(outputs.device)) - true).norm(dim=-1)
        mean_error, floor_error = float(error[scored].mean()), float(floor[scored].mean())
        return {
            "performance": min(max(1.0 - (mean_error - floor_error) / self.box_size, 0.0), 1.0),
            "decoding_error_cm": 100 * mean_error,
            "final_error_cm": 100 * float(error[:, -1].mean()),
            "target_error_cm": 100 * floor_error,
        }
