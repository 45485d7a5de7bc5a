"""AIService: summarize, translate and structured extraction.

With a provider configured (``PRESSROOM_AI_BASE_URL``) every operation goes to
the model, its answers validated against a pydantic schema with one repair
attempt. Without one, summaries come from the offline engine (extractive,
pressroom.services.ai.offline), so a fresh machine still answers; translation
and structured extraction need a provider (``AI_PROVIDER_NOT_CONFIGURED``).

Long texts are cut into chunks that fit the model's context
(pressroom.services.ai.chunking): a summary is map-reduce (each chunk
summarised, then the summaries combined, again in chunks if they are still
too long), a translation is chunk by chunk, put back together with the
original's paragraph breaks (and, with ``preserveFormatting``, its lines).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from pressroom.config import Settings
from pressroom.errors import (
    AIOutputInvalidError,
    AIProviderNotConfiguredError,
    TextTooLongError,
)
from pressroom.jobs.progress import NullProgress, Progress
from pressroom.services.ai import offline
from pressroom.services.ai.chunking import (
    chunk_text,
    estimate_tokens,
    paragraphs,
    reading_time,
    word_count,
)
from pressroom.services.ai.options import KEY_POINTS, OFFLINE_MODEL, choose_model, target_words
from pressroom.services.ai.providers import ChatProvider, Message, OpenAICompatibleProvider, Usage

Schema = TypeVar("Schema", bound=BaseModel)


#: tokens of instructions around each chunk (system prompt, schema, framing)
PROMPT_OVERHEAD = 600
#: a translation is longer than its source in many languages
TRANSLATION_GROWTH = 1.4
#: map-reduce rounds before the summaries are cut to fit anyway
MAX_REDUCE_ROUNDS = 4

_STYLE_HINTS = {
    "concise": "Be concise: only the essentials, in plain prose.",
    "detailed": "Be thorough: cover every main argument, with the important details.",
    "academic": "Write in a formal academic register, precise and neutral.",
    "casual": "Write in a friendly, plain conversational tone.",
    "professional": "Write in a clear professional business tone.",
    "bullet_points": "Write the summary as a list of bullet points, one per line, each "
    "starting with '- '.",
    "executive": "Write an executive summary: the conclusion first, then what it rests on "
    "and what should be done.",
}
_QUALITY = {
    "fast": (0.3, ""),
    "balanced": (0.2, ""),
    "high": (0.0, " Favour accuracy and natural phrasing; check terminology and numbers."),
}


class SummaryOutput(BaseModel):
    summary: str = Field(min_length=1)
    key_points: list[str] = Field(default_factory=list)


class TranslationOutput(BaseModel):
    translated_text: str


@dataclass(frozen=True)
class SummarizeOptions:
    style: str = "concise"
    max_length: str = "medium"
    include_key_points: bool = True
    language: str | None = None
    model: str | None = None

    @classmethod
    def from_request(cls, options: dict[str, Any]) -> SummarizeOptions:
        return cls(
            style=options.get("style") or "concise",
            max_length=options.get("maxLength") or "medium",
            include_key_points=bool(options.get("includeKeyPoints", True)),
            language=options.get("language") or None,
            model=options.get("model") or None,
        )


@dataclass(frozen=True)
class TranslateOptions:
    target_language: str
    quality: str = "balanced"
    preserve_formatting: bool = False
    model: str | None = None

    @classmethod
    def from_request(cls, target_language: str, options: dict[str, Any]) -> TranslateOptions:
        return cls(
            target_language=target_language,
            quality=options.get("quality") or "balanced",
            preserve_formatting=bool(options.get("preserveFormatting", False)),
            model=options.get("model") or None,
        )


def parse_json_answer(content: str, schema: type[Schema]) -> Schema:
    """The model's answer as ``schema``: plain JSON, JSON in a code fence, or
    the outermost ``{...}`` of a chattier answer."""
    text = content.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return schema.model_validate_json(text)
    except PydanticValidationError as first:
        start, end = text.find("{"), text.rfind("}")
        if start != -1 and end > start and (start, end) != (0, len(text) - 1):
            try:
                return schema.model_validate_json(text[start : end + 1])
            except PydanticValidationError:
                pass
        raise first


def _problem(exc: PydanticValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(answer)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _distinct(points: list[str]) -> list[str]:
    """Key points without blanks or repeats (compared without case, bullets
    or final punctuation)."""
    seen: set[str] = set()
    kept = []
    for point in points:
        text = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", point).strip()
        key = re.sub(r"\W+", " ", text.casefold()).strip()
        if text and key not in seen:
            seen.add(key)
            kept.append(text)
    return kept


class AIService:
    """Summaries, translations and structured extraction over one provider
    (or the offline engine when there is none)."""

    def __init__(
        self,
        provider: ChatProvider | None,
        *,
        default_model: str = "",
        allowed_models: list[str] | None = None,
        context_tokens: int = 8192,
        max_output_tokens: int = 1500,
    ) -> None:
        self.provider = provider
        self.default_model = default_model
        self.allowed_models = allowed_models or ([default_model] if default_model else [])
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> AIService:
        provider: ChatProvider | None = None
        if settings.ai_configured:
            provider = OpenAICompatibleProvider(
                settings.ai_base_url,
                settings.ai_api_key.get_secret_value(),
                timeout=settings.ai_timeout_seconds,
                connect_timeout=settings.ai_connect_timeout_seconds,
                max_retries=settings.ai_max_retries,
                max_retry_wait=settings.ai_max_retry_wait_seconds,
            )
        return cls(
            provider,
            default_model=settings.ai_model,
            allowed_models=settings.ai_allowed_models,
            context_tokens=settings.ai_context_tokens,
            max_output_tokens=settings.ai_max_output_tokens,
        )

    def close(self) -> None:
        if self.provider is not None:
            self.provider.close()

    def __enter__(self) -> AIService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models -------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return self.provider is not None

    def choose_model(self, requested: str | None) -> str:
        return choose_model(
            requested,
            configured=self.configured,
            default=self.default_model,
            allowed=self.allowed_models,
        )

    def _need_provider(self) -> ChatProvider:
        if self.provider is None:
            raise AIProviderNotConfiguredError()
        return self.provider

    @property
    def input_budget(self) -> int:
        """Tokens of text one call may carry besides its instructions and answer."""
        return max(256, self.context_tokens - self.max_output_tokens - PROMPT_OVERHEAD)

    # -- JSON answers -------------------------------------------------------------
    def complete_json(
        self,
        messages: list[Message],
        schema: type[Schema],
        *,
        model: str,
        usage: Usage,
        max_tokens: int | None = None,
        temperature: float = 0.2,
        check: Callable[[Schema], str | None] | None = None,
    ) -> Schema:
        """One call whose answer must be ``schema`` as JSON (and pass ``check``,
        which returns a problem or None); an invalid answer is sent back once
        with what is wrong, and a second invalid one is AI_OUTPUT_INVALID."""
        provider = self._need_provider()
        conversation = list(messages)
        problem = ""
        for attempt in range(2):
            completion = provider.complete(
                conversation,
                model=model,
                max_tokens=max_tokens or self.max_output_tokens,
                temperature=temperature,
            )
            usage.add(completion.usage)
            try:
                value = parse_json_answer(completion.content, schema)
                problem = (check(value) if check else None) or ""
            except PydanticValidationError as exc:
                problem = _problem(exc)
                if completion.finish_reason == "length":
                    problem += " (the answer was cut off at the token limit)"
            if not problem:
                return value
            if attempt == 0:
                conversation += [
                    {"role": "assistant", "content": completion.content[:20000]},
                    {
                        "role": "user",
                        "content": f"That answer is not valid: {problem}. Answer again with "
                        "only the corrected JSON object, matching this JSON schema: "
                        + json.dumps(schema.model_json_schema(), separators=(",", ":")),
                    },
                ]
        raise AIOutputInvalidError(
            f"The model's answer did not match the expected format after a repair: {problem}",
            model=model,
        )

    # -- structured extraction ----------------------------------------------------
    def extract_structured(
        self,
        text: str,
        schema: type[Schema],
        *,
        instructions: str = "",
        model: str | None = None,
    ) -> tuple[Schema, Usage]:
        """Fill ``schema`` from ``text`` (an invoice, a bank statement...): the
        provider's JSON answer validated against the schema, one repair."""
        self._need_provider()
        chosen = self.choose_model(model)
        tokens = estimate_tokens(text)
        if tokens > self.input_budget:
            raise TextTooLongError(
                f"The text is too long for the model's context ({tokens} tokens estimated, "
                f"at most {self.input_budget}).",
                estimated_tokens=tokens,
                limit_tokens=self.input_budget,
            )
        usage = Usage()
        system = (
            "You extract structured data from documents. Answer with one JSON object that "
            "matches this JSON schema, and nothing else. Use null for a value the document "
            "does not give; never invent one. Schema: "
            + json.dumps(schema.model_json_schema(), separators=(",", ":"))
        )
        if instructions:
            system += "\n" + instructions
        messages: list[Message] = [
            {"role": "system", "content": system},
            {"role": "user", "content": text},
        ]
        value = self.complete_json(messages, schema, model=chosen, usage=usage, temperature=0.0)
        return value, usage

    # -- summaries ----------------------------------------------------------------
    def summarize(
        self, text: str, options: SummarizeOptions, progress: Progress | None = None
    ) -> dict[str, Any]:
        progress = progress or NullProgress()
        progress.report(5, "detecting_language", "Detecting the language")
        words = word_count(text)
        language, confidence = offline.detect_language(text)
        base: dict[str, Any] = {
            "word_count": words,
            "reading_time": reading_time(words),
            "style": options.style,
            "max_length": options.max_length,
            "language": language,
            "language_confidence": confidence,
        }
        if not self.configured:
            return {**base, **self._summarize_offline(text, options, language, progress)}
        return {**base, **self._summarize_with_model(text, options, language, words, progress)}

    def _summarize_offline(
        self, text: str, options: SummarizeOptions, language: str, progress: Progress
    ) -> dict[str, Any]:
        if options.model:
            self.choose_model(options.model)  # raises: nothing to choose from
        progress.report(20, "summarizing", "Ranking sentences (offline engine)")
        found = offline.extract(text, max_length=options.max_length, style=options.style)
        if options.style == "bullet_points":
            summary = "\n".join(f"- {s}" for s in found.summary)
        else:
            summary = " ".join(found.summary)
        notes = []
        if options.language and options.language.split("-")[0].lower() != language:
            notes.append(
                f"The offline engine writes in the text's own language ({language}); "
                f"a summary in '{options.language}' needs an AI provider."
            )
        if options.style not in {"concise", "detailed", "bullet_points", "executive"}:
            notes.append(
                f"The offline engine picks sentences of the text; the '{options.style}' "
                "tone needs an AI provider."
            )
        return {
            "summary": summary,
            "key_points": found.key_points if options.include_key_points else [],
            "summary_word_count": word_count(summary),
            "target_words": found.target_words,
            "model": OFFLINE_MODEL,
            "engine": "offline",
            "chunks": 1,
            "notes": notes,
        }

    def _summary_messages(
        self, text: str, *, words: int, options: SummarizeOptions, part: str, language: str
    ) -> list[Message]:
        out_language = options.language or language
        key_points = (
            f" and 'key_points', a list of at most {KEY_POINTS[options.max_length]} "
            "distinct key points (short sentences)"
            if options.include_key_points
            else " and 'key_points' as an empty list"
        )
        system = (
            f"You summarize {part}. Answer with one JSON object with 'summary', a summary of "
            f"at most {words} words{key_points}. {_STYLE_HINTS.get(options.style, '')} Write "
            f"in the language '{out_language}'. Use only what the text says."
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": text}]

    def _summarize_with_model(
        self,
        text: str,
        options: SummarizeOptions,
        language: str,
        words: int,
        progress: Progress,
    ) -> dict[str, Any]:
        model = self.choose_model(options.model)
        usage = Usage()
        target = target_words(words, options.max_length, options.style)
        current = text
        chunk_count = 0
        rounds = 0
        # map: while the text does not fit one call, summarise it in parts
        while estimate_tokens(current) > self.input_budget and rounds < MAX_REDUCE_ROUNDS:
            chunks = chunk_text(current, self.input_budget)
            chunk_count += len(chunks)
            rounds += 1
            part_words = max(60, min(300, self.max_output_tokens // 3))
            partials = []
            for n, chunk in enumerate(chunks, 1):
                progress.report(
                    10 + 70 * (n - 1) / len(chunks),
                    "summarizing",
                    f"Summarizing part {n}/{len(chunks)} (round {rounds})",
                )
                partial = self.complete_json(
                    self._summary_messages(
                        chunk.text,
                        words=part_words,
                        options=SummarizeOptions(
                            style="detailed",
                            max_length=options.max_length,
                            include_key_points=False,
                            language=options.language,
                        ),
                        part=f"part {n} of {len(chunks)} of a longer document",
                        language=language,
                    ),
                    SummaryOutput,
                    model=model,
                    usage=usage,
                )
                partials.append(partial.summary.strip())
            current = "\n\n".join(partials)
        if estimate_tokens(current) > self.input_budget:  # still too long: keep what fits
            current = chunk_text(current, self.input_budget)[0].text
        # reduce: one call over the text, or over the parts' summaries
        progress.report(85, "combining" if rounds else "summarizing", "Writing the summary")
        final = self.complete_json(
            self._summary_messages(
                current,
                words=target,
                options=options,
                part="the summaries of a document's parts, as one summary of the document"
                if rounds
                else "a document",
                language=language,
            ),
            SummaryOutput,
            model=model,
            usage=usage,
        )
        key_points = _distinct(final.key_points)[: KEY_POINTS[options.max_length]]
        summary = final.summary.strip()
        return {
            "summary": summary,
            "key_points": key_points if options.include_key_points else [],
            "summary_word_count": word_count(summary),
            "target_words": target,
            "model": usage.models[-1] if usage.models else model,
            "engine": "provider",
            "chunks": max(1, chunk_count),
            "reduce_rounds": rounds,
            "usage": usage.as_dict(),
            "notes": [],
        }

    # -- translation --------------------------------------------------------------
    def translate(
        self, text: str, options: TranslateOptions, progress: Progress | None = None
    ) -> dict[str, Any]:
        progress = progress or NullProgress()
        self._need_provider()
        model = self.choose_model(options.model)
        progress.report(5, "detecting_language", "Detecting the language")
        words = word_count(text)
        language, confidence = offline.detect_language(text)
        source = text if options.preserve_formatting else "\n\n".join(paragraphs(text))
        budget = max(
            128,
            min(
                int((self.context_tokens - PROMPT_OVERHEAD) / (1 + TRANSLATION_GROWTH)),
                int(self.max_output_tokens / TRANSLATION_GROWTH),
            ),
        )
        chunks = chunk_text(source, budget)
        temperature, extra = _QUALITY.get(options.quality, _QUALITY["balanced"])
        usage = Usage()
        pieces: list[str] = []
        for n, chunk in enumerate(chunks, 1):
            progress.report(
                10 + 85 * (n - 1) / len(chunks),
                "translating",
                f"Translating part {n}/{len(chunks)}",
            )
            translated = self._translate_chunk(
                chunk.text,
                options,
                model=model,
                usage=usage,
                temperature=temperature,
                extra=extra,
                source_language=language,
            )
            gap = chunk.gap if options.preserve_formatting else ("\n\n" if chunk.gap else "")
            pieces.append(translated + gap)
        translated_text = "".join(pieces)
        return {
            "translated_text": translated_text,
            "original_language": language,
            "language_confidence": confidence,
            "target_language": options.target_language,
            "word_count": words,
            "translated_word_count": word_count(translated_text),
            "model": usage.models[-1] if usage.models else model,
            "quality": options.quality,
            "preserve_formatting": options.preserve_formatting,
            "engine": "provider",
            "chunks": len(chunks),
            "usage": usage.as_dict(),
        }

    def _translate_chunk(
        self,
        text: str,
        options: TranslateOptions,
        *,
        model: str,
        usage: Usage,
        temperature: float,
        extra: str,
        source_language: str,
    ) -> str:
        lines = text.split("\n")
        blocks = len(paragraphs(text))
        if options.preserve_formatting:
            shape = (
                f"Keep the layout exactly: the translation must have exactly {len(lines)} "
                "lines, line by line, with the same blank lines, list markers and indentation."
            )
        else:
            shape = f"Keep the {blocks} paragraphs, separated by blank lines, in the same order."

        def check(answer: TranslationOutput) -> str | None:
            got = answer.translated_text
            if not got.strip():
                return "translated_text is empty"
            if options.preserve_formatting and len(got.rstrip("\n").split("\n")) != len(lines):
                return (
                    f"translated_text has {len(got.rstrip(chr(10)).split(chr(10)))} lines; "
                    f"it must have exactly {len(lines)}, one per line of the text"
                )
            if not options.preserve_formatting and len(paragraphs(got)) != blocks:
                return (
                    f"translated_text has {len(paragraphs(got))} paragraphs; it must have "
                    f"{blocks}, separated by blank lines"
                )
            return None

        system = (
            f"You are a professional translator. Translate the user's text (language "
            f"'{source_language}') into '{options.target_language}'. {shape}{extra} Do not "
            "add notes or explanations. Answer with one JSON object: "
            '{"translated_text": "..."}.'
        )
        answer = self.complete_json(
            [{"role": "system", "content": system}, {"role": "user", "content": text}],
            TranslationOutput,
            model=model,
            usage=usage,
            max_tokens=self.max_output_tokens,
            temperature=temperature,
            check=check,
        )
        translated = answer.translated_text.rstrip("\n")
        if options.preserve_formatting:
            # put back indentation a model dropped, line by line
            fixed = []
            for original, new in zip(lines, translated.split("\n"), strict=True):
                indent = original[: len(original) - len(original.lstrip())]
                fixed.append(
                    new if new.startswith(indent) or not new.strip() else indent + new.lstrip()
                )
            translated = "\n".join(fixed)
        return translated
