#!/usr/bin/env bash
# Idempotent machine setup for Marquee: installs the Debian packages the project runs
# (MariaDB, etcd, nginx, protoc, Chromium) when they are missing, then the npm dependencies from the
# lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server etcd-client)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
# docker-compose only validates docker-compose.yml offline (`config`); no Docker engine runs here.
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
# The web UI's end-to-end tests drive Debian's Chromium with playwright-core (no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts the packaged nginx/etcd daemons on their standard ports; Marquee runs its own
  # private instances, so the system ones are left alone rather than reconfigured.
else
  echo "setup: Debian packages already present"
fi

if [ -f package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: done"
