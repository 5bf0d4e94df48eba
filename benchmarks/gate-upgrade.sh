#!/usr/bin/env bash
# Gate an Axolotl / torch / transformers upgrade on any CI (what .github/workflows/packbench-gate.yml does):
# the gate matrix trained in the current environment (baseline) and in the next one (candidate),
# repeats interleaved A B A B A B on this one machine, then `packbench compare`.
#
#   OLD_VENV=.venv-old NEW_VENV=.venv-new benchmarks/gate-upgrade.sh
#
# Make the two environments first, e.g.
#   python3.11 -m venv .venv-old && .venv-old/bin/pip install "axolotl==0.19.0" -e ".[axolotl,dev]"
#   python3.12 -m venv .venv-new && .venv-new/bin/pip install "axolotl==0.21.0" -e ".[axolotl,dev]"
# (CREATE_VENVS=1 does exactly that, with OLD_PYTHON, NEW_PYTHON, OLD_AXOLOTL, NEW_AXOLOTL.)
#
# Exit status: compare's: 0 pass, 1 regression, 2 usage or input error. The reports land in
# $OUT/compare.md and $OUT/compare.json, the results in $OUT/baseline.jsonl and $OUT/candidate.jsonl.
set -euo pipefail

OLD_VENV=${OLD_VENV:-.venv-old}
NEW_VENV=${NEW_VENV:-.venv-new}
MATRIX=${MATRIX:-recipes/matrices/gate.yaml}
REPEATS=${REPEATS:-3}
OUT=${OUT:-gate}
MAX_SLOWDOWN=${MAX_SLOWDOWN:-15%}

if [[ "${CREATE_VENVS:-0}" == 1 ]]; then
  "${OLD_PYTHON:-python3.11}" -m venv "$OLD_VENV"
  "$OLD_VENV/bin/pip" install "axolotl==${OLD_AXOLOTL:-0.19.0}" -e ".[axolotl,dev]"
  "${NEW_PYTHON:-python3.12}" -m venv "$NEW_VENV"
  "$NEW_VENV/bin/pip" install "axolotl==${NEW_AXOLOTL:-0.21.0}" -e ".[axolotl,dev]"
fi

for venv in "$OLD_VENV" "$NEW_VENV"; do
  if [[ ! -x "$venv/bin/packbench" ]]; then
    echo "error: $venv/bin/packbench does not exist; make the environment first (or set CREATE_VENVS=1)." >&2
    exit 2
  fi
  "$venv/bin/packbench" validate --matrix "$MATRIX"
done

mkdir -p "$OUT"
for repeat in $(seq 1 "$REPEATS"); do
  "$OLD_VENV/bin/packbench" run --matrix "$MATRIX" --repeats "$repeat" --runs-dir "$OUT/runs-baseline" --results "$OUT/baseline.jsonl" --leaderboard "$OUT/baseline.md" || echo "baseline repeat $repeat had failed cells"
  "$NEW_VENV/bin/packbench" run --matrix "$MATRIX" --repeats "$repeat" --runs-dir "$OUT/runs-candidate" --results "$OUT/candidate.jsonl" --leaderboard "$OUT/candidate.md" || echo "candidate repeat $repeat had failed cells"
done

"$NEW_VENV/bin/packbench" compare --baseline "$OUT/baseline.jsonl" --candidate "$OUT/candidate.jsonl" --max-slowdown "$MAX_SLOWDOWN" --format json --output "$OUT/compare.json" || true
status=0
"$NEW_VENV/bin/packbench" compare --baseline "$OUT/baseline.jsonl" --candidate "$OUT/candidate.jsonl" --max-slowdown "$MAX_SLOWDOWN" --output "$OUT/compare.md" || status=$?
cat "$OUT/compare.md"
exit "$status"
