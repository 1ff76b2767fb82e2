//! mosquitto's password file: one `username:hash` a line, where the hash is
//!
//! - `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512, what mosquitto_passwd 2.x writes
//!   (101 iterations unless `-I` says otherwise);
//! - `$6$SALT$HASH`: one SHA-512 of the password then the salt, mosquitto 1.x's format
//!   (`mosquitto_passwd -H sha512`).
//!
//! SALT is 12 bytes and HASH 64, both in standard base64. The broker reads files written by
//! any mosquitto_passwd unchanged; `midge_passwd` writes the same lines.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose::STANDARD};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// mosquitto 2.0's `PW_DEFAULT_ITERATIONS`.
pub const DEFAULT_ITERATIONS: u32 = 101;
const SALT_BYTES: usize = 12;
const HASH_BYTES: usize = 64;

/// OpenSSL's decoder, which mosquitto uses, does not insist on padding; nor do we.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How a password is hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `$6$`: SHA-512 over the password then the salt.
    Sha512,
    /// `$7$`: PBKDF2 with HMAC-SHA512.
    Pbkdf2 { iterations: u32 },
}

/// One user's salted password hash, as a password file line holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    algorithm: Algorithm,
    salt: [u8; SALT_BYTES],
    hash: [u8; HASH_BYTES],
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is as good as a password against a weak one: keep it out of logs.
        f.debug_struct("PasswordHash")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt, as mosquitto_passwd does.
    pub fn new(password: &[u8], algorithm: Algorithm) -> Result<PasswordHash, getrandom::Error> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt)?;
        Ok(PasswordHash::with_salt(password, algorithm, salt))
    }

    fn with_salt(password: &[u8], algorithm: Algorithm, salt: [u8; SALT_BYTES]) -> PasswordHash {
        PasswordHash {
            algorithm,
            salt,
            hash: digest(password, algorithm, &salt),
        }
    }

    /// Whether `password` is the one this hash was made from. The comparison takes the same
    /// time wherever the first differing byte is.
    pub fn verify(&self, password: &[u8]) -> bool {
        let candidate = digest(password, self.algorithm, &self.salt);
        bool::from(candidate.ct_eq(&self.hash))
    }

    /// Parses the part of a password file line after `username:`.
    pub fn parse(text: &str) -> Result<PasswordHash, HashError> {
        let Some(fields) = text.strip_prefix('$') else {
            return Err(match text.is_empty() {
                true => HashError::Invalid,
                false => HashError::Type,
            });
        };
        let fields: Vec<&str> = fields.split('$').collect();
        let (algorithm, salt, hash) = match fields[..] {
            ["7", iterations, salt, hash] => {
                let iterations = iterations
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(HashError::Iterations)?;
                (Algorithm::Pbkdf2 { iterations }, salt, hash)
            }
            ["6", salt, hash] => (Algorithm::Sha512, salt, hash),
            ["6" | "7", ..] | [""] => return Err(HashError::Invalid),
            _ => return Err(HashError::Type),
        };
        let salt = decode_exact::<SALT_BYTES>(salt).ok_or(HashError::Salt)?;
        let hash = decode_exact::<HASH_BYTES>(hash).ok_or(HashError::Hash)?;
        Ok(PasswordHash {
            algorithm,
            salt,
            hash,
        })
    }
}

/// Why a password file entry holds no usable hash, in mosquitto 2.0.11's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashError {
    /// Empty, or `$6$`/`$7$` with the wrong number of fields.
    Invalid,
    /// Neither `$6$` nor `$7$`: a plain-text password, say.
    Type,
    Iterations,
    Salt,
    Hash,
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashError::Invalid => "Invalid password hash",
            HashError::Type => "Invalid password hash type",
            HashError::Iterations => "Invalid hash iterations",
            HashError::Salt => "Unable to decode password salt",
            HashError::Hash => "Unable to decode password",
        })
    }
}

/// The form a password file holds: `$7$101$SALT$HASH` or `$6$SALT$HASH`.
impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let salt = STANDARD.encode(self.salt);
        let hash = STANDARD.encode(self.hash);
        match self.algorithm {
            Algorithm::Pbkdf2 { iterations } => write!(f, "$7${iterations}${salt}${hash}"),
            Algorithm::Sha512 => write!(f, "$6${salt}${hash}"),
        }
    }
}

fn decode_exact<const N: usize>(text: &str) -> Option<[u8; N]> {
    LENIENT_BASE64.decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
thread_local! {
    /// Every hash this thread computed, for tests of what each login path costs.
    static DIGESTS: std::cell::RefCell<Vec<Algorithm>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn digest(password: &[u8], algorithm: Algorithm, salt: &[u8; SALT_BYTES]) -> [u8; HASH_BYTES] {
    #[cfg(test)]
    DIGESTS.with_borrow_mut(|d| d.push(algorithm));
    match algorithm {
        Algorithm::Sha512 => Sha512::new()
            .chain_update(password)
            .chain_update(salt)
            .finalize()
            .into(),
        Algorithm::Pbkdf2 { iterations } => {
            let mut out = [0u8; HASH_BYTES];
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
            out
        }
    }
}

/// A loaded password file: each user's hash, shared by reference with the clients it
/// authenticated, so that a reload can tell whether their entry changed.
#[derive(Debug)]
pub struct PasswordFile {
    users: HashMap<String, Rc<PasswordHash>>,
    /// Checked for a user the file does not list, so that "no such user" costs the hash a
    /// listed user's wrong password costs and the answer's timing does not tell which user
    /// names exist. Made at load time with the file's most expensive parameters.
    decoy: PasswordHash,
}

impl Default for PasswordFile {
    fn default() -> PasswordFile {
        PasswordFile::with_users(HashMap::new())
    }
}

/// The costlier of two ways to hash: PBKDF2 (more iterations costlier) over one SHA-512.
fn costlier(a: Algorithm, b: Algorithm) -> Algorithm {
    match (a, b) {
        (Algorithm::Pbkdf2 { iterations: x }, Algorithm::Pbkdf2 { iterations: y }) => {
            Algorithm::Pbkdf2 {
                iterations: x.max(y),
            }
        }
        (pbkdf2 @ Algorithm::Pbkdf2 { .. }, _) | (_, pbkdf2) => pbkdf2,
    }
}

/// A line of a password file that gives no entry, skipped as mosquitto skips it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// Not `username:hash`: no `:`, an empty or over-long username, or not UTF-8.
    Line { line: usize },
    /// A user whose hash cannot be used: that user cannot log in.
    Entry { username: String, why: HashError },
}

impl PasswordFile {
    /// Parses a whole file. `#` comments and blank lines are ignored; a line that gives no
    /// usable entry is skipped and returned, as mosquitto 2.0.11 removes it with a log line
    /// and starts all the same. A user listed twice gets the last entry, as in mosquitto.
    pub fn parse(text: &[u8]) -> (PasswordFile, Vec<Skipped>) {
        let mut users = HashMap::new();
        let mut skipped = Vec::new();
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let bad_line = Skipped::Line { line: index + 1 };
            let Ok(line) = std::str::from_utf8(raw).map(str::trim) else {
                skipped.push(bad_line);
                continue;
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((username, rest)) = line.split_once(':') else {
                skipped.push(bad_line);
                continue;
            };
            let username = username.trim();
            if username.is_empty() || username.len() > 65535 {
                skipped.push(bad_line);
                continue;
            }
            // Like mosquitto, the hash ends at the next ':' if there is one.
            let hash = rest.split(':').next().unwrap_or("").trim();
            match PasswordHash::parse(hash) {
                Ok(hash) => drop(users.insert(username.to_string(), Rc::new(hash))),
                Err(why) => {
                    let username = username.to_string();
                    users.remove(&username);
                    skipped.push(Skipped::Entry { username, why });
                }
            }
        }
        (PasswordFile::with_users(users), skipped)
    }

    fn with_users(users: HashMap<String, Rc<PasswordHash>>) -> PasswordFile {
        // An empty file has no parameters of its own: mosquitto_passwd's defaults, then.
        let fallback = Algorithm::Pbkdf2 {
            iterations: DEFAULT_ITERATIONS,
        };
        let algorithm = users.values().map(|h| h.algorithm).reduce(costlier);
        let decoy = PasswordHash::with_salt(b"", algorithm.unwrap_or(fallback), [0; SALT_BYTES]);
        PasswordFile { users, decoy }
    }

    /// The entry `password` matches for `username`, if the user exists and it matches.
    pub fn check(&self, username: &str, password: Option<&[u8]>) -> Option<&Rc<PasswordHash>> {
        let Some(entry) = self.users.get(username) else {
            self.decoy.verify(password.unwrap_or_default());
            return None;
        };
        // mosquitto refuses a known user who sends no password; the hash is computed all the
        // same, so that the refusal costs what a wrong password costs.
        let matched = entry.verify(password.unwrap_or_default());
        (matched && password.is_some()).then_some(entry)
    }

    /// Whether `username` still has exactly the entry `entry` (after a reload).
    pub fn unchanged(&self, username: &str, entry: &PasswordHash) -> bool {
        self.users.get(username).is_some_and(|e| **e == *entry)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashes `check` computes for one login.
    fn hashes_of(file: &PasswordFile, username: &str, password: Option<&[u8]>) -> Vec<Algorithm> {
        DIGESTS.with_borrow_mut(Vec::clear);
        file.check(username, password);
        DIGESTS.take()
    }

    fn file_of(entries: &[(&str, &[u8], Algorithm)]) -> PasswordFile {
        let text: String = entries
            .iter()
            .map(|(user, pw, algorithm)| {
                format!("{user}:{}\n", PasswordHash::new(pw, *algorithm).unwrap())
            })
            .collect();
        PasswordFile::parse(text.as_bytes()).0
    }

    #[test]
    fn every_refusal_costs_one_hash_of_the_files_own_cost() {
        let pbkdf2 = Algorithm::Pbkdf2 { iterations: 2000 };
        let file = file_of(&[("alice", b"alicepw", pbkdf2), ("bob", b"bobpw", pbkdf2)]);
        let paths: [(&str, Option<&[u8]>); 5] = [
            ("alice", Some(b"alicepw")), // the right password
            ("alice", Some(b"wrong")),   // a known user, a wrong password
            ("alice", None),             // a known user without a password
            ("mallory", Some(b"x")),     // an unknown user
            ("mallory", None),           // an unknown user without a password
        ];
        for (user, password) in paths {
            assert_eq!(
                hashes_of(&file, user, password),
                [pbkdf2],
                "{user} {password:?}"
            );
        }
        let sha = file_of(&[("carol", b"carolpw", Algorithm::Sha512)]);
        assert_eq!(hashes_of(&sha, "carol", None), [Algorithm::Sha512]);
        assert_eq!(hashes_of(&sha, "mallory", Some(b"x")), [Algorithm::Sha512]);
    }

    #[test]
    fn the_decoy_takes_the_most_expensive_entrys_parameters() {
        let costly = Algorithm::Pbkdf2 { iterations: 3000 };
        let file = file_of(&[
            ("carol", b"pw", Algorithm::Sha512),
            ("alice", b"pw", costly),
            ("bob", b"pw", Algorithm::Pbkdf2 { iterations: 101 }),
        ]);
        assert_eq!(hashes_of(&file, "mallory", Some(b"pw")), [costly]);
        // A user whose entry was removed as unusable is as unknown as any other.
        let alice = PasswordHash::new(b"pw", costly).unwrap();
        let text = format!("alice:{alice}\ncarol:plain\n");
        let file = PasswordFile::parse(text.as_bytes()).0;
        assert_eq!(hashes_of(&file, "carol", Some(b"plain")), [costly]);
        let empty = PasswordFile::default();
        let default = Algorithm::Pbkdf2 {
            iterations: DEFAULT_ITERATIONS,
        };
        assert_eq!(hashes_of(&empty, "mallory", None), [default]);
    }

    /// Made by mosquitto_passwd 2.0.11: `-c -b ... alice alicepw`,
    /// `-b ... bob 'b0b with spaces:and colon'`, `-I 1000 -b ... erin erinpw`.
    const PBKDF2_FILE: &[u8] = include_bytes!("../../tests/fixtures/passwd-sha512-pbkdf2");
    /// Made by mosquitto_passwd 2.0.11 `-H sha512`: carol/carolpw, dave/dävé-ünïcode.
    const SHA512_FILE: &[u8] = include_bytes!("../../tests/fixtures/passwd-sha512");

    #[test]
    fn verifies_pbkdf2_hashes_made_by_mosquitto_passwd() {
        let file = PasswordFile::parse(PBKDF2_FILE).0;
        assert_eq!(file.len(), 3);
        assert!(file.check("alice", Some(b"alicepw")).is_some());
        assert!(
            file.check("bob", Some(b"b0b with spaces:and colon"))
                .is_some()
        );
        assert!(file.check("erin", Some(b"erinpw")).is_some());
        assert!(file.check("alice", Some(b"alicepW")).is_none());
        assert!(file.check("alice", Some(b"")).is_none());
        assert!(file.check("alice", None).is_none());
        assert!(file.check("mallory", Some(b"alicepw")).is_none());
    }

    #[test]
    fn verifies_sha512_hashes_made_by_mosquitto_passwd() {
        let file = PasswordFile::parse(SHA512_FILE).0;
        assert!(file.check("carol", Some(b"carolpw")).is_some());
        assert!(
            file.check("dave", Some("dävé-ünïcode".as_bytes()))
                .is_some()
        );
        assert!(file.check("dave", Some(b"dave")).is_none());
    }

    #[test]
    fn a_hash_prints_back_as_it_was_read() {
        for line in std::str::from_utf8(PBKDF2_FILE).unwrap().lines() {
            let (_, hash) = line.split_once(':').unwrap();
            assert_eq!(PasswordHash::parse(hash).unwrap().to_string(), hash);
        }
        let line = std::str::from_utf8(SHA512_FILE).unwrap().lines().next();
        let hash = line.unwrap().split_once(':').unwrap().1;
        assert_eq!(PasswordHash::parse(hash).unwrap().to_string(), hash);
    }

    #[test]
    fn new_hashes_verify_and_get_fresh_salts() {
        let pbkdf2 = Algorithm::Pbkdf2 { iterations: 101 };
        let a = PasswordHash::new(b"pw", pbkdf2).unwrap();
        let b = PasswordHash::new(b"pw", pbkdf2).unwrap();
        assert!(a.verify(b"pw") && b.verify(b"pw"));
        assert_ne!(a, b);
        assert!(a.to_string().starts_with("$7$101$"));
        let sha = PasswordHash::new(b"pw", Algorithm::Sha512).unwrap();
        assert!(sha.verify(b"pw") && !sha.verify(b"pW"));
        assert!(sha.to_string().starts_with("$6$"));
    }

    #[test]
    fn comments_blank_lines_crlf_and_spaces_are_accepted() {
        let hash = "$6$ekccCN6/sG0jo6ov$7rYFVuuy+4EhT/nhgXSgh6XPIATr2bpRDwgwPEU+5bELrEORtbQwyW8rOMsWbThVR2vNy8aBB5QUNv1YxZx5bg==";
        let text = format!("# users\n\n  carol : {hash} \r\n");
        let file = PasswordFile::parse(text.as_bytes()).0;
        assert!(file.check("carol", Some(b"carolpw")).is_some());
    }

    #[test]
    fn the_last_entry_of_a_user_wins() {
        let lines: Vec<&str> = std::str::from_utf8(SHA512_FILE).unwrap().lines().collect();
        let carols_hash = lines[0].split_once(':').unwrap().1;
        let text = format!("dave:{carols_hash}\n{}\n", lines[1]);
        let file = PasswordFile::parse(text.as_bytes()).0;
        assert!(
            file.check("dave", Some("dävé-ünïcode".as_bytes()))
                .is_some()
        );
        assert!(file.check("dave", Some(b"carolpw")).is_none());
    }

    #[test]
    fn unusable_lines_are_skipped_with_mosquittos_reason() {
        let carol = std::str::from_utf8(SHA512_FILE)
            .unwrap()
            .lines()
            .next()
            .unwrap();
        let entry = |username: &str, why| Skipped::Entry {
            username: username.to_string(),
            why,
        };
        let cases: &[(&str, Skipped)] = &[
            ("alice", Skipped::Line { line: 1 }),
            (":$6$a$b", Skipped::Line { line: 1 }),
            ("alice:", entry("alice", HashError::Invalid)),
            ("alice:secret", entry("alice", HashError::Type)),
            ("alice:pa$$word", entry("alice", HashError::Type)),
            ("a:$", entry("a", HashError::Invalid)),
            ("a:$6", entry("a", HashError::Invalid)),
            ("a:$6$", entry("a", HashError::Invalid)),
            ("a:$6$S29/uK2/cu8e5vo2", entry("a", HashError::Invalid)),
            ("a:$5$abc$def", entry("a", HashError::Type)),
            (
                "a:$7$0$S29/uK2/cu8e5vo2$x",
                entry("a", HashError::Iterations),
            ),
            (
                "a:$7$x$S29/uK2/cu8e5vo2$x",
                entry("a", HashError::Iterations),
            ),
            ("a:$7$101$c2FsdA==$x", entry("a", HashError::Salt)),
            ("b:$6$!!!$x", entry("b", HashError::Salt)),
            (
                "a:$6$S29/uK2/cu8e5vo2$aGFzaA==",
                entry("a", HashError::Hash),
            ),
        ];
        for (bad, why) in cases {
            // The good entries around a bad line still work.
            let text = format!("{bad}\n{carol}\n");
            let (file, skipped) = PasswordFile::parse(text.as_bytes());
            assert_eq!(skipped, std::slice::from_ref(why), "{bad:?}");
            assert_eq!(file.len(), 1, "{bad:?}");
            assert!(file.check("carol", Some(b"carolpw")).is_some(), "{bad:?}");
        }
        let (file, skipped) = PasswordFile::parse(b"\n\nok:$6$\xff\n");
        assert_eq!((file.len(), skipped), (0, vec![Skipped::Line { line: 3 }]));
    }

    #[test]
    fn a_bad_later_entry_removes_the_user() {
        let carol = std::str::from_utf8(SHA512_FILE)
            .unwrap()
            .lines()
            .next()
            .unwrap();
        let (file, _) = PasswordFile::parse(format!("{carol}\ncarol:carolpw\n").as_bytes());
        assert!(file.check("carol", Some(b"carolpw")).is_none());
    }

    #[test]
    fn a_changed_entry_is_noticed() {
        let file = PasswordFile::parse(PBKDF2_FILE).0;
        let alice = Rc::clone(file.check("alice", Some(b"alicepw")).unwrap());
        let again = PasswordFile::parse(PBKDF2_FILE).0;
        assert!(again.unchanged("alice", &alice));
        assert!(!again.unchanged("bob", &alice));
        assert!(!PasswordFile::default().unchanged("alice", &alice));
    }
}
