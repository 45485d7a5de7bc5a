"""The form XObjects that a page's (or a form's) resources draw, recursively.

The compression passes ask the same question of a page: what do its forms
hold (fonts, images, content streams to rewrite)? This is the one walk they
share: each form once, however many times it is named, to a bounded depth
(a malformed file may make forms draw each other in a cycle).
"""

from __future__ import annotations

from collections.abc import Iterator

import pikepdf
from pikepdf import Name

#: forms drawn inside forms, this deep at most
MAX_DEPTH = 8


def forms_in(
    resources: pikepdf.Object | None, seen: set[tuple[int, int]] | None = None
) -> Iterator[pikepdf.Stream]:
    """Each form XObject of ``resources``, then of its own resources, depth
    first, once each; ``seen`` (objgens) may be shared across pages to visit
    each form once in a whole document."""
    seen = set() if seen is None else seen
    yield from _walk(resources, seen, 0)


def resources_within(resources: pikepdf.Object | None) -> Iterator[pikepdf.Object | None]:
    """``resources``, then the resources of each form it draws (``forms_in``)."""
    yield resources
    for form in forms_in(resources):
        yield form.get("/Resources")


def _walk(
    resources: pikepdf.Object | None, seen: set[tuple[int, int]], depth: int
) -> Iterator[pikepdf.Stream]:
    if not isinstance(resources, pikepdf.Dictionary) or depth > MAX_DEPTH:
        return
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return
    for _name, xobj in xobjects.items():
        if not isinstance(xobj, pikepdf.Stream) or xobj.get("/Subtype") != Name.Form:
            continue
        if xobj.objgen != (0, 0):
            if xobj.objgen in seen:
                continue
            seen.add(xobj.objgen)
        yield xobj
        yield from _walk(xobj.get("/Resources"), seen, depth + 1)
