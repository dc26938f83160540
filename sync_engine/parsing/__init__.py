"""Markdown plan files → the domain model (markdown-it-py, with source line maps)."""

from __future__ import annotations

from sync_engine.parsing.decoding import DecodedText, decode, encode, split_lines
from sync_engine.parsing.parser import ParseResult, parse_plan

__all__ = ["DecodedText", "ParseResult", "decode", "encode", "parse_plan", "split_lines"]
