"""Enrichment: sentiment (VADER) and language (py3langid over the languages the room
cares about). Both run on the first 1,000 characters: enough to judge, bounded in cost."""

from functools import lru_cache

import py3langid.langid as langid
from django.conf import settings
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SAMPLE = 1000
NEUTRAL_BAND = 0.05
# Below this many letters a guess is noise (py3langid calls "a" Arabic): say "und" instead.
# A CJK character carries about a word, so it counts as three letters ("火事" is judged).
MIN_LETTERS = 5
UNDETERMINED = "und"


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
    """The platform's own tag when it gave a real one, else our guess; "und" when the text
    is too short to judge, "" when there is no text."""
    hint = (hint or "").lower()
    if hint and hint not in {"und", "qme", "qam", "zxx", "qht", "qst"}:
        return hint[:12]
    sample = text[:SAMPLE]
    if not sample.strip():
        return ""
    if _letter_weight(sample) < MIN_LETTERS:
        return UNDETERMINED
    _languages()
    return langid.classify(sample)[0]


def _letter_weight(sample: str) -> int:
    """Letters in `sample`, an ideograph, kana or hangul syllable counting as three; stops
    counting once there are enough."""
    weight = 0
    for ch in sample:
        if ch.isalpha():
            weight += 3 if ch >= "\u2e80" else 1
            if weight >= MIN_LETTERS:
                break
    return weight
