#!/usr/bin/env bash
# Headless Chromium for the browser subscriber test (test/integration/pubsub-browser.test.ts).
# Debian's package; the test launches /usr/bin/chromium through playwright-core and skips when it is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  if declare -F apt_install >/dev/null; then
    apt_install chromium
  else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
fi
