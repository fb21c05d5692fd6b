#!/usr/bin/env bash
# Cold build of the embedded engine (llama-cpp-python) with every llama.cpp target vs the
# text library only (the flags scripts/setup uses), side by side in one run: each build gets
# one core of its own (taskset) and one compile job, so machine noise hits both alike.
# Prints a table of wall times and their ratio. Needs the venv from scripts/setup and ~2 cores.
#   benchmarks/build_bench.sh            # ~10 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^llama-cpp-python==//p' constraints.txt)
cpu=$(sed -n '/x86_64|amd64)/,/;;/p' scripts/setup | tr -d '\\\n' | sed 's/.*ENGINE_CMAKE_ARGS="\([^"]*\)".*/\1/')
targets=$(sed -n '/^ENGINE_TARGET_ARGS=/,/"$/p' scripts/setup | tr -d '\\\n' | sed 's/.*="\([^"]*\)".*/\1/')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip download -q --no-deps --no-binary :all: -d "$work/src" "llama-cpp-python==$version"
build() {  # name core cmake_args
  local start end
  start=$(date +%s.%N)
  taskset -c "$2" env CMAKE_BUILD_PARALLEL_LEVEL=1 CMAKE_ARGS="$3" FORCE_CMAKE=1 \
    .venv/bin/python -m pip wheel -q --no-cache-dir --no-deps --no-binary llama-cpp-python \
    -w "$work/$1" "$work"/src/llama_cpp_python-*.tar.gz >"$work/$1.log" 2>&1
  end=$(date +%s.%N)
  echo "$1 $(echo "$end - $start" | bc) $(du -k "$work/$1"/*.whl | cut -f1)" >"$work/$1.time"
}
build all_targets 0 "$cpu" &
build text_only 1 "$cpu $targets" &
wait
read -r _ all all_kb <"$work/all_targets.time"
read -r _ text text_kb <"$work/text_only.time"
printf '| build (1 core each, side by side) | wall (s) | wheel (KiB) |\n|---|---|---|\n'
printf '| every target (mtmd, common; before) | %.0f | %s |\n' "$all" "$all_kb"
printf '| text library only (scripts/setup now) | %.0f | %s |\n' "$text" "$text_kb"
printf '\ntext-only / before: %.2fx wall\n' "$(echo "$text / $all" | bc -l)"
