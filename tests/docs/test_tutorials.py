"""The course as notebooks (docs/tutorials/): stripped of outputs in git, only the public API, and each
runs top to bottom within its budget (BUDGET_S, on 2 CPU cores)."""

from __future__ import annotations

import json
import re

import pytest

from _tutorials import BUDGET_S, NOTEBOOKS

#: The chapters of the course, in order (issue 16).
CHAPTERS = ("rate_networks_and_bptt", "decisions_and_wong_wang", "state_space_and_mante", "dynamical_systems",
            "flip_flop_black_box", "low_rank_and_mean_field", "fitting_networks_to_data")


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_the_course_has_its_seven_chapters_in_order():
    assert [p.stem.split("_", 1)[1] for p in NOTEBOOKS] == list(CHAPTERS)
    assert [p.stem.split("_", 1)[0] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, 8)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_stripped_in_git(notebook):
    for i, cell in enumerate(_cells(notebook)):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{notebook.name}: cell {i} has outputs"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_the_public_api(notebook):
    source = "\n".join("".join(c["source"]) for c in _cells(notebook) if c["cell_type"] == "code")
    private = re.findall(r"rnnscope(?:\.\w+)*\._(?!_version__)\w+|from rnnscope[\w.]* import [^\n]*\b_\w+", source)
    assert not private, f"{notebook.name} uses private names: {private}"
    assert re.search(r"^(import rnnscope|from rnnscope)", source, re.M), f"{notebook.name} does not use rnnscope"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom_within_budget(notebook, executed_tutorials):
    executed_tutorials(notebook)  # a cell that raises fails the test with the cell and its traceback
    seconds = executed_tutorials.seconds[notebook.name]
    assert seconds < BUDGET_S, f"{notebook.name} took {seconds:.0f} s (budget {BUDGET_S:.0f} s)"
    figures = sum("image/png" in o.get("data", {}) for c in _cells(executed_tutorials(notebook))
                  if c["cell_type"] == "code" for o in c["outputs"])
    assert figures >= 2, f"{notebook.name} drew {figures} figures"
