"""A member's export and forget as an auditor checks them, on SQLite and PostgreSQL: the export
holds every row that names the member, and after forget a dump of every table holds none of the
member's ids or words, while the workspace's Slack installation keeps working for everyone else.

Built by the composition root, so the Slack installation records are wired in as in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import Engine, select

from bot.bootstrap import bootstrap
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.installations import INSTALLATION_KIND, REDACTED, RecordInstallationStore
from habits.coach import Coach
from habits.model import DeliveryStatus, ManualClock, MemberRef
from storage.database import make_engine
from storage.tables import adapter_records, members, metadata

MON_0900_BERLIN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # the weekly check-in
ADA = MemberRef.slack("T1", "UADA4242", "Ada Quillfeather")
BO = MemberRef.slack("T1", "UBO7777", "Bo")
# Everything of Ada's that must leave with her: her ids, her words, her secrets.
ADA_MARKS = (
    "UADA4242",
    "Quillfeather",
    "https://ada.example/first-essay",
    "Inkwell musings",
    "Second inkwell",
    "req-ada-1",
    "req-ada-2",
    "xoxp-ada-user-token",
    "refresh-ada",
    "essaylet",
    "cannot_dm UADA4242",
)


@pytest.fixture
def runtime(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    settings = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    runtime = bootstrap(settings, clock=clock)
    yield runtime
    runtime.close()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, pool_size=1)
    yield engine
    engine.dispose()


def installation(user: str, user_token: str | None = None) -> Installation:
    return Installation(
        app_id="ATEST",
        team_id="T1",
        user_id=user,
        user_token=user_token,
        user_scopes=["identity.basic"] if user_token else "",
        user_refresh_token="refresh-ada" if user_token else None,
        bot_token="xoxb-workspace",
        bot_id="BT1",
        bot_user_id="UBOTT1",
        bot_scopes=["chat:write"],
    )


def ok(coach: Coach, ref: MemberRef, text: str, request_key: str | None = None) -> Any:
    reply = coach.handle(ref, text, request_key=request_key)
    assert reply.ok, (text, reply.text)
    return reply


async def populate(runtime: Runtime, clock: ManualClock) -> None:
    """Ada with a row of every kind: goal history, rest weeks, publications with request keys,
    a coaching step, deliveries retried and failed with details, the unreachable mark, and the
    Slack installation she made (with her user token); Bo, with data of his own."""
    coach, outbox = runtime.coach, runtime.outbox
    await RecordInstallationStore(runtime).async_save(
        installation("UADA4242", "xoxp-ada-user-token")
    )
    for ref, label in ((ADA, "essaylet"), (BO, "post")):
        ok(coach, ref, "/timezone Europe/Berlin")
        ok(coach, ref, f"/goal 2 {label}")
    ok(coach, ADA, "/published https://ada.example/first-essay Inkwell musings", "req-ada-1")
    ok(coach, ADA, "/published Second inkwell", "req-ada-2")
    ok(coach, BO, "/published https://bo.example/x Bo's post", "req-bo-1")
    ok(coach, ADA, "/nudges smaller")  # a coaching step is remembered
    ok(coach, ADA, "/goal rest")
    clock.set(MON_0900_BERLIN)
    outbox.sweep(["slack"])
    lease = timedelta(minutes=1)
    for delivery in outbox.claim(["slack"], "replica-a", lease):
        outbox.retry_later(delivery, timedelta(0), f"HTTP 502 for {delivery.user_id}")
    clock.advance(timedelta(seconds=1))
    for delivery in outbox.claim(["slack"], "replica-a", lease):
        if delivery.user_id == ADA.user_id:
            outbox.mark_unreachable(delivery, f"cannot_dm {delivery.user_id}")
        else:
            outbox.finish(delivery, DeliveryStatus.SENT)


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the coach has, as an auditor would read them."""
    with engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in metadata.sorted_tables
        }


def text_of(rows: object) -> str:
    return json.dumps(rows, default=str, ensure_ascii=False)


def member_id(engine: Engine, ref: MemberRef) -> int:
    with engine.connect() as connection:
        found = connection.execute(
            select(members.c.id).where(members.c.user_id == ref.user_id)
        ).scalar_one()
    return int(found)


def shown(value: object) -> object:
    """A stored value as the export writes it."""
    return value.isoformat() if isinstance(value, date | datetime) else value


def exported(runtime: Runtime, ref: MemberRef) -> dict[str, Any]:
    reply = runtime.coach.handle(ref, "/habit export")
    assert reply.attachment is not None, reply.text
    return dict(json.loads(reply.attachment.content))


# Where the export shows each column of the member's row (some in words: days, a time).
MEMBER_COLUMNS = {
    "platform": ("platform",),
    "workspace": ("workspace",),
    "user_id": ("user_id",),
    "display_name": ("display_name",),
    "created_at": ("created_at",),
    "timezone": ("timezone",),
    "week_starts_on": ("week_starts_on",),
    "goal_target": ("goal", "target"),
    "goal_label": ("goal", "label"),
    "nudge_days": ("nudges", "days"),
    "nudge_minute": ("nudges", "time"),
    "nudges_on": ("nudges", "on"),
    "paused_until": ("nudges", "paused_until"),
    "rest_until": ("nudges", "rest_until"),
    "next_nudge_at": ("nudges", "next_nudge_at"),
    "next_checkin_at": ("nudges", "next_checkin_at"),
    "heads_up_enabled": ("nudges", "heads_up"),
    "last_step": ("last_step",),
    "unreachable": ("unreachable",),
    "freezes_enabled": ("freezes", "on"),
}
# The export's section for each table keyed by member, and the columns it leaves out: the
# internal ids, and which process holds a delivery's lease until when.
SECTIONS = {
    "goal_changes": ("goal_changes", {"id", "member_id"}),
    "publications": ("publications", {"id", "member_id"}),
    "deliveries": ("deliveries", {"id", "member_id", "lease_owner", "lease_until"}),
}


async def test_export_holds_every_row_that_names_the_member(
    runtime: Runtime, engine: Engine, clock: ManualClock
) -> None:
    await populate(runtime, clock)
    ada = member_id(engine, ADA)
    rows = dump(engine)

    data = exported(runtime, ADA)

    (member,) = [row for row in rows["members"] if row["id"] == ada]
    assert set(MEMBER_COLUMNS) == set(member) - {"id"}, "a new column needs a place in the export"
    for column, path in MEMBER_COLUMNS.items():
        value: Any = data["member"]
        for part in path:
            value = value[part]
        assert value is not None or member[column] is None, column
        if column not in ("week_starts_on", "nudge_days", "nudge_minute"):  # shown in words
            assert value == shown(member[column]), column
    assert data["member"]["unreachable"] is True
    assert data["member"]["last_step"] is not None
    for table, (section, left_out) in SECTIONS.items():
        theirs = [row for row in rows[table] if row["member_id"] == ada]
        assert theirs, table
        assert len(data[section]) == len(theirs), table
        for row in theirs:
            wanted = {k: shown(v) for k, v in row.items() if k not in left_out}
            assert wanted in data[section], (table, wanted)
    ada_rest = sorted(shown(r["week_start"]) for r in rows["rest_weeks"] if r["member_id"] == ada)
    assert ada_rest
    assert data["rest_weeks"] == ada_rest
    assert {d["detail"] for d in data["deliveries"]} == {"cannot_dm UADA4242"}
    assert [d["attempts"] for d in data["deliveries"]] == [2]
    # The Slack installations naming her: the workspace's and her own, every secret masked.
    records = {r["key"]: r["data"] for r in data["adapter_records"]}
    assert set(records) == {"-:T1", "-:T1:UADA4242"}
    for record in records.values():
        assert record["user_id"] == "UADA4242"
        assert record["user_token"] == record["bot_token"] == REDACTED
    assert "xoxp-ada-user-token" not in text_of(data)
    assert "xoxb-workspace" not in text_of(data)
    # Nothing of Bo's.
    assert "UBO7777" not in text_of(data)
    assert "bo.example" not in text_of(data)


async def test_after_forget_no_table_holds_anything_of_the_member(
    runtime: Runtime, engine: Engine, clock: ManualClock
) -> None:
    await populate(runtime, clock)
    ada = member_id(engine, ADA)
    before = text_of(dump(engine))
    for mark in ADA_MARKS:
        assert mark in before, mark  # the audit looks for what was really there
    bo_before = exported(runtime, BO)

    reply = ok(runtime.coach, ADA, "/habit forget confirm")

    assert "deleted" in reply.text
    rows = dump(engine)
    after = text_of(rows)
    for mark in ADA_MARKS:
        assert mark not in after, mark
    for table in metadata.sorted_tables:
        if "member_id" in table.c:
            assert all(row["member_id"] != ada for row in rows[table.name]), table.name
    assert all(row["id"] != ada for row in rows["members"])
    # Bo keeps everything, and the workspace's installation still works.
    assert exported(runtime, BO) == bo_before
    store = RecordInstallationStore(runtime)
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None
    assert bot.bot_token == "xoxb-workspace"
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert found.bot_token == "xoxb-workspace"
    assert found.user_token is None
    assert (
        await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="UADA4242")
        is None
    )
    # She is a stranger again: nothing to export, nothing to delete.
    assert runtime.coach.handle(ADA, "/habit export").attachment is None
    assert "nothing to delete" in ok(runtime.coach, ADA, "/habit forget confirm").text


async def test_an_installer_who_never_used_the_coach_can_export_and_forget(
    runtime: Runtime, engine: Engine
) -> None:
    await RecordInstallationStore(runtime).async_save(
        installation("UADA4242", "xoxp-ada-user-token")
    )

    data = exported(runtime, ADA)
    assert data["member"] is None
    assert len(data["adapter_records"]) == 2
    ok(runtime.coach, ADA, "/habit forget confirm")

    with engine.connect() as connection:
        documents = list(connection.execute(select(adapter_records.c.kind, adapter_records.c.data)))
    assert all("UADA4242" not in data for _, data in documents)
    assert any(kind == INSTALLATION_KIND for kind, _ in documents)  # the workspace's, kept
    assert all(row["user_id"] != "UADA4242" for row in dump(engine)["members"])


async def test_forget_of_someone_else_leaves_the_installers_records_alone(
    runtime: Runtime,
) -> None:
    await RecordInstallationStore(runtime).async_save(
        installation("UADA4242", "xoxp-ada-user-token")
    )
    ok(runtime.coach, BO, "/goal 1")

    ok(runtime.coach, BO, "/habit forget confirm")

    found = await RecordInstallationStore(runtime).async_find_installation(
        enterprise_id=None, team_id="T1", user_id="UADA4242"
    )
    assert found is not None
    assert found.user_token == "xoxp-ada-user-token"
