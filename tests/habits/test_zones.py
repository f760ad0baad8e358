"""Time zones as members type them: resolving a place, abbreviations, offsets and search."""

from __future__ import annotations

import pytest

from habits import timekeeping as tk
from habits.zones import (
    POPULAR_ZONES,
    ZONE_ABBREVIATIONS,
    resolve_zone,
    search_zones,
    suggest_zones,
    typed_offset,
)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("EUROPE/BERLIN", "Europe/Berlin"),
        ("Berlin", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("los angeles", "America/Los_Angeles"),
        ("kiev", "Europe/Kyiv"),  # the old name finds the place, stored by its current name
        ("Europe/Kiev", "Europe/Kyiv"),
        ("US/Eastern", "America/New_York"),
        ("Etc/UTC", "UTC"),
        ("UTC", "UTC"),
        ("oslo", "Europe/Oslo"),
        ("Mars/Olympus", None),
        ("", None),
    ],
)
def test_resolve_zone(text: str, name: str | None) -> None:
    assert resolve_zone(text) == name


# --- zone search (Discord's autocomplete) ----------------------------------------------------


def test_zone_search_puts_cities_that_start_with_the_text_first() -> None:
    found = search_zones("berl")

    assert found[0] == "Europe/Berlin"


def test_zone_search_understands_spaces_for_underscores() -> None:
    assert search_zones("new york")[0] == "America/New_York"


def test_zone_search_by_area_lists_only_that_area_up_to_the_limit() -> None:
    found = search_zones("Australia/", limit=25)

    assert 0 < len(found) <= 25
    assert all(name.startswith("Australia/") for name in found)


def test_zone_search_offers_near_misses() -> None:
    assert "Europe/Berlin" in search_zones("Berlim")


def test_zone_search_with_nothing_typed_offers_popular_zones() -> None:
    found = search_zones("", limit=5)

    assert found == list(POPULAR_ZONES[:5])
    assert all(name in tk.known_zone_names() for name in POPULAR_ZONES)


def test_zone_search_leaves_out_legacy_aliases() -> None:
    assert not any(name.startswith("US/") for name in search_zones("eastern"))


def test_zone_search_shows_a_renamed_zone_once_by_its_current_name() -> None:
    found = search_zones("kyiv")

    assert found[0] == "Europe/Kyiv"
    assert "Europe/Kiev" not in found


def test_zone_search_finds_the_current_name_from_the_old_one() -> None:
    assert search_zones("kiev")[0] == "Europe/Kyiv"
    assert search_zones("calcutta")[0] == "Asia/Kolkata"


def test_zone_search_offers_utc_once() -> None:
    found = search_zones("utc")

    assert found.count("UTC") == 1
    assert "UCT" not in found
    assert not any(name.startswith("Etc/") for name in found)


def test_zone_search_keeps_a_countrys_own_zone_even_when_it_links_to_another() -> None:
    # Europe/Oslo is a link to Europe/Berlin in the database, but it is Norway's zone.
    assert search_zones("oslo") == ["Europe/Oslo"]
    europe = search_zones("Europe/", limit=100)
    assert {"Europe/Oslo", "Europe/Berlin", "Europe/Kyiv"} <= set(europe)
    assert "Europe/Kiev" not in europe


def test_zone_search_maps_legacy_region_names_to_places() -> None:
    assert "America/New_York" in search_zones("eastern")


def test_the_preferred_name_of_a_zone() -> None:
    assert tk.preferred_zone_name("Europe/Kiev") == "Europe/Kyiv"
    assert tk.preferred_zone_name("UCT") == "UTC"
    assert tk.preferred_zone_name("Etc/UTC") == "UTC"
    assert tk.preferred_zone_name("Europe/Oslo") == "Europe/Oslo"
    assert tk.preferred_zone_name("Europe/Berlin") == "Europe/Berlin"


def test_zone_search_never_offers_etc_names() -> None:
    found = search_zones("gmt")

    assert found[:2] == ["Europe/London", "UTC"]  # what "GMT" usually means, not the GMT zone
    assert "GMT" not in found
    assert not any(name.startswith("Etc/") for name in found)


# --- abbreviations, fixed offsets and legacy zones ---------------------------------------------

LEGACY_ZONES = ["EST", "MST", "HST", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT", "CET", "EET"]


def is_place(name: str) -> bool:
    return name == "UTC" or ("/" in name and not name.startswith("Etc/"))


def test_every_abbreviation_means_real_places_by_their_current_names() -> None:
    for abbreviation, places in ZONE_ABBREVIATIONS.items():
        assert places, abbreviation
        for place in places:
            assert place in tk.known_zone_names(), (abbreviation, place)
            assert tk.preferred_zone_name(place) == place, (abbreviation, place)
            assert is_place(place), (abbreviation, place)


def test_no_zone_name_resolves_to_a_legacy_or_fixed_offset_zone() -> None:
    for name in tk.known_zone_names():
        resolved = resolve_zone(name)
        assert resolved is None or is_place(resolved), (name, resolved)
    for name in LEGACY_ZONES:
        assert resolve_zone(name) is None, name


@pytest.mark.parametrize("typed", ["est", "pst", "gmt", "cst", "mst", "hst", "cet", "est5", "+5"])
def test_zone_search_offers_places_not_legacy_names(typed: str) -> None:
    found = search_zones(typed)

    assert found
    assert all(is_place(name) for name in found), found
    assert "America/Panama" not in search_zones("est")[:3]


def test_zone_search_puts_the_places_an_abbreviation_means_first() -> None:
    assert search_zones("EST")[:2] == ["America/New_York", "America/Toronto"]
    assert search_zones("pst")[0] == "America/Los_Angeles"
    assert search_zones("aest")[0] == "Australia/Sydney"


def test_suggestions_for_a_misspelt_zone_are_places() -> None:
    assert all(is_place(name) for name in suggest_zones("ESTT", 5))
    assert all(is_place(name) for name in suggest_zones("Etc/GMT+55", 5))


def test_an_offset_beyond_any_place_is_not_an_offset() -> None:
    assert typed_offset("UTC+15") is None
    assert typed_offset("UTC+5:75") is None
