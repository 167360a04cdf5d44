"""Review texts whose words (and so VADER's sentiment) agree with the star rating."""
REVIEW_TEMPLATES = {
    5: [
        "Absolutely love this {noun}. Excellent quality and great value!",
        "Best {noun} I have ever owned. Highly recommend it.",
        "Fantastic {noun}, works perfectly. Very happy with it!",
        "Superb quality and wonderful to use. I love it.",
        "Brilliant {noun}. Exceeded my expectations, great purchase.",
    ],
    4: [
        "Very good {noun}, happy with it. Would buy again.",
        "Solid {noun} and good value. Nice design.",
        "Works well and arrived quickly. Pleased with it.",
        "Good quality {noun}. A small quibble, but I like it.",
    ],
    3: [
        "It's an okay {noun}. Does the job, nothing special.",
        "Average {noun}. Fine for the price.",
        "Decent {noun}, some good points and some bad ones.",
        "Mixed feelings about this {noun}; it is acceptable.",
    ],
    2: [
        "Disappointed with this {noun}. Feels cheap and flimsy.",
        "Not great. The {noun} stopped working properly after a week.",
        "Poor finish and a weak {noun}. Would not buy again.",
        "Underwhelming {noun}, worse than I hoped. Not recommended.",
    ],
    1: [
        "Terrible {noun}. Broke immediately, a total waste of money.",
        "Awful quality, very disappointed. I returned it.",
        "Worst {noun} I have bought. Do not buy this, horrible.",
        "Useless and badly made. Angry I wasted money on this {noun}.",
    ],
}


def review_text(rating: int, noun: str, choice: int) -> str:
    templates = REVIEW_TEMPLATES[rating]
    return templates[choice % len(templates)].format(noun=noun)
