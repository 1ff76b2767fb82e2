//! mosquitto_passwd's drop-in replacement; all of it lives in `midge::auth::passwd_cli`.
fn main() {
    midge::auth::passwd_cli::main()
}
