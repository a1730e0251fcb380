"""The domain registry: shipped keyword lists, custom domains and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from metasynth_hf.errors import ConfigError
from metasynth_hf.seeds import custom_domain, known_domains, load_domain, resolve_domain
from metasynth_hf.seeds.types import normalise_keyword


@pytest.mark.parametrize("name", ["finance", "biomedicine"])
def test_shipped_domain_has_hundreds_of_distinct_keywords(name):
    domain = load_domain(name)
    assert domain.name == name and len(domain.description) > 80
    assert len(domain.persona_hints) >= 4
    assert len(domain.keywords) >= 300
    keys = [normalise_keyword(k) for k in domain.keywords]
    assert len(set(keys)) == len(keys)
    assert not any(k.startswith("#") for k in domain.keywords)
    raw = [ln for ln in domain.keyword_file.read_text().splitlines() if ln and ln[0] != "#"]
    assert len(raw) == len(domain.keywords)  # the shipped file itself has no duplicates


def test_shipped_domains_do_not_overlap():
    finance = {normalise_keyword(k) for k in load_domain("finance").keywords}
    biomedicine = {normalise_keyword(k) for k in load_domain("biomedicine").keywords}
    assert not finance & biomedicine
    assert {"finance", "biomedicine"} <= set(known_domains())


def test_unknown_domain_lists_known_ones_and_the_custom_route():
    with pytest.raises(ConfigError) as info:
        load_domain("astrology")
    message = str(info.value)
    assert "'astrology'" in message and "finance" in message and "biomedicine" in message
    assert "custom_domain" in message and "keyword file" in message


def test_custom_domain_reads_comments_blanks_and_duplicates(tmp_path):
    path = tmp_path / "law.txt"
    path.write_text("# law\n\ncontract law\n  Tort   Law \ncontract LAW\nstatute of limitations\n")
    domain = custom_domain("law", "Contract and case law.", path, ["a judge"])
    assert domain.keywords == ("contract law", "Tort Law", "statute of limitations")
    assert domain.persona_hints == ("a judge",)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        ("", "holds no keywords"),
        ("# only a comment\n\n", "holds no keywords"),
        (b"\xff\xfe\x00bad", "cannot be read"),
    ],
)
def test_bad_keyword_file_names_the_file(tmp_path, content, expected):
    path = tmp_path / "kw.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=expected) as info:
        custom_domain("x", "Some domain.", path)
    assert str(path) in str(info.value)


def test_custom_domain_needs_a_description(tmp_path):
    path = tmp_path / "kw.txt"
    path.write_text("a\nb\n")
    with pytest.raises(ConfigError, match="description"):
        custom_domain("x", "  ", path)


def test_resolve_domain_from_config_mapping_and_file(tmp_path):
    path = tmp_path / "maritime_law.txt"
    path.write_text("salvage\ncharter party\n")
    from_map = resolve_domain({"name": "sea", "description": "Maritime law.", "keywords": str(path)})
    assert from_map.name == "sea" and from_map.keywords == ("salvage", "charter party")
    from_file = resolve_domain(str(path))
    assert from_file.name == "maritime_law" and from_file.keyword_file == Path(path)
    with pytest.raises(ConfigError, match="missing field"):
        resolve_domain({"name": "sea", "keywords": str(path)})
    with pytest.raises(ConfigError, match="unknown field"):
        resolve_domain({"name": "sea", "description": "d", "keywords": str(path), "kw": 1})
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_domain(str(tmp_path / "nope.txt"))
