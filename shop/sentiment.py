"""Review sentiment with VADER: one analyzer per process (it loads a lexicon)."""
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment_of(text: str) -> float:
    """Compound score in [-1, 1]; 0 for empty text."""
    if not text or not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text)["compound"])
