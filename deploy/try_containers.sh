#!/usr/bin/env bash
# K containers of the app behind nginx on one machine with Docker: the container form of start_replicas.py.
#
#   bash deploy/try_containers.sh [K] [PORT]     (from the repository root; K = 2, PORT = 8080 by default)
#
# Builds the image from deploy/Dockerfile if it is missing, starts K containers on Docker's default bridge (each
# Streamlit on its own 8501), all with one cookie secret (Streamlit signs its XSRF cookie with it: a browser moved
# to another replica must still be accepted), writes an unprivileged nginx.conf around the site configuration that
# `start_replicas.py --site-config` prints, runs nginx on PORT, and opens every page through it with
# deploy/smoke.py. Then it waits: Ctrl-C stops nginx and removes the containers.
set -euo pipefail
cd "$(dirname "$0")/.."
K=${1:-2}
PORT=${2:-8080}
IMAGE=${LIGHTNETS_IMAGE:-lightnets}

docker image inspect "$IMAGE" >/dev/null 2>&1 || docker build -f deploy/Dockerfile -t "$IMAGE" .
SECRET=$(python3 -c "import secrets; print(secrets.token_hex(32))")
WORK=$(mktemp -d)
NAMES=()
cleanup() {
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  [ ${#NAMES[@]} -gt 0 ] && docker rm -f "${NAMES[@]}" >/dev/null 2>&1 || true
}
trap cleanup EXIT

SERVERS=""
for i in $(seq 1 "$K"); do
  name="lightnets-replica-$i-$$"
  docker run -d --name "$name" -e STREAMLIT_SERVER_COOKIE_SECRET="$SECRET" "$IMAGE" >/dev/null
  NAMES+=("$name")
  address=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
  SERVERS="${SERVERS:+$SERVERS,}$address:8501"
done
echo "replicas: $SERVERS"

python3 - "$WORK" "$SERVERS" "$PORT" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "deploy")
from start_replicas import nginx_config, site_config
work, servers, port = Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
(work / "nginx.conf").write_text(nginx_config(site_config(servers, f"0.0.0.0:{port}"), work))
PY
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" &
echo "nginx on :$PORT (configuration, logs: $WORK)"

python3 deploy/smoke.py "http://127.0.0.1:$PORT" --wait 180
echo "served by: $(awk '{print $3}' "$WORK/access.log" | sort | uniq -c | tr '\n' ' ')"
echo "students open http://THIS-MACHINE:$PORT/ ; Ctrl-C stops everything"
wait
