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


# Where the Go that built the decoder is older than the controller's (Go 1.24.9 for
# v1.9.1): the fix for CVE-2025-47912 (Go 1.24.8) refuses brackets around anything but an
# IPv6 address, and a `[` anywhere else in the host. Debian's Go 1.19 accepts these.
BRACKET_FIX = {
    "https://[1.2.3.4]/x",
    "https://[foo]/x",
    "https://a[b]/x",
}


def _older_than_the_fix(version: str) -> bool:
    numbers = tuple(
        int(part) for part in version.removeprefix("go").split(".")[:3] if part.isdigit()
    )
    return numbers < (1, 24, 8) or numbers[:2] == (1, 23)


def test_locations_parse_as_go_parses_them(decoder: Path) -> None:
    locations = list(cases.locations())
    answers = agreement.run_go(
        decoder,
        [{"id": str(i), "mode": "url", "data": raw} for i, (_, raw) in enumerate(locations)],
    )
    differing = []
    for index, (_, raw) in enumerate(locations):
        answer = answers[str(index)]
        if raw in BRACKET_FIX and _older_than_the_fix(answer["go"]):
            continue
        theirs, ours = agreement.go_url_verdict(answer), agreement.our_url_verdict(raw)
        if theirs != ours:
            differing.append(f"{raw!r}: go {answer['error'] or theirs} / our {ours}")
    assert not differing, "\n".join(differing)
