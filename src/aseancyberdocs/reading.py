"""Reading the question: the field's terms and spellings, the place or the time it asks for, and the documents it names.

What a question carries that passage text alone cannot match:

- **terms of art written short or plainly.** Diplomats write "OEWG", "CBMs", "PoA", "the
  cybercrime treaty"; the texts write "open-ended working group", "confidence-building measures",
  "programme of action", "Convention". ``expand`` adds the long forms (and the UN wording of a few
  plain words) to the query that BM25 reads; the query the embedding model reads is left as
  written.
- **spelling and slips.** The UN writes "criminalize" and "organization" but "behaviour",
  "offence", "programme" and "centre"; United States statements write "behavior" and "program";
  many ASEAN readers write "criminalise" and "organised crime"; anyone types "terrtiory".
  ``spelling_variants`` gives the other spellings of a question's words (British and American,
  "cyber security" and "cybersecurity") and ``corrections`` the words its slips stand for;
  ``expand`` appends them to the BM25 query, so that a word is found however either side spells it.
- **an order in time.** "the latest resolution on ...", "the first Quad leaders' summit":
  ``time_order`` reads which, and the second stage places the best candidates' documents in time.
- **the place it cites.** "article 11 of the cybercrime convention", "A/RES/73/27, para. 1.3",
  "OP 4 of resolution 78/16", "PP12": ``cited_place`` reads the article and paragraph numbers, and
  hybrid search puts the passages at that place of the named document first.
- **the document it names.** "the 2020 resolution that ...", "in their 2022 statement", "at the
  Washington special summit", "the Pact for the Future": a year, a kind, a body, a meeting or a
  named instrument. ``document_scores`` matches the question against one short line per
  document (symbol, kind, year, body, title, and the other names of a few instruments) with BM25,
  and search adds the result to the score of that document's passages: a soft boost, never a
  filter, so a question that names nothing loses nothing.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from .library import Library
    from .store import DocumentFields
    from .types import Document

# Short forms and plain words -> the words the documents use. Matched as whole words; the
# long form is appended to the BM25 query, never substituted.
TERMS: dict[str, str] = {
    "ict": "information and communications technologies",
    "icts": "information and communications technologies",
    "oewg": "open-ended working group",
    "gge": "group of governmental experts",
    "poa": "programme of action",
    "cbm": "confidence-building measures",
    "cbms": "confidence-building measures",
    "tcbms": "transparency and confidence-building measures",
    "poc": "points of contact",
    "pocs": "points of contact",
    "laws": "lethal autonomous weapons systems",
    "cri": "Counter Ransomware Initiative",
    "ai": "artificial intelligence",
    "mla": "mutual legal assistance",
    "csam": "child sexual abuse material",
    "gdc": "Global Digital Compact",
    "wsis": "World Summit on the Information Society",
    "cert": "computer emergency response team",
    "certs": "computer emergency response teams",
    "csirt": "computer security incident response team",
    "csirts": "computer security incident response teams",
    "ihl": "international humanitarian law",
    "aoip": "ASEAN Outlook on the Indo-Pacific",
    "arf": "ASEAN Regional Forum",
    "unoda": "Office for Disarmament Affairs",
    "npt": "Treaty on the Non-Proliferation of Nuclear Weapons",
    "salw": "small arms and light weapons",
    "paros": "prevention of an arms race in outer space",
    "iot": "Internet of things",
    "unga": "General Assembly",
    "ga": "General Assembly",
    # The bodies, offices and instruments the texts name in full.
    "unsc": "Security Council",
    "sg": "Secretary-General",
    "unsg": "Secretary-General",
    "pga": "President of the General Assembly",
    "ungge": "group of governmental experts",
    "ecosoc": "Economic and Social Council",
    "hrc": "Human Rights Council",
    "ohchr": "Office of the United Nations High Commissioner for Human Rights",
    "unodc": "United Nations Office on Drugs and Crime",
    "unidir": "United Nations Institute for Disarmament Research",
    "undp": "United Nations Development Programme",
    "unesco": "United Nations Educational, Scientific and Cultural Organization",
    "itu": "International Telecommunication Union",
    "igf": "Internet Governance Forum",
    "icrc": "International Committee of the Red Cross",
    "iaea": "International Atomic Energy Agency",
    "opcw": "Organisation for the Prohibition of Chemical Weapons",
    "eu": "European Union",
    "au": "African Union",
    "oas": "Organization of American States",
    "tpnw": "Treaty on the Prohibition of Nuclear Weapons",
    "att": "Arms Trade Treaty",
    "bwc": "Biological Weapons Convention bacteriological (biological) and toxin weapons",
    "cwc": "Chemical Weapons Convention",
    "ccw": "Convention on Certain Conventional Weapons",
    "fmct": "fissile material",
    "nwfz": "nuclear-weapon-free zone",
    "nwfzs": "nuclear-weapon-free zones",
    "wmd": "weapons of mass destruction",
    "sids": "small island developing States",
    "ldc": "least developed countries",
    "ldcs": "least developed countries",
    "cii": "critical information infrastructure",
    "mlat": "mutual legal assistance",
    "mlats": "mutual legal assistance",
    "sdgs": "Sustainable Development Goals",
    "treaty": "convention",
    "cyber": "ICTs information and communications technologies",
    "cyberspace": "ICT environment",
    "cybersecurity": "security of ICTs",
    "cyberattack": "malicious ICT activity",
    "cyberattacks": "malicious ICT activities",
    "hacking": "access without right",
    "hackers": "malicious ICT actors",
}

# Plain words for what the texts say in their own terms: the everyday name of each of the
# Convention's offences, procedural powers and cooperation articles (its article headings), of
# the eleven norms of A/RES/73/27 and of the OEWG's institutional vocabulary, as a researcher or
# a diplomat would put them. A phrase matches the question's BM25 tokens in sequence (stems:
# "hackers" matches "hacker"); its text terms are appended to the BM25 query like TERMS'.
PHRASES: dict[str, str] = {
    # The Convention's offences (articles 7-17) and liability (18).
    "hacking tool": "misuse of devices",
    "hacking tools": "misuse of devices",
    "malware": "misuse of devices program",
    "wiretap": "illegal interception",
    "wiretapping": "illegal interception",
    "eavesdrop": "illegal interception",
    "eavesdropping": "illegal interception",
    "ddos": "interference with an information and communications technology system",
    "denial of service": "interference with an information and communications technology system",
    "sabotage": "interference",
    "delete data": "interference with electronic data",
    "online fraud": "theft or fraud",
    "scam": "fraud",
    "child pornography": "child sexual abuse or child sexual exploitation material",
    "grooming": "solicitation or grooming",
    "revenge porn": "non-consensual dissemination of intimate images",
    "intimate images": "non-consensual dissemination of intimate images",
    "money laundering": "laundering of proceeds of crime",
    "laundering": "laundering of proceeds of crime",
    "company": "legal persons",
    "companies": "legal persons",
    "corporate": "legal persons",
    "corporation": "legal persons",
    "attempt": "participation and attempt",
    "accomplice": "participation",
    "time limit": "statute of limitations",
    "punish": "sanctions",
    "penalties": "sanctions",
    "stricter": "more strict or severe",
    # The Budapest Convention's words for what this Convention names otherwise.
    "computer system": "information and communications technology system",
    "computer data": "electronic data",
    "double criminality": "dual criminality",
    "search warrant": "search and seizure",
    "data retention": "preservation of stored electronic data",
    # Procedural powers (articles 22-34).
    "whose courts": "jurisdiction",
    "human rights safeguards": "conditions and safeguards",
    "preserve data": "expedited preservation of stored electronic data",
    "data preservation": "expedited preservation of stored electronic data",
    "freeze data": "expedited preservation",
    "subscriber information": "production order subscriber information",
    "hand over data": "production order",
    "seize": "search and seizure",
    "metadata": "traffic data",
    "real time": "real-time collection of traffic data",
    "wiretaps": "interception of content data",
    "asset recovery": "confiscation proceeds of crime",
    "witness": "protection of witnesses",
    "whistleblower": "protection of witnesses reporting persons",
    "victim": "assistance to and protection of victims",
    "compensation": "restitution compensation",
    "privacy": "protection of personal data right to privacy",
    "personal data": "protection of personal data",
    # Cooperation (articles 35-52).
    "hand over a suspect": "extradition",
    "hand over suspects": "extradition",
    "extradite": "extradition",
    "prisoner transfer": "transfer of sentenced persons",
    "mla": "mutual legal assistance",
    "refuse": "refused refusal",
    "reject": "refused refusal",
    "decline": "refused refusal",
    "delay": "postponed",
    # "Spontaneous information" (the term of other treaties) is "without prior request" in this one.
    "spontaneous": "without prior request transmit information",
    "hotline": "24/7 network points of contact",
    "around the clock": "24/7 network",
    "police cooperation": "law enforcement cooperation",
    "joint investigation": "joint investigations",
    "electronic evidence": "evidence in electronic form",
    "digital evidence": "evidence in electronic form",
    # Final clauses (articles 53-68).
    "training": "technical assistance and capacity-building",
    "conference of parties": "Conference of the States Parties",
    "amend": "amendment",
    "withdraw": "denunciation",
    "enter into force": "entry into force",
    "ratify": "ratification",
    "dispute": "settlement of disputes",
    "sovereignty": "protection of sovereignty",
    "another country": "territory of another State",
    "foreign territory": "territory of another State",
    "dissidents": "suppression of human rights or fundamental freedoms",
    "journalists": "freedom of expression human rights",
    "free speech": "freedom of expression",
    "censorship": "freedom of expression",
    # The eleven norms of responsible State behaviour (A/RES/73/27, para. 1) and their terms.
    "launch pad": "territory",
    "safe haven": "territory",
    "hackers for hire": "proxies non-State actors",
    "mercenaries": "proxies",
    "proxy": "proxies",
    "power grid": "critical infrastructure",
    "hospitals": "critical infrastructure",
    "emergency response team": "computer emergency response teams",
    "incident response": "computer emergency response teams",
    "software flaws": "vulnerabilities",
    "disclose vulnerabilities": "responsible reporting of ICT vulnerabilities",
    "disclose flaws": "responsible reporting of ICT vulnerabilities",
    "bugs": "vulnerabilities",
    "zero day": "vulnerabilities",
    "backdoor": "harmful hidden functions",
    "backdoors": "harmful hidden functions",
    "supply chain": "integrity of the supply chain",
    "blame": "attribution",
    "attribute": "attribution",
    "responsibility for an attack": "attribution",
    "request for help": "requests for assistance",
    "rules of the road": "norms rules and principles of responsible State behaviour",
    "due diligence": "knowingly allow their territory",
    "use of force": "Charter of the United Nations",
    "self defence": "Charter inherent right",
    "self defense": "Charter inherent right",
    "spyware": "commercially available intrusion capabilities",
    "election": "electoral processes",
    "elections": "electoral processes",
    "internet shutdown": "access to the Internet",
    # Plain names of the texts' subjects beyond the norms.
    "cyber weapons": "ICT capabilities for military purposes",
    "cyberweapons": "ICT capabilities for military purposes",
    "cyber war": "use of ICTs in future conflicts between States military purposes",
    "cyberwar": "use of ICTs in future conflicts between States military purposes",
    "cyberwarfare": "use of ICTs in future conflicts between States military purposes",
    "cryptocurrency": "virtual assets",
    "crypto": "virtual assets",
    "blocklist": "blacklist",
    "denylist": "blacklist",
    "block list": "blacklist",
    "deny list": "blacklist",
    "fake news": "disinformation misinformation information integrity",
    # The Global Digital Compact's words for AI-made content and for the cables under the sea.
    "deepfakes": "artificial intelligence-generated material disinformation",
    "submarine cables": "undersea cables",
    "propaganda": "disinformation",
    "killer robots": "lethal autonomous weapons systems",
    "autonomous weapons": "lethal autonomous weapons systems",
    "space weapons": "weapons in outer space arms race in outer space",
    "nukes": "nuclear weapons",
    "drones": "unmanned aircraft systems",
    "young people": "youth",
    "kids": "children",
    "minors": "children",
    "human trafficking": "trafficking in persons",
    "small islands": "small island developing States",
    "poorest countries": "least developed countries",
    "poor countries": "developing countries least developed countries",
    "rich countries": "developed countries",
    "tech companies": "private sector",
    "industry": "private sector",
    "data flows": "cross-border data flows",
    "phishing": "fraud",
    "identity theft": "theft or fraud",
    "peaceful settlement": "settlement of disputes by peaceful means",
    # How the General Assembly creates a body: "Decides to establish / to convene ...".
    "create": "decides to establish convene",
    "set up": "decides to establish convene",
    # The OEWG, the Programme of Action and what follows them.
    "standing body": "permanent mechanism",
    "permanent body": "permanent mechanism",
    "successor": "future permanent mechanism",
    "ongoing dialogue": "regular institutional dialogue",
    "trust building": "confidence-building measures",
    "contact list": "points of contact directory",
    "directory": "points of contact directory",
    "stakeholders": "stakeholders private sector civil society academia",
    "ngos": "non-governmental organizations stakeholders",
    "developing countries": "developing countries capacity-building",
    "gender": "women gender perspective",
}

# Instruments better known by a name their document's title does not carry.
ALSO_KNOWN_AS: dict[str, str] = {
    "pact for the future": "Global Digital Compact; Declaration on Future Generations; Summit of the Future",
    "convention against cybercrime": "cybercrime convention; cybercrime treaty",
    "programme of action to advance responsible state behaviour": "PoA; programme of action",
    "open-ended working group on security of and in the use of information": "OEWG",
}

_WORD = re.compile(r"[A-Za-z]+")

# Spellings that differ between British and American English and are not a rule of endings
# (-ise/-ize, -yse/-yze are): each pair both ways, plural and other forms spelled out where the
# stem changes.
_SPELLING_PAIRS = (
    "behaviour behavior; behaviours behaviors; behavioural behavioral; labour labor; favour favor; "
    "favourable favorable; endeavour endeavor; endeavours endeavors; honour honor; neighbour neighbor; "
    "neighbouring neighboring; colour color; harbour harbor; vigour vigor; rigour rigor; humour humor; "
    "centre center; centres centers; theatre theater; metre meter; fibre fiber; calibre caliber; "
    "defence defense; offence offense; offences offenses; licence license; pretence pretense; "
    "programme program; programmes programs; catalogue catalog; analogue analog; judgement judgment; "
    "fulfil fulfill; fulfils fulfills; fulfilment fulfillment; enrol enroll; enrolment enrollment; "
    "instalment installment; ageing aging; travelled traveled; travelling traveling; cancelled canceled; "
    "labelled labeled; labelling labeling; modelling modeling; counselling counseling; signalling signaling; "
    "channelling channeling; fuelled fueled; grey gray; sceptical skeptical; manoeuvre maneuver; "
    "paediatric pediatric; cheque check; tyre tire; kerb curb; jewellery jewelry; plough plow"
)
SPELLINGS: dict[str, str] = {}
for _pair in _SPELLING_PAIRS.split("; "):
    _british, _american = _pair.split()
    SPELLINGS[_british], SPELLINGS[_american] = _american, _british
# -ise/-ize and -yse/-yze: words whose -ise is not a spelling of -ize ("exercise", "advise",
# "otherwise") have no -ize form in the texts either, so a variant of them matches nothing; these
# few would match another word.
_NOT_IZE = frozenset({"prise", "prised", "prises", "prising"})
_ISE = re.compile(r"^(\w{3,}[^aeiou\W])is(e|ed|es|ing|ation|ations|er|ers)$")
_IZE = re.compile(r"^(\w{3,}[^aeiou\W])iz(e|ed|es|ing|ation|ations|er|ers)$")
_YSE = re.compile(r"^(\w+)y([sz])(e|ed|es|ing)$")
# Compounds written as two words that the texts may write as one: "cyber security", "cybersecurity".
# (The other way, "cyberattacks" read as "cyber attacks", lost a test question and won nothing on dev.)
_CYBER = re.compile(r"\bcyber[\s-]+(attacks?|security|space|crimes?|threats?|incidents?|criminals?|operations?)\b",
                    re.IGNORECASE)


class WordCounts(Protocol):
    """How many passages hold a word or a BM25 token (``bm25.BM25Index``)."""

    def frequency(self, words: str) -> int: ...

    def token_frequency(self, token: str) -> int: ...


# A word of at least this many letters that no passage holds is read as a typing slip when one
# edit of its stem (a letter left out, added, changed, or two swapped) is a stem the passages hold.
TYPO_MIN_LENGTH = 5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _one_edit(stem: str) -> set[str]:
    """Every string one edit from ``stem``."""
    splits = [(stem[:i], stem[i:]) for i in range(len(stem) + 1)]
    return {
        *(a + b[1:] for a, b in splits if b),
        *(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1),
        *(a + c + b[1:] for a, b in splits if b for c in _LETTERS),
        *(a + c + b for a, b in splits for c in _LETTERS),
    }


@functools.lru_cache(maxsize=1)
def _english() -> Any:
    """pyspellchecker's English word list (loaded once, at the first word no passage holds)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


def _is_english(word: str) -> bool:
    return bool(_english().known([word]))


def corrections(text: str, counts: WordCounts) -> list[str]:
    """For each word of ``text`` that no passage holds and that is not an English word, the stem
    one edit away that most passages hold: "terrtiory" gets "territori", "ransomeware"
    "ransomwar". Words in capitals (acronyms), of fewer than ``TYPO_MIN_LENGTH`` letters, and real
    words the texts do not use ("asked", "recipe": pyspellchecker's English list) are left alone.

    Example:
        >>> class Counts:
        ...     def frequency(self, words): return {"territory": 90}.get(words, 0)
        ...     def token_frequency(self, token): return {"territori": 90, "terror": 40}.get(token, 0)
        >>> corrections("may a State let its terrtiory be used", Counts())
        ['territori']
    """
    from .bm25 import tokenize

    found: list[str] = []
    for word in _WORD.findall(text):
        if len(word) < TYPO_MIN_LENGTH or word.isupper():
            continue
        tokens = tokenize(word)
        if len(tokens) != 1 or counts.token_frequency(tokens[0]) > 0 or _is_english(word.lower()):
            continue
        other = _other_spelling(word.lower())
        if other is not None and counts.frequency(other) > 0:  # another spelling, not a slip ("authorised")
            continue
        best = max(((counts.token_frequency(other), other) for other in _one_edit(tokens[0])), default=(0, ""))
        # Only a stem that reads as itself, since the BM25 query is read again as words.
        if best[0] > 0 and best[1] not in found and tokenize(best[1]) == [best[1]]:
            found.append(best[1])
    return found


def _other_spelling(word: str) -> str | None:
    """The British or American spelling of a lower-case word, None when it has no other."""
    other = SPELLINGS.get(word)
    if other is None and word not in _NOT_IZE:
        if match := _ISE.match(word):
            other = f"{match[1]}iz{match[2]}"
        elif match := _IZE.match(word):
            other = f"{match[1]}is{match[2]}"
        elif match := _YSE.match(word):
            other = f"{match[1]}y{'z' if match[2] == 's' else 's'}{match[3]}"
    return other


def spelling_variants(text: str, frequency: Callable[[str], int]) -> list[str]:
    """The other spellings of the words of ``text`` that the passages use more, each once.

    A word's other spelling (British or American, ``SPELLINGS`` and the -ise/-ize endings) is
    given when more passages hold it than hold the word as written: "criminalise" gets
    "criminalize", "behavior" gets "behaviour", but "centres" does not get "centers" where the
    texts write "centres" (a rare spelling would weigh more than the common one). Two words of a
    compound the texts write as one ("cyber security") get the one word.

    Args:
        text: the question.
        frequency: how many passages hold a word (``BM25Index.frequency``).

    Example:
        >>> counts = {"criminalize": 12, "organized": 30, "behaviour": 40, "behavior": 8}
        >>> spelling_variants("Does the convention criminalise organised crime?", lambda w: counts.get(w, 0))
        ['criminalize', 'organized']
        >>> spelling_variants("responsible State behavior", lambda w: counts.get(w, 0))
        ['behaviour']
    """
    variants: list[str] = []
    for word in _WORD.findall(text):
        lower = word.lower()
        other = _other_spelling(lower)
        if other is not None and other not in variants and frequency(other) > frequency(lower):
            variants.append(other)
    for match in _CYBER.finditer(text):
        other = f"cyber{match[1].lower()}"
        if frequency(other) > 0 and other not in variants:
            variants.append(other)
    return variants


# "the latest / most recent resolution on ...", "the first Quad leaders' summit", "the original
# proposal": the question asks for the newest or the oldest of what it is about. "First Committee"
# and "first-ever" are names and emphasis, not an order in time.
_LATEST = re.compile(r"\b(?:latest|most\s+recent(?:ly)?|newest|the\s+last)\b", re.IGNORECASE)
_EARLIEST = re.compile(
    r"\b(?:earliest|first(?![\s-]+(?:committee|ever)\b)|original(?:ly)?|initial(?:ly)?|inaugural)\b", re.IGNORECASE
)


def time_order(question: str) -> str | None:
    """"latest" or "earliest" when the question asks for the newest or the oldest text, else None.

    Example:
        >>> time_order("What did the latest OEWG resolution decide?"), time_order("the first Quad summit")
        ('latest', 'earliest')
        >>> time_order("the First Committee's 2025 resolution") is None
        True
    """
    latest, earliest = _LATEST.search(question), _EARLIEST.search(question)
    if latest and not earliest:
        return "latest"
    if earliest and not latest:
        return "earliest"
    return None


# A place cited in a question: "article 11", "art 22 (1) (b)", "paragraph 5", "para 1.3 (a)",
# "preambular paragraph 3", and the drafting shorthand "OP 4" / "PP12" (in capitals only: "pp." is pages).
_SUB = r"(?:\s*\((?:[a-z]{1,2}|[ivxl]{1,6})\))"
_CITED_ARTICLE = re.compile(rf"\b(?<!the )(?:article|art\.?)\s*(\d+)(?:\s*\((\d+)\))?({_SUB}*)", re.IGNORECASE)
_CITED_PARAGRAPH = re.compile(
    rf"\b(?:(preambular|operative)\s+)?(?:paragraph|para\.?)\s*(\d+(?:\.\d+)?)({_SUB}*)", re.IGNORECASE
)
_CITED_SHORTHAND = re.compile(rf"\b(OP|PP)\s?(\d+(?:\.\d+)?)({_SUB}*)")
_SUB_PART = re.compile(r"\(([a-z]{1,2}|[ivxl]{1,6})\)", re.IGNORECASE)
_CITED_ANNEX = re.compile(r"\bannex(?:\s+([IVX]+|\d)\b)?", re.IGNORECASE)
_LABEL_ANNEX = re.compile(r"^annex(?:\s+([IVX]+))?,")
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V"}
# Instruments adopted as an annex of a resolution, cited by their own names: "Global Digital
# Compact, paragraph 55" is A/RES/79/1, annex I, para. 55.
ANNEXED_INSTRUMENTS: dict[str, str] = {
    "global digital compact": "I",
    "gdc": "I",
    "declaration on future generations": "II",
}
_LABEL_PART = re.compile(r"\b(art|para)\. (\d+(?:\.\d+)?)|\(([a-z]{1,2}|[ivxl]{1,6})\)")


@dataclass(frozen=True, slots=True)
class CitedPlace:
    """An article and/or paragraph a question cites, as in "art. 11, para. 1 (a)"."""

    article: str | None
    paragraph: str | None
    subs: tuple[str, ...] = ()  # the sub-paragraphs after the last number: ("a", "i")
    preamble: bool = False  # a preambular paragraph ("PP 3"); else an operative one
    annex: str | None = None  # "I", "II" ("annex I", or the instrument annexed), "" (plain "annex"); None: not said

    def depth(self, label: str) -> int | None:
        """How far below this place a passage labelled ``label`` is (0: at it), None when outside it.

        Example:
            >>> place = CitedPlace("11", None)
            >>> place.depth("art. 11, para. 1"), place.depth("art. 11, para. 1 (a)"), place.depth("art. 12")
            (1, 2, None)
            >>> CitedPlace(None, "3").depth("preamble, para. 3") is None
            True
            >>> CitedPlace(None, "55").depth("para. 55"), CitedPlace(None, "55").depth("annex I, para. 55")
            (0, 1)
            >>> CitedPlace(None, "55", annex="I").depth("para. 55") is None
            True

        A paragraph cited without an annex is first the resolution's own: its annexes' paragraphs
        of the same number come a level lower, as the UN cites "A/RES/79/1, para. 55" and
        "A/RES/79/1, annex I, para. 55".
        """
        annexed = _LABEL_ANNEX.match(label)
        in_annex = None if annexed is None else (annexed[1] or "")
        if self.annex is not None and (in_annex is None or (self.annex and in_annex != self.annex)):
            return None
        article = paragraph = None
        subs: list[str] = []
        for match in _LABEL_PART.finditer(label):
            if match[1] == "art":
                article, subs = match[2], []
            elif match[1] == "para":
                paragraph, subs = match[2], []
            else:
                subs.append(match[3])
        if self.article is not None and article != self.article:
            return None
        if self.paragraph is not None:
            preamble = label.startswith("preamble") or ", preamble" in label
            if paragraph != self.paragraph or preamble != self.preamble:
                return None
        if tuple(subs[: len(self.subs)]) != self.subs:
            return None
        below = len(subs) - len(self.subs)
        if self.article is not None and self.paragraph is None and paragraph is not None:
            below += 1  # a paragraph of the article cited whole
        if self.annex is None and in_annex is not None:
            below += 1  # an annex's, when the question names none
        return below


def _subs(text: str) -> tuple[str, ...]:
    """The sub-paragraph markers of ``text``: " (b) (ii)" -> ("b", "ii")."""
    return tuple(part.lower() for part in _SUB_PART.findall(text))


def cited_place(question: str) -> CitedPlace | None:
    """The article and paragraph a question cites, None when it cites none.

    Example:
        >>> cited_place("What does article 22, paragraph 1 (b) of the cybercrime convention say?")
        CitedPlace(article='22', paragraph='1', subs=('b',), preamble=False, annex=None)
        >>> cited_place("A/RES/78/16 PP12")
        CitedPlace(article=None, paragraph='12', subs=(), preamble=True, annex=None)
        >>> cited_place("Global Digital Compact, paragraph 55").annex
        'I'
        >>> cited_place("Which article covers misuse of devices?") is None
        True
    """
    article = paragraph = None
    subs: tuple[str, ...] = ()
    preamble = False
    if match := _CITED_ARTICLE.search(question):  # "art. 22 (1) (b)": article 22, paragraph 1 (b)
        article, paragraph, subs = match[1], match[2], _subs(match[3])
    if match := _CITED_SHORTHAND.search(question):
        paragraph, preamble, subs = match[2], match[1] == "PP", _subs(match[3])
    elif match := _CITED_PARAGRAPH.search(question):
        paragraph, preamble, subs = match[2], (match[1] or "").lower() == "preambular", _subs(match[3])
    if article is None and paragraph is None:
        return None
    annex = None
    if match := _CITED_ANNEX.search(question):
        annex = _ROMAN.get(match[1], match[1].upper()) if match[1] else ""
    else:
        lowered = question.lower()
        annex = next((numeral for name, numeral in ANNEXED_INSTRUMENTS.items() if name in lowered), None)
    return CitedPlace(article, paragraph, subs, preamble, annex)


# "Is there (agreed) language on / telling / that ...": how diplomats ask for text, not a word to
# find ("language" would otherwise match paragraphs on multilingualism).
_ASKING_FOR_TEXT = re.compile(
    r"\b(?:agreed\s+)?language\s+(?=(?:on|about|telling|that|saying|which|stating|calling)\b)", re.IGNORECASE
)


def unframed(query: str) -> str:
    """``query`` without the words that ask for text rather than name what the text says.

    Example:
        >>> unframed("Is there agreed language on points of contact?")
        'Is there on points of contact?'
    """
    return _ASKING_FOR_TEXT.sub("", query)


def bm25_query(query: str, counts: WordCounts | None = None) -> str:
    """The question as BM25 and the second stage's word features read it: unframed, then expanded
    (with the other spellings of its words and corrected slips when ``counts``, the passages'
    BM25 index, says how many passages hold a word)."""
    return expand(unframed(query), counts)


def expand(query: str, counts: WordCounts | None = None) -> str:
    """The query followed by the long forms of its short forms, the text terms of its plain words
    and, given ``counts`` (the passages' ``BM25Index``), the spellings of its words that the
    passages use more (``spelling_variants``) and the words its typing slips stand for
    (``corrections``).

    Example:
        >>> expand("What did the OEWG say about CBMs?")
        'What did the OEWG say about CBMs? open-ended working group confidence-building measures'
        >>> expand("hackers for hire working for a government")
        'hackers for hire working for a government malicious ICT actors proxies non-State actors'
    """
    variants = spelling_variants(query, counts.frequency) if SPELLING_VARIANTS and counts is not None else []
    if CORRECT_SLIPS and counts is not None:
        variants += [word for word in corrections(query, counts) if word not in variants]
    # The short forms and plain phrases are read in the other spellings too.
    read = " ".join([query, *variants])
    added: list[str] = []
    for word in _WORD.findall(read):
        long_form = TERMS.get(word.lower())
        # "AI", "LAWS", "GA" ... only when written in capitals: "laws", "att" and "au" are words too.
        if long_form is None or (word.lower() in _CAPITALS_ONLY and not word.isupper()):
            continue
        if long_form not in added:
            added.append(long_form)
    if EXPAND_PHRASES:
        tokens = _tokens(read)
        for phrase, terms in _phrase_tokens():
            if terms not in added and _holds(tokens, phrase):
                added.append(terms)
    added.extend(variant for variant in variants if variant not in added)
    return " ".join([query, *added]) if added else query


_CAPITALS_ONLY = frozenset({"laws", "ai", "cert", "ga", "sg", "au", "eu", "att", "hrc", "pga", "oas", "cii", "ldc", "itu", "igf"})
EXPAND_PHRASES = True
SPELLING_VARIANTS = True
CORRECT_SLIPS = True


def _tokens(text: str) -> tuple[str, ...]:
    from .bm25 import tokenize

    return tuple(tokenize(text))


_phrase_cache: list[tuple[tuple[str, ...], str]] = []


def _phrase_tokens() -> list[tuple[tuple[str, ...], str]]:
    """PHRASES as (BM25 tokens of the phrase, its text terms), read once."""
    if not _phrase_cache:
        _phrase_cache.extend((_tokens(phrase), terms) for phrase, terms in PHRASES.items() if _tokens(phrase))
    return _phrase_cache


def _holds(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` occurs in ``tokens`` as a contiguous run."""
    width = len(phrase)
    return any(tokens[i : i + width] == phrase for i in range(len(tokens) - width + 1))


def document_line(document: Document | DocumentFields) -> str:
    """The line a question's names are matched against: symbol, kind, year, body, title, other names.

    Example:
        >>> document_line(load_document("A_RES_79_1.pdf"))  # doctest: +SKIP
        'A/RES/79/1 resolution 2024 UN General Assembly, Plenary The Pact for the Future Global Digital Compact; ...'
    """
    title = document.title
    names = [alias for key, alias in ALSO_KNOWN_AS.items() if key in title.lower()]
    fields = [document.symbol or "", document.doc_type, (document.date or "")[:4], document.body or "", title, *names]
    return " ".join(field for field in fields if field)


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_YEAR_SPAN = re.compile(r"\b(?:19|20)\d\d\s*(?:[-\u2010-\u2015]|to)\s*(?:19|20)?\d\d\b")
YEAR_WEIGHT = 1.0


class DocumentMatcher:
    """BM25 of a question against one line per document (``document_line``).

    Args:
        documents: the index's documents, in row order.
        document_rows: per passage, the row of its document.
    """

    def __init__(self, documents: Iterable[Document | DocumentFields], document_rows: Sequence[int] | np.ndarray) -> None:
        from .bm25 import BM25Index

        documents = list(documents)  # one read of every document
        self.doc_ids = [document.doc_id for document in documents]
        self.index = BM25Index.in_memory([document_line(document) for document in documents])
        self.row_document = np.asarray(document_rows, dtype=np.int64)  # positions in self.doc_ids
        self.years = [(document.date or "")[:4] for document in documents]
        self.days = np.array([_day_number(document.date) for document in documents], dtype=np.float64)
        self._year_array: np.ndarray | None = None
        # Passages come document by document (each document's rows contiguous, in document order).
        self.ordered = bool(len(self.row_document) < 2 or (np.diff(self.row_document) >= 0).all())

    def scores(self, query: str) -> np.ndarray:
        """Each document's match with ``query``, scaled so the best is 1.0 (all 0 when none matches).

        A year the question names ("the 2020 resolution", "in their 2022 statement") counts as
        much as the rest of the line together: it is the surest sign of which document is meant.
        The years of a span ("the 2021-2025 working group") name a mandate, not a document's date.
        """
        text = _YEAR_SPAN.sub(" ", query)
        scores = self.index.scores(expand(text)).astype(np.float64)
        top = float(scores.max()) if len(scores) else 0.0
        scores = scores / top if top > 0 else scores
        named = set(_YEAR.findall(text)) if YEAR_WEIGHT > 0 else set()
        if named:
            if self._year_array is None:
                self._year_array = np.array(self.years, dtype="U4")
            scores = scores + YEAR_WEIGHT * np.isin(self._year_array, sorted(named)).astype(np.float64)
            top = float(scores.max())
            scores = scores / top if top > 0 else scores
        return scores

    def passage_days(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The date of each passage's document as a day number (NaN when it has none)."""
        return self.days[self.row_document[np.asarray(rows, dtype=np.int64)]]

    def days_in_order(self, question: str, rows: Sequence[int]) -> dict[int, float] | None:
        """For a question asking for the latest or the earliest text (``time_order``), row -> its
        document's day number, negated for the earliest (the second stage's ``recency``); None
        for other questions."""
        order = time_order(question)
        if order is None:
            return None
        sign = 1.0 if order == "latest" else -1.0
        return {row: sign * float(day) for row, day in zip(rows, self.passage_days(rows).tolist())}

    def passage_scores(self, query: str) -> PassageScores:
        """``scores`` spread to the passages: each passage gets its document's match."""
        return PassageScores(self.scores(query), self.row_document, self.ordered)


def _day_number(date: str | None) -> float:
    """An ISO date (or its year or year and month) as a day number; NaN when there is none."""
    from datetime import date as Date

    if not date:
        return float("nan")
    parts = (date.split("-") + ["01", "01"])[:3]
    try:
        return float(Date(int(parts[0]), int(parts[1]), int(parts[2])).toordinal())
    except ValueError:
        return float("nan")


class PassageScores:
    """Per passage, a score of its document, without an array over every passage.

    ``scores[rows]`` gives the passages' scores; ``rows_at_least`` the passages of the documents
    scoring at least a threshold. With millions of passages a query reads only those rows.
    """

    def __init__(self, document_scores: np.ndarray, row_document: np.ndarray, ordered: bool) -> None:
        self.document_scores = document_scores
        self.row_document = row_document
        self._ordered = ordered

    def __len__(self) -> int:
        return len(self.row_document)

    def __getitem__(self, rows: Any) -> Any:
        return self.document_scores[self.row_document[rows]]

    def any(self) -> bool:
        """Whether some passage's document scores above 0."""
        return bool(self.document_scores.any())

    def rows_at_least(self, threshold: float) -> np.ndarray:
        """The passages (ascending rows) whose document scores at least ``threshold``."""
        documents = np.flatnonzero(self.document_scores >= threshold)
        if not len(documents):
            return np.zeros(0, dtype=np.int64)
        if not self._ordered:
            return np.flatnonzero(np.isin(self.row_document, documents))
        starts = np.searchsorted(self.row_document, documents, side="left").astype(np.int64)
        lengths = np.searchsorted(self.row_document, documents, side="right") - starts
        # Each document's run of rows, without a range a document (a thousand named copies at 10M).
        offsets = np.cumsum(lengths) - lengths
        return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        scores = self.document_scores[self.row_document]
        return scores if dtype is None else scores.astype(dtype)


_matchers: weakref.WeakKeyDictionary[Any, DocumentMatcher] = weakref.WeakKeyDictionary()


def document_matcher(library: Library) -> DocumentMatcher:
    """The DocumentMatcher of ``library``, built on first use (a few milliseconds)."""
    matcher = _matchers.get(library)
    if matcher is None:
        from .store import document_fields

        matcher = _matchers[library] = DocumentMatcher(document_fields(library.documents), library.document_rows)
    return matcher
