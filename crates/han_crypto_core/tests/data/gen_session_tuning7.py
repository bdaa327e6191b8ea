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
  * Other credentials that a secret case happens to contain besides the listed ones are
    left unlisted only where they are arguably not secret (a CSRF token next to a session
    cookie, an Akamai client_token next to its client_secret, a Vault AppRole role_id, an
    analytics write key compiled into an app); a secret case is scored on its list only.
  * A few values in clean cases are published fixed values that look like credentials:
    the local Supabase stack's demo JWT secret and its anon/service_role keys (recomputed
    here from the published secret), Google reCAPTCHA / hCaptcha / Cloudflare Turnstile test
    keys, Mailgun's documentation sample key, the Flask quickstart secret_key, the RFC 7515
    A.1 HMAC key (its JWS signature is recomputed and asserted), the RFC 6238 seed (TOTP
    values recomputed), the Anvil/Hardhat and BIP-39 test mnemonics.  PGP signatures (a
    signed git tag) and a `pass` store's encrypted file are public / ciphertext: clean.
    Password hashes were kept out of clean cases (placeholders instead).
  * Texts are 200 B .. 4 KB.  No template is used more than 3 times; at most two uses of a
    template may differ only in their random values -- a third use must differ in structure
    (checked with a similarity test on the text with its random runs masked).

Stored tool results.  90 cases (66 clean, 24 secret) are serialised the way agent harnesses
and databases store tool output: a Claude Code tool_result (plain, Read-tool line-numbered,
or a full transcript record), a Codex CLI function_call_output (the output is itself a JSON
string, so the text is escaped twice) or exec_command_end event, a Gemini CLI
functionResponse (run_shell_command / read_file), an OpenAI-style tool message, or a jsonb
row printed by psql (aligned, expanded (\\x), unaligned, or -At), with jsonb's key order and
spacing.  When a stored text was one command's output its prompt line is dropped (the
command appears in the record instead) unless that command line holds a secret.

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


_CTX = {}   # per-case sticky names (one company, one domain, one service per case); reset before every template call


def org():
    if "org" not in _CTX:
        _CTX["org"] = pick(ORGS)
    return _CTX["org"]


def dom():
    if "dom" not in _CTX:
        _CTX["dom"] = "%s.%s" % (org(), pick(TLDS))
    return _CTX["dom"]


def user():
    return pick(USERS)


def person():
    return pick(NAMES)


def email():
    return "%s@%s" % (pick(USERS).replace("_", "."), dom())


def svc():
    if "svc" not in _CTX:
        _CTX["svc"] = pick(SERVICES)
    return _CTX["svc"]


def svc_any():
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
    return "dp.st.prd." + mixed(40)


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
    kinds = ["claude_bash", "claude_read", "claude_rec", "codex", "codex", "codex", "codex_exec", "gemini", "gemini_read",
             "psql_aligned", "psql_at", "psql_x", "openai_msg"]
    if multiline_secret:
        kinds = [k for k in kinds if k != "claude_read"]
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
    if len(row) > 700:
        return "sessions=> \\pset format unaligned\nOutput format is unaligned.\nsessions=> %s\nid|payload\n%s|%s\n(1 row)\n" % (q, rid, row), 1
    w1 = max(len(rid), 2)
    w2 = len(row)
    head = " " + "id".center(w1) + " | " + "payload".center(w2).rstrip()
    return "%s=> %s\n%s\n-%s-+-%s-\n %s | %s\n(1 row)\n" % ("sessions", q, head, "-" * w1, "-" * w2,
                                                          rid.rjust(w1), row), 1


CLEAN_CMDS = ["cat /tmp/paste.txt", "sed -n '1,200p' notes/scratch.md", "cat docs/notes.md", "head -c 4000 /tmp/out.txt",
              "cat session-notes.txt"]
PROMPT_RX = re.compile(r"^(?:\$ |% |❯ |bash-5\.2\$ |[\w.-]+@[\w.-]+:\S*\$ |\[[\w.-]+@[\w.-]+ [\w.-]+\]\$ )([^\n]+)")


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


_CASE_PROMPT = [None]   # one shell prompt per case (reset before every template call)


def run_line(cmd):
    if _CASE_PROMPT[0] is None:
        _CASE_PROMPT[0] = prompt()
    return _CASE_PROMPT[0] + cmd + "\n"


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
                "    user %s password <output of: mkpasswd -m sha-512>\n" % user())
    return ("global\n    log stdout format raw local0\n    # ssl-default-bind-options ssl-min-ver TLSv1.2\n"
            "    # Certificates: crt <file> must contain the certificate AND its private key (PEM).\n"
            "    # They live in /etc/haproxy/certs/ (0600, owned by haproxy) -- not in this repo.\n\n"
            "frontend fe_https\n    bind :443 ssl crt /etc/haproxy/certs/ alpn h2,http/1.1\n"
            "    # http-request set-header X-Api-Key %%[env(UPSTREAM_API_KEY)]   # injected at runtime\n"
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
            "       ClearTextPassword   unencrypted password -- use %%ENV_VAR%% syntax instead of a literal\n"
            "       ValidAuthenticationTypes  e.g. basic\n"
            "-->\n<configuration>\n  <packageSources>\n"
            "    <add key=\"%s-feed\" value=\"https://pkgs.dev.azure.com/%s/_packaging/internal/nuget/v3/index.json\" />\n" % (org(), org()) +
            "  </packageSources>\n  <packageSourceCredentials>\n    <%s-feed>\n" % org() +
            "      <add key=\"Username\" value=\"az\" />\n"
            "      <add key=\"ClearTextPassword\" value=\"%%NUGET_FEED_PAT%%\" />\n"
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
    for _ in range(pick([rint(5, 9), rint(14, 22)])):
        d = svc_any()
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
            hx(12), "%s:%s" % (pick(["postgres", "redis", "ghcr.io/%s/%s" % (org(), svc_any())]), pick(["16", "7-alpine", short_sha()])),
            '"docker-entrypoint.s…"', "%d hours ago" % rint(1, 60), "Up %d hours (healthy)" % rint(1, 60), "%s-%s-1" % (repo(), svc_any())))
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


@clean("infra_ids", uses=2)
def in_s3_ls_recursive():
    b = "%s-%s" % (org(), pick(BUCKETS7))
    n = pick([rint(6, 9), rint(20, 30)])
    out = run_line("aws s3 ls s3://%s/ --recursive --human-readable | head -n %d" % (b, n))
    for _ in range(n):
        out += "%s %s %9s %s\n" % (date(), hms(), "%.1f %s" % (R.random() * 900, pick(["KiB", "MiB"])), pick([
            "uploads/%s/%s.jpg" % (uid(), hx(40)), "exports/%s/%s.csv.gz" % (date(), ulid()),
            "cas/%s/%s" % (hx(2), hx(64)), "thumbs/%s_%dx%d.webp" % (hx(32), 256, 256)]))
    return out


BUCKETS7 = ["uploads", "artifacts", "exports", "cas-store", "media"]


@clean("infra_ids", uses=2)
def in_pg_copy_ids():
    t = pick(["sessions_audit", "documents", "webhook_deliveries"])
    out = "--\n-- Data for Name: %s; Type: TABLE DATA; Schema: public; Owner: %s\n--\n\n" % (t, user())
    out += "COPY public.%s (id, tenant_id, external_ref, content_sha256, created_at) FROM stdin;\n" % t
    for _ in range(pick([rint(4, 7), rint(16, 22)])):
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
    n = svc()
    out = run_line("helm history %s -n %s" % (n, pick(["apps", "prod"])))
    out += "REVISION\tUPDATED                 \tSTATUS    \tCHART          \tAPP VERSION\tDESCRIPTION\n"
    last = rint(3, 5)
    for i in range(1, last + 1):
        out += "%d       \t%s\t%s\t%s-%s\t%s    \t%s\n" % (i, ts_plain(), ("deployed" if i == last else "superseded"), n, ver(), short_sha(),
                                                         pick(["Upgrade complete", "Install complete", "Rollback to %d" % max(1, i - 1)]))
    out += run_line("kubectl get secret -n apps -l owner=helm,name=%s -o custom-columns=NAME:.metadata.name,VERSION:.metadata.labels.version,UID:.metadata.uid" % n)
    for i in range(1, 4):
        out += "sh.helm.release.v1.%s.v%d   %d   %s\n" % (n, i, i, uid())
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
    for _ in range(pick([rint(4, 6), rint(10, 14)])):
        out += json.dumps({"id": uid7(), "ts": ts(), "actor": {"type": pick(["user", "service"]), "id": uid()},
                           "action": pick(["api_key.created", "api_key.revoked", "secret.read", "secret.version.added", "session.token.refreshed"]),
                           "target": {"type": pick(["api_key", "secret"]), "id": pick([uid(), "ak_" + rs(8, LOAL), "sec_" + ulid()])},
                           "ip": pubip(), "request_id": "req_" + rs(20, LOAL)}) + "\n"
    return run_line("jq -c . audit-%s.jsonl | tail -n 5" % date()) + out


@clean("infra_ids")
def in_cloudwatch_log_tail():
    out = run_line("aws logs tail /aws/lambda/%s --since 10m" % svc())
    for _ in range(pick([rint(3, 4), rint(8, 10)])):
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
            "Uploading artifacts for successful job\nUploading artifacts as \"junit\" to coordinator... 201 Created  id=%d responseStatus=201 Created\n" % (
                rint(10 ** 9, 9 * 10 ** 9)) +
            "Cleaning up project directory and file based variables\nJob succeeded\n\nPipeline #%d passed\n" % pid)


@clean("infra_ids")
def in_ecr_describe_images():
    r = pick(["%s/%s" % (org(), svc()), svc()])
    details = [{"registryId": acct(), "repositoryName": r, "imageDigest": sha_img(), "imageTags": [short_sha(), pick(["latest", "prod", ver()])],
                "imageSizeInBytes": rint(10 ** 7, 9 * 10 ** 8), "imagePushedAt": ts()[:19] + "+00:00",
                "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactMediaType": "application/vnd.oci.image.config.v1+json",
                "imageScanFindingsSummary": {"findingSeverityCounts": {"MEDIUM": rint(0, 9), "LOW": rint(0, 20)}}} for _ in range(2)]
    return run_line("aws ecr describe-images --repository-name %s --max-items 2" % r) + json.dumps({"imageDetails": details}, indent=4) + "\n"


@clean("infra_ids")
def in_journal_cursor_export():
    out = run_line("journalctl -u %s -n 2 -o export" % svc())
    for _ in range(2):
        out += ("__CURSOR=s=%s;i=%x;b=%s;m=%x;t=%x;x=%s\n__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n"
                "_MACHINE_ID=%s\n_HOSTNAME=%s\nPRIORITY=6\n_SYSTEMD_UNIT=%s.service\n_PID=%d\nMESSAGE=%s\n\n") % (
            hx(32), rint(10 ** 5, 10 ** 7), hx(32), rint(10 ** 9, 10 ** 11), rint(10 ** 15, 10 ** 16), hx(16), epoch_ms() * 1000,
            rint(10 ** 9, 10 ** 11), hx(32), hx(32), pick(["app-01", "worker-3"]), svc(), rint(300, 90000),
            pick(["Loaded credentials from /run/credentials/%s.service/db-password" % svc(), "token cache warmed (42 entries)",
                  "Reloading TLS certificate and key from /etc/ssl/private"]))
    return out


@clean("infra_ids")
def in_git_show_lockfile_diff():
    old, new = hx(64), hx(64)
    v1, v2 = ver(), ver()
    name = pick(["ring", "rustls", "openssl-sys", "aws-lc-rs"])
    return (run_line("git show --stat -p %s -- Cargo.lock" % short_sha()) +
            "commit %s\nAuthor: renovate[bot] <29139614+renovate[bot]@users.noreply.github.com>\nDate:   %s +0000\n\n"
            "    fix(deps): update rust crate %s to v%s\n\n Cargo.lock | 4 ++--\n 1 file changed, 2 insertions(+), 2 deletions(-)\n\n" % (git_sha(), ts_plain(), name, v2) +
            "diff --git a/Cargo.lock b/Cargo.lock\nindex %s..%s 100644\n--- a/Cargo.lock\n+++ b/Cargo.lock\n@@ -%d,8 +%d,8 @@ dependencies = [\n" % (
                hx(12), hx(12), rint(1000, 4000), rint(1000, 4000)) +
            " [[package]]\n name = \"%s\"\n-version = \"%s\"\n+version = \"%s\"\n source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
            "-checksum = \"%s\"\n+checksum = \"%s\"\n dependencies = [\n  \"cc\",\n" % (name, v1, v2, old, new))


@clean("infra_ids")
def in_pulumi_preview_urns():
    st = pick(["prod", "staging"])
    p = org()
    return (run_line("pulumi preview --diff -s %s" % st) +
            "Previewing update (%s)\n\n  pulumi:pulumi:Stack: (same)\n    [urn=urn:pulumi:%s::%s::pulumi:pulumi:Stack::%s-%s]\n" % (st, st, p, p, st) +
            "    ~ aws:secretsmanager/secret:Secret: (update)\n        [id=arn:aws:secretsmanager:%s:%s:secret:%s/app-%s]\n" % (region(), acct(), st, rs(6, ALNUM)) +
            "        [urn=urn:pulumi:%s::%s::aws:secretsmanager/secret:Secret::app-secret]\n" % (st, p) +
            "        [provider=urn:pulumi:%s::%s::pulumi:providers:aws::default_6_%d_0::%s]\n" % (st, p, rint(10, 70), uid()) +
            "      ~ recoveryWindowInDays: 30 => 7\n"
            "    + aws:secretsmanager/secretVersion:SecretVersion: (create)\n        [urn=urn:pulumi:%s::%s::aws:secretsmanager/secretVersion:SecretVersion::app-secret-v2]\n" % (st, p) +
            "        secretString: [secret]\n        secretId    : \"arn:aws:secretsmanager:%s:%s:secret:%s/app-%s\"\n" % (region(), acct(), st, rs(6, ALNUM)) +
            "Resources:\n    + 1 to create\n    ~ 1 to update\n    2 changes. %d unchanged\n" % rint(10, 90))


@clean("infra_ids")
def in_cdk_diff_logical_ids():
    st = "%s-%s" % (svc().title().replace("-", ""), pick(["Prod", "Stg"]))
    def lid(n):
        return n + HX(8)
    return (run_line("npx cdk diff %s" % st) +
            "Stack %s\nIAM Statement Changes\n┌───┬──────────────────────────────┬────────┬───────────────────────────────┬──────────────────────────────┐\n" % st +
            "│   │ Resource                     │ Effect │ Action                        │ Principal                    │\n"
            "├───┼──────────────────────────────┼────────┼───────────────────────────────┼──────────────────────────────┤\n"
            "│ + │ ${%s}                 │ Allow  │ secretsmanager:GetSecretValue │ AWS:${%s}        │\n" % (lid("DbSecret"), lid("TaskRole")) +
            "└───┴──────────────────────────────┴────────┴───────────────────────────────┴──────────────────────────────┘\n\n"
            "Resources\n[+] AWS::SecretsManager::Secret DbSecret %s \n" % lid("DbSecret") +
            "[+] AWS::SecretsManager::SecretTargetAttachment DbSecretAttachment %s \n" % lid("DbSecretAttachment") +
            "[~] AWS::ECS::TaskDefinition TaskDef %s replace\n" % lid("TaskDef") +
            " └─ [~] ContainerDefinitions (requires replacement)\n     └─ @@ -12,6 +12,14 @@\n"
            "        [+]   \"Secrets\": [\n        [+]     {\n        [+]       \"Name\": \"DB_PASSWORD\",\n"
            "        [+]       \"ValueFrom\": {\n        [+]         \"Fn::Join\": [\"\", [{\"Ref\": \"%s\"}, \":password::\"]]\n" % lid("DbSecret") +
            "        [+]       }\n        [+]     }\n        [+]   ]\n\n✨  Number of stacks with differences: 1\n")


@clean("infra_ids")
def in_redis_info_replication():
    return (run_line("redis-cli -h %s --no-auth-warning INFO replication" % ip()) +
            "# Replication\nrole:master\nconnected_slaves:2\n"
            "slave0:ip=%s,port=6379,state=online,offset=%d,lag=0\nslave1:ip=%s,port=6379,state=online,offset=%d,lag=1\n" % (ip(), rint(10 ** 8, 10 ** 10), ip(), rint(10 ** 8, 10 ** 10)) +
            "master_failover_state:no-failover\nmaster_replid:%s\nmaster_replid2:0000000000000000000000000000000000000000\n" % hx(40) +
            "master_repl_offset:%d\nsecond_repl_offset:-1\nrepl_backlog_active:1\nrepl_backlog_size:1048576\n" % rint(10 ** 8, 10 ** 10) +
            run_line("redis-cli -h %s INFO server | grep -E 'run_id|redis_build_id|executable'" % ip()) +
            "redis_build_id:%s\nrun_id:%s\nexecutable:/usr/local/bin/redis-server\n" % (hx(16), hx(40)))


@clean("infra_ids")
def in_es_root_response():
    return (run_line("curl -s --cacert http_ca.crt -u \"elastic:$ELASTIC_PASSWORD\" https://localhost:9200") +
            json.dumps({"name": "es-%s-%d" % (pick(["hot", "warm"]), rint(0, 5)), "cluster_name": "%s-logs" % org(), "cluster_uuid": b64u(rbytes(16)),
                        "version": {"number": "8.%d.%d" % (rint(10, 17), rint(0, 5)), "build_flavor": "default", "build_type": "docker",
                                    "build_hash": hx(40), "build_date": ts(), "build_snapshot": False, "lucene_version": "9.%d.0" % rint(8, 12),
                                    "minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0"},
                        "tagline": "You Know, for Search"}, indent=2) + "\n")


@clean("infra_ids")
def in_csr_pem_text():
    der = bytes.fromhex("308201") + rbytes(1) + bytes.fromhex("3081") + rbytes(300)
    return (run_line("openssl req -new -key /etc/ssl/private/%s.key -subj '/CN=%s' -out %s.csr && cat %s.csr" % ((svc(),) + ("%s.%s" % (svc(), dom()),) + (svc(),) * 2)) +
            "-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n" % wrap(b64e(der)) +
            run_line("openssl req -in %s.csr -noout -pubkey" % svc()) + pub_pem("ec") + "\n")


@clean("infra_ids")
def in_k8s_csr_yaml():
    req = b64e(("-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n" % wrap(b64e(rbytes(300)))).encode())
    n = "%s-client" % user()
    return (run_line("kubectl get csr %s -o yaml" % n) +
            "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  creationTimestamp: \"%s\"\n  name: %s\n  resourceVersion: \"%d\"\n  uid: %s\n" % (
                ts()[:19] + "Z", n, rint(10 ** 5, 10 ** 8), uid()) +
            "spec:\n  expirationSeconds: 86400\n  groups:\n  - system:authenticated\n  request: %s\n" % req +
            "  signerName: kubernetes.io/kube-apiserver-client\n  usages:\n  - client auth\n  username: kubernetes-admin\n"
            "status:\n  conditions:\n  - lastUpdateTime: \"%s\"\n    message: This CSR was approved by kubectl certificate approve.\n    reason: KubectlApprove\n    status: \"True\"\n    type: Approved\n" % (ts()[:19] + "Z"))


@clean("infra_ids")
def in_saml_idp_metadata():
    cert = "".join(cert_pem(rint(560, 640)).split("\n")[1:-1])
    eid = "https://idp.%s/realms/%s" % (dom(), org())
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"%s\">\n" % eid +
            "  <md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n"
            "    <md:KeyDescriptor use=\"signing\">\n      <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\n"
            "        <ds:KeyName>%s</ds:KeyName>\n        <ds:X509Data>\n          <ds:X509Certificate>%s</ds:X509Certificate>\n" % (b64u(rbytes(32)), cert) +
            "        </ds:X509Data>\n      </ds:KeyInfo>\n    </md:KeyDescriptor>\n"
            "    <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"%s/protocol/saml\"/>\n" % eid +
            "    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n"
            "    <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"%s/protocol/saml\"/>\n" % eid +
            "  </md:IDPSSODescriptor>\n</md:EntityDescriptor>\n")


@clean("infra_ids")
def in_discord_message_snowflakes():
    msgs = [{"id": snowflake(), "channel_id": snowflake(), "guild_id": snowflake(), "type": 0, "content": pick(["deploy finished ✅", "rotated the webhook, new one is in the vault", "who owns the staging db?"]),
             "author": {"id": snowflake(), "username": user(), "avatar": hx(32), "discriminator": "0", "public_flags": 0},
             "timestamp": ts()[:23] + "000+00:00", "nonce": snowflake()} for _ in range(2)]
    return run_line("curl -s -H \"Authorization: Bot $DISCORD_TOKEN\" https://discord.com/api/v10/channels/%s/messages?limit=2 | jq ." % snowflake()) + json.dumps(msgs, indent=2) + "\n"


@clean("infra_ids")
def in_grafana_dashboard_uids():
    ds = "P" + HX(16)
    panels = [{"id": i, "type": pick(["timeseries", "stat"]), "title": t, "datasource": {"type": "prometheus", "uid": ds},
               "targets": [{"expr": e, "refId": "A", "datasource": {"type": "prometheus", "uid": ds}}]}
              for i, (t, e) in enumerate([("Token refresh errors", "sum(rate(auth_token_refresh_failures_total[5m]))"),
                                          ("Secret cache hit ratio", "secret_cache_hits_total / secret_cache_lookups_total")], 1)]
    return json.dumps({"dashboard": {"uid": rs(14, LOAL + "-"), "title": "%s / auth" % svc(), "version": rint(3, 90), "panels": panels},
                       "meta": {"folderUid": rs(14, LOAL), "slug": "auth", "url": "/d/%s/auth" % rs(14, LOAL)}}, indent=2) + "\n"


@clean("infra_ids")
def in_ansible_ssh_host_keys():
    h = "%s-%02d" % (pick(["web", "db", "worker"]), rint(1, 20))
    facts = {"ansible_ssh_host_key_ecdsa_public": ssh_blob("ecdsa"), "ansible_ssh_host_key_ecdsa_public_keytype": "ecdsa-sha2-nistp256",
             "ansible_ssh_host_key_ed25519_public": ssh_blob("ed25519"), "ansible_ssh_host_key_ed25519_public_keytype": "ssh-ed25519",
             "ansible_machine_id": hx(32), "ansible_product_uuid": uid()}
    return (run_line("ansible %s -m setup -a 'filter=ansible_ssh_host_key*,ansible_machine_id,ansible_product_uuid'" % h) +
            "%s | SUCCESS => {\n    \"ansible_facts\": %s,\n    \"changed\": false\n}\n" % (h, json.dumps(facts, indent=8)[:-1] + "    }"))


@clean("infra_ids")
def in_nomad_alloc_status():
    aid = uid()
    return (run_line("nomad job status %s" % svc()) +
            "ID            = %s\nName          = %s\nType          = service\nPriority      = 50\nDatacenters   = dc1\nStatus        = running\n\n" % (svc(), svc()) +
            "Latest Deployment\nID          = %s\nStatus      = successful\n\nAllocations\n" % uid()[:8] +
            "ID        Node ID   Task Group  Version  Desired  Status   Created    Modified\n" +
            "\n".join("%s  %s  app         %d        run      running  %dh ago     %dh ago" % (uid()[:8], uid()[:8], rint(3, 30), rint(1, 9), rint(1, 9)) for _ in range(3)) +
            "\n" + run_line("nomad alloc status -short %s | head -4" % aid[:8]) +
            "ID                  = %s\nEval ID             = %s\nName                = %s.app[0]\nNode ID             = %s\n" % (aid[:8], uid()[:8], svc(), uid()[:8]))


@clean("infra_ids")
def in_oras_manifest_fetch():
    ref = "ghcr.io/%s/charts/%s:%s" % (org(), svc(), ver())
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": sha_img(), "size": rint(200, 900)},
           "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": sha_img(), "size": rint(5000, 90000)}],
           "annotations": {"org.opencontainers.image.created": ts()[:19] + "Z", "org.opencontainers.image.revision": git_sha()}}
    return run_line("oras manifest fetch --pretty %s" % ref) + json.dumps(doc, indent=2) + "\n"



@clean("infra_ids")
def in_git_submodule_status():
    out = run_line("git submodule status --recursive")
    for pth in ["vendor/protos", "third_party/libsodium", "deploy/charts", "tools/secret-scanner-rules"]:
        out += "%s%s %s (%s)\n" % (pick([" ", " ", "+", "-"]), git_sha(), pth, pick(["v%s" % ver(), "heads/main", "%s-g%s" % (ver(), short_sha())]))
    out += run_line("git ls-tree HEAD deploy/") + "".join("%s %s %s\t%s\n" % (m, t, git_sha(), n) for m, t, n in [
        ("100644", "blob", "deploy/README.md"), ("160000", "commit", "deploy/charts"), ("040000", "tree", "deploy/kustomize")])
    return out


@clean("infra_ids")
def in_argocd_app_get():
    a = svc()
    return (run_line("argocd app get %s --refresh" % a) +
            "Name:               argocd/%s\nProject:            %s\nServer:             https://kubernetes.default.svc\nNamespace:          %s\n" % (a, org(), a) +
            "URL:                https://argocd.%s/applications/%s\nSource:\n- Repo:             https://github.com/%s/%s.git\n  Target:           HEAD\n  Path:             apps/%s\n" % (dom(), a, org(), repo(), a) +
            "SyncWindow:         Sync Allowed\nSync Policy:        Automated (Prune)\nSync Status:        Synced to HEAD (%s)\nHealth Status:      Healthy\n\n" % short_sha() +
            "GROUP              KIND            NAMESPACE  NAME                 STATUS  HEALTH   HOOK  MESSAGE\n"
            "external-secrets.io  ExternalSecret  %-10s %-20s Synced  Healthy        externalsecret.external-secrets.io/%s configured\n" % (a[:10], a + "-env", a + "-env") +
            "                   Service         %-10s %-20s Synced  Healthy        service/%s unchanged\n" % (a[:10], a, a) +
            "apps               Deployment      %-10s %-20s Synced  Healthy        deployment.apps/%s configured\n" % (a[:10], a, a))


@clean("infra_ids")
def in_compose_pull_digests():
    out = run_line("docker compose pull")
    for n in ["db", "cache", "api", "worker"]:
        out += " %s Pulling \n" % n
    for _ in range(rint(4, 6)):
        out += "   %s Pull complete \n" % hx(12)
    for n, img in [("db", "postgres:16"), ("api", "ghcr.io/%s/%s:%s" % (org(), svc(), short_sha()))]:
        out += " %s Pulled \nDigest: sha256:%s\nStatus: Downloaded newer image for %s\n" % (n, hx(64), img)
    return out


@clean("infra_ids")
def in_npm_publish_notice():
    name = "@%s/%s" % (org(), pick(["sdk", "auth-client", "secrets-loader", "config"]))
    v = ver()
    return (run_line("npm publish --provenance --access public") +
            "npm notice\nnpm notice 📦  %s@%s\nnpm notice Tarball Contents\nnpm notice 1.1kB README.md\nnpm notice 4.3kB dist/index.js\nnpm notice 902B package.json\n" % (name, v) +
            "npm notice Tarball Details\nnpm notice name: %s\nnpm notice version: %s\nnpm notice filename: %s-%s.tgz\n" % (name, v, name[1:].replace("/", "-"), v) +
            "npm notice package size: %.1f kB\nnpm notice shasum: %s\nnpm notice integrity: %s\nnpm notice total files: 3\n" % (R.random() * 9, hx(40), sri()[:40] + "[...]" + b64e(rbytes(8))[:10] + "==") +
            "npm notice Publishing to https://registry.npmjs.org/ with tag latest and public access\n"
            "npm notice publish Signed provenance statement with source and build information from GitHub Actions\n"
            "npm notice publish Provenance statement published to transparency log: https://search.sigstore.dev/?logIndex=%d\n+ %s@%s\n" % (rint(10 ** 8, 3 * 10 ** 8), name, v))

# ================================================================= identifiers (clean)
SECRET_TYPES = ["PasswordSecretManager", "ApiTokenProvider", "SecretKeyRing", "CredentialVault", "TokenRefresher",
                "AccessKeyRotator", "ClientSecretResolver", "SigningKeyCache", "PrivateKeyLoader", "OAuthTokenStore",
                "SessionTokenValidator", "WebhookSecretVerifier", "MasterKeyUnsealer", "BearerTokenExtractor"]
SECRET_FNS = ["get_secret_key", "rotate_api_key", "decrypt_password", "load_private_key", "verify_webhook_secret",
              "fetch_access_token", "refresh_oauth_token", "hash_password", "derive_session_key", "read_client_secret"]


def camel(s):
    p = s.split("_")
    return p[0] + "".join(x.title() for x in p[1:])


@clean("identifiers")
def id_rustc_errors():
    t = pick(SECRET_TYPES)
    f = pick(SECRET_FNS)
    return (run_line("cargo build -p %s" % svc().replace("-", "_")) +
            "   Compiling %s v%s (/work/crates/%s)\n" % (svc(), ver(), svc()) +
            "error[E0425]: cannot find value `SIGNING_KEY_PATH` in this scope\n  --> src/auth/keys.rs:%d:31\n   |\n" % rint(20, 90) +
            "%d |     let pem = std::fs::read(SIGNING_KEY_PATH)?;\n   |                               ^^^^^^^^^^^^^^^^ not found in this scope\n   |\n" % rint(20, 90) +
            "help: consider importing this constant\n   |\n3  + use crate::config::SIGNING_KEY_PATH;\n   |\n\n"
            "error[E0061]: this function takes 2 arguments but 1 argument was supplied\n  --> src/auth/mod.rs:%d:19\n" % rint(10, 200) +
            "   |\n%d |     let store = %s::new(vault_client);\n   |                   ^^^^^^^^^^^^^^^^^^^^--------------\n" % (rint(10, 200), t) +
            "   |                                       argument #2 of type `Arc<dyn SecretBackend>` is missing\n   |\n"
            "note: associated function defined here\n  --> src/auth/%s.rs:41:12\n   |\n41 |     pub fn new(client: VaultClient, backend: Arc<dyn SecretBackend>) -> Self {\n" % f +
            "\nerror[E0603]: struct `KeyMaterial` is private\n  --> src/bin/rotate.rs:7:24\n\n"
            "Some errors have detailed explanations: E0061, E0425, E0603.\nerror: could not compile `%s` (lib) due to 3 previous errors\n" % svc())


@clean("identifiers")
def id_go_vet_build_errors():
    return (run_line("go build ./...") +
            "# github.com/%s/%s/internal/auth\n" % (org(), repo()) +
            "internal/auth/tokens.go:%d:2: declared and not used: secretKey\n" % rint(20, 200) +
            "internal/auth/tokens.go:%d:24: cannot use creds (variable of type *ClientCredentials) as string value in argument to oauth2.NewClient\n" % rint(20, 200) +
            "internal/auth/vault.go:%d:35: too many arguments in call to vault.NewSecretFetcher\n\thave (*api.Client, string, time.Duration)\n\twant (*api.Client, string)\n" % rint(20, 200) +
            "internal/auth/issuer.go:%d:9: undefined: jwtSigningKeyFromEnv\n" % rint(20, 200) +
            run_line("go vet ./internal/auth/") +
            "internal/auth/rotate.go:%d:3: fmt.Sprintf format %%s has arg tokenTTL of wrong type time.Duration\n" % rint(20, 200))


@clean("identifiers", uses=2)
def id_java_hikari_trace():
    pk = "com.%s.%s" % (org(), svc().replace("-", ""))
    return ("%s ERROR 1 --- [%s] [           main] com.zaxxer.hikari.pool.HikariPool        : HikariPool-1 - Exception during pool initialization.\n\n" % (ts(), svc()) +
            "org.postgresql.util.PSQLException: FATAL: password authentication failed for user \"%s\"\n" % user() +
            "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)\n"
            "\tat org.postgresql.core.v3.ConnectionFactoryImpl.tryConnect(ConnectionFactoryImpl.java:203)\n"
            "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:258)\n"
            "\tat com.zaxxer.hikari.pool.PoolBase.newConnection(PoolBase.java:364)\n"
            "\tat com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:100)\n"
            "\tat %s.config.DataSourceConfig.dataSource(DataSourceConfig.java:%d)\n" % (pk, rint(30, 90)) +
            "\tat %s.secrets.%s.resolvePassword(%s.java:%d)\n" % (pk, pick(SECRET_TYPES), "SecretResolver", rint(30, 200)) +
            "\tat %s.secrets.DbCredentialsSupplier.get(DbCredentialsSupplier.java:%d)\n" % (pk, rint(20, 80)) +
            "\t... 42 common frames omitted\n\n"
            "Caused by: java.lang.IllegalStateException: spring.datasource.password resolved from 'vault:secret/data/%s#password' is empty\n" % svc() +
            "\tat %s.secrets.VaultPropertySource.getProperty(VaultPropertySource.java:%d)\n" % (pk, rint(40, 140)))


@clean("identifiers")
def id_kotlin_lateinit():
    return ("FATAL EXCEPTION: main\nProcess: com.%s.app, PID: %d\n" % (org(), rint(2000, 30000)) +
            "kotlin.UninitializedPropertyAccessException: lateinit property apiTokenProvider has not been initialized\n"
            "\tat com.%s.app.auth.SessionRepository.getApiTokenProvider(SessionRepository.kt:%d)\n" % (org(), rint(20, 90)) +
            "\tat com.%s.app.auth.SessionRepository.refreshAccessToken(SessionRepository.kt:%d)\n" % (org(), rint(90, 200)) +
            "\tat com.%s.app.auth.EncryptedTokenStore.readRefreshToken(EncryptedTokenStore.kt:%d)\n" % (org(), rint(20, 90)) +
            "\tat androidx.security.crypto.EncryptedSharedPreferences.getString(EncryptedSharedPreferences.java:%d)\n" % rint(300, 400) +
            "\tat com.%s.app.MainActivity.onCreate(MainActivity.kt:%d)\n" % (org(), rint(20, 90)) +
            "\tat android.app.Activity.performCreate(Activity.java:8595)\n")


@clean("identifiers")
def id_csharp_di_exception():
    ns = org().title()
    return ("Unhandled exception. System.InvalidOperationException: Unable to resolve service for type '%s.Security.IClientSecretCredentialFactory' while attempting to activate '%s.Security.KeyVaultSecretProvider'.\n" % (ns, ns) +
            "   at Microsoft.Extensions.DependencyInjection.ServiceLookup.CallSiteFactory.CreateArgumentCallSites(ServiceIdentifier serviceIdentifier, Type implementationType, CallSiteChain callSiteChain, ParameterInfo[] parameters, Boolean throwIfCallSiteNotFound)\n"
            "   at Microsoft.Extensions.DependencyInjection.ServiceLookup.CallSiteFactory.CreateConstructorCallSite(ResultCache lifetime, ServiceIdentifier serviceIdentifier, Type implementationType, CallSiteChain callSiteChain)\n"
            "   at %s.Api.Startup.<>c.<ConfigureServices>b__4_0(IServiceProvider sp) in /src/%s.Api/Startup.cs:line %d\n" % (ns, ns, rint(40, 200)) +
            "   at %s.Security.ApiKeyAuthenticationHandler.HandleAuthenticateAsync() in /src/%s.Security/ApiKeyAuthenticationHandler.cs:line %d\n" % (ns, ns, rint(20, 90)) +
            "   at Program.<Main>$(String[] args) in /src/%s.Api/Program.cs:line 31\n" % ns)


@clean("identifiers")
def id_tsc_errors():
    return (run_line("npx tsc --noEmit") +
            "src/auth/oauth.ts:%d:9 - error TS2741: Property 'clientSecret' is missing in type '{ clientId: string; redirectUri: string; }' but required in type 'OAuthClientConfig'.\n\n" % rint(10, 90) +
            "%d   const cfg: OAuthClientConfig = { clientId, redirectUri };\n           ~~~\n\n" % rint(10, 90) +
            "  src/auth/types.ts:14:3\n    14   clientSecret: Secret<string>;\n         ~~~~~~~~~~~~\n    'clientSecret' is declared here.\n\n"
            "src/lib/apiKey.ts:%d:22 - error TS2345: Argument of type 'string | undefined' is not assignable to parameter of type 'string'.\n" % rint(10, 90) +
            "  Type 'undefined' is not assignable to type 'string'.\n\n%d   return hashApiKey(process.env.API_KEY_PEPPER);\n                        ~~~~~~~~~~~~~~~~~~~~~~~~~~\n\n" % rint(10, 90) +
            "Found 2 errors in 2 files.\n\nErrors  Files\n     1  src/auth/oauth.ts:%d\n     1  src/lib/apiKey.ts:%d\n" % (rint(10, 90), rint(10, 90)))


@clean("identifiers", uses=3)
def id_python_traceback_creds():
    kind = pick(["boto", "hvac", "keyring"])
    head = "Traceback (most recent call last):\n  File \"/app/%s/cli.py\", line %d, in main\n    creds = %s()\n" % (svc().replace("-", "_"), rint(20, 200), pick(SECRET_FNS))
    head += "  File \"/app/%s/secrets.py\", line %d, in %s\n" % (svc().replace("-", "_"), rint(20, 200), pick(SECRET_FNS))
    if kind == "boto":
        return head + ("    resp = client.get_secret_value(SecretId=secret_name)\n"
                       "  File \"/usr/local/lib/python3.12/site-packages/botocore/client.py\", line 569, in _api_call\n"
                       "    return self._make_api_call(operation_name, kwargs)\n"
                       "  File \"/usr/local/lib/python3.12/site-packages/botocore/auth.py\", line 418, in add_auth\n"
                       "    raise NoCredentialsError()\nbotocore.exceptions.NoCredentialsError: Unable to locate credentials\n")
    if kind == "hvac":
        return head + ("    secret = self.client.secrets.kv.v2.read_secret_version(path=path, mount_point=\"secret\")\n"
                       "  File \"/usr/local/lib/python3.12/site-packages/hvac/api/secrets_engines/kv_v2.py\", line 111, in read_secret_version\n"
                       "    return self._adapter.get(\n"
                       "  File \"/usr/local/lib/python3.12/site-packages/hvac/utils.py\", line 48, in raise_for_error\n"
                       "    raise exceptions.Forbidden(message, errors=errors, method=method, url=url)\n"
                       "hvac.exceptions.Forbidden: 1 error occurred:\n\t* permission denied\n, on get https://vault.%s:8200/v1/secret/data/%s/db\n" % (dom(), svc()))
    return head + ("    password = keyring.get_password(\"%s\", username)\n" % svc() +
                   "  File \"/usr/lib/python3/dist-packages/keyring/core.py\", line 56, in get_password\n"
                   "    return get_keyring().get_password(service_name, username)\n"
                   "  File \"/usr/lib/python3/dist-packages/keyring/backends/fail.py\", line 28, in get_password\n"
                   "    raise NoKeyringError(msg)\nkeyring.errors.NoKeyringError: No recommended backend was available. Install a recommended 3rd party backend package; or, install the keyrings.alt package if you want to use the non-recommended backends. See https://pypi.org/project/keyring for details.\n")


@clean("identifiers")
def id_php_typeerror():
    return ("PHP Fatal error:  Uncaught TypeError: App\\Security\\TokenEncoder::encode(): Argument #1 ($secretKey) must be of type string, null given, called in /var/www/src/Controller/AuthController.php on line %d and defined in /var/www/src/Security/TokenEncoder.php:%d\n" % (rint(30, 200), rint(10, 60)) +
            "Stack trace:\n#0 /var/www/src/Controller/AuthController.php(%d): App\\Security\\TokenEncoder->encode(NULL, Array)\n" % rint(30, 200) +
            "#1 /var/www/vendor/symfony/http-kernel/HttpKernel.php(181): App\\Controller\\AuthController->issueApiToken(Object(Symfony\\Component\\HttpFoundation\\Request))\n"
            "#2 /var/www/vendor/symfony/http-kernel/HttpKernel.php(76): Symfony\\Component\\HttpKernel\\HttpKernel->handleRaw(Object(Symfony\\Component\\HttpFoundation\\Request), 1)\n"
            "#3 {main}\n  thrown in /var/www/src/Security/TokenEncoder.php on line %d\n\n"
            "# .env.local is missing JWT_SECRET_KEY -> %%env(JWT_SECRET_KEY)%% resolves to null\n" % rint(10, 60))


@clean("identifiers")
def id_rails_master_key_missing():
    return (run_line("RAILS_ENV=production bin/rails credentials:show") +
            "Missing 'config/master.key' to decrypt credentials. See `bin/rails credentials:help`\n" +
            run_line("RAILS_ENV=production bin/rails assets:precompile") +
            "bin/rails aborted!\nActiveSupport::EncryptedFile::MissingKeyError: Missing encryption key to decrypt file with. Ask your team for your master key and write it to /app/config/master.key or put it in the ENV['RAILS_MASTER_KEY'].\n"
            "/app/config/environments/production.rb:%d:in `block in <main>'\n" % rint(10, 90) +
            "/app/config/initializers/%s.rb:%d:in `<main>'\n" % (pick(["stripe", "devise", "lockbox"]), rint(3, 30)) +
            "Tasks: TOP => environment\n(See full trace by running task with --trace)\n")


@clean("identifiers")
def id_cpp_compile_errors():
    return (run_line("cmake --build build -j8 2>&1 | grep -A3 error") +
            "/src/crypto/key_store.cpp:%d:18: error: 'class KeyStore' has no member named 'privateKeyPem'; did you mean 'privateKeyPath'?\n" % rint(20, 300) +
            "  %d |     auto pem = ks.privateKeyPem();\n      |                  ^~~~~~~~~~~~~\n      |                  privateKeyPath\n" % rint(20, 300) +
            "/src/crypto/secret_provider.cpp:%d:5: error: no matching function for call to 'SecretProvider::getSecret(const char [18], int)'\n" % rint(20, 300) +
            "/src/crypto/secret_provider.h:27:17: note: candidate: 'std::string SecretProvider::getSecret(const std::string&) const'\n"
            "   27 |     std::string getSecret(const std::string& name) const;\n      |                 ^~~~~~~~~\n"
            "/src/crypto/hmac_signer.cpp:%d:10: error: 'kHmacKeyLength' was not declared in this scope\n" % rint(20, 300))


@clean("identifiers")
def id_elixir_keyerror():
    return ("** (KeyError) key :secret_key_base not found in: [\n  url: [host: \"%s\", port: 443, scheme: \"https\"],\n" % ("app." + dom()) +
            "  http: [ip: {0, 0, 0, 0, 0, 0, 0, 0}, port: 4000],\n  pubsub_server: %s.PubSub,\n  live_view: [signing_salt: nil]\n]\n" % org().title() +
            "    (elixir 1.17.3) lib/keyword.ex:1609: Keyword.fetch!/2\n"
            "    (%s 0.1.0) lib/%s/endpoint.ex:%d: %sWeb.Endpoint.init/2\n" % (org(), org(), rint(10, 60), org().title()) +
            "    (phoenix 1.7.14) lib/phoenix/endpoint/supervisor.ex:25: Phoenix.Endpoint.Supervisor.init/1\n\n"
            "config/runtime.exs expects SECRET_KEY_BASE:\n  secret_key_base =\n    System.get_env(\"SECRET_KEY_BASE\") ||\n      raise \"\"\"\n"
            "      environment variable SECRET_KEY_BASE is missing.\n      You can generate one by calling: mix phx.gen.secret\n      \"\"\"\n")


TEST_NAMES = ["test_rotate_api_key_invalidates_old_token", "test_password_hash_uses_argon2id", "test_refresh_token_is_single_use",
              "test_expired_session_token_is_rejected", "test_webhook_secret_mismatch_returns_401", "test_private_key_loaded_from_file_not_env",
              "test_client_secret_never_logged", "test_decrypt_password_with_wrong_key_fails", "test_signing_key_rotation_keeps_old_kid",
              "test_api_token_prefix_is_stable", "test_master_key_unseal_requires_quorum", "test_bearer_token_missing_header"]


@clean("identifiers", uses=4)
def id_test_runner_names():
    names = picks(TEST_NAMES, rint(5, 8))
    style = pick(["pytest", "cargo", "jest", "go", "junit", "gtest"])
    if style == "pytest":
        out = run_line("pytest tests/auth -v")
        out += "============================= test session starts ==============================\ncollected %d items\n\n" % len(names)
        for i, n in enumerate(names):
            out += "tests/auth/test_%s.py::%s %s [%3d%%]\n" % (pick(["tokens", "secrets", "keys"]), n, pick(["PASSED", "PASSED", "PASSED", "SKIPPED"]), (i + 1) * 100 // len(names))
        return out + "\n======================== %d passed in %.2fs ========================\n" % (len(names), R.random() * 9)
    if style == "cargo":
        out = run_line("cargo test -p %s auth::" % svc()) + "running %d tests\n" % len(names)
        for n in names:
            out += "test auth::tests::%s ... ok\n" % n[5:]
        return out + "\ntest result: ok. %d passed; 0 failed; 0 ignored; 0 measured; %d filtered out; finished in 0.%02ds\n" % (len(names), rint(10, 200), rint(1, 99))
    if style == "jest":
        out = run_line("npx jest src/auth") + " PASS  src/auth/__tests__/%s.test.ts\n  %s\n" % (camel(pick(SECRET_FNS)), pick(SECRET_TYPES))
        for n in names:
            out += "    ✓ %s (%d ms)\n" % (n[5:].replace("_", " "), rint(1, 90))
        return out + "\nTest Suites: 1 passed, 1 total\nTests:       %d passed, %d total\n" % (len(names), len(names))
    if style == "go":
        out = run_line("go test ./internal/auth/ -run 'Test' -v")
        for n in names:
            gn = "Test" + "".join(x.title() for x in n[5:].split("_"))
            out += "=== RUN   %s\n--- PASS: %s (0.%02ds)\n" % (gn, gn, rint(0, 30))
        return out + "PASS\nok  \tgithub.com/%s/%s/internal/auth\t0.%03ds\n" % (org(), repo(), rint(10, 900))
    if style == "junit":
        out = run_line("./gradlew test --tests '*Auth*'")
        for n in names:
            out += "%sTest > %s() PASSED\n" % (pick(SECRET_TYPES), camel(n[5:]))
        return out + "\nBUILD SUCCESSFUL in %ds\n%d actionable tasks: 3 executed, %d up-to-date\n" % (rint(5, 90), rint(5, 20), rint(2, 17))
    out = run_line("ctest --output-on-failure -R Secret")
    out += "[==========] Running %d tests from 1 test suite.\n" % len(names)
    for n in names:
        gn = "".join(x.title() for x in n[5:].split("_"))
        out += "[ RUN      ] SecretsTest.%s\n[       OK ] SecretsTest.%s (%d ms)\n" % (gn, gn, rint(0, 40))
    return out + "[  PASSED  ] %d tests.\n" % len(names)


@clean("identifiers")
def id_tree_secret_paths():
    return (run_line("tree -a -I node_modules --noreport src config deploy | head -40") +
            "src\n├── auth\n│   ├── api_token_provider.rs\n│   ├── mod.rs\n│   ├── password_hasher.rs\n│   ├── secret_store.rs\n│   └── signing_keys.rs\n"
            "├── config.rs\n└── main.rs\nconfig\n├── credentials\n│   ├── production.yml.enc\n│   └── staging.yml.enc\n├── credentials.yml.enc\n"
            "├── master.key.example\n└── secrets.schema.json\ndeploy\n├── external-secret-db.yaml\n├── sealed-secret-api-token.yaml\n"
            "└── keys\n    ├── release-signing.pub\n    └── sops-age-recipients.txt\n")


@clean("identifiers", uses=2)
def id_git_grep_env_reads():
    lines = ["src/db.rs:%d:    let password = env::var(\"DB_PASSWORD\")?;",
             "src/config.rs:%d:    api_key: SecretString::from(std::env::var(\"STRIPE_API_KEY\").context(\"STRIPE_API_KEY missing\")?),",
             "cmd/worker/main.go:%d:\ttoken := os.Getenv(\"GITHUB_TOKEN\")",
             "internal/cfg/cfg.go:%d:\tSecretKey string `env:\"APP_SECRET_KEY,required\"`",
             "web/src/env.ts:%d:  SESSION_SECRET: z.string().min(32),",
             "app/settings.py:%d:SECRET_KEY = os.environ[\"DJANGO_SECRET_KEY\"]",
             "app/settings.py:%d:AWS_SECRET_ACCESS_KEY = env(\"AWS_SECRET_ACCESS_KEY\", default=None)",
             "lib/mailer.rb:%d:    password: ENV.fetch(\"SMTP_PASSWORD\"),",
             "src/main/resources/application.yml:%d:    password: ${DB_PASSWORD}",
             "scripts/deploy.sh:%d:: \"${REGISTRY_TOKEN:?REGISTRY_TOKEN must be set}\"",
             "Api/Program.cs:%d:var clientSecret = builder.Configuration[\"AzureAd:ClientSecret\"];",
             "src/Security/Jwt.php:%d:        $key = $_ENV['JWT_SECRET'] ?? throw new \\RuntimeException('JWT_SECRET not set');"]
    out = run_line("git grep -nE '(PASSWORD|SECRET|TOKEN|API_KEY)' -- ':!*.lock' ':!docs/'")
    for l in picks(lines, rint(6, 9)):
        out += (l % rint(3, 250)) + "\n"
    return out


@clean("identifiers")
def id_rust_config_secrecy():
    return ("use secrecy::{ExposeSecret, SecretString};\nuse serde::Deserialize;\n\n"
            "#[derive(Debug, Deserialize)]\npub struct DatabaseSettings {\n    pub host: String,\n    pub port: u16,\n    pub username: String,\n"
            "    /// Read from `APP_DATABASE__PASSWORD`; never logged (Debug prints `[REDACTED]`).\n    pub password: SecretString,\n    pub require_ssl: bool,\n}\n\n"
            "#[derive(Debug, Deserialize)]\npub struct AuthSettings {\n    pub jwt_signing_key_path: std::path::PathBuf,\n    pub api_token_pepper: SecretString,\n"
            "    pub webhook_secret: SecretString,\n}\n\nimpl DatabaseSettings {\n    pub fn connect_options(&self) -> PgConnectOptions {\n"
            "        PgConnectOptions::new()\n            .host(&self.host)\n            .username(&self.username)\n"
            "            .password(self.password.expose_secret())\n            .port(self.port)\n    }\n}\n")


@clean("identifiers")
def id_go_config_struct_tags():
    return ("package config\n\n// Config is populated from the environment by github.com/caarlos0/env/v11.\ntype Config struct {\n"
            "\tDatabaseURL      string        `env:\"DATABASE_URL,required,unset\"`\n"
            "\tRedisPassword    string        `env:\"REDIS_PASSWORD\" json:\"-\"`\n"
            "\tJWTSigningKey    []byte        `env:\"JWT_SIGNING_KEY_FILE,file,required\" json:\"-\"`\n"
            "\tStripeSecretKey  string        `env:\"STRIPE_SECRET_KEY,required\" json:\"-\"`\n"
            "\tWebhookSecret    string        `env:\"WEBHOOK_SECRET\" json:\"-\"`\n"
            "\tTokenTTL         time.Duration `env:\"TOKEN_TTL\" envDefault:\"15m\"`\n"
            "\tVaultRoleID      string        `env:\"VAULT_ROLE_ID\"`\n"
            "\tVaultSecretIDPath string       `env:\"VAULT_SECRET_ID_PATH\" envDefault:\"/var/run/secrets/vault/secret-id\"`\n}\n\n"
            "// String implements fmt.Stringer without leaking secrets.\nfunc (c Config) String() string {\n"
            "\treturn fmt.Sprintf(\"Config{TokenTTL:%s VaultRoleID:%s}\", c.TokenTTL, c.VaultRoleID)\n}\n")


@clean("identifiers")
def id_ts_zod_env_schema():
    return ("import { z } from \"zod\";\n\nconst EnvSchema = z.object({\n  NODE_ENV: z.enum([\"development\", \"test\", \"production\"]),\n"
            "  DATABASE_URL: z.string().url(),\n  SESSION_SECRET: z.string().min(32, \"SESSION_SECRET must be at least 32 chars\"),\n"
            "  GITHUB_CLIENT_ID: z.string(),\n  GITHUB_CLIENT_SECRET: z.string(),\n  RESEND_API_KEY: z.string().startsWith(\"re_\"),\n"
            "  OPENAI_API_KEY: z.string().startsWith(\"sk-\").optional(),\n});\n\n"
            "export type Env = z.infer<typeof EnvSchema>;\n\nexport const env: Env = EnvSchema.parse(process.env);\n\n"
            "// never do: console.log(env) -- use redactEnv(env) which keeps only the key names\n"
            "export function redactEnv(e: Env): Record<keyof Env, string> {\n  return Object.fromEntries(Object.keys(e).map((k) => [k, \"****\"])) as never;\n}\n")


@clean("identifiers")
def id_pydantic_settings_class():
    return ("from pydantic import Field, SecretStr\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n\n\n"
            "class Settings(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix=\"APP_\", secrets_dir=\"/run/secrets\")\n\n"
            "    database_url: SecretStr\n    stripe_api_key: SecretStr = Field(alias=\"STRIPE_API_KEY\")\n"
            "    stripe_webhook_secret: SecretStr\n    sendgrid_api_key: SecretStr | None = None\n    jwt_private_key_path: str = \"/run/secrets/jwt.pem\"\n"
            "    token_ttl_seconds: int = 900\n\n\nsettings = Settings()  # values come from env / files in secrets_dir\n\n"
            ">>> settings.stripe_api_key\nSecretStr('**********')\n>>> settings.model_dump()['stripe_webhook_secret']\nSecretStr('**********')\n")


@clean("identifiers")
def id_spring_config_record():
    p = "com.%s.auth" % org()
    return ("package %s.config;\n\n@ConfigurationProperties(prefix = \"app.auth\")\n@Validated\n" % p +
            "public record AuthProperties(\n        @NotBlank String issuer,\n        @NotBlank String clientId,\n"
            "        @NotBlank @ToString.Exclude String clientSecret,\n        Duration accessTokenTtl,\n"
            "        Resource signingKeyLocation,\n        List<String> trustedJwksUris) {\n}\n\n"
            "# application.yml\napp:\n  auth:\n    issuer: https://id.%s\n    client-id: %s\n" % (dom(), svc()) +
            "    client-secret: ${AUTH_CLIENT_SECRET}\n    access-token-ttl: 15m\n    signing-key-location: file:/etc/%s/signing.pem\n" % svc())


@clean("identifiers")
def id_sql_schema_secret_columns():
    return ("CREATE TABLE api_keys (\n    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n    tenant_id     uuid NOT NULL REFERENCES tenants(id),\n"
            "    key_prefix    text NOT NULL,                 -- first 8 chars, shown in the UI\n"
            "    key_hash      bytea NOT NULL,                -- sha256(pepper || key)\n"
            "    scopes        text[] NOT NULL DEFAULT '{}',\n    last_used_at  timestamptz,\n    revoked_at    timestamptz,\n"
            "    created_at    timestamptz NOT NULL DEFAULT now()\n);\n\nCREATE UNIQUE INDEX api_keys_prefix_idx ON api_keys (key_prefix);\n\n"
            "CREATE TABLE users (\n    id              bigserial PRIMARY KEY,\n    email           citext UNIQUE NOT NULL,\n"
            "    password_hash   text NOT NULL,               -- argon2id PHC string\n    totp_secret_enc bytea,                       -- pgp_sym_encrypt'ed\n"
            "    password_changed_at timestamptz\n);\n\nCOMMENT ON COLUMN users.totp_secret_enc IS 'encrypted with the key from current_setting(''app.totp_key'')';\n")


@clean("identifiers")
def id_graphql_schema_tokens():
    return ("type ApiToken {\n  id: ID!\n  name: String!\n  \"Last four characters; the full token is only returned by createApiToken.\"\n  lastFour: String!\n"
            "  scopes: [Scope!]!\n  expiresAt: DateTime\n  createdBy: User!\n}\n\ntype CreateApiTokenPayload {\n  token: ApiToken!\n"
            "  \"Plain-text secret. Shown once, never stored.\"\n  secret: String!\n}\n\ntype Mutation {\n"
            "  createApiToken(input: CreateApiTokenInput!): CreateApiTokenPayload!\n  rotateApiToken(id: ID!): CreateApiTokenPayload!\n"
            "  revokeApiToken(id: ID!): ApiToken!\n  resetPassword(token: String!, newPassword: String!): Boolean!\n}\n\n"
            "input CreateApiTokenInput {\n  name: String!\n  scopes: [Scope!]!\n  ttlDays: Int = 90\n}\n")


@clean("identifiers")
def id_openapi_writeonly_fields():
    return ("components:\n  securitySchemes:\n    bearerAuth:\n      type: http\n      scheme: bearer\n      bearerFormat: JWT\n"
            "    apiKeyHeader:\n      type: apiKey\n      in: header\n      name: X-API-Key\n  schemas:\n    CreateUser:\n      type: object\n"
            "      required: [email, password]\n      properties:\n        email:\n          type: string\n          format: email\n"
            "        password:\n          type: string\n          format: password\n          writeOnly: true\n          minLength: 12\n"
            "    WebhookEndpoint:\n      type: object\n      properties:\n        id: {type: string, format: uuid}\n        url: {type: string, format: uri}\n"
            "        signingSecret:\n          type: string\n          readOnly: true\n          description: Returned only on creation.\n"
            "security:\n  - bearerAuth: []\n  - apiKeyHeader: []\n")


@clean("identifiers")
def id_proto_secret_service():
    return ("syntax = \"proto3\";\n\npackage %s.secrets.v1;\n\nservice SecretService {\n" % org() +
            "  rpc GetSecretMetadata(GetSecretMetadataRequest) returns (SecretMetadata);\n  rpc RotateSecret(RotateSecretRequest) returns (RotateSecretResponse);\n"
            "  rpc ListSecretVersions(ListSecretVersionsRequest) returns (ListSecretVersionsResponse);\n}\n\n"
            "message RotateSecretRequest {\n  string secret_name = 1;\n  // If set, the old version stays valid for this long.\n  google.protobuf.Duration grace_period = 2;\n}\n\n"
            "message RotateSecretResponse {\n  string new_version_id = 1;\n  // sha256 of the new value, for audit; never the value itself.\n  bytes value_sha256 = 2;\n}\n\n"
            "message SecretMetadata {\n  string name = 1;\n  string kms_key_name = 2;\n  google.protobuf.Timestamp next_rotation_time = 3;\n}\n")


@clean("identifiers", uses=2)
def id_auth_log_lines():
    out = ""
    for _ in range(pick([rint(6, 9), rint(24, 34)])):
        out += "%s %s %s %s\n" % (ts(), pick(["INFO ", "INFO ", "WARN ", "DEBUG"]), pick(["[auth]", "[tokens]", "[secrets]", "auth.service"]), pick([
            "token refresh succeeded for user_id=%d" % rint(100, 99999), "api key ak_%s revoked by user_id=%d" % (rs(6, LOAL), rint(100, 9999)),
            "password reset email queued for user_id=%d (token ttl=3600s)" % rint(100, 99999),
            "secret db/password rotated: version %d -> %d" % (rint(2, 40), rint(41, 80)),
            "loaded %d signing keys (kids=%s,%s)" % (rint(2, 3), hx(8), hx(8)),
            "rejected request: missing bearer token (path=/v1/orders, ip=%s)" % pubip(),
            "webhook signature mismatch for endpoint_id=%s" % uid(),
            "client_credentials grant issued for client_id=%s scope=\"read:orders\"" % svc(),
            "vault lease %s/creds/%s/%s renewed (ttl=1h)" % (pick(["database", "aws"]), svc(), rs(24, ALNUM))]))
    return out


@clean("identifiers")
def id_gosec_false_positive():
    L1, L2 = rint(8, 30), rint(10, 90)
    return (run_line("gosec ./...") +
            "[gosec] %s Including rules: default\n[gosec] %s Checking package: oauth\n" % (ts_plain(), ts_plain()) +
            "Results:\n\n\n[/src/internal/oauth/google.go:%d] - G101 (CWE-798): Potential hardcoded credentials (Confidence: LOW, Severity: HIGH)\n" % (L1 + 1) +
            "    %d: const (\n  > %d: \tTokenURL    = \"https://oauth2.googleapis.com/token\"\n    %d: \tAuthURL     = \"https://accounts.google.com/o/oauth2/auth\"\n" % (L1, L1 + 1, L1 + 2) +
            "\nAutofix: \n\n[/src/internal/auth/keys.go:%d] - G101 (CWE-798): Potential hardcoded credentials (Confidence: LOW, Severity: HIGH)\n" % L2 +
            "  > %d: \tpasswordResetTokenHeader = \"X-Password-Reset-Token\"\n\nSummary:\n  Gosec  : 2.%d.0\n  Files  : %d\n  Lines  : %d\n  Nosec  : 0\n  Issues : 2\n\n" % (L2, rint(18, 22), rint(30, 300), rint(3000, 40000)) +
            "Both are false positives (URL and header name); suppressing with `// #nosec G101 -- not a credential`.\n")


@clean("identifiers")
def id_diff_rename_secret_vars():
    return (run_line("git diff HEAD~1 -- src/payments/client.ts") +
            "diff --git a/src/payments/client.ts b/src/payments/client.ts\nindex %s..%s 100644\n--- a/src/payments/client.ts\n+++ b/src/payments/client.ts\n" % (hx(7), hx(7)) +
            "@@ -%d,12 +%d,12 @@ import { getSecret } from \"../secrets\";\n" % (rint(3, 30), rint(3, 30)) +
            "-export async function makeClient(apiKey: string) {\n-  return new Stripe(apiKey, { apiVersion: API_VERSION });\n+export async function makeClient(secretRef: SecretRef) {\n"
            "+  const apiKey = await getSecret(secretRef);\n+  return new Stripe(apiKey, { apiVersion: API_VERSION });\n }\n \n"
            "-const STRIPE_KEY_ENV = \"STRIPE_SECRET_KEY\";\n+const STRIPE_KEY_REF: SecretRef = { provider: \"aws-sm\", name: \"payments/stripe\", field: \"secret_key\" };\n"
            " \n-export const client = makeClient(process.env[STRIPE_KEY_ENV]!);\n+export const client = makeClient(STRIPE_KEY_REF);\n")


@clean("identifiers")
def id_k8s_rbac_secret_names():
    return ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: %s-secret-reader\n  namespace: %s\nrules:\n" % (svc(), pick(["prod", "apps"])) +
            "  - apiGroups: [\"\"]\n    resources: [\"secrets\"]\n    resourceNames: [\"%s-db-credentials\", \"%s-api-token\", \"%s-tls\"]\n    verbs: [\"get\", \"watch\"]\n" % ((svc(),) * 3) +
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: %s-secret-reader\nsubjects:\n  - kind: ServiceAccount\n    name: %s\n" % (svc(), svc()) +
            "roleRef:\n  kind: Role\n  name: %s-secret-reader\n  apiGroup: rbac.authorization.k8s.io\n" % svc())


@clean("identifiers")
def id_kms_key_policy():
    a = acct()
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowSecretsManagerUse", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:role/%s-task" % (a, svc())},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.%s.amazonaws.com" % region(), "kms:CallerAccount": a},
                       "StringLike": {"kms:EncryptionContext:SecretARN": "arn:aws:secretsmanager:%s:%s:secret:%s/*" % (region(), a, svc())}}},
        {"Sid": "DenyPlaintextExport", "Effect": "Deny", "Principal": "*", "Action": ["kms:GetKeyPolicy", "kms:PutKeyPolicy"], "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "security"}}}]}
    return json.dumps(doc, indent=2) + "\n"


@clean("identifiers")
def id_tf_sensitive_output_error():
    return (run_line("terraform plan") +
            "╷\n│ Error: Output refers to sensitive values\n│\n│   on outputs.tf line %d:\n│   %d: output \"db_connection\" {\n│\n" % (rint(5, 40), rint(5, 40)) +
            "│ To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, Terraform requires that any root module output containing\n"
            "│ sensitive data be explicitly marked as sensitive, to confirm your intent.\n│\n"
            "│ If you do intend to export this data, annotate the output value as sensitive by adding the following argument:\n│     sensitive = true\n╵\n\n"
            "outputs.tf:\noutput \"db_connection\" {\n  value = \"postgres://${aws_db_instance.main.username}:${random_password.db.result}@${aws_db_instance.main.endpoint}/app\"\n}\n")


@clean("identifiers", uses=4)
def id_auth_error_messages():
    kind = pick(["mysql", "psql", "git", "docker", "kubectl", "aws", "ssh", "openssl"])
    h = ip()
    u = user()
    if kind == "mysql":
        t = run_line("mysql -h %s -u %s -p %s" % (h, u, dbname())) + "Enter password: \nERROR 1045 (28000): Access denied for user '%s'@'%s' (using password: YES)\n" % (u, ip())
    elif kind == "psql":
        t = run_line("psql -h %s -U %s %s" % (h, u, dbname())) + "psql: error: connection to server at \"%s\", port 5432 failed: fe_sendauth: no password supplied\n" % h + \
            run_line("PGPASSFILE=~/.pgpass.stage psql -h %s -U %s %s" % (h, u, dbname())) + \
            "psql: error: connection to server at \"%s\", port 5432 failed: FATAL:  password authentication failed for user \"%s\"\n" % (h, u)
    elif kind == "git":
        t = run_line("git push origin %s" % pick(BRANCHES)) + "remote: Invalid username or token. Password authentication is not supported for Git operations.\n" \
            "fatal: Authentication failed for 'https://github.com/%s/%s.git/'\n" % (org(), repo())
    elif kind == "docker":
        t = run_line("docker pull registry.%s/%s:latest" % (dom(), svc())) + \
            "Error response from daemon: Head \"https://registry.%s/v2/%s/manifests/latest\": unauthorized: incorrect username or password\n" % (dom(), svc())
    elif kind == "kubectl":
        t = run_line("kubectl get secret %s-db -n prod -o yaml" % svc()) + \
            "Error from server (Forbidden): secrets \"%s-db\" is forbidden: User \"system:serviceaccount:ci:deployer\" cannot get resource \"secrets\" in API group \"\" in the namespace \"prod\"\n" % svc()
    elif kind == "aws":
        a = acct()
        t = run_line("aws secretsmanager get-secret-value --secret-id prod/%s/db" % svc()) + \
            "\nAn error occurred (AccessDeniedException) when calling the GetSecretValue operation: User: arn:aws:sts::%s:assumed-role/%s-ci/%s is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/%s/db because no identity-based policy allows the secretsmanager:GetSecretValue action\n" % (a, repo(), rint(10 ** 9, 10 ** 10), svc())
    elif kind == "ssh":
        t = run_line("ssh -i ~/.ssh/id_ed25519 %s@%s" % (u, h)) + \
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n" \
            "Permissions 0644 for '/home/%s/.ssh/id_ed25519' are too open.\nIt is required that your private key files are NOT accessible by others.\nThis private key will be ignored.\n" \
            "Load key \"/home/%s/.ssh/id_ed25519\": bad permissions\n%s@%s: Permission denied (publickey).\n" % (u, u, u, h)
    else:
        t = run_line("openssl rsa -in server.key -check -noout") + \
            "Could not read private key from server.key\n%d:error:1608010C:STORE routines:ossl_store_handle_load_result:unsupported:../crypto/store/store_result.c:151:\n" % rint(10 ** 14, 10 ** 15) + \
            "%d:error:1E08010C:DECODER routines:OSSL_DECODER_from_bio:unsupported:../crypto/encode_decode/decoder_lib.c:102:No supported data to decode.  Input type: PEM\n" % rint(10 ** 14, 10 ** 15)
    return t


@clean("identifiers")
def id_java_keystore_exception():
    return ("Exception in thread \"main\" java.io.IOException: keystore password was incorrect\n"
            "\tat java.base/sun.security.pkcs12.PKCS12KeyStore.engineLoad(PKCS12KeyStore.java:2116)\n"
            "\tat java.base/java.security.KeyStore.load(KeyStore.java:1473)\n"
            "\tat com.%s.tls.KeyStoreLoader.load(KeyStoreLoader.java:%d)\n" % (org(), rint(20, 90)) +
            "\tat com.%s.tls.SslContextFactory.create(SslContextFactory.java:%d)\n" % (org(), rint(20, 90)) +
            "Caused by: java.security.UnrecoverableKeyException: failed to decrypt safe contents entry: javax.crypto.BadPaddingException: Given final block not properly padded. Such issues can arise if a bad key is used during decryption.\n"
            "\t... 4 more\n\n# KEYSTORE_PASSWORD_FILE points to an empty file in the staging image; fix the secret mount.\n")


@clean("identifiers")
def id_nodemailer_missing_credentials():
    return ("Error: Missing credentials for \"PLAIN\"\n    at SMTPConnection._formatError (/app/node_modules/nodemailer/lib/smtp-connection/index.js:807:19)\n"
            "    at SMTPConnection.login (/app/node_modules/nodemailer/lib/smtp-connection/index.js:454:38)\n"
            "    at /app/node_modules/nodemailer/lib/smtp-transport/index.js:272:32\n"
            "    at async sendPasswordResetEmail (/app/dist/mail/passwordReset.js:%d:5)\n" % rint(10, 90) +
            "    at async PasswordResetController.create (/app/dist/controllers/passwordReset.js:%d:9) {\n  code: 'EAUTH',\n  command: 'API'\n}\n\n" % rint(10, 90) +
            "createTransport({ host, port: 587, auth: { user: process.env.SMTP_USER, pass: process.env.SMTP_PASS } }) -- SMTP_PASS is unset in this env\n")


@clean("identifiers")
def id_mypy_pyright_errors():
    f = svc().replace("-", "_")
    return (run_line("mypy %s" % f) +
            "%s/clients.py:%d: error: Argument \"api_key\" to \"Client\" has incompatible type \"str | None\"; expected \"str\"  [arg-type]\n" % (f, rint(10, 90)) +
            "%s/secrets.py:%d: error: Item \"None\" of \"SecretStr | None\" has no attribute \"get_secret_value\"  [union-attr]\n" % (f, rint(10, 90)) +
            "%s/auth.py:%d: error: Incompatible return value type (got \"bytes\", expected \"SigningKey\")  [return-value]\n" % (f, rint(10, 90)) +
            "Found 3 errors in 3 files (checked %d source files)\n" % rint(20, 200) +
            run_line("pyright %s/auth.py" % f) +
            "  /src/%s/auth.py:%d:16 - error: \"private_key_pem\" is possibly unbound (reportPossiblyUnbound)\n1 error, 0 warnings, 0 informations\n" % (f, rint(10, 90)))


@clean("identifiers")
def id_serviceaccount_mount_listing():
    return (run_line("kubectl exec deploy/%s -- ls -la /var/run/secrets/kubernetes.io/serviceaccount/ /run/secrets/app/" % svc()) +
            "/var/run/secrets/kubernetes.io/serviceaccount/:\ntotal 0\ndrwxrwxrwt 3 root root  140 %s .\ndrwxr-xr-x 3 root root   28 %s ..\n" % (date(), date()) +
            "drwxr-xr-x 2 root root  100 %s ..%s\nlrwxrwxrwx 1 root root   31 %s ..data -> ..%s\n" % ((date(), date().replace("-", "_") + "_12_00_00.%d" % rint(10 ** 8, 10 ** 9)) * 2) +
            "lrwxrwxrwx 1 root root   13 %s ca.crt -> ..data/ca.crt\nlrwxrwxrwx 1 root root   16 %s namespace -> ..data/namespace\n" % (date(), date()) +
            "lrwxrwxrwx 1 root root   12 %s token -> ..data/token\n\n/run/secrets/app/:\ntotal 12\n" % date() +
            "-r-------- 1 app app   33 %s db-password\n-r-------- 1 app app   72 %s stripe-secret-key\n-r-------- 1 app app 1704 %s jwt-signing.pem\n" % (date(), date(), date()))


@clean("identifiers")
def id_ps_password_file_flags():
    out = run_line("ps -eo pid,user,args | grep -E 'password|secret|token|key' | grep -v grep")
    for a in ["/usr/bin/postgres_exporter --web.config.file=/etc/postgres_exporter/web.yml --config.file=/etc/postgres_exporter/pg.yml",
              "vault agent -config=/etc/vault/agent.hcl",
              "/app/bin/%s --db-password-file=/run/secrets/db-password --jwt-key-file=/run/secrets/jwt.pem" % svc(),
              "restic backup /srv --password-file /etc/restic/password --repo s3:s3.amazonaws.com/%s-backups" % org(),
              "redis-server *:6379 --aclfile /etc/redis/users.acl",
              "grafana server --config=/etc/grafana/grafana.ini cfg:default.security.admin_password=$__file{/run/secrets/grafana_admin}"]:
        out += "%6d %-8s %s\n" % (rint(200, 90000), pick(["app", "root", "vault", "grafana"]), a)
    return out


@clean("identifiers")
def id_nginx_api_key_variables():
    return ("map $http_x_api_key $api_client {\n    default              \"\";\n    include              /etc/nginx/api_keys.map;   # \"<sha256>\" name; lines, generated\n}\n\n"
            "server {\n    listen 443 ssl;\n    server_name api.%s;\n\n    ssl_certificate     /etc/ssl/certs/api.pem;\n    ssl_certificate_key /etc/ssl/private/api.key;\n\n" % dom() +
            "    location / {\n        if ($api_client = \"\") { return 401; }\n        proxy_set_header X-Api-Client $api_client;\n"
            "        proxy_set_header Authorization \"\";             # strip client credentials\n"
            "        proxy_set_header X-Upstream-Token $upstream_token;  # set by njs from /run/secrets\n"
            "        proxy_pass http://%s:8080;\n    }\n}\n" % svc())


@clean("identifiers")
def id_systemd_unit_credentials():
    n = svc()
    return (run_line("systemctl cat %s.service" % n) +
            "# /etc/systemd/system/%s.service\n[Unit]\nDescription=%s\nAfter=network-online.target\n\n[Service]\nUser=%s\n" % (n, n, n) +
            "LoadCredential=db-password:/etc/%s/credentials/db-password\n" % n +
            "LoadCredentialEncrypted=stripe-key:/etc/credstore.encrypted/%s.stripe-key\n" % n +
            "Environment=DB_PASSWORD_FILE=%d/db-password\n".replace("%d", "${CREDENTIALS_DIRECTORY}") +
            "ExecStart=/usr/local/bin/%s --db-password-file ${CREDENTIALS_DIRECTORY}/db-password --stripe-key-file ${CREDENTIALS_DIRECTORY}/stripe-key\n" % n +
            "PrivateTmp=yes\nProtectSystem=strict\n\n[Install]\nWantedBy=multi-user.target\n")


@clean("identifiers")
def id_compose_secret_files():
    return ("services:\n  api:\n    image: ghcr.io/%s/%s:%s\n    secrets:\n      - db_password\n      - source: stripe_key\n        target: stripe_secret_key\n" % (org(), svc(), short_sha()) +
            "    environment:\n      DB_PASSWORD_FILE: /run/secrets/db_password\n      STRIPE_SECRET_KEY_FILE: /run/secrets/stripe_secret_key\n\n"
            "secrets:\n  db_password:\n    file: ./secrets/db_password.txt        # git-ignored, created by scripts/bootstrap-secrets.sh\n"
            "  stripe_key:\n    environment: STRIPE_SECRET_KEY          # taken from the shell that runs compose\n")


@clean("identifiers")
def id_lsof_secret_files():
    out = run_line("sudo lsof -p $(pgrep -f %s) | grep -E 'secret|key|cred|token'" % svc())
    p = rint(300, 90000)
    for fd, path in [("3r", "/run/secrets/db-password"), ("5r", "/etc/%s/tls/server.key" % svc()),
                     ("7u", "/var/lib/%s/token-cache.db" % svc()), ("9r", "/home/%s/.aws/credentials" % svc()),
                     ("11r", "/etc/%s/keys/jwks.json" % svc())]:
        out += "%-10s %6d %-6s %4s   REG  259,1  %6d %8d %s\n" % (svc()[:9], p, svc()[:6], fd, rint(30, 9000), rint(10 ** 5, 10 ** 7), path)
    return out


@clean("identifiers")
def id_dotnet_obsolete_warnings():
    return (run_line("dotnet build -warnaserror-") +
            "/src/Infra/KeyVault.cs(%d,28): warning CS0618: 'ClientSecretCredentialOptions.AuthorityHost' is obsolete: 'Use AzureAuthorityHosts instead.' [/src/Infra/Infra.csproj]\n" % rint(10, 90) +
            "/src/Infra/Secrets/SecretRotator.cs(%d,17): warning CS8618: Non-nullable property 'CurrentSecretVersion' must contain a non-null value when exiting constructor. Consider adding the 'required' modifier or declaring the property as nullable. [/src/Infra/Infra.csproj]\n" % rint(10, 90) +
            "/src/Api/Auth/ApiKeyMiddleware.cs(%d,9): warning CA2254: The logging message template should not vary between calls to 'LoggerExtensions.LogWarning(ILogger, string?, params object?[])' [/src/Api/Api.csproj]\n" % rint(10, 90) +
            "    3 Warning(s)\n    0 Error(s)\n\nTime Elapsed 00:00:%02d.%02d\n" % (rint(5, 59), rint(0, 99)))


@clean("identifiers")
def id_rails_migrate_status():
    out = run_line("bin/rails db:migrate:status") + "\ndatabase: %s_production\n\n Status   Migration ID    Migration Name\n--------------------------------------------------\n" % org()
    for n in ["Add encrypted password to users", "Create api tokens", "Add token digest index to api tokens", "Rename secret to secret ciphertext on webhooks",
              "Add otp secret to users", "Drop plaintext api key from integrations", "Create signing keys"]:
        out += "   %s     %s  %s\n" % (pick(["up", "up", "up", "down"]), "20%02d%02d%02d%06d" % (rint(23, 26), rint(1, 12), rint(1, 28), rint(0, 235959)), n)
    return out


@clean("identifiers")
def id_go_panic_trace():
    return ("panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x%x]\n\n" % rint(0x100000, 0xffffff) +
            "goroutine %d [running]:\ngithub.com/%s/%s/internal/auth.(*TokenIssuer).Sign(0x0, {0x%x, 0x%x})\n" % (rint(1, 300), org(), repo(), rint(0x100000, 0xffffff), rint(1, 99)) +
            "\t/src/internal/auth/issuer.go:%d +0x%x\ngithub.com/%s/%s/internal/auth.(*SigningKeyCache).Current(...)\n" % (rint(20, 200), rint(16, 255), org(), repo()) +
            "\t/src/internal/auth/keys.go:%d\ngithub.com/%s/%s/internal/http.(*Server).handleTokenExchange(0xc000%s, {0x%x, 0xc000%s}, 0xc000%s)\n" % (
                rint(20, 200), org(), repo(), hx(6), rint(0x100000, 0xffffff), hx(6), hx(6)) +
            "\t/src/internal/http/token.go:%d +0x%x\nnet/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:2220\n" % (rint(20, 200), rint(16, 900)) +
            "exit status 2\n")


@clean("identifiers")
def id_scala_config_missing():
    return ("Exception in thread \"main\" com.typesafe.config.ConfigException$Missing: merge of application.conf @ jar:file:/opt/app/lib/%s.jar!/application.conf: 1,env variables: No configuration setting found for key 'auth.client-secret'\n" % svc() +
            "\tat com.typesafe.config.impl.SimpleConfig.findKeyOrNull(SimpleConfig.java:157)\n\tat com.typesafe.config.impl.SimpleConfig.getString(SimpleConfig.java:246)\n"
            "\tat %s.auth.OAuthSettings$.apply(OAuthSettings.scala:%d)\n\tat %s.Main$.main(Main.scala:%d)\n\n" % (org(), rint(10, 60), org(), rint(10, 60)) +
            "# application.conf\nauth {\n  client-id = ${?AUTH_CLIENT_ID}\n  client-secret = ${?AUTH_CLIENT_SECRET}   # optional substitution -> missing when unset\n  token-ttl = 15 minutes\n}\n")


@clean("identifiers")
def id_sentry_issue_titles():
    out = run_line("sentry-cli issues list --project %s --status unresolved | head -8" % svc())
    out += "+------------+-----------------+---------------------------------------------------------------+------------+\n| Issue ID   | Short ID        | Title                                                         | Last seen  |\n+------------+-----------------+---------------------------------------------------------------+------------+\n"
    for t in picks(["SecretNotFoundError: secret 'payments/stripe' has no ENABLED version", "InvalidTokenError: Signature verification failed",
                    "KeyError: 'WEBHOOK_SIGNING_SECRET'", "ExpiredSignatureError: Signature has expired", "PasswordHashMismatch in LoginView.post",
                    "ApiKeyRevoked: key ak_**** was revoked", "BotoCoreError: Unable to locate credentials"], 4):
        out += "| %-10d | %-15s | %-61s | %s |\n" % (rint(10 ** 9, 9 * 10 ** 9), "%s-%s" % (svc().upper()[:8], rs(2, UPAL)), t[:61], date())
    return out + "+------------+-----------------+---------------------------------------------------------------+------------+\n"


@clean("identifiers")
def id_pr_list_titles():
    out = run_line("gh pr list --state merged --limit 8 --search 'secret OR token OR password OR key'")
    for t in picks(["Move Stripe secret key to Secrets Manager", "Hash API tokens at rest (sha256 + pepper)", "Rotate webhook signing secret without downtime",
                    "Remove DB_PASSWORD from docker-compose.override.yml", "Add PasswordSecretManager for per-tenant DB users", "Use OIDC instead of long-lived AWS access keys in CI",
                    "Mask bearer tokens in request logs", "Bump jsonwebtoken to 9.x", "Expire refresh tokens after 30 days"], 6):
        out += "#%d\t%s\t%s\tMERGED\t%s\n" % (rint(100, 4000), t, pick(BRANCHES), ts()[:19] + "Z")
    return out


@clean("identifiers", uses=3)
def id_code_reads_secret_store():
    lang = pick(["go", "node", "csharp", "python"])
    n = svc()
    if lang == "go":
        return ("func loadDBPassword(ctx context.Context, project string) (string, error) {\n\tclient, err := secretmanager.NewClient(ctx)\n"
                "\tif err != nil {\n\t\treturn \"\", fmt.Errorf(\"secretmanager client: %%w\", err)\n\t}\n\tdefer client.Close()\n\n"
                "\tname := fmt.Sprintf(\"projects/%%s/secrets/%s-db-password/versions/latest\", project)\n" % n +
                "\tresp, err := client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})\n"
                "\tif err != nil {\n\t\treturn \"\", err\n\t}\n\treturn string(resp.Payload.Data), nil\n}\n")
    if lang == "node":
        return ("import { SecretsManagerClient, GetSecretValueCommand } from \"@aws-sdk/client-secrets-manager\";\n\n"
                "const sm = new SecretsManagerClient({ region: process.env.AWS_REGION });\n\n"
                "export async function getStripeKey(): Promise<string> {\n"
                "  const out = await sm.send(new GetSecretValueCommand({ SecretId: \"%s/stripe\" }));\n" % n +
                "  const { secret_key } = JSON.parse(out.SecretString ?? \"{}\");\n  if (!secret_key) throw new Error(\"stripe secret_key missing in %s/stripe\");\n  return secret_key;\n}\n" % n)
    if lang == "csharp":
        return ("var kvUri = new Uri($\"https://kv-%s.vault.azure.net/\");\nvar client = new SecretClient(kvUri, new DefaultAzureCredential());\n\n" % n +
                "KeyVaultSecret dbPassword = await client.GetSecretAsync(\"DbPassword\");\nKeyVaultSecret apiKey = await client.GetSecretAsync(\"PartnerApiKey\");\n\n"
                "builder.Services.Configure<PartnerOptions>(o =>\n{\n    o.ApiKey = apiKey.Value;\n    o.BaseUrl = builder.Configuration[\"Partner:BaseUrl\"]!;\n});\n")
    return ("import hvac\n\n\ndef read_db_credentials(role: str = \"%s\") -> tuple[str, str]:\n" % n +
            "    client = hvac.Client(url=os.environ[\"VAULT_ADDR\"])\n"
            "    client.auth.kubernetes.login(role=role, jwt=open(\"/var/run/secrets/kubernetes.io/serviceaccount/token\").read())\n"
            "    creds = client.secrets.database.generate_credentials(name=role)[\"data\"]\n    return creds[\"username\"], creds[\"password\"]\n")


@clean("identifiers")
def id_csharp_options_class():
    return ("public sealed class SmtpOptions\n{\n    public const string SectionName = \"Smtp\";\n\n    [Required] public string Host { get; init; } = \"\";\n"
            "    public int Port { get; init; } = 587;\n    [Required] public string UserName { get; init; } = \"\";\n\n"
            "    /// <summary>Bound from Smtp__Password (Key Vault reference in App Service).</summary>\n    [Required, JsonIgnore] public string Password { get; init; } = \"\";\n"
            "    public override string ToString() => $\"{UserName}@{Host}:{Port}\";\n}\n\n"
            "builder.Services.AddOptions<SmtpOptions>()\n    .Bind(builder.Configuration.GetSection(SmtpOptions.SectionName))\n    .ValidateDataAnnotations()\n    .ValidateOnStart();\n")


@clean("identifiers")
def id_kotlin_data_class_jsonignore():
    return ("@Serializable\ndata class ServiceAccountCredentials(\n    val clientEmail: String,\n    val projectId: String,\n"
            "    @Transient val privateKey: CharArray = CharArray(0),\n    val privateKeyId: String,\n) {\n"
            "    override fun toString() = \"ServiceAccountCredentials(clientEmail=$clientEmail, privateKeyId=$privateKeyId)\"\n}\n\n"
            "data class LoginRequest(\n    val username: String,\n    @field:JsonProperty(access = JsonProperty.Access.WRITE_ONLY)\n    val password: String,\n"
            "    val totpCode: String?,\n)\n")


@clean("identifiers")
def id_laravel_services_config():
    return ("<?php\n\nreturn [\n\n    'stripe' => [\n        'key' => env('STRIPE_KEY'),\n        'secret' => env('STRIPE_SECRET'),\n"
            "        'webhook' => [\n            'secret' => env('STRIPE_WEBHOOK_SECRET'),\n            'tolerance' => env('STRIPE_WEBHOOK_TOLERANCE', 300),\n        ],\n    ],\n\n"
            "    'mailgun' => [\n        'domain' => env('MAILGUN_DOMAIN'),\n        'secret' => env('MAILGUN_SECRET'),\n        'endpoint' => env('MAILGUN_ENDPOINT', 'api.eu.mailgun.net'),\n    ],\n\n"
            "    'github' => [\n        'client_id' => env('GITHUB_CLIENT_ID'),\n        'client_secret' => env('GITHUB_CLIENT_SECRET'),\n        'redirect' => env('APP_URL').'/auth/github/callback',\n    ],\n];\n")


@clean("identifiers")
def id_tf_variables_module():
    return ("variable \"db_password\" {\n  description = \"Master password for the RDS instance. Supplied by the pipeline from Secrets Manager.\"\n  type        = string\n  sensitive   = true\n\n"
            "  validation {\n    condition     = length(var.db_password) >= 16\n    error_message = \"db_password must be at least 16 characters.\"\n  }\n}\n\n"
            "variable \"datadog_api_key\" {\n  type      = string\n  sensitive = true\n  default   = null\n}\n\n"
            "module \"db\" {\n  source  = \"terraform-aws-modules/rds/aws\"\n  version = \"~> 6.%d\"\n\n  identifier = \"%s\"\n" % (rint(1, 12), svc()) +
            "  username   = \"app_admin\"\n  password   = var.db_password\n  manage_master_user_password = false\n  kms_key_id = aws_kms_key.db.arn\n}\n")


@clean("identifiers")
def id_sql_column_grants():
    return ("-- reporting role must never see secrets: column-level grants only\nREVOKE ALL ON api_keys, users, oauth_clients FROM reporting;\n"
            "GRANT SELECT (id, tenant_id, key_prefix, scopes, last_used_at, revoked_at, created_at) ON api_keys TO reporting;\n"
            "GRANT SELECT (id, email, created_at, password_changed_at) ON users TO reporting;\n"
            "GRANT SELECT (client_id, name, redirect_uris) ON oauth_clients TO reporting;\n-- NOT granted: api_keys.key_hash, users.password_hash, users.totp_secret_enc, oauth_clients.client_secret_hash\n\n"
            "%s=> \\dp api_keys\n                                  Access privileges\n Schema |   Name   | Type  | Access privileges | Column privileges\n" % dbname() +
            "--------+----------+-------+-------------------+--------------------\n public | api_keys | table | app=arwdDxt/app   | id:                +\n"
            "        |          |       |                   |   reporting=r/app  +\n        |          |       |                   | key_prefix:        +\n"
            "        |          |       |                   |   reporting=r/app\n(1 row)\n")


@clean("identifiers")
def id_json_log_redacted_fields():
    out = ""
    for _ in range(rint(3, 4)):
        out += json.dumps({"time": ts(), "level": "info", "msg": "outbound request", "service": svc(),
                           "http": {"method": pick(["POST", "GET"]), "url": "https://api.%s/v1/%s" % (dom(), pick(["charges", "tokens", "sessions"])),
                                    "request_headers": {"authorization": "[REDACTED]", "x-api-key": "[REDACTED]", "content-type": "application/json"},
                                    "status": pick([200, 201, 401])},
                           "body": {"password": "[REDACTED]", "client_secret": "[REDACTED]", "grant_type": "client_credentials"},
                           "trace_id": hx(32)}) + "\n"
    return run_line("grep 'outbound request' /var/log/%s/app.log | tail -3" % svc()) + out


@clean("identifiers")
def id_clippy_warnings_secret_fns():
    return (run_line("cargo clippy --all-targets -- -D warnings") +
            "warning: this function has too many arguments (8/7)\n  --> src/secrets/rotate.rs:%d:1\n   |\n" % rint(10, 90) +
            "%d | / pub async fn rotate_api_key(\n%d | |     db: &PgPool,\n%d | |     vault: &VaultClient,\n" % (rint(10, 90), rint(10, 90), rint(10, 90)) +
            "   = help: for further information visit https://rust-lang.github.io/rust-clippy/master/index.html#too_many_arguments\n\n"
            "warning: redundant clone\n  --> src/secrets/store.rs:%d:42\n   |\n%d |         let secret_name = self.secret_name.clone();\n" % (rint(10, 90), rint(10, 90)) +
            "   |                                          ^^^^^^^^ help: remove this\n\n"
            "warning: `%s` (lib) generated 2 warnings\n" % svc())


@clean("identifiers")
def id_junit_xml_report():
    cls = "com.%s.auth.%sTest" % (org(), pick(SECRET_TYPES))
    cases = "".join('  <testcase name="%s" classname="%s" time="%.3f"/>\n' % (camel(n[5:]), cls, R.random()) for n in picks(TEST_NAMES, 5))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="%s" tests="5" skipped="0" failures="0" errors="0" timestamp="%s" hostname="%s" time="%.3f">\n' % (
        cls, ts()[:19], "runner-" + hx(8), R.random() * 3) + "  <properties/>\n" + cases +
            '  <system-out><![CDATA[INFO  SigningKeyCache - loaded 2 keys (kid=%s, kid=%s)\n]]></system-out>\n</testsuite>\n' % (hx(8), hx(8)))


@clean("identifiers")
def id_gitignore_secret_patterns():
    return (run_line("cat .gitignore | sed -n '/# secrets/,/^$/p'; git check-ignore -v config/master.key .env.production certs/server.key") +
            "# secrets -- never commit these\n.env\n.env.*\n!.env.example\n*.pem\n*.key\n!*.pub\ncredentials.json\nservice-account*.json\n"
            "config/master.key\nconfig/credentials/*.key\nsecrets/\n.terraform/\n*.tfstate\n*.tfstate.*\n.npmrc\n\n"
            ".gitignore:%d:config/master.key\tconfig/master.key\n.gitignore:%d:.env.*\t.env.production\n.gitignore:%d:*.key\tcerts/server.key\n" % (rint(10, 30), rint(5, 9), rint(10, 20)))


@clean("identifiers", uses=2)
def id_secret_names_listing():
    kind = pick(["aws", "gcloud", "vault"])
    if kind == "aws":
        out = run_line("aws secretsmanager list-secrets --query 'SecretList[].[Name,LastChangedDate,RotationEnabled]' --output text")
        for n in ["prod/%s/db" % svc(), "prod/%s/stripe" % svc(), "prod/shared/smtp", "staging/%s/api-token" % svc()]:
            out += "%s\t%s\t%s\n" % (n, ts()[:19] + "+00:00", pick(["True", "False"]))
        return out
    if kind == "gcloud":
        out = run_line("gcloud secrets list --format='table(name,createTime.date(),replication.automatic)'") + "NAME                         CREATED     AUTOMATIC\n"
        for n in ["%s-db-password" % svc(), "%s-jwt-signing-key" % svc(), "sendgrid-api-key", "github-app-private-key"]:
            out += "%-28s %s  {}\n" % (n, date())
        return out
    n = svc()
    out = run_line("vault kv list -format=json secret/metadata/%s" % n)
    out += json.dumps(["db", "stripe", "webhooks/", "oauth/google", "smtp"], indent=2) + "\n"
    out += run_line("vault kv metadata get -format=json secret/%s/db | jq '.data | {current_version, created_time, max_versions}'" % n)
    return out + json.dumps({"current_version": rint(2, 30), "created_time": ts(), "max_versions": 0}, indent=2) + "\n"


@clean("identifiers")
def id_ruby_devise_initializer():
    return ("Devise.setup do |config|\n  # The secret key used by Devise. Devise uses this key to generate\n  # random tokens. Changing this key will render invalid all existing\n"
            "  # confirmation, reset password and unlock tokens in the database.\n  # Devise will use the `secret_key_base` as its `secret_key`\n  # by default. You can change it below and use your own secret key.\n"
            "  # config.secret_key = '<generated>'\n\n  config.pepper = Rails.application.credentials.dig(:devise, :pepper)\n  config.stretches = Rails.env.test? ? 1 : 12\n"
            "  config.reset_password_within = 6.hours\n  config.sign_in_after_reset_password = true\n  config.password_length = 12..128\nend\n")



@clean("identifiers")
def id_generated_client_methods():
    return ("## API reference (generated)\n\nAll URIs are relative to *https://api.%s/v2*\n\n" % dom() +
            md_table(["Class", "Method", "HTTP request", "Description"], [
                ("*ApiKeysApi*", "[**createApiKey**](docs/ApiKeysApi.md#createApiKey)", "**POST** /api-keys", "Create an API key (secret returned once)"),
                ("*ApiKeysApi*", "[**rotateApiKey**](docs/ApiKeysApi.md#rotateApiKey)", "**POST** /api-keys/{id}/rotate", "Rotate an API key"),
                ("*ApiKeysApi*", "[**revokeApiKey**](docs/ApiKeysApi.md#revokeApiKey)", "**DELETE** /api-keys/{id}", "Revoke an API key"),
                ("*SecretsApi*", "[**getSecretMetadata**](docs/SecretsApi.md#getSecretMetadata)", "**GET** /secrets/{name}", "Metadata only, never the value"),
                ("*TokensApi*", "[**exchangeToken**](docs/TokensApi.md#exchangeToken)", "**POST** /oauth/token", "Exchange a refresh token")]) +
            "\n\n## Documentation For Authorization\n\n### bearerAuth\n\n- **Type**: Bearer authentication (JWT)\n\n### apiKey\n\n- **Type**: API key\n- **API key parameter name**: X-API-Key\n- **Location**: HTTP header\n")


@clean("identifiers")
def id_migration_file_names():
    out = run_line("ls db/migrations | tail -8")
    for n in ["create_users", "add_password_hash_to_users", "create_api_tokens", "add_token_digest_index", "create_oauth_clients",
              "encrypt_webhook_secrets", "drop_plaintext_api_key_column", "add_signing_keys_table"]:
        out += "%s_%s.%s.sql\n" % ("20%02d%02d%02d%02d%02d%02d" % (rint(24, 26), rint(1, 12), rint(1, 28), rint(0, 23), rint(0, 59), rint(0, 59)), n, pick(["up", "up"]))
    out += run_line("sqlx migrate info --source db/migrations | tail -3")
    out += "%s/installed add signing keys table\n%s/pending drop plaintext api key column\n" % (rint(10 ** 13, 10 ** 14), rint(10 ** 13, 10 ** 14))
    return out

# ================================================================= doc_example (clean)
import hmac as _hmac

AWS_EX_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_EX_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_EX_ID2 = "AKIAI44QH8DHBEXAMPLE"
AWS_EX_SECRET2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
STRIPE_SK_DOCS = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_PK_DOCS = "pk_test_TYooMQauvdEDq54NiTphI7jx"


def _hs256(secret_bytes, claims, header=None):
    h = b64u(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64u(json.dumps(claims, separators=(",", ":")).encode())
    return h + "." + p + "." + b64u(_hmac.new(secret_bytes, (h + "." + p).encode(), hashlib.sha256).digest())


JWT_IO = _hs256(b"your-256-bit-secret", {"sub": "1234567890", "name": "John Doe", "iat": 1516239022})
SUPABASE_DEMO_SECRET = b"super-secret-jwt-token-with-at-least-32-characters-long"
SUPABASE_ANON = _hs256(SUPABASE_DEMO_SECRET, {"iss": "supabase-demo", "role": "anon", "exp": 1983812996})
SUPABASE_SERVICE = _hs256(SUPABASE_DEMO_SECRET, {"iss": "supabase-demo", "role": "service_role", "exp": 1983812996})
assert JWT_IO.endswith("SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
assert SUPABASE_ANON.endswith("CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0")
RFC7515_K = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
RFC7515_SI = ("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ")
RFC7515_SIG = b64u(_hmac.new(base64.urlsafe_b64decode(RFC7515_K + "=="), RFC7515_SI.encode(), hashlib.sha256).digest())
assert RFC7515_SIG == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def _totp(t, key=b"12345678901234567890"):
    d = _hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    o = d[-1] & 15
    return "%08d" % ((struct.unpack(">I", d[o:o + 4])[0] & 0x7fffffff) % 10 ** 8)


@clean("doc_example")
def de_aws_powershell_env_docs():
    return ("To set environment variables in PowerShell for the current session:\n\n"
            "```powershell\nPS C:\\> $Env:AWS_ACCESS_KEY_ID=\"%s\"\nPS C:\\> $Env:AWS_SECRET_ACCESS_KEY=\"%s\"\nPS C:\\> $Env:AWS_DEFAULT_REGION=\"us-west-2\"\n```\n\n" % (AWS_EX_ID, AWS_EX_SECRET) +
            "Setting the environment variable changes the value used until the end of your shell session, or until you set the\n"
            "variable to a different value. (Example values from the AWS CLI User Guide -- replace them with your own.)\n")


@clean("doc_example")
def de_aws_credential_process_docs():
    return ("### Sourcing credentials with an external process\n\n"
            "The `credential_process` program must write JSON like the following to stdout:\n\n"
            "```json\n{\n  \"Version\": 1,\n  \"AccessKeyId\": \"%s\",\n  \"SecretAccessKey\": \"%s\",\n" % (AWS_EX_ID2, AWS_EX_SECRET2) +
            "  \"SessionToken\": \"the AWS session token for temporary credentials\",\n  \"Expiration\": \"ISO8601 timestamp when the credentials expire\"\n}\n```\n\n"
            "```ini\n[profile developer]\ncredential_process = /opt/bin/awscreds-custom --username helen\n```\n")


@clean("doc_example")
def de_aws_sts_docs_output():
    return ("Output of the example in the AWS CLI reference for `aws sts assume-role`:\n\n```\n{\n    \"AssumedRoleUser\": {\n"
            "        \"AssumedRoleId\": \"AROA3XFRBF535PLBIFPI4:s3-access-example\",\n        \"Arn\": \"arn:aws:sts::123456789012:assumed-role/xaccounts3access/s3-access-example\"\n    },\n"
            "    \"Credentials\": {\n        \"SecretAccessKey\": \"9drTJvcXLB89EXAMPLELB8923FB892xMFI\",\n"
            "        \"SessionToken\": \"AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=\",\n"
            "        \"Expiration\": \"2016-03-15T00:05:07Z\",\n        \"AccessKeyId\": \"ASIAJEXAMPLEXEG2JICEA\"\n    }\n}\n```\n\n"
            "(All values are the documentation's placeholders; real output has the same shape.)\n")


@clean("doc_example", uses=2)
def de_stripe_docs_test_key():
    if chance(0.5):
        return ("From the Stripe API reference (\"Authentication\"):\n\n> A sample test API key is included in all the examples here, so you can test any example right away.\n\n"
                "```bash\ncurl https://api.stripe.com/v1/charges \\\n  -u %s: \\\n  -d amount=2000 \\\n  -d currency=usd \\\n  -d source=tok_visa\n```\n\n" % STRIPE_SK_DOCS +
                "The trailing colon after the key means \"no password\". Replace the documentation key with your own test key\n"
                "(`sk_test_...`) from the Dashboard; never use live keys in examples.\n")
    return ("```js\n// Set your publishable key: remember to change this to your live publishable key in production\n"
            "// See your keys here: https://dashboard.stripe.com/apikeys\nconst stripe = Stripe('%s');\n\n" % STRIPE_PK_DOCS +
            "// server side (docs sample key)\nconst stripeServer = require('stripe')('%s');\n```\n\n" % STRIPE_SK_DOCS +
            "Test card: 4242 4242 4242 4242, any future expiry, any CVC.\n")


@clean("doc_example")
def de_slack_sdk_fake_token():
    return ("```python\n# tests/test_client.py (from the SDK's own test-suite style)\nfrom slack_sdk import WebClient\n\n"
            "def test_auth_header():\n    client = WebClient(token=\"xoxb-not-a-real-token-this-will-not-work\", base_url=mock_server.url)\n"
            "    resp = client.api_test()\n    assert resp[\"ok\"]\n```\n\n"
            "For local runs put your own bot token in `SLACK_BOT_TOKEN` (starts with `xoxb-`); the value above is the placeholder\n"
            "the SDK docs use.\n")


@clean("doc_example")
def de_renovate_ghp_placeholder():
    return ("## Running Renovate locally\n\n```sh\nexport RENOVATE_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx   # a PAT with repo scope\n"
            "export GITHUB_COM_TOKEN=$RENOVATE_TOKEN\nnpx renovate --platform=github --dry-run=full %s/%s\n```\n\n" % (org(), repo()) +
            "Replace the x's with a token you create at https://github.com/settings/tokens. Fine-grained tokens look like\n"
            "`github_pat_XXXXXXXXXXXXXXXXXXXXXX_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX`.\n")


@clean("doc_example")
def de_compose_changeme():
    return ("# docker-compose.yml for local development only\nservices:\n  db:\n    image: postgres:16\n    environment:\n"
            "      POSTGRES_USER: app\n      POSTGRES_PASSWORD: changeme        # local only -- CHANGE ME in any shared env\n"
            "      POSTGRES_DB: app\n  minio:\n    image: minio/minio\n    environment:\n      MINIO_ROOT_USER: admin\n"
            "      MINIO_ROOT_PASSWORD: changeme123   # minimum 8 chars, placeholder\n  app:\n    build: .\n"
            "    environment:\n      DATABASE_URL: postgres://app:changeme@db:5432/app\n      SECRET_KEY: change-me-to-a-long-random-string\n")


@clean("doc_example")
def de_hunter2_joke():
    return ("Classic IRC log, for the security training deck:\n\n"
            "<Cthon98> hey, if you type in your pw, it will show as stars\n<Cthon98> ********* see!\n<AzureDiamond> hunter2\n"
            "<AzureDiamond> doesnt look like stars to me\n<Cthon98> <AzureDiamond> *******\n<Cthon98> thats what I see\n"
            "<AzureDiamond> oh, really?\n<Cthon98> Absolutely\n\n"
            "Takeaway for slide 4: the chat client does not mask passwords -- nothing does, except not pasting them.\n")


@clean("doc_example")
def de_weak_passwords_tutorial():
    rows = [("123456", "0", "< 1 second"), ("password123", "0", "< 1 second"), ("qwerty", "0", "< 1 second"),
            ("letmein", "0", "< 1 second"), ("P@ssw0rd", "1", "minutes"), ("correct horse battery staple", "4", "centuries")]
    return ("## Why these passwords fail\n\nWe ran the most common passwords from breach lists through zxcvbn:\n\n" +
            md_table(["Password", "zxcvbn score", "Offline crack time"], rows) +
            "\n\nAll of them except the last appear in every public wordlist. `password123` in particular is the single\n"
            "most common \"strong-looking\" choice: it satisfies a naive \"letters + digits\" policy. Our signup form now\n"
            "rejects anything with a zxcvbn score below 3.\n")


@clean("doc_example")
def de_sequential_hex_key_tutorial():
    return ("```python\n# AES-GCM round trip -- TUTORIAL ONLY. This key is sequential on purpose so nobody copies it.\n"
            "from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n\n"
            "key = bytes.fromhex(\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\")\n"
            "nonce = bytes.fromhex(\"000000000000000000000000\")\naesgcm = AESGCM(key)\nct = aesgcm.encrypt(nonce, b\"hello\", None)\n```\n\n"
            "In real code: `key = AESGCM.generate_key(bit_length=256)` and a fresh 96-bit random nonce per message.\n"
            "Other common tutorial keys you will see: `1234567890abcdef1234567890abcdef`, `0123456789abcdef`,\n"
            "`abcdefabcdefabcdefabcdefabcdefab` -- all of them are in every scanner's ignore list for a reason.\n")


@clean("doc_example")
def de_readme_angle_placeholders():
    return ("## Quick start\n\n```python\nfrom %s import Client\n\nclient = Client(api_key=\"<your-api-key-here>\")\n" % org() +
            "result = client.search(\"hello\", limit=5)\n```\n\nOr with the CLI:\n\n```bash\n%s login --api-key YOUR_API_KEY\n" % org() +
            "curl -H \"Authorization: Bearer YOUR_TOKEN\" https://api.%s/v1/search?q=hello\n```\n\n" % dom() +
            "Get a key from the dashboard under **Settings → API keys**. Keys start with `%s_live_` (production) or\n`%s_test_` (sandbox).\n" % (org()[:3], org()[:3]))


@clean("doc_example")
def de_replace_me_manifests():
    return ("# k8s/overlays/example/secret.env  -- copy to secret.env and fill in\nDB_PASSWORD=REPLACE_ME\nREDIS_PASSWORD=REPLACE_ME\n"
            "STRIPE_SECRET_KEY=sk_test_REPLACE_ME\nSENTRY_AUTH_TOKEN=REPLACE_ME\nJWT_SECRET=REPLACE_ME_WITH_64_RANDOM_HEX_CHARS\n\n"
            "# kustomization.yaml\nsecretGenerator:\n  - name: app-secrets\n    envs:\n      - secret.env   # the committed file only has REPLACE_ME values\n")


@clean("doc_example", uses=2)
def de_test_fixture_fakes():
    lang = pick(["py", "ts", "rb"])
    if lang == "py":
        return ("# tests/conftest.py\nimport pytest\n\n\n@pytest.fixture\ndef settings(monkeypatch):\n"
                "    monkeypatch.setenv(\"STRIPE_API_KEY\", \"sk_test_fake_key_for_unit_tests\")\n"
                "    monkeypatch.setenv(\"WEBHOOK_SECRET\", \"whsec_test_dummy_secret\")\n"
                "    monkeypatch.setenv(\"DATABASE_URL\", \"postgresql://test:test@localhost:5432/test\")\n"
                "    monkeypatch.setenv(\"JWT_SECRET\", \"test-secret-not-used-in-prod\")\n    return Settings()\n\n\n"
                "def test_rejects_invalid_token(client):\n    r = client.get(\"/me\", headers={\"Authorization\": \"Bearer invalid-token\"})\n    assert r.status_code == 401\n")
    if lang == "ts":
        return ("// src/__tests__/github.test.ts\nconst FAKE_TOKEN = \"ghp_0000000000000000000000000000000000000\";\n\n"
                "beforeEach(() => {\n  process.env.GITHUB_TOKEN = FAKE_TOKEN;\n  process.env.OPENAI_API_KEY = \"sk-test-dummy\";\n});\n\n"
                "it(\"sends the token as a bearer header\", async () => {\n  const scope = nock(\"https://api.github.com\")\n"
                "    .matchHeader(\"authorization\", `Bearer ${FAKE_TOKEN}`)\n    .get(\"/user\").reply(200, { login: \"octocat\" });\n"
                "  await getUser();\n  scope.done();\n});\n")
    return ("# spec/support/fake_credentials.rb\nRSpec.configure do |config|\n  config.before do\n"
            "    stub_const(\"ENV\", ENV.to_h.merge(\n      \"AWS_ACCESS_KEY_ID\" => \"%s\",\n      \"AWS_SECRET_ACCESS_KEY\" => \"%s\",\n" % (AWS_EX_ID, AWS_EX_SECRET) +
            "      \"SENDGRID_API_KEY\" => \"SG.fake-key.for-specs\",\n      \"ADMIN_PASSWORD\" => \"dummy-password\"\n    ))\n  end\nend\n")


@clean("doc_example")
def de_jwt_io_explainer():
    h, p, s = JWT_IO.split(".")
    return ("## Anatomy of a JWT\n\nTake the sample token from jwt.io:\n\n```\n%s\n```\n\n" % JWT_IO +
            "It has three base64url parts separated by dots:\n\n1. Header `%s` → `{\"alg\":\"HS256\",\"typ\":\"JWT\"}`\n" % h +
            "2. Payload `%s` → `{\"sub\":\"1234567890\",\"name\":\"John Doe\",\"iat\":1516239022}`\n" % p +
            "3. Signature `%s` = HMAC-SHA256 over `header.payload` with the secret `your-256-bit-secret` (the site's default).\n\n" % s +
            "Anyone can decode parts 1 and 2; only the signature needs the key.\n")


@clean("doc_example")
def de_rfc7515_example():
    return ("RFC 7515, Appendix A.1 -- Example JWS Using HMAC SHA-256\n\n"
            "   The following JWK represents the key used to compute the signature:\n\n"
            "     {\"kty\":\"oct\",\n      \"k\":\"%s\"\n     }\n\n" % RFC7515_K +
            "   Running the HMAC SHA-256 algorithm on the JWS Signing Input with this key yields this JWS Signature value:\n\n"
            "     %s\n\n" % RFC7515_SIG +
            "   Our unit test `jws::tests::rfc7515_a1` uses exactly these values as a known-answer test.\n")


@clean("doc_example")
def de_rfc6238_vectors():
    rows = "".join("   |  %-11d  | %s |  SHA1  |\n" % (t, _totp(t)) for t in [59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000])
    return ("RFC 6238 Appendix B -- Test Vectors\n\n   The test token shared secret uses the ASCII string value \"12345678901234567890\".\n"
            "   (Base32: %s)\n\n" % base64.b32encode(b"12345678901234567890").decode() +
            "   +-------------+----------+--------+\n   |  Time (sec) |   TOTP   |  Mode  |\n   +-------------+----------+--------+\n" + rows +
            "   +-------------+----------+--------+\n\nThese are checked in totp_test.go; do not use this seed for real accounts.\n")


@clean("doc_example")
def de_postgres_create_role_docs():
    return ("From the PostgreSQL documentation, CREATE ROLE → Examples:\n\n"
            "   Create a role that can log in, but don't give it a password:\n\n       CREATE ROLE jonathan LOGIN;\n\n"
            "   Create a role with a password:\n\n       CREATE USER davide WITH PASSWORD 'jw8s0F4';\n\n"
            "   (CREATE USER is the same as CREATE ROLE except that it implies LOGIN.)\n\n"
            "   Create a role with a password that is valid until the end of 2004. After one second has ticked in 2005,\n"
            "   the password is no longer valid.\n\n       CREATE ROLE miriam WITH LOGIN PASSWORD 'jw8s0F4' VALID UNTIL '2005-01-01';\n\n"
            "Note psql's \\password command avoids sending the cleartext password to the server log.\n")


@clean("doc_example")
def de_jdk_cacerts_changeit():
    return (run_line("keytool -list -cacerts -storepass changeit | head -5") +
            "Keystore type: JKS\nKeystore provider: SUN\n\nYour keystore contains %d entries\n\n" % rint(90, 150) +
            "# The JDK's bundled cacerts truststore ships with the well-known default password \"changeit\".\n"
            "# It only protects integrity of a file full of *public* CA certificates, so leaving it is common;\n"
            "# for our own keystores we use -storepass:file /run/secrets/keystore-pass instead.\n" +
            run_line("keytool -importcert -cacerts -storepass changeit -noprompt -alias corp-root -file corp-root.pem") +
            "Certificate was added to keystore\n")


@clean("doc_example")
def de_wp_config_sample_salts():
    keys = ["AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"]
    return ("<?php\n/**\n * The base configuration for WordPress (wp-config-sample.php)\n */\n\n"
            "/** Database username */\ndefine( 'DB_USER', 'username_here' );\n\n/** Database password */\ndefine( 'DB_PASSWORD', 'password_here' );\n\n"
            "/**#@+\n * Authentication unique keys and salts.\n *\n * Change these to different unique phrases! You can generate these using\n"
            " * the {@link https://api.wordpress.org/secret-key/1.1/salt/ WordPress.org secret-key service}.\n */\n" +
            "".join("define( '%s',%s'put your unique phrase here' );\n" % (k, " " * (17 - len(k))) for k in keys))


@clean("doc_example")
def de_flask_quickstart_secret():
    return ("From the Flask quickstart, \"Sessions\":\n\n```python\nfrom flask import Flask, session\n\napp = Flask(__name__)\n\n"
            "# Set the secret key to some random bytes. Keep this really secret!\napp.secret_key = b'_5#y2L\"F4Q8z\\n\\xec]/'\n```\n\n"
            "> How to generate good secret keys: `python -c 'import secrets; print(secrets.token_hex())'`\n\n"
            "Our app reads it from `FLASK_SECRET_KEY` instead; the value above is only the docs' illustration.\n")


@clean("doc_example")
def de_tomcat_users_placeholder():
    return ("<!-- conf/tomcat-users.xml as shipped (roles commented out) -->\n<tomcat-users xmlns=\"http://tomcat.apache.org/xml\"\n"
            "              xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n              xsi:schemaLocation=\"http://tomcat.apache.org/xml tomcat-users.xsd\"\n              version=\"1.0\">\n"
            "<!--\n  <role rolename=\"tomcat\"/>\n  <role rolename=\"role1\"/>\n  <user username=\"tomcat\" password=\"<must-be-changed>\" roles=\"tomcat\"/>\n"
            "  <user username=\"both\" password=\"<must-be-changed>\" roles=\"tomcat,role1\"/>\n  <user username=\"role1\" password=\"<must-be-changed>\" roles=\"role1\"/>\n-->\n</tomcat-users>\n")


@clean("doc_example")
def de_test_mnemonics():
    return ("## Local chain accounts\n\nAnvil and Hardhat both derive their default accounts from the public test mnemonic\n\n"
            "    test test test test test test test test test test test junk\n\n"
            "and BIP-39's own test vectors start from\n\n    abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about\n\n"
            "Anything funded from these on a real network is swept by bots within seconds. Use them with `anvil --fork-url`\n"
            "only; deployment keys for %s live in the HSM.\n" % org())


@clean("doc_example")
def de_mailgun_docs_sample_key():
    return ("Mailgun's older API docs authenticate every example with the same sample key:\n\n"
            "```bash\ncurl -s --user 'api:key-3ax6xnjp29jd6fds4gc373sgvjxteol0' \\\n    https://api.mailgun.net/v3/samples.mailgun.org/messages \\\n"
            "    -F from='Excited User <excited@samples.mailgun.org>' \\\n    -F to='devs@mailgun.net' \\\n    -F subject='Hello' \\\n    -F text='Testing some Mailgun awesomeness!'\n```\n\n"
            "In our client the key comes from `MAILGUN_API_KEY`; the one above is the documentation's sample.\n")


@clean("doc_example")
def de_twilio_docs_placeholders():
    return ("```python\n# Download the helper library from https://www.twilio.com/docs/python/install\nimport os\nfrom twilio.rest import Client\n\n"
            "# Find your Account SID and Auth Token at twilio.com/console\n# and set the environment variables. See http://twil.io/secure\n"
            "account_sid = os.environ[\"TWILIO_ACCOUNT_SID\"]\nauth_token = os.environ[\"TWILIO_AUTH_TOKEN\"]\nclient = Client(account_sid, auth_token)\n```\n\n"
            "Response (docs sample):\n```json\n{\n  \"account_sid\": \"ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\",\n  \"sid\": \"SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\",\n"
            "  \"from\": \"+15005550006\",\n  \"status\": \"queued\"\n}\n```\n+15005550006 is one of Twilio's magic test numbers.\n")


@clean("doc_example")
def de_captcha_test_keys():
    return ("## CAPTCHA keys for automated tests\n\nAll three providers publish dummy keys that always pass:\n\n" +
            md_table(["Provider", "Site key", "Secret key"], [
                ("reCAPTCHA v2", "`6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI`", "`6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe`"),
                ("hCaptcha", "`10000000-ffff-ffff-ffff-000000000001`", "`0x0000000000000000000000000000000000000000`"),
                ("Turnstile", "`1x00000000000000000000AA`", "`1x0000000000000000000000000000000AA`")]) +
            "\n\nThey only work on localhost / test domains and the widget shows a \"testing only\" banner. Production keys\n"
            "are injected via `CAPTCHA_SITE_KEY` / `CAPTCHA_SECRET_KEY`.\n")


@clean("doc_example")
def de_supabase_local_demo_keys():
    return (run_line("supabase status") +
            "         API URL: http://127.0.0.1:54321\n     GraphQL URL: http://127.0.0.1:54321/graphql/v1\n          DB URL: postgresql://postgres:postgres@127.0.0.1:54322/postgres\n"
            "      Studio URL: http://127.0.0.1:54323\n    Inbucket URL: http://127.0.0.1:54324\n      JWT secret: %s\n" % SUPABASE_DEMO_SECRET.decode() +
            "        anon key: %s\nservice_role key: %s\n\n" % (SUPABASE_ANON, SUPABASE_SERVICE) +
            "These are the fixed demo credentials every local Supabase stack prints (iss \"supabase-demo\"); the hosted\n"
            "project's keys are different and live in the dashboard.\n")


@clean("doc_example")
def de_gitlab_docs_token_placeholder():
    return ("```shell\ncurl --header \"PRIVATE-TOKEN: <your_access_token>\" \"https://gitlab.example.com/api/v4/projects\"\n```\n\n"
            "Personal access tokens look like `glpat-xxxxxxxxxxxxxxxxxxxx`. In CI use `$CI_JOB_TOKEN` instead:\n\n"
            "```shell\ncurl --header \"JOB-TOKEN: $CI_JOB_TOKEN\" \"${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/my_package/0.0.1/file.txt\"\n```\n")


@clean("doc_example")
def de_npmrc_placeholder_docs():
    return ("# .npmrc.example -- copy to .npmrc (git-ignored) and put your token in place of the X's\n"
            "@%s:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n" % org() +
            "//registry.npmjs.org/:_authToken=npm_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n\n"
            "# or, better, keep the file committed as\n//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n")


@clean("doc_example")
def de_ssh_key_placeholder_docs():
    return ("### Adding the deploy key to CI\n\nPaste the *private* key into the `DEPLOY_KEY` variable (type: File). It looks like this:\n\n"
            "```\n-----BEGIN OPENSSH PRIVATE KEY-----\n<base64 contents of ~/.ssh/deploy_key, about 5 lines>\n-----END OPENSSH PRIVATE KEY-----\n```\n\n"
            "and the matching public key goes to the repository's Deploy keys page:\n\n```\nssh-ed25519 AAAA... deploy@%s\n```\n" % org())


@clean("doc_example")
def de_openai_placeholder_env():
    return ("# .env.example\n# Get a key at https://platform.openai.com/api-keys\nOPENAI_API_KEY=sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
            "ANTHROPIC_API_KEY=sk-ant-api03-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nGROQ_API_KEY=gsk_your_key_here\n"
            "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n# Optional\nLANGSMITH_API_KEY=\nTAVILY_API_KEY=tvly-YOUR_API_KEY\n")


@clean("doc_example")
def de_example_invalid_values_config():
    return ("# config/example.yaml -- every value below is an EXAMPLE and will be rejected by the API\n"
            "payments:\n  provider: adyen\n  api_key: \"example-api-key-000000\"\n  hmac_key: \"0000000000000000000000000000000000000000000000000000000000000000\"\n"
            "mail:\n  username: \"demo@example.com\"\n  password: \"invalid-password-for-docs\"\n"
            "oauth:\n  client_id: \"example-client-id\"\n  client_secret: \"example-client-secret\"\n"
            "webhooks:\n  signing_secret: \"dummy_signing_secret\"\n")


@clean("doc_example")
def de_jenkins_masked_console():
    return ("[Pipeline] withCredentials\nMasking supported pattern matches of $REGISTRY_PASSWORD or $NPM_TOKEN\n[Pipeline] {\n[Pipeline] sh\n"
            "+ echo ****\n+ docker login -u ci-bot --password-stdin registry.%s\n" % dom() +
            "WARNING! Your password will be stored unencrypted in /home/jenkins/.docker/config.json.\nLogin Succeeded\n"
            "+ npm config set //registry.npmjs.org/:_authToken ****\n[Pipeline] }\n[Pipeline] // withCredentials\n"
            "Warning: A secret was passed to \"sh\" using Groovy String interpolation, which is insecure.\n\t\t Affected argument(s) used the following variable(s): [NPM_TOKEN]\n")


@clean("doc_example")
def de_doctest_fake_token():
    return ("def verify(token: str, *, secret: str) -> dict:\n    \"\"\"Verify an HS256 token.\n\n"
            "    >>> verify(\"not-a-jwt\", secret=\"test-secret\")\n    Traceback (most recent call last):\n    ...\n    InvalidTokenError: Not enough segments\n"
            "    >>> verify(make_token({\"sub\": \"42\"}, secret=\"test-secret\"), secret=\"test-secret\")[\"sub\"]\n    '42'\n\n"
            "    The ``secret`` used in these examples is a placeholder; production secrets come from\n    :func:`settings.jwt_secret`.\n    \"\"\"\n")


@clean("doc_example")
def de_openldap_rootpw_docs():
    return ("OpenLDAP Quick-Start Guide, step 8 (\"Edit the configuration file\"):\n\n"
            "    database mdb\n    maxsize 1073741824\n    suffix \"dc=<MY-DOMAIN>,dc=<COM>\"\n    rootdn \"cn=Manager,dc=<MY-DOMAIN>,dc=<COM>\"\n"
            "    rootpw secret\n    directory /usr/local/var/openldap-data\n\n"
            "The guide's `rootpw secret` is a placeholder; generate a hash with slappasswd(8) and use `rootpw {SSHA}...`\n"
            "instead of a cleartext password.\n")


@clean("doc_example")
def de_requests_basic_auth_docs():
    return ("From the Requests docs (Authentication → Basic Authentication):\n\n```python\n>>> from requests.auth import HTTPBasicAuth\n"
            ">>> basic = HTTPBasicAuth('user', 'pass')\n>>> requests.get('https://httpbin.org/basic-auth/user/pass', auth=basic)\n<Response [200]>\n"
            ">>> requests.get('https://httpbin.org/basic-auth/user/pass', auth=('user', 'pass'))\n<Response [200]>\n```\n\n"
            "httpbin's endpoint accepts whatever user/pass you put in the path, which is why the docs use it.\n")


@clean("doc_example")
def de_git_credential_man_example():
    return ("git-credential(1), TYPICAL USE OF GIT CREDENTIAL:\n\n"
            "   2. Git-credential is then asked to fill the credential:\n\n"
            "          protocol=https\n          host=example.com\n          path=foo.git\n\n"
            "   3. git-credential will then try to \"fill\" the credential ... Git will output:\n\n"
            "          protocol=https\n          host=example.com\n          username=bob\n          password=secr3t\n\n"
            "   4. If authentication succeeds, the calling program should call git credential approve with the same\n"
            "      credential.\n")


@clean("doc_example")
def de_truncated_keys_dashboard():
    return ("Keys page after the rotation (the dashboard only ever shows a prefix and the last four):\n\n" +
            md_table(["Name", "Key", "Created", "Last used"], [
                ("ci-deploy", "`sk_live_…%s`" % rs(4, ALNUM), date(), "2 hours ago"),
                ("zapier", "`rk_live_…%s`" % rs(4, ALNUM), date(), "never"),
                ("old-backend", "`sk_live_…%s` (rolled)" % rs(4, ALNUM), date(), "—")]) +
            "\n\nIf you need the full value of a rolled key you can't get it back -- create a new restricted key instead.\n")


@clean("doc_example")
def de_placeholder_styles_api_docs():
    return ("Authentication examples in the three SDKs use different placeholder styles:\n\n"
            "* curl: `curl -H \"X-Api-Key: {API_KEY}\" https://api.%s/v2/usage`\n" % dom() +
            "* Postman: `Authorization: Bearer {{accessToken}}` (collection variable)\n"
            "* Windows batch: `set TOKEN=%TOKEN%` then `client.exe --token %TOKEN%`\n"
            "* Helm: `--set apiKey=$API_KEY`\n* Ruby: `Client.new(api_key: ENV.fetch(\"API_KEY\"))`\n\n"
            "None of these is a real value; substitute your own key.\n")


@clean("doc_example")
def de_env_example_empty_values():
    return ("# .env.example -- copy to .env; required values are marked, none are filled in here\n\n"
            "# --- database (required) ---\nDATABASE_URL=\n# --- auth (required) ---\n# 32+ random bytes, e.g. `openssl rand -base64 32`\nAUTH_SECRET=\n"
            "GITHUB_CLIENT_ID=\nGITHUB_CLIENT_SECRET=\n# --- email (optional) ---\nSMTP_HOST=smtp.example.com\nSMTP_USER=\nSMTP_PASSWORD=\n"
            "# --- payments (optional) ---\nSTRIPE_SECRET_KEY=sk_test_...\nSTRIPE_WEBHOOK_SECRET=whsec_...\n")


# ================================================================= references (clean)
def vault_hex_body(n_lines=None):
    return "\n".join(hx(80) for _ in range(n_lines or rint(4, 8)))


def sops_enc(n=None, t="str"):
    return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]" % (b64e(rbytes(n or rint(10, 40))), b64e(rbytes(32)), b64e(rbytes(16)), t)


def sops_meta_yaml():
    return ("sops:\n    kms: []\n    gcp_kms: []\n    azure_kv: []\n    hc_vault: []\n    age:\n        - recipient: %s\n"
            "          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n%s\n            -----END AGE ENCRYPTED FILE-----\n"
            "    lastmodified: \"%s\"\n    mac: %s\n    pgp: []\n    unencrypted_suffix: _unencrypted\n    version: 3.%d.%d\n") % (
        age_recipient(), "\n".join("            " + l for l in wrap(b64e(rbytes(190)), 64).split("\n")), ts()[:19] + "Z",
        sops_enc(32), rint(7, 10), rint(0, 9))


@clean("references")
def rf_ansible_vault_rekey_diff():
    f = "group_vars/%s/vault.yml" % pick(["prod", "all", "db_servers"])
    return (run_line("git diff -- %s" % f) +
            "diff --git a/%s b/%s\nindex %s..%s 100600\n--- a/%s\n+++ b/%s\n@@ -1,%d +1,%d @@\n" % (f, f, hx(7), hx(7), f, f, 7, 7) +
            " $ANSIBLE_VAULT;1.1;AES256\n" + "".join("-%s\n" % l for l in vault_hex_body(6).split("\n")) +
            "".join("+%s\n" % l for l in vault_hex_body(6).split("\n")) +
            "\n(rekeyed with `ansible-vault rekey --new-vault-password-file ~/.vault_pass_new %s`)\n" % f)


@clean("references")
def rf_ansible_vault_vars_usage():
    return ("# roles/db/tasks/main.yml\n- name: Create application DB user\n  community.postgresql.postgresql_user:\n    name: \"{{ app_db_user }}\"\n"
            "    password: \"{{ vault_app_db_password }}\"\n    login_password: \"{{ vault_postgres_admin_password }}\"\n  no_log: true\n\n"
            "# group_vars/prod/vault.yml (encrypted)\n$ANSIBLE_VAULT;1.2;AES256;prod\n" + vault_hex_body(5) + "\n\n"
            "# group_vars/prod/vars.yml\napp_db_user: app\napp_db_password: \"{{ vault_app_db_password }}\"\n"
            "smtp_password: \"{{ lookup('amazon.aws.aws_ssm', '/prod/smtp/password', region='%s') }}\"\n" % region())


@clean("references")
def rf_sops_ini_file():
    return (run_line("cat secrets/app.enc.ini") +
            "[database]\nhost = %s\nuser = app\npassword = %s\n\n[stripe]\nsecret_key = %s\nwebhook_secret = %s\n\n" % (
                "db.internal", sops_enc(20), sops_enc(40), sops_enc(38)) +
            "[sops]\nage__list_0__map_recipient = %s\nage__list_0__map_enc = -----BEGIN AGE ENCRYPTED FILE-----\\n%s\\n-----END AGE ENCRYPTED FILE-----\\n\n" % (
                age_recipient(), "\\n".join(wrap(b64e(rbytes(180)), 64).split("\n"))) +
            "lastmodified = %s\nmac = %s\nunencrypted_suffix = _unencrypted\nversion = 3.9.%d\n" % (ts()[:19] + "Z", sops_enc(32), rint(0, 4)))


@clean("references", uses=2)
def rf_sops_helm_values():
    return (run_line("helm secrets upgrade %s ./chart -f values.yaml -f secrets.%s.yaml" % (svc(), pick(["prod", "staging"]))) +
            "[helm-secrets] Decrypt: secrets.prod.yaml\nRelease \"%s\" has been upgraded. Happy Helming!\n\n" % svc() +
            run_line("head -20 secrets.prod.yaml") +
            "postgresql:\n    auth:\n        password: %s\n        replicationPassword: %s\nsmtp:\n    password: %s\n" % (sops_enc(22), sops_enc(22), sops_enc(16)) +
            "oauth:\n    clientSecret: %s\n" % sops_enc(35) + sops_meta_yaml())


@clean("references")
def rf_sealed_secret_cluster_wide():
    name = "%s-credentials" % svc()
    ed = "\n".join("    %s: %s" % (k, "Ag" + b64e(rbytes(rint(280, 420)))) for k in ["DB_PASSWORD", "STRIPE_SECRET_KEY"])
    return ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: %s\n  namespace: %s\n  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\n" % (name, pick(["prod", "apps"])) +
            "spec:\n  encryptedData:\n" + ed + "\n  template:\n    metadata:\n      name: %s\n      labels:\n        app.kubernetes.io/name: %s\n    type: Opaque\n" % (name, svc()))


@clean("references", uses=2)
def rf_template_var_styles():
    return ("Different tools, same idea -- none of these contain the value:\n\n" + md_table(["Tool", "How the DB password is referenced"], [
        ("docker compose", "`DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}`"),
        ("GitHub Actions", "`DB_PASSWORD: ${{ secrets.DB_PASSWORD }}`"),
        ("GitLab CI", "`$DB_PASSWORD` (masked, protected variable)"),
        ("supervisord", "`environment=DB_PASSWORD=\"%(ENV_DB_PASSWORD)s\"`"),
        ("shell", "`export DB_PASSWORD=\"$(cat /run/secrets/db_password)\"`"),
        ("Helm", "`{{ .Values.db.existingSecret | quote }}`"),
        ("Jinja/Ansible", "`{{ vault_db_password }}`"),
        ("systemd", "`${CREDENTIALS_DIRECTORY}/db_password`"),
        ("Spring", "`${DB_PASSWORD:}`"),
        ("CloudFormation", "`{{resolve:secretsmanager:prod/db:SecretString:password}}`")]) + "\n")


@clean("references")
def rf_gha_publish_workflow():
    return ("name: release\non:\n  push:\n    tags: ['v*']\npermissions:\n  contents: read\n  id-token: write\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    environment: release\n    steps:\n"
            "      - uses: actions/checkout@v4\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 22\n          registry-url: https://registry.npmjs.org\n"
            "      - run: npm ci\n      - run: npm publish --provenance --access public\n        env:\n          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n"
            "      - name: Notify\n        run: curl -fsS -X POST \"$SLACK_WEBHOOK_URL\" -d '{\"text\":\"released ${{ github.ref_name }}\"}'\n"
            "        env:\n          SLACK_WEBHOOK_URL: ${{ secrets.SLACK_RELEASE_WEBHOOK }}\n"
            "      - uses: docker/login-action@v3\n        with:\n          registry: ghcr.io\n          username: ${{ github.actor }}\n          password: ${{ secrets.GITHUB_TOKEN }}\n")


@clean("references")
def rf_ecs_task_secrets_arns():
    a = acct()
    r = region()
    sfx = rs(6, ALNUM)
    doc = {"containerDefinitions": [{"name": svc(), "image": "%s.dkr.ecr.%s.amazonaws.com/%s:%s" % (a, r, svc(), short_sha()),
                                     "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:%s:%s:secret:prod/%s/db-%s:password::" % (r, a, svc(), sfx)},
                                                 {"name": "DB_USER", "valueFrom": "arn:aws:secretsmanager:%s:%s:secret:prod/%s/db-%s:username::" % (r, a, svc(), sfx)},
                                                 {"name": "STRIPE_SECRET_KEY", "valueFrom": "arn:aws:ssm:%s:%s:parameter/prod/%s/stripe_secret_key" % (r, a, svc())}],
                                     "environment": [{"name": "LOG_LEVEL", "value": "info"}]}],
           "executionRoleArn": "arn:aws:iam::%s:role/%s-exec" % (a, svc()), "family": svc()}
    return json.dumps(doc, indent=2) + "\n"


@clean("references")
def rf_cloud_run_secret_refs():
    p = "%s-prod" % org()
    return ("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n" % svc() +
            "        - image: %s-docker.pkg.dev/%s/apps/%s@sha256:%s\n          env:\n" % (pick(GCP_REGIONS), p, svc(), hx(64)) +
            "            - name: DB_PASSWORD\n              valueFrom:\n                secretKeyRef:\n                  name: %s-db-password\n                  key: latest\n" % svc() +
            "            - name: SENDGRID_API_KEY\n              valueFrom:\n                secretKeyRef:\n                  name: sendgrid-api-key\n                  key: \"3\"\n"
            "          volumeMounts:\n            - name: sa-key\n              mountPath: /secrets\n      volumes:\n        - name: sa-key\n          secret:\n"
            "            secretName: projects/%d/secrets/%s-signing-key\n            items:\n              - key: latest\n                path: signing.pem\n" % (rint(10 ** 11, 10 ** 12), svc()))


@clean("references")
def rf_k8s_secretkeyref_deploy():
    n = svc()
    return ("    spec:\n      serviceAccountName: %s\n      containers:\n        - name: app\n          image: ghcr.io/%s/%s:%s\n          envFrom:\n            - secretRef:\n                name: %s-env\n" % (n, org(), n, short_sha(), n) +
            "          env:\n            - name: DATABASE_PASSWORD\n              valueFrom:\n                secretKeyRef:\n                  name: %s-db\n                  key: password\n" % n +
            "            - name: REDIS_PASSWORD\n              valueFrom:\n                secretKeyRef:\n                  name: redis\n                  key: redis-password\n                  optional: true\n"
            "          volumeMounts:\n            - name: tls\n              mountPath: /etc/tls\n              readOnly: true\n      volumes:\n        - name: tls\n          secret:\n            secretName: %s-tls\n" % n)


@clean("references")
def rf_op_env_template():
    v = pick(["Infra", "Prod", "Engineering"])
    return ("# .env.tpl -- resolved at runtime by `op run --env-file=.env.tpl -- npm start`\n"
            "DATABASE_URL=op://%s/%s-postgres/connection-string\nSTRIPE_SECRET_KEY=op://%s/Stripe/live secret key\n" % (v, svc(), v) +
            "GITHUB_APP_PRIVATE_KEY=op://%s/github-app-%s/private key?ssh-format=openssh\nSENTRY_DSN=op://%s/sentry/dsn\n\n" % (v, svc(), v) +
            run_line("op run --env-file=.env.tpl -- printenv STRIPE_SECRET_KEY") + "<concealed by 1Password>\n")


@clean("references")
def rf_doppler_infisical_runs():
    return ("# doppler.yaml\nsetup:\n  - project: %s\n    config: prd\n    path: ./services/%s\n\n" % (org(), svc()) +
            run_line("doppler run --project %s --config prd -- ./bin/migrate" % org()) + "Running migrations... done\n" +
            run_line("doppler secrets --only-names") +
            "┌────────────────────┐\n│ NAME               │\n├────────────────────┤\n│ DATABASE_URL       │\n│ DOPPLER_CONFIG     │\n│ STRIPE_SECRET_KEY  │\n│ WEBHOOK_SECRET     │\n└────────────────────┘\n" +
            run_line("infisical run --env=prod --path=/%s -- node dist/server.js" % svc()) +
            "INF Injecting 14 Infisical secrets into your application process\n")


@clean("references")
def rf_ssm_securestring_ciphertext():
    a = acct()
    ps = [{"Name": "/prod/%s/db_password" % svc(), "Type": "SecureString", "Value": "AQICAHh" + b64e(rbytes(rint(120, 170))), "Version": rint(1, 9),
           "LastModifiedDate": ts()[:19] + "+00:00", "ARN": "arn:aws:ssm:%s:%s:parameter/prod/%s/db_password" % (region(), a, svc()), "DataType": "text"},
          {"Name": "/prod/%s/db_host" % svc(), "Type": "String", "Value": dbhost(), "Version": 1, "LastModifiedDate": ts()[:19] + "+00:00",
           "ARN": "arn:aws:ssm:%s:%s:parameter/prod/%s/db_host" % (region(), a, svc()), "DataType": "text"}]
    return (run_line("aws ssm get-parameters-by-path --path /prod/%s/   # note: no --with-decryption" % svc()) + json.dumps({"Parameters": ps}, indent=4) + "\n")


@clean("references")
def rf_terraform_secret_data_sources():
    return ("data \"aws_secretsmanager_secret_version\" \"db\" {\n  secret_id = \"prod/%s/db\"\n}\n\n" % svc() +
            "locals {\n  db = jsondecode(data.aws_secretsmanager_secret_version.db.secret_string)\n}\n\n"
            "data \"vault_kv_secret_v2\" \"stripe\" {\n  mount = \"kv\"\n  name  = \"%s/stripe\"\n}\n\n" % svc() +
            "resource \"kubernetes_secret_v1\" \"app\" {\n  metadata {\n    name      = \"%s\"\n    namespace = \"prod\"\n  }\n" % svc() +
            "  data = {\n    DB_PASSWORD       = local.db[\"password\"]\n    STRIPE_SECRET_KEY = data.vault_kv_secret_v2.stripe.data[\"secret_key\"]\n  }\n}\n")


@clean("references")
def rf_cfn_dynamic_refs_ssm_secure():
    return ("Resources:\n  AppDb:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      Engine: postgres\n      MasterUsername: '{{resolve:secretsmanager:prod/%s/db:SecretString:username}}'\n" % svc() +
            "      MasterUserPassword: '{{resolve:secretsmanager:prod/%s/db:SecretString:password::%s}}'\n" % (svc(), uid()) +
            "  LegacyApp:\n    Type: AWS::Lambda::Function\n    Properties:\n      Environment:\n        Variables:\n"
            "          API_TOKEN: '{{resolve:ssm-secure:/prod/%s/api_token:%d}}'\n          TABLE: !Ref ItemsTable\n" % (svc(), rint(1, 9)))


@clean("references")
def rf_jenkins_credentials_binding():
    return ("pipeline {\n  agent any\n  environment {\n    REGISTRY = 'registry.%s'\n    SONAR_TOKEN = credentials('sonarqube-token')\n  }\n  stages {\n    stage('Push') {\n      steps {\n" % dom() +
            "        withCredentials([usernamePassword(credentialsId: 'registry-ci', usernameVariable: 'REG_USER', passwordVariable: 'REG_PASS'),\n"
            "                         sshUserPrivateKey(credentialsId: 'deploy-key', keyFileVariable: 'SSH_KEY')]) {\n"
            "          sh 'echo \"$REG_PASS\" | docker login -u \"$REG_USER\" --password-stdin $REGISTRY'\n          sh 'GIT_SSH_COMMAND=\"ssh -i $SSH_KEY\" git push origin HEAD:deploy'\n"
            "        }\n      }\n    }\n  }\n}\n")


@clean("references")
def rf_agenix_sops_nix():
    return ("# secrets/secrets.nix (agenix): which public keys may decrypt which file\nlet\n  %s = \"%s\";\n  server = \"%s\";\nin\n{\n" % (user(), ssh_pub("ed25519"), ssh_pub("ed25519")) +
            "  \"db-password.age\".publicKeys = [ %s server ];\n  \"grafana-admin.age\".publicKeys = [ %s server ];\n}\n\n" % (user(), user()) +
            "# hosts/db/configuration.nix\nage.secrets.db-password = {\n  file = ../../secrets/db-password.age;\n  owner = \"postgres\";\n  mode = \"0400\";\n};\n"
            "services.postgresql.initialScript = pkgs.writeText \"init.sql\" ''\n  \\set pw `cat ${config.age.secrets.db-password.path}`\n''\n")


@clean("references")
def rf_age_encrypted_file_text():
    return (run_line("head -c 600 secrets/prod.env.age | cat -v | head -5; echo; file secrets/prod.env.age") +
            "age-encryption.org/v1\n-> X25519 %s\n%s\n-> X25519 %s\n%s\n--- %s\n" % (
                b64e(rbytes(32)).rstrip("="), b64e(rbytes(32)).rstrip("="), b64e(rbytes(32)).rstrip("="), b64e(rbytes(32)).rstrip("="), b64e(rbytes(32)).rstrip("=")) +
            "M-^XM-CM-(...binary payload...\nsecrets/prod.env.age: age encrypted file, X25519 recipient\n")


@clean("references")
def rf_gitlab_ci_variables_refs():
    return ("deploy:\n  stage: deploy\n  image: alpine/k8s:1.30.4\n  id_tokens:\n    VAULT_ID_TOKEN:\n      aud: https://vault.%s\n  secrets:\n" % dom() +
            "    DATABASE_PASSWORD:\n      vault: %s/db/password@kv\n      file: false\n    KUBECONFIG_DATA:\n      vault: %s/kube/config@kv\n" % (svc(), svc()) +
            "  script:\n    - echo \"$CI_REGISTRY_PASSWORD\" | docker login -u \"$CI_REGISTRY_USER\" --password-stdin \"$CI_REGISTRY\"\n"
            "    - helm upgrade --install %s ./chart --set db.password=\"$DATABASE_PASSWORD\" --set image.tag=\"$CI_COMMIT_SHORT_SHA\"\n" % svc() +
            "  rules:\n    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n")


@clean("references")
def rf_external_secret_remote_refs():
    return ("apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n  name: %s\nspec:\n  refreshInterval: 1h\n" % svc() +
            "  secretStoreRef:\n    kind: ClusterSecretStore\n    name: aws-secrets-manager\n  target:\n    name: %s-env\n    template:\n      data:\n" % svc() +
            "        DATABASE_URL: \"postgres://{{ .username }}:{{ .password | urlquery }}@{{ .host }}:5432/%s\"\n" % dbname() +
            "  dataFrom:\n    - extract:\n        key: prod/%s/db\n  data:\n    - secretKey: STRIPE_SECRET_KEY\n      remoteRef:\n        key: prod/%s/stripe\n        property: secret_key\n        version: AWSCURRENT\n" % (svc(), svc()))


@clean("references")
def rf_vault_agent_annotations_refs():
    return ("metadata:\n  annotations:\n    vault.hashicorp.com/agent-inject: \"true\"\n    vault.hashicorp.com/role: \"%s\"\n" % svc() +
            "    vault.hashicorp.com/agent-inject-secret-db.env: \"database/creds/%s-rw\"\n" % svc() +
            "    vault.hashicorp.com/agent-inject-template-db.env: |\n      {{- with secret \"database/creds/%s-rw\" -}}\n" % svc() +
            "      export DB_USER=\"{{ .Data.username }}\"\n      export DB_PASSWORD=\"{{ .Data.password }}\"\n      {{- end }}\n"
            "spec:\n  containers:\n    - name: app\n      command: [\"sh\", \"-c\", \". /vault/secrets/db.env && exec ./server\"]\n")


@clean("references")
def rf_gha_docker_build_secrets():
    return ("      - uses: docker/build-push-action@v6\n        with:\n          context: .\n          push: true\n          tags: ghcr.io/%s/%s:${{ github.sha }}\n" % (org(), svc()) +
            "          secrets: |\n            \"npm_token=${{ secrets.NPM_TOKEN }}\"\n            \"github_token=${{ secrets.GITHUB_TOKEN }}\"\n\n"
            "# Dockerfile\nRUN --mount=type=secret,id=npm_token \\\n    NPM_TOKEN=\"$(cat /run/secrets/npm_token)\" npm ci --omit=dev\n"
            "RUN --mount=type=secret,id=github_token,env=GITHUB_TOKEN go mod download\n")


@clean("references")
def rf_kms_encrypt_output_ctx():
    return (run_line("aws kms encrypt --key-id alias/%s --plaintext fileb://dek.bin --encryption-context app=%s --output json" % (svc(), svc())) +
            json.dumps({"CiphertextBlob": "AQICAHh" + b64e(rbytes(rint(150, 180))), "KeyId": kms_arn(), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, indent=4) +
            "\n\n# dek.bin was shredded right after; only the CiphertextBlob is stored (column users.dek_enc)\n")


@clean("references")
def rf_azure_appsettings_kv_refs():
    return (run_line("az webapp config appsettings list -g rg-%s -n app-%s -o table" % (svc(), svc())) +
            "Name                      SlotSetting    Value\n------------------------  -------------  ---------------------------------------------------------------------\n" +
            "DB_PASSWORD               False          @Microsoft.KeyVault(SecretUri=https://kv-%s.vault.azure.net/secrets/db-password/)\n" % svc() +
            "STRIPE_SECRET_KEY         False          @Microsoft.KeyVault(VaultName=kv-%s;SecretName=stripe-secret-key)\n" % svc() +
            "APPLICATIONINSIGHTS_CONNECTION_STRING False @Microsoft.KeyVault(SecretUri=https://kv-%s.vault.azure.net/secrets/ai-conn/%s)\n" % (svc(), hx(32)) +
            "WEBSITE_RUN_FROM_PACKAGE  False          1\n")


@clean("references")
def rf_vercel_env_encrypted():
    out = run_line("vercel env ls production")
    out += "> Environment Variables found for %s/%s [%dms]\n\n name                     value               environments        created\n" % (org(), repo(), rint(100, 900))
    for n in ["DATABASE_URL", "NEXTAUTH_SECRET", "STRIPE_SECRET_KEY", "RESEND_API_KEY"]:
        out += " %-24s Encrypted           Production          %dd ago\n" % (n, rint(1, 300))
    return out + run_line("vercel env pull .env.local --environment=development") + "Downloading `development` Environment Variables for %s/%s\n✅  Created .env.local file  [%dms]\n" % (org(), repo(), rint(100, 900))


@clean("references")
def rf_python_env_and_file_refs():
    return ("import os\nfrom pathlib import Path\n\n"
            "DB_PASSWORD = Path(os.environ.get(\"DB_PASSWORD_FILE\", \"/run/secrets/db_password\")).read_text().strip()\n"
            "STRIPE_KEY = os.environ[\"STRIPE_SECRET_KEY\"]\nSENTRY_DSN = os.getenv(\"SENTRY_DSN\", \"\")\n"
            "VAULT_PATH = \"secret/data/%s/webhooks\"   # read at startup via hvac\n" % svc() +
            "AWS_SECRET_ARN = \"arn:aws:secretsmanager:%s:%s:secret:prod/%s/api-%s\"\n" % (region(), acct(), svc(), rs(6, ALNUM)) +
            "GCP_SECRET = \"projects/%s-prod/secrets/%s-signing-key/versions/latest\"\n" % (org(), svc()))


@clean("references")
def rf_ansible_inventory_lookups():
    h = "%s-%02d" % (pick(["db", "app"]), rint(1, 9))
    return ("# inventory/host_vars/%s.yml\nansible_host: %s\nansible_user: deploy\n" % (h, ip()) +
            "ansible_ssh_private_key_file: ~/.ssh/deploy_ed25519\n"
            "ansible_become_password: \"{{ lookup('community.general.passwordstore', 'hosts/%s/become') }}\"\n" % h +
            "pg_replication_password: \"{{ lookup('community.hashi_vault.vault_kv2_get', 'pg/replication', engine_mount_point='kv').secret.password }}\"\n"
            "backup_repo_password: \"{{ lookup('ansible.builtin.env', 'RESTIC_PASSWORD') }}\"\n")


@clean("references")
def rf_makefile_secret_commands():
    return ("# Makefile -- secrets are fetched at recipe time, never stored in the repo\n"
            "DB_PASSWORD ?= $(shell op read \"op://Infra/%s-db/password\")\n" % svc() +
            "STRIPE_KEY  ?= $(shell aws secretsmanager get-secret-value --secret-id prod/%s/stripe --query SecretString --output text | jq -r .secret_key)\n" % svc() +
            "SMTP_PASS   ?= $(shell pass show mail/%s/smtp | head -1)\n\n" % org() +
            ".PHONY: migrate\nmigrate:\n\t@PGPASSWORD='$(DB_PASSWORD)' psql -h $(DB_HOST) -U app -f migrations/latest.sql\n")


@clean("references")
def rf_pass_store_gpg_file():
    body = wrap(b64e(b"\x84\x5e\x03" + rbytes(8) + b"\x12\x01\x07\x40" + rbytes(rint(180, 240))))
    return (run_line("pass ls infra") + "infra\n├── %s\n│   ├── db\n│   └── stripe\n└── smtp\n" % svc() +
            run_line("gpg --armor --export-options export-minimal < ~/.password-store/infra/%s/db.gpg 2>/dev/null; gpg --enarmor < ~/.password-store/infra/%s/db.gpg" % (svc(), svc())) +
            "-----BEGIN PGP ARMORED FILE-----\nComment: Use \"gpg --dearmor\" for unpacking\n\n%s\n=%s\n-----END PGP ARMORED FILE-----\n" % (body, b64e(rbytes(3))))



@clean("references")
def rf_spring_boot_config_refs():
    return ("# application-prod.yml\nspring:\n  config:\n    import: \"optional:aws-secretsmanager:prod/%s/\"\n" % svc() +
            "  datasource:\n    url: jdbc:postgresql://${DB_HOST}:5432/${DB_NAME}\n    username: ${db.username}\n    password: ${db.password}\n"
            "  mail:\n    password: ${SMTP_PASSWORD:}\napp:\n  stripe:\n    secret-key: ${STRIPE_SECRET_KEY}\n"
            "  jwt:\n    signing-key: ${vault:secret/data/%s/jwt#signing_key}\n" % svc() +
            "management:\n  endpoint:\n    env:\n      show-values: NEVER   # /actuator/env prints ****** for everything\n")


@clean("references")
def rf_dotenv_interpolation_refs():
    return ("# .env (committed) -- values are references, resolved by `dotenvx run` / the shell\n"
            "DB_HOST=db\nDB_USER=app\nDB_PASSWORD=${DB_PASSWORD:?DB_PASSWORD is required}\n"
            "DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:5432/app\n"
            "REDIS_PASSWORD=$(cat /run/secrets/redis_password)\nSTRIPE_SECRET_KEY=${STRIPE_SECRET_KEY}\n"
            "SENTRY_AUTH_TOKEN=   # only needed for source-map upload, set in CI\n")


@clean("references")
def rf_sops_exec_env_transcript():
    f = "secrets/%s.enc.env" % pick(["prod", "staging"])
    return (run_line("head -4 %s" % f) +
            "DB_PASSWORD=%s\nSTRIPE_SECRET_KEY=%s\nsops_age__list_0__map_recipient=%s\nsops_lastmodified=%s\n" % (sops_enc(22), sops_enc(40), age_recipient(), ts()[:19] + "Z") +
            run_line("sops exec-env %s './bin/migrate --dry-run'" % f) + "migrate: 3 pending migrations (dry run)\n")


# ================================================================= secret cases
HELP_SNIPPETS = {
    "mysql": "  -p, --password[=name]\n                      Password to use when connecting to server. If password is\n                      not given it's asked from the tty.\n  -u, --user=name     User for login if not current user.\n  -h, --host=name     Connect to host.",
    "psql": "Connection options:\n  -h, --host=HOSTNAME      database server host or socket directory\n  -p, --port=PORT          database server port\n  -U, --username=USERNAME  database user name\n  -w, --no-password        never prompt for password\n  -W, --password           force password prompt (should happen automatically)",
    "redis-cli": "  -a <password>      Password to use when connecting to the server.\n                     You can also use the REDISCLI_AUTH environment\n                     variable to pass this password more safely\n  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.",
    "docker login": "Options:\n  -p, --password string   Password or Personal Access Token (PAT)\n      --password-stdin    Take the Password or Personal Access Token (PAT) from stdin\n  -u, --username string   Username",
}


@secret("common_shapes")
def cs_help_then_mysql_p():
    pw = shellpw()
    h = dbhost()
    return (run_line("mysql --help | grep -A3 -E '^  -(p|u|h),'") + HELP_SNIPPETS["mysql"] + "\n" +
            run_line("mysql -u %s -p'%s' -h %s %s -e 'SELECT COUNT(*) FROM orders WHERE created_at > NOW() - INTERVAL 1 DAY'" % (user(), pw, h, dbname())) +
            "mysql: [Warning] Using a password on the command line interface can be insecure.\n+----------+\n| COUNT(*) |\n+----------+\n|     %4d |\n+----------+\n" % rint(10, 9999)), [pw]


@secret("common_shapes")
def cs_help_then_psql_uri():
    pw = urlpw()
    u = user()
    return (run_line("psql --help | sed -n '/Connection options/,/^$/p'") + HELP_SNIPPETS["psql"] + "\n\n" +
            run_line("psql \"postgresql://%s:%s@%s:5432/%s?sslmode=require\" -c '\\dt'" % (u, pw, dbhost(), dbname())) +
            "            List of relations\n Schema |     Name      | Type  | Owner\n--------+---------------+-------+-------\n public | accounts      | table | %s\n public | invoices      | table | %s\n(2 rows)\n" % (u, u)), [pw]


@secret("common_shapes")
def cs_help_then_redis_a():
    pw = password(rint(24, 32), ALNUM)
    return (run_line("redis-cli --help | grep -A3 -- ' -a '") + HELP_SNIPPETS["redis-cli"] + "\n" +
            run_line("redis-cli -h %s -p 6380 --tls -a %s INFO keyspace" % (ip(), pw)) +
            "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n# Keyspace\ndb0:keys=%d,expires=%d,avg_ttl=%d\n" % (rint(100, 99999), rint(0, 999), rint(1000, 9999999))), [pw]


@secret("common_shapes")
def cs_help_then_docker_login_p():
    tok = docker_pat()
    u = user()
    return (run_line("docker login --help") + "Usage:  docker login [OPTIONS] [SERVER]\n\nAuthenticate to a registry.\n\n" + HELP_SNIPPETS["docker login"] + "\n" +
            run_line("docker login -u %s -p %s" % (u, tok)) +
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\nWARNING! Your password will be stored unencrypted in /home/%s/.docker/config.json.\n" % u +
            "Configure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credential-stores\n\nLogin Succeeded\n"), [tok]


@secret("common_shapes", uses=2)
def cs_kubectl_get_secret_yaml():
    k, v = pick([("stripe-secret-key", sk_live), ("smtp-password", lambda: shellpw(24)), ("sendgrid-api-key", sendgrid),
                 ("api-token", lambda: mixed(40))])
    vals = {"username": user().encode(), "password": password(rint(18, 28), ALNUM + "-_.").encode(), k: v().encode()}
    b = {k: b64e(v) for k, v in vals.items()}
    n = "%s-credentials" % svc()
    out = (run_line("kubectl get secret %s -n %s -o yaml" % (n, pick(["prod", "apps"]))) +
           "apiVersion: v1\ndata:\n" + "".join("  %s: %s\n" % (k, v) for k, v in b.items()) +
           "kind: Secret\nmetadata:\n  creationTimestamp: \"%s\"\n  name: %s\n  namespace: prod\n  resourceVersion: \"%d\"\n  uid: %s\ntype: Opaque\n" % (
               ts()[:19] + "Z", n, rint(10 ** 5, 10 ** 8), uid()))
    return out, [v for k, v in b.items() if k != "username"]


@secret("common_shapes")
def cs_java_trace_jdbc_password():
    pw = urlpw()
    h = dbhost()
    return ("%s ERROR 1 --- [main] o.s.boot.SpringApplication               : Application run failed\n\n" % ts() +
            "org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'dataSource' defined in class path resource [org/springframework/boot/autoconfigure/jdbc/DataSourceConfiguration$Hikari.class]: Failed to instantiate [com.zaxxer.hikari.HikariDataSource]\n"
            "Caused by: java.lang.RuntimeException: Driver org.postgresql.Driver claims to not accept jdbcUrl, jdbc:postgres://%s:5432/%s?user=%s&password=%s&ssl=true\n" % (h, dbname(), user(), pw) +
            "\tat com.zaxxer.hikari.util.DriverDataSource.<init>(DriverDataSource.java:110)\n\tat com.zaxxer.hikari.pool.PoolBase.initializeDataSource(PoolBase.java:326)\n"
            "\tat com.zaxxer.hikari.pool.PoolBase.<init>(PoolBase.java:112)\n\tat com.zaxxer.hikari.pool.HikariPool.<init>(HikariPool.java:93)\n"
            "\t... 45 common frames omitted\n\n(the URL scheme must be jdbc:postgresql://, not jdbc:postgres://)\n"), [pw]


@secret("common_shapes")
def cs_python_trace_sqlalchemy_url():
    pw = urlpw()
    return ("Traceback (most recent call last):\n  File \"/app/manage.py\", line 22, in <module>\n    engine = create_engine(settings.DATABASE_URL, pool_pre_ping=True)\n"
            "  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/engine/create.py\", line 602, in create_engine\n    u, plugins, kwargs = u._instantiate_plugins(kwargs)\n"
            "  File \"/usr/local/lib/python3.12/site-packages/sqlalchemy/engine/url.py\", line 854, in _instantiate_plugins\n    raise exc.ArgumentError(\n"
            "sqlalchemy.exc.NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:postgres\n\n"
            "DATABASE_URL was: postgres://%s:%s@%s:5432/%s\n(SQLAlchemy 1.4+ needs postgresql:// instead of postgres://)\n" % (user(), pw, dbhost(), dbname())), [pw]


@secret("common_shapes")
def cs_redis_conf_doc_above_value():
    pw = password(rint(28, 40), ALNUM)
    return ("################################## SECURITY ###################################\n\n"
            "# Warning: since Redis is pretty fast, an outside user can try up to\n# 1 million passwords per second against a modern box. This means that you\n"
            "# should use very strong passwords, otherwise they will be very easy to break.\n# Note that because the password is really a shared secret between the client\n"
            "# and the server, and should not be memorized by any human, the password\n# can be easily a long string from /dev/urandom or whatever, so by using a\n"
            "# long and unguessable password no brute force attack will be possible.\n\n"
            "# IMPORTANT NOTE: starting with Redis 6 \"requirepass\" is just a compatibility\n# layer on top of the new ACL system.\n#\n# requirepass foobared\n"
            "requirepass %s\n\n# rename-command CONFIG \"\"\nmaxmemory-policy allkeys-lru\n" % pw), [pw]


@secret("common_shapes")
def cs_my_cnf_with_docs():
    pw = password(rint(16, 22), ALNUM + "#%*-_.+^~")
    return ("# ~/.my.cnf\n#\n# Options in the [client] group are read by all client programs (mysql, mysqldump,\n# mysqladmin ...). Keep this file mode 600; a password here is stored in clear text.\n"
            "# See: mysql --help, \"Default options are read from the following files\".\n\n[client]\nuser = %s\n" % user() +
            "password = \"%s\"\nhost = %s\nssl-mode = REQUIRED\n\n[mysqldump]\nsingle-transaction\nquick\n" % (pw, dbhost())), [pw]


@secret("common_shapes")
def cs_pgpass_with_header():
    pw = password(rint(16, 24), ALNUM + "!#%*-_.+@^~")
    pw2 = password(rint(16, 24), ALNUM + "-_.")
    return (run_line("cat ~/.pgpass") +
            "# hostname:port:database:username:password\n# '*' matches anything; escape ':' and '\\' in the password with a backslash.\n# This file must be 0600 or libpq ignores it.\n"
            "%s:5432:%s:%s:%s\n*:6432:*:pgbouncer_admin:%s\n" % (dbhost(), dbname(), user(), pw, pw2)), [pw, pw2]


@secret("common_shapes")
def cs_curl_u_user_password():
    pw = shellpw()
    host = "jenkins.%s" % dom()
    return (run_line("curl --help auth | head -8") +
            "Usage: curl [options...] <url>\nauth: Authentication methods\n     --anyauth           Pick any authentication method\n     --basic             HTTP Basic Authentication\n"
            "     --digest            HTTP Digest Authentication\n -u, --user <user:password> Server user and password\n" +
            run_line("curl -s -u %s:'%s' https://%s/job/%s/lastBuild/api/json | jq -r .result" % (user(), pw, host, repo())) + "SUCCESS\n"), [pw]


@secret("common_shapes")
def cs_curl_v_basic_header():
    u = pick(["api", "admin", user()])
    pw = password(rint(20, 30), ALNUM)
    b = basic(u, pw)
    h = "registry.%s" % dom()
    return (run_line("curl -v -u %s:$REG_PASS https://%s/v2/_catalog" % (u, h)) +
            "*   Trying %s:443...\n* Connected to %s (%s) port 443\n* using HTTP/2\n* Server auth using Basic with user '%s'\n" % (pubip(), h, pubip(), u) +
            "> GET /v2/_catalog HTTP/2\n> Host: %s\n> Authorization: Basic %s\n> User-Agent: curl/8.%d.0\n> Accept: */*\n>\n" % (h, b, rint(4, 11)) +
            "< HTTP/2 200\n< content-type: application/json; charset=utf-8\n< docker-distribution-api-version: registry/2.0\n<\n{\"repositories\":[\"%s\",\"%s\"]}\n" % (svc(), svc())), [b]


@secret("common_shapes")
def cs_request_log_bearer_jwt():
    tok = jwt_token({"scope": "orders:read orders:write", "iss": "https://auth.%s/" % dom()}, alg=pick(["HS256", "RS256"]))
    return ("%s DEBUG httpx: HTTP Request: GET https://api.%s/v1/orders?limit=50 \"HTTP/1.1 200 OK\"\n" % (ts(), dom()) +
            "%s DEBUG app.client: request headers={'host': 'api.%s', 'accept': 'application/json', 'authorization': 'Bearer %s', 'x-request-id': '%s'}\n" % (ts(), dom(), tok, uid()) +
            "%s DEBUG app.client: response status=200 elapsed=%dms\n" % (ts(), rint(20, 900))), [tok]


@secret("common_shapes")
def cs_netrc_file():
    pw = password(rint(16, 26), ALNUM + "-_.!*")
    tok = ghp()
    return (run_line("cat ~/.netrc") + "# netrc(5): machine <host> login <user> password <password>\n"
            "machine ftp.%s\n  login %s\n  password %s\n\nmachine api.github.com\n  login %s\n  password %s\n" % (dom(), user(), pw, user(), tok)), [pw, tok]


@secret("common_shapes")
def cs_env_file_commented_docs():
    sk = sk_live()
    wh = whsec()
    pw = urlpw()
    return (run_line("cat .env.production") +
            "# Stripe -- secret key starts with sk_live_ (never expose to the browser), the\n# publishable key with pk_live_. Webhook signing secret: Dashboard > Developers > Webhooks.\n"
            "STRIPE_SECRET_KEY=%s\nSTRIPE_WEBHOOK_SECRET=%s\n\n# Postgres (format: postgres://USER:PASSWORD@HOST:PORT/DB)\n" % (sk, wh) +
            "DATABASE_URL=postgres://app:%s@%s:5432/%s\n\n# Leave empty to disable\nSENTRY_DSN=\n" % (pw, dbhost(), dbname())), [sk, wh, pw]


@secret("common_shapes")
def cs_git_remote_token_url():
    tok = pick([ghs(), gho(), github_pat()])
    return (run_line("git remote -v") +
            "origin\thttps://x-access-token:%s@github.com/%s/%s.git (fetch)\norigin\thttps://x-access-token:%s@github.com/%s/%s.git (push)\n" % (tok, org(), repo(), tok, org(), repo()) +
            run_line("git config --get-regexp '^url\\.'") + "(nothing)\n"), [tok]


@secret("common_shapes")
def cs_npmrc_authtoken_real():
    tok = npm_token()
    gh = ghp()
    return (run_line("cat ~/.npmrc") +
            "; npm config (see `npm help npmrc`). Per-registry auth uses //<host>/:_authToken=<token>\n"
            "@%s:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken=%s\n//registry.npmjs.org/:_authToken=%s\n"
            "fund=false\naudit=false\n" % (org(), gh, tok)), [gh, tok]


@secret("common_shapes")
def cs_pypirc_password():
    tok = pypi_token()
    return (run_line("cat ~/.pypirc") +
            "# https://packaging.python.org/specifications/pypirc/\n# username must be __token__ when password is an API token\n"
            "[distutils]\nindex-servers =\n    pypi\n    testpypi\n\n[pypi]\nusername = __token__\npassword = %s\n\n[testpypi]\nrepository = https://test.pypi.org/legacy/\nusername = __token__\n" % tok), [tok]


@secret("common_shapes")
def cs_terraform_output_not_sensitive():
    pw = password(rint(20, 32), ALNUM + "-_!#%*")
    return (run_line("terraform output -json") +
            json.dumps({"db_endpoint": {"sensitive": False, "type": "string", "value": "%s.%s.%s.rds.amazonaws.com" % (dbname(), rs(12, LOAL), region())},
                        "db_admin_password": {"sensitive": False, "type": "string", "value": pw},
                        "db_admin_user": {"sensitive": False, "type": "string", "value": "admin"},
                        "kms_key_arn": {"sensitive": False, "type": "string", "value": kms_arn()}}, indent=2) +
            "\n\n# TODO: mark db_admin_password as sensitive = true (random_password.result)\n"), [pw]


@secret("common_shapes")
def cs_tfstate_grep_password():
    pw = password(rint(20, 32), ALNUM + "-_!#%*")
    return (run_line("grep -n -E '\"(password|master_password|secret)\"' terraform.tfstate | head") +
            "%d:            \"master_password\": null,\n%d:            \"password\": \"%s\",\n%d:            \"secret\": null,\n" % (rint(100, 900), rint(100, 900), pw, rint(100, 900)) +
            "\n(state is in S3 with SSE-KMS, but anyone with s3:GetObject on the bucket can read this)\n"), [pw]


@secret("common_shapes", uses=2)
def cs_diff_adds_token():
    kind = pick(["gl", "slack", "sg", "hf"])
    tok = {"gl": glpat, "slack": xoxb, "sg": sendgrid, "hf": hf_token}[kind]()
    name = {"gl": "GITLAB_TOKEN", "slack": "SLACK_BOT_TOKEN", "sg": "SENDGRID_API_KEY", "hf": "HF_TOKEN"}[kind]
    f = pick(["scripts/release.py", "tools/notify.sh", "config/settings/staging.py", "ci/upload.js"])
    q = "'" if f.endswith((".py", ".js")) else "\""
    line = ("%s = %s%s%s" % (name, q, tok, q)) if not f.endswith(".sh") else ("export %s=\"%s\"" % (name, tok))
    return (run_line("git diff --cached") +
            "diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -%d,6 +%d,8 @@\n" % (f, f, hx(7), hx(7), f, f, rint(1, 40), rint(1, 40)) +
            " # see docs/RELEASING.md for the token scopes\n-%s = os.environ[\"%s\"]\n+# temporary, remove before merge\n+%s\n" % (name, name, line) +
            " \n def main():\n"), [tok]


@secret("common_shapes")
def cs_helm_set_password_history():
    pw = shellpw(rint(18, 26))
    pw2 = shellpw(rint(18, 26))
    return (run_line("history | grep 'helm upgrade' | tail -3") +
            "  %d  helm upgrade --install pg bitnami/postgresql -n data --set auth.postgresPassword='%s' --set auth.replicationPassword='%s'\n" % (rint(100, 900), pw, pw2) +
            "  %d  helm upgrade --install pg bitnami/postgresql -n data -f values.prod.yaml --set auth.existingSecret=pg-auth\n" % rint(100, 900) +
            "  %d  history | grep 'helm upgrade' | tail -3\n" % rint(100, 900)), [pw, pw2]


@secret("common_shapes")
def cs_mongo_uri_in_error():
    pw = urlpw()
    cl = "cluster0.%s.mongodb.net" % rs(5, LOAL)
    return ("MongoServerSelectionError: getaddrinfo ENOTFOUND %s\n    at Timeout._onTimeout (/app/node_modules/mongodb/lib/sdam/topology.js:278:38)\n" % cl +
            "    at listOnTimeout (node:internal/timers:573:17)\n    at process.processTimers (node:internal/timers:514:7) {\n"
            "  reason: TopologyDescription {\n    type: 'ReplicaSetNoPrimary',\n    setName: null,\n    maxSetVersion: null,\n"
            "  },\n  code: undefined,\n  [Symbol(errorLabels)]: Set(0) {}\n}\n"
            "[db] failed to connect using MONGODB_URI=mongodb+srv://%s:%s@%s/%s?retryWrites=true&w=majority\n" % (user(), pw, cl, dbname())), [pw]


@secret("common_shapes")
def cs_docker_inspect_env_list():
    pw = password(rint(18, 28), ALNUM + "-_.")
    ak = password(32, ALNUM)
    return (run_line("docker inspect --format '{{json .Config.Env}}' %s | jq ." % pick(["pg", "app-api-1", "worker"])) +
            json.dumps(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "POSTGRES_USER=app", "POSTGRES_PASSWORD=%s" % pw,
                        "MEILI_MASTER_KEY=%s" % ak, "GOSU_VERSION=1.17", "LANG=en_US.utf8", "PG_MAJOR=16"], indent=2) + "\n"), [pw, ak]


@secret("common_shapes")
def cs_compose_env_with_doc_comments():
    pw = password(rint(18, 28), ALNUM + "-_.")
    pw2 = password(rint(18, 28), ALNUM + "-_.")
    return ("# docker-compose.prod.yml\n# MYSQL_ROOT_PASSWORD: mandatory, specifies the password for the root superuser account.\n"
            "# MYSQL_PASSWORD: password for MYSQL_USER (see the image docs on Docker Hub).\nservices:\n  mysql:\n    image: mysql:8.4\n    environment:\n"
            "      MYSQL_ROOT_PASSWORD: %s\n      MYSQL_DATABASE: %s\n      MYSQL_USER: app\n      MYSQL_PASSWORD: %s\n    volumes:\n      - mysql-data:/var/lib/mysql\n" % (pw, dbname(), pw2) +
            "volumes:\n  mysql-data: {}\n"), [pw, pw2]


@secret("common_shapes")
def cs_k8s_stringdata_secret():
    pw = password(rint(20, 28), ALNUM + "-_.")
    tok = pick([okta_token(), datadog_api(), linear_key()])
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-config\n  namespace: prod\n  annotations:\n" % svc() +
            "    # stringData values are written in clear text and base64-encoded by the API server.\n"
            "    # Use sealed-secrets or ESO for anything committed to git.\ntype: Opaque\nstringData:\n"
            "  DB_PASSWORD: \"%s\"\n  INTEGRATION_TOKEN: \"%s\"\n  LOG_LEVEL: info\n" % (pw, tok)), [pw, tok]


@secret("common_shapes")
def cs_kubectl_create_secret_literals():
    pw = shellpw()
    ak = anthropic_key()
    return (run_line("kubectl create secret generic --help | sed -n '/Examples/,/Options/p' | head -12") +
            "Examples:\n  # Create a new secret named my-secret with keys for each file in folder bar\n  kubectl create secret generic my-secret --from-file=path/to/bar\n\n"
            "  # Create a new secret named my-secret with key1=supersecret and key2=topsecret\n  kubectl create secret generic my-secret --from-literal=key1=supersecret --from-literal=key2=topsecret\n\n" +
            run_line("kubectl create secret generic %s-ai -n apps --from-literal=ANTHROPIC_API_KEY=%s --from-literal=ADMIN_PASSWORD='%s'" % (svc(), ak, pw)) +
            "secret/%s-ai created\n" % svc()), [ak, pw]


@secret("common_shapes")
def cs_django_gmail_app_password():
    ap = " ".join(rs(4, LO) for _ in range(4))
    return ("# settings/production.py\nEMAIL_BACKEND = \"django.core.mail.backends.smtp.EmailBackend\"\nEMAIL_HOST = \"smtp.gmail.com\"\nEMAIL_PORT = 587\nEMAIL_USE_TLS = True\n"
            "EMAIL_HOST_USER = \"%s\"\n# Google account > Security > App passwords (16 letters, spaces optional)\nEMAIL_HOST_PASSWORD = \"%s\"\n" % (email(), ap) +
            "DEFAULT_FROM_EMAIL = EMAIL_HOST_USER\n"), [ap]


@secret("common_shapes")
def cs_spring_properties_commented_defaults():
    pw = password(rint(16, 24), ALNUM + "-_.!#")
    mpw = password(rint(16, 24), ALNUM)
    return ("# ----------------------------------------\n# DATA PROPERTIES (defaults shown commented)\n# ----------------------------------------\n"
            "# spring.datasource.url=\n# spring.datasource.username=\n# spring.datasource.password=\n"
            "spring.datasource.url=jdbc:postgresql://%s:5432/%s\nspring.datasource.username=%s\nspring.datasource.password=%s\n\n" % (dbhost(), dbname(), user(), pw) +
            "# spring.mail.password= # Login password of the SMTP server.\nspring.mail.host=smtp.%s\nspring.mail.username=noreply@%s\nspring.mail.password=%s\n" % (dom(), dom(), mpw)), [pw, mpw]


@secret("common_shapes")
def cs_vault_token_export_after_help():
    tok = vault_token()
    return (run_line("vault login -help | head -12") +
            "Usage: vault login [options] [AUTH K=V...]\n\n  Authenticates users or machines to Vault using the provided arguments. A\n  successful authentication results in a Vault token - conceptually similar to\n"
            "  a session token on a website. By default, this token is cached on the local\n  machine for future requests.\n\n" +
            run_line("export VAULT_ADDR=https://vault.%s:8200 VAULT_TOKEN=%s" % (dom(), tok)) +
            run_line("vault token lookup -format=json | jq '.data | {display_name, policies, ttl}'") +
            json.dumps({"display_name": "oidc-%s" % email(), "policies": ["default", "%s-dev" % svc()], "ttl": rint(1000, 30000)}, indent=2) + "\n"), [tok]


@secret("common_shapes")
def cs_wireguard_conf_private_key():
    pk = b64e(rbytes(32))
    psk = b64e(rbytes(32))
    return (run_line("sudo cat /etc/wireguard/wg0.conf") +
            "[Interface]\n# PrivateKey: output of `wg genkey`; PublicKey is derived with `wg pubkey`\nAddress = 10.%d.0.1/24\nListenPort = 51820\nPrivateKey = %s\n\n" % (rint(0, 200), pk) +
            "[Peer]\n# %s\nPublicKey = %s\nPresharedKey = %s\nAllowedIPs = 10.%d.0.2/32\nPersistentKeepalive = 25\n" % (person(), wg_pub(), psk, rint(0, 200))), [pk, psk]


@secret("common_shapes")
def cs_cat_ssh_private_key():
    pem, body = openssh_key()
    return (run_line("cat ~/.ssh/%s" % pick(["id_ed25519", "deploy_key", "github_actions"])) + pem + "\n" +
            run_line("ssh-keygen -y -f ~/.ssh/deploy_key") + ssh_pub("ed25519", "deploy@%s" % org()) + "\n"), [body]


@secret("common_shapes")
def cs_jwt_key_inline_yaml():
    pem, body = ec_key()
    ind = "    "
    ibody = body.replace("\n", "\n" + ind)
    return ("# config/auth.yaml -- signing key for access tokens (ES256)\n# kid is published in /.well-known/jwks.json; the private key must not be.\nsigning:\n  kid: %s\n  alg: ES256\n  private_key: |\n" % hx(16) +
            "\n".join(ind + l for l in pem.split("\n")) + "\n  rotate_after: 90d\n"), [ibody]


@secret("common_shapes")
def cs_pkcs8_key_in_tool_output():
    pem, body = rsa_pkcs8()
    return (run_line("gcloud iam service-accounts keys create key.json --iam-account %s@%s-prod.iam.gserviceaccount.com && jq -r .private_key key.json" % (svc(), org())) +
            "created key [%s] of type [json] as [key.json] for [%s@%s-prod.iam.gserviceaccount.com]\n" % (hx(40), svc(), org()) + pem + "\n"), [body]


@secret("common_shapes")
def cs_amqp_url_env():
    pw = urlpw()
    return (run_line("kubectl exec deploy/%s -- printenv | grep -E 'AMQP|RABBIT|CELERY'" % svc()) +
            "CELERY_BROKER_URL=amqps://%s:%s@rabbitmq.%s:5671/%s\nRABBITMQ_PREFETCH=20\nCELERY_RESULT_BACKEND=rpc://\n" % (svc(), pw, dom(), svc())), [pw]


@secret("common_shapes")
def cs_mysql_create_user_sql():
    pw = password(rint(16, 24), ALNUM + "#%*-_.+^~")
    return (run_line("cat migrations/0042_reporting_user.sql") +
            "-- reporting user (read only). Password per MySQL docs: CREATE USER ... IDENTIFIED BY 'auth_string'\n"
            "CREATE USER IF NOT EXISTS 'reporting'@'10.%%' IDENTIFIED BY '%s';\nGRANT SELECT ON %s.* TO 'reporting'@'10.%%';\nFLUSH PRIVILEGES;\n" % (pw, dbname())), [pw]


@secret("common_shapes")
def cs_psql_alter_role_history():
    pw = password(rint(16, 24), ALNUM + "#%*-_.+^~!")
    return (run_line("psql -h %s -U postgres -c '\\du' | head -6" % dbhost()) +
            "                                   List of roles\n Role name |                         Attributes\n-----------+------------------------------------------------------------\n"
            " postgres  | Superuser, Create role, Create DB, Replication, Bypass RLS\n %-9s | \n" % user() +
            run_line("cat ~/.psql_history | tail -4") +
            "\\du\nALTER ROLE %s WITH LOGIN PASSWORD '%s';\n\\password %s\n\\q\n" % (svc().replace("-", "_"), pw, user())), [pw]


@secret("common_shapes")
def cs_sshpass_script():
    pw = shellpw()
    return (run_line("sshpass -h 2>&1 | head -6") +
            "Usage: sshpass [-f|-d|-p|-e[env_var]] [-hV] command parameters\n   -f filename   Take password to use from file\n   -d number     Use number as file descriptor for getting password\n"
            "   -p password   Provide password as argument (security unwise)\n   -e[env_var]   Password is passed as env-var \"env_var\" if given, \"SSHPASS\" otherwise\n" +
            run_line("cat scripts/collect-logs.sh") +
            "#!/bin/bash\nfor h in $(cat hosts.txt); do\n  sshpass -p '%s' scp -o StrictHostKeyChecking=no %s@$h:/var/log/app/*.log ./logs/$h/\ndone\n" % (pw, user())), [pw]


@secret("common_shapes")
def cs_ldapsearch_w_transcript():
    pw = shellpw()
    d = org()
    return (run_line("ldapsearch -x -H ldaps://ldap.%s -D 'cn=svc-%s,ou=services,dc=%s,dc=internal' -w '%s' -b 'ou=people,dc=%s,dc=internal' '(uid=%s)' mail" % (
        dom(), svc(), d, pw, d, user())) +
            "# extended LDIF\n#\n# LDAPv3\n# base <ou=people,dc=%s,dc=internal> with scope subtree\n# filter: (uid=%s)\n# requesting: mail\n#\n\n" % (d, user()) +
            "# %s, people, %s.internal\ndn: uid=%s,ou=people,dc=%s,dc=internal\nmail: %s\n\n# search result\nsearch: 2\nresult: 0 Success\n" % (user(), d, user(), d, email())), [pw]


@secret("common_shapes")
def cs_smbclient_user_percent():
    pw = password(rint(14, 20), ALNUM + "!#*-_.")
    return (run_line("smbclient //fs01.%s/finance -U '%s\\%s%%%s' -c 'ls'" % (dom(), org().upper(), user(), pw)) +
            "  .                                   D        0  %s\n  ..                                  D        0  %s\n  Q3-forecast.xlsx                    A   %6d  %s\n\n" % (ts_plain(), ts_plain(), rint(10000, 900000), ts_plain()) +
            "\t\t%d blocks of size 1024. %d blocks available\n" % (rint(10 ** 7, 10 ** 8), rint(10 ** 6, 10 ** 7))), [pw]


@secret("common_shapes")
def cs_slack_tokens_env_socket():
    b = xoxb()
    a = "xapp-1-A%s-%d-%s" % (rs(10, UPAL), rint(10 ** 12, 10 ** 13), hx(64))
    return (run_line("cat .env") + "# Slack app (Socket Mode). Bot token: OAuth & Permissions; app-level token: Basic Information > App-Level Tokens (connections:write)\n"
            "SLACK_BOT_TOKEN=%s\nSLACK_APP_TOKEN=%s\nSLACK_CHANNEL=#deploys\n" % (b, a)), [b, a]


@secret("common_shapes")
def cs_gitlab_ci_hardcoded_vars():
    pw = password(rint(18, 26), ALNUM + "-_.")
    tok = glpat()
    return ("# .gitlab-ci.yml\n# NOTE: variables: values are visible to anyone who can read the repo; use CI/CD settings for secrets.\nvariables:\n"
            "  POSTGRES_DB: test\n  POSTGRES_USER: runner\n  POSTGRES_PASSWORD: \"%s\"\n  DANGER_GITLAB_API_TOKEN: \"%s\"\n\n" % (pw, tok) +
            "test:\n  services:\n    - postgres:16\n  script:\n    - bundle exec rspec\n    - bundle exec danger\n"), [pw, tok]


@secret("common_shapes")
def cs_wp_config_real_salts():
    pw = password(rint(16, 22), ALNUM + "!#%*-_.+@^~")
    salts = [mixed(64, ALNUM + "!#%*-_.+@^~(){}[]<>|;:,=") for _ in range(2)]
    salts = [s.replace("'", "") for s in salts]
    return ("<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp_%s' );\ndefine( 'DB_PASSWORD', '%s' );\ndefine( 'DB_HOST', '%s' );\n\n" % (org(), pw, dbhost()) +
            "/**#@+\n * Authentication unique keys and salts. (generated from api.wordpress.org/secret-key/1.1/salt/)\n */\n"
            "define( 'AUTH_KEY',         '%s' );\ndefine( 'SECURE_AUTH_KEY',  '%s' );\n" % (salts[0], salts[1])), [pw] + salts


@secret("common_shapes")
def cs_x_api_key_curl_after_help():
    k = pick([mixed(40, ALNUM), "%s_%s" % (pick(["live", "prod"]), mixed(32))])
    return (run_line("curl --help http | grep -E -- '-H|--header'") +
            " -H, --header <header/@file> Pass custom header(s) to server\n     --proxy-header <header/@file> Pass custom header(s) to proxy\n" +
            run_line("curl -s -H 'X-API-Key: %s' https://api.%s/v2/usage?month=%s | jq .total" % (k, dom(), date()[:7])) + "%d\n" % rint(100, 99999)), [k]


# ---------------------------------------------------------------- key_pairs
@secret("key_pairs")
def kp_aws_create_access_key_json():
    ak, sk = aws_id(), aws_secret()
    u = "%s-ci" % svc()
    return (run_line("aws iam create-access-key --user-name %s" % u) +
            json.dumps({"AccessKey": {"UserName": u, "AccessKeyId": ak, "Status": "Active", "SecretAccessKey": sk, "CreateDate": ts()[:19] + "+00:00"}}, indent=4) + "\n"), [ak, sk]


@secret("key_pairs")
def kp_sts_assume_role_output():
    ak, sk, st = aws_id("ASIA"), aws_secret(), aws_session_token()
    a = acct()
    return (run_line("aws sts assume-role --role-arn arn:aws:iam::%s:role/%s-deploy --role-session-name ci-%d" % (a, svc(), rint(1000, 9999))) +
            json.dumps({"Credentials": {"AccessKeyId": ak, "SecretAccessKey": sk, "SessionToken": st, "Expiration": ts()[:19] + "+00:00"},
                        "AssumedRoleUser": {"AssumedRoleId": "AROA%s:ci-%d" % (rs(17, UPAL), rint(1000, 9999)), "Arn": "arn:aws:sts::%s:assumed-role/%s-deploy/ci" % (a, svc())}}, indent=4) + "\n"), [ak, sk, st]


@secret("key_pairs")
def kp_aws_credentials_profiles():
    a1, s1, a2, s2 = aws_id(), aws_secret(), aws_id(), aws_secret()
    return (run_line("cat ~/.aws/credentials") +
            "# Shared credentials file (see `aws configure help`). Profiles: [name]; keys: aws_access_key_id, aws_secret_access_key\n"
            "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n[%s-prod]\naws_access_key_id=%s\naws_secret_access_key=%s\nregion=%s\n" % (a1, s1, org(), a2, s2, region())), [a1, s1, a2, s2]


@secret("key_pairs")
def kp_aws_configure_set_after_help():
    ak, sk = aws_id(), aws_secret()
    return (run_line("aws configure set help | col -b | sed -n '/EXAMPLES/,/OUTPUT/p' | head -12") +
            "EXAMPLES\n       Given an empty config file, the following commands:\n\n          $ aws configure set aws_access_key_id default_access_key\n"
            "          $ aws configure set aws_secret_access_key default_secret_key\n          $ aws configure set default.region us-west-2\n\n" +
            run_line("aws configure set aws_access_key_id %s --profile %s" % (ak, org())) +
            run_line("aws configure set aws_secret_access_key %s --profile %s" % (sk, org()))), [ak, sk]


@secret("key_pairs")
def kp_minio_mc_alias_positional():
    ak = rs(20, UPAL)
    sk = mixed(40, ALNUM)
    return (run_line("mc alias set --help | sed -n '/USAGE/,/FLAGS/p'") + "USAGE:\n  mc alias set ALIAS URL ACCESSKEY SECRETKEY\n\n" +
            run_line("mc alias set %s https://minio.%s %s %s" % (org(), dom(), ak, sk)) + "Added `%s` successfully.\n" % org()), [sk]


@secret("key_pairs")
def kp_alibaba_oss_ctor():
    ak, sk = ali_id(), ali_secret()
    return ("import oss2\n\n# oss2.Auth(access_key_id, access_key_secret)\nauth = oss2.Auth('%s', '%s')\n" % (ak, sk) +
            "bucket = oss2.Bucket(auth, 'https://oss-cn-hangzhou.aliyuncs.com', '%s-assets')\n\nfor obj in oss2.ObjectIterator(bucket, prefix='exports/'):\n    print(obj.key)\n" % org()), [sk]


@secret("key_pairs")
def kp_twilio_sid_token_prose():
    sid = "AC" + hx(32)
    tok = twilio_token()
    return ("Hey, the SMS integration on staging is using the old sub-account. New one is\n\n"
            "  account SID: %s\n  auth token:  %s\n\n" % (sid, tok) +
            "can you put them into the %s staging config? The messaging service is MG%s.\n" % (svc(), hx(32))), [tok]


@secret("key_pairs")
def kp_google_oauth_client_pair():
    cid = "%d-%s.apps.googleusercontent.com" % (rint(10 ** 11, 10 ** 12), rs(32, LOAL))
    cs = gocspx()
    return ("OAuth client for the internal dashboard (type: Web application):\n\n  Client ID:     %s\n  Client secret: %s\n  Redirect URI:  https://dash.%s/auth/callback\n" % (cid, cs, dom())), [cs]


@secret("key_pairs")
def kp_az_sp_create_output():
    pw = azure_ad_secret()
    return (run_line("az ad sp create-for-rbac --name sp-%s-deploy --role Contributor --scopes /subscriptions/%s/resourceGroups/rg-%s" % (svc(), uid(), svc())) +
            "Creating 'Contributor' role assignment under scope '/subscriptions/...'\nThe output includes credentials that you must protect. Be sure that you do not include these credentials in your code or check the credentials into your source control. For more information, see https://aka.ms/azadsp-cli\n" +
            json.dumps({"appId": uid(), "displayName": "sp-%s-deploy" % svc(), "password": pw, "tenant": uid()}, indent=2) + "\n"), [pw]


@secret("key_pairs")
def kp_b2_key_create():
    kid = "00" + hx(10) + "000000000" + rs(1, DG)
    ak = "K00" + mixed(28, ALNUM)
    return (run_line("b2 account authorize") + "Using https://api.backblazeb2.com\nBackblaze application key ID: %s\n" % ("00" + hx(10) + "0000000001") +
            run_line("b2 key create --bucket %s-backups restic-%s listBuckets,listFiles,readFiles,writeFiles,deleteFiles" % (org(), pick(["nas", "db01"]))) +
            "%s %s\n" % (kid, ak)), [ak]


@secret("key_pairs")
def kp_gcs_hmac_create():
    aid = "GOOG1E" + rs(55, UPAL)
    sec = mixed(40, B64)
    return (run_line("gcloud storage hmac create %s@%s.iam.gserviceaccount.com" % (svc(), org())) +
            "accessId: %s\nsecret: %s\n" % (aid, sec) +
            run_line("rclone config create gcs-hmac s3 provider=GCS access_key_id=%s secret_access_key=%s endpoint=https://storage.googleapis.com" % (aid, sec)) + "[gcs-hmac]\ntype = s3\nprovider = GCS\n"), [sec]


@secret("key_pairs")
def kp_tencent_credential_ctor():
    sid = "AKID" + mixed(32)
    sk = mixed(32)
    return ("from tencentcloud.common import credential\nfrom tencentcloud.cvm.v20170312 import cvm_client\n\n"
            "cred = credential.Credential(\"%s\", \"%s\")\nclient = cvm_client.CvmClient(cred, \"ap-guangzhou\")\n" % (sid, sk)), [sk]


@secret("key_pairs")
def kp_r2_token_dashboard_copy():
    tv = cf_token()
    kid = hx(32)
    sec = hx(64)
    return ("Cloudflare dashboard → R2 → Manage API tokens → Create (copied):\n\nToken value\n%s\n\nUse the following credentials for S3 clients:\n"
            "Access Key ID\n%s\nSecret Access Key\n%s\nUse jurisdiction-specific endpoints for S3 clients:\nDefault https://%s.r2.cloudflarestorage.com\n" % (tv, kid, sec, hx(32))), [tv, sec]


@secret("key_pairs")
def kp_do_spaces_pair_env():
    ak = "DO00" + rs(16, UPAL)
    sk = mixed(43, B64)
    return ("# rclone / s3cmd for DigitalOcean Spaces\nexport SPACES_ENDPOINT=https://%s.digitaloceanspaces.com\nexport SPACES_KEY=%s\nexport SPACES_SECRET=%s\n" % (
        pick(["fra1", "nyc3", "ams3"]), ak, sk)), [sk]


# ---------------------------------------------------------------- provider_near_value
@secret("provider_near_value")
def pv_readme_env_table_pasted_default():
    k = openai_proj()
    rows = [("`OPENAI_API_KEY`", "OpenAI key used by the summarizer", "`%s`" % k), ("`OPENAI_MODEL`", "Model name", "`gpt-4o-mini`"),
            ("`REDIS_URL`", "Cache", "`redis://localhost:6379/0`"), ("`LOG_LEVEL`", "debug/info/warn", "`info`")]
    return ("## Configuration\n\n" + md_table(["Variable", "Description", "Default"], rows) +
            "\n\n(for the demo on Friday I put my key as the default so it just works -- will remove after)\n"), [k]


@secret("provider_near_value")
def pv_env_table_aligned_pasted_token():
    k = pick([groq_key(), pplx_key(), xai_key(), replicate_token()])
    name = {"g": "GROQ_API_KEY", "p": "PERPLEXITY_API_KEY", "x": "XAI_API_KEY", "r": "REPLICATE_API_TOKEN"}[k[0] if k[0] in "gpx" else "r"]
    return ("VARIABLE              REQUIRED  DEFAULT                                             DESCRIPTION\n"
            "%-21s yes       %s  provider key\n" % (name, k) +
            "LLM_TIMEOUT_SECONDS   no        30                                                  request timeout\nLLM_MAX_RETRIES       no        2                                                   retries on 429/5xx\n"), [k]


@secret("provider_near_value")
def pv_grep_hit_slack_token():
    tok = xoxb()
    return (run_line("rg -n 'xox[bp]-|SLACK_' --glob '!*.lock'") +
            "docs/SLACK.md:14:Set `SLACK_BOT_TOKEN` to the bot token (starts with `xoxb-`).\nsrc/notify/slack.py:8:SLACK_CHANNEL = os.getenv(\"SLACK_CHANNEL\", \"#alerts\")\n"
            "src/notify/slack.py:9:SLACK_BOT_TOKEN = os.getenv(\"SLACK_BOT_TOKEN\")\nscripts/backfill_alerts.py:21:client = WebClient(token=\"%s\")\n" % tok), [tok]


@secret("provider_near_value")
def pv_helm_values_datadog_keys():
    a, b = datadog_api(), datadog_app()
    return ("# values-prod.yaml for datadog/datadog chart\n## @param datadog.apiKey Your Datadog API key\n## ref: https://app.datadoghq.com/account/settings/agent/latest?platform=kubernetes\n"
            "datadog:\n  apiKey: %s\n  ## @param datadog.appKey Datadog APP key required to use metricsProvider\n  appKey: %s\n  site: datadoghq.eu\n  logs:\n    enabled: true\n" % (a, b)), [a, b]


@secret("provider_near_value")
def pv_mcp_config_github_pat():
    tok = github_pat()
    return (run_line("cat ~/.cursor/mcp.json") +
            json.dumps({"mcpServers": {"github": {"command": "docker", "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
                                                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": tok}},
                                        "postgres": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/%s" % dbname()]}}}, indent=2) + "\n"), [tok]


@secret("provider_near_value")
def pv_litellm_config_keys():
    a = anthropic_key()
    o = openrouter_key()
    return ("# litellm proxy config.yaml\nmodel_list:\n  - model_name: claude\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5\n      api_key: %s\n" % a +
            "  - model_name: cheap\n    litellm_params:\n      model: openrouter/meta-llama/llama-3.3-70b-instruct\n      api_key: %s\n" % o +
            "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n  database_url: os.environ/DATABASE_URL\n"), [a, o]


@secret("provider_near_value")
def pv_continue_config_yaml():
    k = pick([groq_key(), "csk-" + mixed(48, LOAL), "fw_" + mixed(24)])
    return ("# ~/.continue/config.yaml\nname: Local Assistant\nversion: 1.0.0\nschema: v1\nmodels:\n  - name: fast\n    provider: %s\n    model: llama-3.3-70b\n    apiKey: %s\n    roles: [chat, edit]\n" % (
        {"g": "groq", "c": "cerebras", "f": "fireworks"}[k[0]], k) + "context:\n  - provider: code\n  - provider: diff\n"), [k]


@secret("provider_near_value")
def pv_hf_token_cache_file():
    tok = hf_token()
    return (run_line("ls -la ~/.cache/huggingface/") + "total 16\ndrwxr-xr-x  4 %s %s 4096 %s .\ndrwxr-xr-x 12 %s %s 4096 %s ..\ndrwxr-xr-x 18 %s %s 4096 %s hub\n-rw-------  1 %s %s   37 %s token\n" % ((user(), user(), date()) * 4) +
            run_line("huggingface-cli whoami") + "%s\norgs:  %s\n" % (user(), org()) + run_line("cat ~/.cache/huggingface/token; echo") + tok + "\n"), [tok]


@secret("provider_near_value")
def pv_sentryclirc_token():
    tok = sentry_user_token()
    return (run_line("cat ~/.sentryclirc") + "[auth]\n; created with `sentry-cli login`\ntoken=%s\n\n[defaults]\norg=%s\nproject=%s\nurl=https://sentry.io/\n" % (tok, org(), svc())), [tok]


@secret("provider_near_value")
def pv_cloudflare_wrangler_env():
    tok = cf_token()
    return ("# .dev.vars / CI env for wrangler\n# CLOUDFLARE_API_TOKEN needs Workers Scripts:Edit and Account Settings:Read\nCLOUDFLARE_ACCOUNT_ID=%s\nCLOUDFLARE_API_TOKEN=%s\n" % (hx(32), tok) +
            run_line("npx wrangler whoami") + " ⛅️ wrangler 3.%d.0\n-------------------\nGetting User settings...\n👋 You are logged in with an API Token, associated with the email %s.\n" % (rint(50, 99), email())), [tok]


@secret("provider_near_value")
def pv_newrelic_license_yaml():
    k = hx(36) + "NRAL"
    u = newrelic_key()
    return ("# newrelic-infra.yml\nlicense_key: %s\ndisplay_name: %s-%02d\nlog:\n  level: info\n\n# scripts/nr-deploy-marker.sh uses the user key:\n# NEW_RELIC_API_KEY=%s\n" % (k, svc(), rint(1, 20), u)), [k, u]


@secret("provider_near_value")
def pv_mailchimp_api_key_prose():
    k = mailchimp()
    return ("For the newsletter sync job, the Mailchimp API key is %s (audience id %s). It's the marketing account, not mine.\n" % (k, hx(10)) +
            "Data center is the suffix after the dash, so the base URL is https://%s.api.mailchimp.com/3.0/.\n" % k.split("-")[1]), [k]


@secret("provider_near_value")
def pv_postman_environment_export():
    k = postman_key()
    t = okta_token()
    return (json.dumps({"id": uid(), "name": "%s - prod" % svc(), "values": [
        {"key": "baseUrl", "value": "https://api.%s" % dom(), "type": "default", "enabled": True},
        {"key": "postmanApiKey", "value": k, "type": "secret", "enabled": True},
        {"key": "oktaApiToken", "value": t, "type": "secret", "enabled": True}],
        "_postman_variable_scope": "environment", "_postman_exported_at": ts(), "_postman_exported_using": "Postman/11.%d.0" % rint(1, 30)}, indent=2) + "\n"), [k, t]


@secret("provider_near_value")
def pv_brevo_smtp_settings():
    k = brevo_key()
    return ("Transactional email moved to Brevo. Settings for the relay:\n\nSMTP server: smtp-relay.brevo.com\nPort: 587\nLogin: %s\n" % email() +
            "API v3 key: %s\n\n(the SMTP key is different -- generate it under SMTP & API → SMTP)\n" % k), [k]


@secret("provider_near_value")
def pv_airtable_pat_script():
    k = airtable_pat()
    return ("// scripts/sync-airtable.mjs\nimport Airtable from \"airtable\";\n\nconst base = new Airtable({ apiKey: \"%s\" }).base(\"app%s\");\n\n" % (k, rs(14, ALNUM)) +
            "const rows = await base(\"Inventory\").select({ view: \"Grid view\" }).all();\nconsole.log(rows.length);\n"), [k]


@secret("provider_near_value")
def pv_square_token_chat():
    t = square_token()
    return ("ok here's the production access token from the Square developer dashboard (Credentials tab):\n\n%s\n\n" % t +
            "location id is L%s. Please don't commit it, I'll rotate once the POS integration is merged.\n" % rs(12, UPAL)), [t]


@secret("provider_near_value")
def pv_shopify_admin_token_toml():
    t = shpat()
    return ("# shopify.app.toml is checked in; this one is NOT (.env.shopify.toml)\n# used by scripts/bulk-update-prices.ts via the Admin GraphQL API\n[admin]\nshop = \"%s.myshopify.com\"\naccess_token = \"%s\"\napi_version = \"2025-01\"\n" % (org(), t)), [t]


@secret("provider_near_value")
def pv_tailscale_authkey_cloudinit():
    k = tailscale_key()
    return ("#cloud-config\nruncmd:\n  - ['sh', '-c', 'curl -fsSL https://tailscale.com/install.sh | sh']\n"
            "  - ['tailscale', 'up', '--authkey=%s', '--ssh', '--advertise-tags=tag:%s']\n" % (k, svc()) +
            "# auth key: reusable, ephemeral, expires in 90 days\n"), [k]


@secret("provider_near_value")
def pv_ngrok_yml_authtoken():
    t = ngrok_token()
    return (run_line("ngrok config check") + "Valid configuration file at /home/%s/.config/ngrok/ngrok.yml\n" % user() +
            run_line("cat ~/.config/ngrok/ngrok.yml") + "version: \"3\"\nagent:\n    authtoken: %s\ntunnels:\n  api:\n    proto: http\n    addr: 8080\n    domain: %s.ngrok.app\n" % (t, org())), [t]


@secret("provider_near_value")
def pv_doppler_token_ci():
    t = doppler_token()
    return ("# .circleci/config.yml (excerpt)\njobs:\n  deploy:\n    docker:\n      - image: cimg/base:current\n    environment:\n"
            "      DOPPLER_TOKEN: %s   # service token for %s/prd\n    steps:\n      - run: doppler run -- ./deploy.sh\n" % (t, org())), [t]


@secret("provider_near_value")
def pv_supabase_service_role_real():
    ref = rs(20, LO)
    sr = jwt_token({"iss": "supabase", "ref": ref, "role": "service_role"})
    return ("# .env.local (Supabase cloud project %s)\nNEXT_PUBLIC_SUPABASE_URL=https://%s.supabase.co\n" % (ref, ref) +
            "# service_role bypasses RLS -- server only!\nSUPABASE_SERVICE_ROLE_KEY=%s\n" % sr), [sr]


@secret("provider_near_value")
def pv_notion_linear_bullets():
    n = notion_token()
    l = linear_key()
    return ("Integrations for the weekly report bot:\n\n- **Notion** internal integration secret: `%s`\n- **Linear** personal API key: `%s`\n- Slack: use the existing #reports webhook\n" % (n, l)), [n, l]


@secret("provider_near_value")
def pv_pulumi_access_token_export():
    t = pulumi_token()
    return (run_line("pulumi login --help | head -4") +
            "Log in to the Pulumi Cloud.\n\nThe Pulumi Cloud manages your stack's state reliably. Simply run\n\n" +
            run_line("export PULUMI_ACCESS_TOKEN=%s && pulumi whoami -v" % t) +
            "User: %s\nOrganizations: %s\nBackend URL: https://app.pulumi.com/%s\nToken type: personal\n" % (user(), org(), user())), [t]


@secret("provider_near_value")
def pv_elevenlabs_resend_env_table():
    e = elevenlabs_key()
    r = resend_key()
    return ("| Service | Env var | Value |\n|---|---|---|\n| ElevenLabs | `ELEVENLABS_API_KEY` | %s |\n| Resend | `RESEND_API_KEY` | %s |\n| Postgres | `DATABASE_URL` | see 1Password |\n" % (e, r)), [e, r]


@secret("provider_near_value")
def pv_planetscale_render_chat():
    p = planetscale_pw()
    r = render_key()
    return ("Migration checklist for moving %s off Heroku:\n\n1. PlanetScale branch `main`, password for the app user: %s\n2. Render API key for the deploy hook script: %s\n3. Update DNS\n" % (svc(), p, r)), [p, r]


# ---------------------------------------------------------------- url_keys
@secret("url_keys")
def u_slack_webhook_alertmanager_route():
    seg = mixed(24)
    url = "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(10, UPAL), rs(10, UPAL), seg)
    return ("# alertmanager.yml\nglobal:\n  resolve_timeout: 5m\n  # slack_api_url: <secret>   # or slack_api_url_file\nreceivers:\n  - name: oncall\n    slack_configs:\n"
            "      - api_url: %s\n        channel: '#oncall'\n        send_resolved: true\n" % url), [seg]


@secret("url_keys")
def u_discord_webhook_compose_env():
    tok = mixed(68, B64URL)
    return ("services:\n  uptime-kuma-bridge:\n    image: ghcr.io/%s/notify-bridge:%s\n    environment:\n" % (org(), ver()) +
            "      DISCORD_WEBHOOK_URL: https://discord.com/api/webhooks/%s/%s\n      NOTIFY_LEVEL: warn\n" % (snowflake(), tok)), [tok]


@secret("url_keys")
def u_telegram_api_url_in_log():
    tok = telegram_bot()
    return ("%s WARNING urllib3.connectionpool: Retrying (Retry(total=2, connect=None, read=None, redirect=None, status=None)) after connection broken by "
            "'NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f%s>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': "
            "/bot%s/sendMessage?chat_id=-100%d&text=deploy+finished\n" % (ts(), hx(9), tok, rint(10 ** 9, 10 ** 10))), [tok]


@secret("url_keys")
def u_google_maps_key_html():
    k = google_api_key()
    return ("<!-- templates/contact.html -->\n<div id=\"map\" style=\"height: 320px\"></div>\n"
            "<script async defer src=\"https://maps.googleapis.com/maps/api/js?key=%s&callback=initMap&libraries=places\"></script>\n" % k +
            "<script>\n  function initMap() {\n    new google.maps.Map(document.getElementById(\"map\"), { center: { lat: 52.52, lng: 13.405 }, zoom: 12 });\n  }\n</script>\n"), [k]


@secret("url_keys")
def u_azure_sas_blob_url():
    sig = quote(b64e(rbytes(32)), safe="")
    url = "https://st%s.blob.core.windows.net/exports/%s.csv?sp=r&st=%sZ&se=%sZ&spr=https&sv=2022-11-02&sr=b&sig=%s" % (org(), date(), ts()[:19], ts()[:19], sig)
    return (run_line("az storage blob generate-sas --account-name st%s -c exports -n %s.csv --permissions r --expiry %s --full-uri -o tsv" % (org(), date(), date())) + url + "\n"), [sig]


@secret("url_keys")
def u_gcs_signed_url_curl():
    sig = hx(512)
    url = ("https://storage.googleapis.com/%s-exports/report.pdf?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=%s%%40%s.iam.gserviceaccount.com%%2F%s%%2Fauto%%2Fstorage%%2Fgoog4_request"
           "&X-Goog-Date=%sT%sZ&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=%s") % (org(), svc(), org(), date().replace("-", ""), date().replace("-", ""), hms().replace(":", ""), sig)
    return (run_line("gcloud storage sign-url gs://%s-exports/report.pdf --duration=15m --private-key-file=sa.json" % org()) + "signed_url: %s\n" % url), [sig]


@secret("url_keys")
def u_api_key_query_access_log():
    k = mixed(32, LOAL)
    return (run_line("tail -n 3 /var/log/nginx/access.log") +
            "%s - - [%s +0000] \"GET /health HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.30\"\n" % (ip(), ts_plain()) +
            "%s - - [%s +0000] \"GET /v1/rates?base=EUR&symbols=USD,GBP&access_key=%s HTTP/1.1\" 200 512 \"-\" \"python-requests/2.32.3\"\n" % (pubip(), ts_plain(), k) +
            "%s - - [%s +0000] \"POST /v1/convert HTTP/1.1\" 401 48 \"-\" \"curl/8.5.0\"\n" % (pubip(), ts_plain())), [k]


@secret("url_keys")
def u_gitlab_trigger_token_url():
    t = "glptt-" + hx(40)
    return (run_line("curl -X POST --fail -F token=%s -F ref=main https://gitlab.%s/api/v4/projects/%d/trigger/pipeline" % (t, dom(), rint(10, 2000))) +
            json.dumps({"id": rint(10 ** 5, 10 ** 7), "sha": git_sha(), "ref": "main", "status": "created", "web_url": "https://gitlab.%s/%s/%s/-/pipelines/%d" % (dom(), org(), repo(), rint(10 ** 5, 10 ** 7))}) + "\n"), [t]


@secret("url_keys")
def u_rediss_url_celery_config():
    pw = password(rint(24, 32), ALNUM)
    return ("# celeryconfig.py\nbroker_url = \"rediss://:%s@%s.cache.amazonaws.com:6379/0?ssl_cert_reqs=required\"\n" % (pw, rs(14, LOAL)) +
            "result_backend = broker_url\nbroker_transport_options = {\"visibility_timeout\": 3600}\ntask_acks_late = True\n"), [pw]


@secret("url_keys")
def u_mattermost_hook_curl():
    hid = rs(26, LOAL)
    return (run_line("curl -i -X POST -H 'Content-Type: application/json' -d '{\"text\": \"backup finished\"}' https://chat.%s/hooks/%s" % (dom(), hid)) +
            "HTTP/2 200\ncontent-type: text/plain\ndate: %s\nvary: Accept-Encoding\nx-request-id: %s\nx-version-id: 9.%d.0\n\nok\n" % (ts_plain(), rs(26, LOAL), rint(0, 11))), [hid]


@secret("url_keys")
def u_wss_token_query_devtools():
    t = jwt_token({"room": "support-%d" % rint(100, 999)})
    return ("Request URL: wss://realtime.%s/socket/websocket?token=%s&vsn=2.0.0\nRequest Method: GET\nStatus Code: 101 Switching Protocols\n" % (dom(), t) +
            "Sec-WebSocket-Extensions: permessage-deflate\nSec-WebSocket-Version: 13\n"), [t]


@secret("url_keys")
def u_github_raw_token_query():
    t = "GHSAT0AAAAAAC" + mixed(25, UPAL) + "A"
    return ("Raw link copied from the private repo (valid for a few minutes):\n\nhttps://raw.githubusercontent.com/%s/%s/main/deploy/install.sh?token=%s\n\ncurl -fsSL that | bash\n" % (org(), repo(), t)), [t]


@secret("url_keys")
def u_s3_presigned_url_log():
    ak = aws_id("AKIA")
    sig = hx(64)
    url = ("https://%s-exports.s3.%s.amazonaws.com/reports/%s.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F%s%%2F%s%%2Fs3%%2Faws4_request"
           "&X-Amz-Date=%sT%sZ&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=%s") % (org(), region(), uid(), ak, date().replace("-", ""), region(), date().replace("-", ""), hms().replace(":", ""), sig)
    return ("%s INFO  export.service - report ready, emailing download link to %s: %s\n" % (ts(), email(), url)), [ak, sig]


@secret("url_keys")
def u_newsapi_key_query_code():
    k = hx(32)
    return ("import requests\n\nresp = requests.get(\n    \"https://newsapi.org/v2/top-headlines?country=de&category=technology&apiKey=%s\",\n    timeout=10,\n)\n" % k +
            "for a in resp.json()[\"articles\"][:5]:\n    print(a[\"title\"])\n"), [k]


# ---------------------------------------------------------------- code_constants
@secret("code_constants")
def cc_rust_hmac_key_hex_const():
    k = hx(64)
    return ("// src/webhooks/verify.rs\nuse hmac::{Hmac, Mac};\nuse sha2::Sha256;\n\n/// Shared with the partner; TODO move to config before launch.\n"
            "const PARTNER_WEBHOOK_HMAC_KEY: &str = \"%s\";\n\npub fn verify(body: &[u8], sig_hex: &str) -> bool {\n" % k +
            "    let key = hex::decode(PARTNER_WEBHOOK_HMAC_KEY).expect(\"hex\");\n    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();\n    mac.update(body);\n"
            "    mac.verify_slice(&hex::decode(sig_hex).unwrap_or_default()).is_ok()\n}\n"), [k]


@secret("code_constants")
def cc_go_signing_secret_var():
    k = mixed(rint(32, 48), ALNUM + "-_")
    return ("package auth\n\n// jwtSigningSecret signs session cookies.\nvar jwtSigningSecret = []byte(\"%s\")\n\nfunc Sign(claims jwt.MapClaims) (string, error) {\n" % k +
            "\treturn jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(jwtSigningSecret)\n}\n"), [k]


@secret("code_constants")
def cc_python_fernet_key_const():
    k = b64u(rbytes(32)) + "="
    return ("from cryptography.fernet import Fernet\n\n# key used to encrypt OAuth refresh tokens at rest\nTOKEN_ENCRYPTION_KEY = b\"%s\"\n" % k +
            "_fernet = Fernet(TOKEN_ENCRYPTION_KEY)\n\n\ndef seal(token: str) -> bytes:\n    return _fernet.encrypt(token.encode())\n"), [k]


@secret("code_constants")
def cc_java_aes_key_b64():
    k = b64e(rbytes(32))
    return ("public final class FieldCrypto {\n    // AES-256 key for PII columns\n    private static final String FIELD_ENCRYPTION_KEY_B64 = \"%s\";\n" % k +
            "    private static final SecretKeySpec KEY = new SecretKeySpec(Base64.getDecoder().decode(FIELD_ENCRYPTION_KEY_B64), \"AES\");\n\n"
            "    public static byte[] encrypt(byte[] plain) throws GeneralSecurityException {\n        Cipher c = Cipher.getInstance(\"AES/GCM/NoPadding\");\n"
            "        byte[] iv = new byte[12];\n        RNG.nextBytes(iv);\n        c.init(Cipher.ENCRYPT_MODE, KEY, new GCMParameterSpec(128, iv));\n        return concat(iv, c.doFinal(plain));\n    }\n}\n"), [k]


@secret("code_constants")
def cc_csharp_jwt_secret_const():
    k = mixed(rint(40, 64), ALNUM + "+/")
    return ("public static class AuthDefaults\n{\n    public const string Issuer = \"https://api.%s\";\n    public const string JwtSecretKey = \"%s\";\n" % (dom(), k) +
            "    public static readonly TimeSpan AccessTokenLifetime = TimeSpan.FromMinutes(15);\n}\n\n"
            "var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(AuthDefaults.JwtSecretKey));\n"), [k]


@secret("code_constants")
def cc_ts_encryption_key_hex():
    k = hx(64)
    return ("// src/lib/crypto.ts\nimport { createCipheriv, randomBytes } from \"node:crypto\";\n\nexport const ENCRYPTION_KEY = Buffer.from(\"%s\", \"hex\");\n\n" % k +
            "export function encrypt(plain: string): string {\n  const iv = randomBytes(12);\n  const c = createCipheriv(\"aes-256-gcm\", ENCRYPTION_KEY, iv);\n"
            "  const ct = Buffer.concat([c.update(plain, \"utf8\"), c.final()]);\n  return [iv, c.getAuthTag(), ct].map((b) => b.toString(\"base64\")).join(\".\");\n}\n"), [k]


@secret("code_constants")
def cc_laravel_app_key_fallback():
    k = "base64:" + b64e(rbytes(32))
    return ("<?php\n// config/app.php\nreturn [\n    'name' => env('APP_NAME', '%s'),\n    'env' => env('APP_ENV', 'production'),\n" % org().title() +
            "    'key' => env('APP_KEY', '%s'),\n    'cipher' => 'AES-256-CBC',\n];\n" % k), [k]


@secret("code_constants")
def cc_c_master_key_bytes():
    bs = rbytes(32)
    lines = ",\n    ".join(", ".join("0x%02x" % b for b in bs[i:i + 8]) for i in range(0, 32, 8))
    return ("/* firmware/src/crypto_keys.c */\n#include <stdint.h>\n\n/* device master key for AES-CMAC of the config blob */\nstatic const uint8_t kMasterKey[32] = {\n    %s\n};\n" % lines +
            "\nconst uint8_t *crypto_master_key(void) { return kMasterKey; }\n"), [lines]


@secret("code_constants")
def cc_rg_hit_secret_key_literal():
    k = mixed(50, ALNUM + "!@#%^*(-_=+)")
    return (run_line("rg -n 'SECRET_KEY' --type py") +
            "app/settings/base.py:23:SECRET_KEY = os.environ.get(\"DJANGO_SECRET_KEY\")\napp/settings/test.py:4:SECRET_KEY = \"test\"\n"
            "app/settings/prod_legacy.py:11:SECRET_KEY = \"%s\"\ndocs/deploy.md:40:Set `DJANGO_SECRET_KEY` in the task definition.\n" % k), [k]


@secret("code_constants")
def cc_diff_adds_api_secret_const():
    k = mixed(40, ALNUM)
    return (run_line("git show %s -- lib/partner_client.rb" % short_sha()) +
            "commit %s\nAuthor: %s <%s>\n\n    quick fix for partner sandbox\n\n" % (git_sha(), person(), email()) +
            "diff --git a/lib/partner_client.rb b/lib/partner_client.rb\n--- a/lib/partner_client.rb\n+++ b/lib/partner_client.rb\n@@ -3,7 +3,8 @@ class PartnerClient\n"
            "-  API_SECRET = ENV.fetch(\"PARTNER_API_SECRET\")\n+  API_SECRET = \"%s\".freeze\n+  API_KEY_ID = \"pk_%s\".freeze\n" % (k, rs(12, LOAL)) +
            " \n   def sign(payload)\n     OpenSSL::HMAC.hexdigest(\"SHA256\", API_SECRET, payload)\n"), [k]


@secret("code_constants")
def cc_python_password_salt_const():
    salt = hx(32)
    pep = b64e(rbytes(24))
    return ("# accounts/hashing.py\nimport hashlib\n\nPASSWORD_SALT = \"%s\"\nAPI_KEY_PEPPER = \"%s\"\n\n\n" % (salt, pep) +
            "def hash_api_key(raw: str) -> str:\n    return hashlib.sha256((API_KEY_PEPPER + raw).encode()).hexdigest()\n"), [salt, pep]


@secret("code_constants")
def cc_rails_secret_key_base_yaml():
    k = hx(128)
    return ("# config/secrets.yml (legacy Rails 4 app)\n# Do not keep production secrets in the repository,\n# instead read values from the environment.\n"
            "development:\n  secret_key_base: %s\n\nproduction:\n  secret_key_base: <%%= ENV[\"SECRET_KEY_BASE\"] %%>\n" % k), [k]


@secret("code_constants")
def cc_kotlin_buildconfig_secret():
    k = mixed(40, ALNUM)
    return ("// app/build.gradle.kts\nandroid {\n    defaultConfig {\n        applicationId = \"com.%s.app\"\n        buildConfigField(\"String\", \"ANALYTICS_WRITE_KEY\", \"\\\"%s\\\"\")\n" % (org(), mixed(32)) +
            "        buildConfigField(\"String\", \"PARTNER_API_SECRET\", \"\\\"%s\\\"\")\n    }\n}\n" % k), [k]


@secret("common_shapes")
def cs_pgdump_pgpassword_after_help():
    pw = shellpw()
    return (run_line("pg_dump --help | sed -n '/Connection options/,$p'") +
            "Connection options:\n  -d, --dbname=DBNAME      database to dump\n  -h, --host=HOSTNAME      database server host or socket directory\n"
            "  -p, --port=PORT          database server port number\n  -U, --username=NAME      connect as specified database user\n  -w, --no-password        never prompt for password\n"
            "  -W, --password           force password prompt (should happen automatically)\n  --role=ROLENAME          do SET ROLE before dump\n\n"
            "If no database name is supplied, then the PGDATABASE environment\nvariable value is used.\n\n" +
            run_line("PGPASSWORD='%s' pg_dump -h %s -U %s -Fc %s > /backups/%s-%s.dump" % (pw, dbhost(), user(), dbname(), dbname(), date()))), [pw]


@secret("common_shapes")
def cs_openssl_pass_arg_after_man():
    pw = shellpw()
    d = dbname()
    return (run_line("man openssl-passphrase-options | col -b | grep -A3 'pass:password'") +
            "       pass:password\n           The actual password is password. Since the password is visible to utilities (like\n"
            "           'ps' under Unix) this form should only be used where security is not important.\n" +
            run_line("openssl enc -aes-256-cbc -pbkdf2 -iter 200000 -salt -in %s.sql -out %s.sql.enc -pass pass:'%s'" % (d, d, pw)) +
            run_line("ls -l %s.sql.enc" % d) + "-rw-r--r-- 1 %s %s %d %s %s.sql.enc\n" % (user(), user(), rint(10 ** 5, 10 ** 8), date(), d)), [pw]


@secret("common_shapes")
def cs_rsyncd_secrets_file():
    pw = password(rint(16, 24), ALNUM + "-_.!")
    return (run_line("sudo cat /etc/rsyncd.conf /etc/rsyncd.secrets") +
            "# rsyncd.conf(5): \"secrets file\" lists username:password pairs, one per line;\n# it must not be readable by others when strict modes is on.\n"
            "[backups]\n    path = /srv/backups\n    auth users = %s\n    secrets file = /etc/rsyncd.secrets\n    read only = false\n\n%s:%s\n" % (user(), user(), pw)), [pw]


@secret("common_shapes")
def cs_session_cookie_header_copy():
    sess = mixed(rint(32, 48), ALNUM)
    csrf = mixed(32, ALNUM)
    return ("Copied as cURL from devtools to reproduce the 500:\n\ncurl 'https://admin.%s/api/orders/export' \\\n  -H 'accept: application/json' \\\n" % dom() +
            "  -H 'cookie: sessionid=%s; csrftoken=%s; theme=dark' \\\n  -H 'x-csrftoken: %s' \\\n  --compressed\n" % (sess, csrf, csrf)), [sess]


@secret("common_shapes")
def cs_ci_log_unmasked_secret():
    tok = pick([npm_token(), ghp(), glpat()])
    return ("2026-%02d-%02dT%s.%07dZ ##[group]Run ./scripts/publish.sh\n" % (rint(1, 12), rint(1, 28), hms(), rint(0, 9999999)) +
            "2026-%02d-%02dT%s.%07dZ + TOKEN=%s\n" % (rint(1, 12), rint(1, 28), hms(), rint(0, 9999999), tok) +
            "2026-%02d-%02dT%s.%07dZ + echo '//registry.npmjs.org/:_authToken=%s'\n" % (rint(1, 12), rint(1, 28), hms(), rint(0, 9999999), tok) +
            "2026-%02d-%02dT%s.%07dZ ##[endgroup]\n# (the value was read from a file in the artifact, so Actions did not know to mask it)\n" % (rint(1, 12), rint(1, 28), hms(), rint(0, 9999999))), [tok]


@secret("common_shapes")
def cs_erlang_cookie_file():
    c = rs(20, UP)
    return (run_line("kubectl exec rabbitmq-0 -- cat /var/lib/rabbitmq/.erlang.cookie; echo") + c + "\n" +
            run_line("rabbitmqctl --erlang-cookie %s -n rabbit@rabbitmq-0 cluster_status | head -3" % c) +
            "Cluster status of node rabbit@rabbitmq-0 ...\nBasics\n\nCluster name: rabbit@rabbitmq-0.rabbitmq-headless\n"), [c]


@secret("key_pairs")
def kp_akamai_edgerc():
    host = "akab-%s-%s.luna.akamaiapis.net" % (rs(16, LOAL), rs(16, LOAL))
    ct = "akab-%s-%s" % (rs(16, LOAL), rs(16, LOAL))
    at = "akab-%s-%s" % (rs(16, LOAL), rs(16, LOAL))
    cs = b64e(rbytes(32))
    return (run_line("cat ~/.edgerc") + "[default]\nclient_secret = %s\nhost = %s\naccess_token = %s\nclient_token = %s\n" % (cs, host, at, ct)), [cs, at]


@secret("key_pairs")
def kp_vault_approle_login_pair():
    rid = uid()
    sid = uid()
    vt = vault_token()
    return (run_line("vault write auth/approle/login role_id=%s secret_id=%s" % (rid, sid)) +
            "Key                     Value\n---                     -----\ntoken                   %s\ntoken_accessor          %s\n" % (vt, mixed(24)) +
            "token_duration          1h\ntoken_renewable         true\ntoken_policies          [\"default\" \"%s\"]\n" % svc()), [sid, vt]


@secret("provider_near_value")
def pv_pagerduty_routing_key():
    k = hx(32)
    return ("# alertmanager receivers (excerpt)\n  - name: pagerduty-critical\n    pagerduty_configs:\n      # routing_key: Events API v2 integration key from the PagerDuty service\n"
            "      - routing_key: %s\n        severity: critical\n        description: '{{ .CommonAnnotations.summary }}'\n" % k), [k]


# ================================================================= long texts (2.5 - 4 KB), always scheduled
@clean("infra_ids")
def in_tf_plan_large():
    a, r, n = acct(), region(), svc()
    nn = n.replace("-", "_")
    sg, sub1, sub2, k = ec2_id("sg"), ec2_id("subnet"), ec2_id("subnet"), uid()
    return (run_line("terraform plan -no-color | sed -n '/will be/,$p'") +
            "  # aws_db_instance.%s will be created\n  + resource \"aws_db_instance\" \"%s\" {\n" % (nn, nn) +
            "      + address                               = (known after apply)\n      + allocated_storage                     = 100\n"
            "      + arn                                   = (known after apply)\n      + db_subnet_group_name                  = \"%s-db\"\n" % n +
            "      + endpoint                              = (known after apply)\n      + engine                                = \"postgres\"\n"
            "      + engine_version                        = \"16.4\"\n      + id                                    = (known after apply)\n"
            "      + identifier                            = \"%s-prod\"\n      + instance_class                        = \"db.r6g.large\"\n" % n +
            "      + kms_key_id                            = \"arn:aws:kms:%s:%s:key/%s\"\n" % (r, a, k) +
            "      + manage_master_user_password           = true\n      + master_user_secret                    = (known after apply)\n"
            "      + master_user_secret_kms_key_id         = \"arn:aws:kms:%s:%s:key/%s\"\n" % (r, a, k) +
            "      + password                              = (sensitive value)\n      + storage_encrypted                     = true\n"
            "      + username                              = \"app_admin\"\n      + vpc_security_group_ids                = [\n          + \"%s\",\n        ]\n    }\n\n" % sg +
            "  # aws_secretsmanager_secret.%s_api will be created\n  + resource \"aws_secretsmanager_secret\" \"%s_api\" {\n" % (nn, nn) +
            "      + arn                            = (known after apply)\n      + id                             = (known after apply)\n"
            "      + kms_key_id                     = \"%s\"\n      + name                           = \"prod/%s/api\"\n" % (k, n) +
            "      + recovery_window_in_days        = 7\n      + tags_all                       = {\n          + \"service\" = \"%s\"\n        }\n    }\n\n" % n +
            "  # aws_secretsmanager_secret_version.%s_api will be created\n  + resource \"aws_secretsmanager_secret_version\" \"%s_api\" {\n" % (nn, nn) +
            "      + arn            = (known after apply)\n      + id             = (known after apply)\n      + secret_id      = (known after apply)\n"
            "      + secret_string  = (sensitive value)\n      + version_id     = (known after apply)\n      + version_stages = (known after apply)\n    }\n\n"
            "  # random_password.%s_api will be created\n  + resource \"random_password\" \"%s_api\" {\n" % (nn, nn) +
            "      + bcrypt_hash = (sensitive value)\n      + id          = (known after apply)\n      + length      = 48\n      + lower       = true\n"
            "      + result      = (sensitive value)\n      + special     = false\n    }\n\n"
            "  # aws_iam_role_policy.%s_read_secret will be created\n  + resource \"aws_iam_role_policy\" \"%s_read_secret\" {\n" % (nn, nn) +
            "      + id     = (known after apply)\n      + name   = \"read-secret\"\n      + policy = jsonencode(\n            {\n"
            "              + Statement = [\n                  + {\n                      + Action   = \"secretsmanager:GetSecretValue\"\n"
            "                      + Effect   = \"Allow\"\n                      + Resource = \"arn:aws:secretsmanager:%s:%s:secret:prod/%s/*\"\n" % (r, a, n) +
            "                    },\n                ]\n              + Version   = \"2012-10-17\"\n            }\n        )\n"
            "      + role   = \"%s-task\"\n    }\n\n" % n +
            "  # aws_db_subnet_group.%s will be updated in-place\n  ~ resource \"aws_db_subnet_group\" \"%s\" {\n" % (nn, nn) +
            "        id          = \"%s-db\"\n        name        = \"%s-db\"\n      ~ subnet_ids  = [\n          + \"%s\",\n            \"%s\",\n        ]\n" % (n, n, sub1, sub2) +
            "        # (5 unchanged attributes hidden)\n    }\n\nPlan: 5 to add, 1 to change, 0 to destroy.\n\nChanges to Outputs:\n"
            "  + db_endpoint        = (known after apply)\n  + db_master_secret   = (known after apply)\n  + api_secret_arn     = (known after apply)\n")


@clean("identifiers")
def id_java_long_trace():
    p = "com.%s.%s" % (org(), svc().replace("-", ""))
    frames = ["org.springframework.security.oauth2.client.endpoint.RestClientClientCredentialsTokenResponseClient.getTokenResponse(RestClientClientCredentialsTokenResponseClient.java:%d)",
              "org.springframework.security.oauth2.client.ClientCredentialsOAuth2AuthorizedClientProvider.getTokenResponse(ClientCredentialsOAuth2AuthorizedClientProvider.java:%d)",
              "org.springframework.security.oauth2.client.ClientCredentialsOAuth2AuthorizedClientProvider.authorize(ClientCredentialsOAuth2AuthorizedClientProvider.java:%d)",
              "org.springframework.security.oauth2.client.DelegatingOAuth2AuthorizedClientProvider.authorize(DelegatingOAuth2AuthorizedClientProvider.java:%d)",
              "org.springframework.security.oauth2.client.AuthorizedClientServiceOAuth2AuthorizedClientManager.authorize(AuthorizedClientServiceOAuth2AuthorizedClientManager.java:%d)",
              p + ".client.PartnerApiTokenProvider.currentAccessToken(PartnerApiTokenProvider.java:%d)",
              p + ".client.PartnerApiTokenProvider.lambda$bearerInterceptor$0(PartnerApiTokenProvider.java:%d)",
              "org.springframework.http.client.InterceptingClientHttpRequest$InterceptingRequestExecution.execute(InterceptingClientHttpRequest.java:%d)",
              "org.springframework.http.client.InterceptingClientHttpRequest.executeInternal(InterceptingClientHttpRequest.java:%d)",
              "org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:%d)",
              p + ".client.PartnerClient.fetchOrders(PartnerClient.java:%d)",
              p + ".sync.OrderSyncJob.run(OrderSyncJob.java:%d)",
              "org.springframework.scheduling.support.ScheduledMethodRunnable.runInternal(ScheduledMethodRunnable.java:%d)",
              "io.micrometer.observation.Observation.observe(Observation.java:%d)",
              "org.springframework.scheduling.support.ScheduledMethodRunnable.run(ScheduledMethodRunnable.java:%d)",
              "java.base/java.util.concurrent.Executors$RunnableAdapter.call(Executors.java:572)",
              "java.base/java.util.concurrent.FutureTask.runAndReset(FutureTask.java:358)",
              "java.base/java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask.run(ScheduledThreadPoolExecutor.java:305)",
              "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)",
              "java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:642)",
              "java.base/java.lang.Thread.run(Thread.java:1583)"]
    out = "%s ERROR 1 --- [%s] [   scheduling-1] o.s.s.s.TaskUtils$LoggingErrorHandler     : Unexpected error occurred in scheduled task\n\n" % (ts(), svc())
    out += "org.springframework.security.oauth2.client.ClientAuthorizationException: [invalid_client] Client authentication failed: client_secret for registration 'partner' is empty\n"
    for f in frames:
        out += "\tat " + (f % rint(40, 400) if "%d" in f else f) + "\n"
    out += ("Caused by: org.springframework.security.oauth2.core.OAuth2AuthorizationException: [invalid_client] Client authentication failed\n"
            "\tat org.springframework.security.oauth2.client.http.OAuth2ErrorResponseErrorHandler.handleError(OAuth2ErrorResponseErrorHandler.java:%d)\n" % rint(40, 99) +
            "\tat org.springframework.web.client.StatusHandler.lambda$fromErrorHandler$1(StatusHandler.java:%d)\n\t... 24 common frames omitted\n\n" % rint(40, 99) +
            "# spring.security.oauth2.client.registration.partner.client-secret=${PARTNER_CLIENT_SECRET} -> unset in this pod\n")
    return out


@clean("option_docs")
def od_vault_agent_hcl_docs():
    n = svc()
    return ("# vault-agent.hcl -- annotated. Nothing in this file is a credential: the agent logs in with the\n"
            "# pod's Kubernetes service-account JWT and writes rendered secrets to tmpfs.\n\n"
            "pid_file = \"/tmp/vault-agent.pid\"\n\nvault {\n  address = \"https://vault.%s:8200\"\n" % dom() +
            "  # ca_cert: PEM bundle used to verify the server (public certificates only)\n  ca_cert = \"/vault/tls/ca.crt\"\n"
            "  # client_cert / client_key: only for TLS client auth; we use the kubernetes method instead\n  # client_cert = \"\"\n  # client_key  = \"\"\n}\n\n"
            "auto_auth {\n  # method \"kubernetes\": reads the token from token_path and exchanges it for a Vault token\n"
            "  method \"kubernetes\" {\n    mount_path = \"auth/kubernetes\"\n    config = {\n      role       = \"%s\"\n" % n +
            "      token_path = \"/var/run/secrets/kubernetes.io/serviceaccount/token\"\n    }\n  }\n\n"
            "  # sink \"file\": where the agent writes the Vault token it obtained. Keep it on tmpfs, mode 0640.\n"
            "  # Set wrap_ttl to response-wrap the token so a leaked sink file is useless after the TTL.\n"
            "  sink \"file\" {\n    wrap_ttl = \"5m\"\n    config = {\n      path = \"/home/vault/.vault-token\"\n      mode = 0640\n    }\n  }\n}\n\n"
            "cache {\n  # use_auto_auth_token = true makes the agent attach its own token to proxied requests;\n"
            "  # \"force\" also overrides a token the client sent.\n  use_auto_auth_token = true\n}\n\n"
            "listener \"tcp\" {\n  address     = \"127.0.0.1:8100\"\n  tls_disable = true\n}\n\n"
            "# template: renders secrets with consul-template syntax. {{ with secret \"...\" }} reads a path;\n"
            "# .Data.data.<field> is KV v2, .Data.<field> is KV v1 / dynamic engines.\n"
            "template {\n  destination = \"/vault/secrets/app.env\"\n  perms       = \"0400\"\n  contents    = <<EOT\n"
            "{{- with secret \"kv/data/%s/db\" }}\nDB_USER={{ .Data.data.username }}\nDB_PASSWORD={{ .Data.data.password }}\n{{- end }}\n" % n +
            "{{- with secret \"database/creds/%s-ro\" }}\nREPORTING_DB_USER={{ .Data.username }}\nREPORTING_DB_PASSWORD={{ .Data.password }}\n{{- end }}\n" % n +
            "{{- with secret \"kv/data/%s/stripe\" }}\nSTRIPE_SECRET_KEY={{ .Data.data.secret_key }}\n{{- end }}\nEOT\n" % n +
            "  # command runs after each render; the app re-reads app.env on SIGHUP\n  command = \"pkill -HUP -f /app/server\"\n}\n\n"
            "template_config {\n  # static_secret_render_interval: how often KV secrets are re-read (dynamic secrets follow their lease)\n"
            "  static_secret_render_interval = \"10m\"\n  exit_on_retry_failure         = true\n}\n")


@clean("infra_ids")
def in_openssl_x509_text():
    cn = "api." + dom()
    mod = colon_hex(257, upper=False)
    mod_lines = "\n".join("                    " + mod[i:i + 45] for i in range(0, len(mod), 45))
    sig = colon_hex(256, upper=False)
    sig_lines = "\n".join("        " + sig[i:i + 54] for i in range(0, len(sig), 54))
    return (run_line("openssl x509 -in %s.crt -noout -text" % cn.split(".")[0]) +
            "Certificate:\n    Data:\n        Version: 3 (0x2)\n        Serial Number:\n            %s\n" % colon_hex(16, upper=False) +
            "        Signature Algorithm: sha256WithRSAEncryption\n        Issuer: C=US, O=Let's Encrypt, CN=R11\n        Validity\n"
            "            Not Before: %s GMT\n            Not After : %s GMT\n        Subject: CN=%s\n" % (ts_plain(), ts_plain(), cn) +
            "        Subject Public Key Info:\n            Public Key Algorithm: rsaEncryption\n                Public-Key: (2048 bit)\n                Modulus:\n" +
            mod_lines + "\n                Exponent: 65537 (0x10001)\n        X509v3 extensions:\n"
            "            X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment\n"
            "            X509v3 Extended Key Usage: \n                TLS Web Server Authentication, TLS Web Client Authentication\n"
            "            X509v3 Basic Constraints: critical\n                CA:FALSE\n            X509v3 Subject Key Identifier: \n                %s\n" % colon_hex(20) +
            "            X509v3 Authority Key Identifier: \n                %s\n" % colon_hex(20) +
            "            Authority Information Access: \n                CA Issuers - URI:http://r11.i.lencr.org/\n"
            "            X509v3 Subject Alternative Name: \n                DNS:%s, DNS:%s\n" % (cn, "www." + dom()) +
            "            X509v3 Certificate Policies: \n                Policy: 2.23.140.1.2.1\n"
            "            CT Precertificate SCTs: \n                Signed Certificate Timestamp:\n                    Version   : v1 (0x0)\n"
            "                    Log ID    : %s\n" % colon_hex(16) + "                                %s\n" % colon_hex(16) +
            "                    Timestamp : %s GMT\n                    Extensions: none\n                    Signature : ecdsa-with-SHA256\n" % ts_plain() +
            "    Signature Algorithm: sha256WithRSAEncryption\n    Signature Value:\n" + sig_lines + "\n")


@clean("identifiers")
def id_rg_many_identifiers():
    out = run_line("rg -n --no-heading -i 'secret|token|password|credential' src/ | head -40")
    hits = ["src/auth/mod.rs:3:pub mod api_token_provider;", "src/auth/mod.rs:4:pub mod password_hasher;",
            "src/auth/mod.rs:5:pub mod secret_store;", "src/auth/api_token_provider.rs:12:pub struct ApiTokenProvider {",
            "src/auth/api_token_provider.rs:13:    store: Arc<dyn SecretStore>,",
            "src/auth/api_token_provider.rs:27:    pub async fn issue_token(&self, tenant: TenantId, scopes: &[Scope]) -> Result<IssuedToken> {",
            "src/auth/api_token_provider.rs:41:        let token_hash = Sha256::digest(secret.expose_secret().as_bytes());",
            "src/auth/api_token_provider.rs:58:    pub async fn revoke_token(&self, token_id: Uuid) -> Result<()> {",
            "src/auth/password_hasher.rs:8:pub struct PasswordHasher { params: argon2::Params }",
            "src/auth/password_hasher.rs:19:    pub fn hash_password(&self, password: &SecretString) -> Result<PasswordHash> {",
            "src/auth/password_hasher.rs:31:    pub fn verify_password(&self, password: &SecretString, hash: &PasswordHash) -> bool {",
            "src/auth/secret_store.rs:1://! SecretStore: read-through cache in front of AWS Secrets Manager.",
            "src/auth/secret_store.rs:15:pub trait SecretStore: Send + Sync {",
            "src/auth/secret_store.rs:16:    async fn get_secret(&self, name: &SecretName) -> Result<SecretString>;",
            "src/auth/secret_store.rs:17:    async fn rotate_secret(&self, name: &SecretName) -> Result<VersionId>;",
            "src/auth/secret_store.rs:44:        let resp = self.client.get_secret_value().secret_id(name.as_str()).send().await?;",
            "src/auth/secret_store.rs:52:            .secret_string()",
            "src/auth/secret_store.rs:53:            .ok_or(SecretError::NotAString(name.clone()))?;",
            "src/config.rs:22:    pub db_password_file: PathBuf,",
            "src/config.rs:23:    pub webhook_secret_name: SecretName,",
            "src/config.rs:24:    pub oauth_client_secret_name: SecretName,",
            "src/config.rs:48:        db_password_file: env_path(\"DB_PASSWORD_FILE\")?,",
            "src/config.rs:49:        webhook_secret_name: SecretName::new(env(\"WEBHOOK_SECRET_NAME\")?),",
            "src/http/middleware.rs:30:    let Some(token) = bearer_token(&req) else { return Err(AuthError::MissingToken) };",
            "src/http/middleware.rs:31:    let claims = verifier.verify(token).map_err(|_| AuthError::InvalidToken)?;",
            "src/http/webhooks.rs:17:    let secret = state.secrets.get_secret(&state.cfg.webhook_secret_name).await?;",
            "src/http/webhooks.rs:18:    verify_signature(&secret, &headers, &body)?;",
            "src/main.rs:34:    let secrets = CachedSecretStore::new(aws_sdk_secretsmanager::Client::new(&aws_cfg), Duration::from_secs(300));",
            "src/tests/tokens.rs:9:fn test_rotate_api_key_invalidates_old_token() {",
            "src/tests/tokens.rs:33:fn test_password_hash_uses_argon2id() {"]
    return out + "\n".join(hits) + "\n"


@clean("infra_ids")
def in_kubectl_deploy_yaml_long():
    n = svc()
    img = "%s.dkr.ecr.%s.amazonaws.com/%s" % (acct(), region(), n)
    return (run_line("kubectl get deploy %s -n prod -o yaml | yq 'del(.status)'" % n) +
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  annotations:\n    deployment.kubernetes.io/revision: \"%d\"\n" % rint(10, 200) +
            "    argocd.argoproj.io/tracking-id: %s:apps/Deployment:prod/%s\n" % (n, n) +
            "  creationTimestamp: \"%s\"\n  generation: %d\n  labels:\n    app.kubernetes.io/name: %s\n    app.kubernetes.io/version: %s\n" % (ts()[:19] + "Z", rint(10, 300), n, short_sha()) +
            "  name: %s\n  namespace: prod\n  resourceVersion: \"%d\"\n  uid: %s\nspec:\n  progressDeadlineSeconds: 600\n  replicas: 3\n" % (n, rint(10 ** 6, 10 ** 9), uid()) +
            "  revisionHistoryLimit: 10\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: %s\n  template:\n    metadata:\n      annotations:\n" % n +
            "        checksum/config: %s\n        checksum/secret: %s\n        kubectl.kubernetes.io/restartedAt: \"%s\"\n" % (hx(64), hx(64), ts()[:19] + "Z") +
            "      labels:\n        app.kubernetes.io/name: %s\n    spec:\n      containers:\n      - env:\n        - name: DB_PASSWORD\n" % n +
            "          valueFrom:\n            secretKeyRef:\n              key: password\n              name: %s-db\n        - name: STRIPE_SECRET_KEY\n" % n +
            "          valueFrom:\n            secretKeyRef:\n              key: secret_key\n              name: %s-stripe\n        - name: OTEL_EXPORTER_OTLP_ENDPOINT\n" % n +
            "          value: http://otel-collector.observability:4317\n        envFrom:\n        - secretRef:\n            name: %s-env\n" % n +
            "        image: %s@sha256:%s\n        imagePullPolicy: IfNotPresent\n        name: app\n        ports:\n        - containerPort: 8080\n" % (img, hx(64)) +
            "          name: http\n          protocol: TCP\n        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: http\n"
            "        resources:\n          limits:\n            memory: 512Mi\n          requests:\n            cpu: 250m\n            memory: 256Mi\n"
            "        volumeMounts:\n        - mountPath: /etc/%s/tls\n          name: tls\n          readOnly: true\n" % n +
            "      imagePullSecrets:\n      - name: ecr-pull\n      serviceAccountName: %s\n      volumes:\n      - name: tls\n        secret:\n" % n +
            "          defaultMode: 288\n          secretName: %s-tls\n" % n)


@secret("common_shapes")
def cs_long_ci_log_leaked_token():
    tok = pick([npm_token(), github_pat(), sonar_token(), supabase_pat()])
    def t():
        return "2026-%02d-%02dT%s.%07dZ" % (rint(1, 12), rint(1, 28), hms(), rint(0, 9999999))
    lines = ["##[group]Run actions/checkout@v4", "with:", "  repository: %s/%s" % (org(), repo()), "  token: ***", "  ssh-strict: true",
             "  persist-credentials: true", "##[endgroup]", "Syncing repository: %s/%s" % (org(), repo()),
             "[command]/usr/bin/git version", "git version 2.47.1", "Temporarily overriding HOME='/home/runner/work/_temp/%s' before making global git config changes" % uid(),
             "[command]/usr/bin/git config --global --add safe.directory /home/runner/work/%s/%s" % (repo(), repo()),
             "[command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --no-recurse-submodules --depth=1 origin +%s:refs/remotes/origin/main" % git_sha(),
             "##[group]Run ./scripts/ci/setup-registry.sh", "+ set -x", "+ REGISTRY=https://npm.pkg.%s" % dom(),
             "+ TOKEN_FILE=/home/runner/work/_temp/registry-token", "++ cat /home/runner/work/_temp/registry-token",
             "+ TOKEN=%s" % tok, "+ npm config set //npm.pkg.%s/:_authToken %s" % (dom(), tok), "+ npm whoami --registry https://npm.pkg.%s" % dom(),
             "ci-publisher", "##[endgroup]", "##[group]Run npm ci", "added %d packages, and audited %d packages in %ds" % (rint(500, 1500), rint(500, 1500), rint(5, 60)),
             "%d packages are looking for funding" % rint(50, 200), "  run `npm fund` for details", "found 0 vulnerabilities", "##[endgroup]",
             "##[group]Run npm test", "> %s@%s test" % (repo(), ver()), "> vitest run", "", " ✓ src/auth/token.test.ts (12 tests) %dms" % rint(10, 400),
             " ✓ src/secrets/store.test.ts (8 tests) %dms" % rint(10, 400), "", " Test Files  2 passed (2)", "      Tests  20 passed (20)", "##[endgroup]"]
    return ("\n".join("%s %s" % (t(), l) for l in lines) + "\n\n(the token came from a file written by a previous step, so Actions' masking did not know about it)\n"), [tok]


@secret("key_pairs")
def kp_tf_state_show_access_key_long():
    ak, sk = aws_id(), aws_secret()
    smtp = "B" + b64e(rbytes(32))[:43]
    n = svc()
    return (run_line("terraform state show aws_iam_access_key.%s_ci" % n.replace("-", "_")) +
            "# aws_iam_access_key.%s_ci:\nresource \"aws_iam_access_key\" \"%s_ci\" {\n" % (n.replace("-", "_"), n.replace("-", "_")) +
            "    create_date                    = \"%s\"\n    encrypted_secret               = null\n" % (ts()[:19] + "Z") +
            "    encrypted_ses_smtp_password_v4 = null\n    id                             = \"%s\"\n" % ak +
            "    key_fingerprint                = null\n    pgp_key                        = null\n"
            "    secret                         = (sensitive value)\n    ses_smtp_password_v4           = (sensitive value)\n"
            "    status                         = \"Active\"\n    user                           = \"%s-ci\"\n}\n\n" % n +
            run_line("terraform state pull | jq '.resources[] | select(.type==\"aws_iam_access_key\") | .instances[0].attributes'") +
            json.dumps({"create_date": ts()[:19] + "Z", "encrypted_secret": None, "encrypted_ses_smtp_password_v4": None, "id": ak,
                        "key_fingerprint": None, "pgp_key": None, "secret": sk, "ses_smtp_password_v4": smtp,
                        "status": "Active", "user": "%s-ci" % n}, indent=2) +
            "\n\n# `state show` hides it, `state pull` does not -- the state file holds the secret in clear text.\n"), [ak, sk, smtp]


# ================================================================= schedule, validate, write
CLEAN_TARGET = {"option_docs": 110, "infra_ids": 80, "identifiers": 70, "doc_example": 40, "references": 30}
SECRET_TARGET = 120
STORED_CLEAN = 66      # clean cases stored as tool results (JSON-escaped / psql jsonb)
STORED_SECRET = 24     # secret cases stored as tool results -> family json_escaped
MIN_B, MAX_B = 200, 4096


def skeleton(t):
    t = re.sub(r"[0-9a-fA-F]{6,}", "H", t)
    t = re.sub(r"[A-Za-z0-9+/=_.~-]{12,}", "T", t)
    return re.sub(r"\d+", "0", t)


def similar(a, b):
    import difflib
    return difflib.SequenceMatcher(None, skeleton(a), skeleton(b), autojunk=False).ratio()


def blen(t):
    return len(t.encode("utf-8"))


def draw(fn, expect, prior):
    """Call a template until its text fits the size window (and, from the third use on, differs in structure)."""
    for _ in range(60):
        _CASE_PROMPT[0] = None
        _CTX.clear()
        out = fn()
        text, secrets = (out, []) if expect == "clean" else out
        if not (MIN_B <= blen(text) <= MAX_B):
            continue
        # a second use may differ only in its random values; a third or later use must also differ in structure
        if len(prior) >= 2 and sum(similar(text, p) > 0.8 for p in prior) >= 1:
            continue
        if len(prior) == 1 and text == prior[0]:
            continue
        return text, secrets
    return None


MUST = {"in_tf_plan_large", "id_java_long_trace", "od_vault_agent_hcl_docs", "in_openssl_x509_text", "id_rg_many_identifiers",
        "in_kubectl_deploy_yaml_long", "cs_long_ci_log_leaked_token", "kp_tf_state_show_access_key_long"}


def plan(entries, n):
    """Pick n (template, use#) slots: every template once (or a random subset; MUST templates always), then repeats."""
    entries = list(entries)
    R.shuffle(entries)
    entries.sort(key=lambda e: e[2] not in MUST)
    slots = [(e, 1) for e in entries]
    if len(slots) >= n:
        return slots[:n]
    extra = []
    for k in (2, 3, 4):
        extra += [(e, k) for e in entries if e[4] >= k]
    assert len(slots) + len(extra) >= n, ("not enough template capacity", entries[0][0] if entries else None, len(slots) + len(extra), n)
    return slots + extra[:n - len(slots)]


def build():
    names = [e[2] for e in REG]
    assert len(set(names)) == len(names), "duplicate template name"
    cases, seen = [], set()
    prior = defaultdict(list)

    def add(slots, expect, want):
        got = 0
        queue = list(slots)
        while queue and got < want:
            e, _k = queue.pop(0)
            fam, _, name, fn, uses = e
            if len(prior[name]) >= uses:
                continue
            r = draw(fn, expect, prior[name])
            if r is None or r[0] in seen:
                continue
            text, secrets = r
            seen.add(text)
            prior[name].append(text)
            cases.append({"family": fam, "expect": expect, "text": text, "secrets": list(secrets), "_fn": name})
            got += 1
        assert got == want, (expect, slots[0][0][0] if slots else None, got, want)

    for fam, n in CLEAN_TARGET.items():
        entries = [e for e in REG if e[0] == fam and e[1] == "clean"]
        slots = plan(entries, n)
        spare = [s for s in plan(entries, 10 ** 6)[len(slots):]] if False else []
        add(slots + [(e, 9) for e in entries if e[4] >= 2], "clean", n)
    sec_entries = [e for e in REG if e[1] == "secret"]
    add(plan(sec_entries, SECRET_TARGET) + [(e, 9) for e in sec_entries if e[4] >= 2], "secret", SECRET_TARGET)

    # store about a fifth of the cases the way tool results are stored
    def store_some(pool, k, relabel):
        R.shuffle(pool)
        done = 0
        for c in pool:
            if done == k:
                break
            multi = any("\n" in s for s in c["secrets"])
            m = PROMPT_RX.match(c["text"])
            inner = c["text"]
            if m:
                rest = inner[m.end() + 1:]
                first = inner[:m.end()]
                # a single command's output does not repeat the prompt line; keep it when the command itself holds a secret
                if rest and not PROMPT_RX.search(rest) and not re.search(r"\n\S*[$%❯] ", rest) and blen(rest) >= MIN_B \
                        and not any(x in first for x in c["secrets"]):
                    inner = rest
            for _ in range(5):
                cmd = m.group(1) if m else pick(CLEAN_CMDS)
                text, depth = store(inner, cmd, multiline_secret=multi)
                if blen(text) <= MAX_B and text not in seen:
                    break
            else:
                continue
            secrets = [esc(s, depth) for s in c["secrets"]]
            assert all(s in text for s in secrets), (c["_fn"], depth)
            seen.add(text)
            c["text"], c["secrets"], c["_stored"] = text, secrets, depth
            if relabel:
                c["family"] = "json_escaped"
            done += 1
        assert done == k, (relabel, done, k)

    store_some([c for c in cases if c["expect"] == "clean"], STORED_CLEAN, False)
    store_some([c for c in cases if c["expect"] == "secret"], STORED_SECRET, True)
    R.shuffle(cases)
    return cases


REAL_LOOKING = [re.compile(p) for p in [
    r"A(KIA|SIA)[A-Z2-7]{16}", r"gh[pousr]_[A-Za-z0-9]{30,}", r"github_pat_[A-Za-z0-9_]{40,}", r"glpat-[A-Za-z0-9_-]{20}",
    r"gl(ptt|rt|dt)-[A-Za-z0-9_-]{20,}", r"xox[abpe]-[0-9]+-", r"xapp-1-", r"[rs]k_live_[A-Za-z0-9]{10,}", r"whsec_[A-Za-z0-9+/]{20,}",
    r"sk-(proj|svcacct)-[A-Za-z0-9_-]{30,}", r"sk-ant-[a-z]+\d\d-[A-Za-z0-9_-]{20,}", r"sk-or-v1-[0-9a-f]{20,}", r"AIza[A-Za-z0-9_-]{35}",
    r"GOCSPX-[A-Za-z0-9_-]{10,}", r"\d{8,10}:AA[A-Za-z0-9_-]{30,}", r"npm_[A-Za-z0-9]{36}", r"pypi-AgEI", r"hf_[A-Za-z]{30,}",
    r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", r"hvs\.[A-Za-z0-9_-]{20,}", r"\.atlasv1\.", r"dop_v1_[0-9a-f]{64}",
    r"lin_api_[A-Za-z0-9]{20,}", r"PMAK-[0-9a-f]{24}", r"sntry[us]_", r"gsk_[A-Za-z0-9]{40,}", r"pplx-[A-Za-z0-9]{40,}",
    r"xai-[A-Za-z0-9]{60,}", r"shp(at|ss|ca|pa)_[0-9a-f]{32}", r"dckr_pat_", r"AGE-SECRET-KEY-1", r"squ_[0-9a-f]{40}",
    r"pscale_(pw|tkn)_", r"rnd_[A-Za-z0-9]{30,}", r"xkeysib-[0-9a-f]{64}", r"pat-na1-[0-9a-f]{8}-", r"NRAK-[A-Z0-9]{20,}",
    r"CFPAT-", r"figd_[A-Za-z0-9_-]{30,}", r"glsa_[A-Za-z0-9]{20,}", r"sbp_[0-9a-f]{40}", r"pul-[0-9a-f]{40}", r"tskey-auth-",
    r"dp\.st\.", r"ntn_\d{11}", r"r8_[A-Za-z0-9]{30,}", r"EAAAE[A-Za-z0-9_-]{40,}", r"LTAI[A-Za-z0-9]{16,}", r"AKID[A-Za-z0-9]{30,}",
    r"GOOG1E[A-Z0-9]{40,}", r"DO00[A-Z0-9]{16}", r"[A-Za-z0-9]{3}8Q~[A-Za-z0-9~._-]{30,}", r"\bre_[A-Za-z0-9]{8}_[A-Za-z0-9]{20,}",
    r"pat[A-Za-z0-9]{14}\.[0-9a-f]{64}", r"GHSAT0", r"\bK00[A-Za-z0-9]{28}", r"phx_[A-Za-z0-9]{30,}", r"\bsk_[0-9a-f]{48}\b",
    r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----\s*\n\s*[A-Za-z0-9+/]{40,}", r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}",
    r"discord(app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{40,}", r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}",
    r"(?i)authorization:\s*basic\s+[A-Za-z0-9+/]{12,}=*", r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{24,}",
    r"(?i)(?<![\w-])(password|passwd|pwd|secret|token|api_?key)\s*[:=]\s*['\"]?(?=[A-Za-z0-9!#%*+^~_-]*[0-9])(?=[A-Za-z0-9!#%*+^~_-]*[A-Z])"
    r"(?=[A-Za-z0-9!#%*+^~_-]*[a-z])[A-Za-z0-9!#%*+^~_-]{14,}(?![A-Za-z0-9!#%*+^~_./:(-])",
]]
ALLOWED_IN_CLEAN = [AWS_EX_ID, AWS_EX_SECRET, AWS_EX_ID2, AWS_EX_SECRET2, STRIPE_SK_DOCS, STRIPE_PK_DOCS, JWT_IO, SUPABASE_ANON,
                    SUPABASE_SERVICE, SUPABASE_DEMO_SECRET.decode(), "xoxb-not-a-real-token-this-will-not-work", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"]
FAKE_MARK = re.compile(r"(?i)example|dummy|fake|sample|placeholder|changeme|redacted|invalid|your|xxxx|XXXX|0000|mock|test|REPLACE")


def validate(cases):
    problems = []
    all_secrets = [s for c in cases for s in c["secrets"]]
    ids_texts = set()
    for c in cases:
        assert c["expect"] in ("secret", "clean")
        assert (c["expect"] == "secret") == bool(c["secrets"]), c["_fn"]
        assert c["text"] not in ids_texts, c["_fn"]
        ids_texts.add(c["text"])
        assert MIN_B <= blen(c["text"]) <= MAX_B, (c["_fn"], blen(c["text"]))
        assert not re.search(r"@@[A-Za-z0-9_]+@@", c["text"]), c["_fn"]
        if c["expect"] == "clean":
            for rx in REAL_LOOKING:
                for m in rx.finditer(c["text"]):
                    g = m.group(0)
                    if any(a in g or g in a for a in ALLOWED_IN_CLEAN) or FAKE_MARK.search(g):
                        continue
                    before = c["text"][max(0, m.start() - 80):m.start()]
                    if re.search(r"arn:aws:[a-z-]+:[a-z0-9-]*:\d{12}:$", before):     # a secret's ARN, not its value
                        continue
                    if before.endswith("checksum/") and re.fullmatch(r"secret:\s*[0-9a-f]{64}", g):   # config digest
                        continue
                    problems.append((c["_fn"], g[:70]))
            for s in all_secrets:
                if s in c["text"]:
                    problems.append((c["_fn"], "secret of another case: " + s[:20]))
        else:
            assert len(set(c["secrets"])) == len(c["secrets"]), c["_fn"]
            for s in c["secrets"]:
                assert isinstance(s, str) and len(s) >= 8 and s in c["text"], (c["_fn"], s[:40])
                assert not any(a in s for a in ALLOWED_IN_CLEAN), c["_fn"]
    assert not problems, "\n".join(map(str, problems))
    return len(all_secrets)


def main():
    cases = build()
    n_secrets = validate(cases)
    out = sys.stdout.buffer
    for i, c in enumerate(cases, 1):
        rec = {"id": "t7-%04d" % i, "family": c["family"], "expect": c["expect"], "text": c["text"], "secrets": c["secrets"]}
        out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    counts = Counter((c["family"], c["expect"]) for c in cases)
    used = Counter(c["_fn"] for c in cases)
    stored = Counter((c["expect"], c.get("_stored", 0)) for c in cases)
    print("wrote %d cases (%d secret, %d clean), %d listed secrets; %d templates registered, %d used, max uses %d" % (
        len(cases), sum(c["expect"] == "secret" for c in cases), sum(c["expect"] == "clean" for c in cases), n_secrets,
        len(REG), len(used), max(used.values())), file=sys.stderr)
    for (fam, exp), n in sorted(counts.items(), key=lambda x: (x[0][1], x[0][0])):
        print("  %-20s %-6s %3d" % (fam, exp, n), file=sys.stderr)
    print("  stored as tool results: clean %d, secret %d (escape depth 1: %d, 2: %d)" % (
        sum(n for (e, d), n in stored.items() if e == "clean" and d), sum(n for (e, d), n in stored.items() if e == "secret" and d),
        sum(n for (e, d), n in stored.items() if d == 1), sum(n for (e, d), n in stored.items() if d == 2)), file=sys.stderr)
    sizes = sorted(blen(c["text"]) for c in cases)
    print("  text size: min %d, median %d, max %d bytes" % (sizes[0], sizes[len(sizes) // 2], sizes[-1]), file=sys.stderr)
    print("validation: sizes in range; every secret occurs verbatim; no duplicate texts; no real-looking credential shape "
          "or other case's secret in any clean text", file=sys.stderr)


if __name__ == "__main__":
    main()
