//! Subscription storms: 10,000 clients subscribing to one hot filter and unsubscribing
//! again, and 10,000 clients joining and leaving one shared group. Each iteration is the
//! whole storm, so per-operation work that grows with the list shows as quadratic time.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use midge::protocol::{QoS, SubOptions};
use midge::router::{Router, Subscriber, Target};
use midge::shared::{Member, SharedGroups};
use std::hint::black_box;
use std::time::Duration;

const CLIENTS: usize = 10_000;

fn subscriber(session: usize) -> Subscriber {
    Subscriber {
        target: Target::Session(session),
        options: SubOptions::qos(QoS::AtMostOnce),
        subscription_id: 0,
    }
}

fn member(session: usize) -> Member {
    Member {
        session,
        options: SubOptions::qos(QoS::AtMostOnce),
        subscription_id: 0,
    }
}

/// Every client subscribes, then every client unsubscribes, in the order they came.
fn hot_filter(c: &mut Criterion) {
    let mut group = c.benchmark_group("churn");
    for filter in ["hot/topic", "hot/+"] {
        let filter = midge::protocol::ByteStr::from(filter);
        group.bench_with_input(
            BenchmarkId::new("subscribe_unsubscribe", filter.as_str()),
            &filter,
            |b, filter| {
                let mut router = Router::new();
                b.iter(|| {
                    for i in 0..CLIENTS {
                        router.subscribe(filter, subscriber(i));
                    }
                    for i in 0..CLIENTS {
                        black_box(router.unsubscribe(filter, Target::Session(i)));
                    }
                })
            },
        );
    }
    group.finish();
}

/// Every client joins one `$share` group, then every client leaves it.
fn shared_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("churn");
    group.bench_function("shared_join_leave", |b| {
        let mut groups = SharedGroups::default();
        b.iter(|| {
            for i in 0..CLIENTS {
                groups.join("g", "hot/topic", member(i), true);
            }
            for i in 0..CLIENTS {
                black_box(groups.leave("g", "hot/topic", i));
            }
        })
    });
    group.finish();
}

/// Messages to a group of 10,000 where only the last member to join is online.
fn shared_pick(c: &mut Criterion) {
    let mut groups = SharedGroups::default();
    let mut key = 0;
    for i in 0..CLIENTS {
        key = groups.join("g", "hot/topic", member(i), i == CLIENTS - 1).0;
    }
    let mut group = c.benchmark_group("churn");
    group.bench_function("shared_pick_one_online", |b| {
        b.iter(|| black_box(groups.pick(key, None)))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = hot_filter, shared_group, shared_pick
}
criterion_main!(benches);
