#!/usr/bin/env python3
"""Interoperability checks for an MQTT broker, driven by the paho-mqtt 2.x client.

Usage: paho_interop.py --host 127.0.0.1 --port 1883

Runs a series of named checks and prints one line per check:

    ok   v311_qos1_roundtrip
    FAIL v311_qos1_roundtrip: why

and exits non-zero if any check failed. Every wait is bounded, so the whole run takes a few
seconds against a working broker and well under 30 s against a broken one.

Each check uses its own client ids and its own topic prefix, so a failed check does not leave
messages behind for the next one. Only paho-mqtt is needed (`pip install paho-mqtt`).
"""

import argparse
import queue
import socket
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt

# How long to wait for something that should happen.
TIMEOUT = 3.0
# How long to wait to be reasonably sure that something does not happen.
QUIET = 0.5
# Checks not started within this many seconds are reported as failed without running, so that
# a broker that never answers does not make the run last minutes.
BUDGET = 15.0

VERSIONS = {
    "v31": mqtt.MQTTv31,
    "v311": mqtt.MQTTv311,
    "v5": mqtt.MQTTv5,
}


class CheckFailed(Exception):
    pass


def expect(condition, why):
    if not condition:
        raise CheckFailed(why)


def unique(prefix):
    # Short enough for MQTT 3.1, whose client ids are limited to 23 characters.
    return f"{prefix}{uuid.uuid4().hex[:12]}"


class Client:
    """A paho client with its received messages and acknowledgements in queues.

    With `threaded` (the default) paho's network loop runs in a background thread. Without it
    the caller drives the loop, which lets a test stop talking to the broker at any point
    without paho sending anything more (see `drop_connection`).
    """

    def __init__(self, broker, version, client_id=None, clean=True, will=None, threaded=True):
        self.broker = broker
        self.version = version
        self.client_id = client_id or unique("pi")
        self.clean = clean
        self.threaded = threaded
        self.messages = queue.Queue()
        self.acks = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.session_present = None
        self.connect_reason = None

        options = {}
        if version != mqtt.MQTTv5:
            options["clean_session"] = clean
        self.paho = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=version,
            reconnect_on_failure=False,
            **options,
        )
        if will is not None:
            topic, payload, qos = will
            self.paho.will_set(topic, payload, qos=qos)
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = lambda _c, _u, message: self.messages.put(message)
        self.paho.on_subscribe = self._on_ack
        self.paho.on_unsubscribe = self._on_ack

    def _on_connect(self, _client, _userdata, flags, reason_code, _properties):
        self.session_present = flags.session_present
        self.connect_reason = reason_code
        self.connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, _reason_code, _properties):
        self.disconnected.set()

    def _on_ack(self, _client, _userdata, mid, reason_codes, _properties):
        self.acks.put((mid, reason_codes))

    def connect(self):
        host, port = self.broker
        if self.version == mqtt.MQTTv5:
            self.paho.connect(host, port, keepalive=30, clean_start=self.clean)
        else:
            self.paho.connect(host, port, keepalive=30)
        if self.threaded:
            self.paho.loop_start()
            self.connected.wait(TIMEOUT)
        else:
            deadline = time.monotonic() + TIMEOUT
            while not self.connected.is_set() and time.monotonic() < deadline:
                self.paho.loop(timeout=0.05)
        expect(self.connected.is_set(), f"{self.client_id}: no CONNACK within {TIMEOUT}s")
        expect(
            not self.connect_reason.is_failure,
            f"{self.client_id}: connection refused: {self.connect_reason}",
        )
        return self

    def _wait_ack(self, mid, what):
        try:
            got_mid, reason_codes = self.acks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise CheckFailed(f"{self.client_id}: no {what} within {TIMEOUT}s") from None
        expect(got_mid == mid, f"{self.client_id}: {what} for message id {got_mid}, wanted {mid}")
        return reason_codes

    def subscribe(self, topic_filter, qos):
        result, mid = self.paho.subscribe(topic_filter, qos)
        expect(result == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed to send: {result}")
        reason_codes = self._wait_ack(mid, "SUBACK")
        expect(
            len(reason_codes) == 1 and not reason_codes[0].is_failure,
            f"SUBACK for {topic_filter!r} refused: {reason_codes}",
        )
        granted = reason_codes[0].value
        expect(granted == qos, f"SUBACK for {topic_filter!r} granted QoS {granted}, asked {qos}")

    def unsubscribe(self, topic_filter):
        result, mid = self.paho.unsubscribe(topic_filter)
        expect(result == mqtt.MQTT_ERR_SUCCESS, f"unsubscribe failed to send: {result}")
        self._wait_ack(mid, "UNSUBACK")

    def publish(self, topic, payload, qos=0, retain=False):
        """Publishes and waits until the broker acknowledged (PUBACK / PUBCOMP)."""
        info = self.paho.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=TIMEOUT)
        expect(
            info.is_published(),
            f"QoS {qos} publish to {topic!r} not acknowledged within {TIMEOUT}s",
        )

    def receive(self, what):
        try:
            return self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise CheckFailed(f"{self.client_id}: no message within {TIMEOUT}s ({what})") from None

    def expect_nothing(self, why):
        try:
            message = self.messages.get(timeout=QUIET)
        except queue.Empty:
            return
        raise CheckFailed(
            f"{self.client_id}: unexpected message on {message.topic!r}: "
            f"{message.payload!r} ({why})"
        )

    def disconnect(self):
        """A clean disconnect: DISCONNECT sent, then the socket closed."""
        self.paho.disconnect()
        if self.threaded:
            self.disconnected.wait(TIMEOUT)
            self.paho.loop_stop()
        else:
            deadline = time.monotonic() + TIMEOUT
            while not self.disconnected.is_set() and time.monotonic() < deadline:
                self.paho.loop(timeout=0.05)
        expect(self.disconnected.is_set(), f"{self.client_id}: clean disconnect did not finish")

    def drop_connection(self):
        """Closes the socket without a DISCONNECT, as a crashed client would.

        Only for unthreaded clients: no paho loop runs afterwards, so paho sends nothing.
        """
        assert not self.threaded
        sock = self.paho.socket()
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def close(self):
        """Best-effort cleanup after a check, whatever state the client is in."""
        try:
            if self.connected.is_set() and not self.disconnected.is_set():
                self.paho.disconnect()
            if self.threaded:
                self.paho.loop_stop()
        except Exception:
            pass


class Checks:
    def __init__(self, broker):
        self.broker = broker
        self.clients = []

    def client(self, version, **options):
        client = Client(self.broker, version, **options)
        self.clients.append(client)
        return client

    def connected(self, version, **options):
        return self.client(version, **options).connect()

    def cleanup(self):
        for client in self.clients:
            client.close()
        self.clients = []

    # --- checks; each takes the protocol version and a topic prefix of its own ---

    def qos_roundtrip(self, version, prefix, qos):
        sub = self.connected(version)
        sub.subscribe(f"{prefix}/t", 2)
        pub = self.connected(version)
        pub.publish(f"{prefix}/t", f"qos {qos} payload", qos=qos)
        message = sub.receive(f"QoS {qos} publish")
        expect(message.topic == f"{prefix}/t", f"topic {message.topic!r}")
        expect(message.payload == f"qos {qos} payload".encode(), f"payload {message.payload!r}")
        expect(message.qos == qos, f"delivered at QoS {message.qos}, wanted {qos}")
        expect(not message.retain, "live delivery has the retain flag")

    def qos0_roundtrip(self, version, prefix):
        self.qos_roundtrip(version, prefix, 0)

    def qos1_roundtrip(self, version, prefix):
        self.qos_roundtrip(version, prefix, 1)

    def qos2_roundtrip(self, version, prefix):
        self.qos_roundtrip(version, prefix, 2)

    def qos_is_min_of_pub_and_sub(self, version, prefix):
        pub = self.connected(version)
        subs = {}
        for sub_qos in (0, 1, 2):
            subs[sub_qos] = self.connected(version)
            subs[sub_qos].subscribe(f"{prefix}/t", sub_qos)
        for pub_qos in (0, 1, 2):
            pub.publish(f"{prefix}/t", f"pub {pub_qos}", qos=pub_qos)
            for sub_qos, sub in subs.items():
                message = sub.receive(f"pub QoS {pub_qos}, sub QoS {sub_qos}")
                wanted = min(pub_qos, sub_qos)
                expect(
                    message.payload == f"pub {pub_qos}".encode(),
                    f"sub QoS {sub_qos}: payload {message.payload!r}",
                )
                expect(
                    message.qos == wanted,
                    f"pub QoS {pub_qos} to sub QoS {sub_qos} delivered at QoS {message.qos}, "
                    f"wanted {wanted}",
                )

    def plus_wildcard(self, version, prefix):
        sub = self.connected(version)
        sub.subscribe(f"{prefix}/+/c", 0)
        pub = self.connected(version)
        for topic in (f"{prefix}/b/d", f"{prefix}/b/c/d", f"{prefix}/c", f"{prefix}/b/c"):
            pub.publish(topic, topic, qos=1)
        # The non-matching topics went first: had any been delivered, it would come first.
        message = sub.receive("publish to prefix/b/c")
        expect(message.topic == f"{prefix}/b/c", f"'+' matched {message.topic!r}")

    def hash_wildcard(self, version, prefix):
        sub = self.connected(version)
        sub.subscribe(f"{prefix}/#", 0)
        pub = self.connected(version)
        matching = [prefix, f"{prefix}/a", f"{prefix}/a/b/c"]
        for topic in [f"{prefix}x/a", *matching]:
            pub.publish(topic, topic, qos=1)
        got = [sub.receive(f"message {i + 1} of {len(matching)}").topic for i in range(3)]
        expect(got == matching, f"'#' delivered {got}, wanted {matching}")

    def retained(self, version, prefix):
        topic = f"{prefix}/status"
        live = self.connected(version)
        live.subscribe(topic, 1)
        pub = self.connected(version)
        pub.publish(topic, "kept", qos=1, retain=True)
        message = live.receive("retained publish to a live subscriber")
        expect(not message.retain, "live delivery of a retained publish has the retain flag")

        late = self.connected(version)
        late.subscribe(topic, 1)
        message = late.receive("retained message on subscribe")
        expect(message.payload == b"kept", f"retained payload {message.payload!r}")
        expect(message.retain, "retained message delivered without the retain flag")
        expect(message.qos == 1, f"retained message at QoS {message.qos}")

        pub.publish(topic, b"", qos=1, retain=True)
        message = live.receive("empty retained publish to a live subscriber")
        expect(message.payload == b"", f"clearing publish payload {message.payload!r}")
        later = self.connected(version)
        later.subscribe(topic, 1)
        pub.publish(topic, "sentinel", qos=1)
        message = later.receive("sentinel after subscribing")
        expect(
            message.payload == b"sentinel",
            f"cleared retained message still delivered: {message.payload!r}",
        )

    def unsubscribe(self, version, prefix):
        sub = self.connected(version)
        sub.subscribe(f"{prefix}/t", 1)
        sub.subscribe(f"{prefix}/sentinel", 1)
        pub = self.connected(version)
        pub.publish(f"{prefix}/t", "before", qos=1)
        message = sub.receive("publish before unsubscribing")
        expect(message.payload == b"before", f"payload {message.payload!r}")
        sub.unsubscribe(f"{prefix}/t")
        pub.publish(f"{prefix}/t", "after", qos=1)
        pub.publish(f"{prefix}/sentinel", "sentinel", qos=1)
        message = sub.receive("sentinel on the topic still subscribed")
        expect(
            message.payload == b"sentinel",
            f"delivered after unsubscribing: {message.topic!r} {message.payload!r}",
        )

    def will_on_abrupt_close(self, version, prefix):
        watcher = self.connected(version)
        watcher.subscribe(f"{prefix}/will", 1)
        doomed = self.client(version, will=(f"{prefix}/will", "gone", 1), threaded=False)
        doomed.connect()
        doomed.drop_connection()
        message = watcher.receive("will after the socket closed without DISCONNECT")
        expect(message.topic == f"{prefix}/will", f"will topic {message.topic!r}")
        expect(message.payload == b"gone", f"will payload {message.payload!r}")
        expect(message.qos == 1, f"will delivered at QoS {message.qos}")

    def no_will_on_clean_disconnect(self, version, prefix):
        watcher = self.connected(version)
        watcher.subscribe(f"{prefix}/will", 1)
        polite = self.connected(version, will=(f"{prefix}/will", "gone", 1))
        polite.disconnect()
        watcher.expect_nothing("a clean DISCONNECT discards the will")

    def persistent_session(self, version, prefix):
        topic = f"{prefix}/t"
        client_id = unique("ps")
        first = self.connected(version, client_id=client_id, clean=False)
        first.subscribe(topic, 1)
        first.disconnect()

        pub = self.connected(version)
        pub.publish(topic, "away qos1", qos=1)
        pub.publish(topic, "away qos2", qos=2)

        back = self.connected(version, client_id=client_id, clean=False)
        expect(back.session_present, "reconnect without clean session: session_present is 0")
        got = [back.receive(f"queued message {i + 1} of 2").payload for i in range(2)]
        expect(got == [b"away qos1", b"away qos2"], f"queued messages {got}")
        back.disconnect()

        pub.publish(topic, "stale", qos=1)
        fresh = self.connected(version, client_id=client_id, clean=True)
        expect(not fresh.session_present, "clean session reconnect: session_present is 1")
        pub.publish(topic, "after clean", qos=1)
        # A queued message would come right after CONNACK, and one matching the old
        # subscription before the sentinel: the sentinel must be the first thing to arrive.
        fresh.subscribe(f"{prefix}/sentinel", 1)
        pub.publish(f"{prefix}/sentinel", "sentinel", qos=1)
        message = fresh.receive("sentinel")
        expect(
            message.payload == b"sentinel",
            f"old session leaked into the clean one: {message.topic!r} {message.payload!r}",
        )


def run_checks(broker):
    checks = Checks(broker)
    plan = []
    for label, version in VERSIONS.items():
        plan += [
            (f"{label}_qos0_roundtrip", checks.qos0_roundtrip, version),
            (f"{label}_qos1_roundtrip", checks.qos1_roundtrip, version),
            (f"{label}_qos2_roundtrip", checks.qos2_roundtrip, version),
            (f"{label}_qos_is_min_of_pub_and_sub", checks.qos_is_min_of_pub_and_sub, version),
            (f"{label}_plus_wildcard", checks.plus_wildcard, version),
            (f"{label}_hash_wildcard", checks.hash_wildcard, version),
            (f"{label}_retained", checks.retained, version),
            (f"{label}_unsubscribe", checks.unsubscribe, version),
        ]
    plan += [
        ("v311_will_on_abrupt_close", checks.will_on_abrupt_close, mqtt.MQTTv311),
        ("v311_no_will_on_clean_disconnect", checks.no_will_on_clean_disconnect, mqtt.MQTTv311),
        ("v5_will_on_abrupt_close", checks.will_on_abrupt_close, mqtt.MQTTv5),
        ("v5_no_will_on_clean_disconnect", checks.no_will_on_clean_disconnect, mqtt.MQTTv5),
        ("v311_persistent_session", checks.persistent_session, mqtt.MQTTv311),
    ]

    failed = 0
    deadline = time.monotonic() + BUDGET
    for name, check, version in plan:
        prefix = f"interop/{name}/{uuid.uuid4().hex[:8]}"
        if time.monotonic() > deadline:
            failed += 1
            print(f"FAIL {name}: not run, the checks before it used up the {BUDGET}s budget")
            continue
        try:
            check(version, prefix)
            print(f"ok   {name}", flush=True)
        except CheckFailed as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
        except Exception as e:  # a paho or socket error is a failed check too
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        finally:
            checks.cleanup()
    print(f"paho interop: {len(plan) - failed} of {len(plan)} checks ok", flush=True)
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args()
    failed = run_checks((args.host, args.port))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
