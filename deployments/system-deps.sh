#!/usr/bin/env bash
# What the team profile and the tests run besides Python: PostgreSQL 15, Redis and Chromium
# (the browser tests drive it headless) from Debian, s3rver from npm. Installs only what is
# missing; needs root (or sudo) for apt and npm.
set -euo pipefail

PG_BIN="${HOUSING_PG_BIN:-/usr/lib/postgresql/15/bin}"
S3RVER_VERSION=3.7.1

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=()
[ -x "$PG_BIN/postgres" ] || packages+=(postgresql-15)
command -v redis-server >/dev/null || packages+=(redis-server)
command -v npm >/dev/null || packages+=(nodejs npm)
[ -x /usr/bin/chromium ] || packages+=(chromium)
if [ ${#packages[@]} -gt 0 ]; then
    echo "apt-get install ${packages[*]}"
    sudo_ apt-get update -qq
    # start no service while installing (Debian's postgresql would start a cluster on 5432):
    # the stack and the tests start their own, on loopback
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | sudo_ tee "$policy" >/dev/null
        sudo_ chmod +x "$policy"
        trap 'sudo_ rm -f "$policy"' EXIT
    fi
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if ! command -v s3rver >/dev/null || [ "$(s3rver --version 2>/dev/null)" != "$S3RVER_VERSION" ]; then
    echo "npm install -g s3rver@$S3RVER_VERSION"
    sudo_ npm install -g --silent --no-fund --no-audit "s3rver@$S3RVER_VERSION" >/dev/null
fi
echo "system deps: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), postgres $("$PG_BIN/postgres" --version | awk '{print $3}'), redis $(redis-server --version | awk '{print $3}' | cut -d= -f2), s3rver $(s3rver --version)"
