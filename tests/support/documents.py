"""Invoices and bank statements drawn with reportlab, in the layouts real
ones use, from data the tests know: so each extraction has a known answer.

- ``us_invoice``: English, US number and date format, a ruled items table,
  totals block at the bottom right, the vendor in the letterhead.
- ``german_invoice``: German labels, 1.234,56 and 15.03.2024, no rules
  around the items, the items table's header split over two words.
- ``french_invoice``: French labels, labels above their values, a totals
  table with HT / TVA / TTC columns.
- ``bad_totals_invoice``: English; the printed total is not subtotal + tax.
- ``english_statement``: one signed amount column and a balance column.
- ``german_statement``: Soll / Haben columns, an IBAN, 1.234,56.
- ``uk_statement``: two pages, "Paid out" / "Paid in", the date once per
  day, a reference line under each row, a footer on each page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.pdfgen.canvas import Canvas


def money(value: Decimal, style: str = "us") -> str:
    text = f"{value:,.2f}"
    if style == "eu":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


@dataclass
class Item:
    description: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class InvoiceData:
    number: str
    issue: str  # ISO
    due: str
    vendor: str
    customer: str
    currency: str
    items: list[Item]
    tax_rate: Decimal
    printed_total: Decimal | None = None  # set to print a wrong total
    customer_address: list[str] = field(default_factory=list)
    sign: str = "$"

    @property
    def subtotal(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return (self.subtotal * self.tax_rate).quantize(Decimal("0.01"))

    @property
    def total(self) -> Decimal:
        return self.printed_total if self.printed_total is not None else self.subtotal + self.tax


def _us_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{m}/{d}/{y}"


def _eu_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}.{m}.{y}"


US_INVOICE = InvoiceData(
    number="INV-2024-0042",
    issue="2024-03-15",
    due="2024-04-14",
    vendor="Acme Widgets Inc.",
    customer="Globex Corporation",
    currency="USD",
    items=[
        Item("Widget, large (blue)", 12, Decimal("149.50")),
        Item("Installation service", 3, Decimal("1200.00")),
        Item("Extended warranty, 2 years", 1, Decimal("315.25")),
    ],
    tax_rate=Decimal("0.0825"),
    customer_address=["742 Evergreen Terrace", "Springfield, OR 97477"],
)

GERMAN_INVOICE = InvoiceData(
    number="RE-2024-1187",
    issue="2024-03-15",
    due="2024-03-29",
    vendor="Müller Bürotechnik GmbH",
    customer="Schneider & Partner KG",
    currency="EUR",
    items=[
        Item("Laserdrucker HL-4150", 2, Decimal("1249.00")),
        Item("Tonerkartusche schwarz", 10, Decimal("89.90")),
        Item("Einrichtung vor Ort", 4, Decimal("95.00")),
    ],
    tax_rate=Decimal("0.19"),
    customer_address=["Hauptstraße 12", "80331 München"],
)

FRENCH_INVOICE = InvoiceData(
    number="F-2024-017",
    issue="2024-02-05",
    due="2024-03-06",
    vendor="Atelier Lumière SARL",
    customer="Boulangerie Dupont",
    currency="EUR",
    items=[
        Item("Création du logo", 1, Decimal("1800.00")),
        Item("Cartes de visite (500)", 2, Decimal("64.50")),
    ],
    tax_rate=Decimal("0.20"),
    customer_address=["8 rue des Lilas", "69003 Lyon"],
)

BAD_TOTALS_INVOICE = InvoiceData(
    number="2024-118",
    issue="2024-05-02",
    due="2024-06-01",
    vendor="Northwind Traders Ltd",
    customer="Contoso Pharmaceuticals",
    currency="GBP",
    items=[Item("Consulting, May", 10, Decimal("100.00")), Item("Travel", 1, Decimal("250.00"))],
    tax_rate=Decimal("0.20"),
    printed_total=Decimal("1600.00"),  # 1250 + 250 = 1500 would be right
    sign="£",
)


def us_invoice(path: Path, data: InvoiceData = US_INVOICE) -> Path:
    c = Canvas(str(path), pagesize=LETTER)
    width, height = LETTER
    c.setFont("Helvetica-Bold", 16)
    c.drawString(50, height - 60, data.vendor)
    c.setFont("Helvetica", 9)
    c.drawString(50, height - 75, "1200 Industrial Way, Portland, OR 97201")
    c.setFont("Helvetica-Bold", 22)
    c.drawRightString(width - 50, height - 60, "INVOICE")
    c.setFont("Helvetica", 10)
    rows = [
        ("Invoice Number:", data.number),
        ("Invoice Date:", _us_date(data.issue)),
        ("Due Date:", _us_date(data.due)),
    ]
    for n, (label, value) in enumerate(rows):
        y = height - 100 - 15 * n
        c.drawString(360, y, label)
        c.drawRightString(width - 50, y, value)
    c.setFont("Helvetica-Bold", 10)
    c.drawString(50, height - 130, "Bill To:")
    c.setFont("Helvetica", 10)
    for n, text in enumerate([data.customer, *data.customer_address]):
        c.drawString(50, height - 145 - 13 * n, text)
    # a ruled items table
    top = height - 230
    cols = [50, 330, 400, 480, width - 50]
    c.setFont("Helvetica-Bold", 10)
    c.drawString(cols[0] + 4, top - 14, "Description")
    c.drawRightString(cols[2] - 4, top - 14, "Qty")
    c.drawRightString(cols[3] - 4, top - 14, "Unit Price")
    c.drawRightString(cols[4] - 4, top - 14, "Amount")
    c.setFont("Helvetica", 10)
    y = top - 20
    for item in data.items:
        y -= 20
        c.drawString(cols[0] + 4, y + 6, item.description)
        c.drawRightString(cols[2] - 4, y + 6, str(item.quantity))
        c.drawRightString(cols[3] - 4, y + 6, money(item.unit_price))
        c.drawRightString(cols[4] - 4, y + 6, money(item.amount))
    bottom = y
    c.setLineWidth(0.6)
    for x in (cols[0], cols[1], cols[2], cols[3], cols[4]):
        c.line(x, top, x, bottom)
    for yy in [top, top - 20, *[top - 20 - 20 * (n + 1) for n in range(len(data.items))]]:
        c.line(cols[0], yy, cols[4], yy)
    y = bottom - 30
    c.setFont("Helvetica", 10)
    for label, value in (
        ("Subtotal", data.subtotal),
        (f"Sales Tax ({data.tax_rate * 100:.2f}%)", data.tax),
    ):
        c.drawString(380, y, label)
        c.drawRightString(width - 50, y, data.sign + money(value))
        y -= 16
    c.setFont("Helvetica-Bold", 11)
    c.drawString(380, y, "Total Due")
    c.drawRightString(width - 50, y, data.sign + money(data.total))
    c.setFont("Helvetica", 8)
    c.drawString(50, 60, "Payment terms: Net 30. Please make checks payable to " + data.vendor)
    c.save()
    return path


def german_invoice(path: Path, data: InvoiceData = GERMAN_INVOICE) -> Path:
    c = Canvas(str(path), pagesize=A4)
    width, height = A4
    c.setFont("Helvetica", 8)
    c.drawString(60, height - 120, f"{data.vendor} - Industriestraße 5 - 70565 Stuttgart")
    c.setFont("Helvetica", 10)
    for n, text in enumerate([data.customer, *data.customer_address]):
        c.drawString(60, height - 150 - 13 * n, text)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(60, height - 250, "Rechnung")
    c.setFont("Helvetica", 10)
    rows = [
        ("Rechnungsnummer", data.number),
        ("Rechnungsdatum", _eu_date(data.issue)),
        ("Fällig am", _eu_date(data.due)),
        ("Kundennummer", "K-20931"),
    ]
    for n, (label, value) in enumerate(rows):
        c.drawString(360, height - 120 - 14 * n, label)
        c.drawString(460, height - 120 - 14 * n, value)
    y = height - 300
    c.setFont("Helvetica-Bold", 9)
    c.drawString(60, y, "Pos.")
    c.drawString(95, y, "Menge Bezeichnung")
    c.drawRightString(440, y, "Einzelpreis")
    c.drawRightString(width - 60, y, "Gesamtpreis")
    c.setFont("Helvetica", 9)
    for n, item in enumerate(data.items, 1):
        y -= 28
        c.drawString(60, y, str(n))
        c.drawString(95, y, str(item.quantity))
        c.drawString(125, y, item.description)
        c.drawRightString(440, y, money(item.unit_price, "eu"))
        c.drawRightString(width - 60, y, money(item.amount, "eu"))
        c.drawString(125, y - 11, f"Art.-Nr. {1000 + n * 7}")
    y -= 40
    for label, value in (
        ("Zwischensumme", data.subtotal),
        (f"MwSt. {data.tax_rate * 100:.0f} %", data.tax),
        ("Gesamtbetrag EUR", data.total),
    ):
        c.drawString(340, y, label)
        c.drawRightString(width - 60, y, money(value, "eu"))
        y -= 15
    c.setFont("Helvetica", 8)
    c.drawString(60, 80, f"{data.vendor} | USt-IdNr. DE 123 456 789 | Amtsgericht Stuttgart")
    c.drawString(60, 70, "IBAN DE02 6005 0101 0002 0343 04 | BIC SOLADEST600")
    c.save()
    return path


def french_invoice(path: Path, data: InvoiceData = FRENCH_INVOICE) -> Path:
    c = Canvas(str(path), pagesize=A4)
    width, height = A4
    c.setFont("Helvetica-Bold", 15)
    c.drawString(50, height - 60, data.vendor)
    c.setFont("Helvetica", 9)
    c.drawString(50, height - 74, "12 quai Saint-Vincent, 69001 Lyon")
    c.setFont("Helvetica-Bold", 18)
    c.drawString(50, height - 120, f"Facture n° {data.number}")
    # labels above their values
    c.setFont("Helvetica", 8)
    labels = [("Date d'émission", _eu_date(data.issue).replace(".", "/")),
              ("Date d'échéance", _eu_date(data.due).replace(".", "/"))]  # fmt: skip
    for n, (label, value) in enumerate(labels):
        c.setFont("Helvetica", 8)
        c.drawString(50 + 150 * n, height - 150, label)
        c.setFont("Helvetica", 11)
        c.drawString(50 + 150 * n, height - 163, value)
    c.setFont("Helvetica", 8)
    c.drawString(360, height - 150, "Facturé à")
    c.setFont("Helvetica", 10)
    for n, text in enumerate([data.customer, *data.customer_address]):
        c.drawString(360, height - 163 - 13 * n, text)
    y = height - 240
    c.setFont("Helvetica-Bold", 9)
    c.drawString(50, y, "Désignation")
    c.drawRightString(330, y, "Quantité")
    c.drawRightString(430, y, "Prix unitaire HT")
    c.drawRightString(width - 50, y, "Montant HT")
    c.setFont("Helvetica", 9)
    for item in data.items:
        y -= 18
        c.drawString(50, y, item.description)
        c.drawRightString(330, y, str(item.quantity))
        c.drawRightString(430, y, money(item.unit_price, "eu").replace(".", " "))
        c.drawRightString(width - 50, y, money(item.amount, "eu").replace(".", " "))
    y -= 50
    c.setFont("Helvetica-Bold", 9)
    c.drawRightString(330, y, "Total HT")
    c.drawRightString(430, y, "TVA 20 %")
    c.drawRightString(width - 50, y, "Total TTC")
    c.setFont("Helvetica", 10)
    y -= 16
    c.drawRightString(330, y, money(data.subtotal, "eu").replace(".", " ") + " €")
    c.drawRightString(430, y, money(data.tax, "eu").replace(".", " ") + " €")
    c.drawRightString(width - 50, y, money(data.total, "eu").replace(".", " ") + " €")
    c.setFont("Helvetica", 7)
    c.drawString(50, 60, f"{data.vendor} au capital de 5 000 € - SIRET 123 456 789 00012")
    c.drawString(50, 50, "N° de TVA intracommunautaire : FR 12 345678901")
    c.save()
    return path


def bad_totals_invoice(path: Path) -> Path:
    return us_invoice(path, BAD_TOTALS_INVOICE)


# --- bank statements --------------------------------------------------------


@dataclass
class Tx:
    date: str  # ISO
    description: str
    amount: Decimal  # signed


@dataclass
class StatementData:
    bank: str
    holder: str
    account: str
    period: tuple[str, str]
    opening: Decimal
    transactions: list[Tx]
    currency: str
    broken_row: int | None = None  # print a wrong balance on this row (0-based)

    def balances(self) -> list[Decimal]:
        out, running = [], self.opening
        for tx in self.transactions:
            running += tx.amount
            out.append(running)
        return out

    @property
    def closing(self) -> Decimal:
        return self.balances()[-1] if self.transactions else self.opening


ENGLISH_STATEMENT = StatementData(
    bank="First Harbor Bank",
    holder="Jane Q. Doe",
    account="4432 0098 1234 5678",
    period=("2024-01-01", "2024-01-31"),
    opening=Decimal("2450.10"),
    currency="USD",
    transactions=[
        Tx("2024-01-02", "PAYROLL ACME WIDGETS INC", Decimal("3200.00")),
        Tx("2024-01-03", "RENT JANUARY - OAK STREET APTS", Decimal("-1450.00")),
        Tx("2024-01-05", "WHOLE FOODS MARKET #123", Decimal("-86.42")),
        Tx("2024-01-09", "SHELL OIL 5744 PORTLAND", Decimal("-48.10")),
        Tx("2024-01-15", "NETFLIX.COM SUBSCRIPTION", Decimal("-15.49")),
        Tx("2024-01-22", "ATM CASH WITHDRAWAL 0922", Decimal("-200.00")),
        Tx("2024-01-30", "MONTHLY SERVICE FEE", Decimal("-12.00")),
    ],
)

GERMAN_STATEMENT = StatementData(
    bank="Musterbank AG",
    holder="Max Mustermann",
    account="DE89 3704 0044 0532 0130 00",
    period=("2024-02-01", "2024-02-29"),
    opening=Decimal("1234.56"),
    currency="EUR",
    transactions=[
        Tx("2024-02-01", "Gehalt Februar Beispiel GmbH", Decimal("2980.00")),
        Tx("2024-02-03", "Miete Februar Hausverwaltung", Decimal("-1100.00")),
        Tx("2024-02-07", "REWE Markt Köln", Decimal("-64.35")),
        Tx("2024-02-12", "Stadtwerke Strom Abschlag", Decimal("-78.00")),
        Tx("2024-02-20", "Überweisung an Erika Muster", Decimal("-250.00")),
    ],
)


def english_statement(path: Path, data: StatementData = ENGLISH_STATEMENT) -> Path:
    c = Canvas(str(path), pagesize=LETTER)
    width, height = LETTER
    c.setFont("Helvetica-Bold", 16)
    c.drawString(50, height - 55, data.bank)
    c.setFont("Helvetica", 9)
    c.drawString(50, height - 68, "PO Box 100, Seattle, WA 98101")
    c.setFont("Helvetica-Bold", 13)
    c.drawRightString(width - 50, height - 55, "Account Statement")
    c.setFont("Helvetica", 10)
    p0, p1 = data.period
    rows = [
        ("Account Holder:", data.holder),
        ("Account Number:", data.account),
        ("Statement Period:", f"{_us_date(p0)} to {_us_date(p1)}"),
    ]
    for n, (label, value) in enumerate(rows):
        c.drawString(50, height - 110 - 15 * n, label)
        c.drawString(160, height - 110 - 15 * n, value)
    c.drawString(360, height - 110, "Opening Balance")
    c.drawRightString(width - 50, height - 110, "$" + money(data.opening))
    c.drawString(360, height - 125, "Closing Balance")
    c.drawRightString(width - 50, height - 125, "$" + money(data.closing))
    y = height - 190
    c.setFont("Helvetica-Bold", 9)
    c.drawString(50, y, "Date")
    c.drawString(120, y, "Description")
    c.drawRightString(460, y, "Amount")
    c.drawRightString(width - 50, y, "Balance")
    c.setFont("Helvetica", 9)
    balances = data.balances()
    for n, (tx, balance) in enumerate(zip(data.transactions, balances, strict=True)):
        y -= 16
        if n == data.broken_row:
            balance += Decimal("100.00")
        c.drawString(50, y, _us_date(tx.date))
        c.drawString(120, y, tx.description)
        sign = "-" if tx.amount < 0 else ""
        c.drawRightString(460, y, sign + money(abs(tx.amount)))
        c.drawRightString(width - 50, y, money(balance))
    c.save()
    return path


def german_statement(path: Path, data: StatementData = GERMAN_STATEMENT) -> Path:
    c = Canvas(str(path), pagesize=A4)
    width, height = A4
    c.setFont("Helvetica-Bold", 15)
    c.drawString(50, height - 55, data.bank)
    c.setFont("Helvetica-Bold", 12)
    c.drawString(50, height - 90, "Kontoauszug")
    c.setFont("Helvetica", 10)
    p0, p1 = data.period
    rows = [
        ("Kontoinhaber", data.holder),
        ("IBAN", data.account),
        ("Zeitraum", f"{_eu_date(p0)} - {_eu_date(p1)}"),
    ]
    for n, (label, value) in enumerate(rows):
        c.drawString(50, height - 115 - 14 * n, label)
        c.drawString(150, height - 115 - 14 * n, value)
    y = height - 190
    c.setFont("Helvetica-Bold", 9)
    c.drawString(50, y, "Buchungstag")
    c.drawString(125, y, "Verwendungszweck")
    c.drawRightString(400, y, "Soll")
    c.drawRightString(470, y, "Haben")
    c.drawRightString(width - 50, y, "Saldo")
    c.setFont("Helvetica", 9)
    y -= 18
    c.drawString(125, y, "Alter Kontostand")
    c.drawRightString(width - 50, y, money(data.opening, "eu"))
    for tx, balance in zip(data.transactions, data.balances(), strict=True):
        y -= 16
        c.drawString(50, y, _eu_date(tx.date))
        c.drawString(125, y, tx.description)
        column = 400 if tx.amount < 0 else 470
        c.drawRightString(column, y, money(abs(tx.amount), "eu"))
        c.drawRightString(width - 50, y, money(balance, "eu"))
    y -= 22
    c.drawString(125, y, "Neuer Kontostand")
    c.drawRightString(width - 50, y, money(data.closing, "eu") + " EUR")
    c.save()
    return path


UK_STATEMENT = StatementData(
    bank="Thamesbridge Building Society",
    holder="Mr Arthur Dent",
    account="20-45-77 41234567",
    period=("2024-03-01", "2024-03-31"),
    opening=Decimal("812.40"),
    currency="GBP",
    transactions=[
        Tx("2024-03-01", "TESCO STORES 2231 CAMBRIDGE", Decimal("-42.18")),
        Tx("2024-03-01", "DIRECT DEBIT BRITISH GAS", Decimal("-65.00")),
        Tx("2024-03-04", "BANK TRANSFER FROM F PREFECT", Decimal("150.00")),
        *[
            Tx(f"2024-03-{day:02d}", f"CARD PAYMENT COSTA COFFEE {day}", Decimal("-3.45"))
            for day in range(5, 29)
        ],
        Tx("2024-03-28", "SALARY MEGADODO PUBLICATIONS", Decimal("2410.00")),
    ],
)


def _uk_date(iso: str) -> str:
    y, m, d = iso.split("-")
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return f"{d} {months[int(m) - 1]} {y}"


def uk_statement(path: Path, data: StatementData = UK_STATEMENT) -> Path:
    """Two pages; 'Paid out' / 'Paid in' columns; the date printed once per
    day; each description's reference on a second line; a footer on every
    page; 'Balance brought forward' and 'carried forward' rows."""
    c = Canvas(str(path), pagesize=A4)
    width, height = A4
    p0, p1 = data.period

    def header(first: bool) -> float:
        c.setFont("Helvetica-Bold", 14)
        c.drawString(50, height - 50, data.bank)
        c.setFont("Helvetica", 9)
        if first:
            c.drawString(50, height - 80, data.holder)
            c.drawString(50, height - 92, "42 Islington Green, London N1 8DU")
            c.drawString(330, height - 80, "Sort code and account number")
            c.drawString(330, height - 92, data.account)
            c.drawString(330, height - 108, f"Statement period {_uk_date(p0)} to {_uk_date(p1)}")
        y = height - 140
        c.setFont("Helvetica-Bold", 9)
        c.drawString(50, y, "Date")
        c.drawString(120, y, "Details")
        c.drawRightString(400, y, "Paid out")
        c.drawRightString(470, y, "Paid in")
        c.drawRightString(width - 50, y, "Balance")
        c.setFont("Helvetica", 9)
        return y

    def footer(page: int) -> None:
        c.setFont("Helvetica", 7)
        c.drawString(50, 40, f"{data.bank} is authorised by the PRA. Page {page}")
        c.drawString(50, 31, "Please check this statement; tell us of any entry you do not know.")

    y = header(True) - 16
    c.drawString(120, y, "Balance brought forward")
    c.drawRightString(width - 50, y, money(data.opening))
    page, last_date = 1, None
    for n, (tx, balance) in enumerate(zip(data.transactions, data.balances(), strict=True)):
        if y < 120:
            footer(page)
            c.showPage()
            page += 1
            y = header(False)
            last_date = None
        y -= 14
        if tx.date != last_date:
            c.drawString(50, y, _uk_date(tx.date))
            last_date = tx.date
        c.drawString(120, y, tx.description)
        column = 400 if tx.amount < 0 else 470
        c.drawRightString(column, y, money(abs(tx.amount)))
        c.drawRightString(width - 50, y, money(balance))
        y -= 11
        c.drawString(120, y, f"REF {900100 + n}")
    y -= 16
    c.drawString(120, y, "Balance carried forward")
    c.drawRightString(width - 50, y, money(data.closing))
    footer(page)
    c.save()
    return path
