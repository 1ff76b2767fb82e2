//! midge: an MQTT broker.
