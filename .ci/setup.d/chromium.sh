#!/usr/bin/env bash
# Headless Chromium for the browser subscriber test (test/integration/pubsub-browser.test.ts).
# Debian's package; the test launches /usr/bin/chromium through playwright-core and skips, saying why, when it is
# missing, so a failed install never fails CI on its own.
set -uo pipefail
[ -x /usr/bin/chromium ] && exit 0
if declare -F apt_install >/dev/null; then
  apt_install chromium || echo "chromium: could not install; the browser test will skip" >&2
else
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "chromium: could not install; the browser test will skip" >&2
fi
exit 0
