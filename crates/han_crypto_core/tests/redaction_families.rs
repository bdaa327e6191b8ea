//! Families of session text the redactor must handle (issue #15), each with
//! samples of our own: secrets in the forms coding sessions carry them, and
//! clean text that looks like them but must come through unchanged.

use han_crypto_core::redact::{builtin, Policy};

fn redact(text: &str) -> String {
    builtin().redact(text, Policy::ALL).0.into_owned()
}

fn assert_gone(text: &str, secrets: &[&str]) {
    let out = redact(text);
    for s in secrets {
        assert!(!out.contains(s), "{s:?} survived in\n{text}\n->\n{out}");
    }
}

fn assert_unchanged(text: &str) {
    assert_eq!(redact(text), text, "clean text changed");
}

// ── Secrets inside JSON-escaped strings ──────────────────────────────────

const PEM_BODY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";

#[test]
fn a_service_account_key_pasted_as_a_json_string() {
    let text = format!(
        r#"{{"tool":"read_file","result":"{{\n  \"type\": \"service_account\",\n  \"project_id\": \"acme-prod\",\n  \"private_key_id\": \"3f1e0c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"svc@acme-prod.iam.gserviceaccount.com\"\n}}"}}"#
    );
    assert_gone(&text, &[PEM_BODY]);
    let out = redact(&text);
    assert!(
        out.contains("svc@acme-prod.iam.gserviceaccount.com"),
        "{out}"
    );
    assert!(out.contains(r#"\"project_id\": \"acme-prod\""#), "{out}");
}

#[test]
fn a_pem_key_with_escaped_newlines_one_level_deep() {
    let text = format!("\"key\": \"-----BEGIN RSA PRIVATE KEY-----\\n{PEM_BODY}\\n{PEM_BODY}\\n-----END RSA PRIVATE KEY-----\"");
    assert_gone(&text, &[PEM_BODY]);
}

#[test]
fn env_lines_after_an_escaped_newline() {
    let text = r#"{"stdout": "loaded .env\nDATABASE_URL=postgres://app@db:5432/app\nSTRIPE_SECRET_KEY=sk_live_51Nq8ZkQ2vT7pLm4Xr9sWd3Yh6Jc0Fb1Ge5Ka8Ru2Tn\nAPI_SECRET=Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lM\nDEBUG=false\n"}"#;
    assert_gone(
        text,
        &[
            "sk_live_51Nq8ZkQ2vT7pLm4Xr9sWd3Yh6Jc0Fb1Ge5Ka8Ru2Tn",
            "Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lM",
        ],
    );
    let out = redact(text);
    assert!(
        out.contains(r"\nDEBUG=false\n"),
        "the escapes around a secret stay: {out}"
    );
}

#[test]
fn quotes_escaped_around_a_password() {
    let text = r#"{"input": "{\"user\": \"deploy\", \"password\": \"Tr0ub4dor&3-staging\"}"}"#;
    assert_gone(text, &["Tr0ub4dor&3-staging"]);
    assert!(redact(text).contains(r#"\"user\": \"deploy\""#));
}

#[test]
fn escaped_text_without_secrets_is_unchanged() {
    for text in [
        r#"{"stdout": "running 3 tests\ntest auth::rejects_bad_token ... ok\ntest result: ok. 3 passed\n"}"#,
        r#"{"content": "fn main() {\n    println!(\"password length must be >= 12\");\n}\n"}"#,
        r#"{"cmd": "grep -rn \"api_key\" src/ | head\n"}"#,
    ] {
        assert_unchanged(text);
    }
}

// ── Credential pairs side by side ────────────────────────────────────────

const AWS_ID: &str = "AKIAZ7QX3RDV5TEN2MWB";
const AWS_SECRET: &str = "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";

#[test]
fn aws_pairs_written_without_names() {
    for text in [
        format!("use {AWS_ID}:{AWS_SECRET} for the staging bucket"),
        format!("creds ({AWS_ID} / {AWS_SECRET}) expire friday"),
        format!("new BasicAWSCredentials(\"{AWS_ID}\", \"{AWS_SECRET}\");"),
        format!("AWSCredentials c = new AWSCredentials('{AWS_ID}', '{AWS_SECRET}')"),
        format!("{AWS_ID},{AWS_SECRET}"),
        format!("{AWS_ID}\n{AWS_SECRET}\n"),
        format!("{AWS_SECRET}:{AWS_ID}"),
    ] {
        assert_gone(&text, &[AWS_ID, AWS_SECRET]);
    }
}

#[test]
fn a_40_character_word_next_to_an_id_is_not_taken() {
    // Not secret-shaped: one case, readable words.
    let text = format!("{AWS_ID} / this_is_not_a_secret_just_a_long_label1");
    let out = redact(&text);
    assert!(
        out.contains("this_is_not_a_secret_just_a_long_label1"),
        "{out}"
    );
}

// ── Key constants in code ────────────────────────────────────────────────

#[test]
fn key_constants_in_rust_go_typescript_python_java_csharp_c() {
    for (line, secret) in [
        ("const MASTER_KEY_HEX: &str = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\";", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        ("pub static SIGNING_SECRET: &[u8] = b\"Zq3vT7mK9pL4wR8zN3bC5dF6gH1jK0lM\";", "Zq3vT7mK9pL4wR8zN3bC5dF6gH1jK0lM"),
        ("static HMAC_KEY: [u8; 32] = *b\"Ux8wQ2rT5yV7bN3mK9pL4sD6fG1hJ0zC\";", "Ux8wQ2rT5yV7bN3mK9pL4sD6fG1hJ0zC"),
        ("var signingSecret = \"c2VjcmV0LXNpZ25pbmcta2V5LXZhbHVlLWFiY2RlZmdoaWo=\"", "c2VjcmV0LXNpZ25pbmcta2V5LXZhbHVlLWFiY2RlZmdoaWo="),
        ("const apiToken string = \"7d9f3b2a1c8e4f6a0b5d7c9e1f3a5b7c\"", "7d9f3b2a1c8e4f6a0b5d7c9e1f3a5b7c"),
        ("export const API_TOKEN: string = 'b3f1c9e7a5d2f8c4e6a0b9d1f3c5e7a9';", "b3f1c9e7a5d2f8c4e6a0b9d1f3c5e7a9"),
        ("SECRET_KEY = \"django-insecure-8g$k2!x@9z#q4w&e7r^t6y*u5i(o3p)l1\"", "django-insecure-8g$k2!x@9z#q4w&e7r^t6y*u5i(o3p)l1"),
        ("private static final String HMAC_KEY = \"4a7d1ed414474e4033ac29ccb8653d9b\";", "4a7d1ed414474e4033ac29ccb8653d9b"),
        ("let salt = \"QmFzZTY0U2FsdFZhbHVlRm9yVGVzdGluZzEyMw==\";", "QmFzZTY0U2FsdFZhbHVlRm9yVGVzdGluZzEyMw=="),
        ("public const string EncryptionKey = \"Xk9vT2mK9pL4wR8zN3bC5dF6gH1jK0lMq8Lr2Tq9\";", "Xk9vT2mK9pL4wR8zN3bC5dF6gH1jK0lMq8Lr2Tq9"),
        ("static const char *kAuthToken = \"ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56\";", "ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56"),
    ] {
        assert_gone(line, &[secret]);
    }
}

#[test]
fn typed_declarations_that_hold_no_secret_are_unchanged() {
    for text in [
        "const KEY_LEN: usize = 32;",
        "let token: Option<String> = None;",
        "const TOKEN_HEADER: &str = \"Authorization\";",
        "password: a=b",
        "fn salt_len(salt: &[u8]) -> usize { salt.len() }",
        "static SECRET_NAME: &str = \"prod/db/password\";",
    ] {
        assert_unchanged(text);
    }
}

// ── Precision: what must come through unchanged ──────────────────────────

#[test]
fn vendor_documentation_examples_and_made_up_values() {
    for text in [
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "export AWS_SECRET_ACCESS_KEY=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "AWS Secret Access Key [None]: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "db_password   = \"CHANGE_ME\"",
        "DB_PASSWORD=change-me-before-deploy",
        "api_token: \"invalid-token-for-tests\"",
        "STRIPE_SECRET=sk_dummy_placeholder_value",
        "password: \"your-password-here\"",
        "secret_key = \"notasecret\"",
        "API_KEY=<REPLACE_ME>",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn values_already_encrypted_or_kept_elsewhere() {
    for text in [
        "db_password: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          62313365396662343061393464336163383764373764613633653634306231386433626436623361\n",
        "password: ENC[AES256_GCM,data:Un7DMc5uJjJH+IwlufR9f26zTe6a8PqS,iv:+vCUGj7BLOZB4cOyWUawShKMYm4TpE0/AjIibW4LmA0=,tag:1YDAHcYgksVkp3+ZkcXiQA==,type:str]",
        "{\n\t\"api_token\": \"ENC[AES256_GCM,data:pSU41qGSD6KDnJArNUXr1jNzpiKd89Qe,iv:WzK8xP+akGU4jIe8pUyzsJqc6SE6z5C9l9GcTn4suS8=,tag:Vx5CknSSsmY5rpM9gcY+wQ==,type:str]\"\n}",
        "kind: SealedSecret\nspec:\n  encryptedData:\n    DATABASE_PASSWORD: AgBQ51mMlAvafKvNUjc7jIEqmEflCM8jqtJ/e/LsviTr40ZuKml4J5gbs/0PybTXaB8zgAAawpy533Pds8Kq\n    API_TOKEN: AgCx9Lm2Qp7Rt5Vw3Zy8Ab4Cd6Ef1Gh0Ij2Kl4Mn6Op8Qr0St2Uv4Wx6Yz8Ab0Cd2Ef4Gh6Ij8Kl0Mn2Op4Q\n  template:\n    metadata:\n      name: app\n",
        "api_token: vault:secret/data/prod/notifier/upstream#token",
        "DB_PASSWORD=arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
        "password: projects/acme-prod/secrets/db-password/versions/3",
        "OPENAI_API_KEY=op://Engineering/OpenAI/credential",
        "LoadCredentialEncrypted=db-password:/etc/credstore.encrypted/billing-api-db-password",
        "    remoteRef:\n        key: prod/inventory-svc/postgres\n        property: password\n",
        "password_file: /run/secrets/db-password",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn help_texts_and_usage_strings() {
    for text in [
        "Options:\n  -p, --password string   Password or Personal Access Token (PAT)\n      --password-stdin    Take the Password or Personal Access Token (PAT) from stdin\n  -u, --username string   Username",
        "      --password-command command   shell command to obtain the repository password from (default: $RESTIC_PASSWORD_COMMAND)",
        "      --api-key <API_KEY>    API key used to authenticate [env: ARTSYNC_API_KEY=]",
        "      $ vault login -method=userpass username=my-username",
    ] {
        assert_unchanged(text);
    }
}

// ── Values beside a provider's name or a secret word ─────────────────────

#[test]
fn a_value_set_right_beside_a_secret_word_or_a_provider() {
    for (text, secret) in [
        ("the fastly token '-o9o4Ivm49kQR3_mSjK9oIYs9JlCmJeg' stopped working", "-o9o4Ivm49kQR3_mSjK9oIYs9JlCmJeg"),
        ("minio: access key `KELX2NZLYH19L4QYLEZP`, secret key `PBBegE2wccpo5WWNFoliMveshpCF2P37rsYCmkul`.", "PBBegE2wccpo5WWNFoliMveshpCF2P37rsYCmkul"),
        ("PagerDuty token\nWHaCetLlg8tNZ59tJAP1\n\n(integration is Events API v2)", "WHaCetLlg8tNZ59tJAP1"),
        ("datadog api key - f7cd7dbb4ac69284b7875787e080eadc", "f7cd7dbb4ac69284b7875787e080eadc"),
        ("the sendgrid key 'SG.Xq7vT2mK9pL4wR8zN3bC5d.F6gH1jK0lMq8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2W'", "F6gH1jK0lMq8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2W"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn words_beside_secret_nouns_that_are_not_values() {
    for text in [
        "the token 'expired' error again",
        "datadog - the agent restarted twice overnight",
        "rotate the token\nthen restart the service\n",
        "commit key - 9c1f2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6 is the merge",
        // Beside a provider's name, hex and UUIDs are ids as often as keys.
        "Sentry - 9f2a3b4c5d6e4f708192a3b4c5d6e7f8 (event id)",
        "datadog - 3f9a1c2b-7d4e-4f6a-9b8c-0d1e2f3a4b5c",
    ] {
        assert_unchanged(text);
    }
}

// ── Keys in URLs ─────────────────────────────────────────────────────────

#[test]
fn signatures_and_keys_in_urls() {
    for (text, secret) in [
        ("curl -X POST https://maker.ifttt.com/trigger/backup_done/with/key/sTawbc2aSgy514-h7AL0sg -d value1=ok", "sTawbc2aSgy514-h7AL0sg"),
        ("https://x.s3.amazonaws.com/d.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261104T101500Z&X-Amz-Signature=8e1c0b6f7a1d9b0c4e2a5f3d7c9b1a0e8f6d4c2b0a9e7c5b3a1f0e8d6c4b2a09", "8e1c0b6f7a1d9b0c4e2a5f3d7c9b1a0e8f6d4c2b0a9e7c5b3a1f0e8d6c4b2a09"),
        ("https://acct.blob.core.windows.net/c/f.zip?sv=2022-11-02&se=2026-12-02&sp=r&sig=Kq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lM%2Bq8Lr2Tq9e4Z%3D", "Kq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lM"),
    ] {
        assert_gone(text, &[secret]);
    }
    assert_unchanged("see https://docs.example.com/api/key/rotation-and-expiry for details");
}

// ── Literals inside the expression a secret constant is built from ───────

#[test]
fn literals_wrapped_in_a_call_or_a_default() {
    for (text, secret) in [
        ("var jwtSecret = []byte(\"mtU66ymtX0auuihjLpi0NebELYQ9M4BwfbFHBjAPlmsxrWC8\")", "mtU66ymtX0auuihjLpi0NebELYQ9M4BwfbFHBjAPlmsxrWC8"),
        ("HMAC_SECRET = bytes.fromhex(\n    \"9aa854e0f7a752cac10ce2906f56d95816a2bd0bf456973092457a3a30d955b9\"\n)", "9aa854e0f7a752cac10ce2906f56d95816a2bd0bf456973092457a3a30d955b9"),
        ("const WEBHOOK_HMAC_KEY: [u8; 32] = hex!(\"8d58a9f36d4d8f63e4885c4b8b452bca106a467be2028a7fbdf8d46bca79b938\");", "8d58a9f36d4d8f63e4885c4b8b452bca106a467be2028a7fbdf8d46bca79b938"),
        ("export const WEBHOOK_SIGNING_SECRET =\n  process.env.WEBHOOK_SIGNING_SECRET ?? \"ec4c2f2cba75d4c9d3c6c24ab20eb87a646532a5232485373a5d3904e6ecf28a\";", "ec4c2f2cba75d4c9d3c6c24ab20eb87a646532a5232485373a5d3904e6ecf28a"),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "SECRET_KEY = os.environ.get(\"DJANGO_SECRET_KEY\", \"replace-this-with-a-real-secret\")",
        "token = request.headers.get(\"Authorization\")",
        "API_KEY = os.getenv(\"OPENAI_API_KEY\")",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn alibaba_pairs() {
    assert_gone(
        "DefaultProfile.getProfile(\n        \"cn-hangzhou\",\n        \"LTAI5tylK4GRNXTKlKzL1XRS\",\n        \"jiojQEnbXQLHMddhbeoOxZn7xy4OTv\");",
        &["LTAI5tylK4GRNXTKlKzL1XRS", "jiojQEnbXQLHMddhbeoOxZn7xy4OTv"],
    );
}

// ── Confidence and explanation ───────────────────────────────────────────

#[test]
fn a_minimum_confidence_drops_weaker_evidence_only() {
    use han_crypto_core::redact::explain;
    let text = "STRIPE_KEY=sk_live_51OuEMLAlTWGaDypq4P5cuDHbuKeG4tAGPYHJpEXQ7zE8mKK3jkhT\nthe fastly token '-o9o4Ivm49kQR3_mSjK9oIYs9JlCmJeg' stopped working";
    let all = builtin().scan(text, Policy::ALL);
    assert_eq!(all.len(), 2, "{all:?}");
    let strict = builtin().scan(text, Policy::ALL.with_min_confidence(0.9));
    assert_eq!(strict.len(), 1);
    assert_eq!(strict[0].kind, "stripe_key");
    assert!(explain(&all[0].rule).contains("vendor"));
    assert!(explain(&all[1].rule).contains("prose"));
    let (kept, _) = builtin().redact(text, Policy::ALL.with_min_confidence(0.9));
    assert!(kept.contains("-o9o4Ivm49kQR3_mSjK9oIYs9JlCmJeg") && !kept.contains("sk_live_"));
}

// ── Attacks and slips found in review ─────────────────────────────────────

#[test]
fn review_findings_stay_fixed() {
    // A password that starts with `!` is not a YAML tag.
    assert_gone("DB_PASSWORD=!Qw3rty#2024x", &["!Qw3rty#2024x"]);
    assert_gone("password: \"!Zx9#qLm2Wp\"", &["!Zx9#qLm2Wp"]);
    // A parameter after a URN value is still read.
    assert_gone(
        "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=Zq3vT7mK9pL4wR8zN3bC5dF6gH1jK0lM",
        &["Zq3vT7mK9pL4wR8zN3bC5dF6gH1jK0lM"],
    );
    // An unterminated PGP header does not switch redaction off after it.
    assert_gone(
        "$ head msg.asc\n-----BEGIN PGP MESSAGE-----\n\nhQEMA5Xq7vT2mK9pAQf/\n...\nexport GITHUB_TOKEN=ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU",
        &["ghp_8fK2mQ9xL4vN7pR3tW6yB1cD5gH0jZ2aE4sU"],
    );
    // A password with a slash is not a secret-store path.
    assert_gone("PGPASSWORD=tr0ub4dor/3xk9q psql", &["tr0ub4dor/3xk9q"]);
    // Routes with secret words are not keys; a git SHA beside an id is not its secret.
    assert_unchanged("fetch(\"/api/token/validateRefreshToken\")");
    assert_unchanged("see github.com/acme/app/tree/main/src/token/RefreshTokenService/ for it");
    let out = redact("AKIAZ3MSJV4WWNKWW5FG,9fceb02d0ae598e95dc970b74767f19372d61af8,src/config.py");
    assert!(
        out.contains("9fceb02d0ae598e95dc970b74767f19372d61af8"),
        "{out}"
    );
}

#[test]
fn salt_and_pepper_in_json_are_concealed_only_when_random() {
    use han_crypto_core::redact::json;
    for doc in [
        r#"{"salt": "1 tsp"}"#,
        r#"{"pepper": "black"}"#,
        r#"{"saltRounds": "10"}"#,
    ] {
        assert!(
            json::redact_text(builtin(), doc, Policy::ALL).is_none(),
            "{doc}"
        );
    }
    let (out, _) = json::redact_text(
        builtin(),
        r#"{"salt": "QmFzZTY0U2FsdFZhbHVlRm9yVGVzdGluZzEyMw=="}"#,
        Policy::ALL,
    )
    .unwrap();
    assert!(!out.contains("QmFzZTY0"), "{out}");
}

#[test]
fn the_confidence_bar_holds_on_the_json_key_path_too() {
    use han_crypto_core::redact::json;
    let doc = r#"{"password": "hunter2x!Tq"}"#;
    assert!(json::redact_text(builtin(), doc, Policy::ALL).is_some());
    let strict = Policy::ALL.with_min_confidence(0.85);
    assert!(
        json::redact_text(builtin(), doc, strict).is_none(),
        "a key's name is 0.8 evidence"
    );
}

// ── Made-up values spelled from what they stand for ──────────────────────

#[test]
fn values_that_name_themselves_are_stand_ins() {
    for text in [
        "docker run -e POSTGRES_PASSWORD=local-dev-password -d postgres:17",
        "kubectl get secret api-token-x7k2p -o yaml",
        "kubectl delete secret registry-secret-9fz1q -n ci",
        "client_secret: NotASecret",
        "-p SuperSecret --tenant contoso",
        "keytool -storepass changeit -list",
    ] {
        assert_unchanged(text);
    }
    // A chosen password that happens to contain a secret word stays a secret.
    assert_gone("redis-cli -a 'vault!secret9' ping", &["vault!secret9"]);
    assert_gone("PGPASSWORD=\"our secret pass\" psql", &["our secret pass"]);
}

#[test]
fn examples_printed_in_standards_and_vendor_docs() {
    for text in [
        "per RFC 6749 the response is {\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",\"refresh_token\":\"tGzv3JOkF0XG5Qx2TlKWIA\"}",
        "RFC 6750: Authorization: Bearer mF_9.B5f-4.1JqM",
        "jwt.io sample: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "data:\n  password: MWYyZDFlMmU2N2Rm\n",
    ] {
        assert_unchanged(text);
    }
}

// ── Names that mention a secret but hold something else ─────────────────

#[test]
fn digests_settings_and_record_keys_named_after_secrets() {
    for text in [
        "      annotations:\n        checksum/secret: 5b1c0e9a7d3f2e4c6b8a0d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c",
        "| id | token_sha256 |\n|----|--------------|\n| 7 | 9e1c5b1c0e9a7d3f2e4c6b8a0d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f |",
        "#password_encryption = scram-sha-256   # or md5",
        "{\"incident_key\": \"a81f3c0d9e2b4f6a8c1e3d5b7f9a2c4e\", \"status\": \"triggered\"}",
        "sentry-trace: 7c2a9e0f4b1d3c5e6a8f0b2d4c6e8a1f-3c5e7a9b1d2f4c6e-1",
        "debug1: Server accepts key: /home/ci/.ssh/id_ed25519 ED25519 SHA256:Zx81Qm0Rk2Lp4Nv6Bt8Cy0Dw2Ex4Fu6Gv8Hw0Ix2Jy",
        "  --auth <password>   Server password (also REDISCLI_AUTH)",
        "az ad sp create -u http://build-agent-2026-03-01 -p",
    ] {
        assert_unchanged(text);
    }
    // An element that really holds the password still counts.
    assert_gone("<password>Wq7!zr2Kp0</password>", &["Wq7!zr2Kp0"]);
}

// ── Providers' typed tokens and keys named after a provider ─────────────

#[test]
fn typed_tokens_of_smaller_providers() {
    let tokens = [
        "pcsk_7Hq2Lm_Zk3Rt8Vw1Xy4Bn6Cd9Ef2Gh5Jk8Lm1Np4Qr7St0Uv3Wx6Yz9Ab2Cd5Ef8Gh1Jk4Lm7Np0Qr3St6",
        "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",
        "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",
        "nfp_Rt4Yu8Io2Pa6Sd0Fg4Hj8Kl2Zx6Cv0Bn4Mq8W",
        "r8_Kd93Lq0Wm2Zp5Xr8Tv1Ys4Bn7Cq0Df3Gh6Jk9",
        "dp.st.dev.Q2w4E6r8T0y2U4i6O8p0A2s4D6f8G0h2J4k6L8z0",
        "bkua_3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c",
        "pat-na1-3f5e7c9a-1b3d-4f7e-9c1a-3b5d7f9e1c3a",
        "re_Ab3Cd5Ef_Gh7Jk9Lm1Np3Qr5St7Uv9Wx1",
        "K004Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0",
        "AKIDk3Lm9Qw2Er5Ty8Ui1Op4As7Df0Gh3Jk6",
    ];
    for t in tokens {
        assert_gone(&format!("got this back: {t}"), &[t]);
    }
}

#[test]
fn keys_named_after_a_provider_in_config() {
    for (text, secret) in [
        (
            "[search]\nalgolia = \"Xq7Lm2Rk9Vw4Zp1Tn6Bc3Hd8Jf5\"\n",
            "Xq7Lm2Rk9Vw4Zp1Tn6Bc3Hd8Jf5",
        ),
        (
            "errors:\n  bugsnag: 4e6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e\n",
            "4e6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e",
        ),
        (
            "MIXPANEL=Zk4Pq8Wn2Rt6Yv0Xs3Lm7Bc1\n",
            "Zk4Pq8Wn2Rt6Yv0Xs3Lm7Bc1",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    // The provider's other settings are not its key.
    assert_unchanged("sentry_environment = production\nsentry_release = 2f4a6c8e1b3d\n");
    assert_unchanged("baggage: sentry-release=web%40d3f5e7c9a1b3,sentry-environment=prod");
}

#[test]
fn a_token_after_a_compound_noun_a_dash_or_a_colon_line() {
    for (text, secret) in [
        ("ngrok authtoken \"2Qx8Lm4Rk7Vw1Zp5Tn9Bc3Hd6_Jf0Gh2Kl5Mn8Pq1Rs4Tu7\"", "2Qx8Lm4Rk7Vw1Zp5Tn9Bc3Hd6_Jf0Gh2Kl5Mn8Pq1Rs4Tu7"),
        ("moving the embeddings to cohere — Hq2Lm7Rk4Vw9Zp1Tn6Bc3Hd8Jf5Xs0Yt — please rotate the old one", "Hq2Lm7Rk4Vw9Zp1Tn6Bc3Hd8Jf5Xs0Yt"),
        ("postmark token:\nZk8Pq2Wn6Rt0Yv4Xs7Lm1Bc5Hd9Jf3\nserver is 'outbound'", "Zk8Pq2Wn6Rt0Yv4Xs7Lm1Bc5Hd9Jf3"),
    ] {
        assert_gone(text, &[secret]);
    }
}

// ── Keys handed to code that only takes keys ────────────────────────────

#[test]
fn literals_passed_to_mac_cipher_and_signing_calls() {
    for (text, secret) in [
        ("sig = hmac.new(b\"Lq8Zk2Wm6Xr0Tv4Ys8Bn2Cq6Df0Gh4\", body, hashlib.sha256)", "Lq8Zk2Wm6Xr0Tv4Ys8Bn2Cq6Df0Gh4"),
        ("h := hmac.New(sha512.New, []byte(\"Wm6Xr0Tv4Ys8Bn2Cq6Df0Gh4Lq8Zk2\"))", "Wm6Xr0Tv4Ys8Bn2Cq6Df0Gh4Lq8Zk2"),
        ("const c = crypto.createCipheriv('aes-256-gcm', Buffer.from('5e7c9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e3c5a7b9d1f3e5c7a9b1d3f5e7c', 'hex'), iv);", "5e7c9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e3c5a7b9d1f3e5c7a9b1d3f5e7c"),
        ("token = jwt.encode(claims, \"Tv4Ys8Bn2Cq6Df0Gh4Lq8Zk2Wm6Xr0\", algorithm=\"HS256\")", "Tv4Ys8Bn2Cq6Df0Gh4Lq8Zk2Wm6Xr0"),
        ("let key = hex.DecodeString(\"9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f\")", "9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f"),
        ("key, err := base64.StdEncoding.DecodeString(\"Ys8Bn2Cq6Df0Gh4Lq8Zk2Wm6Xr0Tv4==\")", "Ys8Bn2Cq6Df0Gh4Lq8Zk2Wm6Xr0Tv4=="),
        ("SIGNING_KEY = [\"1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e\"].pack(\"H*\")", "1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e"),
        ("const secret = new TextEncoder().encode(\"Cq6Df0Gh4Lq8Zk2Wm6Xr0Tv4Ys8Bn2\");", "Cq6Df0Gh4Lq8Zk2Wm6Xr0Tv4Ys8Bn2"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn fallbacks_of_environment_variables_that_name_a_secret() {
    for (text, secret) in [
        ("let k = env::var(\"WEBHOOK_SECRET\").unwrap_or_else(|_| \"Df0Gh4Lq8Zk2Wm6Xr0Tv4Ys8Bn2Cq6\".into());", "Df0Gh4Lq8Zk2Wm6Xr0Tv4Ys8Bn2Cq6"),
        ("$key = getenv('STRIPE_KEY') ?: 'Gh4Lq8Zk2Wm6Xr0Tv4Ys8Bn2Cq6Df0';", "Gh4Lq8Zk2Wm6Xr0Tv4Ys8Bn2Cq6Df0"),
        ("token: ${API_TOKEN:-Zk2Wm6Xr0Tv4Ys8Bn2Cq6Df0Gh4Lq8}", "Zk2Wm6Xr0Tv4Ys8Bn2Cq6Df0Gh4Lq8"),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "host = os.environ.get(\"DB_HOST\", \"10.0.4.17\")",
        "level = ENV.fetch(\"LOG_LEVEL\") { \"info\" }",
        "url = process.env.SECRET_STORE_URL || \"https://vault.internal:8200\"",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn session_tokens_and_ids_beside_their_keys() {
    let token = format!(
        "IQoJb3JpZ2luX2VjE{}",
        "Ab3Cd5Ef7Gh9Jk1Lm3Np5Qr7St9Uv1Wx3Yz5".repeat(4)
    );
    assert_gone(&format!("aws_session_token = {token}"), &[&token]);
    assert_gone(&format!("creds: {token}"), &[&token]);
    assert_gone(
        "00512ab34cd56ef780000000a3 K004Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0",
        &["K004Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0"],
    );
    assert_gone(
        "key id 0051a2b3c4d5e6f70000000012 and key K004Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0",
        &["K004Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0"],
    );
    assert_gone(
        "client = tencent.Credential(\"AKIDk3Lm9Qw2Er5Ty8Ui1Op4As7Df0Gh3Jk6\", \"Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0Lq4pX\")",
        &["AKIDk3Lm9Qw2Er5Ty8Ui1Op4As7Df0Gh3Jk6", "Zq8Wm2Xr6Tv0Ys4Bn8Cq2Df6Gh0Lq4pX"],
    );
    assert_gone(
        "COPY t FROM 's3://b/p' ACCESS_KEY_ID 'AKIAZ7QX3RDV5TEN2MWB' SECRET_ACCESS_KEY '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'",
        &["AKIAZ7QX3RDV5TEN2MWB", "q8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2Wc8Ey4Ju1"],
    );
}

#[test]
fn keys_given_to_jvm_dotnet_php_and_js_crypto_apis() {
    for (text, secret) in [
        ("var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(\"Rk4Pq8Wn2Zt6Yv0Xs3Lm7Bc1Hd5Jf9Gq\"));", "Rk4Pq8Wn2Zt6Yv0Xs3Lm7Bc1Hd5Jf9Gq"),
        ("Algorithm algorithm = Algorithm.HMAC256(\"Zt6Yv0Xs3Lm7Bc1Hd5Jf9GqRk4Pq8Wn2\");", "Zt6Yv0Xs3Lm7Bc1Hd5Jf9GqRk4Pq8Wn2"),
        ("Jwts.parserBuilder().setSigningKey(Decoders.BASE64.decode(\"Lm7Bc1Hd5Jf9GqRk4Pq8Wn2Zt6Yv0Xs3\"))", "Lm7Bc1Hd5Jf9GqRk4Pq8Wn2Zt6Yv0Xs3"),
        ("$ct = openssl_encrypt($data, 'aes-256-cbc', 'Hd5Jf9GqRk4Pq8Wn2Zt6Yv0Xs3Lm7Bc1', OPENSSL_RAW_DATA, $iv);", "Hd5Jf9GqRk4Pq8Wn2Zt6Yv0Xs3Lm7Bc1"),
        ("CryptoJS.AES.encrypt(JSON.stringify(d), \"Jf9GqRk4Pq8Wn2Zt6Yv0Xs3Lm7Bc1Hd5\").toString()", "Jf9GqRk4Pq8Wn2Zt6Yv0Xs3Lm7Bc1Hd5"),
        ("var store = sessions.NewCookieStore([]byte(\"Pq8Wn2Zt6Yv0Xs3Lm7Bc1Hd5Jf9GqRk4\"))", "Pq8Wn2Zt6Yv0Xs3Lm7Bc1Hd5Jf9GqRk4"),
        ("s = URLSafeTimedSerializer(\"Wn2Zt6Yv0Xs3Lm7Bc1Hd5Jf9GqRk4Pq8\", salt=\"email\")", "Wn2Zt6Yv0Xs3Lm7Bc1Hd5Jf9GqRk4Pq8"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn made_up_by_name_or_published_by_a_project() {
    for text in [
        "export const FAKE_AES_KEY = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\";",
        "dummy_token = \"Zt6Yv0Xs3Lm7Bc1Hd5Jf9GqRk4Pq8Wn2\"",
        "const stripe = require('stripe')('sk_test_4eC39HqLyjWDarjtT1zdp7dc');",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;",
        "Account #0 Private Key: 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "docker run -e POSTGRES_PASSWORD=mysecretpassword -d postgres",
        "  --auth-user-pass [up]  Authenticate with server using username/password passwords.",
    ] {
        assert_unchanged(text);
    }
    // A test-mode key of one's own is a live credential.
    assert_gone(
        "TEST_API_KEY = \"Yv0Xs3Lm7Bc1Hd5Jf9GqRk4Pq8Wn2Zt6\"",
        &["Yv0Xs3Lm7Bc1Hd5Jf9GqRk4Pq8Wn2Zt6"],
    );
}

#[test]
fn typed_tokens_of_analytics_ai_and_crawl_providers() {
    let tokens = [
        "phc_Q4w8E2r6T0y4U8i2O6p0A4s8D2f6G0h4J8k2L6z0X4c",
        "apify_api_Rt4Yu8Io2Pa6Sd0Fg4Hj8Kl2Zx6Cv0Bn4Mq8",
        "napi_q4w8e2r6t0y4u8i2o6p0a4s8d2f6g0h4j8k2l6z0x4c8v2b6n0m4q8w2e6r0t4y8u2",
        "csk-q4w8e2r6t0y4u8i2o6p0a4s8d2f6g0h4j8k2l6z0x4c8",
        "fw_Q4w8E2r6T0y4U8i2O6p0A4s8",
        "fc-3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b",
        "xaat-3f5e7c9a-1b3d-4f7e-9c1a-3b5d7f9e1c3a",
        "cioQ4w8E2r6T0y4U8i2O6p0A4s8D2f6G0h4",
    ];
    for t in tokens {
        assert_gone(&format!("using {t} now"), &[t]);
    }
    // Beside a provider's name after an arrow or in parentheses.
    for (text, secret) in [
        (
            "deepseek → Hq2Lm7Rk4Vw9Zp1Tn6Bc3Hd8Jf5Xs0Yt",
            "Hq2Lm7Rk4Vw9Zp1Tn6Bc3Hd8Jf5Xs0Yt",
        ),
        (
            "moved the crawl to firecrawl (Zp1Tn6Bc3Hd8Jf5Xs0YtHq2Lm7Rk4Vw9) today",
            "Zp1Tn6Bc3Hd8Jf5Xs0YtHq2Lm7Rk4Vw9",
        ),
        (
            "upstash -> Tn6Bc3Hd8Jf5Xs0YtHq2Lm7Rk4Vw9Zp1",
            "Tn6Bc3Hd8Jf5Xs0YtHq2Lm7Rk4Vw9Zp1",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    // Words in parentheses after a provider stay.
    assert_unchanged("we moved to posthog (the cloud version) last week");
}

// ── Pairs whose id no rule reports ───────────────────────────────────────

#[test]
fn s3_compatible_key_pairs_side_by_side() {
    let id = "QX7RMP2KD9WLT4ZBNV3H";
    let secret = "p4Tz9Qw2Lm7Xc1Vb8Nr3Kd6Hf0Gs5Ja2We9Ry7Ui";
    for text in [
        format!("mc alias set backup https://s3.lan {id} {secret} --api S3v4"),
        format!("echo {id}:{secret} > ~/.passwd-s3fs"),
        format!("| {id} | {secret} | Active |"),
        format!("│ 42 │ media │ {id}  │ {secret} │ us-east │"),
        format!("name  {id}          {secret}    2026-11-30T09:12:44Z"),
        format!("new MinioClient(\"{id}\", \"{secret}\")"),
    ] {
        assert_gone(&text, &[secret]);
    }
}

#[test]
fn an_aws_secret_after_the_creation_time_in_cli_text_output() {
    let text = "ACCESSKEY\tAKIAZ7QX3RDV5TEN2MWB\t2026-10-02T11:20:05+00:00\tq8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2Wc8Ey4Ju1\tActive\tci-bot";
    assert_gone(text, &["q8Lr2Tq9e4Zx7Vb1Nm5Kp3Hd6Gf0Sa2Wc8Ey4Ju1"]);
}

#[test]
fn a_twilio_auth_token_after_its_account_sid() {
    let token = "5c2e9a17b04f3d86e1a9c7b2d5f08e43";
    for text in [
        format!(
            "twilio.NewRestClientWithParams(\"AC3f0b9e2d7c14a65b8e9d0c2f71a4b6e5\", \"{token}\")"
        ),
        format!("Client('AC3f0b9e2d7c14a65b8e9d0c2f71a4b6e5', '{token}')"),
    ] {
        assert_gone(&text, &[token]);
    }
}

#[test]
fn ids_beside_ids_are_not_pairs() {
    // Twenty upper-case characters beside a readable word, a hash or another id.
    for text in [
        "ORDER2024NOVEMBER001 ThisIsTheCustomerNameField1234567890ab",
        "BUILD20261130RELEASE 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "AC3f0b9e2d7c14a65b8e9d0c2f71a4b6e5 and AC00000000000000000000000000000000",
        "RUN 4F2A9C1D7E3B5A6F8C0D 2026-11-30T09:12:44Z started",
    ] {
        assert_unchanged(text);
    }
}

// ── Made-up values and named digests ─────────────────────────────────────

#[test]
fn metasyntactic_values_and_named_digests_are_unchanged() {
    for text in [
        "resource \"aws_db_instance\" \"x\" {\n  username = \"foo\"\n  password = \"foobarbaz\"\n}",
        "DB_PASSWORD=quux42",
        "Cache restored from key: Linux-pnpm-store-5d41402abc4b2a76b9719d911017c592aa3c7b0f",
        "cache key: macos-cargo-registry-2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        "System.Security.Cryptography.CryptographicException: The key {0f8fad5b-d9cb-469f-a165-70867728950e} was not found in the key ring.",
        "{\"level\":\"debug\",\"msg\":\"token rotated\",\"token_family\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}",
        "SPEC CHECKSUMS:\n  GoogleSignIn: 2a9d7e1c4b8f06e3d5a1c9b7e2f4d8a6c0b3e5f7\n  SentryPrivate: 8c1e5f9a3d7b2046e8c1a5f3d9b7e2c4a6f0d8b1\n\nPODFILE CHECKSUM: 7d9a",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn tuples_and_code_span_lists_are_not_assignments() {
    for text in [
        "add_index :accounts, [\"confirmation_token\"], name: \"index_accounts_on_confirmation_token\", unique: true",
        "weak choices we reject: `password2024`, `Summer2024!`, `letmein99`",
    ] {
        assert_unchanged(text);
    }
    // A real pair of strings still counts.
    assert_gone(
        "os.environ.setdefault(\"DJANGO_SECRET_KEY\", \"v9#kQ2!mZr8@Lp4$Xw7^Tn1&\")",
        &["v9#kQ2!mZr8@Lp4$Xw7^Tn1&"],
    );
}

// ── Listings: a label beside or above its value ──────────────────────────

#[test]
fn a_secret_in_a_column_of_command_output() {
    assert_gone(
        "$ linode-cli object-storage keys-create --label ci\nLabel       ci\nAccessKey   K7PLQ2ZX9M4WRT8VNB3C\nSecretKey   Yt6pWq2ZrM9xK4vLb7Nc3Hd8Jf5Sg1Ta0Ue6Ri2O\nLimited     False\n",
        &["Yt6pWq2ZrM9xK4vLb7Nc3Hd8Jf5Sg1Ta0Ue6Ri2O"],
    );
    assert_gone(
        "+---------------+------------------------------------------+\n| Field         | Value                                    |\n+---------------+------------------------------------------+\n| client_secret | 9fQ2xLm7Vb4Kc8Pw3Ty6Ud1Rz5Hn0Jg2Ws7Ea4Yq |\n+---------------+------------------------------------------+\n",
        &["9fQ2xLm7Vb4Kc8Pw3Ty6Ud1Rz5Hn0Jg2Ws7Ea4Yq"],
    );
    assert_gone(
        "||  SecretAccessKey |  b8Ws2Lq9Zt4Xm7Vk1Pn6Rc3Hy0Jd5Fg8Ea2Tu4Q  ||\n",
        &["b8Ws2Lq9Zt4Xm7Vk1Pn6Rc3Hy0Jd5Fg8Ea2Tu4Q"],
    );
}

#[test]
fn a_label_on_its_own_line_and_the_value_under_it() {
    assert_gone(
        "Your new credentials (shown once):\n\nAPI Secret\nq4Lm8Zt2Xw6Vb9Nc3Hd7Jf1Sg5Ka0Pe\n\nStore it safely.",
        &["q4Lm8Zt2Xw6Vb9Nc3Hd7Jf1Sg5Ka0Pe"],
    );
    assert_gone(
        "Signing secret:\n7c4e9a1f3b8d2e6a0c5f9b3d7e1a4c8f2b6d0e9a3c7f1b5d9e2a6c0f4b8d3e7a\n",
        &["7c4e9a1f3b8d2e6a0c5f9b3d7e1a4c8f2b6d0e9a3c7f1b5d9e2a6c0f4b8d3e7a"],
    );
    assert_gone(
        "Token value\nhv2_Pq8Zr3Lm6Xw1Vb9Nc4Hd7Jf2Sg5Ka0Te\n",
        &["hv2_Pq8Zr3Lm6Xw1Vb9Nc4Hd7Jf2Sg5Ka0Te"],
    );
}

#[test]
fn labels_and_columns_that_hold_no_secret_are_unchanged() {
    assert_unchanged("Public key\nMCowBQYDK2VwAyEAq8Zr3Lm6Xw1Vb9Nc4Hd7Jf2Sg5Ka0TeQ2Lm8Zt=\n");
    assert_unchanged("Access Key ID\nK7PLQ2ZX9M4WRT8VNB3C\n");
    assert_unchanged("NAME          TYPE     DATA   AGE\napi-token     Opaque   2      14d\n");
    assert_unchanged("  --token string      API token (env: FLY_API_TOKEN)\n  --secret-file path  read the secret from a file\n");
    assert_unchanged("| Key | Value |\n|-----|-------|\n| token_ttl | 3600 |\n");
    assert_unchanged("Secret Key\nmust be at least 32 characters long\n");
}

#[test]
fn the_output_of_a_command_that_prints_a_secret() {
    assert_gone(
        "$ kubectl get secret stripe -o jsonpath='{.data.webhook-secret}' | base64 --decode\nZq3Lm8Xw2Vb6Nc9Hd4Jf7Sg1Ka5Pe0Tr3Yu\n$ ",
        &["Zq3Lm8Xw2Vb6Nc9Hd4Jf7Sg1Ka5Pe0Tr3Yu"],
    );
    assert_gone(
        "$ cat ~/.config/acme/api_token\nc8d1f4a7b2e5c9d3f6a0b4e8c2d7f1a5\n",
        &["c8d1f4a7b2e5c9d3f6a0b4e8c2d7f1a5"],
    );
    assert_gone(
        "$ gcloud secrets versions access latest --secret=db-password\nVr7!kq2Lz#9Tm\n",
        &["Vr7!kq2Lz#9Tm"],
    );
    assert_gone(
        "$ printenv SENDINBLUE_API_KEY\nwq9Zx2Lm7Vb4Nc8Hd3Jf6Sg1Ka5Pe0Tr2Yu7Ei\n",
        &["wq9Zx2Lm7Vb4Nc8Hd3Jf6Sg1Ka5Pe0Tr2Yu7Ei"],
    );
    // Output of commands that print no secret stays.
    assert_unchanged("$ cat VERSION\n4f2c9e1a7b3d8e6f0a5c2b9d4e7f1a3c\n");
    assert_unchanged("$ echo $HOME\n/home/dev\n");
    assert_unchanged("$ base64 -d logo.b64 > logo.png\n$ ls\nlogo.png\n");
}

#[test]
fn a_value_in_a_name_value_entry() {
    assert_gone(
        "env:\n  - name: STRIPE_WEBHOOK_SECRET\n    value: \"whsec_q8Lm2Zt7Xw4Vb9Nc3Hd6Jf1Sg5Ka0Pe\"\n  - name: LOG_LEVEL\n    value: info\n",
        &["whsec_q8Lm2Zt7Xw4Vb9Nc3Hd6Jf1Sg5Ka0Pe"],
    );
    assert_gone(
        r#""environment": [{"name": "DB_PASSWORD", "value": "Tq7#vLp2Xz9!"}, {"name": "PORT", "value": "8080"}]"#,
        &["Tq7#vLp2Xz9!"],
    );
    assert_gone(
        r#"<meta-data android:name="io.acme.sdk.API_KEY" android:value="d3f8a1c6e9b2d5f0a4c7e1b8d2f6a9c3" />"#,
        &["d3f8a1c6e9b2d5f0a4c7e1b8d2f6a9c3"],
    );
    assert_gone(
        r#"[{"keyName": "primary", "value": "Qm9ZdWx2R3hLcE43VmI0TmM4SGQzSmY2U2cxS2E1UGUwVHIyWXU3RWk="}]"#,
        &["Qm9ZdWx2R3hLcE43VmI0TmM4SGQzSmY2U2cxS2E1UGUwVHIyWXU3RWk="],
    );
    assert_unchanged("env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db\n        key: password\n");
    assert_unchanged(
        r#"{"name": "token_ttl", "value": "3600"}, {"name": "api_key_header", "value": "X-Api-Key"}"#,
    );
    assert_unchanged(r#"<input type="password" name="password" value="" autocomplete="off">"#);
}

#[test]
fn openssl_keys_and_passphrases_on_the_command_line() {
    assert_gone(
        "openssl dgst -sha256 -hmac 'Lm8Zt2Xw6Vb9Nc3Hd7Jf' -binary body.json | base64",
        &["Lm8Zt2Xw6Vb9Nc3Hd7Jf"],
    );
    assert_gone(
        "openssl enc -d -aes-256-cbc -pbkdf2 -in backup.enc -out backup.tar -pass pass:Rk4!vQ9zLm2x",
        &["Rk4!vQ9zLm2x"],
    );
    assert_unchanged(
        "openssl pkcs12 -export -inkey key.pem -in cert.pem -keypbe AES-256-CBC -out bundle.p12",
    );
    assert_unchanged("openssl enc -aes-256-cbc -pass env:BACKUP_PASSPHRASE -in a -out b");
}

#[test]
fn the_id_goes_with_a_secret_found_under_its_name() {
    let text = "Set up the Vimeo app. client_id is 4f7b2c9e1d8a3f6b5c0e and client_secret is Zq8Lm3Xw7Vb2Nc6Hd1Jf5Sg9Ka4Pe0TrYu.";
    assert_gone(
        text,
        &["Zq8Lm3Xw7Vb2Nc6Hd1Jf5Sg9Ka4Pe0TrYu", "4f7b2c9e1d8a3f6b5c0e"],
    );
    assert_gone(
        "PAYPAL_CLIENT_ID=AZq8Lm3Xw7Vb2Nc6Hd1Jf5Sg9Ka4Pe0Tr\nPAYPAL_CLIENT_SECRET=EKq9Zx2Lm7Vb4Nc8Hd3Jf6Sg1Ka5Pe0Tr2Yu\n",
        &["AZq8Lm3Xw7Vb2Nc6Hd1Jf5Sg9Ka4Pe0Tr", "EKq9Zx2Lm7Vb4Nc8Hd3Jf6Sg1Ka5Pe0Tr2Yu"],
    );
    // An id alone is not a secret.
    assert_unchanged("PAYPAL_CLIENT_ID=AZq8Lm3Xw7Vb2Nc6Hd1Jf5Sg9Ka4Pe0Tr\nPAYPAL_MODE=live\n");
}

// ── Prose: more ways a sentence gives a secret ───────────────────────────

#[test]
fn prose_in_other_languages_and_looser_phrasing() {
    assert_gone(
        "ojo: la contraseña del usuario de réplica es Rq8_vT3#zLm2Wx (cámbiala después)",
        &["Rq8_vT3#zLm2Wx"],
    );
    assert_gone(
        "Das Kennwort für den Testserver ist Zt7!qLm3Xw9p, bitte nicht weitergeben.",
        &["Zt7!qLm3Xw9p"],
    );
    assert_gone(
        "le token du webhook c'est Hq2Lm8Zt4Xw6Vb9Nc3Hd7Jf1Sg5Ka0P, garde-le pour toi",
        &["Hq2Lm8Zt4Xw6Vb9Nc3Hd7Jf1Sg5Ka0P"],
    );
    assert_gone(
        "the wifi pass we picked was Tq9#mLz2Vx4k, share it only in person",
        &["Tq9#mLz2Vx4k"],
    );
    assert_gone(
        "I changed the admin password on the grafana box to Wv3!pQz8Lm2K yesterday",
        &["Wv3!pQz8Lm2K"],
    );
    assert_gone(
        "The break-glass account password is: Ks8#vLq2Zm4T\nKeep it in the safe.",
        &["Ks8#vLq2Zm4T"],
    );
    assert_gone(
        "the passphrase for the offsite restic repo is \"copper meadow violin sprocket\" btw",
        &["copper meadow violin sprocket"],
    );
    assert_gone(
        "the webhook signing secret shown on the app's settings page is 9d4c1f7a2b8e3d6c0f5a9b2e7d1c4f8a",
        &["9d4c1f7a2b8e3d6c0f5a9b2e7d1c4f8a"],
    );
    // Prose about passwords without one stays.
    assert_unchanged(
        "Set the password to something long; the password is checked against the breach list.",
    );
    assert_unchanged("La contraseña es obligatoria y debe tener al menos 12 caracteres.");
    assert_unchanged("the test will pass to the next stage once the token is refreshed");
}

#[test]
fn lists_of_names_paths_and_ciphertexts_are_unchanged() {
    assert_unchanged(
        ">>> [n for n in dir(settings) if 'PASSWORD' in n]\n['AUTH_PASSWORD_VALIDATORS', 'PASSWORD_HASHERS', 'PASSWORD_RESET_TIMEOUT']",
    );
    assert_unchanged(
        r#"{"files": {"src/token.rs": "5f1d8c3a9e2b7f4d6a0c8e1b3f5d7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f", "src/key.rs": "a8c4e0f2b6d1a3c5e7f9b0d2a4c6e8f1b3d5a7c9e0f2b4d6a8c1e3f5b7d9a0c2"}}"#,
    );
    assert_unchanged("alias/payments-secrets\tb3c1e7d9-4f2a-4c8e-9b1d-7e3f5a9c2d4b\nalias/app-tokens\t9e2d4f6a-1b3c-4d5e-8f7a-2c4e6b8d0f1a\n");
    assert_unchanged("<password>{AQAAABAAAAAQk3Lm9Zt2Xw7Vb4Nc8Hd1Jf6Sg3Ka5Pe0TrYuQ2Lm8Zt4Xw6Vb9Nc3Hd7Jf1Sg5=}</password>");
    assert_unchanged(
        r#"{"kind": "SealedSecret", "spec": {"encryptedData": {"DB_PASSWORD": "AgBy3i4OJSWK+PiTySYZZA1rO43cGDEq8Zr3Lm6Xw1Vb9Nc4Hd7Jf2Sg5Ka0TeQ2Lm8Zt4Xw6Vb9Nc3Hd7Jf1Sg5Ka0PeRt7Yu2Io4Pa6Sd8Fg0Hj2Kl4Zx6Cv8Bn0Mq2We4Rt6Yu8Io0Pa2Sd4Fg6Hj8Kl0Zx2Cv4Bn6Mq8We0Rt2Yu4Io6Pa8Sd0Fg2Hj4Kl6Zx8Cv0Bn2Mq4We6Rt8Yu0Io2Pa4Sd6Fg8Hj0Kl2Zx4Cv6Bn8Mq0We2Rt4Yu6Io8Pa0Sd2Fg4Hj6Kl8Zx0Cv2Bn4Mq6We8Rt0Yu2Io4Pa6Sd8Fg0Hj2Kl4Zx6Cv8Bn0Mq2We4=="}}}"#,
    );
    assert_unchanged(
        "env:\n  - name: DB_PASSWORD\n    value: \">>vault:database/creds/app#password\"\n",
    );
    assert_unchanged(
        "       password-flags: Flags indicating how to handle the \"password\" property.\n",
    );
}

#[test]
fn keys_passed_bare_to_a_providers_client() {
    assert_gone(
        "const search = algoliasearch(\"K3QZ7V2WEX\", \"7d2f9c1e4b8a3d6f0c5e9b2a7d1f4c8e\");",
        &["7d2f9c1e4b8a3d6f0c5e9b2a7d1f4c8e"],
    );
    assert_gone(
        "$cio = Customerio::APIClient.new(\"9c3e7a1f5b2d8c4e0a6f3b9d1c7e5a2f\", region: Customerio::Regions::US)",
        &["9c3e7a1f5b2d8c4e0a6f3b9d1c7e5a2f"],
    );
    // Ids, regions and calls on the provider's objects stay.
    assert_unchanged(
        "const search = algoliasearch(\"K3QZ7V2WEX\", process.env.ALGOLIA_ADMIN_KEY);",
    );
    assert_unchanged("stripe.customers.retrieve(\"cus_NffrFeUfNV2Hib\")");
    assert_unchanged("const pusher = new Pusher({ appId: \"1234\", cluster: \"eu\" });");
}

/// What an attacker's review found the new rules changing (2026-12-02).
#[test]
fn review_of_listings_prose_and_commands_stays_fixed() {
    // Keywords inside words are not commands.
    assert_unchanged(
        "Please stop reading here and run\n9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c1b3d5f7e\n",
    );
    assert_unchanged("This workshop reads the logs\nbuild-2024.11.03-r7f3a9b2\n");
    assert_unchanged("The CI will bypass showing errors\nK7PLQ2ZX9M4WRT8VNB3CQ2LM\n");
    assert_unchanged("$ aws secretsmanager get-secret-value --secret-id prod/db --query ARN --output text\narn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-Ab12Cd\n");
    assert_unchanged("$ cat secret.key.md5\nd41d8cd98f00b204e9800998ecf8427e\n");
    assert_unchanged(
        "$ kubectl get secret db -o jsonpath='{.data.username}' | base64 -d\ndeploy-user-7f3a\n",
    );
    assert_unchanged("$ vault kv get -field=username secret/app\nsvc-app-7f3a9b2c\n");
    // OpenSSL's rule stays inside the openssl command.
    assert_unchanged("openssl x509 -in cert.pem -noout -dates | sort -k 2,2n | uniq -c");
    assert_unchanged("openssl genrsa -out key.pem 2048 && rsync -av -k ./certs/ host:/etc/ssl/");
    assert_unchanged(
        "openssl rand -base64 32 > secret.txt && kubectl apply -k overlays/production",
    );
    // `pass … to …` is a verb; interface strings are not passphrases.
    assert_unchanged("You need to pass the string to utf8ToUtf16 first");
    assert_unchanged("We pass the payload to sha256Hmac2 before sending");
    assert_unchanged("the password button text is \"Log In\"");
    assert_unchanged("The password error message was \"Access denied\"");
    assert_unchanged("La contraseña por defecto es \"No definida\"");
    // Fingerprints of signing keys are public.
    assert_unchanged("release signing key `9DC858229FC7DD38854AE2D88D81803C0EBFCD88`");
    assert_unchanged(
        "Import the Debian archive signing key:\n4D64FEC119C2029067D6E791F8D2585B8783D481\n",
    );
    // Tags and tolerations are labels.
    assert_unchanged(r#"{"Tags": [{"Key": "token-service", "Value": "auth-svc-v2-7f3a"}]}"#);
    assert_unchanged("tolerations:\n  - key: dedicated-token\n    operator: Equal\n    value: gpu-pool-7f3a9b2c\n    effect: NoSchedule\n");
    assert_unchanged("token.audience        sts.amazonaws.com\n");
    assert_unchanged("Session token\n00000000-0000-0000-0000-000000000000\n");
}

#[test]
fn postman_headers_and_variables_are_name_value_entries() {
    assert_gone(
        r#"{"header": [{"key": "x-api-key", "value": "Vq8Lm2Zt7Xw4Nb9Hc3Jd6Kf1Sg5Pa0Re"}, {"key": "Accept", "value": "application/json"}]}"#,
        &["Vq8Lm2Zt7Xw4Nb9Hc3Jd6Kf1Sg5Pa0Re"],
    );
}

// ── A label line above its value, and small formats of set 4 ─────────────

#[test]
fn a_value_alone_under_a_line_that_introduces_it() {
    for (text, secret) in [
        (
            "**Prod DB password** (rotated 2026-03-20)\n> 5!CYAzxmiNYk+kuWn*R+\n\n**Read replica** — same as prod",
            "5!CYAzxmiNYk+kuWn*R+",
        ),
        ("### API token\n`tk_live_8Hq2LmZx7Vb3Nc9Rd1Tf6Wg4`", "tk_live_8Hq2LmZx7Vb3Nc9Rd1Tf6Wg4"),
        (
            "the partner gave us a bearer token; for now hardcode it in the staging config:\nw8UkIXc8jQmETkgf1bsd8eTpiwQGoXQj5T3ILY14",
            "w8UkIXc8jQmETkgf1bsd8eTpiwQGoXQj5T3ILY14",
        ),
        ("Here's the new signing secret:\n\n\"Zq9XmL2vB7nR4tW8yK3pD6fH1jC5gS0a\"", "Zq9XmL2vB7nR4tW8yK3pD6fH1jC5gS0a"),
        ("__Admin passphrase__\nTr0ub4dor&3-horse-Battery", "Tr0ub4dor&3-horse-Battery"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn a_line_about_a_secret_above_a_hash_path_word_or_command_is_unchanged() {
    for text in [
        "Here is the key fingerprint:\nSHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
        "Run this to reset the password:\n./scripts/reset_password.sh",
        "Commit that fixed the token refresh:\n3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345",
        "Password requirements:\nMinimum8Characters",
        "The key is stored in:\n/etc/ssl/private/server.key",
        "Your key's SHA-256 checksum:\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Idempotency key:\n3f0c2b9e-8a71-4c5d-9e2f-1b6a7d8c9e0f",
        "**Token usage**\n1834221",
        "## Secret rotation\nrotate_secrets_v2",
        "The password field is named:\nuserPassword",
        "Token type:\nBearer",
        "Key name:\nprod-signing-2026",
        "Secret name:\nprojects/acme/secrets/db-password/versions/3",
        "The token was generated with:\nTokenGenerator.v2.create",
        "## Password reset flow\nUsers click the link in the email.",
        "Set the token like this: `export TOKEN=...`\n$GITHUB_TOKEN",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn google_app_passwords_jwk_private_members_and_small_formats() {
    assert_gone(
        "host smtp.gmail.com, port 587\napp password `adxl eltx ltzl pgln`\n(it's an app password)",
        &["adxl eltx ltzl pgln"],
    );
    assert_gone(
        "Gmail app-specific password: qwhz mtkr vbnx plsd",
        &["qwhz mtkr vbnx plsd"],
    );
    // A sentence of four-letter words after the same words is prose.
    assert_unchanged("the app password must have your code from the page");
    let jwk = r#"{"kty": "OKP", "crv": "Ed25519", "kid": "2026-09-16", "d": "uMududNohww61eVu0GS6MHyMmpp4Xiya5QCoOyB-_Yk", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    assert_gone(jwk, &["uMududNohww61eVu0GS6MHyMmpp4Xiya5QCoOyB-_Yk"]);
    // A public JWK (only `x`, `n`, `e`) is published.
    assert_unchanged(
        r#"{"kty": "OKP", "crv": "Ed25519", "kid": "2026-09-16", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    );
    assert_gone(
        "Mein API-Schlüssel für DeepL: 20611114-41e1-4dab-8d09-d08b69cad31d:fx — bitte",
        &["20611114-41e1-4dab-8d09-d08b69cad31d:fx"],
    );
    assert_gone(
        "okta api token (SSWS) 00HIIbPqz0C1erYSz627AIRiiPDgbbS9Yv6GWIFlG4 — careful",
        &["00HIIbPqz0C1erYSz627AIRiiPDgbbS9Yv6GWIFlG4"],
    );
    assert_gone(
        "curl -H \"Authorization: SSWS 00QCjAl4MlV-WPXM9Tz2kR7bHq5nYw3Lp8Xd6Fv1Gs\" https://acme.okta.com/api/v1/users",
        &["00QCjAl4MlV-WPXM9Tz2kR7bHq5nYw3Lp8Xd6Fv1Gs"],
    );
}

#[test]
fn byte_array_key_constants() {
    let c = "static const uint8_t device_hmac_key[32] = {\n    0x8d, 0xb1, 0x55, 0x39, 0xc5, 0x04, 0x11, 0xb3,\n    0xd0, 0xa0, 0x08, 0x9c, 0x1c, 0x75, 0x03, 0xe9,\n    0xb7, 0xed, 0x44, 0xd0, 0x02, 0x9f, 0x1a, 0x79,\n    0x81, 0x2e, 0x6b, 0x33, 0xfa, 0x90, 0x17, 0xc2\n};";
    let out = redact(c);
    assert!(!out.contains("0x8d") && !out.contains("0xc2"), "{out}");
    assert!(
        out.starts_with("static const uint8_t device_hmac_key[32] = {"),
        "{out}"
    );
    for text in [
        "const MASTER_KEY: [u8; 16] = [0x3c, 0x9a, 0x1f, 0xe2, 0x47, 0xb8, 0x05, 0xd6, 0x6e, 0x91, 0x2b, 0xc4, 0x78, 0x0d, 0xa3, 0x5f];",
        "var secret = []byte{0x3c, 0x9a, 0x1f, 0xe2, 0x47, 0xb8, 0x05, 0xd6, 0x6e, 0x91, 0x2b, 0xc4, 0x78, 0x0d, 0xa3, 0x5f}",
        "byte[] key = {(byte) 0x3c, (byte) 0x9a, (byte) 0x1f, (byte) 0xe2, (byte) 0x47, (byte) 0xb8, (byte) 0x05, (byte) 0xd6, (byte) 0x6e, (byte) 0x91, (byte) 0x2b, (byte) 0xc4, (byte) 0x78, (byte) 0x0d, (byte) 0xa3, (byte) 0x5f};",
        "SIGNING_KEY = bytes([0x3c, 0x9a, 0x1f, 0xe2, 0x47, 0xb8, 0x05, 0xd6, 0x6e, 0x91, 0x2b, 0xc4, 0x78, 0x0d, 0xa3, 0x5f])",
    ] {
        let out = redact(text);
        assert!(!out.contains("0x9a") && !out.contains("0x5f"), "{text}\n->\n{out}");
    }
    // Counting bytes, a table named otherwise, a short array: unchanged.
    for text in [
        "const TEST_KEY: [u8; 16] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f];",
        "static const uint8_t sbox[16] = {0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76};",
        "const KEY_PREFIX: [u8; 4] = [0x4b, 0x45, 0x59, 0x31];",
        "let key_len = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0xff];",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn the_second_half_of_a_pair_under_its_own_label_or_in_a_quoted_mail() {
    assert_gone(
        "阿里云子账号的 AccessKey：\nAK: LTAI5tt0bKDfRH1YJDij4Wwx\nSK: 0OXkfhCer8ygQHJNs2jiSgZWWF4lK2\n",
        &["0OXkfhCer8ygQHJNs2jiSgZWWF4lK2"],
    );
    assert_gone(
        "> Here are the keys:\n>\n> AKIAEBK5XINOPELITCUS\n> TNlUSlXtM+ZIdVVQQ5Fy/js+BpA0IABQ2PJVWr9Z",
        &["AKIAEBK5XINOPELITCUS", "TNlUSlXtM+ZIdVVQQ5Fy/js+BpA0IABQ2PJVWr9Z"],
    );
}

#[test]
fn literals_handed_to_setters_and_builders_named_after_a_secret() {
    for (text, secret) in [
        (
            r#".secret_access_key("Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lMxY2zQ4w")"#,
            "Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lMxY2zQ4w",
        ),
        (r#".password("Xk9#mQ2vLp7w!")"#, "Xk9#mQ2vLp7w!"),
        (
            r#".api_key("sk_9f8Hq2LmZx7Vb3Nc9Rd1Tf6Wg4")"#,
            "sk_9f8Hq2LmZx7Vb3Nc9Rd1Tf6Wg4",
        ),
        (
            r#"builder.setSecretKey("Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lMxY2zQ4w");"#,
            "Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lMxY2zQ4w",
        ),
        (
            r#".with_token("ghx_Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0")"#,
            "ghx_Hq7vT2mK9pL4wR8zN3bC5dF6gH1jK0",
        ),
        (
            r#"$ curl -s -X POST "https://tidewater-func.azurewebsites.net/api/ResizeImage?code=Co_lA__7nj_IrrEjzJpVOkRMSPAGSQ0CQYncGxQDH6_MqXFwSLE8LM==" --data-binary @photo.jpg"#,
            "Co_lA__7nj_IrrEjzJpVOkRMSPAGSQ0CQYncGxQDH6_MqXFwSLE8LM==",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn getters_checks_and_keys_that_are_not_secrets_keep_their_literals() {
    for text in [
        r#"let s = config.get_secret("db-password-prod-7f3a9c2e1b")?;"#,
        r#"assert!(verify_password("Xk9#mQ2vLp7w!", &hash));"#,
        r#".password("Enter your password")"#,
        r#".secret("DB_PASSWORD")"#,
        r#".api_key("YOUR_API_KEY")"#,
        r#".token("${GITHUB_TOKEN}")"#,
        r#".with_token("")"#,
        r#"Password::new().with_prompt("Password").interact()?"#,
        r#".key("user:1234")"#,
        r#"cache.set_key("session:8f14e45fceea167a5a36dedd4bea2543")"#,
        r#"redis.key("ratelimit:9b2f6c1e-44aa-4c1d-9a8e-3c2b1a0f9e8d")"#,
        r#".secret_name("prod-db-credentials-2026")"#,
        r#".idempotency_key("3f0c2b9e-8a71-4c5d-9e2f-1b6a7d8c9e0f")"#,
        r#".cache_key("v1:user:42:profile")"#,
        r#".partition_key("tenant-8f14e45fceea167a")"#,
        r#".token_url("https://oauth2.googleapis.com/token")"#,
        r#".key_id("a1b2c3d4-5678-90ab-cdef-1234567890ab")"#,
        r#".signing_key_path("/etc/keys/signing.pem")"#,
        r#".password_hash("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")"#,
        r#".public_key("MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=")"#,
        r#"it("rejects an expired token", () => {"#,
        r#".secret_key_ref("db-secret")"#,
    ] {
        assert_unchanged(text);
    }
}

// ── Set 5's look-alikes: records, tool output, references ────────────────

#[test]
fn records_tool_output_and_names_that_are_not_values() {
    for text in [
        // gpgconf --list-options: colon-separated records.
        "gpgconf --list-options gpg-agent\nallow-preset-passphrase:8:1:allow presetting passphrase:0:0::::\nenforce-passphrase-constraints:8:1:do not allow bypassing the passphrase policy:0:0::::",
        // Redis MONITOR: colon-joined keys.
        "1770035157.012437 [0 10.0.3.131:48534] \"INCR\" \"rl:login:ecafd64f7611d956\"\n1770035158.100021 [0 10.0.3.131:48534] \"GET\" \"cache:token:9b2f6c1e44aa4c1d\"",
        // terraform apply's progress lines.
        "random_password.db: Creating...\nrandom_password.db: Creation complete after 0s [id=none]\ngoogle_secret_manager_secret_version.db_password: Still creating... [10s elapsed]\naws_secretsmanager_secret.api_key: Destroying... [id=arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-key-AbCdEf]",
        // go test -v.
        "=== RUN   TestRotateSigningKey\n--- PASS: TestRotateSigningKey (0.02s)\n    --- PASS: TestRotateSigningKey/kms_decrypt_fails (0.00s)\n--- PASS: TestPasswordPolicy_rejects_short (0.00s)",
        // gpg --verify.
        "gpg: Signature made Fri 02 Oct 2026 10:41:07 CET\ngpg:                using EDDSA key 5B5C3955E2D5643422ECCFFDF625199F0D2CCED4\ngpg: Good signature from \"Release Bot <release@example.org>\"",
        // git's rename summary.
        " src/{secrets.rs => credentials.rs}    | 14 +++++++---\n tests/{api_key_test.py => token_test.py} |  6 +++---",
        // A place in a file in a symbol listing.
        "  Function   rotate_client_secret           src/oauth/clients.rs:201\n  Struct     PasswordSecretManager          src/auth/secret_manager.rs:52:8",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn secret_store_references_and_encrypted_values_of_more_tools() {
    for text in [
        "env:\n  - name: DB_PASSWORD\n    value: berglas://kelpworks-secrets/payments/db-password\n  - name: API_KEY\n    value: bws://3f0c2b9e-8a71-4c5d-9e2f-1b6a7d8c9e0f",
        "password: \"{{ lookup('community.hashi_vault.hashi_vault', 'secret=kv/data/app/db:password url=https://vault.internal:8200') }}\"",
        r#"{"_public_key": "1185d4281c3d0eaf3d714a696d92f648c1185d4281c3d0eaf3d714a696d92f64", "database_password": "EJ[1:oO8DXDWiP/YziIzQ9+zG3Z60g8pDzTAfp4x2sR++7O8=:55LGodwRk9QyFCldZOgfz8oUhaSVNp9y:YDJySQMhrymWTwpBar9UpH71ikh4kE7+3sx+e+Du]"}"#,
        "gcloud run deploy webhooks --image=gcr.io/acme/webhooks:4.37.4 \\\n    --set-secrets=DB_PASSWORD=webhooks-db-password:3,STRIPE_KEY=stripe-secret-key:latest",
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: prod\ntype: Opaque\nstringData:\n    username: ENC[AES256_GCM,data:HkZDDjrc,iv:lIckLdO2oHpk6T1y5xEHI4yeGPRbNqjhbSfmgjwPX2M=,tag:AixHiZcRSnyn8gLYMfmsGA==,type:str]\n    password: ENC[AES256_GCM,data:TJ6fQzppMYGBauw6e+iuFeK5vgPbzK5O,iv:J2AwuhWnoLBA3VP515sD2y0E3WWS6DdJN64D5Odx5hA=,tag:kugK/+3H/QPn6cnty4WFjQ==,type:str]\nsops:\n    version: 3.9.0",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn credentials_documentation_prints_as_examples() {
    for text in [
        "engine = create_engine(\"postgresql://scott:tiger@localhost/mydatabase\")\nengine = create_engine(\"postgresql+psycopg2://scott:tiger@localhost/mydatabase\")",
        "# .env\nDATABASE_URL=\"postgresql://johndoe:randompassword@localhost:5432/mydb?schema=public\"",
        "Connection URL, of the form: postgresql://[user[:passwd]@]host[:port]/[db][?param=value]",
        "Most HTTP clients do this for you (`curl -u myuser:mypassword`).",
        "use the following header field:\n\n      Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    ] {
        assert_unchanged(text);
    }
    // A real URL password still goes.
    assert_gone(
        "postgresql://app:Xk9#mQ2vLp7w@db.internal:5432/app",
        &["Xk9#mQ2vLp7w"],
    );
}

#[test]
fn byte_arrays_in_decimal_signed_hex_and_escaped_strings() {
    for (text, first, last) in [
        (
            "let signing_key = SigningKey::from_bytes(&[27, 176, 250, 154, 240, 88, 223, 154, 141, 186, 97, 58, 52, 205, 215, 168, 50, 197, 13, 141, 14, 150, 214, 128, 139, 3, 77, 122, 105, 162, 1, 197]);",
            "27, 176",
            "162, 1, 197",
        ),
        (
            "  @aes_key <<149, 156, 145, 82, 129, 108, 245, 205, 197, 64, 224, 232, 63, 10, 142, 33, 245, 107, 135, 111, 22, 0, 242, 243>>",
            "149, 156",
            "242, 243",
        ),
        (
            "private val keyBytes = byteArrayOf(0x3c, -0x22, 0x1c, -0x6f, -0x44, -0x49, -0x6d, 0x19, 0x71, 0x2d, -0x70, 0x28, 0x43, 0x55, -0x37, -0x69)",
            "0x3c, -0x22",
            "-0x37, -0x69",
        ),
        (
            "static const unsigned char OTA_SIGNING_KEY[32] = \"\\xec\\x9c\\xd5\\x49\\xdb\\xea\\xf5\\x88\\x8a\\xc8\\xf1\\x01\\x1e\\x16\\xdb\\x6c\\x0f\\x0d\\xfb\\x89\";",
            "\\xec\\x9c",
            "\\xfb\\x89",
        ),
        (
            "pub const telemetry_key = [_]u8{\n    0x62, 0xa8, 0x67, 0xf1, 0xb3, 0x8f, 0x9a, 0xb0,\n    0x5b, 0xd5, 0xf9, 0x5a, 0x72, 0x62, 0xb1, 0xda,\n};",
            "0x62, 0xa8",
            "0xb1, 0xda",
        ),
    ] {
        let out = redact(text);
        assert!(!out.contains(first) && !out.contains(last), "{text}\n->\n{out}");
    }
    // Numbers that are not key bytes: too few, counting, or named otherwise.
    for text in [
        "const KEY_SIZES: [usize; 3] = [16, 24, 32];",
        "let key_lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];",
        "let ports = [5432, 6379, 27017, 9200, 8080, 443, 80, 22, 3306, 11211, 5672, 15672, 2181, 9092, 8500, 8200];",
        "histogram = [27, 176, 250, 154, 240, 88, 223, 154, 141, 186, 97, 58, 52, 205, 215, 168, 50, 197]",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn review_of_label_lines_setters_byte_arrays_and_formats_stays_fixed() {
    // A multi-byte character right before a setter's name panicked.
    for text in [
        "示例：db.get_password(\"x\")",
        "éééé.password(\"hunter2Xy9!\")",
        "béuilder.password(\"hunter2Xy9zQ\")",
    ] {
        let _ = redact(text);
    }
    assert_gone("éééé.password(\"Hq7!vLz2@Rm9xT\")", &["Hq7!vLz2@Rm9xT"]);
    // A label line inside a decoded JSON string keeps the string's end.
    let text = r#"["The API token for the pilot:\nc9f2a7e1d4b84f0e9a6c3b5d7e8f1a2bZq"]"#;
    let out = redact(text);
    assert!(out.ends_with(r#""]"#), "{out}");
    assert!(!out.contains("c9f2a7e1d4b84f0e9a6c3b5d7e8f1a2bZq"), "{out}");
    // Clean look-alikes.
    for text in [
        r#"{"kty":"RSA","kid":"k1"} then {"p":"eyJwYWdlIjoyLCJzaXplIjo1MH0","q":"searchtermsearchtermsearch"}"#,
        "static const uint8_t key_icon[16] = {0x3c, 0x9a, 0x1f, 0xe2, 0x47, 0xb8, 0x05, 0xd6, 0x6e, 0x91, 0x2b, 0xc4, 0x78, 0x0d, 0xa3, 0x5f};",
        "static const uint8_t secret_level_data[16] = {0x3c, 0x9a, 0x1f, 0xe2, 0x47, 0xb8, 0x05, 0xd6, 0x6e, 0x91, 0x2b, 0xc4, 0x78, 0x0d, 0xa3, 0x5f};",
        "static const uint8_t aes_key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};",
        "Your app password looks like this, e.g. \"abcd efgh ijkl mnop\" or \"xxxx xxxx xxxx xxxx\".",
        "The app password page says this: \"they must also have\"",
        "Digest of the signing key:\n\nsha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Serial: ABCD1234EFGH5678IJKL\nChecksum: q8Lr2Tq9Xw7Vb3Nc9Rd1Tf6Wg4Yh5Jk2Lm8Np0Qs",
        "DeepL sample: 00000000-0000-0000-0000-000000000000:fx",
    ] {
        assert_unchanged(text);
    }
    // Secrets the first versions of these rules let through.
    for (text, secret) in [
        (
            "SECRET_KEY=8B0E7153BF7C3706D85C524E440066559A6656C9",
            "8B0E7153BF7C3706D85C524E440066559A6656C9",
        ),
        (
            "DEBUG:root:token: Xk9fQ2mZpL7rT4vBn8Wc",
            "Xk9fQ2mZpL7rT4vBn8Wc",
        ),
        (
            "secret_key = 30:45:02:21:00:c8:9a:4f:1e:77:b2:5d:e0:13:6c:aa",
            "30:45:02:21:00:c8:9a:4f:1e:77:b2:5d:e0:13:6c:aa",
        ),
        (
            "AK: LTAI5tt0bKDfRH1YJDij4Wwx\n  SK: 0OXkfhCer8ygQHJNs2jiSgZWWF4lK2",
            "0OXkfhCer8ygQHJNs2jiSgZWWF4lK2",
        ),
        (
            "aws_secret_access_key = Kv/9fQ2mZpL7rT4vBn8WcXk9fQ2mZpL7rT4vBn8W",
            "Kv/9fQ2mZpL7rT4vBn8WcXk9fQ2mZpL7rT4vBn8W",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn label_lines_setters_and_byte_arrays_in_their_other_dresses() {
    const V: &str = "Zq7vT2mK9pL4wR8zN3bC5dF6gH1jK0lM";
    for text in [
        // Label lines: a list item, behind a quote mark, a setext heading,
        // two blank lines, a fenced block, a definition list.
        format!("- Staging API token:\n  {V}"),
        format!("> **Prod API token**\n> {V}"),
        format!("API token\n---------\n\n{V}"),
        format!("The deploy token for the runner:\n\n\n{V}"),
        format!("Here is the API secret:\n```\n{V}\n```"),
        format!("Signing secret\n: {V}"),
        // Setters: blanks inside the parentheses, conversions, wrappers.
        format!("builder.password( \"{V}\" )"),
        format!(".api_key(\"{V}\".to_string())"),
        format!(".with_secret(String::from(\"{V}\"))"),
        format!(".client_secret(Some(\"{V}\"), None)"),
    ] {
        assert_gone(&text, &[V]);
    }
    let bytes = "0x8d, 0xb1, 0x3c, 0x9a, 0x1f, 0xe2, 0x47, 0xb8, 0x05, 0xd6, 0x6e, 0x91, 0x2b, 0xc4, 0x78, 0x0d";
    for text in [
        format!("var hmacKey = [32]byte{{{bytes}}}"),
        format!("static readonly byte[] EncryptionKey = new byte[16] {{ {bytes} }};"),
        format!("#define DEVICE_KEY {{ {bytes} }}"),
        format!(
            "static const uint8_t aes_key[16] = {{{}}};",
            bytes.replace(", ", "u, ") + "u"
        ),
    ] {
        assert_gone(&text, &["0x8d, 0xb1, 0x3c, 0x9a"]);
    }
    for text in [
        // What handles a password, and public on-chain or page keys.
        ".passwordHasher(\"argon2idVersion19m65536\")",
        "password_encoding = \"utf-8\"",
        "const tokenAddress = \"0x9f8F72aA9304c8B593d555F12eF6589cC3A579A2\";",
        "turnstile.render('#w', { siteKey: '0x4AAAAAAABkMYinukE8nzYS' })",
        // A heading over prose, a fenced block that is code.
        "API token\n---------\n\nCreate one under Settings.",
        "The API secret:\n```\nexport API_SECRET=$(vault read -field=v secret/api)\n```",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn passwords_passed_by_position_and_printed_by_secret_managers() {
    const P: &str = "Wq8!zR3vLm2#Tx";
    for text in [
        format!("$pdo = new PDO($dsn, 'app', '{P}');"),
        format!("$db = mysqli_connect('db.internal', 'root', '{P}', 'shop');"),
        format!("server.login(\"alerts@acme.io\", \"{P}\")"),
        format!("Connection c = DriverManager.getConnection(url, \"sa\", \"{P}\");"),
        format!("auth := smtp.PlainAuth(\"\", \"bot@acme.io\", \"{P}\", \"smtp.acme.io\")"),
        format!("client.get(url).basic_auth(\"ci\", Some(\"{P}\"))"),
        format!("var cred = new NetworkCredential(\"svc-backup\", \"{P}\");"),
        format!("return new PasswordAuthentication(\"relay\", \"{P}\".toCharArray());"),
        format!("$ bw get password github.com\n{P}"),
        format!("$ kubectl view-secret app-secrets db-password\n{P}"),
        format!(
            "$ az keyvault secret show --vault-name kv1 --name db-pass --query value -o tsv\n{P}"
        ),
        format!("$ doppler secrets get DB_PASSWORD --plain\n{P}"),
    ] {
        assert_gone(&text, &[P]);
    }
    for text in [
        "$pdo = new PDO($dsn, $user, $password);",
        "server.login(user, os.environ[\"SMTP_PASSWORD\"])",
        "server.login(\"alerts@acme.io\", \"password\")",
        "await page.login(\"alice\", passwordField.value);",
        "$ kubectl view-secret app-secrets username\nWq8zR3vLm2Tx",
        "$ doppler secrets get DB_PASSWORD\n┌─────────────┐",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn small_formats_of_session_text_pgpass_rdp_wallets_mail_clients_and_wifi() {
    for (text, secret) in [
        (
            "# hostname:port:database:username:password\ndb-0.data.svc:5432:analytics:alba:i-oxrLBH-zUksIOe9",
            "i-oxrLBH-zUksIOe9",
        ),
        (
            "$ xfreerdp /v:jump.corp.net /u:Administrator /p:'j9mz3xo6cSNPIIhC' /cert:ignore",
            "j9mz3xo6cSNPIIhC",
        ),
        (
            "accounts: [\"0xe93b79240f50e493301be86f04e3e93a4c6a88e914ef22adea9c4931a1aa4485\"],",
            "e93b79240f50e493301be86f04e3e93a4c6a88e914ef22adea9c4931a1aa4485",
        ),
        (
            "const signer = new Wallet('4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318', provider);",
            "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        ),
        (
            "account gmail\nuser tomasz@gmail.com\npassword       eeie mlrj euij sflh\n",
            "eeie mlrj euij sflh",
        ),
        (
            "[wifi-security]\nkey-mgmt=wpa-psk\npsk=MQduK.7AuJRDSRAX\n",
            "MQduK.7AuJRDSRAX",
        ),
        (
            "Okta admin API token for the org (created under Security → API, named \"scim\"): 00fKDD-whvb4A0A0aIwtqW6CoxGJBCJcWBaHqVMK-G",
            "00fKDD-whvb4A0A0aIwtqW6CoxGJBCJcWBaHqVMK-G",
        ),
        (
            "Service\nRouter admin (office)\nUsername\nadmin\nPassword\n+#O@E!p9FQoquAoF\nLast rotated\n2026-03-01",
            "+#O@E!p9FQoquAoF",
        ),
        (
            "const privateJwk = {\n  kty: \"OKP\",\n  crv: \"Ed25519\",\n  x: \"JWxFkn5WGJD7yMJajlxXaxP2trwNaYJkyR4qC8KS_tI\",\n  d: \"h7H7R_fRxR4jVxcVbf1_0jUyN_qjWclJ6f6xdXQ6zDU\",\n};",
            "h7H7R_fRxR4jVxcVbf1_0jUyN_qjWclJ6f6xdXQ6zDU",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "[10:41:12:340] [31233:31234] [INFO][com.freerdp.client.x11] - Network connectivity detected",
        "localhost:5432:*:postgres:*",
        "rookTable = 0023452Lllk2KqjLBvaxANWEgTd7bqjsxjo8aZj0wd",
        " --psk : pre-shared-key in hexadecimal (no leading 0x) to enable TLS-PSK mode.",
        "       psk: Pre-Shared-Key for WPA networks. For WPA-PSK, it's either an ASCII passphrase",
        "Password\nReset it from the account page.",
        "const publicJwk = { kty: \"OKP\", crv: \"Ed25519\", x: \"JWxFkn5WGJD7yMJajlxXaxP2trwNaYJkyR4qC8KS_tI\" };",
        "tx hash 0xe93b79240f50e493301be86f04e3e93a4c6a88e914ef22adea9c4931a1aa4485 confirmed",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn names_lookups_settings_test_vectors_and_public_keys_stay() {
    for text in [
        // Settings of a flag, not a value.
        "#   docker build --secret id=npmrc,src=$HOME/.npmrc -t app .",
        // An identifier of words under a label line; a Key column of names.
        "Build succeeded.\n20251104141522_AddRefreshTokenTable\n20260117092040_AddApiKeyHashAndPrefix\n",
        "| Key | Description | Default |\n|-----|-------------|---------|\n| http_User | Basic Auth Username | |\n| http_Passwd | Basic Auth Password | |",
        // A counting test vector, a lookup of the secret by name, a variable
        // spelled from the name, a span tag.
        "key = bytes.fromhex(\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\")",
        "  datadog_api_key = get_env(\"TF_VAR_datadog_api_key\")",
        "  stringData: { DB_PASSWORD: dbPassword, API_TOKEN: apiToken },",
        "{\"key\": \"rpc.service\", \"type\": \"string\", \"value\": \"SecretsManager\"}",
        // A listing's index name and id.
        "green  open   audit-secret-access-2026.03      1r0qKbIzTROxNN03CJluEy   1   1    219348",
        // Already encrypted: a SealedSecret's box, Maven's braces.
        &format!("    DATABASE_PASSWORD: Ag{}", "B8x8xW+746/FncVqC5stgoaWC13mXVu1W1Fzvo".repeat(9)),
        "`<server><password>{ENCRYPTED_PASSWORD}</password></server>`",
        "<password>{COQLCE6DU6GtcS5P=}</password>",
        // Made up and published: mocks, stand-in passwords, publishable keys.
        "stripe: new Stripe(\"sk_test_mock_1234567890\", { apiVersion: \"2025-09-30\" }),",
        "    \"loginPassword\": \"Test1234!\",",
        "DB_PASSWORD=Password123",
        "const stripe = Stripe('pk_test_TYooMQauvdEDq54NiTphI7jx');",
    ] {
        assert_unchanged(text);
    }
    for (text, secret) in [
        // Still found: a chosen password holding the name's word, a
        // fallback after an environment lookup, a key encoded in place.
        (
            "<add key=\"Password\" value=\"CleartextPassword1\" />",
            "CleartextPassword1",
        ),
        (
            "const secret = process.env.JWT_SECRET ?? \"Qf8vT2mK9pL4wR8zN3bC5dF6\";",
            "Qf8vT2mK9pL4wR8zN3bC5dF6",
        ),
        (
            "IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(\"QIKrK1Ar#3CE4zkmx3ncN1SaCQzk\")),",
            "QIKrK1Ar#3CE4zkmx3ncN1SaCQzk",
        ),
        ("DB_PASSWORD=Summer2026!x", "Summer2026!x"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn provider_formats_webhook_paths_c_arrays_and_deeply_escaped_keys() {
    for (text, secret) in [
        (
            "OAuth client (7590-zr8v.apps.googleusercontent.com / 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), redirect",
            "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",
        ),
        (
            "contentful <CFPAT-M35oU_qMmVsPFZlyprL_RXe49n-MdaEPpkcW4AFhAPK>, space m61g",
            "CFPAT-M35oU_qMmVsPFZlyprL_RXe49n-MdaEPpkcW4AFhAPK",
        ),
        (
            "# LANGSMITH 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",
            "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",
        ),
        (
            "\"https://api.openweathermap.org/data/3.0/onecall?lat={}&appid=d065b1b24ca13fe8d099801691efc752\"",
            "d065b1b24ca13fe8d099801691efc752",
        ),
        (
            "endpoint https://logs-01.loggly.com/inputs/aae94f98-43ea-4f0e-9e5c-77659d262144/tag/fluentd/",
            "aae94f98-43ea-4f0e-9e5c-77659d262144",
        ),
        (
            "url = \"https://chat.fernhollow.io/hooks/YpIx601SNJsRLCsHj/YU6h4WdUubFkOiDJVzMho3OGQ42k9FE7VgTwbcsbwtqjrLO6\"",
            "YU6h4WdUubFkOiDJVzMho3OGQ42k9FE7VgTwbcsbwtqjrLO6",
        ),
        (
            "10.30.1.8:6379> AUTH default YCzcDVmM4u4KIcbkL1EDUoL1XZU4WCkK\nOK",
            "YCzcDVmM4u4KIcbkL1EDUoL1XZU4WCkK",
        ),
        (
            "static const char kWebhookSecret[] = \"236e40182d10e092db71feb13e9eef5c968c94ee09eaa61dcc0d5c77d14fb0fa\";",
            "236e40182d10e092db71feb13e9eef5c968c94ee09eaa61dcc0d5c77d14fb0fa",
        ),
        (
            "static NSString * const kAPISecret = @\"fb3e63a701e4d593c3957e0479d21f4f14d7320e\";",
            "fb3e63a701e4d593c3957e0479d21f4f14d7320e",
        ),
        (
            "providers:\n  cloudflare: 0D5c23vTspH9bsKy_LPg0pve-FFVHXarPmJ9stgd\n  hetzner: XxG6nk73q60Kr1oeU3Bj6qJJ7HWX0xwAZZ7s74sfoYz2Bu8W3oWhRIy0AuOxVovh\n",
            "XxG6nk73q60Kr1oeU3Bj6qJJ7HWX0xwAZZ7s74sfoYz2Bu8W3oWhRIy0AuOxVovh",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    // A `.env` file's `\n`-escaped PEM key, printed into a JSON result
    // inside an agent's JSON record: three levels of escapes.
    let text = format!(
        r#"{{"output": "{{\"stdout\": \"PRIVATE_KEY=\\\"-----BEGIN RSA PRIVATE KEY-----\\\\n{PEM_BODY}\\\\n{PEM_BODY}\\\\n-----END RSA PRIVATE KEY-----\\\"\\nLOG_LEVEL=debug\"}}"}}"#
    );
    assert_gone(&text, &[PEM_BODY]);
    for text in [
        "POST https://api.github.com/repos/acme/app/hooks/123456789/pings",
        "see https://example.com/webhooks/stripe-payment-intent-succeeded-handler for details",
        "127.0.0.1:6379> AUTH\n(error) ERR wrong number of arguments",
        "char buf[64] = \"\";",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn approle_ids_erlang_macros_twilio_pairs_and_cookie_keys() {
    for (text, secret) in [
        (
            "$ vault write auth/approle/login role_id=0e3baa81-7eb6-4749-9b2d-3f9e14b18141 secret_id=34d516b0-58fd-4aa9-869f-e4161cea0f5e",
            "34d516b0-58fd-4aa9-869f-e4161cea0f5e",
        ),
        (
            "-define(API_TOKEN_KEY, <<\"Mcp8lotHfIbfeWNK6coBmYg9LBkMePbJz99DeSstcI0=\">>).",
            "Mcp8lotHfIbfeWNK6coBmYg9LBkMePbJz99DeSstcI0=",
        ),
        (
            "client = Client(\"SK44c657a879333f7c577d606b16522c8b\", \"G1ZSWakdPIz4FBxu797utlEcLehUn1Bv\", \"AC2e7aaa0edace7b84eaefb2011e86e489\")",
            "G1ZSWakdPIz4FBxu797utlEcLehUn1Bv",
        ),
        (
            "braintree.Configuration(braintree.Environment.Production, \"fyvsnw38yekeehyj\", \"vbblr7csnkgftfd9\", \"33c69d566f4fb1fdc73d0bd26070f051\")",
            "33c69d566f4fb1fdc73d0bd26070f051",
        ),
        (
            "\tcookieHashKey = \"3159450829c65b12864f24d2d33293c37e78ca6a1b333493f88dae08e16f75da\"",
            "3159450829c65b12864f24d2d33293c37e78ca6a1b333493f88dae08e16f75da",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "aws secretsmanager get-secret-value --secret-id prod/billing/db",
        "-define(TOKEN_TTL, 3600).",
        "content_hash_key = \"3159450829c65b12864f24d2d33293c37e78ca6a1b333493f88dae08e16f75da\"",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn passwords_that_start_with_a_sigil_and_keys_under_a_providers_name() {
    for (text, secret) in [
        (
            "Password for the staging admin panel:\n#-jjU*DI%ha2^3Yz_6\n",
            "#-jjU*DI%ha2^3Yz_6",
        ),
        ("DB_PASSWORD=@k9!Rz2#vLq7Wm", "@k9!Rz2#vLq7Wm"),
        (
            "(notes export)\n\nMailgun\nb273f5753463fcb3a92e5e6416fb0162-df7ef282-ecdee19e\n",
            "b273f5753463fcb3a92e5e6416fb0162-df7ef282-ecdee19e",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "password: &default_password\nother: *default_password",
        "password: '#{vault_password}'",
        "### GitHub\n\nSee the org settings page.",
        "Stripe\nhttps://dashboard.stripe.com/apikeys\n",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn review_of_the_sixth_sets_rules_stays_fixed() {
    // Clean text the first versions of today's rules changed.
    for text in [
        "log.login(\"bob\", \"success\");",
        "audit.login(\"alice\", \"192.168.1.10\")",
        "audit.login(\"alice\", \"2024-06-01T12:00:00Z\")",
        "ecr.login(\"AWS\", \"us-east-1\")",
        "withBasicAuth(\"Protected\", \"admin-section-2\")",
        "setBasicAuth(\"elastic\",\"elastic\")",
        "getConnection(url, \"root\", \"Passw0rd\")",
        "DELETE /api/webhooks/65e1a8f0c2b4d7e9f3a1b5c8 HTTP/1.1",
        "GET https://api.x.com/api/webhooks/65e1a8f0c2b4d7e9f3a1b5c8/deliveries",
        "{\"url\":\"https://api.example.com/webhooks/9c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f\"}",
        "import { useGetAWSS3PresignedUrlV2 } from \"@/hooks/useGetAWSS3PresignedUrlV2\";",
        "node-1:5432:ok:running:primary",
        "AUTH CRAM-MD5",
        "127.0.0.1:6379> AUTH foobared",
        "psk_offer.binders = psk_offer",
        "#define gcm_aes128_set_key nettle_gcm_aes128_set_key",
        "uint8_t key[32] = {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07};",
        "const uint8_t font_key[] = {0x3c, 0x42, 0x81, 0xa5, 0x81, 0xbd, 0x99, 0x42, 0x3c, 0x00, 0x7e, 0x18, 0x24, 0x66, 0xdb, 0x5a};",
        "Key\nenv-2024-q2-prod\n",
        "Token\ngh-actions-oidc-2024\n",
        "Password\nMD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48\n",
        "$ aws ssm get-parameter --name /prod/app/feature-flags --with-decryption --query \"Parameter.Value\" --output text\nbeta-2024-q3-rollout-x\n",
    ] {
        assert_unchanged(text);
    }
    // Secrets the first versions let through.
    for (text, secret) in [
        (
            "ENV API_KEY_PROD q7Rk2Lm9ZxT4vB8nP3sWq7Rk2Lm9",
            "q7Rk2Lm9ZxT4vB8nP3sWq7Rk2Lm9",
        ),
        ("PROD_DB_PASSWORD=Welcome7!", "Welcome7!"),
        ("$ xfreerdp3 /v:h /u:a /p:Zx9qL2vB7mQp", "Zx9qL2vB7mQp"),
        ("127.0.0.1:6379> auth Zx9qL2vB7mQp4", "Zx9qL2vB7mQp4"),
        (
            "API_KEY = os.getenv(\"q7Rk2Lm9ZxT4vB8nP3sWq7Rk2Lm9\")",
            "q7Rk2Lm9ZxT4vB8nP3sWq7Rk2Lm9",
        ),
        (
            "smtp.login(\"me@acme.io\", \"Zx9#qL2!vB7m\")",
            "Zx9#qL2!vB7m",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn key_arrays_of_words_go_whole() {
    // Half a key left behind is a key leaked: the whole list goes.
    for (text, tail) in [
        (
            "static const uint32_t key[4] = {0x8db13c22, 0x9a0177fe, 0x10425e6f, 0xaabbccdd};",
            "0xaabbccdd",
        ),
        (
            "static const uint64_t k_sip_key[2] = {0x8db13c229a0177feULL, 0x10425e6f5a3b9c71ULL};",
            "0x10425e6f5a3b9c71ULL",
        ),
    ] {
        assert_gone(text, &[tail]);
    }
    assert_unchanged(
        "static const uint32_t crc_table[4] = {0x00000000, 0x77073096, 0xee0e612c, 0x990951ba};",
    );
}

// ── Seventh set: documentation keys, types and mentions, records ─────────

#[test]
fn vendor_documentation_example_credentials_stay() {
    for text in [
        "From the Flask quickstart:\n\napp.secret_key = b'_5#y2L\"F4Q8z\\n\\xec]/'\n",
        "SECRET_KEY = b'_5#y2L\"F4Q8z\\n\\xec]/'  # the docs' illustration",
        "       CREATE USER davide WITH PASSWORD 'jw8s0F4';\n",
        "ALTER ROLE miriam WITH LOGIN PASSWORD 'jw8s0F4' VALID UNTIL '2005-01-01';",
        "          protocol=https\n          host=example.com\n          username=bob\n          password=secr3t\n",
        "anon key: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0",
        "SUPABASE_SERVICE_ROLE_KEY=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU",
        "     {\"kty\":\"oct\",\n      \"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"\n     }",
        "yields this JWS Signature value:\n\n     dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\n",
        "| reCAPTCHA v2 | `6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI` | `6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe` |",
        "RECAPTCHA_SECRET_KEY=6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe",
        "curl -s --user 'api:key-3ax6xnjp29jd6fds4gc373sgvjxteol0' https://api.mailgun.net/v3/samples.mailgun.org/messages",
        "GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "curl -H \"Authorization: token ghp_16C7e42F292c6912E7710c838347Ae178B4a\" https://api.github.com/user",
        "SLACK_BOT_TOKEN=xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        "stripe.api_key = \"sk_test_BQokikJOvBiI2HlWgH4olfQ2\"",
    ] {
        assert_unchanged(text);
    }
    // Only the whole value is the example: a password holding it is not.
    assert_gone("password=secr3t-Vq7#Lm2x", &["secr3t-Vq7#Lm2x"]);
}

#[test]
fn types_in_schemas_and_struct_fields_are_not_secrets() {
    for text in [
        "type Mutation {\n  resetPassword(token: String!, newPassword: String!): Boolean!\n}",
        "  login(email: String!, password: String!): AuthPayload!",
        "input CreateKeyInput {\n  name: String!\n  apiKey: ID!\n}",
        "pub struct DatabaseSettings {\n    pub username: String,\n    pub password: SecretString,\n}",
        "class Settings(BaseSettings):\n    db_password: SecretStr\n    api_token: SecretStr\n",
        "interface Config {\n  clientSecret: SecretValue;\n  password?: String;\n}",
        "data class Creds(val user: String, val password: SecureString)",
    ] {
        assert_unchanged(text);
    }
    // A chosen password in a struct literal still goes.
    assert_gone(
        "let s = Settings { password: \"Zq8#vL2mXw\".into() };",
        &["Zq8#vL2mXw"],
    );
}

#[test]
fn durations_code_and_file_references_under_secret_names_stay() {
    for text in [
        "  config.reset_password_within = 6.hours\n  config.password_length = 12..128",
        "config.reset_password_within = 2.days",
        "  token_lifetime = 30.minutes",
        "session_token_interval: 15",
        "Passwords may also be read from a file with --auth-password @/path/to/file, or from the environment.",
        "swaks --to ops@example.com --auth-password @~/.secrets/smtp",
        "vault-cli --token @token.txt read secret/app",
        "createTransport({ host, port: 587, auth: { user: process.env.SMTP_USER, pass: process.env.SMTP_PASS } })",
        "const db = { password: settings.PG_PASS, user: settings.PG_USER };",
        "  api_key: import.meta.env.VITE_MAPS_KEY,",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn flags_named_in_errors_and_man_page_headings_are_not_given_values() {
    for text in [
        "ravi@dev-3:~$ redis-cli -h 10.3.90.248 --pass\nredis-cli: option '--pass' requires an argument\n",
        "error: option \"--token\" argument missing",
        "Error: flag `--password` expects a value",
        "     --passphrase method:arg\n             Read the passphrase for a passphrase-protected key-file using the specified\n             method.\n",
        "     -P, --password password-spec\n             Take the password from the given source, as described in\n             the section below.\n",
        "  --pass source\n        Where to read the password from; see PASS PHRASE ARGUMENTS.\n",
    ] {
        assert_unchanged(text);
    }
    // A value after a flag is still a value.
    assert_gone(
        "redis-cli -h 10.3.90.248 --pass Xk9#mQ2vLp ping",
        &["Xk9#mQ2vLp"],
    );
    assert_gone(
        "     --passphrase Tr0ub4dor&3\n             (what I typed last night)\n",
        &["Tr0ub4dor&3"],
    );
}

#[test]
fn lists_of_the_weakest_passwords_and_commented_defaults_stay() {
    for text in [
        "| Password | zxcvbn score |\n|---|---|\n| 123456 | 0 |\n| letmein | 0 |\n| P@ssw0rd | 1 |\n",
        "password: P@ssw0rd",
        "Never use `Adm1n123`, `Qwerty123!` or `Welc0me1` as a password.",
        "DB_PASSWORD=S3cr3t!",
        "client_encryption_options:\n  keystore: conf/.keystore\n  # keystore_password: cassandra   <- upstream sample\n  keystore_password: ${KEYSTORE_PASSWORD}\n",
        "  # truststore_password: cassandra\n",
        "#   admin_password: elastic\n",
        "; db_password = postgres\n",
    ] {
        assert_unchanged(text);
    }
    // A chosen password stays a secret, commented out or leet-spelled.
    for (text, secret) in [
        ("# DB_PASSWORD=Xk9#mQ2vLp", "Xk9#mQ2vLp"),
        ("  # keystore_password: c4ss-Qv8!nLm2", "c4ss-Qv8!nLm2"),
        ("password: P@ssw0rd$1", "P@ssw0rd$1"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn pem_blocks_whose_body_is_words_are_not_keys() {
    for text in [
        "```\n-----BEGIN OPENSSH PRIVATE KEY-----\n<base64 contents of ~/.ssh/deploy_key, about 5 lines>\n-----END OPENSSH PRIVATE KEY-----\n```",
        "-----BEGIN RSA PRIVATE KEY-----\n... paste the contents of your key file here ...\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\n(the PKCS#8 key the console downloaded, base64, many lines)\n-----END PRIVATE KEY-----",
    ] {
        assert_unchanged(text);
    }
    assert_gone(
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----",
        &["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"],
    );
}

#[test]
fn a_header_variable_before_a_url_leaves_the_url() {
    for text in [
        r#"{"stdout": "curl -H \"Authorization: Bearer YOUR_TOKEN\" https://api.gullwing.io/v1/search?q=hello\n"}"#,
        "$ curl -s -H \"Authorization: Bot $DISCORD_TOKEN\" https://discord.com/api/v10/channels/1222306570143599235/messages?limit=2",
        "curl -s -H \"X-API-Key: $PORTAINER_KEY\" https://portainer.lan/api/stacks/4",
        "curl --header \"PRIVATE-TOKEN: $GL_TOKEN\" https://gitlab.com/api/v4/projects/22360025/variables",
    ] {
        assert_unchanged(text);
    }
    assert_gone(
        "curl -H \"Authorization: Bearer cfcabd11c7ed9a41b1a3e063c32d5114\" https://api.example.net/v1/me",
        &["cfcabd11c7ed9a41b1a3e063c32d5114"],
    );
}

#[test]
fn a_secret_named_object_holds_its_value_member() {
    let terraform = "% terraform output -json\n{\n  \"db_endpoint\": {\n    \"sensitive\": false,\n    \"type\": \"string\",\n    \"value\": \"analytics.pxxiaqh8uqeu.eu-central-1.rds.amazonaws.com\"\n  },\n  \"db_admin_password\": {\n    \"sensitive\": false,\n    \"type\": \"string\",\n    \"value\": \"22DvwzKNjRCXGtrjlwTGDW##LNGRD7L\"\n  }\n}";
    assert_gone(terraform, &["22DvwzKNjRCXGtrjlwTGDW##LNGRD7L"]);
    assert!(redact(terraform).contains("analytics.pxxiaqh8uqeu"));
    assert_gone(
        "{\n  \"parameters\": {\n    \"adminPassword\": {\n      \"value\": \"Hq7!vT2mK9pL\"\n    }\n  }\n}",
        &["Hq7!vT2mK9pL"],
    );
    assert_gone(
        "{\"api_token\": {\"sensitive\": true, \"value\": \"tfc_8Lq2Zr9Xv4Tn7Wm3Kp6Ys1Hd\"}}",
        &["tfc_8Lq2Zr9Xv4Tn7Wm3Kp6Ys1Hd"],
    );
    for text in [
        "\"password\": {\"type\": \"string\", \"minLength\": 12, \"description\": \"at least twelve\"}",
        "\"db_password\": {\"sensitive\": true, \"value\": \"${random_password.db.result}\"}",
        "\"api_key\": {\"value\": \"<your api key>\"}",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn pagerduty_routing_keys_go_and_broker_routing_keys_stay() {
    for (text, secret) in [
        (
            "    pagerduty_configs:\n      - routing_key: 90c598b6c23b2472df3b12b01954f8f8\n        severity: critical\n",
            "90c598b6c23b2472df3b12b01954f8f8",
        ),
        (
            "{\"routing_key\": \"e93facc04764012d7bfb002500d5d1a6\", \"event_action\": \"trigger\", \"payload\": {}}",
            "e93facc04764012d7bfb002500d5d1a6",
        ),
        (
            "session = pdpyras.EventsAPISession(routing_key=\"R015L8TNQ2XK7YB4M9W3P6A1C5D0E2F7\")  # PagerDuty",
            "R015L8TNQ2XK7YB4M9W3P6A1C5D0E2F7",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "channel.basic_publish(exchange='events', routing_key='orders.created', body=msg)",
        "channel.basic_publish(exchange='', routing_key='5f4dcc3b5aa765d61d8327deb882cf99', body=msg)",
        "    pagerduty_configs:\n      - routing_key: ${PAGERDUTY_ROUTING_KEY}\n",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn random_keys_with_a_run_of_mixed_case_x_are_still_keys() {
    for (text, secret) in [
        (
            "    'key' => env('APP_KEY', 'base64:eCaZJEEp3ynNdhHzcfPrwcxXxXnlvzRgo2dYi6VWi/k='),",
            "eCaZJEEp3ynNdhHzcfPrwcxXxXnlvzRgo2dYi6VWi/k=",
        ),
        (
            "APP_KEY=base64:eCaZJEEp3ynNdhHzcfPrwcxXxXnlvzRgo2dYi6VWi/k=",
            "eCaZJEEp3ynNdhHzcfPrwcxXxXnlvzRgo2dYi6VWi/k=",
        ),
        (
            "SIGNING_SECRET=q8XxXx2LmT9vRz4KpW7nB3cY",
            "q8XxXx2LmT9vRz4KpW7nB3cY",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
        "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn keys_printed_by_b2_and_erlang_cookies_go() {
    for (text, secret) in [
        (
            "tomasz@dev-3:~/infra$ b2 key create --bucket backups restic-nas listBuckets,readFiles,writeFiles\n00a1c83960f50000000004 K00tW4bDM6lgwqnVbZonwo463YZBAOL\n",
            "K00tW4bDM6lgwqnVbZonwo463YZBAOL",
        ),
        (
            "{\"output\": \"$ b2 create-key nas-backup listBuckets,readFiles\\n0055ca5f6cb4d780000000003 K005Lq8ZrT2vXw9mPn4Kd7Fy3Hs6Bj\\n\"}",
            "K005Lq8ZrT2vXw9mPn4Kd7Fy3Hs6Bj",
        ),
        (
            "[nadia@build01 ~]$ kubectl exec rabbitmq-0 -- cat /var/lib/rabbitmq/.erlang.cookie; echo\nKOCGWNXJPDYVREVLMNLT\n",
            "KOCGWNXJPDYVREVLMNLT",
        ),
        (
            "ops@mq1:~$ sudo cat /var/lib/rabbitmq/.erlang.cookie\nWQZMTRHXBVKLPDNGSYCF\n",
            "WQZMTRHXBVKLPDNGSYCF",
        ),
        (
            "$ docker exec -it rabbit cat /var/lib/rabbitmq/.erlang.cookie\nJHTQXMZRBWPLKVDNCGSF\n",
            "JHTQXMZRBWPLKVDNCGSF",
        ),
        (
            "    environment:\n      RABBITMQ_ERLANG_COOKIE: \"PLMQZXTRWBHKVNDGCJSY\"\n",
            "PLMQZXTRWBHKVNDGCJSY",
        ),
        (
            "rabbitmqctl --erlang-cookie KOCGWNXJPDYVREVLMNLT -n rabbit@rabbitmq-0 cluster_status",
            "KOCGWNXJPDYVREVLMNLT",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "RABBITMQ_ERLANG_COOKIE=${ERLANG_COOKIE}",
        "The Erlang cookie must match on every node of the cluster.",
        "$ sudo cat /etc/hosts\n127.0.0.1 localhost\n",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn user_password_records_of_a_printed_secrets_file_go() {
    for (text, secret) in [
        (
            "aiko@laptop:~/backend$ sudo cat /etc/rsyncd.conf /etc/rsyncd.secrets\n[backups]\n    path = /srv/backups\n    auth users = build\n    secrets file = /etc/rsyncd.secrets\n\nbuild:ECPAZh7fpzq9hHSvl0h\naiko@laptop:~/backend$ ",
            "ECPAZh7fpzq9hHSvl0h",
        ),
        (
            "$ cat /etc/rsyncd.secrets\nbackup:Vq7#Lm2xR9tZ\nmirror:p4Kd9Wq2Lm7Zx3Tn\n$ ",
            "p4Kd9Wq2Lm7Zx3Tn",
        ),
        (
            "root@edge:~# cat /etc/stunnel/stunnel.conf /etc/stunnel/psk.txt\n[redis]\naccept = 6380\nPSKsecrets = /etc/stunnel/psk.txt\nclient1:9f8a6c3e1b7d4f20a5c8e9b1d3f6a7c2\n",
            "9f8a6c3e1b7d4f20a5c8e9b1d3f6a7c2",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "$ cat /etc/rsyncd.conf /etc/rsyncd.secrets\nuid = nobody\nbackup:${RSYNC_PASSWORD}\n",
        "$ cat notes.txt secrets.md\ntodo:review\nowner:platform-team\n",
    ] {
        assert_unchanged(text);
    }
}

// ── Eighth tuning set: shapes its blind run showed ───────────────────────

#[test]
fn an_auth_scheme_named_in_config_is_not_a_bearer_token() {
    for text in [
        "    authorization:\n      type: Bearer\n      credentials_file: /etc/prometheus/secrets/api-token\n",
        "auth:\n  scheme: Bearer\n  token_file: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
        "  type: bearer\n  credentialsSecret: remote-write-credentials\n",
        "Authorization: Bearer access_token_from_login",
    ] {
        assert_unchanged(text);
    }
    for (text, secret) in [
        (
            "curl -H 'Authorization: Bearer Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5' https://api.x.dev/v1",
            "Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5",
        ),
        (
            "Authorization: Bearer\tQ8wYt2Zr9Lm3Vx7Kp4Tn1Hd6Bf0Gc5Ja2",
            "Q8wYt2Zr9Lm3Vx7Kp4Tn1Hd6Bf0Gc5Ja2",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn realms_and_upstream_pass_directives_are_not_passwords() {
    for text in [
        "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
        "  -e \"REGISTRY_AUTH_HTPASSWD_REALM=Basic Realm\" \\",
        "HTPASSWD_REALM=Restricted",
        "auth_realm: Internal Grafana",
        "location / {\n    proxy_pass           http://127.0.0.1:5000;\n}",
        "    fastcgi_pass   unix:/run/php/php8.2-fpm.sock;",
        "    grpc_pass      grpc://backend:50051;",
        "    uwsgi_pass     unix:///tmp/app.sock;",
        r#"{"content": "location /admin/ {\n    auth_basic \"admin\";\n    proxy_pass           http://127.0.0.1:5000;\n}"}"#,
    ] {
        assert_unchanged(text);
    }
    assert_gone("DB_PASS    Xk9#mQ2vLp7!", &["Xk9#mQ2vLp7!"]);
    assert_gone("REGISTRY_PASSWORD=Vq7#Lm2xR9tZ", &["Vq7#Lm2xR9tZ"]);
}

#[test]
fn interleaved_counting_and_repeated_units_are_made_up() {
    for text in [
        "hmac_secret: 1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f",
        "SIGNING_KEY=a1b2c3d4e5f6a7b8c9d0e1f2",
        "const SESSION_SECRET = \"1a2b3c4d5e6f7g8h9i0j\";",
        "api_token: abc123abc123abc123abc123",
        "client_secret = 'deadbeefdeadbeefdeadbeefdeadbeef'",
        "JWT_SECRET=Qx7Qx7Qx7Qx7Qx7Qx7Qx7Qx7",
        "\"webhook_secret\": \"ab12ab12ab12ab12ab12\"",
    ] {
        assert_unchanged(text);
    }
    for (text, secret) in [
        (
            "hmac_secret: 9f3c2a7e1b6d4f8a0c5e2b9d7f1a3c6e",
            "9f3c2a7e1b6d4f8a0c5e2b9d7f1a3c6e",
        ),
        (
            "SIGNING_KEY=q8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df",
            "q8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn stand_in_passwords_with_a_qualifier_stay() {
    for text in [
        r#"resp = client.post("/reset", json={"token": t, "password": "N3w-passw0rd!"})"#,
        "    new_password = \"NewPassword123!\"",
        "login(user, password=\"wrong-password1\")",
        "\"password\": \"OldP@ssw0rd\"",
        "assert change_password(u, old=\"Passw0rd!\", new=\"NewP@ssword1\")",
        "ALTER USER app WITH PASSWORD 'temp_password';",
    ] {
        assert_unchanged(text);
    }
    // A qualifier before something that is no stand-in word proves nothing.
    for (text, secret) in [
        ("\"password\": \"N3w-Qz8!vLm2\"", "N3w-Qz8!vLm2"),
        ("\"password\": \"Newtown-Rd-1984!\"", "Newtown-Rd-1984!"),
        ("mysql -u root -pMyS3cret! -h 127.0.0.1", "MyS3cret!"),
        ("DB_PASSWORD=Str0ng_Passw0rd!", "Str0ng_Passw0rd!"),
        ("\"password\": \"hunter2hunter2\"", "hunter2hunter2"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn generated_salts_starting_with_a_percent_sign_go() {
    for (text, secret) in [
        (
            "define( 'SECURE_AUTH_KEY',  '%$Rv$oBsRJ]s(^.JmSsIYMC{.u1qz~{Bl:[_44lwn#2^5@t+X&~Y@dB-Sr3IJy8#' );",
            "%$Rv$oBsRJ]s(^.JmSsIYMC{.u1qz~{Bl:[_44lwn#2^5@t+X&~Y@dB-Sr3IJy8#",
        ),
        (
            "define('NONCE_KEY', '%K8f]z!Qp2@Lr7#Vt(9mXw^4Bn&6Yc*3Hd_0Gj=5');",
            "%K8f]z!Qp2@Lr7#Vt(9mXw^4Bn&6Yc*3Hd_0Gj=5",
        ),
        ("DB_PASSWORD=%q7Lm!Vx2#Rz9Tp", "%q7Lm!Vx2#Rz9Tp"),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "password: %DB_PASSWORD%",
        "password = %(db_password)s",
        "api_key: %{API_KEY}",
        "SECRET_KEY = \"%s\"",
        "token: %env.TOKEN",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn cloud_run_secret_annotations_are_references() {
    for text in [
        "    run.googleapis.com/secrets: 'db-pass:projects/250844923009/secrets/scheduler-db-password'",
        "  annotations:\n    run.googleapis.com/secrets: api-key:projects/123456789012/secrets/stripe-api-key,signing:projects/123456789012/secrets/jwt-signing-key\n",
        "secret: \"webhook:projects/my-proj/secrets/webhook-secret\"",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn file_paths_handed_to_secret_readers_stay() {
    for text in [
        "EMAIL_HOST_PASSWORD = read_secret(\"/run/secrets/smtp_password\")",
        "+    \"secret_key\": read_secret(\"/run/secrets/stripe_secret_key\"),",
        "DB_PASSWORD = open(\"/var/run/secrets/db/password\").read().strip()",
        "API_KEY = Path('/etc/app/keys/api_key').read_text()",
        "let token = fs::read_to_string(\"/run/secrets/github-token\")?;",
        "SECRET_KEY = load_key(\"/opt/app/keys/signing.pem\")",
    ] {
        assert_unchanged(text);
    }
    assert_gone(
        "SECRET_KEY = bytes.fromhex(\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\")",
        &["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    );
}

#[test]
fn a_json_members_name_after_a_secret_word_is_not_its_value() {
    for text in [
        r#"{"name":"read_secret","arguments":{"path":"kv/data/app/prod","field":"password","reveal":false}}"#,
        r#"{"tool": "vault_read", "args": {"key": "token", "mount": "secret", "path": "ci/deploy"}}"#,
        r#"{"call_id": "call_02xrJUdVyY5PwWolToX9k3Bf", "stdout": "ok"}"#,
    ] {
        assert_unchanged(text);
    }
    // Two strings side by side are still a name and its value.
    assert_gone(r#"["password", "s3cr3tP@ss99"]"#, &["s3cr3tP@ss99"]);
    assert_gone(
        r#"config.set("password", "Xk9#mQ2vLp7!")"#,
        &["Xk9#mQ2vLp7!"],
    );
}

#[test]
fn session_ids_logged_as_fields_stay_and_session_cookies_go() {
    for text in [
        "[2025-11-13T17:54:53.533Z] [info] [mcp:github] Initializing server... session=eca766d4ba50e91f401eb411c1deccfc",
        "INFO 2026-01-02 worker ready session_id=5f2b9c0e7a1d43f8b6e2c9a0d4f7e1b3 pid=4211",
        "level=debug msg=\"stream opened\" session=0c9e2f4a7b1d8e3f6a0c5b9d2e7f1a4c",
    ] {
        assert_unchanged(text);
    }
    for (text, secret) in [
        (
            "Cookie: _ga=GA1.1.2078.1717; sessionid=8b2f0e9c4a7d1e3f6b0a5c9d2e8f7a14; csrftoken=x",
            "8b2f0e9c4a7d1e3f6b0a5c9d2e8f7a14",
        ),
        (
            "curl -b 'session=4a7d1e3f6b0a5c9d2e8f7a148b2f0e9c' https://app.example.dev/api/me",
            "4a7d1e3f6b0a5c9d2e8f7a148b2f0e9c",
        ),
        (
            "GET /dashboard?sid=6b0a5c9d2e8f7a148b2f0e9c4a7d1e3f HTTP/1.1",
            "6b0a5c9d2e8f7a148b2f0e9c4a7d1e3f",
        ),
        (
            "< set-cookie: session=Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5; HttpOnly",
            "Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5",
        ),
        (
            "# saved from the browser
session=9c4a7d1e3f6b0a5c9d2e8f7a148b2f0e
",
            "9c4a7d1e3f6b0a5c9d2e8f7a148b2f0e",
        ),
        (
            "DEBUG http: request cookie session=2e8f7a148b2f0e9c4a7d1e3f6b0a5c9d path=/",
            "2e8f7a148b2f0e9c4a7d1e3f6b0a5c9d",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn values_given_to_commands_that_store_secrets_go() {
    for (text, secret) in [
        (
            "  205  gh secret set TWILIO_AUTH_TOKEN --body \"9b5a1ca8df77b95466325074ce51bb67\"",
            "9b5a1ca8df77b95466325074ce51bb67",
        ),
        (
            "$ gh secret set DEPLOY_HOOK_URL_SIG -b'Qm9xT2Vw3kLzq8RrV7tY2pXc' --repo acme/web",
            "Qm9xT2Vw3kLzq8RrV7tY2pXc",
        ),
        (
            "gh secret set NPM_PUBLISH --env production --body=Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
            "Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
        ),
        (
            r#"{"cmd": "gh secret set SLACK_SIGNING --body \"f2d9c1b7a4e8f3d2c6b9a0e1f7d3c5b8\""}"#,
            "f2d9c1b7a4e8f3d2c6b9a0e1f7d3c5b8",
        ),
        (
            "fly secrets set SESSION_SIGNER=Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6 LOG_LEVEL=debug",
            "Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
        ),
        (
            "flyctl secrets set -a billing WEBHOOK_SIGNING=Hq7vT2mK9pL4wR8zN3bC5dF6",
            "Hq7vT2mK9pL4wR8zN3bC5dF6",
        ),
        (
            "az keyvault secret set --vault-name kv-prod --name smtp-relay --value 'Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5'",
            "Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5",
        ),
        (
            "kubectl create secret generic app-env --from-literal=signer=Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6 --from-literal=region=eu-west-1",
            "Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
        ),
        (
            "vault kv put secret/billing stripe=rk_live_9Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0 owner=payments",
            "rk_live_9Zq8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "gh secret set NPM_TOKEN --body \"$NPM_TOKEN\"",
        "gh secret set AWS_ROLE_ARN --body arn:aws:iam::123456789012:role/deploy",
        "gh secret set DEPLOY_KEY < ~/.ssh/deploy_key",
        "gh secret set --help\n  -b, --body string   The value for the secret (reads from standard input if not specified)",
        "Usage: gh secret set <secret-name> [flags]",
        "fly secrets set DATABASE_URL=$(op read op://prod/db/url)",
        "fly secrets set LOG_LEVEL=debug FEATURE_FLAGS=beta,search",
        "kubectl create secret generic app --from-file=key.json=./svc.json --from-literal=region=us-east-1",
        "vault kv put secret/app ttl=30m owner=platform-team",
        "vault kv put -mount=secret app @payload.json",
        "az keyvault secret set --vault-name kv --name x --file ./secret.txt",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn tables_pasted_into_json_strings_keep_their_columns() {
    assert_gone(
        r#"{"role": "tool", "content": "User name,Password,Access key ID,Secret access key,Console login link\nci-reports,Vq7#Lm2xR9tZ-8kPw,AKIAQ3NX7RZ2LM4KWT6B,Ht7bQ2zLm9Vx4Kp8Rn3Wc6Yd1Fs5Gj0Ha2Te7UbQ,https://123456789012.signin.aws.amazon.com/console", "ts": "2025-10-24"}"#,
        &[
            "Vq7#Lm2xR9tZ-8kPw",
            "AKIAQ3NX7RZ2LM4KWT6B",
            "Ht7bQ2zLm9Vx4Kp8Rn3Wc6Yd1Fs5Gj0Ha2Te7UbQ",
        ],
    );
    assert_gone(
        r#"{"type": "tool_result", "content": "| Service | Key | Owner |\n|---|---|---|\n| Postmark | 4f6d2a8e-3b1c-4e7f-9a0d-6c5b8e2f1a7d | keiko |\n| Segment | Wq3Lm8Zr2Vx7Kp4Tn9Hd1Bf6Gc0Ja5Ye | jonas |", "is_error": false}"#,
        &[
            "4f6d2a8e-3b1c-4e7f-9a0d-6c5b8e2f1a7d",
            "Wq3Lm8Zr2Vx7Kp4Tn9Hd1Bf6Gc0Ja5Ye",
        ],
    );
    assert_gone(
        r#"{"output": "name\tpassword\thost\nreporting\tQz8!vLm2#Tx9\tdb-1.internal\n"}"#,
        &["Qz8!vLm2#Tx9"],
    );
    assert_gone(
        r#"{"text": "user,password\nalice,\"Tr0ub4dor&3\"", "ok": true}"#,
        &["Tr0ub4dor&3"],
    );
    for text in [
        r#"{"stdout": "id,username,password_hash,created\n1,alice,$2b$12$KIXQJ0sQ9rU8xW3YtZb1Oe6m5n4l3k2j1h0g9f8e7d6c5b4a3,2025-01-02\n"}"#,
        r#"{"content": "| Key | Description | Default |\n|---|---|---|\n| cache.ttl | seconds to keep | 300 |\n| log.level | verbosity | info |"}"#,
        r#"{"content": "| Setting | Token | Notes |\n|---|---|---|\n| ci | ${CI_TOKEN} | from vault |"}"#,
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn a_line_naming_a_provider_and_its_key_introduces_the_next_line() {
    for (text, secret) in [
        (
            "Heroku token for the new workspace\n6c2a9e1f-4b7d-4e3a-8f0c-2d5b9a7e1c34\n\npaste it into the integration settings",
            "6c2a9e1f-4b7d-4e3a-8f0c-2d5b9a7e1c34",
        ),
        (
            r#"{"content": "Datadog api key for staging\n7e1c34a9b2d84f60c3a5e7b9d1f2c4a6\n\nrotate it next quarter"}"#,
            "7e1c34a9b2d84f60c3a5e7b9d1f2c4a6",
        ),
        (
            "Datadog app key (read-only)\n3f9a7c1e5b2d8f4a6c0e9b7d1f3a5c8e2b4d6f0a",
            "3f9a7c1e5b2d8f4a6c0e9b7d1f3a5c8e2b4d6f0a",
        ),
        (
            "- Sendgrid api key for the marketing account\n  SG.Zq8Lm3Vt2Kx9Pw4Rn7Yb1H.c6Df0Ga5Jq2Wm8Xe4Tz7Lk3Vn9Bp1Rs6Yd0Hc5Ga",
            "SG.Zq8Lm3Vt2Kx9Pw4Rn7Yb1H.c6Df0Ga5Jq2Wm8Xe4Tz7Lk3Vn9Bp1Rs6Yd0Hc5Ga",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "Sentry token rotation commit\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "Stripe key concepts are explained below\nhttps://stripe.com/docs/keys",
        "Heroku token for the new workspace\n(ask Dana, she has it)",
        "GitHub token scopes needed\nrepo,workflow,read:org",
        "Datadog api key id for the new workspace\n7e1c34a9b2d84f60c3a5e7b9d1f2c4a6",
        "Heroku app for the new workspace\n6c2a9e1f-4b7d-4e3a-8f0c-2d5b9a7e1c34",
        "Sentry project key for the backend.\n9f2a7c1e5b3d8f4a6c0e9b7d1f3a5c8e",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn a_twilio_account_sid_goes_with_its_auth_token() {
    let (sid, token) = (
        "AC5e1f9a2b7c3d8e4f6a0b9c1d2e3f4a5b",
        "8f2d6b1a9c3e7f0d4b5a2c8e6f1d3b7a",
    );
    for text in [
        format!("client = Client(\"{sid}\", \"{token}\")"),
        format!("const client = require('twilio')('{sid}', '{token}');"),
        format!("TWILIO creds: {sid}:{token}"),
        format!(
            r#"{{"content": "client = Client(\"{sid}\", \"{token}\")\nmsg = client.messages.create(to=to)"}}"#
        ),
    ] {
        assert_gone(&text, &[sid, token]);
    }
    // Alone, an account SID names an account.
    assert_unchanged(&format!("Message sent from account {sid} (status: queued)"));
}

// ── Ninth tuning set: shapes its blind run showed ────────────────────────

#[test]
fn vendor_tokens_typed_from_filler_parts_stay() {
    for text in [
        "  slackToken: 'xoxb-1111111111-2222222222222-abcdefghijklmnopqrstuvwx',",
        "  slackToken: 'xoxp-0000000000-9999999999-1234567890abcdefghij',",
        r#"{"content": "export const FIXTURES = {\n  slackToken: 'xoxb-1111111111-2222222222222-abcdefghijklmnopqrstuvwx',\n};"}"#,
    ] {
        assert_unchanged(text);
    }
    // A run or two inside a random body proves nothing.
    for (text, secret) in [
        (
            "  slackToken: 'xoxb-2847261935-4827361928374-Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6',",
            "xoxb-2847261935-4827361928374-Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
        ),
        (
            "SLACK_BOT_TOKEN=xoxb-1234567890-1234567890123-Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
            "xoxb-1234567890-1234567890123-Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn discord_bot_tokens_go_wherever_they_stand() {
    for (text, secret) in [
        (
            "client.run('MTE2MDI4NDk4NTQ3MDYyNTU1Mg.Yc12-z.1NhYNnmn2sQyfAIzl4k-fPraxyvDVPvpoRprLf')",
            "MTE2MDI4NDk4NTQ3MDYyNTU1Mg.Yc12-z.1NhYNnmn2sQyfAIzl4k-fPraxyvDVPvpoRprLf",
        ),
        (
            "bot.login(\"NzkyNzE1NDU0MTk2MDg4ODQy.X-hvzA.Ovy4MCQywSkoMRRclStW4xAYK7I\");",
            "NzkyNzE1NDU0MTk2MDg4ODQy.X-hvzA.Ovy4MCQywSkoMRRclStW4xAYK7I",
        ),
        (
            r#"{"text": "import discord\n\nclient.run(\"ODk3NjU0MzIxMDk4NzY1NDMy.YaBcDe.Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga\")"}"#,
            "ODk3NjU0MzIxMDk4NzY1NDMy.YaBcDe.Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    // The first part must decode to a user id: not a JWT, not a dotted
    // name of three random parts.
    for text in [
        "Mzk0ODU3MjA5.abcdef.Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5",
        "MQz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6D.abcdef.Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5",
        "see release NmFiY2RlZjAxMjM0NTY3ODkw.build1.artifact-manifest-checksums-x",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn a_grep_pattern_after_a_mysql_p_flag_is_no_password() {
    for text in [
        "$ mysql --help | grep -A2 -E '^  -p|--password|--ssl-key'",
        "mysql --help | grep -E \"-p|--password\"",
        "mysql -u root -p| tee out.log",
    ] {
        assert_unchanged(text);
    }
    assert_gone("mysql -u root -pQz8!Lm3Vt2 -h db", &["Qz8!Lm3Vt2"]);
}

#[test]
fn pass_as_the_verb_of_a_test_run_is_no_name() {
    for text in [
        "All 48 tests pass: `cargo test -p fleet-tracker`.",
        "All 12 checks pass: `npm run lint -- --fix`",
        "Both specs pass: `bundle exec rspec spec/auth_spec.rb`",
        r#"{"content": "Done.\nAll 52 tests pass: `cargo test -p audit-trail`.\n"}"#,
    ] {
        assert_unchanged(text);
    }
    for (text, secret) in [
        ("jenkins pass: Vq7#Lm2xR9tZ", "Vq7#Lm2xR9tZ"),
        (
            "db pass: `correct horse battery staple`",
            "correct horse battery staple",
        ),
        ("wifi pass: Tq9#mLz2Vx4k", "Tq9#mLz2Vx4k"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn a_service_named_as_its_own_password_stays() {
    for text in [
        "    environment:\n      POSTGRES_PASSWORD: postgres\n      POSTGRES_DB: app_test\n",
        "RABBITMQ_DEFAULT_PASS=rabbitmq",
        "      GRAFANA_ADMIN_PASSWORD: grafana",
        r#"{"content": "  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: postgres\n"}"#,
    ] {
        assert_unchanged(text);
    }
    for (text, secret) in [
        ("      POSTGRES_PASSWORD: Qz8mLvT2pW", "Qz8mLvT2pW"),
        ("      POSTGRES_PASSWORD: harborlights", "harborlights"),
        ("postgres_password = postgres2024!", "postgres2024!"),
    ] {
        assert_gone(text, &[secret]);
    }
}

#[test]
fn secret_names_and_versions_in_cloud_run_flags_are_references() {
    for text in [
        "gcloud run deploy api --set-secrets=DB_PASS=db-password:latest,STRIPE_KEY=projects/443936345882/secrets/stripe-key/versions/3",
        "gcloud run deploy api --update-secrets=SMTP_PASSWORD=smtp-password:2",
        "gcloud run deploy api --update-secrets=API_TOKEN=api-token:latest,X=webhook-secret:1",
        "  --set-secrets DB_PASS=db-password:3 \\",
    ] {
        assert_unchanged(text);
    }
    assert_gone(
        "gcloud run deploy api --set-env-vars=DB_PASSWORD=Qz8!Lm3Vt2Kx",
        &["Qz8!Lm3Vt2Kx"],
    );
}

#[test]
fn a_value_given_to_another_name_after_a_secret_noun_stays() {
    for text in [
        "WARN jwt: verification failed: no key with kid=sgaQcJnqJkL8w9x-ygt0IPF03S7-lHaHKzcc7IDTCso after refresh",
        "the token for tenant_id=9f3c2a7e1b6d4f8a0c5e2b9d7f1a3c6e was rejected",
        "secret lookup failed for version=Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
    ] {
        assert_unchanged(text);
    }
    assert_gone(
        "the signing key is sgaQcJnqJkL8w9x-ygt0IPF03S7-lHaHKzcc7IDTCso",
        &["sgaQcJnqJkL8w9x-ygt0IPF03S7-lHaHKzcc7IDTCso"],
    );
}

#[test]
fn a_header_under_a_row_of_its_table_is_a_row() {
    for text in [
        "| name | staging | prod |\n|---|---|---|\n| STRIPE_SECRET_KEY | set | set |\n| STRIPE_WEBHOOK_SECRET | set | **missing** |\n| SENTRY_DSN | missing | set |\n",
        r#"{"payload": "{\"content\": \"| name | staging | prod |\\n|---|---|---|\\n| REDIS_URL | set | set |\\n| STRIPE_SECRET_KEY | set | set |\\n| SENTRY_DSN | missing | set |\\n\"}"}"#,
        "name,staging,prod\nDATABASE_URL,set,set\nAPI_TOKEN,set,set\nSENTRY_DSN,missing,set\n",
    ] {
        assert_unchanged(text);
    }
    // A box's top border stands over MySQL's header.
    assert_gone(
        "+------------+----------------------------------+\n| label      | secret_key                       |\n+------------+----------------------------------+\n| okx-hedge  | 08F52AE336E5AE71707503231D936295 |\n+------------+----------------------------------+\n",
        &["08F52AE336E5AE71707503231D936295"],
    );
    assert_gone(
        "| user | password |\n|---|---|\n| app | Qz8!Lm3Vt2Kx |\n",
        &["Qz8!Lm3Vt2Kx"],
    );
}

#[test]
fn migration_file_names_are_not_values() {
    for text in [
        r#"{"content": "$ ls db/migrate/\n20230332022393_create_oauth_client_secrets.rb\n20230412210793_add_reset_password_token_to_users.rb"}"#,
        "$ ls migrations/\n0041_create_api_keys.py\n0042_add_secret_hash_to_api_tokens.py\n",
        "$ ls db/migrations\n20240101120000_create_secrets.sql\n20240102120000_rotate_signing_keys.sql",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn pgpass_passwords_made_of_words_digits_and_a_symbol_go() {
    for (text, secret) in [
        (
            "$ cat ~/.pgpass\n10.16.195.181:5432:*:app:e8QU-SeZ9stx-bgJ\npostgres:5432:ingest:readonly:Jasper_Ripple2297+\n",
            "Jasper_Ripple2297+",
        ),
        (
            "db.internal:6432:billing:report:Maple-Harbor-4471!",
            "Maple-Harbor-4471!",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "node-1:5432:ok:running:primary",
        "replica-2:5432:ok:streaming:standby",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn oauth_client_constructors_lose_their_secret() {
    for (text, secret) in [
        (
            "const oauth = new OAuthClient('0760da70d901ad4be598', 'd383f8e604cb4e110d4ea8f661ea3c1b7af68663', {",
            "d383f8e604cb4e110d4ea8f661ea3c1b7af68663",
        ),
        (
            "const client = new OAuth2Client(CLIENT_ID, 'GOCSPX-Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df', REDIRECT);",
            "GOCSPX-Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df",
        ),
        (
            "const auth = new google.auth.OAuth2(process.env.GOOGLE_CLIENT_ID, 'Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6', '/cb');",
            "Qz8Lm3Vt2Kx9Pw4Rn7Yb1Hc6",
        ),
        (
            "cred = ClientSecretCredential(\"tenant-id\", \"app-id\", \"Qz8~Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5\")",
            "Qz8~Lm3Vt2Kx9Pw4Rn7Yb1Hc6Df0Ga5",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "const client = new OAuth2Client(CLIENT_ID, process.env.GOOGLE_CLIENT_SECRET, REDIRECT);",
        "session = OAuth2Session(client_id, redirect_uri='https://x.dev/cb')",
        "see https://accounts.google.com/o/oauth2/v2/auth?client_id=abc",
    ] {
        assert_unchanged(text);
    }
}

#[test]
fn keys_in_an_appid_query_parameter_go() {
    for (text, secret) in [
        (
            "GET https://api.openweathermap.org/data/2.5/weather?q=Berlin&appid=AF0Ncr5ITybYWldWtHG9tWf6zkA5UeKN&units=metric -> 200",
            "AF0Ncr5ITybYWldWtHG9tWf6zkA5UeKN",
        ),
        (
            "curl 'https://api.openweathermap.org/data/2.5/forecast?appid=9f3c2a7e1b6d4f8a0c5e2b9d7f1a3c6e'",
            "9f3c2a7e1b6d4f8a0c5e2b9d7f1a3c6e",
        ),
    ] {
        assert_gone(text, &[secret]);
    }
    for text in [
        "GET /x?appid=1234567890123456",
        "https://graph.facebook.com/oauth?appid=4829173650192837",
    ] {
        assert_unchanged(text);
    }
}
