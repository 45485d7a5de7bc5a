"""Cutting text into pieces a model can take, and into sentences.

A chunk is a contiguous span of the original text, cut at the coarsest
boundary that fits: a paragraph break, then a line break, then the end of a
sentence, then a space, and only as a last resort in the middle of a word.
The whitespace between two chunks is kept (``gap``), so that a translation
put back together chunk by chunk keeps the original's paragraph structure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import accumulate

#: boundaries from coarse to fine; a match's start is where a chunk may end
_BOUNDARIES = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph break
    re.compile(r"\n\s*"),  # line break
    re.compile(r"(?<=[.!?\u3002\uff01\uff1f])[\"')\]\u00bb\u201d\u2019]*\s+"),  # end of a sentence
    re.compile(r"\s+"),  # between words
)

#: abbreviations after which a full stop does not end a sentence
_ABBREVIATION_LIST = (
    "e.g i.e etc vs cf al fig figs no nos vol pp p ch sec eq eqs approx dr mr mrs ms prof st jr sr"
    " inc ltd co corp dept est jan feb mar apr jun jul aug sep sept oct nov dec z.b bzw usw ca"
    " nr s.o u.a"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())
_SENTENCE_END = re.compile(r"([.!?\u3002\uff01\uff1f]+)([\"')\]\u00bb\u201d\u2019]*)(\s+)")
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")


def estimate_tokens(text: str) -> int:
    """A model's token count, estimated without its tokenizer: about four
    characters per token for text in the Latin alphabet, and one per character
    for other scripts (CJK, Cyrillic and Greek take more tokens), rounded up so
    that chunks err on the small side."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return math.ceil(ascii_chars / 4 + (len(text) - ascii_chars))


def _costs(text: str) -> list[float]:
    """Cumulative estimated tokens: ``costs[i]`` is the cost of ``text[:i]``."""
    return [0.0, *accumulate(0.25 if ord(ch) < 128 else 1.0 for ch in text)]


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int
    text: str
    gap: str  # the whitespace between this chunk and the next ("" for the last)


def chunk_text(text: str, max_tokens: int) -> list[Chunk]:
    """Contiguous spans of ``text``, each at most ``max_tokens`` (estimated),
    covering every non-blank character; the whitespace between two spans is
    the following ``gap``."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    costs = _costs(text)
    n = len(text)
    pos = len(text) - len(text.lstrip())
    spans: list[tuple[int, int]] = []
    while pos < n:
        if costs[n] - costs[pos] <= max_tokens:
            end = len(text.rstrip())
            if end > pos:
                spans.append((pos, end))
            break
        # the longest prefix from pos within the budget
        lo, hi = pos + 1, n
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if costs[mid] - costs[pos] <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        limit = lo
        cut = _best_cut(text, pos, limit)
        spans.append((pos, cut))
        pos = cut
        while pos < n and text[pos].isspace():
            pos += 1
    chunks = []
    for i, (start, end) in enumerate(spans):
        following = spans[i + 1][0] if i + 1 < len(spans) else end
        chunks.append(Chunk(start, end, text[start:end], text[end:following]))
    return chunks


def _best_cut(text: str, pos: int, limit: int) -> int:
    """Where to end a chunk that starts at ``pos`` and may not pass ``limit``:
    the last coarsest boundary in the window's second half."""
    window = text[pos:limit]
    half = len(window) // 2
    for pattern in _BOUNDARIES:
        starts = [m.start() for m in pattern.finditer(window) if m.start() > 0]
        if starts and starts[-1] >= half:
            return pos + starts[-1]
    return limit  # one endless word: cut it


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its lines joined by spaces."""
    found = []
    for block in _PARAGRAPH.split(text):
        joined = " ".join(line.strip() for line in block.splitlines() if line.strip())
        if joined:
            found.append(_dehyphenate(joined))
    return found


def _dehyphenate(text: str) -> str:
    """Join words broken at a line end ("infor- mation"), as PDF text often has."""
    return re.sub(r"([^\W\d_])- ([^\W\d_])", _join_broken_word, text)


def _join_broken_word(m: re.Match[str]) -> str:
    return m.group(1) + m.group(2) if m.group(2).islower() else m.group(0)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, in order, with their inner whitespace collapsed.

    A paragraph break always ends a sentence (headings stay apart from the
    text below them); a full stop after a known abbreviation, a single letter
    (an initial) or a number does not.
    """
    sentences: list[str] = []
    for para in paragraphs(text):
        start = 0
        for m in _SENTENCE_END.finditer(para):
            end = m.end(2)
            before = para[start : m.start(1)]
            word = before.rsplit(None, 1)[-1].lower() if before.split() else ""
            if m.group(1) == "." and (
                word.rstrip(".") in _ABBREVIATIONS
                or (len(word) == 1 and word.isalpha())
                or word.isdigit()
            ):
                continue
            nxt = para[m.end() : m.end() + 1]
            if nxt and nxt.islower():  # "... e.g. the" or a stop inside a clause
                continue
            sentence = para[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = m.end()
        tail = para[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def word_count(text: str) -> int:
    """Words as a reader counts them: runs of letters or digits (``don't`` is
    one); each CJK character counts as one word, since those scripts put no
    spaces between words."""
    cjk = len(_CJK.findall(text))
    return len(_WORD.findall(_CJK.sub(" ", text))) + cjk


#: words read per minute, for the reading time
READING_WPM = 200


def reading_time(words: int) -> int:
    """Minutes to read ``words`` words (at least 1 for any text)."""
    return max(1, math.ceil(words / READING_WPM)) if words else 0
