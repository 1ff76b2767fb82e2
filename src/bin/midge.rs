fn main() {
    eprintln!("midge: not built yet");
    std::process::exit(1);
}
