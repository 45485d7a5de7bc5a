"""POST /api/ai/extract-text: the text of each page, OCR where a page has none."""

from __future__ import annotations

import json

from pressroom.jobs.states import TaskType
from pressroom.services.ocr import OCROptions
from pressroom.tasks.base import TaskContext, TaskOutcome, job_task
from pressroom.tasks.ocr import display_stem, service_for, task_input

#: above this many characters the text stays in the downloaded file only
INLINE_TEXT_LIMIT = 200_000


@job_task(TaskType.EXTRACT_TEXT)
def extract_text(ctx: TaskContext) -> TaskOutcome:
    """Text per page (inputs: input_key, mime, options.language, options.ocr)."""
    raw = ctx.input_data["options"]
    languages = OCROptions.from_request(raw).languages
    service = service_for(ctx.runtime.settings, TaskType.EXTRACT_TEXT)
    src, mime, workdir = task_input(ctx)
    found = service.extract_text(
        src, mime, workdir, languages, ctx.progress, ocr=bool(raw.get("ocr", True))
    )
    document = {
        "text": "\n\n".join(page["text"].strip() for page in found["pages"]),
        **found,
    }
    output = workdir / "text.json"
    output.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = {k: v for k, v in document.items() if k not in ("text", "pages")}
    result["characters"] = len(document["text"])
    if len(document["text"]) <= INLINE_TEXT_LIMIT:
        result["text"] = document["text"]
        result["pages"] = document["pages"]
        result["text_in_file_only"] = False
    else:
        result["pages"] = [{**p, "text": None} for p in document["pages"]]
        result["text_in_file_only"] = True
    return TaskOutcome(
        result=result,
        file=output,
        filename=f"{display_stem(ctx)}_text.json",
        mime="application/json",
    )
