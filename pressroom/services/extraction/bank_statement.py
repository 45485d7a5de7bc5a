"""Bank statement fields from a document's layout, by rules.

- account number (or IBAN), holder, bank, period, opening and closing
  balances: labels in several languages and the value next to or under them
  (``rules.find``). The account number is masked as soon as it is read: all
  but its last four characters are replaced, and the full number appears
  nowhere in the result (a description that repeats it is masked too).
- transactions: a header row that names a date column, a description column
  and either one amount column or a debit and a credit column (plus
  optionally a balance column). Each following row with a date and an
  amount is a transaction; a row with an amount but no date, right under
  another, takes that one's date (the date printed once per day); a text-only
  line right under a row, in its description column, continues it. A debit
  column's amounts are money out (negative). A single amount column's sign
  is the one printed (``-``, parentheses, ``DR``/``CR``), or else what the
  change in the running balance shows.
- checks: each printed balance equals the previous balance plus the
  transaction, and opening balance + all transactions = closing balance.
- categories (``categorize``): keyword rules over the description
  (``CATEGORY_RULES``, first match wins; money in with no match is
  ``income``, anything else ``other``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pressroom.services.extraction.checks import CENT, check_sum, lower_confidence
from pressroom.services.extraction.layout import Document, Line, Word
from pressroom.services.extraction.rules import Hit, Labels, best, clean_name, find, fold
from pressroom.services.extraction.schemas import (
    BankStatement,
    Check,
    StatementExtraction,
    Transaction,
)
from pressroom.services.extraction.values import (
    LOCALES,
    NumberStyle,
    currency_in,
    find_amounts,
    find_dates,
    guess_date_order,
    guess_style,
)

ACCOUNT = Labels(
    "account number", "account no", "account #", "acct no", "acct #", "account",
    "iban", "kontonummer", "konto-nr", "konto nr", "konto", "numero de compte",
    "n° de compte", "no de compte", "compte n°", "compte", "numero de cuenta", "cuenta",
    "numero di conto", "conto", "rekeningnummer", "rekening", "numero da conta", "conta",
)  # fmt: skip
HOLDER = Labels(
    "account holder", "account name", "account owner", "name", "customer name",
    "kontoinhaber", "inhaber", "titulaire du compte", "titulaire", "titular",
    "intestatario", "rekeninghouder", "tenedor",
)  # fmt: skip
PERIOD = Labels(
    "statement period", "period", "for the period", "statement from", "from",
    "zeitraum", "abrechnungszeitraum", "kontoauszug vom", "periode du", "période",
    "periodo", "du",
)  # fmt: skip
STATEMENT_DATE = Labels("statement date", "date of statement", "auszugsdatum", "date du releve")
OPENING = Labels(
    "opening balance", "previous balance", "balance brought forward", "brought forward",
    "beginning balance", "starting balance", "balance forward", "start balance",
    "alter kontostand", "alter saldo", "anfangssaldo", "saldo alt", "saldovortrag",
    "solde precedent", "ancien solde", "solde initial", "solde au", "saldo inicial",
    "saldo anterior", "saldo iniziale", "beginsaldo", "vorheriger saldo",
)  # fmt: skip
CLOSING = Labels(
    "closing balance", "new balance", "ending balance", "balance carried forward",
    "carried forward", "final balance", "end balance", "neuer kontostand", "neuer saldo",
    "endsaldo", "saldo neu", "nouveau solde", "solde final", "solde de cloture",
    "saldo final", "saldo finale", "eindsaldo",
)  # fmt: skip
BANK_WORDS = re.compile(
    r"\b(\w*bank|banque|banco|banca|\w*sparkasse|raiffeisen\w*|credit union|"
    r"building society|caisse|crédit|credit agricole|kreissparkasse|savings)\b",
    re.IGNORECASE,
)

# transaction table columns
DATE_COL = Labels(
    "date", "posting date", "transaction date", "value date", "datum", "buchungstag",
    "buchung", "valuta", "wert", "fecha", "data", "date operation", "date valeur",
)  # fmt: skip
DESC_COL = Labels(
    "description", "details", "transaction", "particulars", "narrative", "memo", "payee",
    "verwendungszweck", "buchungstext", "vorgang", "beschreibung", "text", "libelle",
    "operation", "nature de l'operation", "concepto", "descripcion", "descrizione",
    "omschrijving", "movimento", "referenz",
)  # fmt: skip
DEBIT_COL = Labels(
    "debit", "debits", "withdrawal", "withdrawals", "paid out", "money out", "payments",
    "soll", "lastschrift", "belastung", "ausgang", "debit eur", "cargo", "cargos",
    "addebiti", "uscite", "af", "retraits",
)  # fmt: skip
CREDIT_COL = Labels(
    "credit", "credits", "deposit", "deposits", "paid in", "money in", "receipts",
    "haben", "gutschrift", "eingang", "abono", "abonos", "accrediti", "entrate", "bij",
    "versements",
)  # fmt: skip
AMOUNT_COL = Labels(
    "amount", "betrag", "montant", "importe", "importo", "bedrag", "valor", "umsatz"
)
#: a row that sums the others, not a transaction
TOTALS = Labels(
    "total", "totals", "subtotal", "summe", "gesamt", "sous-total", "totaux", "totale", "totaal"
)  # fmt: skip
BALANCE_COL = Labels("balance", "saldo", "solde", "kontostand", "running balance")

#: category -> keywords (folded, whole words or word starts); first match wins
CATEGORY_RULES: list[tuple[str, tuple[str, ...]]] = [
    ("income", ("salary", "payroll", "wages", "gehalt", "lohn", "salaire", "nomina",
                "stipendio", "salaris", "pension", "dividend", "interest paid")),
    ("taxes", ("tax payment", "irs", "hmrc", "finanzamt", "impots", "dgfip", "agencia tributaria")),
    ("fees", ("fee", "fees", "charge", "charges", "gebuhr", "entgelt", "frais", "commission",
              "comision", "overdraft", "interest charged", "kontofuhrung")),
    ("cash", ("atm", "cash withdrawal", "geldautomat", "bargeld", "retrait", "cajero", "prelievo")),
    ("housing", ("rent", "miete", "loyer", "alquiler", "affitto", "huur", "mortgage", "hypothek")),
    ("utilities", ("electric", "electricity", "energy", "gas", "water", "utility", "internet",
                   "broadband", "mobile", "phone", "telekom", "vodafone", "orange", "strom",
                   "stadtwerke", "edf", "engie", "iberdrola", "enel", "o2", "verizon", "at&t",
                   "comcast")),
    ("insurance", ("insurance", "versicherung", "assurance", "seguro", "assicurazione",
                   "verzekering", "allianz", "axa")),
    ("groceries", ("grocery", "groceries", "supermarket", "supermarkt", "aldi", "lidl", "tesco",
                   "sainsbury", "carrefour", "rewe", "edeka", "walmart", "kroger", "mercadona",
                   "albert heijn", "whole foods", "costco", "leclerc", "auchan", "monoprix")),
    ("dining", ("restaurant", "cafe", "coffee", "starbucks", "mcdonald", "burger", "pizza",
                "bar", "bistro", "deliveroo", "uber eats", "just eat", "lieferando")),
    ("transport", ("uber", "lyft", "taxi", "fuel", "petrol", "shell", "esso", "aral",
                   "total energies", "train", "rail", "bahn", "db vertrieb", "sncf", "renfe",
                   "trenitalia",
                   "parking", "toll", "metro", "transit", "airline", "lufthansa", "ryanair")),
    ("subscriptions", ("netflix", "spotify", "disney", "apple.com", "itunes", "google storage",
                       "subscription", "abonnement", "abo")),
    ("health", ("pharmacy", "apotheke", "pharmacie", "farmacia", "doctor", "arzt", "dentist",
                "hospital", "clinic")),
    ("shopping", ("amazon", "ebay", "zalando", "ikea", "shop", "store", "mediamarkt", "fnac",
                  "paypal")),
    ("transfer", ("transfer", "uberweisung", "virement", "transferencia", "bonifico",
                  "overboeking", "standing order", "dauerauftrag", "sepa")),
]  # fmt: skip


def categorize(description: str, amount: Decimal) -> str:
    text = f" {fold(description)} "
    for category, words in CATEGORY_RULES:
        for word in words:
            if re.search(rf"(?<![a-z0-9]){re.escape(word.strip())}(?:s|en|n)?(?![a-z])", text):
                return category
    return "income" if amount > 0 else "other"


def mask_account(raw: str) -> tuple[str, str] | None:
    """``(masked, the characters that were masked)`` for an account number
    or IBAN; None when ``raw`` holds no such number."""
    match = re.search(r"[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?", raw)
    if match is None:
        match = re.search(r"\d[\d -]{4,30}\d", raw)
    if match is None:
        return None
    compact = re.sub(r"[\s-]", "", match.group(0))
    if sum(c.isdigit() for c in compact) < 5:
        return None
    return "*" * max(4, len(compact) - 4) + compact[-4:], compact


@dataclass
class _Column:
    role: str
    x0: float
    x1: float


class StatementReader:
    def __init__(self, doc: Document, *, locale: str = "auto", categorize: bool = True) -> None:
        self.doc = doc
        decimal_hint, order_hint = LOCALES.get(locale, (None, None))
        texts = doc.texts
        self.style: NumberStyle = guess_style(texts, hint=decimal_hint)
        self.order = guess_date_order(texts, hint=order_hint)
        self.categorize = categorize
        self.confidence: dict[str, float] = {}
        self.warnings: list[str] = []
        self.table_lines: set[int] = set()
        self.secret: str | None = None

    def _amount(self, text: str) -> Decimal | None:
        for found in find_dates(text, self.order):
            text = text[: found.start] + " " * (found.end - found.start) + text[found.end :]
        amounts = find_amounts(text, self.style)
        return amounts[-1].value if amounts else None

    def _set(self, field: str, hit: Hit[Any] | None) -> None:
        if hit is not None:
            self.confidence[field] = round(min(0.99, hit.confidence), 2)

    def read(self) -> StatementExtraction:
        statement = BankStatement()
        account = best(find(self.doc, ACCOUNT, mask_account))
        if account is not None:
            statement.account_number_masked, self.secret = account.value
            self._set("account_number_masked", account)
        holder = best(find(self.doc, HOLDER, self._holder, at_start=True))
        if holder is not None:
            statement.account_holder = holder.value
            self._set("account_holder", holder)
        statement.bank_name = self._bank()
        statement.currency = self._currency()
        transactions, opening_row = self._transactions()
        statement.transactions = transactions
        if transactions:
            self.confidence["transactions"] = 0.75
        statement.opening_balance = self._balance("opening_balance", OPENING)
        statement.closing_balance = self._balance("closing_balance", CLOSING)
        if statement.opening_balance is None and opening_row is not None:
            statement.opening_balance = opening_row
            self.confidence["opening_balance"] = 0.7
        self._period(statement)
        checks = self._checks(statement)
        summary = transaction_summary(transactions)
        extraction = StatementExtraction(
            pages=self.doc.page_count,
            number_format=self.style.name,
            date_order=self.order,
            statement=statement,
            confidence=dict(sorted(self.confidence.items())),
            checks=checks,
            warnings=self.warnings,
            summary=summary,
        )
        return self._scrub(extraction)

    def _scrub(self, extraction: StatementExtraction) -> StatementExtraction:
        """No string of the result may carry the full account number."""
        if not self.secret:
            return extraction
        secret = self.secret
        spaced = r"[\s-]?".join(re.escape(c) for c in secret)
        masked = "*" * (len(secret) - 4) + secret[-4:]
        for tx in extraction.statement.transactions:
            tx.description = re.sub(spaced, masked, tx.description)
        for field in ("account_holder", "bank_name"):
            value = getattr(extraction.statement, field)
            if value:
                setattr(extraction.statement, field, re.sub(spaced, masked, value))
        return extraction

    def _holder(self, text: str) -> str | None:
        text = clean_name(text)
        if len(text) < 3 or len(text) > 80 or sum(c.isdigit() for c in text) > 2:
            return None
        if re.search(r"(?i)\b(bank|statement|account|iban|period)\b", text):
            return None
        return text

    def _bank(self) -> str | None:
        if not self.doc.pages:
            return None
        page = self.doc.pages[0]
        for line in page.lines:
            if line.top > page.height * 0.35:
                break
            for cell in line.cells:
                if BANK_WORDS.search(cell.text) and len(cell.text) < 60:
                    if re.search(r"(?i)\b(statement|auszug|releve|extracto)\b", cell.text):
                        continue
                    self.confidence["bank_name"] = 0.7
                    return clean_name(cell.text)
        for line in reversed(self.doc.lines):
            for cell in line.cells:
                if BANK_WORDS.search(cell.text) and len(cell.text) < 60:
                    self.confidence["bank_name"] = 0.45
                    return clean_name(cell.text)
        return None

    def _currency(self) -> str | None:
        votes: dict[str, int] = {}
        for line in self.doc.lines:
            code = currency_in(line.text)
            if code:
                votes[code] = votes.get(code, 0) + 1
        if not votes:
            return None
        code = max(votes, key=lambda c: votes[c])
        self.confidence["currency"] = 0.85 if votes[code] > 1 else 0.65
        return code

    def _balance(self, field: str, labels: Labels) -> Decimal | None:
        hit = best(find(self.doc, labels, self._amount))
        if hit is None:
            return None
        self._set(field, hit)
        return hit.value

    def _period(self, statement: BankStatement) -> None:
        def two_dates(text: str) -> tuple[date, date] | None:
            found = find_dates(text, self.order)
            if len(found) >= 2 and found[0].value <= found[1].value:
                return found[0].value, found[1].value
            return None

        hit = best(
            h for h in find(self.doc, PERIOD, two_dates) if h.line.index not in self.table_lines
        )
        if hit is not None:
            statement.period_start, statement.period_end = hit.value
            self._set("period", hit)
            return
        dates = [t.date for t in statement.transactions if t.date]
        if dates:
            statement.period_start, statement.period_end = min(dates), max(dates)
            self.confidence["period"] = 0.4
            self.warnings.append("No statement period printed: the transactions' dates are used.")

    # -- transactions ----------------------------------------------------------

    def _header(self) -> tuple[Line, list[_Column]] | None:
        for line in self.doc.lines:
            columns = []
            for cell in line.cells:
                for group in _split(cell.words):
                    text = " ".join(w.text for w in group)
                    role = _column_role(text)
                    columns.append(_Column(role or "other", group[0].x0, group[-1].x1))
            roles = {c.role for c in columns}
            if (
                "date" in roles
                and ("description" in roles)
                and ("amount" in roles or {"debit", "credit"} <= roles or "debit" in roles)
            ):
                return line, columns
        return None

    def _transactions(self) -> tuple[list[Transaction], Decimal | None]:
        header = self._header()
        if header is None:
            self.warnings.append("No transaction table found.")
            return [], None
        header_line, columns = header
        desc_x0 = min((c.x0 for c in columns if c.role == "description"), default=0.0)
        rows: list[tuple[date | None, str, dict[str, str]]] = []
        opening_row: Decimal | None = None
        previous: Line | None = None  # the last line that belonged to the table
        for line in self.doc.lines:
            if line.index <= header_line.index:
                continue
            if _is_header_again(line, columns):
                previous = line
                continue
            parts = _assign(line.words, columns)
            date_text = parts.get("date", "")
            found = find_dates(date_text, self.order) or (
                find_dates(line.cells[0].text, self.order) if line.cells else []
            )
            money = {
                role: self._amount(parts.get(role, ""))
                for role in ("amount", "debit", "credit", "balance")
            }
            description = parts.get("description", "").strip()
            if CLOSING.at_start(fold(line.text)) or CLOSING.search(description):
                self.table_lines.add(line.index)
                continue
            if OPENING.search(line.text) and not any(
                money[r] is not None for r in ("amount", "debit", "credit")
            ):
                opening_row = money["balance"]
                self.table_lines.add(line.index)
                previous = line
                continue
            moves = any(money[r] is not None for r in ("amount", "debit", "credit"))
            close = (
                previous is not None
                and previous.page == line.page
                and line.top - previous.bottom <= 1.6 * max(4.0, previous.bottom - previous.top)
            )
            if found and moves:
                row_date: date | None = found[0].value
            elif rows and moves and close and description and not TOTALS.search(description):
                row_date = rows[-1][0]  # the date is printed once per day
            else:
                row_date = None
            if row_date is not None:
                kept = {k: str(v) for k, v in money.items() if v is not None}
                rows.append((row_date, description, kept))
            elif rows and description and not found and not moves and money["balance"] is None:
                # a description's second line: right under the row, in its column
                if not close or line.x0 < desc_x0 - 5 or len(description) > 120:
                    continue
                last = rows[-1]
                rows[-1] = (last[0], f"{last[1]} {description}".strip(), last[2])
            else:
                continue
            self.table_lines.add(line.index)
            previous = line
        return self._signed(rows, opening_row), opening_row

    def _signed(
        self,
        rows: list[tuple[date | None, str, dict[str, str]]],
        opening: Decimal | None,
    ) -> list[Transaction]:
        """Transactions with their sign: from the debit/credit column, from
        the printed sign, or from the change in the running balance."""
        transactions: list[Transaction] = []
        previous = opening if opening is not None else self._balance_hint()
        for when, description, money in rows:
            balance = Decimal(money["balance"]) if "balance" in money else None
            if "debit" in money or "credit" in money:
                debit = abs(Decimal(money.get("debit", "0")))
                credit = abs(Decimal(money.get("credit", "0")))
                amount = credit - debit
            elif "amount" in money:
                amount = Decimal(money["amount"])
                went_down = (
                    previous is not None
                    and balance is not None
                    and previous - amount == balance
                    and previous + amount != balance
                )
                if amount > 0 and went_down:
                    amount = -amount  # the balance went down by it: money out
            else:
                continue
            transactions.append(
                Transaction(
                    date=when,
                    description=description or "(no description)",
                    amount=amount,
                    balance=balance,
                    category=categorize(description, amount) if self.categorize else None,
                )
            )
            if balance is not None:
                previous = balance
            elif previous is not None:
                previous += amount
        return transactions

    def _balance_hint(self) -> Decimal | None:
        hit = best(find(self.doc, OPENING, self._amount))
        return hit.value if hit else None

    def _checks(self, statement: BankStatement) -> list[Check]:
        return check_statement(statement, self.confidence, self.warnings)


def check_statement(
    statement: BankStatement, confidence: dict[str, float], warnings: list[str]
) -> list[Check]:
    """The running-balance checks of a statement's fields, whoever read
    them: a failed check adds a warning and lowers the confidence."""
    checks: list[Check] = []
    txs = statement.transactions
    previous = statement.opening_balance
    broken: list[str] = []
    compared = 0
    for n, tx in enumerate(txs, 1):
        if tx.balance is not None and previous is not None:
            compared += 1
            if abs(previous + tx.amount - tx.balance) > CENT:
                broken.append(
                    f"row {n} ({tx.date or '?'} {tx.description[:30]}): "
                    f"{previous} + {tx.amount} = {previous + tx.amount}, printed {tx.balance}"
                )
        if tx.balance is not None:
            previous = tx.balance
        elif previous is not None:
            previous += tx.amount
    if compared:
        checks.append(
            Check(
                name="running_balance",
                passed=not broken,
                message=(
                    f"Each of the {compared} printed balances follows from the previous one."
                    if not broken
                    else f"{len(broken)} of {compared} printed balances do not follow: "
                    + "; ".join(broken[:5])
                ),
            )
        )
        if broken:
            warnings.append(
                f"The running balance breaks at {len(broken)} row(s): " + "; ".join(broken[:3])
            )
            lower_confidence(confidence, "transactions")
    if statement.opening_balance is not None and statement.closing_balance is not None:
        computed = statement.opening_balance + sum((t.amount for t in txs), Decimal(0))
        check_sum(
            checks,
            warnings,
            confidence,
            name="opening_plus_transactions_equals_closing",
            printed=statement.closing_balance,
            computed=computed,
            says=f"Opening balance {statement.opening_balance} + transactions = {computed}",
            but=f", but the closing balance is {statement.closing_balance}",
            fields=("opening_balance", "closing_balance", "transactions"),
        )
    for field in ("account_number_masked", "opening_balance", "closing_balance"):
        if getattr(statement, field) is None:
            warnings.append(f"No {field.replace('_', ' ').replace(' masked', '')} found.")
    return checks


def _column_role(text: str) -> str | None:
    folded = fold(text).strip(" :")
    for role, labels in (
        ("balance", BALANCE_COL),
        ("debit", DEBIT_COL),
        ("credit", CREDIT_COL),
        ("amount", AMOUNT_COL),
        ("date", DATE_COL),
        ("description", DESC_COL),
    ):
        found = labels.at_start(folded, within=0)
        if found is not None and found[2] >= len(folded) - 6:
            return role
    return None


def _split(words: list[Word]) -> list[list[Word]]:
    """A header cell, split into words when its words name different columns."""
    roles = [_column_role(w.text) for w in words]
    if sum(1 for r in roles if r) >= 2:
        return [[w] for w in words]
    return [words]


def _is_header_again(line: Line, columns: list[_Column]) -> bool:
    roles = {_column_role(c.text) for c in line.cells} - {None}
    return len(roles) >= 3


NUMERIC = frozenset({"amount", "debit", "credit", "balance"})
_NUMBER_WORD = re.compile(r"^[-(\u2212]?[^\w\s]?\d[\d.,'\u00a0]*[)-]?(?:CR|DR|Cr|Dr)?$")


def _assign(words: list[Word], columns: list[_Column]) -> dict[str, str]:
    """A row's words by column. Numbers are right-aligned: a number whose
    right edge is near a number column's (or inside its header) is that
    column's. Other words are left-aligned: they belong to the last text
    column starting at or before them, so a description keeps its words
    however far right it runs."""
    numeric = [c for c in columns if c.role in NUMERIC]
    text = sorted((c for c in columns if c.role not in NUMERIC), key=lambda c: c.x0)
    parts: dict[str, list[str]] = {}
    for word in words:
        chosen: str | None = None
        if _NUMBER_WORD.match(word.text) and numeric:
            near = min(numeric, key=lambda c: abs(word.x1 - c.x1))
            if abs(word.x1 - near.x1) <= 15 or min(word.x1, near.x1) - max(word.x0, near.x0) > 0:
                chosen = near.role
        if chosen is None:
            starting = [c for c in text if c.x0 <= word.x0 + 2]
            chosen = (starting[-1] if starting else text[0]).role if text else "other"
        parts.setdefault(chosen, []).append(word.text)
    return {role: " ".join(texts) for role, texts in parts.items()}


def transaction_summary(transactions: list[Transaction]) -> dict[str, object]:
    credits = sum((t.amount for t in transactions if t.amount > 0), Decimal(0))
    debits = sum((t.amount for t in transactions if t.amount < 0), Decimal(0))
    by_category: dict[str, float] = {}
    for t in transactions:
        if t.category:
            by_category[t.category] = float(Decimal(str(by_category.get(t.category, 0))) + t.amount)
    return {
        "transactions": len(transactions),
        "total_credits": float(credits),
        "total_debits": float(debits),
        "net_change": float(credits + debits),
        "by_category": by_category,
    }


def read_statement(
    doc: Document, *, locale: str = "auto", categorize: bool = True
) -> StatementExtraction:
    """The statement fields of ``doc``, with confidence, checks and warnings."""
    return StatementReader(doc, locale=locale, categorize=categorize).read()
