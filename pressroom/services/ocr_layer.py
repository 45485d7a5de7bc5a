"""The invisible text layer of an OCRmyPDF output, made lean.

Runs in its own process (``python -m pressroom.services.ocr_layer IN OUT``)
because it parses a PDF made from an untrusted upload. It
prints one JSON object (what it changed, in bytes).

OCRmyPDF adds one Form XObject per page, named ``/OCR-...``, drawn with
text render mode 3 (invisible). On a black-and-white CCITT scan, where the
image costs 35 KB a page, that layer is a seventh of the file: 6 KB of
compressed content per page (each word placed with ``Td`` and stretched with
``Tz`` to two decimals) and the 5 KB outline program of the NotoSans subset
it is drawn with. Without changing a pixel of the page, this module:

- rounds each word's position to 1/10 point (rounded on the absolute position
  within its text object, so the error never adds up along a line) and its
  horizontal scaling to 1/2 %, and recompresses the content at zlib's level 9;
- empties the glyph outlines of the fonts that layer alone uses (the text is
  never painted: render mode 3), keeping every glyph, its advance width and
  the character map, so selection, search and copy are unchanged.

Any other object, the page images in particular, is written back as it was.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zlib
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pikepdf
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables._g_l_y_f import Glyph

#: where a word starts, in points (an image pixel at 300 dpi is 0.24 pt)
POSITION_STEP = Decimal("0.1")
#: a word's horizontal scaling, in percent (0.25 % of a 100 pt word is 0.25 pt)
SCALING_STEP = Decimal("0.5")
#: TrueType tables that only serve to paint glyphs (hinting)
PAINT_TABLES = ("fpgm", "prep", "cvt ", "gasp", "hdmx", "LTSH", "VDMX")
INVISIBLE = 3
SHOW_TEXT = ("Tj", "TJ", "'", '"')


def _quantise(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value() * step


def _number(value: Decimal) -> Decimal:
    """A Decimal that unparses without an exponent or a negative zero."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal("0") if text in ("-0", "") else Decimal(text)


Instructions = list[tuple[list[Any], pikepdf.Operator]]


def compact_content(
    instructions: Iterable[pikepdf.ContentStreamInstruction | pikepdf.ContentStreamInlineImage],
) -> tuple[Instructions, bool] | None:
    """The text layer's instructions with positions and scalings rounded, and
    whether every glyph it shows is invisible (render mode 3); None for a
    content this module does not expect (an inline image), which is then left
    as it is."""
    out: Instructions = []
    mode, saved, invisible = 0, [], True
    # true and rounded position of the line start, relative to the last BT/Tm
    true_x = true_y = kept_x = kept_y = Decimal(0)
    for instruction in instructions:
        if not isinstance(instruction, pikepdf.ContentStreamInstruction):
            return None
        operands: list[Any] = list(instruction.operands)
        op = str(instruction.operator)
        if op == "q":
            saved.append(mode)
        elif op == "Q" and saved:
            mode = saved.pop()
        elif op in SHOW_TEXT:
            invisible = invisible and mode == INVISIBLE
        if op in ("BT", "Tm"):
            true_x = true_y = kept_x = kept_y = Decimal(0)
        elif op in ("Td", "TD") and len(operands) == 2:
            true_x += Decimal(str(float(operands[0])))
            true_y += Decimal(str(float(operands[1])))
            new_x = _quantise(true_x, POSITION_STEP)
            new_y = _quantise(true_y, POSITION_STEP)
            operands = [_number(new_x - kept_x), _number(new_y - kept_y)]
            kept_x, kept_y = new_x, new_y
        elif op == "Tz" and len(operands) == 1:
            operands = [_number(_quantise(Decimal(str(float(operands[0]))), SCALING_STEP))]
        elif op == "Tr" and len(operands) == 1:
            mode = int(operands[0])
        out.append((operands, instruction.operator))
    return out, invisible


def _literal(data: bytes) -> bytes:
    escaped = data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped.replace(b"\r", b"\\r") + b")"


def unparse(instructions: Instructions) -> bytes:
    """pikepdf's unparsing, except that a string is written as a literal
    (two bytes a glyph code instead of four hexadecimal digits: 3 % less once
    compressed)."""
    lines = []
    for operands, operator in instructions:
        if any(isinstance(operand, pikepdf.String) for operand in operands):
            parts = [
                _literal(bytes(operand))
                if isinstance(operand, pikepdf.String)
                else pikepdf.unparse_content_stream([([operand], pikepdf.Operator("X"))])[:-2]
                for operand in operands
            ]
            lines.append(b" ".join([*parts, str(operator).encode()]))
        else:
            lines.append(pikepdf.unparse_content_stream([(operands, operator)]))
    return b"\n".join(lines)


def glyphless(program: bytes) -> bytes:
    """A TrueType program with the same glyphs, advance widths and character
    map, and no outlines."""
    font = TTFont(io.BytesIO(program))
    glyf = font["glyf"]
    for name in font.getGlyphOrder():
        glyf[name] = Glyph()
    for tag in PAINT_TABLES:
        if tag in font:
            del font[tag]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _font_programs(font: pikepdf.Object) -> Iterable[pikepdf.Stream]:
    fonts = [font]
    descendants = font.get("/DescendantFonts")
    if isinstance(descendants, pikepdf.Array):
        fonts += list(descendants)
    for each in fonts:
        descriptor = each.get("/FontDescriptor") if isinstance(each, pikepdf.Dictionary) else None
        if isinstance(descriptor, pikepdf.Dictionary):
            program = descriptor.get("/FontFile2")
            if isinstance(program, pikepdf.Stream):
                yield program


def _entries(holder: pikepdf.Object, kind: str) -> dict[str, pikepdf.Object]:
    """The ``/Resources`` entries of one kind (``/Font``, ``/XObject``)."""
    resources = holder.get("/Resources")
    if not isinstance(resources, pikepdf.Dictionary):
        return {}
    entries = resources.get(kind)
    return dict(entries.items()) if isinstance(entries, pikepdf.Dictionary) else {}


def _layers(pdf: pikepdf.Pdf) -> Iterable[pikepdf.Stream]:
    for page in pdf.pages:
        for name, xobject in _entries(page.obj, "/XObject").items():
            if (
                name.startswith("/OCR-")
                and isinstance(xobject, pikepdf.Stream)
                and xobject.get("/Subtype") == "/Form"
            ):
                yield xobject


def _painted_programs(pdf: pikepdf.Pdf) -> set[tuple[int, int]]:
    """The font programs that anything other than an OCR layer may use: the
    pages' own fonts and those of every other Form XObject, at any depth."""
    found: set[tuple[int, int]] = set()
    visited: set[tuple[int, int]] = set()
    holders: list[pikepdf.Object] = [page.obj for page in pdf.pages]
    while holders:
        holder = holders.pop()
        for font in _entries(holder, "/Font").values():
            found.update(program.objgen for program in _font_programs(font))
        for name, xobject in _entries(holder, "/XObject").items():
            if (
                isinstance(xobject, pikepdf.Stream)
                and not name.startswith("/OCR-")
                and xobject.objgen not in visited
            ):
                visited.add(xobject.objgen)
                holders.append(xobject)
    return found


def compact(src: Path, dest: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "layers": 0,
        "content_bytes": [0, 0],
        "font_bytes": [0, 0],
        "fonts_unread": [],
    }
    with pikepdf.open(src) as pdf:
        linearized = pdf.is_linearized
        seen: set[tuple[int, int]] = set()
        fonts: dict[tuple[int, int], pikepdf.Stream] = {}
        for layer in _layers(pdf):
            if layer.objgen in seen:
                continue
            seen.add(layer.objgen)
            report["layers"] += 1
            compacted = compact_content(pikepdf.parse_content_stream(layer))
            if compacted is not None:
                instructions, invisible = compacted
                before = len(layer.read_raw_bytes())
                layer.write(
                    zlib.compress(unparse(instructions), 9),
                    filter=pikepdf.Name.FlateDecode,
                )
                report["content_bytes"][0] += before
                report["content_bytes"][1] += len(layer.read_raw_bytes())
                if invisible:
                    for font in _entries(layer, "/Font").values():
                        for program in _font_programs(font):
                            fonts.setdefault(program.objgen, program)
        painted = _painted_programs(pdf)
        for objgen, program in fonts.items():
            if objgen in painted:
                continue
            before = len(program.read_raw_bytes())
            try:
                lean = glyphless(program.read_bytes())
            except Exception as exc:  # a font fontTools cannot read stays as it is
                report["fonts_unread"].append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            program.write(zlib.compress(lean, 9), filter=pikepdf.Name.FlateDecode)
            program.Length1 = len(lean)
            report["font_bytes"][0] += before
            report["font_bytes"][1] += len(program.read_raw_bytes())
        pdf.save(
            dest,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            linearize=linearized,
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make an OCR text layer lean.")
    parser.add_argument("src", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    json.dump(compact(args.src, args.dest), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
