#!/usr/bin/env bash
# The web page's first load (docs/web.md): bytes on the wire and time to interactive of `/`
# on a cold cache, in Debian's chromium, from `pkgtrust serve` (release build) and, in the
# same run, from nginx serving the same files (build/src/web/site, gzip on) as the
# reference. Both on loopback. The measuring is tests/web/browser_test.mjs's first step.
#
#   ./scripts/build-release.sh && npm ci --prefix tests/web && bench/web_first_load.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
bin="$PWD/build/src/pkgtrust"
site="$PWD/build/src/web/site"
[ -x "$bin" ] && [ -f "$site/index.html" ] || { echo "build first: ./scripts/build-release.sh" >&2; exit 1; }
[ -f tests/web/node_modules/puppeteer-core/package.json ] || npm ci --prefix tests/web --no-audit --no-fund --loglevel=error
work="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
serve_port="$(free_port)"
nginx_port="$(free_port)"
cat > "$work/serve.yaml" <<YAML
server:
  listen: "127.0.0.1:$serve_port"
database:
  path: $work/bench.db
log:
  level: warn
YAML
mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  gzip on;
  gzip_comp_level 9;
  gzip_types text/css application/javascript text/javascript image/svg+xml;
  server {
    listen 127.0.0.1:$nginx_port;
    root $site;
    location /assets/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
    location / { try_files \$uri /index.html; }
  }
}
NGINX
"$bin" serve --config "$work/serve.yaml" 2> "$work/serve.log" &
serve_pid=$!
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"
cleanup() { kill "$serve_pid" 2>/dev/null || true; /usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -s quit 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$serve_port/readyz" >/dev/null && break; sleep 0.1; done
measure() {  # name base
  (cd tests/web && PKGTRUST_WEB_BASE="$2" PKGTRUST_WEB_ONLY=first-load PKGTRUST_WEB_RUNS="$runs" \
    PKGTRUST_RESULTS="$work/$1.json" node browser_test.mjs > "$work/$1.log" 2>&1) || { cat "$work/$1.log"; exit 1; }
  python3 - "$1" "$work/$1.json" <<'PY'
import json, sys
first = json.load(open(sys.argv[2]))["first_load"]
tti = sorted(r["interactive_ms"] for r in first["runs"])
print(f"{sys.argv[1]:>8}: {first['bytes']} bytes in {first['requests']} requests; time to interactive "
      f"median {first['interactive_ms']} ms, p90 {tti[int(len(tti) * 0.9) - 1]} ms, min {tti[0]} ms ({len(tti)} cold loads)")
PY
}
measure pkgtrust "http://127.0.0.1:$serve_port"
measure nginx "http://127.0.0.1:$nginx_port"
python3 - "$work" <<'PY'
import json, sys
a = json.load(open(sys.argv[1] + "/pkgtrust.json"))["first_load"]
b = json.load(open(sys.argv[1] + "/nginx.json"))["first_load"]
print(f"   ratio: bytes {a['bytes'] / b['bytes']:.2f}, time to interactive {a['interactive_ms'] / b['interactive_ms']:.2f} (pkgtrust / nginx)")
PY
