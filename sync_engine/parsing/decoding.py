"""Bytes → text, remembering exactly how to get the same bytes back.

A file is decoded exactly when it is UTF-8 (with or without a BOM) or UTF-16 with a BOM.
Anything else is decoded with replacement characters so that it can still be read, and is
marked ``exact=False``: the sync must not write such a file, since the bytes written back
could not be the user's.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_NEWLINE = re.compile(r"\r\n|\r|\n")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Decoded text, split into lines that keep their own line endings."""

    text: str
    encoding: str
    bom: bool
    exact: bool
    error_offset: int | None = None

    def lines(self) -> list[str]:
        """Lines with their endings (``\\r\\n``, ``\\r`` or ``\\n``); the last may have none."""
        return split_lines(self.text)


def split_lines(text: str) -> list[str]:
    """Split on ``\\r\\n``, ``\\r`` and ``\\n`` — the same breaks markdown-it recognises —
    keeping each line's ending so that ``"".join(lines) == text``."""
    lines: list[str] = []
    start = 0
    for match in _NEWLINE.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def line_body(line: str) -> str:
    """A line without its ending."""
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line


def line_ending(line: str) -> str:
    return line[len(line_body(line)) :]


def dominant_newline(lines: list[str]) -> str:
    counts = {"\n": 0, "\r\n": 0, "\r": 0}
    for line in lines:
        ending = line_ending(line)
        if ending:
            counts[ending] += 1
    best = max(counts, key=lambda key: counts[key])
    return best if counts[best] else "\n"


def decode(data: bytes) -> DecodedText:
    """Decode a plan file's bytes; never raises."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return DecodedText(body.decode(encoding), encoding, bom=True, exact=True)
            except UnicodeDecodeError as error:
                text = body.decode(encoding, errors="replace")
                return DecodedText(text, encoding, True, exact=False, error_offset=error.start)
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", bom=False, exact=True)
    except UnicodeDecodeError as error:
        text = data.decode("utf-8", errors="replace")
        return DecodedText(text, "utf-8", bom=False, exact=False, error_offset=error.start)


def encode(text: str, encoding: str, bom: bool) -> bytes:
    """The inverse of :func:`decode` for an exactly decoded file."""
    prefix = b""
    if bom:
        prefix = {name: mark for mark, name in _BOMS}[encoding]
    return prefix + text.encode(encoding)
