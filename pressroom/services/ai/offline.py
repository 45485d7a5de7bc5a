"""The offline engine: an extractive summary, key points and the language of
a text, with no network and no model download.

The summary is a TextRank over sentences: each sentence is a TF-IDF vector,
sentences are linked by their cosine similarity, and PageRank over that graph
scores how central each one is. Sentences are then picked by maximal marginal
relevance (central, and unlike those already picked) until the length budget
is spent, and shown in their original order. Every sentence of the summary
and every key point is a sentence of the input, unchanged.

Long texts are ranked in groups (map), and the best sentences of every group
are ranked together again (reduce), so the similarity matrix stays small.

The language is found by py3langid (langid.py's model, shipped inside the
package, 97 languages).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pressroom.services.ai.chunking import split_sentences, word_count
from pressroom.services.ai.options import KEY_POINTS, LENGTH_WORDS, target_words

__all__ = ["KEY_POINTS", "LENGTH_WORDS", "Extract", "detect_language", "extract", "target_words"]

#: sentences ranked in one group; longer texts are ranked in groups first
GROUP = 300
#: sentences each group passes on to the final ranking
GROUP_KEEP = 40
#: sentences too short or too long to stand alone in a summary (words)
MIN_WORDS, MAX_WORDS = 4, 80
#: a candidate this similar to a picked sentence is a repetition
DUPLICATE = 0.7
#: key points are kept further apart than summary sentences
KEY_POINT_DISTINCT = 0.5
#: key points longer than this are passed over while shorter ones remain
KEY_POINT_WORDS = 40

# Function words of English, the most common input; other languages lean on
# IDF, which down-weights their function words as well.
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves may might must shall one two also use used using see""".split()  # noqa: SIM905
)
_TOKEN = re.compile(r"[^\W\d_]{2,}")
#: what a sentence ends with (before closing quotes and brackets)
_ENDS = frozenset(".!?\u3002\uff01\uff1f")
#: dot leaders of a table of contents (". . ." or "....")
_LEADERS = re.compile(r"\.\s+\.|\.{4,}")


@dataclass(frozen=True)
class Extract:
    summary: list[str]  # sentences of the input, in their order
    key_points: list[str]
    target_words: int
    sentences: int  # candidate sentences considered


def _tokens(sentence: str) -> list[str]:
    return [t for t in _TOKEN.findall(sentence.lower()) if t not in _STOPWORDS]


def _vectors(sentences: list[str]) -> np.ndarray:
    """Row-normalised TF-IDF (log-scaled term frequency) of each sentence."""
    docs = [Counter(_tokens(s)) for s in sentences]
    vocab: dict[str, int] = {}
    for doc in docs:
        for term in doc:
            vocab.setdefault(term, len(vocab))
    n = len(sentences)
    df = np.zeros(len(vocab))
    for doc in docs:
        for term in doc:
            df[vocab[term]] += 1
    idf = np.log((1 + n) / (1 + df)) + 1.0
    matrix = np.zeros((n, len(vocab)))
    for i, doc in enumerate(docs):
        for term, count in doc.items():
            matrix[i, vocab[term]] = (1 + math.log(count)) * idf[vocab[term]]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(matrix / norms)


def _pagerank(similarity: np.ndarray, damping: float = 0.85) -> np.ndarray:
    n = similarity.shape[0]
    weights = similarity.copy()
    np.fill_diagonal(weights, 0.0)
    out = weights.sum(axis=1, keepdims=True)
    # a sentence that shares no word with any other links to all of them
    transition = np.where(out > 0, weights / np.where(out > 0, out, 1.0), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        new = (1 - damping) / n + damping * (transition.T @ rank)
        if np.abs(new - rank).sum() < 1e-8:
            return np.asarray(new)
        rank = new
    return rank


def _rank(sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Centrality scores (scaled to 0..1) and the similarity matrix."""
    vectors = _vectors(sentences)
    similarity = vectors @ vectors.T
    scores = _pagerank(similarity)
    top = scores.max()
    return (scores / top if top > 0 else scores), similarity


def _candidates(text: str) -> list[str]:
    """Sentences that can stand alone: enough words, mostly letters, starting
    like a sentence and ending like one; each only once (boilerplate repeated
    on every page would otherwise vote for itself)."""
    found = []
    seen: set[str] = set()
    for sentence in split_sentences(text):
        words = sentence.split()
        if not MIN_WORDS <= len(words) <= MAX_WORDS:
            continue
        letters = sum(ch.isalpha() for ch in sentence)
        if letters < 0.6 * len(sentence.replace(" ", "")):
            continue  # a table row, a formula, a run of numbers
        if sentence.rstrip("\"')]\u201d\u2019\u00bb")[-1:] not in _ENDS:
            continue  # a heading, a running header, a caption
        if _LEADERS.search(sentence) or sentence[0].islower() or sentence[0].isdigit():
            continue  # a table-of-contents line, or the tail of a broken sentence
        if sentence.count("(") != sentence.count(")"):
            continue  # cut out of a longer sentence (or a URL) at a bracket
        key = " ".join(_tokens(sentence))
        if key in seen:
            continue
        seen.add(key)
        found.append(sentence)
    if not found:  # a text of headings or fragments: take what there is
        found = [s for s in split_sentences(text) if s.split()]
    return found


def _select(
    order: list[int],
    scores: np.ndarray,
    similarity: np.ndarray,
    fits: Any,
    *,
    distinct: float,
    trade_off: float = 0.7,
    limit: int | None = None,
) -> list[int]:
    """Maximal marginal relevance: repeatedly take the candidate with the best
    ``trade_off * score - (1 - trade_off) * (similarity to those taken)``,
    skipping near-repeats and those ``fits`` refuses."""
    chosen: list[int] = []
    remaining = list(order)
    while remaining and (limit is None or len(chosen) < limit):
        best, best_value = None, -math.inf
        for i in remaining:
            overlap = max((similarity[i, j] for j in chosen), default=0.0)
            if overlap >= distinct:
                continue
            value = trade_off * scores[i] - (1 - trade_off) * overlap
            if value > best_value:
                best, best_value = i, value
        if best is None:
            break
        remaining.remove(best)
        if fits(best, chosen):
            chosen.append(best)
    return chosen


def _reduce_candidates(sentences: list[str]) -> list[str]:
    """Map step for long texts: the best sentences of each group of GROUP,
    in their original order."""
    while len(sentences) > GROUP:
        kept: list[int] = []
        for start in range(0, len(sentences), GROUP):
            scores, _ = _rank(sentences[start : start + GROUP])
            best = np.argsort(-scores, kind="stable")[:GROUP_KEEP]
            kept.extend(start + int(i) for i in best)
        sentences = [sentences[i] for i in sorted(kept)]
    return sentences


def extract(text: str, *, max_length: str = "medium", style: str = "concise") -> Extract:
    """The extractive summary and key points of ``text``."""
    sentences = _reduce_candidates(_candidates(text))
    budget = target_words(word_count(text), max_length, style)
    if not sentences:
        return Extract([], [], budget, 0)
    scores, similarity = _rank(sentences)
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    lengths = [word_count(s) for s in sentences]
    spent = [0]

    def fits_budget(i: int, chosen: list[int]) -> bool:
        if spent[0] + lengths[i] > budget:
            return False
        spent[0] += lengths[i]
        return True

    picked = _select(order, scores, similarity, fits_budget, distinct=DUPLICATE)
    if not picked:  # every sentence is longer than the budget: the best, cut to it
        words = sentences[order[0]].split()[:budget]
        summary = [" ".join(words) + " …"]
    else:
        summary = [sentences[i] for i in sorted(picked)]

    position = {i: k for k, i in enumerate(order)}
    short_first = sorted(order, key=lambda i: (lengths[i] > KEY_POINT_WORDS, position[i]))
    seen: set[str] = set()

    def fits_key_point(i: int, chosen: list[int]) -> bool:
        key = " ".join(_tokens(sentences[i]))
        if key in seen:
            return False
        seen.add(key)
        return True

    points = _select(
        short_first,
        scores,
        similarity,
        fits_key_point,
        distinct=KEY_POINT_DISTINCT,
        trade_off=0.6,
        limit=KEY_POINTS[max_length],
    )
    key_points = [sentences[i] for i in sorted(points, key=lambda i: -scores[i])]
    return Extract(summary, key_points, budget, len(sentences))


# -- language ---------------------------------------------------------------------
#: characters of the text the language is detected on (start, middle and end)
LANGUAGE_SAMPLE = 6000


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """ISO 639-1 code of the text's language and the model's confidence (0..1);
    ``("und", 0.0)`` when there are too few letters to tell."""
    if (
        sum(ch.isalpha() for ch in text[:LANGUAGE_SAMPLE]) < 10
        and sum(ch.isalpha() for ch in text) < 10
    ):
        return "und", 0.0
    third = LANGUAGE_SAMPLE // 3
    if len(text) > LANGUAGE_SAMPLE:
        middle = len(text) // 2
        sample = " ".join(
            (text[:third], text[middle - third // 2 : middle + third // 2], text[-third:])
        )
    else:
        sample = text
    code, confidence = _identifier().classify(sample)
    return str(code), round(float(confidence), 3)
