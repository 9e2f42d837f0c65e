"""Integrators and the simulation loop shared by every model."""

from ._simulate import Trajectory, add_noise, euler_step, simulate

__all__ = ["Trajectory", "simulate", "euler_step", "add_noise"]
