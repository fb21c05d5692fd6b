"""The embedded engine's worker processes, for real: crash isolation, restarts, reproducibility."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ponder.embedded.engine import LocalEngine
from ponder.errors import BackendError
from ponder.embedded import LOCAL_MODELS, LocalModel, register_local_model

pytestmark = pytest.mark.slow

SEA = [{"role": "user", "content": "Write a short sentence about the sea."}]
SAMPLE = dict(temperature=1.0, max_tokens=20, seed=11)


@pytest.fixture
def engine():
    engine = LocalEngine()
    yield engine
    engine.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_seeded_samples_repeat_in_one_process(engine):
    first = [engine.complete("smollm2-135m", SEA, **{**SAMPLE, "seed": s})["text"] for s in (1, 2)]
    again = [engine.complete("smollm2-135m", SEA, **{**SAMPLE, "seed": s})["text"] for s in (1, 2)]
    assert first == again
    assert first[0] != first[1]


def test_seeded_samples_repeat_across_processes(engine, tmp_path):
    code = ("import json, sys; from ponder.embedded.engine import LocalEngine; e = LocalEngine();"
            f"print(json.dumps(e.complete('gemma-3-270m', {SEA!r}, **{SAMPLE!r})['text'])); e.close()")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=300, check=True)
    here = engine.complete("gemma-3-270m", SEA, **SAMPLE)["text"]
    assert json.loads(other.stdout.strip().splitlines()[-1]) == here
    assert here.strip()


def test_worker_gives_what_the_in_process_engine_gives(engine):
    inline = LocalEngine(isolation="none")
    try:
        apart, together = (engine.complete("smollm2-135m", SEA, **SAMPLE),
                           inline.complete("smollm2-135m", SEA, **SAMPLE))
        for out in (apart, together):
            assert out.pop("engine_s") > 0  # time spent in llama.cpp, which differs per call
        assert apart == together
    finally:
        inline.close()


@pytest.mark.parametrize("isolation", ["process", "none"])
def test_text_streams_as_it_is_sampled_and_sampling_is_unchanged(isolation):
    engine = LocalEngine(isolation=isolation)
    try:
        pieces: list[str] = []
        streamed = engine.complete("gemma-3-270m", SEA, **SAMPLE, on_text=pieces.append)
        plain = engine.complete("gemma-3-270m", SEA, **SAMPLE)
        assert len(pieces) > 3 and "".join(pieces).startswith(streamed["text"])
        assert streamed["text"] == plain["text"] and streamed["usage"] == plain["usage"]
    finally:
        engine.close()


def test_killed_worker_is_a_backend_error_and_the_next_call_works(engine):
    engine.complete("smollm2-135m", SEA, max_tokens=1)
    pid = engine.worker_pid("smollm2-135m")
    assert pid is not None
    errors: list[BaseException] = []

    def long_call() -> None:
        try:
            engine.complete("smollm2-135m", [{"role": "user", "content": "Tell a long story."}],
                            max_tokens=2000, temperature=1.0, seed=3)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            errors.append(exc)

    caller = threading.Thread(target=long_call)
    caller.start()
    time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    caller.join(timeout=60)
    [error] = errors
    assert isinstance(error, BackendError) and error.retryable
    assert error.model == "local/smollm2-135m" and "SIGKILL" in str(error)
    out = engine.complete("smollm2-135m", SEA, **SAMPLE)
    assert out["usage"]["completion_tokens"] > 0
    assert engine.worker_pid("smollm2-135m") not in (None, pid)


def test_weights_that_do_not_load_are_reported(engine, tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file" * 100)
    register_local_model(LocalModel("broken-test", "chat", lambda: bad, "none"))
    try:
        with pytest.raises(BackendError, match="could not load the model") as caught:
            engine.complete("broken-test", SEA, max_tokens=1)
        assert caught.value.model == "local/broken-test"
        from ponder.embedded.check import check

        [(name, ok, detail)] = check(["broken-test"])
        assert not ok and "could not load" in detail
    finally:
        LOCAL_MODELS.pop("broken-test")


def test_engine_check_runs_every_model_in_a_child_process():
    out = subprocess.run([sys.executable, "-m", "ponder.embedded.check"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(": ok") == len(LOCAL_MODELS)
    assert "CPU features" in out.stdout and "AVX512" not in out.stdout.split("features:")[-1]


def test_no_worker_outlives_a_killed_parent(tmp_path):
    code = ("from ponder.embedded.engine import LocalEngine; e = LocalEngine();"
            "e.complete('smollm2-135m', [{'role': 'user', 'content': 'Hi'}], max_tokens=1);"
            "print(e.worker_pid('smollm2-135m'), flush=True); import time; time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(worker)


def test_a_batch_survives_a_killed_engine(tmp_path):
    """kill -9 of the engine worker mid-batch: the call is retried on a new worker."""
    data = tmp_path / "q.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 3?",
                                        "answer": f"#### {i + 3}"}) + "\n" for i in range(3)))
    store = tmp_path / "ponder.db"
    batch = subprocess.Popen(
        [sys.executable, "-m", "ponder", "batch", str(data), "--store", str(store),
         "--strategy", "cot", "--run", "killed-engine"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and batch.poll() is None:
        for pid in _children(batch.pid):
            if "ponder.embedded.worker" in Path(f"/proc/{pid}/cmdline").read_text():
                time.sleep(0.3)
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.05)
    output, _ = batch.communicate(timeout=600)
    assert killed is not None, output
    assert batch.returncode == 0, output
    assert "local/" in output and "SIGKILL" in output and "retrying in" in output
    import sqlite3

    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT problem_id, COUNT(*) FROM results GROUP BY problem_id").fetchall()
    assert sorted(rows) == [("q0", 1), ("q1", 1), ("q2", 1)]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.split(")")[-1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_solve_call_survives_a_killed_engine(embedded_config):
    """Through the model client (what the CLI and the UI's solve page use): retried, answered."""
    from ponder.embedded.engine import shared_engine
    from ponder.models import ModelClient

    client = ModelClient(embedded_config)
    client.complete("standard", "Hi", max_tokens=1)
    pid = shared_engine().worker_pid("smollm2-135m")
    assert pid is not None
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
    killer.start()
    [out] = client.complete("standard", "Tell a long story about a ship.", max_tokens=300,
                            temperature=1.0, seed=2)
    killer.join()
    assert not _alive(pid)
    assert out.usage.completion_tokens > 0
    assert shared_engine().worker_pid("smollm2-135m") not in (None, pid)


def test_installed_engine_carries_no_avx512_or_amx_code():
    """The setup's portable build: AVX2 kernels, none that only AVX-512/AMX CPUs can run."""
    import shutil

    import llama_cpp

    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump (binutils) is not installed")
    lib = Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
    code = subprocess.run([objdump, "-d", str(lib)], capture_output=True, text=True,
                          check=True).stdout
    assert "%ymm" in code  # AVX2 kernels are there
    assert "%zmm" not in code and "tileloadd" not in code


def test_the_retry_after_a_killed_engine_is_said(embedded_config, caplog):
    from ponder.embedded.engine import shared_engine
    from ponder.models import ModelClient

    client = ModelClient(embedded_config)
    client.complete("standard", "Hi", max_tokens=1)
    pid = shared_engine().worker_pid("smollm2-135m")
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
    killer.start()
    with caplog.at_level("WARNING", logger="ponder.models"):
        client.complete("standard", "Tell a long story about a ship.", max_tokens=300,
                        temperature=1.0, seed=4)
    killer.join()
    [record] = [r for r in caplog.records if r.name == "ponder.models"]
    assert "local/smollm2-135m" in record.getMessage() and "SIGKILL" in record.getMessage()
    assert "retrying in" in record.getMessage()
