#!/usr/bin/env bash
# System packages the test suite needs. Installs only in CI (CI=true) or when asked
# (SPASMWATCH_INSTALL_SYSTEM_DEPS=1); on a developer machine without them the tests that
# need them skip with a message.
set -euo pipefail
want=${SPASMWATCH_INSTALL_SYSTEM_DEPS:-${CI:-false}}
[ "$want" = "true" ] || [ "$want" = "1" ] || exit 0
pkgs=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p"); done
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
