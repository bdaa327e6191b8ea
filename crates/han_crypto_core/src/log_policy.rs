//! Which statements carry secrets in their parameters: calls of the
//! functions that take a passphrase or a token. The extension's log hook
//! hides the statement text and bind parameters of any statement that
//! calls one of them.

/// Functions whose arguments are secrets (with the opening parenthesis).
pub const SENSITIVE_FUNCTIONS: &[&str] = &[
    "unlock(",
    "create_passphrase_keyring(",
    "change_passphrase(",
    "authenticate(",
];

/// Whether `text` calls one of [`SENSITIVE_FUNCTIONS`]: the name as a whole
/// identifier (so `pg_advisory_unlock(` does not count), schema-qualified
/// or not, quoted or not, in any case, with any spacing before the parenthesis.
pub fn mentions_secret_call(text: &str) -> bool {
    // Lowercase, drop identifier quotes, and drop whitespace right before a
    // parenthesis (elsewhere it separates words and must stay). Linear.
    let mut squeezed = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars().filter(|c| *c != '"') {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && c != '(' {
            squeezed.push(' ');
        }
        pending_space = false;
        squeezed.push(c.to_ascii_lowercase());
    }
    SENSITIVE_FUNCTIONS.iter().any(|name| {
        squeezed.match_indices(name).any(|(at, _)| {
            let before = squeezed[..at].chars().next_back();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::mentions_secret_call;

    #[test]
    fn matches_whole_function_names_only() {
        for yes in [
            "SELECT han_crypto.unlock($1, $2)",
            "select UNLOCK ('notes', $1)",
            "SELECT \"han_crypto\".\"authenticate\"($1)",
            "execute s1: SELECT han_crypto.create_passphrase_keyring($1, $2)",
            "SELECT 1; SELECT change_passphrase('k', $1, $2)",
        ] {
            assert!(mentions_secret_call(yes), "{yes}");
        }
        for no in [
            "SELECT pg_advisory_unlock(1)",
            "SELECT han_crypto.encrypt($1)",
            "SELECT my_authenticate(1)",
            "",
        ] {
            assert!(!mentions_secret_call(no), "{no}");
        }
    }
}
