"""Models made here from installed packages: the split all-mpnet-base-v2 zip, joined and checked."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest

from analysis import local_models
from analysis.errors import ModelUnavailableError


def _split_zip(tmp_path, files: dict[str, bytes], n_pieces: int = 3):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    blob = buf.getvalue()
    step = -(-len(blob) // n_pieces)
    pieces = []
    for i in range(n_pieces):
        p = tmp_path / f"model.zip.{i + 1:03d}"
        p.write_bytes(blob[i * step:(i + 1) * step])
        pieces.append(p)
    return pieces, hashlib.sha256(blob).hexdigest()


FILES = {"m/config.json": b'{"hidden_size": 8}', "m/1_Pooling/config.json": b"{}", "m/desktop.ini": b"[x]",
         "m/model.safetensors": bytes(range(256)) * 40}


def test_the_pieces_are_joined_checked_and_unpacked_below_the_top_folder(tmp_path):
    pieces, sha = _split_zip(tmp_path, FILES)
    target = tmp_path / "models" / "m-1"
    local_models.build_once(target, "done.json", lambda folder: local_models.join_split_zip(pieces, sha, folder))
    got = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert got == ["1_Pooling/config.json", "config.json", "done.json", "model.safetensors"]  # no desktop.ini, no zip
    assert (target / "model.safetensors").read_bytes() == FILES["m/model.safetensors"]


def test_a_damaged_piece_is_refused_and_leaves_nothing_behind(tmp_path):
    pieces, sha = _split_zip(tmp_path, FILES)
    data = bytearray(pieces[1].read_bytes())
    data[10] ^= 0xFF
    pieces[1].write_bytes(bytes(data))
    target = tmp_path / "models" / "m-1"
    with pytest.raises(ModelUnavailableError, match=r"model\.zip\.002.*not the pinned.*reinstall"):
        local_models.build_once(target, "done.json", lambda folder: local_models.join_split_zip(pieces, sha, folder))
    assert not target.exists() and [p for p in target.parent.iterdir() if p.is_dir()] == []


def test_a_missing_piece_package_names_the_install_command():
    with pytest.raises(ModelUnavailableError, match=r"no-such-piece-package.*\.\[quality\]"):
        local_models.split_pieces(("no-such-piece-package",))
    assert not local_models.installed(("no-such-piece-package",))


needs_quality = pytest.mark.skipif(not local_models.installed(local_models.QUALITY_PARTS),
                                   reason="the quality extra (all-mpnet-base-v2 pieces) is not installed")


@pytest.fixture(scope="module")
def quality_embedder(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv(local_models.MODELS_ENV, str(tmp_path_factory.mktemp("models")))
    from analysis.embeddings import SentenceTransformerEmbedder

    yield SentenceTransformerEmbedder(local_models.QUALITY_MODEL, precision="auto")
    mp.undo()


@needs_quality
def test_the_installed_pieces_give_a_working_mpnet(quality_embedder):
    assert quality_embedder.model_id.startswith(f"{local_models.QUALITY_MODEL}@")
    assert quality_embedder.dim == 768 and quality_embedder.max_tokens == 384
    v = quality_embedder.encode(["Russia sells more oil to China.", "China buys more Russian crude.",
                                 "The orchestra played Brahms last night."])
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


@needs_quality
@pytest.mark.slow
def test_the_quality_model_finds_the_demo_gold_frames_better(quality_embedder, tmp_path):
    """The reason to offer it: on the project's own gold paragraphs the partnership codebook's
    zero-shot frames agree with the coders more often than with MiniLM."""
    from analysis.codebook import load_codebook
    from analysis.config import DEFAULT_CODEBOOK
    from analysis.embeddings import load_embedder
    from analysis.framing import CodebookScorer
    from analysis.validation import LabelledPassages, top1_metrics
    from bench.common import demo_labels

    codebook = load_codebook(DEFAULT_CODEBOOK)
    gold = demo_labels(tmp_path, codebook)
    pick = np.random.default_rng(0).permutation(np.flatnonzero(gold.single))[:200]
    labels = LabelledPassages([gold.texts[i] for i in pick], gold.y[pick], gold.frame_ids, gold.source)
    f1 = {}
    for name, encoder in (("minilm", load_embedder()), ("mpnet", quality_embedder)):
        scores = CodebookScorer(codebook, encoder).score(encoder.encode(labels.texts), labels.texts).scores
        f1[name] = top1_metrics(labels, scores)["macro_f1"]
    assert f1["mpnet"] > f1["minilm"] + 0.03, f1
