#!/usr/bin/env bash
# Sourced by the scripts that bring a Debian package the tests need (chromium.sh,
# prometheus.sh, tinyproxy.sh): one way to install it with apt-get when a binary is missing.
#
#   ensure_debian_package NAME SERVICE PATH...
# NAME: the package; SERVICE: its own systemd service to disable after installing (the tests
# start their own instances), or "" for none; PATH...: binaries that must then be executable.
# Prints one line naming what is missing when it cannot install it.

ensure_debian_package() {
  local package=$1 service=$2
  shift 2
  local missing=0 path
  for path in "$@"; do [[ -x "$path" ]] || missing=1; done
  ((missing)) || return 0
  local log="${package}: "
  command -v apt-get >/dev/null 2>&1 || { echo "${log}$* missing and apt-get is not available: install $package or set the path variables" >&2; return 1; }
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  echo "${log}installing with apt-get ..."
  "${sudo[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  if [[ -n $service ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
  for path in "$@"; do [[ -x "$path" ]] || { echo "${log}installed, but $path is missing" >&2; return 1; }; done
  echo "${log}installed"
}
