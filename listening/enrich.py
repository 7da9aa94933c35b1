"""Enrichment: sentiment (VADER) and language (py3langid over the languages the room
cares about). Both run on the first 1,000 characters: enough to judge, bounded in cost."""

from functools import lru_cache

import py3langid.langid as langid
from django.conf import settings
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SAMPLE = 1000
NEUTRAL_BAND = 0.05


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _languages() -> None:
    # Restricting the candidate languages makes identification ~5x faster and steadier on short posts.
    langid.set_languages(settings.LISTENING_LANGUAGES)


def sentiment(text: str) -> tuple[float, str]:
    """(compound score in [-1, 1], "negative" / "neutral" / "positive")."""
    score = _analyzer().polarity_scores(text[:SAMPLE])["compound"]
    if score <= -NEUTRAL_BAND:
        return score, "negative"
    if score >= NEUTRAL_BAND:
        return score, "positive"
    return score, "neutral"


def language(text: str, hint: str = "") -> str:
    """The platform's own tag when it gave a real one, else our guess; "" when there is no text."""
    hint = (hint or "").lower()
    if hint and hint not in {"und", "qme", "qam", "zxx", "qht", "qst"}:
        return hint[:12]
    sample = text[:SAMPLE]
    if not any(ch.isalpha() for ch in sample):
        return ""
    _languages()
    return langid.classify(sample)[0]
