"""ConversionService: a PDF into text, Markdown, HTML, DOCX, XLSX, CSV, JSON or
page images; and images or office documents into PDF.

The untrusted PDF is read in child processes (extract.py, render.py, through
pressroom.engines.isolated.run_module), a batch of pages at a time, so a
hostile file costs one child under a time-out and a memory cap, and progress
(and a cancel) is noticed between batches. The writers then work on the
plain structure the children printed, in the worker.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from pressroom.engines.isolated import run_module
from pressroom.errors import PageRangeError, ValidationError
from pressroom.jobs.progress import Progress
from pressroom.services.conversion import data, office, text
from pressroom.services.conversion.document import Document, build
from pressroom.services.conversion.options import (
    FORMATS,
    CsvOptions,
    DocxOptions,
    HtmlOptions,
    ImagesOptions,
    JsonOptions,
    MarkdownOptions,
    TxtOptions,
    XlsxOptions,
    select_pages,
)
from pressroom.services.conversion.options import PageRangeError as RangeProblem
from pressroom.services.conversion.topdf import image_to_pdf, office_to_pdf

#: pages read by one extractor child (progress and cancel between batches)
BATCH = 10
#: pages rendered by one render child
RENDER_BATCH = 8


def parse_options(fmt: str, options: dict[str, Any]) -> BaseModel:
    """The options of ``fmt`` validated; an unknown format or option is a
    400 that lists the valid ones."""
    if fmt not in FORMATS:
        raise ValidationError(
            f"Unknown format {fmt!r}.",
            errors=[{"field": "format", "problem": f"must be one of {', '.join(FORMATS)}"}],
            allowed_formats=list(FORMATS),
        )
    model = FORMATS[fmt].options
    try:
        return model.model_validate(options)
    except PydanticValidationError as exc:
        raise ValidationError(
            f"Some options of format {fmt!r} are invalid.",
            errors=[
                {
                    "field": "options." + ".".join(str(p) for p in err["loc"]),
                    "problem": err["msg"],
                }
                for err in exc.errors(include_url=False)
            ],
            allowed_options=sorted(model.model_fields),
        ) from None


@dataclass
class ConversionResult:
    output: Path
    extension: str
    mime: str
    summary: dict[str, Any] = field(default_factory=dict)


class ConversionService:
    def __init__(self, *, engine_timeout: float) -> None:
        self.engine_timeout = engine_timeout

    # -- PDF into another format ----------------------------------------------------
    def convert_pdf_data(
        self,
        src: Path,
        workdir: Path,
        fmt: str,
        options: dict[str, Any],
        progress: Progress,
        *,
        pages: int | None = None,
        password: str | None = None,
    ) -> ConversionResult:
        """Convert ``src`` into ``fmt`` inside ``workdir``."""
        parsed = parse_options(fmt, options)
        started = time.monotonic()
        if pages is None:
            pages = int(self._child("render", [src, workdir, "--count"], password)["page_count"])
        try:
            selected = select_pages(getattr(parsed, "pages", None), pages)
        except RangeProblem as exc:
            raise PageRangeError(str(exc), pages=pages) from None
        spec = FORMATS[fmt]
        dest = workdir / f"result{spec.extension}"
        summary: dict[str, Any] = {"format": fmt, "pages": pages, "pages_converted": len(selected)}
        if isinstance(parsed, ImagesOptions):
            self._images(src, workdir, selected, parsed, dest, progress, password)
            summary["images"] = len(selected)
        else:
            doc = self._read(src, workdir, selected, parsed, progress, password)
            progress.report(88, "writing", f"Writing the {fmt} file")
            summary.update(self._write(doc, parsed, dest))
            summary["tables"] = len(doc.tables)
            summary["headings"] = sum(1 for p in doc.pages for b in p.blocks if b.kind == "heading")
            summary["pictures"] = sum(len(p.pictures) for p in doc.pages)
        extension, mime = spec.extension, spec.mime
        if summary.get("zipped"):
            extension, mime = ".zip", "application/zip"
        summary["output_size"] = dest.stat().st_size
        summary["seconds"] = round(time.monotonic() - started, 3)
        return ConversionResult(dest, extension, mime, summary)

    def _child(self, module: str, args: list[Any], password: str | None) -> dict[str, Any]:
        argv: list[str | Path] = [str(a) if not isinstance(a, Path) else a for a in args]
        if password:
            argv += ["--password", password]
        return run_module(
            f"pressroom.services.conversion.{module}", argv, timeout=self.engine_timeout
        )

    def _read(
        self,
        src: Path,
        workdir: Path,
        selected: list[int],
        options: BaseModel,
        progress: Progress,
        password: str | None,
    ) -> Document:
        pictures = getattr(options, "includeImages", False)
        picture_dir = workdir / "pictures"
        if pictures:
            picture_dir.mkdir(exist_ok=True)
        raw: dict[str, Any] = {"pages": []}
        for start in range(0, len(selected), BATCH):
            batch = selected[start : start + BATCH]
            progress.report(
                5 + 80 * start / max(1, len(selected)),
                "reading",
                f"Reading pages {batch[0] + 1}-{batch[-1] + 1} of {len(selected)} selected",
            )
            args: list[Any] = [src, "--pages", ",".join(map(str, batch))]
            if pictures:
                args += [
                    "--pictures",
                    picture_dir,
                    "--picture-dpi",
                    getattr(options, "imageDpi", 150),
                ]
            if isinstance(options, TxtOptions) and options.preserveLayout:
                args.append("--layout")
            if isinstance(options, JsonOptions) and options.includeWords:
                args.append("--words")
            if not getattr(options, "includeTables", True) and not isinstance(
                options, XlsxOptions | CsvOptions
            ):
                args.append("--no-tables")
            part = self._child("extract", args, password)
            raw["pages"] += part["pages"]
            raw["page_count"], raw["metadata"] = part["page_count"], part["metadata"]
        if not selected:
            raw.update(page_count=0, metadata={})
        return build(raw, picture_dir if pictures else None)

    def _write(self, doc: Document, options: BaseModel, dest: Path) -> dict[str, Any]:
        if isinstance(options, TxtOptions):
            text.write_txt(doc, options, dest)
        elif isinstance(options, MarkdownOptions):
            text.write_markdown(doc, options, dest)
        elif isinstance(options, HtmlOptions):
            text.write_html(doc, options, dest)
        elif isinstance(options, DocxOptions):
            office.write_docx(doc, options, dest)
        elif isinstance(options, XlsxOptions):
            return {"sheets": max(1, office.write_xlsx(doc, options, dest))}
        elif isinstance(options, CsvOptions):
            _tables, zipped = office.write_csv(doc, options, dest)
            return {"zipped": zipped}
        elif isinstance(options, JsonOptions):
            data.write_json(doc, options, dest)
        else:  # pragma: no cover - FORMATS and this dispatch are kept together
            raise ValueError(type(options).__name__)
        return {}

    def _images(
        self,
        src: Path,
        workdir: Path,
        selected: list[int],
        options: ImagesOptions,
        dest: Path,
        progress: Progress,
        password: str | None,
    ) -> None:
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as archive:
            for start in range(0, len(selected), RENDER_BATCH):
                batch = selected[start : start + RENDER_BATCH]
                progress.report(
                    5 + 90 * start / max(1, len(selected)),
                    "rendering",
                    f"Rendering pages {batch[0] + 1}-{batch[-1] + 1} at {options.dpi} dpi",
                )
                folder = workdir / f"render-{start}"
                folder.mkdir()
                result = self._child(
                    "render",
                    [
                        src,
                        folder,
                        "--pages",
                        ",".join(map(str, batch)),
                        "--dpi",
                        options.dpi,
                        "--format",
                        options.imageFormat,
                        "--quality",
                        options.quality,
                    ],
                    password,
                )
                for entry in result["files"]:
                    archive.write(folder / entry["file"], entry["file"])
                shutil.rmtree(folder, ignore_errors=True)

    # -- into PDF ----------------------------------------------------------------------
    def convert_to_pdf(
        self, src: Path, workdir: Path, kind: str, progress: Progress
    ) -> ConversionResult:
        """An image (``kind`` "image") or an office document ("office") as a PDF."""
        started = time.monotonic()
        if kind == "image":
            progress.report(10, "converting", "Putting the image into a PDF page (lossless)")
            dest = workdir / "result.pdf"
            image_to_pdf(src, dest, timeout=self.engine_timeout)
            engine = "img2pdf"
        else:
            progress.report(10, "converting", "Converting with LibreOffice")
            out = workdir / "office-out"
            out.mkdir()
            dest = office_to_pdf(src, out, timeout=self.engine_timeout)
            engine = "libreoffice"
        summary = {
            "format": "pdf",
            "engine": engine,
            "input_size": src.stat().st_size,
            "output_size": dest.stat().st_size,
            "seconds": round(time.monotonic() - started, 3),
        }
        return ConversionResult(dest, ".pdf", "application/pdf", summary)

    # -- preview -------------------------------------------------------------------------
    def get_conversion_preview(
        self, src: Path, *, password: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """What a conversion of ``src`` would find and cost, measured on a
        sample of its pages (pressroom.services.conversion.preview)."""
        argv: list[str | Path] = [src]
        if password:
            argv += ["--password", password]
        return run_module(
            "pressroom.services.conversion.preview",
            argv,
            timeout=timeout or self.engine_timeout,
        )
