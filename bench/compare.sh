#!/usr/bin/env bash
# midge against mosquitto on this machine: the standard set of scenarios, each broker pinned
# to core 0 and the load generator to core 1, results side by side.
#
#   bash bench/compare.sh [RESULTS_DIR]      (default: bench/results/YYYYmmdd-HHMMSS)
#
# Writes, per scenario, each broker's JSON result and .hgrm, a markdown table with ratios
# and an SVG latency chart; summary.md gathers the tables. Takes about two minutes: each
# scenario measures DURATION seconds (default 4) after a 1 s warm-up.
#
# Environment: BROKERS (default "midge mosquitto rumqttd"; the first is the baseline of the
# ratios), RUNS (default 3: each broker runs each scenario this many times and the run with
# the median throughput is reported), DURATION, BROKER_CPU (default 0), LOADGEN_CPU
# (default 1), BASE_PORT (default 21883), ONLY (a regular expression: run only the
# scenarios whose names match), RUMQTTD (the rumqttd binary; by default built once with
# `cargo install rumqttd` into ~/.cache/midge-bench, outside the repository).
# TLS=1 runs every scenario over TLS (midge and mosquitto only): a CA and a certificate for
# 127.0.0.1 are made with openssl, the brokers get certfile/keyfile, the generator --cafile.
# BROKERS="midge before" MIDGE_BEFORE=PATH compares this build with another midge binary.
# Adding a broker: write start_NAME (config in $work, listen on $1, print nothing, leave the
# server running in the background and its pid in $pid) and put NAME in BROKERS.
set -euo pipefail
cd "$(dirname "$0")/.."

TLS=${TLS:-0}
if [ "$TLS" = 1 ]; then
    BROKERS=${BROKERS:-"midge mosquitto"}
else
    BROKERS=${BROKERS:-"midge mosquitto rumqttd"}
fi
RUNS=${RUNS:-3}
DURATION=${DURATION:-4}
BROKER_CPU=${BROKER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
BASE_PORT=${BASE_PORT:-21883}
ONLY=${ONLY:-.}
out=${1:-bench/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
work=$(mktemp -d)
pid=""

cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# As many descriptors as we may have: the idle-connections scenario opens 10,000.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --release --quiet --workspace --bins
loadgen=target/release/midge_loadgen
export PATH="$PATH:/usr/sbin"

tls_args=()
if [ "$TLS" = 1 ]; then
    # mosquitto reads its files after dropping to its own user: make them readable.
    chmod 755 "$work"
    (
        cd "$work"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout ca.key -out ca.pem -days 2 -subj "/CN=midge bench CA" 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out server.pem -days 2 -extfile server.ext 2>/dev/null
        chmod 644 server.key
    )
    tls_args=(--cafile "$work/ca.pem")
fi

# Queues unbounded and in-flight windows wide for both: the run measures speed, not limits.
# A scenario with a third field (`write` or `fsync`) runs with persistence on, in a new
# directory each run (a run must not inherit the last one's sessions); midge gets that `persistence_sync`, mosquitto its only way (a
# snapshot at `autosave_interval` and at exit, so nothing during the run).
persist=""
write_config() { # PORT FILE
    local persistence=false
    [ -n "$persist" ] && persistence=true
    cat >"$2" <<EOF
listener $1 127.0.0.1
allow_anonymous true
persistence $persistence
max_queued_messages 0
max_inflight_messages 0
max_queued_bytes 0
EOF
    if [ -n "$persist" ]; then
        # Both brokers give root up before they open their files.
        chmod 755 "$work"
        local db
        db=$(mktemp -d "$work/db.XXXXXX")
        chmod 777 "$db"
        echo "persistence_location $db/" >>"$2"
    fi
    if [ "$TLS" = 1 ]; then
        printf 'certfile %s\nkeyfile %s\n' "$work/server.pem" "$work/server.key" >>"$2"
    fi
}

start_midge() {
    write_config "$1" "$work/midge.conf"
    if [ -n "$persist" ]; then echo "persistence_sync $persist" >>"$work/midge.conf"; fi
    taskset -c "$BROKER_CPU" target/release/midge -c "$work/midge.conf" >"$work/midge.log" 2>&1 &
    pid=$!
}

# Another build of midge, for A/B runs of a change: BROKERS="midge before" MIDGE_BEFORE=PATH.
start_before() {
    write_config "$1" "$work/before.conf"
    taskset -c "$BROKER_CPU" "${MIDGE_BEFORE:?set MIDGE_BEFORE to the other midge binary}" \
        -c "$work/before.conf" >"$work/before.log" 2>&1 &
    pid=$!
}

start_mosquitto() {
    write_config "$1" "$work/mosquitto.conf"
    # Without it mosquitto leaves Nagle on for its subscribers, and latency with it.
    echo "set_tcp_nodelay true" >>"$work/mosquitto.conf"
    taskset -c "$BROKER_CPU" mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    pid=$!
}

# rumqttd 0.20 with its own defaults (QoS 1 window 100, connections paced 1 ms apart), an
# MQTT 3.1.1 listener only, and nothing else (no console, metrics or websockets).
rumqttd_bin() {
    if [ -n "${RUMQTTD:-}" ]; then echo "$RUMQTTD"; return; fi
    local cache="$HOME/.cache/midge-bench/rumqttd"
    if [ ! -x "$cache/bin/rumqttd" ]; then
        echo "building rumqttd 0.20.0 into $cache (once)" >&2
        cargo install --quiet rumqttd --version 0.20.0 --root "$cache" >&2
    fi
    echo "$cache/bin/rumqttd"
}

start_rumqttd() {
    if [ "$TLS" = 1 ]; then echo "TLS=1: rumqttd is not set up for TLS here" >&2; return 1; fi
    if [ -n "$persist" ]; then echo "rumqttd has no persistence" >&2; return 1; fi
    cat >"$work/rumqttd.toml" <<EOF
id = 0
[router]
id = 0
max_connections = 20010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "127.0.0.1:$1"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true
EOF
    taskset -c "$BROKER_CPU" "$(rumqttd_bin)" -q -c "$work/rumqttd.toml" >"$work/rumqttd.log" 2>&1 &
    pid=$!
}

wait_listening() { # PORT
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "broker on port $1 did not start" >&2
    return 1
}

# name | loadgen arguments [| persistence_sync: persistence on]
scenarios=(
    "fanout-1x100-qos0|fanout --pubs 1 --subs 100 --qos 0"
    "fanout-1x1000-qos0|fanout --pubs 1 --subs 1000 --qos 0"
    "fanin-100x1-qos0|fanin --pubs 100 --qos 0"
    "fanin-1000x1-qos0|fanin --pubs 1000 --qos 0"
    "pairs-100-qos0|pairs -n 100 --qos 0"
    "pairs-100-qos1|pairs -n 100 --qos 1 --inflight 64"
    "pairs-500-qos1|pairs -n 500 --qos 1"
    "pairs-100-qos1-persistent|pairs -n 100 --qos 1 --inflight 64 --persistent"
    "pairs-100-qos1-persist-write|pairs -n 100 --qos 1 --inflight 64 --persistent|write"
    "pairs-100-qos1-persist-fsync|pairs -n 100 --qos 1 --inflight 64 --persistent|fsync"
    "fanout-1x100-qos0-persist-write|fanout --pubs 1 --subs 100 --qos 0 --persistent|write"
    "latency-10k-x10-qos0|fanout --pubs 1 --subs 10 --qos 0 --rate 10000"
    "latency-1k-x100-qos0|fanout --pubs 1 --subs 100 --qos 0 --rate 1000"
    "conns-10000-idle|conns -c 10000"
)

# The JSON of the median run among "$@" (by delivery rate, or connect rate for idle runs).
median_run() {
    python3 - "$@" <<'PY'
import json, sys
runs = []
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError):
        continue
    rate = r.get("received_per_s") or 0
    if not rate:
        rate = (r.get("connect") or {}).get("per_s") or 0
    runs.append((rate, path))
runs.sort()
if runs:
    print(runs[len(runs) // 2][1])
PY
}

summary="$out/summary.md"
{
    echo "# midge vs the others: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Brokers on core $BROKER_CPU, load generator on core $LOADGEN_CPU ($(nproc) cores), loopback$([ "$TLS" = 1 ] && echo ' over TLS'),"
    echo "${DURATION} s measured after 1 s warm-up per scenario; each figure is the median of"
    echo "$RUNS runs. Ratios are against ${BROKERS%% *}."
    echo
} >"$summary"

status=0
for entry in "${scenarios[@]}"; do
    IFS='|' read -r name args persist <<<"$entry"
    [[ $name =~ $ONLY ]] || continue
    from=()
    port=$BASE_PORT
    for broker in $BROKERS; do
        if [ -n "$persist" ] && [ "$broker" = rumqttd ]; then continue; fi
        runs=()
        for run in $(seq "$RUNS"); do
            port=$((port + 1))
            "start_$broker" "$port"
            wait_listening "$port"
            echo "== $name: $broker run $run (pid $pid, port $port)" >&2
            result="$out/$name-$broker-run$run"
            # shellcheck disable=SC2086 # $args is a list of arguments
            if ! timeout 180 taskset -c "$LOADGEN_CPU" "$loadgen" $args -p "$port" "${tls_args[@]}" \
                --duration "$DURATION" --warmup 1 --drain 5 --name "$broker" --broker-pid "$pid" \
                --json --hgrm "$result.hgrm" >"$result.json"; then
                echo "!! $name against $broker did not pass its checks" >&2
                status=1
            fi
            kill "$pid"
            wait "$pid" 2>/dev/null || true
            pid=""
            runs+=("$result.json")
        done
        median=$(median_run "${runs[@]}")
        if [ -n "$median" ]; then
            cp "$median" "$out/$name-$broker.json"
            cp "${median%.json}.hgrm" "$out/$name-$broker.hgrm" 2>/dev/null || true
            from+=(--from "$out/$name-$broker.json")
        fi
    done
    if [ "${#from[@]}" -eq 0 ]; then continue; fi
    "$loadgen" compare "${from[@]}" --svg "$out/$name.svg" --markdown "$out/$name.md" >/dev/null ||
        status=1
    { echo "## $name"; echo; cat "$out/$name.md"; echo "![latency]($name.svg)"; echo; } >>"$summary"
done

cat "$summary"
echo "results in $out" >&2
exit "$status"
