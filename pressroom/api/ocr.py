"""POST /api/ocr (a job) and POST /api/ocr/preview (answered at once)."""

from __future__ import annotations

import shutil
from typing import Any

from flask import Blueprint, Response, request

from pressroom.api.schemas import OcrForm, OcrPreviewForm, parse, parse_with_options
from pressroom.api.spec import Operation, component, declare, success_envelope
from pressroom.api.submission import answer_preview, runtime, submit_upload
from pressroom.engines import tesseract
from pressroom.errors import LanguageNotInstalledError, PressroomError
from pressroom.jobs.states import TaskType
from pressroom.services.ocr import (
    MODES,
    OUTPUT_FORMATS,
    PRESETS,
    EngineLimits,
    OCROptions,
    OCRService,
)
from pressroom.storage import sniff
from pressroom.storage.files import StagedUpload
from pressroom.storage.tempfiles import TemporaryFileManager

#: what OCR takes: a PDF, or an image made into one
OCR_INPUTS = (sniff.PDF, sniff.PNG, sniff.JPEG, sniff.TIFF)
#: the preview inspects, it does not OCR: past this the file is not worth waiting for
PREVIEW_TIMEOUT = 30

bp = Blueprint("ocr", __name__, url_prefix="/api")


def check_languages(spec: str) -> list[str]:
    """The requested languages, each installed here, or a 400 that lists those that are."""
    wanted = tesseract.split_languages(spec)
    installed = tesseract.installed_languages()
    unknown = [lang for lang in wanted if lang not in installed]
    if unknown:
        raise LanguageNotInstalledError(
            f"Not installed here: {', '.join(unknown)}. Installed: {', '.join(installed)}.",
            unknown=unknown,
            installed=installed,
        )
    return wanted


def ocr_capabilities() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "qualities": {name: preset.description for name, preset in PRESETS.items()},
        "modes": list(MODES),
        "output_formats": list(OUTPUT_FORMATS),
        "tools": {
            "unpaper": shutil.which("unpaper") is not None,
            "pngquant": shutil.which("pngquant") is not None,
            "jbig2": shutil.which("jbig2") is not None,
        },
    }
    try:
        facts["languages"] = tesseract.installed_languages()
    except PressroomError as exc:
        facts.update(languages=[], available=False, reason=exc.message)
    return facts


declare(
    Operation(
        name="ocr",
        path="/api/ocr",
        summary="Make a scanned PDF or an image searchable (queued as a job)",
        description=(
            "OCRmyPDF over Tesseract. The result is a searchable PDF (the text invisible, "
            "in place), a PDF/A, plain text, JSON (per page, words with boxes in points "
            "from the top left and Tesseract's confidence) or hOCR. result.pages_with_text "
            "lists the pages that already had text. A digitally signed PDF fails with "
            "PDF_SIGNED unless invalidateSignature is true. An unknown language is a 400 "
            "LANGUAGE_NOT_INSTALLED listing the installed ones."
        ),
        form=OcrForm,
        task_type=TaskType.OCR,
        accepts=OCR_INPUTS,
        errors={"400": "Invalid field, or a language that is not installed"},
        capabilities=ocr_capabilities,
    )
)
declare(
    Operation(
        name="ocr_preview",
        path="/api/ocr/preview",
        summary="What OCR would do to a file, and how long it would take (no job)",
        form=OcrPreviewForm,
        accepts=OCR_INPUTS,
        response=component(
            "OcrPreviewEnvelope",
            success_envelope(
                {
                    "type": "object",
                    "properties": {
                        "filename": {"type": "string"},
                        "original_size": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "pages_with_text": {"type": "array", "items": {"type": "integer"}},
                        "pages_without_text": {"type": "array", "items": {"type": "integer"}},
                        "signed": {"type": "boolean"},
                        "image_dpi": {"type": "object"},
                        "estimated_seconds": {
                            "type": "object",
                            "description": "Per quality, for mode skip and for force.",
                        },
                        "recommended_mode": {"enum": list(MODES)},
                        "recommended_quality": {"enum": list(PRESETS)},
                        "advice": {"type": "string"},
                    },
                }
            ),
        ),
    )
)


@bp.post("/ocr")
def ocr() -> Response:
    form: OcrForm = parse_with_options(OcrForm, request.form.to_dict())
    form.language = "+".join(check_languages(form.language))
    options = form.model_dump(exclude={"job_id", "options"})
    OCROptions.from_request(options).check()  # combinations the engine refuses
    return submit_upload(TaskType.OCR, options, job_id=form.job_id, accept=OCR_INPUTS)


@bp.post("/ocr/preview")
def ocr_preview() -> Response:
    """Pages, pages with text, scan resolution, estimated time, recommendations."""
    parse(OcrPreviewForm, request.form.to_dict())
    rt = runtime()
    service = OCRService(EngineLimits(engine_timeout=PREVIEW_TIMEOUT, jobs=rt.settings.ocr_jobs))

    def estimate(staged: StagedUpload) -> dict[str, Any]:
        with TemporaryFileManager(rt.settings.data_dir / "tmp", prefix="ocr-preview-") as tmp:
            assert tmp.dir is not None
            preview = service.get_ocr_preview(staged.path, staged.mime, tmp.dir)
        return {"original_size": staged.size, **preview}

    return answer_preview(estimate, accept=OCR_INPUTS)
