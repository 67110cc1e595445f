"""Mojibake ("donâ€™t", "Ã©tÃ©") put back into the text its author wrote, with ftfy.

Feeds and webhooks deliver UTF-8 that some tool on the way read as Windows-1252 or
Latin-1, sometimes twice. ftfy's ``fix_encoding`` undoes exactly that, and only when
its measure of "badness" says the text looks like mojibake: correct text, in any
language, comes back unchanged. Nothing else ftfy can do (curly quotes made straight,
entities, widths) is asked for: those are the author's choices, or summary's job.
"""

from __future__ import annotations

import re

from ftfy import fix_encoding

_SEGMENT_BREAK = re.compile("([\n\u2029])")
"""Lines and the paragraph marks the summary cleaner inserts: each is repaired on its own,
so one unencodable character (a U+2029 never exists in cp1252) cannot stop the repair of
the whole text."""


def repair_mojibake(text: str) -> str:
    """``text`` with mis-decoded UTF-8 repaired, line by line; ASCII lines are skipped unread."""
    if text.isascii():
        return text
    return "".join(
        part if part.isascii() or len(part) == 1 else fix_encoding(part) for part in _SEGMENT_BREAK.split(text)
    )
