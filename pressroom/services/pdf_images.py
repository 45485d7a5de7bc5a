"""The image pass of compression: downsample and re-encode the images of a PDF.

For each image XObject it finds the largest size at which any page draws it
(following the content streams' transformation matrices, into form
XObjects), so "resolution" means what the reader sees, not the pixel count.
Then, per image:

- images drawn above the target resolution are downsampled (Lanczos);
- photographs are re-encoded as JPEG at the requested quality;
- flat images (at most 256 colours: diagrams, screenshots, charts) become
  indexed colour with Flate, which is lossless for them and small;
- bilevel (1-bit grey) images, on request (``ImageSettings.bilevel``, at
  ``high`` and ``maximum``), are downsampled like the others when drawn
  above the target resolution: averaged, thresholded at mid-grey, kept
  1-bit and Flate-compressed; otherwise left as they are;
- CMYK JPEGs with Adobe's marker (how most are written) are downsampled and
  re-encoded as CMYK JPEGs in the same convention (``_cmyk_kept_as_it_is``);
- masks, stencil masks, other CMYK images, exotic colour spaces, and images
  with a /Decode array (but a CMYK JPEG's inverting one) are left as they
  are; a soft mask stays attached (PDF allows it another resolution);
- a new encoding is kept only when it is clearly smaller than the old one.

Identical images are then shared, and on request the document metadata
(the Info dictionary and XMP) is removed. It runs in compression's child
process (pressroom.services.compression_pipeline, with a time-out and a memory
cap), because it parses an untrusted PDF.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
from pikepdf import Name, Pdf, PdfImage
from PIL import Image

from pressroom.services.pdf_forms import resources_within

#: keep a new encoding only below this fraction of the old stream's size
MIN_GAIN = 0.9
#: downsample only when the image is this much above the target resolution
RESAMPLE_SLACK = 1.2
#: lossless indexed colour is preferred while at most this times the JPEG size
INDEXED_PREFERENCE = 1.5
#: a level-9 deflate of an image's pixels is at least 1 / this of a level-1
#: one (1.02 to 1.11 on the corpus's scans): a fast deflate above this many
#: times what indexed colour must reach rules it out before the slow one
FAST_DEFLATE_SLACK = 1.25
#: images smaller than this (pixels on the long side) are not worth touching
MIN_SIDE = 32


@dataclass(frozen=True)
class ImageSettings:
    target_dpi: int | None  # None: never downsample
    jpeg_quality: int | None  # None: leave image data alone
    grayscale: bool = False
    strip_metadata: bool = False
    #: downsample 1-bit images too (they stay 1-bit)
    bilevel: bool = False


@dataclass
class ImageReport:
    images: int = 0
    changed: int = 0
    downsampled: int = 0
    to_jpeg: int = 0
    to_indexed: int = 0
    bilevel: int = 0  # 1-bit images downsampled (also counted in ``downsampled``)
    shared: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    #: the indexes of the pages that draw a changed image (for the quality
    #: gate, which looks at some of them; not part of the pass's details)
    changed_pages: list[int] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


# -- where images are drawn ---------------------------------------------------------
Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1, 0, 0, 1, 0, 0)


def _mul(m: Matrix, n: Matrix) -> Matrix:
    """m then n (PDF's row-vector convention: m x n)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _scan(
    content: pikepdf.Object,
    resources: pikepdf.Object | None,
    ctm: Matrix,
    drawn: dict[tuple[int, int], float],
    depth: int = 0,
) -> None:
    """Record, per image object, the largest drawn size in points (its long side)."""
    if depth > 8 or resources is None:
        return
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    stack: list[Matrix] = []
    current = ctm
    for instruction in pikepdf.parse_content_stream(content):
        if not isinstance(instruction, pikepdf.ContentStreamInstruction):
            continue  # inline images are left alone
        operands, op = instruction.operands, str(instruction.operator)
        if op == "q":
            stack.append(current)
        elif op == "Q":
            current = stack.pop() if stack else ctm
        elif op == "cm" and len(operands) == 6:
            current = _mul(tuple(float(x) for x in operands), current)  # type: ignore[arg-type]
        elif op == "Do" and xobjects is not None and operands:
            xobj = xobjects.get(str(operands[0]))
            if not isinstance(xobj, pikepdf.Stream):
                continue
            subtype = xobj.get("/Subtype")
            if subtype == Name.Image and xobj.objgen != (0, 0):
                a, b, c, d, _, _ = current
                size = max(math.hypot(a, b), math.hypot(c, d))
                drawn[xobj.objgen] = max(drawn.get(xobj.objgen, 0.0), size)
            elif subtype == Name.Form:
                matrix = xobj.get("/Matrix")
                form_ctm = current
                if matrix is not None and len(matrix) == 6:
                    form_ctm = _mul(tuple(float(x) for x in matrix), current)  # type: ignore[arg-type]
                _scan(xobj, xobj.get("/Resources"), form_ctm, drawn, depth + 1)


def _draws_images(resources: pikepdf.Object | None) -> bool:
    """Whether these resources hold an image XObject, directly or in a form."""
    return any(_holds_image(r) for r in resources_within(resources))


def _holds_image(resources: pikepdf.Object | None) -> bool:
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if not isinstance(xobjects, pikepdf.Dictionary):
        return False
    return any(
        isinstance(xobj, pikepdf.Stream) and xobj.get("/Subtype") == Name.Image
        for _name, xobj in xobjects.items()
    )


def drawn_sizes(
    pdf: Pdf, pages_of: dict[tuple[int, int], list[int]] | None = None
) -> dict[tuple[int, int], float]:
    """Per image object, the largest size a page draws it at (points, long
    side); ``pages_of``, when given, gets the indexes of the pages that draw
    each one."""
    drawn: dict[tuple[int, int], float] = {}
    for index, page in enumerate(pdf.pages):
        if not _draws_images(page.obj.get("/Resources")):
            continue  # parsing its content would find nothing
        here: dict[tuple[int, int], float] = {}
        try:
            _scan(page.obj, page.obj.get("/Resources"), IDENTITY, here)
        except (pikepdf.PdfError, ValueError, TypeError, IndexError):
            continue  # a broken content stream: its images are left alone
        for objgen, size in here.items():
            drawn[objgen] = max(drawn.get(objgen, 0.0), size)
            if pages_of is not None:
                pages_of.setdefault(objgen, []).append(index)
    return drawn


# -- re-encoding ------------------------------------------------------------------------
_SIMPLE_SPACES = {"/DeviceRGB": "RGB", "/DeviceGray": "L", "/DeviceCMYK": "CMYK"}


def _colour_space(obj: pikepdf.Stream) -> tuple[str, Any] | None:
    """(PIL mode, colour space to write) for spaces we re-encode, else None."""
    cs = obj.get("/ColorSpace")
    if isinstance(cs, Name) and str(cs) in _SIMPLE_SPACES:
        return _SIMPLE_SPACES[str(cs)], cs
    if isinstance(cs, pikepdf.Array) and len(cs) == 2 and cs[0] == Name.ICCBased:
        n = int(cs[1].get("/N", 0))
        if n in _ICC_MODES:
            return _ICC_MODES[n], cs
    return None


_ICC_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
_INVERTED_CMYK = [1, 0, 1, 0, 1, 0, 1, 0]


def _cmyk_kept_as_it_is(obj: pikepdf.Stream, names: list[str], image: Image.Image) -> bool:
    """Whether a CMYK image must be left alone. Only a JPEG with Adobe's
    marker is re-encoded: its samples are stored inverted, Pillow undoes that
    on reading and redoes it on writing, so the new JPEG keeps the stored
    convention, and with it whatever a reader makes of it (with the /Decode
    array that inverts them, as img2pdf writes, or without). Other CMYK data
    would come back inverted in some readers."""
    decode = obj.get("/Decode")
    return (
        names != ["/DCTDecode"]
        or image.mode != "CMYK"
        or "adobe" not in image.info
        or (decode is not None and [int(v) for v in decode] != _INVERTED_CMYK)
    )


def _exact_palette(image: Image.Image, found: list[tuple[int, Any]]) -> Image.Image:
    """The image as exact indexed colour; ``found`` is what
    ``image.getcolors(256)`` returned (at most 256 colours)."""
    pixels = np.asarray(image)
    if image.mode == "RGB":
        packed = (
            (pixels[..., 0].astype(np.uint32) << 16)
            | (pixels[..., 1].astype(np.uint32) << 8)
            | pixels[..., 2]
        )
        present = sorted((r << 16) | (g << 8) | b for _, (r, g, b) in found)
    else:
        packed = pixels.astype(np.uint32)
        present = sorted(int(c) for _, c in found)
    # np.unique's answer (sorted colours, each pixel's rank among them)
    # without sorting every pixel: the colours are known and few
    colours = np.array(present, dtype=np.uint32)
    inverse = np.searchsorted(colours, packed.ravel())
    indexed = Image.fromarray(inverse.reshape(pixels.shape[:2]).astype(np.uint8), mode="P")
    if image.mode == "RGB":
        rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
    else:
        rgb = np.repeat(colours[:, None], 3, axis=1)
    indexed.putpalette(rgb.astype(np.uint8).ravel().tolist())
    indexed.info["pressroom_colours"] = len(colours)
    indexed.info["pressroom_gray"] = image.mode == "L"
    return indexed


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(
        out, format="JPEG", quality=quality, optimize=True, subsampling=2 if quality < 90 else 0
    )
    return out.getvalue()


def encode_bilevel(image: Image.Image, size: tuple[int, int]) -> bytes:
    """A 1-bit image at ``size``: the pixels averaged (box filter) and
    thresholded at mid-grey, so strokes keep their weight; packed 1-bit
    (1 is white, as DeviceGray reads it) and deflated."""
    grey = image.convert("L").resize(size, Image.Resampling.BOX)
    bilevel = grey.point(lambda v: 255 if v >= 128 else 0).convert("1")
    return zlib.compress(bilevel.tobytes(), 9)


def _indexed_may_win(image: Image.Image, jpeg_size: int) -> bool:
    """Whether exact indexed colour may come within INDEXED_PREFERENCE of the
    JPEG. Every 8-bit grey image has at most 256 colours, so scans and grey
    photos get here too; for them the palette and the level-9 deflate (about
    0.5 s per page) are skipped when a level-1 deflate of the pixels (a fifth
    of the time) shows that it cannot."""
    fast = len(zlib.compress(image.tobytes(), 1))
    return fast <= FAST_DEFLATE_SLACK * INDEXED_PREFERENCE * jpeg_size


def _colour_space_is_rgb(cs: Any) -> bool:
    return cs == Name.DeviceRGB or (isinstance(cs, pikepdf.Array) and int(cs[1].get("/N", 0)) == 3)


@dataclass
class ImagePlan:
    """A better encoding found for one image, not yet written."""

    kind: str  # "jpeg", "indexed" or "bilevel"
    data: bytes
    old_size: int
    size: tuple[int, int]
    colour_space: Any
    downsampled: bool
    #: a CMYK JPEG keeps its /Decode array: its samples are stored as they were
    keeps_decode: bool = False


def plan_image(obj: pikepdf.Stream, drawn_pt: float, settings: ImageSettings) -> ImagePlan | str:
    """The new encoding of one image, or the reason to leave it as it is."""
    if obj.get("/ImageMask", False):
        return "mask_or_decode"
    space = _colour_space(obj)
    if obj.get("/Decode") is not None and (space is None or space[0] != "CMYK"):
        return "mask_or_decode"  # (a CMYK JPEG's inverting array is checked below)
    filters = obj.get("/Filter")
    names = [str(f) for f in (filters if isinstance(filters, pikepdf.Array) else [filters]) if f]
    bits = int(obj.get("/BitsPerComponent", 8))
    if bits == 1 and settings.bilevel and "/JPXDecode" not in names:
        return _plan_bilevel(obj, drawn_pt, settings)
    if bits not in (8, 16):
        return "bilevel_or_packed"
    if any(f in ("/JBIG2Decode", "/CCITTFaxDecode", "/JPXDecode") for f in names):
        return "special_codec"
    if space is None:
        return "colour_space"
    mode, cs = space
    width, height = int(obj.Width), int(obj.Height)
    if max(width, height) < MIN_SIDE:
        return "tiny"
    old_size = len(obj.read_raw_bytes())
    try:
        image = PdfImage(obj).as_pil_image()
    except Exception:
        return "undecodable"
    if mode == "CMYK" and _cmyk_kept_as_it_is(obj, names, image):
        return "cmyk_not_adobe_jpeg"
    if image.mode != mode:
        image = image.convert(mode)

    scale = _downscale(width, height, drawn_pt, settings)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if settings.grayscale and image.mode in ("RGB", "CMYK"):
        image = image.convert("RGB").convert("L")
        cs = Name.DeviceGray
    elif image.mode == "L" and _colour_space_is_rgb(cs):
        cs = Name.DeviceGray

    assert settings.jpeg_quality is not None
    jpeg = encode_jpeg(image, settings.jpeg_quality)
    # few colours (diagrams, charts, screenshots): exact indexed colour, kept
    # unless JPEG is far smaller (then the image was a photo after all)
    found = image.getcolors(maxcolors=256) if image.mode != "CMYK" else None
    if found is not None and _indexed_may_win(image, len(jpeg)):
        indexed = _exact_palette(image, found)
        packed = zlib.compress(indexed.tobytes(), 9)
        if len(packed) <= INDEXED_PREFERENCE * len(jpeg):
            if len(packed) >= old_size * MIN_GAIN:
                return "no_gain"
            palette = bytes(indexed.getpalette() or [])[
                : int(indexed.info["pressroom_colours"]) * 3
            ]
            if image.mode == "L":
                palette = palette[::3]
            base = cs
            lookup = pikepdf.Array(
                [
                    Name.Indexed,
                    base,
                    int(indexed.info["pressroom_colours"]) - 1,
                    pikepdf.String(palette),
                ]
            )
            return ImagePlan("indexed", packed, old_size, image.size, lookup, scale < 1.0)
    if len(jpeg) >= old_size * MIN_GAIN:
        return "no_gain"
    return ImagePlan(
        "jpeg", jpeg, old_size, image.size, cs, scale < 1.0, keeps_decode=image.mode == "CMYK"
    )


def _downscale(width: int, height: int, drawn_pt: float, settings: ImageSettings) -> float:
    """The factor that brings an image drawn ``drawn_pt`` points long to the
    target resolution, or 1.0 when it is not far enough above it."""
    if settings.target_dpi and drawn_pt > 0:
        dpi = max(width, height) / (drawn_pt / 72.0)
        if dpi > settings.target_dpi * RESAMPLE_SLACK:
            return settings.target_dpi / dpi
    return 1.0


def _plan_bilevel(obj: pikepdf.Stream, drawn_pt: float, settings: ImageSettings) -> ImagePlan | str:
    """A 1-bit grey image drawn above the target resolution, downsampled
    (``encode_bilevel``)."""
    if obj.get("/ColorSpace") != Name.DeviceGray:
        return "bilevel_or_packed"
    width, height = int(obj.Width), int(obj.Height)
    scale = _downscale(width, height, drawn_pt, settings)
    if scale >= 1.0 or max(width, height) < MIN_SIDE:
        return "bilevel_or_packed"  # already at or below the target: kept
    old_size = len(obj.read_raw_bytes())
    try:
        image = PdfImage(obj).as_pil_image()
    except Exception:
        return "undecodable"
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    packed = encode_bilevel(image, size)
    if len(packed) >= old_size * MIN_GAIN:
        return "no_gain"
    return ImagePlan("bilevel", packed, old_size, size, Name.DeviceGray, True)


def _apply(obj: pikepdf.Stream, plan: ImagePlan) -> None:
    obj.write(plan.data, filter=Name.DCTDecode if plan.kind == "jpeg" else Name.FlateDecode)
    obj.ColorSpace = plan.colour_space
    obj.BitsPerComponent = 1 if plan.kind == "bilevel" else 8
    obj.Width, obj.Height = plan.size
    for key in ("/DecodeParms",) if plan.keeps_decode else ("/DecodeParms", "/Decode"):
        if key in obj:
            del obj[key]


def _optimise_image(
    obj: pikepdf.Stream, drawn_pt: float, settings: ImageSettings, report: ImageReport
) -> None:
    plan = plan_image(obj, drawn_pt, settings)
    if isinstance(plan, str):
        report.skip(plan)
        return
    _apply(obj, plan)
    report.changed += 1
    report.downsampled += plan.downsampled
    report.to_jpeg += plan.kind == "jpeg"
    report.to_indexed += plan.kind == "indexed"
    report.bilevel += plan.kind == "bilevel"
    report.bytes_before += plan.old_size
    report.bytes_after += len(plan.data)


def _share_identical_images(pdf: Pdf, report: ImageReport) -> None:
    """Point every use of a byte-identical image at one copy."""
    canonical: dict[str, pikepdf.Object] = {}
    replace: dict[tuple[int, int], pikepdf.Object] = {}
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == Name.Image:
            keys = {
                k: repr(obj.stream_dict[k])
                for k in sorted(obj.stream_dict.keys())
                if k != "/Length"
            }
            digest = hashlib.sha256(obj.read_raw_bytes() + json.dumps(keys).encode()).hexdigest()
            if digest in canonical:
                replace[obj.objgen] = canonical[digest]
            else:
                canonical[digest] = obj
    if not replace:
        return

    def fix(resources: pikepdf.Object | None, depth: int = 0) -> None:
        if not isinstance(resources, pikepdf.Dictionary) or depth > 8:
            return
        xobjects = resources.get("/XObject")
        if not isinstance(xobjects, pikepdf.Dictionary):
            return
        for name in list(xobjects.keys()):
            target = xobjects[name]
            if target.objgen in replace:
                xobjects[name] = replace[target.objgen]
                report.shared += 1
            elif isinstance(target, pikepdf.Stream) and target.get("/Subtype") == Name.Form:
                fix(target.get("/Resources"), depth + 1)

    for page in pdf.pages:
        fix(page.obj.get("/Resources"))


def optimise_images(
    src: Path,
    dest: Path,
    settings: ImageSettings,
    on_image: Callable[[int, int], None] | None = None,
) -> ImageReport:
    """Write ``src`` with its images optimised to ``dest``; returns what
    changed. ``on_image(done, total)`` is called after each image."""
    report = ImageReport()
    with Pdf.open(src) as pdf:
        if settings.strip_metadata:
            if "/Metadata" in pdf.Root:
                del pdf.Root["/Metadata"]
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
        pages_of: dict[tuple[int, int], list[int]] = {}
        drawn = drawn_sizes(pdf, pages_of) if settings.jpeg_quality else {}
        changed: set[int] = set()
        for done, (objgen, drawn_pt) in enumerate(drawn.items(), start=1):
            obj = pdf.get_object(objgen)
            if isinstance(obj, pikepdf.Stream):
                report.images += 1
                before = report.changed
                try:
                    _optimise_image(obj, drawn_pt, settings, report)
                except (pikepdf.PdfError, ValueError, OSError) as exc:
                    report.skip(f"error:{type(exc).__name__}")
                if report.changed > before:
                    changed.update(pages_of.get(objgen, ()))
            if on_image is not None:
                on_image(done, len(drawn))
        report.changed_pages = sorted(changed)
        _share_identical_images(pdf, report)
        if report.changed or report.shared or settings.strip_metadata:
            pdf.remove_unreferenced_resources()
            pdf.save(dest)
    return report
