#!/usr/bin/env bash
# Installs what the browser tests need, idempotently, from package
# registries only (see ../shared/E2E.md):
#   - Debian's chromium (apt), launched by the tests with ExecutablePath,
#     and an emoji font for its screenshots;
#   - the Playwright driver: the npm package playwright-core at exactly the
#     version playwright-go pins, plus a link to the system node, in the
#     directory playwright-go looks in (~/.cache/ms-playwright-go/VERSION);
#   - axe-core (npm), which the browser tests inject to check accessibility.
# A second run does nothing and takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "e2e/setup: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root apt-get install -y --no-install-recommends chromium >/dev/null
  }
fi

# 1b. An emoji font, so that screenshots of names with emoji show them
# (the tests compare text, not pixels; this is for people looking).
if ! dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then
  log "installing fonts-noto-color-emoji (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y --no-install-recommends fonts-noto-color-emoji >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root apt-get install -y --no-install-recommends fonts-noto-color-emoji >/dev/null
  }
fi

# 2. Node, for the driver.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "installing nodejs and npm (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y --no-install-recommends nodejs npm >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root apt-get install -y --no-install-recommends nodejs npm >/dev/null
  }
fi

# 3. The driver, at the version the Go module pins.
# go mod download fetches the module on a fresh machine (go list -m would
# only report it if it were already in the module cache).
mod_dir=$(go mod download -json github.com/playwright-community/playwright-go | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$mod_dir" ] || { log "cannot find the playwright-go module source"; exit 1; }
version=$(sed -n 's/^const playwrightCliVersion = "\(.*\)"$/\1/p' "$mod_dir/run.go")
[ -n "$version" ] || { log "cannot read playwrightCliVersion from $mod_dir/run.go"; exit 1; }
dest="${PLAYWRIGHT_DRIVER_PATH:-$HOME/.cache/ms-playwright-go/$version}"
if ! { [ -x "$dest/node" ] && [ "$("$dest/node" "$dest/package/cli.js" --version 2>/dev/null)" = "Version $version" ]; }; then
  log "installing playwright-core@$version into $dest (npm)"
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp -d "$(dirname "$dest")/.driver.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    "playwright-core@$version" >/dev/null
  ln -s node_modules/playwright-core "$tmp/package"
  ln -s "$(command -v node)" "$tmp/node"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  log "driver ready: $("$dest/node" "$dest/package/cli.js" --version)"
fi

# 4. axe-core, the accessibility checker the browser tests inject into every
# page, at the version e2e/axe_test.go pins (axeVersion), into the directory
# it looks in (AXE_CORE_DIR, else the user cache directory): outside the
# repository, like the driver.
axe_version=$(sed -n 's/^const axeVersion = "\(.*\)"$/\1/p' e2e/axe_test.go)
[ -n "$axe_version" ] || { log "cannot read axeVersion from e2e/axe_test.go"; exit 1; }
axe_dest="${AXE_CORE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blnk-e2e/axe-core-$axe_version}"
if [ ! -s "$axe_dest/axe.min.js" ]; then
  log "installing axe-core@$axe_version into $axe_dest (npm)"
  mkdir -p "$(dirname "$axe_dest")"
  tmp=$(mktemp -d "$(dirname "$axe_dest")/.axe.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    "axe-core@$axe_version" >/dev/null
  got=$(node -p 'require(process.argv[1]).version' "$tmp/node_modules/axe-core/package.json")
  [ "$got" = "$axe_version" ] || { log "npm installed axe-core $got, want $axe_version"; exit 1; }
  mkdir "$tmp/out"
  cp "$tmp/node_modules/axe-core/axe.min.js" "$tmp/node_modules/axe-core/LICENSE" "$tmp/out/"
  rm -rf "$axe_dest"
  mv "$tmp/out" "$axe_dest"
  rm -rf "$tmp"
  trap - EXIT
  log "axe-core $axe_version ready"
fi
