"""What a markdown body shows, for tests of messages that repeat outside text (``ui.plain`` escapes it)."""

from __future__ import annotations

import re

# characters Streamlit's markdown gives a meaning to (links, images, HTML, formatting, directives, math)
ACTIVE = set("`*_{}[]()<>#!|~$:&\\")


def shown(markdown: str) -> str:
    """The text a markdown body of escaped plain text displays: every backslash escape resolved, and without
    the invisible word joiners that keep URLs from becoming links."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def active_syntax(markdown: str) -> list[str]:
    """The markdown-active characters left unescaped in ``markdown`` (empty: it renders as plain text), plus
    bare autolinks (``http://``, ``www.``) that GFM would turn into links."""
    unescaped = re.sub(r"\\.", "", markdown)
    found = sorted({c for c in unescaped if c in ACTIVE})
    # GFM finds autolinks in the text after escapes are resolved
    resolved = re.sub(r"\\(.)", r"\1", markdown)
    found += re.findall(r"(?i)(?:https?|ftp)://|www\.|[\w.+-]@[\w-]", resolved)
    return found
