//! The scripts the rig runs (see `inproc.rs`): the ops, how arbitrary bytes read as a
//! script, and the well-formed packets a script can send.

use super::MAX_OPS;
pub(super) use super::packets::packet;

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A new TCP connection that has sent nothing yet.
    Open,
    /// A new connection that sends a valid CONNECT: version 3, 4 or 5 (`version % 3 + 3`),
    /// client id `c0`..`c3`, keep-alive 0 to 3 s, maybe a will.
    Hello {
        version: u8,
        id: u8,
        clean: bool,
        keep_alive: u8,
        will: bool,
    },
    /// Arbitrary bytes on connection `client` (modulo the number opened).
    Write {
        client: u8,
        bytes: Vec<u8>,
    },
    /// One of a set of well-formed packets (see [`canned`]) in the connection's version.
    Canned {
        client: u8,
        packet: u8,
        id: u8,
    },
    /// The client closes its socket: with a FIN, or with a reset (`abort`).
    Close {
        client: u8,
        abort: bool,
    },
    /// The client shuts down its sending side and keeps reading.
    ShutdownWrite {
        client: u8,
    },
    /// Time passes (in quarters of a second, the broker's tick) and the timers run.
    Tick {
        quarters: u8,
    },
    /// The client stops reading its socket (which then fills up), or reads again.
    StopReading {
        client: u8,
    },
    ResumeReading {
        client: u8,
    },
    /// A canned packet sent `times * FLOOD_TIMES` times in one go, as a peer that floods
    /// (at most `FLOOD_PACKETS_MAX` packets over all the floods of a script).
    Flood {
        client: u8,
        packet: u8,
        id: u8,
        times: u8,
    },
}

impl Op {
    /// Reads a script from arbitrary bytes, as the fuzz target gets them: an op byte, then
    /// that op's arguments. Every byte string is a valid script.
    pub fn parse_script(data: &[u8]) -> Vec<Op> {
        let mut r = ByteReader { data, pos: 0 };
        let mut ops = Vec::new();
        while let Some(op) = r.next() {
            if ops.len() == MAX_OPS {
                break;
            }
            ops.push(match op % 12 {
                0 => Op::Open,
                1 => {
                    let flags = r.byte();
                    Op::Hello {
                        version: flags & 0x03,
                        id: (flags >> 2) & 0x03,
                        clean: flags & 0x10 != 0,
                        keep_alive: (flags >> 5) & 0x03,
                        will: flags & 0x80 != 0,
                    }
                }
                2 | 3 => {
                    let client = r.byte();
                    let len = match r.byte() {
                        // 255: the rest of the input, for long streams and huge claims.
                        255 => usize::MAX,
                        n => usize::from(n),
                    };
                    Op::Write {
                        client,
                        bytes: r.take(len).to_vec(),
                    }
                }
                4 => Op::Canned {
                    client: r.byte(),
                    packet: r.byte(),
                    id: r.byte(),
                },
                5 => {
                    let b = r.byte();
                    Op::Close {
                        client: b >> 1,
                        abort: b & 1 != 0,
                    }
                }
                6 => Op::ShutdownWrite { client: r.byte() },
                8 => Op::StopReading { client: r.byte() },
                9 => Op::ResumeReading { client: r.byte() },
                10 => Op::Flood {
                    client: r.byte(),
                    packet: r.byte(),
                    id: r.byte(),
                    times: r.byte(),
                },
                _ => Op::Tick { quarters: r.byte() },
            });
        }
        ops
    }
}

struct ByteReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl ByteReader<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }

    fn take(&mut self, len: usize) -> &[u8] {
        let end = self.pos.saturating_add(len).min(self.data.len());
        let out = &self.data[self.pos..end];
        self.pos = end;
        out
    }
}

/// A string field as a value of its own (the shared builder appends to a buffer).
pub(super) fn string(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + s.len());
    super::packets::string(&mut out, s);
    out
}

/// A valid CONNECT for MQTT 3.1 (`version` 3), 3.1.1 (4) or 5.0 (5).
pub fn connect_packet(version: u8, id: &[u8], clean: bool, keep_alive: u16, will: bool) -> Vec<u8> {
    let v5 = version == 5;
    let mut body = if version == 3 {
        string(b"MQIsdp")
    } else {
        string(b"MQTT")
    };
    body.push(version);
    let mut flags = if clean { 0x02 } else { 0 };
    if will {
        flags |= 0x04 | 0x08; // will, QoS 1
    }
    body.push(flags);
    body.extend_from_slice(&keep_alive.to_be_bytes());
    if v5 {
        // Session expiry 60 s when not clean, so persistent sessions outlive a close.
        if clean {
            body.push(0);
        } else {
            body.extend_from_slice(&[5, 0x11, 0, 0, 0, 60]);
        }
    }
    body.extend(string(id));
    if will {
        if v5 {
            body.extend_from_slice(&[5, 0x18, 0, 0, 0, 1]); // will delay 1 s
        }
        body.extend(string(b"t/will"));
        body.extend(string(b"gone"));
    }
    packet(0x10, &body)
}

/// Well-formed packets a connected client may send (and a few it may not), in `version`'s
/// form: enough to reach subscriptions, QoS 1/2 flows, retained messages, shared groups and
/// topic aliases from a short script. Packet ids are 1 to 4, so that they collide.
pub fn canned(which: u8, id: u8, version: u8) -> Vec<u8> {
    let v5 = version == 5;
    let pid = [0, id % 4 + 1];
    let props: &[u8] = if v5 { &[0] } else { &[] };
    let publish = |flags: u8, topic: &[u8], with_id: bool, props: &[u8]| {
        let mut body = string(topic);
        if with_id {
            body.extend_from_slice(&pid);
        }
        if v5 {
            body.extend_from_slice(props);
        }
        body.extend_from_slice(b"payload");
        packet(0x30 | flags, &body)
    };
    let subscribe = |filter: &[u8], options: u8| {
        let mut body = pid.to_vec();
        body.extend_from_slice(props);
        body.extend(string(filter));
        body.push(if v5 { options } else { options & 0x03 });
        packet(0x82, &body)
    };
    match which % 16 {
        0 => subscribe(b"t/#", 2),
        1 => subscribe(b"$share/g/t/+", 1),
        2 => subscribe(b"t/a", 0x04 | 0x08 | 0x10 | 1), // no local, RAP, retain handling 1
        3 => publish(0, b"t/a", false, &[0]),
        4 => publish(2, b"t/a", true, &[0]),
        5 => publish(4, b"t/a", true, &[0]),
        6 => publish(3, b"t/r", true, &[0]), // retained QoS 1
        7 => publish(0, b"t/e", false, &[5, 0x02, 0, 0, 0, 1]), // expires in 1 s
        8 => publish(0, b"t/a", false, &[3, 0x23, 0, 1]), // sets topic alias 1
        9 => publish(0, b"", false, &[3, 0x23, 0, 1]), // uses topic alias 1
        10 => packet(0x40, &pid),
        11 => packet(0x50, &pid),
        12 => packet(0x62, &pid),
        13 => packet(0x70, &pid),
        14 => {
            let mut body = pid.to_vec();
            body.extend_from_slice(props);
            body.extend(string(b"t/#"));
            packet(0xa2, &body)
        }
        _ => match id % 3 {
            0 => vec![0xc0, 0],
            1 => vec![0xe0, 0],
            _ if v5 => vec![0xe0, 1, 0x04], // DISCONNECT with will
            _ => vec![0xe0, 0],
        },
    }
}
