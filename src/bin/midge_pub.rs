fn main() {
    eprintln!("midge_pub: not built yet");
    std::process::exit(1);
}
