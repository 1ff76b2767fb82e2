//! mosquitto_sub's drop-in replacement; all of it lives in `midge::client::sub_cli`.
fn main() {
    midge::client::sub_cli::main()
}
