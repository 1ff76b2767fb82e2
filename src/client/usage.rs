//! The `--help` texts: mosquitto 2.0's, laid out the same way, listing the flags midge's
//! tools support.

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn pub_usage(program: &str) -> String {
    let pad = " ".repeat(program.len() + 8);
    format!(
        "{program} is a simple mqtt client that will publish a message on a single topic and exit.
{program} version {VERSION}.

Usage: {program} {{[-h host] [-p port] [-u username] [-P password] -t topic}}
{pad}{{-f file | -l | -n | -m message | -s}}
{pad}[-c] [-k keepalive] [-q qos] [-r]
{pad}[-i id] [-I id_prefix]
{pad}[-d] [--quiet]
{pad}[-V protocol_version]
{pad}[--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
       {program} --help

 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects.
 -d : enable debug messages.
 -f : send the contents of a file as the message.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to a random id for MQTT v3.1, and to an id chosen
      by the broker otherwise.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -n : send a null (zero length) message.
 -p : network port to connect to. Defaults to 1883.
 -P : provide a password
 -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
 -u : provide a username
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 --help : display this message.
 --quiet : don't print error messages.
 --version : display the version.
 --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.

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
{pad}[-c] [-k keepalive] [-q qos]
{pad}[-C msg_count] [-E] [-R] [--retained-only] [-T filter_out] [-U topic ...]
{pad}[-W timeout_secs]
{pad}[-i id] [-I id_prefix]
{pad}[-d] [-N] [--quiet] [-v]
{pad}[-V protocol_version]
{pad}[--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
       {program} --help

 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects.
 -C : disconnect and exit after receiving the 'msg_count' messages.
 -d : enable debug messages.
 -E : Exit once all subscriptions have been acknowledged by the broker.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to a random id for MQTT v3.1, and to an id chosen
      by the broker otherwise.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -N : do not add an end of line character when printing the payload.
 -p : network port to connect to. Defaults to 1883.
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
 --help : display this message.
 --quiet : don't print error messages.
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --version : display the version.
 --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.

See https://mosquitto.org/ for more information on mosquitto_sub, which {program} follows.

"
    )
}
