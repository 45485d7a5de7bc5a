#!/usr/bin/env python3
"""Invoice extraction benchmark: field accuracy on real invoices.

The labelled set is ``bench/extraction_labels.json``: five real invoices
(Amazon Web Services, Flipkart, QualityHosting, Free, OYO; English, German,
French) that the MIT-licensed invoice2data project ships as test documents in
its 0.3.6 source distribution on PyPI. The PDFs are not kept in this
repository: ``--fetch`` downloads that source distribution with pip (through
uv, into ``bench/out/invoice2data``) and unpacks the five PDFs; each is
checked against the SHA-256 in the labels.

Each invoice goes through ``ExtractionService.extract_invoice`` (the layout
read in a child process, then the rules engine), as a job would. A field is
correct when:

- invoice_number: equal, ignoring case, spaces and a leading '#';
- dates, currency: equal;
- amounts: equal to the cent;
- vendor, customer: one of the accepted names and the extracted name contain
  one another once both are lower-cased and stripped of punctuation and
  company endings (Inc, Ltd, AG, SAS...);
- line_item_amounts: the list of item amounts is exactly the labelled list.

A field absent from an invoice's labels is not scored. The report gives, per
field, how many invoices label it, how many were found (not empty) and how
many were right; the rows go to bench/out/extraction.json.

    .venv/bin/python bench/extraction.py --fetch
    .venv/bin/python bench/extraction.py --pdfs /some/folder/with/the/pdfs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pressroom.services.extraction.schemas import InvoiceOptions  # noqa: E402
from pressroom.services.extraction.service import ExtractionService  # noqa: E402

LABELS = Path(__file__).with_name("extraction_labels.json")
OUT = ROOT / "bench" / "out"
SDIST = "invoice2data==0.3.6"
FIELDS = [
    "invoice_number",
    "issue_date",
    "due_date",
    "vendor",
    "customer",
    "currency",
    "subtotal",
    "tax",
    "total",
    "line_item_amounts",
]
COMPANY_ENDINGS = re.compile(
    r"\b(inc|ltd|limited|llc|ag|gmbh|sas|sa|pvt|private|co|corp|plc)\b", re.IGNORECASE
)


class Quiet:
    def report(self, percentage: float, stage: str, message: str = "") -> None:
        pass


def fetch(dest: Path) -> None:
    """Download invoice2data's source distribution with pip and unpack its test PDFs."""
    dest.mkdir(parents=True, exist_ok=True)
    uv = ROOT / ".tools" / "bin" / "uv"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                str(uv), "tool", "run", "--from", "pip", "--with", "setuptools", "--with",
                "wheel", "pip", "download", "--no-binary", ":all:", "--no-deps",
                "--no-build-isolation", SDIST, "-d", tmp,
            ],
            check=True,
            timeout=300,
        )  # fmt: skip
        archive = next(Path(tmp).glob("invoice2data-*.tar.gz"))
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if (
                    member.isfile()
                    and "/tests/compare/" in member.name
                    and member.name.endswith(".pdf")
                ):
                    source = tar.extractfile(member)
                    assert source is not None
                    with (dest / Path(member.name).name).open("wb") as out:
                        shutil.copyfileobj(source, out)


def _name(text: str | None) -> str:
    text = COMPANY_ENDINGS.sub(" ", (text or "").casefold())
    return " ".join(re.findall(r"\w+", text))


def correct(field: str, expected: Any, got: Any) -> bool:
    if got is None:
        return False
    if field == "invoice_number":
        return (
            re.sub(r"[\s#]", "", str(got)).casefold()
            == re.sub(r"[\s#]", "", str(expected)).casefold()
        )
    if field in ("vendor", "customer"):
        mine = _name(got)
        return bool(mine) and any(_name(e) in mine or mine in _name(e) for e in expected)
    if field == "line_item_amounts":
        return [round(float(a), 2) for a in got] == [round(float(a), 2) for a in expected]
    if field in ("subtotal", "tax", "total"):
        return abs(float(got) - float(expected)) < 0.005
    return bool(str(got) == str(expected))


def extracted(result: dict[str, Any]) -> dict[str, Any]:
    invoice = result["invoice"]
    amounts = [i["amount"] for i in invoice["line_items"] if i["amount"] is not None]
    return {
        "invoice_number": invoice["invoice_number"],
        "issue_date": invoice["issue_date"],
        "due_date": invoice["due_date"],
        "vendor": invoice["vendor"]["name"],
        "customer": invoice["customer"]["name"],
        "currency": invoice["currency"],
        "subtotal": invoice["subtotal"],
        "tax": invoice["tax"],
        "total": invoice["total"],
        "line_item_amounts": amounts or None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pdfs", type=Path, default=OUT / "invoice2data")
    parser.add_argument("--fetch", action="store_true", help="download the PDFs first")
    args = parser.parse_args(argv)
    labels = json.loads(LABELS.read_text())
    if args.fetch:
        fetch(args.pdfs)
    service = ExtractionService(engine_timeout=120)
    rows = []
    for entry in labels["invoices"]:
        pdf = args.pdfs / entry["file"]
        digest = hashlib.sha256(pdf.read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise SystemExit(f"{pdf}: not the labelled file (sha256 {digest})")
        started = time.perf_counter()
        extraction = service.extract_invoice(pdf, InvoiceOptions(), Quiet())
        seconds = time.perf_counter() - started
        got = extracted(extraction.model_dump(mode="json"))
        scores = {
            field: correct(field, expected, got[field])
            for field, expected in entry["labels"].items()
        }
        rows.append(
            {
                "file": entry["file"],
                "language": entry["language"],
                "seconds": round(seconds, 2),
                "scores": scores,
                "extracted": got,
                "labels": entry["labels"],
                "warnings": extraction.warnings,
            }
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "extraction.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))

    print(f"{'field':<18} {'labelled':>8} {'found':>6} {'correct':>8} {'accuracy':>9}")
    total_labelled = total_correct = 0
    for field in FIELDS:
        scored = [r for r in rows if field in r["scores"]]
        found = sum(1 for r in scored if r["extracted"][field] is not None)
        right = sum(1 for r in scored if r["scores"][field])
        total_labelled += len(scored)
        total_correct += right
        accuracy = f"{100 * right / len(scored):.0f}%" if scored else "-"
        print(f"{field:<18} {len(scored):>8} {found:>6} {right:>8} {accuracy:>9}")
    print(
        f"{'all fields':<18} {total_labelled:>8} {'':>6} {total_correct:>8} "
        f"{100 * total_correct / total_labelled:>8.0f}%"
    )
    print()
    for row in rows:
        wrong = [f for f, ok in row["scores"].items() if not ok]
        print(
            f"{row['file']:<24} {row['language']}  {row['seconds']:>5.2f} s  "
            f"{sum(row['scores'].values())}/{len(row['scores'])} right"
            + (f"; wrong: {', '.join(wrong)}" if wrong else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
