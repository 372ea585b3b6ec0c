"""Markdown reader: YAML front matter (parsed with PyYAML) and a body stripped of inline markup."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from ..errors import DocumentParseError

_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(?:\n|\Z)", re.S)
_TAGS = re.compile(r"</?(?:sup|sub|b|i|em|strong|span|u)\b[^>]*>", re.I)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_HEADING = re.compile(r"^#{1,6}\s+")
_COMMENT = re.compile(r"<!--.*?-->")
_EMPTY_EMPHASIS = re.compile(r"(\*\*|__){2,}")
_LONE_BULLET = re.compile(r"^\s*[*+-]\s*$")


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """The front matter as a dict (empty when there is none) and the body after it."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        data = __import__("yaml").safe_load(match.group(1))
    except Exception as exc:  # yaml.YAMLError
        raise DocumentParseError(path, f"invalid YAML front matter: {_yaml_problem(exc)}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DocumentParseError(path, "YAML front matter is not a mapping of keys to values")
    return {str(key): _plain(value) for key, value in data.items()}, text[match.end() :]


def _yaml_problem(exc: Exception) -> str:
    """PyYAML's message in one line, with the line and column in the file (the "---" is line 1)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem or mark is None:
        return " ".join(str(exc).split())
    return f"{problem} (line {mark.line + 2}, column {mark.column + 1})"


def strip_markup(line: str) -> str:
    """Inline Markdown and HTML markup removed, the words kept."""
    if _LONE_BULLET.match(line):
        return ""
    line = _COMMENT.sub("", line)
    line = _EMPTY_EMPHASIS.sub("", line)
    line = _HEADING.sub("", line)
    line = _TAGS.sub("", line)
    # An image is a picture, not text: its alt text ("Logo of the Paris Call") is no paragraph.
    line = _IMAGE.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _EMPHASIS.sub(r"\2", line)
    line = _ESCAPE.sub(r"\1", line)
    line = line.replace("**", "")
    return line.replace("\u00a0", " ")


def front_matter_date(value: Any) -> str | None:
    """An ISO date from a front-matter value ("2021-03-12", a YAML date, or a timestamp)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return value.replace("\u00a0", " ").strip()
    return value
