//! Running real client programs from the tests: mosquitto_pub/mosquitto_sub, our
//! midge_pub/midge_sub, python3. Every wait is bounded, output is captured for the failure
//! message, and a child still running when its `Proc` is dropped (a failed assertion, say) is
//! killed.

use super::{Broker, REPLY_TIMEOUT};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The publisher and subscriber programs a test drives.
#[derive(Clone, Debug)]
pub struct ClientPrograms {
    pub publisher: String,
    pub subscriber: String,
}

impl ClientPrograms {
    /// Debian's mosquitto_pub and mosquitto_sub, found on PATH.
    pub fn mosquitto() -> ClientPrograms {
        ClientPrograms {
            publisher: "mosquitto_pub".into(),
            subscriber: "mosquitto_sub".into(),
        }
    }

    /// Our midge_pub and midge_sub; mosquitto's instead when `MIDGE_TEST_CLIENTS=mosquitto`,
    /// which is how the scenarios written for our clients are checked against the real thing.
    pub fn midge() -> ClientPrograms {
        if std::env::var("MIDGE_TEST_CLIENTS").as_deref() == Ok("mosquitto") {
            return ClientPrograms::mosquitto();
        }
        ClientPrograms {
            publisher: env!("CARGO_BIN_EXE_midge_pub").into(),
            subscriber: env!("CARGO_BIN_EXE_midge_sub").into(),
        }
    }
}

/// True when `program` can be run: a path that exists, or a name found on PATH.
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// Decides what a test does when a tool it needs is missing: under CI (env `CI` set) the test
/// fails and says what to install; elsewhere it prints "skipped: ..." and the caller returns.
/// Returns true when the test can go on.
pub fn tool_available(available: bool, what: &str, install: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing: {install}"
    );
    eprintln!("skipped: {what} is missing ({install})");
    false
}

/// The outcome of a child process that has exited (or was killed after its deadline).
#[derive(Debug)]
pub struct Finished {
    pub command: String,
    /// The exit code; None when killed by a signal (including after a timeout).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// A description for assertion messages.
    pub fn describe(&self) -> String {
        let status = match (self.timed_out, self.code) {
            (true, _) => "was killed after its deadline".to_string(),
            (false, Some(code)) => format!("exited with code {code}"),
            (false, None) => "was killed by a signal".to_string(),
        };
        format!(
            "`{}` {status}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.command, self.stdout, self.stderr
        )
    }

    pub fn assert_code(&self, code: i32) -> &Finished {
        assert_eq!(self.code, Some(code), "{}", self.describe());
        self
    }

    pub fn assert_success(&self) -> &Finished {
        self.assert_code(0)
    }
}

/// A running child process with its stdout and stderr collected in the background.
pub struct Proc {
    child: Child,
    command: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Proc {
    /// Starts `program args...`; `stdin` is written then closed (None: no standard input).
    pub fn spawn(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Proc {
        let command = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            let input = input.to_vec();
            // A thread, so that a child that does not read its input cannot block the test.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), Arc::clone(&stdout)),
            collect(child.stderr.take().expect("stderr"), Arc::clone(&stderr)),
        ];
        Proc {
            child,
            command,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until `done()` holds, failing the test if the child exits first or the reply
    /// timeout passes.
    fn wait_until(
        &mut self,
        what: &str,
        extra: impl Fn() -> String,
        mut done: impl FnMut() -> bool,
    ) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if done() {
                return;
            }
            if !self.is_running() {
                // One more look: the child may have done it just before exiting.
                if done() {
                    return;
                }
                panic!(
                    "`{}` exited before {what}\n--- stdout ---\n{}--- stderr ---\n{}{}",
                    self.command,
                    self.stdout(),
                    self.stderr(),
                    extra()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what} from `{}`\n--- stdout ---\n{}--- stderr ---\n{}{}",
                    self.command,
                    self.stdout(),
                    self.stderr(),
                    extra()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the child has printed `needle` on its standard output.
    pub fn wait_for_stdout(&mut self, needle: &str) {
        let stdout = Arc::clone(&self.stdout);
        self.wait_until(&format!("{needle:?} on stdout"), String::new, || {
            String::from_utf8_lossy(&stdout.lock().unwrap()).contains(needle)
        });
    }

    /// Waits until the broker log shows `needle` at least `count` times while this child runs.
    pub fn wait_for_log_count(&mut self, broker: &Broker, needle: &str, count: usize) {
        self.wait_until(
            &format!("{count} × {needle:?} in the broker log"),
            || format!("--- broker log ---\n{}", broker.log()),
            || broker.log().matches(needle).count() >= count,
        );
    }

    /// Waits until the broker has answered this subscriber's SUBSCRIBE (mosquitto and midge
    /// both log `Sending SUBACK to <id>`), so that what is published next reaches it.
    pub fn wait_subscribed(&mut self, broker: &Broker, client_id: &str) {
        self.wait_for_log_count(broker, &format!("Sending SUBACK to {client_id}\n"), 1);
    }

    /// Waits for the child to exit by itself, killing it after `timeout`.
    pub fn finish_within(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                timed_out = true;
                let _ = self.child.kill();
                break self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.collect_output(status.code(), timed_out)
    }

    /// Waits for the child to exit by itself, killing it after the reply timeout.
    pub fn finish(self) -> Finished {
        self.finish_within(REPLY_TIMEOUT)
    }

    /// Kills the child with SIGKILL (it gets no chance to say goodbye to the broker).
    pub fn kill(mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait");
        self.collect_output(status.code(), false)
    }

    fn collect_output(mut self, code: Option<i32>, timed_out: bool) -> Finished {
        // The child is gone, so the pipes reach end of file (unless a grandchild holds them:
        // then take what arrived so far rather than hang).
        let deadline = Instant::now() + Duration::from_secs(1);
        for reader in self.readers.drain(..) {
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Finished {
            command: self.command.clone(),
            code,
            timed_out,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn collect(mut pipe: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Runs `program args...` to completion with `stdin`, killing it after the reply timeout.
pub fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Finished {
    Proc::spawn(program, args, stdin).finish()
}
