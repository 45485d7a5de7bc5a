"""The path pass of compression: path coordinates cut to a precision no one sees.

Drawings made by programs (MetaPost, TikZ, plotting libraries) often write
each coordinate of a path with six decimals, ``169.928207 -1.895981 c``:
digits below a thousandth of a point that no screen or printer shows, and
that Flate cannot compress, being noise. This pass cuts the decimals of the
operands of the path-building operators (``m l c v y re``) so that no
coordinate moves by more than TOLERANCE_PT on the page: 0.01 pt, a sixth of a
pixel at 1200 dpi. Everything else in a content stream is left byte for byte:
text, colours, line widths, dashes, matrices.

It works on lines, the way those programs write: a line that holds only
numbers and one path operator. The work is vectorised with NumPy (a drawing
of 11 MB of content takes a fraction of a second). A stream is left as it is
when a string or a hex string runs over a line end, or when it holds an
inline image, since a line inside those is not an instruction.

The precision is two decimals in user space, one more for each power of ten
that the stream's own ``cm`` matrices may scale up by, and one more in form
XObjects, which may be drawn scaled. The pass runs at ``high`` and
``maximum`` (``LevelPreset.round_paths``), in compression's child process,
and its candidate goes through the quality gate like any lossy one.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pikepdf
from pikepdf import Name, Pdf

from pressroom.services.pdf_forms import forms_in

#: the largest move of a path coordinate, in points on the page
TOLERANCE_PT = 0.01
#: a stream is rewritten only when at least this share of its bytes goes
MIN_GAIN = 0.01
#: qpdf's own level when it compresses a stream; 9 costs 40 % more time
#: on the corpus's largest drawing for under 1 % of its size
ZLIB_LEVEL = 6

_BASE_DECIMALS = max(0, math.ceil(-math.log10(TOLERANCE_PT)))
_LONG_DECIMALS = re.compile(rb"\.\d{%d,}" % (_BASE_DECIMALS + 1))
_SAMPLE = 32 * 1024

_WS = np.zeros(256, dtype=bool)
_WS[[ord(" "), ord("\t")]] = True
_NL = np.zeros(256, dtype=bool)
_NL[[ord("\n"), ord("\r")]] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0") : ord("9") + 1] = True
#: what may stand before a path operator on its line
_OPERAND = _DIGIT | _WS
_OPERAND[[ord("."), ord("+"), ord("-")]] = True
_ONE_LETTER_OPS = np.zeros(256, dtype=bool)
_ONE_LETTER_OPS[[ord(c) for c in "mlcvy"]] = True


@dataclass
class PathReport:
    streams: int = 0
    rewritten: int = 0
    bytes_before: int = 0  # of the rewritten streams, as stored
    bytes_after: int = 0


def truncate_path_decimals(data: bytes, decimals: int) -> bytes:
    """``data`` with the path operators' operands cut to ``decimals``
    decimals (see the module's docstring); unchanged when unsafe to touch."""
    if not data or _unsafe(data):
        return data
    arr = np.frombuffer(data, dtype=np.uint8)
    n = arr.size
    ends = np.flatnonzero(_NL[arr])  # each line ends at its line break (or the end)
    if ends.size == 0 or ends[-1] != n - 1:
        ends = np.append(ends, n)
    starts = np.concatenate(([0], ends[:-1] + 1))
    # the operator: the line's last characters, before at most one blank
    padded = np.concatenate((arr, np.zeros(1, dtype=np.uint8)))
    last = ends - 1
    last = np.where(_WS[padded[np.maximum(last, 0)]], last - 1, last)
    at = np.maximum(last, 0)
    one_letter = _ONE_LETTER_OPS[padded[at]] & _WS[padded[np.maximum(at - 1, 0)]]
    rect = (
        (padded[at] == ord("e"))
        & (padded[np.maximum(at - 1, 0)] == ord("r"))
        & _WS[padded[np.maximum(at - 2, 0)]]
    )
    letters = np.where(rect, 2, 1)
    # nothing but numbers and blanks before it: its letters are the line's only others
    bad = (~_OPERAND[arr] & ~_NL[arr]).astype(np.uint8)
    others = np.add.reduceat(bad, starts, dtype=np.int64)
    path_line = (one_letter | rect) & (others == letters) & (last - letters >= starts)
    if not path_line.any():
        return data
    # in the numbers of those lines, the digits beyond ``decimals`` after a point
    dots = np.flatnonzero(arr == ord("."))
    dots = dots[path_line[np.searchsorted(starts, dots, side="right") - 1]]
    if dots.size == 0:
        return data
    non_digits = np.flatnonzero(~_DIGIT[padded])  # the padding closes the last run
    run_end = non_digits[np.searchsorted(non_digits, dots + 1)]
    first = dots + 1 + decimals
    cut = run_end > first
    if not cut.any():
        return data
    marks = np.zeros(n + 1, dtype=np.int8)
    marks[first[cut]] = 1
    marks[run_end[cut]] -= 1
    drop = np.cumsum(marks[:n], dtype=np.int8).astype(bool)
    return arr[~drop].tobytes()


_STRING_OVER_LINE = re.compile(rb"\((?:[^()\\\r\n]|\\.)*[\r\n]", re.S)
_HEX_OVER_LINE = re.compile(rb"<[0-9A-Fa-f \t\f]*[\r\n]")
_INLINE_IMAGE = re.compile(rb"(?:^|\s)ID\s")


def _unsafe(data: bytes) -> bool:
    """Whether a line of ``data`` may not be an instruction: a string or a hex
    string runs over a line end, or an inline image's data is there."""
    return bool(
        (b"(" in data and _STRING_OVER_LINE.search(data))
        or (b"<" in data and _HEX_OVER_LINE.search(data))
        or (b"ID" in data and _INLINE_IMAGE.search(data))
    )


def _scale_decimals(data: bytes) -> int:
    """Decimals to add for the largest scaling by which the stream's own
    ``cm`` matrices draw a path: the scale of each ``cm`` (the longer of its
    rows) multiplied down the ``q``/``Q`` nesting, an upper bound."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.size < 3:
        return 0
    blank = np.concatenate(([True], _WS[arr] | _NL[arr], [True]))  # around the ends too
    alone = blank[:-2] & blank[2:]  # a one-character token, if its character is an operator
    q = np.flatnonzero(alone & ((arr == ord("q")) | (arr == ord("Q"))))
    cm = np.flatnonzero((arr[:-1] == ord("c")) & (arr[1:] == ord("m")) & blank[:-3] & blank[3:])
    if cm.size == 0:
        return 0
    events = sorted([(int(i), 0) for i in q] + [(int(i), 1) for i in cm])
    scale = top = 1.0
    stack: list[float] = []
    for position, kind in events:
        if kind == 1:
            operands = data[max(0, position - 160) : position].split()[-6:]
            try:
                a, b, c, d = (float(x) for x in operands[:4])
            except ValueError:
                continue  # not a matrix after all
            scale *= max(math.hypot(a, b), math.hypot(c, d))
            top = max(top, scale)
            if top > 1e6:
                break
        elif data[position] == ord("q"):
            stack.append(scale)
        else:
            scale = stack.pop() if stack else 1.0
    return min(6, math.ceil(math.log10(top))) if top > 1.0 else 0


def _head(stream: pikepdf.Stream) -> bytes:
    """The start of a stream's data, for ``_worth_it``: a Flate stream (how
    content is stored) is inflated only that far, not whole (34 MB of
    drawing took 0.7 s to read for nothing)."""
    if stream.get("/Filter") == Name.FlateDecode and "/DecodeParms" not in stream:
        try:
            return zlib.decompressobj().decompress(stream.read_raw_bytes(), 3 * _SAMPLE)
        except zlib.error:
            return b""
    try:
        return stream.read_bytes()[: 3 * _SAMPLE]
    except pikepdf.PdfError:
        return b""


def _worth_it(data: bytes) -> bool:
    """Whether a sample of the stream (its start, middle and end) has enough
    digits beyond the base precision for the cut to gain MIN_GAIN: a cheap
    look before the work (a drawing of 34 MB whose coordinates have three
    digits at a tenth of a point has nothing to give)."""
    size = len(data)
    if size <= 3 * _SAMPLE:
        sample = data
    else:
        middle = size // 2
        sample = data[:_SAMPLE] + data[middle : middle + _SAMPLE] + data[-_SAMPLE:]
    excess = sum(len(m) - 1 - _BASE_DECIMALS for m in _LONG_DECIMALS.findall(sample))
    return excess >= MIN_GAIN * len(sample)


def _content_streams(pdf: Pdf) -> list[tuple[pikepdf.Stream, bool]]:
    """Every page content stream and form XObject, once: (stream, is_form)."""
    seen: set[tuple[int, int]] = set()
    found: list[tuple[pikepdf.Stream, bool]] = []
    forms_seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        for part in contents if isinstance(contents, pikepdf.Array) else [contents]:
            if isinstance(part, pikepdf.Stream) and part.objgen not in seen:
                seen.add(part.objgen)
                found.append((part, False))
        found.extend((form, True) for form in forms_in(page.obj.get("/Resources"), forms_seen))
    return found


def cut_stream(data: bytes, is_form: bool) -> bytes:
    """One content stream with its path coordinates cut (as ``round_paths``
    does), or unchanged when it has too few digits to spare."""
    if not _worth_it(data):
        return data
    decimals = _BASE_DECIMALS + _scale_decimals(data) + (1 if is_form else 0)
    return truncate_path_decimals(data, decimals)


def estimate(pdf: Pdf, *, samples: int = 4, sample_bytes: int = 1 << 20) -> tuple[int, float]:
    """(bytes of content streams as stored, the size ratio the pass would
    give them), from the first ``sample_bytes`` of the ``samples`` largest:
    the compression preview's figure, in a fraction of the pass's time."""
    streams = [(len(s.read_raw_bytes()), s, is_form) for s, is_form in _content_streams(pdf)]
    total = sum(size for size, _, _ in streams)
    before = after = 0
    for _, stream, is_form in sorted(streams, key=lambda item: item[0], reverse=True)[:samples]:
        try:
            data = stream.read_bytes()[:sample_bytes]
        except pikepdf.PdfError:
            continue
        data = data[: data.rfind(b"\n") + 1] or data  # whole lines only
        before += len(zlib.compress(data, ZLIB_LEVEL))
        after += len(zlib.compress(cut_stream(data, is_form), ZLIB_LEVEL))
    return total, (after / before if before else 1.0)


def round_paths(src: Path, dest: Path) -> PathReport:
    """Write ``src`` with its path coordinates cut to ``dest``, when that
    saves at least MIN_GAIN of the file; returns what changed (``dest`` not
    written: too little did)."""
    report = PathReport()
    with Pdf.open(src) as pdf:
        for stream, is_form in _content_streams(pdf):
            report.streams += 1
            if not _worth_it(_head(stream)):
                continue
            try:
                data = stream.read_bytes()
            except pikepdf.PdfError:
                continue  # a filter we cannot decode: left alone
            new = cut_stream(data, is_form)
            if len(new) > len(data) * (1 - MIN_GAIN):
                continue
            old_size = len(stream.read_raw_bytes())
            packed = zlib.compress(new, ZLIB_LEVEL)
            if len(packed) >= old_size:
                continue
            stream.write(packed, filter=Name.FlateDecode)
            if "/DecodeParms" in stream:
                del stream["/DecodeParms"]
            report.rewritten += 1
            report.bytes_before += old_size
            report.bytes_after += len(packed)
        if report.bytes_before - report.bytes_after >= MIN_GAIN * src.stat().st_size:
            pdf.save(dest)  # else not worth a candidate (and its quality check)
    return report
