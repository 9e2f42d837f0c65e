"""Paper reproductions: small recipes that compose models, simulation, analyses and theory.

``rnnscope reproduce`` lists them; ``rnnscope reproduce NAME [--quick]`` runs one, writing its
figures and a ``result.json`` of measured numbers against their references.
"""

from ._registry import Check, Reproduction, available, register, run, summary_of

__all__ = ["Check", "Reproduction", "available", "register", "run", "summary_of"]
