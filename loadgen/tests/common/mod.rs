//! What the generator's tests share: a midge started in the test process.

/// Starts a midge with config `text` on its own thread (the loop is not Send, so it is bound
/// there) and returns the port of its first listener; it runs until the test process exits.
pub fn start_broker(text: String) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (config, _warnings) = midge::config::Config::parse(&text, "test").expect("config");
        let event_loop = midge::event_loop::EventLoop::bind(config).expect("bind");
        tx.send(event_loop.ports()[0])
            .expect("the test waits for the port");
        event_loop.run()
    });
    rx.recv().expect("the broker started")
}
