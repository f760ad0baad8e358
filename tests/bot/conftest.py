"""Fixtures shared by the adapter tests and the real-process tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord_server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """The project's fake Discord (REST and gateway) on a free port of 127.0.0.1."""
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()
