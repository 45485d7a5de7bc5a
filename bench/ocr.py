#!/usr/bin/env python3
"""OCR benchmark: Pressroom's qualities side by side with OCRmyPDF run directly.

For every scanned document of the public corpus (``manifest.tsv`` rows of
category ``scan``, each with its ground-truth text beside it) it runs, in one
run and one after the other (the order rotates from file to file, so a
change in the machine's load does not always fall on the same candidate):

- ``direct``: the ``ocrmypdf`` command itself, plain: ``ocrmypdf -l eng IN OUT``
  (the venv's OCRmyPDF, the same version the service runs), with only
  ``--tesseract-timeout`` added (``--page-timeout``, the same for every
  candidate);
- ``ours-fast``, ``ours-balanced``, ``ours-accurate``:
  ``OCRService.process_ocr_data`` with ``language=eng``, ``mode=skip``,
  ``outputFormat=searchable_pdf`` and that quality: the code a worker runs,
  without the queue (inspection child, OCRmyPDF child with our plugin and
  progress polling, the output checks).

For each output it measures:

- the character error rate (CER): the Levenshtein distance between
  ``pdftotext -layout`` of the output and the ground truth, both with every
  run of whitespace made one space, divided by the ground truth's length
  (summed over files for the totals, so long documents weigh more);
- pages per minute of wall time, and CPU-seconds (user + system of every
  child process, from ``getrusage(RUSAGE_CHILDREN)``), which depend less on
  what else the machine is doing;
- output size / input size.

Then it checks the aims of issue 4: CER at balanced no worse than direct, and
better at accurate; throughput at least 0.9 x direct (wall and CPU); output at
most 1.1 x input. It also prints, per quality, the CPU-seconds of OCR per
megapixel of page image, the rate the preview's estimate uses
(``pressroom.services.ocr.PRESETS[...].seconds_per_mpixel``, divided there
by the cores a run uses).

    .venv/bin/python bench/ocr.py                 # the whole scan set
    .venv/bin/python bench/ocr.py --limit 1       # quick look

Raw rows go to bench/out/ocr.json and the table to bench/out/ocr.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# the service's children (inspection, OCRmyPDF with our plugins, the text
# layer pass) import pressroom too: from this checkout, not from wherever the
# venv's editable install points
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)

from pressroom.services.ocr import (  # noqa: E402
    PRESETS,
    EngineLimits,
    OCROptions,
    OCRService,
)

CANDIDATES = ["direct", "ours-fast", "ours-balanced", "ours-accurate"]


class Silent:
    def report(self, percentage: float, stage: str, message: str = "") -> None:
        pass


@dataclass
class Row:
    file: str
    candidate: str
    pages: int
    cer: float
    errors: int
    truth_chars: int
    wall: float
    cpu: float
    input_size: int
    output_size: int
    mpixels: float


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def text_of(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout


def page_mpixels(pdf: Path) -> float:
    """Megapixels of the page images, as OCR reads them."""
    out = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    return sum(int(line.split()[3]) * int(line.split()[4]) for line in out) / 1e6


def run_candidate(
    candidate: str, src: Path, work: Path, timeout: float, page_timeout: float
) -> Path:
    out = work / "out.pdf"
    if candidate == "direct":
        subprocess.run(
            [
                str(Path(sys.executable).parent / "ocrmypdf"),
                "-q",
                "-l",
                "eng",
                "--tesseract-timeout",
                f"{page_timeout:g}",
                str(src),
                str(out),
            ],
            check=True,
            timeout=timeout,
            capture_output=True,
        )
        return out
    quality = candidate.removeprefix("ours-")
    service = OCRService(EngineLimits(job_timeout=timeout, page_timeout=page_timeout))
    result = service.process_ocr_data(
        src,
        "application/pdf",
        work,
        OCROptions(languages=("eng",), quality=quality),
        Silent(),
    )
    return result.output


def scans(corpus: Path) -> list[tuple[Path, Path, int]]:
    with (corpus / "manifest.tsv").open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    found = []
    for row in rows:
        if row["category"] == "scan" and row["ground_truth"]:
            found.append((corpus / row["file"], corpus / row["ground_truth"], int(row["pages"])))
    return found


def summarise(rows: list[Row]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for candidate in CANDIDATES:
        mine = [r for r in rows if r.candidate == candidate]
        if not mine:
            continue
        pages = sum(r.pages for r in mine)
        wall = sum(r.wall for r in mine)
        cpu = sum(r.cpu for r in mine)
        totals[candidate] = {
            "files": len(mine),
            "pages": pages,
            "cer": sum(r.errors for r in mine) / sum(r.truth_chars for r in mine),
            "pages_per_minute": pages / wall * 60 if wall else 0.0,
            "cpu_seconds_per_page": cpu / pages if pages else 0.0,
            "size_ratio": sum(r.output_size for r in mine) / sum(r.input_size for r in mine),
            "worst_size_ratio": max(r.output_size / r.input_size for r in mine),
            "cpu_seconds_per_mpixel": cpu / sum(r.mpixels for r in mine),
        }
    return totals


def table(rows: list[Row], totals: dict[str, dict[str, float]]) -> str:
    lines = [
        "| File | Pages | " + " | ".join(CANDIDATES) + " |",
        "|---|---|" + "---|" * len(CANDIDATES),
    ]
    for name in sorted({r.file for r in rows}):
        cells = []
        for candidate in CANDIDATES:
            row = next((r for r in rows if r.file == name and r.candidate == candidate), None)
            cells.append(
                "-"
                if row is None
                else f"{row.cer:.4f} · {row.pages / row.wall * 60:.1f} p/min · "
                f"{row.output_size / row.input_size:.2f}x"
            )
        pages = next(r.pages for r in rows if r.file == name)
        lines.append(f"| {name} | {pages} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| Candidate | CER | Pages/min (wall) | CPU s/page | Output/input (total) "
        "| Worst file | CPU s per megapixel |",
        "|---|---|---|---|---|---|---|",
    ]
    for candidate, t in totals.items():
        lines.append(
            f"| {candidate} | {t['cer']:.4f} | {t['pages_per_minute']:.1f} | "
            f"{t['cpu_seconds_per_page']:.2f} | {t['size_ratio']:.3f} | "
            f"{t['worst_size_ratio']:.2f} | {t['cpu_seconds_per_mpixel']:.2f} |"
        )
    return "\n".join(lines)


def aims(totals: dict[str, dict[str, float]]) -> list[str]:
    direct = totals.get("direct")
    if direct is None:
        return []
    checks = []

    def check(label: str, ok: bool, detail: str) -> None:
        checks.append(f"- {'MET' if ok else 'NOT MET'}: {label} ({detail})")

    bal, acc = totals.get("ours-balanced"), totals.get("ours-accurate")
    if bal:
        check(
            "CER at balanced no worse than direct",
            bal["cer"] <= direct["cer"] + 1e-9,
            f"{bal['cer']:.4f} vs {direct['cer']:.4f}",
        )
        ratio = bal["pages_per_minute"] / direct["pages_per_minute"]
        check("throughput at balanced >= 0.9 x direct (wall)", ratio >= 0.9, f"{ratio:.2f} x")
        cpu_ratio = direct["cpu_seconds_per_page"] / bal["cpu_seconds_per_page"]
        check(
            "throughput at balanced >= 0.9 x direct (CPU)", cpu_ratio >= 0.9, f"{cpu_ratio:.2f} x"
        )
    if acc:
        check(
            "CER at accurate better than direct",
            acc["cer"] < direct["cer"],
            f"{acc['cer']:.4f} vs {direct['cer']:.4f}",
        )
    for candidate, t in totals.items():
        if candidate.startswith("ours-"):
            check(
                f"output <= 1.1 x input at {candidate.removeprefix('ours-')} (total)",
                t["size_ratio"] <= 1.1,
                f"{t['size_ratio']:.3f} x; worst file {t['worst_size_ratio']:.2f} x",
            )
    return checks


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    p.add_argument("--limit", type=int, default=0, help="at most this many files")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per OCR run")
    p.add_argument(
        "--page-timeout",
        type=float,
        default=900,
        help="Tesseract's limit per page, for every candidate (OCRmyPDF's default, 180 s, "
        "cuts pages short on a busy machine and turns a slow page into a blank one)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    files = scans(args.corpus)
    if args.limit:
        files = files[: args.limit]
    rows: list[Row] = []
    started = datetime.now(UTC)
    for n, (src, truth_path, pages) in enumerate(files):
        truth = normalise(truth_path.read_text(encoding="utf-8"))
        mpixels = page_mpixels(src)
        order = CANDIDATES[n % len(CANDIDATES) :] + CANDIDATES[: n % len(CANDIDATES)]
        for candidate in order:
            with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
                cpu0, t0 = children_cpu(), time.monotonic()
                out = run_candidate(candidate, src, Path(tmp), args.timeout, args.page_timeout)
                wall, cpu = time.monotonic() - t0, children_cpu() - cpu0
                errors = Levenshtein.distance(normalise(text_of(out)), truth)
                row = Row(
                    file=src.name,
                    candidate=candidate,
                    pages=pages,
                    cer=errors / len(truth),
                    errors=errors,
                    truth_chars=len(truth),
                    wall=wall,
                    cpu=cpu,
                    input_size=src.stat().st_size,
                    output_size=out.stat().st_size,
                    mpixels=mpixels,
                )
            rows.append(row)
            print(
                f"{src.name:28} {candidate:14} CER {row.cer:.4f}  {wall:6.1f}s wall "
                f"{cpu:6.1f}s cpu  size {row.output_size / row.input_size:.2f}x",
                flush=True,
            )
    totals = summarise(rows)
    report = table(rows, totals)
    checks = aims(totals)
    header = (
        f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({platform.machine()}, {platform.python_version()}); "
        "presets: "
        + "; ".join(
            f"{k}: {' '.join(v.args)}{' --deskew (not on bilevel scans)' if v.deskew else ''}"
            for k, v in PRESETS.items()
        )
    )
    text = header + "\n\n" + report + "\n\n" + "\n".join(checks) + "\n"
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocr.md").write_text(text)
    (args.out / "ocr.json").write_text(
        json.dumps({"rows": [asdict(r) for r in rows], "totals": totals}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
