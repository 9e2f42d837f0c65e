"""``index.html``: one self-contained page of the results in a folder.

:func:`write_index` knows no command: it reads whatever result files a folder holds, so that the
folders of ``rnnscope reproduce``, ``fit``, ``compare``, ``train`` and any later command (a sweep's
``results.csv`` and ``runs/*``) get the same page:

- each JSON file at the top (``result.json``, ``summary.json``, ``compare.json``, ...) as tables;
- each CSV file as a table whose columns sort on a click;
- the sub-folders that hold results (up to two levels down, e.g. a fit's ``rank_K/`` or a sweep's
  ``runs/NAME/``) as one table: a link to each one's page and the numbers of its summary;
- the figures (PNG, JPEG, SVG) at the top and in ``figures/``, embedded;
- ``config.yaml`` and the other files, listed with their sizes.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..training import atomic_write_text
from ._html import Markup, grid_table, image_html, page_html, records_table, value_html, written_by_rnnscope

__all__ = ["write_index", "INDEX_NAME"]

INDEX_NAME = "index.html"
#: Files that say what a folder is, in the order their sections appear.
_KINDS = (("result.json", "a reproduction (rnnscope reproduce)"), ("compare.json", "a comparison (rnnscope compare)"),
          ("results.csv", "a sweep"), ("checkpoint.safetensors", "a run or a fit (rnnscope train, rnnscope fit)"))
#: The files whose presence makes a sub-folder a result folder, and the pages a row links to.
_RESULT_FILES = ("summary.json", "result.json", "compare.json", "results.csv", "checkpoint.safetensors", INDEX_NAME,
                 "analysis/report.html")
_PAGES = (INDEX_NAME, "analysis/report.html", "report.html")
_IMAGES = (".png", ".jpg", ".jpeg", ".svg")
#: Rows of a CSV file shown (the file keeps them all).
_MAX_ROWS = 1000
#: Columns of the table of sub-folders.
_MAX_COLUMNS = 12

_SORT_SCRIPT = """<script>
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var down = th.getAttribute("aria-sort") === "ascending";
        table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        function key(row) {
          var text = row.cells[column].textContent.replace("\\u00d710", "e").replace("\\u2212", "-");
          var number = parseFloat(text);
          return isNaN(number) ? text.toLowerCase() : number;
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b), order;
          if (typeof x === typeof y) { order = x < y ? -1 : (x > y ? 1 : 0); }
          else { order = typeof x === "number" ? -1 : 1; }
          return down ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
});
</script>"""


def write_index(folder: str | Path, *, title: str | None = None) -> Path:
    """Write ``FOLDER/index.html``, one self-contained page of the results in a folder; returns its path.

    An ``index.html`` that rnnscope did not write is never replaced (``ConfigError``).

    Args:
        folder: a folder of results (a run, fit, reproduction, comparison or sweep folder).
        title: the page's title (default: the folder's name and what kind of folder it is).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"The 'folder' parameter of write_index must be an existing folder. Got {str(folder)!r}.")
    target = folder / INDEX_NAME
    if target.exists() and not written_by_rnnscope(target):
        raise ConfigError(f"{target} exists and was not written by rnnscope; it is left as it is "
                          "(move it away to write the index).")
    kind = next((what for name, what in _KINDS if (folder / name).exists()), "a folder of results")
    title = title or f"{folder.resolve().name}: {kind}"
    body = [f"<h1>{html.escape(title)}</h1>", f"<p class='muted'>{html.escape(str(folder.resolve()))}</p>"]
    files = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name != INDEX_NAME)
    shown: set[Path] = set()
    order = {name: i for i, (name, _) in enumerate(_KINDS)}
    for path in sorted((p for p in files if p.suffix == ".json"), key=lambda p: (order.get(p.name, 99), p.name)):
        body += [f"<h2>{html.escape(path.name)}</h2>", _json_section(path)]
        shown.add(path)
    sortable = False
    for path in (p for p in files if p.suffix == ".csv"):
        body += [f"<h2>{html.escape(path.name)}</h2>", _csv_section(path)]
        sortable = True
        shown.add(path)
    folders = _result_folders(folder)
    if folders:
        body += ["<h2>Result folders</h2>", _folders_section(folder, folders)]
        sortable = True
    images = [p for p in files if p.suffix.lower() in _IMAGES]
    if (folder / "figures").is_dir():
        images += sorted(p for p in (folder / "figures").iterdir() if p.suffix.lower() in _IMAGES)
    if images:
        body.append("<h2>Figures</h2>")
        body += [image_html(p.read_bytes(), name=p.name, caption=str(p.relative_to(folder))) for p in images]
        shown.update(images)
    for path in (p for p in files if p.suffix in (".yaml", ".yml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        body.append(f"<details><summary>{html.escape(path.name)}</summary><pre>{html.escape(text)}</pre></details>")
        shown.add(path)
    others = [p for p in files if p not in shown and p.is_file()]
    if others:
        body += ["<h2>Other files</h2>",
                 grid_table([[p.name, _size(p.stat().st_size)] for p in others], columns=["file", "size"])]
    head = [_SORT_SCRIPT] if sortable else []
    atomic_write_text(target, page_html(title, body, head=head))
    return target


def _json_section(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"<p class='note'>{html.escape(path.name)} could not be read: {html.escape(str(exc))}</p>"
    return value_html(data)


def _number(text: str) -> Any:
    """A CSV cell as a number where it reads as one (so that it is rounded and sorts as a number)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _link(folder: Path, text: str) -> Any:
    """A CSV cell that names a folder below ``folder`` (a sweep's ``runs/NAME``) as a link to its page."""
    if not text or text.startswith(("/", ".")) or ".." in text:
        return _number(text)
    sub = folder / text
    if not sub.is_dir():
        return _number(text)
    page = next((sub / p for p in _PAGES if (sub / p).is_file()), sub)
    return Markup(f"<a href='{html.escape(page.relative_to(folder).as_posix())}'>{html.escape(text)}</a>")


def _csv_section(path: Path) -> str:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"<p class='note'>{html.escape(path.name)} could not be read: {html.escape(str(exc))}</p>"
    if not rows:
        return "<p>(empty)</p>"
    header, data = rows[0], rows[1:]
    more = (f"<p class='muted'>The first {_MAX_ROWS} of {len(data)} rows; the file holds them all.</p>"
            if len(data) > _MAX_ROWS else "")
    rows = [[_link(path.parent, c) for c in row] for row in data[:_MAX_ROWS]]
    return grid_table(rows, columns=header, sortable=True) + more


def _result_folders(folder: Path) -> list[Path]:
    """Sub-folders (up to two levels down, none hidden, not ``figures/``) that hold results."""
    found = []
    for depth in ("*", "*/*"):
        for sub in sorted(folder.glob(depth)):
            if not sub.is_dir() or any(part.startswith(".") or part == "figures" for part in sub.relative_to(folder).parts):
                continue
            if sub.parent != folder and sub.parent in found:
                continue  # inside a result folder: that folder's own page lists it
            if any((sub / name).exists() for name in _RESULT_FILES):
                found.append(sub)
    return found


def _summary(sub: Path) -> dict[str, Any]:
    """The numbers and short texts of a result folder's summary, one level deep."""
    for name in ("summary.json", "result.json", "compare.json"):
        path = sub / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return {}
            if isinstance(data, dict):
                return {k: v for k, v in data.items()
                        if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 40) or v is None}
    return {}


def _folders_section(folder: Path, folders: list[Path]) -> str:
    records = []
    for sub in folders:
        name = html.escape(str(sub.relative_to(folder)))
        page = next((sub / p for p in _PAGES if (sub / p).is_file()), None)
        target = (page or sub).relative_to(folder).as_posix()
        records.append({"folder": Markup(f"<a href='{html.escape(target)}'>{name}</a>"), **_summary(sub)})
    columns: list[str] = []
    for r in records:
        columns += [k for k in r if k not in columns]
    return records_table([{k: r.get(k) for k in columns[:_MAX_COLUMNS]} for r in records], sortable=True)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
