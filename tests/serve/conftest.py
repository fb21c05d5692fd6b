"""A live ``ponder serve`` on 127.0.0.1 (a free port, a background thread) over scripted
models, and scripts a test can hold mid-call to fill the server or hang up on it."""

from __future__ import annotations

import threading
import time

import pytest

from ponder.scripted import register_script
from ponder.serve import BackgroundServer, ServeSettings
from ponder.store import Store

KEY = "sk-test-serve"


def votes_42(messages, index):
    """Three in four samples say 42, so self-consistency has a real vote to win."""
    answer = 41 if index % 4 == 3 else 42
    return f"<think>6 times 7, carefully.</think>Let me think. The answer is {answer}."


class Gate:
    """A script that blocks every call until released; counts calls begun and ended."""

    def __init__(self, name: str):
        self.release = threading.Event()
        self.begun = 0
        self.ended = 0
        self.model = register_script(name, self)

    def __call__(self, messages, index):
        self.begun += 1
        try:
            self.release.wait(20)
            return "The answer is 7."
        finally:
            self.ended += 1

    def wait_begun(self, count: int = 1, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while self.begun < count:
            assert time.monotonic() < deadline, f"the model was called {self.begun} times"
            time.sleep(0.02)


@pytest.fixture
def serve_at(scripted_config):
    """Start a server: ``serve_at(model, **settings)`` -> running ``BackgroundServer``."""
    servers: list[BackgroundServer] = []

    def start(model: str, **settings) -> BackgroundServer:
        settings.setdefault("api_keys", (KEY,))
        server = BackgroundServer(scripted_config(model), ServeSettings(**settings)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(serve_at):
    return serve_at(register_script("serve-votes", votes_42))


@pytest.fixture
def store(store_path):
    return Store(store_path)


def wait_status(store: Store, run_id: str, status: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while (run := store.require_run(run_id)).status != status:
        assert time.monotonic() < deadline, f"run {run_id} is {run.status!r}, not {status!r}"
        time.sleep(0.05)
