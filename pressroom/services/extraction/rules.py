"""Shared pieces of the layout-aware rules: finding labels in several
languages, and the value that belongs to a label wherever the layout put it
(after it in the same cell, in the next cell on the line, or just below it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar

from pressroom.services.extraction.layout import Cell, Document, Line

T = TypeVar("T")

#: confidence of a value by where it was found relative to its label
SAME_CELL, RIGHT, BELOW = 0.9, 0.88, 0.75


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def fold(text: str) -> str:
    """Lower case without accents, one character for one character (so a
    position in the folded text is a position in the original)."""
    out = []
    for ch in text.translate(_QUOTES):
        base = [c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)]
        low = base[0].lower() if len(base) == 1 else ch.lower()
        out.append(low if len(low) == 1 else ch)
    return "".join(out)


@dataclass(frozen=True)
class Label:
    """A phrase that announces a field, and how much it says (0-1)."""

    phrase: str
    weight: float = 1.0

    def pattern(self) -> re.Pattern[str]:
        words = [re.escape(w) for w in fold(self.phrase).split()]
        body = r"[\s.:_-]*".join(words)
        end = r"(?!\w)" if self.phrase[-1].isalnum() else ""
        return re.compile(rf"(?<!\w){body}{end}")


class Labels:
    """A field's labels, most specific first."""

    def __init__(self, *phrases: str | tuple[str, float]) -> None:
        self.labels = [Label(p) if isinstance(p, str) else Label(*p) for p in phrases]

    @cached_property
    def _patterns(self) -> list[tuple[Label, re.Pattern[str]]]:
        # compiled on first use, so importing the rules (the API does) stays cheap
        return [(label, label.pattern()) for label in self.labels]

    def search(self, text: str) -> tuple[Label, int, int] | None:
        """The best label in ``text``: (label, start, end), or None."""
        folded = fold(text)
        best: tuple[Label, int, int] | None = None
        rank: tuple[float, int, int] = (0.0, 0, 0)
        for label, pattern in self._patterns:
            match = pattern.search(folded)
            if match is None:
                continue
            # the most telling label; then the earliest; then the longest
            mine = (label.weight, -match.start(), match.end() - match.start())
            if best is None or mine > rank:
                best, rank = (label, match.start(), match.end()), mine
        return best

    def at_start(self, text: str, *, within: int = 3) -> tuple[Label, int, int] | None:
        found = self.search(text)
        return found if found and found[1] <= within else None


@dataclass
class Hit(Generic[T]):
    value: T
    confidence: float
    line: Line
    source: str  # same_cell | right | below
    label: Label
    text: str
    cell: Cell  # the label's cell


def _after(text: str, end: int) -> str:
    return text[end:].lstrip(" :#.-\u2013=|\t")


def cells_below(doc: Document, line: Line, cell: Cell, *, depth: int = 1) -> list[Cell]:
    """The cells under ``cell`` (horizontally overlapping), from the next
    ``depth`` lines of the same page, each close below the previous one."""
    page = next(p for p in doc.pages if p.number == line.page)
    found: list[Cell] = []
    position = page.lines.index(line)
    previous_bottom = line.bottom
    pitch = max(6.0, (line.bottom - line.top) * 2.2)
    for below in page.lines[position + 1 :]:
        if len(found) >= depth or below.top - previous_bottom > pitch:
            break
        overlapping = [
            c
            for c in below.cells
            if min(c.x1, max(cell.x1, cell.x0 + 60)) - max(c.x0, cell.x0 - 8) > 0
        ]
        if not overlapping:
            if found:
                break
            continue
        found.append(min(overlapping, key=lambda c: abs(c.x0 - cell.x0)))
        previous_bottom = below.bottom
    return found


def find(
    doc: Document,
    labels: Labels,
    parse: Callable[[str], T | None],
    *,
    below: bool = True,
    lines: Iterable[Line] | None = None,
    at_start: bool = False,
) -> Iterator[Hit[T]]:
    """Every value ``parse`` accepts next to one of ``labels``, in reading
    order (``at_start``: only labels that begin their cell)."""
    for line in lines if lines is not None else doc.lines:
        for position, cell in enumerate(line.cells):
            found = labels.at_start(cell.text, within=0) if at_start else labels.search(cell.text)
            if found is None:
                continue
            label, _, end = found
            rest = _after(cell.text, end)
            if rest:
                value = parse(rest)
                if value is not None:
                    yield Hit(value, SAME_CELL * label.weight, line, "same_cell", label, rest, cell)
                    continue
            right = line.cells[position + 1 : position + 3]
            hit = False
            for other in right:
                if labels.search(other.text) is not None or other.text.endswith(":"):
                    break  # the next label's cell, not this one's value
                value = parse(other.text)
                if value is not None:
                    yield Hit(value, RIGHT * label.weight, line, "right", label, other.text, cell)
                    hit = True
                    break
            if hit or not below:
                continue
            for other in cells_below(doc, line, cell, depth=2):
                value = parse(other.text)
                if value is not None:
                    yield Hit(value, BELOW * label.weight, line, "below", label, other.text, cell)


def best(hits: Iterable[Hit[T]]) -> Hit[T] | None:
    """The most confident hit; the first one in reading order on a tie."""
    chosen: Hit[T] | None = None
    for hit in hits:
        if chosen is None or hit.confidence > chosen.confidence + 1e-9:
            chosen = hit
    return chosen


_IDENTIFIER = re.compile(r"#?\s?([A-Za-z0-9][A-Za-z0-9/_.-]{1,40}[A-Za-z0-9])")


def identifier(text: str) -> str | None:
    """The first token that looks like a reference number (has a digit; is
    not a date or an amount with a currency)."""
    text = re.sub(r"^(?:n[°ºo]\.?|nr\.?|no\.?|number|#)\s*[:.]?\s*", "", text.strip(), flags=re.I)
    for match in _IDENTIFIER.finditer(text):
        token = match.group(1)
        if not any(c.isdigit() for c in token):
            continue
        if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", token):
            continue
        if re.fullmatch(r"\d{1,3}([.,]\d{3})*[.,]\d{2}", token):
            continue
        return token
    return None


#: endings of company names
COMPANY = re.compile(
    r"\b(inc|incorporated|ltd|limited|llc|llp|plc|gmbh|ag|kg|ohg|ug|sas|sarl|sa|s\.a|srl|"
    r"s\.r\.l|spa|s\.p\.a|bv|b\.v|nv|n\.v|oy|ab|as|pty|pvt|co|corp|corporation|company|"
    r"gbr|e\.k|sl|s\.l|lda)\b\.?",
    re.IGNORECASE,
)


def clean_name(text: str) -> str:
    """A party's name from a cell: without a leading 'ATTN:' or a trailing
    address after ' - ', and without trailing punctuation."""
    text = re.sub(r"^(attn|attention|z\.?\s?hd\.?|c/o)\s*[:.]?\s*", "", text.strip(), flags=re.I)
    text = re.split(r"\s[-\u2013|]\s", text)[0]
    return text.strip(" ,;:-") or text.strip()
