"""OCRService: scanned pages made searchable, and the text of every page.

``process_ocr_data`` turns a PDF or an image (PNG, JPEG, TIFF with any number
of pages) into a searchable PDF (or PDF/A), plain text, words with their
boxes and confidence (JSON), or hOCR, through OCRmyPDF over Tesseract
(pressroom.engines.ocrmypdf). ``extract_text`` gives the text of each page,
running OCR only on the pages that have none. ``get_ocr_preview`` says what a
document holds and what OCR would cost, without running it.

Everything that parses the upload runs in a child process: img2pdf for
images, pressroom.services.ocr_inspect for the PDF, OCRmyPDF itself, and
pressroom.services.ocr_layer, which makes the text layer of a searchable PDF
lean.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from defusedxml import ElementTree as SafeET

from pressroom.engines import ocrmypdf, poppler
from pressroom.engines.isolated import run_module
from pressroom.engines.runner import run
from pressroom.errors import DamagedImageError, EngineError, SignedPDFError, ValidationError
from pressroom.jobs.progress import Progress
from pressroom.storage import sniff

log = logging.getLogger(__name__)

QUALITIES = ("fast", "balanced", "accurate")
MODES = ("skip", "redo", "force")
OUTPUT_FORMATS = ("searchable_pdf", "pdfa", "text", "json", "hocr")

XHTML = "http://www.w3.org/1999/xhtml"
ET.register_namespace("", XHTML)


@dataclass(frozen=True)
class QualityPreset:
    """What a quality level changes in OCRmyPDF and Tesseract (docs/api.md)."""

    args: tuple[str, ...]
    deskew: bool
    clean: bool
    #: CPU-seconds of OCR per megapixel of page image, measured by
    #: bench/ocr.py on this project's 2-core machine (the preview's estimate
    #: divides them by the cores a run uses)
    seconds_per_mpixel: float
    description: str


PRESETS: dict[str, QualityPreset] = {
    "fast": QualityPreset(
        args=(
            "--optimize",
            "0",
            "--fast-web-view",
            "100000",
            "--max-ocr-image-mpixels",
            "3",
        ),
        deskew=False,
        clean=False,
        seconds_per_mpixel=0.52,
        description=(
            "Tesseract reads each page downsampled to at most 3 megapixels "
            "(about 200 dpi on A4; the page image itself is kept as it is); "
            "no optimisation or linearisation pass on the output."
        ),
    ),
    "balanced": QualityPreset(
        args=("--optimize", "1"),
        deskew=False,
        clean=False,
        seconds_per_mpixel=0.52,
        description=(
            "OCRmyPDF's defaults: each page read at its own resolution, "
            "lossless optimisation of the output."
        ),
    ),
    "accurate": QualityPreset(
        args=("--optimize", "1"),
        deskew=True,
        clean=False,
        seconds_per_mpixel=0.67,
        description=(
            "Pages straightened before Tesseract reads them (deskew); the straightened "
            "page image replaces the original (a JPEG scan encoded again with its own "
            "quantisation tables)."
        ),
    ),
}


@dataclass(frozen=True)
class OCROptions:
    """The ``options`` of POST /api/ocr, validated (pressroom.api.schemas.OcrForm)."""

    languages: tuple[str, ...] = ("eng",)
    quality: str = "balanced"
    mode: str = "skip"
    output_format: str = "searchable_pdf"
    deskew: bool | None = None  # None: the quality's choice
    rotate_pages: bool = False
    clean: bool | None = None  # None: the quality's choice
    invalidate_signature: bool = False

    @classmethod
    def from_request(cls, options: dict[str, Any]) -> OCROptions:
        language = str(options.get("language") or "eng")
        return cls(
            languages=tuple(part for part in language.split("+") if part),
            quality=str(options.get("quality") or "balanced"),
            mode=str(options.get("mode") or "skip"),
            output_format=str(options.get("outputFormat") or "searchable_pdf"),
            deskew=options.get("deskew"),
            rotate_pages=bool(options.get("rotatePages", False)),
            clean=options.get("clean"),
            invalidate_signature=bool(options.get("invalidateSignature", False)),
        )

    def engine_args(self, *, bilevel: bool = False) -> list[str]:
        """The quality's switches, with the user's deskew / clean / rotate on top.

        OCRmyPDF refuses ``--deskew`` with ``--redo-ocr`` (it would move the
        text already on the page), so redo leaves the quality's deskew out.
        Nor does a quality deskew black-and-white scans (``bilevel``): the
        straightened page is stored as a grey image, about 1.8 times the
        CCITT original on the corpus, for a small gain in accuracy; an
        explicit ``deskew=true`` still does."""
        preset = PRESETS[self.quality]
        args = list(preset.args)
        deskew = (preset.deskew and not bilevel) if self.deskew is None else self.deskew
        if deskew and self.mode != "redo":
            args.append("--deskew")
        clean = preset.clean if self.clean is None else self.clean
        if clean and shutil.which("unpaper"):
            args.append("--clean")
        if self.rotate_pages:
            args.append("--rotate-pages")
        return args

    def check(self) -> None:
        if self.deskew and self.mode == "redo":
            raise ValidationError(
                "deskew cannot be combined with mode=redo (it would move the existing text).",
                errors=[{"field": "deskew", "problem": "not allowed with mode=redo"}],
            )


@dataclass
class OCRResult:
    output: Path
    filename_suffix: str  # e.g. "_ocr.pdf"
    mime: str
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineLimits:
    page_timeout: float = 180.0
    job_timeout: float = 1500.0
    jobs: int = 0
    memory_bytes: int = 4 * 1024**3
    engine_timeout: float = 300.0


FORMAT_FILES = {
    "searchable_pdf": ("_ocr.pdf", "application/pdf"),
    "pdfa": ("_ocr.pdf", "application/pdf"),
    "text": ("_ocr.txt", "text/plain; charset=utf-8"),
    "json": ("_ocr.json", "application/json"),
    "hocr": ("_ocr.hocr", "text/html; charset=utf-8"),
}


class OCRService:
    def __init__(self, limits: EngineLimits) -> None:
        self.limits = limits

    # -- inputs -------------------------------------------------------------------
    def to_pdf(self, src: Path, mime: str, workdir: Path) -> Path:
        """An image becomes a PDF, losslessly (img2pdf: the pixels are embedded
        as they are, every frame of a TIFF a page); a PDF stays as it is.

        Every frame is decoded first, in a child process, so a damaged image
        fails with IMAGE_DAMAGED rather than deep inside the OCR engine; an
        image with transparency is flattened onto white first."""
        if mime == sniff.PDF:
            return src
        flat = workdir / ("flat.tif" if mime == sniff.TIFF else "flat.png")
        try:
            checked = run_module(
                "pressroom.services.ocr_inspect",
                [src, "--image-to", flat],
                timeout=self.limits.engine_timeout,
            )
        except EngineError as exc:
            raise DamagedImageError(detail=exc.details.get("detail", "")) from None
        image = flat if checked.get("rewritten") else src
        dest = workdir / "image.pdf"
        result = run(
            [sys.executable, "-m", "img2pdf", "--output", dest, image],
            timeout=self.limits.engine_timeout,
            memory_bytes=self.limits.memory_bytes,
        )
        if result.returncode != 0 or not dest.is_file() or dest.stat().st_size == 0:
            dest.unlink(missing_ok=True)
            lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
            raise DamagedImageError(detail=(lines[-1][-300:] if lines else ""))
        return dest

    def lean_text_layer(self, pdf: Path, workdir: Path) -> Path:
        """The searchable PDF with its invisible text layer made lean
        (pressroom.services.ocr_layer, in a child process: the PDF comes from
        an untrusted upload); the page images are left as they are."""
        dest = workdir / "result.pdf"
        report = run_module(
            "pressroom.services.ocr_layer", [pdf, dest], timeout=self.limits.engine_timeout
        )
        log.debug("text layer: %s", report)
        return dest

    def inspect(self, pdf: Path) -> dict[str, Any]:
        return run_module(
            "pressroom.services.ocr_inspect", [pdf], timeout=self.limits.engine_timeout
        )

    # -- OCR ------------------------------------------------------------------------
    def process_ocr_data(
        self,
        src: Path,
        mime: str,
        workdir: Path,
        options: OCROptions,
        progress: Progress,
    ) -> OCRResult:
        """OCR one upload into ``options.output_format``."""
        started = time.monotonic()
        options.check()
        progress.report(1, "preparing", "Reading the document")
        pdf = self.to_pdf(src, mime, workdir)
        info = self.inspect(pdf)
        if info["signed"] and not options.invalidate_signature:
            raise SignedPDFError()
        pages = int(info["pages"])
        with_text = [p["page"] for p in info["page_info"] if p["has_text"]]
        ocr_pages = (
            [n for n in range(1, pages + 1) if n not in with_text]
            if options.mode == "skip"
            else list(range(1, pages + 1))
        )
        want_hocr = options.output_format in ("json", "hocr")
        bilevel = all(p["bilevel"] for p in info["page_info"] if p["page"] in ocr_pages)
        request = ocrmypdf.OcrRequest(
            languages=options.languages,
            mode=options.mode,
            pdfa=options.output_format == "pdfa",
            args=tuple(options.engine_args(bilevel=bilevel and bool(ocr_pages))),
            page_timeout=self.limits.page_timeout,
            jobs=self.limits.jobs,
            keep_hocr=want_hocr,
            invalidate_signatures=options.invalidate_signature,
        )
        outcome = self._run(pdf, workdir, request, pages, progress, share=(3.0, 92.0))
        ocr_seconds = time.monotonic() - started
        progress.report(93, "finishing", "Writing the result")
        suffix, out_mime = FORMAT_FILES[options.output_format]
        fmt = options.output_format
        if fmt in ("searchable_pdf", "pdfa"):
            output = self.lean_text_layer(outcome.output, workdir)
        elif fmt == "text":
            output = workdir / "result.txt"
            texts = self.page_texts(outcome.output)
            output.write_text("\f".join(texts), encoding="utf-8")
        elif fmt == "json":
            output = workdir / "result.json"
            doc = self.words(outcome, info, set(ocr_pages))
            output.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        else:
            output = workdir / "result.hocr"
            output.write_bytes(merged_hocr(outcome, info))
        original_size = src.stat().st_size
        result = {
            "pages": pages,
            "pages_with_text": with_text,
            "pages_ocr": ocr_pages,
            "languages": list(options.languages),
            "quality": options.quality,
            "mode": options.mode,
            "output_format": fmt,
            "input_type": mime,
            "signature_invalidated": bool(info["signed"]),
            "pdfa": outcome.pdfa if fmt == "pdfa" else None,
            "original_size": original_size,
            "output_size": output.stat().st_size,
            "size_ratio": round(output.stat().st_size / original_size, 3)
            if original_size
            else None,
            "seconds": round(ocr_seconds, 2),
            "seconds_per_page": round(ocr_seconds / len(ocr_pages), 2) if ocr_pages else None,
            "settings": {"engine_args": list(request.args)},
            "warnings": outcome.warnings,
        }
        return OCRResult(output, suffix, out_mime, result)

    def _run(
        self,
        pdf: Path,
        workdir: Path,
        request: ocrmypdf.OcrRequest,
        pages: int,
        progress: Progress,
        share: tuple[float, float],
    ) -> ocrmypdf.OcrOutcome:
        low, high = share

        def report(step: ocrmypdf.StepProgress) -> None:
            pct = low + step.percentage / 100 * (high - low)
            if step.desc == "Scanning contents":
                progress.report(pct, "ocr", "Looking for text already on the pages")
            elif step.desc in ("OCR", "Image processing"):
                done = min(pages, int(step.done))
                progress.report(pct, "ocr", f"OCR: {done} of {pages} pages done")
            else:
                progress.report(pct, "optimizing", f"{step.desc}")

        progress.report(low, "ocr", f"OCR: 0 of {pages} pages done")
        return ocrmypdf.ocr(
            pdf,
            workdir / "ocr.pdf",
            request,
            workdir=workdir / "engine",
            timeout=self.limits.job_timeout,
            memory_bytes=self.limits.memory_bytes,
            on_progress=report,
        )

    # -- text --------------------------------------------------------------------
    def page_texts(self, pdf: Path) -> list[str]:
        """The text of each page, in reading order (pdftotext)."""
        text = poppler.extract_text(pdf, timeout=self.limits.engine_timeout)
        parts = text.split("\f")
        if parts and not parts[-1].strip():
            parts = parts[:-1]  # pdftotext ends each page with a form feed
        return parts

    def extract_text(
        self,
        src: Path,
        mime: str,
        workdir: Path,
        languages: tuple[str, ...],
        progress: Progress,
        *,
        ocr: bool = True,
    ) -> dict[str, Any]:
        """The text of each page: a page with a text layer keeps its own text;
        the others are read by OCR (skip mode, the balanced quality)."""
        progress.report(1, "preparing", "Reading the document")
        pdf = self.to_pdf(src, mime, workdir)
        info = self.inspect(pdf)
        pages = int(info["pages"])
        without = [p["page"] for p in info["page_info"] if not p["has_text"]]
        source = pdf
        if without and ocr:
            request = ocrmypdf.OcrRequest(
                languages=languages,
                mode="skip",
                args=("--optimize", "0"),
                page_timeout=self.limits.page_timeout,
                jobs=self.limits.jobs,
                invalidate_signatures=True,  # the PDF is only read, never returned
            )
            source = self._run(pdf, workdir, request, pages, progress, share=(5.0, 92.0)).output
        progress.report(94, "extracting", "Extracting the text of each page")
        texts = self.page_texts(source)
        texts += [""] * (pages - len(texts))
        ocr_done = set(without) if (without and ocr) else set()
        return {
            "pages": [
                {
                    "page": n,
                    "text": texts[n - 1],
                    "source": "ocr" if n in ocr_done else "text_layer",
                    "characters": len(texts[n - 1].strip()),
                }
                for n in range(1, pages + 1)
            ],
            "page_count": pages,
            "pages_ocr": sorted(ocr_done),
            "pages_without_text": [] if ocr else without,
            "languages": list(languages) if ocr_done else [],
        }

    # -- words with boxes -------------------------------------------------------------
    def words(
        self, outcome: ocrmypdf.OcrOutcome, info: dict[str, Any], ocr_pages: set[int]
    ) -> dict[str, Any]:
        """Per page, each word with its box (PDF points from the page's top
        left) and Tesseract's confidence (0-100); pages read from their own
        text layer have boxes from pdftotext and no confidence."""
        layer = self._text_layer_words(outcome.output)
        pages = []
        for page in info["page_info"]:
            n = page["page"]
            width, height = page["width_pt"], page["height_pt"]
            hocr = outcome.hocr_file(n) if n in ocr_pages else None
            if hocr is not None:
                words = hocr_words(hocr.read_bytes(), width)
                source = "ocr"
            else:
                words = layer.get(n, [])
                source = "text_layer"
            pages.append(
                {
                    "page": n,
                    "width": width,
                    "height": height,
                    "source": source,
                    "text": " ".join(w["text"] for w in words),
                    "words": words,
                }
            )
        return {"unit": "pt", "origin": "top-left", "pages": pages}

    def _text_layer_words(self, pdf: Path) -> dict[int, list[dict[str, Any]]]:
        result = run(
            ["pdftotext", "-bbox", "-enc", "UTF-8", pdf, "-"], timeout=self.limits.engine_timeout
        )
        if result.returncode != 0:
            raise EngineError(detail="pdftotext -bbox failed")
        pages: dict[int, list[dict[str, Any]]] = {}
        for n, chunk in enumerate(re.split(r"<page\b", result.stdout)[1:], 1):
            pages[n] = [
                {
                    "text": _unescape(m.group(5)),
                    "bbox": [round(float(m.group(i)), 1) for i in range(1, 5)],
                    "confidence": None,
                }
                for m in _BBOX_WORD.finditer(chunk)
            ]
        return pages

    # -- preview -----------------------------------------------------------------------
    def get_ocr_preview(self, src: Path, mime: str, workdir: Path) -> dict[str, Any]:
        """Pages, pages already with text, scan resolution, the estimated time
        at each quality, and the recommended mode and quality."""
        pdf = self.to_pdf(src, mime, workdir)
        info = self.inspect(pdf)
        return preview_from_inspection(info, jobs=self.limits.jobs)


_BBOX_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', re.S
)


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _title_fields(title: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for part in title.split(";"):
        bits = part.strip().split()
        if bits:
            fields[bits[0]] = bits[1:]
    return fields


def hocr_words(data: bytes, page_width_pt: float) -> list[dict[str, Any]]:
    """Tesseract's hOCR words, boxes turned from pixels into PDF points."""
    root = SafeET.fromstring(data)
    scale = None
    words = []
    for el in root.iter():
        cls = el.get("class")
        if cls == "ocr_page":
            fields = _title_fields(el.get("title", ""))
            res = fields.get("scan_res")
            bbox = fields.get("bbox")
            if res and float(res[0]) > 0:
                scale = 72.0 / float(res[0])
            elif bbox and float(bbox[2]) > 0:
                scale = page_width_pt / float(bbox[2])
        elif cls == "ocrx_word":
            text = "".join(el.itertext()).strip()
            if not text:
                continue
            fields = _title_fields(el.get("title", ""))
            box = [float(v) for v in fields.get("bbox", ["0", "0", "0", "0"])]
            factor = scale or 1.0
            conf = fields.get("x_wconf")
            words.append(
                {
                    "text": text,
                    "bbox": [round(v * factor, 1) for v in box],
                    "confidence": float(conf[0]) if conf else None,
                }
            )
    return words


def merged_hocr(outcome: ocrmypdf.OcrOutcome, info: dict[str, Any]) -> bytes:
    """One hOCR document with a page element per page, in order; a page that
    was not OCRed (it had text) is an empty page of its size."""
    html = ET.Element(f"{{{XHTML}}}html")
    head = ET.SubElement(html, f"{{{XHTML}}}head")
    ET.SubElement(head, f"{{{XHTML}}}title").text = "OCR"
    ET.SubElement(
        head,
        f"{{{XHTML}}}meta",
        {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"},
    )
    ET.SubElement(head, f"{{{XHTML}}}meta", {"name": "ocr-system", "content": "pressroom"})
    ET.SubElement(
        head,
        f"{{{XHTML}}}meta",
        {"name": "ocr-capabilities", "content": "ocr_page ocr_carea ocr_par ocr_line ocrx_word"},
    )
    body = ET.SubElement(html, f"{{{XHTML}}}body")
    for page in info["page_info"]:
        n = page["page"]
        hocr = outcome.hocr_file(n)
        element = None
        if hocr is not None:
            root = SafeET.fromstring(hocr.read_bytes())
            element = next((el for el in root.iter() if el.get("class") == "ocr_page"), None)
        if element is None:
            element = ET.Element(
                f"{{{XHTML}}}div",
                {
                    "class": "ocr_page",
                    "title": f"bbox 0 0 {round(page['width_pt'])} {round(page['height_pt'])}",
                },
            )
        fields = [
            part.strip()
            for part in element.get("title", "").split(";")
            if part.strip() and not part.strip().startswith(("image ", "ppageno"))
        ]
        element.set("title", "; ".join([*fields, f"ppageno {n - 1}"]))
        element.set("id", f"page_{n}")
        body.append(element)
    doctype = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    )
    return doctype + ET.tostring(html, encoding="utf-8", xml_declaration=False)


#: seconds an OCRmyPDF run costs before its first page (start-up, checks)
STARTUP_SECONDS = 3.0


def preview_from_inspection(info: dict[str, Any], *, jobs: int = 0) -> dict[str, Any]:
    """The preview's figures from ocr_inspect's answer."""
    cores = jobs or os.cpu_count() or 1
    page_info = info["page_info"]
    pages = int(info["pages"])
    with_text = [p["page"] for p in page_info if p["has_text"]]
    without = [p for p in page_info if not p["has_text"]]
    dpis = [p["image_dpi"] for p in page_info if p["image_dpi"]]

    def mpixels(page: dict[str, Any], dpi: float) -> float:
        return page["width_pt"] / 72 * dpi * page["height_pt"] / 72 * dpi / 1e6

    estimates = {}
    for quality, preset in PRESETS.items():

        def seconds(group: list[dict[str, Any]], preset: QualityPreset = preset) -> float:
            work = sum(mpixels(p, float(p["image_dpi"] or 300)) for p in group)
            return work * preset.seconds_per_mpixel / min(cores, max(1, len(group)))

        estimates[quality] = {
            "skip": round(seconds(without) + STARTUP_SECONDS, 1),
            "force": round(seconds(page_info) + STARTUP_SECONDS, 1),
        }
    if not with_text:
        mode, advice = "skip", "No page has text yet: every page will be read."
    elif len(with_text) == pages:
        mode = "redo"
        advice = (
            "Every page already has text. If it came from an earlier OCR, redo replaces it; "
            "skip would change nothing."
        )
    else:
        mode = "skip"
        advice = f"{len(with_text)} of {pages} pages already have text; skip leaves them alone."
    quality = "balanced"
    return {
        "pages": pages,
        "pages_with_text": with_text,
        "pages_without_text": [p["page"] for p in without],
        "signed": bool(info["signed"]),
        "image_dpi": {
            "min": min(dpis) if dpis else None,
            "max": max(dpis) if dpis else None,
            "per_page": [p["image_dpi"] for p in page_info],
        },
        "estimated_seconds": estimates,
        "recommended_mode": mode,
        "recommended_quality": quality,
        "advice": advice,
    }
