"""Two ``ponder batch`` processes as two hosts on one PostgreSQL store: one solves the run,
the other is refused naming it; when the holder is killed -9 and its heartbeat goes stale,
the other takes the run over and finishes it, nothing solved twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_batch_cli import HELPER, write_config, write_dataset

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def host(tmp_path: Path, url: str, name: str, data: Path, *extra: str, **env_extra: str):
    """``ponder batch`` in a child process that calls itself host ``name``."""
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER.replace("PRELUDE", ""))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env.update(SCRIPT_DELAY="0", PONDER_HOST_ID=name, **env_extra)
    cmd = [sys.executable, str(helper), "batch", str(data), "-s", "cot,direct", "--run", "k",
           "-c", "3", "--config", str(write_config(tmp_path, "scripted/cli-slow")),
           "--store", url, *extra]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def query(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        try:
            cur = conn.execute(sql)
        except psycopg.errors.UndefinedTable:  # the store is not created yet
            return []
        return cur.fetchall() if cur.description else []


def wait_until(url: str, proc: subprocess.Popen, sql: str, timeout: float = 90) -> None:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if (rows := query(url, sql)) and rows[0][0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"never true: {sql}: {proc.stderr.read() if proc.poll() is not None else ''}")


def solved_once(url: str) -> None:
    per_pair = query(url, "SELECT SUM((node = 'problem')::int), SUM((node = 'result')::int)"
                          " FROM events GROUP BY problem_id, strategy")
    assert len(per_pair) == 20 and set(per_pair) == {(1, 1)}  # nothing solved twice
    assert query(url, "SELECT COUNT(*), COUNT(DISTINCT (problem_id, strategy)) FROM results") == [(20, 20)]
    assert query(url, "SELECT status FROM runs") == [("done",)] and query(url, "SELECT * FROM leases") == []


def test_two_hosts_on_one_run_one_solves_and_the_other_is_refused(tmp_path, postgres_url):
    from tests.pg_server import new_database

    url, data, gate = new_database(postgres_url), write_dataset(tmp_path, 10), tmp_path / "gate"
    first = host(tmp_path, url, "host-a", data, SCRIPT_GATE=str(gate))
    wait_until(url, first, "SELECT COUNT(*) FROM problems")
    second = host(tmp_path, url, "host-b", data)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 2, err
    assert f"run 'k' is being solved by another process: pid {first.pid} on host-a" in err
    gate.touch()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    solved_once(url)


def test_a_killed_host_s_run_is_taken_over_by_the_other(tmp_path, postgres_url):
    from tests.pg_server import new_database

    url, data, gate = new_database(postgres_url), write_dataset(tmp_path, 10), tmp_path / "gate"
    killed = host(tmp_path, url, "host-a", data, SCRIPT_GATE=str(gate))
    wait_until(url, killed, "SELECT COUNT(*) FROM leases")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    refused = host(tmp_path, url, "host-b", data)  # another host cannot see the pid: it waits
    assert refused.wait(timeout=120) == 2 and "on host-a" in refused.stderr.read()
    query(url, "UPDATE leases SET heartbeat = heartbeat - 61")  # a minute without a heartbeat
    out, err = host(tmp_path, url, "host-b", data, "--json").communicate(timeout=120)
    assert json.loads(out)["solved"] == 20, err
    solved_once(url)
