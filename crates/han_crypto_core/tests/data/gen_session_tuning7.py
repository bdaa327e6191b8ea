#!/usr/bin/env python3
"""Generate session_tuning7.jsonl: a seventh tuning set for the secret-redaction engine.

Each line: {"id": "t7-NNNN", "family", "expect": "secret"|"clean", "text", "secrets": [...]}.

Purpose.  This set is about PRECISION: 450 cases, about 330 clean and 120 secret.  The clean
cases are hard negatives in five families (option_docs, infra_ids, identifiers, doc_example,
references): realistic text full of secret words and key-looking strings that holds nothing
secret.  The secret cases put a real-looking secret INSIDE the same kinds of text (a --help
transcript where the user then really ran a command with a password, terraform output that
prints a value not marked sensitive, a kubectl Secret in YAML, a stack trace carrying a
connection string, a grep hit on a hard-coded key, a README env table whose default column
holds a pasted token, a diff adding a literal, ...), so that recall can be checked in the
same surroundings.

How this was written (blind).  Every template below was written from general knowledge of
what command-line help, man pages, configuration files, infrastructure tool output, compiler
and test output, vendor documentation and agent-harness transcripts look like.  The author
read gen_session_tuning6.py only for the JSONL format and the labelling conventions (its
docstring, copied below), only the template/function NAMES of gen_session_tuning.py ..
gen_session_tuning6.py (so as not to repeat their templates, vendors and phrasings), and
docs/REDACTION.md only for the list of families.  The author did NOT open the held-out set
(session_heldout.jsonl / gen_session_heldout.py), did NOT read any Rust source of the engine,
and did NOT run the engine, cargo or any build: only python3 was run, to produce and
self-check this file.  No template was shaped to the engine's rules or tuned against its
findings.

Families (the product spec's bullets):
  secret -- json_escaped        secrets inside JSON-escaped strings (tool results, jsonb)
            key_pairs           ID and SECRET side by side outside an assignment
            provider_near_value a key-shaped value beside a provider's name or a secret word
            url_keys            keys in URL paths and query strings, webhooks, signatures
            code_constants      hex/base64 key constants whose name says key/secret/token/salt
            common_shapes       .env files, connection strings, Authorization headers,
                                --password/-p, docker login, kubectl secrets, well-known
                                token prefixes in varied surroundings
  clean  -- doc_example         vendor-published examples and visibly made-up values
            references          ciphertexts and references to secret stores / templates
            option_docs         --help, man pages, usage strings, config comments, API docs
            identifiers         type/function/test/path/field names containing secret words
            infra_ids           resource ids, ARNs, request ids, hashes, digests, public keys

Secrets.  Every secret is drawn from a seeded PRNG (SEED below) using the alphabet, length
and prefix of the format it imitates; none of them is, or ever was, a real credential.
Labelling conventions (as in gen_session_tuning6.py):
  * pairs: only the secret half is listed -- except AWS (AKIA/ASIA) access key ids, which
    are listed too.  User names, OAuth client ids, key ids, account SIDs, app ids, public
    keys and host names are never listed.
  * user:password (URLs, curl -u, .netrc, connection strings): the password is listed; an
    HTTP Basic value or a docker config `auth` value is listed as the whole base64 string.
  * PEM private keys: the base64 body is listed as it occurs (between the BEGIN and END
    lines).
  * byte-array key constants: the whole list of byte literals between the braces.
  * JSON-escaped text: secrets are listed exactly as they occur (escaped once or twice).
  * IVs, nonces, salts printed by tools, and key fingerprints are not secrets (a salt
    constant hard-coded in source under a name saying salt is listed).
  * webhook URLs: the secret path segment or token is listed, not the whole URL.
A secret case only requires that every listed secret disappears; other redactions in it
are not counted.  A clean case counts as a false positive if anything in it changes.

Decisions specific to this set (a reviewer should know them):
  * Kubernetes Secret `data:` values are listed as the base64 strings as they occur (that is
    what must disappear), not the decoded value.
  * A secret case stored as a tool result (JSON-escaped in a Claude/Codex/Gemini record or
    printed by psql as jsonb) is labelled family json_escaped whatever template produced it;
    clean cases keep their family when stored that way.
  * Public material is clean: certificates, public keys (ssh-*, PUBLIC KEY, PGP public
    blocks, age1 recipients, WireGuard public keys), fingerprints, known_hosts lines and a
    kubeconfig's certificate-authority-data.  Ids that merely look random are clean too:
    Stripe object ids (cus_, ch_, pi_ without _secret_, evt_, req_), AWS resource ids, KMS
    key ids and ARNs, request/trace/span ids, ETags, VersionIds, digests, lock-file hashes.
  * "(sensitive value)", "****", "<password>", "$TOKEN", "${{ secrets.X }}", "op://...",
    ENC[...] and vault blocks are never secrets.
  * doc_example values are only ones the vendor publishes in its docs (AWS ...EXAMPLE keys,
    Stripe's public docs test keys, the jwt.io sample, RFC test vectors, the PostgreSQL
    CREATE ROLE example, JDK's `changeit`, WordPress' "put your unique phrase here", ...)
    or values that are visibly made up (changeme, xxxx, YOUR_TOKEN, REPLACE_ME, dummy,
    fake, example, invalid, sequential hex, all-zero).
  * Texts are 200 B .. 4 KB; no template is used more than 3 times, and repeated uses
    differ in structure (layout, program, wrapping), not only in the random value.

Run (from this folder):  python3 gen_session_tuning7.py > session_tuning7.jsonl
The output is deterministic; a summary and validation go to stderr.
"""
import base64
import hashlib
import json
import random
import re
import string
import struct
import sys
import textwrap
import uuid
import zlib
from collections import Counter, defaultdict
from urllib.parse import quote

SEED = 20270523
R = random.Random(SEED)

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
ALNUM = UP + LO + DG
LOAL = LO + DG
UPAL = UP + DG
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
B32 = UP + "234567"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
CROCK = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PWCH = ALNUM + "!#%*-_.+@^~"


# ---------------------------------------------------------------- basic helpers
def rs(n, a=ALNUM):
    return "".join(R.choice(a) for _ in range(n))


def mixed(n, a=ALNUM):
    """Random string over `a` containing every class (upper, lower, digit) that `a` has."""
    need = [cls for cls in (UP, LO, DG) if any(c in cls for c in a)]
    while True:
        s = rs(n, a)
        if all(any(c in cls for c in s) for cls in need):
            return s


def hx(n):
    while True:
        s = rs(n, HEX)
        if n < 6 or (sum(c in "abcdef" for c in s) >= 2 and sum(c in DG for c in s) >= 2):
            return s


def HX(n):
    return hx(n).upper()


def pick(xs):
    return R.choice(xs)


def picks(xs, k):
    return R.sample(xs, k)


def rint(a, b):
    return R.randint(a, b)


def chance(p):
    return R.random() < p


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def b64e(b):
    return base64.b64encode(b).decode()


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def uid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def uid7():
    ms = epoch_ms()
    v = (ms << 80) | (0x7 << 76) | (R.getrandbits(12) << 64) | (0b10 << 62) | R.getrandbits(62)
    return str(uuid.UUID(int=v))


def ulid():
    return rs(1, "0123456") + rs(25, CROCK)


def objectid():
    return "%08x" % rint(0x65000000, 0x6a000000) + hx(16)


def snowflake():
    return str(rint(1100000000000000000, 1390000000000000000))


def jesc(s):
    """s as it appears inside a JSON string literal."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


def esc(s, depth):
    for _ in range(depth):
        s = jesc(s)
    return s


def sub(tpl, **kw):
    for k, v in kw.items():
        tpl = tpl.replace("@@" + k + "@@", str(v))
    assert not re.search(r"@@[A-Za-z0-9_]+@@", tpl), tpl[:200]
    return tpl


def wrap(s, w=64):
    return "\n".join(s[i:i + w] for i in range(0, len(s), w))


def date(y=None):
    return "%d-%02d-%02d" % (y or pick([2025, 2026, 2026, 2027]), rint(1, 12), rint(1, 28))


def hms():
    return "%02d:%02d:%02d" % (rint(0, 23), rint(0, 59), rint(0, 59))


def ts():
    return "%sT%s.%03dZ" % (date(), hms(), rint(0, 999))


def ts_plain():
    return "%s %s" % (date(), hms())


def epoch():
    return rint(1767000000, 1800000000)


def epoch_ms():
    return epoch() * 1000 + rint(0, 999)


def acct():
    return str(rint(100000000000, 999999999999))


def ver():
    return "%d.%d.%d" % (rint(0, 9), rint(0, 40), rint(0, 20))


def short_sha():
    return hx(7)


def git_sha():
    return hx(40)


def sha256_of(x):
    return hashlib.sha256(x if isinstance(x, bytes) else x.encode()).hexdigest()


def sri(alg="sha512", n=64):
    return "%s-%s" % (alg, b64e(rbytes(n)))


def colon_hex(n, upper=True):
    h = rbytes(n).hex()
    h = h.upper() if upper else h
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-north-1", "eu-central-1", "ap-south-1", "ap-southeast-2",
           "ca-central-1", "me-central-1", "af-south-1"]
GCP_REGIONS = ["europe-west4", "us-central1", "asia-northeast1", "us-east4", "europe-north1"]
AZ_REGIONS = ["westeurope", "eastus2", "uksouth", "swedencentral", "australiaeast"]
ORGS = ["quillstone", "marrowby", "kestrelworks", "palisade", "orrery", "tamarind", "gullwing", "hollowpine",
        "brackenridge", "sundial", "lodestar", "fennel"]
SERVICES = ["invoice-svc", "media-proxy", "scheduler", "tenant-admin", "rates-api", "mailer", "audit-sink",
            "search-indexer", "pdf-render", "webhooks-out", "identity", "quota-keeper"]
USERS = ["dana", "ravi", "sofia", "tomasz", "aiko", "deployer", "build", "svc_etl", "nadia", "femi", "lars", "app"]
NAMES = ["Dana Whitfield", "Ravi Menon", "Sofia Castellanos", "Tomasz Nowak", "Aiko Tanaka", "Nadia Petrova",
         "Femi Okafor", "Lars Holm", "Ines Duarte", "Mateo Rossi"]
REPOS = ["backend", "infra", "portal", "ops-scripts", "ledger", "mobile", "data-pipeline", "monorepo", "gateway"]
DBS = ["orders", "analytics", "app", "crm", "inventory", "billing", "metrics", "wiki"]
TLDS = ["io", "dev", "com", "net", "cloud", "sh"]
BRANCHES = ["main", "develop", "feat/rotate-creds", "fix/login-timeout", "chore/bump-deps", "release/2.14"]


def org():
    return pick(ORGS)


def dom():
    return "%s.%s" % (org(), pick(TLDS))


def user():
    return pick(USERS)


def person():
    return pick(NAMES)


def email():
    return "%s@%s" % (pick(USERS).replace("_", "."), dom())


def svc():
    return pick(SERVICES)


def repo():
    return pick(REPOS)


def region():
    return pick(REGIONS)


def dbname():
    return pick(DBS)


def ip():
    return "10.%d.%d.%d" % (rint(0, 255), rint(0, 255), rint(2, 254))


def pubip():
    return "%d.%d.%d.%d" % (pick([34, 35, 52, 54, 3, 18, 13, 20, 40]), rint(0, 255), rint(0, 255), rint(1, 254))


def dbhost():
    return pick(["db-%s.internal" % pick(["primary", "01", "main"]), ip(),
                 "%s.%s.%s.rds.amazonaws.com" % (dbname(), rs(12, LOAL), region()),
                 "pg-%s.%s.svc.cluster.local" % (rint(0, 2), pick(["data", "db", "platform"])),
                 "mysql.%s" % dom()])


def prompt():
    return pick(["$ ", "% ", "%s@%s:~/%s$ " % (user(), pick(["ws", "laptop", "bastion", "dev-3"]), repo()),
                 "❯ ", "[%s@%s %s]$ " % (user(), pick(["build01", "jump"]), repo()), "bash-5.2$ "])


def sha_img():
    return "sha256:" + hx(64)


def pod_suffix():
    return "%s-%s" % (rs(rint(9, 10), "bcdfghjklmnpqrstvwxz2456789"), rs(5, "bcdfghjklmnpqrstvwxz2456789"))


def ec2_id(p="i"):
    return "%s-0%s" % (p, hx(16))


def aws_req():
    return uid()


# ---------------------------------------------------------------- public material (clean)
def ssh_blob(kind="ed25519"):
    def s(b):
        return struct.pack(">I", len(b)) + b
    if kind == "ed25519":
        return b64e(s(b"ssh-ed25519") + s(rbytes(32)))
    if kind == "rsa":
        n = b"\x00" + bytes([R.getrandbits(8) | 0x80]) + rbytes(255)
        return b64e(s(b"ssh-rsa") + s(b"\x01\x00\x01") + s(n))
    return b64e(s(b"ecdsa-sha2-nistp256") + s(b"nistp256") + s(b"\x04" + rbytes(64)))


def ssh_pub(kind="ed25519", comment=None):
    name = {"ed25519": "ssh-ed25519", "rsa": "ssh-rsa", "ecdsa": "ecdsa-sha2-nistp256"}[kind]
    return "%s %s%s" % (name, ssh_blob(kind), (" " + comment) if comment else "")


def fp_sha256():
    return "SHA256:" + b64e(rbytes(32)).rstrip("=")


def fp_md5():
    return ":".join(rbytes(16).hex()[i:i + 2] for i in range(0, 32, 2))


def pub_pem(kind="ec"):
    if kind == "ed25519":
        der = bytes.fromhex("302a300506032b6570032100") + rbytes(32)
    elif kind == "ec":
        der = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + rbytes(64)
    else:
        der = (bytes.fromhex("30820122300d06092a864886f70d01010105000382010f003082010a0282010100")
               + bytes([R.getrandbits(8) | 0x80]) + rbytes(255) + bytes.fromhex("0203010001"))
    return "-----BEGIN PUBLIC KEY-----\n" + wrap(b64e(der)) + "\n-----END PUBLIC KEY-----"


def cert_pem(n=None):
    n = n or rint(560, 900)
    body = bytes.fromhex("3082") + struct.pack(">H", n + 4) + bytes.fromhex("3082") + struct.pack(">H", n - 300) + \
        bytes.fromhex("a0030201020214") + rbytes(20) + bytes.fromhex("300d06092a864886f70d01010b0500") + rbytes(n - 40)
    return "-----BEGIN CERTIFICATE-----\n" + wrap(b64e(body)) + "\n-----END CERTIFICATE-----"


def pgp_pub_block():
    t = struct.pack(">I", rint(1600000000, 1790000000))
    pkt = b"\x98\x33\x04" + t + b"\x16\x09\x2b\x06\x01\x04\x01\xda\x47\x0f\x01\x01\x07\x40" + rbytes(32)
    uid_s = ("%s <%s>" % (person(), email())).encode()
    pkt += b"\xb4" + bytes([len(uid_s)]) + uid_s + b"\x88\x93\x04\x13\x16\x0a" + rbytes(0x90)
    pkt += b"\xb8\x38\x04" + t + b"\x12\x0a\x2b\x06\x01\x04\x01\x97\x55\x01\x05\x01\x01\x07\x40" + rbytes(40)
    crc = b64e(rbytes(3))
    return ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + wrap(b64e(pkt)) + "\n=" + crc +
            "\n-----END PGP PUBLIC KEY BLOCK-----")


def age_recipient():
    return "age1" + rs(58, BECH)


def wg_pub():
    return b64e(rbytes(32))


def png_b64(w=4, h=4):
    raw = b"".join(b"\x00" + rbytes(w * 3) for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b64e(png)


# ---------------------------------------------------------------- secret shapes (random, never real)
def aws_id(p="AKIA"):
    return p + rs(16, B32)


def aws_secret():
    return mixed(40, ALNUM + "+/")


def aws_session_token():
    return "FwoGZXIvYXdzE" + mixed(rint(280, 330), B64) + "="


def password(n=None, a=PWCH):
    n = n or rint(14, 22)
    while True:
        s = mixed(n, a)
        if a != PWCH or any(c in "!#%*-_.+@^~" for c in s):
            return s


def shellpw(n=None):
    """safe inside single quotes and in URLs without escaping"""
    return password(n, ALNUM + "-_.~!*")


def urlpw(n=None):
    return password(n, ALNUM + "-_.~")


def ghp():
    return "ghp_" + mixed(36)


def gho():
    return "gho_" + mixed(36)


def ghs():
    return "ghs_" + mixed(36)


def github_pat():
    return "github_pat_11" + rs(20, UPAL) + "_" + mixed(59)


def glpat():
    return "glpat-" + mixed(20, ALNUM + "-_")


def glrt():
    return "glrt-" + mixed(20, ALNUM + "-_")


def xoxb():
    return "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 11), rint(10 ** 12, 10 ** 13), mixed(24))


def xoxp():
    return "xoxp-%d-%d-%d-%s" % (rint(10 ** 10, 10 ** 11), rint(10 ** 10, 10 ** 11), rint(10 ** 12, 10 ** 13), hx(32))


def sk_live():
    return "sk_live_51" + mixed(97)


def rk_live():
    return "rk_live_51" + mixed(97)


def whsec():
    return "whsec_" + mixed(32)


def openai_proj():
    return "sk-proj-" + mixed(74, B64URL) + "T3BlbkFJ" + mixed(74, B64URL)


def openai_svcacct():
    return "sk-svcacct-" + mixed(74, B64URL) + "T3BlbkFJ" + mixed(74, B64URL)


def anthropic_key():
    return "sk-ant-api03-" + mixed(93, B64URL) + "AA"


def google_api_key():
    return "AIzaSy" + mixed(33, B64URL)


def gocspx():
    return "GOCSPX-" + mixed(28, B64URL)


def telegram_bot():
    return "%d:AA%s" % (rint(5 * 10 ** 8, 8 * 10 ** 9), mixed(33, B64URL))


def discord_bot():
    return b64u(snowflake().encode()) + "." + mixed(6, B64URL) + "." + mixed(38, B64URL)


def npm_token():
    return "npm_" + mixed(36)


def pypi_token():
    return "pypi-AgEIcHlwaS5vcmc" + mixed(rint(140, 170), B64URL)


def hf_token():
    return "hf_" + mixed(34, UP + LO)


def sendgrid():
    return "SG." + mixed(22, B64URL) + "." + mixed(43, B64URL)


def mailchimp():
    return hx(32) + "-us" + str(rint(2, 21))


def dop():
    return "dop_v1_" + hx(64)


def linear_key():
    return "lin_api_" + mixed(40)


def postman_key():
    return "PMAK-" + hx(24) + "-" + hx(34)


def groq_key():
    return "gsk_" + mixed(52)


def pplx_key():
    return "pplx-" + mixed(48)


def xai_key():
    return "xai-" + mixed(80)


def shpat():
    return "shpat_" + hx(32)


def vault_token():
    return "hvs.CAESI" + mixed(86, B64URL)


def tfc_token():
    return mixed(14) + ".atlasv1." + mixed(67)


def okta_token():
    return "00" + mixed(40, B64URL)


def grafana_sa():
    return "glsa_" + mixed(32) + "_" + hx(8)


def cf_token():
    return mixed(40, ALNUM + "_-")


def sentry_user_token():
    return "sntryu_" + hx(64)


def supabase_pat():
    return "sbp_" + hx(40)


def docker_pat():
    return "dckr_pat_" + mixed(27, B64URL)


def sonar_token():
    return "squ_" + hx(40)


def planetscale_pw():
    return "pscale_pw_" + mixed(43, ALNUM + "_")


def render_key():
    return "rnd_" + mixed(32)


def age_secret():
    return "AGE-SECRET-KEY-1" + rs(58, BECH.upper())


def azure_ad_secret():
    return rs(3, ALNUM) + "8Q~" + mixed(34, ALNUM + "~._-")


def resend_key():
    return "re_" + mixed(8) + "_" + mixed(24)


def airtable_pat():
    return "pat" + mixed(14) + "." + hx(64)


def replicate_token():
    return "r8_" + mixed(37)


def openrouter_key():
    return "sk-or-v1-" + hx(64)


def newrelic_key():
    return "NRAK-" + rs(27, UPAL)


def contentful_pat():
    return "CFPAT-" + mixed(43, B64URL)


def figma_pat():
    return "figd_" + mixed(40, B64URL)


def brevo_key():
    return "xkeysib-" + hx(64) + "-" + mixed(16)


def hubspot_pat():
    return "pat-na1-" + uid()


def ali_id():
    return "LTAI5t" + mixed(18)


def ali_secret():
    return mixed(30)


def square_token():
    return "EAAAE" + mixed(59, B64URL)


def doppler_token():
    return "dp.st." + pick(["prd", "stg", "dev"]) + "." + mixed(40)


def pulumi_token():
    return "pul-" + hx(40)


def tailscale_key():
    return "tskey-auth-k" + mixed(11) + "CNTRL-" + mixed(32)


def ngrok_token():
    return "2" + mixed(26) + "_" + mixed(21)


def notion_token():
    return "ntn_" + rs(11, DG) + mixed(35)


def elevenlabs_key():
    return "sk_" + hx(48)


def posthog_personal():
    return "phx_" + mixed(43)


def mapbox_secret():
    u = b64u(json.dumps({"u": org(), "a": "cl" + rs(23, LOAL)}, separators=(",", ":")).encode())
    return "sk." + u + "." + mixed(22, B64URL)


def datadog_api():
    return hx(32)


def datadog_app():
    return hx(40)


def twilio_token():
    return hx(32)


def jwt_token(claims=None, alg="HS256"):
    h = b64u(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    now = epoch()
    c = {"sub": uid() if chance(0.5) else str(rint(1000, 99999)), "iat": now, "exp": now + pick([900, 3600, 86400])}
    if claims:
        c.update(claims)
    p = b64u(json.dumps(c, separators=(",", ":")).encode())
    return h + "." + p + "." + mixed(43 if alg.startswith("HS") else 342, B64URL)


def basic(u, p):
    return b64e(("%s:%s" % (u, p)).encode())


def pem_body(der_prefix, n):
    return wrap(b64e(bytes.fromhex(der_prefix) + rbytes(n)))


def rsa_pkcs8():
    body = pem_body("308204be020100300d06092a864886f70d0101010500048204a8308204a40201000282010100", 1180)
    return "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----", body


def ec_key():
    raw = bytes.fromhex("30770201010420") + rbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a144034200") + b"\x04" + rbytes(64)
    body = wrap(b64e(raw))
    return "-----BEGIN EC PRIVATE KEY-----\n" + body + "\n-----END EC PRIVATE KEY-----", body


def openssh_key():
    raw = b"openssh-key-v1\x00" + struct.pack(">I", 4) + b"none" + struct.pack(">I", 4) + b"none" + \
        struct.pack(">I", 0) + struct.pack(">I", 1) + struct.pack(">I", 51) + struct.pack(">I", 11) + \
        b"ssh-ed25519" + struct.pack(">I", 32) + rbytes(32) + rbytes(rint(150, 160))
    body = wrap(b64e(raw), 70)
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + body + "\n-----END OPENSSH PRIVATE KEY-----", body


# ---------------------------------------------------------------- storing text the way tool results are stored
def jsonb_dumps(o):
    """Render like PostgreSQL's jsonb output: keys ordered by length then bytes, ', ' and ': '."""
    if isinstance(o, dict):
        ks = sorted(o, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + jsonb_dumps(o[k]) for k in ks) + "}"
    if isinstance(o, list):
        return "[" + ", ".join(jsonb_dumps(x) for x in o) + "]"
    return json.dumps(o, ensure_ascii=False)


def toolu():
    return "toolu_01" + rs(22, ALNUM)


def call_id():
    return "call_" + rs(24, ALNUM)


def cwd():
    return "/home/%s/src/%s" % (user(), repo())


def numbered(text):
    return "\n".join("%6d→%s" % (i, l) for i, l in enumerate(text.split("\n"), 1))


def store(text, cmd, kind=None, multiline_secret=False):
    """Serialise a tool result the way one of several harnesses (or a psql query) stores it.
    Returns (stored_text, escape_depth)."""
    kinds = ["claude_bash", "claude_read", "claude_rec", "codex", "codex_exec", "gemini", "gemini_read",
             "psql_aligned", "psql_at", "psql_x", "openai_msg"]
    if multiline_secret:
        kinds.remove("claude_read")
    kind = kind or pick(kinds)
    if kind == "claude_bash":
        o = {"type": "tool_result", "tool_use_id": toolu(), "content": text, "is_error": False}
        return json.dumps(o, ensure_ascii=False), 1
    if kind == "claude_read":
        o = {"role": "user", "content": [{"tool_use_id": toolu(), "type": "tool_result", "content": numbered(text)}]}
        return json.dumps(o, ensure_ascii=False), 1
    if kind == "claude_rec":
        o = {"parentUuid": uid(), "isSidechain": False, "userType": "external", "cwd": cwd(), "sessionId": uid(),
             "version": "2.%d.%d" % (rint(0, 1), rint(1, 60)), "gitBranch": pick(BRANCHES), "type": "user",
             "message": {"role": "user", "content": [{"tool_use_id": toolu(), "type": "tool_result",
                                                      "content": text, "is_error": False}]},
             "uuid": uid(), "timestamp": ts()}
        return json.dumps(o, ensure_ascii=False), 1
    if kind == "codex":
        inner = json.dumps({"output": text, "metadata": {"exit_code": 0, "duration_seconds": round(R.random() * 3, 1)}},
                           ensure_ascii=False)
        o = {"timestamp": ts(), "type": "response_item",
             "payload": {"type": "function_call_output", "call_id": call_id(), "output": inner}}
        return json.dumps(o, ensure_ascii=False), 2
    if kind == "codex_exec":
        o = {"id": str(rint(1, 400)), "msg": {"type": "exec_command_end", "call_id": call_id(), "stdout": text,
                                               "stderr": "", "exit_code": 0, "duration": {"secs": rint(0, 4), "nanos": rint(0, 999999999)}}}
        return json.dumps(o, ensure_ascii=False), 1
    if kind == "gemini":
        out = "Command: %s\nDirectory: (root)\nOutput: %s\nError: (none)\nExit Code: 0\nSignal: (none)\n" \
              "Background PIDs: (none)\nProcess Group PGID: %d" % (cmd, text, rint(2000, 90000))
        o = {"functionResponse": {"id": "run_shell_command-%d-%s" % (epoch_ms(), hx(12)), "name": "run_shell_command",
                                  "response": {"output": out}}}
        return json.dumps(o, ensure_ascii=False), 1
    if kind == "gemini_read":
        o = {"role": "user", "parts": [{"functionResponse": {"id": "read_file-%d-%s" % (epoch_ms(), hx(12)),
                                                             "name": "read_file", "response": {"output": text}}}]}
        return json.dumps(o, ensure_ascii=False), 1
    if kind == "openai_msg":
        o = {"role": "tool", "tool_call_id": call_id(), "name": pick(["shell", "bash", "run_command", "exec"]),
             "content": text}
        return json.dumps(o, ensure_ascii=False), 1
    payload = {"tool": pick(["Bash", "shell", "Read", "exec_command"]), "output": text,
               "exit_code": 0, "call_id": call_id() if chance(0.5) else toolu()}
    row = jsonb_dumps(payload)
    rid = str(rint(1000, 990000))
    q = "SELECT id, payload FROM %s WHERE session_id = '%s' AND kind = 'tool_result' ORDER BY id DESC LIMIT 1;" % (
        pick(["agent_events", "session_messages", "tool_calls", "transcript_items"]), uid())
    if kind == "psql_at":
        return "$ psql -At -d %s -c \"SELECT payload FROM tool_calls WHERE id = %s\"\n%s" % (
            pick(["sessions", "agentlog", "app_dev"]), rid, row), 1
    if kind == "psql_x":
        return "%s=> \\x\nExpanded display is on.\n%s=> %s\n-[ RECORD 1 ]-----\nid      | %s\npayload | %s\n" % (
            "sessions", "sessions", q, rid, row), 1
    w1 = max(len(rid), 2)
    w2 = len(row)
    head = " " + "id".center(w1) + " | " + "payload".center(w2).rstrip()
    return "%s=> %s\n%s\n-%s-+-%s-\n %s | %s\n(1 row)\n" % ("sessions", q, head, "-" * w1, "-" * min(w2, 60),
                                                          rid.rjust(w1), row), 1


CLEAN_CMDS = ["cat README.md", "sed -n '1,160p' docs/CONFIG.md", "less -FX build.log", "cat /tmp/out.txt",
              "tail -n 120 ci.log", "head -c 4000 notes.md", "kubectl get -o yaml ...", "man -P cat tool"]


# ---------------------------------------------------------------- template registry
REG = []   # (family, expect, name, fn, max_uses)


def clean(family, uses=1):
    def deco(fn):
        REG.append((family, "clean", fn.__name__, fn, uses))
        return fn
    return deco


def secret(family, uses=1):
    def deco(fn):
        REG.append((family, "secret", fn.__name__, fn, uses))
        return fn
    return deco


def run_line(cmd):
    return prompt() + cmd + "\n"


def maybe_prompt(cmd, p=0.6):
    return run_line(cmd) if chance(p) else ""


def cols(rows, gap=2, indent=2, width=None):
    """Two-column help layout: flags padded to the widest (or to `width`)."""
    w = width or max(len(a) for a, _ in rows) + gap
    out = []
    for a, b in rows:
        if len(a) + gap > w:
            out.append(" " * indent + a)
            out.append(" " * (indent + w) + b)
        else:
            out.append(" " * indent + a.ljust(w) + b)
    return "\n".join(out)


def md_table(head, rows):
    ws = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(ws[i]) for i, c in enumerate(r)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in ws) + "|"] + [line(r) for r in rows])


def man_opt(flag, desc, ind=7, w=72):
    body = textwrap.fill(desc, width=w - ind - 7, initial_indent=" " * (ind + 7), subsequent_indent=" " * (ind + 7))
    return " " * ind + flag + "\n" + body


def man_head(name, sec="1"):
    t = "%s(%s)" % (name.upper(), sec)
    mid = pick(["User Commands", "General Commands Manual", "System Administration", "File Formats Manual"])
    return t + mid.center(max(10, 78 - 2 * len(t))) + t


def man_foot(name, v=None):
    return "%s %s%s%s(1)" % (name, v or ver(), " " * 20, date()[:7].replace("-", " "))


# ================================================================= option_docs (clean)
@clean("option_docs", uses=2)
def od_swaks_help():
    v = "%s" % pick(["20240103.0", "20201014.0", "20190914.0"])
    rows = [("-t, --to <recipient>", "envelope recipient(s), comma-separated"),
            ("-f, --from <sender>", "envelope sender (default: $LOGNAME@$HOSTNAME)"),
            ("-s, --server <host[:port]>", "server to deliver to (default: MX lookup)"),
            ("-p, --port <port>", "port to connect to"),
            ("-tls", "require STARTTLS"), ("-tlsc, --tls-on-connect", "TLS from the first byte (smtps)"),
            ("-a, --auth [<type>[,<type>...]]", "require SMTP AUTH; types: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 NTLM"),
            ("-au, --auth-user [<user>]", "username for AUTH"),
            ("-ap, --auth-password [<password>]", "password for AUTH (prompted if no argument given)"),
            ("-ahp, --auth-hide-password [<string>]", "replace the password in the transcript with <string>"),
            ("-am, --auth-map <type>=<name>", "map an AUTH name to a different type"),
            ("--protect-prompt", "don't echo a password typed at the prompt"),
            ("-d, --data <data>", "use <data> as the DATA portion (or @file)")]
    if chance(0.5):
        rows = rows[:3] + picks(rows[3:], 7)
    out = maybe_prompt("swaks --help | sed -n '1,40p'")
    out += "swaks version %s\n\nUsage: swaks [--help|--version] (see --help for details)\n\n" % v
    out += "Transport options:\n" + cols(rows[:6]) + "\n\nAuth options:\n" + cols(rows[6:]) + "\n\n"
    out += ("Passwords may also be read from a file with --auth-password @/path/to/file, or from the\n"
            "environment as SWAKS_OPT_auth_password.  Use --auth-hide-password when pasting output\n"
            "into a ticket: the AUTH exchange is otherwise printed base64-encoded, which is not secret.\n")
    return out


@clean("option_docs")
def od_mysqldump_conn_options():
    rows = [("-h, --host=name", "Connect to host."), ("-P, --port=#", "Port number to use for connection."),
            ("-u, --user=name", "User for login if not current user."),
            ("-p, --password[=name]", "Password to use when connecting to server. If password is not given it's solicited on the tty."),
            ("--login-path=name", "Read this path from the login file."),
            ("--default-auth=plugin", "Default authentication client-side plugin to use."),
            ("--ssl-mode=name", "SSL connection mode."), ("--ssl-key=name", "X509 key in PEM format."),
            ("--ssl-cert=name", "X509 cert in PEM format."),
            ("--get-server-public-key", "Get server public key"),
            ("--server-public-key-path=name", "File path to the server public RSA key in PEM format."),
            ("--single-transaction", "Creates a consistent snapshot by dumping all tables in a single transaction."),
            ("--set-gtid-purged[=name]", "Add 'SET @@GLOBAL.GTID_PURGED' to the output. Possible values: OFF, ON, AUTO, COMMENTED")]
    body = "\n".join("  %-32s %s" % r if len(r[0]) < 32 else "  %s\n  %-32s %s" % (r[0], "", r[1]) for r in rows)
    return (maybe_prompt("mysqldump --help | grep -A1 -E 'host|user|password|ssl|login-path|public-key'") +
            "mysqldump  Ver %d.%d.%d for Linux on x86_64 (MySQL Community Server - GPL)\n" % (8, rint(0, 4), rint(20, 40)) +
            "Usage: mysqldump [OPTIONS] database [tables]\nOR     mysqldump [OPTIONS] --databases [OPTIONS] DB1 [DB2 DB3...]\n"
            "OR     mysqldump [OPTIONS] --all-databases [OPTIONS]\n\n" + body +
            "\n\nDefault options are read from the following files in the given order:\n"
            "/etc/my.cnf /etc/mysql/my.cnf /usr/etc/my.cnf ~/.my.cnf\n")


@clean("option_docs", uses=2)
def od_pgcli_help():
    rows = [("-h, --host TEXT", "Host address of the postgres database."),
            ("-p, --port INTEGER", "Port number at which the postgres instance is listening."),
            ("-U, --username TEXT", "Username to connect to the postgres database."),
            ("-u, --user TEXT", "Username to connect to the postgres database."),
            ("-W, --password", "Force password prompt."),
            ("-w, --no-password", "Never prompt for password."),
            ("--single-connection", "Do not use a separate connection for completions."),
            ("-v, --version", "Version of pgcli."), ("-d, --dbname TEXT", "database name to connect to."),
            ("--pgclirc FILE", "Location of pgclirc file."),
            ("-D, --dsn TEXT", "Use DSN configured into the [alias_dsn] section of pgclirc file."),
            ("--list-dsn", "list of DSN configured into the [alias_dsn] section of pgclirc file."),
            ("--ssh-tunnel TEXT", "Open an SSH tunnel to the given address and connect to the database from it."),
            ("--help", "Show this message and exit.")]
    if chance(0.5):
        return (maybe_prompt("pgcli --help") + "Usage: pgcli [OPTIONS] [DBNAME] [USERNAME]\n\nOptions:\n" +
                cols(rows, width=26) + "\n")
    tbl = md_table(["Option", "What it does"], [("`%s`" % a, b) for a, b in rows if "TEXT" in a or "password" in a])
    return ("## Connecting with pgcli\n\npgcli reads the same `PGPASSWORD` / `~/.pgpass` as psql, so you normally never pass a\n"
            "password on the command line. If neither is set it prompts (`-W` forces the prompt).\n\n" + tbl +
            "\n\nExample: `pgcli -h localhost -U %s %s` (you'll be asked for the password).\n" % (user(), dbname()))


@clean("option_docs")
def od_usql_help():
    return (maybe_prompt("usql --help") +
            "usql, the universal command-line interface for SQL databases\n\n"
            "Usage:\n  usql [flags]... [DSN]\n\nArguments:\n  DSN                            database url or connection name\n\n"
            "Flags:\n"
            "  -c, --command COMMAND          run only single command (SQL or internal) and exit\n"
            "  -f, --file FILE                execute commands from file and exit\n"
            "  -w, --no-password              never prompt for password\n"
            "  -X, --no-init                  do not execute initialization scripts (aliases: --no-rc --no-psqlrc --no-usqlrc)\n"
            "  -o, --out FILE                 output file\n"
            "  -W, --password                 force password prompt (should happen automatically)\n"
            "  -1, --single-transaction       execute as a single transaction (if non-interactive)\n"
            "  -v, --set NAME=VALUE           set variable NAME to VALUE (see \\set command, aliases: --var --variable)\n"
            "  -N, --cset NAME=DSN            set named connection NAME to DSN (see \\cset command)\n"
            "      --config string            config file\n"
            "  -V, --version                  output version information, then exit\n"
            "  -?, --help                     show this help, then exit\n\n"
            "DSN examples (the password part is optional; omit it and usql will prompt):\n"
            "  pg://user:pass@localhost/dbname\n  my://user@host/dbname\n  sqlserver://user:pass@host/instance\n"
            "  sq:/path/to/file.db\n")


@clean("option_docs")
def od_cypher_shell_help():
    return (maybe_prompt("cypher-shell --help") +
            "usage: cypher-shell [-h] [-a ADDRESS] [-u USERNAME] [--impersonate IMPERSONATE] [-p PASSWORD]\n"
            "                    [--encryption {true,false,default}] [-d DATABASE] [--format {auto,verbose,plain}]\n"
            "                    [--fail-fast | --fail-at-end] [--non-interactive] [--sample-rows SAMPLE-ROWS]\n"
            "                    [--wrap {true,false}] [-v] [--driver-version] [-f FILE] [--change-password]\n"
            "                    [--log [LOG-FILE]] [cypher]\n\n"
            "A command line shell where you can execute Cypher against an instance of Neo4j. By default the shell is\n"
            "interactive but you can use it for scripting by passing cypher directly on the command line or by piping a\n"
            "file with cypher statements (requires Powershell on Windows).\n\n"
            "connection arguments:\n"
            "  -a ADDRESS, --address ADDRESS, --uri ADDRESS\n"
            "                         address and port to connect to, defaults to neo4j://localhost:7687. Can also be\n"
            "                         specified using environment variable NEO4J_ADDRESS or NEO4J_URI\n"
            "  -u USERNAME, --username USERNAME\n"
            "                         username to connect as. Can also be specified using environment variable\n"
            "                         NEO4J_USERNAME (default: )\n"
            "  -p PASSWORD, --password PASSWORD\n"
            "                         password to connect with. Can also be specified using environment variable\n"
            "                         NEO4J_PASSWORD (default: )\n"
            "  --change-password, -P  change neo4j user password and exit\n")


@clean("option_docs")
def od_trino_cli_help():
    return (maybe_prompt("trino --help | head -40") +
            "Usage: trino [-hV] [--debug] [--disable-auto-suggestion] [--ignore-errors] [--insecure] [--password]\n"
            "             [--progress] [--external-authentication] [--kerberos-use-canonical-hostname]\n"
            "             [--access-token=<accessToken>] [--catalog=<catalog>] [--user=<user>]\n"
            "             [--keystore-path=<keystorePath>] [--keystore-password=<keystorePassword>]\n"
            "             [--truststore-path=<truststorePath>] [--truststore-password=<truststorePassword>] [server]\n"
            "Trino command line interface\n"
            "      [server]              Trino server URL (default: localhost:8080)\n"
            "      --access-token=<accessToken>\n"
            "                            Access token\n"
            "      --password            Prompt for password\n"
            "      --keystore-password=<keystorePassword>\n"
            "                            Keystore password\n"
            "      --truststore-password=<truststorePassword>\n"
            "                            Truststore password\n"
            "      --user=<user>         Username (default: ${sys:user.name})\n"
            "      --external-authentication\n"
            "                            Enable external authentication\n\n"
            "The password for --password is read from the TRINO_PASSWORD environment variable when it\n"
            "is set; otherwise the CLI prompts for it.\n")


@clean("option_docs")
def od_beeline_help():
    return (maybe_prompt("beeline --help 2>&1 | head -30") +
            "Usage: java org.apache.hive.cli.beeline.BeeLine \n"
            "   -u <database url>               the JDBC URL to connect to\n"
            "   -c <named url>                  the named JDBC URL to connect to,\n"
            "                                   which should be present in beeline-site.xml\n"
            "                                   as the value of beeline.hs2.jdbc.url.<namedUrl>\n"
            "   -r                              reconnect to last saved connect url (in conjunction with !save)\n"
            "   -n <username>                   the username to connect as\n"
            "   -p <password>                   the password to connect as\n"
            "   -d <driver class>               the driver class to use\n"
            "   -i <init file>                  script file for initialization\n"
            "   -e <query>                      query that should be executed\n"
            "   -f <exec file>                  script file that should be executed\n"
            "   -w (or) --password-file <password file>  the password file to read password from\n"
            "   --hiveconf property=value       Use value for given property\n"
            "   --hivevar name=value            hive variable name and value\n"
            "   --property-file=<property-file> the file to read connection properties (url, driver, user, password) from\n")


@clean("option_docs")
def od_redis_benchmark_help():
    return (maybe_prompt("redis-benchmark --help") +
            "Usage: redis-benchmark [OPTIONS] [COMMAND ARGS...]\n\nOptions:\n"
            " -h <hostname>      Server hostname (default 127.0.0.1)\n"
            " -p <port>          Server port (default 6379)\n"
            " -s <socket>        Server socket (overrides host and port)\n"
            " -a <password>      Password for Redis Auth\n"
            " --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.\n"
            " -u <uri>           Server URI on format redis://user:password@host:port/dbnum\n"
            "                    User, password and dbnum are optional. For authentication\n"
            "                    without a username, use username 'default'. For TLS, use\n"
            "                    the scheme 'rediss'.\n"
            " -c <clients>       Number of parallel connections (default 50).\n"
            " -n <requests>      Total number of requests (default 100000)\n"
            " -d <size>          Data size of SET/GET value in bytes (default 3)\n"
            " --dbnum <db>       SELECT the specified db number (default 0)\n"
            " --tls              Establish a secure TLS connection.\n"
            " --cacert <file>    CA Certificate file to verify with.\n"
            " --key <file>       Private key file to authenticate with.\n"
            " -q                 Quiet. Just show query/sec values\n"
            "\nWarning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n"
            "Use REDISCLI_AUTH in the environment instead.\n")


@clean("option_docs")
def od_memtier_help():
    return (maybe_prompt("memtier_benchmark --help | sed -n '1,30p'") +
            "Usage: memtier_benchmark [options]\nA memcache/redis NoSQL traffic generator and performance benchmarking tool.\n\n"
            "Connection and General Options:\n"
            "  -s, --server=ADDR              Server address (default: localhost)\n"
            "  -p, --port=PORT                Server port (default: 6379)\n"
            "  -S, --unix-socket=SOCKET       UNIX Domain socket name (default: none)\n"
            "  -P, --protocol=PROTOCOL        Protocol to use (default: redis).\n"
            "                                 other supported protocols are resp2, resp3, memcache_text and memcache_binary.\n"
            "  -a, --authenticate=CREDENTIALS Authenticate using specified credentials.\n"
            "                                 A simple password is used for memcache_text\n"
            "                                 and Redis <= 5.x. <USER>:<PASSWORD> can be\n"
            "                                 specified for memcache_binary or Redis 6.x\n"
            "                                 or newer with ACL user support.\n"
            "      --tls                      Enable SSL/TLS transport security\n"
            "      --cert=FILE                Use specified client certificate for TLS\n"
            "      --key=FILE                 Use specified private key for TLS\n"
            "      --cacert=FILE              Use specified CA certs bundle for TLS\n"
            "      --tls-skip-verify          Skip verification of server certificate\n"
            "      --sni=STRING               Add an SNI header\n")


@clean("option_docs", uses=2)
def od_load_tester_help():
    tool = pick(["hey", "oha", "vegeta", "bombardier", "wrk", "siege"])
    if tool == "hey":
        t = ("Usage: hey [options...] <url>\n\nOptions:\n"
             "  -n  Number of requests to run. Default is 200.\n"
             "  -c  Number of workers to run concurrently. Default is 50.\n"
             "  -q  Rate limit, in queries per second (QPS) per worker. Default is no rate limit.\n"
             "  -z  Duration of application to send requests.\n"
             "  -m  HTTP method, one of GET, POST, PUT, DELETE, HEAD, OPTIONS.\n"
             "  -H  Custom HTTP header. You can specify as many as needed by repeating the flag.\n"
             "      For example, -H \"Accept: text/html\" -H \"Content-Type: application/xml\" .\n"
             "  -t  Timeout for each request in seconds. Default is 20, use 0 for infinite.\n"
             "  -A  HTTP Accept header.\n  -d  HTTP request body.\n  -D  HTTP request body from file.\n"
             "  -a  Basic authentication, username:password.\n"
             "  -x  HTTP Proxy address as host:port.\n  -h2 Enable HTTP/2.\n")
    elif tool == "oha":
        t = ("Ohayou(おはよう), HTTP load generator, inspired by rakyll/hey with tui animation.\n\n"
             "Usage: oha [OPTIONS] <URL>\n\nArguments:\n  <URL>  Target URL.\n\nOptions:\n"
             "  -n <N_REQUESTS>              Number of requests to run. [default: 200]\n"
             "  -c <N_CONNECTIONS>           Number of connections to run concurrently. [default: 50]\n"
             "  -z <DURATION>                Duration of application to send requests.\n"
             "  -q <QUERY_PER_SECOND>        Rate limit for all, in queries per second (QPS)\n"
             "  -H <HEADERS>                 Custom HTTP header. Examples: -H \"foo: bar\"\n"
             "  -a <BASIC_AUTH>              Basic authentication, username:password\n"
             "      --insecure               Accept invalid certs.\n"
             "      --http2                  Use HTTP/2. Shorthand for --http-version=2\n"
             "  -d <BODY_STRING>             HTTP request body.\n"
             "  -h, --help                   Print help\n  -V, --version                Print version\n")
    elif tool == "vegeta":
        t = ("Usage: vegeta attack [flags]\n\nattack command:\n"
             "  -body string\n        Requests body file\n"
             "  -cert string\n        TLS client PEM encoded certificate file\n"
             "  -duration duration\n        Duration of the test [0 = forever]\n"
             "  -header value\n        Request header\n"
             "  -key string\n        TLS client PEM encoded private key file\n"
             "  -rate value\n        Number of requests per time unit [0 = infinity] (default 50/1s)\n"
             "  -root-certs value\n        TLS root certificate files (comma separated list)\n"
             "  -targets string\n        Targets file (default \"stdin\")\n"
             "\nexamples:\n  echo \"GET http://localhost/\" | vegeta attack -duration=5s | tee results.bin | vegeta report\n"
             "  vegeta attack -targets=targets.txt -header=\"Authorization: Bearer $TOKEN\" > results.bin\n")
    elif tool == "bombardier":
        t = ("usage: bombardier [<flags>] <url>\n\nFast cross-platform HTTP benchmarking tool\n\nFlags:\n"
             "      --help                  Show context-sensitive help\n"
             "  -c, --connections=125       Maximum number of concurrent connections\n"
             "  -d, --duration=10s          Duration of test\n"
             "  -n, --requests=[pos. int.]  Number of requests\n"
             "  -H, --header=\"K: V\" ...     HTTP headers to use(can be repeated)\n"
             "  -k, --insecure              Controls whether a client verifies the server's certificate chain and host name\n"
             "      --cert=\"\"               Path to the client's TLS Certificate\n"
             "      --key=\"\"                Path to the client's TLS Certificate Private Key\n"
             "  -b, --body=\"\"               Request body\n")
    elif tool == "wrk":
        t = ("Usage: wrk <options> <url>\n  Options:\n"
             "    -c, --connections <N>  Connections to keep open\n"
             "    -d, --duration    <T>  Duration of test\n"
             "    -t, --threads     <N>  Number of threads to use\n\n"
             "    -s, --script      <S>  Load Lua script file\n"
             "    -H, --header      <H>  Add header to request\n"
             "        --latency          Print latency statistics\n"
             "        --timeout     <T>  Socket/request timeout\n"
             "    -v, --version          Print version details\n\n"
             "  Numeric arguments may include a SI unit (1k, 1M, 1G)\n  Time arguments may include a time unit (2s, 2m, 2h)\n"
             "\n  -- auth.lua --\n  wrk.headers[\"Authorization\"] = \"Bearer \" .. os.getenv(\"API_TOKEN\")\n")
    else:
        t = ("SIEGE 4.1.6\nUsage: siege [options]\n       siege [options] URL\n       siege -g URL\nOptions:\n"
             "  -V, --version             VERSION, prints the version number.\n"
             "  -c, --concurrent=NUM      CONCURRENT users, default is 10\n"
             "  -r, --reps=NUM            REPS, number of times to run the test.\n"
             "  -t, --time=NUMm           TIMED testing where \"m\" is modifier S, M, or H\n"
             "  -H, --header=\"text\"       Add a header to request (can be many)\n"
             "  -A, --user-agent=\"text\"   Sets User-Agent in request\n"
             "  -T, --content-type=\"text\" Sets Content-Type in request\n\n"
             "Authentication lives in ~/.siege/siege.conf:\n  # login = jdfulmer:topsecret:Admin   <- format user:password:realm\n"
             "  # login = \n")
    return maybe_prompt("%s %s" % (tool, pick(["-h", "--help"]))) + t


@clean("option_docs")
def od_xh_help():
    return (maybe_prompt("xh --help | sed -n '/Authentication/,/^$/p;1,12p'") +
            "xh is a friendly and fast tool for sending HTTP requests.\n\n"
            "Usage: xh [OPTIONS] <[METHOD] URL> [REQUEST_ITEM]...\n\n"
            "Options:\n"
            "  -A, --auth-type <AUTH_TYPE>     Specify the auth mechanism [possible values: basic, bearer, digest]\n"
            "  -a, --auth <USER[:PASS] | TOKEN>\n"
            "          Authenticate as USER with PASS (-A basic|digest) or with TOKEN (-A bearer).\n"
            "          PASS will be prompted if missing. Use a trailing colon (i.e. \"USER:\") to authenticate with\n"
            "          just a username.\n"
            "          TOKEN is expected if --auth-type=bearer.\n"
            "      --bearer <TOKEN>            Authenticate with a bearer token\n"
            "      --ignore-netrc              Do not use credentials from .netrc\n"
            "      --offline                   Construct HTTP requests without sending them anywhere\n"
            "      --cert <FILE>               Use a client side certificate for SSL\n"
            "      --cert-key <FILE>           A private key file to use with --cert\n\n"
            "Each option can be reset with a --no-OPTION argument.\n")


@clean("option_docs")
def od_hurl_secret_flag():
    return (maybe_prompt("hurl --help | grep -B1 -A2 -E 'secret|variable|user'") +
            "      --secret <NAME=VALUE>\n"
            "          Define a variable which value is secret\n"
            "      --variable <NAME=VALUE>\n"
            "          Define a variable\n"
            "      --variables-file <FILE>\n"
            "          Define a properties file in which you define your variables\n"
            "  -u, --user <USER:PASSWORD>\n"
            "          Add basic Authentication header to each request\n"
            "      --netrc-file <FILE>\n"
            "          Specify FILE for .netrc\n\n"
            "# From the docs: secrets are redacted from logs and reports.\n"
            "#   $ hurl --secret token=$API_TOKEN --test api.hurl\n"
            "#   GET https://api.example.org/orders\n"
            "#   Authorization: Bearer {{token}}\n"
            "# Variables can also come from HURL_VARIABLE_<name> / HURL_SECRET_<name> environment variables.\n")


@clean("option_docs")
def od_grpcurl_help():
    return (maybe_prompt("grpcurl -help 2>&1 | grep -A3 -E '^  -(H|cert|key|cacert|rpc-header|reflect-header|authority)'") +
            "  -H value\n    \tAdditional headers in 'name: value' format. May specify more than one\n"
            "    \tvia multiple flags. These headers will also be included in reflection\n"
            "    \trequests to a server.\n"
            "  -authority string\n    \tThe authoritative name of the remote server. This value is passed as the\n"
            "    \tvalue of the \":authority\" pseudo-header in the HTTP/2 protocol.\n"
            "  -cacert string\n    \tFile containing trusted root certificates for verifying the server.\n"
            "  -cert string\n    \tFile containing client certificate (public key), to present to the\n"
            "    \tserver. Not valid with -plaintext option. Must also provide -key option.\n"
            "  -key string\n    \tFile containing client private key, to present to the server. Not valid\n"
            "    \twith -plaintext option. Must also provide -cert option.\n"
            "  -rpc-header value\n    \tAdditional RPC headers in 'name: value' format. May specify more than\n"
            "    \tone via multiple flags. These headers will *only* be used when invoking\n"
            "    \tthe requested RPC method. They are excluded from reflection requests.\n"
            "\nexample: grpcurl -H \"authorization: Bearer ${TOKEN}\" -d '{\"id\": 1}' api.%s:443 %s.v1.Orders/Get\n" % (dom(), org()))


@clean("option_docs")
def od_tsh_login_help():
    return (maybe_prompt("tsh login --help") +
            "usage: tsh login [<flags>] [<cluster>]\n\nLog in to a cluster and retrieve the session certificate.\n\nFlags:\n"
            "      --proxy               Teleport proxy address ($TELEPORT_PROXY)\n"
            "      --user                Teleport user, defaults to current local user ($TELEPORT_USER)\n"
            "      --auth                Specify the name of authentication connector to use. ($TELEPORT_AUTH)\n"
            "      --ttl                 Minutes to live for a session\n"
            "      --identity, -i        Identity file\n"
            "      --format              Identity format: file, openssh, tls, kubernetes, db, windows, mongodb, cockroachdb, redis, snowflake, elasticsearch, cassandra, scylla, oracle (default file)\n"
            "      --out, -o             Identity output\n"
            "      --request-reason      Reason for requesting additional roles\n"
            "      --mfa-mode            Preferred mode for MFA and Passwordless assertions (auto, cross-platform, platform, otp)\n"
            "      --headless            Use headless login. Shorthand for --auth=headless.\n"
            "      --pwdless             Use Passwordless authentication\n\n"
            "Note: tsh never accepts a password as a flag. Local-user passwords and OTP codes are\n"
            "always read from the terminal.\n")


@clean("option_docs")
def od_ssh_copy_id_usage():
    return (run_line("ssh-copy-id -h") +
            "Usage: /usr/bin/ssh-copy-id [-h|-?|-f|-n|-s|-x] [-i [identity_file]] [-t target_path] [-F ssh_config] "
            "[[-o ssh_option] ...] [-p port] [user@]hostname\n"
            "\t-f: force mode -- copy keys without trying to check if they are already installed\n"
            "\t-n: dry run    -- no keys are actually copied\n"
            "\t-s: use sftp   -- use sftp instead of executing remote-commands. Can be useful if the remote only allows sftp\n"
            "\t-x: debug      -- enables -x in this shell, for debugging\n"
            "\t-h|-?: print this help\n\n"
            "The identity file is the PUBLIC half (~/.ssh/id_ed25519.pub); the private key is never sent.\n"
            "If password authentication is needed for the first copy, ssh asks for it interactively:\n"
            "  %s@%s's password:\n" % (user(), ip()))


@clean("option_docs")
def od_openstack_auth_opts():
    rows = [("--os-auth-url <auth-auth-url>", "Authentication URL (Env: OS_AUTH_URL)"),
            ("--os-username <auth-username>", "Username (Env: OS_USERNAME)"),
            ("--os-password <auth-password>", "User's password (Env: OS_PASSWORD)"),
            ("--os-token <auth-token>", "Token to authenticate with (Env: OS_TOKEN)"),
            ("--os-application-credential-id <auth-application-credential-id>", "Application credential ID (Env: OS_APPLICATION_CREDENTIAL_ID)"),
            ("--os-application-credential-secret <auth-application-credential-secret>", "Application credential authentication secret (Env: OS_APPLICATION_CREDENTIAL_SECRET)"),
            ("--os-project-name <auth-project-name>", "Project name to scope to (Env: OS_PROJECT_NAME)"),
            ("--os-user-domain-name <auth-user-domain-name>", "Domain name of the user (Env: OS_USER_DOMAIN_NAME)"),
            ("--os-cloud <cloud-config-name>", "Cloud name in clouds.yaml (Env: OS_CLOUD)")]
    out = maybe_prompt("openstack --help | grep -A1 -E 'os-(auth-url|username|password|token|application|project-name|user-domain|cloud) '")
    for a, b in rows:
        out += "  %s\n                        %s\n" % (a, b)
    out += ("\nPrefer clouds.yaml + secure.yaml over passing --os-password: secure.yaml keeps the password\n"
            "out of the shell history (auth: {password: ...} lives there, chmod 600).\n")
    return out


@clean("option_docs")
def od_swiftclient_help():
    return (maybe_prompt("swift --help | sed -n '1,40p'") +
            "usage: swift [--version] [--help] [--os-help] [--snet] [--verbose]\n"
            "             [--debug] [--info] [--quiet] [--auth <auth_url>]\n"
            "             [--auth-version <auth_version> |\n"
            "                 --os-identity-api-version <auth_version> ]\n"
            "             [--user <username>]\n"
            "             [--key <api_key>] [--retries <num_retries>]\n"
            "             [--os-username <auth-user-name>]\n"
            "             [--os-password <auth-password>]\n"
            "             [--os-auth-token <auth-token>]\n"
            "             [--os-storage-url <storage-url>]\n"
            "             <subcommand> [--help] [<subcommand options>]\n\n"
            "  -A AUTH, --auth=AUTH  URL for obtaining an auth token.\n"
            "  -U USER, --user=USER  User name for obtaining an auth token.\n"
            "  -K KEY, --key=KEY     Key for obtaining an auth token.\n\n"
            "Environment:  ST_AUTH, ST_USER and ST_KEY are used when -A/-U/-K are not given.\n")


@clean("option_docs")
def od_aliyun_configure_help():
    return (maybe_prompt("aliyun configure --help") +
            "Usage:\n  aliyun configure --mode {AK|StsToken|RamRoleArn|EcsRamRole|RsaKeyPair|RamRoleArnWithRoleName|ChainableRamRoleArn|CredentialsURI|OIDC|CloudSSO} --profile <profileName>\n\n"
            "Flags:\n"
            "  --mode                  use `--mode {AK|StsToken|...}` to assign authentication mode\n"
            "  --profile,-p            use `--profile <profileName>` to select profile\n"
            "  --access-key-id         assign AccessKeyId, required in AK/StsToken/RamRoleArn mode\n"
            "  --access-key-secret     assign AccessKeySecret, required in AK/StsToken/RamRoleArn mode\n"
            "  --sts-token             assign StsToken\n"
            "  --ram-role-name         assign RamRoleName\n"
            "  --ram-role-arn          assign RamRoleArn\n"
            "  --role-session-name     assign RoleSessionName\n"
            "  --private-key           assign RSA PrivateKey\n"
            "  --key-pair-name         assign KeyPairName\n"
            "  --region                use `--region <regionId>` to assign region\n\n"
            "Interactive mode (recommended) prompts for each value:\n"
            "  Access Key Id []: \n  Access Key Secret []: \n  Default Region Id []: cn-hangzhou\n")


@clean("option_docs")
def od_oclif_heroku_token_help():
    cli, topic = pick([("heroku", "auth:token"), ("heroku", "authorizations:create"), ("sf", "org login access-token")])
    return (maybe_prompt("%s %s --help" % (cli, topic)) +
            "%s\n\nUSAGE\n  $ %s %s [-h]%s\n\nFLAGS\n" % (
                "outputs current CLI authentication token." if "token" in topic else "create a new OAuth authorization",
                cli, topic, " [-d <value>] [-s <value>] [-e <value>]" if "create" in topic else "") +
            ("  -d, --description=<value>  set a custom authorization\n"
             "  -e, --expires-in=<value>   set expiration in seconds (default no expiration)\n"
             "  -s, --scope=<value>        set custom OAuth scopes\n" if "create" in topic else
             "  -h, --help  show CLI help\n") +
            "\nDESCRIPTION\n  By default, the CLI auth token is only valid for 1 year. To generate a long-lived token, use\n"
            "  %s authorizations:create\n\nEXAMPLES\n  $ %s %s\n  <token printed here>\n" % (cli, cli, topic))


@clean("option_docs")
def od_netlify_global_flags():
    return (maybe_prompt("netlify deploy --help | tail -20") +
            "OPTIONS\n"
            "  --auth <token>       Netlify auth token - can be used to run this command without logging in\n"
            "  --site <name-or-id>  A project name or ID to deploy to\n"
            "  --dir <path>         Specify a folder to deploy\n"
            "  --prod               Deploy to production\n"
            "  --alias <name>       Specifies the alias for deployment\n"
            "  --debug              Print debugging information\n\n"
            "EXAMPLES\n  netlify deploy\n  netlify deploy --prod\n  netlify deploy --site my-first-project\n"
            "  NETLIFY_AUTH_TOKEN=... netlify deploy --prod --dir=dist   # in CI, set the token as a masked secret\n")


@clean("option_docs")
def od_smbpasswd_help():
    return (run_line("smbpasswd -h") +
            "When run by root:\n    smbpasswd [options] [username]\notherwise:\n    smbpasswd [options]\n\noptions:\n"
            "  -L                   local mode (must be first option)\n"
            "  -h                   print this usage message\n"
            "  -s                   use stdin for password prompt\n"
            "  -c smb.conf file     Use the given path to the smb.conf file\n"
            "  -D LEVEL             debug level\n"
            "  -r MACHINE           remote machine\n"
            "  -U USER              remote username (e.g. SAM/user)\n"
            "extra options when run by root or in local mode:\n"
            "  -a                   add user\n  -d                   disable user\n  -e                   enable user\n"
            "  -i                   interdomain trust account\n  -m                   machine trust account\n"
            "  -n                   set no password\n"
            "  -W                   use stdin ldap admin password\n"
            "  -w PASSWORD          ldap admin password\n"
            "  -x                   delete user\n  -R ORDER             name resolve order\n")


@clean("option_docs")
def od_net_ads_join_man():
    return ("   ADS JOIN [--no-dns-updates] [-U username[%password]] [createupn=UPN] [createcomputer=OU]\n"
            "       [machinepass=PASS] [osName=string osVer=string] [options]\n\n"
            "       Join a remote computer to the domain.\n\n"
            "       UPN (ADS only) set the principalname attribute during the join. The default format is\n"
            "       host/netbiosname@REALM.\n\n"
            "       OU (ADS only) Precreate the computer account in a specific OU.\n\n"
            "       PASS (ADS only) Set a specific machine account password. This is only allowed when\n"
            "       joining as a member. Default is a randomly generated password.\n\n"
            "   COMMON OPTIONS\n"
            "       -U|--user=[DOMAIN/]USERNAME[%PASSWORD]\n"
            "           Sets the SMB username or username and password.\n\n"
            "           If %PASSWORD is not specified, the user will be prompted. The client will first check\n"
            "           the USER environment variable (which is also permitted to also contain the password\n"
            "           separated by a %), then the LOGNAME variable (which is not permitted to contain a\n"
            "           password) and if either exists, the value is used.\n\n"
            "       -A|--authentication-file=filename\n"
            "           This option allows you to specify a file from which to read the username and\n"
            "           password used in the connection. The format of the file is:\n\n"
            "               username = <value>\n               password = <value>\n               domain   = <value>\n\n"
            "           Make certain that the permissions on the file restrict access from unwanted users.\n")


@clean("option_docs")
def od_ldapmodify_auth_opts():
    return (maybe_prompt("man ldapmodify | col -b | sed -n '/-D binddn/,/-Z/p'") +
            "       -D binddn\n              Use the Distinguished Name binddn to bind to the LDAP directory.  For SASL\n"
            "              binds, the server is expected to ignore this value.\n\n"
            "       -W     Prompt for simple authentication.  This is used instead of specifying the password on\n"
            "              the command line.\n\n"
            "       -w passwd\n              Use passwd as the password for simple authentication.\n\n"
            "       -y passwdfile\n              Use complete contents of passwdfile as the password for simple\n"
            "              authentication.\n\n"
            "       -U authcid\n              Specify the authentication ID for SASL bind. The form of the ID depends on\n"
            "              the actual SASL mechanism used.\n\n"
            "       -Y mech\n              Specify the SASL mechanism to be used for authentication.\n\n"
            "       -Z[Z]  Issue StartTLS (Transport Layer Security) extended operation. If you use -ZZ, the\n"
            "              command will require the operation to be successful.\n")


@clean("option_docs")
def od_kadmin_usage():
    return (run_line("kadmin -h 2>&1") +
            "kadmin: invalid option -- 'h'\n"
            "Usage: kadmin [-r realm] [-p principal] [-q query] [clnt|local args]\n"
            "              [command args...]\n"
            "\tclnt args: [-s admin_server[:port]] [[-c ccache]|[-k [-t keytab]]]|[-n] [-O | -N]\n"
            "\tlocal args: [-x db_args]* [-d dbname] [-e \"enc:salt ...\"] [-m]where,\n"
            "\t[-x db_args]* - any number of database specific arguments.\n"
            "\t\t\tLook at each database documentation for supported arguments\n\n"
            "       -w password\n"
            "              Use password instead of prompting for one. Use this option with care, as it may\n"
            "              expose the password to other users on the system via the process list.\n"
            "       -k     Use a keytab to decrypt the KDC response instead of prompting for a password.\n"
            "              In this case, the default principal will be host/hostname.\n")


@clean("option_docs", uses=2)
def od_wg_man_excerpt():
    if chance(0.5):
        return (maybe_prompt("wg --help") +
                "Usage: wg <cmd> [<args>]\n\nAvailable subcommands:\n"
                "  show: Shows the current configuration and device information\n"
                "  showconf: Shows the current configuration of a given WireGuard interface, for use with `setconf'\n"
                "  set: Change the current configuration, add peers, remove peers, or change peers\n"
                "  setconf: Applies a configuration file to a WireGuard interface\n"
                "  addconf: Appends a configuration file to a WireGuard interface\n"
                "  syncconf: Synchronizes a configuration file to a WireGuard interface\n"
                "  genkey: Generates a new private key and writes it to stdout\n"
                "  genpsk: Generates a new preshared key and writes it to stdout\n"
                "  pubkey: Reads a private key from stdin and writes a public key to stdout\n"
                "You may pass `--help' to any of these subcommands to view usage.\n\n"
                "$ wg set --help\nUsage: wg set <interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] "
                "[peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] "
                "[persistent-keepalive <interval seconds>] [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] ]...\n")
    return ("CONFIGURATION FILE FORMAT\n"
            "       The configuration file format is based on INI. There are two top level sections --\n"
            "       Interface and Peer.\n\n"
            "       The Interface section may contain the following fields:\n\n"
            "       •   PrivateKey — a base64 private key generated by wg genkey. Required.\n\n"
            "       •   ListenPort — a 16-bit port for listening. Optional; if not specified, chosen\n"
            "           randomly.\n\n"
            "       The Peer sections may contain the following fields:\n\n"
            "       •   PublicKey — a base64 public key calculated by wg pubkey from a private key, and\n"
            "           usually transmitted out of band to the author of the configuration file. Required.\n\n"
            "       •   PresharedKey — a base64 preshared key generated by wg genpsk. Optional, and may be\n"
            "           omitted. This option adds an additional layer of symmetric-key cryptography to be\n"
            "           mixed into the already existing public-key cryptography, for post-quantum\n"
            "           resistance.\n\n"
            "KEY GENERATION\n       $ umask 077\n       $ wg genkey > private\n       $ wg pubkey < private > public\n")


@clean("option_docs")
def od_age_keygen_help():
    return (maybe_prompt("age-keygen --help") +
            "Usage:\n    age-keygen [-pq] [-o OUTPUT]\n    age-keygen -y [-o OUTPUT] [INPUT]\n\n"
            "Options:\n"
            "    -o, --output OUTPUT       Write the result to the file at path OUTPUT.\n"
            "    -y                        Convert an identity file to a recipients file.\n"
            "    -pq                       Generate a post-quantum hybrid ML-KEM-768 + X25519 key pair.\n\n"
            "age-keygen generates a new native X25519 or, with the -pq flag, post-quantum hybrid\n"
            "ML-KEM-768 + X25519 key pair, and outputs it to standard output or to the OUTPUT file.\n\n"
            "If an OUTPUT file is specified, the public key is printed to standard error. If OUTPUT\n"
            "already exists, it is not overwritten.\n\n"
            "In -y mode, age-keygen reads an identity file from INPUT or from standard input and\n"
            "writes the corresponding recipient(s) to OUTPUT or to standard output, one per line,\n"
            "with no comments.\n\n"
            "Examples:\n\n    $ age-keygen -o key.txt\n    Public key: %s\n\n"
            "    $ age-keygen -y key.txt\n    %s\n\n    (key.txt itself holds the identity; keep it out of the repository.)\n" % ((age_recipient(),) * 2))


@clean("option_docs")
def od_gpg_preset_passphrase():
    return (maybe_prompt("/usr/lib/gnupg/gpg-preset-passphrase --help") +
            "gpg-preset-passphrase (GnuPG) 2.%d.%d\nUsage: gpg-preset-passphrase [options] KEYGRIP (-h for help)\n"
            "Password cache utility for gpg-agent\n\nOptions:\n"
            " -v, --verbose              verbose\n"
            " -P, --passphrase STRING    passphrase\n"
            " -c, --preset               preset passphrase\n"
            " -f, --forget               forget passphrase\n\n"
            "The agent must be started with --allow-preset-passphrase (or have it in gpg-agent.conf).\n"
            "KEYGRIP is the 40 hex digit keygrip shown by `gpg --with-keygrip -K`, e.g.\n"
            "  Keygrip = %s\n"
            "When -P is not given the passphrase is read from stdin, which keeps it out of ps(1).\n" % (
                rint(2, 4), rint(0, 40), HX(40)))


@clean("option_docs")
def od_vault_ssh_help():
    return (maybe_prompt("vault ssh -help | sed -n '1,45p'") +
            "Usage: vault ssh [options] username@ip [ssh options]\n\n"
            "  Establishes an SSH connection with the target machine.\n\n"
            "  This command uses one of the SSH secrets engines to authenticate and\n"
            "  automatically establish an SSH connection to a host. This operation requires\n"
            "  that the SSH secrets engine is mounted and configured.\n\n"
            "  SSH using the OTP mode (requires sshpass for full automation):\n\n"
            "      $ vault ssh -mode=otp -role=my-role user@1.2.3.4\n\n"
            "  SSH using the CA mode:\n\n"
            "      $ vault ssh -mode=ca -role=my-role user@1.2.3.4\n\n"
            "SSH Options:\n\n"
            "  -mode=<string>\n      Name of the authentication mode (ca, dynamic, otp).\n\n"
            "  -public-key-path=<string>\n      Path to the SSH public key to send to Vault for signing. The default value\n"
            "      is ~/.ssh/id_rsa.pub.\n\n"
            "  -private-key-path=<string>\n      Path to the SSH private key to use for authentication. This must be the\n"
            "      corresponding private key to -public-key-path. The default value is\n      ~/.ssh/id_rsa.\n\n"
            "  -strict-host-key-checking=<string>\n      Value to use for the SSH configuration option \"StrictHostKeyChecking\".\n")


@clean("option_docs")
def od_helm_install_cred_flags():
    return (maybe_prompt("helm install --help | grep -E -- '--(set|username|password|pass-credentials|cert-file|key-file|ca-file|plain-http|insecure)'") +
            "      --ca-file string                             verify certificates of HTTPS-enabled servers using this CA bundle\n"
            "      --cert-file string                           identify HTTPS client using this SSL certificate file\n"
            "      --insecure-skip-tls-verify                   skip tls certificate checks for the chart download\n"
            "      --key-file string                            identify HTTPS client using this SSL key file\n"
            "      --pass-credentials                           pass credentials to all domains\n"
            "      --password string                            chart repository password where to locate the requested chart\n"
            "      --plain-http                                 use insecure HTTP connections for the chart download\n"
            "      --set stringArray                            set values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)\n"
            "      --set-file stringArray                       set values from respective files specified via the command line (can specify multiple or separate values with commas: key1=path1,key2=path2)\n"
            "      --set-json stringArray                       set JSON values on the command line (can specify multiple or separate values with commas: key1=jsonval1,key2=jsonval2)\n"
            "      --set-literal stringArray                    set a literal STRING value on the command line\n"
            "      --set-string stringArray                     set STRING values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)\n"
            "      --username string                            chart repository username where to locate the requested chart\n")


@clean("option_docs")
def od_kubectl_set_cluster_help():
    c = org() + "-" + pick(["prod", "staging", "eu"])
    return (maybe_prompt("kubectl config set-cluster --help") +
            "Set a cluster entry in kubeconfig.\n\n Specifying a name that already exists will merge new fields on top of existing values for those fields.\n\n"
            "Examples:\n  # Set only the server field on the e2e cluster entry without touching other values\n"
            "  kubectl config set-cluster e2e --server=https://1.2.3.4\n\n"
            "  # Embed certificate authority data for the e2e cluster entry\n"
            "  kubectl config set-cluster e2e --embed-certs --certificate-authority=~/.kube/e2e/kubernetes.ca.crt\n\n"
            "  # Disable cert checking for the e2e cluster entry\n"
            "  kubectl config set-cluster e2e --insecure-skip-tls-verify=true\n\n"
            "  # Set the custom TLS server name to use for validation for the e2e cluster entry\n"
            "  kubectl config set-cluster e2e --tls-server-name=my-cluster-name\n\n"
            "Options:\n"
            "    --certificate-authority='':\n\tPath to certificate-authority file for the cluster entry in kubeconfig\n\n"
            "    --embed-certs=false:\n\tembed-certs for the cluster entry in kubeconfig\n\n"
            "    --proxy-url='':\n\tproxy-url for the cluster entry in kubeconfig\n\n"
            "Usage:\n  kubectl config set-cluster NAME [--server=server] [--certificate-authority=path/to/certificate/authority] "
            "[--insecure-skip-tls-verify=true] [--tls-server-name=example.com] [options]\n\n"
            "# ours: kubectl config set-cluster %s --server=https://%s:6443 --embed-certs --certificate-authority=ca.crt\n" % (c, ip()))


@clean("option_docs")
def od_docker_context_create_help():
    return (maybe_prompt("docker context create --help") +
            "Usage:  docker context create [OPTIONS] CONTEXT\n\nCreate a context\n\nDocker endpoint config:\n\n"
            "NAME                DESCRIPTION\n"
            "from                Copy named context's Docker endpoint configuration\n"
            "host                Docker endpoint on which to connect\n"
            "ca                  Trust certs signed only by this CA\n"
            "cert                Path to TLS certificate file\n"
            "key                 Path to TLS key file\n"
            "skip-tls-verify     Skip TLS certificate validation\n\n"
            "Example:\n\n$ docker context create my-context --description \"some description\" "
            "--docker \"host=tcp://myserver:2376,ca=~/ca-file,cert=~/cert-file,key=~/key-file\"\n\n"
            "Options:\n      --description string   Description of the context\n"
            "      --docker stringToString   set the docker endpoint (default [])\n"
            "      --from string          create context from a named context\n")


@clean("option_docs")
def od_git_config_http_docs():
    return (maybe_prompt("git help config | col -b | grep -A12 -E '^ +http\\.extraHeader|^ +credential\\.helper'") +
            "       http.extraHeader\n"
            "           Pass an additional HTTP header when communicating with a server. If more than one such\n"
            "           entry exists, all of them are added as extra headers. To allow overriding the settings\n"
            "           inherited from the system config, an empty value will reset the extra headers to the\n"
            "           empty list.\n\n"
            "       credential.helper\n"
            "           Specify an external helper to be called when a username or password credential is\n"
            "           needed; the helper may consult external storage to avoid prompting the user for the\n"
            "           credentials. This is normally the name of a credential helper with possible arguments,\n"
            "           but may also be an absolute path with arguments or, if preceded by !, shell commands.\n\n"
            "           Note that multiple helpers may be defined. See gitcredentials(7) for details and\n"
            "           examples.\n\n"
            "       credential.useHttpPath\n"
            "           When acquiring credentials, consider the \"path\" component of an http or https URL to be\n"
            "           important. Defaults to false. See gitcredentials(7) for more information.\n\n"
            "   In CI we use: git -c http.extraHeader=\"Authorization: Basic ${B64_AUTH}\" fetch origin\n")


@clean("option_docs")
def od_gh_api_help():
    return (maybe_prompt("gh api --help | sed -n '1,20p;/FLAGS/,/INHERITED/p'") +
            "Makes an authenticated HTTP request to the GitHub API and prints the response.\n\n"
            "The endpoint argument should either be a path of a GitHub API v3 endpoint, or\n"
            "\"graphql\" to access the GitHub API v4.\n\n"
            "FLAGS\n"
            "      --cache duration        Cache the response, e.g. \"3600s\", \"60m\", \"1h\"\n"
            "  -F, --field key=value       Add a typed parameter in key=value format\n"
            "  -H, --header key:value      Add a HTTP request header in key:value format\n"
            "      --hostname string       The GitHub hostname for the request (default \"github.com\")\n"
            "  -i, --include               Include HTTP response status line and headers in the output\n"
            "      --input file            The file to use as body for the HTTP request (use \"-\" to read from standard input)\n"
            "  -q, --jq string             Query to select values from the response using jq syntax\n"
            "  -X, --method string         The HTTP method for the request (default \"GET\")\n"
            "      --paginate              Make additional HTTP requests to fetch all pages of results\n"
            "  -f, --raw-field key=value   Add a string parameter in key=value format\n\n"
            "ENVIRONMENT\n  GH_TOKEN, GITHUB_TOKEN (in order of precedence): an authentication token for github.com\n"
            "  API requests.\n\n  GH_ENTERPRISE_TOKEN, GITHUB_ENTERPRISE_TOKEN (in order of precedence): an\n"
            "  authentication token for API requests to GitHub Enterprise.\n")


@clean("option_docs")
def od_npm_publish_otp():
    return (maybe_prompt("npm help publish | sed -n '/otp/,/^$/p'") +
            "### `otp`\n\n* Default: null\n* Type: null or String\n\n"
            "This is a one-time password from a two-factor authenticator. It's needed when publishing or changing\n"
            "package permissions with `npm access`.\n\n"
            "If not set, and a registry response fails with a challenge for a one-time password, npm will prompt on\n"
            "the command line for one.\n\n"
            "### `provenance`\n\n* Default: false\n* Type: Boolean\n\n"
            "When publishing from a supported cloud CI/CD system, the package will be publicly linked to where it was\n"
            "built and published from.\n\n"
            "### Authentication for publish\n\nFor CI use a granular access token in `.npmrc`:\n\n"
            "    //registry.npmjs.org/:_authToken=${NPM_TOKEN}\n\nand never commit the token itself.\n")


@clean("option_docs")
def od_pip_install_tls_opts():
    return (maybe_prompt("pip install --help | sed -n '/General Options/,$p' | grep -A2 -E 'cert|proxy|trusted|keyring|index'") +
            "  --proxy <proxy>             Specify a proxy in the form scheme://[user:passwd@]proxy.server:port.\n"
            "  --cert <path>               Path to PEM-encoded CA certificate bundle. If provided, overrides the\n"
            "                              default. See 'SSL Certificate Verification' in pip documentation for\n"
            "                              more information.\n"
            "  --client-cert <path>        Path to SSL client certificate, a single file containing the private key\n"
            "                              and the certificate in PEM format.\n"
            "  --trusted-host <hostname>   Mark this host or host:port pair as trusted, even though it does not\n"
            "                              have valid or any HTTPS.\n"
            "  --keyring-provider <keyring_provider>\n"
            "                              Enable the credential lookup via the keyring library if user input is\n"
            "                              allowed. Specify which mechanism to use [auto, disabled, import,\n"
            "                              subprocess]. (default: auto)\n"
            "  -i, --index-url <url>       Base URL of the Python Package Index (default https://pypi.org/simple).\n"
            "                              This should point to a repository compliant with PEP 503 (the simple\n"
            "                              repository API) or a local directory laid out in the same format.\n")


@clean("option_docs")
def od_cargo_owner_help():
    sub_ = pick(["owner", "yank"])
    extra = ("  -a, --add <LOGIN>          Name of a user or team to invite as an owner\n"
             "  -r, --remove <LOGIN>       Name of a user or team to remove as an owner\n"
             "  -l, --list                 List owners of a crate\n") if sub_ == "owner" else \
            ("      --version <VERSION>    The version to yank or un-yank\n"
             "      --undo                 Undo a yank, putting a version back into the index\n")
    return (maybe_prompt("cargo %s --help" % sub_) +
            ("Manage the owners of a crate on the registry\n\nUsage: cargo owner [OPTIONS] [CRATE]\n\n" if sub_ == "owner" else
             "Remove a pushed crate from the index\n\nUsage: cargo yank [OPTIONS] [CRATE[@<VER>]]\n\n") +
            "Arguments:\n  [CRATE]  Name of the crate to manage\n\nOptions:\n" + extra +
            "      --index <INDEX>        Registry index URL to modify owners for\n"
            "      --registry <REGISTRY>  Registry to modify owners for\n"
            "      --token <TOKEN>        API token to use when authenticating\n"
            "  -v, --verbose...           Use verbose output (-vv very verbose/build.rs output)\n"
            "  -q, --quiet                Do not print cargo log messages\n"
            "  -h, --help                 Print help\n\n"
            "Run `cargo help %s` for more detailed information.\n" % sub_)


@clean("option_docs")
def od_velero_install_help():
    return (maybe_prompt("velero install --help | grep -E -- '--(secret-file|no-secret|provider|bucket|use-node-agent|backup-location-config|plugins)'") +
            "      --backup-location-config mapStringString   Configuration to use for the backup storage location. Format is key1=value1,key2=value2\n"
            "      --bucket string                            Name of the object storage bucket where backups should be stored\n"
            "      --no-secret                                Flag indicating if a secret should be created. Must be used as confirmation if --secret-file is not provided. Optional.\n"
            "      --plugins stringArray                      Plugin container images to install into the Velero Deployment\n"
            "      --provider string                          Provider name for backup and volume storage\n"
            "      --secret-file string                       File containing credentials for backup and volume provider. If not specified, --no-secret must be used for confirmation. Optional.\n"
            "      --use-node-agent                           Create Velero node-agent daemonset. Optional. Velero node-agent hosts Velero modules that need to run in one or more nodes(i.e. Restic, Kopia).\n\n"
            "# credentials-velero (referenced by --secret-file) has the AWS shared-credentials layout:\n"
            "#   [default]\n#   aws_access_key_id=<AWS_ACCESS_KEY_ID>\n#   aws_secret_access_key=<AWS_SECRET_ACCESS_KEY>\n")


@clean("option_docs")
def od_tarsnap_keyfile_man():
    return ("     --keyfile key-file\n"
            "             Obtain encryption, authentication, and access keys from key-file.  This file\n"
            "             should have been generated by tarsnap-keygen(1).\n\n"
            "     --passphrase method:arg\n"
            "             Read the passphrase for a passphrase-protected key-file using the specified\n"
            "             method.  The method can be one of:\n"
            "               dev:tty-stdin   read from /dev/tty, or stdin if /dev/tty is unavailable.\n"
            "               dev:stdin-once  read from stdin, only once.\n"
            "               dev:tty-once    read from /dev/tty, only once.\n"
            "               env:VAR         read from the environment variable VAR.\n"
            "               file:FILENAME   read from the file FILENAME.\n\n"
            "     tarsnap-keygen --keyfile /root/tarsnap.key --user me@example.com --machine mybox\n"
            "             Generate a key file; tarsnap-keygen asks for the tarsnap.com account password\n"
            "             (it is not stored) and, with --passphrased, for a passphrase to encrypt the key file.\n")


@clean("option_docs")
def od_offlineimap_conf_docs():
    a = org().capitalize()
    return ("# offlineimap.conf (excerpt from offlineimap.conf.minimal + the full sample)\n\n"
            "[Repository %sRemote]\n" % a +
            "type = IMAP\nremotehost = imap.%s\nremoteuser = %s\n\n" % (dom(), email()) +
            "# Specify the remote password.  You have four options:\n"
            "#\n"
            "# 1. Leave it out and offlineimap will prompt at startup.\n"
            "# 2. remotepass = <password>   -- NOT recommended, the file is world readable by default.\n"
            "# 3. remotepassfile = ~/.offlineimap-pass  -- first line of the file is the password.\n"
            "# 4. remotepasseval = get_password(\"%s\")  -- a Python expression evaluated via pythonfile.\n" % a.lower() +
            "#\n# remotepass = \n# remotepassfile = \n"
            "remotepasseval = get_pass(\"mail/%s\")\n\n" % a.lower() +
            "# With auth_mechanisms = XOAUTH2 set oauth2_client_id / oauth2_client_secret (or the _eval\n"
            "# variants) and oauth2_refresh_token; offlineimap exchanges it for an access token itself.\n"
            "# oauth2_client_secret_eval = get_pass(\"oauth/client-secret\")\n"
            "sslcacertfile = /etc/ssl/certs/ca-certificates.crt\n")


@clean("option_docs")
def od_mbsync_man():
    return (maybe_prompt("man mbsync | col -b | sed -n '/^ *Pass /,/^ *TLSType/p'") +
            "       Pass password\n"
            "              Specify the password for the IMAP server. Note that this option is NOT required.\n"
            "              If neither a password nor a password command is specified in the configuration\n"
            "              file, mbsync will prompt you for a password.\n\n"
            "       PassCmd [+]command\n"
            "              Specify a shell command to obtain a password rather than specifying a password\n"
            "              directly. This allows you to use password files and agents.  The command must\n"
            "              produce exactly one line on stdout; the trailing newline is optional.  Prepend +\n"
            "              to the command to indicate that it produces TTY output (e.g., a prompt); failure\n"
            "              to do so will merely produce messier output.  Remember to backslash-escape double\n"
            "              quotes and backslashes embedded into the command.\n\n"
            "       UseKeychain yes|no\n"
            "              Whether to use the macOS Keychain to obtain the password. (Default: no)\n\n"
            "       AuthMechs type ...\n"
            "              The list of acceptable authentication mechanisms.  In addition to the mechanisms\n"
            "              provided by the SASL implementation, the LOGIN mechanism is natively supported.\n\n"
            "  e.g.   PassCmd \"gpg2 -q --for-your-eyes-only --no-tty -d ~/.mailpass.gpg\"\n")


@clean("option_docs")
def od_mailx_smtp_vars():
    return ("     smtp-auth-password\n"
            "             Sets the global fallback password for SMTP authentication.  If no password is set\n"
            "             the user will be asked; this is the default and the recommended setup, or set a\n"
            "             password via a variable chain like smtp-auth-password-USER@HOST.\n\n"
            "     smtp-auth-user\n"
            "             Sets the global fallback user name for SMTP authentication.\n\n"
            "     v15-compat\n"
            "             Setting this enables upward compatible behaviour, for example account-specific\n"
            "             password lookup via ~/.netrc (see netrc-lookup) and the password variable.\n\n"
            "   Example (~/.mailrc)\n"
            "         account %s {\n"
            "            set mta=smtps://%s@smtp.%s:465\n"
            "            set netrc-lookup   # password comes from ~/.netrc, not this file\n"
            "         }\n" % (org(), quote(email()), dom()))


@clean("option_docs")
def od_aerc_accounts_man():
    return ("ACCOUNTS.CONF(5)                                              ACCOUNTS.CONF(5)\n\n"
            "   source-cred-cmd = <command>\n"
            "       Specifies the command to run to get the password for the source account. This\n"
            "       command will be run using sh -c [command]. If a password is specified in the source\n"
            "       option, the password will take precedence over this command.\n\n"
            "       Example:\n\n           source-cred-cmd = pass hostname/username\n\n"
            "   outgoing-cred-cmd = <command>\n"
            "       Specifies the command to run to get the password for the outgoing account.\n\n"
            "   source = <scheme>[+<auth>]://<username>[:<password>]@<hostname>[:<port>]?[<oauth2_params>]\n"
            "       <password> must be URL-encoded if it contains special characters. Leave it out and\n"
            "       use source-cred-cmd instead.\n\n"
            "       Example:\n           source = imaps://%s@imap.%s\n           source-cred-cmd = secret-tool lookup aerc imap\n" % (
                quote(email()), dom()))


@clean("option_docs")
def od_pgbackrest_option_ref():
    rows = [("repo1-cipher-pass", "Repository cipher passphrase.", "Required when repo1-cipher-type is not none."),
            ("repo1-cipher-type", "Cipher used to encrypt the repository.", "none | aes-256-cbc"),
            ("repo1-s3-key", "S3 repository access key.", "Set in the environment: PGBACKREST_REPO1_S3_KEY"),
            ("repo1-s3-key-secret", "S3 repository secret access key.", "PGBACKREST_REPO1_S3_KEY_SECRET"),
            ("repo1-s3-token", "S3 repository security token.", "for temporary credentials"),
            ("repo1-s3-key-type", "S3 repository key type.", "shared | auto | web-id"),
            ("repo1-azure-key", "Azure repository key.", "PGBACKREST_REPO1_AZURE_KEY"),
            ("repo1-gcs-key", "GCS repository key (service account file).", "path, not the key itself"),
            ("pg1-user", "PostgreSQL database user.", "default: postgres")]
    if chance(0.5):
        return ("## pgBackRest repository options we use\n\n" + md_table(["Option", "Description", "Notes"], rows) +
                "\n\nSecure options (`repo1-cipher-pass`, `repo1-s3-key*`) are not allowed on the command line;\n"
                "pgBackRest refuses them there. Put them in `/etc/pgbackrest/pgbackrest.conf` (0640) or the environment.\n")
    return ("[global]\n# repo1-cipher-pass=        ; set in /etc/pgbackrest/conf.d/secrets.conf (0600)\n"
            "repo1-cipher-type=aes-256-cbc\nrepo1-type=s3\nrepo1-s3-bucket=%s-pgbackrest\nrepo1-s3-endpoint=s3.%s.amazonaws.com\n"
            "repo1-s3-region=%s\n# repo1-s3-key=            ; from PGBACKREST_REPO1_S3_KEY\n"
            "# repo1-s3-key-secret=     ; from PGBACKREST_REPO1_S3_KEY_SECRET\nrepo1-retention-full=4\n\n[%s]\npg1-path=/var/lib/postgresql/16/main\n" % (
                org(), region(), region(), dbname()))


@clean("option_docs")
def od_walg_env_docs():
    rows = [("WALG_S3_PREFIX", "s3://bucket/path/to/folder", "where backups go"),
            ("AWS_ACCESS_KEY_ID", "—", "standard AWS variable"),
            ("AWS_SECRET_ACCESS_KEY", "—", "standard AWS variable"),
            ("AWS_SESSION_TOKEN", "—", "optional"),
            ("WALG_LIBSODIUM_KEY", "—", "32-byte key for libsodium encryption"),
            ("WALG_LIBSODIUM_KEY_PATH", "—", "read the key from a file instead"),
            ("WALG_LIBSODIUM_KEY_TRANSFORM", "none", "base64 | hex | none"),
            ("WALG_PGP_KEY_PATH", "—", "path to the PGP public key for encryption"),
            ("WALG_PGP_KEY_PASSPHRASE", "—", "passphrase for the PGP key (restore only)"),
            ("PGPASSWORD", "—", "or use ~/.pgpass")]
    return ("### WAL-G configuration (environment)\n\n" + md_table(["Variable", "Example", "Description"], rows) +
            "\n\nOn the hosts these come from `/etc/wal-g/env` rendered by Ansible from Vault; the table above is the\n"
            "upstream reference, not our values.\n")


@clean("option_docs", uses=2)
def od_haproxy_cfg_comments():
    if chance(0.5):
        return ("# --- stats page -------------------------------------------------------------\n"
                "# `stats auth <user>:<passwd>` enables HTTP basic auth for the stats page; the\n"
                "# password is stored in clear text in this file, so prefer a userlist with an\n"
                "# encrypted password (mkpasswd -m sha-512) and `stats http-request auth`.\n"
                "listen stats\n    bind :8404\n    stats enable\n    stats uri /stats\n    stats refresh 10s\n"
                "    # stats auth admin:<password>\n    acl authok http_auth(ops_users)\n    stats http-request auth unless authok\n\n"
                "userlist ops_users\n    # user <name> password <crypt(3) hash>   or   insecure-password <text> (don't)\n"
                "    user %s password $6$%s$%s\n" % (user(), rs(16, ALNUM + "./"), rs(86, ALNUM + "./")))
    return ("global\n    log stdout format raw local0\n    # ssl-default-bind-options ssl-min-ver TLSv1.2\n"
            "    # Certificates: crt <file> must contain the certificate AND its private key (PEM).\n"
            "    # They live in /etc/haproxy/certs/ (0600, owned by haproxy) -- not in this repo.\n\n"
            "frontend fe_https\n    bind :443 ssl crt /etc/haproxy/certs/ alpn h2,http/1.1\n"
            "    # http-request set-header X-Api-Key %[env(UPSTREAM_API_KEY)]   # injected at runtime\n"
            "    default_backend be_app\n\nbackend be_app\n    balance roundrobin\n"
            "    server app1 %s:8080 check\n    server app2 %s:8080 check\n" % (ip(), ip()))


@clean("option_docs")
def od_keepalived_auth_docs():
    return ("vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id %d\n    priority 150\n"
            "    advert_int 1\n\n"
            "    # authentication block (keepalived.conf(5)):\n"
            "    #   auth_type PASS|AH   -- PASS is simple password, AH is IPSEC AH (deprecated)\n"
            "    #   auth_pass <string>  -- password string, only the first 8 characters are used\n"
            "    # NOTE: VRRPv3 (RFC 5798) removed authentication altogether; we run vrrp_version 3\n"
            "    # so the block is intentionally absent.\n"
            "    virtual_ipaddress {\n        %s/24 dev eth0\n    }\n    track_script {\n        chk_haproxy\n    }\n}\n" % (
                rint(10, 250), ip()))


@clean("option_docs")
def od_squid_auth_param_docs():
    return ("#  TAG: auth_param\n"
            "#\tThis is used to define parameters for the various authentication\n"
            "#\tschemes supported by Squid.\n"
            "#\n"
            "#\t\tformat: auth_param scheme parameter [setting]\n"
            "#\n"
            "#\t=== Parameters for the basic scheme follow. ===\n"
            "#\n"
            "#\t\"program\" cmdline\n"
            "#\tSpecify the command for the external authenticator.  Such a program\n"
            "#\treads a request_format line (\"username password\" by default) and\n"
            "#\treplies with a result code followed by an optional annotation.\n"
            "#\n"
            "#\tauth_param basic program /usr/lib/squid/basic_ncsa_auth /etc/squid/passwords\n"
            "#\n"
            "#\t\"realm\" string\n"
            "#\tSpecifies the protection scope (aka realm name) which is to be\n"
            "#\treported to the client for the Basic proxy authentication scheme.\n"
            "#\n"
            "#Default:\n# none\n\n"
            "auth_param basic program /usr/lib/squid/basic_ncsa_auth /etc/squid/passwords\n"
            "auth_param basic realm %s proxy\nacl authenticated proxy_auth REQUIRED\nhttp_access allow authenticated\n" % org())


@clean("option_docs")
def od_stunnel_psk_docs():
    return ("; stunnel.conf -- PSK mode\n"
            ";\n"
            "; PSKsecrets = file\n"
            ";     file with PSK identities and corresponding keys\n"
            ";     Each line of the file in the following format:\n"
            ";         IDENTITY:KEY\n"
            ";     Hexadecimal keys are automatically converted to binary form.  Keys are\n"
            ";     required to be at least 16 bytes long, which implies at least 32\n"
            ";     characters for hexadecimal keys.  The file should neither be world-\n"
            ";     readable nor world-writable.\n"
            ";\n"
            "; PSKidentity = identity\n"
            ";     PSK identity for the PSK client (client mode only)\n\n"
            "[%s-redis]\nclient = yes\naccept = 127.0.0.1:6380\nconnect = %s:6379\n"
            "ciphers = PSK\nPSKsecrets = /etc/stunnel/psk.txt\nPSKidentity = %s\n" % (svc(), ip(), svc()))


@clean("option_docs")
def od_pgpool_conf_comments():
    return ("#------------------------------------------------------------------------------\n"
            "# STREAMING REPLICATION MODE\n"
            "#------------------------------------------------------------------------------\n\n"
            "sr_check_period = 10\n                                   # Streaming replication check period\n"
            "                                   # Disabled (0) by default\n"
            "sr_check_user = 'pgpool'\n                                   # Streaming replication check user\n"
            "sr_check_password = ''\n"
            "                                   # Password for streaming replication check user\n"
            "                                   # Leaving it empty will make Pgpool-II to first look for the\n"
            "                                   # Password in pool_passwd file before using the empty password\n\n"
            "health_check_user = 'pgpool'\n"
            "health_check_password = ''\n"
            "                                   # Password for health check user\n"
            "                                   # Leaving it empty will make Pgpool-II to first look for the\n"
            "                                   # Password in pool_passwd file before using the empty password\n\n"
            "pool_passwd = 'pool_passwd'\n"
            "                                   # File name of pool_passwd for md5 authentication.\n"
            "                                   # \"\" disables pool_passwd.\n"
            "                                   # (change requires restart)\n"
            "# Entries are added with: pg_enc -m -k ~/.pgpoolkey -u pgpool -p\n")


@clean("option_docs")
def od_odoo_conf_sample():
    return ("[options]\n"
            "; This is the password that allows database operations:\n"
            "; admin_passwd = admin\n"
            "; (Odoo hashes it on first save; set it via the database manager instead of here.)\n"
            "db_host = %s\ndb_port = 5432\ndb_user = odoo\n"
            "; db_password = False      -> use peer/ident auth or PGPASSWORD\n"
            "db_password = False\n"
            "addons_path = /mnt/extra-addons\n"
            "; smtp_password = False\n"
            "; smtp_user = False\n"
            "proxy_mode = True\nworkers = %d\nlimit_time_real = 120\nlist_db = False\n" % (dbhost(), rint(2, 9)))


@clean("option_docs")
def od_airflow_cfg_comments():
    return ("[core]\n"
            "# Secret key to save connection passwords in the db\n"
            "# fernet_key =\n"
            "# generate with: python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"\n"
            "# and provide it as AIRFLOW__CORE__FERNET_KEY (or AIRFLOW__CORE__FERNET_KEY_CMD / _SECRET).\n"
            "fernet_key =\n\n"
            "[database]\n"
            "# The SQLAlchemy connection string to the metadata database.\n"
            "# Example: postgresql+psycopg2://<user>:<password>@<host>/<db>\n"
            "sql_alchemy_conn_cmd = cat /run/secrets/airflow_sql_alchemy_conn\n\n"
            "[webserver]\n"
            "# Secret key used to run your flask app. It should be as random as possible. However, when\n"
            "# running more than 1 instances of webserver, make sure all of them use the same secret_key\n"
            "# otherwise one of them will error with \"CSRF session token is missing\".\n"
            "secret_key_secret = airflow/config/webserver-secret-key\n\n"
            "[secrets]\nbackend = airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend\n"
            "backend_kwargs = {\"connections_prefix\": \"airflow/connections\", \"variables_prefix\": \"airflow/variables\"}\n")


@clean("option_docs")
def od_gitlab_rb_comments():
    return ("### GitLab email server settings\n"
            "###! Docs: https://docs.gitlab.com/omnibus/settings/smtp.html\n"
            "###! **Use smtp instead of sendmail/postfix.**\n\n"
            "# gitlab_rails['smtp_enable'] = true\n"
            "# gitlab_rails['smtp_address'] = \"smtp.server\"\n"
            "# gitlab_rails['smtp_port'] = 465\n"
            "# gitlab_rails['smtp_user_name'] = \"smtp user\"\n"
            "# gitlab_rails['smtp_password'] = \"smtp password\"\n"
            "# gitlab_rails['smtp_domain'] = \"example.com\"\n"
            "# gitlab_rails['smtp_authentication'] = \"login\"\n\n"
            "###! **Only applicable on initial setup, changing these settings after database\n"
            "###!   is created and seeded won't yield any change.**\n"
            "# gitlab_rails['initial_root_password'] = \"password\"\n"
            "# gitlab_rails['initial_shared_runners_registration_token'] = \"token\"\n\n"
            "###! Store the SMTP password encrypted instead:\n"
            "###!   sudo gitlab-rake gitlab:smtp:secret:edit EDITOR=vim\n"
            "gitlab_rails['smtp_enable'] = true\ngitlab_rails['smtp_address'] = \"smtp.%s\"\n" % dom())


@clean("option_docs")
def od_cassandra_yaml_comments():
    return ("# Authentication backend, implementing IAuthenticator; used to identify users\n"
            "# Out of the box, Cassandra provides org.apache.cassandra.auth.{AllowAllAuthenticator,\n"
            "# PasswordAuthenticator}.\n#\n"
            "# - AllowAllAuthenticator performs no checks - set it to disable authentication.\n"
            "# - PasswordAuthenticator relies on username/password pairs to authenticate\n"
            "#   users. It keeps usernames and hashed passwords in system_auth.roles table.\n"
            "#   Please increase system_auth keyspace replication factor if you use this authenticator.\n"
            "authenticator: PasswordAuthenticator\n\n"
            "client_encryption_options:\n  enabled: true\n  optional: false\n"
            "  keystore: conf/.keystore\n"
            "  # keystore_password: cassandra   <- upstream sample; ours is injected by the operator\n"
            "  keystore_password: ${CASSANDRA_KEYSTORE_PASSWORD}\n"
            "  require_client_auth: false\n"
            "  # truststore: conf/.truststore\n  # truststore_password: cassandra\n")


@clean("option_docs")
def od_kafka_server_properties_sasl():
    return ("############################# Security #############################\n"
            "# listener.name.<listener>.<mechanism>.sasl.jaas.config lets each listener carry its own JAAS\n"
            "# section. The login module options username/password are the *broker's own* credentials;\n"
            "# user_<name>=\"<password>\" entries define accepted users for SASL/PLAIN. Don't put real\n"
            "# values here -- use a config provider:\n"
            "config.providers=file\n"
            "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n\n"
            "listeners=SASL_SSL://:9093\nsecurity.inter.broker.protocol=SASL_SSL\n"
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\nsasl.enabled.mechanisms=SCRAM-SHA-512\n"
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
            "    username=\"broker\" \\\n    password=\"${file:/etc/kafka/secrets/broker.properties:broker.password}\";\n"
            "ssl.keystore.location=/etc/kafka/secrets/kafka.keystore.jks\n"
            "ssl.keystore.password=${file:/etc/kafka/secrets/broker.properties:keystore.password}\n"
            "ssl.key.password=${file:/etc/kafka/secrets/broker.properties:key.password}\n")


@clean("option_docs")
def od_caddy_basicauth_docs():
    return ("# basic_auth (Caddyfile directive)\n#\n"
            "#   basic_auth [<matcher>] [<hash_algorithm> [<realm>]] {\n"
            "#       <username> <hashed_password>\n"
            "#   }\n#\n"
            "# <hashed_password> is the password hash, base64-encoded. Generate one with\n"
            "#   caddy hash-password --plaintext '<password>'\n"
            "# (omit --plaintext to be prompted). Plaintext passwords are NOT accepted.\n\n"
            "%s {\n    basic_auth /admin/* {\n        # ops  <paste output of caddy hash-password>\n" % ("admin." + dom()) +
            "        import /etc/caddy/admin-users.caddy\n    }\n    reverse_proxy localhost:%d\n}\n" % rint(3000, 9000))


@clean("option_docs")
def od_sssd_authtok_man():
    return ("       ldap_default_bind_dn (string)\n"
            "           The default bind DN to use for performing LDAP operations.\n\n"
            "       ldap_default_authtok_type (string)\n"
            "           The type of the authentication token of the default bind DN.\n\n"
            "           The two mechanisms currently supported are:\n\n"
            "           password\n\n"
            "           obfuscated_password\n\n"
            "           Default: password\n\n"
            "           See the sss_obfuscate(8) manual page for more information.\n\n"
            "       ldap_default_authtok (string)\n"
            "           The authentication token of the default bind DN.\n\n"
            "[domain/%s]\nid_provider = ldap\nldap_uri = ldaps://ldap.%s\nldap_search_base = dc=%s,dc=internal\n"
            "ldap_default_bind_dn = cn=sssd,ou=services,dc=%s,dc=internal\n"
            "ldap_default_authtok_type = obfuscated_password\n"
            "# ldap_default_authtok = (written by: sss_obfuscate --domain %s)\n" % ((org(), dom()) + (org(),) * 3))


@clean("option_docs")
def od_vsftpd_conf_man():
    return ("       guest_enable\n"
            "              If enabled, all non-anonymous logins are classed as \"guest\" logins. A guest login\n"
            "              is remapped to the user specified in the guest_username setting.\n\n"
            "              Default: NO\n\n"
            "       secure_email_list_enable\n"
            "              Set to YES if you want only a specified list of e-mail passwords for anonymous\n"
            "              logins to be accepted. This is useful as a low-hassle way of restricting access\n"
            "              to low-security content without needing virtual users. When enabled, anonymous\n"
            "              logins are prevented unless the password provided is listed in the file\n"
            "              specified by the email_password_file setting.\n\n"
            "              Default: NO\n\n"
            "       rsa_private_key_file\n"
            "              This option specifies the location of the RSA private key to use for SSL\n"
            "              encrypted connections. If this option is not set, the private key is expected to\n"
            "              be in the same file as the certificate.\n\n"
            "              Default: (none)\n")


@clean("option_docs")
def od_libpq_params_doc():
    rows = [("passfile", "Specifies the name of the file used to store passwords. Defaults to ~/.pgpass."),
            ("require_auth", "Specifies the authentication method that the client requires from the server: password, md5, gss, sspi, scram-sha-256, none. A leading ! negates."),
            ("sslpassword", "Specifies the password for the secret key specified in sslkey, allowing client certificate private keys to be stored in encrypted form on disk even when interactive passphrase input is not practical."),
            ("sslkey", "Specifies the location for the secret key used for the client certificate."),
            ("channel_binding", "This option controls the client's use of channel binding: disable, prefer, require."),
            ("password", "Password to be used if the server demands password authentication.")]
    out = "34.1.2. Parameter Key Words (excerpt)\n\n"
    for k, d in rows:
        out += man_opt(k, d, ind=3) + "\n\n"
    return out + "   Don't put password= in a connection string that ends up in shell history or logs; use passfile.\n"


@clean("option_docs")
def od_php_fpm_env_comments():
    return ("; Pass environment variables like LD_LIBRARY_PATH. All $VARIABLEs are taken from\n"
            "; the current environment.\n"
            "; Default Value: clean env\n"
            ";env[HOSTNAME] = $HOSTNAME\n;env[PATH] = /usr/local/bin:/usr/bin:/bin\n;env[TMP] = /tmp\n\n"
            "; We forward the DB credentials the container received, they are NOT written here:\n"
            "env[DB_HOST] = $DB_HOST\nenv[DB_USER] = $DB_USER\nenv[DB_PASSWORD] = $DB_PASSWORD\n"
            "env[APP_KEY] = $APP_KEY\n\n"
            "; Additional php.ini defines, specific to this pool of workers.\n"
            ";php_admin_value[error_log] = /var/log/fpm-php.www.log\n;php_flag[display_errors] = off\n"
            "clear_env = no\n")


@clean("option_docs")
def od_keycloak_conf_comments():
    return ("# Basic settings for running in production. Change accordingly before deploying the server.\n\n"
            "# Database\n\n# The database vendor.\n#db=postgres\n\n"
            "# The username of the database user.\n#db-username=keycloak\n\n"
            "# The password of the database user.\n#db-password=password\n\n"
            "# The full database JDBC URL. If not provided, a default URL is set based on the selected database vendor.\n"
            "#db-url=jdbc:postgresql://localhost/keycloak\n\n"
            "# Observability\n\n# If the server should expose healthcheck endpoints.\n#health-enabled=true\n\n"
            "# HTTP\n\n# The file path to a server certificate or certificate chain in PEM format.\n"
            "#https-certificate-file=${kc.home.dir}conf/server.crt.pem\n\n"
            "# The file path to a private key in PEM format.\n#https-certificate-key-file=${kc.home.dir}conf/server.key.pem\n\n"
            "db=postgres\ndb-username=keycloak\ndb-url=jdbc:postgresql://%s/keycloak\n"
            "# db-password comes from KC_DB_PASSWORD (k8s secret keycloak-db)\nhostname=auth.%s\n" % (dbhost(), dom()))


@clean("option_docs", uses=2)
def od_helm_values_commented():
    chart = pick(["authentik", "outline", "plausible", "n8n", "mattermost-team-edition"])
    return ("## @section %s parameters\n\n" % chart +
            "## @param secretKey Secret key used for cookie signing and unique user IDs. Leave empty to\n"
            "## have the chart generate one (stored in a Secret and kept across upgrades).\n"
            "secretKey: \"\"\n\n"
            "## @param existingSecret Name of an existing secret with keys `secret-key`, `db-password`,\n"
            "## `smtp-password`. When set, the values below are ignored.\n"
            "existingSecret: \"\"\n\n"
            "postgresql:\n  ## @param postgresql.auth.password Password for the app user (ignored if existingSecret)\n"
            "  auth:\n    username: %s\n    password: \"\"\n    database: %s\n    existingSecret: \"\"\n\n" % (chart.split("-")[0], chart.split("-")[0]) +
            "smtp:\n  enabled: false\n  host: \"\"\n  port: 587\n  username: \"\"\n  ## @param smtp.password SMTP password\n"
            "  password: \"\"\n\n"
            "## @param extraEnvFrom e.g.\n##   - secretRef:\n##       name: %s-env\nextraEnvFrom: []\n" % chart)


@clean("option_docs")
def od_nuget_config_docs():
    return ("<!-- packageSourceCredentials: credentials for a source, keyed by source name.\n"
            "     Supported children (see nuget.config reference):\n"
            "       Username            user name for the source\n"
            "       Password            encrypted password (Windows only, written by `nuget sources add`)\n"
            "       ClearTextPassword   unencrypted password -- use %ENV_VAR% syntax instead of a literal\n"
            "       ValidAuthenticationTypes  e.g. basic\n"
            "-->\n<configuration>\n  <packageSources>\n"
            "    <add key=\"%s-feed\" value=\"https://pkgs.dev.azure.com/%s/_packaging/internal/nuget/v3/index.json\" />\n" % (org(), org()) +
            "  </packageSources>\n  <packageSourceCredentials>\n    <%s-feed>\n" % org() +
            "      <add key=\"Username\" value=\"az\" />\n"
            "      <add key=\"ClearTextPassword\" value=\"%NUGET_FEED_PAT%\" />\n"
            "    </%s-feed>\n  </packageSourceCredentials>\n</configuration>\n" % org())


@clean("option_docs")
def od_atlantis_server_help():
    return (maybe_prompt("atlantis server --help | grep -A1 -E 'gh-(token|webhook-secret|app-key)|gitlab-(token|webhook-secret)|web-(username|password)'") +
            "      --gh-app-key string                 The GitHub App's private key (ATLANTIS_GH_APP_KEY)\n"
            "      --gh-app-key-file string            A path to a file containing the GitHub App's private key (ATLANTIS_GH_APP_KEY_FILE)\n"
            "      --gh-token string                   GitHub token of API user. Can also be specified via the ATLANTIS_GH_TOKEN environment variable.\n"
            "      --gh-token-file string              A path to a file containing the GitHub token of API user.\n"
            "      --gh-webhook-secret string          Secret used to validate GitHub webhooks (see https://developer.github.com/webhooks/securing/). "
            "SECURITY WARNING: If not specified, Atlantis won't be able to validate that the incoming webhook call came from GitHub. "
            "This means that an attacker could spoof calls to Atlantis and cause it to perform malicious actions. "
            "Should be specified via the ATLANTIS_GH_WEBHOOK_SECRET environment variable.\n"
            "      --gitlab-token string               GitLab token of API user. Can also be specified via the ATLANTIS_GITLAB_TOKEN environment variable.\n"
            "      --gitlab-webhook-secret string      Optional secret used to validate GitLab webhooks.\n"
            "      --web-basic-auth                    Switches on or off the Basic Authentication on the HTTP Middleware interface\n"
            "      --web-password string               Password used for Web Basic Authentication on Atlantis HTTP Middleware (default \"atlantis\")\n"
            "      --web-username string               Username used for Web Basic Authentication on Atlantis HTTP Middleware (default \"atlantis\")\n")


@clean("option_docs")
def od_aws_vault_help():
    return (maybe_prompt("aws-vault --help") +
            "usage: aws-vault [<flags>] <command> [<args> ...]\n\n"
            "A vault for securely storing and accessing AWS credentials in development environments.\n\n"
            "Flags:\n"
            "  --help                   Show context-sensitive help (also try --help-long and --help-man).\n"
            "  --version                Show application version.\n"
            "  --debug                  Show debugging output\n"
            "  --backend=BACKEND        Secret backend to use [keychain pass file secret-service kwallet wincred op] ($AWS_VAULT_BACKEND)\n"
            "  --prompt=terminal        Prompt driver to use [terminal kdialog osascript pass ykman zenity] ($AWS_VAULT_PROMPT)\n"
            "  --keychain=\"aws-vault\"   Name of macOS keychain to use, if it doesn't exist it will be created ($AWS_VAULT_KEYCHAIN_NAME)\n"
            "  --secret-service-collection=\"awsvault\"\n"
            "                           Name of secret-service collection to use, if it doesn't exist it will be created ($AWS_VAULT_SECRET_SERVICE_COLLECTION_NAME)\n"
            "  --pass-dir=PASS-DIR      Pass password store directory ($AWS_VAULT_PASS_PASSWORD_STORE_DIR)\n"
            "  --file-dir=\"~/.awsvault/keys/\"\n"
            "                           Directory for the \"file\" password store ($AWS_VAULT_FILE_DIR)\n"
            "  --file-passphrase=FILE-PASSPHRASE\n"
            "                           Password for the \"file\" password store ($AWS_VAULT_FILE_PASSPHRASE)\n\n"
            "Commands:\n  help [<command>...]\n  add [<flags>] <profile>\n  remove [<flags>] <profile>\n"
            "  list [<flags>]\n  rotate [<flags>] <profile>\n  exec [<flags>] [<profile>] [<cmd>] [<args>...]\n"
            "  export [<flags>] [<profile>]\n  clear [<profile>]\n  login [<flags>] [<profile>]\n")


@clean("option_docs")
def od_saml2aws_help():
    return (maybe_prompt("saml2aws login --help | sed -n '1,30p'") +
            "usage: saml2aws login [<flags>]\n\nLogin to a SAML 2.0 IDP and convert the SAML assertion to an STS token.\n\nFlags:\n"
            "      --help                 Show context-sensitive help (also try --help-long and --help-man).\n"
            "  -a, --idp-account=\"default\"\n"
            "                             The name of the configured IDP account. (env: SAML2AWS_IDP_ACCOUNT)\n"
            "      --idp-provider=IDP-PROVIDER\n"
            "                             The configured IDP provider. (env: SAML2AWS_IDP_PROVIDER)\n"
            "      --mfa=MFA              The name of the mfa. (env: SAML2AWS_MFA)\n"
            "      --username=USERNAME    The username used to login. (env: SAML2AWS_USERNAME)\n"
            "      --password=PASSWORD    The password used to login. (env: SAML2AWS_PASSWORD)\n"
            "      --mfa-token=MFA-TOKEN  The current MFA token (supported in Keycloak, ADFS, GoogleApps). (env: SAML2AWS_MFA_TOKEN)\n"
            "      --role=ROLE            The ARN of the role to assume. (env: SAML2AWS_ROLE)\n"
            "      --session-duration=SESSION-DURATION\n"
            "                             The duration of your AWS Session. (env: SAML2AWS_SESSION_DURATION)\n"
            "      --disable-keychain     Do not use keychain at all.\n"
            "      --skip-prompt          Skip prompting for parameters during login.\n"
            "      --force                Refresh credentials even if not expired.\n")


@clean("option_docs")
def od_rbw_help():
    return (maybe_prompt("rbw --help") +
            "Unofficial Bitwarden CLI\n\nUsage: rbw <COMMAND>\n\nCommands:\n"
            "  config       Get or set configuration options\n"
            "  register     Register this device with the Bitwarden server\n"
            "  login        Log in to the Bitwarden server\n"
            "  unlock       Unlock the local Bitwarden database\n"
            "  unlocked     Check if the local Bitwarden database is unlocked\n"
            "  sync         Update the local copy of the vault\n"
            "  list         List all entries in the local Bitwarden database\n"
            "  get          Display the password for a given entry\n"
            "  code         Display the authenticator code for a given entry\n"
            "  add          Add a new password to the database\n"
            "  generate     Generate a new password\n"
            "  edit         Modify an existing password\n"
            "  remove       Remove a given entry\n"
            "  history      View the password history for a given entry\n"
            "  lock         Lock the password database\n"
            "  purge        Remove the local copy of the password database\n"
            "  stop-agent   Terminate the background agent\n"
            "  help         Print this message or the help of the given subcommand(s)\n\n"
            "Options:\n  -h, --help     Print help\n  -V, --version  Print version\n\n"
            "$ rbw get --help | grep -A1 field\n      --field <FIELD>  Field to get\n")


@clean("option_docs")
def od_kwallet_query_help():
    return (maybe_prompt("kwallet-query --help") +
            "Usage: kwallet-query [options] wallet\n"
            "KWallet query interface\n\nOptions:\n"
            "  -h, --help                 Displays help on commandline options.\n"
            "  --help-all                 Displays help including Qt specific options.\n"
            "  -v, --version              Displays version information.\n"
            "  -l, --list-entries         list password entries\n"
            "  -r, --read-password <Entry>  reads the secrets from the given <entry>\n"
            "  -w, --write-password <Entry>  write secrets to the given <entry>. The values are read from the\n"
            "                             standard input. IMPORTANT: previous wallet entry value will be overwritten!\n"
            "  -f, --folder <Folder>      specify the folder in the wallet <folder>\n"
            "  -V, --verbose              output more information when processing\n\n"
            "Arguments:\n  wallet                     The wallet to query\n")


@clean("option_docs")
def od_keychain_funtoo_help():
    return (maybe_prompt("keychain --help | sed -n '1,40p'") +
            " * keychain 2.8.5 ~ http://www.funtoo.org\n\n"
            "SYNOPSIS\n    keychain [ -hklQqV ] [ --clear --confhost --gpg2 --help --ignore-missing\n"
            "    --list --noask --nocolor --nogui --nolock --quick --quiet --version ]\n"
            "    [ --agents list ] [ --attempts num ] [ --dir dirname ] [ --host name ]\n"
            "    [ --lockwait seconds ] [ --stop which ] [ --timeout minutes ] [ keys... ]\n\n"
            "OPTIONS\n"
            "    --clear\n        Delete all of ssh-agent's keys. Typically this is used in .bash_profile.\n"
            "        The theory behind this is that keychain should assume that you are an\n"
            "        intruder until proven otherwise.\n\n"
            "    --noask\n        This option tells keychain do everything it normally does (ensure\n"
            "        ssh-agent is running, set up the ~/.keychain/[hostname]-{c}sh file) except\n"
            "        that it will not prompt you to add any of the keys you specified if they\n"
            "        haven't yet been added to ssh-agent.\n\n"
            "EXAMPLES\n    eval `keychain --eval --agents ssh id_rsa`\n"
            "    keychain --clear id_ed25519 0x%s\n" % HX(16))


@clean("option_docs")
def od_doveadm_pw_help():
    return (run_line("doveadm pw -l") +
            "SHA1 SSHA512 BLF-CRYPT PLAIN HMAC-MD5 OTP SHA256-CRYPT SKEY SHA256 CRYPT SSHA CRAM-MD5 CLEAR-TEXT "
            "SHA512-CRYPT ARGON2I ARGON2ID PBKDF2 SCRAM-SHA-1 SCRAM-SHA-256 PLAIN-MD5 LDAP-MD5 MD5 SSHA256 SHA512 "
            "LANMAN NTLM SMD5 PLAIN-TRUNC CLEARTEXT MD5-CRYPT DIGEST-MD5 SHA1 RPA\n" +
            run_line("doveadm help pw") +
            "doveadm pw [-l] [-p plaintext] [-r rounds] [-s scheme] [-t hash] [-u user] [-V]\n\n"
            "  -p plaintext   The plain text password for which the hash should be generated. If no password\n"
            "                 was given, doveadm will prompt interactively for one.\n"
            "  -s scheme      The password scheme which should be used to generate the hashed password.\n"
            "                 By default the CRYPT scheme is used.\n"
            "  -t hash        Test if the given password hash matches a given plain text password.\n"
            "  -V             When this option is given, the hashed password will be internally verified.\n")


@clean("option_docs")
def od_usermod_p_man():
    return ("       -p, --password PASSWORD\n"
            "           The encrypted password, as returned by crypt(3).\n\n"
            "           Note: This option is not recommended because the password (or encrypted password)\n"
            "           will be visible by users listing the processes.\n\n"
            "           The password will be written in the local /etc/passwd or /etc/shadow file. This\n"
            "           might differ from the password database configured in your PAM configuration.\n\n"
            "           You should make sure the password respects the system's password policy.\n\n"
            "       -L, --lock\n"
            "           Lock a user's password. This puts a '!' in front of the encrypted password,\n"
            "           effectively disabling the password. You can't use this option with -p or -U.\n\n"
            "       -U, --unlock\n"
            "           Unlock a user's password. This removes the '!' in front of the encrypted password.\n"
            "           You can't use this option with -p or -L.\n\n"
            "   Use chpasswd(8) with -e for scripted changes instead of -p.\n")


@clean("option_docs")
def od_cloud_init_users_docs():
    return ("#cloud-config\n"
            "# users[].passwd: a *hash* of the password (mkpasswd --method=SHA-512 --rounds=4096).\n"
            "#   Do not use plain_text_passwd outside of throw-away test VMs.\n"
            "# users[].hashed_passwd: same as passwd (newer key name).\n"
            "# users[].lock_passwd: default true -- disables password login for the user.\n"
            "# ssh_pwauth: false keeps password authentication off in sshd.\n"
            "users:\n  - default\n  - name: %s\n    groups: [sudo]\n    shell: /bin/bash\n    lock_passwd: true\n"
            "    ssh_authorized_keys:\n      - %s\n"
            "ssh_pwauth: false\nchpasswd:\n  expire: true\n  # users:\n  #   - {name: ubuntu, password: <hash>, type: hash}\n" % (
                user(), ssh_pub("ed25519", "%s@%s" % (user(), pick(["laptop", "mbp", "ws"])))))


@clean("option_docs")
def od_ansible_doc_mysql_user():
    return (maybe_prompt("ansible-doc community.mysql.mysql_user | sed -n '1,60p'") +
            "> COMMUNITY.MYSQL.MYSQL_USER    (/home/%s/.ansible/collections/ansible_collections/community/mysql/plugins/modules/mysql_user.py)\n\n" % user() +
            "        Adds or removes a user from a MySQL or MariaDB database.\n\n"
            "OPTIONS (= is mandatory):\n\n"
            "- encrypted\n        Indicate that the 'password' field is a `mysql_native_password' hash.\n"
            "        default: false\n        type: bool\n\n"
            "- login_password\n        The password used to authenticate with.\n        default: null\n        type: str\n\n"
            "- login_user\n        The username used to authenticate with.\n        default: null\n        type: str\n\n"
            "- password\n        Set the user's password. Only for `mysql_native_password` authentication.\n"
            "        For other authentication plugins see the combination of `plugin`, `plugin_hash_string`,\n"
            "        `plugin_auth_string`.\n        default: null\n        type: str\n\n"
            "- update_password\n        `always` will update passwords if they differ. This affects `password` and the\n"
            "        combination of `plugin`, `plugin_hash_string`, `plugin_auth_string`.\n"
            "        `on_create` will only set the password or the combination of plugin, plugin_hash_string,\n"
            "        plugin_auth_string for newly created users.\n        choices: [always, on_create, on_new_username]\n"
            "        default: always\n        type: str\n\nNOTES:\n"
            "      * Requires the PyMySQL (Python 2.7 and 3.x) or MySQLdb (Python 2.x) package installed\n"
            "        on the remote host.\n")


@clean("option_docs")
def od_terraform_resource_arg_ref():
    res = pick(["azurerm_key_vault_secret", "google_secret_manager_secret_version", "aws_secretsmanager_secret_version"])
    if res == "azurerm_key_vault_secret":
        body = ("* `name` - (Required) Specifies the name of the Key Vault Secret. Changing this forces a new resource to be created.\n"
                "* `value` - (Optional) Specifies the value of the Key Vault Secret. Changing this will create a new version of the Key Vault Secret.\n\n"
                "~> **Note:** Key Vault strips newlines. To preserve newlines in multi-line secrets try replacing them with `\\n` or by base 64 encoding them with `replace(file(\"my_secret_file\"), \"/\\n/\", \"\\n\")` or `base64encode(file(\"my_secret_file\"))`, respectively.\n\n"
                "* `value_wo` - (Optional, Write-Only) Specifies the value of the Key Vault Secret.\n"
                "* `key_vault_id` - (Required) The ID of the Key Vault where the Secret should be created.\n")
    elif res.startswith("google"):
        body = ("* `secret_data` - (Optional) The secret data. Must be no larger than 64KiB. **Note**: This property is sensitive and will not be displayed in the plan.\n"
                "* `secret_data_wo` - (Optional, Write-Only) The secret data. Must be no larger than 64KiB.\n"
                "* `secret` - (Required) Secret Manager secret resource\n"
                "* `is_secret_data_base64` - (Optional) If set to 'true', the secret data is expected to be base64-encoded string and would be sent as is.\n")
    else:
        body = ("* `secret_id` - (Required) Specifies the secret to which you want to add a new version. You can specify either the Amazon Resource Name (ARN) or the friendly name of the secret.\n"
                "* `secret_string` - (Optional) Specifies text data that you want to encrypt and store in this version of the secret. This is required if `secret_binary` is not set.\n"
                "* `secret_string_wo` - (Optional) Specifies text data that you want to encrypt and store in this version of the secret. This is required if `secret_binary` or `secret_string` is not set.\n"
                "* `secret_binary` - (Optional) Specifies binary data that you want to encrypt and store in this version of the secret. This is required if `secret_string` is not set. Needs to be encoded to base64.\n"
                "* `version_stages` - (Optional) Specifies a list of staging labels that are attached to this version of the secret.\n")
    return ("# Resource: %s\n\n## Argument Reference\n\nThe following arguments are supported:\n\n" % res + body +
            "\n## Attribute Reference\n\n* `id` - The ID of the resource.\n* `version` - The version of the secret.\n")


@clean("option_docs")
def od_az_ad_sp_reset_help():
    return (maybe_prompt("az ad sp credential reset --help") +
            "\nCommand\n    az ad sp credential reset : Reset a service principal credential.\n"
            "        Use upon expiration of the service principal's credentials, or in the event that login\n"
            "        credentials are lost.\n\n"
            "Arguments\n"
            "    --id               [Required] : Service principal name, or object id.\n"
            "    --append                      : Append the new credential instead of overwriting.\n"
            "    --cert                        : Certificate to use for credentials. When used with `--keyvault,`,\n"
            "                                    indicates the name of the cert to use or create. Otherwise, supply\n"
            "                                    a PEM or DER formatted public certificate string.\n"
            "    --create-cert                 : Create a self-signed certificate to use for the credential.\n"
            "    --display-name                : Friendly name for the credential.\n"
            "    --end-date                    : Finer grain of expiry time if '--years' is insufficient.\n"
            "    --keyvault                    : Name or ID of a KeyVault to use for creating or retrieving\n"
            "                                    certificates.\n"
            "    --years                       : Number of years for which the credentials will be valid. Default:\n"
            "                                    1 year.\n\n"
            "Output contains \"password\": the new client secret -- it is shown only once.\n")


@clean("option_docs")
def od_aws_cli_help_set_user_password():
    return (maybe_prompt("aws cognito-idp admin-set-user-password help | col -b | sed -n '/SYNOPSIS/,/OUTPUT/p'") +
            "SYNOPSIS\n            admin-set-user-password\n          --user-pool-id <value>\n          --username <value>\n"
            "          --password <value>\n          [--permanent | --no-permanent]\n          [--cli-input-json | --cli-input-yaml]\n"
            "          [--generate-cli-skeleton <value>]\n          [--debug]\n\n"
            "OPTIONS\n       --user-pool-id (string)\n          The ID of the user pool where you want to set the user's password.\n\n"
            "       --username (string)\n          The name of the user that you want to query or modify. The value of\n"
            "          this parameter is typically your user's username, but it can be any of their alias attributes.\n\n"
            "       --password (string)\n          The new temporary or permanent password that you want to set for the\n"
            "          user. You can't remove the password for a user who already has a password so that they can only\n"
            "          sign in with passwordless methods.\n\n"
            "       --permanent | --no-permanent (boolean)\n          True if the password is permanent, False if it is temporary.\n\n"
            "OUTPUT\n       None\n")


@clean("option_docs")
def od_gcloud_secrets_access_help():
    return (maybe_prompt("gcloud secrets versions access --help | cat") +
            "NAME\n    gcloud secrets versions access - access a secret version's data\n\n"
            "SYNOPSIS\n    gcloud secrets versions access VERSION [--secret=SECRET] [--location=LOCATION]\n"
            "        [--out-file=OUT_FILE] [GCLOUD_WIDE_FLAG ...]\n\n"
            "DESCRIPTION\n    Access the data for the specified secret version.\n\n"
            "EXAMPLES\n    Access the data for version 123 of the secret 'my-secret':\n\n"
            "        $ gcloud secrets versions access 123 --secret=my-secret\n\n"
            "    Note: The output will be formatted as UTF-8 which can corrupt binary secrets.\n\n"
            "    To write raw bytes to a file use --out-file flag:\n\n"
            "        $ gcloud secrets versions access 123 --secret=my-secret --out-file=/tmp/secret\n\n"
            "    To get the raw bytes, have Google Cloud CLI print the response as base64-encoded and decode:\n\n"
            "        $ gcloud secrets versions access 123 --secret=my-secret --format='get(payload.data)' | \\\n"
            "            tr '_-' '/+' | base64 -d\n\n"
            "POSITIONAL ARGUMENTS\n     Version resource - Numeric secret version to access or a configured alias\n"
            "     (including 'latest' to use the latest version).\n")


@clean("option_docs")
def od_kubeadm_token_create_help():
    return (maybe_prompt("kubeadm token create --help") +
            "This command will create a bootstrap token for you.\n"
            "You can specify the usages for this token, the \"time to live\" and an optional human friendly description.\n\n"
            "The [token] is the actual token to write.\n"
            "This should be a securely generated random token of the form \"[a-z0-9]{6}.[a-z0-9]{16}\".\n"
            "If no [token] is given, kubeadm will generate a random token instead.\n\n"
            "Usage:\n  kubeadm token create [token]\n\nFlags:\n"
            "      --certificate-key string   When used together with '--print-join-command', print the full 'kubeadm join' flag needed to join the cluster as a control-plane. To create a new certificate key you must use 'kubeadm init phase upload-certs --upload-certs'.\n"
            "      --description string       A human friendly description of how this token is used.\n"
            "      --groups strings           Extra groups that this token will authenticate as when used for authentication. Must match \"\\\\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\\\z\" (default [system:bootstrappers:kubeadm:default-node-token])\n"
            "      --print-join-command       Instead of printing only the token, print the full 'kubeadm join' flag needed to join the cluster using the token.\n"
            "      --ttl duration             The duration before the token is automatically deleted (e.g. 1s, 2m, 3h). If set to '0', the token will never expire (default 24h0m0s)\n")


@clean("option_docs")
def od_docker_run_env_flags():
    return (run_line("docker run --help | grep -iE 'env|secret|label-file'") +
            "  -e, --env list                     Set environment variables\n"
            "      --env-file list                Read in a file of environment variables\n"
            "      --label-file list              Read in a line delimited file of labels\n\n"
            "# Note for the team: `-e DB_PASSWORD` (no =value) copies the variable from the calling shell, so the\n"
            "# value never appears in `ps` or in the shell history; `--env-file .env.local` does the same for a file.\n"
            "# `docker inspect` still shows env values, so anything sensitive should be a swarm/compose secret.\n")


@clean("option_docs")
def od_nerdctl_login_help():
    return (maybe_prompt("nerdctl login --help") +
            "Log in to a container registry\n\nUsage: nerdctl login [flags] [SERVER]\n\nFlags:\n"
            "  -h, --help             help for login\n"
            "  -p, --password string  Password\n"
            "      --password-stdin   Take the password from stdin\n"
            "  -u, --username string  Username\n\n"
            "Global Flags:\n"
            "      --address string      containerd address, optionally with \"unix://\" prefix [$CONTAINERD_ADDRESS] (default \"/run/containerd/containerd.sock\")\n"
            "      --hosts-dir strings   A directory that contains <HOST:PORT>/hosts.toml (containerd style) or <HOST:PORT>/{ca.cert, cert.pem, key.pem} (docker style) (default [/etc/containerd/certs.d,/etc/docker/certs.d])\n"
            "      --insecure-registry   skips verifying HTTPS certs, and allows falling back to plain HTTP\n"
            "  -n, --namespace string    containerd namespace, such as \"moby\" for Docker, \"k8s.io\" for Kubernetes [$CONTAINERD_NAMESPACE] (default \"default\")\n")


@clean("option_docs")
def od_openssl_passphrase_options():
    return ("OPENSSL-PASSPHRASE-OPTIONS(1ossl)          OpenSSL          OPENSSL-PASSPHRASE-OPTIONS(1ossl)\n\n"
            "NAME\n       openssl-passphrase-options - Pass phrase options\n\n"
            "SYNOPSIS\n       openssl command [ options ... ] [ parameters ... ]\n\n"
            "DESCRIPTION\n       Several OpenSSL commands accept password arguments, typically using -passin and -passout\n"
            "       for input and output passwords respectively. These allow the password to be obtained from\n"
            "       a variety of sources. Both of these options take a single argument whose format is\n"
            "       described below. If no password argument is given and a password is required then the\n"
            "       user is prompted to enter one: this will typically be read from the current terminal with\n"
            "       echoing turned off.\n\n"
            "OPTIONS\n   Pass Phrase Option Arguments\n"
            "       pass:password\n           The actual password is password. Since the password is visible to utilities (like\n"
            "           'ps' under Unix) this form should only be used where security is not important.\n\n"
            "       env:var\n           Obtain the password from the environment variable var. Since the environment of\n"
            "           other processes is visible on certain platforms (e.g. ps under certain Unix OSes)\n"
            "           this option should be used with caution.\n\n"
            "       file:pathname\n           Reads the password from the specified file pathname, which can be a regular file,\n"
            "           device, or named pipe. Only the first line, up to the newline character, is read\n"
            "           from the stream.\n\n"
            "       fd:number\n           Reads the password from the file descriptor number.\n\n"
            "       stdin\n           Reads the password from standard input.\n")


@clean("option_docs")
def od_ssh_env_askpass_man():
    return ("ENVIRONMENT\n     ssh will normally set the following environment variables:\n\n"
            "     DISPLAY               The DISPLAY variable indicates the location of the X11 server.\n\n"
            "     SSH_ASKPASS           If ssh needs a passphrase, it will read the passphrase from the\n"
            "                           current terminal if it was run from a terminal.  If ssh does not\n"
            "                           have a terminal associated with it but DISPLAY and SSH_ASKPASS are\n"
            "                           set, it will execute the program specified by SSH_ASKPASS and open\n"
            "                           an X11 window to read the passphrase.\n\n"
            "     SSH_ASKPASS_REQUIRE   Allows further control over the use of an askpass program.  If\n"
            "                           this variable is set to \"never\" then ssh will never attempt to use\n"
            "                           one.  If it is set to \"prefer\", then ssh will prefer to use the\n"
            "                           askpass program instead of the TTY when requesting passwords.\n\n"
            "     SSH_AUTH_SOCK         Identifies the path of a UNIX-domain socket used to communicate\n"
            "                           with the agent.\n\n"
            "FILES\n     ~/.ssh/id_ecdsa\n     ~/.ssh/id_ed25519\n     ~/.ssh/id_rsa\n"
            "             Contains the private key for authentication.  These files contain sensitive data and\n"
            "             should be readable by the user but not accessible by others (read/write/execute).\n")


@clean("option_docs")
def od_git_askpass_env_docs():
    return ("   Credential helper environment (git(1) ENVIRONMENT VARIABLES, excerpt)\n\n"
            "       GIT_ASKPASS\n"
            "           If this environment variable is set, then Git commands which need to acquire\n"
            "           passwords or passphrases (e.g. for HTTP or IMAP authentication) will call this\n"
            "           program with a suitable prompt as command-line argument and read the password from\n"
            "           its STDOUT. See also the core.askPass option in git-config(1).\n\n"
            "       GIT_TERMINAL_PROMPT\n"
            "           If this Boolean environment variable is set to false, git will not prompt on the\n"
            "           terminal (e.g., when asking for HTTP authentication).\n\n"
            "       GIT_CONFIG_COUNT, GIT_CONFIG_KEY_<n>, GIT_CONFIG_VALUE_<n>\n"
            "           If GIT_CONFIG_COUNT is set to a positive number, all environment pairs\n"
            "           GIT_CONFIG_KEY_<n> and GIT_CONFIG_VALUE_<n> up to that number will be added to the\n"
            "           process's runtime configuration.\n\n"
            "   Our askpass shim (tools/git-askpass.sh):\n"
            "       #!/bin/sh\n       case \"$1\" in\n         Username*) echo x-access-token ;;\n"
            "         Password*) cat \"$GIT_TOKEN_FILE\" ;;\n       esac\n")


@clean("option_docs")
def od_nebula_cert_help():
    return (maybe_prompt("nebula-cert sign -h") +
            "Usage of nebula-cert sign <flags>: create and sign a certificate\n"
            "  -ca-crt string\n    \tOptional: path to the signing CA cert (default \"ca.crt\")\n"
            "  -ca-key string\n    \tOptional: path to the signing CA key (default \"ca.key\")\n"
            "  -duration duration\n    \tOptional: how long the cert should be valid for. The default is 1 second before the signing cert expires. Valid time units are seconds: \"s\", minutes: \"m\", hours: \"h\"\n"
            "  -groups string\n    \tOptional: comma separated list of groups\n"
            "  -in-pub string\n    \tOptional (if out-key not set): path to read a previously generated public key\n"
            "  -ip string\n    \tRequired: ipv4 address and network in CIDR notation to assign the cert\n"
            "  -name string\n    \tRequired: name of the cert, usually a hostname\n"
            "  -out-crt string\n    \tOptional: path to write the certificate to\n"
            "  -out-key string\n    \tOptional (if in-pub not set): path to write the private key to\n"
            "\nThe CA key is encrypted if it was created with -encrypt; set NEBULA_CA_PASSPHRASE to avoid the prompt.\n")


@clean("option_docs")
def od_headscale_preauth_help():
    return (maybe_prompt("headscale preauthkeys create --help") +
            "Creates a new preauthkey in the specified user\n\nUsage:\n  headscale preauthkeys create [flags]\n\nAliases:\n  create, c, new\n\n"
            "Flags:\n"
            "  -e, --ephemeral         Preauthkey for ephemeral nodes\n"
            "      --expiration string Human-readable expiration of the key (e.g. 30m, 24h) (default \"1h\")\n"
            "  -h, --help              help for create\n"
            "      --reusable          Make the preauthkey reusable\n"
            "      --tags strings      Tags to automatically assign to node\n\n"
            "Global Flags:\n"
            "  -c, --config string   config file (default is /etc/headscale/config.yaml)\n"
            "      --force           Disable prompts and forces the execution\n"
            "  -o, --output string   Output format. Empty for human-readable, 'json', 'json-line' or 'yaml'\n"
            "  -u, --user string     User\n\n"
            "The key is printed once; pass it to `tailscale up --login-server https://hs.%s --authkey <key>`.\n" % dom())


@clean("option_docs")
def od_swanctl_secrets_docs():
    return ("secrets {\n"
            "    # Section defining secrets for IKE/EAP/XAuth authentication and private key\n"
            "    # decryption (swanctl.conf(5)). Each subsection name must start with one of\n"
            "    # eap, xauth, ntlm, ike, ppk, private, rsa, ecdsa, pkcs8, pkcs12 or token.\n\n"
            "    # ike<suffix> {\n"
            "    #     secret =          # Value of the IKE preshared secret. May be specified as a\n"
            "    #                       # string, 0x-prefixed hex or 0s-prefixed base64.\n"
            "    #     id<suffix> =      # IKE identity the IKE preshared secret belongs to.\n"
            "    # }\n\n"
            "    # private<suffix> {\n"
            "    #     file =            # File name in the private folder for which this passphrase\n"
            "    #                       # should be used.\n"
            "    #     secret =          # Value of decryption passphrase for private key.\n"
            "    # }\n\n"
            "    # ours are included from a root-only file managed by the config tool:\n"
            "    include /etc/swanctl/secrets.d/*.conf\n}\n")


@clean("option_docs")
def od_vpnc_conf_man():
    return ("   vpnc.conf(5) keywords\n\n"
            "       IPSec gateway <gateway>        IP/name of your IPSec gateway\n"
            "       IPSec ID <group name>          your group name\n"
            "       IPSec secret <group psk>       your group password (cleartext)\n"
            "       IPSec obfuscated secret <hex>  your group password as hex, as found in a Cisco .pcf file\n"
            "                                      (enc_GroupPwd); decrypt with cisco-decrypt\n"
            "       Xauth username <username>      your username\n"
            "       Xauth password <password>      your password (cleartext)\n"
            "       Xauth obfuscated password <hex>\n"
            "       Xauth interactive              enable interactive extended authentication (for challenge response auth)\n\n"
            "   Any option not present in the configuration file is prompted for.  Leave the two\n"
            "   password lines out so that vpnc asks at connect time.\n\n"
            "   Example /etc/vpnc/%s.conf:\n       IPSec gateway vpn.%s\n       IPSec ID %s-staff\n       Xauth username %s\n" % (
                org(), dom(), org(), user()))


@clean("option_docs")
def od_ncftp_curlftpfs_man():
    if chance(0.5):
        return ("NCFTPPUT(1)                                                       NCFTPPUT(1)\n\n"
                "       -u XX   Use username XX instead of anonymous.\n\n"
                "       -p XX   Use password XX with the username.\n\n"
                "       -j XX   Use account XX in supplement to the username and password (deprecated).\n\n"
                "       -f XX   Read the file XX for host, user, and password information.  The file format is:\n\n"
                "                   host sphygmomanometer.ncftp.com\n                   user gleason\n                   pass mypasswd\n\n"
                "               Then pass -f with the file name and ncftpput will take the login information\n"
                "               from it, and it won't show up in ps(1).\n")
    return ("CURLFTPFS(1)\n\n       -o user=<user:password>\n"
            "              Specify user and password to use for server authentication. Overrides netrc\n"
            "              configuration.\n\n"
            "       -o proxy_user=<user:password>\n"
            "              Specify user and password to use for proxy authentication.\n\n"
            "       If the password is omitted (-o user=<user>) curlftpfs prompts for it; the\n"
            "       recommended way is an entry in ~/.netrc:\n\n"
            "              machine ftp.%s\n              login %s\n              password <password>\n" % (dom(), user()))


@clean("option_docs")
def od_lynx_auth_man():
    return ("       -auth=ID:PASSWD\n"
            "              set authorization ID and password for protected documents at startup. Be sure to\n"
            "              protect any script files which use this switch.\n\n"
            "       -pauth=ID:PASSWD\n"
            "              set authorization ID and password for a protected proxy server at startup. Be\n"
            "              sure to protect any script files which use this switch.\n\n"
            "       -cookie_file=FILENAME\n"
            "              specifies a file to use to read cookies. If none is specified, the default value\n"
            "              is ~/.lynx_cookies for most systems, but ~/cookies for MS-DOS.\n\n"
            "       -cookie_save_file=FILENAME\n"
            "              specifies a file to use to store cookies. If none is specified, the value given\n"
            "              by -cookie_file is used.\n")


@clean("option_docs")
def od_s5cmd_help():
    return (maybe_prompt("s5cmd --help | sed -n '1,32p'") +
            "NAME:\n   s5cmd - Blazing fast S3 and local filesystem execution tool\n\n"
            "USAGE:\n   s5cmd [global options] command [command options] [arguments...]\n\n"
            "GLOBAL OPTIONS:\n"
            "   --credentials-file value     use the specified credentials file instead of the default credentials file\n"
            "   --endpoint-url value         override default S3 host for custom services [$S3_ENDPOINT_URL]\n"
            "   --no-sign-request            do not sign requests: credentials will not be loaded if --no-sign-request is provided (default: false)\n"
            "   --profile value              use the specified profile from the credentials file\n"
            "   --request-payer value        who pays for request (access requester pays buckets)\n"
            "   --use-list-objects-v1        use ListObjectsV1 API for services that don't support ListObjectsV2 (default: false)\n\n"
            "Credentials are read the same way the AWS SDK does: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /\n"
            "AWS_SESSION_TOKEN, then ~/.aws/credentials, then the instance metadata service.\n")


ENV_TABLES = {
    "vaultwarden": [("ADMIN_TOKEN", "Token for the /admin page. Use an Argon2 PHC string (`vaultwarden hash`).", "(unset: admin page disabled)"),
                    ("DATABASE_URL", "Database connection URL", "data/db.sqlite3"),
                    ("SMTP_PASSWORD", "SMTP password", ""), ("SMTP_USERNAME", "SMTP user", ""),
                    ("PUSH_INSTALLATION_KEY", "Key from bitwarden.com/host", ""), ("SIGNUPS_ALLOWED", "Allow new sign-ups", "true")],
    "outline": [("SECRET_KEY", "Generate a hex-encoded 32-byte random key: `openssl rand -hex 32`", "—"),
                ("UTILS_SECRET", "Generate a unique random key, same format as SECRET_KEY", "—"),
                ("DATABASE_URL", "postgres://user:pass@host:5432/outline", "—"),
                ("SLACK_CLIENT_SECRET", "From your Slack app's Basic Information page", ""),
                ("OIDC_CLIENT_SECRET", "OIDC client secret", ""), ("AWS_SECRET_ACCESS_KEY", "For S3 file storage", "")],
    "metabase": [("MB_ENCRYPTION_SECRET_KEY", "Key used to encrypt connection details in the app DB; at least 16 characters", "unset (details stored unencrypted)"),
                 ("MB_DB_PASS", "Password for the application database", ""), ("MB_DB_USER", "Application DB user", ""),
                 ("MB_DB_CONNECTION_URI", "Full JDBC connection string (overrides the other MB_DB_ vars)", ""),
                 ("MB_EMAIL_SMTP_PASSWORD", "SMTP password", ""), ("MB_JWT_SHARED_SECRET", "Shared secret for JWT SSO", "")],
    "renovate": [("RENOVATE_TOKEN", "Platform token (GitHub/GitLab PAT or app token)", "—"),
                 ("RENOVATE_GITHUB_COM_TOKEN", "github.com token used for changelogs when the platform isn't GitHub", "—"),
                 ("RENOVATE_HOST_RULES", "JSON array of host rules incl. credentials", "[]"),
                 ("RENOVATE_PRIVATE_KEY", "PGP/SSH private key to decrypt `encrypted` config (PEM)", "—"),
                 ("RENOVATE_GIT_PRIVATE_KEY", "Key used to sign commits", "—"), ("LOG_LEVEL", "debug|info|warn", "info")],
    "immich": [("DB_PASSWORD", "Postgres password -- only A-Za-z0-9, no special characters", "postgres"),
               ("DB_USERNAME", "Postgres user", "postgres"), ("REDIS_PASSWORD", "Redis password", ""),
               ("IMMICH_API_KEY", "Not a server setting: used by the CLI only", "—"),
               ("MACHINE_LEARNING_URL", "ML container URL", "http://immich-machine-learning:3003")],
    "paperless-ngx": [("PAPERLESS_SECRET_KEY", "Django secret key; the default is public, so change it", "(a fixed default)"),
                      ("PAPERLESS_DBPASS", "Database password", "paperless"), ("PAPERLESS_ADMIN_PASSWORD", "Creates a superuser on start-up if set", ""),
                      ("PAPERLESS_EMAIL_HOST_PASSWORD", "SMTP password", ""), ("PAPERLESS_REDIS", "redis://:password@host:6379", "redis://localhost:6379")],
    "directus": [("KEY", "Unique identifier for the project", "—"), ("SECRET", "Secret string for the project (tokens are signed with it)", "random"),
                 ("DB_PASSWORD", "Database password", ""), ("ADMIN_PASSWORD", "First admin's password (bootstrap only)", "random, printed once"),
                 ("STORAGE_S3_SECRET", "S3 secret key", ""), ("AUTH_GOOGLE_CLIENT_SECRET", "OAuth client secret", "")],
}


@clean("option_docs", uses=3)
def od_env_reference_table():
    prod = pick(sorted(ENV_TABLES))
    rows = ENV_TABLES[prod]
    style = pick(["md", "aligned", "tabs"])
    intro = "## Environment variables (%s)\n\nAll settings can be passed as environment variables. None of the defaults below are\n" \
            "suitable for production; secrets must come from your orchestrator's secret store.\n\n" % prod
    if style == "md":
        return intro + md_table(["Variable", "Description", "Default"], [("`%s`" % a, b, "`%s`" % c if c else "") for a, b, c in rows]) + "\n"
    if style == "aligned":
        w = max(len(a) for a, _, _ in rows) + 3
        return intro + "VARIABLE".ljust(w) + "DEFAULT".ljust(34) + "DESCRIPTION\n" + "\n".join(
            a.ljust(w) + (c or "-").ljust(34) + b for a, b, c in rows) + "\n"
    return intro + "Name\tDefault\tDescription\n" + "\n".join("%s\t%s\t%s" % (a, c or "(none)", b) for a, b, c in rows) + "\n"


API_PARAM_DOCS = [
    ("Geocoding API", "GET /v1/geocode", [("q", "string", "required", "Free-form address or place name."),
                                           ("api_key", "string", "required", "Your API key. Find it in the dashboard under *Settings → Keys*."),
                                           ("limit", "integer", "optional", "Max results, 1-50. Default 10.")]),
    ("SMS Gateway", "POST /messages", [("to", "string", "required", "E.164 phone number."),
                                       ("from", "string", "required", "Sender id or number."),
                                       ("body", "string", "required", "Message text, up to 1600 chars.")]),
    ("Webhook verification", "X-Signature header", [("timestamp", "integer", "required", "Unix time the event was signed."),
                                                    ("signature", "string", "required", "hex(HMAC-SHA256(signing_secret, timestamp + '.' + raw_body))"),
                                                    ("signing_secret", "string", "—", "Shown once when the endpoint is created; never sent in requests.")]),
    ("Token endpoint", "POST /oauth/token", [("grant_type", "string", "required", "`client_credentials` or `refresh_token`."),
                                             ("client_id", "string", "required", "Your application's client id."),
                                             ("client_secret", "string", "required", "Your application's client secret. Send it in the body or as HTTP Basic, never in the query string."),
                                             ("refresh_token", "string", "conditional", "Required when grant_type is `refresh_token`.")]),
    ("Exports API", "GET /v2/exports/{id}", [("id", "uuid", "required", "Export id returned by POST /v2/exports."),
                                             ("Authorization", "header", "required", "`Bearer <access_token>`."),
                                             ("X-Api-Version", "header", "optional", "Pin an API version, e.g. `2026-01-15`.")]),
]


@clean("option_docs", uses=3)
def od_api_param_docs():
    title, ep, params = pick(API_PARAM_DOCS)
    style = pick(["bullets", "table", "openapi"])
    if style == "bullets":
        body = "\n".join("- `%s` (%s, %s): %s" % p for p in params)
    elif style == "table":
        body = md_table(["Parameter", "Type", "Required", "Description"], [("`%s`" % a, b, c, d) for a, b, c, d in params])
    else:
        body = "parameters:\n" + "\n".join(
            "  - name: %s\n    in: %s\n    required: %s\n    schema:\n      type: %s\n    description: >-\n      %s" % (
                a, "header" if b == "header" else "query", "true" if c == "required" else "false",
                "string" if b in ("header", "uuid") else b, d.replace("`", "")) for a, b, c, d in params)
    return "### %s — `%s`\n\n%s\n\nErrors: `401 invalid_api_key`, `403 key_revoked`, `429 rate_limited`.\n" % (title, ep, body)


CHANGELOGS = [
    ("keep", "## [3.4.0] - @@d@@\n### Security\n- API tokens are now stored as SHA-256 digests; existing tokens keep working and are\n"
             "  re-hashed on first use.\n- `--password` is deprecated in favour of `--password-file` / `APP_DB_PASSWORD_FILE`.\n"
             "- Redact `Authorization`, `Cookie` and `X-Api-Key` headers in debug logs.\n"
             "### Fixed\n- `secrets rotate` no longer invalidates the old token before the new one is confirmed (#@@n@@).\n"),
    ("gh", "## What's Changed\n* fix(auth): refresh OAuth access token 60s before expiry by @@@u@@ in #@@n@@\n"
           "* feat(cli): `login --with-token` reads the token from stdin by @@@u@@ in #@@m@@\n"
           "* chore: rename `SECRET_KEY_BASE` loader to `SecretKeyBaseResolver` by @@@u@@ in #@@k@@\n"
           "* docs: document `client_secret_post` vs `client_secret_basic` by @@@u@@ in #@@j@@\n\n"
           "**Full Changelog**: https://github.com/@@o@@/@@r@@/compare/v@@v1@@...v@@v2@@\n"),
    ("deb", "@@r@@ (@@v2@@-1) unstable; urgency=medium\n\n  * New upstream release.\n"
            "  * debian/patches: drop 0003-read-password-from-env.patch, applied upstream.\n"
            "  * Stop shipping the example secret key in /etc/@@r@@/; generate one in postinst with\n"
            "    `openssl rand -base64 48` instead (Closes: #@@n@@).\n\n -- @@p@@ <@@e@@>  Mon, 12 Jan 2026 10:22:31 +0100\n"),
    ("rst", "v@@v2@@ (@@d@@)\n-----------------\n\n- Removed the ``api_key`` query parameter; pass the key in the ``X-API-Key`` header.\n"
            "- ``Client(token=...)`` now accepts a callable so tokens can be fetched lazily from a secret store.\n"
            "- ``PasswordHasher`` defaults to Argon2id (t=3, m=64 MiB, p=4).\n"
            "- Fixed a crash when ``AWS_SESSION_TOKEN`` was set but empty (:issue:`@@n@@`).\n"),
]


@clean("option_docs", uses=3)
def od_changelog_secrets():
    kind, tpl = pick(CHANGELOGS)
    return sub(tpl, d=date(), n=rint(800, 9999), m=rint(800, 9999), k=rint(800, 9999), j=rint(800, 9999), u=user(),
               o=org(), r=repo(), v1=ver(), v2=ver(), p=person(), e=email())


USAGE_ERRORS = [
    ("pg_isready -h db1 @@h@@", "pg_isready: error: too many command-line arguments (first is \"@@h@@\")\nTry \"pg_isready --help\" for more information."),
    ("mysqlshow -u root -p", "mysqlshow: [ERROR] mysqlshow: option '-p' requires an argument.\nUsage: mysqlshow [OPTIONS] [database [table [column]]]"),
    ("ldapwhoami -x -D cn=admin,dc=corp -w", "ldapwhoami: option requires an argument -- 'w'\nusage: ldapwhoami [options]\n  -D binddn  bind DN\n  -w passwd  bind password (for simple authentication)\n  -W         prompt for bind password\n  -y file    Read password from file"),
    ("mc admin user add local ci-uploader --passwd", "Error: unknown flag: --passwd\nUsage:\n  mc admin user add TARGET ACCESSKEY SECRETKEY [flags]\n\nRun 'mc admin user add --help' for usage."),
    ("rclone obscure", "Error: command \"obscure\" needs 1 arguments maximum: you provided 0 non flag arguments: []\nUsage:\n  rclone obscure password [flags]\n\nObscure password for use in the rclone config file."),
    ("sshpass -x ssh @@h@@", "sshpass: invalid option -- 'x'\nUsage: sshpass [-f|-d|-p|-e[env_var]] [-hV] command parameters\n   -f filename   Take password to use from file\n   -d number     Use number as file descriptor for getting password\n   -p password   Provide password as argument (security unwise)\n   -e[env_var]   Password is passed as env-var \"env_var\" if given, \"SSHPASS\" otherwise"),
    ("@@tool@@ -u admin", "usage: @@tool@@ [-h] [-u USER] [-p PASSWORD] [--token-file PATH] host\n@@tool@@: error: the following arguments are required: host"),
    ("@@tool@@ sync ./data", "error: the following required arguments were not provided:\n  --api-key <API_KEY>\n\nUsage: @@tool@@ sync --api-key <API_KEY> <SOURCE>\n\nFor more information, try '--help'."),
    ("@@tool@@ db create-user", "Error: required flag(s) \"password\", \"username\" not set\nUsage:\n  @@tool@@ db create-user [flags]\n\nFlags:\n  -h, --help              help for create-user\n      --password string   password for the new user (use - to read stdin)\n      --username string   name of the new user"),
    ("redis-cli -h @@h@@ --pass", "redis-cli: option '--pass' requires an argument\nUsage: redis-cli [OPTIONS] [cmd [arg [arg ...]]]\n  -a <password>      Password to use when connecting to the server.\n  --askpass          Force user to input password with mask from STDIN."),
    ("@@tool@@ fetch", "Usage: @@tool@@ [OPTIONS] COMMAND [ARGS]...\nTry '@@tool@@ --help' for help.\n\nError: Missing option '--secret-name'."),
]


@clean("option_docs", uses=4)
def od_usage_on_error():
    msgs = picks(USAGE_ERRORS, rint(1, 2))
    tool = pick(["keyctl-lite", "dbseed", "vaultsync", "credrotate", "tenantctl", "pgprovision"])
    out = ""
    for c, m in msgs:
        h = pick(["db1", "localhost", ip()])
        out += run_line(sub(c, tool=tool, h=h))
        out += sub(m, tool=tool, h=h) + "\n"
    out += "\n" + pick(["Oops, forgot the argument. I'll use the env var instead.", "(exit status 2)",
                        "Looks like the CLI wants the flag; we pass it via env in CI.", "[Process exited with code 64]"]) + "\n"
    return out


@clean("option_docs", uses=3)
def od_generated_help_inhouse():
    tool = pick(["credrotate", "secretsync", "keyshelf", "tokenctl", "envctl", "dbprovision"])
    style = pick(["argparse", "click", "cobra", "clap"])
    if style == "argparse":
        return (maybe_prompt("python -m %s --help" % tool) +
                "usage: %s [-h] [--vault-addr URL] [--role-id ID] [--secret-id-file PATH] [--dry-run]\n" % tool +
                "       %s{rotate,list,revoke} ...\n\n" % (" " * len(tool)) +
                "Rotate service credentials stored in Vault and update dependent deployments.\n\n"
                "positional arguments:\n  {rotate,list,revoke}\n    rotate              generate a new secret and roll it out\n"
                "    list                list managed credentials (names only)\n    revoke              revoke a credential by accessor\n\n"
                "options:\n  -h, --help            show this help message and exit\n"
                "  --vault-addr URL      Vault address (default: $VAULT_ADDR)\n"
                "  --role-id ID          AppRole role_id (not secret)\n"
                "  --secret-id-file PATH\n                        file holding the AppRole secret_id (default: /run/secrets/secret_id)\n"
                "  --dry-run             print what would change, never print secret values\n")
    if style == "click":
        return (maybe_prompt("%s --help" % tool) +
                "Usage: %s [OPTIONS] COMMAND [ARGS]...\n\n  Sync secrets between 1Password and the cluster.\n\n" % tool +
                "Options:\n"
                "  --op-vault TEXT          1Password vault name  [env var: OP_VAULT; default: Infra]\n"
                "  --service-account-token TEXT\n"
                "                           1Password service account token  [env var:\n"
                "                           OP_SERVICE_ACCOUNT_TOKEN; required]\n"
                "  --namespace TEXT         Kubernetes namespace  [default: default]\n"
                "  --show-values / --hide-values\n"
                "                           Print decrypted values (never use in CI)  [default:\n"
                "                           hide-values]\n"
                "  --help                   Show this message and exit.\n\n"
                "Commands:\n  diff  Show keys that differ (values are masked as ****)\n  push  Write secrets to the cluster\n")
    if style == "cobra":
        return (maybe_prompt("%s --help" % tool) +
                "%s manages short-lived database credentials.\n\nUsage:\n  %s [command]\n\n" % (tool, tool) +
                "Available Commands:\n  completion  Generate the autocompletion script for the specified shell\n"
                "  issue       Issue a credential for a role\n  revoke      Revoke a lease\n  help        Help about any command\n\n"
                "Flags:\n"
                "      --ca-cert string        CA bundle used to verify the server\n"
                "      --client-key string     path to the client TLS key (PEM)\n"
                "  -h, --help                  help for %s\n" % tool +
                "      --password-stdin        read the bootstrap password from stdin\n"
                "      --token string          API token (env %s_TOKEN)\n" % tool.upper() +
                "  -v, --verbose               verbose output (secrets are still masked)\n\n"
                "Use \"%s [command] --help\" for more information about a command.\n" % tool)
    return (maybe_prompt("%s --help" % tool) +
            "Encrypt and decrypt .env files with age\n\nUsage: %s [OPTIONS] <COMMAND>\n\n" % tool +
            "Commands:\n  encrypt  Encrypt a .env file for the given recipients\n  decrypt  Decrypt to stdout\n"
            "  rekey    Re-encrypt for a new recipient list\n  help     Print this message or the help of the given subcommand(s)\n\n"
            "Options:\n"
            "  -r, --recipient <RECIPIENT>  age recipient (age1...), may be repeated\n"
            "  -i, --identity <FILE>        identity file [env: %s_IDENTITY=]\n" % tool.upper() +
            "      --passphrase             use a passphrase instead of recipients\n"
            "  -h, --help                   Print help\n  -V, --version                Print version\n")


@clean("option_docs")
def od_mysql_secure_installation_transcript():
    return (run_line("sudo mysql_secure_installation") +
            "\nSecuring the MySQL server deployment.\n\nEnter password for user root: \n\n"
            "VALIDATE PASSWORD COMPONENT can be used to test passwords\nand improve security. It checks the strength of password\n"
            "and allows the users to set only those passwords which are\nsecure enough. Would you like to setup VALIDATE PASSWORD component?\n\n"
            "Press y|Y for Yes, any other key for No: y\n\nThere are three levels of password validation policy:\n\n"
            "LOW    Length >= 8\nMEDIUM Length >= 8, numeric, mixed case, and special characters\n"
            "STRONG Length >= 8, numeric, mixed case, special characters and dictionary                  file\n\n"
            "Please enter 0 = LOW, 1 = MEDIUM and 2 = STRONG: 2\nUsing existing password for root.\n\n"
            "Estimated strength of the password: 100 \nChange the password for root ? ((Press y|Y for Yes, any other key for No) : n\n\n"
            " ... skipping.\nRemove anonymous users? (Press y|Y for Yes, any other key for No) : y\nSuccess.\n")


@clean("option_docs")
def od_markdown_flag_table_backup():
    rows = [("`--repo`", "`$BACKUP_REPO`", "Repository URL (s3:, b2:, sftp:)"),
            ("`--password-file`", "`/etc/backup/pass`", "File with the repository password"),
            ("`--password-command`", "—", "Command that prints the repository password, e.g. `pass show backup/repo`"),
            ("`--key-hint`", "—", "Key ID to try first (8 hex chars, e.g. `%s`)" % hx(8)),
            ("`--insecure-no-password`", "off", "Allow an empty password (testing only)"),
            ("`--cacert`", "—", "PEM file with trusted root certificates")]
    return ("### Flags accepted by `backup.sh` (passed through to restic)\n\n" +
            md_table(["Flag", "Default", "Meaning"], rows) +
            "\n\n> The password is never passed on the command line. `RESTIC_PASSWORD` is unset in the\n> wrapper before restic runs.\n")


@clean("option_docs")
def od_man_files_section():
    tool = pick([("fetchmail", ["~/.fetchmailrc", "~/.netrc", "~/.fetchids"]), ("msmtp", ["~/.msmtprc", "~/.netrc", "$XDG_CONFIG_HOME/msmtp/config"]),
                 ("lftp", ["~/.lftp/rc", "~/.local/share/lftp/bookmarks", "/etc/lftp.conf"])])
    name, files = tool
    out = "FILES\n"
    descr = {"~/.netrc": "login and password information for hosts; only consulted if no password is configured, and\n              must not be readable by others.",
             "~/.fetchmailrc": "default run-control file; fetchmail refuses to run if it is group- or world-readable\n              because it may contain passwords.",
             "~/.fetchids": "default location of file recording last message UIDs seen per host.",
             "~/.msmtprc": "user configuration file; must have no more permissions than 0600 if it contains a\n              password (use passwordeval instead).",
             "$XDG_CONFIG_HOME/msmtp/config": "alternative location of the user configuration file.",
             "~/.lftp/rc": "user startup file; executed after /etc/lftp.conf.",
             "~/.local/share/lftp/bookmarks": "bookmarks. Passwords are not stored unless bmk:save-passwords is set.",
             "/etc/lftp.conf": "system-wide startup file."}
    for f in files:
        out += "       %s\n              %s\n\n" % (f, descr[f])
    return out + "SEE ALSO\n       %s(1), netrc(5)\n" % ("fetchmailconf" if name == "fetchmail" else name)


# ================================================================= infra_ids (clean)
def kms_arn(r=None, a=None):
    return "arn:aws:kms:%s:%s:key/%s" % (r or region(), a or acct(), uid())


@clean("infra_ids", uses=2)
def in_tf_plan_iam_access_key():
    u = svc()
    a = acct()
    out = maybe_prompt("terraform plan -out=tfplan") if chance(0.7) else ""
    out += ("Terraform used the selected providers to generate the following execution plan. Resource actions are\n"
            "indicated with the following symbols:\n  + create\n  ~ update in-place\n\nTerraform will perform the following actions:\n\n")
    out += ("  # aws_iam_access_key.%s will be created\n  + resource \"aws_iam_access_key\" \"%s\" {\n"
            "      + create_date                    = (known after apply)\n"
            "      + encrypted_secret               = (known after apply)\n"
            "      + encrypted_ses_smtp_password_v4 = (known after apply)\n"
            "      + id                             = (known after apply)\n"
            "      + key_fingerprint                = (known after apply)\n"
            "      + secret                         = (sensitive value)\n"
            "      + ses_smtp_password_v4           = (sensitive value)\n"
            "      + status                         = \"Active\"\n"
            "      + user                           = \"%s-ci\"\n    }\n\n") % (u.replace("-", "_"), u.replace("-", "_"), u)
    out += ("  # aws_kms_key.%s will be updated in-place\n  ~ resource \"aws_kms_key\" \"%s\" {\n"
            "        id                                 = \"%s\"\n"
            "      ~ enable_key_rotation                = false -> true\n"
            "        arn                                = \"%s\"\n"
            "        tags                               = {\n            \"team\" = \"platform\"\n        }\n"
            "        # (10 unchanged attributes hidden)\n    }\n\n") % (
        "secrets", "secrets", uid(), kms_arn(a=a))
    out += "Plan: 1 to add, 1 to change, 0 to destroy.\n\nChanges to Outputs:\n  + ci_access_key_id = (known after apply)\n  + ci_secret        = (sensitive value)\n"
    return out


@clean("infra_ids", uses=2)
def in_tf_apply_outputs():
    a = acct()
    r = region()
    rows = [("alb_dns_name", '"%s-%s.%s.elb.amazonaws.com"' % (svc(), rint(10 ** 9, 10 ** 10 - 1), r)),
            ("db_endpoint", '"%s.%s.%s.rds.amazonaws.com:5432"' % (dbname(), rs(12, LOAL), r)),
            ("db_master_password", "<sensitive>"),
            ("db_master_user_secret_arn", '"arn:aws:secretsmanager:%s:%s:secret:rds!db-%s-%s"' % (r, a, uid(), rs(6, ALNUM))),
            ("kms_key_arn", '"%s"' % kms_arn(r, a)),
            ("vpc_id", '"%s"' % ec2_id("vpc")), ("private_subnet_ids", '[\n  "%s",\n  "%s",\n]' % (ec2_id("subnet"), ec2_id("subnet"))),
            ("redis_auth_token", "<sensitive>"), ("cloudfront_distribution_id", '"E%s"' % rs(13, UPAL))]
    return ((maybe_prompt("terraform apply tfplan")) +
            "aws_db_instance.main: Modifying... [id=db-%s]\naws_db_instance.main: Still modifying... [id=db-%s, 10s elapsed]\n" % (
                rs(26, UPAL), rs(26, UPAL)) +
            "aws_db_instance.main: Modifications complete after 42s [id=db-%s]\n\nApply complete! Resources: 0 added, 2 changed, 0 destroyed.\n\nOutputs:\n\n" % rs(26, UPAL) +
            "\n".join("%s = %s" % r_ for r_ in rows) + "\n")


@clean("infra_ids")
def in_tf_state_show_sg():
    sg = ec2_id("sg")
    a = acct()
    return (run_line("terraform state show 'module.%s.aws_security_group.this'" % svc().replace("-", "_")) +
            "# module.app.aws_security_group.this:\nresource \"aws_security_group\" \"this\" {\n"
            "    arn                    = \"arn:aws:ec2:%s:%s:security-group/%s\"\n" % (region(), a, sg) +
            "    description            = \"Managed by Terraform\"\n    egress                 = [\n        {\n"
            "            cidr_blocks      = [\n                \"0.0.0.0/0\",\n            ]\n            from_port        = 0\n"
            "            protocol         = \"-1\"\n            security_groups  = []\n            self             = false\n            to_port          = 0\n        },\n    ]\n"
            "    id                     = \"%s\"\n    name                   = \"%s-sg-%s\"\n" % (sg, svc(), hx(26)) +
            "    owner_id               = \"%s\"\n    revoke_rules_on_delete = false\n    tags_all               = {\n" % a +
            "        \"managed-by\" = \"terraform\"\n    }\n    vpc_id                 = \"%s\"\n}\n" % ec2_id("vpc"))


@clean("infra_ids", uses=2)
def in_kubectl_get_pods_wide():
    ns = pick(["payments", "platform", "default", "ingest"])
    rows = []
    for _ in range(rint(5, 9)):
        d = svc()
        rows.append("%-44s %-5s %-9s %-8s %-5s %-15s %-30s %s" % (
            "%s-%s" % (d, pod_suffix()), "%d/%d" % (1, 1), pick(["Running", "Running", "Running", "Completed"]),
            str(rint(0, 3)), "%dd" % rint(1, 40), "10.%d.%d.%d" % (rint(0, 9), rint(0, 255), rint(2, 254)),
            "ip-10-%d-%d-%d.%s.compute.internal" % (rint(0, 255), rint(0, 255), rint(0, 255), region()), "<none>"))
    return (run_line("kubectl get pods -n %s -o wide" % ns) +
            "%-44s %-5s %-9s %-8s %-5s %-15s %-30s %s\n" % ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE") +
            "\n".join(rows) + "\n")


@clean("infra_ids", uses=2)
def in_kubectl_describe_pod_digests():
    d = svc()
    img = "%s.dkr.ecr.%s.amazonaws.com/%s" % (acct(), region(), d)
    return (run_line("kubectl describe pod %s-%s | sed -n '1,40p'" % (d, pod_suffix())) +
            "Name:             %s-%s\nNamespace:        %s\nPriority:         0\nService Account:  %s\n" % (d, pod_suffix(), pick(["prod", "apps"]), d) +
            "Node:             ip-10-0-%d-%d.ec2.internal/10.0.%d.%d\nStart Time:       Tue, %s\n" % (rint(0, 255), rint(0, 255), rint(0, 255), rint(0, 255), ts_plain()) +
            "Labels:           app.kubernetes.io/name=%s\n                  pod-template-hash=%s\n" % (d, rs(10, "bcdfghjklmnpqrstvwxz2456789")) +
            "Annotations:      checksum/config: %s\n                  checksum/secret: %s\n" % (hx(64), hx(64)) +
            "Status:           Running\nIP:               10.0.%d.%d\nControlled By:  ReplicaSet/%s-%s\n" % (rint(0, 255), rint(0, 255), d, rs(10, "bcdfghjklmnpqrstvwxz2456789")) +
            "Containers:\n  app:\n    Container ID:   containerd://%s\n    Image:          %s:%s\n" % (hx(64), img, short_sha()) +
            "    Image ID:       %s@sha256:%s\n    Port:           8080/TCP\n    State:          Running\n" % (img, hx(64)) +
            "    Environment Variables from:\n      %s-env      Secret     Optional: false\n" % d +
            "    Environment:\n      DB_PASSWORD:  <set to the key 'password' in secret '%s-db'>  Optional: false\n" % d +
            "      API_TOKEN:    <set to the key 'token' of secret '%s-api'>  Optional: false\n" % d +
            "    Mounts:\n      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-%s (ro)\n" % rs(5, "bcdfghjklmnpqrstvwxz2456789") +
            "Volumes:\n  kube-api-access-%s:\n    Type:                    Projected (a volume that contains injected data from multiple sources)\n" % rs(5, "bcdfghjklmnpqrstvwxz2456789") +
            "    TokenExpirationSeconds:  3607\n    ConfigMapName:           kube-root-ca.crt\n")


@clean("infra_ids")
def in_kubectl_describe_secret_sizes():
    n = "%s-credentials" % svc()
    return (run_line("kubectl describe secret %s" % n) +
            "Name:         %s\nNamespace:    %s\nLabels:       app.kubernetes.io/managed-by=external-secrets\n" % (n, pick(["prod", "billing"])) +
            "Annotations:  reconcile.external-secrets.io/data-hash: %s\n\nType:  Opaque\n\nData\n====\n" % hx(32) +
            "password:         %d bytes\nusername:         %d bytes\napi-token:        %d bytes\ntls.key:          %d bytes\n" % (
                rint(16, 40), rint(3, 12), rint(40, 72), rint(1600, 1800)) +
            "\n" + run_line("kubectl get secrets -n kube-system | head -5") +
            "NAME                                  TYPE                                  DATA   AGE\n"
            "bootstrap-token-%s                 bootstrap.kubernetes.io/token         6      %dd\n" % (rs(6, LOAL), rint(2, 30)) +
            "sh.helm.release.v1.cilium.v%-10d helm.sh/release.v1                    1      %dd\n" % (rint(2, 9), rint(2, 30)) +
            "%-37s kubernetes.io/tls                     3      %dd\n" % ("hubble-server-certs", rint(2, 30)))


@clean("infra_ids")
def in_kube_root_ca_configmap():
    return (run_line("kubectl get configmap kube-root-ca.crt -o yaml") +
            "apiVersion: v1\ndata:\n  ca.crt: |\n" + "\n".join("    " + l for l in cert_pem(rint(700, 800)).split("\n")) +
            "\nkind: ConfigMap\nmetadata:\n  annotations:\n    kubernetes.io/description: Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.\n"
            "  creationTimestamp: \"%s\"\n  name: kube-root-ca.crt\n  namespace: %s\n  resourceVersion: \"%d\"\n  uid: %s\n" % (
                ts()[:19] + "Z", pick(["default", "monitoring"]), rint(100, 9999999), uid()))


@clean("infra_ids", uses=2)
def in_kubeconfig_ca_exec():
    c = "arn:aws:eks:%s:%s:cluster/%s" % (region(), acct(), org())
    ca = b64e(cert_pem(rint(560, 700)).encode() + b"\n")
    return ((run_line("kubectl config view --raw --minify") if chance(0.6) else "# ~/.kube/config\n") +
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n" % ca +
            "    server: https://%s.gr7.%s.eks.amazonaws.com\n  name: %s\ncontexts:\n- context:\n    cluster: %s\n    user: %s\n  name: %s\n" % (
                HX(32), region(), c, c, c, c) +
            "current-context: %s\nkind: Config\npreferences: {}\nusers:\n- name: %s\n  user:\n    exec:\n" % (c, c) +
            "      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n      - --region\n      - %s\n      - eks\n      - get-token\n"
            "      - --cluster-name\n      - %s\n      command: aws\n      env:\n      - name: AWS_PROFILE\n        value: %s-admin\n" % (region(), org(), org()))


@clean("infra_ids")
def in_docker_ps_inspect():
    rows = []
    for _ in range(rint(4, 7)):
        rows.append("%-14s %-38s %-24s %-16s %-22s %s" % (
            hx(12), "%s:%s" % (pick(["postgres", "redis", "ghcr.io/%s/%s" % (org(), svc())]), pick(["16", "7-alpine", short_sha()])),
            '"docker-entrypoint.s…"', "%d hours ago" % rint(1, 60), "Up %d hours (healthy)" % rint(1, 60), "%s-%s-1" % (repo(), svc())))
    cid = hx(64)
    return (run_line("docker ps") +
            "%-14s %-38s %-24s %-16s %-22s %s\n" % ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES") + "\n".join(rows) +
            "\n" + run_line("docker inspect --format '{{.Id}} {{.Image}} {{.HostConfig.LogConfig.Type}}' %s" % cid[:12]) +
            "%s sha256:%s json-file\n" % (cid, hx(64)))


@clean("infra_ids", uses=2)
def in_buildx_imagetools_inspect():
    img = "ghcr.io/%s/%s:%s" % (org(), svc(), ver())
    out = run_line("docker buildx imagetools inspect %s" % img)
    out += "Name:      %s\nMediaType: application/vnd.oci.image.index.v1+json\nDigest:    sha256:%s\n\nManifests:\n" % (img, hx(64))
    for plat in ["linux/amd64", "linux/arm64", "unknown/unknown"]:
        out += "  Name:        %s@sha256:%s\n  MediaType:   application/vnd.oci.image.manifest.v1+json\n  Platform:    %s\n" % (
            img.split(":")[0], hx(64), plat)
        if plat.startswith("unknown"):
            out += "  Annotations:\n    vnd.docker.reference.digest: sha256:%s\n    vnd.docker.reference.type:   attestation-manifest\n" % hx(64)
        out += "\n"
    return out


@clean("infra_ids", uses=2)
def in_aws_describe_network():
    kind = pick(["subnets", "security-groups", "vpc-endpoints"])
    a = acct()
    if kind == "subnets":
        items = [{"AvailabilityZone": region() + pick("abc"), "AvailabilityZoneId": "use1-az%d" % rint(1, 6),
                  "AvailableIpAddressCount": rint(100, 4000), "CidrBlock": "10.%d.%d.0/20" % (rint(0, 255), rint(0, 15) * 16),
                  "State": "available", "SubnetId": ec2_id("subnet"), "VpcId": ec2_id("vpc"), "OwnerId": a,
                  "SubnetArn": "arn:aws:ec2:%s:%s:subnet/%s" % (region(), a, ec2_id("subnet"))} for _ in range(2)]
        doc = {"Subnets": items}
    elif kind == "security-groups":
        doc = {"SecurityGroups": [{"Description": "%s ingress" % svc(), "GroupName": "%s-sg" % svc(),
                                   "IpPermissions": [{"FromPort": 443, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                                                      "ToPort": 443, "UserIdGroupPairs": [{"GroupId": ec2_id("sg"), "UserId": a}]}],
                                   "OwnerId": a, "GroupId": ec2_id("sg"), "VpcId": ec2_id("vpc"),
                                   "SecurityGroupArn": "arn:aws:ec2:%s:%s:security-group/%s" % (region(), a, ec2_id("sg"))}]}
    else:
        doc = {"VpcEndpoints": [{"VpcEndpointId": ec2_id("vpce"), "VpcEndpointType": "Interface", "VpcId": ec2_id("vpc"),
                                 "ServiceName": "com.amazonaws.%s.secretsmanager" % region(), "State": "available",
                                 "PolicyDocument": "{\"Statement\":[{\"Action\":\"*\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Resource\":\"*\"}]}",
                                 "NetworkInterfaceIds": [ec2_id("eni"), ec2_id("eni")], "PrivateDnsEnabled": True,
                                 "DnsEntries": [{"DnsName": "%s-%s.secretsmanager.%s.vpce.amazonaws.com" % (ec2_id("vpce"), rs(8, LOAL), region()),
                                                 "HostedZoneId": "Z" + rs(13, UPAL)}], "OwnerId": a}]}
    return run_line("aws ec2 describe-%s --output json" % kind) + json.dumps(doc, indent=4) + "\n"


@clean("infra_ids")
def in_aws_kms_describe_key():
    a = acct()
    r = region()
    k = uid()
    doc = {"KeyMetadata": {"AWSAccountId": a, "KeyId": k, "Arn": "arn:aws:kms:%s:%s:key/%s" % (r, a, k),
                           "CreationDate": ts(), "Enabled": True, "Description": "envelope key for %s secrets" % svc(),
                           "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
                           "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
                           "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False}}
    aliases = {"Aliases": [{"AliasName": "alias/%s-secrets" % svc(), "AliasArn": "arn:aws:kms:%s:%s:alias/%s-secrets" % (r, a, svc()),
                            "TargetKeyId": k, "CreationDate": ts()}]}
    return (run_line("aws kms describe-key --key-id alias/%s-secrets" % svc()) + json.dumps(doc, indent=4) + "\n" +
            run_line("aws kms list-aliases --key-id %s" % k) + json.dumps(aliases, indent=4) + "\n")


@clean("infra_ids")
def in_s3api_list_object_versions():
    b = "%s-%s" % (org(), pick(["backups", "exports", "tf-state"]))
    vs = []
    for _ in range(rint(3, 5)):
        vs.append({"ETag": "\"%s\"" % hx(32), "Size": rint(1000, 9000000), "StorageClass": "STANDARD",
                   "Key": "%s/%s.json" % (pick(["state", "env:/prod", "snapshots"]), svc()),
                   "VersionId": mixed(32, ALNUM + "._"), "IsLatest": False, "LastModified": ts()[:19] + "+00:00",
                   "Owner": {"ID": hx(64)}})
    vs[0]["IsLatest"] = True
    return run_line("aws s3api list-object-versions --bucket %s --max-items 5" % b) + json.dumps({"Versions": vs}, indent=4) + "\n"


@clean("infra_ids")
def in_sts_caller_identity_roles():
    a = acct()
    role = pick(["AWSReservedSSO_AdministratorAccess_%s" % hx(16), "%s-deploy" % svc(), "OrganizationAccountAccessRole"])
    aroa = "AROA" + rs(17, UPAL)
    return (run_line("aws sts get-caller-identity") +
            json.dumps({"UserId": "%s:%s" % (aroa, email()), "Account": a,
                        "Arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (a, role, email())}, indent=4) + "\n" +
            run_line("aws iam get-role --role-name %s --query 'Role.[RoleId,Arn,MaxSessionDuration]'" % role) +
            json.dumps([aroa, "arn:aws:iam::%s:role/%s" % (a, role), 3600], indent=4) + "\n" +
            run_line("aws iam list-users --query 'Users[].[UserName,UserId]' --output text") +
            "\n".join("%s\tAIDA%s" % (u, rs(17, UPAL)) for u in picks(USERS, 3)) + "\n")


@clean("infra_ids")
def in_lambda_config():
    a = acct()
    f = "%s-%s" % (svc(), pick(["handler", "worker", "cron"]))
    doc = {"FunctionName": f, "FunctionArn": "arn:aws:lambda:%s:%s:function:%s" % (region(), a, f), "Runtime": "python3.12",
           "Role": "arn:aws:iam::%s:role/%s-exec" % (a, f), "Handler": "app.handler", "CodeSize": rint(10000, 9000000),
           "CodeSha256": b64e(rbytes(32)), "Version": "$LATEST", "RevisionId": uid(), "KMSKeyArn": kms_arn(a=a),
           "Environment": {"Variables": {"LOG_LEVEL": "INFO", "TABLE_NAME": "%s-items" % f,
                                         "SECRET_ARN": "arn:aws:secretsmanager:%s:%s:secret:%s/db-%s" % (region(), a, f, rs(6, ALNUM))}},
           "TracingConfig": {"Mode": "Active"}, "LastUpdateStatus": "Successful",
           "Layers": [{"Arn": "arn:aws:lambda:%s:%s:layer:otel:%d" % (region(), acct(), rint(3, 40)), "CodeSize": rint(100000, 9999999)}],
           "Architectures": ["arm64"]}
    return run_line("aws lambda get-function-configuration --function-name %s" % f) + json.dumps(doc, indent=4) + "\n"


@clean("infra_ids")
def in_gcloud_instance_describe():
    n = "%s-%s" % (svc(), rs(4, LOAL))
    z = pick(GCP_REGIONS) + "-" + pick("abc")
    p = "%s-%s" % (org(), pick(["prod", "shared"]))
    return (run_line("gcloud compute instances describe %s --zone %s --format yaml | head -40" % (n, z)) +
            "canIpForward: false\ncpuPlatform: AMD Milan\ncreationTimestamp: '%s-07:00'\ndeletionProtection: true\n" % ts()[:19] +
            "disks:\n- autoDelete: true\n  boot: true\n  deviceName: persistent-disk-0\n  diskSizeGb: '50'\n"
            "  guestOsFeatures:\n  - type: UEFI_COMPATIBLE\n  licenses:\n  - https://www.googleapis.com/compute/v1/projects/cos-cloud/global/licenses/cos\n"
            "fingerprint: %s\nid: '%d'\nkind: compute#instance\nlabelFingerprint: %s\n" % (b64e(rbytes(8)), rint(10 ** 18, 10 ** 19), b64e(rbytes(8))) +
            "metadata:\n  fingerprint: %s\n  kind: compute#metadata\nname: %s\n" % (b64e(rbytes(8)), n) +
            "networkInterfaces:\n- fingerprint: %s\n  name: nic0\n  networkIP: %s\n" % (b64e(rbytes(8)), ip()) +
            "selfLink: https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instances/%s\n" % (p, z, n) +
            "serviceAccounts:\n- email: %s@%s.iam.gserviceaccount.com\n  scopes:\n  - https://www.googleapis.com/auth/cloud-platform\n" % (svc(), p) +
            "shieldedInstanceIntegrityPolicy:\n  updateAutoLearnPolicy: true\nstatus: RUNNING\ntags:\n  fingerprint: %s\n" % b64e(rbytes(8)))


@clean("infra_ids")
def in_az_vm_identity_show():
    sub_ = uid()
    rg = "rg-%s-%s" % (svc(), pick(["prod", "weu"]))
    n = "vm-%s-%02d" % (svc(), rint(1, 20))
    doc = {"id": "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (sub_, rg, n),
           "identity": {"principalId": uid(), "tenantId": uid(), "type": "SystemAssigned, UserAssigned",
                        "userAssignedIdentities": {
                            "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-%s" % (sub_, rg, svc()):
                                {"clientId": uid(), "principalId": uid()}}},
           "location": pick(AZ_REGIONS), "name": n, "vmId": uid(), "provisioningState": "Succeeded",
           "timeCreated": ts()}
    return run_line("az vm show -g %s -n %s --query '{id:id,identity:identity,location:location,name:name,vmId:vmId,provisioningState:provisioningState,timeCreated:timeCreated}'" % (rg, n)) + json.dumps(doc, indent=2) + "\n"


@clean("infra_ids")
def in_az_blob_list_md5():
    items = []
    for _ in range(rint(2, 4)):
        items.append({"name": "%s/%s/%s.parquet" % (pick(["raw", "curated"]), date(), uid()),
                      "properties": {"contentLength": rint(1000, 90000000), "contentSettings": {"contentMd5": b64e(rbytes(16)), "contentType": "application/octet-stream"},
                                     "etag": "0x8DC%s" % HX(12), "lastModified": ts()[:19] + "+00:00", "blobTier": "Hot",
                                     "serverEncrypted": True, "creationTime": ts()[:19] + "+00:00"},
                      "versionId": ts(), "snapshot": None, "deleted": None})
    return (run_line("az storage blob list --account-name st%s%s --container-name lake --auth-mode login --num-results 3" % (org(), rs(4, LOAL))) +
            json.dumps(items, indent=2) + "\n")


@clean("infra_ids", uses=2)
def in_git_log_signatures():
    out = run_line("git log --show-signature -3")
    for _ in range(3):
        kid = HX(16)
        out += "commit %s\n" % git_sha()
        out += "gpg: Signature made %s UTC\ngpg:                using EDDSA key %s%s\n" % (ts_plain(), HX(24), kid)
        out += "gpg: Good signature from \"%s <%s>\" [ultimate]\n" % (person(), email())
        out += "Author: %s <%s>\nDate:   %s +0000\n\n    %s\n\n" % (person(), email(), ts_plain(), pick([
            "rotate-keys: move token hashing into SecretHasher", "fix(auth): reject expired refresh tokens",
            "chore: bump aws-sdk to %s" % ver(), "ci: cache cargo registry by Cargo.lock hash",
            "docs: explain why API keys are stored as sha256 digests"]))
        if chance(0.5):
            out += "    Signed-off-by: %s <%s>\n    Reviewed-on: https://review.%s/c/%s/+/%d\n    Change-Id: I%s\n\n" % (
                person(), email(), dom(), repo(), rint(1000, 99999), hx(40))
    return out


@clean("infra_ids")
def in_git_blame_porcelain():
    sha = git_sha()
    lines = ["let pool = PgPoolOptions::new()", "    .max_connections(cfg.db.max_conns)", "    .connect(&cfg.db.url_from_env()?)",
             "    .await?;"]
    out = run_line("git blame --porcelain -L 40,43 src/db.rs")
    for i, l in enumerate(lines):
        s = sha if i % 2 == 0 else git_sha()
        out += "%s %d %d 1\n" % (s, 40 + i, 40 + i)
        if i < 2:
            out += "author %s\nauthor-mail <%s>\nauthor-time %d\nauthor-tz +0100\ncommitter GitHub\ncommitter-mail <noreply@github.com>\ncommitter-time %d\n" \
                   "committer-tz +0000\nsummary %s\nprevious %s src/db.rs\nfilename src/db.rs\n" % (
                       person(), email(), epoch(), epoch(), pick(["read DB url from env instead of config", "pool: bump max conns"]), git_sha())
        out += "\t%s\n" % l
    return out


@clean("infra_ids")
def in_git_signed_tag():
    v = ver()
    sig = wrap(b64e(b"\x88\x75\x04\x00\x16\x0a\x00\x1d\x16\x21\x04" + rbytes(20) + b"\x05\x02" + rbytes(4) + rbytes(90)), 64)
    return (run_line("git cat-file -p v%s" % v) +
            "object %s\ntype commit\ntag v%s\ntagger %s <%s> %d +0000\n\nRelease v%s\n" % (git_sha(), v, person(), email(), epoch(), v) +
            "-----BEGIN PGP SIGNATURE-----\n\n%s\n=%s\n-----END PGP SIGNATURE-----\n" % (sig, b64e(rbytes(3))) +
            run_line("git verify-tag v%s" % v) +
            "gpg: Signature made %s CET\ngpg:                using EDDSA key %s\ngpg: Good signature from \"%s <%s>\" [full]\n" % (
                ts_plain(), HX(40), person(), email()))


@clean("infra_ids")
def in_package_lock_v3():
    pk = []
    for name in picks(["jsonwebtoken", "jose", "bcryptjs", "@aws-sdk/client-secrets-manager", "dotenv", "keytar",
                       "node-forge", "@azure/keyvault-secrets", "passport-oauth2", "otplib"], 4):
        v = ver()
        pk.append('    "node_modules/%s": {\n      "version": "%s",\n      "resolved": "https://registry.npmjs.org/%s/-/%s-%s.tgz",\n'
                  '      "integrity": "%s",\n      "license": "MIT"%s\n    }' % (
                      name, v, name, name.split("/")[-1], v, sri(), ',\n      "dependencies": {\n        "safe-buffer": "^5.0.1"\n      }' if chance(0.4) else ""))
    return ("{\n  \"name\": \"%s\",\n  \"version\": \"%s\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n" % (repo(), ver()) +
            ",\n".join(pk) + "\n  }\n}\n")


@clean("infra_ids")
def in_cargo_lock_excerpt():
    out = "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n"
    for name in picks(["aes-gcm", "argon2", "secrecy", "zeroize", "ring", "hmac", "sha2", "chacha20poly1305", "jsonwebtoken", "rustls-pemfile"], 4):
        out += "[[package]]\nname = \"%s\"\nversion = \"%s\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"%s\"\n" % (
            name, ver(), hx(64))
        if chance(0.5):
            out += "dependencies = [\n \"%s\",\n \"%s\",\n]\n" % (pick(["cipher", "digest", "subtle", "rand_core"]), pick(["zeroize", "generic-array", "typenum"]))
        out += "\n"
    return out


@clean("infra_ids")
def in_go_sum_excerpt():
    mods = ["github.com/hashicorp/vault/api", "golang.org/x/crypto", "github.com/golang-jwt/jwt/v5", "github.com/aws/aws-sdk-go-v2/service/secretsmanager",
            "filippo.io/age", "github.com/99designs/keyring", "go.step.sm/crypto"]
    out = ""
    for m in picks(mods, 5):
        v = "v" + ver()
        out += "%s %s h1:%s=\n%s %s/go.mod h1:%s=\n" % (m, v, b64e(rbytes(32))[:43], m, v, b64e(rbytes(32))[:43])
    return run_line("grep -E 'vault|crypto|jwt|secrets|age|keyring' go.sum") + out


@clean("infra_ids")
def in_uv_lock_excerpt():
    out = ""
    for name in picks(["cryptography", "pyjwt", "keyring", "hvac", "python-dotenv", "passlib", "argon2-cffi"], 3):
        v = ver()
        out += ("[[package]]\nname = \"%s\"\nversion = \"%s\"\nsource = { registry = \"https://pypi.org/simple\" }\n"
                "sdist = { url = \"https://files.pythonhosted.org/packages/%s/%s/%s/%s-%s.tar.gz\", hash = \"sha256:%s\", size = %d }\n"
                "wheels = [\n    { url = \"https://files.pythonhosted.org/packages/%s/%s/%s/%s-%s-py3-none-any.whl\", hash = \"sha256:%s\", size = %d },\n]\n\n") % (
            name, v, hx(2), hx(2), hx(60), name, v, hx(64), rint(10000, 900000), hx(2), hx(2), hx(60), name.replace("-", "_"), v, hx(64), rint(10000, 900000))
    return "version = 1\nrequires-python = \">=3.11\"\n\n" + out


@clean("infra_ids")
def in_pip_requirements_hashes():
    out = "#\n# This file is autogenerated by pip-compile with Python 3.12\n# by the following command:\n#\n#    pip-compile --generate-hashes requirements.in\n#\n"
    for name in picks(["boto3", "botocore", "cryptography", "pyjwt[crypto]", "requests-oauthlib", "google-cloud-secret-manager"], 3):
        out += "%s==%s \\\n" % (name, ver())
        for _ in range(rint(2, 3)):
            out += "    --hash=sha256:%s \\\n" % hx(64)
        out = out[:-3] + "\n    # via -r requirements.in\n"
    return out


@clean("infra_ids")
def in_sha256sums_release():
    v = ver()
    tool = pick(["vaultsync", "keyshelf", "credrotate", "sops-lite"])
    files = ["%s_%s_%s.tar.gz" % (tool, v, p) for p in ["darwin_arm64", "linux_amd64", "linux_arm64", "windows_amd64"]]
    out = run_line("curl -sSLO https://github.com/%s/%s/releases/download/v%s/%s_%s_SHA256SUMS{,.sig}" % (org(), tool, v, tool, v))
    out += run_line("cat %s_%s_SHA256SUMS" % (tool, v)) + "".join("%s  %s\n" % (hx(64), f) for f in files)
    out += run_line("gpg --verify %s_%s_SHA256SUMS.sig" % (tool, v))
    out += "gpg: assuming signed data in '%s_%s_SHA256SUMS'\ngpg: Signature made %s UTC\n" % (tool, v, ts_plain())
    out += "gpg:                using RSA key %s\ngpg: Good signature from \"%s Release Signing <security@%s>\" [unknown]\n" % (HX(40), org().capitalize(), dom())
    out += "Primary key fingerprint: %s\n" % " ".join(HX(4) for _ in range(10))
    out += run_line("sha256sum -c --ignore-missing %s_%s_SHA256SUMS" % (tool, v)) + "%s: OK\n" % files[1]
    return out


@clean("infra_ids", uses=2)
def in_ci_cache_keys_log():
    kind = pick(["gha", "turbo", "bazel"])
    if kind == "gha":
        h = hx(64)
        return ("Run actions/cache@v4\n  with:\n    path: ~/.cargo/registry\n~/.cargo/git\ntarget\n\n    key: Linux-cargo-%s\n" % h +
                "    restore-keys: Linux-cargo-\n\nCache Size: ~%d MB (%d B)\n" % (rint(100, 900), rint(10 ** 8, 9 * 10 ** 8)) +
                "/usr/bin/tar -xf /home/runner/work/_temp/%s/cache.tzst -P -C /home/runner/work/%s/%s --use-compress-program unzstd\n" % (uid(), repo(), repo()) +
                "Cache restored successfully\nCache restored from key: Linux-cargo-%s\n" % h +
                "...\nPost job cleanup.\nCache hit occurred on the primary key Linux-cargo-%s, not saving cache.\n" % h)
    if kind == "turbo":
        out = "• Packages in scope: @%s/api, @%s/web, @%s/ui\n• Running build in 3 packages\n• Remote caching enabled\n" % ((org(),) * 3)
        for p in ["ui", "api", "web"]:
            out += "@%s/%s:build: cache hit, replaying logs %s\n" % (org(), p, hx(16))
        return out + "\n Tasks:    3 successful, 3 total\nCached:    3 cached, 3 total\n  Time:    %d.%03ds >>> FULL TURBO\n" % (rint(0, 2), rint(0, 999))
    out = "INFO: Invocation ID: %s\nINFO: Analyzed target //services/%s:image (%d packages loaded, %d targets configured).\n" % (uid(), svc(), rint(10, 900), rint(100, 9000))
    for _ in range(3):
        out += "INFO: From Action services/%s/%s.o: remote cache hit (digest %s/%d)\n" % (svc(), rs(6, LO), hx(64), rint(1000, 999999))
    return out + "INFO: Build completed successfully, %d total actions\nINFO: Streaming build results to: https://app.buildbuddy.io/invocation/%s\n" % (rint(10, 3000), uid())


@clean("infra_ids")
def in_gha_artifact_upload_log():
    rid = rint(10 ** 9, 10 ** 10 * 2)
    return ("Run actions/upload-artifact@v4\nWith the provided path, there will be 1 file uploaded\n"
            "Artifact name is valid!\nRoot directory input is valid!\nBeginning upload of artifact content to blob storage\n"
            "Uploaded bytes %d\nFinished uploading artifact content to blob storage!\n" % rint(10 ** 5, 10 ** 8) +
            "SHA256 digest of uploaded artifact zip is %s\n" % hx(64) +
            "Finalizing artifact upload\nArtifact dist.zip successfully finalized. Artifact ID %d\n" % rint(10 ** 9, 3 * 10 ** 9) +
            "Artifact dist has been successfully uploaded! Final size is %d bytes. Artifact ID is %d\n" % (rint(10 ** 5, 10 ** 8), rint(10 ** 9, 3 * 10 ** 9)) +
            "Artifact download URL: https://github.com/%s/%s/actions/runs/%d/artifacts/%d\n" % (org(), repo(), rid, rint(10 ** 9, 3 * 10 ** 9)) +
            "Run actions/attest-build-provenance@v2\nAttestation created for dist.zip@sha256:%s\n" % hx(64) +
            "Attestation uploaded to repository: https://github.com/%s/%s/attestations/%d\n" % (org(), repo(), rint(10 ** 6, 10 ** 7)) +
            "Sigstore transparency log entry: https://search.sigstore.dev/?logIndex=%d\n" % rint(10 ** 8, 3 * 10 ** 8))


@clean("infra_ids", uses=2)
def in_sentry_event_ids():
    ev = {"event_id": hx(32), "project": rint(10 ** 6, 10 ** 7), "release": "%s@%s+%s" % (svc(), ver(), short_sha()),
          "platform": "python", "timestamp": epoch() + R.random(),
          "contexts": {"trace": {"trace_id": hx(32), "span_id": hx(16), "parent_span_id": hx(16), "op": "http.server", "status": "internal_error"}},
          "exception": {"values": [{"type": "SecretNotFoundError", "value": "secret '%s/db-password' has no version in state ENABLED" % svc(),
                                    "module": "app.secrets", "mechanism": {"type": "excepthook", "handled": False}}]},
          "tags": {"environment": "production", "request_id": uid(), "server_name": "%s-%s" % (svc(), pod_suffix())},
          "sdk": {"name": "sentry.python.fastapi", "version": ver()}}
    return run_line("sentry-cli events list --project %s --max-rows 1 --json | jq '.[0]'" % svc()) + json.dumps(ev, indent=2) + "\n"


@clean("infra_ids")
def in_datadog_trace_logs():
    out = ""
    for _ in range(rint(4, 6)):
        tid = rint(10 ** 18, 2 ** 63)
        out += json.dumps({"timestamp": ts(), "level": pick(["info", "warn"]), "service": svc(),
                           "message": pick(["token refresh succeeded", "fetched signing key set", "cache miss for api key lookup",
                                            "secret version rotated", "issued session"]),
                           "dd.trace_id": str(tid), "dd.span_id": str(rint(10 ** 17, 2 ** 63)), "dd.env": "prod",
                           "dd.version": short_sha(), "user_id": rint(1000, 99999)}, separators=(",", ":")) + "\n"
    return run_line("kubectl logs deploy/%s --since=5m | tail -n 6" % svc()) + out


@clean("infra_ids")
def in_otel_debug_exporter():
    return ("%s\tinfo\tTracesExporter\t{\"kind\": \"exporter\", \"data_type\": \"traces\", \"name\": \"debug\", \"resource spans\": 1, \"spans\": 2}\n" % ts() +
            "ResourceSpans #0\nResource SchemaURL: https://opentelemetry.io/schemas/1.26.0\nResource attributes:\n"
            "     -> service.name: Str(%s)\n     -> service.instance.id: Str(%s)\n" % (svc(), uid()) +
            "ScopeSpans #0\nInstrumentationScope opentelemetry.instrumentation.httpx 0.48b0\nSpan #0\n"
            "    Trace ID       : %s\n    Parent ID      : %s\n    ID             : %s\n" % (hx(32), hx(16), hx(16)) +
            "    Name           : POST /oauth/token\n    Kind           : Client\n    Start time     : %s\n    Status code    : Ok\n" % ts() +
            "Attributes:\n     -> http.request.method: Str(POST)\n     -> url.full: Str(https://auth.%s/oauth/token)\n" % dom() +
            "     -> http.response.status_code: Int(200)\n     -> http.request.header.authorization: Str([REDACTED])\n")


@clean("infra_ids")
def in_s3_ls_recursive():
    b = "%s-%s" % (org(), pick(BUCKETS7))
    out = run_line("aws s3 ls s3://%s/ --recursive --human-readable | head" % b)
    for _ in range(rint(6, 9)):
        out += "%s %s %9s %s\n" % (date(), hms(), "%.1f %s" % (R.random() * 900, pick(["KiB", "MiB"])), pick([
            "uploads/%s/%s.jpg" % (uid(), hx(40)), "exports/%s/%s.csv.gz" % (date(), ulid()),
            "cas/%s/%s" % (hx(2), hx(64)), "thumbs/%s_%dx%d.webp" % (hx(32), 256, 256)]))
    return out


BUCKETS7 = ["uploads", "artifacts", "exports", "cas-store", "media"]


@clean("infra_ids")
def in_pg_copy_ids():
    t = pick(["sessions_audit", "documents", "webhook_deliveries"])
    out = "--\n-- Data for Name: %s; Type: TABLE DATA; Schema: public; Owner: %s\n--\n\n" % (t, user())
    out += "COPY public.%s (id, tenant_id, external_ref, content_sha256, created_at) FROM stdin;\n" % t
    for _ in range(rint(4, 7)):
        out += "%s\t%s\t%s\t%s\t%s+00\n" % (uid7(), uid(), pick([ulid(), objectid(), "evt_" + mixed(24)]), hx(64), ts_plain())
    return out + "\\.\n"


@clean("infra_ids")
def in_mongo_objectids():
    out = run_line("mongosh --quiet \"$MONGO_URI\" --eval 'db.api_clients.find({}, {secret_hash: 0}).limit(3)'")
    for _ in range(3):
        out += ("{\n  _id: ObjectId('%s'),\n  name: '%s',\n  clientId: '%s',\n  keyPrefix: '%s',\n  scopes: [ 'read:orders', 'write:webhooks' ],\n"
                "  createdBy: ObjectId('%s'),\n  createdAt: ISODate('%s')\n}\n") % (
            objectid(), svc(), uid(), "ak_" + rs(6, LOAL), objectid(), ts())
    return out


@clean("infra_ids")
def in_stripe_object_ids():
    pi = "pi_3" + mixed(23)
    doc = {"id": "evt_1" + mixed(23), "object": "event", "api_version": "2025-%02d-%02d.basil" % (rint(1, 12), rint(1, 28)),
           "created": epoch(), "type": "payment_intent.succeeded", "livemode": True,
           "request": {"id": "req_" + mixed(14), "idempotency_key": uid()},
           "data": {"object": {"id": pi, "object": "payment_intent", "amount": rint(100, 99999), "currency": "eur",
                               "customer": "cus_" + mixed(14), "latest_charge": "ch_3" + mixed(23),
                               "payment_method": "pm_1" + mixed(23), "status": "succeeded",
                               "metadata": {"order_id": str(rint(10 ** 5, 10 ** 6))}}}}
    charge = {"id": "ch_3" + mixed(23), "balance_transaction": "txn_3" + mixed(23),
              "payment_method_details": {"card": {"brand": "visa", "last4": "%04d" % rint(0, 9999), "fingerprint": mixed(16), "exp_year": 2029}}}
    return ("Stripe webhook received (signature verified):\n" + json.dumps(doc, indent=2) + "\n\nCharge lookup:\n" +
            json.dumps(charge, indent=2) + "\n")


@clean("infra_ids")
def in_http_headers_ids():
    return (run_line("curl -sI https://%s.s3.%s.amazonaws.com/%s" % (org() + "-assets", region(), "app/%s.js" % hx(20))) +
            "HTTP/1.1 200 OK\nx-amz-id-2: %s\nx-amz-request-id: %s\n" % (b64e(rbytes(57)), rs(16, UPAL)) +
            "Date: %s\nLast-Modified: %s\nETag: \"%s\"\nx-amz-server-side-encryption: aws:kms\n" % (ts_plain(), ts_plain(), hx(32)) +
            "x-amz-server-side-encryption-aws-kms-key-id: %s\nx-amz-version-id: %s\n" % (kms_arn(), mixed(32, ALNUM + "._")) +
            "Accept-Ranges: bytes\nContent-Type: application/javascript\nServer: AmazonS3\n\n" +
            run_line("curl -sI https://api.%s/v1/health" % dom()) +
            "HTTP/2 200\ncf-ray: %s-%s\nx-request-id: %s\ntraceparent: 00-%s-%s-01\n" % (hx(16), pick(["FRA", "AMS", "IAD"]), uid(), hx(32), hx(16)) +
            "etag: W/\"%s\"\nx-envoy-upstream-service-time: %d\n" % (b64u(rbytes(20)), rint(1, 80)))


@clean("infra_ids")
def in_kafka_consumer_groups():
    g = "%s-consumer" % svc()
    out = run_line("kafka-consumer-groups.sh --bootstrap-server kafka:9092 --describe --group %s" % g)
    out += "\n%-22s %-22s %-9s %-15s %-15s %-4s %-58s %-14s %s\n" % ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
    for p in range(rint(3, 5)):
        off = rint(10 ** 6, 10 ** 9)
        cid = "%s-1" % svc()
        out += "%-22s %-22s %-9d %-15d %-15d %-4d %-58s %-14s %s\n" % (g, "events.%s" % pick(["orders", "audit"]), p, off, off + rint(0, 30), rint(0, 30),
                                                                      "%s-%s" % (cid, uid()), "/" + ip(), cid)
    out += run_line("kafka-cluster.sh cluster-id --bootstrap-server kafka:9092") + "Cluster ID: %s\n" % b64u(rbytes(16))
    return out


@clean("infra_ids")
def in_png_thumbnail_json():
    return (run_line("curl -s https://api.%s/v1/avatars/%s | jq ." % (dom(), uid())) +
            json.dumps({"id": uid(), "mime": "image/png", "width": 4, "height": 4, "sha256": hx(64),
                        "data": png_b64(), "etag": "\"%s\"" % hx(32)}, indent=2) + "\n")


@clean("infra_ids")
def in_grpcurl_bytes_field():
    return (run_line("grpcurl -plaintext -d '{\"id\": \"%s\"}' localhost:50051 blob.v1.Blobs/Get" % uid()) +
            json.dumps({"id": uid(), "checksum": b64e(rbytes(32)), "payload": b64e(b"\x0a\x10" + rbytes(16) + b"\x12\x24" + uid().encode() + b"\x18" + rbytes(3)),
                        "createdAt": ts()}, indent=2) + "\n\n# payload is a serialized blob.v1.Meta message (protobuf), checksum is sha256\n")


@clean("infra_ids")
def in_deploy_keys_fingerprints():
    out = run_line("gh repo deploy-key list -R %s/%s" % (org(), repo()))
    for _ in range(rint(2, 3)):
        out += "%d\t%s\t%s\t%s\t%s\n" % (rint(10 ** 7, 10 ** 9), pick(["argocd", "ci-readonly", "flux-system"]), pick(["read-only", "read-write"]),
                                          ssh_pub(pick(["ed25519", "ecdsa"])), ts()[:19] + "Z")
    out += run_line("ssh-keygen -lf ~/.ssh/known_hosts | head -3")
    for _ in range(3):
        out += "%d %s %s (%s)\n" % (pick([256, 256, 3072]), fp_sha256(), pick(["git.%s" % dom(), ip(), "[bastion.%s]:2222" % dom()]), pick(["ED25519", "ECDSA", "RSA"]))
    return out


@clean("infra_ids")
def in_known_hosts_plain():
    out = "# ~/.ssh/known_hosts (managed by ansible role ssh_known_hosts)\n"
    for h in ["git.%s" % dom(), "bastion.%s" % dom(), ip(), "[%s]:2222" % ip()]:
        out += "%s %s\n" % (h, ssh_pub(pick(["ed25519", "ecdsa", "rsa"])))
    return out


@clean("infra_ids")
def in_authorized_keys_file():
    out = "# /home/%s/.ssh/authorized_keys\n" % user()
    for _ in range(rint(2, 3)):
        out += "%s%s\n" % (pick(["", "from=\"10.0.0.0/8\",no-agent-forwarding ", "restrict,command=\"/usr/local/bin/backup-receive\" "]),
                           ssh_pub(pick(["ed25519", "rsa"]), "%s@%s" % (user(), pick(["laptop", "ci", "backup01"]))))
    return out


@clean("infra_ids")
def in_public_key_pem_config():
    return ("# JWT verification (public key only; the private key stays in the signer's KMS)\n"
            "jwt:\n  issuer: https://auth.%s/\n  audience: %s\n  algorithms: [ES256]\n  public_key: |\n" % (dom(), svc()) +
            "\n".join("    " + l for l in pub_pem("ec").split("\n")) + "\n  leeway_seconds: 30\n")


@clean("infra_ids")
def in_jwks_ec_public():
    keys = [{"kty": "EC", "crv": "P-256", "kid": hx(16), "use": "sig", "alg": "ES256", "x": b64u(rbytes(32)), "y": b64u(rbytes(32))},
            {"kty": "OKP", "crv": "Ed25519", "kid": uid(), "use": "sig", "alg": "EdDSA", "x": b64u(rbytes(32))}]
    return run_line("curl -s https://auth.%s/.well-known/jwks.json | jq ." % dom()) + json.dumps({"keys": keys}, indent=2) + "\n"


@clean("infra_ids")
def in_gpg_export_pubkey():
    return (run_line("gpg --armor --export %s" % email()) + pgp_pub_block() + "\n" +
            run_line("gpg --list-keys --keyid-format long %s" % email().split("@")[0]) +
            "pub   ed25519/%s %s [SC]\n      %s\nuid                 [ultimate] %s\nsub   cv25519/%s %s [E]\n" % (
                HX(16), date(), HX(40), person(), HX(16), date()))


@clean("infra_ids")
def in_sops_yaml_recipients():
    return (".sops.yaml\n---\ncreation_rules:\n"
            "  - path_regex: environments/prod/.*\\.enc\\.yaml$\n    kms: %s\n    age: >-\n      %s,\n      %s\n" % (kms_arn(), age_recipient(), age_recipient()) +
            "  - path_regex: environments/dev/.*\n    age: %s\n    pgp: %s\n" % (age_recipient(), HX(40)))


@clean("infra_ids")
def in_cfssl_certinfo():
    return (run_line("cfssl certinfo -domain api.%s | jq '{subject,serial_number,not_after,sigalg,authority_key_id,subject_key_id,pem}'" % dom()) +
            json.dumps({"subject": {"common_name": "api." + dom(), "names": ["api." + dom()]}, "serial_number": str(rint(10 ** 37, 10 ** 38)),
                        "not_after": ts()[:19] + "Z", "sigalg": "ECDSAWithSHA256", "authority_key_id": colon_hex(20),
                        "subject_key_id": colon_hex(20), "pem": cert_pem(rint(500, 620)) + "\n"}, indent=2) + "\n")


@clean("infra_ids")
def in_tailscale_status_json():
    peers = {}
    for _ in range(2):
        k = "nodekey:" + hx(64)
        peers[k] = {"ID": "n" + rs(12, ALNUM) + "CNTRL", "PublicKey": k, "HostName": pick(["build-runner", "nas", "db-proxy"]),
                    "DNSName": "%s.%s.ts.net." % (pick(["build-runner", "nas"]), rs(8, "abcdefghijklmnopqrstuvwxyz-")), "OS": "linux",
                    "TailscaleIPs": ["100.%d.%d.%d" % (rint(64, 127), rint(0, 255), rint(1, 254))], "Online": True, "KeyExpiry": ts()[:19] + "Z"}
    doc = {"Version": "1.%d.%d" % (rint(60, 90), rint(0, 9)), "BackendState": "Running",
           "Self": {"ID": "n" + rs(12, ALNUM) + "CNTRL", "PublicKey": "nodekey:" + hx(64), "HostName": "ws-" + user()},
           "Peer": peers}
    return run_line("tailscale status --json | jq '{Version,BackendState,Self:{ID:.Self.ID,PublicKey:.Self.PublicKey,HostName:.Self.HostName},Peer}'") + json.dumps(doc, indent=2) + "\n"


@clean("infra_ids")
def in_helm_history():
    out = run_line("helm history %s -n %s" % (svc(), pick(["apps", "prod"])))
    out += "REVISION\tUPDATED                 \tSTATUS    \tCHART          \tAPP VERSION\tDESCRIPTION\n"
    for i in range(1, rint(4, 6)):
        out += "%d       \t%s\t%s\t%s-%s\t%s    \t%s\n" % (i, ts_plain(), pick(["superseded", "superseded", "deployed"]), svc(), ver(), short_sha(),
                                                         pick(["Upgrade complete", "Install complete", "Rollback to %d" % max(1, i - 1)]))
    out += run_line("kubectl get secret -n apps -l owner=helm,name=%s -o custom-columns=NAME:.metadata.name,VERSION:.metadata.labels.version,UID:.metadata.uid" % svc())
    for i in range(1, 4):
        out += "sh.helm.release.v1.%s.v%d   %d   %s\n" % (svc(), i, i, uid())
    return out


@clean("infra_ids")
def in_cosign_tree():
    img = "ghcr.io/%s/%s" % (org(), svc())
    d = hx(64)
    return (run_line("cosign tree %s@sha256:%s" % (img, d)) +
            "📦 Supply Chain Security Related artifacts for an image: %s@sha256:%s\n" % (img, d) +
            "└── 💾 Attestations for an image tag: %s:sha256-%s.att\n   └── 🍒 sha256:%s\n" % (img, d, hx(64)) +
            "└── 🔐 Signatures for an image tag: %s:sha256-%s.sig\n   └── 🍒 sha256:%s\n" % (img, d, hx(64)) +
            "└── 📦 SBOMs for an image tag: %s:sha256-%s.sbom\n   └── 🍒 sha256:%s\n" % (img, d, hx(64)))


@clean("infra_ids")
def in_audit_log_uuid7():
    out = ""
    for _ in range(rint(4, 6)):
        out += json.dumps({"id": uid7(), "ts": ts(), "actor": {"type": pick(["user", "service"]), "id": uid()},
                           "action": pick(["api_key.created", "api_key.revoked", "secret.read", "secret.version.added", "session.token.refreshed"]),
                           "target": {"type": pick(["api_key", "secret"]), "id": pick([uid(), "ak_" + rs(8, LOAL), "sec_" + ulid()])},
                           "ip": pubip(), "request_id": "req_" + rs(20, LOAL)}) + "\n"
    return run_line("jq -c . audit-%s.jsonl | tail -n 5" % date()) + out


@clean("infra_ids")
def in_cloudwatch_log_tail():
    out = run_line("aws logs tail /aws/lambda/%s --since 10m" % svc())
    for _ in range(rint(3, 4)):
        rid = uid()
        t = ts()
        out += "%s %s/[$LATEST]%s START RequestId: %s Version: $LATEST\n" % (t, date().replace("-", "/"), hx(32), rid)
        out += "%s %s/[$LATEST]%s [INFO]\t%s\t%s\tloaded secret %s (version %s) from cache\n" % (
            t, date().replace("-", "/"), hx(32), t, rid, "%s/%s" % (svc(), pick(["db", "stripe", "smtp"])), uid())
        out += "%s %s/[$LATEST]%s END RequestId: %s\n" % (t, date().replace("-", "/"), hx(32), rid)
    return out


@clean("infra_ids")
def in_gitlab_pipeline_log_ids():
    pid = rint(10 ** 8, 2 * 10 ** 9)
    return ("Running with gitlab-runner 17.%d.%d (%s)\n  on %s-docker-autoscaler %s, system ID: s_%s\n" % (
        rint(0, 9), rint(0, 3), hx(8), org(), hx(8), hx(12)) +
            "Preparing the \"docker+machine\" executor\nUsing Docker executor with image rust:1.83 ...\n"
            "Pulling docker image rust:1.83 ...\nUsing docker image sha256:%s for rust:1.83 with digest rust@sha256:%s ...\n" % (hx(64), hx(64)) +
            "Getting source from Git repository\nFetching changes with git depth set to 20...\nChecking out %s as detached HEAD (ref is %s)...\n" % (short_sha(), pick(BRANCHES)) +
            "Restoring cache\nChecking cache for cargo-%s-non_protected...\nSuccessfully extracted cache\n" % hx(40) +
            "Executing \"step_script\" stage of the job script\n$ cargo test --locked\n   Compiling %s v%s\n" % (svc(), ver()) +
            "Uploading artifacts for successful job\nUploading artifacts as \"junit\" to coordinator... 201 Created  id=%d responseStatus=201 Created token=%s\n" % (
                rint(10 ** 9, 9 * 10 ** 9), rs(8, ALNUM + "_-")) +
            "Cleaning up project directory and file based variables\nJob succeeded\n\nPipeline #%d passed\n" % pid)
