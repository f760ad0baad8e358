"""Settings validation and the CLI's non-interactive subcommands."""

from __future__ import annotations

import logging
import subprocess
import sys
import zoneinfo
from functools import partial
from pathlib import Path

import pytest
import tzlocal
from pydantic import ValidationError

from bot import cli
from bot.console import machine_zone
from bot.settings import SECRET_SOURCES, Refusal, Settings, refusals, shortest_safe_lease
from tests.fakes.processes import run_env


def test_database_defaults_to_a_sqlite_file_in_the_user_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    url = Settings().database_url
    assert url.startswith("sqlite:///")
    assert url.endswith("habit-coach/habit-coach.db")


@pytest.mark.parametrize("name", ["CHECKIN_GRACE_HOURS", "RECAP_GRACE_HOURS"])
def test_the_check_in_grace_is_read_by_its_name_and_by_the_one_it_had_before(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "12")
    assert Settings().checkin_grace_hours == 12


def test_short_postgres_urls_use_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://coach@db:5432/coach")
    assert Settings().database_url == "postgresql+psycopg://coach@db:5432/coach"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/coach"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus"),
        ("LOG_LEVEL", "LOUD"),
        ("SWEEP_INTERVAL_SECONDS", "0"),
    ],
)
def test_bad_settings_stop_start_up_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["db", "current"])
    assert name in str(stopped.value)


def test_empty_values_in_env_file_fall_back_to_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / ".env").write_text("DATABASE_URL=\nDEFAULT_TIMEZONE=\n", encoding="utf-8")
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.default_timezone is None


def test_db_upgrade_then_current_reports_the_head_revision(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert cli.main(["db", "current"]) == 0
    assert "Applied: none" in capsys.readouterr().out
    assert cli.main(["db", "upgrade"]) == 0
    assert cli.main(["db", "current"]) == 0
    out = capsys.readouterr().out
    applied = out.split("Applied: ")[1].split(";")[0]
    assert applied != "none"
    assert f"newest: {applied}." in out


def test_run_without_any_adapter_says_how_to_proceed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'run.db'}")
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "no chat adapter is configured" in err
    assert "habit-coach console" in err


# --- what run cannot run with ---------------------------------------------------------------------

REFUSED_SETTINGS = [
    pytest.param({"DELIVERY_LEASE_SECONDS": "30"}, "DELIVERY_LEASE_SECONDS", id="short-lease"),
    pytest.param(
        {"SEND_TIMEOUT_SECONDS": "10", "DELIVERY_LEASE_SECONDS": "22"},
        "DELIVERY_LEASE_SECONDS",
        id="lease-shorter-than-a-shortened-send",
    ),
    pytest.param({"DISCORD_TOKEN": "changeme"}, "DISCORD_TOKEN", id="placeholder-token"),
    pytest.param(
        {"SLACK_SIGNING_SECRET": "<your signing secret>"},
        "SLACK_SIGNING_SECRET",
        id="placeholder-signing-secret",
    ),
    pytest.param(
        {"DATABASE_URL": "postgresql://coach:CHANGE-ME@db:5432/coach"},
        "DATABASE_URL",
        id="placeholder-database-password",
    ),
]


def refusal_of(settings: dict[str, str]) -> Refusal:
    """How Settings words its refusal of ``settings`` (doctor shows the same words)."""
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **{k.lower(): v for k, v in settings.items()})  # type: ignore[arg-type]
    (refusal,) = refusals(refused.value)
    return refusal


@pytest.mark.parametrize("command", [["run"], ["console", "--name", "ada"]])
@pytest.mark.parametrize(("settings", "variable"), REFUSED_SETTINGS)
def test_run_and_console_refuse_what_run_cannot_run_with(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: list[str],
    settings: dict[str, str],
    variable: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'coach.db'}")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as stopped:
        cli.main(command)

    message = str(stopped.value)  # printed on stderr; the exit status is 1
    refusal = refusal_of(settings)
    assert refusal.variable == variable
    assert f"\n  {refusal}" in message
    assert "— fix: " in message
    assert not (tmp_path / "coach.db").exists()  # refused before anything was opened
    if variable in SECRET_SOURCES:  # a secret's value is never repeated, placeholder or not
        assert settings[variable] not in message


def test_the_lease_refusal_says_how_long_a_send_may_take_and_what_to_set() -> None:
    refusal = refusal_of({"DELIVERY_LEASE_SECONDS": "30"})
    assert refusal.problem.startswith(
        "DELIVERY_LEASE_SECONDS is 30 s, but a send may take up to 20 s with its pacing and "
        "recording it 5 s more, which must fit in two thirds of the lease"
    )
    assert refusal.fix == "set it to 37.5 or more (default 60), or lower SEND_TIMEOUT_SECONDS"


@pytest.mark.parametrize(
    ("send_timeout", "lease", "accepted"),
    [(20, 37.5, True), (20, 37.4, False), (3, 12, True), (3, 11.9, False)],
)
def test_the_shortest_lease_follows_the_send_timeout(
    send_timeout: float, lease: float, accepted: bool
) -> None:
    assert shortest_safe_lease(20) == 37.5
    try:
        Settings(_env_file=None, send_timeout_seconds=send_timeout, delivery_lease_seconds=lease)  # type: ignore[call-arg]
    except ValidationError:
        assert not accepted
    else:
        assert accepted


def test_a_refused_setting_exits_1_with_the_message_on_stderr(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,  # no .env of the repository's
        env=run_env(DATABASE_URL=f"sqlite:///{tmp_path / 'coach.db'}", DISCORD_TOKEN="changeme"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("habit-coach: configuration problem —\n  DISCORD_TOKEN: ")
    assert str(refusal_of({"DISCORD_TOKEN": "changeme"})) in result.stderr
    assert "Traceback" not in result.stderr


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text(encoding="utf-8")
    listed = {
        line.lstrip("# ").split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].isupper()
    }

    assert {name.upper() for name in Settings.model_fields} <= listed


def test_secrets_never_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-value")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-value")

    settings = Settings()

    assert settings.discord_configured
    assert settings.slack_configured
    shown = repr(settings) + str(settings)
    assert "secret-value" not in shown


def test_debug_logging_keeps_the_sdks_quiet_about_request_bodies() -> None:
    cli.configure_logging("DEBUG")
    try:
        assert logging.getLogger("bot").getEffectiveLevel() == logging.DEBUG
        for name in ("discord.http", "slack_sdk.web.async_base_client", "slack_bolt"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.INFO
    finally:
        logging.getLogger().setLevel(logging.WARNING)
        for name in cli.CHATTY_SDK_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


# --- the console's machine zone ------------------------------------------------------------------


def test_the_console_takes_the_machine_zone_from_the_tz_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/Chicago")
    assert machine_zone(Settings().tz, system_zone=lambda: "Europe/Paris") == "America/Chicago"
    assert machine_zone(":Europe/Berlin", system_zone=lambda: "Europe/Paris") == "Europe/Berlin"


@pytest.mark.skipif(sys.platform == "win32", reason="the TZ variable is how Unix names the zone")
def test_the_tz_environment_variable_is_read_through_tzlocal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", ":Asia/Tokyo")
    monkeypatch.setattr(tzlocal.unix, "_cache_tz_name", None)  # read afresh; restored after

    assert machine_zone() == "Asia/Tokyo"


@pytest.mark.skipif(sys.platform == "win32", reason="/etc/localtime is a Unix file")
def test_the_etc_localtime_link_names_the_zone_by_its_current_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TZ", raising=False)
    zone_file = tmp_path / "usr" / "share" / "zoneinfo" / "Europe" / "Kiev"
    zone_file.parent.mkdir(parents=True)
    zone_file.write_bytes(b"TZif")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "localtime").symlink_to(zone_file)
    # tzlocal's own reading of a system, rooted in the test's folder instead of /.
    system = partial(tzlocal.unix._get_localzone_name, str(tmp_path))

    assert machine_zone(system_zone=system) == "Europe/Kyiv"


@pytest.mark.parametrize(
    ("tz_setting", "system", "expected"),
    [
        ("Etc/UTC", None, "UTC"),  # legacy spellings come back by their current name
        (":Europe/Kiev", None, "Europe/Kyiv"),
        ("Mars/Olympus", "Europe/Berlin", "Europe/Berlin"),  # an unknown TZ: the system's
        ("CET-1CEST,M3.5.0,M10.5.0/3", "Etc/UTC", "UTC"),  # a POSIX rule names no zone
        (None, "Asia/Calcutta", "Asia/Kolkata"),
        ("Mars/Olympus", "Local/Unknown", None),  # nothing known: the caller's default (UTC)
        (None, None, None),
    ],
)
def test_an_unknown_or_legacy_zone_falls_back_sensibly(
    tz_setting: str | None, system: str | None, expected: str | None
) -> None:
    assert machine_zone(tz_setting, system_zone=lambda: system) == expected


def test_conflicting_system_zone_settings_leave_the_tz_setting_or_nothing() -> None:
    def conflicting() -> str:
        raise zoneinfo.ZoneInfoNotFoundError("Multiple conflicting time zone configurations")

    assert machine_zone("Europe/Lisbon", system_zone=conflicting) == "Europe/Lisbon"
    assert machine_zone(None, system_zone=conflicting) is None


def test_shard_ids_are_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "3, 1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.discord_shard_count, settings.discord_shard_ids) == (4, (1, 3))


@pytest.mark.parametrize(
    ("count", "ids", "says"),
    [
        ("", "0", "set DISCORD_SHARD_COUNT too"),
        ("3", "3", "shard 3 is out of range: with DISCORD_SHARD_COUNT=3 the shards are 0 to 2"),
        ("3", "1,1", "shard 1 is listed more than once"),
        ("3", "one", "expected shard numbers separated by commas, like 0,1"),
        ("0", "", "DISCORD_SHARD_COUNT is not valid: Input should be greater than or equal to 1"),
    ],
)
def test_bad_shard_settings_stop_start_up_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, count: str, ids: str, says: str
) -> None:
    monkeypatch.setenv("DISCORD_SHARD_COUNT", count)
    monkeypatch.setenv("DISCORD_SHARD_IDS", ids)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["db", "current"])
    message = str(stopped.value)
    assert says in message
    assert "DISCORD_SHARD_IDS:" in message or "DISCORD_SHARD_COUNT:" in message


def test_the_older_slack_http_names_apply_only_when_the_new_ones_are_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HTTP_HOST", "HTTP_PORT", "SLACK_HTTP_HOST", "SLACK_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert (Settings().http_host, Settings().http_port) == ("0.0.0.0", 8080)

    monkeypatch.setenv("SLACK_HTTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SLACK_HTTP_PORT", "3000")
    assert (Settings().http_host, Settings().http_port) == ("127.0.0.1", 3000)

    monkeypatch.setenv("HTTP_PORT", "9000")
    assert Settings().http_port == 9000  # both set: the new name wins


def test_an_unknown_log_format_stops_start_up_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["db", "current"])
    assert "LOG_FORMAT" in str(stopped.value)
