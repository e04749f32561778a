#!/usr/bin/env bash
# Re-run the language-model benchmark of issue 13: SmolLM2-135M-Instruct, 200 fictitious people, forget 5 % and
# 10 %, 3 seeds, every method, doses tuned on the validation people only. Resumable: a re-run skips finished rows,
# and the trained target, oracle and SISA adapters are cached by content hash under EXPUNGE_HOME.
# Run it alone on the machine (the exclusive lock keeps helpers' heavy runs out); the table prints the load average.
# For the 1 % "score" view add forget01 to --splits.
set -euo pipefail
cd "$(dirname "$0")/.."
X=.venv/bin/expunge
R=bench/results
export EXPUNGE_THREADS=${EXPUNGE_THREADS:-2}
flock /tmp/expunge-bench.lock $X bench lm --splits forget05,forget10 --seeds 3 --methods all --people 200 \
    --questions-per-attribute 2 --epochs 6 --tune 6 --shards 4 --out $R/lm-smollm2
