"""The analysis report and the index page in a real browser (headless Chromium, tests/runs/_browser.py).

Each test fails on any script error (uncaught exceptions, console.error, error-level log entries),
on any request that is not a local file or a ``data:`` URI (the pages are offline), and when the
3-D view was not drawn; the screenshots are kept under ``test-artefacts/browser/`` (or
``$RNNSCOPE_ARTEFACTS/browser/``), named at the end of the pytest run. Without Chromium the tests
skip, except under CI (``CI=true``), where ``.ci/run`` installs it and its absence is a failure.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from _browser import Browser, chromium_path
from rnnscope.cli import main

ARTEFACTS = Path(os.environ.get("RNNSCOPE_ARTEFACTS", Path(__file__).resolve().parents[2] / "test-artefacts")) / "browser"
#: The page is ready when plotly.js has drawn the view and the slider has drawn the trajectories.
#: The screenshots this pytest run kept (named in the terminal summary, see conftest.py).
WRITTEN: list[Path] = []
VIEW_READY = "document.getElementById('state-space') !== null && document.getElementById('state-space').dataset.drawn === 'true'"


@pytest.fixture
def browser():
    if chromium_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing under CI: .ci/run must install it (apt-get install -y chromium)")
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); CI installs it and runs this test")
    with Browser(window=(1280, 1000)) as b:
        yield b


def _keep(name: str, png: bytes) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / name
    path.write_bytes(png)
    WRITTEN.append(path)
    return path


def _offline(visit) -> None:
    remote = [u for u in visit.requests if not u.startswith(("file:", "data:", "about:"))]
    assert not remote, f"the page asked the network for {remote}"


def _colour_pixels(png: bytes, hex_colour: str, tolerance: float = 40.0) -> int:
    """How many pixels of a screenshot are within ``tolerance`` (0-255 scale) of a colour."""
    rgb = imread(io.BytesIO(png))[..., :3] * 255.0
    target = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return int((np.abs(rgb - target).max(axis=-1) <= tolerance).sum())


@pytest.mark.parametrize("task", ["flipflop", "context_decision"])
def test_the_report_draws_its_3d_view_without_script_errors(task, tmp_path, browser):
    run = tmp_path / task
    assert main(["train", task, "--steps", "15", "--hidden-size", "16", "--batch-size", "8", "--out", str(run),
                 "--no-progress", "--set", "training.eval_batch_size=16"]) == 0
    assert main(["analyse", str(run), "--trials", "32", "--candidates", "64", "--no-progress"]) == 0
    page = run / "analysis" / "report.html"
    visit = browser.visit(page, ready=VIEW_READY)
    assert visit.errors == []
    _offline(visit)

    # drawn: plotly's WebGL canvas has a size, and the trajectories' colours are on the screen
    size = visit.evaluate("(function(){var c=document.querySelector('#state-space canvas');"
                          "return c ? [c.width, c.height] : null})()")
    assert size is not None and size[0] > 300 and size[1] > 300, size
    assert "WebGL is not supported" not in visit.evaluate("document.body.innerText")
    spec = json.loads(visit.evaluate("document.getElementById('state-space-data').textContent"))
    shot = visit.screenshot("#state-space")
    _keep(f"report_{task}_view.png", shot)
    colours = {trace["line"]["color"] for trace in spec["data"][: len(spec["trajectories"]["traces"])]}
    for colour in colours:
        assert _colour_pixels(shot, colour) > 30, f"no trajectory drawn in {colour}"

    # hovering a fixed point tells its q, unstable directions and leading eigenvalues
    texts = visit.evaluate("[].concat.apply([], document.getElementById('state-space').data"
                           ".filter(function(t){return t.text}).map(function(t){return t.text}))")
    assert texts and all("q = " in t and "unstable directions:" in t and "leading eigenvalues" in t for t in texts)

    # the time slider draws the trajectories up to its time; the play button moves it
    first = visit.evaluate("(function(){var s=document.getElementById('state-space-time');s.value=0;"
                           "s.dispatchEvent(new Event('input'));return s.max})()")
    visit.wait_for("document.getElementById('state-space').data[0].x.length === 1")
    dt = spec["trajectories"]["times"][0]
    assert visit.evaluate("document.getElementById('state-space-label').textContent").startswith(f"t = {dt:g} ms")
    visit.evaluate("document.getElementById('state-space-play').click()")
    visit.wait_for("+document.getElementById('state-space-time').value > 0")
    visit.evaluate("document.getElementById('state-space-play').click()")  # pause
    assert visit.evaluate("document.getElementById('state-space-play').textContent") == "Play"
    assert int(first) == len(spec["trajectories"]["times"]) - 1
    visit.evaluate("window.scrollTo(0, 0)")
    _keep(f"report_{task}_page.png", visit.screenshot())
    assert visit.errors == []


def test_the_index_of_a_sweep_sorts_its_table_without_script_errors(tmp_path, tiny_run, browser):
    from test_index import _sweep

    sweep = _sweep(tmp_path, tiny_run)
    assert main(["index", str(sweep)]) == 0
    visit = browser.visit(sweep / "index.html")
    assert visit.errors == []
    _offline(visit)
    column = "performance"
    first_cell = ("(function(){var t=document.querySelector('table.sortable');"
                  "var i=[].map.call(t.tHead.rows[0].cells,function(c){return c.textContent}).indexOf('%s');"
                  "return t.tBodies[0].rows[0].cells[i].textContent})()" % column)
    click = ("[].filter.call(document.querySelectorAll('table.sortable th'),function(c){"
             "return c.textContent==='%s'})[0].click()" % column)
    assert visit.evaluate(first_cell) == "0.4123"  # the order of results.csv
    visit.evaluate(click)
    assert visit.evaluate(first_cell) == "0.05"  # ascending
    visit.evaluate(click)
    assert visit.evaluate(first_cell) == "0.9877"  # descending
    _keep("index_sweep.png", visit.screenshot())
    assert visit.errors == []
