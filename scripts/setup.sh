#!/usr/bin/env bash
# Makes libtorch 2.11.0 available to the build, the one thing tch 0.24 cannot do itself.
#
# - If LIBTORCH is set (a libtorch you unpacked yourself), it is used as is: nothing is installed.
# - Otherwise torch==2.11.0 is pip-installed into a per-user virtual environment
#   (NNOPT_TORCH_VENV, default ${XDG_CACHE_HOME:-$HOME/.cache}/nnopt/torch-2.11.0) and the
#   git-ignored link .libtorch in the repository points at its torch/ package directory,
#   which holds the include/ and lib/ that torch-sys looks for.
#
# Idempotent: a finished environment carries a marker file (its package list) written last, so an
# interrupted install is never mistaken for a complete one; running this twice does nothing the
# second time. It never deletes anything: a directory it did not create is refused, not replaced.
set -euo pipefail

TORCH_VERSION=2.11.0
# numpy silences torch's "Failed to initialize NumPy" warning in the reference scripts;
# safetensors lets them read the weights nnopt writes. nvidia-cuda-crt holds the one CUDA header
# (crt/host_config.h) the pip torch lacks, which build.rs needs to compile the CUDA shim;
# nvidia-cuda-nvcc and nvidia-nvvm are CUDA's compiler, for the shim's fused SGD kernels
# (src/fused_sgd.cu). None of them needs a GPU.
PACKAGES="torch==$TORCH_VERSION numpy safetensors nvidia-cuda-crt==13.0.88 nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
link="$repo/.libtorch"

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

if [ -n "${LIBTORCH:-}" ]; then
  [ -d "$LIBTORCH/lib" ] || die "LIBTORCH=$LIBTORCH has no lib/ directory; point it at an unpacked libtorch $TORCH_VERSION or unset it"
  say "using your LIBTORCH=$LIBTORCH (nothing installed)"
  exit 0
fi

venv="${NNOPT_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nnopt/torch-$TORCH_VERSION}"
marker="$venv/.nnopt-complete"
# Written when this script creates the environment: the only licence to ever delete it.
created="$venv/.nnopt-created"

if [ "$(cat "$marker" 2>/dev/null)" != "$PACKAGES" ]; then
  python=${PYTHON:-python3}
  command -v "$python" >/dev/null || die "python3 not found; install Python >= 3.10 (e.g. apt-get install python3 python3-venv) or set LIBTORCH"
  "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$("$python" --version 2>&1) is too old; torch $TORCH_VERSION needs Python >= 3.10"
  "$python" -c 'import venv, ensurepip' 2>/dev/null \
    || die "Python's venv module is missing; install it (e.g. apt-get install python3-venv)"
  if [ ! -f "$created" ] && [ ! -f "$marker" ]; then
    # Never touch a directory this script did not make: ours carry the creation marker (written
    # right after `python -m venv`) or, from older versions of this script, the completion one.
    if [ -e "$venv" ] && [ -n "$(ls -A "$venv" 2>/dev/null)" ]; then
      die "$venv exists and was not made by nnopt's setup (no $(basename "$created")); set NNOPT_TORCH_VENV to a new directory, or delete it yourself"
    fi
    mkdir -p "$venv"
    say "creating a virtual environment in $venv"
    "$python" -m venv "$venv" || die "could not create a virtual environment in $venv"
    echo "made by nnopt scripts/setup.sh" > "$created"
  else
    # Ours, but an install was interrupted or the package list changed: pip brings it up to date.
    say "resuming the interrupted install in $venv"
  fi
  say "installing $PACKAGES (torch is about 5 GB; the pip cache makes later installs fast)"
  rm -f "$marker"
  # shellcheck disable=SC2086 # PACKAGES is a list of requirements
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $PACKAGES \
    || die "pip install $PACKAGES failed (see pip's message above); check your network or set LIBTORCH"
  echo "$PACKAGES" > "$marker"
  # CUDA's headers may be new: the build compiles the CUDA-graph shim again (build.rs watches it).
  touch "$repo/src/cuda_graph.cpp" "$repo/src/fused_sgd.cu"
else
  say "torch $TORCH_VERSION already installed in $venv"
fi

torch_dir=$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))') \
  || die "torch in $venv does not import; delete $venv and run this again"
if [ "$(readlink "$link" 2>/dev/null || true)" != "$torch_dir" ]; then
  ln -sfn "$torch_dir" "$link"
  say "linked $link -> $torch_dir"
else
  say "$link already points at $torch_dir"
fi
