"""The font pass of compression: embedded Type 1 font programs rewritten as CFF.

A Type 1 font embedded in a PDF (``/FontFile``: a cleartext part, an
eexec-encrypted part and a trailer, ``/Length1`` ``/Length2`` ``/Length3``)
holds the same outlines as a CFF font program (``/FontFile3`` with
``/Subtype /Type1C``), which stores them about half as compactly: no
encryption padding, Type 2 charstrings, binary dictionaries.

For each embedded Type 1 font this module

1. parses the program with fontTools' PostScript interpreter (t1Lib/psLib);
2. draws every glyph (Type 1 charstrings, subroutines, flex, ``seac``
   accents decomposed) into Type 2 charstrings with ``T2CharStringPen``;
3. builds a bare CFF keeping the font name, glyph names (charset), the
   font's built-in encoding, FontMatrix, FontBBox, widths and the blue
   zones / standard stems of the Private dict;
4. checks the result by reading the CFF back: same glyph set, same
   encoding, same widths, same outlines (within 1/100 unit); only then
   replaces the stream and renames ``/FontFile`` to ``/FontFile3``.

Anything it is not sure about is skipped with a reason (multiple master,
stroked fonts, ``sbw`` / vertical metrics, unusual ``lenIV``, an encoding
that a CFF encoding cannot express, an outline that does not compare equal).

Limits: hints (stems, hint replacement, dot sections, counter control) are
dropped, so a rasteriser that hints Type 1 fonts may move a pixel; the
charstrings are not subroutinized. The pass is therefore a gated candidate,
not a lossless one. It relies on fontTools internals (psLib, the Type 1
outline extractor), hence the pinned version.

It runs in compression's child process (pressroom.services.compression_pipeline,
with a time-out and a memory cap: a font program is PostScript code from an
untrusted file), never in the worker itself.
"""

from __future__ import annotations

import io
import re
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
from fontTools.cffLib import (
    CFFFontSet,
    CharStrings,
    GlobalSubrsIndex,
    PrivateDict,
    TopDict,
    TopDictIndex,
)
from fontTools.encodings.StandardEncoding import StandardEncoding
from fontTools.misc import eexec, psCharStrings, psLib
from fontTools.pens.recordingPen import DecomposingRecordingPen, RecordingPen
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.ttLib import TTFont, newTable
from pikepdf import Name

#: keep the CFF only when it is at most this fraction of the Type 1 stream
MIN_GAIN = 0.95
#: convert nothing when all Type 1 programs together are less than this
#: share of the file: the CFF saves about a quarter of them, so at most a
#: fraction of a percent here, while checking the candidate (text
#: extraction, page renders) costs about as much as for a document made of
#: fonts (a 5 MB drawing with 20 KB of fonts: 0.4 CPU-s for 0.3 %)
MIN_SHARE = 0.01
#: outline coordinates may differ by this much (font units) after conversion
TOLERANCE = 0.01

_EEXEC = re.compile(rb"currentfile\s+eexec\s*$")
#: Type 1 encryption (Adobe Type 1 Font Format, 7.1): keys of the eexec
#: section and of charstrings, the two constants of the key update
EEXEC_KEY = 55665
CHARSTRING_KEY = 4330
_C1, _C2 = 52845, 22719
_C1_INVERSE = pow(_C1, -1, 1 << 16)
_HEX = re.compile(rb"^[0-9A-Fa-f\s]*$")

#: Private dict entries carried over as they are (StdHW/StdVW: first element)
_PRIVATE_ARRAYS = ("BlueValues", "OtherBlues", "FamilyBlues", "FamilyOtherBlues")
_PRIVATE_NUMBERS = ("BlueScale", "BlueShift", "BlueFuzz", "LanguageGroup", "ExpansionFactor")


class Unconvertible(Exception):
    """This font is left as it is; the message says why."""


@dataclass
class FontReport:
    fonts_seen: int = 0  # font programs (/FontFile streams), shared ones once
    converted: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_fonts: list[dict[str, str]] = field(default_factory=list)
    bytes_before: int = 0  # encoded stream sizes of the converted fonts
    bytes_after: int = 0
    glyphs: int = 0
    seconds: float = 0.0
    changed: bool = False

    def skip(self, name: str, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        self.skipped_fonts.append({"font": name, "reason": reason})


# -- reading the Type 1 program --------------------------------------------------------
def _split(stream: pikepdf.Stream) -> bytes:
    """Cleartext + binary eexec part of a /FontFile stream, ready for psLib."""
    data = stream.read_bytes()
    try:
        length1 = int(stream.stream_dict["/Length1"])
        length2 = int(stream.stream_dict["/Length2"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unconvertible("no /Length1 /Length2") from exc
    if data[:2] == b"\x80\x01":
        raise Unconvertible("PFB segments in the stream")
    if not (0 < length1 < len(data)) or length2 <= 0:
        raise Unconvertible("bad /Length1 /Length2")
    clear, secret = data[:length1], data[length1 : length1 + length2]
    if not _EEXEC.search(clear):
        # some producers count the newline after eexec in Length2, or none at all
        found = re.search(rb"currentfile\s+eexec(\r\n|\r|\n)", data)
        if not found:
            raise Unconvertible("no eexec section")
        clear, secret = data[: found.end()], data[found.end() : found.end() + length2]
    if _HEX.match(secret[:4096]):  # ASCII-hex eexec (PFA style)
        secret = eexec.deHexString(b"".join(secret.split()))
    # the eexec section decrypted here, without its 4 random leading bytes,
    # in place of "currentfile eexec": what psLib's own (pure Python, byte by
    # byte) decryption would hand its tokenizer
    clear = re.sub(rb"currentfile\s+eexec\s*$", b"", clear.rstrip(b" \t\r\n"))
    return clear + b"\n" + decrypt(secret, EEXEC_KEY)[4:]


def decrypt(cipher: bytes, key: int) -> bytes:
    """Type 1 decryption, vectorised.

    Byte i is ``c[i] ^ (r[i] >> 8)`` with the key ``r[i+1] = (c[i] + r[i]) * C1
    + C2`` modulo 2**16: a linear recurrence, so ``r[i] = C1**i * (key +
    sum(C1**-(k+1) * (C1 * c[k] + C2) for k < i))``. C1 is odd, hence
    invertible modulo 2**16; unsigned 64-bit arithmetic wraps modulo 2**64,
    a multiple of 2**16, so the low 16 bits come out right (the sums for
    several strings at once: ``decrypt_each``)."""
    return decrypt_each([cipher], key)[0]


_SUBRS = re.compile(rb"/Subrs\s+(\d+)\s+array\b")
_SUBR = re.compile(rb"\s*dup\s+(\d+)\s+(\d+)\s+(?:RD|-\|) ")
_SUBR_END = re.compile(rb"\s*(?:NP|\||noaccess\s+put|put)(?=\s)")
_CHARSTRINGS = re.compile(rb"/CharStrings\s+(\d+)\s+dict\s+dup\s+begin\b")
_GLYPH = re.compile(rb"\s*/([^\s/\[\]{}()<>%]+)\s+(\d+)\s+(?:RD|-\|) ")
_GLYPH_END = re.compile(rb"\s*(?:ND|\|-|noaccess\s+def|def)(?=\s)")


def _binary_entries(
    program: bytes, start: int, entry: re.Pattern[bytes], end: re.Pattern[bytes]
) -> tuple[list[tuple[bytes, bytes]], int]:
    """The ``key len RD <len bytes> END`` entries of a Subrs array or a
    CharStrings dict from ``start``: (key, bytes) each, and where they stop."""
    entries: list[tuple[bytes, bytes]] = []
    pos = start
    while (head := entry.match(program, pos)) is not None:
        length = int(head.group(2))
        data = program[head.end() : head.end() + length]
        tail = end.match(program, head.end() + length)
        if len(data) != length or tail is None:
            raise ValueError("a charstring entry out of the standard layout")
        entries.append((head.group(1), data))
        pos = tail.end()
    return entries, pos


def _split_charstrings(
    program: bytes,
) -> tuple[bytes, list[bytes], dict[str, bytes]] | None:
    """The Subrs and CharStrings of a Type 1 program read directly, in the
    layout the Type 1 specification gives them (``dup i len RD <bytes> NP``,
    ``/name len RD <bytes> ND``), and the program without them: what is left
    for fontTools' PostScript interpreter, which spent half the font pass
    tokenising these entries one by one. None when the program does not
    follow that layout: the interpreter then reads all of it."""
    try:
        subrs_head = _SUBRS.search(program)
        subrs: list[bytes] = []
        if subrs_head is not None:
            found, subrs_end = _binary_entries(program, subrs_head.end(), _SUBR, _SUBR_END)
            count = int(subrs_head.group(1))
            by_index = {int(i): data for i, data in found}
            if sorted(by_index) != list(range(count)):
                return None
            subrs = [by_index[i] for i in range(count)]
            program = program[: subrs_head.start()] + b"/Subrs 0 array" + program[subrs_end:]
        glyphs_head = _CHARSTRINGS.search(program)
        if glyphs_head is None:
            return None
        found, glyphs_end = _binary_entries(program, glyphs_head.end(), _GLYPH, _GLYPH_END)
        if not found or not re.match(rb"\s*end\b", program[glyphs_end:]):
            return None
        glyphs = {name.decode("latin-1"): data for name, data in found}
        program = (
            program[: glyphs_head.start()] + b"/CharStrings 0 dict dup begin" + program[glyphs_end:]
        )
    except ValueError:
        return None
    return program, subrs, glyphs


def decrypt_each(ciphers: list[bytes], key: int) -> list[bytes]:
    """``decrypt(c, key)`` of each of ``ciphers`` (charstrings: a few hundred
    per font, of about a hundred bytes), computed in one pass over them all:
    one call each cost more in NumPy's setup than in the work. Each string
    starts at ``key`` again: with S the running sum of ``decrypt``'s terms
    over the concatenation, the key at byte i of a string starting at s is
    ``C1**i * (key * C1**-s + S[i] - S[s])``."""
    if not ciphers:
        return []
    lengths = np.array([len(c) for c in ciphers], dtype=np.int64)
    c = np.frombuffer(b"".join(ciphers), dtype=np.uint8).astype(np.uint64)
    if len(c) == 0:
        return [b"" for _ in ciphers]
    powers = np.full(len(c), _C1, dtype=np.uint64)
    powers[0] = 1
    powers = np.cumprod(powers)
    inverses = np.cumprod(np.full(len(c), _C1_INVERSE, dtype=np.uint64))
    sums = np.concatenate((np.zeros(1, dtype=np.uint64), np.cumsum(inverses * (c * _C1 + _C2))))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    start_of = np.repeat(starts, lengths)
    # C1**-s: 1 for s = 0, else the inverse power of byte s - 1
    start_inverse = np.where(start_of > 0, inverses[np.maximum(start_of - 1, 0)], 1)
    keys = (powers * (np.uint64(key) * start_inverse + sums[:-1] - sums[start_of])) & 0xFFFF
    plain = (c ^ (keys >> 8)).astype(np.uint8).tobytes()
    bounds = np.concatenate((starts, [len(c)]))
    return [plain[bounds[i] : bounds[i + 1]] for i in range(len(ciphers))]


def _parse(program: bytes) -> dict[str, Any]:
    split = _split_charstrings(program)
    try:
        font = psLib.suckfont(split[0] if split is not None else program)
    except Exception as exc:  # the interpreter's own errors are of many kinds
        raise Unconvertible(f"not parsed: {type(exc).__name__}") from exc
    if split is not None:
        _rest, subrs_data, glyphs_data = split
        if isinstance(font.get("Private"), dict):
            font["Private"]["Subrs"] = subrs_data
        font["CharStrings"] = glyphs_data
    if font.get("FontType", 1) != 1:
        raise Unconvertible("FontType is not 1")
    if font.get("PaintType", 0) != 0:
        raise Unconvertible("stroked font (PaintType 2)")
    if "WeightVector" in font or "BlendDesignPositions" in font or "Blend" in font:
        raise Unconvertible("multiple master font")
    private = font.get("Private")
    if not isinstance(private, dict) or "CharStrings" not in font:
        raise Unconvertible("no Private dict or CharStrings")
    len_iv = private.get("lenIV", 4)
    if not isinstance(len_iv, int) or len_iv < 0:
        raise Unconvertible(f"lenIV {len_iv}")
    raw_subrs = list(private.get("Subrs", []))
    names = list(font["CharStrings"])
    if not all(isinstance(raw, bytes) for raw in raw_subrs):
        raise Unconvertible("unreadable Subrs")
    plain = decrypt_each([*raw_subrs, *font["CharStrings"].values()], CHARSTRING_KEY)
    subrs: list[Any] = []
    subrs.extend(
        psCharStrings.T1CharString(p[len_iv:], subrs=subrs) for p in plain[: len(raw_subrs)]
    )
    font["CharStrings"] = {
        name: psCharStrings.T1CharString(p[len_iv:], subrs=subrs)
        for name, p in zip(names, plain[len(raw_subrs) :], strict=True)
    }
    return font


def _uses(charstring: psCharStrings.T1CharString, op: str) -> bool:
    charstring.decompile()
    return op in charstring.program


# -- building the CFF ------------------------------------------------------------------
def _encoding(font: dict[str, Any], glyphs: dict[str, Any]) -> list[str] | str:
    """The built-in encoding as a CFF can hold it: one code per glyph."""
    encoding = font.get("Encoding")
    if encoding is None or encoding == "StandardEncoding":
        return "StandardEncoding"
    if not isinstance(encoding, list) or len(encoding) != 256:
        raise Unconvertible("unreadable /Encoding")
    names = [n if isinstance(n, str) and n in glyphs else ".notdef" for n in encoding]
    if names == list(StandardEncoding):
        return "StandardEncoding"
    used = [n for n in names if n != ".notdef"]
    if len(used) != len(set(used)):
        # a CFF encoding can give a glyph more codes only through supplements,
        # which fontTools does not write
        raise Unconvertible("encoding gives a glyph several codes")
    return names


def _private(font: dict[str, Any]) -> dict[str, Any]:
    src = font["Private"]
    out: dict[str, Any] = {}
    for key in _PRIVATE_ARRAYS:
        value = src.get(key)
        if isinstance(value, list) and value and len(value) % 2 == 0:
            out[key] = list(value)
    for key in _PRIVATE_NUMBERS:
        value = src.get(key)
        if isinstance(value, (int, float)):
            out[key] = value
    for key in ("StdHW", "StdVW"):
        value = src.get(key)
        if isinstance(value, list) and value:
            out[key] = value[0]
    for key in ("StemSnapH", "StemSnapV"):
        value = src.get(key)
        if isinstance(value, list) and value:
            out[key] = list(value)
    if isinstance(src.get("ForceBold"), bool):
        out["ForceBold"] = src["ForceBold"]
    return out


def _top(font: dict[str, Any]) -> dict[str, Any]:
    info = font.get("FontInfo") or {}
    out: dict[str, Any] = {}
    for key in ("version", "Notice", "Copyright", "FullName", "FamilyName", "Weight"):
        value = info.get(key)
        if isinstance(value, str):
            out[key] = value
    for key in ("ItalicAngle", "UnderlinePosition", "UnderlineThickness"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            out[key] = value
    if isinstance(info.get("isFixedPitch"), bool):
        out["isFixedPitch"] = info["isFixedPitch"]
    matrix = font.get("FontMatrix")
    if not (isinstance(matrix, list) and len(matrix) == 6):
        raise Unconvertible("no FontMatrix")
    out["FontMatrix"] = [float(v) for v in matrix]
    bbox = font.get("FontBBox")
    # an array, or (written in braces, as TeX's fonts have it) a procedure,
    # which the interpreter gives as a tuple
    if (
        isinstance(bbox, (list, tuple))
        and len(bbox) == 4
        and all(isinstance(v, (int, float)) for v in bbox)
    ):
        out["FontBBox"] = list(bbox)
    return out


def _draw_t1(name: str, glyphs: dict[str, Any]) -> tuple[RecordingPen, float]:
    """The outline of a Type 1 glyph, ``seac`` accents decomposed, and its width."""
    pen = DecomposingRecordingPen(glyphs)
    charstring = glyphs[name]
    charstring.draw(pen)
    return pen, charstring.width


def _to_t2(font: dict[str, Any]) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    glyphs: dict[str, Any] = font["CharStrings"]
    if ".notdef" not in glyphs:
        raise Unconvertible("no .notdef")
    # encoded glyphs first, in code order: a CFF encoding (format 0 or 1)
    # can give codes only to a run of glyphs from GID 1 on
    encoding = _encoding(font, glyphs)
    encoded = [] if isinstance(encoding, str) else [n for n in encoding if n != ".notdef"]
    order = [".notdef", *encoded]
    order += [n for n in glyphs if n not in set(order)]
    charstrings: dict[str, Any] = {}
    recorded: dict[str, Any] = {}
    for name in order:
        charstring = glyphs[name]
        if _uses(charstring, "sbw"):
            raise Unconvertible("sbw (vertical metrics)")
        try:
            outline, width = _draw_t1(name, glyphs)
        except KeyError as exc:
            raise Unconvertible("seac with a missing component") from exc
        except Exception as exc:
            raise Unconvertible(f"charstring not drawn: {type(exc).__name__}") from exc
        pen = T2CharStringPen(width, None, roundTolerance=0)
        outline.replay(pen)
        charstring = pen.getCharString()
        if width != round(width):  # the pen rounds the width; Type 2 can hold 16.16
            charstring.program[0] = float(width)
        charstrings[name] = charstring
        recorded[name] = (outline.value, width)
    return order, charstrings, recorded


def _build_cff(font: dict[str, Any], order: list[str], charstrings: dict[str, Any]) -> bytes:
    top_values = _top(font)
    # the font's own FontBBox is kept; fontTools computes one (drawing every
    # glyph again) only for a font that declares none
    ot = TTFont(sfntVersion="OTTO", recalcBBoxes="FontBBox" not in top_values)
    ot.setGlyphOrder(order)
    fontset = CFFFontSet()
    fontset.major, fontset.minor = 1, 0
    fontset.otFont = ot
    name = font.get("FontName")
    fontset.fontNames = [name if isinstance(name, str) else "Font"]
    fontset.topDictIndex = TopDictIndex()
    fontset.GlobalSubrs = GlobalSubrsIndex()
    private = PrivateDict()
    for key, value in _private(font).items():
        setattr(private, key, value)
    top = TopDict()
    top.charset = order
    top.Private = private
    top.GlobalSubrs = fontset.GlobalSubrs
    for key, value in top_values.items():
        setattr(top, key, value)
    top.Encoding = _encoding(font, charstrings)
    cs = CharStrings(None, top.charset, fontset.GlobalSubrs, private, None, None)
    for glyph, charstring in charstrings.items():
        charstring.private = private
        charstring.globalSubrs = fontset.GlobalSubrs
        cs[glyph] = charstring
    top.CharStrings = cs
    fontset.topDictIndex.append(top)
    table = newTable("CFF ")
    table.cff = fontset
    ot["CFF "] = table
    return bytes(table.compile(ot))


# -- checking the CFF ------------------------------------------------------------------
def _close(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= TOLERANCE
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _same_outline(
    a: list[tuple[str, tuple[Any, ...]]], b: list[tuple[str, tuple[Any, ...]]]
) -> bool:
    """``_close(a, b)`` for two normalised outlines, with the coordinates
    compared at once: the same operators, the same number of points in
    each, every coordinate within TOLERANCE."""
    if [(op, len(args)) for op, args in a] != [(op, len(args)) for op, args in b]:
        return False
    xy_a = np.array([c for _, args in a for point in args for c in point], dtype=np.float64)
    xy_b = np.array([c for _, args in b for point in args for c in point], dtype=np.float64)
    return xy_a.shape == xy_b.shape and bool(np.all(np.abs(xy_a - xy_b) <= TOLERANCE))


def _normal(ops: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    """Contours as drawn, up to what Type 2 writing may change without changing
    the shape: closing lines, empty moves and collinear line runs."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    start: Any = None
    for op, args in ops:
        if op in ("closePath", "endPath"):
            if out and out[-1][0] == "lineTo" and _close(out[-1][1][0], start):
                out.pop()  # the line back to the start is implicit
            if out and out[-1][0] != "moveTo":
                out.append(("closePath", ()))
            continue
        if op == "curveTo" and out:
            current = out[-1][1][-1] if out[-1][1] else start
            if _close(args[0], current) and _close(args[1], args[2]):
                op, args = "lineTo", (args[2],)  # a curve drawn as a line
        if op == "moveTo":
            if out and out[-1][0] == "moveTo":
                out.pop()
            start = args[0]
        elif op == "lineTo" and len(out) >= 2 and out[-1][0] == "lineTo":
            (x0, y0), (x1, y1), (x2, y2) = out[-2][1][-1], out[-1][1][0], args[0]
            cross = (x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1)
            dot = (x1 - x0) * (x2 - x1) + (y1 - y0) * (y2 - y1)
            if abs(cross) <= TOLERANCE and dot >= 0:
                out.pop()  # one line where there were two in a row
        out.append((op, args))
    if out and out[-1][0] == "moveTo":
        out.pop()
    return out


def _read_encoding(data: bytes, offset: int, charset: list[str]) -> list[str] | str:
    """The encoding of a CFF as written (fontTools' reader drops code 0)."""
    if offset == 0:
        return "StandardEncoding"
    if offset == 1:
        raise Unconvertible("check: ExpertEncoding")
    fmt, count = data[offset], data[offset + 1]
    if fmt & 0x80:
        raise Unconvertible("check: encoding supplements")
    names = [".notdef"] * 256
    pos, gid = offset + 2, 1
    if fmt == 0:
        for code in data[pos : pos + count]:
            names[code] = charset[gid]
            gid += 1
    elif fmt == 1:
        for _ in range(count):
            first, left = data[pos], data[pos + 1]
            pos += 2
            for code in range(first, first + left + 1):
                names[code] = charset[gid]
                gid += 1
    else:
        raise Unconvertible("check: bad encoding format")
    return names


def _check(data: bytes, font: dict[str, Any], order: list[str], recorded: dict[str, Any]) -> None:
    cff = CFFFontSet()
    ot = TTFont(sfntVersion="OTTO")
    cff.decompile(io.BytesIO(data), ot)
    top = cff[cff.fontNames[0]]
    if list(top.charset) != order:
        raise Unconvertible("check: charset differs")
    want = _encoding(font, recorded)
    got = _read_encoding(data, top.rawDict.get("Encoding", 0), order)
    if want != got:
        raise Unconvertible("check: encoding differs")
    if not _close(list(top.FontMatrix), [float(v) for v in font["FontMatrix"]]):
        raise Unconvertible("check: FontMatrix differs")
    for name in order:
        pen = RecordingPen()
        charstring = top.CharStrings[name]
        charstring.draw(pen)
        value, width = recorded[name]
        if not _close(charstring.width, width):
            raise Unconvertible("check: width differs")
        if not _same_outline(_normal(pen.value), _normal(value)):
            raise Unconvertible("check: outline differs")


def convert_font(stream: pikepdf.Stream) -> tuple[bytes, int]:
    """The CFF program for a /FontFile stream, and its glyph count."""
    font = _parse(_split(stream))
    order, charstrings, recorded = _to_t2(font)
    data = _build_cff(font, order, charstrings)
    _check(data, font, order, recorded)
    return data, len(order)


# -- the PDF ---------------------------------------------------------------------------
def _descriptors(pdf: pikepdf.Pdf) -> dict[tuple[int, int], list[pikepdf.Dictionary]]:
    """/FontFile streams by object id, with the font descriptors using each."""
    found: dict[tuple[int, int], list[pikepdf.Dictionary]] = {}
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary) or "/FontFile" not in obj:
            continue
        if obj.get("/Type") not in (None, Name.FontDescriptor):
            continue
        stream = obj.get("/FontFile")
        if not isinstance(stream, pikepdf.Stream) or not stream.is_indirect:
            continue
        found.setdefault(stream.objgen, []).append(obj)
    return found


def _encoded_size(stream: pikepdf.Stream) -> int:
    return len(stream.read_raw_bytes())


def convert_type1_fonts(src: Path, dest: Path) -> dict[str, Any]:
    """Rewrite every embedded Type 1 font of ``src`` that converts faithfully
    as CFF; save to ``dest`` when anything changed. Returns the report."""
    started = time.monotonic()
    report = FontReport()
    with pikepdf.open(src) as pdf:
        found = _descriptors(pdf)
        programs = sum(len(pdf.get_object(objgen).read_raw_bytes()) for objgen in found)
        if programs < MIN_SHARE * src.stat().st_size:
            for users in found.values():
                report.fonts_seen += 1
                report.skip(
                    str(users[0].get("/FontName", "?")), "fonts too small a share of the file"
                )
            found = {}
        for _objgen, users in found.items():
            stream = users[0].FontFile
            assert isinstance(stream, pikepdf.Stream)  # as _descriptors found it
            report.fonts_seen += 1
            name = str(users[0].get("/FontName", "?"))
            before = _encoded_size(stream)
            try:
                data, glyphs = convert_font(stream)
            except Unconvertible as exc:
                report.skip(name, str(exc))
                continue
            new = pikepdf.Stream(pdf, zlib.compress(data, 9))
            new.Filter = Name.FlateDecode
            new.Subtype = Name.Type1C
            after = _encoded_size(new)
            if after > before * MIN_GAIN:
                report.skip(name, "not smaller")
                continue
            ref = pdf.make_indirect(new)
            for descriptor in users:
                del descriptor["/FontFile"]
                descriptor.FontFile3 = ref
            report.converted += 1
            report.glyphs += glyphs
            report.bytes_before += before
            report.bytes_after += after
        report.changed = report.converted > 0
        if report.changed:
            pdf.save(dest)
    report.seconds = round(time.monotonic() - started, 3)
    return asdict(report)
