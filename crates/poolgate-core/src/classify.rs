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
//! * [`ErrorClass::TooManyConnections`]: a not-sent failure that also says the server (or the
//!   pooler in front of it) is full: `too many clients` (53300, P2037), MySQL 1040, Supavisor's
//!   `Max client connections reached`, PgBouncer's `max_client_conn`. Safe to retry, and the
//!   signal the adaptive limit lowers itself on.
//! * [`ErrorClass::LoginLockout`]: a not-sent failure from a pooler that lost its server and
//!   now refuses every login for a while (PgBouncer's `server_login_retry`, also behind Neon).
//!   Safe to retry; [`RetryPolicy::login_lockout`](crate::RetryPolicy::login_lockout) spreads
//!   the retries over the lockout.
//! * [`ErrorClass::Permanent`]: anything else, including every error of the query itself
//!   (unique violation P2002, statement timeout, syntax). Never retried.
//!
//! The driver hands over the error's codes (Prisma `code`, driver-adapter `kind` and
//! `originalCode`, SQLSTATE, Node `errno` codes, MySQL error numbers, from the error and its
//! `cause` chain) and its messages. A code of a query error decides `Permanent` outright.
//! Otherwise every piece of connection evidence counts and the strongest wins: maybe-sent over
//! any not-sent class (the safe side for a write), and among the not-sent classes the more
//! specific one (a lockout, then "too many", over plain not-sent). A message or code that says
//! nothing (`Permanent` alone) never outweighs connection evidence.

/// How a failed operation may be retried. Codes for drivers are in
/// [`protocol`](crate::protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Not a transient connection failure: never retried.
    Permanent,
    /// A connection failure before the statement reached the server: always safe to retry.
    NotSent,
    /// A connection failure after the statement may have reached the server: retry only if
    /// the operation is idempotent.
    MaybeSent,
    /// Not sent, because the server or pooler has no connection left for us.
    TooManyConnections,
    /// Not sent, because a pooler refuses logins for a while after losing its server.
    LoginLockout,
}

impl ErrorClass {
    /// Strength of the evidence, for combining several pieces (see the module docs).
    fn rank(self) -> u8 {
        match self {
            ErrorClass::Permanent => 0,
            ErrorClass::NotSent => 1,
            ErrorClass::TooManyConnections => 2,
            ErrorClass::LoginLockout => 3,
            ErrorClass::MaybeSent => 4,
        }
    }

    /// The stronger of two pieces of evidence.
    fn strongest(self, other: ErrorClass) -> ErrorClass {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// Codes that prove the statement never ran: Prisma, driver-adapter kinds, SQLSTATE, Node and
/// MySQL.
const NOT_SENT_CODES: &[&str] = &[
    "P1001",                // Can't reach database server
    "P1002",                // reached but timed out while connecting
    "P2024",                // timed out fetching a connection from the pool
    "DatabaseNotReachable", // driver-adapter cause kind
    "57P03",                // cannot_connect_now (starting up / shutting down)
    "08001",                // sqlclient_unable_to_establish_sqlconnection
    "08004",                // sqlserver_rejected_establishment_of_sqlconnection
    "ECONNREFUSED",
];

/// Codes of a server (or pooler) that has no connection left for us.
const TOO_MANY_CODES: &[&str] = &[
    "P2037",              // too many database connections opened
    "TooManyConnections", // driver-adapter cause kind
    "53300",              // too_many_connections
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
    // Poolers that lost their server and refuse logins for a while (PgBouncer, also behind
    // Neon's pooler endpoints): sent at login, before any statement.
    ("server login has been failing", ErrorClass::LoginLockout),
    ("server_login_retry", ErrorClass::LoginLockout),
    ("pgbouncer cannot connect to server", ErrorClass::NotSent),
    // PgBouncer: the client waited in its queue for a server connection and gave up.
    ("query_wait_timeout", ErrorClass::NotSent),
    // RDS Proxy and Cloudflare Hyperdrive: no connection could be borrowed for the statement.
    (
        "timed-out waiting to acquire database connection",
        ErrorClass::NotSent,
    ),
    (
        "failed to acquire a connection from the pool",
        ErrorClass::NotSent,
    ),
    ("waiting for an open slot in the pool", ErrorClass::NotSent),
    // Neon's proxy could not wake or reach the compute.
    ("couldn't connect to compute node", ErrorClass::NotSent),
    // Supavisor: its handler to the database died before our statement was taken.
    ("dbhandler exited", ErrorClass::NotSent),
    (
        "connection terminated due to connection timeout",
        ErrorClass::NotSent,
    ),
    (
        "timeout exceeded when trying to connect",
        ErrorClass::NotSent,
    ),
    ("can't reach database server", ErrorClass::NotSent),
    ("too many clients already", ErrorClass::TooManyConnections),
    (
        "remaining connection slots are reserved",
        ErrorClass::TooManyConnections,
    ),
    (
        "max client connections reached",
        ErrorClass::TooManyConnections,
    ),
    (
        "no more connections allowed",
        ErrorClass::TooManyConnections,
    ),
    ("maxclientsinsessionmode", ErrorClass::TooManyConnections),
    ("too many connections", ErrorClass::TooManyConnections),
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
    if TOO_MANY_CODES.contains(&code) {
        ErrorClass::TooManyConnections
    } else if NOT_SENT_CODES.contains(&code) {
        ErrorClass::NotSent
    } else if MAYBE_SENT_CODES.contains(&code) {
        ErrorClass::MaybeSent
    } else {
        ErrorClass::Permanent
    }
}

/// A SQLSTATE of class 08 (connection exception) not listed above: the connection failed, but
/// the code alone does not say when. PgBouncer sends its login refusals as `08P01`, so a
/// message that says more decides; without one this counts as maybe-sent.
fn is_generic_connection_exception(code: &str) -> bool {
    code.len() == 5 && code.starts_with("08") && code.is_ascii()
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
    let mut generic_connection_exception = false;
    for code in codes {
        let code = code.trim();
        if is_query_error(code) {
            return ErrorClass::Permanent;
        }
        let of_code = class_of_code(code);
        generic_connection_exception |=
            of_code == ErrorClass::Permanent && is_generic_connection_exception(code);
        class = class.strongest(of_code);
    }
    let mut by_message = ErrorClass::Permanent;
    for message in messages {
        by_message = by_message.strongest(class_of_message(message));
    }
    class = class.strongest(by_message);
    if generic_connection_exception && by_message == ErrorClass::Permanent {
        class = class.strongest(ErrorClass::MaybeSent);
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
            TooManyConnections
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
        assert_eq!(
            c(&[], &["FATAL: Max client connections reached"]),
            TooManyConnections
        );
        assert_eq!(
            c(&[], &["no more connections allowed (max_client_conn)"]),
            TooManyConnections
        );
        assert_eq!(
            c(&["ER_CON_COUNT_ERROR", "1040"], &["Too many connections"]),
            TooManyConnections
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
    fn pooler_refusals_are_classed_by_what_they_prove() {
        // PgBouncer after its server restarted: sent at login, as 08P01. The message proves
        // nothing was sent, so it outweighs the generic connection-exception code.
        assert_eq!(
            c(
                &["08P01"],
                &["server login has been failing, try again later (server_login_retry)"]
            ),
            LoginLockout
        );
        assert_eq!(
            c(&["08P01"], &["pgbouncer cannot connect to server"]),
            NotSent
        );
        assert_eq!(c(&["08P01"], &["query_wait_timeout"]), NotSent);
        // Without a telling message, an unlisted 08 code stays maybe-sent.
        assert_eq!(c(&["08P01"], &["protocol violation"]), MaybeSent);
        assert_eq!(
            c(&[], &["Timed-out waiting to acquire database connection"]),
            NotSent
        );
        assert_eq!(
            c(&[], &["Failed to acquire a connection from the pool"]),
            NotSent
        );
        assert_eq!(c(&[], &["Couldn't connect to compute node"]), NotSent);
        assert_eq!(
            c(
                &[],
                &["MaxClientsInSessionMode: max clients reached - in Session mode max clients are limited to pool_size"]
            ),
            TooManyConnections
        );
        // A code of a query error still decides outright.
        assert_eq!(c(&["23505"], &["server login has been failing"]), Permanent);
    }

    #[test]
    fn unknown_and_malformed_codes_prove_nothing() {
        assert_eq!(c(&["XX000"], &[]), Permanent);
        assert_eq!(c(&["P2010"], &[]), Permanent);
        assert_eq!(c(&["0800"], &[]), Permanent);
        assert_eq!(c(&["080000"], &[]), Permanent);
        // 57014 (query cancelled) is an error of the query, even beside connection evidence.
        assert_eq!(c(&["57014", "P1001"], &[]), Permanent);
        // A SQLSTATE that is not five characters is not a query error either.
        assert_eq!(c(&["2300", "P1001"], &[]), NotSent);
        assert_eq!(c(&["230055", "P1001"], &[]), NotSent);
        assert_eq!(c(&["P200", "P1001"], &[]), NotSent);
        assert_eq!(c(&["  P1001  "], &[]), NotSent);
    }

    #[test]
    fn the_strongest_evidence_wins() {
        assert_eq!(c(&["P1001", "53300"], &[]), TooManyConnections);
        assert_eq!(c(&["53300"], &["server_login_retry"]), LoginLockout);
        assert_eq!(c(&["53300", "ECONNRESET"], &[]), MaybeSent);
        assert_eq!(c(&["XX000"], &["connection refused"]), NotSent);
    }

    #[test]
    fn conflicting_evidence_takes_the_safer_class() {
        assert_eq!(
            c(&["P1001"], &["Connection terminated unexpectedly"]),
            MaybeSent
        );
    }
}
