"""The AI operations' choices and the model allow-list, with no heavy import
(the API reads them on every process start; NumPy and httpx stay in the
worker)."""

from __future__ import annotations

from pressroom.errors import AIModelNotAllowedError, AIProviderNotConfiguredError

STYLES = ("concise", "detailed", "academic", "casual", "professional", "bullet_points", "executive")
QUALITIES = ("fast", "balanced", "high")
#: the ``model`` a summary by the offline engine reports
OFFLINE_MODEL = "offline-textrank"
#: summary length in words, per ``maxLength``
LENGTH_WORDS = {"short": 80, "medium": 200, "long": 400}
LENGTHS = tuple(LENGTH_WORDS)
#: key points per ``maxLength``
KEY_POINTS = {"short": 3, "medium": 5, "long": 7}
#: the summary's share of the input's words is at most this
MAX_SHARE = 0.4
#: how a style changes the length budget
STYLE_FACTOR = {"detailed": 1.5, "concise": 0.8, "executive": 0.8}
#: no summary budget goes below this many words
MIN_SUMMARY_WORDS = 4


def target_words(text_words: int, max_length: str, style: str) -> int:
    """The summary's length budget in words."""
    budget = LENGTH_WORDS[max_length] * STYLE_FACTOR.get(style, 1.0)
    return max(MIN_SUMMARY_WORDS, int(min(budget, MAX_SHARE * text_words)))


def choose_model(
    requested: str | None, *, configured: bool, default: str, allowed: list[str]
) -> str:
    """The model to use: the requested one if the allow-list has it, else the
    default. Raises AIModelNotAllowedError for any other name (and for any
    name at all when there is no provider), AIProviderNotConfiguredError
    when a provider has no default model."""
    if requested:
        if not configured:
            raise AIModelNotAllowedError(
                "No AI provider is configured, so no model can be chosen; "
                "leave 'model' out to use the offline engine.",
                model=requested,
                allowed=[],
            )
        if requested not in allowed:
            raise AIModelNotAllowedError(model=requested, allowed=allowed)
        return requested
    if configured and not default:
        raise AIProviderNotConfiguredError(
            "An AI provider is configured but no default model: set PRESSROOM_AI_MODEL."
        )
    return default
