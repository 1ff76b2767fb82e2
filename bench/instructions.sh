#!/usr/bin/env bash
# Instructions per message of two midge builds, counted by callgrind: repeatable on a noisy
# machine where throughput runs differ by ±40 % between runs.
#
#   bash bench/instructions.sh OTHER_MIDGE_BINARY
#
# Each scenario runs closed loop (under valgrind the broker is always the bottleneck, so its
# turns carry full batches, as at full speed) for a short and a long time; the difference of the two instruction counts over the difference of messages delivered is
# the cost per message with connection set-up taken out. Broker on core 0, load on core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
other=${1:?usage: bench/instructions.sh OTHER_MIDGE_BINARY}
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
cargo build --release --quiet --workspace --bins
loadgen=target/release/midge_loadgen
work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "work dir: $work" >&2
chmod 777 "$work" # a broker started as root may give root up before callgrind writes its file
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
port=23100

# Prints "INSTRUCTIONS MESSAGES" for one run: BINARY SECONDS LOADGEN-ARGS...
count() {
    local bin=$1 seconds=$2
    shift 2
    port=$((port + 1))
    printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\nmax_queued_bytes 0\n' \
        "$port" >"$work/broker.conf"
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
        "$bin" -c "$work/broker.conf" >"$work/broker.log" 2>&1 &
    local vg=$!
    for _ in $(seq 200); do (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    taskset -c 1 "$loadgen" "$@" -p "$port" --duration "$seconds" --warmup 1 --drain 5 --json >"$work/run.json" 2>"$work/loadgen.log"
    kill -INT "$vg"
    wait "$vg" || true
    local ir messages
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$work/cg.out")
    messages=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['received'])" "$work/run.json")
    echo "$ir $messages"
}

scenarios=(
    "fan-out 1 -> 100, QoS 0|fanout --pubs 1 --subs 100 --qos 0"
    "100 pairs, QoS 1|pairs -n 100 --qos 1 --inflight 64"
)
echo "| scenario | $(basename "$other") ($other) | this build | this / other |"
echo "|---|---:|---:|---:|"
for entry in "${scenarios[@]}"; do
    name=${entry%%|*}
    read -ra args <<<"${entry#*|}"
    per=()
    for bin in "$other" target/release/midge; do
        read -r ir1 m1 < <(count "$bin" 4 "${args[@]}")
        read -r ir2 m2 < <(count "$bin" 12 "${args[@]}")
        per+=("$(( (ir2 - ir1) / (m2 - m1) ))")
    done
    ratio=$(python3 -c "print(f'{$((per[1]))/$((per[0])):.2f}')")
    echo "| $name: instructions per delivered message | ${per[0]} | ${per[1]} | $ratio |"
done
