#!/usr/bin/env python3
"""Generate session_tuning9.jsonl -- blind tuning cases for the session-text secret redactor.

Each case is one chunk of AI-coding-session text (prompt, tool output, pasted
file, assistant summary), sometimes wrapped in an agent-log envelope (markdown
fence, JSON tool_result string, doubly escaped JSON, jsonl transcript line,
psql row).

    {"id": "t9-0001", "family": "...", "expect": "clean"|"secret",
     "text": "...", "secrets": ["exact substrings of text that must be removed"]}

Every secret-looking value is drawn from a PRNG with a fixed seed, in the
vendor's format and length. None of them is a real credential.  Values in the
clean families are publicly documented vendor examples, visibly fake
placeholders, encrypted blobs, references to secret stores, identifiers,
digests, public keys and similar high-entropy non-secrets.

Python 3.9+ stdlib only.  Output is deterministic.

    python3 gen_session_tuning9.py
"""
import base64
import datetime
import gzip
import hashlib
import json
import os
import random
import string
import struct
import urllib.parse
import uuid
import zlib

SEED = 0x5E55_1079
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "session_tuning9.jsonl")
PREFIX = "t9"

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
B62 = DG + UP + LO
B64 = UP + LO + DG + "+/"
B64U = UP + LO + DG + "-_"
HEX = "0123456789abcdef"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# random secret material must never look "made up" by accident
BAD_WORDS = ("exampl", "test", "dummy", "fake", "xxx", "sample", "invalid", "placeholder",
             "redact", "change", "secret", "token", "passw", "key", "demo", "aaaa", "0000",
             "1234", "abcd", "your", "here", "todo")


def pick(seq):
    return R.choice(seq)


def ri(a, b):
    return R.randint(a, b)


def _ok(s):
    low = s.lower()
    return not any(w in low for w in BAD_WORDS)


def rs(n, alpha=B62):
    """random string for secret material (rejects accidental 'fake-looking' words)"""
    while True:
        s = "".join(R.choice(alpha) for _ in range(n))
        if _ok(s):
            return s


def rhex(n):
    return rs(n, HEX)


def rb(n):
    return R.randbytes(n)


def hx(n):
    """plain random hex for identifiers (no filtering)"""
    return R.randbytes((n + 1) // 2).hex()[:n]


def b64(b):
    return base64.b64encode(b).decode()


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def b64_secret(nbytes):
    while True:
        s = b64(rb(nbytes))
        if _ok(s):
            return s


def uid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


BASE_TS = datetime.datetime(2025, 1, 6, 8, 0, 0)


def when():
    return BASE_TS + datetime.timedelta(seconds=ri(0, 220 * 86400), milliseconds=ri(0, 999))


def ts(fmt="iso"):
    t = when()
    if fmt == "iso":
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)
    if fmt == "sec":
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "log":
        return t.strftime("%Y-%m-%d %H:%M:%S")
    if fmt == "epoch":
        return str(int(t.replace(tzinfo=datetime.timezone.utc).timestamp()))
    raise ValueError(fmt)


_CLOCK = [BASE_TS]


def tsq_start():
    _CLOCK[0] = when()


def tsq(fmt="iso"):
    """monotonic timestamps within one log excerpt"""
    _CLOCK[0] += datetime.timedelta(milliseconds=ri(1, 2500))
    t = _CLOCK[0]
    if fmt == "log":
        return t.strftime("%Y-%m-%d %H:%M:%S")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def epoch():
    return int(when().replace(tzinfo=datetime.timezone.utc).timestamp())


PROJECTS = ["billing-api", "ledger-core", "atlas-web", "inventory-svc", "hermes-notify", "orbit-cli",
            "payments-gw", "fleet-tracker", "quasar-etl", "relay-proxy", "harbor-admin", "tern-sync",
            "pricing-engine", "kiosk-app", "audit-trail"]
MODS = ["auth", "billing", "orders", "users", "webhooks", "notifications", "search", "reports",
        "sessions", "payments", "accounts", "exports", "ingest", "scheduler"]
REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2",
           "ap-northeast-1"]
DEVS = ["alex", "priya", "mchen", "jordan", "sam", "tkowalski", "nadia", "ravi", "lena", "oscar", "fatima",
        "bgreen"]
ORGS = ["acme-corp", "northwind", "globex", "initech", "umbrella-labs", "hooli", "vandelay", "stark-ind",
        "bluth-co", "wayne-ent"]
DOMAINS = ["acme-corp.com", "northwind.io", "globex.dev", "initech.net", "hooli.xyz", "vandelay.co",
           "bluthco.app", "waynetech.cloud"]
ENVS = ["prod", "production", "staging", "stage", "dev", "qa", "preprod"]
PW_WORDS = ["marigold", "tundra", "falcon", "quartz", "harbor", "saffron", "glacier", "cobalt", "juniper",
            "orchid", "basalt", "meadow", "copper", "lantern", "nimbus", "pepper", "raven", "sierra", "willow",
            "zephyr", "amber", "canyon", "ember", "fjord", "granite", "hazel", "indigo", "jasper", "kestrel",
            "lotus", "maple", "nectar", "onyx", "prairie", "quill", "ripple", "sable", "thistle", "umber",
            "velvet", "walnut", "otter", "bramble", "cinder", "drift", "heron"]


def proj():
    return pick(PROJECTS)


def acct():
    return str(ri(100000000000, 999999999999))


def src_path(ext=None):
    ext = ext or pick(["rs", "ts", "py", "go", "js"])
    m = pick(MODS)
    f = pick(["handler", "service", "client", "config", "models", "routes", "middleware", "store", "api",
              "worker"])
    return {"rs": f"src/{m}/{f}.rs", "ts": f"src/{m}/{f}.ts", "js": f"lib/{m}/{f}.js",
            "py": f"app/{m}/{f}.py", "go": f"internal/{m}/{f}.go"}[ext]


def rds_host(name=None):
    name = name or pick(["billing", "orders", "core", "ledger", "analytics"]) + "-" + pick(["prod", "stg"])
    return f"{name}.c{hx(12)}.{pick(REGIONS)}.rds.amazonaws.com"


def db_host():
    return pick([rds_host(), "pg-primary.prod.svc.cluster.local", f"10.{ri(0, 40)}.{ri(0, 255)}.{ri(2, 250)}",
                 f"db-{ri(1, 4):02d}.{pick(ENVS)}.{pick(DOMAINS)}", "localhost", "postgres",
                 f"{pick(['main', 'app', 'core'])}-db.internal"])


def pw(style=None, urlsafe=False):
    style = style or pick(["words", "random", "random", "mixed"])
    syms = "-_.~!*" if urlsafe else "!#%^*-_+=.@"
    while True:
        if style == "words":
            s = (pick(PW_WORDS).capitalize() + pick(["-", "_", ".", ""]) + pick(PW_WORDS).capitalize()
                 + str(ri(10, 9999)) + pick(syms))
        elif style == "random":
            s = rs(ri(16, 28), B62 + syms)
        else:
            s = "".join(pick(pick([UP, LO, DG, syms])) for _ in range(ri(12, 18)))
        if _ok(s) and any(c.isdigit() for c in s) and any(c.isupper() for c in s) and any(c.islower() for c in s):
            return s


# ---------------------------------------------------------------------------
# vendor-format secret material (random)
# ---------------------------------------------------------------------------

def b62enc(n, width):
    s = ""
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s.rjust(width, "0")


def gh_token(prefix):
    body = rs(30)
    return f"{prefix}_{body}{b62enc(zlib.crc32(body.encode()) & 0xffffffff, 6)}"


def k_aws_id(p="AKIA"):
    return p + rs(16, UP + "234567")


def k_aws_secret():
    return rs(40, B62 + "/+")


def k_aws_session():
    return "IQoJb3JpZ2luX2VjE" + rs(pick([340, 388, 436]), B62 + "/+") + pick(["=", "==", ""])


def k_ghp():
    return gh_token("ghp")


def k_gho():
    return gh_token("gho")


def k_ghs():
    return gh_token("ghs")


def k_ghpat():
    return "github_pat_11" + rs(20, UP + DG) + "_" + rs(59)


def k_glpat():
    return "glpat-" + rs(20, B62 + "-_")


def k_npm():
    return "npm_" + rs(36)


def k_pypi():
    return "pypi-AgEIcHlwaS5vcmc" + rs(ri(150, 170), B64U)


def k_hf():
    return "hf_" + rs(34, UP + LO)


def k_cio():
    return "cio" + rs(32)


def k_xoxb():
    return f"xoxb-{ri(10 ** 10, 10 ** 12)}-{ri(10 ** 12, 10 ** 13 - 1)}-{rs(24)}"


def k_xoxp():
    return f"xoxp-{ri(10 ** 10, 10 ** 12)}-{ri(10 ** 10, 10 ** 12)}-{ri(10 ** 12, 10 ** 13 - 1)}-{rhex(32)}"


def k_xapp():
    return f"xapp-1-A{rs(10, UP + DG)}-{ri(10 ** 12, 10 ** 13 - 1)}-{rhex(64)}"


def k_slack_hook_parts():
    return f"T{rs(8, UP + DG)}", f"B{rs(10, UP + DG)}", rs(24)


def k_sk_live():
    return "sk_live_" + (("51" + rs(97)) if R.random() < 0.6 else rs(24))


def k_rk_live():
    return "rk_live_" + (("51" + rs(97)) if R.random() < 0.5 else rs(24))


def k_whsec():
    return "whsec_" + rs(32)


def k_openai():
    if R.random() < 0.7:
        return "sk-proj-" + rs(74, B64U) + "T3BlbkFJ" + rs(74, B64U)
    if R.random() < 0.5:
        return "sk-svcacct-" + rs(74, B64U) + "T3BlbkFJ" + rs(74, B64U)
    return "sk-" + rs(20) + "T3BlbkFJ" + rs(20)


def k_anthropic():
    return "sk-ant-api03-" + rs(93, B64U) + "AA"


def k_google():
    return "AIzaSy" + rs(33, B64U)


def k_sendgrid():
    return "SG." + rs(22, B64U) + "." + rs(43, B64U)


def k_mailgun():
    return rhex(32) + "-" + rhex(8) + "-" + rhex(8)


def k_shpat():
    return "shpat_" + rhex(32)


def k_dop():
    return "dop_v1_" + rhex(64)


def k_discord():
    while True:
        sf = str(ri(700000000000000000, 1399999999999999999))
        t = b64(sf.encode()).rstrip("=") + "." + rs(6, B64U) + "." + rs(38, B64U)
        if _ok(t):
            return t


def k_telegram():
    return f"{ri(500000000, 7999999999)}:AA{rs(33, B64U)}"


def k_azure_key():
    return b64_secret(64)


def k_opaque(n=None):
    return rs(n or pick([32, 40, 48, 64]), B62)


# ---------------------------------------------------------------------------
# key material helpers
# ---------------------------------------------------------------------------

def chunks(s, w):
    return [s[i:i + w] for i in range(0, len(s), w)]


def _pkcs1_der():
    return (bytes.fromhex("308204a40201000282010100") + rb(256) + bytes.fromhex("020301000102820100") + rb(256)
            + bytes.fromhex("02818100") + rb(128) + bytes.fromhex("02818100") + rb(128)
            + bytes.fromhex("028180") + rb(128) + bytes.fromhex("028180") + rb(128)
            + bytes.fromhex("02818100") + rb(128))


def pem_rsa():
    return "RSA PRIVATE KEY", chunks(b64(_pkcs1_der()), 64)


def pem_pkcs8():
    inner = bytearray(_pkcs1_der())
    inner[2:4] = b"\x04\xa3"
    der = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7") + bytes(inner)
    return "PRIVATE KEY", chunks(b64(der), 64)


def pem_ec():
    der = (bytes.fromhex("307702010104" + "20") + rb(32) + bytes.fromhex("a00a06082a8648ce3d030107a144034200")
           + b"\x04" + rb(64))
    return "EC PRIVATE KEY", chunks(b64(der), 64)


def sshstr(b):
    return struct.pack(">I", len(b)) + b


def ed25519_pub_blob(pk):
    return sshstr(b"ssh-ed25519") + sshstr(pk)


def pem_openssh(comment):
    pk = rb(32)
    sk = rb(32)
    chk = rb(4)
    priv = chk + chk + sshstr(b"ssh-ed25519") + sshstr(pk) + sshstr(sk + pk) + sshstr(comment.encode())
    pad = 1
    while len(priv) % 8:
        priv += bytes([pad])
        pad += 1
    blob = (b"openssh-key-v1\0" + sshstr(b"none") + sshstr(b"none") + sshstr(b"") + struct.pack(">I", 1)
            + sshstr(ed25519_pub_blob(pk)) + sshstr(priv))
    return "OPENSSH PRIVATE KEY", chunks(b64(blob), 70)


def pem_text(label, lines, sep="\n"):
    return f"-----BEGIN {label}-----{sep}" + sep.join(lines) + f"{sep}-----END {label}-----"


def pem_pick(lines):
    """body lines that carry private material (used as the must-remove substrings)"""
    if len(lines) <= 3:
        return lines[:2]
    idx = sorted({1, len(lines) // 2, len(lines) - 2})
    return [lines[i] for i in idx]


def any_pem(comment="deploy@ci"):
    f = pick([pem_rsa, pem_pkcs8, pem_ec, pem_openssh])
    return f(comment) if f is pem_openssh else f()


def jwt(payload, alg="HS256", kid=None, typ="JWT"):
    h = {"alg": alg, "typ": typ}
    if kid:
        h["kid"] = kid
    sig = {"HS256": 32, "HS512": 64, "RS256": 256, "ES256": 64}[alg]
    while True:
        t = (b64u(json.dumps(h, separators=(",", ":")).encode()) + "."
             + b64u(json.dumps(payload, separators=(",", ":")).encode()) + "." + b64u(rb(sig)))
        if _ok(t.split(".")[2]):
            return t


def b58enc(b):
    n = int.from_bytes(b, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + s


def b58check(payload):
    return b58enc(payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4])


_BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1ffffff) << 5) ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def _convertbits(data, frm, to):
    acc = bits = 0
    ret = []
    maxv = (1 << to) - 1
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            ret.append((acc >> bits) & maxv)
    if bits:
        ret.append((acc << (to - bits)) & maxv)
    return ret


def bech32(hrp, data5, const=1):
    values = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp] + data5
    pm = _polymod(values + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH[d] for d in data5 + chk)


def btc_bech32():
    return bech32("bc", [0] + _convertbits(rb(20), 8, 5))


def age_recipient():
    return bech32("age", _convertbits(rb(32), 8, 5))


def sol_addr():
    return b58enc(rb(32))


def eth_addr():
    return "0x" + hx(40)


def ssh_ed25519_pub(comment):
    return "ssh-ed25519 " + b64(ed25519_pub_blob(rb(32))) + (" " + comment if comment else "")


def ssh_rsa_pub(comment, bits=3072):
    n = b"\x00" + bytes([0x80 | R.randrange(128)]) + rb(bits // 8 - 1)
    blob = sshstr(b"ssh-rsa") + sshstr(b"\x01\x00\x01") + sshstr(n)
    return "ssh-rsa " + b64(blob) + (" " + comment if comment else "")


def esc(s):
    return json.dumps(s)[1:-1]


# ---------------------------------------------------------------------------
# clean context fillers
# ---------------------------------------------------------------------------

COMMIT_MSGS = [
    "fix(auth): handle expired refresh tokens", "chore(deps): bump serde from 1.0.197 to 1.0.203",
    "feat(billing): prorate seat changes mid-cycle", "refactor: split webhook handler into verify/dispatch",
    "test: cover password reset happy path", "ci: cache cargo registry between jobs",
    "docs: document SECRET_KEY_BASE rotation", "fix: don't log Authorization header in request middleware",
    "feat(api): add pagination to /v1/invoices", "Revert \"feat: enable new token cache\"",
    "fix(db): add index on sessions(user_id, expires_at)", "build: pin node to 20.11",
    "feat(cli): --dry-run for migrate command", "fix: retry S3 uploads on 503 SlowDown",
    "chore: move credentials loading behind SecretProvider trait", "fix(ui): mask api key input field",
    "perf: batch ledger writes", "feat: rotate signing keys every 24h",
]


def pod_name(base):
    return f"{base}-{rs(10, 'bcdfghjklmnpqrstvwxz2456789')}-{rs(5, 'bcdfghjklmnpqrstvwxz2456789')}"


def f_git_status():
    br = pick(["feature/", "fix/", "chore/", ""]) + pick(MODS) + pick(["-cleanup", "-retry", "-v2", "-pagination", ""])
    files = [src_path() for _ in range(ri(1, 4))]
    out = [f"$ git status", f"On branch {br or 'main'}",
           f"Your branch is ahead of 'origin/{br or 'main'}' by {ri(1, 4)} commit(s).", "",
           "Changes not staged for commit:", '  (use "git add <file>..." to update what will be committed)',
           '  (use "git restore <file>..." to discard changes in working directory)']
    out += [f"\tmodified:   {f}" for f in files]
    if R.random() < 0.5:
        out += ["", "Untracked files:", '  (use "git add <file>..." to include in what will be committed)',
                f"\t{pick(['tests/', 'docs/', 'scripts/'])}{pick(MODS)}_{pick(['spec', 'notes', 'helper'])}.{pick(['md', 'py', 'ts', 'sh'])}"]
    out += ["", 'no changes added to commit (use "git add" and/or "git commit -a")']
    return "\n".join(out)


def f_git_log():
    out = [f"$ git log --oneline -{(n := ri(3, 7))}"]
    for k in range(n):
        ref = " (HEAD -> main, origin/main)" if k == 0 else ""
        out.append(f"{hx(7)}{ref} {pick(COMMIT_MSGS)}")
    return "\n".join(out)


def f_cargo_test():
    crate = proj().replace("-", "_")
    names = [f"{pick(MODS)}::tests::{pick(['parses', 'rejects', 'handles', 'roundtrips', 'retries'])}_{pick(['empty_input', 'unicode', 'large_payload', 'missing_header', 'timeout', 'duplicate_ids'])}" for _ in range(ri(3, 9))]
    out = [f"$ cargo test -p {crate}", f"   Compiling {crate} v0.{ri(1, 9)}.{ri(0, 20)} (/home/{pick(DEVS)}/src/{crate})",
           f"    Finished `test` profile [unoptimized + debuginfo] target(s) in {ri(3, 90)}.{ri(10, 99)}s",
           f"     Running unittests src/lib.rs (target/debug/deps/{crate}-{hx(16)})", "", f"running {len(names)} tests"]
    out += [f"test {n} ... ok" for n in names]
    out += ["", f"test result: ok. {len(names)} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.{ri(1, 99):02d}s"]
    return "\n".join(out)


def f_npm_install():
    n = ri(120, 1400)
    return "\n".join([f"$ npm {pick(['install', 'ci'])}", "", f"added {n} packages, and audited {n + 1} packages in {ri(2, 40)}s", "",
                      f"{ri(20, 200)} packages are looking for funding", "  run `npm fund` for details", "",
                      pick(["found 0 vulnerabilities", f"{ri(1, 6)} moderate severity vulnerabilities\n\nTo address all issues, run:\n  npm audit fix"])])


def f_pytest():
    mod = pick(MODS)
    t = ri(8, 140)
    return "\n".join([f"$ pytest -q tests/test_{mod}.py", "." * min(t, 60) + ("." * (t - 60) if t > 60 else ""),
                      f"{t} passed{pick(['', ', 2 skipped', ', 1 xfailed'])} in {ri(0, 30)}.{ri(10, 99)}s"])


def f_docker_ps():
    rows = ["CONTAINER ID   IMAGE                      COMMAND                  CREATED        STATUS                  PORTS                    NAMES"]
    for img, port in pick([[("postgres:16-alpine", "0.0.0.0:5432->5432/tcp"), ("redis:7", "0.0.0.0:6379->6379/tcp")],
                           [("localstack/localstack:3.4", "0.0.0.0:4566->4566/tcp")],
                           [("mysql:8.0", "0.0.0.0:3306->3306/tcp"), ("minio/minio", "0.0.0.0:9000->9000/tcp")]]):
        m = ri(2, 50)
        rows.append(f"{hx(12)}   {img:<26} \"docker-entrypoint.s…\"   {str(m) + ' minutes ago':<14} {'Up ' + str(m - 1) + ' minutes (healthy)':<23} {port:<24} {proj()}-{img.split(':')[0].split('/')[-1]}-1")
    return "$ docker ps\n" + "\n".join(rows)


def f_kubectl_pods():
    ns = pick(["default", "billing", "platform", "payments"])
    rows = [f"$ kubectl get pods -n {ns}", "NAME                                  READY   STATUS            RESTARTS   AGE"]
    for _ in range(ri(2, 5)):
        st = pick(["Running", "Running", "Running", "CrashLoopBackOff"])
        rows.append(f"{pod_name(proj()):<37} {'1/1' if st == 'Running' else '0/1'}     {st:<17} {ri(0, 6):<10} {ri(1, 9)}d{ri(1, 23)}h")
    return "\n".join(rows)


def f_ls():
    rows = [f"$ ls -la {pick(['', 'config/', 'deploy/', 'scripts/'])}".rstrip(), f"total {ri(20, 120)}"]
    for n in pick([["Cargo.toml", "Cargo.lock", "src", "tests", "README.md"],
                   ["package.json", "tsconfig.json", "src", "node_modules", ".eslintrc.cjs"],
                   ["docker-compose.yml", "Makefile", "deploy", "terraform", ".github"]]):
        d = "d" if n in ("src", "tests", "node_modules", "deploy", "terraform", ".github") else "-"
        rows.append(f"{d}rw{'x' if d == 'd' else '-'}r-{'x' if d == 'd' else '-'}r-{'x' if d == 'd' else '-'}  {ri(1, 9)} {pick(DEVS)} staff {ri(96, 90000):>6} {pick(['Mar', 'Apr', 'May', 'Jun'])} {ri(1, 28):>2} {ri(0, 23):02d}:{ri(0, 59):02d} {n}")
    return "\n".join(rows)


def f_go_test():
    mod = f"github.com/{pick(ORGS)}/{proj()}"
    rows = ["$ go test ./..."]
    for p in ["internal/" + pick(MODS) for _ in range(ri(2, 5))]:
        rows.append(f"ok  \t{mod}/{p}\t{ri(0, 3)}.{ri(10, 999):03d}s")
    rows.append(f"?   \t{mod}/cmd/server\t[no test files]")
    return "\n".join(rows)


def f_tsc():
    return pick(["$ npx tsc --noEmit\n$ echo $?\n0", f"$ npm run lint\n\n> {proj()}@{ri(0, 3)}.{ri(0, 20)}.{ri(0, 9)} lint\n> eslint . --ext .ts\n\n✔ No problems found",
                 f"$ npx vitest run\n\n RUN  v1.{ri(1, 6)}.{ri(0, 4)} /home/{pick(DEVS)}/{proj()}\n\n ✓ src/{pick(MODS)}/{pick(MODS)}.test.ts ({ri(3, 30)} tests) {ri(5, 900)}ms\n\n Test Files  {ri(1, 9)} passed\n      Tests  {ri(10, 99)} passed"])


OUTPUT_FILLERS = [f_git_status, f_git_log, f_cargo_test, f_npm_install, f_pytest, f_docker_ps, f_kubectl_pods,
                  f_ls, f_go_test, f_tsc]

PROMPTS = [
    "ok, run the tests again and tell me what's still failing",
    "can you look at why the deploy job keeps failing on main?",
    "here's what I get when I run it locally:",
    "this is the output, not sure what's wrong",
    "pasting the file so you have context",
    "the staging env is broken since this morning. logs below",
    "can you clean this up before I open the PR?",
    "why does this work locally but not in CI?",
    "I think the config is fine but double check",
    "ran it, here's the full output",
    "compare this with what we have in prod",
    "quick one: is this safe to commit?",
]
NOTES = [
    "Let me check the configuration first.",
    "I'll look at the deployment manifest next.",
    "The build succeeds now; the remaining failure is unrelated to this change.",
    "I've updated the handler and re-run the suite.",
    "Next I'll verify the migration against a fresh database.",
    "Running the linter to make sure nothing else regressed.",
    "That confirms the issue is in how the client is constructed, not in the network layer.",
    "I'll keep the change minimal and leave the retry policy as is.",
]


def f_prompt():
    return pick(PROMPTS)


def f_note():
    return pick(NOTES)


# ---------------------------------------------------------------------------
# wrappers (agent-log envelopes)
# ---------------------------------------------------------------------------

def toolu():
    return "toolu_01" + rs(22, B62)


def w_plain(text, secrets):
    return text, list(secrets)


def w_fence(text, secrets):
    head = text.lstrip()[:1]
    if text.startswith("$ "):
        lang = pick(["", "console", "bash", "shell", "text"])
    elif head in "{[":
        lang = pick(["", "json", "text"])
    else:
        lang = pick(["", "", "text", "log"])
    pre = pick(["", "", "Here is the output:\n\n", "Output:\n", "Full log:\n\n", "This is what I'm seeing:\n\n"])
    post = pick(["", "", "\n\nAny idea?", "\n\nthoughts?", "\n\nThe second run was identical."])
    return f"{pre}```{lang}\n{text}\n```{post}", list(secrets)


def w_tool_result(text, secrets):
    obj = {"type": "tool_result", "tool_use_id": toolu(), "content": text}
    if R.random() < 0.5:
        obj["is_error"] = R.random() < 0.2
    return json.dumps(obj), [esc(s) for s in secrets]


def w_double(text, secrets):
    inner = json.dumps({"type": "tool_result", "tool_use_id": toolu(), "content": text})
    outer = {"level": pick(["debug", "info", "trace"]), "ts": ts("iso"), "msg": pick(["tool call finished", "persisting tool result", "recv"]),
             "session": uid(), "payload": inner}
    return json.dumps(outer), [esc(esc(s)) for s in secrets]


def w_jsonl(text, secrets):
    base = {"parentUuid": uid(), "isSidechain": False, "userType": "external",
            "cwd": f"/home/{pick(DEVS)}/src/{proj()}", "sessionId": uid(), "version": f"1.0.{ri(20, 90)}"}
    if R.random() < 0.6:
        base["type"] = "user"
        base["message"] = {"role": "user", "content": [{"tool_use_id": toolu(), "type": "tool_result", "content": text,
                                                        "is_error": False}]}
    else:
        base["type"] = "assistant"
        base["message"] = {"id": "msg_01" + rs(22), "type": "message", "role": "assistant",
                           "model": pick(["claude-sonnet-4-20250514", "claude-opus-4-1-20250805"]),
                           "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                           "usage": {"input_tokens": ri(10, 4000), "output_tokens": ri(10, 2000)}}
    base["uuid"] = uid()
    base["timestamp"] = ts("iso")
    return json.dumps(base), [esc(s) for s in secrets]


def w_psql(text, secrets):
    lines = text.split("\n")
    w = max(max(len(x) for x in lines), 7)
    rid = str(ri(100, 99999))
    sid = uid()
    role = pick(["tool", "user", "assistant"])
    if len(lines) * (w + 60) > 3300:
        # unaligned, tuples-only output: content is printed raw
        q = f"$ psql -d {pick(['app', 'han'])} -At -c \"select id, role, content from messages where id = {rid}\""
        return q + "\n" + f"{rid}|{role}|" + text, list(secrets)
    idw = max(len(rid), 2)
    rolew = max(len(role), 4)
    header = f" {'id'.center(idw)} | {'session_id'.center(36)} | {'role'.center(rolew)} | {'content'.center(w)}".rstrip()
    sep = "-" * (idw + 2) + "+" + "-" * 38 + "+" + "-" * (rolew + 2) + "+" + "-" * (w + 2)
    rows = []
    for k, ln in enumerate(lines):
        if k == 0:
            left = f" {rid.rjust(idw)} | {sid} | {role.ljust(rolew)} | "
        else:
            left = f" {' ' * idw} | {' ' * 36} | {' ' * rolew} | "
        rows.append(left + (ln if k == len(lines) - 1 else ln.ljust(w) + "+"))
    q = pick([f"{pick(['app', 'han', 'sessions'])}=> SELECT id, session_id, role, content FROM messages WHERE id = {rid};",
              f"{pick(['app', 'han'])}=# select id, session_id, role, content from transcript_messages where session_id = '{sid}' and id = {rid};"])
    return q + "\n" + header + "\n" + sep + "\n" + "\n".join(rows) + "\n(1 row)\n", list(secrets)


def w_tool_use(text, secrets):
    if "\n" not in text and len(text) < 400:
        inp = {"command": text, "description": pick(["Run command", "Check config", "Inspect service", "Reproduce failure"])}
        name = "Bash"
    else:
        inp = {"file_path": f"/home/{pick(DEVS)}/src/{proj()}/{pick(['.env', 'config/settings.yaml', 'deploy/values.yaml', 'notes.md', 'docker-compose.yml'])}",
               "content": text}
        name = "Write"
    obj = {"type": "tool_use", "id": toolu(), "name": name, "input": inp}
    return json.dumps(obj), [esc(s) for s in secrets]


WRAPPERS = [(w_plain, 40), (w_fence, 14), (w_tool_result, 16), (w_double, 7), (w_jsonl, 12), (w_psql, 7), (w_tool_use, 4)]
JSONY = (w_tool_result, w_double, w_jsonl, w_tool_use)


def choose_wrapper(text):
    ws, wt = zip(*WRAPPERS)
    w = R.choices(ws, weights=wt)[0]
    if w is w_tool_use and len(text) > 1500:
        w = w_tool_result
    if w is w_psql and max(len(x) for x in text.split("\n")) > 220:
        w = w_fence
    return w


def pad(text, wrapper):
    """add surrounding clean session context; vary lengths from a line to ~3 KB"""
    r = R.random()
    if r < 0.35 or len(text) > 2200:
        return text
    target = ri(len(text) + 150, 3000)
    parts = [text]
    if wrapper is w_plain and R.random() < 0.5:
        parts.insert(0, f_prompt() + "\n")
    fillers = R.sample(OUTPUT_FILLERS, ri(1, 2))
    for gen in fillers:
        if sum(len(p) for p in parts) >= target:
            break
        f = gen()
        if sum(len(p) for p in parts) + len(f) > 3000:
            break
        if R.random() < 0.5:
            parts.insert(0 if wrapper in JSONY else min(1, len(parts) - 1) if len(parts) > 1 else 0, f)
        else:
            parts.append(f)
    if wrapper is w_plain and R.random() < 0.3:
        parts.append(f_note())
    return "\n\n".join(p.rstrip("\n") for p in parts)


# ===========================================================================
# CLEAN FAMILIES
# ===========================================================================

AWS_DOC_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_DOC_ID2 = "AKIAI44QH8DHBEXAMPLE"
AWS_DOC_SECRET2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
STRIPE_DOC_SK = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_DOC_PK = "pk_test_TYooMQauvdEDq54NiTphI7jx"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def vd_aws_configure():
    pre = pick(["", "From the AWS CLI quickstart, the prompt sequence is:\n\n", "The docs show this for `aws configure`:\n\n"])
    return pre + "\n".join(["$ aws configure", f"AWS Access Key ID [None]: {AWS_DOC_ID}",
                            f"AWS Secret Access Key [None]: {AWS_DOC_SECRET}", f"Default region name [None]: {pick(REGIONS)}",
                            "Default output format [None]: json"])


def vd_aws_credfile():
    return "\n".join([
        "For localstack any credentials are accepted, so the test harness writes the ones from the AWS docs:", "",
        "```ini", "# tests/fixtures/aws/credentials  (values copied from the AWS CLI user guide)", "[default]",
        f"aws_access_key_id = {AWS_DOC_ID}", f"aws_secret_access_key = {AWS_DOC_SECRET}", "",
        "[user1]", f"aws_access_key_id = {AWS_DOC_ID2}", f"aws_secret_access_key = {AWS_DOC_SECRET2}", "```", "",
        f"and `AWS_ENDPOINT_URL=http://localhost:4566` is set in `{pick(['conftest.py', 'jest.setup.ts', 'tests/common/mod.rs'])}`."])


def vd_stripe_curl():
    amt = pick([999, 2000, 4900, 1500])
    return "\n".join([
        "Per the Stripe API reference, creating a PaymentIntent looks like:", "",
        "curl https://api.stripe.com/v1/payment_intents \\", f"  -u \"{STRIPE_DOC_SK}:\" \\",
        f"  -d amount={amt} \\", f"  -d currency={pick(['usd', 'eur', 'gbp'])} \\",
        "  -d \"automatic_payment_methods[enabled]\"=true", "",
        "Our integration does the same thing through the SDK; the key comes from STRIPE_SECRET_KEY at runtime."])


def vd_stripe_js():
    return "\n".join([
        f"// {pick(['docs/quickstart.md', 'examples/checkout/index.html', 'README.md'])} -- snippet from the Stripe Elements guide",
        f"const stripe = Stripe('{STRIPE_DOC_PK}');", "const elements = stripe.elements({ clientSecret });",
        "const paymentElement = elements.create('payment');", "paymentElement.mount('#payment-element');", "",
        "// test card: 4242 4242 4242 4242, any future expiry, any CVC"])


def vd_slack_sdk():
    return "\n".join([
        "The Bolt for Python getting-started page uses:", "",
        "export SLACK_BOT_TOKEN=xoxb-not-a-real-token-this-will-not-work",
        "export SLACK_SIGNING_SECRET=not-a-real-signing-secret", "",
        "```python", "import os", "from slack_sdk import WebClient", "",
        "client = WebClient(token=os.environ[\"SLACK_BOT_TOKEN\"])",
        f"client.chat_postMessage(channel=\"#{pick(['deploys', 'alerts', 'general', 'eng-oncall'])}\", text=\"Hello world :tada:\")", "```"])


def vd_azurite():
    d = {"IsEncrypted": False, "Values": {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "FUNCTIONS_WORKER_RUNTIME": pick(["node", "python", "dotnet-isolated"]),
        "BlobConnection": f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"}}
    return "$ cat local.settings.json\n" + json.dumps(d, indent=2) + "\n\n# Azurite well-known development account, same on every machine"


def vd_sts_doc():
    return "\n".join([
        "Example output from the `aws sts get-session-token` reference page:", "", "{", '    "Credentials": {',
        '        "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",',
        '        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",',
        '        "SessionToken": "AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT+FvwqnKwRcOIfrRh3c/LTo6UDdyJwOOvEVPvLXCrrrUtdnniCEXAMPLE/IvU1dYUg2RVAJBanLiHb4IgRmpRV3zrkuWJOgQs8IZZaIv2BXIa2R4OlgkBN9bkUDNCJiBeb/AXlzBBko7b15fjrBs2+cTQtpZ3CYWFXG8C5zqx37wnOE49mRl/+OtkIKGO7fAE",',
        '        "Expiration": "2020-05-19T18:06:10+00:00"', "    }", "}"])


def vd_twilio_doc():
    return "\n".join([
        "# Download the helper library from https://www.twilio.com/docs/python/install",
        "from twilio.rest import Client", "", "# Find your Account SID and Auth Token at twilio.com/console",
        "account_sid = 'ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX'", "auth_token = 'your_auth_token'",
        "client = Client(account_sid, auth_token)", "",
        f"message = client.messages.create(body='Your code is {ri(100000, 999999)}', from_='+15017122661', to='+15558675310')"])


def vd_compose_example():
    return "\n".join([
        "# Use postgres/example user/password credentials  (docker hub official image README)",
        "services:", "  db:", "    image: postgres", "    restart: always", "    shm_size: 128mb", "    environment:",
        "      POSTGRES_PASSWORD: example", "", "  adminer:", "    image: adminer", "    restart: always",
        "    ports:", "      - 8080:8080"])


def vd_tf_provider():
    return "\n".join([
        "The provider docs list static credentials as the least preferred option:", "", "```hcl",
        "provider \"aws\" {", f"  region     = \"{pick(REGIONS)}\"", "  access_key = \"my-access-key\"",
        "  secret_key = \"my-secret-key\"", "}", "```", "",
        "We should keep using the OIDC role from the CI runner instead."])


def vd_github_doc():
    o = pick(ORGS)
    return "\n".join([
        "curl -L \\", "  -H \"Accept: application/vnd.github+json\" \\", "  -H \"Authorization: Bearer <YOUR-TOKEN>\" \\",
        "  -H \"X-GitHub-Api-Version: 2022-11-28\" \\", f"  https://api.github.com/repos/{o}/{proj()}/actions/runs?per_page=5"])


def vd_k8s_secret_doc():
    return "\n".join([
        "From the Kubernetes docs (\"Managing Secrets using Configuration File\"):", "",
        "apiVersion: v1", "kind: Secret", "metadata:", "  name: mysecret", "type: Opaque", "data:",
        "  username: YWRtaW4=", "  password: MWYyZDFlMmU2N2Rm"])


def vd_openai_doc():
    return "\n".join([
        "Set your API key as an environment variable (from the OpenAI quickstart):", "",
        "export OPENAI_API_KEY=\"your_api_key_here\"", "",
        "from openai import OpenAI", "client = OpenAI()",
        f"resp = client.responses.create(model=\"{pick(['gpt-4.1', 'gpt-4o-mini', 'gpt-5'])}\", input=\"Write a haiku about recursion.\")"])


def vd_gmaps_doc():
    return "\n".join([
        "<!-- copied from the Maps JavaScript API 'Add a map' sample -->",
        "<script src=\"https://maps.googleapis.com/maps/api/js?key=YOUR_API_KEY&callback=initMap&v=weekly\" defer></script>",
        "<div id=\"map\" style=\"height: 400px\"></div>"])


def vd_sendgrid_doc():
    return "\n".join([
        "echo \"export SENDGRID_API_KEY='YOUR_API_KEY'\" > sendgrid.env", "echo \"sendgrid.env\" >> .gitignore",
        "source ./sendgrid.env"])


def vd_auth0_doc():
    return "\n".join([
        "curl --request POST \\", "  --url 'https://YOUR_DOMAIN/oauth/token' \\",
        "  --header 'content-type: application/x-www-form-urlencoded' \\",
        "  --data grant_type=client_credentials \\", "  --data client_id=YOUR_CLIENT_ID \\",
        "  --data client_secret=YOUR_CLIENT_SECRET \\", "  --data audience=YOUR_API_IDENTIFIER"])


def vd_boto_localstack():
    return "\n".join([
        "import boto3", "", "s3 = boto3.client(", "    \"s3\",", "    endpoint_url=\"http://localhost:4566\",",
        "    aws_access_key_id=\"test\",", "    aws_secret_access_key=\"test\",", f"    region_name=\"{pick(REGIONS)}\",", ")",
        f"s3.create_bucket(Bucket=\"{proj()}-fixtures\")"])


VENDOR_DOC = [vd_aws_configure, vd_aws_credfile, vd_stripe_curl, vd_stripe_js, vd_slack_sdk, vd_azurite, vd_sts_doc,
              vd_twilio_doc, vd_compose_example, vd_tf_provider, vd_github_doc, vd_k8s_secret_doc, vd_openai_doc,
              vd_gmaps_doc, vd_sendgrid_doc, vd_auth0_doc, vd_boto_localstack]


def c_vendor_doc(i):
    return VENDOR_DOC[i % len(VENDOR_DOC)](), []


# --- placeholders -----------------------------------------------------------

PH_POOL = [
    ("STRIPE_SECRET_KEY", ["sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "sk_test_your_key_here", "<stripe-secret-key>", "sk_live_REPLACE_ME"]),
    ("OPENAI_API_KEY", ["sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk-...", "your-openai-api-key", "<OPENAI_API_KEY>"]),
    ("ANTHROPIC_API_KEY", ["sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxx", "sk-ant-...", "your-anthropic-key-here"]),
    ("GITHUB_TOKEN", ["ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "ghp_xxxxxxxxxxxx", "<your-github-token>"]),
    ("AWS_ACCESS_KEY_ID", ["AKIAXXXXXXXXXXXXXXXX", "your-access-key-id", "AKIA0000000000000000"]),
    ("AWS_SECRET_ACCESS_KEY", ["your-secret-access-key", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "0000000000000000000000000000000000000000"]),
    ("DB_PASSWORD", ["changeme", "CHANGE_ME", "<db-password>", "password-goes-here", "dev-password-not-for-prod"]),
    ("JWT_SECRET", ["change-this-to-a-long-random-string", "dev-only-not-secret", "0123456789abcdef0123456789abcdef", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]),
    ("SESSION_SECRET", ["keyboard cat", "replace-with-random-64-chars", "insecure-dev-session-secret"]),
    ("SLACK_BOT_TOKEN", ["xoxb-your-bot-token", "xoxb-0000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx", "xoxb-xxxx"]),
    ("SENDGRID_API_KEY", ["SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "SG.your-key"]),
    ("HF_TOKEN", ["hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "hf_your_token_here"]),
    ("REDIS_PASSWORD", ["", "changeme", "redis-dev-password"]),
    ("API_TOKEN", ["<token>", "TODO", "dummy-token", "test-token-123", "invalid"]),
    ("SMTP_PASSWORD", ["your-smtp-password", "********", "smtp-placeholder"]),
    ("NPM_TOKEN", ["npm_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "00000000-0000-0000-0000-000000000000"]),
    ("GOOGLE_MAPS_API_KEY", ["AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "YOUR_API_KEY"]),
    ("WEBHOOK_SECRET", ["whsec_test_secret", "whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "not-set"]),
    ("ENCRYPTION_KEY", ["0000000000000000000000000000000000000000000000000000000000000000", "base64:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]),
    ("TWILIO_AUTH_TOKEN", ["your_auth_token", "00000000000000000000000000000000"]),
    ("DD_API_KEY", ["<DD_API_KEY>", "dummy_dd_key", "REDACTED"]),
    ("SECRET_KEY_BASE", ["[redacted]", "generate-with-rails-secret", "xxxxxxxx"]),
]
NONSECRET_VARS = [("NODE_ENV", ["development", "test"]), ("PORT", ["3000", "8080"]), ("LOG_LEVEL", ["debug", "info"]),
                  ("DATABASE_HOST", ["localhost", "db"]), ("AWS_REGION", REGIONS), ("FEATURE_NEW_CHECKOUT", ["true", "false"]),
                  ("APP_URL", ["http://localhost:3000", "http://127.0.0.1:8000"])]


def _ph_pairs(n):
    keys = R.sample(range(len(PH_POOL)), n)
    pairs = [(PH_POOL[k][0], pick(PH_POOL[k][1])) for k in keys]
    for _ in range(ri(1, 3)):
        k, vs = pick(NONSECRET_VARS)
        pairs.insert(ri(0, len(pairs)), (k, pick(vs)))
    return pairs


def _q(v):
    return f'"{v}"' if (" " in v or v == "" or R.random() < 0.3) else v


def ph_env_example():
    pairs = _ph_pairs(ri(3, 6))
    return "$ cat .env.example\n# Copy to .env and fill in real values. Never commit .env\n" + "\n".join(f"{k}={_q(v)}" for k, v in pairs)


def ph_compose_test():
    pairs = _ph_pairs(ri(2, 4))
    lines = ["# docker-compose.test.yml -- only used by `make test-integration`", "services:", "  app:", "    build: .",
             "    environment:"] + [f"      {k}: \"{v}\"" for k, v in pairs] + \
            ["  db:", "    image: postgres:16", "    environment:", "      POSTGRES_PASSWORD: postgres", "      POSTGRES_DB: app_test"]
    return "\n".join(lines)


def ph_pytest_fixture():
    pairs = _ph_pairs(ri(2, 4))
    lines = ["# tests/conftest.py", "import pytest", "", "", "@pytest.fixture(autouse=True)", "def fake_env(monkeypatch):"]
    lines += [f"    monkeypatch.setenv(\"{k}\", \"{v}\")" for k, v in pairs]
    lines += ["    yield"]
    return "\n".join(lines)


def ph_jest_setup():
    pairs = _ph_pairs(ri(2, 4))
    return "// jest.setup.ts\n" + "\n".join(f"process.env.{k} = '{v}';" for k, v in pairs) + \
        "\n\njest.mock('../src/lib/stripe');"


def ph_readme():
    pairs = _ph_pairs(ri(2, 4))
    return "## Configuration\n\nExport the following before running `npm run dev`:\n\n```sh\n" + \
        "\n".join(f"export {k}={_q(v)}" for k, v in pairs) + "\n```\n\nIn production these are injected by the platform."


def ph_rust_test():
    k, vs = pick(PH_POOL[:6] + PH_POOL[9:12])
    v = pick(vs)
    fn = pick(["rejects_malformed_key", "masks_value_in_debug_output", "config_loads_from_env", "client_sends_auth_header"])
    return "\n".join(["#[cfg(test)]", "mod tests {", "    use super::*;", "",
                      f"    const FAKE_{k}: &str = \"{v}\";", "", "    #[test]", f"    fn {fn}() {{",
                      f"        let cfg = Config::from_pairs(&[(\"{k}\", FAKE_{k})]).unwrap();",
                      f"        assert_eq!(format!(\"{{:?}}\", cfg.{k.lower()}), \"Secret(***)\");", "    }", "}"])


def ph_toml_sample():
    lines = ["# config.sample.toml -- copy to config.toml", "[server]", f"bind = \"0.0.0.0:{ri(3000, 9000)}\"", "",
             "[database]", "url = \"postgres://app:CHANGE_ME@localhost:5432/app\"", "", "[stripe]",
             "secret_key = \"sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\"", "webhook_secret = \"whsec_...\"", "", "[github]",
             "token = \"<personal-access-token>\"", "app_private_key_path = \"/etc/app/github-app.pem\""]
    return "\n".join(lines)


def ph_helm_values():
    return "\n".join(["# values.yaml", "auth:", "  # -- Password for the admin user. Leave empty to auto-generate.",
                      "  adminPassword: \"\"", "  # -- Name of an existing secret holding the password (key: admin-password)",
                      "  existingSecret: \"\"", "postgresql:", "  auth:", "    username: app", "    password: \"changeme\"",
                      "    database: app", "redis:", "  auth:", "    enabled: true", "    password: \"\"  # set with --set redis.auth.password=..."])


def ph_diff():
    pairs = _ph_pairs(ri(2, 4))
    lines = [f"I added the new variables to `.env.example` with placeholder values:", "", "```diff",
             "--- a/.env.example", "+++ b/.env.example", f"@@ -{ri(3, 20)},{ri(2, 5)} +{ri(3, 20)},{ri(4, 9)} @@",
             " NODE_ENV=development"] + [f"+{k}={v}" for k, v in pairs] + ["```", "",
                                                                           "Real values go into the team vault; nothing secret is committed."]
    return "\n".join(lines)


def ph_log_masked_seq():
    tsq_start()
    return "\n".join([
        f"{tsq('log')} WARN  config: STRIPE_SECRET_KEY looks like a placeholder (sk_live_0000000000000000000000), payments disabled",
        f"{tsq('log')} WARN  config: JWT_SECRET is the development default 'dev-secret-change-me'; refusing to start in production mode",
        f"{tsq('log')} INFO  config: falling back to NODE_ENV=development"])


def ph_sequential_fixture():
    lines = ["// src/__fixtures__/credentials.ts -- deliberately fake, used by the redaction unit tests",
             "export const FIXTURES = {",
             "  awsKeyId: 'AKIAABCDEFGHIJKLMNOP',", "  awsSecret: 'abcdefghijklmnopqrstuvwxyz0123456789ABCD',",
             "  githubToken: 'ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',", "  stripeKey: 'sk_live_000000000000000000000000',",
             "  slackToken: 'xoxb-1111111111-2222222222222-abcdefghijklmnopqrstuvwx',", "  password: 'hunter2-but-not-really',", "};"]
    return "\n".join(lines)


def ph_curl_placeholder():
    host = pick(DOMAINS)
    return pick([
        f"curl -H \"Authorization: Bearer $TOKEN\" https://api.{host}/v1/me",
        f"curl -H 'Authorization: Bearer <token>' https://api.{host}/v2/projects?limit=20",
        f"curl -u USERNAME:PASSWORD https://registry.{host}/v2/_catalog",
        f"curl -X POST https://api.{host}/v1/keys -H 'X-API-Key: your-api-key-here' -d '{{\"name\":\"ci\"}}'",
    ])


PLACEHOLDER = [ph_env_example, ph_compose_test, ph_pytest_fixture, ph_jest_setup, ph_readme, ph_rust_test, ph_toml_sample,
               ph_helm_values, ph_diff, ph_log_masked_seq, ph_sequential_fixture, ph_curl_placeholder]


def c_placeholder(i):
    return PLACEHOLDER[i % len(PLACEHOLDER)](), []


# --- encrypted values -------------------------------------------------------

def ansible_vault_lines(plain_len, width=80):
    inner = f"{hx(64)}\n{hx(64)}\n{hx(((plain_len // 16) + 1) * 32)}"
    return chunks(inner.encode().hex(), width)


def sops_enc(plain_len, typ="str"):
    return f"ENC[AES256_GCM,data:{b64(rb(plain_len))},iv:{b64(rb(32))},tag:{b64(rb(16))},type:{typ}]"


def age_armor():
    body = (b"age-encryption.org/v1\n-> X25519 " + b64(rb(32)).rstrip("=").encode() + b"\n"
            + b64(rb(32)).rstrip("=").encode() + b"\n--- " + b64(rb(32)).rstrip("=").encode() + b"\n" + rb(ri(40, 70)))
    return ["-----BEGIN AGE ENCRYPTED FILE-----"] + chunks(b64(body), 64) + ["-----END AGE ENCRYPTED FILE-----"]


def kms_blob(n=None):
    return b64(b"\x01\x02\x02\x00x" + rb(n or ri(150, 200)))


def ve_ansible_inline():
    env = pick(ENVS)
    out = [f"$ cat inventories/{env}/group_vars/all/vault.yml" if R.random() < 0.3 else f"# group_vars/{env}/main.yml",
           f"db_user: {proj().split('-')[0]}", "db_password: !vault |", "          $ANSIBLE_VAULT;1.1;AES256"]
    out += ["          " + l for l in ansible_vault_lines(ri(12, 30))]
    out += [f"smtp_host: smtp.{pick(DOMAINS)}", "smtp_password: !vault |", "          $ANSIBLE_VAULT;1.1;AES256"]
    out += ["          " + l for l in ansible_vault_lines(ri(10, 20))]
    return "\n".join(out)


def ve_ansible_file():
    env = pick(ENVS)
    hdr = pick(["$ANSIBLE_VAULT;1.1;AES256", f"$ANSIBLE_VAULT;1.2;AES256;{env}"])
    return "\n".join([f"$ head -n 12 group_vars/{env}/vault.yml", hdr] + ansible_vault_lines(ri(200, 400))[:11])


def ve_ansible_encrypt_string():
    v = pick(["stripe_api_key", "pg_replication_password", "slack_webhook_url"])
    return "\n".join([f"$ ansible-vault encrypt_string --vault-id {pick(ENVS)}@prompt --stdin-name '{v}'",
                      "New vault password (prod): ", "Confirm new vault password (prod): ",
                      "Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)",
                      "", "Encryption successful", f"{v}: !vault |", f"          $ANSIBLE_VAULT;1.2;AES256;{pick(ENVS)}"]
                     + ["          " + l for l in ansible_vault_lines(ri(30, 80))])


def ve_sops_yaml():
    arn = f"arn:aws:kms:{pick(REGIONS)}:{acct()}:key/{uid()}"
    out = [f"$ cat secrets/{pick(ENVS)}.enc.yaml", "database:", f"    user: {sops_enc(ri(4, 10))}",
           f"    password: {sops_enc(ri(16, 32))}", f"    port: {sops_enc(4, 'int')}", "stripe:",
           f"    secret_key: {sops_enc(ri(32, 107))}", "sops:", "    kms:", f"        - arn: {arn}",
           f"          created_at: \"{ts('sec')}\"", f"          enc: {kms_blob()}", "          aws_profile: \"\"",
           "    age:", f"        - recipient: {age_recipient()}", "          enc: |"]
    out += ["            " + l for l in age_armor()]
    out += [f"    lastmodified: \"{ts('sec')}\"", f"    mac: {sops_enc(32)}", "    unencrypted_suffix: _unencrypted",
            f"    version: 3.{ri(7, 9)}.{ri(0, 3)}"]
    return "\n".join(out)


def ve_sops_dotenv():
    out = ["$ cat .env.enc"]
    for k in ["DATABASE_URL", "STRIPE_SECRET_KEY", "SENTRY_DSN", "JWT_SIGNING_KEY"]:
        out.append(f"{k}={sops_enc(ri(24, 90))}")
    out += [f"sops_age__list_0__map_recipient={age_recipient()}", f"sops_lastmodified={ts('sec')}",
            f"sops_mac={sops_enc(32)}", "sops_unencrypted_suffix=_unencrypted", "sops_version=3.9.0"]
    return "\n".join(out)


def ve_sealed_secret():
    name = pick(["db-credentials", "stripe-keys", "oauth-client", "registry-auth"])
    ns = pick(["billing", "payments", "platform", "default"])
    keys = pick([["DB_PASSWORD", "DB_USER"], ["STRIPE_SECRET_KEY"], ["client-secret", "client-id"], [".dockerconfigjson"]])
    out = ["apiVersion: bitnami.com/v1alpha1", "kind: SealedSecret", "metadata:", "  creationTimestamp: null",
           f"  name: {name}", f"  namespace: {ns}", "spec:", "  encryptedData:"]
    for k in keys:
        out.append(f"    {k}: {b64(bytes([2, R.randrange(256)]) + rb(ri(330, 460)))}")
    out += ["  template:", "    metadata:", "      creationTimestamp: null", f"      name: {name}", f"      namespace: {ns}",
            "    type: Opaque" if keys[0] != ".dockerconfigjson" else "    type: kubernetes.io/dockerconfigjson"]
    return "$ kubeseal --format yaml < secret.yaml > sealed-secret.yaml && cat sealed-secret.yaml\n" + "\n".join(out)


def ve_kms_encrypt():
    return "\n".join([f"$ aws kms encrypt --key-id alias/{proj()}-{pick(ENVS)} --plaintext fileb://db_password.txt --output json",
                      "{", f"    \"CiphertextBlob\": \"{kms_blob(ri(160, 220))}\",",
                      f"    \"KeyId\": \"arn:aws:kms:{pick(REGIONS)}:{acct()}:key/{uid()}\",",
                      "    \"EncryptionAlgorithm\": \"SYMMETRIC_DEFAULT\"", "}", "$ shred -u db_password.txt"])


def ve_rails_credentials():
    blob = f"{b64(rb(ri(280, 520)))}--{b64(rb(12))}--{b64(rb(16))}"
    return "\n".join(["$ cat config/credentials.yml.enc", blob, "$ git check-ignore -v config/master.key",
                      ".gitignore:14:/config/master.key\tconfig/master.key"])


def ve_ejson():
    d = {"_public_key": hx(64)}
    for k in ["database_password", "stripe_secret_key", "sendgrid_api_key"]:
        d[k] = f"EJ[1:{b64(rb(32))}:{b64(rb(24))}:{b64(rb(ri(30, 90)))}]"
    return "$ cat config/secrets.production.ejson\n" + json.dumps(d, indent=2)


def ve_pgp_message():
    body = b64(b"\x85\x02\x0c\x03" + rb(ri(500, 800)))
    crc = b64(rb(3))
    return "\n".join([f"$ gpg --encrypt --armor -r ops@{pick(DOMAINS)} -o handover.txt.asc handover.txt && cat handover.txt.asc",
                      "-----BEGIN PGP MESSAGE-----", ""] + chunks(body, 64) + [f"={crc}", "-----END PGP MESSAGE-----"])


def ve_git_crypt():
    rows = ["$ git-crypt status -e", "    encrypted: .env.production", "    encrypted: deploy/secrets.tfvars",
            "$ xxd .env.production | head -n 6"]
    data = b"\x00GITCRYPT\x00" + rb(86)
    for off in range(0, 96, 16):
        chunk = data[off:off + 16]
        hexs = " ".join(chunk[j:j + 2].hex() for j in range(0, 16, 2))
        asc = "".join(chr(c) if 32 <= c < 127 else "." for c in chunk)
        rows.append(f"{off:08x}: {hexs}  {asc}")
    return "\n".join(rows)


def ve_vault_transit():
    return "\n".join([f"$ vault write transit/encrypt/{pick(['orders', 'pii', 'cards'])} plaintext=$(base64 <<< \"$CARD_NUMBER\")",
                      "Key            Value", "---            -----",
                      f"ciphertext     vault:v1:{b64(rb(ri(40, 70)))}", f"key_version    {ri(1, 6)}"])


ENCRYPTED = [ve_ansible_inline, ve_ansible_file, ve_ansible_encrypt_string, ve_sops_yaml, ve_sops_dotenv, ve_sealed_secret,
             ve_kms_encrypt, ve_rails_credentials, ve_ejson, ve_pgp_message, ve_git_crypt, ve_vault_transit]


def c_encrypted(i):
    return ENCRYPTED[i % len(ENCRYPTED)](), []


# --- references to secret stores ------------------------------------------

def sr_compose():
    return "\n".join(["services:", "  api:", f"    image: ghcr.io/{pick(ORGS)}/{proj()}:{ri(1, 4)}.{ri(0, 30)}.{ri(0, 9)}",
                      "    env_file: .env", "    environment:", "      DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db:5432/app",
                      "      STRIPE_SECRET_KEY: ${STRIPE_SECRET_KEY:?set STRIPE_SECRET_KEY}", "      REDIS_URL: redis://:${REDIS_PASSWORD:-}@redis:6379/0",
                      "    secrets:", "      - jwt_signing_key", "secrets:", "  jwt_signing_key:", "    file: ./secrets/jwt_signing_key.pem"])


def sr_gha():
    return "\n".join([f"# .github/workflows/{pick(['release', 'deploy', 'publish'])}.yml", "jobs:", "  publish:",
                      "    runs-on: ubuntu-latest", "    permissions:", "      id-token: write", "      contents: read", "    steps:",
                      "      - uses: actions/checkout@v4", "      - uses: aws-actions/configure-aws-credentials@v4", "        with:",
                      "          role-to-assume: ${{ secrets.AWS_DEPLOY_ROLE_ARN }}", f"          aws-region: {pick(REGIONS)}",
                      "      - run: npm publish --provenance", "        env:", "          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}",
                      "          SLACK_WEBHOOK_URL: ${{ secrets.SLACK_WEBHOOK_URL }}"])


def sr_k8s_env():
    name = proj()
    return "\n".join(["      containers:", f"        - name: {name}", f"          image: {acct()}.dkr.ecr.{pick(REGIONS)}.amazonaws.com/{name}:{hx(7)}",
                      "          env:", "            - name: DB_PASSWORD", "              valueFrom:", "                secretKeyRef:",
                      f"                  name: {name}-db", "                  key: password", "            - name: STRIPE_SECRET_KEY",
                      "              valueFrom:", "                secretKeyRef:", "                  name: stripe", "                  key: secret-key",
                      "          envFrom:", "            - secretRef:", f"                name: {name}-env"])


def sr_ecs_taskdef():
    reg = pick(REGIONS)
    a = acct()
    d = {"name": proj(), "image": f"{a}.dkr.ecr.{reg}.amazonaws.com/{proj()}:latest", "secrets": [
        {"name": "DB_PASSWORD", "valueFrom": f"arn:aws:secretsmanager:{reg}:{a}:secret:{pick(ENVS)}/billing/db-{rs(6)}:password::"},
        {"name": "STRIPE_KEY", "valueFrom": f"arn:aws:ssm:{reg}:{a}:parameter/{pick(ENVS)}/stripe/secret_key"},
        {"name": "SENTRY_DSN", "valueFrom": f"arn:aws:secretsmanager:{reg}:{a}:secret:shared/sentry-{rs(6)}"}],
        "environment": [{"name": "NODE_ENV", "value": "production"}]}
    return "$ jq '.containerDefinitions[0]' taskdef.json\n" + json.dumps(d, indent=2)


def sr_gcp():
    p = f"{proj()}-{ri(100000, 999999)}"
    return "\n".join([f"$ gcloud run deploy {proj()} --image=gcr.io/{p}/api:{hx(7)} --region={pick(['us-central1', 'europe-west1'])} \\",
                      "    --set-secrets=DB_PASS=db-password:latest,STRIPE_KEY=projects/" + str(ri(10 ** 11, 10 ** 12)) + "/secrets/stripe-key/versions/3",
                      "Deploying container to Cloud Run service [" + proj() + "] in project [" + p + "] region [us-central1]",
                      "OK Deploying... Done.", "  OK Creating Revision...", "  OK Routing traffic...",
                      f"Service URL: https://{proj()}-{hx(10)}-uc.a.run.app"])


def sr_1password():
    v = pick(["Engineering", "Prod", "Platform"])
    return "\n".join(["$ cat .env.tpl", f"DATABASE_PASSWORD=op://{v}/postgres-{pick(ENVS)}/password",
                      f"STRIPE_SECRET_KEY=op://{v}/Stripe/credential", f"GITHUB_TOKEN=op://Private/GitHub PAT/token",
                      "LOG_LEVEL=info", "$ op run --env-file=.env.tpl -- npm run start",
                      f"> {proj()}@1.{ri(0, 9)}.0 start", "> node dist/server.js", "", f"listening on :{ri(3000, 9000)}"])


def sr_doppler():
    return "\n".join(["$ doppler setup --project " + proj() + " --config prd", "┌─────────┬──────────────┬─────────────┐",
                      "│ NAME    │ VALUE        │ SCOPE       │", "├─────────┼──────────────┼─────────────┤",
                      f"│ config  │ prd          │ /home/{pick(DEVS)}/src │", f"│ project │ {proj():<12} │ /home/{pick(DEVS)}/src │",
                      "└─────────┴──────────────┴─────────────┘", "$ doppler secrets --only-names",
                      "DATABASE_URL", "DOPPLER_CONFIG", "DOPPLER_ENVIRONMENT", "DOPPLER_PROJECT", "STRIPE_SECRET_KEY", "$ doppler run -- ./bin/server"])


def sr_infisical():
    d = {"workspaceId": uid(), "defaultEnvironment": "dev", "gitBranchToEnvironmentMapping": None}
    return "\n".join(["$ cat .infisical.json", json.dumps(d, indent=4), f"$ infisical run --env={pick(['staging', 'prod'])} --path=/{pick(MODS)} -- go run ./cmd/api",
                      "INF Injecting 14 Infisical secrets into your application process",
                      "# in infisical, DATABASE_URL is defined as postgres://app:${prod.DB_PASSWORD}@db/app"])


def sr_shell_subst():
    return pick([
        "export GITHUB_TOKEN=\"$(gh auth token)\"\nexport PGPASSWORD=\"$(cat /run/secrets/pg_password)\"\npsql -h " + db_host() + " -U app -d app -c 'select 1'",
        f"DB_PASS=$(aws secretsmanager get-secret-value --secret-id {pick(ENVS)}/{proj()}/db --query SecretString --output text | jq -r .password)\nmysql -h {db_host()} -u app -p\"$DB_PASS\" -e 'SHOW PROCESSLIST'",
        f"export VAULT_TOKEN=$(vault login -method=oidc -token-only)\nexport DB_PASSWORD=$(vault kv get -field=password secret/{pick(ENVS)}/{proj()}/db)",
        f"TOKEN=$(gcloud auth print-access-token)\ncurl -s -H \"Authorization: Bearer $TOKEN\" https://secretmanager.googleapis.com/v1/projects/{proj()}/secrets",
    ])


def sr_ansible_lookup():
    return "\n".join(["- name: Configure app database user", "  community.postgresql.postgresql_user:", "    name: app",
                      "    password: \"{{ vault_db_password }}\"", "    login_host: \"{{ db_host }}\"", "",
                      "- name: Fetch API key from Vault", "  ansible.builtin.set_fact:",
                      f"    api_key: \"{{{{ lookup('community.hashi_vault.hashi_vault', 'secret=secret/data/{pick(ENVS)}/{proj()}:api_key') }}}}\"",
                      "  no_log: true"])


def sr_helm_tpl():
    return "\n".join(["apiVersion: v1", "kind: Secret", "metadata:", "  name: {{ include \"app.fullname\" . }}", "type: Opaque", "data:",
                      "  db-password: {{ required \"auth.password is required\" .Values.auth.password | b64enc | quote }}",
                      "  api-key: {{ .Values.apiKey | default (randAlphaNum 32) | b64enc | quote }}"])


def sr_spring():
    return "\n".join(["spring:", "  datasource:", f"    url: jdbc:postgresql://{db_host()}:5432/{pick(MODS)}", "    username: ${DB_USER:app}",
                      "    password: ${DB_PASSWORD:}", "  cloud:", "    vault:", "      uri: https://vault." + pick(DOMAINS) + ":8200",
                      "      authentication: KUBERNETES", "      kv:", "        backend: secret", f"        application-name: {proj()}"])


def sr_bank_vaults():
    return "\n".join(["metadata:", "  annotations:", "    vault.security.banzaicloud.io/vault-addr: \"https://vault.vault:8200\"",
                      f"    vault.security.banzaicloud.io/vault-role: \"{proj()}\"", "spec:", "  containers:", "    - name: app", "      env:",
                      "        - name: DB_PASSWORD", f"          value: \"vault:secret/data/{pick(ENVS)}/{proj()}/db#password\"",
                      "        - name: AWS_SECRET_ACCESS_KEY", "          value: \"vault:aws/creds/deploy#secret_key\""])


def sr_cfn():
    return "\n".join(["  Database:", "    Type: AWS::RDS::DBInstance", "    Properties:", "      Engine: postgres", "      MasterUsername: app",
                      "      MasterUserPassword: '{{resolve:secretsmanager:" + pick(ENVS) + "/db:SecretString:password}}'",
                      "  ApiFunction:", "    Type: AWS::Lambda::Function", "    Properties:", "      Environment:", "        Variables:",
                      "          API_KEY: '{{resolve:ssm-secure:/" + pick(ENVS) + "/api/key:" + str(ri(1, 9)) + "}}'"])


def sr_terraform():
    return "\n".join(["resource \"aws_db_instance\" \"main\" {", f"  identifier        = \"{proj()}\"", "  engine            = \"postgres\"",
                      "  username          = \"app\"", "  password          = random_password.db.result", "}", "",
                      "resource \"random_password\" \"db\" {", "  length  = 32", "  special = false", "}", "",
                      "resource \"aws_secretsmanager_secret_version\" \"db\" {", "  secret_id     = aws_secretsmanager_secret.db.id",
                      "  secret_string = jsonencode({ password = random_password.db.result })", "}"])


def sr_azure_kv():
    kv = f"kv-{proj()[:10]}-{pick(ENVS)}"
    return "\n".join([f"$ az webapp config appsettings list -g rg-{proj()} -n app-{proj()} -o table",
                      "Name                 Value                                                                               SlotSetting",
                      "-------------------  ----------------------------------------------------------------------------------  -----------",
                      f"DB_PASSWORD          @Microsoft.KeyVault(SecretUri=https://{kv}.vault.azure.net/secrets/DbPassword/)       False",
                      f"STRIPE_SECRET_KEY    @Microsoft.KeyVault(VaultName={kv};SecretName=stripe-secret-key)                   False",
                      "WEBSITE_RUN_FROM_PACKAGE  1                                                                                False"])


def sr_external_secret():
    return "\n".join(["apiVersion: external-secrets.io/v1beta1", "kind: ExternalSecret", "metadata:", f"  name: {proj()}-db", "spec:",
                      "  refreshInterval: 1h", "  secretStoreRef:", "    name: aws-secrets-manager", "    kind: ClusterSecretStore", "  target:",
                      f"    name: {proj()}-db", "  data:", "    - secretKey: password", "      remoteRef:",
                      f"        key: {pick(ENVS)}/{proj()}/postgres", "        property: password"])


def sr_systemd():
    return "\n".join(["[Service]", f"ExecStart=/usr/local/bin/{proj()} --config /etc/{proj()}/config.toml",
                      "LoadCredential=db-password:/etc/credstore/db-password", "LoadCredentialEncrypted=api-token:/etc/credstore.encrypted/api-token",
                      "Environment=DB_PASSWORD_FILE=%d/db-password", "DynamicUser=yes"])


SECRET_REF = [sr_compose, sr_gha, sr_k8s_env, sr_ecs_taskdef, sr_gcp, sr_1password, sr_doppler, sr_infisical, sr_shell_subst,
              sr_ansible_lookup, sr_helm_tpl, sr_spring, sr_bank_vaults, sr_cfn, sr_terraform, sr_azure_kv, sr_external_secret,
              sr_systemd]


def c_secret_ref(i):
    return SECRET_REF[i % len(SECRET_REF)](), []


# --- documentation of options ---------------------------------------------

def od_psql():
    return "\n".join(["$ psql --help | sed -n '/Connection options/,$p'", "Connection options:",
                      "  -h, --host=HOSTNAME      database server host or socket directory (default: \"/var/run/postgresql\")",
                      "  -p, --port=PORT          database server port (default: \"5432\")",
                      f"  -U, --username=USERNAME  database user name (default: \"{pick(DEVS)}\")",
                      "  -w, --no-password        never prompt for password",
                      "  -W, --password           force password prompt (should happen automatically)", "",
                      "For more information, type \"\\?\" (for internal commands) or \"\\help\" (for SQL",
                      "commands) from within psql, or consult the psql section in the PostgreSQL",
                      "documentation.", "", "Report bugs to <pgsql-bugs@lists.postgresql.org>."])


def od_mysql():
    return "\n".join(["$ mysql --help | grep -A2 -E '^  -p|--password|--ssl-key'",
                      "  -p, --password[=name] Password to use when connecting to server. If password is",
                      "                      not given it's asked from the tty.",
                      "  --password1[=name]  Password for first factor authentication plugin.",
                      "  --ssl-key=name      X509 key in PEM format.", "  --login-path=#      Read this path from the login file."])


def od_curl():
    return "\n".join(["$ curl --help auth", "Usage: curl [options...] <url>", "auth: Authentication methods",
                      "     --anyauth            Pick any authentication method", "     --basic              HTTP Basic Authentication",
                      "     --digest             HTTP Digest Authentication", "     --negotiate          HTTP Negotiate (SPNEGO) authentication",
                      "     --oauth2-bearer <token> OAuth 2 Bearer Token", "     --proxy-user <user:password> Proxy user and password",
                      "     --sasl-authzid <identity> Identity for SASL PLAIN authentication",
                      " -u, --user <user:password> Server user and password"])


def od_docker_login():
    return "\n".join(["$ docker login --help", "", "Usage:  docker login [OPTIONS] [SERVER]", "",
                      "Authenticate to a registry.", "Defaults to Docker Hub if no server is specified.", "", "Options:",
                      "  -p, --password string   Password", "      --password-stdin    Take the password from stdin",
                      "  -u, --username string   Username"])


def od_gh_auth():
    return "\n".join(["$ gh auth login --help", "Authenticate with a GitHub host.", "",
                      "The default authentication mode is a web-based browser flow. After completion, an",
                      "authentication token will be stored securely in the system credential store.", "",
                      "Alternatively, use `--with-token` to pass in a token on standard input.",
                      "The minimum required scopes for the token are: `repo`, `read:org`, and `gist`.", "",
                      "USAGE", "  gh auth login [flags]", "", "FLAGS", "  -h, --hostname string   The hostname of the GitHub instance to authenticate with",
                      "      --insecure-storage  Save authentication credentials in plain text instead of credential store",
                      "  -s, --scopes strings    Additional authentication scopes to request",
                      "      --with-token        Read token from standard input", "", "EXAMPLES",
                      "  # Start interactive setup", "  $ gh auth login", "", "  # Authenticate against github.com by reading the token from a file",
                      "  $ gh auth login --with-token < mytoken.txt"])


def od_redis_conf():
    return "\n".join(["$ grep -n -B2 -A12 'requirepass' /etc/redis/redis.conf",
                      "1031-# IMPORTANT NOTE: starting with Redis 6 \"requirepass\" is just a compatibility",
                      "1032-# layer on top of the new ACL system. The option effect will be just setting",
                      "1033-# the password for the default user. Clients will still authenticate using",
                      "1034:# AUTH <password> as usually, or more explicitly with AUTH default <password>",
                      "1035-# if they follow the new protocol: both will work.", "1036-#",
                      "1037-# The requirepass is not compatible with aclfile option and the ACL LOAD",
                      "1038-# command, these will cause requirepass to be ignored.", "1039-#",
                      "1040:# requirepass foobared", "1041-", "1042-# New users are initialized with restrictive permissions by default"])


def od_argparse():
    prog = pick(["deploy.py", "rotate_keys.py", "sync_users.py", "backfill.py"])
    return "\n".join([f"$ python scripts/{prog} --env prod",
                      f"usage: {prog} [-h] --env {{staging,prod}} [--token TOKEN] [--token-file PATH] [--password-stdin] [--dry-run]",
                      f"{prog}: error: one of the arguments --token --token-file is required"])


def od_clap():
    b = proj()
    return "\n".join([f"$ {b} --help", f"{b} {ri(0, 3)}.{ri(0, 20)}.{ri(0, 9)}", "", f"Usage: {b} [OPTIONS] <COMMAND>", "", "Commands:",
                      "  serve    Run the HTTP server", "  migrate  Apply pending database migrations", "  help     Print this message or the help of the given subcommand(s)",
                      "", "Options:", "      --database-url <DATABASE_URL>  Postgres connection string [env: DATABASE_URL=]",
                      f"      --api-key <API_KEY>            Upstream API key [env: {b.upper().replace('-', '_')}_API_KEY=]",
                      "      --signing-key-file <PATH>      PEM file with the JWT signing key [default: /etc/app/jwt.pem]",
                      "  -v, --verbose...                   Increase logging verbosity", "  -h, --help                         Print help",
                      "  -V, --version                      Print version"])


def od_env_table():
    rows = ["## Environment variables", "", "| Variable | Required | Description | Default |", "|---|---|---|---|",
            "| `DATABASE_URL` | yes | Postgres URL, e.g. `postgres://user:pass@host:5432/db` | – |",
            "| `SECRET_KEY_BASE` | yes | 64+ random bytes, hex. Generate with `openssl rand -hex 64` | – |",
            "| `STRIPE_SECRET_KEY` | no | Starts with `sk_live_` (prod) or `sk_test_` (dev). Billing is disabled when unset | unset |",
            "| `GITHUB_APP_PRIVATE_KEY` | no | PEM contents, newlines escaped as `\\n` | unset |",
            "| `SESSION_TTL` | no | Session lifetime in seconds | `86400` |",
            "| `LOG_REDACT_FIELDS` | no | Comma-separated list of fields to mask in logs | `password,token,authorization` |"]
    return "\n".join(rows)


def od_man_ssh_keygen():
    return "\n".join(["SSH-KEYGEN(1)                General Commands Manual               SSH-KEYGEN(1)", "", "     -N new_passphrase",
                      "             Provides the new passphrase.", "", "     -P passphrase", "             Provides the (old) passphrase.", "",
                      "     -p      Requests changing the passphrase of a private key file instead of",
                      "             creating a new private key.  The program will prompt for the file",
                      "             containing the private key, for the old passphrase, and twice for",
                      "             the new passphrase."])


def od_openssl_passin():
    return "\n".join(["$ man openssl-passphrase-options | sed -n '20,40p'", "       pass:password",
                      "           The actual password is password. Since the password is visible to",
                      "           utilities (like 'ps' under Unix) this form should only be used where",
                      "           security is not important.", "", "       env:var",
                      "           Obtain the password from the environment variable var.", "", "       file:pathname",
                      "           Reads the password from the specified file pathname."])


def od_pg_hba():
    return "\n".join(["# postgresql.conf", "#password_encryption = scram-sha-256\t# scram-sha-256 or md5",
                      "#ssl_key_file = 'server.key'", "#ssl_passphrase_command = ''", "", "# pg_hba.conf",
                      "# TYPE  DATABASE        USER            ADDRESS                 METHOD",
                      "local   all             postgres                                peer",
                      "host    all             all             10.0.0.0/8              scram-sha-256",
                      "# Use \"password\" only over TLS; \"md5\" is deprecated."])


def od_helm_readme():
    return "\n".join(["### Authentication parameters", "", "| Name | Description | Value |", "| ---- | ----------- | ----- |",
                      "| `auth.enabled` | Enable password authentication | `true` |",
                      "| `auth.password` | Redis&reg; password | `\"\"` |",
                      "| `auth.existingSecret` | The name of an existing secret with Redis&reg; credentials | `\"\"` |",
                      "| `auth.existingSecretPasswordKey` | Password key to be retrieved from existing secret | `\"\"` |",
                      "| `auth.usePasswordFiles` | Mount credentials as files instead of using an environment variable | `true` |"])


def od_tf_variables():
    return "\n".join(["variable \"db_password\" {", "  description = \"Master password for the RDS instance. Supply via TF_VAR_db_password.\"",
                      "  type        = string", "  sensitive   = true", "}", "", "variable \"datadog_api_key\" {",
                      "  description = \"Datadog API key (32 hex chars) used by the forwarder Lambda\"", "  type        = string",
                      "  sensitive   = true", "  validation {", "    condition     = can(regex(\"^[a-f0-9]{32}$\", var.datadog_api_key))",
                      "    error_message = \"datadog_api_key must be 32 lowercase hex characters.\"", "  }", "}"])


def od_aws_configure_help():
    return "\n".join(["$ aws configure set help | sed -n '1,30p'", "SET()                                                                    SET()",
                      "NAME", "       set -", "", "DESCRIPTION", "       Set a configuration value from the config file.", "",
                      "       The aws configure set command can be used to set a single  configura-",
                      "       tion  value in the AWS config file. Note that  the  values  for  the",
                      "       aws_access_key_id,  aws_secret_access_key,  and aws_session_token will",
                      "       be written to the shared credentials file (~/.aws/credentials).", "", "EXAMPLES",
                      "       Given an empty config file, the following commands:", "",
                      "          $ aws configure set aws_access_key_id default_access_key",
                      "          $ aws configure set aws_secret_access_key default_secret_key",
                      "          $ aws configure set default.region us-west-2"])


def od_npmrc_doc():
    return "\n".join(["$ npm help npmrc | grep -A6 'Auth related'", "   Auth related configuration",
                      "       The settings _auth, _authToken, username and _password must all be",
                      "       scoped to a specific registry. This ensures that npm will never send",
                      "       credentials to the wrong host.", "",
                      "       //registry.npmjs.org/:_authToken=${NPM_TOKEN}"])


OPTION_DOCS = [od_psql, od_mysql, od_curl, od_docker_login, od_gh_auth, od_redis_conf, od_argparse, od_clap, od_env_table,
               od_man_ssh_keygen, od_openssl_passin, od_pg_hba, od_helm_readme, od_tf_variables, od_aws_configure_help, od_npmrc_doc]


def c_option_docs(i):
    return OPTION_DOCS[i % len(OPTION_DOCS)](), []


# --- identifiers containing secret words -----------------------------------

SW_IDENTS = ["api_token", "refresh_token", "client_secret", "secret_key", "password_hash", "signing_key", "access_key_id",
             "auth_token", "session_secret", "private_key_path", "webhook_secret", "token_ttl"]
SW_TYPES = ["TokenRefreshService", "SecretStore", "PasswordResetTokenService", "ApiKeyMiddleware", "CredentialProvider",
            "SigningKeyRotator", "OAuthClientSecretLoader", "BearerTokenExtractor", "PrivateKeyLoader", "SessionTokenCache"]


def id_rustc():
    t = pick(SW_TYPES)
    f = pick(SW_IDENTS)
    p = src_path("rs")
    ln = ri(20, 400)
    return "\n".join([f"$ cargo build", f"error[E0599]: no method named `{f}` found for reference `&{t}` in the current scope",
                      f"  --> {p}:{ln}:{ri(10, 40)}", "   |", f"{ln} |         let value = self.inner.{f}()?;",
                      "   |                                ^^^^^^ method not found in `&" + t + "`", "   |",
                      "help: there is a method with a similar name", "   |",
                      f"{ln} |         let value = self.inner.get_{f}()?;", "   |                                ++++", "",
                      "error[E0425]: cannot find value `secret_key_bytes` in this scope",
                      f"  --> {p}:{ln + ri(5, 30)}:{ri(9, 30)}", "",
                      "Some errors have detailed explanations: E0425, E0599.",
                      "For more information about an error, try `rustc --explain E0425`.",
                      f"error: could not compile `{proj()}` (lib) due to 2 previous errors"])


def id_tsc():
    t = pick(SW_TYPES)
    return "\n".join(["$ npx tsc --noEmit",
                      f"src/auth/{t}.ts({ri(10, 200)},{ri(3, 30)}): error TS2339: Property 'accessToken' does not exist on type 'AuthState'.",
                      f"src/auth/{t}.ts({ri(10, 200)},{ri(3, 30)}): error TS2345: Argument of type 'string | undefined' is not assignable to parameter of type 'ClientSecret'.",
                      f"src/lib/apiKey.ts({ri(10, 90)},{ri(3, 30)}): error TS7006: Parameter 'tokenPayload' implicitly has an 'any' type.", "",
                      f"Found 3 errors in 2 files."])


def id_python_tb():
    m = pick(MODS)
    return "\n".join(["Traceback (most recent call last):", f"  File \"/app/{m}/secret_rotation.py\", line {ri(40, 200)}, in rotate_api_key",
                      "    new_key = provider.create_key(name=key_name, scopes=SCOPES)",
                      f"  File \"/app/{m}/providers/stripe_keys.py\", line {ri(20, 120)}, in create_key",
                      "    secret = resp.json()[\"client_secret\"]", "KeyError: 'client_secret'", "",
                      "During handling of the above exception, another exception occurred:", "",
                      f"  File \"/app/{m}/tasks.py\", line {ri(10, 90)}, in rotate_all_tokens",
                      "    raise TokenRotationError(f\"rotation failed for {account_id}\") from exc",
                      f"{m}.errors.TokenRotationError: rotation failed for acct_{rs(16)}"])


def id_java_stack():
    return "\n".join([f"{ts('log')} ERROR [http-nio-8080-exec-{ri(1, 20)}] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() threw exception",
                      "java.lang.IllegalStateException: JWT signing key not configured (property app.security.jwt.secret-key is empty)",
                      "\tat com.acme.auth.jwt.JwtSigningKeyProvider.signingKey(JwtSigningKeyProvider.java:58)",
                      f"\tat com.acme.auth.PasswordResetTokenService.issue(PasswordResetTokenService.java:{ri(60, 140)})",
                      "\tat com.acme.auth.web.PasswordResetController.request(PasswordResetController.java:41)",
                      "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
                      "\tat org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)",
                      "\t... 48 common frames omitted"])


def id_pytest_names():
    tests = ["test_rejects_expired_api_token", "test_password_reset_token_single_use", "test_client_secret_not_logged",
             "test_rotate_signing_key_keeps_previous_for_grace_period", "test_refresh_token_revoked_on_logout",
             "test_secret_manager_cache_invalidation", "test_hash_password_uses_argon2id", "test_bearer_token_case_insensitive_scheme"]
    R.shuffle(tests)
    out = [f"$ pytest tests/auth -v", "============================= test session starts ==============================",
           f"platform linux -- Python 3.12.{ri(1, 7)}, pytest-8.{ri(0, 3)}.{ri(0, 4)}, pluggy-1.5.0", "collected " + str(len(tests[:6])) + " items", ""]
    for k, t in enumerate(tests[:6]):
        res = "PASSED" if k != 3 else pick(["PASSED", "FAILED"])
        out.append(f"tests/auth/test_tokens.py::{t} {res}{' ' * 4}[{int((k + 1) * 100 / 6):>3}%]")
    return "\n".join(out)


def id_migrations():
    names = ["create_users", "add_password_hash_to_users", "create_api_tokens", "add_token_prefix_index_to_api_tokens",
             "create_oauth_client_secrets", "add_reset_password_token_to_users", "encrypt_webhook_secrets", "drop_plaintext_api_keys"]
    out = ["$ ls db/migrate/"]
    t = 20230101000000 + ri(0, 10 ** 8)
    for n in names[:ri(5, 8)]:
        t += ri(10 ** 5, 10 ** 8)
        out.append(f"{t}_{n}.rb")
    return "\n".join(out)


def id_psql_d():
    return "\n".join(["app=# \\d api_tokens", "                                      Table \"public.api_tokens\"",
                      "    Column     |           Type           | Collation | Nullable |                Default",
                      "---------------+--------------------------+-----------+----------+----------------------------------------",
                      " id            | bigint                   |           | not null | nextval('api_tokens_id_seq'::regclass)",
                      " user_id       | bigint                   |           | not null | ",
                      " token_prefix  | character varying(8)     |           | not null | ",
                      " token_digest  | bytea                    |           | not null | ",
                      " secret_hint   | text                     |           |          | ",
                      " last_used_at  | timestamp with time zone |           |          | ",
                      "Indexes:", "    \"api_tokens_pkey\" PRIMARY KEY, btree (id)",
                      "    \"index_api_tokens_on_token_prefix\" UNIQUE, btree (token_prefix)"])


def id_log_fields():
    tsq_start()
    out = []
    for _ in range(ri(3, 6)):
        out.append(pick([
            f"time={tsq()} level=info msg=\"token refreshed\" user_id={ri(1000, 99999)} token_ttl={pick([900, 3600, 86400])} refresh_token_rotated=true",
            f"time={tsq()} level=warn msg=\"password_reset_requested\" email_hash={hx(16)} ip={ri(10, 200)}.{ri(0, 255)}.{ri(0, 255)}.{ri(1, 254)}",
            f"time={tsq()} level=info msg=\"api key validated\" key_prefix=ak_{rs(4, LO + DG)} scopes=\"read:orders\" latency_ms={ri(1, 40)}",
            f"time={tsq()} level=error msg=\"secret fetch failed\" secret_name={pick(ENVS)}/{proj()}/db error=\"AccessDeniedException\"",
            f"time={tsq()} level=debug msg=\"loaded signing keys\" kid_count={ri(1, 4)} active_kid=sig-{ts('sec')[:10]}",
        ]))
    return "\n".join(out)


def id_grep():
    out = [f"$ rg -n 'api_key|client_secret' src/"]
    by_ext = {"rs": ["    pub api_key: Option<SecretString>,", "// NOTE: api_key is never serialized, see SecretString::expose_secret",
                     "    let client_secret = cfg.client_secret.expose_secret();"],
              "ts": ["  const clientSecret = await secrets.get('oauth/client_secret');", "export function readApiKey(req: Request): string | undefined {"],
              "py": ["    client_secret = settings.OAUTH_CLIENT_SECRET  # loaded from env", "def get_api_key(request: Request) -> str:"]}
    for _ in range(ri(3, 6)):
        e = pick(["rs", "ts", "py"])
        out.append(f"{src_path(e)}:{ri(5, 300)}:{pick(by_ext[e])}")
    return "\n".join(out)


def id_git_log_words():
    out = ["$ git log --format='%h %an %s' -6"]
    for m in ["fix: stop logging bearer tokens in access log", "feat: add SecretKeyRotation job", "refactor(auth): rename token_secret -> hmac_key",
              "test: add PasswordHasher property tests", "chore: remove unused private_key_pem field", "fix: redact client_secret from error messages"]:
        out.append(f"{hx(7)} {pick(DEVS)} {m}")
    return "\n".join(out)


def id_eslint():
    p = src_path("ts")
    return "\n".join(["$ npx eslint src", "", f"/home/{pick(DEVS)}/{proj()}/{p}",
                      f"  {ri(3, 90)}:{ri(5, 30)}  error  'secretKey' is assigned a value but never used  @typescript-eslint/no-unused-vars",
                      f"  {ri(3, 90)}:{ri(5, 30)}  warning  Unexpected console statement (logging `authToken`)  no-console",
                      f"  {ri(3, 90)}:{ri(5, 30)}  error  'getPasswordResetToken' is defined but never used  @typescript-eslint/no-unused-vars", "",
                      "✖ 3 problems (2 errors, 1 warning)"])


def id_go_vet():
    p = src_path("go")
    return "\n".join(["$ go vet ./...", f"# github.com/{pick(ORGS)}/{proj()}/internal/auth",
                      f"{p}:{ri(10, 200)}:{ri(2, 20)}: declared and not used: clientSecret",
                      f"{p}:{ri(10, 200)}:{ri(2, 20)}: undefined: tokenSigningKey",
                      f"internal/auth/apikey_test.go:{ri(10, 200)}:{ri(2, 20)}: too many arguments in call to NewAPIKeyValidator"])


def id_cargo_test_names():
    names = ["secret_store::tests::rotates_signing_key_on_expiry", "redact::tests::masks_bearer_token_in_headers",
             "config::tests::rejects_world_readable_private_key_file", "auth::password::tests::argon2_params_are_owasp_minimum",
             "token::tests::refresh_token_family_revoked_on_reuse", "vault::tests::kv2_path_for_api_key"]
    out = ["running 6 tests"] + [f"test {n} ... ok" for n in names] + ["",
                                                                         f"test result: ok. 6 passed; 0 failed; 0 ignored; 0 measured; {ri(10, 90)} filtered out; finished in 0.{ri(10, 99)}s"]
    return "\n".join(out)


def id_openapi():
    return "\n".join(["components:", "  securitySchemes:", "    bearerAuth:", "      type: http", "      scheme: bearer", "      bearerFormat: JWT",
                      "    apiKeyHeader:", "      type: apiKey", "      in: header", "      name: X-API-Key", "  schemas:", "    TokenResponse:",
                      "      type: object", "      required: [access_token, token_type, expires_in]", "      properties:",
                      "        access_token: { type: string }", "        refresh_token: { type: string }",
                      "        token_type: { type: string, enum: [Bearer] }", "        expires_in: { type: integer, example: 3600 }"])


IDENTIFIERS = [id_rustc, id_tsc, id_python_tb, id_java_stack, id_pytest_names, id_migrations, id_psql_d, id_log_fields, id_grep,
               id_git_log_words, id_eslint, id_go_vet, id_cargo_test_names, id_openapi]


def c_identifiers(i):
    return IDENTIFIERS[i % len(IDENTIFIERS)](), []


# --- infrastructure identifiers ---------------------------------------------

def inf_ec2():
    reg = pick(REGIONS)
    a = acct()
    inst = {"InstanceId": "i-0" + hx(16), "ImageId": "ami-0" + hx(16), "InstanceType": pick(["t3.medium", "m6i.large", "c7g.xlarge"]),
            "PrivateIpAddress": f"10.{ri(0, 40)}.{ri(0, 255)}.{ri(2, 250)}", "SubnetId": "subnet-0" + hx(16), "VpcId": "vpc-0" + hx(16),
            "SecurityGroups": [{"GroupName": f"{proj()}-sg", "GroupId": "sg-0" + hx(16)}],
            "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0" + hx(16), "OwnerId": a}],
            "IamInstanceProfile": {"Arn": f"arn:aws:iam::{a}:instance-profile/{proj()}-node", "Id": "AIPA" + rs(17, UP + "234567")},
            "Placement": {"AvailabilityZone": reg + pick("abc")}, "State": {"Code": 16, "Name": "running"}}
    return f"$ aws ec2 describe-instances --filters Name=tag:app,Values={proj()} --query 'Reservations[].Instances[]'\n" + json.dumps([inst], indent=4)


def inf_tf_plan():
    a = acct()
    reg = pick(REGIONS)
    return "\n".join(["Terraform will perform the following actions:", "",
                      "  # aws_db_instance.main will be updated in-place", "  ~ resource \"aws_db_instance\" \"main\" {",
                      f"        id                       = \"db-{rs(26, UP + DG)}\"", "      ~ instance_class           = \"db.t3.medium\" -> \"db.t3.large\"",
                      "        password                 = (sensitive value)",
                      f"        arn                      = \"arn:aws:rds:{reg}:{a}:db:{proj()}\"",
                      f"        kms_key_id               = \"arn:aws:kms:{reg}:{a}:key/{uid()}\"",
                      "        # (42 unchanged attributes hidden)", "    }", "",
                      "  # aws_secretsmanager_secret_version.db will be created", "  + resource \"aws_secretsmanager_secret_version\" \"db\" {",
                      "      + arn            = (known after apply)", "      + id             = (known after apply)",
                      f"      + secret_id      = \"arn:aws:secretsmanager:{reg}:{a}:secret:{pick(ENVS)}/db-{rs(6)}\"",
                      "      + secret_string  = (sensitive value)", "      + version_id     = (known after apply)", "    }", "",
                      "Plan: 1 to add, 1 to change, 0 to destroy."])


def inf_kubectl_describe():
    name = pod_name(proj())
    img = f"{acct()}.dkr.ecr.{pick(REGIONS)}.amazonaws.com/{proj()}"
    return "\n".join([f"$ kubectl describe pod {name} -n {pick(['billing', 'platform'])}", f"Name:             {name}",
                      f"Node:             ip-10-{ri(0, 40)}-{ri(0, 255)}-{ri(2, 250)}.{pick(REGIONS)}.compute.internal/10.0.{ri(0, 255)}.{ri(2, 250)}",
                      f"Start Time:       {when().strftime('%a, %d %b %Y %H:%M:%S')} +0000", "Status:           Running",
                      f"IP:               10.0.{ri(0, 255)}.{ri(2, 250)}", f"Controlled By:    ReplicaSet/{name.rsplit('-', 1)[0]}", "Containers:",
                      "  app:", f"    Container ID:   containerd://{hx(64)}", f"    Image:          {img}:{hx(7)}",
                      f"    Image ID:       {img}@sha256:{hx(64)}", "    Port:           8080/TCP", "    State:          Running",
                      "    Environment Variables from:", f"      {proj()}-env  Secret  Optional: false", "    Environment:",
                      "      DB_PASSWORD:  <set to the key 'password' in secret 'db-credentials'>  Optional: false",
                      "    Mounts:", f"      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-{rs(5, LO + DG)} (ro)"])


def inf_caller_identity():
    a = acct()
    return pick(["\n".join(["$ aws sts get-caller-identity", "{", f"    \"UserId\": \"AIDA{rs(17, UP + '234567')}\",",
                            f"    \"Account\": \"{a}\",", f"    \"Arn\": \"arn:aws:iam::{a}:user/{pick(DEVS)}\"", "}"]),
                 "\n".join(["$ aws sts get-caller-identity --profile " + pick(ENVS), "{",
                            f"    \"UserId\": \"AROA{rs(17, UP + '234567')}:{pick(DEVS)}@{pick(DOMAINS)}\",", f"    \"Account\": \"{a}\",",
                            f"    \"Arn\": \"arn:aws:sts::{a}:assumed-role/AWSReservedSSO_PowerUser_{hx(16)}/{pick(DEVS)}@{pick(DOMAINS)}\"", "}"])])


def inf_http_headers():
    return "\n".join([f"$ curl -sI https://app.{pick(DOMAINS)}/api/health", "HTTP/2 200", "content-type: application/json",
                      f"date: {when().strftime('%a, %d %b %Y %H:%M:%S')} GMT", f"x-request-id: {uid()}",
                      f"x-amzn-trace-id: Root=1-{hx(8)}-{hx(24)}", f"x-amz-cf-pop: {pick(['IAD89', 'FRA56', 'SFO53'])}-C{ri(1, 3)}",
                      f"x-amz-cf-id: {rs(54, B64U)}==", f"cf-ray: {hx(16)}-{pick(['SJC', 'AMS', 'LHR'])}",
                      f"etag: W/\"{hx(2)}-{rs(27, B64)}\"", "via: 1.1 " + hx(32) + ".cloudfront.net (CloudFront)", "x-cache: Hit from cloudfront"])


def inf_trace_logs():
    tsq_start()
    tid = hx(32)
    out = []
    for _ in range(ri(3, 6)):
        out.append(f"{tsq()} INFO  {pick(MODS)}: {pick(['request completed', 'db query', 'cache miss', 'upstream call'])} trace_id={tid} span_id={hx(16)} parent_span_id={hx(16)} duration_ms={ri(1, 900)}")
    return "\n".join(out)


def inf_gcloud():
    p = f"{proj()}-{ri(100000, 999999)}"
    return "\n".join([f"$ gcloud compute operations list --project {p} --limit 3",
                      "NAME                                                  TYPE    TARGET                          HTTP_STATUS  STATUS  TIMESTAMP"]
                     + [f"operation-{ri(1700000000000, 1760000000000)}-{hx(13)}-{hx(8)}-{hx(8)}  insert  {pick(['us-central1-a', 'europe-west1-b'])}/instances/{proj()}-{ri(1, 9)}  200          DONE    {ts('iso')}" for _ in range(3)])


def inf_azure():
    sub = uid()
    rg = f"rg-{proj()}-{pick(ENVS)}"
    d = {"id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/st{proj().replace('-', '')[:12]}{ri(10, 99)}",
         "location": pick(["eastus", "westeurope"]), "name": f"st{proj().replace('-', '')[:12]}", "primaryEndpoints": {"blob": "https://st" + proj().replace('-', '')[:12] + ".blob.core.windows.net/"},
         "identity": {"principalId": uid(), "tenantId": uid(), "type": "SystemAssigned"}, "provisioningState": "Succeeded"}
    return f"$ az storage account show -g {rg} -n {d['name']}\n" + json.dumps(d, indent=2)


def inf_k8s_describe_secret():
    name = pick(["db-credentials", "stripe", "oauth-client", proj() + "-env"])
    return "\n".join([f"$ kubectl describe secret {name} -n {pick(['billing', 'platform'])}", f"Name:         {name}",
                      f"Namespace:    {pick(['billing', 'platform'])}", "Labels:       app.kubernetes.io/managed-by=external-secrets",
                      "Annotations:  reconcile.external-secrets.io/data-hash: " + hx(32), "", "Type:  Opaque", "", "Data", "====",
                      f"password:  {ri(16, 48)} bytes", f"username:  {ri(3, 10)} bytes", f"api-key:   {ri(32, 64)} bytes"])


def inf_s3_versions():
    rows = [f"$ aws s3api list-object-versions --bucket {proj()}-artifacts --prefix releases/ --max-items 2", "{", "    \"Versions\": ["]
    for k in range(2):
        rows += ["        {", f"            \"ETag\": \"\\\"{hx(32)}\\\"\",", f"            \"Size\": {ri(10 ** 5, 10 ** 8)},",
                 f"            \"Key\": \"releases/{proj()}-{ri(1, 3)}.{ri(0, 20)}.{ri(0, 9)}.tar.gz\",",
                 f"            \"VersionId\": \"{rs(32, B62 + '._')}\",", f"            \"IsLatest\": {'true' if k == 0 else 'false'},",
                 f"            \"LastModified\": \"{ts('sec')}\"", "        }" + ("," if k == 0 else "")]
    rows += ["    ]", "}"]
    return "\n".join(rows)


def inf_gha_log():
    tsq_start()
    return "\n".join([f"{tsq()} ##[group]Run actions/checkout@v4", f"{tsq()} with:",
                      f"{tsq()}   repository: {pick(ORGS)}/{proj()}", f"{tsq()}   token: ***", f"{tsq()}   ssh-strict: true",
                      f"{tsq()} ##[endgroup]", f"{tsq()} Syncing repository: {pick(ORGS)}/{proj()}",
                      f"{tsq()} [command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --no-recurse-submodules --depth=1 origin +{hx(40)}:refs/remotes/origin/main",
                      f"{tsq()} HEAD is now at {hx(7)} {pick(COMMIT_MSGS)}", f"{tsq()} Run ID: {ri(10 ** 9, 10 ** 10)}  Job ID: {ri(10 ** 10, 10 ** 11)}"])


def inf_lambda_logs():
    rid = uid()
    return "\n".join([f"START RequestId: {rid} Version: $LATEST",
                      f"{ts('iso')}\t{rid}\tINFO\tprocessing batch size={ri(1, 100)} source=arn:aws:sqs:{pick(REGIONS)}:{acct()}:{proj()}-events",
                      f"END RequestId: {rid}",
                      f"REPORT RequestId: {rid}\tDuration: {ri(10, 3000)}.{ri(10, 99)} ms\tBilled Duration: {ri(10, 3000)} ms\tMemory Size: 512 MB\tMax Memory Used: {ri(60, 500)} MB",
                      f"XRAY TraceId: 1-{hx(8)}-{hx(24)}\tSegmentId: {hx(16)}\tSampled: true"])


def inf_docker_images():
    rows = ["$ docker images --digests | head -n 4", "REPOSITORY                   TAG       DIGEST                                                                    IMAGE ID       CREATED        SIZE"]
    for _ in range(3):
        rows.append(f"ghcr.io/{pick(ORGS)}/{proj():<12} {pick(['latest', 'v1.4.2', 'main'])}    sha256:{hx(64)}   {hx(12)}   {ri(2, 9)} days ago     {ri(40, 900)}MB")
    return "\n".join(rows)


INFRA = [inf_ec2, inf_tf_plan, inf_kubectl_describe, inf_caller_identity, inf_http_headers, inf_trace_logs, inf_gcloud, inf_azure,
         inf_k8s_describe_secret, inf_s3_versions, inf_gha_log, inf_lambda_logs, inf_docker_images]


def c_infra(i):
    return INFRA[i % len(INFRA)](), []


# --- hashes / digests / lockfiles --------------------------------------------

NPM_PKGS = ["lodash", "zod", "express", "undici", "semver", "chalk", "yaml", "ws", "debug", "ms", "picomatch", "esbuild"]


def sri(alg="sha512", n=64):
    return f"{alg}-{b64(rb(n))}"


def h_package_lock():
    out = ["$ sed -n '1200,1240p' package-lock.json"]
    for p in R.sample(NPM_PKGS, 3):
        v = f"{ri(1, 9)}.{ri(0, 30)}.{ri(0, 20)}"
        out += [f"    \"node_modules/{p}\": {{", f"      \"version\": \"{v}\",",
                f"      \"resolved\": \"https://registry.npmjs.org/{p}/-/{p}-{v}.tgz\",", f"      \"integrity\": \"{sri()}\",",
                "      \"dev\": true," if R.random() < 0.4 else "      \"license\": \"MIT\",", "      \"engines\": {", "        \"node\": \">=14\"", "      }", "    },"]
    return "\n".join(out)


def h_yarn_lock():
    out = ["# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.", "# yarn lockfile v1", ""]
    for p in R.sample(NPM_PKGS, 3):
        v = f"{ri(1, 9)}.{ri(0, 30)}.{ri(0, 20)}"
        out += [f"{p}@^{v}:", f"  version \"{v}\"", f"  resolved \"https://registry.yarnpkg.com/{p}/-/{p}-{v}.tgz#{hx(40)}\"",
                f"  integrity {sri()}", ""]
    return "\n".join(out)


def h_cargo_lock():
    out = []
    for p in R.sample(["serde", "tokio", "ring", "base64", "hmac", "sha2", "zeroize", "aes-gcm", "rand_core", "subtle"], 4):
        out += ["[[package]]", f"name = \"{p}\"", f"version = \"{ri(0, 2)}.{ri(0, 40)}.{ri(0, 20)}\"",
                "source = \"registry+https://github.com/rust-lang/crates.io-index\"", f"checksum = \"{hx(64)}\"", ""]
    return "\n".join(out)


def h_go_sum():
    out = ["$ cat go.sum | head -n 8"]
    for m in ["github.com/golang-jwt/jwt/v5", "golang.org/x/crypto", "github.com/aws/aws-sdk-go-v2", "github.com/jackc/pgx/v5"]:
        v = f"v{ri(0, 5)}.{ri(0, 40)}.{ri(0, 9)}"
        out += [f"{m} {v} h1:{b64(rb(32))}", f"{m} {v}/go.mod h1:{b64(rb(32))}"]
    return "\n".join(out)


def h_requirements():
    out = ["# This file is autogenerated by pip-compile with Python 3.12", "#    pip-compile --generate-hashes requirements.in", "#"]
    for p in ["cryptography", "pyjwt", "boto3", "requests"]:
        out += [f"{p}=={ri(1, 44)}.{ri(0, 30)}.{ri(0, 9)} \\", f"    --hash=sha256:{hx(64)} \\", f"    --hash=sha256:{hx(64)}",
                f"    # via -r requirements.in"]
    return "\n".join(out)


def h_docker_pull():
    img = pick(["postgres:16.4-bookworm", "node:20-alpine", "python:3.12-slim", "redis:7.2"])
    out = [f"$ docker pull {img}", f"{img.split(':')[1]}: Pulling from library/{img.split(':')[0]}"]
    for _ in range(ri(3, 6)):
        out.append(f"{hx(12)}: Pull complete")
    out += [f"Digest: sha256:{hx(64)}", f"Status: Downloaded newer image for {img}", f"docker.io/library/{img}"]
    return "\n".join(out)


def h_git_show():
    c = hx(40)
    return "\n".join([f"$ git show --stat --format=raw HEAD", f"commit {c}", f"tree {hx(40)}", f"parent {hx(40)}",
                      f"author {pick(DEVS).capitalize()} <{pick(DEVS)}@{pick(DOMAINS)}> {epoch()} +0000",
                      f"committer GitHub <noreply@github.com> {epoch()} +0000", "gpgsig -----BEGIN PGP SIGNATURE-----", " ",
                      f" wsBcBAABCAAQBQJn{b64(rb(20))}", f" {b64(rb(48))}", f" ={b64(rb(3))}", " -----END PGP SIGNATURE-----", "",
                      f"    {pick(COMMIT_MSGS)}", "", f" {src_path()} | {ri(2, 80)} ++++----", " 1 file changed"])


def h_sha256sums():
    v = f"{ri(0, 3)}.{ri(0, 30)}.{ri(0, 9)}"
    b = proj()
    return "\n".join([f"$ curl -sL https://github.com/{pick(ORGS)}/{b}/releases/download/v{v}/SHA256SUMS"]
                     + [f"{hx(64)}  {b}_{v}_{t}.tar.gz" for t in ["darwin_arm64", "darwin_amd64", "linux_amd64", "linux_arm64"]]
                     + [f"$ sha256sum -c SHA256SUMS --ignore-missing", f"{b}_{v}_linux_amd64.tar.gz: OK"])


def h_flake_lock():
    d = {"nodes": {"nixpkgs": {"locked": {"lastModified": epoch(), "narHash": "sha256-" + b64(rb(32)), "owner": "NixOS",
                                          "repo": "nixpkgs", "rev": hx(40), "type": "github"},
                               "original": {"owner": "NixOS", "ref": "nixos-24.05", "repo": "nixpkgs", "type": "github"}},
                   "root": {"inputs": {"nixpkgs": "nixpkgs"}}}, "root": "root", "version": 7}
    return "$ cat flake.lock\n" + json.dumps(d, indent=2)


def h_sri_html():
    return "\n".join(["<!-- pinned CDN assets -->",
                      f"<script src=\"https://cdn.jsdelivr.net/npm/bootstrap@5.3.{ri(0, 3)}/dist/js/bootstrap.bundle.min.js\" integrity=\"{sri('sha384', 48)}\" crossorigin=\"anonymous\"></script>",
                      f"<link rel=\"stylesheet\" href=\"https://cdn.jsdelivr.net/npm/katex@0.16.{ri(0, 11)}/dist/katex.min.css\" integrity=\"{sri('sha384', 48)}\" crossorigin=\"anonymous\">"])


def h_pnpm_lock():
    out = ["lockfileVersion: '9.0'", "", "packages:", ""]
    for p in R.sample(NPM_PKGS, 4):
        out += [f"  {p}@{ri(1, 9)}.{ri(0, 30)}.{ri(0, 20)}:", f"    resolution: {{integrity: {sri()}}}", "    engines: {node: '>=18'}", ""]
    return "\n".join(out)


def h_poetry_lock():
    out = []
    for p in ["argon2-cffi", "pyjwt"]:
        out += ["[[package]]", f"name = \"{p}\"", f"version = \"{ri(1, 25)}.{ri(0, 9)}.{ri(0, 9)}\"", "optional = false",
                "python-versions = \">=3.8\"", "files = [",
                f"    {{file = \"{p.replace('-', '_')}-{ri(1, 25)}.0-py3-none-any.whl\", hash = \"sha256:{hx(64)}\"}},",
                f"    {{file = \"{p.replace('-', '_')}-{ri(1, 25)}.0.tar.gz\", hash = \"sha256:{hx(64)}\"}},", "]", ""]
    out += ["[metadata]", "lock-version = \"2.0\"", "python-versions = \"^3.11\"", f"content-hash = \"{hx(64)}\""]
    return "\n".join(out)


HASHES = [h_package_lock, h_yarn_lock, h_cargo_lock, h_go_sum, h_requirements, h_docker_pull, h_git_show, h_sha256sums,
          h_flake_lock, h_sri_html, h_pnpm_lock, h_poetry_lock]


def c_hashes(i):
    return HASHES[i % len(HASHES)](), []


# --- high-entropy encoded blobs ----------------------------------------------

def png_bytes(w, h):
    raw = b"".join(b"\x00" + rb(w * 4) for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def eb_css_font():
    data = b"wOF2\x00\x01\x00\x00" + rb(ri(500, 900))
    return "\n".join(["/* src/styles/fonts.css (generated by fontsource) */", "@font-face {", "  font-family: 'Inter Variable';",
                      "  font-style: normal;", "  font-display: swap;", "  font-weight: 100 900;",
                      f"  src: url(data:font/woff2;base64,{b64(data)}) format('woff2-variations');",
                      "  unicode-range: U+0000-00FF, U+0131, U+0152-0153;", "}"])


def eb_html_png():
    return "\n".join([f"<a class=\"brand\" href=\"/\">", f"  <img alt=\"{proj()}\" width=\"16\" height=\"16\" src=\"data:image/png;base64,{b64(png_bytes(ri(6, 12), ri(6, 12)))}\">",
                      "  <span>Dashboard</span>", "</a>"])


def eb_notebook():
    cell = {"cell_type": "code", "execution_count": ri(3, 40), "metadata": {}, "outputs": [
        {"data": {"image/png": b64(png_bytes(ri(10, 14), ri(8, 12))), "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
         "metadata": {}, "output_type": "display_data"}],
        "source": ["fig, ax = plt.subplots()\n", "ax.plot(df['ts'], df['p95_latency_ms'])\n", "plt.show()"]}
    return "$ jq '.cells[7]' notebooks/latency.ipynb\n" + json.dumps(cell, indent=1)


def _mini_ident():
    return pick(LO) + ("" if R.random() < 0.6 else pick(LO + DG))


def eb_minified_js():
    parts = ["!function(e,t){\"object\"==typeof exports&&\"undefined\"!=typeof module?module.exports=t():\"function\"==typeof define&&define.amd?define(t):(e=\"undefined\"!=typeof globalThis?globalThis:e||self).AuthSdk=t()}(this,(function(){\"use strict\";"]
    for _ in range(ri(6, 12)):
        a, b, c = _mini_ident(), _mini_ident(), _mini_ident()
        parts.append(pick([
            f"var {a}=function({b},{c}){{return {b}.headers.Authorization=\"Bearer \"+{c}.accessToken,{b}}};",
            f"function {a}({b}){{if(!{b}||\"string\"!=typeof {b})throw new TypeError(\"token must be a string\");return {b}.split(\".\").length===3}}",
            f"const {a}=[{','.join(str(ri(0, 255)) for _ in range(8))}],{b}=\"{rs(12, LO + DG)}\";",
            f"{a}.prototype.refreshToken=async function(){{const {b}=await fetch(this.{c}+\"/oauth/token\",{{method:\"POST\",body:new URLSearchParams({{grant_type:\"refresh_token\",refresh_token:this.{b}}})}});return {b}.json()}};",
            f"var {a}=\"{b64(rb(ri(12, 30)))}\";",
        ]))
    parts.append("return{createClient:" + _mini_ident() + "}}));")
    parts.append(f"//# sourceMappingURL=auth-sdk.umd.min.js.map")
    return f"$ head -c 2000 node_modules/@{pick(ORGS)}/auth-sdk/dist/auth-sdk.umd.min.js\n" + "".join(parts)


def _vlq_seg():
    return "".join(pick("ACDEGIKMOQSUWYacegikmoqsuwy") + pick("AACAEAGAIAKAgBkBsB") for _ in range(ri(1, 3)))


def eb_sourcemap():
    lines = []
    for _ in range(ri(12, 30)):
        lines.append(",".join(_vlq_seg() for _ in range(ri(2, 10))))
    d = {"version": 3, "file": "main.js", "sources": ["../src/main.ts", "../src/api/client.ts", "../src/auth/token.ts"],
         "names": ["fetchToken", "refreshToken", "apiKey", "headers"], "mappings": ";".join(lines)}
    return "$ cat dist/main.js.map\n" + json.dumps(d)


def eb_svg_uri():
    svg = (f"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><path fill=\"none\" stroke=\"#{hx(6)}\" stroke-width=\"2\" "
           f"d=\"M{ri(1, 9)} {ri(1, 9)}h{ri(4, 12)}v{ri(4, 12)}H{ri(1, 9)}z M{ri(2, 20)} {ri(2, 20)}l{ri(1, 5)} {ri(1, 5)}\"/></svg>")
    return "\n".join([".icon-key {", f"  background-image: url(\"data:image/svg+xml;base64,{b64(svg.encode())}\");",
                      "  background-size: 16px 16px;", "}"])


def eb_go_proto():
    data = rb(ri(120, 260))
    lines = ["var file_api_v1_auth_proto_rawDesc = []byte{"]
    for off in range(0, len(data), 16):
        lines.append("\t" + " ".join(f"0x{c:02x}," for c in data[off:off + 16]))
    lines.append("}")
    return "// Code generated by protoc-gen-go. DO NOT EDIT.\n// source: api/v1/auth.proto\n\n" + "\n".join(lines)


def eb_gzip_fixture():
    payload = json.dumps([{"id": uid(), "event": pick(["order.created", "invoice.paid", "user.updated"]), "ts": ts("iso"),
                           "amount": ri(100, 99999)} for _ in range(ri(3, 8))]).encode()
    blob = b64(gzip.compress(payload, mtime=0))
    return "\n".join(["# tests/fixtures/kinesis_record.json (data is gzip+base64 as delivered by the firehose)", "{",
                      f"  \"approximateArrivalTimestamp\": {epoch()}.{ri(100, 999)},",
                      f"  \"partitionKey\": \"{uid()}\",", f"  \"sequenceNumber\": \"{ri(10 ** 19, 10 ** 20)}{ri(10 ** 19, 10 ** 20)}\",",
                      f"  \"data\": \"{blob}\"", "}"])


def eb_wasm_inline():
    data = b"\x00asm\x01\x00\x00\x00" + rb(ri(300, 600))
    return "// generated by wasm-pack --target web --inline\n" + f"const wasmBase64 = \"{b64(data)}\";\nexport default wasmBase64;"


ENCODED = [eb_css_font, eb_html_png, eb_notebook, eb_minified_js, eb_sourcemap, eb_svg_uri, eb_go_proto, eb_gzip_fixture,
           eb_wasm_inline]


def c_encoded(i):
    return ENCODED[i % len(ENCODED)](), []


# --- public key material ------------------------------------------------------

def email():
    return f"{pick(DEVS)}@{pick(DOMAINS)}"


def pk_ed25519_pub():
    return f"$ cat ~/.ssh/id_ed25519.pub\n{ssh_ed25519_pub(email())}\n\nAdd that to GitHub under Settings -> SSH and GPG keys."


def pk_authorized_keys():
    out = ["$ cat /home/deploy/.ssh/authorized_keys"]
    for _ in range(ri(2, 4)):
        out.append(pick([ssh_ed25519_pub(email()), ssh_rsa_pub(email()), "restrict,command=\"/usr/local/bin/backup-receive\" " + ssh_ed25519_pub("backup@" + proj())]))
    return "\n".join(out)


def pk_known_hosts():
    out = ["$ tail -n 3 ~/.ssh/known_hosts"]
    for _ in range(3):
        ecdsa = "ecdsa-sha2-nistp256 " + b64(sshstr(b"ecdsa-sha2-nistp256") + sshstr(b"nistp256") + sshstr(b"\x04" + rb(64)))
        out.append(f"|1|{b64(rb(20))}|{b64(rb(20))} {pick([ssh_ed25519_pub(''), ecdsa])}")
    return "\n".join(out)


def pk_pgp_public():
    body = b64(b"\x98\x33\x04" + rb(ri(400, 700)))
    return "\n".join([f"$ gpg --armor --export {email()}", "-----BEGIN PGP PUBLIC KEY BLOCK-----", ""] + chunks(body, 64)
                     + [f"={b64(rb(3))}", "-----END PGP PUBLIC KEY BLOCK-----"])


def pk_cert_chain():
    host = f"api.{pick(DOMAINS)}"
    out = [f"$ openssl s_client -connect {host}:443 -showcerts </dev/null 2>/dev/null | sed -n '1,40p'", "CONNECTED(00000003)", "---",
           "Certificate chain", f" 0 s:CN = {host}", "   i:C = US, O = Let's Encrypt, CN = R11",
           f"   a:PKEY: rsaEncryption, 2048 (bit); sigalg: RSA-SHA256", "-----BEGIN CERTIFICATE-----"]
    out += chunks(b64(b"\x30\x82\x05" + bytes([R.randrange(256)]) + b"\x30\x82\x04" + rb(ri(900, 1100))), 64)[:18]
    out += ["-----END CERTIFICATE-----", "---", "Server certificate", f"subject=CN = {host}", "issuer=C = US, O = Let's Encrypt, CN = R11"]
    return "\n".join(out)


def pk_jwks():
    d = {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": hx(40), "n": b64u(b"\xc1" + rb(255)), "e": "AQAB"},
                  {"kty": "EC", "use": "sig", "alg": "ES256", "kid": hx(16), "crv": "P-256", "x": b64u(rb(32)), "y": b64u(rb(32))}]}
    return f"$ curl -s https://auth.{pick(DOMAINS)}/.well-known/jwks.json | jq .\n" + json.dumps(d, indent=2)


def pk_public_pem():
    if R.random() < 0.5:
        der = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + rb(64)
    else:
        der = bytes.fromhex("30820122300d06092a864886f70d01010105000382010f003082010a0282010100") + rb(256) + bytes.fromhex("0203010001")
    return "\n".join([f"# config/jwt/public.pem  (verification key, safe to commit)", "-----BEGIN PUBLIC KEY-----"]
                     + chunks(b64(der), 64) + ["-----END PUBLIC KEY-----"])


def pk_wg_show():
    out = ["$ sudo wg show", "interface: wg0", f"  public key: {b64(rb(32))}", "  private key: (hidden)", f"  listening port: {ri(40000, 60000)}", ""]
    for _ in range(ri(1, 3)):
        out += [f"peer: {b64(rb(32))}", f"  endpoint: {ri(11, 200)}.{ri(0, 255)}.{ri(0, 255)}.{ri(1, 254)}:51820",
                f"  allowed ips: 10.{ri(0, 9)}.0.{ri(2, 250)}/32", f"  latest handshake: {ri(2, 59)} seconds ago",
                f"  transfer: {ri(1, 900)}.{ri(1, 99)} MiB received, {ri(1, 900)}.{ri(1, 99)} MiB sent", ""]
    return "\n".join(out).rstrip()


def pk_gpg_list():
    fp = hx(40).upper()
    return "\n".join(["$ gpg --list-keys --keyid-format long", f"/home/{pick(DEVS)}/.gnupg/pubring.kbx", "-" * 32,
                      f"pub   ed25519/{fp[-16:]} 2024-0{ri(1, 9)}-{ri(10, 28)} [SC] [expires: 2026-0{ri(1, 9)}-{ri(10, 28)}]",
                      f"      {fp}", f"uid                 [ultimate] {pick(DEVS).capitalize()} <{email()}>",
                      f"sub   cv25519/{hx(16).upper()} 2024-0{ri(1, 9)}-{ri(10, 28)} [E]"])


def pk_age_keygen():
    return "\n".join(["$ age-keygen -o ~/.config/sops/age/keys.txt", f"Public key: {age_recipient()}", "$ cat .sops.yaml",
                      "creation_rules:", "  - path_regex: secrets/.*\\.yaml$", f"    age: >-", f"      {age_recipient()},", f"      {age_recipient()}"])


def pk_deploy_key_api():
    d = {"id": ri(10 ** 7, 10 ** 8), "key": ssh_ed25519_pub(""), "url": f"https://api.github.com/repos/{pick(ORGS)}/{proj()}/keys/{ri(10 ** 7, 10 ** 8)}",
         "title": f"argocd-{pick(ENVS)}", "verified": True, "created_at": ts("sec"), "read_only": True, "added_by": pick(DEVS), "last_used": ts("sec")}
    return f"$ gh api repos/{pick(ORGS)}/{proj()}/keys\n" + json.dumps([d], indent=2)


def pk_ssh_keyscan():
    host = f"git.{pick(DOMAINS)}"
    return "\n".join([f"$ ssh-keyscan -t ed25519,rsa {host}", f"# {host}:22 SSH-2.0-OpenSSH_9.6", f"{host} {ssh_ed25519_pub('')}",
                      f"# {host}:22 SSH-2.0-OpenSSH_9.6", f"{host} {ssh_rsa_pub('', 2048)}"])


PUBKEYS = [pk_ed25519_pub, pk_authorized_keys, pk_known_hosts, pk_pgp_public, pk_cert_chain, pk_jwks, pk_public_pem, pk_wg_show,
           pk_gpg_list, pk_age_keygen, pk_deploy_key_api, pk_ssh_keyscan]


def c_pubkeys(i):
    return PUBKEYS[i % len(PUBKEYS)](), []


# --- application / object identifiers ---------------------------------------

def ai_webhook_config():
    d = {"type": "Repository", "id": ri(10 ** 8, 10 ** 9), "name": "web", "active": True, "events": ["push", "pull_request"],
         "config": {"content_type": "json", "insecure_ssl": "0", "secret": "********", "url": f"https://ci.{pick(DOMAINS)}/github-webhook/"},
         "updated_at": ts("sec"), "created_at": ts("sec"), "url": f"https://api.github.com/repos/{pick(ORGS)}/{proj()}/hooks/{ri(10 ** 8, 10 ** 9)}",
         "last_response": {"code": 200, "status": "active", "message": "OK"}}
    return f"$ gh api repos/{pick(ORGS)}/{proj()}/hooks --jq '.[0]'\n" + json.dumps(d, indent=2)


def ai_stripe_objects():
    evs = []
    for _ in range(ri(2, 3)):
        evs.append({"id": "evt_" + rs(24), "object": "event", "type": pick(["payment_intent.succeeded", "invoice.paid", "customer.subscription.updated"]),
                    "data": {"object": {"id": "pi_" + rs(24), "customer": "cus_" + rs(14), "latest_charge": "ch_" + rs(24),
                                        "payment_method": "pm_" + rs(24), "amount": ri(500, 50000), "currency": "usd"}},
                    "livemode": True, "request": {"id": "req_" + rs(14), "idempotency_key": uid()}})
    return "$ stripe events list --limit 2 | jq '.data'\n" + json.dumps(evs, indent=2)


def ai_graphql():
    d = {"data": {"repository": {"id": "R_kgDO" + rs(6), "pullRequests": {"nodes": [
        {"id": "PR_kwDO" + rs(16, B62 + "-_"), "number": ri(100, 4000), "author": {"id": "MDQ6VXNlcj" + b64(str(ri(10 ** 5, 10 ** 8)).encode()).rstrip("=")},
         "title": pick(COMMIT_MSGS)} for _ in range(2)]}}}}
    return "$ gh api graphql -f query=@prs.graphql\n" + json.dumps(d, indent=2) + \
        f"\n\nShopify equivalent ids look like gid://shopify/Product/{ri(10 ** 12, 10 ** 13)} and gid://shopify/Order/{ri(10 ** 12, 10 ** 13)}"


def ai_slack_ids():
    d = {"ok": True, "channels": [{"id": "C0" + rs(9, UP + DG), "name": pick(["deploys", "alerts-prod", "eng", "billing-ops"]),
                                   "is_private": False, "creator": "U0" + rs(9, UP + DG), "context_team_id": "T0" + rs(8, UP + DG),
                                   "created": epoch()} for _ in range(2)],
         "response_metadata": {"next_cursor": b64(f"team:C0{rs(9, UP + DG)}".encode())}}
    return "conversations.list returned:\n" + json.dumps(d, indent=2)


def ai_jwt_header():
    tsq_start()
    h = {"alg": pick(["RS256", "ES256"]), "kid": hx(40) if R.random() < 0.5 else rs(43, B64U), "typ": "JWT"}
    hdr = b64u(json.dumps(h, separators=(",", ":")).encode())
    return "\n".join([f"{tsq('log')} DEBUG jwt: unknown kid, refreshing JWKS", f"{tsq('log')} DEBUG jwt: protected header={hdr}",
                      f"{tsq('log')} DEBUG jwt: decoded header {json.dumps(h)}",
                      f"{tsq('log')} WARN  jwt: verification failed: no key with kid={h['kid']} after refresh (payload and signature omitted)"])


def ai_semver():
    p = pick(NPM_PKGS)
    vs = [f"{ri(1, 5)}.{m}.{ri(0, 9)}" for m in range(ri(5, 12))]
    return "\n".join([f"$ npm view {p} versions --json | tail -n 5"] + [f"  \"{v}\"," for v in vs[-4:]] + ["]",
                                                                                                        f"$ npm view {p}@latest dist.shasum dist.tarball",
                                                                                                        f"dist.shasum = '{hx(40)}'",
                                                                                                        f"dist.tarball = 'https://registry.npmjs.org/{p}/-/{p}-{vs[-1]}.tgz'"])


def ai_twilio_sids():
    out = ["$ twilio api:core:messages:list --limit 3", "SID                                 From          To            Status     Date Sent"]
    for _ in range(3):
        out.append(f"SM{hx(32)}  +1{ri(2000000000, 9999999999)}  +1{ri(2000000000, 9999999999)}  delivered  {when().strftime('%b %d %Y %H:%M:%S')} GMT-0000")
    return "\n".join(out)


def ai_sentry_ids():
    tsq_start()
    return "\n".join([f"{tsq('log')} ERROR captured exception, sentry event_id={hx(32)} release={proj()}@{hx(12)}",
                      f"{tsq('log')} ERROR captured exception, sentry event_id={hx(32)} trace={hx(32)}",
                      f"View at https://{pick(ORGS)}.sentry.io/issues/{ri(10 ** 9, 10 ** 10)}/events/{hx(32)}/"])


def ai_uuid_rows():
    out = ["app=# select id, tenant_id, external_ref, status from jobs order by created_at desc limit 4;",
           "                  id                  |              tenant_id               |     external_ref     |  status",
           "--------------------------------------+--------------------------------------+----------------------+----------"]
    for _ in range(4):
        out.append(f" {uid()} | {uid()} | job_{rs(16, LO + DG)} | {pick(['done', 'queued', 'failed'])}")
    out.append("(4 rows)")
    return "\n".join(out)


def ai_webhook_endpoints():
    d = {"id": "we_" + rs(24), "object": "webhook_endpoint", "api_version": "2024-06-20", "application": None,
         "enabled_events": ["checkout.session.completed", "invoice.payment_failed"], "livemode": True, "status": "enabled",
         "url": f"https://api.{pick(DOMAINS)}/webhooks/stripe"}
    return "Endpoint is registered (the signing secret is only shown once, at creation):\n" + json.dumps(d, indent=2)


APP_IDS = [ai_webhook_config, ai_stripe_objects, ai_graphql, ai_slack_ids, ai_jwt_header, ai_semver, ai_twilio_sids, ai_sentry_ids,
           ai_uuid_rows, ai_webhook_endpoints]


def c_app_ids(i):
    return APP_IDS[i % len(APP_IDS)](), []


# --- crypto addresses -----------------------------------------------------------

def cr_solana():
    a = sol_addr()
    return "\n".join(["$ solana address", a, f"$ solana balance {a} --url devnet", f"{ri(0, 20)}.{ri(0, 99999999)} SOL",
                      "$ spl-token accounts", "Token                                         Balance",
                      "-----------------------------------------------------", f"{sol_addr()}  {ri(0, 9999)}"])


def cr_anchor():
    pid = sol_addr()
    return "\n".join(["# Anchor.toml", "[programs.localnet]", f"{pick(['escrow', 'vault_program', 'staking'])} = \"{pid}\"", "", "[provider]",
                      "cluster = \"Localnet\"", "wallet = \"~/.config/solana/id.json\"", "", "// programs/escrow/src/lib.rs",
                      f"declare_id!(\"{pid}\");"])


def cr_bitcoin():
    return "\n".join(["$ bitcoin-cli -testnet getnewaddress \"\" bech32" if R.random() < 0.2 else "$ bitcoin-cli getnewaddress \"\" bech32",
                      btc_bech32(), "$ bitcoin-cli validateaddress " + b58check(b"\x00" + rb(20)),
                      "{", "  \"isvalid\": true,", "  \"address\": \"" + b58check(b"\x05" + rb(20)) + "\",",
                      f"  \"scriptPubKey\": \"a914{hx(40)}87\",", "  \"isscript\": true,", "  \"iswitness\": false", "}"])


def cr_eth_receipt():
    d = {"blockHash": "0x" + hx(64), "blockNumber": ri(18000000, 21000000), "contractAddress": None, "cumulativeGasUsed": str(ri(10 ** 6, 10 ** 7)),
         "from": eth_addr(), "gasUsed": str(ri(21000, 300000)), "logs": [], "status": 1, "to": eth_addr(),
         "transactionHash": "0x" + hx(64), "transactionIndex": ri(0, 200)}
    return "> await tx.wait()\n" + json.dumps(d, indent=2)


def cr_sol_transfer():
    return "\n".join([f"$ solana transfer {sol_addr()} 0.5 --allow-unfunded-recipient --url devnet", "",
                      f"Signature: {b58enc(rb(64))}", "", f"$ solana confirm -v <signature above>", "Transaction executed in slot " + str(ri(2 * 10 ** 8, 3 * 10 ** 8)),
                      f"Recent Blockhash: {sol_addr()}", f"Account 0: srw- {sol_addr()} (fee payer)"])


CRYPTO = [cr_solana, cr_anchor, cr_bitcoin, cr_eth_receipt, cr_sol_transfer]


def c_crypto(i):
    return CRYPTO[i % len(CRYPTO)](), []


# --- already masked / redacted output ------------------------------------------

def ma_gh_status():
    return "\n".join(["$ gh auth status", "github.com", f"  ✓ Logged in to github.com account {pick(DEVS)} (keyring)", "  - Active account: true",
                      "  - Git operations protocol: https", "  - Token: gho_************************************",
                      "  - Token scopes: 'gist', 'read:org', 'repo', 'workflow'"])


def ma_aws_configure_list():
    return "\n".join(["$ aws configure list", "      Name                    Value             Type    Location",
                      "      ----                    -----             ----    --------",
                      f"   profile                {pick(ENVS):>8}           manual    --profile",
                      f"access_key     ****************{rs(4, UP + DG)} shared-credentials-file    ",
                      f"secret_key     ****************{rs(4, B62)} shared-credentials-file    ",
                      f"    region                {pick(REGIONS)}      config-file    ~/.aws/config"])


def ma_stripe_error():
    tsq_start()
    return "\n".join([f"{tsq('log')} ERROR billing: stripe request failed req_{rs(14)}",
                      "StripeAuthenticationError: Invalid API Key provided: sk_live_" + "*" * 20 + rs(4),
                      "    at res.toJSON.then.StripeAPIError.message (node_modules/stripe/cjs/RequestSender.js:105:31)",
                      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"])


def ma_gha_masked():
    tsq_start()
    return "\n".join([f"{tsq()} ##[group]Run ./scripts/deploy.sh", f"{tsq()} ./scripts/deploy.sh", f"{tsq()} shell: /usr/bin/bash -e {{0}}",
                      f"{tsq()} env:", f"{tsq()}   AWS_ACCESS_KEY_ID: ***", f"{tsq()}   AWS_SECRET_ACCESS_KEY: ***",
                      f"{tsq()}   DATABASE_URL: ***", f"{tsq()} ##[endgroup]", f"{tsq()} deploying {proj()} to {pick(ENVS)} with token ***"])


def ma_tf_output():
    return "\n".join(["$ terraform output", f"db_endpoint = \"{rds_host()}:5432\"", "db_password = <sensitive>",
                      f"lb_dns_name = \"{proj()}-{ri(10 ** 8, 10 ** 9)}.{pick(REGIONS)}.elb.amazonaws.com\"", "redis_auth_token = <sensitive>"])


def ma_npm_config():
    return "\n".join(["$ npm config list", "; \"user\" config from /home/" + pick(DEVS) + "/.npmrc", "",
                      "//registry.npmjs.org/:_authToken = (protected)", f"@{pick(ORGS)}:registry = \"https://npm.pkg.github.com\"",
                      "//npm.pkg.github.com/:_authToken = (protected)", "", f"; node bin location = /usr/local/bin/node",
                      f"; node version = v20.{ri(9, 17)}.{ri(0, 5)}"])


def ma_log_redacted():
    tsq_start()
    return "\n".join([f"{tsq()} DEBUG http: --> POST https://api.{pick(DOMAINS)}/v1/charges",
                      f"{tsq()} DEBUG http:     Authorization: Bearer [REDACTED]", f"{tsq()} DEBUG http:     Idempotency-Key: {uid()}",
                      f"{tsq()} DEBUG http:     body: {{\"amount\":{ri(100, 9999)},\"card\":\"[FILTERED]\",\"password\":\"*****\"}}",
                      f"{tsq()} DEBUG http: <-- 402 Payment Required ({ri(40, 900)}ms)"])


def ma_fly_secrets():
    out = ["$ fly secrets list", "NAME                 DIGEST                  CREATED AT"]
    for n in ["DATABASE_URL", "SECRET_KEY_BASE", "STRIPE_API_KEY", "SENTRY_DSN"]:
        out.append(f"{n:<20} {hx(16):<23} {ri(2, 30)}d ago")
    return "\n".join(out)


def ma_gh_secret_list():
    out = [f"$ gh secret list -R {pick(ORGS)}/{proj()}", "NAME                   UPDATED"]
    for n in ["AWS_DEPLOY_ROLE_ARN", "NPM_TOKEN", "SLACK_WEBHOOK_URL", "DOCKERHUB_TOKEN"]:
        out.append(f"{n:<22} about {ri(2, 11)} months ago")
    return "\n".join(out)


def ma_sentry_filtered():
    d = {"request": {"url": f"https://app.{pick(DOMAINS)}/api/login", "method": "POST", "headers": {"Authorization": "[Filtered]", "Cookie": "[Filtered]"},
                     "data": {"email": "[email]", "password": "[Filtered]"}}, "extra": {"api_key": "[Filtered]"}}
    return "Sentry event payload (server-side scrubbing on):\n" + json.dumps(d, indent=2)


def ma_vercel_env():
    out = ["$ vercel env ls", f"> Environment Variables found for {pick(ORGS)}/{proj()} [{ri(100, 900)}ms]", "",
           " name                  value               environments                        created"]
    for n in ["DATABASE_URL", "NEXTAUTH_SECRET", "STRIPE_SECRET_KEY"]:
        out.append(f" {n:<21} Encrypted           Production, Preview                 {ri(2, 90)}d ago")
    return "\n".join(out)


def ma_last4():
    return "\n".join(["$ stripe keys list  # (dashboard export)", "NAME            TOKEN                 LAST USED",
                      f"Standard        sk_live_...{rs(4)}      {ri(1, 20)} minutes ago",
                      f"ci-readonly     rk_live_...{rs(4)}      {ri(1, 9)} days ago", f"Publishable     pk_live_...{rs(4)}      -"])


MASKED = [ma_gh_status, ma_aws_configure_list, ma_stripe_error, ma_gha_masked, ma_tf_output, ma_npm_config, ma_log_redacted,
          ma_fly_secrets, ma_gh_secret_list, ma_sentry_filtered, ma_vercel_env, ma_last4]


def c_masked(i):
    return MASKED[i % len(MASKED)](), []


# --- session prose about secrets (no values) ---------------------------------

def pr_summary_rotation():
    return "\n".join(["Summary of what I changed:", "",
                      f"1. `{src_path('ts')}` now reads `STRIPE_SECRET_KEY` through `getSecret()` instead of `process.env` directly, so the value is cached for 5 minutes and never logged.",
                      "2. Removed the hard-coded fallback key from `config/default.json` (it was a revoked test key, but it shouldn't live in the repo).",
                      "3. Added a `pre-commit` hook running `gitleaks protect --staged`.", "",
                      "You still need to rotate the live key in the Stripe dashboard and update it in the secret manager; I did not touch any credentials."])


def pr_user_question():
    return pick([
        "the deploy fails with `401 invalid api key` from the openai client. can you check how we load OPENAI_API_KEY in the worker? it works in the web process",
        "why does `aws sts get-caller-identity` work but terraform says `No valid credential sources found`? I'm using SSO profiles",
        "we got a github secret scanning alert for a token in an old commit. what's the cleanest way to purge it from history? the token is already revoked",
        "is it ok to keep the JWT public key in the repo? the private one is in vault",
        "how should I pass the db password to the migration job without it showing up in `ps`?",
        "please don't print any env values in the output, just tell me which keys are missing",
    ])


def pr_review_comment():
    return "\n".join([f"> {src_path('py')}:{ri(10, 200)}", "> `token = request.headers.get('Authorization').split()[1]`", "",
                      "This will throw on a missing header; use `get_bearer_token(request)` which returns `None` and handles lowercase `bearer`. "
                      "Also we shouldn't include the token in the `logger.info` two lines below -- log the `kid` and the subject instead."])


def pr_plan():
    return "\n".join(["Plan:", "- [x] Move secrets out of `docker-compose.yml` into an `.env` file that is gitignored",
                      "- [x] Add `.env.example` with placeholders", "- [ ] Switch CI to OIDC so we can delete the long-lived AWS access key",
                      "- [ ] Rotate the Slack bot token after the channel migration",
                      "- [ ] Enable push protection for secret scanning on the org"])


def pr_postmortem():
    return "\n".join([f"## Incident {when().strftime('%Y-%m-%d')}: webhook signature failures", "",
                      f"Between {ts('log')[11:16]} and {ts('log')[11:16]} UTC, {ri(100, 4000)} Stripe webhooks were rejected with `No signatures found matching the expected signature for payload`.",
                      "Root cause: the staging signing secret was deployed to production after the env var was renamed from `STRIPE_WEBHOOK_SECRET` to `STRIPE_ENDPOINT_SECRET`.",
                      f"Example request id: req_{rs(14)}; trace {hx(32)}.", "",
                      "Follow-ups: validate that the secret's endpoint id matches at boot; alert on >1% signature failures."])


def pr_explain_format():
    return "\n".join(["Quick reference for the token formats our scanner flags:", "",
                      "- GitHub classic PATs start with `ghp_`, fine-grained ones with `github_pat_`",
                      "- Slack bot tokens start with `xoxb-`, app-level tokens with `xapp-`",
                      "- Stripe secret keys are `sk_live_` / `sk_test_`, restricted keys `rk_live_`",
                      "- AWS access key ids start with `AKIA` (long-lived) or `ASIA` (temporary)", "",
                      "Publishable Stripe keys (`pk_`) and AWS account ids are not secrets."])


def pr_assistant_done():
    return "\n".join([f"Done. I created the `{pick(MODS)}_api_tokens` table with a `token_digest bytea` column (SHA-256 of the token) and a unique index on `token_prefix`.",
                      "Tokens are shown to the user exactly once at creation; after that only the 8-character prefix is stored in clear.",
                      f"All {ri(20, 90)} tests pass: `cargo test -p {proj()}`."])


def pr_debug_narrative():
    return "\n".join(["The 403 comes from the bucket policy, not the IAM role: the policy has an explicit `Deny` unless `aws:SecureTransport` is true,",
                      "and the SDK is configured with `endpoint_url=http://...` for localstack in this profile.",
                      f"The request id in the error (`{rs(16, UP + DG)}`) matches the CloudTrail entry for `PutObject`.",
                      "No credential change is needed."])


def pr_gitleaks_report():
    return "\n".join(["$ gitleaks detect --redact -v", "Finding:     STRIPE_SECRET_KEY=REDACTED", "Secret:      REDACTED",
                      "RuleID:      stripe-access-token", "Entropy:     4.81", f"File:        {pick(['config/old.env', '.env.backup', 'deploy/values-prod.yaml'])}",
                      f"Line:        {ri(2, 40)}", f"Commit:      {hx(40)}", f"Author:      {pick(DEVS)}", f"Date:        {ts('sec')}",
                      "", f"{ts('log')[11:]} WRN leaks found: 1"])


def pr_onboarding():
    return "\n".join(["To get local credentials:", "1. `aws sso login --profile dev`", "2. `op signin` and run `make env` -- it renders `.env` from `op://` references",
                      "3. Never paste tokens into Slack or tickets; use a 1Password share link that expires",
                      "4. If you leak something, revoke first, then tell #security"])


def pr_compare_envs():
    return "\n".join(["I compared the variable *names* between staging and prod (values not printed):", "",
                      "| name | staging | prod |", "|---|---|---|", "| DATABASE_URL | set | set |", "| REDIS_URL | set | set |",
                      "| STRIPE_SECRET_KEY | set | set |", "| STRIPE_WEBHOOK_SECRET | set | **missing** |", "| SENTRY_DSN | missing | set |", "",
                      "So prod is missing the webhook secret, which explains the signature errors."])


def pr_security_note():
    return "\n".join(["Heads-up: the file you pasted earlier contained what looks like a live API key.",
                      "I haven't repeated it here. Please revoke it in the provider console, generate a new one, and store it in the secret manager;",
                      "I'll update the code to read it from `API_KEY_FILE` instead."])


PROSE = [pr_summary_rotation, pr_user_question, pr_review_comment, pr_plan, pr_postmortem, pr_explain_format, pr_assistant_done,
         pr_debug_narrative, pr_gitleaks_report, pr_onboarding, pr_compare_envs, pr_security_note]


def c_prose(i):
    return PROSE[i % len(PROSE)](), []


# ===========================================================================
# SECRET FAMILIES  (each returns text, [must-remove substrings])
# ===========================================================================

# --- cloud provider credentials ----------------------------------------------

def sc_aws_credfile():
    i1, s1 = k_aws_id(), k_aws_secret()
    secrets = [i1, s1]
    out = ["$ cat ~/.aws/credentials", "[default]", f"aws_access_key_id = {i1}", f"aws_secret_access_key = {s1}"]
    if R.random() < 0.5:
        i2, s2 = k_aws_id(), k_aws_secret()
        out += ["", f"[{pick(ENVS)}]", f"aws_access_key_id={i2}", f"aws_secret_access_key={s2}", f"region={pick(REGIONS)}"]
        secrets += [i2, s2]
    return "\n".join(out), secrets


def sc_aws_export():
    i, s = k_aws_id(), k_aws_secret()
    out = [f"export AWS_ACCESS_KEY_ID={i}", f"export AWS_SECRET_ACCESS_KEY={s}", f"export AWS_DEFAULT_REGION={pick(REGIONS)}",
           f"aws s3 ls s3://{proj()}-{pick(ENVS)}-uploads/ --recursive | tail -n 3"]
    for _ in range(3):
        out.append(f"{when().strftime('%Y-%m-%d %H:%M:%S')}   {ri(1000, 9000000):>9} uploads/{uid()}.{pick(['png', 'pdf', 'csv'])}")
    return "\n".join(out), [i, s]


def sc_sts_assume():
    i, s, t = k_aws_id("ASIA"), k_aws_secret(), k_aws_session()
    a = acct()
    d = {"Credentials": {"AccessKeyId": i, "SecretAccessKey": s, "SessionToken": t, "Expiration": ts("sec")},
         "AssumedRoleUser": {"AssumedRoleId": f"AROA{rs(17, UP + '234567')}:{pick(DEVS)}-cli", "Arn": f"arn:aws:sts::{a}:assumed-role/{proj()}-deploy/{pick(DEVS)}-cli"}}
    return f"$ aws sts assume-role --role-arn arn:aws:iam::{a}:role/{proj()}-deploy --role-session-name {pick(DEVS)}-cli\n" + json.dumps(d, indent=4), [i, s, t]


def sc_azure_conn():
    acc = f"st{proj().replace('-', '')[:12]}{pick(ENVS)[:3]}"
    k = k_azure_key()
    d = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "node",
                                          "AzureWebJobsStorage": f"DefaultEndpointsProtocol=https;AccountName={acc};AccountKey={k};EndpointSuffix=core.windows.net",
                                          "QUEUE_NAME": f"{pick(MODS)}-jobs"}}
    return "$ cat local.settings.json\n" + json.dumps(d, indent=2), [k]


def sc_az_keys():
    k1, k2 = k_azure_key(), k_azure_key()
    rows = [{"creationTime": ts("iso"), "keyName": "key1", "permissions": "FULL", "value": k1},
            {"creationTime": ts("iso"), "keyName": "key2", "permissions": "FULL", "value": k2}]
    return f"$ az storage account keys list -g rg-{proj()} -n st{proj().replace('-', '')[:14]}\n" + json.dumps(rows, indent=2), [k1, k2]


def _gcp_sa():
    project = f"{proj()}-{ri(100000, 999999)}"
    _, lines = pem_pkcs8()
    pk = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"
    em = f"{pick(['ci-deployer', 'terraform', 'bq-loader', 'firebase-adminsdk-' + rs(5, LO + DG)])}@{project}.iam.gserviceaccount.com"
    d = {"type": "service_account", "project_id": project, "private_key_id": hx(40), "private_key": pk, "client_email": em,
         "client_id": str(ri(10 ** 20, 10 ** 21 - 1)), "auth_uri": "https://accounts.google.com/o/oauth2/auth",
         "token_uri": "https://oauth2.googleapis.com/token", "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
         "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + urllib.parse.quote(em), "universe_domain": "googleapis.com"}
    return d, pem_pick(lines)


def sc_gcp_sa_raw():
    d, sec = _gcp_sa()
    return f"$ cat {pick(['gcp-key.json', 'credentials/service-account.json', 'terraform/sa.json'])}\n" + json.dumps(d, indent=2), sec


def sc_gcp_sa_env():
    d, sec = _gcp_sa()
    return pick(["GOOGLE_CREDENTIALS='", "export GCP_SA_KEY='", "FIREBASE_SERVICE_ACCOUNT='"]) + json.dumps(d) + "'", sec


def sc_do():
    t = k_dop()
    return pick([f"$ doctl auth init --context {pick(ENVS)} --access-token {t}\nValidating token... ✔",
                 f"# terraform.tfvars\ndo_token = \"{t}\"\nregion   = \"{pick(['nyc3', 'fra1', 'sfo3'])}\"\ndroplet_size = \"s-2vcpu-4gb\"",
                 f"DIGITALOCEAN_ACCESS_TOKEN={t}\nSPACES_BUCKET={proj()}-assets"]), [t]


def sc_boto_code():
    i, s = k_aws_id(), k_aws_secret()
    return "\n".join([f"# {src_path('py')}", "import boto3", "", "session = boto3.Session(", f"    aws_access_key_id=\"{i}\",",
                      f"    aws_secret_access_key=\"{s}\",", f"    region_name=\"{pick(REGIONS)}\",", ")",
                      f"sqs = session.client(\"sqs\")"]), [i, s]


def sc_tfvars():
    i, s = k_aws_id(), k_aws_secret()
    return "\n".join(["$ cat environments/prod.tfvars", f"aws_region     = \"{pick(REGIONS)}\"", f"aws_access_key = \"{i}\"",
                      f"aws_secret_key = \"{s}\"", f"instance_count = {ri(2, 9)}"]), [i, s]


CLOUD = [sc_aws_credfile, sc_aws_export, sc_sts_assume, sc_azure_conn, sc_az_keys, sc_gcp_sa_raw, sc_gcp_sa_env, sc_do, sc_boto_code, sc_tfvars]


def s_cloud(i):
    return CLOUD[i % len(CLOUD)]()


# --- VCS / package registry tokens -------------------------------------------

def sv_git_remote():
    t = pick([k_ghp, k_ghpat])()
    o, r = pick(ORGS), proj()
    return "\n".join(["$ git remote -v", f"origin\thttps://{t}@github.com/{o}/{r}.git (fetch)", f"origin\thttps://{t}@github.com/{o}/{r}.git (push)"]), [t]


def sv_ghpat_env():
    t = k_ghpat()
    return "\n".join(["# .env.local", f"GITHUB_APP_ID={ri(100000, 999999)}", f"GITHUB_TOKEN={t}", f"GITHUB_ORG={pick(ORGS)}", "LOG_LEVEL=debug"]), [t]


def sv_gh_hosts():
    t = k_gho()
    return "\n".join(["$ cat ~/.config/gh/hosts.yml", "github.com:", "    users:", f"        {pick(DEVS)}:", f"            oauth_token: {t}",
                      "    git_protocol: https", f"    oauth_token: {t}", f"    user: {pick(DEVS)}"]), [t]


def sv_glpat_curl():
    t = k_glpat()
    return (f"curl --header \"PRIVATE-TOKEN: {t}\" \"https://gitlab.{pick(DOMAINS)}/api/v4/projects/{ri(10, 9000)}/pipelines?status=failed&per_page=5\"\n"
            + json.dumps([{"id": ri(10 ** 5, 10 ** 6), "sha": hx(40), "ref": "main", "status": "failed"}])), [t]


def sv_gitlab_ci():
    t = k_glpat()
    return "\n".join(["# .gitlab-ci.yml", "variables:", f"  DEPLOY_TOKEN: \"{t}\"", "  DOCKER_DRIVER: overlay2", "", "release:", "  stage: deploy",
                      "  script:", "    - git remote set-url origin https://oauth2:${DEPLOY_TOKEN}@gitlab.com/$CI_PROJECT_PATH.git", "    - git push --tags"]), [t]


def sv_npmrc():
    t = k_npm()
    o = pick(ORGS)
    return "\n".join(["$ cat ~/.npmrc", f"//registry.npmjs.org/:_authToken={t}", f"@{o}:registry=https://registry.npmjs.org/", "save-exact=true"]), [t]


def sv_pypirc():
    t = k_pypi()
    return "\n".join(["$ cat ~/.pypirc", "[distutils]", "index-servers =", "    pypi", "", "[pypi]", "username = __token__", f"password = {t}"]), [t]


def sv_hf():
    t = k_hf()
    return pick(["\n".join(["from huggingface_hub import login, snapshot_download", "", f"login(token=\"{t}\")",
                            f"snapshot_download(repo_id=\"{pick(ORGS)}/{pick(['ner-small', 'invoice-layout', 'support-intent'])}\", local_dir=\"models/\")"]),
                 f"HF_TOKEN={t} python train.py --push-to-hub --hub-model-id {pick(ORGS)}/{pick(['ner-small', 'reranker-v2'])}"]), [t]


def sv_cargo_cred():
    t = k_cio()
    return "\n".join(["$ cat ~/.cargo/credentials.toml", "[registry]", f"token = \"{t}\""]), [t]


def sv_docker_ghcr():
    t = k_ghp()
    u = pick(DEVS)
    return f"$ docker login ghcr.io -u {u} -p {t}\nWARNING! Using --password via the CLI is insecure. Use --password-stdin.\nLogin Succeeded", [t]


def sv_ghs_log():
    tsq_start()
    t = k_ghs()
    return "\n".join([f"{tsq()} [debug]Evaluating: secrets.GITHUB_TOKEN", f"{tsq()} [debug]=> '{t}'",
                      f"{tsq()} [debug]Result: '{t}'", f"{tsq()} ##[debug]Finishing: Checkout"]), [t]


VCS = [sv_git_remote, sv_ghpat_env, sv_gh_hosts, sv_glpat_curl, sv_gitlab_ci, sv_npmrc, sv_pypirc, sv_hf, sv_cargo_cred, sv_docker_ghcr, sv_ghs_log]


def s_vcs(i):
    return VCS[i % len(VCS)]()


# --- SaaS API keys -------------------------------------------------------------

def ss_slack_code():
    t = k_xoxb()
    return "\n".join([f"// {src_path('ts')}", "import { WebClient } from '@slack/web-api';", "",
                      f"const slack = new WebClient('{t}');", "", "export async function notifyDeploy(sha: string) {",
                      f"  await slack.chat.postMessage({{ channel: 'C0{rs(9, UP + DG)}', text: `Deployed ${{sha}}` }});", "}"]), [t]


def ss_slack_socket():
    a, b = k_xapp(), k_xoxb()
    return "\n".join(["# .env (socket mode)", "SLACK_APP_TOKEN=" + a, "SLACK_BOT_TOKEN=" + b, "SOCKET_MODE=true"]), [a, b]


def ss_stripe_env():
    k = k_sk_live()
    return "\n".join(["$ heroku config -a " + proj(), f"=== {proj()} Config Vars", f"NODE_ENV:          production",
                      f"STRIPE_PUBLISHABLE_KEY: pk_live_{rs(24)}", f"STRIPE_SECRET_KEY: {k}", "WEB_CONCURRENCY:   2"]), [k]


def ss_stripe_rk():
    k = k_rk_live()
    return "\n".join(["# config/billing.yml", "production:", f"  stripe_api_key: {k}", "  stripe_api_version: \"2024-06-20\"", "  trial_days: 14"]), [k]


def ss_openai_curl():
    k = k_openai()
    return "\n".join(["curl https://api.openai.com/v1/chat/completions \\", "  -H \"Content-Type: application/json\" \\",
                      f"  -H \"Authorization: Bearer {k}\" \\", "  -d '{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"ping\"}]}'",
                      "{", "  \"error\": {", "    \"message\": \"You exceeded your current quota, please check your plan and billing details.\",",
                      "    \"type\": \"insufficient_quota\",", "    \"code\": \"insufficient_quota\"", "  }", "}"]), [k]


def ss_anthropic_py():
    k = k_anthropic()
    return "\n".join(["import anthropic", "", f"client = anthropic.Anthropic(api_key=\"{k}\")", "msg = client.messages.create(",
                      "    model=\"claude-sonnet-4-20250514\",", "    max_tokens=512,", "    messages=[{\"role\": \"user\", \"content\": prompt}],", ")"]), [k]


def ss_google_cfg():
    k = k_google()
    return pick([f"// src/firebase.ts\nexport const firebaseConfig = {{\n  apiKey: \"{k}\",\n  authDomain: \"{proj()}.firebaseapp.com\",\n  projectId: \"{proj()}\",\n}};",
                 f"GOOGLE_MAPS_API_KEY={k}\nGOOGLE_CLOUD_PROJECT={proj()}-{ri(1000, 9999)}",
                 f"$ curl \"https://generativelanguage.googleapis.com/v1beta/models?key={k}\" | jq '.models[].name' | head -3\n\"models/gemini-1.5-pro\"\n\"models/gemini-1.5-flash\"\n\"models/text-embedding-004\""]), [k]


def ss_twilio():
    sid, tok = "AC" + hx(32), rhex(32)
    return "\n".join(["TWILIO_ACCOUNT_SID=" + sid, "TWILIO_AUTH_TOKEN=" + tok, f"TWILIO_FROM_NUMBER=+1{ri(2000000000, 9999999999)}"]), [tok]


def ss_sendgrid():
    k = k_sendgrid()
    return pick([f"sg = sendgrid.SendGridAPIClient(api_key='{k}')\nresponse = sg.send(message)\nprint(response.status_code)",
                 f"SENDGRID_API_KEY={k}\nMAIL_FROM=no-reply@{pick(DOMAINS)}"]), [k]


def ss_mailgun():
    k = k_mailgun()
    d = pick(DOMAINS)
    return "\n".join([f"curl -s --user 'api:{k}' \\", f"    https://api.mailgun.net/v3/mg.{d}/messages \\", f"    -F from='Ops <ops@mg.{d}>' \\",
                      f"    -F to={pick(DEVS)}@{d} -F subject='nightly export' -F text='done'",
                      "{\"id\":\"<" + ts("epoch") + "." + hx(16) + "@mg." + d + ">\",\"message\":\"Queued. Thank you.\"}"]), [k]


def ss_datadog():
    a, b = rhex(32), rhex(40)
    return "\n".join(["# /etc/datadog-agent/datadog.yaml", f"api_key: {a}", "site: datadoghq.eu", "logs_enabled: true",
                      "apm_config:", "  enabled: true"]), [a]


def ss_datadog2():
    a, b = rhex(32), rhex(40)
    return "\n".join([f"curl -X GET \"https://api.datadoghq.com/api/v1/monitor?monitor_tags=service:{proj()}\" \\",
                      f"  -H \"DD-API-KEY: {a}\" \\", f"  -H \"DD-APPLICATION-KEY: {b}\""]), [a, b]


def ss_shopify():
    k = k_shpat()
    shop = proj().split("-")[0]
    return (f"$ curl -s -H 'X-Shopify-Access-Token: {k}' https://{shop}-store.myshopify.com/admin/api/2024-07/shop.json | jq .shop.name\n"
            f"\"{shop.capitalize()} Store\""), [k]


def ss_discord():
    t = k_discord()
    return "\n".join(["import discord", "", "intents = discord.Intents.default()", "intents.message_content = True",
                      "client = discord.Client(intents=intents)", "", "@client.event", "async def on_ready():",
                      "    print(f'logged in as {client.user}')", "", f"client.run('{t}')"]), [t]


def ss_telegram_env():
    t = k_telegram()
    return "\n".join(["# bot/.env", f"TELEGRAM_BOT_TOKEN={t}", f"TELEGRAM_CHAT_ID=-100{ri(10 ** 9, 10 ** 10)}", "POLL_INTERVAL=5"]), [t]


def ss_whsec():
    tsq_start()
    w = k_whsec()
    return "\n".join(["$ stripe listen --forward-to localhost:4242/webhook",
                      f"> Ready! You are using Stripe API Version [2024-06-20]. Your webhook signing secret is {w} (^C to quit)",
                      f"{tsq('log')}   --> checkout.session.completed [evt_{rs(24)}]",
                      f"{tsq('log')}  <--  [200] POST http://localhost:4242/webhook [evt_{rs(24)}]"]), [w]


def ss_xoxp_log():
    t = k_xoxp()
    return f"{ts('log')} DEBUG slack_sdk.web.base_client: Sending a request - url: https://slack.com/api/users.list, query_params: {{}}, json_body: None, files: {{}}, data: {{}}, headers: {{'Content-Type': 'application/x-www-form-urlencoded', 'Authorization': '(redacted)', 'User-Agent': 'Python/3.12 slackclient/3.27.1'}} token={t}", [t]


SAAS = [ss_slack_code, ss_slack_socket, ss_stripe_env, ss_stripe_rk, ss_openai_curl, ss_anthropic_py, ss_google_cfg, ss_twilio,
        ss_sendgrid, ss_mailgun, ss_datadog, ss_datadog2, ss_shopify, ss_discord, ss_telegram_env, ss_whsec, ss_xoxp_log]


def s_saas(i):
    return SAAS[i % len(SAAS)]()


# --- passwords in connection strings ------------------------------------------

def cs_postgres_url():
    p = pw(urlsafe=True)
    u = pick(["app", "billing", "postgres", "svc_" + pick(MODS)])
    url = f"{pick(['postgres', 'postgresql'])}://{u}:{p}@{db_host()}:5432/{pick(MODS)}{pick(['', '?sslmode=require'])}"
    return pick([f"DATABASE_URL={url}", f"$ psql \"{url}\" -c '\\dt'\nDid not find any relations.",
                 f"{ts('log')} ERROR sqlalchemy.pool: connection failed for {url}: timeout expired"]), [p]


def cs_mysql_url():
    p = pw(urlsafe=True)
    return f"# config/database.yml\nproduction:\n  url: mysql2://rails:{p}@{db_host()}:3306/{proj().replace('-', '_')}_production\n  pool: 10", [p]


def cs_mongo():
    p = pw(urlsafe=True)
    c = f"cluster0.{rs(5, LO + DG)}.mongodb.net"
    return f"MONGODB_URI=mongodb+srv://{pick(DEVS)}:{p}@{c}/{pick(MODS)}?retryWrites=true&w=majority&appName=Cluster0", [p]


def cs_redis():
    p = pw("random", urlsafe=True)
    return pick([f"REDIS_URL=rediss://default:{p}@{proj()}-cache.{rs(6, LO + DG)}.ng.0001.use1.cache.amazonaws.com:6379/0",
                 f"celery worker -A app --broker=redis://:{p}@10.{ri(0, 9)}.{ri(0, 255)}.{ri(2, 250)}:6379/1 -l info"]), [p]


def cs_amqp():
    tsq_start()
    p = pw(urlsafe=True)
    return f"{tsq('log')} INFO  connecting to amqps://{proj()}:{p}@b-{uid()}.mq.{pick(REGIONS)}.amazonaws.com:5671/\n{tsq('log')} INFO  channel opened", [p]


def cs_jdbc():
    p = pw(urlsafe=True)
    return f"spring.datasource.url=jdbc:postgresql://{db_host()}:5432/{pick(MODS)}?user=app&password={p}&ssl=true\nspring.jpa.hibernate.ddl-auto=validate", [p]


def cs_adonet():
    p = pw(urlsafe=True)
    d = {"ConnectionStrings": {"Default": f"Server=tcp:sql-{proj()}.database.windows.net,1433;Initial Catalog={proj()};User ID=appadmin;Password={p};Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;"},
         "Logging": {"LogLevel": {"Default": "Information"}}}
    return "$ cat appsettings.Production.json\n" + json.dumps(d, indent=2), [p]


def cs_alembic():
    p = pw(urlsafe=True)
    return f"# alembic.ini\n[alembic]\nscript_location = migrations\nsqlalchemy.url = postgresql+psycopg://alembic:{p}@{db_host()}/{pick(MODS)}\n", [p]


def cs_pgpass():
    p = pw()
    p2 = pw()
    return f"$ cat ~/.pgpass\n{db_host()}:5432:*:app:{p}\n{db_host()}:5432:{pick(MODS)}:readonly:{p2}", [p, p2]


def cs_kafka():
    p = pw()
    return "\n".join(["# client.properties", f"bootstrap.servers=pkc-{rs(5, LO + DG)}.{pick(REGIONS)}.aws.confluent.cloud:9092",
                      "security.protocol=SASL_SSL", "sasl.mechanism=PLAIN",
                      f"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{rs(16, UP + DG)}\" password=\"{p}\";"]), [p]


CONNSTR = [cs_postgres_url, cs_mysql_url, cs_mongo, cs_redis, cs_amqp, cs_jdbc, cs_adonet, cs_alembic, cs_pgpass, cs_kafka]


def s_connstr(i):
    return CONNSTR[i % len(CONNSTR)]()


# --- .env files -----------------------------------------------------------------

def s_env_file(i):
    secrets = []
    lines = [pick(["$ cat .env", "$ cat .env.production", "# .env", "$ cat deploy/.env.staging"])]
    pool = [
        lambda: ("DB_PASSWORD", pw(urlsafe=True)),
        lambda: ("JWT_SECRET", rhex(64)),
        lambda: ("SESSION_SECRET", b64_secret(48)),
        lambda: ("STRIPE_SECRET_KEY", k_sk_live()),
        lambda: ("OPENAI_API_KEY", k_openai()),
        lambda: ("SENDGRID_API_KEY", k_sendgrid()),
        lambda: ("SECRET_KEY_BASE", rhex(128)),
        lambda: ("NEXTAUTH_SECRET", b64_secret(32)),
        lambda: ("ENCRYPTION_KEY", "base64:" + b64_secret(32)),
        lambda: ("GITHUB_CLIENT_SECRET", rhex(40)),
        lambda: ("REDIS_PASSWORD", pw("random", urlsafe=True)),
        lambda: ("ANTHROPIC_API_KEY", k_anthropic()),
    ]
    chosen = R.sample(range(len(pool)), ri(2, 4))
    body = []
    for c in chosen:
        k, v = pool[c]()
        q = pick(["", "", "\"", "'"])
        body.append(f"{k}={q}{v}{q}")
        secrets.append(v)
    for _ in range(ri(2, 5)):
        k, vs = pick(NONSECRET_VARS)
        body.insert(ri(0, len(body)), f"{k}={pick(vs)}")
    if R.random() < 0.4:  # a placeholder next to real values: must stay
        k, vs = pick(PH_POOL)
        body.insert(ri(0, len(body)), f"{k}={_q(pick(vs))}")
    if R.random() < 0.3:
        body.insert(0, "# generated " + ts("sec"))
    return "\n".join(lines + body), secrets


# --- passwords in config files ----------------------------------------------------

def cp_yaml_unquoted():
    p = pw(urlsafe=True)
    return "\n".join(["# config/production.yaml", "database:", f"  host: {db_host()}", "  port: 5432", "  user: app", f"  password: {p}",
                      "  pool: 20"]), [p]


def cp_yaml_quoted():
    p = pw()
    return "\n".join(["smtp:", f"  host: smtp.{pick(['sendgrid.net', 'mailgun.org', 'office365.com'])}", "  port: 587",
                      f"  username: {pick(['apikey', 'postmaster@mg.' + pick(DOMAINS), 'alerts@' + pick(DOMAINS)])}", f"  password: \"{p}\"", "  starttls: true"]), [p]


def cp_json():
    p = pw()
    d = {"db": {"host": db_host(), "user": "svc_" + pick(MODS), "password": p, "database": pick(MODS)}, "port": ri(3000, 9000)}
    return "$ cat config/prod.json\n" + json.dumps(d, indent=2), [p]


def cp_toml():
    p = pw()
    return "\n".join(["[database]", f"url = \"postgres://{db_host()}:5432/app\"", "username = \"app\"", f"password = '{p}'", "", "[server]",
                      f"port = {ri(3000, 9000)}"]), [p]


def cp_ini():
    p = pw()
    return "\n".join(["$ cat /etc/mysql/debian.cnf", "[client]", "host     = localhost", "user     = debian-sys-maint", f"password = {p}",
                      "socket   = /var/run/mysqld/mysqld.sock"]), [p]


def cp_maven():
    p = pw()
    return "\n".join(["<settings>", "  <servers>", "    <server>", f"      <id>{pick(ORGS)}-releases</id>", f"      <username>{pick(DEVS)}</username>",
                      f"      <password>{p}</password>", "    </server>", "  </servers>", "</settings>"]), [p]


def cp_spring_props():
    p = pw()
    return "\n".join(["# src/main/resources/application-prod.properties", f"spring.datasource.url=jdbc:mysql://{db_host()}:3306/{pick(MODS)}",
                      "spring.datasource.username=app", f"spring.datasource.password={p}", "spring.jpa.open-in-view=false"]), [p]


def cp_k8s_stringdata():
    p = pw()
    t = k_opaque(40)
    return "\n".join(["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {proj()}-db", "type: Opaque", "stringData:", "  username: app",
                      f"  password: \"{p}\"", f"  api-token: {t}"]), [p, t]


def cp_compose_env():
    p = pw(urlsafe=True)
    return "\n".join(["services:", "  db:", "    image: postgres:16", "    environment:", "      POSTGRES_USER: app",
                      f"      POSTGRES_PASSWORD: {p}", "    volumes:", "      - pgdata:/var/lib/postgresql/data"]), [p]


def cp_helm_values():
    p, p2 = pw(), pw()
    return "\n".join([f"$ helm get values {proj()} -n {pick(['billing', 'platform'])}", "USER-SUPPLIED VALUES:", "auth:",
                      f"  adminPassword: {p}", "postgresql:", "  auth:", f"    password: \"{p2}\"", "ingress:", "  enabled: true"]), [p, p2]


def cp_wp_config():
    p = pw()
    salt = rs(64, B62 + "!#%^*-_+=.@")
    return "\n".join(["define( 'DB_NAME', 'wordpress' );", "define( 'DB_USER', 'wp_prod' );", f"define( 'DB_PASSWORD', '{p}' );",
                      "define( 'DB_HOST', 'localhost' );", f"define( 'AUTH_KEY',         '{salt}' );"]), [p, salt]


CONFIGPW = [cp_yaml_unquoted, cp_yaml_quoted, cp_json, cp_toml, cp_ini, cp_maven, cp_spring_props, cp_k8s_stringdata, cp_compose_env,
            cp_helm_values, cp_wp_config]


def s_config_pw(i):
    return CONFIGPW[i % len(CONFIGPW)]()


# --- passwords on the command line ---------------------------------------------------

def cl_mysql():
    p = pw()
    return f"$ mysql -h {db_host()} -u root -p'{p}' -e 'SHOW DATABASES;'\nmysql: [Warning] Using a password on the command line interface can be insecure.\n+--------------------+\n| Database           |\n+--------------------+\n| information_schema |\n| {pick(MODS):<18} |\n+--------------------+", [p]


def cl_mysqldump():
    p = pw(urlsafe=True)
    return f"mysqldump -u backup -p{p} --single-transaction --routines {pick(MODS)} | gzip > /backups/{pick(MODS)}-$(date +%F).sql.gz", [p]


def cl_pgpassword():
    p = pw()
    return f"$ PGPASSWORD='{p}' psql -h {db_host()} -U app -d {pick(MODS)} -c 'select count(*) from users'\n count\n-------\n {ri(100, 99999)}\n(1 row)", [p]


def cl_password_flag():
    p = pw(urlsafe=True)
    return pick([f"$ ./bin/{proj()} migrate --db-user app --password={p} --host {db_host()}",
                 f"$ influx setup --username admin --password {p} --org {pick(ORGS)} --bucket metrics --force",
                 f"$ argocd login argocd.{pick(DOMAINS)} --username admin --password {p} --grpc-web"]), [p]


def cl_redis_cli():
    p = pw("random", urlsafe=True)
    return f"$ redis-cli -h {proj()}-cache.internal -p 6379 -a {p} INFO keyspace\nWarning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n# Keyspace\ndb0:keys={ri(100, 90000)},expires={ri(0, 900)},avg_ttl={ri(1000, 90000)}", [p]


def cl_sshpass():
    p = pw()
    return f"sshpass -p '{p}' ssh -o StrictHostKeyChecking=no {pick(['ubuntu', 'admin', 'root'])}@10.{ri(0, 9)}.{ri(0, 255)}.{ri(2, 250)} 'sudo systemctl restart {proj()}'", [p]


def cl_docker_run():
    p = pw(urlsafe=True)
    k = k_opaque(32)
    return f"docker run -d --name {proj()}-db -e POSTGRES_PASSWORD={p} -e APP_API_TOKEN={k} -p 5432:5432 postgres:16", [p, k]


def cl_curl_user():
    p = pw(urlsafe=True)
    return f"$ curl -u admin:{p} https://jenkins.{pick(DOMAINS)}/job/{proj()}/lastBuild/api/json | jq .result\n\"FAILURE\"", [p]


def cl_kubectl_literal():
    p = pw(urlsafe=True)
    return f"kubectl -n {pick(['billing', 'platform'])} create secret generic {proj()}-db --from-literal=username=app --from-literal=password={p}\nsecret/{proj()}-db created", [p]


def cl_openssl_passin():
    p = pw(urlsafe=True)
    return f"openssl pkcs12 -export -in server.crt -inkey server.key -out server.p12 -passout pass:{p}", [p]


CLIPW = [cl_mysql, cl_mysqldump, cl_pgpassword, cl_password_flag, cl_redis_cli, cl_sshpass, cl_docker_run, cl_curl_user, cl_kubectl_literal, cl_openssl_passin]


def s_cli_pw(i):
    return CLIPW[i % len(CLIPW)]()


# --- HTTP Authorization headers --------------------------------------------------------

def ha_curl_bearer():
    t = pick([lambda: k_opaque(pick([40, 48, 64])), lambda: "at_" + rs(40), k_ghp])()
    return f"$ curl -s -H \"Authorization: Bearer {t}\" https://api.{pick(DOMAINS)}/v1/orders?limit=2 | jq length\n2", [t]


def ha_basic():
    u, p = pick(DEVS), pw()
    cred = b64(f"{u}:{p}".encode())
    return f"curl -H 'Authorization: Basic {cred}' https://nexus.{pick(DOMAINS)}/service/rest/v1/repositories", [cred]


def ha_http_dump():
    t = k_opaque(48)
    return "\n".join([f"> GET /api/v2/customers/{ri(1000, 99999)} HTTP/1.1", f"> Host: api.{pick(DOMAINS)}", "> User-Agent: curl/8.5.0",
                      f"> Authorization: Bearer {t}", "> Accept: */*", ">", "< HTTP/1.1 403 Forbidden", "< content-type: application/json",
                      "{\"error\":\"insufficient_scope\"}"]), [t]


def ha_postman():
    t = k_opaque(40)
    d = {"info": {"name": proj(), "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
         "auth": {"type": "bearer", "bearer": [{"key": "token", "value": t, "type": "string"}]},
         "item": [{"name": "List invoices", "request": {"method": "GET", "url": "{{baseUrl}}/v1/invoices"}}]}
    return "$ cat postman/collection.json\n" + json.dumps(d, indent=2), [t]


def ha_httpie():
    t = k_opaque(64)
    return f"http GET https://api.{pick(DOMAINS)}/internal/metrics 'X-Api-Key:{t}'", [t]


def ha_nginx():
    u, p = "svc_proxy", pw()
    cred = b64(f"{u}:{p}".encode())
    return "\n".join(["location /upstream/ {", f"    proxy_pass https://legacy.{pick(DOMAINS)}/;", f"    proxy_set_header Authorization \"Basic {cred}\";",
                      "    proxy_set_header Host $proxy_host;", "}"]), [cred]


def ha_requests():
    t = k_opaque(40)
    return "\n".join(["import requests", "", f"HEADERS = {{\"Authorization\": \"Token {t}\", \"Accept\": \"application/json\"}}",
                      f"r = requests.get(\"https://netbox.{pick(DOMAINS)}/api/dcim/devices/\", headers=HEADERS, timeout=10)"]), [t]


def ha_fetch_ts():
    t = k_opaque(48)
    return "\n".join(["const res = await fetch(`${BASE}/v1/export`, {", "  headers: {", f"    'x-api-key': '{t}',",
                      "    'content-type': 'application/json',", "  },", "});"]), [t]


def ha_proxy_auth():
    u, p = pick(DEVS), pw()
    cred = b64(f"{u}:{p}".encode())
    return f"{ts('log')} DEBUG urllib3.connectionpool: Starting new HTTPS connection (1): proxy.corp:3128\nsend: b'CONNECT pypi.org:443 HTTP/1.0\\r\\nProxy-Authorization: Basic {cred}\\r\\n\\r\\n'", [cred]


HTTPAUTH = [ha_curl_bearer, ha_basic, ha_http_dump, ha_postman, ha_httpie, ha_nginx, ha_requests, ha_fetch_ts, ha_proxy_auth]


def s_http_auth(i):
    return HTTPAUTH[i % len(HTTPAUTH)]()


# --- PEM private keys -------------------------------------------------------------------

def pk_raw_file():
    label, lines = any_pem(email())
    return f"$ cat {pick(['~/.ssh/id_ed25519', 'deploy/key.pem', 'certs/server.key', 'secrets/jwt-signing.pem'])}\n" + pem_text(label, lines), pem_pick(lines)


def pk_env_escaped():
    label, lines = pick([pem_rsa, pem_pkcs8, pem_ec])()
    v = pem_text(label, lines, "\\n")
    return f"GITHUB_APP_ID={ri(100000, 999999)}\nGITHUB_APP_PRIVATE_KEY=\"{v}\\n\"\nGITHUB_WEBHOOK_PATH=/api/github", pem_pick(lines)


def pk_json_field():
    label, lines = pick([pem_pkcs8, pem_ec])()
    d = {"issuer": f"https://auth.{pick(DOMAINS)}", "kid": hx(16), "private_key": pem_text(label, lines) + "\n", "alg": "RS256" if label != "EC PRIVATE KEY" else "ES256"}
    return "$ cat config/signing.json\n" + json.dumps(d, indent=2), pem_pick(lines)


def pk_tf_output():
    label, lines = pem_rsa()
    return f"$ terraform output -raw ssh_private_key\n" + pem_text(label, lines), pem_pick(lines)


def pk_k8s_tls():
    label, lines = pem_ec()
    blob = b64((pem_text(label, lines) + "\n").encode())
    crt = b64(b"-----BEGIN CERTIFICATE-----\n" + b64(rb(300)).encode() + b"\n-----END CERTIFICATE-----\n")
    return "\n".join([f"$ kubectl get secret {proj()}-tls -o yaml", "apiVersion: v1", "data:", f"  tls.crt: {crt}", f"  tls.key: {blob}",
                      "kind: Secret", "metadata:", f"  name: {proj()}-tls", "type: kubernetes.io/tls"]), [blob]


def pk_python_str():
    label, lines = pick([pem_rsa, pem_ec])()
    return "# scripts/sign_release.py\nPRIVATE_KEY = \"\"\"" + pem_text(label, lines) + "\n\"\"\"\n\nsigner = load_pem_private_key(PRIVATE_KEY.encode(), password=None)", pem_pick(lines)


def pk_openssh_agent():
    label, lines = pem_openssh(f"ci@{proj()}")
    return "\n".join(["- name: Configure deploy key", "  run: |", "    mkdir -p ~/.ssh", "    cat > ~/.ssh/id_ed25519 <<'EOF'"]
                     + ["    " + x for x in pem_text(label, lines).split("\n")] + ["    EOF", "    chmod 600 ~/.ssh/id_ed25519"]), pem_pick(lines)


PEMS = [pk_raw_file, pk_env_escaped, pk_json_field, pk_tf_output, pk_k8s_tls, pk_python_str, pk_openssh_agent]


def s_private_key(i):
    return PEMS[i % len(PEMS)]()


# --- JWTs with payloads ------------------------------------------------------------

def _jwt_payload():
    now = epoch()
    return pick([
        {"sub": f"user_{rs(20)}", "iss": f"https://auth.{pick(DOMAINS)}/", "aud": "api", "iat": now, "exp": now + 3600, "scope": "read:orders write:orders"},
        {"iss": "supabase", "ref": rs(20, LO), "role": "service_role", "iat": now, "exp": now + 315360000},
        {"sub": str(ri(10 ** 5, 10 ** 7)), "email": email(), "org_id": uid(), "roles": ["admin"], "iat": now, "exp": now + 900, "jti": uid()},
        {"iss": f"https://securetoken.google.com/{proj()}", "aud": proj(), "auth_time": now, "user_id": rs(28), "sub": rs(28), "iat": now, "exp": now + 3600},
    ])


def jw_auth_log():
    t = jwt(_jwt_payload(), pick(["HS256", "RS256"]), kid=hx(8) if R.random() < 0.5 else None)
    return f"{ts('iso')} INFO  request method=GET path=/v1/me status=200 authorization=\"Bearer {t}\" duration_ms={ri(3, 90)}", [t]


def jw_cookie():
    t = jwt(_jwt_payload(), "HS256")
    return f"$ curl -s -b 'session={t}' https://app.{pick(DOMAINS)}/api/account | jq .plan\n\"pro\"", [t]


def jw_supabase_env():
    now = epoch()
    ref = rs(20, LO)
    svc = jwt({"iss": "supabase", "ref": ref, "role": "service_role", "iat": now, "exp": now + 315360000})
    return f"SUPABASE_URL=https://{ref}.supabase.co\nSUPABASE_SERVICE_ROLE_KEY={svc}", [svc]


def jw_localstorage():
    a = jwt(_jwt_payload(), "RS256", kid=hx(16))
    r = rs(64, B64U)
    d = {"access_token": a, "refresh_token": r, "expires_in": 3600, "token_type": "Bearer"}
    return "> JSON.parse(localStorage.getItem('auth'))\n" + json.dumps(d, indent=2), [a, r]


def jw_pasted():
    t = jwt(_jwt_payload(), pick(["HS256", "ES256"]))
    return f"this token keeps failing verification, can you decode it and tell me why?\n\n{t}", [t]


JWTS = [jw_auth_log, jw_cookie, jw_supabase_env, jw_localstorage, jw_pasted]


def s_jwt(i):
    return JWTS[i % len(JWTS)]()


# --- key pairs side by side -------------------------------------------------------------

def kp_colon():
    cid, sec = rs(24, LO + DG), rs(48, B62 + "-_")
    return f"CLIENT_CREDENTIALS={cid}:{sec}\n# format is CLIENT_ID:CLIENT_SECRET, consumed by scripts/get_token.sh", [sec]


def kp_constructor():
    cid, sec = hx(20), rhex(40)
    return "\n".join([f"// {src_path('ts')}", f"const oauth = new OAuthClient('{cid}', '{sec}', {{", f"  redirectUri: 'https://app.{pick(DOMAINS)}/oauth/callback',", "});"]), [sec]


def kp_rust_creds():
    i, s = k_aws_id(), k_aws_secret()
    return "\n".join(["let creds = aws_credential_types::Credentials::new(", f"    \"{i}\",", f"    \"{s}\",", "    None,", "    None,",
                      "    \"hardcoded\",", ");"]), [i, s]


def kp_algolia():
    app, key = rs(10, UP + DG), rhex(32)
    return f"const client = algoliasearch('{app}', '{key}'); // admin key, used by the reindex job", [key]


def kp_cloudinary():
    k, s = str(ri(10 ** 14, 10 ** 15)), rs(27, B62 + "-_")
    return f"CLOUDINARY_URL=cloudinary://{k}:{s}@{proj().split('-')[0]}", [s]


def kp_pusher():
    sec = rhex(20)
    return "\n".join(["pusher = Pusher(", f"    app_id=\"{ri(10 ** 6, 10 ** 7)}\",", f"    key=\"{hx(20)}\",", f"    secret=\"{sec}\",",
                      "    cluster=\"eu\",", "    ssl=True,", ")"]), [sec]


def kp_aws_csv():
    i, s = k_aws_id(), k_aws_secret()
    return f"$ cat ~/Downloads/{pick(DEVS)}_accessKeys.csv\nAccess key ID,Secret access key\n{i},{s}", [i, s]


def kp_oauth_json():
    cid = f"{ri(10 ** 11, 10 ** 12)}-{rs(32, LO + DG)}.apps.googleusercontent.com"
    sec = "GOCSPX-" + rs(28, B62 + "-_")
    d = {"web": {"client_id": cid, "project_id": f"{proj()}-{ri(1000, 9999)}", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                 "token_uri": "https://oauth2.googleapis.com/token", "client_secret": sec, "redirect_uris": [f"https://app.{pick(DOMAINS)}/auth/google/callback"]}}
    return "$ cat client_secret.json\n" + json.dumps(d), [sec]


KEYPAIRS = [kp_colon, kp_constructor, kp_rust_creds, kp_algolia, kp_cloudinary, kp_pusher, kp_aws_csv, kp_oauth_json]


def s_key_pair(i):
    return KEYPAIRS[i % len(KEYPAIRS)]()


# --- keys in URLs ---------------------------------------------------------------------

def ur_api_key_query():
    k = k_opaque(32)
    return f"{ts('log')} INFO  GET https://api.{pick(['openweathermap.org', 'newsapi.org', 'exchangerate-api.com'])}/data/2.5/weather?q=Berlin&appid={k}&units=metric -> 200 ({ri(30, 400)}ms)", [k]


def ur_access_token():
    t = "EAA" + rs(180, B62)
    return f"curl -s \"https://graph.facebook.com/v19.0/me/accounts?access_token={t}\"", [t]


def ur_azure_sas():
    sig = urllib.parse.quote(b64_secret(32), safe="")
    acc = f"st{proj().replace('-', '')[:12]}"
    url = f"https://{acc}.blob.core.windows.net/exports/{uid()}.csv?sv=2022-11-02&ss=b&srt=o&sp=r&se={ts('sec')}&st={ts('sec')}&spr=https&sig={sig}"
    return f"Download link (expires in 24h): {url}", [sig]


def ur_telegram():
    t = k_telegram()
    return f"$ curl -s \"https://api.telegram.org/bot{t}/sendMessage\" -d chat_id=-100{ri(10 ** 9, 10 ** 10)} -d text=\"deploy finished\"\n{{\"ok\":true,\"result\":{{\"message_id\":{ri(100, 9999)}}}}}", [t]


def ur_slack_webhook():
    a, b, c = k_slack_hook_parts()
    return f"curl -X POST -H 'Content-type: application/json' --data '{{\"text\":\"backup failed on {proj()}\"}}' https://hooks.slack.com/services/{a}/{b}/{c}", [c]


def ur_discord_webhook():
    wid = str(ri(10 ** 18, 13 * 10 ** 17 + 10 ** 18))
    tok = rs(68, B64U)
    return f"ALERT_WEBHOOK=https://discord.com/api/webhooks/{wid}/{tok}", [tok]


def ur_gmaps_key():
    k = k_google()
    return f"<script async src=\"https://maps.googleapis.com/maps/api/js?key={k}&loading=async&callback=initMap\"></script>", [k]


def ur_gcs_signed():
    sig = rhex(512)
    em = urllib.parse.quote(f"signer@{proj()}.iam.gserviceaccount.com", safe="")
    url = (f"https://storage.googleapis.com/{proj()}-reports/q3.pdf?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential={em}%2F{when().strftime('%Y%m%d')}%2Fauto%2Fstorage%2Fgoog4_request"
           f"&X-Goog-Date={when().strftime('%Y%m%dT%H%M%SZ')}&X-Goog-Expires=604800&X-Goog-SignedHeaders=host&X-Goog-Signature={sig}")
    return url, [sig]


def ur_git_clone_token():
    t = k_glpat()
    return f"$ git clone https://oauth2:{t}@gitlab.{pick(DOMAINS)}/{pick(ORGS)}/{proj()}.git\nCloning into '{proj()}'...", [t]


URLS = [ur_api_key_query, ur_access_token, ur_azure_sas, ur_telegram, ur_slack_webhook, ur_discord_webhook, ur_gmaps_key, ur_gcs_signed, ur_git_clone_token]


def s_url(i):
    return URLS[i % len(URLS)]()


# --- key constants in code ---------------------------------------------------------------

def cc_rust():
    k = rhex(64)
    return "\n".join([f"// {src_path('rs')}", f"const HMAC_SIGNING_KEY: &str = \"{k}\";", "",
                      "pub fn sign(body: &[u8]) -> String {", "    let mut mac = Hmac::<Sha256>::new_from_slice(&hex::decode(HMAC_SIGNING_KEY).unwrap()).unwrap();",
                      "    mac.update(body);", "    hex::encode(mac.finalize().into_bytes())", "}"]), [k]


def cc_go():
    k = b64_secret(32)
    return "\n".join(["package auth", "", f"var jwtSecret = []byte(\"{k}\")", "", "func Sign(claims jwt.MapClaims) (string, error) {",
                      "\treturn jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(jwtSecret)", "}"]), [k]


def cc_ts():
    k = rs(40, B62)
    return f"// {src_path('ts')}\nexport const API_SECRET = '{k}';\nexport const API_BASE = 'https://partner.{pick(DOMAINS)}/v3';", [k]


def cc_django():
    k = rs(50, LO + DG + "!@#%^&*(-_=+)")
    return f"# settings/production.py\nDEBUG = False\nSECRET_KEY = '{k}'\nALLOWED_HOSTS = ['{pick(DOMAINS)}']", [k]


def cc_java():
    k = b64_secret(32)
    return "\n".join(["public final class CryptoConfig {", f"    private static final String ENCRYPTION_KEY = \"{k}\";",
                      "    private static final String ALGORITHM = \"AES/GCM/NoPadding\";", "}"]), [k]


def cc_salt_py():
    s = rhex(32)
    return f"PASSWORD_SALT = \"{s}\"\n\ndef hash_pin(pin: str) -> str:\n    return hashlib.pbkdf2_hmac('sha256', pin.encode(), bytes.fromhex(PASSWORD_SALT), 200_000).hex()", [s]


def cc_diff():
    k = k_whsec() if R.random() < 0.5 else rhex(48)
    return "\n".join(["```diff", f"--- a/{src_path('js')}", f"+++ b/{src_path('js')}", f"@@ -{ri(1, 40)},6 +{ri(1, 40)},7 @@",
                      " const express = require('express');", "-const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET;",
                      f"+const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET || '{k}';", " const router = express.Router();", "```"]), [k]


def cc_csharp():
    t = rs(48, B62)
    return "\n".join(["public static class ApiDefaults", "{", f"    public const string ApiToken = \"{t}\";",
                      f"    public const string BaseUrl = \"https://erp.{pick(DOMAINS)}/api\";", "}"]), [t]


CODECONST = [cc_rust, cc_go, cc_ts, cc_django, cc_java, cc_salt_py, cc_diff, cc_csharp]


def s_code_const(i):
    return CODECONST[i % len(CODECONST)]()


# --- secrets in prose -------------------------------------------------------------------

def sp_stripe():
    k = k_sk_live()
    return f"here's my stripe key: {k} -- can you wire it into the checkout route so I can test against prod data?", [k]


def sp_slack():
    t = k_xoxb()
    return f"the token is {t}, the bot is already in #{pick(['deploys', 'alerts'])}. make it post the release notes there", [t]


def sp_db_password():
    p = pw()
    return f"staging db is at {db_host()}, user `app`, password is {p} -- run the migration against it and tell me if it breaks", [p]


def sp_openai():
    k = k_openai()
    return f"my openai key is {k}\nwhy does the script still return 401?", [k]


def sp_pasted_env():
    k = k_anthropic()
    return f"I put this in .env but the CLI says it's missing: ANTHROPIC_API_KEY = {k}\n(note the spaces, is that the problem?)", [k]


def sp_github():
    t = k_ghpat()
    return f"use this PAT for the release workflow for now: {t} (it expires in 7 days, I'll switch to an app later)", [t]


def sp_aws():
    i, s = k_aws_id(), k_aws_secret()
    return f"ok new keys from IAM: access key {i} secret {s}. update the ~/.aws/credentials on the build box", [i, s]


PROSE_SECRET = [sp_stripe, sp_slack, sp_db_password, sp_openai, sp_pasted_env, sp_github, sp_aws]


def s_prose(i):
    return PROSE_SECRET[i % len(PROSE_SECRET)]()


# ===========================================================================
# assembly
# ===========================================================================

FAMILIES = [
    # clean hard negatives (273)
    ("clean_vendor_doc_example", "clean", c_vendor_doc, 20),
    ("clean_placeholder_value", "clean", c_placeholder, 24),
    ("clean_encrypted_value", "clean", c_encrypted, 18),
    ("clean_secret_store_reference", "clean", c_secret_ref, 22),
    ("clean_option_documentation", "clean", c_option_docs, 20),
    ("clean_secret_word_identifier", "clean", c_identifiers, 24),
    ("clean_infra_identifier", "clean", c_infra, 22),
    ("clean_hash_digest_lockfile", "clean", c_hashes, 20),
    ("clean_encoded_blob", "clean", c_encoded, 18),
    ("clean_public_key_material", "clean", c_pubkeys, 18),
    ("clean_app_object_id", "clean", c_app_ids, 20),
    ("clean_crypto_address", "clean", c_crypto, 12),
    ("clean_masked_output", "clean", c_masked, 15),
    ("clean_session_prose", "clean", c_prose, 20),
    # secrets (147)
    ("secret_cloud_credentials", "secret", s_cloud, 13),
    ("secret_vcs_registry_token", "secret", s_vcs, 13),
    ("secret_saas_api_key", "secret", s_saas, 20),
    ("secret_connection_string", "secret", s_connstr, 10),
    ("secret_env_file", "secret", s_env_file, 11),
    ("secret_config_password", "secret", s_config_pw, 11),
    ("secret_cli_password", "secret", s_cli_pw, 10),
    ("secret_http_auth_header", "secret", s_http_auth, 9),
    ("secret_private_key_pem", "secret", s_private_key, 10),
    ("secret_jwt", "secret", s_jwt, 8),
    ("secret_key_pair", "secret", s_key_pair, 8),
    ("secret_url_embedded", "secret", s_url, 9),
    ("secret_code_constant", "secret", s_code_const, 8),
    ("secret_prose", "secret", s_prose, 7),
]


def build():
    cases = []
    for fam, expect, fn, n in FAMILIES:
        for i in range(n):
            text, secrets = fn(i)
            if expect == "clean":
                assert secrets == [], fam
            for s in secrets:
                assert s and s in text, (fam, i, s)
            w = choose_wrapper(text)
            text = pad(text, w)
            text, secrets = w(text, secrets)
            cases.append({"family": fam, "expect": expect, "text": text, "secrets": secrets})
    R.shuffle(cases)
    out = []
    for k, c in enumerate(cases, 1):
        out.append({"id": f"{PREFIX}-{k:04d}", "family": c["family"], "expect": c["expect"], "text": c["text"], "secrets": c["secrets"]})
    return out


def check(cases):
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert len(cases) == sum(n for *_, n in FAMILIES) == 420, len(cases)
    for c in cases:
        assert c["expect"] in ("clean", "secret"), c["id"]
        assert isinstance(c["text"], str) and c["text"], c["id"]
        if c["expect"] == "clean":
            assert c["secrets"] == [], c["id"]
        else:
            assert c["secrets"], c["id"]
            for s in c["secrets"]:
                assert isinstance(s, str) and len(s) >= 6, (c["id"], s)
                assert s in c["text"], (c["id"], c["family"], s)
    # every secret value of the secret cases is absent from all clean texts
    clean_blob = "\n".join(c["text"] for c in cases if c["expect"] == "clean")
    for c in cases:
        for s in c["secrets"]:
            assert s not in clean_blob, (c["id"], s)


def main():
    cases = build()
    check(cases)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    # re-read and re-check what was written
    with open(OUT, encoding="utf-8") as f:
        again = [json.loads(line) for line in f]
    check(again)
    fam, exp = {}, {}
    for c in again:
        fam[c["family"]] = fam.get(c["family"], 0) + 1
        exp[c["expect"]] = exp.get(c["expect"], 0) + 1
    for k in sorted(fam):
        print(f"{k:34} {fam[k]}")
    print(exp)
    print(f"wrote {len(again)} cases to {OUT}; all asserts passed")


if __name__ == "__main__":
    main()
