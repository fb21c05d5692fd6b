"""LangSmith sees real LLM runs: with tracing on and LANGSMITH_ENDPOINT pointed at a local
stand-in of its ingest API (``POST /runs/batch`` JSON, ``POST /runs/multipart`` form parts,
as LangSmith's API reference describes them), every model call arrives as an ``llm`` run with
its token usage, nested under the node run that made it, and the root run is named after the
strategy and the problem instead of ``LangGraph``."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHILD = r'''
import json, re, sys
from ponder.scripted import register_script

def add(messages, index):
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", messages[-1]["content"])[-1])
    return f"```python\nprint({a} + {b})\n```"

model = register_script("ls-add", add)
import ponder
from ponder.config import RoleConfig, load_config
roles = {"reasoner": RoleConfig(model=model), "standard": RoleConfig(model=model)}
config = load_config(None, store=sys.argv[1], roles=roles)
result = ponder.solve("What is 2 + 3?", strategy="pot", samples=2, config=config,
                      early_stop=False)
from langchain_core.tracers.langchain import get_client, wait_for_all_tracers
wait_for_all_tracers()
get_client().flush()
print(json.dumps({"problem_id": result.problem_id, "answer": result.answer,
                  "usage": result.usage.model_dump()}))
'''


class StandIn:
    """Collects runs posted to LangSmith's ingest endpoints, merged by run id."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def merge(self, run_id: str, part: str | None, data: Any) -> None:
        with self.lock:
            run = self.runs.setdefault(run_id, {"id": run_id})
            if part is None:
                run.update({k: v for k, v in data.items() if v is not None})
            else:
                run[part] = data

    def take_batch(self, body: dict[str, Any]) -> None:
        for op in ("post", "patch"):
            for run in body.get(op) or []:
                self.merge(str(run["id"]), None, run)

    def take_multipart(self, content_type: str, body: bytes) -> None:
        message = BytesParser(policy=email_policy).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition") or ""
            data = json.loads(part.get_payload(decode=True) or b"null")
            op, _, rest = name.partition(".")
            if op not in ("post", "patch"):
                continue
            run_id, _, field = rest.partition(".")
            self.merge(run_id, field or None, data)


@pytest.fixture
def standin():
    collected = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def _body(self) -> bytes:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "zstd":
                import zstandard

                body = zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 28)
            return body

        def _reply(self, status: int, payload: Any = None) -> None:
            data = json.dumps(payload if payload is not None else {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            collected.paths.append("GET " + self.path)
            self._reply(404, {"detail": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            collected.paths.append("POST " + self.path)
            body = self._body()
            if self.path.startswith("/runs/batch"):
                collected.take_batch(json.loads(body))
            elif self.path.startswith("/runs/multipart"):
                collected.take_multipart(self.headers["Content-Type"], body)
            elif self.path.rstrip("/") == "/runs":
                collected.take_batch({"post": [json.loads(body)]})
            self._reply(202, {})

        def do_PATCH(self) -> None:  # noqa: N802
            collected.paths.append("PATCH " + self.path)
            run = json.loads(self._body())
            collected.merge(self.path.rstrip("/").rsplit("/", 1)[-1], None, run)
            self._reply(202, {})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    collected.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield collected
    server.shutdown()
    server.server_close()


def _tokens(run: dict[str, Any]) -> tuple[int, int]:
    """Input and output tokens of an LLM run, where LangSmith reads them."""
    outputs = run.get("outputs") or {}
    usage = outputs.get("usage_metadata") or (run.get("extra") or {}).get("metadata", {}).get("usage_metadata")
    if not usage:
        message = outputs["generations"][0][0]["message"]
        usage = message.get("kwargs", message)["usage_metadata"]
    return usage["input_tokens"], usage["output_tokens"]


def test_model_calls_are_llm_runs_under_their_nodes(standin, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGCHAIN_",
                                                                     "LANGSMITH_"))}
    env |= {"LANGSMITH_TRACING": "true", "LANGSMITH_ENDPOINT": standin.url,
            "LANGSMITH_API_KEY": "lsv2-local-test", "LANGSMITH_PROJECT": "ponder-test"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "s.db")], env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    solved = json.loads(out.stdout.strip().splitlines()[-1])
    assert solved["answer"] == "5"
    runs = standin.runs
    assert any(p.startswith("POST /runs/") for p in standin.paths), standin.paths

    [root] = [r for r in runs.values() if not r.get("parent_run_id")]
    assert root["name"] == f"ponder pot: {solved['problem_id']}"
    llm = [r for r in runs.values() if r.get("run_type") == "llm"]
    assert len(llm) == 2
    for run in llm:
        parent = runs[str(run["parent_run_id"])]
        assert (parent["name"], parent["run_type"]) == ("code", "chain")
        assert run["name"] == "scripted/ls-add"
        metadata = (run.get("extra") or {}).get("metadata") or {}
        assert metadata.get("ls_provider") == "scripted"
        assert metadata.get("ls_model_name") == "scripted/ls-add"
        assert run.get("end_time") and not run.get("error")
    usage = solved["usage"]
    assert sum(_tokens(r)[0] for r in llm) == usage["prompt_tokens"]
    assert sum(_tokens(r)[1] for r in llm) == usage["completion_tokens"]
