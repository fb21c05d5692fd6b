"""Run two strategies over GSM8K problems from Python, compare them, export training data.

    python examples/batch_gsm8k.py [PATH_TO_GSM8K_JSONL] [LIMIT]

Without a path it writes three one-step problems of its own in GSM8K's format.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import ponder
from ponder.graphs.batch import BatchSettings, run_batch
from ponder.eval.datasets import DatasetSpec
from ponder.eval.export import export_run
from ponder.eval.report import report_text
from ponder.store import Store

SAMPLE = [
    ("Sam has 3 apples and buys 4 more. How many apples does he have?", "3 + 4 = 7\n#### 7"),
    ("A box holds 6 eggs. How many eggs are in 2 boxes?", "6 * 2 = 12\n#### 12"),
    ("Mia had 9 dollars and spent 5 dollars. How many dollars are left?", "9 - 5 = 4\n#### 4"),
]


def sample_file(folder: Path) -> Path:
    path = folder / "sample.jsonl"
    path.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in SAMPLE))
    return path


def main(argv: list[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ponder-example-"))
    path = Path(argv[0]) if argv else sample_file(folder)
    limit = int(argv[1]) if len(argv) > 1 else 3
    config = ponder.load_config()
    store = Store(config.store)
    settings = BatchSettings(strategies=["cot", "pot"], samples=2, limit=limit)
    outcome = asyncio.run(run_batch(DatasetSpec(source=str(path)), config, settings, store=store))
    print(f"run {outcome.run.name}: {outcome.solved} solved, stopped: {outcome.stopped}")
    print(report_text(store, outcome.run.id, "md"))
    out = folder / "rewards.jsonl"
    with out.open("w") as fh:
        count = export_run(store, outcome.run.id, "rewards", fh)
    print(f"exported {count} branches with their rewards to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
