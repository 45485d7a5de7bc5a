"""AI: summaries, translations and structured extraction, through any
OpenAI-compatible provider or, without one, the offline engine."""

from pressroom.services.ai.providers import ChatProvider, OpenAICompatibleProvider, Usage
from pressroom.services.ai.service import AIService, SummarizeOptions, TranslateOptions

__all__ = [
    "AIService",
    "ChatProvider",
    "OpenAICompatibleProvider",
    "SummarizeOptions",
    "TranslateOptions",
    "Usage",
]
