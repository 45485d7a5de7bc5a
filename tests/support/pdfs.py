"""Small real PDFs made on the spot with Ghostscript and qpdf (both are
installed by the project's set-up), so every test knows its input's origin."""

from __future__ import annotations

import subprocess
from pathlib import Path


def text_pdf(path: Path, pages: int = 3, words: str = "Pressroom test page") -> Path:
    """A text PDF with ``words`` and the page number on each page."""
    body = " ".join(
        f"72 700 moveto ({words} {n}) show 72 680 moveto (Line two of page {n}) show showpage"
        for n in range(1, pages + 1)
    )
    subprocess.run(
        [
            "gs",
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=pdfwrite",
            f"-sOutputFile={path}",
            "-c",
            f"/Helvetica findfont 14 scalefont setfont {body}",
        ],
        check=True,
        timeout=60,
    )
    return path


def _rewritten(path: Path, pages: int, *qpdf_args: str) -> Path:
    """A text PDF passed through ``qpdf *qpdf_args``."""
    src = text_pdf(path.with_suffix(".src.pdf"), pages)
    subprocess.run(["qpdf", *qpdf_args, str(src), str(path)], check=True, timeout=60)
    src.unlink()
    return path


def uncompressed_pdf(path: Path, pages: int = 3) -> Path:
    """A text PDF with its streams stored uncompressed: lossless work shrinks it."""
    return _rewritten(path, pages, "--stream-data=uncompress", "--object-streams=disable")


def optimal_pdf(path: Path) -> Path:
    """A PDF qpdf cannot make smaller (already object-streamed and recompressed)."""
    return _rewritten(
        path, 1, "--object-streams=generate", "--recompress-flate", "--compression-level=9"
    )


def encrypted_pdf(path: Path, password: str = "secret") -> Path:
    """An AES-256 encrypted PDF that needs ``password`` to open."""
    src = text_pdf(path.with_suffix(".src.pdf"), 1)
    subprocess.run(
        ["qpdf", "--encrypt", password, password + "-owner", "256", "--", str(src), str(path)],
        check=True,
        timeout=60,
    )
    src.unlink()
    return path


def truncated_pdf(path: Path) -> Path:
    src = text_pdf(path.with_suffix(".src.pdf"), 2)
    path.write_bytes(src.read_bytes()[:1200])
    src.unlink()
    return path


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
