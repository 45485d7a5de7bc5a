#!/usr/bin/env python3
"""Conversion benchmark: time per page per format, text fidelity against
pdftotext, and table cells recovered on documents with known tables.

1. **Corpus** (``--corpus``, default /work/corpus, its ``manifest.tsv``): for
   every PDF, up to ``--max-pages`` pages spread over the document are
   converted into each format by ``ConversionService.convert_pdf_data`` (the
   same code a worker runs, children included), one after the other, and
   the wall time per converted page is recorded.
2. **Text fidelity**: the ``txt`` output of those pages against
   ``pdftotext`` (poppler, reading order, no layout) of the same pages, as
   word multisets: recall (the share of pdftotext's words we have), precision
   (the share of ours that pdftotext has) and their F1. Scanned files have
   no text layer; they are listed apart.
3. **Known tables**: ``--tables`` synthetic documents made here with
   reportlab from a fixed seed (so anyone can make the same set), each with
   one or two tables of 3-8 columns and 4-14 rows of words, numbers, dates
   and amounts, in five styles: full grid, horizontal rules only
   (booktabs-like), zebra-shaded rows without lines, no lines at all, and a
   grid next to a paragraph. Each known table is matched with the detected
   table that shares most of its cells; a cell counts as recovered when the
   same text is at the same row and column. Tables detected that match no
   known table are counted as spurious.

Output: Markdown tables on stdout and in bench/out/conversion.md, raw rows in
bench/out/conversion.json (bench/out is git-ignored).

    .venv/bin/python bench/conversion.py
    .venv/bin/python bench/conversion.py --limit 3 --max-pages 3 --tables 10   # quick look
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pressroom.services.conversion.options import FROM_PDF  # noqa: E402
from pressroom.services.conversion.service import ConversionService  # noqa: E402

OUT = ROOT / "bench" / "out"
STYLES = ("grid", "rules", "zebra", "plain", "grid+text", "narrow", "wrapped", "two-columns")


class Quiet:
    def report(self, percentage: float, stage: str, message: str = "") -> None:
        pass


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the reader and
    renderer children): unlike wall time, not inflated by other load."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def spread(count: int, limit: int) -> list[int]:
    """1-based page numbers, at most ``limit``, spread over the document."""
    if count <= limit:
        return list(range(1, count + 1))
    step = (count - 1) / (limit - 1)
    return sorted({1 + round(i * step) for i in range(limit)})


def pdftotext_words(path: Path, pages: list[int]) -> list[str]:
    words: list[str] = []
    for page in pages:
        out = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(path), "-"],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        words += out.split()
    return words


def overlap(ours: list[str], reference: list[str]) -> dict[str, float | None]:
    a, b = Counter(ours), Counter(reference)
    common = sum((a & b).values())
    recall = common / sum(b.values()) if b else None
    precision = common / sum(a.values()) if a else None
    f1 = (
        2 * recall * precision / (recall + precision)
        if recall is not None and precision is not None and recall + precision
        else None
    )
    return {"recall": recall, "precision": precision, "f1": f1}


def corpus_rows(corpus: Path, limit: int | None, max_pages: int, formats: list[str]) -> list[dict]:
    service = ConversionService(engine_timeout=300)
    with (corpus / "manifest.tsv").open() as fh:
        entries = list(csv.DictReader(fh, delimiter="\t"))
    if limit is not None:
        entries = entries[:limit]
    rows = []
    for entry in entries:
        path = corpus / entry["file"]
        count = int(entry["pages"])
        pages = spread(count, max_pages)
        spec = ",".join(map(str, pages))
        row: dict[str, Any] = {
            "file": entry["file"],
            "category": entry["category"],
            "pages": count,
            "converted": len(pages),
            "seconds_per_page": {},
            "output_bytes": {},
        }
        for fmt in formats:
            with tempfile.TemporaryDirectory(prefix="bench-conv-") as tmp:
                cpu_before = cpu_seconds()
                started = time.monotonic()
                try:
                    result = service.convert_pdf_data(
                        path, Path(tmp), fmt, {"pages": spec}, Quiet(), pages=count
                    )
                except Exception as exc:  # a benchmark reports, it does not stop
                    row.setdefault("errors", {})[fmt] = f"{type(exc).__name__}: {exc}"[:200]
                    continue
                elapsed = time.monotonic() - started
                row["seconds_per_page"][fmt] = elapsed / len(pages)
                row.setdefault("cpu_per_page", {})[fmt] = (cpu_seconds() - cpu_before) / len(pages)
                row["output_bytes"][fmt] = result.output.stat().st_size
                if fmt == "txt":
                    ours = result.output.read_text(encoding="utf-8").split()
                    row["text"] = overlap(ours, pdftotext_words(path, pages))
                    row["tables"] = result.summary.get("tables", 0)
        rows.append(row)
        print(
            f"{entry['file']}: "
            + ", ".join(f"{k} {v:.3f}s/p" for k, v in row["seconds_per_page"].items()),
            file=sys.stderr,
        )
    return rows


# -- known tables ---------------------------------------------------------------------
def _cell(rng: random.Random, kind: str) -> str:
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "north",
        "south",
        "east",
        "west",
        "oak",
        "pine",
        "elm",
        "river",
        "stone",
    ]
    if kind == "word":
        return " ".join(rng.choice(words).title() for _ in range(rng.randint(1, 2)))
    if kind == "int":
        return str(rng.randint(1, 99999))
    if kind == "amount":
        return f"{rng.uniform(-5000, 50000):,.2f}"
    if kind == "date":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return f"{rng.randint(0, 100)}%"


def make_table_doc(path: Path, rng: random.Random, style: str) -> list[list[list[str]]]:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph("Table test document", styles["Heading1"])]
    known: list[list[list[str]]] = []
    if style == "two-columns":  # a negative control: prose in two columns, no table
        from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

        prose = " ".join(_cell(rng, "word").lower() for _ in range(400)) + "."
        doc = BaseDocTemplate(str(path), pagesize=A4)
        width, height = A4
        frames = [
            Frame(50, 50, (width - 120) / 2, height - 100),
            Frame(70 + (width - 120) / 2, 50, (width - 120) / 2, height - 100),
        ]
        doc.addPageTemplates([PageTemplate(frames=frames)])
        doc.build([Paragraph(prose, styles["BodyText"]) for _ in range(3)])
        return known
    for _ in range(rng.choice((1, 2))):
        cols = rng.randint(3, 4 if style in ("grid+text", "wrapped") else 8)
        nrows = rng.randint(4, 14)
        kinds = ["word"] + [
            rng.choice(("word", "int", "amount", "date", "pct")) for _ in range(cols - 1)
        ]
        header = [f"Col {chr(65 + i)}" for i in range(cols)]
        rows = [header] + [[_cell(rng, k) for k in kinds] for _ in range(nrows - 1)]
        known.append(rows)
        if style == "wrapped":  # a last column of sentences wrapped over lines
            note = styles["BodyText"]
            for row in rows[1:]:
                row.append(" ".join(_cell(rng, "word").lower() for _ in range(rng.randint(3, 9))))
            rows[0].append("Note")
            cells = [row[:-1] + [Paragraph(row[-1], note)] for row in rows]
            table = Table(cells, colWidths=[None] * (len(rows[0]) - 1) + [110])
        else:
            table = Table(rows)
        commands: list[Any] = []
        if style in ("grid", "grid+text"):
            commands.append(("GRID", (0, 0), (-1, -1), 0.6, colors.black))
        elif style == "rules":
            commands += [
                ("LINEABOVE", (0, 0), (-1, 0), 1.0, colors.black),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("LINEBELOW", (0, -1), (-1, -1), 1.0, colors.black),
            ]
        elif style == "zebra":
            commands.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.lightgrey]))
        padding = 2 if style == "narrow" else 12
        commands.append(("RIGHTPADDING", (0, 0), (-1, -1), padding))
        commands.append(("VALIGN", (0, 0), (-1, -1), "TOP"))  # as documents set wrapped rows
        commands.append(("LEFTPADDING", (0, 0), (-1, -1), padding if style == "narrow" else 6))
        table.setStyle(TableStyle(commands))
        if style == "grid+text":
            prose = Paragraph(
                "This paragraph stands beside the table, as a caption or a note would, "
                "so that the text around a table is read as text and not as cells. " * 3,
                styles["BodyText"],
            )
            outer = Table([[table, prose]], colWidths=[None, 180])
            outer.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story += [outer, Spacer(1, 18)]
        else:
            story += [
                Paragraph("The figures below are made up for the benchmark.", styles["BodyText"]),
                table,
                Spacer(1, 18),
            ]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return known


def table_rows(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    service = ConversionService(engine_timeout=300)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as tmp:
        for n in range(count):
            style = STYLES[n % len(STYLES)]
            pdf = Path(tmp) / f"tables-{n}.pdf"
            known = make_table_doc(pdf, rng, style)
            work = Path(tmp) / f"out-{n}"
            work.mkdir()
            result = service.convert_pdf_data(pdf, work, "json", {}, Quiet())
            found = [
                t["rows"]
                for p in json.loads(result.output.read_text())["pages"]
                for t in p["tables"]
            ]
            used: set[int] = set()
            for rows_known in known:
                cells = sum(len(r) for r in rows_known)
                best, best_index = 0, None
                for i, rows_found in enumerate(found):
                    if i in used:
                        continue
                    hit = sum(
                        1
                        for r, row in enumerate(rows_known)
                        for c, text in enumerate(row)
                        if r < len(rows_found)
                        and c < len(rows_found[r])
                        and rows_found[r][c] == text
                    )
                    if hit > best:
                        best, best_index = hit, i
                if best_index is not None:
                    used.add(best_index)
                rows.append(
                    {
                        "doc": n,
                        "style": style,
                        "cells": cells,
                        "recovered": best,
                        "exact": best == cells
                        and best_index is not None
                        and len(found[best_index]) == len(rows_known),
                    }
                )
            rows.append({"doc": n, "style": style, "spurious": len(found) - len(used)})
    return rows


# -- report ----------------------------------------------------------------------------
def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def time_table(
    corpus: list[dict], categories: list[str], formats: list[str], key: str
) -> list[str]:
    lines = ["| Category | Files | Pages | " + " | ".join(formats) + " |"]
    lines.append("|---|---|---|" + "---|" * len(formats))
    for category in [*categories, "all"]:
        rows = [r for r in corpus if category in ("all", r["category"])]
        cells = [fmt(median([r[key][f] for r in rows if f in r.get(key, {})])) for f in formats]
        pages = sum(r["converted"] for r in rows)
        lines.append(f"| {category} | {len(rows)} | {pages} | " + " | ".join(cells) + " |")
    return lines


def report(corpus: list[dict], tables: list[dict], formats: list[str]) -> str:
    categories = sorted({r["category"] for r in corpus})
    lines = []
    for key, title in (
        ("cpu_per_page", "CPU seconds per converted page (median over files)"),
        ("seconds_per_page", "Wall seconds per converted page (median over files)"),
    ):
        lines += [f"### {title}", ""]
        lines += time_table(corpus, categories, formats, key)
        lines.append("")
    lines += ["### Text fidelity of `txt` against pdftotext (word multisets)", ""]
    lines.append(
        "| Category | Files with text | Recall (median) | Precision (median) "
        "| F1 (median) | F1 (worst) |"
    )
    lines.append("|---|---|---|---|---|---|")
    for category in [*categories, "all"]:
        rows = [
            r
            for r in corpus
            if category in ("all", r["category"]) and r.get("text", {}).get("f1") is not None
        ]
        if not rows:
            lines.append(f"| {category} | 0 | n/a | n/a | n/a | n/a |")
            continue
        recall, precision, f1 = (
            [r["text"][key] for r in rows] for key in ("recall", "precision", "f1")
        )
        lines.append(
            f"| {category} | {len(rows)} | {fmt(median(recall))} | "
            f"{fmt(median(precision))} | {fmt(median(f1))} | {fmt(min(f1))} |"
        )
    lines += ["", "### Per file", ""]
    lines.append(
        "| File | Pages converted | Tables found | Text F1 "
        "| txt s/page | docx s/page | images s/page |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for r in corpus:
        s = r["seconds_per_page"]
        lines.append(
            f"| {r['file']} | {r['converted']} | {r.get('tables', 'n/a')} | "
            f"{fmt(r.get('text', {}).get('f1'))} | {fmt(s.get('txt'))} | {fmt(s.get('docx'))} | "
            f"{fmt(s.get('images'))} |"
        )
        if r.get("errors"):
            lines.append(f"| errors: {r['errors']} | | | | | | |")
    if tables:
        lines += ["", "### Known tables: cells recovered", ""]
        lines.append(
            "| Style | Tables | Cells | Recovered | Share | Tables exact | Spurious tables |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for style in [*STYLES, "all"]:
            rows = [t for t in tables if style in ("all", t["style"]) and "cells" in t]
            spurious = sum(t.get("spurious", 0) for t in tables if style in ("all", t["style"]))
            cells = sum(t["cells"] for t in rows)
            got = sum(t["recovered"] for t in rows)
            exact = sum(1 for t in rows if t["exact"])
            share = fmt(got / cells if cells else None)
            lines.append(
                f"| {style} | {len(rows)} | {cells} | {got} | {share} | {exact} | {spurious} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N corpus files")
    parser.add_argument("--max-pages", type=int, default=10)
    parser.add_argument("--formats", default=",".join(FROM_PDF))
    parser.add_argument("--tables", type=int, default=50, help="synthetic table documents")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    formats = args.formats.split(",")
    started = time.monotonic()
    corpus = corpus_rows(args.corpus, args.limit, args.max_pages, formats)
    tables = table_rows(args.tables, args.seed) if args.tables else []
    text = report(corpus, tables, formats)
    header = (
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
        f"({platform.processor() or platform.machine()}, Python {platform.python_version()}), "
        f"{time.monotonic() - started:.0f} s in all.\n\n"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "conversion.md").write_text(header + text)
    (OUT / "conversion.json").write_text(json.dumps({"corpus": corpus, "tables": tables}, indent=1))
    print(header + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
