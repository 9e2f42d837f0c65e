"""The pieces of rnnscope's HTML pages (the analysis report, the index of a results folder).

Every page is one self-contained file: styles and scripts inline, figures as ``data:`` URIs, nothing
loaded from the network. Numbers are written for people (4 significant digits) and nested data as
tables; the JSON files next to a page keep the full precision.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._version import __version__

__all__ = ["GENERATOR", "Markup", "human", "value_html", "mapping_table", "records_table", "grid_table", "image_html",
           "page_html", "plotly_script", "json_script", "written_by_rnnscope"]

#: The ``<meta name="generator">`` of every page rnnscope writes: an existing page that lacks it is
#: someone else's, and is never overwritten.
GENERATOR = "rnnscope"
#: Significant digits of the numbers on a page.
DIGITS = 4
#: Lists of numbers longer than this are shortened (the JSON files keep them whole).
MAX_LIST = 12

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1180px;margin:1.5em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.4em 0 1.2em}th,td{border:1px solid #d0d0d0;padding:3px 8px;
text-align:left;font-size:90%;vertical-align:top}th{background:#f3f3f3;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}table table{margin:0}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e6e6e6}
img{max-width:100%;border:1px solid #eee}figure{margin:1em 0 2em}figcaption{font-size:90%;color:#555}
.note{background:#fff8e1;border-left:4px solid #f0c040;padding:.5em 1em}.muted{color:#777;font-size:85%}
.view-controls{display:flex;gap:.8em;align-items:center;margin:.3em 0 1em}
.view-controls input[type=range]{flex:1}.view-controls button{min-width:5em}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:85%}code{font-size:95%}
"""


class Markup(str):
    """Text that is already HTML (a link, say): tables put it in as it is, without escaping."""


def human(value: Any, digits: int = DIGITS) -> str:
    """A number as people read it: ``0.9556117244064808`` -> ``0.9556``; integers whole; None as a dash."""
    if value is None:
        return "\u2014"
    if isinstance(value, Markup):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "\u221e" if value > 0 else "\u2212\u221e"
        if value == 0:
            return "0"
        text = f"{value:.{digits}g}"
        if "e" in text:
            mantissa, exponent = text.split("e")
            return f"{mantissa}\u00d710<sup>{int(exponent)}</sup>"
        return text
    if isinstance(value, complex):
        real, imag = human(value.real, digits), human(abs(value.imag), digits)
        if value.imag == 0:
            return real
        sign = "+" if value.imag > 0 else "\u2212"
        return f"{real} {sign} {imag}i"
    return html.escape(str(value))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, complex, str))


def _cell(value: Any) -> str:
    numeric = isinstance(value, (int, float, complex)) and not isinstance(value, bool)
    return f"<td class='num'>{human(value)}</td>" if numeric else f"<td>{value_html(value)}</td>"


def value_html(value: Any) -> str:
    """Any JSON value as HTML: numbers rounded, a mapping as a table, a list of mappings as a table
    with one row each, a list of equal-length lists of numbers as a grid, a long list shortened."""
    if _is_scalar(value):
        return human(value)
    if isinstance(value, Mapping):
        if value and len(value) <= MAX_LIST and all(_is_scalar(v) for v in value.values()):
            return grid_table([list(value.values())], columns=[str(k) for k in value])
        return mapping_table(value)
    if isinstance(value, Sequence):
        items = list(value)
        if not items:
            return "(none)"
        if all(isinstance(v, Mapping) for v in items):
            return records_table(items)
        if all(isinstance(v, Sequence) and not isinstance(v, str) and all(_is_scalar(x) for x in v) for v in items) \
                and len({len(v) for v in items}) == 1:
            return grid_table(items)
        if all(_is_scalar(v) for v in items):
            shown = ", ".join(human(v) for v in items[:MAX_LIST])
            more = f", \u2026 ({len(items)} values)" if len(items) > MAX_LIST else ""
            return shown + more
        return "<br>".join(value_html(v) for v in items)
    return html.escape(str(value))


def _columns(mapping: Mapping[str, Any]) -> tuple[list[str], int] | None:
    """Keys of the lists of scalars of one length (>= 2) that read best as columns of one table."""
    by_length: dict[int, list[str]] = {}
    for key, v in mapping.items():
        if isinstance(v, Sequence) and not isinstance(v, str) and len(v) >= 2 and all(_is_scalar(x) for x in v):
            by_length.setdefault(len(v), []).append(key)
    best = max(by_length.items(), key=lambda kv: len(kv[1]), default=None)
    if best is None or len(best[1]) < 2:
        return None
    return best[1], best[0]


def mapping_table(mapping: Mapping[str, Any], *, caption: str | None = None) -> str:
    """A mapping as a two-column table (name, value); nested values as nested tables. Lists of the
    same length (e.g. ``ranks``, ``r2_train``, ``r2_test``) are gathered into one table of columns."""
    rows = []
    columns = _columns(mapping)
    gathered: set[str] = set()
    if columns is not None and len(columns[0]) < len(mapping):
        keys, n = columns
        gathered = set(keys)
        body = [[mapping[k][i] for k in keys] for i in range(n)]
        rows.append(f"<tr><th>{html.escape(', '.join(keys))}</th><td>{grid_table(body, columns=keys)}</td></tr>")
    for key, v in mapping.items():
        if key in gathered:
            continue
        rows.append(f"<tr><th>{html.escape(str(key))}</th><td>{value_html(v)}</td></tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}{''.join(rows)}</table>"


def grid_table(rows: Sequence[Sequence[Any]], *, columns: Sequence[str] | None = None,
               index: Sequence[str] | None = None, sortable: bool = False) -> str:
    """Rows of values as a table, with optional column names and row names."""
    head = ""
    if columns is not None:
        corner = "<th></th>" if index is not None else ""
        head = "<thead><tr>" + corner + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns) + "</tr></thead>"
    body = []
    for i, row in enumerate(rows):
        name = f"<th>{html.escape(str(index[i]))}</th>" if index is not None else ""
        body.append("<tr>" + name + "".join(_cell(v) for v in row) + "</tr>")
    cls = " class='sortable'" if sortable else ""
    return f"<table{cls}>{head}<tbody>{''.join(body)}</tbody></table>"


def records_table(records: Sequence[Mapping[str, Any]], *, sortable: bool = False) -> str:
    """Mappings with (mostly) the same keys as one table: a row each, a column per key."""
    columns: list[str] = []
    for r in records:
        columns += [str(k) for k in r if str(k) not in columns]
    return grid_table([[r.get(c) for c in columns] for r in records], columns=columns, sortable=sortable)


def image_html(data: bytes, *, name: str, caption: str | None = None) -> str:
    """An image embedded as a ``data:`` URI (PNG, JPEG or SVG by the file name) in a figure."""
    kind = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
    mime = kind.get(Path(name).suffix.lower(), "image/png")
    encoded = base64.b64encode(data).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure><img alt='{html.escape(name)}' src='data:{mime};base64,{encoded}'>{cap}</figure>"


def json_script(element_id: str, value: Any) -> str:
    """Data for a page's script, as ``<script type="application/json">`` (never executed)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f"<script type='application/json' id='{html.escape(element_id)}'>{text}</script>"


def plotly_script() -> str | None:
    """plotly.js inline in a ``<script>``, from the ``plotly`` package's bundled ``plotly.min.js``
    (found without importing the package); None when plotly is not installed."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return "<script>" + path.read_text(encoding="utf-8") + "</script>"
    return None


def written_by_rnnscope(path: Path) -> bool:
    """Whether the page at ``path`` carries rnnscope's generator tag (so rnnscope may replace it)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(2048)
    except OSError:
        return False
    return f"<meta name='generator' content='{GENERATOR}" in head


def page_html(title: str, body: Sequence[str], *, head: Sequence[str] = ()) -> str:
    """A whole page: the title, rnnscope's styles, ``head`` (scripts) and the ``body`` parts."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<meta name='generator' content='{GENERATOR} {html.escape(__version__)}'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        *head,
        "</head><body>",
        *body,
        f"<p class='muted'>Written by rnnscope {html.escape(__version__)} on {stamp}.</p>",
        "</body></html>",
    ])
