"""What the synthetic scenes say: dictionary words, pseudo-words, numbers, prices, dates, codes.

Everything is generated offline from the lists below and a numpy ``Generator``; the same generator state always gives
the same string. Most strings stay inside the default recognition alphabet ``0-9a-z`` after case folding; a minority
carry attached punctuation (``"SALE!"``, ``"open,"``) or symbols (``"$4.99"``, ``"50%"``) as real signs do.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Common English words, weighted towards what appears on signs, shop fronts, packaging and streets.
COMMON_WORDS = tuple(dict.fromkeys("""
the of and to in is for on with at by from up about into over after out new open closed sale exit entry enter
push pull stop slow keep left right only one way no parking taxi bus stop station train metro subway airport gate
terminal arrivals departures platform ticket tickets office information help police fire hospital pharmacy clinic
doctor dental school college university library museum gallery theatre theater cinema hotel motel inn hostel
restaurant cafe coffee tea bar pub grill kitchen bakery bread pizza burger sushi noodle noodles rice chicken beef
pork fish seafood fresh fruit juice milk water beer wine food market supermarket store shop mall plaza center centre
street road avenue lane drive way square park garden bridge tower building house home city town village north south
east west main high church temple bank money exchange atm cash credit card welcome thank you please free wifi toilet
toilets restroom men women ladies gentlemen smoking area zone floor level lift elevator stairs escalator car cars
service services repair auto tyre tire wash laundry dry clean cleaning salon hair beauty spa nail fashion shoes bags
jewelry watch watches phone mobile computer digital electronics camera photo print copy books book news daily times
post mail delivery express fast quick best great good big small best quality price prices special offer discount
deal deals today now sunday monday tuesday wednesday thursday friday saturday january february march april may june
july august september october november december spring summer autumn winter hours day night morning evening
open daily lunch dinner breakfast menu order here there this that your our all more less off half full free gift
gifts toys sports fitness gym club members private caution danger warning notice attention do not enter authorized
staff personnel emergency safety first aid security camera video recording in use wet floor mind the step watch
your head fragile handle with care this side up box package made china japan singapore london paris york
international national royal grand golden silver star sun moon sky ocean sea river lake hill mountain green blue red
white black yellow orange purple brown pink grey gray dark light life love happy lucky world global central union
first second third last next final total net weight natural organic premium original classic modern urban family
kids children baby mother father friends people place point line tower plaza court hall office centre group company
limited ltd inc corp co services solutions systems technology tech energy power oil gas motor motors engineering
design studio art arts music dance film media network global trade trading import export logistics transport
cargo shipping port harbour harbor marina beach resort island garden palace castle tower view point sunset
sunrise road highway route junction roundabout crossing pedestrian cyclists bicycle bike walk run speed limit
zone school bus lane tram ferry boat pier dock wharf quay terminal checkin check baggage claim customs immigration
transfer connection lounge duty shopping fashion outlet factory warehouse storage rental rent lease sale sold
apartment apartments condo residence residences estate property properties real agent agency insurance finance
loans invest investment capital holdings partners associates legal law firm court justice public government
ministry department council city district region state county federal post code area code box call dial
""".split()))

# Syllables for pronounceable pseudo-words: cover letter combinations that a dictionary sample would miss.
ONSETS = ("", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "qu", "r", "s", "t", "v", "w", "x", "y",
          "z", "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "kr", "ph", "pl", "pr", "sc", "sh", "sk",
          "sl", "sm", "sn", "sp", "st", "str", "sw", "th", "tr", "tw", "wh", "wr")
NUCLEI = ("a", "e", "i", "o", "u", "y", "ai", "au", "ea", "ee", "ei", "ie", "io", "oa", "oo", "ou", "ue")
CODAS = ("", "", "", "b", "ck", "d", "ft", "g", "k", "l", "ld", "lk", "ll", "lt", "m", "mp", "n", "nd", "ng", "nk",
         "nt", "p", "r", "rd", "rk", "rn", "rt", "s", "sh", "sk", "ss", "st", "t", "th", "x", "z")

TRAILING_PUNCTUATION = ("!", ",", ".", ":", "?", ";", "'s", "-")
ENCLOSING_PUNCTUATION = (("(", ")"), ('"', '"'), ("[", "]"))
CURRENCY_SYMBOLS = ("$", "€", "£", "¥")


def apply_case(word: str, style: str) -> str:
    """Returns ``word`` in ``style``: ``'lower'``, ``'upper'``, ``'title'`` or ``'as_is'``."""
    if style == "lower":
        return word.lower()
    if style == "upper":
        return word.upper()
    if style == "title":
        return word[:1].upper() + word[1:].lower()
    if style == "as_is":
        return word
    raise ValueError(f"unknown case style {style!r}")


def pseudo_word(rng: np.random.Generator, num_syllables: int) -> str:
    """A pronounceable lower-case non-word of ``num_syllables`` syllables (onset + nucleus + coda)."""
    parts = []
    for _ in range(num_syllables):
        parts.append(ONSETS[rng.integers(len(ONSETS))])
        parts.append(NUCLEI[rng.integers(len(NUCLEI))])
        parts.append(CODAS[rng.integers(len(CODAS))])
    return "".join(parts)


def number_like(rng: np.random.Generator) -> str:
    """A numeric string as signs show them: integers, prices, dates, times, phone numbers, percentages, codes."""
    kind = rng.integers(9)
    if kind == 0:
        return str(int(rng.integers(0, 10 ** rng.integers(1, 7))))
    if kind == 1:
        price = f"{rng.integers(0, 1000)}.{rng.integers(0, 100):02d}"
        return CURRENCY_SYMBOLS[rng.integers(len(CURRENCY_SYMBOLS))] + price if rng.random() < 0.5 else price
    if kind == 2:
        day, month, year = rng.integers(1, 29), rng.integers(1, 13), rng.integers(1950, 2031)
        return (f"{day:02d}/{month:02d}/{year}", f"{year}-{month:02d}-{day:02d}", f"{day}.{month}.{year % 100:02d}")[
            rng.integers(3)]
    if kind == 3:
        return f"{rng.integers(0, 24)}:{rng.integers(0, 60):02d}"
    if kind == 4:
        return f"{rng.integers(100, 1000)}-{rng.integers(0, 10000):04d}"
    if kind == 5:
        return f"{rng.integers(1, 100)}%"
    if kind == 6:
        letter = chr(ord("a") + int(rng.integers(26)))
        return f"{rng.integers(1, 1000)}{letter}" if rng.random() < 0.5 else f"{letter}{rng.integers(1, 100)}"
    if kind == 7:
        return f"{rng.integers(1, 1000)}{('km', 'kg', 'ml', 'cm', 'm', 'g')[rng.integers(6)]}"
    return str(int(rng.integers(1, 100)))


@dataclass(frozen=True)
class TextSampler:
    """Draws one word per call. Probabilities are per word and need not sum to 1 (the rest are dictionary words).

    Attributes:
        pseudo_word_prob: share of pronounceable non-words.
        number_prob: share of numbers, prices, dates, codes (:func:`number_like`).
        punctuation_prob: chance that a letter word gets punctuation attached (``"SALE!"``, ``"(open)"``).
        case_weights: weights of lower / upper / title case for letter words.
    """

    pseudo_word_prob: float = 0.2
    number_prob: float = 0.15
    punctuation_prob: float = 0.08
    case_weights: tuple[float, float, float] = (0.4, 0.3, 0.3)

    def sample(self, rng: np.random.Generator) -> str:
        """One word (never empty, never containing a space)."""
        draw = rng.random()
        if draw < self.number_prob:
            return number_like(rng)
        if draw < self.number_prob + self.pseudo_word_prob:
            word = pseudo_word(rng, int(rng.choice((1, 2, 2, 2, 3))))
        else:
            word = COMMON_WORDS[rng.integers(len(COMMON_WORDS))]
            if len(word) <= 2 and rng.random() < 0.7:  # keep short function words from dominating
                word = COMMON_WORDS[rng.integers(len(COMMON_WORDS))]
        weights = np.asarray(self.case_weights, dtype=np.float64)
        style = ("lower", "upper", "title")[rng.choice(3, p=weights / weights.sum())]
        word = apply_case(word, style)
        if rng.random() < self.punctuation_prob:
            word = attach_punctuation(word, rng)
        return word


def attach_punctuation(word: str, rng: np.random.Generator) -> str:
    """``word`` with trailing punctuation (mostly) or enclosing brackets / quotes."""
    if rng.random() < 0.8:
        return word + TRAILING_PUNCTUATION[rng.integers(len(TRAILING_PUNCTUATION))]
    left, right = ENCLOSING_PUNCTUATION[rng.integers(len(ENCLOSING_PUNCTUATION))]
    return left + word + right
