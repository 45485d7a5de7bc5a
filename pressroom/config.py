"""Settings: the one typed object read from the environment (``PRESSROOM_*``).

Every process (API, worker, beat, CLI) builds its settings here and nowhere
else. The defaults are the embedded profile: SQLite, a filesystem broker and
local storage, all under one data folder, so a fresh checkout runs with no
server at all. Production overrides the database and broker URLs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024


class Settings(BaseSettings):
    """Pressroom configuration. Documented, field by field, in README.md."""

    model_config = SettingsConfigDict(env_prefix="PRESSROOM_", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Folder for every embedded-mode file.")
    database_url: str = Field("", description="SQLAlchemy URL; default SQLite in data_dir.")
    broker_url: str = Field("", description="Celery broker URL; default filesystem in data_dir.")
    storage_root: Path | None = Field(
        None, description="Local storage root; default data_dir/files."
    )

    host: str = "127.0.0.1"
    port: int = 8000

    max_upload_mb: int = Field(200, description="Largest accepted upload, in MiB (413 above).")
    bulk_max_files: int = Field(
        50, ge=1, description="Most files in one bulk request (400 TOO_MANY_FILES above)."
    )
    bulk_max_total_mb: int = Field(
        500, ge=1, description="Largest total size of one bulk request's files, in MiB (413 above)."
    )

    result_retention_hours: float = Field(24.0, description="How long result files are kept.")
    job_retention_hours: float = Field(
        168.0, description="How long job rows are kept after they finish (410 after files expire)."
    )
    orphan_grace_minutes: float = Field(
        60.0, description="Age after which a job folder with no job row is removed."
    )

    max_attempts: int = Field(3, ge=1, description="Attempts per job, counted in the database.")
    retry_backoff_seconds: float = Field(
        60.0, ge=0, description="Retry countdown is this times the attempt number."
    )
    reaper_grace_seconds: float = Field(
        120.0, description="Past its queue's hard time limit plus this, a processing job is reaped."
    )
    pending_timeout_seconds: float = Field(
        1800.0, description="A job pending longer than this past its due time is re-dispatched."
    )
    reaper_interval_seconds: float = Field(60.0, description="How often beat runs the reaper.")
    cleanup_interval_seconds: float = Field(900.0, description="How often beat runs the cleanup.")

    time_limit_pdf: int = Field(600, description="Hard time limit (s) of the pdf queue.")
    time_limit_bulk: int = Field(3600, description="Hard time limit (s) of the bulk queue.")
    time_limit_ocr: int = Field(1800, description="Hard time limit (s) of the ocr queue.")
    time_limit_ai: int = Field(600, description="Hard time limit (s) of the ai queue.")
    time_limit_maintenance: int = Field(300, description="Hard time limit (s) of maintenance.")
    engine_timeout_seconds: int = Field(
        300, description="Time-out of one external program call (qpdf, Ghostscript...)."
    )

    ocr_page_timeout_seconds: int = Field(
        180, ge=5, description="Tesseract's time-out on one page (OCRmyPDF --tesseract-timeout)."
    )
    ocr_job_timeout_seconds: int = Field(
        1500,
        ge=30,
        description="Time-out of one OCRmyPDF run (whole document); capped below the queue limit.",
    )
    ocr_jobs: int = Field(
        0, ge=0, description="Pages one OCR run works on at once (OCRmyPDF --jobs); 0: every core."
    )
    ocr_memory_mb: int = Field(
        4096, ge=512, description="Address-space limit of the OCRmyPDF process and each Tesseract."
    )
    worker_concurrency: int = Field(0, description="Worker processes; 0 means one per core.")
    engine_scheduling: Literal["idle", "normal"] = Field(
        "idle",
        description="CPU class of the programs a worker runs: idle (SCHED_IDLE) or normal.",
    )
    progress_interval_seconds: float = Field(
        0.5, description="Minimum gap between two progress writes of one job."
    )
    heartbeat_interval_seconds: float = Field(10.0, description="Worker heartbeat period.")
    database_patience_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a worker waits out a database outage before a job write gives up.",
    )
    log_level: str = "INFO"
    log_format: str = Field(
        "json", description="Log line format: json (one object a line) or text."
    )

    # -- access, limits, webhooks (pressroom/access, pressroom/webhooks) ------
    auth: Literal["none", "api_key"] = Field(
        "none", description="none: job ids are the only capability; api_key: X-API-Key required."
    )
    job_list_without_auth: bool = Field(
        False, description="With PRESSROOM_AUTH=none, let GET /api/jobs list every job."
    )
    rate_limit_enabled: bool = Field(True, description="Apply the rate limits below.")
    rate_limit: str = Field(
        "600 per minute", description="Requests per API key (or per address without a key)."
    )
    rate_limit_submit: str = Field(
        "60 per minute", description="POSTs per submission endpoint per API key (or address)."
    )
    rate_limit_storage_url: str = Field(
        "",
        description="Where rate-limit counters live; default: the broker's Redis, else memory://.",
    )
    max_pages: int = Field(2000, ge=1, description="Most pages in one uploaded PDF (413 above).")
    max_image_pixels: int = Field(
        178_956_970, ge=1, description="Most pixels in one image (decompression bombs refused)."
    )
    max_open_jobs_per_key: int = Field(
        100, ge=1, description="Pending + processing jobs one API key may have (429 above)."
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed to call the API from a browser."
    )
    webhook_secret: str = Field(
        "", description="HMAC-SHA256 key of webhook signatures; webhooks are refused without it."
    )
    webhook_allow_private: bool = Field(
        False, description="Allow callback URLs that resolve to private or loopback addresses."
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Time-out of one delivery.")
    webhook_max_attempts: int = Field(8, ge=1, description="Delivery attempts before giving up.")
    webhook_backoff_seconds: float = Field(
        15.0, ge=0, description="Delay before retry n is this times 2^(n-1) (capped at 1 h)."
    )
    webhook_sweep_seconds: float = Field(
        30.0, gt=0, description="How often beat re-sends deliveries whose message was lost."
    )

    ai_base_url: str = Field(
        "", description="OpenAI-compatible API root (.../v1); empty: the offline engine only."
    )
    ai_api_key: SecretStr = Field(
        SecretStr(""), description="Bearer key of the AI provider (may be empty)."
    )
    ai_model: str = Field("", description="Default model of the AI provider.")
    ai_models: str = Field(
        "", description="Comma-separated models a request may choose (the default is always)."
    )
    ai_timeout_seconds: float = Field(120.0, gt=0, description="Read time-out of one AI call.")
    ai_connect_timeout_seconds: float = Field(10.0, gt=0, description="Connect time-out.")
    ai_max_retries: int = Field(3, ge=0, description="Retries of one AI call on 429 and 5xx.")
    ai_max_retry_wait_seconds: float = Field(
        30.0, ge=0, description="Longest Retry-After waited in the worker; longer: job retry."
    )
    ai_context_tokens: int = Field(8192, ge=1024, description="The model's context window.")
    ai_max_output_tokens: int = Field(1500, ge=64, description="Most tokens of one AI answer.")
    ai_max_text_chars: int = Field(
        2_000_000, ge=1, description="Longest text accepted by the AI endpoints (413 above)."
    )

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Settings:
        self.data_dir = self.data_dir.resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'pressroom.sqlite3'}"
        if not self.broker_url:
            self.broker_url = "filesystem://"
        if self.storage_root is None:
            self.storage_root = self.data_dir / "files"
        self.storage_root = self.storage_root.resolve()
        return self

    # -- derived values -------------------------------------------------
    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def broker_folder(self) -> Path:
        """Where the filesystem broker keeps its messages (embedded only)."""
        return self.data_dir / "broker"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * MB

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def rate_limit_storage(self) -> str:
        """Where rate-limit counters live: shared Redis when there is one."""
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return "memory://"

    @property
    def bulk_max_total_bytes(self) -> int:
        return self.bulk_max_total_mb * MB

    @property
    def files_root(self) -> Path:
        assert self.storage_root is not None
        return self.storage_root

    @property
    def ai_configured(self) -> bool:
        return bool(self.ai_base_url.strip())

    @property
    def ai_allowed_models(self) -> list[str]:
        """The models a request may name: the default first, then the allow-list."""
        models = [self.ai_model.strip()] if self.ai_model.strip() else []
        for name in self.ai_models.split(","):
            if name.strip() and name.strip() not in models:
                models.append(name.strip())
        return models

    def queue_time_limit(self, queue: str) -> int:
        return int(getattr(self, f"time_limit_{queue}"))

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.files_root, self.data_dir / "tmp"):
            path.mkdir(parents=True, exist_ok=True)
        if self.broker_url.startswith("filesystem"):
            for sub in ("queue", "processed", "control"):
                (self.broker_folder / sub).mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
