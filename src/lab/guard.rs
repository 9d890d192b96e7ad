//! Which requests the lab answers. A page on another site can make the user's browser send
//! requests to 127.0.0.1; the browser then names that site in `Origin`, or — after a DNS
//! rebinding, where a name the attacker controls is pointed at 127.0.0.1 — in `Host`. So a request
//! is answered only when `Host` names this server as the user reaches it (a loopback name, or
//! the address given to `--host`, with the port), and `Origin`, where sent, is this server's own;
//! every `/api/` request must also carry the token the lab printed ([`token_matches`]).

/// What the server was bound to: the address `--host` gave and the port it listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub host: String,
    pub port: u16,
}

impl Bound {
    /// The names a browser may use for this server: the loopback names, and `--host`'s address
    /// unless it is a wildcard (0.0.0.0 or ::, which names no machine).
    fn names(&self) -> Vec<String> {
        let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string(), "[::1]".to_string()];
        let given = self.bare();
        if !self.is_wildcard() {
            let given = if given.contains(':') { format!("[{given}]") } else { given.to_string() };
            if !names.contains(&given) {
                names.push(given);
            }
        }
        names
    }

    /// Whether a `Host` header names this server: a loopback name or `--host`'s address, with this port (or
    /// without one, on port 80). Names compare case-insensitively, as DNS does.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.names()
            .iter()
            .any(|name| host == format!("{name}:{}", self.port) || (self.port == 80 && host == *name))
    }

    /// Whether an `Origin` header is this server's own page: `http://` and an allowed host.
    /// (`null`, sent by sandboxed frames and files, is nobody's.)
    pub fn origin_allowed(&self, origin: &str) -> bool {
        origin.strip_prefix("http://").is_some_and(|host| self.host_allowed(host))
    }

    /// The address to print for the user to open: `--host`'s, where it names one; a wildcard's
    /// loopback address of the same family.
    pub fn url(&self) -> String {
        let name = match self.bare() {
            "0.0.0.0" => "127.0.0.1".to_string(),
            "::" => "[::1]".to_string(),
            ip6 if ip6.contains(':') => format!("[{ip6}]"),
            name => name.to_string(),
        };
        format!("http://{name}:{}/", self.port)
    }

    /// `--host` without an IPv6 address's brackets.
    fn bare(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// Bound to the loopback interface only: no other machine can reach it.
    pub fn is_loopback(&self) -> bool {
        matches!(self.bare(), "127.0.0.1" | "localhost" | "::1")
    }

    /// Bound to every interface (0.0.0.0, ::): reachable from elsewhere, yet named by no address.
    pub fn is_wildcard(&self) -> bool {
        matches!(self.bare(), "0.0.0.0" | "::")
    }
}

/// Compares a request's token with the page's in time independent of where they differ, so
/// timing reveals nothing of it.
pub fn token_matches(given: &str, token: &str) -> bool {
    given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Bound {
        Bound { host: "127.0.0.1".into(), port: 8765 }
    }

    #[test]
    fn only_this_server_s_own_names_and_port_are_answered() {
        let b = local();
        for ok in ["127.0.0.1:8765", "localhost:8765", "LOCALHOST:8765", "[::1]:8765"] {
            assert!(b.host_allowed(ok), "{ok}");
        }
        // DNS rebinding: a foreign name resolving to 127.0.0.1; another port; no port.
        for bad in [
            "evil.example:8765",
            "127.0.0.1:8766",
            "127.0.0.1",
            "",
            "localhost.evil:8765",
            "127.0.0.1:8765@x",
        ] {
            assert!(!b.host_allowed(bad), "{bad}");
        }
        assert!(b.origin_allowed("http://127.0.0.1:8765"));
        for bad in ["null", "https://127.0.0.1:8765", "http://evil.example:8765", "http://127.0.0.1:1"] {
            assert!(!b.origin_allowed(bad), "{bad}");
        }
        assert_eq!(b.url(), "http://127.0.0.1:8765/");
        assert!(b.is_loopback());
    }

    #[test]
    fn a_host_given_by_address_is_allowed_and_a_wildcard_names_nothing() {
        let lan = Bound { host: "192.168.1.5".into(), port: 80 };
        assert!(lan.host_allowed("192.168.1.5") && lan.host_allowed("192.168.1.5:80"));
        assert!(!lan.host_allowed("evil.example"));
        assert_eq!(lan.url(), "http://192.168.1.5:80/");
        let any = Bound { host: "0.0.0.0".into(), port: 9000 };
        assert!(!any.host_allowed("0.0.0.0:9000") && any.host_allowed("127.0.0.1:9000"));
        assert!(!any.is_loopback() && any.is_wildcard());
        assert_eq!(any.url(), "http://127.0.0.1:9000/");
        assert_eq!(Bound { host: "::".into(), port: 9000 }.url(), "http://[::1]:9000/");
        let six = Bound { host: "::1".into(), port: 9000 };
        assert_eq!((six.url().as_str(), six.is_loopback()), ("http://[::1]:9000/", true));
        assert!(six.host_allowed("[::1]:9000"));
    }

    #[test]
    fn tokens_match_only_exactly() {
        assert!(token_matches("abc123", "abc123"));
        assert!(
            !token_matches("abc124", "abc123")
                && !token_matches("abc12", "abc123")
                && !token_matches("", "abc")
        );
    }
}
