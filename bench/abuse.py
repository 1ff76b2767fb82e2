#!/usr/bin/env python3
"""The attacks of issue 11, each against a fresh broker, midge and mosquitto in one run.

For each attack and broker: start the broker on a loopback port, connect a well-behaved
client (the probe, in a process of its own) that sends PINGREQ every 10 ms and times each
PINGRESP, run the attack, and report the broker's peak resident memory (VmHWM from
/proc/PID/status) and the probe's worst reply time while the attack ran. Output: a markdown
table on stdout, one JSON line per run in the results file.

    python3 bench/abuse.py --midge target/release/midge --mosquitto /usr/sbin/mosquitto

Raw sockets, MQTT 3.1.1, loopback only. Every loop is bounded in count and in time. A broker
whose resident memory passes --rss-cap-mib is stopped (the machine may be shared) and its
row says so. bench/abuse.sh runs this with the release build and the file descriptor limit
the 10,000 sockets need.
"""
import argparse
import json
import multiprocessing
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"
DISCONNECT = b"\xe0\x00"


# --- MQTT 3.1.1 packets, byte by byte ---

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(data):
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">H", len(data)) + data


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect_packet(client_id, keepalive=60):
    body = mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack(">H", keepalive)
    return packet(0x10, body + mqtt_string(client_id))


def subscribe_packet(packet_id, filters, qos=0):
    body = struct.pack(">H", packet_id)
    body += b"".join(mqtt_string(f) + bytes([qos]) for f in filters)
    return packet(0x82, body)


def publish_packet(topic, payload, retain=False):
    return packet(0x30 | int(retain), mqtt_string(topic) + payload)


# --- sockets ---

def open_socket(port, timeout=5.0, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_exactly(s, n):
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed by the broker")
        out += chunk
    return bytes(out)


def read_packet(s):
    """One packet: (first byte, body)."""
    first = read_exactly(s, 1)[0]
    length, shift = 0, 0
    for _ in range(4):
        b = read_exactly(s, 1)[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first, read_exactly(s, length)


def client(port, client_id, **kw):
    """A connected client: CONNECT sent and CONNACK read."""
    s = open_socket(port, **kw)
    s.sendall(connect_packet(client_id))
    first, body = read_packet(s)
    if first != 0x20 or body[1] != 0:
        raise ConnectionError(f"CONNACK {first:#x} {body!r}")
    return s


def round_trip(s):
    """PINGREQ, then everything up to its PINGRESP: the broker has handled what came before."""
    s.sendall(PINGREQ)
    for _ in range(1_000_000):
        first, _ = read_packet(s)
        if first == 0xD0:
            return
    raise RuntimeError("no PINGRESP")


def close_all(sockets):
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass


def send_for(s, data, deadline):
    """Sends `data` until done or the deadline; returns the bytes sent. A broker that stops
    reading makes the socket push back, which is what ends this early."""
    view = memoryview(data)
    sent = 0
    while sent < len(view) and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            sent += s.send(view[sent:sent + 1024 * 1024])
        except socket.timeout:
            break
        except OSError:
            break
    return sent


# --- the attacks: each returns a note for the table ---

def attack_idle(port):
    time.sleep(2)
    return "no attack: the broker with the probe alone"


def attack_pingreq_flood(port):
    """A peer sends 64 MiB of PINGREQ and never reads."""
    s = client(port, "flood", rcvbuf=4096)
    total = 64 * 1024 * 1024
    chunk = PINGREQ * (512 * 1024)
    sent = 0
    start = time.monotonic()
    deadline = start + 30
    while sent < total and time.monotonic() < deadline:
        n = send_for(s, chunk, deadline)
        sent += n
        if n < len(chunk):
            break
    took = time.monotonic() - start
    time.sleep(1)
    close_all([s])
    return f"the broker took {sent / 2**20:.0f} MiB in {took:.1f} s"


def attack_subscribe_hash(port):
    """2,000 retained messages, then one SUBSCRIBE of 16,000 copies of `#`, never read."""
    pub = client(port, "retainer")
    payload = b"r" * 64
    pub.sendall(b"".join(publish_packet(f"retained/{i}", payload, retain=True)
                         for i in range(2000)))
    round_trip(pub)
    s = client(port, "hash16000", rcvbuf=4096)
    s.sendall(subscribe_packet(1, ["#"] * 16000))
    time.sleep(10)
    close_all([s, pub])
    return "2,000 retained of 64 B; the subscriber reads nothing for 10 s"


def attack_slow_subscribers(port):
    """100 subscribers stop reading; one publisher sends 10,000 msg/s of 1 KiB for 10 s."""
    subs = []
    for i in range(100):
        s = client(port, f"slow{i}")
        s.sendall(subscribe_packet(1, ["load/#"]))
        read_packet(s)  # SUBACK; nothing is read after it
        subs.append(s)
    pub = client(port, "publisher")
    batch = publish_packet("load/x", b"p" * 1024) * 100  # every 10 ms
    sent = 0
    start = time.monotonic()
    deadline = start + 10
    for tick in range(1000):
        due = start + tick * 0.01
        if due >= deadline:
            break
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        n = send_for(pub, batch, deadline)
        sent += n // (len(batch) // 100)
        if n < len(batch):
            break
    time.sleep(1)
    close_all(subs + [pub])
    return f"{sent:,} of 100,000 messages published in 10 s"


def attack_many_subscriptions(port):
    """A client takes 200,000 subscriptions, then disconnects."""
    s = client(port, "hoarder", timeout=30)
    deadline = time.monotonic() + 60
    done = 0
    for packet_id in range(1, 201):
        if time.monotonic() > deadline:
            break
        filters = [f"hoard/{packet_id}/{i}" for i in range(1000)]
        s.sendall(subscribe_packet(packet_id, filters))
        first, _ = read_packet(s)
        if first != 0x90:
            break
        done += 1000
    time.sleep(0.5)
    disconnected = time.monotonic()
    s.sendall(DISCONNECT)
    close_all([s])
    time.sleep(3)
    return f"{done:,} subscriptions, then DISCONNECT", ("DISCONNECT", disconnected)


def attack_half_open(port):
    """10,000 sockets that connect and send nothing, held 5 s."""
    socks = []
    deadline = time.monotonic() + 30
    failure = ""
    for _ in range(10000):
        if time.monotonic() > deadline:
            break
        try:
            socks.append(open_socket(port, timeout=2))
        except OSError as e:
            failure = f" (then {type(e).__name__})"
            break
    opened = len(socks)
    time.sleep(5)
    close_all(socks)
    return f"{opened:,} sockets held 5 s{failure}"


def attack_huge_client_ids(port):
    """1,000 clients whose client ids are 65,535 bytes."""
    socks = []
    deadline = time.monotonic() + 30
    refused = 0
    for i in range(1000):
        if time.monotonic() > deadline:
            break
        cid = (f"{i:05}" + "i" * 65535)[:65535]
        try:
            socks.append(client(port, cid))
        except (OSError, ConnectionError):
            refused += 1
    time.sleep(2)
    close_all(socks)
    return f"{len(socks):,} connected, {refused:,} refused"


def attack_huge_topics(port):
    """500 retained messages on 65,000-byte topics, and 500 filters of 64,988 bytes."""
    s = client(port, "longtopics", timeout=30)
    deadline = time.monotonic() + 30
    kept = 0
    try:
        for i in range(500):
            if time.monotonic() > deadline:
                break
            s.sendall(publish_packet((f"{i:05}/" + "t" * 65000)[:65000], b"x", retain=True))
            kept += 1
        filters = [f"{i:05}/" + "f" * 64980 + "/#" for i in range(500)]
        for packet_id, chunk in enumerate(range(0, 500, 50), start=1):
            s.sendall(subscribe_packet(packet_id, filters[chunk:chunk + 50]))
            read_packet(s)
        round_trip(s)
        note = f"{kept} retained, 500 filters"
    except (OSError, ConnectionError) as e:
        note = f"{kept} retained, then closed by the broker ({type(e).__name__})"
    time.sleep(2)
    close_all([s])
    return note


def attack_incomplete_packets(port):
    """50 clients each send 4 MiB of a PUBLISH that claims 256 MiB, and stop."""
    socks = []
    header = b"\x30" + varint(268435455) + mqtt_string("incomplete")
    body = b"z" * (4 * 1024 * 1024)
    deadline = time.monotonic() + 30
    buffered = 0
    for i in range(50):
        if time.monotonic() > deadline:
            break
        try:
            s = client(port, f"partial{i}")
        except (OSError, ConnectionError):
            break
        socks.append(s)
        buffered += send_for(s, header + body, min(deadline, time.monotonic() + 2))
    time.sleep(2)
    close_all(socks)
    return f"{buffered / 2**20:.0f} MiB sent over {len(socks)} connections"


ATTACKS = {
    "idle": attack_idle,
    "pingreq-flood": attack_pingreq_flood,
    "subscribe-16000-hash": attack_subscribe_hash,
    "slow-subscribers": attack_slow_subscribers,
    "200k-subscriptions": attack_many_subscriptions,
    "half-open-10000": attack_half_open,
    "huge-client-ids": attack_huge_client_ids,
    "huge-topics": attack_huge_topics,
    "incomplete-packets": attack_incomplete_packets,
}

DESCRIPTIONS = {
    "idle": "none (the probe alone)",
    "pingreq-flood": "64 MiB of PINGREQ, never reading",
    "subscribe-16000-hash": "16,000 × `#` in one SUBSCRIBE against 2,000 retained",
    "slow-subscribers": "100 subscribers stop reading, 10,000 msg/s of 1 KiB",
    "200k-subscriptions": "200,000 subscriptions, then disconnect",
    "half-open-10000": "10,000 half-open sockets",
    "huge-client-ids": "1,000 client ids of 65,535 bytes",
    "huge-topics": "500 retained on 65,000-byte topics, 500 filters as long",
    "incomplete-packets": "50 × 4 MiB of a PUBLISH claiming 256 MiB",
}


# --- the probe: a well-behaved client in its own process ---

def probe(port, ready, stop, results):
    """PINGREQ every 10 ms, each answered before the next; a reply that is late is waited
    for (until the attack ends), so a stall counts in full."""
    worst, pings, lost, waiting, samples = 0.0, 0, None, None, []
    try:
        s = client(port, "probe")
        s.settimeout(0.1)
        ready.set()
        while not stop.is_set() and pings < 100_000:
            t = time.monotonic()
            s.sendall(PINGREQ)
            got = b""
            # Once the attack is over, a reply in flight gets 2 s more.
            while len(got) < 2 and not (stop.is_set() and time.monotonic() - t > 2):
                try:
                    chunk = s.recv(2 - len(got))
                except socket.timeout:
                    continue
                if not chunk:
                    raise ConnectionError("closed by the broker")
                got += chunk
            waited = time.monotonic() - t
            worst = max(worst, waited)
            samples.append((t, waited))
            if len(got) < 2:
                waiting = waited
                break
            if got != PINGRESP:
                raise ConnectionError("not a PINGRESP")
            pings += 1
            time.sleep(0.01)
    except (OSError, ConnectionError) as e:
        lost = type(e).__name__
        ready.set()
    results.put({"worst_ms": worst * 1000, "pings": pings, "probe_lost": lost,
                 "unanswered_ms": None if waiting is None else waiting * 1000,
                 "samples": samples})


# --- the broker under test ---

PINNED = (os.cpu_count() or 1) >= 2

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Broker:
    def __init__(self, binary, workdir, name, extra=""):
        self.port = free_port()
        conf = os.path.join(workdir, f"{name}.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{extra}")
        self.log = open(os.path.join(workdir, f"{name}.log"), "wb")
        # The broker on core 0, the probe and the attack on core 1 (see main).
        pin = ["taskset", "-c", "0"] if PINNED else []
        self.proc = subprocess.Popen(pin + [binary, "-c", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.hwm_kib = None
        self.capped = False
        for _ in range(250):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{binary} did not listen on {self.port}")

    def watch(self, cap_kib, stop):
        """Samples the resident size; stops the broker above the cap."""
        while not stop.is_set():
            rss = status_kib(self.proc.pid, "VmRSS")
            hwm = status_kib(self.proc.pid, "VmHWM")
            if hwm is not None:
                self.hwm_kib = hwm
            if rss is None:
                return
            if rss > cap_kib:
                self.capped = True
                self.proc.kill()
                return
            time.sleep(0.02)

    def stop(self):
        hwm = status_kib(self.proc.pid, "VmHWM")
        if hwm is not None:
            self.hwm_kib = hwm
        alive = self.proc.poll() is None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        return alive


# Bounds lifted where an attack is about what happens beyond them: midge's default of
# 10,000 subscriptions per client would refuse the rest of the 200,000 (SUBACK 0x80).
EXTRA_CONFIG = {
    ("midge", "200k-subscriptions"): "max_subscriptions_per_client 0\n",
}


def run_one(binary, broker_name, attack, workdir, cap_mib):
    extra = EXTRA_CONFIG.get((broker_name, attack), "")
    broker = Broker(binary, workdir, f"{broker_name}-{attack}", extra)
    ctx = multiprocessing.get_context("fork")
    ready, stop, results = ctx.Event(), ctx.Event(), ctx.Queue()
    prober = ctx.Process(target=probe, args=(broker.port, ready, stop, results))
    prober.start()
    ready.wait(10)
    watch_stop = threading.Event()
    watcher = threading.Thread(target=broker.watch, args=(cap_mib * 1024, watch_stop))
    watcher.start()
    start = time.monotonic()
    phase = None
    try:
        note = ATTACKS[attack](broker.port)
        if isinstance(note, tuple):
            note, phase = note
    except (OSError, ConnectionError, RuntimeError) as e:
        note = f"attack ended by {type(e).__name__}: {e}"
    elapsed = time.monotonic() - start
    stop.set()
    try:
        result = results.get(timeout=15)
    except Exception:
        result = {"worst_ms": None, "pings": 0, "probe_lost": "no result",
                  "unanswered_ms": None}
    prober.join(5)
    samples = result.pop("samples", [])
    if phase:
        # The replies the phase could have delayed: those still awaited when it began.
        after = [rtt for t, rtt in samples if t + rtt >= phase[1]]
        if after:
            note += f"; worst reply from {phase[0]} on: {max(after) * 1000:,.1f} ms"
    watch_stop.set()
    watcher.join()
    survived = broker.stop()
    if extra:
        note += f" (with `{extra.strip()}`)"
    if broker.capped:
        note += f"; stopped at the {cap_mib} MiB cap"
    elif not survived:
        note += "; the broker died"
    return {
        "broker": broker_name, "attack": attack, "peak_rss_mib": (broker.hwm_kib or 0) / 1024,
        "capped": broker.capped, "seconds": elapsed, "note": note, **result,
    }


def table(rows):
    out = ["| attack | broker | peak RSS (MiB) | worst PINGRESP (ms) | pings | what happened |",
           "|---|---|---:|---:|---:|---|"]
    for r in rows:
        rss = f"{r['peak_rss_mib']:.1f}" + (" (cap)" if r["capped"] else "")
        worst = "—" if r["worst_ms"] is None else f"{r['worst_ms']:,.1f}"
        if r.get("unanswered_ms") is not None:
            worst = f"≥ {worst} (unanswered when the attack ended)"
        if r["probe_lost"]:
            worst += f", then disconnected ({r['probe_lost']})"
        out.append(f"| {DESCRIPTIONS[r['attack']]} | {r['broker']} | {rss} | {worst} "
                   f"| {r['pings']:,} | {r['note']} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--midge", default="target/release/midge")
    ap.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    ap.add_argument("--brokers", default="midge,mosquitto")
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--rss-cap-mib", type=int, default=2048)
    ap.add_argument("--results", default="target/abuse/results.jsonl")
    args = ap.parse_args()
    if PINNED:
        os.sched_setaffinity(0, {1})
    binaries = {"midge": args.midge, "mosquitto": args.mosquitto}
    os.makedirs(os.path.dirname(args.results) or ".", exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="midge-abuse-")
    rows = []
    with open(args.results, "w") as out:
        for attack in args.attacks.split(","):
            for name in args.brokers.split(","):
                row = run_one(binaries[name], name, attack, workdir, args.rss_cap_mib)
                rows.append(row)
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{attack} {name}: {row['peak_rss_mib']:.1f} MiB, worst "
                      f"{row['worst_ms']} ms, {row['note']}", file=sys.stderr)
    print(table(rows))
    print(f"\nBroker logs: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
