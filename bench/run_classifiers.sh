#!/usr/bin/env bash
# Re-run the committed classifier and audit benchmarks (about 45 minutes on 2 cores, alone on the machine:
# a second heavy process oversubscribes the cores and slows PyTorch several times over).
# Results land in bench/results/<name>/results.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
X=.venv/bin/expunge
R=bench/results
$X bench audit --dataset mnist --arch mlp --shadows 64 --draws 3 --forget-size 600 --out $R/audit-mnist-mlp
$X bench classifiers --dataset mnist --arch mlp --scenario class:7 --seeds 3 --out $R/mnist-mlp-class7
$X bench classifiers --dataset mnist --arch mlp --scenario class:7 --methods label_flip --tune 20 --seeds 3 \
    --out $R/mnist-mlp-class7-label-flip-tuned
$X bench classifiers --dataset mnist --arch mlp --scenario random:0.01 --seeds 3 --noise-floor \
    --out $R/mnist-mlp-random1pct
$X bench classifiers --dataset mnist --arch mlp --scenario random:0.01 --seeds 3 --tune 30 --noise-floor \
    --methods gradient_ascent,neggrad_plus,ssd,finetune,holdout_match --out $R/mnist-mlp-random1pct-tuned
$X bench classifiers --dataset adult --arch mlp --scenario random:0.01 --seeds 3 --noise-floor --out $R/adult-mlp-random1pct
$X bench classifiers --dataset fashion_mnist --arch mlp --scenario class:7 --seeds 3 --out $R/fashion-mlp-class7
$X bench classifiers --dataset fashion_mnist --arch mlp --scenario random:0.01 --seeds 3 --noise-floor \
    --out $R/fashion-mlp-random1pct
$X bench classifiers --dataset fashion_mnist --arch cnn --scenario class:7 --seeds 3 --out $R/fashion-cnn-class7
$X bench classifiers --dataset fashion_mnist --arch cnn --scenario random:0.01 --seeds 3 --noise-floor \
    --out $R/fashion-cnn-random1pct
$X bench classifiers --dataset mnist --arch mlp --scenario random:0.01 --seeds 6 --tune 30 --noise-floor \
    --methods neggrad_plus,holdout_match --out $R/mnist-mlp-random1pct-6seeds
