"""Reading what a user hands over, an uploaded photo or checkpoint: bytes, a path or a binary file object.

Whatever the source, at most ``limit`` bytes are read (a file object is never read past the limit), and a
missing, empty or oversized file is refused with one plain sentence in the caller's own error type.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightnets.i18n import N_, _

# what a file is called in messages, by the ``noun`` callers pass
NOUNS = {"image": N_("image"), "checkpoint": N_("checkpoint")}


def read_limited(data: Any, limit: int, noun: str, error: type[ValueError]) -> bytes:
    """The bytes of ``data`` (bytes, a path or a binary file object) if there are 1 to ``limit`` of them.

    ``noun`` names the thing in messages ("image", "checkpoint"); ``error`` is the exception raised.
    """
    thing = _(NOUNS.get(noun, noun))
    too_large = _("The {noun} file is larger than the {mb} MB limit.").format(noun=thing, mb=limit // 2**20)
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    elif isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise error(_("There is no {noun} file at {path}.").format(noun=thing, path=path))
        if path.stat().st_size > limit:
            raise error(too_large)
        raw = path.read_bytes()
    elif hasattr(data, "read"):
        raw = data.read(limit + 1)
        if not isinstance(raw, (bytes, bytearray)):
            raise error(_("The file object must be opened in binary mode."))
    else:
        raise error(_("The {noun} must be given as bytes, a path or a file object, not {kind}.").format(
            noun=thing, kind=type(data).__name__))
    if not raw:
        raise error(_("The {noun} file is empty.").format(noun=thing))
    if len(raw) > limit:
        raise error(too_large)
    return bytes(raw)
