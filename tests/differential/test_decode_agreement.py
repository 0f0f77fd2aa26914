"""Differential test: the controller's own decoding (sigs.k8s.io/yaml.Unmarshal into a
struct shaped like its PluginItem, built from Debian's sources of that library) against
our reader, case by case, over the real-world corpus and generated variants."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.differential import agreement, cases

LOC = cases.LOC

# Differences we keep on purpose: the data value, and why.
EXCLUSIONS = {
    f"- ~\n- name: a/b\n  location: {LOC}\n": (
        "a null item decodes to an empty PluginItem, which the controller then refuses "
        "(`plugin repository () must be in the format`); we refuse the item itself"
    ),
    f"- name: a/b\n  location: {LOC}\n  Name: [x]\n": (
        "encoding/json type-checks a key that a case variant overrides; we report the "
        "duplicate key, not the overridden value's type"
    ),
    f"- name: a/b\n  location: {LOC}\n  type: [x]\n": (
        "`Type` is overwritten by the controller and reported as an ignored field; a "
        "non-string in it is not diagnosed"
    ),
    f"- name: a/b\n  location: {LOC}\n  ? [k]\n  : v\n": (
        "complex keys are skipped (a Helm `{{ ... }}` reads as one), not refused"
    ),
}


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = agreement.missing_toolchain()
    if reason is not None:
        pytest.skip(reason)
    return agreement.build(tmp_path_factory.mktemp("decode"))


def _cases() -> list[agreement.Case]:
    found = [
        agreement.Case(f"g{index}", family, data)
        for index, (family, data) in enumerate(cases.generated())
    ]
    found += [
        agreement.Case(f"c{index}:{name}", "corpus", data)
        for index, (name, data) in enumerate(cases.corpus())
    ]
    return found


def test_our_reader_decodes_every_case_as_the_controller_does(decoder: Path) -> None:
    all_cases = _cases()
    answers = agreement.run_go(
        decoder, [{"id": case.id, "mode": "decode", "data": case.data} for case in all_cases]
    )
    tally = agreement.compare(all_cases, answers)
    unexpected = [
        f"{case.family} {case.data!r}\n  go:  {theirs}\n  our: {ours}"
        for case, theirs, ours in tally.disagreements
        if case.data not in EXCLUSIONS
    ]
    assert not unexpected, tally.summary() + "\n" + "\n".join(unexpected)
    assert sum(tally.cases.values()) >= 900
    # Every listed exclusion is still a real difference (or it must go).
    differing = {case.data for case, _, _ in tally.disagreements}
    assert differing == set(EXCLUSIONS)


def test_the_corpus_is_part_of_it() -> None:
    if not cases.CORPUS.is_dir():
        pytest.skip(f"no corpus at {cases.CORPUS}")
    assert len(list(cases.corpus())) >= 20
