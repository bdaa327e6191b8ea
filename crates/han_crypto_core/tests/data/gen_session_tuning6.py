#!/usr/bin/env python3
"""Generate session_tuning6.jsonl: a sixth tuning set for the secret-redaction engine.

Each line: {"id": "t6-NNNN", "family", "expect": "secret"|"clean", "text", "secrets": [...]}.

How this was written (blind).  Every template below was written from general knowledge of
what AI coding-session text looks like: agent tool-result JSON from several harnesses,
jsonb rows printed by psql, terminal transcripts, diffs, stack traces, compiler and test
output, chat prose, markdown, config files, --help output and man pages, infrastructure
tool output (terraform, kubectl, cloud CLIs, docker, git, databases), lock files and
checksums, and code in Rust, Go, TypeScript, Python, Java, C#, Kotlin, Swift, Ruby, PHP,
shell and others.  The author read docs/REDACTION.md only for the list of families,
gen_session_tuning5.py for the JSONL format and labelling conventions (copied below), and
only the template NAMES of gen_session_tuning.py/2/3/4/5 so as not to repeat their
templates, vendors and phrasings.  The author did NOT open the held-out set
(session_heldout.jsonl / gen_session_heldout.py), did NOT read any of the engine's Rust
source, and did NOT run the engine, cargo or any build on this output: no template was
shaped to the engine's rules or tuned against its findings.

About half the cases are clean.  Roughly a third of the secret cases are deliberately hard
(a secret in an unusual but realistic place: two escape levels deep, inside a diff, a
positional argument, a URL path, a spreadsheet paste, a stack trace), and the clean cases
are hard negatives: text full of secret words and key-looking strings that hold nothing
secret.  About a fifth of the clean cases are stored the way tool results are (JSON-escaped
inside an agent-harness record or a psql-printed jsonb row), which must also stay unchanged.

Families (the product spec's bullets):
  secret -- json_escaped        secrets inside JSON-escaped strings (tool results, jsonb):
                                escaped PEM bodies, KEY=value after \\n, \\" quotes
            key_pairs           ID and SECRET side by side outside an assignment
                                (ID:SECRET, (ID / SECRET), constructor / positional args)
            provider_near_value a key-shaped value beside a provider's name or a secret
                                word, whatever separates them; YAML/JSON keys named after
                                a provider or ending in _key/_secret/_token
            url_keys            keys in URL paths and query strings, webhooks, signatures
            code_constants      hex/base64 key constants whose name says key/secret/token/salt
            common_shapes       .env files, connection strings, Authorization headers,
                                --password/-p, docker login, kubectl create secret,
                                well-known token prefixes in varied surroundings
  clean  -- doc_example         vendor-published examples and visibly made-up values
            references          ciphertexts and references to secret stores / templates
            option_docs         --help, man pages, usage strings, config comments
            identifiers         type/function/test/path/field names containing secret words
            infra_ids           resource ids, ARNs, request ids, hashes, digests, UUIDs

Secrets.  Every secret is drawn from a seeded PRNG (SEED below) using the alphabet, length
and prefix of the format it imitates; none of them is, or ever was, a real credential.
Labelling conventions (as in gen_session_tuning5.py):
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
    constant hard-coded in source under a name saying salt is listed, as the brief asks).
  * webhook URLs: the secret path segment or token is listed, not the whole URL.
A secret case only requires that every listed secret disappears; other redactions in it
are not counted.  A clean case counts as a false positive if anything in it changes.

Clean cases.  Values in clean cases are ids, hashes, digests, metavariables, placeholders,
ciphertexts, secret-store references, public certificates, or values vendors publish in
their documentation (AWS ...EXAMPLE keys, Stripe's published test key, the jwt.io sample
token, Sentry's examplePublicKey DSN).  When in doubt whether something is a secret, the
case was left out.

Each template is used at most once; each family has at least as many templates as cases
(MUST templates -- the shapes the brief names explicitly -- always, the rest drawn with the
fixed seed), and each template draws names, hosts, values and some of its ordering and
formatting from the PRNG.

Run (from this folder):  python3 gen_session_tuning6.py > session_tuning6.jsonl
The output is deterministic; a summary and validation go to stderr.
"""
import base64
import hashlib
import json
import random
import re
import string
import sys
import uuid
from collections import Counter
from urllib.parse import quote

SEED = 20270311
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
PWCH = ALNUM + "!#%*-_.+@^~"
WORDS = ["amber", "basalt", "cinder", "delta", "ember", "falcon", "glacier", "harbor", "iris", "juniper", "kelp",
         "lantern", "meadow", "nimbus", "orchid", "pebble", "quartz", "raven", "saffron", "thistle", "vortex", "walnut"]


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
        if n < 4 or (sum(c in "abcdef" for c in s) >= 2 and sum(c in DG for c in s) >= 2):
            return s


def HX(n):
    return hx(n).upper()


def pick(xs):
    return R.choice(xs)


def rint(a, b):
    return R.randint(a, b)


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def b64e(b):
    return base64.b64encode(b).decode()


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def uid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def jesc(s):
    """s as it appears inside a JSON string literal."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


def esc(s, depth):
    for _ in range(depth):
        s = jesc(s)
    return s


def fill(_tpl, **kw):
    for k, v in kw.items():
        _tpl = _tpl.replace("@@" + k + "@@", str(v))
    assert not re.search(r"@@[A-Za-z0-9_]+@@", _tpl), _tpl
    return _tpl


def wrap(s, w=64):
    return "\n".join(s[i:i + w] for i in range(0, len(s), w))


def date(y=2026):
    return "%d-%02d-%02d" % (y, rint(1, 12), rint(1, 28))


def hms():
    return "%02d:%02d:%02d" % (rint(0, 23), rint(0, 59), rint(0, 59))


def ts():
    return "%sT%s.%03dZ" % (date(), hms(), rint(0, 999))


def epoch():
    return rint(1767000000, 1798000000)


def epoch_ms():
    return epoch() * 1000 + rint(0, 999)


def acct():
    return str(rint(100000000000, 999999999999))


def ver():
    return "%d.%d.%d" % (rint(1, 9), rint(0, 30), rint(0, 15))


def short_sha():
    return hx(7)


def git_sha():
    return hx(40)


def sha256_of(x):
    return hashlib.sha256(x if isinstance(x, bytes) else x.encode()).hexdigest()


def sri(alg="sha512", n=64):
    return "%s-%s" % (alg, b64e(rbytes(n)))


REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-west-3", "eu-central-1", "ap-northeast-1",
           "ap-southeast-1", "ca-central-1", "sa-east-1"]
SERVICES = ["ledger", "notifier", "thumbnailer", "geo-api", "search", "billing-worker", "auth-gateway", "exporter",
            "catalog", "feature-flags", "ingestor", "checkout-api"]
USERS = ["marta", "deploy", "kenji", "ci-runner", "svc_reports", "olu", "priya", "ops", "appuser", "etl", "grafana"]
ORGS = ["fernhollow", "lumenark", "tidewater", "copperleaf", "arrowmere", "brightfjord", "saltmarsh", "nightjar",
        "ironbark", "wavecrest"]
REPOS = ["platform", "web", "api", "mobile-app", "terraform-live", "etl-jobs", "storefront", "internal-tools", "core"]
NAMES = ["Marta Silva", "Kenji Watanabe", "Olu Adeyemi", "Priya Raman", "Jonas Berg", "Lucía Ortega", "Amir Haddad",
         "Freya Lund"]
BUCKETS = ["media-originals", "tenant-exports", "ci-artifacts", "raw-events", "db-snapshots", "public-assets"]
HOSTS = ["db-main.internal", "10.20.3.14", "pg-replica.stage.lan", "mysql-0.mysql.data.svc", "172.31.44.9",
         "postgres.prod.internal"]
DBS = ["shop", "events", "app_prod", "payments", "warehouse", "tenants", "core"]
TLDS = ["io", "dev", "app", "net", "co", "tech"]


def org():
    return pick(ORGS)


def dom():
    return "%s.%s" % (org(), pick(TLDS))


def email():
    return "%s@%s" % (pick(USERS).replace("_", "."), dom())


def person():
    return pick(NAMES)


def user():
    return pick(USERS)


def svc():
    return pick(SERVICES)


def host():
    return pick(HOSTS)


def db():
    return pick(DBS)


def repo():
    return pick(REPOS)


def region():
    return pick(REGIONS)


def prompt():
    return pick(["$ ", "% ", "➜  %s git:(main) " % repo(), "%s@%s:~/%s$ " % (user(), pick(["devbox", "jump", "air"]), repo()),
                 "PS C:\\src\\%s> " % repo()])


def sh_prompt():
    return pick(["$ ", "% ", "➜  %s git:(main) " % repo(), "%s@%s:~/%s$ " % (user(), pick(["devbox", "jump", "air"]), repo())])


# ---------------------------------------------------------------- secret shapes
def aws_id(p="AKIA"):
    return p + rs(16, B32)


def aws_secret():
    return mixed(40, ALNUM + "+/")


def sts_token():
    return "IQoJb3JpZ2luX2Vj" + mixed(rint(300, 360), ALNUM + "+/") + pick(["=", "=="])


def password(n=None, a=PWCH):
    n = n or rint(14, 22)
    while True:
        s = mixed(n, a)
        if a != PWCH or any(c in "!#%*-_.+@^~" for c in s):
            return s


def shellpw(n=None):
    """A password safe inside single quotes and URLs without escaping."""
    return password(n, ALNUM + "-_.~!*")


def urlpw(n=None):
    return password(n, ALNUM + "-_.~")


def passphrase(k=4, sep="-"):
    return sep.join(R.sample(WORDS, k))


def jwt(claims=None, alg="HS256", kid=None):
    h = {"alg": alg, "typ": "JWT"}
    if kid:
        h["kid"] = kid
    hh = b64u(json.dumps(h, separators=(",", ":")).encode())
    now = epoch()
    c = {"iat": now, "exp": now + pick([900, 3600, 86400, 2592000])}
    if claims:
        c.update(claims)
    p = b64u(json.dumps(c, separators=(",", ":")).encode())
    return hh + "." + p + "." + rs(43 if alg.startswith("HS") else 342, B64URL)


def pem_block(label, der, width=64):
    return "-----BEGIN %s-----\n%s\n-----END %s-----" % (label, wrap(b64e(der), width), label)


def pem_body(pem):
    return "\n".join(pem.split("\n")[1:-1])


def rsa_pem():
    return pem_block("RSA PRIVATE KEY", bytes.fromhex("308204a30201000282010100") + rbytes(1179))


def pkcs8_pem():
    pre = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7308204a30201000282010100")
    return pem_block("PRIVATE KEY", pre + rbytes(1167))


def ec_pem():
    der = (bytes.fromhex("30770201010420") + rbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a14403420004")
           + rbytes(64))
    return pem_block("EC PRIVATE KEY", der)


def p8_pem():
    der = bytes.fromhex("308193020100301306072a8648ce3d020106082a8648ce3d030107047930770201010420") + rbytes(32) + \
        bytes.fromhex("a00a06082a8648ce3d030107a14403420004") + rbytes(64)
    return pem_block("PRIVATE KEY", der)


def openssh_pem():
    raw = b"openssh-key-v1\x00" + bytes.fromhex("0000000a6165733235362d63747200000006626372797074") + rbytes(380)
    return pem_block("OPENSSH PRIVATE KEY", raw, 70)


def ghp():
    return "ghp_" + mixed(36)


def gho():
    return "gho_" + mixed(36)


def ghs():
    return "ghs_" + mixed(36)


def github_pat():
    return "github_pat_11" + mixed(20, UPAL) + "_" + mixed(59)


def glpat():
    return "glpat-" + mixed(20, ALNUM + "-_")


def xoxb():
    return "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 12, 10 ** 13), mixed(24))


def xoxp():
    return "xoxp-%d-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 10, 10 ** 12), rint(10 ** 12, 10 ** 13), hx(32))


def xapp():
    return "xapp-1-A%s-%d-%s" % (rs(10, UPAL), rint(10 ** 12, 10 ** 13), hx(64))


def stripe_live(p="sk_live_"):
    return p + "51" + mixed(22) + mixed(75)


def whsec():
    return "whsec_" + mixed(32)


def openai_proj():
    return "sk-proj-" + mixed(74, ALNUM + "-_") + "T3BlbkFJ" + mixed(74, ALNUM + "-_")


def anthropic_key():
    return "sk-ant-api03-" + mixed(93, ALNUM + "-_") + "AA"


def google_api_key():
    return "AIza" + mixed(35, B64URL)


def gocspx():
    return "GOCSPX-" + mixed(28, B64URL)


def google_refresh():
    return "1//0" + mixed(rint(96, 104), B64URL)


def ya29():
    return "ya29.a0" + mixed(rint(170, 200), B64URL)


def telegram():
    return "%d:AA%s" % (rint(10 ** 9, 8 * 10 ** 9), mixed(33, B64URL))


def discord_bot():
    return b64u(str(rint(10 ** 17, 10 ** 18)).encode()) + "." + mixed(6, B64URL) + "." + mixed(38, B64URL)


def npm_token():
    return "npm_" + mixed(36)


def pypi_token():
    return "pypi-AgEIcHlwaS5vcmcCJ" + mixed(rint(120, 150), B64URL)


def hf_token():
    return "hf_" + mixed(34, UP + LO)


def sendgrid():
    return "SG." + mixed(22, B64URL) + "." + mixed(43, B64URL)


def vault_token():
    return "hvs.CAESI" + mixed(rint(80, 95), B64URL)


def tfc_token():
    return mixed(14) + ".atlasv1." + mixed(67)


def dd_api():
    return hx(32)


def dd_app():
    return hx(40)


def okta_ssws():
    return "00" + mixed(40, ALNUM + "-_")


def atlassian_token():
    return "ATATT3xFfGF0" + mixed(170, B64URL) + "=" + HX(8)


def azure_ad_secret():
    return mixed(3) + "8Q~" + mixed(34, ALNUM + "~._-")


def azure_storage_key():
    return mixed(86, ALNUM + "+/") + "=="


def ali_id():
    return "LTAI5t" + mixed(18)


def ali_secret():
    return mixed(30)


def tc_id():
    return "AKID" + mixed(32)


def basic(u, p):
    return b64e(("%s:%s" % (u, p)).encode())


def wg_key():
    return b64e(rbytes(32))


# ---------------------------------------------------------------- agent-harness wrappers (JSON)
def toolu():
    return "toolu_01" + rs(22)


def call_id():
    return "call_" + rs(24)


def wrap_tool(inner, cmd, kind=None):
    """Serialise a tool result the way one of several harnesses stores it; returns (text, escape depth)."""
    kind = pick(range(12)) if kind is None else kind
    if kind == 0:   # Gemini-CLI style functionResponse
        out = "Command: %s\nDirectory: (root)\nStdout: %s\nStderr: (empty)\nError: (none)\nExit Code: 0\nSignal: (none)" % (
            cmd, inner)
        d = {"role": "user", "parts": [{"functionResponse": {"id": "run_shell_command-%d-%s" % (epoch_ms(), hx(12)),
                                                              "name": "run_shell_command", "response": {"output": out}}}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 1:   # OpenHands-style observation event
        d = {"id": rint(20, 400), "timestamp": ts()[:-1], "source": "environment", "message": "Command `%s` executed." % cmd[:40],
             "observation": "run", "content": inner,
             "extras": {"command": cmd, "metadata": {"exit_code": 0, "pid": -1, "username": "openhands",
                                                     "hostname": hx(12), "working_dir": "/workspace/" + repo(),
                                                     "prefix": "", "suffix": "\n[The command completed with exit code 0.]"},
                        "hidden": False}, "success": True}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 2:   # Cline-style ui message
        d = {"ts": epoch_ms(), "type": "say", "say": "command_output", "text": inner, "conversationHistoryIndex": rint(3, 90)}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 3:   # Bedrock Converse toolResult block
        d = {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_" + mixed(22, B64URL),
                                                          "content": [{"text": inner}], "status": "success"}}]}
        return json.dumps(d, ensure_ascii=False, indent=2), 1
    if kind == 4:   # Responses-API input item whose output is itself JSON
        d = {"type": "function_call_output", "call_id": call_id(),
             "output": json.dumps({"stdout": inner, "stderr": "", "exit_code": 0}, ensure_ascii=False)}
        return json.dumps(d, ensure_ascii=False), 2
    if kind == 5:   # goose-style toolResponse
        d = {"role": "user", "created": epoch(), "content": [{"type": "toolResponse", "id": toolu(),
                                                              "toolResult": {"status": "success",
                                                                             "value": [{"type": "text", "text": inner}]}}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 6:   # SWE-agent-style trajectory step
        d = {"action": cmd, "observation": inner, "thought": "Let me look at the output first.",
             "execution_time": round(R.random() * 3, 3), "state": json.dumps({"working_dir": "/repo"})}
        return json.dumps(d, ensure_ascii=False, indent=2), 1
    if kind == 7:   # observability export (trace observation)
        d = {"id": uid(), "traceId": uid(), "type": "SPAN", "name": "tool.%s" % pick(["bash", "shell", "exec"]),
             "startTime": ts(), "input": {"command": cmd}, "output": inner, "level": "DEFAULT"}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 8:   # assistants-style run step
        d = {"id": "step_" + rs(24), "object": "thread.run.step", "type": "tool_calls",
             "step_details": {"type": "tool_calls", "tool_calls": [
                 {"id": call_id(), "type": "function",
                  "function": {"name": "run_command", "arguments": json.dumps({"cmd": cmd}), "output": inner}}]}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 9:   # application debug log whose payload is a JSON string
        d = {"level": "debug", "ts": ts(), "logger": "agent.tools", "msg": "tool finished",
             "payload": json.dumps({"tool": "bash", "content": inner, "truncated": False}, ensure_ascii=False)}
        return json.dumps(d, ensure_ascii=False), 2
    if kind == 10:  # Continue-style session history
        d = {"sessionId": uid(), "title": "Debug %s" % svc(), "history": [
            {"message": {"role": "assistant", "content": "", "toolCalls": [
                {"id": toolu(), "type": "function", "function": {"name": "run_terminal_command",
                                                                 "arguments": json.dumps({"command": cmd})}}]}},
            {"message": {"role": "tool", "content": inner, "toolCallId": toolu()}}]}
        return json.dumps(d, ensure_ascii=False), 1
    # psql printing a jsonb column that holds the tool result
    doc = json.dumps({"tool": "bash", "cmd": cmd, "result": inner}, ensure_ascii=False)
    doc = doc.replace('", "', '", "')
    return "%s=> SELECT payload FROM agent_events WHERE id = %d;\n payload\n%s\n %s\n(1 row)" % (
        db(), rint(1000, 90000), "-" * 40, doc), 1


def jcase(inner_fn, kinds=None):
    """inner_fn returns (command, tool output, secrets as they occur in the output)."""
    def f():
        cmd, inner, secrets = inner_fn()
        text, depth = wrap_tool(inner, cmd, pick(kinds) if kinds else None)
        return text, [esc(s, depth) for s in secrets]
    f.__name__ = inner_fn.__name__.lstrip("_")
    return f


# ================================================================ SECRET: json_escaped
def sa_json(pk_pem, project=None, indent=2):
    project = project or "%s-%s-%d" % (org(), pick(["prod", "data", "ml"]), rint(100, 999))
    name = pick(["terraform", "bq-loader", "gke-deployer", "firebase-adminsdk-" + rs(5, LO)])
    d = {"type": "service_account", "project_id": project, "private_key_id": hx(40), "private_key": pk_pem + "\n",
         "client_email": "%s@%s.iam.gserviceaccount.com" % (name, project), "client_id": str(rint(10 ** 20, 10 ** 21)),
         "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
         "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
         "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/%s%%40%s.iam.gserviceaccount.com" % (
             name, project), "universe_domain": "googleapis.com"}
    return json.dumps(d, indent=indent)


def je_sa_json_pasted_in_prompt():
    pem = pkcs8_pem()
    sa = sa_json(pem)
    msg = pick(["I keep getting `invalid_grant: Invalid JWT Signature` with this key, here's the file:\n\n",
                "can you wire this service account into the GitHub workflow? contents of key.json:\n\n```json\n",
                "why does google.auth say the key is malformed?\n"]) + sa + pick(["", "\n```", "\n\nthanks"])
    d = {"type": "user", "message": {"role": "user", "content": msg}, "uuid": uid(), "timestamp": ts(),
         "cwd": "/Users/%s/code/%s" % (user(), repo())}
    return json.dumps(d, ensure_ascii=False), [esc(pem_body(pem), 2)]


def _je_env_after_newline():
    s1, s2, s3 = stripe_live(), urlpw(20), mixed(64, HEX)
    inner = fill("""NODE_ENV=production
PORT=8080
DATABASE_URL=postgres://@@u@@:@@pw@@@@@h@@:5432/@@d@@?sslmode=require
STRIPE_SECRET_KEY=@@s1@@
SESSION_SECRET=@@s3@@
LOG_LEVEL=info""", u=user(), pw=s2, h=host(), d=db(), s1=s1, s3=s3)
    return "cat .env.production", inner, [s2, s1, s3]


je_env_after_newline = jcase(_je_env_after_newline)


def _je_escaped_quotes_config():
    pw, k = password(18, ALNUM + "!#%*-_"), mixed(40, B64URL)
    inner = json.dumps({"smtp": {"host": "smtp.%s" % dom(), "port": 587, "user": "noreply@%s" % dom(), "password": pw},
                        "maps": {"provider": "here", "apiKey": k}, "featureFlags": {"newCheckout": True}}, indent=2)
    return "cat config/production.json", inner, [pw, k]


je_escaped_quotes_config = jcase(_je_escaped_quotes_config)


def je_write_tool_env_local():
    k1, k2, k3 = gocspx(), mixed(43, B64) + "=", "re_" + mixed(8) + "_" + mixed(24)
    content = fill("""# generated by scripts/bootstrap.ts
NEXTAUTH_URL=http://localhost:3000
NEXTAUTH_SECRET=@@k2@@
GOOGLE_CLIENT_ID=@@cid@@.apps.googleusercontent.com
GOOGLE_CLIENT_SECRET=@@k1@@
RESEND_API_KEY=@@k3@@
""", k1=k1, k2=k2, k3=k3, cid="%d-%s" % (rint(10 ** 11, 10 ** 12), rs(32, LOAL)))
    d = {"type": "assistant", "message": {"role": "assistant", "content": [
        {"type": "text", "text": "I'll create the local env file with the values you gave me."},
        {"type": "tool_use", "id": toolu(), "name": "Write", "input": {"file_path": "/home/%s/%s/.env.local" % (user(), repo()),
                                                                      "content": content}}]}}
    return json.dumps(d, ensure_ascii=False), [esc(k1, 1), esc(k2, 1), esc(k3, 1)]


def je_edit_tool_const():
    k = b64e(rbytes(32))
    old = 'const WEBHOOK_SIGNING_KEY = process.env.WEBHOOK_SIGNING_KEY!;'
    new = 'const WEBHOOK_SIGNING_KEY = process.env.WEBHOOK_SIGNING_KEY ?? "%s";' % k
    d = {"name": "Edit", "input": {"file_path": "src/webhooks/verify.ts", "old_string": old, "new_string": new,
                                   "replace_all": False}, "id": toolu(), "type": "tool_use"}
    return json.dumps(d, ensure_ascii=False, indent=pick([None, 2])), [k]


def _je_k8s_secret_json():
    pw, tok = urlpw(24), mixed(48, B64URL)
    inner = json.dumps({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": "%s-credentials" % svc(), "namespace": pick(["prod", "default", "apps"]),
                                     "uid": uid(), "resourceVersion": str(rint(10 ** 6, 10 ** 8)),
                                     "creationTimestamp": ts()[:19] + "Z"},
                        "data": {"DB_PASSWORD": b64e(pw.encode()), "DB_USER": b64e(user().encode()),
                                 "INTERNAL_API_TOKEN": b64e(tok.encode())}}, indent=4)
    return "kubectl get secret -n prod -o json %s-credentials" % svc(), inner, [b64e(pw.encode()), b64e(tok.encode())]


je_k8s_secret_json = jcase(_je_k8s_secret_json)


def _je_docker_inspect_env():
    pw, k = shellpw(20), "SG." + mixed(22, B64URL) + "." + mixed(43, B64URL)
    inner = json.dumps([{"Id": hx(64), "Created": ts(), "Name": "/%s-1" % svc(),
                         "Config": {"Hostname": hx(12), "Env": ["POSTGRES_PASSWORD=" + pw, "SENDGRID_API_KEY=" + k,
                                                               "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
                                                               "LANG=C.UTF-8"],
                                    "Image": "ghcr.io/%s/%s:%s" % (org(), svc(), short_sha())}}], indent=4)
    return "docker inspect %s-1" % svc(), inner, [pw, k]


je_docker_inspect_env = jcase(_je_docker_inspect_env)


def _je_firebase_env_string():
    pem = pkcs8_pem()
    sa = sa_json(pem, indent=None)
    inner = "NEXT_PUBLIC_FIREBASE_PROJECT_ID=%s\nFIREBASE_SERVICE_ACCOUNT='%s'\n" % (json.loads(sa)["project_id"], sa)
    return "cat apps/web/.env", inner, [esc(pem_body(pem), 1)]


je_firebase_env_string = jcase(_je_firebase_env_string)


def _je_probot_env_pem():
    pem = rsa_pem()
    sec = hx(40)
    inner = "APP_ID=%d\nWEBHOOK_SECRET=%s\nPRIVATE_KEY=\"%s\"\nLOG_LEVEL=debug\n" % (
        rint(100000, 999999), sec, pem.replace("\n", "\\n"))
    return "cat .env", inner, [sec, esc(pem_body(pem), 1)]


je_probot_env_pem = jcase(_je_probot_env_pem)


def je_curl_body_in_tool_use():
    k = "lin_api_" + mixed(40)
    cmd = ('curl -s https://api.linear.app/graphql -H "Content-Type: application/json" '
           '-H "Authorization: %s" -d "{\\"query\\": \\"{ viewer { id name } }\\"}"' % k)
    d = {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id(), "type": "function", "function": {"name": "shell", "arguments": json.dumps({"command": cmd})}}]}
    return json.dumps(d, ensure_ascii=False), [k]


def je_jsonb_insert_sql():
    w, k = whsec(), mixed(32, LOAL)
    sql = ("INSERT INTO integrations (tenant_id, kind, config) VALUES (%d, 'billing', "
           "'{\"webhook_secret\": \"%s\", \"api_key\": \"%s\", \"mode\": \"live\"}'::jsonb);" % (rint(10, 999), w, k))
    d = {"type": "tool_use", "id": toolu(), "name": "mcp__postgres__query", "input": {"sql": sql}}
    return json.dumps(d, ensure_ascii=False), [w, k]


def _je_log_connection_string():
    pw = password(16, ALNUM + "!#%*-_")
    line = json.dumps({"@t": ts(), "@l": "Error", "@mt": "Failed to open connection {ConnectionString}",
                       "ConnectionString": "Server=tcp:%s-sql.database.windows.net,1433;Initial Catalog=%s;User ID=%s;Password=%s;Encrypt=True;" % (
                           org(), db(), user(), pw), "SourceContext": "Microsoft.EntityFrameworkCore.Database.Connection"})
    inner = "\n".join([json.dumps({"@t": ts(), "@l": "Information", "@mt": "Now listening on: {address}",
                                   "address": "http://[::]:8080"}), line])
    return "kubectl logs deploy/%s --tail=2" % svc(), inner, [esc(pw, 1)]


je_log_connection_string = jcase(_je_log_connection_string)


def _je_apns_p8_config():
    pem = p8_pem()
    inner = json.dumps({"apns": {"keyId": rs(10, UPAL), "teamId": rs(10, UPAL), "topic": "com.%s.app" % org(),
                                 "production": True, "key": pem + "\n"}}, indent=2)
    return "cat push/config.prod.json", inner, [esc(pem_body(pem), 1)]


je_apns_p8_config = jcase(_je_apns_p8_config)


def _je_terraform_output_sensitive():
    pem = openssh_pem()
    inner = json.dumps({"bastion_ip": {"sensitive": False, "type": "string", "value": "52.%d.%d.%d" % (
        rint(1, 250), rint(1, 250), rint(1, 250))},
                        "deploy_private_key": {"sensitive": True, "type": "string", "value": pem + "\n"}}, indent=2)
    return "terraform output -json", inner, [esc(pem_body(pem), 1)]


je_terraform_output_sensitive = jcase(_je_terraform_output_sensitive)


def _je_mcp_postgres_args():
    pw = urlpw(22)
    inner = json.dumps({"mcpServers": {"postgres": {"command": "npx", "args": [
        "-y", "@modelcontextprotocol/server-postgres",
        "postgresql://%s:%s@%s:5432/%s" % (user(), pw, host(), db())]},
        "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv/%s" % repo()]}}},
        indent=2)
    return "cat .mcp.json", inner, [pw]


je_mcp_postgres_args = jcase(_je_mcp_postgres_args)


def _je_git_remote_v():
    t = ghs()
    o, r = org(), repo()
    inner = "origin\thttps://x-access-token:%s@github.com/%s/%s.git (fetch)\norigin\thttps://x-access-token:%s@github.com/%s/%s.git (push)" % (
        t, o, r, t, o, r)
    return "git remote -v", inner, [t]


je_git_remote_v = jcase(_je_git_remote_v)


def je_ipynb_cohere():
    k = mixed(40)
    nb = {"cells": [{"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [],
                     "source": ["import cohere\n", "\n", "co = cohere.ClientV2(api_key=\"%s\")\n" % k,
                                "resp = co.embed(texts=docs, model=\"embed-v4.0\", input_type=\"search_document\")"]}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1), [k]


def _je_lambda_env():
    k, pw = stripe_live("rk_live_"), urlpw(18)
    inner = json.dumps({"FunctionName": "%s-handler" % svc(), "Runtime": "nodejs20.x",
                        "Role": "arn:aws:iam::%s:role/%s-lambda" % (acct(), svc()), "Handler": "index.handler",
                        "CodeSha256": b64e(rbytes(32)), "Version": "$LATEST",
                        "Environment": {"Variables": {"STRIPE_RESTRICTED_KEY": k, "PGPASSWORD": pw, "PGHOST": host()}},
                        "RevisionId": uid()}, indent=4)
    return "aws lambda get-function-configuration --function-name %s-handler" % svc(), inner, [k, pw]


je_lambda_env = jcase(_je_lambda_env)


def _je_ecs_task_definition_env():
    pw, k = urlpw(20), dd_api()
    inner = json.dumps({"taskDefinition": {"family": svc(), "revision": rint(3, 90), "containerDefinitions": [
        {"name": "app", "image": "%s.dkr.ecr.%s.amazonaws.com/%s:%s" % (acct(), region(), svc(), short_sha()),
         "environment": [{"name": "DB_HOST", "value": host()}, {"name": "DB_PASSWORD", "value": pw},
                         {"name": "DD_API_KEY", "value": k}]}]}}, indent=2)
    return "aws ecs describe-task-definition --task-definition %s" % svc(), inner, [pw, k]


je_ecs_task_definition_env = jcase(_je_ecs_task_definition_env)


def _je_az_appsettings():
    k = azure_storage_key()
    acc = org().replace("-", "") + "store"
    inner = json.dumps([{"name": "WEBSITE_RUN_FROM_PACKAGE", "slotSetting": False, "value": "1"},
                        {"name": "StorageConnection", "slotSetting": False,
                         "value": "DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acc, k)}],
                       indent=2)
    return "az webapp config appsettings list -g rg-%s -n app-%s" % (repo(), svc()), inner, [k]


je_az_appsettings = jcase(_je_az_appsettings)


def _je_thunder_env():
    t = "pat" + mixed(14) + "." + hx(64)
    inner = json.dumps([{"_id": uid(), "name": "prod", "default": False, "data": [
        {"name": "baseUrl", "value": "https://api.airtable.com/v0"}, {"name": "token", "value": t},
        {"name": "baseId", "value": "app" + mixed(14)}]}], indent=2)
    return "cat thunder-tests/thunderEnvironment.json", inner, [t]


je_thunder_env = jcase(_je_thunder_env)


def _je_sqltools_settings():
    pw = password(16, ALNUM + "#%*-_")
    inner = json.dumps({"editor.formatOnSave": True, "sqltools.connections": [
        {"previewLimit": 50, "server": host(), "port": 5432, "driver": "PostgreSQL", "name": "prod (read)",
         "database": db(), "username": user(), "password": pw}]}, indent=4)
    return "cat .vscode/settings.json", inner, [pw]


je_sqltools_settings = jcase(_je_sqltools_settings)


def _je_boto_frozen_creds():
    i, s, t = aws_id("ASIA"), aws_secret(), sts_token()
    inner = "ReadOnlyCredentials(access_key='%s', secret_key='%s', token='%s')" % (i, s, t)
    return "python -c 'import boto3; print(boto3.Session().get_credentials().get_frozen_credentials())'", inner, [i, s, t]


je_boto_frozen_creds = jcase(_je_boto_frozen_creds)


def _je_configmap_properties():
    pw, mpw = urlpw(20), password(16, ALNUM + "!#%*-_")
    props = ("spring.datasource.url=jdbc:postgresql://%s:5432/%s\nspring.datasource.username=%s\n"
             "spring.datasource.password=%s\nspring.mail.host=smtp.%s\nspring.mail.password=%s\n") % (
        host(), db(), user(), pw, dom(), mpw)
    inner = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "%s-config" % svc()},
                        "data": {"application.properties": props}}, indent=2)
    return "kubectl get cm %s-config -o json" % svc(), inner, [esc(pw, 1), esc(mpw, 1)]


je_configmap_properties = jcase(_je_configmap_properties)


def _je_tfstate_storage_account():
    k = azure_storage_key()
    inner = json.dumps({"mode": "managed", "type": "azurerm_storage_account", "name": "logs", "instances": [
        {"schema_version": 3, "attributes": {"name": "st%slogs" % org().replace("-", "")[:10], "account_tier": "Standard",
                                             "primary_access_key": k, "primary_blob_endpoint":
                                                 "https://st%slogs.blob.core.windows.net/" % org().replace("-", "")[:10]},
         "sensitive_attributes": []}]}, indent=2)
    return "terraform state pull | jq '.resources[] | select(.type==\"azurerm_storage_account\")'", inner, [k]


je_tfstate_storage_account = jcase(_je_tfstate_storage_account)


def _je_doppler_download():
    t1, t2 = "sk_live_" + mixed(40), xoxb()
    inner = json.dumps({"CLERK_SECRET_KEY": t1, "DOPPLER_CONFIG": "prd", "DOPPLER_ENVIRONMENT": "prd",
                        "SLACK_BOT_TOKEN": t2}, indent=2)
    return "doppler secrets download --no-file --format json", inner, [t1, t2]


je_doppler_download = jcase(_je_doppler_download)


def _je_ansible_debug():
    pw = shellpw(18)
    inner = fill("""TASK [db : show rendered credentials] ******************************************
ok: [db-01] => {
    "pg_app_password": "@@pw@@"
}

PLAY RECAP *********************************************************************
db-01                      : ok=7    changed=0    unreachable=0    failed=0    skipped=2""", pw=pw)
    return "ansible-playbook site.yml -l db-01 --tags debug", inner, [pw]


je_ansible_debug = jcase(_je_ansible_debug)


def _je_appsettings_windows_paths():
    pw = password(18, ALNUM + "!#%*-_")
    inner = json.dumps({"Serilog": {"WriteTo": [{"Name": "File", "Args": {"path": "C:\\logs\\%s\\log-.txt" % svc()}}]},
                        "ConnectionStrings": {"Reporting": "Data Source=SQL01\\REPORTING;Initial Catalog=%s;User Id=rpt_reader;Password=%s;TrustServerCertificate=True" % (db(), pw)}},
                       indent=2)
    return "type C:\\inetpub\\%s\\appsettings.Production.json" % svc(), inner, [pw]


je_appsettings_windows_paths = jcase(_je_appsettings_windows_paths)


def je_docker_history_npmrc():
    t = npm_token()
    rows = [{"CreatedAt": ts()[:19] + "Z", "CreatedBy": "CMD [\"node\" \"dist/main.js\"]", "ID": "<missing>", "Size": "0B"},
            {"CreatedAt": ts()[:19] + "Z",
             "CreatedBy": "RUN /bin/sh -c echo \"//registry.npmjs.org/:_authToken=%s\" > .npmrc && npm ci && rm .npmrc # buildkit" % t,
             "ID": "<missing>", "Size": "%dMB" % rint(80, 400)}]
    inner = "\n".join(json.dumps(r) for r in rows)
    d = {"role": "tool", "tool_call_id": call_id(), "name": "bash", "content": inner}
    return ("docker history --no-trunc --format json ghcr.io/%s/%s:latest\n" % (org(), svc())
            + json.dumps(d, ensure_ascii=False)), [esc(t, 1)]


def je_chat_request_env_paste():
    pw, k = urlpw(18), "sk-or-v1-" + hx(64)
    content = fill("""here's my env (dev box only):
```
DATABASE_URL=postgresql://@@u@@:@@pw@@@localhost:5432/@@d@@
OPENROUTER_API_KEY=@@k@@
```
the app says "relation users does not exist" on startup""", u=user(), pw=pw, d=db(), k=k)
    body = {"model": "gpt-4.1", "stream": True, "messages": [{"role": "system", "content": "You are a coding assistant."},
                                                             {"role": "user", "content": content}]}
    return json.dumps(body, ensure_ascii=False), [pw, k]


def je_write_aws_credentials_args():
    i, s = aws_id(), aws_secret()
    content = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n" % (i, s, region())
    args = json.dumps({"path": "~/.aws/credentials", "content": content})
    d = {"id": "chatcmpl-" + rs(29), "object": "chat.completion", "choices": [{"index": 0, "message": {
        "role": "assistant", "content": None, "tool_calls": [
            {"id": call_id(), "type": "function", "function": {"name": "write_file", "arguments": args}}]},
        "finish_reason": "tool_calls"}]}
    return json.dumps(d), [esc(i, 2), esc(s, 2)]


def je_sentry_breadcrumb_url():
    k = mixed(32)
    d = {"event_id": hx(32), "level": "error", "platform": "python",
         "breadcrumbs": {"values": [{"timestamp": ts(), "type": "http", "category": "httplib",
                                     "data": {"http.method": "GET", "status_code": 403,
                                              "url": "https://api.openweathermap.org/data/2.5/weather?q=Lisbon&appid=%s" % hx(32)}},
                                    {"timestamp": ts(), "type": "default", "category": "query",
                                     "message": "SELECT api_key FROM partner_keys WHERE partner = %s"}]},
         "extra": {"partner_api_key": k}}
    txt = json.dumps(d, indent=2)
    appid = re.search(r"appid=([0-9a-f]{32})", txt).group(1)
    return txt, [appid, k]


def _je_secret_json_double():
    pw = urlpw(22)
    sec = json.dumps({"username": "rds_admin", "password": pw, "engine": "postgres", "host": host(), "port": 5432})
    inner = json.dumps({"ARN": "arn:aws:secretsmanager:%s:%s:secret:prod/%s/db-%s" % (region(), acct(), svc(), rs(6)),
                        "Name": "prod/%s/db" % svc(), "VersionId": uid(), "SecretString": sec,
                        "VersionStages": ["AWSCURRENT"], "CreatedDate": "%s.%03d000+00:00" % (date(), rint(0, 999))},
                       indent=4)
    return "aws secretsmanager get-secret-value --secret-id prod/%s/db" % svc(), inner, [esc(pw, 1)]


je_secret_json_double = jcase(_je_secret_json_double)


def _je_pulumi_stack_output():
    pw = password(20, ALNUM + "!#%*-_")
    inner = json.dumps({"clusterName": "%s-eks" % org(), "dbEndpoint": "%s.cluster-%s.%s.rds.amazonaws.com" % (
        svc(), rs(12, LOAL), region()), "dbMasterPassword": pw}, indent=4)
    return "pulumi stack output --json --show-secrets", inner, [pw]


je_pulumi_stack_output = jcase(_je_pulumi_stack_output)


def _je_gh_codespace_secret_env():
    t, h = "dop_v1_" + hx(64), "hf_" + mixed(34, UP + LO)
    inner = "DIGITALOCEAN_ACCESS_TOKEN=%s\nGITHUB_USER=%s\nHF_TOKEN=%s\nCODESPACES=true" % (t, user(), h)
    return "env | grep -E 'TOKEN|CODESPACES|GITHUB_USER' | sort", inner, [t, h]


je_gh_codespace_secret_env = jcase(_je_gh_codespace_secret_env)


def je_jsonl_transcript_pem_read():
    pem = ec_pem()
    d = {"type": "user", "toolUseResult": {"type": "text", "file": {"filePath": "/srv/%s/certs/server.key" % svc(),
                                                                     "content": pem + "\n", "numLines": pem.count("\n") + 2,
                                                                     "startLine": 1, "totalLines": pem.count("\n") + 2}},
         "message": {"role": "user", "content": [{"tool_use_id": toolu(), "type": "tool_result",
                                                  "content": "\n".join("%6d\u2192%s" % (i + 1, ln) for i, ln in enumerate(pem.split("\n")))}]}}
    txt = json.dumps(d, ensure_ascii=False)
    body_lines = pem.split("\n")[1:-1]
    numbered = "\\n".join("%6d\u2192%s" % (i + 2, ln) for i, ln in enumerate(body_lines))
    assert numbered in txt
    return txt, [esc(pem_body(pem), 1), numbered]


def je_redis_session_value():
    t = ya29()
    r = google_refresh()
    val = json.dumps({"user_id": rint(1000, 99999), "google": {"access_token": t, "refresh_token": r, "expires_in": 3599,
                                                             "scope": "openid email profile", "token_type": "Bearer"}})
    inner = '127.0.0.1:6379> GET "sess:%s"\n"%s"' % (hx(32), val.replace('"', '\\"'))
    text, depth = wrap_tool(inner, 'redis-cli GET "sess:..."')
    return text, [esc(t, depth), esc(r, depth)]


JSON_ESCAPED = [je_sa_json_pasted_in_prompt, je_env_after_newline, je_escaped_quotes_config, je_write_tool_env_local,
                je_edit_tool_const, je_k8s_secret_json, je_docker_inspect_env, je_firebase_env_string, je_probot_env_pem,
                je_curl_body_in_tool_use, je_jsonb_insert_sql, je_log_connection_string, je_apns_p8_config,
                je_terraform_output_sensitive, je_mcp_postgres_args, je_git_remote_v, je_ipynb_cohere, je_lambda_env,
                je_ecs_task_definition_env, je_az_appsettings, je_thunder_env, je_sqltools_settings, je_boto_frozen_creds,
                je_configmap_properties, je_tfstate_storage_account, je_doppler_download, je_ansible_debug,
                je_appsettings_windows_paths, je_docker_history_npmrc, je_chat_request_env_paste,
                je_write_aws_credentials_args, je_sentry_breadcrumb_url, je_secret_json_double, je_pulumi_stack_output,
                je_gh_codespace_secret_env, je_jsonl_transcript_pem_read, je_redis_session_value]


# ================================================================ SECRET: key_pairs
def kp_rust_credentials_new():
    i, s = aws_id(), aws_secret()
    return fill("""// crates/uploader/src/s3.rs
use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};

pub async fn client() -> aws_sdk_s3::Client {
    // TODO(@@u@@): move to the credential chain before this ships
    let creds = Credentials::new("@@i@@", "@@s@@", None, None, "hardcoded");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("@@r@@"))
        .credentials_provider(creds)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}""", u=user(), i=i, s=s, r=region()), [i, s]


def kp_csharp_s3client_positional():
    i, s = aws_id(), aws_secret()
    return fill("""using Amazon;
using Amazon.S3;

namespace @@ns@@.Storage;

public static class S3Factory
{
    public static IAmazonS3 Create() =>
        new AmazonS3Client("@@i@@", "@@s@@", RegionEndpoint.@@re@@);
}""", ns=org().title().replace("-", ""), i=i, s=s, re=pick(["EUWest1", "USEast1", "APSoutheast2"])), [i, s]


def kp_php_credentials_ctor():
    i, s = aws_id(), aws_secret()
    return fill("""<?php
use Aws\\Credentials\\Credentials;
use Aws\\S3\\S3Client;

$credentials = new Credentials('@@i@@', '@@s@@');

$s3 = new S3Client([
    'version'     => 'latest',
    'region'      => '@@r@@',
    'credentials' => $credentials,
]);
$s3->putObject(['Bucket' => '@@b@@', 'Key' => $path, 'Body' => fopen($tmp, 'r')]);""", i=i, s=s, r=region(),
                b=pick(BUCKETS)), [i, s]


def kp_ruby_aws_credentials():
    i, s = aws_id(), aws_secret()
    return fill("""# lib/tasks/export.rake
namespace :export do
  task nightly: :environment do
    s3 = Aws::S3::Resource.new(
      region: "@@r@@",
      credentials: Aws::Credentials.new("@@i@@", "@@s@@")
    )
    s3.bucket("@@b@@").object("exports/#{Date.today}.csv.gz").upload_file(Export.run!)
  end
end""", r=region(), i=i, s=s, b=pick(BUCKETS)), [i, s]


def kp_boto3_session_positional():
    i, s = aws_id(), aws_secret()
    return fill(""">>> import boto3
>>> sess = boto3.Session("@@i@@", "@@s@@", region_name="@@r@@")
>>> sess.client("sts").get_caller_identity()["Arn"]
'arn:aws:iam::@@a@@:user/@@u@@'""", i=i, s=s, r=region(), a=acct(), u=user()), [i, s]


def kp_kotlin_basic_create():
    i, s = aws_id(), aws_secret()
    return fill("""val s3 = S3Client.builder()
    .region(Region.@@re@@)
    .credentialsProvider(
        StaticCredentialsProvider.create(
            AwsBasicCredentials.create("@@i@@", "@@s@@")
        )
    )
    .build()""", re=pick(["EU_WEST_1", "US_EAST_1", "AP_NORTHEAST_1"]), i=i, s=s), [i, s]


def kp_go_static_provider():
    i, s = aws_id(), aws_secret()
    return fill("""	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("@@r@@"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("@@i@@", "@@s@@", "")),
	)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}""", r=region(), i=i, s=s), [i, s]


def kp_prose_paren_slash():
    i, s = aws_id(), aws_secret()
    return fill("""ok so the CI user for the artifacts bucket is `ci-@@r@@` (@@i@@ / @@s@@) — it only has s3:PutObject on @@b@@/*,
so if the upload step still 403s it's the bucket policy, not the key.""", r=repo(), i=i, s=s, b=pick(BUCKETS)), [i, s]


def kp_chat_colon_pair():
    i, s = aws_id(), aws_secret()
    return fill("""@@n@@  @@t@@
bucket creds for the vendor sftp→s3 bridge: `@@i@@:@@s@@`
@@m@@  @@t2@@
thx, dropping them in 1password now""", n=person().split()[0].lower(), t=hms()[:5], i=i, s=s,
                m=person().split()[0].lower(), t2=hms()[:5]), [i, s]


def kp_markdown_table_row():
    i, s = aws_id(), aws_secret()
    return fill("""## Service users

| user | access key | secret | created | owner |
|------|-----------|--------|---------|-------|
| backup-writer | `@@i@@` | `@@s@@` | @@d@@ | @@p@@ |
| metrics-reader | — | (uses instance role) | @@d2@@ | @@p2@@ |""", i=i, s=s, d=date(), p=person(), d2=date(),
                p2=person()), [i, s]


def kp_iam_create_key_yaml():
    i, s = aws_id(), aws_secret()
    return fill("""@@p@@aws iam create-access-key --user-name @@u@@ --output yaml
AccessKey:
  AccessKeyId: @@i@@
  CreateDate: '@@ts@@+00:00'
  SecretAccessKey: @@s@@
  Status: Active
  UserName: @@u@@""", p=sh_prompt(), u="svc-" + svc(), i=i, s=s, ts=ts()[:19]), [i, s]


def kp_twilio_php_client():
    sid, tok = "AC" + hx(32), hx(32)
    return fill("""<?php
require __DIR__ . '/vendor/autoload.php';

use Twilio\\Rest\\Client;

$twilio = new Client("@@sid@@", "@@tok@@");
$message = $twilio->messages->create($to, [
    "from" => "+1@@n@@",
    "body" => "Your verification code is {$code}",
]);""", sid=sid, tok=tok, n=rint(2000000000, 9999999999)), [tok]


def kp_twilio_python_apikey():
    sk, sec, sid = "SK" + hx(32), mixed(32), "AC" + hx(32)
    return fill("""from twilio.rest import Client

# API key + secret, scoped to the notifications subaccount
client = Client("@@sk@@", "@@sec@@", "@@sid@@")
call = client.calls.create(to=on_call_number, from_="+1@@n@@", url=TWIML_URL)""", sk=sk, sec=sec, sid=sid,
                n=rint(2000000000, 9999999999)), [sec]


def kp_alibaba_java_profile():
    i, s = ali_id(), ali_secret()
    return fill("""    private static IAcsClient buildClient() {
        DefaultProfile profile = DefaultProfile.getProfile("cn-shanghai", "@@i@@", "@@s@@");
        return new DefaultAcsClient(profile);
    }""", i=i, s=s), [s]


def kp_tencent_python_credential():
    i, s = tc_id(), mixed(32)
    return fill("""from tencentcloud.common import credential
from tencentcloud.sms.v20210111 import sms_client, models

cred = credential.Credential("@@i@@", "@@s@@")
client = sms_client.SmsClient(cred, "ap-guangzhou")""", i=i, s=s), [s]


def kp_gcs_hmac_slash_prose():
    i, s = "GOOG1E" + rs(55, UPAL), mixed(40, ALNUM + "+/")
    return fill("""For the interop endpoint (storage.googleapis.com with the S3 API) use the HMAC key on the `@@sa@@` service account:
@@i@@ / @@s@@
Don't use it for anything but the nightly rclone job.""", sa="sync-" + repo(), i=i, s=s), [s]


def kp_js_v2_credentials_positional():
    i, s = "DO00" + rs(16, UPAL), mixed(43, ALNUM + "+/")
    return fill("""const AWS = require("aws-sdk");

const spaces = new AWS.S3({
  endpoint: new AWS.Endpoint("@@r@@.digitaloceanspaces.com"),
  credentials: new AWS.Credentials("@@i@@", "@@s@@"),
});""", r=pick(["fra1", "nyc3", "ams3", "sgp1"]), i=i, s=s), [s]


def kp_razorpay_auth_tuple():
    kid, sec = "rzp_live_" + mixed(14), mixed(24)
    return fill("""import razorpay

client = razorpay.Client(auth=("@@kid@@", "@@sec@@"))
client.set_app_details({"title": "@@o@@-checkout", "version": "@@v@@"})
order = client.order.create({"amount": amount_paise, "currency": "INR", "receipt": receipt_id})""", kid=kid, sec=sec,
                o=org(), v=ver()), [sec]


def kp_paypal_curl_u():
    cid, sec = "A" + mixed(79, B64URL), "E" + mixed(79, B64URL)
    return fill("""@@p@@curl -s https://api-m.paypal.com/v1/oauth2/token \\
    -u "@@cid@@:@@sec@@" \\
    -d "grant_type=client_credentials" | jq .expires_in
32400""", p=sh_prompt(), cid=cid, sec=sec), [sec]


def kp_stytch_basic():
    pid, sec = "project-live-" + uid(), "secret-live-" + mixed(32, B64URL) + "="
    return fill("""curl --request POST \\
  --url https://api.stytch.com/v1/magic_links/email/login_or_create \\
  -u '@@pid@@:@@sec@@' \\
  -H 'Content-Type: application/json' \\
  -d '{"email": "@@e@@"}'""", pid=pid, sec=sec, e=email()), [sec]


def kp_atlas_digest():
    pub, priv = rs(8, LO), uid()
    return fill("""@@p@@curl --user "@@pub@@:@@priv@@" --digest \\
     --header "Accept: application/vnd.atlas.2024-08-05+json" \\
     "https://cloud.mongodb.com/api/atlas/v2/groups/@@g@@/clusters?pretty=true"
{
  "links" : [ ],
  "results" : [ {
    "clusterType" : "REPLICASET",
    "name" : "@@c@@",""", p=sh_prompt(), pub=pub, priv=priv, g=hx(24), c=pick(["prod-0", "analytics", "Cluster0"])), [priv]


def kp_python_tuple_constant():
    i, s = aws_id(), aws_secret()
    return fill("""# scripts/backfill_thumbnails.py
import boto3

READONLY_CREDS = ("@@i@@", "@@s@@")

s3 = boto3.client("s3", aws_access_key_id=READONLY_CREDS[0], aws_secret_access_key=READONLY_CREDS[1])""", i=i, s=s), [i, s]


def kp_shell_positional_history():
    i, s = aws_id(), aws_secret()
    return fill("""@@p@@history | tail -4
 @@n1@@  cd ~/@@r@@/ops
 @@n2@@  ./scripts/push-artifacts.sh @@i@@ @@s@@ @@b@@ @@r2@@
 @@n3@@  ls dist/
 @@n4@@  history | tail -4""", p=sh_prompt(), r=repo(), i=i, s=s, b=pick(BUCKETS), r2=region(),
                n1=rint(1000, 1990), n2=rint(1991, 1995), n3=1996, n4=1997), [i, s]


def kp_sts_query_text():
    i, s, t = aws_id("ASIA"), aws_secret(), sts_token()
    return fill("""@@p@@aws sts assume-role --role-arn arn:aws:iam::@@a@@:role/@@role@@ --role-session-name dbg \\
    --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text
@@i@@	@@s@@	@@t@@""", p=sh_prompt(), a=acct(), role=pick(["deploy", "ReadOnly", "break-glass"]), i=i, s=s, t=t), [i, s, t]


def kp_log_line_slash():
    i, s = aws_id(), aws_secret()
    return fill("""@@t1@@ INFO  storage: using endpoint https://s3.@@r@@.amazonaws.com
@@t2@@ DEBUG storage: static credentials @@i@@/@@s@@ (source=config file)
@@t3@@ INFO  storage: bucket @@b@@ reachable""", t1=ts(), t2=ts(), t3=ts(), r=region(), i=i, s=s, b=pick(BUCKETS)), [i, s]


def kp_minio_sdk_against_aws():
    i, s = aws_id(), aws_secret()
    return fill("""from minio import Minio

client = Minio("s3.amazonaws.com", "@@i@@", "@@s@@", region="@@r@@", secure=True)
for obj in client.list_objects("@@b@@", prefix="2026/", recursive=True):
    print(obj.object_name, obj.size)""", i=i, s=s, r=region(), b=pick(BUCKETS)), [i, s]


def kp_groovy_jenkinsfile():
    i, s = aws_id(), aws_secret()
    return fill("""stage('Publish') {
    steps {
        script {
            def creds = new com.amazonaws.auth.BasicAWSCredentials('@@i@@', '@@s@@')
            def s3 = com.amazonaws.services.s3.AmazonS3ClientBuilder.standard()
                .withCredentials(new com.amazonaws.auth.AWSStaticCredentialsProvider(creds))
                .withRegion('@@r@@').build()
            s3.putObject('@@b@@', "builds/${env.BUILD_NUMBER}.zip", new File('dist/app.zip'))
        }
    }
}""", i=i, s=s, r=region(), b=pick(BUCKETS)), [i, s]


def kp_c_aws_credentials():
    i, s = aws_id(), aws_secret()
    return fill("""    struct aws_credentials *creds = aws_credentials_new(
        allocator,
        aws_byte_cursor_from_c_str("@@i@@"),
        aws_byte_cursor_from_c_str("@@s@@"),
        aws_byte_cursor_from_c_str(""),
        UINT64_MAX);""", i=i, s=s), [i, s]


def kp_airflow_conn_uri():
    i, s = aws_id(), aws_secret()
    enc = quote(s, safe="")
    return fill("""@@p@@airflow connections add aws_backfill \\
    --conn-uri 'aws://@@i@@:@@enc@@@/?region_name=@@r@@'
Successfully added `conn_id`=aws_backfill : aws://@@i@@:******@:""", p=sh_prompt(), i=i, enc=enc, r=region()), [i, enc]


def kp_jira_code_block():
    i, s = aws_id(), aws_secret()
    return fill("""*Access for the auditors (expires @@d@@)*
{code}
@@i@@ / @@s@@
{code}
Region is @@r@@, bucket {{@@b@@}}. Ping @@p@@ if anything is missing.""", d=date(), i=i, s=s, r=region(),
                b=pick(BUCKETS), p=person()), [i, s]


def kp_ghost_admin_key():
    kid, sec = hx(24), hx(64)
    return fill("""import GhostAdminAPI from "@tryghost/admin-api";

const api = new GhostAdminAPI({
  url: "https://blog.@@d@@",
  key: "@@kid@@:@@sec@@",
  version: "v5.0",
});""", d=dom(), kid=kid, sec=sec), [sec]


def kp_braintree_positional():
    mid, pub, priv = rs(16, LOAL), rs(16, LOAL), hx(32)
    return fill("""import braintree

gateway = braintree.BraintreeGateway(
    braintree.Configuration(braintree.Environment.Production, "@@mid@@", "@@pub@@", "@@priv@@")
)""", mid=mid, pub=pub, priv=priv), [priv]


def kp_google_client_paren_prose():
    cid, sec = "%d-%s.apps.googleusercontent.com" % (rint(10 ** 11, 10 ** 12), rs(32, LOAL)), gocspx()
    return fill("""I registered a new OAuth client for the staging SSO (@@cid@@ / @@sec@@), redirect URI is
https://staging.@@d@@/auth/callback/google — can you swap it into the helm values?""", cid=cid, sec=sec, d=dom()), [sec]


def kp_az_sp_tsv():
    app, ten, pw = uid(), uid(), azure_ad_secret()
    return fill("""@@p@@az ad sp create-for-rbac --name gh-actions-@@r@@ --role Contributor --scopes /subscriptions/@@sub@@/resourceGroups/rg-@@r@@ -o tsv
Creating 'Contributor' role assignment under scope '/subscriptions/@@sub@@/resourceGroups/rg-@@r@@'
@@app@@	gh-actions-@@r@@	@@pw@@	@@ten@@""", p=sh_prompt(), r=repo(), sub=uid(), app=app, pw=pw, ten=ten), [pw]


def kp_java_system_properties():
    i, s = aws_id(), aws_secret()
    return fill("""    @BeforeAll
    static void awsProps() {
        System.setProperty("aws.accessKeyId", "@@i@@");
        System.setProperty("aws.secretAccessKey", "@@s@@");
        System.setProperty("aws.region", "@@r@@");
    }""", i=i, s=s, r=region()), [i, s]


def kp_powershell_set_awscredential():
    i, s = aws_id(), aws_secret()
    return fill("""PS C:\\Users\\@@u@@> Set-AWSCredential -AccessKey @@i@@ -SecretKey @@s@@ -StoreAs @@pr@@
PS C:\\Users\\@@u@@> Get-S3Bucket -ProfileName @@pr@@ | Select-Object -First 2

CreationDate          BucketName
------------          ----------
@@d@@ 09:14:31   @@b1@@
@@d@@ 09:20:02   @@b2@@""", u=user(), i=i, s=s, pr=pick(["prod", "legacy", "reports"]), d=date(), b1=pick(BUCKETS),
                b2=pick(BUCKETS)), [i, s]


def kp_sql_insert_tuple():
    i, s = aws_id(), aws_secret()
    return fill("""-- seed the integration row for tenant @@t@@
INSERT INTO storage_targets (tenant_id, provider, bucket, access_key, secret_key)
VALUES (@@t@@, 's3', '@@b@@', '@@i@@', '@@s@@');""", t=rint(10, 9999), b=pick(BUCKETS), i=i, s=s), [i, s]


def kp_python_zip_environ():
    i, s = aws_id(), aws_secret()
    return fill("""os.environ.update(dict(zip(
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"],
    ["@@i@@", "@@s@@", "@@r@@"],
)))""", i=i, s=s, r=region()), [i, s]


def kp_vault_approle_login():
    rid, sid, tok = uid(), uid(), vault_token()
    return fill("""@@p@@vault write auth/approle/login role_id=@@rid@@ secret_id=@@sid@@
Key                     Value
---                     -----
token                   @@tok@@
token_accessor          @@acc@@
token_duration          1h
token_policies          ["default" "@@s@@-read"]""", p=sh_prompt(), rid=rid, sid=sid, tok=tok, acc=mixed(24), s=svc()), [sid, tok]


def kp_ovh_client_kwargs():
    ak, asec, ck = mixed(16), mixed(32), mixed(32)
    return fill("""client = ovh.Client(
    endpoint="ovh-eu",
    application_key="@@ak@@",
    application_secret="@@as@@",
    consumer_key="@@ck@@",
)
print(client.get("/me")["nichandle"])""", ak=ak, **{"as": asec}, ck=ck), [asec, ck]


KEY_PAIRS = [kp_rust_credentials_new, kp_csharp_s3client_positional, kp_php_credentials_ctor, kp_ruby_aws_credentials,
             kp_boto3_session_positional, kp_kotlin_basic_create, kp_go_static_provider, kp_prose_paren_slash,
             kp_chat_colon_pair, kp_markdown_table_row, kp_iam_create_key_yaml, kp_twilio_php_client,
             kp_twilio_python_apikey, kp_alibaba_java_profile, kp_tencent_python_credential, kp_gcs_hmac_slash_prose,
             kp_js_v2_credentials_positional, kp_razorpay_auth_tuple, kp_paypal_curl_u, kp_stytch_basic,
             kp_atlas_digest, kp_python_tuple_constant, kp_shell_positional_history, kp_sts_query_text,
             kp_log_line_slash, kp_minio_sdk_against_aws, kp_groovy_jenkinsfile, kp_c_aws_credentials,
             kp_airflow_conn_uri, kp_jira_code_block, kp_ghost_admin_key, kp_braintree_positional,
             kp_google_client_paren_prose, kp_az_sp_tsv, kp_java_system_properties, kp_powershell_set_awscredential,
             kp_sql_insert_tuple, kp_python_zip_environ, kp_vault_approle_login, kp_ovh_client_kwargs]


# ================================================================ SECRET: provider_near_value
def chat_head():
    return "%s  %s" % (person().split()[0].lower(), pick(["10:02 AM", "4:47 PM", "11:31", "yesterday 18:09", "Tue 09:15"]))


def pv_stripe_token_dash_quote():
    k = stripe_live()
    return fill("""notes from the payments call (@@d@@)
- webhook endpoint moved to /v2/hooks/billing
- stripe token - '@@k@@'
- @@p@@ owns the migration of the old invoices""", d=date(), k=k, p=person()), [k]


def pv_mixpanel_bare():
    s = mixed(32)
    return fill("""analytics creds we still need to move to the vault:
mixpanel @@s@@
amplitude (see 1password, "amp prod")""", s=s), [s]


def pv_sentry_colon():
    t = "sntryu_" + hx(64)
    return fill("""@@h@@
for the release job you need a user token with project:releases, mine is sentry: @@t@@
revoke it once the org token lands""", h=chat_head(), t=t), [t]


def pv_postman_bold_adjacent():
    t = "PMAK-" + hx(24) + "-" + hx(34)
    return fill("""### Monitors
Collection runs are triggered by the nightly workflow. Keys used:

* **Postman**`@@t@@`
* **Checkly** — stored as `CHECKLY_API_KEY` in the repo secrets""", t=t), [t]


def pv_linear_space_prose():
    k = "lin_api_" + mixed(40)
    return fill("""the triage bot can't create issues anymore — it was using linear @@k@@ which belonged to @@p@@'s account,
and their seat got removed on @@d@@.""", k=k, p=person(), d=date()), [k]


def pv_yaml_provider_unquoted():
    c, h = mixed(40, B64URL), mixed(64)
    return fill("""# ~/.config/dnsctl/providers.yaml
default: cloudflare
providers:
  cloudflare: @@c@@
  hetzner: @@h@@
zones:
  - @@d@@
  - staging.@@d@@""", c=c, h=h, d=dom()), [c, h]


def pv_json_suffix_keys():
    v, l = mixed(36, UPAL), hx(64)
    return fill("""{
  "regions": ["ams", "fra"],
  "vultr_api_key": "@@v@@",
  "linode_token": "@@l@@",
  "ssh_key_name": "ops-@@y@@"
}""", v=v, l=l, y=date()[:4]), [v, l]


def pv_yaml_suffix_unquoted():
    w, hc, ss = mixed(32), "0x" + hx(40), hx(32)
    return fill("""integrations:
  segment_write_key: @@w@@
  hcaptcha_site_key: @@site@@
  hcaptcha_secret: @@hc@@
  slack_signing_secret: @@ss@@
  slack_app_id: A@@app@@""", w=w, site=uid(), hc=hc, ss=ss, app=rs(10, UPAL)), [w, hc, ss]


def pv_next_line_buildkite():
    t = "bkua_" + hx(40)
    return fill("""Buildkite API token

@@t@@

(read_builds + write_builds, org @@o@@)""", t=t, o=org()), [t]


def pv_em_dash_elevenlabs():
    k = "sk_" + hx(48)
    return fill("""for the voice demo use the elevenlabs key — @@k@@ — and keep the char limit under 5k, we're on the starter plan""",
                k=k), [k]


def pv_tab_sheet_paste():
    a, o, g = anthropic_key(), openai_proj(), "gsk_" + mixed(52)
    return fill("""provider	key	owner	rotated
Anthropic	@@a@@	@@p1@@	@@d1@@
OpenAI	@@o@@	@@p2@@	@@d2@@
Groq	@@g@@	@@p1@@	@@d3@@""", a=a, o=o, g=g, p1=person(), p2=person(), d1=date(), d2=date(), d3=date()), [a, o, g]


def pv_paren_groq_prose():
    g = "gsk_" + mixed(52)
    return fill("""Switched the summariser to llama-3.3-70b on groq (@@g@@) because the latency on the old endpoint was >4s p95.""",
                g=g), [g]


def pv_go_map_literal():
    r, p = "re_" + mixed(8) + "_" + mixed(24), mixed(36)
    return fill("""var mailers = map[string]string{
	"resend":   "@@r@@",
	"postmark": "@@p@@",
}

func senderFor(tenant Tenant) Mailer {
	return newMailer(tenant.Provider, mailers[tenant.Provider])
}""", r=r, p=p), [r, p]


def pv_shell_comment_perplexity():
    k = "pplx-" + mixed(48)
    return fill("""#!/usr/bin/env bash
# quick research helper
# perplexity @@k@@
set -euo pipefail
q="$*"
curl -s https://api.perplexity.ai/chat/completions -H "Authorization: Bearer ${PPLX_KEY:?}" \\
  -H 'Content-Type: application/json' -d "{\\"model\\":\\"sonar\\",\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"$q\\"}]}" | jq -r '.choices[0].message.content'""",
                k=k), [k]


def pv_heading_xai():
    k = "xai-" + mixed(80)
    return fill("""## Model keys (temporary — move to doppler)

### xAI / grok
@@k@@

### Mistral
see `MISTRAL_API_KEY` in the staging env""", k=k), [k]


def pv_twitch_secret_colon():
    cid, sec = rs(30, LOAL), rs(30, LOAL)
    return fill("""twitch app for the clip importer
client id: @@cid@@
twitch client secret: @@sec@@
redirect: http://localhost:4000/auth/twitch/callback""", cid=cid, sec=sec), [sec]


def pv_langsmith_upper():
    k = "lsv2_pt_" + hx(32) + "_" + hx(10)
    return fill("""In [7]: # LANGSMITH @@k@@
In [8]: from langsmith import Client
In [9]: Client().list_projects()
Out[9]: <generator object Client.list_projects at 0x7f@@a@@>""", k=k, a=hx(10)), [k]


def pv_python_dict_providers():
    o, t = "sk-or-v1-" + hx(64), mixed(64)
    return fill("""PROVIDERS = {
    "openrouter": "@@o@@",
    "together": "@@t@@",
    "ollama": None,  # local
}""", o=o, t=t), [o, t]


def pv_shopify_admin_prose():
    t = "shpat_" + hx(32)
    return fill("""@@h@@
fyi the shopify admin token is @@t@@ (custom app "inventory-sync", scopes read_products/write_inventory)""",
                h=chat_head(), t=t), [t]


def pv_circleci_ini():
    t = "CCIPAT_" + mixed(22) + "_" + hx(40)
    return fill("""[circleci]
host = https://circleci.com
token = @@t@@

[github]
org = @@o@@""", t=t, o=org()), [t]


def pv_matrix_token():
    u = pick(["alertbot", "deploybot", "ops"])
    t = "syt_" + b64u(u.encode()) + "_" + mixed(20, UP + LO) + "_" + mixed(6)
    return fill("""hookshot is configured, the bot user is @@@u@@:matrix.@@d@@ and its matrix access token @@t@@ — put it in
`homeserver.token` not in the registration file.""", u=u, d=dom(), t=t), [t]


def pv_fauna_secret():
    k = "fnA" + mixed(37, B64URL)
    return fill("""> what's the fauna secret for the preview db?
fauna secret fnA… sorry, full one: @@k@@""", k=k), [k]


def pv_figma_script_comment():
    t = "figd_" + mixed(40, B64URL)
    return fill("""// scripts/export-icons.mjs
// FIGMA @@t@@  (personal token, file_content:read)
const FILE_KEY = "@@fk@@";
const res = await fetch(`https://api.figma.com/v1/files/${FILE_KEY}/nodes?ids=${ids}`, {
  headers: { "X-Figma-Token": process.env.FIGMA_TOKEN },
});""", t=t, fk=mixed(22)), [t]


def pv_netlify_backticks():
    t = "nfp_" + mixed(40)
    return fill("""deploy previews broke because the old token expired, new netlify one is `@@t@@` — I already updated the GH secret""",
                t=t), [t]


def pv_brevo_bare_line():
    k = "xkeysib-" + hx(64) + "-" + mixed(16)
    return fill("""transactional email:
brevo @@k@@
sender: no-reply@@@d@@""", k=k, d=dom()), [k]


def pv_dropbox_arrow():
    t = "sl.u." + mixed(140, B64URL)
    return fill("""backup target for the photo archive
dropbox => @@t@@
folder: /Apps/@@o@@-archive""", t=t, o=org()), [t]


def pv_zendesk_table():
    t = mixed(40)
    return fill("""| system  | value | notes |
|---------|-------|-------|
| zendesk | @@t@@ | agent @@e@@/token |
| statuspage | (SSO) | — |""", t=t, e=email()), [t]


def pv_hubspot_quote():
    t = "pat-na1-" + uid()
    return fill("""hubspot private app: '@@t@@' — scopes crm.objects.contacts.read, crm.objects.deals.read""", t=t), [t]


def pv_contentful_angle():
    t = "CFPAT-" + mixed(43, B64URL)
    return fill("""migration script needs the management token, contentful <@@t@@>, space @@sp@@, env master""",
                t=t, sp=rs(12, LOAL)), [t]


def pv_newrelic_yaml_tools():
    k = "NRAK-" + rs(27, UPAL)
    return fill("""tools:
  grafana: https://grafana.@@d@@
  newrelic: @@k@@
  pagerduty: https://@@o@@.pagerduty.com""", d=dom(), k=k, o=org()), [k]


def pv_datadog_app_key_hex():
    a, p = dd_api(), dd_app()
    return fill("""to run the monitors sync locally:
datadog api key: @@a@@
datadog app key: @@p@@
then `make monitors-apply`""", a=a, p=p), [a, p]


def pv_commit_message_airtable():
    t = "pat" + mixed(14) + "." + hx(64)
    return fill("""commit @@c@@
Author: @@p@@ <@@e@@>
Date:   Mon @@d@@ 14:02:11 2026 +0200

    sync: temp airtable @@t@@ until the service account exists

 scripts/sync_airtable.py | 4 ++--
 1 file changed, 2 insertions(+), 2 deletions(-)""", c=git_sha(), p=person(), e=email(), d=pick(["Mar 2", "Apr 13", "Jun 8"]),
                t=t), [t]


def pv_asana_pat():
    t = "2/%d/%d:%s" % (rint(10 ** 15, 10 ** 16 - 1), rint(10 ** 15, 10 ** 16 - 1), hx(32))
    return fill("""asana PAT @@t@@ (bot user "release-notes")""", t=t), [t]


def pv_render_arrow():
    k = "rnd_" + mixed(32)
    return fill("""render api key → @@k@@
service id srv-@@s@@ (the cron one)""", k=k, s=rs(20, LOAL)), [k]


def pv_planetscale_pw_chat():
    u, pw = rs(12, LOAL), "pscale_pw_" + mixed(43, ALNUM + "_-")
    return fill("""@@h@@
planetscale branch password for `dev`: user @@u@@, pw @@pw@@ — host aws.connect.psdb.cloud""", h=chat_head(), u=u, pw=pw), [pw]


def pv_supabase_access_token():
    t = "sbp_" + hx(40)
    return fill("""$ supabase link --project-ref @@ref@@
supabase access token: @@t@@
Finished supabase link.""", ref=rs(20, LO), t=t), [t]


def pv_dockerhub_pat_quote():
    t = "dckr_pat_" + mixed(27, B64URL)
    return fill("""the mirror job logs in as `@@o@@bot` with dockerhub pat "@@t@@" (read-only, public repos)""", o=org(), t=t), [t]


def pv_wordpress_app_password():
    pw = " ".join(mixed(4) for _ in range(6))
    return fill("""WordPress REST import for the blog:
user: editor-bot
application password: @@pw@@
endpoint: https://@@d@@/wp-json/wp/v2/posts""", pw=pw, d=dom()), [pw]


def pv_fcm_server_key():
    k = "AAAA" + mixed(7, B64URL) + ":APA91b" + mixed(134, B64URL)
    return fill("""legacy push (still used by the android 3.x app):
FCM server key:
@@k@@""", k=k), [k]


def pv_age_key_notes():
    k = "AGE-SECRET-KEY-1" + rs(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")
    pub = "age1" + rs(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l")
    return fill("""sops recipients for the infra repo
public:  @@pub@@
age key  @@k@@   <- the ci one, keep it out of the repo""", pub=pub, k=k), [k]


def pv_gitlab_ci_unquoted():
    t = "squ_" + hx(40)
    return fill("""sonarqube-check:
  image: sonarsource/sonar-scanner-cli:latest
  variables:
    SONAR_HOST_URL: https://sonar.@@d@@
    SONAR_TOKEN: @@t@@
    GIT_DEPTH: "0"
  script:
    - sonar-scanner""", d=dom(), t=t), [t]


PROVIDER_NEAR_VALUE = [pv_stripe_token_dash_quote, pv_mixpanel_bare, pv_sentry_colon, pv_postman_bold_adjacent,
                       pv_linear_space_prose, pv_yaml_provider_unquoted, pv_json_suffix_keys, pv_yaml_suffix_unquoted,
                       pv_next_line_buildkite, pv_em_dash_elevenlabs, pv_tab_sheet_paste, pv_paren_groq_prose,
                       pv_go_map_literal, pv_shell_comment_perplexity, pv_heading_xai, pv_twitch_secret_colon,
                       pv_langsmith_upper, pv_python_dict_providers, pv_shopify_admin_prose, pv_circleci_ini,
                       pv_matrix_token, pv_fauna_secret, pv_figma_script_comment, pv_netlify_backticks,
                       pv_brevo_bare_line, pv_dropbox_arrow, pv_zendesk_table, pv_hubspot_quote, pv_contentful_angle,
                       pv_newrelic_yaml_tools, pv_datadog_app_key_hex, pv_commit_message_airtable, pv_asana_pat,
                       pv_render_arrow, pv_planetscale_pw_chat, pv_supabase_access_token, pv_dockerhub_pat_quote,
                       pv_wordpress_app_password, pv_fcm_server_key, pv_age_key_notes, pv_gitlab_ci_unquoted]


# ================================================================ SECRET: url_keys
def u_telegram_traceback():
    t = telegram()
    return fill("""Traceback (most recent call last):
  File "/app/alerts/notify.py", line 41, in send
    r.raise_for_status()
  File "/usr/local/lib/python3.12/site-packages/requests/models.py", line 1024, in raise_for_status
    raise HTTPError(http_error_msg, response=self)
requests.exceptions.HTTPError: 400 Client Error: Bad Request for url: https://api.telegram.org/bot@@t@@/sendMessage?chat_id=-100@@c@@&parse_mode=MarkdownV2""",
                t=t, c=rint(10 ** 9, 10 ** 10)), [t]


def u_nginx_api_key_query():
    k = mixed(40)
    return fill("""@@ip@@ - - [@@d@@:08:14:02 +0000] "GET /v1/reports/daily?format=csv&api_key=@@k@@ HTTP/1.1" 200 18231 "-" "python-requests/2.32.3"
@@ip2@@ - - [@@d@@:08:14:05 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.30\"""", ip="203.0.113.%d" % rint(2, 250),
                ip2="10.0.%d.%d" % (rint(0, 9), rint(2, 250)), d=pick(["12/Mar/2026", "03/Jun/2026", "21/Sep/2026"]), k=k), [k]


def u_azure_sas_sig():
    sig = b64e(rbytes(32))
    enc = quote(sig, safe="")
    acc = org().replace("-", "")[:12] + "data"
    return fill("""@@p@@azcopy copy ./exports/ "https://@@acc@@.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=co&sp=rwlac&se=@@d@@T18:00:00Z&st=@@d@@T09:00:00Z&spr=https&sig=@@enc@@" --recursive
INFO: Scanning...
Job @@j@@ has started""", p=sh_prompt(), acc=acc, d=date(), enc=enc, j=uid()), [enc]


def u_slack_webhook_alertmanager():
    tok = mixed(24)
    return fill("""receivers:
  - name: platform-oncall
    slack_configs:
      - api_url: https://hooks.slack.com/services/T@@t@@/B@@b@@/@@tok@@
        channel: '#alerts-platform'
        send_resolved: true
        title: '{{ .CommonLabels.alertname }}'""", t=rs(10, UPAL), b=rs(10, UPAL), tok=tok), [tok]


def u_discord_webhook_js():
    wid, tok = str(rint(10 ** 17, 10 ** 19)), mixed(68, B64URL)
    return fill("""// deploy-notify.js
await fetch("https://discord.com/api/webhooks/@@wid@@/@@tok@@", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ content: `:rocket: ${process.env.GITHUB_SHA.slice(0, 7)} deployed to prod` }),
});""", wid=wid, tok=tok), [tok]


def u_google_chat_webhook():
    key, tok = google_api_key(), mixed(43, B64URL) + "="
    enc = quote(tok, safe="")
    return fill("""webhooks:
  build_failures: "https://chat.googleapis.com/v1/spaces/AAAA@@sp@@/messages?key=@@key@@&token=@@enc@@"
""", sp=mixed(7, B64URL), key=key, enc=enc), [key, enc]


def u_gitlab_trigger_token():
    t = "glptt-" + hx(40)
    return fill("""@@p@@curl -s -X POST --fail "https://gitlab.@@d@@/api/v4/projects/@@n@@/trigger/pipeline?token=@@t@@&ref=main&variables[DEPLOY_ENV]=staging" | jq .web_url
"https://gitlab.@@d@@/@@o@@/@@r@@/-/pipelines/@@pid@@\"""", p=sh_prompt(), d=dom(), n=rint(10, 900), t=t, o=org(),
                r=repo(), pid=rint(100000, 999999)), [t]


def u_jupyter_token():
    t = hx(48)
    return fill("""[I @@d@@ 10:41:07.219 ServerApp] Jupyter Server 2.14.2 is running at:
[I @@d@@ 10:41:07.219 ServerApp] http://@@h@@:8888/lab?token=@@t@@
[I @@d@@ 10:41:07.219 ServerApp]     http://127.0.0.1:8888/lab?token=@@t@@
[I @@d@@ 10:41:07.219 ServerApp] Use Control-C to stop this server and shut down all kernels (twice to skip confirmation).""",
                d=date(), h=hx(12), t=t), [t]


def u_openweather_appid():
    k = hx(32)
    return fill("""    let url = format!(
        "https://api.openweathermap.org/data/3.0/onecall?lat={}&lon={}&units=metric&appid=@@k@@",
        lat, lon
    );
    let body: OneCall = reqwest::get(&url).await?.json().await?;""", k=k), [k]


def u_presigned_s3_curl():
    sig = hx(64)
    i = aws_id("ASIA")
    tok = quote(sts_token(), safe="")
    return fill("""curl -o report.pdf 'https://@@b@@.s3.@@r@@.amazonaws.com/reports/@@u@@.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=@@i@@%2F@@dd@@%2F@@r@@%2Fs3%2Faws4_request&X-Amz-Date=@@dd@@T101500Z&X-Amz-Expires=3600&X-Amz-Security-Token=@@tok@@&X-Amz-SignedHeaders=host&X-Amz-Signature=@@sig@@'""",
                b=pick(BUCKETS), r=region(), u=uid(), i=i, dd=date().replace("-", ""), tok=tok, sig=sig), [sig, tok]


def u_wss_jwt_query():
    t = jwt({"sub": "user_%d" % rint(1000, 99999), "room": "support-%d" % rint(1, 99)})
    return fill("""WebSocket connection to 'wss://rt.@@d@@/socket?vsn=2.0.0&token=@@t@@' failed:
    (anonymous) @ phoenix.mjs:1047
    connect @ phoenix.mjs:1039""", d=dom(), t=t), [t]


def u_rocketchat_hook():
    hid, tok = mixed(17), mixed(48)
    return fill("""[outputs.http]
  url = "https://chat.@@d@@/hooks/@@hid@@/@@tok@@"
  method = "POST"
  data_format = "json\"""", d=dom(), hid=hid, tok=tok), [tok]


def u_loggly_input_uuid():
    t = uid()
    return fill("""<match app.**>
  @type http
  endpoint https://logs-01.loggly.com/inputs/@@t@@/tag/fluentd,@@s@@/
  open_timeout 2
  <format>
    @type json
  </format>
</match>""", t=t, s=svc()), [t]


def u_algolia_query_params():
    app, k = rs(10, UPAL), hx(32)
    return fill("""GET https://@@app@@-dsn.algolia.net/1/indexes/products/browse?x-algolia-application-id=@@app@@&x-algolia-api-key=@@k@@&hitsPerPage=1000""",
                app=app, k=k), [k]


def u_key_path_segment():
    k = mixed(32)
    return fill("""$ curl -s "https://api.@@d@@/v2/key/@@k@@/geocode/reverse?lat=38.72&lon=-9.14" | jq '.results[0].formatted'
"Rua Augusta 24, Lisboa\"""", d=dom(), k=k), [k]


def u_tiingo_token_python():
    t = hx(40)
    return fill("""import pandas as pd
prices = pd.read_json(
    "https://api.tiingo.com/tiingo/daily/AAPL/prices?startDate=2025-01-01&token=@@t@@"
)""", t=t), [t]


def u_gho_access_token_query():
    t = gho()
    return fill("""# old script from 2019, still in cron on build-02
curl -s "https://api.github.com/repos/@@o@@/@@r@@/releases/latest?access_token=@@t@@" | jq -r .tag_name""",
                o=org(), r=repo(), t=t), [t]


def u_pip_extra_index_token():
    t = mixed(52, LOAL)
    return fill("""# pip.conf on the build agents
[global]
extra-index-url = https://@@o@@:@@t@@@pkgs.dev.azure.com/@@o@@/_packaging/internal/pypi/simple/
timeout = 60""", o=org(), t=t), [t]


def u_prometheus_remote_write():
    pw = "glc_" + b64e(json.dumps({"o": str(rint(10 ** 5, 10 ** 6)), "n": "stack-%d-hm-write" % rint(100, 999),
                                   "k": mixed(24), "m": {"r": "prod-eu-west-0"}}, separators=(",", ":")).encode())
    pw = pw.rstrip("=")
    return fill("""remote_write:
  - url: https://@@u@@:@@pw@@@prometheus-prod-24-prod-eu-west-2.grafana.net/api/prom/push
    queue_config:
      max_samples_per_send: 2000""", u=rint(10 ** 5, 10 ** 7), pw=pw), [pw]


def u_rediss_url_celery():
    pw = urlpw(32)
    return fill("""CELERY_BROKER_URL = "rediss://default:@@pw@@@@@h@@.cache.amazonaws.com:6379/0?ssl_cert_reqs=required"
CELERY_RESULT_BACKEND = CELERY_BROKER_URL""", pw=pw, h="master.%s-%s.%s.%s" % (svc(), rs(6, LOAL), rs(4, LOAL), pick(["euw1", "use1"]))), [pw]


def u_mongodb_srv_in_stacktrace():
    pw = urlpw(16)
    return fill("""MongoServerSelectionError: connection <monitor> to 10.12.@@a@@.@@b@@:27017 closed
    at Timeout._onTimeout (/app/node_modules/mongodb/lib/sdam/topology.js:278:38)
    at listOnTimeout (node:internal/timers:581:17) {
  reason: TopologyDescription { type: 'ReplicaSetNoPrimary', ... },
  code: undefined,
  [Symbol(errorLabels)]: Set(0) {}
}
uri used: mongodb+srv://@@u@@:@@pw@@@@@c@@.@@x@@.mongodb.net/@@d@@?retryWrites=true&w=majority""",
                a=rint(0, 255), b=rint(0, 255), u=user(), pw=pw, c=pick(["cluster0", "prod-east"]), x=rs(5, LOAL), d=db()), [pw]


def u_ftp_url_wget():
    pw = urlpw(14)
    return fill("""@@p@@wget -q --show-progress "ftp://@@u@@:@@pw@@@ftp.@@d@@/outbound/inventory_@@dd@@.csv"
inventory_@@dd@@.csv      100%[===================>]   2.31M  4.02MB/s    in 0.6s""", p=sh_prompt(), u=pick(["edi", "partner07"]),
                pw=pw, d=dom(), dd=date().replace("-", "")), [pw]


def u_amqps_url_env_k8s():
    pw = urlpw(24)
    return fill("""        env:
          - name: AMQP_URL
            value: amqps://@@u@@:@@pw@@@b-@@id@@.mq.@@r@@.amazonaws.com:5671/%2F
          - name: PREFETCH
            value: "20\"""", u=svc(), pw=pw, id=uid(), r=region()), [pw]


def u_webhook_token_query_github_actions():
    t = mixed(40)
    return fill("""      - name: Notify status page
        if: failure()
        run: curl -fsS -X POST "https://hooks.@@d@@/incoming/ci?project=@@r@@&webhook_token=@@t@@" -d status=failed""",
                d=dom(), r=repo(), t=t), [t]


def u_azure_function_code_har():
    c = mixed(54, B64URL) + "=="
    enc = quote(c, safe="")
    return fill("""{
  "startedDateTime": "@@ts@@",
  "request": {
    "method": "POST",
    "url": "https://func-@@s@@.azurewebsites.net/api/resize?code=@@enc@@",
    "httpVersion": "HTTP/2"
  },
  "response": {"status": 202, "statusText": ""}
}""", ts=ts(), s=svc(), enc=enc), [enc]


def u_minio_share_url():
    sig = hx(64)
    return fill("""@@p@@mc share download --expire 2h local/@@b@@/exports/q2.parquet
URL: http://minio.@@d@@:9000/@@b@@/exports/q2.parquet
Expire: 2 hours 0 minutes 0 seconds
Share: http://minio.@@d@@:9000/@@b@@/exports/q2.parquet?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=@@ak@@%2F@@dd@@%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=@@dd@@T120000Z&X-Amz-Expires=7200&X-Amz-SignedHeaders=host&X-Amz-Signature=@@sig@@""",
                p=sh_prompt(), b=pick(BUCKETS), d=dom(), ak=rs(20, UPAL), dd=date().replace("-", ""), sig=sig), [sig]


def u_elastic_basic_in_url():
    pw = urlpw(20)
    return fill("""output.elasticsearch:
  hosts: ["https://elastic:@@pw@@@es-@@n@@.@@d@@:9243"]
  index: "filebeat-%{[agent.version]}-%{+yyyy.MM.dd}\"""", pw=pw, n=rint(1, 3), d=dom()), [pw]


def u_cloudinary_url_env():
    k, s = str(rint(10 ** 14, 10 ** 15)), mixed(27, B64URL)
    return fill("""export CLOUDINARY_URL=cloudinary://@@k@@:@@s@@@@@c@@""", k=k, s=s, c=org()), [s]


def u_mapquest_key_go():
    k = mixed(32)
    return fill("""const geocodeURL = "https://www.mapquestapi.com/geocoding/v1/address?key=@@k@@&location=%s"

func geocode(addr string) (*Result, error) {
	resp, err := http.Get(fmt.Sprintf(geocodeURL, url.QueryEscape(addr)))""", k=k), [k]


def u_nasa_api_key_readme():
    k = mixed(40)
    return fill("""Quick check that the proxy forwards query strings:

    curl "http://localhost:8080/planetary/apod?api_key=@@k@@&count=2"

should return two APOD entries.""", k=k), [k]


def u_youtube_key_kotlin():
    k = google_api_key()
    return fill("""    @GET("youtube/v3/search?part=snippet&type=video&maxResults=25&key=@@k@@")
    suspend fun search(@Query("q") query: String): SearchResponse""", k=k), [k]


def u_systemd_telegram_curl():
    t = telegram()
    return fill("""[Unit]
Description=Notify on backup failure

[Service]
Type=oneshot
ExecStart=/usr/bin/curl -s -X POST https://api.telegram.org/bot@@t@@/sendMessage -d chat_id=@@c@@ -d text="backup failed on %H\"""",
                t=t, c=rint(10 ** 8, 10 ** 9)), [t]


def u_ntfy_basic_auth_query():
    raw = basic(pick(["alerts", "phone"]), urlpw(16))
    a = b64u(("Basic " + raw).encode())
    return fill("""curl -d "disk 91% on nas01" "https://ntfy.@@d@@/homelab?auth=@@a@@\"""", d=dom(), a=a), [a]


def u_mysql_url_laravel_log():
    pw = urlpw(18)
    return fill("""[@@d@@ 03:12:44] production.ERROR: SQLSTATE[HY000] [2002] Connection refused (Connection: mysql, SQL: select * from `jobs` limit 1) {"exception":"[object] (Illuminate\\\\Database\\\\QueryException(code: 2002)"}
[@@d@@ 03:12:44] production.DEBUG: DATABASE_URL=mysql://forge:@@pw@@@127.0.0.1:3306/forge""", d=date(), pw=pw), [pw]


URL_KEYS = [u_telegram_traceback, u_nginx_api_key_query, u_azure_sas_sig, u_slack_webhook_alertmanager,
            u_discord_webhook_js, u_google_chat_webhook, u_gitlab_trigger_token, u_jupyter_token, u_openweather_appid,
            u_presigned_s3_curl, u_wss_jwt_query, u_rocketchat_hook, u_loggly_input_uuid, u_algolia_query_params,
            u_key_path_segment, u_tiingo_token_python, u_gho_access_token_query, u_pip_extra_index_token,
            u_prometheus_remote_write, u_rediss_url_celery, u_mongodb_srv_in_stacktrace, u_ftp_url_wget,
            u_amqps_url_env_k8s, u_webhook_token_query_github_actions, u_azure_function_code_har, u_minio_share_url,
            u_elastic_basic_in_url, u_cloudinary_url_env, u_mapquest_key_go,
            u_nasa_api_key_readme, u_youtube_key_kotlin, u_systemd_telegram_curl, u_ntfy_basic_auth_query,
            u_mysql_url_laravel_log]


# ================================================================ SECRET: code_constants
def cc_rust_master_key_hex():
    k = hx(64)
    return fill("""// crates/vault-core/src/keyring.rs
use aes_gcm::{Aes256Gcm, KeyInit};

/// Fallback used when KEYRING_PATH is unset (local dev only!)
const MASTER_KEY_HEX: &str = "@@k@@";

pub fn default_cipher() -> Aes256Gcm {
    let key = hex::decode(MASTER_KEY_HEX).expect("hex");
    Aes256Gcm::new_from_slice(&key).expect("32 bytes")
}""", k=k), [k]


def cc_rust_diff_b64():
    k = b64e(rbytes(32))
    return fill("""diff --git a/src/mfa.rs b/src/mfa.rs
index @@a@@..@@b@@ 100644
--- a/src/mfa.rs
+++ b/src/mfa.rs
@@ -9,6 +9,7 @@ use base64::prelude::*;
 use chacha20poly1305::{aead::Aead, ChaCha20Poly1305, KeyInit};
 
 pub(crate) const TOTP_SEED_NONCE_LEN: usize = 12;
+pub(crate) const TOTP_ENC_KEY_B64: &str = "@@k@@";
 
 pub fn seal_seed(seed: &[u8]) -> Vec<u8> {""", a=short_sha(), b=short_sha(), k=k), [k]


def cc_go_const_block():
    a, b = hx(64), hx(32)
    return fill("""package session

const (
	cookieName    = "__Host-sid"
	cookieHashKey = "@@a@@"
	cookieBlockKey = "@@b@@"
	maxAge        = 14 * 24 * 3600
)

var store = securecookie.New(mustHex(cookieHashKey), mustHex(cookieBlockKey))""", a=a, b=b), [a, b]


def cc_go_byte_slice_secret():
    k = b64e(rbytes(48))
    return fill("""// internal/auth/jwt.go
var jwtSecret = []byte("@@k@@")

func Sign(c Claims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS384, c).SignedString(jwtSecret)
}""", k=k), [k]


def cc_ts_export_hex():
    k = hx(64)
    return fill("""// packages/crypto/src/constants.ts
export const ALGORITHM = "aes-256-gcm";
export const IV_LENGTH = 12;
export const ENCRYPTION_KEY_HEX = "@@k@@";
export const AUTH_TAG_LENGTH = 16;""", k=k), [k]


def cc_ts_static_readonly_buffer():
    k = b64e(rbytes(32))
    return fill("""export class WebhookVerifier {
  private static readonly SECRET = Buffer.from("@@k@@", "base64");

  static verify(body: string, signature: string): boolean {
    const mac = createHmac("sha256", WebhookVerifier.SECRET).update(body).digest("hex");
    return timingSafeEqual(Buffer.from(mac), Buffer.from(signature));
  }
}""", k=k), [k]


def cc_python_fromhex():
    k = hx(64)
    return fill("""from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FIELD_KEY = bytes.fromhex(
    "@@k@@"
)
_aead = AESGCM(FIELD_KEY)""", k=k), [k]


def cc_python_settings_salt():
    s = hx(32)
    return fill("""# settings/base.py
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
PASSWORD_SALT = "@@s@@"
INVITE_TOKEN_MAX_AGE = 60 * 60 * 48""", s=s), [s]


def cc_java_static_final_b64():
    k = b64e(rbytes(64))
    return fill("""public final class TokenService {
    private static final String TOKEN_SIGNING_KEY = "@@k@@";
    private static final Duration TTL = Duration.ofMinutes(15);

    private final SecretKey key = Keys.hmacShaKeyFor(Decoders.BASE64.decode(TOKEN_SIGNING_KEY));
}""", k=k), [k]


def cc_csharp_const_hex():
    k = HX(64)
    return fill("""internal static class LicenseCrypto
{
    private const string ApiSecretHex = "@@k@@";

    public static byte[] Sign(ReadOnlySpan<byte> payload) =>
        HMACSHA256.HashData(Convert.FromHexString(ApiSecretHex), payload);
}""", k=k), [k]


def cc_kotlin_companion_const():
    k = hx(40)
    return fill("""class SignatureInterceptor : Interceptor {
    companion object {
        private const val HMAC_KEY = "@@k@@"
        private const val HEADER = "X-Signature"
    }

    override fun intercept(chain: Interceptor.Chain): Response {""", k=k), [k]


def cc_swift_static_let():
    k = b64e(rbytes(32))
    return fill("""enum Backend {
    static let baseURL = URL(string: "https://api.@@d@@")!
    static let apiSecret = "@@k@@"
    static let timeout: TimeInterval = 20
}""", d=dom(), k=k), [k]


def cc_ruby_constant_freeze():
    k = hx(64)
    return fill("""module Webhooks
  class Verifier
    SIGNING_SECRET = "@@k@@".freeze

    def self.valid?(payload, header)
      expected = OpenSSL::HMAC.hexdigest("SHA256", SIGNING_SECRET, payload)
      Rack::Utils.secure_compare(expected, header.to_s)
    end
  end
end""", k=k), [k]


def cc_php_class_const():
    k = b64e(rbytes(32))
    return fill("""<?php

namespace App\\Support;

final class Cipher
{
    private const ENCRYPTION_KEY = '@@k@@';

    public static function seal(string $plain): string
    {
        $nonce = random_bytes(SODIUM_CRYPTO_SECRETBOX_NONCEBYTES);
        return base64_encode($nonce . sodium_crypto_secretbox($plain, $nonce, base64_decode(self::ENCRYPTION_KEY)));
    }
}""", k=k), [k]


def cc_erlang_define():
    k = b64e(rbytes(32))
    return fill("""-module(api_auth).
-export([sign/1]).

-define(API_TOKEN_KEY, <<"@@k@@">>).

sign(Payload) ->
    crypto:mac(hmac, sha256, ?API_TOKEN_KEY, Payload).""", k=k), [k]


def cc_scala3_inline_val():
    k = hx(64)
    return fill("""object Crypto:
  inline val SessionSecret = "@@k@@"
  def mac(data: Array[Byte]): Array[Byte] =
    val m = Mac.getInstance("HmacSHA256")
    m.init(SecretKeySpec(SessionSecret.getBytes(UTF_8), "HmacSHA256"))
    m.doFinal(data)""", k=k), [k]


def cc_dart_from_environment_default():
    k = mixed(48, B64URL)
    return fill("""// lib/config.dart
const apiToken = String.fromEnvironment(
  'API_TOKEN',
  defaultValue: '@@k@@',
);""", k=k), [k]


def cc_c_static_char():
    k = hx(64)
    return fill("""/* firmware/ota/verify.c */
#include "mbedtls/md.h"

static const char kWebhookSecret[] = "@@k@@";

int ota_verify(const uint8_t *img, size_t len, const uint8_t *mac) {""", k=k), [k]


def cc_zig_const():
    k = hx(64)
    return fill("""const std = @import("std");

const master_key_hex = "@@k@@";

pub fn masterKey() ![32]u8 {
    var out: [32]u8 = undefined;
    _ = try std.fmt.hexToBytes(&out, master_key_hex);
    return out;
}""", k=k), [k]


def cc_lua_module_field():
    k = b64e(rbytes(24))
    return fill("""-- lualib/app/config.lua
local M = {}
M.upstream = "http://127.0.0.1:9000"
M.token_secret = "@@k@@"
M.ttl = 300
return M""", k=k), [k]


def cc_perl_use_constant():
    k = hx(40)
    return fill("""package MyApp::Session;
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex);

use constant SESSION_KEY => '@@k@@';

sub sign { my ($v) = @_; return hmac_sha256_hex($v, SESSION_KEY) }
1;""", k=k), [k]


def cc_ocaml_let():
    k = hx(64)
    return fill("""(* lib/auth.ml *)
let secret_key = "@@k@@"

let sign payload =
  Digestif.SHA256.(hmac_string ~key:secret_key payload |> to_hex)""", k=k), [k]


def cc_fsharp_literal():
    k = b64e(rbytes(32))
    return fill("""module Auth

[<Literal>]
let SigningKey = "@@k@@"

let key = SymmetricSecurityKey(Convert.FromBase64String SigningKey)""", k=k), [k]


def cc_julia_hex2bytes():
    k = hx(64)
    return fill("""module Signer
using SHA
const API_SECRET = hex2bytes("@@k@@")
sign(msg) = bytes2hex(hmac_sha256(API_SECRET, msg))
end""", k=k), [k]


def cc_nim_const():
    k = hx(64)
    return fill("""import std/[base64, strutils]
import nimcrypto

const EncryptionKey = "@@k@@"

proc keyBytes(): seq[byte] = fromHex(EncryptionKey)""", k=k), [k]


def cc_makefile_default():
    k = b64e(rbytes(32))
    return fill("""# Makefile
SIGNING_KEY ?= @@k@@
IMAGE       ?= ghcr.io/@@o@@/@@s@@

run:
	SIGNING_KEY=$(SIGNING_KEY) go run ./cmd/@@s@@""", k=k, o=org(), s=svc()), [k]


def cc_mysql_set_aes_key():
    k = HX(64)
    return fill("""SET @aes_key = UNHEX('@@k@@');
UPDATE customers SET tax_id_enc = AES_ENCRYPT(tax_id, @aes_key) WHERE tax_id_enc IS NULL;""", k=k), [k]


def cc_terraform_locals():
    k = hx(64)
    return fill("""locals {
  name           = "@@s@@-${var.env}"
  webhook_secret = "@@k@@"
  tags           = { team = "platform", managed_by = "terraform" }
}

resource "aws_ssm_parameter" "webhook" {
  name  = "/${local.name}/webhook-secret"
  type  = "SecureString"
  value = local.webhook_secret
}""", s=svc(), k=k), [k]


def cc_go_diff_added():
    k = b64e(rbytes(32))
    return fill("""@@ -14,7 +14,8 @@ import (
 )
 
 var (
-	refreshSecret = os.Getenv("REFRESH_TOKEN_SECRET")
+	// temporarily hardcoded while we debug the staging env
+	refreshSecret = "@@k@@"
 	accessTTL     = 15 * time.Minute
 )""", k=k), [k]


def cc_rg_output():
    k = hx(64)
    return fill("""@@p@@rg -n "KEY|SECRET" src/ --type ts
src/env.ts:3:  STRIPE_SECRET_KEY: z.string().startsWith("sk_"),
src/env.ts:4:  SESSION_SECRET: z.string().min(32),
src/lib/crypto.ts:5:const AES_KEY = "@@k@@";
src/lib/crypto.ts:18:  const key = Buffer.from(AES_KEY, "hex");""", p=sh_prompt(), k=k), [k]


def cc_java_hexformat_salt():
    s = hx(32)
    return fill("""final class Passwords {
    private static final byte[] SALT = HexFormat.of().parseHex("@@s@@");

    static byte[] derive(char[] pw) throws GeneralSecurityException {
        var spec = new PBEKeySpec(pw, SALT, 310_000, 256);
        return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
    }
}""", s=s), [s]


def cc_vbnet_const():
    k = hx(32)
    return fill("""Public Module LegacyApi
    Private Const ApiKey As String = "@@k@@"
    Private Const BaseUrl As String = "https://legacy.@@d@@/soap/v1"

    Public Function Client() As OrdersSoapClient
        Dim c = New OrdersSoapClient(BaseUrl)
        c.ClientCredentials.UserName.Password = ApiKey
        Return c
    End Function
End Module""", k=k, d=dom()), [k]


def cc_hardhat_deployer_key():
    k = "0x" + hx(64)
    return fill("""import { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";

const DEPLOYER_PRIVATE_KEY = "@@k@@";

const config: HardhatUserConfig = {
  solidity: "0.8.24",
  networks: {
    base: { url: "https://mainnet.base.org", accounts: [DEPLOYER_PRIVATE_KEY] },
  },
};
export default config;""", k=k), [k]


def cc_ts_config_object():
    a, b = b64e(rbytes(32)), hx(64)
    return fill("""// config/default.ts
export default {
  port: 3000,
  jwtSecret: "@@a@@",
  cookieSecret: "@@b@@",
  corsOrigins: ["https://app.@@d@@"],
};""", a=a, b=b, d=dom()), [a, b]


def cc_python_class_attr_b64decode():
    s = b64e(rbytes(16))
    k = b64e(rbytes(32))
    return fill("""class Config:
    DEBUG = False
    TOKEN_SECRET = "@@k@@"
    RESET_SALT = base64.b64decode("@@s@@")
    SQLALCHEMY_TRACK_MODIFICATIONS = False""", k=k, s=s), [k, s]


def cc_rust_byte_string():
    k = mixed(43, B64URL)
    return fill("""const API_TOKEN_KEY: &[u8] = b"@@k@@";

fn verify(sig: &str, body: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(API_TOKEN_KEY).unwrap();
    mac.update(body);
    mac.verify_slice(&hex::decode(sig).unwrap_or_default()).is_ok()
}""", k=k), [k]


def cc_objc_nsstring_const():
    k = hx(40)
    return fill("""// APIClient.m
static NSString * const kAPISecret = @"@@k@@";
static NSString * const kAPIBase = @"https://api.@@d@@/v3";

- (NSString *)signatureFor:(NSData *)body {
    return [body hmacSHA256HexWithKey:kAPISecret];
}""", k=k, d=dom()), [k]


CODE_CONSTANTS = [cc_rust_master_key_hex, cc_rust_diff_b64, cc_go_const_block, cc_go_byte_slice_secret,
                  cc_ts_export_hex, cc_ts_static_readonly_buffer, cc_python_fromhex, cc_python_settings_salt,
                  cc_java_static_final_b64, cc_csharp_const_hex, cc_kotlin_companion_const, cc_swift_static_let,
                  cc_ruby_constant_freeze, cc_php_class_const, cc_erlang_define, cc_scala3_inline_val,
                  cc_dart_from_environment_default, cc_c_static_char, cc_zig_const, cc_lua_module_field,
                  cc_perl_use_constant, cc_ocaml_let, cc_fsharp_literal, cc_julia_hex2bytes, cc_nim_const,
                  cc_makefile_default, cc_mysql_set_aes_key, cc_terraform_locals, cc_go_diff_added, cc_rg_output,
                  cc_java_hexformat_salt, cc_vbnet_const, cc_hardhat_deployer_key, cc_ts_config_object,
                  cc_python_class_attr_b64decode, cc_rust_byte_string, cc_objc_nsstring_const]


# ================================================================ SECRET: common_shapes
def cs_dotenv_file():
    pw, s1, s2, s3 = urlpw(22), stripe_live(), whsec(), b64e(rbytes(32))
    return fill("""# .env — do not commit
APP_URL=https://@@d@@
DATABASE_URL=postgresql://@@u@@:@@pw@@@@@h@@:5432/@@db@@
STRIPE_SECRET_KEY=@@s1@@
STRIPE_WEBHOOK_SECRET=@@s2@@
AUTH_SECRET="@@s3@@"
SMTP_HOST=smtp.postmarkapp.com""", d=dom(), u=user(), pw=pw, h=host(), db=db(), s1=s1, s2=s2, s3=s3), [pw, s1, s2, s3]


def cs_psql_uri():
    pw = urlpw(20)
    return fill("""@@p@@psql "postgresql://@@u@@:@@pw@@@@@h@@:5432/@@d@@?sslmode=verify-full" -c "select count(*) from orders where created_at > now() - interval '1 day'"
 count
-------
  @@n@@
(1 row)""", p=sh_prompt(), u=user(), pw=pw, h=host(), d=db(), n=rint(100, 99999)), [pw]


def cs_curl_bearer_ghp():
    t = ghp()
    return fill("""@@p@@curl -sS -H "Authorization: Bearer @@t@@" -H "Accept: application/vnd.github+json" \\
    https://api.github.com/repos/@@o@@/@@r@@/actions/runs?per_page=1 | jq '.workflow_runs[0] | {id, status, conclusion}'
{
  "id": @@id@@,
  "status": "completed",
  "conclusion": "failure"
}""", p=sh_prompt(), t=t, o=org(), r=repo(), id=rint(10 ** 9, 10 ** 10)), [t]


def cs_basic_header_http_log():
    u, pw = pick(["svc-export", "partner-api", "reporting"]), urlpw(18)
    b = basic(u, pw)
    return fill("""> GET /api/v2/exports?since=@@d@@ HTTP/1.1
> Host: erp.@@dm@@
> User-Agent: Go-http-client/2.0
> Authorization: Basic @@b@@
> Accept-Encoding: gzip
>
< HTTP/1.1 200 OK
< Content-Type: application/json; charset=utf-8""", d=date(), dm=dom(), b=b), [b]


def cs_az_postgres_admin_password():
    pw = shellpw(20)
    return fill("""@@p@@az postgres flexible-server create -g rg-@@r@@ -n pg-@@r@@-prod --location westeurope \\
    --admin-user pgadmin --admin-password '@@pw@@' --sku-name Standard_D2ds_v5 --tier GeneralPurpose --version 16
Checking the existence of the resource group 'rg-@@r@@'...
Creating PostgreSQL Server 'pg-@@r@@-prod' in group 'rg-@@r@@'...""", p=sh_prompt(), r=repo(), pw=pw), [pw]


def cs_kcadm_password():
    pw = shellpw(16)
    return fill("""$ /opt/keycloak/bin/kcadm.sh config credentials --server http://localhost:8080 --realm master --user admin --password '@@pw@@'
Logging into http://localhost:8080 as user admin of realm master
$ /opt/keycloak/bin/kcadm.sh get realms --fields realm
[ { "realm" : "master" }, { "realm" : "@@o@@" } ]""", pw=pw, o=org()), [pw]


def cs_spring_boot_arg_password():
    pw = shellpw(18)
    return fill("""ExecStart=/usr/bin/java -Xms512m -Xmx2g -jar /opt/@@s@@/@@s@@.jar \\
  --spring.profiles.active=prod \\
  --spring.datasource.url=jdbc:postgresql://@@h@@:5432/@@d@@ \\
  --spring.datasource.username=@@u@@ \\
  --spring.datasource.password=@@pw@@""", s=svc(), h=host(), d=db(), u=user(), pw=pw), [pw]


def cs_docker_login_stdin_echo():
    t = ghp()
    return fill("""@@p@@echo @@t@@ | docker login ghcr.io -u @@u@@ --password-stdin
Login Succeeded
@@p@@docker push ghcr.io/@@o@@/@@s@@:@@v@@""", p=sh_prompt(), t=t, u=user(), o=org(), s=svc(), v=short_sha()), [t]


def cs_kubectl_docker_registry_secret():
    pw = mixed(32, ALNUM + "+/")
    return fill("""@@p@@kubectl create secret docker-registry harbor-pull -n @@ns@@ \\
    --docker-server=harbor.@@d@@ --docker-username='robot$@@r@@+puller' \\
    --docker-password='@@pw@@' --docker-email=ops@@@d@@
secret/harbor-pull created""", p=sh_prompt(), ns=pick(["apps", "prod", "jobs"]), d=dom(), r=repo(), pw=pw), [pw]


def cs_kubectl_generic_multi_literal():
    a, b = mixed(40, B64URL), urlpw(24)
    return fill("""kubectl -n @@ns@@ create secret generic @@s@@-env \\
  --from-literal=API_TOKEN=@@a@@ \\
  --from-literal=REDIS_PASSWORD=@@b@@ \\
  --dry-run=client -o yaml | kubeseal --format yaml > sealed/@@s@@-env.yaml""", ns=pick(["prod", "apps"]), s=svc(), a=a, b=b), [a, b]


def cs_git_insteadof_token():
    t = github_pat()
    return fill("""# Dockerfile (builder stage)
RUN git config --global url."https://@@t@@@github.com/".insteadOf "https://github.com/" \\
 && go mod download""", t=t), [t]


def cs_slack_bolt_app():
    t, s = xoxb(), hx(32)
    return fill("""import { App } from "@slack/bolt";

const app = new App({
  token: "@@t@@",
  signingSecret: "@@s@@",
});

app.command("/deploy", async ({ ack, respond }) => {
  await ack();
  await respond("queued");
});""", t=t, s=s), [t, s]


def cs_stripe_curl_u():
    k = stripe_live()
    return fill("""curl https://api.stripe.com/v1/refunds \\
  -u "@@k@@:" \\
  -d charge=ch_@@c@@ \\
  -d reason=requested_by_customer""", k=k, c=mixed(24)), [k]


def cs_glab_auth_token():
    t = glpat()
    return fill("""@@p@@glab auth login --hostname gitlab.@@d@@ --token @@t@@
- glab config set -h gitlab.@@d@@ git_protocol https
✓ Configured git protocol
✓ Logged in to gitlab.@@d@@ as @@u@@""", p=sh_prompt(), d=dom(), t=t, u=user()), [t]


def cs_aws_credentials_file():
    i, s = aws_id(), aws_secret()
    return fill("""@@p@@cat ~/.aws/credentials
[default]
region = @@r@@

[@@pr@@]
aws_access_key_id = @@i@@
aws_secret_access_key = @@s@@""", p=sh_prompt(), r=region(), pr=pick(["legacy-prod", "billing", "personal"]), i=i, s=s), [i, s]


def cs_npmrc_file():
    t = npm_token()
    return fill("""@@scope@@:registry=https://registry.npmjs.org/
//registry.npmjs.org/:_authToken=@@t@@
engine-strict=true
save-exact=true""", scope="@" + org(), t=t), [t]


def cs_hf_cli_login():
    t = hf_token()
    return fill("""(.venv) @@p@@huggingface-cli login --token @@t@@ --add-to-git-credential
Token is valid (permission: write).
Your token has been saved in your configured git credential helpers (store).
Your token has been saved to /home/@@u@@/.cache/huggingface/token
Login successful""", p=sh_prompt(), t=t, u=user()), [t]


def cs_django_email_password():
    k = sendgrid()
    return fill("""EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "smtp.sendgrid.net"
EMAIL_HOST_USER = "apikey"
EMAIL_HOST_PASSWORD = "@@k@@"
EMAIL_PORT = 587
EMAIL_USE_TLS = True""", k=k), [k]


def cs_zshrc_homebrew_token():
    t = github_pat()
    return fill("""# ~/.zshrc
export PATH="$HOME/.local/bin:$PATH"
export HOMEBREW_NO_ANALYTICS=1
export HOMEBREW_GITHUB_API_TOKEN=@@t@@
eval "$(starship init zsh)\"""", t=t), [t]


def cs_uv_publish_token():
    t = pypi_token()
    return fill("""@@p@@uv build && uv publish --token @@t@@
Building source distribution...
Successfully built dist/@@pkg@@-@@v@@.tar.gz
Successfully built dist/@@pkg@@-@@v@@-py3-none-any.whl
Publishing 2 files https://upload.pypi.org/legacy/""", p=sh_prompt(), t=t, pkg=org().replace("-", "_"), v=ver()), [t]


def cs_openai_client_literal():
    k = openai_proj()
    return fill("""from openai import OpenAI

client = OpenAI(api_key="@@k@@")
resp = client.responses.create(model="gpt-4.1-mini", input="Summarise the failing test output")
print(resp.output_text)""", k=k), [k]


def cs_doctl_auth_init():
    t = "dop_v1_" + hx(64)
    return fill("""@@p@@doctl auth init --context @@c@@ -t @@t@@
Validating token... OK""", p=sh_prompt(), c=org(), t=t), [t]


def cs_vault_token_inline_env():
    t = vault_token()
    return fill("""@@p@@VAULT_ADDR=https://vault.@@d@@ VAULT_TOKEN=@@t@@ vault kv list secret/@@s@@
Keys
----
config
database""", p=sh_prompt(), d=dom(), t=t, s=svc()), [t]


def cs_tf_token_env():
    t = tfc_token()
    return fill("""export TF_TOKEN_app_terraform_io="@@t@@"
terraform -chdir=envs/prod init -upgrade""", t=t), [t]


def cs_cat_ssh_key():
    pem = openssh_pem()
    return fill("""@@p@@cat ~/.ssh/deploy_@@r@@
@@pem@@
@@p@@chmod 600 ~/.ssh/deploy_@@r@@""", p=sh_prompt(), r=repo(), pem=pem), [pem_body(pem)]


def cs_k8s_tls_secret_yaml():
    pem = pkcs8_pem()
    ind = "\n".join("    " + ln for ln in pem.split("\n"))
    body = "\n".join("    " + ln for ln in pem.split("\n")[1:-1])
    return fill("""apiVersion: v1
kind: Secret
metadata:
  name: @@s@@-tls
type: kubernetes.io/tls
stringData:
  tls.crt: |
    -----BEGIN CERTIFICATE-----
    MIIB@@c@@
    -----END CERTIFICATE-----
  tls.key: |
@@ind@@""", s=svc(), c=mixed(60, B64), ind=ind), [body]


def cs_cookie_jwt_header():
    t = jwt({"sub": uid(), "role": "admin", "sid": hx(16)})
    return fill("""GET /admin/api/users?page=2 HTTP/2
Host: app.@@d@@
Cookie: _ga=GA1.1.@@ga@@; session=@@t@@; theme=dark
Sec-Fetch-Mode: cors""", d=dom(), ga="%d.%d" % (rint(10 ** 8, 10 ** 9), epoch()), t=t), [t]


def cs_slack_socket_mode_env():
    a, b = xapp(), xoxb()
    return fill("""SLACK_APP_TOKEN=@@a@@
SLACK_BOT_TOKEN=@@b@@
SOCKET_MODE=true""", a=a, b=b), [a, b]


def cs_okta_powershell():
    t = okta_ssws()
    return fill("""$headers = @{ Authorization = "SSWS @@t@@"; Accept = "application/json" }
Invoke-RestMethod -Uri "https://@@o@@.okta.com/api/v1/users?filter=status eq `"LOCKED_OUT`"" -Headers $headers""",
                t=t, o=org()), [t]


def cs_requests_auth_tuple():
    pw = password(18)
    return fill("""resp = requests.get(
    f"{JIRA}/rest/api/2/search",
    params={"jql": "project = OPS AND status = Open"},
    auth=("@@e@@", "@@pw@@"),
    timeout=10,
)""", e=email(), pw=pw), [pw]


def cs_nodemailer_transport():
    pw = password(16, ALNUM + "!#%*-_")
    return fill("""const transporter = nodemailer.createTransport({
  host: "smtp.office365.com",
  port: 587,
  secure: false,
  auth: { user: "alerts@@@d@@", pass: "@@pw@@" },
});""", d=dom(), pw=pw), [pw]


def cs_sqlalchemy_mssql_url():
    pw = urlpw(18)
    return fill("""engine = create_engine(
    "mssql+pyodbc://@@u@@:@@pw@@@@@h@@:1433/@@d@@?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes",
    pool_pre_ping=True,
)""", u=user(), pw=pw, h="sql-%s.database.windows.net" % org(), d=db()), [pw]


def cs_redis_cli_auth_session():
    pw = mixed(32)
    return fill("""@@p@@redis-cli -h @@h@@ -p 6379
@@h@@:6379> AUTH default @@pw@@
OK
@@h@@:6379> DBSIZE
(integer) @@n@@""", p=sh_prompt(), h=pick(["10.30.1.8", "redis-master.cache.svc"]), pw=pw, n=rint(100, 100000)), [pw]


def cs_mysql_create_user():
    pw = password(18, ALNUM + "!#%*-_")
    return fill("""mysql> CREATE USER '@@u@@'@'10.%' IDENTIFIED BY '@@pw@@';
Query OK, 0 rows affected (0.02 sec)

mysql> GRANT SELECT, INSERT, UPDATE ON @@d@@.* TO '@@u@@'@'10.%';
Query OK, 0 rows affected (0.01 sec)""", u=svc().replace("-", "_"), pw=pw, d=db()), [pw]


def cs_curl_u_elastic():
    pw = urlpw(20)
    return fill("""@@p@@curl -s -u elastic:@@pw@@ "https://es.@@d@@:9200/_cluster/health?pretty" | head -5
{
  "cluster_name" : "@@o@@-logs",
  "status" : "yellow",
  "timed_out" : false,""", p=sh_prompt(), pw=pw, d=dom(), o=org()), [pw]


def cs_helm_set_password():
    pw = shellpw(20)
    return fill("""@@p@@helm upgrade --install pg bitnami/postgresql -n data --set auth.postgresPassword='@@pw@@' --set primary.persistence.size=50Gi
Release "pg" has been upgraded. Happy Helming!
NAME: pg
LAST DEPLOYED: @@d@@
NAMESPACE: data
STATUS: deployed
REVISION: @@n@@""", p=sh_prompt(), pw=pw, d=date(), n=rint(2, 30)), [pw]


def cs_heroku_config_set():
    k = stripe_live()
    return fill("""@@p@@heroku config:set STRIPE_SECRET_KEY=@@k@@ -a @@o@@-api
Setting STRIPE_SECRET_KEY and restarting ⬢ @@o@@-api... done, v@@n@@""", p=sh_prompt(), k=k, o=org(), n=rint(40, 400)), [k]


def cs_gha_workflow_hardcoded_env():
    t = xoxb()
    return fill("""name: nightly
on:
  schedule: [{cron: "0 3 * * *"}]
jobs:
  report:
    runs-on: ubuntu-latest
    env:
      SLACK_BOT_TOKEN: @@t@@
    steps:
      - uses: actions/checkout@v4
      - run: python scripts/nightly_report.py""", t=t), [t]


def cs_compose_env_list():
    pw = urlpw(24)
    return fill("""services:
  minio:
    image: quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z
    command: server /data --console-address ":9001"
    environment:
      - MINIO_ROOT_USER=@@u@@
      - MINIO_ROOT_PASSWORD=@@pw@@
    ports: ["9000:9000", "9001:9001"]""", u=pick(["admin", "minio-root"]), pw=pw), [pw]


def cs_setx_windows():
    k = anthropic_key()
    return fill("""C:\\Users\\@@u@@> setx ANTHROPIC_API_KEY "@@k@@"

SUCCESS: Specified value was saved.""", u=user(), k=k), [k]


COMMON_SHAPES = [cs_dotenv_file, cs_psql_uri, cs_curl_bearer_ghp, cs_basic_header_http_log,
                 cs_az_postgres_admin_password, cs_kcadm_password, cs_spring_boot_arg_password,
                 cs_docker_login_stdin_echo, cs_kubectl_docker_registry_secret, cs_kubectl_generic_multi_literal,
                 cs_git_insteadof_token, cs_slack_bolt_app, cs_stripe_curl_u, cs_glab_auth_token,
                 cs_aws_credentials_file, cs_npmrc_file, cs_hf_cli_login, cs_django_email_password,
                 cs_zshrc_homebrew_token, cs_uv_publish_token, cs_openai_client_literal, cs_doctl_auth_init,
                 cs_vault_token_inline_env, cs_tf_token_env, cs_cat_ssh_key, cs_k8s_tls_secret_yaml,
                 cs_cookie_jwt_header, cs_slack_socket_mode_env, cs_okta_powershell, cs_requests_auth_tuple,
                 cs_nodemailer_transport, cs_sqlalchemy_mssql_url, cs_redis_cli_auth_session, cs_mysql_create_user,
                 cs_curl_u_elastic, cs_helm_set_password, cs_heroku_config_set, cs_gha_workflow_hardcoded_env,
                 cs_compose_env_list, cs_setx_windows]


# ================================================================ CLEAN: doc_example
AWS_EX_ID, AWS_EX_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_EX_ID2, AWS_EX_SECRET2 = "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
JWT_IO = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
          ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
STRIPE_PK_DOCS = "pk_test_TYooMQauvdEDq54NiTphI7jx"


def de_aws_rust_doc_comment():
    return fill("""/// Builds a client from static keys.
///
/// # Example
///
/// ```no_run
/// let creds = Credentials::new(
///     "@@i@@",
///     "@@s@@",
///     None, None, "example",
/// );
/// let client = @@c@@::from_static(creds, "us-west-2");
/// ```
pub fn from_static(creds: Credentials, region: &'static str) -> Self {""", i=AWS_EX_ID, s=AWS_EX_SECRET,
                c=pick(["BlobClient", "Uploader", "Store"]))


def de_aws_second_pair_profiles():
    return fill("""Named profiles live in the shared credentials file. For example, with two profiles:

```ini
[default]
aws_access_key_id=@@i@@
aws_secret_access_key=@@s@@

[user1]
aws_access_key_id=@@i2@@
aws_secret_access_key=@@s2@@
```

Run `aws s3 ls --profile user1` to use the second one.""", i=AWS_EX_ID, s=AWS_EX_SECRET, i2=AWS_EX_ID2, s2=AWS_EX_SECRET2)


def de_aws_session_token_docs():
    return """```console
$ export AWS_ACCESS_KEY_ID=ASIAIOSFODNN7EXAMPLE
$ export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
$ export AWS_SESSION_TOKEN=AQoDYXdzEJr...<remainder of session token>
```
These values are from the AWS documentation; substitute the output of `aws sts get-session-token`."""


def de_jwtio_sample_walkthrough():
    return fill("""Here's the classic sample from jwt.io so you can see the three parts:

```
@@t@@
```

- header  → `{"alg":"HS256","typ":"JWT"}`
- payload → `{"sub":"1234567890","name":"John Doe","iat":1516239022}`
- signature → HMAC-SHA256 over `header.payload` with the demo secret `your-256-bit-secret`

Your middleware should reject it because `exp` is missing.""", t=JWT_IO)


def de_stripe_js_docs_pk():
    return fill("""<!-- from the Stripe Elements quickstart -->
<script src="https://js.stripe.com/v3/"></script>
<script>
  // Set your publishable key: remember to change this to your live publishable key in production
  const stripe = Stripe('@@k@@');
  const elements = stripe.elements();
</script>""", k=STRIPE_PK_DOCS)


def de_sentry_example_dsn():
    return """import * as Sentry from "@sentry/node";

Sentry.init({
  dsn: "https://examplePublicKey@o0.ingest.sentry.io/0",
  tracesSampleRate: 1.0,
});"""


def de_env_sample_your_key_here():
    return """# .env.sample — copy to .env and fill in
OPENAI_API_KEY=your-openai-key-here
ANTHROPIC_API_KEY=your-anthropic-key-here
DATABASE_URL=postgresql://postgres:postgres@localhost:5432/app_dev
SESSION_SECRET=your-session-secret-here
S3_BUCKET=your-bucket-name"""


def de_helm_changeme():
    return fill("""auth:
  ## @param auth.username Name of the application user
  username: @@u@@
  ## @param auth.password Password for the application user (ignored if existingSecret is set)
  ## Don't ship this: override with --set auth.password or use existingSecret
  password: changeme
  ## @param auth.existingSecret Name of an existing secret with keys `password` and `replication-password`
  existingSecret: \"\"""", u=svc().replace("-", "_"))


def de_redaction_unit_test():
    return """def test_redacts_token_query_param():
    assert redact("GET /cb?token=abc123&state=xyz") == "GET /cb?token=[REDACTED]&state=xyz"


def test_keeps_plain_text():
    assert redact("the token bucket refills at 10/s") == "the token bucket refills at 10/s\""""


def de_sequential_hex_readme():
    return """### Configuration

| variable | example | notes |
|---|---|---|
| `API_KEY` | `1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d` | any 32 hex chars work against the mock server |
| `API_URL` | `http://localhost:4010` | Prism mock of openapi.yaml |"""


def de_all_zero_secret_compose():
    return """# docker-compose.ci.yml — throwaway values for the integration suite
services:
  api:
    environment:
      SECRET_KEY_BASE: "0000000000000000000000000000000000000000000000000000000000000000"
      JWT_SECRET: "00000000000000000000000000000000"
      DATABASE_URL: postgres://postgres:postgres@db:5432/test"""


def de_x_uuid_placeholder():
    return """{
  "name": "my-integration",
  "apiKey": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
  "workspaceId": "00000000-0000-0000-0000-000000000000"
}"""


def de_contributing_ghp_x():
    return """## Running the release script locally

You need a classic token with `repo` scope:

```sh
export GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
./scripts/release.sh --dry-run
```"""


def de_go_test_token_not_real():
    return """func TestClientSetsAuthHeader(t *testing.T) {
	const testToken = "test-token-not-real"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Fatalf("Authorization = %q", got)
		}
	}))
	defer srv.Close()
	_ = New(srv.URL, testToken).Ping(context.Background())
}"""


def de_postgres_image_example():
    return """# Use postgres/example user/password credentials
services:
  db:
    image: postgres
    restart: always
    environment:
      POSTGRES_PASSWORD: example
  adminer:
    image: adminer
    ports:
      - 8080:8080"""


def de_slack_your_token():
    return """SLACK_BOT_TOKEN=xoxb-your-token
SLACK_SIGNING_SECRET=your-signing-secret
SLACK_APP_TOKEN=xapp-your-app-level-token"""


def de_issue_redacted_token():
    return fill("""**Describe the bug**
`@@c@@ login` fails with 401 even though the token works with curl.

**To Reproduce**
```
$ @@c@@ login --token [REDACTED]
Error: authentication failed (HTTP 401)
$ curl -H "Authorization: token [REDACTED]" https://api.@@d@@/user
{"login": "@@u@@"}
```

**Version** @@v@@""", c=pick(["acme", "shipit", "dplr"]), d=dom(), u=user(), v=ver())


def de_rspec_fake_api_key():
    return """RSpec.describe Billing::Client do
  let(:api_key) { "fake-api-key" }
  subject(:client) { described_class.new(api_key: api_key) }

  it "sends the key as a bearer token" do
    stub = stub_request(:get, "https://billing.test/v1/plans").with(headers: { "Authorization" => "Bearer fake-api-key" })
    client.plans
    expect(stub).to have_been_requested
  end
end"""


def de_phpunit_test_secret():
    return """    protected function getEnvironmentSetUp($app): void
    {
        $app['config']->set('services.webhooks', [
            'secret' => 'test_secret',
            'tolerance' => 300,
        ]);
    }"""


def de_java_test_property_source():
    return """@SpringBootTest
@TestPropertySource(properties = {
    "jwt.secret=testsecrettestsecrettestsecrettestsecret",
    "jwt.ttl=PT5M"
})
class JwtServiceTest {"""


def de_appsettings_dev_placeholder():
    return """{
  "Logging": { "LogLevel": { "Default": "Debug" } },
  "Payments": {
    "ApiKey": "dev-placeholder",
    "WebhookSecret": "dev-placeholder",
    "BaseUrl": "https://sandbox.payments.local"
  }
}"""


def de_ts_mock_stripe_key():
    return """vi.mock("../lib/stripe", () => ({
  stripe: new Stripe("sk_test_mock_1234567890", { apiVersion: "2025-09-30.clover" }),
}));"""


def de_prose_replace_angle():
    return """Replace `<YOUR_API_KEY>` with the key from **Settings → API** and `<PROJECT_ID>` with the id shown under the project name:

```bash
curl -H "x-api-key: <YOUR_API_KEY>" https://api.example.com/v1/projects/<PROJECT_ID>/runs
```"""


def de_masked_log_stars():
    return fill("""@@t1@@ DEBUG http.client  > POST /oauth/token
@@t2@@ DEBUG http.client  > Authorization: Bearer ***
@@t3@@ DEBUG http.client  > body: grant_type=password&username=@@u@@&password=********
@@t4@@ DEBUG http.client  < 200 OK (access_token=***, refresh_token=***)""", t1=ts(), t2=ts(), t3=ts(), t4=ts(), u=user())


def de_openapi_example_sample():
    return """components:
  securitySchemes:
    ApiKeyAuth:
      type: apiKey
      in: header
      name: X-API-Key
  parameters:
    ApiKeyHeader:
      name: X-API-Key
      in: header
      required: true
      schema: { type: string }
      example: sample-api-key-123"""


def de_invalid_token_test():
    return """def test_rejects_malformed_jwt(client):
    invalid_token = "invalid.jwt.token"
    r = client.get("/me", headers={"Authorization": f"Bearer {invalid_token}"})
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "error_description": "Token is malformed"}"""


def de_openai_masked_error():
    return """openai.AuthenticationError: Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-proj-********************************************************************************************************************************************************Wq3A. You can find your API key at https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error', 'param': None, 'code': 'invalid_api_key'}}"""


def de_tf_replace_me():
    return """variable "datadog_api_key" {
  type        = string
  description = "Datadog API key for the agent (set in terraform.tfvars, never here)"
  default     = "REPLACE_ME"
  sensitive   = true
}"""


def de_seeds_password():
    return """# db/seeds.rb — development only
User.find_or_create_by!(email: "admin@example.com") do |u|
  u.password = "password"
  u.password_confirmation = "password"
  u.admin = true
end"""


def de_fixtures_test_token():
    return """# spec/fixtures/integrations.yml
github:
  installation_id: 12345
  api_token: test_token_123
slack:
  bot_token: test-bot-token
  signing_secret: test-signing-secret"""


def de_pgpass_changeme_docs():
    return """For the local stack, put this in `~/.pgpass` (mode 0600) so `make psql` doesn't prompt:

```
localhost:5432:*:postgres:changeme
```

`changeme` is the password baked into `docker/dev-db.Dockerfile`; it is not used anywhere else."""


def de_cypress_env_test():
    return """{
  "baseUrl": "http://localhost:3000",
  "env": {
    "loginEmail": "e2e@example.test",
    "loginPassword": "Test1234!",
    "apiToken": "dummy-e2e-token"
  }
}"""


def de_abcdef_sequence():
    return """# config/test.exs
config :my_app, MyAppWeb.Endpoint,
  secret_key_base: String.duplicate("abcdef0123456789", 4)

config :my_app, :webhook_secret, "abcdef0123456789abcdef0123456789\""""


def de_mysql_docs_jeffrey():
    return """From the MySQL manual, creating a local account:

```sql
CREATE USER 'jeffrey'@'localhost' IDENTIFIED BY 'password';
GRANT ALL ON db1.* TO 'jeffrey'@'localhost';
```

In our migration we do the same but read the password from `MYSQL_APP_PASSWORD`."""


def de_whsec_example_only():
    return """STRIPE_WEBHOOK_SECRET=whsec_example_only
STRIPE_SECRET_KEY=sk_test_your_key_here"""


def de_k8s_placeholder_stringdata():
    return """apiVersion: v1
kind: Secret
metadata:
  name: analytics-api
type: Opaque
stringData:
  api-key: "<placeholder>"        # filled by the deploy pipeline
  api-secret: "<placeholder>\""""


def de_sendgrid_xxx():
    return """Set `SENDGRID_API_KEY` to a key created under Settings → API Keys. It looks like
`SG.xxxxxxxxxxxxxxxxxxxxxx.yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy` (the part before the second dot is the key id)."""


def de_sample_oauth_client_json():
    return """// test/fixtures/oauth-client.json
{
  "client_id": "sample-client-id",
  "client_secret": "sample-client-secret",
  "redirect_uris": ["http://localhost:8080/callback"]
}"""


def de_curl_dummy_dummy():
    return """# The mock registry accepts any credentials
curl -u dummy:dummy http://localhost:5000/v2/_catalog
{"repositories":["demo/api","demo/web"]}"""


def de_rfc6070_vector_test():
    return """def test_pbkdf2_sha1_rfc6070_case1():
    # RFC 6070 test vector: P = "password", S = "salt", c = 1, dkLen = 20
    dk = hashlib.pbkdf2_hmac("sha1", b"password", b"salt", 1, 20)
    assert dk.hex() == "0c60c80f961f0e71f3a9b524af6012062fe037a6\""""


def de_firebase_docs_placeholders():
    return """// Your web app's Firebase configuration
const firebaseConfig = {
  apiKey: "API_KEY",
  authDomain: "PROJECT_ID.firebaseapp.com",
  projectId: "PROJECT_ID",
  storageBucket: "PROJECT_ID.appspot.com",
  messagingSenderId: "SENDER_ID",
  appId: "APP_ID",
};"""


def de_python_aes_test_key_sequential():
    return """    def test_roundtrip(self):
        key = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        box = SecretBox(key)
        self.assertEqual(box.decrypt(box.encrypt(b"hello")), b"hello")"""


def de_notebook_redacted_output():
    return """In [3]: os.environ.get("HF_TOKEN")
Out[3]: 'hf_****REDACTED****'

In [4]: os.environ.get("WANDB_API_KEY") is None
Out[4]: True"""


def de_ini_invalid_example_values():
    return """; example.ini — shipped with the package, values are invalid on purpose
[api]
endpoint = https://api.example.com
key      = invalid-example-key
secret   = invalid-example-secret
timeout  = 30"""


DOC_EXAMPLE = [de_aws_rust_doc_comment, de_aws_second_pair_profiles, de_aws_session_token_docs, de_jwtio_sample_walkthrough,
               de_stripe_js_docs_pk, de_sentry_example_dsn, de_env_sample_your_key_here, de_helm_changeme,
               de_redaction_unit_test, de_sequential_hex_readme, de_all_zero_secret_compose, de_x_uuid_placeholder,
               de_contributing_ghp_x, de_go_test_token_not_real, de_postgres_image_example, de_slack_your_token,
               de_issue_redacted_token, de_rspec_fake_api_key, de_phpunit_test_secret, de_java_test_property_source,
               de_appsettings_dev_placeholder, de_ts_mock_stripe_key, de_prose_replace_angle, de_masked_log_stars,
               de_openapi_example_sample, de_invalid_token_test, de_openai_masked_error, de_tf_replace_me,
               de_seeds_password, de_fixtures_test_token, de_pgpass_changeme_docs, de_cypress_env_test,
               de_abcdef_sequence, de_mysql_docs_jeffrey, de_whsec_example_only, de_k8s_placeholder_stringdata,
               de_sendgrid_xxx, de_sample_oauth_client_json, de_curl_dummy_dummy, de_rfc6070_vector_test,
               de_firebase_docs_placeholders, de_python_aes_test_key_sequential, de_notebook_redacted_output,
               de_ini_invalid_example_values]


# ================================================================ CLEAN: references
def vault_body(n=None, indent=""):
    n = n or rint(24, 60)
    payload = hx(64) + "\n" + hx(64) + "\n" + hx(2 * n)
    body = payload.encode().hex()
    return "\n".join(indent + body[i:i + 80] for i in range(0, len(body), 80))


def sops_enc(nbytes=None, typ="str"):
    nbytes = nbytes or rint(8, 40)
    return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]" % (b64e(rbytes(nbytes)), b64e(rbytes(32)), b64e(rbytes(16)), typ)


def age_recipient():
    return "age1" + rs(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l")


def age_armor(indent=""):
    body = b64e(b"age-encryption.org/v1\n-> X25519 " + rbytes(rint(180, 220)))
    lines = ["-----BEGIN AGE ENCRYPTED FILE-----"] + wrap(body, 64).split("\n") + ["-----END AGE ENCRYPTED FILE-----"]
    return "\n".join(indent + ln for ln in lines)


def sealed_value():
    return "AgB" + b64e(rbytes(rint(560, 700)))[:rint(700, 900)]


def fernet_token(plen=None):
    plen = plen or pick([16, 32, 48])
    raw = b"\x80" + (epoch()).to_bytes(8, "big") + rbytes(16) + rbytes(plen) + rbytes(32)
    return base64.urlsafe_b64encode(raw).decode()


def rf_ansible_vault_inline():
    return fill("""# group_vars/prod/main.yml
app_db_user: @@u@@
app_db_password: !vault |
          $ANSIBLE_VAULT;1.1;AES256
@@v@@
smtp_relay: smtp.@@d@@
smtp_password: !vault |
          $ANSIBLE_VAULT;1.1;AES256
@@v2@@""", u=svc().replace("-", "_"), v=vault_body(indent="          "), d=dom(), v2=vault_body(indent="          "))


def rf_ansible_vault_file_head():
    return fill("""@@p@@head -4 inventories/prod/group_vars/all/vault.yml
$ANSIBLE_VAULT;1.2;AES256;prod
@@v@@
@@p@@ansible-vault view --vault-id prod@prompt inventories/prod/group_vars/all/vault.yml | wc -l
Vault password (prod):
@@n@@""", p=sh_prompt(), v="\n".join(vault_body(40).split("\n")[:3]), n=rint(8, 60))


def rf_sops_yaml_age():
    return fill("""database:
    user: @@u@@
    password: @@e1@@
stripe:
    secret_key: @@e2@@
sops:
    kms: []
    age:
        - recipient: @@r@@
          enc: |
@@arm@@
    lastmodified: "@@ts@@"
    mac: @@mac@@
    unencrypted_suffix: _unencrypted
    version: 3.9.4""", u=svc().replace("-", "_"), e1=sops_enc(), e2=sops_enc(64), r=age_recipient(), arm=age_armor("            "),
                ts=ts()[:19] + "Z", mac=sops_enc(32))


def rf_sops_dotenv():
    return fill("""DATABASE_URL=@@a@@
REDIS_PASSWORD=@@b@@
SENTRY_AUTH_TOKEN=@@c@@
sops_age__list_0__map_recipient=@@r@@
sops_lastmodified=@@ts@@
sops_mac=@@mac@@
sops_unencrypted_suffix=_unencrypted
sops_version=3.9.1""", a=sops_enc(60), b=sops_enc(24), c=sops_enc(72), r=age_recipient(), ts=ts()[:19] + "Z", mac=sops_enc(32))


def rf_sops_json_kms():
    a = acct()
    return fill("""{
	"api_key": "@@e1@@",
	"webhook_secret": "@@e2@@",
	"sops": {
		"kms": [
			{
				"arn": "arn:aws:kms:@@r@@:@@a@@:key/@@k@@",
				"created_at": "@@ts@@",
				"enc": "@@blob@@",
				"aws_profile": ""
			}
		],
		"lastmodified": "@@ts@@",
		"mac": "@@mac@@",
		"version": "3.9.0"
	}
}""", e1=sops_enc(40), e2=sops_enc(38), r=region(), a=a, k=uid(), ts=ts()[:19] + "Z",
                blob="AQICAH" + b64e(rbytes(180)), mac=sops_enc(32))


def rf_sealed_secret():
    return fill("""apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: @@s@@-secrets
  namespace: @@ns@@
spec:
  encryptedData:
    DATABASE_PASSWORD: @@a@@
    STRIPE_SECRET_KEY: @@b@@
  template:
    metadata:
      name: @@s@@-secrets
    type: Opaque""", s=svc(), ns=pick(["prod", "apps"]), a=sealed_value(), b=sealed_value())


def rf_compose_var_templates():
    return """services:
  api:
    image: ghcr.io/acme/api:${TAG:-latest}
    environment:
      DATABASE_URL: postgres://app:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@db:5432/app
      STRIPE_SECRET_KEY: ${STRIPE_SECRET_KEY}
      JWT_SECRET: ${JWT_SECRET:?}
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}"""


def rf_helm_secret_template():
    return """apiVersion: v1
kind: Secret
metadata:
  name: {{ include "app.fullname" . }}
type: Opaque
data:
  redis-password: {{ .Values.redis.password | b64enc | quote }}
  api-key: {{ required "values.apiKey is required" .Values.apiKey | b64enc | quote }}
  {{- if .Values.smtp.enabled }}
  smtp-password: {{ .Values.smtp.password | b64enc | quote }}
  {{- end }}"""


def rf_erb_database_yml():
    return """production:
  adapter: postgresql
  host: <%= ENV.fetch("DATABASE_HOST") %>
  username: <%= ENV.fetch("DATABASE_USER") %>
  password: <%= ENV["DATABASE_PASSWORD"] %>
  pool: <%= ENV.fetch("RAILS_MAX_THREADS", 5) %>

storage:
  access_key_id: <%= Rails.application.credentials.dig(:aws, :access_key_id) %>
  secret_access_key: <%= Rails.application.credentials.dig(:aws, :secret_access_key) %>"""


def rf_jinja_env_template():
    return """# roles/app/templates/app.env.j2
DATABASE_URL=postgresql://{{ app_db_user }}:{{ vault_app_db_password | urlencode }}@{{ db_host }}:5432/{{ app_db_name }}
SECRET_KEY_BASE={{ vault_secret_key_base }}
MAILGUN_API_KEY={{ lookup('community.hashi_vault.hashi_vault', 'secret=kv/data/mail:api_key') }}"""


def rf_gha_secrets_context():
    return """      - name: Publish
        run: npm publish --access public
        env:
          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
      - name: Notify
        uses: slackapi/slack-github-action@v2
        with:
          webhook: ${{ secrets.SLACK_WEBHOOK_URL }}
          webhook-type: incoming-webhook"""


def rf_terraform_vault_kv_data():
    return """data "vault_kv_secret_v2" "db" {
  mount = "kv"
  name  = "apps/payments/db"
}

resource "kubernetes_secret" "db" {
  metadata { name = "payments-db" }
  data = {
    password = data.vault_kv_secret_v2.db.data["password"]
  }
}"""


def rf_secretsmanager_arn_env():
    a, r = acct(), region()
    return fill("""{
  "FunctionName": "@@s@@-worker",
  "Environment": {
    "Variables": {
      "DB_SECRET_ARN": "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/@@s@@/db-@@x@@",
      "STRIPE_SECRET_ARN": "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/stripe-@@y@@",
      "PARAMETER_PREFIX": "/prod/@@s@@/"
    }
  }
}""", s=svc(), r=r, a=a, x=rs(6), y=rs(6))


def rf_gcp_secret_paths():
    n = rint(10 ** 11, 10 ** 12)
    return fill("""from google.cloud import secretmanager

client = secretmanager.SecretManagerServiceClient()
name = "projects/@@n@@/secrets/stripe-secret-key/versions/latest"
stripe_key = client.access_secret_version(name=name).payload.data.decode()

# also mounted in Cloud Run as:
#   --set-secrets=DB_PASSWORD=projects/@@n@@/secrets/db-password/versions/3""", n=n)


def rf_op_load_secrets_action():
    return """      - name: Load secrets
        uses: 1password/load-secrets-action@v2
        with:
          export-env: true
        env:
          OP_SERVICE_ACCOUNT_TOKEN: ${{ secrets.OP_SERVICE_ACCOUNT_TOKEN }}
          OPENAI_API_KEY: op://CI/OpenAI/credential
          DOCKERHUB_PASSWORD: op://CI/Docker Hub/password"""


def rf_env_refs_code():
    return """// Rust
let db_password = std::env::var("DB_PASSWORD").context("DB_PASSWORD not set")?;
// Go
apiKey := os.Getenv("PAYMENTS_API_KEY")
// TypeScript
const stripeKey = process.env.STRIPE_SECRET_KEY ?? throwMissing("STRIPE_SECRET_KEY");
// Python
token = os.environ["GITHUB_TOKEN"]
// Java
String secret = System.getenv("JWT_SECRET");"""


def rf_k8s_secret_key_ref():
    return fill("""          env:
            - name: DATABASE_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: @@s@@-db
                  key: password
            - name: STRIPE_SECRET_KEY
              valueFrom:
                secretKeyRef:
                  name: stripe
                  key: secret-key
          envFrom:
            - secretRef:
                name: @@s@@-env""", s=svc())


def rf_tf_sensitive_refs():
    return """resource "random_password" "db" {
  length  = 32
  special = false
}

resource "aws_db_instance" "main" {
  identifier        = "orders-prod"
  username          = "orders"
  password          = random_password.db.result
  kms_key_id        = aws_kms_key.rds.arn
}

output "db_password" {
  value     = random_password.db.result
  sensitive = true
}"""


def rf_vault_agent_template():
    return """template {
  destination = "/etc/app/db.env"
  contents    = <<EOT
{{ with secret "database/creds/app-readwrite" }}
DB_USER={{ .Data.username }}
DB_PASSWORD={{ .Data.password }}
{{ end }}
{{ with secret "kv/data/app" }}API_TOKEN={{ .Data.data.api_token }}{{ end }}
EOT
}"""


def rf_nomad_template_var():
    return """      template {
        data        = <<EOH
{{ with nomadVar "nomad/jobs/ledger" }}
POSTGRES_PASSWORD={{ .db_password }}
LEDGER_SIGNING_KEY={{ .signing_key }}
{{ end }}
EOH
        destination = "secrets/app.env"
        env         = true
      }"""


def rf_fernet_column_dump():
    rows = "\n".join("%d\t%s\t%s" % (rint(1000, 9999), email(), fernet_token()) for _ in range(3))
    return fill("""-- pg_dump excerpt: integrations.oauth_refresh_token is encrypted at rest (Fernet, key in KMS)
COPY public.integrations (id, owner_email, oauth_refresh_token_enc) FROM stdin;
@@rows@@
\\.""", rows=rows)


def rf_dotnet_user_secrets_ref():
    return fill("""<PropertyGroup>
  <TargetFramework>net9.0</TargetFramework>
  <UserSecretsId>@@g@@</UserSecretsId>
</PropertyGroup>

// Program.cs
var stripeKey = builder.Configuration["Stripe:SecretKey"];   // from secrets.json in dev, Key Vault in prod""", g=uid())


def rf_docker_secrets_file_env():
    return """services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
  app:
    environment:
      API_TOKEN_FILE: /run/secrets/api_token
    secrets: [api_token]
secrets:
  db_password:
    file: ./secrets/db_password.txt
  api_token:
    external: true"""


def rf_helm_existing_secret():
    return """auth:
  existingSecret: postgres-credentials
  secretKeys:
    adminPasswordKey: postgres-password
    userPasswordKey: password
    replicationPasswordKey: replication-password
tls:
  existingSecret: postgres-tls
  certFilename: tls.crt
  certKeyFilename: tls.key"""


def rf_concourse_double_parens():
    return """resources:
- name: app-image
  type: registry-image
  source:
    repository: registry.example.internal/app
    username: ((registry.username))
    password: ((registry.password))
- name: repo
  type: git
  source:
    uri: git@github.com:acme/app.git
    private_key: ((github-deploy-key.private_key))"""


def rf_bitbucket_pipelines_vars():
    return """pipelines:
  branches:
    main:
      - step:
          name: Push image
          script:
            - echo "$DOCKERHUB_PASSWORD" | docker login -u "$DOCKERHUB_USERNAME" --password-stdin
            - docker push acme/api:$BITBUCKET_COMMIT
            - pipe: atlassian/aws-s3-deploy:1.6.1
              variables:
                AWS_ACCESS_KEY_ID: $AWS_ACCESS_KEY_ID
                AWS_SECRET_ACCESS_KEY: $AWS_SECRET_ACCESS_KEY"""


def rf_tekton_workspace_secret():
    return """  workspaces:
    - name: git-credentials
      secret:
        secretName: github-basic-auth
    - name: docker-config
      secret:
        secretName: registry-push-credentials
  params:
    - name: IMAGE
      value: $(params.registry)/$(params.app):$(tasks.clone.results.commit)"""


def rf_harness_expressions():
    return """pipeline:
  stages:
    - stage:
        spec:
          execution:
            steps:
              - step:
                  type: Run
                  spec:
                    envVariables:
                      STRIPE_SECRET_KEY: <+secrets.getValue("account.stripe_secret_key")>
                      DB_PASSWORD: <+secrets.getValue("org.payments_db_password")>"""


def rf_octopus_variables():
    return """<connectionStrings>
  <add name="Main" connectionString="Server=#{DbServer};Database=#{DbName};User Id=#{DbUser};Password=#{DbPassword};" />
</connectionStrings>
<appSettings>
  <add key="ApiSecret" value="#{Payments.ApiSecret}" />
</appSettings>"""


def rf_jsonnet_extvar():
    return """local dbPassword = std.extVar('db_password');
local apiToken = std.extVar('api_token');
{
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'app' },
  stringData: { DB_PASSWORD: dbPassword, API_TOKEN: apiToken },
}"""


def rf_terragrunt_get_env_sops():
    return """locals {
  secrets = yamldecode(sops_decrypt_file("${get_terragrunt_dir()}/secrets.enc.yaml"))
}

inputs = {
  db_password     = local.secrets.db_password
  datadog_api_key = get_env("TF_VAR_datadog_api_key")
}"""


def rf_vercel_at_refs():
    return """{
  "version": 2,
  "env": {
    "STRIPE_SECRET_KEY": "@stripe-secret-key",
    "DATABASE_URL": "@database-url-prod"
  },
  "build": { "env": { "SENTRY_AUTH_TOKEN": "@sentry-auth-token" } }
}"""


def rf_podman_secret_flags():
    return fill("""@@p@@printf '%s' "$DB_PASS" | podman secret create db_pass -
@@h@@
@@p@@podman run -d --name api --secret db_pass,type=env,target=DB_PASSWORD --secret tls_key,target=/etc/tls/key.pem ghcr.io/@@o@@/api:latest
@@c@@""", p=sh_prompt(), h=hx(25), o=org(), c=hx(64))


def rf_buildkit_secret_mount():
    return """# syntax=docker/dockerfile:1.7
FROM node:22-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci

# build with:
#   docker build --secret id=npmrc,src=$HOME/.npmrc -t app ."""


def rf_kustomize_secret_generator():
    return """secretGenerator:
  - name: api-secrets
    envs:
      - secrets/.env.prod
    files:
      - db-password=secrets/db-password.txt
      - tls.key=secrets/tls.key
generatorOptions:
  disableNameSuffixHash: false"""


def rf_quarkus_props_refs():
    return """quarkus.datasource.username=${DB_USER}
quarkus.datasource.password=${DB_PASSWORD}
quarkus.oidc.credentials.secret=${OIDC_CLIENT_SECRET:}
mp.jwt.verify.publickey.location=${JWT_PUBLIC_KEY_URL}"""


def rf_dotenv_vault_file():
    return fill("""#/-------------------.env.vault---------------------/
#/         cloud-agnostic vaulting standard         /
#/   [how it works](https://dotenv.org/env-vault)   /
#/--------------------------------------------------/

# development
DOTENV_VAULT_DEVELOPMENT="@@a@@"

# production
DOTENV_VAULT_PRODUCTION="@@b@@\"""", a=b64e(rbytes(rint(120, 200))), b=b64e(rbytes(rint(160, 260))))


def rf_bicep_getsecret():
    return """resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: kvName
}

module sql './sql.bicep' = {
  name: 'sql'
  params: {
    administratorLogin: 'sqladmin'
    administratorLoginPassword: kv.getSecret('sqlAdminPassword')
  }
}"""


def rf_cdk_secret_value():
    return """const stripe = secretsmanager.Secret.fromSecretNameV2(this, "Stripe", "prod/stripe");

new ecs.ContainerDefinition(this, "Api", {
  taskDefinition,
  image: ecs.ContainerImage.fromEcrRepository(repo, "latest"),
  secrets: {
    STRIPE_SECRET_KEY: ecs.Secret.fromSecretsManager(stripe, "secret_key"),
  },
  environment: { WEBHOOK_SECRET: SecretValue.secretsManager("prod/webhooks", { jsonField: "signing" }).unsafeUnwrap() },
});"""


def rf_spring_cloud_vault():
    return """spring:
  application:
    name: ledger
  config:
    import: vault://secret/ledger
  cloud:
    vault:
      uri: https://vault.internal:8200
      authentication: KUBERNETES
      kubernetes:
        role: ledger
  datasource:
    password: ${db.password}"""


def rf_pass_cmd_mail_configs():
    return """# ~/.msmtprc
account work
host smtp.office365.com
user me@example.org
passwordeval "pass show mail/work"

# ~/.mbsyncrc
IMAPAccount personal
Host imap.fastmail.com
User me@fastmail.com
PassCmd "security find-generic-password -s mbsync-fastmail -w\""""


def rf_op_read_makefile():
    return """DB_URL := $(shell op read "op://Engineering/prod-db/connection-string")

migrate:
	DATABASE_URL='$(DB_URL)' sqlx migrate run

psql:
	psql "$$(op read 'op://Engineering/prod-db/connection-string')\""""


def rf_git_credential_helper():
    return """[credential]
	helper = osxkeychain
[credential "https://dev.azure.com"]
	useHttpPath = true
	helper = manager
[url "git@github.com:"]
	insteadOf = https://github.com/"""


REFERENCES = [rf_ansible_vault_inline, rf_ansible_vault_file_head, rf_sops_yaml_age, rf_sops_dotenv, rf_sops_json_kms,
              rf_sealed_secret, rf_compose_var_templates, rf_helm_secret_template, rf_erb_database_yml,
              rf_jinja_env_template, rf_gha_secrets_context, rf_terraform_vault_kv_data, rf_secretsmanager_arn_env,
              rf_gcp_secret_paths, rf_op_load_secrets_action, rf_env_refs_code, rf_k8s_secret_key_ref,
              rf_tf_sensitive_refs, rf_vault_agent_template, rf_nomad_template_var, rf_fernet_column_dump,
              rf_dotnet_user_secrets_ref, rf_docker_secrets_file_env, rf_helm_existing_secret, rf_concourse_double_parens,
              rf_bitbucket_pipelines_vars, rf_tekton_workspace_secret, rf_harness_expressions, rf_octopus_variables,
              rf_jsonnet_extvar, rf_terragrunt_get_env_sops, rf_vercel_at_refs, rf_podman_secret_flags,
              rf_buildkit_secret_mount, rf_kustomize_secret_generator, rf_quarkus_props_refs, rf_dotenv_vault_file,
              rf_bicep_getsecret, rf_cdk_secret_value, rf_spring_cloud_vault, rf_pass_cmd_mail_configs,
              rf_op_read_makefile, rf_git_credential_helper]


# ================================================================ CLEAN: option_docs
def od_oc_login_help():
    return """$ oc login --help
Log in to your server and save login for subsequent use.

Options:
    --certificate-authority='': Path to a cert file for the certificate authority
    --insecure-skip-tls-verify=false: If true, the server's certificate will not be checked for validity.
    -p, --password='': Password for server
    --token='': Bearer token for authentication to the API server
    -u, --username='': Username for server
    --web=false: Login with web browser. Starts a local HTTP callback server to perform the OAuth2 Authorization Code Grant flow.

Usage:
  oc login [URL] [options]"""


def od_ibmcloud_login_help():
    return """NAME:
   login - Log user in

USAGE:
   ibmcloud login [-a API_ENDPOINT] [--sso] [-u USERNAME] [-p PASSWORD] [--apikey KEY | @KEY_FILE] [--cr-token TOKEN | @TOKEN_FILE] [--profile NAME]

OPTIONS:
   --apikey value       The API key, or @ followed by a file that contains the API key
   -p value             Password
   --cr-token value     Compute resource token, or @ followed by the file containing the token
   --sso                Prompt for a one-time passcode"""


def od_crane_auth_login():
    return """$ crane auth login --help
Log in to a registry

Usage:
  crane auth login [OPTIONS] [SERVER] [flags]

Examples:
  # Log in to reg.example.com
  crane auth login reg.example.com -u AzureDiamond -p hunter2

Flags:
  -h, --help              help for login
  -p, --password string   Password
      --password-stdin    Take the password from stdin
  -u, --username string   Username"""


def od_buildah_login_man():
    return """BUILDAH-LOGIN(1)

NAME
       buildah-login - Login to a container registry

OPTIONS
       --password, -p=password
           Password for registry

       --password-stdin
           Take the password from stdin

       --authfile=path
           Path of the authentication file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json

       --get-login
           Return the logged-in user for the registry."""


def od_pulumi_login_help():
    return """Log in to the Pulumi Cloud

Usage:
  pulumi login [<url>] [flags]

The Pulumi Cloud manages your stack's state reliably. Simply run

    $ pulumi login

and this command will prompt you for an access token, including a way to launch your web browser to
easily obtain one. You can script by using PULUMI_ACCESS_TOKEN environment variable.

Flags:
      --cloud-url string      A cloud URL to log in to
      --default-org string    A default org to associate with the login.
  -i, --insecure              Allow insecure server connections when using SSL
      --interactive           Show interactive login options based on known accounts"""


def od_gopass_usage():
    return """NAME:
   gopass show - Display the content of a secret

USAGE:
   gopass show [command options] secret

OPTIONS:
   --yes, -y              Always answer yes to yes/no questions (default: false)
   --clip, -c             Copy the password value into the clipboard (default: false)
   --alsoclip, -C         Copy the password and show everything (default: false)
   --qr                   Print the password as a QR Code (default: false)
   --unsafe, --force, -f  Display unsafe content (e.g. the password) even if safecontent is enabled (default: false)
   --password, -o         Display only the password. Takes precedence over all other flags. (default: false)"""


def od_op_signin_help():
    return """Sign in to a 1Password account.

Usage:  op signin [flags]

Flags:
  -f, --force       Ignore warnings and print raw output from this command.
  -h, --help        Get help with signin.
      --raw         Only return the session token.

Global Flags:
      --account account    Select the account to execute the command by account shorthand, sign-in address, account ID, or user ID.
      --session token      Authenticate with this session token. 1Password CLI outputs session tokens for successful 'op signin' commands when 1Password app integration is not enabled."""


def od_lpass_usage():
    return """Usage:
  lpass {--help|--version}
  lpass login [--trust] [--plaintext-key [--force, -f]] [--color=auto|never|always] USERNAME
  lpass logout [--force, -f] [--color=auto|never|always]
  lpass show [--sync=auto|now|no] [--clip, -c] [--quiet, -q] [--expand-multi, -x] [--json, -j] [--all|--username|--password|--url|--notes|--field=FIELD|--id|--name|--attach=ATTACHID] [--basic-regexp, -G|--fixed-strings, -F] [--color=auto|never|always] {UNIQUENAME|UNIQUEID}
  lpass passwd"""


def od_mkpasswd_help():
    return """Usage: mkpasswd [OPTIONS]... [PASSWORD [SALT]]
Crypts the PASSWORD using crypt(3).

      -m, --method=TYPE     select method TYPE
      -5                    like --method=md5crypt
      -S, --salt=SALT       use the specified SALT
      -R, --rounds=NUMBER   use the specified NUMBER of rounds
      -P, --password-fd=NUM read the password from file descriptor NUM
                            instead of /dev/tty
      -s, --stdin           like --password-fd=0
      -h, --help            display this help and exit

If PASSWORD is missing then it is asked interactively.
If no SALT is specified, a random one is generated."""


def od_x11vnc_passwd_options():
    return """-passwd string         Use "string" as a VNC password, the password is not stored on disk.
                       This option is deprecated: anyone with access to "ps" can see it.
-viewpasswd string     As -passwd, but for view-only access.
-rfbauth passwd-file   Use the password file created by vncpasswd(1) or storepasswd.
-passwdfile filename   Specify the libvncserver password via the first line of "filename"
                       (instead of via -passwd on the command line where others might see it)."""


def od_sshfs_password_stdin():
    return """$ sshfs -h 2>&1 | grep -iE 'password|identity|ssh_command'
    -o ssh_command=CMD     execute CMD instead of 'ssh'
    -o password_stdin      read password from stdin (only for pam_mount!)
    -o IdentityFile=FILE   forwarded to ssh: identity (private key) to use
    -o directport=PORT     directly connect to PORT bypassing ssh"""


def od_davfs2_secrets_man():
    return """DAVFS2.CONF(5)
...
SECRETS FILE
       secrets  The file that holds the credentials for authentication with the WebDAV server.
                Default: ~/.davfs2/secrets (user) and /etc/davfs2/secrets (system-wide).

       Each line names a mount point or server URL, followed by the username and password:

              /media/dav   USERNAME   PASSWORD
              https://webdav.example.com/dav/  "USER NAME"  "PASS WORD"

       The file must be owned by the user and have mode 600."""


def od_acme_sh_dns_docs():
    return """## Cloudflare (dns_cf)

Create an API token with Zone.DNS:Edit and export it before issuing:

    export CF_Token="<cloudflare api token>"
    export CF_Account_ID="<account id>"
    acme.sh --issue --dns dns_cf -d example.com -d '*.example.com'

`CF_Token` and `CF_Account_ID` are saved to ~/.acme.sh/account.conf and reused on renewal.
The legacy global key (`CF_Key` + `CF_Email`) still works but is not recommended."""


def od_lego_env_help():
    return """$ lego dnshelp -c route53
Configuration for Amazon Route 53.
Code:	'route53'

Credentials:
	- "AWS_ACCESS_KEY_ID":	Managed by the AWS client. Access key ID (`AWS_ACCESS_KEY_ID_FILE` is not supported, use `AWS_SHARED_CREDENTIALS_FILE` instead)
	- "AWS_SECRET_ACCESS_KEY":	Managed by the AWS client. Secret access key
	- "AWS_SESSION_TOKEN":	Managed by the AWS client. Session token

Additional Configuration:
	- "AWS_ASSUME_ROLE_ARN":	Managed by the AWS client. Role to assume"""


def od_hostapd_conf_comments():
    return """# WPA pre-shared key for WPA-PSK. This can be either entered as a 256-bit
# secret in hex format (64 hex digits), wpa_psk, or as an ASCII passphrase
# (8..63 characters) that will be converted to PSK. This conversion uses SSID
# so the PSK changes when ASCII passphrase is used and the SSID is changed.
# wpa_psk (dot11RSNAConfigPSKValue)
# wpa_passphrase (dot11RSNAConfigPSKPassPhrase)
#wpa_psk=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
#wpa_passphrase=secret passphrase"""


def od_iwd_network_config_docs():
    return """[Security]
Passphrase=      # The passphrase for a PSK network. Written back as PreSharedKey
                 # on first connect unless the [Settings] AutoConnect... option says otherwise.
PreSharedKey=    # Processed passphrase (256-bit, hex). If omitted, derived from Passphrase.
EAP-Method=      # PEAP, TTLS, TLS, PWD ...
EAP-Identity=
EAP-Password=    # Password for EAP-PWD / inner MSCHAPV2; leave empty to be prompted by the agent"""


def od_ipsec_secrets_man():
    return """IPSEC.SECRETS(5)

NAME
       ipsec.secrets - secrets for IKE/IPsec authentication

DESCRIPTION
       The file ipsec.secrets holds a table of secrets. A secret is introduced by one of
       the keywords RSA, ECDSA, PSK, EAP, NTLM or XAUTH.

         [ <selectors> ] : PSK <secret>
         [ <selectors> ] : RSA <private key file> [ <passphrase> | %prompt ]
         : XAUTH <username> <password>

       A <secret> may be given as a quoted string, as 0x<hex digits> or 0s<base64>."""


def od_ldappasswd_usage():
    return """usage: ldappasswd [options] [user]
  user: the authentication identity, commonly a DN
Password change options:
  -a secret  old password
  -A         prompt for old password
  -t file    read file for old password
  -s secret  new password
  -S         prompt for new password
  -T file    read file for new password
Common options:
  -D binddn  bind DN
  -w passwd  bind password (for simple authentication)
  -W         prompt for bind password
  -y file    Read password from file"""


def od_kinit_usage():
    return """Usage: kinit [-V] [-l lifetime] [-s start_time] [-r renewable_life]
        [-f | -F | --forwardable | --noforwardable]
        [-a | -A | --addresses | --noaddresses]
        [--request-pac | --no-request-pac]
        [-C | --canonicalize] [-E | --enterprise]
        [-v] [-R] [-k [-i|-t keytab_file]] [-c cachename]
        [-S service_name] [-T ticket_armor_cache]
        [-X <attribute>[=<value>]] [principal]

    -k use keytab
    -t filename of keytab to use
    -i use default client keytab (with -k)"""


def od_sudo_stdin_man():
    return """     -S, --stdin
                 Write the prompt to the standard error and read the password from the standard
                 input instead of using the terminal device.

     -p prompt, --prompt=prompt
                 Use a custom password prompt with optional escape sequences. The following
                 percent (‘%’) escape sequences are supported: %H, %h, %p, %U, %u, %%

     -A, --askpass
                 Normally, if sudo requires a password, it will read it from the user's terminal.
                 If the -A (askpass) option is specified, a (possibly graphical) helper program
                 is executed to read the user's password."""


def od_veracrypt_cli_help():
    return """--password=PASSWORD
 Use specified password to mount/open a volume. Empty password can also be
 specified ('--password= '). Note that passing a password on the command line
 is potentially insecure as the password may be visible in the process list
 and/or stored in a command history file or system logs.
--pim=PIM
 Use specified PIM to mount/open a volume.
-k, --keyfiles=KEYFILE1[,KEYFILE2,KEYFILE3,...]
 Use specified keyfiles to mount the volume or to create a new volume."""


def od_zip_encrypt_man():
    return """       -e
       --encrypt
              Encrypt the contents of the zip archive using a password which is entered on the terminal
              in response to a prompt (this will not be echoed; if standard error is not a tty, zip will
              exit with an error). The password prompt is repeated to save the user from typing errors.

       -P password
       --password password
              Use password to encrypt zipfile entries (if any).  THIS IS INSECURE!  Many multi-user
              operating systems provide ways for any user to see the current command line of any other user."""


def od_signify_usage():
    return """usage: signify -C [-q] [-p pubkey] [-t keytype] -x sigfile [file ...]
       signify -G [-n] [-c comment] -p pubkey -s seckey
       signify -S [-enz] [-x sigfile] -s seckey -m message
       signify -V [-eqz] [-p pubkey] [-t keytype] [-x sigfile] -m message

     -n      When generating a key pair, do not ask for a passphrase.
             Otherwise, signify will prompt the user for a passphrase to protect the secret key."""


def od_puttygen_help():
    return """Usage: puttygen ( keyfile | -t type [ -b bits ] )
                [ -C comment ] [ -P ] [ -q ]
                [ -o output-keyfile ] [ -O type | -l | -L | -p ]
  -t    specify key type when generating:
           eddsa, ecdsa, rsa, dsa, rsa1   use with -b
  -P    change key passphrase
  -O    specify output type:
           private             output PuTTY private key format
           private-openssh     export OpenSSH private key
           public-openssh      OpenSSH public key
  --old-passphrase file
        specify file containing old key passphrase
  --new-passphrase file
        specify file containing new key passphrase"""


def od_maven_password_encryption():
    return """## Maven password encryption

1. Create a master password:

       mvn --encrypt-master-password

   and store the output in `${user.home}/.m2/settings-security.xml`:

       <settingsSecurity>
         <master>{ENCRYPTED_MASTER_PASSWORD}</master>
       </settingsSecurity>

2. Encrypt server passwords with `mvn --encrypt-password` and paste the result into
   `<server><password>{ENCRYPTED_PASSWORD}</password></server>` in settings.xml."""


def od_hatch_publish_help():
    return """Usage: hatch publish [OPTIONS] [ARTIFACTS]...

  Publish build artifacts.

Options:
  -r, --repo TEXT      The repository with which to publish artifacts [env var: `HATCH_INDEX_REPO`]
  -u, --user TEXT      The user with which to authenticate [env var: `HATCH_INDEX_USER`]
  -a, --auth TEXT      The credentials to use for authentication [env var: `HATCH_INDEX_AUTH`]
  --ca-cert TEXT       The path to a CA bundle [env var: `HATCH_INDEX_CA_CERT`]
  --client-cert TEXT   The path to a client certificate, optionally containing the private key
  -n, --no-prompt      Disable prompts, such as for missing required fields"""


def od_gem_signin_help():
    return """Usage: gem signin [options]

  Options:
    --host HOST                  Push to another gemcutter-compatible host
    --otp CODE                   Digit code for multifactor authentication
                                 You can also use the environment variable GEM_HOST_OTP_CODE

Description:
  The signin command executes host sign in for a push server (the default is
  https://rubygems.org). The host can be provided with the host flag or can
  be inferred from the provided gem. Host resolution matches the resolution
  strategy for the push command. The API key is saved in ~/.gem/credentials."""


def od_bundler_credentials_docs():
    return """### Credentials for gem sources

Some gem sources require a username and password. Use `bundle config set` with the source host:

    bundle config set --global gems.contribsys.com username:password

For some sources it is easier to use environment variables. The name is the host in
upper case with dots replaced by double underscores:

    export BUNDLE_GEMS__CONTRIBSYS__COM="username:password"

Hyphens become triple underscores (`BUNDLE_MY___COMPANY__SOURCE__COM`)."""


def od_go_goauth_docs():
    return """GOAUTH
	A semicolon-separated list of authentication commands for go-import and
	HTTPS module mirror interactions. The default is netrc.
	The supported authentication commands are:
	off
		Disables authentication.
	netrc
		Uses credentials from NETRC or the .netrc file in your home directory.
	git dir
		Runs 'git credential fill' in dir and uses its credentials.
	command
		Executes the given command (a space-separated argument list) and attaches
		the provided headers to HTTPS requests."""


def od_composer_http_basic_docs():
    return """### http-basic

Stored in auth.json (per project or in COMPOSER_HOME):

    composer config [--global] http-basic.repo.example.org username password

```json
{
    "http-basic": {
        "repo.example.org": {
            "username": "<username>",
            "password": "<password-or-token>"
        }
    }
}
```"""


def od_conan_remote_login():
    return """$ conan remote login -h
usage: conan remote login [-h] [-v [V]] [-cc CORE_CONF] [-f {json}] [-p [PASSWORD]] remote [username]

Login into the specified remotes matching a pattern.

positional arguments:
  remote                Pattern or name of the remote to login into.
  username              Username

options:
  -p [PASSWORD], --password [PASSWORD]
                        User password. Use double quotes if password with spacing, and escape quotes
                        if existing. If empty, the password is requested interactively (not exposed)"""


def od_k3s_token_flags():
    return """$ k3s server --help | grep -A1 -E -- '--(token|agent-token)'
   --token value, -t value                    (cluster) Shared secret used to join a server or agent to a cluster [$K3S_TOKEN]
   --token-file value                         (cluster) File containing the token [$K3S_TOKEN_FILE]
   --agent-token value                        (cluster) Shared secret used to join agents to the cluster, but not servers [$K3S_AGENT_TOKEN]
   --agent-token-file value                   (cluster) File containing the agent secret [$K3S_AGENT_TOKEN_FILE]"""


def od_netbird_up_help():
    return """Usage:
  netbird up [flags]

Flags:
      --allow-server-ssh                 Allow SSH server on peer.
      --external-ip-map strings          Sets external IPs maps between local addresses and interfaces.
  -k, --setup-key string                 Setup key obtained from the Management Service Dashboard (used to register peer).
      --setup-key-file string            The path to a setup key obtained from the Management Service Dashboard.
      --preshared-key string             Sets Wireguard PreSharedKey property. If set, then only peers that have the same key can communicate."""


def od_frpc_toml_docs():
    return """# frpc.toml
serverAddr = "0.0.0.0"
serverPort = 7000

# auth.method specifies what authentication method to use to authenticate frpc with frps.
# If "token" is specified - token will be read into login message.
# If "oidc" is specified - OIDC (Open ID Connect) token will be issued using OIDC settings.
auth.method = "token"
# auth.token specifies the authorization token used to create keys to be sent to the server.
# The server must have a matching token for authorization to succeed.
auth.token = \"\""""


def od_buildkite_agent_start():
    return """$ buildkite-agent start --help | grep -E -A2 -- '--(token|tags)'
  --token value                   Your account agent token [$BUILDKITE_AGENT_TOKEN]
  --token-path value              Path to a file containing your account agent token [$BUILDKITE_AGENT_TOKEN_PATH]
--
  --tags value                    A comma-separated list of tags for the agent (for example, "linux" or "mac,xcode=8") [$BUILDKITE_AGENT_TAGS]"""


def od_woodpecker_agent_env_docs():
    return """| Variable | Default | Description |
|---|---|---|
| `WOODPECKER_SERVER` | `localhost:9000` | gRPC address of the server |
| `WOODPECKER_AGENT_SECRET` | — | Shared secret used by agents to authenticate with the server. Must match the server's value. |
| `WOODPECKER_AGENT_SECRET_FILE` | — | Read the value for `WOODPECKER_AGENT_SECRET` from the specified filepath |
| `WOODPECKER_MAX_WORKFLOWS` | `1` | Number of parallel workflows |"""


def od_sonar_scanner_props_docs():
    return """# sonar-project.properties
# Authentication: do NOT put the token here. Pass it as the SONAR_TOKEN environment
# variable (preferred) or with -Dsonar.token=<token> on the command line.
sonar.projectKey=my-org_my-project
sonar.sources=src
sonar.tests=tests
# sonar.login / sonar.password are deprecated since 10.0; use sonar.token"""


def od_snyk_auth_help():
    return """Usage:
  snyk auth [<API_TOKEN>] [<OPTIONS>]

Description:
  The snyk auth command authenticates your machine to associate the Snyk CLI with your Snyk account.
  Running $ snyk auth opens a browser window with prompts to log in to your Snyk account and authenticate.

Options:
  --auth-type=<TYPE>   Specify the authentication type (oauth | token)
  --client-secret=<SECRET> --client-id=<ID>
                       Use the OAuth client credentials flow (service accounts)"""


def od_fluentbit_http_output_docs():
    return """| Key | Description | Default |
|-----|-------------|---------|
| host | IP address or hostname of the target HTTP server | 127.0.0.1 |
| http_User | Basic Auth Username | |
| http_Passwd | Basic Auth Password. Requires http_User to be set | |
| header | Add a HTTP header key/value pair. Multiple headers can be set. | |
| tls | Enable or disable TLS support | off |"""


def od_dovecot_passdb_docs():
    return """# /etc/dovecot/conf.d/auth-passwdfile.conf.ext
# Authentication for passwd-file users. Included from 10-auth.conf.
#
# passwd-like file with specified location.
# <doc/wiki/AuthDatabase.PasswdFile.txt>

passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u /etc/dovecot/users
}"""


def od_mutt_imap_pass_docs():
    return """3.119. imap_pass
Type: string (sensitive)
Default: (empty)

Specifies the password for your IMAP account. If unset, Mutt will prompt you for your password
when you invoke the <imap-fetch-mail> function or try to open an IMAP folder.

Warning: you should only use this option when you are on a fairly secure machine, because the
superuser can read your muttrc even if you are the only one who can read the file."""


def od_jupyter_config_comments():
    return """## Token used for authenticating first-time connections to the server.
#  The token can be read from the file referenced by JUPYTER_TOKEN_FILE or set directly
#  with the JUPYTER_TOKEN environment variable.
#  When no password is enabled, the default is to generate a new, random token.
#  Setting to an empty string disables authentication altogether, which is NOT RECOMMENDED.
#  Default: '<generated>'
# c.IdentityProvider.token = '<generated>'

## Hashed password to use for web authentication.
#  To generate, type in a python/IPython shell:
#    from jupyter_server.auth import passwd; passwd()
#  The string should be of the form type:salt:hashed-password.
#  Default: ''
# c.PasswordIdentityProvider.hashed_password = ''"""


def od_code_server_help():
    return """Usage: code-server [options] [path]
    --auth                   The type of authentication to use. [password, none]
    --password               The password for password authentication (can only be passed in via $PASSWORD or the config file).
    --hashed-password        The password hashed with argon2 for password authentication (can only be passed in via $HASHED_PASSWORD or the config file).
                             Takes precedence over 'password'.
    --cert                   Path to certificate. A self signed certificate is generated if none is provided.
    --cert-key               Path to certificate key when using non-generated cert."""


def od_rabbitmq_conf_comments():
    return """## Default user and password. Only used when the node starts without a database
## (i.e. on first boot). Changing them later has no effect; use rabbitmqctl.
##
# default_user = guest
# default_pass = guest

## Make sure the default user can only connect from localhost
loopback_users.guest = true

## Password hashing implementation. Will only affect newly created users.
# password_hashing_module = rabbit_password_hashing_sha256"""


def od_elasticsearch_reset_password():
    return """$ bin/elasticsearch-reset-password --help
Resets the password of users in the native realm and built-in users.

Non-option arguments:
command

Option                  Description
------                  -----------
-a, --auto              Resets the password of the specified user to an auto-generated strong password (Default)
-b, --batch             Runs the reset password tool without prompting the user for verification
-i, --interactive       Prompts for the password of the specified user
-u, --username          The username of the user whose password will be reset
--url                   the base URL of Elasticsearch"""


def od_consul_keygen_help():
    return """Usage: consul keygen

  Generates a new encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects.

  The key is 32 random bytes, base64 encoded. Distribute it to every agent and
  pass it with -encrypt=<key> or the "encrypt" field of the agent config."""


def od_click_app_help():
    t = pick(["syncctl", "shipctl", "ledgerctl"])
    return fill("""$ @@t@@ push --help
Usage: @@t@@ push [OPTIONS] SOURCE

  Upload SOURCE to the configured bucket.

Options:
  --api-key TEXT        API key for the control plane.  [env var: @@T@@_API_KEY; required]
  --secret-file PATH    Read the signing secret from PATH instead of the environment.
  --token-ttl INTEGER   Lifetime of the upload token, in seconds.  [default: 900]
  --dry-run             Print what would be uploaded.
  --help                Show this message and exit.""", t=t, T=t.upper())


def od_commander_help():
    return """Usage: deployer [options] <env>

Deploy the current build to <env>

Options:
  -V, --version              output the version number
  -t, --token <token>        API token (defaults to $DEPLOYER_TOKEN)
  -k, --ssh-key <path>       private key used for the bastion hop (default: "~/.ssh/id_ed25519")
  --vault-password-file <f>  file with the ansible vault password
  -h, --help                 display help for command"""


def od_system_commandline_help():
    return """Description:
  Rotates the tenant's client secret and writes it to the configured store.

Usage:
  tenantctl rotate-secret <tenant> [options]

Arguments:
  <tenant>  Tenant id or slug

Options:
  --store <keyvault|file>    Where to write the new secret [default: keyvault]
  --keyvault-uri <uri>       Key Vault URI (required when --store keyvault)
  --print-secret             Also print the new secret to stdout (dangerous)
  -?, -h, --help             Show help and usage information"""


def od_swift_argument_parser_help():
    return """USAGE: notarize --apple-id <apple-id> --team-id <team-id> [--password <password>] [--keychain-profile <keychain-profile>] <archive>

ARGUMENTS:
  <archive>               The .zip or .dmg to submit.

OPTIONS:
  --apple-id <apple-id>   Apple ID used for notarization.
  --password <password>   App-specific password. Prefer --keychain-profile.
  --keychain-profile <keychain-profile>
                          Name of a notarytool keychain profile holding the credentials.
  -h, --help              Show help information."""


def od_docopt_usage():
    return '''"""Mirror tool.

Usage:
  mirror.py sync <src> <dst> [--token=<t>] [--token-file=<path>] [--dry-run]
  mirror.py verify <dst> [--key-id=<id>]
  mirror.py (-h | --help)

Options:
  --token=<t>          API token for the destination (env: MIRROR_TOKEN).
  --token-file=<path>  Read the token from a file.
  --key-id=<id>        Id of the signing key to verify against.
"""'''


def od_bash_getopts_usage():
    return """usage() {
  cat <<EOF
Usage: $(basename "$0") -u USER [-p PASSWORD | -P PASSWORD_FILE] [-k API_KEY] HOST

  -u USER            login user
  -p PASSWORD        password (visible in ps; prefer -P)
  -P PASSWORD_FILE   read the password from a file
  -k API_KEY         API key for the status endpoint
EOF
  exit 1
}"""


def od_powershell_get_help():
    return """PS> Get-Help Connect-Tenant -Parameter Credential, ClientSecret

-Credential <PSCredential>
    A credential object for the admin account. Use Get-Credential to create one.

    Required?                    false
    Position?                    named
    Accept pipeline input?       false

-ClientSecret <SecureString>
    The application's client secret as a SecureString (see ConvertTo-SecureString).

    Required?                    false
    Position?                    named"""


def od_transmission_settings_docs():
    return """ * **rpc-authentication-required:** Boolean (default = false)
 * **rpc-password:** String. The password for RPC authentication. When Transmission starts it
   replaces a plain-text value with its salted hash, so the file never keeps the plain password.
 * **rpc-username:** String
 * **rpc-whitelist:** String (Comma-delimited list of IP addresses. Wildcards allowed using '\\*'. Example: "127.0.0.\\*,192.168.\\*.\\*")"""


def od_mpd_conf_password():
    return """# Permissions #################################################################
#
# If this setting is set, MPD will require password authorization. The password
# setting can be specified multiple times for different password profiles.
#
#password                        "password@read,add,control,admin"
#
# This setting specifies the permissions a user has who has not yet logged in.
#
#default_permissions             "read,add,control,admin\""""


OPTION_DOCS = [od_oc_login_help, od_ibmcloud_login_help, od_crane_auth_login, od_buildah_login_man, od_pulumi_login_help,
               od_gopass_usage, od_op_signin_help, od_lpass_usage, od_mkpasswd_help, od_x11vnc_passwd_options,
               od_sshfs_password_stdin, od_davfs2_secrets_man, od_acme_sh_dns_docs, od_lego_env_help,
               od_hostapd_conf_comments, od_iwd_network_config_docs, od_ipsec_secrets_man, od_ldappasswd_usage,
               od_kinit_usage, od_sudo_stdin_man, od_veracrypt_cli_help, od_zip_encrypt_man, od_signify_usage,
               od_puttygen_help, od_maven_password_encryption, od_hatch_publish_help, od_gem_signin_help,
               od_bundler_credentials_docs, od_go_goauth_docs, od_composer_http_basic_docs, od_conan_remote_login,
               od_k3s_token_flags, od_netbird_up_help, od_frpc_toml_docs, od_buildkite_agent_start,
               od_woodpecker_agent_env_docs, od_sonar_scanner_props_docs, od_snyk_auth_help,
               od_fluentbit_http_output_docs, od_dovecot_passdb_docs, od_mutt_imap_pass_docs,
               od_jupyter_config_comments, od_code_server_help, od_rabbitmq_conf_comments,
               od_elasticsearch_reset_password, od_consul_keygen_help, od_click_app_help, od_commander_help,
               od_system_commandline_help, od_swift_argument_parser_help, od_docopt_usage, od_bash_getopts_usage,
               od_powershell_get_help, od_transmission_settings_docs, od_mpd_conf_password]


# ================================================================ CLEAN: identifiers
def id_rustc_e0599_secretstring():
    return """error[E0599]: no method named `expose_secret` found for reference `&SecretBox<str>` in the current scope
  --> crates/auth/src/password_reset.rs:58:37
   |
58 |     let raw_token = reset.token_hash.expose_secret();
   |                                      ^^^^^^^^^^^^^ method not found in `&SecretBox<str>`
   |
   = help: items from traits can only be used if the trait is in scope
help: trait `ExposeSecret` which provides `expose_secret` is implemented but not in scope; perhaps you want to import it
   |
1  + use secrecy::ExposeSecret;
   |"""


def id_go_vet_undefined():
    return """# github.com/acme/ledger/internal/auth
internal/auth/token_source.go:41:9: undefined: refreshTokenSource
internal/auth/token_source.go:57:22: cannot use cfg.ClientSecret (variable of type *SecretRef) as string value in struct literal
internal/auth/apikey_middleware.go:19:2: "github.com/acme/ledger/internal/secrets" imported and not used"""


def id_tsc_ts2345():
    return """src/integrations/stripe/client.ts:27:41 - error TS2345: Argument of type 'string | undefined' is not assignable to parameter of type 'ApiKeyCredential'.
  Type 'undefined' is not assignable to type 'ApiKeyCredential'.

27   return new StripeGateway(createCredential(process.env.STRIPE_SECRET_KEY));
                                           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

Found 1 error in src/integrations/stripe/client.ts:27"""


def id_java_stack_password_secret_manager():
    return fill("""@@ts@@ ERROR 1 --- [scheduling-1] o.s.s.s.TaskUtils$LoggingErrorHandler : Unexpected error occurred in scheduled task
java.lang.IllegalStateException: secret 'db/master-password' has no AWSCURRENT version
	at com.acme.secrets.PasswordSecretManager.currentVersion(PasswordSecretManager.java:142)
	at com.acme.secrets.PasswordSecretManager.rotate(PasswordSecretManager.java:88)
	at com.acme.secrets.RotationScheduler.rotateDbPasswords(RotationScheduler.java:35)
	at java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
	at org.springframework.scheduling.support.ScheduledMethodRunnable.run(ScheduledMethodRunnable.java:84)""",
                ts=ts().replace("T", " ")[:23])


def id_python_attributeerror_secret_key():
    return """Traceback (most recent call last):
  File "/srv/app/manage.py", line 22, in <module>
    main()
  File "/srv/app/billing/signing.py", line 31, in sign_payload
    key = settings.PAYMENTS.secret_key.encode()
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
AttributeError: 'NoneType' object has no attribute 'secret_key'"""


def id_csharp_nre_client_secret_provider():
    return """Unhandled exception. System.NullReferenceException: Object reference not set to an instance of an object.
   at Acme.Security.ClientSecretProvider.GetAsync(String tenantId, CancellationToken ct) in /src/Acme.Security/ClientSecretProvider.cs:line 44
   at Acme.Security.TokenAcquirer.AcquireAppTokenAsync(String scope) in /src/Acme.Security/TokenAcquirer.cs:line 71
   at Program.<Main>$(String[] args) in /src/Acme.Worker/Program.cs:line 18"""


def id_kotlin_unresolved():
    return """e: file:///home/ci/app/src/main/kotlin/com/acme/net/ApiKeyInterceptor.kt:14:25 Unresolved reference: apiKeyProvider
e: file:///home/ci/app/src/main/kotlin/com/acme/auth/RefreshTokenAuthenticator.kt:33:9 Type mismatch: inferred type is String? but String was expected

FAILURE: Build failed with an exception.
* What went wrong:
Execution failed for task ':app:compileReleaseKotlin'."""


def id_swift_keychain_store():
    return """/Users/ci/work/App/Sources/Auth/SessionManager.swift:22:23: error: cannot find 'KeychainTokenStore' in scope
        self.store = KeychainTokenStore(service: "com.acme.app.refresh-token")
                     ^~~~~~~~~~~~~~~~~~
/Users/ci/work/App/Sources/Auth/SessionManager.swift:40:14: error: value of type 'Credentials' has no member 'accessTokenSecret'"""


def id_clang_hmac_key_len():
    return """src/crypto/hmac.c:88:24: error: use of undeclared identifier 'hmac_key_len'; did you mean 'hmac_key_length'?
   88 |     memcpy(ctx->key, key, hmac_key_len);
      |                           ^~~~~~~~~~~~
      |                           hmac_key_length
src/crypto/hmac.h:12:15: note: 'hmac_key_length' declared here
   12 | extern size_t hmac_key_length;
1 error generated."""


def id_php_typeerror_token_guard():
    return """PHP Fatal error:  Uncaught TypeError: App\\Auth\\ApiTokenGuard::__construct(): Argument #2 ($tokenRepository) must be of type App\\Auth\\PersonalAccessTokenRepository, null given, called in /var/www/app/Providers/AuthServiceProvider.php on line 41 and defined in /var/www/app/Auth/ApiTokenGuard.php:19
Stack trace:
#0 /var/www/app/Providers/AuthServiceProvider.php(41): App\\Auth\\ApiTokenGuard->__construct(Object(Illuminate\\Http\\Request), NULL)"""


def id_ruby_nomethod_api_secret():
    return """NoMethodError: undefined method `api_secret' for nil:NilClass (NoMethodError)

      OpenSSL::HMAC.hexdigest("SHA256", config.api_secret, payload)
                                              ^^^^^^^^^^^
  app/services/webhooks/signature.rb:12:in `compute'
  app/controllers/webhooks_controller.rb:8:in `verify_signature!'"""


def id_pytest_names():
    return """tests/auth/test_tokens.py::test_refresh_token_rotates_on_use PASSED                [ 14%]
tests/auth/test_tokens.py::test_revoked_api_key_is_rejected PASSED                  [ 28%]
tests/auth/test_tokens.py::test_password_reset_token_expires_after_ttl PASSED       [ 42%]
tests/auth/test_secrets.py::test_secret_store_never_logs_plaintext PASSED           [ 57%]
tests/auth/test_secrets.py::test_master_key_missing_raises PASSED                   [ 71%]
tests/auth/test_secrets.py::test_client_secret_hash_is_argon2id FAILED              [ 85%]
tests/auth/test_secrets.py::test_private_key_pem_roundtrip PASSED                   [100%]"""


def id_cargo_test_names():
    return """running 6 tests
test secret_store::tests::rejects_empty_master_key ... ok
test secret_store::tests::seal_then_open_roundtrip ... ok
test api_key::tests::prefix_is_not_secret ... ok
test api_key::tests::hash_uses_pepper ... ok
test token::tests::expired_refresh_token_is_invalid ... ok
test token::tests::signing_key_rotation_keeps_old_kid ... ok

test result: ok. 6 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.04s"""


def id_surefire_report():
    return """[INFO] -------------------------------------------------------
[INFO]  T E S T S
[INFO] -------------------------------------------------------
[INFO] Running com.acme.secrets.VaultTokenRenewerTest
[INFO] Tests run: 4, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.81 s -- in com.acme.secrets.VaultTokenRenewerTest
[INFO] Running com.acme.auth.JwtSigningKeyResolverTest
[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.22 s <<< FAILURE! -- in com.acme.auth.JwtSigningKeyResolverTest
[ERROR] com.acme.auth.JwtSigningKeyResolverTest.resolvesPreviousKeyDuringRotation -- Time elapsed: 0.05 s <<< FAILURE!"""


def id_jest_output():
    return """ PASS  src/auth/__tests__/refreshToken.test.ts
 PASS  src/auth/__tests__/apiKeyHeader.test.ts
 FAIL  src/secrets/__tests__/loadSecrets.test.ts
  ● loadSecrets › throws when STRIPE_SECRET_KEY is missing

    expect(received).toThrow(expected)

    Expected substring: "STRIPE_SECRET_KEY is required"
    Received message:   "Missing env: STRIPE_SECRET_KEY\""""


def id_go_test_run():
    return """=== RUN   TestSigningKeyRotation
=== RUN   TestSigningKeyRotation/old_key_still_verifies
=== RUN   TestSigningKeyRotation/new_key_signs
--- PASS: TestSigningKeyRotation (0.00s)
    --- PASS: TestSigningKeyRotation/old_key_still_verifies (0.00s)
    --- PASS: TestSigningKeyRotation/new_key_signs (0.00s)
=== RUN   TestAPITokenRedactedInLogs
--- PASS: TestAPITokenRedactedInLogs (0.01s)
PASS
ok  	github.com/acme/gateway/internal/keys	0.214s"""


def id_tree_auth_dir():
    return """src/auth
├── api_keys
│   ├── generate_api_key.py
│   ├── hash_api_key.py
│   └── revoke_api_key.py
├── passwords
│   ├── password_policy.py
│   └── reset_password_token.py
├── secrets_manager.py
└── tokens
    ├── access_token.py
    ├── refresh_token_store.py
    └── signing_keys.py"""


def id_git_ls_files_grep_key():
    return """$ git ls-files | grep -iE 'key|secret|token|passw'
config/initializers/secret_key_base.rb
docs/runbooks/rotate-api-keys.md
lib/tasks/secrets.rake
spec/models/api_token_spec.rb
app/models/personal_access_token.rb
app/services/password_reset_service.rb"""


def id_grep_env_reads():
    return """$ grep -rn "getenv\\|environ" services/ | grep -i -E "key|secret|token"
services/billing/config.py:11:    STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]
services/billing/config.py:12:    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET")
services/notify/main.go:24:	token := os.Getenv("SLACK_BOT_TOKEN")
services/notify/main.go:25:	signingSecret := os.Getenv("SLACK_SIGNING_SECRET")"""


def id_logfmt_field_names():
    return fill("""ts=@@t1@@ level=warn msg="token refresh failed" component=oauth field=refresh_token err="invalid_grant" tenant=@@n@@
ts=@@t2@@ level=info msg="api key created" key_prefix=ak_live key_id=@@k@@ scopes="read:orders"
ts=@@t3@@ level=info msg="password changed" user_id=@@u@@ mfa_secret_rotated=true""", t1=ts(), t2=ts(), t3=ts(),
                n=rint(100, 999), k=rint(10000, 99999), u=rint(10000, 99999))


def id_json_audit_events():
    return fill("""{"event":"secret.accessed","secret_name":"prod/payments/stripe-secret-key","actor":"svc-ledger","ts":"@@t1@@"}
{"event":"user.updated","changed_fields":["password_hash","mfa_secret","recovery_codes"],"user_id":@@u@@,"ts":"@@t2@@"}
{"event":"token.revoked","token_type":"personal_access_token","reason":"leaked_in_ci_log","ts":"@@t3@@"}""",
                t1=ts(), t2=ts(), t3=ts(), u=rint(1000, 99999))


def id_django_model_pat():
    return """class PersonalAccessToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    token_prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.BinaryField()
    last_used_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "auth_personal_access_token\""""


def id_protobuf_rotate_secret():
    return """service SecretService {
  rpc RotateSecret(RotateSecretRequest) returns (RotateSecretResponse);
  rpc GetSecretMetadata(GetSecretMetadataRequest) returns (SecretMetadata);
}

message RotateSecretRequest {
  string secret_id = 1;
  bool revoke_previous_version = 2;
}

message SecretMetadata {
  string secret_id = 1;
  int64 version = 2;
  google.protobuf.Timestamp rotated_at = 3;
}"""


def id_graphql_schema_tokens():
    return """type Mutation {
  createApiToken(name: String!, scopes: [Scope!]!): CreateApiTokenPayload!
  revokeApiToken(tokenId: ID!): Boolean!
  resetPassword(email: String!): Boolean!
}

type CreateApiTokenPayload {
  token: ApiToken!
  \"\"\"Shown once; store it in your secret manager.\"\"\"
  plaintextToken: String!
}"""


def id_openapi_paths_tokens():
    return """paths:
  /v1/tokens/{tokenId}:revoke:
    post:
      operationId: revokeToken
  /v1/secrets/{secretName}/versions:
    get:
      operationId: listSecretVersions
  /v1/users/{userId}/password:reset:
    post:
      operationId: requestPasswordReset"""


def id_mypy_errors():
    return """src/auth/jwt.py:44: error: Argument 1 to "sign_jwt" has incompatible type "str | None"; expected "SigningKey"  [arg-type]
src/auth/jwt.py:61: error: Item "None" of "SecretStr | None" has no attribute "get_secret_value"  [union-attr]
src/secrets/loader.py:19: error: Returning Any from function declared to return "ApiKey"  [no-any-return]
Found 3 errors in 2 files (checked 58 source files)"""


def id_k8s_event_secret_not_found():
    return fill("""LAST SEEN   TYPE      REASON        OBJECT                          MESSAGE
@@a@@s        Warning   FailedMount   pod/@@s@@-6d9f7c8b5-@@x@@   MountVolume.SetUp failed for volume "db-password" : secret "@@s@@-db-password" not found
@@b@@s        Warning   Failed        pod/@@s@@-6d9f7c8b5-@@x@@   Error: couldn't find key api-token in Secret prod/@@s@@-env""",
                a=rint(5, 59), b=rint(5, 59), s=svc(), x=rs(5, LOAL))


def id_tf_undeclared_variable():
    return """│ Error: Reference to undeclared input variable
│
│   on main.tf line 42, in module "payments":
│   42:   stripe_secret_key = var.stripe_secret_key
│
│ An input variable with the name "stripe_secret_key" has not been declared. This variable can be declared
│ with a variable "stripe_secret_key" {} block."""


def id_spring_bean_names():
    return """  .   ____          _            __ _ _
 /\\\\ / ___'_ __ _ _(_)_ __  __ _ \\ \\ \\ \\
...
2026-03-04T09:12:01.441Z  INFO 1 --- [main] o.s.b.w.e.tomcat.TomcatWebServer  : Tomcat initialized with port 8080 (http)
2026-03-04T09:12:02.019Z  WARN 1 --- [main] ConfigServletWebServerApplicationContext : Exception encountered during context initialization - cancelling refresh attempt: org.springframework.beans.factory.UnsatisfiedDependencyException: Error creating bean with name 'jwtSecretKeyProvider': Unsatisfied dependency expressed through constructor parameter 0: No qualifying bean of type 'com.acme.security.SigningKeyStore' available"""


def id_dotnet_cs8618():
    return """/src/Acme.Api/Options/OAuthOptions.cs(9,19): warning CS8618: Non-nullable property 'ClientSecret' must contain a non-null value when exiting constructor. Consider adding the 'required' modifier or declaring the property as nullable. [/src/Acme.Api/Acme.Api.csproj]
/src/Acme.Api/Options/OAuthOptions.cs(11,19): warning CS8618: Non-nullable property 'SigningKey' must contain a non-null value when exiting constructor. [/src/Acme.Api/Acme.Api.csproj]
    2 Warning(s)
    0 Error(s)"""


def id_python_deprecation_warning():
    return """/usr/lib/python3.12/site-packages/acme_sdk/client.py:88: DeprecationWarning: the 'password' argument is deprecated, use 'password_file' or 'token' instead
  warnings.warn(
/usr/lib/python3.12/site-packages/acme_sdk/auth.py:41: UserWarning: api_secret passed positionally; this will be keyword-only in 3.0"""


def id_git_branches_commits():
    return """$ git branch -a --sort=-committerdate | head -5
* feat/rotate-api-keys
  fix/dont-log-refresh-token
  chore/move-secrets-to-vault
  remotes/origin/feat/rotate-api-keys
  remotes/origin/security/remove-hardcoded-password
$ git log --oneline -3
3f9c2e1 fix(auth): never include refresh_token in error logs
a81d07b feat(keys): add SigningKeyRing with kid-based lookup
5c2b6aa chore: rename SECRET_KEY setting to SESSION_SIGNING_KEY"""


def id_makefile_targets():
    return """.PHONY: rotate-secrets decrypt-secrets seal-secrets gen-jwt-keys

rotate-secrets:            ## rotate db + api secrets in every env
	./scripts/rotate.sh --all

decrypt-secrets:           ## sops -d secrets/*.enc.yaml into .secrets/ (gitignored)
	./scripts/sops-decrypt.sh

gen-jwt-keys:              ## generate a new ES256 signing keypair under keys/
	./scripts/gen-jwt-keys.sh"""


def id_nm_symbols():
    return """$ nm -C target/release/libvault_core.rlib 2>/dev/null | grep -i -E 'secret|key' | head -6
0000000000000000 T vault_core::keyring::MasterKey::derive_subkey
0000000000000000 T vault_core::keyring::MasterKey::from_env
0000000000000000 T <vault_core::secret::SecretString as core::ops::drop::Drop>::drop
0000000000000000 T vault_core::api_key::ApiKey::verify_against_hash
0000000000000000 t vault_core::token::refresh_token_expired
0000000000000000 T vault_core::salt::generate_salt"""


def id_prometheus_metric_names():
    return fill("""# HELP vault_token_ttl_seconds Remaining TTL of the agent's Vault token.
# TYPE vault_token_ttl_seconds gauge
vault_token_ttl_seconds{role="@@s@@"} @@a@@
# HELP api_key_validation_failures_total API keys that failed validation, by reason.
# TYPE api_key_validation_failures_total counter
api_key_validation_failures_total{reason="revoked"} @@b@@
api_key_validation_failures_total{reason="unknown_prefix"} @@c@@
secret_rotation_last_success_timestamp_seconds{secret="db-password"} @@e@@""", s=svc(), a=rint(100, 3600),
                b=rint(0, 99), c=rint(0, 999), e=epoch())


def id_lsp_hover_signatures():
    return """fn hash_password(password: &SecretString, params: &Argon2Params) -> Result<PasswordHash<'static>, PasswordHashError>
fn verify_api_key(presented: &str, stored: &ApiKeyRecord, pepper: &Pepper) -> bool
pub struct SigningKeyRing { current: Kid, keys: HashMap<Kid, SigningKey> }
impl From<ClientSecret> for Secret<String>"""


def id_rails_routes():
    return """$ bin/rails routes -g token
                 Prefix Verb   URI Pattern                                 Controller#Action
 personal_access_tokens GET    /settings/tokens(.:format)                  settings/tokens#index
                        POST   /settings/tokens(.:format)                  settings/tokens#create
  personal_access_token DELETE /settings/tokens/:id(.:format)              settings/tokens#destroy
   edit_password_reset GET    /password_resets/:token/edit(.:format)      password_resets#edit
        password_reset PATCH  /password_resets/:token(.:format)           password_resets#update"""


def id_ef_migrations_list():
    return """$ dotnet ef migrations list
Build started...
Build succeeded.
20250912083011_InitialCreate
20251104141522_AddRefreshTokenTable
20260117092040_AddApiKeyHashAndPrefix
20260301120000_RenameClientSecretToClientSecretHash (Pending)"""


def id_thread_dump_names():
    return """"TokenRefresher-1" #41 daemon prio=5 os_prio=0 cpu=12.31ms elapsed=3601.22s tid=0x00007f3a2c0d8800 nid=0x4e waiting on condition  [0x00007f3a0b7fe000]
   java.lang.Thread.State: TIMED_WAITING (parking)
	at jdk.internal.misc.Unsafe.park(java.base@21.0.4/Native Method)
	at com.acme.oauth.TokenRefresher.awaitNextRefresh(TokenRefresher.java:77)
"SecretCacheEvictor" #42 daemon prio=5 os_prio=0 cpu=1.02ms elapsed=3601.20s tid=0x00007f3a2c0d9a00 nid=0x4f waiting on condition"""


def id_strace_key_paths():
    return """openat(AT_FDCWD, "/etc/ssl/private/server.key", O_RDONLY|O_CLOEXEC) = -1 EACCES (Permission denied)
openat(AT_FDCWD, "/run/secrets/api_token", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
openat(AT_FDCWD, "/home/app/.config/gcloud/application_default_credentials.json", O_RDONLY) = -1 ENOENT (No such file or directory)
write(2, "fatal: could not load signing key\\n", 34) = 34"""


def id_journal_credential_missing():
    return fill("""@@d@@ 04:00:01 db-backup systemd[1]: Starting pg-backup.service - Nightly pg_dump...
@@d@@ 04:00:01 db-backup (pg_dump)[@@pid@@]: pg-backup.service: Failed to set up credentials: Protocol error
@@d@@ 04:00:01 db-backup systemd[1]: pg-backup.service: Failed to load credential 'pgpassword': No such file or directory
@@d@@ 04:00:01 db-backup systemd[1]: pg-backup.service: Main process exited, code=exited, status=243/CREDENTIALS""",
                d=pick(["Mar 03", "Jun 17", "Oct 09"]), pid=rint(1000, 99999))


def id_vscode_problems_json():
    return """[{
	"resource": "/home/dev/web/src/lib/auth.ts",
	"owner": "typescript",
	"code": "6133",
	"severity": 4,
	"message": "'apiSecret' is declared but its value is never read.",
	"startLineNumber": 12,
	"startColumn": 9
},{
	"resource": "/home/dev/web/src/lib/auth.ts",
	"owner": "eslint",
	"code": "no-unused-vars",
	"message": "'refreshTokenCookieName' is assigned a value but never used.",
	"startLineNumber": 14
}]"""


def id_rustdoc_test_output():
    return """   Doc-tests vault_core

running 3 tests
test crates/vault-core/src/secret.rs - secret::SecretString::expose (line 41) ... ok
test crates/vault-core/src/keyring.rs - keyring::MasterKey::derive_subkey (line 88) ... ok
test crates/vault-core/src/api_key.rs - api_key::ApiKey::parse (line 23) ... ok

test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.61s"""


def id_gradle_tasks():
    return """> Task :app:generateReleaseApiKeyBuildConfig UP-TO-DATE
> Task :app:mergeReleaseSecretsResources
> Task :app:signingConfigWriterRelease
> Task :app:validateSigningRelease
> Task :app:packageRelease

BUILD SUCCESSFUL in 41s"""


def id_sql_schema_columns():
    return """                                Table "public.oauth_clients"
       Column        |           Type           | Nullable |      Default
---------------------+--------------------------+----------+-------------------
 id                  | uuid                     | not null | gen_random_uuid()
 client_id           | text                     | not null |
 client_secret_hash  | bytea                    | not null |
 secret_last4        | text                     |          |
 token_endpoint_auth | text                     | not null | 'client_secret_basic'::text
Indexes:
    "oauth_clients_pkey" PRIMARY KEY, btree (id)
    "oauth_clients_client_id_key" UNIQUE CONSTRAINT, btree (client_id)"""


def id_eslint_security_rules():
    return """/home/dev/api/src/config/index.ts
  12:7   warning  Potential hardcoded secret in variable name 'jwtSecretEnvName'  security/detect-hardcoded-secret-name
  31:19  warning  Found non-literal argument to RegExp constructor (tokenPattern) security/detect-non-literal-regexp

✖ 2 problems (0 errors, 2 warnings)"""


IDENTIFIERS = [id_rustc_e0599_secretstring, id_go_vet_undefined, id_tsc_ts2345, id_java_stack_password_secret_manager,
               id_python_attributeerror_secret_key, id_csharp_nre_client_secret_provider, id_kotlin_unresolved,
               id_swift_keychain_store, id_clang_hmac_key_len, id_php_typeerror_token_guard, id_ruby_nomethod_api_secret,
               id_pytest_names, id_cargo_test_names, id_surefire_report, id_jest_output, id_go_test_run, id_tree_auth_dir,
               id_git_ls_files_grep_key, id_grep_env_reads, id_logfmt_field_names, id_json_audit_events,
               id_django_model_pat, id_protobuf_rotate_secret, id_graphql_schema_tokens, id_openapi_paths_tokens,
               id_mypy_errors, id_k8s_event_secret_not_found, id_tf_undeclared_variable, id_spring_bean_names,
               id_dotnet_cs8618, id_python_deprecation_warning, id_git_branches_commits, id_makefile_targets,
               id_nm_symbols, id_prometheus_metric_names, id_lsp_hover_signatures, id_rails_routes,
               id_ef_migrations_list, id_thread_dump_names, id_strace_key_paths, id_journal_credential_missing,
               id_vscode_problems_json, id_rustdoc_test_output, id_gradle_tasks, id_sql_schema_columns,
               id_eslint_security_rules]


# ================================================================ CLEAN: infra_ids
def ec2id(p):
    return "%s-%s" % (p, hx(17))


def digest():
    return "sha256:" + hx(64)


def in_tf_plan_secrets_resources():
    a, r = acct(), region()
    return fill("""Terraform will perform the following actions:

  # aws_secretsmanager_secret_version.db will be created
  + resource "aws_secretsmanager_secret_version" "db" {
      + arn            = (known after apply)
      + id             = (known after apply)
      + secret_id      = "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/@@s@@/db-@@x@@"
      + secret_string  = (sensitive value)
      + version_id     = (known after apply)
    }

  # aws_kms_key.secrets will be updated in-place
  ~ resource "aws_kms_key" "secrets" {
        id                      = "@@k@@"
      ~ enable_key_rotation     = false -> true
        key_id                  = "@@k@@"
        # (9 unchanged attributes hidden)
    }

Plan: 1 to add, 1 to change, 0 to destroy.""", r=r, a=a, s=svc(), x=rs(6), k=uid())


def in_tf_apply_outputs_ids():
    return fill("""aws_instance.bastion: Creation complete after 32s [id=@@i@@]
aws_eip.bastion: Creation complete after 1s [id=eipalloc-@@e@@]
aws_route53_record.bastion: Creation complete after 41s [id=Z@@z@@_bastion.@@d@@_A]

Apply complete! Resources: 3 added, 0 changed, 0 destroyed.

Outputs:

bastion_instance_id = "@@i@@"
kms_key_arn = "arn:aws:kms:@@r@@:@@a@@:key/@@k@@"
db_password_secret_arn = "arn:aws:secretsmanager:@@r@@:@@a@@:secret:bastion/db-password-@@x@@\"""",
                i=ec2id("i"), e=hx(17), z=rs(13, UPAL), d=dom(), r=region(), a=acct(), k=uid(), x=rs(6))


def in_ec2_describe_instances():
    return fill("""{
    "Reservations": [{
        "ReservationId": "r-@@rid@@",
        "OwnerId": "@@a@@",
        "Instances": [{
            "InstanceId": "@@i@@",
            "ImageId": "ami-@@ami@@",
            "KeyName": "ops-@@y@@",
            "SubnetId": "subnet-@@sn@@",
            "VpcId": "vpc-@@vpc@@",
            "SecurityGroups": [{"GroupName": "bastion", "GroupId": "sg-@@sg@@"}],
            "NetworkInterfaces": [{"NetworkInterfaceId": "eni-@@eni@@", "MacAddress": "0a:@@m1@@:@@m2@@:@@m3@@:@@m4@@:@@m5@@"}],
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": "vol-@@vol@@", "Status": "attached"}}],
            "IamInstanceProfile": {"Arn": "arn:aws:iam::@@a@@:instance-profile/bastion", "Id": "AIPA@@aipa@@"}
        }]
    }]
}""", rid=hx(17), a=acct(), i=ec2id("i"), ami=hx(17), y=date()[:4], sn=hx(17), vpc=hx(17), sg=hx(17), eni=hx(17),
                m1=hx(2), m2=hx(2), m3=hx(2), m4=hx(2), m5=hx(2), vol=hx(17), aipa=rs(17, UPAL))


def in_kms_rotation_status():
    k = uid()
    return fill("""@@p@@aws kms get-key-rotation-status --key-id @@k@@
{
    "KeyRotationEnabled": true,
    "KeyId": "arn:aws:kms:@@r@@:@@a@@:key/@@k@@",
    "RotationPeriodInDays": 365,
    "NextRotationDate": "@@d@@T00:00:00+00:00"
}""", p=sh_prompt(), k=k, r=region(), a=acct(), d=date(2027))


def in_secretsmanager_rotate_output():
    return fill("""@@p@@aws secretsmanager rotate-secret --secret-id prod/@@s@@/api-key
{
    "ARN": "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/@@s@@/api-key-@@x@@",
    "Name": "prod/@@s@@/api-key",
    "VersionId": "@@v@@"
}""", p=sh_prompt(), s=svc(), r=region(), a=acct(), x=rs(6), v=uid())


def in_dynamodb_consumed_capacity():
    return fill("""DEBUG botocore.parsers: Response headers: {'Server': 'Server', 'Date': 'Tue, 03 Mar 2026 10:01:44 GMT', 'Content-Type': 'application/x-amz-json-1.0', 'Content-Length': '118', 'Connection': 'keep-alive', 'x-amzn-RequestId': '@@rq@@', 'x-amz-crc32': '@@crc@@'}
DEBUG botocore.parsers: Response body: b'{"ConsumedCapacity":{"CapacityUnits":1.0,"TableName":"api_keys"},"Item":{"key_id":{"S":"@@kid@@"},"key_hash":{"B":"<binary>"}}}'""",
                rq=rs(52, UPAL), crc=rint(10 ** 8, 4 * 10 ** 9), kid=uid())


def in_gcloud_instances_list():
    return fill("""NAME             ZONE            MACHINE_TYPE  INTERNAL_IP  STATUS   ID
@@s1@@-vm-0    europe-west1-b  e2-standard-4  10.132.0.@@a@@   RUNNING  @@id1@@
@@s2@@-vm-0    europe-west1-c  e2-medium      10.132.0.@@b@@   RUNNING  @@id2@@
$ gcloud compute instances describe @@s1@@-vm-0 --zone europe-west1-b --format='value(serviceAccounts[0].email, fingerprint)'
@@n@@-compute@developer.gserviceaccount.com	@@fp@@""", s1=svc(), s2=svc(), a=rint(2, 250), b=rint(2, 250),
                id1=rint(10 ** 18, 9 * 10 ** 18), id2=rint(10 ** 18, 9 * 10 ** 18), n=rint(10 ** 11, 10 ** 12),
                fp=b64e(rbytes(8)))


def in_azure_managed_identity():
    sub = uid()
    return fill("""{
  "clientId": "@@c@@",
  "id": "/subscriptions/@@sub@@/resourcegroups/rg-@@r@@/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-@@s@@",
  "location": "westeurope",
  "name": "id-@@s@@",
  "principalId": "@@p@@",
  "resourceGroup": "rg-@@r@@",
  "tenantId": "@@t@@",
  "type": "Microsoft.ManagedIdentity/userAssignedIdentities"
}""", c=uid(), sub=sub, r=repo(), s=svc(), p=uid(), t=uid())


def in_kubectl_get_pod_yaml_uids():
    s = svc()
    h = rs(10, LOAL)
    return fill("""metadata:
  name: @@s@@-@@h@@-@@x@@
  namespace: prod
  uid: @@u1@@
  resourceVersion: "@@rv@@"
  labels:
    app: @@s@@
    pod-template-hash: @@h@@
  ownerReferences:
  - apiVersion: apps/v1
    kind: ReplicaSet
    name: @@s@@-@@h@@
    uid: @@u2@@
status:
  containerStatuses:
  - containerID: containerd://@@cid@@
    image: ghcr.io/@@o@@/@@s@@@sha256:@@d@@
    imageID: ghcr.io/@@o@@/@@s@@@sha256:@@d@@""", s=s, h=h, x=rs(5, LOAL), u1=uid(), rv=rint(10 ** 6, 10 ** 9), u2=uid(),
                cid=hx(64), o=org(), d=hx(64))


def in_docker_images_digests():
    rows = "\n".join("ghcr.io/%s/%-14s %-10s sha256:%s   %s   %d hours ago   %dMB" % (
        org(), svc(), short_sha(), hx(64), hx(12), rint(1, 70), rint(40, 900)) for _ in range(3))
    return "REPOSITORY                         TAG        DIGEST                                                                    IMAGE ID       CREATED        SIZE\n" + rows


def in_buildx_push_output():
    return fill("""#14 exporting to image
#14 exporting layers 3.1s done
#14 exporting manifest sha256:@@m@@ done
#14 exporting config sha256:@@c@@ done
#14 exporting attestation manifest sha256:@@a@@ done
#14 exporting manifest list sha256:@@l@@ done
#14 pushing layers 4.8s done
#14 pushing manifest for ghcr.io/@@o@@/@@s@@:@@t@@@sha256:@@l@@ 0.9s done
#14 DONE 9.2s""", m=hx(64), c=hx(64), a=hx(64), l=hx(64), o=org(), s=svc(), t=short_sha())


def in_deno_lock():
    return fill("""{
  "version": "4",
  "specifiers": {
    "jsr:@std/assert@1": "1.0.@@p@@",
    "npm:zod@3": "3.24.@@q@@"
  },
  "jsr": {
    "@std/assert@1.0.@@p@@": {
      "integrity": "@@h1@@"
    }
  },
  "npm": {
    "zod@3.24.@@q@@": {
      "integrity": "@@h2@@"
    }
  }
}""", p=rint(1, 13), q=rint(1, 4), h1=hx(64), h2=sri())


def in_yarn_berry_lock():
    return fill("""__metadata:
  version: 8
  cacheKey: 10c0

"jsonwebtoken@npm:^9.0.2":
  version: 9.0.2
  resolution: "jsonwebtoken@npm:9.0.2"
  dependencies:
    jws: "npm:^3.2.2"
  checksum: 10c0/@@c1@@
  languageName: node
  linkType: hard

"secure-json-parse@npm:^2.7.0":
  version: 2.7.0
  resolution: "secure-json-parse@npm:2.7.0"
  checksum: 10c0/@@c2@@
  languageName: node
  linkType: hard""", c1=hx(128), c2=hx(128))


def in_nuget_packages_lock():
    return fill("""{
  "version": 1,
  "dependencies": {
    "net9.0": {
      "Azure.Security.KeyVault.Secrets": {
        "type": "Direct",
        "requested": "[4.7.0, )",
        "resolved": "4.7.0",
        "contentHash": "@@h1@@"
      },
      "System.IdentityModel.Tokens.Jwt": {
        "type": "Transitive",
        "resolved": "8.3.0",
        "contentHash": "@@h2@@"
      }
    }
  }
}""", h1=b64e(rbytes(64)), h2=b64e(rbytes(64)))


def in_julia_manifest():
    return fill("""[[deps.JSONWebTokens]]
deps = ["Base64", "JSON", "MbedTLS", "Random"]
git-tree-sha1 = "@@a@@"
uuid = "@@u1@@"
version = "1.1.1"

[[deps.SHA]]
uuid = "ea8e919c-243c-51af-8825-aaa63cd721ce"
version = "0.7.0\"""", a=hx(40), u1=uid())


def in_stack_yaml_lock():
    return fill("""packages:
- completed:
    hackage: jose-0.11@sha256:@@a@@,@@n1@@
    pantry-tree:
      sha256: @@b@@
      size: @@n2@@
  original:
    hackage: jose-0.11
snapshots:
- completed:
    sha256: @@c@@
    size: 718486
    url: https://raw.githubusercontent.com/commercialhaskell/stackage-snapshots/master/lts/22/43.yaml""",
                a=hx(64), n1=rint(3000, 9000), b=hx(64), n2=rint(3000, 9000), c=hx(64))


def in_renv_lock():
    return fill("""{
  "R": { "Version": "4.4.1" },
  "Packages": {
    "openssl": {
      "Package": "openssl",
      "Version": "2.2.2",
      "Source": "Repository",
      "Repository": "CRAN",
      "Hash": "@@h1@@"
    },
    "keyring": {
      "Package": "keyring",
      "Version": "1.3.2",
      "Source": "Repository",
      "Hash": "@@h2@@"
    }
  }
}""", h1=hx(32), h2=hx(32))


def in_bazel_module_lock():
    return fill("""  "registryFileHashes": {
    "https://bcr.bazel.build/modules/abseil-cpp/20240116.2/MODULE.bazel": "@@a@@",
    "https://bcr.bazel.build/modules/boringssl/0.20240913.0/source.json": "@@b@@",
    "https://bcr.bazel.build/modules/rules_go/0.50.1/MODULE.bazel": "@@c@@"
  },
  "moduleExtensions": {
    "@@rules_go+//go:extensions.bzl%go_sdk": {
      "general": { "bzlTransitiveDigest": "@@d@@=" }
    }
  }""", a=hx(64), b=hx(64), c=hx(64), d=b64e(rbytes(32))[:-1])


def in_git_show_ref():
    rows = "\n".join("%s refs/%s" % (git_sha(), r) for r in
                     ["heads/main", "heads/feat/secret-rotation", "remotes/origin/main", "tags/v%s" % ver(),
                      "tags/v%s" % ver()])
    return "$ git show-ref\n" + rows


def in_git_worktree_describe():
    return fill("""$ git worktree list
/home/@@u@@/src/@@r@@                 @@a@@ [main]
/home/@@u@@/src/@@r@@-hotfix-tokens   @@b@@ [hotfix/token-expiry]
$ git describe --long --dirty
v@@v@@-@@n@@-g@@c@@
$ git rev-parse HEAD HEAD~1
@@h1@@
@@h2@@""", u=user(), r=repo(), a=short_sha(), b=short_sha(), v=ver(), n=rint(1, 80), c=short_sha(), h1=git_sha(),
                h2=git_sha())


def in_git_pretty_raw():
    return fill("""commit @@c@@
tree @@t@@
parent @@p@@
author @@n@@ <@@e@@> @@ep@@ +0100
committer GitHub <noreply@github.com> @@ep@@ +0100
gpgsig -----BEGIN PGP SIGNATURE-----
 
 wsBcBAABCAAQBQJn@@sig1@@
 @@sig2@@
 =@@crc@@
 -----END PGP SIGNATURE-----
 

    Rotate signing key id in JWKS cache (#@@pr@@)""", c=git_sha(), t=git_sha(), p=git_sha(), n=person(), e=email(),
                ep=epoch(), sig1=b64e(rbytes(24)), sig2=b64e(rbytes(48)), crc=b64e(rbytes(3)), pr=rint(100, 9999))


def in_certutil_hashfile():
    return fill("""PS C:\\Downloads> certutil -hashfile .\\vault_@@v@@_windows_amd64.zip SHA256
SHA256 hash of .\\vault_@@v@@_windows_amd64.zip:
@@h@@
CertUtil: -hashfile command completed successfully.
PS C:\\Downloads> Select-String -Path .\\vault_@@v@@_SHA256SUMS -Pattern windows_amd64
vault_@@v@@_SHA256SUMS:14:@@h@@  vault_@@v@@_windows_amd64.zip""", v=ver(), h=hx(64))


def in_apt_release_file():
    return fill("""Origin: Debian
Label: Debian-Security
Suite: stable-security
Codename: bookworm-security
Date: Tue, 03 Mar 2026 18:22:10 UTC
Valid-Until: Tue, 10 Mar 2026 18:22:10 UTC
Acquire-By-Hash: yes
MD5Sum:
 @@m1@@   @@s1@@ main/binary-amd64/Packages
 @@m2@@   @@s2@@ main/binary-amd64/Packages.xz
SHA256:
 @@h1@@   @@s1@@ main/binary-amd64/Packages
 @@h2@@   @@s2@@ main/binary-amd64/Packages.xz""", m1=hx(32), m2=hx(32), s1=rint(10 ** 5, 10 ** 7), s2=rint(10 ** 4, 10 ** 6),
                h1=hx(64), h2=hx(64))


def in_app_json_logs_request_ids():
    return "\n".join(json.dumps({"time": ts(), "level": pick(["info", "warn"]), "msg": m, "request_id": uid(),
                                 "trace_id": hx(32), "span_id": hx(16), "tenant_id": uid(), "duration_ms": rint(2, 900)})
                     for m in ["issued access token", "api key validated", "secret cache refreshed"])


def in_jaeger_span_json():
    return fill("""{
  "traceID": "@@t@@",
  "spanID": "@@s@@",
  "operationName": "SecretsManager.GetSecretValue",
  "references": [{"refType": "CHILD_OF", "traceID": "@@t@@", "spanID": "@@p@@"}],
  "startTime": @@st@@,
  "duration": @@d@@,
  "tags": [
    {"key": "aws.request_id", "type": "string", "value": "@@rq@@"},
    {"key": "rpc.service", "type": "string", "value": "SecretsManager"}
  ]
}""", t=hx(32), s=hx(16), p=hx(16), st=epoch_ms() * 1000, d=rint(1000, 90000), rq=uid())


def in_rollbar_occurrence():
    return fill("""{
  "err": 0,
  "result": {
    "id": @@id@@,
    "item_id": @@iid@@,
    "uuid": "@@u@@",
    "data": {"environment": "production", "level": "error",
             "title": "InvalidSignatureError: webhook signature mismatch",
             "context": "webhooks#verify_signature", "server": {"host": "web-@@h@@", "code_version": "@@c@@"}}
  }
}""", id=rint(10 ** 11, 10 ** 12), iid=rint(10 ** 8, 10 ** 9), u=uid(), h=rint(1, 9), c=git_sha())


def in_gh_commit_statuses():
    return fill("""[
  {
    "url": "https://api.github.com/repos/@@o@@/@@r@@/statuses/@@c@@",
    "id": @@id@@,
    "node_id": "SC_kwDO@@n@@",
    "state": "success",
    "description": "secret-scan: no findings",
    "context": "ci/secret-scan",
    "created_at": "@@ts@@"
  }
]""", o=org(), r=repo(), c=git_sha(), id=rint(10 ** 10, 10 ** 11), n=mixed(22, B64URL), ts=ts()[:19] + "Z")


def in_eks_describe_cluster_ca():
    cert = "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgII" + wrap(b64e(rbytes(700)), 64) + "\n-----END CERTIFICATE-----\n"
    ca = b64e(cert.encode())
    return fill("""@@p@@aws eks describe-cluster --name @@c@@ --query 'cluster.{arn: arn, endpoint: endpoint, ca: certificateAuthority.data, oidc: identity.oidc.issuer}'
{
    "arn": "arn:aws:eks:@@r@@:@@a@@:cluster/@@c@@",
    "endpoint": "https://@@e@@.gr7.@@r@@.eks.amazonaws.com",
    "ca": "@@ca@@",
    "oidc": "https://oidc.eks.@@r@@.amazonaws.com/id/@@e@@"
}""", p=sh_prompt(), c="%s-prod" % org(), r=region(), a=acct(), e=HX(32), ca=ca)


def in_lambda_publish_version():
    return fill("""{
    "FunctionName": "@@s@@-rotate-secret",
    "FunctionArn": "arn:aws:lambda:@@r@@:@@a@@:function:@@s@@-rotate-secret:@@v@@",
    "CodeSha256": "@@h@@",
    "CodeSize": @@cs@@,
    "Version": "@@v@@",
    "RevisionId": "@@rev@@",
    "KMSKeyArn": "arn:aws:kms:@@r@@:@@a@@:key/@@k@@",
    "State": "Active"
}""", s=svc(), r=region(), a=acct(), v=rint(2, 90), h=b64e(rbytes(32)), cs=rint(10 ** 5, 10 ** 7), rev=uid(), k=uid())


def in_cloudwatch_insights_rows():
    rows = "\n".join("| %s | %s | 2026/03/0%d/[$LATEST]%s | token refreshed for client %s |" % (
        ts()[:23], uid(), rint(1, 9), hx(32), uid()) for _ in range(3))
    return "| @timestamp | @requestId | @logStream | @message |\n|---|---|---|---|\n" + rows


def in_gitlab_job_log():
    return fill("""Running with gitlab-runner 17.@@a@@.0 (@@r@@)
  on shared-runner-@@n@@ @@tk@@, system ID: s_@@sid@@
Preparing the "docker" executor
Using docker image sha256:@@d@@ for registry.gitlab.com/@@o@@/ci-images/rust:1.84 with digest registry.gitlab.com/@@o@@/ci-images/rust@sha256:@@d2@@ ...
Fetching changes with git depth set to 20...
Checking out @@c@@ as detached HEAD (ref is main)...
Restoring cache
Checking cache for cargo-@@ck@@-protected...
Successfully extracted cache""", a=rint(0, 9), r=short_sha(), n=rint(1, 9), tk=rs(8, LOAL), sid=rs(12, LOAL), d=hx(64),
                o=org(), d2=hx(64), c=short_sha(), ck=hx(40))


def in_ipfs_add():
    return fill("""$ ipfs add -r site/
added Qm@@a@@ site/index.html
added Qm@@b@@ site/app.js
added bafybei@@c@@ site
 1.20 MiB / 1.20 MiB [=============================================] 100.00%""", a=rs(44, B58), b=rs(44, B58),
                c=rs(52, "abcdefghijklmnopqrstuvwxyz234567"))


def in_mongo_objectids():
    rows = "\n".join("  { _id: ObjectId('%s'), tenant: ObjectId('%s'), kind: 'api_key_rotated', at: ISODate('%s') }," % (
        hx(24), hx(24), ts()) for _ in range(3))
    return "rs0 [primary] audit> db.events.find({ kind: 'api_key_rotated' }).limit(3)\n[\n" + rows + "\n]"


def in_snowflake_query_history():
    rows = "\n".join("| %s | SUCCESS | %s | SELECT * FROM SECRETS_AUDIT WHERE ... |" % (
        "%s-%s-%s-%s-%s" % (hx(8), hx(4), hx(4), hx(4), hx(12)), ts()[:19]) for _ in range(3))
    return "| QUERY_ID                             | EXECUTION_STATUS | START_TIME          | QUERY_TEXT |\n" + rows


def in_bigquery_job_ids():
    return fill("""Waiting on bqjob_r@@a@@_0000019@@b@@_1 ... (2s) Current status: DONE
+---------------------+-------------+
|       key_id        | rotated_cnt |
+---------------------+-------------+
| kms-@@k1@@           |          @@n1@@ |
| kms-@@k2@@           |          @@n2@@ |
+---------------------+-------------+""", a=hx(16), b=hx(9), k1=rs(8, LOAL), k2=rs(8, LOAL), n1=rint(1, 9), n2=rint(1, 9))


def in_databricks_run_ids():
    return fill("""{
  "job_id": @@j@@,
  "run_id": @@r@@,
  "cluster_instance": {"cluster_id": "@@cid@@", "spark_context_id": "@@sc@@"},
  "run_page_url": "https://adb-@@ws@@.@@n@@.azuredatabricks.net/?o=@@ws@@#job/@@j@@/run/@@r@@",
  "state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}
}""", j=rint(10 ** 14, 10 ** 15), r=rint(10 ** 14, 10 ** 15), cid="%s-%s-%s" % (date()[5:].replace("-", ""), rint(100000, 999999), rs(8, LOAL)),
                sc=rint(10 ** 18, 9 * 10 ** 18), ws=rint(10 ** 15, 10 ** 16), n=rint(1, 19))


def in_github_actions_cache_key():
    return fill("""Run actions/cache@v4
Cache restored successfully
Cache restored from key: Linux-cargo-@@h@@
Post job cleanup.
Cache hit occurred on the primary key Linux-cargo-@@h@@, not saving cache.""", h=hx(64))


def in_windows_whoami_sids():
    return fill("""USER INFORMATION
----------------

User Name         SID
================= ==============================================
@@dm@@\\svc-backup S-1-5-21-@@a@@-@@b@@-@@c@@-@@r@@

GROUP INFORMATION
-----------------
Group Name                     Type             SID          Attributes
============================== ================ ============ ===============================
Everyone                       Well-known group S-1-1-0      Mandatory group, Enabled by default
BUILTIN\\Backup Operators       Alias            S-1-5-32-551 Mandatory group, Enabled by default""",
                dm=org().upper()[:8], a=rint(10 ** 9, 4 * 10 ** 9), b=rint(10 ** 9, 4 * 10 ** 9), c=rint(10 ** 9, 4 * 10 ** 9),
                r=rint(1000, 9999))


def in_journal_json_machine_id():
    return json.dumps({"__CURSOR": "s=%s;i=%x;b=%s;m=%x;t=%x;x=%s" % (hx(32), rint(10 ** 5, 10 ** 7), hx(32), rint(10 ** 8, 10 ** 10),
                                                                       rint(10 ** 15, 10 ** 16), hx(16)),
                       "_MACHINE_ID": hx(32), "_BOOT_ID": hx(32), "_HOSTNAME": "vault-0", "SYSLOG_IDENTIFIER": "vault",
                       "MESSAGE": "core: successfully unsealed with stored key", "_PID": str(rint(100, 9999))}, indent=1)


def in_kafka_cluster_id():
    return fill("""$ kafka-storage.sh info -c config/kraft/server.properties
Found log directory:
  /var/lib/kafka/data

Found metadata: {cluster.id=@@cid@@, node.id=@@n@@, directory.id=@@did@@, version=1}
$ kafka-cluster.sh cluster-id --bootstrap-server localhost:9092
Cluster ID: @@cid@@""", cid=mixed(22, B64URL), n=rint(1, 5), did=mixed(22, B64URL))


def in_es_cat_indices():
    rows = "\n".join("green  open   %-32s %s   1   1   %7d            0     %3d.%dmb" % (
        n, mixed(22, B64URL), rint(1000, 999999), rint(1, 900), rint(0, 9)) for n in
        ["audit-secret-access-2026.03", "logs-api-keys-2026.03", ".security-7"])
    return "$ curl -s 'localhost:9200/_cat/indices?v&h=health,status,index,uuid,pri,rep,docs.count,docs.deleted,store.size'\nhealth status index                            uuid                   pri rep docs.count docs.deleted store.size\n" + rows


def in_redis_cluster_nodes():
    ids = [hx(40) for _ in range(4)]
    rows = [
        "%s 10.0.1.11:6379@16379 myself,master - 0 0 1 connected 0-5460" % ids[0],
        "%s 10.0.1.12:6379@16379 master - 0 %d 2 connected 5461-10922" % (ids[1], epoch_ms()),
        "%s 10.0.1.13:6379@16379 master - 0 %d 3 connected 10923-16383" % (ids[2], epoch_ms()),
        "%s 10.0.1.14:6379@16379 slave %s 0 %d 1 connected" % (ids[3], ids[0], epoch_ms()),
    ]
    return "127.0.0.1:6379> CLUSTER NODES\n" + "\n".join(rows)


def in_pg_controldata():
    return fill("""$ pg_controldata /var/lib/postgresql/16/main | head -8
pg_control version number:            1300
Catalog version number:               202307071
Database system identifier:           @@sid@@
Database cluster state:               in production
pg_control last modified:             Tue 03 Mar 2026 10:11:02 AM UTC
Latest checkpoint location:           @@a@@/@@b@@
Latest checkpoint's REDO WAL file:    0000000100000@@c@@
Data page checksum version:           1""", sid=rint(7 * 10 ** 18, 9 * 10 ** 18), a=HX(1), b=HX(8), c=HX(11))


def in_mysql_gtid():
    u = uid()
    return fill("""mysql> SELECT @@server_uuid, @@gtid_executed\\G
*************************** 1. row ***************************
  @@server_uuid: @@u@@
@@gtid_executed: @@u@@:1-@@n@@,
@@u2@@:1-@@m@@
1 row in set (0.00 sec)""", u=u, n=rint(1000, 900000), u2=uid(), m=rint(10, 999))


def in_nodetool_status():
    rows = "\n".join("UN  10.0.2.%-3d  %5.1f GiB  16      ?                 %s  rack%d" % (
        rint(2, 250), R.random() * 300, uid(), rint(1, 3)) for _ in range(3))
    return "Datacenter: eu-west\n===================\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address     Load       Tokens  Owns (effective)  Host ID                               Rack\n" + rows


def in_ceph_status():
    return fill("""  cluster:
    id:     @@u@@
    health: HEALTH_OK

  services:
    mon: 3 daemons, quorum ceph-1,ceph-2,ceph-3 (age 6d)
    mgr: ceph-1.@@m@@(active, since 6d)
    osd: 12 osds: 12 up (since 6d), 12 in (since 3w)""", u=uid(), m=rs(6, LO))


def in_cloudtrail_event_ids():
    return fill("""{
  "eventVersion": "1.09",
  "eventTime": "@@ts@@",
  "eventSource": "secretsmanager.amazonaws.com",
  "eventName": "GetSecretValue",
  "awsRegion": "@@r@@",
  "requestParameters": {"secretId": "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/@@s@@/db-@@x@@"},
  "responseElements": null,
  "requestID": "@@rq@@",
  "eventID": "@@ev@@",
  "readOnly": true,
  "recipientAccountId": "@@a@@"
}""", ts=ts()[:19] + "Z", r=region(), a=acct(), s=svc(), x=rs(6), rq=uid(), ev=uid())


def in_x509_serial_fingerprint():
    return fill("""$ openssl x509 -in certs/@@s@@.crt -noout -serial -fingerprint -sha256 -dates
serial=@@sn@@
sha256 Fingerprint=@@fp@@
notBefore=Mar  1 00:00:00 2026 GMT
notAfter=May 30 23:59:59 2026 GMT""", s=svc(), sn=HX(32), fp=":".join(HX(2) for _ in range(32)))


INFRA_IDS = [in_tf_plan_secrets_resources, in_tf_apply_outputs_ids, in_ec2_describe_instances, in_kms_rotation_status,
             in_secretsmanager_rotate_output, in_dynamodb_consumed_capacity, in_gcloud_instances_list,
             in_azure_managed_identity, in_kubectl_get_pod_yaml_uids, in_docker_images_digests, in_buildx_push_output,
             in_deno_lock, in_yarn_berry_lock, in_nuget_packages_lock, in_julia_manifest, in_stack_yaml_lock,
             in_renv_lock, in_bazel_module_lock, in_git_show_ref, in_git_worktree_describe, in_git_pretty_raw,
             in_certutil_hashfile, in_apt_release_file, in_app_json_logs_request_ids, in_jaeger_span_json,
             in_rollbar_occurrence, in_gh_commit_statuses, in_eks_describe_cluster_ca, in_lambda_publish_version,
             in_cloudwatch_insights_rows, in_gitlab_job_log, in_ipfs_add, in_mongo_objectids,
             in_snowflake_query_history, in_bigquery_job_ids, in_databricks_run_ids, in_github_actions_cache_key,
             in_windows_whoami_sids, in_journal_json_machine_id, in_kafka_cluster_id, in_es_cat_indices,
             in_redis_cluster_nodes, in_pg_controldata, in_mysql_gtid, in_nodetool_status, in_ceph_status,
             in_cloudtrail_event_ids, in_x509_serial_fingerprint]


# ================================================================ schedule, build, validate
SECRET = [("json_escaped", JSON_ESCAPED, 34), ("key_pairs", KEY_PAIRS, 34), ("provider_near_value", PROVIDER_NEAR_VALUE, 33),
          ("url_keys", URL_KEYS, 33), ("code_constants", CODE_CONSTANTS, 33), ("common_shapes", COMMON_SHAPES, 33)]
CLEAN = [("doc_example", DOC_EXAMPLE, 40), ("references", REFERENCES, 40), ("option_docs", OPTION_DOCS, 40),
         ("identifiers", IDENTIFIERS, 40), ("infra_ids", INFRA_IDS, 40)]

# the shapes the brief names explicitly: always scheduled
MUST = {
    "je_sa_json_pasted_in_prompt", "je_env_after_newline", "je_escaped_quotes_config", "je_write_aws_credentials_args",
    "je_probot_env_pem", "je_jsonl_transcript_pem_read",
    "kp_prose_paren_slash", "kp_chat_colon_pair", "kp_csharp_s3client_positional", "kp_rust_credentials_new",
    "kp_twilio_php_client", "kp_sts_query_text",
    "pv_stripe_token_dash_quote", "pv_mixpanel_bare", "pv_yaml_provider_unquoted", "pv_yaml_suffix_unquoted",
    "pv_json_suffix_keys", "pv_next_line_buildkite", "pv_postman_bold_adjacent",
    "u_telegram_traceback", "u_nginx_api_key_query", "u_azure_sas_sig", "u_slack_webhook_alertmanager",
    "u_discord_webhook_js", "u_key_path_segment",
    "cc_rust_master_key_hex", "cc_go_const_block", "cc_ts_export_hex", "cc_python_fromhex", "cc_java_static_final_b64",
    "cc_python_settings_salt",
    "cs_dotenv_file", "cs_psql_uri", "cs_curl_bearer_ghp", "cs_az_postgres_admin_password", "cs_docker_login_stdin_echo",
    "cs_kubectl_docker_registry_secret",
    "de_aws_second_pair_profiles", "de_sequential_hex_readme", "de_all_zero_secret_compose", "de_env_sample_your_key_here",
    "de_helm_changeme", "de_issue_redacted_token",
    "rf_ansible_vault_inline", "rf_sops_yaml_age", "rf_sealed_secret", "rf_compose_var_templates",
    "rf_helm_secret_template", "rf_erb_database_yml", "rf_secretsmanager_arn_env", "rf_gcp_secret_paths",
    "rf_op_load_secrets_action", "rf_env_refs_code",
    "od_oc_login_help", "od_ldappasswd_usage", "od_bash_getopts_usage", "od_jupyter_config_comments",
    "id_java_stack_password_secret_manager", "id_strace_key_paths", "id_pytest_names", "id_logfmt_field_names",
    "in_tf_plan_secrets_resources", "in_ec2_describe_instances", "in_cloudtrail_event_ids", "in_buildx_push_output",
    "in_yarn_berry_lock", "in_git_show_ref",
}

CLEAN_CMDS = ["cat /tmp/paste.txt", "sed -n '1,200p' notes/scratch.md", "cat session-notes.txt", "less -FX out.log",
              "tail -n 80 /tmp/out.log", "cat docs/notes.md"]


def schedule(fns, n):
    names = [f.__name__ for f in fns]
    assert len(set(names)) == len(names), "duplicate template"
    assert len(fns) >= n, ("need at least as many templates as cases", len(fns), n)
    must = [f for f in fns if f.__name__ in MUST]
    rest = [f for f in fns if f.__name__ not in MUST]
    assert len(must) <= n, (len(must), n)
    R.shuffle(rest)
    return must + rest[:n - len(must)]


# real-looking credential shapes that must never appear in a clean case
REAL_LOOKING = [re.compile(p) for p in [
    r"A(KIA|SIA)[A-Z2-7]{16}", r"gh[oprsu]_[A-Za-z0-9]{30,}", r"github_pat_[A-Za-z0-9_]{40,}", r"glp(at|tt)-[A-Za-z0-9_-]{20,}",
    r"xox[abpe]-[0-9]+-", r"xapp-1-", r"[rs]k_live_[A-Za-z0-9]{16,}", r"whsec_[A-Za-z0-9+/]{20,}", r"sk-proj-[A-Za-z0-9_-]{20,}",
    r"sk-ant-[a-z]+\d\d-", r"sk-or-v1-[0-9a-f]{20,}", r"AIza[A-Za-z0-9_-]{35}", r"GOCSPX-", r"1//0[A-Za-z0-9_-]{40,}",
    r"ya29\.[A-Za-z0-9_-]{40,}", r"\d{8,10}:AA[A-Za-z0-9_-]{30,}", r"npm_[A-Za-z0-9]{36}", r"pypi-AgEI", r"hf_[A-Za-z]{30,}",
    r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", r"hvs\.[A-Za-z0-9_-]{20,}", r"\.atlasv1\.", r"dop_v1_[0-9a-f]{64}",
    r"lin_api_[A-Za-z0-9]{20,}", r"PMAK-[0-9a-f]{24}", r"sntry[us]_", r"bkua_[0-9a-f]{40}", r"gsk_[A-Za-z0-9]{40,}",
    r"pplx-[A-Za-z0-9]{40,}", r"xai-[A-Za-z0-9]{60,}", r"lsv2_(pt|sk)_", r"shp(at|ss|ca|pa)_[0-9a-f]{32}", r"CCIPAT_",
    r"syt_[A-Za-z0-9]+_[A-Za-z]{20}_", r"fnA[A-Za-z0-9_-]{30,}", r"figd_[A-Za-z0-9_-]{30,}", r"nfp_[A-Za-z0-9]{30,}",
    r"xkeysib-[0-9a-f]{64}", r"sl\.u\.[A-Za-z0-9_-]{40,}", r"pat-na1-[0-9a-f]{8}-", r"CFPAT-", r"NRAK-[A-Z0-9]{20,}",
    r"rnd_[A-Za-z0-9]{30,}", r"pscale_(pw|tkn)_", r"sbp_[0-9a-f]{40}", r"dckr_pat_", r"AGE-SECRET-KEY-1", r"squ_[0-9a-f]{40}",
    r"APA91b[A-Za-z0-9_-]{50,}", r"LTAI[A-Za-z0-9]{16,}", r"AKID[A-Za-z0-9]{30,}", r"GOOG1E[A-Z0-9]{40,}", r"DO00[A-Z0-9]{16}",
    r"rzp_live_", r"secret-live-", r"[A-Za-z0-9]{3}8Q~[A-Za-z0-9~._-]{30,}", r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----",
    r"\bre_[A-Za-z0-9]{8}_[A-Za-z0-9]{20,}", r"pat[A-Za-z0-9]{14}\.[0-9a-f]{64}", r"tfp_[A-Za-z0-9]{40,}",
    r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}", r"SSWS\s+00[A-Za-z0-9_-]{30,}",
    r"(?i)(?<![/\w-])(password|passwd|pwd|secret|token|api_?key)\s*[:=]\s*['\"]?(?=[A-Za-z0-9!#%*+^~_-]*[0-9])(?=[A-Za-z0-9!#%*+^~_-]*[A-Z])(?=[A-Za-z0-9!#%*+^~_-]*[a-z])[A-Za-z0-9!#%*+^~_-]{14,}(?![A-Za-z0-9!#%*+^~_./:(-])",
]]
ALLOWED_IN_CLEAN = [AWS_EX_ID, AWS_EX_SECRET, AWS_EX_ID2, AWS_EX_SECRET2, JWT_IO, STRIPE_PK_DOCS, "ASIAIOSFODNN7EXAMPLE"]
FAKE_MARK = re.compile(r"(?i)example|dummy|fake|sample|placeholder|changeme|redacted|invalid|your|xxxx|0000|mock|test")


def build():
    names = {f.__name__ for _, fns, _ in SECRET + CLEAN for f in fns}
    assert MUST <= names, sorted(MUST - names)
    cases, seen = [], set()
    for fam, fns, n in SECRET:
        for fn in schedule(fns, n):
            for _ in range(30):
                text, secrets = fn()
                if text not in seen:
                    break
            assert text not in seen, (fam, fn.__name__)
            seen.add(text)
            assert secrets, (fam, fn.__name__)
            for s in secrets:
                assert isinstance(s, str) and len(s) >= 8 and s in text, (fam, fn.__name__, s[:40])
            assert len(set(secrets)) == len(secrets), (fam, fn.__name__)
            cases.append({"family": fam, "expect": "secret", "text": text, "secrets": secrets, "_fn": fn.__name__})
    for fam, fns, n in CLEAN:
        for fn in schedule(fns, n):
            for _ in range(30):
                text = fn()
                assert isinstance(text, str), fn.__name__
                if R.random() < 0.2:    # a hard negative stored the way tool results are: JSON-escaped
                    text = wrap_tool(text, pick(CLEAN_CMDS))[0]
                if text not in seen:
                    break
            assert text not in seen, (fam, fn.__name__)
            seen.add(text)
            cases.append({"family": fam, "expect": "clean", "text": text, "secrets": [], "_fn": fn.__name__})
    R.shuffle(cases)
    return cases


def validate(cases):
    problems = []
    all_secrets = [s for c in cases for s in c["secrets"]]
    for c in cases:
        assert c["expect"] in ("secret", "clean")
        assert (c["expect"] == "secret") == bool(c["secrets"]), c["_fn"]
        assert not re.search(r"@@(?!server_uuid|gtid_executed)[A-Za-z0-9_]+@@", c["text"]), c["_fn"]
        if c["expect"] == "clean":
            for rx in REAL_LOOKING:
                for m in rx.finditer(c["text"]):
                    g = m.group(0)
                    if any(a in g or g in a for a in ALLOWED_IN_CLEAN) or FAKE_MARK.search(g):
                        continue
                    problems.append((c["_fn"], g[:60]))
            for s in all_secrets:
                if s in c["text"]:
                    problems.append((c["_fn"], "secret of another case: " + s[:20]))
        else:
            for s in c["secrets"]:
                assert s in c["text"], (c["_fn"], s)
    assert not problems, problems
    return len(all_secrets)


def main():
    cases = build()
    n_secrets = validate(cases)
    out = sys.stdout.buffer
    ids = set()
    for i, c in enumerate(cases, 1):
        rec = {"id": "t6-%04d" % i, "family": c["family"], "expect": c["expect"], "text": c["text"],
               "secrets": c["secrets"]}
        assert rec["id"] not in ids
        ids.add(rec["id"])
        out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    counts = Counter((c["family"], c["expect"]) for c in cases)
    used = Counter(c["_fn"] for c in cases)
    assert max(used.values()) == 1
    total_tpl = sum(len(f) for _, f, _ in SECRET) + sum(len(f) for _, f, _ in CLEAN)
    print("wrote %d cases (%d secret, %d clean), %d listed secrets (%d of %d templates used, each once)" % (
        len(cases), sum(1 for c in cases if c["expect"] == "secret"), sum(1 for c in cases if c["expect"] == "clean"),
        n_secrets, len(used), total_tpl), file=sys.stderr)
    for fam, fns, n in SECRET:
        print("  %-20s secret %3d  (%d templates)" % (fam, counts[(fam, "secret")], len(fns)), file=sys.stderr)
    for fam, fns, n in CLEAN:
        print("  %-20s clean  %3d  (%d templates)" % (fam, counts[(fam, "clean")], len(fns)), file=sys.stderr)
    print("validation: every secret occurs verbatim in its text; ids unique; no real-looking credential shape or "
          "other case's secret in any clean text", file=sys.stderr)


if __name__ == "__main__":
    main()
