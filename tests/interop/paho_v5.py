#!/usr/bin/env python3
"""MQTT 5 interoperability checks for an MQTT broker, driven by the paho-mqtt 2.x client.

Usage: paho_v5.py --host 127.0.0.1 --port 1883

Runs a series of named checks of MQTT 5 features (shared subscriptions, session and message
expiry, topic aliases, receive maximum, request/response, subscription options, subscription
identifiers, user properties, mixed versions) and prints one line per check:

    ok   shared_subscription_round_robin
    FAIL shared_subscription_round_robin: why

and exits non-zero if any check failed. Every wait is bounded, so the whole run takes a few
seconds against a working broker (the expiry checks sleep about 2 s each) and well under 30 s
against a broken one.

Each check uses its own client ids and its own topic prefix. Only paho-mqtt is needed
(`pip install paho-mqtt`).
"""

import argparse
import queue
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

# How long to wait for something that should happen.
TIMEOUT = 3.0
# How long to wait to be reasonably sure that something does not happen.
QUIET = 0.5
# Checks not started within this many seconds are reported as failed without running.
BUDGET = 15.0


class CheckFailed(Exception):
    pass


def expect(condition, why):
    if not condition:
        raise CheckFailed(why)


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def props(packet_type, **values):
    """A paho Properties object for `packet_type` with the given attributes."""
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def prop(message, name, default=None):
    """A property of a received message, or `default` when it has none."""
    properties = getattr(message, "properties", None)
    if properties is None:
        return default
    return getattr(properties, name, default)


class Client:
    """A paho client with its received messages and acknowledgements in queues."""

    def __init__(self, broker, client_id=None, version=mqtt.MQTTv5, manual_ack=False):
        self.broker = broker
        self.version = version
        self.client_id = client_id or unique("p5")
        self.messages = queue.Queue()
        self.acks = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.session_present = None
        self.connect_reason = None
        self.connack_properties = None
        options = {}
        if version != mqtt.MQTTv5:
            options["clean_session"] = True
        self.paho = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=version,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
            **options,
        )
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = lambda *_args: self.disconnected.set()
        self.paho.on_message = lambda _c, _u, message: self.messages.put(message)
        self.paho.on_subscribe = self._on_ack
        self.paho.on_unsubscribe = self._on_ack

    def _on_connect(self, _client, _userdata, flags, reason_code, properties):
        self.session_present = flags.session_present
        self.connect_reason = reason_code
        self.connack_properties = properties
        self.connected.set()

    def _on_ack(self, _client, _userdata, mid, reason_codes, _properties):
        self.acks.put((mid, reason_codes))

    def connect(self, clean_start=True, properties=None):
        host, port = self.broker
        if self.version == mqtt.MQTTv5:
            self.paho.connect(
                host, port, keepalive=30, clean_start=clean_start, properties=properties
            )
        else:
            self.paho.connect(host, port, keepalive=30)
        self.paho.loop_start()
        self.connected.wait(TIMEOUT)
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

    def subscribe(self, topic_filter, qos=1, properties=None, **options):
        """Subscribes with MQTT 5 subscription options (noLocal, retainAsPublished,
        retainHandling) and waits for a SUBACK granting `qos`."""
        if self.version == mqtt.MQTTv5:
            result, mid = self.paho.subscribe(
                topic_filter,
                options=SubscribeOptions(qos=qos, **options),
                properties=properties,
            )
        else:
            result, mid = self.paho.subscribe(topic_filter, qos)
        expect(result == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed to send: {result}")
        reason_codes = self._wait_ack(mid, "SUBACK")
        expect(
            len(reason_codes) == 1 and not reason_codes[0].is_failure,
            f"SUBACK for {topic_filter!r} refused: {reason_codes}",
        )
        granted = reason_codes[0].value
        expect(granted == qos, f"SUBACK for {topic_filter!r} granted QoS {granted}, asked {qos}")

    def publish(self, topic, payload, qos=1, retain=False, properties=None):
        """Publishes and, for QoS 1 and 2, waits until the broker acknowledged."""
        info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if qos == 0:
            expect(info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish failed to send: {info.rc}")
            return
        info.wait_for_publish(timeout=TIMEOUT)
        expect(
            info.is_published(),
            f"QoS {qos} publish to {topic!r} not acknowledged within {TIMEOUT}s",
        )

    def receive(self, what, timeout=TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise CheckFailed(f"{self.client_id}: no message within {timeout}s ({what})") from None

    def expect_nothing(self, why):
        try:
            message = self.messages.get(timeout=QUIET)
        except queue.Empty:
            return
        raise CheckFailed(
            f"{self.client_id}: unexpected message on {message.topic!r}: "
            f"{message.payload!r} ({why})"
        )

    def disconnect(self, properties=None):
        self.paho.disconnect(properties=properties)
        self.disconnected.wait(TIMEOUT)
        self.paho.loop_stop()
        expect(self.disconnected.is_set(), f"{self.client_id}: clean disconnect did not finish")

    def close(self):
        try:
            if self.connected.is_set() and not self.disconnected.is_set():
                self.paho.disconnect()
            self.paho.loop_stop()
        except Exception:
            pass


class Checks:
    def __init__(self, broker):
        self.broker = broker
        self.clients = []

    def client(self, **options):
        client = Client(self.broker, **options)
        self.clients.append(client)
        return client

    def connected(self, clean_start=True, properties=None, **options):
        return self.client(**options).connect(clean_start=clean_start, properties=properties)

    def cleanup(self):
        for client in self.clients:
            client.close()
        self.clients = []

    # --- shared subscriptions ---

    def shared_subscription_one_copy_per_message(self, prefix):
        members = [self.connected() for _ in range(2)]
        for member in members:
            member.subscribe(f"$share/g/{prefix}/t", 1)
        pub = self.connected()
        pub.publish(f"{prefix}/t", "only once")
        first = [m for m in members if not m.messages.empty()]
        deadline = time.monotonic() + TIMEOUT
        while not first and time.monotonic() < deadline:
            time.sleep(0.02)
            first = [m for m in members if not m.messages.empty()]
        expect(first, "no member got the message")
        time.sleep(QUIET)
        total = sum(m.messages.qsize() for m in members)
        expect(total == 1, f"the group got {total} copies of one message")

    def shared_subscription_round_robin(self, prefix):
        a, b = self.connected(), self.connected()
        a.subscribe(f"$share/g/{prefix}/t", 1)
        b.subscribe(f"$share/g/{prefix}/t", 1)
        pub = self.connected()
        for i in range(4):
            pub.publish(f"{prefix}/t", f"m{i}")
        got_a = [a.receive(f"message {i + 1} of 2 for a").payload for i in range(2)]
        got_b = [b.receive(f"message {i + 1} of 2 for b").payload for i in range(2)]
        a.expect_nothing("a third message for a")
        b.expect_nothing("a third message for b")
        everything = sorted(got_a + got_b)
        expect(everything == [b"m0", b"m1", b"m2", b"m3"], f"the group got {everything}")

    def shared_subscription_member_leaves(self, prefix):
        a, b = self.connected(), self.connected()
        a.subscribe(f"$share/g/{prefix}/t", 1)
        b.subscribe(f"$share/g/{prefix}/t", 1)
        b.disconnect()
        pub = self.connected()
        for i in range(3):
            pub.publish(f"{prefix}/t", f"m{i}")
        got = [a.receive(f"message {i + 1} of 3").payload for i in range(3)]
        expect(got == [b"m0", b"m1", b"m2"], f"remaining member got {got}")

    # --- session and message expiry ---

    def session_expiry_keeps_the_session(self, prefix):
        client_id = unique("se")
        expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
        first = self.connected(client_id=client_id, clean_start=False, properties=expiry)
        first.subscribe(f"{prefix}/t", 1)
        first.disconnect()
        pub = self.connected()
        pub.publish(f"{prefix}/t", "while away")
        back = self.connected(client_id=client_id, clean_start=False, properties=expiry)
        expect(back.session_present, "session expiry 60: session_present is 0 on return")
        message = back.receive("queued message")
        expect(message.payload == b"while away", f"queued payload {message.payload!r}")

    def session_expiry_ends_the_session(self, prefix):
        client_id = unique("se")
        short = props(PacketTypes.CONNECT, SessionExpiryInterval=1)
        first = self.connected(client_id=client_id, clean_start=False, properties=short)
        first.subscribe(f"{prefix}/t", 1)
        first.disconnect()
        time.sleep(2.0)
        back = self.connected(client_id=client_id, clean_start=False, properties=short)
        expect(not back.session_present, "session expiry 1 s: session still there after 2 s")

    def message_expiry(self, prefix):
        client_id = unique("me")
        expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
        first = self.connected(client_id=client_id, clean_start=False, properties=expiry)
        first.subscribe(f"{prefix}/t", 1)
        first.disconnect()
        pub = self.connected()
        pub.publish(
            f"{prefix}/t", "long", properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=60)
        )
        pub.publish(
            f"{prefix}/t", "short", properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1)
        )
        time.sleep(2.0)
        back = self.connected(client_id=client_id, clean_start=False, properties=expiry)
        message = back.receive("the unexpired queued message")
        expect(message.payload == b"long", f"first queued message {message.payload!r}")
        remaining = prop(message, "MessageExpiryInterval")
        expect(
            remaining is not None and 50 <= remaining < 60,
            f"message expiry interval on delivery {remaining}, wanted 50..59 after 2 s",
        )
        back.expect_nothing("the 1 s message expired in the queue")

    # --- topic aliases ---

    def topic_alias_inbound(self, prefix):
        sub = self.connected()
        sub.subscribe(f"{prefix}/#", 1)
        pub = self.connected()
        alias = props(PacketTypes.PUBLISH, TopicAlias=1)
        pub.publish(f"{prefix}/aliased", "first", properties=alias)
        pub.publish("", "second", properties=alias)
        for payload in (b"first", b"second"):
            message = sub.receive(f"{payload!r} sent with alias 1")
            expect(message.topic == f"{prefix}/aliased", f"topic {message.topic!r}")
            expect(message.payload == payload, f"payload {message.payload!r}")
            expect(prop(message, "TopicAlias") is None, "the publisher's alias was passed on")

    def topic_alias_maximum_in_connack(self, _prefix):
        client = self.connected()
        maximum = getattr(client.connack_properties, "TopicAliasMaximum", 0)
        expect(maximum > 0, f"CONNACK topic alias maximum {maximum}")

    # --- flow control ---

    def receive_maximum(self, prefix):
        window = props(PacketTypes.CONNECT, ReceiveMaximum=2)
        sub = self.connected(manual_ack=True, properties=window)
        sub.subscribe(f"{prefix}/t", 1)
        pub = self.connected()
        for i in range(3):
            pub.publish(f"{prefix}/t", f"m{i}")
        first = sub.receive("message 1 of 3")
        second = sub.receive("message 2 of 3")
        expect([first.payload, second.payload] == [b"m0", b"m1"], "first two messages")
        sub.expect_nothing("a third QoS 1 message beyond receive maximum 2")
        sub.paho.ack(first.mid, first.qos)
        third = sub.receive("message 3 after the first PUBACK")
        expect(third.payload == b"m2", f"third message {third.payload!r}")
        sub.paho.ack(second.mid, second.qos)
        sub.paho.ack(third.mid, third.qos)

    # --- request/response ---

    def request_response(self, prefix):
        responder = self.connected()
        responder.subscribe(f"{prefix}/request", 1)
        requester = self.connected()
        requester.subscribe(f"{prefix}/response", 1)
        request = props(
            PacketTypes.PUBLISH, ResponseTopic=f"{prefix}/response", CorrelationData=b"\x00id-7"
        )
        requester.publish(f"{prefix}/request", "ping", properties=request)
        message = responder.receive("the request")
        response_topic = prop(message, "ResponseTopic")
        correlation = prop(message, "CorrelationData")
        expect(response_topic == f"{prefix}/response", f"response topic {response_topic!r}")
        expect(correlation == b"\x00id-7", f"correlation data {correlation!r}")
        answer = props(PacketTypes.PUBLISH, CorrelationData=correlation)
        responder.publish(response_topic, "pong", properties=answer)
        reply = requester.receive("the response")
        expect(reply.payload == b"pong", f"response payload {reply.payload!r}")
        expect(
            prop(reply, "CorrelationData") == b"\x00id-7",
            f"response correlation data {prop(reply, 'CorrelationData')!r}",
        )

    def content_type_and_payload_format(self, prefix):
        sub = self.connected()
        sub.subscribe(f"{prefix}/t", 1)
        pub = self.connected()
        pub.publish(
            f"{prefix}/t",
            '{"a": 1}',
            properties=props(
                PacketTypes.PUBLISH, ContentType="application/json", PayloadFormatIndicator=1
            ),
        )
        message = sub.receive("the JSON message")
        expect(
            prop(message, "ContentType") == "application/json",
            f"content type {prop(message, 'ContentType')!r}",
        )
        expect(
            prop(message, "PayloadFormatIndicator") == 1,
            f"payload format indicator {prop(message, 'PayloadFormatIndicator')!r}",
        )

    def user_properties_in_order(self, prefix):
        sub = self.connected()
        sub.subscribe(f"{prefix}/t", 1)
        pub = self.connected()
        pairs = [("z", "1"), ("a", "2"), ("z", "3"), ("z", "3")]
        pub.publish(f"{prefix}/t", "x", properties=props(PacketTypes.PUBLISH, UserProperty=pairs))
        message = sub.receive("the message with user properties")
        got = prop(message, "UserProperty")
        expect(got == pairs, f"user properties {got}, wanted {pairs}")

    # --- subscription options ---

    def no_local(self, prefix):
        client = self.connected()
        client.subscribe(f"{prefix}/t", 1, noLocal=True)
        client.publish(f"{prefix}/t", "own")
        other = self.connected()
        other.publish(f"{prefix}/t", "other")
        message = client.receive("another client's message")
        expect(message.payload == b"other", f"no-local subscriber got {message.payload!r}")
        client.expect_nothing("its own message")

    def retain_handling(self, prefix):
        pub = self.connected()
        pub.publish(f"{prefix}/t", "kept", retain=True)
        always = self.connected()
        always.subscribe(f"{prefix}/t", 1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)
        message = always.receive("retained message with retain handling 0")
        expect(message.payload == b"kept" and message.retain, "retain handling 0: retained")

        if_new = self.connected()
        if_new.subscribe(f"{prefix}/t", 1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        message = if_new.receive("retained message with retain handling 1, new subscription")
        expect(message.payload == b"kept", f"retain handling 1: {message.payload!r}")
        if_new.subscribe(f"{prefix}/t", 1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        if_new.expect_nothing("retain handling 1 on a re-subscribe")

        never = self.connected()
        never.subscribe(f"{prefix}/t", 1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
        never.expect_nothing("retain handling 2")
        pub.publish(f"{prefix}/t", "", retain=True)

    def retain_as_published(self, prefix):
        keep = self.connected()
        keep.subscribe(f"{prefix}/t", 1, retainAsPublished=True)
        clear = self.connected()
        clear.subscribe(f"{prefix}/t", 1)
        pub = self.connected()
        pub.publish(f"{prefix}/t", "kept", retain=True)
        expect(keep.receive("retain as published").retain, "retain as published: flag cleared")
        expect(not clear.receive("plain subscription").retain, "plain subscription: flag kept")
        pub.publish(f"{prefix}/t", "", retain=True)

    def subscription_identifier(self, prefix):
        sub = self.connected()
        sub.subscribe(
            f"{prefix}/#", 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42)
        )
        pub = self.connected()
        pub.publish(f"{prefix}/t", "x")
        message = sub.receive("message for the identified subscription")
        ids = prop(message, "SubscriptionIdentifier")
        expect(ids == [42], f"subscription identifiers {ids}, wanted [42]")

    # --- mixed versions ---

    def v5_publish_to_v311_subscriber(self, prefix):
        old = self.connected(version=mqtt.MQTTv311)
        old.subscribe(f"{prefix}/t", 1)
        new = self.connected()
        new.subscribe(f"{prefix}/t", 1)
        pub = self.connected()
        pub.publish(
            f"{prefix}/t",
            "both",
            properties=props(PacketTypes.PUBLISH, UserProperty=[("k", "v")], ContentType="ct"),
        )
        message = old.receive("MQTT 5 message at the 3.1.1 subscriber")
        expect(message.payload == b"both", f"3.1.1 subscriber got {message.payload!r}")
        message = new.receive("MQTT 5 message at the MQTT 5 subscriber")
        expect(prop(message, "ContentType") == "ct", "MQTT 5 subscriber lost the content type")

    def v311_publish_to_v5_subscriber(self, prefix):
        new = self.connected()
        new.subscribe(f"{prefix}/t", 1)
        old = self.connected(version=mqtt.MQTTv311)
        old.publish(f"{prefix}/t", "old")
        message = new.receive("3.1.1 message at the MQTT 5 subscriber")
        expect(message.payload == b"old", f"payload {message.payload!r}")
        expect(prop(message, "UserProperty") is None, "a 3.1.1 message got user properties")


def run_checks(broker):
    checks = Checks(broker)
    plan = [
        (
            "shared_subscription_one_copy_per_message",
            checks.shared_subscription_one_copy_per_message,
        ),
        ("shared_subscription_round_robin", checks.shared_subscription_round_robin),
        ("shared_subscription_member_leaves", checks.shared_subscription_member_leaves),
        ("session_expiry_keeps_the_session", checks.session_expiry_keeps_the_session),
        ("session_expiry_ends_the_session", checks.session_expiry_ends_the_session),
        ("message_expiry", checks.message_expiry),
        ("topic_alias_maximum_in_connack", checks.topic_alias_maximum_in_connack),
        ("topic_alias_inbound", checks.topic_alias_inbound),
        ("receive_maximum", checks.receive_maximum),
        ("request_response", checks.request_response),
        ("content_type_and_payload_format", checks.content_type_and_payload_format),
        ("user_properties_in_order", checks.user_properties_in_order),
        ("no_local", checks.no_local),
        ("retain_handling", checks.retain_handling),
        ("retain_as_published", checks.retain_as_published),
        ("subscription_identifier", checks.subscription_identifier),
        ("v5_publish_to_v311_subscriber", checks.v5_publish_to_v311_subscriber),
        ("v311_publish_to_v5_subscriber", checks.v311_publish_to_v5_subscriber),
    ]

    failed = 0
    deadline = time.monotonic() + BUDGET
    for name, check in plan:
        prefix = f"interop5/{name}/{uuid.uuid4().hex[:8]}"
        if time.monotonic() > deadline:
            failed += 1
            print(f"FAIL {name}: not run, the checks before it used up the {BUDGET}s budget")
            continue
        try:
            check(prefix)
            print(f"ok   {name}", flush=True)
        except CheckFailed as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
        except Exception as e:  # a paho or socket error is a failed check too
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        finally:
            checks.cleanup()
    print(f"paho v5: {len(plan) - failed} of {len(plan)} checks ok", flush=True)
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
