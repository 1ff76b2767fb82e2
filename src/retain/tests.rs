use super::*;
use crate::protocol::{ByteStr, QoS, topic};
use bytes::Bytes;

fn message(topic: &str, payload: &'static [u8]) -> Rc<Message> {
    expiring(topic, payload, None)
}

fn expiring(topic: &str, payload: &'static [u8], expires_at: Option<Instant>) -> Rc<Message> {
    Rc::new(Message {
        topic: topic.into(),
        payload: Bytes::from_static(payload),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: Bytes::new(),
        expires_at,
        utf8_payload: false,
        journaled: Default::default(),
    })
}

const BIG: Budget = Budget {
    visits: usize::MAX,
    found: usize::MAX,
};

/// Every match of `filter`, in walk order, in one go.
fn topics(store: &RetainStore, filter: &str) -> Vec<String> {
    let mut out = Vec::new();
    let next = store.walk(filter, None, Instant::now(), &mut BIG.clone(), &mut out);
    assert_eq!(next, None);
    out.iter().map(|m| m.topic.to_string()).collect()
}

/// Every match of `filter`, a message per walk, resuming after each.
fn topics_one_at_a_time(store: &RetainStore, filter: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut from: Option<Position> = None;
    for _ in 0..10_000 {
        let mut out = Vec::new();
        let mut budget = Budget {
            visits: Budget::VISITS_MIN,
            found: 1,
        };
        from = store.walk(filter, from.as_ref(), Instant::now(), &mut budget, &mut out);
        if let Some(m) = out.first() {
            all.push(m.topic.to_string());
            from = from.map(|_| Position::after(&m.topic));
        }
        if from.is_none() {
            return all;
        }
    }
    panic!("the walk for {filter} never ended");
}

#[test]
fn newer_message_replaces_older_and_empty_payload_deletes() {
    let mut store = RetainStore::default();
    assert_eq!(store.set(&message("a/b", b"1")), Stored::Kept);
    assert_eq!(store.set(&message("a/b", b"22")), Stored::Kept);
    assert_eq!((store.len(), store.bytes()), (1, 5));
    let mut out = Vec::new();
    store.walk("a/b", None, Instant::now(), &mut BIG.clone(), &mut out);
    assert_eq!(&out[0].payload[..], b"22");
    assert_eq!(store.set(&message("a/b", b"")), Stored::Deleted);
    assert!(store.is_empty());
    assert_eq!(store.bytes(), 0);
    // The levels it needed are gone too.
    assert!(store.plain.children.is_empty());
}

#[test]
fn expired_messages_are_not_returned_and_are_swept() {
    let mut store = RetainStore::default();
    let now = Instant::now();
    store.set(&expiring("a/b", b"1", Some(now)));
    store.set(&message("a/c", b"2"));
    assert_eq!(topics(&store, "a/+"), ["a/c"]);
    store.sweep_expired(now);
    assert_eq!((store.len(), store.bytes()), (1, 4));
}

#[test]
fn wildcard_filters_find_every_matching_topic() {
    let mut store = RetainStore::default();
    for topic in ["a/b", "a/c", "a", "$SYS/x", "a/b/c", "/a", "b"] {
        store.set(&message(topic, b"1"));
    }
    assert_eq!(topics(&store, "a/+"), ["a/b", "a/c"]);
    // A topic before the topics below it, siblings in byte order.
    assert_eq!(topics(&store, "#"), ["/a", "a", "a/b", "a/b/c", "a/c", "b"]);
    assert_eq!(topics(&store, "a/#"), ["a", "a/b", "a/b/c", "a/c"]);
    assert_eq!(topics(&store, "+/+"), ["/a", "a/b", "a/c"]);
    assert_eq!(topics(&store, "$SYS/#"), ["$SYS/x"]);
    assert_eq!(topics(&store, "+/x"), Vec::<String>::new());
    assert_eq!(topics(&store, "a/b"), ["a/b"]);
    assert_eq!(topics(&store, "z"), Vec::<String>::new());
}

#[test]
fn a_walk_resumed_after_each_message_finds_what_one_walk_finds() {
    let mut store = RetainStore::default();
    let mut names = Vec::new();
    for x in ["a", "b", "", "$x"] {
        for y in ["a", "b", "", "c"] {
            for z in ["", "a", "zz"] {
                names.push(format!("{x}/{y}/{z}"));
            }
            names.push(format!("{x}/{y}"));
        }
        names.push(x.to_string());
    }
    for name in &names {
        store.set(&message(name, b"1"));
    }
    for filter in [
        "#", "+", "+/+", "a/#", "+/b/#", "+/+/zz", "$x/#", "a/b/", "/#", "+/#",
    ] {
        let one_go = topics(&store, filter);
        let mut expected: Vec<&String> =
            names.iter().filter(|t| topic::matches(filter, t)).collect();
        expected.sort_by_key(|t| t.split('/').collect::<Vec<_>>());
        assert_eq!(
            one_go,
            expected.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "{filter}"
        );
        assert_eq!(topics_one_at_a_time(&store, filter), one_go, "{filter}");
    }
}

#[test]
fn a_small_visit_budget_still_gets_through_a_wide_level() {
    let mut store = RetainStore::default();
    for i in 0..2_000 {
        store.set(&message(&format!("w/{i:04}/x"), b"1"));
    }
    store.set(&message("w/1500/y", b"1"));
    let mut from = None;
    let mut walks = 0;
    let mut out = Vec::new();
    loop {
        walks += 1;
        let mut budget = Budget {
            visits: Budget::VISITS_MIN,
            found: usize::MAX,
        };
        from = store.walk(
            "w/+/y",
            from.as_ref(),
            Instant::now(),
            &mut budget,
            &mut out,
        );
        if from.is_none() {
            break;
        }
    }
    assert_eq!(out.len(), 1);
    // Each walk visited at most its budget: about 2,000 / 200 walks.
    assert!((10..=12).contains(&walks), "{walks} walks");
}

#[test]
fn topics_stored_or_deleted_between_two_walks_are_found_or_not_where_the_walk_gets() {
    let mut store = RetainStore::default();
    for topic in ["t/b", "t/d", "t/f"] {
        store.set(&message(topic, b"1"));
    }
    let mut out = Vec::new();
    let mut budget = Budget {
        visits: usize::MAX,
        found: 1,
    };
    let next = store.walk("t/#", None, Instant::now(), &mut budget, &mut out);
    assert_eq!(next, Some(Position::at(&ByteStr::from("t/d"))));
    let from = Position::after(&out[0].topic);
    store.set(&message("t/a", b"1")); // behind the walk
    store.set(&message("t/e", b"1")); // ahead of it
    store.set(&message("t/d", b"")); // deleted ahead of it
    out.clear();
    store.walk(
        "t/#",
        Some(&from),
        Instant::now(),
        &mut BIG.clone(),
        &mut out,
    );
    let found: Vec<_> = out.iter().map(|m| m.topic.to_string()).collect();
    assert_eq!(found, ["t/e", "t/f"]);
}

#[test]
fn at_the_count_bound_a_new_topic_is_refused_and_a_replacement_kept() {
    let mut store = RetainStore::new(2, usize::MAX);
    store.set(&message("a", b"1"));
    store.set(&message("b", b"1"));
    assert_eq!(store.set(&message("c", b"1")), Stored::OverCount);
    assert_eq!(store.set(&message("a", b"2")), Stored::Kept);
    assert_eq!((store.len(), store.refused()), (2, 1));
    assert_eq!(topics(&store, "#"), ["a", "b"]);
}

#[test]
fn at_the_byte_bound_a_message_is_refused_and_the_one_it_would_replace_deleted() {
    // "a" + 3 bytes and "b" + 3 bytes: 8 bytes of 10.
    let mut store = RetainStore::new(usize::MAX, 10);
    store.set(&message("a", b"123"));
    store.set(&message("b", b"123"));
    assert_eq!(store.set(&message("c", b"123")), Stored::OverBytes);
    assert_eq!(store.set(&message("a", b"12345")), Stored::Kept);
    assert_eq!(store.bytes(), 10);
    assert_eq!(store.set(&message("b", b"1234")), Stored::OverBytes);
    assert_eq!(topics(&store, "#"), ["a"]);
    assert_eq!((store.bytes(), store.refused()), (6, 2));
}
