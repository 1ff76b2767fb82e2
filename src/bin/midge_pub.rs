//! mosquitto_pub's drop-in replacement; all of it lives in `midge::client::pub_cli`.
fn main() {
    midge::client::pub_cli::main()
}
