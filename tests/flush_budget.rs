//! A turn writes at most `FLUSH_BYTES_PER_TURN` to clients that are behind, and whatever it
//! owes a client with little to write (issue 11: no client can hurt another). A broker in
//! process, driven turn by turn (`common/turns.rs`): 100 subscribers are each sent one
//! message of 100 KiB, 10 MiB in all; the kernel would take it in one turn, the budget
//! spreads it over three, and a bystander's PINGRESP goes out in the first.
mod common;

use common::packets::{PINGREQ, PINGRESP, publish, suback, subscribe};
use common::turns::{Peer, Rig, TURNS_MAX};
use midge::broker::{FLUSH_BYTES_PER_TURN, FLUSH_IN_FULL_BYTES};

const SUBSCRIBERS: usize = 100;
/// More than a connection gets written in full, less than its socket takes.
const PAYLOAD: usize = 100 * 1024;

#[test]
fn output_beyond_a_turns_budget_goes_out_over_the_next_turns_and_small_replies_at_once() {
    const { assert!(PAYLOAD > FLUSH_IN_FULL_BYTES && SUBSCRIBERS * PAYLOAD > 2 * FLUSH_BYTES_PER_TURN) };
    let mut rig = Rig::with_config("allow_anonymous true\n");
    // Room in each subscriber's socket for the whole message (the kernel doubles it).
    rig.client_receive_buffer = 2 * PAYLOAD;
    let mut subscribers: Vec<Peer> = (0..SUBSCRIBERS)
        .map(|i| rig.client(&format!("sub{i}"), &subscribe(1, "load/#", 0)))
        .collect();
    let mut publisher = rig.client("publisher", &[]);
    rig.client_receive_buffer = 64 * 1024;
    let mut bystander = rig.client("bystander", &[]);
    rig.turn();
    for sub in &mut subscribers {
        sub.read();
        assert_eq!(sub.packets(), [(0x90, suback(1, 0)[2..].to_vec())]);
    }

    let message = publish("load/x", &vec![b'p'; PAYLOAD], 0, false, 0);
    rig.send(&mut publisher, &message);
    let mut received = 0;
    let mut turns = 0;
    let mut bystander_asked = false;
    for _ in 0..TURNS_MAX {
        if !bystander_asked {
            rig.send(&mut bystander, &PINGREQ);
        }
        // Once the message is routed, the turns are quiet: what the budget held back must
        // go out without a writable event, which the poller would not send.
        if received == 0 {
            rig.turn();
        } else {
            rig.quiet_turn();
        }
        let before = received;
        received = subscribers.iter_mut().map(|s| s.read_len()).sum();
        let this_turn = received - before;
        // Every subscriber has more than is written in full, but for the one whose share
        // the last turn cut short: what it has left may go out in full on top.
        assert!(
            this_turn <= FLUSH_BYTES_PER_TURN + FLUSH_IN_FULL_BYTES,
            "one turn wrote {this_turn} bytes to subscribers that were behind"
        );
        if received > 0 && !bystander_asked {
            bystander.read();
            assert_eq!(
                bystander.received, PINGRESP,
                "the bystander's PINGRESP waited behind the subscribers"
            );
            bystander_asked = true;
        }
        if received > 0 {
            turns += 1;
        }
        if received == SUBSCRIBERS * message.len() {
            break;
        }
    }
    assert_eq!(received, SUBSCRIBERS * message.len(), "every copy arrived");
    assert!(
        turns >= SUBSCRIBERS * message.len() / FLUSH_BYTES_PER_TURN,
        "{turns} turns"
    );
    assert!(!rig.broker.flush_deferred());
    for sub in &mut subscribers {
        assert_eq!(sub.packets(), [(0x30, message[4..].to_vec())]);
    }
}
