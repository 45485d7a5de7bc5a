"""Request parsing that spools uploaded files straight into the staging
folder, so a large upload is written to disk once and never held in memory."""

from __future__ import annotations

import tempfile
from typing import IO

from flask import Request, current_app


class UploadRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        staging = current_app.extensions["pressroom"].files.staging_dir
        # deleted when the request ends; FileManagementService links it first
        return tempfile.NamedTemporaryFile("w+b", dir=staging, prefix="spool-")
