#!/usr/bin/env python3
"""Generator for session_heldout.jsonl: held-out redaction test data.

Every "secret" below is produced from a seeded PRNG with the alphabet, length
and prefix of the vendor format it imitates.  None of them is a real
credential.  Run:  python3 gen_session_heldout.py  (writes next to itself).
"""
import base64
import json
import os
import random
import string
import struct
import sys
import uuid
import zlib
import hashlib
import datetime
import urllib.parse

SEED = 0x5E55_1011
R = random.Random(SEED)

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DIG = string.digits
ALNUM = UP + LO + DIG
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
HEXU = "0123456789ABCDEF"

# substrings that would make a random value look like a placeholder; resample
_BAD = ("test", "example", "dummy", "fake", "xxxx", "0000", "1234", "abcd",
        "sample", "demo", "invalid", "change", "placeholder", "redact", "your",
        "secret", "token", "passw", "key", "null", "none", "todo", "fixme")


def rs(alpha, n, clean=True):
    while True:
        s = "".join(R.choice(alpha) for _ in range(n))
        if not clean:
            return s
        low = s.lower()
        if not any(b in low for b in _BAD):
            return s


def rhex(n):
    return rs(HEX, n)


def rdig(n):
    return str(R.randint(1, 9)) + "".join(R.choice(DIG) for _ in range(n - 1))


def pick(seq):
    return R.choice(seq)


def b64(b):
    return base64.b64encode(b).decode()


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def ruuid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def rdate(year_from=2023, year_to=2025):
    start = datetime.datetime(year_from, 1, 1)
    end = datetime.datetime(year_to, 6, 30)
    delta = end - start
    return start + datetime.timedelta(seconds=R.randint(0, int(delta.total_seconds())))


def iso(d=None):
    d = d or rdate()
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def jesc(s):
    """JSON-escape a string once, without the surrounding quotes."""
    return json.dumps(s)[1:-1]


# ---------------------------------------------------------------- vendors
def aws_akid(prefix="AKIA"):
    return prefix + rs(UP + "234567", 16)


def aws_secret():
    while True:
        s = rs(ALNUM + "+/", 40)
        if any(c in s for c in "+/") and any(c.isdigit() for c in s):
            return s


def aws_session_token():
    return "IQoJb3JpZ2luX2Vj" + rs(B64, 300) + "=="


def ghp():
    return "ghp_" + rs(ALNUM, 36)


def gho():
    return "gho_" + rs(ALNUM, 36)


def ghs():
    return "ghs_" + rs(ALNUM, 36)


def github_pat():
    return "github_pat_11" + rs(UP + DIG, 20) + "_" + rs(ALNUM, 59)


def glpat():
    return "glpat-" + rs(ALNUM + "-_", 20)


def xoxb():
    return "xoxb-%s-%s-%s" % (rdig(12), rdig(13), rs(ALNUM, 24))


def xoxp():
    return "xoxp-%s-%s-%s-%s" % (rdig(12), rdig(12), rdig(13), rhex(32))


def openai_key():
    if R.random() < 0.75:
        return "sk-proj-" + rs(B64URL, 64) + "T3BlbkFJ" + rs(B64URL, 64)
    return "sk-" + rs(ALNUM, 20) + "T3BlbkFJ" + rs(ALNUM, 20)


def anthropic_key():
    return "sk-ant-api03-" + rs(B64URL, 93) + "AA"


def stripe_live(kind="sk"):
    if R.random() < 0.5:
        return kind + "_live_" + rs(ALNUM, 24)
    return kind + "_live_51" + rs(ALNUM, 97)


def stripe_whsec():
    return "whsec_" + rs(ALNUM, 32)


def sendgrid():
    return "SG." + rs(B64URL, 22) + "." + rs(B64URL, 43)


def google_api_key():
    return "AIza" + rs(B64URL, 35)


def gocspx():
    return "GOCSPX-" + rs(B64URL, 28)


def telegram_bot():
    return "%s:AA%s" % (rdig(10), rs(B64URL, 33))


def slack_hook_parts():
    return "T" + rs(UP + DIG, 9), "B" + rs(UP + DIG, 11), rs(ALNUM, 24)


def discord_hook():
    return rdig(19), rs(B64URL, 68)


def hf_token():
    return "hf_" + rs(ALNUM, 34)


def npm_token():
    return "npm_" + rs(ALNUM, 36)


def pypi_token():
    return "pypi-AgEIcHlwaS5vcmc" + rs(B64URL, 150)


def shopify():
    return "shpat_" + rhex(32)


def do_token():
    return "dop_v1_" + rhex(64)


def linear_key():
    return "lin_api_" + rs(ALNUM, 40)


def notion_key():
    return "secret_" + rs(ALNUM, 43) if R.random() < 0.5 else "ntn_" + rdig(11) + rs(ALNUM, 35)


def postman_key():
    return "PMAK-" + rhex(24) + "-" + rhex(34)


def newrelic_key():
    return "NRAK-" + rs(UP + DIG, 27)


def vault_token():
    return "hvs." + rs(ALNUM + "_-", 91)


def groq_key():
    return "gsk_" + rs(ALNUM, 52)


def replicate_key():
    return "r8_" + rs(ALNUM, 37)


def doppler_token():
    return "dp.st.prd." + rs(ALNUM, 40)


def age_secret():
    return "AGE-SECRET-KEY-1" + rs("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)


def mailgun_key():
    return "key-" + rhex(32)


def mailchimp_key():
    return rhex(32) + "-us" + str(R.randint(2, 21))


def azure_storage_key():
    return b64(rbytes(64))


def mapbox_secret():
    user = pick(["acme-maps", "jdoe", "fleetview"])
    return "sk." + b64u(json.dumps({"u": user, "a": rs(LO + DIG, 25)}, separators=(",", ":")).encode()) + "." + rs(B64URL, 22)


def password(n=None, symbols="!#%^*-_=+.~"):
    n = n or R.randint(14, 24)
    while True:
        s = rs(ALNUM + symbols, n)
        if (any(c.isupper() for c in s) and any(c.islower() for c in s)
                and any(c.isdigit() for c in s) and any(c in symbols for c in s)):
            return s


def url_password(n=None):
    return password(n, symbols="-_.~")


def jwt(alg="HS256", payload=None):
    header = {"alg": alg, "typ": "JWT"}
    if alg.startswith("RS") and R.random() < 0.6:
        header["kid"] = rs(B64URL, 27)
    now = int(rdate().timestamp())
    payload = payload or {
        "sub": pick([ruuid(), "user_" + rdig(7), "svc-" + pick(["billing", "ingest", "gateway"])]),
        "iat": now, "exp": now + pick([900, 3600, 86400]),
        "iss": pick(["https://auth.acme.io/", "https://login.northwind.dev", "api-gateway"]),
        "scope": pick(["read:orders write:orders", "admin", "repo user", "openid profile email"]),
    }
    sig = rbytes(32 if alg.startswith("HS") else 256)
    enc = lambda o: b64u(json.dumps(o, separators=(",", ":")).encode())
    return "%s.%s.%s" % (enc(header), enc(payload), b64u(sig))


def _pem(label, der, width=64):
    body = b64(der)
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----" % (label, "\n".join(lines), label)


def pem_pkcs8_rsa():
    prefix = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7308204a30201000282010100")
    return _pem("PRIVATE KEY", prefix + rbytes(1217 - len(prefix)))


def pem_rsa():
    prefix = bytes.fromhex("308204a40201000282010100")
    return _pem("RSA PRIVATE KEY", prefix + rbytes(1192 - len(prefix)))


def pem_ec():
    der = (bytes.fromhex("30770201010420") + rbytes(32) +
           bytes.fromhex("a00a06082a8648ce3d030107a14403420004") + rbytes(64))
    return _pem("EC PRIVATE KEY", der)


def _sshstr(b):
    return struct.pack(">I", len(b)) + b


def pem_openssh(comment="user@host"):
    pk = rbytes(32)
    sk = rbytes(32)
    pub = _sshstr(b"ssh-ed25519") + _sshstr(pk)
    chk = rbytes(4)
    priv = chk + chk + pub + _sshstr(sk + pk) + _sshstr(comment.encode())
    pad = 1
    while len(priv) % 8:
        priv += bytes([pad])
        pad += 1
    blob = (b"openssh-key-v1\x00" + _sshstr(b"none") + _sshstr(b"none") + _sshstr(b"") +
            struct.pack(">I", 1) + _sshstr(pub) + _sshstr(priv))
    return _pem("OPENSSH PRIVATE KEY", blob, width=70)


def ssh_pubkey(comment):
    pk = rbytes(32)
    return "ssh-ed25519 " + b64(_sshstr(b"ssh-ed25519") + _sshstr(pk)) + " " + comment


def cert_pem():
    der = bytes.fromhex("3082") + struct.pack(">H", 900) + bytes.fromhex("3082032c") + rbytes(896)
    return _pem("CERTIFICATE", der)


def gcp_sa(project=None, pem=None):
    project = project or pick(PROJECTS) + "-" + rdig(6)
    name = pick(["ci-deployer", "bq-loader", "terraform", "gke-nodes", "pubsub-writer", "dataflow-runner"])
    email = "%s@%s.iam.gserviceaccount.com" % (name, project)
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": rhex(40),
        "private_key": (pem or pem_pkcs8_rsa()) + "\n",
        "client_email": email,
        "client_id": rdig(21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + urllib.parse.quote(email),
        "universe_domain": "googleapis.com",
    }


# ---------------------------------------------------------------- pools
PROJECTS = ["billing-api", "atlas", "orion-web", "ledger", "harbor", "quartz",
            "payments-svc", "kite", "nimbus", "relay", "tern", "pylon", "juniper",
            "mosaic", "fjord", "saltmarsh"]
USERS = ["alice", "bmartin", "deploy", "ci-bot", "jchen", "priya", "svc_etl", "ops",
         "mlee", "tkowalski", "app", "reporting", "etl_writer", "grafana"]
DBHOSTS = ["db-prod-1.internal", "pg.staging.acme.io", "10.0.3.17",
           "orders.cluster-c9x2k1.eu-west-1.rds.amazonaws.com", "postgres", "localhost",
           "analytics-db.prod.svc.cluster.local", "192.168.40.12"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ca-central-1"]
BUCKETS = ["acme-prod-artifacts", "orion-static-assets", "ledger-exports-eu", "ml-training-data-7",
           "nimbus-backups", "harbor-logs-archive"]
FILES_RS = ["src/lib.rs", "src/main.rs", "src/http/client.rs", "src/store/mod.rs", "src/config.rs"]
NAMES = ["Alice Nguyen", "Ben Martin", "Priya Raman", "Tomasz Kowalski", "Jia Chen",
         "Maria Lopez", "Sam O'Neill", "Ravi Patel"]


def account_id():
    return rdig(12)


def aws_res(kind):
    return "%s-%s" % (kind, rhex(17))


def git_sha():
    return rhex(40)


def sha256hex():
    return rhex(64)


def sha512_integrity():
    return "sha512-" + b64(rbytes(64))


def tiny_png(w=1, h=1):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + bytes(R.getrandbits(8) for _ in range(w * 3)) for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def toolu():
    return "toolu_01" + rs(ALNUM, 22)


REG = {}


def tpl(family):
    def deco(f):
        REG.setdefault(family, []).append(f)
        return f
    return deco

# ======================================================================
# CLEAN: doc_example
# ======================================================================
F = "doc_example"


@tpl(F)
def _():
    region = pick(REGIONS)
    intro = pick(["From the AWS CLI quickstart, this is what the prompt looks like:",
                  "The docs show this flow for `aws configure`:",
                  "Here's the example session from the getting-started guide, I just need to know what region to pick:",
                  ""])
    return (intro + "\n" if intro else "") + (
        "$ aws configure\n"
        "AWS Access Key ID [None]: AKIAIOSFODNN7EXAMPLE\n"
        "AWS Secret Access Key [None]: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "Default region name [None]: %s\n"
        "Default output format [None]: %s" % (region, pick(["json", "yaml", "text", "table"])))


@tpl(F)
def _():
    prof = pick(["user1", "dev", "readonly", "admin-example"])
    return ("# ~/.aws/credentials (sample from the SDK docs, do not use)\n"
            "[default]\n"
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\n"
            "[%s]\n"
            "aws_access_key_id = AKIAI44QH8DHBEXAMPLE\n"
            "aws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n"
            "region = %s" % (prof, pick(REGIONS)))


ENV_PLACEHOLDERS = [
    "OPENAI_API_KEY=your-api-key-here",
    "ANTHROPIC_API_KEY=<YOUR_API_KEY>",
    "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
    "DATABASE_URL=postgres://user:password@localhost:5432/mydb",
    "JWT_SECRET=changeme",
    "GITHUB_TOKEN=<YOUR_TOKEN>",
    "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "SESSION_SECRET=replace-me-with-a-long-random-string",
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "REDIS_PASSWORD=",
    "SMTP_PASSWORD=placeholder",
    "API_TOKEN=00000000000000000000000000000000",
    "ENCRYPTION_KEY=0123456789abcdef0123456789abcdef",
    "SENTRY_DSN=https://examplePublicKey@o0.ingest.sentry.io/0",
    "TWILIO_AUTH_TOKEN=your_auth_token",
    "GOOGLE_CLIENT_SECRET=<client-secret>",
    "ADMIN_PASSWORD=example-password",
]


@tpl(F)
def _():
    lines = R.sample(ENV_PLACEHOLDERS, R.randint(5, 9))
    head = pick(["# .env.example -- copy to .env and fill in real values",
                 "# Example environment. Never commit the real .env!",
                 "## sample config for local dev"])
    cmd = pick(["$ cat .env.example", "cat .env.sample", ""])
    out = ([cmd] if cmd else []) + [head] + lines
    if R.random() < 0.5:
        out.insert(len(out) // 2 + 1, "")
        out.append("PORT=%d" % pick([3000, 8080, 5000, 4000]))
    return "\n".join(out)


@tpl(F)
def _():
    var, pref = pick([("ANTHROPIC_API_KEY", "sk-ant-..."), ("OPENAI_API_KEY", "sk-..."),
                      ("GITHUB_TOKEN", "ghp_..."), ("HF_TOKEN", "hf_..."),
                      ("STRIPE_API_KEY", "sk_live_...")])
    return ("## Configuration\n\n"
            "Set your key in the environment before running the CLI:\n\n"
            "```bash\nexport %s=%s\n```\n\n"
            "or put it in `~/.config/%s/config.toml`:\n\n"
            "```toml\napi_key = \"%s\"   # replace with your own key\n```\n\n"
            "The key is read once at startup; restart after changing it." % (var, pick([pref, "<your key>", "YOUR_KEY_HERE"]), pick(PROJECTS), pick([pref, "<your key>"])))


@tpl(F)
def _():
    lang = R.randint(0, 2)
    if lang == 0:
        return ("import pytest\n\n"
                "@pytest.fixture\n"
                "def client(monkeypatch):\n"
                "    monkeypatch.setenv(\"API_KEY\", \"test-key\")\n"
                "    monkeypatch.setenv(\"DB_PASSWORD\", \"dummy\")\n"
                "    return make_client(token=\"fake-token-for-tests\")\n\n"
                "def test_rejects_bad_key(client):\n"
                "    resp = client.get(\"/v1/me\", headers={\"X-Api-Key\": \"invalid\"})\n"
                "    assert resp.status_code == 401")
    if lang == 1:
        return ("#[cfg(test)]\nmod tests {\n    use super::*;\n\n"
                "    const DUMMY_TOKEN: &str = \"not-a-real-token\";\n\n"
                "    #[test]\n    fn header_is_built() {\n"
                "        let h = auth_header(DUMMY_TOKEN);\n"
                "        assert_eq!(h, \"Bearer not-a-real-token\");\n    }\n}")
    return ("describe('AuthClient', () => {\n"
            "  const fakeApiKey = 'test_api_key_123';\n"
            "  it('sends the key header', async () => {\n"
            "    const c = new AuthClient({ apiKey: fakeApiKey, secret: 'dummy-secret' });\n"
            "    await c.ping();\n"
            "    expect(fetchMock).toHaveBeenCalledWith(expect.anything(), expect.objectContaining({ headers: { 'x-api-key': 'test_api_key_123' } }));\n"
            "  });\n});")


@tpl(F)
def _():
    svc = pick(["db", "postgres", "database"])
    return ("# docker-compose.yml from the official image README\n"
            "services:\n"
            "  %s:\n"
            "    image: postgres:%s\n"
            "    restart: always\n"
            "    environment:\n"
            "      POSTGRES_PASSWORD: example\n"
            "  adminer:\n"
            "    image: adminer\n"
            "    ports:\n"
            "      - 8080:8080\n\n"
            "I copied this as-is, does `example` need to change before I run it locally?" % (svc, pick(["16", "15-alpine", "17"])))


@tpl(F)
def _():
    items = [
        ("secret_key", "0123456789abcdef0123456789abcdef"),
        ("hmac_key", "abcdef123456abcdef123456abcdef12"),
        ("api_token", "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f"),
        ("password", "00000000"),
        ("webhook_secret", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("signing_key", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ("client_secret", "1234567890abcdef1234567890abcdef"),
        ("encryption_key", "ffffffffffffffffffffffffffffffff"),
    ]
    chosen = R.sample(items, R.randint(3, 5))
    fmt = R.randint(0, 2)
    if fmt == 0:
        body = "\n".join("%s: %s" % kv for kv in chosen)
        return "# config/dev.yaml (local only, values are dummies)\n" + body
    if fmt == 1:
        return "{\n" + ",\n".join('  "%s": "%s"' % kv for kv in chosen) + "\n}"
    return "[dev]\n" + "\n".join('%s = "%s"' % kv for kv in chosen)


@tpl(F)
def _():
    return ("$ aws configure list\n"
            "      Name                    Value             Type    Location\n"
            "      ----                    -----             ----    --------\n"
            "   profile                <not set>             None    None\n"
            "access_key     ****************%s shared-credentials-file\n"
            "secret_key     ****************%s shared-credentials-file\n"
            "    region                %s      config-file    ~/.aws/config" % (rs(UP, 4), rs(ALNUM, 4), pick(REGIONS)))


@tpl(F)
def _():
    host = pick(["github.com", "github.example.com"])
    return ("$ gh auth status\n%s\n"
            "  ✓ Logged in to %s account %s (keyring)\n"
            "  - Active account: true\n"
            "  - Git operations protocol: https\n"
            "  - Token: gho_************************************\n"
            "  - Token scopes: 'gist', 'read:org', 'repo', 'workflow'" % (host, host, pick(USERS)))


@tpl(F)
def _():
    kind = pick(["github_token", "aws_access_key", "password", "private_key", "openai_key"])
    return pick([
        "The previous output had a credential in it; it now reads `token=[REDACTED:%s]`. Can you re-run the step without printing env?" % kind,
        "log line after scrubbing:\n2024-05-02T10:11:12Z INFO connecting to db password=******** host=db.internal\nAuthorization: Bearer <redacted>\napi_key=[REDACTED:%s]" % kind,
        "Here's the sanitized config:\n\nstripe:\n  secret_key: \"[REDACTED]\"\n  webhook_secret: \"***\"\nsmtp:\n  password: \"<hidden>\"",
    ])


@tpl(F)
def _():
    return ("Quickstart from the Twilio docs:\n\n"
            "```python\nfrom twilio.rest import Client\n\n"
            "account_sid = \"ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\"\n"
            "auth_token = \"your_auth_token\"\n"
            "client = Client(account_sid, auth_token)\n\n"
            "message = client.messages.create(body=\"Hello\", from_=\"+15017122661\", to=\"+15558675310\")\n"
            "print(message.sid)\n```")


@tpl(F)
def _():
    v = R.randint(0, 3)
    if v == 0:
        return ("curl https://api.%s.com/v1/items \\\n  -H \"Authorization: Bearer YOUR_ACCESS_TOKEN\" \\\n  -H \"Content-Type: application/json\"" % pick(["acme", "widgetco", "example"]))
    if v == 1:
        return ("```python\nfrom openai import OpenAI\nclient = OpenAI(api_key=\"YOUR_API_KEY\")  # or set OPENAI_API_KEY\n```")
    if v == 2:
        return ("const slack = new WebClient(process.env.SLACK_BOT_TOKEN ?? 'xoxb-not-a-real-token-this-will-not-work');")
    return ("# paste your private key between the markers\n"
            "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----")


@tpl(F)
def _():
    return pick([
        "Connection string format (from the Atlas UI):\n\n    mongodb+srv://<username>:<password>@cluster0.example.mongodb.net/?retryWrites=true&w=majority\n\nReplace <username> and <password> with your database user.",
        "The JDBC url template in the wiki is `jdbc:postgresql://HOST:PORT/DB?user=USER&password=PASSWORD`; fill it in per environment.",
        "DSN looks like `mysql://USERNAME:PASSWORD@HOSTNAME:3306/DATABASE` -- the README uses those literal caps as placeholders.",
        "redis url example: redis://:your-redis-password@127.0.0.1:6379/0",
    ])


@tpl(F)
def _():
    return ("variable \"db_password\" {\n"
            "  type        = string\n"
            "  description = \"Master password. The default is only for the sandbox module example.\"\n"
            "  default     = \"REPLACE_ME\"\n"
            "}\n\n"
            "variable \"api_key\" {\n"
            "  type    = string\n"
            "  default = \"%s\"\n"
            "}" % pick(["changeme", "<api-key>", "dummy-api-key", "TODO"]))


@tpl(F)
def _():
    return ("def test_validator_rejects_doc_keys():\n"
            "    for k in [\"AKIAIOSFODNN7EXAMPLE\", \"AKIAI44QH8DHBEXAMPLE\"]:\n"
            "        assert not looks_real(k)\n"
            "    assert not looks_real(\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\")\n"
            "    assert not looks_real(\"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\")\n"
            "    assert not looks_real(\"sk-...%s\")" % rs(ALNUM, 4))


@tpl(F)
def _():
    return pick([
        "In the OpenAI dashboard the key just shows as `sk-...%s`, I can't see the whole thing anymore. Do I need to create a new one?" % rs(ALNUM, 4),
        "Stripe lists the restricted key as rk_live_...%s in the dashboard. Which permissions does the webhook handler need?" % rs(ALNUM, 4),
        "The Anthropic console shows `sk-ant-api03-...%s` for the key named %s, created %s." % (rs(ALNUM, 4), pick(PROJECTS), rdate().strftime("%b %d, %Y")),
    ])


@tpl(F)
def _():
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-config\ndata:\n"
            "  # demo values from the chart README\n"
            "  ADMIN_USER: admin\n"
            "  ADMIN_PASSWORD: \"changeme\"\n"
            "  LICENSE_KEY: \"xxxx-xxxx-xxxx-xxxx\"\n"
            "  LOG_LEVEL: info" % pick(PROJECTS))

# ======================================================================
# CLEAN: encrypted_or_reference
# ======================================================================
F = "encrypted_or_reference"


def vault_lines(n, indent=""):
    return "\n".join(indent + rhex(80) for _ in range(n - 1)) + "\n" + indent + rhex(R.choice([38, 46, 54, 62]))


@tpl(F)
def _():
    keys = R.sample(["db_password", "smtp_password", "api_token", "redis_auth", "ldap_bind_pw"], 2)
    out = ["# group_vars/%s/main.yml" % pick(["prod", "staging", "all"]),
           "app_user: %s" % pick(USERS)]
    for k in keys:
        out.append("%s: !vault |" % k)
        out.append("          $ANSIBLE_VAULT;1.1;AES256")
        out.append(vault_lines(5, "          "))
    out.append("app_port: %d" % pick([8080, 9000, 443]))
    return "\n".join(out)


@tpl(F)
def _():
    vid = pick(["", ";prod", ";dev"])
    hdr = "$ANSIBLE_VAULT;1.2;AES256" + vid if vid else "$ANSIBLE_VAULT;1.1;AES256"
    return ("$ head -n 12 inventories/%s/group_vars/all/vault.yml\n%s\n%s\n\n"
            "It's encrypted with ansible-vault; run `ansible-vault view` with the vault password file to read it."
            % (pick(["prod", "eu"]), hdr, vault_lines(11)))


def sops_enc(n_bytes, typ="str"):
    return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]" % (b64(rbytes(n_bytes)), b64(rbytes(32)), b64(rbytes(16)), typ)


def sops_meta_yaml():
    acct = account_id()
    s = ("sops:\n"
         "    kms:\n"
         "        - arn: arn:aws:kms:%s:%s:key/%s\n"
         "          created_at: \"%s\"\n"
         "          enc: %s\n"
         "          aws_profile: \"\"\n" % (pick(REGIONS), acct, ruuid(), iso(), b64(rbytes(180))))
    if R.random() < 0.5:
        age_body = b64(rbytes(190))
        s += ("    age:\n"
              "        - recipient: age1%s\n"
              "          enc: |\n"
              "            -----BEGIN AGE ENCRYPTED FILE-----\n"
              "            %s\n            %s\n            %s\n"
              "            -----END AGE ENCRYPTED FILE-----\n"
              % (rs("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58), age_body[:64], age_body[64:128], age_body[128:]))
    s += ("    lastmodified: \"%s\"\n"
          "    mac: %s\n"
          "    unencrypted_suffix: _unencrypted\n"
          "    version: 3.%d.%d" % (iso(), sops_enc(32), R.randint(7, 9), R.randint(0, 3)))
    return s


@tpl(F)
def _():
    return ("$ cat secrets/%s.enc.yaml\n"
            "database:\n"
            "    user: %s\n"
            "    password: %s\n"
            "stripe:\n"
            "    secret_key: %s\n"
            "    webhook_secret: %s\n"
            "replicas_unencrypted: 3\n%s" % (pick(["prod", "staging"]), sops_enc(len(pick(USERS))), sops_enc(20),
                                             sops_enc(32), sops_enc(38), sops_meta_yaml()))


@tpl(F)
def _():
    obj = {"api_key": sops_enc(40), "db": {"password": sops_enc(24), "port": sops_enc(2, "int")},
           "sops": {"kms": None, "gcp_kms": [{"resource_id": "projects/%s/locations/global/keyRings/sops/cryptoKeys/sops-key" % pick(PROJECTS),
                                              "created_at": iso(), "enc": b64(rbytes(113))}],
                    "lastmodified": iso(), "mac": sops_enc(32), "version": "3.8.1"}}
    return "config/secrets.enc.json:\n" + json.dumps(obj, indent=2)


@tpl(F)
def _():
    return ("# .env.enc (sops dotenv)\n"
            "DB_PASSWORD=%s\n"
            "OPENAI_API_KEY=%s\n"
            "sops_kms__list_0__map_arn=arn:aws:kms:%s:%s:key/%s\n"
            "sops_kms__list_0__map_created_at=%s\n"
            "sops_lastmodified=%s\n"
            "sops_mac=%s\n"
            "sops_version=3.9.0" % (sops_enc(18), sops_enc(60), pick(REGIONS), account_id(), ruuid(), iso(), iso(), sops_enc(32)))


def sealed_blob():
    return b64(b"\x02\x00" + rbytes(R.randint(300, 480)))


@tpl(F)
def _():
    name = pick(PROJECTS)
    ns = pick(["default", "prod", "payments", "web"])
    keys = R.sample(["DATABASE_URL", "API_KEY", "JWT_SECRET", "password", "tls.key"], R.randint(2, 3))
    enc = "\n".join("    %s: %s" % (k, sealed_blob()) for k in keys)
    return ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n"
            "  creationTimestamp: null\n  name: %s-secrets\n  namespace: %s\nspec:\n  encryptedData:\n%s\n"
            "  template:\n    metadata:\n      name: %s-secrets\n      namespace: %s\n    type: Opaque" % (name, ns, enc, name, ns))


@tpl(F)
def _():
    return ("name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  publish:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-node@v4\n"
            "        with:\n          node-version: 20\n          registry-url: https://registry.npmjs.org\n"
            "      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n"
            "      - run: ./scripts/notify.sh\n        env:\n          SLACK_WEBHOOK: ${{ secrets.SLACK_WEBHOOK_URL }}\n"
            "          AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}")


@tpl(F)
def _():
    return ("services:\n  api:\n    image: ghcr.io/acme/%s:latest\n    environment:\n"
            "      DATABASE_URL: postgres://${DB_USER}:${DB_PASSWORD}@db:5432/${DB_NAME}\n"
            "      STRIPE_SECRET_KEY: ${STRIPE_SECRET_KEY:?must be set}\n"
            "      JWT_SECRET: ${JWT_SECRET}\n"
            "    secrets:\n      - db_password\nsecrets:\n  db_password:\n    file: ./secrets/db_password.txt" % pick(PROJECTS))


@tpl(F)
def _():
    return ("# templates/deployment.yaml\n"
            "          env:\n"
            "            - name: DB_PASSWORD\n"
            "              value: {{ .Values.postgresql.auth.password | quote }}\n"
            "            - name: API_KEY\n"
            "              value: \"{{ secrets.API_KEY }}\"\n"
            "            - name: REDIS_PASSWORD\n"
            "              valueFrom:\n"
            "                secretKeyRef:\n"
            "                  name: {{ include \"%s.fullname\" . }}-redis\n"
            "                  key: redis-password" % pick(PROJECTS))


@tpl(F)
def _():
    app = pick(PROJECTS)
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n"
            "      containers:\n        - name: app\n          image: %s.dkr.ecr.%s.amazonaws.com/%s:1.%d.%d\n"
            "          env:\n            - name: STRIPE_API_KEY\n              valueFrom:\n                secretKeyRef:\n"
            "                  name: stripe\n                  key: api-key\n            - name: PGPASSWORD\n"
            "              valueFrom:\n                secretKeyRef:\n                  name: %s-db\n                  key: password\n"
            "          envFrom:\n            - secretRef:\n                name: %s-env" % (app, account_id(), pick(REGIONS), app, R.randint(0, 9), R.randint(0, 30), app, app))


@tpl(F)
def _():
    app = pick(PROJECTS)
    return pick([
        "spring:\n  cloud:\n    vault:\n      uri: https://vault.internal:8200\n  datasource:\n    password: vault:secret/data/%s#password\n    username: vault:secret/data/%s#username" % (app, app),
        "{{ with secret \"secret/data/%s/db\" }}\nexport DB_PASSWORD=\"{{ .Data.data.password }}\"\n{{ end }}" % app,
        "$ vault kv get -field=api_key secret/%s/stripe > /dev/null && echo fetched\nfetched" % app,
        "annotations:\n  vault.hashicorp.com/agent-inject: \"true\"\n  vault.hashicorp.com/agent-inject-secret-db: \"database/creds/%s-readonly\"\n  vault.hashicorp.com/role: \"%s\"" % (app, app),
    ])


@tpl(F)
def _():
    acct = account_id()
    reg = pick(REGIONS)
    nm = "%s/%s/db" % (pick(["prod", "staging"]), pick(PROJECTS))
    suffix = rs(ALNUM, 6)
    arn = "arn:aws:secretsmanager:%s:%s:secret:%s-%s" % (reg, acct, nm, suffix)
    desc = {"ARN": arn, "Name": nm, "Description": "RDS master credentials",
            "KmsKeyId": "arn:aws:kms:%s:%s:key/%s" % (reg, acct, ruuid()),
            "RotationEnabled": True, "RotationLambdaARN": "arn:aws:lambda:%s:%s:function:SecretsManagerRDSRotation" % (reg, acct),
            "RotationRules": {"AutomaticallyAfterDays": 30}, "LastRotatedDate": iso(), "LastChangedDate": iso(),
            "VersionIdsToStages": {ruuid(): ["AWSCURRENT"], ruuid(): ["AWSPREVIOUS"]}}
    return "$ aws secretsmanager describe-secret --secret-id %s\n%s" % (arn, json.dumps(desc, indent=4))


@tpl(F)
def _():
    proj = pick(PROJECTS) + "-prod"
    ver = R.randint(1, 12)
    return pick([
        "The function reads `projects/%s/secrets/api-key/versions/%d` at startup via the Secret Manager client; bump to `versions/latest` after rotating." % (proj, ver),
        "$ gcloud secrets versions list stripe-key --project=%s\nNAME  STATE     CREATED              DESTROYED\n%d     enabled   %s  -\n%d     disabled  %s  -" % (proj, ver, rdate().strftime("%Y-%m-%dT%H:%M:%S"), ver - 1 if ver > 1 else 0, rdate().strftime("%Y-%m-%dT%H:%M:%S")),
        "env:\n  - name: API_KEY\n    valueFrom:\n      secretKeyRef:\n        name: api-key\n        key: latest\n# resolves projects/%s/secrets/api-key/versions/latest" % proj,
    ])


@tpl(F)
def _():
    vault = pick(["Engineering", "Prod", "Shared"])
    return ("# .env.tpl -- resolved by `op run --env-file=.env.tpl -- npm start`\n"
            "DATABASE_PASSWORD=op://%s/%s-postgres/password\n"
            "STRIPE_SECRET_KEY=op://%s/Stripe/credential\n"
            "GITHUB_TOKEN=op://%s/GitHub Bot/token\n"
            "AWS_SECRET_ACCESS_KEY=op://%s/aws-%s/secret access key" % (vault, pick(PROJECTS), vault, vault, vault, pick(["ci", "deploy"])))


@tpl(F)
def _():
    return pick([
        "#!/usr/bin/env bash\nset -euo pipefail\nexport DB_PASSWORD=\"$(cat /run/secrets/db_password)\"\nexport API_KEY=\"$(< /var/run/secrets/%s/api-key)\"\nexec ./server" % pick(PROJECTS),
        "PGPASSWORD=$(aws ssm get-parameter --name /%s/db/password --with-decryption --query Parameter.Value --output text) \\\n  psql -h %s -U %s -d app -c 'select 1'" % (pick(PROJECTS), pick(DBHOSTS), pick(USERS)),
        "TOKEN=\"$(gcloud auth print-access-token)\"\ncurl -H \"Authorization: Bearer ${TOKEN}\" https://run.googleapis.com/v2/projects/%s/locations/us-central1/services" % pick(PROJECTS),
        "export GITHUB_TOKEN=$(gh auth token)\nexport NPM_TOKEN=\"${NPM_TOKEN:-}\"\n[ -n \"$NPM_TOKEN\" ] || { echo 'NPM_TOKEN missing' >&2; exit 1; }",
    ])


@tpl(F)
def _():
    kv = pick(["kv-%s-prod" % pick(PROJECTS), "acme-shared-kv"])
    return ("$ az webapp config appsettings list -g rg-%s -n %s -o table\n"
            "Name                  Value                                                                              SlotSetting\n"
            "--------------------  ---------------------------------------------------------------------------------  -----------\n"
            "DB_PASSWORD           @Microsoft.KeyVault(SecretUri=https://%s.vault.azure.net/secrets/db-password/)   False\n"
            "STORAGE_KEY           @Microsoft.KeyVault(VaultName=%s;SecretName=storage-key)                    False\n"
            "WEBSITE_RUN_FROM_PACKAGE  1                                                                           False"
            % (pick(PROJECTS), pick(PROJECTS), kv, kv))


@tpl(F)
def _():
    return ("resource \"aws_db_instance\" \"main\" {\n"
            "  identifier     = \"%s-db\"\n"
            "  engine         = \"postgres\"\n"
            "  username       = \"app\"\n"
            "  password       = random_password.db.result\n"
            "}\n\n"
            "resource \"aws_secretsmanager_secret_version\" \"db\" {\n"
            "  secret_id     = aws_secretsmanager_secret.db.id\n"
            "  secret_string = jsonencode({ password = random_password.db.result })\n"
            "}\n\n"
            "  # aws_db_instance.main will be updated in-place\n"
            "  ~ resource \"aws_db_instance\" \"main\" {\n"
            "      ~ password = (sensitive value)\n"
            "        id       = \"db-%s\"\n"
            "    }" % (pick(PROJECTS), rs(UP + DIG, 26)))


@tpl(F)
def _():
    return ("Resources:\n  Database:\n    Type: AWS::RDS::DBInstance\n    Properties:\n"
            "      MasterUsername: '{{resolve:secretsmanager:%s/db:SecretString:username}}'\n"
            "      MasterUserPassword: '{{resolve:secretsmanager:%s/db:SecretString:password}}'\n"
            "  Api:\n    Type: AWS::Lambda::Function\n    Properties:\n      Environment:\n        Variables:\n"
            "          API_KEY: '{{resolve:ssm-secure:/%s/api-key:%d}}'" % (pick(PROJECTS), pick(PROJECTS), pick(PROJECTS), R.randint(1, 9)))


@tpl(F)
def _():
    body = b64(b"\x85\x02\x0c\x03" + rbytes(R.randint(380, 520)))
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    crc = b64(rbytes(3))
    return ("$ cat credentials.txt.asc\n-----BEGIN PGP MESSAGE-----\n\n%s\n=%s\n-----END PGP MESSAGE-----\n\n"
            "That's encrypted to the ops team key; decrypt with `gpg -d credentials.txt.asc`." % ("\n".join(lines), crc))


@tpl(F)
def _():
    return ("# application-prod.properties\n"
            "spring.datasource.url=jdbc:postgresql://%s:5432/app\n"
            "spring.datasource.username=${DB_USER}\n"
            "spring.datasource.password=${DB_PASSWORD:}\n"
            "mail.smtp.password=ENC(%s)\n"
            "jasypt.encryptor.password=${JASYPT_ENCRYPTOR_PASSWORD}" % (pick(DBHOSTS), b64(rbytes(48))))


@tpl(F)
def _():
    app = pick(PROJECTS)
    return ("apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n  name: %s\nspec:\n"
            "  refreshInterval: 1h\n  secretStoreRef:\n    kind: ClusterSecretStore\n    name: aws-secrets-manager\n"
            "  target:\n    name: %s-env\n  data:\n    - secretKey: DATABASE_PASSWORD\n      remoteRef:\n"
            "        key: prod/%s/db\n        property: password\n    - secretKey: STRIPE_KEY\n      remoteRef:\n"
            "        key: prod/%s/stripe" % (app, app, app, app))


@tpl(F)
def _():
    return ("$ cat config/credentials.yml.enc\n%s--%s--%s\n\n"
            "Rails decrypts this with config/master.key (not committed). `bin/rails credentials:edit` to change it."
            % (b64(rbytes(R.randint(200, 330))), b64(rbytes(12)), b64(rbytes(16))))


@tpl(F)
def _():
    return ("#/-------------------.env.vault---------------------/\n"
            "#/         cloud-agnostic vaulting standard         /\n"
            "#/--------------------------------------------------/\n\n"
            "# development\nDOTENV_VAULT_DEVELOPMENT=\"%s\"\n\n# production\nDOTENV_VAULT_PRODUCTION=\"%s\""
            % (b64(rbytes(R.randint(90, 150))), b64(rbytes(R.randint(90, 150)))))

# ======================================================================
# CLEAN: option_docs
# ======================================================================
F = "option_docs"


@tpl(F)
def _():
    return ("$ psql --help | sed -n '/Connection options/,$p'\n"
            "Connection options:\n"
            "  -h, --host=HOSTNAME      database server host or socket directory (default: \"local socket\")\n"
            "  -p, --port=PORT          database server port (default: \"5432\")\n"
            "  -U, --username=USERNAME  database user name (default: \"%s\")\n"
            "  -w, --no-password        never prompt for password\n"
            "  -W, --password           force password prompt (should happen automatically)\n\n"
            "For more information, type \"\\?\" (for internal commands) or \"\\help\" (for SQL\n"
            "commands) from within psql, or consult the psql section in the PostgreSQL\n"
            "documentation.\n\n"
            "Report bugs to <pgsql-bugs@lists.postgresql.org>." % pick(USERS))


@tpl(F)
def _():
    return ("  -p, --password[=name]\n"
            "                      Password to use when connecting to server. If password is\n"
            "                      not given it's asked from the tty.\n"
            "  --password1[=name]  Password for first factor authentication plugin.\n"
            "  -P, --port=#        Port number to use for connection or 0 for default to, in\n"
            "                      order of preference, my.cnf, $MYSQL_TCP_PORT,\n"
            "                      /etc/services, built-in default (3306).\n"
            "  -u, --user=name     User for login if not current user.")


@tpl(F)
def _():
    return ("$ curl --help auth\n"
            "Usage: curl [options...] <url>\n"
            "auth: Authentication methods\n"
            "     --anyauth                 Pick any authentication method\n"
            "     --basic                   HTTP Basic Authentication\n"
            "     --digest                  HTTP Digest Authentication\n"
            " -n, --netrc                   Must read .netrc for user name and password\n"
            "     --netrc-file <filename>   Specify FILE for netrc\n"
            "     --oauth2-bearer <token>   OAuth 2 Bearer Token\n"
            "     --proxy-user <user:password> Proxy user and password\n"
            " -u, --user <user:password>    Server user and password")


@tpl(F)
def _():
    return ("$ docker login --help\n\n"
            "Usage:  docker login [OPTIONS] [SERVER]\n\n"
            "Authenticate to a registry.\n"
            "Defaults to Docker Hub if no server is specified.\n\n"
            "Options:\n"
            "  -p, --password string   Password or Personal Access Token (PAT)\n"
            "      --password-stdin    Take the Password or Personal Access Token (PAT) from stdin\n"
            "  -u, --username string   Username")


@tpl(F)
def _():
    return ("$ gh auth login --help\n"
            "Authenticate with a GitHub host.\n\n"
            "Alternatively, use `--with-token` to pass in a token on standard input.\n"
            "The minimum required scopes for the token are: `repo`, `read:org`, and `gist`.\n\n"
            "Alternatively, gh will use the authentication token found in environment variables.\n"
            "This method is most suitable for \"headless\" use of gh such as in automation. See\n"
            "`gh help environment` for more info.\n\n"
            "FLAGS\n"
            "  -h, --hostname string         The hostname of the GitHub instance to authenticate with\n"
            "      --insecure-storage        Save authentication credentials in plain text instead of credential store\n"
            "  -s, --scopes strings          Additional authentication scopes to request\n"
            "      --with-token              Read token from standard input\n\n"
            "EXAMPLES\n"
            "  # Use a token from a file\n"
            "  $ gh auth login --with-token < mytoken.txt")


@tpl(F)
def _():
    tool = pick(PROJECTS).replace("-", "")
    env = tool.upper()
    return ("$ %s --help\n"
            "Sync artifacts to the %s registry\n\n"
            "Usage: %s [OPTIONS] <COMMAND>\n\n"
            "Commands:\n"
            "  push   Upload a build\n"
            "  login  Store credentials in the OS keychain\n"
            "  help   Print this message or the help of the given subcommand(s)\n\n"
            "Options:\n"
            "      --api-key <API_KEY>        API key used to authenticate [env: %s_API_KEY=]\n"
            "      --api-secret <API_SECRET>  Secret paired with --api-key [env: %s_API_SECRET=]\n"
            "      --token-file <PATH>        Read the bearer token from PATH instead\n"
            "  -v, --verbose...               Increase logging verbosity\n"
            "  -h, --help                     Print help\n"
            "  -V, --version                  Print version" % (tool, tool, tool, env, env))


@tpl(F)
def _():
    s = pick(["deploy.py", "rotate_keys.py", "sync.py"])
    return ("$ python %s -h\n"
            "usage: %s [-h] [--token TOKEN] [--secret-file PATH] [--password-env VAR] [--dry-run] target\n\n"
            "positional arguments:\n"
            "  target              environment to deploy (staging|prod)\n\n"
            "options:\n"
            "  -h, --help          show this help message and exit\n"
            "  --token TOKEN       API token; if omitted, read from $DEPLOY_TOKEN\n"
            "  --secret-file PATH  file containing the client secret\n"
            "  --password-env VAR  name of the env var holding the DB password (default: PGPASSWORD)\n"
            "  --dry-run           print the plan without applying" % (s, s))


@tpl(F)
def _():
    return ("SSH-KEYGEN(1)               General Commands Manual              SSH-KEYGEN(1)\n\n"
            "SYNOPSIS\n"
            "     ssh-keygen [-q] [-a rounds] [-b bits] [-C comment] [-f output_keyfile]\n"
            "                [-m format] [-N new_passphrase] [-O option]\n"
            "                [-t dsa | ecdsa | ecdsa-sk | ed25519 | ed25519-sk | rsa]\n"
            "     ssh-keygen -p [-a rounds] [-f keyfile] [-m format] [-N new_passphrase]\n"
            "                [-P old_passphrase]\n\n"
            "     -N new_passphrase\n"
            "             Provides the new passphrase.\n\n"
            "     -P passphrase\n"
            "             Provides the (old) passphrase.\n\n"
            "     -p      Requests changing the passphrase of a private key file instead of\n"
            "             creating a new private key.")


@tpl(F)
def _():
    return ("# redis.conf (excerpt)\n"
            "# IMPORTANT NOTE: starting with Redis 6 \"requirepass\" is just a compatibility\n"
            "# layer on top of the new ACL system. The option effect will be just setting\n"
            "# the password for the default user.\n"
            "#\n"
            "# requirepass <password>\n\n"
            "# masterauth <master-password>\n"
            "#\n"
            "# masteruser <username>")


@tpl(F)
def _():
    rows = R.sample([
        ("STRIPE_SECRET_KEY", "Stripe secret key (starts with `sk_live_` in production)"),
        ("OPENAI_API_KEY", "Key for the OpenAI API. Required for `/summarize`."),
        ("DATABASE_URL", "Postgres connection string, including user and password"),
        ("JWT_SECRET", "HMAC secret used to sign session JWTs. Generate with `openssl rand -hex 32`."),
        ("GITHUB_APP_PRIVATE_KEY", "PEM-encoded private key of the GitHub App"),
        ("SENTRY_AUTH_TOKEN", "Token for uploading source maps (CI only)"),
        ("AWS_SECRET_ACCESS_KEY", "Secret half of the IAM access key"),
        ("SLACK_SIGNING_SECRET", "Used to verify incoming Slack requests"),
    ], R.randint(4, 6))
    return ("### Environment variables\n\n| Variable | Required | Description |\n|---|---|---|\n" +
            "\n".join("| `%s` | %s | %s |" % (k, pick(["yes", "no"]), d) for k, d in rows) +
            "\n\nSecrets are never logged; see `docs/security.md`.")


@tpl(F)
def _():
    return ("# ---------------------------------------------------------------\n"
            "# token: the API token used to authenticate, see docs/auth.md.\n"
            "#        Leave empty to use the OS keychain.\n"
            "# secret_key_file: path to a file holding the signing key (PEM).\n"
            "# password_command: command whose stdout is used as the password,\n"
            "#        e.g. `pass show %s/db`.\n"
            "# ---------------------------------------------------------------\n"
            "token: \"\"\n"
            "secret_key_file: /etc/%s/signing.pem\n"
            "password_command: null\n"
            "timeout_seconds: 30" % (pick(PROJECTS), pick(PROJECTS)))


@tpl(F)
def _():
    return ("$ vault login -h\n"
            "Usage: vault login [options] [AUTH K=V...]\n\n"
            "  Authenticates users or machines to Vault using the provided arguments. A\n"
            "  successful authentication results in a Vault token - conceptually similar to\n"
            "  a session token on a website. By default, this token is cached on the local\n"
            "  machine for future requests.\n\n"
            "  The default auth method is \"token\". If not supplied via the CLI,\n"
            "  Vault will prompt for input. If the argument is \"-\", the values are read\n"
            "  from stdin.\n\n"
            "Command Options:\n\n"
            "  -method=<string>\n"
            "      Type of authentication to use such as \"userpass\" or \"ldap\".\n\n"
            "  -no-store\n"
            "      Do not persist the token to the token helper after authentication.")


@tpl(F)
def _():
    return ("$ kubectl create secret generic --help\n"
            "Create a secret based on a file, directory, or specified literal value.\n\n"
            "Options:\n"
            "    --from-env-file=[]:\n"
            "        Specify the path to a file to read lines of key=val pairs to create a secret.\n\n"
            "    --from-file=[]:\n"
            "        Key files can be specified using their file path, in which case a default name will be given to them, or\n"
            "        optionally with a name and file path, in which case the given name will be used.\n\n"
            "    --from-literal=[]:\n"
            "        Specify a key and literal value to insert in secret (i.e. mykey=somevalue)\n\n"
            "    --type='':\n"
            "        The type of secret to create\n\n"
            "Usage:\n"
            "  kubectl create secret generic NAME [--type=string] [--from-file=[key=]source] [--from-literal=key1=value1] [--dry-run=server|client|none] [options]")


@tpl(F)
def _():
    return ("PASS PHRASE ARGUMENTS\n"
            "       Several OpenSSL commands accept password arguments, typically using -passin and\n"
            "       -passout for input and output passwords respectively. These allow the password to be\n"
            "       obtained from a variety of sources.\n\n"
            "       pass:password\n"
            "           The actual password is password. Since the password is visible to utilities\n"
            "           (like 'ps' under Unix) this form should only be used where security is not important.\n\n"
            "       env:var\n"
            "           Obtain the password from the environment variable var.\n\n"
            "       file:pathname\n"
            "           Reads the password from the specified file pathname.")


@tpl(F)
def _():
    return ("variable \"db_password\" {\n"
            "  description = \"Password for the master DB user. Supply via TF_VAR_db_password.\"\n"
            "  type        = string\n"
            "  sensitive   = true\n"
            "}\n\n"
            "variable \"datadog_api_key\" {\n"
            "  description = \"Datadog API key (32 hex chars). Found under Organization Settings > API Keys.\"\n"
            "  type        = string\n"
            "  sensitive   = true\n"
            "  validation {\n"
            "    condition     = length(var.datadog_api_key) == 32\n"
            "    error_message = \"The datadog_api_key must be 32 characters.\"\n"
            "  }\n"
            "}")


@tpl(F)
def _():
    return ("ENVIRONMENT\n"
            "       AWS_ACCESS_KEY_ID\n"
            "              Specifies an AWS access key associated with an IAM account.\n\n"
            "       AWS_SECRET_ACCESS_KEY\n"
            "              Specifies the secret key associated with the access key. This is\n"
            "              essentially the \"password\" for the access key.\n\n"
            "       AWS_SESSION_TOKEN\n"
            "              Specifies the session token value that is required if you are using\n"
            "              temporary security credentials.")


@tpl(F)
def _():
    return ("$ cargo login --help\n"
            "Log in to a registry.\n\n"
            "Usage: cargo login [OPTIONS] [-- [ARGS]...]\n\n"
            "Arguments:\n"
            "  [ARGS]...  Additional arguments for the credential provider\n\n"
            "Options:\n"
            "      --registry <REGISTRY>  Registry to use\n"
            "  -q, --quiet                Do not print cargo log messages\n\n"
            "The token is read from stdin; it can also be supplied with CARGO_REGISTRY_TOKEN.")


@tpl(F)
def _():
    return ("$ ./bin/%s -h\n"
            "Usage of ./bin/%s:\n"
            "  -addr string\n"
            "    \tlisten address (default \":8080\")\n"
            "  -jwt-secret string\n"
            "    \tsecret used to sign session tokens (required)\n"
            "  -tls-cert string\n"
            "    \tpath to TLS certificate\n"
            "  -tls-key string\n"
            "    \tpath to TLS private key\n"
            "  -db-password-file string\n"
            "    \tfile with the database password (default \"/run/secrets/db\")" % ((pick(PROJECTS),) * 2))


@tpl(F)
def _():
    return ("Usage: keytool-sync [-hV] [--keystore=<path>] [--storepass:env=<var>] <alias>\n"
            "Copies a key entry between keystores.\n"
            "      <alias>              alias of the private key entry\n"
            "  -h, --help               Show this help message and exit.\n"
            "      --keypass=<keypass>  Password of the key entry (prompted if absent)\n"
            "      --keystore=<path>    JKS/PKCS12 keystore file\n"
            "      --storepass:env=<var>\n"
            "                           Environment variable containing the store password\n"
            "  -V, --version            Print version information and exit.")


@tpl(F)
def _():
    lines = [("SENTRY_AUTH_TOKEN", "Required in CI. Create one under Settings > Auth Tokens."),
             ("POSTMARK_SERVER_TOKEN", "Server API token for transactional email."),
             ("CLOUDFLARE_API_TOKEN", "Needs Zone.DNS edit permission."),
             ("ALGOLIA_ADMIN_KEY", "Only needed for the reindex job."),
             ("REDIS_PASSWORD", "Leave blank for local redis.")]
    ch = R.sample(lines, 4)
    return "\n".join("# %s\n%s=" % (d, k) for k, d in ch)


@tpl(F)
def _():
    return ("def connect(url: str, *, api_key: str | None = None, timeout: float = 10.0) -> Client:\n"
            "    \"\"\"Create a client.\n\n"
            "    Args:\n"
            "        url: Base URL of the service.\n"
            "        api_key: The API key. Defaults to the ``%s_API_KEY`` environment\n"
            "            variable. Never hard-code it; prefer a secrets manager.\n"
            "        timeout: Request timeout in seconds.\n\n"
            "    Raises:\n"
            "        MissingCredentialsError: if no key can be found.\n"
            "    \"\"\"" % pick(PROJECTS).upper().replace("-", "_"))


@tpl(F)
def _():
    return ("| Property | Default | Description |\n|---|---|---|\n"
            "| `spring.datasource.password` | | Login password of the database. |\n"
            "| `spring.datasource.username` | | Login username of the database. |\n"
            "| `spring.mail.password` | | Login password of the SMTP server. |\n"
            "| `server.ssl.key-store-password` | | Password used to access the key store. |\n"
            "| `server.ssl.key-password` | | Password used to access the key in the key store. |")


@tpl(F)
def _():
    return ("PGPASSFILE\n"
            "       The file .pgpass in a user's home directory can contain passwords to be used if\n"
            "       the connection requires a password. Each line should be of the format:\n\n"
            "           hostname:port:database:username:password\n\n"
            "       Each of the first four fields can be a literal value, or *, which matches anything.\n"
            "       On Unix systems, the permissions on .pgpass must disallow any access to world or\n"
            "       group; achieve this by the command chmod 0600 ~/.pgpass.")


@tpl(F)
def _():
    return ("npm config docs, `_authToken`:\n\n"
            "    //registry.npmjs.org/:_authToken=${NPM_TOKEN}\n\n"
            "> The token is scoped to the registry URL prefix. Use an environment variable\n"
            "> reference as above rather than committing the token to `.npmrc`.\n\n"
            "So in CI we only need to export NPM_TOKEN before `npm ci`, right?")


@tpl(F)
def _():
    return ("$ git credential-store --help | head -20\n"
            "NAME\n       git-credential-store - Helper to store credentials on disk\n\n"
            "SYNOPSIS\n       git config credential.helper 'store [<options>]'\n\n"
            "DESCRIPTION\n"
            "       Note: Using this helper will store your passwords unencrypted on disk,\n"
            "       protected only by filesystem permissions. If this is not an acceptable\n"
            "       security tradeoff, try git-credential-cache(1), or find a helper that\n"
            "       integrates with secure storage provided by your operating system.\n\n"
            "OPTIONS\n       --file=<path>\n"
            "           Use <path> to lookup and store credentials. The file will have its filesystem\n"
            "           permissions set to prevent other users on the system from reading it.")

# ======================================================================
# CLEAN: secret_word_identifiers
# ======================================================================
F = "secret_word_identifiers"


@tpl(F)
def _():
    ln, col = R.randint(20, 140), R.randint(5, 30)
    var = pick(["api_secret_key", "signing_key_bytes", "master_token", "refresh_secret"])
    return ("error[E0425]: cannot find value `%s` in this scope\n"
            "  --> src/auth/secret_key_store.rs:%d:%d\n"
            "   |\n"
            "%d |         let mac = HmacSha256::new_from_slice(%s.as_bytes())?;\n"
            "   |                                              %s help: a local variable with a similar name exists: `secret_key`\n"
            "\n"
            "error: could not compile `han_auth` (lib) due to 1 previous error" % (var, ln, col, ln, var, "^" * len(var)))


@tpl(F)
def _():
    f = pick(["src/config/token_provider.rs", "src/vault/secret_cache.rs", "crates/auth/src/api_key.rs"])
    ln = R.randint(10, 300)
    return ("error[E0308]: mismatched types\n"
            "   --> %s:%d:29\n"
            "    |\n"
            "%d  |     let token: SecretString = resolve_token(&cfg).await?;\n"
            "    |                ------------   ^^^^^^^^^^^^^^^^^^^^^^^^^ expected `SecretString`, found `String`\n"
            "    |                |\n"
            "    |                expected due to this\n"
            "    |\n"
            "help: call `Into::into` on this expression to convert `String` into `SecretString`\n"
            "    |\n"
            "%d  |     let token: SecretString = resolve_token(&cfg).await?.into();\n"
            "    |                                                          +++++++" % (f, ln, ln, ln))


@tpl(F)
def _():
    return ("$ go build ./...\n"
            "# github.com/acme/%s/internal/auth\n"
            "internal/auth/token_refresher.go:%d:14: undefined: validateAPIKey\n"
            "internal/auth/hmac.go:%d:22: cannot use secretKey (variable of type string) as []byte value in argument to hmac.New\n"
            "internal/auth/session.go:%d:2: declared and not used: refreshToken" % (pick(PROJECTS), R.randint(20, 200), R.randint(10, 90), R.randint(10, 200)))


@tpl(F)
def _():
    return ("$ npx tsc --noEmit\n"
            "src/services/PasswordResetService.ts(%d,21): error TS2339: Property 'refreshToken' does not exist on type 'AuthSession'.\n"
            "src/lib/apiKeyStore.ts(%d,5): error TS2322: Type 'string | undefined' is not assignable to type 'string'.\n"
            "  Type 'undefined' is not assignable to type 'string'.\n"
            "src/hooks/useAccessToken.ts(%d,10): error TS2305: Module '\"../auth/tokens\"' has no exported member 'decodeIdToken'.\n\n"
            "Found 3 errors in 3 files." % (R.randint(10, 150), R.randint(10, 80), R.randint(1, 20)))


@tpl(F)
def _():
    return ("%s ERROR 1 --- [nio-8080-exec-%d] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception\n"
            "java.security.spec.InvalidKeySpecException: encoded key spec not recognized: failed to decode private key\n"
            "\tat java.base/sun.security.rsa.RSAKeyFactory.engineGeneratePrivate(RSAKeyFactory.java:%d)\n"
            "\tat java.base/java.security.KeyFactory.generatePrivate(KeyFactory.java:%d)\n"
            "\tat com.acme.security.PasswordSecretManager.loadSigningKey(PasswordSecretManager.java:%d)\n"
            "\tat com.acme.security.PasswordSecretManager.rotate(PasswordSecretManager.java:%d)\n"
            "\tat com.acme.auth.TokenRefreshService.refreshAccessToken(TokenRefreshService.java:%d)\n"
            "\tat com.acme.auth.TokenRefreshService$$SpringCGLIB$$0.refreshAccessToken(<generated>)\n"
            "\tat com.acme.web.SessionController.renew(SessionController.java:%d)"
            % (rdate().strftime("%Y-%m-%d %H:%M:%S.") + rdig(3), R.randint(1, 9), R.randint(200, 260), R.randint(380, 400),
               R.randint(60, 120), R.randint(200, 240), R.randint(100, 140), R.randint(40, 70)))


@tpl(F)
def _():
    return ("Traceback (most recent call last):\n"
            "  File \"/srv/app/app/api/middleware.py\", line %d, in __call__\n"
            "    principal = self.authenticate(request)\n"
            "  File \"/srv/app/app/auth/api_key_validator.py\", line %d, in validate_api_key\n"
            "    raise InvalidApiKeyError(\"api key has wrong prefix\")\n"
            "app.auth.errors.InvalidApiKeyError: api key has wrong prefix" % (R.randint(30, 90), R.randint(20, 60)))


@tpl(F)
def _():
    tests = ["test_rejects_invalid_api_key", "test_token_expiry_refreshes_secret", "test_password_hash_roundtrip",
             "test_secret_manager_caches_versions", "test_private_key_loader_handles_pkcs8", "test_api_key_is_masked_in_logs",
             "test_jwt_secret_rotation_grace_period", "test_oauth_client_secret_required"]
    ch = R.sample(tests, 5)
    res = [pick(["PASSED", "PASSED", "PASSED", "FAILED"]) for _ in ch]
    pct = 0
    lines = []
    for t, r in zip(ch, res):
        pct += 20
        lines.append("tests/auth/test_%s.py::%s %s%s[%3d%%]" % (pick(["keys", "tokens", "secrets"]), t, r, " " * 8, pct))
    nf = res.count("FAILED")
    return ("$ pytest tests/auth -q\n" + "\n".join(lines) +
            "\n\n==== %s%d passed in %.2fs ====" % ("%d failed, " % nf if nf else "", 5 - nf, R.uniform(0.5, 9)))


@tpl(F)
def _():
    names = ["secrets::tests::redacts_private_key_header", "token::tests::refresh_token_is_rotated",
             "keyring::tests::loads_api_keys_from_env", "auth::password::tests::argon2_params_are_sane",
             "crypto::tests::secret_box_roundtrip", "api_key::tests::rejects_short_keys"]
    ch = R.sample(names, 4)
    return ("     Running unittests src/lib.rs (target/debug/deps/han_auth-%s)\n\nrunning %d tests\n" % (rhex(16), len(ch)) +
            "\n".join("test %s ... ok" % n for n in ch) +
            "\n\ntest result: ok. %d passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.%02ds" % (len(ch), R.randint(1, 99)))


@tpl(F)
def _():
    d = rdate()
    t = lambda: (d + datetime.timedelta(milliseconds=R.randint(0, 900000))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    return "\n".join([
        "%s INFO  keyring: loaded %d api keys from keyring (service=%s)" % (t(), R.randint(2, 7), pick(PROJECTS)),
        "%s DEBUG token_cache: refreshing access token for client_id=web-frontend (expires_in=3600)" % t(),
        "%s WARN  secret_rotation: skipped rotation for secret 'db-password': no new version" % t(),
        "%s INFO  auth: password reset token issued for user_id=%s" % (t(), rdig(6)),
        "%s DEBUG vault: renewed lease database/creds/readonly (ttl=768h)" % t(),
    ])


@tpl(F)
def _():
    return ("package secrets\n\n"
            "// SecretStore abstracts over Vault, AWS Secrets Manager and the local keyring.\n"
            "type SecretStore interface {\n"
            "\tGetSecret(ctx context.Context, name string) ([]byte, error)\n"
            "\tPutSecret(ctx context.Context, name string, value []byte) error\n"
            "\tRotateAPIKey(ctx context.Context, keyID string) (newKeyID string, err error)\n"
            "}\n\n"
            "var ErrTokenExpired = errors.New(\"secrets: token expired\")\n"
            "var ErrNoPrivateKey = errors.New(\"secrets: no private key configured\")")


@tpl(F)
def _():
    return ("pub struct ApiKeyHeader;\n\n"
            "impl ApiKeyHeader {\n"
            "    pub const NAME: &'static str = \"x-api-key\";\n"
            "}\n\n"
            "#[derive(Debug, thiserror::Error)]\n"
            "pub enum SecretError {\n"
            "    #[error(\"private key is not valid PKCS#8\")]\n"
            "    BadPrivateKey,\n"
            "    #[error(\"token expired at {0}\")]\n"
            "    TokenExpired(u64),\n"
            "    #[error(\"password too short (min {min})\")]\n"
            "    PasswordTooShort { min: usize },\n"
            "}")


@tpl(F)
def _():
    return ("export function maskToken(token: string): string {\n"
            "  if (token.length <= 8) return '********';\n"
            "  return `${token.slice(0, 4)}…${token.slice(-4)}`;\n"
            "}\n\n"
            "export interface ApiKeyRecord {\n"
            "  id: string;\n  prefix: string;\n  hashedSecret: string;\n  createdAt: Date;\n  lastUsedAt?: Date;\n}")


@tpl(F)
def _():
    return ("@Service\npublic class JwtTokenProvider {\n"
            "    @Value(\"${jwt.secret}\")\n    private String jwtSecret;\n\n"
            "    @Value(\"${jwt.expiration-ms:3600000}\")\n    private long jwtExpirationMs;\n\n"
            "    public String generateToken(Authentication authentication) {\n"
            "        SecretKey key = Keys.hmacShaKeyFor(Decoders.BASE64.decode(jwtSecret));\n"
            "        return Jwts.builder().subject(authentication.getName()).signWith(key).compact();\n"
            "    }\n}")


@tpl(F)
def _():
    return ("warning: unused variable: `client_secret`\n"
            "  --> src/oauth/flow.rs:%d:9\n"
            "   |\n"
            "%d |     let client_secret = cfg.client_secret.expose_secret();\n"
            "   |         ^^^^^^^^^^^^^ help: if this is intentional, prefix it with an underscore: `_client_secret`\n"
            "   |\n"
            "   = note: `#[warn(unused_variables)]` on by default" % ((R.randint(30, 99),) * 2))


@tpl(F)
def _():
    return ("$ npx eslint src\n\n"
            "/home/%s/src/%s/src/lib/tokenStore.ts\n"
            "  %d:7  error  'refreshTokenKey' is assigned a value but never used  @typescript-eslint/no-unused-vars\n"
            "  %d:3  warning  Unexpected console statement (no-console): console.log('secret loaded')  no-console\n\n"
            "/home/%s/src/%s/src/pages/api/keys/[keyId].ts\n"
            "  %d:19  error  'apiSecret' is defined but never used  @typescript-eslint/no-unused-vars\n\n"
            "✖ 3 problems (2 errors, 1 warning)" % (pick(USERS), pick(PROJECTS), R.randint(5, 40), R.randint(40, 90),
                                                  pick(USERS), pick(PROJECTS), R.randint(3, 30)))


@tpl(F)
def _():
    return ("$ rg -n 'secret_key'\n"
            "src/config.rs:12:    pub secret_key_path: PathBuf,\n"
            "src/config.rs:48:        secret_key_path: env_path(\"SECRET_KEY_PATH\")?,\n"
            "src/crypto/mod.rs:7:use crate::config::secret_key_path;\n"
            "tests/config_test.rs:22:    assert!(cfg.secret_key_path.ends_with(\"signing.pem\"));\n"
            "docs/ops.md:31:The `secret_key_path` must point to a 0600 file.")


@tpl(F)
def _():
    d = rdate()
    out = ["$ git log --oneline -6"]
    msgs = ["fix(auth): token refresh race when two tabs renew", "refactor: move api key hashing into KeyService",
            "feat: rotate webhook signing secret without downtime", "chore: rename SecretsClient -> SecretStoreClient",
            "test: cover password reset token expiry", "docs: explain OAUTH_CLIENT_SECRET env var",
            "fix: don't log Authorization header", "feat(keys): show last 4 chars of api key in UI"]
    for m in R.sample(msgs, 6):
        out.append("%s %s" % (rhex(7), m))
    return "\n".join(out)


@tpl(F)
def _():
    return ("CREATE TABLE api_keys (\n"
            "    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
            "    owner_id     bigint NOT NULL REFERENCES users(id),\n"
            "    key_prefix   varchar(12) NOT NULL,\n"
            "    key_hash     bytea NOT NULL,\n"
            "    secret_version int NOT NULL DEFAULT 1,\n"
            "    created_at   timestamptz NOT NULL DEFAULT now(),\n"
            "    revoked_at   timestamptz\n);\n"
            "CREATE UNIQUE INDEX api_keys_prefix_idx ON api_keys (key_prefix);\n"
            "COMMENT ON COLUMN api_keys.key_hash IS 'sha256 of the token, never the token itself';")


@tpl(F)
def _():
    return ("$ mypy app\n"
            "app/secrets/vault_client.py:%d: error: Argument 1 to \"decrypt_secret\" has incompatible type \"bytes | None\"; expected \"bytes\"  [arg-type]\n"
            "app/auth/tokens.py:%d: error: Incompatible return value type (got \"str | None\", expected \"AccessToken\")  [return-value]\n"
            "app/auth/passwords.py:%d: note: Revealed type is \"PasswordHasher\"\n"
            "Found 2 errors in 2 files (checked %d source files)" % (R.randint(40, 120), R.randint(10, 90), R.randint(5, 50), R.randint(40, 200)))


@tpl(F)
def _():
    return ("thread 'main' panicked at src/keys/private_key_loader.rs:%d:9:\n"
            "failed to parse private key: InvalidEncoding(\"expected PKCS#8 or SEC1\")\n"
            "stack backtrace:\n"
            "   0: rust_begin_unwind\n"
            "   1: core::panicking::panic_fmt\n"
            "   2: core::result::unwrap_failed\n"
            "   3: han_keys::private_key_loader::load_signing_key\n"
            "             at ./src/keys/private_key_loader.rs:%d:9\n"
            "   4: han_keys::main\n"
            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace." % ((R.randint(20, 80),) * 2))


@tpl(F)
def _():
    return ("Error: Missing required env var STRIPE_SECRET_KEY\n"
            "    at requireEnv (/app/dist/config/secrets.js:%d:11)\n"
            "    at loadConfig (/app/dist/config/index.js:%d:24)\n"
            "    at Object.<anonymous> (/app/dist/server.js:%d:16)\n"
            "    at Module._compile (node:internal/modules/cjs/loader:1358:14)\n\n"
            "Node.js v20.%d.0" % (R.randint(5, 30), R.randint(5, 60), R.randint(3, 20), R.randint(10, 18)))


@tpl(F)
def _():
    return ("$ ls migrations/\n"
            "20240112093000_create_users.sql\n"
            "20240201110000_add_api_keys_table.sql\n"
            "20240312144500_add_secret_rotation_table.sql\n"
            "20240402080000_password_reset_tokens.sql\n"
            "20240517120000_drop_plaintext_token_column.sql")


@tpl(F)
def _():
    return ("interface PasswordEncoder {\n    fun encode(rawPassword: CharSequence): String\n"
            "    fun matches(rawPassword: CharSequence, encodedPassword: String): Boolean\n}\n\n"
            "class TokenBucketRateLimiter(private val capacity: Int, private val refillPerSecond: Double)\n\n"
            "data class OAuthClientCredentials(val clientId: String, val clientSecretRef: SecretRef)")


@tpl(F)
def _():
    return ("kubectl get secrets -n %s\n"
            "NAME                        TYPE                             DATA   AGE\n"
            "default-token-%s         kubernetes.io/service-account-token   3      %dd\n"
            "%s-db-credentials        Opaque                           2      %dd\n"
            "%s-tls                   kubernetes.io/tls                2      %dd\n"
            "regcred                     kubernetes.io/dockerconfigjson   1      %dd"
            % (pick(["prod", "web"]), rs(LO + DIG, 5), R.randint(30, 400), pick(PROJECTS), R.randint(1, 99), pick(PROJECTS), R.randint(1, 99), R.randint(1, 300)))


@tpl(F)
def _():
    return ("I keep getting `KeyError: 'SECRET_KEY'` when starting Django in the container. settings.py does\n"
            "`SECRET_KEY = os.environ[\"SECRET_KEY\"]` and the compose file has `env_file: .env`. Is the env file\n"
            "loaded before manage.py runs, or do I need python-dotenv?")

# ======================================================================
# CLEAN: infra_ids
# ======================================================================
F = "infra_ids"


def _gitdate():
    return rdate().strftime("%a %b %d %H:%M:%S %Y ") + pick(["+0000", "-0700", "+0200", "+0530"])


@tpl(F)
def _():
    msgs = ["Fix flaky retry test in http client", "Bump serde to 1.0.203", "Add pagination to /v1/orders",
            "Merge pull request #%d from acme/feat/export" % R.randint(100, 999), "Drop python 3.8 support",
            "Use sha256 for cache keys", "Remove dead code in scheduler"]
    out = ["$ git log -3"]
    for m in R.sample(msgs, 3):
        n = pick(NAMES)
        out += ["commit " + git_sha(), "Author: %s <%s@%s>" % (n, n.split()[0].lower(), pick(["acme.io", "users.noreply.github.com"])),
                "Date:   " + _gitdate(), "", "    " + m, ""]
    return "\n".join(out).rstrip()


@tpl(F)
def _():
    sha = git_sha()
    return ("$ git rev-parse HEAD\n%s\n$ git describe --always\nv%d.%d.%d-%d-g%s\n$ git show --stat --oneline HEAD\n%s %s\n"
            " %s | %d +++--\n %s | %d +\n 2 files changed, %d insertions(+), 2 deletions(-)"
            % (sha, R.randint(0, 3), R.randint(0, 20), R.randint(0, 9), R.randint(1, 40), sha[:8], sha[:7],
               pick(["Tighten timeout handling", "Cache compiled regexes", "Handle empty body"]),
               pick(FILES_RS), R.randint(3, 20), pick(FILES_RS), R.randint(1, 5), R.randint(5, 25)))


@tpl(F)
def _():
    ver = "%d.%d.%d" % (R.randint(0, 3), R.randint(0, 20), R.randint(0, 9))
    name = pick(PROJECTS)
    arts = ["%s-%s-x86_64-unknown-linux-gnu.tar.gz" % (name, ver), "%s-%s-aarch64-apple-darwin.tar.gz" % (name, ver),
            "%s-%s-x86_64-pc-windows-msvc.zip" % (name, ver)]
    return "$ sha256sum dist/*\n" + "\n".join("%s  dist/%s" % (sha256hex(), a) for a in arts) + "\n$ sha256sum -c SHA256SUMS\n" + "\n".join("dist/%s: OK" % a for a in arts)


@tpl(F)
def _():
    d1, d2 = sha256hex(), sha256hex()
    return ("FROM rust:1.%d-slim@sha256:%s AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release --locked\n\n"
            "FROM gcr.io/distroless/cc-debian12@sha256:%s\nCOPY --from=build /src/target/release/%s /usr/local/bin/\n"
            "ENTRYPOINT [\"/usr/local/bin/%s\"]" % (R.randint(75, 82), d1, d2, pick(PROJECTS), pick(PROJECTS)))


@tpl(F)
def _():
    img = pick(["node:20-alpine", "python:3.12-slim", "nginx:1.27", "redis:7"])
    layers = "\n".join("%s: Pull complete" % rhex(12) for _ in range(R.randint(3, 6)))
    return ("$ docker pull %s\n%s: Pulling from library/%s\n%s\nDigest: sha256:%s\nStatus: Downloaded newer image for %s\n"
            "docker.io/library/%s\n$ docker images --digests | head -3\nREPOSITORY   TAG   DIGEST                                                                    IMAGE ID       CREATED        SIZE\n"
            "%s   %s   sha256:%s   %s   %d days ago   %dMB"
            % (img, img.split(":")[1], img.split(":")[0], layers, sha256hex(), img, img, img.split(":")[0], img.split(":")[1],
               sha256hex(), rhex(12), R.randint(2, 40), R.randint(40, 400)))


@tpl(F)
def _():
    iid, ami, sg, sub, vpc = aws_res("i"), "ami-" + rhex(17), aws_res("sg"), aws_res("subnet"), aws_res("vpc")
    return ("Terraform will perform the following actions:\n\n"
            "  # aws_instance.web[0] must be replaced\n"
            "-/+ resource \"aws_instance\" \"web\" {\n"
            "      ~ ami                          = \"%s\" -> \"ami-%s\" # forces replacement\n"
            "      ~ arn                          = \"arn:aws:ec2:%s:%s:instance/%s\" -> (known after apply)\n"
            "      ~ id                           = \"%s\" -> (known after apply)\n"
            "        instance_type                = \"t3.%s\"\n"
            "      ~ primary_network_interface_id = \"%s\" -> (known after apply)\n"
            "        subnet_id                    = \"%s\"\n"
            "        vpc_security_group_ids       = [\n            \"%s\",\n        ]\n"
            "        tags                         = {\n            \"Name\" = \"%s-web\"\n        }\n    }\n\n"
            "Plan: 1 to add, 0 to change, 1 to destroy."
            % (ami, rhex(17), pick(REGIONS), account_id(), iid, iid, pick(["small", "medium", "large"]), aws_res("eni"), sub, sg, pick(PROJECTS)))


@tpl(F)
def _():
    reg = pick(REGIONS)
    inst = {"Reservations": [{"ReservationId": aws_res("r"), "OwnerId": account_id(), "Instances": [{
        "InstanceId": aws_res("i"), "ImageId": "ami-" + rhex(17), "InstanceType": "m6i.large",
        "LaunchTime": iso(), "Placement": {"AvailabilityZone": reg + "a"},
        "PrivateIpAddress": "10.%d.%d.%d" % (R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)),
        "SubnetId": aws_res("subnet"), "VpcId": aws_res("vpc"),
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": aws_res("vol"), "Status": "attached"}}],
        "NetworkInterfaces": [{"NetworkInterfaceId": aws_res("eni"), "MacAddress": ":".join(rhex(2) for _ in range(6))}],
        "SecurityGroups": [{"GroupName": "web", "GroupId": aws_res("sg")}],
        "IamInstanceProfile": {"Arn": "arn:aws:iam::%s:instance-profile/web-node" % account_id(), "Id": "AIPA" + rs(UP + "234567", 17)},
    }]}]}
    return "$ aws ec2 describe-instances --filters Name=tag:Name,Values=web\n" + json.dumps(inst, indent=4)


@tpl(F)
def _():
    app = pick(PROJECTS)
    h = rs("bcdfghjklmnpqrstvwxz2456789", 10)
    pods = "\n".join("%s-%s-%s   1/1     Running   %d          %dh" % (app, h, rs("bcdfghjklmnpqrstvwxz2456789", 5), R.randint(0, 3), R.randint(1, 90)) for _ in range(3))
    return ("$ kubectl get pods -l app=%s\nNAME                              READY   STATUS    RESTARTS   AGE\n%s\n"
            "$ kubectl describe pod %s-%s-%s | grep -E 'Container ID|Image ID|pod-template-hash'\n"
            "    Container ID:   containerd://%s\n"
            "    Image ID:       ghcr.io/acme/%s@sha256:%s\n"
            "                  pod-template-hash=%s" % (app, pods, app, h, rs("bcdfghjklmnpqrstvwxz2456789", 5), sha256hex(), app, sha256hex(), h))


@tpl(F)
def _():
    rid = ruuid()
    return ("START RequestId: %s Version: $LATEST\n"
            "%s\t%s\tINFO\tprocessing batch of %d records (traceparent=00-%s-%s-01)\n"
            "%s\t%s\tINFO\tX-Amzn-Trace-Id: Root=1-%s-%s;Parent=%s;Sampled=1\n"
            "END RequestId: %s\n"
            "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 512 MB\tMax Memory Used: %d MB"
            % (rid, iso(), rid, R.randint(1, 500), rhex(32), rhex(16), iso(), rid, rhex(8), rhex(24), rhex(16), rid, rid,
               R.uniform(5, 900), R.randint(5, 900), R.randint(60, 400)))


@tpl(F)
def _():
    pk = pick(["lodash", "react-dom", "esbuild", "@types/node", "zod", "undici"])
    v = "%d.%d.%d" % (R.randint(1, 20), R.randint(0, 20), R.randint(0, 30))
    return ('    "node_modules/%s": {\n      "version": "%s",\n      "resolved": "https://registry.npmjs.org/%s/-/%s-%s.tgz",\n'
            '      "integrity": "%s",\n      "dev": true,\n      "license": "MIT"\n    },\n'
            '    "node_modules/%s": {\n      "version": "%s",\n      "resolved": "https://registry.npmjs.org/%s/-/%s-%s.tgz",\n'
            '      "integrity": "%s"\n    }'
            % (pk, v, pk, pk.split("/")[-1], v, sha512_integrity(), "picocolors", "1.1.0", "picocolors", "picocolors", "1.1.0", sha512_integrity()))


@tpl(F)
def _():
    crates = R.sample(["serde", "tokio", "bytes", "hashbrown", "itoa", "ryu", "memchr", "libc"], 3)
    return "\n\n".join('[[package]]\nname = "%s"\nversion = "%d.%d.%d"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"'
                       % (c, R.randint(0, 2), R.randint(0, 40), R.randint(0, 20), sha256hex()) for c in crates)


@tpl(F)
def _():
    mods = R.sample(["github.com/google/uuid v1.6.0", "golang.org/x/sync v0.7.0", "github.com/stretchr/testify v1.9.0",
                     "go.uber.org/zap v1.27.0", "github.com/spf13/cobra v1.8.0"], 3)
    out = []
    for m in mods:
        out.append("%s h1:%s" % (m, b64(rbytes(32))))
        out.append("%s/go.mod h1:%s" % (m, b64(rbytes(32))))
    return "$ cat go.sum\n" + "\n".join(out)


@tpl(F)
def _():
    png = b64(tiny_png(R.randint(1, 3), R.randint(1, 3)))
    return pick([
        '<link rel="icon" type="image/png" href="data:image/png;base64,%s">' % png,
        ".spinner {\n  background-image: url(\"data:image/png;base64,%s\");\n  width: 16px;\n  height: 16px;\n}" % png,
        "The fixture is just a 1x1 PNG:\n\nconst PIXEL = \"%s\";\nassert(Buffer.from(PIXEL, \"base64\").subarray(1, 4).toString() === \"PNG\");" % png,
    ])


@tpl(F)
def _():
    kid = rs(B64URL, 27)
    hdr = b64u(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}, separators=(",", ":")).encode())
    n = b64u(rbytes(256))
    return ("The header segment of the token is `%s`, which decodes to {\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}.\n"
            "Matching key from https://auth.%s.io/.well-known/jwks.json:\n\n"
            "{\n  \"keys\": [\n    {\n      \"kty\": \"RSA\",\n      \"use\": \"sig\",\n      \"kid\": \"%s\",\n      \"alg\": \"RS256\",\n"
            "      \"n\": \"%s\",\n      \"e\": \"AQAB\"\n    }\n  ]\n}" % (hdr, kid, pick(PROJECTS), kid, n))


@tpl(F)
def _():
    acct, reg = account_id(), pick(REGIONS)
    stack = pick(PROJECTS)
    outs = [("ApiRoleArn", "arn:aws:iam::%s:role/%s-api-role" % (acct, stack)),
            ("BucketArn", "arn:aws:s3:::%s" % pick(BUCKETS)),
            ("FunctionArn", "arn:aws:lambda:%s:%s:function:%s-handler" % (reg, acct, stack)),
            ("TopicArn", "arn:aws:sns:%s:%s:%s-alerts" % (reg, acct, stack)),
            ("ImageUri", "%s.dkr.ecr.%s.amazonaws.com/%s@sha256:%s" % (acct, reg, stack, sha256hex())),
            ("QueueUrl", "https://sqs.%s.amazonaws.com/%s/%s-jobs" % (reg, acct, stack))]
    return ("$ aws cloudformation describe-stacks --stack-name %s --query 'Stacks[0].Outputs' --output text\n" % stack +
            "\n".join("%s\t%s" % o for o in outs) + "\nStackId: arn:aws:cloudformation:%s:%s:stack/%s/%s" % (reg, acct, stack, ruuid()))


@tpl(F)
def _():
    proj = pick(PROJECTS) + "-" + rdig(6)
    return ("$ gcloud compute instances create web-1 --zone us-central1-a --project %s\n"
            "Created [https://www.googleapis.com/compute/v1/projects/%s/zones/us-central1-a/instances/web-1].\n"
            "NAME   ZONE           MACHINE_TYPE  PREEMPTIBLE  INTERNAL_IP  EXTERNAL_IP    STATUS\n"
            "web-1  us-central1-a  e2-medium                  10.128.0.%d   34.%d.%d.%d  RUNNING\n"
            "Operation: operation-%s-%s-%s-%s" % (proj, proj, R.randint(2, 250), R.randint(1, 250), R.randint(1, 250), R.randint(1, 250),
                                                   rdig(13), rhex(13), rhex(8), rhex(8)))


@tpl(F)
def _():
    sub, rg = ruuid(), "rg-%s-prod" % pick(PROJECTS)
    return ("$ az vm show -g %s -n vm-web-01 --query '{id:id, vmId:vmId}'\n"
            "{\n  \"id\": \"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/vm-web-01\",\n"
            "  \"vmId\": \"%s\"\n}\n"
            "x-ms-correlation-request-id: %s\nx-ms-request-id: %s\ntenantId: %s"
            % (rg, sub, rg, ruuid(), ruuid(), ruuid(), ruuid()))


@tpl(F)
def _():
    u, h = pick(USERS), pick(["laptop", "build-01", "mbp.local"])
    pub = ssh_pubkey("%s@%s" % (u, h))
    fp = b64(rbytes(32)).rstrip("=")
    return ("$ cat ~/.ssh/id_ed25519.pub\n%s\n$ ssh-keygen -lf ~/.ssh/id_ed25519.pub\n256 SHA256:%s %s@%s (ED25519)\n\n"
            "Added that public key to the deploy user's authorized_keys. Host key on first connect:\n"
            "ED25519 key fingerprint is SHA256:%s." % (pub, fp, u, h, b64(rbytes(32)).rstrip("=")))


@tpl(F)
def _():
    return ("Run actions/checkout@%s\n"
            "Syncing repository: acme/%s\n"
            "...\n"
            "Run actions/cache@%s\n"
            "Cache restored from key: Linux-cargo-%s\n"
            "Run actions/upload-artifact@%s\n"
            "Artifact %s-linux has been successfully uploaded! Final size is %d bytes. Artifact ID is %s\n"
            "Artifact download URL: https://github.com/acme/%s/actions/runs/%s/artifacts/%s"
            % (git_sha(), pick(PROJECTS), git_sha(), sha256hex(), git_sha(), pick(PROJECTS), R.randint(10**5, 10**8),
               rdig(10), pick(PROJECTS), rdig(11), rdig(10)))


@tpl(F)
def _():
    etag = rhex(32)
    return ("$ aws s3api head-object --bucket %s --key releases/%s.tar.gz\n{\n"
            "    \"AcceptRanges\": \"bytes\",\n    \"LastModified\": \"%s\",\n    \"ContentLength\": %d,\n"
            "    \"ETag\": \"\\\"%s\\\"\",\n    \"VersionId\": \"%s\",\n    \"ContentType\": \"application/gzip\",\n"
            "    \"ServerSideEncryption\": \"aws:kms\",\n    \"SSEKMSKeyId\": \"arn:aws:kms:%s:%s:key/%s\"\n}"
            % (pick(BUCKETS), pick(PROJECTS), rdate().strftime("%a, %d %b %Y %H:%M:%S GMT"), R.randint(10**5, 10**9), etag,
               rs(ALNUM + "._", 32), pick(REGIONS), account_id(), ruuid()))


@tpl(F)
def _():
    app = pick(PROJECTS)
    return ("$ kubectl get deploy %s -o yaml | head -20\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            "  annotations:\n    deployment.kubernetes.io/revision: \"%d\"\n  creationTimestamp: \"%s\"\n  generation: %d\n"
            "  labels:\n    app: %s\n  name: %s\n  namespace: default\n  resourceVersion: \"%s\"\n  uid: %s\nspec:\n"
            "  replicas: 3\n  selector:\n    matchLabels:\n      app: %s"
            % (app, R.randint(1, 40), iso(), R.randint(1, 40), app, app, rdig(8), ruuid(), app))


@tpl(F)
def _():
    return ("stripe webhook log:\n"
            "%s  evt_%s  payment_intent.succeeded  pi_%s  200 OK\n"
            "%s  evt_%s  charge.succeeded          ch_%s  200 OK\n"
            "%s  evt_%s  invoice.paid              in_%s  200 OK\n"
            "Request-Id: req_%s  customer cus_%s  (Idempotency-Key: %s)"
            % (iso(), "3" + rs(ALNUM, 23), "3" + rs(ALNUM, 23), iso(), "3" + rs(ALNUM, 23), "3" + rs(ALNUM, 23),
               iso(), "1" + rs(ALNUM, 23), "1" + rs(ALNUM, 23), rs(ALNUM, 14), rs(ALNUM, 14), ruuid()))


@tpl(F)
def _():
    return ("Sentry issue %s: TypeError: Cannot read properties of undefined (reading 'items')\n"
            "  event_id: %s\n  trace: %s\n  span: %s\n  release: %s@%s\n"
            "  cf-ray: %s-%s\n  datadog trace_id: %s"
            % (pick(PROJECTS).upper() + "-" + rs(UP + DIG, 3), rhex(32), rhex(32), rhex(16), pick(PROJECTS), git_sha(),
               rhex(16), pick(["IAD", "FRA", "SJC", "LHR"]), rdig(19)))


@tpl(F)
def _():
    cert = cert_pem()
    return ("$ openssl s_client -connect api.%s.io:443 -showcerts </dev/null 2>/dev/null | sed -n '/BEGIN/,/END/p' | head -30\n%s\n"
            "$ openssl x509 -in server.crt -noout -serial -fingerprint -sha256\nserial=%s\nsha256 Fingerprint=%s"
            % (pick(PROJECTS), cert, rhex(32).upper(), ":".join(rhex(2).upper() for _ in range(32))))


@tpl(F)
def _():
    return ("requests==2.32.3 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\nurllib3==2.2.2 \\\n    --hash=sha256:%s"
            % (sha256hex(), sha256hex(), sha256hex()))


@tpl(F)
def _():
    return ("The webhook signature header looks like `X-Hub-Signature-256: sha256=%s` on the delivery with GUID %s. "
            "I recomputed it locally and it matches, so the payload wasn't altered. Delivery id %s, hook id %s."
            % (sha256hex(), ruuid(), rdig(11), rdig(9)))

# ======================================================================
# CLEAN: plain_session
# ======================================================================
F = "plain_session"


@tpl(F)
def _():
    return pick([
        "can you refactor the retry logic in src/http/client.rs so the backoff is capped at %ds? right now it grows without bound and a flaky upstream stalls the worker for minutes" % pick([10, 30, 60]),
        "The migration ran fine on staging but prod has ~%dM rows in `events`. Is there a way to add the index without locking the table? We're on Postgres %d." % (R.randint(5, 400), pick([14, 15, 16])),
        "please add a --json flag to the `report` subcommand that prints the same data as an array of objects; keep the table output as the default",
        "Why does `cargo clippy` complain about `needless_borrow` here? I thought passing &String to a fn taking &str was fine.",
        "ok that worked. next: the CSV export puts dates in local time, can you make it always UTC with an explicit Z suffix?",
    ])


@tpl(F)
def _():
    f = pick(FILES_RS)
    a, b = R.randint(10, 200), R.randint(10, 200)
    return ("diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -%d,7 +%d,9 @@ impl Backoff {\n"
            "     pub fn next_delay(&mut self) -> Duration {\n"
            "-        let d = self.base * 2u32.pow(self.attempt);\n"
            "+        let exp = self.base.saturating_mul(2u32.saturating_pow(self.attempt));\n"
            "+        let d = exp.min(self.max);\n"
            "         self.attempt += 1;\n"
            "-        d\n"
            "+        let jitter = rand::thread_rng().gen_range(0..=d.as_millis() as u64 / 10);\n"
            "+        d + Duration::from_millis(jitter)\n"
            "     }\n" % (f, f, rhex(7), rhex(7), f, f, a, a))


@tpl(F)
def _():
    n = R.randint(20, 300)
    return ("     Running tests/integration.rs (target/debug/deps/integration-%s)\n\n"
            "running 4 tests\ntest list_orders_paginates ... ok\ntest create_order_validates_sku ... ok\n"
            "test refund_over_limit_rejected ... FAILED\ntest webhook_retries_on_503 ... ok\n\nfailures:\n\n"
            "---- refund_over_limit_rejected stdout ----\n"
            "thread 'refund_over_limit_rejected' panicked at tests/integration.rs:%d:5:\n"
            "assertion `left == right` failed\n  left: 200\n right: 422\n\n"
            "failures:\n    refund_over_limit_rejected\n\n"
            "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in %.2fs"
            % (rhex(16), n, R.uniform(0.1, 5)))


@tpl(F)
def _():
    rows = "\n".join(" %s | %-8s | %7.2f | %s" % (rdig(5), pick(["paid", "refunded", "pending"]), R.uniform(3, 900), rdate().strftime("%Y-%m-%d %H:%M:%S+00")) for _ in range(4))
    return ("app=> SELECT id, status, total, created_at FROM orders WHERE customer_id = %s ORDER BY created_at DESC LIMIT 4;\n"
            "  id   |  status  |  total  |       created_at\n-------+----------+---------+------------------------\n%s\n(4 rows)\n\n"
            "app=> EXPLAIN ANALYZE SELECT count(*) FROM orders WHERE status = 'pending';\n"
            " Aggregate  (cost=1234.56..1234.57 rows=1 width=8) (actual time=%.3f..%.3f rows=1 loops=1)\n"
            "   ->  Index Only Scan using orders_status_idx on orders\n Planning Time: 0.%03d ms\n Execution Time: %.3f ms"
            % (rdig(4), rows, R.uniform(1, 20), R.uniform(20, 40), R.randint(50, 400), R.uniform(20, 60)))


@tpl(F)
def _():
    assets = [("index", "js", 142.31), ("vendor", "js", 401.2), ("index", "css", 18.4), ("Settings", "js", 22.9), ("charts", "js", 88.1)]
    lines = []
    for n, ext, kb in R.sample(assets, 4):
        h = rs(ALNUM + "-_", 8)
        lines.append("dist/assets/%s-%s.%s%s%7.2f kB │ gzip: %6.2f kB" % (n, h, ext, " " * (24 - len(n)), kb * R.uniform(0.8, 1.2), kb * 0.3))
    return ("$ npm run build\n\n> %s@%d.%d.0 build\n> vite build\n\nvite v5.%d.%d building for production...\n✓ %d modules transformed.\n"
            "dist/index.html                   0.46 kB │ gzip:   0.30 kB\n%s\n✓ built in %.2fs"
            % (pick(PROJECTS), R.randint(0, 3), R.randint(0, 9), R.randint(0, 4), R.randint(0, 9), R.randint(100, 3000), "\n".join(lines), R.uniform(1, 20)))


@tpl(F)
def _():
    cls = ["css-%s" % rs(LO + DIG, 7) for _ in range(3)]
    mod = "Button_primary__%s" % rs(ALNUM + "_-", 5)
    sc = "sc-%s %s" % (rs(ALNUM, 6), rs(ALNUM, 6))
    return ('<div class="%s %s"><button class="%s" data-testid="submit">Save</button>'
            '<span class="%s">Saved</span></div>\n\n'
            ".%s{display:flex;gap:8px}.%s{color:#1a73e8;font-weight:600}\n"
            "._%s_%s{margin:0 auto;max-width:72rem}\n\n"
            "The button is misaligned in Safari; the flex container above is what the component renders."
            % (cls[0], cls[1], mod, sc, cls[0], cls[1], rs(ALNUM, 5), rs(ALNUM, 5)))


@tpl(F)
def _():
    png = b64(tiny_png(R.randint(2, 4), R.randint(2, 4)))
    return ('{\n "cells": [\n  {\n   "cell_type": "code",\n   "execution_count": %d,\n   "metadata": {},\n   "outputs": [\n'
            '    {\n     "data": {\n      "image/png": "%s",\n      "text/plain": [\n       "<Figure size 640x480 with 1 Axes>"\n      ]\n     },\n'
            '     "output_type": "display_data"\n    }\n   ],\n   "source": [\n    "df.plot(x=\\"date\\", y=\\"revenue\\")"\n   ]\n  }\n ]\n}'
            % (R.randint(1, 40), png))


@tpl(F)
def _():
    return pick([
        "```go\nfunc (h *Handler) ListOrders(w http.ResponseWriter, r *http.Request) {\n\tctx := r.Context()\n\tlimit, err := strconv.Atoi(r.URL.Query().Get(\"limit\"))\n\tif err != nil || limit <= 0 || limit > 100 {\n\t\tlimit = 25\n\t}\n\torders, next, err := h.store.List(ctx, r.URL.Query().Get(\"cursor\"), limit)\n\tif err != nil {\n\t\thttp.Error(w, \"internal error\", http.StatusInternalServerError)\n\t\treturn\n\t}\n\twriteJSON(w, map[string]any{\"data\": orders, \"next_cursor\": next})\n}\n```",
        "```python\ndef dedupe(rows: list[dict]) -> list[dict]:\n    seen: set[tuple] = set()\n    out = []\n    for row in rows:\n        k = (row[\"sku\"], row[\"warehouse\"])\n        if k in seen:\n            continue\n        seen.add(k)\n        out.append(row)\n    return out\n```",
        "```tsx\nexport function OrderRow({ order }: { order: Order }) {\n  const total = useMemo(() => formatMoney(order.total, order.currency), [order]);\n  return (\n    <tr>\n      <td>{order.id}</td>\n      <td>{order.status}</td>\n      <td className=\"text-right\">{total}</td>\n    </tr>\n  );\n}\n```",
        "```java\npublic final class Money {\n    private final long cents;\n    private final Currency currency;\n\n    public Money plus(Money other) {\n        if (!currency.equals(other.currency)) throw new IllegalArgumentException(\"currency mismatch\");\n        return new Money(Math.addExact(cents, other.cents), currency);\n    }\n}\n```",
    ])


@tpl(F)
def _():
    return ("$ git status\nOn branch %s\nYour branch is ahead of 'origin/%s' by %d commits.\n\n"
            "Changes not staged for commit:\n  (use \"git add <file>...\" to update what will be committed)\n"
            "\tmodified:   %s\n\tmodified:   %s\n\nUntracked files:\n\tbench/results-%s.csv\n\n"
            "$ git diff --stat\n %s | %d ++++---\n %s | %d ++\n 2 files changed, %d insertions(+), 3 deletions(-)"
            % ((pick(["main", "feat/pagination", "fix/retry-cap"]),) * 2 + (R.randint(1, 5), pick(FILES_RS), "Cargo.toml",
               rdate().strftime("%Y%m%d"), pick(FILES_RS), R.randint(5, 20), "Cargo.toml", R.randint(1, 3), R.randint(6, 22))))


@tpl(F)
def _():
    return ("$ npm install\nnpm warn deprecated inflight@1.0.6: This module is not supported, and leaks memory.\n"
            "npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported\n\n"
            "added %d packages, and audited %d packages in %ds\n\n%d packages are looking for funding\n  run `npm fund` for details\n\n"
            "%d vulnerabilities (%d moderate, %d high)\n\nTo address all issues, run:\n  npm audit fix"
            % (R.randint(100, 1500), R.randint(1500, 2000), R.randint(3, 60), R.randint(10, 200), 3, 2, 1))


@tpl(F)
def _():
    return ("$ docker build -t %s:dev .\n[+] Building %.1fs (12/12) FINISHED\n"
            " => [internal] load build definition from Dockerfile                         0.0s\n"
            " => [internal] load metadata for docker.io/library/python:3.12-slim          0.9s\n"
            " => [1/6] FROM docker.io/library/python:3.12-slim@sha256:%s  0.0s\n"
            " => CACHED [2/6] WORKDIR /app                                                0.0s\n"
            " => [3/6] COPY requirements.txt .                                            0.1s\n"
            " => [4/6] RUN pip install --no-cache-dir -r requirements.txt                %.1fs\n"
            " => exporting to image                                                       0.4s\n"
            " => => exporting layers                                                      0.3s\n"
            " => => writing image sha256:%s                  0.0s\n"
            " => => naming to docker.io/library/%s:dev"
            % (pick(PROJECTS), R.uniform(5, 90), sha256hex(), R.uniform(3, 60), sha256hex(), pick(PROJECTS)))


@tpl(F)
def _():
    return ("name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    strategy:\n"
            "      matrix:\n        rust: [stable, \"1.%d\"]\n    steps:\n      - uses: actions/checkout@v4\n"
            "      - uses: dtolnay/rust-toolchain@master\n        with:\n          toolchain: ${{ matrix.rust }}\n"
            "      - uses: Swatinem/rust-cache@v2\n      - run: cargo test --all-features --locked\n"
            "      - run: cargo fmt --check" % R.randint(70, 80))


@tpl(F)
def _():
    return pick([
        "The issue is that `Arc<Mutex<T>>` is held across the `.await` on line %d. The guard isn't `Send`, so the future returned by `handle` isn't `Send` either, and `tokio::spawn` rejects it. Scope the lock in a block so it's dropped before awaiting, or switch to `tokio::sync::Mutex` if you really need to hold it." % R.randint(20, 200),
        "I've added the index concurrently in migration `%s_orders_status_idx.sql`. Note `CREATE INDEX CONCURRENTLY` can't run inside a transaction, so I set `-- +goose NO TRANSACTION` at the top." % rdate().strftime("%Y%m%d%H%M%S"),
        "All %d tests pass now. The remaining clippy warning is `clippy::too_many_arguments` on `build_report`; I'd suggest grouping the options into a `ReportOptions` struct rather than silencing it." % R.randint(40, 400),
    ])


@tpl(F)
def _():
    obj = {"data": [{"id": "ord_" + rs(ALNUM, 14), "status": "shipped", "total": {"amount": R.randint(100, 99999), "currency": "EUR"},
                     "created_at": iso(), "etag": "W/\"%s\"" % rhex(16)} for _ in range(2)],
           "next_cursor": b64u(json.dumps({"after": rdig(8)}).encode()), "request_id": ruuid()}
    return "$ curl -s https://api.internal/v1/orders?limit=2 | jq .\n" + json.dumps(obj, indent=2)


@tpl(F)
def _():
    return ("Exception in thread \"main\" java.lang.NullPointerException: Cannot invoke \"com.acme.orders.Address.getCountry()\" because \"shipping\" is null\n"
            "\tat com.acme.orders.TaxCalculator.rateFor(TaxCalculator.java:%d)\n"
            "\tat com.acme.orders.OrderService.finalize(OrderService.java:%d)\n"
            "\tat com.acme.orders.OrderController.checkout(OrderController.java:%d)" % (R.randint(20, 90), R.randint(100, 300), R.randint(30, 90)))


@tpl(F)
def _():
    d = rdate()
    fl = [("Cargo.toml", 1234), ("Cargo.lock", 88211), ("README.md", 5120), ("src", 4096), ("target", 4096), ("tests", 4096)]
    return "$ ls -la\ntotal %d\n" % R.randint(40, 200) + "\n".join(
        "%s  %d %s %s %7d %s %s" % ("drwxr-xr-x" if "." not in n else "-rw-r--r--", R.randint(1, 9), pick(USERS), "staff", sz,
                                    d.strftime("%b %d %H:%M"), n) for n, sz in fl) + \
        "\n$ df -h /\nFilesystem      Size  Used Avail Use%% Mounted on\n/dev/nvme0n1p2  %dG  %dG  %dG  %d%% /" % (512, 301, 185, 62)


@tpl(F)
def _():
    font = b64(b"wOF2\x00\x01\x00\x00" + rbytes(R.randint(120, 220)))
    return ("@font-face {\n  font-family: \"Inter var\";\n  font-weight: 100 900;\n  font-display: swap;\n"
            "  src: url(data:font/woff2;base64,%s) format(\"woff2\");\n}" % font)


@tpl(F)
def _():
    sm = {"version": 3, "file": "index-%s.js" % rs(ALNUM, 8), "sources": ["../src/main.ts", "../src/App.tsx"],
          "names": ["render", "App", "useState"], "mappings": ";;AAAA,SAASA,MAAM,QAAQ;AACvB,OAAOC,SAAS"}
    data = b64(json.dumps(sm, separators=(",", ":")).encode())
    return ("// dist/assets/index.js (tail)\n})();\n//# sourceMappingURL=data:application/json;base64,%s\n\n"
            "why is the inline source map in the production bundle? I set build.sourcemap = 'hidden' in vite.config.ts" % data)


@tpl(F)
def _():
    return ("## Release %d.%d.0\n\n### Added\n- `report --json` output mode\n- Pagination cursors on `/v1/orders`\n\n"
            "### Fixed\n- Backoff capped at 30s (#%d)\n- Dates in CSV export are now UTC\n\n### Changed\n- MSRV bumped to 1.%d"
            % (R.randint(0, 4), R.randint(0, 30), R.randint(100, 999), R.randint(70, 80)))


@tpl(F)
def _():
    chunks = "\n".join("  %s.%s.js  %6.1f KiB  [emitted] [immutable]  %s" % (rdig(3), rhex(20), R.uniform(1, 400), pick(["vendors", "main", "runtime", "pages/settings"])) for _ in range(4))
    return ("$ webpack --mode production\nassets by status %.1f KiB [emitted]\n%s\nwebpack 5.%d.0 compiled successfully in %d ms"
            % (R.uniform(200, 900), chunks, R.randint(80, 95), R.randint(2000, 30000)))


@tpl(F)
def _():
    return ("-- top customers last 30 days\nWITH recent AS (\n  SELECT customer_id, sum(total_cents) AS spend\n  FROM orders\n"
            "  WHERE created_at >= now() - interval '30 days' AND status <> 'refunded'\n  GROUP BY 1\n)\n"
            "SELECT c.email_domain, count(*) AS customers, sum(r.spend) / 100.0 AS revenue\nFROM recent r JOIN customers c ON c.id = r.customer_id\n"
            "GROUP BY 1 ORDER BY revenue DESC LIMIT %d;" % pick([10, 20, 50]))


@tpl(F)
def _():
    svg = b64(('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M%d %dh%dv%dz" fill="#%s"/></svg>'
               % (R.randint(1, 9), R.randint(1, 9), R.randint(2, 12), R.randint(2, 12), rhex(6))).encode())
    return ("const icons = {\n  check: 'data:image/svg+xml;base64,%s',\n  // generated by scripts/icons.mjs, do not edit\n};" % svg)


@tpl(F)
def _():
    return ("$ cargo bench --bench parse\nparse/small             time:   [%.3f µs %.3f µs %.3f µs]\n"
            "                        change: [-%.2f%% -%.2f%% -%.2f%%] (p = 0.00 < 0.05)\n                        Performance has improved.\n"
            "parse/large             time:   [%.2f ms %.2f ms %.2f ms]\nFound %d outliers among 100 measurements (%d.00%%)"
            % (1.201, 1.214, 1.229, 6.1, 5.2, 4.3, 3.41, 3.45, 3.50, 4, 4))


@tpl(F)
def _():
    return ("Here's the plan:\n\n1. Extract `RateLimiter` into its own module and give it a trait so the tests can use a fake clock.\n"
            "2. Replace the `HashMap<String, Instant>` with a `DashMap` to drop the global mutex.\n"
            "3. Add a property test that %d concurrent callers never exceed the budget.\n\nShall I start with step 1?" % pick([8, 16, 64]))


@tpl(F)
def _():
    ids = [rs(LO + DIG, 12) for _ in range(3)]
    return ("$ pip download --no-deps -d wheels torch==2.3.1\nCollecting torch==2.3.1\n"
            "  Downloading torch-2.3.1-cp311-cp311-manylinux1_x86_64.whl (779.1 MB)\n"
            "Saved ./wheels/torch-2.3.1-cp311-cp311-manylinux1_x86_64.whl\n"
            "$ python -c 'import hashlib,sys;print(hashlib.md5(open(sys.argv[1],\"rb\").read()).hexdigest())' wheels/torch*.whl\n%s\n"
            "build cache dirs: ~/.cache/bazel/_bazel_%s/%s/execroot  %s"
            % (rhex(32), pick(USERS), rhex(32), ids[0]))

# ======================================================================
# SECRET: json_escaped
# ======================================================================
F = "json_escaped"


def esc(s, n=1):
    for _ in range(n):
        s = jesc(s)
    return s


def tool_result(content, is_error=False):
    return json.dumps({"type": "tool_result", "tool_use_id": toolu(), "content": content, "is_error": is_error})


def pem_tail_strip(p):
    return p  # PEM blocks from our generators end at the END marker already


@tpl(F)
def _():
    sa = gcp_sa()
    intro = pick(["here's the service account file, why does google-auth say 'No key could be detected'?",
                  "pasting key.json so you can see the fields:", "this is what terraform wrote to sa.json:"])
    text = intro + "\n\n" + json.dumps(sa, indent=2)
    return text, [esc(sa["private_key"].rstrip("\n"))]


@tpl(F)
def _():
    sa = gcp_sa()
    content = json.dumps(sa, indent=2)
    text = tool_result(content)
    return text, [esc(sa["private_key"].rstrip("\n"), 2)]


@tpl(F)
def _():
    pw = url_password()
    sk = stripe_live("sk")
    jw = rhex(64)
    env = ("# .env (local)\nNODE_ENV=development\nDATABASE_URL=postgres://%s:%s@%s:5432/%s\nSTRIPE_SECRET_KEY=%s\n"
           "JWT_SECRET=%s\nLOG_LEVEL=debug\n" % (pick(USERS), pw, pick(DBHOSTS), pick(["app", "orders", "main"]), sk, jw))
    mode = R.randint(0, 1)
    if mode == 0:
        text = json.dumps({"type": "tool_result", "tool_use_id": toolu(),
                           "content": [{"type": "text", "text": env}]})
    else:
        text = json.dumps({"tool": "Read", "file_path": "/home/%s/src/%s/.env" % (pick(USERS), pick(PROJECTS)), "result": env})
    return text, [pw, sk, jw]


@tpl(F)
def _():
    pw = password(symbols="!#%^*-_=+.~@$&")
    user = pick(USERS)
    msg = pick([
        'connect with {"user": "%s", "password": "%s", "host": "%s"} and run the migration' % (user, pw, pick(DBHOSTS)),
        'the vendor sent this blob for the SFTP drop: {"username": "%s", "password": "%s", "port": 22}' % (user, pw),
        'my pgAdmin export has "Password": "%s" in it, is that stored in plain text?' % pw,
    ])
    text = json.dumps({"role": "user", "content": msg, "timestamp": iso()})
    return text, [pw]


@tpl(F)
def _():
    u = pick(USERS)
    tok = ghp() if R.random() < 0.5 else github_pat()
    auth1 = b64(("%s:%s" % (u, tok)).encode())
    dh_pw = password()
    auth2 = b64(("%s:%s" % (pick(USERS), dh_pw)).encode())
    cfg = {"auths": {"ghcr.io": {"auth": auth1}, "https://index.docker.io/v1/": {"auth": auth2}},
           "credsStore": "", "currentContext": "default"}
    text = tool_result("$ cat ~/.docker/config.json\n" + json.dumps(cfg, indent="\t"))
    return text, [auth1, auth2]


@tpl(F)
def _():
    name = pick(PROJECTS) + "-db"
    pw = password()
    dbu = b64(("postgres://app:%s@%s:5432/app" % (url_password(), pick(DBHOSTS))).encode())
    data = {"password": b64(pw.encode()), "username": b64(b"app"), "DATABASE_URL": dbu}
    last = json.dumps({"apiVersion": "v1", "data": data, "kind": "Secret",
                       "metadata": {"annotations": {}, "name": name, "namespace": "prod"}, "type": "Opaque"}, separators=(",", ":"))
    obj = {"apiVersion": "v1", "data": data, "kind": "Secret",
           "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last + "\n"},
                        "creationTimestamp": iso(), "name": name, "namespace": "prod", "resourceVersion": rdig(8), "uid": ruuid()},
           "type": "Opaque"}
    text = tool_result("$ kubectl get secret %s -n prod -o json\n%s" % (name, json.dumps(obj, indent=4)))
    return text, [data["password"], dbu]


@tpl(F)
def _():
    tok = pick([ghp(), github_pat(), gho()])
    cmd = pick(['curl -s -H "Authorization: Bearer %s" https://api.github.com/user/repos?per_page=100 | jq \'.[].full_name\'',
                'gh api -H "Authorization: token %s" /orgs/acme/teams',
                'git -c http.extraHeader="Authorization: Bearer %s" clone https://github.com/acme/infra.git']) % tok
    text = json.dumps({"type": "tool_use", "id": toolu(), "name": "Bash",
                       "input": {"command": cmd, "description": pick(["List repos", "Fetch teams", "Clone infra repo"])}})
    return text, [tok]


@tpl(F)
def _():
    n1, g = npm_token(), ghp()
    npmrc = ("//registry.npmjs.org/:_authToken=%s\n@acme:registry=https://npm.pkg.github.com\n"
             "//npm.pkg.github.com/:_authToken=%s\nalways-auth=true\n" % (n1, g))
    numbered = "".join("%6d\t%s\n" % (i + 1, l) for i, l in enumerate(npmrc.splitlines()))
    text = json.dumps({"tool_use_id": toolu(), "type": "tool_result", "content": numbered})
    return text, [n1, g]


@tpl(F)
def _():
    pw = password()
    res = {"mode": "managed", "type": "aws_db_instance", "name": "main", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
           "instances": [{"schema_version": 2, "attributes": {"identifier": pick(PROJECTS) + "-db", "username": "app",
                                                              "password": pw, "port": 5432, "engine": "postgres"},
                          "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]]}]}
    text = tool_result("$ terraform state pull | jq '.resources[] | select(.type==\"aws_db_instance\")'\n" + json.dumps(res, indent=2))
    return text, [pw]


@tpl(F)
def _():
    tok = jwt(pick(["HS256", "RS256"]))
    lines = []
    for i in range(3):
        o = {"ts": iso(), "level": pick(["info", "warn", "error"]), "msg": pick(["upstream returned 401\nretrying with refreshed credentials",
                                                                                     "request failed:\n  status=502"]),
             "req": {"method": "GET", "path": "/v1/orders", "headers": {"user-agent": "okhttp/4.12.0"}}}
        if i == 1:
            o["req"]["headers"]["authorization"] = "Bearer " + tok
        lines.append(json.dumps(o))
    return "$ kubectl logs deploy/gateway --since=5m | grep 401\n" + "\n".join(lines), [tok]


@tpl(F)
def _():
    k = anthropic_key() if R.random() < 0.5 else openai_key()
    cls = "Anthropic" if k.startswith("sk-ant") else "OpenAI"
    tb = ("Traceback (most recent call last):\n  File \"/app/summarize.py\", line %d, in <module>\n"
          "    client = %s(api_key=\"%s\")\n  File \"/app/summarize.py\", line %d, in run\n"
          "    resp = client.messages.create(**params)\n%s.RateLimitError: Error code: 429 - {'type': 'error'}\n"
          % (R.randint(3, 30), cls, k, R.randint(31, 80), cls.lower()))
    text = json.dumps({"type": "tool_result", "tool_use_id": toolu(), "content": tb, "is_error": True})
    return text, [k]


@tpl(F)
def _():
    key = pem_ec()
    cert = cert_pem()
    cfg = {"listen": ":8443", "tls": {"cert": cert + "\n", "key": key + "\n"}, "upstream": "http://127.0.0.1:9000"}
    text = "config/%s.json:\n%s" % (pick(["proxy", "edge", "gateway"]), json.dumps(cfg, indent=2))
    return text, [esc(key)]


@tpl(F)
def _():
    sa = gcp_sa()
    inner = json.dumps(sa, separators=(",", ":"))
    code = ("// firebase-admin init (temporary, will move to env)\n"
            "const serviceAccount = JSON.parse(%s);\n"
            "admin.initializeApp({ credential: admin.credential.cert(serviceAccount) });" % json.dumps(inner))
    return code, [esc(sa["private_key"].rstrip("\n"), 2)]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    env = "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_REGION=%s\nHOME=/home/%s\n" % (ak, sk, pick(REGIONS), pick(USERS))
    text = json.dumps({"session_id": ruuid(), "cwd": "/home/%s/src/%s" % (pick(USERS), pick(PROJECTS)),
                       "hook_event_name": "PreToolUse", "env": env, "git_branch": pick(["main", "dev"])})
    return text, [ak, sk]


@tpl(F)
def _():
    tok = github_pat()
    cfg = {"mcpServers": {"github": {"command": "docker", "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
                                     "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": tok}},
                          "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/workspace"]}}}
    text = tool_result("$ cat .mcp.json\n" + json.dumps(cfg, indent=2))
    return text, [tok]


@tpl(F)
def _():
    u = pick(USERS)
    key = pem_openssh("%s@%s" % (u, pick(["laptop", "bastion", "ci"])))
    text = json.dumps({"type": "tool_result", "tool_use_id": toolu(), "content": "$ cat ~/.ssh/id_ed25519\n" + key + "\n"})
    return text, [esc(key)]


@tpl(F)
def _():
    key = pem_rsa()
    tfvars = {"region": pick(REGIONS), "bastion_user": "ec2-user", "ssh_private_key": key + "\n", "instance_type": "t3.micro"}
    text = "$ cat terraform.tfvars.json\n" + json.dumps(tfvars, indent=2)
    return text, [esc(key)]


@tpl(F)
def _():
    xb = xoxb()
    sig = rhex(32)
    env = 'SLACK_BOT_TOKEN="%s"\nSLACK_SIGNING_SECRET="%s"\nSLACK_APP_PORT=3000\n' % (xb, sig)
    text = json.dumps({"type": "tool_result", "tool_use_id": toolu(), "content": "$ cat .env\n" + env})
    return text, [xb, sig]


@tpl(F)
def _():
    pw = password()
    msg = [{"role": "user", "content": [{"type": "text",
            "text": "here's my config, the app can't connect:\n```toml\n[database]\nhost = \"%s\"\nuser = \"%s\"\npassword = \"%s\"\n```" % (pick(DBHOSTS), pick(USERS), pw)}]}]
    return json.dumps({"messages": msg, "model": "claude-sonnet-4", "max_tokens": 4096}), [pw]


@tpl(F)
def _():
    dk = rhex(64)
    akey = stripe_live("rk")
    obj = {"name": "%s-worker" % pick(PROJECTS), "containerDefinitions": [{"name": "app", "image": "app:latest",
           "environment": [{"name": "ENCRYPTION_KEY", "value": dk}, {"name": "STRIPE_KEY", "value": akey}, {"name": "PORT", "value": "8080"}]}]}
    text = tool_result("$ aws ecs describe-task-definition --task-definition %s-worker --query taskDefinition\n%s" % (obj["name"].split("-worker")[0], json.dumps(obj, indent=4)))
    return text, [dk, akey]

# ======================================================================
# SECRET: key_pairs
# ======================================================================
F = "key_pairs"


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    s = pick(["use %s:%s for the staging bucket, it only has s3:GetObject",
              "creds for the backup job -> %s:%s (rotate after the migration pls)",
              "Found this in an old Jenkins job config: `%s:%s`. Is it still active?"]) % (ak, sk)
    return s, [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    s = pick(["The IAM user for the importer is set up (%s / %s), region %s.",
              "ok, new keys generated (%s / %s) — can you update the GitHub secret? region is %s",
              "keys: (%s / %s)\nregion: %s\nbucket: " + pick(BUCKETS)]) % (ak, sk, pick(REGIONS))
    return s, [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    v = R.randint(0, 1)
    if v == 0:
        code = ("import com.amazonaws.auth.AWSStaticCredentialsProvider;\nimport com.amazonaws.auth.BasicAWSCredentials;\n\n"
                "public class S3Factory {\n    public static AmazonS3 create() {\n"
                "        BasicAWSCredentials creds = new BasicAWSCredentials(\"%s\", \"%s\");\n"
                "        return AmazonS3ClientBuilder.standard()\n            .withRegion(Regions.%s)\n"
                "            .withCredentials(new AWSStaticCredentialsProvider(creds))\n            .build();\n    }\n}"
                % (ak, sk, pick(["US_EAST_1", "EU_WEST_1"])))
    else:
        code = ("S3Client s3 = S3Client.builder()\n    .region(Region.%s)\n"
                "    .credentialsProvider(StaticCredentialsProvider.create(\n        AwsBasicCredentials.create(\"%s\", \"%s\")))\n    .build();"
                % (pick(["US_WEST_2", "EU_CENTRAL_1"]), ak, sk))
    return code, [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("cfg, err := config.LoadDefaultConfig(ctx,\n\tconfig.WithRegion(\"%s\"),\n"
            "\tconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(\"%s\", \"%s\", \"\")),\n)\n"
            "if err != nil {\n\tlog.Fatalf(\"load aws config: %%v\", err)\n}" % (pick(REGIONS), ak, sk)), [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("let creds = aws_sdk_s3::config::Credentials::new(\n    \"%s\",\n    \"%s\",\n    None,\n    None,\n    \"hardcoded\",\n);\n"
            "let conf = aws_sdk_s3::Config::builder()\n    .credentials_provider(creds)\n    .region(Region::new(\"%s\"))\n    .build();"
            % (ak, sk, pick(REGIONS))), [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return pick([
        "session = boto3.Session(\"%s\", \"%s\", region_name=\"%s\")\ns3 = session.client(\"s3\")",
        "from boto.s3.connection import S3Connection\nconn = S3Connection('%s', '%s')  # legacy, region %s",
    ]) % (ak, sk, pick(REGIONS)), [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    u = pick(["deploy-bot", "ci-uploader", "backup-svc"])
    return ("$ cat ~/Downloads/%s_accessKeys.csv\nAccess key ID,Secret access key\n%s,%s\n\n"
            "how do I turn this into a profile in ~/.aws/credentials?" % (u, ak, sk)), [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("$ aws configure --profile %s\nAWS Access Key ID [None]: %s\nAWS Secret Access Key [None]: %s\n"
            "Default region name [None]: %s\nDefault output format [None]: json\n$ aws sts get-caller-identity --profile %s\n"
            "{\n    \"UserId\": \"AIDA%s\",\n    \"Account\": \"%s\",\n    \"Arn\": \"arn:aws:iam::%s:user/%s\"\n}"
            % ((pick(["prod", "sandbox", "ml"]), ak, sk, pick(REGIONS)) + (pick(["prod", "sandbox", "ml"]), rs(UP + "234567", 17)) + (account_id(),) * 2 + (pick(USERS),))), [ak, sk]


@tpl(F)
def _():
    rows, secs = [], []
    for env in R.sample(["dev", "staging", "prod", "qa"], R.randint(2, 3)):
        ak, sk = aws_akid(), aws_secret()
        rows.append("| %s | `%s` | `%s` |" % (env, ak, sk))
        secs += [ak, sk]
    return ("Keys for the load-test accounts (delete this page after onboarding):\n\n| env | access key | secret |\n|---|---|---|\n" + "\n".join(rows)), secs


@tpl(F)
def _():
    cid = "%s-%s.apps.googleusercontent.com" % (rdig(12), rs(LO + DIG, 32))
    cs = gocspx()
    return pick([
        "For the Google login, client id is %s and the client secret is %s. Redirect URI is https://app.%s.io/auth/callback.",
        "OAuth app: %s / %s — add them to the staging env please (%s)",
    ]) % (cid, cs, pick(PROJECTS)), [cs]


@tpl(F)
def _():
    sid, tok = "AC" + rhex(32), rhex(32)
    return pick([
        "twilio creds for the SMS alerts: %s / %s (account is on the paid plan)",
        "client = Client(\"%s\", \"%s\")\nclient.messages.create(to=\"+1555%s\", from_=\"+1555%s\", body=\"deploy finished\")" % ("%s", "%s", rdig(7), rdig(7)),
    ]) % (sid, tok), [tok]


@tpl(F)
def _():
    k = mailgun_key()
    dom = "mg.%s.io" % pick(PROJECTS)
    return ("curl -s --user 'api:%s' \\\n    https://api.mailgun.net/v3/%s/messages \\\n    -F from='Ops <ops@%s>' \\\n"
            "    -F to=%s@acme.io \\\n    -F subject='nightly report' \\\n    -F text='see attachment'" % (k, dom, dom, pick(USERS))), [k]


@tpl(F)
def _():
    app, adm = rs(UP + DIG, 10), rhex(32)
    return pick([
        "Algolia: app id %s and admin key %s. The search-only key is fine to ship in the frontend but this one isn't, right?",
        "const client = algoliasearch('%s', '%s');\nconst index = client.initIndex('products_prod');",
    ]) % (app, adm), [adm]


@tpl(F)
def _():
    u, pw = pick(USERS), password()
    return pick([
        "you can log into the grafana box with %s / %s until SSO is wired up",
        "RabbitMQ management UI creds are %s:%s, vhost is /prod",
        "ssh works but sudo asks for a password; the account is %s and the password is %s",
    ]) % (u, pw), [pw]


@tpl(F)
def _():
    kid, ks = "rzp_live_" + rs(ALNUM, 14), rs(ALNUM, 24)
    return ("Razorpay live keys: key_id %s, key_secret %s\n"
            "const rzp = new Razorpay({ key_id: '%s', key_secret: '%s' });" % (kid, ks, kid, ks)), [ks]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("// aws-sdk v2, old lambda\nAWS.config.credentials = new AWS.Credentials('%s', '%s');\n"
            "const sqs = new AWS.SQS({ region: '%s' });" % (ak, sk, pick(REGIONS))), [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("name\taccess_key_id\tsecret_access_key\tcreated\n%s\t%s\t%s\t%s\n(pasted from the shared sheet)"
            % (pick(["etl", "analytics-ro", "uploader"]), ak, sk, rdate().strftime("%Y-%m-%d"))), [ak, sk]


@tpl(F)
def _():
    ak, sk, st = aws_akid("ASIA"), aws_secret(), aws_session_token()
    return ("$ aws sts assume-role --role-arn arn:aws:iam::%s:role/%s --role-session-name dbg --query Credentials --output text\n"
            "%s\t%s\t%s\t%s" % (account_id(), pick(["Admin", "ReadOnly", "DeployRole"]), ak, iso(), sk, st)), [ak, sk, st]


@tpl(F)
def _():
    app, key, sec = rdig(7), rhex(20), rhex(20)
    return pick([
        "pusher app %s: key %s secret %s cluster eu",
        "new Pusher({ appId: '%s', key: '%s', secret: '%s', cluster: 'eu', useTLS: true })",
    ]) % (app, key, sec), [sec]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("$ ./scripts/upload.sh %s %s %s\nuploading 14 files to s3://%s/ ...\ndone" % (ak, sk, pick(BUCKETS), pick(BUCKETS))), [ak, sk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("val provider = StaticCredentialsProvider.create(AwsBasicCredentials.create(\"%s\", \"%s\"))\n"
            "val client = DynamoDbClient.builder().credentialsProvider(provider).region(Region.%s).build()" % (ak, sk, pick(["US_EAST_1", "AP_SOUTHEAST_2"]))), [ak, sk]


@tpl(F)
def _():
    key, sec = rs(ALNUM, 25), rs(ALNUM + "-_", 50)
    return pick([
        "Twitter/X API for the bot: consumer key %s, consumer secret %s",
        "oauth = OAuth1Session('%s', client_secret='%s')",
    ]) % (key, sec), [sec]

# ======================================================================
# SECRET: provider_near_value
# ======================================================================
F = "provider_near_value"


@tpl(F)
def _():
    k = stripe_live(pick(["sk", "rk"]))
    return pick([
        "stripe token - '%s'",
        "stripe: %s (live mode!!)",
        "the stripe one is %s, please put it in the prod vault",
        "Stripe key -> \"%s\"",
    ]) % k, [k]


@tpl(F)
def _():
    k = rhex(32)
    return pick([
        "mixpanel %s",
        "mixpanel api secret %s — only needed for the export job",
        "Mixpanel: %s",
        "for mixpanel use %s",
    ]) % k, [k]


@tpl(F)
def _():
    k = openai_key()
    return pick([
        "my openai key is %s and it keeps returning 429, is that a quota thing?",
        "openai=%s",
        "I rotated the OpenAI key, new one: %s",
        "OPENAI %s  <- test with this",
    ]) % k, [k]


@tpl(F)
def _():
    k = pick([ghp(), github_pat()])
    return pick([
        "here's the github token:\n%s\n\nit has repo and workflow scopes",
        "GitHub PAT for the release bot (expires in 30 days)\n\n    %s\n",
        "github: %s",
    ]) % k, [k]


@tpl(F)
def _():
    sg = sendgrid()
    dd = rhex(32)
    dda = rhex(40)
    return ("# config/production.yml\nmailer:\n  provider: sendgrid\n  sendgrid_api_key: %s\n  from: noreply@%s.io\n"
            "monitoring:\n  datadog_api_key: %s\n  datadog_app_key: %s\n  site: datadoghq.eu" % (sg, pick(PROJECTS), dd, dda)), [sg, dd, dda]


@tpl(F)
def _():
    mc = mailchimp_key()
    pd = rs(ALNUM + "-_+", 20)
    return ("integrations:\n  mailchimp_key: %s\n  pagerduty_token: %s\n  pagerduty_service: P%s\n  enabled: true" % (mc, pd, rs(UP + DIG, 6))), [mc, pd]


@tpl(F)
def _():
    hk = ruuid()
    nr = newrelic_key()
    return ("heroku_api_key: %s\nnewrelic_api_key: %s\napp_name: %s-prod" % (hk, nr, pick(PROJECTS))), [hk, nr]


@tpl(F)
def _():
    amp, seg = rhex(32), rs(ALNUM, 32)
    return json.dumps({"analytics": {"amplitude": amp, "segment_write_key": seg, "sample_rate": 0.25}}, indent=2), [amp, seg]


@tpl(F)
def _():
    dd, sentry = rhex(32), "sntryu_" + rhex(64)
    return ("[datadog]\napi_key = \"%s\"\nsite = \"datadoghq.com\"\n\n[sentry]\nauth_token = \"%s\"\norg = \"%s\"" % (dd, sentry, pick(PROJECTS))), [dd, sentry]


@tpl(F)
def _():
    mg = mailgun_key()
    tw = rhex(32)
    return ("[mailgun]\ndomain = mg.%s.io\nkey = %s\n\n[twilio]\naccount_sid = AC%s\nauth_token = %s" % (pick(PROJECTS), mg, rhex(32), tw)), [mg, tw]


@tpl(F)
def _():
    t = rhex(32)
    return pick(["twilio auth token %s", "Twilio token: %s (from console)", "twilio - %s"]) % t, [t]


@tpl(F)
def _():
    t = rs(B64URL, 40)
    return pick(["the cloudflare one is %s", "cloudflare api token %s (zone:dns:edit only)", "CF token: '%s'"]) % t, [t]


@tpl(F)
def _():
    k = linear_key()
    n = notion_key()
    return ("Linear: %s\nNotion integration: %s\nBoth go into the sync worker's env." % (k, n)), [k, n]


@tpl(F)
def _():
    h = hf_token()
    return pick(["hf token %s", "huggingface: %s (read access)", "set HF to %s and rerun the download"]) % h, [h]


@tpl(F)
def _():
    n, p = npm_token(), pypi_token()
    return ("publishing creds:\n  npm -> %s\n  pypi -> %s" % (n, p)), [n, p]


@tpl(F)
def _():
    s, d = shopify(), do_token()
    return pick(["shopify admin token %s, digitalocean %s",
                 "Shopify: %s\nDigitalOcean: %s"]) % (s, d), [s, d]


@tpl(F)
def _():
    dp = doppler_token()
    vt = rs(ALNUM, 24)
    return ("vercel token: %s\ndoppler service token %s" % (vt, dp)), [vt, dp]


@tpl(F)
def _():
    g, r8 = groq_key(), replicate_key()
    return pick(["groq %s / replicate %s — which is cheaper for llama 70b?",
                 "groq_api_key: %s\nreplicate_api_token: %s"]) % (g, r8), [g, r8]


@tpl(F)
def _():
    pk = postman_key()
    return pick(["postman api key %s", "Postman: \"%s\""]) % pk, [pk]


@tpl(F)
def _():
    v = vault_token()
    return pick(["vault root token after init: %s", "Vault %s"]) % v, [v]


@tpl(F)
def _():
    a = rhex(32)
    k = google_api_key()
    return ("algolia_admin_key: \"%s\"\ngoogle_maps_key: %s\nfeature_flags:\n  new_checkout: true" % (a, k)), [a, k]


@tpl(F)
def _():
    sk = stripe_live("sk")
    wh = stripe_whsec()
    return ("[stripe]\nsecret = \"%s\"\nwebhook_signing = \"%s\"\n\n[server]\nport = 8080" % (sk, wh)), [sk, wh]


@tpl(F)
def _():
    t = pick(["segment %s", "rudderstack write key %s", "posthog personal key %s"])
    v = rs(ALNUM, 32) if "posthog" not in t else "phx_" + rs(ALNUM, 43)
    return t % v, [v]


@tpl(F)
def _():
    ak = anthropic_key()
    return pick(["anthropic: %s", "claude key %s — please don't print it in logs", "Anthropic API key is\n%s"]) % ak, [ak]


@tpl(F)
def _():
    key = age_secret()
    return ("# created: %s\n# public key: age1%s\n%s\n\nthat's my sops age key, which file should it go in?" % (iso(), rs("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58), key)), [key]

# ======================================================================
# SECRET: url_keys
# ======================================================================
F = "url_keys"


@tpl(F)
def _():
    b = telegram_bot()
    chat = "-100" + rdig(10)
    return pick([
        "curl -s -X POST https://api.telegram.org/bot%s/sendMessage -d chat_id=%s -d text=\"deploy ok\"",
        "requests.get(f\"https://api.telegram.org/bot%s/getUpdates\")  # chat %s",
        "webhook set: https://api.telegram.org/bot%s/setWebhook?url=https://bots.acme.io/tg&chat=%s",
    ]) % (b, chat), [b]


@tpl(F)
def _():
    k = rs(ALNUM, 32)
    host = pick(["api.openweathermap.org/data/2.5/weather?q=Berlin&appid=%s",
                 "api.nasa.gov/planetary/apod?api_key=%s",
                 "maps.googleapis.com/maps/api/geocode/json?address=1600+Amphitheatre&key=%s",
                 "newsapi.org/v2/top-headlines?country=us&apiKey=%s"])
    if "googleapis" in host:
        k = google_api_key()
    url = "https://" + host % k
    return pick(["GET %s -> 401, key looks right though?", "$ curl -s '%s' | jq .cod\n200", "fetch(\"%s\").then(r => r.json())"]) % url, [k]


@tpl(F)
def _():
    acct = pick(PROJECTS).replace("-", "") + "store"
    sig = b64(rbytes(32))
    enc = urllib.parse.quote(sig, safe="")
    st, se = rdate(), rdate(2025, 2026)
    url = ("https://%s.blob.core.windows.net/%s/%s?sv=2022-11-02&ss=b&srt=co&sp=rwdlac&se=%s&st=%s&spr=https&sig=%s"
           % (acct, pick(["exports", "backups", "uploads"]), pick(["report.csv", "db.bak", "img/logo.png"]),
              se.strftime("%Y-%m-%dT%H:%M:%SZ"), st.strftime("%Y-%m-%dT%H:%M:%SZ"), enc))
    return pick(["azcopy copy ./out.csv \"%s\"", "SAS url for the partner: %s", "AZURE_BLOB_URL=%s"]) % url, [enc]


@tpl(F)
def _():
    t = pick([gho(), "EAAB" + rs(ALNUM, 180), "ya29." + rs(B64URL, 150)])
    url = pick(["https://graph.facebook.com/v19.0/me/accounts?access_token=%s",
                "https://www.googleapis.com/drive/v3/files?pageSize=10&access_token=%s",
                "https://api.github.com/user?access_token=%s"]) % t
    return pick(["GET %s HTTP/1.1\" 200 1532", "request url: %s", "Redirecting to %s"]) % url, [t]


@tpl(F)
def _():
    u, pw = pick(USERS), url_password()
    host = pick(DBHOSTS)
    url = pick(["postgres://%s:%s@%s:5432/%s", "postgresql://%s:%s@%s/%s?sslmode=require",
                "mysql://%s:%s@%s:3306/%s"]) % (u, pw, host, pick(["app", "orders", "analytics"]))
    return pick(["DATABASE_URL=%s", "psql \"%s\" -c '\\dt'", "sqlalchemy.create_engine(\"%s\")", "connect string is %s"]) % url, [pw]


@tpl(F)
def _():
    u, pw = pick(USERS), url_password()
    url = "mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority" % (u, pw, rs(LO + DIG, 5), pick(PROJECTS))
    return pick(["const client = new MongoClient(\"%s\");", "MONGO_URI: %s", "mongosh '%s'"]) % url, [pw]


@tpl(F)
def _():
    pw = url_password(32)
    return pick(["REDIS_URL=redis://:%s@%s:6379/0", "celery broker: redis://default:%s@%s:6380/1",
                 "rediss://:%s@%s:6379 (TLS)"]) % (pw, pick(["cache.internal", "redis-prod.abc123.ng.0001.use1.cache.amazonaws.com", "10.0.8.4"])), [pw]


@tpl(F)
def _():
    u, pw = pick(USERS), url_password()
    return pick(["AMQP_URL=amqp://%s:%s@rabbit.internal:5672/prod",
                 "broker_url = 'amqps://%s:%s@b-%s.mq.us-east-1.amazonaws.com:5671'" % ("%s", "%s", ruuid())]) % (u, pw), [pw]


@tpl(F)
def _():
    t, b, x = slack_hook_parts()
    url = "https://hooks.slack.com/services/%s/%s/%s" % (t, b, x)
    return pick(["SLACK_WEBHOOK_URL=%s",
                 "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"build failed\"}' %s",
                 "alertmanager:\n  receivers:\n    - name: slack\n      slack_configs:\n        - api_url: %s\n          channel: '#alerts'"]) % url, [x]


@tpl(F)
def _():
    i, tok = discord_hook()
    url = "https://discord.com/api/webhooks/%s/%s" % (i, tok)
    return pick(["DISCORD_WEBHOOK=%s", "requests.post(\"%s\", json={\"content\": \"backup done\"})"]) % url, [tok]


@tpl(F)
def _():
    t = ghs() if R.random() < 0.5 else ghp()
    return ("$ git remote -v\norigin\thttps://x-access-token:%s@github.com/acme/%s.git (fetch)\n"
            "origin\thttps://x-access-token:%s@github.com/acme/%s.git (push)" % ((t, pick(PROJECTS)) * 2)), [t]


@tpl(F)
def _():
    t = glpat()
    return pick(["git clone https://oauth2:%s@gitlab.com/acme/%s.git",
                 "[remote \"origin\"]\n\turl = https://gitlab-ci-token:%s@gitlab.acme.io/platform/%s.git"]) % (t, pick(PROJECTS)), [t]


@tpl(F)
def _():
    t = rs(ALNUM, 40)
    return pick(["curl \"https://api.%s.io/v1/export?format=csv&token=%s\" -o export.csv",
                 "the callback hits https://hooks.%s.io/ingest?token=%s&source=stripe"]) % (pick(PROJECTS), t), [t]


@tpl(F)
def _():
    ak = aws_akid()
    sig = rhex(64)
    d = rdate()
    url = ("https://%s.s3.%s.amazonaws.com/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F%s%%2F%s%%2Fs3%%2Faws4_request"
           "&X-Amz-Date=%s&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=%s"
           % (pick(BUCKETS), pick(REGIONS), pick(["exports/q3.parquet", "tmp/dump.sql.gz"]), ak, d.strftime("%Y%m%d"), pick(REGIONS),
              d.strftime("%Y%m%dT%H%M%SZ"), sig))
    return "presigned link (7 days): " + url, [ak, sig]


@tpl(F)
def _():
    t = mapbox_secret()
    return ("https://api.mapbox.com/styles/v1/%s/%s/tiles/256/{z}/{x}/{y}@2x?access_token=%s" % (pick(USERS), rs(LO + DIG, 25), t)), [t]


@tpl(F)
def _():
    sid, tok = "AC" + rhex(32), rhex(32)
    return ("curl -X POST https://%s:%s@api.twilio.com/2010-04-01/Accounts/%s/Messages.json --data-urlencode \"Body=hi\"" % (sid, tok, sid)), [tok]


@tpl(F)
def _():
    u = rdig(6)
    k = "glc_" + b64u(json.dumps({"o": rdig(6), "n": "stack-" + rdig(6) + "-hl-write", "k": rs(ALNUM, 24), "m": {"r": "prod-us-east-0"}}, separators=(",", ":")).encode())
    return ("loki:\n  url: https://%s:%s@logs-prod-006.grafana.net/loki/api/v1/push" % (u, k)), [k]


@tpl(F)
def _():
    pw = url_password()
    return pick(["spring.datasource.url=jdbc:postgresql://%s:5432/app?user=app&password=%s&ssl=true",
                 "jdbc:mysql://%s:3306/shop?user=shop_rw&password=%s&useSSL=true"]) % (pick(DBHOSTS), pw), [pw]


@tpl(F)
def _():
    pw = url_password()
    return pick(["ES_URL=https://elastic:%s@%s.es.us-east-1.aws.found.io:9243",
                 "curl -s https://elastic:%s@%s.es.io:9200/_cluster/health?pretty"]) % (pw, rhex(32)), [pw]


@tpl(F)
def _():
    k = rs(ALNUM, 32)
    return ("2024-06-01T10:00:00Z GET /v2/metrics?apikey=%s&from=1717200000 200 41ms ua=python-requests/2.32" % k).replace("2024-06-01T10:00:00Z", iso()), [k]


@tpl(F)
def _():
    pw = url_password()
    u = pick(USERS)
    return ("$ cat ~/.git-credentials\nhttps://%s:%s@git.%s.internal\n" % (u, pw, pick(PROJECTS))), [pw]


@tpl(F)
def _():
    api = rdig(15)
    sec = rs(ALNUM + "-_", 27)
    return pick(["CLOUDINARY_URL=cloudinary://%s:%s@%s", "cloudinary://%s:%s@%s is what the dashboard gave me"]) % (api, sec, pick(PROJECTS)), [sec]


@tpl(F)
def _():
    pw = url_password()
    return ("ftp://%s:%s@ftp.partner-%s.com/incoming/" % (pick(USERS), pw, rs(LO, 5))), [pw]

# ======================================================================
# SECRET: code_constants
# ======================================================================
F = "code_constants"


def key_hex():
    return rhex(pick([32, 64]))


def key_b64():
    return b64(rbytes(pick([32, 48, 64])))


@tpl(F)
def _():
    k = rhex(64)
    return ("use aes_gcm::{Aes256Gcm, KeyInit};\n\n/// TODO: load from KMS\nconst MASTER_KEY_HEX: &str = \"%s\";\n\n"
            "pub fn cipher() -> Aes256Gcm {\n    let key = hex::decode(MASTER_KEY_HEX).expect(\"valid hex\");\n"
            "    Aes256Gcm::new_from_slice(&key).unwrap()\n}" % k), [k]


@tpl(F)
def _():
    k = rs(ALNUM + "!#%^*-_=+", 48)
    return ("static HMAC_SECRET: &[u8] = b\"%s\";\n\nfn sign(payload: &[u8]) -> Vec<u8> {\n"
            "    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_SECRET).unwrap();\n    mac.update(payload);\n"
            "    mac.finalize().into_bytes().to_vec()\n}" % k), [k]


@tpl(F)
def _():
    k = rhex(64)
    return ("#[cfg(not(test))]\npub(crate) const SESSION_SIGNING_KEY: [u8; 32] = hex_literal::hex!(\"%s\");" % k), [k]


@tpl(F)
def _():
    k = key_b64()
    return ("lazy_static! {\n    static ref JWT_SECRET: String = std::env::var(\"JWT_SECRET\")\n"
            "        .unwrap_or_else(|_| \"%s\".to_string());\n}" % k), [k]


@tpl(F)
def _():
    k = rs(ALNUM, 40)
    return ("package webhooks\n\nvar signingSecret = \"%s\"\n\nfunc Verify(body []byte, sig string) bool {\n"
            "\tmac := hmac.New(sha256.New, []byte(signingSecret))\n\tmac.Write(body)\n"
            "\treturn hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(sig))\n}" % k), [k]


@tpl(F)
def _():
    k = rhex(64)
    return ("const (\n\tdefaultPort   = 8080\n\tencryptionKey = \"%s\" // 32 bytes hex\n)" % k), [k]


@tpl(F)
def _():
    k = key_b64()
    return ("var jwtKey = []byte(\"%s\")\n\nfunc issue(userID string) (string, error) {\n"
            "\tt := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{\"sub\": userID, \"exp\": time.Now().Add(time.Hour).Unix()})\n"
            "\treturn t.SignedString(jwtKey)\n}" % k), [k]


@tpl(F)
def _():
    k = rs(ALNUM, 32)
    return ("func newClient() *api.Client {\n\tconst apiToken = \"%s\"\n\treturn api.New(api.WithToken(apiToken), api.WithTimeout(10*time.Second))\n}" % k), [k]


@tpl(F)
def _():
    k = rs(ALNUM, 40)
    return ("export const API_TOKEN = '%s';\nexport const API_BASE = 'https://api.%s.io/v2';" % (k, pick(PROJECTS))), [k]


@tpl(F)
def _():
    k = stripe_whsec()
    return ("const webhookSecret = \"%s\";\n\napp.post('/stripe/webhook', express.raw({ type: 'application/json' }), (req, res) => {\n"
            "  const event = stripe.webhooks.constructEvent(req.body, req.headers['stripe-signature'], webhookSecret);\n  res.sendStatus(200);\n});" % k), [k]


@tpl(F)
def _():
    k = key_b64()
    return ("// src/lib/crypto.ts\nconst ENCRYPTION_KEY = Buffer.from('%s', 'base64');\n"
            "export function encrypt(plain: string) {\n  const iv = randomBytes(12);\n"
            "  const c = createCipheriv('aes-256-gcm', ENCRYPTION_KEY, iv);\n  return Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);\n}" % k), [k]


@tpl(F)
def _():
    k = rhex(40)
    return ("export default {\n  clientId: 'web-%s',\n  clientSecret: '%s',\n  redirectUri: '/auth/callback',\n} satisfies OAuthConfig;" % (rs(LO, 6), k)), [k]


@tpl(F)
def _():
    k = password(50, symbols="!@#$%^&*(-_=+)")
    return ("# settings/production.py\nDEBUG = False\nALLOWED_HOSTS = [\"%s.io\"]\nSECRET_KEY = \"%s\"\n" % (pick(PROJECTS), k)), [k]


@tpl(F)
def _():
    k = base64.urlsafe_b64encode(rbytes(32)).decode()
    return ("from cryptography.fernet import Fernet\n\nFERNET_KEY = b\"%s\"\nf = Fernet(FERNET_KEY)" % k), [k]


@tpl(F)
def _():
    k = rhex(64)
    return ("class Config:\n    SQLALCHEMY_TRACK_MODIFICATIONS = False\n    JWT_SECRET_KEY = '%s'\n    JWT_ACCESS_TOKEN_EXPIRES = 3600" % k), [k]


@tpl(F)
def _():
    s = b64(rbytes(16))
    return ("import hashlib\n\nsalt = \"%s\"\n\ndef hash_pw(pw: str) -> str:\n"
            "    return hashlib.pbkdf2_hmac(\"sha256\", pw.encode(), salt.encode(), 600_000).hex()" % s), [s]


@tpl(F)
def _():
    k = key_b64()
    return ("public final class TokenSigner {\n    private static final String HMAC_KEY = \"%s\";\n\n"
            "    public String sign(String data) throws Exception {\n        Mac mac = Mac.getInstance(\"HmacSHA256\");\n"
            "        mac.init(new SecretKeySpec(Base64.getDecoder().decode(HMAC_KEY), \"HmacSHA256\"));\n"
            "        return Hex.encodeHexString(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));\n    }\n}" % k), [k]


@tpl(F)
def _():
    k = b64(rbytes(32))
    return ("private static final byte[] AES_KEY = Base64.getDecoder().decode(\"%s\");\nprivate static final int GCM_TAG_BITS = 128;" % k), [k]


@tpl(F)
def _():
    k = rhex(32)
    return ("@Configuration\npublic class ApiConfig {\n    public static final String API_SECRET = \"%s\";\n    public static final String API_URL = \"https://partner.%s.com\";\n}" % (k, rs(LO, 6))), [k]


@tpl(F)
def _():
    s = rhex(32)
    return ("let salt = \"%s\";\nlet hashed = argon2::hash_encoded(pw.as_bytes(), salt.as_bytes(), &config)?;" % s), [s]


@tpl(F)
def _():
    k = key_b64()
    return ("public static class Keys\n{\n    public const string JwtSigningKey = \"%s\";\n}" % k), [k]


@tpl(F)
def _():
    k = rhex(128)
    return ("Rails.application.configure do\n  config.secret_key_base = \"%s\"\nend" % k), [k]


@tpl(F)
def _():
    t = rs(ALNUM, 36)
    return ("object Secrets {\n    const val ANALYTICS_TOKEN = \"%s\"\n}" % t), [t]


@tpl(F)
def _():
    k = rhex(64)
    return ("<?php\ndefine('AUTH_KEY', '%s');\ndefine('WP_DEBUG', false);" % k), [k]

# ======================================================================
# SECRET: common_vendor
# ======================================================================
F = "common_vendor"


@tpl(F)
def _():
    t = ghp()
    return ("$ echo $GITHUB_TOKEN\n%s\n$ gh api user -q .login\n%s" % (t, pick(USERS))), [t]


@tpl(F)
def _():
    t = github_pat()
    u = pick(USERS)
    return ("$ cat ~/.config/gh/hosts.yml\ngithub.com:\n    users:\n        %s:\n            oauth_token: %s\n"
            "    git_protocol: https\n    oauth_token: %s\n    user: %s" % (u, t, t, u)), [t]


@tpl(F)
def _():
    t = glpat()
    return ("curl --header \"PRIVATE-TOKEN: %s\" \"https://gitlab.com/api/v4/projects/%s/pipelines?status=failed\"" % (t, rdig(8))), [t]


@tpl(F)
def _():
    t = xoxb()
    return pick([
        "from slack_sdk import WebClient\nclient = WebClient(token=\"%s\")\nclient.chat_postMessage(channel=\"#deploys\", text=\"shipped\")",
        "$ env | grep SLACK\nSLACK_BOT_TOKEN=%s\nSLACK_CHANNEL=#alerts",
        "[2024-05-11 09:12:44] slack.errors.SlackApiError: not_in_channel (token=%s)",
    ]) % t, [t]


@tpl(F)
def _():
    t = xoxp()
    return ("slack user token for the export script: %s" % t), [t]


@tpl(F)
def _():
    k = openai_key()
    return ("$ env | grep -i key\nOPENAI_API_KEY=%s\nKEYTIMEOUT=1\nSSH_AUTH_SOCK=/tmp/ssh-%s/agent.%s" % (k, rs(ALNUM, 10), rdig(5))), [k]


@tpl(F)
def _():
    k = anthropic_key()
    return pick([
        "anthropic.AuthenticationError: Error code: 401 - invalid x-api-key\nrequest headers: {'x-api-key': '%s', 'anthropic-version': '2023-06-01'}",
        "$ claude config get apiKey\n%s",
        "import anthropic\nclient = anthropic.Anthropic(api_key=\"%s\")",
    ]) % k, [k]


@tpl(F)
def _():
    sk, rk = stripe_live("sk"), stripe_live("rk")
    return ("$ cat ~/.config/stripe/config.toml\ncolor = 'auto'\n[default]\n  account_id = 'acct_%s'\n"
            "  device_name = '%s-mbp'\n  live_mode_api_key = '%s'\n  live_mode_publishable_key = 'pk_live_%s'\n"
            "  secret_api_key = '%s'" % (rs(ALNUM, 16), pick(USERS), rk, rs(ALNUM, 99), sk)), [sk, rk]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("$ printenv | sort | grep ^AWS\nAWS_ACCESS_KEY_ID=%s\nAWS_DEFAULT_REGION=%s\nAWS_SECRET_ACCESS_KEY=%s" % (ak, pick(REGIONS), sk)), [ak, sk]


@tpl(F)
def _():
    sk = aws_secret()
    return ("aws_secret_access_key=%s" % sk), [sk]


@tpl(F)
def _():
    k = pem_rsa()
    return ("$ cat ~/.ssh/id_rsa\n%s\n$ ssh -i ~/.ssh/id_rsa %s@%s\nPermission denied (publickey)." % (k, pick(["ubuntu", "ec2-user"]), pick(DBHOSTS))), [k]


@tpl(F)
def _():
    k = pem_ec()
    return ("here's tls.key from the ingress secret, the cert is fine but nginx says key mismatch:\n\n%s" % k), [k]


@tpl(F)
def _():
    k = pem_openssh("%s@%s" % (pick(USERS), pick(["ci", "deploy-host"])))
    return ("deploy key (put it in the DEPLOY_KEY secret):\n%s\n" % k), [k]


@tpl(F)
def _():
    k = pem_pkcs8_rsa()
    return ("-- GitHub App private key, downloaded %s\n%s" % (rdate().strftime("%Y-%m-%d"), k)), [k]


@tpl(F)
def _():
    t = jwt(pick(["HS256", "RS256"]))
    host = pick(PROJECTS)
    return ("$ curl -v https://api.%s.io/v1/me\n> GET /v1/me HTTP/2\n> Host: api.%s.io\n> user-agent: curl/8.5.0\n"
            "> authorization: Bearer %s\n> accept: */*\n>\n< HTTP/2 403\n< content-type: application/json\n"
            "{\"error\":\"insufficient_scope\"}" % (host, host, t)), [t]


@tpl(F)
def _():
    t = jwt("HS256")
    return ("this token keeps failing verification, can you decode it? %s" % t), [t]


@tpl(F)
def _():
    pw = url_password()
    u = pick(USERS)
    return ("$ heroku config -a %s\n=== %s Config Vars\nDATABASE_URL:  postgres://%s:%s@ec2-%d-%d-%d-%d.compute-1.amazonaws.com:5432/%s\nLANG:          en_US.UTF-8\nRACK_ENV:      production"
            % ((pick(PROJECTS),) * 2 + (u, pw, R.randint(1, 254), R.randint(1, 254), R.randint(1, 254), R.randint(1, 254), rs(LO + DIG, 14)))), [pw]


@tpl(F)
def _():
    pw = password()
    return ("$ history | tail -4\n  %d  cd ~/src/%s\n  %d  export PASSWORD='%s'\n  %d  ./bin/seed --env staging\n  %d  history | tail -4"
            % (R.randint(100, 900), pick(PROJECTS), R.randint(900, 950), pw, R.randint(951, 980), R.randint(981, 999))), [pw]


@tpl(F)
def _():
    pw = password()
    return ("PGPASSWORD=%s psql -h %s -U %s -d app -c \"select count(*) from users\"\n count\n-------\n %d\n(1 row)"
            % (pw, pick(DBHOSTS), pick(USERS), R.randint(100, 99999))), [pw]


@tpl(F)
def _():
    pw = password()
    return pick(["mysql -u root -p'%s' -h 127.0.0.1 shop < dump.sql", "MYSQL_PWD=%s mysqldump --single-transaction shop > shop.sql"]) % pw, [pw]


@tpl(F)
def _():
    pw = password()
    return ("docker run -d --name pg -e POSTGRES_USER=app -e POSTGRES_PASSWORD=%s -p 5432:5432 postgres:16" % pw), [pw]


@tpl(F)
def _():
    pw, k = password(), rs(ALNUM, 32)
    return ("kubectl create secret generic %s-secrets --from-literal=db-password=%s --from-literal=api-key=%s -n prod" % (pick(PROJECTS), pw, k)), [pw, k]


@tpl(F)
def _():
    ak, sk = aws_akid(), aws_secret()
    return ("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s" % (ak, sk, pick(REGIONS))), [ak, sk]


@tpl(F)
def _():
    t = pick([ghp(), glpat(), xoxb(), anthropic_key(), openai_key(), stripe_live("sk")])
    return pick(["I accidentally committed %s in README.md, how do I purge it from history?",
                 "is `%s` safe to keep in the repo if it's private?"]) % t, [t]

# ======================================================================
# driver
# ======================================================================
TARGETS = [
    ("doc_example", "clean", 29),
    ("encrypted_or_reference", "clean", 28),
    ("option_docs", "clean", 28),
    ("secret_word_identifiers", "clean", 28),
    ("infra_ids", "clean", 29),
    ("plain_session", "clean", 28),
    ("json_escaped", "secret", 25),
    ("key_pairs", "secret", 25),
    ("provider_near_value", "secret", 25),
    ("url_keys", "secret", 25),
    ("code_constants", "secret", 25),
    ("common_vendor", "secret", 25),
]


def build():
    records = []
    seen = set()
    for fam, expect, n in TARGETS:
        tpls = list(REG[fam])
        R.shuffle(tpls)
        i = 0
        made = 0
        tries = 0
        while made < n:
            tries += 1
            if tries > n * 20:
                raise SystemExit("could not produce %d unique cases for %s" % (n, fam))
            f = tpls[i % len(tpls)]
            i += 1
            out = f()
            if isinstance(out, tuple):
                text, secrets = out
            else:
                text, secrets = out, []
            if text in seen:
                continue
            if expect == "clean":
                assert not secrets, fam
            else:
                assert secrets, (fam, f.__name__)
                # dedupe, keep order
                secrets = list(dict.fromkeys(secrets))
            seen.add(text)
            records.append({"family": fam, "expect": expect, "text": text, "secrets": secrets})
            made += 1
    R.shuffle(records)
    out = []
    for k, rec in enumerate(records, 1):
        out.append({"id": "ho-%04d" % k, "family": rec["family"], "expect": rec["expect"],
                    "text": rec["text"], "secrets": rec["secrets"]})
    return out


def validate(path):
    counts = {}
    ids = set()
    with open(path, encoding="utf-8") as fh:
        for ln, line in enumerate(fh, 1):
            obj = json.loads(line)
            assert set(obj) == {"id", "family", "expect", "text", "secrets"}, ln
            assert obj["id"] not in ids, obj["id"]
            ids.add(obj["id"])
            assert obj["expect"] in ("secret", "clean")
            if obj["expect"] == "clean":
                assert obj["secrets"] == [], obj["id"]
            else:
                assert obj["secrets"], obj["id"]
                for s in obj["secrets"]:
                    assert isinstance(s, str) and len(s) >= 8, (obj["id"], s)
                    assert s in obj["text"], (obj["id"], s)
            key = (obj["family"], obj["expect"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "session_heldout.jsonl")
    recs = build()
    with open(path, "w", encoding="utf-8") as fh:
        for r in recs:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = validate(path)
    tot = {"clean": 0, "secret": 0}
    for (fam, exp), c in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print("%-26s %-6s %3d" % (fam, exp, c))
        tot[exp] += c
    print("total: %d (clean %d, secret %d) -> %s" % (sum(tot.values()), tot["clean"], tot["secret"], path))


if __name__ == "__main__":
    main()
