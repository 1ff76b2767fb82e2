#!/usr/bin/env python3
"""Issue 11's amplification: 16,000 x '#' in one SUBSCRIBE against 2,000 retained messages.
Prints the broker's peak RSS and a bystander's worst PINGREQ round trip while a greedy
client that does not read is served. Usage: bench/subscribe_amplification.py BROKER_BINARY [extra config line]"""
import os, socket, struct, subprocess, sys, tempfile, threading, time

def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def pkt(first, body): return bytes([first]) + varint(len(body)) + body
def s(x): return struct.pack(">H", len(x)) + x
def connect(cid): return pkt(0x10, s(b"MQTT") + bytes([4, 2]) + struct.pack(">H", 0) + s(cid))
def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])
def client(port, cid):
    c = socket.create_connection(("127.0.0.1", port)); c.sendall(connect(cid))
    assert c.recv(4) == b"\x20\x02\x00\x00"; return c

binary = sys.argv[1]; extra = sys.argv[2] if len(sys.argv) > 2 else ""
port = 20000 + os.getpid() % 10000
d = tempfile.mkdtemp(); conf = os.path.join(d, "b.conf")
open(conf, "w").write(f"listener {port} 127.0.0.1\nallow_anonymous true\n{extra}\n")
broker = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.5)
try:
    pub = client(port, b"pub")
    pub.sendall(b"".join(pkt(0x31, s(f"r/{i:04}".encode()) + b"p" * 100) for i in range(2000)))
    pub.sendall(b"\xc0\x00"); assert pub.recv(2) == b"\xd0\x00"
    by = client(port, b"bystander")
    base = rss_kib(broker.pid)
    greedy = client(port, b"greedy")
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    body = b"\x00\x01" + b"".join(s(b"#") + b"\x00" for _ in range(16000))
    t0 = time.monotonic(); greedy.sendall(pkt(0x82, body))
    peak, worst, stop = base, 0.0, time.monotonic() + 5
    while time.monotonic() < stop:
        t = time.monotonic(); by.sendall(b"\xc0\x00"); assert by.recv(2) == b"\xd0\x00"
        worst = max(worst, time.monotonic() - t); peak = max(peak, rss_kib(broker.pid))
        time.sleep(0.01)
    print(f"{os.path.basename(binary)} {extra or '(defaults)'}: RSS {base} KiB before, peak {peak} KiB "
          f"(+{peak - base} KiB) over 5 s; bystander's worst PINGREQ round trip {worst * 1000:.1f} ms")
finally:
    broker.kill(); broker.wait()
