#!/usr/bin/env python3
"""Compression benchmark: Pressroom's levels side by side with the anchors.

For every PDF of the public corpus (``/work/shared/corpus/build.sh OUTDIR``;
``--corpus`` points at OUTDIR, default ``../corpus`` next to the repository)
it runs, in one run, each candidate into a temporary folder of its own:

- ``ours-LEVEL``: ``CompressionService(engine_timeout=300).compress(...)`` for
  each level of ``--levels`` (lossless, low, medium, high, maximum);
- ``gs-ebook``, ``gs-screen``: Ghostscript ``-dPDFSETTINGS=/ebook``, ``/screen``;
- ``qpdf``: ``qpdf --object-streams=generate --recompress-flate``;
- ``ocrmypdf-O3``: OCRmyPDF's optimiser alone,
  ``ocrmypdf --skip-text -O3 --tesseract-timeout 0`` (``--ocrmypdf PATH``;
  skipped with a note when absent; it is AGPL-free to *run* but is kept out of
  the service's environment, so install it in a throwaway venv);
- ``pdfsmaller-medium``: the command line the old PDF Smaller service used for
  its medium level, Ghostscript ``/default`` with every image at 80 dpi.

and measures, for each output: size ratio output/input; visual quality, the
SSIM of each page rendered with pypdfium2 (grayscale, ``--dpi``) against the
original's render (mean and worst page; at most ``--max-pages`` pages per file,
spread evenly; a missing page, or a page whose render differs from the
original's by more than 2 px in width or height, counts as SSIM 0; renders
within 2 px are cropped to their common area); whether ``pdftotext`` of the
whole file, whitespace-normalised, stayed the same (and if not, whether at
least the same words remain, in another order); whether the output is bigger
than the input; and time.

Timing. Files are spread over a process pool (``--jobs``, default 2), but the
candidates of one file run one after the other in the same worker, and each
candidate runs in processes of its own (a subprocess, or for ours a fork of
the worker, which has Pressroom already imported so no import time is
counted). Besides the wall time, the CPU-seconds of each candidate (user +
system of the candidate's process and all its descendants, from
``getrusage(RUSAGE_CHILDREN)`` deltas) are recorded. CPU-seconds do not depend
on what the other worker is doing, so the time aim is checked on them; wall
times are reported as well (run with ``--jobs 1`` for uncontended wall times).
Every subprocess has a time-out (``--timeout``), and no new file is started
after ``--deadline`` minutes.

Output: tables per category and overall, then the aims of issue 3 as checks;
the raw per-file rows go to bench/out/compression.json and the tables to
bench/out/compression.md (bench/out is git-ignored).

    .venv/bin/python bench/compression.py --ocrmypdf /work/bench-tools/venv/bin/ocrmypdf
    .venv/bin/python bench/compression.py --limit 5 --levels medium   # quick look
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import functools
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "out"
DEFAULT_CORPUS = Path(os.environ.get("PRESSROOM_CORPUS", REPO.parent / "corpus"))

LEVELS = ("lossless", "low", "medium", "high", "maximum")
CATEGORY_ORDER = ("text", "vector", "photo", "scan", "mixed")
ENGINE_TIMEOUT = 300
#: renders whose width and height differ by at most this many pixels are
#: cropped to their common area (rounding of a MediaBox); beyond: SSIM 0
SIZE_TOLERANCE_PX = 2
SSIM_GATE = 0.99

GS = ["gs", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite"]
PDFSMALLER_MEDIUM = [
    "-dPDFSETTINGS=/default",
    "-dDownsampleColorImages=true",
    "-dColorImageResolution=80",
    "-dDownsampleGrayImages=true",
    "-dGrayImageResolution=80",
    "-dDownsampleMonoImages=true",
    "-dMonoImageResolution=80",
]


# ----------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    name: str
    #: the argument list with {src} and {out} placeholders; None for ours
    argv: tuple[str, ...] | None = None
    level: str | None = None

    @property
    def ours(self) -> bool:
        return self.level is not None

    def command(self, src: Path, out: Path) -> list[str]:
        assert self.argv is not None
        return [a.replace("{src}", str(src)).replace("{out}", str(out)) for a in self.argv]

    def describe(self) -> str:
        if self.ours:
            return f"CompressionService.compress(level={self.level!r})"
        return " ".join(self.command(Path("in.pdf"), Path("out.pdf")))


def anchor_candidates(ocrmypdf: str | None) -> list[Candidate]:
    anchors = [
        Candidate("gs-ebook", (*GS, "-dPDFSETTINGS=/ebook", "-sOutputFile={out}", "{src}")),
        Candidate("gs-screen", (*GS, "-dPDFSETTINGS=/screen", "-sOutputFile={out}", "{src}")),
        Candidate(
            "qpdf",
            ("qpdf", "--object-streams=generate", "--recompress-flate", "{src}", "{out}"),
        ),
    ]
    if ocrmypdf:
        anchors.append(
            Candidate(
                "ocrmypdf-O3",
                (ocrmypdf, "--skip-text", "-O3", "--tesseract-timeout", "0", "{src}", "{out}"),
            )
        )
    anchors.append(
        Candidate("pdfsmaller-medium", (*GS, *PDFSMALLER_MEDIUM, "-sOutputFile={out}", "{src}"))
    )
    return anchors


# ------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class CorpusFile:
    file: str
    category: str
    pages: int
    size: int
    path: Path


def load_corpus(
    corpus: Path, categories: Sequence[str] | None, limit: int | None
) -> list[CorpusFile]:
    manifest = corpus / "manifest.tsv"
    if not manifest.is_file():
        sys.exit(
            f"no corpus manifest at {manifest}: build it with "
            f"/work/shared/corpus/build.sh OUTDIR and pass --corpus OUTDIR"
        )
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    files = [
        CorpusFile(r["file"], r["category"], int(r["pages"]), int(r["bytes"]), corpus / r["file"])
        for r in rows
        if not categories or r["category"] in categories
    ]
    if limit is not None and limit < len(files):
        # round-robin over the categories so that a quick run sees every kind
        by_cat: dict[str, list[CorpusFile]] = {}
        for f in files:
            by_cat.setdefault(f.category, []).append(f)
        picked: list[CorpusFile] = []
        while len(picked) < limit:
            for cat in list(by_cat):
                if by_cat[cat] and len(picked) < limit:
                    picked.append(by_cat[cat].pop(0))
        files = picked
    missing = [f.file for f in files if not f.path.is_file()]
    if missing:
        sys.exit(f"corpus files missing: {', '.join(missing)}")
    return files


# ------------------------------------------------------------- running tools


@dataclass
class RunOutcome:
    output: Path | None
    wall_s: float
    cpu_s: float
    error: str | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _tail(text: str | bytes, n: int = 300) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][-n:] if lines else ""


def run_subprocess(argv: list[str], timeout: float) -> tuple[int | None, bytes, bytes]:
    """Run in a session of its own; on time-out kill the whole group.
    Returns (returncode or None on time-out, stdout, stderr)."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        return None, out, err
    return proc.returncode, out, err


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_anchor(cand: Candidate, src: Path, workdir: Path, timeout: float) -> RunOutcome:
    out = workdir / "out.pdf"
    cpu0, t0 = _children_cpu(), time.perf_counter()
    try:
        rc, _stdout, stderr = run_subprocess(cand.command(src, out), timeout)
    except OSError as exc:
        return RunOutcome(None, 0.0, 0.0, error=f"cannot run: {exc}")
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if rc is None:
        return RunOutcome(None, wall, cpu, error=f"timed out after {timeout:g} s")
    if rc != 0 or not out.is_file() or out.stat().st_size == 0:
        return RunOutcome(None, wall, cpu, error=f"exit {rc}: {_tail(stderr)}")
    return RunOutcome(out, wall, cpu)


def _ours_child(level: str, src: Path, workdir: Path, _send: Any) -> dict[str, Any]:
    """In the forked child: compress, return a JSON-able summary."""
    from pressroom.jobs.progress import NullProgress
    from pressroom.services.compression import CompressionOptions, CompressionService

    service = CompressionService(engine_timeout=ENGINE_TIMEOUT)
    result = service.compress(src, workdir, CompressionOptions(level=level), NullProgress())
    return {
        "output": str(result.output),
        "original_size": result.original_size,
        "compressed_size": result.compressed_size,
        "returned_original": result.returned_original,
        "passes": [
            {"name": p.name, "size_after": p.size_after, "seconds": p.seconds, "kept": p.kept}
            for p in result.passes
        ],
    }


def run_ours(level: str, src: Path, workdir: Path, timeout: float) -> RunOutcome:
    """Compress in a fork of this process (Pressroom is imported already),
    through the service's own ``run_forked``: a hang is killed at ``timeout``
    and the child's CPU time is attributable."""
    from pressroom.engines.isolated import run_forked
    from pressroom.errors import EngineTimeoutError, PressroomError

    cpu0, t0 = _children_cpu(), time.perf_counter()
    failure: PressroomError | None = None
    try:
        payload = run_forked(
            functools.partial(_ours_child, level, src, workdir),
            timeout=timeout,
            name="benchmark child",
        )
    except PressroomError as exc:
        failure = exc
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if isinstance(failure, EngineTimeoutError):
        return RunOutcome(None, wall, cpu, error=f"timed out after {timeout:g} s")
    if failure is not None:
        error = f"{failure.code}: {failure.message}"
        return RunOutcome(None, wall, cpu, error=error, detail=failure.details)
    out = Path(payload["output"])
    if not out.is_file():
        return RunOutcome(
            None, wall, cpu, error=f"result.output {out} does not exist", detail=payload
        )
    note = ""
    if payload.get("compressed_size") != out.stat().st_size:
        note = (
            f"result.compressed_size {payload.get('compressed_size')} != "
            f"size on disk {out.stat().st_size}"
        )
    if payload.get("returned_original"):
        note = (note + "; " if note else "") + "returned the original"
    return RunOutcome(out, wall, cpu, note=note, detail=payload)


# ---------------------------------------------------------------- measuring


def sample_pages(n: int, max_pages: int) -> list[int]:
    if n <= max_pages:
        return list(range(n))
    if max_pages == 1:
        return [0]
    return sorted({round(i * (n - 1) / (max_pages - 1)) for i in range(max_pages)})


def page_count(path: Path) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        return len(doc)
    finally:
        doc.close()


def render_pages(path: Path, indices: Iterable[int], dpi: int) -> tuple[int, dict[int, Any]]:
    """Page count and {index: grayscale uint8 array} of the pages that exist."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        n = len(doc)
        renders: dict[int, Any] = {}
        for i in indices:
            if i >= n:
                continue
            page = doc[i]
            try:
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                renders[i] = bitmap.to_numpy().squeeze().copy()
                bitmap.close()
            finally:
                page.close()
        return n, renders
    finally:
        doc.close()


def compare_page(a: Any, b: Any) -> tuple[float, bool]:
    """(SSIM, pixel-identical) of two grayscale renders."""
    import numpy as np
    from skimage.metrics import structural_similarity

    if a.shape != b.shape:
        dh, dw = abs(a.shape[0] - b.shape[0]), abs(a.shape[1] - b.shape[1])
        if dh > SIZE_TOLERANCE_PX or dw > SIZE_TOLERANCE_PX:
            return 0.0, False
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        a, b = a[:h, :w], b[:h, :w]
        identical = False
    else:
        identical = bool(np.array_equal(a, b))
    if identical:
        return 1.0, True
    if min(a.shape) < 7:  # too small for the SSIM window
        return float(1.0 - np.abs(a.astype(float) - b.astype(float)).mean() / 255), False
    return float(structural_similarity(a, b, data_range=255)), False


def extract_text(path: Path, timeout: float) -> str | None:
    try:
        rc, out, _err = run_subprocess(
            ["pdftotext", "-q", "-enc", "UTF-8", str(path), "-"], timeout
        )
    except OSError:
        return None
    if rc != 0:
        return None
    return " ".join(out.decode("utf-8", "replace").split())


# --------------------------------------------------------------- per file


@dataclass
class Job:
    file: CorpusFile
    candidates: list[Candidate]
    dpi: int
    max_pages: int
    timeout: float
    deadline: float  # time.time()
    tmpdir: str | None
    keep: Path | None = None


def _worker_init() -> None:
    # pay Pressroom's import once per worker, not once per compression: the
    # pipeline module, as a Celery worker loads it (pressroom.tasks.compression)
    import pressroom.services.compression_pipeline  # noqa: F401

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_file(job: Job) -> list[dict[str, Any]]:
    f = job.file
    base = {"file": f.file, "category": f.category, "pages": f.pages, "input_bytes": f.size}
    if time.time() > job.deadline:
        return [
            {**base, "candidate": c.name, "ok": False, "error": "skipped: deadline reached"}
            for c in job.candidates
        ]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-", dir=job.tmpdir) as tmp:
        src = Path(tmp) / "input.pdf"  # a private copy: nothing can touch the corpus
        shutil.copyfile(f.path, src)
        input_bytes = src.stat().st_size
        base["input_bytes"] = input_bytes
        # 1. compress, candidate after candidate (timing stays attributable)
        outcomes: list[tuple[Candidate, RunOutcome]] = []
        for cand in job.candidates:
            workdir = Path(tmp) / cand.name
            workdir.mkdir()
            if cand.ours:
                assert cand.level is not None
                outcome = run_ours(cand.level, src, workdir, job.timeout)
            else:
                outcome = run_anchor(cand, src, workdir, job.timeout)
            outcomes.append((cand, outcome))
        # 2. measure
        n_orig = page_count(src)
        _, orig_renders = render_pages(src, sample_pages(n_orig, job.max_pages), job.dpi)
        orig_text = extract_text(src, job.timeout)
        for cand, outcome in outcomes:
            row: dict[str, Any] = {
                **base,
                "candidate": cand.name,
                "ok": outcome.output is not None,
                "error": outcome.error,
                "note": outcome.note,
                "wall_s": round(outcome.wall_s, 3),
                "cpu_s": round(outcome.cpu_s, 3),
            }
            if outcome.detail.get("passes"):
                row["passes"] = outcome.detail["passes"]
            if outcome.output is not None:
                row.update(
                    measure(outcome.output, input_bytes, n_orig, orig_renders, orig_text, job)
                )
                if job.keep is not None:
                    dest = job.keep / cand.name / f.file
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(outcome.output, dest)
            rows.append(row)
    return rows


def measure(
    out: Path,
    input_bytes: int,
    n_orig: int,
    orig_renders: dict[int, Any],
    orig_text: str | None,
    job: Job,
) -> dict[str, Any]:
    size = out.stat().st_size
    m: dict[str, Any] = {
        "output_bytes": size,
        "ratio": round(size / input_bytes, 5),
        "bigger": size > input_bytes,
    }
    try:
        n_out, renders = render_pages(out, orig_renders.keys(), job.dpi)
    except Exception as exc:  # an output pdfium cannot open is a destroyed file
        m.update(
            pages_out=None,
            page_count_same=False,
            render_error=f"{type(exc).__name__}: {exc}",
            pages_compared=len(orig_renders),
            ssim_mean=0.0,
            ssim_worst=0.0,
            ssim_worst_page=None,
            render_identical=False,
        )
    else:
        scores: dict[int, float] = {}
        identical = n_out == n_orig
        for i, ref in orig_renders.items():
            if i not in renders:
                scores[i], same = 0.0, False
            else:
                scores[i], same = compare_page(ref, renders[i])
            identical = identical and same
        worst_page = min(scores, key=lambda k: scores[k]) if scores else None
        m.update(
            pages_out=n_out,
            page_count_same=n_out == n_orig,
            pages_compared=len(scores),
            ssim_mean=round(statistics.fmean(scores.values()), 5) if scores else None,
            ssim_worst=round(scores[worst_page], 5) if worst_page is not None else None,
            ssim_worst_page=worst_page + 1 if worst_page is not None else None,
            render_identical=identical,
        )
    text = extract_text(out, job.timeout)
    if orig_text is None or text is None:
        m["text_same"] = m["text_words_same"] = None
    else:
        m["text_same"] = text == orig_text
        # the same words in another order (pdftotext's reading order moved)
        m["text_words_same"] = sorted(text.split()) == sorted(orig_text.split())
    return m


# ----------------------------------------------------------------- summary


@dataclass
class Stats:
    candidate: str
    files: int
    ok: int
    errors: int
    median_ratio: float | None
    mean_ssim: float | None
    worst_ssim: float | None
    worst_file: str | None
    text_changed: int
    text_unknown: int
    words_changed: int
    bigger: int
    identical: int
    wall_s: float
    cpu_s: float


def stats_for(candidate: str, rows: list[dict[str, Any]]) -> Stats:
    mine = [r for r in rows if r["candidate"] == candidate]
    ok = [r for r in mine if r.get("ok")]
    ssim = [r for r in ok if r.get("ssim_mean") is not None]
    worst = min(ssim, key=lambda r: r["ssim_worst"]) if ssim else None
    return Stats(
        candidate=candidate,
        files=len(mine),
        ok=len(ok),
        errors=len(mine) - len(ok),
        median_ratio=statistics.median(r["ratio"] for r in ok) if ok else None,
        mean_ssim=statistics.fmean(r["ssim_mean"] for r in ssim) if ssim else None,
        worst_ssim=worst["ssim_worst"] if worst else None,
        worst_file=f"{worst['file']} p{worst['ssim_worst_page']}" if worst else None,
        text_changed=sum(1 for r in ok if r.get("text_same") is False),
        text_unknown=sum(1 for r in ok if r.get("text_same") is None),
        words_changed=sum(1 for r in ok if r.get("text_words_same") is False),
        bigger=sum(1 for r in ok if r.get("bigger")),
        identical=sum(1 for r in ok if r.get("render_identical")),
        wall_s=sum(r.get("wall_s", 0.0) for r in mine),
        cpu_s=sum(r.get("cpu_s", 0.0) for r in mine),
    )


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


TABLE_HEAD = (
    "candidate",
    "files",
    "median size",
    "mean SSIM",
    "worst SSIM",
    "text changed",
    "words changed",
    "bigger",
    "errors",
    "wall s",
    "CPU s",
)


def table_rows(stats: list[Stats]) -> list[list[str]]:
    return [
        [
            s.candidate,
            str(s.ok),
            _fmt(s.median_ratio, ".3f") + ("x" if s.median_ratio is not None else ""),
            _fmt(s.mean_ssim, ".4f"),
            _fmt(s.worst_ssim, ".4f"),
            str(s.text_changed) + (f" (+{s.text_unknown}?)" if s.text_unknown else ""),
            str(s.words_changed),
            str(s.bigger),
            str(s.errors),
            f"{s.wall_s:.1f}",
            f"{s.cpu_s:.1f}",
        ]
        for s in stats
    ]


def text_table(head: Sequence[str], body: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(head, widths, strict=True))
    )
    out = [line, "-" * len(line)]
    for r in body:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(out)


def md_table(head: Sequence[str], body: list[list[str]]) -> str:
    out = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


# ------------------------------------------------------------------ checks


@dataclass
class Check:
    aim: str
    status: str  # PASS, FAIL, n/a
    detail: str


def _common(rows: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of the files on which every named candidate produced an output."""
    by_file: dict[str, set[str]] = {}
    for r in rows:
        if r.get("ok"):
            by_file.setdefault(r["file"], set()).add(r["candidate"])
    files = {f for f, c in by_file.items() if set(names) <= c}
    return [r for r in rows if r["file"] in files and r["candidate"] in names]


def _all_files(rows: list[dict[str, Any]]) -> set[str]:
    return {r["file"] for r in rows}


def _describe(s: Stats) -> str:
    return (
        f"{_fmt(s.median_ratio, '.3f')} (SSIM mean {_fmt(s.mean_ssim, '.4f')}, "
        f"worst {_fmt(s.worst_ssim, '.4f')})"
    )


def aims(rows: list[dict[str, Any]], levels: Sequence[str], anchors: Sequence[str]) -> list[Check]:
    checks: list[Check] = []
    n_files = len(_all_files(rows))

    def st(name: str, subset: list[dict[str, Any]] | None = None) -> Stats:
        return stats_for(name, rows if subset is None else subset)

    # medium: <= 0.9 x the smallest anchor that keeps SSIM >= 0.99
    if "medium" in levels:
        ours = st("ours-medium")
        good = [
            a
            for a in anchors
            if (s := st(a)).ok == s.files and s.worst_ssim is not None and s.worst_ssim >= SSIM_GATE
        ]
        quality_ok = (
            ours.errors == 0 and ours.worst_ssim is not None and ours.worst_ssim >= SSIM_GATE
        )
        text_ok = ours.errors == 0 and ours.text_changed == 0 and ours.text_unknown == 0
        if not good:
            checks.append(
                Check(
                    "medium: median <= 0.9 x smallest anchor with SSIM >= 0.99",
                    "n/a",
                    "no anchor keeps worst-page SSIM >= 0.99 on every file",
                )
            )
        else:
            subset = _common(rows, ["ours-medium", *good])
            ref_name = min(good, key=lambda a: st(a, subset).median_ratio or float("inf"))
            ref, mine = st(ref_name, subset), st("ours-medium", subset)
            size_ok = (
                mine.median_ratio is not None
                and ref.median_ratio is not None
                and mine.median_ratio <= 0.9 * ref.median_ratio
            )
            checks.append(
                Check(
                    "medium: median size <= 0.9 x the smallest anchor with worst SSIM >= 0.99",
                    "PASS" if size_ok else "FAIL",
                    f"ours {_fmt(mine.median_ratio, '.3f')} vs {ref_name} "
                    f"{_fmt(ref.median_ratio, '.3f')} "
                    f"(target <= {_fmt(ref.median_ratio and 0.9 * ref.median_ratio, '.3f')}; "
                    f"qualifying anchors: {', '.join(good)}; {mine.ok} files in common)",
                )
            )
        checks.append(
            Check(
                "medium: worst-page SSIM >= 0.99 in every file",
                "PASS" if quality_ok else "FAIL",
                f"worst {_fmt(ours.worst_ssim, '.4f')} ({ours.worst_file}); errors {ours.errors}",
            )
        )
        checks.append(
            Check(
                "medium: extractable text unchanged in every file",
                "PASS" if text_ok else "FAIL",
                f"changed in {ours.text_changed}, unknown in {ours.text_unknown}, "
                f"errors {ours.errors}",
            )
        )

    # maximum: <= 0.9 x min(/screen, PDF Smaller medium) at SSIM no lower
    if "maximum" in levels:
        refs = [a for a in ("gs-screen", "pdfsmaller-medium") if a in anchors]
        if not refs:
            checks.append(
                Check("maximum vs /screen and PDF Smaller medium", "n/a", "anchors not run")
            )
        else:
            subset = _common(rows, ["ours-maximum", *refs])
            ref_name = min(refs, key=lambda a: st(a, subset).median_ratio or float("inf"))
            ref, mine = st(ref_name, subset), st("ours-maximum", subset)
            ok = (
                mine.median_ratio is not None
                and ref.median_ratio is not None
                and mine.median_ratio <= 0.9 * ref.median_ratio
                and (mine.mean_ssim or 0) >= (ref.mean_ssim or 0)
                and (mine.worst_ssim or 0) >= (ref.worst_ssim or 0)
                and st("ours-maximum").errors == 0
            )
            checks.append(
                Check(
                    "maximum: median size <= 0.9 x min(/screen, PDF Smaller medium), "
                    "SSIM (mean and worst) no lower",
                    "PASS" if ok else "FAIL",
                    f"ours {_describe(mine)} vs {ref_name} {_describe(ref)}; "
                    f"target <= {_fmt(ref.median_ratio and 0.9 * ref.median_ratio, '.3f')}; "
                    f"{mine.ok} files in common",
                )
            )

    # lossless: no bigger than qpdf, identical rendering
    if "lossless" in levels and "qpdf" in anchors:
        ours_rows = {r["file"]: r for r in rows if r["candidate"] == "ours-lossless"}
        qpdf_rows = {r["file"]: r for r in rows if r["candidate"] == "qpdf"}
        bigger = [
            f
            for f, r in ours_rows.items()
            if r.get("ok")
            and qpdf_rows.get(f, {}).get("ok")
            and r["output_bytes"] > qpdf_rows[f]["output_bytes"]
        ]
        changed = [f for f, r in ours_rows.items() if r.get("ok") and not r.get("render_identical")]
        failed = [f for f, r in ours_rows.items() if not r.get("ok")]
        checks.append(
            Check(
                "lossless: no file bigger than qpdf's, rendering identical",
                "PASS" if not (bigger or changed or failed) else "FAIL",
                f"bigger than qpdf: {len(bigger)} {bigger[:5]}; "
                f"rendering changed: {len(changed)} {changed[:5]}; errors {len(failed)}",
            )
        )

    # never bigger than the input
    for level in levels:
        s = st(f"ours-{level}")
        names = [r["file"] for r in rows if r["candidate"] == f"ours-{level}" and r.get("bigger")]
        checks.append(
            Check(
                f"{level}: no output bigger than its input",
                "PASS" if s.bigger == 0 and s.errors == 0 else "FAIL",
                f"bigger {s.bigger} {names[:5]}; errors {s.errors}",
            )
        )

    # time: <= 1.5 x Ghostscript's (CPU-seconds on the same files)
    for level in levels:
        gs_ref = "gs-screen" if level in ("high", "maximum") else "gs-ebook"
        if gs_ref not in anchors:
            continue
        subset = _common(rows, [f"ours-{level}", gs_ref])
        mine, ref = st(f"ours-{level}", subset), st(gs_ref, subset)
        checks.append(
            Check(
                f"{level}: time <= 1.5 x Ghostscript {gs_ref.split('-')[1]}'s",
                "PASS" if ref.cpu_s > 0 and mine.cpu_s <= 1.5 * ref.cpu_s else "FAIL",
                f"CPU {mine.cpu_s:.1f} s vs {ref.cpu_s:.1f} s "
                f"({mine.cpu_s / ref.cpu_s if ref.cpu_s else float('nan'):.2f}x); "
                f"wall {mine.wall_s:.1f} s vs {ref.wall_s:.1f} s; {mine.ok} files in common",
            )
        )
    if n_files == 0:
        checks.append(Check("files measured", "n/a", "none"))
    return checks


# -------------------------------------------------------------------- main


def tool_versions(ocrmypdf: str | None) -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return "missing"
        text = (p.stdout or p.stderr).strip()
        return text.splitlines()[0] if text else "?"

    import importlib.metadata

    import pypdfium2

    versions = {
        "ghostscript": first_line(["gs", "--version"]),
        "qpdf": first_line(["qpdf", "--version"]),
        "pdftotext": first_line(["pdftotext", "-v"]),
        "pypdfium2": f"{pypdfium2.PYPDFIUM_INFO} (pdfium {pypdfium2.PDFIUM_INFO})",
        "scikit-image": importlib.metadata.version("scikit-image"),
        "python": platform.python_version(),
    }
    if ocrmypdf:
        versions["ocrmypdf"] = first_line([ocrmypdf, "--version"])
    git = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    versions["pressroom"] = git.stdout.strip() or "?"
    # the working tree may hold uncommitted work: fingerprint what was measured
    service = REPO / "pressroom" / "services" / "compression.py"
    if service.is_file():
        digest = hashlib.sha256(service.read_bytes()).hexdigest()[:12]
        versions["pressroom"] += f" (services/compression.py sha256 {digest})"
    return versions


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="corpus folder with manifest.tsv (default %(default)s)",
    )
    p.add_argument("--category", help="comma-separated categories (default: all)")
    p.add_argument(
        "--limit", type=int, help="at most N files, taken round-robin over the categories"
    )
    p.add_argument(
        "--levels",
        default=",".join(LEVELS),
        help="comma-separated levels of ours (default %(default)s)",
    )
    p.add_argument(
        "--anchors",
        help="comma-separated anchors (default: all available): "
        "gs-ebook, gs-screen, qpdf, ocrmypdf-O3, pdfsmaller-medium",
    )
    p.add_argument(
        "--ocrmypdf",
        default=os.environ.get("PRESSROOM_BENCH_OCRMYPDF") or shutil.which("ocrmypdf"),
        help="path of the ocrmypdf program (default: $PRESSROOM_BENCH_OCRMYPDF or PATH)",
    )
    p.add_argument(
        "--jobs", type=int, default=2, help="files measured at once (default %(default)s)"
    )
    p.add_argument(
        "--dpi", type=int, default=100, help="render resolution for SSIM (default %(default)s)"
    )
    p.add_argument(
        "--max-pages",
        type=int,
        default=20,
        help="pages compared per file, spread evenly (default %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="time-out of every subprocess, seconds (default %(default)s)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=240,
        help="start no new file after this many minutes (default %(default)s)",
    )
    p.add_argument("--tmpdir", help="where the temporary folders go (default: the system's)")
    p.add_argument(
        "--keep", type=Path, help="copy every output into this folder (outside the repository)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=OUT_DIR,
        help="folder for compression.json and compression.md (default %(default)s)",
    )
    args = p.parse_args(argv)
    args.levels = [x.strip() for x in args.levels.split(",") if x.strip()]
    bad = [x for x in args.levels if x not in LEVELS]
    if bad:
        p.error(f"unknown level(s) {bad}; choose from {', '.join(LEVELS)}")
    args.categories = [x.strip() for x in args.category.split(",")] if args.category else None
    if args.ocrmypdf and not (Path(args.ocrmypdf).is_file() or shutil.which(args.ocrmypdf)):
        print(f"note: --ocrmypdf {args.ocrmypdf} not found", file=sys.stderr)
        args.ocrmypdf = None
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    files = load_corpus(args.corpus, args.categories, args.limit)
    anchors = anchor_candidates(args.ocrmypdf)
    if not args.ocrmypdf:
        print("note: ocrmypdf not found (pass --ocrmypdf PATH): the ocrmypdf-O3 anchor is skipped")
    if args.anchors is not None:
        wanted = {x.strip() for x in args.anchors.split(",") if x.strip()}
        unknown = wanted - {a.name for a in anchor_candidates("ocrmypdf")}
        if unknown:
            sys.exit(f"unknown anchor(s): {', '.join(sorted(unknown))}")
        anchors = [a for a in anchors if a.name in wanted]
    for tool in ("gs", "qpdf", "pdftotext"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (apt-get install ghostscript qpdf poppler-utils)")
    candidates = [Candidate(f"ours-{lvl}", level=lvl) for lvl in args.levels] + anchors
    names = [c.name for c in candidates]
    anchor_names = [a.name for a in anchors]

    started = time.time()
    deadline = started + args.deadline * 60
    print(
        f"{len(files)} files x {len(candidates)} candidates ({', '.join(names)}), "
        f"{args.jobs} at a time; SSIM at {args.dpi} dpi on <= {args.max_pages} pages/file"
    )
    jobs = [
        Job(f, candidates, args.dpi, args.max_pages, args.timeout, deadline, args.tmpdir, args.keep)
        for f in sorted(files, key=lambda f: -f.size)  # biggest first: shorter tail
    ]
    rows: list[dict[str, Any]] = []
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=args.jobs, initializer=_worker_init
    ) as pool:
        futures = {pool.submit(process_file, j): j for j in jobs}
        try:
            for done, fut in enumerate(concurrent.futures.as_completed(futures), 1):
                j = futures[fut]
                try:
                    file_rows = fut.result()
                except Exception as exc:
                    file_rows = [
                        {
                            "file": j.file.file,
                            "category": j.file.category,
                            "pages": j.file.pages,
                            "input_bytes": j.file.size,
                            "candidate": c.name,
                            "ok": False,
                            "error": f"harness: {type(exc).__name__}: {exc}",
                        }
                        for c in candidates
                    ]
                rows.extend(file_rows)
                errs = [r["candidate"] for r in file_rows if not r.get("ok")]
                print(
                    f"[{done}/{len(jobs)}] {j.file.file} ({j.file.size / 1e6:.1f} MB) "
                    f"{time.time() - started:.0f} s"
                    + (f"  errors: {', '.join(errs)}" if errs else ""),
                    flush=True,
                )
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    elapsed = time.time() - started

    order = {n: i for i, n in enumerate(names)}
    rows.sort(
        key=lambda r: (
            CATEGORY_ORDER.index(r["category"]) if r["category"] in CATEGORY_ORDER else 99,
            r["file"],
            order[r["candidate"]],
        )
    )
    categories = sorted(
        {r["category"] for r in rows},
        key=lambda c: CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else 99,
    )
    groups = [(c, [r for r in rows if r["category"] == c]) for c in categories] + [
        ("overall", rows)
    ]
    summary = {g: [asdict(stats_for(n, grp)) for n in names] for g, grp in groups}
    checks = aims(rows, args.levels, anchor_names)

    # ---- print
    text_parts: list[str] = []
    command = " ".join(["bench/compression.py", *(argv if argv is not None else sys.argv[1:])])
    md_parts = [
        "# Compression benchmark",
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {len(files)} files, "
        f"{elapsed / 60:.1f} min; `{command}`.",
        "",
        f"Size: median of output/input. SSIM: pages rendered in grayscale at {args.dpi} dpi "
        f"(<= {args.max_pages} pages per file, spread evenly), "
        "mean over files of the per-file mean, "
        "and the worst page of any file. Text changed: files whose `pdftotext` output "
        "(whitespace-normalised) differs; words changed: of those, the files whose words "
        "differ, not only their order. Bigger: outputs larger than their input. "
        "Time: sum over files; CPU s counts the candidate's processes and all their children.",
        "",
    ]
    for g, grp in groups:
        stats = [stats_for(n, grp) for n in names]
        n = len({r["file"] for r in grp})
        body = table_rows(stats)
        text_parts.append(f"\n== {g} ({n} files)\n" + text_table(TABLE_HEAD, body))
        md_parts += [f"## {g} ({n} files)", "", md_table(TABLE_HEAD, body), ""]
    check_lines = [f"[{c.status}] {c.aim}: {c.detail}" for c in checks]
    print("\n".join(text_parts))
    print("\n== aims (issue 3)\n" + "\n".join(check_lines))
    print(f"\n{len(files)} files, {len(candidates)} candidates, {elapsed / 60:.1f} min")
    md_parts += (
        ["## Aims (issue 3)", ""] + [f"- **{c.status}** {c.aim}: {c.detail}" for c in checks] + [""]
    )
    versions = tool_versions(args.ocrmypdf)
    md_parts += [
        "## Candidates",
        "",
        *[f"- `{c.name}`: `{c.describe()}`" for c in candidates],
        "",
        "Versions: " + "; ".join(f"{k} {v}" for k, v in versions.items()),
        "",
    ]

    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "started": datetime.fromtimestamp(started, UTC).isoformat(),
        "elapsed_s": round(elapsed, 1),
        "argv": list(argv if argv is not None else sys.argv[1:]),
        "corpus": str(args.corpus),
        "files": len(files),
        "dpi": args.dpi,
        "max_pages": args.max_pages,
        "jobs": args.jobs,
        "timeout_s": args.timeout,
        "cpus": os.cpu_count(),
        "timing": "candidates of a file run one after the other in one worker; "
        "cpu_s = user+sys of the candidate's processes and their descendants",
        "candidates": {c.name: c.describe() for c in candidates},
        "versions": versions,
    }
    (args.out / "compression.json").write_text(
        json.dumps(
            {"meta": meta, "summary": summary, "checks": [asdict(c) for c in checks], "rows": rows},
            indent=1,
        )
    )
    (args.out / "compression.md").write_text("\n".join(md_parts))
    print(f"wrote {args.out / 'compression.json'} and {args.out / 'compression.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
