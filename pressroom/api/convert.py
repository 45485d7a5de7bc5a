"""POST /api/convert and POST /api/convert/preview.

``/api/convert`` takes a PDF and a ``format`` (txt, markdown, html, docx,
xlsx, csv, json, images), or, with ``format=pdf``, an image or an office
document to turn into a PDF. One endpoint for both directions, because the
PDF Smaller clients already send every conversion there with a ``format``,
and the job, the download and the options travel the same way; what the
upload may be follows from the format.

``options`` arrives as a JSON object in a text field of the multipart form.
The form parses it and validates it with the chosen format's own model
(pressroom.services.conversion.options), so an unknown option is a 400 that
lists the valid ones, and the JSON schema in OpenAPI and the capabilities
lists each format's fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, Response, request
from pydantic import Field, model_validator

from pressroom.api.schemas import FormModel, JsonObject, PasswordForm, parse
from pressroom.api.spec import Operation, component, declare, success_envelope
from pressroom.api.submission import answer_preview, runtime, submit_upload
from pressroom.errors import MissingFileError, UnsupportedFileTypeError, ValidationError
from pressroom.jobs.states import TaskType
from pressroom.services.conversion.options import FORMATS, options_schemas
from pressroom.services.conversion.service import ConversionService, parse_options
from pressroom.services.conversion.topdf import office_available, office_missing
from pressroom.storage import sniff

#: a preview samples five pages; past this the file is not worth waiting for
PREVIEW_TIMEOUT = 60

bp = Blueprint("convert", __name__, url_prefix="/api")

FormatName = Literal["txt", "markdown", "html", "docx", "xlsx", "csv", "json", "images", "pdf"]
assert set(FormatName.__args__) == set(FORMATS)  # type: ignore[attr-defined]


def _options_schema(schema: dict[str, Any]) -> None:
    """The ``options`` field: a string holding a JSON object, whose fields
    depend on ``format`` (each format's schema under ``x-options-by-format``)."""
    by_format = options_schemas()
    schema.clear()
    schema.update(
        {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"oneOf": list(by_format.values())},
            "description": (
                "A JSON object of options for the chosen format (default {}). "
                "Every format takes 'pages' (1-based ranges like '1-3,7'). "
                "Unknown options are refused."
            ),
            "default": "{}",
            "x-options-by-format": by_format,
        }
    )


class ConvertForm(FormModel, PasswordForm):
    """Fields of POST /api/convert (besides the file)."""

    format: FormatName = Field(
        description=(
            "Output format. 'pdf' converts an image (PNG, JPEG, TIFF; lossless) or an "
            "office document (LibreOffice, when installed) into a PDF."
        )
    )
    options: Annotated[dict[str, Any], JsonObject] = Field(
        default_factory=dict, json_schema_extra=_options_schema
    )

    @model_validator(mode="after")
    def _format_options(self) -> ConvertForm:
        # raises the API's ValidationError (400) that lists the valid options
        self.options = parse_options(self.format, self.options).model_dump()
        return self


class ConvertPreviewForm(PasswordForm):
    """Fields of POST /api/convert/preview (besides the file)."""


def _capabilities() -> dict[str, Any]:
    office = office_available()
    return {
        "formats": {
            name: {"extension": f.extension, "mime": f.mime.split(";")[0], "label": f.description}
            for name, f in FORMATS.items()
        },
        "into_pdf": {
            "images": {"available": True, "engine": "img2pdf", "accepts": list(sniff.IMAGES)},
            "office": {
                "available": office,
                "engine": "LibreOffice",
                "accepts": [".docx", ".doc", ".odt", ".rtf", ".xlsx", ".xls", ".ods", ".pptx"],
                **({} if office else {"reason": "LibreOffice (soffice) is not installed"}),
            },
        },
    }


_FORMAT_ESTIMATE = {
    "type": "object",
    "properties": {
        "estimated_size": {"type": "integer", "description": "Bytes."},
        "estimated_seconds": {"type": "number"},
    },
}

declare(
    Operation(
        name="convert",
        path="/api/convert",
        summary="Convert a PDF to another format, or an image or office file to PDF (a job)",
        description=(
            "format=txt|markdown|html|docx|xlsx|csv|json|images takes a PDF; format=pdf takes "
            "an image (PNG, JPEG, TIFF: embedded losslessly by img2pdf) or an office document "
            "(DOCX, XLSX, PPTX, ODF, DOC, RTF... through LibreOffice headless, when installed; "
            "otherwise 503 ENGINE_MISSING). options is a JSON object whose fields depend on the "
            "format (x-options-by-format). The result file is named after the upload with the "
            "format's extension (images and several CSV tables: a zip)."
        ),
        form=ConvertForm,
        task_type=TaskType.CONVERT,
        accepts=(sniff.PDF, *sniff.IMAGES, *sniff.OFFICE),
        capabilities=_capabilities,
        errors={
            "400": "Missing or invalid field, unknown format or option (the valid ones listed)",
            "415": "The file is not what the format converts from",
            "503": "Queue unavailable, or LibreOffice missing for an office document",
        },
    )
)
declare(
    Operation(
        name="convert_preview",
        path="/api/convert/preview",
        summary="What converting a PDF would find and cost, per format (no job)",
        form=ConvertPreviewForm,
        response=component(
            "ConversionPreviewEnvelope",
            success_envelope(
                {
                    "type": "object",
                    "properties": {
                        "filename": {"type": "string"},
                        "pages": {"type": "integer"},
                        "sampled_pages": {"type": "array", "items": {"type": "integer"}},
                        "scanned": {"type": "boolean"},
                        "tables_found": {"type": "integer"},
                        "estimated_tables": {"type": "integer"},
                        "images_found": {"type": "integer"},
                        "estimated_images": {"type": "integer"},
                        "formats": {
                            "type": "object",
                            "properties": {
                                name: _FORMAT_ESTIMATE for name in FORMATS if name != "pdf"
                            },
                        },
                        "recommended_format": {"type": "string"},
                        "recommendations": {"type": "array", "items": {"type": "string"}},
                        "rates": {"type": "object"},
                    },
                }
            ),
        ),
    )
)


def _peek_type() -> str | None:
    """The upload's type from its first KiB, read without consuming it."""
    upload = request.files.get("file")
    if upload is None or upload.filename is None:
        raise MissingFileError()
    head = upload.stream.read(1024)
    upload.stream.seek(0)
    return sniff.sniff(head)


@bp.post("/convert")
def convert() -> Response:
    form: ConvertForm = parse(ConvertForm, request.form.to_dict())
    detected = _peek_type()
    if form.format == "pdf":
        accept: tuple[str, ...] = (*sniff.IMAGES, *sniff.OFFICE)
        if detected == sniff.PDF:
            raise ValidationError(
                "The file is already a PDF; format=pdf converts images and office documents.",
                errors=[{"field": "format", "problem": "a PDF cannot be converted to pdf"}],
            )
        if detected not in accept:
            raise UnsupportedFileTypeError(
                "format=pdf takes an image (PNG, JPEG, TIFF) or an office document.",
                detected=detected or "unknown",
                accepted=list(accept),
            )
        if detected in sniff.OFFICE and not office_available():
            raise office_missing()
    else:
        accept = (sniff.PDF,)
        if detected != sniff.PDF:
            raise UnsupportedFileTypeError(
                f"format={form.format} converts a PDF; send an image or an office document "
                "with format=pdf.",
                detected=detected or "unknown",
                accepted=[sniff.PDF],
            )
    options: dict[str, Any] = {"format": form.format, "options": form.options}
    if form.password:
        options["password"] = form.password
    return submit_upload(TaskType.CONVERT, options, job_id=form.job_id, accept=accept)


@bp.post("/convert/preview")
def convert_preview() -> Response:
    """Pages, tables and pictures found, and each format's estimated size and
    time, measured on a sample of pages; answered at once (no job)."""
    form: ConvertPreviewForm = parse(ConvertPreviewForm, request.form.to_dict())
    service = ConversionService(engine_timeout=runtime().settings.engine_timeout_seconds)
    return answer_preview(
        lambda staged: service.get_conversion_preview(
            staged.path, password=form.password, timeout=PREVIEW_TIMEOUT
        ),
        password=form.password,
    )
