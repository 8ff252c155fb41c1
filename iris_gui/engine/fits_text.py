"""Text for FITS headers, which hold printable ASCII only.

Product and file names may be any Unicode (``données_x_rate.fits``); written into a header they
keep their ASCII characters and show the others as backslash escapes (``donn\\xe9es``), so any
name can be recorded and the original is still recognisable.
"""

from __future__ import annotations

from typing import Any


def ascii_text(text: Any) -> str:
    """``text`` with every non-ASCII or non-printable character as a backslash escape."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)


def file_name_value(path: str) -> str:
    """A file's name as a header value (R_DARK, R_FLAT, ...): ASCII, at most 68 characters."""
    return ascii_text(str(path).replace("\\", "/").rsplit("/", 1)[-1])[:68]
