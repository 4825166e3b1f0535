"""Article batches as researchers download them: LexisNexis, Nexis Uni, Factiva, web pages.

News databases export dozens of articles per file, each with header and footer lines
(outlet, date, byline, section, length, load date, copyright, "Document N of M"). These
readers turn such a file into one record per document, with the metadata in fields and
only the article's own prose in `text`, and say how many documents the file itself
announced, so the validation report can show expected against read.

The format is found from the content (`detect`), never from the extension alone: a
`.txt` may be a Nexis batch or a single article. Layouts follow the public descriptions
of these exports (e.g. the R packages LexisNexisTools and tm.plugin.lexisnexis).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from analysis import schema

NEXIS_TXT = "nexis-txt"  # LexisNexis Academic text batch: "1 of 10 DOCUMENTS"
NEXIS_UNI = "nexis-uni"  # Nexis Uni DOCX (or its text): cover list, "Body", "End of Document"
FACTIVA = "factiva"  # Factiva RTF/HTML/text: "Document <id>" after each article
WEB_PAGE = "html-page"  # one saved web page
PLAIN_TEXT = "text"  # one article: first line title, the rest text

# metadata fields a record may carry besides title and text
BYLINE, SECTION, WORD_COUNT = schema.BYLINE, schema.SECTION, schema.WORD_COUNT

_MONTHS = {
    **{m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                   "september", "october", "november", "december"), 1)},
    **{m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                   "nov", "dec"), 1)},
    "sept": 9,
    **{m: i for i, m in enumerate(("januar", "februar", "märz", "april", "mai", "juni", "juli", "august",
                                   "september", "oktober", "november", "dezember"), 1)},
    **{m: i for i, m in enumerate(("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                                   "septembre", "octobre", "novembre", "décembre"), 1)},
}
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_DATE_MDY = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.IGNORECASE)
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})\.?\s+({_MONTH})\.?,?\s+(\d{{4}})\b", re.IGNORECASE)
_DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")

# Nexis labels by meaning; Nexis Uni localises them with the user's interface language
_LABELS = {
    BYLINE: ("byline", "autor", "auteur", "author", "auteur(s)"),
    SECTION: ("section", "rubrik", "rubrique", "sección", "seccion", "sectie"),
    WORD_COUNT: ("length", "länge", "longueur", "longitud", "lengte"),
    schema.LANGUAGE: ("language", "sprache", "langue", "idioma", "taal"),
    "load_date": ("load-date", "ladedatum", "date de chargement", "fecha de carga", "laaddatum"),
    "dateline": ("dateline",),
    "body": ("body",),
}
_LABEL_OF = {label: name for name, labels in _LABELS.items() for label in labels}
_FIELD = re.compile(r"^\s*([A-Za-zÄÖÜäöüéèçñ][\w()\- éèçñäöü]{1,30}?)\s*:[\s\u00a0]*(.*)$", re.DOTALL)
_UPPER_FIELD = re.compile(r"^\s*([A-Z][A-Z\-]{1,30}):[\s\u00a0]*(.*)$", re.DOTALL)
_COPYRIGHT = re.compile(r"^\s*(copyright\b|©|\(c\)\s*\d{4}|all rights reserved)", re.IGNORECASE)

_NEXIS_SEP = re.compile(r"^\s*(\d+)\s+(?:of|von|sur|de)\s+(\d+)\s+(?:DOCUMENTS?|DOKUMENTE?N?)\s*$",
                        re.IGNORECASE | re.MULTILINE)
_UNI_COUNT = re.compile(r"^\s*(?:Documents?|Dokumente?|Documentos?)\s*\((\d+)\)\s*$", re.IGNORECASE | re.MULTILINE)
_UNI_END = re.compile(r"^\s*(?:End of Document|Ende des Dokuments|Fin du document|Fin del documento|"
                      r"Einde van document)\s*$", re.IGNORECASE)
_UNI_BODY = re.compile(r"^\s*(?:Body|Corps du document|Cuerpo)\s*$", re.IGNORECASE)
_UNI_TAIL = re.compile(r"^\s*(?:Classification|Klassifikation|Klassifizierung|Classement|Clasificación|"
                       r"Graphic|Grafik|Graphique|Gráfico|Notes|Anmerkungen)\s*$", re.IGNORECASE)
_FACTIVA_END = re.compile(r"^\s*(?:AN\s+)?Document\s+([A-Za-z0-9]{16,})\s*$")
_FACTIVA_CODE = re.compile(r"^\s*(HD|BY|WC|PD|ET|SN|SC|ED|PG|LA|CY|LP|TD|CT|RF|CO|IN|NS|RE|IPC|IPD|PUB|AN)"
                           r"(?:\t|\s{2,}|\s*$)(.*)$")
_FACTIVA_RESULTS = re.compile(r"Results\s+Found\s*[:\t ]\s*(\d+)", re.IGNORECASE)
_WORDS = re.compile(r"^\s*([\d.,]+)\s+(?:words|Wörter|mots|palabras)\s*$", re.IGNORECASE)
_BY = re.compile(r"^(By|Von|Par|Por)\s+", re.IGNORECASE)
_LANGUAGE_CODES = {  # the names exports print, to the ISO 639-1 codes other inputs carry
    "english": "en", "englisch": "en", "anglais": "en", "eng": "en",
    "russian": "ru", "russisch": "ru", "russe": "ru", "rus": "ru",
    "chinese": "zh", "chinese-simplified": "zh", "chinese-traditional": "zh", "chinesisch": "zh",
    "chinois": "zh", "chi": "zh", "zho": "zh",
    "german": "de", "deutsch": "de", "ger": "de", "deu": "de", "allemand": "de",
    "french": "fr", "französisch": "fr", "français": "fr", "fre": "fr", "fra": "fr",
    "spanish": "es", "spanisch": "es", "espagnol": "es", "spa": "es",
    "ukrainian": "uk", "japanese": "ja", "korean": "ko", "arabic": "ar", "italian": "it", "portuguese": "pt",
}
_LANGUAGE_NAMES = frozenset({
    "english", "russian", "chinese", "chinese-simplified", "chinese-traditional", "german", "french",
    "spanish", "japanese", "korean", "arabic", "italian", "portuguese", "ukrainian", "englisch", "russisch",
    "chinesisch", "anglais", "russe", "chinois",
})


@dataclass(frozen=True)
class Batch:
    """One file's documents: records of text fields, documents it could not read, the announced count."""

    format: str
    records: list[tuple[str, dict[str, str]]]  # (label, fields: title, text, outlet, date, byline, ...)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    expected: int | None = None  # the number of documents the file itself announces
    warnings: tuple[str, ...] = ()


def detect(text: str) -> str:
    """The export layout of a decoded text file."""
    if _NEXIS_SEP.search(text):
        return NEXIS_TXT
    if any(_UNI_END.match(line) for line in text.splitlines()) and any(
        _UNI_BODY.match(line) for line in text.splitlines()
    ):
        return NEXIS_UNI
    if any(_FACTIVA_END.match(line) for line in text.splitlines()):
        return FACTIVA
    return PLAIN_TEXT


def read_text(name: str, text: str) -> Batch:
    """A decoded text file of any layout `detect` knows."""
    kind = detect(text)
    if kind == NEXIS_TXT:
        return read_nexis_txt(name, text)
    if kind == NEXIS_UNI:
        return read_nexis_uni(name, text.splitlines())
    if kind == FACTIVA:
        return read_factiva(name, text.splitlines())
    title, body = title_and_text(text)
    return Batch(PLAIN_TEXT, [("1", {schema.TITLE: title, schema.TEXT: body})])


def title_and_text(content: str) -> tuple[str, str]:
    """First non-empty line is the title; a one-line file is all text (title derived later)."""
    head, _, rest = content.strip().partition("\n")
    return (head.strip(), rest.strip()) if rest.strip() else ("", head.strip())


# --- shared pieces -----------------------------------------------------------------------


def iso_date(value: str) -> str:
    """The first calendar date written in `value` as YYYY-MM-DD ("" when none).

    Export date lines carry weekdays, editions and times ("March 6, 2024 Wednesday Late
    Edition"), which general date parsers refuse; only the date itself matters here.
    """
    for pattern, order in ((_DATE_ISO, "ymd"), (_DATE_MDY, "mdy"), (_DATE_DMY, "dmy")):
        if m := pattern.search(value):
            a, b, c = m.groups()
            if order == "ymd":
                year, month, day = int(a), int(b), int(c)
            elif order == "mdy":
                year, month, day = int(c), _MONTHS[a.lower()], int(b)
            else:
                year, month, day = int(c), _MONTHS[b.lower()], int(a)
            if 1 <= month <= 12 and 1 <= day <= 31:
                return f"{year:04d}-{month:02d}-{day:02d}"
    return ""


def _word_count(value: str) -> str:
    digits = re.sub(r"[^\d]", "", value.split(" ")[0] if value else "")
    return digits or ""


def _language_code(value: str) -> str:
    """"ENGLISH", "GER; DEUTSCH" or "en" as a two-letter code; an unknown name stays as written."""
    words = [w for w in re.split(r"[;,\s]+", value.strip().lower()) if w]
    return next((_LANGUAGE_CODES[w] for w in words if w in _LANGUAGE_CODES), words[0] if words else "")


def _paragraphs(lines: Iterable[str]) -> list[str]:
    """Blank-line separated blocks, each joined into one line with single spaces."""
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    return blocks


def _labelled(line: str, upper_only: bool = False) -> tuple[str, str] | None:
    """(meaning, value) when the line is a known metadata label such as "Byline: ..."."""
    m = (_UPPER_FIELD if upper_only else _FIELD).match(line)
    if not m:
        return None
    label = m[1].strip().lower()
    if label in _LABEL_OF:
        return _LABEL_OF[label], m[2].strip()
    return ("other", m[2].strip()) if upper_only else None


def _record(title: str, body: Sequence[str], outlet: str, date: str, meta: dict[str, str]) -> dict[str, str]:
    return {
        schema.TITLE: title.strip(),
        schema.TEXT: "\n\n".join(p for p in body if p.strip()),
        schema.OUTLET: outlet.strip(),
        schema.DATE: date,
        BYLINE: meta.get(BYLINE, ""),
        SECTION: meta.get(SECTION, ""),
        WORD_COUNT: _word_count(meta.get(WORD_COUNT, "")),
        schema.LANGUAGE: _language_code(meta.get(schema.LANGUAGE, "")),
        schema.URL: meta.get(schema.URL, ""),
    }


# --- LexisNexis Academic text batches ------------------------------------------------------


def read_nexis_txt(name: str, text: str) -> Batch:
    """Documents between "N of M DOCUMENTS" lines; numbers absent from the file are reported."""
    marks = list(_NEXIS_SEP.finditer(text))
    expected = max(int(m[2]) for m in marks)
    records, rejected = [], []
    seen = set()
    for i, mark in enumerate(marks):
        number = int(mark[1])
        label = f"document {number} of {expected}"
        chunk = text[mark.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        seen.add(number)
        try:
            records.append((label, _nexis_document(chunk)))
        except ValueError as exc:
            rejected.append((label, str(exc)))
    rejected += [(f"document {n} of {expected}", "not in the file (the batch skips this number)")
                 for n in range(1, expected + 1) if n not in seen]
    return Batch(NEXIS_TXT, records, sorted(rejected, key=lambda r: _doc_number(r[0])), expected)


def _doc_number(label: str) -> int:
    m = re.search(r"\d+", label)
    return int(m[0]) if m else 0


def _nexis_document(chunk: str) -> dict[str, str]:
    """Header (outlet, date, optional copyright), headline, labelled fields, body, footer."""
    blocks = _paragraphs(chunk.splitlines())
    date_at = next((i for i, b in enumerate(blocks[:5]) if iso_date(b) and not _labelled(b, True)), None)
    outlets = [b for b in blocks[:date_at or 0] if not _COPYRIGHT.match(b)]
    if date_at is None or not outlets:
        raise ValueError("no outlet and date lines before the headline")
    outlet, date = outlets[0], iso_date(blocks[date_at])
    rest = blocks[date_at + 1:]
    while rest and _COPYRIGHT.match(rest[0]):  # some batches print the copyright in the header
        rest = rest[1:]
    meta: dict[str, str] = {}
    title_parts: list[str] = []
    body: list[str] = []
    footer = False
    for block in rest:
        field_ = _labelled(block, upper_only=True)
        if field_:
            meaning, value = field_
            if meaning == "body":
                if value:
                    body.append(value)
            elif meaning in (BYLINE, SECTION, WORD_COUNT, schema.LANGUAGE, "dateline"):
                meta.setdefault(meaning, value)
            footer = footer or meaning in ("load_date", schema.LANGUAGE, "other") and bool(body)
            continue
        if footer:
            continue  # copyright and notices after the footer fields
        if not title_parts and not body:
            title_parts.append(block)  # the headline: the first block after the date
        else:
            body.append(block)
    if not body:
        raise ValueError("no article text after the headline")
    return _record(" ".join(title_parts), body, outlet, date, meta)


# --- Nexis Uni (DOCX paragraphs or their text) ---------------------------------------------


def read_nexis_uni(name: str, lines: Sequence[str]) -> Batch:
    """Documents ended by "End of Document", after a cover list announcing "Documents (N)"."""
    text_lines = [ln.replace("\u00a0", " ").rstrip() for ln in lines]
    count = next((int(m[1]) for ln in text_lines[:60] if (m := _UNI_COUNT.match(ln))), None)
    chunks, current = [], []
    for line in text_lines:
        if _UNI_END.match(line):
            chunks.append(current)
            current = []
        elif line.strip():
            current.append(line.strip())
    if any(current):
        chunks.append(current)  # trailing text without an end mark: reported below
    records, rejected = [], []
    for i, chunk in enumerate(chunks, 1):
        label = f"document {i}" + (f" of {count}" if count else "")
        try:
            records.append((label, _uni_document(chunk)))
        except ValueError as exc:
            rejected.append((label, str(exc)))
    if count is not None and len(chunks) < count:
        rejected.append((f"documents {len(chunks) + 1}-{count} of {count}",
                         f"the cover announces {count} documents; the file holds {len(chunks)}"))
    return Batch(NEXIS_UNI, records, rejected, count)


def _uni_document(lines: list[str]) -> dict[str, str]:
    body_at = next((i for i, ln in enumerate(lines) if _UNI_BODY.match(ln)), None)
    if body_at is None:
        raise ValueError("no 'Body' section")
    header, after = lines[:body_at], lines[body_at + 1:]
    first_field = next((i for i, ln in enumerate(header) if _labelled(ln)), len(header))
    top, fields = header[:first_field], header[first_field:]
    # the lines before the first label: [cover…,] headline, outlet, date line[, copyright]
    while top and _COPYRIGHT.match(top[-1]):
        top = top[:-1]
    date_at = next((i for i in range(len(top) - 1, 0, -1) if iso_date(top[i])), None)
    if date_at is None or date_at < 2:
        raise ValueError("no headline, outlet and date lines before the metadata")
    title, outlet, date = top[date_at - 2], top[date_at - 1], iso_date(top[date_at])
    meta = {}
    for ln in fields:
        if f := _labelled(ln):
            meta.setdefault(*f)
    tail_at = next((i for i, ln in enumerate(after) if _UNI_TAIL.match(ln)), len(after))
    body, tail = after[:tail_at], after[tail_at:]
    for ln in tail:
        if f := _labelled(ln):
            meta.setdefault(*f)
    if body and _labelled(body[-1]) and _labelled(body[-1])[0] == "load_date":
        body = body[:-1]  # a Load-Date directly after the body, without a Classification heading
    if not body:
        raise ValueError("empty 'Body' section")
    return _record(title, body, outlet, date, meta)


# --- Factiva ------------------------------------------------------------------------------


def read_factiva(name: str, lines: Sequence[str]) -> Batch:
    """Articles each ended by a "Document <accession number>" line; field-coded or default layout."""
    lines = [ln.replace("\u00a0", " ").rstrip() for ln in lines]
    m = _FACTIVA_RESULTS.search(" ".join(lines))  # label and number may sit in two table cells
    expected = int(m[1]) if m else None
    chunks, current = [], []
    for line in lines:
        if m := _FACTIVA_END.match(line):
            chunks.append((m[1], current))
            current = []
        else:
            current.append(line)
    records, rejected = [], []
    for i, (accession, chunk) in enumerate(chunks, 1):
        label = f"document {i} ({accession})"
        try:
            coded = any(_FACTIVA_CODE.match(ln) and _FACTIVA_CODE.match(ln)[1] == "HD" for ln in chunk)
            records.append((label, (_factiva_coded if coded else _factiva_plain)(chunk)))
        except ValueError as exc:
            rejected.append((label, str(exc)))
    return Batch(FACTIVA, records, rejected, expected)


def _factiva_coded(lines: list[str]) -> dict[str, str]:
    """'Full article with indexing': two-letter codes (HD headline, PD date, SN source, LP/TD text)."""
    fields: dict[str, list[str]] = {}
    code = None
    for line in lines:
        m = _FACTIVA_CODE.match(line)
        if m:
            code = m[1]
            fields.setdefault(code, [])
            line = m[2]
        if code is not None:
            fields[code].append(line)
    get = {c: " ".join(" ".join(v).split()) for c, v in fields.items()}
    body = _paragraphs(fields.get("LP", []) + [""] + fields.get("TD", []))
    if not body:
        raise ValueError("no LP or TD text")
    meta = {BYLINE: _BY.sub("", get.get("BY", "")), SECTION: get.get("SE", get.get("PG", "")),
            WORD_COUNT: get.get("WC", ""), schema.LANGUAGE: get.get("LA", "")}
    return _record(get.get("HD", ""), body, get.get("SN", ""), iso_date(get.get("PD", "")), meta)


def _factiva_plain(lines: list[str]) -> dict[str, str]:
    """Default layout: headline, [byline,] "N words", date, [time,] source, code, …, language, copyright, text."""
    blocks = [ln.strip() for ln in lines]
    words_at = next((i for i, ln in enumerate(blocks) if _WORDS.match(ln)), None)
    if words_at is None:
        raise ValueError("no 'N words' line")
    head = [b for b in blocks[:words_at] if b and not _FACTIVA_RESULTS.search(b)]
    if not head:
        raise ValueError("no headline before the word count")
    title, byline = head[-2] if len(head) >= 2 else head[-1], head[-1] if len(head) >= 2 else ""
    if len(head) >= 2 and not _BY.match(byline):
        title, byline = head[-1], ""
    rest = blocks[words_at + 1:]
    date_at = next((i for i, b in enumerate(rest[:3]) if iso_date(b)), None)
    if date_at is None:
        raise ValueError("no date after the word count")
    after = [b for b in rest[date_at + 1:]]
    nonblank = [i for i, b in enumerate(after) if b]
    lang_at = next((i for i in nonblank[:8] if after[i].lower() in _LANGUAGE_NAMES), None)
    if lang_at is None:
        raise ValueError("no language line in the header")
    header = [after[i] for i in nonblank if i < lang_at]
    source = next((h for h in header if not re.fullmatch(r"\d{1,2}:\d{2}(\s*\w+)?", h)), "")
    body_lines = after[lang_at + 1:]
    first = next((i for i, b in enumerate(body_lines) if b), len(body_lines))
    if first < len(body_lines) and _COPYRIGHT.match(body_lines[first]):
        body_lines = body_lines[first + 1:]
    body = _paragraphs(body_lines)
    if not body:
        raise ValueError("no article text")
    meta = {BYLINE: _BY.sub("", byline), WORD_COUNT: _WORDS.match(blocks[words_at])[1],
            schema.LANGUAGE: after[lang_at]}
    return _record(title, body, source, iso_date(rest[date_at]), meta)


# --- HTML: Factiva exports and saved pages ------------------------------------------------


def read_html(name: str, html: str) -> Batch:
    """A Factiva HTML export (several articles) or one saved web page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    text = soup.get_text("\n")
    if any(_FACTIVA_END.match(ln) for ln in text.splitlines()):
        return read_factiva(name, _html_lines(soup))
    return read_web_page(name, html)


def _html_lines(soup) -> list[str]:
    """Text of an HTML export with one line per block element and blank lines between paragraphs."""
    for br in soup.find_all("br"):
        br.replace_with("\n")
    lines: list[str] = []
    for block in soup.find_all(["p", "div", "td", "span", "b", "h1", "h2", "h3", "li"]):
        if block.find(["p", "div", "td", "h1", "h2", "h3", "li", "table"]):
            continue  # only innermost blocks, so no text is read twice
        if block.name in ("span", "b") and block.find_parent(["p", "div", "td", "h1", "h2", "h3", "li"]):
            continue
        text = " ".join(block.get_text(" ").split())
        if text:
            lines += [text, ""]
    return lines


def read_web_page(name: str, html: str) -> Batch:
    """Main text of one saved article page (boilerplate removed), title, site and date from its metadata."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=False)
    if doc is None or not (doc.text or "").strip():
        return Batch(WEB_PAGE, [], [("1", "no article text found in the page")])
    title = (doc.title or "").strip()
    paragraphs = [p.strip() for p in doc.text.splitlines() if p.strip()]
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]  # the page's own h1 repeats the title
    outlet = (doc.sitename or doc.hostname or "").strip()
    record = _record(title, paragraphs, outlet, iso_date(doc.date or ""),
                     {BYLINE: (doc.author or "").strip(), schema.URL: (doc.url or "").strip(),
                      schema.LANGUAGE: (doc.language or "")})
    if not record[schema.TEXT]:
        return Batch(WEB_PAGE, [], [("1", "the page holds only its title")])
    return Batch(WEB_PAGE, [("1", record)])


# --- containers ------------------------------------------------------------------------------


def docx_lines(data: bytes) -> list[str]:
    """Paragraph texts of a .docx, tables included, in document order."""
    import docx

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append("".join(t.text or "" for t in block.iter() if t.tag.endswith("}t")))
        elif tag == "tbl":
            for cell in block.iter():
                if cell.tag.endswith("}p"):
                    lines.append("".join(t.text or "" for t in cell.iter() if t.tag.endswith("}t")))
    return lines


def rtf_text(data: str) -> str:
    """Plain text of an RTF document."""
    from striprtf.striprtf import rtf_to_text

    return rtf_to_text(data, errors="ignore")
