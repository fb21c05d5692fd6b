"""Run every benchmark script in ``benchmarks/`` at smoke size; exit non-zero if one fails.

A benchmark script is any ``benchmarks/*.py`` that accepts ``--smoke`` (helpers such as
``arith.py`` don't). Scripts run one after another (they measure time; running them side by
side would skew each other), each in its own process group with a timeout.

    python benchmarks/run_all.py                  # what CI runs
    python benchmarks/run_all.py --timeout 900 --only overhead,parallel
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmark_scripts(folder: Path = HERE) -> list[Path]:
    """The scripts in ``folder`` that take ``--smoke``, by name."""
    me = Path(__file__).resolve()
    return [p for p in sorted(folder.glob("*.py"))
            if p.resolve() != me and '"--smoke"' in p.read_text(encoding="utf-8")]


def run_one(script: Path, timeout: float) -> tuple[str, float, str]:
    """Run ``script --smoke``; return its status, seconds and the tail of its output."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script), "--smoke"], cwd=HERE.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the script and anything it started
        out, _ = proc.communicate()
        status = f"timed out after {timeout:.0f} s"
    return status, time.perf_counter() - started, (out or "")[-3000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per script")
    parser.add_argument("--only", help="comma-separated script names (without .py)")
    args = parser.parse_args(argv)
    scripts = benchmark_scripts()
    if args.only:
        wanted = set(args.only.split(","))
        scripts = [s for s in scripts if s.stem in wanted]
        missing = wanted - {s.stem for s in scripts}
        if missing:
            parser.error(f"no benchmark script named {', '.join(sorted(missing))}")
    failures = 0
    rows = []
    for script in scripts:
        print(f"--- {script.name} --smoke", flush=True)
        status, seconds, tail = run_one(script, args.timeout)
        rows.append((script.name, status, seconds))
        if status != "ok":
            failures += 1
            print(tail, flush=True)
    print("\n| script | status | seconds |\n|---|---|---|")
    for name, status, seconds in rows:
        print(f"| {name} | {status} | {seconds:.0f} |")
    if not scripts:
        print("no benchmark scripts found", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
