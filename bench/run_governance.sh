#!/usr/bin/env bash
# Re-run the committed governance benchmarks (about 15 minutes on 2 cores, alone on the machine: every run is
# CPU-bound, so a second heavy process lowers the figures). The PostgreSQL runs need a server; set
# EXPUNGE_DATABASE_URL or use the default below (this machine's: 127.0.0.1:5432, trust auth, database `test`).
# Results land in bench/results/governance/<name>/results.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
X=.venv/bin/expunge
R=bench/results/governance
COMMON=(--requests 1000 --records-per-request 20)
$X bench dsr --backend sqlite --workers 0 --clients 1 "${COMMON[@]}" --out $R/dsr-sqlite-w0-c1
$X bench dsr --backend sqlite --workers 1 --clients 1 "${COMMON[@]}" --out $R/dsr-sqlite-w1-c1
export EXPUNGE_DATABASE_URL="${EXPUNGE_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
$X bench dsr --backend postgres --workers 1 --clients 4 "${COMMON[@]}" --out $R/dsr-pg-w1-c4
$X bench dsr --backend postgres --workers 2 --clients 4 "${COMMON[@]}" --out $R/dsr-pg-w2-c4
$X bench crash --fanouts 1000 --out $R/crash
