"""Small real PDFs made on the spot with Ghostscript and qpdf (both are
installed by the project's set-up), so every test knows its input's origin."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def ghostscript(device: str, output: Path, postscript: str, *options: str) -> None:
    """Run PostScript through Ghostscript into ``output`` (a test fixture maker)."""
    subprocess.run(
        [
            "gs",
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            f"-sDEVICE={device}",
            *options,
            f"-sOutputFile={output}",
            "-c",
            postscript,
        ],
        check=True,
        timeout=60,
    )


def text_pdf(path: Path, pages: int = 3, words: str = "Pressroom test page") -> Path:
    """A text PDF with ``words`` and the page number on each page."""
    body = " ".join(
        f"72 700 moveto ({words} {n}) show 72 680 moveto (Line two of page {n}) show showpage"
        for n in range(1, pages + 1)
    )
    ghostscript("pdfwrite", path, f"/Helvetica findfont 14 scalefont setfont {body}")
    return path


def _rewritten(path: Path, pages: int, *qpdf_args: str) -> Path:
    """A text PDF passed through ``qpdf *qpdf_args``."""
    src = text_pdf(path.with_suffix(".src.pdf"), pages)
    subprocess.run(["qpdf", *qpdf_args, str(src), str(path)], check=True, timeout=60)
    src.unlink()
    return path


def uncompressed_pdf(path: Path, pages: int = 3) -> Path:
    """A text PDF with its streams stored uncompressed: lossless work shrinks it."""
    return _rewritten(path, pages, "--stream-data=uncompress", "--object-streams=disable")


def optimal_pdf(path: Path) -> Path:
    """A PDF qpdf cannot make smaller (already object-streamed and recompressed)."""
    return _rewritten(
        path, 1, "--object-streams=generate", "--recompress-flate", "--compression-level=9"
    )


def encrypted_pdf(path: Path, password: str = "secret") -> Path:
    """An AES-256 encrypted PDF that needs ``password`` to open."""
    src = text_pdf(path.with_suffix(".src.pdf"), 1)
    subprocess.run(
        ["qpdf", "--encrypt", password, password + "-owner", "256", "--", str(src), str(path)],
        check=True,
        timeout=60,
    )
    src.unlink()
    return path


def truncated_pdf(path: Path) -> Path:
    src = text_pdf(path.with_suffix(".src.pdf"), 2)
    path.write_bytes(src.read_bytes()[:1200])
    src.unlink()
    return path


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def photo(width: int, height: int) -> Any:
    """A smooth colour 'photograph' (a PIL image), the same for the same size."""
    import numpy as np
    from PIL import Image, ImageFilter

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(7)
    r = 128 + 100 * np.sin(x / 97.0) * np.cos(y / 131.0)
    g = 128 + 90 * np.sin((x + y) / 173.0)
    b = 128 + 80 * np.cos(np.hypot(x - width / 2, y - height / 3) / 61.0)
    noise = rng.normal(0, 6, (height, width, 3))
    pixels = np.clip(np.stack([r, g, b], axis=-1) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB").filter(ImageFilter.GaussianBlur(1.2))


def cmyk_photo_pdf(path: Path, *, encoding: str, width: int = 1500, height: int = 1000) -> Path:
    """A page drawing ``photo`` in DeviceCMYK at 300 dpi, stored as
    ``encoding``: "jpeg" (Pillow's JPEG, with Adobe's marker and inverted
    samples, no /Decode), "jpeg-decode" (the same with the /Decode array that
    inverts them back, as img2pdf writes it) or "flate" (raw samples)."""
    import io
    import zlib

    import pikepdf

    image = photo(width, height).convert("CMYK")
    decode = None
    if encoding == "flate":
        data, codec = zlib.compress(image.tobytes()), pikepdf.Name.FlateDecode
    else:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        data, codec = out.getvalue(), pikepdf.Name.DCTDecode
        if encoding == "jpeg-decode":
            decode = [1, 0, 1, 0, 1, 0, 1, 0]
    w_pt, h_pt = width * 72 / 300, height * 72 / 300
    with pikepdf.new() as pdf:
        xobject = pikepdf.Stream(pdf, data)
        xobject.stream_dict = pikepdf.Dictionary(
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=width,
            Height=height,
            ColorSpace=pikepdf.Name.DeviceCMYK,
            BitsPerComponent=8,
            Filter=codec,
        )
        if decode is not None:
            xobject.Decode = decode
        content = f"q {w_pt} 0 0 {h_pt} 0 0 cm /Im0 Do Q".encode()
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, w_pt, h_pt],
                    Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject)),
                    Contents=pdf.make_stream(content),
                )
            )
        )
        pdf.save(path)
    return path


def photo_pdf(path: Path, *, width: int = 1500, height: int = 1000, dpi: int = 300) -> Path:
    """A one-page PDF holding a smooth colour 'photograph' stored losslessly
    (img2pdf embeds the PNG as Flate), drawn at ``dpi``."""
    image = photo(width, height)
    png = path.with_suffix(".png")
    image.save(png, dpi=(dpi, dpi))
    subprocess.run(["img2pdf", "--output", str(path), str(png)], check=True, timeout=60)
    png.unlink()
    return path


def scanned_pdf(path: Path, words: str = "Scanned page of Pressroom", dpi: int = 300) -> Path:
    """A page of text rendered to a grayscale image at ``dpi`` with scanner noise."""
    import numpy as np
    from PIL import Image

    png = path.with_suffix(".png")
    ghostscript(
        "pnggray",
        png,
        "/Times-Roman findfont 14 scalefont setfont "
        + " ".join(f"72 {760 - 20 * i} moveto ({words} line {i}) show" for i in range(30))
        + " showpage",
        f"-r{dpi}",
        f"-g{int(8.27 * dpi)}x{int(11.69 * dpi)}",
    )
    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.int16)
    noisy = np.clip(pixels + np.random.default_rng(3).normal(0, 8, pixels.shape), 0, 255)
    Image.fromarray(noisy.astype(np.uint8), "L").save(png, dpi=(dpi, dpi))
    subprocess.run(["img2pdf", "--output", str(path), str(png)], check=True, timeout=60)
    png.unlink()
    return path


def damaged_pdf(path: Path) -> Path:
    """A text PDF whose cross-reference offset is wrong: readers must repair it."""
    src = text_pdf(path.with_suffix(".src.pdf"), 2)
    data = src.read_bytes()
    marker = data.rfind(b"startxref")
    path.write_bytes(data[:marker] + b"startxref\n999999\n%%EOF\n")
    src.unlink()
    return path


URW = Path("/usr/share/fonts/type1/urw-base35")


def type1_pdf(path: Path, font: str = "C059-Roman", pages: int = 2) -> Path:
    """Text set in an embedded Type 1 font program (URW's, from Ghostscript's
    fonts-urw-base35 package), as TeX-made PDFs carry theirs: /FontFile with
    its cleartext, eexec and trailer lengths."""
    import pikepdf

    program = (URW / f"{font}.t1").read_bytes()
    eexec = program.index(b"eexec") + len(b"eexec")
    while program[eexec : eexec + 1] in (b"\r", b"\n"):
        eexec += 1
    trailer = program.rindex(b"cleartomark")  # after 512 zeros, in lines
    while program[trailer - 1 : trailer] in (b"0", b"\r", b"\n"):
        trailer -= 1
    widths = {}
    for line in (URW / f"{font}.afm").read_text(errors="replace").splitlines():
        if line.startswith("C ") and "WX" in line:
            fields = dict(part.strip().split(" ", 1) for part in line.split(";") if part.strip())
            widths[int(fields["C"])] = int(float(fields["WX"]))
    pdf = pikepdf.new()
    fontfile = pikepdf.Stream(pdf, program)
    fontfile.Length1, fontfile.Length2, fontfile.Length3 = (
        eexec,
        trailer - eexec,
        len(program) - trailer,
    )
    descriptor = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor,
            FontName=pikepdf.Name("/" + font),
            Flags=34,
            FontBBox=[-200, -300, 1200, 950],
            ItalicAngle=0,
            Ascent=730,
            Descent=-270,
            CapHeight=700,
            StemV=80,
            FontFile=fontfile,
        )
    )
    font_dict = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name("/" + font),
            FirstChar=32,
            LastChar=126,
            Widths=[widths.get(c, 500) for c in range(32, 127)],
            FontDescriptor=descriptor,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    for n in range(1, pages + 1):
        lines = [f"Type one text on page {n}, line {i}: quick brown fox." for i in range(20)]
        body = "".join(
            f"BT /F1 12 Tf 72 {720 - 18 * i} Td ({t}) Tj ET\n" for i, t in enumerate(lines)
        )
        page = pdf.add_blank_page(page_size=(595, 842))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font_dict))
        page.obj.Contents = pdf.make_stream(body.encode())
    pdf.save(path)
    return path


#: the known content of ``report_pdf``: what a conversion must recover
REPORT = {
    "title": "Quarterly Report",
    "intro": "This report summarises the sales of the first two quarters across every region.",
    "section": "Regional Sales",
    "ruled": [
        ["Region", "Q1", "Q2", "Growth"],
        ["North", "1,234.50", "1,400.00", "13%"],
        ["South", "980.25", "1,020.75", "4%"],
        ["West", "2,045.00", "1,990.10", "-3%"],
    ],
    "bullets": ["Sales grew in the north.", "The west fell back slightly."],
    "section2": "Staff",
    "unruled": [
        ["Name", "Office", "Started"],
        ["Alice Martin", "Paris", "2019"],
        ["Bob Chen", "Berlin", "2021"],
        ["Carla Diaz", "Madrid", "2023"],
    ],
    "closing": "Closing notes: the next report follows in October.",
}


def report_pdf(path: Path) -> Path:
    """Three pages with known headings, paragraphs, a bulleted list, a ruled
    table (page 1), an unruled table and a picture (page 2), and a closing
    paragraph (page 3); made with reportlab's platypus. REPORT has the text."""
    import io

    from PIL import Image as PILImage
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import (
        Image,
        ListFlowable,
        ListItem,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    ruled = Table(REPORT["ruled"])
    ruled.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.7, colors.black)]))
    unruled = Table(REPORT["unruled"], colWidths=[140, 100, 80])
    picture = io.BytesIO()
    PILImage.new("RGB", (240, 120), (30, 120, 200)).save(picture, "PNG")
    picture.seek(0)
    story = [
        Paragraph(REPORT["title"], styles["Title"]),
        Paragraph(REPORT["intro"], styles["BodyText"]),
        Paragraph(REPORT["section"], styles["Heading2"]),
        ruled,
        Spacer(1, 12),
        ListFlowable(
            [ListItem(Paragraph(t, styles["BodyText"])) for t in REPORT["bullets"]],
            bulletType="bullet",
        ),
        PageBreak(),
        Paragraph(REPORT["section2"], styles["Heading2"]),
        unruled,
        Spacer(1, 12),
        Image(picture, width=240, height=120),
        PageBreak(),
        Paragraph(REPORT["closing"], styles["BodyText"]),
    ]
    doc = SimpleDocTemplate(str(path), pagesize=A4, title="Quarterly Report", author="Pressroom")
    doc.build(story)
    return path


def bilevel_scan_pdf(path: Path, lines: list[str], *, dpi: int = 300, skew: float = 0.5) -> Path:
    """A black-and-white (CCITT G4) scan of a Letter page of ``lines`` (Times,
    10 pt, 12 pt apart from 1 inch below the top, 1 inch from the left),
    degraded as the corpus's bilevel scan is (/work/shared/corpus/build.sh):
    optics blur, paper and toner tones, sensor noise (sigma 2, seeded), a skew
    of ``skew`` degrees, then thresholded and embedded by img2pdf as it is."""
    import numpy as np
    from PIL import Image, ImageFilter

    png, page = path.with_suffix(".png"), path.with_suffix(".ps")
    shows = "\n".join(f"72 {720 - 12 * i} moveto ({line}) show" for i, line in enumerate(lines))
    # a whole page is too long for a command line: Ghostscript runs it from a file
    page.write_text(f"/Times-Roman findfont 10 scalefont setfont\n{shows}\nshowpage\n")
    ghostscript("pnggray", png, f"({page}) run", f"-r{dpi}", f"-g{int(8.5 * dpi)}x{int(11 * dpi)}")
    page.unlink()
    paper, ink = 240, 30
    image = Image.open(png).convert("L").filter(ImageFilter.GaussianBlur(radius=0.7 * dpi / 300))
    image = image.point([ink + (paper - ink) * v // 255 for v in range(256)])
    image = image.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=paper)
    pixels = np.asarray(image, dtype=np.float64)
    pixels += np.random.default_rng(7).normal(0, 2, pixels.shape)
    bilevel = Image.fromarray(np.where(pixels > (paper + ink) / 2, 255, 0).astype(np.uint8), "L")
    tiff = path.with_suffix(".tif")
    bilevel.convert("1").save(tiff, "TIFF", compression="group4", dpi=(dpi, dpi))
    png.unlink()
    subprocess.run(["img2pdf", "--output", str(path), str(tiff)], check=True, timeout=60)
    tiff.unlink()
    return path
