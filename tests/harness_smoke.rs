mod common;
use common::{Broker, Raw, packets::*};

#[test]
fn subscriber_receives_a_qos0_publish() {
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "wony", 0));
    sub.expect(&suback(1, 0));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("wony", b"hello", 0, false, 0));
    sub.expect(&publish("wony", b"hello", 0, false, 0));
}
