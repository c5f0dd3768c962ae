#!/usr/bin/env bash
# Installs every Debian 12 package Precall needs to build, test and benchmark.
# Idempotent: installs only what is missing, and runs apt-get update only then.
# Uses sudo when not root. Nothing is downloaded outside Debian's archive.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries the gateway links
  libpaho-mqttpp-dev libpaho-mqtt-dev librocksdb-dev libabsl-dev
  libsimdjson-dev libyaml-cpp-dev
  libcpp-httplib-dev libcli11-dev libspdlog-dev libssl-dev
  prometheus-cpp-dev  # /metrics: Collectable, MetricFamily, TextSerializer
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  mosquitto mosquitto-clients libmosquitto-dev
  curl time python3 openssl  # openssl: the TLS test makes its CA and certificate
  prometheus  # promtool: the API test checks the /metrics exposition with it
  # the end-to-end benchmark (bench/e2e): its plot, G's profile, and Node-RED
  # (which bench/e2e/run.py installs from npm into an ignored folder)
  gnuplot-nox linux-perf nodejs
)
# Debian's npm, unless the installed nodejs brings its own (NodeSource's does).
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
