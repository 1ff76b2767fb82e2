//! The `--help` texts: mosquitto 2.0's, laid out the same way, listing the flags midge's
//! tools support.

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// -c, as mosquitto 2.0 words it.
const CLEAN: &str = " -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects. MQTT v5 clients can change their session expiry interval with the -x
      argument.
";

const PROPERTY: &str = " -D : Define MQTT v5 properties. See the documentation for more details.
";

const EXPIRY: &str =
    " -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
";

const WILL: &str =
    " --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
";

/// The TLS flags midge's tools take, in mosquitto 2.0's words.
const TLS: &str =
    " --cafile : path to a file containing trusted CA certificates to enable encrypted
            communication.
 --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
 --tls-version : TLS protocol version, can be one of tlsv1.3 tlsv1.2 or tlsv1.1.
                 Defaults to tlsv1.2 if available.
 --insecure : do not check that the server certificate hostname matches the remote
              hostname. Using this option means that you cannot be sure that the
              remote host is the server you wish to connect to and so is insecure.
              Do not use this option in a production environment.
";

const PRETTY: &str =
    " --pretty : print formatted output rather than minimised output when using the
            JSON output format option.
";

pub fn pub_usage(program: &str) -> String {
    let pad = " ".repeat(program.len() + 8);
    format!(
        "{program} is a simple mqtt client that will publish a message on a single topic and exit.
{program} version {VERSION}.

Usage: {program} {{[-h host] [-p port] [-u username] [-P password] -t topic}}
{pad}{{-f file | -l | -n | -m message | -s}}
{pad}[-c] [-k keepalive] [-q qos] [-r] [-x session-expiry]
{pad}[-i id] [-I id_prefix]
{pad}[-d] [--quiet]
{pad}[-V protocol_version]
{pad}[--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
{pad}[{{--cafile file | --capath dir}} [--cert file] [--key file]
{pad}  [--insecure] [--tls-version version]]
{pad}[-D command identifier value]
       {program} --help

{CLEAN} -d : enable debug messages.
{PROPERTY} -f : send the contents of a file as the message.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to a random id for MQTT v3.1, and to an id chosen
      by the broker otherwise.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -n : send a null (zero length) message.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
 -u : provide a username
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
{EXPIRY} --help : display this message.
 --quiet : don't print error messages.
 --version : display the version.
{WILL}{TLS}
See https://mosquitto.org/ for more information on mosquitto_pub, which {program} follows.

"
    )
}

pub fn sub_usage(program: &str) -> String {
    let pad = " ".repeat(program.len() + 8);
    format!(
        "{program} is a simple mqtt client that will subscribe to a set of topics and print all messages it receives.
{program} version {VERSION}.

Usage: {program} {{[-h host] [-p port] [-u username] [-P password] -t topic}}
{pad}[-c] [-k keepalive] [-q qos] [-x session-expiry-interval]
{pad}[-C msg_count] [-E] [-R] [--retained-only] [-T filter_out] [-U topic ...]
{pad}[--retain-as-published] [--nl] [--rh retain_handling]
{pad}[-F format]
{pad}[-W timeout_secs]
{pad}[-i id] [-I id_prefix]
{pad}[-d] [-N] [--quiet] [-v]
{pad}[-V protocol_version]
{pad}[--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
{pad}[{{--cafile file | --capath dir}} [--cert file] [--key file]
{pad}  [--insecure] [--tls-version version]]
{pad}[-D command identifier value]
       {program} --help

{CLEAN} -C : disconnect and exit after receiving the 'msg_count' messages.
 -d : enable debug messages.
{PROPERTY} -E : Exit once all subscriptions have been acknowledged by the broker.
 -F : output format.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to a random id for MQTT v3.1, and to an id chosen
      by the broker otherwise.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -N : do not add an end of line character when printing the payload.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for the subscription. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : mqtt topic to subscribe to. May be repeated multiple times.
 -T : topic string to filter out of results. May be repeated.
 -u : provide a username
 -U : unsubscribe from a topic. May be repeated.
 -v : print published messages verbosely.
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -W : Specifies a timeout in seconds how long to process incoming MQTT messages.
{EXPIRY} --help : display this message.
 --nl : MQTT v5 no-local subscription option: do not receive our own publications.
{PRETTY} --quiet : don't print error messages.
 --retain-as-published : MQTT v5: keep the retain flag as the publisher set it (also --rap).
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --rh : MQTT v5 retain handling: 0 send retained messages on subscribe, 1 only for a new
        subscription, 2 never. -R implies 2.
 --version : display the version.
{WILL}{TLS}
See https://mosquitto.org/ for more information on mosquitto_sub, which {program} follows.

"
    )
}

pub fn rr_usage(program: &str) -> String {
    let pad = " ".repeat(program.len() + 8);
    format!(
        "{program} is an mqtt client that can be used to publish a request message and wait for a response.
{pad}Defaults to MQTT v5, where the Request-Response feature will be used, but v3.1.1 can also be used
{pad}with v3.1.1 brokers.
{program} version {VERSION}.

Usage: {program} {{[-h host] [-p port] [-u username] [-P password] -t topic}} -e response-topic
{pad}{{-f file | -n | -m message | -s}}
{pad}[-c] [-k keepalive] [-q qos] [-R] [-x session-expiry-interval]
{pad}[-F format]
{pad}[-W timeout_secs]
{pad}[-i id] [-I id_prefix]
{pad}[-d] [-N] [--quiet] [-v]
{pad}[--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
{pad}[{{--cafile file | --capath dir}} [--cert file] [--key file]
{pad}  [--insecure] [--tls-version version]]
{pad}[-D command identifier value]
       {program} --help

{CLEAN} -d : enable debug messages.
{PROPERTY} -e : Response topic. The client will subscribe to this topic to wait for a response.
 -f : send the contents of a file as the request.
 -F : output format.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to an id chosen by the broker.
 -I : define the client id as id_prefix appended with the process id.
 -k : keep alive in seconds for this client. Defaults to 60.
 -m : request payload to send.
 -n : send a null (zero length) request.
 -N : do not add an end of line character when printing the payload.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for communications. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -s : read the request from stdin, sending the entire input as a message.
 -t : topic where the request message will be sent.
 -u : provide a username
 -v : print received messages verbosely.
 -V : specify the version of the MQTT protocol to use when connecting.
      Defaults to 5.
 -W : Specifies a timeout in seconds how long to wait for a response.
{EXPIRY} --help : display this message.
{PRETTY} --quiet : don't print error messages.
 --version : display the version.
{WILL}{TLS}
See https://mosquitto.org/ for more information on mosquitto_rr, which {program} follows.

"
    )
}
