fn main() {
    eprintln!("midge_sub: not built yet");
    std::process::exit(1);
}
