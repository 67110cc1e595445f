"""twitter-text-parser, X's own length and URL rules, loaded without ``pkg_resources``.

The library reads one data file (its emoji list) through ``pkg_resources``, which costs a
resident 6.5 MB in every relay process (it scans every installed distribution) and is
gone from setuptools 82. While the library loads, a stand-in answers that one call from
the file beside the module; the stand-in is removed at once, so any other code that
imports ``pkg_resources`` later gets the real one.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path


def _resource_string(module: str, name: str) -> bytes:
    """``pkg_resources.resource_string``: a data file beside ``module``'s source."""
    source = getattr(sys.modules[module], "__file__", None)
    if source is None:
        raise FileNotFoundError(f"{module} has no file to find {name} beside")
    return (Path(source).parent / name).read_bytes()


def _load() -> None:
    if "twitter_text" in sys.modules or "pkg_resources" in sys.modules:
        return  # loaded already, or the real pkg_resources is here anyway
    stand_in = types.ModuleType("pkg_resources")
    stand_in.resource_string = _resource_string  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stand_in
    try:
        import twitter_text  # noqa: F401
    finally:
        if sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]


_load()

from twitter_text import extract_urls  # noqa: E402
from twitter_text.config import config  # noqa: E402
from twitter_text.extract_urls import extract_urls_with_indices  # noqa: E402
from twitter_text.regexp.emoji import emoji, emoji_list, single_codepoint_emoji_ranges  # noqa: E402
from twitter_text.regexp.invalid_chars import invalid_chars  # noqa: E402

__all__ = [
    "config", "emoji", "emoji_list", "extract_urls", "extract_urls_with_indices", "invalid_chars",
    "single_codepoint_emoji_ranges",
]
