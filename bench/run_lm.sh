#!/usr/bin/env bash
# The language-model benchmark of issue 13: SmolLM2-135M-Instruct, 200 fictitious people, forget 5 % and 10 %,
# 3 seeds, every method, doses tuned on the validation people. Resumable: re-running skips finished rows.
# Run it on an otherwise idle machine (the lock keeps other helpers' heavy runs out) and keep the load average
# printed in the table beside the timings. A 1 % split for the "score" view: add forget01 to --splits.
set -euo pipefail
OUT=${1:-bench/results/lm-smollm2}
export EXPUNGE_THREADS=${EXPUNGE_THREADS:-2}
exec flock /tmp/expunge-bench.lock nice -n 0 expunge bench lm \
    --splits forget05,forget10 --seeds 3 --methods all --people 200 --questions-per-attribute 2 \
    --epochs 6 --tune 6 --shards 4 --out "$OUT"
