"""JobOperations is the only writer of job rows.

Statically: outside pressroom/jobs/operations.py no module assigns a Job
column, adds or deletes a Job, or issues INSERT/UPDATE/DELETE on jobs.
Dynamically: every INSERT, UPDATE or DELETE of the jobs table that reaches
the database during a real compress job and a cancel (whether it was built by
the ORM or by Core) runs with operations.py on the stack.
"""

from __future__ import annotations

import ast
import re
import traceback
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, event

from pressroom.db.models import Job
from pressroom.runtime import Runtime
from tests.support.api import submit_compress, wait_for

PACKAGE = Path(__file__).resolve().parents[1] / "pressroom"
WRITER = PACKAGE / "jobs" / "operations.py"
COLUMNS = set(Job.__table__.columns.keys())
JOB_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?jobs\b", re.IGNORECASE)


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if (
                    isinstance(sub, ast.Attribute)
                    and sub.attr in COLUMNS
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id in {"job", "row", "j"}
                ):
                    found.append(f"line {node.lineno}: assigns {sub.value.id}.{sub.attr}")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            args = [a.id for a in node.args if isinstance(a, ast.Name)]
            if name in {"insert", "update", "delete"} and "Job" in args:
                found.append(f"line {node.lineno}: {name}(Job)")
            if name == "Job":
                found.append(f"line {node.lineno}: constructs a Job")
    return found


def test_no_other_module_writes_a_job_row() -> None:
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if path == WRITER or "migrations" in path.parts:
            continue
        found = violations(path.read_text())
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}


def test_the_static_check_catches_a_write() -> None:
    assert violations("job.status = 'completed'") == ["line 1: assigns job.status"]
    assert violations("session.execute(update(Job).values(status='x'))")
    assert violations("session.add(Job(id='x'))")


def test_every_job_write_comes_from_job_operations(
    client: FlaskClient, runtime: Runtime, worker: object, text_pdf: Path
) -> None:
    """In this process (the API side) every statement that writes a job row
    is issued from the writer."""
    callers: list[list[str]] = []

    def record(
        _conn: object, _cursor: object, statement: str, *_args: object, **_kwargs: object
    ) -> None:
        if JOB_WRITE.match(statement):
            callers.append([frame.filename for frame in traceback.extract_stack()])

    event.listen(Engine, "before_cursor_execute", record)
    try:
        job_id = submit_compress(client, text_pdf).json["data"]["job_id"]  # type: ignore[index]
        wait_for(client, job_id)
        client.delete(f"/api/jobs/{job_id}")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert callers, "the submission should have written its job"
    assert all(str(WRITER) in stack for stack in callers)
