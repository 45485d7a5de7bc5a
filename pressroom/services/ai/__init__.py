"""AI: summaries, translations and structured extraction, through any
OpenAI-compatible provider or, without one, the offline engine.

Modules: ``service`` (AIService), ``providers`` (the provider interface and
the OpenAI-compatible client), ``offline`` (TextRank summary, key points,
language), ``chunking``, ``options`` (choices and the model allow-list). This
package imports none of them, so that the API, which needs only ``options``,
does not load NumPy or httpx.
"""
