//! Values that stand where a secret would but are not one: template and
//! environment references, documentation placeholders, redaction markers and
//! code expressions. Redacting those would only make text harder to read.

use super::entropy::{longest_repeat, sequential_bytes, words};

/// Words that mark a documentation placeholder wherever they appear in a value.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "examples",
    "placeholder",
    "your",
    "yours",
    "redacted",
    "changeme",
    "dummy",
    "sample",
    "todo",
    "fixme",
    "insert",
    "replace",
    "here",
    "mask",
    "masked",
    "hidden",
    "undefined",
    "mock",
    "fake",
    "bogus",
];

/// Whole values that are keywords or type names, not secrets.
const NON_VALUES: &[&str] = &[
    "true",
    "false",
    "tiger",
    // What `terraform apply` prints after a resource's address.
    "creating",
    "creation",
    "destroying",
    "destruction",
    "modifying",
    "modifications",
    "refreshing",
    "reading",
    "still",
    "null",
    "nil",
    "none",
    "undefined",
    "yes",
    "no",
    "on",
    "off",
    "string",
    "str",
    "text",
    "bytes",
    "int",
    "integer",
    "number",
    "boolean",
    "bool",
    "optional",
    "required",
    "secret",
    "password",
    "passwd",
    "token",
    "apikey",
    "api_key",
    "key",
    "value",
    "empty",
    "env",
    "environment",
    "default",
    "test",
    "tests",
    "testing",
    "pass",
    "user",
    "username",
    "admin",
    "root",
    "guest",
    "demo",
    "foo",
    "bar",
    "baz",
    "foobar",
    "qwerty",
    "string?",
    "secretkey",
    "secret_key",
    "passwords",
    "secrets",
    "tokens",
    "keys",
    "credentials",
    "access_token",
    "auth_token",
    "bearer",
    "basic",
    "token_here",
    "xxx",
    "yyy",
    "zzz",
    "abc",
    "abc123",
    "123",
    "1234",
    "12345",
    "123456",
    "function",
    "lambda",
    "new",
    "this",
    "self",
    "return",
    "await",
    "async",
    "sha256",
    "md5",
    "base64",
];

/// Filler that no issued credential contains: masking runs, one repeated
/// character, keyboard sequences, and the vendors' documented `EXAMPLE` keys.
pub fn is_filler(v: &str) -> bool {
    masking_run(v)
        || v.contains("EXAMPLE")
        || longest_repeat(v) * 3 > v.len()
        // Keyboard runs give away short sample tokens; a long key in an
        // exact vendor format is a key even when its author typed it.
        || (v.len() >= 8 && v.len() < 64 && sequential_bytes(v) * 2 >= v.len())
        || filler_parts(v)
}

/// `xoxb-1111111111-2222222222222-abcdefghijklmnopqrstuvwx`: a vendor's
/// prefix, then parts that are each one character repeated or a run of
/// the alphabet or the digits, as a fixture's author types them to fill
/// a format. Runs of four or more such bytes cover two thirds of the
/// value's letters and digits at least; in a random token a run of four
/// is rare, and one that long never.
fn filler_parts(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 24 {
        return false;
    }
    let alnum = b.iter().filter(|c| c.is_ascii_alphanumeric()).count();
    let (mut covered, mut run, mut step) = (0usize, 1usize, 0i16);
    for i in 1..=b.len() {
        let d = (i < b.len() && b[i].is_ascii_alphanumeric() && b[i - 1].is_ascii_alphanumeric())
            .then(|| {
                i16::from(b[i].to_ascii_lowercase()) - i16::from(b[i - 1].to_ascii_lowercase())
            })
            .filter(|d| matches!(d, -1..=1));
        match d {
            Some(d) if run == 1 || d == step => {
                step = d;
                run += 1;
            }
            _ => {
                if run >= 4 {
                    covered += run;
                }
                // A run that breaks here may start the next one.
                run = if d.is_some() { 2 } else { 1 };
                step = d.unwrap_or(0);
            }
        }
    }
    covered * 3 >= alnum * 2
}

/// A masking run: `xxxx`, `XXXX`, `****`, `####`. (In one case: a random
/// base64 key holds `xXxX` by chance now and then.)
fn masking_run(v: &str) -> bool {
    v.contains("xxxx") || v.contains("XXXX") || v.contains("****") || v.contains("####")
}

/// Prefixes of references to a secret store or a file, and of values that
/// are already encrypted: what stands there is not the secret.
const STORE_PREFIXES: &[&str] = &[
    "vault:",
    "vault://",
    "arn:aws:",
    "arn:aws-cn:",
    "arn:aws-us-gov:",
    "projects/",
    "op://",
    "ref+",
    "sm://",
    "gsm://",
    "gcpsm://",
    "awssm://",
    "secretsmanager:",
    "ssm:",
    "ssm://",
    "keyvault:",
    "akv://",
    "azurekeyvault:",
    "secret://",
    "secrets://",
    "kms:",
    "file:",
    "env:",
    "sops:",
    "$ansible_vault;",
    "berglas://",
    "bws://",
    "doppler://",
    "infisical://",
    "azkv://",
    "-----begin pgp message",
    "-----begin age encrypted file",
];

/// True when the value is encrypted already or names where the secret is
/// kept: SOPS `ENC[…]`, YAML tags (`!vault |`, `!Ref`, `!Sub`), Ansible
/// Vault, secret-store references (`vault:secret/data/app#password`,
/// `arn:aws:secretsmanager:…`, `projects/p/secrets/s/versions/3`, `op://…`,
/// Azure Key Vault secret URIs) and systemd's `name:/path` credentials.
pub fn is_sealed_or_reference(v: &str) -> bool {
    let v = v.trim();
    // Jenkins' encrypted secrets print as `{AQAAABAAAAAQ…}`.
    // EJSON's encrypted values print as `EJ[1:<key>:<nonce>:<box>]`.
    // A SealedSecret's ciphertext, wherever it is quoted: the base64 of a
    // version-2 box (`AgB…`), hundreds of characters long.
    if v.len() >= 300
        && v.starts_with("Ag")
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
    {
        return true;
    }
    if v.contains("ENC[")
        || v.contains("EJ[1:")
        || yaml_tag(v)
        || (v.starts_with("{AQAAAB") && v.ends_with('}'))
    {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    // Vault KV paths, in their own case: `kv/data/app/db:password`,
    // `secret/data/app` (an AWS secret may start `Kv/…`).
    if STORE_PREFIXES.iter().any(|p| lower.starts_with(p))
        || v.starts_with("kv/")
        || v.starts_with("secret/data/")
        || lower.contains(".vault.azure.net/secrets/")
        || lower.contains("/secrets/") && lower.contains("/versions/")
    {
        return true;
    }
    // Cloud Run's `run.googleapis.com/secrets` annotation: aliases for
    // Secret Manager secrets, `db-pass:projects/2508…/secrets/db-password`,
    // comma-separated.
    if v.contains(":projects/")
        && v.split(',').all(|item| {
            item.trim().split_once(':').is_some_and(|(alias, path)| {
                !alias.is_empty()
                    && alias
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
                    && path.starts_with("projects/")
                    && path.contains("/secrets/")
            })
        })
    {
        return true;
    }
    // `webhooks-db-password:3`, `api-key:latest` (Cloud Run's
    // `--set-secrets`): a secret's name and version; also as that flag's
    // list of `ENV_NAME=name:version` items.
    if name_and_version(v)
        || (v.contains('=')
            && v.split(',').all(|item| {
                item.split_once('=').is_some_and(|(env, secret)| {
                    !env.is_empty()
                        && env
                            .bytes()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
                        && (name_and_version(secret)
                            || secret.starts_with("projects/") && secret.contains("/secrets/"))
                })
            }))
    {
        return true;
    }
    // `db-password:/etc/credstore.encrypted/db-password` (systemd), a
    // `name:/path` pair.
    if let Some((name, path)) = v.split_once(':') {
        if path.starts_with('/')
            && !path.starts_with("//")
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
        {
            return true;
        }
    }
    false
}

/// `webhooks-db-password:3`, `api-key:latest`: a secret's name (two or
/// more lower-case words) and its version.
fn name_and_version(v: &str) -> bool {
    v.split_once(':').is_some_and(|(name, version)| {
        let words: Vec<&str> = name.split(['-', '_']).collect();
        words.len() >= 2
            && words
                .iter()
                .all(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_lowercase()))
            && (version == "latest"
                || (!version.is_empty()
                    && version.len() <= 4
                    && version.bytes().all(|c| c.is_ascii_digit())))
    })
}

/// Byte ranges of `text` that hold ciphertext by their structure: the
/// `encryptedData:` map of a Bitnami SealedSecret (every line indented
/// deeper than that key) and ASCII-armoured PGP messages, in no particular
/// order. A value there is encrypted already, whatever its key is called.
pub fn encrypted_blocks(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("encryptedData:") {
        let at = from + i;
        // A YAML key stands near its line's start; looking back at most 256
        // bytes keeps many occurrences on one long line linear.
        let back = at.saturating_sub(256);
        let Some(line_start) = text.as_bytes()[back..at]
            .iter()
            .rposition(|&c| c == b'\n')
            .map(|p| back + p + 1)
            .or((back == 0).then_some(0))
        else {
            from = at + 1;
            continue;
        };
        let indent = at - line_start;
        let mut end = text[at..].find('\n').map_or(text.len(), |p| at + p + 1);
        let block_start = end;
        while end < text.len() {
            let line_end = text[end..].find('\n').map_or(text.len(), |p| end + p + 1);
            let line = &text[end..line_end];
            let depth = line.len() - line.trim_start_matches([' ', '\t']).len();
            if !line.trim().is_empty() && depth <= indent {
                break;
            }
            end = line_end;
        }
        if end > block_start {
            out.push((block_start, end));
        }
        from = end.max(at + 1);
    }
    // JSON (`kubeseal -o json`): the object after `"encryptedData":`.
    let mut from = 0;
    while let Some(i) = text[from..].find("\"encryptedData\"") {
        let at = from + i + "\"encryptedData\"".len();
        let rest = text[at..].trim_start_matches([' ', ':', '\t']);
        let open = text.len() - rest.len();
        from = at;
        if rest.starts_with('{') {
            // Bounded: with no `}` within reach there is no block here, and
            // none after (each search would scan the rest of the text).
            let reach = &text.as_bytes()[open..(open + (64 << 10)).min(text.len())];
            match memchr::memchr(b'}', reach) {
                Some(close) => {
                    out.push((open, open + close + 1));
                    from = open + close + 1;
                }
                None => break,
            }
        }
    }
    let mut from = 0;
    while let Some(i) = text[from..].find("-----BEGIN PGP MESSAGE-----") {
        let at = from + i;
        // Only a whole message: an unterminated header covers nothing.
        let Some(p) = text[at..].find("-----END PGP MESSAGE-----") else {
            break;
        };
        let end = at + p + "-----END PGP MESSAGE-----".len();
        out.push((at, end));
        from = end;
    }
    out
}

/// YAML tags that stand for a value kept elsewhere or computed
/// (Ansible's `!vault`, CloudFormation's `!Ref`/`!Sub`, Home Assistant's
/// `!secret`, `!ENV`): the tag alone, or followed by blanks and more.
fn yaml_tag(v: &str) -> bool {
    const TAGS: &[&str] = &[
        "vault",
        "secret",
        "env",
        "ref",
        "sub",
        "getatt",
        "importvalue",
        "join",
        "select",
        "split",
        "findinmap",
        "base64",
        "cidr",
        "getazs",
        "if",
        "equals",
        "include",
        "reference",
        "var",
        "unsafe",
        "encrypted",
        "sops",
    ];
    let Some(rest) = v.strip_prefix('!') else {
        return false;
    };
    let tag = rest.split([' ', '\t', '\n']).next().unwrap_or_default();
    TAGS.iter().any(|t| tag.eq_ignore_ascii_case(t))
}

/// Words that mark a made-up value wherever they occur in it, even inside
/// a token (`wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`, `CHANGE_ME`): none
/// is likely to occur by chance in a random string.
const MADE_UP_INFIXES: &[&str] = &[
    "example",
    "changeme",
    "placeholder",
    "dummy",
    "invalid",
    "notreal",
    "notasecret",
    "fakekey",
    "faketoken",
    "fakesecret",
    "replaceme",
    "yourkey",
    "yourtoken",
    "yoursecret",
    "yourpassword",
    "mypassword",
    "randompassword",
    "samplepassword",
    "redacted",
    // Java's keystore default and the usual stand-ins for one.
    "changeit",
    "supersecret",
    "topsecret",
];

/// Credentials that standards and vendors print in their documentation,
/// which people quote when they ask about them: RFC 6749's and RFC 6750's
/// sample tokens, jwt.io's sample signature, the Kubernetes docs' sample
/// Secret, the MySQL image's sample password. A value containing one is
/// the published example, never a live credential.
const PUBLISHED_EXAMPLES: &[&str] = &[
    "2YotnFZFEjr1zCsicMWpAA",
    "tGzv3JOkF0XG5Qx2TlKWIA",
    "mF_9.B5f-4.1JqM",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "MWYyZDFlMmU2N2Rm",
    "1f2d1e2e67df",
    "my-secret-pw",
    "mysecretpassword",
    // Stripe's documentation test key, the Azurite storage emulator's key,
    // Hardhat/Anvil's first development account, RFC 6238's sample TOTP
    // secret, NIST SP 800-38A's AES test key, the Kubernetes and MongoDB
    // docs' sample passwords, MinIO's default credentials.
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    // The password in redis.conf's own example.
    "foobared",
    "JBSWY3DPEHPK3PXP",
    "2b7e151628aed2a6abf7158809cf4f3c",
    "S!B\\*d$zDsb=",
    "D1fficultP%40ssw0rd",
    "minioadmin",
    // RFC 7617's `Aladdin:open sesame`, SQLAlchemy's and Oracle's
    // `scott:tiger`.
    "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    // The Flask quickstart's session key, the PostgreSQL docs' CREATE ROLE
    // password.
    "_5#y2L\"F4Q8z",
    "jw8s0F4",
    // The signatures of the demo JWTs every local Supabase stack prints
    // (anon and service_role).
    "CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0",
    "EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU",
    // RFC 7515 appendix A.1: the HMAC JWK's `k` and the JWS signature.
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    // Google reCAPTCHA's test site and secret keys (always pass).
    "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI",
    "6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe",
    // Mailgun's, GitHub's, Slack's and Stripe's (older) documentation keys.
    "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
];

/// Published examples too short or too word-like to look for inside other
/// values (a password may contain `secr3t`): only the whole value counts.
/// git-credential(1)'s `password=secr3t`.
const PUBLISHED_WHOLE: &[&str] = &["secr3t"];

/// Whether `v` is, or contains, a credential published as an example.
pub fn is_published_example(v: &str) -> bool {
    PUBLISHED_EXAMPLES.iter().any(|e| v.contains(e)) || PUBLISHED_WHOLE.contains(&v)
}

/// A value spelled from the words it stands for (`my-secret-pw`,
/// `VerySecret`, `deployer-token-7nxvr`, `test_password_1`): a stand-in or
/// the name of where a secret is kept, not the secret. A random token
/// contains a whole secret word as one of its parts by chance almost never.
fn names_itself(v: &str) -> bool {
    const WORDS: &[&str] = &[
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "token",
    ];
    // Only identifier-like spellings: a passphrase is words by design ("my
    // secret pass"), and a symbol shows a chosen password (`r3dis!secret`).
    if !v
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return false;
    }
    let parts: Vec<&str> = v
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect();
    // Whole parts only (`my-secret-pw`); `pw` is no evidence (`s3cr3t-Pw`
    // is somebody's password).
    let part_says = |p: &str| WORDS.contains(&p.to_ascii_lowercase().as_str());
    // Run together, only a stand-in's usual shape: `VerySecret`,
    // `MyPassword`, `NotASecret` (`CleartextPassword1` may be chosen).
    let stand_in = |p: &str| {
        let ws = words(p);
        ws.len() == 2
            && matches!(
                ws[0].as_str(),
                "very" | "super" | "top" | "my" | "your" | "not" | "no" | "fake" | "dummy"
            )
            && WORDS.contains(&ws[1].as_str())
    };
    (parts.len() >= 2 && parts.iter().any(|p| part_says(p))) || parts.iter().any(|p| stand_in(p))
}

/// `foobarbaz`, `foo123`, `quux`: made of the metasyntactic words of
/// examples (and digits), at least one of them and nothing else.
fn metasyntactic(letters: &str) -> bool {
    const WORDS: &[&str] = &[
        "foo", "bar", "baz", "qux", "quux", "corge", "grault", "garply", "waldo", "fred", "plugh",
        "xyzzy", "thud",
    ];
    let mut rest = letters.trim_end_matches(|c: char| c.is_ascii_digit());
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        match WORDS.iter().find(|w| rest.starts_with(*w)) {
            Some(w) => rest = &rest[w.len()..],
            None => return false,
        }
    }
    true
}

/// True when the value is a placeholder or reference rather than a secret.
pub fn is_placeholder(v: &str) -> bool {
    let v = v.trim();
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if NON_VALUES.contains(&lower.as_str()) {
        return true;
    }
    let letters: String = lower
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if MADE_UP_INFIXES.iter().any(|w| letters.contains(w)) {
        return true;
    }
    if metasyntactic(&letters) {
        return true;
    }
    let first = v.as_bytes()[0];
    let last = *v.as_bytes().last().unwrap();
    // Template and environment references: ${X} $X $(cmd) %X% {{ x }} <x> [x]
    // #{x} @{x}, YAML anchors and aliases (`&default`, `*default`), a
    // comment (`# set in env`). (A random value may start with one of
    // these symbols: `#-jjU*DI%ha2^3Yz_6` is a password.)
    let sigil_word = || {
        let rest = &v[1..];
        rest.starts_with('{')
            || rest.is_empty()
            || (rest
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
                && (is_wordy(rest) || !super::entropy::looks_random(rest, 8)))
    };
    // `%` opens a reference as `%NAME%` (Windows), `%(name)s` (Python's
    // formatting), `%{name}` or `%name`; WordPress's generated salts may
    // start with it (`%$Rv$oBsRJ]s(^.JmSs…`).
    let percent = first == b'%'
        && (last == b'%' || v.starts_with("%(") || v.starts_with("%{") || sigil_word());
    if matches!(first, b'$' | b'<' | b'[')
        || percent
        || (matches!(first, b'#' | b'@' | b'&' | b'*') && sigil_word())
        || v.starts_with("{{")
        || v.starts_with("{%")
        || (first == b'{' && last == b'}' && v.len() >= 2 && {
            // `{ENCRYPTED_PASSWORD}`; Maven's encrypted `{COQLCE6DU6GtcS5P=}`.
            let inner = &v[1..v.len() - 1];
            is_wordy(inner)
                || !super::entropy::looks_random(inner, 8)
                || inner.bytes().all(|c| c.is_ascii_uppercase() || c == b'_')
                || inner.ends_with('=')
        })
    {
        return true;
    }
    if v.contains("${") || v.contains("{{") || v.contains("$(") || v.contains("](") {
        return true;
    }
    if v.starts_with("...") || v.ends_with("...") || v.contains("…") {
        return true;
    }
    // Masking characters and filler.
    let masked = v
        .bytes()
        .filter(|&b| matches!(b, b'*' | b'#' | b'x' | b'X' | b'.' | b'-' | b'_' | b'0'))
        .count();
    if masked * 10 >= v.len() * 7 {
        return true;
    }
    if masking_run(v) || longest_repeat(v) * 3 > v.len() {
        return true;
    }
    if v.len() >= 8 && sequential_bytes(v) * 2 > v.len() || counting_hex(v) {
        return true;
    }
    if interleaved_counting(v) {
        return true;
    }
    let ws = words(v);
    if ws.iter().any(|w| PLACEHOLDER_WORDS.contains(&w.as_str())) {
        return true;
    }
    names_itself(v) || is_published_example(v) || stand_in_password(v) || publishable(v)
}

/// `Test1234!`, `Password123`, `admin123`, `Welcome1!`, `P@ssw0rd`: a
/// stand-in word (also spelled with the usual symbols and digits for
/// letters), digits counting up from 0 or 1 (or one digit repeated), a
/// symbol or two: what test fixtures, tutorials and lists of the weakest
/// passwords use, not a chosen password.
fn stand_in_password(v: &str) -> bool {
    const WORDS: &[&str] = &[
        "test", "testing", "password", "pass", "welcome", "admin", "letmein", "qwerty", "demo",
        "guest", "user", "root", "secret", "hello",
    ];
    // `P@ssw0rd`, `adm1n`, `s3cret`: a letter or its look-alike.
    let spells = |c: u8, letter: u8| {
        c.to_ascii_lowercase() == letter
            || matches!(
                (letter, c),
                (b'a', b'@' | b'4')
                    | (b'o', b'0')
                    | (b'e', b'3')
                    | (b'i', b'1' | b'!')
                    | (b's', b'$' | b'5')
                    | (b'l', b'1')
            )
    };
    // `N3w-passw0rd!`, `OldPassword1`, `wrong_password`: a word saying which
    // stand-in it is (in a reset or a failing-login test) may come first.
    // (Only words that give the stand-in a role in a test: `MyS3cret!` or
    // `Str0ngPassw0rd!` may be somebody's choice.)
    const QUALIFIERS: &[&str] = &[
        "new", "old", "temp", "tmp", "default", "wrong", "bad", "valid", "correct", "other",
        "another", "test",
    ];
    let b = v.as_bytes();
    let spelled = |b: &[u8], w: &str| {
        b.len() >= w.len()
            && b[..w.len()]
                .iter()
                .zip(w.bytes())
                .all(|(&c, l)| spells(c, l))
    };
    let qualified = QUALIFIERS.iter().find_map(|q| {
        if !spelled(b, q) {
            return None;
        }
        let rest = &b[q.len()..];
        let rest = match rest.first() {
            Some(b'-' | b'_' | b'.') => &rest[1..],
            _ => rest,
        };
        // (The stand-in word must follow: `newt0wn` is no such thing.)
        WORDS.iter().any(|w| spelled(rest, w)).then_some(rest)
    });
    let b = qualified.unwrap_or(b);
    WORDS.iter().any(|w| {
        let alpha = w.len();
        if b.len() < alpha || !b[..alpha].iter().zip(w.bytes()).all(|(&c, l)| spells(c, l)) {
            return false;
        }
        let digits = b[alpha..].iter().take_while(|c| c.is_ascii_digit()).count();
        let tail = &b[alpha + digits..];
        let d = &b[alpha..alpha + digits];
        let counting = d.first().is_some_and(|&f| f == b'0' || f == b'1')
            && d.windows(2).all(|w| w[1] == w[0] + 1);
        // (One digit counts only as a count from 1: `Welcome7!` may be chosen.)
        let repeated = d.len() >= 2 && d.iter().all(|&c| c == d[0]);
        (counting || repeated || d.is_empty())
            && tail.len() <= 2
            && tail
                .iter()
                .all(|c| matches!(c, b'!' | b'@' | b'#' | b'$' | b'.' | b'?'))
    })
}

/// `1a2b3c4d5e6f7a8b…`, `a1b2c3d4…`: two sequences counting up side by
/// side, one character each in turn (digits wrap from 9 to 0): typed by
/// hand to fill a field, as a keyboard run is. In random text a character
/// follows the one two places back in its alphabet one time in ten or more.
fn interleaved_counting(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 12 {
        return false;
    }
    let next = |x: u8, y: u8| {
        let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
        (x.is_ascii_alphanumeric() && y.is_ascii_alphanumeric() && y == x + 1)
            || (x == b'9' && y == b'0')
    };
    let counting = b.windows(3).filter(|w| next(w[0], w[2])).count();
    counting * 4 >= (b.len() - 2) * 3
}

/// `abc123abc123abc123`, `deadbeefdeadbeef`: a short unit repeated (twice
/// at least, the last time maybe cut short). No generated key or token
/// repeats itself; a person's password may (`hunter2hunter2`), so this is
/// judged for machine-made classes only.
pub fn periodic(v: &str) -> bool {
    let b = v.as_bytes();
    let n = b.len();
    if !(12..=512).contains(&n) {
        return false;
    }
    // The shortest period, from the prefix function (linear, on the stack).
    let mut pi = [0u16; 512];
    for i in 1..n {
        let mut k = pi[i - 1];
        while k > 0 && b[i] != b[usize::from(k)] {
            k = pi[usize::from(k) - 1];
        }
        if b[i] == b[usize::from(k)] {
            k += 1;
        }
        pi[i] = k;
    }
    let period = n - usize::from(pi[n - 1]);
    period * 2 <= n
}

/// `000102030405…1f`: hex of bytes counting up (a test vector's key).
fn counting_hex(v: &str) -> bool {
    let h = v.strip_prefix("0x").unwrap_or(v).as_bytes();
    h.len() >= 16
        && h.len() % 2 == 0
        && h.iter().all(u8::is_ascii_hexdigit)
        && h.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap_or("zz"), 16).unwrap_or(0))
            .collect::<Vec<u8>>()
            .windows(2)
            .all(|w| w[1] == w[0].wrapping_add(1))
}

/// Publishable keys are public by design: Stripe's `pk_live_…` and
/// `pk_test_…` ship in every checkout page.
fn publishable(v: &str) -> bool {
    v.starts_with("pk_live_") || v.starts_with("pk_test_")
}

/// True when the value reads as code: a dotted or bracketed path into an
/// object (`var.db_password`, `os.environ["X"]`, `settings.SECRET_KEY`), a
/// call, or an upper-case constant name that itself names a secret.
pub fn is_reference(v: &str) -> bool {
    let v = v.trim();
    if v.contains('(') || v.contains('[') {
        return true;
    }
    let segments: Vec<&str> = v.split('.').collect();
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if segments.len() >= 2 && segments.iter().all(|s| ident(s)) {
        // Dotted paths made of readable words (not `abc8Xq.T3kf0p` tokens),
        // or of lower-case words down to a constant's name
        // (`process.env.SMTP_PASS`, `settings.DB_PWD`).
        let (last, path) = segments.split_last().expect("two segments");
        let constant = last.bytes().all(|b| !b.is_ascii_lowercase())
            && path
                .iter()
                .all(|s| is_wordy(s) && s.bytes().any(|b| b.is_ascii_lowercase()));
        return constant || segments.iter().all(|s| is_wordy(s));
    }
    // Ruby's durations: `6.hours`, `30.minutes.ago`, `2.weeks`.
    if let Some((n, unit)) = v.split_once('.') {
        let unit = unit.split('.').next().unwrap_or(unit);
        if (1..=6).contains(&n.len())
            && n.bytes().all(|b| b.is_ascii_digit())
            && matches!(
                unit.trim_end_matches('s'),
                "second" | "minute" | "hour" | "day" | "week" | "fortnight" | "month" | "year"
            )
        {
            return true;
        }
    }
    // SCREAMING_CASE constants: PASSWORD, DB_PASS, API_KEY.
    if ident(v)
        && v.bytes().all(|b| !b.is_ascii_lowercase())
        && v.contains(|c: char| c.is_ascii_uppercase())
    {
        let ws = words(v);
        return ws
            .iter()
            .all(|w| w.len() >= 2 && w.bytes().all(|b| b.is_ascii_alphabetic()) && has_vowel(w))
            || ws.iter().any(|w| {
                matches!(
                    w.as_str(),
                    "password" | "pass" | "passwd" | "secret" | "token" | "key" | "pwd"
                )
            });
    }
    false
}

fn has_vowel(w: &str) -> bool {
    w.bytes()
        .any(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y'))
}

/// Short words without vowels that identifiers are full of.
const ABBREVIATIONS: &[&str] = &[
    "db", "cfg", "pwd", "str", "src", "dst", "ctx", "tmp", "lib", "pkg", "sql", "ssh", "tls",
    "ssl", "jwt", "dns", "tcp", "xml", "msg", "cmd", "std", "fmt", "num", "len", "img", "css",
    "js", "ts", "mps", "k", "v", "x", "n",
];

/// A word a person would write: an abbreviation, or letters with vowels and
/// no implausible consonant cluster (`rlmrhowmt` and `yxwdqlrg` are not).
fn readable(w: &str) -> bool {
    if !w.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    if ABBREVIATIONS.contains(&w) || w.len() == 1 {
        return true;
    }
    let mut run = 0;
    let mut longest = 0;
    for b in w.bytes() {
        if matches!(b, b'a' | b'e' | b'i' | b'o' | b'u') {
            run = 0;
        } else {
            run += 1;
            longest = longest.max(run);
        }
    }
    has_vowel(w) && longest <= 4 && (w.len() <= 3 || longest < w.len())
}

/// An identifier made of pronounceable words (`key_length`, `XSalsa20`,
/// `getPagesInConfluenceSpace`), as opposed to random characters.
pub fn is_wordy(s: &str) -> bool {
    let ws = words(s);
    if ws.is_empty() {
        return false;
    }
    let letters: usize = ws
        .iter()
        .filter(|w| w.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|w| w.len())
        .sum();
    let readable: usize = ws.iter().filter(|w| readable(w)).map(|w| w.len()).sum();
    let digits: usize = ws
        .iter()
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
        .map(|w| w.len())
        .sum();
    letters > 0 && readable * 10 >= letters * 9 && digits <= 4 && ws.len() * 4 <= s.len() + 4
}

/// Spans of lock-file digest sections: the lines after a line ending in
/// `CHECKSUMS:` (CocoaPods' `SPEC CHECKSUMS:`) up to the next blank or
/// unindented line, sorted and disjoint.
pub fn checksum_sections(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("CHECKSUMS:") {
        let head_end = from + i + "CHECKSUMS:".len();
        from = head_end;
        if !text[head_end..].starts_with('\n') {
            continue;
        }
        let mut end = head_end + 1;
        for line in text[head_end + 1..].split_inclusive('\n') {
            if !line.starts_with([' ', '\t']) || line.trim().is_empty() {
                break;
            }
            end += line.len();
        }
        out.push((head_end, end));
        from = end.max(head_end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        for p in [
            "${DB_PASSWORD}",
            "$API_KEY",
            "%TestSourcePassword%",
            "<YOUR_TOKEN>",
            "{{ .Values.password }}",
            "your-api-key-here",
            "xxxxxxxxxxxxxxxx",
            "********",
            "AKIAIOSFODNN7EXAMPLE",
            "[REDACTED:password]",
            "sk_test_XXXXXXXXXXXXXXXX",
            "true",
            "changeme",
            "...",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for s in [
            "hunter2!",
            "rootpasswd",
            "P@ssw0rd$1",
            "Uen4gfCzuiUc4xvueCy.BNfL2PG2Fg",
        ] {
            assert!(!is_placeholder(s), "{s}");
        }
    }

    #[test]
    fn references() {
        for r in [
            "var.db_password",
            "os.environ['X']",
            "XSalsa20.key_length",
            "PASSWORD",
            "settings.SECRET_KEY",
            "getenv(\"X\")",
        ] {
            assert!(is_reference(r), "{r}");
        }
        for s in ["Uen4gfCzuiUc4xvueCy.BNfL2PG2Fg", "hE1hlYILrSqpqh.atlasv1.ARjZuyzl33F71WR55s6ln5GQ1HWIwTDDH3MiRjz7OnpCfaCb1RCF5zGaSncCWmJdcYA", "rootpasswd"] {
            assert!(!is_reference(s), "{s}");
        }
    }
}
