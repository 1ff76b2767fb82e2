#!/usr/bin/env python3
"""Writes the seed corpora: valid packets of every type for MQTT 3.1, 3.1.1 and 5.0, the
known-bad cases from the end-to-end tests, and broker scripts built from them.

    python3 fuzz/seed_corpus.py        # rewrites fuzz/corpus/{decode,broker_session}/seed-*

The fuzzer adds its own finds beside these (minimised with `cargo fuzz cmin`)."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(data):
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">H", len(data)) + data


def pkt(first, body):
    return bytes([first]) + varint(len(body)) + body


def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body


def p_byte(i, v): return bytes([i, v])
def p_u16(i, v): return bytes([i]) + struct.pack(">H", v)
def p_u32(i, v): return bytes([i]) + struct.pack(">I", v)
def p_str(i, v): return bytes([i]) + s(v)
def p_var(i, v): return bytes([i]) + varint(v)
def p_user(k, v): return bytes([0x26]) + s(k) + s(v)


def connect(version, cid="c", flags=0x02, keepalive=60, cprops=b"", will=None,
            user=None, password=None, name=None):
    name = name or ("MQIsdp" if version == 3 else "MQTT")
    if will:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if user is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = s(name) + bytes([version, flags]) + struct.pack(">H", keepalive)
    if version == 5:
        body += props(cprops) if cprops else b"\x00"
    body += s(cid)
    if will:
        if version == 5:
            body += props(will.get("props", b""))
        body += s(will["topic"]) + s(will.get("payload", b"bye"))
    if user is not None:
        body += s(user)
    if password is not None:
        body += s(password)
    return pkt(0x10, body)


def publish(version, topic, payload=b"hi", qos=0, pid=1, retain=False, dup=False, pprops=b""):
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = s(topic) + (struct.pack(">H", pid) if qos else b"")
    if version == 5:
        body += props(pprops)
    return pkt(first, body + payload)


def resp(first, version, pid=1, reason=None, rprops=None):
    body = struct.pack(">H", pid)
    if version == 5 and reason is not None:
        body += bytes([reason])
        if rprops is not None:
            body += props(rprops)
    return pkt(first, body)


def subscribe(version, filters, pid=1, sprops=b""):
    body = struct.pack(">H", pid) + (props(sprops) if version == 5 else b"")
    for f, o in filters:
        body += s(f) + bytes([o])
    return pkt(0x82, body)


def unsubscribe(version, filters, pid=1):
    body = struct.pack(">H", pid) + (b"\x00" if version == 5 else b"")
    for f in filters:
        body += s(f)
    return pkt(0xa2, body)


def valid_packets(v):
    """Every packet type in version v (3, 4 or 5)."""
    v5 = v == 5
    out = {
        "connect-min": connect(v),
        "connect-full": connect(
            v, "client-1", 0x00, 30,
            cprops=p_u32(0x11, 60) + p_u16(0x21, 10) + p_u32(0x27, 4096) + p_u16(0x22, 5)
            + p_byte(0x17, 1) + p_byte(0x19, 1) + p_user("k", "v") if v5 else b"",
            will={"topic": "will/t", "qos": 1, "retain": True,
                  "props": p_u32(0x18, 5) + p_byte(0x01, 1) + p_u32(0x02, 10)
                  + p_str(0x03, "text/plain") + p_str(0x08, "resp/t") + p_str(0x09, "corr")
                  + p_user("a", "b")},
            user="user", password=b"secret"),
        "connack": pkt(0x20, b"\x00\x00" + (props(p_u16(0x22, 10) + p_u16(0x21, 20)) if v5 else b"")),
        "publish-q0": publish(v, "a/b", b"hello"),
        "publish-q1": publish(v, "a/b", b"hello", qos=1, pid=7),
        "publish-q2-retain-dup": publish(v, "a/b/c", b"x" * 40, qos=2, pid=9, retain=True, dup=True),
        "puback": resp(0x40, v, 7),
        "pubrec": resp(0x50, v, 9),
        "pubrel": resp(0x62, v, 9),
        "pubcomp": resp(0x70, v, 9),
        "subscribe": subscribe(v, [("a/+", 1), ("b/#", 2), ("$share/g/c", 0)]),
        "suback": pkt(0x90, b"\x00\x01" + (b"\x00" if v5 else b"") + b"\x00\x01\x02\x80"),
        "unsubscribe": unsubscribe(v, ["a/+", "b/#"]),
        "unsuback": pkt(0xb0, b"\x00\x01" + (b"\x00\x00\x11" if v5 else b"")),
        "pingreq": b"\xc0\x00",
        "pingresp": b"\xd0\x00",
        "disconnect": b"\xe0\x00",
    }
    if v5:
        out.update({
            "publish-props": publish(v, "a/b", b"{}", qos=1, pid=3, pprops=(
                p_byte(0x01, 1) + p_u32(0x02, 30) + p_str(0x03, "application/json")
                + p_str(0x08, "reply/to") + p_str(0x09, "id-1") + p_var(0x0b, 5)
                + p_u16(0x23, 2) + p_user("k", "v"))),
            "publish-alias-only": publish(v, "", b"again", pprops=p_u16(0x23, 2)),
            "puback-reason-props": resp(0x40, v, 7, 0x10, p_str(0x1f, "no subscribers")),
            "pubrec-reason": resp(0x50, v, 9, 0x80),
            "pubrel-reason": resp(0x62, v, 9, 0x92, b""),
            "pubcomp-reason": resp(0x70, v, 9, 0x00, p_user("x", "y")),
            "subscribe-options": subscribe(v, [("a/b", 0x2d), ("c", 0x1e)], 2,
                                           p_var(0x0b, 100) + p_user("k", "v")),
            "disconnect-reason": pkt(0xe0, b"\x04" + props(p_u32(0x11, 0) + p_str(0x1f, "bye"))),
            "disconnect-short": pkt(0xe0, b"\x00"),
            "auth": pkt(0xf0, b"\x18" + props(p_str(0x15, "SCRAM") + p_str(0x16, "data"))),
            "connack-full": pkt(0x20, b"\x01\x00" + props(
                p_u32(0x11, 10) + p_str(0x12, "auto-1") + p_u16(0x13, 30) + p_byte(0x24, 1)
                + p_byte(0x25, 0) + p_u32(0x27, 1000) + p_byte(0x28, 1) + p_byte(0x29, 1)
                + p_byte(0x2a, 1) + p_str(0x1a, "info") + p_str(0x1c, "other"))),
        })
    return out


def bad_packets(v):
    """The known-bad inputs of tests/protocol_errors.rs, publish_qos.rs, mqtt5_*.rs."""
    v5 = v == 5
    pp = b"\x00" if v5 else b""
    return {
        "bad-remaining-length-5-bytes": b"\x30\xff\xff\xff\xff\x7f",
        "bad-huge-claim": b"\x30\xff\xff\xff\x7f\x00\x01a",
        "bad-topic-length-beyond": b"\x30\x05\x00\x0aabc",
        "bad-qos1-no-id": b"\x32\x03\x00\x01t",
        "bad-qos3": pkt(0x36, s("t") + b"\x00\x01" + pp + b"x"),
        "bad-utf8": pkt(0x30, s(b"a\xc3\x28") + pp + b"x"),
        "bad-nul": pkt(0x30, s(b"a\x00b") + pp + b"x"),
        "bad-surrogate": pkt(0x30, s(b"a\xed\xa0\x80") + pp + b"x"),
        "bad-overlong": pkt(0x30, s(b"a\xc0\xafb") + pp + b"x"),
        "bad-wildcard-plus": publish(v, "a/+"),
        "bad-wildcard-hash": publish(v, "a/#"),
        "bad-empty-topic": publish(v, ""),
        "bad-packet-id-0": publish(v, "t", qos=1, pid=0),
        "bad-reserved-type-0": b"\x00\x00",
        "bad-reserved-type-15": b"\xf0\x00",
        "bad-disconnect-flags": b"\xe1\x00",
        "bad-pubrel-flags": b"\x60\x02\x00\x01",
        "bad-subscribe-flags": pkt(0x80, b"\x00\x01" + pp + s("a") + b"\x00"),
        "bad-subscribe-qos3": subscribe(v, [("a", 3)]),
        "bad-subscribe-truncated": b"\x82\x05\x00\x01\x00\x05a",
        "bad-subscribe-no-options": b"\x82\x05\x00\x01\x00\x01a",
        "bad-subscribe-empty": pkt(0x82, b"\x00\x01" + pp),
        "bad-puback-short": b"\x40\x01\x00",
        "bad-pingreq-body": b"\xc0\x01\x00",
        "bad-connect-truncated": b"\x10\x02\x00\x04",
        "bad-connect-reserved-flag": connect(v, flags=0x03),
        "bad-connect-will-qos3": connect(v, flags=0x1e),
        "bad-connect-level-6": connect(6, name="MQTT"),
        "bad-connect-name": connect(4, name="HTTP"),
        "bad-http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "bad-deep-topic": publish(v, "/".join(["a"] * 202)),
        "bad-duplicate-property": publish(5, "t", pprops=p_u32(0x02, 1) + p_u32(0x02, 2)),
        "bad-topic-alias-0": publish(5, "t", pprops=p_u16(0x23, 0)),
        "bad-property-not-allowed": publish(5, "t", pprops=p_u32(0x11, 1)),
        "bad-subscription-id-0": subscribe(5, [("a", 0)], sprops=p_var(0x0b, 0)),
        "bad-receive-maximum-0": connect(5, cprops=p_u16(0x21, 0)),
    }


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def op_write(data, client=0):
    """Broker script op: Write `data` to `client` (split into <= 254-byte pieces)."""
    out = b""
    for i in range(0, max(len(data), 1), 254):
        piece = data[i:i + 254]
        out += bytes([2, client, len(piece)]) + piece
    return out


def op_hello(version, cid=0, clean=True, keepalive=0, will=False):
    flags = (version - 3) | (cid << 2) | (0x10 if clean else 0) | (keepalive << 5) | (0x80 if will else 0)
    return bytes([1, flags])


OP_OPEN = b"\x00"
def op_canned(client, which, pid=0): return bytes([4, client, which, pid])
def op_close(client, abort=False): return bytes([5, client << 1 | int(abort)])
def op_shutdown(client): return bytes([6, client])
def op_tick(quarters): return bytes([7, quarters])
def op_stop_reading(client): return bytes([8, client])
def op_resume_reading(client): return bytes([9, client])
def op_flood(client, which, times, pid=0): return bytes([10, client, which, pid, times])


def main():
    for old in ("decode", "broker_session"):
        d = os.path.join(HERE, "corpus", old)
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.startswith("seed-"):
                    os.remove(os.path.join(d, f))
    selector = {3: 0, 4: 1, 5: 2}
    for v in (3, 4, 5):
        for name, data in {**valid_packets(v), **bad_packets(v)}.items():
            write("decode", f"v{v}-{name}", bytes([selector[v]]) + data)
    # A whole session in one stream, and the same under the tight size limit, in chunks.
    for v in (4, 5):
        p = valid_packets(v)
        session = b"".join(p[k] for k in ("connect-full", "subscribe", "publish-q1",
                                          "puback", "pubrel", "pingreq", "unsubscribe",
                                          "disconnect"))
        write("decode", f"v{v}-session", bytes([selector[v]]) + session)
        write("decode", f"v{v}-session-max300-chunk5", bytes([selector[v] | 0x0c | 0x40]) + session)

    # Broker scripts: variant byte, then ops.
    for v in (3, 4, 5):
        p = valid_packets(v)
        seq = [p[k] for k in ("subscribe", "publish-q0", "publish-q1", "publish-q2-retain-dup",
                              "pubrel", "puback", "unsubscribe", "pingreq")]
        raw = connect(v, "raw-1", 0x02, 2) + b"".join(seq)
        write("broker_session", f"v{v}-raw-session", b"\x00" + OP_OPEN + op_write(raw) + op_tick(20))
        for name, data in bad_packets(v).items():
            if name.startswith("bad-connect") or name == "bad-http":
                script = OP_OPEN + op_write(data)
            else:
                script = op_hello(v) + op_write(data)
            write("broker_session", f"v{v}-{name}", b"\x00" + script + op_hello(v, 1) + op_canned(1, 11))
    # Canned flows between clients, persistent sessions, wills, takeovers and time.
    flows = {
        "pubsub-qos": op_hello(4, 0) + op_hello(5, 1) + op_canned(0, 0) + op_canned(1, 4, 1)
        + op_canned(1, 5, 2) + op_canned(0, 10, 0) + op_canned(0, 11, 1) + op_canned(1, 12, 2)
        + op_canned(0, 13, 1),
        "persistent-queue": op_hello(5, 0, clean=False) + op_canned(0, 0) + op_close(0)
        + op_hello(4, 1) + op_canned(1, 4) + op_canned(1, 5) + op_canned(1, 3) + op_tick(8)
        + op_hello(5, 0, clean=False),
        "will-delay-takeover": op_hello(5, 2, will=True) + op_hello(5, 3) + op_canned(1, 0)
        + op_close(0, abort=True) + op_tick(8) + op_hello(5, 2, will=True) + op_canned(2, 15, 2),
        "keepalive-expiry": op_hello(4, 0, keepalive=1) + op_hello(5, 1, keepalive=2)
        + OP_OPEN + op_tick(40),
        "shared-retained": op_hello(4, 0) + op_hello(4, 1) + op_canned(0, 1) + op_canned(1, 1)
        + op_hello(5, 2) + op_canned(2, 6) + op_canned(2, 4) + op_canned(0, 2) + op_tick(4),
        "aliases-expiry": op_hello(5, 0) + op_canned(0, 8) + op_canned(0, 9) + op_canned(0, 7)
        + op_hello(5, 1) + op_canned(1, 0) + op_tick(8) + op_canned(0, 9),
        "half-close": op_hello(4, 0) + op_shutdown(0) + op_canned(0, 11) + op_tick(1),
        # Clients that stop reading: a subscriber under a QoS 0 and a QoS 1 flood, and a
        # peer flooding PINGREQ; both read again at the end.
        "stalled-subscriber": op_hello(4, 0) + op_hello(5, 1) + op_canned(0, 0) + op_stop_reading(0)
        + op_flood(1, 3, 8) * 4 + op_flood(1, 4, 2) + op_tick(2) + op_resume_reading(0)
        + op_canned(0, 10, 0),
        "stalled-ping-flood": op_hello(4, 0) + op_stop_reading(0) + op_flood(0, 15, 255) * 2
        + op_tick(4) + op_resume_reading(0) + op_canned(0, 15, 0),
        "huge-claim-slow": op_hello(4, 0) + op_write(b"\x30\xff\xff\xff\x7f\x00\x01a")
        + op_write(b"b" * 200) + op_tick(4) + op_write(b"c" * 200),
    }
    for variant in range(5):
        for name, script in flows.items():
            write("broker_session", f"cfg{variant}-{name}", bytes([variant]) + script)


if __name__ == "__main__":
    main()
