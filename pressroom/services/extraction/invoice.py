"""Invoice fields from a document's layout, by rules.

How each field is found (labels in English, German, French, Spanish, Italian,
Dutch and Portuguese):

- number, dates, parties, tax id: a label and the value after it in the same
  cell, in the next cell on the line, or just below it (``rules.find``). A
  due date can also come from payment terms ("net 30", "zahlbar innerhalb
  von 14 Tagen"), counted from the issue date.
- subtotal, tax, total: every amount in the document is a candidate, named
  by its row's label ("Total facture") and its column's header ("Montant
  TVA"). The best-named candidates of each field are tried together and the
  combination whose arithmetic holds (subtotal + tax = total) wins, so one
  misleading label does not decide alone.
- line items: a header row that names a description and an amount (or
  quantity, price) column; each following row with an amount is an item, and
  lines with text only continue the item's description. A ruled table with
  such a header is read the same way.

Then the checks: the line items add up to the subtotal (or to the total when
there is no tax), and subtotal + tax = total. A failed check is a warning
and lowers the confidence of the fields involved.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pressroom.services.extraction.checks import check_sum, lower_confidence
from pressroom.services.extraction.layout import Cell, Document, Line, Word
from pressroom.services.extraction.rules import (
    COMPANY,
    Hit,
    Labels,
    best,
    cells_below,
    clean_name,
    find,
    fold,
    identifier,
)
from pressroom.services.extraction.schemas import (
    Check,
    Invoice,
    InvoiceExtraction,
    LineItem,
    Party,
)
from pressroom.services.extraction.values import (
    CURRENCY_CODES,
    LOCALES,
    Amount,
    NumberStyle,
    currency_in,
    currency_words,
    find_amounts,
    find_dates,
    guess_date_order,
    guess_style,
)

NUMBER = Labels(
    "invoice number", "invoice no", "invoice nr", "invoice #", "invoice num", "invoice id",
    "inv no", "inv #", "bill no", "bill number", "receipt no", "receipt number",
    "rechnungsnummer", "rechnungsnr", "rechnung nr", "rechnungs-nr", "belegnummer",
    "numero de facture", "n° de facture", "no de facture", "facture n°", "facture no",
    "facture nr", "numero de factura", "factura n°", "factura no", "factura nº",
    "numero fattura", "fattura n", "factuurnummer", "factuur nr", "nota fiscal",
    "document no", ("invoice", 0.6), ("rechnung", 0.6), ("facture", 0.6), ("factura", 0.6),
    ("booking id", 0.5),
)  # fmt: skip
ISSUED = Labels(
    "invoice date", "date of invoice", "date of issue", "issue date", "issued on",
    "billing date", "bill date", "tax point", "rechnungsdatum", "belegdatum",
    "date de facture", "date de facturation", "date d'emission", "fecha de factura",
    "fecha de emision", "fecha factura", "data fattura", "data emissione", "factuurdatum",
    "data de emissao", ("datum", 0.7), ("fecha", 0.7), ("data", 0.6), ("date", 0.7),
)  # fmt: skip
DUE = Labels(
    "due date", "payment due", "date due", "due on", "due by", "pay by", "payable by",
    "payment date", "faelligkeitsdatum", "fälligkeitsdatum", "fällig am", "fällig bis",
    "zahlbar bis", "date limite de paiement", "date d'echeance", "echeance",
    "a payer avant le", "fecha de vencimiento", "vencimiento", "data di scadenza",
    "scadenza", "vervaldatum", "te betalen voor", "data de vencimento", "zahlungsziel",
)  # fmt: skip
CUSTOMER = Labels(
    "bill to address", "bill to", "billed to", "billing address", "invoice to", "invoiced to",
    "sold to",
    "customer", "client", "buyer", "recipient", "guest name", "attn",
    "rechnungsempfänger", "rechnungsadresse", "kunde", "empfänger", "facture a",
    "adresse de facturation", "destinataire", "cliente", "facturar a", "klant",
    "nom de l'abonne", ("to", 0.6),
)  # fmt: skip
VENDOR = Labels(
    "sold by", "service provider", "vendor", "seller", "supplier", "issued by", "bill from",
    "remit to", "pay to", "payee", "verkäufer", "lieferant", "rechnungssteller",
    "absender", "fournisseur", "vendeur", "emetteur", "proveedor", "emisor", "fornitore",
    "leverancier", ("from", 0.7),
)  # fmt: skip
TAX_ID = Labels(
    "vat number", "vat no", "vat reg", "vat id", "vat/tin", "tax id", "tax number", "gstin",
    "ust-idnr", "ust-id", "ustid", "umsatzsteuer-id", "steuernummer", "steuer-nr",
    "n° de tva", "tva intracommunautaire", "numero de tva", "cif", "nif", "partita iva",
    "btw-nummer", "btw nr", "abn", "tin", "vat",
)  # fmt: skip
CURRENCY = Labels("currency", "währung", "devise", "moneda", "valuta", "moeda")

# amounts: the field a row or column label names; subtotal before tax before
# total, because "Total excl. VAT" names the subtotal
SUBTOTAL = Labels(
    "subtotal", "sub total", "sub-total", "net amount", "net total", "total net",
    "total excl", "total excluding", "total before tax", "amount before tax",
    "excl. vat", "excluding vat", "amount untaxed", "total ht", "montant ht", "eur ht",
    "hors taxe", "ht", "nettobetrag", "netto", "zwischensumme", "summe netto",
    "gesamt netto", "nettosumme", "ohne mwst", "base imponible", "imponibile",
    "subtotaal", "totaal excl", "valor liquido",
)  # fmt: skip
TAX = Labels(
    "vat", "tax", "gst", "igst", "cgst", "sgst", "sales tax", "mwst", "ust", "umsatzsteuer",
    "mehrwertsteuer", "tva", "iva", "btw", "taxes",
)  # fmt: skip
TOTAL = Labels(
    "grand total", "total amount due", "amount due", "total due", "balance due",
    "total amount", "invoice total", "total to pay", "amount payable", "total payable",
    "total ttc", "montant ttc", "eur ttc", "ttc", "somme a payer", "net a payer",
    "total a payer", "gesamtbetrag", "rechnungsbetrag", "endbetrag", "gesamtsumme",
    "zu zahlen", "bruttobetrag", "brutto", "inkl", "incl", "importe total",
    "total a pagar", "totale fattura", "totale", "te betalen", "totaal", "valor total",
    ("total", 0.75), ("summe", 0.7), ("betrag", 0.5),
)  # fmt: skip
#: a line that ends the line items
ENDS_ITEMS = Labels(
    "subtotal", "sub total", "total", "summe", "gesamt", "netto", "montant ht", "total ht",
    "grand total", "amount due", "zwischensumme", "totaal", "totale", "importe",
)  # fmt: skip

# line-item columns
DESCRIPTION = Labels(
    "description", "item", "items", "product", "article", "service", "services", "details",
    "title", "beschreibung", "bezeichnung", "artikel", "leistung", "designation",
    "libelle", "descripcion", "concepto", "descrizione", "omschrijving", "descricao",
)  # fmt: skip
QUANTITY = Labels(
    "qty", "quantity", "menge", "anzahl", "qte", "quantite", "cantidad", "quantita", "qta",
    "aantal", "quantidade", "units", "hours", "hrs",
)  # fmt: skip
PRICE = Labels(
    "unit price", "price", "rate", "unit cost", "einzelpreis", "preis", "vk-preis",
    "prix unitaire", "prix", "p.u", "pu", "precio", "prezzo", "prijs", "preco",
)  # fmt: skip
LINE_AMOUNT = Labels(
    "amount", "line total", "total", "zeilenbetrag", "betrag", "gesamt", "gesamtpreis",
    "montant", "importe", "importo", "bedrag", "valor", "net",
)  # fmt: skip
TITLE_WORDS = re.compile(
    r"\b(tax invoice|invoice|rechnung|facture|factura|fattura|factuur|receipt|bill|quittung)\b",
    re.IGNORECASE,
)
TERMS = re.compile(
    r"(?:net|within|innerhalb(?: von)?|sous|dans les|a|à|entro|binnen)\s*(\d{1,3})\s*"
    r"(?:days|day|tage[n]?|jours|dias|días|giorni|dagen)",
    re.IGNORECASE,
)
NET_TERMS = re.compile(r"\bnet\s?(\d{1,3})\b", re.IGNORECASE)


@dataclass
class _Candidate:
    value: Decimal
    score: float
    line: Line
    currency: str | None


class InvoiceReader:
    """Reads one invoice; ``read()`` returns the extraction."""

    def __init__(self, doc: Document, *, locale: str = "auto") -> None:
        self.doc = doc
        decimal_hint, order_hint = LOCALES.get(locale, (None, None))
        texts = doc.texts
        self.style: NumberStyle = guess_style(texts, hint=decimal_hint)
        self.order = guess_date_order(texts, hint=order_hint)
        self.confidence: dict[str, float] = {}
        self.warnings: list[str] = []
        self.item_lines: set[int] = set()

    # -- values ------------------------------------------------------------

    def _date(self, text: str) -> date | None:
        found = find_dates(text, self.order)
        return found[0].value if found else None

    def _amount(self, text: str) -> Decimal | None:
        found = find_amounts(text, self.style)
        return found[-1].value if found else None

    def _set(self, field: str, hit: Hit[Any] | None) -> None:
        if hit is not None:
            self.confidence[field] = round(min(0.99, hit.confidence), 2)

    # -- fields ------------------------------------------------------------

    def read(self) -> InvoiceExtraction:
        invoice = Invoice()
        number = best(find(self.doc, NUMBER, identifier))
        if number:
            invoice.invoice_number = number.value
            self._set("invoice_number", number)
        invoice.issue_date = self._issue_date(number)
        invoice.due_date = self._due_date(invoice.issue_date)
        invoice.vendor = self._vendor()
        invoice.customer = self._customer()
        items = self._line_items()
        invoice.line_items = items
        if items:
            self.confidence["line_items"] = 0.7
        invoice.currency = self._currency()
        subtotal, tax, total = self._totals(items)
        derived: list[str] = []
        if subtotal is None and total is not None:
            subtotal = self._derived_subtotal(items, tax, total)
            if subtotal is not None:
                derived.append("subtotal")
        invoice.subtotal, invoice.tax, invoice.total = subtotal, tax, total
        checks = check_invoice(invoice, self.confidence, self.warnings, derived=derived)
        return InvoiceExtraction(
            pages=self.doc.page_count,
            number_format=self.style.name,
            date_order=self.order,
            invoice=invoice,
            confidence=dict(sorted(self.confidence.items())),
            checks=checks,
            warnings=self.warnings,
            derived=derived,
        )

    def _derived_subtotal(
        self, items: list[LineItem], tax: Decimal | None, total: Decimal
    ) -> Decimal | None:
        """No subtotal printed: the line items' sum when it adds up to the
        total (with the tax, if any), or else total - tax."""
        items_sum = _items_sum(items)
        if items_sum is not None and items_sum + (tax or Decimal(0)) == total:
            self.confidence["subtotal"] = 0.6
            return items_sum
        if tax is not None and Decimal(0) <= tax < total:
            self.confidence["subtotal"] = 0.5
            return total - tax
        return None

    def _issue_date(self, number: Hit[str] | None) -> date | None:
        hit = best(h for h in find(self.doc, ISSUED, self._date) if not DUE.search(h.cell.text))
        if hit is not None and hit.label.weight >= 0.9:
            self._set("issue_date", hit)
            return hit.value
        if number is not None:  # "Facture n°562044387 du 02 Juillet 2015"
            on_line = find_dates(number.line.text, self.order)
            if on_line:
                self.confidence["issue_date"] = 0.8
                return on_line[0].value
        if hit is not None:
            self._set("issue_date", hit)
            return hit.value
        for line in self.doc.lines:
            if DUE.search(line.text):
                continue
            found = find_dates(line.text, self.order)
            if found:
                self.confidence["issue_date"] = 0.4
                return found[0].value
        return None

    def _due_date(self, issued: date | None) -> date | None:
        hit = best(find(self.doc, DUE, self._date))
        if hit is not None:
            self._set("due_date", hit)
            return hit.value
        if issued is None:
            return None
        for line in self.doc.lines:
            match = TERMS.search(line.text) or NET_TERMS.search(line.text)
            if match and 0 < int(match.group(1)) <= 180:
                self.confidence["due_date"] = 0.6
                return issued + timedelta(days=int(match.group(1)))
        return None

    def _party_block(self, hit: Hit[str]) -> Party:
        """A party whose name was found at ``hit``: the lines below it in
        the same column are its address."""
        name = clean_name(hit.value)
        address: list[str] = []
        cell = next((c for c in hit.line.cells if hit.text in c.text), hit.line.cells[0])
        if hit.source == "below":
            below_line = next(
                (
                    line
                    for line in self.doc.lines
                    if line.index > hit.line.index and any(c.text == hit.text for c in line.cells)
                ),
                None,
            )
            if below_line is not None:
                cell = next(c for c in below_line.cells if c.text == hit.text)
                address = _address(cells_below(self.doc, below_line, cell, depth=3))
        else:
            address = _address(cells_below(self.doc, hit.line, cell, depth=2))
        return Party(name=name or None, address=", ".join(a for a in address if a) or None)

    @staticmethod
    def _name(text: str) -> str | None:
        text = text.strip()
        if len(text) < 2 or not re.search(r"[A-Za-z]", text) or len(text) > 80:
            return None
        if re.search(r"(?i)www\.|https?:|@|\bcare\b|\bservice\b|\bsupport\b", text):
            return None
        if text.startswith("(") or re.search(r"(?i)\b(address|adresse|anschrift)\b", text):
            return None
        if sum(c.isdigit() for c in text) > len(text) / 3:
            return None
        if re.fullmatch(r"[\d\s/.,:-]+", text):
            return None
        return text

    def _customer(self) -> Party:
        hit = best(find(self.doc, CUSTOMER, self._name, at_start=True))
        if hit is None:
            return self._customer_by_position()
        self._set("customer", hit)
        return self._party_block(hit)

    def _customer_by_position(self) -> Party:
        """No label: the address block in the top part of page 1 (an
        envelope window): three to six short lines, left-aligned one under
        the other, below the sender's line."""
        if not self.doc.pages:
            return Party()
        page = self.doc.pages[0]
        firsts = [
            line.cells[0]
            for line in page.lines
            if line.top < page.height * 0.45 and line.cells[0].x0 < page.width / 2
        ]
        block: list[Cell] = []
        for cell in firsts[1:]:  # the first line is the sender's
            word = cell.words[0]
            if block:
                last = block[-1].words[0]
                close = word.top - last.bottom < (word.bottom - word.top) * 1.5
                if close and abs(word.x0 - last.x0) < 3:
                    block.append(cell)
                    continue
                if len(block) >= 3:
                    break
            block = [cell] if len(cell.text) < 60 and ":" not in cell.text else []
        if len(block) < 3 or not self._name(block[0].text):
            return Party()
        self.confidence["customer"] = 0.4
        return Party(name=clean_name(block[0].text), address=", ".join(b.text for b in block[1:6]))

    def _vendor(self) -> Party:
        party = Party()
        hit = best(find(self.doc, VENDOR, self._name, at_start=True))
        if hit is not None:
            self._set("vendor", hit)
            party = self._party_block(hit)
        else:
            name = self._vendor_by_position()
            if name:
                party = Party(name=name)
        tax_id = best(find(self.doc, TAX_ID, _tax_id))
        if tax_id is not None:
            party.tax_id = tax_id.value
        return party

    def _vendor_by_position(self) -> str | None:
        """No label: a company name at the top of page 1, or in the footer,
        or else page 1's first line that is not the document's title."""
        first = self.doc.pages[0] if self.doc.pages else None
        if first is None or not first.lines:
            return None
        top = [line for line in first.lines if line.top < first.height * 0.3]
        bottom = [line for line in first.lines if line.top > first.height * 0.75]
        for lines, confidence in ((top, 0.6), (bottom, 0.45)):
            for line in lines:
                for cell in line.cells:
                    if COMPANY.search(cell.text) and not re.match(
                        r"(?i)\s*(attn|bill|ship|to\b)", cell.text
                    ):
                        self.confidence["vendor"] = confidence
                        return clean_name(cell.text.split(" au capital")[0])
        for line in top:
            text = TITLE_WORDS.sub("", line.cells[0].text).strip(" :-")
            if self._name(text) and not find_dates(text, self.order):
                self.confidence["vendor"] = 0.35
                return clean_name(text)
        return None

    def _currency(self) -> str | None:
        hit = best(find(self.doc, CURRENCY, _currency_code))
        if hit is not None:
            self._set("currency", hit)
            return hit.value
        votes: dict[str, int] = {}
        for line in self.doc.lines:
            for amount in find_amounts(line.text, self.style):
                if amount.currency:
                    votes[amount.currency] = votes.get(amount.currency, 0) + 1
            for code in re.findall(r"\b[A-Z]{3}\b", line.text):
                if code in CURRENCY_CODES:
                    votes[code] = votes.get(code, 0) + 1
        if votes:
            code = max(votes, key=lambda c: votes[c])
            self.confidence["currency"] = 0.85 if votes[code] > 1 else 0.65
            return code
        for line in self.doc.lines:
            code = currency_words(line.text)
            if code:
                self.confidence["currency"] = 0.6
                return code
        return None

    # -- totals ------------------------------------------------------------

    def _column_label(self, line: Line, cell: Cell) -> str:
        """The header above ``cell``: the nearest short text cell over it."""
        page = next(p for p in self.doc.pages if p.number == line.page)
        position = page.lines.index(line)
        for above in reversed(page.lines[max(0, position - 10) : position]):
            over = [c for c in above.cells if min(c.x1, cell.x1) - max(c.x0, cell.x0) > 0]
            if not over:
                continue
            header = over[0]
            if find_amounts(header.text, self.style):
                continue
            if len(header.text.split()) > 5:
                return ""
            # a header may be written on two lines ("Montant" over "TVA")
            return header.text
        return ""

    def _amounts(self, text: str) -> list[Amount]:
        """The amounts in ``text`` that are not part of a date, and look like
        money: with cents or a currency, or alone in their cell."""
        for found in find_dates(text, self.order):
            text = text[: found.start] + " " * (found.end - found.start) + text[found.end :]
        amounts = find_amounts(text, self.style)
        alone = (
            len(amounts) == 1 and text.strip() == text[amounts[0].start : amounts[0].end].strip()
        )
        return [
            a
            for a in amounts
            if a.currency or alone or re.search(r"[.,]\d{2}$", text[a.start : a.end].strip(" )-"))
        ]

    def _candidates(self) -> dict[str, list[_Candidate]]:
        fields: dict[str, list[_Candidate]] = {"subtotal": [], "tax": [], "total": []}
        lines = self.doc.lines
        count = max(1, len(lines))
        for line in lines:
            if line.index in self.item_lines:
                continue
            row_label = ""
            found: list[tuple[Cell, Amount, str]] = []
            for cell in line.cells:
                if len(cell.text.split()) > 10:
                    row_label = ""
                    continue
                amounts = self._amounts(cell.text)
                if not amounts:
                    row_label = f"{row_label} {cell.text}".strip()
                    continue
                for amount in amounts:
                    before = cell.text[: amount.start].strip()
                    after = cell.text[amount.end :].strip()
                    found.append((cell, amount, f"{row_label} {before} {after}".strip()))
            for position, (cell, amount, row) in enumerate(found):
                named = _name_amount(row, self._column_label(line, cell), several=len(found) > 1)
                if named is None:
                    continue
                field, score = named
                if len(found) > 1 and position < len(found) - 1 and field == "total":
                    score -= 0.3  # in a totals row, the total is the last amount
                score += 0.1 * line.index / count  # totals come late
                if amount.currency:
                    score += 0.05
                fields[field].append(_Candidate(amount.value, score, line, amount.currency))
        return fields

    def _totals(
        self, items: list[LineItem]
    ) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        fields = self._candidates()
        options: dict[str, list[_Candidate | None]] = {}
        for field, found in fields.items():
            top: dict[Decimal, _Candidate] = {}
            for candidate in sorted(found, key=lambda c: -c.score):
                if candidate.value >= 0 and candidate.value not in top:
                    top[candidate.value] = candidate
            options[field] = [*list(top.values())[:5], None]
        items_sum = _items_sum(items)
        chosen: tuple[_Candidate | None, _Candidate | None, _Candidate | None] = (
            None,
            None,
            None,
        )
        chosen_score = -1.0
        agreed = False
        for sub, tax, total in itertools.product(
            options["subtotal"], options["tax"], options["total"]
        ):
            score = sum(c.score for c in (sub, tax, total) if c is not None)
            holds = False
            if sub and total:
                if tax and sub.value + tax.value == total.value and tax.value != total.value:
                    score += 1.5
                    holds = True
                elif not tax and sub.value == total.value:
                    score += 0.3
                elif sub.value > total.value:
                    score -= 1.0
            matches_items = (sub is not None and sub.value == items_sum) or (
                sub is None and total is not None and total.value == items_sum
            )
            if items_sum is not None and matches_items:
                score += 0.5
            if tax and total and tax.value >= total.value and total.value > 0:
                score -= 1.0
            if score > chosen_score + 1e-9:
                chosen, chosen_score, agreed = (sub, tax, total), score, holds
        for name, picked in zip(("subtotal", "tax", "total"), chosen, strict=True):
            if picked is not None:
                base = min(0.95, 0.45 + 0.45 * picked.score)
                self.confidence[name] = round(min(0.99, base + (0.1 if agreed else 0.0)), 2)
        values = [c.value if c is not None else None for c in chosen]
        return values[0], values[1], values[2]

    # -- line items --------------------------------------------------------

    def _line_items(self) -> list[LineItem]:
        for page in self.doc.pages:
            for table in page.tables:
                from_table = self._items_from_table(table)
                if from_table:
                    return from_table
        items: list[LineItem] = []
        for page in self.doc.pages:
            for position, line in enumerate(page.lines):
                columns = _header_columns(line)
                if columns is not None:
                    items += self._items_below(page.lines, position, columns)
                    break
        return items

    def _items_below(
        self, lines: list[Line], header_at: int, columns: list[tuple[str, float, float]]
    ) -> list[LineItem]:
        items: list[LineItem] = []
        header = lines[header_at]
        desc_x0 = min((x0 for role, x0, _ in columns if role == "description"), default=0.0)
        money_role = "amount" if any(r == "amount" for r, *_ in columns) else "price"
        previous_bottom = header.bottom
        pitch = 0.0
        for line in lines[header_at + 1 :]:
            start = ENDS_ITEMS.at_start(line.text)
            if start is not None and items:
                break
            row = _assign(line.words, columns)
            money = find_amounts(row.get(money_role, ""), self.style)
            gap = line.top - previous_bottom
            if money and row.get("description"):
                quantity = find_amounts(row.get("quantity", ""), self.style)
                price = find_amounts(row.get("price", ""), self.style)
                items.append(
                    LineItem(
                        description=row["description"],
                        quantity=quantity[0].value if quantity else None,
                        unit_price=price[-1].value if price and money_role != "price" else None,
                        amount=money[-1].value,
                    )
                )
                self.item_lines.add(line.index)
                pitch = max(pitch, line.bottom - line.top)
            elif items and not money:
                limit = max(pitch * 1.6, 6.0)
                if gap > limit or line.x0 < desc_x0 - 10 or set(row) - {"description"}:
                    break
                items[-1].description += "\n" + row.get("description", "")
                self.item_lines.add(line.index)
            elif items:
                break
            previous_bottom = line.bottom
        return items

    def _items_from_table(self, rows: list[list[str | None]]) -> list[LineItem]:
        header = [fold(c or "") for c in rows[0]]
        roles: dict[str, int] = {}
        for position, text in enumerate(header):
            role = _role(text)
            if role and role not in roles:
                roles[role] = position
        if "description" not in roles or not ({"amount", "price"} & set(roles)):
            return []
        money = roles.get("amount", roles.get("price"))
        assert money is not None
        items = []
        for row in rows[1:]:
            cells = [(c or "").strip() for c in row]
            text = " ".join(cells)
            if ENDS_ITEMS.at_start(text):
                break
            amounts = find_amounts(cells[money], self.style) if money < len(cells) else []
            description = cells[roles["description"]].replace("\n", " ").strip()
            if not amounts or not description:
                continue

            def number(role: str, cells: list[str] = cells) -> Decimal | None:
                if role not in roles or roles[role] >= len(cells):
                    return None
                found = find_amounts(cells[roles[role]], self.style)
                return found[-1].value if found else None

            items.append(
                LineItem(
                    description=description,
                    quantity=number("quantity"),
                    unit_price=number("price") if "amount" in roles else None,
                    amount=amounts[-1].value,
                )
            )
        return items


def check_invoice(
    invoice: Invoice,
    confidence: dict[str, float],
    warnings: list[str],
    *,
    derived: Sequence[str] = (),
) -> list[Check]:
    """The arithmetic checks of an invoice's fields, whoever read them: a
    failed check adds a warning and lowers the confidence of its fields. A
    subtotal that was computed (``derived``) is not checked: it holds by
    construction."""
    checks: list[Check] = []
    items_sum = _items_sum(invoice.line_items)
    if items_sum is not None and "subtotal" not in derived:
        target_name, target = (
            ("subtotal", invoice.subtotal)
            if invoice.subtotal is not None
            else ("total", invoice.total if not invoice.tax else None)
        )
        if target is not None:
            check_sum(
                checks,
                warnings,
                confidence,
                name=f"line_items_sum_equals_{target_name}",
                printed=target,
                computed=items_sum,
                says=f"The line items add up to {items_sum}",
                but=f", but the {target_name} is {target}",
                fields=("line_items", target_name),
            )
    if invoice.subtotal is not None and invoice.total is not None and "subtotal" not in derived:
        tax = invoice.tax or Decimal(0)
        computed = invoice.subtotal + tax
        check_sum(
            checks,
            warnings,
            confidence,
            name="subtotal_plus_tax_equals_total",
            printed=invoice.total,
            computed=computed,
            says=f"Subtotal {invoice.subtotal} + tax {tax} = {computed}",
            but=f", but the total is {invoice.total}",
            fields=("subtotal", "tax", "total"),
        )
    for field in ("invoice_number", "issue_date", "total"):
        if getattr(invoice, field) is None:
            warnings.append(f"No {field.replace('_', ' ')} found.")
    if invoice.due_date and invoice.issue_date and invoice.due_date < invoice.issue_date:
        warnings.append("The due date is before the issue date.")
        lower_confidence(confidence, "due_date")
    return checks


def _role(text: str) -> str | None:
    for role, labels in (
        ("quantity", QUANTITY),
        ("price", PRICE),
        ("amount", LINE_AMOUNT),
        ("description", DESCRIPTION),
    ):
        if labels.at_start(text, within=0):
            return role
    return None


def _header_columns(line: Line) -> list[tuple[str, float, float]] | None:
    """The columns of a line-item header: (role, x0, x1) left to right; None
    when ``line`` is not such a header."""
    columns: list[tuple[str, float, float]] = []
    for word_group in _header_groups(line):
        text = " ".join(w.text for w in word_group)
        role = _role(text) or "other"
        columns.append((role, word_group[0].x0, word_group[-1].x1))
    roles = {role for role, *_ in columns}
    named = "description" in roles and len(roles & {"quantity", "price", "amount"}) >= 1
    if named and not any(
        find_amounts(" ".join(w.text for w in g), NumberStyle()) for g in _header_groups(line)
    ):
        return columns
    return None


def _header_groups(line: Line) -> list[list[Word]]:
    """A header's cells, with a cell that names two columns ("Menge
    Beschreibung") split into its words."""
    groups: list[list[Word]] = []
    for cell in line.cells:
        roles = [_role(w.text) for w in cell.words]
        if sum(1 for r in roles if r) >= 2:
            groups += [[w] for w in cell.words]
        else:
            groups.append(list(cell.words))
    return groups


def _assign(words: list[Word], columns: list[tuple[str, float, float]]) -> dict[str, str]:
    """The words of a row by column: each word goes to the column whose
    header it overlaps most, or the nearest one."""
    parts: dict[str, list[str]] = {}
    for word in words:
        best_role, best_score = "other", float("-inf")
        for role, x0, x1 in columns:
            overlap = min(word.x1, x1) - max(word.x0, x0)
            distance = 0.0 if overlap > 0 else min(abs(word.x0 - x1), abs(word.x1 - x0))
            score = overlap if overlap > 0 else -distance
            if score > best_score:
                best_role, best_score = role, score
        parts.setdefault(best_role, []).append(word.text)
    return {role: " ".join(texts) for role, texts in parts.items()}


def _name_amount(row: str, column: str, *, several: bool) -> tuple[str, float] | None:
    """Which total an amount is, from its row's and its column's labels."""
    row_field = _field_of(row)
    column_field = _field_of(column) if several else None
    if row_field and column_field and row_field[0] == "total" and column_field[0] != "total":
        # "Total facture | 24.99 | 5.00 | 29.99" under "Montant HT | Montant TVA | Montant
        # TTC": in a row of several amounts, the column says which is which
        return column_field[0], 0.9 * column_field[1]
    if row_field:
        return row_field
    if column_field:
        return column_field[0], 0.8 * column_field[1]
    return None


def _field_of(text: str) -> tuple[str, float] | None:
    if not text:
        return None
    folded = fold(text)
    if re.search(r"\b(incl|inkl|ttc|brutto)\b", folded):
        found = TOTAL.search(text)
        return ("total", found[0].weight if found else 0.8)
    for field, labels in (("subtotal", SUBTOTAL), ("tax", TAX), ("total", TOTAL)):
        found = labels.search(text)
        if found:
            return field, found[0].weight
    return None


_NOT_ADDRESS = re.compile(
    r"(?i)(\b(id|no|nr|number|date|datum|order|phone|tel|fax|e-?mail|invoice|facture|rechnung)\b"
    r"\s*[:.#]|\b(address|adresse)\b)"
)


def _address(cells: list[Cell]) -> list[str]:
    """The address lines among the cells under a name: up to the first one
    that is another field ("Order ID: ...")."""
    lines: list[str] = []
    for cell in cells:
        if _NOT_ADDRESS.search(cell.text):
            break
        lines.append(cell.text.strip(" ,"))
    return lines


def _items_sum(items: list[LineItem]) -> Decimal | None:
    amounts = [item.amount for item in items if item.amount is not None]
    return sum(amounts, Decimal(0)) if amounts else None


def _tax_id(text: str) -> str | None:
    match = re.search(r"([A-Z]{2})?[\s-]?([0-9A-Z][0-9A-Z\s.-]{5,20}[0-9A-Z])", text)
    if not match:
        return None
    value = match.group(0).strip()
    digits = sum(c.isdigit() for c in value)
    return re.sub(r"\s+", " ", value) if digits >= 6 else None


def _currency_code(text: str) -> str | None:
    return currency_in(text)


def read_invoice(doc: Document, *, locale: str = "auto") -> InvoiceExtraction:
    """The invoice fields of ``doc``, with confidence, checks and warnings."""
    return InvoiceReader(doc, locale=locale).read()
