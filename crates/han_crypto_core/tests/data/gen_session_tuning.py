#!/usr/bin/env python3
"""Generate session_tuning.jsonl: tuning cases for the secret-redaction engine.

Each line: {"id", "type", "expect": "secret"|"clean", "text", "secrets": [...]}.
Every secret value is drawn from a seeded PRNG (seed 20261201) using the
alphabet / length / prefix of the vendor format it imitates; none of them is,
or ever was, a real credential.  Run:  python3 gen_session_tuning.py
"""
import base64
import json
import os
import re
import random
import string
import uuid
from urllib.parse import quote

SEED = 20261201
R = random.Random(SEED)

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
ALNUM = UP + LO + DG
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
B32 = UP + "234567"
PWCH = ALNUM + "!#%*-_.+"
URLPW = ALNUM + "-_."


def rs(n, a=ALNUM):
    return "".join(R.choice(a) for _ in range(n))


def hx(n):
    return rs(n, HEX)


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
    """Escape s for embedding inside a JSON string literal."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


def fill(_tpl, **kw):
    for k, v in kw.items():
        _tpl = _tpl.replace("@@" + k + "@@", str(v))
    assert not re.search(r"@@[A-Za-z0-9_]+@@", _tpl), _tpl
    return _tpl


def wrap(s, w=64):
    return "\n".join(s[i:i + w] for i in range(0, len(s), w))


def sha(n=64):
    return hx(n)


def date(y=2026):
    return "%d-%02d-%02d" % (y, rint(1, 11), rint(1, 28))


def ts():
    return "%sT%02d:%02d:%02d.%03dZ" % (date(), rint(0, 23), rint(0, 59), rint(0, 59), rint(0, 999))


def ts_seq(n):
    """n increasing ISO timestamps within one day."""
    d = date()
    t = rint(0, 20 * 3600)
    out = []
    for _ in range(n):
        t += rint(0, 90)
        out.append("%sT%02d:%02d:%02d.%03dZ" % (d, t // 3600, t // 60 % 60, t % 60, rint(0, 999)))
    return out


def hms():
    return "%02d:%02d:%02d" % (rint(0, 23), rint(0, 59), rint(0, 59))


def acct():
    return str(rint(100000000000, 999999999999))


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"]
SERVICES = ["billing-api", "auth-gateway", "ledger", "notifier", "search-indexer", "checkout", "inventory-svc",
            "media-proxy", "webhooks", "reports-worker"]
USERS = ["maria", "deploy", "jchen", "svc_ci", "ops", "priya", "tomasz", "admin", "app", "etl_user"]
ORGS = ["acme", "northwind", "globex", "initech", "hooli", "umbrella-labs", "contoso", "tyrell"]
REPOS = ["payments", "web", "infra", "platform", "mobile-app", "data-pipeline", "api", "dashboard"]
DBHOSTS = ["db-primary.internal", "pg.prod.acme.io", "10.0.3.17", "postgres.staging.svc.cluster.local",
           "orders-db.c9xk2lq8vz1p.eu-west-1.rds.amazonaws.com", "localhost", "db"]
NAMES = ["Maria Lopez", "James Chen", "Priya Raman", "Tomasz Nowak", "Aiko Sato", "Dev Patel", "Lena Fischer"]


# ---------------------------------------------------------------- vendor-shaped secrets
def aws_id(p="AKIA"):
    return p + rs(16, B32)


def aws_secret():
    return rs(40, B64)


def ghp():
    return "ghp_" + rs(36)


def ghs():
    return "ghs_" + rs(36)


def gh_pat():
    return "github_pat_11" + rs(20, UP + DG) + "_" + rs(59)


def glpat():
    return "glpat-" + rs(20, ALNUM + "-_")


def xoxb():
    return "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 10, 10 ** 12), rs(24))


def xoxp():
    return "xoxp-%d-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 10, 10 ** 12), rint(10 ** 11, 10 ** 13), hx(32))


def openai_key():
    return "sk-proj-" + rs(74, ALNUM + "-_") + "T3BlbkFJ" + rs(74, ALNUM + "-_")


def anthropic_key():
    return "sk-ant-api03-" + rs(93, ALNUM + "-_") + "AA"


def stripe(p="sk_live_"):
    return p + "51" + rs(pick([22, 97]))


def sendgrid():
    return "SG." + rs(22, B64URL) + "." + rs(43, B64URL)


def mailgun():
    return "key-" + hx(32)


def npm_tok():
    return "npm_" + rs(36)


def hf_tok():
    return "hf_" + rs(34, UP + LO)


def dckr():
    return "dckr_pat_" + rs(27, ALNUM + "-_")


def shpat():
    return "shpat_" + hx(32)


def pypi_tok():
    return "pypi-AgEIcHlwaS5vcmc" + rs(150, B64URL)


def google_key():
    return "AIza" + rs(35, B64URL)


def telegram():
    return "%d:AA%s" % (rint(10 ** 8, 8 * 10 ** 9), rs(33, B64URL))


def password(n=None, a=PWCH):
    n = n or rint(14, 24)
    while True:
        p = rs(n, a)
        if any(c in DG for c in p) and any(c in UP for c in p) and any(c in LO for c in p):
            return p


def urlpw(n=None):
    return password(n, URLPW)


def jwt(claims=None, sig_len=43):
    h = b64u(json.dumps({"alg": "HS256" if sig_len == 43 else "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    now = rint(1764000000, 1790000000)
    c = {"sub": str(rint(1000, 999999)), "iat": now, "exp": now + pick([900, 3600, 86400])}
    if claims:
        c.update(claims)
    p = b64u(json.dumps(c, separators=(",", ":")).encode())
    return h + "." + p + "." + rs(sig_len, B64URL)


def k8s_sa_jwt():
    return jwt({"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": pick(["default", "ci", "prod"]),
                "kubernetes.io/serviceaccount/service-account.name": pick(["deployer", "argocd", "runner"])}, 342)


def pem_block(label, der, width=64):
    return "-----BEGIN %s-----\n%s\n-----END %s-----" % (label, wrap(b64e(der), width), label)


def rsa_pem():
    return pem_block("RSA PRIVATE KEY", bytes.fromhex("308204a40201000282010100") + rbytes(1180))


def pkcs8_pem():
    pre = bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8308204a40201000282010100")
    return pem_block("PRIVATE KEY", pre + rbytes(1168))


def ec_pem():
    der = (bytes.fromhex("30770201010420") + rbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a14403420004")
           + rbytes(64))
    return pem_block("EC PRIVATE KEY", der)


def openssh_pem():
    pub = rbytes(32)
    der = (b"openssh-key-v1\x00" + b"\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01"
           + b"\x00\x00\x003\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00\x88"
           + rbytes(8) + b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00@" + rbytes(64)
           + b"\x00\x00\x00\x0e" + b"dev@workstation" + b"\x01\x02\x03\x04\x05")
    return pem_block("OPENSSH PRIVATE KEY", der, 70)


# ---------------------------------------------------------------- harmless high-entropy ids
def ec2_id():
    return "i-0" + hx(16)


def rid(prefix, n=17):
    return prefix + "-0" + hx(n - 1) if n == 17 else prefix + "-" + hx(n)


def short_sha():
    return hx(7)


def git_sha():
    return hx(40)


def npm_integrity():
    return "sha512-" + b64e(rbytes(64))


def pod(name):
    return "%s-%s-%s" % (name, rs(pick([9, 10]), "bcdfghjklmnpqrstvwxz2456789"), rs(5, "bcdfghjklmnpqrstvwxz2456789"))


def trace_id():
    return hx(32)


def span_id():
    return hx(16)


def tiny_png_b64(n=180):
    head = bytes.fromhex("89504e470d0a1a0a0000000d49484452")
    return b64e(head + rbytes(n))


# ================================================================ CLEAN: doc_example
def d_aws_configure():
    return fill(pick(["following the AWS quickstart, is this how the prompt is supposed to look?\n\n",
                      "Tool output:\n", "", "pasting from the setup guide:\n"]) + """$ aws configure --profile @@p@@
AWS Access Key ID [None]: AKIAIOSFODNN7EXAMPLE
AWS Secret Access Key [None]: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
Default region name [None]: @@r@@
Default output format [None]: json""", p=pick(["dev", "sandbox", "personal"]), r=pick(REGIONS))


def d_aws_readme():
    return """## Configuring credentials

Create `~/.aws/credentials` with a profile for the sandbox account:

```ini
[sandbox]
aws_access_key_id = AKIAI44QH8DHBEXAMPLE
aws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY
region = %s
```

> These are the example values from the AWS documentation; substitute your own
> and never commit the real file.""" % pick(REGIONS)


def d_env_example():
    return fill("""$ cat .env.example
# Copy this file to .env and fill in real values. Do NOT commit .env
APP_ENV=development
PORT=@@port@@
DATABASE_URL=postgres://user:password@localhost:5432/@@db@@_dev
REDIS_URL=redis://localhost:6379/0
OPENAI_API_KEY=your-openai-api-key-here
STRIPE_SECRET_KEY=<REPLACE_ME>
SESSION_SECRET=changeme
SENTRY_DSN=
SMTP_PASSWORD=placeholder""", port=pick(["3000", "8080", "4000"]), db=pick(REPOS).replace("-", "_"))


def d_yaml_placeholder():
    return fill("""# config/@@svc@@.example.yaml
server:
  listen: 0.0.0.0:@@port@@
upstream:
  base_url: https://api.example.com/v2
  api_key: "<YOUR_API_KEY>"
  timeout_ms: 2500
database:
  user: @@svc_u@@
  password: changeme   # override with DB_PASSWORD in real deployments
  host: localhost""", svc=pick(SERVICES), port=pick(["8443", "9000", "7070"]), svc_u=pick(USERS))


def d_python_docstring():
    return fill('''class WeatherClient:
    """Thin wrapper around the forecast API.

    Example::

        >>> client = WeatherClient(api_key="abc123")
        >>> client.forecast(lat=52.52, lon=13.40, days=@@n@@)
        Forecast(city='Berlin', days=@@n@@)

    The key above is a dummy; pass your own or set ``WEATHER_API_KEY``.
    """

    def __init__(self, api_key: str, base_url: str = "https://api.example.com"):
        self._api_key = api_key
        self._base_url = base_url''', n=str(rint(2, 7)))


def d_ts_fixture():
    return """// test/fixtures/auth.ts
export const FAKE_TOKEN = "0123456789abcdef0123456789abcdef";
export const FAKE_USER = { id: "user_1", email: "test@example.com" };

describe("requireAuth", () => {
  it("rejects an unknown token", async () => {
    const res = await request(app).get("/me").set("Authorization", `Bearer ${FAKE_TOKEN}`);
    expect(res.status).toBe(401);
  });
});"""


def d_prompt_ghp_x():
    return pick(["The README says to run `export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` before `make release`, "
                 "but the script still says it can't find a token. Where does it read it from?",
                 "docs snippet: GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx  # replace with a fine-grained token. "
                 "Should I use a classic or fine-grained token for the release workflow?"])


def d_curl_placeholder():
    return fill("""Per the API reference:

    curl -X GET "https://api.example.com/v1/@@res@@?limit=20" \\
      -H "Authorization: Bearer YOUR_ACCESS_TOKEN" \\
      -H "Accept: application/json"

Replace YOUR_ACCESS_TOKEN with the token from Settings → Developer → Tokens.""",
                res=pick(["invoices", "projects", "users", "events"]))


def d_docker_postgres():
    return """# docker-compose.yml (from the official postgres image docs)
services:
  db:
    image: postgres:16
    restart: always
    environment:
      POSTGRES_PASSWORD: example
  adminer:
    image: adminer
    restart: always
    ports:
      - 8080:8080"""


def d_k8s_secret_doc():
    return fill("""apiVersion: v1
kind: Secret
metadata:
  name: @@n@@-credentials
type: Opaque
data:
  # base64-encode your values first: echo -n 'value' | base64
  username: <base64-encoded-username>
  password: <base64-encoded-password>""", n=pick(SERVICES))


def d_slack_x():
    return """To run the bot locally:

1. Create an app at api.slack.com/apps and install it to your workspace.
2. Put the tokens in `.env`:

   SLACK_BOT_TOKEN=xoxb-XXXXXXXXXXXX-XXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX
   SLACK_SIGNING_SECRET=your-signing-secret

3. `npm run dev`"""


def d_java_dummy():
    return fill("""@SpringBootTest
class @@c@@ClientTest {

    private static final String DUMMY_PASSWORD = "dummy-password";
    private static final String TEST_API_KEY = "test-api-key";

    @Test
    void rejectsWrongCredentials() {
        var client = new @@c@@Client("https://localhost:8443", TEST_API_KEY);
        assertThrows(AuthException.class, () -> client.login("alice", DUMMY_PASSWORD));
    }
}""", c=pick(["Ledger", "Billing", "Inventory", "Search"]))


def d_rust_aaaa():
    return """#[cfg(test)]
mod tests {
    use super::*;

    // 32 bytes of 'a' -- obviously not a real key, only for length checks
    const TEST_KEY: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn rejects_short_key() {
        assert!(Cipher::from_hex("abcd").is_err());
        assert!(Cipher::from_str(TEST_KEY).is_ok());
    }
}"""


def d_ini_replace():
    return fill("""; settings.ini.template -- copy to settings.ini
[database]
host = @@h@@
port = 5432
user = @@u@@
password = <REPLACE_ME>

[mail]
smtp_host = smtp.example.com
smtp_user = noreply@example.com
smtp_password = <REPLACE_ME>""", h=pick(DBHOSTS), u=pick(USERS))


def d_openai_sk_your():
    return pick(["how do i pass the key? the quickstart just says `OPENAI_API_KEY=sk-your-key-here` and python still raises AuthenticationError",
                 "In the notebook I have openai.api_key = \"sk-...\" as in the tutorial, and I get 401 Incorrect API key provided: sk-...; "
                 "obviously I need my own key, but where does the SDK look for it?"])


def d_gitlab_runner():
    return fill("""sudo gitlab-runner register \\
  --non-interactive \\
  --url "https://gitlab.com/" \\
  --registration-token "REGISTRATION_TOKEN" \\
  --executor "docker" \\
  --docker-image alpine:latest \\
  --description "@@d@@" \\
  --tag-list "docker,aws"

(from the docs; REGISTRATION_TOKEN is shown under Settings > CI/CD > Runners)""",
                d=pick(["docker-runner", "build-box-2", "arm64-runner"]))


def d_django_replace():
    return """# settings/base.py
import os

# SECURITY WARNING: keep the secret key used in production secret!
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "replace-this-with-a-real-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]"""


def d_pem_placeholder():
    return """tls:
  # paste the PEM here, e.g.
  # -----BEGIN RSA PRIVATE KEY-----
  # ...your key here...
  # -----END RSA PRIVATE KEY-----
  cert_file: /etc/ssl/certs/server.crt
  key_file: /etc/ssl/private/server.key"""


def d_twilio_x():
    return """```python
from twilio.rest import Client

# Your Account SID and Auth Token from console.twilio.com
account_sid = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
auth_token = "your_auth_token"
client = Client(account_sid, auth_token)
```
This is straight from the quickstart; I replaced the values with mine locally."""


def d_aws_session_doc():
    return """From the STS docs, the environment should look like:

export AWS_ACCESS_KEY_ID=ASIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_SESSION_TOKEN=AQoDYXdzEJr...<remainder of session token>

Do I need all three for `aws s3 ls`?"""


def d_git_url_placeholder():
    return fill("""If SSH is blocked, clone over HTTPS with a token:

    git clone https://@@u@@:<personal-access-token>@github.com/@@o@@/@@r@@.git

or better, let the credential helper prompt you.""", u=pick(USERS), o=pick(ORGS), r=pick(REPOS))


def d_masked():
    return fill("""$ ./scripts/print-config.sh
APP_ENV       = staging
DB_HOST       = @@h@@
DB_USER       = @@u@@
DB_PASSWORD   = ********
API_KEY       = ****************
LOG_LEVEL     = debug
(secrets are masked; run with --reveal to show them)""", h=pick(DBHOSTS), u=pick(USERS))


def d_tfvars_example():
    return fill("""# terraform.tfvars.example
region        = "@@r@@"
instance_type = "t3.medium"
db_username   = "admin"
db_password   = "CHANGE_ME"
api_token     = "dummy"
""", r=pick(REGIONS))


def d_go_example():
    return """// Example:
//
//	client := api.NewClient("your-api-key-here")
//	resp, err := client.ListProjects(ctx)
//
// The key can also be supplied through the ACME_API_KEY environment variable.
func NewClient(apiKey string, opts ...Option) *Client {"""


def d_csharp_dev():
    return """// appsettings.Development.json
{
  "Logging": { "LogLevel": { "Default": "Information" } },
  "ConnectionStrings": {
    "Default": "Server=localhost;Database=app_dev;User Id=sa;Password=test;"
  },
  "Payments": {
    "ApiKey": "dummy-key-for-local-dev",
    "WebhookSecret": "invalid"
  }
}"""


def d_ruby_1a2b():
    return """# config/credentials.example.yml
# Generate the real file with: bin/rails credentials:edit
aws:
  access_key_id: 1a2b3c4d5e6f7g8h9i0j
  secret_access_key: 0123456789abcdef0123456789abcdef01234567
mailgun:
  api_key: test"""


def d_openapi_example():
    return fill("""$ pytest tests/api/test_auth.py -q
..F
FAILED tests/api/test_auth.py::test_invalid_key_returns_401
    assert resp.status_code == 401
    resp = client.get("/v1/@@r@@", headers={"X-API-Key": "invalid-key"})
E   assert 500 == 401
1 failed, 2 passed in 0.41s""", r=pick(["orders", "reports", "me"]))


DOC_EXAMPLE = [d_aws_configure, d_aws_readme, d_env_example, d_yaml_placeholder, d_python_docstring, d_ts_fixture,
               d_prompt_ghp_x, d_curl_placeholder, d_docker_postgres, d_k8s_secret_doc, d_slack_x, d_java_dummy,
               d_rust_aaaa, d_ini_replace, d_openai_sk_your, d_gitlab_runner, d_django_replace, d_pem_placeholder,
               d_twilio_x, d_aws_session_doc, d_git_url_placeholder, d_masked, d_tfvars_example, d_go_example,
               d_csharp_dev, d_ruby_1a2b, d_openapi_example]


# ================================================================ CLEAN: encrypted_or_reference
def vault_lines(n, indent=""):
    return "\n".join(indent + hx(80) for _ in range(n)) + "\n" + indent + hx(rint(20, 70))


def e_ansible_inline():
    return fill("""# group_vars/@@g@@/vars.yml
db_user: @@u@@
db_password: !vault |
          $ANSIBLE_VAULT;1.1;AES256
@@v@@
smtp_relay: smtp.internal:25""", g=pick(["prod", "staging", "dbservers"]), u=pick(USERS),
                v=vault_lines(rint(4, 6), "          "))


def e_ansible_file():
    return fill("""$ head -n 8 inventories/@@e@@/group_vars/all/vault.yml
$ANSIBLE_VAULT;1.2;AES256;@@e@@
@@v@@
$ ansible-playbook site.yml -i inventories/@@e@@ --ask-vault-pass
Vault password:""", e=pick(["prod", "staging"]), v=vault_lines(6))


def sops_enc(t="str", n=None):
    n = n or rint(12, 40)
    return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]" % (b64e(rbytes(n)), b64e(rbytes(32)), b64e(rbytes(16)), t)


def e_sops_yaml():
    return fill("""# secrets/@@s@@.enc.yaml (encrypted with sops)
database:
    user: @@uenc@@
    password: @@penc@@
stripe_key: @@kenc@@
sops:
    kms:
        - arn: arn:aws:kms:@@r@@:@@a@@:key/@@k@@
          created_at: "@@ts@@"
          enc: @@kmsenc@@
          aws_profile: ""
    age:
        - recipient: age1@@age@@
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            @@ag1@@
            @@ag2@@
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "@@ts@@"
    mac: @@mac@@
    unencrypted_suffix: _unencrypted
    version: 3.8.1""", s=pick(SERVICES), uenc=sops_enc(n=6), penc=sops_enc(n=24), kenc=sops_enc(n=40),
                r=pick(REGIONS), a=acct(), k=uid(), ts=ts()[:19] + "Z", kmsenc=b64e(rbytes(140)),
                age=rs(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l"), ag1=b64e(rbytes(48)), ag2=b64e(rbytes(36)),
                mac=sops_enc(n=32))


def e_sops_json():
    return fill("""{
	"api_token": "@@a@@",
	"webhook_secret": "@@b@@",
	"replicas": 3,
	"sops": {
		"gcp_kms": [
			{
				"resource_id": "projects/@@p@@/locations/global/keyRings/sops/cryptoKeys/sops-key",
				"created_at": "@@ts@@",
				"enc": "@@enc@@"
			}
		],
		"mac": "@@mac@@",
		"version": "3.9.0"
	}
}""", a=sops_enc(n=30), b=sops_enc(n=32), p=pick(ORGS) + "-prod", ts=ts()[:19] + "Z", enc=b64e(rbytes(110)),
                mac=sops_enc(n=32))


def e_sealed_secret():
    return fill("""apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: @@n@@
  namespace: @@ns@@
spec:
  encryptedData:
    DATABASE_PASSWORD: AgB@@x1@@
    API_TOKEN: AgC@@x2@@
  template:
    metadata:
      name: @@n@@
      namespace: @@ns@@
    type: Opaque""", n=pick(SERVICES) + "-secrets", ns=pick(["prod", "payments", "default"]),
                x1=b64e(rbytes(rint(300, 380))), x2=b64e(rbytes(rint(300, 380))))


def e_compose_vars():
    return fill("""services:
  api:
    image: ghcr.io/@@o@@/@@s@@:${TAG:-latest}
    environment:
      DATABASE_URL: postgres://${DB_USER}:${DB_PASSWORD}@db:5432/${DB_NAME}
      STRIPE_API_KEY: ${STRIPE_API_KEY:?STRIPE_API_KEY must be set}
      JWT_SECRET: ${JWT_SECRET}
    env_file:
      - .env.local""", o=pick(ORGS), s=pick(SERVICES))


def e_gha_secrets():
    return fill("""name: publish
on:
  push:
    tags: ["v*"]
jobs:
  npm:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          registry-url: https://registry.npmjs.org
      - run: npm ci && npm publish --provenance
        env:
          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
      - name: notify
        run: curl -sf -X POST -d '{"text":"released @@p@@"}' "$SLACK_WEBHOOK"
        env:
          SLACK_WEBHOOK: ${{ secrets.SLACK_WEBHOOK_URL }}""", p=pick(REPOS))


def e_helm_jinja():
    return """# templates/configmap.yaml + roles/app/templates/app.conf.j2
data:
  DB_PASSWORD: {{ .Values.database.password | quote }}
  REDIS_PASSWORD: {{ required "redis.auth.password is required" .Values.redis.auth.password }}
---
[app]
db_password = {{ vault_db_password }}
api_key = {{ lookup('env', 'UPSTREAM_API_KEY') }}
secret_key = {{ app_secret_key | default(omit) }}"""


def e_secret_key_ref():
    return fill("""        env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: @@s@@-db
              key: password
        - name: STRIPE_SECRET_KEY
          valueFrom:
            secretKeyRef:
              name: stripe
              key: secret-key
              optional: false
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP""", s=pick(SERVICES))


def e_vault_ref():
    return fill("""$ vault kv get -field=password secret/@@e@@/@@s@@/db > /dev/null && echo ok
ok
$ grep -rn 'vault:' config/
config/app.yaml:12:  db_password: vault:secret/data/@@e@@/@@s@@/db#password
config/app.yaml:13:  api_token: vault:secret/data/@@e@@/@@s@@/upstream#token
config/app.yaml:14:  signing_key: vault:transit/keys/@@s@@-signing""", e=pick(["prod", "staging"]), s=pick(SERVICES))


def e_secretsmanager_arn():
    r = pick(REGIONS)
    a = acct()
    return fill("""data "aws_secretsmanager_secret_version" "db" {
  secret_id = "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/@@s@@/db-@@suf@@"
}

resource "aws_db_instance" "main" {
  identifier          = "@@s@@-prod"
  engine              = "postgres"
  username            = jsondecode(data.aws_secretsmanager_secret_version.db.secret_string)["username"]
  password            = jsondecode(data.aws_secretsmanager_secret_version.db.secret_string)["password"]
  skip_final_snapshot = false
}""", r=r, a=a, s=pick(SERVICES), suf=rs(6))


def e_gcp_secret():
    p = pick(ORGS) + "-" + pick(["prod", "platform", "data"])
    return fill("""$ gcloud secrets versions access latest --secret=stripe-api-key --project=@@p@@ --format='get(name)'
projects/@@p@@/secrets/stripe-api-key/versions/@@v@@
$ cat cloudrun.yaml | grep -A3 secrets
      - name: STRIPE_API_KEY
        valueFrom:
          secretKeyRef: {name: stripe-api-key, key: latest}
# resolved at deploy time from projects/@@num@@/secrets/stripe-api-key/versions/latest""",
                p=p, v=str(rint(2, 19)), num=str(rint(10 ** 11, 10 ** 12)))


def e_op_refs():
    return fill("""# .env.tpl -- resolved by `op run --env-file=.env.tpl -- npm start`
DATABASE_URL="op://@@vault@@/Postgres @@e@@/connection string"
STRIPE_SECRET_KEY="op://@@vault@@/Stripe/credential"
GITHUB_TOKEN="op://Private/GitHub PAT/token"
SENTRY_DSN=op://@@vault@@/Sentry/dsn""", vault=pick(["Engineering", "Production", "Shared"]), e=pick(["prod", "staging"]))


def e_azure_kv():
    kv = "kv-" + pick(ORGS) + "-" + pick(["prod", "eus", "weu"])
    return fill("""$ az keyvault secret show --vault-name @@kv@@ --name sql-admin-password --query id -o tsv
https://@@kv@@.vault.azure.net/secrets/sql-admin-password/@@ver@@

App setting:
  SqlPassword = @Microsoft.KeyVault(SecretUri=https://@@kv@@.vault.azure.net/secrets/sql-admin-password/@@ver@@)
  ApiKey      = @Microsoft.KeyVault(VaultName=@@kv@@;SecretName=partner-api-key)""", kv=kv, ver=hx(32))


def e_docker_secrets():
    return """services:
  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_USER_FILE: /run/secrets/db_user
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets:
      - db_user
      - db_password
secrets:
  db_user:
    file: ./secrets/db_user.txt
  db_password:
    external: true"""


def e_spring_placeholders():
    return """spring:
  datasource:
    url: jdbc:postgresql://${DB_HOST:localhost}:5432/orders
    username: ${DB_USER}
    password: ${DB_PASSWORD}
  cloud:
    vault:
      uri: https://vault.internal:8200
      authentication: KUBERNETES
app:
  jwt:
    secret: ${vault.app.jwt-secret}
    issuer: orders-service"""


def e_external_secret():
    return fill("""apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: @@s@@
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: aws-secrets-manager
    kind: ClusterSecretStore
  target:
    name: @@s@@-env
  data:
    - secretKey: DATABASE_PASSWORD
      remoteRef:
        key: prod/@@s@@/postgres
        property: password
    - secretKey: SENDGRID_API_KEY
      remoteRef:
        key: prod/shared/sendgrid""", s=pick(SERVICES))


def e_tf_sensitive():
    return fill("""Terraform will perform the following actions:

  # aws_db_instance.main will be updated in-place
  ~ resource "aws_db_instance" "main" {
        id                    = "db-@@dbid@@"
      ~ password              = (sensitive value)
        # (41 unchanged attributes hidden)
    }

  # kubernetes_secret.app will be updated in-place
  ~ resource "kubernetes_secret" "app" {
      ~ data = (sensitive value)
        id   = "prod/@@s@@-env"
    }

Plan: 0 to add, 2 to change, 0 to destroy.""", dbid=rs(26, UP + DG), s=pick(SERVICES))


def e_pgp_message():
    return fill("""$ gpg --armor --encrypt -r ops@@@o@@.io db-creds.txt && cat db-creds.txt.asc
-----BEGIN PGP MESSAGE-----

@@b@@
=@@crc@@
-----END PGP MESSAGE-----""", o=pick(ORGS), b=wrap(b64e(rbytes(rint(300, 420)))), crc=b64e(rbytes(3)))


def e_env_lookups():
    return """# settings.py
STRIPE_API_KEY = os.environ["STRIPE_API_KEY"]
DB_PASSWORD = os.getenv("DB_PASSWORD")

// main.rs
let token = std::env::var("GITHUB_TOKEN").expect("GITHUB_TOKEN not set");

// config.go
apiKey := os.Getenv("DATADOG_API_KEY")"""


def e_gha_masked():
    pkg = "@%s/%s@%d.%d.%d" % (pick(ORGS), pick(["sdk", "ui-kit", "cli"]), rint(0, 4), rint(0, 20), rint(0, 9))
    return fill("""Run npm publish --access public
  npm publish --access public
  shell: /usr/bin/bash -e {0}
  env:
    NODE_AUTH_TOKEN: ***
    NPM_CONFIG_USERCONFIG: /home/runner/work/_temp/.npmrc
npm notice
npm notice 📦  PKG
npm notice === Tarball Details ===
npm notice package size:  14.2 kB
npm notice total files:   31
+ PKG""").replace("PKG", pkg)


def e_cfn_dynamic():
    return """Resources:
  Database:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      MasterUsername: '{{resolve:secretsmanager:prod/db:SecretString:username}}'
      MasterUserPassword: '{{resolve:secretsmanager:prod/db:SecretString:password}}'
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          API_KEY: '{{resolve:ssm-secure:/prod/partner/api-key:3}}'"""


def e_jenkins_creds():
    return """pipeline {
  agent any
  environment {
    DOCKERHUB = credentials('dockerhub-ci')
  }
  stages {
    stage('Deploy') {
      steps {
        withCredentials([string(credentialsId: 'slack-bot-token', variable: 'SLACK_TOKEN'),
                         usernamePassword(credentialsId: 'nexus', usernameVariable: 'NEXUS_USER', passwordVariable: 'NEXUS_PASS')]) {
          sh './deploy.sh'
        }
      }
    }
  }
}"""


def e_rails_enc():
    return fill("""$ cat config/credentials/production.yml.enc
@@a@@--@@b@@--@@c@@
$ EDITOR=vim bin/rails credentials:edit --environment production
File encrypted and saved.""", a=b64e(rbytes(rint(180, 260))), b=b64e(rbytes(12)), c=b64e(rbytes(16)))


def e_systemd_creds():
    return fill("""# /etc/systemd/system/@@s@@.service
[Service]
ExecStart=/usr/local/bin/@@s@@ --config /etc/@@s@@/config.toml
LoadCredentialEncrypted=db-password:/etc/credstore.encrypted/@@s@@-db-password
EnvironmentFile=-/etc/default/@@s@@
# the app reads $CREDENTIALS_DIRECTORY/db-password at startup""", s=pick(SERVICES))


def e_npmrc_ref():
    return """$ cat .npmrc
@acme:registry=https://npm.pkg.github.com
//npm.pkg.github.com/:_authToken=${GITHUB_TOKEN}
//registry.npmjs.org/:_authToken=${NPM_TOKEN}
always-auth=true"""


ENCRYPTED_OR_REFERENCE = [e_ansible_inline, e_ansible_file, e_sops_yaml, e_sops_json, e_sealed_secret, e_compose_vars,
                          e_gha_secrets, e_helm_jinja, e_secret_key_ref, e_vault_ref, e_secretsmanager_arn,
                          e_gcp_secret, e_op_refs, e_azure_kv, e_docker_secrets, e_spring_placeholders,
                          e_external_secret, e_tf_sensitive, e_pgp_message, e_env_lookups, e_gha_masked,
                          e_cfn_dynamic, e_jenkins_creds, e_rails_enc, e_systemd_creds, e_npmrc_ref]


# ================================================================ CLEAN: option_docs
def o_mysql_help():
    return """$ mysql --help | grep -A2 -E '^\\s+-(p|u|h),'
  -h, --host=name     Connect to host.
  -p, --password[=name]
                      Password to use when connecting to server. If password is
                      not given it's asked from the tty.
  -u, --user=name     User for login if not current user."""


def o_psql_help():
    return """Connection options:
  -h, --host=HOSTNAME      database server host or socket directory (default: "local socket")
  -p, --port=PORT          database server port (default: "5432")
  -U, --username=USERNAME  database user name (default: "postgres")
  -w, --no-password        never prompt for password
  -W, --password           force password prompt (should happen automatically)

For more information, type "\\?" (for internal commands) or "\\help" (for SQL
commands) from within psql, or consult the psql section in the PostgreSQL
documentation."""


def o_curl_help():
    return """$ curl --help auth
Usage: curl [options...] <url>
auth: Authentication methods
     --anyauth               Pick any authentication method
     --basic                 Use HTTP Basic Authentication
     --digest                Use HTTP Digest Authentication
     --oauth2-bearer <token> OAuth 2 Bearer Token
     --negotiate             Use HTTP Negotiate (SPNEGO) authentication
     --ntlm                  Use HTTP NTLM authentication
 -u, --user <user:password>  Server user and password
     --aws-sigv4 <provider1[:prvdr2[:reg[:srv]]]> AWS V4 signature auth"""


def o_gh_auth_help():
    return """$ gh auth login --help
Authenticate with a GitHub host.

The default authentication mode is a web-based browser flow.

Alternatively, use `--with-token` to pass in a token on standard input.
The minimum required scopes for the token are: "repo", "read:org".

USAGE
  gh auth login [flags]

FLAGS
  -p, --git-protocol string   The protocol to use for git operations: {ssh|https}
  -h, --hostname string       The hostname of the GitHub instance to authenticate with
  -s, --scopes strings        Additional authentication scopes to request
  -w, --web                   Open a browser to authenticate
      --with-token            Read token from standard input"""


def o_docker_login_help():
    return """Usage:  docker login [OPTIONS] [SERVER]

Authenticate to a registry.
Defaults to Docker Hub if no server is specified.

Options:
  -p, --password string   Password or Personal Access Token (PAT)
      --password-stdin    Take the Password or Personal Access Token (PAT) from stdin
  -u, --username string   Username"""


def o_openssl_man():
    return """PASS PHRASE OPTIONS
       Several commands accept password arguments, typically using -passin and
       -passout for input and output passwords respectively.

       -passin arg
           The input private key file password source.

       -passout arg
           The output file password source. The arg can be pass:password,
           env:var, file:pathname, fd:number or stdin. Using pass:password is
           not recommended because the password is visible to utilities such
           as ps(1)."""


def o_readme_env_table():
    return fill("""## Environment variables

| Variable | Required | Description |
|----------|----------|-------------|
| `DATABASE_URL` | yes | Postgres connection string |
| `STRIPE_API_KEY` | yes | Secret key for the Stripe API (starts with `sk_`) |
| `@@P@@_WEBHOOK_SECRET` | yes | Used to verify webhook signatures |
| `SENTRY_DSN` | no | Error reporting |
| `JWT_SIGNING_KEY` | yes | 32+ byte key used to sign session tokens |
| `LOG_LEVEL` | no | `debug`, `info` (default), `warn` |""", P=pick(["GITHUB", "SLACK", "SHOPIFY"]))


def o_redis_conf():
    return """################################## SECURITY ###################################

# Warning: since Redis is pretty fast, an outside user can try up to
# 1 million passwords per second against a modern box. This means that you
# should use very strong passwords, otherwise they will be very easy to break.
#
# requirepass foobared

# The ACL file path. When not set, ACL users are configured in this file.
# aclfile /etc/redis/users.acl"""


def o_clap_help():
    return fill("""$ @@b@@ --help
Sync artefacts to the registry

Usage: @@b@@ [OPTIONS] --registry <URL> <PATH>

Arguments:
  <PATH>  Directory to upload

Options:
  -r, --registry <URL>       Registry base URL [env: @@B@@_REGISTRY=]
      --api-key <API_KEY>    API key used to authenticate [env: @@B@@_API_KEY=]
      --token-file <FILE>    Read the token from FILE instead of the environment
  -n, --dry-run              Show what would be uploaded
  -h, --help                 Print help
  -V, --version              Print version""", b=pick(["artsync", "shipit", "pushd"]), B=pick(["ARTSYNC", "SHIP"]))


def o_argparse_help():
    return """usage: backup.py [-h] [--bucket BUCKET] [--access-key ACCESS_KEY]
                 [--secret-key SECRET_KEY] [--passphrase-file PATH] src

positional arguments:
  src                   directory to back up

options:
  -h, --help            show this help message and exit
  --bucket BUCKET       destination bucket (default: $BACKUP_BUCKET)
  --access-key ACCESS_KEY
                        S3 access key id (default: from AWS config chain)
  --secret-key SECRET_KEY
                        S3 secret key; prefer the environment over this flag
  --passphrase-file PATH
                        file containing the encryption passphrase"""


def o_cobra_help():
    return """Flags:
      --endpoint string   API endpoint (default "https://gitea.example.com")
  -h, --help              help for migrate
      --token string      access token; falls back to $GITEA_TOKEN
      --password string   password for basic auth (not recommended)
      --insecure          skip TLS verification

Use "tea migrate [command] --help" for more information about a command."""


def o_kubectl_secret_help():
    return """$ kubectl create secret generic --help
Create a secret based on a file, directory, or specified literal value.

Examples:
  # Create a new secret named my-secret with key1=supersecret and key2=topsecret
  kubectl create secret generic my-secret --from-literal=key1=supersecret --from-literal=key2=topsecret

Options:
    --from-env-file=[]: Specify the path to a file to read lines of key=val pairs to create a secret.
    --from-file=[]: Key files can be specified using their file path.
    --from-literal=[]: Specify a key and literal value to insert in secret (i.e. mykey=somevalue)
    --type='': The type of secret to create"""


def o_tf_provider_docs():
    return """## Argument Reference

* `access_key` - (Optional) AWS access key. Can also be set with the `AWS_ACCESS_KEY_ID`
  environment variable, or via a shared credentials file if `profile` is specified.
* `secret_key` - (Optional) AWS secret key. Can also be set with the `AWS_SECRET_ACCESS_KEY`
  environment variable.
* `token` - (Optional) Session token for validating temporary credentials.
* `region` - (Optional) AWS region where the provider will operate."""


def o_npmrc_docs():
    return """### `_authToken`

* Default: null
* Type: String

An authentication bearer token for the registry. It must be scoped to a registry,
e.g. `//registry.npmjs.org/:_authToken=...`. Prefer `npm login`, which stores the
token for you, or reference an environment variable with `${NPM_TOKEN}`."""


def o_git_credential_doc():
    return """credential.helper
    Specify an external helper to be called when a username or password
    credential is needed; the helper may consult external storage to avoid
    prompting the user for the credentials.

credential.useHttpPath
    When acquiring credentials, consider the "path" component of an http or
    https URL to be important. Defaults to false."""


def o_ssh_keygen_usage():
    return """$ ssh-keygen -h
unknown option -- h
usage: ssh-keygen [-q] [-a rounds] [-b bits] [-C comment] [-f output_keyfile]
                  [-m format] [-N new_passphrase] [-O option]
                  [-t dsa | ecdsa | ecdsa-sk | ed25519 | ed25519-sk | rsa]
                  [-w provider] [-Z cipher]
       ssh-keygen -p [-a rounds] [-f keyfile] [-m format] [-N new_passphrase]
                   [-P old_passphrase] [-Z cipher]"""


def o_pg_env_docs():
    return """34.15. Environment Variables

PGHOST behaves the same as the host connection parameter.
PGPORT behaves the same as the port connection parameter.
PGUSER behaves the same as the user connection parameter.
PGPASSWORD behaves the same as the password connection parameter. Use of this
environment variable is not recommended for security reasons, as some operating
systems allow non-root users to see process environment variables via ps;
instead consider using a password file (see Section 34.16).
PGPASSFILE behaves the same as the passfile connection parameter."""


def o_vault_login_help():
    return """Usage: vault login [options] [AUTH K=V...]

  Authenticates users or machines to Vault using the provided arguments. A
  successful authentication results in a Vault token - conceptually similar to
  a session token on a website. By default, this token is cached on the local
  machine for future requests.

      $ vault login -method=userpass username=my-username

  The token is never displayed when -no-print is given.

Command Options:
  -method=<string>   Type of authentication to use such as "userpass" or "ldap".
  -no-store          Do not persist the token to the token helper.
  -token-only        Output only the token with no verification."""


def o_yaml_comment_doc():
    return fill("""# ---------------------------------------------------------------
# gitlab section
#   url:   base URL of your GitLab instance
#   token: personal access token with `read_api` scope. Leave empty to
#          read it from the GITLAB_TOKEN environment variable instead.
#   verify_ssl: set to false only for self-signed test instances
# ---------------------------------------------------------------
gitlab:
  url: https://gitlab.@@o@@.io
  token: ""
  verify_ssl: true""", o=pick(ORGS))


def o_hcl_options_table():
    return """## `seal "awskms"` parameters

- `region` `(string: "us-east-1")` - The AWS region where the encryption key lives.
- `access_key` `(string: <required>)` - The AWS access key ID to use. May also be
  specified by the `AWS_ACCESS_KEY_ID` environment variable.
- `secret_key` `(string: <required>)` - The AWS secret access key to use. May also
  be specified by the `AWS_SECRET_ACCESS_KEY` environment variable.
- `kms_key_id` `(string: <required>)` - The AWS KMS key ID to use for encryption."""


def o_cargo_toml_comment():
    return """# .cargo/config.toml
[registries.internal]
index = "sparse+https://cargo.internal.example/index/"
# token: do not put the registry token here; run
#   cargo login --registry internal
# which stores it in ~/.cargo/credentials.toml, or set
# CARGO_REGISTRIES_INTERNAL_TOKEN in CI.
credential-provider = "cargo:token\""""


def o_aws_configure_help():
    return """$ aws configure help | sed -n '/Configuration Variables/,/^$/p;/aws_secret/p'
   Configuration Variables
       The following configuration variables are supported in the config file:

       o aws_access_key_id - The AWS access key part of your credentials
       o aws_secret_access_key - The AWS secret access key part of your credentials
       o aws_session_token - The session token part of your credentials (session tokens only)
       o metadata_service_timeout - The number of seconds to wait until the metadata service request times out."""


def o_django_docs():
    return """SECRET_KEY
Default: '' (Empty string)

A secret key for a particular Django installation. This is used to provide
cryptographic signing, and should be set to a unique, unpredictable value.

django-admin startproject automatically adds a randomly-generated SECRET_KEY
to each new project. Django will refuse to start if SECRET_KEY is not set."""


def o_properties_comments():
    return """# application.properties
# spring.datasource.password is intentionally left out; it is injected from
# the SPRING_DATASOURCE_PASSWORD environment variable at runtime.
spring.datasource.url=jdbc:postgresql://localhost:5432/shop
spring.datasource.username=shop
# jwt.secret: HMAC key (base64, >= 256 bit). Required in prod profile.
jwt.expiration-minutes=30"""


def o_htpasswd_usage():
    return """Usage:
	htpasswd [-cimB25dpsDv] [-C cost] [-r rounds] passwordfile username
	htpasswd -b[cmB25dpsDv] [-C cost] [-r rounds] passwordfile username password

 -c  Create a new file.
 -n  Don't update file; display results on stdout.
 -b  Use the password from the command line rather than prompting for it.
 -i  Read password from stdin without verification (for script usage).
 -B  Force bcrypt hashing of the password (very secure).
 -v  Verify password for the given user."""


def o_restic_help():
    return """Global Flags:
      --cacert file                file to load root certificates from (default: use system certificates)
  -p, --password-file file         file to read the repository password from (default: $RESTIC_PASSWORD_FILE)
      --password-command command   shell command to obtain the repository password from (default: $RESTIC_PASSWORD_COMMAND)
  -r, --repo repository            repository to backup to or restore from (default: $RESTIC_REPOSITORY)
      --key-hint key               key ID of key to try decrypting first (default: $RESTIC_KEY_HINT)"""


def o_prompt_about_flag():
    return pick(["What's the difference between `--password-stdin` and `-p` for docker login? The CI linter keeps warning "
                 "\"Using --password via the CLI is insecure\" and I want to understand why.",
                 "quick q: the terraform docs list `token` and `secret_key` as optional provider args. If I leave both "
                 "unset, does it fall back to the instance profile?"])


OPTION_DOCS = [o_mysql_help, o_psql_help, o_curl_help, o_gh_auth_help, o_docker_login_help, o_openssl_man,
               o_readme_env_table, o_redis_conf, o_clap_help, o_argparse_help, o_cobra_help, o_kubectl_secret_help,
               o_tf_provider_docs, o_npmrc_docs, o_git_credential_doc, o_ssh_keygen_usage, o_pg_env_docs,
               o_vault_login_help, o_yaml_comment_doc, o_hcl_options_table, o_cargo_toml_comment,
               o_aws_configure_help, o_django_docs, o_properties_comments, o_htpasswd_usage, o_restic_help,
               o_prompt_about_flag]


# ================================================================ CLEAN: secret_word_identifiers
def s_rustc_error():
    ln = rint(80, 300)
    return fill("""error[E0599]: no method named `rotate_now` found for struct `SecretStore` in the current scope
   --> src/secrets/store.rs:@@ln@@:18
    |
@@ln@@ |         self.secret_store.rotate_now(&key_id)?;
    |                           ^^^^^^^^^^ method not found in `SecretStore`
    |
help: there is a method `rotate` with a similar name
    |
@@ln@@ |         self.secret_store.rotate(&key_id)?;
    |                           ~~~~~~

error: could not compile `vaultd` (lib) due to 1 previous error""", ln=str(ln))


def s_go_build():
    return fill("""$ go build ./...
# github.com/@@o@@/@@r@@/internal/config/secrets
internal/config/secrets/token_store.go:88:2: undefined: refreshTokenTTL
internal/config/secrets/token_store.go:104:15: cannot use apiKey (variable of type *APIKey) as string value in argument to s.cache.Put
internal/config/secrets/password_policy.go:31:6: PasswordPolicy redeclared in this block""", o=pick(ORGS), r=pick(REPOS))


def s_java_trace():
    return fill("""@@ts@@ ERROR 1 --- [nio-8080-exec-3] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception
java.lang.IllegalStateException: No secret configured for alias 'payments-signing'
	at com.@@o@@.auth.PasswordSecretManager.resolve(PasswordSecretManager.java:57)
	at com.@@o@@.auth.PasswordSecretManager.getSigningKey(PasswordSecretManager.java:41)
	at com.@@o@@.auth.ApiKeyValidator.validate(ApiKeyValidator.java:112)
	at com.@@o@@.web.filter.ApiKeyAuthFilter.doFilterInternal(ApiKeyAuthFilter.java:38)
	at org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)
	at org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:174)""",
                ts=date() + " " + hms() + ".%03d" % rint(0, 999), o=pick(ORGS))


def s_python_traceback():
    return """Traceback (most recent call last):
  File "/app/app/api/deps.py", line 27, in get_current_user
    payload = verify_access_token(token)
  File "/app/app/auth/api_key_validator.py", line 41, in verify_access_token
    secret = settings.auth["token_secret"]
KeyError: 'token_secret'"""


def s_pytest_names():
    return """============================= test session starts ==============================
collected 9 items

tests/test_tokens.py::test_issue_token_sets_expiry PASSED                [ 11%]
tests/test_tokens.py::test_expired_token_is_rejected PASSED              [ 22%]
tests/test_tokens.py::test_refresh_token_rotation PASSED                 [ 33%]
tests/test_tokens.py::test_revoked_api_key_returns_403 FAILED            [ 44%]
tests/test_passwords.py::test_password_hash_uses_argon2id PASSED         [ 55%]
tests/test_passwords.py::test_reset_password_token_single_use PASSED     [ 66%]
tests/test_secrets.py::test_secret_rotation_keeps_previous PASSED        [ 77%]
tests/test_secrets.py::test_missing_secret_raises PASSED                 [ 88%]
tests/test_secrets.py::test_private_key_loaded_once PASSED               [100%]

=========================== short test summary info ============================
FAILED tests/test_tokens.py::test_revoked_api_key_returns_403 - assert 200 == 403
========================= 1 failed, 8 passed in 1.27s =========================="""


def s_cargo_test():
    return """running 6 tests
test auth::tests::secret_is_zeroized_on_drop ... ok
test auth::tests::api_key_prefix_is_stable ... ok
test auth::tests::bearer_token_parses_without_scheme ... FAILED
test crypto::tests::private_key_roundtrip_pkcs8 ... ok
test crypto::tests::password_hash_verify ... ok
test redact::tests::token_in_url_is_masked ... ok

failures:

---- auth::tests::bearer_token_parses_without_scheme stdout ----
thread 'auth::tests::bearer_token_parses_without_scheme' panicked at src/auth.rs:214:9:
assertion failed: parse_bearer("abc").is_ok()

test result: FAILED. 5 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.03s"""


def s_rotator_logs():
    return fill("""@@t1@@ INFO  secret-rotator: starting rotation run namespace=@@ns@@
@@t2@@ INFO  secret-rotator: rotated 2 secrets (db-password, api-token) in namespace @@ns@@
@@t2@@ WARN  secret-rotator: skipping tls-private-key: managed by cert-manager
@@t3@@ INFO  secret-rotator: 0 tokens expired, next run in 6h""", ns=pick(["payments", "prod", "search"]),
                **dict(zip(["t1", "t2", "t3"], ts_seq(3))))


def s_grep_tokens():
    return """$ rg -n 'token' src/ | head
src/client.ts:14:  const token = await getAccessToken(session);
src/client.ts:15:  if (!token) throw new MissingTokenError();
src/client.ts:22:    headers: { Authorization: `Bearer ${token}` },
src/auth/refresh.ts:8:export async function refreshToken(refresh: string): Promise<TokenPair> {
src/auth/refresh.ts:31:  tokenCache.delete(userId);
src/types.ts:40:export interface TokenPair { accessToken: string; refreshToken: string }"""


def s_tsc_error():
    return """src/api/client.ts:48:21 - error TS2339: Property 'apiKey' does not exist on type 'ClientOptions'.

48     const key = opts.apiKey ?? process.env.API_KEY;
                       ~~~~~~

src/auth/session.ts:12:5 - error TS2322: Type 'string | undefined' is not assignable to type 'string'.

12     secretKey: process.env.SESSION_SECRET,
       ~~~~~~~~~

Found 2 errors in 2 files."""


def s_csharp_exception():
    return fill("""Unhandled exception. System.InvalidOperationException: Secret 'ConnectionStrings--Orders' was not found in Key Vault.
   at @@O@@.Secrets.KeyVaultSecretProvider.GetSecretAsync(String name, CancellationToken ct) in /src/@@O@@.Secrets/KeyVaultSecretProvider.cs:line 64
   at @@O@@.Secrets.CachedSecretProvider.GetOrAddAsync(String name) in /src/@@O@@.Secrets/CachedSecretProvider.cs:line 29
   at @@O@@.Api.Startup.ConfigureDatabase(IServiceCollection services) in /src/@@O@@.Api/Startup.cs:line 88
   at Program.<Main>$(String[] args) in /src/@@O@@.Api/Program.cs:line 14""", O=pick(["Contoso", "Acme", "Northwind"]))


def s_ruby_error():
    return """NoMethodError: undefined method `api_token' for nil:NilClass
  app/models/credential.rb:23:in `refresh_token!'
  app/services/github_sync.rb:41:in `call'
  app/jobs/sync_repositories_job.rb:9:in `perform'
  test/jobs/sync_repositories_job_test.rb:17:in `block in <class:SyncRepositoriesJobTest>'"""


def s_eslint():
    return """/home/dev/web/src/auth/passwordReset.ts
  12:7   error    'resetToken' is assigned a value but never used   @typescript-eslint/no-unused-vars
  40:15  warning  Unexpected any. Specify a different type          @typescript-eslint/no-explicit-any

/home/dev/web/src/hooks/useApiKey.ts
  5:10  error  React Hook "useSecret" is called conditionally  react-hooks/rules-of-hooks

✖ 3 problems (2 errors, 1 warning)"""


def s_git_log_msgs():
    lines = []
    msgs = ["fix(auth): don't log bearer token in debug mode", "refactor: rename SecretKeyProvider to KeyringProvider",
            "feat: add api key rotation endpoint", "chore: drop legacy password_reset_tokens table",
            "test: cover expired refresh token path"]
    R.shuffle(msgs)
    for m in msgs:
        lines.append("%s %s" % (short_sha(), m))
    return "$ git log --oneline -5\n" + "\n".join(lines)


def s_k8s_events():
    return fill("""Events:
  Type     Reason       Age                From               Message
  ----     ------       ----               ----               -------
  Normal   Scheduled    2m                 default-scheduler  Successfully assigned @@ns@@/@@p@@ to ip-10-0-@@a@@-@@b@@.ec2.internal
  Warning  FailedMount  47s (x8 over 2m)   kubelet            MountVolume.SetUp failed for volume "api-token" : secret "api-token" not found
  Warning  FailedMount  12s                kubelet            Unable to attach or mount volumes: unmounted volumes=[api-token tls-secret]""",
                ns=pick(["prod", "staging"]), p=pod(pick(SERVICES)), a=str(rint(0, 255)), b=str(rint(0, 255)))


def s_jest():
    return """ FAIL  src/services/__tests__/AuthService.test.ts
  ● AuthService › refreshToken › rejects revoked tokens

    expect(received).rejects.toThrow()

    Received promise resolved instead of rejected
    Resolved to value: {"accessToken": "<redacted-in-fixture>", "expiresIn": 900}

      41 |     await tokenStore.revoke(refreshTokenId);
    > 42 |     await expect(service.refreshToken(refreshTokenId)).rejects.toThrow(TokenRevokedError);
         |                                                                ^

Tests:       1 failed, 23 passed, 24 total"""


def s_clippy():
    return """warning: this argument is passed by value, but not consumed in the function body
  --> crates/auth/src/token_cache.rs:57:38
   |
57 |     pub fn insert(&mut self, secret: SecretString, ttl: Duration) {
   |                                      ^^^^^^^^^^^^ help: consider taking a reference instead: `&SecretString`
   |
   = help: for further information visit https://rust-lang.github.io/rust-clippy/master/index.html#needless_pass_by_value"""


def s_go_test():
    return """=== RUN   TestSecretManager_RotateKey
    secret_manager_test.go:73: expected 2 key versions, got 1
--- FAIL: TestSecretManager_RotateKey (0.02s)
=== RUN   TestTokenVerifier_ExpiredToken
--- PASS: TestTokenVerifier_ExpiredToken (0.00s)
=== RUN   TestPasswordHasher_Argon2Params
--- PASS: TestPasswordHasher_Argon2Params (0.11s)
FAIL
FAIL	github.com/acme/platform/internal/secrets	0.187s"""


def s_sql_migration():
    return """-- 20261104_api_keys.sql
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    key_prefix  CHAR(8) NOT NULL,
    key_hash    BYTEA NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX idx_api_keys_prefix ON api_keys(key_prefix);"""


def s_rg_settings():
    return """$ grep -rn SECRET_KEY --include=*.py .
./config/settings/base.py:23:SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
./config/settings/test.py:4:from .base import *  # noqa: F401 (SECRET_KEY comes from env in CI too)
./apps/accounts/tokens.py:11:        return salted_hmac(self.key_salt, value, secret=settings.SECRET_KEY).hexdigest()
./apps/accounts/tests/test_tokens.py:30:    @override_settings(SECRET_KEY_FALLBACKS=["old"])"""


def s_mypy():
    return """app/tokens.py:55: error: Argument 1 to "decode_jwt" has incompatible type "Optional[str]"; expected "str"  [arg-type]
app/secrets/loader.py:18: error: Module "app.secrets.backends" has no attribute "AwsSecretsBackend"  [attr-defined]
app/secrets/loader.py:40: note: Revealed type is "builtins.dict[builtins.str, app.secrets.models.SecretRef]"
Found 2 errors in 2 files (checked 87 source files)"""


def s_vault_server_log():
    t = ts_seq(5)
    return fill("""@@t0@@ [INFO]  core: successfully mounted: type=kv version="v0.20.0" path=secret/ namespace="ID: root. Path: "
@@t1@@ [INFO]  core: successfully enabled credential backend: type=approle version="v0.22.0" path=approle/
@@t2@@ [INFO]  expiration: lease restore complete
@@t3@@ [INFO]  core: post-unseal setup complete
@@t4@@ [WARN]  core: token ttl exceeds max ttl for role; capping: role=ci-deployer""", **{"t%d" % i: v for i, v in enumerate(t)})


def s_diff_rename():
    return """diff --git a/src/auth.rs b/src/auth.rs
@@ -31,9 +31,9 @@ impl Authenticator {
-    pub fn check_password(&self, user: &User, password: &str) -> bool {
-        verify(password, &user.password_hash).unwrap_or(false)
+    pub fn verify_password_hash(&self, user: &User, candidate: &SecretStr) -> Result<bool, AuthError> {
+        Ok(argon2::verify_encoded(&user.password_hash, candidate.expose().as_bytes())?)
     }"""


def s_spring_beans():
    return """2026-03-02T10:14:07.112Z  INFO 1 --- [main] c.a.security.JwtTokenProvider           : Loaded signing key id=k-2026-03 from keystore
2026-03-02T10:14:07.140Z  INFO 1 --- [main] o.s.s.web.DefaultSecurityFilterChain     : Will secure any request with [ApiKeyAuthenticationFilter, BearerTokenAuthenticationFilter]
2026-03-02T10:14:07.151Z  WARN 1 --- [main] .s.s.UserDetailsServiceAutoConfiguration : Using generated security password is disabled (spring.security.user.password set)"""


def s_npm_audit():
    return """# npm audit report

jsonwebtoken  <=8.5.1
Severity: high
jsonwebtoken unrestricted key type could lead to legacy keys usage - https://github.com/advisories/GHSA-8cf7-32gw-wr33
jsonwebtoken's insecure implementation of key retrieval function could lead to Forgeable Public/Private Tokens
fix available via `npm audit fix --force`
node_modules/jsonwebtoken

1 high severity vulnerability"""


def s_py_warning():
    return """/app/lib/crypto.py:88: DeprecationWarning: 'get_secret_key' is deprecated and will be removed in 3.0; use SecretKeyProvider.current() instead
  key = get_secret_key(namespace="sessions")
/app/lib/crypto.py:102: UserWarning: private_key_path not set, falling back to ephemeral key"""


def s_cargo_build_err():
    return """   Compiling auth v0.4.2 (/work/crates/auth)
error[E0432]: unresolved import `crate::token_cache::ApiTokenCache`
 --> crates/auth/src/lib.rs:9:5
  |
9 | use crate::token_cache::ApiTokenCache;
  |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ no `ApiTokenCache` in `token_cache`
  |
help: a similar name exists in the module: `AccessTokenCache`"""


def s_tf_validate():
    return """│ Error: Reference to undeclared input variable
│
│   on rds.tf line 17, in resource "aws_db_instance" "main":
│   17:   manage_master_user_password = var.db_password_secret_enabled
│
│ An input variable with the name "db_password_secret_enabled" has not been declared. This variable can be
│ declared with a variable "db_password_secret_enabled" {} block."""


SECRET_WORD_IDENTIFIERS = [s_rustc_error, s_go_build, s_java_trace, s_python_traceback, s_pytest_names, s_cargo_test,
                           s_rotator_logs, s_grep_tokens, s_tsc_error, s_csharp_exception, s_ruby_error, s_eslint,
                           s_git_log_msgs, s_k8s_events, s_jest, s_clippy, s_go_test, s_sql_migration, s_rg_settings,
                           s_mypy, s_vault_server_log, s_diff_rename, s_spring_beans, s_npm_audit, s_py_warning,
                           s_cargo_build_err, s_tf_validate]


# ================================================================ CLEAN: infra_ids
def i_ec2_describe():
    return fill("""$ aws ec2 describe-instances --filters Name=tag:app,Values=@@s@@ --query 'Reservations[].Instances[]'
[
    {
        "InstanceId": "@@i@@",
        "ImageId": "ami-0@@ami@@",
        "InstanceType": "m6i.large",
        "SubnetId": "subnet-0@@sn@@",
        "VpcId": "vpc-0@@vpc@@",
        "PrivateIpAddress": "10.0.@@a@@.@@b@@",
        "SecurityGroups": [
            {"GroupName": "@@s@@-sg", "GroupId": "sg-0@@sg@@"}
        ],
        "IamInstanceProfile": {"Arn": "arn:aws:iam::@@acct@@:instance-profile/@@s@@-node"},
        "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0@@eni@@", "OwnerId": "@@acct@@"}],
        "State": {"Code": 16, "Name": "running"}
    }
]""", s=pick(SERVICES), i=ec2_id(), ami=hx(16), sn=hx(16), vpc=hx(16), sg=hx(16), eni=hx(16), acct=acct(),
                a=str(rint(0, 255)), b=str(rint(1, 254)))


def i_tf_plan():
    return fill("""  # aws_security_group_rule.ingress_https will be created
  + resource "aws_security_group_rule" "ingress_https" {
      + cidr_blocks              = ["0.0.0.0/0"]
      + from_port                = 443
      + id                       = (known after apply)
      + security_group_id        = "sg-0@@sg@@"
      + to_port                  = 443
      + type                     = "ingress"
    }

  # aws_instance.bastion must be replaced
-/+ resource "aws_instance" "bastion" {
      ~ ami                          = "ami-0@@ami1@@" -> "ami-0@@ami2@@" # forces replacement
      ~ id                           = "@@i@@" -> (known after apply)
        subnet_id                    = "subnet-0@@sn@@"
        vpc_security_group_ids       = ["sg-0@@sg@@"]
      ~ primary_network_interface_id = "eni-0@@eni@@" -> (known after apply)
    }

Plan: 2 to add, 0 to change, 1 to destroy.""", sg=hx(16), ami1=hx(16), ami2=hx(16), i=ec2_id(), sn=hx(16), eni=hx(16))


def i_tf_apply():
    return fill("""aws_vpc.main: Refreshing state... [id=vpc-0@@v@@]
aws_subnet.private[0]: Refreshing state... [id=subnet-0@@s1@@]
aws_subnet.private[1]: Refreshing state... [id=subnet-0@@s2@@]
aws_iam_role.lambda: Refreshing state... [id=@@svc@@-lambda]
aws_instance.web: Creating...
aws_instance.web: Still creating... [10s elapsed]
aws_instance.web: Creation complete after 32s [id=@@i@@]
aws_lb_target_group_attachment.web: Creating...
aws_lb_target_group_attachment.web: Creation complete after 1s [id=arn:aws:elasticloadbalancing:@@r@@:@@a@@:targetgroup/web/@@tg@@]

Apply complete! Resources: 2 added, 0 changed, 0 destroyed.""", v=hx(16), s1=hx(16), s2=hx(16), svc=pick(SERVICES),
                i=ec2_id(), r=pick(REGIONS), a=acct(), tg=hx(16))


def i_git_log_full():
    out = []
    for _ in range(rint(3, 4)):
        out.append("commit %s\nAuthor: %s <%s@%s.io>\nDate:   %s\n\n    %s\n" % (
            git_sha(), pick(NAMES), pick(USERS), pick(ORGS),
            pick(["Mon", "Tue", "Wed", "Thu", "Fri"]) + " Nov %d %s 2026 +0100" % (rint(1, 28), hms()),
            pick(["Bump serde to 1.0.210", "Fix flaky retry test", "Add pagination to /v1/orders",
                  "Merge pull request #%d from %s/feature" % (rint(100, 3000), pick(USERS)),
                  "Revert \"cache headers\"", "Update CI matrix"])))
    return "$ git log -n %d\n" % len(out) + "\n".join(out).rstrip()


def i_git_rebase():
    acts = ["pick", "pick", "squash", "fixup", "reword", "pick"]
    msgs = ["add retry helper", "use retry helper in client", "wip", "fix typo", "document retry config",
            "bump version"]
    body = "\n".join("%s %s %s" % (a, short_sha(), m) for a, m in zip(acts, msgs))
    return fill("""@@b@@

# Rebase @@x@@..@@y@@ onto @@x@@ (6 commands)
#
# Commands:
# p, pick <commit> = use commit
# r, reword <commit> = use commit, but edit the commit message
# s, squash <commit> = use commit, but meld into previous commit
# f, fixup [-C | -c] <commit> = like "squash" but keep only the previous""", b=body, x=short_sha(), y=short_sha())


def i_sha256sums():
    v = "%d.%d.%d" % (rint(0, 3), rint(0, 30), rint(0, 9))
    name = pick(["ripgrep", "han", "vaultd", "kubectl-neat"])
    files = ["%s-%s-x86_64-unknown-linux-musl.tar.gz" % (name, v), "%s-%s-aarch64-apple-darwin.tar.gz" % (name, v),
             "%s-%s-x86_64-pc-windows-msvc.zip" % (name, v)]
    return "$ sha256sum -c SHA256SUMS\n" + "\n".join("%s: OK" % f for f in files) + "\n$ cat SHA256SUMS\n" + \
        "\n".join("%s  %s" % (sha(), f) for f in files)


def i_docker_pull():
    layers = "\n".join("%s: Pull complete" % hx(12) for _ in range(rint(4, 6)))
    img = pick(["node:20-bookworm-slim", "postgres:16.4", "python:3.12-slim", "nginx:1.27-alpine"])
    return fill("""$ docker pull @@img@@
@@tag@@: Pulling from library/@@repo@@
@@layers@@
Digest: sha256:@@d@@
Status: Downloaded newer image for @@img@@
docker.io/library/@@img@@""", img=img, tag=img.split(":")[1], repo=img.split(":")[0], layers=layers, d=sha())


def i_package_lock():
    pk = [("lodash", "4.17.21"), ("ms", "2.1.3"), ("debug", "4.3.7"), ("semver", "7.6.3"), ("picocolors", "1.1.1")]
    R.shuffle(pk)
    items = []
    for n, v in pk[:3]:
        items.append('    "node_modules/%s": {\n      "version": "%s",\n      "resolved": "https://registry.npmjs.org/%s/-/%s-%s.tgz",\n      "integrity": "%s",\n      "license": "MIT"\n    }' % (n, v, n, n, v, npm_integrity()))
    return '{\n  "name": "web",\n  "lockfileVersion": 3,\n  "packages": {\n' + ",\n".join(items) + "\n  }\n}"


def i_kubectl_pods():
    rows = []
    for s in R.sample(SERVICES, 5):
        rows.append("%-40s %-7s %-9s %-9s %s" % (pod(s), "1/1", "Running", str(rint(0, 3)), "%dd" % rint(1, 40)))
    rows.append("%-40s %-7s %-9s %-9s %s" % ("%s-%d-%s" % (pick(["db-migrate", "cron-cleanup"]), rint(28000000, 29999999), rs(5, "bcdfghjklmnpqrstvwxz2456789")), "0/1", "Completed", "0", "3h"))
    return "$ kubectl get pods -n %s\n%-40s %-7s %-9s %-9s %s\n" % (pick(["prod", "default"]), "NAME", "READY", "STATUS", "RESTARTS", "AGE") + "\n".join(rows)


def i_aws_request_id():
    return fill("""An error occurred (AccessDeniedException) when calling the GetSecretValue operation: User: arn:aws:sts::@@a@@:assumed-role/@@s@@-task/@@sess@@ is not authorized to perform: secretsmanager:GetSecretValue on resource: prod/@@s@@/db because no identity-based policy allows the secretsmanager:GetSecretValue action
(Request ID: @@u@@)""", a=acct(), s=pick(SERVICES), sess=hx(32), u=uid())


def i_http_headers():
    return fill("""< HTTP/2 200
< content-type: application/json; charset=utf-8
< date: Tue, 04 Nov 2026 @@t@@ GMT
< x-request-id: @@u@@
< traceparent: 00-@@tr@@-@@sp@@-01
< x-amz-request-id: @@amz@@
< x-amz-id-2: @@id2@@
< x-amz-cf-id: @@cf@@==
< etag: "@@etag@@"
< vary: Accept-Encoding""", t=hms(), u=uid(), tr=trace_id(), sp=span_id(), amz=rs(16, UP + DG), id2=b64e(rbytes(57)),
                cf=rs(54, B64URL), etag=hx(32))


def i_otel_span():
    return json.dumps({"name": "GET /v1/orders/{id}", "context": {"trace_id": "0x" + trace_id(), "span_id": "0x" + span_id(),
                                                                  "trace_state": "[]"},
                       "kind": "SpanKind.SERVER", "parent_id": "0x" + span_id(), **dict(zip(["start_time", "end_time"], ts_seq(2))),
                       "status": {"status_code": "OK"},
                       "attributes": {"http.method": "GET", "http.route": "/v1/orders/{id}", "http.status_code": 200,
                                      "net.peer.ip": "10.0.%d.%d" % (rint(0, 255), rint(1, 254))},
                       "resource": {"service.name": pick(SERVICES), "service.instance.id": uid()}}, indent=4)


def i_gha_run():
    o, r = pick(ORGS), pick(REPOS)
    run = rint(7000000000, 12999999999)
    return fill("""$ gh run list --limit 4
STATUS  TITLE                          WORKFLOW  BRANCH  EVENT         ID           ELAPSED  AGE
✓       Bump tokio to 1.41             CI        main    push          @@r1@@  6m12s    1h
X       Add retry to webhook delivery  CI        retry   pull_request  @@r2@@  3m40s    2h
✓       Release v2.3.0                 release   v2.3.0  push          @@r3@@  11m5s    1d
$ gh run view @@r2@@ --log-failed | head -2
test	Run cargo test	2026-11-04T09:12:44.1021547Z ##[error]Process completed with exit code 101.
see https://github.com/@@o@@/@@r@@/actions/runs/@@r2@@/job/@@job@@""", r1=str(run + 913), r2=str(run), r3=str(run - 40211),
                o=o, r=r, job=str(rint(20000000000, 39999999999)))


def i_arns():
    a, r = acct(), pick(REGIONS)
    s = pick(SERVICES)
    return fill("""Outputs:

bucket_arn        = "arn:aws:s3:::@@o@@-@@s@@-artifacts"
kms_key_arn       = "arn:aws:kms:@@r@@:@@a@@:key/@@k@@"
lambda_arn        = "arn:aws:lambda:@@r@@:@@a@@:function:@@s@@-handler"
role_arn          = "arn:aws:iam::@@a@@:role/@@s@@-exec"
sns_topic_arn     = "arn:aws:sns:@@r@@:@@a@@:@@s@@-alerts"
cert_arn          = "arn:aws:acm:@@r@@:@@a@@:certificate/@@c@@"
log_group         = "/aws/lambda/@@s@@-handler\"""", o=pick(ORGS), s=s, r=r, a=a, k=uid(), c=uid())


def i_sha512sum():
    f = "%s-%d.%d.%d.tar.xz" % (pick(["linux", "gcc", "emacs", "python"]), rint(3, 14), rint(0, 12), rint(0, 9))
    return "$ sha512sum %s\n%s  %s\n$ echo 'matches the value on the release page'" % (f, hx(128), f)


def i_docker_images():
    rows = ["REPOSITORY                                                   TAG        IMAGE ID       CREATED        SIZE"]
    choices = [("ghcr.io/%s/%s" % (pick(ORGS), pick(SERVICES)), short_sha()), ("postgres", "16.4"), ("redis", "7.4-alpine"),
               ("%s.dkr.ecr.%s.amazonaws.com/%s" % (acct(), pick(REGIONS), pick(SERVICES)), "v%d.%d.%d" % (rint(1, 3), rint(0, 9), rint(0, 9))),
               ("node", "20-bookworm-slim")]
    R.shuffle(choices)
    for repo, tag in choices[:4]:
        rows.append("%-60s %-10s %-14s %-14s %s" % (repo, tag, hx(12), pick(["2 hours ago", "3 days ago", "5 weeks ago"]),
                                                   "%dMB" % rint(40, 900)))
    return "$ docker images\n" + "\n".join(rows)


def i_go_sum():
    mods = [("github.com/google/uuid", "v1.6.0"), ("golang.org/x/crypto", "v0.28.0"),
            ("github.com/spf13/cobra", "v1.8.1"), ("go.uber.org/zap", "v1.27.0")]
    out = []
    for m, v in mods:
        out.append("%s %s h1:%s=" % (m, v, b64e(rbytes(32))[:43]))
        out.append("%s %s/go.mod h1:%s=" % (m, v, b64e(rbytes(32))[:43]))
    return "\n".join(out)


def i_cargo_lock():
    out = []
    for n, v in [("base64", "0.22.1"), ("hmac", "0.12.1"), ("zeroize", "1.8.1")]:
        out.append('[[package]]\nname = "%s"\nversion = "%s"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"' % (n, v, sha()))
    return "\n\n".join(out)


def i_git_show():
    return fill("""$ git show --stat HEAD
commit @@c@@ (HEAD -> main, origin/main)
Merge: @@p1@@ @@p2@@
Author: @@n@@ <@@u@@@users.noreply.github.com>
Date:   Wed Nov 5 14:02:11 2026 +0000

    Merge pull request #@@pr@@ from @@u@@/fix-token-refresh

 src/auth/refresh.rs | 14 ++++++++------
 1 file changed, 8 insertions(+), 6 deletions(-)""", c=git_sha(), p1=short_sha(), p2=short_sha(), n=pick(NAMES),
                u=pick(USERS), pr=str(rint(200, 4000)))


def i_cfn_events():
    a, r = acct(), pick(REGIONS)
    return fill("""$ aws cloudformation describe-stack-events --stack-name @@s@@ --max-items 3 --output text
STACKEVENTS	@@e1@@	Queue	@@url@@	AWS::SQS::Queue	arn:aws:cloudformation:@@r@@:@@a@@:stack/@@s@@/@@sid@@	CREATE_COMPLETE
STACKEVENTS	@@e2@@	Table	@@s@@-Table-@@tbl@@	AWS::DynamoDB::Table	arn:aws:cloudformation:@@r@@:@@a@@:stack/@@s@@/@@sid@@	CREATE_COMPLETE
STACKEVENTS	@@e3@@	@@s@@	arn:aws:cloudformation:@@r@@:@@a@@:stack/@@s@@/@@sid@@	AWS::CloudFormation::Stack	arn:aws:cloudformation:@@r@@:@@a@@:stack/@@s@@/@@sid@@	CREATE_IN_PROGRESS""",
                s=pick(SERVICES) + "-stack", e1="Queue-CREATE_COMPLETE-" + ts(), e2=uid(), e3=uid(),
                url="https://sqs.%s.amazonaws.com/%s/%s-Queue-%s" % (r, a, "svc", rs(12, UP + DG)),
                r=r, a=a, sid=uid(), tbl=rs(13, UP + DG))


def i_gcp_operation():
    return fill("""$ gcloud compute instances create @@n@@ --zone=europe-west1-b --machine-type=e2-medium
Created [https://www.googleapis.com/compute/v1/projects/@@p@@/zones/europe-west1-b/instances/@@n@@].
NAME  ZONE            MACHINE_TYPE  INTERNAL_IP  EXTERNAL_IP    STATUS
@@n@@  europe-west1-b  e2-medium     10.132.0.@@ip@@  34.76.@@a@@.@@b@@  RUNNING
$ gcloud compute operations list --limit=1 --format='value(name)'
operation-@@ms@@-@@h1@@-@@h2@@-@@h3@@""", n=pick(["build-agent-1", "etl-worker", "bastion"]), p=pick(ORGS) + "-prod",
                ip=str(rint(2, 250)), a=str(rint(0, 255)), b=str(rint(1, 254)), ms=str(rint(1760000000000, 1790000000000)),
                h1=hx(13), h2=hx(8), h3=hx(8))


def i_azure_ids():
    sub = uid()
    return fill("""$ az resource list -g rg-@@s@@-prod --query "[].id" -o tsv
/subscriptions/@@sub@@/resourceGroups/rg-@@s@@-prod/providers/Microsoft.Web/sites/app-@@s@@-prod
/subscriptions/@@sub@@/resourceGroups/rg-@@s@@-prod/providers/Microsoft.Storage/storageAccounts/st@@st@@prod
/subscriptions/@@sub@@/resourceGroups/rg-@@s@@-prod/providers/Microsoft.Insights/components/appi-@@s@@-prod
$ az account show --query '{name:name, id:id}' -o json
{ "id": "@@sub@@", "name": "Production" }""", sub=sub, s=pick(["orders", "ledger", "billing"]), st=rs(8, LO + DG))


def i_pip_hashes():
    return """# requirements.txt (generated by pip-compile --generate-hashes)
certifi==2024.8.30 \\
    --hash=sha256:%s \\
    --hash=sha256:%s
idna==3.10 \\
    --hash=sha256:%s
urllib3==2.2.3 \\
    --hash=sha256:%s""" % (sha(), sha(), sha(), sha())


def i_sentry_event():
    return fill("""Sentry event @@e@@ (issue WEB-@@iss@@)
  release: web@@@v@@
  environment: production
  trace: @@tr@@
  transaction: /checkout/[step]
  user: id=@@uid@@ ip=@@ip@@
  TypeError: Cannot read properties of undefined (reading 'total')
    at CheckoutSummary (webpack-internal:///./src/components/CheckoutSummary.tsx:41:29)""",
                e=hx(32), iss=rs(4, UP + DG), v=git_sha()[:12], tr=trace_id(), uid=str(rint(1000, 99999)),
                ip="203.0.113.%d" % rint(1, 254))


def i_ecr_push():
    a, r, s = acct(), pick(REGIONS), pick(SERVICES)
    tag = short_sha()
    layers = "\n".join("%s: Pushed" % hx(12) for _ in range(4))
    return fill("""$ docker push @@a@@.dkr.ecr.@@r@@.amazonaws.com/@@s@@:@@tag@@
The push refers to repository [@@a@@.dkr.ecr.@@r@@.amazonaws.com/@@s@@]
@@layers@@
@@tag@@: digest: sha256:@@d@@ size: 1786""", a=a, r=r, s=s, tag=tag, layers=layers, d=sha())


def i_kubectl_describe():
    p = pod(pick(SERVICES))
    return fill("""Name:             @@p@@
Namespace:        prod
Node:             ip-10-0-@@n1@@-@@n2@@.@@r@@.compute.internal/10.0.@@n1@@.@@n2@@
Controlled By:    ReplicaSet/@@rs@@
Containers:
  app:
    Container ID:   containerd://@@cid@@
    Image:          ghcr.io/@@o@@/@@img@@@sha256:@@d@@
    Image ID:       ghcr.io/@@o@@/@@img@@@sha256:@@d@@
    State:          Running
      Started:      Tue, 04 Nov 2026 08:14:02 +0000
    Ready:          True""", p=p, rs=p.rsplit("-", 1)[0], n1=str(rint(0, 255)), n2=str(rint(1, 254)), r=pick(REGIONS),
                cid=sha(), o=pick(ORGS), img=pick(SERVICES), d=sha())


def i_yarn_lock():
    return '''"@babel/code-frame@^7.24.7":
  version "7.26.2"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.26.2.tgz#%s"
  integrity %s
  dependencies:
    "@babel/helper-validator-identifier" "^7.25.9"
    js-tokens "^4.0.0"''' % (hx(40), npm_integrity())


INFRA_IDS = [i_ec2_describe, i_tf_plan, i_tf_apply, i_git_log_full, i_git_rebase, i_sha256sums, i_docker_pull,
             i_package_lock, i_kubectl_pods, i_aws_request_id, i_http_headers, i_otel_span, i_gha_run, i_arns,
             i_sha512sum, i_docker_images, i_go_sum, i_cargo_lock, i_git_show, i_cfn_events, i_gcp_operation,
             i_azure_ids, i_pip_hashes, i_sentry_event, i_ecr_push, i_kubectl_describe, i_yarn_lock]


# ================================================================ CLEAN: plain_session
def p_prompt_refactor():
    return pick(["can you refactor the login handler so it returns 401 instead of 500 when the user doesn't exist? "
                 "keep the error message generic so we don't leak which emails are registered",
                 "The retry loop in webhooks/deliver.go never backs off, it just hammers the endpoint. Add exponential "
                 "backoff with jitter, cap at 5 attempts, and make the test deterministic.",
                 "please explain why `cargo build` rebuilds everything after I switch branches. target/ is not shared "
                 "between worktrees, right?"])


def p_css_modules():
    h = [rs(5, LO + DG) for _ in range(3)]
    return fill("""diff --git a/src/components/Button.module.css b/src/components/Button.module.css
-.primary { background: var(--blue-600); }
+.primary { background: var(--brand-600); }

Rendered HTML after the change:
<button class="Button_primary__@@a@@ Button_base__@@b@@ _focusRing_@@c@@_12">Save</button>""", a=h[0], b=h[1], c=h[2])


def p_webpack_build():
    return fill("""asset main.@@h1@@.js 412 KiB [emitted] [immutable] [minimized] [big] (name: main)
asset vendors-node_modules_lodash_lodash_js.@@h2@@.chunk.js 71.3 KiB [emitted] [immutable] [minimized]
asset 842.@@h3@@.chunk.js 9.8 KiB [emitted] [immutable] [minimized]
asset main.@@h4@@.css 38.1 KiB [emitted] [immutable] [minimized] (name: main)
webpack 5.96.1 compiled with 1 warning in 18342 ms""", h1=hx(20), h2=hx(8), h3=hx(8), h4=hx(8))


def p_data_uri():
    return fill("""The logo isn't showing in the email template. Here's the markup the renderer produced:

<td align="center">
  <img alt="logo" width="120" height="32"
       src="data:image/png;base64,@@b@@">
</td>

Could Outlook be stripping data: URIs?""", b=tiny_png_b64(rint(150, 260)))


def p_csp_nonce():
    return fill("""$ curl -sI https://app.@@o@@.io | grep -i -E 'content-security|x-frame'
content-security-policy: default-src 'self'; script-src 'self' 'nonce-@@n@@' 'strict-dynamic'; style-src 'self' 'nonce-@@n@@'; object-src 'none'; base-uri 'none'
x-frame-options: DENY

The nonce changes on every request so that part looks right; why is the inline script still blocked?""",
                o=pick(ORGS), n=b64e(rbytes(16)))


def p_sql_output():
    return fill("""=> SELECT status, count(*), round(avg(total_cents)/100.0, 2) AS avg_eur
-> FROM orders WHERE created_at > now() - interval '7 days' GROUP BY status ORDER BY 2 DESC;
  status   | count | avg_eur
-----------+-------+---------
 paid      |  @@a@@ |   54.20
 refunded  |   @@b@@ |   61.03
 pending   |    @@c@@ |   12.99
(3 rows)""", a=str(rint(1000, 9999)), b=str(rint(100, 999)), c=str(rint(10, 99)))


def p_pytest_summary():
    return """$ pytest -q tests/unit
........................................................................ [ 64%]
.......................................                                  [100%]
111 passed in 3.84s"""


def p_redis_keys():
    keys = "\n".join(('2) ' if i == 0 else '   ') + '%d) "cache:v3:%s:%d:%s"' % (
        i + 1, pick(["user", "cart", "product"]), rint(1, 99999), hx(40)) for i in range(4))
    return "127.0.0.1:6379> SCAN 0 MATCH cache:v3:* COUNT 100\n1) \"0\"\n" + keys + \
        "\n127.0.0.1:6379> TTL cache:v3:user:42:latest\n(integer) 287"


def p_prose_algo():
    return """Sure — the reason the dedupe step is slow is that it compares every pair of rows, so it's O(n²). If you
hash each normalised row (lowercase the email, strip whitespace, sort the tags) and keep a HashSet of the
hashes you've already seen, you get a single pass. Collisions aren't a practical concern with a 64-bit
hash for a few million rows, but if you want to be safe store the full normalised key instead."""


def p_py_hash():
    return fill(""">>> import hashlib, pathlib
>>> data = pathlib.Path("dist/app.wasm").read_bytes()
>>> hashlib.sha256(data).hexdigest()
'@@h@@'
>>> len(data)
@@n@@""", h=sha(), n=str(rint(100000, 3000000)))


def p_api_response_uuids():
    return json.dumps({"data": [{"id": uid(), "type": "order", "attributes": {"status": pick(["paid", "shipped"]),
                                                                               "total": rint(100, 99999)}} for _ in range(3)],
                       "meta": {"page": 1, "per_page": 3, "total": rint(4, 400)},
                       "links": {"next": "/v1/orders?page[cursor]=%s" % b64u(rbytes(18))}}, indent=2)


def p_font_data():
    return fill("""@font-face {
  font-family: "InterVar";
  font-display: swap;
  src: url(data:font/woff2;base64,@@b@@) format("woff2");
}""", b=b64e(b"wOF2\x00\x01\x00\x00" + rbytes(rint(150, 240))))


def p_vite_build():
    return fill("""vite v5.4.11 building for production...
✓ 1432 modules transformed.
dist/index.html                   0.52 kB │ gzip:   0.33 kB
dist/assets/index-@@a@@.css   24.91 kB │ gzip:   5.12 kB
dist/assets/vendor-@@b@@.js  143.72 kB │ gzip:  46.10 kB
dist/assets/index-@@c@@.js    61.08 kB │ gzip:  19.77 kB
✓ built in 4.21s""", a=rs(8, B64URL), b=rs(8, B64URL), c=rs(8, B64URL))


def p_numpy_output():
    return """In [12]: rng = np.random.default_rng(42); rng.normal(size=(3, 4)).round(3)
Out[12]:
array([[ 0.305, -1.04 ,  0.75 ,  0.941],
       [-1.951, -1.302,  0.128, -0.316],
       [-0.017, -0.853,  0.879,  0.778]])"""


def p_cargo_build():
    return """   Compiling proc-macro2 v1.0.89
   Compiling unicode-ident v1.0.13
   Compiling serde v1.0.214
   Compiling syn v2.0.87
   Compiling serde_derive v1.0.214
   Compiling regex-automata v0.4.8
   Compiling han_crypto_core v0.3.0 (/work/main/crates/han_crypto_core)
    Finished `dev` profile [unoptimized + debuginfo] target(s) in 41.27s"""


def p_readme_diff():
    return """diff --git a/README.md b/README.md
@@ -12,7 +12,9 @@ Install with:
-    cargo install --path .
+    cargo install --locked --path crates/cli
+
+Minimum supported Rust version is 1.78.
 ## Usage
-Run `han scan <dir>` to scan a directory.
+Run `han scan <dir>` to scan a directory, or `han scan -` to read from stdin."""


def p_rust_random_ids():
    return fill("""$ cargo run --example gen_ids -q
request_id=@@a@@
request_id=@@b@@
request_id=@@c@@
// src/ids.rs
pub fn request_id() -> String { format!("{:016x}", rand::random::<u64>()) }""", a=hx(16), b=hx(16), c=hx(16))


def p_bench_table():
    return """| benchmark            | before   | after    | change  |
|----------------------|----------|----------|---------|
| scan_1kb             | 4.12 µs  | 2.97 µs  | -27.9%  |
| scan_64kb            | 231 µs   | 158 µs   | -31.6%  |
| scan_jsonl_10mb      | 41.8 ms  | 29.0 ms  | -30.6%  |
| redact_many_matches  | 88.2 µs  | 90.1 µs  | +2.2%   |"""


def p_etag_headers():
    return fill("""HTTP/1.1 304 Not Modified
Server: nginx/1.27.2
Date: Wed, 05 Nov 2026 @@t@@ GMT
ETag: W/"@@a@@-@@b@@"
Cache-Control: public, max-age=31536000, immutable
Last-Modified: Mon, 03 Nov 2026 17:40:12 GMT""", t=hms(), a=hx(8), b=hx(4))


def p_go_test_ok():
    return """$ go test ./...
ok  	github.com/acme/ledger/internal/money	0.012s
ok  	github.com/acme/ledger/internal/posting	0.204s
?   	github.com/acme/ledger/cmd/ledgerd	[no test files]
ok  	github.com/acme/ledger/internal/store	1.931s"""


def p_prompt_with_error():
    return pick(["I get this when running the migrations, what does it mean?\n\n"
                 "psql:migrations/0042_add_index.sql:3: ERROR:  could not create unique index \"orders_ref_key\"\n"
                 "DETAIL:  Key (ref)=(ORD-2026-%05d) is duplicated." % rint(0, 99999),
                 "npm run build fails with:\n\nModule not found: Error: Can't resolve './utils/formatDate' in "
                 "'/home/%s/web/src/components'\n\nthe file is definitely there, maybe a case issue?" % pick(USERS)])


def p_source_map():
    return json.dumps({"version": 3, "file": "index-%s.js" % rs(8, B64URL), "sources": ["../../src/main.ts", "../../src/app.ts"],
                       "names": ["createApp", "mount", "router"],
                       "mappings": ";".join(",".join(rs(rint(4, 6), B64) for _ in range(rint(3, 7))) for _ in range(6))})


def p_docker_build():
    return fill("""$ docker build -t @@s@@:dev .
[+] Building 38.2s (12/12) FINISHED
 => [internal] load build definition from Dockerfile                      0.0s
 => [internal] load metadata for docker.io/library/rust:1.82-slim         1.1s
 => [builder 1/5] FROM docker.io/library/rust:1.82-slim@sha256:@@d@@  0.0s
 => CACHED [builder 2/5] WORKDIR /app                                     0.0s
 => [builder 3/5] COPY . .                                                0.4s
 => [builder 4/5] RUN cargo build --release                              33.9s
 => exporting to image                                                    0.6s
 => => writing image sha256:@@img@@                                      0.0s
 => => naming to docker.io/library/@@s@@:dev""", s=pick(SERVICES), d=sha(), img=sha())


def p_next_build_id():
    return fill("""$ cat .next/BUILD_ID
@@b@@
$ ls .next/static
@@b@@  chunks  css  media
Route (app)                              Size     First Load JS
┌ ○ /                                    5.2 kB         92.4 kB
└ ○ /settings                            3.1 kB         90.3 kB""", b=rs(21, B64URL))


def p_proptest_regressions():
    return fill("""# Seeds for failure cases proptest has generated in the past. It is
# automatically read and these particular cases re-run before any
# novel cases are generated.
cc @@a@@ # shrinks to input = "aa=\\u{b}"
cc @@b@@ # shrinks to len = 17, s = "0000000000000000a\"""", a=hx(64), b=hx(64))


def p_sri_script():
    return fill("""<script src="https://cdn.jsdelivr.net/npm/alpinejs@3.14.3/dist/cdn.min.js"
        integrity="sha384-@@a@@"
        crossorigin="anonymous" defer></script>
<link rel="stylesheet" href="/assets/app.@@h@@.css">""", a=b64e(rbytes(48)), h=hx(10))


PLAIN_SESSION = [p_prompt_refactor, p_css_modules, p_webpack_build, p_data_uri, p_csp_nonce, p_sql_output,
                 p_pytest_summary, p_redis_keys, p_prose_algo, p_py_hash, p_api_response_uuids, p_font_data,
                 p_vite_build, p_numpy_output, p_cargo_build, p_readme_diff, p_rust_random_ids, p_bench_table,
                 p_etag_headers, p_go_test_ok, p_prompt_with_error, p_source_map, p_docker_build, p_next_build_id,
                 p_proptest_regressions, p_sri_script]


# ================================================================ SECRET: json_escaped
def toolu():
    return "toolu_01" + rs(22)


def wrap_result(inner, name=None):
    """Serialise a tool result the way it lands in jsonb metadata."""
    kind = rint(0, 3)
    if kind == 0:
        d = {"type": "tool_result", "tool_use_id": toolu(), "content": inner, "is_error": False}
    elif kind == 1:
        d = {"role": "tool", "name": name or pick(["Bash", "Read", "shell"]), "output": inner, "exit_code": 0}
    elif kind == 2:
        d = {"metadata": {"tool": name or "Read", "duration_ms": rint(3, 900), "result": inner}}
    else:
        d = {"event": "tool_output", "session": uid(), "payload": {"stdout": inner, "stderr": ""}}
    return json.dumps(d, ensure_ascii=False, separators=pick([(",", ":"), (", ", ": ")]))


def wrap_use(command):
    return json.dumps({"type": "tool_use", "id": toolu(), "name": "Bash",
                       "input": {"command": command, "description": pick(["Run query", "Check API", "Deploy"])}},
                      ensure_ascii=False)


def sa_json(pem):
    proj = pick(ORGS) + "-" + pick(["prod", "data", "ml"]) + "-" + str(rint(100, 999))
    email = "%s@%s.iam.gserviceaccount.com" % (pick(["ci-deployer", "bq-reader", "terraform"]), proj)
    return json.dumps({
        "type": "service_account", "project_id": proj, "private_key_id": hx(40), "private_key": pem + "\n",
        "client_email": email, "client_id": str(rint(10 ** 20, 10 ** 21 - 1)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + quote(email),
        "universe_domain": "googleapis.com"}, indent=2)


def j_sa_in_tool_result():
    pem = pkcs8_pem()
    text = wrap_result("$ cat ~/keys/gcp-sa.json\n" + sa_json(pem), "Bash")
    return text, [jesc(jesc(pem))]


def j_sa_file_pasted():
    pem = pkcs8_pem()
    text = pick(["why does `gcloud auth activate-service-account --key-file` say invalid grant with this?\n\n",
                 "here is credentials.json:\n"]) + sa_json(pem)
    return text, [jesc(pem)]


def j_env_as_string():
    pw, sk = urlpw(), stripe()
    env = "NODE_ENV=production\nDATABASE_URL=postgres://%s:%s@%s:5432/%s\nSTRIPE_SECRET_KEY=%s\nLOG_LEVEL=info\n" % (
        pick(USERS), pw, pick(DBHOSTS), pick(REPOS).replace("-", "_"), sk)
    return wrap_result(env, "Read"), [pw, sk]


def j_mysql_escaped_quotes():
    pw = password(a=ALNUM + "!#%*-_.+@^")
    cmd = 'mysql -h %s -u %s -p"%s" -e "SELECT COUNT(*) FROM orders"' % (pick(DBHOSTS), pick(USERS), pw)
    return wrap_use(cmd), [pw]


def j_curl_bearer():
    t = pick([ghp(), gh_pat()])
    cmd = 'curl -s -H "Authorization: Bearer %s" -H "Accept: application/vnd.github+json" https://api.github.com/repos/%s/%s/actions/runs?per_page=5' % (
        t, pick(ORGS), pick(REPOS))
    return wrap_use(cmd), [t]


def j_compose_escaped():
    pw = password(a=ALNUM + "-_")
    y = """services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: "%s"
      POSTGRES_PASSWORD: "%s"
    volumes:
      - pgdata:/var/lib/postgresql/data
""" % (pick(USERS), pw)
    return wrap_result(y, "Read"), [pw]


def j_kubeconfig():
    tok = k8s_sa_jwt()
    y = """apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://%s.gr7.%s.eks.amazonaws.com
  name: prod
users:
- name: deployer
  user:
    token: %s
contexts:
- context: {cluster: prod, user: deployer}
  name: prod
current-context: prod
""" % (hx(32).upper(), pick(REGIONS), tok)
    return wrap_result(y), [tok]


def j_python_code():
    k = openai_key()
    code = 'from openai import OpenAI\n\nclient = OpenAI(api_key="%s")\nresp = client.responses.create(model="gpt-4.1-mini", input="ping")\nprint(resp.output_text)\n' % k
    return json.dumps({"file_path": "/home/%s/scratch/try_openai.py" % pick(USERS), "content": code}), [k]


def j_nested_json_config():
    k = anthropic_key()
    inner = json.dumps({"anthropic_api_key": k, "model": "claude-sonnet-4", "max_tokens": 4096})
    text = json.dumps({"key": "settings/llm", "value": inner, "updated_at": ts()})
    return text, [k]


def j_aws_credentials():
    i, s = aws_id(), aws_secret()
    inner = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n" % (i, s, pick(REGIONS))
    text = wrap_result(inner, "Bash")
    return text, [i, jesc(s)]


def j_ssh_key():
    k = openssh_pem()
    return wrap_result("$ cat ~/.ssh/id_ed25519\n" + k + "\n$ ", "Bash"), [jesc(k)]


def j_npmrc():
    t = npm_tok()
    inner = "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\nfund=false\n" % t
    return wrap_result(inner, "Read"), [t]


def j_git_remote():
    t = ghs()
    o, r = pick(ORGS), pick(REPOS)
    inner = "origin\thttps://x-access-token:%s@github.com/%s/%s.git (fetch)\norigin\thttps://x-access-token:%s@github.com/%s/%s.git (push)\n" % (t, o, r, t, o, r)
    return wrap_result(inner, "Bash"), [t]


def j_toml_escaped():
    k = rs(40, ALNUM)
    inner = '[server]\nport = 8080\n\n[upstream]\nurl = "https://partner.example.net/v3"\nkey = "%s"\ntimeout = "5s"\n' % k
    return wrap_result(inner, "Read"), [k]


def j_dotnet_conn():
    pw = password(a=ALNUM + "!#%*-_")
    msg = ("Microsoft.Data.SqlClient.SqlException (0x80131904): Login failed for user 'app'.\n"
           "   at Orders.Data.Db.Open() in /src/Orders.Data/Db.cs:line 31\n"
           "ConnectionString: Server=tcp:sql-orders-prod.database.windows.net,1433;Initial Catalog=orders;"
           "User ID=app;Password=%s;Encrypt=True;\n" % pw)
    return json.dumps({"level": "error", "message": msg, "service": "orders-api"}), [pw]


def j_slack_webhook_cfg():
    t = rs(24)
    url = "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(8, UP + DG), rs(10, UP + DG), t)
    inner = json.dumps({"alerts": {"channel": "#deploys", "webhook_url": url, "mention": "@oncall"}}, indent=2)
    return wrap_result(inner, "Read"), [t]


def j_yaml_client_secret():
    cs = rs(40, B64URL)
    inner = "oauth:\n  provider: okta\n  issuer: https://%s.okta.com/oauth2/default\n  client_id: 0oa%s\n  client_secret: \"%s\"\n" % (
        pick(ORGS), rs(17), cs)
    return wrap_result(inner, "Read"), [cs]


def j_http_basic_log():
    creds = b64e(("%s:%s" % (pick(USERS), password(a=ALNUM))).encode())
    inner = json.dumps({"method": "POST", "url": "https://nexus.internal/service/rest/v1/components?repository=releases",
                        "headers": {"Authorization": "Basic " + creds, "Content-Type": "multipart/form-data"},
                        "status": 401})
    return json.dumps({"log": inner, "stream": "stderr", "time": ts()}), [creds]


def j_tfvars():
    pw = password(a=ALNUM + "-_!#")
    inner = 'region      = "%s"\ndb_username = "%s"\ndb_password = "%s"\n' % (pick(REGIONS), pick(USERS), pw)
    return wrap_result(inner, "Read"), [pw]


def j_env_output():
    t = glpat()
    inner = "HOME=/home/%s\nSHELL=/bin/zsh\nGITLAB_TOKEN=%s\nPATH=/usr/local/bin:/usr/bin:/bin\nTERM=xterm-256color\n" % (pick(USERS), t)
    return wrap_result("$ env | sort | head -5\n" + inner, "Bash"), [t]


def j_docker_config():
    auth = b64e(("%s:%s" % (pick(USERS), dckr())).encode())
    inner = json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}, "credsStore": ""}, indent="\t")
    return wrap_result("$ cat ~/.docker/config.json\n" + inner), [auth]


def j_cookie_jwt():
    t = jwt({"email": "%s@%s.io" % (pick(USERS), pick(ORGS)), "role": "admin"})
    inner = 'GET /api/admin/users HTTP/1.1\nHost: app.%s.io\nCookie: theme=dark; session="%s"\n' % (pick(ORGS), t)
    return json.dumps({"request_dump": inner}), [t]


def j_master_key():
    k = hx(32)
    return wrap_result("$ cat config/master.key\n%s\n" % k, "Bash"), [k]


def j_ipynb_hf():
    t = hf_tok()
    nb = {"cell_type": "code", "execution_count": rint(1, 30), "metadata": {},
          "source": ["from huggingface_hub import login\n", "login(token=\"%s\")\n" % t, "model_id = \"meta-llama/Llama-3.1-8B\"\n"],
          "outputs": []}
    return json.dumps(nb, indent=1), [t]


JSON_ESCAPED = [j_sa_in_tool_result, j_sa_file_pasted, j_env_as_string, j_mysql_escaped_quotes, j_curl_bearer,
                j_compose_escaped, j_kubeconfig, j_python_code, j_nested_json_config, j_aws_credentials, j_ssh_key,
                j_npmrc, j_git_remote, j_toml_escaped, j_dotnet_conn, j_slack_webhook_cfg, j_yaml_client_secret,
                j_http_basic_log, j_tfvars, j_env_output, j_docker_config, j_cookie_jwt, j_master_key, j_ipynb_hf]


# ================================================================ SECRET: key_pairs
def k_prose_paren():
    i, s = aws_id(), aws_secret()
    t = pick(["the sandbox creds are (%s / %s) — can you update the CI variables and re-run the deploy job?",
              "use the backfill IAM user (%s / %s); it only has s3:GetObject on the raw bucket",
              "AWS keys for staging (%s / %s), rotating them tomorrow"]) % (i, s)
    return t, [i, s]


def k_java_basic():
    i, s = aws_id(), aws_secret()
    return fill("""public class S3Uploader {
    private final AmazonS3 s3;

    public S3Uploader() {
        BasicAWSCredentials creds = new BasicAWSCredentials("@@i@@", "@@s@@");
        this.s3 = AmazonS3ClientBuilder.standard()
                .withRegion(Regions.@@R@@)
                .withCredentials(new AWSStaticCredentialsProvider(creds))
                .build();
    }
}""", i=i, s=s, R=pick(["EU_WEST_1", "US_EAST_1", "AP_SOUTHEAST_2"])), [i, s]


def k_csharp_azure():
    tenant, cid = uid(), uid()
    sec = rs(3, ALNUM) + "8Q~" + rs(34, ALNUM + "~_.-")
    return fill("""var credential = new ClientSecretCredential(
    tenantId: "@@t@@",
    clientId: "@@c@@",
    clientSecret: "@@s@@");
var client = new SecretClient(new Uri("https://kv-@@o@@.vault.azure.net/"), credential);""",
                t=tenant, c=cid, s=sec, o=pick(ORGS)), [cid, sec]


def k_boto3():
    i, s = aws_id(), aws_secret()
    return fill("""import boto3

s3 = boto3.client(
    "s3",
    region_name="@@r@@",
    aws_access_key_id="@@i@@",
    aws_secret_access_key="@@s@@",
)
for obj in s3.list_objects_v2(Bucket="@@b@@")["Contents"][:10]:
    print(obj["Key"], obj["Size"])""", r=pick(REGIONS), i=i, s=s, b=pick(ORGS) + "-exports"), [i, s]


def k_go_static():
    i, s = aws_id(), aws_secret()
    return fill("""sess, err := session.NewSession(&aws.Config{
	Region:      aws.String("@@r@@"),
	Credentials: credentials.NewStaticCredentials("@@i@@", "@@s@@", ""),
})
if err != nil {
	log.Fatalf("session: %v", err)
}""", r=pick(REGIONS), i=i, s=s), [i, s]


def k_google_oauth_prose():
    cid = "%d-%s.apps.googleusercontent.com" % (rint(10 ** 11, 10 ** 12 - 1), rs(32, LO + DG))
    sec = "GOCSPX-" + rs(28, B64URL)
    t = pick(["For the Google login I registered a new OAuth client. client_id is %s and client_secret is %s. "
              "Redirect URI is http://localhost:3000/api/auth/callback/google.",
              "google oauth -> id: %s\nsecret: %s\nplease wire these into next-auth"]) % (cid, sec)
    return t, [cid, sec]


def k_twilio_curl():
    sk, tok = "SK" + hx(32), hx(32)
    sid = "AC" + hx(32)
    return fill("""$ curl -X POST "https://api.twilio.com/2010-04-01/Accounts/@@sid@@/Messages.json" \\
    --data-urlencode "To=+4915112345678" \\
    --data-urlencode "From=+15005550006" \\
    --data-urlencode "Body=deploy finished" \\
    -u @@sk@@:@@tok@@
{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}""",
                sid=sid, sk=sk, tok=tok), [sk, tok]


def k_razorpay():
    kid, ks = "rzp_live_" + rs(14), rs(24)
    return fill("""# payments/settings.py
RAZORPAY_KEY_ID = "@@k@@"
RAZORPAY_KEY_SECRET = "@@s@@"
client = razorpay.Client(auth=(RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET))""", k=kid, s=ks), [kid, ks]


def k_ts_s3client():
    i, s = aws_id(), aws_secret()
    return fill("""const s3 = new S3Client({
  region: "@@r@@",
  credentials: {
    accessKeyId: "@@i@@",
    secretAccessKey: "@@s@@",
  },
});""", r=pick(REGIONS), i=i, s=s), [i, s]


def k_ruby_aws():
    i, s = aws_id(), aws_secret()
    return fill("""Aws.config.update(
  region: '@@r@@',
  credentials: Aws::Credentials.new('@@i@@', '@@s@@')
)
S3 = Aws::S3::Resource.new""", r=pick(REGIONS), i=i, s=s), [i, s]


def k_iam_csv():
    i, s = aws_id(), aws_secret()
    u = pick(USERS)
    return "$ cat ~/Downloads/%s_accessKeys.csv\nAccess key ID,Secret access key\n%s,%s\n" % (u, i, s), [i, s]


def k_confluent():
    k, s = rs(16, UP + DG), rs(64, B64)
    return fill("""$ confluent api-key create --resource lkc-@@c@@
It may take a couple of minutes for the API key to be ready.
Save the API key and secret. The secret is not retrievable later.
+------------+------------------------------------------------------------------+
| API Key    | @@k@@                                                 |
| API Secret | @@s@@ |
+------------+------------------------------------------------------------------+""", c=rs(5, LO + DG), k=k, s=s), [k, s]


def k_cloudinary():
    k, s = str(rint(10 ** 14, 10 ** 15 - 1)), rs(27, B64URL)
    return "CLOUDINARY_URL=cloudinary://%s:%s@%s\n" % (k, s, pick(["dx9" + rs(5, LO), "acme-media"])), [k, s]


def k_tweepy():
    ck, cs, at, ats = rs(25), rs(50), "%d-%s" % (rint(10 ** 17, 10 ** 19), rs(30)), rs(45)
    return fill("""auth = tweepy.OAuth1UserHandler(
    "@@ck@@",
    "@@cs@@",
    "@@at@@",
    "@@ats@@",
)
api = tweepy.API(auth)""", ck=ck, cs=cs, at=at, ats=ats), [ck, cs, at, ats]


def k_minio_prompt():
    k, s = rs(20, UP + DG), rs(40, ALNUM)
    return ("spin up the backup job against the minio box at http://10.20.0.8:9000 — access key `%s`, secret key `%s`. "
            "bucket is pg-backups" % (k, s)), [k, s]


def k_alibaba_java():
    k, s = "LTAI5t" + rs(18), rs(30)
    return fill("""DefaultProfile profile = DefaultProfile.getProfile(
        "cn-hangzhou",
        "@@k@@",
        "@@s@@");
IAcsClient client = new DefaultAcsClient(profile);""", k=k, s=s), [k, s]


def k_go_oauth2():
    cid, sec = "Iv1." + hx(16), hx(40)
    return fill("""var githubOAuth = &oauth2.Config{
	ClientID:     "@@c@@",
	ClientSecret: "@@s@@",
	Scopes:       []string{"read:user", "user:email"},
	Endpoint:     github.Endpoint,
	RedirectURL:  "https://app.@@o@@.io/auth/github/callback",
}""", c=cid, s=sec, o=pick(ORGS)), [cid, sec]


def k_create_access_key():
    i, s = aws_id(), aws_secret()
    u = pick(USERS)
    return json.dumps({"AccessKey": {"UserName": u, "AccessKeyId": i, "Status": "Active", "SecretAccessKey": s,
                                     "CreateDate": ts()[:19] + "+00:00"}}, indent=4), [i, s]


def k_do_spaces():
    k, s = rs(20, UP + DG), rs(43, B64)
    return fill("""# ~/.s3cfg for DigitalOcean Spaces
[default]
access_key = @@k@@
secret_key = @@s@@
host_base = @@r@@.digitaloceanspaces.com
host_bucket = %(bucket)s.@@r@@.digitaloceanspaces.com""", k=k, s=s, r=pick(["fra1", "nyc3", "ams3"])), [k, s]


def k_auth0_prose():
    cid, cs = rs(32), rs(64, B64URL)
    return ("Auth0 app for the admin panel is set up. Client ID: %s Client Secret: %s — domain is %s.eu.auth0.com"
            % (cid, cs, pick(ORGS))), [cid, cs]


def k_rclone():
    i, s = aws_id(), aws_secret()
    return fill("""$ cat ~/.config/rclone/rclone.conf
[s3-archive]
type = s3
provider = AWS
access_key_id = @@i@@
secret_access_key = @@s@@
region = @@r@@
storage_class = GLACIER""", i=i, s=s, r=pick(REGIONS)), [i, s]


def k_b2():
    kid, key = "005" + hx(22), "K005" + rs(27)
    return "$ b2 account authorize %s %s\nUsing https://api.backblazeb2.com\n" % (kid, key), [kid, key]


def k_csharp_aws():
    i, s = aws_id(), aws_secret()
    return fill("""var credentials = new BasicAWSCredentials("@@i@@", "@@s@@");
using var client = new AmazonSQSClient(credentials, RegionEndpoint.@@R@@);
await client.SendMessageAsync(queueUrl, JsonSerializer.Serialize(evt));""", i=i, s=s,
                R=pick(["EUWest1", "USEast1", "APNortheast1"])), [i, s]


def k_algolia_pair():
    app, key = rs(10, UP + DG), hx(32)
    return fill("""const client = algoliasearch("@@a@@", "@@k@@"); // admin key, server-side only
const index = client.initIndex("products_@@e@@");""", a=app, k=key, e=pick(["prod", "staging"])), [app, key]


KEY_PAIRS = [k_prose_paren, k_java_basic, k_csharp_azure, k_boto3, k_go_static, k_google_oauth_prose, k_twilio_curl,
             k_razorpay, k_ts_s3client, k_ruby_aws, k_iam_csv, k_confluent, k_cloudinary, k_tweepy, k_minio_prompt,
             k_alibaba_java, k_go_oauth2, k_create_access_key, k_do_spaces, k_auth0_prose, k_rclone, k_b2,
             k_csharp_aws, k_algolia_pair]


# ================================================================ SECRET: provider_near_value
def v_openai_prose():
    k = openai_key()
    return pick(["my openai key is %s — why do I get 429 even on the first request?",
                 "openai %s\n^ that's the org key, use it for the eval run"]) % k, [k]


def v_datadog_dash():
    k = hx(32)
    return pick(["datadog - %s (that's the API key, app key is in 1password)",
                 "Set the agent up with datadog-%s please, site is datadoghq.eu"]) % k, [k]


def v_bare_next_line():
    k = "%s-us%d" % (hx(32), rint(1, 21))
    return "here's the mailchimp api key:\n%s\nlist id is %s" % (k, hx(10)), [k]


def v_yaml_provider_key():
    k, a = hx(32), hx(40)
    return fill("""# monitoring.yaml
datadog: @@k@@
datadog_app_key: @@a@@
site: datadoghq.com
tags:
  - env:prod
  - team:@@t@@""", k=k, a=a, t=pick(["payments", "core"])), [k, a]


def v_json_algolia():
    k = hx(32)
    return json.dumps({"algolia": {"app_id": rs(10, UP + DG), "algolia_admin_key": k, "index": "articles"}},
                      indent=2), [k]


def v_toml_cloudflare():
    t = rs(40, B64URL)
    return fill("""# wrangler-deploy.toml
[deploy]
account_id = "@@a@@"
cloudflare_token = "@@t@@"
zone = "@@o@@.dev\"""", a=hx(32), t=t, o=pick(ORGS)), [t]


def v_heroku_uuid():
    k = uid()
    return "heroku_api_key: %s\napp: %s-%s\n" % (k, pick(SERVICES), pick(["prod", "stg"])), [k]


def v_pagerduty_next_line():
    k = rs(20, ALNUM + "+_-")
    return "PagerDuty token\n%s\n\n(integration is 'Events API v2', service P%s)" % (k, rs(6, UP + DG)), [k]


def v_fastly_quote():
    k = rs(32, B64URL)
    return "the fastly token '%s' stopped working after the account migration, purge calls return 401" % k, [k]


def v_newrelic_license():
    k = hx(36) + "NRAL"
    return fill("""# newrelic.yml
common: &default_settings
  license_key: @@k@@
  app_name: @@s@@
  distributed_tracing:
    enabled: true""", k=k, s=pick(SERVICES)), [k]


def v_colon_nothing():
    if R.random() < 0.5:
        k = "00" + rs(40, B64URL)
        return pick(["okta token:%s", "Okta:%s"]) % k, [k]
    k = "NRAK-" + rs(27, UP + DG)
    return "new relic-%s\nthat one is the user key for nerdgraph" % k, [k]


def v_python_dict_twilio():
    t = hx(32)
    return fill("""PROVIDERS = {
    "twilio": "@@t@@",
    "region": "ie1",
    "from_number": "+3531555@@n@@",
}""", t=t, n=str(rint(1000, 9999))), [t]


def v_ini_pusher():
    sec, key = hx(20), hx(20)
    return fill("""[pusher]
app_id = @@id@@
key = @@k@@
secret = @@s@@
cluster = eu""", id=str(rint(1000000, 1999999)), k=key, s=sec), [sec]


def v_arrow_cloudflare():
    t = rs(40, B64URL)
    return "cloudflare token -> %s   (zone:dns:edit only)" % t, [t]


def v_properties_sentry():
    t = "sntrys_" + b64u(json.dumps({"iat": rint(1760000000, 1790000000), "url": "https://sentry.io",
                                     "org": pick(ORGS)}, separators=(",", ":")).encode()) + "_" + rs(43, B64URL)
    return "sentry.dsn=https://%s@o%d.ingest.sentry.io/%d\nsentry.auth-token=%s\nsentry.environment=prod" % (
        hx(32), rint(100000, 999999), rint(1000000, 9999999), t), [t]


def v_mapbox_secret():
    u = pick(USERS)
    t = "sk." + b64u(json.dumps({"u": u, "a": rs(25, LO + DG)}, separators=(",", ":")).encode()) + "." + rs(22, B64URL)
    return "map:\n  style: mapbox://styles/%s/standard\n  mapbox_secret_token: %s\n" % (u, t), [t]


def v_linear_prose():
    t = "lin_api_" + rs(40)
    return "linear api key %s — scoped to the Platform team, used by the triage bot" % t, [t]


def v_compose_postmark():
    t = uid()
    return fill("""  mailer:
    image: ghcr.io/@@o@@/mailer:1.8
    environment:
      POSTMARK_SERVER_TOKEN: @@t@@
      FROM_ADDRESS: noreply@@@o@@.io""", o=pick(ORGS), t=t), [t]


def v_vercel_backticks():
    t = rs(24, ALNUM)
    return "vercel token for the preview deploys: `%s` (scoped to the %s team)" % (t, pick(ORGS)), [t]


def v_tfvars_fastly():
    k = rs(32, B64URL)
    return 'fastly_api_key = "%s"\nservice_id     = "%s"\n' % (k, rs(22, ALNUM)), [k]


def v_helm_notion():
    t = "ntn_" + rs(11, DG) + rs(35, ALNUM)
    return fill("""# values-prod.yaml
notion:
  token: @@t@@
  databaseId: @@d@@
replicaCount: 2""", t=t, d=hx(32)), [t]


def v_webhook_secret_json():
    w = "whsec_" + rs(32, B64)
    return json.dumps({"stripe": {"webhook_secret": w, "tolerance_seconds": 300}}), [w]


def v_kubectl_literal():
    t = rs(48, B64URL)
    return ("$ kubectl -n %s create secret generic partner-api --from-literal=api-token=%s\nsecret/partner-api created"
            % (pick(["prod", "integrations"]), t)), [t]


PROVIDER_NEAR_VALUE = [v_openai_prose, v_datadog_dash, v_bare_next_line, v_yaml_provider_key, v_json_algolia,
                       v_toml_cloudflare, v_heroku_uuid, v_pagerduty_next_line, v_fastly_quote, v_newrelic_license,
                       v_colon_nothing, v_python_dict_twilio, v_ini_pusher, v_arrow_cloudflare, v_properties_sentry,
                       v_mapbox_secret, v_linear_prose, v_compose_postmark, v_vercel_backticks, v_tfvars_fastly,
                       v_helm_notion, v_webhook_secret_json, v_kubectl_literal]


# ================================================================ SECRET: url_keys
def u_telegram():
    t = telegram()
    chat = "-100" + str(rint(10 ** 9, 10 ** 10))
    return pick([
        "requests.exceptions.HTTPError: 400 Client Error: Bad Request for url: https://api.telegram.org/bot%s/sendMessage?chat_id=%s&text=build+failed" % (t, chat),
        "$ curl -s https://api.telegram.org/bot%s/getUpdates | jq '.result[-1].message.chat.id'\n%s" % (t, chat)]), [t]


def u_api_key_query():
    k = hx(32)
    return fill("""@@t@@ INFO  http.client: GET https://api.@@p@@.com/data/2.5/forecast?lat=48.85&lon=2.35&units=metric&api_key=@@k@@ -> 200 (312 ms)
@@t@@ INFO  http.client: cache miss for forecast:48.85:2.35""", t=ts(), p=pick(["openweather", "weatherly", "tomorrowio"]),
                k=k), [k]


def u_azure_sas():
    sig = quote(b64e(rbytes(32)), safe="")
    acct_ = pick(ORGS).replace("-", "") + "prod" + rs(3, LO + DG)
    url = ("https://%s.blob.core.windows.net/exports/%s/report.csv?sv=2022-11-02&ss=b&srt=o&sp=rl"
           "&se=2026-12-31T23:59:59Z&st=2026-11-01T00:00:00Z&spr=https&sig=%s" % (acct_, date(), sig))
    return pick(["Download link for the finance team (expires end of year):\n" + url,
                 "$ azcopy copy '%s' ./report.csv\nINFO: Scanning...\nINFO: Final Job Status: Completed" % url]), [sig]


def u_fb_access_token():
    t = "EAAB" + rs(180)
    return ("GET https://graph.facebook.com/v19.0/me/accounts?fields=name,access_token&access_token=%s\n"
            "{\"error\":{\"message\":\"Error validating access token: Session has expired\",\"code\":190}}" % t), [t]


def u_ws_token():
    t = jwt({"scope": "stream:read"})
    return "WebSocket connection to 'wss://stream.%s.io/v1/ticks?token=%s' failed: Error during WebSocket handshake: Unexpected response code: 403" % (
        pick(ORGS), t), [t]


def u_postgres_url():
    u, pw, h = pick(USERS), urlpw(), pick(DBHOSTS)
    return pick([
        "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at \"%s\" (10.0.4.12), port 5432 failed: FATAL:  password authentication failed for user \"%s\"\n(Background on this error at: https://sqlalche.me/e/20/e3q8)\nDATABASE_URL=postgres://%s:%s@%s:5432/app" % (h, u, u, pw, h),
        "$ psql 'postgresql://%s:%s@%s:5432/analytics?sslmode=require' -c '\\dt'\nDid not find any relations." % (u, pw, h)]), [pw]


def u_mongo_srv():
    u, pw = pick(USERS), urlpw()
    return "MONGODB_URI=mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority" % (
        u, pw, rs(5, LO + DG), pick(REPOS)), [pw]


def u_redis_amqp():
    p1, p2 = urlpw(), urlpw()
    return fill("""celery:
  broker_url: amqp://@@u@@:@@p1@@@rabbitmq.@@ns@@.svc:5672/celery
  result_backend: redis://:@@p2@@@redis-master.@@ns@@.svc:6379/1""", u=pick(USERS), p1=p1, p2=p2,
                ns=pick(["prod", "jobs"])), [p1, p2]


def u_slack_webhook():
    t = rs(24)
    url = "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(9, UP + DG), rs(11, UP + DG), t)
    return pick(["curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"Deploy done\"}' %s" % url,
                 "SLACK_WEBHOOK_URL=%s" % url]), [t]


def u_discord_webhook():
    t = rs(68, B64URL)
    url = "https://discord.com/api/webhooks/%d/%s" % (rint(10 ** 17, 10 ** 19 - 1), t)
    return ("# notify.py\nWEBHOOK = \"%s\"\nrequests.post(WEBHOOK, json={\"content\": f\"nightly build {status}\"})" % url), [t]


def u_gitlab_oauth_url():
    t = glpat()
    r = pick(REPOS)
    return ("$ git clone https://oauth2:%s@gitlab.com/%s/%s.git\nCloning into '%s'...\nremote: Enumerating objects: 1843, done."
            % (t, pick(ORGS), r, r)), [t]


def u_github_url():
    t = ghp()
    o, r = pick(ORGS), pick(REPOS)
    return "$ git remote -v\norigin\thttps://%s@github.com/%s/%s.git (fetch)\norigin\thttps://%s@github.com/%s/%s.git (push)" % (
        t, o, r, t, o, r), [t]


def u_google_maps():
    k = google_key()
    return ('<script async src="https://maps.googleapis.com/maps/api/js?key=%s&callback=initMap&libraries=places"></script>'
            % k), [k]


def u_s3_presigned():
    sig = hx(64)
    i = aws_id("ASIA")
    tok = quote("IQoJb3JpZ2luX2Vj" + b64e(rbytes(200)), safe="")
    url = ("https://%s-exports.s3.%s.amazonaws.com/2026/11/dump.sql.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=%s%%2F20261104%%2F%s%%2Fs3%%2Faws4_request&X-Amz-Date=20261104T101500Z&X-Amz-Expires=3600"
           "&X-Amz-Security-Token=%s&X-Amz-SignedHeaders=host&X-Amz-Signature=%s") % (
        pick(ORGS), "eu-west-1", i, "eu-west-1", tok, sig)
    return "presigned url (1h): " + url, [tok, sig]


def u_client_secret_query():
    cs = rs(40, B64URL)
    return ("%s DEBUG oauth: POST https://login.%s.com/oauth/token?grant_type=client_credentials&client_id=%s&client_secret=%s"
            % (ts(), pick(ORGS), rs(20, LO + DG), cs)), [cs]


def u_ftp():
    pw = urlpw()
    return "lftp -e 'mirror -R dist/ /public_html; quit' ftp://%s:%s@ftp.%s-hosting.net" % (pick(USERS), pw, pick(ORGS)), [pw]


def u_pypi_index():
    t = pypi_tok()
    return ("$ pip install --index-url https://__token__:%s@upload.pypi.org/simple/ acme-internal==2.1.0\n"
            "Looking in indexes: https://__token__:****@upload.pypi.org/simple/" % t), [t]


def u_ifttt():
    k = rs(22, B64URL)
    return "curl -X POST https://maker.ifttt.com/trigger/backup_done/with/key/%s -d value1=ok" % k, [k]


def u_dd_api_key_query():
    k = hx(32)
    return ("fetch('https://browser-intake-datadoghq.eu/api/v2/logs?dd-api-key=%s&ddsource=browser', "
            "{ method: 'POST', body: JSON.stringify(batch) })" % k), [k]


def u_gcs_signed():
    sig = hx(512)
    url = ("https://storage.googleapis.com/%s-media/uploads/video.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256"
           "&X-Goog-Credential=uploader%%40%s.iam.gserviceaccount.com%%2F20261104%%2Fauto%%2Fstorage%%2Fgoog4_request"
           "&X-Goog-Date=20261104T120000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=%s") % (
        pick(ORGS), pick(ORGS) + "-prod", sig)
    return url, [sig]


def u_smb():
    pw = urlpw()
    return "mount -t cifs //fs01/share /mnt/share -o vers=3.0\n# or from the Finder: smb://%s:%s@fs01.corp.local/share" % (
        pick(USERS), pw), [pw]


def u_elastic():
    pw = urlpw()
    return ("elasticsearch.exceptions.ConnectionError: ConnectionError(<urllib3.connection.HTTPSConnection>: Failed to "
            "establish a new connection) caused by: https://elastic:%s@es.%s.internal:9200/_bulk" % (pw, pick(ORGS))), [pw]


def u_mysql_jdbc():
    pw = urlpw()
    return "spring.datasource.url=jdbc:mysql://%s:3306/shop?user=%s&password=%s&useSSL=true" % (
        pick(DBHOSTS), pick(USERS), pw), [pw]


URL_KEYS = [u_telegram, u_api_key_query, u_azure_sas, u_fb_access_token, u_ws_token, u_postgres_url, u_mongo_srv,
            u_redis_amqp, u_slack_webhook, u_discord_webhook, u_gitlab_oauth_url, u_github_url, u_google_maps,
            u_s3_presigned, u_client_secret_query, u_ftp, u_pypi_index, u_ifttt, u_dd_api_key_query, u_gcs_signed,
            u_smb, u_elastic, u_mysql_jdbc]


# ================================================================ SECRET: code_constants
def c_rust_hex():
    k = hx(64)
    return fill("""use hex_literal::hex;

/// HMAC key for signing webhook payloads.
const WEBHOOK_HMAC_KEY: [u8; 32] = hex!("@@k@@");

pub fn sign(body: &[u8]) -> [u8; 32] {
    hmac_sha256(&WEBHOOK_HMAC_KEY, body)
}""", k=k), [k]


def c_rust_str():
    k = b64e(rbytes(32))
    return 'pub const SIGNING_KEY: &str = "%s";\npub const TOKEN_TTL_SECS: u64 = 3600;' % k, [k]


def c_go_jwt_var():
    s = rs(48, ALNUM)
    return fill("""package auth

import "github.com/golang-jwt/jwt/v5"

var jwtSecret = []byte("@@s@@")

func Sign(claims jwt.MapClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(jwtSecret)
}""", s=s), [s]


def c_go_const():
    t = hx(40)
    return 'const (\n\tapiBaseURL = "https://partner.example.net/v2"\n\tapiToken   = "%s"\n\tmaxRetries = 3\n)' % t, [t]


def c_ts_export():
    s = b64e(rbytes(48))
    return fill("""// src/config/session.ts
export const SESSION_COOKIE = "sid";
export const SESSION_SECRET = "@@s@@";
export const SESSION_MAX_AGE = 60 * 60 * 24 * 7;""", s=s), [s]


def c_django_key():
    k = "django-insecure-" + rs(50, LO + DG + "!@#$%^&*(-_=+)")
    return "# settings.py\nSECRET_KEY = '%s'\nDEBUG = True" % k, [k]


def c_py_salt():
    s = rs(32, ALNUM)
    return fill("""# app/security.py
PASSWORD_SALT = b"@@s@@"
ITERATIONS = 600_000

def hash_password(pw: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pw.encode(), PASSWORD_SALT, ITERATIONS)""", s=s), [s]


def c_java_static():
    s = hx(64)
    return fill("""public final class PartnerClient {
    private static final String API_BASE = "https://api.partner.example/v1";
    private static final String API_SECRET = "@@s@@";
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
}""", s=s), [s]


def c_csharp_const():
    k = b64e(rbytes(32))
    return fill("""internal static class Crypto
{
    private const string EncryptionKey = "@@k@@";
    private const int KeySize = 256;

    public static byte[] Encrypt(byte[] plain) => AesGcmHelper.Encrypt(Convert.FromBase64String(EncryptionKey), plain);
}""", k=k), [k]


def c_ruby_token():
    t = hx(64)
    return "# config/initializers/partner.rb\nPARTNER_SECRET_TOKEN = '%s'.freeze\nPARTNER_TIMEOUT = 5" % t, [t]


def c_rust_bytes():
    k = rs(16, ALNUM + "!#$%&*+-=?@^_")
    return 'pub static AES_KEY: &[u8; 16] = b"%s";' % k, [k]


def c_ts_fallback():
    s = hx(64)
    return ('export const WEBHOOK_SIGNING_SECRET =\n  process.env.WEBHOOK_SIGNING_SECRET ?? "%s";' % s), [s]


def c_py_fromhex():
    k = hx(64)
    return "HMAC_SECRET = bytes.fromhex(\n    \"%s\"\n)" % k, [k]


def c_java_b64():
    k = b64e(rbytes(64))
    return fill("""@Configuration
public class JwtConfig {
    private static final byte[] SIGNING_KEY = Base64.getDecoder().decode(
            "@@k@@");

    @Bean
    public JwtEncoder jwtEncoder() {
        return new NimbusJwtEncoder(new ImmutableSecret<>(SIGNING_KEY));
    }
}""", k=k), [k]


def c_csharp_salt():
    s = b64e(rbytes(16))
    return 'private static readonly byte[] Salt = Convert.FromBase64String("%s");' % s, [s]


def c_go_enc_key():
    k = rs(32, ALNUM)
    return 'var encryptionKey = "%s" // AES-256\n\nfunc newCipher() (cipher.AEAD, error) {\n\tblock, err := aes.NewCipher([]byte(encryptionKey))' % k, [k]


def c_ruby_secret_key_base():
    k = hx(128)
    return "Rails.application.configure do\n  config.secret_key_base = \"%s\"\nend" % k, [k]


def c_ts_diff():
    s = hx(64)
    return fill("""diff --git a/src/config.ts b/src/config.ts
@@ -3,6 +3,7 @@ export const config = {
   port: Number(process.env.PORT ?? 3000),
+  jwtSecret: "@@s@@",
   corsOrigins: ["https://app.@@o@@.io"],""", s=s, o=pick(ORGS)), [s]


def c_py_diff_whsec():
    w = "whsec_" + rs(32, B64)
    return "+STRIPE_WEBHOOK_SECRET = \"%s\"\n+STRIPE_API_VERSION = \"2024-06-20\"" % w, [w]


def c_spring_value_default():
    d = hx(64)
    return ('@Value("${jwt.secret:%s}")\nprivate String jwtSecret;' % d), [d]


def c_csharp_apikey():
    k = rs(32, ALNUM)
    return fill("""public static class PartnerSettings
{
    public const string BaseUrl = "https://api.partner.example/";
    public const string ApiKey = "@@k@@";
}""", k=k), [k]


def c_rust_pepper():
    p = b64e(rbytes(24))
    return 'const PASSWORD_PEPPER: &str = "%s";\n\nfn peppered(pw: &str) -> String { format!("{pw}{PASSWORD_PEPPER}") }' % p, [p]


def c_py_module_token():
    t = rs(40, B64URL)
    return '"""Internal metrics pusher."""\nPUSHGATEWAY_URL = "https://push.metrics.internal"\nPUSH_TOKEN = "%s"\nJOB = "nightly-etl"' % t, [t]


CODE_CONSTANTS = [c_rust_hex, c_rust_str, c_go_jwt_var, c_go_const, c_ts_export, c_django_key, c_py_salt,
                  c_java_static, c_csharp_const, c_ruby_token, c_rust_bytes, c_ts_fallback, c_py_fromhex, c_java_b64,
                  c_csharp_salt, c_go_enc_key, c_ruby_secret_key_base, c_ts_diff, c_py_diff_whsec,
                  c_spring_value_default, c_csharp_apikey, c_rust_pepper, c_py_module_token]


# ================================================================ SECRET: common_vendor
def cv_ghp_echo():
    t = ghp()
    return "$ echo $GITHUB_TOKEN\n%s\n$ gh api user --jq .login\n%s" % (t, pick(USERS)), [t]


def cv_gh_pat_envrc():
    t = gh_pat()
    return "# .envrc\nexport GITHUB_TOKEN=%s\nexport GOPRIVATE=github.com/%s/*" % (t, pick(ORGS)), [t]


def cv_glpat_header():
    t = glpat()
    return ('curl --header "PRIVATE-TOKEN: %s" "https://gitlab.com/api/v4/projects/%d/pipelines?status=failed"'
            % (t, rint(1000000, 60000000))), [t]


def cv_xoxb_code():
    t = xoxb()
    return fill("""const { App } = require("@slack/bolt");

const app = new App({
  token: "@@t@@",
  signingSecret: process.env.SLACK_SIGNING_SECRET,
});""", t=t), [t]


def cv_xoxp_curl():
    t = xoxp()
    return "curl -s -H 'Authorization: Bearer %s' https://slack.com/api/conversations.list?limit=200 | jq '.channels[].name'" % t, [t]


def cv_openai_export():
    k = openai_key()
    return "export OPENAI_API_KEY=%s\npython scripts/eval.py --model gpt-4.1 --n 200" % k, [k]


def cv_anthropic_env():
    k = anthropic_key()
    return fill("""$ env | grep -i anthropic
ANTHROPIC_API_KEY=@@k@@
ANTHROPIC_BASE_URL=https://api.anthropic.com""", k=k), [k]


def cv_stripe_curl():
    k = stripe("sk_live_")
    return ("curl https://api.stripe.com/v1/charges?limit=3 \\\n  -u %s: \\\n  -G" % k), [k]


def cv_rk_live():
    k = stripe("rk_live_")
    return "STRIPE_RESTRICTED_KEY=%s  # read-only, used by the reporting job" % k, [k]


def cv_aws_env():
    i, s = aws_id(), aws_secret()
    return fill("""$ printenv | grep ^AWS_
AWS_DEFAULT_REGION=@@r@@
AWS_ACCESS_KEY_ID=@@i@@
AWS_SECRET_ACCESS_KEY=@@s@@""", r=pick(REGIONS), i=i, s=s), [i, s]


def cv_sendgrid_py():
    k = sendgrid()
    return fill("""sg = SendGridAPIClient("@@k@@")
message = Mail(from_email="noreply@@@o@@.io", to_emails=user.email,
               subject="Reset your password", html_content=render("reset.html", link=link))
sg.send(message)""", k=k, o=pick(ORGS)), [k]


def cv_twilio_env():
    sid, tok = "AC" + hx(32), hx(32)
    return "TWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\nTWILIO_FROM=+15017122661" % (sid, tok), [tok]


def cv_mailgun():
    k = mailgun()
    return ("$ curl -s --user 'api:%s' https://api.mailgun.net/v3/mg.%s.io/messages -F from='ops@%s.io' "
            "-F to=oncall@%s.io -F subject='disk 91%%' -F text='check db-2'" % (k, pick(ORGS), "acme", "acme")), [k]


def cv_rsa_pem():
    k = rsa_pem()
    return "$ cat deploy/id_rsa\n%s\n$ chmod 600 deploy/id_rsa" % k, [k]


def cv_ec_pem_k8s():
    k = ec_pem()
    ind = "\n".join("    " + line for line in k.split("\n"))
    return fill("""apiVersion: v1
kind: Secret
metadata:
  name: @@s@@-tls
type: kubernetes.io/tls
stringData:
  tls.key: |
@@k@@
  tls.crt: |
    -----BEGIN CERTIFICATE-----
    MIIBszCCAVmgAwIBAgIUY2VydC1wbGFjZWhvbGRlcjAKBggqhkjOPQQDAjAWMRQw
    -----END CERTIFICATE-----""", s=pick(SERVICES), k=ind), [ind.strip()]


def cv_openssh():
    k = openssh_pem()
    return "I think this deploy key is the wrong format, ssh says 'invalid format':\n\n" + k + "\n", [k]


def cv_jwt_curl_v():
    t = jwt({"scope": "orders:write", "aud": "https://api.%s.io" % pick(ORGS)}, 342)
    return fill("""$ curl -v https://api.@@o@@.io/v1/orders/@@n@@
> GET /v1/orders/@@n@@ HTTP/2
> Host: api.@@o@@.io
> user-agent: curl/8.5.0
> authorization: Bearer @@t@@
>
< HTTP/2 404
< content-type: application/json
{"error":"not_found"}""", o=pick(ORGS), n=str(rint(10000, 99999)), t=t), [t]


def cv_pgpassword():
    pw = password(a=ALNUM + "-_.")
    return "PGPASSWORD=%s psql -h %s -U %s -d reporting -c 'select now()'" % (pw, pick(DBHOSTS), pick(USERS)), [pw]


def cv_export_api_key():
    k = rs(40, ALNUM)
    return "export API_KEY=%s\n./bin/import --source s3://%s-raw/2026/ --dry-run" % (k, pick(ORGS)), [k]


def cv_npmrc_plain():
    t = npm_tok()
    return "$ cat ~/.npmrc\n//registry.npmjs.org/:_authToken=%s\n" % t, [t]


def cv_shopify():
    t = shpat()
    return ('$ curl -s -H "X-Shopify-Access-Token: %s" https://%s.myshopify.com/admin/api/2024-10/orders.json?limit=1'
            % (t, pick(ORGS))), [t]


def cv_dockerhub():
    t = dckr()
    return "echo %s | docker login -u %s --password-stdin\nLogin Succeeded" % (t, pick(USERS)), [t]


def cv_pkcs8_tfstate():
    k = pkcs8_pem()
    return fill("""$ terraform output -raw signing_private_key
@@k@@
$ # oops, that should have been marked sensitive""", k=k), [k]


COMMON_VENDOR = [cv_ghp_echo, cv_gh_pat_envrc, cv_glpat_header, cv_xoxb_code, cv_xoxp_curl, cv_openai_export,
                 cv_anthropic_env, cv_stripe_curl, cv_rk_live, cv_aws_env, cv_sendgrid_py, cv_twilio_env, cv_mailgun,
                 cv_rsa_pem, cv_ec_pem_k8s, cv_openssh, cv_jwt_curl_v, cv_pgpassword, cv_export_api_key,
                 cv_npmrc_plain, cv_shopify, cv_dockerhub, cv_pkcs8_tfstate]


# ================================================================ assembly
CLEAN = [("doc_example", DOC_EXAMPLE, 27), ("encrypted_or_reference", ENCRYPTED_OR_REFERENCE, 27),
         ("option_docs", OPTION_DOCS, 27), ("secret_word_identifiers", SECRET_WORD_IDENTIFIERS, 27),
         ("infra_ids", INFRA_IDS, 26), ("plain_session", PLAIN_SESSION, 26)]
SECRET = [("json_escaped", JSON_ESCAPED, 24), ("key_pairs", KEY_PAIRS, 24), ("provider_near_value", PROVIDER_NEAR_VALUE, 23),
          ("url_keys", URL_KEYS, 23), ("code_constants", CODE_CONSTANTS, 23), ("common_vendor", COMMON_VENDOR, 23)]


def schedule(fns, n):
    order = []
    while len(order) < n:
        batch = list(fns)
        R.shuffle(batch)
        order.extend(batch)
    return order[:n]


def build():
    cases, seen = [], set()
    for fam, fns, n in CLEAN:
        for fn in schedule(fns, n):
            for _ in range(20):
                text = fn()
                if text not in seen:
                    break
            assert text not in seen, (fam, fn.__name__)
            seen.add(text)
            cases.append({"type": fam, "expect": "clean", "text": text, "secrets": []})
    for fam, fns, n in SECRET:
        for fn in schedule(fns, n):
            for _ in range(20):
                text, secrets = fn()
                if text not in seen:
                    break
            assert text not in seen, (fam, fn.__name__)
            seen.add(text)
            for s in secrets:
                assert s and s in text, (fam, fn.__name__, s)
            assert len(set(secrets)) == len(secrets), (fam, fn.__name__)
            cases.append({"type": fam, "expect": "secret", "text": text, "secrets": secrets})
    R.shuffle(cases)
    out = []
    for i, c in enumerate(cases, 1):
        out.append({"id": "tu-%04d" % i, "type": c["type"], "expect": c["expect"], "text": c["text"],
                    "secrets": c["secrets"]})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "session_tuning.jsonl")
    cases = build()
    with open(path, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print("wrote %d cases to %s" % (len(cases), path))


if __name__ == "__main__":
    main()
