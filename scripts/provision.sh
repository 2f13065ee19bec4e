#!/usr/bin/env bash
# What the tests need beyond npm packages (SPEC "Running it"), used by `npm test` and `.ci/run`.
# Everything present: returns at once, silently (a few shell builtins, no apt). Something missing:
# installs it when it can (root with apt-get, as a fresh CI machine is), otherwise stops before any
# test runs, one line per missing tool naming how to install it: never a run of failing tests.
#
#   PROVISION_NO_INSTALL=1  only check, never install (also how the tests simulate a non-root user)
#   PROVISION_EUID          the user id to act as (defaults to $EUID; for the script's own tests)
set -euo pipefail

# tool on PATH -> the Debian package that ships it. nginx-light is the smallest build of nginx
# with the proxy module (test/e2e/nginx.test.ts runs deploy/nginx.conf); ffmpeg ships ffprobe.
TOOLS=(
  redis-server:redis-server
  redis-cli:redis-tools
  chromium:chromium
  nginx:nginx-light
  ffmpeg:ffmpeg
  ffprobe:ffmpeg
  openssl:openssl
)

missing_tools=()
missing_packages=()
check() {
  missing_tools=()
  missing_packages=()
  local entry tool package
  for entry in "${TOOLS[@]}"; do
    tool=${entry%%:*}
    package=${entry#*:}
    command -v "$tool" >/dev/null 2>&1 && continue
    missing_tools+=("$tool:$package")
    [[ " ${missing_packages[*]} " == *" $package "* ]] || missing_packages+=("$package")
  done
}

report() {
  local entry
  for entry in "${missing_tools[@]}"; do
    echo "provision: ${entry%%:*} is missing: install it with \`apt-get install -y ${entry#*:}\` (as root; Debian/Ubuntu package ${entry#*:}), then run npm test again" >&2
  done
  exit 1
}

check
[ "${#missing_tools[@]}" -eq 0 ] && exit 0

if [ "${PROVISION_NO_INSTALL:-0}" = 1 ] || [ "${PROVISION_EUID:-$EUID}" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  report
fi

echo "provision: installing ${missing_packages[*]} from the distribution's packages" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >&2 || ! apt-get install -y -qq --install-recommends "${missing_packages[@]}" >/dev/null; then
  echo "provision: apt-get could not install ${missing_packages[*]}" >&2
fi
hash -r
check
[ "${#missing_tools[@]}" -eq 0 ] || report
