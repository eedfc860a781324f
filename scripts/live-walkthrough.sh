#!/usr/bin/env bash
# README's "Run it in front of a legacy", command by command. The end-to-end test runs this very
# script, so README and the product cannot drift apart.
#
#   scripts/live-walkthrough.sh all        # up, traffic, report, down, then replay the capture
#   scripts/live-walkthrough.sh up         # stores, seed, legacy + consumer, rewrite, proxy (+ worker), UI, ramp
#   scripts/live-walkthrough.sh traffic    # reads, a create, edits, a vote, its change and un-vote, via the proxy
#   scripts/live-walkthrough.sh report     # wait for every verdict, export the report (json + md)
#   scripts/live-walkthrough.sh down       # stop what `up` started (the capture file is finished here)
#   scripts/live-walkthrough.sh replay-capture   # the captured traffic as a dataset, replayed with its gate
#   scripts/live-walkthrough.sh restart-new      # the rewrite stopped and started again (WALK_NEW_TC: another one)
#
# Configuration: TAPCOMPARE_CONFIG (a TOML file; none: local stores and default ports), plus
# WALK_DIR (logs, pids, report; default .tapcompare/walkthrough). With proxy.compare_mode = "stream"
# in the config, `up` also starts a `tapcompare worker`. For real hosts, point [stores.production]
# and [stores.sister] at them (local = false) and skip `stores up`: `stores prepare` readies them.
set -euo pipefail
cd "$(dirname "$0")/.."

TC=${TAPCOMPARE:-.venv/bin/tapcompare}
PY=${PYTHON:-.venv/bin/python}
WALK_DIR=${WALK_DIR:-.tapcompare/walkthrough}
THREAD=${WALK_THREAD:-t3_haucpf}
mkdir -p "$WALK_DIR"

# The effective settings from TAPCOMPARE_CONFIG and the environment, read once (one interpreter
# start, not one per value): `setting proxy.port` looks one up.
declare -A SETTINGS
while IFS=$'\t' read -r key value; do SETTINGS[$key]=$value; done < <("$PY" -c "
from config import load_settings
s = load_settings()
for section in ('proxy', 'legacy', 'new_service', 'reports', 'capture'):
    for key, value in getattr(s, section).model_dump().items():
        print(f'{section}.{key}\t{value}')")
setting() {  # setting proxy.port -> the effective value
  [ -n "${SETTINGS[$1]+set}" ] || { echo "live-walkthrough: no setting $1 (expected one of the proxy, legacy, new_service, reports, capture sections)" >&2; exit 2; }
  printf '%s\n' "${SETTINGS[$1]}"
}
PROXY="http://$(setting proxy.host):$(setting proxy.port)"
LEGACY="http://$(setting legacy.host):$(setting legacy.port)"
MODE=$(setting proxy.compare_mode)
WORKER_PORT=${WALK_WORKER_PORT:-8104}

start() {  # start NAME CMD...: in the background, logs in $WALK_DIR/NAME.log, pid in NAME.pid
  local name=$1; shift
  # WALK_NEW_TC (words split) serves the rewrite instead of "$TC": a team's own, or a bugged one in tests.
  if [ "$name" = new ] && [ -n "${WALK_NEW_TC:-}" ]; then shift; set -- $WALK_NEW_TC "$@"; fi
  "$@" >"$WALK_DIR/$name.log" 2>&1 &
  echo $! >"$WALK_DIR/$name.pid"
  echo "started $name (pid $!): $*"
}

wait_http() {  # wait_http URL NAME: until URL answers 200, 30 s at most
  local url=$1 name=$2
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$WALK_DIR/$name.pid")" 2>/dev/null; then
      echo "$name exited; its log ($WALK_DIR/$name.log):" >&2; tail -20 "$WALK_DIR/$name.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "$name did not answer $url within 30 s" >&2; return 1
}

up() {
  # 1. Local production and sister store sets (skip for real hosts); `stores up` also prepares them.
  "$TC" stores up
  # 2. Verify: legacy schema, mirrored sister schema, the read-only role, the results database.
  "$TC" stores prepare --check
  # 3. Production data: a dataset built from real threads, seeded through the legacy model.
  "$TC" dataset build --max-comments-per-thread 40 --out "$WALK_DIR/seed.jsonl"
  "$TC" legacy seed --dataset "$WALK_DIR/seed.jsonl" --account alice --account bob
  # 4. The legacy and its CDC consumer, the rewrite in tap mode, the proxy (and a worker in stream mode).
  start legacy "$TC" legacy serve
  start consume "$TC" legacy consume
  start new "$TC" new serve --mode tap
  start proxy "$TC" proxy serve
  if [ "$MODE" = stream ]; then
    start worker "$TC" worker --port "$WORKER_PORT"
  fi
  start ui "$TC" report serve
  wait_http "$LEGACY/health" legacy
  wait_http "http://$(setting new_service.host):$(setting new_service.port)/health" new
  wait_http "$PROXY/ready" proxy
  if [ "$MODE" = stream ]; then wait_http "http://127.0.0.1:$WORKER_PORT/ready" worker; fi
  wait_http "http://$(setting reports.host):$(setting reports.port)/login" ui
  # 5. Ramp: every endpoint to 100% (audited; start lower on a real legacy, e.g. 1).
  for endpoint in info comments morechildren create update increment; do
    "$TC" ramp set "$endpoint" 100 --why "walkthrough"
  done
  "$TC" ramp show
}

send() {  # send ENDPOINT METHOD PATH [USER [FORM]]: through the proxy; logs "endpoint status" to sent.tsv
  local endpoint=$1 method=$2 path=$3 user=${4:-} form=${5:-} out status
  out="$WALK_DIR/last-response.json"
  mkdir -p "$WALK_DIR/responses"
  if [ "$method" = GET ]; then
    status=$(curl -s -o "$out" -w '%{http_code}' "$PROXY$path")
  else
    status=$(curl -s -o "$out" -w '%{http_code}' -X POST -H "X-Auth-User: $user" --data "$form" "$PROXY$path")
  fi
  printf '%s\t%s\n' "$endpoint" "$status" >>"$WALK_DIR/sent.tsv"
  cp "$out" "$WALK_DIR/responses/$(wc -l <"$WALK_DIR/sent.tsv" | tr -d ' ')-$endpoint.json"
  echo "$endpoint $method $path -> $status"
}

json() {  # json EXPR: evaluate EXPR over the last response (as `r`)
  "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); print($1)" "$WALK_DIR/last-response.json"
}

traffic() {
  : >"$WALK_DIR/sent.tsv"
  local link36=${THREAD#t3_} comment author reply
  # Reads: a thread, single comments, more children.
  send comments GET "/comments/$link36?sort=confidence&limit=50"
  comment=$(json "next(c['data']['name'] for c in r[1]['data']['children'] if c['kind'] == 't1' and c['data']['author'] != '[deleted]')")
  author=$(json "next(c['data']['author'] for c in r[1]['data']['children'] if c['data'].get('name') == '$comment')")
  send info GET "/api/info?id=$comment,$THREAD"
  send morechildren GET "/api/morechildren?link_id=$THREAD&children=${comment#t1_}&sort=top"
  # A create (a reply to that comment), then an edit inside the 3-minute window (no edit time).
  send create POST /api/comment alice "thing_id=$comment&text=Reply from the walkthrough"
  reply=$(json "r['json']['data']['things'][0]['data']['name']")
  send update POST /api/editusertext alice "thing_id=$reply&text=Reply from the walkthrough, edited at once"
  # An edit outside the window: the old comment, by its own author (the edit time is set).
  send update POST /api/editusertext "$author" "thing_id=$comment&text=Edited long after posting"
  # A vote, a changed vote and an un-vote.
  send increment POST /api/vote bob "id=$comment&dir=1"
  send increment POST /api/vote bob "id=$comment&dir=-1"
  send increment POST /api/vote bob "id=$comment&dir=0"
  # Writes the legacy refuses are judged too: the rewrite must refuse them alike and store nothing.
  send update POST /api/editusertext bob "thing_id=$reply&text=Not bob's to edit"
  send increment POST /api/vote "" "id=$reply&dir=1"
  # The author edits again: judged from the right start whatever the refused edit did to the rewrite.
  send update POST /api/editusertext alice "thing_id=$reply&text=Reply from the walkthrough, edited twice"
}

report() {
  # Reads judge one response path; writes the legacy accepted or refused one response path plus six
  # store paths.
  local expected
  expected=$(awk -F'\t' '$2 ~ /^[24]/ { n += ($1 ~ /^(create|update|increment)$/) ? 7 : 1 } END { print n + 0 }' "$WALK_DIR/sent.tsv")
  for _ in $(seq 1 600); do
    "$TC" report export --format json --out "$WALK_DIR/report.json" >/dev/null  # polling, not in README
    if [ "$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['total'])" "$WALK_DIR/report.json")" -ge "$expected" ]; then
      break
    fi
    sleep 0.1
  done
  "$TC" report export --format md --out "$WALK_DIR/report.md"
  "$TC" report export --format json --out "$WALK_DIR/report.json"
  echo "expected $expected verdicts; reviewer UI: http://$(setting reports.host):$(setting reports.port)/"
}

down() {
  local name pid
  for name in ui worker proxy new consume legacy; do
    [ -f "$WALK_DIR/$name.pid" ] || continue
    pid=$(cat "$WALK_DIR/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$WALK_DIR/$name.pid"
  done
  "$TC" stores down
}

replay_capture() {
  # With [capture] enabled, the proxy recorded the sampled traffic (finished when it stopped).
  local capture
  capture=$(setting capture.path)
  "$TC" dataset import --from capture "$capture" --seed "$WALK_DIR/seed.jsonl" --out "$WALK_DIR/captured.jsonl"
  "$TC" replay "$WALK_DIR/captured.jsonl" --fail-on any --out "$WALK_DIR/replay" --stores-dir "$WALK_DIR/replay-stores"
}

restart_new() {  # stop the rewrite and start it again (a new build, or in tests another planted bug)
  local pid
  pid=$(cat "$WALK_DIR/new.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  start new "$TC" new serve --mode tap  # not in README
  wait_http "http://$(setting new_service.host):$(setting new_service.port)/health" new
}

case "${1:-all}" in
  up) up ;;
  restart-new) restart_new ;;
  traffic) traffic ;;
  report) report ;;
  down) down ;;
  replay-capture) replay_capture ;;
  all)
    trap down EXIT
    up; traffic; report
    down; trap - EXIT
    if [ "$(setting capture.enabled)" = True ]; then replay_capture; fi ;;
  *) echo "usage: $0 [all|up|traffic|report|down|replay-capture|restart-new]" >&2; exit 2 ;;
esac
