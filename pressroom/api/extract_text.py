"""POST /api/ai/extract-text: the text of each page, with OCR for pages that
have none (a job on the pdf queue; OCR through OCRService)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from pressroom.api.ocr import OCR_INPUTS, check_languages
from pressroom.api.schemas import ExtractTextForm, parse_with_options
from pressroom.api.spec import Operation, declare
from pressroom.api.submission import submit_upload
from pressroom.jobs.states import TaskType

bp = Blueprint("extract_text", __name__, url_prefix="/api/ai")

declare(
    Operation(
        name="extract_text",
        path="/api/ai/extract-text",
        summary="The text of each page, OCR where a page has no text (queued as a job)",
        description=(
            "A page with a text layer keeps its own text; the others are read by OCR "
            "(OCRmyPDF skip mode). result.pages: page, text, source (text_layer|ocr), "
            "characters; result.text: all pages; the download is the same as JSON."
        ),
        form=ExtractTextForm,
        task_type=TaskType.EXTRACT_TEXT,
        accepts=OCR_INPUTS,
        errors={"400": "Invalid field, or a language that is not installed"},
    )
)


@bp.post("/extract-text")
def extract_text() -> Response:
    form: ExtractTextForm = parse_with_options(ExtractTextForm, request.form.to_dict())
    if form.ocr:
        form.language = "+".join(check_languages(form.language))
    options = form.model_dump(exclude={"job_id", "options"})
    return submit_upload(TaskType.EXTRACT_TEXT, options, job_id=form.job_id, accept=OCR_INPUTS)
