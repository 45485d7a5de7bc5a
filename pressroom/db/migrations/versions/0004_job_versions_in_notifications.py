"""job row versions; job change notifications carry the job's state

``jobs.version`` counts the writes of a row (JobOperations adds one with each
write). On PostgreSQL the notification of a change (migration 0003) now
carries, after the job's id and a space, the columns a client's view of the
job is made of, as JSON, with that version: an event stream sends the change
without reading the row again, and uses the version to drop a notification
older than what it has already sent. ``input_data`` (options, storage keys,
maybe a password) is never in a payload. A payload that would pass
PostgreSQL's 8000-byte limit (a large result) is the id alone, and the
follower reads the row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: NOTIFY refuses payloads of 8000 bytes or more; the id alone is sent above this
PAYLOAD_LIMIT = 7900


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # a plain ADD COLUMN on both backends (SQLite too, with its default): no
    # copy of the table
    op.add_column("jobs", sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    if not _postgresql():
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION pressroom_job_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            payload text;
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('pressroom_job_changes', OLD.id);
                RETURN NULL;
            END IF;
            payload := NEW.id || ' ' || json_build_object(
                'id', NEW.id,
                'owner', NEW.owner,
                'client_job_id', NEW.client_job_id,
                'task_type', NEW.task_type,
                'status', NEW.status,
                'progress_percentage', NEW.progress_percentage,
                'progress_stage', NEW.progress_stage,
                'progress_message', NEW.progress_message,
                'result', NEW.result,
                'error_code', NEW.error_code,
                'error_message', NEW.error_message,
                'attempts', NEW.attempts,
                'created_at', NEW.created_at,
                'updated_at', NEW.updated_at,
                'started_at', NEW.started_at,
                'finished_at', NEW.finished_at,
                'expires_at', NEW.expires_at,
                'files_deleted_at', NEW.files_deleted_at,
                'version', NEW.version
            )::text;
            IF octet_length(payload) > {PAYLOAD_LIMIT} THEN
                payload := NEW.id;
            END IF;
            PERFORM pg_notify('pressroom_job_changes', payload);
            RETURN NULL;
        END
        $$
        """
    )


def downgrade() -> None:
    if _postgresql():
        op.execute(
            """
            CREATE OR REPLACE FUNCTION pressroom_job_changed() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    PERFORM pg_notify('pressroom_job_changes', OLD.id);
                ELSE
                    PERFORM pg_notify('pressroom_job_changes', NEW.id);
                END IF;
                RETURN NULL;
            END
            $$
            """
        )
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("version")
