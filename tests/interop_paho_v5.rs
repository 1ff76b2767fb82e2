//! MQTT 5 interoperability with a third-party client: tests/interop/paho_v5.py drives the
//! broker with paho-mqtt 2.x under MQTT 5 (shared subscriptions, session and message expiry,
//! topic aliases, receive maximum, request/response, no local, retain handling, subscription
//! identifiers, mixed versions) and prints one line per check.
//!
//! Needs python3 with paho-mqtt (`pip install paho-mqtt`). Without them the test is skipped,
//! or fails under CI (env `CI` set). `MIDGE_TEST_BROKER=mosquitto` runs it against mosquitto.

mod common;
use common::Broker;
use common::clients::{Proc, on_path, tool_available};
use std::time::Duration;

#[test]
fn paho_client_interoperates_over_mqtt5() {
    if !tool_available(
        on_path("python3"),
        "python3",
        "install python3 and then `pip install paho-mqtt`",
    ) {
        return;
    }
    let paho = common::clients::run(
        "python3",
        &["-c", "from paho.mqtt.client import CallbackAPIVersion"],
        None,
    );
    if !tool_available(
        paho.code == Some(0),
        "the Python module paho-mqtt 2.x",
        "`pip install paho-mqtt` (version 2.x)",
    ) {
        return;
    }

    let broker = Broker::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/paho_v5.py");
    let port = broker.port.to_string();
    let args = [script, "--host", "127.0.0.1", "--port", port.as_str()];
    // The script bounds its own run (checks not started within 15 s are reported as failed).
    let result = Proc::spawn("python3", &args, None).finish_within(Duration::from_secs(30));
    assert!(
        result.code == Some(0),
        "paho MQTT 5 checks failed: {}\n--- broker log ---\n{}",
        result.describe(),
        broker.log()
    );
}
