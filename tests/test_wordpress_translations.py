"""The relay-connector plugin speaks French: every string the PHP marks for translation is in
``languages/relay-connector-fr_FR.po``, translated, and the shipped ``.mo`` is that ``.po`` compiled.

Also: the plugin's version headers say what the code needs and what the tests ran.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.wordpress_site import PLUGIN_DIR, WORDPRESS_DIR

LANGUAGES = PLUGIN_DIR / "languages"
PO = LANGUAGES / "relay-connector-fr_FR.po"
MO = LANGUAGES / "relay-connector-fr_FR.mo"

_STRING = r"'((?:[^'\\]|\\.)*)'"
_SINGLE = re.compile(r"\b(?:__|_e|esc_html__|esc_html_e|esc_attr__|esc_attr_e)\(\s*" + _STRING
                     + r"\s*,\s*'relay-connector'\s*\)")
_PLURAL = re.compile(r"\b_n\(\s*" + _STRING + r"\s*,\s*" + _STRING + r"\s*,[^;]*?'relay-connector'\s*\)")
_ANY_CALL = re.compile(r"\b(?:__|_e|_n|_x|esc_html__|esc_html_e|esc_attr__|esc_attr_e|esc_html_x|esc_attr_x)\(")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def php_msgids() -> set[str]:
    found: set[str] = set()
    for path in PLUGIN_DIR.rglob("*.php"):
        source = path.read_text(encoding="utf-8")
        singles = [_unquote(m.group(1)) for m in _SINGLE.finditer(source)]
        plurals = [_unquote(m.group(i)) for m in _PLURAL.finditer(source) for i in (1, 2)]
        calls = len(_ANY_CALL.findall(source))
        assert calls == len(singles) + len(plurals) // 2, (
            f"{path.name}: a translation call this test cannot read (another domain, a variable, _x?)"
        )
        found.update(singles, plurals)
    return found


def po_entries() -> dict[str, list[str]]:
    """msgid (and msgid_plural) -> its msgstr values, read from the .po (C-style strings, continued lines)."""
    entries: dict[str, list[str]] = {}
    current: dict[str, list[str]] = {}
    last: str | None = None

    def flush() -> None:
        if "msgid" in current:
            strs = [v for k, v in current.items() if k.startswith("msgstr")]
            for key in ("msgid", "msgid_plural"):
                if key in current:
                    entries["".join(current[key])] = ["".join(s) for s in strs]

    for line in [*PO.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            flush()
            current, last = {}, None
            continue
        if line.startswith("#"):
            continue
        match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line)
        if match:
            last = match.group(1)
            current[last] = [_c_unescape(match.group(2))]
        elif line.startswith('"') and last is not None:
            current[last].append(_c_unescape(line[1:-1]))
    return entries


def _c_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def test_every_string_of_the_plugin_has_a_french_translation() -> None:
    msgids = php_msgids()
    assert len(msgids) > 60
    entries = po_entries()
    missing = sorted(msgids - entries.keys())
    assert not missing, f"strings missing from {PO.name}: {missing}"
    empty = sorted(msgid for msgid, strs in entries.items() if msgid and not all(s.strip() for s in strs))
    assert not empty, f"French translations left empty: {empty}"
    for msgid in msgids:  # the same placeholders on both sides
        for translated in entries[msgid]:
            assert sorted(re.findall(r"%(?:\d\$)?[sd]", translated)) == sorted(re.findall(r"%(?:\d\$)?[sd]", msgid)) \
                or "%d" in msgid, (msgid, translated)
    assert "Tester la connexion" in entries["Test the connection"]


def test_the_shipped_mo_is_the_po_compiled() -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt is not installed (apt-get install -y gettext)")
    fresh = subprocess.run([msgfmt, "-o", "-", str(PO)], capture_output=True, check=True).stdout
    assert MO.read_bytes() == fresh, f"compile again: msgfmt -o {MO} {PO}"


def test_the_version_headers_say_what_the_code_needs_and_what_was_tested() -> None:
    main = (PLUGIN_DIR / "relay-connector.php").read_text(encoding="utf-8")
    readme = (PLUGIN_DIR / "readme.txt").read_text(encoding="utf-8")
    assert re.search(r"Requires PHP:\s+8\.0\b", main) and re.search(r"Requires PHP:\s+8\.0\b", readme)
    source = "\n".join(p.read_text(encoding="utf-8") for p in PLUGIN_DIR.rglob("*.php"))
    newer = [name for name in ("enum ", "readonly ", ": never", "array_is_list(") if name in source]
    assert not newer, f"PHP 8.1+ features used: {newer}"
    version_file = WORDPRESS_DIR / "wp-includes" / "version.php"
    if not version_file.exists():
        pytest.skip(f"no WordPress at {WORDPRESS_DIR} to compare 'Tested up to' with")
    match = re.search(r"\$wp_version = '(\d+\.\d+)", version_file.read_text(encoding="utf-8"))
    assert match is not None
    assert re.search(r"Tested up to:\s+" + re.escape(match.group(1)) + r"\b", readme), (
        f"readme.txt should say 'Tested up to: {match.group(1)}', the WordPress the tests run"
    )
