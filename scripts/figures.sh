#!/usr/bin/env bash
# Regenerates every picture the README shows, into docs/ (release build, CPU, Fashion-MNIST from
# scripts/setup-data.sh):  scripts/figures.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
nnopt=$(scripts/nnopt-path)
run() { "$nnopt" --device cpu --quiet "$@" > /dev/null; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run perceptron --plot docs/perceptron.png
run train --data fashion --epochs 20 --save "$tmp/w.safetensors" --plot docs/train.png --confusion docs/confusion.png
run predict --weights "$tmp/w.safetensors" --index 0 --plot docs/predict.png
run descent --plot docs/descent-cosine.png
run descent --surface ill-conditioned --optimizers gd,momentum,adam --steps 200 --plot docs/descent-ill-conditioned.png
run sweep --data fashion --strategy halving --trials 8 --epochs 8 --lr 0.001..1:log --hidden 16,64,128x64 --plot docs/sweep.png
run mlp --plot docs/mlp-fc1.png --graph-image docs/graph.png
echo "figures: wrote $(ls docs/*.png | wc -l) pictures to docs/" >&2
