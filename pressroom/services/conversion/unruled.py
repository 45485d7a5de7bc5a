"""Tables without lines, found from the white space between their columns.

pdfplumber's "text" strategy draws column edges wherever three words line up,
so equal-width numbers or dates add phantom columns, and the prose right above
a table joins it. This looks for the columns a reader sees instead:

1. the page's words are grouped into lines, and each line into *segments*
   where the gap between two words is wide (at least ``GAP`` x the font
   size: wider than a word space, even in justified text);
2. runs of at least ``MIN_ROWS`` consecutive, closely spaced lines that each
   have two segments or more are candidate tables;
3. the columns are the stretches of x covered by those lines' segments (a
   gutter is white in every row); a segment never straddles a gutter, so the
   cells follow.

A candidate is kept only when it looks like a table (pdfplumber-independent
checks in ``plausible``): mostly filled, short cells, every column used.
"""

from __future__ import annotations

import statistics
from typing import Any

#: a gap between words at least this many times the font size splits cells
GAP = 0.9
#: lines farther apart than this many line heights end a table
LINE_SPACING = 2.2
MIN_ROWS = 3


def _lines(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    lines: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1][0]["top"] - word["top"]) <= 2.5:
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def _segments(line: list[dict[str, Any]]) -> list[dict[str, Any]]:
    size = statistics.median(w["bottom"] - w["top"] for w in line)
    segments: list[dict[str, Any]] = []
    for word in line:
        if segments and word["x0"] - segments[-1]["x1"] < GAP * size:
            segments[-1]["x1"] = max(segments[-1]["x1"], word["x1"])
            segments[-1]["text"] += " " + word["text"]
        else:
            segments.append({"x0": word["x0"], "x1": word["x1"], "text": word["text"]})
    return segments


def _columns(rows: list[list[dict[str, Any]]]) -> list[tuple[float, float]]:
    spans = sorted((s["x0"], s["x1"]) for row in rows for s in row)
    columns: list[list[float]] = []
    for x0, x1 in spans:
        if columns and x0 <= columns[-1][1] + 1:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    return [(c[0], c[1]) for c in columns]


def plausible(rows: list[list[str]]) -> bool:
    """At least 2 columns and ``MIN_ROWS`` rows, mostly filled, short cells
    (two columns of prose side by side are not a table), every column used
    in two rows or more."""
    if len(rows) < MIN_ROWS:
        return False
    columns = max(len(r) for r in rows)
    if columns < 2:
        return False
    cells = [c for r in rows for c in r]
    filled = [c for c in cells if c]
    if len(filled) < 0.6 * len(cells):
        return False
    longest = 25 if columns == 2 else 40
    if statistics.median(len(c) for c in filled) > longest:
        return False
    return all(sum(1 for r in rows if i < len(r) and r[i]) >= 2 for i in range(columns))


def find(
    words: list[dict[str, Any]], taken: list[tuple[float, float, float, float]]
) -> list[dict[str, Any]]:
    """Unruled tables among ``words`` (pdfplumber's), outside the ``taken``
    areas (tables already found); each ``{"bbox", "rows", "ruled": False}``."""
    free = [
        w
        for w in words
        if not any(
            a[0] - 1 <= w["x0"]
            and w["x1"] <= a[2] + 1
            and a[1] - 1 <= w["top"]
            and w["bottom"] <= a[3] + 1
            for a in taken
        )
    ]
    lines = _lines(free)
    found: list[dict[str, Any]] = []
    run: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []

    def close() -> None:
        if len(run) >= MIN_ROWS:
            table = _table(run)
            if table is not None:
                found.append(table)
        run.clear()

    for line in lines:
        segments = _segments(line)
        height = statistics.median(w["bottom"] - w["top"] for w in line)
        if run:
            previous = run[-1][0]
            if line[0]["top"] - previous[0]["top"] > LINE_SPACING * height:
                close()
        if len(segments) >= 2:
            run.append((line, segments))
        elif run and segments[0]["x0"] > min(s["x0"] for _, segs in run for s in segs) + 5:
            # a cell's text wrapped onto a line of its own, right of the first column
            segments[0]["continued"] = True
            run.append((line, segments))
        else:
            close()
    close()
    return found


def _column_of(columns: list[tuple[float, float]], segment: dict[str, Any]) -> int:
    return next(
        (n for n, (x0, x1) in enumerate(columns) if x0 - 1 <= segment["x0"] <= x1 + 1),
        len(columns) - 1,
    )


def _table(run: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> dict[str, Any] | None:
    columns = _columns([segments for _, segments in run])
    if len([1 for _, segs in run if not segs[0].get("continued")]) < MIN_ROWS:
        return None
    if len(columns) < 2:
        return None
    while run and run[-1][1][0].get("continued"):
        run = run[:-1]  # a line after the table, not a wrapped cell
    rows: list[list[str]] = []
    for _, segments in run:
        if segments[0].get("continued") and rows:
            i = _column_of(columns, segments[0])
            rows[-1][i] = f"{rows[-1][i]} {segments[0]['text']}".strip()
            continue
        row = [""] * len(columns)
        for segment in segments:
            i = _column_of(columns, segment)
            row[i] = f"{row[i]} {segment['text']}".strip()
        rows.append(row)
    if not plausible(rows):
        return None
    words = [w for line, _ in run for w in line]
    bbox = [
        min(w["x0"] for w in words),
        min(w["top"] for w in words),
        max(w["x1"] for w in words),
        max(w["bottom"] for w in words),
    ]
    return {"bbox": bbox, "rows": rows, "ruled": False}
