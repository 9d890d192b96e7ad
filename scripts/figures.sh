#!/usr/bin/env bash
# Regenerates every picture the README shows, into docs/ or the directory given (release build,
# CPU, Fashion-MNIST from scripts/setup-data.sh):  scripts/figures.sh [DIR]
set -euo pipefail
out=$(realpath -m "${1:-docs}")
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p "$out"
nnopt=$(scripts/nnopt-path)
run() { "$nnopt" --device cpu --quiet "$@" > /dev/null; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run perceptron --seed 0 --plot "$out/perceptron.png"
run train --data fashion --epochs 20 --save "$tmp/w.safetensors" --plot "$out/train.png" --confusion "$out/confusion.png"
run predict --weights "$tmp/w.safetensors" --index 0 --plot "$out/predict.png"
run descent --plot "$out/descent-cosine.png"
run descent --surface ill-conditioned --optimizers gd,gd,momentum --lr 0.4,0.6,0.6 --momentum 0.5 --start=-5,-2 --steps 20 --plot "$out/descent-ill-conditioned.png"
run sweep --data fashion --strategy halving --trials 8 --epochs 8 --lr 0.001..1:log --hidden 16,64,128x64 --plot "$out/sweep.png"
run mlp --plot "$out/mlp-fc1.png" --graph-image "$out/graph.png"
echo "figures: wrote $(ls "$out"/*.png | wc -l) pictures to $out" >&2
