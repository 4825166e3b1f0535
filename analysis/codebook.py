"""Codebooks: the framing themes a user wants scored, as an editable YAML file.

A frame is an id, a label, a definition, examples of passages that use it and,
optionally, keywords and the code of a labelled data set it maps to. Users edit
these files (in the dashboard or by hand); a save never overwrites silently but
writes the next version beside the old one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import CodebookError

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SENTENCE_END = re.compile(r"(?<=[.;])\s+")
_NEGATION = re.compile(r"(?:Not|Nor)\b(?! only\b)")  # "Not only X but Y" says X and Y


def _names_frame(sentence: str, frame_id: str) -> bool:
    """Whether a sentence refers to a frame by its id: "(politics)" or "energy_trade", not the
    plain word "politics"."""
    return f"({frame_id}" in sentence or ("_" in frame_id and re.search(
        rf"(?<!\w){re.escape(frame_id)}(?!\w)", sentence) is not None)


@dataclass(frozen=True)
class Frame:
    id: str
    label: str
    description: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    code: int | str | None = None


@dataclass(frozen=True)
class Topic:
    """What the whole corpus should be about: the relevance gate's semantic check."""

    description: str
    examples: tuple[str, ...] = ()

    @property
    def prototypes(self) -> tuple[str, ...]:
        return (self.description, *self.examples)


@dataclass(frozen=True)
class Codebook:
    name: str
    version: int
    frames: tuple[Frame, ...]
    description: str = ""
    source: str = ""  # file it was read from, for messages
    topic: Topic | None = None

    @property
    def ids(self) -> list[str]:
        return [f.id for f in self.frames]

    def keyword_hits(self, texts: list[str]) -> np.ndarray:
        """(n, F) counts of each frame's keywords in each text: whole words, any case."""
        pats = [re.compile(r"\b(?:" + "|".join(re.escape(k) for k in f.keywords) + r")\b", re.I) if f.keywords
                else None for f in self.frames]
        out = np.zeros((len(texts), len(pats)), np.float32)
        for j, pat in enumerate(pats):
            if pat is not None:
                out[:, j] = [len(pat.findall(t)) for t in texts]
        return out

    def prototype_texts(self) -> list[str]:
        """Every text the zero-shot scorer embeds: the examples, frame by frame, then each
        frame's description as embedded (`embedded_descriptions`)."""
        return [e for f in self.frames for e in f.examples] + self.embedded_descriptions()

    def embedded_descriptions(self) -> list[str]:
        """Each frame's description as the scorer embeds it: without its boundary notes, the
        sentences that begin with "Not" or "Nor" or name another frame by its id. Those notes
        guide a human coder, but a sentence embedding has no negation: "Not the trade flows
        (energy_trade)" pulls the vector toward trade. A description of notes only is kept whole."""
        out = []
        for f in self.frames:
            others = [o.id for o in self.frames if o.id != f.id]
            kept = [s for s in _SENTENCE_END.split(f.description)
                    if not _NEGATION.match(s) and not any(_names_frame(s, o) for o in others)]
            out.append(" ".join(kept) or f.description)
        return out

    def frame(self, frame_id: str) -> Frame:
        for f in self.frames:
            if f.id == frame_id:
                return f
        raise KeyError(frame_id)

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "version": self.version, "description": self.description, "frames": []}
        for f in self.frames:
            fd = asdict(f)
            fd["examples"] = list(f.examples)
            fd["keywords"] = list(f.keywords)
            if f.code is None:
                fd.pop("code")
            d["frames"].append(fd)
        if self.topic is not None:
            d["topic"] = {"description": self.topic.description, "examples": list(self.topic.examples)}
        return d

    def digest(self) -> str:
        """sha256 of the content that affects scores (not the file's formatting)."""
        content = {k: v for k, v in self.to_dict().items() if k != "description"}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)


def parse_codebook(data: Any, source: str = "<codebook>") -> Codebook:
    """Validate a parsed YAML document; every problem names the file and the frame."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CodebookError(f"{source}: a codebook is a mapping with 'name', 'version' and 'frames'")
    name = str(data.get("name") or "").strip()
    if not name:
        problems.append("missing 'name'")
    try:
        version = int(data.get("version", 1))
    except (TypeError, ValueError):
        problems.append(f"'version' must be a whole number, got {data.get('version')!r}")
        version = 1
    raw_frames = data.get("frames")
    if not isinstance(raw_frames, list) or not raw_frames:
        raise CodebookError(f"{source}: 'frames' must be a non-empty list")
    frames: list[Frame] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_frames, start=1):
        where = f"frame {i}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping with id, label, description, examples")
            continue
        fid = str(raw.get("id") or "").strip()
        where = f"frame {i} ({fid or 'no id'})"
        if not fid:
            problems.append(f"{where}: missing 'id'")
        elif not _ID.match(fid):
            problems.append(f"{where}: id must be lower_snake_case letters/digits, got {fid!r}")
        elif fid in seen:
            problems.append(f"{where}: duplicate id {fid!r}")
        seen.add(fid)
        desc = str(raw.get("description") or "").strip()
        if not desc:
            problems.append(f"{where}: empty description")
        examples = raw.get("examples") or []
        if isinstance(examples, str):
            examples = [examples]
        examples = tuple(str(e).strip() for e in examples if str(e).strip())
        if len(examples) < 1:
            problems.append(f"{where}: needs at least 1 example")
        keywords = raw.get("keywords") or []
        if isinstance(keywords, str):
            keywords = [k.strip() for k in keywords.split(",")]
        frames.append(Frame(
            id=fid, label=str(raw.get("label") or fid).strip(), description=desc, examples=examples,
            keywords=tuple(str(k).strip() for k in keywords if str(k).strip()), code=raw.get("code"),
        ))
    topic = _topic(data.get("topic"), problems)
    if problems:
        raise CodebookError(f"{source}: " + "; ".join(problems))
    return Codebook(name, version, tuple(frames), str(data.get("description") or "").strip(), source, topic)


def _topic(raw: Any, problems: list[str]) -> Topic | None:
    """The optional `topic: {description, examples}` block; problems are appended."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append("topic: must be a mapping with 'description' and optional 'examples'")
        return None
    description = str(raw.get("description") or "").strip()
    if not description:
        problems.append("topic: empty description")
    examples = raw.get("examples") or []
    if isinstance(examples, str):
        examples = [examples]
    if not isinstance(examples, list):
        problems.append("topic: 'examples' must be a list of passages")
        examples = []
    return Topic(description, tuple(str(e).strip() for e in examples if str(e).strip()))


MAX_CODEBOOK_CHARS = 200_000  # the shipped codebooks are under 20 kB; the editor enforces it too


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without aliases: `*name` could multiply a small file into gigabytes (a
    "billion laughs"), and a codebook never needs one."""

    def compose_node(self, parent, index):  # noqa: ANN001 (PyYAML's signature)
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a codebook",
                                              event.start_mark)
        return super().compose_node(parent, index)


def load_codebook(path: str | Path) -> Codebook:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CODEBOOK_CHARS * 4 + 1)  # at most 4 UTF-8 bytes a character
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise CodebookError(f"{path}: codebook file not found") from None
    except UnicodeDecodeError:
        raise CodebookError(f"{path}: not UTF-8 text") from None
    return parse_codebook_text(text, str(path))


def parse_codebook_text(text: str, source: str = "<codebook>") -> Codebook:
    if len(text) > MAX_CODEBOOK_CHARS:
        raise CodebookError(f"{source}: {len(text):,} characters; a codebook may have at most "
                            f"{MAX_CODEBOOK_CHARS:,}")
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise CodebookError(f"{source}:{line} invalid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_codebook(data, source)


def save_new_version(codebook: Codebook, folder: str | Path) -> Path:
    """Write `codebook` as the next version in `folder`; existing files are never replaced.

    The file is named after the codebook (slug) and version, e.g. `partnership_v3.yaml`;
    the version becomes one more than the highest version already saved under that slug.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "_", codebook.name.lower()).strip("_") or "codebook"
    versions = [codebook.version]
    for f in folder.glob(f"{slug}_v*.yaml"):
        m = re.fullmatch(rf"{re.escape(slug)}_v(\d+)\.yaml", f.name)
        if m:
            versions.append(int(m.group(1)))
    version = max(versions) + 1
    out = folder / f"{slug}_v{version}.yaml"
    saved = Codebook(codebook.name, version, codebook.frames, codebook.description, str(out), codebook.topic)
    with open(out, "x", encoding="utf-8") as fh:  # "x": fail rather than overwrite
        fh.write(saved.to_yaml())
    return out
