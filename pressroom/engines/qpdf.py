"""qpdf: inspection (encryption, page count, damage) and lossless rewriting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pressroom.engines.runner import run
from pressroom.errors import DamagedPDFError, EncryptedPDFError

# qpdf's documented exit codes: 0 success, 2 errors, 3 warnings only (the file
# was readable, possibly after repair). With --requires-password: 0 means a
# password is required, 2 not encrypted, 3 encrypted but openable.
EXIT_OK = 0
EXIT_ERROR = 2
EXIT_WARNINGS = 3


@dataclass(frozen=True)
class PdfInfo:
    pages: int


def _password_args(password: str | None) -> list[str]:
    return [f"--password={password}"] if password else []


def inspect(path: Path, *, timeout: float, password: str | None = None) -> PdfInfo:
    """Pages of a PDF; raises EncryptedPDFError or DamagedPDFError.

    One qpdf run in the common case; only a file qpdf cannot open is probed
    again, to tell "needs a password" from "damaged"."""
    result = run(["qpdf", *_password_args(password), "--show-npages", path], timeout=timeout)
    if result.returncode not in (EXIT_OK, EXIT_WARNINGS):
        probe = run(["qpdf", "--requires-password", path], timeout=timeout)
        if probe.returncode == EXIT_OK:  # encrypted, and no or a wrong password
            raise EncryptedPDFError(
                "The password given does not open this PDF." if password else None
            )
        raise DamagedPDFError(detail=_last_line(result.stderr, path))
    try:
        pages = int(result.stdout.strip())
    except ValueError:
        raise DamagedPDFError(detail="no page count") from None
    if pages < 1:
        raise DamagedPDFError("The PDF has no pages.")
    return PdfInfo(pages=pages)


def optimize_lossless(
    src: Path,
    dest: Path,
    *,
    timeout: float,
    password: str | None = None,
    try_recompressed: bool = True,
) -> None:
    """Rewrite ``src`` to ``dest`` losslessly: object streams, unfiltered
    streams compressed at level 9, unreferenced resources dropped.

    Recompressing existing Flate streams helps some files and hurts others
    (qpdf drops PNG predictors, which can make an image several times
    bigger), so both rewrites are made and the smaller is kept. A file whose
    Flate streams come from such a rewrite or were just written at level 9
    (the output of the font and image passes) gains nothing from the second
    one: ``try_recompressed=False`` skips it (the costly half on large
    drawings: 1.8 CPU-s on a 7.5 MB one)."""
    plain = _lossless(src, dest, timeout=timeout, password=password)
    if not try_recompressed:
        return
    recompressed = dest.with_name(dest.stem + ".recompressed.pdf")
    try:
        _lossless(src, recompressed, timeout=timeout, password=password, recompress=True)
    except DamagedPDFError:
        return
    if recompressed.stat().st_size < plain:
        recompressed.replace(dest)
    else:
        recompressed.unlink()


def _lossless(
    src: Path, dest: Path, *, timeout: float, password: str | None, recompress: bool = False
) -> int:
    result = run(
        [
            "qpdf",
            *_password_args(password),
            "--object-streams=generate",
            "--compress-streams=y",
            *(["--recompress-flate"] if recompress else []),
            "--compression-level=9",
            "--remove-unreferenced-resources=yes",
            "--decode-level=generalized",
            "--deterministic-id",
            src,
            dest,
        ],
        timeout=timeout,
    )
    if result.returncode not in (EXIT_OK, EXIT_WARNINGS) or not dest.exists():
        dest.unlink(missing_ok=True)
        raise DamagedPDFError(detail=_last_line(result.stderr, src, dest))
    return dest.stat().st_size


def rewrite(
    src: Path,
    dest: Path,
    *,
    timeout: float,
    password: str | None = None,
    decrypt: bool = False,
    linearize: bool = False,
) -> None:
    """Final rewrite: optionally decrypted and linearized."""
    args: list[str | Path] = ["qpdf", *_password_args(password)]
    if decrypt:
        args.append("--decrypt")
    if linearize:
        args.append("--linearize")
    result = run([*args, src, dest], timeout=timeout)
    if result.returncode not in (EXIT_OK, EXIT_WARNINGS) or not dest.exists():
        dest.unlink(missing_ok=True)
        raise DamagedPDFError(detail=_last_line(result.stderr, src, dest))


def _last_line(text: str, *paths: Path) -> str:
    """qpdf's last word, without the server's paths (it reaches the client)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    for path in paths:
        line = line.replace(str(path), "the file")
    return line[-300:]
