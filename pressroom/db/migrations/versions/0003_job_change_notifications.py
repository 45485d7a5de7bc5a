"""job change notifications (PostgreSQL)

Every UPDATE or DELETE of a job row notifies the channel
``pressroom_job_changes`` with the job's id, delivered when the transaction
commits (pressroom/jobs/changes.py listens). A trigger rather than a
statement sent by JobOperations: no extra round trip per write, and no
change of a job row can go unannounced. SQLite has no NOTIFY: nothing to do.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    op.execute(
        """
        CREATE FUNCTION pressroom_job_changed() RETURNS trigger
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
    op.execute(
        "CREATE TRIGGER jobs_changed AFTER UPDATE OR DELETE ON jobs "
        "FOR EACH ROW EXECUTE FUNCTION pressroom_job_changed()"
    )


def downgrade() -> None:
    if not _postgresql():
        return
    op.execute("DROP TRIGGER jobs_changed ON jobs")
    op.execute("DROP FUNCTION pressroom_job_changed()")
