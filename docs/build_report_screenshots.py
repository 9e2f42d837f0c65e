"""Screenshots of `rnnscope analyse`'s report and of an index page for docs/report.md, in headless
Chromium (the browser tests' helper, tests/runs/_browser.py).

    rnnscope train flipflop --hidden-size 64 --lr 0.01 --criterion 0.99 --out runs/ff && rnnscope analyse runs/ff
    rnnscope train context_decision --hidden-size 64 --noise-std 0.05 --lr 0.01 --steps 600 --criterion 0.98 \\
        --out runs/mante && rnnscope analyse runs/mante
    rnnscope reproduce hopfield-retrieval --quick --out reproductions/hopfield-retrieval
    python docs/build_report_screenshots.py runs/ff runs/mante reproductions/hopfield-retrieval

writes docs/figures/report/{flipflop_view,flipflop_page,context_decision_view,index}.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "runs"))

from _browser import Browser  # noqa: E402

OUT = ROOT / "docs" / "figures" / "report"
READY = "document.getElementById('state-space') !== null && document.getElementById('state-space').dataset.drawn === 'true'"
#: The camera of the screenshots: a little above the plane of PC1 and PC2.
CAMERA = "Plotly.relayout('state-space', {'scene.camera.eye': {x: 1.5, y: 1.3, z: 0.7}}).then(function () { return true; })"


def main(flipflop: str, context: str, index_folder: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with Browser(window=(1280, 900)) as browser:
        for name, run in (("flipflop", flipflop), ("context_decision", context)):
            visit = browser.visit(Path(run) / "analysis" / "report.html", ready=READY)
            visit.evaluate(CAMERA, await_promise=True)
            browser.pump(0.5)
            (OUT / f"{name}_view.png").write_bytes(visit.screenshot("#state-space"))
            if name == "flipflop":
                visit.evaluate("window.scrollTo(0, 0)")
                (OUT / f"{name}_page.png").write_bytes(visit.screenshot())
            assert not visit.errors, visit.errors
        from rnnscope.runs import write_index

        visit = browser.visit(write_index(index_folder))
        (OUT / "index.png").write_bytes(visit.screenshot())
        assert not visit.errors, visit.errors
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(*sys.argv[1:4])
