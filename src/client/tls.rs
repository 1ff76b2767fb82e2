//! TLS for midge_pub, midge_sub and midge_rr: mosquitto's client flags (`--cafile`,
//! `--capath`, `--cert`, `--key`, `--insecure`, `--tls-version`), and the stream a session
//! reads and writes through, plain or rustls's blocking `StreamOwned`.
//!
//! As with mosquitto's clients, TLS is on once a CA is given (`--cafile` or `--capath`); the
//! port then defaults to 8883; `--insecure` skips only the host name check, never the chain.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};

use super::error::ArgError;
use super::error::ClientError;
use crate::config::TlsVersion;
use crate::tls::{add_roots, ca_certificates, certificates, provider, versions};

/// The TLS flags all three tools take.
#[derive(Args, Clone, Debug, Default)]
pub struct TlsArgs {
    #[arg(long = "cafile", allow_hyphen_values = true)]
    pub cafile: Option<PathBuf>,
    #[arg(long = "capath", allow_hyphen_values = true)]
    pub capath: Option<PathBuf>,
    #[arg(long = "cert", allow_hyphen_values = true)]
    pub cert: Option<PathBuf>,
    #[arg(long = "key", allow_hyphen_values = true)]
    pub key: Option<PathBuf>,
    #[arg(long = "insecure")]
    pub insecure: bool,
    #[arg(long = "tls-version", allow_hyphen_values = true)]
    pub tls_version: Option<String>,
}

impl TlsArgs {
    /// mosquitto's clients speak TLS once they have a CA to check the broker against.
    pub fn enabled(&self) -> bool {
        self.cafile.is_some() || self.capath.is_some()
    }

    /// client_config_load's check, reported with the usage hint.
    pub fn check(&self) -> Result<(), ArgError> {
        if self.cert.is_some() != self.key.is_some() {
            return Err(ArgError::Usage(
                "Error: Both certfile and keyfile must be provided if one of them is set.\n".into(),
            ));
        }
        Ok(())
    }

    /// The rustls configuration, when TLS is on; the error is the line mosquitto's
    /// client_opts_set prints (exit code 1), in its words where it has any.
    pub fn client_config(&self) -> Result<Option<Arc<ClientConfig>>, String> {
        if !self.enabled() {
            return Ok(None);
        }
        let min_version = match self.tls_version.as_deref() {
            None | Some("tlsv1.2") => TlsVersion::V1_2,
            Some("tlsv1.3") => TlsVersion::V1_3,
            // rustls has no TLS 1.1; as a minimum it means what tlsv1.2 does.
            Some("tlsv1.1") => TlsVersion::V1_2,
            Some(_) => {
                return Err(
                    "Error: Problem setting TLS options, check the options are valid.\n".into(),
                );
            }
        };
        let files = [&self.cafile, &self.cert, &self.key];
        let missing = files.into_iter().flatten().any(|f| !f.is_file())
            || self.capath.as_ref().is_some_and(|d| !d.is_dir());
        if missing {
            return Err("Error: Problem setting TLS options: File not found.\n".into());
        }
        let problem = |why: String| format!("Error: Problem setting TLS options: {why}.\n");
        let cas = ca_certificates(self.cafile.as_deref(), self.capath.as_deref())
            .map_err(|why| problem(why.trim_end_matches('.').to_string()))?;
        let mut roots = RootCertStore::empty();
        add_roots(&mut roots, cas).map_err(&problem)?;
        // No CA at all (a `capath` without OpenSSL's hashed names, say) fails the handshake,
        // as it does for mosquitto's clients.
        let webpki = match roots.is_empty() {
            true => None,
            false => Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|e| problem(e.to_string()))?,
            ),
        };
        let verifier = Arc::new(BrokerVerifier {
            webpki,
            insecure: self.insecure,
            algorithms: provider().signature_verification_algorithms,
        });
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(min_version))
            .map_err(|e| problem(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let certs = certificates(cert)
                    .map_err(|why| problem(format!("cert \"{}\": {why}", cert.display())))?;
                let key_der = PrivateKeyDer::from_pem_file(key)
                    .map_err(|why| problem(format!("key \"{}\": {why}", key.display())))?;
                builder
                    .with_client_auth_cert(certs, key_der)
                    .map_err(|e| problem(format!("cert and key: {e}")))?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(Arc::new(config)))
    }
}

/// The broker's certificate checked against the CAs. With `--insecure` only a certificate
/// issued for another host name is let through, as libmosquitto's tls_insecure does.
#[derive(Debug)]
struct BrokerVerifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    insecure: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for BrokerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Err(CertificateError::UnknownIssuer.into());
        };
        let verified =
            webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        // webpki checks the chain first and the name last, so a name error means the chain
        // was good.
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.insecure => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A session's connection to the broker.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// Wraps a connected socket, completing the TLS handshake first when `tls` is set; each
    /// step of it waits at most `timeout`.
    pub fn start(
        tcp: TcpStream,
        tls: Option<&Arc<ClientConfig>>,
        host: &str,
        timeout: Duration,
    ) -> Result<Stream, ClientError> {
        let Some(config) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        let failed = |e: &dyn std::fmt::Display| ClientError::Tls(e.to_string());
        let name = ServerName::try_from(host.to_string()).map_err(|e| failed(&e))?;
        let mut conn = ClientConnection::new(Arc::clone(config), name).map_err(|e| failed(&e))?;
        let mut tcp = tcp;
        tcp.set_read_timeout(Some(timeout))
            .and_then(|()| tcp.set_write_timeout(Some(timeout)))
            .map_err(ClientError::Io)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| failed(&e))?;
        }
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, tcp))))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref(),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }

    /// Shuts the socket down; a TLS session says close_notify before its writing side goes.
    pub fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        if let Stream::Tls(tls) = self
            && how != Shutdown::Read
        {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        self.tcp().shutdown(how)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            // An alert from the broker, or its socket closing without close_notify, ends the
            // connection as a reset would (mosquitto's clients say "connection lost").
            Stream::Tls(tls) => tls.read(buf).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                    io::Error::new(io::ErrorKind::ConnectionReset, e)
                }
                _ => e,
            }),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::super::pub_cli;
    use super::*;

    fn parse(list: &[&str]) -> Result<pub_cli::PubConfig, ArgError> {
        let args: Vec<OsString> = list.iter().map(OsString::from).collect();
        pub_cli::parse_args(&args)
    }

    /// A CA certificate in a temporary directory.
    fn ca_file() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("certificate");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, cert.pem()).expect("write");
        let path = path.display().to_string();
        (dir, path)
    }

    #[test]
    fn a_ca_turns_tls_on_and_the_port_to_8883() {
        let (_dir, ca) = ca_file();
        let config = parse(&["-t", "a", "-m", "x", "--cafile", &ca]).expect("parsed");
        assert!(config.client.connect.tls.is_some());
        assert_eq!(config.client.connect.port, 8883);
        let config = parse(&["-t", "a", "-m", "x", "--cafile", &ca, "-p", "1"]).expect("parsed");
        assert_eq!(config.client.connect.port, 1);
    }

    #[test]
    fn without_a_ca_there_is_no_tls_as_in_mosquitto() {
        let config = parse(&[
            "-t",
            "a",
            "-m",
            "x",
            "--cert",
            "c",
            "--key",
            "k",
            "--insecure",
        ])
        .expect("parsed");
        assert!(config.client.connect.tls.is_none());
        assert_eq!(config.client.connect.port, 1883);
    }

    #[test]
    fn bad_tls_options_get_mosquittos_errors() {
        let (_dir, ca) = ca_file();
        assert_eq!(
            parse(&["-t", "a", "-m", "x", "--cafile", &ca, "--cert", "c"]).err(),
            Some(ArgError::Usage(
                "Error: Both certfile and keyfile must be provided if one of them is set.\n".into()
            ))
        );
        assert_eq!(
            parse(&["-t", "a", "-m", "x", "--cafile", "/nonexistent/ca.pem"]).err(),
            Some(ArgError::Plain(
                "Error: Problem setting TLS options: File not found.\n".into()
            ))
        );
        assert_eq!(
            parse(&[
                "-t",
                "a",
                "-m",
                "x",
                "--cafile",
                &ca,
                "--tls-version",
                "tlsv1"
            ])
            .err(),
            Some(ArgError::Plain(
                "Error: Problem setting TLS options, check the options are valid.\n".into()
            ))
        );
        let quiet = parse(&["--quiet", "-t", "a", "-m", "x", "--cafile", "/nonexistent"]);
        assert_eq!(quiet.err(), Some(ArgError::Plain(String::new())));
    }
}
