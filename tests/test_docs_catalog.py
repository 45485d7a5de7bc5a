"""The task catalog in docs/tasks_module.md lists exactly the registered tasks."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "tasks_module.md"
HEADING = "## Task catalog"


def catalog_section(text: str) -> str:
    """The text between the catalog heading and the next level-2 heading."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == HEADING]
    assert len(starts) == 1, f"expected exactly one '{HEADING}' heading in {DOC}"
    section: list[str] = []
    for line in lines[starts[0] + 1 :]:
        if line.startswith("## "):
            break
        section.append(line)
    return "\n".join(section)


def catalog_names(section: str) -> list[str]:
    """First-column names (in backticks) of the section's only table."""
    rows = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    assert len(rows) >= 3, "the catalog table needs a header, a separator and rows"
    separators = [i for i, row in enumerate(rows) if re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", row)]
    assert separators == [1], "the catalog section must hold exactly one table"
    names = []
    for row in rows[2:]:
        first_cell = row.strip("|").split("|", 1)[0]
        found = re.findall(r"`([^`]+)`", first_cell)
        assert len(found) == 1, f"first column must hold one task name in backticks: {row!r}"
        names.append(found[0].strip())
    return names


def registered_names() -> set[str]:
    from pressroom.tasks.celery_app import celery_app

    celery_app.loader.import_default_modules()
    return {name for name in celery_app.tasks if not name.startswith("celery.")}


def test_catalog_lists_exactly_the_registered_tasks() -> None:
    names = catalog_names(catalog_section(DOC.read_text(encoding="utf-8")))
    assert len(names) == len(set(names)), f"duplicate rows in the catalog: {names}"
    registered = registered_names()
    assert registered, "no task is registered"
    missing = sorted(registered - set(names))
    unknown = sorted(set(names) - registered)
    assert not missing and not unknown, (
        f"docs/tasks_module.md task catalog: missing {missing}, not registered {unknown}"
    )
