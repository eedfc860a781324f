#!/usr/bin/env bash
# Install the Debian packages tapcompare needs when their binaries are missing: PostgreSQL,
# Memcached and Redis servers (the local production and sister sets run on them).
# Safe to run again: it installs nothing when everything is present.
set -euo pipefail

missing=()
have_pg=no
for dir in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
  if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then have_pg=yes; break; fi
done
[ "$have_pg" = yes ] || missing+=(postgresql)
command -v memcached >/dev/null 2>&1 || [ -x /usr/bin/memcached ] || missing+=(memcached)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
for extra in "$@"; do
  case "$extra" in
    chromium) command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core) ;;
    *) command -v "$extra" >/dev/null 2>&1 || missing+=("$extra") ;;
  esac
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "tapcompare: installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "tapcompare: missing ${missing[*]} and not root (no sudo either)." >&2
  echo "Install them with: apt-get install ${missing[*]}" >&2
  echo "or point both store sets at existing servers (see README, Configuration)." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "tapcompare: no apt-get on this machine; install ${missing[*]} with your package manager." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "tapcompare: installed ${missing[*]}"
