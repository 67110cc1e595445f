"""Which language a post is written in, as far as a tweet's cuts need to know, and its
function words.

A summary cut after "les" or "of the" reads as broken ("Pendant dix minutes, les…"):
a cut must end on a word that carries meaning. Which words do not depends on the
language, and neither feeds nor webhooks reliably say it, so it is guessed from the
post's own words: the language whose articles and prepositions occur most.
"""

from __future__ import annotations

import re

FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        [
            *("le", "la", "les", "l'", "un", "une", "des", "du", "de", "d'", "au", "aux", "à", "en", "dans", "par"),
            *("pour", "sur", "sous", "avec", "sans", "chez", "vers", "entre", "contre", "depuis", "pendant", "selon"),
            *("et", "ou", "mais", "donc", "ni", "car", "que", "qu'", "si", "comme", "lorsque", "quand", "dont"),
            *("ce", "cet", "cette", "ces", "mon", "ma", "mes", "ton", "ta", "tes", "son", "sa", "ses", "notre"),
            *("nos", "votre", "vos", "leur", "leurs", "quel", "quelle", "quels", "quelles", "chaque"),
            *("toute", "toutes", "plusieurs", "quelques", "aucun", "aucune", "ne", "se", "d'un", "d'une"),
            *("qu'un", "qu'une", "jusqu'à", "jusqu'au", "jusqu'aux", "afin", "très", "y"),
        ]
    ),
    "en": frozenset(
        [
            *("a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "about"),
            *("as", "and", "or", "but", "nor", "so", "if", "than", "that", "this", "these", "those", "my", "your"),
            *("his", "her", "its", "our", "their", "some", "any", "every", "each", "no", "which", "whose", "over"),
            *("under", "between", "through", "via", "per", "after", "before", "during", "without", "within"),
            *("because", "while", "when", "where", "whether", "both", "either", "neither", "such", "very"),
            *("is", "are", "was", "were", "has", "have", "had", "will", "can"),
        ]
    ),
    "de": frozenset(
        [
            *("der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines", "und"),
            *("oder", "aber", "mit", "von", "zu", "zum", "zur", "im", "in", "an", "am", "auf", "für", "bei", "aus"),
            *("nach", "über", "unter", "vor", "durch", "ohne", "gegen", "um", "dass", "wie", "als", "wenn"),
        ]
    ),
    "es": frozenset(
        [
            *("el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "al", "a", "en", "con", "por"),
            *("para", "y", "e", "o", "u", "pero", "que", "sin", "sobre", "entre", "su", "sus", "como", "desde"),
        ]
    ),
    "it": frozenset(
        [
            *("il", "lo", "la", "i", "gli", "le", "l'", "un", "uno", "una", "un'", "di", "del", "della", "dei"),
            *("delle", "degli", "a", "al", "alla", "in", "nel", "nella", "con", "per", "su", "e", "o", "ma"),
            *("che", "da", "dal", "dalla", "tra", "fra", "come"),
        ]
    ),
    "pt": frozenset(
        [
            *("o", "a", "os", "as", "um", "uma", "uns", "umas", "de", "do", "da", "dos", "das", "em", "no", "na"),
            *("nos", "nas", "por", "pelo", "pela", "para", "com", "e", "ou", "mas", "que", "ao", "aos", "à", "sem"),
            *("sobre", "entre", "como", "seu", "sua"),
        ]
    ),
}
"""Articles, prepositions, conjunctions and determiners (and, in English, the auxiliaries
a sentence never ends on), casefolded, with ``'`` for every apostrophe."""

_MARKERS: dict[str, frozenset[str]] = {
    "fr": frozenset(["le", "les", "des", "du", "est", "et", "une", "pour", "dans", "sur", "avec", "qui", "pas"]),
    "en": frozenset(["the", "of", "and", "to", "is", "with", "for", "that", "this", "it", "you", "are", "on"]),
    "de": frozenset(["der", "die", "das", "und", "ist", "mit", "ein", "eine", "nicht", "für", "auf", "den"]),
    "es": frozenset(["el", "los", "las", "y", "es", "por", "para", "una", "con", "del", "que", "se"]),
    "it": frozenset(["il", "gli", "della", "e", "è", "per", "una", "con", "che", "di", "del", "non"]),
    "pt": frozenset(["os", "das", "dos", "e", "é", "para", "uma", "com", "não", "que", "do", "em"]),
}
"""Words frequent in one language and rare in the others, for the guess."""

_WORD = re.compile(r"\w+(?:['’]\w+)?")
MAX_GUESS_CHARS = 2000
"""The first few sentences say the language; reading further only costs time."""


def normalise_word(word: str) -> str:
    return word.casefold().replace("’", "'").replace("ʼ", "'")


def guess_language(text: str) -> str:
    """``fr``, ``en``, ``de``, ``es``, ``it`` or ``pt``, or ``""`` when ``text`` gives no sign."""
    counts = dict.fromkeys(_MARKERS, 0)
    for match in _WORD.finditer(text[:MAX_GUESS_CHARS]):
        word = normalise_word(match.group())
        for language, markers in _MARKERS.items():
            if word in markers:
                counts[language] += 1
    best = max(counts, key=lambda language: counts[language])
    return best if counts[best] else ""


def function_words(language: str) -> frozenset[str]:
    """The words a cut must not end on in ``language``; French and English when it is unknown."""
    return FUNCTION_WORDS.get(language) or FUNCTION_WORDS["fr"] | FUNCTION_WORDS["en"]
