#!/usr/bin/env python3
"""Generate session_tuning8.jsonl: an eighth, blind test set for the secret-redaction engine.

Each line: {"id": "t8-NNNN", "family", "expect": "secret"|"clean", "text", "secrets": [...]}.
`secrets` lists every secret value of a secret case exactly as it appears in `text`
(a case counts as found only when none of them survives); it is empty for clean cases.

How this was written (blind).  The author read the product issue (issue 15) for the list
of precision and recall families, the first 40 lines of gen_session_tuning6.py for the
record format, and the field names the corpus report example reads.  The author did NOT
read the engine's source, its Rust tests, docs/REDACTION.md, or any other generator or
JSONL set, and did NOT run the engine on this output: nothing here was shaped to the
engine's rules.

420 cases: 70% clean, 30% secret.  Clean cases are hard negatives: session-shaped text
(tool results, pasted files, shell sessions, logs, diffs, stack traces, docs) full of secret
words and key-shaped strings that hold nothing secret.  Secret cases carry freshly generated
random values (per case, correct alphabet and length for each vendor); no value is copied
from public documentation.  Every case passes through one of several wrappers: raw, a
markdown fence, a user prompt, a shell transcript, JSON-escaped once (an agent tool
result), JSON-escaped twice (a record stored as a string inside another record), or a
small jsonl transcript (tool call + tool result).

Deterministic: fixed seed, stdlib only.  Run:  python3 gen_session_tuning8.py
"""
import base64
import json
import os
import random
import re
import string
import sys
import textwrap

SEED = 0x7E578
R = random.Random(SEED)

HEX = "0123456789abcdef"
UHEX = "0123456789ABCDEF"
DIG = string.digits
LOW = string.ascii_lowercase
UP = string.ascii_uppercase
ALNUM = string.ascii_letters + string.digits
LOWNUM = LOW + DIG
UPNUM = UP + DIG
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
B32 = UP + "234567"


# ---------------------------------------------------------------- random helpers
def rs(alpha, n):
    return "".join(R.choice(alpha) for _ in range(n))


def hexs(n):
    return rs(HEX, n)


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def b64b(n):
    return base64.b64encode(rbytes(n)).decode()


def b64u(n):
    return base64.urlsafe_b64encode(rbytes(n)).decode().rstrip("=")


def uuid4():
    h = list(hexs(32))
    h[12] = "4"
    h[16] = R.choice("89ab")
    h = "".join(h)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def pick(seq):
    return R.choice(seq)


def ri(a, b):
    return R.randint(a, b)


# Random parts of SECRET values must not look made up (no words a reader would take
# for a stand-in, no runs, no sequences).
BAD = re.compile(
    r"test|exampl|fake|dummy|sampl|demo|xxx|change|placeholder|invalid|redact|secret|"
    r"passw|token|your|here|1234|2345|3456|abcd|bcde|0000|(.)\1\1",
    re.I,
)


def rnd(alpha, n):
    while True:
        v = rs(alpha, n)
        if not BAD.search(v):
            return v


def rnd_b64(nbytes, url=False):
    while True:
        v = b64u(nbytes) if url else b64b(nbytes)
        if not BAD.search(v):
            return v


# ---------------------------------------------------------------- secret generators
def aws_id():
    return "AKIA" + rnd(B32, 16)


def aws_secret():
    return rnd(ALNUM + "+/", 40)


def gh_pat():
    return "ghp_" + rnd(ALNUM, 36)


def gh_fine():
    return "github_pat_11" + rnd(UPNUM, 20) + "_" + rnd(ALNUM, 59)


def gh_server():
    return "ghs_" + rnd(ALNUM, 36)


def gitlab_pat():
    return "glpat-" + rnd(ALNUM + "-_", 20)


def slack_bot():
    return f"xoxb-{ri(10**10, 10**12)}-{ri(10**12, 10**13)}-{rnd(ALNUM, 24)}"


def slack_hook():
    return f"https://hooks.slack.com/services/T{rnd(UPNUM, 8)}/B{rnd(UPNUM, 10)}/{rnd(ALNUM, 24)}"


def stripe_live():
    return "sk_live_51" + rnd(ALNUM, 96)


def stripe_restricted():
    return "rk_live_51" + rnd(ALNUM, 96)


def stripe_whsec():
    return "whsec_" + rnd(ALNUM, 32)


def openai_key():
    return "sk-proj-" + rnd(B64URL, 64) + "T3BlbkFJ" + rnd(B64URL, 64)


def anthropic_key():
    return "sk-ant-api03-" + rnd(B64URL, 93) + "AA"


def google_key():
    return "AIza" + rnd(B64URL, 35)


def twilio_sid():
    return "AC" + rnd(HEX, 32)


def twilio_token():
    return rnd(HEX, 32)


def sendgrid_key():
    return "SG." + rnd(B64URL, 22) + "." + rnd(B64URL, 43)


def mailgun_key():
    return "key-" + rnd(HEX, 32)


def npm_token():
    return "npm_" + rnd(ALNUM, 36)


def pypi_token():
    return "pypi-AgEIcHlwaS5vcmc" + rnd(B64URL, 140)


def discord_bot():
    uid = str(ri(10**17, 10**18 * 9))
    return base64.b64encode(uid.encode()).decode().rstrip("=") + "." + rnd(B64URL, 6) + "." + rnd(B64URL, 38)


def discord_hook():
    return f"https://discord.com/api/webhooks/{ri(10**17, 10**18 * 9)}/{rnd(B64URL, 68)}"


def telegram_bot():
    return f"{ri(10**8, 10**10 - 1)}:AA{rnd(B64URL, 33)}"


def shopify_token():
    return "shpat_" + rnd(HEX, 32)


def do_token():
    return "dop_v1_" + rnd(HEX, 64)


def vault_token():
    return "hvs.CAESI" + rnd(B64URL, 86)


def doppler_token():
    return "dp.st.prd." + rnd(ALNUM, 40)


def linear_key():
    return "lin_api_" + rnd(ALNUM, 40)


def notion_key():
    return "ntn_" + str(ri(10**10, 10**11 - 1)) + rnd(ALNUM, 35)


def hf_token():
    return "hf_" + rnd(string.ascii_letters, 34)


def datadog_api():
    return rnd(HEX, 32)


def datadog_app():
    return rnd(HEX, 40)


def cloudflare_token():
    return rnd(B64URL, 40)


def azure_storage_key():
    return rnd_b64(64)


def jwt_token(alg="HS256", extra=None):
    hdr = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode()).decode().rstrip("=")
    now = ri(1_730_000_000, 1_760_000_000)
    body = {"sub": str(ri(1000, 99999)), "iat": now, "exp": now + pick([900, 3600, 86400])}
    if extra:
        body.update(extra)
    pl = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    sig = rnd_b64(32 if alg.startswith("HS") else 256, url=True)
    return f"{hdr}.{pl}.{sig}"


def grafana_sa():
    return "glsa_" + rnd(ALNUM, 32) + "_" + rnd(HEX, 8)


def newrelic_key():
    return "NRAK-" + rnd(UPNUM, 27)


def postman_key():
    return "PMAK-" + rnd(HEX, 24) + "-" + rnd(HEX, 34)


def databricks_token():
    return "dapi" + rnd(HEX, 32)


def pulumi_token():
    return "pul-" + rnd(HEX, 40)


def atlassian_token():
    return "ATATT3xFfGF0" + rnd(B64URL, 170) + "=" + rnd(UHEX, 8)


def okta_token():
    return "00" + rnd(B64URL, 40)


def tfc_token():
    return rnd(ALNUM, 14) + ".atlasv1." + rnd(ALNUM, 67)


def planetscale_pw():
    return "pscale_pw_" + rnd(B64URL, 43)


def groq_key():
    return "gsk_" + rnd(ALNUM, 52)


def mapbox_secret():
    return "sk.eyJ1Ijoi" + rnd(ALNUM, 16) + "IiwiYSI6Im" + rnd(ALNUM, 20) + "In0." + rnd(B64URL, 22)


WORDS = ["quince", "marlow", "tundra", "saffron", "harbor", "cobalt", "juniper", "falcon",
         "meadow", "granite", "lantern", "velvet", "orchid", "cinder", "thistle", "walrus",
         "pepper", "basalt", "mosaic", "tarragon", "glacier", "nimbus", "oyster", "rampart"]


def password(urlsafe=False):
    style = R.randrange(5)
    if style == 0:
        alpha = ALNUM + ("-_.~" if urlsafe else "!#%^*-_=+.")
        while True:
            v = rnd(alpha, ri(14, 22))
            if any(c.isdigit() for c in v) and any(c.isupper() for c in v) and any(c.islower() for c in v):
                return v
    if style == 1:
        a, b = R.sample(WORDS, 2)
        sep = pick(["-", ".", "_"] if urlsafe else ["-", ".", "_", "!", "#"])
        return a.capitalize() + sep + b + sep + str(ri(10, 9999)) + ("" if urlsafe else pick(["", "!", "$", "%"]))
    if style == 2:
        return rnd(ALNUM, ri(20, 32))
    if style == 3:
        return rnd(HEX, 32)
    v = rnd_b64(18, url=urlsafe)
    return v


def rsa_pem_body():
    """A PKCS#8 RSA-2048 private key body (random after the fixed DER prefix), 64-col lines."""
    raw = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQ" + rnd_b64(1180)
    raw = raw[:1620]
    raw = raw[:-2] + "=="
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


def ec_pem_body():
    raw = "MHcCAQEEI" + rnd_b64(26)[:35] + "oAoGCCqGSM49AwEHoUQDQgAE" + rnd_b64(64)[:84] + "=="
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


def openssh_body():
    raw = ("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
           "QyNTUxOQAAACB" + rnd_b64(300)[:330])
    raw = raw[:-1] + "="
    return [raw[i:i + 70] for i in range(0, len(raw), 70)]


# ---------------------------------------------------------------- clean random helpers
def sha512i():
    return "sha512-" + b64b(64)


def h1():
    return "h1:" + b64b(32)


def digest():
    return "sha256:" + hexs(64)


def gitsha():
    return hexs(40)


def short(s, n=7):
    return s[:n]


def ts(day=None):
    d = day or ri(1, 28)
    return f"2025-{ri(1, 12):02d}-{d:02d}T{ri(0, 23):02d}:{ri(0, 59):02d}:{ri(0, 59):02d}.{ri(0, 999):03d}Z"


def ip():
    return f"10.{ri(0, 255)}.{ri(0, 255)}.{ri(1, 254)}"


def toolu():
    return "toolu_01" + rs(ALNUM, 22)


def callid():
    return "call_" + rs(ALNUM, 24)


def msgid():
    return "msg_01" + rs(ALNUM, 22)


def reqid():
    return "req_011C" + rs(ALNUM, 20)


ORGS = ["fernhill", "kestrel", "larkspur", "tidewater", "brightline", "corvid", "halyard",
        "oakmont", "quillon", "saltmarsh", "verdant", "ironbark"]
SERVICES = ["billing", "ledger", "orders", "notifier", "ingest", "search", "auth", "reports",
            "payments", "inventory", "webhooks", "scheduler", "catalog", "fulfilment"]
PEOPLE = ["priya", "tomasz", "amara", "jonas", "wei", "lucia", "dmitri", "keiko", "omar", "freya"]
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "us-west-2"]
DBUSERS = ["app", "svc_billing", "ledger_rw", "etl_loader", "api", "reporting", "orders_app"]


def org():
    return pick(ORGS)


def svc():
    return pick(SERVICES)


def host(kind="db"):
    o = org()
    return pick([f"{kind}-{ri(1, 4)}.{o}.internal", f"{kind}.prod.{o}.net",
                 f"{o}-{kind}.c{rs(LOWNUM, 8)}.{pick(REGIONS)}.rds.amazonaws.com",
                 f"{kind}{ri(1, 9)}.{o}-corp.com"])


def T(_tpl, **kw):
    s = textwrap.dedent(_tpl)
    if s.startswith("\n"):
        s = s[1:]
    s = s.rstrip("\n")
    for k, v in kw.items():
        s = s.replace("@@" + k + "@@", str(v))
    left = re.findall(r"@@\w+@@", s)
    assert not left, left
    return s


# ---------------------------------------------------------------- wrappers
PROMPTS = [
    "can you take a look at this?", "why does this fail on CI?", "clean this up please",
    "what does this do?", "is anything wrong here?", "review this before I merge",
    "the deploy broke after this change, any idea?", "explain this output",
    "help me make sense of this", "port this to the new setup", "summarise what changed",
]
INTROS_FILE = ["", "Here's the file:", "Current version:", "This is what I have:", "Relevant part:"]
INTROS_OUT = ["", "Output:", "I ran it and got:", "Pasting the log:", "Relevant part:"]
PASTES = ["/tmp/paste.txt", "/tmp/session-notes.md", "/tmp/output.log", "/tmp/clipboard.txt"]
SHELLP = ["$ ", "% ", "dev@ws-12:~/src/app$ ", "(venv) $ ", "root@build-7f9c:/workspace# ", "~/repo main* $ "]


def w_raw(t, m):
    return t


def w_fence(t, m):
    intro = pick(INTROS_OUT if m.get("cmd") else INTROS_FILE)
    body = f"```{m.get('lang', '')}\n{t}\n```"
    return f"{intro}\n{body}" if intro else body


def w_prompt(t, m):
    return f"{pick(PROMPTS)}\n\n{t}"


def w_shell(t, m):
    cmd = m.get("cmd") or ("cat " + m["path"])
    return f"{pick(SHELLP)}{cmd}\n{t}"


def w_json1(t, m):
    k = R.randrange(4)
    if k == 0:
        rec = {"type": "tool_result", "tool_use_id": toolu(), "content": t}
    elif k == 1:
        rec = {"type": "function_call_output", "call_id": callid(), "output": t}
    elif k == 2:
        rec = {"role": "tool", "name": pick(["read_file", "run_shell", "bash", "view"]), "content": t,
               "ts": ts()}
    else:
        rec = {"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": toolu(), "type": "tool_result", "content": t, "is_error": False}]},
            "uuid": uuid4(), "timestamp": ts()}
    return json.dumps(rec)


def w_json2(t, m):
    inner = json.dumps({"role": "user", "content": [{"type": "tool_result", "tool_use_id": toolu(),
                                                     "content": t}]})
    k = R.randrange(3)
    if k == 0:
        return json.dumps({"event": "message.stored", "session": uuid4(), "payload": inner})
    if k == 1:
        return f"{ts()} DEBUG agent.store: persisted record " + json.dumps({"raw": inner})
    return f" {ri(1000, 99999)} | " + json.dumps({"body": inner}) + f" | {ts()[:19].replace('T', ' ')}+00"


def w_jsonl(t, m):
    tid = toolu()
    if m.get("cmd"):
        call = {"name": "Bash", "input": {"command": m["cmd"]}}
    elif m.get("path"):
        call = {"name": "Read", "input": {"file_path": "/workspace/" + m["path"].lstrip("~/")}}
    else:
        call = {"name": "Bash", "input": {"command": "cat " + pick(PASTES)}}
    a = {"type": "assistant", "uuid": uuid4(), "message": {"id": msgid(), "role": "assistant", "content": [
        {"type": "tool_use", "id": tid, **call}]}}
    u = {"type": "user", "uuid": uuid4(), "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": tid, "content": t}]}}
    return json.dumps(a) + "\n" + json.dumps(u)


WRAPPERS = {"raw": w_raw, "fence": w_fence, "prompt": w_prompt, "shell": w_shell,
            "json1": w_json1, "json2": w_json2, "jsonl": w_jsonl}
WRAP_WEIGHTS = [("raw", 22), ("fence", 16), ("prompt", 10), ("shell", 12), ("json1", 20),
                ("json2", 8), ("jsonl", 12)]


def choose_wrapper(allowed=None, m=None):
    m = m or {}
    opts = [(k, w) for k, w in WRAP_WEIGHTS if (allowed is None or k in allowed)
            and not (k == "shell" and not (m.get("cmd") or m.get("path")))]
    tot = sum(w for _, w in opts)
    x = R.uniform(0, tot)
    for k, w in opts:
        x -= w
        if x <= 0:
            return k
    return opts[-1][0]


CLEAN = {}
SECRET = {}


def clean(family):
    def deco(fn):
        CLEAN.setdefault(family, []).append(fn)
        return fn
    return deco


def secret(family):
    def deco(fn):
        SECRET.setdefault(family, []).append(fn)
        return fn
    return deco


# ======================================================================= CLEAN FAMILIES
# ---------------------------------------------------------------- config_templated
@clean("config_templated")
def c_grafana():
    return dict(lang="ini", path="grafana/grafana.ini", text=T("""
        [server]
        root_url = https://grafana.@@o@@.io/
        [database]
        type = postgres
        host = @@h@@:5432
        name = grafana
        user = grafana
        # the password is read from the environment at start-up
        password = $__env{GF_DATABASE_PASSWORD}
        [security]
        admin_user = admin
        admin_password = $__file{/run/secrets/grafana_admin_password}
        secret_key = $__file{/run/secrets/grafana_secret_key}
        disable_gravatar = true
        [auth.generic_oauth]
        enabled = true
        client_id = $__env{GF_OAUTH_CLIENT_ID}
        client_secret = $__vault{kv:secret/grafana/oauth:client_secret}
        scopes = openid email profile
        """, o=org(), h=host()))


@clean("config_templated")
def c_supervisor():
    p = svc()
    return dict(lang="ini", path="deploy/supervisord.conf", text=T("""
        [supervisord]
        nodaemon=true
        logfile=/var/log/supervisor/supervisord.log

        [inet_http_server]
        port=127.0.0.1:9001
        username=ops
        password=%(ENV_SUPERVISOR_HTTP_PASSWORD)s

        [program:@@p@@-worker]
        command=/opt/@@p@@/bin/worker --queue=@@p@@
        environment=API_TOKEN="%(ENV_@@P@@_API_TOKEN)s",DB_PASS="%(ENV_@@P@@_DB_PASS)s",HOME="/home/@@p@@"
        autorestart=true
        stopsignal=TERM
        """, p=p, P=p.upper()))


@clean("config_templated")
def c_telegraf():
    return dict(lang="toml", path="telegraf/telegraf.conf", text=T("""
        [agent]
          interval = "10s"
          flush_interval = "@@f@@s"

        [[outputs.influxdb_v2]]
          urls = ["https://influx.@@o@@.internal:8086"]
          ## Token for authentication; never commit it, it comes from the unit's EnvironmentFile
          token = "${INFLUX_TOKEN}"
          organization = "@@o@@"
          bucket = "telegraf"

        [[inputs.postgresql]]
          address = "host=@@h@@ user=telegraf password=${PG_MONITOR_PASSWORD} sslmode=require"
          databases = ["app"]

        [[inputs.http]]
          urls = ["https://status.@@o@@.io/metrics"]
          bearer_token = "/etc/telegraf/status.token"
        """, f=pick([10, 15, 30]), o=org(), h=host()))


@clean("config_templated")
def c_helm():
    s = svc()
    return dict(lang="yaml", path=f"charts/{s}/templates/deployment.yaml", text=T("""
        env:
          - name: DATABASE_URL
            value: "postgres://{{ .Values.db.user }}:$(DB_PASSWORD)@{{ .Values.db.host }}:5432/{{ .Values.db.name }}"
          - name: DB_PASSWORD
            valueFrom:
              secretKeyRef:
                name: {{ .Values.auth.existingSecret | default (printf "%s-db" (include "@@s@@.fullname" .)) }}
                key: {{ .Values.auth.secretKeys.passwordKey | default "password" }}
          {{- if .Values.stripe.enabled }}
          - name: STRIPE_SECRET_KEY
            valueFrom:
              secretKeyRef:
                name: {{ .Values.stripe.secretName }}
                key: secret-key
          {{- end }}
          - name: SESSION_SECRET
            value: {{ required "session.secret is required" .Values.session.secret | quote }}
        """, s=s))


@clean("config_templated")
def c_helm_values():
    return dict(lang="yaml", path="values.yaml", text=T("""
        ## @param auth.password Password for the custom user. Ignored if auth.existingSecret is set.
        ## @param auth.existingSecret Name of an existing secret holding the credentials
        auth:
          enablePostgresUser: true
          postgresPassword: ""
          username: @@u@@
          password: ""
          database: @@s@@
          existingSecret: "@@s@@-postgresql-credentials"
          secretKeys:
            adminPasswordKey: postgres-password
            userPasswordKey: password
            replicationPasswordKey: replication-password
        metrics:
          enabled: @@b@@
        """, u=pick(DBUSERS), s=svc(), b=pick(["true", "false"])))


@clean("config_templated")
def c_rails_db():
    return dict(lang="yaml", path="config/database.yml", text=T("""
        default: &default
          adapter: postgresql
          encoding: unicode
          pool: <%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>
          username: <%= ENV["DATABASE_USERNAME"] %>
          password: <%= ENV["DATABASE_PASSWORD"] %>
          host: <%= ENV.fetch("DATABASE_HOST", "localhost") %>

        development:
          <<: *default
          database: @@s@@_development

        production:
          <<: *default
          database: @@s@@_production
          password: <%= Rails.application.credentials.dig(:database, :password) %>
        """, s=svc()))


@clean("config_templated")
def c_azure_pipelines():
    return dict(lang="yaml", path="azure-pipelines.yml", text=T("""
        variables:
          - group: @@s@@-prod-secrets
          - name: registry
            value: @@o@@cr.azurecr.io

        steps:
          - task: AzureKeyVault@2
            inputs:
              azureSubscription: "@@o@@-prod-connection"
              KeyVaultName: "kv-@@o@@-prod"
              SecretsFilter: "sql-admin-password,storage-connection-string"
          - script: |
              echo "$(registryPassword)" | docker login $(registry) -u $(registryUser) --password-stdin
              sqlcmd -S $(sqlServer) -U sqladmin -P "$(sql-admin-password)" -i migrate.sql
            env:
              SYSTEM_ACCESSTOKEN: $(System.AccessToken)
            displayName: Login and migrate
        """, s=svc(), o=org()))


@clean("config_templated")
def c_gha():
    return dict(lang="yaml", path=".github/workflows/release.yml", text=T("""
        jobs:
          publish:
            runs-on: ubuntu-latest
            permissions:
              id-token: write
              contents: read
            steps:
              - uses: actions/checkout@@@ck@@
              - uses: actions/setup-node@v4
                with:
                  node-version: 20
                  registry-url: https://registry.npmjs.org
              - run: npm publish --provenance
                env:
                  NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
              - uses: docker/login-action@v3
                with:
                  username: ${{ vars.DOCKERHUB_USERNAME }}
                  password: ${{ secrets.DOCKERHUB_TOKEN }}
              - name: Notify
                run: curl -sf -X POST -H "Authorization: Bearer ${{ secrets.DEPLOY_HOOK_TOKEN }}" "$HOOK_URL"
                env:
                  HOOK_URL: ${{ secrets.DEPLOY_HOOK_URL }}
        """, ck=pick(["v4", gitsha()])))


@clean("config_templated")
def c_gitlab_ci():
    return dict(lang="yaml", path=".gitlab-ci.yml", text=T("""
        variables:
          POSTGRES_PASSWORD: $CI_POSTGRES_PASSWORD
          DATABASE_URL: "postgres://runner:${CI_POSTGRES_PASSWORD}@postgres:5432/ci"

        build:
          stage: build
          script:
            - echo "$CI_REGISTRY_PASSWORD" | docker login -u "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"
            - docker build -t "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA" .
            - 'curl --header "JOB-TOKEN: $CI_JOB_TOKEN" --upload-file dist/app.tgz "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/packages/generic/app/${CI_COMMIT_TAG}/app.tgz"'
          id_tokens:
            VAULT_ID_TOKEN:
              aud: https://vault.@@o@@.internal
          secrets:
            DEPLOY_KEY:
              vault: deploy/@@s@@/ssh_key@ops
              file: true
        """, o=org(), s=svc()))


@clean("config_templated")
def c_spring():
    return dict(lang="yaml", path="src/main/resources/application-prod.yml", text=T("""
        spring:
          datasource:
            url: jdbc:postgresql://${DB_HOST:localhost}:5432/@@s@@
            username: ${DB_USER:@@s@@}
            password: ${DB_PASSWORD:}
          cloud:
            vault:
              uri: https://vault.@@o@@.internal:8200
              authentication: KUBERNETES
              kv:
                backend: secret
                default-context: @@s@@
        app:
          jwt:
            secret: ${JWT_SECRET}
            expiration: 3600
          mail:
            password: ${vault.mail.password}
        """, s=svc(), o=org()))


@clean("config_templated")
def c_compose():
    return dict(lang="yaml", path="docker-compose.yml", text=T("""
        services:
          db:
            image: postgres:@@v@@
            environment:
              POSTGRES_USER: @@u@@
              POSTGRES_PASSWORD_FILE: /run/secrets/db_password
            secrets:
              - db_password
          cache:
            image: redis:7-alpine
            command: ["redis-server", "--requirepass", "${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}"]
          api:
            build: .
            environment:
              DATABASE_URL: postgres://@@u@@:${DB_PASSWORD}@db:5432/app
              SECRET_KEY_BASE: ${SECRET_KEY_BASE}
        secrets:
          db_password:
            file: ./secrets/db_password.txt
        """, v=pick(["16", "15.6", "17-alpine"]), u=pick(DBUSERS)))


@clean("config_templated")
def c_nomad():
    s = svc()
    return dict(lang="hcl", path=f"jobs/{s}.nomad.hcl", text=T("""
        task "@@s@@" {
          driver = "docker"
          vault {
            policies = ["@@s@@-read"]
          }
          template {
            destination = "secrets/app.env"
            env         = true
            data        = <<EOT
        {{ with secret "kv/data/@@s@@/prod" }}
        DB_PASSWORD={{ .Data.data.db_password }}
        STRIPE_KEY={{ .Data.data.stripe_key }}
        {{ end }}
        {{ with secret "database/creds/@@s@@-rw" }}
        PGUSER={{ .Data.username }}
        PGPASSWORD={{ .Data.password }}
        {{ end }}
        EOT
          }
        }
        """, s=s))


@clean("config_templated")
def c_concourse():
    return dict(lang="yaml", path="ci/pipeline.yml", text=T("""
        resources:
          - name: source
            type: git
            source:
              uri: git@github.com:@@o@@/@@s@@.git
              private_key: ((github-deploy-key.private_key))
          - name: image
            type: registry-image
            source:
              repository: @@o@@/@@s@@
              username: ((dockerhub.username))
              password: ((dockerhub.password))
        jobs:
          - name: deploy
            plan:
              - get: source
              - task: migrate
                params:
                  PGPASSWORD: ((prod-db.password))
                  AWS_SECRET_ACCESS_KEY: ((aws.secret_access_key))
        """, o=org(), s=svc()))


@clean("config_templated")
def c_logstash():
    return dict(lang="", path="pipeline/logstash.conf", text=T("""
        input {
          beats { port => 5044 }
        }
        output {
          elasticsearch {
            hosts    => ["https://es-@@n@@.@@o@@.internal:9200"]
            user     => "logstash_writer"
            password => "${LOGSTASH_WRITER_PWD}"
            ssl_certificate_authorities => ["/etc/logstash/certs/ca.crt"]
            api_key  => "${ES_API_KEY}"
          }
        }
        # Values come from the Logstash keystore:
        #   bin/logstash-keystore add LOGSTASH_WRITER_PWD
        """, n=ri(1, 3), o=org()))


@clean("config_templated")
def c_vector():
    return dict(lang="yaml", path="vector/vector.yaml", text=T("""
        sinks:
          datadog_logs:
            type: datadog_logs
            inputs: [parse_app]
            default_api_key: "${DD_API_KEY}"
            site: datadoghq.eu
          es:
            type: elasticsearch
            inputs: [parse_app]
            endpoints: ["https://es.@@o@@.internal:9200"]
            auth:
              strategy: basic
              user: vector
              password: "${ELASTIC_PASSWORD:?}"
        secret:
          backend_1:
            type: exec
            command: ["/usr/local/bin/fetch-secret", "--from", "aws-sm"]
        """, o=org()))


@clean("config_templated")
def c_caddy():
    return dict(lang="", path="Caddyfile", text=T("""
        {
            email ops@@@o@@.io
            acme_dns cloudflare {env.CF_API_TOKEN}
        }

        admin.@@o@@.io {
            basic_auth /* {
                {$ADMIN_USER} {$ADMIN_PASSWORD_HASH}
            }
            reverse_proxy 127.0.0.1:@@p@@
        }

        hooks.@@o@@.io {
            @bad not header X-Hook-Secret {env.HOOK_SECRET}
            respond @bad 403
            reverse_proxy 127.0.0.1:9090
        }
        """, o=org(), p=pick([3000, 8080, 8000])))


@clean("config_templated")
def c_keycloak():
    return dict(lang="properties", path="conf/keycloak.conf", text=T("""
        # Database
        db=postgres
        db-username=keycloak
        db-password=${KC_DB_PASSWORD}
        db-url=jdbc:postgresql://@@h@@/keycloak

        # HTTPS; the keystore password is injected by the operator
        https-key-store-file=/opt/keycloak/conf/server.keystore
        https-key-store-password=${KC_HTTPS_KEY_STORE_PASSWORD}

        # Vault SPI: ${vault.smtp_password} in realm settings resolves from these files
        vault-dir=/opt/keycloak/vault
        """, h=host()))


@clean("config_templated")
def c_airflow():
    return dict(lang="ini", path="airflow/airflow.cfg", text=T("""
        [core]
        executor = CeleryExecutor
        fernet_key_cmd = cat /run/secrets/airflow_fernet_key

        [database]
        sql_alchemy_conn_secret = airflow/connections/metadata_db

        [webserver]
        secret_key_cmd = /usr/local/bin/get-secret airflow-webserver-key

        [secrets]
        backend = airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend
        backend_kwargs = {"connections_prefix": "airflow/connections", "variables_prefix": "airflow/variables", "region_name": "@@r@@"}

        [smtp]
        smtp_user = airflow@@@o@@.io
        smtp_password =
        """, r=pick(REGIONS), o=org()))


@clean("config_templated")
def c_serverless():
    s = svc()
    return dict(lang="yaml", path="serverless.yml", text=T("""
        service: @@s@@-api
        provider:
          name: aws
          runtime: nodejs20.x
          region: @@r@@
          environment:
            STRIPE_SECRET_KEY: ${ssm:/@@s@@/prod/stripe_secret_key}
            DB_PASSWORD: ${ssm:/aws/reference/secretsmanager/@@s@@/prod/db~true}
            SENTRY_DSN: ${env:SENTRY_DSN, ''}
            JWT_SECRET: ${param:jwtSecret}
          iam:
            role:
              statements:
                - Effect: Allow
                  Action: [secretsmanager:GetSecretValue]
                  Resource: arn:aws:secretsmanager:@@r@@:@@acct@@:secret:@@s@@/prod/*
        """, s=s, r=pick(REGIONS), acct=ri(10**11, 10**12 - 1)))


@clean("config_templated")
def c_maven():
    return dict(lang="xml", path="~/.m2/settings.xml", text=T("""
        <settings>
          <servers>
            <server>
              <id>@@o@@-releases</id>
              <username>${env.NEXUS_USERNAME}</username>
              <password>${env.NEXUS_PASSWORD}</password>
            </server>
            <server>
              <id>ossrh</id>
              <username>${env.OSSRH_USERNAME}</username>
              <!-- encrypted with mvn -ep; see settings-security.xml -->
              <password>${env.OSSRH_TOKEN}</password>
            </server>
          </servers>
          <profiles><profile><id>gpg</id><properties>
            <gpg.passphrase>${env.GPG_PASSPHRASE}</gpg.passphrase>
          </properties></profile></profiles>
        </settings>
        """, o=org()))


@clean("config_templated")
def c_npmrc():
    o = org()
    return dict(lang="", path=pick([".npmrc", ".yarnrc.yml"]), text=pick([T("""
        @@@o@@:registry=https://npm.pkg.github.com
        //npm.pkg.github.com/:_authToken=${GITHUB_PACKAGES_TOKEN}
        //registry.npmjs.org/:_authToken=${NPM_TOKEN}
        always-auth=true
        """, o=o), T("""
        nodeLinker: node-modules
        npmScopes:
          @@o@@:
            npmRegistryServer: "https://npm.@@o@@.internal"
            npmAuthToken: "${NPM_INTERNAL_TOKEN-}"
        npmRegistries:
          "https://registry.yarnpkg.com":
            npmAuthToken: "${NPM_AUTH_TOKEN}"
        """, o=o)]))


@clean("config_templated")
def c_kafka():
    return dict(lang="properties", path="config/client.properties", text=T("""
        bootstrap.servers=kafka-@@n@@.@@o@@.internal:9093
        security.protocol=SASL_SSL
        sasl.mechanism=SCRAM-SHA-512
        config.providers=file
        config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
        sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
            username="${file:/opt/kafka/secrets/client.properties:username}" \\
            password="${file:/opt/kafka/secrets/client.properties:password}";
        ssl.truststore.location=/opt/kafka/certs/truststore.jks
        ssl.truststore.password=${file:/opt/kafka/secrets/client.properties:truststore.password}
        """, n=ri(0, 2), o=org()))


@clean("config_templated")
def c_prisma_env():
    return dict(lang="", path=".env.production.tpl", text=T("""
        # rendered by `op inject -i .env.production.tpl -o .env.production`
        DATABASE_URL="postgresql://@@u@@:{{ op://Production/@@s@@-db/password }}@@@h@@:5432/@@s@@?sslmode=require"
        SHADOW_DATABASE_URL=
        NEXTAUTH_SECRET="{{ op://Production/@@s@@-web/nextauth-secret }}"
        GITHUB_CLIENT_ID="{{ op://Production/@@s@@-oauth/client-id }}"
        GITHUB_CLIENT_SECRET="{{ op://Production/@@s@@-oauth/client-secret }}"
        RESEND_API_KEY=op://Production/resend/credential
        """, u=pick(DBUSERS), s=svc(), h=host()))


@clean("config_templated")
def c_ansible():
    return dict(lang="yaml", path="playbooks/db.yml", text=T("""
        - hosts: dbservers
          vars:
            pg_app_password: "{{ vault_pg_app_password }}"
            api_token: "{{ lookup('community.hashi_vault.hashi_vault', 'secret=kv/data/@@s@@:token') }}"
            smtp_pass: "{{ lookup('env', 'SMTP_PASS') | default(omit) }}"
          tasks:
            - name: Create app role
              community.postgresql.postgresql_user:
                name: @@u@@
                password: "{{ pg_app_password }}"
              no_log: true
        """, s=svc(), u=pick(DBUSERS)))


@clean("config_templated")
def c_terraform_vars():
    return dict(lang="hcl", path="modules/rds/main.tf", text=T("""
        variable "master_password" {
          description = "Master password for the cluster. Leave null to let RDS manage it in Secrets Manager."
          type        = string
          default     = null
          sensitive   = true
        }

        resource "random_password" "app" {
          length  = 32
          special = false
        }

        resource "aws_db_instance" "this" {
          identifier                  = "@@s@@-prod"
          username                    = "dbadmin"
          password                    = var.master_password
          manage_master_user_password = var.master_password == null ? true : null
        }

        output "app_password" {
          value     = random_password.app.result
          sensitive = true
        }
        """, s=svc()))


@clean("config_templated")
def c_mattermost():
    return dict(lang="json", path="config/config.json", text=T("""
        {
          "SqlSettings": {
            "DriverName": "postgres",
            "DataSource": "",
            "AtRestEncryptKey": "",
            "DataSourceReplicas": []
          },
          "EmailSettings": {
            "SMTPUsername": "",
            "SMTPPassword": "",
            "SMTPServer": "smtp.@@o@@.io",
            "SMTPPort": "587"
          },
          "FileSettings": {
            "AmazonS3AccessKeyId": "",
            "AmazonS3SecretAccessKey": "",
            "AmazonS3Bucket": "@@o@@-mattermost-files"
          }
        }
        """, o=org()))


@clean("config_templated")
def c_gitea():
    return dict(lang="ini", path="gitea/app.ini", text=T("""
        [security]
        INSTALL_LOCK = true
        SECRET_KEY =
        SECRET_KEY_URI = file:/etc/gitea/secret_key
        INTERNAL_TOKEN_URI = file:/etc/gitea/internal_token
        PASSWORD_HASH_ALGO = argon2

        [oauth2]
        JWT_SECRET_URI = file:/etc/gitea/jwt_secret

        [database]
        DB_TYPE = postgres
        HOST = @@h@@:5432
        USER = gitea
        PASSWD = `${GITEA__database__PASSWD}`
        """, h=host()))


@clean("config_templated")
def c_jcasc():
    return dict(lang="yaml", path="casc/jenkins.yaml", text=T("""
        jenkins:
          securityRealm:
            local:
              allowsSignup: false
              users:
                - id: admin
                  password: ${JENKINS_ADMIN_PASSWORD}
        credentials:
          system:
            domainCredentials:
              - credentials:
                  - string:
                      id: github-token
                      scope: GLOBAL
                      secret: ${GITHUB_TOKEN}
                  - basicSSHUserPrivateKey:
                      id: deploy-key
                      username: git
                      privateKeySource:
                        directEntry:
                          privateKey: ${readFile:/run/secrets/deploy_key}
        """))


# ---------------------------------------------------------------- config_reference_docs
@clean("config_reference_docs")
def d_redis_conf():
    return dict(lang="", path="redis.conf", text=T("""
        ################################## SECURITY ###################################

        # Warning: since Redis is pretty fast, an outside user can try up to
        # 1 million passwords per second against a modern box. This means that you
        # should use very strong passwords, otherwise they will be very easy to break.
        # Note that because the password is really a shared secret between the client
        # and the server, and should not be memorized by any human, the password
        # can be easily a long string from /dev/urandom or whatever.
        #
        # requirepass foobared

        # ACL users are defined in an external file:
        # aclfile /etc/redis/users.acl
        """))


@clean("config_reference_docs")
def d_pgpass():
    return dict(lang="markdown", path="docs/database.md", text=T("""
        ## Connecting without typing the password

        libpq reads `~/.pgpass` (or the file named by `PGPASSFILE`). Each line has the form

            hostname:port:database:username:password

        Any of the first four fields may be `*`. The file must be `chmod 0600`, otherwise
        it is ignored with the warning `password file "..." has group or world access`.
        For our @@s@@ service the operator mounts the file at `/var/run/pgpass`; do not
        put the password in `PGPASSWORD`, which is visible in `/proc/<pid>/environ`.

        | Setting            | Where it comes from                      |
        |--------------------|------------------------------------------|
        | `PGHOST`           | ConfigMap `@@s@@-db`                       |
        | `PGPASSFILE`       | fixed, `/var/run/pgpass`                  |
        | password rotation  | Vault database engine, TTL @@ttl@@h           |
        """, s=svc(), ttl=pick([24, 72, 168])))


@clean("config_reference_docs")
def d_oauth2_proxy():
    return dict(lang="markdown", path="docs/oauth2-proxy.md", text=T("""
        | Option | Type | Description | Default |
        | ------ | ---- | ----------- | ------- |
        | `--client-id` | string | the OAuth Client ID, e.g. `123456.apps.googleusercontent.com` | |
        | `--client-secret` | string | the OAuth Client Secret | |
        | `--client-secret-file` | string | the file with OAuth Client Secret | |
        | `--cookie-secret` | string | the seed string for secure cookies (optionally base64 encoded) | |
        | `--cookie-secret-file` | string | same, read from a file | |
        | `--htpasswd-file` | string | additionally authenticate against a htpasswd file. Entries must be created with `htpasswd -B` for bcrypt encryption | |

        Generate a cookie secret with:

            dd if=/dev/urandom bs=32 count=1 2>/dev/null | base64 | tr -d -- '\\n' | tr -- '+/' '-_'; echo
        """))


@clean("config_reference_docs")
def d_vault_agent():
    return dict(lang="hcl", path="vault-agent.hcl", text=T("""
        # auto_auth: the agent logs in with AppRole. role_id and secret_id are
        # delivered as files by the provisioning step; the secret_id file is
        # deleted after the first read.
        auto_auth {
          method "approle" {
            config = {
              role_id_file_path                   = "/etc/vault/role-id"
              secret_id_file_path                 = "/etc/vault/secret-id"
              remove_secret_id_file_after_reading = true
            }
          }
          sink "file" {
            config = { path = "/run/vault/token", mode = 0640 }
          }
        }
        template {
          source      = "/etc/vault/templates/@@s@@.ctmpl"
          destination = "/run/@@s@@/config.env"
        }
        """, s=svc()))


@clean("config_reference_docs")
def d_aws_config():
    return dict(lang="ini", path="~/.aws/config", text=T("""
        # No long-lived keys on laptops: SSO for humans, credential_process for the
        # legacy batch profile (it shells out to the password manager).
        [sso-session @@o@@]
        sso_start_url = https://@@o@@.awsapps.com/start
        sso_region = @@r@@
        sso_registration_scopes = sso:account:access

        [profile @@o@@-prod]
        sso_session = @@o@@
        sso_account_id = @@acct@@
        sso_role_name = PowerUserAccess
        region = @@r@@

        [profile batch]
        credential_process = /usr/local/bin/aws-vault export --format=json batch
        role_arn = arn:aws:iam::@@acct@@:role/batch-runner
        source_profile = @@o@@-prod
        """, o=org(), r=pick(REGIONS), acct=ri(10**11, 10**12 - 1)))


@clean("config_reference_docs")
def d_prom_auth():
    return dict(lang="yaml", path="prometheus.yml", text=T("""
        scrape_configs:
          - job_name: @@s@@
            scheme: https
            # Sets the `Authorization` header on every scrape request with the
            # configured username and password. password and password_file are
            # mutually exclusive.
            basic_auth:
              username: prometheus
              password_file: /etc/prometheus/secrets/@@s@@-scrape
            static_configs:
              - targets: ["@@s@@.@@o@@.internal:9102"]
          - job_name: federate
            authorization:
              type: Bearer
              credentials_file: /etc/prometheus/secrets/federation-token
        """, s=svc(), o=org()))


@clean("config_reference_docs")
def d_k8s_secret_types():
    return dict(lang="markdown", text=T("""
        Kubernetes provides several built-in types for some common usage scenarios:

        | Built-in Type                         | Usage                                   |
        |---------------------------------------|-----------------------------------------|
        | `Opaque`                              | arbitrary user-defined data             |
        | `kubernetes.io/service-account-token` | ServiceAccount token                    |
        | `kubernetes.io/dockerconfigjson`      | serialized `~/.docker/config.json` file |
        | `kubernetes.io/basic-auth`            | credentials for basic authentication    |
        | `kubernetes.io/ssh-auth`              | credentials for SSH authentication      |
        | `kubernetes.io/tls`                   | data for a TLS client or server         |

        When using the `kubernetes.io/basic-auth` type, the `data` field must contain one
        of the keys `username` or `password`. Both values are base64 encoded strings;
        use `stringData` to provide them in clear text at creation time.
        """))


@clean("config_reference_docs")
def d_docker_creds():
    return dict(lang="json", path="~/.docker/config.json", text=T("""
        {
          "auths": {
            "https://index.docker.io/v1/": {},
            "ghcr.io": {},
            "@@acct@@.dkr.ecr.@@r@@.amazonaws.com": {}
          },
          "credsStore": "@@store@@",
          "credHelpers": {
            "@@acct@@.dkr.ecr.@@r@@.amazonaws.com": "ecr-login",
            "europe-docker.pkg.dev": "gcloud"
          }
        }
        """, acct=ri(10**11, 10**12 - 1), r=pick(REGIONS), store=pick(["desktop", "osxkeychain", "pass", "secretservice"])))


@clean("config_reference_docs")
def d_homeassistant():
    return dict(lang="yaml", path="configuration.yaml", text=T("""
        # Values after !secret are looked up in secrets.yaml next to this file,
        # which is excluded from the backup we push to GitHub.
        http:
          ssl_certificate: /ssl/fullchain.pem
          ssl_key: /ssl/privkey.pem
        mqtt:
          broker: mqtt.home.arpa
          username: !secret mqtt_username
          password: !secret mqtt_password
        notify:
          - platform: telegram
            chat_id: !secret telegram_chat_id
        weather:
          - platform: openweathermap
            api_key: !secret owm_api_key
        """))


@clean("config_reference_docs")
def d_nginx_auth():
    return dict(lang="nginx", path="nginx/conf.d/admin.conf", text=T("""
        # auth_basic_user_file: the file keeps user names and passwords in the format
        #     name1:password1
        #     name2:password2:comment
        # Supported password types: crypt(), $apr1$ (MD5), {PLAIN}, {SSHA}.
        # Create entries with:  htpasswd -B /etc/nginx/.htpasswd <user>
        location /admin/ {
            auth_basic           "@@o@@ admin";
            auth_basic_user_file /etc/nginx/.htpasswd;
            proxy_set_header     Authorization "";
            proxy_pass           http://127.0.0.1:@@p@@;
        }
        """, o=org(), p=pick([8080, 8000, 5000])))


@clean("config_reference_docs")
def d_systemd_creds():
    s = svc()
    return dict(lang="ini", path=f"/etc/systemd/system/{s}.service", text=T("""
        [Service]
        ExecStart=/usr/local/bin/@@s@@ --config /etc/@@s@@/config.toml
        # Credentials are exposed read-only under $CREDENTIALS_DIRECTORY and never
        # appear in the environment or the unit file.
        LoadCredential=db-password:/etc/credstore/@@s@@-db-password
        LoadCredentialEncrypted=api-token:/etc/credstore.encrypted/@@s@@-api-token
        Environment=DB_PASSWORD_FILE=%d/db-password
        DynamicUser=yes
        ProtectSystem=strict
        """, s=s))


@clean("config_reference_docs")
def d_sentry_docs():
    return dict(lang="markdown", text=T("""
        ### `auth.token`

        *Type:* string, *Default:* none, *Env:* `SENTRY_AUTH_TOKEN`

        The authentication token used for all communication with Sentry. Create one under
        **Settings > Auth Tokens** with the `project:releases` scope. Setting it in
        `.sentryclirc` is supported but discouraged; prefer the environment variable in CI.

        ### `defaults.org`

        *Type:* string, *Env:* `SENTRY_ORG`

        The slug of the organization to use for a command, e.g. `@@o@@`.
        """, o=org()))


@clean("config_reference_docs")
def d_woodpecker():
    return dict(lang="yaml", path=".woodpecker.yml", text=T("""
        steps:
          publish:
            image: woodpeckerci/plugin-docker-buildx
            settings:
              repo: registry.@@o@@.io/@@s@@
              username: ci
              password:
                from_secret: registry_password
          notify:
            image: plugins/slack
            settings:
              webhook:
                from_secret: slack_webhook
            when:
              status: [failure]
        # `from_secret` names a repository or organization secret; the value itself is
        # masked in logs and never stored in this file.
        """, o=org(), s=svc()))


@clean("config_reference_docs")
def d_git_credential_store():
    return dict(lang="", text=T("""
        STORAGE FORMAT
               The .git-credentials file is stored in plaintext. Each credential is stored
               on its own line as a URL like:

                   https://user:pass@example.com

               No other kinds of lines (e.g. empty lines or comment lines) are allowed in the
               file, even though some may be silently ignored. Do not view or edit the file
               with editors.

               When Git needs authentication for a particular URL context, credential-store
               will consider that context a pattern to match against each entry in the
               credentials file.
        """))


@clean("config_reference_docs")
def d_pgbouncer():
    return dict(lang="ini", path="pgbouncer/pgbouncer.ini", text=T("""
        [databases]
        @@s@@ = host=@@h@@ port=5432 dbname=@@s@@

        [pgbouncer]
        listen_port = 6432
        auth_type = scram-sha-256
        ; userlist.txt holds "username" "SCRAM-SHA-256$..." lines written by the operator
        auth_file = /etc/pgbouncer/userlist.txt
        ; look up everyone else through a SECURITY DEFINER function
        auth_user = pgbouncer_auth
        auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)
        admin_users = postgres
        server_tls_sslmode = verify-full
        """, s=svc(), h=host()))


@clean("config_reference_docs")
def d_django_settings_doc():
    return dict(lang="python", path="config/settings/base.py", text=T("""
        # SECURITY WARNING: keep the secret key used in production secret!
        # It is loaded from the environment; `manage.py check --deploy` fails when it is
        # shorter than 50 characters or has fewer than 5 unique characters.
        SECRET_KEY = env("DJANGO_SECRET_KEY")

        DATABASES = {
            "default": env.db("DATABASE_URL", default="postgres:///@@s@@"),
        }
        EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
        AWS_SECRET_ACCESS_KEY = None  # boto3 falls back to the instance role
        """, s=svc()))


@clean("config_reference_docs")
def d_mysql_login_path():
    return dict(lang="markdown", text=T("""
        `mysql_config_editor` stores authentication credentials in an obfuscated login
        path file named `.mylogin.cnf`, so you do not have to put `password=` in `my.cnf`:

            mysql_config_editor set --login-path=@@s@@ --host=@@h@@ --user=@@u@@ --password

        The command prompts for the password. Afterwards `mysql --login-path=@@s@@` connects
        without `-p`. Note that `-pSECRET` (no space) on the command line is visible to
        other users through `ps`; `--password` with no value makes the client prompt.
        """, s=svc(), h=host(), u=pick(DBUSERS)))


@clean("config_reference_docs")
def d_dapr():
    return dict(lang="yaml", path="components/statestore.yaml", text=T("""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: statestore
        spec:
          type: state.redis
          version: v1
          metadata:
            - name: redisHost
              value: redis-master.@@s@@.svc.cluster.local:6379
            - name: redisPassword
              secretKeyRef:
                name: redis
                key: redis-password
        auth:
          secretStore: @@store@@
        """, s=svc(), store=pick(["kubernetes", "vault", "azurekeyvault"])))


# ---------------------------------------------------------------- secret_store_refs
def ansible_vault_lines(n):
    return [hexs(80) for _ in range(n - 1)] + [hexs(pick([16, 32, 48, 64]))]


@clean("secret_store_refs")
def r_ansible_vault():
    lines = "\n".join("          " + l for l in ansible_vault_lines(ri(4, 6)))
    return dict(lang="yaml", path="group_vars/prod/vault.yml", text=T("""
        pg_app_user: @@u@@
        pg_app_password: !vault |
          $ANSIBLE_VAULT;1.1;AES256
        @@lines@@
        pg_port: 5432
        """, u=pick(DBUSERS), lines=lines))


@clean("secret_store_refs")
def r_ansible_vault_file():
    lines = "\n".join(ansible_vault_lines(ri(6, 9)))
    return dict(lang="", path="inventories/prod/group_vars/all/secrets.yml", cmd="head -12 inventories/prod/group_vars/all/secrets.yml",
                text="$ANSIBLE_VAULT;1.2;AES256;prod\n" + lines)


def sops_enc(n):
    return f"ENC[AES256_GCM,data:{b64b(n)},iv:{b64b(32)},tag:{b64b(16)},type:str]"


@clean("secret_store_refs")
def r_sops_yaml():
    acct = ri(10**11, 10**12 - 1)
    r = pick(REGIONS)
    return dict(lang="yaml", path="secrets/prod.enc.yaml", text=T("""
        database:
            password: @@e1@@
            user: @@u@@
        stripe_secret_key: @@e2@@
        sops:
            kms:
                - arn: arn:aws:kms:@@r@@:@@acct@@:key/@@kid@@
                  created_at: "@@ts@@"
                  enc: AQICAHh@@blob@@
                  aws_profile: ""
            lastmodified: "@@ts@@"
            mac: ENC[AES256_GCM,data:@@mac@@,iv:@@iv@@,tag:@@tag@@,type:str]
            unencrypted_suffix: _unencrypted
            version: 3.9.1
        """, e1=sops_enc(18), e2=sops_enc(80), u=pick(DBUSERS), r=r, acct=acct, kid=uuid4(),
             ts=ts()[:19] + "Z", blob=b64b(150), mac=b64b(48), iv=b64b(32), tag=b64b(16)))


@clean("secret_store_refs")
def r_sops_json_age():
    return dict(lang="json", path="secrets.enc.json", text=T("""
        {
            "api_token": "@@e1@@",
            "webhook_signing_key": "@@e2@@",
            "sops": {
                "age": [
                    {
                        "recipient": "age1@@rec@@",
                        "enc": "-----BEGIN AGE ENCRYPTED FILE-----\\n@@a1@@\\n@@a2@@\\n-----END AGE ENCRYPTED FILE-----\\n"
                    }
                ],
                "lastmodified": "@@ts@@",
                "version": "3.8.1"
            }
        }
        """, e1=sops_enc(40), e2=sops_enc(32), rec=rs("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58),
             a1=b64b(48), a2=b64b(36), ts=ts()[:19] + "Z"))


@clean("secret_store_refs")
def r_sealed_secret():
    s = svc()
    return dict(lang="yaml", path=f"k8s/{s}/sealed-secret.yaml", text=T("""
        apiVersion: bitnami.com/v1alpha1
        kind: SealedSecret
        metadata:
          name: @@s@@-credentials
          namespace: @@s@@
        spec:
          encryptedData:
            DB_PASSWORD: AgB@@a@@
            API_KEY: AgC@@b@@
          template:
            metadata:
              name: @@s@@-credentials
            type: Opaque
        """, s=s, a=b64b(300), b=b64b(300)))


@clean("secret_store_refs")
def r_eyaml():
    return dict(lang="yaml", path="hieradata/common.eyaml", text=T("""
        ---
        profile::db::password: >
            ENC[PKCS7,MIIBiQYJKoZIhvcNAQcDoIIBejCCAXYCAQAxggEhMIIBHQIBADAFMAACAQEw
            DQYJKoZIhvcNAQEBBQAEggEA@@a@@
            @@b@@]
        profile::mail::relay_host: smtp.@@o@@.internal
        """, a=b64b(30), b=b64b(45), o=org()))


@clean("secret_store_refs")
def r_pulumi():
    s = svc()
    return dict(lang="yaml", path=f"Pulumi.{pick(['prod', 'staging'])}.yaml", text=T("""
        encryptionsalt: v1:@@salt@@:v1:@@a@@:@@b@@
        config:
          aws:region: @@r@@
          @@s@@:dbPassword:
            secure: v1:@@c@@:@@d@@
          @@s@@:stripeKey:
            secure: v1:@@e@@:@@f@@
          @@s@@:replicas: "3"
        """, salt=b64b(12), a=b64b(9), b=b64b(24), r=pick(REGIONS), s=s, c=b64b(9), d=b64b(40),
             e=b64b(9), f=b64b(96)))


@clean("secret_store_refs")
def r_arns():
    acct = ri(10**11, 10**12 - 1)
    r = pick(REGIONS)
    s = svc()
    return dict(lang="json", cmd=f"aws secretsmanager list-secrets --query 'SecretList[].{{Name:Name,ARN:ARN}}' --region {r}", text=json.dumps([
        {"Name": f"{s}/prod/db", "ARN": f"arn:aws:secretsmanager:{r}:{acct}:secret:{s}/prod/db-{rs(ALNUM, 6)}"},
        {"Name": f"{s}/prod/stripe", "ARN": f"arn:aws:secretsmanager:{r}:{acct}:secret:{s}/prod/stripe-{rs(ALNUM, 6)}"},
        {"Name": "rds!db-" + uuid4(), "ARN": f"arn:aws:secretsmanager:{r}:{acct}:secret:rds!db-{uuid4()}-{rs(ALNUM, 6)}"},
    ], indent=4))


@clean("secret_store_refs")
def r_gcp_sm():
    p = f"{org()}-prod-{ri(100, 999)}"
    s = svc()
    return dict(lang="yaml", path="service.yaml", text=T("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: @@s@@
          annotations:
            run.googleapis.com/secrets: 'db-pass:projects/@@pn@@/secrets/@@s@@-db-password'
        spec:
          template:
            spec:
              containers:
                - image: europe-docker.pkg.dev/@@p@@/app/@@s@@@@@d@@
                  env:
                    - name: DB_PASSWORD
                      valueFrom:
                        secretKeyRef:
                          key: latest
                          name: @@s@@-db-password
                    - name: SIGNING_KEY_REF
                      value: projects/@@p@@/secrets/@@s@@-signing-key/versions/@@v@@
        """, s=s, p=p, pn=ri(10**11, 10**12 - 1), d=digest(), v=ri(1, 14)))


@clean("secret_store_refs")
def r_azure_kv():
    o = org()
    return dict(lang="json", path="appsettings.Production.json", text=T("""
        {
          "ConnectionStrings": {
            "Default": "@Microsoft.KeyVault(SecretUri=https://kv-@@o@@-prod.vault.azure.net/secrets/sql-connection/@@ver@@)"
          },
          "Stripe": {
            "SecretKey": "@Microsoft.KeyVault(VaultName=kv-@@o@@-prod;SecretName=stripe-secret-key)"
          },
          "AzureAd": {
            "TenantId": "@@t@@",
            "ClientId": "@@c@@",
            "ClientCertificates": [ { "SourceType": "KeyVault", "KeyVaultUrl": "https://kv-@@o@@-prod.vault.azure.net", "KeyVaultCertificateName": "api-auth" } ]
          }
        }
        """, o=o, ver=hexs(32), t=uuid4(), c=uuid4()))


@clean("secret_store_refs")
def r_bank_vaults():
    s = svc()
    return dict(lang="yaml", path=f"k8s/{s}/deployment.yaml", text=T("""
        metadata:
          annotations:
            vault.security.banzaicloud.io/vault-addr: "https://vault.vault:8200"
            vault.security.banzaicloud.io/vault-role: "@@s@@"
        spec:
          containers:
            - name: @@s@@
              env:
                - name: DB_PASSWORD
                  value: vault:secret/data/@@s@@/db#password
                - name: AWS_SECRET_ACCESS_KEY
                  value: vault:aws/creds/@@s@@#secret_key
                - name: API_TOKEN
                  value: ">>vault:secret/data/@@s@@/api#token#2"
        """, s=s))


@clean("secret_store_refs")
def r_kms_output():
    acct = ri(10**11, 10**12 - 1)
    r = pick(REGIONS)
    return dict(lang="json", cmd=f"aws kms encrypt --key-id alias/{svc()}-config --plaintext fileb://config.json --region {r}", text=T("""
        {
            "CiphertextBlob": "AQICAHh@@blob@@",
            "KeyId": "arn:aws:kms:@@r@@:@@acct@@:key/@@kid@@",
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"
        }
        """, blob=b64b(210), r=r, acct=acct, kid=uuid4()))


@clean("secret_store_refs")
def r_travis_secure():
    return dict(lang="yaml", path=".travis.yml", text=T("""
        language: python
        python: ["3.11", "3.12"]
        env:
          global:
            - secure: "@@a@@"
            - secure: "@@b@@"
        deploy:
          provider: pypi
          username: __token__
          password:
            secure: "@@c@@"
        """, a=b64b(256), b=b64b(256), c=b64b(256)))


@clean("secret_store_refs")
def r_external_secret():
    s = svc()
    return dict(lang="yaml", path=f"k8s/{s}/externalsecret.yaml", text=T("""
        apiVersion: external-secrets.io/v1beta1
        kind: ExternalSecret
        metadata:
          name: @@s@@-env
        spec:
          refreshInterval: 1h
          secretStoreRef:
            kind: ClusterSecretStore
            name: aws-secrets-manager
          target:
            name: @@s@@-env
          data:
            - secretKey: STRIPE_SECRET_KEY
              remoteRef:
                key: prod/@@s@@/stripe
                property: secret_key
            - secretKey: DATABASE_PASSWORD
              remoteRef:
                key: prod/@@s@@/rds
                property: password
        """, s=s))


@clean("secret_store_refs")
def r_onepassword():
    return dict(lang="bash", path="scripts/dev-env.sh", text=T("""
        #!/usr/bin/env bash
        # Never write these to disk; op resolves them at exec time.
        export GITHUB_TOKEN="op://Engineering/GitHub CLI/token"
        export AWS_SECRET_ACCESS_KEY="op://Engineering/AWS @@o@@-dev/secret access key"
        export STRIPE_API_KEY="op://Engineering/Stripe restricted/credential"
        exec op run --env-file=<(env | grep '^[A-Z_]*=op://') -- "$@"
        """, o=org()))


@clean("secret_store_refs")
def r_rails_credentials_enc():
    return dict(lang="", cmd="cat config/credentials/production.yml.enc",
                text=b64b(ri(180, 300)) + "--" + b64b(12) + "--" + b64b(16))


@clean("secret_store_refs")
def r_chef_databag():
    return dict(lang="json", path="data_bags/secrets/prod.json", text=T("""
        {
          "id": "prod",
          "db_password": {
            "encrypted_data": "@@a@@",
            "iv": "@@iv@@",
            "auth_tag": "@@tag@@",
            "version": 3,
            "cipher": "aes-256-gcm"
          }
        }
        """, a=b64b(48), iv=b64b(12), tag=b64b(16)))


@clean("secret_store_refs")
def r_cfn_resolve():
    s = svc()
    return dict(lang="yaml", path="template.yaml", text=T("""
        Parameters:
          MasterPassword:
            Type: String
            NoEcho: true
            Description: Only used when the cluster is first created
        Resources:
          Cluster:
            Type: AWS::RDS::DBCluster
            Properties:
              MasterUsername: '{{resolve:secretsmanager:@@s@@/prod/rds:SecretString:username}}'
              MasterUserPassword: '{{resolve:secretsmanager:@@s@@/prod/rds:SecretString:password}}'
          Function:
            Type: AWS::Serverless::Function
            Properties:
              Environment:
                Variables:
                  API_KEY: '{{resolve:ssm-secure:/@@s@@/prod/api-key:3}}'
        """, s=s))


# ---------------------------------------------------------------- code_handles_secrets
@clean("code_handles_secrets")
def k_rust_struct():
    return dict(lang="rust", path="src/credentials.rs", text=T("""
        use secrecy::{ExposeSecret, SecretString};

        /// Long-lived credentials for the object store. Never derive Debug on this.
        pub struct StoreCredentials {
            pub access_key_id: String,
            pub secret_access_key: SecretString,
            pub session_token: Option<SecretString>,
        }

        impl std::fmt::Debug for StoreCredentials {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("StoreCredentials")
                    .field("access_key_id", &self.access_key_id)
                    .field("secret_access_key", &"***")
                    .finish()
            }
        }

        pub fn signing_key(creds: &StoreCredentials, date: &str) -> Vec<u8> {
            let k = format!("AWS4{}", creds.secret_access_key.expose_secret());
            hmac_sha256(k.as_bytes(), date.as_bytes())
        }
        """))


@clean("code_handles_secrets")
def k_go_config():
    return dict(lang="go", path="internal/config/config.go", text=T("""
        type Config struct {
        	DatabaseURL   string        `env:"DATABASE_URL,required"`
        	RedisPassword string        `env:"REDIS_PASSWORD"`
        	JWTSecret     []byte        `env:"JWT_SECRET,required,unset"`
        	StripeKey     string        `env:"STRIPE_SECRET_KEY" json:"-"`
        	TokenTTL      time.Duration `env:"TOKEN_TTL" envDefault:"15m"`
        }

        func (c Config) Validate() error {
        	if len(c.JWTSecret) < 32 {
        		return fmt.Errorf("JWT_SECRET must be at least 32 bytes, got %d", len(c.JWTSecret))
        	}
        	if c.StripeKey != "" && !strings.HasPrefix(c.StripeKey, "sk_") && !strings.HasPrefix(c.StripeKey, "rk_") {
        		return errors.New("STRIPE_SECRET_KEY does not look like a Stripe secret or restricted key")
        	}
        	return nil
        }
        """))


@clean("code_handles_secrets")
def k_ts_zod():
    return dict(lang="typescript", path="src/env.ts", text=T("""
        import { z } from "zod";

        const EnvSchema = z.object({
          DATABASE_URL: z.string().url(),
          NEXTAUTH_SECRET: z.string().min(32, "NEXTAUTH_SECRET should be 32+ chars (openssl rand -base64 32)"),
          GITHUB_CLIENT_ID: z.string(),
          GITHUB_CLIENT_SECRET: z.string(),
          OPENAI_API_KEY: z.string().startsWith("sk-").optional(),
          WEBHOOK_SIGNING_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/=]{32,}$/),
        });

        export type Env = z.infer<typeof EnvSchema>;
        export const env: Env = EnvSchema.parse(process.env);

        export function redact(e: Env): Record<keyof Env, string> {
          return Object.fromEntries(Object.keys(e).map((k) => [k, "<hidden>"])) as any;
        }
        """))


@clean("code_handles_secrets")
def k_python_argparse():
    return dict(lang="python", path="tools/dbdump.py", text=T("""
        import argparse, getpass, os

        def parse_args(argv=None):
            p = argparse.ArgumentParser(description="Dump a database to S3")
            p.add_argument("--host", default=os.environ.get("PGHOST", "localhost"))
            p.add_argument("--user", default=os.environ.get("PGUSER", "@@u@@"))
            p.add_argument("--password", help="database password (default: $PGPASSWORD, else prompt)")
            p.add_argument("--password-file", type=argparse.FileType("r"))
            p.add_argument("--s3-secret-key", dest="s3_secret", help=argparse.SUPPRESS)
            args = p.parse_args(argv)
            if args.password_file:
                args.password = args.password_file.read().strip()
            elif not args.password:
                args.password = os.environ.get("PGPASSWORD") or getpass.getpass("Password: ")
            return args
        """, u=pick(DBUSERS)))


@clean("code_handles_secrets")
def k_java_spring():
    return dict(lang="java", path="src/main/java/com/@@o@@/auth/JwtService.java".replace("@@o@@", org()), text=T("""
        @Service
        public class JwtService {
            private final SecretKey signingKey;

            public JwtService(@Value("${app.jwt.secret}") String secret) {
                if (secret == null || secret.length() < 64) {
                    throw new IllegalStateException("app.jwt.secret must be a base64 string of at least 64 chars");
                }
                this.signingKey = Keys.hmacShaKeyFor(Decoders.BASE64.decode(secret));
            }

            @Bean
            public PasswordEncoder passwordEncoder() {
                return new BCryptPasswordEncoder(12);
            }

            public String issue(String subject, Duration ttl) {
                return Jwts.builder().subject(subject)
                    .expiration(Date.from(Instant.now().plus(ttl)))
                    .signWith(signingKey).compact();
            }
        }
        """))


@clean("code_handles_secrets")
def k_csharp():
    return dict(lang="csharp", path="src/Payments/StripeOptions.cs", text=T("""
        public sealed class StripeOptions
        {
            public const string Section = "Stripe";
            [Required] public string SecretKey { get; init; } = string.Empty;
            [Required] public string WebhookSecret { get; init; } = string.Empty;
        }

        // Program.cs
        builder.Services.AddOptions<StripeOptions>()
            .Bind(builder.Configuration.GetSection(StripeOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // local development:
        //   dotnet user-secrets set "Stripe:SecretKey" "<your key>"
        //   dotnet user-secrets set "Stripe:WebhookSecret" "<from stripe listen>"
        """))


@clean("code_handles_secrets")
def k_swift_keychain():
    return dict(lang="swift", path="Sources/Auth/TokenStore.swift", text=T("""
        enum TokenStoreError: Error { case notFound, unexpectedData, unhandled(OSStatus) }

        struct TokenStore {
            let service = "com.@@o@@.app.refresh-token"

            func save(_ token: String, account: String) throws {
                let query: [String: Any] = [
                    kSecClass as String: kSecClassGenericPassword,
                    kSecAttrService as String: service,
                    kSecAttrAccount as String: account,
                    kSecValueData as String: Data(token.utf8),
                    kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
                ]
                SecItemDelete(query as CFDictionary)
                let status = SecItemAdd(query as CFDictionary, nil)
                guard status == errSecSuccess else { throw TokenStoreError.unhandled(status) }
            }
        }
        """, o=org()))


@clean("code_handles_secrets")
def k_ruby_creds():
    return dict(lang="ruby", path="app/services/s3_uploader.rb", text=T("""
        class S3Uploader
          def initialize(bucket: ENV.fetch("UPLOAD_BUCKET"))
            creds = Rails.application.credentials.aws
            @client = Aws::S3::Client.new(
              access_key_id: creds[:access_key_id],
              secret_access_key: creds[:secret_access_key],
              region: creds.fetch(:region, "@@r@@")
            )
            @bucket = bucket
          end

          def call(key, io)
            @client.put_object(bucket: @bucket, key: key, body: io)
          rescue Aws::S3::Errors::InvalidAccessKeyId, Aws::S3::Errors::SignatureDoesNotMatch => e
            Rails.logger.error("S3 credentials rejected: #{e.class}")
            raise
          end
        end
        """, r=pick(REGIONS)))


@clean("code_handles_secrets")
def k_php_laravel():
    return dict(lang="php", path="config/services.php", text=T("""
        <?php

        return [
            'mailgun' => [
                'domain' => env('MAILGUN_DOMAIN'),
                'secret' => env('MAILGUN_SECRET'),
                'endpoint' => env('MAILGUN_ENDPOINT', 'api.eu.mailgun.net'),
            ],
            'stripe' => [
                'key' => env('STRIPE_KEY'),
                'secret' => env('STRIPE_SECRET'),
                'webhook' => [
                    'secret' => env('STRIPE_WEBHOOK_SECRET'),
                    'tolerance' => env('STRIPE_WEBHOOK_TOLERANCE', 300),
                ],
            ],
        ];
        """))


@clean("code_handles_secrets")
def k_shell_read():
    return dict(lang="bash", path="scripts/rotate-db-password.sh", text=T("""
        #!/usr/bin/env bash
        set -euo pipefail
        read -rsp "Current password for @@u@@: " OLD_PASS; echo
        NEW_PASS="$(openssl rand -base64 30 | tr -d '/+=' | cut -c1-32)"
        PGPASSWORD="$OLD_PASS" psql -h "@@h@@" -U @@u@@ -d postgres \\
          -v new_pass="$NEW_PASS" -c "ALTER ROLE @@u@@ PASSWORD :'new_pass'"
        aws secretsmanager put-secret-value --secret-id "@@s@@/prod/db" \\
          --secret-string "$(jq -n --arg p "$NEW_PASS" '{password:$p}')"
        unset OLD_PASS NEW_PASS
        echo "rotated; old sessions keep working until they reconnect"
        """, u=pick(DBUSERS), h=host(), s=svc()))


@clean("code_handles_secrets")
def k_sql_roles():
    return dict(lang="sql", path="migrations/0042_roles.sql", text=T("""
        -- passwords are set out of band by the deploy job (\\password or ALTER ROLE ... PASSWORD);
        -- this migration only creates the roles without one.
        CREATE ROLE @@u@@ LOGIN PASSWORD NULL;
        CREATE ROLE readonly NOLOGIN;
        GRANT readonly TO @@u@@;

        CREATE TABLE api_tokens (
            id           bigserial PRIMARY KEY,
            user_id      bigint NOT NULL REFERENCES users(id),
            token_prefix text   NOT NULL,          -- first 8 chars, shown in the UI
            token_hash   bytea  NOT NULL,          -- sha256 of the full token
            created_at   timestamptz NOT NULL DEFAULT now(),
            revoked_at   timestamptz
        );
        CREATE UNIQUE INDEX api_tokens_hash_idx ON api_tokens (token_hash);
        """, u=pick(DBUSERS)))


@clean("code_handles_secrets")
def k_regex_rules():
    return dict(lang="toml", path=".gitleaks.toml", text=T("""
        [extend]
        useDefault = true

        [[rules]]
        id = "@@o@@-internal-token"
        description = "Internal service token"
        regex = '''\\b@@p@@_(live|stg)_[A-Za-z0-9]{32}\\b'''
        keywords = ["@@p@@_live_", "@@p@@_stg_"]

        [[rules]]
        id = "generic-password-assignment"
        regex = '''(?i)(password|passwd|pwd)\\s*[:=]\\s*["']([^"'\\s]{8,})["']'''
        secretGroup = 2

        [allowlist]
        paths = ['''(^|/)testdata/''', '''\\.lock$''']
        regexes = ['''\\$\\{[A-Z_]+\\}''']
        """, o=org(), p=pick(["kst", "hly", "brl", "crv"])))


@clean("code_handles_secrets")
def k_errors():
    s = svc()
    return dict(lang="", cmd=f"kubectl logs deploy/{s} --tail=12", text=T("""
        @@t1@@ INFO  starting @@s@@ v@@v@@
        @@t1@@ WARN  config: STRIPE_WEBHOOK_SECRET not set; webhook signature verification disabled
        @@t1@@ ERROR db: password authentication failed for user "@@u@@" (SQLSTATE 28P01)
        @@t1@@ ERROR auth: invalid_client: client authentication failed (client_secret_post); check OIDC_CLIENT_SECRET
        @@t1@@ ERROR s3: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.
        @@t1@@ WARN  github: 401 Bad credentials (token expired or revoked) -- see https://docs.github.com/rest
        @@t1@@ FATAL giving up after 5 attempts
        """, t1=ts()[:19] + "Z", s=s, v=f"{ri(1, 4)}.{ri(0, 20)}.{ri(0, 9)}", u=pick(DBUSERS)))


@clean("code_handles_secrets")
def k_clap():
    return dict(lang="rust", path="src/cli.rs", text=T("""
        #[derive(Parser, Debug)]
        #[command(version, about = "Encrypt a column with a data key")]
        pub struct Args {
            /// Master key, hex. Prefer the env var; never pass it on the command line in CI.
            #[arg(long, env = "HAN_MASTER_KEY", hide_env_values = true)]
            pub master_key: Option<String>,

            /// Read the master key from a file (one line, 64 hex chars)
            #[arg(long, conflicts_with = "master_key")]
            pub master_key_file: Option<PathBuf>,

            /// KMS key id or alias used to unwrap the data key
            #[arg(long, default_value = "alias/han-crypto")]
            pub kms_key_id: String,
        }
        """))


@clean("code_handles_secrets")
def k_headers_code():
    return dict(lang="python", path="client/http.py", text=T("""
        class ApiClient:
            def __init__(self, base_url: str, token: str | None = None, *, token_env: str = "@@E@@_TOKEN"):
                self.base_url = base_url.rstrip("/")
                self._token = token or os.environ[token_env]

            def _headers(self) -> dict[str, str]:
                return {
                    "Authorization": f"Bearer {self._token}",
                    "X-Api-Key": self._token,
                    "User-Agent": "@@o@@-client/2.1",
                }

            def __repr__(self) -> str:
                return f"ApiClient({self.base_url!r}, token=<{len(self._token)} chars>)"
        """, E=svc().upper(), o=org()))


@clean("code_handles_secrets")
def k_kotlin_android():
    return dict(lang="kotlin", path="app/build.gradle.kts", text=T("""
        val localProps = Properties().apply {
            val f = rootProject.file("local.properties")
            if (f.exists()) f.inputStream().use { load(it) }
        }

        android {
            defaultConfig {
                buildConfigField("String", "MAPS_API_KEY", "\\"${localProps.getProperty("MAPS_API_KEY", "")}\\"")
            }
            signingConfigs {
                create("release") {
                    storeFile = file(System.getenv("KEYSTORE_PATH") ?: "release.jks")
                    storePassword = System.getenv("KEYSTORE_PASSWORD")
                    keyAlias = "upload"
                    keyPassword = System.getenv("KEY_PASSWORD")
                }
            }
        }
        """))


@clean("code_handles_secrets")
def k_ts_types():
    return dict(lang="typescript", path="packages/sdk/src/types.ts", text=T("""
        export interface OAuthClientCredentials {
          clientId: string;
          /** Never log this. Rotated every 90 days by the platform team. */
          clientSecret: string;
          tokenUrl: `https://${string}/oauth2/token`;
        }

        export type AccessToken = { accessToken: string; tokenType: "Bearer"; expiresIn: number; refreshToken?: string };

        export async function fetchToken(c: OAuthClientCredentials): Promise<AccessToken> {
          const body = new URLSearchParams({ grant_type: "client_credentials" });
          const basic = Buffer.from(`${c.clientId}:${c.clientSecret}`).toString("base64");
          const res = await fetch(c.tokenUrl, { method: "POST", body, headers: { Authorization: `Basic ${basic}` } });
          if (!res.ok) throw new Error(`token endpoint returned ${res.status}`);
          return (await res.json()) as AccessToken;
        }
        """))


@clean("code_handles_secrets")
def k_diff_env():
    return dict(lang="diff", cmd="git diff HEAD~1 -- src/settings.py", text=T("""
        diff --git a/src/settings.py b/src/settings.py
        index @@a@@..@@b@@ 100644
        --- a/src/settings.py
        +++ b/src/settings.py
        @@ -12,9 +12,9 @@ from .env import env
         DEBUG = env.bool("DEBUG", default=False)
        -SECRET_KEY = env("SECRET_KEY", default="")
        +SECRET_KEY = env("SECRET_KEY")  # fail fast instead of running with an empty key
        -EMAIL_HOST_PASSWORD = os.getenv("SMTP_PASSWORD")
        +EMAIL_HOST_PASSWORD = read_secret("/run/secrets/smtp_password")
         STRIPE = {
        -    "secret_key": os.getenv("STRIPE_SECRET_KEY"),
        +    "secret_key": read_secret("/run/secrets/stripe_secret_key"),
             "api_version": "2024-06-20",
         }
        """, a=hexs(9), b=hexs(9)))


@clean("code_handles_secrets")
def k_webhook_verify():
    return dict(lang="go", path="webhooks/verify.go", text=T("""
        // VerifySignature checks the X-Signature-256 header ("sha256=<hex>") against the
        // body using the endpoint's signing secret.
        func VerifySignature(secret []byte, body []byte, header string) error {
        	const prefix = "sha256="
        	if !strings.HasPrefix(header, prefix) {
        		return ErrMalformedSignature
        	}
        	got, err := hex.DecodeString(header[len(prefix):])
        	if err != nil {
        		return ErrMalformedSignature
        	}
        	mac := hmac.New(sha256.New, secret)
        	mac.Write(body)
        	if !hmac.Equal(got, mac.Sum(nil)) {
        		return ErrSignatureMismatch
        	}
        	return nil
        }
        """))


# ---------------------------------------------------------------- test_fakes
@clean("test_fakes")
def f_pytest_monkeypatch():
    return dict(lang="python", path="tests/test_settings.py", text=T("""
        import pytest
        from app.settings import load_settings, SettingsError

        @pytest.fixture
        def env(monkeypatch):
            monkeypatch.setenv("DATABASE_URL", "postgresql://test:test@localhost:5432/test")
            monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_dummy")
            monkeypatch.setenv("JWT_SECRET", "x" * 64)
            return monkeypatch

        def test_rejects_short_jwt_secret(env):
            env.setenv("JWT_SECRET", "too-short")
            with pytest.raises(SettingsError, match="JWT_SECRET"):
                load_settings()

        def test_password_is_not_in_repr(env):
            s = load_settings()
            assert "test:test" not in repr(s)
        """))


@clean("test_fakes")
def f_jest():
    return dict(lang="typescript", path="src/__tests__/auth.test.ts", text=T("""
        describe("login", () => {
          beforeEach(async () => {
            process.env.SESSION_SECRET = "test-session-secret-not-for-prod";
            jest.spyOn(db.users, "findByEmail").mockResolvedValue({
              id: 1, email: "alice@example.com",
              passwordHash: await hash("hunter2", 4),
            });
          });

          it("accepts the right password", async () => {
            await expect(login("alice@example.com", "hunter2")).resolves.toMatchObject({ id: 1 });
          });

          it("rejects a wrong password", async () => {
            await expect(login("alice@example.com", "hunter3")).rejects.toThrow("invalid credentials");
          });
        });
        """))


@clean("test_fakes")
def f_go_table():
    return dict(lang="go", path="internal/auth/password_test.go", text=T("""
        func TestValidatePassword(t *testing.T) {
        	tests := []struct {
        		name    string
        		pw      string
        		wantErr bool
        	}{
        		{"empty", "", true},
        		{"too short", "abc123", true},
        		{"common", "password123", true},
        		{"no digits", "correcthorsebatterystaple", true},
        		{"ok", "Correct-Horse-Battery-Staple-9", false},
        	}
        	for _, tt := range tests {
        		t.Run(tt.name, func(t *testing.T) {
        			if err := ValidatePassword(tt.pw); (err != nil) != tt.wantErr {
        				t.Fatalf("ValidatePassword(%q) error = %v, wantErr %v", tt.pw, err, tt.wantErr)
        			}
        		})
        	}
        }
        """))


@clean("test_fakes")
def f_rust_test():
    return dict(lang="rust", path="src/token.rs", text=T("""
        #[cfg(test)]
        mod tests {
            use super::*;

            const FAKE_KEY: [u8; 32] = [7u8; 32];

            #[test]
            fn round_trips_with_a_fixed_key() {
                let t = Token::sign(&FAKE_KEY, "user-1", 60);
                assert_eq!(Token::verify(&FAKE_KEY, &t.to_string()).unwrap().sub, "user-1");
            }

            #[test]
            fn rejects_garbage() {
                assert!(Token::verify(&FAKE_KEY, "not-a-token").is_err());
                assert!(Token::verify(&FAKE_KEY, "aaaa.bbbb.cccc").is_err());
            }
        }
        """))


@clean("test_fakes")
def f_rspec_factory():
    return dict(lang="ruby", path="spec/factories/users.rb", text=T("""
        FactoryBot.define do
          factory :user do
            sequence(:email) { |n| "user#{n}@example.test" }
            password { "password" }
            password_confirmation { "password" }

            trait :admin do
              role { :admin }
              otp_secret { "JBSWY3DPEHPK3PXP" } # the well-known sample from the Google Authenticator wiki
            end
          end

          factory :api_token do
            user
            token { "tok_test_#{SecureRandom.hex(4)}" }
          end
        end
        """))


@clean("test_fakes")
def f_fixtures_yaml():
    return dict(lang="yaml", path="test/fixtures/accounts.yml", text=T("""
        # Seed accounts for the local stack only (docker compose up). Do not reuse.
        alice:
          email: alice@@@o@@.test
          password: changeme
          api_key: local-dev-api-key-alice
        bob:
          email: bob@@@o@@.test
          password: letmein
          api_key: local-dev-api-key-bob
        service_account:
          name: ci-bot
          token: ci-token-for-local-stack-only
        """, o=org()))


@clean("test_fakes")
def f_junit_mock():
    return dict(lang="java", path="src/test/java/PaymentClientTest.java", text=T("""
        @ExtendWith(MockitoExtension.class)
        class PaymentClientTest {
            @Mock HttpClient http;

            @Test
            void sendsBearerToken() throws Exception {
                var client = new PaymentClient(http, URI.create("http://localhost:8089"), "fake-api-key");
                when(http.send(any(), any())).thenReturn(okResponse("{\\"id\\":\\"pay_1\\"}"));

                client.charge(100, "EUR");

                verify(http).send(argThat(r -> r.headers().firstValue("Authorization")
                    .orElse("").equals("Bearer fake-api-key")), any());
            }
        }
        """))


@clean("test_fakes")
def f_cypress():
    return dict(lang="javascript", path="cypress/e2e/login.cy.js", text=T("""
        describe('sign in', () => {
          it('shows an error for bad credentials', () => {
            cy.visit('/login')
            cy.get('[data-test=email]').type('qa+@@n@@@@@o@@.test')
            cy.get('[data-test=password]').type('wrong-password{enter}')
            cy.contains('Invalid email or password')
          })

          it('signs in the seeded user', () => {
            cy.login(Cypress.env('E2E_USER'), Cypress.env('E2E_PASSWORD'))
            cy.url().should('include', '/dashboard')
          })
        })
        """, n=ri(1, 40), o=org()))


@clean("test_fakes")
def f_pytest_output():
    return dict(lang="", cmd="pytest -q tests/auth", text=T("""
        ....F.
        ================================= FAILURES =================================
        _______________________ test_reset_token_single_use ________________________

            def test_reset_token_single_use(client, user):
                token = issue_reset_token(user, now=FROZEN)
        >       assert client.post("/reset", json={"token": token, "password": "N3w-passw0rd!"}).ok
        E       AssertionError: assert False
        E        +  where False = <Response [410]>.ok

        tests/auth/test_reset.py:@@l@@: AssertionError
        ========================= short test summary info ==========================
        FAILED tests/auth/test_reset.py::test_reset_token_single_use - AssertionError
        1 failed, 5 passed in @@t@@s
        """, l=ri(20, 140), t=f"{R.uniform(0.4, 3.5):.2f}"))


@clean("test_fakes")
def f_mock_server():
    return dict(lang="json", path="mocks/oauth-token.json", text=T("""
        {
          "request": { "method": "POST", "url": "/oauth2/token" },
          "response": {
            "status": 200,
            "jsonBody": {
              "access_token": "mock-access-token",
              "refresh_token": "mock-refresh-token",
              "token_type": "Bearer",
              "expires_in": 3600
            },
            "headers": { "Content-Type": "application/json" }
          }
        }
        """))


@clean("test_fakes")
def f_docker_compose_test():
    return dict(lang="yaml", path="docker-compose.test.yml", text=T("""
        services:
          postgres:
            image: postgres:16
            environment:
              POSTGRES_USER: test
              POSTGRES_PASSWORD: test
              POSTGRES_DB: app_test
            tmpfs: [/var/lib/postgresql/data]
          localstack:
            image: localstack/localstack:3
            environment:
              AWS_ACCESS_KEY_ID: test
              AWS_SECRET_ACCESS_KEY: test
              AWS_DEFAULT_REGION: us-east-1
        """))


# ---------------------------------------------------------------- made_up_values
@clean("made_up_values")
def m_env_example():
    return dict(lang="", path=".env.example", text=T("""
        # Copy to .env and fill in. Never commit .env.
        DATABASE_URL=postgres://postgres:postgres@localhost:5432/@@s@@_dev
        STRIPE_SECRET_KEY=sk_test_your_key_here
        STRIPE_WEBHOOK_SECRET=whsec_...
        OPENAI_API_KEY=sk-your-openai-key
        GITHUB_CLIENT_SECRET=<your-github-oauth-app-secret>
        SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        AWS_ACCESS_KEY_ID=
        AWS_SECRET_ACCESS_KEY=
        SESSION_SECRET=replace-me-with-a-long-random-string
        """, s=svc()))


@clean("made_up_values")
def m_readme_placeholders():
    return dict(lang="markdown", path="README.md", text=T("""
        ## Quick start

        ```bash
        export @@P@@_API_KEY="YOUR_API_KEY_HERE"
        curl https://api.@@o@@.io/v1/items \\
          -H "Authorization: Bearer $@@P@@_API_KEY"
        ```

        or, with the SDK:

        ```python
        client = @@C@@Client(api_key="<YOUR-API-KEY>")
        ```

        Keys look like `@@p@@_live_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX`; get yours from the dashboard.
        """, P=org().upper(), o=org(), C=org().capitalize(), p=pick(["kst", "hly", "crv", "obk"])))


@clean("made_up_values")
def m_sequential():
    return dict(lang="yaml", path="config/local.yaml", text=T("""
        # local only -- values are deliberately silly
        encryption:
          key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
          iv: 000102030405060708090a0b0c0d0e0f
        hmac_secret: 1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f
        api:
          token: abc123abc123abc123abc123
          client_secret: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        admin_password: Passw0rd!
        """))


@clean("made_up_values")
def m_masked_dashboard():
    return dict(lang="", cmd=f"{pick(['stripe', 'openai', 'gh', 'vercel'])} keys list", text=T("""
        NAME              KEY                   CREATED       LAST USED
        ci-deploy         @@k1@@   @@d1@@    2 hours ago
        local-dev         @@k2@@   @@d2@@    never
        @@s@@-worker      @@k3@@   @@d3@@    5 days ago
        """, k1=pick(["sk-...", "sk_live_...", "ghp_...", "vcp_..."]) + rs(ALNUM, 4),
             k2=pick(["sk-...", "sk_live_...", "ghp_..."]) + rs(ALNUM, 4),
             k3="****************" + rs(ALNUM, 4), s=svc(),
             d1=ts()[:10], d2=ts()[:10], d3=ts()[:10]))


@clean("made_up_values")
def m_already_redacted():
    return dict(lang="", text=T("""
        Earlier output (already scrubbed by the logger):
        @@t@@ INFO http: POST /v1/charges Authorization: Bearer [REDACTED]
        @@t@@ INFO db: connecting to postgres://@@u@@:********@@@h@@:5432/app
        @@t@@ DEBUG env: STRIPE_SECRET_KEY=[REDACTED:stripe_key] AWS_SECRET_ACCESS_KEY=<redacted>
        @@t@@ DEBUG env: GITHUB_TOKEN=ghp_**** (40 chars) SLACK_BOT_TOKEN=xoxb-****-****
        """, t=ts()[:19], u=pick(DBUSERS), h=host()))


@clean("made_up_values")
def m_xes():
    return dict(lang="python", path="examples/quickstart.py", text=T("""
        # Replace the x's with your credentials before running.
        import boto3

        session = boto3.Session(
            aws_access_key_id="AKIAXXXXXXXXXXXXXXXX",
            aws_secret_access_key="XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            region_name="@@r@@",
        )
        slack_token = "xoxb-XXXXXXXXXXXX-XXXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX"
        github_token = "ghp_" + "x" * 36
        """, r=pick(REGIONS)))


@clean("made_up_values")
def m_insecure_dev_key():
    return dict(lang="python", path="config/settings/dev.py", text=T("""
        from .base import *  # noqa

        DEBUG = True
        # Only for `manage.py runserver` on a laptop; production reads DJANGO_SECRET_KEY.
        SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
        CSRF_TRUSTED_ORIGINS = ["http://localhost:3000"]
        EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
        STRIPE_SECRET_KEY = "sk_test_placeholder"
        """))


@clean("made_up_values")
def m_helm_defaults():
    return dict(lang="yaml", path="charts/app/values.yaml", text=T("""
        # -- Admin password for the bundled UI. CHANGE THIS when installing.
        adminPassword: "changeme"
        # -- Secret key used to sign sessions. Must be overridden in production.
        secretKey: "!!changeme!!"
        # -- API token for the metrics exporter (example value, will not work)
        exporterToken: "example-token-0000"
        ingress:
          enabled: false
          tls: []
        """))


@clean("made_up_values")
def m_chat_truncated():
    return dict(lang="", text=T("""
        I can't see your real key (and please don't paste it here). In the error it's shown
        truncated as `sk-proj-...@@tail@@`, which is just the last four characters the API
        echoes back. Rotate it anyway if it was ever committed, then set it with:

            export OPENAI_API_KEY="sk-proj-<your key>"

        The "Incorrect API key provided: sk-proj-****...@@tail@@" message means the key was
        revoked or belongs to a different project.
        """, tail=rs(ALNUM, 4)))


@clean("made_up_values")
def m_toml_placeholders():
    return dict(lang="toml", path="config.sample.toml", text=T("""
        [telegram]
        bot_token = "123456789:REPLACE_WITH_YOUR_BOT_TOKEN"
        chat_id = -1001234567890

        [discord]
        webhook_url = "https://discord.com/api/webhooks/<id>/<token>"

        [database]
        url = "mysql://user:password@localhost:3306/dbname"
        """))


@clean("made_up_values")
def m_repeated_b64():
    return dict(lang="json", path="fixtures/keys.json", text=T("""
        {
          "_comment": "shape-only fixtures for the key parser; none of these decode to a usable key",
          "aes256_key_b64": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
          "hmac_key_hex": "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
          "api_key": "deadbeefdeadbeefdeadbeefdeadbeef",
          "refresh_token": "refresh-token-goes-here"
        }
        """))


# ---------------------------------------------------------------- vendor_doc_examples
@clean("vendor_doc_examples")
def v_aws_credentials_file():
    return dict(lang="ini", path="docs/aws-setup.md", text=T("""
        The AWS docs' sample `~/.aws/credentials`:

        [default]
        aws_access_key_id=AKIAIOSFODNN7EXAMPLE
        aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

        [user1]
        aws_access_key_id=AKIAI44QH8DHBEXAMPLE
        aws_secret_access_key=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY
        """))


@clean("vendor_doc_examples")
def v_aws_env():
    return dict(lang="bash", text=T("""
        $ export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
        $ export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
        $ export AWS_DEFAULT_REGION=us-west-2
        $ aws configure list
              Name                    Value             Type    Location
              ----                    -----             ----    --------
           profile                <not set>             None    None
        access_key     ****************MPLE              env
        secret_key     ****************EKEY              env
            region                us-west-2              env    AWS_DEFAULT_REGION
        """))


@clean("vendor_doc_examples")
def v_azurite():
    return dict(lang="", text=T("""
        Azurite accepts the well-known development account; the connection string from the docs:

        DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;

        or simply `UseDevelopmentStorage=true`.
        """))


@clean("vendor_doc_examples")
def v_jwtio():
    return dict(lang="", text=T("""
        The sample token on jwt.io decodes to {"sub":"1234567890","name":"John Doe","iat":1516239022}
        with the secret `your-256-bit-secret`:

        eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c

        Our parser should accept its header and reject it because `exp` is missing.
        """))


@clean("vendor_doc_examples")
def v_stripe_docs():
    return dict(lang="bash", text=T("""
        # From Stripe's API reference (test-mode key shown in the docs)
        curl https://api.stripe.com/v1/charges \\
          -u sk_test_4eC39HqLyjWDarjtT1zdp7dc: \\
          -d amount=2000 \\
          -d currency=usd \\
          -d source=tok_visa
        # publishable key used in the Elements examples: pk_test_TYooMQauvdEDq54NiTphI7jx
        """))


@clean("vendor_doc_examples")
def v_k8s_secret_docs():
    return dict(lang="yaml", path="docs/k8s-secrets.md", text=T("""
        apiVersion: v1
        kind: Secret
        metadata:
          name: mysecret
        type: Opaque
        data:
          username: YWRtaW4=
          password: MWYyZDFlMmU2N2Rm
        # echo -n 'admin' | base64         -> YWRtaW4=
        # echo -n '1f2d1e2e67df' | base64  -> MWYyZDFlMmU2N2Rm
        """))


@clean("vendor_doc_examples")
def v_docker_hub_images():
    return dict(lang="bash", text=T("""
        # straight from the official image pages on Docker Hub
        docker run --name some-mysql -e MYSQL_ROOT_PASSWORD=my-secret-pw -d mysql:tag
        docker run --name some-postgres -e POSTGRES_PASSWORD=mysecretpassword -d postgres
        docker run -e "ACCEPT_EULA=Y" -e "MSSQL_SA_PASSWORD=YourStrong@Passw0rd" -p 1433:1433 -d mcr.microsoft.com/mssql/server:2022-latest
        # mongo's compose example uses MONGO_INITDB_ROOT_PASSWORD: example
        """))


@clean("vendor_doc_examples")
def v_default_logins():
    return dict(lang="markdown", text=T("""
        | Service      | URL                       | Default login                 |
        |--------------|---------------------------|-------------------------------|
        | RabbitMQ     | http://localhost:15672    | guest / guest                 |
        | Grafana      | http://localhost:3000     | admin / admin (forced change) |
        | MinIO        | http://localhost:9001     | minioadmin / minioadmin       |
        | Harbor       | https://localhost         | admin / Harbor12345           |
        | Elasticsearch 6 (x-pack) | http://localhost:9200 | elastic / changeme   |

        These are the upstream defaults from each project's docs; the compose file overrides all of them.
        """))


@clean("vendor_doc_examples")
def v_pg_uri_docs():
    return dict(lang="", text=T("""
        Examples of valid connection URIs from the PostgreSQL docs:

        postgresql://
        postgresql://localhost
        postgresql://localhost:5433
        postgresql://localhost/mydb
        postgresql://user@localhost
        postgresql://user:secret@localhost
        postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp
        postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp
        """))


@clean("vendor_doc_examples")
def v_sqlalchemy_docs():
    return dict(lang="python", text=T("""
        # SQLAlchemy's engine docs
        engine = create_engine("postgresql+psycopg2://scott:tiger@localhost/mydatabase")
        engine = create_engine("mysql+pymysql://scott:tiger@localhost/foo")
        engine = create_engine("oracle+cx_oracle://scott:tiger@tnsname")
        engine = create_engine("mssql+pyodbc://scott:tiger@mydsn")
        """))


@clean("vendor_doc_examples")
def v_slack_twilio_docs():
    return dict(lang="", text=T("""
        Slack's incoming-webhook page shows the URL shape as
        https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX
        and Twilio's quickstart uses

            account_sid = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
            auth_token = "your_auth_token"

        so our docs follow the same convention.
        """))


@clean("vendor_doc_examples")
def v_htpasswd_registry():
    return dict(lang="bash", text=T("""
        # Docker registry docs, native basic auth
        mkdir auth
        docker run --entrypoint htpasswd httpd:2 -Bbn testuser testpassword > auth/htpasswd
        docker run -d -p 5000:5000 --name registry \\
          -v "$(pwd)"/auth:/auth \\
          -e "REGISTRY_AUTH=htpasswd" \\
          -e "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm" \\
          -e REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd \\
          registry:2
        docker login localhost:5000   # testuser / testpassword
        """))


@clean("vendor_doc_examples")
def v_boto_docs():
    return dict(lang="python", text=T("""
        # boto3 "Credentials" guide, passing credentials as parameters (discouraged):
        client = boto3.client(
            "s3",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            aws_session_token="AQoDYXdzEJr...<remainder of security token>",
        )
        """))


# ---------------------------------------------------------------- lockfile_hashes
NPM_PKGS = ["@babel/core", "esbuild", "picocolors", "nanoid", "postcss", "zod", "undici", "semver",
            "@types/node", "debug", "ms", "chalk", "ws", "tslib", "fast-glob", "yaml"]
CRATES = ["serde", "tokio", "hashbrown", "aho-corasick", "memchr", "regex-automata", "bytes",
          "zeroize", "subtle", "ring", "sha2", "base64", "itoa", "libc", "syn", "quote"]
GOMODS = ["github.com/google/uuid", "golang.org/x/crypto", "github.com/jackc/pgx/v5",
          "go.uber.org/zap", "github.com/spf13/cobra", "golang.org/x/sync", "github.com/stretchr/testify"]
PYPKGS = ["cryptography", "certifi", "idna", "urllib3", "requests", "pydantic-core", "charset-normalizer", "anyio"]


def ver():
    return f"{ri(0, 9)}.{ri(0, 30)}.{ri(0, 20)}"


@clean("lockfile_hashes")
def l_package_lock():
    parts = []
    for p in R.sample(NPM_PKGS, ri(3, 5)):
        v = ver()
        base = p.split("/")[-1]
        parts.append(T("""
            "node_modules/@@p@@": {
              "version": "@@v@@",
              "resolved": "https://registry.npmjs.org/@@p@@/-/@@b@@-@@v@@.tgz",
              "integrity": "@@i@@",
              "dev": true
            }""", p=p, v=v, b=base, i=sha512i()))
    return dict(lang="json", path="package-lock.json", cmd="sed -n '120,150p' package-lock.json", text=",\n".join(parts))


@clean("lockfile_hashes")
def l_yarn_v1():
    out = []
    for p in R.sample(NPM_PKGS, ri(3, 4)):
        v = ver()
        base = p.split("/")[-1]
        out.append(T("""
            "@@p@@@^@@v@@":
              version "@@v@@"
              resolved "https://registry.yarnpkg.com/@@p@@/-/@@b@@-@@v@@.tgz#@@sha1@@"
              integrity @@i@@
            """, p=p, v=v, b=base, sha1=hexs(40), i=pick([sha512i(), "sha1-" + b64b(20)])))
    return dict(lang="", path="yarn.lock", text="\n\n".join(out))


@clean("lockfile_hashes")
def l_pnpm():
    out = ["packages:", ""]
    for p in R.sample(NPM_PKGS, ri(3, 5)):
        out.append(f"  {p}@{ver()}:")
        out.append(f"    resolution: {{integrity: {sha512i()}}}")
        out.append(f"    engines: {{node: '>={ri(12, 20)}'}}")
        out.append("")
    return dict(lang="yaml", path="pnpm-lock.yaml", text="\n".join(out).rstrip())


@clean("lockfile_hashes")
def l_cargo_lock():
    out = []
    for c in R.sample(CRATES, ri(3, 5)):
        out.append(T("""
            [[package]]
            name = "@@c@@"
            version = "@@v@@"
            source = "registry+https://github.com/rust-lang/crates.io-index"
            checksum = "@@h@@"
            """, c=c, v=ver(), h=hexs(64)))
    return dict(lang="toml", path="Cargo.lock", text="\n\n".join(out))


@clean("lockfile_hashes")
def l_go_sum():
    out = []
    for m in R.sample(GOMODS, ri(4, 6)):
        v = "v" + ver()
        out.append(f"{m} {v} {h1()}")
        out.append(f"{m} {v}/go.mod {h1()}")
    return dict(lang="", path="go.sum", cmd="git diff --stat && git diff go.sum | head -30", text="\n".join(out))


@clean("lockfile_hashes")
def l_pip_hashes():
    out = ["# This file is autogenerated by pip-compile with Python 3.12",
           "#    pip-compile --generate-hashes requirements.in", "#"]
    for p in R.sample(PYPKGS, ri(3, 4)):
        out.append(f"{p}=={ver()} \\")
        for _ in range(ri(2, 3)):
            out.append(f"    --hash=sha256:{hexs(64)} \\")
        out[-1] = out[-1][:-2]
        out.append(f"    # via -r requirements.in")
    return dict(lang="", path="requirements.txt", text="\n".join(out))


@clean("lockfile_hashes")
def l_poetry():
    p = pick(PYPKGS)
    v = ver()
    return dict(lang="toml", path="poetry.lock", text=T("""
        [[package]]
        name = "@@p@@"
        version = "@@v@@"
        description = ""
        optional = false
        python-versions = ">=3.8"
        files = [
            {file = "@@pu@@-@@v@@-cp311-cp311-manylinux_2_17_x86_64.whl", hash = "sha256:@@a@@"},
            {file = "@@pu@@-@@v@@-cp312-cp312-macosx_11_0_arm64.whl", hash = "sha256:@@b@@"},
            {file = "@@pu@@-@@v@@.tar.gz", hash = "sha256:@@c@@"},
        ]

        [metadata]
        lock-version = "2.0"
        python-versions = "^3.11"
        content-hash = "@@d@@"
        """, p=p, pu=p.replace("-", "_"), v=v, a=hexs(64), b=hexs(64), c=hexs(64), d=hexs(64)))


@clean("lockfile_hashes")
def l_pipfile_lock():
    p = pick(PYPKGS)
    return dict(lang="json", path="Pipfile.lock", text=T("""
        {
            "_meta": {
                "hash": {
                    "sha256": "@@m@@"
                },
                "pipfile-spec": 6,
                "requires": {"python_version": "3.11"}
            },
            "default": {
                "@@p@@": {
                    "hashes": [
                        "sha256:@@a@@",
                        "sha256:@@b@@"
                    ],
                    "markers": "python_version >= '3.8'",
                    "version": "==@@v@@"
                }
            }
        }
        """, m=hexs(64), p=p, a=hexs(64), b=hexs(64), v=ver()))


@clean("lockfile_hashes")
def l_composer():
    return dict(lang="json", path="composer.lock", text=T("""
        {
            "content-hash": "@@ch@@",
            "packages": [
                {
                    "name": "guzzlehttp/guzzle",
                    "version": "7.@@m@@.0",
                    "source": {
                        "type": "git",
                        "url": "https://github.com/guzzle/guzzle.git",
                        "reference": "@@ref@@"
                    },
                    "dist": {
                        "type": "zip",
                        "url": "https://api.github.com/repos/guzzle/guzzle/zipball/@@ref@@",
                        "reference": "@@ref@@",
                        "shasum": ""
                    }
                }
            ]
        }
        """, ch=hexs(32), m=ri(4, 9), ref=gitsha()))


@clean("lockfile_hashes")
def l_flake_lock():
    return dict(lang="json", path="flake.lock", text=T("""
        {
          "nodes": {
            "nixpkgs": {
              "locked": {
                "lastModified": @@lm@@,
                "narHash": "sha256-@@nh@@",
                "owner": "NixOS",
                "repo": "nixpkgs",
                "rev": "@@rev@@",
                "type": "github"
              },
              "original": { "owner": "NixOS", "ref": "nixos-unstable", "repo": "nixpkgs", "type": "github" }
            }
          },
          "root": "root",
          "version": 7
        }
        """, lm=ri(1_700_000_000, 1_760_000_000), nh=b64b(32), rev=gitsha()))


@clean("lockfile_hashes")
def l_terraform_lock():
    hs = "\n".join(f'    "zh:{hexs(64)}",' for _ in range(ri(3, 5)))
    return dict(lang="hcl", path=".terraform.lock.hcl", text=T("""
        # This file is maintained automatically by "terraform init".
        # Manual edits may be lost in future updates.

        provider "registry.terraform.io/hashicorp/aws" {
          version     = "5.@@m@@.0"
          constraints = "~> 5.0"
          hashes = [
            "h1:@@h1@@",
        @@hs@@
          ]
        }
        """, m=ri(10, 80), h1=b64b(32), hs=hs))


@clean("lockfile_hashes")
def l_podfile_lock():
    pods = R.sample(["Alamofire", "SDWebImage", "Firebase", "KeychainAccess", "SwiftLint", "Sentry", "Kingfisher"], 4)
    lines = "\n".join(f"  {p}: {hexs(40)}" for p in pods)
    return dict(lang="yaml", path="ios/Podfile.lock", text=T("""
        SPEC CHECKSUMS:
        @@lines@@

        PODFILE CHECKSUM: @@pc@@

        COCOAPODS: 1.15.2
        """, lines=lines, pc=hexs(40)))


@clean("lockfile_hashes")
def l_gradle_verification():
    return dict(lang="xml", path="gradle/verification-metadata.xml", text=T("""
        <component group="com.squareup.okhttp3" name="okhttp" version="4.12.0">
           <artifact name="okhttp-4.12.0.jar">
              <sha256 value="@@a@@" origin="Generated by Gradle"/>
           </artifact>
           <artifact name="okhttp-4.12.0.module">
              <sha256 value="@@b@@" origin="Generated by Gradle"/>
           </artifact>
        </component>
        <component group="org.bouncycastle" name="bcprov-jdk18on" version="1.78.1">
           <artifact name="bcprov-jdk18on-1.78.1.jar">
              <sha256 value="@@c@@" origin="Generated by Gradle"/>
              <pgp value="@@fp@@"/>
           </artifact>
        </component>
        """, a=hexs(64), b=hexs(64), c=hexs(64), fp=hexs(40).upper()))


@clean("lockfile_hashes")
def l_nuget_lock():
    return dict(lang="json", path="packages.lock.json", text=T("""
        {
          "version": 1,
          "dependencies": {
            "net8.0": {
              "Microsoft.Extensions.Configuration.UserSecrets": {
                "type": "Direct",
                "requested": "[8.0.0, )",
                "resolved": "8.0.0",
                "contentHash": "@@a@@"
              },
              "Azure.Security.KeyVault.Secrets": {
                "type": "Direct",
                "requested": "[4.6.0, )",
                "resolved": "4.6.0",
                "contentHash": "@@b@@"
              }
            }
          }
        }
        """, a=b64b(64), b=b64b(64)))


@clean("lockfile_hashes")
def l_uv_lock():
    p = pick(PYPKGS)
    v = ver()
    return dict(lang="toml", path="uv.lock", text=T("""
        [[package]]
        name = "@@p@@"
        version = "@@v@@"
        source = { registry = "https://pypi.org/simple" }
        sdist = { url = "https://files.pythonhosted.org/packages/@@d1@@/@@d2@@/@@d3@@/@@pu@@-@@v@@.tar.gz", hash = "sha256:@@a@@", size = @@sz@@ }
        wheels = [
            { url = "https://files.pythonhosted.org/packages/@@e1@@/@@e2@@/@@e3@@/@@pu@@-@@v@@-py3-none-any.whl", hash = "sha256:@@b@@", size = @@sz2@@ },
        ]
        """, p=p, pu=p.replace("-", "_"), v=v, d1=hexs(2), d2=hexs(2), d3=hexs(60), e1=hexs(2), e2=hexs(2),
             e3=hexs(60), a=hexs(64), b=hexs(64), sz=ri(10**4, 10**6), sz2=ri(10**4, 10**6)))


@clean("lockfile_hashes")
def l_gemfile_checksums():
    gems = R.sample(["rack", "nokogiri", "bcrypt", "jwt", "devise", "puma", "pg", "rotp"], 4)
    lines = "\n".join(f"  {g} ({ver()}) sha256={hexs(64)}" for g in gems)
    return dict(lang="", path="Gemfile.lock", text=T("""
        CHECKSUMS
        @@lines@@

        BUNDLED WITH
           2.5.@@m@@
        """, lines=lines, m=ri(1, 20)))


@clean("lockfile_hashes")
def l_helm_chart_lock():
    return dict(lang="yaml", path="charts/app/Chart.lock", text=T("""
        dependencies:
        - name: postgresql
          repository: oci://registry-1.docker.io/bitnamicharts
          version: 15.@@a@@.@@b@@
        - name: redis
          repository: oci://registry-1.docker.io/bitnamicharts
          version: 19.@@c@@.0
        digest: sha256:@@d@@
        generated: "@@ts@@"
        """, a=ri(0, 5), b=ri(0, 9), c=ri(0, 6), d=hexs(64), ts=ts()))


# ---------------------------------------------------------------- vcs_digests
COMMIT_MSGS = ["fix(auth): refresh token rotation race", "chore: bump zod to 3.23", "feat: add webhook signing",
               "refactor secrets loader to read from files", "Remove hardcoded API key from example config",
               "ci: use OIDC instead of long-lived AWS keys", "docs: explain SECRET_KEY_BASE", "test: cover expired tokens",
               "Merge pull request #@@n@@ from @@o@@/rotate-credentials", "revert \"store session secret in env\""]


@clean("vcs_digests")
def g_git_log_oneline():
    lines = []
    for _ in range(ri(6, 10)):
        m = pick(COMMIT_MSGS).replace("@@n@@", str(ri(100, 2000))).replace("@@o@@", pick(PEOPLE))
        lines.append(f"{hexs(pick([7, 8, 9]))} {m}")
    return dict(lang="", cmd="git log --oneline -n 10", text="\n".join(lines))


@clean("vcs_digests")
def g_git_log_full():
    out = []
    for _ in range(ri(2, 3)):
        p = pick(PEOPLE)
        out.append(T("""
            commit @@sha@@
            Author: @@P@@ <@@p@@@@@o@@.io>
            Date:   @@d@@

                @@m@@
            """, sha=gitsha(), P=p.capitalize(), p=p, o=org(), d=pick(["Mon", "Tue", "Wed", "Thu"]) + f" Mar {ri(1, 28)} {ri(8, 20)}:{ri(10, 59)}:{ri(10, 59)} 2025 +0100",
                   m=pick(COMMIT_MSGS).replace("@@n@@", str(ri(100, 2000))).replace("@@o@@", pick(PEOPLE))))
    return dict(lang="", cmd="git log -n 3", text="\n\n".join(out))


@clean("vcs_digests")
def g_docker_pull():
    img = pick(["postgres:16", "node:20-alpine", "redis:7", "python:3.12-slim", "nginx:1.27"])
    layers = "\n".join(f"{hexs(12)}: Pull complete" for _ in range(ri(4, 7)))
    return dict(lang="", cmd=f"docker pull {img}", text=T("""
        @@tag@@: Pulling from library/@@name@@
        @@layers@@
        Digest: sha256:@@d@@
        Status: Downloaded newer image for @@img@@
        docker.io/library/@@img@@
        """, tag=img.split(":")[1], name=img.split(":")[0], layers=layers, d=hexs(64), img=img))


@clean("vcs_digests")
def g_docker_images():
    rows = []
    for r in R.sample(["ghcr.io/%s/api" % org(), "ghcr.io/%s/worker" % org(), "postgres", "redis", "grafana/grafana"], 4):
        rows.append(f"{r:<28}{pick(['latest', '16', '7.2', 'v1.' + str(ri(1, 40))]):<10}sha256:{hexs(64)}   {hexs(12)}   {ri(2, 9)} days ago   {ri(40, 900)}MB")
    return dict(lang="", cmd="docker images --digests", text="REPOSITORY                  TAG       DIGEST                                                                    IMAGE ID       CREATED       SIZE\n" + "\n".join(rows))


@clean("vcs_digests")
def g_etag_curl():
    return dict(lang="", cmd=f"curl -sI https://cdn.{org()}.io/assets/app.js", text=T("""
        HTTP/2 200
        content-type: application/javascript
        content-length: @@cl@@
        etag: "@@etag@@"
        last-modified: Tue, @@d@@ Mar 2025 09:12:44 GMT
        x-amz-id-2: @@id2@@
        x-amz-request-id: @@rid@@
        x-amz-version-id: @@vid@@
        x-cache: Hit from cloudfront
        x-amz-cf-id: @@cf@@
        cache-control: public, max-age=31536000, immutable
        """, cl=ri(10**4, 10**6), etag=hexs(32), d=ri(10, 28), id2=b64b(57), rid=rs(UPNUM, 16),
             vid=rs(ALNUM + "._", 32), cf=b64u(42) + "=="))


@clean("vcs_digests")
def g_sha256sums():
    v = f"v{ri(0, 3)}.{ri(1, 30)}.{ri(0, 9)}"
    tool = pick(["hanctl", "kestrel", "lark", "tidectl"])
    lines = "\n".join(f"{hexs(64)}  {tool}_{v[1:]}_{os_}.tar.gz" for os_ in ["darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64", "windows_amd64"])
    return dict(lang="", cmd=f"curl -sL https://github.com/{org()}/{tool}/releases/download/{v}/checksums.txt", text=lines)


@clean("vcs_digests")
def g_git_rev_parse():
    b = pick(["main", "release/2025.03", "feat/rotate-keys"])
    return dict(lang="", text=T("""
        $ git rev-parse HEAD
        @@a@@
        $ git merge-base HEAD origin/main
        @@b@@
        $ git ls-remote origin 'refs/tags/v1.*'
        @@c@@	refs/tags/v1.@@m@@.0
        @@d@@	refs/tags/v1.@@m@@.0^{}
        $ git cat-file -p HEAD | head -3
        tree @@e@@
        parent @@b@@
        author @@P@@ <@@p@@@users.noreply.github.com> @@t@@ +0000
        """, a=gitsha(), b=gitsha(), c=gitsha(), d=gitsha(), m=ri(1, 30), e=gitsha(), P=pick(PEOPLE).capitalize(), p=pick(PEOPLE), t=ri(1_700_000_000, 1_760_000_000)))


@clean("vcs_digests")
def g_kubectl_image_ids():
    s = svc()
    return dict(lang="", cmd=f"kubectl get pods -l app={s} -o jsonpath='{{range .items[*]}}{{.status.containerStatuses[0].imageID}}{{\"\\n\"}}{{end}}'",
                text="\n".join(f"ghcr.io/{org()}/{s}@sha256:{hexs(64)}" for _ in range(ri(2, 4))))


@clean("vcs_digests")
def g_npm_publish():
    n = pick(["@%s/sdk" % org(), "@%s/config" % org()])
    return dict(lang="", cmd="npm publish --access public", text=T("""
        npm notice
        npm notice package: @@n@@@@@v@@
        npm notice === Tarball Contents ===
        npm notice 1.1kB README.md
        npm notice @@kb@@kB dist/index.js
        npm notice === Tarball Details ===
        npm notice name:          @@n@@
        npm notice version:       @@v@@
        npm notice filename:      @@f@@-@@v@@.tgz
        npm notice package size:  @@kb@@.4 kB
        npm notice shasum:        @@sha@@
        npm notice integrity:     sha512-@@i@@[...]@@j@@==
        npm notice total files:   4
        + @@n@@@@@v@@
        """, n=n, v=ver(), kb=ri(3, 40), f=n.replace("@", "").replace("/", "-"), sha=hexs(40), i=b64b(10)[:14], j=b64b(6)[:6]))


@clean("vcs_digests")
def g_ipfs_eth():
    return dict(lang="", text=T("""
        pinned: bafybei@@cid@@ (@@kb@@ KiB) -> ipfs://bafybei@@cid@@/metadata.json
        contract deployed at 0x@@addr@@ in tx 0x@@tx@@
        block 0x@@blk@@ (#@@bn@@), gas used @@gas@@
        """, cid=rs("abcdefghijklmnopqrstuvwxyz234567", 52), kb=ri(1, 900), addr=hexs(40), tx=hexs(64), blk=hexs(64), bn=ri(10**7, 2 * 10**7), gas=ri(21000, 900000)))


@clean("vcs_digests")
def g_git_diff_submodule():
    return dict(lang="diff", cmd="git diff vendor/", text=T("""
        diff --git a/vendor/libsodium b/vendor/libsodium
        index @@a@@..@@b@@ 160000
        --- a/vendor/libsodium
        +++ b/vendor/libsodium
        @@ -1 +1 @@
        -Subproject commit @@c@@
        +Subproject commit @@d@@
        diff --git a/assets/logo.png b/assets/logo.png
        index @@e@@..@@f@@ 100644
        GIT binary patch
        literal @@n@@
        zc$@@z1@@
        @@z2@@
        """, a=hexs(7), b=hexs(7), c=gitsha(), d=gitsha(), e=hexs(7), f=hexs(7), n=ri(1000, 9000),
             z1=rs(ALNUM + "!#$%&()*+-;<=>?@^_`{|}~", 60), z2=rs(ALNUM + "!#$%&()*+-;<=>?@^_`{|}~", 60)))


@clean("vcs_digests")
def g_github_actions_log():
    return dict(lang="", text=T("""
        2025-03-@@d@@T10:11:@@s@@.1234567Z ##[group]Run actions/checkout@@@sha@@
        2025-03-@@d@@T10:11:@@s@@.1345678Z with:
        2025-03-@@d@@T10:11:@@s@@.1345678Z   token: ***
        2025-03-@@d@@T10:11:@@s@@.1345678Z   ssh-strict: true
        2025-03-@@d@@T10:11:@@s@@.1345678Z ##[endgroup]
        2025-03-@@d@@T10:11:@@s@@.2456789Z Syncing repository: @@o@@/@@r@@
        2025-03-@@d@@T10:11:@@s@@.3567890Z [command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --no-recurse-submodules --depth=1 origin +@@head@@:refs/remotes/origin/main
        2025-03-@@d@@T10:11:@@s@@.4678901Z  * [new ref]         @@head@@ -> origin/main
        2025-03-@@d@@T10:11:@@s@@.5789012Z HEAD is now at @@short@@ @@m@@
        2025-03-@@d@@T10:12:01.0000000Z #12 exporting manifest sha256:@@man@@ done
        2025-03-@@d@@T10:12:01.1000000Z #12 exporting config sha256:@@cfg@@ done
        """, d=f"{ri(1, 28):02d}", s=f"{ri(10, 59)}", sha=gitsha(), o=org(), r=svc(), head=(h := gitsha()), short=h[:7],
             m=pick(COMMIT_MSGS[:8]), man=hexs(64), cfg=hexs(64)))


# ---------------------------------------------------------------- infra_ids
def acct():
    return str(ri(10**11, 10**12 - 1))


@clean("infra_ids")
def i_tf_plan():
    a, r, s = acct(), pick(REGIONS), svc()
    return dict(lang="", cmd="terraform plan -no-color | sed -n '1,30p'", text=T("""
        aws_iam_access_key.ci: Refreshing state... [id=@@akid@@]
        aws_secretsmanager_secret.db: Refreshing state... [id=arn:aws:secretsmanager:@@r@@:@@a@@:secret:@@s@@/prod/db-@@sfx@@]
        aws_kms_key.data: Refreshing state... [id=@@kid@@]
        aws_instance.bastion: Refreshing state... [id=i-0@@iid@@]

          # aws_secretsmanager_secret_version.db will be updated in-place
          ~ resource "aws_secretsmanager_secret_version" "db" {
                id             = "arn:aws:secretsmanager:@@r@@:@@a@@:secret:@@s@@/prod/db-@@sfx@@|@@ver@@"
              ~ secret_string  = (sensitive value)
                version_id     = "@@ver@@"
                # (2 unchanged attributes hidden)
            }

          # aws_iam_access_key.ci must be replaced
        -/+ resource "aws_iam_access_key" "ci" {
              ~ id                             = "@@akid@@" -> (known after apply)
              ~ secret                         = (sensitive value)
              ~ ses_smtp_password_v4           = (sensitive value)
                user                           = "ci-@@s@@"
            }

        Plan: 1 to add, 1 to change, 1 to destroy.
        """, akid="AKIA" + "I" + pick(["OSFODNN7EXAMPLE", "44QH8DHBEXAMPLE"]), r=r, a=a, s=s, sfx=rs(ALNUM, 6), kid=uuid4(), iid=hexs(16), ver=uuid4()))


@clean("infra_ids")
def i_ec2_describe():
    r = pick(REGIONS)
    return dict(lang="json", cmd=f"aws ec2 describe-instances --region {r} --query 'Reservations[].Instances[]' --output json | head -30", text=T("""
        [
            {
                "InstanceId": "i-0@@iid@@",
                "ImageId": "ami-0@@ami@@",
                "InstanceType": "t3.medium",
                "KeyName": "deploy-@@r@@",
                "SubnetId": "subnet-0@@sub@@",
                "VpcId": "vpc-0@@vpc@@",
                "SecurityGroups": [{"GroupName": "@@s@@-sg", "GroupId": "sg-0@@sg@@"}],
                "IamInstanceProfile": {"Arn": "arn:aws:iam::@@a@@:instance-profile/@@s@@-node", "Id": "AIPA@@aipa@@"},
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": "vol-0@@vol@@", "Status": "attached"}}],
                "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0@@eni@@", "MacAddress": "0a:@@mac@@"}]
            }
        ]
        """, iid=hexs(16), ami=hexs(16), r=r, sub=hexs(16), vpc=hexs(16), s=svc(), sg=hexs(16), a=acct(),
             aipa=rs(B32, 17), vol=hexs(16), eni=hexs(16), mac=":".join(hexs(2) for _ in range(5))))


@clean("infra_ids")
def i_request_ids_log():
    lines = []
    for _ in range(ri(5, 8)):
        lines.append(f'{ts()} level=info msg="request finished" method={pick(["GET", "POST", "PUT"])} path=/v1/{pick(["orders", "tokens", "keys", "secrets", "sessions"])}/{uuid4()} status={pick([200, 201, 204, 401, 404])} request_id={uuid4()} trace_id={hexs(32)} span_id={hexs(16)} dur={ri(2, 900)}ms')
    return dict(lang="", cmd=f"kubectl logs deploy/{svc()}-api --since=5m | tail -8", text="\n".join(lines))


@clean("infra_ids")
def i_kubectl_get_secrets():
    s = svc()
    rows = [f"{s}-db-credentials              Opaque                                3      {ri(2, 90)}d",
            f"{s}-tls                         kubernetes.io/tls                     2      {ri(2, 90)}d",
            f"sh.helm.release.v1.{s}.v{ri(2, 40)}       helm.sh/release.v1                    1      {ri(1, 30)}h",
            f"regcred                           kubernetes.io/dockerconfigjson        1      {ri(100, 400)}d",
            f"{s}-token-{rs(LOWNUM, 5)}              kubernetes.io/service-account-token   3      {ri(100, 400)}d"]
    return dict(lang="", cmd=f"kubectl get secrets -n {s}", text="NAME                              TYPE                                  DATA   AGE\n" + "\n".join(rows))


@clean("infra_ids")
def i_k8s_metadata():
    s = svc()
    return dict(lang="yaml", cmd=f"kubectl get secret {s}-db-credentials -o yaml | yq '.metadata'", text=T("""
        creationTimestamp: "@@t@@"
        labels:
          app.kubernetes.io/managed-by: external-secrets
        annotations:
          reconcile.external-secrets.io/data-hash: @@dh@@
        name: @@s@@-db-credentials
        namespace: @@s@@
        ownerReferences:
          - apiVersion: external-secrets.io/v1beta1
            kind: ExternalSecret
            name: @@s@@-db-credentials
            uid: @@u1@@
        resourceVersion: "@@rv@@"
        uid: @@u2@@
        """, t=ts()[:19] + "Z", dh=hexs(32), s=s, u1=uuid4(), rv=ri(10**6, 10**9), u2=uuid4()))


@clean("infra_ids")
def i_gcloud_sa_list():
    p = f"{org()}-prod-{ri(100, 999)}"
    rows = []
    for n in R.sample(["ci-deployer", "cloud-run-api", "bq-exporter", "secret-accessor", "backup"], 3):
        rows.append(f"{n:<20}{n}@{p}.iam.gserviceaccount.com        {ri(10**20, 10**21 - 1)}   False")
    keys = "\n".join(f"{hexs(40)}  {ts()[:19]}Z  9999-12-31T23:59:59Z  SYSTEM_MANAGED" for _ in range(2))
    return dict(lang="", text=f"$ gcloud iam service-accounts list --project {p}\nDISPLAY NAME        EMAIL                                              UNIQUE_ID               DISABLED\n"
                + "\n".join(rows) + f"\n$ gcloud iam service-accounts keys list --iam-account ci-deployer@{p}.iam.gserviceaccount.com\nKEY_ID                                    CREATED_AT            EXPIRES_AT            KEY_TYPE\n" + keys)


@clean("infra_ids")
def i_az_output():
    return dict(lang="json", cmd="az keyvault secret show --vault-name kv-%s-prod --name sql-admin-password --query '{id:id, attributes:attributes}'" % org(), text=T("""
        {
          "attributes": {
            "created": "@@t1@@",
            "enabled": true,
            "expires": null,
            "recoveryLevel": "Recoverable+Purgeable",
            "updated": "@@t2@@"
          },
          "id": "https://kv-@@o@@-prod.vault.azure.net/secrets/sql-admin-password/@@v@@"
        }
        """, t1=ts()[:19] + "+00:00", t2=ts()[:19] + "+00:00", o=org(), v=hexs(32)))


@clean("infra_ids")
def i_cloudtrail():
    a = acct()
    return dict(lang="json", path="cloudtrail-event.json", text=T("""
        {
          "eventVersion": "1.09",
          "eventSource": "secretsmanager.amazonaws.com",
          "eventName": "GetSecretValue",
          "awsRegion": "@@r@@",
          "sourceIPAddress": "@@ip@@",
          "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROA@@aroa@@:@@s@@-task",
            "arn": "arn:aws:sts::@@a@@:assumed-role/@@s@@-task/@@sess@@",
            "accountId": "@@a@@"
          },
          "requestParameters": {"secretId": "arn:aws:secretsmanager:@@r@@:@@a@@:secret:@@s@@/prod/db-@@sfx@@"},
          "responseElements": null,
          "requestID": "@@rq@@",
          "eventID": "@@ev@@",
          "readOnly": true
        }
        """, r=pick(REGIONS), ip=ip(), aroa=rs(B32, 17), s=svc(), a=a, sess=hexs(32), sfx=rs(ALNUM, 6), rq=uuid4(), ev=uuid4()))


@clean("infra_ids")
def i_stripe_objects():
    return dict(lang="json", cmd="stripe events list --limit 1", text=T("""
        {
          "object": "list",
          "data": [
            {
              "id": "evt_1@@e@@",
              "object": "event",
              "api_version": "2024-06-20",
              "created": @@c@@,
              "data": {"object": {"id": "pi_3@@pi@@", "object": "payment_intent", "amount": @@amt@@, "customer": "cus_@@cus@@", "latest_charge": "ch_3@@ch@@", "payment_method": "pm_1@@pm@@"}},
              "request": {"id": "req_@@rq@@", "idempotency_key": "@@ik@@"},
              "type": "payment_intent.succeeded"
            }
          ],
          "has_more": true
        }
        """, e=rs(ALNUM, 23), c=ri(1_700_000_000, 1_760_000_000), pi=rs(ALNUM, 23), amt=ri(100, 90000), cus=rs(ALNUM, 14),
             ch=rs(ALNUM, 23), pm=rs(ALNUM, 23), rq=rs(ALNUM, 14), ik=uuid4()))


@clean("infra_ids")
def i_s3_keys():
    b = f"{org()}-{pick(['uploads', 'artifacts', 'backups'])}"
    rows = "\n".join(f"{ts()[:10]} {ri(0, 23):02d}:{ri(0, 59):02d}:{ri(0, 59):02d} {ri(1000, 9999999):>10} {pick(['tenants', 'u', 'objects'])}/{uuid4()}/{hexs(2)}/{hexs(64)}.{pick(['pdf', 'png', 'json.gz'])}" for _ in range(ri(4, 7)))
    return dict(lang="", cmd=f"aws s3 ls s3://{b}/ --recursive | head", text=rows)


@clean("infra_ids")
def i_rds_events():
    return dict(lang="", text=T("""
        $ aws rds describe-db-instances --db-instance-identifier @@s@@-prod --query 'DBInstances[0].[DbiResourceId,MasterUserSecret]'
        [
            "db-@@dbi@@",
            {
                "SecretArn": "arn:aws:secretsmanager:@@r@@:@@a@@:secret:rds!db-@@u@@-@@sfx@@",
                "SecretStatus": "active",
                "KmsKeyId": "arn:aws:kms:@@r@@:@@a@@:key/@@kid@@"
            }
        ]
        """, s=svc(), dbi=rs(UPNUM, 26), r=pick(REGIONS), a=acct(), u=uuid4(), sfx=rs(ALNUM, 6), kid=uuid4()))


@clean("infra_ids")
def i_sentry_otel():
    return dict(lang="", text=T("""
        Sentry issue @@P@@-@@n@@: TimeoutError in @@s@@.tasks.sync_tokens
          event_id: @@ev@@
          trace: @@tr@@  span: @@sp@@
          release: @@s@@@@@sha@@
          environment: production   server_name: ip-@@ipd@@.@@r@@.compute.internal
        traceparent: 00-@@tr@@-@@sp@@-01
        baggage: sentry-trace_id=@@tr@@,sentry-public_key=@@pk@@,sentry-release=@@s@@%40@@sha@@
        """, P=svc().upper()[:4], n=ri(100, 9999), s=svc(), ev=hexs(32), tr=hexs(32), sp=hexs(16), sha=gitsha(),
             ipd="-".join(str(ri(1, 254)) for _ in range(4)), r=pick(REGIONS), pk=hexs(32)))


@clean("infra_ids")
def i_uuid_psql():
    rows = "\n".join(f" {uuid4()} | {pick(['api', 'cli', 'ci'])}-{pick(PEOPLE)} | {hexs(8)}    | {ts()[:19].replace('T', ' ')}+00 | {pick(['', ts()[:19].replace('T', ' ') + '+00'])}" for _ in range(ri(4, 6)))
    return dict(lang="", cmd="psql -c 'select id, name, token_prefix, created_at, revoked_at from api_tokens order by created_at desc limit 6'",
                text="                  id                  |    name     | token_prefix |       created_at       |       revoked_at\n--------------------------------------+-------------+--------------+------------------------+------------------------\n" + rows + f"\n({rows.count(chr(10)) + 1} rows)")


# ---------------------------------------------------------------- public_key_material
def cert_body(n_lines):
    raw = "MII" + rs("BCDEF", 1) + rs(ALNUM, 1) + "zCCA" + rs(ALNUM, 2) + "gAwIBAgI" + b64b(48 * n_lines)
    raw = raw[:64 * n_lines - 20] + "=="
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


def pubkey_body():
    raw = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + b64b(280)[:340] + "IDAQAB"
    return [raw[i:i + 64] for i in range(0, len(raw), 64)]


@clean("public_key_material")
def p_cert_pem():
    body = "\n".join(cert_body(ri(10, 16)))
    return dict(lang="", cmd=f"openssl s_client -connect api.{org()}.io:443 -showcerts </dev/null 2>/dev/null | sed -n '/BEGIN/,/END/p'",
                text=f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----")


@clean("public_key_material")
def p_public_key_pem():
    body = "\n".join(pubkey_body())
    return dict(lang="", path="keys/jwt-verify.pub.pem", text=f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----")


def ed25519_pub():
    return "AAAAC3NzaC1lZDI1NTE5AAAAI" + b64b(33)[1:44]


def rsa_pub():
    return "AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + b64b(380)[:508]


@clean("public_key_material")
def p_authorized_keys():
    lines = []
    for p in R.sample(PEOPLE, ri(3, 4)):
        lines.append(pick([f"ssh-ed25519 {ed25519_pub()} {p}@{org()}-laptop",
                           f"ssh-rsa {rsa_pub()[:120]}{b64b(60)[:80]} {p}@workstation",
                           f'no-port-forwarding,command="/usr/local/bin/backup-only" ssh-ed25519 {ed25519_pub()} backup@{p}']))
    return dict(lang="", path="~/.ssh/authorized_keys", text="\n".join(lines))


@clean("public_key_material")
def p_known_hosts():
    lines = [f"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
             f"|1|{b64b(20)}|{b64b(20)} ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB{b64b(64)[:86]}=",
             f"[bastion.{org()}.internal]:2222 ssh-ed25519 {ed25519_pub()}",
             f"|1|{b64b(20)}|{b64b(20)} ssh-ed25519 {ed25519_pub()}"]
    R.shuffle(lines)
    return dict(lang="", cmd="cat ~/.ssh/known_hosts", text="\n".join(lines))


@clean("public_key_material")
def p_ssh_keygen_output():
    p = pick(PEOPLE)
    return dict(lang="", text=T("""
        $ ssh-keygen -t ed25519 -C "@@p@@@@@o@@.io" -f ~/.ssh/id_@@o@@
        Generating public/private ed25519 key pair.
        Enter passphrase (empty for no passphrase):
        Enter same passphrase again:
        Your identification has been saved in /home/@@p@@/.ssh/id_@@o@@
        Your public key has been saved in /home/@@p@@/.ssh/id_@@o@@.pub
        The key fingerprint is:
        SHA256:@@fp@@ @@p@@@@@o@@.io
        $ cat ~/.ssh/id_@@o@@.pub
        ssh-ed25519 @@pub@@ @@p@@@@@o@@.io
        """, p=p, o=org(), fp=b64b(32).rstrip("="), pub=ed25519_pub()))


@clean("public_key_material")
def p_gpg_pub_block():
    body = "\n".join(b64b(48) for _ in range(ri(8, 14)))
    return dict(lang="", cmd=f"gpg --armor --export {pick(PEOPLE)}@{org()}.io", text=T("""
        -----BEGIN PGP PUBLIC KEY BLOCK-----

        mDMEZ@@a@@
        @@body@@
        =@@crc@@
        -----END PGP PUBLIC KEY BLOCK-----
        """, a=b64b(45), body=body, crc=b64b(3)))


@clean("public_key_material")
def p_gpg_list():
    p = pick(PEOPLE)
    fp = hexs(40).upper()
    return dict(lang="", cmd="gpg --list-keys --keyid-format long", text=T("""
        /home/@@p@@/.gnupg/pubring.kbx
        --------------------------------
        pub   ed25519/@@kid@@ 2024-@@m@@-11 [SC] [expires: 2027-@@m@@-11]
              @@fp@@
        uid                 [ultimate] @@P@@ <@@p@@@@@o@@.io>
        sub   cv25519/@@sk@@ 2024-@@m@@-11 [E] [expires: 2027-@@m@@-11]
        """, p=p, P=p.capitalize(), kid=fp[-16:], fp=fp, m=f"{ri(1, 12):02d}", o=org(), sk=hexs(16).upper()))


@clean("public_key_material")
def p_jwks():
    return dict(lang="json", cmd=f"curl -s https://auth.{org()}.io/.well-known/jwks.json | jq", text=T("""
        {
          "keys": [
            {
              "kty": "RSA",
              "use": "sig",
              "alg": "RS256",
              "kid": "@@kid@@",
              "n": "@@n@@",
              "e": "AQAB",
              "x5t": "@@x5t@@",
              "x5c": ["@@x5c@@"]
            },
            {
              "kty": "EC",
              "crv": "P-256",
              "kid": "@@kid2@@",
              "x": "@@x@@",
              "y": "@@y@@",
              "alg": "ES256"
            }
          ]
        }
        """, kid=hexs(40), n=b64u(256), x5t=b64u(20), x5c="".join(cert_body(6)), kid2=b64u(16), x=b64u(32), y=b64u(32)))


@clean("public_key_material")
def p_dkim():
    o = org()
    p = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + b64b(256)[:300] + "IDAQAB"
    return dict(lang="", cmd=f"dig +short TXT google._domainkey.{o}.io", text=f'"v=DKIM1; k=rsa; p={p[:250]}" "{p[250:]}"')


@clean("public_key_material")
def p_kubeconfig_ca():
    ca = base64.b64encode(("-----BEGIN CERTIFICATE-----\n" + "\n".join(cert_body(9)) + "\n-----END CERTIFICATE-----\n").encode()).decode()
    c = f"{org()}-prod"
    return dict(lang="yaml", path="~/.kube/config", text=T("""
        apiVersion: v1
        clusters:
        - cluster:
            certificate-authority-data: @@ca@@
            server: https://@@h@@.gr7.@@r@@.eks.amazonaws.com
          name: @@c@@
        contexts:
        - context: {cluster: @@c@@, user: @@c@@}
          name: @@c@@
        current-context: @@c@@
        users:
        - name: @@c@@
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              command: aws
              args: [eks, get-token, --cluster-name, @@c@@, --region, @@r@@]
        """, ca=ca, h=hexs(32).upper(), r=pick(REGIONS), c=c))


@clean("public_key_material")
def p_wireguard_peer():
    return dict(lang="ini", cmd="sudo wg show wg0", text=T("""
        interface: wg0
          public key: @@pub@@
          private key: (hidden)
          listening port: 51820

        peer: @@peer@@
          endpoint: @@ip@@:51820
          allowed ips: 10.8.0.@@n@@/32
          latest handshake: @@s@@ seconds ago
          transfer: @@rx@@ MiB received, @@tx@@ MiB sent
        """, pub=b64b(32), peer=b64b(32), ip=f"203.0.113.{ri(2, 250)}", n=ri(2, 250), s=ri(3, 110), rx=f"{R.uniform(1, 900):.2f}", tx=f"{R.uniform(1, 900):.2f}"))


@clean("public_key_material")
def p_age_minisign():
    return dict(lang="", text=T("""
        Release artifacts are signed with minisign. Verify with:

            minisign -Vm @@tool@@-@@v@@.tar.gz -P @@mp@@

        Backups are encrypted to these age recipients (public keys, safe to publish):

            age1@@a1@@
            age1@@a2@@
        """, tool=pick(["hanctl", "tidectl"]), v=ver(), mp="RWQ" + b64b(39)[:53],
             a1=rs("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58), a2=rs("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58)))


@clean("public_key_material")
def p_x509_text():
    mod = "\n".join("                    " + ":".join(hexs(2) for _ in range(15)) + ":" for _ in range(ri(5, 8)))
    return dict(lang="", cmd="openssl x509 -in server.crt -noout -text | sed -n '1,24p'", text=T("""
        Certificate:
            Data:
                Version: 3 (0x2)
                Serial Number:
                    @@serial@@
                Signature Algorithm: sha256WithRSAEncryption
                Issuer: C = US, O = Let's Encrypt, CN = R11
                Subject: CN = api.@@o@@.io
                Subject Public Key Info:
                    Public Key Algorithm: rsaEncryption
                        Public-Key: (2048 bit)
                        Modulus:
                            00:@@m0@@
        @@mod@@
                        Exponent: 65537 (0x10001)
                X509v3 Subject Key Identifier:
                    @@ski@@
        """, serial=":".join(hexs(2) for _ in range(18)), o=org(), m0=":".join(hexs(2) for _ in range(14)) + ":", mod=mod,
             ski=":".join(hexs(2).upper() for _ in range(20))))


@clean("public_key_material")
def p_cosign():
    return dict(lang="", path="cosign.pub", text="-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + b64b(48)[:28] + "\n" + b64b(48)[:56] + "==\n-----END PUBLIC KEY-----")


@clean("public_key_material")
def p_tls_secret_pub_only():
    crt = base64.b64encode(("-----BEGIN CERTIFICATE-----\n" + "\n".join(cert_body(7)) + "\n-----END CERTIFICATE-----\n").encode()).decode()
    return dict(lang="yaml", path="k8s/ca-bundle.yaml", text=T("""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: internal-ca-bundle
        data:
          ca.crt.b64: @@crt@@
          pin-sha256: "@@pin@@"
        """, crt=crt, pin=b64b(32)))


# ---------------------------------------------------------------- web_artifacts
@clean("web_artifacts")
def w_csp_html():
    n = b64b(16)
    return dict(lang="html", path="dist/index.html", text=T("""
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'nonce-@@n@@' 'strict-dynamic'; style-src 'self' 'sha256-@@sh@@'">
          <link rel="stylesheet" href="/assets/index-@@css@@.css" integrity="sha384-@@i1@@" crossorigin="anonymous">
          <script nonce="@@n@@" src="/assets/index-@@js@@.js" type="module" integrity="sha384-@@i2@@"></script>
        </head>
        <body><div id="root"></div></body>
        </html>
        """, n=n, sh=b64b(32), css=b64u(6), i1=b64b(48), js=b64u(6), i2=b64b(48)))


@clean("web_artifacts")
def w_webpack_output():
    chunks = "\n".join(f"asset {n}.{hexs(20)}.js {R.uniform(1, 400):.1f} KiB [emitted] [immutable] [minimized] (name: {n})"
                       for n in R.sample(["main", "vendors", "runtime", "settings", "auth", "billing"], 4))
    return dict(lang="", cmd="npx webpack --mode production", text=chunks + f"\nasset index.html 1.2 KiB [emitted]\nwebpack 5.{ri(80, 99)}.0 compiled successfully in {ri(2000, 30000)} ms\nHash: {hexs(20)}")


@clean("web_artifacts")
def w_vite_output():
    rows = "\n".join(f"dist/assets/{n}-{b64u(6)[:8]}.js   {R.uniform(1, 300):>7.2f} kB │ gzip: {R.uniform(0.5, 90):>6.2f} kB"
                     for n in R.sample(["index", "vendor", "Settings", "ApiKeys", "TokenList", "SecretsPage"], 4))
    return dict(lang="", cmd="npm run build", text=f"vite v5.{ri(0, 4)}.{ri(0, 12)} building for production...\n✓ {ri(100, 2000)} modules transformed.\ndist/index.html                 0.46 kB │ gzip:  0.30 kB\n{rows}\n✓ built in {R.uniform(1, 20):.2f}s")


@clean("web_artifacts")
def w_sourcemap():
    segs = ",".join(rs("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", ri(4, 8)) for _ in range(50))
    return dict(lang="json", path="dist/assets/index.js.map", cmd="head -c 600 dist/assets/index.js.map", text=T("""
        {"version":3,"file":"index-@@h@@.js","sources":["../../src/api/tokens.ts","../../src/lib/secretStore.ts"],"names":["getToken","apiKey","secret","rotateKey"],"mappings":"@@m@@;@@m2@@"}
        """, h=b64u(6), m=segs, m2=segs[::-1]))


@clean("web_artifacts")
def w_minified_js():
    ids = [rs(LOW, ri(1, 2)) for _ in range(8)]
    return dict(lang="javascript", path="dist/assets/vendor.js", cmd="head -c 700 dist/assets/vendor.js", text=T("""
        !function(){"use strict";var @@a@@=Object.defineProperty,@@b@@=(e,t,n)=>t in e?@@a@@(e,t,{enumerable:!0,configurable:!0,writable:!0,value:n}):e[t]=n;const @@c@@="@@tbl@@";function @@d@@(e){let t="";for(let n=0;n<e.length;n++)t+=@@c@@[e[n]&63];return t}const @@e@@=new Uint32Array([@@nums@@]);export{@@d@@ as b64id,@@e@@ as K};}();
        //# sourceMappingURL=vendor-@@h@@.js.map
        """, a=ids[0], b=ids[1], c=ids[2], d=ids[3], e=ids[4],
             tbl="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
             nums=",".join(str(R.getrandbits(32)) for _ in range(8)), h=b64u(6)))


@clean("web_artifacts")
def w_data_uri_img():
    png = "iVBORw0KGgoAAAANSUhEUgAAA" + b64b(240)
    return dict(lang="css", path="src/styles/icons.css", text=T("""
        .icon-key {
          width: 16px;
          height: 16px;
          background-image: url("data:image/png;base64,@@png@@");
        }
        @font-face {
          font-family: "Inter";
          src: url(data:font/woff2;base64,d09GMgABAAAAA@@woff@@) format("woff2");
        }
        """, png=png, woff=b64b(200)))


@clean("web_artifacts")
def w_jwt_header_only():
    hdr = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": hexs(40), "typ": "JWT"}, separators=(",", ":")).encode()).decode().rstrip("=")
    return dict(lang="", text=T("""
        The verifier logs only the protected header, never the token:

        @@t@@ WARN jwt: unknown kid; header=@@h@@
        @@t@@ WARN jwt: decoded header {"alg":"RS256","kid":"@@kid@@","typ":"JWT"}

        so the JWKS cache is stale; restart or wait for the 10-minute refresh.
        """, t=ts()[:19], h=hdr, kid=json.loads(base64.urlsafe_b64decode(hdr + "==="))["kid"]))


@clean("web_artifacts")
def w_workbox_manifest():
    items = ",\n".join(f'  {{"revision":"{hexs(32)}","url":"{u}"}}' for u in ["/index.html", "/assets/index-%s.js" % b64u(6), "/assets/index-%s.css" % b64u(6), "/favicon.svg"])
    return dict(lang="javascript", path="dist/sw.js", text="self.__WB_MANIFEST = [\n" + items + "\n];")


@clean("web_artifacts")
def w_next_build():
    bid = b64u(15)[:21]
    return dict(lang="", text=T("""
        $ cat .next/BUILD_ID
        @@bid@@
        $ ls .next/static/chunks/pages | head -4
        _app-@@a@@.js
        _error-@@b@@.js
        settings/api-keys-@@c@@.js
        settings/secrets-@@d@@.js
        $ ls .next/static/@@bid@@
        _buildManifest.js  _ssgManifest.js
        """, bid=bid, a=hexs(16), b=hexs(16), c=hexs(16), d=hexs(16)))


@clean("web_artifacts")
def w_css_modules():
    return dict(lang="html", text=T("""
        <form class="TokenForm_form__@@a@@">
          <label class="TokenForm_label__@@b@@" for="api-key">API key</label>
          <input id="api-key" name="apiKey" type="password" autocomplete="off" class="Input_root__@@c@@ Input_mono__@@d@@" placeholder="sk_live_…">
          <input type="hidden" name="csrf_nonce_id" value="@@u@@">
          <button class="Button_primary__@@e@@">Save key</button>
        </form>
        """, a=b64u(4)[:5], b=b64u(4)[:5], c=b64u(4)[:5], d=b64u(4)[:5], u=uuid4(), e=b64u(4)[:5]))


@clean("web_artifacts")
def w_angular_ngsw():
    rows = ",\n".join(f'    "/{f}": "{hexs(40)}"' for f in ["index.html", "main.%s.js" % hexs(16), "polyfills.%s.js" % hexs(16), "styles.%s.css" % hexs(16)])
    return dict(lang="json", path="dist/ngsw.json", text='{\n  "configVersion": 1,\n  "timestamp": %d,\n  "hashTable": {\n%s\n  }\n}' % (ri(1_700_000_000_000, 1_760_000_000_000), rows))


@clean("web_artifacts")
def w_turbo_cache():
    lines = "\n".join(f"{p}:build: cache hit, replaying logs {hexs(16)}" for p in R.sample(["@%s/web" % org(), "@%s/api" % org(), "@%s/ui" % org(), "@%s/config" % org()], 3))
    return dict(lang="", cmd="npx turbo run build", text=f"• Packages in scope: 7\n• Running build in 7 packages\n• Remote caching enabled\n{lines}\n\n Tasks:    7 successful, 7 total\nCached:    3 cached, 7 total\n  Time:    {R.uniform(1, 40):.3f}s >>> FULL TURBO")


# ---------------------------------------------------------------- prose_security
@clean("prose_security")
def s_postmortem():
    s = svc()
    return dict(lang="markdown", path=f"docs/postmortems/2025-{ri(1, 12):02d}-{s}-key-exposure.md", text=T("""
        # Postmortem: @@s@@ API key committed to a public fork

        **Impact:** none observed. The key had read-only scope and was revoked @@m@@ minutes after
        the GitHub secret-scanning alert.

        ## Timeline (UTC)
        - 09:@@a@@ a contributor pushed a branch containing `.env` to their public fork
        - 09:@@b@@ GitHub secret scanning notified us (partner program)
        - 09:@@c@@ on-call revoked the key in the vendor dashboard and issued a new one via Vault
        - 10:05 CloudTrail / vendor audit logs reviewed: no calls from unknown IPs

        ## What we changed
        - `.env` added to the template `.gitignore`; pre-commit now runs gitleaks
        - production keys are only readable by the deploy role; developers use sandbox keys
        """, s=s, m=ri(6, 40), a=ri(10, 19), b=ri(20, 29), c=ri(30, 45)))


@clean("prose_security")
def s_rotation_runbook():
    return dict(lang="markdown", path="runbooks/rotate-db-credentials.md", text=T("""
        ## Rotating the @@s@@ database password

        1. Create the new password in Secrets Manager as a new *version* of `@@s@@/prod/db`
           (`AWSPENDING` stage); do not overwrite `AWSCURRENT`.
        2. `ALTER ROLE @@u@@ PASSWORD ...` with the pending value (run from the bastion; the
           statement is not logged because `log_statement` is `ddl` and we wrap it in
           `SET LOCAL log_statement = 'none'`).
        3. Move the `AWSCURRENT` label to the new version; pods pick it up on their next
           connection (max lifetime 30 min).
        4. After one hour, verify `pg_stat_activity` shows no sessions using the old password,
           then remove the old version.

        Never paste the password into Slack or a ticket; refer to the secret ARN instead.
        """, s=svc(), u=pick(DBUSERS)))


@clean("prose_security")
def s_security_review():
    return dict(lang="markdown", text=T("""
        ### Security review notes for PR #@@n@@

        - **Token storage:** refresh tokens are now hashed (SHA-256) before insert; only the
          prefix is kept in clear for support lookups. Good.
        - **Secret in logs:** `log.debug("auth header: %s", headers)` in `client.py:@@l@@` would
          print the bearer token at debug level. Please log `headers.keys()` instead.
        - **Key length:** the HMAC key is read from `WEBHOOK_SECRET`; enforce >= 32 bytes at
          start-up, not at first use.
        - **Tests:** the fixtures use obviously fake keys, fine, but move them under
          `testdata/` so the scanner allowlist applies.
        Requesting changes for the logging issue only.
        """, n=ri(100, 3000), l=ri(30, 300)))


@clean("prose_security")
def s_agent_explanation():
    return dict(lang="", text=T("""
        I found the problem: `config/@@s@@.yaml` had the Stripe secret key inline, and the
        deploy workflow copies that file into the image. I've replaced the value with
        `${STRIPE_SECRET_KEY}` and added the variable to the Helm chart as a `secretKeyRef`
        pointing at the existing `@@s@@-stripe` Kubernetes secret.

        Two things you should do yourself, since I can't and shouldn't:
        1. Rotate the key in the Stripe dashboard (it's in git history).
        2. Run `git filter-repo --path config/@@s@@.yaml --invert-paths` or accept that the
           old key is burned.

        I didn't print the key in this conversation.
        """, s=svc()))


@clean("prose_security")
def s_threat_model():
    return dict(lang="markdown", path="docs/threat-model.md", text=T("""
        | Asset                    | Where it lives                         | Who can read it            | Rotation   |
        |--------------------------|----------------------------------------|----------------------------|------------|
        | master key (KEK)         | KMS, never exported                    | nobody; KMS decrypts only  | yearly     |
        | data keys (DEK)          | wrapped by the KEK in `keyring` table  | the extension, in memory   | per tenant |
        | session tokens           | Redis, hashed                          | API pods                   | 24 h TTL   |
        | OAuth client secret      | Vault `kv/@@s@@/oauth`                  | API pods via Vault agent   | 90 days    |
        | webhook signing secrets  | DB column, encrypted with a DEK        | webhook worker             | on demand  |

        Threat: an attacker with a DB dump gets wrapped DEKs and ciphertext only.
        """, s=svc()))


@clean("prose_security")
def s_pr_description():
    return dict(lang="markdown", text=T("""
        ## Move CI to OIDC; delete the long-lived AWS access key

        The `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` repository secrets are gone. The
        workflow now assumes `arn:aws:iam::@@a@@:role/gha-deploy` through
        `aws-actions/configure-aws-credentials@v4` with `role-to-assume`, restricted by the
        `token.actions.githubusercontent.com:sub` condition to `repo:@@o@@/@@s@@:ref:refs/heads/main`.

        - [x] IAM user `ci-deployer` deactivated, key deleted
        - [x] secrets removed from the repo settings
        - [ ] remove the user entirely after one week
        """, a=acct(), o=org(), s=svc()))


@clean("prose_security")
def s_slack_thread():
    p1, p2 = R.sample(PEOPLE, 2)
    return dict(lang="", text=T("""
        @@p1@@  10:42  did anyone rotate the sendgrid key after the offboarding?
        @@p2@@  10:44  yes, new one is in vault at kv/@@s@@/sendgrid, old one revoked yesterday
        @@p1@@  10:45  👍 the staging env still points at the old secret path though
        @@p2@@  10:47  ah, it reads SENDGRID_API_KEY from the `@@s@@-staging` secret, I'll sync it
        @@p1@@  10:52  and please don't paste the key in here, just confirm when done
        @@p2@@  11:03  done, staging emails are going out again
        """, p1=p1, p2=p2, s=svc()))


@clean("prose_security")
def s_cve_note():
    return dict(lang="", text=T("""
        The advisory (GHSA-@@g1@@-@@g2@@-@@g3@@) says versions < 2.@@m@@.1 write the OAuth
        client secret to the debug log when token refresh fails. We run 2.@@m@@.0 but with
        log level INFO, so nothing was written. Upgrading anyway; no rotation needed per the
        advisory's own guidance ("only deployments with DEBUG logging enabled are affected").
        """, g1=rs("23456789cfghjmpqrvwx", 4), g2=rs("23456789cfghjmpqrvwx", 4), g3=rs("23456789cfghjmpqrvwx", 4), m=ri(2, 9)))


@clean("prose_security")
def s_soc2_evidence():
    return dict(lang="", text=T("""
        Control CC6.1 evidence (Q@@q@@):
        - Secrets are stored in AWS Secrets Manager and HashiCorp Vault; no credentials in code
          (gitleaks CI job, @@n@@ runs this quarter, 0 findings on main).
        - Access keys older than 90 days: 0 (report attached: iam-credential-report-@@d@@.csv).
        - Root account: hardware MFA, no access keys.
        - Break-glass password is split between two sealed envelopes in the office safe.
        """, q=ri(1, 4), n=ri(300, 2000), d=ts()[:10]))


@clean("prose_security")
def s_commit_messages():
    return dict(lang="", cmd="git log --format='%h %s%n%b' -n 3", text=T("""
        @@a@@ Stop logging Authorization headers
        The request logger dumped all headers at DEBUG. Bearer tokens and cookies are now
        replaced by their length. Closes #@@n@@.
        @@b@@ Read webhook secret from file instead of env
        Env vars end up in crash reports; the secret is now mounted at /run/secrets/webhook.
        @@c@@ Add password strength check to signup
        """, a=hexs(9), b=hexs(9), c=hexs(9), n=ri(100, 999)))


# ---------------------------------------------------------------- cli_help_docs
@clean("cli_help_docs")
def h_psql_help():
    return dict(lang="", cmd="psql --help | sed -n '/Connection options/,$p'", text=T("""
        Connection options:
          -h, --host=HOSTNAME      database server host or socket directory (default: "local socket")
          -p, --port=PORT          database server port (default: "5432")
          -U, --username=USERNAME  database user name (default: "@@u@@")
          -w, --no-password        never prompt for password
          -W, --password           force password prompt (should happen automatically)

        For more information, type "\\?" (for internal commands) or "\\help" (for SQL
        commands) from within psql, or consult the psql section in the PostgreSQL
        documentation.
        """, u=pick(PEOPLE)))


@clean("cli_help_docs")
def h_curl_help():
    return dict(lang="", cmd="curl --help auth", text=T("""
        Usage: curl [options...] <url>
        auth: Authentication methods
             --anyauth            Pick any authentication method
             --basic              Use HTTP Basic Authentication
             --digest             Use HTTP Digest Authentication
         -E, --cert <certificate[:password]> Client certificate file and password
             --key <key>          Private key file name
             --pass <phrase>      Pass phrase for the private key
             --oauth2-bearer <token> OAuth 2 Bearer Token
         -u, --user <user:password> Server user and password
             --proxy-user <user:password> Proxy user and password
         -n, --netrc              Must read .netrc for user name and password
        """))


@clean("cli_help_docs")
def h_gh_auth():
    return dict(lang="", cmd="gh auth login --help", text=T("""
        Authenticate with a GitHub host.

        Alternatively, use `--with-token` to pass in a token on standard input.
        The minimum required scopes for the token are: `repo`, `read:org`, and `gist`.

        Alternatively, gh will use the authentication token found in environment variables.
        This method is most suitable for "headless" use of gh such as in automation. See
        `gh help environment` for more info.

        USAGE
          gh auth login [flags]

        FLAGS
          -h, --hostname string   The hostname of the GitHub instance to authenticate with
          -s, --scopes strings    Additional authentication scopes to request
              --with-token        Read token from standard input

        EXAMPLES
          # Use a token from a file
          $ gh auth login --with-token < mytoken.txt
        """))


@clean("cli_help_docs")
def h_openssl_pass():
    return dict(lang="", text=T("""
        PASS PHRASE OPTIONS
               Several commands accept password arguments, typically using -passin and
               -passout for input and output passwords respectively. The password source
               can be one of:

               pass:password
                   The actual password is password. Since the password is visible to
                   utilities (like 'ps' under Unix) this form should only be used where
                   security is not important.
               env:var
                   Obtain the password from the environment variable var.
               file:pathname
                   Reads the password from the specified file pathname.
               fd:number
                   Reads the password from the file descriptor number.
               stdin
                   Reads the password from standard input.
        """))


@clean("cli_help_docs")
def h_kubectl_secret():
    return dict(lang="", cmd="kubectl create secret generic --help | head -24", text=T("""
        Create a secret based on a file, directory, or specified literal value.

         A single secret may package one or more key/value pairs.

        Examples:
          # Create a new secret named my-secret with keys for each file in folder bar
          kubectl create secret generic my-secret --from-file=path/to/bar

          # Create a new secret named my-secret with specified keys instead of names on disk
          kubectl create secret generic my-secret --from-file=ssh-privatekey=path/to/id_rsa --from-file=ssh-publickey=path/to/id_rsa.pub

          # Create a new secret named my-secret with key1=supersecret and key2=topsecret
          kubectl create secret generic my-secret --from-literal=key1=supersecret --from-literal=key2=topsecret

          # Create a new secret named my-secret from env files
          kubectl create secret generic my-secret --from-env-file=path/to/foo.env --from-env-file=path/to/bar.env

        Options:
            --from-literal=[]:
        	Specify a key and literal value to insert in secret (i.e. mykey=somevalue)
        """))


@clean("cli_help_docs")
def h_vault_login():
    return dict(lang="", cmd="vault login -h | head -22", text=T("""
        Usage: vault login [options] [AUTH K=V...]

          Authenticates users or machines to Vault using the provided arguments. A
          successful authentication results in a Vault token - conceptually similar to
          a session token on a website. By default, this token is cached on the local
          machine for future requests.

          Authenticate using a token (prompted):

              $ vault login

          Authenticate using userpass:

              $ vault login -method=userpass username=my-username

        Command Options:
          -no-store
              Do not persist the token to the token helper (usually the local
              filesystem) after authentication for use in future requests.
          -token-only
              Output only the token with no verification.
        """))


@clean("cli_help_docs")
def h_mysql_help():
    return dict(lang="", cmd="mysql --help | grep -A1 -E '^  -(p|u|h),'", text=T("""
          -p, --password[=name]
                              Password to use when connecting to server. If password is
                              not given it's asked from the tty.
          -u, --user=name     User for login if not current user.
          -h, --host=name     Connect to host.
          --password1[=name]  Password for first factor authentication plugin.
          --login-path=#      Read this path from the login file.
        """))


@clean("cli_help_docs")
def h_twine():
    return dict(lang="", cmd="twine upload --help", text=T("""
        usage: twine upload [-h] [-r REPOSITORY] [--repository-url REPOSITORY_URL] [-s]
                            [--sign-with SIGN_WITH] [-i IDENTITY] [-u USERNAME]
                            [-p PASSWORD] [--non-interactive] [-c COMMENT]
                            dist [dist ...]

          -u USERNAME, --username USERNAME
                                The username to authenticate to the repository
                                (package index) as. (Can also be set via
                                TWINE_USERNAME environment variable.)
          -p PASSWORD, --password PASSWORD
                                The password to authenticate to the repository
                                (package index) with. (Can also be set via
                                TWINE_PASSWORD environment variable.)
        """))


@clean("cli_help_docs")
def h_redis_cli():
    return dict(lang="", cmd="redis-cli --help | sed -n '1,14p'", text=T("""
        redis-cli 7.2.@@m@@

        Usage: redis-cli [OPTIONS] [cmd [arg [arg ...]]]
          -h <hostname>      Server hostname (default: 127.0.0.1).
          -p <port>          Server port (default: 6379).
          -a <password>      Password to use when connecting to the server.
                             You can also use the REDISCLI_AUTH environment
                             variable to pass this password more safely
                             (if both are used, this argument takes precedence).
          --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
          --pass <password>  Alias of -a for consistency with the new --user option.
          --askpass          Force user to input password with mask from STDIN.
        """, m=ri(1, 6)))


@clean("cli_help_docs")
def h_hanctl_usage():
    return dict(lang="", cmd="./target/release/han-keytool --help", text=T("""
        Manage han_crypto keyrings

        Usage: han-keytool <COMMAND>

        Commands:
          create-keyring   Create a keyring wrapped by a KMS key or a passphrase
          rotate           Rotate the data key of a keyring
          export-public    Print the keyring's public verification key
          help             Print this message or the help of the given subcommand(s)

        Options:
              --passphrase-file <PATH>  Read the wrapping passphrase from PATH [env: HAN_PASSPHRASE_FILE=]
              --kms-key-id <ID>         KMS key id, alias or ARN [default: alias/han-crypto]
          -h, --help                    Print help
          -V, --version                 Print version
        """))


@clean("cli_help_docs")
def h_sshpass_man():
    return dict(lang="", text=T("""
        SSHPASS(1)                       User Commands                       SSHPASS(1)

        NAME
               sshpass - noninteractive ssh password provider

        SYNOPSIS
               sshpass [-ffilename|-dnum|-ppassword|-e[env_var]] [options] command arguments

        OPTIONS
               -ppassword
                      The password is given on the command line. Please note the section
                      titled "SECURITY CONSIDERATIONS".
               -e[env_var]
                      The password is taken from the environment variable "SSHPASS".
        """))


@clean("cli_help_docs")
def h_az_login():
    return dict(lang="", cmd="az login --help | sed -n '/Arguments/,/Global/p'", text=T("""
        Arguments
            --password -p              : Credentials like user password, or for a service
                                         principal, provide client secret or a pem file with
                                         key and public certificate. Will prompt if not given.
            --service-principal        : The credential representing a service principal.
            --tenant -t                : The AAD tenant, must provide when using service
                                         principals.
            --username -u              : User name, service principal, or managed service
                                         identity ID.
            --federated-token          : Federated token that can be used for OIDC token
                                         exchange.
        Global Arguments
        """))


@clean("cli_help_docs")
def h_docker_login():
    return dict(lang="", cmd="docker login --help", text=T("""
        Usage:  docker login [OPTIONS] [SERVER]

        Authenticate to a registry.
        Defaults to Docker Hub if no server is specified.

        Options:
          -p, --password string   Password or Personal Access Token (PAT)
              --password-stdin    Take the Password or Personal Access Token (PAT) from stdin
          -u, --username string   Username
        """))


# ---------------------------------------------------------------- identifiers_secret_words
@clean("identifiers_secret_words")
def n_rustc_error():
    return dict(lang="", cmd="cargo build -p han_crypto_core", text=T("""
        error[E0425]: cannot find value `master_secret_key` in this scope
          --> crates/han_crypto_core/src/keyring/unwrap.rs:@@l@@:17
           |
        @@l@@ |     let dek = unwrap_data_key(&master_secret_key, &wrapped)?;
           |                                ^^^^^^^^^^^^^^^^^ help: a local variable with a similar name exists: `master_key_secret`

        error[E0599]: no method named `expose_secret` found for struct `ApiTokenSecret` in the current scope
          --> crates/han_crypto_core/src/auth/token.rs:@@l2@@:29
           |
        @@l2@@ |         let raw = self.token.expose_secret();
           |                              ^^^^^^^^^^^^^ method not found in `ApiTokenSecret`

        For more information about this error, try `rustc --explain E0425`.
        error: could not compile `han_crypto_core` (lib) due to 2 previous errors
        """, l=ri(10, 99), l2=ri(10, 99)))


@clean("identifiers_secret_words")
def n_java_trace():
    o = org()
    return dict(lang="", text=T("""
        org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'passwordSecretManager': Injection of autowired dependencies failed
        	at com.@@o@@.security.PasswordSecretManager.rotateSecret(PasswordSecretManager.java:@@a@@)
        	at com.@@o@@.security.ApiKeyRotationJob.run(ApiKeyRotationJob.java:@@b@@)
        	at com.@@o@@.security.vault.VaultTokenRenewer.renewSelfToken(VaultTokenRenewer.java:@@c@@)
        	at java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)
        Caused by: java.lang.IllegalArgumentException: Could not resolve placeholder 'app.oauth.client-secret' in value "${app.oauth.client-secret}"
        	at org.springframework.util.PropertyPlaceholderHelper.parseStringValue(PropertyPlaceholderHelper.java:180)
        	... 42 common frames omitted
        """, o=o, a=ri(20, 300), b=ri(20, 300), c=ri(20, 300)))


@clean("identifiers_secret_words")
def n_python_traceback():
    return dict(lang="", text=T("""
        Traceback (most recent call last):
          File "/app/@@s@@/settings.py", line @@l@@, in <module>
            STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]
                                ~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^
          File "<frozen os>", line 679, in __getitem__
        KeyError: 'STRIPE_SECRET_KEY'

        During handling of the above exception, another exception occurred:

          File "/app/@@s@@/secrets/aws_secret_store.py", line @@l2@@, in get_secret_value
            raise SecretNotFoundError(f"secret {secret_id!r} has no AWSCURRENT version")
        @@s@@.secrets.errors.SecretNotFoundError: secret '@@s@@/prod/stripe_secret_key' has no AWSCURRENT version
        """, s=svc(), l=ri(10, 200), l2=ri(10, 200)))


@clean("identifiers_secret_words")
def n_go_panic():
    return dict(lang="", text=T("""
        panic: runtime error: invalid memory address or nil pointer dereference
        [signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x@@pc@@]

        goroutine @@g@@ [running]:
        github.com/@@o@@/@@s@@/internal/tokenstore.(*RedisTokenStore).RevokeRefreshToken(0x0, {0x@@p1@@, 0x@@p2@@}, {0xc000@@p3@@, 0x24})
        	/src/internal/tokenstore/redis.go:@@l@@ +0x3c
        github.com/@@o@@/@@s@@/internal/auth.(*SessionSecretRotator).Rotate(0xc000@@p4@@)
        	/src/internal/auth/rotator.go:@@l2@@ +0x1a5
        exit status 2
        """, pc=hexs(6), g=ri(1, 400), o=org(), s=svc(), p1=hexs(6), p2=hexs(10), p3=hexs(6), l=ri(10, 300), p4=hexs(6), l2=ri(10, 300)))


@clean("identifiers_secret_words")
def n_tsc_errors():
    return dict(lang="", cmd="npx tsc --noEmit", text=T("""
        src/auth/oauth.ts:@@a@@:15 - error TS2339: Property 'clientSecret' does not exist on type 'OAuthConfig'.
        src/auth/oauth.ts:@@b@@:9 - error TS2322: Type 'string | undefined' is not assignable to type 'string'.
          Type 'undefined' is not assignable to type 'string'.
        src/lib/apiKeys.ts:@@c@@:22 - error TS2554: Expected 2 arguments, but got 1.   hashApiKey(rawKey)
        src/pages/settings/SecretsPage.tsx:@@d@@:7 - error TS7006: Parameter 'secretValue' implicitly has an 'any' type.

        Found 4 errors in 3 files.
        """, a=ri(10, 90), b=ri(10, 90), c=ri(10, 90), d=ri(10, 90)))


@clean("identifiers_secret_words")
def n_grep_secret():
    s = svc()
    return dict(lang="", cmd="rg -n 'secret|token' --glob '!*.lock' | head -12", text=T("""
        charts/@@s@@/values.yaml:14:  existingSecret: ""
        charts/@@s@@/templates/secret.yaml:1:{{- if not .Values.auth.existingSecret }}
        src/config.ts:22:  webhookSecret: requireEnv("WEBHOOK_SECRET"),
        src/config.ts:23:  tokenTtlSeconds: Number(process.env.TOKEN_TTL ?? 900),
        src/auth/refresh.ts:8:export async function rotateRefreshToken(userId: string): Promise<string> {
        src/auth/refresh.ts:31:  await redis.del(`refresh_token:${userId}`);
        test/auth/refresh.test.ts:12:  it("revokes the previous refresh token", async () => {
        docs/SECURITY.md:40:Secrets are injected at runtime; see docs/secrets.md.
        """, s=s))


@clean("identifiers_secret_words")
def n_cargo_test_names():
    tests = ["keyring::tests::unwrap_rejects_wrong_master_key", "token::tests::expired_token_is_rejected",
             "secret_store::tests::password_file_must_be_0600", "api_key::tests::prefix_is_stable_across_rotation",
             "redact::tests::bearer_token_in_header_is_redacted", "auth::tests::session_secret_min_length",
             "kms::tests::decrypt_with_revoked_grant_fails"]
    lines = "\n".join(f"test {t} ... ok" for t in R.sample(tests, 5))
    return dict(lang="", cmd="cargo test -p han_crypto_core -- --test-threads=1", text=f"running 5 tests\n{lines}\n\ntest result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; {ri(10, 300)} filtered out; finished in {R.uniform(0.01, 2):.2f}s")


@clean("identifiers_secret_words")
def n_file_tree():
    return dict(lang="", cmd="tree -L 2 src/auth src/secrets", text=T("""
        src/auth
        ├── api_key_hasher.go
        ├── oauth_client_secret.go
        ├── password_reset_token.go
        ├── refresh_token_store.go
        └── session_secret_rotator.go
        src/secrets
        ├── aws_secrets_manager.go
        ├── gcp_secret_manager.go
        ├── vault_kv_secret.go
        └── secret_cache_test.go

        2 directories, 10 files
        """))


@clean("identifiers_secret_words")
def n_detect_secrets_baseline():
    return dict(lang="json", path=".secrets.baseline", text=T("""
        {
          "version": "1.5.0",
          "plugins_used": [{"name": "AWSKeyDetector"}, {"name": "Base64HighEntropyString", "limit": 4.5}, {"name": "KeywordDetector"}],
          "results": {
            "tests/fixtures/config.yaml": [
              {
                "type": "Secret Keyword",
                "filename": "tests/fixtures/config.yaml",
                "hashed_secret": "@@h1@@",
                "is_verified": false,
                "line_number": @@l1@@
              }
            ],
            "docs/setup.md": [
              {"type": "Base64 High Entropy String", "filename": "docs/setup.md", "hashed_secret": "@@h2@@", "is_verified": false, "line_number": @@l2@@}
            ]
          },
          "generated_at": "@@t@@"
        }
        """, h1=hexs(40), l1=ri(2, 90), h2=hexs(40), l2=ri(2, 90), t=ts()[:19] + "Z"))


@clean("identifiers_secret_words")
def n_sql_schema():
    return dict(lang="", cmd="psql -c '\\d users'", text=T("""
                                  Table "public.users"
              Column          |           Type           | Nullable |      Default
        ----------------------+--------------------------+----------+-------------------
         id                   | bigint                   | not null | generated always
         email                | citext                   | not null |
         password_hash        | text                     |          |
         password_changed_at  | timestamptz              |          |
         totp_secret_enc      | bytea                    |          |
         api_token_digest     | bytea                    |          |
         reset_token_expires  | timestamptz              |          |
        Indexes:
            "users_pkey" PRIMARY KEY, btree (id)
            "users_api_token_digest_key" UNIQUE CONSTRAINT, btree (api_token_digest)
        """))


@clean("identifiers_secret_words")
def n_eslint():
    return dict(lang="", cmd="npx eslint src/", text=T("""
        /workspace/src/lib/secretStore.ts
          @@a@@:7   warning  'decryptSecret' is defined but never used          @typescript-eslint/no-unused-vars
          @@b@@:11  error    Unexpected any. Specify a different type            @typescript-eslint/no-explicit-any

        /workspace/src/config/tokens.ts
          @@c@@:1   warning  Possible hardcoded credential: identifier 'ACCESS_TOKEN_TTL'  no-secrets/no-secrets
          @@d@@:3   error    'refreshTokenSecret' is assigned a value but never used     no-unused-vars

        ✖ 4 problems (2 errors, 2 warnings)
        """, a=ri(2, 80), b=ri(2, 80), c=ri(2, 80), d=ri(2, 80)))


@clean("identifiers_secret_words")
def n_migration_list():
    return dict(lang="", cmd="ls db/migrate | tail -6", text="\n".join(
        f"2025{ri(1, 12):02d}{ri(1, 28):02d}{ri(0, 23):02d}{ri(0, 59):02d}{ri(0, 59):02d}_{m}.rb" for m in
        ["add_password_digest_to_users", "create_api_keys", "add_token_prefix_to_api_keys", "encrypt_totp_secret",
         "remove_plaintext_secret_from_integrations", "add_webhook_signing_secret_ciphertext"]))


# ---------------------------------------------------------------- agent_harness_ids
@clean("agent_harness_ids")
def a_thinking_signature():
    sig = "Eq" + b64b(ri(300, 420))
    return dict(wrap=["raw", "json2"], lang="json", text=json.dumps({
        "type": "assistant", "uuid": uuid4(), "parentUuid": uuid4(), "sessionId": uuid4(),
        "message": {"id": msgid(), "model": pick(["claude-sonnet-4-5", "claude-opus-4-1"]), "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "The user wants the token refresh fixed; check where the secret is read.",
                                 "signature": sig}],
                    "usage": {"input_tokens": ri(3, 20), "cache_read_input_tokens": ri(1000, 90000), "output_tokens": ri(50, 900)}},
        "requestId": reqid()}))


@clean("agent_harness_ids")
def a_openai_encrypted_reasoning():
    return dict(wrap=["raw", "json2"], lang="json", text=json.dumps({
        "type": "response_item", "timestamp": ts(),
        "payload": {"type": "reasoning", "id": "rs_" + hexs(48), "summary": [{"type": "summary_text", "text": "**Checking secret loading**"}],
                    "encrypted_content": "gAAAAAB" + b64u(ri(300, 500))}}))


@clean("agent_harness_ids")
def a_tool_use_ids():
    tid, tid2 = toolu(), toolu()
    lines = [json.dumps({"type": "assistant", "uuid": uuid4(), "message": {"id": msgid(), "content": [
                 {"type": "tool_use", "id": tid, "name": "Grep", "input": {"pattern": "API_KEY|SECRET", "path": "src"}}]}}),
             json.dumps({"type": "user", "uuid": uuid4(), "message": {"content": [
                 {"type": "tool_result", "tool_use_id": tid, "content": "src/config.ts\nsrc/secrets/loader.ts"}]}}),
             json.dumps({"type": "assistant", "uuid": uuid4(), "message": {"id": msgid(), "content": [
                 {"type": "tool_use", "id": tid2, "name": "Read", "input": {"file_path": "/workspace/src/secrets/loader.ts", "limit": 40}}]}})]
    return dict(wrap=["raw"], text="\n".join(lines))


@clean("agent_harness_ids")
def a_chat_completion():
    return dict(wrap=["raw", "json1", "fence"], lang="json", text=json.dumps({
        "id": "chatcmpl-" + rs(ALNUM, 29), "object": "chat.completion", "created": ri(1_730_000_000, 1_760_000_000),
        "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_" + hexs(10),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": callid(), "type": "function", "function": {"name": "read_secret_metadata", "arguments": json.dumps({"secret_id": f"{svc()}/prod/db"})}}]},
            "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": ri(100, 9000), "completion_tokens": ri(10, 200)}}, indent=1))


@clean("agent_harness_ids")
def a_response_headers():
    return dict(lang="", text=T("""
        < HTTP/2 200
        < content-type: application/json
        < request-id: @@rq@@
        < anthropic-organization-id: @@org@@
        < anthropic-ratelimit-input-tokens-remaining: @@n@@
        < x-request-id: @@xr@@
        < openai-organization: org-@@oo@@
        < openai-project: proj_@@pp@@
        < cf-ray: @@ray@@-@@pop@@
        < x-envoy-upstream-service-time: @@ms@@
        """, rq=reqid(), org=uuid4(), n=ri(10000, 400000), xr="req_" + hexs(32), oo=rs(ALNUM, 24), pp=rs(ALNUM, 24),
             ray=hexs(16), pop=pick(["FRA", "AMS", "IAD", "SJC"]), ms=ri(100, 9000)))


@clean("agent_harness_ids")
def a_session_index():
    rows = []
    for _ in range(ri(4, 6)):
        rows.append(f"{uuid4()}  {ts()[:16].replace('T', ' ')}  {ri(3, 300):>4} msgs  {pick(['fix token refresh', 'rotate api keys', 'debug vault auth', 'add secret scanning to CI', 'migrate secrets to SOPS'])}")
    return dict(lang="", cmd="claude --resume --list", text="SESSION ID                            STARTED           SIZE      SUMMARY\n" + "\n".join(rows))


@clean("agent_harness_ids")
def a_mcp_log():
    return dict(lang="", text=T("""
        [@@t@@] [info] [mcp:github] Initializing server... session=@@sid@@
        [@@t@@] [info] [mcp:github] Server started and connected successfully (protocolVersion 2025-06-18)
        [@@t@@] [debug] [mcp:github] <- {"jsonrpc":"2.0","id":@@n@@,"result":{"tools":[{"name":"get_secret_scanning_alert"},{"name":"list_secret_scanning_alerts"}]}}
        [@@t@@] [debug] [mcp:vault] -> {"jsonrpc":"2.0","id":@@n2@@,"method":"tools/call","params":{"name":"read_secret","arguments":{"path":"kv/data/@@s@@/prod","field":"password","reveal":false}}}
        [@@t@@] [debug] [mcp:vault] <- {"jsonrpc":"2.0","id":@@n2@@,"result":{"content":[{"type":"text","text":"secret exists (version @@v@@, updated @@d@@); value not shown"}]}}
        """, t=ts(), sid=hexs(32), n=ri(1, 40), n2=ri(41, 99), s=svc(), v=ri(2, 30), d=ts()[:10]))


@clean("agent_harness_ids")
def a_codex_history():
    return dict(wrap=["raw"], text="\n".join(json.dumps({"session_id": (sid := uuid4()) if i == 0 else sid, "ts": ri(1_730_000_000, 1_760_000_000), "text": t})
                                            for i, t in enumerate(["why does the vault token expire after 32 days?",
                                                                   "set token_max_ttl on the approle and show me the command",
                                                                   "ok now rotate the secret_id and don't print it"])))


@clean("agent_harness_ids")
def a_cache_keys():
    return dict(lang="", cmd="ls ~/.cache/agent/prompt-cache | head", text="\n".join(
        f"{hexs(64)}.bin  {ri(10, 900)}K" for _ in range(ri(5, 8))))


# ---------------------------------------------------------------- crypto_test_vectors (encoded data)
@clean("encoded_data")
def e_rfc_vectors():
    return dict(lang="python", path="tests/test_hmac_vectors.py", text=T("""
        # RFC 4231 test case 1 and 2 (HMAC-SHA-256); published vectors, not keys we use
        VECTORS = [
            (bytes.fromhex("0b" * 20), b"Hi There",
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (b"Jefe", b"what do ya want for nothing?",
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ]

        # RFC 8439 section 2.4.2 ChaCha20 key
        CHACHA_KEY = bytes(range(32))  # 00 01 02 ... 1f
        """))


@clean("encoded_data")
def e_xxd():
    lines = []
    off = 0
    for _ in range(ri(6, 10)):
        bs = rbytes(16)
        hx = " ".join(bs[i:i + 2].hex() for i in range(0, 16, 2))
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in bs)
        lines.append(f"{off:08x}: {hx}  {asc}")
        off += 16
    return dict(lang="", cmd=f"xxd {pick(['data/keyring.bin', 'ciphertext.bin', 'dump/page_0007.raw'])} | head", text="\n".join(lines))


@clean("encoded_data")
def e_screenshot_tool():
    return dict(wrap=["raw", "json2"], text=json.dumps({"type": "tool_result", "tool_use_id": toolu(), "content": [
        {"type": "text", "text": "Screenshot of /settings/api-keys"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUgAA" + b64b(600)}}]}))


@clean("encoded_data")
def e_hashed_emails():
    rows = "\n".join(f"{hexs(64)},{ri(1, 40)},{ts()[:10]}" for _ in range(ri(5, 8)))
    return dict(lang="csv", path="exports/audience_hashed.csv", text="email_sha256,orders,last_seen\n" + rows)


@clean("encoded_data")
def e_protobuf_escape():
    b = rbytes(40)
    esc = "".join(f"\\{c:03o}" if (c < 32 or c > 126 or chr(c) in "\\\"") else chr(c) for c in b)
    return dict(lang="", text=T("""
        (gdb) p req.body
        $1 = "\\n$@@u@@\\022\\020@@esc@@"
        (gdb) p req.idempotency_key
        $2 = "@@u2@@"
        """, u=uuid4(), esc=esc, u2=uuid4()))


# ======================================================================= SECRET FAMILIES
VENDOR_ENV = [
    ("STRIPE_SECRET_KEY", stripe_live), ("OPENAI_API_KEY", openai_key), ("ANTHROPIC_API_KEY", anthropic_key),
    ("GITHUB_TOKEN", gh_pat), ("GH_FINE_GRAINED_TOKEN", gh_fine), ("GITLAB_TOKEN", gitlab_pat),
    ("SLACK_BOT_TOKEN", slack_bot), ("SENDGRID_API_KEY", sendgrid_key), ("TWILIO_AUTH_TOKEN", twilio_token),
    ("MAILGUN_API_KEY", mailgun_key), ("NPM_TOKEN", npm_token), ("HF_TOKEN", hf_token),
    ("DIGITALOCEAN_TOKEN", do_token), ("VAULT_TOKEN", vault_token), ("DOPPLER_TOKEN", doppler_token),
    ("LINEAR_API_KEY", linear_key), ("NOTION_TOKEN", notion_key), ("DD_API_KEY", datadog_api),
    ("CLOUDFLARE_API_TOKEN", cloudflare_token), ("SHOPIFY_ACCESS_TOKEN", shopify_token),
    ("GRAFANA_SA_TOKEN", grafana_sa), ("NEW_RELIC_API_KEY", newrelic_key), ("POSTMAN_API_KEY", postman_key),
    ("DATABRICKS_TOKEN", databricks_token), ("PULUMI_ACCESS_TOKEN", pulumi_token), ("GROQ_API_KEY", groq_key),
    ("TF_TOKEN_app_terraform_io", tfc_token), ("MAPBOX_SECRET_TOKEN", mapbox_secret),
    ("TELEGRAM_BOT_TOKEN", telegram_bot), ("DISCORD_BOT_TOKEN", discord_bot), ("ATLASSIAN_API_TOKEN", atlassian_token),
    ("OKTA_API_TOKEN", okta_token), ("GOOGLE_MAPS_API_KEY", google_key), ("STRIPE_WEBHOOK_SECRET", stripe_whsec),
    ("PYPI_API_TOKEN", pypi_token), ("PLANETSCALE_PASSWORD", planetscale_pw),
]


def vendors(n):
    return [(k, g()) for k, g in R.sample(VENDOR_ENV, n)]


def generic_secret():
    k = pick(["SESSION_SECRET", "JWT_SECRET", "APP_KEY_SECRET", "COOKIE_SECRET", "ENCRYPTION_KEY", "SIGNING_KEY", "HMAC_SECRET"])
    v = pick([rnd(HEX, 64), rnd_b64(32), rnd_b64(48, url=True), "base64:" + rnd_b64(32)])
    return k, v


# ---------------------------------------------------------------- json_escaped
@secret("json_escaped")
def x_gcp_sa():
    body = rsa_pem_body()
    p = f"{org()}-{pick(['prod', 'data', 'ml'])}-{ri(100, 999)}"
    n = pick(["ci-deployer", "bq-loader", "terraform", "gcs-sync"])
    sa = {"type": "service_account", "project_id": p, "private_key_id": hexs(40),
          "private_key": "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n",
          "client_email": f"{n}@{p}.iam.gserviceaccount.com", "client_id": str(ri(10**20, 10**21 - 1)),
          "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
          "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{n}%40{p}.iam.gserviceaccount.com",
          "universe_domain": "googleapis.com"}
    return dict(lang="json", path=f"keys/{n}.json", cmd=f"cat keys/{n}.json",
                text=json.dumps(sa, indent=2), secrets=[body[0], body[len(body) // 2], body[-1]])


@secret("json_escaped")
def x_env_tool_result():
    vs = vendors(ri(2, 3))
    k, g = generic_secret()
    pw = password()
    lines = [f"NODE_ENV=production", f"PORT={pick([3000, 8080, 8000])}", f"DB_HOST={host()}", f"DB_PASSWORD={pw}"]
    lines += [f"{a}={b}" for a, b in vs] + [f"{k}={g}", f"LOG_LEVEL={pick(['info', 'warn'])}"]
    return dict(wrap=["json1", "json2", "jsonl"], cmd="cat .env", path=".env", text="\n".join(lines),
                secrets=[pw] + [b for _, b in vs] + [g])


@secret("json_escaped")
def x_config_json_quotes():
    pw = password()
    sk = pick([stripe_live, sendgrid_key, openai_key, gh_pat])()
    wh = stripe_whsec()
    cfg = {"server": {"port": 8080}, "database": {"host": host(), "user": pick(DBUSERS), "password": pw},
           "integrations": {"apiKey": sk, "webhookSecret": wh, "timeoutMs": 5000}}
    return dict(wrap=["json1", "json2", "jsonl"], path="config/production.json", cmd="cat config/production.json",
                text=json.dumps(cfg, indent=2), secrets=[pw, sk, wh])


@secret("json_escaped")
def x_jsonb_row_export():
    sec = aws_secret()
    kid = aws_id()
    inner = f"+ export AWS_ACCESS_KEY_ID={kid}\n+ export AWS_SECRET_ACCESS_KEY={sec}\n+ aws s3 sync dist/ s3://{org()}-static/ --delete\nupload: dist/index.html to s3://{org()}-static/index.html"
    row = json.dumps({"type": "tool_result", "content": inner, "tool_use_id": toolu()})
    text = f" id  |                     payload\n-----+--------------------------------------------------\n {ri(100, 9999)} | {row}\n(1 row)"
    return dict(wrap=["raw", "fence", "prompt"], text=text, secrets=[kid, sec])


@secret("json_escaped")
def x_openssh_key_read():
    body = openssh_body()
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END OPENSSH PRIVATE KEY-----"
    return dict(wrap=["json1", "json2", "jsonl"], path=f".ssh/id_ed25519_{pick(['deploy', 'ci', 'bastion'])}", text=pem,
                secrets=[body[1], body[-1]])


@secret("json_escaped")
def x_ec_key_in_json_config():
    body = ec_pem_body()
    pem = "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END EC PRIVATE KEY-----\n"
    cfg = {"issuer": f"https://auth.{org()}.io", "kid": hexs(16), "alg": "ES256", "signing_key_pem": pem,
           "apns": {"team_id": rs(UPNUM, 10), "key_id": rs(UPNUM, 10)}}
    return dict(path="config/jwt.json", lang="json", text=json.dumps(cfg, indent=2), secrets=[body[0], body[-1]])


@secret("json_escaped")
def x_double_escaped_log():
    pw = password()
    tok = pick([slack_bot, gitlab_pat, linear_key, do_token])()
    inner = json.dumps({"level": "debug", "msg": "outgoing request", "body": json.dumps({"username": pick(PEOPLE), "password": pw, "token": tok})})
    return dict(wrap=["raw", "json1"], text=f"{ts()} app[{svc()}.{ri(1, 9)}]: {inner}", secrets=[pw, tok])


@secret("json_escaped")
def x_docker_inspect_env():
    pw = password()
    k, v = vendors(1)[0]
    gk, gv = generic_secret()
    env = [f"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", f"POSTGRES_PASSWORD={pw}", f"{k}={v}", f"{gk}={gv}", "LANG=C.UTF-8"]
    return dict(wrap=["json1", "jsonl", "raw"], cmd=f"docker inspect {svc()}-api --format '{{{{json .Config.Env}}}}'", lang="json",
                text=json.dumps(env), secrets=[pw, v, gv])


@secret("json_escaped")
def x_tfstate():
    kid, sec = aws_id(), aws_secret()
    smtp = rnd_b64(33)[:44]
    st = {"mode": "managed", "type": "aws_iam_access_key", "name": "ci", "instances": [{"schema_version": 0, "attributes": {
        "id": kid, "secret": sec, "ses_smtp_password_v4": smtp, "status": "Active", "user": f"ci-{svc()}",
        "create_date": ts()[:19] + "Z"}, "sensitive_attributes": []}]}
    return dict(path="terraform.tfstate", cmd="jq '.resources[] | select(.type==\"aws_iam_access_key\")' terraform.tfstate", lang="json",
                text=json.dumps(st, indent=2), secrets=[kid, sec, smtp])


# ---------------------------------------------------------------- key_pairs
def alibaba_pair():
    return "LTAI" + rnd(ALNUM, 20), rnd(ALNUM, 30)


def tencent_pair():
    return "AKID" + rnd(ALNUM, 32), rnd(ALNUM, 32)


def ably_key():
    return f"{rnd(ALNUM, 6)}.{rnd(ALNUM, 6)}:{rnd(B64URL, 43)}"


@secret("key_pairs")
def y_colon_pair():
    a, b = pick([lambda: (aws_id(), aws_secret()), alibaba_pair, tencent_pair])()
    return dict(text=T("""
        @@p@@: the staging uploader is still failing, here are the creds it uses
        @@a@@:@@b@@
        bucket is @@o@@-staging-uploads, region @@r@@
        """, p=pick(PEOPLE), a=a, b=b, o=org(), r=pick(REGIONS)), secrets=[a, b])


@secret("key_pairs")
def y_paren_pair():
    a, b = aws_id(), aws_secret()
    return dict(text=T("""
        Before I delete the IAM user, note that the old key (@@a@@ / @@b@@) is still referenced
        by the nightly export job on the bastion. I'll switch that job to the instance role first.
        """, a=a, b=b), secrets=[a, b])


@secret("key_pairs")
def y_constructor_js():
    a, b = aws_id(), aws_secret()
    lang = pick(["js", "java", "go"])
    if lang == "js":
        t = T("""
            const s3 = new S3Client({
              region: "@@r@@",
              credentials: new AWS.Credentials("@@a@@", "@@b@@"),
            });
            """, r=pick(REGIONS), a=a, b=b)
    elif lang == "java":
        t = T("""
            AWSCredentials creds = new BasicAWSCredentials("@@a@@", "@@b@@");
            AmazonS3 s3 = AmazonS3ClientBuilder.standard()
                .withCredentials(new AWSStaticCredentialsProvider(creds))
                .withRegion(Regions.fromName("@@r@@")).build();
            """, r=pick(REGIONS), a=a, b=b)
    else:
        t = T("""
            sess := session.Must(session.NewSession(&aws.Config{
            	Region:      aws.String("@@r@@"),
            	Credentials: credentials.NewStaticCredentials("@@a@@", "@@b@@", ""),
            }))
            """, r=pick(REGIONS), a=a, b=b)
    return dict(lang=lang, path=pick(["src/storage.js", "src/main/java/Storage.java", "internal/storage/s3.go"]), text=t, secrets=[a, b])


@secret("key_pairs")
def y_twilio_client():
    sid, tok = twilio_sid(), twilio_token()
    return dict(lang="python", path="notify/sms.py", text=T("""
        from twilio.rest import Client

        client = Client("@@sid@@", "@@tok@@")
        msg = client.messages.create(to=to, from_="+1415555@@n@@", body=text)
        """, sid=sid, tok=tok, n=ri(1000, 9999)), secrets=[sid, tok])


@secret("key_pairs")
def y_algolia_init():
    app, key = rnd(UPNUM, 10), rnd(HEX, 32)
    return dict(lang="javascript", path="scripts/reindex.mjs", text=T("""
        import algoliasearch from "algoliasearch";
        // admin key: needed for saveObjects/clearObjects
        const client = algoliasearch("@@app@@", "@@key@@");
        const index = client.initIndex("@@s@@_prod");
        await index.clearObjects();
        """, app=app, key=key, s=svc()), secrets=[key])


@secret("key_pairs")
def y_table_row():
    a, b = aws_id(), aws_secret()
    c, d = aws_id(), aws_secret()
    return dict(lang="markdown", text=T("""
        | env     | access key id          | secret access key                          |
        |---------|------------------------|--------------------------------------------|
        | staging | @@a@@   | @@b@@   |
        | prod    | @@c@@   | @@d@@   |
        """, a=a, b=b, c=c, d=d), secrets=[a, b, c, d])


@secret("key_pairs")
def y_credentials_csv():
    u = f"ci-{svc()}"
    a, b = aws_id(), aws_secret()
    pw = password()
    return dict(path=f"Downloads/{u}_credentials.csv", lang="csv", text=T("""
        User name,Password,Access key ID,Secret access key,Console login link
        @@u@@,@@pw@@,@@a@@,@@b@@,https://@@acct@@.signin.aws.amazon.com/console
        """, u=u, pw=pw, a=a, b=b, acct=ri(10**11, 10**12 - 1)), secrets=[pw, a, b])


@secret("key_pairs")
def y_ably_cloudinary():
    if R.random() < 0.5:
        k = ably_key()
        return dict(lang="typescript", path="src/realtime.ts", text=T("""
            import * as Ably from "ably";
            export const realtime = new Ably.Realtime({ key: "@@k@@", clientId: userId });
            """, k=k), secrets=[k])
    key, sec = str(ri(10**14, 10**15 - 1)), rnd(B64URL, 27)
    return dict(lang="", path=".env.local", text=f"CLOUDINARY_URL=cloudinary://{key}:{sec}@{org()}-media\nNEXT_PUBLIC_CLOUD_NAME={org()}-media", secrets=[sec])


@secret("key_pairs")
def y_positional_args():
    a, b = aws_id(), aws_secret()
    return dict(text=T("""
        $ ./scripts/bootstrap-backup.sh @@a@@ @@b@@ @@r@@
        [bootstrap] writing /etc/restic/env
        [bootstrap] repository s3:s3.@@r@@.amazonaws.com/@@o@@-backups initialised
        """, a=a, b=b, r=pick(REGIONS), o=org()), secrets=[a, b])


@secret("key_pairs")
def y_oauth_client_pair():
    cid = f"{ri(10**11, 10**12 - 1)}-{rs(LOWNUM, 32)}.apps.googleusercontent.com"
    csec = "GOCSPX-" + rnd(B64URL, 28)
    return dict(text=T("""
        OAuth client for the admin panel (created in the @@o@@-prod project):
          Client ID      @@cid@@
          Client secret  @@csec@@
        Redirect URI: https://admin.@@o@@.io/auth/callback
        """, o=org(), cid=cid, csec=csec), secrets=[csec])


# ---------------------------------------------------------------- provider_near_value
NEAR = [
    ("mixpanel", lambda: rnd(HEX, 32)), ("datadog", datadog_api), ("cloudflare", cloudflare_token),
    ("segment write key", lambda: rnd(ALNUM, 32)), ("amplitude", lambda: rnd(HEX, 32)),
    ("sentry auth token", lambda: rnd(HEX, 64)), ("bugsnag", lambda: rnd(HEX, 32)), ("rollbar", lambda: rnd(HEX, 32)),
    ("pagerduty", lambda: rnd(ALNUM + "-_+", 20)), ("postmark", uuid4), ("heroku", uuid4),
    ("mailchimp", lambda: rnd(HEX, 32) + "-us" + str(ri(2, 21))), ("zendesk", lambda: rnd(ALNUM, 40)),
    ("plaid secret", lambda: rnd(HEX, 30)), ("newrelic license", lambda: rnd(HEX, 36) + "NRAL"),
    ("launchdarkly", lambda: "sdk-" + uuid4()), ("asana", lambda: f"2/{ri(10**15, 10**16 - 1)}/{ri(10**15, 10**16 - 1)}:{rnd(HEX, 32)}"),
    ("airtable", lambda: "pat" + rnd(ALNUM, 14) + "." + rnd(HEX, 64)), ("vercel", lambda: rnd(ALNUM, 24)),
    ("circleci", lambda: "CCIPAT_" + rnd(ALNUM, 22) + "_" + rnd(HEX, 40)),
]


def label(name, suffix=" token"):
    return name if re.search(r"key|token|secret|license", name) else name + suffix


@secret("provider_near_value")
def z_prose_separator():
    name, g = pick(NEAR)
    v = g()
    sep = pick([" - '", ": ", " = ", " ", " \u2014 ", " -> ", "='", ' "'])
    close = "'" if sep.endswith("'") else ('"' if sep.endswith('"') else "")
    lead = pick(["ok so the", "fwiw the", "here's the", "found the old", "for the record, the", "use the"])
    return dict(text=f"{lead} {label(name)}{sep}{v}{close} {pick(['(prod)', 'but it might be revoked', 'from the 1password vault', ''])}".rstrip(), secrets=[v])


@secret("provider_near_value")
def z_bare_after_label():
    name, g = pick(NEAR)
    v = g()
    return dict(text=T("""
        @@N@@ for the new workspace
        @@v@@

        paste it into the integration settings, not the repo
        """, N=label(name, pick([" key", " token", " api key"])).capitalize(), v=v), secrets=[v])


@secret("provider_near_value")
def z_yaml_provider_keys():
    picks = R.sample(NEAR, 3)
    vals = [g() for _, g in picks]
    keys = [n.split()[0] + pick(["", "_key", "_token", "_secret", "_api_key"]) for n, _ in picks]
    lines = "\n".join(f"  {k}: {v}" for k, v in zip(keys, vals))
    return dict(lang="yaml", path="config/analytics.yml", text=f"analytics:\n  enabled: true\n{lines}\n  flush_interval: 10s", secrets=vals)


@secret("provider_near_value")
def z_json_suffix_keys():
    picks = R.sample(NEAR, 2)
    d = {"service": svc(), "region": pick(REGIONS)}
    sec = []
    for n, g in picks:
        v = g()
        d[n.split()[0] + pick(["_api_key", "_secret", "_token", "_key"])] = v
        sec.append(v)
    return dict(lang="json", path="settings.json", text=json.dumps(d, indent=2), secrets=sec)


@secret("provider_near_value")
def z_code_comment():
    name, g = pick(NEAR)
    v = g()
    return dict(lang="python", path="scripts/backfill_events.py", text=T("""
        import requests

        # @@name@@ @@v@@  (temporary, remove after the backfill)
        API = "https://api.@@host@@/v2/events"

        def push(batch):
            return requests.post(API, json=batch, headers={"Authorization": f"Bearer {os.environ['@@E@@']}"}).raise_for_status()
        """, name=name, v=v, host=name.split()[0] + ".com", E=name.split()[0].upper() + "_TOKEN"), secrets=[v])


@secret("provider_near_value")
def z_markdown_table():
    picks = R.sample(NEAR, 3)
    rows, sec = [], []
    for n, g in picks:
        v = g()
        sec.append(v)
        rows.append(f"| {n.split()[0].capitalize():<10} | {v} | {pick(PEOPLE)} |")
    return dict(lang="markdown", text="| Service    | Key | Owner |\n|---|---|---|\n" + "\n".join(rows), secrets=sec)


@secret("provider_near_value")
def z_unquoted_env_provider():
    picks = R.sample(NEAR, 2)
    lines, sec = [], []
    for n, g in picks:
        v = g()
        sec.append(v)
        lines.append(f"{n.split()[0].upper()}{pick(['', '_KEY', '_TOKEN', '_API_KEY', '_SECRET'])}={v}")
    return dict(path="deploy/.env.prod", text="# synced from the old heroku app\n" + "\n".join(lines) + "\nWEB_CONCURRENCY=3", secrets=sec)


@secret("provider_near_value")
def z_prefixed_in_chat():
    k, v = vendors(1)[0]
    first = k.split("_")[0]
    vendor = {"TF": "terraform cloud", "GH": "github", "DD": "datadog", "HF": "hugging face", "NEW": "new relic",
              "GOOGLE": "google maps", "PYPI": "pypi upload"}.get(first, first.lower())
    return dict(text=T("""
        can you wire up the @@vendor@@ client? the key is @@v@@ and it should only be used from the worker
        """, vendor=vendor, v=v), secrets=[v])


# ---------------------------------------------------------------- url_keys
@secret("url_keys")
def u_telegram():
    t = telegram_bot()
    return dict(text=T("""
        $ curl -s "https://api.telegram.org/bot@@t@@/sendMessage?chat_id=-100@@c@@&text=deploy%20done"
        {"ok":true,"result":{"message_id":@@m@@,"chat":{"id":-100@@c@@,"type":"supergroup"}}}
        """, t=t, c=ri(10**9, 10**10 - 1), m=ri(10, 9999)), secrets=[t])


@secret("url_keys")
def u_query_api_key():
    kind = R.randrange(3)
    if kind == 0:
        v = google_key()
        url = f"https://maps.googleapis.com/maps/api/geocode/json?address={ri(1, 999)}+Main+St&key={v}"
    elif kind == 1:
        v = rnd(HEX, 64)
        url = f"https://serpapi.com/search.json?engine=google&q=postgres+tde&api_key={v}"
    else:
        v = rnd(UPNUM, 16)
        url = f"https://www.alphavantage.co/query?function=TIME_SERIES_DAILY&symbol=MSFT&apikey={v}"
    return dict(text=f"{ts()} WARN http: GET {url} -> 429 Too Many Requests (retry in {ri(1, 60)}s)", secrets=[v])


@secret("url_keys")
def u_azure_sas():
    sig = base64.b64encode(rbytes(32)).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    acct = f"{org()}{pick(['prod', 'backup', 'media'])}"
    url = f"https://{acct}.blob.core.windows.net/exports/{uuid4()}.parquet?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-{ri(1, 12):02d}-{ri(1, 28):02d}T00:00:00Z&st=2025-01-01T00:00:00Z&spr=https&sig={sig}"
    return dict(text=f"azcopy copy '{url}' ./export.parquet\nINFO: Scanning...\nINFO: Final Job Status: Completed", secrets=[sig])


@secret("url_keys")
def u_chat_webhooks():
    if R.random() < 0.5:
        url = slack_hook()
        tok = url.rsplit("/", 1)[1]
        t = f"SLACK_WEBHOOK_URL: {url}"
    else:
        url = discord_hook()
        tok = url.rsplit("/", 1)[1]
        t = f'curl -H "Content-Type: application/json" -d \'{{"content":"build #{ri(100, 999)} failed"}}\' {url}'
    return dict(lang=pick(["yaml", "bash"]), text=t, secrets=[tok])


@secret("url_keys")
def u_git_token_url():
    tok = pick([gh_server, gh_pat, gitlab_pat])()
    user = "x-access-token" if tok.startswith("ghs_") else pick(["oauth2", pick(PEOPLE)])
    host_ = "gitlab.com" if tok.startswith("glpat") else "github.com"
    return dict(cmd="git remote -v", text=f"origin\thttps://{user}:{tok}@{host_}/{org()}/{svc()}.git (fetch)\norigin\thttps://{user}:{tok}@{host_}/{org()}/{svc()}.git (push)", secrets=[tok])


@secret("url_keys")
def u_basic_auth_index():
    pw = password(urlsafe=True)
    kind = R.randrange(3)
    if kind == 0:
        t = f"[global]\nindex-url = https://deploy:{pw}@pypi.{org()}.internal/simple/\ntrusted-host = pypi.{org()}.internal"
        p = "pip.conf"
    elif kind == 1:
        t = f"registry=https://ci-bot:{pw}@artifactory.{org()}.io/artifactory/api/npm/npm-virtual/"
        p = ".npmrc"
    else:
        t = f"remote_write:\n  - url: https://{ri(100000, 999999)}:{pw}@prometheus-prod-{ri(1, 40)}-prod-eu-west-2.grafana.net/api/prom/push"
        p = "agent.yaml"
    return dict(path=p, text=t, secrets=[pw])


@secret("url_keys")
def u_token_query_hook():
    v = rnd_b64(30, url=True)
    return dict(text=T("""
        Set the GitHub webhook payload URL to
        https://ci.@@o@@.io/generic-webhook-trigger/invoke?token=@@v@@
        and the content type to application/json.
        """, o=org(), v=v), secrets=[v])


@secret("url_keys")
def u_teams_hook():
    g1, g2, h, g3 = uuid4(), uuid4(), rnd(HEX, 32), uuid4()
    sig = "V2" + rnd(B64URL, 43)
    url = f"https://{org()}.webhook.office.com/webhookb2/{g1}@{g2}/IncomingWebhook/{h}/{g3}/{sig}"
    return dict(lang="powershell", text=f'$hook = "{url}"\nInvoke-RestMethod -Method Post -Uri $hook -Body (@{{text="Backup finished"}} | ConvertTo-Json) -ContentType "application/json"', secrets=[h, sig])


# ---------------------------------------------------------------- code_constants
@secret("code_constants")
def q_rust_const():
    v = rnd(HEX, 64)
    s = rnd_b64(16)
    return dict(lang="rust", path="src/keys.rs", text=T("""
        // TODO(@@p@@): load from KMS before GA
        const MASTER_KEY_HEX: &str = "@@v@@";
        pub(crate) static TOKEN_SALT_B64: &str = "@@s@@";

        pub fn master_key() -> [u8; 32] {
            let mut k = [0u8; 32];
            hex::decode_to_slice(MASTER_KEY_HEX, &mut k).expect("valid hex");
            k
        }
        """, p=pick(PEOPLE), v=v, s=s), secrets=[v, s])


@secret("code_constants")
def q_go_var():
    v = rnd(ALNUM, 40)
    return dict(lang="go", path="internal/auth/jwt.go", text=T("""
        package auth

        var jwtSigningSecret = []byte("@@v@@")

        func Sign(claims jwt.MapClaims) (string, error) {
        	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(jwtSigningSecret)
        }
        """, v=v), secrets=[v])


@secret("code_constants")
def q_ts_export():
    v = pick([rnd_b64(32), rnd(HEX, 48), rnd_b64(24, url=True)])
    k = pick(["API_SECRET", "WEBHOOK_SIGNING_KEY", "ENCRYPTION_KEY", "INTERNAL_TOKEN"])
    return dict(lang="typescript", path="src/constants.ts", text=T("""
        export const API_BASE = "https://api.@@o@@.io";
        export const @@k@@ = "@@v@@";
        export const RETRY_LIMIT = 3;
        """, o=org(), k=k, v=v), secrets=[v])


@secret("code_constants")
def q_python_salt():
    v = rnd_b64(24)
    k2 = rnd(HEX, 32)
    return dict(lang="python", path=f"{svc()}/crypto.py", text=T("""
        import hashlib, hmac

        PASSWORD_SALT = b"@@v@@"
        _API_TOKEN_KEY = bytes.fromhex("@@k2@@")

        def sign(payload: bytes) -> str:
            return hmac.new(_API_TOKEN_KEY, payload, hashlib.sha256).hexdigest()
        """, v=v, k2=k2), secrets=[v, k2])


@secret("code_constants")
def q_java_final():
    v = rnd_b64(32)
    return dict(lang="java", path="src/main/java/com/%s/crypto/Aes.java" % org(), text=T("""
        public final class Aes {
            private static final String ENCRYPTION_KEY = "@@v@@";
            private static final int GCM_TAG_BITS = 128;

            static SecretKey key() {
                return new SecretKeySpec(Base64.getDecoder().decode(ENCRYPTION_KEY), "AES");
            }
        }
        """, v=v), secrets=[v])


@secret("code_constants")
def q_csharp_kotlin():
    v = rnd(ALNUM, 48)
    if R.random() < 0.5:
        t = T("""
            internal static class JwtDefaults
            {
                public const string Issuer = "@@o@@-api";
                public const string SigningKey = "@@v@@";
            }
            """, o=org(), v=v)
        lang = "csharp"
    else:
        t = T("""
            object ApiConfig {
                const val BASE_URL = "https://api.@@o@@.io/"
                const val CLIENT_SECRET = "@@v@@"
            }
            """, o=org(), v=v)
        lang = "kotlin"
    return dict(lang=lang, text=t, secrets=[v])


@secret("code_constants")
def q_wp_config():
    alpha = ALNUM + "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    vals = [rnd(alpha, 64) for _ in range(4)]
    names = ["AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_SALT"]
    lines = "\n".join(f"define( '{n}', {' ' * (16 - len(n))}'{v}' );" for n, v in zip(names, vals))
    return dict(lang="php", path="wp-config.php", text="/**#@+\n * Authentication unique keys and salts.\n */\n" + lines + "\n/**#@-*/", secrets=vals)


@secret("code_constants")
def q_ruby_swift():
    v = rnd(HEX, 64)
    if R.random() < 0.5:
        t = f"# config/initializers/secret_token.rb\n{org().capitalize()}::Application.config.secret_key_base = '{v}'"
        lang = "ruby"
    else:
        t = f'enum Secrets {{\n    static let analyticsSecret = "{v}"\n    static let environment = "production"\n}}'
        lang = "swift"
    return dict(lang=lang, text=t, secrets=[v])


@secret("code_constants")
def q_diff_added_key():
    v = rnd_b64(32)
    return dict(lang="diff", cmd="git diff --cached", text=T("""
        diff --git a/src/config/crypto.ts b/src/config/crypto.ts
        index @@a@@..@@b@@ 100644
        --- a/src/config/crypto.ts
        +++ b/src/config/crypto.ts
        @@ -1,4 +1,5 @@
         import { createCipheriv } from "node:crypto";
        -export const DATA_KEY = process.env.DATA_KEY!;
        +// temporary: env var is missing on the preview deploys
        +export const DATA_KEY = "@@v@@";
         export const ALGO = "aes-256-gcm";
        """, a=hexs(7), b=hexs(7), v=v), secrets=[v])


# ---------------------------------------------------------------- connection_strings
@secret("connection_strings")
def cs_postgres_url():
    pw = password(urlsafe=True)
    u = pick(DBUSERS)
    ctx = R.randrange(3)
    url = f"postgres{pick(['', 'ql'])}://{u}:{pw}@{host()}:5432/{svc()}?sslmode=require"
    if ctx == 0:
        t = f"DATABASE_URL={url}"
    elif ctx == 1:
        t = f'engine = create_engine("{url.replace("postgres://", "postgresql+psycopg://").replace("postgresql://", "postgresql+psycopg://")}", pool_pre_ping=True)'
    else:
        t = f"{ts()} ERROR sqlalchemy.pool: (psycopg.OperationalError) connection to {url} failed: timeout expired"
    return dict(text=t, secrets=[pw])


@secret("connection_strings")
def cs_mongo():
    pw = password(urlsafe=True)
    c = f"cluster{ri(0, 9)}.{rs(LOWNUM, 5)}.mongodb.net"
    return dict(lang="javascript", path="src/db.js", text=T("""
        const uri = process.env.MONGO_URI ||
          "mongodb+srv://@@u@@:@@pw@@@@@c@@/@@s@@?retryWrites=true&w=majority&appName=@@s@@";
        const client = new MongoClient(uri);
        """, u=pick(DBUSERS), pw=pw, c=c, s=svc()), secrets=[pw])


@secret("connection_strings")
def cs_redis_amqp():
    pw = password(urlsafe=True)
    t = pick([f"REDIS_URL=rediss://default:{pw}@{rs(LOW, 6)}-{rs(LOW, 6)}-{ri(10000, 99999)}.upstash.io:6379",
              f"CELERY_BROKER_URL=amqps://{svc()}:{pw}@{rs(LOW, 8)}.rmq.cloudamqp.com/{rs(LOW, 8)}",
              f"cache:\n  url: redis://:{pw}@{host('redis')}:6379/0"])
    return dict(text=t, secrets=[pw])


@secret("connection_strings")
def cs_jdbc():
    pw = password()
    return dict(lang="properties", path="src/main/resources/application.properties", text=T("""
        spring.datasource.url=jdbc:mysql://@@h@@:3306/@@s@@?useSSL=true&user=@@u@@&password=@@pw@@
        spring.jpa.hibernate.ddl-auto=validate
        """, h=host(), s=svc(), u=pick(DBUSERS), pw=pw), secrets=[pw])


@secret("connection_strings")
def cs_sqlserver():
    pw = password()
    return dict(lang="json", path="appsettings.json", text=T("""
        {
          "ConnectionStrings": {
            "Default": "Server=tcp:@@o@@-sql.database.windows.net,1433;Initial Catalog=@@s@@;User ID=@@u@@;Password=@@pw@@;Encrypt=True;Connection Timeout=30;"
          }
        }
        """, o=org(), s=svc(), u=pick(DBUSERS), pw=pw), secrets=[pw])


@secret("connection_strings")
def cs_libpq_kv():
    pw = password()
    return dict(text=T("""
        $ psql "host=@@h@@ port=5432 dbname=@@s@@ user=@@u@@ password=@@pw@@ sslmode=verify-full"
        psql (16.@@m@@)
        SSL connection (protocol: TLSv1.3, cipher: TLS_AES_256_GCM_SHA384, compression: off)
        @@s@@=>
        """, h=host(), s=svc(), u=pick(DBUSERS), pw=pw, m=ri(1, 6)), secrets=[pw])


@secret("connection_strings")
def cs_heroku_config():
    pw = password(urlsafe=True)
    rpw = rnd(HEX, 64)
    return dict(cmd=f"heroku config -a {org()}-{svc()}", text=T("""
        === @@app@@ Config Vars
        DATABASE_URL: postgres://@@u@@:@@pw@@@ec2-@@ipd@@.compute-1.amazonaws.com:5432/@@db@@
        REDIS_URL:    rediss://:@@rpw@@@ec2-@@ipd2@@.compute-1.amazonaws.com:@@port@@
        RAILS_ENV:    production
        """, app=f"{org()}-{svc()}", u=rs(LOW, 14), pw=pw, ipd="-".join(str(ri(1, 254)) for _ in range(4)), db=rs(LOWNUM, 14),
                   rpw=rpw, ipd2="-".join(str(ri(1, 254)) for _ in range(4)), port=ri(10000, 30000)), secrets=[pw, rpw])


@secret("connection_strings")
def cs_alembic_kafka():
    pw = password(urlsafe=True)
    if R.random() < 0.5:
        return dict(lang="ini", path="alembic.ini", text=f"[alembic]\nscript_location = migrations\nsqlalchemy.url = mysql+pymysql://{pick(DBUSERS)}:{pw}@{host()}/{svc()}", secrets=[pw])
    return dict(lang="properties", path="client.properties", text=f'security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="{rs(UPNUM, 16)}" password="{pw}";', secrets=[pw])


# ---------------------------------------------------------------- config_files
@secret("config_files")
def cf_dotenv_mixed():
    vs = vendors(ri(3, 4))
    k, g = generic_secret()
    lines = ["# production -- do not commit", f"APP_URL=https://app.{org()}.io"] + [f"{a}={b}" for a, b in vs] + [f'{k}="{g}"']
    return dict(path=".env", text="\n".join(lines), secrets=[b for _, b in vs] + [g])


@secret("config_files")
def cf_yaml_app():
    pw = password()
    k, v = vendors(1)[0]
    return dict(lang="yaml", path="config/production.yaml", text=T("""
        database:
          host: @@h@@
          username: @@u@@
          password: "@@pw@@"
        mail:
          provider: smtp
          smtp_password: @@smtp@@
        integrations:
          @@kk@@: @@v@@
        """, h=host(), u=pick(DBUSERS), pw=pw, smtp=(smtp := rnd_b64(30)), kk=k.lower(), v=v), secrets=[pw, smtp, v])


@secret("config_files")
def cf_toml_ini():
    if R.random() < 0.5:
        t = "cio" + rnd(ALNUM, 32)
        return dict(lang="toml", path="~/.cargo/credentials.toml", text=f'[registry]\ntoken = "{t}"\n\n[registries.{org()}]\ntoken = "Bearer {(t2 := rnd_b64(32))}"', secrets=[t, t2])
    p = pypi_token()
    return dict(lang="ini", path="~/.pypirc", text=f"[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = {p}", secrets=[p])


@secret("config_files")
def cf_hcl_provider():
    t = pick([gh_pat, do_token, tfc_token])()
    pw = password()
    return dict(lang="hcl", path="providers.tf", text=T("""
        provider "github" {
          owner = "@@o@@"
          token = "@@t@@"
        }

        provider "postgresql" {
          host     = "@@h@@"
          username = "tf_admin"
          password = "@@pw@@"
          sslmode  = "require"
        }
        """, o=org(), t=t, h=host(), pw=pw), secrets=[t, pw])


@secret("config_files")
def cf_kubeconfig_token():
    tok = jwt_token("RS256", {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "ci"})
    c = f"{org()}-prod"
    return dict(lang="yaml", path="ci-kubeconfig.yaml", text=T("""
        apiVersion: v1
        kind: Config
        clusters:
        - name: @@c@@
          cluster:
            server: https://@@ip@@:6443
            insecure-skip-tls-verify: true
        users:
        - name: ci-deployer
          user:
            token: @@tok@@
        contexts:
        - name: ci
          context: {cluster: @@c@@, user: ci-deployer, namespace: ci}
        current-context: ci
        """, c=c, ip=ip(), tok=tok), secrets=[tok])


@secret("config_files")
def cf_docker_config_auth():
    u = pick(PEOPLE)
    pat = pick([lambda: "dckr_pat_" + rnd(B64URL, 27), gh_pat])()
    auth = base64.b64encode(f"{u}:{pat}".encode()).decode()
    return dict(lang="json", path="~/.docker/config.json", text=json.dumps({"auths": {pick(["https://index.docker.io/v1/", "ghcr.io"]): {"auth": auth}}}, indent=2), secrets=[auth])


@secret("config_files")
def cf_netrc_aws():
    if R.random() < 0.5:
        pw = password()
        return dict(path="~/.netrc", text=f"machine api.heroku.com\n  login {pick(PEOPLE)}@{org()}.io\n  password {(hk := 'HRKU-AA' + rnd(B64URL, 58))}\nmachine git.{org()}.internal login deploy password {pw}", secrets=[hk, pw])
    a, b = aws_id(), aws_secret()
    return dict(lang="ini", path="~/.aws/credentials", text=f"[default]\nregion = {pick(REGIONS)}\n\n[{org()}-admin]\naws_access_key_id = {a}\naws_secret_access_key = {b}", secrets=[a, b])


@secret("config_files")
def cf_properties_gradle():
    pw = password()
    kp = password()
    return dict(lang="properties", path="~/.gradle/gradle.properties", text=T("""
        org.gradle.jvmargs=-Xmx4g
        ossrhUsername=@@u@@
        ossrhPassword=@@pw@@
        signing.keyId=@@kid@@
        signing.password=@@kp@@
        signing.secretKeyRingFile=/home/@@u@@/.gnupg/secring.gpg
        """, u=pick(PEOPLE), pw=pw, kid=hexs(8).upper(), kp=kp), secrets=[pw, kp])


@secret("config_files")
def cf_composer_auth():
    t = gh_pat()
    pw = password()
    return dict(lang="json", path="auth.json", text=json.dumps({"github-oauth": {"github.com": t},
                                                              "http-basic": {f"repo.{org()}.io": {"username": "composer", "password": pw}}}, indent=4), secrets=[t, pw])


# ---------------------------------------------------------------- headers_cookies
@secret("headers_cookies")
def hc_curl_verbose_bearer():
    tok = pick([lambda: jwt_token("HS256", {"role": "admin"}), openai_key, anthropic_key])()
    return dict(cmd=f"curl -v https://api.{org()}.io/v1/me", text=T("""
        *   Trying @@ip@@:443...
        * Connected to api.@@o@@.io (@@ip@@) port 443
        > GET /v1/me HTTP/2
        > Host: api.@@o@@.io
        > User-Agent: curl/8.5.0
        > Accept: */*
        > Authorization: Bearer @@tok@@
        >
        < HTTP/2 401
        < www-authenticate: Bearer error="invalid_token"
        """, ip=ip(), o=org(), tok=tok), secrets=[tok])


@secret("headers_cookies")
def hc_basic_header_log():
    u = pick(["admin", "ops", pick(PEOPLE)])
    cred = base64.b64encode(f"{u}:{password()}".encode()).decode()
    return dict(text=f'{ip()} - - [{ri(1, 28):02d}/Mar/2025:{ri(0, 23):02d}:{ri(10, 59)}:{ri(10, 59)} +0000] "GET /admin/ HTTP/1.1" 401 0 "-" "python-requests/2.32" headers={{"Authorization": "Basic {cred}", "Accept": "*/*"}}', secrets=[cred])


@secret("headers_cookies")
def hc_cookies():
    sess = rnd_b64(32, url=True)
    kind = R.randrange(2)
    if kind == 0:
        flask = "." + rnd_b64(60, url=True) + "." + rnd(B64URL, 6) + "." + rnd(B64URL, 27)
        return dict(text=f"< set-cookie: session={flask}; HttpOnly; Path=/; SameSite=Lax; Secure\n< set-cookie: remember_token={sess}; Expires=Thu, 01 Jan 2026 00:00:00 GMT; HttpOnly; Path=/", secrets=[flask, sess])
    return dict(text=f"Cookie: _ga=GA1.1.{ri(10**8, 10**9)}.{ri(1_700_000_000, 1_760_000_000)}; sessionid={(sid := rnd(LOWNUM, 32))}; csrftoken={rs(ALNUM, 32)}", secrets=[sid])


@secret("headers_cookies")
def hc_har_entry():
    tok = pick([gh_pat, gitlab_pat, shopify_token, postman_key])()
    hname = {"ghp": "authorization", "glp": "private-token", "shp": "x-shopify-access-token", "PMA": "x-api-key"}[tok[:3]]
    hval = f"token {tok}" if hname == "authorization" else tok
    return dict(lang="json", path="session.har", text=json.dumps({"request": {"method": "GET", "url": f"https://api.{org()}.io/v1/items",
                                                                           "headers": [{"name": "accept", "value": "application/json"}, {"name": hname, "value": hval}]},
                                                               "response": {"status": 200}}, indent=2), secrets=[tok])


@secret("headers_cookies")
def hc_requests_debug():
    kind = R.randrange(3)
    k = [datadog_api, sendgrid_key, newrelic_key][kind]()
    h = ["DD-API-KEY", "Authorization", "Api-Key"][kind]
    apihost = ["datadoghq.eu", "sendgrid.com", "newrelic.com"][kind]
    path = ["/api/v2/series", "/v3/mail/send", "/graphql"][kind]
    v = f"Bearer {k}" if h == "Authorization" else k
    return dict(text=T("""
        DEBUG:urllib3.connectionpool:Starting new HTTPS connection (1): api.@@host@@:443
        send: b'POST @@path@@ HTTP/1.1\\r\\nHost: api.@@host@@\\r\\n@@h@@: @@v@@\\r\\nContent-Type: application/json\\r\\nContent-Length: @@n@@\\r\\n\\r\\n'
        reply: 'HTTP/1.1 202 Accepted\\r\\n'
        """, host=apihost, path=path, h=h, v=v, n=ri(100, 9000)), secrets=[k])


# ---------------------------------------------------------------- cli_and_ci
@secret("cli_and_ci")
def ci_docker_run_e():
    pw = password(urlsafe=True)
    k, v = vendors(1)[0]
    return dict(text=f"docker run -d --name {svc()} -e POSTGRES_PASSWORD={pw} -e {k}={v} -p 5432:5432 postgres:16", secrets=[pw, v])


@secret("cli_and_ci")
def ci_curl_u():
    pw = password(urlsafe=True)
    return dict(text=f"curl -fsS -u {pick(['admin', 'deploy', 'jenkins'])}:{pw} https://jenkins.{org()}.internal/job/{svc()}/build?delay=0sec -X POST\n(no output; HTTP 201)", secrets=[pw])


@secret("cli_and_ci")
def ci_set_x_log():
    a, b = aws_id(), aws_secret()
    return dict(text=T("""
        [build] $ /bin/bash -xe /tmp/jenkins@@n@@.sh
        + export AWS_DEFAULT_REGION=@@r@@
        + AWS_DEFAULT_REGION=@@r@@
        + export AWS_ACCESS_KEY_ID=@@a@@
        + AWS_ACCESS_KEY_ID=@@a@@
        + export AWS_SECRET_ACCESS_KEY=@@b@@
        + AWS_SECRET_ACCESS_KEY=@@b@@
        + aws ecr get-login-password
        """, n=ri(10**6, 10**7), r=pick(REGIONS), a=a, b=b), secrets=[a, b])


@secret("cli_and_ci")
def ci_kubectl_literal():
    pw = password(urlsafe=True)
    k, v = vendors(1)[0]
    s = svc()
    return dict(text=f"kubectl -n {s} create secret generic {s}-env \\\n  --from-literal=DB_PASSWORD='{pw}' \\\n  --from-literal={k}='{v}' \\\n  --dry-run=client -o yaml | kubectl apply -f -\nsecret/{s}-env configured", secrets=[pw, v])


@secret("cli_and_ci")
def ci_mysql_p():
    pw = password(urlsafe=True)
    return dict(text=f"$ mysql -h {host()} -u root -p'{pw}' -e 'SHOW DATABASES;'\nmysql: [Warning] Using a password on the command line interface can be insecure.\n+--------------------+\n| Database           |\n+--------------------+\n| {svc():<18} |\n+--------------------+", secrets=[pw])


@secret("cli_and_ci")
def ci_history():
    vs = vendors(2)
    pw = password(urlsafe=True)
    lines = [f"  {ri(100, 900)}  cd ~/src/{svc()}",
             f"  {ri(100, 900)}  export {vs[0][0]}={vs[0][1]}",
             f"  {ri(100, 900)}  sshpass -p '{pw}' ssh deploy@{host('app')}",
             f"  {ri(100, 900)}  gh secret set {vs[1][0]} --body \"{vs[1][1]}\"",
             f"  {ri(100, 900)}  history | tail"]
    return dict(cmd="history | tail -5", text="\n".join(lines), secrets=[vs[0][1], pw, vs[1][1]])


@secret("cli_and_ci")
def ci_az_sp_login():
    app, ten = uuid4(), uuid4()
    sec = rnd(ALNUM, 3) + "8Q~" + rnd(B64URL + "~.", 34)
    return dict(text=f"az login --service-principal -u {app} -p '{sec}' --tenant {ten}\n[\n  {{\n    \"cloudName\": \"AzureCloud\",\n    \"tenantId\": \"{ten}\",\n    \"user\": {{ \"name\": \"{app}\", \"type\": \"servicePrincipal\" }}\n  }}\n]", secrets=[sec])


@secret("cli_and_ci")
def ci_heroku_gh_vercel():
    k, v = vendors(1)[0]
    kind = R.randrange(3)
    if kind == 0:
        t = f"$ heroku config:set {k}={v} -a {org()}-{svc()}\nSetting {k} and restarting ⬢ {org()}-{svc()}... done, v{ri(10, 400)}"
    elif kind == 1:
        t = f"$ echo '{v}' | vercel env add {k} production\n✅  Added Environment Variable {k} to Project {svc()} [{ri(100, 999)}ms]"
    else:
        t = f"$ fly secrets set {k}={v} -a {svc()}-prod\nUpdating existing machines in '{svc()}-prod' with rolling strategy"
    return dict(text=t, secrets=[v])


@secret("cli_and_ci")
def ci_vault_approle():
    rid, sid = uuid4(), uuid4()
    tok = vault_token()
    return dict(text=T("""
        $ vault write auth/approle/login role_id=@@rid@@ secret_id=@@sid@@
        Key                     Value
        ---                     -----
        token                   @@tok@@
        token_accessor          @@acc@@
        token_duration          1h
        token_policies          ["default" "@@s@@-read"]
        """, rid=rid, sid=sid, tok=tok, acc=rs(ALNUM, 24), s=svc()), secrets=[sid, tok])


@secret("cli_and_ci")
def ci_aws_configure_npm():
    if R.random() < 0.5:
        b = aws_secret()
        return dict(text=f"aws configure set aws_secret_access_key {b} --profile {org()}\naws configure set region {pick(REGIONS)} --profile {org()}", secrets=[b])
    t = npm_token()
    return dict(text=f"npm config set //registry.npmjs.org/:_authToken {t}\nnpm whoami\n{org()}-bot", secrets=[t])


# ======================================================================= assembly
CLEAN_TARGETS = {
    "config_templated": 30, "config_reference_docs": 20, "secret_store_refs": 22, "code_handles_secrets": 22,
    "test_fakes": 16, "made_up_values": 14, "vendor_doc_examples": 14, "lockfile_hashes": 18, "vcs_digests": 18,
    "infra_ids": 20, "public_key_material": 20, "web_artifacts": 16, "prose_security": 14, "cli_help_docs": 14,
    "identifiers_secret_words": 16, "agent_harness_ids": 12, "encoded_data": 8,
}
SECRET_TARGETS = {
    "json_escaped": 18, "key_pairs": 14, "provider_near_value": 16, "url_keys": 12, "code_constants": 14,
    "connection_strings": 14, "config_files": 14, "headers_cookies": 10, "cli_and_ci": 14,
}
MAX_LINES = 40
MAX_USES = 3


def build_case(fn, expect):
    for _attempt in range(20):
        d = fn()
        text, secrets = d["text"], list(d.get("secrets", []))
        allowed = d.get("wrap")
        wname = choose_wrapper(allowed, d)
        out = WRAPPERS[wname](text, d)
        if len(out.split("\n")) > MAX_LINES:
            if allowed is None or any(w in allowed for w in ("json1", "json2", "jsonl")):
                wname = choose_wrapper([w for w in ("json1", "json2", "jsonl") if allowed is None or w in allowed])
                out = WRAPPERS[wname](text, d)
        if len(out.split("\n")) > MAX_LINES:
            continue
        if expect == "secret":
            assert secrets, fn.__name__
            missing = [s for s in secrets if s not in out]
            assert not missing, (fn.__name__, wname, missing)
        else:
            assert not secrets, fn.__name__
        return out, secrets, wname
    raise RuntimeError(f"{fn.__name__}: could not fit in {MAX_LINES} lines")


def schedule(registry, targets):
    plan = []
    assert set(registry) == set(targets), (sorted(registry), sorted(targets))
    for fam, n in targets.items():
        tpls = registry[fam]
        assert len(tpls) * MAX_USES >= n, (fam, len(tpls), n)
        for i in range(n):
            plan.append((fam, tpls[i % len(tpls)]))
    return plan


def main():
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "session_tuning8.jsonl")
    plan = [(f, t, "clean") for f, t in schedule(CLEAN, CLEAN_TARGETS)]
    plan += [(f, t, "secret") for f, t in schedule(SECRET, SECRET_TARGETS)]
    R.shuffle(plan)
    cases, seen, wrap_counts = [], set(), {}
    for i, (fam, fn, expect) in enumerate(plan, 1):
        for _ in range(10):
            text, secrets, wname = build_case(fn, expect)
            if text not in seen:
                break
        assert text not in seen, fn.__name__
        seen.add(text)
        wrap_counts[wname] = wrap_counts.get(wname, 0) + 1
        cases.append({"id": f"t8-{i:04d}", "family": fam, "expect": expect, "text": text, "secrets": secrets})
    with open(out_path, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")

    # ---- report and self-check (re-read the file)
    rows = [json.loads(l) for l in open(out_path, encoding="utf-8")]
    assert len(rows) == 420, len(rows)
    fams = {}
    for r in rows:
        assert set(r) == {"id", "family", "expect", "text", "secrets"}
        assert r["expect"] in ("clean", "secret")
        n_lines = len(r["text"].split("\n"))
        assert 1 <= n_lines <= MAX_LINES, (r["id"], n_lines)
        if r["expect"] == "secret":
            assert r["secrets"] and all(s in r["text"] for s in r["secrets"]), r["id"]
        else:
            assert r["secrets"] == [], r["id"]
        fams.setdefault((r["expect"], r["family"]), 0)
        fams[(r["expect"], r["family"])] += 1
    n_clean = sum(v for (e, _), v in fams.items() if e == "clean")
    n_secret = sum(v for (e, _), v in fams.items() if e == "secret")
    print(f"wrote {out_path}: {len(rows)} cases, {n_clean} clean, {n_secret} secret, "
          f"{sum(len(r['secrets']) for r in rows)} secret values")
    for (e, fam), v in sorted(fams.items()):
        print(f"  {e:<6} {fam:<26} {v:>3}")
    print("  wrappers:", ", ".join(f"{k}={v}" for k, v in sorted(wrap_counts.items())))
    print("  templates: %d clean, %d secret" % (sum(map(len, CLEAN.values())), sum(map(len, SECRET.values()))))


if __name__ == "__main__":
    sys.exit(main())
