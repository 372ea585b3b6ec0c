"""Retrieval when a question is spelled otherwise than the texts: British, American, compounds, slips.

The labelled queries are written mostly as the UN writes (-ize, "behaviour", "programme"). Users
are not: many ASEAN readers write "criminalise" and "organised crime", United States users
"behavior", "offense" and "program", and anyone may write "cyber crime", and everyone slips ("terrtiory"). This script rewrites the queries of
`evaluation/queries.jsonl` four ways and scores the default search on each, with and without the
other spellings (`reading.spelling_variants`) and the corrected slips (`reading.corrections`)
that the BM25 query gets:

- **British**: -ize, -yze and their forms as -ise, -yse; American words of `reading.SPELLINGS` in
  their British form;
- **American**: the British words of `reading.SPELLINGS` ("behaviour", "offence", "programme",
  "centre") in their American form;
- **compounds split**: "cybercrime", "cybersecurity", "cyberspace" ... as two words;
- **one slip**: two letters in the middle of the query's longest word (six letters or more, not
  in capitals) swapped ("territory" -> "terrtiory").

Rows "changed" score only the queries the rewriting changed.

    HF_HUB_OFFLINE=1 python3 evaluation/spelling.py --index indexes/full
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from aseancyberdocs import open_index, reading
from aseancyberdocs.evaluation import default_queries_path, evaluate

_AMERICAN = {pair.split()[1] for pair in reading._SPELLING_PAIRS.split("; ")}
_COMPOUND = re.compile(r"^cyber(attacks?|security|space|crimes?|threats?|incidents?|criminals?|operations?)$")


def british(word: str) -> str | None:
    if word in _AMERICAN:
        return reading.SPELLINGS[word]
    if word in reading._NOT_IZE:
        return None
    if match := reading._IZE.match(word):
        return f"{match[1]}is{match[2]}"
    if match := re.match(r"^(\w+)yz(e|ed|es|ing)$", word):
        return f"{match[1]}ys{match[2]}"
    return None


def american(word: str) -> str | None:
    return reading.SPELLINGS[word] if word in reading.SPELLINGS and word not in _AMERICAN else None


def split_compound(word: str) -> str | None:
    match = _COMPOUND.match(word)
    return f"cyber {match[1]}" if match else None


def one_slip(text: str) -> str:
    words = [word for word in re.findall(r"[A-Za-z]{6,}", text) if not word.isupper()]
    if not words:
        return text
    word = max(words, key=len)
    middle = len(word) // 2
    return text.replace(word, word[:middle] + word[middle + 1] + word[middle] + word[middle + 2:], 1)


REWRITES = {"British": british, "American": american, "compounds split": split_compound}


def rewrite(text: str, change) -> str:
    def one(match: re.Match) -> str:
        word = match[0]
        other = change(word.lower())
        if other is None:
            return word
        return other[0].upper() + other[1:] if word[0].isupper() else other

    return re.sub(r"[A-Za-z]+", one, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", default=None)
    args = parser.parse_args(argv)
    library = open_index(args.index)
    records = [json.loads(line) for line in Path(args.queries or default_queries_path()).read_text().splitlines() if line.strip()]
    print("| queries | split | n | R@5 / MRR@10 without other spellings or corrections | with them |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        sets = {"as written": records}
        for name, change in REWRITES.items():
            rewritten = [{**record, "query": rewrite(record["query"], change)} for record in records]
            sets[name] = rewritten
            sets[f"{name}, changed"] = [new for new, old in zip(rewritten, records) if new["query"] != old["query"]]
        sets["one slip"] = [{**record, "query": one_slip(record["query"])} for record in records]
        for name, items in sets.items():
            path = Path(folder) / f"{len(name)}-{abs(hash(name))}.jsonl"
            path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
            for split in ("dev", "test"):
                cells = []
                count = 0
                for on in (False, True):
                    reading.SPELLING_VARIANTS = reading.CORRECT_SLIPS = on
                    report = evaluate(library, path, split=split)
                    row = report.overall.row()
                    count = report.overall.queries
                    cells.append(f"{row['recall@5']:.3f} / {row['mrr@10']:.3f}")
                reading.SPELLING_VARIANTS = reading.CORRECT_SLIPS = True
                print(f"| {name} | {split} | {count} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
