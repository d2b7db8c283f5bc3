"""Shared helpers for the benchmarks: summaries, tables, JSON and plots.

Every benchmark writes one JSON file (``bench/results/<name>.json`` unless ``--out``), prints a
plain table, and may draw a PNG with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, 95th percentile, min, max and count of *values* (seconds or any unit).

    An empty list gives ``n == 0`` and None for the figures, so a JSON consumer always finds
    the same keys.
    """
    if not values:
        return {"median": None, "p95": None, "min": None, "max": None, "n": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(arr)),
        "p95": float(np.percentile(arr, 95)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": int(arr.size),
    }


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of *ys* against *xs* (0.0 with fewer than two points)."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain left/right aligned text table (first column left, the rest right)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        )
        print(line.rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_default) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def plot_distributions(
    path: Path,
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str = "milliseconds",
    marks: Mapping[str, float] | None = None,
) -> Path:
    """A strip-and-box plot of several latency distributions (seconds in, ms drawn).

    *marks* are vertical target lines (label -> seconds). Series with no values are drawn as
    an empty row labelled "(not measured)", so the picture always has every row.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(series)
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.55 * max(1, len(names))))
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        values = np.asarray(series[name], dtype=float) * 1000
        y = len(names) - 1 - i
        if values.size:
            ax.boxplot(
                values,
                positions=[y],
                vert=False,
                widths=0.5,
                showfliers=False,
                medianprops={"color": "black"},
            )
            ax.scatter(values, y + rng.uniform(-0.15, 0.15, values.size), s=12, alpha=0.6)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(
        [n if len(series[n]) else f"{n} (not measured)" for n in reversed(names)], fontsize=8
    )
    for label, seconds in (marks or {}).items():
        ax.axvline(seconds * 1000, linestyle="--", linewidth=1, color="grey")
        ax.text(seconds * 1000, len(names) - 0.4, label, fontsize=7, rotation=90, va="top")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_series(
    path: Path, x: Sequence[float], series: Mapping[str, Sequence[float]], *, title: str
) -> Path:
    """One small panel per series against *x* (the soak's samples)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(series), 1, figsize=(8, 1.8 * len(series)), sharex=True)
    axes_list = list(np.atleast_1d(axes))
    for ax, (name, ys) in zip(axes_list, series.items(), strict=True):
        ax.plot(list(x), list(ys), marker=".", linewidth=1)
        ax.set_ylabel(name, fontsize=8)
        ax.grid(alpha=0.3)
    axes_list[0].set_title(title, fontsize=10)
    axes_list[-1].set_xlabel("sessions")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
