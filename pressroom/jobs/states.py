"""Job vocabulary: statuses, task types, queues, and the allowed transitions."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

#: The state machine. ``processing -> pending`` happens only when a retry is
#: scheduled (or the reaper re-queues a job whose worker died);
#: ``processing -> processing`` is a redelivered message re-claiming the job
#: after its worker died, and counts as a new attempt.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset(
        {JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PENDING}
    ),
    JobStatus.PROCESSING: frozenset(
        {
            JobStatus.PROCESSING,
            JobStatus.PENDING,
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        }
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in TRANSITIONS[current]


class TaskType(StrEnum):
    COMPRESS = "compress"
    BULK_COMPRESS = "bulk_compress"
    CONVERT = "convert"
    CONVERSION_PREVIEW = "conversion_preview"
    OCR = "ocr"
    OCR_PREVIEW = "ocr_preview"
    AI_SUMMARIZE = "ai_summarize"
    AI_TRANSLATE = "ai_translate"
    EXTRACT_TEXT = "extract_text"
    EXTRACT_INVOICE = "extract_invoice"
    EXTRACT_BANK_STATEMENT = "extract_bank_statement"


class Queue(StrEnum):
    """Queues split by resource profile; each has its own time limits."""

    PDF = "pdf"  # CPU-bound PDF work: compression, conversion, extraction
    BULK = "bulk"  # many PDFs in one job: long runs, kept apart from single jobs
    OCR = "ocr"  # long CPU-bound OCR runs
    AI = "ai"  # network-bound calls to language-model providers
    MAINTENANCE = "maintenance"  # cleanup and the reaper


#: Which queue each job task type runs on.
QUEUE_OF: dict[TaskType, Queue] = {
    TaskType.COMPRESS: Queue.PDF,
    TaskType.BULK_COMPRESS: Queue.BULK,
    TaskType.CONVERT: Queue.PDF,
    TaskType.CONVERSION_PREVIEW: Queue.PDF,
    TaskType.EXTRACT_TEXT: Queue.PDF,
    TaskType.EXTRACT_INVOICE: Queue.PDF,
    TaskType.EXTRACT_BANK_STATEMENT: Queue.PDF,
    TaskType.OCR: Queue.OCR,
    TaskType.OCR_PREVIEW: Queue.OCR,
    TaskType.AI_SUMMARIZE: Queue.AI,
    TaskType.AI_TRANSLATE: Queue.AI,
}
