#!/usr/bin/env python3
"""AI benchmark: the offline engine on the public corpus, and the provider
path's own cost against a local chat-completions server.

For every PDF of the corpus (``--corpus``, default ``/work/corpus``) that has
text (pdftotext through the service's own wrapper), and for the ground-truth
text of every scanned file:

- pdftotext's time and the text's words;
- the detected language and its confidence (py3langid);
- for ``short``, ``medium`` and ``long``: the offline summary's time, words
  against its budget, key points; whether every sentence of the summary and
  every key point is a sentence of the input (checked on the text with
  whitespace and hyphens removed);
- how a provider would see the text at the default settings
  (``PRESSROOM_AI_CONTEXT_TOKENS`` 8192, output 1500): estimated tokens, the
  map chunks, and so the calls a summary costs (chunks + 1, or 1).

Then the provider path on ``tests/support/chat_server.py`` (answers at once,
so what is measured is Pressroom's side: HTTP client, JSON validation,
chunking): one summary of each size of text, N times, and the mean latency
per call as recorded in ``usage.latency_ms``.

Writes bench/out/ai.json and prints a Markdown table.

    .venv/bin/python bench/ai.py
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from pressroom.engines import poppler
from pressroom.services.ai import offline
from pressroom.services.ai.chunking import chunk_text, estimate_tokens, word_count
from pressroom.services.ai.providers import OpenAICompatibleProvider
from pressroom.services.ai.service import AIService, SummarizeOptions

ROOT = Path(__file__).resolve().parents[1]

CONTEXT, OUTPUT = 8192, 1500


def _squash(text: str) -> str:
    return re.sub(r"[\s\-]+", "", text)


def _texts(corpus: Path) -> list[tuple[str, str, str, float | None]]:
    """(name, category, text, pdftotext seconds) of every usable document."""
    found = []
    with (corpus / "manifest.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            path = corpus / row["file"]
            if row["category"] == "scan" and row.get("ground_truth"):
                text = (corpus / row["ground_truth"]).read_text(errors="replace")
                found.append((row["file"] + " (ground truth)", "scan-gt", text, None))
                continue
            started = time.perf_counter()
            text = poppler.extract_text(path, timeout=120)
            seconds = time.perf_counter() - started
            if word_count(text) >= 50:
                found.append((row["file"], row["category"], text, seconds))
    return found


def _offline_rows(texts: list[tuple[str, str, str, float | None]]) -> list[dict[str, Any]]:
    rows = []
    service = AIService(None)
    offline.detect_language("warm up the model")
    for name, category, text, extract_s in texts:
        started = time.perf_counter()
        language, confidence = offline.detect_language(text)
        detect_ms = (time.perf_counter() - started) * 1000
        row: dict[str, Any] = {
            "file": name,
            "category": category,
            "words": word_count(text),
            "pdftotext_s": round(extract_s, 3) if extract_s is not None else None,
            "language": language,
            "confidence": confidence,
            "detect_ms": round(detect_ms, 1),
            "tokens": estimate_tokens(text),
        }
        budget = max(256, CONTEXT - OUTPUT - 600)
        chunks = len(chunk_text(text, budget)) if row["tokens"] > budget else 1
        row["provider_chunks"] = chunks
        row["provider_calls"] = chunks + 1 if chunks > 1 else 1
        squashed = _squash(text)
        for size in ("short", "medium", "long"):
            started = time.perf_counter()
            result = service.summarize(text, SummarizeOptions(max_length=size))
            seconds = time.perf_counter() - started
            picked = offline.extract(text, max_length=size)  # the sentences, not re-split
            sentences = picked.summary + picked.key_points
            row[size] = {
                "seconds": round(seconds, 3),
                "words": result["summary_word_count"],
                "budget": result["target_words"],
                "key_points": len(result["key_points"]),
                "distinct": len(set(result["key_points"])) == len(result["key_points"]),
                "verbatim": all(_squash(s) in squashed for s in sentences),
            }
        rows.append(row)
        print(
            f"{name}: {row['words']} words, {language} {confidence}, "
            f"medium {row['medium']['seconds']} s",
            file=sys.stderr,
        )
    return rows


def _provider_figures(
    texts: list[tuple[str, str, str, float | None]], repeat: int
) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))  # the test suite's chat-completions server
    from tests.support.chat_server import ChatServer

    server = ChatServer().start()
    try:
        provider = OpenAICompatibleProvider(server.base_url, "bench", timeout=30)
        service = AIService(
            provider, default_model="bench-model", context_tokens=CONTEXT, max_output_tokens=OUTPUT
        )
        by_size = sorted(texts, key=lambda t: word_count(t[2]))
        picks = {
            "smallest": by_size[0],
            "median": by_size[len(by_size) // 2],
            "largest": by_size[-1],
        }
        figures: dict[str, Any] = {}
        for label, (name, _, text, _) in picks.items():
            walls, per_call = [], []
            calls = 0
            for _ in range(repeat):
                started = time.perf_counter()
                result = service.summarize(text, SummarizeOptions(max_length="medium"))
                walls.append(time.perf_counter() - started)
                usage = result["usage"]
                calls = usage["calls"]
                per_call.append(usage["latency_ms"] / usage["calls"])
            figures[label] = {
                "file": name,
                "words": word_count(text),
                "calls": calls,
                "wall_s_median": round(statistics.median(walls), 3),
                "latency_ms_per_call_median": round(statistics.median(per_call), 2),
            }
        service.close()
        return figures
    finally:
        server.stop()


def _markdown(rows: list[dict[str, Any]], provider: dict[str, Any]) -> str:
    lines = [
        "| file | words | language (conf.) | short s / words / budget | medium s / words / budget "
        "| long s / words / budget | key points distinct | verbatim | provider calls at 8k |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            f"{r[s]['seconds']} / {r[s]['words']} / {r[s]['budget']}"
            for s in ("short", "medium", "long")
        ]
        distinct = all(r[s]["distinct"] for s in ("short", "medium", "long"))
        verbatim = all(r[s]["verbatim"] for s in ("short", "medium", "long"))
        lines.append(
            f"| {r['file']} | {r['words']:,} | {r['language']} ({r['confidence']}) | "
            + " | ".join(cells)
            + f" | {'yes' if distinct else 'NO'} | {'yes' if verbatim else 'NO'} "
            f"| {r['provider_calls']} |"
        )
    lines += [
        "",
        "| provider path (local server) | file | words | calls | wall s (median) "
        "| latency ms per call (median) |",
        "|---|---|---|---|---|---|",
    ]
    for label, f in provider.items():
        lines.append(
            f"| {label} | {f['file']} | {f['words']:,} | {f['calls']} | "
            f"{f['wall_s_median']} | {f['latency_ms_per_call_median']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    texts = _texts(args.corpus)
    rows = _offline_rows(texts)
    provider = _provider_figures(texts, args.repeat)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ai.json").write_text(
        json.dumps({"machine": platform.platform(), "rows": rows, "provider": provider}, indent=1)
    )
    print(_markdown(rows, provider))


if __name__ == "__main__":
    main()
