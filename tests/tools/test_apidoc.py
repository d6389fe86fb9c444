"""The API reference page (docs/api.md) is built from the docstrings on every test run: a
public member of ChainClient or Metagraph without a docstring, or a page that no longer matches
the code, fails here."""

from __future__ import annotations

from pathlib import Path

from subnetkit.tools import apidoc

ROOT = Path(__file__).parents[2]


def test_api_page_matches_the_code() -> None:
    text = apidoc.render()  # raises MissingDocstring for an undocumented public member
    committed = (ROOT / apidoc.PAGE).read_text()
    assert committed == text, "docs/api.md is stale: run python -m subnetkit.tools.apidoc"
    for name in ("ChainClient", "Metagraph", "metagraph(", "uid_for_hotkey(", "weights"):
        assert name in text


def test_a_member_without_a_docstring_breaks_the_page(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from subnetkit.chain.metagraph import Metagraph

    def undocumented(self: Metagraph) -> None:
        pass

    monkeypatch.setattr(Metagraph, "undocumented", undocumented, raising=False)
    try:
        apidoc.render()
    except apidoc.MissingDocstring as exc:
        assert "Metagraph.undocumented" in str(exc)
    else:
        raise AssertionError("an undocumented member went unnoticed")
