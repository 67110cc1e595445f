"""Mojibake ("donâ€™t", "Ã©tÃ©") put back into the text its author wrote, with ftfy.

Feeds and webhooks deliver UTF-8 that some tool on the way read as Windows-1252 or
Latin-1, sometimes twice. ftfy's ``fix_encoding`` undoes exactly that, and only when
its measure of "badness" says the text looks like mojibake: correct text, in any
language, comes back unchanged. Nothing else ftfy can do (curly quotes made straight,
entities, widths) is asked for: those are the author's choices, or summary's job.
"""

from __future__ import annotations

import re

_SEGMENT_BREAK = re.compile("([\n\u2029])")
"""Lines and the paragraph marks the summary cleaner inserts: each is repaired on its own,
so one unencodable character (a U+2029 never exists in cp1252) cannot stop the repair of
the whole text."""


_SUSPECT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160"
    "\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153"
    "\u017e\u0178]"
)
"""A UTF-8 lead byte read as Latin-1 or cp1252 (Â, Ã, â, ð…) followed by a continuation byte read the
same way (€, ™, ©, \x9d…): every mis-decoded UTF-8 sequence has one. "pâte" or "été" has none, so
ftfy (and its 3 MB of code) is not even loaded for a clean French feed."""


def repair_mojibake(text: str) -> str:
    """``text`` with mis-decoded UTF-8 repaired, line by line; lines that cannot be mojibake are skipped unread."""
    if text.isascii() or not _SUSPECT.search(text):
        return text
    from ftfy import fix_encoding

    return "".join(
        part if len(part) == 1 or not _SUSPECT.search(part) else fix_encoding(part)
        for part in _SEGMENT_BREAK.split(text)
    )
