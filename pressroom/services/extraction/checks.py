"""What the invoice and statement checks share: a sum compared to the cent,
and what a failed check does (a warning, lower confidence in its fields)."""

from __future__ import annotations

from decimal import Decimal

from pressroom.services.extraction.schemas import Check

#: amounts that differ by at most this are equal (rounding in the document)
CENT = Decimal("0.01")
#: a field in a failed check keeps this share of its confidence
FAILED_CHECK_FACTOR = 0.6


def lower_confidence(confidence: dict[str, float], *fields: str) -> None:
    for field in fields:
        if field in confidence:
            confidence[field] = round(confidence[field] * FAILED_CHECK_FACTOR, 2)


def check_sum(
    checks: list[Check],
    warnings: list[str],
    confidence: dict[str, float],
    *,
    name: str,
    printed: Decimal,
    computed: Decimal,
    says: str,
    but: str,
    fields: tuple[str, ...],
) -> bool:
    """Record the check ``name``: ``computed`` (``says``, e.g. "Subtotal 10 +
    tax 2 = 12") against what the document ``printed``. A mismatch adds
    ``says + but`` as a warning and lowers the confidence of ``fields``."""
    passed = abs(computed - printed) <= CENT
    checks.append(
        Check(
            name=name,
            passed=passed,
            expected=printed,
            actual=computed,
            message=says + ("." if passed else but + "."),
        )
    )
    if not passed:
        warnings.append(says + but + ".")
        lower_confidence(confidence, *fields)
    return passed
