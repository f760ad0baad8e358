"""``python -m bench.outage`` at a tiny size: each member sees one message of their nudge through
an outage and a killed replica, where the sender that did not look shows some twice or more."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.outage import killed_replica, outage
from tests.fakes.processes import PROXY_VARIABLES


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):  # the async Slack client ignores NO_PROXY
        if name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)


async def test_an_outage_shows_each_nudge_once(tmp_path: Path) -> None:
    (tmp_path / "ours").mkdir()
    (tmp_path / "blind").mkdir()

    ours = await outage(tmp_path / "ours", 8, 2, blind=False, send_timeout=0.1)
    blind = await outage(tmp_path / "blind", 8, 2, blind=True, send_timeout=0.1)

    assert ours.copies == {1: 8}
    assert ours.statuses == {"sent": 8}
    assert blind.duplicates > 0
    assert blind.lost == 0


async def test_a_killed_replica_shows_each_nudge_once(tmp_path: Path) -> None:
    ours = await killed_replica(tmp_path, 12, blind=False, send_timeout=0.1)

    assert ours.copies == {1: 12}
    assert ours.lookups > 0  # its successor looked before posting what it took over
