import pytest
import yaml

from analysis.codebook import load_codebook, parse_codebook, parse_codebook_text, save_new_version
from analysis.config import CODEBOOK_DIR
from analysis.errors import CodebookError


def test_shipped_codebooks_are_valid_and_complete():
    p = load_codebook(CODEBOOK_DIR / "partnership.yaml")
    assert len(p.frames) >= 9 and all(len(f.examples) >= 6 for f in p.frames)
    assert {"energy_trade", "military_tech", "ukraine_war", "multipolar_order", "personal_diplomacy",
            "stability_nonalignment", "asymmetry_dependence", "threat_west", "regional_arenas"} <= set(p.ids)
    assert len(load_codebook(CODEBOOK_DIR / "generic_policy_frames.yaml").frames) == 15
    assert len(load_codebook(CODEBOOK_DIR / "generic_news_frames.yaml").frames) == 5
    gvfc = load_codebook(CODEBOOK_DIR / "gvfc.yaml")
    assert sorted(int(f.code) for f in gvfc.frames) == list(range(1, 10))


def doc(**frame_overrides):
    frame = {"id": "energy", "label": "Energy", "description": "Gas and oil.", "examples": ["Gas flows rose."]}
    frame.update(frame_overrides)
    return {"name": "t", "version": 1, "frames": [frame]}


@pytest.mark.parametrize(("override", "message"), [
    ({"description": ""}, "description"),
    ({"examples": []}, "example"),
    ({"id": "Bad Id"}, "id"),
])
def test_invalid_frames_are_reported_with_file_and_frame(override, message):
    with pytest.raises(CodebookError) as err:
        parse_codebook(doc(**override), source="my.yaml")
    assert "my.yaml" in str(err.value) and message in str(err.value)


def test_duplicate_ids_are_rejected():
    d = doc()
    d["frames"].append(dict(d["frames"][0]))
    with pytest.raises(CodebookError, match="my.yaml.*energy"):
        parse_codebook(d, source="my.yaml")


def test_broken_yaml_is_a_codebook_error():
    with pytest.raises(CodebookError, match="x.yaml"):
        parse_codebook_text("frames: [unclosed", source="x.yaml")


def test_saving_makes_a_new_version_and_never_overwrites(tmp_path):
    cb = parse_codebook(doc())
    first = save_new_version(cb, tmp_path)
    second = save_new_version(cb, tmp_path)
    assert first != second and first.exists() and second.exists()
    assert load_codebook(second).frames == cb.frames
    assert (first.name, second.name) == ("t_v2.yaml", "t_v3.yaml")
    assert yaml.safe_load(second.read_text())["version"] == 3


def test_the_embedded_description_drops_notes_that_point_at_other_frames():
    """A sentence embedding has no negation: "Not arms (military)" would pull a frame toward the
    frame it excludes, so the scorer embeds the description without such notes."""
    d = doc(description="Gas and oil deals and the politics of energy prices. Not only pipelines but LNG too. "
                        "Not arms supplies (military); the weapons trade is military_supplies. Nor summitry.")
    d["frames"].append({"id": "military_supplies", "label": "Military", "examples": ["Tanks were sold."],
                        "description": "Not gas (energy)."})
    d["frames"].append({"id": "politics", "label": "Politics", "examples": ["A vote."],
                        "description": "Parties and votes."})
    cb = parse_codebook(d)
    energy, military, politics = cb.embedded_descriptions()
    # the plain word "politics" is not a reference to the politics frame; "(energy)" would be
    assert energy == "Gas and oil deals and the politics of energy prices. Not only pipelines but LNG too."
    assert military == "Not gas (energy)."  # notes only: kept whole rather than left empty
    assert politics == "Parties and votes."
    assert [f.description for f in cb.frames][0].endswith("Nor summitry.")  # what the user wrote is kept
    assert cb.prototype_texts() == ["Gas flows rose.", "Tanks were sold.", "A vote.", energy, military, politics]
