//! `midge_passwd`: mosquitto_passwd 2.0.11's command line, messages and exit codes.
//!
//! ```text
//! midge_passwd [-H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username
//! midge_passwd [-H sha512 | -H sha512-pbkdf2] [-c] -b passwordfile username password
//! midge_passwd -U passwordfile
//! ```
//!
//! Options come before the file, as in mosquitto_passwd (`-I ITERATIONS` too). New entries
//! are `$7$101$...` unless `-H sha512` asks for mosquitto 1.x's `$6$`. An existing file is
//! rewritten in place (keeping its owner and mode), with a `FILE.tmp` copy of the old one
//! while that happens. Where mosquitto_passwd 2.0.11 stumbles, midge_passwd does not:
//! `#` comments and blank lines are kept instead of called corrupt, a last line without a
//! newline is not glued to the next entry, and `-U` leaves entries that are already hashed
//! alone instead of hashing their hashes.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::password::{Algorithm, DEFAULT_ITERATIONS, PasswordHash};

/// Where midge_passwd talks: the terminal in real life, buffers in tests.
pub trait Console {
    fn out(&mut self, text: &str);
    fn err(&mut self, text: &str);
    /// One line typed without echo, without its line ending; `None` at end of input.
    fn read_hidden_line(&mut self) -> Option<Vec<u8>>;
}

/// Runs midge_passwd with `argv` (program name first); returns the exit code.
pub fn run(argv: &[OsString], console: &mut dyn Console) -> i32 {
    match Command::parse(argv, console) {
        Ok(command) => command.execute(console),
        Err(code) => code,
    }
}

/// The real thing: process arguments, the terminal, and exit.
pub fn main() -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    restore_echo_on_signals();
    let code = run(&argv, &mut Terminal);
    std::process::exit(code)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `-c`: a new file with one user.
    Create,
    /// `-D`: remove a user.
    Delete,
    /// `-U`: hash a plain-text file's passwords.
    Convert,
    /// Add a user or change their password.
    Update,
}

struct Command {
    mode: Mode,
    file: PathBuf,
    username: String,
    /// From the command line with `-b`; asked for otherwise.
    password: Option<Vec<u8>>,
    algorithm: Algorithm,
}

fn usage(program: &str) -> String {
    format!(
        "{program} is a tool for managing password files for mosquitto.

Usage: {program} [-H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username
       {program} [-H sha512 | -H sha512-pbkdf2] [-c] -b passwordfile username password
       {program} -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      Mosquitto 1.6 and earlier defaulted to sha512.
 -U : update a plain text password file to use hashed passwords.

See https://mosquitto.org/ for more information on mosquitto_passwd, which {program} follows.

"
    )
}

impl Command {
    /// Reads the command line as mosquitto_passwd does: options first, in any order, then
    /// the file and what the mode needs. `Err` carries the exit code, the message printed.
    fn parse(argv: &[OsString], console: &mut dyn Console) -> Result<Command, i32> {
        let program = crate::client::cli::program_name(argv, "midge_passwd");
        let args = argv.get(1..).unwrap_or_default();
        let mut fail = |message: &str| {
            console.err(&format!("Error: {message}\n"));
            Err(1)
        };
        if args.is_empty() {
            console.out(&usage(&program));
            return Err(1);
        }
        let (mut batch, mut create, mut delete, mut convert) = (false, false, false, false);
        let mut sha512 = false;
        let mut iterations = DEFAULT_ITERATIONS;
        let mut idx = 0;
        while let Some(arg) = args.get(idx) {
            match arg.as_bytes() {
                b"-H" => {
                    let Some(kind) = args.get(idx + 1) else {
                        return fail("-H argument given but not enough other arguments.");
                    };
                    match kind.as_bytes() {
                        b"sha512" => sha512 = true,
                        b"sha512-pbkdf2" => sha512 = false,
                        _ => {
                            let kind = kind.to_string_lossy();
                            return fail(&format!("Unknown hash type '{kind}'"));
                        }
                    }
                    idx += 1;
                }
                b"-b" => batch = true,
                b"-c" => create = true,
                b"-D" => delete = true,
                b"-I" => {
                    let Some(count) = args.get(idx + 1) else {
                        return fail("-I argument given but not enough other arguments.");
                    };
                    match u32::try_from(atoi(count.as_bytes())) {
                        Ok(n) if n > 0 => iterations = n,
                        _ => return fail("Number of iterations must be > 0."),
                    }
                    idx += 1;
                }
                b"-U" => convert = true,
                _ => break,
            }
            idx += 1;
        }
        for (a, b, names) in [
            (create, delete, "-c and -D"),
            (create, convert, "-c and -U"),
            (delete, convert, "-D and -U"),
            (delete, batch, "-b and -D"),
        ] {
            if a && b {
                return fail(&format!("{names} cannot be used together."));
            }
        }
        let rest = &args[idx..];
        let (mode, positional): (Mode, &[OsString]) = if create {
            let needed = if batch { 3 } else { 2 };
            if rest.len() < needed {
                return fail(if batch {
                    "-c argument given but password file, username, or password missing."
                } else {
                    "-c argument given but password file or username missing."
                });
            }
            (Mode::Create, &rest[..needed])
        } else if delete {
            if rest.len() < 2 {
                return fail("-D argument given but password file or username missing.");
            }
            (Mode::Delete, &rest[..2])
        } else if convert {
            if rest.len() != 1 {
                return fail("-U argument given but password file missing.");
            }
            (Mode::Convert, rest)
        } else if rest.len() == if batch { 3 } else { 2 } {
            (Mode::Update, rest)
        } else {
            console.out(&usage(&program));
            return Err(1);
        };
        let file = PathBuf::from(&positional[0]);
        let username = match positional.get(1) {
            None => String::new(),
            Some(name) => {
                let Some(name) = name.to_str() else {
                    return fail("Username must be valid UTF-8.");
                };
                if let Err(why) = check_username(name) {
                    return fail(why);
                }
                name.to_string()
            }
        };
        let password = positional.get(2).map(|p| p.as_bytes().to_vec());
        if password.as_ref().is_some_and(|p| p.len() > 65535) {
            return fail("Password must be less than 65536 characters long.");
        }
        let algorithm = if sha512 {
            Algorithm::Sha512
        } else {
            Algorithm::Pbkdf2 { iterations }
        };
        Ok(Command {
            mode,
            file,
            username,
            password,
            algorithm,
        })
    }

    fn execute(self, console: &mut dyn Console) -> i32 {
        // mosquitto_passwd names the file by its real path in its messages.
        let file = match std::fs::canonicalize(&self.file) {
            Ok(path) => path,
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.file.clone(),
            Err(e) => {
                console.err(&format!("Error reading password file: {}\n", strerror(&e)));
                return 1;
            }
        };
        if self.mode == Mode::Create {
            return self.create(&file, console);
        }
        let mut handle = match OpenOptions::new().read(true).write(true).open(&file) {
            Ok(handle) => handle,
            Err(e) => {
                let (shown, why) = (file.display(), strerror(&e));
                console.err(&format!(
                    "Error: Unable to open password file {shown}. {why}.\n"
                ));
                return 1;
            }
        };
        let mut old = Vec::new();
        if let Err(e) = handle.read_to_end(&mut old) {
            console.err(&format!("Error reading password file: {}\n", strerror(&e)));
            return 1;
        }
        let backup = PathBuf::from(format!("{}.tmp", file.display()));
        if std::fs::write(&backup, &old).is_err() {
            let shown = backup.display();
            console.err(&format!(
                "Error creating backup password file \"{shown}\", not continuing.\n"
            ));
            return 1;
        }
        let new = match self.rewrite(&old, console) {
            Ok(new) => new,
            Err(code) => {
                let _ = std::fs::remove_file(&backup);
                return code;
            }
        };
        if replace_contents(&mut handle, &new).is_err() {
            console.err("Error occurred updating password file.\n");
            let shown = backup.display();
            console.err(&format!(
                "Password file may be corrupt, check the backup file: {shown}.\n"
            ));
            return 1;
        }
        // The backup holds the old hashes: it should not outlive the update.
        let _ = std::fs::remove_file(&backup);
        0
    }

    fn create(&self, file: &Path, console: &mut dyn Console) -> i32 {
        let password = match &self.password {
            Some(password) => password.clone(),
            None => match ask_password(console) {
                Ok(password) => password,
                Err(code) => return code,
            },
        };
        let mut handle = match File::create(file) {
            Ok(handle) => handle,
            Err(e) => {
                let (shown, why) = (file.display(), strerror(&e));
                console.err(&format!(
                    "Error: Unable to open file {shown} for writing. {why}.\n"
                ));
                return 1;
            }
        };
        let mut out = Vec::new();
        if let Err(code) = entry(&mut out, &self.username, &password, self.algorithm, console) {
            return code;
        }
        match handle.write_all(&out) {
            Ok(()) => 0,
            Err(e) => {
                console.err(&format!("Error: Unable to write file: {}.\n", strerror(&e)));
                1
            }
        }
    }

    /// The file's new contents, line by line as mosquitto_passwd walks it.
    fn rewrite(&self, old: &[u8], console: &mut dyn Console) -> Result<Vec<u8>, i32> {
        let password = match (self.mode, &self.password) {
            (Mode::Update, None) => Some(ask_password(console)?),
            (_, password) => password.clone(),
        };
        let mut out = Vec::with_capacity(old.len() + 160);
        let mut found = false;
        for (index, line) in old.split_inclusive(|&b| b == b'\n').enumerate() {
            let text = line.trim_ascii();
            if text.is_empty() || text.starts_with(b"#") {
                out.extend_from_slice(line);
                continue;
            }
            let Some((username, secret)) = fields(line) else {
                let line_no = index + 1;
                console.err(&format!(
                    "Error: Corrupt password file at line {line_no}.\n"
                ));
                return Err(1);
            };
            let matches = username == self.username.as_bytes();
            match self.mode {
                Mode::Delete if matches => found = true,
                Mode::Update if matches => {
                    found = true;
                    let password = password.as_deref().unwrap_or_default();
                    entry(&mut out, &self.username, password, self.algorithm, console)?;
                }
                Mode::Convert if !already_hashed(secret) => {
                    // mosquitto_passwd -U ignores -I and always uses the default count.
                    let algorithm = match self.algorithm {
                        Algorithm::Sha512 => Algorithm::Sha512,
                        Algorithm::Pbkdf2 { .. } => Algorithm::Pbkdf2 {
                            iterations: DEFAULT_ITERATIONS,
                        },
                    };
                    let name = String::from_utf8_lossy(username);
                    entry(&mut out, &name, secret, algorithm, console)?;
                }
                _ => {
                    out.extend_from_slice(line);
                    if !line.ends_with(b"\n") {
                        out.push(b'\n');
                    }
                }
            }
        }
        match self.mode {
            Mode::Delete if !found => {
                let user = &self.username;
                console.err(&format!(
                    "Warning: User {user} not found in password file.\n"
                ));
                return Err(1);
            }
            Mode::Update if !found => {
                let password = password.as_deref().unwrap_or_default();
                entry(&mut out, &self.username, password, self.algorithm, console)?;
            }
            _ => {}
        }
        Ok(out)
    }
}

/// The username and password fields of a line, as `strtok(line, ":")` twice finds them
/// (empty fields skipped), trimmed; `None` if either is missing or empty.
fn fields(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut tokens = line.split(|&b| b == b':').filter(|t| !t.is_empty());
    let username = tokens.next()?.trim_ascii();
    let password = tokens.next()?.trim_ascii();
    (!username.is_empty() && !password.is_empty()).then_some((username, password))
}

fn already_hashed(secret: &[u8]) -> bool {
    std::str::from_utf8(secret).is_ok_and(|s| PasswordHash::parse(s).is_ok())
}

/// Appends `username:HASH\n` for a new hash of `password`.
fn entry(
    out: &mut Vec<u8>,
    username: &str,
    password: &[u8],
    algorithm: Algorithm,
    console: &mut dyn Console,
) -> Result<(), i32> {
    let Ok(hash) = PasswordHash::new(password, algorithm) else {
        console.err("Error: Unable to hash password.\n");
        return Err(1);
    };
    out.extend_from_slice(format!("{username}:{hash}\n").as_bytes());
    Ok(())
}

fn check_username(name: &str) -> Result<(), &'static str> {
    if name.len() > 65535 {
        return Err("Username must be less than 65536 characters long.");
    }
    if name.bytes().any(|b| b.is_ascii_control()) {
        return Err("Username must not contain control characters.");
    }
    if name.contains(':') {
        return Err("Username must not contain the ':' character.");
    }
    Ok(())
}

/// mosquitto's `get_password`: asks twice; exit code 1 for an empty answer, 2 for two
/// different ones.
fn ask_password(console: &mut dyn Console) -> Result<Vec<u8>, i32> {
    let ask = |prompt: &str, console: &mut dyn Console| {
        console.out(prompt);
        let answer = console.read_hidden_line().filter(|p| !p.is_empty());
        if answer.is_none() {
            console.err("Error: Empty password.\n");
            return Err(1);
        }
        console.out("\n");
        Ok(answer.unwrap_or_default())
    };
    let first = ask("Password: ", console)?;
    let second = ask("Reenter password: ", console)?;
    if first != second {
        console.err("Error: Passwords do not match.\n");
        return Err(2);
    }
    Ok(first)
}

/// C's `atoi`: leading blanks, a sign, digits; 0 if none.
fn atoi(text: &[u8]) -> i64 {
    let text = text.trim_ascii_start();
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, &d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative { -value } else { value }
}

/// `strerror`'s words without Rust's " (os error N)".
fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Truncates and rewrites the file in place, so its owner and mode stay as they were.
fn replace_contents(handle: &mut File, contents: &[u8]) -> io::Result<()> {
    handle.set_len(0)?;
    handle.rewind()?;
    handle.write_all(contents)?;
    handle.sync_all()
}

/// stdin, stdout and stderr, with echo off while a password is typed.
struct Terminal;

impl Console for Terminal {
    fn out(&mut self, text: &str) {
        let mut stdout = io::stdout();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    fn err(&mut self, text: &str) {
        let _ = io::stderr().write_all(text.as_bytes());
    }

    fn read_hidden_line(&mut self) -> Option<Vec<u8>> {
        let _echo = EchoOff::new();
        let mut line = Vec::new();
        match io::stdin().lock().read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                    line.pop();
                }
                Some(line)
            }
        }
    }
}

/// Turns terminal echo off for stdin while alive; does nothing when stdin is not a terminal
/// (a password piped in, as mosquitto_passwd also accepts).
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: termios is plain data; tcgetattr fills it or fails, and fd 0 is ours.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return EchoOff(None);
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            libc::tcsetattr(0, libc::TCSANOW, &quiet);
            EchoOff(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores the attributes tcgetattr gave us on the same descriptor.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, saved);
            }
        }
    }
}

/// Like mosquitto_passwd, leave the terminal echoing and exit 0 when interrupted mid-prompt.
fn restore_echo_on_signals() {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // SAFETY: the handler calls only async-signal-safe functions (tcgetattr, tcsetattr,
        // _exit) on plain stack data.
        let _ = unsafe {
            signal_hook::low_level::register(signal, || {
                let mut attrs: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(0, &mut attrs) == 0 {
                    attrs.c_lflag |= libc::ECHO | libc::ICANON;
                    libc::tcsetattr(0, libc::TCSANOW, &attrs);
                }
                libc::_exit(0);
            })
        };
    }
}

#[cfg(test)]
#[path = "passwd_cli_tests.rs"]
mod tests;
