"""CompressionService on real PDFs of each kind: smaller or equal, same
pages, same text, pages that still look the same."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from fontTools.misc import eexec
from skimage.metrics import structural_similarity

from pressroom.engines import isolated
from pressroom.engines.forkserver import ForkServer
from pressroom.engines.isolated import Send, run_forked
from pressroom.errors import (
    EncryptedPDFError,
    EngineError,
    EngineTimeoutError,
    JobCancelledError,
)
from pressroom.services import pdf_fonts
from pressroom.services.compression import (
    GATE_DPI,
    GATE_PAGES,
    PRESETS,
    CompressionOptions,
    CompressionResult,
    CompressionService,
)
from pressroom.services.compression_pipeline import parses_in_process
from pressroom.services.visual import Reference, compare, sample_pages, ssim
from tests.support import pdfs
from tests.support.processes import parent_of

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
    strings = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 1, 90, 0, 257)]
    assert pdf_fonts.decrypt_each(strings, pdf_fonts.CHARSTRING_KEY) == [
        eexec.decrypt(s, pdf_fonts.CHARSTRING_KEY)[0] for s in strings
    ]


def test_charstrings_read_directly_are_what_the_interpreter_reads(
    kinds: dict[str, Path],
) -> None:
    """The font pass reads Subrs and CharStrings itself and leaves the rest
    to fontTools' interpreter: the font it gets is the interpreter's own; a
    program out of the standard layout goes to the interpreter whole."""
    from fontTools.misc import psLib

    with pikepdf.open(kinds["type1"]) as pdf:
        stream = pdf.pages[0].Resources.Font.F1.FontDescriptor.FontFile
        program = pdf_fonts._split(stream)
    split = pdf_fonts._split_charstrings(program)
    assert split is not None
    rest, subrs, glyphs = split
    full, partial = psLib.suckfont(program), psLib.suckfont(rest)
    assert full["CharStrings"] == glyphs and len(glyphs) > 50
    assert list(full["Private"]["Subrs"]) == subrs
    partial["Private"]["Subrs"], partial["CharStrings"] = subrs, glyphs
    assert partial == full
    odd = program.replace(b" ND", b" xx", 1)  # an entry ended out of the layout
    assert pdf_fonts._split_charstrings(odd) is None


class Cancelling:
    """A Progress whose job is cancelled after its first report."""

    def __init__(self) -> None:
        self.reports = 0

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        self.reports += 1
        if self.reports > 1:
            raise JobCancelledError()


@pytest.fixture(params=["forked by the caller", "forked by a fork server"])
def fork_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """``run_forked`` as a test or a command-line tool calls it, and as a
    worker process does (its children come from its fork server)."""
    if request.param == "forked by a fork server":
        isolated.use_fork_server()
    try:
        yield request.param
    finally:
        isolated.stop_fork_server()


@pytest.mark.usefixtures("fork_mode")
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


def _dies(send: Send) -> dict[str, object]:
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


def _whoami(send: Send) -> dict[str, object]:
    return {"pid": os.getpid(), "parent": os.getppid(), "group": os.getpgid(0)}


@pytest.mark.usefixtures("fork_mode")
def test_the_compression_child_is_isolated() -> None:
    """A hang is killed at the time-out (retryable), the child's domain errors
    arrive as they were raised, anything else is an engine failure, and a
    child killed by a signal (a memory or CPU limit) says so."""
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
    with pytest.raises(EngineError) as killed:
        run_forked(_dies, timeout=10)
    assert "killed by signal 9" in killed.value.details["detail"]
    # after all that, the next child runs as usual
    child = run_forked(_whoami, timeout=10)
    assert child["group"] == child["pid"], "each child leads its own process group"


def test_a_worker_shares_no_memory_with_a_running_child(tmp_path: Path) -> None:
    """In a worker, children come from the fork server: the worker itself
    forks nothing (so its own writes copy no page), the server keeps none of
    the files the worker had open (a database socket held open there would
    outlive the connection), and a server that dies is replaced."""
    held_path = tmp_path / "held"
    held_path.touch()
    with held_path.open("rb") as held:  # stands for a database socket
        isolated.use_fork_server()
        try:
            child = run_forked(_whoami, timeout=10)
            server = child["parent"]
            assert server != os.getpid()
            with open(f"/proc/{server}/comm") as comm:  # what ps shows
                assert comm.read().strip() == "pressroom-fork"
            assert parent_of(server) == os.getpid(), "the worker's own child, made at the start"
            open_files = {
                os.readlink(f"/proc/{server}/fd/{fd}") for fd in os.listdir(f"/proc/{server}/fd")
            }
            assert str(held_path) not in open_files and held.fileno() >= 3
            os.kill(int(server), signal.SIGKILL)  # the OOM killer, say
            again = run_forked(_whoami, timeout=10)
            replacement = again["parent"]
            assert replacement not in (server, os.getpid())
        finally:
            isolated.stop_fork_server()
    assert not os.path.exists(f"/proc/{replacement}"), "the server ends with the worker's word"


def test_a_cancel_stays_a_cancel_when_the_fork_server_dies_with_it() -> None:
    """The error the task sees is what stopped it (here the client's cancel),
    not the loss of a server it no longer needs."""
    isolated.use_fork_server()
    server = isolated._fork_server
    assert server is not None

    def cancel(message: dict[str, Any]) -> None:
        os.kill(server.pid, signal.SIGKILL)
        raise JobCancelledError()

    try:
        with pytest.raises(JobCancelledError):
            run_forked(_sleeps, timeout=20, on_message=cancel)
    finally:
        isolated.stop_fork_server()


def test_a_wait_cut_short_leaves_the_fork_server_in_step() -> None:
    """A soft time limit can stop the worker while it waits for a child's
    end; the next child still starts, and its own end is the one waited for."""
    read_fd, write_fd = os.pipe()
    server = ForkServer(isolated._child, lambda parent: None)
    try:
        server.start()
        started_as = server.pid
        first = server.start_child(_crashes, write_fd, 10, isolated.MEMORY_LIMIT)
        os.close(write_fd)
        os.read(read_fd, 65536)  # its last word; its end is never waited for
        os.close(read_fd)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{first}") and time.monotonic() < deadline:
            time.sleep(0.01)  # reaped: the server has sent word of its end
        second = run_forked_with(server, _whoami)
        assert second["pid"] != first
        assert second["parent"] == server.pid == started_as, "the same server, not a new one"
    finally:
        server.stop()


def run_forked_with(server: ForkServer, work: Any) -> dict[str, Any]:
    read_fd, write_fd = os.pipe()
    pid = server.start_child(work, write_fd, 10, isolated.MEMORY_LIMIT)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        line = reader.read()
    status = server.wait_child(pid)
    assert os.waitstatus_to_exitcode(status) == 0
    result: dict[str, Any] = json.loads(line)["result"]
    return result


# -- high and maximum: path coordinates, 1-bit images, gentler steps ------------------
def drawing_pdf(path: Path, *, segments: int = 4000) -> Path:
    """A page of curves written as plotting programs write them, six decimals
    a coordinate, with a line of text whose string looks like a path."""
    rng = np.random.default_rng(3)
    lines = ["0.4 w", "1 0 0 RG"]
    for _ in range(segments // 40):
        x, y = rng.uniform(72, 540), rng.uniform(72, 720)
        lines.append(f"{x:.6f} {y:.6f} m")
        for _ in range(40):
            x, y = x + rng.uniform(-6, 6), y + rng.uniform(-6, 6)
            lines.append(f"{x:.6f} {y:.6f} {x + 1:.6f} {y + 1:.6f} {x + 2:.6f} {y:.6f} c")
        lines.append("S")
    lines.append("BT /F1 12 Tf 72 40 Td (Plot 12.345678 90.123456 l) Tj ET")
    with pikepdf.new() as pdf:
        font = pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
        page = pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 612, 792],
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                Contents=pdf.make_stream("\n".join(lines).encode()),
            )
        )
        pdf.pages.append(page)
        pdf.save(path, compress_streams=True)
    return path


def test_path_decimals_are_cut_and_nothing_else() -> None:
    from pressroom.services.pdf_paths import truncate_path_decimals

    content = (
        b"0.123456 0.654321 0.5 rg\n"
        b"1 0 0 1 10.123456 20.654321 cm\n"
        b"169.928207 -1.895981 m\n"
        b"169.861908 -2.210892 169.786240 -2.528915 169.667450 -2.836929 c \n"
        b"10.55555 20.55555 30.5 40.12345 re\n"
        b"0.199249 w\n"
        b"BT /F1 12 Tf (12.345678 90.123456 l) Tj ET\n"
        b"-.123456 5 l"
    )
    assert truncate_path_decimals(content, 2) == (
        b"0.123456 0.654321 0.5 rg\n"
        b"1 0 0 1 10.123456 20.654321 cm\n"
        b"169.92 -1.89 m\n"
        b"169.86 -2.21 169.78 -2.52 169.66 -2.83 c \n"
        b"10.55 20.55 30.5 40.12 re\n"
        b"0.199249 w\n"
        b"BT /F1 12 Tf (12.345678 90.123456 l) Tj ET\n"
        b"-.12 5 l"
    )


@pytest.mark.parametrize(
    "unsafe",
    [
        b"BT (a string\n1.234567 2.345678 l\nover lines) Tj ET\n",
        b"BT <0030\n1.234567 2.345678 l\n0031> Tj ET\n",
        b"BI /W 1 /H 1 /BPC 8 /CS /G ID \x00\n1.234567 2.345678 l\nEI\n",
    ],
)
def test_a_line_inside_a_string_or_inline_image_is_left_alone(unsafe: bytes) -> None:
    from pressroom.services.pdf_paths import truncate_path_decimals

    content = b"1.234567 2.345678 m\n" + unsafe
    assert truncate_path_decimals(content, 2) == content


def test_maximum_rounds_path_coordinates_invisibly(tmp_path: Path) -> None:
    src = drawing_pdf(tmp_path / "drawing.pdf")
    (tmp_path / "max").mkdir()
    result, progress = run(src, tmp_path / "max", level="maximum")
    paths = next(p for p in result.passes if p.name == "paths")
    assert paths.kept and "paths" in progress.stages
    assert result.compressed_size < 0.8 * result.original_size
    assert pdfs.pdf_text(result.output) == pdfs.pdf_text(src)
    assert "12.345678 90.123456" in pdfs.pdf_text(result.output)
    assert compare(src, result.output, dpi=150).worst > 0.999
    with pikepdf.open(result.output) as pdf:
        content = pdf.pages[0].Contents.read_bytes()
    assert b".928207" not in content and re.search(rb"\d\.\d{3} ", content) is None
    (tmp_path / "medium").mkdir()
    medium, _ = run(src, tmp_path / "medium", level="medium")
    assert "paths" not in [p.name for p in medium.passes]


def test_one_bit_scans_are_downsampled_at_maximum_only(tmp_path: Path) -> None:
    """A 300 dpi black-and-white scan stays 1-bit and comes back at a lower
    resolution at maximum (and passes the gate); medium leaves it as it is."""
    lines = [f"Line {i}: the quick brown fox jumps over the lazy dog 0123456789" for i in range(50)]
    src = pdfs.bilevel_scan_pdf(tmp_path / "bilevel.pdf", lines)
    (tmp_path / "max").mkdir()
    result, _ = run(src, tmp_path / "max", level="maximum")
    assert result.compressed_size < 0.5 * result.original_size
    with pikepdf.open(result.output) as pdf:
        image = next(iter(pdf.pages[0].get_images().values()))
        assert int(image.BitsPerComponent) == 1 and int(image.Width) < 2550
    kept = next(p for p in result.passes if p.kept)
    assert kept.details["bilevel"] == 1 and kept.ssim_worst >= PRESETS["maximum"].min_ssim
    (tmp_path / "medium").mkdir()
    medium, _ = run(src, tmp_path / "medium", level="medium")
    with pikepdf.open(medium.output) as pdf:
        image = next(iter(pdf.pages[0].get_images().values()))
        assert int(image.Width) == 2550
        assert pikepdf.PdfImage(image).filters == ["/CCITTFaxDecode"]


def test_gentler_settings_go_one_step_at_a_time(kinds: dict[str, Path], tmp_path: Path) -> None:
    """When the level's image settings fail the gate, the next tries raise the
    resolution first: the scan passes at a size under what the former single
    retry (1.5x the resolution and 10 more quality) gave."""
    from pressroom.services import pdf_images

    result, _ = run(kinds["scan"], tmp_path, level="high")
    names = [p.name for p in result.passes]
    tried = [p for p in result.passes if p.name.startswith("images")]
    assert tried[0].name == "images" and tried[0].rejected.startswith("SSIM")
    assert tried[-1].kept and tried[-1].name.startswith("images_gentle_")
    assert all(p.rejected.startswith("SSIM") for p in tried[:-1]), names
    assert tried[-1].ssim_worst >= PRESETS["high"].min_ssim
    former = tmp_path / "former.pdf"
    pdf_images.optimise_images(
        kinds["scan"], former, pdf_images.ImageSettings(225, 80, bilevel=True)
    )
    assert result.compressed_size < former.stat().st_size


def render_rgb(path: Path) -> np.ndarray:
    doc = pdfium.PdfDocument(path)
    try:
        return np.asarray(doc[0].render(scale=50 / 72).to_pil().convert("RGB"), dtype=np.int16)
    finally:
        doc.close()


@pytest.mark.parametrize("encoding", ["jpeg", "jpeg-decode"])
def test_cmyk_jpegs_shrink_and_keep_their_colours(encoding: str, tmp_path: Path) -> None:
    """A CMYK photo stored as Adobe's JPEG (with or without the /Decode array
    that inverts its samples) comes back downsampled, still CMYK, and
    rendering in the same colours, not as a negative."""
    src = pdfs.cmyk_photo_pdf(tmp_path / "cmyk.pdf", encoding=encoding)
    (tmp_path / "w").mkdir()
    result, _ = run(src, tmp_path / "w", level="medium")
    assert result.compressed_size < 0.6 * result.original_size
    with pikepdf.open(result.output) as pdf:
        image = next(iter(pdf.pages[0].get_images().values()))
        assert image.ColorSpace == pikepdf.Name.DeviceCMYK and int(image.Width) < 1500
        assert pikepdf.PdfImage(image).filters == ["/DCTDecode"]
        assert ("/Decode" in image) == (encoding == "jpeg-decode")
    before, after = render_rgb(src), render_rgb(result.output)
    assert before.shape == after.shape
    assert np.abs(before - after).mean() < 6, "colours changed"


def test_other_cmyk_images_are_left_as_they_are(tmp_path: Path) -> None:
    """Raw CMYK samples would come back inverted in some readers as a JPEG:
    they stay as they were."""
    src = pdfs.cmyk_photo_pdf(tmp_path / "cmyk.pdf", encoding="flate", width=600, height=400)
    (tmp_path / "w").mkdir()
    result, _ = run(src, tmp_path / "w", level="medium")
    images = (
        next(p for p in result.passes if p.name == "images")
        if any(p.name == "images" for p in result.passes)
        else None
    )
    assert images is None or images.details["skipped"] == {"cmyk_not_adobe_jpeg": 1}
    with pikepdf.open(src) as a, pikepdf.open(result.output) as b:
        old = next(iter(a.pages[0].get_images().values()))
        new = next(iter(b.pages[0].get_images().values()))
        assert new.read_bytes() == old.read_bytes()


def test_the_gate_looks_at_the_pages_whose_images_changed(
    kinds: dict[str, Path], tmp_path: Path
) -> None:
    """A scanned page outside the gate's even sample (page 10 of 20) that
    the level's JPEG settings spoil: the gate compares that page too, so the
    spoilt candidate is refused and the page keeps the level's SSIM."""
    src = tmp_path / "mixed.pdf"
    text = pdfs.text_pdf(tmp_path / "text.pdf", pages=19)
    with pikepdf.open(text) as pdf, pikepdf.open(kinds["scan"]) as scan:
        pdf.pages.insert(9, scan.pages[0])
        pdf.save(src)
    assert 9 not in sample_pages(20, GATE_PAGES)
    (tmp_path / "w").mkdir()
    result, _ = run(src, tmp_path / "w", level="high")
    images = next(p for p in result.passes if p.name == "images")
    assert images.rejected is not None and images.rejected.startswith("SSIM")
    reference = Reference(src, dpi=GATE_DPI, max_pages=0)
    try:
        assert reference.compare(result.output, also=[9]).worst >= PRESETS["high"].min_ssim
    finally:
        reference.close()


def test_forms_drawing_each_other_are_walked_once() -> None:
    """A malformed file whose forms draw each other in a cycle: the passes'
    walk of a page's forms ends, and meets each form once."""
    from pressroom.services.pdf_forms import forms_in, resources_within

    with pikepdf.new() as pdf:
        a = pdf.make_stream(b"/B Do")
        b = pdf.make_stream(b"/A Do")
        for form, other, name in ((a, b, "/B"), (b, a, "/A")):
            form.Type, form.Subtype, form.BBox = (
                pikepdf.Name.XObject,
                pikepdf.Name.Form,
                [0, 0, 1, 1],
            )
            form.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({name: other}))
        page = pikepdf.Dictionary(XObject=pikepdf.Dictionary(A=a))
        assert [f.objgen for f in forms_in(page)] == [a.objgen, b.objgen]
        assert len(list(resources_within(page))) == 3
