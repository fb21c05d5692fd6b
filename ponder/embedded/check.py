"""Prove the embedded engine runs on this CPU: one token from each embedded model.

``scripts/setup`` runs ``python -m ponder.embedded.check`` after installing. Each model runs in
the engine's worker process, so a llama.cpp build that crashes here (for example one compiled
for another CPU) is reported with the signal and the command that rebuilds it, and the setup
stops, instead of a bare "Segmentation fault" in the user's first solve. Imports the engine
and the catalog.
"""

from __future__ import annotations

import argparse
import sys
import time

from ponder.errors import PonderError

_FEATURES = ("AVX2", "AVX512", "AMX", "FMA", "F16C", "NEON")


def check(names: list[str]) -> list[tuple[str, bool, str]]:
    """``(model, ok, detail)`` for each embedded model, each tried in a worker process."""
    from ponder.embedded.engine import LocalEngine

    engine = LocalEngine()
    rows = []
    try:
        for name in names:
            started = time.perf_counter()
            try:
                out = engine.complete(name, [{"role": "user", "content": "1 + 1 ="}],
                                      max_tokens=1, temperature=0.0, seed=0)
            except PonderError as exc:
                rows.append((name, False, str(exc)))
                continue
            info = engine.system_info(name)
            used = [f for f in _FEATURES if f"{f} = 1" in info] or ["generic"]
            rows.append((name, True, f"{out['usage']['completion_tokens']} token in "
                         f"{time.perf_counter() - started:.1f}s; CPU features: {' '.join(used)}"))
    finally:
        engine.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    from ponder.embedded.catalog import LOCAL_MODELS

    parser = argparse.ArgumentParser(prog="python -m ponder.embedded.check", description=__doc__)
    parser.add_argument("models", nargs="*", help="embedded model names (default: all)")
    parser.add_argument("--rebuild-hint", default="scripts/setup",
                        help="the command that rebuilds the engine, shown on failure")
    args = parser.parse_args(argv)
    rows = check(args.models or sorted(LOCAL_MODELS))
    for name, ok, detail in rows:
        print(f"engine check: local/{name}: {'ok' if ok else 'FAILED'} — {detail}")
    if all(ok for _, ok, _ in rows):
        return 0
    print("The embedded engine does not run on this machine. Rebuild it with:\n"
          f"  {args.rebuild_hint}\n"
          "(ponder builds llama-cpp-python for a portable CPU baseline; a failure here means "
          "the installed build does not match this CPU or the weights are missing.)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
