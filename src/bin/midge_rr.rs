//! mosquitto_rr's drop-in replacement; all of it lives in `midge::client::rr_cli`.
fn main() {
    midge::client::rr_cli::main()
}
