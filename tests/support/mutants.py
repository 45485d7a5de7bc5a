"""Hostile and broken PDFs, made on the spot, for the fuzz test and bench/fuzz.py.

Each mutant is named after what is wrong with it. Some are mutations of a
real PDF (truncations, byte flips, a broken cross-reference table); the others
are written object by object, with a correct cross-reference table, so that
the one hostile feature is the only problem: enormous object counts, deep
nesting, a page tree that loops, a decompression bomb, an image whose declared
size is enormous. ``scale="large"`` makes the expensive ones heavier (for the
benchmark, not for the test suite).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable

MB = 1024 * 1024


def build_pdf(
    objects: list[bytes], *, trailer_extra: bytes = b"", size: int | None = None
) -> bytes:
    """A PDF whose object n is ``objects[n - 1]``, with a correct xref table;
    object 1 must be the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        size if size is not None else len(objects) + 1,
        trailer_extra,
        xref,
    )
    return bytes(out)


def stream(data: bytes, extra: bytes = b"", *, deflate: bool = True) -> bytes:
    body = zlib.compress(data, 9) if deflate else data
    filt = b" /Filter /FlateDecode" if deflate else b""
    return b"<< /Length %d%s %s>>\nstream\n" % (len(body), filt, extra) + body + b"\nendstream"


def _deflated_zeros(total: int) -> bytes:
    """``total`` zero bytes, deflated without holding them in memory."""
    packer = zlib.compressobj(9)
    chunk = b"\0" * MB
    parts = [packer.compress(chunk) for _ in range(total // MB)]
    parts.append(packer.compress(b"\0" * (total % MB)))
    parts.append(packer.flush())
    return b"".join(parts)


def one_page(
    resources: bytes = b"<< >>", content: bytes | None = None, *more: bytes
) -> list[bytes]:
    """Catalog, pages, one page, its content, then ``more`` objects (from 5 on)."""
    text = b"BT /F1 12 Tf 72 720 Td (Hostile file) Tj ET"
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
        + resources
        + b" /Contents 4 0 R >>",
        content if content is not None else stream(text),
        *more,
    ]


def _flipped(seed: bytes, flips: int, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(flips):
        at = rng.randrange(16, len(data))  # keep the %PDF- header: the API sniffs it
        data[at] ^= 1 << rng.randrange(8)
    return bytes(data)


def mutants(seed: bytes, *, scale: str = "small", flips: int = 3) -> dict[str, bytes]:
    """Name -> bytes of every mutant of ``seed`` (a valid PDF) and of the
    hand-made hostile files."""
    large = scale == "large"
    rng = random.Random(8)  # the same files on every run
    found: dict[str, bytes] = {}

    # -- mutations of a real file --------------------------------------------------
    for pct in (10, 50, 90, 99):
        found[f"truncated_{pct}pct"] = seed[: len(seed) * pct // 100]
    for n in range(flips * (4 if large else 1)):
        found[f"byte_flips_{n}"] = _flipped(seed, 8 + 8 * n, rng)
    marker = seed.rfind(b"startxref")
    found["startxref_wrong"] = seed[:marker] + b"startxref\n999999999\n%%EOF\n"
    found["startxref_negative"] = seed[:marker] + b"startxref\n-42\n%%EOF\n"
    found["xref_garbage"] = seed.replace(b"xref", b"xr\x00f", 1)
    found["no_trailer"] = seed[: seed.rfind(b"trailer")]

    # -- hand-made hostile files ----------------------------------------------------------
    found["trailer_size_2e9"] = build_pdf(one_page(), size=2_000_000_000)
    xref_claim = build_pdf(one_page())
    found["xref_claims_10m_objects"] = xref_claim.replace(b"xref\n0 5\n", b"xref\n0 10000000\n")
    count = 400_000 if large else 40_000
    array = b"[" + b" ".join(b"%d 0 R" % n for n in range(6, 6 + count)) + b"]"
    found[f"objects_{count}"] = build_pdf(
        one_page(b"<< /Junk 5 0 R >>", None, array, *([b"null"] * count))
    )
    depth = 200_000 if large else 20_000
    found[f"nested_arrays_{depth}"] = build_pdf(
        one_page(b"<< /Deep " + b"[" * depth + b"]" * depth + b" >>")
    )
    found[f"nested_dicts_{depth // 4}"] = build_pdf(
        one_page(b"<< /Deep " + b"<< /A " * (depth // 4) + b"1" + b" >>" * (depth // 4) + b" >>")
    )
    levels = 5_000 if large else 1_000
    tree = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for n in range(2, 2 + levels):
        tree.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 1))
    page_no = 2 + levels
    tree.append(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>"
        % (page_no - 1, page_no + 1)
    )
    tree.append(stream(b"0 0 m 100 100 l S"))
    found[f"page_tree_depth_{levels}"] = build_pdf(tree)
    found["page_tree_loop"] = build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )
    bomb = (1024 if large else 32) * MB
    deflated = _deflated_zeros(bomb)
    found[f"content_bomb_{bomb // MB}mb"] = build_pdf(
        one_page(
            b"<< >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(deflated)
            + deflated
            + b"\nendstream",
        )
    )
    side = 20_000 if large else 4_000  # a gray image of side x side pixels, all zeros
    pixels = _deflated_zeros(side * side)
    image = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d /Filter /FlateDecode >>\nstream\n"
        % (side, side, len(pixels))
        + pixels
        + b"\nendstream"
    )
    draw = stream(b"q 612 0 0 792 0 0 cm /Im1 Do Q")
    found[f"image_bomb_{side}px"] = build_pdf(
        one_page(b"<< /XObject << /Im1 5 0 R >> >>", draw, image)
    )
    liar = stream(
        b"\0" * 64,
        b"/Type /XObject /Subtype /Image /Width 1000000 /Height 1000000 "
        b"/ColorSpace /DeviceRGB /BitsPerComponent 8 ",
    )
    found["image_declares_1e6x1e6"] = build_pdf(
        one_page(b"<< /XObject << /Im1 5 0 R >> >>", draw, liar)
    )
    found["jpeg_declares_65500x65500"] = build_pdf(
        one_page(b"<< /XObject << /Im1 5 0 R >> >>", draw, _lying_jpeg())
    )
    found["length_wrong"] = build_pdf(
        one_page(b"<< >>", b"<< /Length 999999 >>\nstream\n0 0 m 1 1 l S\nendstream")
    )
    return found


def _lying_jpeg() -> bytes:
    """A tiny real JPEG whose frame header is patched to claim 65,500 x 65,500."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (65500).to_bytes(2, "big") * 2
    return (
        b"<< /Type /XObject /Subtype /Image /Width 65500 /Height 65500 /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
        % len(data)
        + bytes(data)
        + b"\nendstream"
    )


def names(found: Iterable[str]) -> list[str]:
    return sorted(found)
