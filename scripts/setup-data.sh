#!/usr/bin/env bash
# Makes Debian's Fashion-MNIST (dataset-fashion-mnist) available at
# /usr/share/datasets/fashion-mnist, as the tests and `nnopt train --data fashion` need.
# Installs the package when it is missing (as root, or through sudo); a no-op when present.
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then
  echo "setup-data: Fashion-MNIST present in $dir" >&2
  exit 0
fi
command -v apt-get >/dev/null \
  || { echo "setup-data: error: Fashion-MNIST is missing from $dir and this is not a Debian/Ubuntu system; put the four IDX files there" >&2; exit 1; }
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "setup-data: installing dataset-fashion-mnist (30 MB)" >&2
$sudo apt-get update -qq >&2 || true
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >&2 \
  || { echo "setup-data: error: could not install dataset-fashion-mnist; run: sudo apt-get install dataset-fashion-mnist" >&2; exit 1; }
[ -f "$dir/train-images-idx3-ubyte.gz" ] || { echo "setup-data: error: the package did not provide $dir" >&2; exit 1; }
