"""The tables, comparisons and plot ``scaling.py`` prints from its per-solve rows (also for
``--replot``): accuracy with Wilson intervals, stop rules and checks against their baselines,
paired differences with bootstrap intervals."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from setups import CHECK_SETUPS, MARKERS, SETUPS, STOP_SETUPS, Setup
from stats import accuracy_cell, comparison_table, paired, wilson


def summarise(rows: list[dict[str, Any]], setups: list[Setup]) -> dict[str, list[dict[str, Any]]]:
    """Per dataset (and over all), one summary per setup."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    groups = {name: [r for r in rows if r["dataset"] == name] for name in names}
    if len(names) > 1:
        groups["all"] = rows
    out = {}
    for name, group in groups.items():
        out[name] = []
        for s in setups:
            mine = [r for r in group if r["setup"] == s.key]
            if not mine:
                continue
            budget = int(s.n.lstrip("≤").split(" ")[0]) if s.n.lstrip("≤")[:1].isdigit() and \
                "+" not in s.n and "×" not in s.n else 0
            out[name].append({
                "setup": s.key, "strategy": s.label, "n": s.n, "problems": len(mine),
                "right": sum(r["correct"] for r in mine),
                "accuracy": sum(r["correct"] for r in mine) / len(mine),
                "tokens": statistics.fmean(r["tokens"] for r in mine),
                "latency_s": statistics.fmean(r["latency_s"] for r in mine),
                "samples": statistics.fmean(r["samples"] for r in mine),
                "early": sum(r["samples"] < budget for r in mine) if budget else 0,
                "errors": sum(r["error"] is not None for r in mine),
            })
    return out


def table(summary: list[dict[str, Any]]) -> str:
    lines = ["| strategy | N | accuracy [Wilson 95%] | mean tokens/problem | mean latency (s) "
             "| samples used | errors |", "|---|---|---|---|---|---|---|"]
    for s in summary:
        low, high = wilson(s["right"], s["problems"])
        lines.append(f"| {s['strategy']} | {s['n']} | {s['accuracy']:.0%} ({s['right']}/{s['problems']}) "
                     f"[{low:.0%}, {high:.0%}] "
                     f"| {s['tokens']:.0f} | {s['latency_s']:.2f} | {s['samples']:.1f} | {s['errors']} |")
    return "\n".join(lines)


def stop_table(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """Fixed N against both stop rules, side by side, paired against fixed N (empty without them)."""
    by = {s["setup"]: s for s in summary}
    lines = ["| strategy | N | rule | accuracy [Wilson 95%] | Δ vs fixed [95% CI] | won/lost "
             "| tokens/problem | tokens ratio | samples used | stopped early |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for fixed in [s for s in STOP_SETUPS if not s.options.get("early_stop")]:
        prefix, n = fixed.key.rsplit("-", 1)
        rules = [(rule, key) for rule, key in (("fixed", fixed.key), ("conservative", f"{prefix}-cons-{n}"),
                                               ("adaptive", f"{prefix}-ada-{n}")) if key in by]
        if fixed.key not in by or len(rules) < 2:  # nothing to compare
            continue
        f = by[fixed.key]
        for rule, key in rules:
            e = by[key]
            lines.append(f"| {fixed.strategy} | {n} | {rule} | {_accuracy(e)} | "
                         f"{_versus(rows, key, fixed.key)} | {e['tokens']:.0f} | "
                         f"{e['tokens'] / max(f['tokens'], 1):.2f}x | {e['samples']:.1f} | "
                         f"{e['early']}/{e['problems']} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _accuracy(s: dict[str, Any]) -> str:
    """A summary row's accuracy with its counts and Wilson 95% interval."""
    return accuracy_cell(s["right"], s["problems"])


def _versus(rows: list[dict[str, Any]], a: str, b: str) -> str:
    """``Δ [95% CI] | won/lost`` of setup ``a`` against ``b`` (two table cells; dashes for itself)."""
    if a == b:
        return "— | —"
    p = paired(rows, a, b)
    return f"{p.cell()} | {p.wins}/{p.losses}"


def agreement(rows: list[dict[str, Any]]) -> str:
    """Per problem, how far the full-budget samples agree (what adaptive stopping can use)."""
    lines = []
    for key in [s.key for s in STOP_SETUPS if not s.options.get("early_stop") and s.n == "16"]:
        mine = [r for r in rows if r["setup"] == key and r.get("counted")]
        if not mine:
            continue
        shares = sorted(r["agree"] / 16 for r in mine)
        high = sum(x >= 0.75 for x in shares)
        lines.append(f"- {key}: the winner's share of 16 samples per problem, sorted: "
                     + " ".join(f"{x:.2f}" for x in shares)
                     + f" ({high} of {len(mine)} problems at ≥ 0.75)")
    return "\n".join(lines)


def check_table(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """pot, verified and checked side by side: accuracy, Δ vs pot, tokens, cross-checks run."""
    by = {s["setup"]: s for s in summary}
    pot, verified = by.get("pot-4"), by.get("verified-4")
    if pot is None or verified is None:
        return ""
    lines = ["| strategy | N | accuracy [Wilson 95%] | Δ vs pot [95% CI] | won/lost | tokens/problem "
             "| vs pot | vs verified | samples used | problems cross-checked |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for setup in CHECK_SETUPS:
        e = by.get(setup.key)
        if e is None:
            continue
        mine = [r for r in rows if r["setup"] == setup.key]
        checked = sum(r.get("reasoned", 0) > 0 for r in mine)
        lines.append(f"| {setup.strategy} | {setup.n} | {_accuracy(e)} | {_versus(rows, setup.key, 'pot-4')} "
                     f"| {e['tokens']:.0f} | {e['tokens'] / max(pot['tokens'], 1):.2f}x "
                     f"| {e['tokens'] / max(verified['tokens'], 1):.2f}x | {e['samples']:.1f} "
                     f"| {checked}/{len(mine)} |")
    return "\n".join(lines)


def claims(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """The headline comparisons between strategies, paired on the rows just measured."""
    by = {s["setup"]: s for s in summary}
    pairs = [("pot-8", "sc-8", "pot N=8 vs self-consistency N=8 (code vs prose, both voted)"),
             ("verified-8", "sc-8", "verified N=8 vs self-consistency N=8"),
             ("verified-8", "pot-8", "verified N=8 vs pot N=8"),
             ("sc-16", "sc-8", "self-consistency N=16 vs N=8"),
             ("pot-16", "pot-8", "pot N=16 vs N=8")]
    out = []  # (stopping against fixed N: see stop_table)
    for a, b, title in pairs:
        if a in by and b in by:
            p = paired(rows, a, b)
            out.append(f"{title}: accuracy {_accuracy(by[a])} vs {_accuracy(by[b])}, "
                       f"Δ {p.interval()} points ({p.wins} won, {p.losses} lost): {p.verdict}; "
                       f"tokens {by[a]['tokens'] / max(by[b]['tokens'], 1):.2f}x")
    return out


def plot(summaries: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Accuracy against mean tokens per problem, one panel per dataset, one legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    names = [n for n in summaries if n != "all"] or list(summaries)
    cols = min(len(names), 2)
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    colours = plt.get_cmap("tab20")
    style = {s.key: (colours(i % 20), MARKERS.get(s.strategy, "o")) for i, s in enumerate(SETUPS)}
    handles: dict[str, Any] = {}
    for ax, name in zip(axes.flat, names):
        for keys in (["sc-4", "sc-8", "sc-16"], ["sc-cons-8", "sc-cons-16"], ["sc-ada-8", "sc-ada-16"],
                     ["pot", "pot-8", "pot-16"], ["pot-cons-8", "pot-cons-16"],
                     ["pot-ada-8", "pot-ada-16"]):
            pts = sorted((s["tokens"], s["accuracy"] * 100) for s in summaries[name] if s["setup"] in keys)
            if len(pts) > 1:
                ax.plot(*zip(*pts), "-", color="lightgrey", linewidth=1, zorder=1)
        for s in summaries[name]:
            colour, marker = style.get(s["setup"], ("black", "o"))
            handles[s["setup"]] = ax.scatter(max(s["tokens"], 1), s["accuracy"] * 100, s=45,
                                             color=colour, marker=marker, zorder=2,
                                             label=f"{s['strategy']} N={s['n']}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{name} (n={summaries[name][0]['problems']} problems)")
        ax.set_xlabel("mean tokens per problem (log scale)")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.legend(list(handles.values()), [h.get_label() for h in handles.values()],
               loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def report(summaries: dict[str, list[dict[str, Any]]], meta: dict[str, Any],
           rows: list[dict[str, Any]] | None = None, baseline: str | None = None) -> str:
    took = f", {meta['minutes']} min" if meta.get("minutes") is not None else ""
    parts = [f"# scaling — {meta.get('date')}, {meta.get('cores')} cores{took}\n",
             f"command: `{meta.get('command')}`\n"]
    for name, summary in summaries.items():
        parts.append(f"## {name}\n\n{table(summary)}\n")
        mine = [r for r in rows or [] if name == "all" or r["dataset"] == name]
        if baseline and any(r["setup"] == baseline for r in mine):
            labels = {s["setup"]: f"{s['strategy']} {s['n']}" for s in summary}
            parts.append(f"Paired against {labels.get(baseline, baseline)} (same problems and "
                         f"seeds; Δ in points, bootstrap 95% CI over problems, * = excludes 0):\n\n"
                         + comparison_table(mine, [s["setup"] for s in summary], baseline, labels) + "\n")
        stops = stop_table(summary, mine)
        if stops:
            parts.append(f"Stop rules against fixed N (Δ paired on the same problems and seeds, "
                         f"bootstrap 95% CI over problems, * = excludes 0):\n\n{stops}\n")
        checks = check_table(summary, mine)
        if checks:
            parts.append(f"Verification where it pays:\n\n{checks}\n")
        agree = agreement(mine)
        if agree and name != "all":
            parts.append(agree + "\n")
        found = claims(summary, mine)
        if found:
            parts.append("\n".join(f"- {c}" for c in found) + "\n")
    return "\n".join(parts)
