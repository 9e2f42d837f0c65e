"""``rnnscope sweep DIR --report``: a table by grid point and a figure of performance against each
swept key."""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..plotting import plot_score_against
from ..training import atomic_write_text
from ._config import yaml_load
from ._sweep import SPEC_NAME, SweepSpec, read_results

__all__ = ["SweepReport", "sweep_report"]


@dataclass
class SweepReport:
    """A sweep's results by grid point (over seeds), and the figures written.

    Attributes:
        keys: the swept keys.
        rows: per grid point: its values, ``runs``, ``done``, ``failed``, ``pending``, and the mean,
            standard deviation, minimum and maximum of ``performance`` and the mean ``steps`` of the
            done runs.
        figures: one figure of performance against each swept key.
    """

    keys: list[str]
    rows: list[dict[str, Any]]
    figures: list[Path] = field(default_factory=list)

    def table(self) -> str:
        """The rows as aligned text."""
        columns = [*self.keys, "runs", "done", "failed", "pending", "performance", "sd", "min", "max", "steps"]
        cells = [[_text(row.get(c)) for c in columns] for row in self.rows]
        width = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(columns, width))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, width)) for r in cells]
        return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _value(text: str) -> Any:
    """A swept value back from its results.csv cell (numbers as numbers)."""
    parsed = yaml_load(text) if text != "" else None
    return parsed if isinstance(parsed, (int, float, str, bool)) or parsed is None else json.dumps(parsed)


def sweep_report(out: str | Path) -> SweepReport:
    """Summarise the sweep in folder ``out``: ``out/report/table.csv`` (by grid point, over seeds) and
    ``out/report/performance_vs_KEY.png`` for each swept key."""
    out = Path(out)
    results = read_results(out)
    spec = SweepSpec.from_dict(yaml_load((out / SPEC_NAME).read_text(encoding="utf-8")), source=str(out / SPEC_NAME))
    keys = spec.swept
    groups: dict[tuple, list[dict[str, str]]] = {}
    for r in results:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    rows = []
    for point, runs in groups.items():
        done = [r for r in runs if r["status"] == "done"]
        perf = [float(r["performance"]) for r in done if r["performance"] != ""]
        steps = [float(r["steps"]) for r in done if r["steps"] != ""]
        rows.append({**{k: _value(v) for k, v in zip(keys, point)}, "runs": len(runs), "done": len(done),
                     "failed": sum(r["status"] == "failed" for r in runs),
                     "pending": sum(r["status"] == "pending" for r in runs),
                     "performance": statistics.fmean(perf) if perf else None,
                     "sd": statistics.stdev(perf) if len(perf) > 1 else None,
                     "min": min(perf) if perf else None, "max": max(perf) if perf else None,
                     "steps": statistics.fmean(steps) if steps else None})
    folder = out / "report"
    folder.mkdir(exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(folder / "table.csv", buffer.getvalue())
    report = SweepReport(keys, rows)
    done = [r for r in results if r["status"] == "done" and r["performance"] != ""]
    for key in keys:
        fig = plot_score_against([_value(r[key]) for r in done], [float(r["performance"]) for r in done], key=key,
                                 title=f"{len(done)} runs of {out.name}")
        path = folder / f"performance_vs_{key.replace('.', '_')}.png"
        fig.savefig(path, dpi=110)
        report.figures.append(path)
    return report
