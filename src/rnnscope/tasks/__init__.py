"""Trial generators for the canonical experiments of systems neuroscience.

>>> from rnnscope import tasks
>>> tasks.available()
['context_decision', 'flipflop', 'measure_set_go', 'path_integration', 'perceptual_decision', 'place_cell_integration']
>>> batch = tasks.make("flipflop").sample(32, seed=0)
"""

from ._base import AbstractTask, Timeline, TrialBatch
from ._checker import check_task
from ._neurogym import from_neurogym
from ._registry import available, load_tasks_module, make, register, task_class
from .formal_language import FormalLanguage, all_strings

__all__ = [
    "AbstractTask",
    "TrialBatch",
    "Timeline",
    "available",
    "check_task",
    "from_neurogym",
    "make",
    "load_tasks_module",
    "register",
    "task_class",
    "FormalLanguage",
    "all_strings",
]
