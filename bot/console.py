"""The console adapter: type commands, read replies, watch nudges arrive. No tokens needed.

It is also the full-stack fixture the end-to-end tests drive through a real process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import tzlocal

from bot import picture
from bot.runtime import Runtime
from bot.settings import data_dir
from habits import timekeeping as tk
from habits.catalogue import Form, M
from habits.delivery import Outcome, SendResult
from habits.messages import PLAIN, CommandRef, MemberText, Notice, Reply, render, render_body, say
from habits.model import MemberRef, Platform

QUIT_WORDS = {"quit", "exit", ":q", "/quit", "/exit"}


def machine_zone(
    tz_variable: str | None = None, *, system_zone: Callable[[], str | None] | None = None
) -> str | None:
    """This machine's IANA zone: the TZ setting when it names one, else the system's as tzlocal
    reads it (the /etc/localtime link and distribution files, macOS, the Windows registry).

    A legacy name comes back as its current one; None when neither names a zone we know.
    """
    candidates = [(tz_variable or "").lstrip(":")]
    # Conflicting system settings, or files that cannot be read: the TZ setting or nothing.
    with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, OSError, ValueError):
        candidates.append((system_zone or tzlocal.get_localzone_name)() or "")
    for name in candidates:
        if name in tk.known_zone_names():
            return tk.preferred_zone_name(name)  # "Etc/UTC" → "UTC", "Europe/Kiev" → "Europe/Kyiv"
    return None


class ConsoleSender:
    """Prints nudges and check-ins to the terminal, between the replies."""

    def __init__(self, out: TextIO, prompt: str):
        self.out = out
        self.prompt = prompt

    async def send(self, notice: Notice) -> SendResult:
        title = render(notice.title, PLAIN)
        lines = [f"\n🔔 {title} for {notice.member.display_name or notice.member.user_id}"]
        lines += [f"   {line}" for line in render_body(notice.body, PLAIN).splitlines()]
        if notice.actions:
            hints = " · ".join(
                f"{render(a.label, PLAIN)}: {a.command.typed}" for a in notice.actions
            )
            lines.append(f"   ({hints})")
        self.out.write("\n".join(lines) + "\n" + self.prompt)
        self.out.flush()
        return SendResult(Outcome.SENT)


def save_attachment(folder: Path, filename: str, content: bytes, now: datetime) -> Path:
    """Write a new file in ``folder`` named after ``filename`` and the UTC time
    (habit-coach-export-20261123T090000Z.json); an earlier file is never overwritten."""
    stem, dot, suffix = filename.rpartition(".")
    stem, suffix = (stem, dot + suffix) if dot else (filename, "")
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        path = folder / f"{stem}-{stamp}{'' if attempt == 1 else f'-{attempt}'}{suffix}"
        try:
            with path.open("xb") as file:  # "x": fails rather than replace an existing file
                file.write(content)
        except FileExistsError:
            continue
        return path.resolve()
    raise FileExistsError(f"{folder} has every name for {stem}-{stamp}{suffix}")


def render_reply(reply: Reply, export_dir: Path, now: datetime) -> str:
    """The reply as console text; a file it carries (the export, the picture of the year) is
    written to ``export_dir`` and its path shown."""
    text = render_body(reply.body, PLAIN)
    if reply.year is not None:
        text += "\n" + picture.heatmap(reply.year)
    if reply.actions:
        hints = (f"[{render(a.label, PLAIN)}: {a.command.typed}]" for a in reply.actions)
        text += "\n" + " · ".join(hints)
    if reply.attachment is not None:
        attachment = reply.attachment
        path = save_attachment(export_dir, attachment.filename, attachment.content, now)
        text += "\n" + render(say(M.CONSOLE_SAVED, path=str(path)), PLAIN)
    return text


async def run_console(
    runtime: Runtime,
    name: str,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    export_dir: Path | None = None,
) -> int:
    interactive = stdin.isatty()
    prompt = "> " if interactive else ""
    member = MemberRef.console(name)
    export_dir = export_dir or data_dir()
    sender = ConsoleSender(out, prompt)
    runtime.start_scheduler({Platform.CONSOLE: sender})

    help_command = CommandRef.to(Form.HABIT_HELP)
    out.write(render(say(M.CONSOLE_WELCOME, name=MemberText(name), help=help_command), PLAIN))
    out.write("\n")
    out.write(prompt)
    out.flush()

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read_lines() -> None:
        try:
            for line in stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except RuntimeError:  # the loop is closed: the console already left (Ctrl-C)
            return

    threading.Thread(target=read_lines, name="console-stdin", daemon=True).start()
    while True:
        line = await lines.get()
        if line is None or line.strip().lower() in QUIT_WORDS:
            break
        if not line.strip():
            out.write(prompt)
            out.flush()
            continue
        reply = await picture.with_picture(await runtime.call(runtime.coach.handle, member, line))
        out.write(render_reply(reply, export_dir, runtime.coach.now()) + "\n" + prompt)
        out.flush()
    out.write("\n" + render(say(M.CONSOLE_BYE), PLAIN) + "\n")
    out.flush()
    return 0
