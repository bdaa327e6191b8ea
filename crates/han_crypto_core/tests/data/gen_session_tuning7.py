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
            "Examples:\n\n    $ age-keygen\n    # created: 2021-01-02T15:30:45+01:00\n    # public key: age1lvyvwawkr0mcnnnncaghunadrqkmuf9e6507x9y920xxpp866cnql7dp2z\n"
            "    AGE-SECRET-KEY-1N9JEPW6DWJ0ZQUDX63F5A03GX8QUW7PXDE39N8UYF82VZ9PC8UFS3M7XA9\n\n"
            "    $ age-keygen -o key.txt\n    Public key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n")
