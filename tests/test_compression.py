"""CompressionService on real PDFs of each kind: smaller or equal, same
pages, same text, pages that still look the same."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from fontTools.misc import eexec
from skimage.metrics import structural_similarity

from pressroom.engines.isolated import Send, run_forked
from pressroom.errors import (
    EncryptedPDFError,
    EngineError,
    EngineTimeoutError,
    JobCancelledError,
)
from pressroom.services import pdf_fonts
from pressroom.services.compression import (
    PRESETS,
    CompressionOptions,
    CompressionResult,
    CompressionService,
)
from pressroom.services.compression_pipeline import parses_in_process
from pressroom.services.visual import compare, ssim
from tests.support import pdfs

LEVELS = ["lossless", "low", "medium", "high", "maximum"]


class Recorder:
    """A Progress that remembers what it was told."""

    def __init__(self) -> None:
        self.stages: list[str] = []
        self.reports: list[tuple[float, str, str]] = []

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        assert 0 <= percentage <= 100
        self.reports.append((percentage, stage, message))
        if not self.stages or self.stages[-1] != stage:
            self.stages.append(stage)


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("kinds")
    return {
        "text": pdfs.text_pdf(folder / "text.pdf", pages=4),
        "vector": pdfs.uncompressed_pdf(folder / "vector.pdf"),
        "photo": pdfs.photo_pdf(folder / "photo.pdf"),
        "scan": pdfs.scanned_pdf(folder / "scan.pdf"),
        "type1": pdfs.type1_pdf(folder / "type1.pdf"),
    }


def run(src: Path, workdir: Path, **options: object) -> tuple[CompressionResult, Recorder]:
    progress = Recorder()
    result = CompressionService(engine_timeout=120).compress(
        src,
        workdir,
        CompressionOptions(**options),
        progress,  # type: ignore[arg-type]
    )
    return result, progress


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("kind", ["text", "vector", "photo", "scan", "type1"])
def test_every_level_keeps_what_users_need(
    kind: str, level: str, kinds: dict[str, Path], tmp_path: Path
) -> None:
    src = kinds[kind]
    result, progress = run(src, tmp_path, level=level)
    out = result.output
    assert result.original_size == src.stat().st_size
    assert result.compressed_size == out.stat().st_size <= result.original_size
    assert 0 <= result.compression_ratio < 100
    with pikepdf.open(src) as a, pikepdf.open(out) as b:
        assert len(a.pages) == len(b.pages) == result.pages
        assert [p.mediabox for p in a.pages] == [p.mediabox for p in b.pages]
    assert pdfs.pdf_text(out).split() == pdfs.pdf_text(src).split()
    looks = compare(src, out, dpi=100)
    minimum = 0.999 if level == "lossless" else PRESETS[level].min_ssim
    assert looks.worst >= minimum
    assert progress.stages[:2] == ["inspecting", "structure"]


def test_photos_shrink_a_lot_at_medium(kinds: dict[str, Path], tmp_path: Path) -> None:
    result, _ = run(kinds["photo"], tmp_path, level="medium")
    assert result.compressed_size < 0.5 * result.original_size
    kept = [p for p in result.passes if p.kept]
    assert [p.name for p in kept] == ["images"] and kept[0].ssim_worst >= 0.99  # type: ignore[operator]


def test_stronger_levels_are_not_bigger(kinds: dict[str, Path], tmp_path: Path) -> None:
    sizes = []
    for level in LEVELS:
        (tmp_path / level).mkdir()
        result, _ = run(kinds["photo"], tmp_path / level, level=level)
        sizes.append(result.compressed_size)
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] < sizes[0]


@pytest.mark.parametrize("level", ["lossless", "medium", "maximum"])
def test_an_already_compressed_file_comes_back_as_it_was(
    level: str, kinds: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "again").mkdir()
    first, _ = run(kinds["photo"], tmp_path / "first", level=level)
    again, _ = run(first.output, tmp_path / "again", level=level)
    assert again.returned_original and again.compression_ratio == 0
    assert again.output.read_bytes() == first.output.read_bytes()


def test_encrypted_input_needs_its_password(encrypted_pdf: Path, tmp_path: Path) -> None:
    with pytest.raises(EncryptedPDFError):
        run(encrypted_pdf, tmp_path, level="medium")
    with pytest.raises(EncryptedPDFError):
        run(encrypted_pdf, tmp_path, level="medium", password="wrong")
    result, _ = run(encrypted_pdf, tmp_path, level="medium", password="secret")
    with pikepdf.open(result.output) as pdf:  # opens without a password
        assert len(pdf.pages) == 1


def test_progress_follows_each_image_and_each_page_compared(
    kinds: dict[str, Path], tmp_path: Path
) -> None:
    _, progress = run(kinds["photo"], tmp_path, level="medium")
    images = [(p, m) for p, stage, m in progress.reports if stage == "images" and " of " in m]
    pages = [(p, m) for p, stage, m in progress.reports if stage == "quality_check" and " of " in m]
    assert images and images[-1][1].startswith("Image ") and 30 < images[-1][0] <= 55
    assert pages and pages[0][1] == f"Comparing page 1 of {pages[0][1].split()[-1]}"
    assert all(75 < p <= 88 for p, _ in pages)
    percentages = [p for p, _, _ in progress.reports]
    assert percentages == sorted(percentages), "progress went backwards"


def test_lossless_runs_in_the_worker_and_errors_the_same(
    encrypted_pdf: Path, tmp_path: Path
) -> None:
    # lossless reads the file through qpdf alone: no fork, the same errors
    assert not parses_in_process(CompressionOptions(level="lossless"))
    assert parses_in_process(CompressionOptions(level="lossless", strip_metadata=True))
    assert parses_in_process(CompressionOptions(level="low"))
    with pytest.raises(EncryptedPDFError):
        run(encrypted_pdf, tmp_path, level="lossless")
    result, progress = run(encrypted_pdf, tmp_path, level="lossless", password="secret")
    assert result.encryption_removed and "structure" in progress.stages


def test_a_damaged_file_is_repaired(tmp_path: Path) -> None:
    src = pdfs.damaged_pdf(tmp_path / "damaged.pdf")
    result, _ = run(src, tmp_path, level="medium")
    check = subprocess.run(["qpdf", "--check", str(result.output)], capture_output=True)
    assert check.returncode == 0 and result.pages == 2


def test_target_size_is_met_or_the_closest_is_reported(
    kinds: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    reachable, _ = run(kinds["photo"], tmp_path / "a", level="low", target_size_bytes=150_000)
    assert reachable.target == {**reachable.target, "met": True}  # type: ignore[dict-item]
    assert reachable.compressed_size <= 150_000
    impossible, _ = run(kinds["text"], tmp_path / "b", level="medium", target_size_bytes=100)
    assert impossible.target is not None and impossible.target["met"] is False
    assert impossible.target["achieved_bytes"] == impossible.compressed_size


def test_grayscale_metadata_and_linearize_options(kinds: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "titled.pdf"
    with pikepdf.open(kinds["photo"]) as pdf:
        pdf.docinfo["/Title"] = "Holiday"
        pdf.save(src)
    (tmp_path / "w").mkdir()
    result, _ = run(
        src, tmp_path / "w", level="medium", grayscale=True, strip_metadata=True, linearize=True
    )
    with pikepdf.open(result.output) as pdf:
        assert "/Title" not in pdf.docinfo
        assert pdf.is_linearized
        images = [img for page in pdf.pages for img in page.get_images().values()]
        assert images and all(pikepdf.PdfImage(i).mode in ("L", "P") for i in images)


def test_preview_estimates_each_level_close_to_the_real_result(
    isolated_backend: object, kinds: dict[str, Path], tmp_path: Path
) -> None:
    from pressroom.api import create_app

    client = create_app(isolated_backend.settings()).test_client()  # type: ignore[attr-defined]
    response = client.post(
        "/api/compress/preview",
        data={"file": (kinds["photo"].open("rb"), "photo.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    data = response.json["data"]  # type: ignore[index]
    assert data["pages"] == 1 and data["images"] == 1 and data["recommended_level"] == "medium"
    sizes = [data["levels"][level]["estimated_size"] for level in LEVELS]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < sizes[0]
    actual, _ = run(kinds["photo"], tmp_path, level="medium")
    estimate = data["levels"]["medium"]["estimated_size"]
    assert 0.6 * actual.compressed_size <= estimate <= 1.5 * actual.compressed_size
    # nothing is kept of a preview's upload
    staging = isolated_backend.settings().data_dir / "tmp"  # type: ignore[attr-defined]
    assert not list(staging.glob("upload-*"))


def test_preview_refuses_what_compression_refuses(
    isolated_backend: object, encrypted_pdf: Path
) -> None:
    from pressroom.api import create_app

    client = create_app(isolated_backend.settings()).test_client()  # type: ignore[attr-defined]
    response = client.post(
        "/api/compress/preview",
        data={"file": (encrypted_pdf.open("rb"), "locked.pdf")},
        content_type="multipart/form-data",
    )
    assert (response.status_code, response.json["error"]["code"]) == (422, "PDF_ENCRYPTED")  # type: ignore[index]
    unlocked = client.post(
        "/api/compress/preview",
        data={"file": (encrypted_pdf.open("rb"), "locked.pdf"), "password": "secret"},
        content_type="multipart/form-data",
    )
    assert unlocked.status_code == 200 and unlocked.json["data"]["pages"] == 1  # type: ignore[index]


def _with_link_and_bookmark(src: Path, dest: Path) -> Path:
    with pikepdf.open(src) as pdf:
        page = pdf.pages[0]
        link = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Link,
                Rect=[72, 72, 200, 100],
                Border=[0, 0, 0],
                A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.org")),
            )
        )
        page.obj.Annots = pdf.make_indirect(pikepdf.Array([link]))
        with pdf.open_outline() as outline:
            outline.root.append(pikepdf.OutlineItem("Chapter 1", 0))
        pdf.save(dest)
    return dest


@pytest.mark.parametrize("level", ["medium", "maximum"])
def test_links_and_bookmarks_survive(level: str, kinds: dict[str, Path], tmp_path: Path) -> None:
    src = _with_link_and_bookmark(kinds["photo"], tmp_path / "linked.pdf")
    (tmp_path / "w").mkdir()
    result, _ = run(src, tmp_path / "w", level=level)
    assert result.compressed_size < result.original_size
    with pikepdf.open(result.output) as pdf:
        annots = pdf.pages[0].obj.get("/Annots")
        assert annots is not None and annots[0].A.URI == "https://example.org"
        with pdf.open_outline() as outline:
            assert [item.title for item in outline.root] == ["Chapter 1"]


def test_the_gate_sees_lost_links(kinds: dict[str, Path], tmp_path: Path) -> None:
    src = _with_link_and_bookmark(kinds["text"], tmp_path / "linked.pdf")
    stripped = tmp_path / "stripped.pdf"
    with pikepdf.open(src) as pdf:
        del pdf.pages[0].obj["/Annots"]
        pdf.save(stripped)
    assert compare(src, src).features_kept
    assert not compare(src, stripped).features_kept


def test_type1_fonts_become_cff_with_the_same_text_and_look(
    kinds: dict[str, Path], tmp_path: Path
) -> None:
    src = kinds["type1"]
    result, progress = run(src, tmp_path, level="medium")
    kept = [p for p in result.passes if p.kept]
    assert [p.name for p in kept] == ["fonts"] and kept[0].details["converted"] == 1
    assert result.compressed_size < 0.5 * result.original_size
    assert "fonts" in progress.stages
    fonts = subprocess.run(
        ["pdffonts", str(result.output)], capture_output=True, text=True, check=True
    ).stdout
    assert "Type 1C" in fonts
    assert pdfs.pdf_text(result.output) == pdfs.pdf_text(src)
    assert compare(src, result.output, dpi=150).worst >= 0.99
    (tmp_path / "lossless").mkdir()
    lossless, _ = run(src, tmp_path / "lossless", level="lossless")
    assert "fonts" not in [p.name for p in lossless.passes]  # lossless keeps the programs


def test_a_document_with_text_gets_no_ghostscript_candidate(
    kinds: dict[str, Path], tmp_path: Path
) -> None:
    """Ghostscript's rewrite changes the extracted text of documents that have
    text, so at high and maximum it is not tried on them (and the result is
    what the other passes give)."""
    result, progress = run(kinds["type1"], tmp_path, level="maximum")
    assert "ghostscript" not in [p.name for p in result.passes]
    assert "ghostscript" not in progress.stages
    assert [p.name for p in result.passes if p.kept] == ["fonts"]


def test_fonts_that_are_a_sliver_of_the_file_are_left_as_they_are(
    kinds: dict[str, Path], tmp_path: Path
) -> None:
    """Under 1 % of the file in Type 1 programs, converting them cannot pay
    for checking the result: the fonts stay Type 1."""
    src = tmp_path / "big.pdf"
    with pikepdf.open(kinds["type1"]) as pdf:
        program = pdf.pages[0].Resources.Font.F1.FontDescriptor.FontFile
        size = 101 * len(program.read_raw_bytes())  # the font: under 1 %
        noise = pikepdf.Stream(pdf, os.urandom(size))  # incompressible
        pdf.Root.Noise = pdf.make_indirect(noise)
        pdf.save(src)
    (tmp_path / "w").mkdir()
    result, _ = run(src, tmp_path / "w", level="medium")
    assert "fonts" not in [p.name for p in result.passes]
    fonts = subprocess.run(
        ["pdffonts", str(result.output)], capture_output=True, text=True, check=True
    ).stdout
    assert "Type 1C" not in fonts and "Type 1" in fonts


def test_the_gate_ssim_is_scikit_images(kinds: dict[str, Path]) -> None:
    """The gate computes SSIM itself (faster); it must be scikit-image's figure."""
    doc = pdfium.PdfDocument(kinds["scan"])
    try:
        page = doc[0]
        page_image = page.render(scale=100 / 72, grayscale=True).to_numpy().squeeze().copy()
        page.close()
    finally:
        doc.close()
    rng = np.random.default_rng(7)
    noisy = np.clip(page_image + rng.normal(0, 12, page_image.shape), 0, 255).astype(np.uint8)
    pairs = [(page_image, noisy)]
    for shape in [(7, 7), (9, 200), (71, 64), (135, 97)]:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        pairs.append((a, np.clip(a + rng.normal(0, 30, shape), 0, 255).astype(np.uint8)))
    for a, b in pairs:
        assert ssim(a, b) == pytest.approx(structural_similarity(a, b, data_range=255), abs=1e-9)


def test_type1_decryption_is_the_standard_one() -> None:
    """The font pass decrypts Type 1 programs itself (vectorised); it must give
    what fontTools' reference implementation gives, for both keys."""
    rng = np.random.default_rng(11)
    for size in (0, 1, 4, 333, 70_000):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        for key in (pdf_fonts.EEXEC_KEY, pdf_fonts.CHARSTRING_KEY):
            assert pdf_fonts.decrypt(data, key) == eexec.decrypt(data, key)[0]


class Cancelling:
    """A Progress whose job is cancelled after its first report."""

    def __init__(self) -> None:
        self.reports = 0

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        self.reports += 1
        if self.reports > 1:
            raise JobCancelledError()


def test_a_cancelled_job_stops_its_compression(kinds: dict[str, Path], tmp_path: Path) -> None:
    """The passes run in a child; a cancel seen on a progress report stops it."""
    progress = Cancelling()
    with pytest.raises(JobCancelledError):
        CompressionService(engine_timeout=120).compress(
            kinds["photo"], tmp_path, CompressionOptions(level="medium"), progress
        )
    assert progress.reports == 2
    assert not (tmp_path / "compressed.pdf").exists()


def _sleeps(send: Send) -> dict[str, object]:
    send({"stage": "started"})
    time.sleep(30)
    return {}


def _fails(send: Send) -> dict[str, object]:
    raise EncryptedPDFError("The password given does not open this PDF.")


def _crashes(send: Send) -> dict[str, object]:
    raise ValueError("a parser's own exception")


def test_the_compression_child_is_isolated() -> None:
    """A hang is killed at the time-out (retryable), the child's domain errors
    arrive as they were raised, anything else is an engine failure."""
    seen: list[dict[str, object]] = []
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError):
        run_forked(_sleeps, timeout=1, on_message=seen.append)
    assert time.monotonic() - started < 10 and seen == [{"stage": "started"}]
    with pytest.raises(EncryptedPDFError, match="does not open"):
        run_forked(_fails, timeout=10)
    with pytest.raises(EngineError) as failed:
        run_forked(_crashes, timeout=10)
    assert "ValueError" in failed.value.details["detail"]
