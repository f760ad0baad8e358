"""The printed report: machine facts and the figures as a Markdown-compatible table."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import sys
from dataclasses import dataclass
from importlib import metadata

HEADER = ("name", "ours", "baseline", "ratio", "target", "met?")


@dataclass(frozen=True)
class Row:
    name: str
    ours: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: str = "—"


def ratio(ours: float, baseline: float) -> str:
    """ours/baseline, with how many times smaller (or larger) ours is."""
    if not baseline or math.isnan(ours) or math.isnan(baseline):
        return "—"
    value = ours / baseline
    if value == 0:
        return "0"
    times = 1 / value if value < 1 else value
    word = "less" if value < 1 else "more"
    return f"{value:.3g} ({times:,.0f}× {word})" if times >= 2 else f"{value:.3g}"


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def seconds(value: float) -> str:
    return f"{value:,.2f} s"


def millis(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def megabytes(value: float) -> str:
    return f"{value / (1024 * 1024):,.1f} MB"


def table(rows: list[Row]) -> str:
    cells = [HEADER, *((r.name, r.ours, r.baseline, r.ratio, r.target, r.met) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(cells[0]), rule, *(line(c) for c in cells[1:])])


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


def machine_facts() -> list[tuple[str, str]]:
    return [
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("platform", platform.platform()),
        ("cpus", str(os.cpu_count())),
        ("sqlite", sqlite3.sqlite_version),
        ("SQLAlchemy", _version("SQLAlchemy")),
        ("APScheduler", _version("APScheduler")),
    ]


def facts_block(title: str, facts: list[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in facts)
    lines = [title]
    lines += [f"  {key.ljust(width)}  {value}" for key, value in facts]
    return "\n".join(lines)


# --- the scale table: one row per figure and database, ours beside the naive baseline ---------

ISSUE_HEADER = ("name", "workload", "database", "ours", "naive baseline", "ratio", "target", "met?")


@dataclass(frozen=True)
class Figure:
    name: str
    workload: str
    database: str
    ours: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: str = "—"


def issue_table(figures: list[Figure]) -> str:
    cells = [ISSUE_HEADER]
    cells += [
        (f.name, f.workload, f.database, f.ours, f.baseline, f.ratio, f.target, f.met)
        for f in figures
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(ISSUE_HEADER))]

    def line(values: tuple[str, ...]) -> str:
        escaped = (v.replace("|", "\\|") for v in values)
        return "| " + " | ".join(v.ljust(w) for v, w in zip(escaped, widths, strict=True)) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(cells[0]), rule, *(line(c) for c in cells[1:])])


def package_versions(packages: tuple[str, ...]) -> str:
    return ", ".join(f"{name} {_version(name)}" for name in packages)


def count(value: int) -> str:
    """100,000 → "100k", 1,000,000 → "1M"; other sizes in full."""
    if value % 1_000_000 == 0:
        return f"{value // 1_000_000}M"
    if value % 1_000 == 0:
        return f"{value // 1_000}k"
    return f"{value:,}"
