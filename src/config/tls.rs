//! The TLS keys of a listener, read with mosquitto 2.0's meaning.
//!
//! A listener serves TLS once it has a `certfile`. The files are only named here; they are
//! read when the listener opens (`crate::tls`), so that a broken file stops the broker at
//! start-up with the line that named it. Where mosquitto would quietly serve plain text
//! (a `cafile` without a `certfile`, a `certfile` without a `keyfile`), midge refuses to start:
//! a listener configured for TLS must never answer in clear.

use std::path::PathBuf;

use super::parse::{Parser, Place, words};
use super::{ConfigError, ListenerConfig};

/// The oldest TLS version a listener accepts: mosquitto's `tls_version` is a minimum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsVersion {
    #[default]
    V1_2,
    V1_3,
}

/// One listener's TLS settings; all unset for a plain listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerTls {
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    pub crlfile: Option<PathBuf>,
    pub require_certificate: bool,
    pub use_identity_as_username: bool,
    pub use_subject_as_username: bool,
    pub min_version: TlsVersion,
    /// The file and line of the listener's first TLS key, for errors found when the files
    /// are loaded.
    pub defined_at: Option<Place>,
}

impl ListenerTls {
    /// True when the listener speaks TLS.
    pub fn enabled(&self) -> bool {
        self.certfile.is_some()
    }

    /// "FILE:LINE" of the listener's TLS settings, for error messages.
    pub fn place(&self) -> String {
        match &self.defined_at {
            Some((origin, line)) => format!("{origin}:{line}"),
            None => "the config file".to_string(),
        }
    }
}

/// The listener TLS keys this file handles.
pub(super) const KEYS: &[&str] = &[
    "certfile",
    "keyfile",
    "cafile",
    "capath",
    "crlfile",
    "require_certificate",
    "use_identity_as_username",
    "use_subject_as_username",
    "tls_version",
    "tls_keyform",
];

impl Parser {
    pub(super) fn tls_key(&mut self, key: &str, rest: &str) -> Result<(), ConfigError> {
        // As in mosquitto, any of these before the first `listener` line opens the default
        // listener, except `tls_version` and the mosquitto defaults (`require_certificate
        // false`, `tls_keyform pem`, ...).
        let default_value = matches!(words(rest)[..], ["false" | "0" | "pem"]);
        if key != "tls_version" && !default_value {
            self.touch_default(key);
        }
        let place = self.place();
        match key {
            "require_certificate" | "use_identity_as_username" | "use_subject_as_username" => {
                let on = self.boolean(key, rest)?;
                let tls = self.tls();
                match key {
                    "require_certificate" => tls.require_certificate = on,
                    "use_identity_as_username" => tls.use_identity_as_username = on,
                    _ => tls.use_subject_as_username = on,
                }
                if on {
                    tls.defined_at.get_or_insert(place);
                }
            }
            "tls_version" => {
                let version = match self.one(key, rest)? {
                    "tlsv1.3" => TlsVersion::V1_3,
                    "tlsv1.2" => TlsVersion::V1_2,
                    "tlsv1.1" => {
                        self.warn("TLS 1.1 is not offered: clients get TLS 1.2 or 1.3");
                        TlsVersion::V1_2
                    }
                    v => return Err(self.bad(key, v, "expected tlsv1.3, tlsv1.2 or tlsv1.1")),
                };
                let tls = self.tls();
                tls.min_version = version;
                tls.defined_at.get_or_insert(place);
            }
            "tls_keyform" => {
                match self.one(key, rest)? {
                    "pem" => {}
                    "engine" => return Err(self.err(
                        "'tls_keyform engine': TLS engines are not supported; use a PEM key file",
                    )),
                    v => return Err(self.bad(key, v, "expected pem or engine")),
                }
            }
            _ => {
                let path = PathBuf::from(self.text(key, rest)?);
                let tls = self.tls();
                let slot = match key {
                    "certfile" => &mut tls.certfile,
                    "keyfile" => &mut tls.keyfile,
                    "cafile" => &mut tls.cafile,
                    "capath" => &mut tls.capath,
                    _ => &mut tls.crlfile,
                };
                let duplicate = slot.replace(path).is_some();
                tls.defined_at.get_or_insert(place);
                if duplicate {
                    return Err(self.err(format!("duplicate {key} value for this listener")));
                }
            }
        }
        Ok(())
    }

    fn tls(&mut self) -> &mut ListenerTls {
        &mut self.listener().tls
    }

    /// Warns about settings that cannot work together, and refuses those that would leave a
    /// listener meant for TLS in plain text.
    pub(super) fn check_tls(&mut self, listener: &ListenerConfig) -> Result<(), ConfigError> {
        let tls = &listener.tls;
        let Some((origin, line)) = tls.defined_at.clone() else {
            return Ok(());
        };
        let port = listener.port;
        let error = |message: String| ConfigError {
            origin: origin.clone(),
            line,
            message: format!("listener {port}: {message}"),
        };
        match (&tls.certfile, &tls.keyfile) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(error("certfile and keyfile must both be given".into()));
            }
            (None, None) => {
                return Err(error(
                    "TLS settings without a certfile: midge will not serve in plain text a \
                     listener configured for TLS"
                        .into(),
                ));
            }
            (Some(_), Some(_)) => {}
        }
        let has_ca = tls.cafile.is_some() || tls.capath.is_some();
        if tls.require_certificate && !has_ca {
            return Err(error(
                "require_certificate needs a cafile or capath to check client certificates".into(),
            ));
        }
        let from_certificate = if tls.use_identity_as_username {
            Some("use_identity_as_username")
        } else {
            tls.use_subject_as_username
                .then_some("use_subject_as_username")
        };
        if let Some(key) = from_certificate.filter(|_| !tls.require_certificate) {
            self.warn_at(
                (origin.clone(), line),
                format!(
                    "listener {port}: {key} without require_certificate true refuses every \
                     client, as in mosquitto: no certificate is asked for"
                ),
            );
        }
        if tls.crlfile.is_some() && !tls.require_certificate {
            self.warn_at(
                (origin, line),
                format!("listener {port}: crlfile has no effect without require_certificate true"),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn parse(text: &str) -> (Config, Vec<String>) {
        match Config::parse(text, "test.conf") {
            Ok((config, warnings)) => (config, warnings.iter().map(|w| w.to_string()).collect()),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn assert_error(text: &str, line: usize, needle: &str) {
        match Config::parse(text, "test.conf") {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => {
                assert_eq!(e.line, line, "{e}");
                assert!(e.message.contains(needle), "{e} should mention {needle:?}");
            }
        }
    }

    const SERVER: &str = "certfile /c.pem\nkeyfile /k.pem\n";

    #[test]
    fn a_tls_listener_takes_mosquittos_keys() {
        let (c, warnings) = parse(&format!(
            "listener 1883\nlistener 8883\n{SERVER}cafile /ca.pem\ncapath /cas\n\
             crlfile /crl.pem\nrequire_certificate true\nuse_identity_as_username true\n\
             tls_version tlsv1.3\ntls_keyform pem\n"
        ));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!c.listeners[0].tls.enabled());
        let tls = &c.listeners[1].tls;
        assert!(tls.enabled());
        assert_eq!(tls.keyfile.as_deref(), Some(std::path::Path::new("/k.pem")));
        assert_eq!(tls.cafile.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert_eq!(tls.capath.as_deref(), Some(std::path::Path::new("/cas")));
        assert_eq!(
            tls.crlfile.as_deref(),
            Some(std::path::Path::new("/crl.pem"))
        );
        assert!(tls.require_certificate && tls.use_identity_as_username);
        assert_eq!(tls.min_version, TlsVersion::V1_3);
        assert_eq!(tls.place(), "test.conf:3");
    }

    #[test]
    fn tls_before_any_listener_makes_the_default_listener_tls() {
        let (c, _) = parse(SERVER);
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].port, 1883);
        assert!(c.listeners[0].tls.enabled());
    }

    #[test]
    fn tls_version_is_a_minimum_and_1_1_is_not_offered() {
        let (c, _) = parse(&format!("listener 8883\n{SERVER}tls_version tlsv1.2\n"));
        assert_eq!(c.listeners[0].tls.min_version, TlsVersion::V1_2);
        let (c, warnings) = parse(&format!("listener 8883\n{SERVER}tls_version tlsv1.1\n"));
        assert_eq!(c.listeners[0].tls.min_version, TlsVersion::V1_2);
        assert!(
            warnings[0].contains(":4: TLS 1.1 is not offered"),
            "{warnings:?}"
        );
        assert_error(
            &format!("listener 8883\n{SERVER}tls_version tlsv1.0\n"),
            4,
            "expected tlsv1.3, tlsv1.2 or tlsv1.1",
        );
    }

    #[test]
    fn a_listener_meant_for_tls_never_serves_plain_text() {
        assert_error("listener 8883\ncafile /ca.pem\n", 2, "without a certfile");
        assert_error(
            "listener 8883\ntls_version tlsv1.3\n",
            2,
            "without a certfile",
        );
        assert_error("listener 8883\nkeyfile /k.pem\n", 2, "both be given");
        assert_error("listener 8883\ncertfile /c.pem\n", 2, "both be given");
        assert_error(
            "listener 8883\ncertfile /c.pem\nlistener 1883\n",
            2,
            "listener 8883: certfile and keyfile",
        );
    }

    #[test]
    fn inconsistent_settings_are_refused_or_warned_about() {
        assert_error(
            &format!("listener 8883\n{SERVER}require_certificate true\n"),
            2,
            "needs a cafile or capath",
        );
        let (_, warnings) = parse(&format!(
            "listener 8883\n{SERVER}use_identity_as_username true\n"
        ));
        assert!(warnings[0].contains("refuses every client"), "{warnings:?}");
        let (_, warnings) = parse(&format!("listener 8883\n{SERVER}crlfile /crl.pem\n"));
        assert!(
            warnings[0].contains("crlfile has no effect"),
            "{warnings:?}"
        );
        assert_error(
            &format!("listener 8883\n{SERVER}certfile /other.pem\n"),
            4,
            "duplicate certfile",
        );
        assert_error(
            &format!("listener 8883\n{SERVER}tls_keyform engine\n"),
            4,
            "engines are not supported",
        );
    }

    #[test]
    fn cipher_lists_warn_once_and_are_ignored() {
        let (c, warnings) = parse(&format!(
            "listener 8883\n{SERVER}ciphers HIGH\nlistener 8884\n{SERVER}ciphers HIGH\n"
        ));
        assert!(c.listeners[1].tls.enabled());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(":4: 'ciphers' is not supported"));
    }
}
