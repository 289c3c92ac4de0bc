#!/usr/bin/env bash
# Installs the Debian 12 packages pkgtrust builds with (run as root). Skips apt when
# everything is already there.
set -euo pipefail
packages=(build-essential cmake ninja-build ccache pkg-config ca-certificates
  libboost1.81-dev libsqlite3-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev catch2 libssl-dev zlib1g-dev libpugixml-dev libsimdjson-dev libtomlplusplus-dev libpq-dev
  postgresql  # a throwaway PostgreSQL for the store tests (tests/scripts/with_postgres.sh)
  python3  # scripts/check_includes.py and its test, scripts/mutate.sh
  python3-pip  # the gateway tests download through the gateway with Debian's pip
  chromium  # the web page's browser test (tests/web: puppeteer-core drives it)
  nginx  # the adoption tests: reverse proxies and a static mirror on loopback (tests/support/nginx.hpp)
  clang libclang-rt-14-dev)  # clang and libFuzzer: scripts/fuzz.sh
# Node.js and npm run the SNS/SQS emulator of the tests; a newer Node already on the machine is kept.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts nginx's default site on install; the tests run their own nginx on loopback.
  if [[ " ${missing[*]} " == *" nginx "* ]]; then
    (systemctl disable --now nginx || service nginx stop || /usr/sbin/nginx -s quit) >/dev/null 2>&1 || true
  fi
fi
