"""The small real index the web tests share: four reference documents and one hostile statement.

Built once per test session with the real model (the API and browser test modules both use it).
The hostile statement carries markup and script in its title, text and URL: every page and API
answer must show them as text.
"""

from __future__ import annotations

from pathlib import Path

SOURCES = [
    "un/text/A_RES_73_27.txt",
    "un/pdf/A_RES_80_16.pdf",
    "un/pdf/A_C.1_80_L.20.pdf",
    "statements/2022-03-29-u-s-singapore-joint-leaders-statement.md",
]
HOSTILE_TITLE = 'Hostile <img src=x onerror="alert(1)"> statement'
HOSTILE_SCRIPT = '<script>alert("xss")</script>'
HOSTILE = f"""---
title: '{HOSTILE_TITLE}'
date: '2024-01-02'
source_url: "javascript:alert(2)"
---

States should protect critical infrastructure {HOSTILE_SCRIPT} from ransomware attacks by criminal groups.

A second paragraph with </p><a href="http://evil.example/">a link</a> and {{{{ 7*7 }}}} about ransomware payments.
"""


def web_index(corpus_dir: Path, base: Path) -> Path:
    """The index folder under ``base`` (the session's temporary folder), built on first call."""
    from aseancyberdocs import build_index

    index_dir = base / "web-index"
    if (index_dir / "manifest.json").is_file():
        return index_dir
    hostile = base / "web-sources" / "hostile-statement.md"
    hostile.parent.mkdir(parents=True, exist_ok=True)
    hostile.write_text(HOSTILE, encoding="utf-8")
    report = build_index([corpus_dir / source for source in SOURCES] + [hostile], index_dir)
    if report.skipped or report.documents != len(SOURCES) + 1:
        raise RuntimeError(f"the web test index is incomplete: {report.to_dict()}")
    return index_dir
