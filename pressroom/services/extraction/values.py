"""Reading amounts, dates and currencies the way they are printed in
different countries.

Amounts: ``1,234.56`` and ``1.234,56`` and ``1 234,56`` and ``1'234.56``; a
sign as ``-12.00``, ``12.00-``, ``(12.00)`` or ``12.00 DR``. A number whose
separators say nothing by themselves (``1.234``) follows the document's
convention, which is guessed from the numbers that do say (``NumberStyle``)
or given by the request's ``locale``.

Dates: ISO (``2024-03-01``), numeric in the locale's order
(``01/03/2024`` is 1 March in Europe, 3 January in the US; a day above 12
settles it), and written out with month names in English, German, French,
Spanish, Italian, Dutch and Portuguese (``7. Mai 2014``, ``August 3, 2014``,
``02 Juillet 2015``, ``3-Aug-14``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

#: locale tag -> (decimal separator, date order of numeric dates)
LOCALES: dict[str, tuple[str, str]] = {
    "en-US": (".", "MDY"),
    "en-GB": (".", "DMY"),
    "en-IN": (".", "DMY"),
    "en-AU": (".", "DMY"),
    "en-CA": (".", "DMY"),
    "de-DE": (",", "DMY"),
    "de-AT": (",", "DMY"),
    "de-CH": (".", "DMY"),
    "fr-FR": (",", "DMY"),
    "fr-CH": (".", "DMY"),
    "es-ES": (",", "DMY"),
    "it-IT": (",", "DMY"),
    "nl-NL": (",", "DMY"),
    "pt-PT": (",", "DMY"),
    "pt-BR": (",", "DMY"),
    "pl-PL": (",", "DMY"),
}

_MONTHS: dict[int, tuple[str, ...]] = {
    1: (
        "january",
        "jan",
        "januar",
        "jänner",
        "janvier",
        "janv",
        "enero",
        "ene",
        "gennaio",
        "gen",
        "januari",
        "janeiro",
    ),
    2: (
        "february",
        "feb",
        "februar",
        "février",
        "fevrier",
        "févr",
        "fevr",
        "febrero",
        "febbraio",
        "februari",
        "fevereiro",
        "fev",
    ),
    3: ("march", "mar", "märz", "maerz", "mär", "mars", "marzo", "maart", "mrt", "março", "marco"),
    4: ("april", "apr", "avril", "avr", "abril", "abr", "aprile"),
    5: ("may", "mai", "mayo", "maggio", "mag", "mei", "maio"),
    6: ("june", "jun", "juni", "juin", "junio", "giugno", "giu", "junho"),
    7: ("july", "jul", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho"),
    8: ("august", "aug", "août", "aout", "agosto", "ago", "augustus"),
    9: ("september", "sep", "sept", "septembre", "septiembre", "settembre", "set", "setembro"),
    10: (
        "october",
        "oct",
        "oktober",
        "okt",
        "octobre",
        "octubre",
        "ottobre",
        "ott",
        "outubro",
        "out",
    ),
    11: ("november", "nov", "novembre", "noviembre", "novembro"),
    12: (
        "december",
        "dec",
        "dezember",
        "dez",
        "décembre",
        "decembre",
        "déc",
        "diciembre",
        "dic",
        "dicembre",
        "dezembro",
    ),
}
MONTHS: dict[str, int] = {name: number for number, names in _MONTHS.items() for name in names}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))

#: currency signs and words -> ISO 4217 code ("$" alone is taken as USD)
CURRENCY_SIGNS: dict[str, str] = {
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "¥": "JPY",
    "$": "USD",
    "us$": "USD",
    "rs": "INR",
    "rs.": "INR",
    "chf": "CHF",
    "fr.": "CHF",
    "zł": "PLN",
    "r$": "BRL",
    "a$": "AUD",
    "c$": "CAD",
    "euro": "EUR",
    "euros": "EUR",
    "us dollars": "USD",
    "dollars": "USD",
    "rupees": "INR",
}
CURRENCY_CODES = frozenset(
    {"EUR", "USD", "GBP", "INR", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK",
     "PLN", "CZK", "HUF", "BRL", "MXN", "CNY", "HKD", "SGD", "ZAR", "TRY", "RUB", "AED"}
)  # fmt: skip

_MONEY_SIGN = r"(?:[€£₹¥$]|US\$|R\$|A\$|C\$|Rs\.?|CHF|EUR|USD|GBP|INR|zł)"
#: one amount as printed: optional sign/currency around digits with separators
AMOUNT_RE = re.compile(
    rf"""(?<![\w.,/-])
    (?P<neg1>[-\u2212(])?\s?
    (?:{_MONEY_SIGN}\s?)?
    (?P<neg2>[-\u2212])?
    (?P<num>\d{{1,3}}(?:[.,'\u2019\u00a0\u202f]\d{{3}})+(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?)
    (?:\s?{_MONEY_SIGN})?
    (?P<neg3>\)|-(?!\d)|\s?(?:DR|Dr|CR|Cr)\b)?
    (?![\w.,/]*\d)(?!\s?%)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class NumberStyle:
    """The document's decimal separator: ``.`` or ``,``."""

    decimal: str = "."

    @property
    def name(self) -> str:
        return "1,234.56" if self.decimal == "." else "1.234,56"


def guess_style(texts: list[str], *, hint: str | None = None) -> NumberStyle:
    """The decimal separator most numbers in ``texts`` show unambiguously
    (``hint``, from the locale, wins when given)."""
    if hint in (".", ","):
        return NumberStyle(hint)
    dot = comma = 0
    for text in texts:
        for token in re.findall(r"\d[\d.,'\u00a0 ]*\d", text):
            last_dot, last_comma = token.rfind("."), token.rfind(",")
            if last_dot >= 0 and last_comma >= 0:
                if last_dot > last_comma:
                    dot += 2
                else:
                    comma += 2
            elif re.fullmatch(r"\d+,\d{2}", token):
                comma += 1
            elif re.fullmatch(r"\d+\.\d{2}", token):
                dot += 1
    return NumberStyle("," if comma > dot else ".")


def parse_number(raw: str, style: NumberStyle = NumberStyle()) -> Decimal | None:
    """The decimal value of a number's digits and separators (no sign, no currency)."""
    text = raw.strip().replace("\u00a0", " ").replace("\u202f", " ")
    text = re.sub(r"[ '\u2019]", "", text)
    if not text or not re.fullmatch(r"[\d.,]+", text) or not text[0].isdigit():
        return None
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal = "." if last_dot > last_comma else ","
    elif last_dot >= 0 or last_comma >= 0:
        sep = "." if last_dot >= 0 else ","
        tail = len(text) - max(last_dot, last_comma) - 1
        if text.count(sep) > 1:
            decimal = "," if sep == "." else "."  # repeated: a thousands separator
        elif tail == 3:
            decimal = style.decimal  # "1.234" or "1,234": the document decides
        else:
            decimal = sep
    else:
        decimal = style.decimal
    thousands = "," if decimal == "." else "."
    text = text.replace(thousands, "")
    if text.count(decimal) > 1:
        return None
    try:
        return Decimal(text.replace(decimal, "."))
    except InvalidOperation:
        return None


_SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+,\d{2}(?!\d)")


@dataclass(frozen=True)
class Amount:
    value: Decimal  # signed
    currency: str | None
    start: int
    end: int
    explicit_sign: bool  # a minus, parentheses or DR/CR said which way


def find_amounts(text: str, style: NumberStyle = NumberStyle()) -> list[Amount]:
    """Every amount printed in ``text``, left to right. A bare integer of
    five or more digits is a reference (a number, a postcode), not an amount."""
    found: list[Amount] = []
    if style.decimal == ",":  # "1 800,00": a space between thousands (same length)
        text = _SPACED_THOUSANDS.sub(lambda m: m.group(0).replace(" ", "\u00a0"), text)
    for match in AMOUNT_RE.finditer(text):
        digits = match.group("num")
        reference = re.fullmatch(r"\d{5,}", digits) or re.fullmatch(r"(19|20)\d\d", digits)
        if reference and not _has_currency(match.group(0)):
            continue
        value = parse_number(digits, style)
        if value is None:
            continue
        neg1, neg2, neg3 = match.group("neg1"), match.group("neg2"), match.group("neg3")
        suffix = (neg3 or "").strip()
        negative = bool(neg2) or neg1 in ("-", "\u2212") or suffix in ("-", "DR", "Dr")
        if neg1 == "(" and suffix == ")":
            negative = True
        elif neg1 == "(" or suffix == ")":
            # one parenthesis alone is punctuation around the number, not a sign
            pass
        explicit = negative or suffix in ("CR", "Cr")
        found.append(
            Amount(
                -value if negative else value,
                currency_in(match.group(0)),
                match.start("num") if not neg1 else match.start(),
                match.end(),
                explicit,
            )
        )
    return found


def _has_currency(text: str) -> bool:
    return currency_in(text) is not None


def currency_in(text: str) -> str | None:
    """The ISO code of a currency sign or code in ``text``, if one is there."""
    for code in re.findall(r"\b[A-Z]{3}\b", text):
        if code in CURRENCY_CODES:
            return code
    lowered = text.lower()
    for sign in ("us$", "r$", "a$", "c$", "€", "£", "₹", "¥", "$", "zł"):
        if sign in lowered:
            return CURRENCY_SIGNS[sign]
    if re.search(r"\brs\.?(?=\s|\d|$)", lowered):
        return "INR"
    if re.search(r"\bchf\b", lowered):
        return "CHF"
    return None


def currency_words(text: str) -> str | None:
    """A currency named in words ("All charges are in US Dollars")."""
    lowered = text.lower()
    for words in ("us dollars", "euros", "euro", "rupees"):
        if re.search(rf"\b{words}\b", lowered):
            return CURRENCY_SIGNS[words]
    return None


# --- dates -----------------------------------------------------------------


@dataclass(frozen=True)
class FoundDate:
    value: date
    start: int
    end: int
    ambiguous: bool  # numeric with day and month both <= 12, decided by the order


_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<![\d.])(\d{1,2})\s?([./-])\s?(\d{1,2})\s?\2\s?(\d{4}|\d{2})(?![\d])")
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\w)(\d{{1,2}})(?:st|nd|rd|th|er|\.)?[\s.-]*({_MONTH_RE})\.?[\s.,-]*(\d{{4}}|\d{{2}})(?!\d)",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?<!\w)({_MONTH_RE})\.?\s*(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(\d{{4}})(?!\d)",
    re.IGNORECASE,
)


def _year(raw: str) -> int:
    year = int(raw)
    if year < 100:
        year += 2000 if year < 70 else 1900
    return year


def _make(year: int, month: int, day: int) -> date | None:
    try:
        made = date(year, month, day)
    except ValueError:
        return None
    return made if 1950 <= made.year <= 2100 else None


def find_dates(text: str, order: str = "DMY") -> list[FoundDate]:
    """Every date written in ``text``, left to right; ``order`` (DMY or MDY)
    decides numeric dates whose day and month could be swapped."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []

    def add(value: date | None, start: int, end: int, ambiguous: bool = False) -> None:
        if value is None or any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        found.append(FoundDate(value, start, end, ambiguous))

    for m in _ISO.finditer(text):
        add(_make(int(m[1]), int(m[2]), int(m[3])), m.start(), m.end())
    for m in _DAY_MONTH_YEAR.finditer(text):
        add(_make(_year(m[3]), MONTHS[m[2].lower()], int(m[1])), m.start(), m.end())
    for m in _MONTH_DAY_YEAR.finditer(text):
        add(_make(_year(m[3]), MONTHS[m[1].lower()], int(m[2])), m.start(), m.end())
    for m in _NUMERIC.finditer(text):
        first, second, year = int(m[1]), int(m[3]), _year(m[4])
        if first > 12:
            day, month, ambiguous = first, second, False
        elif second > 12:
            day, month, ambiguous = second, first, False
        else:
            ambiguous = first != second
            day, month = (second, first) if order == "MDY" else (first, second)
        add(_make(year, month, day), m.start(), m.end(), ambiguous)
    return sorted(found, key=lambda d: d.start)


def guess_date_order(texts: list[str], *, hint: str | None = None) -> str:
    """DMY or MDY: the locale's, or what unambiguous numeric dates show
    (DMY when nothing does: most of the world writes the day first)."""
    if hint in ("DMY", "MDY"):
        return hint
    dmy = mdy = 0
    for text in texts:
        for m in _NUMERIC.finditer(text):
            first, second = int(m[1]), int(m[3])
            if first > 12 >= second:
                dmy += 1
            elif second > 12 >= first:
                mdy += 1
    return "MDY" if mdy > dmy else "DMY"


def normalise(text: str) -> str:
    """Lower case without accents and with single spaces, for label matching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped).strip()
