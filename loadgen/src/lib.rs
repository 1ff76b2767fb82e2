//! midge_loadgen: a load generator for MQTT brokers, and the library behind it.
//!
//! - [`cli`]: the command line.
//! - [`plan`]: a scenario turned into publishers, subscribers and their topics.
//! - [`engine`]: one worker thread's mio loop over its connections.
//! - [`link`]: a connection's bytes in and out, in clear or through rustls.
//! - [`shared`]: the clock, phase and counters the threads share.
//! - [`run`]: one run, start to end: threads, phases, progress, the result.
//! - [`wire`]: the payload stamp, the PUBLISH template and the fast frame reader.
//! - [`pacing`]: the schedule of a `--rate` run.
//! - [`stats`]: loss, duplicate and order bookkeeping; histograms; counters.
//! - [`report`]: the summary table, JSON and `.hgrm` output.
//! - [`compare`] and [`svg`]: several runs side by side, and their latency chart.
//! - [`sink`]: an in-process fake broker, to measure the generator's own ceiling.
//! - [`sys`]: file limits, source-bound sockets, CPU and memory readings.

pub mod cli;
pub mod compare;
pub mod engine;
pub mod link;
pub mod pacing;
pub mod plan;
pub mod report;
pub mod run;
pub mod shared;
pub mod sink;
pub mod stats;
pub mod svg;
pub mod sys;
pub mod wire;
