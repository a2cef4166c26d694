#!/usr/bin/env bash
# Installs what redishappy's demo and tests need on a Debian machine: redis-server, haproxy,
# nginx with its stream module (template output tests),
# logger(1) from Debian, and the npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# package.json "engines": ^20.19.0 || ^22.13.0 || >=24, what the (dev) dependency tree needs
# (typescript-eslint's eslint-visitor-keys is the strictest); the packaged program runs on Node 20+.
node_ok() {
  node -e 'const [M, m] = process.versions.node.split(".").map(Number); process.exit((M === 20 && m >= 19) || (M === 22 && m >= 13) || M >= 24 ? 0 : 1)' 2>/dev/null
}
if ! command -v node >/dev/null 2>&1 || ! node_ok; then
  echo "redishappy needs Node.js 20.19+, 22.13+ or 24+ (package.json engines; node --version: $(node --version 2>/dev/null || echo missing))" >&2
  exit 1
fi

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
command -v logger >/dev/null 2>&1 || need+=(bsdutils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "== installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== installing npm packages"
npm ci --no-audit --no-fund
