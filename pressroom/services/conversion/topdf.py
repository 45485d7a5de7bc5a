"""Into PDF: images through img2pdf (the pixels are embedded as they are,
never re-encoded) and office documents through LibreOffice headless, when it
is installed. Both run as programs through the one runner."""

from __future__ import annotations

import shutil
from pathlib import Path

from pressroom.engines.runner import run
from pressroom.errors import EngineError, EngineMissingError

#: LibreOffice's command names, tried in order
SOFFICE = ("soffice", "libreoffice")
#: LibreOffice maps far more address space than it uses
OFFICE_MEMORY = 6 * 1024**3
#: file name extensions LibreOffice is told the upload has (it imports by
#: content too, but the name settles ambiguous zips: docx, xlsx, odt...)
OFFICE_EXTENSIONS = (
    ".docx",
    ".doc",
    ".odt",
    ".rtf",
    ".xlsx",
    ".xls",
    ".ods",
    ".pptx",
    ".ppt",
    ".odp",
)


def office_program() -> str | None:
    for name in SOFFICE:
        found = shutil.which(name)
        if found:
            return found
    return None


def office_available() -> bool:
    return office_program() is not None


def office_missing() -> EngineMissingError:
    return EngineMissingError(
        "Office documents are converted to PDF by LibreOffice, which is not installed "
        "on this server (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui "
        "libreoffice-impress-nogui).",
        program="libreoffice",
    )


def image_to_pdf(src: Path, dest: Path, *, timeout: float) -> None:
    """Wrap the image in a PDF page without touching its pixels (img2pdf)."""
    result = run(["img2pdf", "--output", dest, src], timeout=timeout)
    if result.returncode != 0 or not dest.exists():
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        detail = lines[-1][-300:] if lines else f"exit {result.returncode}"
        if "alpha" in detail.lower():
            raise EngineError(
                "Images with a transparent background cannot be put into a PDF losslessly; "
                "save the image without transparency and try again.",
                detail=detail,
            )
        raise EngineError("The image could not be put into a PDF.", detail=detail)


def office_to_pdf(src: Path, outdir: Path, *, timeout: float) -> Path:
    """Convert an office document with LibreOffice headless, with a profile
    folder of its own so that runs do not share (or lock) one."""
    program = office_program()
    if program is None:
        raise office_missing()
    profile = outdir / "lo-profile"
    profile.mkdir(exist_ok=True)
    result = run(
        [
            program,
            f"-env:UserInstallation={profile.resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            outdir,
            src,
        ],
        timeout=timeout,
        memory_bytes=OFFICE_MEMORY,
    )
    produced = outdir / (src.stem + ".pdf")
    if result.returncode != 0 or not produced.exists() or produced.stat().st_size == 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise EngineError(
            "LibreOffice could not convert this document to PDF.",
            detail=lines[-1][-300:] if lines else f"exit {result.returncode}",
        )
    return produced
