"""What a worker keeps of its sites' builds between jobs: the sites built last, within a bound on
their files in all; a site is never dropped for its own sake."""

from __future__ import annotations

from tessera.sites import BuildMemory


def sized(memory: dict, files: int) -> None:
    memory["state"] = {"manifest": dict.fromkeys(range(files))}
    memory["parse"] = {}


def test_the_sites_built_last_are_kept_within_the_bound():
    kept = BuildMemory(files=250)
    sized(kept.of("a"), 100)
    sized(kept.of("b"), 100)
    kept.of("a")  # a was built again: b is now the least recently built
    sized(kept.of("c"), 100)
    kept.of("c")  # 300 files in all past the bound of 250: b goes, the others stay
    assert "b" not in kept
    assert "a" in kept and kept.of("c")["state"]


def test_one_site_larger_than_the_bound_is_still_kept():
    kept = BuildMemory(files=10)
    sized(kept.of("big"), 1000)
    assert kept.of("big")["state"]["manifest"]


def test_a_forgotten_site_starts_afresh():
    kept = BuildMemory()
    sized(kept.of("gone"), 5)
    kept.forget("gone")
    assert kept.of("gone") == {}
