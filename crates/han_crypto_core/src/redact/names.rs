//! What an identifier says about the value assigned to it: `DB_PASSWORD`,
//! `stripeApiKey`, `client-secret`, `--token` announce a secret; `kms_key_id`,
//! `public_key`, `token_url` and `passwordPolicy` do not.

use super::entropy::words;

/// The kind of secret a name announces, strongest evidence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameClass {
    /// password, passwd, pwd, passphrase, `PGPASS`.
    Password,
    /// secret, client_secret, `SECRET_KEY`.
    Secret,
    /// token, access_token, `HF_TOKEN`.
    Token,
    /// api_key, apikey, access_key, private_key, key.
    Key,
    /// credentials, creds, auth.
    Credential,
    /// Weak context only: a vendor's name or `login`; the value must look
    /// strongly random to count.
    Weak,
}

impl NameClass {
    /// The redaction type reported for a value under such a name.
    pub fn kind(self) -> &'static str {
        match self {
            NameClass::Password => "password",
            NameClass::Secret => "secret",
            NameClass::Token => "token",
            NameClass::Key => "api_key",
            NameClass::Credential => "credential",
            NameClass::Weak => "secret",
        }
    }
}

/// Compounds that end in `key` and name secret keys (`monkey` and `hotkey`
/// must not).
const KEY_COMPOUNDS: &[&str] = &[
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "masterkey",
    "signingkey",
    "authkey",
    "licensekey",
    "encryptionkey",
    "enckey",
    "sessionkey",
    "appkey",
    "clientkey",
    "accountkey",
    "consumerkey",
    "storagekey",
    "adminkey",
    "servicekey",
    "serverkey",
    "devkey",
    "restkey",
    "querykey",
    "writekey",
    "readkey",
    "ingestkey",
    "insertkey",
    "userkey",
    "deploykey",
    "sshkey",
    "hmackey",
    "jwtkey",
    "cryptkey",
    "apikeys",
    "secretaccesskey",
];

/// Words that, following the secret word, show the name is about something
/// else: its id, name, length, location, lifetime or type.
const NEUTRAL_AFTER: &[&str] = &[
    // Already encrypted or hashed: `LoadCredentialEncrypted`, `password_enc`.
    "encrypted",
    "enc",
    "ciphertext",
    "sealed",
    "hashed",
    "fingerprint",
    "fingerprints",
    "id",
    "ids",
    // OAuth refresh-token rotation tracks a token family by its id.
    "family",
    // `password-flags: Flags indicating how…` (NetworkManager), `token_flags`.
    "flags",
    "flag",
    // `token.audience  sts.amazonaws.com`.
    "audience",
    // The name of a protection space, shown at a login prompt:
    // `REGISTRY_AUTH_HTPASSWD_REALM`, `auth_realm`, `password_realm`.
    "realm",
    "name",
    "names",
    "type",
    "types",
    "size",
    "length",
    "len",
    "file",
    "filename",
    "files",
    "path",
    "paths",
    "dir",
    "directory",
    "url",
    "uri",
    "urls",
    "endpoint",
    "hash",
    "version",
    "event",
    "field",
    "fields",
    "label",
    "header",
    "prefix",
    "suffix",
    "format",
    "count",
    "policy",
    "policies",
    "ref",
    "reference",
    "variable",
    "var",
    "mode",
    "pattern",
    "regex",
    "class",
    "index",
    "idx",
    "store",
    "arn",
    "location",
    "expiry",
    "expires",
    "expiration",
    "ttl",
    "timeout",
    // How long a secret lasts or waits: Devise's `reset_password_within`,
    // `token_lifetime`, `password_change_interval`.
    "within",
    "lifetime",
    "duration",
    "interval",
    "period",
    "enabled",
    "enable",
    "disabled",
    "required",
    "provider",
    "method",
    "scope",
    "scopes",
    "strategy",
    "kind",
    "template",
    "generator",
    "source",
    "chars",
    "charset",
    "alphabet",
    "rotation",
    "manager",
    "selector",
    "pressed",
    "down",
    "up",
    "code",
    "codes",
    "frame",
    "hint",
    "hints",
    "prompt",
    "placeholder",
    "min",
    "max",
    "strength",
    "reset",
    "changed",
    "change",
    "confirm",
    "confirmation",
    "input",
    "column",
    "col",
    "param",
    "params",
    "option",
    "options",
    "list",
    "map",
    "set",
    "tag",
    "tags",
    "vault",
    "algorithm",
    "alg",
    "algo",
    "bits",
    "usage",
    "usages",
    "spec",
    "meshing",
    "pair",
    "share",
    "shared",
    "signatures",
    "signature",
    "config",
    "configuration",
    "env",
    "ring",
    "chain",
    // What is done to or with a secret, not the secret: `password_encryption`,
    // `token_rotation`, `secret_manager`.
    "encryption",
    "algorithm",
    "algo",
    "scheme",
    "method",
    "strength",
    "complexity",
    "rotation",
    "expiry",
    "expiration",
    "manager",
    "store",
    "provider",
    // What handles a secret: `.passwordHasher("argon2")`,
    // `password_encoding = "utf-8"`, `token_validator`.
    "table",
    "hasher",
    "hashing",
    "encoder",
    "encoding",
    "validator",
    "verifier",
    // On-chain identifiers are public: `tokenAddress`, `token_contract`.
    "address",
    "addr",
    "contract",
    "mint",
];

/// Words that, preceding `key` or `token`, name a non-secret kind of key.
const NEUTRAL_BEFORE: &[&str] = &[
    "sha",
    "sha1",
    "sha256",
    "sha512",
    "md5",
    "hash",
    "digest",
    "checksum",
    "content",
    "range",
    "dynamodb",
    "s3",
    "public",
    "pub",
    "primary",
    "foreign",
    "sort",
    "partition",
    "cache",
    "csrf",
    "xsrf",
    "idempotency",
    "dedup",
    "hot",
    "page",
    "next",
    "authenticity",
    "continuation",
    "cursor",
    "sequence",
    "schema",
    "bucket",
    "lookup",
    "composite",
    "unique",
    "index",
    "map",
    "dict",
    "row",
    "routing",
    "registry",
    "repository",
    "object",
    "host",
    "keyboard",
    "sorting",
    "group",
    "cluster",
    "shard",
    "sharding",
    "entry",
    "cache",
    "publishable",
    "anon",
    "issuer",
    "kms",
    "doc",
    "pagination",
    "sync",
    "refresh_url",
    "mapping",
    "translation",
    "i18n",
    "locale",
    "message",
    "lang",
    "react",
    "list",
    "item",
    "node",
    // Keys that name a record: PagerDuty's `incident_key`, trace and
    // request correlation keys.
    "incident",
    "event",
    "trace",
    "correlation",
    "job",
    "task",
    "record",
    // reCAPTCHA's, hCaptcha's and Turnstile's site keys ship in pages.
    "site",
];

/// Vendor names whose appearance as an identifier is weak evidence.
pub const VENDORS: &[&str] = &[
    "cloudflare",
    "sourcegraph",
    "meraki",
    "heroku",
    "hubspot",
    "snyk",
    "sonar",
    "telegram",
    "facebook",
    "twitter",
    "discord",
    "okta",
    "mailchimp",
    "mailgun",
    "sendgrid",
    "twilio",
    "stripe",
    "artifactory",
    "jfrog",
    "sumologic",
    "sumo",
    "datadog",
    "newrelic",
    "sentry",
    "slack",
    "github",
    "gitlab",
    "bitbucket",
    "atlassian",
    "jira",
    "confluence",
    "openai",
    "anthropic",
    "huggingface",
    "dropbox",
    "shopify",
    "square",
    "pinecone",
    "segment",
    "rollbar",
    "deepgram",
    "buildkite",
    "doppler",
    "elevenlabs",
    "replicate",
    "netlify",
    "openrouter",
    "groq",
    "ngrok",
    "resend",
    "mixpanel",
    "algolia",
    "cohere",
    "mistral",
    "vercel",
    "supabase",
    "pagerduty",
    "opsgenie",
    "honeycomb",
    "bugsnag",
    "launchdarkly",
    "postmark",
    "sparkpost",
    "mandrill",
    "plaid",
    "braintree",
    "paypal",
    "razorpay",
    "intercom",
    "zendesk",
    "pusher",
    "contentful",
    "cloudinary",
    "mapbox",
    "airtable",
    "asana",
    "clickup",
    "circleci",
    "travis",
    "fireworks",
    "perplexity",
    "voyage",
    "assemblyai",
    "pipedrive",
    "freshdesk",
    "loggly",
    "logdna",
    "papertrail",
    "onesignal",
    "amplitude",
    "deepseek",
    "posthog",
    "apify",
    "uptimerobot",
    "bitwarden",
    "klaviyo",
    "serpapi",
    "firecrawl",
    "mercadopago",
    "upstash",
    "cerebras",
    "infisical",
    "axiom",
    "ably",
    "customerio",
    // Hosting, model APIs, observability, payments and web3 providers
    // whose names key a config map (`hetzner: …`, `"together": "…"`).
    "hetzner",
    "linode",
    "digitalocean",
    "scaleway",
    "vultr",
    "backblaze",
    "runpod",
    "together",
    "anyscale",
    "langsmith",
    "langfuse",
    "weaviate",
    "qdrant",
    "turso",
    "planetscale",
    "auth0",
    "twitch",
    "mailjet",
    "brevo",
    "sendinblue",
    "nylas",
    "notion",
    "figma",
    "typeform",
    "salesforce",
    "zapier",
    "rudderstack",
    "statsig",
    "flagsmith",
    "grafana",
    "splunk",
    "coralogix",
    "dynatrace",
    "chargebee",
    "lemonsqueezy",
    "adyen",
    "mollie",
    "coinbase",
    "infura",
    "etherscan",
    "moralis",
    "pinata",
    "openweathermap",
    "openweather",
];

/// [`VENDORS`] sorted, for lookups: the names are tested at most keyword
/// hits in running prose (`key`, `token`), where a linear scan of ~100
/// names was a tenth of the scan's time.
fn vendors_sorted() -> &'static [&'static str] {
    static SORTED: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    SORTED.get_or_init(|| {
        let mut v = VENDORS.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// Whether `w` (lower case) is one of [`VENDORS`].
fn is_vendor_lower(w: &str) -> bool {
    vendors_sorted().binary_search(&w).is_ok()
}

/// Whether `word` (any case) is one of [`VENDORS`].
pub fn is_vendor(word: &[u8]) -> bool {
    let mut buf = [0u8; 24];
    if word.len() > buf.len() {
        return false;
    }
    let lower = &mut buf[..word.len()];
    lower.copy_from_slice(word);
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower).is_ok_and(is_vendor_lower)
}

/// Words that name a digest of something: `checksum/secret`, `key_sha256`,
/// `token_hash`, `password_md5` are hashes, whatever they hash.
const DIGEST_WORDS: &[&str] = &[
    "checksum",
    "checksums",
    "digest",
    "hash",
    "hashed",
    "sha",
    "sha1",
    "sha256",
    "sha384",
    "sha512",
    "md5",
    "fingerprint",
    "crc32",
];

/// Whether a (lower-case) word names a digest.
pub fn is_digest_word(w: &str) -> bool {
    DIGEST_WORDS.contains(&w)
}

fn word_class(w: &str) -> Option<NameClass> {
    Some(match w {
        "password" | "passwd" | "passwort" | "pwd" | "passphrase" | "pass" | "pw" | "passw"
        | "pword" => NameClass::Password,
        // A Wi-Fi or TLS pre-shared key (`psk=`, `wpa_psk`): the value must
        // look random, as for a secret (`--psk : pre-shared-key in hex` is
        // documentation).
        "psk" => NameClass::Secret,
        _ if w.ends_with("password") || w.ends_with("passwd") || w.ends_with("passphrase") => {
            NameClass::Password
        }
        _ if w.ends_with("pass")
            && !matches!(
                w,
                "bypass"
                    | "compass"
                    | "surpass"
                    | "encompass"
                    | "overpass"
                    | "underpass"
                    | "trespass"
                    | "firstpass"
                    | "multipass"
                    | "singlepass"
                    | "onepass"
                    | "twopass"
            ) =>
        {
            NameClass::Password
        }
        "secret" | "secrets" => NameClass::Secret,
        // A salt or pepper constant in code is key material (HMAC pepper,
        // KDF salt a deployment keeps private); the value must look random.
        "salt" | "pepper" => NameClass::Secret,
        _ if w.ends_with("secret") => NameClass::Secret,
        "token" | "tokens" => NameClass::Token,
        _ if w.ends_with("token") => NameClass::Token,
        "key" => NameClass::Key,
        _ if KEY_COMPOUNDS.contains(&w) => NameClass::Key,
        "credential" | "credentials" | "creds" | "cred" | "auth" | "authorization" | "bearer" => {
            NameClass::Credential
        }
        "login" | "accessid" => NameClass::Weak,
        _ if is_vendor_lower(w) => NameClass::Weak,
        _ => return None,
    })
}

/// Whether a name's secret word is `salt` or `pepper`: material a recipe or
/// a config holds in clear as often as a deployment keeps it private, so
/// only a random-looking value counts.
pub fn names_material(name: &str) -> bool {
    let ws = words(name);
    ws.iter().any(|w| w == "salt" || w == "pepper")
        && !ws.iter().any(|w| {
            matches!(word_class(w), Some(c) if c != NameClass::Weak) && w != "salt" && w != "pepper"
        })
}

/// Whether the prose words around a bare `key`/`token`/`secret` make it a
/// non-secret kind ("cache key: …", "the public key is …", "key id: …",
/// "x-amz-content-sha256 key: …"). `before` and `after` are the words
/// next to it, if any; only their last/first part (after `-`/`_`) counts.
pub fn neutral_in_prose(before: Option<&str>, after: Option<&str>) -> bool {
    let last = |w: &str| {
        w.rsplit(['-', '_', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let first = |w: &str| {
        w.split(['-', '_', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    before.is_some_and(|b| NEUTRAL_BEFORE.contains(&last(b).as_str()))
        || after.is_some_and(|a| NEUTRAL_AFTER.contains(&first(a).as_str()))
}

/// The word (letters, digits, `-`, `_`, `.`) that ends right before
/// `at` after blanks, and the one that starts after `end` after blanks.
pub fn words_around(text: &str, at: usize, end: usize) -> (Option<&str>, Option<&str>) {
    let b = text.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    let mut e = at;
    while e > 0 && b[e - 1] == b' ' {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && is_word(b[s - 1]) && e - s < 64 {
        s -= 1;
    }
    let before = (e < at && s < e).then(|| &text[s..e]);
    let mut s2 = end;
    while s2 < b.len() && b[s2] == b' ' {
        s2 += 1;
    }
    let mut e2 = s2;
    while e2 < b.len() && b[e2].is_ascii_alphanumeric() && e2 - s2 < 64 {
        e2 += 1;
    }
    let after = (s2 > end && e2 > s2).then(|| &text[s2..e2]);
    (before, after)
}

/// Classifies an identifier; `None` when it announces no secret.
pub fn classify(name: &str) -> Option<NameClass> {
    // Allocation-free for ordinary names: this runs at every keyword hit.
    let stack = super::entropy::Words::of(name);
    let owned;
    let mut refs: [&str; 64] = [""; 64];
    let n = match &stack {
        Some(w) => {
            let mut n = 0;
            for (slot, word) in refs.iter_mut().zip(w.list()) {
                *slot = word;
                n += 1;
            }
            n
        }
        None => {
            owned = words(name);
            for (slot, word) in refs.iter_mut().zip(owned.iter()) {
                *slot = word.as_str();
            }
            owned.len().min(refs.len())
        }
    };
    classify_words(&refs[..n])
}

fn classify_words(ws: &[&str]) -> Option<NameClass> {
    // Erlang's distribution cookie (`RABBITMQ_ERLANG_COOKIE`,
    // `--erlang-cookie`, `.erlang.cookie`): the shared secret that lets a
    // node join the cluster.
    if let [.., "erlang", "cookie"] = ws {
        return Some(NameClass::Secret);
    }
    let (pos, mut class) = ws
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, w)| word_class(w).map(|c| (i, c)))?;
    let after = &ws[pos + 1..];
    // gorilla/securecookie's `cookieHashKey`: the cookie's HMAC key, not a
    // digest.
    let cookie_hash_key = pos >= 2
        && ws[pos - 1] == "hash"
        && ws[..pos - 1]
            .iter()
            .any(|w| matches!(*w, "cookie" | "session" | "securecookie"));
    if ws.iter().any(|w| is_digest_word(w)) && !cookie_hash_key {
        return None;
    }
    // `FAKE_AES_KEY`, `dummyToken`, `examplePassword`: the name says the
    // value is made up (not `TEST_…`: test-mode keys are live credentials).
    if ws.iter().any(|w| {
        matches!(
            *w,
            "fake" | "dummy" | "example" | "sample" | "placeholder" | "mock" | "bogus"
        )
    }) {
        return None;
    }
    // A provider's name is evidence only as the whole name or its last
    // word (`PINECONE`, `app.segment`): `sentry-trace`, `stripe_account`
    // name something of that provider's that is not its key.
    if class == NameClass::Weak && !after.is_empty() && is_vendor_lower(ws[pos]) {
        return None;
    }
    // nginx's `proxy_pass`, `fastcgi_pass`, `grpc_pass`: where a request
    // is passed on to (an upstream's address), not a password.
    if ws[pos] == "pass"
        && pos >= 1
        && matches!(
            ws[pos - 1],
            "proxy" | "fastcgi" | "uwsgi" | "scgi" | "grpc" | "memcached"
        )
    {
        return None;
    }
    // A pre-shared key only as the name's last word (`psk`, `wpa_psk`;
    // `psk_offer` is a TLS structure).
    if ws[pos] == "psk" && !after.is_empty() {
        return None;
    }
    // Vault AppRole's `secret_id` is the credential itself, not an id of one.
    let approle = ws[pos] == "secret" && after == ["id"] && pos == ws.len() - 2;
    if after.iter().any(|w| NEUTRAL_AFTER.contains(w)) && !approle {
        // `access_key_id` and `secret_key`: a key word after a stronger one.
        return None;
    }
    let before = pos.checked_sub(1).map(|i| ws[i]);
    // Rails' `active_record.encryption.primary_key`: under an encryption
    // setting, a primary key is the cipher's key, not a table's.
    let encryption_setting = before == Some("primary")
        && ws[..pos - 1]
            .iter()
            .any(|w| matches!(*w, "encryption" | "encrypt" | "cipher" | "crypto"))
        || cookie_hash_key;
    if matches!(class, NameClass::Key | NameClass::Token)
        && before.is_some_and(|b| NEUTRAL_BEFORE.contains(&b))
        && !encryption_setting
    {
        return None;
    }
    // `api key`, `secret key`, `private key`, `access key` as separate words.
    if class == NameClass::Key {
        if let Some(b) = before {
            if matches!(
                b,
                "secret" | "private" | "master" | "signing" | "encryption"
            ) {
                class = NameClass::Secret;
            }
        }
    }
    // Any stronger word earlier in the name raises the class (`secret_token`).
    if let Some(stronger) = ws[..pos]
        .iter()
        .filter_map(|w| word_class(w))
        .filter(|c| *c != NameClass::Weak)
        .min()
    {
        if stronger < class {
            class = stronger;
        }
    }
    if class == NameClass::Weak && ws.contains(&"access") && ws.last().is_some_and(|w| *w == "id") {
        return Some(NameClass::Weak);
    }
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for (n, c) in [
            ("DB_PASSWORD", NameClass::Password),
            ("PGPASSWORD", NameClass::Password),
            ("--password", NameClass::Password),
            ("ClearTextPassword", NameClass::Password),
            ("client_secret", NameClass::Secret),
            ("AWS_SECRET_ACCESS_KEY", NameClass::Secret),
            ("HF_TOKEN", NameClass::Token),
            ("1passwordToken", NameClass::Password),
            ("stripeApiKey", NameClass::Key),
            ("creds", NameClass::Credential),
            ("todo_secret_do_not_commit", NameClass::Secret),
            ("SONAR_LOGIN", NameClass::Weak),
            ("active_record.encryption.primary_key", NameClass::Key),
        ] {
            assert_eq!(classify(n), Some(c), "{n}");
        }
    }

    #[test]
    fn neutral_names() {
        for n in [
            "kms_key_id",
            "public_key",
            "publicToken",
            "primaryKey",
            "token_url",
            "passwordPolicy",
            "key_length",
            "secret_length",
            "LLM_SECRET_NAME",
            "passwordVariable",
            "clientId",
            "csrf-token",
            "keyword",
            "monkey",
            "keyStore",
            "validKeyChars",
            "AVEncVideoMaxKeyframeDistance",
            "bypass",
            "issuerKeyHash",
            "REGISTRY_AUTH_HTPASSWD_REALM",
            "proxy_pass",
            "fastcgi_pass",
            "grpc_pass",
        ] {
            assert_eq!(classify(n), None, "{n}");
        }
    }
}
