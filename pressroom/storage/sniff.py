"""Content sniffing: a file is what its bytes say, never what its name says."""

from __future__ import annotations

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
TEXT = "text/plain"  # never sniffed: only text sent as text (the AI endpoints' JSON)
#: office documents (converted to PDF by LibreOffice): OOXML and ODF are zip
#: containers, the older Word/Excel/PowerPoint files OLE2 compound files
ZIP = "application/zip"
OLE = "application/x-ole-storage"
RTF = "application/rtf"
IMAGES = (PNG, JPEG, TIFF)
OFFICE = (ZIP, OLE, RTF)

_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"PK\x03\x04", ZIP),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", OLE),
    (b"{\\rtf", RTF),
]


def sniff(head: bytes) -> str | None:
    """MIME type from the first bytes (1 KiB is enough), or None.

    A PDF header may be preceded by junk within the first 1024 bytes, which
    every PDF reader tolerates, so we do too.
    """
    if b"%PDF-" in head[:1024]:
        return PDF
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    return None
