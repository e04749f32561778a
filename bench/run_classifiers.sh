#!/usr/bin/env bash
# Re-run the committed classifier benchmarks (about 25 minutes on 2 cores). Results land in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
X=.venv/bin/expunge
$X bench classifiers --dataset mnist --arch mlp --scenario class:7 --seeds 3 --out bench/results/mnist-mlp-class7
$X bench classifiers --dataset mnist --arch mlp --scenario random:0.01 --seeds 3 --out bench/results/mnist-mlp-random1pct
$X bench classifiers --dataset adult --arch mlp --scenario random:0.01 --seeds 3 --out bench/results/adult-mlp-random1pct
$X bench classifiers --dataset fashion_mnist --arch mlp --scenario class:7 --seeds 3 --out bench/results/fashion-mlp-class7
$X bench classifiers --dataset fashion_mnist --arch mlp --scenario random:0.01 --seeds 3 --out bench/results/fashion-mlp-random1pct
$X bench classifiers --dataset fashion_mnist --arch cnn --scenario class:7 --seeds 3 --out bench/results/fashion-cnn-class7
$X bench classifiers --dataset fashion_mnist --arch cnn --scenario random:0.01 --seeds 3 --out bench/results/fashion-cnn-random1pct
