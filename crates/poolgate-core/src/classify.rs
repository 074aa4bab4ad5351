//! Which errors are worth retrying, and whether retrying a write is safe.
//!
//! The old wrapper retried any error whose message contained "connection", which retried
//! constraint violations that mention a connection name and, worse, re-ran writes that had
//! already committed when the connection dropped afterwards. Here an error is retried only when
//! it is a known transient connection failure, and it is sorted by what it proves:
//!
//! * [`ErrorClass::NotSent`]: the statement never reached the server (it could not connect, the
//!   server refused the connection, no pool slot was free). Safe to retry even for a write.
//! * [`ErrorClass::MaybeSent`]: the connection broke while the statement may have been running
//!   (`Connection terminated unexpectedly`, `ECONNRESET`, backend terminated). Retried only for
//!   operations the caller marked idempotent, or reads.
//! * [`ErrorClass::Permanent`]: anything else, including every error of the query itself
//!   (unique violation P2002, statement timeout, syntax). Never retried.
//!
//! The driver hands over the error's codes (Prisma `code`, driver-adapter `kind` and
//! `originalCode`, SQLSTATE, Node `errno` codes, MySQL error numbers, from the error and its
//! `cause` chain) and its messages; when the evidence conflicts the safer class wins.

/// How a failed operation may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorClass {
    /// Not a transient connection failure: never retried.
    Permanent,
    /// A connection failure before the statement reached the server: always safe to retry.
    NotSent,
    /// A connection failure after the statement may have reached the server: retry only if
    /// the operation is idempotent.
    MaybeSent,
}

impl ErrorClass {
    /// A stable code: 0 permanent, 1 not sent, 2 maybe sent.
    pub fn code(self) -> u8 {
        match self {
            ErrorClass::Permanent => 0,
            ErrorClass::NotSent => 1,
            ErrorClass::MaybeSent => 2,
        }
    }

    /// The class of a [`ErrorClass::code`]; an unknown code is the safe `Permanent`.
    pub fn from_code(code: u8) -> ErrorClass {
        match code {
            1 => ErrorClass::NotSent,
            2 => ErrorClass::MaybeSent,
            _ => ErrorClass::Permanent,
        }
    }
}

/// Codes that prove the statement never ran: Prisma, driver-adapter kinds, SQLSTATE, Node and
/// MySQL.
const NOT_SENT_CODES: &[&str] = &[
    "P1001",                // Can't reach database server
    "P1002",                // reached but timed out while connecting
    "P2024",                // timed out fetching a connection from the pool
    "P2037",                // too many database connections opened
    "TooManyConnections",   // driver-adapter cause kind
    "DatabaseNotReachable", // driver-adapter cause kind
    "53300",                // too_many_connections
    "57P03",                // cannot_connect_now (starting up / shutting down)
    "08001",                // sqlclient_unable_to_establish_sqlconnection
    "08004",                // sqlserver_rejected_establishment_of_sqlconnection
    "ECONNREFUSED",
    "ER_CON_COUNT_ERROR", // MySQL: Too many connections
    "1040",               // MySQL errno of the same
];

/// Codes of a connection that broke while a statement may have been running.
const MAYBE_SENT_CODES: &[&str] = &[
    "P1017", // Server has closed the connection
    "57P01", // admin_shutdown: backend terminated
    "57P02", // crash_shutdown
    "ECONNRESET",
    "EPIPE",
    "ETIMEDOUT",
    "ConnectionClosed", // driver-adapter cause kind
];

/// Message fragments (lower case), checked in order; the first that matches a message decides
/// that message's class.
const MESSAGE_RULES: &[(&str, ErrorClass)] = &[
    (
        "connection terminated due to connection timeout",
        ErrorClass::NotSent,
    ),
    (
        "timeout exceeded when trying to connect",
        ErrorClass::NotSent,
    ),
    ("can't reach database server", ErrorClass::NotSent),
    ("too many clients already", ErrorClass::NotSent),
    (
        "remaining connection slots are reserved",
        ErrorClass::NotSent,
    ),
    ("max client connections reached", ErrorClass::NotSent),
    ("no more connections allowed", ErrorClass::NotSent),
    ("maxclientsinsessionmode", ErrorClass::NotSent),
    ("too many connections", ErrorClass::NotSent),
    ("timed out fetching a new connection", ErrorClass::NotSent),
    ("the database system is starting up", ErrorClass::NotSent),
    ("the database system is shutting down", ErrorClass::NotSent),
    ("connect econnrefused", ErrorClass::NotSent),
    ("connection refused", ErrorClass::NotSent),
    ("connection terminated", ErrorClass::MaybeSent),
    (
        "server closed the connection unexpectedly",
        ErrorClass::MaybeSent,
    ),
    ("server has closed the connection", ErrorClass::MaybeSent),
    (
        "terminating connection due to administrator command",
        ErrorClass::MaybeSent,
    ),
    ("connection reset by peer", ErrorClass::MaybeSent),
    ("econnreset", ErrorClass::MaybeSent),
    ("socket hang up", ErrorClass::MaybeSent),
];

/// Whether `code` names an error of the query itself, which no retry can fix.
fn is_query_error(code: &str) -> bool {
    let bytes = code.as_bytes();
    let prisma_query_error = bytes.len() == 5
        && code.starts_with("P2")
        && bytes[2..].iter().all(u8::is_ascii_digit)
        && !matches!(code, "P2024" | "P2037" | "P2010" | "P2039");
    let sqlstate_query_error = bytes.len() == 5
        && bytes.iter().all(u8::is_ascii_alphanumeric)
        && (["22", "23", "25", "40", "42", "44"]
            .iter()
            .any(|c| code.starts_with(c))
            || code == "57014");
    prisma_query_error || sqlstate_query_error
}

fn class_of_code(code: &str) -> ErrorClass {
    if NOT_SENT_CODES.contains(&code) {
        ErrorClass::NotSent
    } else if MAYBE_SENT_CODES.contains(&code)
        || (code.len() == 5 && code.starts_with("08") && code.is_ascii())
    {
        ErrorClass::MaybeSent
    } else {
        ErrorClass::Permanent
    }
}

fn class_of_message(message: &str) -> ErrorClass {
    let lower = message.to_ascii_lowercase();
    MESSAGE_RULES
        .iter()
        .find(|(fragment, _)| lower.contains(fragment))
        .map_or(ErrorClass::Permanent, |&(_, class)| class)
}

/// Classifies an error from its codes and messages (gathered from the error and its causes).
pub fn classify<'a>(
    codes: impl IntoIterator<Item = &'a str>,
    messages: impl IntoIterator<Item = &'a str>,
) -> ErrorClass {
    let mut class = ErrorClass::Permanent;
    for code in codes {
        let code = code.trim();
        if is_query_error(code) {
            return ErrorClass::Permanent;
        }
        class = class.max(class_of_code(code));
    }
    for message in messages {
        class = class.max(class_of_message(message));
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    fn c(codes: &[&str], messages: &[&str]) -> ErrorClass {
        classify(codes.iter().copied(), messages.iter().copied())
    }

    #[test]
    fn prisma_7_exhaustion_shapes() {
        // P2037 with its driver-adapter cause, as Prisma 7 throws it.
        assert_eq!(
            c(
                &["P2037", "TooManyConnections", "53300"],
                &["Too many database connections opened: sorry, too many clients already"]
            ),
            NotSent
        );
        assert_eq!(
            c(
                &["P1001", "DatabaseNotReachable"],
                &["Can't reach database server at 127.0.0.1:5432"]
            ),
            NotSent
        );
        assert_eq!(
            c(&[], &["timeout exceeded when trying to connect"]),
            NotSent
        );
        assert_eq!(c(&[], &["Connection terminated unexpectedly"]), MaybeSent);
        assert_eq!(
            c(
                &["P2039", "57P01"],
                &["terminating connection due to administrator command"]
            ),
            MaybeSent
        );
    }

    #[test]
    fn query_errors_are_never_retried() {
        assert_eq!(
            c(
                &["P2002", "UniqueConstraintViolation", "23505"],
                &["Unique constraint failed"]
            ),
            Permanent
        );
        // Even when a message mentions a connection, as the old wrapper's test would match.
        assert_eq!(
            c(
                &["P2002"],
                &["duplicate key in connection_logs: connection terminated"]
            ),
            Permanent
        );
        assert_eq!(
            c(
                &["P2039", "57014"],
                &["canceling statement due to statement timeout"]
            ),
            Permanent
        );
        assert_eq!(
            c(&[], &["relation \"connection\" does not exist"]),
            Permanent
        );
        assert_eq!(c(&[], &[]), Permanent);
    }

    #[test]
    fn poolers_mysql_and_node_codes() {
        assert_eq!(c(&[], &["FATAL: Max client connections reached"]), NotSent);
        assert_eq!(
            c(&[], &["no more connections allowed (max_client_conn)"]),
            NotSent
        );
        assert_eq!(
            c(&["ER_CON_COUNT_ERROR", "1040"], &["Too many connections"]),
            NotSent
        );
        assert_eq!(
            c(&["ECONNREFUSED"], &["connect ECONNREFUSED 127.0.0.1:5432"]),
            NotSent
        );
        assert_eq!(c(&["ECONNRESET"], &["read ECONNRESET"]), MaybeSent);
        assert_eq!(c(&["08006"], &[]), MaybeSent);
        assert_eq!(c(&["08001"], &[]), NotSent);
        assert_eq!(
            c(&["P1017"], &["Server has closed the connection."]),
            MaybeSent
        );
        assert_eq!(
            c(&[], &["Connection terminated due to connection timeout"]),
            NotSent
        );
    }

    #[test]
    fn conflicting_evidence_takes_the_safer_class() {
        assert_eq!(
            c(&["P1001"], &["Connection terminated unexpectedly"]),
            MaybeSent
        );
    }
}
