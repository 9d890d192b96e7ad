#!/usr/bin/env bash
# Downloads MNIST's four files into DIR from the usual public mirrors and verifies their
# published SHA-256 sums; then `nnopt train --data DIR` trains on them. Needs internet access.
#   scripts/fetch-mnist.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/fetch-mnist.sh DIR}
mirrors=(
  https://ossci-datasets.s3.amazonaws.com/mnist
  https://storage.googleapis.com/cvdf-datasets/mnist
)
declare -A sha256=(
  [train-images-idx3-ubyte.gz]=440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
  [train-labels-idx1-ubyte.gz]=3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
  [t10k-images-idx3-ubyte.gz]=8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
  [t10k-labels-idx1-ubyte.gz]=f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
)
command -v curl >/dev/null || { echo "fetch-mnist: curl is needed (apt-get install curl)" >&2; exit 1; }
mkdir -p "$dir"
for file in "${!sha256[@]}"; do
  if [ -f "$dir/$file" ] && echo "${sha256[$file]}  $dir/$file" | sha256sum --check --status; then
    echo "fetch-mnist: $file already present and verified" >&2
    continue
  fi
  ok=
  for mirror in "${mirrors[@]}"; do
    # Download beside the target, verify, then rename: a failed download never leaves a bad file.
    if curl --fail --silent --show-error --location --connect-timeout 10 --max-time 300 \
         --output "$dir/.$file.part" "$mirror/$file" 2>/dev/null; then
      if echo "${sha256[$file]}  $dir/.$file.part" | sha256sum --check --status; then
        mv "$dir/.$file.part" "$dir/$file"
        echo "fetch-mnist: $file from $mirror (SHA-256 verified)" >&2
        ok=1
        break
      fi
      echo "fetch-mnist: $file from $mirror has the wrong SHA-256; trying the next mirror" >&2
    fi
  done
  rm -f "$dir/.$file.part"
  [ -n "$ok" ] || { echo "fetch-mnist: could not download $file from any mirror (offline?)" >&2; exit 1; }
done
echo "fetch-mnist: done; train with: nnopt train --data $dir" >&2
