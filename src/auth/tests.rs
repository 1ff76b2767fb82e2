//! `Auth`: mosquitto's login rules, per-listener domains, reloads and retained sources.

use bytes::Bytes;

use super::*;
use crate::protocol::QoS;

/// From `tests/fixtures/passwd-sha512-pbkdf2` (mosquitto_passwd 2.0.11): alice/alicepw.
const ALICE: &str = "alice:$7$101$S29/uK2/cu8e5vo2$+PfzHU1VbKyVhd1o4lVdWTsjglNf62C7s0VHGwgq2XTx6zvVcs7pK9E8alH7BPYDe9HRgLt7glRVq/QyiY14lA==\n";
/// From `tests/fixtures/passwd-sha512`: carol/carolpw.
const CAROL: &str = "carol:$6$ekccCN6/sG0jo6ov$7rYFVuuy+4EhT/nhgXSgh6XPIATr2bpRDwgwPEU+5bELrEORtbQwyW8rOMsWbThVR2vNy8aBB5QUNv1YxZx5bg==\n";

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

fn config(text: &str) -> Config {
    Config::parse(text, "test").unwrap().0
}

fn auth(config: &Config) -> Auth {
    let listeners = config.effective_listeners();
    Auth::load(config, &listeners).unwrap()
}

fn login(auth: &Auth, user: Option<&str>, password: Option<&str>) -> Result<(), Refused> {
    login_on(auth, 0, user, password)
}

fn login_on(auth: &Auth, socket: u16, user: Option<&str>, pw: Option<&str>) -> Result<(), Refused> {
    auth.login(socket, "id", user, pw.map(str::as_bytes))
        .map(|_| ())
}

#[test]
fn a_password_file_checks_users_and_refuses_anonymous_clients_by_default() {
    let f = Files::new();
    let pw = f.write("pw", &format!("{ALICE}{CAROL}"));
    let a = auth(&config(&format!("listener 1883\npassword_file {pw}\n")));
    assert_eq!(login(&a, Some("alice"), Some("alicepw")), Ok(()));
    assert_eq!(login(&a, Some("carol"), Some("carolpw")), Ok(()));
    assert_eq!(login(&a, Some("alice"), Some("carolpw")), Err(Refused));
    assert_eq!(login(&a, Some("alice"), None), Err(Refused));
    assert_eq!(login(&a, Some("mallory"), Some("x")), Err(Refused));
    assert_eq!(login(&a, None, None), Err(Refused));
}

#[test]
fn allow_anonymous_lets_clients_without_username_in_but_still_checks_usernames() {
    let f = Files::new();
    let pw = f.write("pw", ALICE);
    let a = auth(&config(&format!(
        "listener 1883\nallow_anonymous true\npassword_file {pw}\n"
    )));
    assert_eq!(login(&a, None, None), Ok(()));
    assert_eq!(login(&a, Some("mallory"), None), Err(Refused));
    assert_eq!(login(&a, Some("alice"), Some("alicepw")), Ok(()));
}

#[test]
fn without_a_password_file_allow_anonymous_alone_decides() {
    let closed = auth(&config("listener 1883\n"));
    assert_eq!(login(&closed, Some("anyone"), Some("x")), Err(Refused));
    assert_eq!(login(&closed, None, None), Err(Refused));
    let open = auth(&config("listener 1883\nallow_anonymous true\n"));
    assert_eq!(login(&open, Some("anyone"), Some("x")), Ok(()));
    assert!(!open.is_active(), "nothing to keep per client");
    // mosquitto 2.0's local only mode: no listener line, everyone in.
    assert_eq!(login(&auth(&config("")), None, None), Ok(()));
}

#[test]
fn per_listener_settings_give_each_listener_its_own_files() {
    let f = Files::new();
    let alice = f.write("alice", ALICE);
    let carol = f.write("carol", CAROL);
    let c = config(&format!(
        "per_listener_settings true\n\
         listener 1883\npassword_file {alice}\n\
         listener 1884\npassword_file {carol}\nallow_anonymous true\n\
         listener 1885\nallow_anonymous true\n\
         listener 1886\npassword_file {alice}\n"
    ));
    let a = auth(&c);
    assert_eq!(login_on(&a, 0, Some("alice"), Some("alicepw")), Ok(()));
    assert_eq!(
        login_on(&a, 0, Some("carol"), Some("carolpw")),
        Err(Refused)
    );
    assert_eq!(login_on(&a, 0, None, None), Err(Refused));
    assert_eq!(login_on(&a, 1, Some("carol"), Some("carolpw")), Ok(()));
    assert_eq!(
        login_on(&a, 1, Some("alice"), Some("alicepw")),
        Err(Refused)
    );
    assert_eq!(login_on(&a, 1, None, None), Ok(()));
    assert_eq!(login_on(&a, 2, Some("who"), Some("ever")), Ok(()));
    // Listeners with the same settings share one domain (and one loaded file).
    assert_eq!(a.socket_domains[0], a.socket_domains[3]);
    assert_eq!(a.domains.len(), 4, "global, alice, carol, open");
}

#[test]
fn a_bad_file_at_start_names_its_line() {
    let f = Files::new();
    // A password entry that cannot be used is dropped, not fatal (mosquitto's way).
    let pw = f.write("pw", &format!("{ALICE}bob:plain\n"));
    let c = config(&format!("listener 1883\npassword_file {pw}\n"));
    let a = Auth::load(&c, &c.effective_listeners()).unwrap();
    assert_eq!(login(&a, Some("bob"), Some("plain")), Err(Refused));
    assert_eq!(login(&a, Some("alice"), Some("alicepw")), Ok(()));
    let missing = config("listener 1883\nacl_file /nonexistent/acl\n");
    let e = Auth::load(&missing, &missing.effective_listeners()).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .contains("ACL file /nonexistent/acl: unable to open")
    );
    let acl = f.write("acl", "topic read a\n\ntopik b\n");
    let c = config(&format!("listener 1883\nacl_file {acl}\n"));
    let e = Auth::load(&c, &c.effective_listeners()).unwrap_err();
    assert_eq!((e.kind, e.line), ("ACL file", 3));
}

#[test]
fn a_reload_reads_new_files_and_keeps_the_old_ones_on_error() {
    let f = Files::new();
    let pw = f.write("pw", ALICE);
    let acl = f.write("acl", "topic read #\n");
    let mut a = auth(&config(&format!(
        "listener 1883\npassword_file {pw}\nacl_file {acl}\n"
    )));
    assert_eq!(login(&a, Some("carol"), Some("carolpw")), Err(Refused));
    f.write("pw", &format!("{ALICE}{CAROL}"));
    a.reload().unwrap();
    assert_eq!(login(&a, Some("carol"), Some("carolpw")), Ok(()));
    // A broken password entry is dropped; the rest of the file is taken.
    f.write("pw", &format!("carol:broken\n{ALICE}"));
    a.reload().unwrap();
    assert_eq!(login(&a, Some("carol"), Some("carolpw")), Err(Refused));
    // A broken ACL file changes nothing, the password file read with it included.
    f.write("pw", &format!("{ALICE}{CAROL}"));
    f.write("acl", "topik #\n");
    let e = a.reload().unwrap_err();
    assert_eq!(e.line, 1);
    assert_eq!(
        login(&a, Some("carol"), Some("carolpw")),
        Err(Refused),
        "old rules kept"
    );
    assert_eq!(login(&a, Some("alice"), Some("alicepw")), Ok(()));
}

#[test]
fn after_a_reload_only_clients_whose_entry_changed_are_invalid() {
    let f = Files::new();
    let pw = f.write("pw", &format!("{ALICE}{CAROL}"));
    let mut a = auth(&config(&format!(
        "listener 1883\nallow_anonymous true\npassword_file {pw}\n"
    )));
    let alice = a.login(0, "a", Some("alice"), Some(b"alicepw")).unwrap();
    let carol = a.login(0, "c", Some("carol"), Some(b"carolpw")).unwrap();
    let anonymous = a.login(0, "n", None, None).unwrap();
    f.write("pw", ALICE);
    a.reload().unwrap();
    assert!(a.still_valid(alice.as_deref().unwrap()));
    assert!(!a.still_valid(carol.as_deref().unwrap()));
    assert!(a.still_valid(anonymous.as_deref().unwrap()));
}

#[test]
fn clients_get_their_acl_and_a_reload_refreshes_it() {
    let f = Files::new();
    let acl = f.write("acl", "pattern read %c/#\n");
    let mut a = auth(&config(&format!(
        "listener 1883\nallow_anonymous true\nacl_file {acl}\n"
    )));
    assert!(a.has_acl() && a.is_active());
    let mut client = a.login(0, "dev", None, None).unwrap().unwrap();
    assert!(client.allows("dev/x", Access::Read));
    assert!(!client.allows("dev/x", Access::Write));
    f.write("acl", "pattern readwrite %c/#\n");
    a.reload().unwrap();
    assert!(!client.allows("dev/x", Access::Write), "until refreshed");
    a.refresh(&mut client, "dev");
    assert!(client.allows("dev/x", Access::Write));
}

fn retained(topic: &str, payload: &'static [u8]) -> Rc<Message> {
    Rc::new(Message {
        topic: topic.into(),
        payload: Bytes::from_static(payload),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: Bytes::new(),
        expires_at: None,
        utf8_payload: false,
        journaled: Default::default(),
    })
}

#[test]
fn check_retain_source_asks_whether_the_publisher_may_still_write() {
    let f = Files::new();
    let acl = f.write("acl", "topic readwrite t/#\n");
    let text =
        format!("listener 1883\nallow_anonymous true\nacl_file {acl}\ncheck_retain_source true\n");
    let mut a = auth(&config(&text));
    let client = a.login(0, "pub", None, None).unwrap().unwrap();
    let message = retained("t/x", b"1");
    a.note_retained(&message, Some(("pub", &client)));
    assert!(a.retain_source_allows(&message));
    f.write("acl", "topic read t/#\n");
    a.reload().unwrap();
    assert!(!a.retain_source_allows(&message));
    // A newer message on the topic from nobody with rules replaces the record.
    let newer = retained("t/x", b"2");
    a.note_retained(&newer, None);
    assert!(a.retain_source_allows(&newer));
    assert!(a.retain_sources.is_empty());
    // Records of messages nobody holds any more are swept.
    a.note_retained(&newer, Some(("pub", &client)));
    drop(newer);
    a.sweep();
    assert!(a.retain_sources.is_empty());
}

#[test]
fn without_check_retain_source_nothing_is_recorded() {
    let f = Files::new();
    let acl = f.write("acl", "topic readwrite t/#\n");
    let mut a = auth(&config(&format!(
        "listener 1883\nallow_anonymous true\nacl_file {acl}\n"
    )));
    let client = a.login(0, "pub", None, None).unwrap().unwrap();
    let message = retained("t/x", b"1");
    a.note_retained(&message, Some(("pub", &client)));
    assert!(a.retain_sources.is_empty());
    assert!(a.retain_source_allows(&message));
}
