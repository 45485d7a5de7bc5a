"""Request schemas: the code that validates requests, and the source of the
OpenAPI document (pressroom.api.openapi), so the two cannot drift."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from flask import has_request_context, request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from pressroom.errors import InvalidJobIdError, ValidationError
from pressroom.jobs.states import JobStatus
from pressroom.services.extraction.schemas import InvoiceOptions, StatementOptions

JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def json_object(value: Any) -> Any:
    """A multipart field that holds a JSON object in a string (``options``)."""
    if isinstance(value, str):
        text = value.strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"options must be a JSON object ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ValueError("options must be a JSON object")
    return value


#: annotate a form field with this to take a JSON object sent as a string in a
#: multipart form; its schema stays the model's, so the OpenAPI document and
#: the capabilities show the real fields
JsonObject = BeforeValidator(json_object)


def _callback_schema(schema: dict[str, Any]) -> None:
    """An http(s) URL; none at all when this server has webhooks off (no
    PRESSROOM_WEBHOOK_SECRET), so the document says what is accepted."""
    from pressroom.config import get_settings

    if not get_settings().webhook_secret:
        schema.pop("anyOf", None)
        schema.pop("maxLength", None)
        schema["enum"] = [None]
        return
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["pattern"] = r"^https?://[^\s/$.?#][^\s]*$"


class FormModel(BaseModel):
    """A multipart form's text fields; unknown fields are refused, so a
    misspelled field is an error, not a silently ignored default."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    job_id: str | None = Field(
        None,
        pattern=JOB_ID_PATTERN,
        description="Client-chosen id; makes the submission idempotent.",
    )
    callback_url: str | None = Field(
        None,
        max_length=2048,
        description=(
            "http(s) URL that gets a signed POST of the job view when the job ends "
            "(completed, failed or cancelled). Private addresses are refused."
        ),
        json_schema_extra=_callback_schema,
    )


class PasswordForm(BaseModel):
    """The password of an encrypted upload, for every form that takes a PDF."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    password: str | None = Field(
        None,
        max_length=256,
        pattern=r"^[^\x00]*$",  # it is passed to qpdf as an argument: no NUL
        description="Password that opens an encrypted PDF.",
    )


class CompressForm(FormModel, PasswordForm):
    """Fields of POST /api/compress (and of each file of a bulk job)."""

    compressionLevel: Literal["lossless", "low", "medium", "high", "maximum"] = Field(
        "medium", description="How hard to compress; lossless never touches image data."
    )
    imageQuality: int | None = Field(
        None,
        ge=10,
        le=100,
        description="JPEG quality of re-encoded images (10-100); default: the level's.",
    )
    imageResolution: int | None = Field(
        None,
        ge=36,
        le=1200,
        description="Downsample images above this resolution (dpi); default: the level's.",
    )
    grayscale: bool = Field(False, description="Convert colour images to grayscale.")
    stripMetadata: bool = Field(False, description="Remove document metadata (XMP, Info).")
    linearize: bool = Field(False, description="Optimise for fast web view.")
    targetSizeMb: float | None = Field(
        None,
        gt=0,
        le=10000,
        description="Search the settings until the file is at most this size (MiB).",
    )


class PreviewForm(PasswordForm):
    """Fields of POST /api/compress/preview (besides the file)."""


class JobListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: JobStatus | None = Field(None, description="Only jobs in this status.")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=2**31 - 1)  # a database integer


def _repeated_fields(data: dict[str, Any]) -> list[dict[str, str]]:
    """Fields of this request (form or query) sent more than once: ``to_dict()``
    would keep the first value silently, so ``a=low&a=high`` is refused instead."""
    if not has_request_context():
        return []
    return [
        {"field": name, "problem": "Sent more than once; send each field once"}
        for name in data
        if len(request.values.getlist(name)) > 1
    ]


def parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Validate ``data`` into ``model`` or raise a 400 that names each problem."""
    repeated = _repeated_fields(data)
    if repeated:
        raise ValidationError(
            "Some fields are missing or invalid.",
            errors=repeated,
            allowed_fields=sorted(model.model_fields),
        )
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"]) or "(body)",
                "problem": err["msg"],
            }
            for err in exc.errors(include_url=False)
        ]
        if any(p["field"] == "job_id" for p in problems):
            raise InvalidJobIdError(job_id=str(data.get("job_id"))[:100]) from None
        allowed = sorted(model.model_fields)
        raise ValidationError(
            "Some fields are missing or invalid.", errors=problems, allowed_fields=allowed
        ) from None


# -- AI ------------------------------------------------------------------------------
#: a language as a code (``de``, ``pt-BR``) or a name (``German``)
LANGUAGE_PATTERN = r"^[A-Za-z][A-Za-z -]{1,39}$"


def _model_schema(schema: dict[str, Any]) -> None:
    """The models this server allows (PRESSROOM_AI_MODEL, PRESSROOM_AI_MODELS),
    as an enum: none without a provider, so the document says what is accepted."""
    from pressroom.config import get_settings

    settings = get_settings()
    allowed = settings.ai_allowed_models if settings.ai_configured else []
    schema.pop("anyOf", None)
    schema.pop("maxLength", None)
    schema["enum"] = [*allowed, None]


MODEL_FIELD = Field(
    None,
    max_length=200,
    description="A model of the server's allow-list (see the capabilities); default: "
    "the server's default model.",
    json_schema_extra=_model_schema,
)


class SummarizeOptions(BaseModel):
    """``options`` of POST /api/ai/summarize."""

    # a JSON object: its values are typed (a boolean is true or false, not "yes")
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)
    style: Literal[
        "concise", "detailed", "academic", "casual", "professional", "bullet_points", "executive"
    ] = Field("concise", description="Tone and layout of the summary.")
    maxLength: Literal["short", "medium", "long"] = Field(
        "medium", description="About 80, 200 or 400 words (at most 40% of the text)."
    )
    includeKeyPoints: bool = Field(True, description="Also list the key points.")
    language: str | None = Field(
        None,
        pattern=LANGUAGE_PATTERN,
        description="Language of the summary; default: the text's (needs a provider to differ).",
    )
    model: str | None = MODEL_FIELD


class TranslateOptions(BaseModel):
    """``options`` of POST /api/ai/translate."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)
    quality: Literal["fast", "balanced", "high"] = Field(
        "balanced", description="Speed against care (temperature and instructions)."
    )
    preserveFormatting: bool = Field(
        False,
        description="Keep every line (lists, tables, indentation); otherwise paragraphs are "
        "kept and the lines inside them reflowed.",
    )
    model: str | None = MODEL_FIELD


class _TextRequest(FormModel):
    """A JSON body with the text to work on; the text is kept as sent (not stripped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    text: str = Field(
        min_length=1,
        pattern=r"\S",
        description="The text (at most PRESSROOM_AI_MAX_TEXT_CHARS characters; 413 above).",
    )


class SummarizeRequest(_TextRequest):
    """JSON body of POST /api/ai/summarize (or send a PDF as multipart ``file``)."""

    options: SummarizeOptions | None = Field(None, description="How to summarize.")


class TranslateRequest(_TextRequest):
    """JSON body of POST /api/ai/translate (or send a PDF as multipart ``file``)."""

    target_language: str = Field(
        pattern=LANGUAGE_PATTERN, description="Language to translate into: a code or a name."
    )
    options: TranslateOptions | None = Field(None, description="How to translate.")


class SummarizeUploadForm(FormModel):
    """Multipart form of POST /api/ai/summarize with a PDF in ``file``."""

    options: Annotated[SummarizeOptions | None, JsonObject] = Field(
        None, description="JSON: how to summarize."
    )


class TranslateUploadForm(FormModel):
    """Multipart form of POST /api/ai/translate with a PDF in ``file``."""

    target_language: str = Field(pattern=LANGUAGE_PATTERN)
    options: Annotated[TranslateOptions | None, JsonObject] = Field(
        None, description="JSON: how to translate."
    )


class ExtractInvoiceForm(FormModel):
    """Fields of POST /api/ai/extract-invoice (besides the file)."""

    options: Annotated[InvoiceOptions, JsonObject] = Field(
        default_factory=InvoiceOptions,
        description="A JSON object: exportFormat, engine, locale.",
    )


class ExtractStatementForm(FormModel):
    """Fields of POST /api/ai/extract-bank-statement (besides the file)."""

    options: Annotated[StatementOptions, JsonObject] = Field(
        default_factory=StatementOptions,
        description="A JSON object: exportFormat, engine, locale, categorize.",
    )


# -- OCR and text extraction (pressroom.api.ocr, pressroom.api.extract_text) ----------
#: Tesseract language codes joined by '+': "eng", "eng+deu", "chi_sim"
LANGUAGES_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{1,30}(\+[A-Za-z][A-Za-z0-9_]{1,30}){0,7}$"


def _installed_languages(schema: dict[str, Any]) -> None:
    """The document's pattern names the packs installed here, so a language
    the schema allows is one this server reads."""
    from pressroom.engines import tesseract

    try:
        names = [re.escape(name) for name in tesseract.installed_languages()]
    except Exception:  # no tesseract: keep the general pattern
        return
    if names:
        one = "(" + "|".join(names) + ")"
        schema["pattern"] = rf"^{one}(\+{one}){{0,7}}$"


OPTIONS_DESCRIPTION = (
    "The other fields as one JSON object (how PDF Smaller clients send them); "
    "a field may come either way, not both."
)


def _options_mirror(schema: dict[str, Any]) -> None:
    """A form whose fields may also come inside ``options``: the document
    describes ``options`` as JSON text holding an object of those fields."""
    props = schema.get("properties", {})
    if "options" in props:
        shared = {"options", *FormModel.model_fields}  # job_id, callback_url: flat only
        others = {k: v for k, v in props.items() if k not in shared}
        props["options"] = {
            "type": "string",
            "title": "Options",
            "description": OPTIONS_DESCRIPTION,
            "contentMediaType": "application/json",
            "contentSchema": {
                "type": "object",
                "properties": others,
                "additionalProperties": False,
            },
        }


class OcrForm(FormModel):
    """Fields of POST /api/ocr (each may also come inside ``options``)."""

    model_config = ConfigDict(json_schema_extra=_options_mirror)

    language: str = Field(
        "eng",
        pattern=LANGUAGES_PATTERN,
        description="Tesseract language packs, joined by '+' (eng+deu); must be installed.",
        json_schema_extra=_installed_languages,
    )
    quality: Literal["fast", "balanced", "accurate"] = Field(
        "balanced", description="Speed against accuracy; see docs/api.md for what each changes."
    )
    mode: Literal["skip", "redo", "force"] = Field(
        "skip",
        description=(
            "Pages that already have text: skip leaves them, redo replaces an earlier OCR "
            "layer, force rasterises every page and reads it again."
        ),
    )
    outputFormat: Literal["searchable_pdf", "pdfa", "text", "json", "hocr"] = Field(
        "searchable_pdf",
        description="searchable_pdf, pdfa (PDF/A-2b), text, json (words with boxes and "
        "confidence per page) or hocr.",
    )
    deskew: bool | None = Field(
        None, description="Straighten skewed pages; default: the quality's."
    )
    rotatePages: bool = Field(
        False, description="Turn pages whose text runs sideways or upside down."
    )
    clean: bool | None = Field(
        None, description="Clean scanning noise before OCR (unpaper); the page image is kept."
    )
    invalidateSignature: bool = Field(
        False, description="OCR a digitally signed PDF anyway; its signature is dropped."
    )
    options: str | None = Field(None, description=OPTIONS_DESCRIPTION)


class OcrPreviewForm(BaseModel):
    """POST /api/ocr/preview takes only the file."""

    model_config = ConfigDict(extra="forbid")


class ExtractTextForm(FormModel):
    """Fields of POST /api/ai/extract-text (each may also come inside ``options``)."""

    model_config = ConfigDict(json_schema_extra=_options_mirror)

    language: str = Field(
        "eng",
        pattern=LANGUAGES_PATTERN,
        description="Languages for the pages that need OCR, joined by '+'; must be installed.",
        json_schema_extra=_installed_languages,
    )
    ocr: bool = Field(
        True, description="Read pages without a text layer by OCR (false: leave them empty)."
    )
    options: str | None = Field(None, description=OPTIONS_DESCRIPTION)


def parse_with_options(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """``parse`` for a form whose fields may also come as one JSON object in
    ``options``: the object's keys are merged into the flat fields (a key
    given both ways is refused, so two values never silently compete)."""
    data = dict(data)
    raw = data.pop("options", None)
    if raw not in (None, ""):
        try:
            decoded = json_object(str(raw))
        except ValueError as exc:
            raise ValidationError(
                "options must be a JSON object.",
                errors=[{"field": "options", "problem": str(exc)}],
                allowed_fields=sorted(model.model_fields),
            ) from None
        twice = sorted(set(decoded) & set(data))
        if twice:
            raise ValidationError(
                "Some fields were given both as form fields and inside options.",
                errors=[{"field": name, "problem": "given twice"} for name in twice],
                allowed_fields=sorted(model.model_fields),
            )
        if "options" in decoded:
            decoded.pop("options")
        data.update(decoded)
    return parse(model, data)
