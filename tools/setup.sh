#!/usr/bin/env bash
# Idempotent setup: installs the Debian packages the build and tests need, only when missing.
# Runs apt-get as root, or through sudo when not root. Safe to run repeatedly.
#   tools/setup.sh          what make build / make test need
#   tools/setup.sh --fuzz   plus clang-14 and libFuzzer (make fuzz)
set -euo pipefail

# Keep this list in sync with README.md ("What gets installed").
# Never add libboost-dev / libboost-all-dev: they are 1.74 and remove 1.81.
PACKAGES=(
  g++ cmake ninja-build pkg-config ccache make
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libssl-dev
  python3 curl
  fiu-utils
)
# fiu-utils: fiu-run's POSIX preload injects EIO into fdatasync/write (the fault tests).
if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} system packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
