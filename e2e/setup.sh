#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently, from package
# registries only (see ../shared/E2E.md):
#   - Debian's chromium (apt), launched by the tests with ExecutablePath,
#     and an emoji font for its screenshots;
#   - Debian's nginx and caddy (apt), which the gateway tests
#     (e2e/gateways) start themselves, on free ports with their own
#     configuration: the services the packages install are not used, and
#     whether they run, are stopped or failed to start does not matter;
#   - the Playwright driver: the npm package playwright-core at exactly the
#     version playwright-go pins, plus a link to the system node, in the
#     directory playwright-go looks in (~/.cache/ms-playwright-go/VERSION);
#   - axe-core (npm), which the browser tests inject to check accessibility.
# A second run does nothing and takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "e2e/setup: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Others may be running apt on this machine: wait for its lock.
apt_get() { as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
# apt_install PACKAGE...: from the package lists there are, and only if
# that fails (lists missing or stale), again after an update.
apt_install() {
  log "installing $* (apt)"
  apt_get install -y --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt_get update -qq
    apt_get install -y --no-install-recommends "$@" >/dev/null
  }
}
# npm_stage DEST NAME PACKAGE@VERSION: installs the package with npm into
# a new directory $tmp beside DEST (.NAME.XXXXXX, on the same file system,
# so that the caller's final mv into DEST is atomic); until the caller
# clears the EXIT trap, $tmp goes if the script stops.
npm_stage() {
  log "installing $3 into $1 (npm)"
  mkdir -p "$(dirname "$1")"
  tmp=$(mktemp -d "$(dirname "$1")/.$2.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "$3" >/dev/null
}
# has PROGRAM: in PATH, or in an sbin directory that may not be in it.
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

# 1. Chromium.
has chromium || apt_install chromium

# 1b. An emoji font, so that screenshots of names with emoji show them
# (the tests compare text, not pixels; this is for people looking).
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || apt_install fonts-noto-color-emoji

# 1c. The gateways. In a container the packages' post-install scripts
# cannot start the services, and where they can, a service that fails to
# start (port 80 taken) can make apt report an error: what counts is
# that the programs run.
if ! has nginx || ! has caddy; then
  apt_install nginx caddy || log "apt reported an error; checking the programs themselves"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -V 2>&1 | grep -q -- --with-http_auth_request_module ||
  { log "$nginx_bin does not run, or lacks the auth_request module the gateway tests need"; exit 1; }
caddy version >/dev/null || { log "caddy does not run"; exit 1; }

# 2. Node, for the driver.
{ has node && has npm; } || apt_install nodejs npm

# 3. The driver, at the version the Go module pins.
# go mod download fetches the module on a fresh machine (go list -m would
# only report it if it were already in the module cache).
mod_dir=$(go mod download -json github.com/playwright-community/playwright-go | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$mod_dir" ] || { log "cannot find the playwright-go module source"; exit 1; }
version=$(sed -n 's/^const playwrightCliVersion = "\(.*\)"$/\1/p' "$mod_dir/run.go")
[ -n "$version" ] || { log "cannot read playwrightCliVersion from $mod_dir/run.go"; exit 1; }
dest="${PLAYWRIGHT_DRIVER_PATH:-$HOME/.cache/ms-playwright-go/$version}"
if ! { [ -x "$dest/node" ] && [ "$("$dest/node" "$dest/package/cli.js" --version 2>/dev/null)" = "Version $version" ]; }; then
  npm_stage "$dest" driver "playwright-core@$version"
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
  npm_stage "$axe_dest" axe "axe-core@$axe_version"
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

# 5. mailpit, the SMTP server the email tests start (internal/testkit
# StartMailpit), at the version internal/testkit/mailpit.go pins
# (MailpitVersion), built with `go install` into the directory it looks
# in (BLNK_MAILPIT names another binary). Not a module of go.mod: its own
# dependencies would raise the versions the dashboard builds with.
mailpit_version=$(sed -n 's/^const MailpitVersion = "\(.*\)"$/\1/p' internal/testkit/mailpit.go)
[ -n "$mailpit_version" ] || { log "cannot read MailpitVersion from internal/testkit/mailpit.go"; exit 1; }
mailpit_dir="${XDG_CACHE_HOME:-$HOME/.cache}/blnk-e2e/mailpit-$mailpit_version"
if [ ! -x "$mailpit_dir/mailpit" ]; then
  log "installing github.com/axllent/mailpit@$mailpit_version into $mailpit_dir (go install)"
  mkdir -p "$mailpit_dir"
  GOBIN="$mailpit_dir" GOFLAGS=-mod=mod go install "github.com/axllent/mailpit@$mailpit_version"
  log "mailpit $mailpit_version ready"
fi
