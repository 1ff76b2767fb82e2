//! Topic routing with many subscriptions: 10,000 and 100,000 exact filters, and as many
//! wildcard filters, matched against one topic.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use midge::protocol::{QoS, SubOptions};
use midge::router::{Router, Subscriber, Target};
use std::hint::black_box;

fn subscriber(session: usize) -> Subscriber {
    Subscriber {
        target: Target::Session(midge::ids::SessionKey(session)),
        options: SubOptions::qos(QoS::AtMostOnce),
        subscription_id: 0,
    }
}

/// Filters like `site/17/device/4242/temp` (exact) or `site/17/device/+/temp` (wildcard).
fn router(filters: usize, wildcard: bool) -> Router {
    let mut router = Router::new();
    for i in 0..filters {
        let device = if wildcard && i % 2 == 0 {
            "+".to_string()
        } else {
            i.to_string()
        };
        let tail = if wildcard && i % 2 == 1 { "#" } else { "temp" };
        let filter = format!("site/{}/device/{device}/{tail}", i % 100);
        router.subscribe(&filter.as_str().into(), subscriber(i));
    }
    router
}

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("route");
    for &n in &[10_000, 100_000] {
        for (kind, wildcard) in [("exact", false), ("wildcard", true)] {
            let router = router(n, wildcard);
            let topic = "site/42/device/4242/temp";
            let mut out = Vec::with_capacity(n);
            group.bench_with_input(BenchmarkId::new(kind, n), &topic, |b, topic| {
                b.iter(|| {
                    out.clear();
                    router.matches(black_box(topic), &mut out);
                    black_box(out.len());
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
