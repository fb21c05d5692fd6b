"""Store queries for the UI, cached so reruns stay fast and pages never load a whole run.

Every page asks for one page of rows (``limit``/``offset``) or one problem's trace; the
store aggregates in SQL. Short TTLs keep runs that are still being written up to date.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import streamlit as st

from ponder.errors import PonderError
from ponder.store import RunInfo, Store, StrategySummary
from ponder.store.feedback import Feedback
from ponder.store.search import ResultQuery
from ponder.types import Problem, Result, TraceEvent
from ponder.verdict import verdict_of

LIVE_TTL = 5  # seconds: run lists and totals change while a batch runs
TRACE_TTL = 30  # a problem's trace only grows until its result is stored

StoreState = Literal["missing", "empty", "ok"]


@dataclass(frozen=True)
class Settings:
    """Where the UI reads from: the store file and the ponder.toml that configures solving."""

    store: Path | str  # a SQLite file or a postgresql:// URL
    config_path: Path | None = None
    error: str | None = None
    viewer_url: str | None = None  # [telemetry] viewer_url: links to the collector's UI


def _script_args() -> argparse.Namespace:
    """``--store``/``--config`` given after ``--`` to ``streamlit run app.py``."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--store")
    parser.add_argument("--config", type=Path)
    return parser.parse_known_args(sys.argv[1:])[0]


def settings() -> Settings:
    """The store path: ``--store``, else ``PONDER_STORE``, else the one the CLI writes."""
    from ponder.config import default_store_path, load_config

    args = _script_args()
    try:
        config = load_config(args.config, store=args.store)
    except PonderError as exc:
        return Settings(store=args.store or default_store_path(), config_path=args.config,
                        error=str(exc))
    return Settings(store=config.store, config_path=args.config,
                    viewer_url=config.telemetry.viewer_url)


def store_state(path: Path | str) -> StoreState:
    """Whether the store exists and holds runs, without creating the file."""
    if isinstance(path, Path) and not path.is_file():
        return "missing"
    return "ok" if open_store(str(path)).count_runs() else "empty"


@st.cache_resource(show_spinner=False)
def open_store(path: str) -> Store:
    """One shared connection per store file (the Store is thread-safe)."""
    return Store(path)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def runs_page(path: str, kind: str | None, strategy: str | None, text: str | None,
              limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """The number of matching runs and one page of them with their totals."""
    db = open_store(path)
    total = db.count_run_rows(kind=kind, strategy=strategy, text=text)
    return total, db.run_rows(kind=kind, strategy=strategy, text=text, limit=limit, offset=offset)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def recent_runs(path: str, limit: int = 100) -> list[RunInfo]:
    """The newest runs, for pickers."""
    return open_store(path).list_runs(limit=limit)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def run_info(path: str, ref: str) -> RunInfo | None:
    return open_store(path).get_run(ref)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def summaries(path: str, run_id: str) -> list[StrategySummary]:
    """Per-strategy accuracy, tokens, cost and time of a run."""
    return open_store(path).summary(run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def results_page(path: str, run_id: str, strategy: str | None, status: str | None,
                 limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """The number of matching results and one page of flat rows (no branches)."""
    db = open_store(path)
    total = db.count_results(run_id, strategy=strategy, status=status)
    return total, db.result_table(run_id, strategy=strategy, status=status, limit=limit,
                                  offset=offset)



@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def run_extras(path: str, run_ids: tuple[str, ...]) -> tuple[dict[str, list[str]],
                                                             dict[str, dict[str, tuple[int, int]]]]:
    """For a page of runs: every model each used, and (correct, scored) per strategy."""
    db = open_store(path)
    return db.run_models(list(run_ids)), db.strategy_scores(list(run_ids))


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def outcome_cells(path: str, run_id: str, limit: int,
                  offset: int) -> tuple[int, list[dict[str, Any]]]:
    """How many problems the run has, and one page of them with every strategy's outcome."""
    db = open_store(path)
    return db.count_problems(run_id), db.outcome_cells(run_id, limit=limit, offset=offset)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def comparison(path: str, run_a: str, run_b: str) -> tuple[int, list[dict[str, Any]]]:
    """Results both runs share, and the problems whose correctness flipped from a to b."""
    db = open_store(path)
    rows = db.flipped(run_a, run_b)
    for row in rows:  # the question, which the comparison query does not read
        problem = db.problem(run_a, row["problem_id"])
        row["question"] = problem.question if problem else None
    return db.common_results(run_a, run_b), rows

@dataclass(frozen=True)
class Neighbours:
    """Where a problem sits among its run's problems, and the ones either side of it."""

    position: int  # 1-based
    total: int
    previous: str | None
    next: str | None


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def neighbours(path: str, run_id: str, problem_id: str) -> Neighbours | None:
    """The problems before and after ``problem_id`` in the run's order (as the Run page and
    the matrix list them); two indexed lookups, however many problems the run holds."""
    row = open_store(path).problem_neighbours(run_id, problem_id)
    if row is None:
        return None
    return Neighbours(position=row["before"] + 1, total=row["total"], previous=row["previous"],
                      next=row["next"])


@dataclass
class Trace:
    """Everything the trace page shows for one problem under one strategy."""

    problem: Problem | None
    result: Result | None
    events: list[TraceEvent]


@st.cache_data(ttl=TRACE_TTL, show_spinner=False)
def trace(path: str, run_id: str, problem_id: str, strategy: str | None) -> Trace:
    """One problem's question, stored result and trace events (nothing else of the run)."""
    db = open_store(path)
    return Trace(problem=db.problem(run_id, problem_id),
                 result=db.result(run_id, problem_id, strategy),
                 events=db.events(run_id, problem_id, strategy))


def first_traced_problem(path: str, run_id: str) -> str | None:
    """A problem of a run that has trace events but no stored result (a failed solve)."""
    events = open_store(path).events(run_id)
    return events[0].problem_id if events else None


def clear() -> None:
    """Forget cached query results (after this session wrote a new run)."""
    st.cache_data.clear()


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def verdict_lines(path: str, keys: tuple[tuple[str, str, str], ...]) -> dict[tuple[str, str, str],
                                                                             str]:
    """The verdict badge's text (:meth:`ResultVerdict.line`) of each (run, problem, strategy)
    result named: what the tables show, computed as the trace header computes it."""
    db = open_store(path)
    out: dict[tuple[str, str, str], str] = {}
    for run_id, problem_id, strategy in keys:
        result = db.result(run_id, problem_id, strategy)
        if result is not None:
            out[(run_id, problem_id, strategy)] = verdict_of(result).line()
    return out


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def trace_labels(path: str, run_ids: tuple[str, ...]) -> dict[tuple[str, str, str], Feedback]:
    """People's labels on the traces of these runs, by (run, problem, strategy)."""
    return open_store(path).trace_labels(list(run_ids))


def feedback(path: str, run_id: str, problem_id: str, strategy: str) -> list[Feedback]:
    """The labels on one trace and its branches (never cached: the page writes them)."""
    return open_store(path).feedback(run_id, problem_id, strategy)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def search(path: str, query_json: str, limit: int,
           offset: int) -> tuple[int, list[dict[str, Any]]]:
    """How many results match the :class:`ResultQuery` (as JSON: the cache key) across runs,
    and one page of them."""
    db, query = open_store(path), ResultQuery.model_validate_json(query_json)
    return db.count_search(query), db.search_results(query, limit=limit, offset=offset)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def result_models(path: str) -> list[str]:
    return open_store(path).result_models()


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def run_verdicts(path: str, run_ids: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """For a page of runs, the verdict cell and the feedback cell of each.

    A run of one result shows that result's badge text and label, as its trace does; a run
    of several counts them (``2 verified · 1 refuted``, ``1 wrong · 2 correct``).
    """
    db = open_store(path)
    counts, labels = db.verdict_counts(list(run_ids)), db.label_counts(list(run_ids))
    singles = [r for r in run_ids if sum(counts.get(r, {}).values()) == 1]
    mine = db.trace_labels(singles)
    verdicts, feedback = {}, {}
    for run_id in run_ids:
        if run_id in singles:
            result = next(iter(db.results(run_id, limit=1)), None)
            verdicts[run_id] = verdict_of(result).line() if result else ""
            found = [f for f in mine.values() if f.run_id == run_id]
            feedback[run_id] = found[0].line() if found else ""
            continue
        verdicts[run_id] = " · ".join(f"{n} {label}" for label, n in counts.get(run_id, {})
                                      .items())
        feedback[run_id] = " · ".join(f"{n} {label}" for label, n in labels.get(run_id, {})
                                      .items())
    return verdicts, feedback
