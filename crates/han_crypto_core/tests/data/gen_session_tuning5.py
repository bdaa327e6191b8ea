#!/usr/bin/env python3
"""Generate session_tuning5.jsonl: a fifth tuning set for the secret-redaction engine.

Each line: {"id": "t5-NNNN", "family", "expect": "secret"|"clean", "text", "secrets": [...]}.

How this was written (blind).  The templates below were written from general knowledge of
what AI coding-session text looks like: CLI --help output and man pages, config files with
their comments, infrastructure tool output (terraform, kubectl, cloud CLIs, docker, git),
lock files and checksums, compiler and test output, code in many languages, chat prose and
agent-harness JSON logs.  The author read docs/REDACTION.md only for the list of families
the engine handles, and gen_session_tuning4.py for the JSONL format and labelling
conventions (skimming the names of gen_session_tuning.py/2/3's templates only to avoid
repeating their templates, vendors and phrasings).  The author did NOT open the held-out
set (session_heldout.jsonl / gen_session_heldout.py), did NOT read any of the engine's Rust
source, and did NOT run the engine, cargo or any build on this output, so no template was
shaped to the engine's rules or tuned against its findings.

This set leans towards precision: about 60% of the cases are clean, and the clean families
are built from text that is full of secret words and key-looking strings that hold nothing
secret (help text, ids, digests, identifiers, published examples, references, ciphertexts).

Families: secret -- command_lines, config_files, labelled_values, code_keys, http_auth,
json_escaped; clean -- option_docs, infra_ids, identifiers, doc_example, references,
plain_session.

Secrets.  Every secret is drawn from a seeded PRNG (SEED below) using the alphabet, length
and prefix of the format it imitates; none of them is, or ever was, a real credential.
Labelling conventions (as in gen_session_tuning4.py):
  * pairs: only the secret half is listed -- except AWS (AKIA/ASIA) access key ids, which
    are listed too.  User names, OAuth client ids, key ids, account SIDs, app ids, public
    keys and host names are never listed.
  * user:password (URLs, curl -u, .netrc, .pgpass, connection strings): the password is
    listed; an HTTP Basic value or a docker config `auth` value is listed as the whole
    base64 string (it holds the password).
  * PEM private keys and kubeconfig client-key-data: the base64 body is listed as it
    occurs (between the BEGIN and END lines, or the whole -data value).
  * byte-array key constants: the whole list of byte literals between the braces.
  * JWK private keys: the private member ("d") is listed; "x"/"y"/"kid" are public.
  * JSON-escaped text: secrets are listed exactly as they occur (escaped once or twice).
  * IVs, nonces, salts printed by tools, and key fingerprints are not secrets.
A secret case only requires that every listed secret disappears; other redactions in it
are not counted.  A clean case counts as a false positive if anything in it changes.

Clean cases.  Values in clean cases are ids, hashes, digests, metavariables, placeholders,
ciphertexts, secret-store references, public keys and certificates, or values published in
vendor documentation (the AWS ...EXAMPLE keys).  When in doubt whether something is a
secret, the case was left out.

Each family has more templates than cases; each template is used at most once (MUST
templates -- the shapes the brief names explicitly -- always, the rest drawn with the fixed
seed), and each template draws names, hosts, values and some of its ordering and formatting
from the PRNG.

Run (from this folder):  python3 gen_session_tuning5.py > session_tuning5.jsonl
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

SEED = 20261219
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
PWCH = ALNUM + "!#%*-_.+@^~"
WORDS = ["anchor", "bramble", "cobalt", "dune", "fjord", "garnet", "heron", "indigo", "kestrel", "lichen", "marlin",
         "nectar", "opal", "prairie", "quill", "russet", "sorrel", "tamarind", "umber", "vesper", "willow", "yarrow"]


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
    need_digits = 2 if n >= 8 else 1
    while True:
        s = rs(n, HEX)
        if n < 2 or (any(c in "abcdef" for c in s) and sum(c in DG for c in s) >= need_digits):
            return s


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
    return "%d-%02d-%02d" % (y, rint(1, 11), rint(1, 28))


def hms():
    return "%02d:%02d:%02d" % (rint(0, 23), rint(0, 59), rint(0, 59))


def ts():
    return "%sT%s.%03dZ" % (date(), hms(), rint(0, 999))


def ts_seq(n, sep="T", z="Z"):
    d = date()
    t = rint(0, 20 * 3600)
    out = []
    for _ in range(n):
        t += rint(0, 90)
        out.append("%s%s%02d:%02d:%02d.%03d%s" % (d, sep, t // 3600, t // 60 % 60, t % 60, rint(0, 999), z))
    return out


def epoch():
    return rint(1764000000, 1795000000)


def acct():
    return str(rint(100000000000, 999999999999))


def ver():
    return "%d.%d.%d" % (rint(1, 9), rint(0, 40), rint(0, 12))


def short_sha():
    return hx(7)


def git_sha():
    return hx(40)


def sha256_of(x):
    return hashlib.sha256(x if isinstance(x, bytes) else x.encode()).hexdigest()


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-north-1", "eu-central-1", "ap-south-1", "ap-southeast-2",
           "sa-east-1", "ca-central-1"]
SERVICES = ["payments", "search-indexer", "mailer", "avatar-resizer", "reporting", "webhooks", "scheduler",
            "tenant-api", "ingest", "pricing"]
USERS = ["alba", "deployer", "tomasz", "ci-bot", "svc_etl", "ines", "haruto", "sre", "app_user", "reader"]
ORGS = ["kelpworks", "bluefinch", "oakridge-labs", "quarry", "mistral-bay", "northwind-io", "pinecrest", "tallgrass"]
REPOS = ["monorepo", "dashboard", "infra", "android", "data-pipelines", "checkout", "devtools", "backend"]
NAMES = ["Alba Moreno", "Tomasz Nowak", "Ines Duarte", "Haruto Mori", "Zanele Dube", "Elif Yilmaz", "Rohan Mehta"]
BUCKETS = ["invoices-archive", "user-uploads", "build-cache", "clickstream", "backups-nightly", "static-assets"]
HOSTS = ["db-primary.internal", "10.42.0.17", "pg.staging.corp", "postgres-0.postgres.data.svc", "172.16.8.40"]
DBS = ["orders", "analytics", "app_production", "billing", "inventory", "crm"]
TLDS = ["io", "dev", "net", "co", "cloud"]


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


# ---------------------------------------------------------------- secret shapes
def aws_id(p="AKIA"):
    return p + rs(16, B32)


def aws_secret(a=B64):
    return mixed(40, a)


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


def passphrase(k=5, sep=" "):
    return sep.join(R.sample(WORDS, k))


def jwt(claims=None, alg="HS256", kid=None):
    h = {"alg": alg, "typ": "JWT"}
    if kid:
        h["kid"] = kid
    hh = b64u(json.dumps(h, separators=(",", ":")).encode())
    now = epoch()
    c = {"iat": now, "exp": now + pick([900, 3600, 86400, 604800])}
    if claims:
        c.update(claims)
    p = b64u(json.dumps(c, separators=(",", ":")).encode())
    return hh + "." + p + "." + rs(43 if alg.startswith("HS") else 342, B64URL)


def pem_block(label, der, width=64):
    return "-----BEGIN %s-----\n%s\n-----END %s-----" % (label, wrap(b64e(der), width), label)


def pem_body(pem):
    lines = pem.split("\n")
    return "\n".join(lines[1:-1])


def rsa_pem():
    return pem_block("RSA PRIVATE KEY", bytes.fromhex("308204a40201000282010100") + rbytes(1180))


def pkcs8_pem():
    pre = bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8308204a40201000282010100")
    return pem_block("PRIVATE KEY", pre + rbytes(1168))


def ec_pem():
    der = (bytes.fromhex("30770201010420") + rbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a14403420004")
           + rbytes(64))
    return pem_block("EC PRIVATE KEY", der)


def ed25519_pkcs8_pem():
    return pem_block("PRIVATE KEY", bytes.fromhex("302e020100300506032b657004220420") + rbytes(32))


def ghp():
    return "ghp_" + mixed(36)


def github_pat():
    return "github_pat_11" + mixed(20, UPAL) + "_" + mixed(59)


def glpat():
    return "glpat-" + mixed(20, ALNUM + "-_")


def slack_bot():
    return "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 12, 10 ** 13), mixed(24))


def stripe_live(p="sk_live_"):
    return p + "51" + mixed(22) + mixed(75)


def okta_ssws():
    return "00" + mixed(40, ALNUM + "-_")


def app_password():
    return " ".join(rs(4, LO) for _ in range(4))


def basic(u, p):
    return b64e(("%s:%s" % (u, p)).encode())


def k8s_sa_token():
    return jwt({"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": pick(["ci", "deploy"]),
                "sub": "system:serviceaccount:ci:" + pick(["builder", "argocd-manager", "gitlab-runner"])},
               alg="RS256", kid=b64u(rbytes(32)))


def wg_key():
    return b64e(rbytes(32))


def npm_token():
    return "npm_" + mixed(36)


def hf_token():
    return "hf_" + mixed(34, UP + LO)


def dd_api_key():
    return hx(32)


def sendgrid():
    return "SG." + mixed(22, B64URL) + "." + mixed(43, B64URL)


def twilio_token():
    return hx(32)


def atlassian_token():
    return "ATATT3xFfGF0" + mixed(170, B64URL) + "=" + hx(8).upper()


def pypi_token():
    return "pypi-AgEIcHlwaS5vcmcCJ" + mixed(rint(130, 160), B64URL)


def docker_pat():
    return "dckr_pat_" + mixed(27, B64URL)


def vault_token():
    return "hvs.CAESI" + mixed(rint(80, 95), B64URL)


def tfc_token():
    return mixed(14) + ".atlasv1." + mixed(67)


# ================================================================ SECRET: command_lines
def prompt():
    return pick(["$ ", "% ", "❯ ", "%s@%s:~/%s$ " % (user(), pick(["devbox", "bastion", "mbp"]), pick(REPOS))])


def m_pgpassword_psql():
    pw = shellpw(18)
    h, u, d = host(), user(), db()
    return fill("""@@p@@PGPASSWORD='@@pw@@' psql -h @@h@@ -U @@u@@ -d @@d@@ -c '\\dt public.*'
               List of relations
 Schema |        Name         | Type  | Owner
--------+---------------------+-------+-------
 public | accounts            | table | @@u@@
 public | schema_migrations   | table | @@u@@
 public | webhook_deliveries  | table | @@u@@
(3 rows)""", p=prompt(), pw=pw, h=h, u=u, d=d), [pw]


def m_mysql_inline_p():
    pw = shellpw(16)
    return fill("""@@p@@mysql -h @@h@@ -u root -p'@@pw@@' -e "SHOW DATABASES;"
mysql: [Warning] Using a password on the command line interface can be insecure.
+--------------------+
| Database           |
+--------------------+
| information_schema |
| @@d@@               |
| mysql              |
| performance_schema |
+--------------------+""", p=prompt(), h=host(), pw=pw, d=db()), [pw]


def m_redis_cli_a():
    pw = mixed(32)
    return fill("""@@p@@redis-cli -h redis-@@n@@.@@o@@.internal -p 6380 --tls -a '@@pw@@' --no-auth-warning INFO keyspace
# Keyspace
db0:keys=@@k@@,expires=@@e@@,avg_ttl=@@t@@
db3:keys=118,expires=0,avg_ttl=0""", p=prompt(), n=rint(1, 3), o=org(), pw=pw, k=rint(10000, 99999),
                e=rint(100, 9000), t=rint(10000, 900000)), [pw]


def m_mongosh_flags():
    pw = shellpw(20)
    return fill("""@@p@@mongosh --host @@h@@ --port 27017 --username @@u@@ --password '@@pw@@' --authenticationDatabase admin --quiet --eval 'db.getSiblingDB("@@d@@").stats().collections'
@@n@@""", p=prompt(), h=pick(["mongo-0.mongo.svc", "10.0.3.21", "docdb.internal"]), u=user(), pw=pw, d=db(),
                n=rint(4, 60)), [pw]


def m_sqlcmd_P():
    pw = password(18, ALNUM + "!#%*-_")
    return fill("""PS C:\\src\\@@r@@> sqlcmd -S tcp:@@o@@-sql.database.windows.net,1433 -d @@d@@ -U sqladmin -P "@@pw@@" -Q "SELECT name, create_date FROM sys.tables ORDER BY create_date DESC" -W
name create_date
---- -----------
Outbox 2026-03-02 11:41:09.517
Tenants 2025-12-19 08:02:44.130

(2 rows affected)""", r=pick(REPOS), o=org(), d=db(), pw=pw), [pw]


def m_docker_login_p():
    pw = shellpw(24)
    reg = pick(["registry.%s.io" % org(), "harbor.%s.net" % org(), "%s.azurecr.io" % org().replace("-", "")])
    return fill("""@@p@@docker login @@reg@@ -u @@u@@ -p '@@pw@@'
WARNING! Using --password via the CLI is insecure. Use --password-stdin.
WARNING! Your password will be stored unencrypted in /home/@@u@@/.docker/config.json.
Configure a credential helper to remove this warning. See
https://docs.docker.com/engine/reference/commandline/login/#credential-stores

Login Succeeded""", p=prompt(), reg=reg, u=pick(["robot$ci", "deployer", "pusher"]), pw=pw), [pw]


def m_htpasswd_b():
    pw = shellpw(16)
    return fill("""@@p@@sudo htpasswd -bB /etc/nginx/.htpasswd @@u@@ '@@pw@@'
Adding password for user @@u@@
@@p@@sudo nginx -t && sudo systemctl reload nginx
nginx: the configuration file /etc/nginx/nginx.conf syntax is ok
nginx: configuration file /etc/nginx/nginx.conf test is successful""", p=prompt(), u=pick(["grafana", "metrics", "staff"]),
                pw=pw), [pw]


def m_openssl_enc_pass():
    pw = shellpw(22)
    f = pick(["dump-%s.sql.gz" % date(), "secrets.tar", "export.csv"])
    return fill("""@@p@@openssl enc -aes-256-cbc -pbkdf2 -iter 200000 -salt -in @@f@@ -out @@f@@.enc -pass 'pass:@@pw@@'
@@p@@ls -l @@f@@*
-rw-r--r-- 1 @@u@@ @@u@@ @@n@@ @@f@@
-rw-r--r-- 1 @@u@@ @@u@@ @@m@@ @@f@@.enc""", p=prompt(), f=f, pw=pw, u=user(), n=rint(10 ** 5, 10 ** 7),
                m=rint(10 ** 5, 10 ** 7)), [pw]


def m_sshpass():
    pw = shellpw(14)
    return fill("""for h in web-01 web-02 web-03; do
  sshpass -p '@@pw@@' ssh -o StrictHostKeyChecking=no @@u@@@$h 'uptime; df -h / | tail -1'
done
 10:14:02 up 41 days,  2:11,  0 users,  load average: 0.22, 0.31, 0.28
/dev/sda1        79G   31G   45G  41% /""", pw=pw, u=pick(["admin", "ubuntu", "ops"])), [pw]


def m_vault_token_export():
    t = vault_token()
    return fill("""@@p@@export VAULT_ADDR=https://vault.@@o@@.internal:8200
@@p@@export VAULT_TOKEN=@@t@@
@@p@@vault kv get -mount=secret -field=version apps/@@s@@
@@v@@""", p=prompt(), o=org(), t=t, s=svc(), v=rint(2, 30)), [t]


def m_helm_repo_add_password():
    pw = shellpw(20)
    return fill("""@@p@@helm repo add @@o@@-charts https://charts.@@o@@.io/stable --username ci --password '@@pw@@'
"@@o@@-charts" has been added to your repositories
@@p@@helm search repo @@o@@-charts/ --versions | head -3
NAME                       	CHART VERSION	APP VERSION	DESCRIPTION
@@o@@-charts/@@s@@        	@@v@@        	@@v@@      	@@s@@ service""", p=prompt(), o=org(), pw=pw, s=svc(), v=ver()), [pw]


def m_restic_env_inline():
    pw = passphrase(4, "-") + "-" + str(rint(10, 99))
    return fill("""@@p@@RESTIC_PASSWORD='@@pw@@' restic -r s3:s3.@@r@@.amazonaws.com/@@b@@ snapshots --latest 2
repository @@rid@@ opened (version 2, compression level auto)
ID        Time                 Host        Tags        Paths
-----------------------------------------------------------------
@@s1@@  @@d@@ 02:00:11  @@h@@              /srv/data
@@s2@@  @@d@@ 14:00:09  @@h@@              /srv/data
-----------------------------------------------------------------
2 snapshots""", p=prompt(), pw=pw, r=pick(REGIONS), b=pick(BUCKETS), rid=hx(8), s1=hx(8), s2=hx(8), d=date(),
                h=pick(["nas01", "app-3", "db-backup"])), [pw]


def m_borg_passphrase():
    pw = mixed(28, ALNUM + "-_")
    return fill("""#!/bin/sh
# /etc/cron.daily/borg-home
export BORG_REPO=ssh://borg@backup.@@o@@.lan:2222/./home
export BORG_PASSPHRASE='@@pw@@'
borg create --stats --compression zstd,6 ::'{hostname}-{now}' /home --exclude '/home/*/.cache'
borg prune --keep-daily 7 --keep-weekly 4 --keep-monthly 6""", o=org(), pw=pw), [pw]


def m_gpg_passphrase_batch():
    pw = passphrase(5, " ")
    return fill("""@@p@@gpg --batch --yes --pinentry-mode loopback --passphrase '@@pw@@' -d release-keys.tar.gpg | tar -x
gpg: AES256.CFB encrypted data
gpg: encrypted with 1 passphrase""", p=prompt(), pw=pw), [pw]


def m_az_login_sp():
    sec = mixed(3) + "8Q~" + mixed(34, ALNUM + "~._-")
    return fill("""@@p@@az login --service-principal -u @@app@@ -p '@@sec@@' --tenant @@ten@@
[
  {
    "cloudName": "AzureCloud",
    "homeTenantId": "@@ten@@",
    "id": "@@sub@@",
    "isDefault": true,
    "name": "@@o@@-prod",
    "state": "Enabled",
    "tenantId": "@@ten@@",
    "user": {
      "name": "@@app@@",
      "type": "servicePrincipal"
    }
  }
]""", p=prompt(), app=uid(), sec=sec, ten=uid(), sub=uid(), o=org()), [sec]


def m_npm_config_set_token():
    t = npm_token()
    return fill("""@@p@@npm config set //registry.npmjs.org/:_authToken=@@t@@
@@p@@npm whoami
@@u@@
@@p@@npm publish --access public
npm notice 📦  @@@o@@/@@s@@@@@v@@""", p=prompt(), t=t, u=pick(["ci-publisher", user()]), o=org(), s=svc(), v=ver()), [t]


def m_kubectl_from_literal():
    pw = shellpw(24)
    return fill("""@@p@@kubectl -n @@ns@@ create secret generic @@s@@-db --from-literal=username=@@u@@ --from-literal=password='@@pw@@'
secret/@@s@@-db created
@@p@@kubectl -n @@ns@@ rollout restart deploy/@@s@@
deployment.apps/@@s@@ restarted""", p=prompt(), ns=pick(["prod", "staging", "apps"]), s=svc(), u=user(), pw=pw), [pw]


def m_terraform_var_flag():
    pw = shellpw(20)
    return fill("""@@p@@terraform apply -var 'environment=staging' -var 'db_master_password=@@pw@@' -target=module.rds
module.rds.aws_db_instance.this: Refreshing state... [id=@@s@@-staging]

Terraform will perform the following actions:

  # module.rds.aws_db_instance.this will be updated in-place
  ~ resource "aws_db_instance" "this" {
        id       = "@@s@@-staging"
      ~ password = (sensitive value)
        # (47 unchanged attributes hidden)
    }

Plan: 0 to add, 1 to change, 0 to destroy.""", p=prompt(), pw=pw, s=svc()), [pw]


def m_ansible_extra_vars():
    pw = shellpw(16)
    return fill("""@@p@@ansible-playbook -i inventories/win.ini patch.yml -e "ansible_user=Administrator ansible_password=@@pw@@ ansible_connection=winrm ansible_winrm_transport=ntlm"

PLAY [windows] *****************************************************************

TASK [Gathering Facts] *********************************************************
ok: [ws-@@n@@.corp.@@o@@.net]""", p=prompt(), pw=pw, n=rint(10, 99), o=org()), [pw]


def m_lftp_mirror():
    pw = shellpw(15)
    return fill("""@@p@@lftp -u @@u@@,'@@pw@@' sftp://files.@@o@@.net -e "mirror -R --delete --verbose dist/ /var/www/site; bye"
Transferring file `index.html'
Transferring file `assets/app.@@h@@.js'
Removing old file `assets/app.@@h2@@.js'
Total: 3 directories, 41 files, 0 symlinks
New: 2 files, 0 symlinks
Modified: 1 file, 0 symlinks""", p=prompt(), u=pick(["webdeploy", "site"]), pw=pw, o=org(), h=hx(8), h2=hx(8)), [pw]


def m_smbclient_U():
    pw = shellpw(14)
    return fill("""@@p@@smbclient //fs01.corp.@@o@@.net/finance -U 'CORP\\@@u@@%@@pw@@' -c 'ls reports/2026/*'
  Q1-close.xlsx                       A   184320  Tue Apr  7 09:12:33 2026
  Q2-forecast.xlsx                    A    99117  Mon Jun 29 16:40:02 2026

		51200 blocks of size 1048576. 20315 blocks available""", p=prompt(), o=org(), u=user(), pw=pw), [pw]


def m_ldapsearch_w():
    pw = shellpw(18)
    o = org()
    return fill("""@@p@@ldapsearch -LLL -H ldaps://ldap.@@o@@.net -D "cn=svc-lookup,ou=service,dc=@@dc@@,dc=net" -w '@@pw@@' -b "ou=people,dc=@@dc@@,dc=net" "(uid=@@u@@)" mail memberOf
dn: uid=@@u@@,ou=people,dc=@@dc@@,dc=net
mail: @@u@@@@@o@@.net
memberOf: cn=engineering,ou=groups,dc=@@dc@@,dc=net""", p=prompt(), o=o, dc=o.split("-")[0], pw=pw, u=pick(["alba", "tomasz", "ines"])), [pw]


def m_mosquitto_pub_P():
    pw = mixed(20)
    return fill("""@@p@@mosquitto_pub -h mqtt.@@o@@.io -p 8883 --capath /etc/ssl/certs -u sensor-@@n@@ -P '@@pw@@' -t 'site/@@n@@/telemetry' -m '{"t":21.4,"rh":48}' -d
Client null sending CONNECT
Client null received CONNACK (0)
Client null sending PUBLISH (d0, q0, r0, m1, 'site/@@n@@/telemetry', ... (20 bytes))
Client null sending DISCONNECT""", p=prompt(), o=org(), n=rint(100, 999), pw=pw), [pw]


def m_xfreerdp():
    pw = password(16, ALNUM + "!#%*-_")
    return fill("""@@p@@xfreerdp /v:jump-@@n@@.@@o@@.net /u:@@u@@ /d:CORP /p:'@@pw@@' /cert:ignore /dynamic-resolution +clipboard
[10:41:12:340] [31233:31234] [INFO][com.freerdp.client.x11] - Network connectivity detected: LAN
[10:41:12:812] [31233:31234] [INFO][com.freerdp.core.gateway.rpc] - Connected""", p=prompt(), n=rint(1, 9), o=org(),
                u=pick(["Administrator", "ops.admin"]), pw=pw), [pw]


def m_pg_dump_keyword_dsn():
    pw = urlpw(20)
    return fill("""@@p@@pg_dump "host=@@h@@ port=5432 dbname=@@d@@ user=@@u@@ password=@@pw@@ sslmode=require" -Fc -f /tmp/@@d@@-@@dt@@.dump
@@p@@ls -lh /tmp/@@d@@-@@dt@@.dump
-rw-r--r-- 1 @@me@@ staff 1.4G @@dt@@ 03:12 /tmp/@@d@@-@@dt@@.dump""", p=prompt(), h=host(), d=db(), u=user(), pw=pw,
                dt=date(), me=user()), [pw]


def m_rabbitmqctl_add_user():
    pw = mixed(24)
    u = svc()
    return fill("""root@rabbit-0:/# rabbitmqctl add_user @@u@@ '@@pw@@'
Adding user "@@u@@" ...
Done. Don't forget to grant the user permissions to some virtual hosts! See 'rabbitmqctl help set_permissions' to learn more.
root@rabbit-0:/# rabbitmqctl set_permissions -p /@@o@@ @@u@@ ".*" ".*" ".*"
Setting permissions for user "@@u@@" in vhost "/@@o@@" ...""", u=u, pw=pw, o=org()), [pw]


def m_psql_alter_user():
    pw = urlpw(22)
    return fill("""@@p@@psql -h @@h@@ -U postgres -c "ALTER ROLE @@u@@ WITH LOGIN PASSWORD '@@pw@@' VALID UNTIL '2027-01-01';"
ALTER ROLE""", p=prompt(), h=host(), u=pick(["app_rw", "grafana_ro", "debezium"]), pw=pw), [pw]


def m_git_clone_oauth2():
    t = glpat()
    return fill("""@@p@@git clone https://oauth2:@@t@@@gitlab.@@o@@.net/platform/@@r@@.git
Cloning into '@@r@@'...
remote: Enumerating objects: @@n@@, done.
remote: Total @@n@@ (delta 0), reused 0 (delta 0), pack-reused @@n@@
Receiving objects: 100% (@@n@@/@@n@@), 8.31 MiB | 12.40 MiB/s, done.""", p=prompt(), t=t, o=org(), r=pick(REPOS),
                n=rint(2000, 90000)), [t]


def m_gh_secret_set_body():
    t = npm_token()
    return fill("""@@p@@gh secret set NPM_TOKEN --repo @@o@@/@@r@@ --body "@@t@@"
✓ Set Actions secret NPM_TOKEN for @@o@@/@@r@@""", p=prompt(), o=org(), r=pick(REPOS), t=t), [t]


def m_fly_secrets_set():
    pw = urlpw(24)
    return fill("""@@p@@fly secrets set -a @@s@@ DATABASE_URL=postgres://@@s@@:@@pw@@@@@s@@-db.flycast:5432/@@s@@?sslmode=disable
Updating existing machines in '@@s@@' with rolling strategy
-------
 ✔ [1/2] Machine @@m1@@ [app] update succeeded
 ✔ [2/2] Machine @@m2@@ [app] update succeeded
-------""", p=prompt(), s=svc(), pw=pw, m1=hx(14), m2=hx(14)), [pw]


def m_rclone_s3_flags():
    i, s = aws_id(), aws_secret()
    return fill("""@@p@@rclone lsd :s3: --s3-provider AWS --s3-region @@r@@ --s3-access-key-id @@i@@ --s3-secret-access-key @@s@@
          -1 2024-09-12 08:14:55        -1 @@b1@@
          -1 2025-02-03 17:20:01        -1 @@b2@@""", p=prompt(), r=pick(REGIONS), i=i, s=s, b1=pick(BUCKETS),
                b2=org() + "-tfstate"), [i, s]


def m_keytool_storepass():
    sp, kp = shellpw(16), shellpw(16)
    return fill("""@@p@@keytool -genkeypair -v -keystore release.jks -alias upload -keyalg RSA -keysize 4096 -validity 10000 \\
    -storepass '@@sp@@' -keypass '@@kp@@' -dname "CN=@@n@@, O=@@o@@, C=DE"
Generating 4,096 bit RSA key pair and self-signed certificate (SHA384withRSA) with a validity of 10,000 days
	for: CN=@@n@@, O=@@o@@, C=DE
[Storing release.jks]""", p=prompt(), sp=sp, kp=kp, n=person(), o=org()), [sp, kp]


def m_7z_password():
    pw = shellpw(18)
    return fill("""@@p@@7z a -t7z -mhe=on -p'@@pw@@' handover-@@d@@.7z ./handover/
7-Zip [64] 17.05 : Copyright (c) 1999-2021 Igor Pavlov : 2017-08-28
Scanning the drive:
3 folders, 17 files, 4410223 bytes (4307 KiB)
Creating archive: handover-@@d@@.7z
Everything is Ok""", p=prompt(), pw=pw, d=date()), [pw]


def m_docker_run_env():
    pw = mixed(26)
    return fill("""@@p@@docker run -d --name pg16 -p 5432:5432 -e POSTGRES_USER=@@u@@ -e POSTGRES_PASSWORD=@@pw@@ -v pgdata:/var/lib/postgresql/data postgres:16.4
@@cid@@""", p=prompt(), u=user(), pw=pw, cid=hx(64)), [pw]


def m_cmdkey_windows():
    pw = password(16, ALNUM + "!#%*-_")
    return fill("""C:\\Users\\@@u@@> cmdkey /add:fs02.corp.@@o@@.net /user:CORP\\svc-backup /pass:@@pw@@

CMDKEY: Credential added successfully.

C:\\Users\\@@u@@> net use Z: \\\\fs02.corp.@@o@@.net\\backup /persistent:yes
The command completed successfully.""", u=user(), o=org(), pw=pw), [pw]


def m_curl_u_jenkins():
    t = hx(34)
    return fill("""@@p@@curl -s -X POST -u @@u@@:@@t@@ "https://jenkins.@@o@@.net/job/@@r@@/job/main/buildWithParameters?DEPLOY_ENV=staging" -w '%{http_code}\\n'
201""", p=prompt(), u=pick(["alba", "ci-trigger"]), t=t, o=org(), r=pick(REPOS)), [t]


def m_history_grep():
    pw = urlpw(18)
    t = dd_api_key()
    return fill("""@@p@@history | grep -E 'mysqldump|DD_API'
  @@n1@@  mysqldump -h @@h@@ -u backup -p@@pw@@ --single-transaction @@d@@ | gzip > @@d@@.sql.gz
  @@n2@@  DD_API_KEY=@@t@@ DD_SITE=datadoghq.eu bash -c "$(curl -L https://install.datadoghq.com/scripts/install_script_agent7.sh)"
  @@n3@@  history | grep -E 'mysqldump|DD_API'""", p=prompt(), n1=rint(100, 400), n2=rint(401, 800), n3=rint(801, 999),
                h=host(), pw=pw, d=db(), t=t), [pw, t]


def m_aws_configure_set():
    i, s = aws_id(), aws_secret()
    return fill("""@@p@@aws configure set aws_access_key_id @@i@@ --profile @@pr@@
@@p@@aws configure set aws_secret_access_key @@s@@ --profile @@pr@@
@@p@@aws sts get-caller-identity --profile @@pr@@ --query Arn --output text
arn:aws:iam::@@a@@:user/@@u@@""", p=prompt(), i=i, s=s, pr=pick(["legacy", "backup", "ci"]), a=acct(), u=user()), [i, s]


def m_zip_P():
    pw = shellpw(14)
    return fill("""@@p@@zip -r -P '@@pw@@' logs-@@d@@.zip /var/log/@@s@@/
  adding: var/log/@@s@@/ (stored 0%)
  adding: var/log/@@s@@/app.log (deflated 91%)
  adding: var/log/@@s@@/app.log.1 (deflated 90%)""", p=prompt(), pw=pw, d=date(), s=svc()), [pw]


COMMAND_LINES = [m_pgpassword_psql, m_mysql_inline_p, m_redis_cli_a, m_mongosh_flags, m_sqlcmd_P, m_docker_login_p,
                 m_htpasswd_b, m_openssl_enc_pass, m_sshpass, m_vault_token_export, m_helm_repo_add_password,
                 m_restic_env_inline, m_borg_passphrase, m_gpg_passphrase_batch, m_az_login_sp, m_npm_config_set_token,
                 m_kubectl_from_literal, m_terraform_var_flag, m_ansible_extra_vars, m_lftp_mirror, m_smbclient_U,
                 m_ldapsearch_w, m_mosquitto_pub_P, m_xfreerdp, m_pg_dump_keyword_dsn, m_rabbitmqctl_add_user,
                 m_psql_alter_user, m_git_clone_oauth2, m_gh_secret_set_body, m_fly_secrets_set, m_rclone_s3_flags,
                 m_keytool_storepass, m_7z_password, m_docker_run_env, m_cmdkey_windows, m_curl_u_jenkins,
                 m_history_grep, m_aws_configure_set, m_zip_P]


# ================================================================ SECRET: config_files
def f_netrc():
    t1 = hx(8) + "-" + hx(4) + "-" + hx(4) + "-" + hx(4) + "-" + hx(12)
    t2 = ghp()
    return fill("""$ cat ~/.netrc
machine api.heroku.com
  login @@e@@
  password @@t1@@
machine git.heroku.com
  login @@e@@
  password @@t1@@
machine github.com login @@gu@@ password @@t2@@""", e=email(), t1=t1, gu=pick(USERS).replace("_", "-"), t2=t2), [t1, t2]


def f_pgpass():
    pws = [urlpw(rint(16, 24)) for _ in range(3)]
    hs = R.sample(HOSTS, 3)
    return fill("""$ cat ~/.pgpass
# hostname:port:database:username:password
@@h0@@:5432:@@d0@@:@@u0@@:@@p0@@
@@h1@@:5432:*:replicator:@@p1@@
@@h2@@:6432:@@d2@@:@@u2@@:@@p2@@
$ chmod 600 ~/.pgpass""", h0=hs[0], h1=hs[1], h2=hs[2], d0=db(), d2=db(), u0=user(), u2=user(), p0=pws[0], p1=pws[1],
                p2=pws[2]), pws


def f_docker_config_auths():
    u, p = pick(["ci-pusher", "robot$builder", user()]), shellpw(24)
    a = basic(u, p)
    return fill("""$ cat ~/.docker/config.json
{
	"auths": {
		"ghcr.io": {},
		"registry.@@o@@.io": {
			"auth": "@@a@@"
		}
	},
	"credHelpers": {
		"@@acc@@.dkr.ecr.@@r@@.amazonaws.com": "ecr-login"
	},
	"credsStore": "desktop"
}""", o=org(), a=a, acc=acct(), r=pick(REGIONS)), [a]


def f_kubeconfig_token():
    t = k8s_sa_token()
    ca = b64e(b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(rbytes(600)) + b"\n-----END CERTIFICATE-----\n")
    return fill("""apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: @@ca@@
    server: https://@@ip@@:6443
  name: @@c@@
contexts:
- context:
    cluster: @@c@@
    namespace: ci
    user: ci-deployer
  name: ci@@@c@@
current-context: ci@@@c@@
users:
- name: ci-deployer
  user:
    token: @@t@@""", ca=ca, ip="10.%d.%d.%d" % (rint(0, 255), rint(0, 255), rint(1, 254)), c=pick(["k3s-lab", "prod-eu", "edge"]),
                t=t), [t]


def f_kubeconfig_client_key():
    cert = b64e(pem_block("CERTIFICATE", rbytes(480)).encode() + b"\n")
    key = b64e(ec_pem().encode() + b"\n")
    return fill("""users:
- name: kubernetes-admin
  user:
    client-certificate-data: @@cert@@
    client-key-data: @@key@@""", cert=cert, key=key), [key]


def f_redis_conf_real():
    pw = mixed(40)
    return fill("""################################## SECURITY ###################################

# IMPORTANT NOTE: starting with Redis 6 "requirepass" is just a compatibility
# layer on top of the new ACL system. The option effect will be just setting
# the password for the default user.
#
# requirepass foobared
requirepass @@pw@@

# masterauth <master-password>
masterauth @@pw@@""", pw=pw), [pw]


def f_my_cnf_client():
    pw = password(18, ALNUM + "#%*-_.+")
    return fill("""# ~/.my.cnf -- read by mysql, mysqldump and mysqladmin
[client]
user=@@u@@
password="@@pw@@"
host=@@h@@
default-character-set=utf8mb4

[mysqldump]
single-transaction
quick""", u=pick(["backup", "root", "dba"]), pw=pw, h=host()), [pw]


def f_pgbouncer_userlist():
    p1, p2 = urlpw(22), urlpw(22)
    return fill("""$ sudo cat /etc/pgbouncer/userlist.txt
"@@u1@@" "@@p1@@"
"@@u2@@" "@@p2@@"
"pgbouncer_stats" "SCRAM-SHA-256$4096:@@salt@@$@@sk@@:@@svk@@\"""", u1=user(), u2="svc_" + pick(["billing", "search", "jobs"]),
                p1=p1, p2=p2, salt=b64e(rbytes(16)), sk=b64e(rbytes(32)), svk=b64e(rbytes(32))), [p1, p2]


def f_pypirc():
    t = pypi_token()
    return fill("""[distutils]
index-servers =
    pypi
    internal

[pypi]
username = __token__
password = @@t@@

[internal]
repository = https://pypi.@@o@@.internal/simple/
username = @@u@@""", t=t, o=org(), u=user()), [t]


def f_gradle_properties():
    pw, spw = urlpw(20), passphrase(4, " ")
    return fill("""# ~/.gradle/gradle.properties
org.gradle.jvmargs=-Xmx4g -Dfile.encoding=UTF-8
org.gradle.caching=true

ossrhUsername=@@u@@
ossrhPassword=@@pw@@

signing.keyId=@@kid@@
signing.password=@@spw@@
signing.secretKeyRingFile=/Users/@@u@@/.gnupg/secring.gpg""", u=user(), pw=pw, kid=hx(8).upper(), spw=spw), [pw, spw]


def f_s3cfg():
    i, s = aws_id(), aws_secret()
    return fill("""[default]
access_key = @@i@@
secret_key = @@s@@
bucket_location = @@r@@
host_base = s3.amazonaws.com
host_bucket = %(bucket)s.s3.amazonaws.com
use_https = True
signature_v2 = False""", i=i, s=s, r=pick(REGIONS)), [i, s]


def f_wpa_supplicant():
    psk = password(14, ALNUM + "-_.!")
    return fill("""ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev
update_config=1
country=@@cc@@

network={
    ssid="@@ssid@@"
    psk="@@psk@@"
    key_mgmt=WPA-PSK
    priority=10
}""", cc=pick(["DE", "PT", "NL", "GB"]), ssid=pick(["Lab-5G", "Workshop", "%s-office" % org()]), psk=psk), [psk]


def f_git_credentials():
    t1, t2 = github_pat(), glpat()
    return fill("""$ cat ~/.git-credentials
https://@@u@@:@@t1@@@github.com
https://oauth2:@@t2@@@gitlab.@@o@@.net""", u=pick(USERS).replace("_", "-"), t1=t1, t2=t2, o=org()), [t1, t2]


def f_spring_properties():
    pw = urlpw(22)
    return fill("""# ===== datasource =====
spring.datasource.url=jdbc:postgresql://@@h@@:5432/@@d@@
spring.datasource.username=@@u@@
# TODO move to vault before go-live
spring.datasource.password=@@pw@@
spring.datasource.hikari.maximum-pool-size=20

# ===== flyway =====
spring.flyway.locations=classpath:db/migration""", h=host(), d=db(), u=user(), pw=pw), [pw]


def f_npmrc_multi():
    t = npm_token()
    gh = ghp()
    return fill("""; ~/.npmrc
//registry.npmjs.org/:_authToken=@@t@@
@@@o@@:registry=https://npm.pkg.github.com
//npm.pkg.github.com/:_authToken=@@gh@@
fund=false
audit-level=high""", t=t, o=org(), gh=gh), [t, gh]


def f_msmtprc_app_password():
    ap = app_password()
    return fill("""# ~/.msmtprc
defaults
auth           on
tls            on
tls_trust_file /etc/ssl/certs/ca-certificates.crt
logfile        ~/.msmtp.log

account        gmail
host           smtp.gmail.com
port           587
from           @@e@@
user           @@e@@
password       @@ap@@

account default : gmail""", e="%s.%s@gmail.com" % (pick(USERS).replace("_", ""), pick(["dev", "alerts"])), ap=ap), [ap]


def f_fetchmailrc():
    pw = shellpw(16)
    return fill("""set daemon 300
set logfile /var/log/fetchmail.log
poll imap.@@o@@.net protocol IMAP port 993
    user '@@u@@' there with password '@@pw@@' is '@@u@@' here
    options ssl keep fetchall""", o=org(), u=user(), pw=pw), [pw]


def f_nmconnection():
    psk = password(16, ALNUM + "-_.#")
    return fill("""$ sudo cat /etc/NetworkManager/system-connections/@@ssid@@.nmconnection
[connection]
id=@@ssid@@
uuid=@@u@@
type=wifi
interface-name=wlp2s0

[wifi]
mode=infrastructure
ssid=@@ssid@@

[wifi-security]
auth-alg=open
key-mgmt=wpa-psk
psk=@@psk@@

[ipv4]
method=auto""", ssid=pick(["HomeNet", "Studio-Guest", "Kitchen24"]), u=uid(), psk=psk), [psk]


def f_supervisord_http():
    pw = mixed(20)
    return fill("""[unix_http_server]
file=/var/run/supervisor.sock
chmod=0700

[inet_http_server]
port=127.0.0.1:9001
username=admin
password=@@pw@@

[program:@@s@@]
command=/srv/@@s@@/bin/run
autorestart=true""", pw=pw, s=svc()), [pw]


def f_dotenv_commented():
    pw = urlpw(24)
    k = "sk_live_" + mixed(99)
    return fill("""# .env.production -- DO NOT COMMIT
NODE_ENV=production
PORT=8080

# Postgres (RDS)
# DATABASE_URL=postgres://user:password@localhost:5432/app   <- local default
DATABASE_URL=postgres://@@u@@:@@pw@@@@@h@@:5432/@@d@@

# Stripe
STRIPE_PUBLISHABLE_KEY=pk_live_@@pk@@
STRIPE_SECRET_KEY=@@k@@
STRIPE_WEBHOOK_SECRET=""", u=user(), pw=pw, h=pick(["app.cluster-c%s.%s.rds.amazonaws.com" % (hx(10), pick(REGIONS))]),
                d=db(), pk=mixed(99), k=k), [pw, k]


def f_compose_env():
    root, app = mixed(24), urlpw(20)
    return fill("""services:
  db:
    image: mariadb:11.4
    restart: unless-stopped
    environment:
      MARIADB_ROOT_PASSWORD: @@root@@
      MARIADB_DATABASE: @@d@@
      MARIADB_USER: @@u@@
      MARIADB_PASSWORD: "@@app@@"
    volumes:
      - db:/var/lib/mysql
volumes:
  db: {}""", root=root, d=db(), u=user(), app=app), [root, app]


def f_jupyter_config():
    t = hx(48)
    return fill("""# ~/.jupyter/jupyter_server_config.py
c = get_config()  # noqa
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = @@port@@
c.ServerApp.open_browser = False
c.IdentityProvider.token = "@@t@@"
c.ServerApp.root_dir = "/home/@@u@@/notebooks\"""", port=rint(8800, 8899), t=t, u=user()), [t]


def f_grafana_ini():
    pw = urlpw(20)
    sk = mixed(32)
    return fill("""#################################### Security ####################################
[security]
# disable creation of admin user on first start of grafana
;disable_initial_admin_creation = false

# default admin user, created on startup
admin_user = admin

# default admin password, can be changed before first start of grafana,  or in profile settings
;admin_password = admin
admin_password = @@pw@@

# used for signing
secret_key = @@sk@@""", pw=pw, sk=sk), [pw, sk]


def f_kibana_yml():
    pw = mixed(24)
    return fill("""server.host: "0.0.0.0"
server.publicBaseUrl: "https://kibana.@@o@@.net"
elasticsearch.hosts: ["https://es-0.@@o@@.internal:9200"]
elasticsearch.username: "kibana_system"
elasticsearch.password: "@@pw@@"
elasticsearch.ssl.certificateAuthorities: ["/etc/kibana/certs/ca.crt"]""", o=org(), pw=pw), [pw]


def f_drupal_settings():
    pw, salt = urlpw(22), b64u(rbytes(55))
    return fill("""$databases['default']['default'] = [
  'database' => '@@d@@',
  'username' => '@@u@@',
  'password' => '@@pw@@',
  'host' => '@@h@@',
  'port' => '3306',
  'driver' => 'mysql',
  'prefix' => '',
  'collation' => 'utf8mb4_general_ci',
];

$settings['hash_salt'] = '@@salt@@';
$settings['config_sync_directory'] = '../config/sync';""", d=db(), u=user(), pw=pw, h=host(), salt=salt), [pw, salt]


def f_tomcat_users():
    pw = shellpw(18)
    return fill("""<?xml version="1.0" encoding="UTF-8"?>
<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">
<!--
  <role rolename="tomcat"/>
  <user username="tomcat" password="<must-be-changed>" roles="tomcat"/>
-->
  <role rolename="manager-gui"/>
  <role rolename="manager-script"/>
  <user username="@@u@@" password="@@pw@@" roles="manager-gui,manager-script"/>
</tomcat-users>""", u=pick(["deployer", "jenkins", "admin"]), pw=pw), [pw]


def f_openvpn_auth_txt():
    pw = shellpw(16)
    return fill("""$ sudo cat /etc/openvpn/client/auth.txt
@@u@@
@@pw@@
$ grep auth-user-pass /etc/openvpn/client/office.conf
auth-user-pass /etc/openvpn/client/auth.txt""", u=email(), pw=pw), [pw]


def f_nextcloud_config():
    pw, sec, salt = urlpw(24), b64e(rbytes(36)), mixed(30)
    return fill("""<?php
$CONFIG = array (
  'instanceid' => 'oc@@iid@@',
  'passwordsalt' => '@@salt@@',
  'secret' => '@@sec@@',
  'trusted_domains' => array ( 0 => 'cloud.@@o@@.net' ),
  'dbtype' => 'pgsql',
  'dbname' => 'nextcloud',
  'dbhost' => '@@h@@',
  'dbuser' => 'oc_admin',
  'dbpassword' => '@@pw@@',
  'installed' => true,
);""", iid=mixed(10, LOAL), salt=salt, sec=sec, o=org(), h=host(), pw=pw), [salt, sec, pw]


def f_ha_secrets_yaml():
    w, m = password(14, ALNUM + "-_.!"), mixed(22)
    return fill("""# /config/secrets.yaml (Home Assistant)
latitude_home: 52.37@@a@@
longitude_home: 4.89@@b@@
wifi_ssid: "@@ssid@@"
wifi_password: "@@w@@"
mqtt_user: homeassistant
mqtt_password: @@m@@""", a=rint(100, 999), b=rint(100, 999), ssid=pick(["Attic", "Casa-5G"]), w=w, m=m), [w, m]


def f_kafka_jaas():
    pw = mixed(64, ALNUM + "+/")
    return fill("""bootstrap.servers=pkc-@@c@@.@@r@@.aws.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="@@k@@" password="@@pw@@";
client.dns.lookup=use_all_dns_ips
session.timeout.ms=45000""", c=mixed(5, LOAL), r=pick(REGIONS), k=mixed(16, UPAL), pw=pw), [pw]


def f_cargo_credentials():
    t = "cio" + mixed(32)
    t2 = "Bearer " + mixed(40)
    return fill("""# ~/.cargo/credentials.toml
[registry]
token = "@@t@@"

[registries.@@o@@]
token = "@@t2@@\"""", t=t, o=org().replace("-", "_"), t2=t2), [t, t2[len("Bearer "):]]


def f_sentry_properties():
    t = "sntrys_" + b64u(json.dumps({"iat": epoch(), "url": "https://sentry.io", "region_url": "https://de.sentry.io",
                                      "org": org()}).encode()) + "_" + mixed(43, B64URL)
    return fill("""# android/sentry.properties
defaults.url=https://sentry.io/
defaults.org=@@o@@
defaults.project=@@r@@
auth.token=@@t@@""", o=org(), r=pick(REPOS), t=t), [t]


def f_wireguard_conf():
    k, psk = wg_key(), wg_key()
    return fill("""[Interface]
PrivateKey = @@k@@
Address = 10.8.0.@@n@@/32
DNS = 10.8.0.1

[Peer]
PublicKey = @@pub@@
PresharedKey = @@psk@@
Endpoint = vpn.@@o@@.net:51820
AllowedIPs = 10.8.0.0/24, 10.20.0.0/16
PersistentKeepalive = 25""", k=k, n=rint(2, 200), pub=wg_key(), psk=psk, o=org()), [k, psk]


CONFIG_FILES = [f_netrc, f_pgpass, f_docker_config_auths, f_kubeconfig_token, f_kubeconfig_client_key,
                f_redis_conf_real, f_my_cnf_client, f_pgbouncer_userlist, f_pypirc, f_gradle_properties, f_s3cfg,
                f_wpa_supplicant, f_git_credentials, f_spring_properties, f_npmrc_multi, f_msmtprc_app_password,
                f_fetchmailrc, f_nmconnection, f_supervisord_http, f_dotenv_commented, f_compose_env,
                f_jupyter_config, f_grafana_ini, f_kibana_yml, f_drupal_settings, f_tomcat_users,
                f_openvpn_auth_txt, f_nextcloud_config, f_ha_secrets_yaml, f_kafka_jaas, f_cargo_credentials,
                f_sentry_properties, f_wireguard_conf]


# ================================================================ SECRET: labelled_values
def l_md_bold_next_line():
    pw = password(20)
    return fill("""## Staging access

**Database host**
`@@h@@`

**Database user**
`@@u@@`

**Database password**
`@@pw@@`

Ping me before running migrations against it.""", h=host(), u=user(), pw=pw), [pw]


def l_md_bold_blockquote():
    pw = password(18)
    return fill("""**Admin console password (until we wire up SSO):**
> @@pw@@

Username is `admin`. Console lives at https://admin.@@o@@.io.""", pw=pw, o=org()), [pw]


def l_google_app_password():
    ap = app_password()
    return fill("""Generated an app password for the alerts mailbox (@@e@@) under Security → App passwords.

App password: @@ap@@

Use it as SMTP_PASS in the worker; normal account password won't work with 2FA on.""",
                e="alerts.%s@gmail.com" % org().replace("-", ""), ap=ap), [ap]


def l_provider_table():
    dd, sg, tw = dd_api_key(), sendgrid(), twilio_token()
    return fill("""| Service  | Key name         | Value |
|----------|------------------|-------|
| Datadog  | API key          | `@@dd@@` |
| SendGrid | Mail send (full) | `@@sg@@` |
| Twilio   | Auth token       | `@@tw@@` |""", dd=dd, sg=sg, tw=tw), [dd, sg, tw]


def l_bitwarden_csv():
    p1, p2 = password(20), password(16)
    return fill("""$ head -3 bitwarden_export_@@d@@.csv
folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp
Infra,,login,@@o@@ AWS root,,,0,https://signin.aws.amazon.com,root@@@o@@.io,@@p1@@,
Infra,,login,Cloudflare,,,0,https://dash.cloudflare.com,ops@@@o@@.io,@@p2@@,""", d=date().replace("-", ""), o=org(),
                p1=p1, p2=p2), [p1, p2]


def l_handoff_bullets():
    p1, t = urlpw(20), "dp.st.prd." + mixed(43)
    return fill("""Handoff notes for while I'm out:

- Postgres (prod, read-only): user `@@u@@`, pw `@@p1@@`
- Doppler service token for the cron box: `@@t@@`
- Pager rotation: @@n@@ is primary next week""", u=user(), p1=p1, t=t, n=person()), [p1, t]


def l_okta_ssws_prose():
    t = okta_ssws()
    return fill("""Okta admin API token for the @@o@@ org (created under Security → API → Tokens, named "scim-sync"): @@t@@
It inherits my Org Admin permissions so please don't use it for anything but the SCIM job.""", o=org(), t=t), [t]


def l_atlassian_chat():
    t = atlassian_token()
    return fill("""here's the API token for the jira bot account (jira-bot@@@o@@.io), it's scoped to the PLAT project only:

@@t@@""", o=org(), t=t), [t]


def l_doppler_table_output():
    pw, k = urlpw(24), mixed(40)
    return fill("""$ doppler secrets --project @@s@@ --config prd --only-names=false
┌──────────────────┬──────────────────────────────────────────┐
│ NAME             │ VALUE                                    │
├──────────────────┼──────────────────────────────────────────┤
│ DB_HOST          │ @@h@@                         │
│ DB_PASSWORD      │ @@pw@@                 │
│ DOPPLER_CONFIG   │ prd                                      │
│ MAPS_SERVER_KEY  │ @@k@@ │
└──────────────────┴──────────────────────────────────────────┘""", s=svc(), h=host(), pw=pw, k=k), [pw, k]


def l_view_secret_plugin():
    pw = mixed(32)
    return fill("""$ kubectl view-secret -n @@ns@@ @@s@@-postgresql postgres-password
@@pw@@""", ns=pick(["data", "prod"]), s=svc(), pw=pw), [pw]


def l_az_keyvault_show_value():
    v = b64e(rbytes(64))
    return fill("""$ az keyvault secret show --vault-name kv-@@o@@-prod --name storage-account-key --query value -o tsv
@@v@@""", o=org(), v=v), [v]


def l_op_item_get_field():
    k = stripe_live("rk_live_")
    return fill("""$ op item get "Stripe restricted (reporting)" --vault Engineering --fields label=credential --reveal
@@k@@""", k=k), [k]


def l_bw_get_password():
    pw = password(22)
    return fill("""$ export BW_SESSION=$(bw unlock --raw)
$ bw get password "@@o@@ / pgadmin"
@@pw@@""", o=org(), pw=pw), [pw]


def l_pass_show_multiline():
    pw = password(18)
    return fill("""$ pass show infra/@@o@@/mysql-primary
@@pw@@
user: root
host: @@h@@
url: https://phpmyadmin.@@o@@.internal""", o=org(), pw=pw, h=host()), [pw]


def l_notion_page_copy():
    pw = password(16)
    return fill("""Credentials
Service
Router admin (office)
Username
admin
Password
@@pw@@
Last rotated
@@d@@""", pw=pw, d=date()), [pw]


def l_definition_list():
    t = hx(32)
    mb = "sk." + b64u(json.dumps({"u": user(), "a": mixed(25, LOAL)}, separators=(",", ":")).encode()) + "." + \
        mixed(22, B64URL)
    return fill("""Algolia / Mapbox credentials for the search team

Algolia Admin API Key
: `@@t@@`

Mapbox secret token (downloads scope)
: `@@mb@@`""", t=t, mb=mb), [t, mb]


def l_email_quote():
    pw = password(15)
    return fill("""On Tue, @@n@@ wrote:
> Hi, your SFTP account for the nightly feed is ready.
>
> Host: sftp.@@o@@-partners.com
> Login: @@u@@
> Password: @@pw@@
>
> Please change it after first login.""", n=person(), o=org(), u=user(), pw=pw), [pw]


def l_keepassxc_show():
    pw = password(24)
    return fill("""$ keepassxc-cli show -s ~/vault.kdbx "Work/Grafana Cloud"
Enter password to unlock /home/@@u@@/vault.kdbx:
Title: Grafana Cloud
UserName: @@e@@
Password: @@pw@@
URL: https://@@o@@.grafana.net
Notes: service account for terraform""", u=user(), e=email(), pw=pw, o=org()), [pw]


def l_wifi_bold():
    pw = password(14, ALNUM + "-_.!")
    return fill("""**Guest Wi-Fi**
SSID: @@o@@-guest
Password: @@pw@@

**Printer**: 3rd floor, next to the kitchen""", o=org(), pw=pw), [pw]


def l_gh_auth_token():
    t = "gho_" + mixed(36)
    return fill("""$ gh auth token
@@t@@
$ gh api user --jq .login
@@u@@""", t=t, u=pick(USERS).replace("_", "-")), [t]


def l_vault_token_create_table():
    t = vault_token()
    return fill("""$ vault token create -policy=@@s@@-read -ttl=720h -display-name=@@s@@-ci
Key                  Value
---                  -----
token                @@t@@
token_accessor       @@acc@@
token_duration       720h
token_renewable      true
token_policies       ["default" "@@s@@-read"]
identity_policies    []
policies             ["default" "@@s@@-read"]""", s=svc(), t=t, acc=mixed(24)), [t]


def l_sts_session_table():
    i, s = aws_id("ASIA"), aws_secret()
    tok = "IQoJb3JpZ2luX2Vj" + rs(rint(300, 360), B64)
    return fill("""$ aws sts get-session-token --serial-number arn:aws:iam::@@a@@:mfa/@@u@@ --token-code @@code@@ --output table
----------------------------------------------------------------------
|                          GetSessionToken                           |
+--------------------------------------------------------------------+
||                            Credentials                           ||
|+------------------+-----------------------------------------------+|
||  AccessKeyId     |  @@i@@                         ||
||  Expiration      |  @@exp@@                     ||
||  SecretAccessKey |  @@s@@     ||
||  SessionToken    |  @@tok@@  ||
|+------------------+-----------------------------------------------+|""", a=acct(), u=user(), code=rint(100000, 999999),
                i=i, exp=ts()[:19] + "+00:00", s=s, tok=tok), [i, s, tok]


def l_az_sp_create_output():
    pw = mixed(3) + "8Q~" + mixed(34, ALNUM + "~._-")
    return fill("""$ az ad sp create-for-rbac --name gha-@@r@@ --role contributor --scopes /subscriptions/@@sub@@/resourceGroups/rg-@@r@@
Creating 'contributor' role assignment under scope '/subscriptions/@@sub@@/resourceGroups/rg-@@r@@'
The output includes credentials that you must protect. Be sure that you do not include these credentials in your code or check the credentials into your source control. For more information, see https://aka.ms/azadsp-cli
{
  "appId": "@@app@@",
  "displayName": "gha-@@r@@",
  "password": "@@pw@@",
  "tenant": "@@ten@@"
}""", r=pick(REPOS), sub=uid(), app=uid(), pw=pw, ten=uid()), [pw]


def l_tailscale_authkey():
    k = "tskey-auth-k" + mixed(10) + "CNTRL-" + mixed(33)
    return fill("""Generated auth key (reusable, ephemeral, tag:ci, expires in 90 days):

@@k@@

Be sure to copy your new key above. It won't be shown in full again.""", k=k), [k]


def l_ngrok_authtoken_label():
    t = mixed(27) + "_" + mixed(21)
    return fill("""ngrok authtoken (team account, don't use your personal one):
@@t@@
run `ngrok config add-authtoken <that>` once per machine.""", t=t), [t]


def l_slack_mrkdwn_label():
    pw = password(18)
    return fill("""@@n@@  10:42 AM
*Prod read replica password*: `@@pw@@`
(rotating it again on friday)""", n=person(), pw=pw), [pw]


def l_cat_secrets_txt():
    pw, t = password(16), "glsa_" + mixed(32) + "_" + hx(8)
    return fill("""$ cat ~/Desktop/creds.txt
grafana admin: admin / @@pw@@
grafana sa token (terraform): @@t@@""", pw=pw, t=t), [pw, t]


def l_jira_table():
    p1, p2 = password(16), password(16)
    return fill("""||Env||Host||User||Password||
|dev|@@h1@@|qa_admin|@@p1@@|
|uat|@@h2@@|qa_admin|@@p2@@|""", h1=host(), h2=host(), p1=p1, p2=p2), [p1, p2]


def l_heroku_config_listing():
    pw, skb = hx(64), hx(128)
    return fill("""$ heroku config -a @@s@@-prod
=== @@s@@-prod Config Vars
DATABASE_URL:     postgres://u@@du@@:@@pw@@@ec2-@@ip@@.compute-1.amazonaws.com:5432/d@@dd@@
LANG:             en_US.UTF-8
RACK_ENV:         production
SECRET_KEY_BASE:  @@skb@@
WEB_CONCURRENCY:  2""", s=svc(), du=mixed(12, LOAL), pw=pw, ip="-".join(str(rint(3, 250)) for _ in range(4)),
                dd=mixed(12, LOAL), skb=skb), [pw, skb]


def l_yaml_chat_creds():
    pw = password(18)
    return fill("""creds for the staging broker:

```yaml
host: amqp-staging.@@o@@.internal
vhost: /orders
user: @@u@@
pass: @@pw@@
```""", o=org(), u=user(), pw=pw), [pw]


LABELLED_VALUES = [l_md_bold_next_line, l_md_bold_blockquote, l_google_app_password, l_provider_table,
                   l_bitwarden_csv, l_handoff_bullets, l_okta_ssws_prose, l_atlassian_chat, l_doppler_table_output,
                   l_view_secret_plugin, l_az_keyvault_show_value, l_op_item_get_field, l_bw_get_password,
                   l_pass_show_multiline, l_notion_page_copy, l_definition_list, l_email_quote, l_keepassxc_show, l_wifi_bold,
                   l_gh_auth_token, l_vault_token_create_table, l_sts_session_table, l_az_sp_create_output,
                   l_tailscale_authkey, l_ngrok_authtoken_label, l_slack_mrkdwn_label, l_cat_secrets_txt,
                   l_jira_table, l_heroku_config_listing, l_yaml_chat_creds]


# ================================================================ SECRET: code_keys
def byte_lines(n=32, per=8, fmt="0x%02x", indent="    ", sep=", "):
    bs = [fmt % b for b in rbytes(n)]
    lines = [sep.join(bs[i:i + per]) for i in range(0, n, per)]
    return ("," + "\n" + indent).join(lines)


def c_rust_const_array():
    body = byte_lines(32, 8, "0x%02x")
    return fill("""// src/crypto/session.rs
use chacha20poly1305::{aead::Aead, KeyInit, XChaCha20Poly1305};

/// Key for sealing session cookies. Rotated by hand -- see docs/ops/rotation.md
const SESSION_KEY: [u8; 32] = [
    @@b@@,
];

pub fn cipher() -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&SESSION_KEY.into())
}""", b=body), [body]


def c_go_byte_slice():
    body = byte_lines(32, 8, "0x%02X", "\t")
    return fill("""package tokens

import "crypto/aes"

// aesKey encrypts refresh tokens at rest.
var aesKey = []byte{
	@@b@@,
}

func newBlock() (cipher.Block, error) { return aes.NewCipher(aesKey) }""", b=body), [body]


def c_cs_readonly_bytes():
    body = byte_lines(32, 8, "0x%02X", "            ")
    return fill("""internal static class LicenseCrypto
{
    private static readonly byte[] Key =
    {
            @@b@@
    };

    public static byte[] Decrypt(byte[] blob, byte[] iv)
    {
        using var aes = Aes.Create();
        aes.Key = Key;
        return aes.DecryptCbc(blob, iv);
    }
}""", b=body), [body]


def c_java_cast_bytes():
    bs = rbytes(24)
    items = ["(byte) 0x%02x" % b if b > 127 else "0x%02x" % b for b in bs]
    body = ",\n        ".join(", ".join(items[i:i + 6]) for i in range(0, 24, 6))
    return fill("""public final class ReportCipher {
    // 192-bit DESede key shared with the mainframe export job
    private static final byte[] KEY_BYTES = new byte[] {
        @@b@@
    };

    static SecretKey key() {
        return new SecretKeySpec(KEY_BYTES, "DESede");
    }
}""", b=body), [body]


def c_py_bytes_list():
    body = byte_lines(32, 8, "0x%02x")
    return fill("""# app/signing.py
import hmac, hashlib

WEBHOOK_KEY = bytes([
    @@b@@,
])


def sign(payload: bytes) -> str:
    return hmac.new(WEBHOOK_KEY, payload, hashlib.sha256).hexdigest()""", b=body), [body]


def c_kotlin_bytearrayof():
    bs = rbytes(16)
    items = ["0x%02x" % b if b < 128 else "-0x%02x" % (256 - b) for b in bs]
    body = ", ".join(items)
    return fill("""object PinCipher {
    private val keyBytes = byteArrayOf(@@b@@)
    private val keySpec = SecretKeySpec(keyBytes, "AES")

    fun encrypt(pin: String): ByteArray = Cipher.getInstance("AES/GCM/NoPadding").run {
        init(Cipher.ENCRYPT_MODE, keySpec)
        iv + doFinal(pin.toByteArray())
    }
}""", b=body), [body]


def c_swift_uint8_array():
    body = byte_lines(32, 8, "0x%02x", "        ")
    return fill("""enum Keys {
    static let cacheKey: [UInt8] = [
        @@b@@,
    ]
    static var symmetric: SymmetricKey { SymmetricKey(data: cacheKey) }
}""", b=body), [body]


def c_c_escaped_string():
    body = "".join("\\x%02x" % b for b in rbytes(32))
    return fill("""/* keys.h -- generated by tools/genkey.py, do not edit */
#pragma once
static const unsigned char OTA_SIGNING_KEY[32] = "@@b@@";""", b=body), [body]


def c_zig_array():
    body = byte_lines(32, 8, "0x%02x")
    return fill("""const std = @import("std");
const Aes256Gcm = std.crypto.aead.aes_gcm.Aes256Gcm;

pub const telemetry_key = [_]u8{
    @@b@@,
};""", b=body), [body]


def c_elixir_binary():
    body = ", ".join(str(b) for b in rbytes(32))
    return fill("""defmodule Vault.Keys do
  @moduledoc false
  @aes_key <<@@b@@>>

  def aes_key, do: @aes_key
end""", b=body), [body]


def c_rust_signingkey_decimal():
    body = ", ".join(str(b) for b in rbytes(32))
    return fill("""let signing_key = SigningKey::from_bytes(&[@@b@@]);
let verifying_key = signing_key.verifying_key();
println!("pub: {}", hex::encode(verifying_key.as_bytes()));""", b=body), [body]


def c_go_ed25519_seed():
    body = byte_lines(32, 16, "%d", "\t\t", ", ")
    return fill("""func releaseSigner() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed([]byte{
		@@b@@,
	})
}""", b=body), [body]


def ec_jwk():
    return {"kty": "EC", "crv": "P-256", "x": b64u(rbytes(32)), "y": b64u(rbytes(32)), "d": b64u(rbytes(32)),
            "kid": pick([hx(16), "sig-%s" % date()]), "use": "sig", "alg": "ES256"}


def c_jwk_ec_file():
    k = ec_jwk()
    return "$ cat keys/signing.jwk.json\n" + json.dumps(k, indent=2), [k["d"]]


def c_jwk_okp_ts():
    x, d = b64u(rbytes(32)), b64u(rbytes(32))
    return fill("""import { importJWK, SignJWT } from "jose";

const privateJwk = {
  kty: "OKP",
  crv: "Ed25519",
  x: "@@x@@",
  d: "@@d@@",
};

export async function mintServiceToken(sub: string) {
  const key = await importJWK(privateJwk, "EdDSA");
  return new SignJWT({ scope: "internal" }).setProtectedHeader({ alg: "EdDSA" }).setSubject(sub).sign(key);
}""", x=x, d=d), [d]


def c_jwks_private_python():
    k = ec_jwk()
    return fill("""from jwcrypto import jwk, jwt

KEY = jwk.JWK(**{"kty": "EC", "crv": "P-256", "kid": "@@kid@@",
                 "x": "@@x@@",
                 "y": "@@y@@",
                 "d": "@@d@@"})

token = jwt.JWT(header={"alg": "ES256", "kid": KEY.key_id}, claims={"sub": "batch"})
token.make_signed_token(KEY)""", kid=k["kid"], x=k["x"], y=k["y"], d=k["d"]), [k["d"]]


def c_mailchimp_positional():
    k = hx(32) + "-us" + str(rint(2, 21))
    return fill("""const mailchimp = require("@mailchimp/mailchimp_marketing");

mailchimp.setConfig({
  apiKey: "@@k@@",
  server: "@@srv@@",
});""", k=k, srv=k.split("-")[1]), [k]


def c_stripe_ctor():
    k = stripe_live()
    return fill("""import Stripe from "stripe";

export const stripe = new Stripe("@@k@@", {
  apiVersion: "2025-09-30.clover",
  maxNetworkRetries: 2,
});""", k=k), [k]


def c_sendgrid_go():
    k = sendgrid()
    return fill("""func sendReset(to, link string) error {
	client := sendgrid.NewSendClient("@@k@@")
	from := mail.NewEmail("@@o@@", "no-reply@@@o@@.io")
	msg := mail.NewSingleEmail(from, "Reset your password", mail.NewEmail("", to), "Reset: "+link, "")
	_, err := client.Send(msg)
	return err
}""", k=k, o=org()), [k]


def c_launchdarkly_init():
    k = "sdk-" + uid()
    return fill("""import ldclient
from ldclient.config import Config

ldclient.set_config(Config("@@k@@"))
client = ldclient.get()""", k=k), [k]


def c_discord_login():
    tid = str(rint(10 ** 17, 10 ** 18))
    t = b64u(tid.encode()) + "." + mixed(6, B64URL) + "." + mixed(38, B64URL)
    return fill("""const { Client, GatewayIntentBits } = require("discord.js");
const client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages] });

client.once("ready", () => console.log(`logged in as ${client.user.tag}`));
client.login("@@t@@");""", t=t), [t]


def c_notion_client():
    t = "ntn_" + str(rint(10 ** 10, 10 ** 11)) + mixed(35)
    return fill("""import { Client } from "@notionhq/client";

const notion = new Client({ auth: "@@t@@" });
const db = await notion.databases.query({ database_id: "@@dbid@@" });""", t=t, dbid=hx(32)), [t]


def c_slack_webclient():
    t = slack_bot()
    return fill("""from slack_sdk import WebClient

client = WebClient("@@t@@")
client.chat_postMessage(channel="#deploys", text=f"{service} {version} is live")""", t=t), [t]


def c_webcrypto_import_raw():
    s = mixed(40)
    return fill("""const enc = new TextEncoder();
const key = await crypto.subtle.importKey(
  "raw",
  enc.encode("@@s@@"),
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["sign", "verify"],
);""", s=s), [s]


def c_hardhat_accounts():
    pk = "0x" + hx(64)
    return fill("""// hardhat.config.ts
const config: HardhatUserConfig = {
  solidity: "0.8.24",
  networks: {
    sepolia: {
      url: "https://sepolia.infura.io/v3/@@pid@@",
      accounts: ["@@pk@@"],
    },
  },
};
export default config;""", pid=hx(32), pk=pk), [pk]


def c_ethers_wallet():
    pk = "0x" + hx(64)
    return fill("""const provider = new ethers.JsonRpcProvider(RPC_URL);
const wallet = new ethers.Wallet("@@pk@@", provider);
const tx = await wallet.sendTransaction({ to: treasury, value: ethers.parseEther("0.05") });""", pk=pk), [pk]


def c_terraform_provider_keys():
    a, b = dd_api_key(), hx(40)
    return fill("""provider "datadog" {
  api_key = "@@a@@"
  app_key = "@@b@@"
  api_url = "https://api.datadoghq.eu/"
}""", a=a, b=b), [a, b]


def c_ruby_mailchimp():
    k = hx(32) + "-us" + str(rint(2, 21))
    return fill("""client = MailchimpMarketing::Client.new
client.set_config({
  api_key: "@@k@@",
  server: "@@srv@@"
})
client.lists.add_list_member(LIST_ID, { email_address: user.email, status: "subscribed" })""", k=k, srv=k.split("-")[1]), [k]


def c_supabase_service_role():
    ref = mixed(20, LO)
    t = jwt({"iss": "supabase", "ref": ref, "role": "service_role"})
    return fill("""import { createClient } from "@supabase/supabase-js";

// server-only client, bypasses RLS
export const admin = createClient(
  "https://@@ref@@.supabase.co",
  "@@t@@",
  { auth: { persistSession: false } },
);""", ref=ref, t=t), [t]


def c_powershell_securestring():
    pw = password(18, ALNUM + "#%*-_.+")
    return fill("""$user = "CORP\\svc-deploy"
$secure = ConvertTo-SecureString "@@pw@@" -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential($user, $secure)
Invoke-Command -ComputerName app-@@n@@ -Credential $cred -ScriptBlock { Restart-Service W3SVC }""", pw=pw,
                n=rint(1, 9)), [pw]


def c_dart_key_frombase64():
    k = b64e(rbytes(32))
    return fill("""import 'package:encrypt/encrypt.dart';

final _key = Key.fromBase64('@@k@@');
final _encrypter = Encrypter(AES(_key, mode: AESMode.gcm));

String seal(String plain, IV iv) => _encrypter.encrypt(plain, iv: iv).base64;""", k=k), [k]


def c_octokit_auth():
    t = github_pat()
    return fill("""import { Octokit } from "@octokit/rest";

const octokit = new Octokit({ auth: "@@t@@", userAgent: "release-bot/1.4" });
await octokit.repos.createRelease({ owner: "@@o@@", repo: "@@r@@", tag_name: tag, generate_release_notes: true });""",
                t=t, o=org(), r=pick(REPOS)), [t]


def c_php_pdo_positional():
    pw = urlpw(20)
    return fill("""<?php
$pdo = new PDO(
    'pgsql:host=@@h@@;port=5432;dbname=@@d@@',
    '@@u@@',
    '@@pw@@',
    [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]
);""", h=host(), d=db(), u=user(), pw=pw), [pw]


CODE_KEYS = [c_rust_const_array, c_go_byte_slice, c_cs_readonly_bytes, c_java_cast_bytes, c_py_bytes_list,
             c_kotlin_bytearrayof, c_swift_uint8_array, c_c_escaped_string, c_zig_array, c_elixir_binary,
             c_rust_signingkey_decimal, c_go_ed25519_seed, c_jwk_ec_file, c_jwk_okp_ts, c_jwks_private_python,
             c_mailchimp_positional, c_stripe_ctor, c_sendgrid_go, c_launchdarkly_init, c_discord_login,
             c_notion_client, c_slack_webclient, c_webcrypto_import_raw, c_hardhat_accounts, c_ethers_wallet,
             c_terraform_provider_keys, c_ruby_mailchimp, c_supabase_service_role, c_powershell_securestring,
             c_dart_key_frombase64, c_octokit_auth, c_php_pdo_positional]


# ================================================================ SECRET: http_auth
def curl_v_tail(hostname, path, status="200 OK", ctype="application/json"):
    return fill("""< HTTP/2 @@st@@
< date: @@d@@
< content-type: @@ct@@
< x-request-id: @@rid@@
<
{ [@@n@@ bytes data]
* Connection #0 to host @@h@@ left intact""", st=status.split()[0], d="Tue, 0%d Sep 2026 1%d:%02d:%02d GMT" % (
        rint(1, 9), rint(0, 9), rint(0, 59), rint(0, 59)), ct=ctype, rid=uid(), n=rint(80, 4000), h=hostname)


def a_curl_v_basic():
    u, p = pick(["admin", "elastic", user()]), shellpw(18)
    b = basic(u, p)
    h = "search.%s.internal" % org()
    return fill("""$ curl -v -u @@u@@ https://@@h@@:9200/_cluster/health
Enter host password for user '@@u@@':
*   Trying 10.1.4.22:9200...
* Connected to @@h@@ (10.1.4.22) port 9200
* Server auth using Basic with user '@@u@@'
> GET /_cluster/health HTTP/2
> Host: @@h@@:9200
> Authorization: Basic @@b@@
> User-Agent: curl/8.9.1
> Accept: */*
>
""", u=u, h=h, b=b) + curl_v_tail(h, "/_cluster/health"), [b]


def a_curl_v_bearer_jwt():
    t = jwt({"sub": uid(), "scope": "read:orders write:orders", "aud": "https://api.%s.io" % org()}, alg="RS256",
            kid=hx(16))
    h = "api.%s.io" % org()
    return fill("""$ curl -sv "https://@@h@@/v2/orders?limit=5" -H "Authorization: Bearer $TOKEN" -o /dev/null
* Host @@h@@:443 was resolved.
*   Trying 104.18.@@a@@.@@b@@:443...
* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384 / x25519 / RSASSA-PSS
> GET /v2/orders?limit=5 HTTP/2
> Host: @@h@@
> User-Agent: curl/8.7.1
> Accept: */*
> Authorization: Bearer @@t@@
>
""", h=h, a=rint(1, 254), b=rint(1, 254), t=t) + curl_v_tail(h, "/v2/orders"), [t]


def a_okta_ssws_curl():
    t = okta_ssws()
    return fill("""curl -X GET \\
  -H "Accept: application/json" \\
  -H "Content-Type: application/json" \\
  -H "Authorization: SSWS @@t@@" \\
  "https://@@o@@.okta.com/api/v1/users?filter=status%20eq%20%22ACTIVE%22&limit=200\"""", t=t, o=org()), [t]


def a_httpie_verbose():
    t = "lin_api_" + mixed(40)
    return fill("""$ http --verbose POST https://api.linear.app/graphql Authorization:@@t@@ query='{ viewer { id name } }'
POST /graphql HTTP/1.1
Accept: application/json, */*;q=0.5
Accept-Encoding: gzip, deflate
Authorization: @@t@@
Connection: keep-alive
Content-Length: 37
Content-Type: application/json
Host: api.linear.app
User-Agent: HTTPie/3.2.4

{
    "query": "{ viewer { id name } }"
}


HTTP/1.1 200 OK
Content-Type: application/json; charset=utf-8""", t=t), [t]


def a_mitmproxy_dump():
    k = mixed(32)
    return fill("""[@@t@@] 192.168.1.@@n@@:53122: POST https://api.@@o@@.io/v1/ingest HTTP/2.0
    content-type: application/json
    x-api-key: @@k@@
    user-agent: okhttp/4.12.0
    content-length: 412
 << HTTP/2.0 202 Accepted 17b""", t=hms(), n=rint(2, 250), o=org(), k=k), [k]


def a_copy_as_fetch():
    t = "pat" + mixed(14) + "." + hx(64)
    return fill("""fetch("https://api.airtable.com/v0/app@@a@@/Inventory?view=Grid%20view", {
  "headers": {
    "accept": "application/json",
    "authorization": "Bearer @@t@@",
    "sec-ch-ua-platform": "\\"macOS\\"",
    "sec-fetch-mode": "cors"
  },
  "referrerPolicy": "strict-origin-when-cross-origin",
  "method": "GET",
  "mode": "cors"
});""", a=mixed(14), t=t), [t]


def a_python_http_debug():
    u, p = "api", "key-" + hx(32)
    b = basic(u, p)
    return fill(""">>> import http.client, requests
>>> http.client.HTTPConnection.debuglevel = 1
>>> requests.post("https://api.eu.mailgun.net/v3/mg.@@o@@.io/messages", auth=AUTH, data=msg)
send: b'POST /v3/mg.@@o@@.io/messages HTTP/1.1\\r\\nHost: api.eu.mailgun.net\\r\\nUser-Agent: python-requests/2.32.3\\r\\nAccept-Encoding: gzip, deflate\\r\\nAccept: */*\\r\\nConnection: keep-alive\\r\\nContent-Length: 164\\r\\nContent-Type: application/x-www-form-urlencoded\\r\\nAuthorization: Basic @@b@@\\r\\n\\r\\n'
reply: 'HTTP/1.1 200 OK\\r\\n'
<Response [200]>""", o=org(), b=b), [b]


def a_nginx_proxy_header():
    b = basic(pick(["metrics", "scraper"]), mixed(22))
    return fill("""location /upstream-metrics/ {
    proxy_pass https://prometheus.@@o@@.internal/;
    proxy_set_header Authorization "Basic @@b@@";
    proxy_set_header Host prometheus.@@o@@.internal;
}""", o=org(), b=b), [b]


def a_jdbc_query_password():
    pw = urlpw(20)
    return fill("""jdbc:postgresql://@@h@@:5432/@@d@@?user=@@u@@&password=@@pw@@&ssl=true&sslmode=verify-full&ApplicationName=@@s@@""",
                h=host(), d=db(), u=user(), pw=pw, s=svc()), [pw]


def a_adonet_conn():
    pw = password(18, ALNUM + "#%*-_.+!")
    return fill("""  "ConnectionStrings": {
    "Default": "Server=tcp:@@o@@-sql.database.windows.net,1433;Initial Catalog=@@d@@;Persist Security Info=False;User ID=@@u@@;Password=@@pw@@;MultipleActiveResultSets=False;Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;"
  },""", o=org(), d=db(), u=user(), pw=pw), [pw]


def a_mongodb_srv():
    pw = urlpw(18)
    return fill("""MONGO_URI = "mongodb+srv://@@u@@:@@pw@@@cluster0.@@c@@.mongodb.net/@@d@@?retryWrites=true&w=majority&appName=Cluster0\"""",
                u=user(), pw=pw, c=mixed(5, LOAL), d=db()), [pw]


def a_redis_cloud_url():
    pw = mixed(32)
    return fill("""REDIS_URL=rediss://default:@@pw@@@redis-@@p@@.c@@n@@.@@r@@-1.ec2.redns.redis-cloud.com:@@p@@""",
                pw=pw, p=rint(10000, 19999), n=rint(1, 300), r=pick(REGIONS)), [pw]


def a_amqps_url():
    pw = urlpw(24)
    return fill("""app.conf.broker_url = "amqps://@@u@@:@@pw@@@b-@@id@@.mq.@@r@@.amazonaws.com:5671/%2F"
app.conf.result_backend = "rpc://\"""", u=pick(["celery", "worker"]), pw=pw, id=uid(), r=pick(REGIONS)), [pw]


def a_sqlalchemy_engine():
    pw = urlpw(20)
    return fill("""engine = create_engine(
    "postgresql+psycopg://@@u@@:@@pw@@@@@h@@:5432/@@d@@",
    pool_pre_ping=True,
    pool_size=10,
)""", u=user(), pw=pw, h=host(), d=db()), [pw]


def a_libpq_keyword_python():
    pw = urlpw(18)
    return fill("""conn = psycopg.connect("host=@@h@@ port=5432 dbname=@@d@@ user=@@u@@ password=@@pw@@ sslmode=verify-full sslrootcert=/etc/ssl/rds-ca.pem")""",
                h=host(), d=db(), u=user(), pw=pw), [pw]


def a_sqlplus_connect():
    pw = urlpw(16)
    return fill("""$ sqlplus -L @@u@@/@@pw@@@//ora-@@n@@.@@o@@.internal:1521/ORCLPDB1

SQL*Plus: Release 21.0.0.0.0 - Production on Thu Oct 1 09:14:55 2026
Version 21.13.0.0.0

Connected to:
Oracle Database 19c Enterprise Edition Release 19.0.0.0.0 - Production""", u=pick(["APP_OWNER", "REPORTING"]), pw=pw,
                n=rint(1, 4), o=org()), [pw]


def a_odbc_string():
    pw = password(16, ALNUM + "#%*-_.")
    return fill("""cnxn = pyodbc.connect(
    "Driver={ODBC Driver 18 for SQL Server};Server=tcp:@@h@@,1433;Database=@@d@@;"
    "Uid=@@u@@;Pwd=@@pw@@;Encrypt=yes;TrustServerCertificate=no;"
)""", h=host(), d=db(), u=user(), pw=pw), [pw]


def a_go_mysql_dsn():
    pw = urlpw(18)
    return fill("""db, err := sql.Open("mysql", "@@u@@:@@pw@@@tcp(@@h@@:3306)/@@d@@?parseTime=true&tls=preferred")
if err != nil {
	log.Fatal(err)
}""", u=user(), pw=pw, h=host(), d=db()), [pw]


def a_proxy_env():
    pw = urlpw(14)
    return fill("""$ env | grep -i proxy
HTTPS_PROXY=http://@@u@@:@@pw@@@proxy.corp.@@o@@.net:3128
HTTP_PROXY=http://@@u@@:@@pw@@@proxy.corp.@@o@@.net:3128
NO_PROXY=localhost,127.0.0.1,.corp.@@o@@.net,169.254.169.254""", u=user(), pw=pw, o=org()), [pw]


def a_git_remote_token():
    t = "ghs_" + mixed(36)
    return fill("""$ git remote -v
origin	https://x-access-token:@@t@@@github.com/@@o@@/@@r@@.git (fetch)
origin	https://x-access-token:@@t@@@github.com/@@o@@/@@r@@.git (push)""", t=t, o=org(), r=pick(REPOS)), [t]


def a_access_log_basic():
    b = basic(pick(["partner-acme", "feeds"]), mixed(20))
    return fill("""@@ip@@ - - [@@d@@] "GET /exports/daily.csv HTTP/1.1" 200 48211 "-" "python-requests/2.31.0" req_headers="{\\"Authorization\\": \\"Basic @@b@@\\"}\"""",
                ip="203.0.113.%d" % rint(2, 250), d="12/Oct/2026:0%d:%02d:%02d +0000" % (rint(0, 9), rint(0, 59), rint(0, 59)),
                b=b), [b]


def a_wireshark_follow():
    u, p = pick(["printer", "scanner"]), shellpw(12)
    b = basic(u, p)
    return fill("""GET /api/v1/status HTTP/1.1
Host: 192.168.10.@@n@@
Authorization: Basic @@b@@
User-Agent: Go-http-client/1.1
Accept-Encoding: gzip

HTTP/1.1 200 OK
Content-Type: application/json
Content-Length: 61

{"uptime":86123,"jobs_queued":0,"firmware":"4.11.2-r3","ok":true}""", n=rint(2, 250), b=b), [b]


def a_dotnet_auth_header():
    t = mixed(48, ALNUM)
    return fill("""var http = new HttpClient { BaseAddress = new Uri("https://api.@@o@@.io/") };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "@@t@@");
var resp = await http.GetFromJsonAsync<Invoice[]>("v1/invoices?status=open");""", o=org(), t=t), [t]


def a_postman_snippet_ssws():
    t = okta_ssws()
    return fill("""var client = new RestClient("https://@@o@@.okta.com/api/v1/groups?q=eng");
var request = new RestRequest();
request.AddHeader("Accept", "application/json");
request.AddHeader("Authorization", "SSWS @@t@@");
var response = client.Execute(request);""", o=org(), t=t), [t]


def a_smtp_url():
    pw = mixed(32, LOAL)
    return fill("""EMAIL_URL=smtp+tls://postmaster@mg.@@o@@.io:@@pw@@@smtp.eu.mailgun.org:587""", o=org(), pw=pw), [pw]


def a_webhook_basic_url():
    pw = urlpw(20)
    return fill("""receivers:
  - name: ci
    webhook_configs:
      - url: "https://alertbot:@@pw@@@hooks.@@o@@.net/alertmanager"
        send_resolved: true""", pw=pw, o=org()), [pw]


def a_clickhouse_headers():
    pw = mixed(24)
    return fill("""$ curl -sS "https://ch.@@o@@.internal:8443/?query=SELECT%20count()%20FROM%20events" \\
    -H "X-ClickHouse-User: @@u@@" -H "X-ClickHouse-Key: @@pw@@"
@@n@@""", o=org(), u=pick(["reader", "default"]), pw=pw, n=rint(10 ** 6, 10 ** 9)), [pw]


def a_grafana_bearer():
    t = "glsa_" + mixed(32) + "_" + hx(8)
    return fill("""curl -s -H "Authorization: Bearer @@t@@" https://@@o@@.grafana.net/api/dashboards/uid/@@uid@@ | jq '.dashboard.title'
"@@s@@ overview\"""", t=t, o=org(), uid=mixed(14, LOAL), s=svc()), [t]


def a_grpcurl_bearer():
    t = mixed(64, B64URL)
    return fill("""$ grpcurl -H 'authorization: Bearer @@t@@' -d '{"id":"@@id@@"}' api.@@o@@.io:443 billing.v1.InvoiceService/GetInvoice
{
  "id": "@@id@@",
  "status": "STATUS_PAID",
  "amountMinor": "@@amt@@"
}""", t=t, id=uid(), o=org(), amt=rint(100, 900000)), [t]


def a_proxy_authorization_curl_v():
    b = basic(user(), shellpw(14))
    return fill("""* Establish HTTP proxy tunnel to pypi.org:443
> CONNECT pypi.org:443 HTTP/1.1
> Host: pypi.org:443
> Proxy-Authorization: Basic @@b@@
> User-Agent: curl/8.5.0
> Proxy-Connection: Keep-Alive
>
< HTTP/1.1 200 Connection established""", b=b), [b]


def a_celery_redis_sentinel():
    pw = mixed(28)
    return fill("""CELERY_BROKER_URL = "sentinel://:@@pw@@@sentinel-0.@@o@@.internal:26379;sentinel://:@@pw@@@sentinel-1.@@o@@.internal:26379"
CELERY_BROKER_TRANSPORT_OPTIONS = {"master_name": "mymaster", "sentinel_kwargs": {"password": "@@pw@@"}}""", pw=pw,
                o=org()), [pw]


HTTP_AUTH = [a_curl_v_basic, a_curl_v_bearer_jwt, a_okta_ssws_curl, a_httpie_verbose, a_mitmproxy_dump,
             a_copy_as_fetch, a_python_http_debug, a_nginx_proxy_header, a_jdbc_query_password, a_adonet_conn,
             a_mongodb_srv, a_redis_cloud_url, a_amqps_url, a_sqlalchemy_engine, a_libpq_keyword_python,
             a_sqlplus_connect, a_odbc_string, a_go_mysql_dsn, a_proxy_env, a_git_remote_token, a_access_log_basic,
             a_wireshark_follow, a_dotnet_auth_header, a_postman_snippet_ssws, a_smtp_url, a_webhook_basic_url,
             a_clickhouse_headers, a_grafana_bearer, a_grpcurl_bearer, a_proxy_authorization_curl_v,
             a_celery_redis_sentinel]


# ================================================================ SECRET: json_escaped
def toolu():
    return "toolu_01" + rs(22)


def call_id():
    return "call_" + rs(24)


def wrap_result(inner, cmd, single_line_secrets=True):
    """Serialise a tool result as one of several agent harnesses logs it; returns (text, escape depth)."""
    kinds = list(range(11)) if single_line_secrets else [k for k in range(11) if k != 4]
    kind = pick(kinds)
    if kind == 0:   # CLI transcript JSONL line with a tool_result block
        d = {"parentUuid": uid(), "isSidechain": False, "userType": "external", "cwd": "/home/%s/%s" % (user(), pick(REPOS)),
             "sessionId": uid(), "version": ver(), "type": "user",
             "message": {"role": "user", "content": [{"tool_use_id": toolu(), "type": "tool_result", "content": inner,
                                                      "is_error": False}]},
             "uuid": uid(), "timestamp": ts()}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 1:   # chat-completions message list with a tool message
        cid = call_id()
        d = [{"role": "assistant", "content": None, "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": "bash", "arguments": json.dumps({"command": cmd})}}]},
             {"role": "tool", "tool_call_id": cid, "content": inner}]
        return json.dumps(d, ensure_ascii=False, indent=1), 1
    if kind == 2:   # rollout JSONL: function_call_output whose output is a JSON string
        d = {"timestamp": ts(), "type": "response_item", "payload": {
            "type": "function_call_output", "call_id": call_id(),
            "output": json.dumps({"output": inner, "metadata": {"exit_code": 0, "duration_seconds": round(R.random() * 4, 1)}},
                                 ensure_ascii=False)}}
        return json.dumps(d, ensure_ascii=False), 2
    if kind == 3:   # MCP JSON-RPC tools/call result
        d = {"jsonrpc": "2.0", "id": rint(2, 400), "result": {"content": [{"type": "text", "text": inner}], "isError": False}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 4:   # notebook cell with a stream output (one JSON string per line)
        lines = [ln + "\n" for ln in inner.split("\n")]
        lines[-1] = lines[-1][:-1]
        d = {"cell_type": "code", "execution_count": rint(3, 60), "metadata": {}, "source": ["!" + cmd],
             "outputs": [{"name": "stdout", "output_type": "stream", "text": lines}]}
        return json.dumps(d, ensure_ascii=False, indent=1), 1
    if kind == 5:   # AI-SDK style step with tool results
        d = {"stepType": "tool-result", "toolResults": [
            {"toolCallId": "call_" + rs(16), "toolName": "executeCommand", "args": {"command": cmd},
             "result": {"stdout": inner, "stderr": "", "exitCode": 0}}], "finishReason": "tool-calls"}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 6:   # serialised ToolMessage
        d = {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "ToolMessage"],
             "kwargs": {"content": inner, "tool_call_id": call_id(), "name": "terminal", "status": "success"}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 7:   # OpenTelemetry GenAI span export: the result attribute is a JSON string
        d = {"traceId": rs(32, "0123456789abcdef"), "spanId": rs(16, "0123456789abcdef"), "name": "execute_tool bash",
             "attributes": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "bash",
                            "gen_ai.tool.call.id": toolu(),
                            "gen_ai.tool.call.result": json.dumps({"stdout": inner, "exit_code": 0}, ensure_ascii=False)}}
        return json.dumps(d, ensure_ascii=False), 2
    if kind == 8:   # messages API request body captured by a proxy
        d = {"model": pick(["claude-sonnet-4-5", "claude-opus-4-1"]), "max_tokens": 8192, "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_X", "name": "bash", "input": {"command": cmd}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_X",
                                          "content": [{"type": "text", "text": inner}]}]}]}
        d["messages"][0]["content"][0]["id"] = d["messages"][1]["content"][0]["tool_use_id"] = toolu()
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 9:   # IDE chat export with a fenced response
        d = {"version": 3, "requests": [{"requestId": "request_" + uid(), "message": {"text": "run `%s`" % cmd},
                                         "response": [{"value": "Output:\n```\n" + inner + "\n```"}]}]}
        return json.dumps(d, ensure_ascii=False, indent=2), 1
    d = {"model": "qwen2.5-coder:14b", "messages": [{"role": "tool", "content": inner, "tool_name": "shell"}],
         "stream": False}
    return json.dumps(d, ensure_ascii=False), 1


def jcase(inner_fn):
    """inner_fn returns (command, tool output, secrets as they occur in the output)."""
    def f():
        cmd, inner, secrets = inner_fn()
        text, depth = wrap_result(inner, cmd, all("\n" not in s for s in secrets))
        return text, [esc(s, depth) for s in secrets]
    f.__name__ = inner_fn.__name__
    return f


def ji_cat_netrc():
    t = hx(8) + "-" + hx(4) + "-" + hx(4) + "-" + hx(4) + "-" + hx(12)
    return "cat ~/.netrc", "machine api.heroku.com\n  login %s\n  password %s\n" % (email(), t), [t]


def ji_pgpass():
    pw = urlpw(20)
    return "cat ~/.pgpass", "# hostname:port:database:username:password\n%s:5432:%s:%s:%s" % (host(), db(), user(), pw), [pw]


def ji_docker_config():
    a = basic(pick(["gitlab-ci-token", "deploy"]), glpat())
    inner = json.dumps({"auths": {"registry.gitlab.com": {"auth": a}}, "credsStore": "osxkeychain"}, indent="\t")
    return "cat ~/.docker/config.json", inner, [a]


def ji_kubeconfig_token():
    t = k8s_sa_token()
    inner = fill("""apiVersion: v1
kind: Config
users:
- name: argocd-manager
  user:
    token: @@t@@""", t=t)
    return "kubectl config view --raw --minify | tail -4", inner, [t]


def ji_kubeconfig_key_data():
    key = b64e(rsa_pem().encode() + b"\n")
    inner = "- name: admin@%s\n  user:\n    client-certificate-data: %s\n    client-key-data: %s" % (
        pick(["talos-home", "rke2-prod"]), b64e(rbytes(700)), key)
    return "grep -A3 'name: admin' ~/.kube/config", inner, [key]


def ji_curl_v_basic():
    b = basic(pick(["admin", "svc-sync"]), shellpw(16))
    h = "nexus.%s.net" % org()
    inner = fill("""> GET /service/rest/v1/repositories HTTP/1.1
> Host: @@h@@
> Authorization: Basic @@b@@
> User-Agent: curl/8.4.0
> Accept: */*
>
< HTTP/1.1 200 OK
< Content-Type: application/json""", h=h, b=b)
    return "curl -sv -u \"$NEXUS_USER:$NEXUS_PASS\" https://%s/service/rest/v1/repositories -o /dev/null" % h, inner, [b]


def ji_curl_v_ssws():
    t = okta_ssws()
    inner = "> GET /api/v1/apps HTTP/2\n> Host: %s.okta.com\n> accept: application/json\n> authorization: SSWS %s\n>\n< HTTP/2 200" % (
        org(), t)
    return "curl -sv https://%s.okta.com/api/v1/apps -H \"authorization: SSWS $OKTA_TOKEN\"" % org(), inner, [t]


def ji_env_file():
    pw, k = urlpw(22), "sk_live_" + mixed(99)
    inner = "# local overrides\nDATABASE_URL=postgresql://%s:%s@%s:5432/%s\nSTRIPE_SECRET_KEY=%s\nLOG_LEVEL=debug" % (
        user(), pw, host(), db(), k)
    return "cat .env.local", inner, [pw, k]


def ji_redis_conf_grep():
    pw = mixed(36)
    return "grep -n pass /etc/redis/redis.conf", "1036:# requirepass foobared\n1037:requirepass %s\n540:# masterauth <master-password>" % pw, [pw]


def ji_my_cnf():
    pw = password(18, ALNUM + "#%*-_.+")
    return "cat ~/.my.cnf", "[client]\nuser=root\npassword='%s'\nsocket=/var/run/mysqld/mysqld.sock" % pw, [pw]


def ji_aws_credentials():
    i, s = aws_id(), aws_secret()
    return "cat ~/.aws/credentials", "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s" % (
        i, s, pick(REGIONS)), [i, s]


def ji_jwk_private():
    k = ec_jwk()
    return "cat secrets/jwks.json", json.dumps({"keys": [k]}, indent=2), [k["d"]]


def ji_byte_array_rust():
    body = byte_lines(32, 8, "0x%02x")
    inner = "pub const MASTER_KEY: [u8; 32] = [\n    %s,\n];" % body
    return "sed -n 1,6p crates/vault/src/keys.rs", inner, [body]


def ji_az_sp_output():
    pw = mixed(3) + "8Q~" + mixed(34, ALNUM + "~._-")
    inner = json.dumps({"appId": uid(), "displayName": "tf-%s" % pick(REPOS), "password": pw, "tenant": uid()}, indent=2)
    return "az ad sp create-for-rbac --name tf-runner --skip-assignment", inner, [pw]


def ji_git_credentials():
    t = github_pat()
    return "cat ~/.git-credentials", "https://%s:%s@github.com" % (pick(USERS).replace("_", "-"), t), [t]


def ji_printenv_secret():
    t = "hf_" + mixed(34, UP + LO)
    return "printenv HF_TOKEN", t, [t]


def ji_mysql_cli_history():
    pw = urlpw(18)
    inner = "  501  mysql -uadmin -p%s -h %s %s < migrate.sql\n  502  history | tail -2" % (pw, host(), db())
    return "history | tail -2", inner, [pw]


def ji_pgpassword_ps():
    pw = urlpw(20)
    inner = "%s  %d  0.0  0.1  /bin/sh -c PGPASSWORD=%s pg_dump -h %s -U %s %s | gzip > /backup/%s.sql.gz" % (
        user(), rint(2000, 60000), pw, host(), user(), db(), db())
    return "ps -eo user,pid,pcpu,pmem,args | grep pg_dump | grep -v grep", inner, [pw]


def ji_connection_string_appsettings():
    pw = password(18, ALNUM + "#%*-_.+")
    inner = json.dumps({"Logging": {"LogLevel": {"Default": "Information"}}, "ConnectionStrings": {
        "Main": "Server=%s;Database=%s;User Id=%s;Password=%s;TrustServerCertificate=true" % (host(), db(), user(), pw)}},
                       indent=2)
    return "cat src/Api/appsettings.Development.json", inner, [pw]


def ji_google_app_password():
    ap = app_password()
    inner = "EMAIL_HOST=smtp.gmail.com\nEMAIL_PORT=587\nEMAIL_HOST_USER=%s@gmail.com\nEMAIL_HOST_PASSWORD=%s" % (
        org().replace("-", ""), ap)
    return "grep EMAIL_ deploy/.env", inner, [ap]


def ji_pypirc():
    t = pypi_token()
    return "cat ~/.pypirc", "[pypi]\n  username = __token__\n  password = %s" % t, [t]


def ji_wg_conf():
    k = wg_key()
    inner = "[Interface]\nPrivateKey = %s\nAddress = 10.66.0.%d/32\n\n[Peer]\nPublicKey = %s\nEndpoint = %s:51820\nAllowedIPs = 0.0.0.0/0" % (
        k, rint(2, 250), wg_key(), "198.51.100.%d" % rint(2, 250))
    return "sudo cat /etc/wireguard/wg0.conf", inner, [k]


def ji_ed25519_pem():
    pem = ed25519_pkcs8_pem()
    return "cat deploy/signing.pem", pem + "\n", [pem_body(pem)]


def ji_terraform_tfvars():
    pw, t = urlpw(22), tfc_token()
    inner = 'db_password = "%s"\ntfe_token   = "%s"\nregion      = "%s"' % (pw, t, pick(REGIONS))
    return "cat envs/prod/secrets.auto.tfvars", inner, [pw, t]


def ji_sshpass_script():
    pw = shellpw(14)
    inner = "#!/usr/bin/env bash\nset -euo pipefail\nsshpass -p '%s' rsync -az ./dist/ %s@%s:/var/www/app/" % (pw, user(), host())
    return "cat scripts/deploy.sh", inner, [pw]


def ji_http_request_log():
    t = mixed(40)
    inner = "%s DEBUG httpx: HTTP Request: GET https://api.%s.io/v1/accounts \"HTTP/1.1 200 OK\"\n%s DEBUG app.client: request headers={'accept': 'application/json', 'x-api-key': '%s'}" % (
        ts(), org(), ts(), t)
    return "tail -2 logs/worker.log", inner, [t]


def ji_kafka_props():
    pw = mixed(64, ALNUM + "+/")
    inner = ("security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
             "required username=\"%s\" password=\"%s\";" % (mixed(16, UPAL), pw))
    return "cat client.properties", inner, [pw]


def ji_mongosh_uri():
    pw = urlpw(18)
    inner = "Current Mongosh Log ID:\t%s\nConnecting to:\t\tmongodb://%s:%s@%s:27017/?authSource=admin&appName=mongosh+2.3.1\nUsing MongoDB:\t\t7.0.14" % (
        hx(24), user(), pw, host())
    return "mongosh \"$MONGO_URL\" --eval 'db.version()'", inner, [pw]


JSON_ESCAPED = [jcase(f) for f in [
    ji_cat_netrc, ji_pgpass, ji_docker_config, ji_kubeconfig_token, ji_kubeconfig_key_data, ji_curl_v_basic,
    ji_curl_v_ssws, ji_env_file, ji_redis_conf_grep, ji_my_cnf, ji_aws_credentials, ji_jwk_private, ji_byte_array_rust,
    ji_az_sp_output, ji_git_credentials, ji_printenv_secret, ji_mysql_cli_history, ji_pgpassword_ps,
    ji_connection_string_appsettings, ji_google_app_password, ji_pypirc, ji_wg_conf, ji_ed25519_pem,
    ji_terraform_tfvars, ji_sshpass_script, ji_http_request_log, ji_kafka_props, ji_mongosh_uri]]


# ================================================================ CLEAN: option_docs
def o_psql_backslash_help():
    return """$ psql -c '\\?' | sed -n '/^Connection/,/^$/p;/^Informational/,/\\\\dp/p'
Connection
  \\c[onnect] {[DBNAME|- USER|- HOST|- PORT|-] | conninfo}
                         connect to new database (currently "%s")
  \\conninfo              display information about current connection
  \\encoding [ENCODING]   show or set client encoding
  \\password [USERNAME]   securely change the password for a user

Informational
  (options: S = show system objects, x = expanded mode, + = additional detail)
  \\d[Sx+]                list tables, views, and sequences
  \\du[Sx+] [PATTERN]     list roles
  \\dp[Sx]  [PATTERN]     list table, view, and sequence access privileges""" % db()


def o_pg_basebackup_help():
    return """$ pg_basebackup --help | sed -n '/Connection options/,$p'
Connection options:
  -d, --dbname=CONNSTR   connection string
  -h, --host=HOSTNAME    database server host or socket directory
  -p, --port=PORT        database server port number
  -s, --status-interval=INTERVAL
                         time between status packets sent to server (in seconds)
  -U, --username=NAME    connect as specified database user
  -w, --no-password      never prompt for password
  -W, --password         force password prompt (should happen automatically)

Report bugs to <pgsql-bugs@lists.postgresql.org>.
PostgreSQL home page: <https://www.postgresql.org/>"""


def o_mysqladmin_help():
    return """$ mysqladmin --help | grep -E -A1 '^  -(p|u|S|h)|password'
  -h, --host=name     Connect to host.
  -p, --password[=name]
                      Password to use when connecting to server. If password is
  -S, --socket=name   The socket file to use for connection.
  -u, --user=name     User for login if not current user.
  password [new-password] Change old password to new-password in current format"""


def o_redis_sentinel_conf():
    return """# sentinel auth-pass <master-name> <password>
#
# Set the password to use to authenticate with the master and replicas.
# Useful if there is a password set in the Redis instances to monitor.
#
# Note that the master password is also used for replicas, so it is not
# possible to set a different password in masters and replicas instances
# if you want to be able to monitor these instances with Sentinel.
#
# Example:
#
# sentinel auth-pass mymaster MySUPER--secret-0123passw0rd

# sentinel auth-user <master-name> <username>
#
# This is useful in order to authenticate to instances having ACL capabilities,
# that is, running Redis 6.0 or greater."""


def o_curl_netrc_man():
    return """$ man curl | sed -n '/^       -n, --netrc$/,/^       --netrc-optional/p'
       -n, --netrc
              Make curl scan the .netrc file in the user's home directory for
              login name and password. This is typically used for FTP on Unix.
              If used with HTTP, curl enables user authentication. See
              netrc(5) and ftp(1) for details on the file format. Curl does
              not complain if that file does not have the right permissions
              (it should be neither world- nor group-readable).

              A quick and simple example of how to setup a .netrc to allow
              curl to FTP to the machine host.domain.com with username
              'myself' and password 'secret' could look similar to:

                     machine host.domain.com
                     login myself
                     password secret

       --netrc-optional"""


def o_openssl_s_client_psk():
    return """$ openssl s_client -help 2>&1 | grep -iE 'pass|psk|key'
 -key val                   Private key file to use; default is: -cert file
 -keyform format            Key format (DER/PEM)
 -pass val                  Private key and cert file pass phrase source
 -psk_identity val          PSK identity
 -psk val                   PSK in hex (without 0x)
 -psk_session infile        File to read PSK SSL session from
 -keylogfile outfile        Write TLS secrets to file
 -key2 infile               Private Key file to use for servername if not in -cert2"""


def o_openssl_genpkey_help():
    return """Usage: genpkey [options]
General options:
 -help               Display this summary
 -engine val         Use engine, possibly a hardware device
 -paramfile infile   Parameters file
 -algorithm val      The public key algorithm
 -quiet              Do not output status while generating keys
 -pkeyopt val        Set the public key algorithm option as opt:value
 -config infile      Load a configuration file (this may load modules)

Output options:
 -out outfile        Output (private key) file
 -outpubkey outfile  Output public key file
 -outform PEM|DER    output format (DER or PEM)
 -pass val           Output file pass phrase source
 -genparam           Generate parameters, not key
 -text               Print the private key in text
 -*                  Cipher to use to encrypt the key"""


def o_ssh_add_usage():
    return """$ ssh-add -h
usage: ssh-add [-cCDdKkLlqvXx] [-E fingerprint_hash] [-H hostkey_file]
               [-h destination_constraint] [-S provider] [-t life]
               [file ...]
       ssh-add -s pkcs11 [-Cv] [certificate ...]
       ssh-add -e pkcs11
       ssh-add -T pubkey ..."""


def o_ssh_config_man():
    return """     IdentityFile
             Specifies a file from which the user's ECDSA, authenticator-hosted
             ECDSA, Ed25519, authenticator-hosted Ed25519 or RSA authentication
             identity is read.  You can also specify a public key file to use
             the corresponding private key that is loaded in ssh-agent(1) when
             the private key file is not present locally.  The default is
             ~/.ssh/id_rsa, ~/.ssh/id_ecdsa, ~/.ssh/id_ecdsa_sk,
             ~/.ssh/id_ed25519 and ~/.ssh/id_ed25519_sk.

     PasswordAuthentication
             Specifies whether to use password authentication.  The argument to
             this keyword must be yes (the default) or no."""


def o_gpgconf_list_options():
    return """$ gpgconf --list-options gpg-agent | grep -E 'cache|pinentry|passphrase'
default-cache-ttl:24:0:expire cached PINs (passphrases) after N seconds:3:3:N:600::
max-cache-ttl:24:2:set maximum PIN cache lifetime to N seconds:3:3:N:7200::
ignore-cache-for-signing:8:0:do not use the PIN cache when signing:0:0::::
allow-preset-passphrase:8:1:allow presetting passphrase:0:0::::
min-passphrase-len:24:1:|N|set minimal required length for new passphrases to N:3:3::8::
enforce-passphrase-constraints:8:1:do not allow bypassing the passphrase policy:0:0::::
pinentry-timeout:24:1:|N|set the Pinentry timeout to N seconds:3:3::0::"""


def o_aws_rds_auth_token_help():
    return """GENERATE-DB-AUTH-TOKEN()                             GENERATE-DB-AUTH-TOKEN()

NAME
       generate-db-auth-token -

DESCRIPTION
       Generates an auth token used to connect to a db with IAM credentials.

SYNOPSIS
            generate-db-auth-token
          --hostname <value>
          --port <value>
          --username <value>
          [--region <value>]

OPTIONS
       --hostname (string) The hostname of the database to connect to.

       --port (integer) The port number the database is listening on.

       --username (string) The username to log in as."""


def o_aws_ssm_put_parameter_help():
    return """$ aws ssm put-parameter help | sed -n '/--type/,/--key-id/p'
       --type (string)
          The type of parameter that you want to create.

          NOTE:
              SecureString isn't currently supported for CloudFormation
              templates.

          Items of type SecureString are encrypted using the KMS key you
          specify with --key-id. If you don't specify a key ID, the system
          uses the default key associated with your Amazon Web Services
          account.

          Possible values:

          o String

          o StringList

          o SecureString

       --key-id (string)"""


def o_aws_export_credentials_help():
    return """$ aws configure export-credentials help | sed -n '/^OPTIONS/,/^EXAMPLES/p'
OPTIONS
       --format (string) The output format to display credentials. Defaults
       to `process`.

       o process - Display credentials as JSON output.

       o env - Display credentials as exported environment variables.

       o env-no-export - Display credentials as non-exported environment
         variables.

       o powershell - Display credentials as PowerShell environment
         variables.

       o windows-cmd - Display credentials as Windows cmd environment
         variables.

EXAMPLES"""


def o_gcloud_sql_set_password():
    return """NAME
    gcloud sql users set-password - changes a user's password in a given
        instance

SYNOPSIS
    gcloud sql users set-password USERNAME --instance=INSTANCE, -i INSTANCE
        [--async] [--host=HOST] [--discard-dual-password
          | --retain-password] [--password=PASSWORD
          | --prompt-for-password] [GCLOUD_WIDE_FLAG ...]

FLAGS
     --password=PASSWORD
        Cloud SQL user's password.

     --prompt-for-password
        Prompt for the Cloud SQL user's password with character echo disabled.
        The password is all typed characters up to but not including the RETURN
        or ENTER keypress."""


def o_az_sql_server_create_help():
    return """$ az sql server create --help | sed -n '/Arguments/,/Authentication Arguments/p'
Arguments
    --name -n                      [Required] : Name of the Azure SQL Server.
    --resource-group -g            [Required] : Name of resource group.
    --admin-password -p                       : The administrator login password (required for
                                                server creation).
    --admin-user -u                           : Administrator username for the server. Once
                                                created it cannot be changed.
    --assign-identity -i                      : Generate and assign an Azure Active Directory
                                                Identity for this server for use with key
                                                management services like Azure KeyVault.
    --enable-ad-only-auth                     : Enable Azure Active Directory Only Authentication
                                                for this server.
Authentication Arguments"""


def o_kubectl_options():
    return """$ kubectl options | grep -E 'token|password|username|client-key|as='
    --as='':
        Username to impersonate for the operation. User could be a regular user or a service account in a namespace.
    --client-key='':
        Path to a client key file for TLS
    --password='':
        Password for basic authentication to the API server
    --token='':
        Bearer token for authentication to the API server
    --username='':
        Username for basic authentication to the API server"""


def o_helm_pull_help():
    return """$ helm pull --help | grep -E -- '--(password|username|pass-credentials|key-file|cert-file|plain-http)'
      --cert-file string           identify HTTPS client using this SSL certificate file
      --key-file string            identify HTTPS client using this SSL key file
      --pass-credentials           pass credentials to all domains
      --password string            chart repository password where to locate the requested chart
      --plain-http                 use insecure HTTP connections for the chart download
      --username string            chart repository username where to locate the requested chart"""


def o_docker_secret_create_help():
    return """$ docker secret create --help

Usage:  docker secret create [OPTIONS] SECRET [file|-]

Create a secret from a file or STDIN as content

Options:
  -d, --driver string            Secret driver
  -l, --label list               Secret labels
      --template-driver string   Template driver"""


def o_vault_token_create_help():
    return """$ vault token create -h | sed -n '/Command Options/,$p' | head -24
Command Options:

  -display-name=<string>
      Name to associate with this token. This is a non-sensitive value that
      can be used to help identify created secrets (e.g. prefixes).

  -explicit-max-ttl=<duration>
      Explicit maximum lifetime for the token. Unlike normal TTLs, the maximum
      TTL is a hard limit and cannot be exceeded.

  -orphan
      Create the token with no parent. This prevents the token from being
      revoked when the token which created it expires.

  -policy=<string>
      Name of a policy to associate with this token. This can be specified
      multiple times to attach multiple policies.

  -use-limit=<int>
      Number of times the token can be used. After the last use, the token is
      automatically revoked. By default, tokens can be used an unlimited number
      of times until their expiration."""


def o_terraform_cli_config_docs():
    return """### Credentials

`credentials` blocks configure API tokens to use with a particular host. These
are consumed by `terraform login`, remote backends and private registries.

```hcl
credentials "app.terraform.io" {
  token = "xxxxxx.atlasv1.zzzzzzzzzzzzz"
}
```

If you'd rather not keep the token in a file, set an environment variable
named `TF_TOKEN_` followed by the hostname with periods encoded as
underscores, e.g. `TF_TOKEN_app_terraform_io`."""


def o_git_send_email_help():
    return """       --smtp-pass[=<password>]
           Password for SMTP-AUTH. The argument is optional: If no argument is
           specified, then the empty string is used as the password. Default is
           the value of sendemail.smtpPass, however --smtp-pass always
           overrides this value.

           Furthermore, passwords need not be specified in configuration files
           or on the command line. If a username has been specified (with
           --smtp-user or a sendemail.smtpUser), but no password has been
           specified (with --smtp-pass or sendemail.smtpPass), then a password
           is obtained using git-credential."""


def o_npm_login_help():
    return """$ npm login --help
Login to a registry user account

Usage:
npm adduser

Options:
[--registry <registry>] [--scope <@scope>] [--auth-type <web|legacy>]

alias: add-user

Run "npm help adduser" for more info"""


def o_python_keyring_help():
    return """$ python -m keyring --help
usage: keyring [-h] [-p KEYRING_PATH] [-b KEYRING_BACKEND] [--list-backends]
               [--disable] [--print-completion {bash,zsh,tcsh}]
               [{get,set,del,diagnose}] [service] [username]

positional arguments:
  {get,set,del,diagnose}
  service
  username

options:
  -h, --help            show this help message and exit
  -p, --keyring-path KEYRING_PATH
                        Path to the keyring backend
  -b, --keyring-backend KEYRING_BACKEND
                        Name of the keyring backend
  --list-backends       List keyring backends and exit
  --disable             Disable keyring and exit"""


def o_cargo_publish_help():
    return """$ cargo publish --help | sed -n '/Publish Options/,/Package Selection/p'
Publish Options:
      --dry-run                 Perform all checks without uploading
      --no-verify               Don't verify the contents by building them
      --allow-dirty             Allow dirty working directories to be packaged
      --index <INDEX>           Registry index URL to which to upload the package
      --registry <REGISTRY>     Registry to upload the package to
      --token <TOKEN>           Token to use when uploading

Package Selection:"""


def o_rclone_sftp_docs():
    return """#### --sftp-pass

The SSH password, leave blank to use ssh-agent.

**NB** Input to this must be obscured - see [rclone obscure](/commands/rclone_obscure/).

Properties:

- Config:      pass
- Env Var:     RCLONE_SFTP_PASS
- Type:        string
- Required:    false

#### --sftp-key-file

Path to PEM-encoded private key file.

Leave blank or set key-use-agent to use ssh-agent."""


def o_restic_key_help():
    return """$ restic key --help
The "key" command allows you to set multiple access keys or passwords
per repository.

Usage:
  restic key [command]

Available Commands:
  add         Add a new key (password) to the repository; returns the new key ID
  list        List keys (passwords)
  passwd      Change key (password); creates a new key ID and removes the old key ID, returns new key ID
  remove      Remove key ID (password) from the repository.

Flags:
  -h, --help   help for key"""


def o_borg_init_help():
    return """encryption mode TLDR
++++++++++++++++++++

The encryption mode can only be configured when creating a new repository - you can
neither configure it on a per-archive basis nor change the mode of an existing repository.

Use ``repokey``::

    borg init --encryption repokey /path/to/repo

Or ``repokey-blake2`` depending on which is faster on your client machines (see below)::

    borg init --encryption repokey-blake2 /path/to/repo

Borg will:

1. Ask you to come up with a passphrase.
2. Create a borg key (which contains 3 random secrets. See :ref:`key_files`).
3. Encrypt the key with your passphrase.
4. Store the encrypted borg key inside the repository directory (in the repo config)."""


def o_bcp_usage():
    return """usage: bcp {dbtable | query} {in | out | queryout | format} datafile
  [-m maxerrors]            [-f formatfile]          [-e errfile]
  [-F firstrow]             [-L lastrow]             [-b batchsize]
  [-n native type]          [-c character type]      [-w wide character type]
  [-N keep non-text native] [-q quoted identifier]
  [-t field terminator]     [-r row terminator]
  [-a packetsize]           [-K application intent]
  [-S server name or DSN if -D provided]             [-D treat -S as DSN]
  [-U username]             [-P password]
  [-T trusted connection]   [-v version]             [-R regional enable]
  [-k keep null values]     [-E keep identity values][-G Azure Active Directory Authentication]
  [-h "load hints"]         [-d database name]"""


def o_mycli_help():
    return """$ mycli --help | sed -n '1,/--ssl-ca/p'
Usage: mycli [OPTIONS] [DATABASE]

  A MySQL terminal client with auto-completion and syntax highlighting.

Options:
  -h, --host TEXT               Host address of the database.
  -P, --port INTEGER            Port number to use for connection. Honors
                                $MYSQL_TCP_PORT.
  -u, --user TEXT               User name to connect to the database.
  -S, --socket TEXT             The socket file to use for connection.
  -p, --password TEXT           Password to connect to the database.
  --pass TEXT                   Password to connect to the database.
  --ssh-user TEXT               User name to connect to ssh server.
  --ssh-password TEXT           Password to connect to ssh server.
  --ssh-key-filename TEXT       Private key filename (identify file) for the
                                ssh connection.
  --ssl-ca PATH                 CA file in PEM format."""


def o_ansible_connection_options():
    return """Connection Options:
  control as whom and how to connect to hosts

  --private-key PRIVATE_KEY_FILE, --key-file PRIVATE_KEY_FILE
                        use this file to authenticate the connection
  --scp-extra-args SCP_EXTRA_ARGS
                        specify extra arguments to pass to scp only (e.g. -l)
  -k, --ask-pass        ask for connection password
  --connection-password-file CONNECTION_PASSWORD_FILE, --conn-pass-file CONNECTION_PASSWORD_FILE
                        Connection password file
  -u REMOTE_USER, --user REMOTE_USER
                        connect as this user (default=None)

Privilege Escalation Options:
  --become-password-file BECOME_PASSWORD_FILE, --become-pass-file BECOME_PASSWORD_FILE
                        Become password file
  -K, --ask-become-pass
                        ask for privilege escalation password"""


def o_openfortivpn_help():
    return """Usage: openfortivpn [<host>[:<port>]] [-u <user>] [-p <pass>]
                    [--cookie=<cookie>] [--cookie-on-stdin]
                    [--otp=<otp>] [--otp-delay=<delay>] [--otp-prompt=<prompt>]
                    [--pinentry=<program>] [--realm=<realm>]
                    [--ifname=<ifname>] [--set-routes=<0|1>]

  -u <user>, --username=<user>  VPN account username.
  -p <pass>, --password=<pass>  VPN account password.
  -o <otp>, --otp=<otp>         One-Time-Password.
  --cookie=<cookie>             A valid session cookie (SVPNCOOKIE).
  --pinentry=<program>          Use the program to supply a secret instead of asking for it."""


def o_kcat_x_list():
    return """$ kcat -X list | grep -E '^(sasl|ssl)\\.(password|key|keystore|username|mechanisms)'
sasl.mechanisms                          |  *  |                 |        GSSAPI | high       | SASL mechanism to use for authentication. Supported: GSSAPI, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER. <br>*Type: string*
sasl.username                            |  *  |                 |               | high       | SASL username for use with the PLAIN and SASL-SCRAM-.. mechanisms <br>*Type: string*
sasl.password                            |  *  |                 |               | high       | SASL password for use with the PLAIN and SASL-SCRAM-.. mechanism <br>*Type: string*
ssl.key.password                         |  *  |                 |               | low        | Private key passphrase (for use with `ssl.key.location` and `set_ssl_cert()`) <br>*Type: string*
ssl.keystore.password                    |  *  |                 |               | low        | Client's keystore (PKCS#12) password. <br>*Type: string*"""


def o_pg_service_conf_sample():
    return fill("""# ~/.pg_service.conf -- sample, fill in per machine
# Connection parameters are the same as libpq keywords; leave password
# empty and keep it in ~/.pgpass instead.

[@@d@@-ro]
host=@@h@@
port=5432
dbname=@@d@@
user=readonly
password=

[@@d@@-admin]
host=@@h@@
dbname=@@d@@
user=
sslmode=verify-full""", d=db(), h=host())


def o_az_devops_login_help():
    return """$ az devops login --help

Command
    az devops login : Set the credential (PAT) to use for a particular organization.
        Refer https://aka.ms/azure-devops-cli-auth for more information on providing PAT as
        input.

Arguments
    --organization --org : Azure DevOps organization URL. You can configure the default
                           organization using az devops configure -d
                           organization=ORG_URL. Required if not configured as default or
                           picked up via git config. Example: https://dev.azure.com/MyOrganizationName/.

Examples
    Set the PAT by pasting it at the prompt or piping it in
        cat my_pat_token.txt | az devops login --org https://dev.azure.com/contoso/"""


def o_tea_login_add_help():
    return """NAME:
   tea logins add - Add a Gitea login

USAGE:
   tea logins add [command options] [arguments...]

OPTIONS:
   --name value, -n value      Login name
   --url value, -u value       Server URL (default: "https://gitea.com") [$GITEA_SERVER_URL]
   --no-version-check, --nv    Do not check version of Gitea instance (default: false)
   --token value, -t value     Access token. Can be obtained from Settings > Applications [$GITEA_SERVER_TOKEN]
   --user value                User for basic auth (will create token) [$GITEA_SERVER_USER]
   --password value, --pwd value  Password for basic auth (will create token) [$GITEA_SERVER_PASSWORD]
   --otp value                 OTP token for auth, if necessary [$GITEA_SERVER_OTP]
   --ssh-key value, -s value   Path to a SSH key/certificate to use, overrides auto-discovery"""


def o_jfrog_config_add_help():
    return """$ jf c add --help
Name:
  jf config add - Adds a server configuration.

Usage:
  jf c add [command options] [server ID]

Options:
  --access-token     [Optional] JFrog Platform access token.
  --basic-auth-only  [Default: false] Used for Artifactory authentication. Set to true to disable replacing username and password/API key with an automatically created access token.
  --interactive      [Default: true, unless $CI is true] Set to false if you do not want the config command to be interactive.
  --password         [Optional] JFrog Platform password.
  --password-stdin   [Default: false] Set to true if you'd like to provide the password via stdin.
  --ssh-key-path     [Optional] SSH key file path.
  --user             [Optional] JFrog Platform username."""


def o_cockroach_sql_help():
    return """$ cockroach sql --help | grep -E -- '--(url|certs-dir|user|insecure)'
      --certs-dir string             Path to the directory containing SSL certificates and keys. (default "${HOME}/.cockroach-certs")
      --insecure                     Connect to a cluster without using TLS nor authentication. This makes the client-server connection vulnerable to MITM attacks. Use with care.
      --url <postgres://...>         Connection URL, of the form: postgresql://[user[:passwd]@]host[:port]/[db][?parameters...]
  -u, --user string                  Database user name. (default "root")"""


def o_snowsql_help():
    return """Usage: snowsql [OPTIONS]

Options:
  -a, --accountname TEXT          Name assigned to your Snowflake account.
                                  Honors $SNOWSQL_ACCOUNT.
  -u, --username TEXT             Username to connect to Snowflake. Honors
                                  $SNOWSQL_USER.
  --authenticator TEXT            Authenticator: 'snowflake',
                                  'externalbrowser' (to use any IdP and a web
                                  browser), 'snowflake_jwt' or
                                  https://<okta_account_name>.okta.com
  --private-key-path PATH         Path to private key file in PEM format used
                                  for key pair authentication.
  --token TEXT                    The token to be used with oauth
                                  authentication method.

  (the password is read from $SNOWSQL_PWD or prompted for)"""


def o_databricks_configure_help():
    return """$ databricks configure --help
Configure authentication

  This command adds a profile to your ~/.databrickscfg file.
  You can write to a different file by setting the DATABRICKS_CONFIG_FILE environment variable.

  If this command is invoked in non-interactive mode, it will read the token from stdin.
  The host must be specified with the --host flag or the DATABRICKS_HOST environment variable.

Usage:
  databricks configure [flags]

Flags:
      --configure-cluster   Prompts to configure cluster
  -h, --help                help for configure
      --host string         Databricks workspace host."""


def o_mosquitto_conf_comments():
    return """# -----------------------------------------------------------------
# Default authentication and topic access control
# -----------------------------------------------------------------

# Control access to the broker using a password file. This file can be
# generated using the mosquitto_passwd utility. If TLS support is not compiled
# into mosquitto (it is recommended that TLS support should be included) then
# plain text passwords are used, in which case the file should be a text file
# with lines in the format:
# username:password
# The password (and colon) may be omitted if desired, although this
# offers very little in the way of security.
#password_file

#allow_anonymous false"""


def o_postfix_sasl_docs():
    return """Enabling SASL authentication in the Postfix SMTP client

  /etc/postfix/main.cf:
      smtp_sasl_auth_enable = yes
      smtp_tls_security_level = encrypt
      smtp_sasl_tls_security_options = noanonymous
      relayhost = [mail.isp.example]:submission
      smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd

  /etc/postfix/sasl_passwd:
      # destination                   credentials
      [mail.isp.example]:submission   username:password

  Postfix: # postmap /etc/postfix/sasl_passwd"""


def o_rsyncd_conf_man():
    return """       secrets file
              This parameter specifies the name of a file that contains the
              username:password and/or @groupname:password pairs used for
              authenticating this module. This file is only consulted if the
              "auth users" parameter is specified.  The file is line-based and
              contains one name:password pair per line.  Any line has a hash (#)
              as the very first character on the line is considered a comment
              and is skipped.  The passwords can contain any characters but be
              warned that many operating systems limit the length of passwords
              that can be typed at the client end, so you may find that
              passwords longer than 8 characters don't work."""


def o_php_ini_mysqli_defaults():
    return """[MySQLi]
; Maximum number of persistent links.  -1 means no limit.
; https://php.net/mysqli.max-persistent
mysqli.max_persistent = -1

; Default host for mysqli_connect() (doesn't apply in safe mode).
; https://php.net/mysqli.default-host
mysqli.default_host =

; Default user for mysqli_connect() (doesn't apply in safe mode).
; https://php.net/mysqli.default-user
mysqli.default_user =

; Default password for mysqli_connect() (doesn't apply in safe mode).
; Note that this is generally a *bad* idea to store passwords in this file.
; *Any* user with PHP access can run 'echo get_cfg_var("mysqli.default_pw")
; and reveal this password!  And of course, any users with read access to this
; file will be able to reveal the password as well.
; https://php.net/mysqli.default-pw
mysqli.default_pw ="""


def o_gitea_app_ini_docs():
    return """[security]
;; Whether the installer is disabled (set to true to disable the installer)
INSTALL_LOCK = false
;;
;; Global secret key that will be used
;; This key is VERY IMPORTANT. If you lose it, the data encrypted by it (like 2FA secret) can't be decrypted anymore.
SECRET_KEY =
;;
;; Alternative location to specify secret key, instead of this file; you cannot specify both this and SECRET_KEY, and must pick one
;; This key is VERY IMPORTANT. If you lose it, the data encrypted by it (like 2FA secret) can't be decrypted anymore.
;SECRET_KEY_URI = file:/etc/gitea/secret_key
;;
;; Secret used to validate communication within Gitea binary.
INTERNAL_TOKEN ="""


def o_ab_help():
    return """$ ab -h 2>&1 | grep -E '^\\s+-(A|P|C|H|X)'
    -C attribute    Add cookie, eg. 'Apache=1234'. (repeatable)
    -H attribute    Add Arbitrary header line, eg. 'Accept-Encoding: gzip'
    -A attribute    Add Basic WWW Authentication, the attributes
                    are a colon separated username and password.
    -P attribute    Add Basic Proxy Authentication, the attributes
                    are a colon separated username and password.
    -X proxy:port   Proxyserver and port number to use"""


def o_pk12util_usage():
    return """Usage:   pk12util -i importfile [-d certdir] [-P dbprefix] [-h tokenname]
                 [-k slotpwfile | -K slotpw] [-w p12filepwfile | -W p12filepw]
                 [-v]
Usage:   pk12util -o exportfile -n certname [-d certdir] [-P dbprefix]
                 [-c key_cipher] [-C cert_cipher] [-M mac_alg]
                 [-m | --key_len keyLen] [--cert_key_len certKeyLen] [-v]
                 [-k slotpwfile | -K slotpw]
                 [-w p12filepwfile | -W p12filepw]"""


def o_minisign_help():
    return """$ minisign -h
Usage:
minisign -G [-f] [-p pubkey_file] [-s seckey_file] [-W]
minisign -R [-s seckey_file] [-p pubkey_file]
minisign -C [-s seckey_file] [-W]
minisign -S [-l] [-x sig_file] [-s seckey_file] [-c untrusted_comment] [-t trusted_comment] -m file [file ...]
minisign -V [-H] [-x sig_file] [-p pubkey_file | -P pubkey] [-o] [-q] -m file

-G                generate a new key pair
-C                change/remove the password of the secret key
-s <seckey_file>  secret key file (default: ~/.minisign/minisign.key)
-W                do not encrypt/decrypt the secret key with a password"""


def o_systemd_creds_help():
    return """$ systemd-creds --help
systemd-creds [OPTIONS...] COMMAND ...

Display and Process Credentials.

Commands:
  list                    Show installed and available versions
  cat CREDENTIAL...       Show specified credentials
  setup                   Generate credentials host key, if not existing already
  encrypt INPUT OUTPUT    Encrypt plaintext credential file and write to
                          ciphertext credential file
  decrypt INPUT [OUTPUT]  Decrypt ciphertext credential file and write to
                          plaintext credential file

Options:
     --name=NAME          Override filename included in encrypted credential
     --with-key=host|tpm2|host+tpm2|null|auto|auto-initrd
                          Which keys to encrypt with
  -H                      Shortcut for --with-key=host"""


def o_cryptsetup_luksaddkey():
    return """$ cryptsetup --help | grep -iE 'key-?file|keyslot|new-keyfile'
  -d, --key-file=STRING               Read the key from a file
  -S, --key-slot=INT                  Slot number for new key (default is first free)
      --keyfile-offset=bytes          Number of bytes to skip in keyfile
  -l, --keyfile-size=bytes            Limits the read from keyfile
      --new-keyfile=STRING            Read the key for a new slot from a file
      --new-keyfile-offset=bytes      Number of bytes to skip in newly added keyfile
      --new-keyfile-size=bytes        Limits the read from newly added keyfile"""


def o_secret_tool_usage():
    return """$ secret-tool
usage: secret-tool store --label='label' attribute value ...
       secret-tool lookup attribute value ...
       secret-tool clear attribute value ...
       secret-tool search [--all] [--unlock] attribute value ...
       secret-tool lock --collection='collection'"""


def o_ps_convertto_securestring_help():
    return """NAME
    ConvertTo-SecureString

SYNTAX
    ConvertTo-SecureString [-String] <System.String> [[-SecureKey] <System.Security.SecureString>] [<CommonParameters>]

    ConvertTo-SecureString [-String] <System.String> [-AsPlainText] [-Force] [<CommonParameters>]

    ConvertTo-SecureString [-String] <System.String> [-Key <System.Byte[]>] [<CommonParameters>]

ALIASES
    None

REMARKS
    Get-Help cannot find the Help files for this cmdlet on this computer. It is displaying only partial help."""


def o_sudoers_man_nopasswd():
    return """     NOPASSWD and PASSWD
       By default, sudo requires that a user authenticate before running a command.  This
       behavior can be modified via the NOPASSWD tag.  Like a Runas_Spec, the NOPASSWD tag
       sets a default for the commands that follow it in the Cmnd_Spec_List.  Conversely, the
       PASSWD tag can be used to reverse things.  For example:

       ray     rushmore = NOPASSWD: /bin/kill, /bin/ls, /usr/bin/lprm

       would allow the user ray to run /bin/kill, /bin/ls, and /usr/bin/lprm as root on the
       machine “rushmore” without authenticating himself."""


def o_chpasswd_help():
    return """$ chpasswd --help
Usage: chpasswd [options]

Options:
  -c, --crypt-method METHOD     the crypt method (one of NONE DES MD5 SHA256 SHA512 YESCRYPT)
  -e, --encrypted               supplied passwords are encrypted
  -h, --help                    display this help message and exit
  -m, --md5                     encrypt the clear text password using
                                the MD5 algorithm
  -R, --root CHROOT_DIR         directory to chroot into
  -s, --sha-rounds              number of rounds for the SHA, BCRYPT
                                or YESCRYPT crypt algorithms"""


def o_pwgen_help():
    return """$ pwgen --help
Usage: pwgen [ OPTIONS ] [ pw_length ] [ num_pw ]

Options supported by pwgen:
  -c or --capitalize
	Include at least one capital letter in the password
  -n or --numerals
	Include at least one number in the password
  -y or --symbols
	Include at least one special symbol in the password
  -s or --secure
	Generate completely random passwords
  -B or --ambiguous
	Don't include ambiguous characters in the password
  -H or --sha1=path/to/file[#seed]
	Use sha1 hash of given file as a (not so) random generator"""


def o_cobra_generated_help():
    b = pick(["shipctl", "tenantctl", "relayd"])
    return fill("""$ @@b@@ push --help
Push a release bundle to the artifact store

Usage:
  @@b@@ push [flags] BUNDLE

Flags:
      --api-token string       API token for the artifact store (env: @@B@@_API_TOKEN)
      --api-token-file string  read the API token from this file instead
      --endpoint string        artifact store URL (default "https://artifacts.internal")
  -h, --help                   help for push
      --sign-key string        path to the minisign secret key used to sign the bundle
      --timeout duration       request timeout (default 30s)

Global Flags:
      --config string   config file (default is $HOME/.@@b@@.yaml)""", b=b, B=b.upper())


def o_argparse_secret_file():
    b = pick(["rotate_keys.py", "sync_users.py", "backfill.py"])
    return fill("""$ python scripts/@@b@@ -h
usage: @@b@@ [-h] [-k KEY_ID] [--secret-file FILE] [--token-env NAME] [--dry-run] {aws,gcp}

Rotate service credentials and push the new values to the secret store.

positional arguments:
  {aws,gcp}             which provider to rotate

options:
  -h, --help            show this help message and exit
  -k KEY_ID, --key-id KEY_ID
                        id of the key to rotate (default: the oldest active key)
  --secret-file FILE    where to read the admin credential from (default: $ADMIN_CREDENTIALS_FILE)
  --token-env NAME      environment variable holding the API token (default: OPS_TOKEN)
  --dry-run             print what would change without touching anything""", b=b)


def o_clap_metavar_token():
    return """Usage: webhook-relay [OPTIONS] --listen <ADDR> --upstream <URL>

Options:
  -l, --listen <ADDR>            Address to listen on [env: RELAY_LISTEN=]
  -u, --upstream <URL>           Where to forward verified deliveries
      --signing-secret <SECRET>  Secret used to verify the X-Hub-Signature-256 header [env: RELAY_SIGNING_SECRET]
      --token <TOKEN>            Bearer token added to forwarded requests [env: RELAY_UPSTREAM_TOKEN]
      --tls-key <PATH>           PEM private key for the listener
  -h, --help                     Print help (see more with '--help')"""


def o_env_reference_table():
    p = pick(["ACME", "PORTAL", "SYNC"])
    return fill("""## Configuration reference

| Variable | Type | Default | Description |
|---|---|---|---|
| `@@p@@_API_KEY` | string | — | Your API key (Settings → API keys). Required. |
| `@@p@@_API_SECRET` | string | — | Secret paired with the API key; only needed for signed requests. |
| `@@p@@_WEBHOOK_SECRET` | string | `""` | Used to verify webhook signatures; leave empty to skip verification in dev. |
| `@@p@@_TIMEOUT` | duration | `10s` | HTTP timeout. |
| `@@p@@_LOG_LEVEL` | enum | `info` | One of `debug`, `info`, `warn`, `error`. |""", p=p)


def o_man_environment_section():
    return """ENVIRONMENT
       PGHOST, PGPORT, PGUSER, PGDATABASE
              Default connection parameters (see Section 32.15).

       PGPASSWORD
              Password to be used when connecting. Use of this environment
              variable is not recommended for security reasons, because some
              operating systems allow non-root users to see process
              environment variables via ps; instead consider using a
              password file (see Section 32.16).

       PGPASSFILE
              Specifies the name of the password file to use for lookups. If
              not set, it defaults to ~/.pgpass (see Section 32.16)."""


def o_markdown_flags_table():
    return """| Flag | Short | Description |
|------|-------|-------------|
| `--password <PASS>` | `-p` | Use PASS as the password. Prefer `--password-file`. |
| `--password-file <FILE>` | | Read the password from FILE (first line). |
| `--password-stdin` | | Read the password from standard input. |
| `--token <TOKEN>` | `-t` | Personal access token; overrides `$GITLAB_TOKEN`. |
| `--key <KEYFILE>` | `-k` | Private key used for signing; `-` reads from stdin. |"""


OPTION_DOCS = [o_psql_backslash_help, o_pg_basebackup_help, o_mysqladmin_help, o_redis_sentinel_conf, o_curl_netrc_man,
               o_openssl_s_client_psk, o_openssl_genpkey_help, o_ssh_add_usage, o_ssh_config_man, o_gpgconf_list_options,
               o_aws_rds_auth_token_help, o_aws_ssm_put_parameter_help, o_aws_export_credentials_help,
               o_gcloud_sql_set_password, o_az_sql_server_create_help, o_kubectl_options, o_helm_pull_help,
               o_docker_secret_create_help, o_vault_token_create_help, o_terraform_cli_config_docs,
               o_git_send_email_help, o_npm_login_help, o_python_keyring_help, o_cargo_publish_help,
               o_rclone_sftp_docs, o_restic_key_help, o_borg_init_help, o_bcp_usage, o_mycli_help,
               o_ansible_connection_options, o_openfortivpn_help, o_kcat_x_list, o_pg_service_conf_sample,
               o_az_devops_login_help, o_tea_login_add_help, o_jfrog_config_add_help, o_cockroach_sql_help,
               o_snowsql_help, o_databricks_configure_help, o_mosquitto_conf_comments, o_postfix_sasl_docs,
               o_rsyncd_conf_man, o_php_ini_mysqli_defaults, o_gitea_app_ini_docs, o_ab_help, o_pk12util_usage,
               o_minisign_help, o_systemd_creds_help, o_cryptsetup_luksaddkey, o_secret_tool_usage,
               o_ps_convertto_securestring_help, o_sudoers_man_nopasswd, o_chpasswd_help, o_pwgen_help,
               o_cobra_generated_help, o_argparse_secret_file, o_clap_metavar_token, o_env_reference_table,
               o_man_environment_section, o_markdown_flags_table]

OPTION_LEADS = ["", "", "", "", "", "", "which flag should the CI job use here?\n\n", "from the docs:\n\n",
                "Tool output:\n", "so the non-interactive way would be one of these:\n\n",
                "relevant bit of the help text —\n\n"]


# ================================================================ CLEAN: infra_ids
def ami():
    return "ami-0" + hx(16)


def vpc():
    return "vpc-0" + hx(16)


def subnet():
    return "subnet-0" + hx(16)


def sg():
    return "sg-0" + hx(16)


def kms_arn(r=None, a=None):
    return "arn:aws:kms:%s:%s:key/%s" % (r or pick(REGIONS), a or acct(), uid())


def i_tf_plan_rds_sensitive():
    s = svc()
    return fill("""Terraform will perform the following actions:

  # aws_db_instance.@@u@@ will be created
  + resource "aws_db_instance" "@@u@@" {
      + address                     = (known after apply)
      + allocated_storage           = 100
      + arn                         = (known after apply)
      + db_subnet_group_name        = "@@s@@-private"
      + engine                      = "postgres"
      + engine_version              = "16.4"
      + id                          = (known after apply)
      + identifier                  = "@@s@@-prod"
      + kms_key_id                  = "@@kms@@"
      + manage_master_user_password = true
      + master_user_secret          = (known after apply)
      + password                    = (sensitive value)
      + resource_id                 = (known after apply)
      + username                    = "@@s2@@_admin"
      + vpc_security_group_ids      = [
          + "@@sg@@",
        ]
    }

Plan: 1 to add, 0 to change, 0 to destroy.""", u=s.replace("-", "_"), s=s, s2=s.replace("-", "_"), kms=kms_arn(), sg=sg())


def i_tf_apply_random_password():
    return fill("""random_password.db: Creating...
random_password.db: Creation complete after 0s [id=none]
google_sql_user.app: Creating...
google_sql_user.app: Still creating... [10s elapsed]
google_sql_user.app: Creation complete after 12s [id=app//@@p@@:@@r@@:@@inst@@]
google_secret_manager_secret_version.db_password: Creating...
google_secret_manager_secret_version.db_password: Creation complete after 1s [id=projects/@@num@@/secrets/@@inst@@-db-password/versions/1]

Apply complete! Resources: 3 added, 0 changed, 0 destroyed.

Outputs:

connection_name = "@@p@@:@@r@@:@@inst@@"
db_password = <sensitive>""", p="%s-prod" % org(), r=pick(["europe-west1", "us-central1"]), inst=svc(), num=rint(10 ** 11, 10 ** 12))


def i_tf_state_show_kms():
    a, r = acct(), pick(REGIONS)
    kid = uid()
    return fill("""$ terraform state show aws_kms_key.secrets
# aws_kms_key.secrets:
resource "aws_kms_key" "secrets" {
    arn                                = "arn:aws:kms:@@r@@:@@a@@:key/@@kid@@"
    bypass_policy_lockout_safety_check = false
    customer_master_key_spec           = "SYMMETRIC_DEFAULT"
    deletion_window_in_days            = 30
    description                        = "Envelope key for application secrets"
    enable_key_rotation                = true
    id                                 = "@@kid@@"
    is_enabled                         = true
    key_id                             = "@@kid@@"
    key_usage                          = "ENCRYPT_DECRYPT"
    multi_region                       = false
    rotation_period_in_days            = 365
    tags_all                           = {
        "team" = "platform"
    }
}""", r=r, a=a, kid=kid)


def i_kubectl_pods_wide():
    s = svc()
    rs_ = mixed(10, "bcdfghjklmnpqrstvwxz2456789")
    rows = []
    pool = rint(10000000, 99999999)
    for n in range(rint(3, 5)):
        rows.append("%s-%s-%s   1/1     Running   %d          %dd   10.244.%d.%d   aks-pool1-%s-vmss00000%d   <none>           <none>" % (
            s, rs_, rs(5, "bcdfghjklmnpqrstvwxz2456789"), rint(0, 3), rint(1, 30), rint(0, 9), rint(2, 250),
            pool, n))
    return "$ kubectl get pods -l app=%s -o wide\nNAME                              READY   STATUS    RESTARTS   AGE   IP             NODE                                NOMINATED NODE   READINESS GATES\n" % s + "\n".join(rows)


def i_kubectl_rs_yaml():
    s = svc()
    h = rs(10, "bcdfghjklmnpqrstvwxz2456789")
    return fill("""$ kubectl get rs @@s@@-@@h@@ -o yaml | head -30
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  annotations:
    deployment.kubernetes.io/desired-replicas: "3"
    deployment.kubernetes.io/revision: "@@rev@@"
  creationTimestamp: "@@t@@"
  generation: 2
  labels:
    app: @@s@@
    pod-template-hash: @@h@@
  name: @@s@@-@@h@@
  namespace: prod
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: true
    controller: true
    kind: Deployment
    name: @@s@@
    uid: @@u1@@
  resourceVersion: "@@rv@@"
  uid: @@u2@@
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/@@o@@/@@s@@@sha256:@@dig@@
        name: @@s@@""", s=s, h=h, rev=rint(4, 90), t=ts()[:19] + "Z", u1=uid(), rv=rint(10 ** 7, 10 ** 9), u2=uid(),
                o=org(), dig=hx(64))


def i_kubectl_events():
    s = svc()
    p = "%s-%s-%s" % (s, rs(10, "bcdfghjklmnpqrstvwxz2456789"), rs(5, "bcdfghjklmnpqrstvwxz2456789"))
    return fill("""$ kubectl get events -n prod --field-selector involvedObject.name=@@p@@
LAST SEEN   TYPE     REASON      OBJECT            MESSAGE
2m10s       Normal   Scheduled   pod/@@p@@   Successfully assigned prod/@@p@@ to ip-10-0-@@a@@-@@b@@.@@r@@.compute.internal
2m9s        Normal   Pulling     pod/@@p@@   Pulling image "@@acc@@.dkr.ecr.@@r@@.amazonaws.com/@@s@@@sha256:@@dig@@"
2m1s        Normal   Pulled      pod/@@p@@   Successfully pulled image in 7.912s (7.912s including waiting). Image size: @@sz@@ bytes.
2m1s        Normal   Created     pod/@@p@@   Created container: @@s@@
2m          Normal   Started     pod/@@p@@   Started container @@s@@""", p=p, a=rint(1, 250), b=rint(1, 250), r=pick(REGIONS),
                acc=acct(), s=s, dig=hx(64), sz=rint(10 ** 7, 10 ** 9))


def i_s3api_put_object():
    return fill("""$ aws s3api put-object --bucket @@b@@ --key reports/@@d@@.parquet --body out.parquet --server-side-encryption aws:kms
{
    "ETag": "\\"@@etag@@\\"",
    "ChecksumCRC64NVME": "@@crc@@",
    "ChecksumType": "FULL_OBJECT",
    "ServerSideEncryption": "aws:kms",
    "VersionId": "@@vid@@",
    "SSEKMSKeyId": "@@kms@@",
    "BucketKeyEnabled": true
}""", b="%s-%s" % (org(), pick(BUCKETS)), d=date(), etag=hx(32), crc=b64e(rbytes(8)), vid=mixed(32, ALNUM + "._"),
                kms=kms_arn())


def i_kms_list_grants():
    a, r = acct(), pick(REGIONS)
    kid = uid()
    return fill("""$ aws kms list-grants --key-id @@kid@@
{
    "Grants": [
        {
            "KeyId": "arn:aws:kms:@@r@@:@@a@@:key/@@kid@@",
            "GrantId": "@@g@@",
            "Name": "",
            "CreationDate": "@@t@@",
            "GranteePrincipal": "rds.@@r@@.amazonaws.com",
            "RetiringPrincipal": "rds.@@r@@.amazonaws.com",
            "IssuingAccount": "arn:aws:iam::@@a@@:root",
            "Operations": [
                "Decrypt",
                "Encrypt",
                "GenerateDataKey",
                "ReEncryptFrom",
                "ReEncryptTo",
                "CreateGrant",
                "DescribeKey"
            ]
        }
    ]
}""", kid=kid, r=r, a=a, g=hx(64), t=ts()[:19] + "+00:00")


def i_secretsmanager_version_ids():
    a, r = acct(), pick(REGIONS)
    name = "prod/%s/db" % svc()
    return fill("""$ aws secretsmanager list-secret-version-ids --secret-id @@n@@
{
    "Versions": [
        {
            "VersionId": "@@v1@@",
            "VersionStages": [
                "AWSCURRENT"
            ],
            "LastAccessedDate": "@@d1@@T00:00:00+00:00",
            "CreatedDate": "@@d1@@T03:12:44.918000+00:00",
            "KmsKeyIds": [
                "DefaultEncryptionKey"
            ]
        },
        {
            "VersionId": "@@v2@@",
            "VersionStages": [
                "AWSPREVIOUS"
            ],
            "CreatedDate": "@@d2@@T03:12:40.102000+00:00",
            "KmsKeyIds": [
                "DefaultEncryptionKey"
            ]
        }
    ],
    "ARN": "arn:aws:secretsmanager:@@r@@:@@a@@:secret:@@n@@-@@sfx@@",
    "Name": "@@n@@"
}""", n=name, v1=uid(), v2=uid(), d1=date(), d2=date(2025), r=r, a=a, sfx=mixed(6))


def i_cloudfront_invalidation():
    did = "E" + rs(13, UPAL)
    iid = "I" + rs(rint(13, 25), UPAL)
    return fill("""$ aws cloudfront create-invalidation --distribution-id @@did@@ --paths "/index.html" "/assets/*"
{
    "Location": "https://cloudfront.amazonaws.com/2020-05-31/distribution/@@did@@/invalidation/@@iid@@",
    "Invalidation": {
        "Id": "@@iid@@",
        "Status": "InProgress",
        "CreateTime": "@@t@@",
        "InvalidationBatch": {
            "Paths": {
                "Quantity": 2,
                "Items": ["/index.html", "/assets/*"]
            },
            "CallerReference": "cli-@@cr@@-@@n@@"
        }
    }
}""", did=did, iid=iid, t=ts(), cr=epoch(), n=rint(100000, 999999))


def i_lambda_publish_version():
    a, r = acct(), pick(REGIONS)
    f = svc()
    return fill("""{
    "FunctionName": "@@f@@",
    "FunctionArn": "arn:aws:lambda:@@r@@:@@a@@:function:@@f@@:@@v@@",
    "Runtime": "python3.12",
    "Role": "arn:aws:iam::@@a@@:role/@@f@@-exec",
    "Handler": "app.handler",
    "CodeSize": @@cs@@,
    "CodeSha256": "@@sha@@",
    "Version": "@@v@@",
    "KMSKeyArn": "arn:aws:kms:@@r@@:@@a@@:key/@@k@@",
    "State": "Active",
    "RevisionId": "@@rev@@",
    "Architectures": ["arm64"]
}""", f=f, r=r, a=a, v=rint(2, 80), cs=rint(10 ** 5, 10 ** 7), sha=b64e(rbytes(32)), k=uid(), rev=uid())


def i_cognito_client_ids():
    pool = "%s_%s" % (pick(REGIONS), mixed(9))
    rows = ",\n".join('        {\n            "ClientId": "%s",\n            "UserPoolId": "%s",\n            "ClientName": "%s"\n        }' % (
        rs(26, LOAL), pool, n) for n in ["web-spa", "ios-app", "admin-portal"])
    return "$ aws cognito-idp list-user-pool-clients --user-pool-id %s\n{\n    \"UserPoolClients\": [\n%s\n    ]\n}" % (pool, rows)


def i_ssm_describe_parameters():
    s = svc()
    return fill("""$ aws ssm describe-parameters --parameter-filters Key=Name,Option=BeginsWith,Values=/@@s@@/prod/ --query 'Parameters[].[Name,Type,KeyId,Version]' --output table
--------------------------------------------------------------------------
|                           DescribeParameters                           |
+------------------------------------+---------------+--------------+----+
|  /@@s@@/prod/db/host               |  String       |  None        |  3 |
|  /@@s@@/prod/db/password           |  SecureString |  alias/aws/ssm |  7 |
|  /@@s@@/prod/stripe/secret_key     |  SecureString |  alias/@@s@@ |  2 |
|  /@@s@@/prod/feature_flags         |  StringList   |  None        | 14 |
+------------------------------------+---------------+--------------+----+""", s=s)


def i_route53_zones():
    return fill("""{
    "HostedZones": [
        {
            "Id": "/hostedzone/Z0@@z1@@",
            "Name": "@@d@@.",
            "CallerReference": "@@cr1@@",
            "Config": { "Comment": "public", "PrivateZone": false },
            "ResourceRecordSetCount": @@n1@@
        },
        {
            "Id": "/hostedzone/Z0@@z2@@",
            "Name": "internal.@@d@@.",
            "CallerReference": "terraform-@@cr2@@",
            "Config": { "PrivateZone": true },
            "ResourceRecordSetCount": @@n2@@
        }
    ]
}""", z1=rs(19, UPAL), d=dom(), cr1=uid(), n1=rint(5, 200), z2=rs(19, UPAL), cr2=rint(10 ** 25, 10 ** 26), n2=rint(5, 90))


def i_gcloud_kms_versions():
    p = "%s-sec" % org()
    rows = "\n".join("projects/%s/locations/global/keyRings/app/cryptoKeys/secrets-dek/cryptoKeyVersions/%d  %s" % (
        p, i, st) for i, st in [(1, "DESTROYED"), (2, "DISABLED"), (3, "ENABLED")])
    return "$ gcloud kms keys versions list --key secrets-dek --keyring app --location global --project %s\nNAME                                                                                        STATE\n%s" % (p, rows)


def i_gcloud_secrets_versions_list():
    return fill("""$ gcloud secrets versions list stripe-secret-key --project @@p@@
NAME  STATE      CREATED              DESTROYED
4     enabled    @@d4@@T09:12:03  -
3     disabled   @@d3@@T16:40:51  -
2     destroyed  @@d2@@T11:02:19  @@d2@@T11:30:00
1     destroyed  @@d1@@T08:55:47  @@d1@@T09:01:12
$ gcloud secrets describe stripe-secret-key --project @@p@@ --format='value(etag,replication.automatic)'
"@@etag@@"	{}""", p="%s-prod" % org(), d4=date(), d3=date(), d2=date(2025), d1=date(2025), etag=hx(14))


def i_az_keyvault_secret_list():
    kv = "kv-%s-prod" % org().replace("-", "")
    rows = []
    for n in ["sql-admin-password", "storage-account-key", "stripe-webhook-secret"]:
        rows.append('  {\n    "attributes": {\n      "created": "%s",\n      "enabled": true,\n      "recoveryLevel": "Recoverable+Purgeable",\n      "updated": "%s"\n    },\n    "contentType": null,\n    "id": "https://%s.vault.azure.net/secrets/%s",\n    "managed": null,\n    "name": "%s",\n    "tags": {}\n  }' % (
            ts()[:19] + "+00:00", ts()[:19] + "+00:00", kv, n, n))
    return "$ az keyvault secret list --vault-name %s\n[\n%s\n]" % (kv, ",\n".join(rows))


def i_az_deployment_show():
    sub, rg = uid(), "rg-%s-prod" % svc()
    return fill("""$ az deployment group show -g @@rg@@ -n main --query '{id:id, correlationId:properties.correlationId, state:properties.provisioningState, outputs:properties.outputs}'
{
  "correlationId": "@@corr@@",
  "id": "/subscriptions/@@sub@@/resourceGroups/@@rg@@/providers/Microsoft.Resources/deployments/main",
  "outputs": {
    "keyVaultUri": { "type": "String", "value": "https://kv-@@o@@.vault.azure.net/" },
    "principalId": { "type": "String", "value": "@@pid@@" }
  },
  "state": "Succeeded"
}""", rg=rg, corr=uid(), sub=sub, o=org().replace("-", ""), pid=uid())


def i_ctr_images():
    rows = []
    for n in ["docker.io/library/postgres:16.4", "ghcr.io/%s/%s:%s" % (org(), svc(), ver()), "registry.k8s.io/pause:3.10"]:
        rows.append("%s  application/vnd.oci.image.index.v1+json  sha256:%s  %d.%d MiB  linux/amd64,linux/arm64  io.cri-containerd.image=managed" % (
            n, hx(64), rint(1, 400), rint(0, 9)))
    return "$ sudo ctr -n k8s.io images ls | head -4\nREF  TYPE  DIGEST  SIZE  PLATFORMS  LABELS\n" + "\n".join(rows)


def i_docker_save_tar_list():
    layers = [hx(64) for _ in range(4)]
    return "$ docker save %s:%s | tar -t | head -12\n" % (svc(), ver()) + "\n".join(
        ["blobs/", "blobs/sha256/"] + ["blobs/sha256/" + l for l in layers] + ["index.json", "manifest.json", "oci-layout",
                                                                               "repositories"])


def i_crane_config():
    return json.dumps({"architecture": "arm64", "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                                   "PYTHON_SHA256=" + hx(64), "PYTHON_VERSION=3.12.7"],
                                                           "Cmd": ["python3"], "WorkingDir": "/app"},
                       "created": ts(), "os": "linux",
                       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hx(64) for _ in range(3)]}}, indent=2)


def i_git_log_fuller():
    out = []
    msgs = R.sample(["Rotate signing keys via KMS instead of env (#%d)", "Drop legacy api_key column (#%d)",
                     "Move token refresh into middleware (#%d)", "Bump secrecy to 0.10 (#%d)",
                     "Hash API keys with a per-env pepper (#%d)"], 3)
    t = rint(9 * 3600, 12 * 3600)
    for m in msgs:
        n = person()
        e = "%s@%s" % (n.split()[0].lower(), dom())
        t -= rint(600, 7200)
        a = t - rint(60, 3000)
        out.append("commit %s\nAuthor:     %s <%s>\nAuthorDate: Thu Oct 1 %02d:%02d:%02d 2026 +0200\nCommit:     GitHub <noreply@github.com>\nCommitDate: Thu Oct 1 %02d:%02d:%02d 2026 +0200\n\n    %s\n" % (
            git_sha(), n, e, a // 3600, a // 60 % 60, a % 60, t // 3600, t // 60 % 60, t % 60, m % rint(100, 3000)))
    return "$ git log --format=fuller -3\n" + "\n".join(out)


def i_git_blame_long():
    lines = ["pub fn load_signing_key(cfg: &Config) -> Result<SigningKey> {",
             "    let path = cfg.signing_key_path.as_deref().unwrap_or(DEFAULT_KEY_PATH);",
             "    let pem = std::fs::read_to_string(path).with_context(|| format!(\"reading {path}\"))?;",
             "    SigningKey::from_pkcs8_pem(&pem).context(\"parsing signing key\")",
             "}"]
    out = []
    for i, l in enumerate(lines, 40):
        out.append("%s src/keys.rs (%-15s 2026-0%d-%02d 1%d:%02d:%02d +0000 %d) %s" % (
            git_sha(), pick(NAMES).split()[0], rint(1, 9), rint(1, 28), rint(0, 9), rint(0, 59), rint(0, 59), i, l))
    return "$ git blame -l -L 40,44 src/keys.rs\n" + "\n".join(out)


def i_git_verify_commit():
    fp = hx(40).upper()
    return fill("""$ git verify-commit -v HEAD
tree @@tree@@
parent @@par@@
author @@n@@ <@@e@@> @@ep@@ +0100
committer @@n@@ <@@e@@> @@ep@@ +0100

Add key rotation runbook
gpg: Signature made Mon 12 Oct 2026 10:41:07 CET
gpg:                using EDDSA key @@fp@@
gpg: Good signature from "@@n@@ <@@e@@>" [ultimate]""", tree=git_sha(), par=git_sha(), n=person(), e=email(), ep=epoch(), fp=fp)


def i_sha256sums_check():
    v = ver()
    names = ["%s_%s_%s.tar.gz" % (pick(["vault-sync", "keyctl", "tokend"]), v, p) for p in
             ["linux_amd64", "linux_arm64", "darwin_arm64", "windows_amd64"]]
    sums = "\n".join("%s  %s" % (hx(64), n) for n in names)
    return "$ cat SHA256SUMS\n%s\n$ sha256sum --ignore-missing -c SHA256SUMS\n%s: OK" % (sums, names[0])


def i_npm_pack_dry_run():
    name = "@%s/%s" % (org(), pick(["auth-client", "secrets-sdk", "token-utils"]))
    return fill("""$ npm pack --dry-run
npm notice
npm notice 📦  @@n@@@@@v@@
npm notice Tarball Contents
npm notice 1.1kB LICENSE
npm notice 2.4kB README.md
npm notice 8.7kB dist/index.js
npm notice 1.9kB dist/index.d.ts
npm notice 1.2kB package.json
npm notice Tarball Details
npm notice name: @@n@@
npm notice version: @@v@@
npm notice filename: @@fn@@-@@v@@.tgz
npm notice package size: 5.1 kB
npm notice unpacked size: 15.3 kB
npm notice shasum: @@sha@@
npm notice integrity: sha512-@@i1@@[...]@@i2@@==
npm notice total files: 5""", n=name, v=ver(), fn=name[1:].replace("/", "-"), sha=hx(40), i1=mixed(14, B64), i2=mixed(14, B64))


def i_go_version_m():
    mods = [("github.com/golang-jwt/jwt/v5", "v5.2.1"), ("golang.org/x/crypto", "v0.28.0"),
            ("github.com/hashicorp/vault/api", "v1.15.0"), ("github.com/aws/aws-sdk-go-v2/service/secretsmanager", "v1.34.2")]
    lines = ["\tdep\t%s\t%s\th1:%s" % (m, v, b64e(rbytes(32))) for m, v in mods]
    o = org()
    return "$ go version -m ./bin/tokend\n./bin/tokend: go1.23.2\n\tpath\tgithub.com/%s/tokend/cmd/tokend\n\tmod\tgithub.com/%s/tokend\t(devel)\t\n%s\n\tbuild\t-ldflags=\"-s -w\"\n\tbuild\tvcs.revision=%s\n\tbuild\tvcs.modified=false" % (
        o, o, "\n".join(lines), git_sha())


def i_cargo_lock_diff():
    out = []
    for name, old, new in [("hmac", "0.12.0", "0.12.1"), ("secrecy", "0.8.0", "0.10.3"), ("zeroize", "1.7.0", "1.8.1")]:
        out.append(" [[package]]\n name = \"%s\"\n-version = \"%s\"\n+version = \"%s\"\n source = \"registry+https://github.com/rust-lang/crates.io-index\"\n-checksum = \"%s\"\n+checksum = \"%s\"" % (
            name, old, new, hx(64), hx(64)))
    hunks = []
    line = rint(300, 500)
    for o in out:
        hunks.append("@@ -%d,7 +%d,7 @@ dependencies = [\n%s" % (line, line, o))
        line += rint(200, 900)
    return "$ git diff Cargo.lock\ndiff --git a/Cargo.lock b/Cargo.lock\nindex %s..%s 100644\n--- a/Cargo.lock\n+++ b/Cargo.lock\n" % (
        hx(10), hx(10)) + "\n".join(hunks)


def i_pip_compile_hashes():
    pkgs = [("cryptography", "43.0.3", "via pyjwt"), ("pyjwt[crypto]", "2.9.0", "via -r requirements.in"),
            ("keyring", "25.4.1", "via -r requirements.in")]
    out = []
    for n, v, via in pkgs:
        out.append("%s==%s \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\n    # %s" % (n, v, hx(64), hx(64), via))
    return "#\n# This file is autogenerated by pip-compile with Python 3.12\n# by the following command:\n#\n#    pip-compile --generate-hashes requirements.in\n#\n" + "\n".join(out)


def i_lambda_report_logs():
    out = []
    for _ in range(2):
        rid = uid()
        out.append("START RequestId: %s Version: $LATEST\n%s\t%s\tINFO\tfetched secret prod/%s/db (version AWSCURRENT) in %dms\nEND RequestId: %s\nREPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 512 MB\tMax Memory Used: %d MB" % (
            rid, ts(), rid, svc(), rint(4, 90), rid, rid, R.random() * 300, rint(5, 300), rint(60, 200)))
    return "\n".join(out)


def i_alb_access_log():
    out = []
    d, r, a, s_ = dom(), pick(REGIONS), acct(), svc()
    lb, tg, cert = hx(16), hx(16), uid()
    for _ in range(3):
        out.append('https %s app/%s-alb/%s 203.0.113.%d:%d 10.0.%d.%d:8080 0.001 0.0%d 0.000 200 200 %d %d "GET https://api.%s:443/v1/health HTTP/1.1" "kube-probe/1.31" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s "Root=1-%s-%s" "api.%s" "arn:aws:acm:%s:%s:certificate/%s" 0' % (
            ts(), s_, lb, rint(2, 250), rint(1024, 65000), rint(1, 250), rint(1, 250), rint(1, 9), rint(100, 900),
            rint(100, 5000), d, r, a, s_, tg, hx(8), hx(24), d, r, a, cert))
    return "\n".join(out)


def i_stripe_trigger():
    return fill("""$ stripe trigger payment_intent.succeeded
Setting up fixture for: payment_intent
Running fixture for: payment_intent
Trigger succeeded! Check dashboard for event details.
$ stripe events list --limit 2 | jq -r '.data[] | [.id, .type, .data.object.id, .data.object.customer // "-"] | @tsv'
evt_@@e1@@	payment_intent.succeeded	pi_@@p@@	cus_@@c@@
evt_@@e2@@	charge.succeeded	ch_@@ch@@	cus_@@c@@""", e1=mixed(24), p=mixed(24), c=mixed(14), e2=mixed(24), ch=mixed(24))


def i_vercel_deployments():
    s = svc()
    rows = "\n".join("  %-4s https://%s-%s-%s.vercel.app     ● Ready     Production     %ds     %s" % (
        "%dm" % rint(2, 59), s, mixed(9, LOAL), org(), rint(20, 90), user()) for _ in range(3))
    return "$ vercel ls %s\nVercel CLI 37.6.1\n> Deployments for %s/%s [%dms]\n\n  Age  Deployment                                      Status    Environment    Duration  Username\n%s\n\n$ vercel inspect --json | jq -r .id\ndpl_%s" % (
        s, org(), s, rint(200, 900), rows, mixed(28))


def i_jwt_cli_decode_header():
    return fill("""$ jwt decode --json "$ID_TOKEN" | jq '{header, payload: .payload | {iss, aud, sub, exp}}'
{
  "header": {
    "typ": "JWT",
    "alg": "RS256",
    "kid": "@@kid@@"
  },
  "payload": {
    "iss": "https://@@o@@.eu.auth0.com/",
    "aud": "@@aud@@",
    "sub": "auth0|@@sub@@",
    "exp": @@exp@@
  }
}""", kid=mixed(22, B64URL), o=org(), aud=mixed(32), sub=hx(24), exp=epoch())


def i_oauth_client_ids_config():
    return fill("""// src/config/auth.ts -- public values, safe to ship to the browser
export const authConfig = {
  google: {
    clientId: "@@n@@-@@g@@.apps.googleusercontent.com",
  },
  github: {
    clientId: "Iv23li@@gh@@",
  },
  redirectUri: `${window.location.origin}/auth/callback`,
  scopes: ["openid", "email", "profile"],
};""", n=rint(10 ** 11, 10 ** 12), g=rs(32, LOAL), gh=mixed(14))


def i_authorized_keys_options():
    ks = []
    for c in ["deploy@ci", "%s@laptop" % user(), "backup@nas01"]:
        ks.append('%sssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%s %s' % (
            pick(['', 'from="10.0.0.0/8",no-agent-forwarding ', 'command="/usr/local/bin/borg serve --restrict-to-path /srv/borg",restrict ']),
            b64e(rbytes(32))[:43], c))
    return "$ cat ~/.ssh/authorized_keys\n" + "\n".join(ks)


def i_known_hosts_hashed():
    out = []
    for t in ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + b64e(rbytes(32))[:43],
              "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB" + b64e(rbytes(65))[:87] + "="]:
        out.append("|1|%s|%s %s" % (b64e(rbytes(20)), b64e(rbytes(20)), t))
    return "$ tail -2 ~/.ssh/known_hosts\n" + "\n".join(out)


def i_pem_public_key_config():
    pub = pem_block("PUBLIC KEY", bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004") + rbytes(64))
    return "# config/jwt.yaml -- verification only; the signing key lives in KMS\njwt:\n  issuer: https://auth.%s\n  audience: %s-api\n  public_key: |\n%s" % (
        dom(), svc(), "\n".join("    " + l for l in pub.split("\n")))


def i_openssl_s_client_showcerts():
    c1 = pem_block("CERTIFICATE", bytes.fromhex("308205") + rbytes(700))
    d = dom()
    return fill("""$ openssl s_client -connect api.@@d@@:443 -servername api.@@d@@ -showcerts </dev/null 2>/dev/null | sed -n '1,/-----END CERTIFICATE-----/p'
CONNECTED(00000003)
---
Certificate chain
 0 s:CN=api.@@d@@
   i:C=US, O=Let's Encrypt, CN=R11
   a:PKEY: rsaEncryption, 2048 (bit); sigalg: RSA-SHA256
   v:NotBefore: Sep  2 08:14:11 2026 GMT; NotAfter: Dec  1 08:14:10 2026 GMT
@@c1@@""", d=d, c1=c1)


def i_x509_text():
    mod = ":".join("%02x" % b for b in rbytes(256))
    mod_lines = "\n".join("                    " + mod[i:i + 45] for i in range(0, len(mod), 45))
    return fill("""$ openssl x509 -in server.crt -noout -text | sed -n '1,30p'
Certificate:
    Data:
        Version: 3 (0x2)
        Serial Number:
            @@ser@@
        Signature Algorithm: sha256WithRSAEncryption
        Issuer: CN=@@o@@ Internal CA
        Subject: CN=@@s@@.@@o@@.internal
        Subject Public Key Info:
            Public Key Algorithm: rsaEncryption
                Public-Key: (2048 bit)
                Modulus:
                    00:@@mod@@
                Exponent: 65537 (0x10001)
        X509v3 extensions:
            X509v3 Subject Key Identifier:
                @@ski@@
            X509v3 Authority Key Identifier:
                @@aki@@""", ser=":".join("%02x" % b for b in rbytes(16)), o=org(), s=svc(), mod=mod_lines.strip(),
                ski=":".join("%02X" % b for b in rbytes(20)), aki=":".join("%02X" % b for b in rbytes(20)))


def i_kubeconfig_exec_plugin():
    ca = b64e(pem_block("CERTIFICATE", rbytes(500)).encode() + b"\n")
    c = "arn:aws:eks:%s:%s:cluster/%s" % (pick(REGIONS), acct(), pick(["prod", "platform", "data"]))
    return fill("""apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: @@ca@@
    server: https://@@h@@.gr7.@@r@@.eks.amazonaws.com
  name: @@c@@
contexts:
- context:
    cluster: @@c@@
    user: @@c@@
  name: @@c@@
current-context: @@c@@
kind: Config
users:
- name: @@c@@
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: ["--region", "@@r@@", "eks", "get-token", "--cluster-name", "@@cn@@", "--output", "json"]""",
                ca=ca, h=hx(32).upper(), r=c.split(":")[3], c=c, cn=c.split("/")[-1])


def i_webhook_cabundle():
    ca = b64e(pem_block("CERTIFICATE", rbytes(420)).encode() + b"\n")
    return fill("""apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: cert-manager-webhook
webhooks:
- admissionReviewVersions: ["v1"]
  clientConfig:
    caBundle: @@ca@@
    service:
      name: cert-manager-webhook
      namespace: cert-manager
      path: /validate
  failurePolicy: Fail
  name: webhook.cert-manager.io
  sideEffects: None""", ca=ca)


def i_helm_get_manifest_checksums():
    s = svc()
    return fill("""$ helm get manifest @@s@@ -n prod | grep -B2 -A6 'checksum/'
  template:
    metadata:
      annotations:
        checksum/config: @@c1@@
        checksum/secret: @@c2@@
        checksum/tls: @@c3@@
      labels:
        app.kubernetes.io/name: @@s@@
        app.kubernetes.io/instance: @@s@@""", s=s, c1=hx(64), c2=hx(64), c3=hx(64))


def i_vault_kv_metadata():
    return fill("""$ vault kv metadata get -mount=secret apps/@@s@@/db
====== Metadata Path ======
secret/metadata/apps/@@s@@/db

========== Metadata ==========
Key                     Value
---                     -----
cas_required            false
created_time            @@t1@@
current_version         @@cv@@
custom_metadata         map[owner:platform rotation:90d]
delete_version_after    0s
max_versions            10
oldest_version          @@ov@@
updated_time            @@t2@@

====== Version @@cv@@ ======
Key              Value
---              -----
created_time     @@t2@@
deletion_time    n/a
destroyed        false""", s=svc(), t1=ts(), t2=ts(), cv=rint(6, 20), ov=rint(1, 5))


def i_etcdctl_member_list():
    rows = "\n".join("| %s | started | etcd-%d | https://10.0.1.%d:2380 | https://10.0.1.%d:2379 |      false |" % (
        hx(16), i, 10 + i, 10 + i) for i in range(3))
    return "$ etcdctl member list -w table\n+------------------+---------+--------+-------------------------+-------------------------+------------+\n|        ID        | STATUS  |  NAME  |       PEER ADDRS        |      CLIENT ADDRS       | IS LEARNER |\n+------------------+---------+--------+-------------------------+-------------------------+------------+\n" + rows + "\n+------------------+---------+--------+-------------------------+-------------------------+------------+"


def i_pypi_json_digests():
    v = ver()
    return json.dumps({"info": {"name": "pyjwt", "version": v}, "urls": [
        {"filename": "PyJWT-%s-py3-none-any.whl" % v, "packagetype": "bdist_wheel",
         "digests": {"blake2b_256": hx(64), "md5": hx(32), "sha256": hx(64)}, "size": rint(20000, 40000),
         "upload_time_iso_8601": ts()},
        {"filename": "pyjwt-%s.tar.gz" % v, "packagetype": "sdist",
         "digests": {"blake2b_256": hx(64), "md5": hx(32), "sha256": hx(64)}, "size": rint(70000, 90000),
         "upload_time_iso_8601": ts()}]}, indent=2)


def i_gh_artifacts_json():
    return json.dumps({"total_count": 2, "artifacts": [
        {"id": rint(10 ** 9, 10 ** 10), "node_id": b64e(("08:Artifact%d" % rint(10 ** 9, 10 ** 10)).encode()).rstrip("="),
         "name": n, "size_in_bytes": rint(10 ** 4, 10 ** 8), "digest": "sha256:" + hx(64),
         "expired": False, "created_at": ts()[:19] + "Z",
         "workflow_run": {"id": rint(10 ** 10, 10 ** 11), "head_sha": git_sha(), "head_branch": "main"}}
        for n in ["dist", "sbom.spdx.json"]]}, indent=2)


def i_traceparent_headers():
    tid, sid = hx(32), hx(16)
    return fill("""< HTTP/2 200
< content-type: application/json
< traceparent: 00-@@tid@@-@@sid@@-01
< tracestate: dd=s:1;o:rum;t.dm:-0
< x-amzn-trace-id: Root=1-@@a@@-@@b@@;Parent=@@sid@@;Sampled=1
< x-amz-cf-id: @@cf@@==
< cf-ray: @@ray@@-AMS
< etag: W/"@@et@@\"""", tid=tid, sid=sid, a=hx(8), b=hx(24), cf=mixed(54, B64URL), ray=hx(16), et=hx(27))


def i_fstab_blkid():
    u1, u2 = uid(), uid()
    return fill("""$ sudo blkid
/dev/nvme0n1p1: UUID="@@e1@@" TYPE="vfat" PARTLABEL="EFI System Partition" PARTUUID="@@pu1@@"
/dev/nvme0n1p2: UUID="@@u1@@" TYPE="crypto_LUKS" PARTUUID="@@pu2@@"
/dev/mapper/root: UUID="@@u2@@" BLOCK_SIZE="4096" TYPE="ext4"
$ cat /etc/crypttab
root UUID=@@u1@@ none luks,discard""", e1="%s-%s" % (hx(4).upper(), hx(4).upper()), pu1=uid(), u1=u1, pu2=uid(), u2=u2)


def i_rekor_get():
    return fill("""$ rekor-cli get --log-index @@idx@@
LogID: c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d
Index: @@idx@@
IntegratedTime: @@t@@
UUID: 108e9186e8c5677a@@uuid@@
Body: {
  "HashedRekordObj": {
    "data": {
      "hash": {
        "algorithm": "sha256",
        "value": "@@h@@"
      }
    },
    "signature": {
      "content": "@@sig@@",
      "publicKey": {
        "content": "@@pk@@"
      }
    }
  }
}""", idx=rint(10 ** 7, 10 ** 8), t=ts(), uuid=hx(64), h=hx(64), sig=b64e(rbytes(71)),
                pk=b64e(pem_block("PUBLIC KEY", rbytes(91)).encode()))


def i_nix_fetch_hash():
    return fill("""{ lib, buildGoModule, fetchFromGitHub }:

buildGoModule rec {
  pname = "tokend";
  version = "@@v@@";

  src = fetchFromGitHub {
    owner = "@@o@@";
    repo = "tokend";
    rev = "v${version}";
    hash = "sha256-@@h1@@=";
  };

  vendorHash = "sha256-@@h2@@=";
  ldflags = [ "-s" "-w" ];
}""", v=ver(), o=org(), h1=b64e(rbytes(32))[:43], h2=b64e(rbytes(32))[:43])


def i_fly_secrets_list_digest():
    rows = "\n".join("%-22s %s\t%s" % (n, hx(16), date()) for n in ["DATABASE_URL", "SECRET_KEY_BASE", "STRIPE_API_KEY", "SENTRY_DSN"])
    return "$ fly secrets list -a %s\nNAME                   DIGEST                  \tCREATED AT\n%s" % (svc(), rows)


INFRA_IDS = [i_tf_plan_rds_sensitive, i_tf_apply_random_password, i_tf_state_show_kms, i_kubectl_pods_wide,
             i_kubectl_rs_yaml, i_kubectl_events, i_s3api_put_object, i_kms_list_grants, i_secretsmanager_version_ids,
             i_cloudfront_invalidation, i_lambda_publish_version, i_cognito_client_ids, i_ssm_describe_parameters,
             i_route53_zones, i_gcloud_kms_versions, i_gcloud_secrets_versions_list, i_az_keyvault_secret_list,
             i_az_deployment_show, i_ctr_images, i_docker_save_tar_list, i_crane_config, i_git_log_fuller,
             i_git_blame_long, i_git_verify_commit, i_sha256sums_check, i_npm_pack_dry_run, i_go_version_m,
             i_cargo_lock_diff, i_pip_compile_hashes, i_lambda_report_logs, i_alb_access_log, i_stripe_trigger,
             i_vercel_deployments, i_jwt_cli_decode_header, i_oauth_client_ids_config, i_authorized_keys_options,
             i_known_hosts_hashed, i_pem_public_key_config, i_openssl_s_client_showcerts, i_x509_text,
             i_kubeconfig_exec_plugin, i_webhook_cabundle, i_helm_get_manifest_checksums, i_vault_kv_metadata,
             i_etcdctl_member_list, i_pypi_json_digests, i_gh_artifacts_json, i_traceparent_headers, i_fstab_blkid,
             i_rekor_get, i_nix_fetch_hash, i_fly_secrets_list_digest]


# ================================================================ CLEAN: identifiers
def s_rustc_e0277():
    return fill("""error[E0277]: the trait bound `SecretToken: Serialize` is not satisfied
    --> src/auth/token_store.rs:@@l@@:23
     |
@@l@@  |     let body = serde_json::to_string(&refresh_token)?;
     |                ---------------------- ^^^^^^^^^^^^^^ the trait `Serialize` is not implemented for `SecretToken`
     |                |
     |                required by a bound introduced by this call
     |
     = note: for local types consider adding `#[derive(serde::Serialize)]` to your `SecretToken` type
     = note: `secrecy::SecretBox<str>` deliberately does not implement `Serialize`; use `ExposeSecret` explicitly

For more information about this error, try `rustc --explain E0277`.
error: could not compile `@@c@@` (lib) due to 1 previous error""", l=rint(40, 400), c=pick(["auth-core", "session", "gateway"]))


def s_go_undefined():
    return fill("""$ go build ./...
# github.com/@@o@@/@@r@@/internal/auth
internal/auth/middleware.go:@@a@@:18: undefined: jwtSigningKey
internal/auth/middleware.go:@@b@@:9: cannot use cfg.APIKeyHeader (variable of type *string) as string value in argument to r.Header.Get
internal/auth/refresh.go:@@c@@:2: missing return""", o=org(), r=pick(REPOS), a=rint(20, 90), b=rint(91, 160), c=rint(30, 200))


def s_tsc_ts2339():
    return fill("""src/lib/session.ts:@@a@@:31 - error TS2339: Property 'refreshToken' does not exist on type 'Session'.

@@a@@   const { accessToken, refreshToken } = session;
                                  ~~~~~~~~~~~~

src/routes/api/keys/+server.ts:@@b@@:9 - error TS2345: Argument of type 'string | undefined' is not assignable to parameter of type 'string'.
  Type 'undefined' is not assignable to type 'string'.

@@b@@   hashApiKey(env.API_KEY_PEPPER);
            ~~~~~~~~~~~~~~~~~~

Found 2 errors in 2 files.""", a=rint(10, 90), b=rint(10, 90))


def s_java_npe_filter():
    return fill("""@@t@@ ERROR 1 --- [nio-8080-exec-@@n@@] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception
java.lang.NullPointerException: Cannot invoke "String.startsWith(String)" because "apiKeyHeader" is null
	at com.@@o@@.security.ApiKeyAuthenticationFilter.doFilterInternal(ApiKeyAuthenticationFilter.java:57)
	at org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)
	at com.@@o@@.security.JwtTokenValidator.validate(JwtTokenValidator.java:88)
	at org.springframework.security.web.ObservationFilterChainDecorator$ObservationFilter.wrapFilter(ObservationFilterChainDecorator.java:240)""",
                t=ts(), n=rint(1, 10), o=org().replace("-", ""))


def s_python_keyerror_environ():
    return fill("""Traceback (most recent call last):
  File "/app/manage.py", line 22, in <module>
    main()
  File "/app/@@s@@/settings/production.py", line @@l@@, in <module>
    STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]
                        ~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^
  File "<frozen os>", line 714, in __getitem__
KeyError: 'STRIPE_SECRET_KEY'""", s=svc().replace("-", "_"), l=rint(20, 120))


def s_cs1061():
    return """Services/BlobArchiver.cs(41,38): error CS1061: 'ClientSecretCredential' does not contain a definition for 'GetTokenAsync' and no accessible extension method 'GetTokenAsync' accepting a first argument of type 'ClientSecretCredential' could be found [/src/Archiver/Archiver.csproj]
Services/KeyVaultSecrets.cs(17,29): warning CS8618: Non-nullable property 'SigningKeySecretName' must contain a non-null value when exiting constructor. [/src/Archiver/Archiver.csproj]
    0 Warning(s)
    1 Error(s)"""


def s_grep_env_reads():
    return fill("""$ rg -n 'API_KEY|SECRET|TOKEN' src/ --glob '!*.test.ts'
src/config.ts:12:  openaiApiKey: process.env.OPENAI_API_KEY ?? "",
src/config.ts:13:  webhookSecret: process.env.@@P@@_WEBHOOK_SECRET ?? "",
src/config.ts:14:  githubToken: process.env.GITHUB_TOKEN,
src/lib/github.ts:8:const octokit = new Octokit({ auth: config.githubToken });
src/lib/webhooks.ts:21:  const expected = createHmac("sha256", config.webhookSecret).update(raw).digest("hex");
src/server.ts:5:if (!config.openaiApiKey) throw new Error("OPENAI_API_KEY is not set");""", P=pick(["SHOPIFY", "GITHUB", "LINEAR"]))


def s_checkov_output():
    return """Check: CKV_AWS_41: "Ensure no hard coded AWS access key and secret key exists in provider"
	PASSED for resource: aws.default
	File: /providers.tf:1-8
Check: CKV_SECRET_6: "Base64 High Entropy String"
	PASSED for resource: 7e1d3a2b0f
	File: /modules/vault/main.tf
Check: CKV_AWS_149: "Ensure that Secrets Manager secret is encrypted using KMS CMK"
	FAILED for resource: aws_secretsmanager_secret.db_password
	File: /modules/rds/secrets.tf:1-5
	Guide: https://docs.prismacloud.io/en/enterprise-edition/policy-reference/aws-policies/aws-general-policies/bc-aws-general-95

		1 | resource "aws_secretsmanager_secret" "db_password" {
		2 |   name                    = "${var.name}/db-password"
		3 |   recovery_window_in_days = 7
		4 |   description             = "Master password for ${var.name}"
		5 | }"""


def s_rust_env_var_secrecy():
    return """use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

pub struct Settings {
    pub database_url: SecretString,
    pub signing_key: SecretString,
    pub stripe_api_key: Option<SecretString>,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            database_url: std::env::var("DATABASE_URL").context("DATABASE_URL not set")?.into(),
            signing_key: std::env::var("SIGNING_KEY").context("SIGNING_KEY not set")?.into(),
            stripe_api_key: std::env::var("STRIPE_API_KEY").ok().map(Into::into),
        })
    }
}"""


def s_go_viper_getenv():
    return """func loadConfig() (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix("LEDGER")
	v.AutomaticEnv()
	cfg := &Config{
		DBPassword:    os.Getenv("DB_PASSWORD"),
		JWTSecret:     v.GetString("jwt_secret"),
		SMTPPassword:  v.GetString("smtp_password"),
		APIKeyHeader:  v.GetString("api_key_header"),
	}
	if cfg.JWTSecret == "" {
		return nil, errors.New("LEDGER_JWT_SECRET must be set")
	}
	return cfg, nil
}"""


def s_t3_env_schema():
    return """import { createEnv } from "@t3-oss/env-nextjs";
import { z } from "zod";

export const env = createEnv({
  server: {
    DATABASE_URL: z.string().url(),
    CLERK_SECRET_KEY: z.string().min(1),
    RESEND_API_KEY: z.string().startsWith("re_"),
  },
  client: {
    NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: z.string().min(1),
  },
  runtimeEnv: {
    DATABASE_URL: process.env.DATABASE_URL,
    CLERK_SECRET_KEY: process.env.CLERK_SECRET_KEY,
    RESEND_API_KEY: process.env.RESEND_API_KEY,
    NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: process.env.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY,
  },
});"""


def s_django_environ():
    return """import environ

env = environ.Env(DEBUG=(bool, False))
environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY")
DATABASES = {"default": env.db("DATABASE_URL")}
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default=None)
SESSION_COOKIE_SECURE = True"""


def s_quarkus_config_property():
    return """@ApplicationScoped
public class TokenService {

    @ConfigProperty(name = "app.jwt.secret")
    String jwtSecret;

    @ConfigProperty(name = "app.jwt.refresh-token-ttl", defaultValue = "P30D")
    Duration refreshTokenTtl;

    @Inject
    @RestClient
    PasswordResetClient passwordResetClient;
}"""


def s_csharp_configuration_reads():
    return """var builder = WebApplication.CreateBuilder(args);

var signingKey = builder.Configuration["Jwt:SigningKey"]
    ?? throw new InvalidOperationException("Jwt:SigningKey missing");
var clientSecret = Environment.GetEnvironmentVariable("AZURE_CLIENT_SECRET");

builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
    .AddJwtBearer(o => o.TokenValidationParameters = new TokenValidationParameters
    {
        IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey)),
        ValidateAudience = true,
    });"""


def s_rails_credentials_dig():
    return """Aws.config.update(
  region: ENV.fetch("AWS_REGION", "eu-west-1"),
  credentials: Aws::Credentials.new(
    Rails.application.credentials.dig(:aws, :access_key_id),
    Rails.application.credentials.dig(:aws, :secret_access_key)
  )
)

ActionMailer::Base.smtp_settings = {
  user_name: "apikey",
  password: ENV.fetch("SENDGRID_API_KEY"),
  address: "smtp.sendgrid.net",
}"""


def s_php_getenv_config():
    return """<?php

return [
    'stripe' => [
        'key' => env('STRIPE_KEY'),
        'secret' => env('STRIPE_SECRET'),
        'webhook' => [
            'secret' => env('STRIPE_WEBHOOK_SECRET'),
            'tolerance' => env('STRIPE_WEBHOOK_TOLERANCE', 300),
        ],
    ],
    'mailgun' => [
        'domain' => env('MAILGUN_DOMAIN'),
        'secret' => getenv('MAILGUN_SECRET') ?: null,
    ],
];"""


def s_psql_d_oauth_tokens():
    return """$ psql -c '\\d+ oauth_access_tokens'
                                      Table "public.oauth_access_tokens"
     Column      |           Type           | Collation | Nullable |      Default      | Storage  |
-----------------+--------------------------+-----------+----------+-------------------+----------+
 id              | bigint                   |           | not null | generated always  | plain    |
 token_digest    | bytea                    |           | not null |                   | extended |
 refresh_digest  | bytea                    |           |          |                   | extended |
 application_id  | bigint                   |           | not null |                   | plain    |
 scopes          | text[]                   |           | not null | '{}'::text[]      | extended |
 expires_at      | timestamp with time zone |           | not null |                   | plain    |
 revoked_at      | timestamp with time zone |           |          |                   | plain    |
Indexes:
    "oauth_access_tokens_pkey" PRIMARY KEY, btree (id)
    "oauth_access_tokens_token_digest_key" UNIQUE CONSTRAINT, btree (token_digest)"""


def s_sql_create_users():
    return """CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           citext NOT NULL UNIQUE,
    password_hash   text NOT NULL,            -- argon2id PHC string
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    mfa_secret_enc  bytea,                    -- AES-GCM, key id in mfa_key_id
    mfa_key_id      smallint,
    reset_token_sha256 bytea,
    reset_token_expires_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX users_reset_token_idx ON users (reset_token_sha256) WHERE reset_token_sha256 IS NOT NULL;"""


def s_knex_migration():
    return fill("""// migrations/@@d@@_add_api_keys.js
exports.up = (knex) =>
  knex.schema.createTable("api_keys", (table) => {
    table.increments("id");
    table.integer("user_id").notNullable().references("users.id").onDelete("CASCADE");
    table.string("prefix", 12).notNullable().index();
    table.binary("key_hash").notNullable();
    table.string("reset_password_token").unique();
    table.timestamp("last_used_at");
    table.timestamps(true, true);
  });

exports.down = (knex) => knex.schema.dropTable("api_keys");""", d=date().replace("-", "") + "%06d" % rint(0, 235959))


def s_migrate_file_names():
    n = rint(10, 40)
    return fill("""$ ls db/migrations | tail -6
0000@@a@@_create_sessions.up.sql
0000@@a@@_create_sessions.down.sql
0000@@b@@_add_mfa_secret_to_users.up.sql
0000@@b@@_add_mfa_secret_to_users.down.sql
0000@@c@@_rename_api_token_to_token_digest.up.sql
0000@@c@@_rename_api_token_to_token_digest.down.sql""", a=n, b=n + 1, c=n + 2)


def s_nextest_output():
    tests = ["auth::tests::rejects_expired_refresh_token", "auth::tests::rotates_signing_key_when_expired",
             "api_keys::tests::hash_is_constant_time_compare", "secrets::vault::tests::renews_lease_before_ttl",
             "password::tests::argon2_params_match_owasp_minimums", "session::tests::cookie_key_must_be_64_bytes"]
    R.shuffle(tests)
    lines = ["        PASS [   %.3fs] %s %s" % (R.random() / 4, pick(["auth-core", "gateway"]), t) for t in tests[:5]]
    return "    Starting 5 tests across 2 binaries\n" + "\n".join(lines) + "\n------------\n     Summary [   0.412s] 5 tests run: 5 passed, 0 skipped"


def s_go_test_subtests():
    return """=== RUN   TestRotateSigningKey
=== RUN   TestRotateSigningKey/when_key_expired
=== RUN   TestRotateSigningKey/when_previous_key_still_valid
=== RUN   TestRotateSigningKey/kms_decrypt_fails
--- PASS: TestRotateSigningKey (0.02s)
    --- PASS: TestRotateSigningKey/when_key_expired (0.00s)
    --- PASS: TestRotateSigningKey/when_previous_key_still_valid (0.01s)
    --- PASS: TestRotateSigningKey/kms_decrypt_fails (0.00s)
=== RUN   TestAPIKeyMiddleware_MissingHeader
--- PASS: TestAPIKeyMiddleware_MissingHeader (0.00s)
PASS
ok  	github.com/acme/ledger/internal/auth	0.311s"""


def s_pytest_verbose_names():
    return fill("""tests/test_tokens.py::test_access_token_expires_after_ttl PASSED                [ 16%]
tests/test_tokens.py::test_refresh_token_is_single_use PASSED                  [ 33%]
tests/test_tokens.py::test_revoked_refresh_token_raises_TokenRevokedError PASSED [ 50%]
tests/test_api_keys.py::test_api_key_hash_uses_pepper PASSED                   [ 66%]
tests/test_api_keys.py::test_rotate_secret_key_when_expired FAILED             [ 83%]
tests/test_passwords.py::test_password_reset_link_single_use PASSED            [100%]

=================================== FAILURES ===================================
_____________________ test_rotate_secret_key_when_expired ______________________
tests/test_api_keys.py:@@l@@: in test_rotate_secret_key_when_expired
    assert rotated.key_id != old.key_id
E   AssertionError: assert 'k_@@n@@' != 'k_@@n@@'""", l=rint(40, 200), n=rint(10, 99))


def s_log_token_refreshed():
    out = []
    for _ in range(4):
        out.append(pick([
            "%s INFO  auth.refresh  token refreshed for user %d (expires_in=3600)" % (ts(), rint(1000, 99999)),
            "%s INFO  auth.password password reset requested user_id=%d channel=email" % (ts(), rint(1000, 99999)),
            "%s WARN  auth.apikey   rejected api key prefix=ak_%s reason=revoked" % (ts(), rs(4, LOAL)),
            "%s INFO  secrets.rotate rotation completed secret=prod/%s/db version %d -> %d" % (ts(), svc(), 7, 8),
            "%s DEBUG oauth.client  exchanging authorization code (client=web-spa, pkce=S256)" % ts()]))
    return "\n".join(out)


def s_openid_client_error():
    return fill("""OPError: invalid_grant (Token has been expired or revoked.)
    at processResponse (/app/node_modules/openid-client/lib/helpers/process_response.js:38:13)
    at Client.grant (/app/node_modules/openid-client/lib/client.js:1349:22)
    at async Client.refresh (/app/node_modules/openid-client/lib/client.js:1133:22)
    at async refreshAccessToken (/app/src/auth/google.ts:@@l@@:20) {
  error: 'invalid_grant',
  error_description: 'Token has been expired or revoked.'
}""", l=rint(20, 120))


def s_phpstan_output():
    return """ ------ --------------------------------------------------------------------------------
  Line   src/Service/TokenManager.php
 ------ --------------------------------------------------------------------------------
  42     Property App\\Service\\TokenManager::$refreshToken (string) does not accept
         string|null.
  77     Method App\\Service\\TokenManager::rotateSigningKey() should return
         App\\Security\\SigningKey but returns App\\Security\\SigningKey|null.
 ------ --------------------------------------------------------------------------------

 [ERROR] Found 2 errors"""


def s_playwright_report():
    return """Running 6 tests using 3 workers

  ✓  1 [chromium] › auth/login.spec.ts:12:5 › login › with wrong password shows error (1.2s)
  ✓  2 [chromium] › auth/login.spec.ts:28:5 › login › locks account after 5 failed passwords (3.4s)
  ✓  3 [chromium] › auth/reset.spec.ts:9:5 › password reset › token link works once (2.1s)
  ✓  4 [firefox] › auth/login.spec.ts:12:5 › login › with wrong password shows error (1.6s)
  ✘  5 [firefox] › settings/api-keys.spec.ts:20:5 › api keys › revealed secret is masked after reload (5.0s)
  ✓  6 [webkit] › auth/mfa.spec.ts:15:5 › mfa › totp secret QR is shown once (2.7s)

  1 failed
    [firefox] › settings/api-keys.spec.ts:20:5 › api keys › revealed secret is masked after reload
  5 passed (14.2s)"""


def s_pg_settings_password():
    return """app=> SELECT name, setting FROM pg_settings WHERE name ~ '(password|ssl_|krb)' ORDER BY 1;
          name          |          setting
------------------------+---------------------------
 krb_caseins_users      | off
 krb_server_keyfile     | FILE:/etc/postgresql/krb5.keytab
 password_encryption    | scram-sha-256
 ssl_ca_file            | /etc/ssl/certs/rds-ca.pem
 ssl_cert_file          | server.crt
 ssl_key_file           | server.key
 ssl_passphrase_command |
 ssl_passphrase_command_supports_reload | off
(8 rows)"""


def s_mysql_validate_password():
    return """mysql> SHOW VARIABLES LIKE 'validate_password%';
+-------------------------------------------------+--------+
| Variable_name                                   | Value  |
+-------------------------------------------------+--------+
| validate_password.changed_characters_percentage | 0      |
| validate_password.check_user_name               | ON     |
| validate_password.dictionary_file               |        |
| validate_password.length                        | 12     |
| validate_password.mixed_case_count              | 1      |
| validate_password.number_count                  | 1      |
| validate_password.policy                        | MEDIUM |
| validate_password.special_char_count            | 1      |
+-------------------------------------------------+--------+
8 rows in set (0.01 sec)"""


def s_redis_config_get_empty():
    return """127.0.0.1:6379> CONFIG GET requirepass
1) "requirepass"
2) ""
127.0.0.1:6379> CONFIG GET masterauth
1) "masterauth"
2) ""
127.0.0.1:6379> ACL WHOAMI
"default\""""


def s_keycloak_events():
    out = []
    realm = uid()
    for t in ["LOGIN_ERROR", "LOGIN", "CODE_TO_TOKEN", "REFRESH_TOKEN_ERROR"]:
        err = {"LOGIN_ERROR": ", error=\"invalid_user_credentials\"", "REFRESH_TOKEN_ERROR": ", error=\"invalid_token\""}.get(t, "")
        out.append("%s WARN  [org.keycloak.events] (executor-thread-%d) type=\"%s\", realmId=\"%s\", clientId=\"%s\", userId=\"%s\", ipAddress=\"198.51.100.%d\"%s" % (
            ts()[:23].replace("T", " "), rint(1, 40), t, realm, pick(["web-spa", "admin-cli", "mobile"]), uid(), rint(2, 250), err))
    return "\n".join(out)


def s_sshd_auth_log():
    fp = b64e(rbytes(32))[:43]
    return fill("""@@m@@ bastion sshd[@@p1@@]: Failed password for invalid user admin from 203.0.113.@@a@@ port @@po@@ ssh2
@@m@@ bastion sshd[@@p1@@]: Connection closed by invalid user admin 203.0.113.@@a@@ port @@po@@ [preauth]
@@m@@ bastion sshd[@@p2@@]: Accepted publickey for @@u@@ from 10.0.4.@@b@@ port @@po2@@ ssh2: ED25519 SHA256:@@fp@@
@@m@@ bastion sshd[@@p2@@]: pam_unix(sshd:session): session opened for user @@u@@(uid=1001) by (uid=0)""",
                m="Oct %2d %s" % (rint(1, 28), hms()), p1=rint(1000, 60000), a=rint(2, 250), po=rint(30000, 65000),
                p2=rint(1000, 60000), u=user(), b=rint(2, 250), po2=rint(30000, 65000), fp=fp)


def s_trivy_config_finding():
    return """configmap.yaml (kubernetes)
==========================
Tests: 92 (SUCCESSES: 91, FAILURES: 1)
Failures: 1 (UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 1, CRITICAL: 0)

AVD-KSV-0109 (HIGH): ConfigMap 'app-config' in 'default' namespace stores secrets in key(s) or value(s) '{"DB_PASSWORD"}'
════════════════════════════════════════
Storing secrets in configMaps is unsafe
────────────────────────────────────────
 configmap.yaml:1-7
────────────────────────────────────────
   1 ┌ apiVersion: v1
   2 │ kind: ConfigMap
   3 │ metadata:
   4 │   name: app-config
   5 │ data:
   6 │   DB_HOST: postgres
   7 └   DB_PASSWORD: ${DB_PASSWORD}"""


def s_cargo_tree_crypto():
    return fill("""$ cargo tree -e normal -i secrecy
secrecy v0.10.3
└── @@c@@ v0.4.0 (/src/crates/@@c@@)
    ├── gateway v0.9.1 (/src/crates/gateway)
    └── token-cli v0.2.0 (/src/crates/token-cli)
$ cargo tree -p @@c@@ --depth 1
@@c@@ v0.4.0 (/src/crates/@@c@@)
├── aes-gcm v0.10.3
├── argon2 v0.5.3
├── hmac v0.12.1
├── jsonwebtoken v9.3.0
├── secrecy v0.10.3
└── zeroize v1.8.1""", c=pick(["auth-core", "keyring", "vault-client"]))


def s_kubectl_api_resources_secret():
    return """$ kubectl api-resources | grep -iE 'secret|token|certif'
secrets                                        v1                                  true         Secret
tokenreviews                                   authentication.k8s.io/v1            false        TokenReview
certificatesigningrequests        csr          certificates.k8s.io/v1              false        CertificateSigningRequest
externalsecrets                   es           external-secrets.io/v1              true         ExternalSecret
secretstores                      ss           external-secrets.io/v1              true         SecretStore
sealedsecrets                                  bitnami.com/v1alpha1                true         SealedSecret"""


def s_pip_list_crypto():
    return """$ pip list 2>/dev/null | grep -iE 'crypt|jwt|keyring|secret|passlib|jose'
argon2-cffi              23.1.0
argon2-cffi-bindings     21.2.0
cryptography             43.0.3
keyring                  25.4.1
passlib                  1.7.4
PyJWT                    2.9.0
python-jose              3.3.0
SecretStorage            3.3.3"""


def s_libsodium_header():
    return """#define crypto_secretbox_KEYBYTES crypto_secretbox_xsalsa20poly1305_KEYBYTES
SODIUM_EXPORT
size_t  crypto_secretbox_keybytes(void);

#define crypto_secretbox_NONCEBYTES crypto_secretbox_xsalsa20poly1305_NONCEBYTES
SODIUM_EXPORT
size_t  crypto_secretbox_noncebytes(void);

SODIUM_EXPORT
int crypto_secretbox_easy(unsigned char *c, const unsigned char *m,
                          unsigned long long mlen, const unsigned char *n,
                          const unsigned char *k) __attribute__ ((nonnull(1, 4, 5)));

SODIUM_EXPORT
void crypto_secretbox_keygen(unsigned char k[crypto_secretbox_KEYBYTES])
            __attribute__ ((nonnull));"""


def s_stat_key_file():
    return fill("""$ stat /etc/ssl/private/@@s@@.key
  File: /etc/ssl/private/@@s@@.key
  Size: @@sz@@      	Blocks: 8          IO Block: 4096   regular file
Device: 259,2	Inode: @@ino@@     Links: 1
Access: (0600/-rw-------)  Uid: (    0/    root)   Gid: (    0/    root)
Access: @@d@@ 02:14:09.118402143 +0000
Modify: @@d@@ 02:14:09.118402143 +0000
Change: @@d@@ 02:14:09.122402161 +0000
 Birth: @@d@@ 02:14:09.118402143 +0000""", s=svc(), sz=pick([227, 241, 1704, 3272]), ino=rint(10 ** 5, 10 ** 7), d=date())


def s_lsp_workspace_symbols():
    return """Workspace symbols matching "secret":
  Struct     SecretManagerClient            src/infra/secret_manager.rs:14
  Function   fetch_secret_version           src/infra/secret_manager.rs:52
  Function   rotate_client_secret           src/oauth/clients.rs:201
  Enum       SecretSource                   src/config/mod.rs:33
  Variant    SecretSource::EnvVar           src/config/mod.rs:34
  Variant    SecretSource::VaultPath        src/config/mod.rs:35
  Constant   DEFAULT_SECRET_TTL             src/infra/secret_manager.rs:9
  Test       secret_is_zeroized_on_drop     src/infra/secret_manager.rs:188"""


def s_helm_values_schema():
    return json.dumps({"$schema": "https://json-schema.org/draft-07/schema#", "type": "object", "properties": {
        "auth": {"type": "object", "properties": {
            "existingSecret": {"type": "string", "default": "", "description": "Name of an existing Secret with the credentials"},
            "secretKeys": {"type": "object", "properties": {
                "adminPasswordKey": {"type": "string", "default": "admin-password"},
                "userPasswordKey": {"type": "string", "default": "user-password"},
                "replicationPasswordKey": {"type": "string", "default": "replication-password"}}},
            "usePasswordFiles": {"type": "boolean", "default": True}}}}}, indent=2)


def s_serde_struct_rename():
    return """#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssumedCredentials {
    pub access_key_id: String,
    #[serde(rename = "secretAccessKey")]
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    pub expiration: OffsetDateTime,
}

#[derive(Debug, Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    pub redirect_uris: Vec<Url>,
}"""


def s_go_struct_tags():
    return """type ClientCredentials struct {
	ClientID     string `json:"client_id" validate:"required"`
	ClientSecret string `json:"client_secret" validate:"required" log:"-"`
	TokenURL     string `json:"token_url" validate:"url"`
	Scopes       []string `json:"scopes"`
}

type DBConfig struct {
	Host         string `env:"DB_HOST" envDefault:"localhost"`
	Password     string `env:"DB_PASSWORD,required,unset"`
	PasswordFile string `env:"DB_PASSWORD_FILE"`
}"""


def s_stripe_masked_error():
    return fill("""StripeAuthenticationError: Invalid API Key provided: sk_live_****************************************************************************************@@l4@@
    at res.toJSON.then.StripeAPIError.message (/app/node_modules/stripe/cjs/RequestSender.js:95:31)
    at process.processTicksAndRejections (node:internal/process/task_queues:105:5) {
  type: 'StripeAuthenticationError',
  statusCode: 401,
  requestId: 'req_@@rid@@'
}""", l4=mixed(4), rid=mixed(14))


def s_dart_analyze():
    return """Analyzing app...

  error • lib/data/secure_storage.dart:31:12 • The method 'readRefreshToken' isn't defined for the type 'SecureStorage'. Try correcting the name to the name of an existing method, or defining a method named 'readRefreshToken'. • undefined_method
warning • lib/auth/api_key_interceptor.dart:18:9 • The value of the local variable 'apiKey' isn't used. Try removing the variable or using it. • unused_local_variable
   info • lib/auth/password_field.dart:44:7 • Use 'const' with the constructor to improve performance. • prefer_const_constructors

3 issues found."""


def s_kotlin_encrypted_prefs():
    return """class TokenRepository(context: Context) {
    private val masterKey = MasterKey.Builder(context)
        .setKeyScheme(MasterKey.KeyScheme.AES256_GCM)
        .build()

    private val prefs = EncryptedSharedPreferences.create(
        context,
        "auth_tokens",
        masterKey,
        EncryptedSharedPreferences.PrefKeyEncryptionScheme.AES256_SIV,
        EncryptedSharedPreferences.PrefValueEncryptionScheme.AES256_GCM,
    )

    var refreshToken: String?
        get() = prefs.getString(KEY_REFRESH_TOKEN, null)
        set(value) = prefs.edit { putString(KEY_REFRESH_TOKEN, value) }
}"""


def s_clippy_warning():
    return fill("""warning: this argument is passed by value, but not consumed in the function body
  --> crates/@@c@@/src/api_key.rs:@@l@@:28
   |
@@l@@ | pub fn verify_api_key(presented: String, stored_hash: &[u8]) -> bool {
   |                                  ^^^^^^ help: consider changing the type to: `&str`
   |
   = help: for further information visit https://rust-lang.github.io/rust-clippy/master/index.html#needless_pass_by_value
   = note: `-W clippy::needless-pass-by-value` implied by `-W clippy::pedantic`""", c=pick(["auth-core", "gateway"]), l=rint(10, 99))


IDENTIFIERS = [s_rustc_e0277, s_go_undefined, s_tsc_ts2339, s_java_npe_filter, s_python_keyerror_environ, s_cs1061,
               s_grep_env_reads, s_checkov_output, s_rust_env_var_secrecy, s_go_viper_getenv, s_t3_env_schema,
               s_django_environ, s_quarkus_config_property, s_csharp_configuration_reads, s_rails_credentials_dig,
               s_php_getenv_config, s_psql_d_oauth_tokens, s_sql_create_users, s_knex_migration, s_migrate_file_names,
               s_nextest_output, s_go_test_subtests, s_pytest_verbose_names, s_log_token_refreshed,
               s_openid_client_error, s_phpstan_output, s_playwright_report, s_pg_settings_password,
               s_mysql_validate_password, s_redis_config_get_empty, s_keycloak_events, s_sshd_auth_log,
               s_trivy_config_finding, s_cargo_tree_crypto, s_kubectl_api_resources_secret, s_pip_list_crypto,
               s_libsodium_header, s_stat_key_file, s_lsp_workspace_symbols, s_helm_values_schema,
               s_serde_struct_rename, s_go_struct_tags, s_stripe_masked_error, s_dart_analyze,
               s_kotlin_encrypted_prefs, s_clippy_warning]


# ================================================================ CLEAN: doc_example
AWS_EX_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_EX_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def d_aws_env_vars_docs():
    return fill("""**Linux or macOS**

```
$ export AWS_ACCESS_KEY_ID=@@i@@
$ export AWS_SECRET_ACCESS_KEY=@@s@@
$ export AWS_DEFAULT_REGION=@@r@@
```

Setting the environment variable changes the value used until the end of your shell session, or until you set the
variable to a different value.""", i=AWS_EX_ID, s=AWS_EX_SECRET, r=pick(["us-west-2", "us-east-1"]))


def d_aws_go_static_provider():
    return fill("""// Example from the SDK guide -- never hard-code real credentials.
cfg, err := config.LoadDefaultConfig(context.TODO(),
	config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
		"@@i@@", "@@s@@", "")),
	config.WithRegion("@@r@@"),
)""", i=AWS_EX_ID, s=AWS_EX_SECRET, r=pick(REGIONS))


def d_aws_sigv4_example():
    return """The following is an example of the Authorization header value. Line breaks are added to this example for readability:

```
Authorization: AWS4-HMAC-SHA256
Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,
SignedHeaders=host;range;x-amz-date,
Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024
```"""


def d_aws_session_token_placeholder():
    return """```
[default]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
aws_session_token = AQoDYXdzEJr...<remainder of security token>
```
The session token is only required when you use temporary credentials."""


def d_aws_configure_masked_prompt():
    return fill("""$ aws configure --profile @@p@@
AWS Access Key ID [****************@@a@@]:
AWS Secret Access Key [****************@@b@@]:
Default region name [@@r@@]:
Default output format [json]:""", p=pick(["dev", "sandbox", "ci"]), a=rs(4, UPAL), b=mixed(4), r=pick(REGIONS))


def d_openai_cookbook_placeholder():
    return """```python
import os
from openai import OpenAI

client = OpenAI(api_key=os.environ.get("OPENAI_API_KEY", "<your OpenAI API key if not set as env var>"))
```"""


def d_env_sk_dots():
    return """1. Copy `.env.example` to `.env`
2. Fill in your keys:

```
OPENAI_API_KEY=sk-...
ANTHROPIC_API_KEY=sk-ant-...
PINECONE_API_KEY=<your-api-key>
```

3. Run `pnpm dev`"""


def d_readme_your_key_here():
    v = pick(["ANTHROPIC_API_KEY", "MISTRAL_API_KEY", "GROQ_API_KEY"])
    return fill("""## Quickstart

```bash
export @@v@@="your-key-here"
pip install -e .
python -m demo "summarise this repo"
```

> Don't commit your key. The CLI also reads it from `~/.config/demo/credentials`.""", v=v)


def d_mongo_image_docs():
    return """Example `compose.yaml` for `mongo`:

```yaml
services:
  mongo:
    image: mongo
    restart: always
    environment:
      MONGO_INITDB_ROOT_USERNAME: root
      MONGO_INITDB_ROOT_PASSWORD: example

  mongo-express:
    image: mongo-express
    restart: always
    ports:
      - 8081:8081
    environment:
      ME_CONFIG_MONGODB_ADMINUSERNAME: root
      ME_CONFIG_MONGODB_ADMINPASSWORD: example
      ME_CONFIG_MONGODB_URL: mongodb://root:example@mongo:27017/
      ME_CONFIG_BASICAUTH: false
```"""


def d_wordpress_image_docs():
    return """```yaml
services:
  wordpress:
    image: wordpress
    ports:
      - 8080:80
    environment:
      WORDPRESS_DB_HOST: db
      WORDPRESS_DB_USER: exampleuser
      WORDPRESS_DB_PASSWORD: examplepass
      WORDPRESS_DB_NAME: exampledb
  db:
    image: mysql:8.0
    environment:
      MYSQL_DATABASE: exampledb
      MYSQL_USER: exampleuser
      MYSQL_PASSWORD: examplepass
      MYSQL_RANDOM_ROOT_PASSWORD: '1'
```"""


def d_rabbitmq_guest_defaults():
    return """By default RabbitMQ creates a user named `guest` with password `guest`. That user can only connect from
localhost. If you run the image with

    docker run -d --hostname my-rabbit --name some-rabbit -e RABBITMQ_DEFAULT_USER=user -e RABBITMQ_DEFAULT_PASS=password rabbitmq:3-management

you can then log in to http://localhost:15672 with `user` / `password`."""


def d_prisma_url_example():
    return """```prisma
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}
```

```
# .env
DATABASE_URL="postgresql://johndoe:randompassword@localhost:5432/mydb?schema=public"
```"""


def d_sqlalchemy_scott_tiger():
    return """```python
# default
engine = create_engine("postgresql://scott:tiger@localhost/mydatabase")

# psycopg2
engine = create_engine("postgresql+psycopg2://scott:tiger@localhost/mydatabase")

# pg8000
engine = create_engine("postgresql+pg8000://scott:tiger@localhost/mydatabase")
```"""


def d_heroku_foo_url():
    return """The `DATABASE_URL` config var is set automatically when you provision Heroku Postgres, and looks like:

    DATABASE_URL: postgres://foo:foo@heroku.com:5432/hellodb

Your app should read it at runtime rather than copying it anywhere."""


def d_azure_conn_placeholders():
    return """```
DefaultEndpointsProtocol=https;AccountName=<storage-account-name>;AccountKey=<storage-account-key>;EndpointSuffix=core.windows.net
```

Replace `<storage-account-name>` and `<storage-account-key>` with the values from **Security + networking > Access keys**."""


def d_atlas_uri_placeholder():
    return """Replace `<db_password>` with the password for the **appUser** database user:

```
mongodb+srv://appUser:<db_password>@cluster0.example.mongodb.net/?retryWrites=true&w=majority&appName=Cluster0
```"""


def d_rfc7617_aladdin():
    return """From RFC 7617, section 2:

   If the user agent wishes to send the user-id "Aladdin" and password
   "open sesame", it would use the following header field:

      Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="""


def d_rfc2617_digest_mufasa():
    return """RFC 2617 §3.5 walks through a Digest exchange for user "Mufasa" with password "Circle Of Life":

    Authorization: Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41\""""


def d_php_password_hash_docs():
    return """```php
<?php
/**
 * We just want to hash our password using the current DEFAULT algorithm.
 * This is presently BCRYPT, and will produce a 60 character result.
 */
echo password_hash("rasmuslerdorf", PASSWORD_DEFAULT);
?>
```

The above example will output something similar to:

    $2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"""


def d_python_pbkdf2_docs():
    return """>>> from hashlib import pbkdf2_hmac
>>> our_app_iters = 500_000  # Application specific, read above.
>>> dk = pbkdf2_hmac('sha256', b'password', b'bad salt' * 2, our_app_iters)
>>> dk.hex()
'15530bba69924174860db778f2c6f8104d3aaf9d26241840c8c4a641c8d000a9'"""


def d_xkcd_passphrase_prose():
    return """Length beats complexity: a passphrase like the XKCD "correct horse battery staple" example is both easier to
remember and harder to brute-force than `Tr0ub4dor&3`. For service accounts, though, skip memorability entirely and
generate 32 random bytes from a CSPRNG."""


def d_hunter2_prose():
    return """(For the record, the login form still echoes the password length in the error message — that's the bash.org
"hunter2" joke in production: "all I see is *******". Filed as SEC-%d.)""" % rint(100, 999)


def d_raspberry_defaults():
    return """Older Raspberry Pi OS images shipped with the default user `pi` and password `raspberry`; since the April 2022
release the imager forces you to create a user on first boot instead. If you're flashing an old image for the
kiosk, change it immediately with `passwd`."""


def d_placeholder_yaml_values():
    return """```yaml
# values.yaml -- example; every value below is a placeholder
smtp:
  host: smtp.example.com
  username: YOUR_SMTP_USERNAME
  password: YOUR_SMTP_PASSWORD
slack:
  botToken: xoxb-your-bot-token
  signingSecret: <slack-signing-secret>
sentry:
  dsn: ""
```"""


def d_masked_ci_log():
    return fill("""Run ./scripts/publish.sh
  ./scripts/publish.sh
  shell: /usr/bin/bash -e {0}
  env:
    NPM_TOKEN: ***
    CARGO_REGISTRY_TOKEN: ***
    AWS_ACCESS_KEY_ID: ***
    AWS_SECRET_ACCESS_KEY: ***
+ npm config set //registry.npmjs.org/:_authToken=***
+ cargo publish --token *** -p @@c@@
    Updating crates.io index
   Packaging @@c@@ v@@v@@""", c=pick(["tokenizer-utils", "keyfmt", "envsafe"]), v=ver())


def d_redacted_issue_report():
    return fill("""### Steps to reproduce

```
$ mycli login --token <redacted>
Error: 401 Unauthorized (request id @@rid@@)
$ cat ~/.config/mycli/config.toml
[auth]
token = "REDACTED"
endpoint = "https://api.example.com"
```

Version: @@v@@, macOS 15.1""", rid=uid(), v=ver())


def d_zero_uuid_and_x_placeholders():
    return """```json
{
  "tenantId": "00000000-0000-0000-0000-000000000000",
  "clientId": "00000000-0000-0000-0000-000000000000",
  "clientSecret": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "subscriptionId": "00000000-0000-0000-0000-000000000000"
}
```
Fill these in from the app registration page; the zeros are placeholders."""


def d_changeme_role_defaults():
    return """# roles/postgres/defaults/main.yml
# Override these in inventory/group_vars/*/vault.yml -- the defaults are
# deliberately unusable so a missing override fails loudly.
postgres_version: 16
postgres_admin_user: postgres
postgres_admin_password: changeme
postgres_replication_password: changeme
postgres_listen_addresses: "localhost\""""


def d_asterisk_output():
    return fill("""$ @@b@@ config show
endpoint:  https://api.@@o@@.io
username:  @@u@@
password:  ********
api_key:   ************************@@l4@@
region:    @@r@@""", b=pick(["vultr-cli", "linodectl", "acmectl"]), o=org(), u=user(), l4=mixed(4), r=pick(REGIONS))


def d_abc123_fixture_docs():
    return """In the examples below the API key is `abc123` and the account id is `1a2b3c4d5e6f` — substitute your own.

```
curl -H "X-Api-Key: abc123" https://api.example.com/v1/accounts/1a2b3c4d5e6f/usage
```"""


def d_elastic_changeme_history():
    return """Up to 6.x the Docker images came with the built-in `elastic` user and the password `changeme`. From 8.0 the
password is generated on first start and printed once, so `curl -u elastic:changeme` in old blog posts no longer works;
run `bin/elasticsearch-reset-password -u elastic` to get a new one."""


def d_grafana_admin_admin():
    return """Log in to Grafana at http://localhost:3000 with the default `admin` / `admin` — it forces a password change
on first login. In the compose file you can set `GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana_admin`
instead."""


def d_pgadmin_docs_supersecret():
    return """```
docker pull dpage/pgadmin4
docker run -p 80:80 \\
    -e 'PGADMIN_DEFAULT_EMAIL=user@domain.com' \\
    -e 'PGADMIN_DEFAULT_PASSWORD=SuperSecret' \\
    -d dpage/pgadmin4
```"""


def d_superset_placeholder():
    return """# superset_config.py
# Generate a strong key with `openssl rand -base64 42` and put it here (or in SUPERSET_SECRET_KEY).
SECRET_KEY = 'YOUR_OWN_RANDOM_GENERATED_SECRET_KEY'
SQLALCHEMY_DATABASE_URI = 'postgresql://superset:superset@db:5432/superset'"""


def d_truncated_jwt_prose():
    return """The header you get back looks like `Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9...` — the part
before the first dot is just base64url JSON (`{"alg":"RS256","typ":"JWT"}`), so you can decode it without any key to
see which `kid` the token claims."""


def d_fake_test_constants():
    return """# tests/conftest.py
import pytest

FAKE_API_KEY = "test-api-key"
FAKE_WEBHOOK_SECRET = "whsec_test_not_a_real_secret"
DUMMY_PASSWORD = "not-a-real-password"


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("WEBHOOK_SECRET", FAKE_WEBHOOK_SECRET)
    from app import create_app
    return create_app(testing=True).test_client()"""


def d_twilio_docs_x_sid():
    return """```js
// Download the helper library from https://www.twilio.com/docs/node/install
const accountSid = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
const authToken = "your_auth_token";
const client = require("twilio")(accountSid, authToken);
```"""


def d_openapi_example_bearer():
    return """components:
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      bearerFormat: JWT
  parameters:
    ApiKeyHeader:
      in: header
      name: X-API-Key
      required: true
      schema:
        type: string
      example: YOUR_API_KEY
  examples:
    AuthHeader:
      value: "Bearer <token>\""""


def d_repeated_zero_hex():
    return """```toml
[signing]
# 32-byte key, hex. The all-zero value below only works with --insecure-dev.
key = "0000000000000000000000000000000000000000000000000000000000000000"
# previous key for verification during rotation (leave empty)
previous_key = ""
```"""


def d_keycloak_bootstrap_admin():
    return """```
docker run -p 8080:8080 \\
  -e KC_BOOTSTRAP_ADMIN_USERNAME=admin \\
  -e KC_BOOTSTRAP_ADMIN_PASSWORD=admin \\
  quay.io/keycloak/keycloak:26.0 start-dev
```
This starts Keycloak in development mode with a temporary admin account — don't use `start-dev` in production."""


def d_vault_dev_mode_docs():
    return """When you start `vault server -dev`, Vault prints something like:

    Unseal Key: <unseal key printed here>
    Root Token: <root token printed here>

Copy the root token into `VAULT_TOKEN`. Dev mode keeps everything in memory, so the token and all secrets are gone when
the process exits."""


def d_tutorial_basic_header_placeholder():
    return """To call the API with basic auth, base64-encode `username:password` and send it:

```
Authorization: Basic <base64(username:password)>
```

e.g. `echo -n 'myuser:mypassword' | base64`. Most HTTP clients do this for you (`curl -u myuser:mypassword`)."""


DOC_EXAMPLE = [d_aws_env_vars_docs, d_aws_go_static_provider, d_aws_sigv4_example, d_aws_session_token_placeholder,
               d_aws_configure_masked_prompt, d_openai_cookbook_placeholder, d_env_sk_dots, d_readme_your_key_here,
               d_mongo_image_docs, d_wordpress_image_docs, d_rabbitmq_guest_defaults, d_prisma_url_example,
               d_sqlalchemy_scott_tiger, d_heroku_foo_url, d_azure_conn_placeholders, d_atlas_uri_placeholder,
               d_rfc7617_aladdin, d_rfc2617_digest_mufasa, d_php_password_hash_docs, d_python_pbkdf2_docs,
               d_xkcd_passphrase_prose, d_hunter2_prose, d_raspberry_defaults, d_placeholder_yaml_values,
               d_masked_ci_log, d_redacted_issue_report, d_zero_uuid_and_x_placeholders, d_changeme_role_defaults,
               d_asterisk_output, d_abc123_fixture_docs, d_elastic_changeme_history, d_grafana_admin_admin,
               d_pgadmin_docs_supersecret, d_superset_placeholder, d_truncated_jwt_prose, d_fake_test_constants,
               d_twilio_docs_x_sid, d_openapi_example_bearer, d_repeated_zero_hex, d_keycloak_bootstrap_admin,
               d_vault_dev_mode_docs, d_tutorial_basic_header_placeholder]

DOC_LEADS = ["", "", "", "", "", "is this fine to leave in the docs?\n\n", "from the upstream README:\n\n",
             "the reviewer flagged this, but it's just the example from the docs:\n\n"]


def d_k8s_secret_stringdata_placeholder():
    return """```yaml
apiVersion: v1
kind: Secret
metadata:
  name: app-credentials
type: Opaque
stringData:
  username: <your-username>
  password: <your-password>
```
`stringData` is write-only convenience: the API server base64-encodes it into `data` for you."""


def d_netrc_anonymous_ftp():
    return """The classic anonymous-FTP entry from the ftp(1) man page still works with curl's `--netrc`:

    machine ftp.example.org
    login anonymous
    password user@example.org

(the "password" for anonymous FTP is conventionally just your e-mail address)."""


DOC_EXAMPLE += [d_k8s_secret_stringdata_placeholder, d_netrc_anonymous_ftp]


# ================================================================ CLEAN: references
def vault_block(indent="          "):
    body = hx(rint(300, 420) // 2 * 2)
    return "\n".join(indent + l for l in ["$ANSIBLE_VAULT;1.1;AES256"] + [body[i:i + 80] for i in range(0, len(body), 80)])


def r_ansible_group_vars_vault():
    return fill("""# inventory/group_vars/prod/vault.yml (encrypted values inline, plain names)
vault_db_password: !vault |
@@v1@@
vault_smtp_password: !vault |
@@v2@@

# inventory/group_vars/prod/main.yml
db_password: "{{ vault_db_password }}"
smtp_password: "{{ vault_smtp_password }}\"""", v1=vault_block(), v2=vault_block())


def r_ansible_vault_id_label():
    body = hx(rint(240, 320) // 2 * 2)
    return "$ head -5 group_vars/all/secrets.yml\n$ANSIBLE_VAULT;1.2;AES256;prod\n" + "\n".join(body[i:i + 80] for i in range(0, 320, 80))


def sops_enc(n, typ="str"):
    return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]" % (b64e(rbytes(n)), b64e(rbytes(32)), b64e(rbytes(16)), typ)


def r_sops_k8s_secret():
    fp = hx(40).upper()
    return fill("""apiVersion: v1
kind: Secret
metadata:
    name: @@s@@-db
    namespace: prod
type: Opaque
stringData:
    username: @@e1@@
    password: @@e2@@
sops:
    pgp:
        - created_at: "@@t@@"
          enc: |-
            -----BEGIN PGP MESSAGE-----

            @@pgp@@
            -----END PGP MESSAGE-----
          fp: @@fp@@
    encrypted_regex: ^(data|stringData)$
    lastmodified: "@@t@@"
    mac: @@mac@@
    version: 3.9.1""", s=svc(), e1=sops_enc(6), e2=sops_enc(24), t=ts()[:19] + "Z",
                pgp="\n            ".join(wrap(b64e(rbytes(380)), 64).split("\n")) + "\n            =" + mixed(4, B64),
                fp=fp, mac=sops_enc(32))


def r_sops_config():
    return fill("""# .sops.yaml
creation_rules:
  - path_regex: envs/prod/.*\\.ya?ml$
    kms: arn:aws:kms:@@r@@:@@a@@:key/@@k@@
    encrypted_regex: ^(data|stringData|password|token)$
  - path_regex: envs/dev/.*
    age: >-
      age1@@a1@@,
      age1@@a2@@""", r=pick(REGIONS), a=acct(), k=uid(), a1=rs(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l"),
                a2=rs(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l"))


def r_sealed_secret_template():
    return fill("""apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: @@s@@-api
  namespace: @@ns@@
  annotations:
    sealedsecrets.bitnami.com/namespace-wide: "true"
spec:
  encryptedData:
    API_TOKEN: Ag@@b1@@
    WEBHOOK_SECRET: Ag@@b2@@
  template:
    metadata:
      labels:
        app: @@s@@
    type: Opaque""", s=svc(), ns=pick(["prod", "apps"]), b1=b64e(rbytes(rint(300, 400))), b2=b64e(rbytes(rint(300, 400))))


def r_compose_required_vars():
    return """services:
  api:
    image: ghcr.io/acme/api:${API_TAG:-latest}
    environment:
      DATABASE_URL: postgres://app:${DB_PASSWORD:?DB_PASSWORD must be set}@db:5432/app
      JWT_SECRET: ${JWT_SECRET:?set JWT_SECRET in .env}
      SENTRY_DSN: ${SENTRY_DSN:-}
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
secrets:
  db_password:
    file: ./secrets/db_password.txt"""


def r_helm_template_b64enc():
    return """apiVersion: v1
kind: Secret
metadata:
  name: {{ include "app.fullname" . }}
type: Opaque
data:
  {{- if .Values.auth.existingSecret }}
  {{- fail "auth.existingSecret is set; do not render this Secret" }}
  {{- end }}
  password: {{ .Values.auth.password | default (randAlphaNum 32) | b64enc | quote }}
  api-key: {{ required "apiKey is required" .Values.apiKey | b64enc | quote }}"""


def r_ansible_hashi_vault_lookup():
    return """- name: Render app config
  ansible.builtin.template:
    src: app.env.j2
    dest: /etc/app/app.env
    mode: "0600"
  vars:
    db_password: "{{ lookup('community.hashi_vault.hashi_vault', 'secret=kv/data/app/db:password url=https://vault.internal:8200') }}"
    stripe_key: "{{ lookup('amazon.aws.aws_secret', 'prod/stripe', nested=true) | from_json | json_query('secret_key') }}\""""


def r_docker_secrets_entrypoint():
    return """#!/bin/sh
set -eu
# read *_FILE variables (docker/compose secrets) into the real names
for var in DB_PASSWORD REDIS_PASSWORD SECRET_KEY_BASE; do
  file_var="${var}_FILE"
  eval "file=\\${$file_var:-}"
  if [ -n "$file" ]; then
    export "$var"="$(cat "$file")"
  fi
done
export SMTP_PASSWORD="$(cat /run/secrets/smtp_password)"
exec "$@\""""


def r_vault_agent_annotations():
    s = svc()
    return fill("""  template:
    metadata:
      annotations:
        vault.hashicorp.com/agent-inject: "true"
        vault.hashicorp.com/role: "@@s@@"
        vault.hashicorp.com/agent-inject-secret-db: "database/creds/@@s@@-ro"
        vault.hashicorp.com/agent-inject-template-db: |
          {{- with secret "database/creds/@@s@@-ro" -}}
          postgres://{{ .Data.username }}:{{ .Data.password }}@db.prod:5432/@@s@@
          {{- end }}""", s=s)


def r_ecs_task_def_secrets():
    a, r = acct(), pick(REGIONS)
    s = svc()
    return json.dumps({"family": s, "containerDefinitions": [{"name": s, "image": "%s.dkr.ecr.%s.amazonaws.com/%s:%s" % (a, r, s, ver()),
                                                                "secrets": [
        {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:%s:%s:secret:prod/%s/db-%s:password::" % (r, a, s, mixed(6))},
        {"name": "STRIPE_SECRET_KEY", "valueFrom": "arn:aws:ssm:%s:%s:parameter/%s/prod/stripe_secret_key" % (r, a, s)}],
                                                                "environment": [{"name": "NODE_ENV", "value": "production"}]}],
                       "executionRoleArn": "arn:aws:iam::%s:role/%s-exec" % (a, s)}, indent=2)


def r_serverless_ssm_refs():
    return """provider:
  name: aws
  runtime: nodejs20.x
  environment:
    DB_PASSWORD: ${ssm:/payments/prod/db_password}
    STRIPE_SECRET_KEY: ${ssm:/aws/reference/secretsmanager/prod/stripe~true}
    JWT_PUBLIC_KEY: ${file(./keys/jwt.pub)}
    STAGE: ${sls:stage}"""


def r_cloud_run_secrets():
    p = "%s-prod" % org()
    s = svc()
    return fill("""$ gcloud run deploy @@s@@ --image europe-docker.pkg.dev/@@p@@/apps/@@s@@:@@v@@ \\
    --set-secrets=DB_PASSWORD=@@s@@-db-password:3,STRIPE_KEY=stripe-secret-key:latest \\
    --region europe-west1
# resulting service spec:
        env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              key: '3'
              name: @@s@@-db-password
# and in code: projects/@@p@@/secrets/stripe-secret-key/versions/latest""", s=s, p=p, v=ver())


def r_onepassword_operator():
    return fill("""apiVersion: onepassword.com/v1
kind: OnePasswordItem
metadata:
  name: @@s@@-db
spec:
  itemPath: "vaults/Infrastructure/items/@@s@@ postgres"
---
# and in the app's .env for local runs (op run --env-file=.env.op -- npm start):
DB_PASSWORD="op://Infrastructure/@@s@@ postgres/password"
DB_USER="op://Infrastructure/@@s@@ postgres/username\"""", s=svc())


def r_vals_refs():
    return fill("""# helmfile values (resolved by vals at render time)
postgresql:
  auth:
    password: ref+awssecrets://prod/@@s@@/db#/password
    replicationPassword: ref+vault://secret/data/@@s@@/db?proto=https#/replication
stripe:
  secretKey: ref+gcpsecrets://@@o@@-prod/stripe-secret-key
storage:
  accountKey: ref+azurekeyvault://kv-@@o@@/storage-account-key
sentry:
  dsn: ref+sops://secrets.enc.yaml#/sentry/dsn""", s=svc(), o=org())


def r_external_secret_template():
    return fill("""apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: @@s@@-db
spec:
  refreshInterval: 1h
  secretStoreRef:
    kind: ClusterSecretStore
    name: aws-secrets-manager
  target:
    name: @@s@@-db
    template:
      engineVersion: v2
      data:
        DATABASE_URL: "postgres://{{ .username }}:{{ .password | urlquery }}@{{ .host }}:5432/@@s@@"
  dataFrom:
    - extract:
        key: prod/@@s@@/db""", s=svc())


def r_infisical_run():
    return fill("""$ cat .infisical.json
{
    "workspaceId": "@@w@@",
    "defaultEnvironment": "dev",
    "gitBranchToEnvironmentMapping": null
}
$ infisical run --env=staging --path=/@@s@@ -- npm run migrate
✔ Injecting @@n@@ Infisical secrets into your application process""", w=uid(), s=svc(), n=rint(4, 40))


def r_ejson_file():
    return json.dumps({"_public_key": hx(64),
                       "database_password": "EJ[1:%s:%s:%s]" % (b64e(rbytes(32)), b64e(rbytes(24)), b64e(rbytes(30))),
                       "stripe_secret_key": "EJ[1:%s:%s:%s]" % (b64e(rbytes(32)), b64e(rbytes(24)), b64e(rbytes(60))),
                       "environment": {"RAILS_ENV": "production"}}, indent=2)


def r_pulumi_secure_config():
    return fill("""# Pulumi.prod.yaml
config:
  aws:region: @@r@@
  @@p@@:dbPassword:
    secure: v1:@@n@@:@@c@@
  @@p@@:stripeKey:
    secure: v1:@@n2@@:@@c2@@
  @@p@@:instanceCount: "3\"""", r=pick(REGIONS), p=pick(["payments", "infra", "webapp"]), n=b64e(rbytes(12)), c=b64e(rbytes(40)),
                n2=b64e(rbytes(12)), c2=b64e(rbytes(60)))


def r_kamal_secrets():
    return """# .kamal/secrets -- evaluated locally by kamal; values are never committed
SECRETS=$(kamal secrets fetch --adapter 1password --account my-team --from Production/App REGISTRY_PASSWORD DB_PASSWORD)
KAMAL_REGISTRY_PASSWORD=$(kamal secrets extract REGISTRY_PASSWORD ${SECRETS})
DB_PASSWORD=$(kamal secrets extract DB_PASSWORD ${SECRETS})
RAILS_MASTER_KEY=$(cat config/master.key)"""


def r_gha_oidc_no_keys():
    a = acct()
    return fill("""permissions:
  id-token: write
  contents: read
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          role-to-assume: arn:aws:iam::@@a@@:role/gha-deploy
          aws-region: @@r@@
      - run: ./deploy.sh
        env:
          SLACK_WEBHOOK_URL: ${{ secrets.SLACK_WEBHOOK_URL }}
          NPM_TOKEN: ${{ secrets.NPM_TOKEN }}""", a=a, r=pick(REGIONS))


def r_circleci_contexts():
    return """workflows:
  release:
    jobs:
      - publish:
          context:
            - aws-prod
            - npm-publish
jobs:
  publish:
    docker: [{ image: cimg/node:20.17 }]
    steps:
      - checkout
      - run: echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > ~/.npmrc
      - run: aws s3 sync dist/ "s3://${RELEASE_BUCKET}/" # uses $AWS_SECRET_ACCESS_KEY from the context"""


def r_consul_template_secret():
    return """{{ with secret "database/creds/reporting" }}
[database]
user     = "{{ .Data.username }}"
password = "{{ .Data.password }}"
{{ end }}
{{ with secret "kv/data/reporting/smtp" }}
smtp_password = "{{ .Data.data.password }}"
{{ end }}"""


def r_systemd_credential_encrypted():
    blob = wrap(b64e(rbytes(rint(220, 300))), 68).split("\n")
    sv = svc()
    return "# /etc/systemd/system/%s.service.d/creds.conf\n[Service]\nLoadCredential=tls.key:/etc/%s/tls.key\nSetCredentialEncrypted=db-password: \\\n        %s\nEnvironment=DB_PASSWORD_FILE=%%d/db-password" % (
        sv, sv, " \\\n        ".join(blob))


def r_keychain_script_refs():
    return """#!/usr/bin/env bash
# pull credentials from the login keychain / pass at runtime; nothing is stored in this repo
export GITHUB_TOKEN="$(security find-generic-password -s gh-cli -a "$USER" -w)"
export NPM_TOKEN="$(pass show work/npm/publish | head -1)"
export OPENAI_API_KEY="$(op read 'op://Private/OpenAI/credential')"
exec "$@\""""


def r_codebuild_buildspec():
    return fill("""version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /@@s@@/prod/db/password
  secrets-manager:
    DOCKERHUB_TOKEN: prod/dockerhub:token
    SONAR_TOKEN: arn:aws:secretsmanager:@@r@@:@@a@@:secret:ci/sonar-@@sfx@@:token
phases:
  build:
    commands:
      - echo "$DOCKERHUB_TOKEN" | docker login -u @@o@@ --password-stdin""", s=svc(), r=pick(REGIONS), a=acct(),
                sfx=mixed(6), o=org())


def r_gitlab_vault_secrets():
    return """deploy:
  stage: deploy
  id_tokens:
    VAULT_ID_TOKEN:
      aud: https://vault.example.internal
  secrets:
    DATABASE_PASSWORD:
      vault: production/db/password@ops
      file: false
    KUBECONFIG:
      vault: production/k8s/kubeconfig@ops
  script:
    - ./deploy.sh"""


def r_bws_run():
    return fill("""$ bws secret list @@proj@@ --output table | cut -c1-80
ID                                    Key                Value   Project ID
@@i1@@  DB_PASSWORD        ******  @@proj@@
@@i2@@  STRIPE_SECRET_KEY  ******  @@proj@@
$ bws run --project-id @@proj@@ -- ./bin/server""", proj=uid(), i1=uid(), i2=uid())


def r_bitnami_existing_secret():
    return """# values-prod.yaml
auth:
  existingSecret: postgres-credentials
  secretKeys:
    adminPasswordKey: postgres-password
    userPasswordKey: password
    replicationPasswordKey: replication-password
  usePasswordFiles: true
tls:
  enabled: true
  existingSecret: postgres-tls
  certFilename: tls.crt
  certKeyFilename: tls.key"""


def r_argocd_vault_plugin():
    return fill("""apiVersion: v1
kind: Secret
metadata:
  name: @@s@@
  annotations:
    avp.kubernetes.io/path: "secret/data/@@s@@"
type: Opaque
stringData:
  DB_PASSWORD: <db_password>
  STRIPE_SECRET_KEY: <path:secret/data/@@s@@/stripe#secret_key>
  REDIS_PASSWORD: <path:secret/data/shared/redis#password | base64encode>""", s=svc())


def r_crossplane_connection_secret():
    return """apiVersion: database.aws.upbound.io/v1beta1
kind: Instance
metadata:
  name: reporting-db
spec:
  forProvider:
    region: eu-west-1
    engine: postgres
    autoGeneratePassword: true
    passwordSecretRef:
      name: reporting-db-master
      namespace: crossplane-system
      key: password
  writeConnectionSecretToRef:
    name: reporting-db-conn
    namespace: reporting"""


def r_dapr_component():
    return """apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: redis-master.data.svc:6379
  - name: redisPassword
    secretKeyRef:
      name: redis
      key: redis-password
auth:
  secretStore: kubernetes"""


def r_token_replace_placeholders():
    return """{
  "ConnectionStrings": {
    "Default": "Server=#{SqlServer}#;Database=orders;User Id=#{SqlUser}#;Password=#{SqlPassword}#;Encrypt=True"
  },
  "Stripe": {
    "SecretKey": "#{Stripe.SecretKey}#",
    "WebhookSecret": "#{Stripe.WebhookSecret}#"
  }
}"""


def r_tfc_variable_set():
    out = []
    for k, sens in [("AWS_SECRET_ACCESS_KEY", True), ("TF_VAR_db_password", True), ("AWS_REGION", False)]:
        out.append({"id": "var-" + mixed(16), "type": "vars", "attributes": {
            "key": k, "value": None if sens else pick(REGIONS), "sensitive": sens, "category": "env", "hcl": False,
            "version-id": hx(64)}})
    return "$ curl -s -H \"Authorization: Bearer $TFC_TOKEN\" https://app.terraform.io/api/v2/varsets/varset-%s/relationships/vars | jq .data\n%s" % (
        mixed(16), json.dumps(out, indent=2))


def r_vercel_env_ls():
    rows = "\n".join(" %-24s Encrypted           %-24s %dd ago" % (n, e, rint(1, 300)) for n, e in
                     [("DATABASE_URL", "Production, Preview"), ("STRIPE_SECRET_KEY", "Production"),
                      ("NEXTAUTH_SECRET", "Production, Preview"), ("NEXT_PUBLIC_POSTHOG_KEY", "Production")])
    return "$ vercel env ls\nVercel CLI 37.6.1\n> Environment Variables found for %s/%s [%dms]\n\n name                     value               environments             created\n%s" % (
        org(), svc(), rint(200, 900), rows)


def r_wrangler_toml():
    return fill("""name = "@@s@@"
main = "src/index.ts"
compatibility_date = "2026-09-01"

[vars]
ENVIRONMENT = "production"
API_BASE = "https://api.@@d@@"

# secrets (set with `wrangler secret put STRIPE_KEY` / `wrangler secret put SESSION_SECRET`)

[[kv_namespaces]]
binding = "SESSIONS"
id = "@@kv@@"

[[d1_databases]]
binding = "DB"
database_name = "@@s@@-prod"
database_id = "@@d1@@\"""", s=svc(), d=dom(), kv=hx(32), d1=uid())


def r_berglas_refs():
    return fill("""env:
  - name: DB_PASSWORD
    value: berglas://@@o@@-secrets/@@s@@/db-password
  - name: API_KEY
    value: sm://@@o@@-prod/@@s@@-api-key
  - name: TLS_KEY_PATH
    value: berglas://@@o@@-secrets/@@s@@/tls-key?destination=tempfile""", o=org(), s=svc())


def r_chamber_list():
    s = svc()
    a = acct()
    rows = "\n".join("%-18s %-8d %s   arn:aws:sts::%s:assumed-role/ops/%s" % (k, rint(1, 12), ts()[:19].replace("T", " "), a, user())
                     for k in ["db_password", "redis_url", "stripe_secret_key"])
    return "$ chamber list %s\nKey                Version  LastModified          User\n%s\n$ chamber exec %s -- ./bin/worker" % (s, rows, s)


def r_vault_db_role_template():
    return fill("""$ vault write database/roles/@@s@@-ro \\
    db_name=@@d@@ \\
    creation_statements="CREATE ROLE \\"{{name}}\\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; \\
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO \\"{{name}}\\";" \\
    default_ttl=1h \\
    max_ttl=24h
Success! Data written to: database/roles/@@s@@-ro""", s=svc(), d=db())


def r_openssl_salted_ciphertext():
    ct = b64e(b"Salted__" + rbytes(rint(100, 180)))
    return "The nightly export is encrypted before upload (`openssl enc -aes-256-cbc -pbkdf2 -pass file:/run/secrets/export_key`), so the object in the bucket is only ciphertext:\n\n```\n$ head -c 200 exports/%s.csv.enc | base64\n%s\n```" % (
        date(), wrap(ct, 76))


def r_gh_secrets_public_key_put():
    kid = str(rint(10 ** 18, 10 ** 19))
    return fill("""$ gh api repos/@@o@@/@@r@@/actions/secrets/public-key
{"key_id":"@@kid@@","key":"@@pub@@"}
$ gh api -X PUT repos/@@o@@/@@r@@/actions/secrets/DEPLOY_TOKEN -f encrypted_value='@@ct@@' -f key_id='@@kid@@'
$ gh secret list -R @@o@@/@@r@@
DEPLOY_TOKEN  Updated @@d@@""", o=org(), r=pick(REPOS), kid=kid, pub=b64e(rbytes(32)), ct=b64e(rbytes(rint(80, 120))), d=date())


def r_env_example_file():
    return fill("""# .env.example -- copy to .env and fill in. Never commit .env.
APP_URL=http://localhost:3000
DATABASE_URL=postgres://postgres:postgres@localhost:5432/@@d@@_dev
REDIS_URL=redis://localhost:6379/0

# Auth
SESSION_SECRET=            # openssl rand -hex 32
GITHUB_CLIENT_ID=
GITHUB_CLIENT_SECRET=

# Third parties (ask in #platform for sandbox keys)
STRIPE_SECRET_KEY=sk_test_...
STRIPE_WEBHOOK_SECRET=whsec_...
POSTMARK_SERVER_TOKEN=""", d=db())


def r_kms_ciphertext_labelled():
    return fill("""$ gcloud kms encrypt --key app-dek --keyring app --location global --plaintext-file dek.bin --ciphertext-file - | base64 -w0
@@ct@@
# ^ wrapped DEK (ciphertext); stored next to the data, useless without KMS decrypt on projects/@@p@@/locations/global/keyRings/app/cryptoKeys/app-dek""",
                ct="CiQA" + b64e(rbytes(70)), p="%s-prod" % org())


def r_git_crypt_binary():
    data = b"\x00GITCRYPT\x00" + rbytes(38)
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexs = " ".join("%02x%02x" % (chunk[i], chunk[i + 1]) if i + 1 < len(chunk) else "%02x" % chunk[i]
                        for i in range(0, len(chunk), 2))
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append("%08x: %-40s %s" % (off, hexs, asc))
    return "$ git-crypt status secrets/\n    encrypted: secrets/prod.env\n    encrypted: secrets/tls.key\n$ xxd secrets/prod.env | head -3\n" + "\n".join(out)


def r_jasypt_enc_values():
    return fill("""spring:
  datasource:
    url: jdbc:postgresql://@@h@@:5432/@@d@@
    username: @@u@@
    password: ENC(@@c1@@)
  mail:
    password: ENC(@@c2@@)
jasypt:
  encryptor:
    password: ${JASYPT_ENCRYPTOR_PASSWORD}
    algorithm: PBEWITHHMACSHA512ANDAES_256""", h=host(), d=db(), u=user(), c1=b64e(rbytes(48)), c2=b64e(rbytes(32)))


def r_k8s_projected_volume():
    return """      volumes:
        - name: creds
          projected:
            sources:
              - secret:
                  name: app-db
                  items:
                    - key: password
                      path: db/password
              - serviceAccountToken:
                  audience: vault
                  expirationSeconds: 600
                  path: vault-token
      imagePullSecrets:
        - name: regcred"""


REFERENCES = [r_ansible_group_vars_vault, r_ansible_vault_id_label, r_sops_k8s_secret, r_sops_config,
              r_sealed_secret_template, r_compose_required_vars, r_helm_template_b64enc, r_ansible_hashi_vault_lookup,
              r_docker_secrets_entrypoint, r_vault_agent_annotations, r_ecs_task_def_secrets, r_serverless_ssm_refs,
              r_cloud_run_secrets, r_onepassword_operator, r_vals_refs, r_external_secret_template, r_infisical_run,
              r_ejson_file, r_pulumi_secure_config, r_kamal_secrets, r_gha_oidc_no_keys, r_circleci_contexts,
              r_consul_template_secret, r_systemd_credential_encrypted, r_keychain_script_refs, r_codebuild_buildspec,
              r_gitlab_vault_secrets, r_bws_run, r_bitnami_existing_secret, r_argocd_vault_plugin,
              r_crossplane_connection_secret, r_dapr_component, r_token_replace_placeholders, r_tfc_variable_set,
              r_vercel_env_ls, r_wrangler_toml, r_berglas_refs, r_chamber_list, r_vault_db_role_template,
              r_openssl_salted_ciphertext, r_gh_secrets_public_key_put, r_env_example_file, r_kms_ciphertext_labelled,
              r_git_crypt_binary, r_jasypt_enc_values, r_k8s_projected_volume]


# ================================================================ CLEAN: plain_session
def p_prose_pkce_flow():
    return """Here's how the login flow works after the change:

1. The SPA generates a random `code_verifier`, keeps it in memory, and sends `code_challenge = BASE64URL(SHA256(verifier))` with `code_challenge_method=S256` to `/authorize`.
2. The user authenticates at the IdP; the IdP redirects back with a short-lived authorization `code`.
3. The SPA posts `code` + the original `code_verifier` to `/token`. No client secret is involved — public clients can't keep one.
4. The IdP returns an access token (15 min) and a rotating refresh token; we keep the refresh token in an httpOnly cookie scoped to `/auth/refresh`.

The important property is that an intercepted `code` is useless without the verifier."""


def p_prose_rotate_access_key():
    return """Safe order for rotating the CI user's AWS access key without downtime:

- create a second access key for the user (IAM allows two at once);
- update the secret in the CI store and re-run one pipeline to prove it works;
- mark the old key **inactive** (not deleted) and watch CloudTrail for `InvalidClientTokenId` for a day;
- delete the old key.

`aws iam list-access-keys --user-name ci` shows both keys with their `CreateDate`, and `aws iam get-access-key-last-used` tells you whether anything still uses the old one."""


def p_prose_api_key_vs_jwt():
    return """Short version: an API key is an opaque random string the server looks up (we store only its SHA-256 and a short prefix for display), so revoking it is a single row update. A JWT is self-contained and verified with the issuer's public key, so it can't be revoked before `exp` unless you keep a deny-list. For machine-to-machine calls from partners I'd keep API keys; for our own services, short-lived JWTs from the token service are fine."""


def p_prose_argon2_params():
    return """For the password hashes I'd go with Argon2id, m=19456 (19 MiB), t=2, p=1 — that's the OWASP minimum and takes ~40 ms on the API pods. The PHC string stores the parameters with each hash (`$argon2id$v=19$m=19456,t=2,p=1$...`), so we can raise them later and rehash on next successful login without a migration."""


def p_cargo_build_output():
    crates = ["aes-gcm v0.10.3", "argon2 v0.5.3", "hmac v0.12.1", "jsonwebtoken v9.3.0", "secrecy v0.10.3",
              "tokio v1.41.0", "axum v0.7.7"]
    R.shuffle(crates)
    return "   Compiling " + "\n   Compiling ".join(crates[:5]) + "\n   Compiling %s v0.%d.0 (/src/crates/%s)\n    Finished `release` profile [optimized] target(s) in %dm %02ds" % (
        pick(["auth-core", "gateway"]), rint(1, 9), pick(["auth-core", "gateway"]), rint(0, 4), rint(0, 59))


def p_npm_install_output():
    return fill("""$ npm ci
npm warn deprecated inflight@1.0.6: This module is not supported, and leaks memory.
npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported

added @@n@@ packages, and audited @@m@@ packages in @@s@@s

@@f@@ packages are looking for funding
  run `npm fund` for details

found 0 vulnerabilities""", n=rint(400, 1400), m=rint(1401, 1500), s=rint(5, 60), f=rint(50, 200))


def p_pytest_summary():
    return fill("""============================= test session starts ==============================
platform linux -- Python 3.12.7, pytest-8.3.3, pluggy-1.5.0
rootdir: /src
configfile: pyproject.toml
plugins: anyio-4.6.2, cov-5.0.0
collected @@n@@ items

tests/auth/test_login.py ........                                        [  @@a@@%]
tests/auth/test_tokens.py ..........s                                    [  @@b@@%]
tests/billing/test_invoices.py ..................                        [100%]

======================== @@p@@ passed, 1 skipped in @@t@@s =========================""", n=37, a=21, b=51, p=36,
                t="%.2f" % (R.random() * 9 + 1))


def p_git_diff_refactor():
    return fill("""diff --git a/src/middleware/auth.ts b/src/middleware/auth.ts
index @@a@@..@@b@@ 100644
--- a/src/middleware/auth.ts
+++ b/src/middleware/auth.ts
@@ -12,11 +12,9 @@ export async function requireApiKey(req: Request, res: Response, next: NextFunction) {
-  const key = req.header("x-api-key");
-  if (!key) return res.status(401).json({ error: "missing api key" });
-  const record = await db.apiKey.findUnique({ where: { key } });
+  const presented = req.header("x-api-key");
+  if (!presented) return res.status(401).json({ error: "missing api key" });
+  const record = await db.apiKey.findUnique({ where: { digest: sha256(presented) } });
   if (!record || record.revokedAt) return res.status(401).json({ error: "invalid api key" });
   req.principal = record.ownerId;
   return next();""", a=hx(7), b=hx(7))


def p_sql_result_orders():
    rows = "\n".join(" %s | %-9s | %8.2f | %s" % (uid(), pick(["paid", "pending", "refunded"]), R.random() * 900, ts()[:19].replace("T", " "))
                     for _ in range(4))
    return "app=# SELECT id, status, total, created_at FROM orders ORDER BY created_at DESC LIMIT 4;\n                  id                  |  status   |  total   |     created_at\n--------------------------------------+-----------+----------+---------------------\n" + rows + "\n(4 rows)"


def p_docker_build_output():
    return fill("""$ docker buildx build -t @@s@@:dev .
[+] Building 41.2s (14/14) FINISHED                                 docker:desktop-linux
 => [internal] load build definition from Dockerfile                                0.0s
 => [internal] load metadata for docker.io/library/node:20-alpine                   1.1s
 => [build 1/6] FROM docker.io/library/node:20-alpine@sha256:@@d1@@   0.0s
 => CACHED [build 2/6] WORKDIR /app                                                 0.0s
 => [build 4/6] RUN npm ci                                                         28.4s
 => [build 6/6] RUN npm run build                                                   9.7s
 => exporting to image                                                              1.2s
 => => exporting layers                                                             1.1s
 => => writing image sha256:@@d2@@                       0.0s
 => => naming to docker.io/library/@@s@@:dev                                      0.0s""", s=svc(), d1=hx(64), d2=hx(64))


def p_turbo_output():
    pk = ["@%s/web" % org(), "@%s/api" % org(), "@%s/ui" % org()]
    lines = []
    for p_ in pk:
        lines.append("%s:build: cache hit, replaying logs %s" % (p_, hx(16)))
    return "• Packages in scope: %s\n• Running build in 3 packages\n• Remote caching enabled\n%s\n\n Tasks:    3 successful, 3 total\nCached:    3 cached, 3 total\n  Time:    %dms >>> FULL TURBO" % (
        ", ".join(pk), "\n".join(lines), rint(200, 900))


def p_kubectl_rollout():
    s = svc()
    return fill("""$ kubectl -n prod rollout status deploy/@@s@@
Waiting for deployment "@@s@@" rollout to finish: 1 of 3 updated replicas are available...
Waiting for deployment "@@s@@" rollout to finish: 2 of 3 updated replicas are available...
deployment "@@s@@" successfully rolled out
$ kubectl -n prod rollout history deploy/@@s@@ | tail -3
@@r1@@         image bump to @@v1@@ (ci run @@id1@@)
@@r2@@         image bump to @@v2@@ (ci run @@id2@@)""", s=s, r1=rint(40, 60), r2=rint(61, 80), v1=ver(), v2=ver(),
                id1=rint(10 ** 9, 10 ** 10), id2=rint(10 ** 9, 10 ** 10))


def p_python_repl_hashes():
    return """>>> import hashlib
>>> hashlib.sha256(b"hello").hexdigest()
'2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
>>> hashlib.md5(b"hello").hexdigest()
'5d41402abc4b2a76b9719d911017c592'
>>> len(hashlib.sha256(b"hello").digest())
32"""


def p_rust_panic_backtrace():
    return fill("""thread 'tokio-runtime-worker' panicked at crates/gateway/src/routes/keys.rs:@@l@@:41:
called `Option::unwrap()` on a `None` value
stack backtrace:
   0: rust_begin_unwind
   1: core::panicking::panic_fmt
   2: core::panicking::panic
   3: core::option::unwrap_failed
   4: gateway::routes::keys::revoke_key::{{closure}}
             at ./crates/gateway/src/routes/keys.rs:@@l@@:41
   5: <axum::handler::HandlerService<H,T,S> as tower_service::Service<http::request::Request<B>>>::call::{{closure}}
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.""", l=rint(30, 200))


def p_criterion_bench():
    return """hmac_sha256/64B          time:   [312.41 ns 313.02 ns 313.70 ns]
                        change: [-1.2041% -0.8120% -0.4013%] (p = 0.00 < 0.05)
                        Change within noise threshold.
argon2id/m19456_t2      time:   [38.114 ms 38.402 ms 38.721 ms]
Found 3 outliers among 100 measurements (3.00%)
  2 (2.00%) high mild
  1 (1.00%) high severe
aes_gcm_seal/4KiB       time:   [1.7432 µs 1.7501 µs 1.7579 µs]
                        thrpt:  [2.1701 GiB/s 2.1798 GiB/s 2.1884 GiB/s]"""


def p_bundle_install():
    return fill("""$ bundle install
Fetching gem metadata from https://rubygems.org/.........
Resolving dependencies...
Fetching bcrypt 3.1.20
Installing bcrypt 3.1.20 with native extensions
Fetching jwt 2.9.3
Installing jwt 2.9.3
Fetching devise 4.9.4
Installing devise 4.9.4
Bundle complete! @@a@@ Gemfile dependencies, @@b@@ gems now installed.
Use `bundle info [gemname]` to see where a bundled gem is installed.""", a=rint(20, 80), b=rint(100, 250))


def p_pip_wheel_built():
    return fill("""Building wheels for collected packages: @@p@@
  Building wheel for @@p@@ (pyproject.toml) ... done
  Created wheel for @@p@@: filename=@@p@@-@@v@@-py3-none-any.whl size=@@sz@@ sha256=@@h@@
  Stored in directory: /tmp/pip-ephem-wheel-cache-@@c@@/wheels/@@w1@@/@@w2@@/@@w3@@
Successfully built @@p@@
Installing collected packages: @@p@@
Successfully installed @@p@@-@@v@@""", p=pick(["auth_utils", "secretsync", "tokenbucket"]), v=ver(), sz=rint(4000, 90000),
                h=hx(64), c=mixed(8, LOAL), w1=hx(2), w2=hx(2), w3=hx(60))


def p_maven_build():
    return fill("""[INFO] -------------------------------------------------------
[INFO]  T E S T S
[INFO] -------------------------------------------------------
[INFO] Running com.@@o@@.auth.PasswordEncoderTest
[INFO] Tests run: 6, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 1.204 s -- in com.@@o@@.auth.PasswordEncoderTest
[INFO] Running com.@@o@@.auth.JwtTokenProviderTest
[INFO] Tests run: 11, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.388 s -- in com.@@o@@.auth.JwtTokenProviderTest
[INFO]
[INFO] Results:
[INFO]
[INFO] Tests run: 17, Failures: 0, Errors: 0, Skipped: 0
[INFO]
[INFO] BUILD SUCCESS
[INFO] Total time:  @@t@@ s""", o=org().replace("-", ""), t="%.3f" % (R.random() * 50 + 5))


def p_chat_401_debugging():
    return """I'm getting a 401 from `GET /v1/me` only in the Safari build. The interceptor does set the header — I can see `Authorization: Bearer …` in the request in devtools (I trimmed it out here) — but Safari drops it on the 307 redirect from `/v1/me` to `/v1/me/`. Chrome keeps it. Is the fix to just hit the trailing-slash URL directly, or should the API stop redirecting?"""


def p_nginx_access_lines():
    out = []
    for _ in range(4):
        out.append('%s - - [12/Oct/2026:%s +0000] "%s %s HTTP/2.0" %d %d "-" "%s" rt=%.3f req_id=%s' % (
            "198.51.100.%d" % rint(2, 250), hms(), pick(["GET", "POST"]),
            pick(["/api/v1/orders?page=2", "/healthz", "/api/v1/auth/refresh", "/assets/app.%s.js" % hx(8)]),
            pick([200, 200, 204, 304, 401]), rint(0, 30000), pick(["Mozilla/5.0", "okhttp/4.12.0", "kube-probe/1.31"]),
            R.random(), hx(32)))
    return "\n".join(out)


def p_curl_head_headers():
    return fill("""$ curl -sI https://@@d@@/
HTTP/2 200
content-type: text/html; charset=utf-8
etag: "@@et@@"
last-modified: Mon, 12 Oct 2026 08:11:02 GMT
strict-transport-security: max-age=63072000; includeSubDomains; preload
x-content-type-options: nosniff
x-request-id: @@rid@@
x-vercel-id: fra1::iad1::@@vid@@
cache-control: public, max-age=0, must-revalidate""", d=dom(), et=hx(32), rid=uid(), vid="%s-%d-%s" % (mixed(5, LOAL), rint(10 ** 12, 10 ** 13), hx(12)))


def p_chat_rate_limit_request():
    return """can you add rate limiting to the login endpoint? something like 5 attempts per 15 minutes per (ip, email) pair, returning 429 with a `Retry-After` header. We already have Redis available as `app.state.redis`. Please don't log the submitted password or the email in the limiter — just a hash of the key."""


def p_ps_aux_postgres():
    out = []
    for role in ["checkpointer", "background writer", "walwriter", "autovacuum launcher", "logical replication launcher"]:
        out.append("postgres  %5d  0.0  0.%d %7d %6d ?        Ss   %s   0:%02d postgres: %s" % (
            rint(100, 9999), rint(0, 9), rint(200000, 400000), rint(5000, 90000), hms()[:5], rint(0, 59), role))
    return "$ ps aux | grep [p]ostgres:\n" + "\n".join(out)


def p_systemctl_status():
    s = svc()
    return fill("""$ systemctl status @@s@@
● @@s@@.service - @@s@@ worker
     Loaded: loaded (/etc/systemd/system/@@s@@.service; enabled; preset: enabled)
     Active: active (running) since Mon 2026-10-12 07:58:14 UTC; 3h 12min ago
   Main PID: @@pid@@ (@@s@@)
      Tasks: 14 (limit: 9387)
     Memory: 212.4M (peak: 260.1M)
        CPU: 4min 31.882s
     CGroup: /system.slice/@@s@@.service
             └─@@pid@@ /usr/local/bin/@@s@@ --config /etc/@@s@@/config.toml""", s=s, pid=rint(1000, 90000))


def p_dig_dkim_txt():
    pub = b64e(bytes.fromhex("30820122300d06092a864886f70d01010105000382010f003082010a0282010100") + rbytes(262))
    return fill("""$ dig +short TXT google._domainkey.@@d@@
"v=DKIM1; k=rsa; p=@@p1@@" "@@p2@@"
$ dig +short TXT _dmarc.@@d@@
"v=DMARC1; p=quarantine; rua=mailto:dmarc@@@d@@; pct=100"
$ dig +short TXT @@d@@ | grep spf
"v=spf1 include:_spf.google.com include:mailgun.org ~all\"""", d=dom(), p1=pub[:250], p2=pub[250:])


def p_pagination_cursors():
    return json.dumps({"data": [{"id": b64e(("Product:%d" % rint(1000, 99999)).encode()).rstrip("="), "title": t, "price": "%.2f" % (R.random() * 90)}
                                for t in ["Cedar soap", "Linen towel", "Clay mug"]],
                       "page_info": {"has_next_page": True, "end_cursor": b64e(("cursor:v2:%d" % rint(10 ** 5, 10 ** 6)).encode()),
                                     "next_cursor": b64e(json.dumps({"id": rint(1000, 9000), "ts": epoch()}).encode())}}, indent=2)


def p_aws_s3_sync_output():
    b = "%s-%s" % (org(), pick(BUCKETS))
    return "\n".join("upload: dist/assets/%s.%s.%s to s3://%s/assets/%s.%s.%s" % (n, hx(8), e, b, n, hx(8), e) for n, e in
                     [("index", "js"), ("vendor", "js"), ("main", "css")]) + "\nupload: dist/index.html to s3://%s/index.html" % b


def p_wireshark_tls_hello():
    return fill("""Transport Layer Security
    TLSv1.3 Record Layer: Handshake Protocol: Client Hello
        Content Type: Handshake (22)
        Version: TLS 1.0 (0x0301)
        Handshake Protocol: Client Hello
            Handshake Type: Client Hello (1)
            Version: TLS 1.2 (0x0303)
            Random: @@r@@
            Session ID Length: 32
            Session ID: @@sid@@
            Cipher Suites (17 suites)
            Extension: server_name (len=@@l@@) name=api.@@d@@
            Extension: supported_groups (len=12)
            Extension: key_share (len=107) X25519MLKEM768, x25519""", r=hx(64), sid=hx(64), l=rint(15, 30), d=dom())


def p_coverage_table():
    rows = "\n".join("%-34s %5d %5d %4d%%" % (f, n, m, int(100 * (n - m) / n)) for f, n, m in
                     [("app/auth/passwords.py", 88, 4), ("app/auth/tokens.py", 131, 12), ("app/auth/api_keys.py", 64, 0),
                      ("app/billing/webhooks.py", 97, 21)])
    return "Name                                Stmts  Miss Cover\n-----------------------------------------------------\n" + rows + "\n-----------------------------------------------------\nTOTAL                                 380    37  90%"


def p_cargo_audit():
    return """    Fetching advisory database from `https://github.com/RustSec/advisory-db.git`
      Loaded 671 security advisories (from /home/ci/.cargo/advisory-db)
    Scanning Cargo.lock for vulnerabilities (412 crate dependencies)
Crate:     rsa
Version:   0.9.6
Title:     Marvin Attack: potential key recovery through timing sidechannels
Date:      2023-11-22
ID:        RUSTSEC-2023-0071
URL:       https://rustsec.org/advisories/RUSTSEC-2023-0071
Severity:  5.9 (medium)
Solution:  No fixed upgrade is available!
Dependency tree:
rsa 0.9.6
└── jsonwebtoken 9.3.0
error: 1 vulnerability found!"""


def p_compose_logs_pg_ready():
    return fill("""db-1   | PostgreSQL Database directory appears to contain a database; Skipping initialization
db-1   | @@t@@ UTC [1] LOG:  starting PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2) on aarch64-unknown-linux-gnu
db-1   | @@t@@ UTC [1] LOG:  listening on IPv4 address "0.0.0.0", port 5432
db-1   | @@t@@ UTC [29] LOG:  database system was shut down at @@t@@ UTC
db-1   | @@t@@ UTC [1] LOG:  database system is ready to accept connections
api-1  | {"level":"info","msg":"connected to postgres","pool_size":10,"elapsed_ms":@@ms@@}""", t=date() + " " + hms() + ".%03d" % rint(0, 999),
                ms=rint(5, 300))


def p_alembic_upgrade():
    a, b, c = hx(12), hx(12), hx(12)
    return fill("""$ alembic upgrade head
INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.
INFO  [alembic.runtime.migration] Will assume transactional DDL.
INFO  [alembic.runtime.migration] Running upgrade @@a@@ -> @@b@@, add api_keys table
INFO  [alembic.runtime.migration] Running upgrade @@b@@ -> @@c@@, hash existing tokens""", a=a, b=b, c=c)


def p_prisma_migrate():
    return fill("""$ npx prisma migrate deploy
Prisma schema loaded from prisma/schema.prisma
Datasource "db": PostgreSQL database "@@d@@", schema "public" at "localhost:5432"

3 migrations found in prisma/migrations

Applying migration `@@t1@@_init`
Applying migration `@@t2@@_add_sessions`
Applying migration `@@t3@@_password_reset_tokens`

All migrations have been successfully applied.""", d=db(), t1="2026%02d%02d%06d" % (rint(1, 3), rint(1, 28), rint(0, 235959)),
                t2="2026%02d%02d%06d" % (rint(4, 6), rint(1, 28), rint(0, 235959)),
                t3="2026%02d%02d%06d" % (rint(7, 9), rint(1, 28), rint(0, 235959)))


def p_mermaid_auth_sequence():
    return """```mermaid
sequenceDiagram
    participant C as CLI
    participant A as Auth server
    participant API
    C->>A: POST /oauth/device/code (client_id)
    A-->>C: device_code, user_code, verification_uri
    C->>C: show user_code, poll every 5s
    C->>A: POST /oauth/token (grant_type=device_code)
    A-->>C: access_token + refresh_token
    C->>API: GET /v1/me (Authorization: Bearer <access_token>)
```"""


def p_k6_summary():
    return fill("""     ✓ status is 200
     ✗ token refreshed
      ↳  98% — ✓ 4902 / ✗ 98

     checks.........................: 99.02% 9804 out of 9900
     http_req_duration..............: avg=@@a@@ms min=12.1ms med=88.4ms max=1.2s p(90)=210.3ms p(95)=311.9ms
     http_req_failed................: 0.98%  49 out of 5000
     http_reqs......................: 5000   @@r@@/s
     iterations.....................: 5000   @@r@@/s
     vus............................: 50     min=50       max=50""", a="%.1f" % (R.random() * 100 + 50), r="%.4f" % (R.random() * 100 + 50))


def p_spark_app_logs():
    app = "application_%d_%04d" % (rint(10 ** 12, 10 ** 13), rint(1, 999))
    return fill("""26/10/12 09:14:02 INFO Client: Submitting application @@app@@ to ResourceManager
26/10/12 09:14:03 INFO YarnClientImpl: Submitted application @@app@@
26/10/12 09:14:09 INFO Client: Application report for @@app@@ (state: RUNNING)
26/10/12 09:14:09 INFO Client:
	 client token: N/A
	 diagnostics: N/A
	 ApplicationMaster host: 10.0.@@a@@.@@b@@
	 queue: root.etl
	 tracking URL: http://rm.@@o@@.internal:8088/proxy/@@app@@/""", app=app, a=rint(1, 250), b=rint(1, 250), o=org())


def p_jupyter_dataframe():
    rows = "\n".join("%d  %s  %-8s  %s" % (i, hx(32), pick(["pro", "free", "team"]), date()) for i in range(4))
    return ">>> df[['email_md5', 'plan', 'signup_date']].head(4)\n   email_md5                         plan      signup_date\n" + rows


def p_du_df_output():
    return """$ df -h / /var/lib/docker
Filesystem      Size  Used Avail Use% Mounted on
/dev/nvme0n1p2  468G  301G  144G  68% /
/dev/nvme1n1    916G  612G  258G  71% /var/lib/docker
$ sudo du -sh /var/lib/docker/overlay2 /var/lib/docker/volumes
548G	/var/lib/docker/overlay2
61G	/var/lib/docker/volumes"""


def p_git_log_stat_rename():
    return fill("""$ git log --stat -1
commit @@sha@@
Author: @@n@@ <@@e@@>
Date:   Mon Oct 12 10:02:11 2026 +0200

    refactor: rename secrets module to credentials

 src/{secrets.rs => credentials.rs}    | 14 +++++++-------
 src/lib.rs                             |  2 +-
 tests/{secrets_test.rs => credentials_test.rs} |  6 +++---
 3 files changed, 11 insertions(+), 11 deletions(-)""", sha=git_sha(), n=person(), e=email())


def p_redis_monitor():
    out = []
    for _ in range(4):
        out.append('%d.%06d [0 10.0.%d.%d:%d] %s' % (epoch(), rint(0, 999999), rint(1, 9), rint(2, 250), rint(30000, 60000), pick([
            '"INCR" "rl:login:%s"' % hx(16), '"EXPIRE" "rl:login:%s" "900"' % hx(16), '"GET" "cache:product:%d"' % rint(100, 9999),
            '"HGETALL" "flags:tenant:%d"' % rint(1, 500)])))
    return "$ redis-cli MONITOR | head -4\nOK\n" + "\n".join(out)


def p_chat_key_rotation_done():
    return fill("""Quick update: rotated the Stripe restricted key and the SendGrid key this morning. New values are in Vault under `kv/@@s@@/prod` (version @@v@@), the pods picked them up after the restart, and I revoked the old ones in both dashboards at @@t@@ UTC. No failed webhooks in the last hour. Closing INC-@@n@@.""",
                s=svc(), v=rint(3, 30), t=hms()[:5], n=rint(1000, 9999))


def p_explain_hmac_webhooks():
    return """How the webhook verification works: the sender computes `HMAC-SHA256(signing_secret, timestamp + "." + raw_body)` and puts the hex digest in the `X-Signature` header along with `t=<timestamp>`. We recompute it with the secret from the env, compare in constant time, and reject anything older than 5 minutes so a captured request can't be replayed. The bug was that we were hashing the *parsed and re-serialised* JSON instead of the raw bytes, so key order changed and every signature mismatched."""


def p_eslint_fix_summary():
    return fill("""$ npx eslint . --fix

/src/app/(auth)/login/page.tsx
  @@a@@:7  warning  React Hook useEffect has a missing dependency: 'router'  react-hooks/exhaustive-deps

/src/lib/auth/session.ts
  @@b@@:3  error  'refreshToken' is assigned a value but never used  @typescript-eslint/no-unused-vars

✖ 2 problems (1 error, 1 warning)""", a=rint(10, 90), b=rint(10, 90))


def p_terraform_init_output():
    return """Initializing the backend...

Successfully configured the backend "s3"! Terraform will automatically
use this backend unless the backend configuration changes.
Initializing provider plugins...
- Finding hashicorp/aws versions matching "~> 5.70"...
- Finding hashicorp/random versions matching "~> 3.6"...
- Installing hashicorp/aws v5.72.1...
- Installed hashicorp/aws v5.72.1 (signed by HashiCorp)
- Installing hashicorp/random v3.6.3...
- Installed hashicorp/random v3.6.3 (signed by HashiCorp)
Terraform has created a lock file .terraform.lock.hcl to record the provider
selections it made above.

Terraform has been successfully initialized!"""


def p_mix_test_output():
    return fill("""$ mix test test/my_app/accounts_test.exs
Running ExUnit with seed: @@seed@@, max_cases: 16

..........

  1) test change_user_password/3 rejects short passwords (MyApp.AccountsTest)
     test/my_app/accounts_test.exs:@@l@@
     Assertion with == failed
     code:  assert errors_on(changeset).password == ["should be at least 12 character(s)"]
     left:  ["should be at least 8 character(s)"]
     right: ["should be at least 12 character(s)"]

Finished in 0.4 seconds (0.4s async, 0.00s sync)
11 tests, 1 failure""", seed=rint(1, 999999), l=rint(40, 300))


def p_gradle_deps_tree():
    return """+--- org.springframework.boot:spring-boot-starter-security -> 3.3.5
|    +--- org.springframework.security:spring-security-config:6.3.4
|    \\--- org.springframework.security:spring-security-web:6.3.4
+--- io.jsonwebtoken:jjwt-api:0.12.6
+--- io.jsonwebtoken:jjwt-impl:0.12.6 (n)
+--- com.google.crypto.tink:tink:1.15.0
|    \\--- com.google.protobuf:protobuf-java:4.28.2
\\--- org.bouncycastle:bcprov-jdk18on:1.78.1"""


PLAIN_SESSION = [p_prose_pkce_flow, p_prose_rotate_access_key, p_prose_api_key_vs_jwt, p_prose_argon2_params,
                 p_cargo_build_output, p_npm_install_output, p_pytest_summary, p_git_diff_refactor, p_sql_result_orders,
                 p_docker_build_output, p_turbo_output, p_kubectl_rollout, p_python_repl_hashes, p_rust_panic_backtrace,
                 p_criterion_bench, p_bundle_install, p_pip_wheel_built, p_maven_build, p_chat_401_debugging,
                 p_nginx_access_lines, p_curl_head_headers, p_chat_rate_limit_request, p_ps_aux_postgres,
                 p_systemctl_status, p_dig_dkim_txt, p_pagination_cursors, p_aws_s3_sync_output, p_wireshark_tls_hello,
                 p_coverage_table, p_cargo_audit, p_compose_logs_pg_ready, p_alembic_upgrade, p_prisma_migrate,
                 p_mermaid_auth_sequence, p_k6_summary, p_spark_app_logs, p_jupyter_dataframe, p_du_df_output,
                 p_git_log_stat_rename, p_redis_monitor, p_chat_key_rotation_done, p_explain_hmac_webhooks,
                 p_eslint_fix_summary, p_terraform_init_output, p_mix_test_output, p_gradle_deps_tree]


# ================================================================ assembly
SECRET = [("command_lines", COMMAND_LINES, 27), ("config_files", CONFIG_FILES, 27),
          ("labelled_values", LABELLED_VALUES, 27), ("code_keys", CODE_KEYS, 27), ("http_auth", HTTP_AUTH, 27),
          ("json_escaped", JSON_ESCAPED, 25)]
CLEAN = [("option_docs", OPTION_DOCS, 42, OPTION_LEADS), ("infra_ids", INFRA_IDS, 42, None),
         ("identifiers", IDENTIFIERS, 40, None), ("doc_example", DOC_EXAMPLE, 38, DOC_LEADS),
         ("references", REFERENCES, 40, None), ("plain_session", PLAIN_SESSION, 38, None)]

# templates that must appear (shapes the brief names explicitly); the rest are drawn at random
MUST = {
    # command_lines
    "m_pgpassword_psql", "m_mysql_inline_p", "m_docker_login_p", "m_redis_cli_a", "m_sqlcmd_P", "m_mongosh_flags",
    "m_restic_env_inline", "m_borg_passphrase",
    # config_files
    "f_netrc", "f_pgpass", "f_docker_config_auths", "f_kubeconfig_token", "f_kubeconfig_client_key",
    "f_redis_conf_real", "f_msmtprc_app_password", "f_grafana_ini",
    # labelled_values
    "l_md_bold_next_line", "l_md_bold_blockquote", "l_google_app_password", "l_provider_table", "l_okta_ssws_prose",
    "l_definition_list", "l_doppler_table_output",
    # code_keys
    "c_rust_const_array", "c_go_byte_slice", "c_cs_readonly_bytes", "c_jwk_ec_file", "c_jwk_okp_ts",
    "c_jwks_private_python", "c_stripe_ctor", "c_mailchimp_positional", "c_sendgrid_go", "c_slack_webclient",
    # http_auth
    "a_curl_v_basic", "a_curl_v_bearer_jwt", "a_okta_ssws_curl", "a_postman_snippet_ssws", "a_jdbc_query_password",
    "a_mongodb_srv", "a_adonet_conn", "a_proxy_authorization_curl_v",
    # json_escaped
    "ji_cat_netrc", "ji_pgpass", "ji_docker_config", "ji_kubeconfig_token", "ji_kubeconfig_key_data",
    "ji_curl_v_basic", "ji_curl_v_ssws", "ji_jwk_private", "ji_byte_array_rust", "ji_google_app_password",
    # option_docs
    "o_mysqladmin_help", "o_kubectl_options", "o_man_environment_section", "o_argparse_secret_file",
    "o_clap_metavar_token", "o_cobra_generated_help", "o_env_reference_table", "o_redis_sentinel_conf",
    "o_markdown_flags_table", "o_pg_service_conf_sample", "o_helm_pull_help", "o_curl_netrc_man", "o_restic_key_help",
    "o_borg_init_help", "o_cargo_publish_help", "o_rclone_sftp_docs", "o_gpgconf_list_options",
    "o_openssl_s_client_psk", "o_ssh_add_usage", "o_php_ini_mysqli_defaults", "o_gitea_app_ini_docs",
    # infra_ids
    "i_tf_plan_rds_sensitive", "i_kubectl_rs_yaml", "i_kms_list_grants", "i_git_blame_long", "i_sha256sums_check",
    "i_npm_pack_dry_run", "i_pip_compile_hashes", "i_cargo_lock_diff", "i_go_version_m", "i_stripe_trigger",
    "i_jwt_cli_decode_header", "i_oauth_client_ids_config", "i_authorized_keys_options", "i_pem_public_key_config",
    "i_kubeconfig_exec_plugin", "i_cloudfront_invalidation", "i_s3api_put_object", "i_alb_access_log",
    "i_secretsmanager_version_ids", "i_openssl_s_client_showcerts",
    # identifiers
    "s_rustc_e0277", "s_java_npe_filter", "s_python_keyerror_environ", "s_grep_env_reads", "s_rust_env_var_secrecy",
    "s_sql_create_users", "s_pytest_verbose_names", "s_log_token_refreshed", "s_go_viper_getenv",
    # doc_example
    "d_aws_env_vars_docs", "d_env_sk_dots", "d_placeholder_yaml_values", "d_redacted_issue_report",
    "d_zero_uuid_and_x_placeholders", "d_asterisk_output", "d_abc123_fixture_docs", "d_hunter2_prose",
    # references
    "r_ansible_group_vars_vault", "r_sops_k8s_secret", "r_sealed_secret_template", "r_compose_required_vars",
    "r_gha_oidc_no_keys", "r_docker_secrets_entrypoint", "r_vals_refs", "r_ecs_task_def_secrets",
    "r_cloud_run_secrets", "r_onepassword_operator", "r_external_secret_template", "r_infisical_run",
    "r_kms_ciphertext_labelled", "r_env_example_file",
    # plain_session
    "p_git_diff_refactor", "p_sql_result_orders", "p_prose_rotate_access_key", "p_prose_pkce_flow",
    "p_pytest_summary", "p_cargo_build_output", "p_npm_install_output",
}


def schedule(fns, n):
    names = [f.__name__ for f in fns]
    assert len(set(names)) == len(names), "duplicate template"
    assert len(fns) > n, ("need more templates than cases", len(fns), n)
    must = [f for f in fns if f.__name__ in MUST]
    rest = [f for f in fns if f.__name__ not in MUST]
    assert len(must) <= n, (len(must), n)
    R.shuffle(rest)
    return must + rest[:n - len(must)]


# real-looking credential shapes that must never appear in a clean case
REAL_LOOKING = [
    re.compile(r"AKIA[A-Z2-7]{16}"), re.compile(r"ASIA[A-Z2-7]{16}"), re.compile(r"gh[posur]_[A-Za-z0-9]{36}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{60,}"), re.compile(r"glpat-[A-Za-z0-9_-]{20}"), re.compile(r"xox[abprs]-\d+-"),
    re.compile(r"sk-proj-"), re.compile(r"sk-ant-api"), re.compile(r"sk-or-v1-[0-9a-f]{20,}"),
    re.compile(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"), re.compile(r"[sr]k_live_[A-Za-z0-9]{20,}"),
    re.compile(r"whsec_[A-Za-z0-9+/]{20,}"), re.compile(r"AIza[A-Za-z0-9_-]{35}"), re.compile(r"npm_[A-Za-z0-9]{36}"),
    re.compile(r"hvs\.[A-Za-z0-9_-]{20,}"), re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"),
    re.compile(r"LTAI[A-Za-z0-9]{16,}"), re.compile(r"dop_v1_[0-9a-f]{64}"), re.compile(r"shp(at|ss|ca|pa)_[0-9a-f]{32}"),
    re.compile(r"sbp_[0-9a-f]{40}"), re.compile(r"ntn_[A-Za-z0-9]{40,}"), re.compile(r"lin_api_[A-Za-z0-9]{20,}"),
    re.compile(r"NRAK-"), re.compile(r"dckr_pat_"), re.compile(r"sntry[us]_"), re.compile(r"glsa_[A-Za-z0-9]{20,}"),
    re.compile(r"ATATT3"), re.compile(r"pypi-AgEI"), re.compile(r"dp\.st\.[a-z]+\.[A-Za-z0-9]{20,}"),
    re.compile(r"tskey-[a-z]+-"), re.compile(r"SSWS\s+00[A-Za-z0-9_-]{30,}"), re.compile(r"AGE-SECRET-KEY-"),
    re.compile(r"hf_[A-Za-z]{30,}"), re.compile(r"cio[A-Za-z0-9]{32}"), re.compile(r"8Q~[A-Za-z0-9~._-]{30,}"),
    re.compile(r"sk\.eyJ[A-Za-z0-9_-]{20,}"), re.compile(r"\.atlasv1\.[A-Za-z0-9]{30,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}"),
    re.compile(r"\d{8,10}:AA[A-Za-z0-9_-]{33}"), re.compile(r"(?i)(?<![/-])(password|passwd|pwd|secret|token)\s*[:=]\s*['\"]?(?=[A-Za-z0-9!#%*+^~_-]*[0-9])(?=[A-Za-z0-9!#%*+^~_-]*[A-Z])(?=[A-Za-z0-9!#%*+^~_-]*[a-z])[A-Za-z0-9!#%*+^~_-]{14,}(?![A-Za-z0-9!#%*+^~_./:(-])"),
]
ALLOWED_IN_CLEAN = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "mysqli.default_pw",
                    "YOUR_OWN_RANDOM_GENERATED_SECRET_KEY", "whsec_test_not_a_real_secret", "not-a-real-password",
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "0000000000000000000000000000000000000000000000000000000000000000",
                    "YOUR_SMTP_PASSWORD", "your_auth_token", "<slack-signing-secret>"}


def build():
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
                assert s and len(s) >= 8 and s in text, (fam, fn.__name__, s)
            assert len(set(secrets)) == len(secrets), (fam, fn.__name__)
            cases.append({"family": fam, "expect": "secret", "text": text, "secrets": secrets, "_fn": fn.__name__})
    for fam, fns, n, leads in CLEAN:
        for fn in schedule(fns, n):
            for _ in range(30):
                text = fn()
                if leads:
                    text = pick(leads) + text
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
        assert "@@" not in c["text"] or "@@ -" in c["text"], c["_fn"]
        if c["expect"] == "clean":
            for rx in REAL_LOOKING:
                for m in rx.finditer(c["text"]):
                    if not any(a in m.group(0) or m.group(0) in a for a in ALLOWED_IN_CLEAN):
                        problems.append((c["_fn"], m.group(0)[:60]))
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
        rec = {"id": "t5-%04d" % i, "family": c["family"], "expect": c["expect"], "text": c["text"],
               "secrets": c["secrets"]}
        assert rec["id"] not in ids
        ids.add(rec["id"])
        out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    counts = Counter((c["family"], c["expect"]) for c in cases)
    used = Counter(c["_fn"] for c in cases)
    assert max(used.values()) == 1
    total_tpl = sum(len(f) for _, f, _ in SECRET) + sum(len(f) for _, f, _, _ in CLEAN)
    print("wrote %d cases (%d secret, %d clean), %d listed secrets (%d of %d templates used, each once)" % (
        len(cases), sum(1 for c in cases if c["expect"] == "secret"), sum(1 for c in cases if c["expect"] == "clean"),
        n_secrets, len(used), total_tpl), file=sys.stderr)
    for fam, fns, n in SECRET:
        print("  %-18s secret %3d  (%d templates)" % (fam, counts[(fam, "secret")], len(fns)), file=sys.stderr)
    for fam, fns, n, _ in CLEAN:
        print("  %-18s clean  %3d  (%d templates)" % (fam, counts[(fam, "clean")], len(fns)), file=sys.stderr)
    print("validation: every secret occurs verbatim in its text; ids unique; no real-looking credential shape or "
          "other case's secret in any clean text", file=sys.stderr)


if __name__ == "__main__":
    main()
