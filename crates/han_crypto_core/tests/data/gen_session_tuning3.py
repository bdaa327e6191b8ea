#!/usr/bin/env python3
"""Generate session_tuning3.jsonl: a third tuning set for the secret-redaction engine.

Each line: {"id": "t3-NNNN", "family", "expect": "secret"|"clean", "text", "secrets": [...]}.

How this was written.  The templates below were written from general knowledge of what
AI coding-session text looks like (tool output, CLI help, code in many languages, chat
prose, agent-harness JSON logs).  The author read docs/REDACTION.md (which lists the
families the engine handles) and the two earlier tuning generators and their outputs
(gen_session_tuning.py, gen_session_tuning2.py) only to copy the JSONL format and to avoid
repeating their templates.  The author did NOT see the held-out set
(session_heldout.jsonl / gen_session_heldout.py) and did NOT read the engine's Rust
source, so no template was shaped to the engine's rules; no engine run was made on this
output before it was written.

Families: secret -- key_pairs, provider_near_value, json_escaped, code_constants;
clean -- option_docs, infra_ids, secret_word_identifiers, doc_example.

Secrets.  Every secret is drawn from a seeded PRNG (SEED below) using the alphabet,
length and prefix of the format it imitates; none of them is, or ever was, a real
credential.  Only secret halves of pairs are listed: OAuth client ids, Twilio account
SIDs, MinIO/Wasabi/R2/B2/Tencent/Scaleway key ids, storage account names and other
identifiers are not listed -- except AWS (AKIA/ASIA) and Alibaba (LTAI) access key ids,
which are listed, as in the earlier sets.  Secrets are listed exactly as they occur in
the text (JSON-escaped where the text is a JSON string, once or twice).

Clean cases.  Values in clean cases are ids, hashes, digests, metavariables,
placeholders, or values published in vendor documentation / standards (AWS ...EXAMPLE
keys, Stripe's documentation test keys, the Azurite development storage key, the
Hardhat/Anvil default account, RFC 4231 / RFC 7636 / RFC 7519 / NIST SP 800-38A test
vectors, the Kubernetes and MongoDB documentation sample passwords, ...).  A clean case
counts as a false positive if anything in it changes.

Each family has more templates than cases: the templates in MUST (the shapes the request
named explicitly) always appear, the rest are drawn at random with the fixed seed, each
template at most once.  Templates are new relative to the two earlier generators.

Run (from this folder):  python3 gen_session_tuning3.py > session_tuning3.jsonl
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

SEED = 20261205
R = random.Random(SEED)

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
ALNUM = UP + LO + DG
LOAL = LO + DG
UPAL = UP + DG
HEX = "0123456789abcdef"
HEXU = "0123456789ABCDEF"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
B32 = UP + "234567"
PWCH = ALNUM + "!#%*-_.+@^"


# ---------------------------------------------------------------- basic helpers
def rs(n, a=ALNUM):
    return "".join(R.choice(a) for _ in range(n))


def mixed(n, a=ALNUM):
    """Random string containing every character class of `a` that it can (upper, lower, digit)."""
    need = [cls for cls in (UP, LO, DG) if any(c in cls for c in a)]
    while True:
        s = rs(n, a)
        if all(any(c in cls for c in s) for cls in need):
            return s


def hx(n):
    while True:
        s = rs(n, HEX)
        if any(c in "abcdef" for c in s) and any(c in DG for c in s):
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


def ts_seq(n):
    d = date()
    t = rint(0, 20 * 3600)
    out = []
    for _ in range(n):
        t += rint(0, 90)
        out.append("%sT%02d:%02d:%02d.%03dZ" % (d, t // 3600, t // 60 % 60, t % 60, rint(0, 999)))
    return out


def acct():
    return str(rint(100000000000, 999999999999))


def ver():
    return "%d.%d.%d" % (rint(1, 9), rint(0, 40), rint(0, 12))


def sha256_of(n=64):
    return hx(n)


REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-west-3", "eu-central-1", "ap-south-1",
           "ap-southeast-2", "sa-east-1"]
ALI_REGIONS = ["cn-hangzhou", "cn-shenzhen", "cn-beijing", "ap-southeast-1", "us-west-1"]
TC_REGIONS = ["ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-singapore"]
SERVICES = ["payments-api", "notify", "search", "user-svc", "reporting", "media-transcoder", "webhooks",
            "pricing", "scheduler", "audit-log"]
USERS = ["amara", "deploy", "rafael", "ci", "svc_backup", "ingrid", "hiro", "root", "app_rw", "etl"]
ORGS = ["bluefin", "quantic", "northstar-labs", "pinecrest", "helix", "orbital", "kestrel-io", "lumen"]
REPOS = ["monorepo", "api-server", "terraform-live", "android-app", "data-lake", "checkout-web", "infra", "cli"]
NAMES = ["Amara Okafor", "Rafael Souza", "Ingrid Holm", "Hiro Watanabe", "Chloe Martin", "Tariq Aziz", "Zoe Park"]
BUCKETS = ["db-snapshots", "user-uploads", "logs-archive", "ml-features", "public-assets", "reports"]
HOSTS = ["db-1.internal", "pg.staging.local", "10.12.0.5", "mysql-primary.svc.cluster.local"]


def email():
    return "%s@%s.dev" % (pick(USERS).replace("_", "."), pick(ORGS))


def org():
    return pick(ORGS)


# ---------------------------------------------------------------- secret shapes
def aws_id(p="AKIA"):
    return p + rs(16, B32)


def aws_secret():
    return mixed(40, B64)


def sts_token():
    return "IQoJb3JpZ2luX2Vj" + rs(rint(300, 420), B64) + pick(["", "="])


def ali_id():
    return pick(["LTAI5t", "LTAI4F"]) + mixed(18)


def ali_secret():
    return mixed(30)


def tc_id():
    return "AKID" + mixed(32)


def tc_key():
    return mixed(32)


def b2_keyid(n=None):
    n = n or str(rint(3, 5))
    return "00" + n + hx(12) + "00000000" + str(rint(10, 99))


def b2_appkey(n=None):
    n = n or str(rint(3, 5))
    return "K00" + n + mixed(27)


def azure_storage_key():
    return b64e(rbytes(64))


def minio_ak():
    return mixed(20, UPAL)


def minio_sk():
    return mixed(40)


def s3compat_secret():
    return mixed(40, B64)


def twilio_sid():
    return "AC" + hx(32)


def twilio_token():
    return hx(32)


def password(n=None, a=PWCH):
    n = n or rint(14, 24)
    return mixed(n, a)


def jwt(claims=None, alg="HS256", siglen=None):
    h = b64u(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    now = rint(1764000000, 1790000000)
    c = {"iat": now, "exp": now + pick([900, 3600, 86400, 2592000])}
    if claims:
        c.update(claims)
    p = b64u(json.dumps(c, separators=(",", ":")).encode())
    return h + "." + p + "." + rs(siglen or (43 if alg.startswith("HS") else 86 if alg == "EdDSA" else 342), B64URL)


def pem_block(label, der, width=64):
    return "-----BEGIN %s-----\n%s\n-----END %s-----" % (label, wrap(b64e(der), width), label)


def rsa_pem():
    return pem_block("RSA PRIVATE KEY", bytes.fromhex("308204a30201000282010100") + rbytes(1179))


def pkcs8_pem():
    pre = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7308204a30201000282010100")
    return pem_block("PRIVATE KEY", pre + rbytes(1167))


def pkcs8_ec_pem():
    der = bytes.fromhex("308193020100301306072a8648ce3d020106082a8648ce3d030107047930770201010420") + rbytes(32) + \
        bytes.fromhex("a00a06082a8648ce3d030107a144034200") + b"\x04" + rbytes(64)
    return pem_block("PRIVATE KEY", der)


def ec_pem():
    der = (bytes.fromhex("30770201010420") + rbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a14403420004")
           + rbytes(64))
    return pem_block("EC PRIVATE KEY", der)


def openssh_pem(comment=None):
    pub = rbytes(32)
    c = (comment or "%s@%s" % (pick(USERS), pick(["thinkpad", "runner-7", "devbox"]))).encode()
    der = (b"openssh-key-v1\x00" + b"\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01"
           + b"\x00\x00\x003\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00\x88"
           + rbytes(8) + b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00@" + rbytes(64)
           + bytes([0, 0, 0, len(c)]) + c + b"\x01\x02\x03")
    return pem_block("OPENSSH PRIVATE KEY", der, 70)


def ghp():
    return "ghp_" + mixed(36)


def gho():
    return "gho_" + mixed(36)


def ghs():
    return "ghs_" + mixed(36)


def gh_pat():
    return "github_pat_11" + rs(20, UPAL) + "_" + mixed(59)


def glpat():
    return "glpat-" + mixed(20, ALNUM + "-_")


def openai_key():
    return "sk-proj-" + mixed(74, ALNUM + "-_") + "T3BlbkFJ" + mixed(74, ALNUM + "-_")


def anthropic_key():
    return "sk-ant-api03-" + mixed(93, ALNUM + "-_") + "AA"


def slack_bot():
    return "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 12, 10 ** 13), mixed(24))


def slack_app():
    return "xapp-1-A%s-%d-%s" % (rs(10, UPAL), rint(10 ** 12, 10 ** 13), hx(64))


def stripe_live(p="sk_live_"):
    return p + "51" + mixed(22) + mixed(75)


def sendgrid():
    return "SG." + mixed(22, B64URL) + "." + mixed(43, B64URL)


def google_api_key():
    return "AIzaSy" + mixed(33, B64URL)


def npm_token():
    return "npm_" + mixed(36)


def hf_token():
    return "hf_" + mixed(34, ALNUM)


def fernet_key():
    return base64.urlsafe_b64encode(rbytes(32)).decode()


def colon_hex(n):
    return ":".join(rs(2, HEXU) for _ in range(n))


def fp_sha256():
    return "SHA256:" + b64e(rbytes(32)).rstrip("=")


def ssh_ed25519_pub():
    return "ssh-ed25519 " + b64e(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + rbytes(32))


def short_sha():
    return hx(7)


def git_sha():
    return hx(40)


def integrity():
    return "sha512-" + b64e(rbytes(64))


# ================================================================ SECRET: key_pairs
def k_iam_create_text():
    i, s, u = aws_id(), aws_secret(), pick(USERS)
    return ("$ aws iam create-access-key --user-name %s --output text\nACCESSKEY\t%s\t%s+00:00\t%s\tActive\t%s\n"
            % (u, i, ts()[:19], s, u)), [i, s]


def k_iam_create_table():
    i, s, u = aws_id(), aws_secret(), pick(["gh-actions", "backup-agent", "metabase"])
    rows = [("AccessKeyId", i), ("CreateDate", ts()[:19] + "+00:00"), ("SecretAccessKey", s), ("Status", "Active"),
            ("UserName", u)]
    w = 44
    lines = ["-" * 66, "|%s|" % "CreateAccessKey".center(64), "+" + "-" * 64 + "+", "||%s||" % "AccessKey".center(62),
             "|+" + "-" * 18 + "+" + "-" * w + "+|"]
    lines += ["||  %-16s|  %-*s||" % (k, w - 2, v) for k, v in rows]
    lines.append("|+" + "-" * 18 + "+" + "-" * w + "+|")
    return "$ aws iam create-access-key --user-name %s --output table\n" % u + "\n".join(lines), [i, s]


def k_aws_configure_transcript():
    i, s = aws_id(), aws_secret()
    p = pick(["ci", "personal", "sandbox", "prod-admin"])
    return fill("""$ aws configure --profile @@p@@
AWS Access Key ID [None]: @@i@@
AWS Secret Access Key [None]: @@s@@
Default region name [None]: @@r@@
Default output format [None]: json
$ aws sts get-caller-identity --profile @@p@@ --query Arn --output text
arn:aws:iam::@@a@@:user/@@u@@""", p=p, i=i, s=s, r=pick(REGIONS), a=acct(), u=pick(USERS)), [i, s]


def k_credentials_multi():
    i1, s1 = aws_id(), aws_secret()
    i2, s2, t2 = aws_id("ASIA"), aws_secret(), sts_token()
    return fill("""$ cat ~/.aws/credentials
[default]
aws_access_key_id = @@i1@@
aws_secret_access_key = @@s1@@

[@@p@@]
aws_access_key_id = @@i2@@
aws_secret_access_key = @@s2@@
aws_session_token = @@t2@@
""", i1=i1, s1=s1, i2=i2, s2=s2, t2=t2, p=pick(["mfa", "assumed-prod", "sso-tmp"])), [i1, s1, i2, s2, t2]


def k_passwd_s3fs():
    if R.random() < 0.5:
        i, s = aws_id(), aws_secret()
        url, lst = "https://s3.%s.amazonaws.com" % pick(REGIONS), None
    else:
        i, s = minio_ak(), s3compat_secret()
        url, lst = pick(["https://s3.eu-central-1.wasabisys.com", "https://s3.wasabisys.com"]), True
    b = org() + "-" + pick(BUCKETS)
    text = fill("""$ echo @@i@@:@@s@@ > ${HOME}/.passwd-s3fs
$ chmod 600 ${HOME}/.passwd-s3fs
$ s3fs @@b@@ /mnt/@@m@@ -o passwd_file=${HOME}/.passwd-s3fs -o url=@@url@@ -o use_path_request_style
$ ls /mnt/@@m@@ | head -3""", i=i, s=s, b=b, m=b.split("-")[-1], url=url)
    return text, ([s] if lst else [i, s])


def k_rclone_connstring():
    ak, sk = minio_ak(), s3compat_secret()
    b = pick(BUCKETS)
    return fill("""$ rclone lsd ":s3,provider=Wasabi,access_key_id=@@ak@@,secret_access_key=@@sk@@,endpoint=s3.@@r@@.wasabisys.com:"
          -1 2026-03-11 09:12:44        -1 @@b@@
          -1 2025-12-02 17:40:03        -1 @@b@@-old""", ak=ak, sk=sk, r=pick(["eu-central-1", "us-east-2", "ap-northeast-1"]),
                b=b), [sk]


def k_rclone_config_create_r2():
    kid, sec, a = hx(32), hx(64), hx(32)
    return fill("""$ rclone config create r2 s3 provider=Cloudflare access_key_id=@@kid@@ secret_access_key=@@sec@@ endpoint=https://@@a@@.r2.cloudflarestorage.com acl=private
[r2]
type = s3
provider = Cloudflare
access_key_id = @@kid@@
secret_access_key = @@sec@@
endpoint = https://@@a@@.r2.cloudflarestorage.com
acl = private""", kid=kid, sec=sec, a=a), [sec]


def k_rclone_azureblob():
    acc = pick(ORGS).replace("-", "") + rs(4, LOAL)
    key = azure_storage_key()
    return fill("""[azure-archive]
type = azureblob
account = @@acc@@
key = @@key@@
access_tier = Cool

[crypt-archive]
type = crypt
remote = azure-archive:backups""", acc=acc, key=key), [key]


def k_r2_dashboard_copy():
    tok, kid, sec = mixed(40, B64URL), hx(32), hx(64)
    return fill("""copied from the R2 "Create API token" page, it says this is shown only once:

Token value
@@tok@@

Use the following credentials for S3 clients:
Access Key ID
@@kid@@
Secret Access Key
@@sec@@

Use jurisdiction-specific endpoints for S3 clients:
Default  https://@@a@@.r2.cloudflarestorage.com""", tok=tok, kid=kid, sec=sec, a=hx(32)), [tok, sec]


def k_do_spaces_keys_create():
    name = pick(["media-uploader", "cdn-sync", "pg-backup"])
    ak, sk = "DO00" + mixed(16, UPAL), mixed(43, B64)
    return fill("""$ doctl spaces keys create @@n@@ --grants 'bucket=;permission=fullaccess'
Name              Access Key              Secret Key                                     Grants                           Created At
@@n@@    @@ak@@    @@sk@@    bucket=;permission=fullaccess    @@d@@ +0000 UTC""",
                n=name.ljust(14), ak=ak, sk=sk, d=date() + " " + hms()), [sk]


def k_ali_create_ak_json():
    i, s, u = ali_id(), ali_secret(), pick(USERS)
    return ("$ aliyun ram CreateAccessKey --UserName %s\n" % u) + json.dumps(
        {"AccessKey": {"AccessKeyId": i, "AccessKeySecret": s, "CreateDate": ts()[:19] + "Z", "Status": "Active"},
         "RequestId": uid().upper()}, indent=2), [i, s]


def k_ali_node_oss():
    i, s = ali_id(), ali_secret()
    return fill("""const OSS = require('ali-oss');

const client = new OSS({
  region: 'oss-@@r@@',
  accessKeyId: '@@i@@',
  accessKeySecret: '@@s@@',
  bucket: '@@b@@',
});

await client.put(`exports/${Date.now()}.json`, Buffer.from(JSON.stringify(rows)));""", r=pick(ALI_REGIONS), i=i, s=s,
                b=pick(BUCKETS)), [i, s]


def k_ali_php():
    i, s = ali_id(), ali_secret()
    return fill("""<?php
use OSS\\OssClient;

$ossClient = new OssClient('@@i@@', '@@s@@', 'https://oss-@@r@@.aliyuncs.com');
$ossClient->uploadFile('@@b@@', 'avatars/' . $userId . '.png', $tmpPath);""", i=i, s=s, r=pick(ALI_REGIONS),
                b=pick(BUCKETS)), [i, s]


def k_tccli_configure():
    sid, sk = tc_id(), tc_key()
    return fill("""$ tccli configure
secretId: @@sid@@
secretKey: @@sk@@
region: @@r@@
output[json]:
$ tccli cvm DescribeRegions | jq '.TotalCount'
@@n@@""", sid=sid, sk=sk, r=pick(TC_REGIONS), n=str(rint(18, 26))), [sk]


def k_tc_cos_go():
    sid, sk = tc_id(), tc_key()
    return fill("""u, _ := url.Parse("https://@@b@@-@@app@@.cos.@@r@@.myqcloud.com")
c := cos.NewClient(&cos.BaseURL{BucketURL: u}, &http.Client{
	Transport: &cos.AuthorizationTransport{
		SecretID:  "@@sid@@",
		SecretKey: "@@sk@@",
	},
})""", b=pick(BUCKETS), app=str(rint(1250000000, 1259999999)), r=pick(TC_REGIONS), sid=sid, sk=sk), [sk]


def k_tc_node():
    sid, sk = tc_id(), tc_key()
    return fill("""const COS = require('cos-nodejs-sdk-v5');
const cos = new COS({ SecretId: '@@sid@@', SecretKey: '@@sk@@' });

cos.putObject({ Bucket: '@@b@@-@@app@@', Region: '@@r@@', Key: name, Body: fs.createReadStream(file) }, cb);""",
                sid=sid, sk=sk, b=pick(BUCKETS), app=str(rint(1250000000, 1259999999)), r=pick(TC_REGIONS)), [sk]


def k_b2_ui_copy():
    n = str(rint(3, 5))
    kid, key = b2_keyid(n), b2_appkey(n)
    return fill("""Success! Your new application key has been created. It will only appear here once.
keyID:
@@kid@@
keyName:
@@name@@
applicationKey:
@@key@@

^ pasted from the B2 console, can you set up the restic job with this?""", kid=kid, key=key,
                name=pick(["restic-nas", "offsite-pg", "photos-sync"])), [key]


def k_b2_restic_env():
    kid, key = b2_keyid(), b2_appkey()
    pw = password(24, ALNUM)
    return fill("""# /etc/restic/b2.env
export B2_ACCOUNT_ID=@@kid@@
export B2_ACCOUNT_KEY=@@key@@
export RESTIC_REPOSITORY=b2:@@b@@:/hosts/@@h@@
export RESTIC_PASSWORD=@@pw@@""", kid=kid, key=key, b=org() + "-restic", h=pick(["nas01", "web-2", "db-1"]), pw=pw), [key, pw]


def k_az_storage_keys_list():
    acc = "st" + rs(10, LOAL)
    k1, k2 = azure_storage_key(), azure_storage_key()
    return ("$ az storage account keys list -g rg-%s-prod -n %s -o json\n" % (pick(SERVICES), acc)) + json.dumps(
        [{"creationTime": ts()[:23] + "0000+00:00", "keyName": "key1", "permissions": "FULL", "value": k1},
         {"creationTime": ts()[:23] + "0000+00:00", "keyName": "key2", "permissions": "FULL", "value": k2}],
        indent=2), [k1, k2]


def k_az_shared_key_js():
    acc, key = "st" + rs(12, LOAL), azure_storage_key()
    return fill("""import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";

const cred = new StorageSharedKeyCredential("@@acc@@", "@@key@@");
const blobs = new BlobServiceClient(`https://@@acc@@.blob.core.windows.net`, cred);
const container = blobs.getContainerClient("@@c@@");""", acc=acc, key=key, c=pick(BUCKETS)), [key]


def k_az_python_blob():
    acc, key = pick(ORGS).replace("-", "") + "data", azure_storage_key()
    return fill("""from azure.storage.blob import BlobServiceClient

svc = BlobServiceClient(
    account_url="https://@@acc@@.blob.core.windows.net",
    credential={"account_name": "@@acc@@", "account_key": "@@key@@"},
)
for b in svc.get_container_client("@@c@@").list_blobs(name_starts_with="2026/"):
    print(b.name, b.size)""", acc=acc, key=key, c=pick(BUCKETS)), [key]


def k_az_cli_flags():
    acc, key = "st" + rs(10, LOAL), azure_storage_key()
    return fill("""$ az storage blob upload --account-name @@acc@@ --account-key @@key@@ \\
    --container-name @@c@@ --file ./dist/app.tar.gz --name releases/@@v@@/app.tar.gz --overwrite
Finished[#############################################################]  100.0000%""", acc=acc, key=key,
                c=pick(BUCKETS), v="v" + ver()), [key]


def k_twilio_py_client():
    sid, tok = twilio_sid(), twilio_token()
    return fill("""from twilio.rest import Client

client = Client("@@sid@@", "@@tok@@")
msg = client.messages.create(to=user.phone, from_="+1415@@n@@", body=f"Your code is {code}")
print(msg.sid, msg.status)""", sid=sid, tok=tok, n=str(rint(1000000, 9999999))), [tok]


def k_twilio_init():
    sid, tok = twilio_sid(), twilio_token()
    if R.random() < 0.5:
        return fill("""public class SmsSender {
    static {
        Twilio.init("@@sid@@", "@@tok@@");
    }

    public static void send(String to, String body) {
        Message.creator(new PhoneNumber(to), new PhoneNumber(FROM), body).create();
    }
}""", sid=sid, tok=tok), [tok]
    return fill("""const client = require('twilio')('@@sid@@', '@@tok@@');

await client.verify.v2.services(VERIFY_SID).verifications.create({ to: phone, channel: 'sms' });""", sid=sid, tok=tok), [tok]


def k_twilio_apikey_go():
    sk, sec, sid = "SK" + hx(32), mixed(32), twilio_sid()
    return fill("""client := twilio.NewRestClientWithParams(twilio.ClientParams{
	Username:   "@@sk@@",
	Password:   "@@sec@@",
	AccountSid: "@@sid@@",
})""", sk=sk, sec=sec, sid=sid), [sec]


def k_oauth_nextauth_github():
    cid, sec = "Ov23li" + mixed(14), hx(40)
    return fill("""// app/api/auth/[...nextauth]/route.ts
import NextAuth from "next-auth";
import GitHubProvider from "next-auth/providers/github";

const handler = NextAuth({
  providers: [
    GitHubProvider({
      clientId: "@@cid@@",
      clientSecret: "@@sec@@",
    }),
  ],
});

export { handler as GET, handler as POST };""", cid=cid, sec=sec), [sec]


def k_oauth_spotipy():
    cid, sec = hx(32), hx(32)
    return fill("""import spotipy
from spotipy.oauth2 import SpotifyOAuth

sp = spotipy.Spotify(auth_manager=SpotifyOAuth(
    client_id="@@cid@@",
    client_secret="@@sec@@",
    redirect_uri="http://127.0.0.1:8888/callback",
    scope="user-library-read playlist-modify-private",
))""", cid=cid, sec=sec), [sec]


def k_oauth_requests_auth():
    cid, sec = "0oa" + mixed(17), mixed(40, B64URL)
    return fill("""resp = requests.post(
    "https://@@o@@.okta.com/oauth2/default/v1/token",
    auth=("@@cid@@", "@@sec@@"),
    data={"grant_type": "client_credentials", "scope": "reports.read"},
    timeout=10,
)
resp.raise_for_status()""", o=org(), cid=cid, sec=sec), [sec]


def k_oauth_msal():
    cid, ten = uid(), uid()
    sec = mixed(3) + "8Q~" + mixed(34, ALNUM + "~_.-")
    return fill("""app = msal.ConfidentialClientApplication(
    "@@cid@@",
    authority="https://login.microsoftonline.com/@@ten@@",
    client_credential="@@sec@@",
)
result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])""", cid=cid, ten=ten, sec=sec), [sec]


def k_oauth_discord_env_pair():
    cid, sec = str(rint(10 ** 17, 13 * 10 ** 17)), mixed(32, B64URL)
    return pick(["discord oauth app for the dashboard login: %s / %s (redirect is /auth/discord/callback)",
                 "Discord app -> id %s, secret %s. Only the secret is sensitive I think?"]) % (cid, sec), [sec]


def k_csv_powershell():
    i, s = aws_id(), aws_secret()
    u = pick(USERS)
    return fill("""PS C:\\Users\\@@u@@\\Downloads> Import-Csv .\\@@u@@_accessKeys.csv | Format-List

Access key ID     : @@i@@
Secret access key : @@s@@

""", u=u, i=i, s=s), [i, s]


def k_csv_pandas():
    rows = [(aws_id(), aws_secret()) for _ in range(rint(1, 2))]
    body = "\n".join("%d  %s  %s" % (n, a, b) for n, (a, b) in enumerate(rows))
    return (">>> import pandas as pd\n>>> pd.read_csv(\"~/Downloads/%s_accessKeys.csv\")\n"
            "          Access key ID                         Secret access key\n%s\n" % (pick(USERS), body)), \
        [x for r in rows for x in r]


def k_csv_python_rows():
    i, s = aws_id(), aws_secret()
    return fill(""">>> with open("credentials.csv", newline="") as f:
...     for row in csv.reader(f):
...         print(row)
...
['Access key ID', 'Secret access key']
['@@i@@', '@@s@@']""", i=i, s=s), [i, s]


def k_csv_cat_a():
    i, s = aws_id(), aws_secret()
    return ("the import script says 'invalid header' for this file:\n\n$ cat -A new_user_credentials.csv\n"
            "M-oM-;M-?Access key ID,Secret access key^M$\n%s,%s^M$\n" % (i, s)), [i, s]


def k_scw_api_key_create():
    ak, sk = "SCW" + mixed(17, UPAL), uid()
    return fill("""$ scw iam api-key create application-id=@@app@@ description="@@d@@"
AccessKey          @@ak@@
SecretKey          @@sk@@
ApplicationID      @@app@@
Description        @@d@@
CreatedAt          now
UpdatedAt          now
ExpiresAt          -
DefaultProjectID   @@proj@@
Editable           true""", app=uid(), d=pick(["terraform ci", "k8s external-dns", "backup job"]), ak=ak, sk=sk,
                proj=uid()), [sk]


def k_linode_obj_keys():
    ak, sk = mixed(20, UPAL), mixed(40)
    lbl = pick(["velero", "backup", "loki-chunks"])
    return fill("""$ linode-cli object-storage keys-create --label @@l@@
┌────────┬─────────────┬──────────────────────┬──────────────────────────────────────────┬─────────┐
│ id     │ label       │ access_key           │ secret_key                               │ limited │
├────────┼─────────────┼──────────────────────┼──────────────────────────────────────────┼─────────┤
│ @@id@@ │ @@lp@@ │ @@ak@@ │ @@sk@@ │ False   │
└────────┴─────────────┴──────────────────────┴──────────────────────────────────────────┴─────────┘""",
                l=lbl, lp=lbl.ljust(11), id=str(rint(100000, 999999)), ak=ak, sk=sk), [sk]


def k_oci_customer_secret():
    kid, key = hx(40), mixed(44, B64)
    user = "ocid1.user.oc1..aaaaaaaa" + rs(52, LOAL)
    return ("$ oci iam customer-secret-key create --display-name %s --user-id %s\n" % (pick(["s3-compat", "rclone"]), user)
            + json.dumps({"data": {"display-name": "s3-compat", "id": kid, "inactive-status": None, "key": key,
                                   "lifecycle-state": "ACTIVE", "time-created": ts()[:23] + "+00:00", "user-id": user},
                          "etag": hx(32)}, indent=2)), [key]


def k_exoscale():
    k, s = "EXO" + hx(24), mixed(43, B64URL)
    return fill("""$ exo iam api-key create @@n@@ @@role@@
┼─────────┼─────────────────────────────────────────────┼
│ API KEY │                                             │
┼─────────┼─────────────────────────────────────────────┼
│ Name    │ @@n@@                                       │
│ Key     │ @@k@@                     │
│ Secret  │ @@s@@ │
│ Role ID │ @@rid@@        │
┼─────────┼─────────────────────────────────────────────┼""", n=pick(["ci-deployer", "sos-backup"]),
                role=pick(["ci-role", "sos-rw"]), k=k, s=s, rid=uid()), [s]


def k_ex_aws_config():
    i, s = aws_id(), aws_secret()
    return fill("""# config/runtime.exs
config :ex_aws,
  access_key_id: "@@i@@",
  secret_access_key: "@@s@@",
  region: "@@r@@"

config :ex_aws, :s3, scheme: "https://", host: "s3.@@r@@.amazonaws.com\"""", i=i, s=s, r=pick(REGIONS)), [i, s]


def k_cpp_sdk():
    i, s = aws_id(), aws_secret()
    return fill("""Aws::SDKOptions options;
Aws::InitAPI(options);
{
    Aws::Client::ClientConfiguration cfg;
    cfg.region = "@@r@@";
    Aws::Auth::AWSCredentials creds("@@i@@", "@@s@@");
    Aws::S3::S3Client s3(creds, nullptr, cfg);
    auto outcome = s3.ListBuckets();
}
Aws::ShutdownAPI(options);""", r=pick(REGIONS), i=i, s=s), [i, s]


def k_swift_soto():
    i, s = aws_id(), aws_secret()
    return fill("""let client = AWSClient(
    credentialProvider: .static(accessKeyId: "@@i@@", secretAccessKey: "@@s@@"),
    httpClientProvider: .createNew
)
let s3 = S3(client: client, region: .@@r@@)""", i=i, s=s, r=pick(["euwest1", "useast1", "apsoutheast2"])), [i, s]


def k_js_wasabi_v2():
    ak, sk = minio_ak(), s3compat_secret()
    return fill("""const s3 = new AWS.S3({
  endpoint: new AWS.Endpoint("s3.@@r@@.wasabisys.com"),
  accessKeyId: "@@ak@@",
  secretAccessKey: "@@sk@@",
  s3ForcePathStyle: true,
});""", r=pick(["eu-central-1", "us-east-1", "us-west-1"]), ak=ak, sk=sk), [sk]


def k_markdown_handoff_table():
    rows = [(e, aws_id(), aws_secret()) for e in ("staging", "prod")]
    t = "| env | key id | secret |\n|---|---|---|\n" + "\n".join("| %s | %s | %s |" % r for r in rows)
    return ("Handoff notes for the %s migration (delete this page after rotation!)\n\n%s\n" % (pick(SERVICES), t)), \
        [x for r in rows for x in r[1:]]


def k_chat_tab_sep():
    ak, sk = minio_ak(), minio_sk()
    return pick(["@ops new minio creds for the gitlab runner cache bucket:\n%s\t%s\nendpoint is http://minio.ci.internal:9000",
                 "runner cache (minio) →  %s   %s   — please put them in the runner config.toml"]) % (ak, sk), [sk]


def k_s3cmd_flags():
    ak, sk = mixed(20, UPAL), mixed(40)
    host = pick(["us-east-1.linodeobjects.com", "nl-ams-1.linodeobjects.com", "s3.wasabisys.com"])
    return fill("""$ s3cmd --access_key=@@ak@@ --secret_key=@@sk@@ --host=@@h@@ --host-bucket='%(bucket)s.@@h@@' ls s3://@@b@@/
2026-10-30 21:04   104857600  s3://@@b@@/pg_dump_20261030.sql.gz""", ak=ak, sk=sk, h=host, b=pick(BUCKETS)), [sk]


def k_mc_admin_user_add():
    ak, sk = mixed(20, UPAL), minio_sk()
    a = pick(["myminio", "local", "prod-minio"])
    return fill("""$ mc admin user add @@a@@ @@ak@@ @@sk@@
Added user `@@ak@@` successfully.
$ mc admin policy attach @@a@@ readwrite --user @@ak@@""", a=a, ak=ak, sk=sk), [sk]


def k_dart_minio():
    ak, sk = minio_ak(), minio_sk()
    return fill("""final minio = Minio(
  endPoint: 'files.@@o@@.internal',
  accessKey: '@@ak@@',
  secretKey: '@@sk@@',
  useSSL: true,
);
await minio.fPutObject('@@b@@', 'avatars/$uid.jpg', file.path);""", o=org(), ak=ak, sk=sk, b=pick(BUCKETS)), [sk]


def k_php_aws_credentials():
    i, s = aws_id(), aws_secret()
    return fill("""use Aws\\Credentials\\Credentials;
use Aws\\Ses\\SesClient;

$credentials = new Credentials('@@i@@', '@@s@@');
$ses = new SesClient(['version' => '2010-12-01', 'region' => '@@r@@', 'credentials' => $credentials]);""",
                i=i, s=s, r=pick(REGIONS)), [i, s]


def k_kotlin_sdk():
    i, s = aws_id(), aws_secret()
    return fill("""val s3 = S3Client {
    region = "@@r@@"
    credentialsProvider = StaticCredentialsProvider {
        accessKeyId = "@@i@@"
        secretAccessKey = "@@s@@"
    }
}""", r=pick(REGIONS), i=i, s=s), [i, s]


def k_supabase_s3():
    kid, sec = hx(32), hx(64)
    ref = rs(20, LO)
    return fill("""supabase storage s3 access keys (Project Settings > Storage), for the duckdb export:
endpoint: https://@@ref@@.supabase.co/storage/v1/s3
region: @@r@@
@@kid@@
@@sec@@""", ref=ref, r=pick(["eu-central-1", "us-east-1"]), kid=kid, sec=sec), [sec]


KEY_PAIRS = [k_iam_create_text, k_iam_create_table, k_aws_configure_transcript, k_credentials_multi, k_passwd_s3fs,
             k_rclone_connstring, k_rclone_config_create_r2, k_rclone_azureblob, k_r2_dashboard_copy,
             k_do_spaces_keys_create, k_ali_create_ak_json, k_ali_node_oss, k_ali_php, k_tccli_configure, k_tc_cos_go,
             k_tc_node, k_b2_ui_copy, k_b2_restic_env, k_az_storage_keys_list, k_az_shared_key_js, k_az_python_blob,
             k_az_cli_flags, k_twilio_py_client, k_twilio_init, k_twilio_apikey_go, k_oauth_nextauth_github,
             k_oauth_spotipy, k_oauth_requests_auth, k_oauth_msal, k_oauth_discord_env_pair, k_csv_powershell,
             k_csv_pandas, k_csv_python_rows, k_csv_cat_a, k_scw_api_key_create, k_linode_obj_keys,
             k_oci_customer_secret, k_exoscale, k_ex_aws_config, k_cpp_sdk, k_swift_soto, k_js_wasabi_v2,
             k_markdown_handoff_table, k_chat_tab_sep, k_s3cmd_flags, k_mc_admin_user_add, k_dart_minio,
             k_php_aws_credentials, k_kotlin_sdk, k_supabase_s3]


# ================================================================ SECRET: provider_near_value
def v_sendgrid_yaml():
    k = sendgrid()
    return fill("""# config/notifications.yml
mail:
  provider: smtp-relay
  sendgrid: @@k@@
  from: "@@o@@ <no-reply@@@o@@.dev>"
  sandbox_mode: false""", k=k, o=org()), [k]


def v_posthog_env():
    if R.random() < 0.5:
        k = "phc_" + mixed(43)
        return "POSTHOG=%s\nPOSTHOG_HOST=https://eu.i.posthog.com\nNEXT_PUBLIC_APP_ENV=production\n" % k, [k]
    k = "phx_" + mixed(47)
    return ("posthog personal api key for the insights export script: %s\n(project id %d)" % (k, rint(10000, 99999))), [k]


def v_mixpanel_json():
    m, a = hx(32), hx(32)
    return json.dumps({"analytics": {"mixpanel": m, "amplitude": a, "flushIntervalMs": 10000},
                       "featureFlags": {"newCheckout": True}}, indent=2), [m, a]


def v_next_line_together():
    k = hx(64)
    return pick(["here's the together key:\n%s\nwe're on the build tier so 600 rpm",
                 "Together AI — here's the key:\n\n%s\n\nmodel: meta-llama/Llama-3.3-70B-Instruct-Turbo"]) % k, [k]


def v_paren_fireworks():
    k = "fw_" + mixed(24)
    return ("switched the eval harness to Fireworks (%s) since the groq limits kept killing the batch run; "
            "accounts/fireworks/models/qwen3-235b-a22b" % k), [k]


def v_arrow_deepseek():
    k = "sk-" + hx(32)
    return pick(["deepseek → %s", "DeepSeek key -> %s (topped up $20)", "deepseek api => %s"]) % k, [k]


def v_commit_msg_honeybadger():
    k = "hbp_" + mixed(30)
    return fill("""$ git log -1
commit @@h@@
Author: @@n@@ <@@e@@>
Date:   Tue Nov 4 14:@@m@@:09 2026 +0100

    wire up Honeybadger for the worker

    using key @@k@@ for now, will move it to the vault before release""", h=git_sha(), n=pick(NAMES), e=email(),
                m="%02d" % rint(0, 59), k=k), [k]


def v_toml_xai():
    k = "xai-" + mixed(80)
    return fill("""[llm.xai]
xai = "@@k@@"
model = "grok-4"
temperature = 0.2

[llm.fallback]
provider = "openai\"""", k=k), [k]


def v_slack_chat_cerebras():
    k = "csk-" + mixed(48, LOAL)
    return fill("""[@@t1@@] @@u1@@: anyone have a cerebras key for the latency benchmark?
[@@t2@@] @@u2@@: @@k@@
[@@t3@@] @@u2@@: personal one, don't commit it""", t1="10:4%d" % rint(0, 9), t2="10:5%d" % rint(0, 4),
                t3="10:5%d" % rint(5, 9), u1=pick(USERS), u2=pick(USERS), k=k), [k]


def v_voyage_backticks():
    k = "pa-" + mixed(43, B64URL)
    return "for embeddings use voyage `%s` with voyage-3-large, 1024 dims" % k, [k]


def v_tavily_dict():
    k = "tvly-" + pick(["dev-", "prod-", ""]) + mixed(32)
    return fill("""SEARCH_TOOLS = {
    "tavily": "@@k@@",
    "max_results": 5,
    "include_raw_content": False,
}""", k=k), [k]


def v_firecrawl_export():
    k = "fc-" + hx(32)
    return "$ export FIRECRAWL=%s\n$ python crawl.py --url https://docs.%s.dev --limit 200\n[crawl] queued job %s" % (
        k, org(), uid()), [k]


def v_jina_prose():
    k = "jina_" + hx(32) + mixed(28)
    return ("jina reader wants the key as a bearer header; mine is %s — the free quota reset this morning" % k), [k]


def v_langsmith_env():
    k = "lsv2_pt_" + hx(32) + "_" + hx(10)
    return "LANGSMITH=%s\nLANGSMITH_PROJECT=%s-agent\nLANGSMITH_TRACING=true\n" % (k, pick(SERVICES)), [k]


def v_wandb_login():
    k = hx(40)
    return fill("""$ wandb login @@k@@
wandb: Appending key for api.wandb.ai to your netrc file: /home/@@u@@/.netrc
wandb: W&B API key is configured. Use `wandb login --relogin` to force relogin""", k=k, u=pick(USERS)), [k]


def v_assemblyai_yaml():
    k = hx(32)
    return fill("""transcription:
  engine: universal
  assemblyai: @@k@@
  speaker_labels: true
  webhook_url: https://hooks.@@o@@.dev/assembly""", k=k, o=org()), [k]


def v_vonage_pair_prose():
    k, s = hx(8), mixed(16)
    return ("vonage (nexmo) for the OTP fallback: api key %s, secret %s — brand name '%s'" % (k, s, org().title())), [s]


def v_plivo_prose():
    aid, tok = "MA" + rs(18, UPAL), mixed(40)
    return pick(["plivo auth id %s\nauth token %s", "Plivo: %s / %s"]) % (aid, tok), [tok]


def v_telnyx_quote():
    k = "KEY" + rs(32, HEXU) + "_" + mixed(22)
    return 'the telnyx key "%s" gets 401 on /v2/messages but works on /v2/balance, weird' % k, [k]


def v_ably_colon():
    k = "%s.%s:%s" % (mixed(6, B64URL), mixed(6, B64URL), mixed(43, B64URL))
    return pick(["ably: %s", "Ably:%s  (root key, capabilities *)"]) % k, [k]


def v_intercom_zendesk_bullets():
    ic = b64e(("tok:%s:1:0" % uid()).encode())
    zd = mixed(40)
    return fill("""Support integrations (for the new inbox service):
- Intercom: @@ic@@
- Zendesk: @@zd@@ (agent @@e@@)
- Front: not migrated yet""", ic=ic, zd=zd, e=email()), [ic, zd]


def v_airtable_next_line():
    k = "pat" + mixed(14) + "." + hx(64)
    return "Airtable PAT (base app%s, scopes data.records:read):\n\n%s\n" % (mixed(14), k), [k]


def v_clickup_ini():
    k = "pk_%d_%s" % (rint(10 ** 7, 10 ** 8 - 1), mixed(32, UPAL))
    return "[integrations]\nclickup = %s\nlist_id = %d\n" % (k, rint(10 ** 11, 10 ** 12)), [k]


def v_typeform_arrow():
    k = "tfp_" + mixed(44, B64URL) + "_" + mixed(14)
    return "typeform → %s\nform id %s, webhook points at /hooks/typeform" % (k, mixed(8)), [k]


def v_woocommerce_pair():
    ck, cs = "ck_" + hx(40), "cs_" + hx(40)
    return ("WooCommerce REST keys for the shop sync (read/write):\nconsumer key %s\nconsumer secret %s" % (ck, cs)), [cs]


def v_klaviyo_tfvars():
    k = "pk_" + hx(34)
    return fill("""# marketing.auto.tfvars
klaviyo       = "@@k@@"
list_id       = "@@l@@"
double_opt_in = true""", k=k, l=mixed(6, UPAL)), [k]


def v_onesignal_compose():
    k = "os_v2_app_" + rs(110, LO + "234567")
    return fill("""services:
  push-worker:
    image: ghcr.io/@@o@@/push-worker:@@v@@
    environment:
      ONESIGNAL_APP_ID: @@app@@
      ONESIGNAL: @@k@@
    restart: unless-stopped""", o=org(), v=ver(), app=uid(), k=k), [k]


def v_expo_prose():
    k = mixed(40, ALNUM + "_-")
    return "expo robot token for EAS builds — %s — it's scoped to the %s account only" % (k, org()), [k]


def v_bugsnag_manifest():
    k = hx(32)
    return fill("""<application
    android:name=".App"
    android:label="@string/app_name">
    <meta-data android:name="com.bugsnag.android.API_KEY" android:value="@@k@@"/>
    <meta-data android:name="com.bugsnag.android.RELEASE_STAGE" android:value="production"/>
</application>""", k=k), [k]


def v_uptimerobot_md():
    k = "u%d-%s" % (rint(10 ** 6, 10 ** 7 - 1), hx(24))
    return "**Monitoring**\n\n* UptimeRobot: `%s` (main API key)\n* Status page: https://stats.uptimerobot.com/%s\n" % (
        k, mixed(9)), [k]


def v_vultr_prose():
    k = mixed(36, UPAL)
    return "vultr api key is %s, can you run `terraform plan` in infra/vultr and tell me what it wants to change?" % k, [k]


def v_hetzner_prose():
    k = mixed(64)
    return "Hetzner Cloud project '%s' — token %s (read & write)" % (pick(["k3s", "staging", "gitlab-runners"]), k), [k]


def v_digitalocean_envrc():
    k = "dop_v1_" + hx(64)
    return "# .envrc (direnv)\nexport digitalocean=%s\nexport TF_VAR_region=fra1\n" % k, [k]


def v_artifactory_gradle():
    k = "AKCp8" + mixed(68)
    return fill("""# ~/.gradle/gradle.properties
org.gradle.jvmargs=-Xmx4g
artifactoryUser=@@u@@
artifactoryApiKey=@@k@@
artifactoryUrl=https://@@o@@.jfrog.io/artifactory""", u=pick(USERS), k=k, o=org()), [k]


def v_rubygems_credentials():
    k = "rubygems_" + hx(48)
    return "$ cat ~/.gem/credentials\n---\n:rubygems_api_key: %s\n" % k, [k]


def v_nuget_push():
    k, v = "oy2" + rs(43, LOAL), ver()
    return ("$ dotnet nuget push bin/Release/%s.%s.nupkg --api-key %s --source https://api.nuget.org/v3/index.json\n"
            "Pushing %s.%s.nupkg to 'https://www.nuget.org/api/v2/package'...\n  Created https://www.nuget.org/api/v2/package/ 1843ms"
            % ("Acme.Client", v, k, "Acme.Client", v)), [k]


def v_crates_prose():
    k = "cio" + mixed(32)
    return "crates.io token for the release workflow (publish-update scope only): %s" % k, [k]


def v_infisical_dash():
    k = "st.%s.%s.%s" % (uid(), hx(32), hx(32))
    return "infisical - %s\nenv=prod path=/%s" % (k, pick(SERVICES)), [k]


def v_bitwarden_sm():
    k = "0.%s.%s:%s" % (uid(), mixed(30), b64e(rbytes(16)))
    return "bitwarden secrets manager machine account (read-only, project %s): %s" % (pick(SERVICES), k), [k]


def v_convex_deploy():
    k = "prod:%s-%s-%d|%s" % (pick(["happy", "brave", "quiet", "tidy"]), pick(["otter", "lynx", "heron", "moose"]),
                             rint(100, 999), b64u(rbytes(64)))
    return "convex deploy key for CI:\n%s" % k, [k]


def v_atlas_pair():
    pub, priv = rs(8, LO), uid()
    return ("mongodb atlas programmatic key for the backup exporter — public %s, private %s (org owner, pls rotate after)"
            % (pub, priv)), [priv]


def v_elastic_cloud():
    k = b64e(("%s:%s" % (mixed(20, B64URL), mixed(22, B64URL))).encode())
    return fill("""output.elasticsearch:
  hosts: ["https://@@d@@.es.@@r@@.gcp.elastic-cloud.com:443"]
  elastic: "@@k@@"
  index: "filebeat-%{[agent.version]}\"""", d=hx(32), r=pick(["europe-west3", "us-central1"]), k=k), [k]


def v_binance_pair():
    k, s = mixed(64), mixed(64)
    return "binance (mainnet, trading enabled, no withdrawals): key %s\nsecret %s" % (k, s), [s]


def v_alpaca_yaml():
    kid, sec = "PK" + mixed(18, UPAL), mixed(40)
    return fill("""broker:
  alpaca:
    key_id: @@kid@@
    secret: @@sec@@
    paper: true""", kid=kid, sec=sec), [sec]


def v_polygon_yaml():
    k = mixed(32)
    return "market_data:\n  polygon: %s\n  tickers: [AAPL, MSFT, NVDA]\n" % k, [k]


def v_mollie_chat():
    k = "live_" + mixed(30)
    return "mollie live key: %s\nthe test one is in the shared vault, don't mix them up" % k, [k]


def v_paystack_prose():
    k = "sk_live_" + hx(40)
    return "Paystack secret for Nigeria payouts -> %s" % k, [k]


def v_flutterwave_env():
    k = "FLWSECK-" + hx(32) + "-X"
    return "FLUTTERWAVE=%s\nFLUTTERWAVE_ENCRYPTION=%s\n" % (k, hx(24)), [k]


def v_mercadopago_prose():
    k = "APP_USR-%d-%06d-%s-%d" % (rint(10 ** 15, 10 ** 16 - 1), rint(0, 999999), hx(32), rint(10 ** 8, 10 ** 9 - 1))
    return "mercadopago access token (prod, AR): %s" % k, [k]


def v_serpapi_space():
    k = hx(64)
    return "serpapi %s" % k, [k]


def v_apify_json():
    k = "apify_api_" + mixed(36)
    return json.dumps({"actors": ["apify/website-content-crawler"], "apify": k, "memoryMbytes": 4096}), [k]


def v_clerk_env():
    k = "sk_live_" + mixed(40)
    return "CLERK=%s\nNEXT_PUBLIC_CLERK_SIGN_IN_URL=/sign-in\n" % k, [k]


def v_upstash_yaml():
    k = "A" + mixed(rint(60, 80), B64URL) + "="
    return fill("""cache:
  url: https://@@n@@.upstash.io
  upstash: "@@k@@"
  ttl_seconds: 600""", n=pick(["eu1-rapid-", "usw1-sharp-"]) + pick(["otter", "falcon", "gecko"]) + "-%d" % rint(10000, 99999),
                k=k), [k]


def v_neon_prose():
    k = "napi_" + mixed(64, LOAL)
    return "Neon API key (for branching per PR): %s" % k, [k]


def v_fly_token():
    k = "FlyV1 fm2_" + b64e(rbytes(rint(180, 240)))
    return "fly deploy token for the gh action:\n%s" % k, [k[6:]]


def v_otel_honeycomb_header():
    k = "hcaik_01" + rs(56, LOAL)
    return fill("""exporters:
  otlp/honeycomb:
    endpoint: api.honeycomb.io:443
    headers:
      x-honeycomb-team: @@k@@
      x-honeycomb-dataset: @@s@@""", k=k, s=pick(SERVICES)), [k]


def v_axiom_prose():
    k = "xaat-" + uid()
    if R.random() < 0.5:
        return "axiom %s\ndataset is %s-logs" % (k, pick(SERVICES)), [k]
    return "Axiom ingest token (%s), dataset `%s`" % (k, pick(SERVICES)), [k]


def v_gemini_parens():
    k = google_api_key()
    return "Gemini (%s) is on the free tier so expect 429s above 10 rpm" % k, [k]


PROVIDER_NEAR_VALUE = [v_sendgrid_yaml, v_posthog_env, v_mixpanel_json, v_next_line_together, v_paren_fireworks,
                       v_arrow_deepseek, v_commit_msg_honeybadger, v_toml_xai, v_slack_chat_cerebras,
                       v_voyage_backticks, v_tavily_dict, v_firecrawl_export, v_jina_prose, v_langsmith_env,
                       v_wandb_login, v_assemblyai_yaml, v_vonage_pair_prose, v_plivo_prose, v_telnyx_quote,
                       v_ably_colon, v_intercom_zendesk_bullets, v_airtable_next_line, v_clickup_ini,
                       v_typeform_arrow, v_woocommerce_pair, v_klaviyo_tfvars, v_onesignal_compose, v_expo_prose,
                       v_bugsnag_manifest, v_uptimerobot_md, v_vultr_prose, v_hetzner_prose, v_digitalocean_envrc,
                       v_artifactory_gradle, v_rubygems_credentials, v_nuget_push, v_crates_prose, v_infisical_dash,
                       v_bitwarden_sm, v_convex_deploy, v_atlas_pair, v_elastic_cloud, v_binance_pair,
                       v_alpaca_yaml, v_polygon_yaml, v_mollie_chat, v_paystack_prose, v_flutterwave_env,
                       v_mercadopago_prose, v_serpapi_space, v_apify_json, v_clerk_env, v_upstash_yaml,
                       v_neon_prose, v_fly_token, v_otel_honeycomb_header, v_axiom_prose, v_gemini_parens]


# ================================================================ SECRET: json_escaped
def toolu():
    return "toolu_01" + rs(22)


def call_id():
    return "call_" + rs(24)


def wrap_result(inner, tool="Bash"):
    """Serialise a tool result the way one of several agent harnesses logs it; returns (text, escape depth)."""
    kind = rint(0, 8)
    if kind == 0:
        d = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": toolu(), "content": inner}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 1:
        out = json.dumps({"stdout": inner, "stderr": "", "exit_code": 0}, ensure_ascii=False)
        return json.dumps({"type": "function_call_output", "call_id": call_id(), "output": out}, ensure_ascii=False), 2
    if kind == 2:
        d = {"jsonrpc": "2.0", "id": rint(3, 120), "result": {"content": [{"type": "text", "text": inner}], "isError": False}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 3:
        tid = toolu()
        d = {"parentUuid": uid(), "isSidechain": False, "userType": "external", "cwd": "/home/%s/src/%s" % (pick(USERS), pick(REPOS)),
             "type": "user", "message": {"role": "user", "content": [
                 {"tool_use_id": tid, "type": "tool_result", "content": inner, "is_error": False}]},
             "uuid": uid(), "timestamp": ts(),
             "toolUseResult": {"stdout": inner, "stderr": "", "interrupted": False, "isImage": False}}
        return json.dumps(d, ensure_ascii=False, separators=(",", ":")), 1
    if kind == 4:
        return json.dumps({"role": "tool", "tool_call_id": call_id(), "content": inner}, ensure_ascii=False), 1
    if kind == 5:
        d = {"type": "ToolMessage", "name": tool.lower(), "tool_call_id": call_id(), "status": "success", "content": inner}
        return json.dumps(d, ensure_ascii=False, indent=2), 1
    if kind == 6:
        d = {"timestamp": ts(), "type": "event_msg", "payload": {"type": "exec_command_end", "call_id": call_id(),
                                                                 "aggregated_output": inner, "exit_code": 0,
                                                                 "duration": {"secs": rint(0, 4), "nanos": rint(0, 10 ** 9 - 1)}}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 7:
        res = json.dumps({"content": inner, "truncated": False}, ensure_ascii=False)
        d = {"type": "tool-result", "toolCallId": call_id(), "toolName": pick(["readFile", "runCommand", "shell"]), "result": res}
        return json.dumps(d, ensure_ascii=False), 2
    d = {"event": "tool_end", "run_id": uid(), "tool": tool, "output": inner, "elapsed_ms": rint(20, 9000)}
    return json.dumps(d, ensure_ascii=False), 1


def wrap_call(command):
    """A tool *call* (the model running a command) as logged by a harness; returns (text, escape depth)."""
    kind = rint(0, 3)
    if kind == 0:
        d = {"role": "assistant", "content": [{"type": "text", "text": "Let me check the API directly."},
                                              {"type": "tool_use", "id": toolu(), "name": "Bash",
                                               "input": {"command": command, "description": "Call the API"}}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 1:
        args = json.dumps({"command": ["bash", "-lc", command], "timeout_ms": 120000}, ensure_ascii=False)
        return json.dumps({"type": "function_call", "name": "shell", "call_id": call_id(), "arguments": args},
                          ensure_ascii=False), 2
    if kind == 2:
        args = json.dumps({"cmd": command}, ensure_ascii=False)
        d = {"role": "assistant", "content": None, "tool_calls": [{"id": call_id(), "type": "function",
                                                                   "function": {"name": "run_terminal_cmd", "arguments": args}}]}
        return json.dumps(d, ensure_ascii=False), 2
    d = {"jsonrpc": "2.0", "id": rint(3, 99), "method": "tools/call", "params": {"name": "execute_command",
                                                                               "arguments": {"command": command}}}
    return json.dumps(d, ensure_ascii=False), 1


def jcase(inner_fn, tool="Bash"):
    def f():
        inner, secrets = inner_fn()
        text, depth = wrap_result(inner, tool)
        return text, [esc(s, depth) for s in secrets]
    f.__name__ = inner_fn.__name__
    return f


def jcall(cmd_fn):
    def f():
        cmd, secrets = cmd_fn()
        text, depth = wrap_call(cmd)
        return text, [esc(s, depth) for s in secrets]
    f.__name__ = cmd_fn.__name__
    return f


def sentry_auth_token():
    return "sntrys_" + b64u(json.dumps({"iat": rint(1760000000, 1790000000), "url": "https://sentry.io",
                                       "region_url": "https://de.sentry.io", "org": org()},
                                      separators=(",", ":")).encode()) + "_" + mixed(43, B64URL)


def ji_env_production():
    ck = "sk_live_" + mixed(40)
    up = "A" + mixed(70, B64URL) + "="
    st = sentry_auth_token()
    ph = "phx_" + mixed(47)
    inner = fill("""$ cat apps/web/.env.production
NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY=pk_live_@@pk@@
CLERK_SECRET_KEY=@@ck@@
UPSTASH_REDIS_REST_URL="https://@@u@@.upstash.io"
UPSTASH_REDIS_REST_TOKEN="@@up@@"
SENTRY_AUTH_TOKEN=@@st@@
POSTHOG_PERSONAL_API_KEY=@@ph@@
""", pk=b64u(("clerk.%s.dev$" % org()).encode()), ck=ck, u=pick(["eu1-keen-lark", "usw1-bold-mink"]) + "-%d" % rint(10000, 99999),
                 up=up, st=st, ph=ph)
    return inner, [ck, up, st, ph]


def ji_apns_p8():
    pem = pkcs8_ec_pem()
    kid = rs(10, UPAL)
    return "$ cat ~/Downloads/AuthKey_%s.p8\n%s\n$ # team id %s, key id %s" % (kid, pem, rs(10, UPAL), kid), [pem]


def ji_kubeconfig_json():
    keypem = ec_pem()
    ckd = b64e((keypem + "\n").encode())
    tok = jwt({"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "ci",
               "sub": "system:serviceaccount:ci:deployer"}, alg="RS256")
    cl = pick(["prod-eks", "gke-staging", "k3s-home"])
    inner = json.dumps({"kind": "Config", "apiVersion": "v1", "preferences": {},
                        "clusters": [{"name": cl, "cluster": {"server": "https://%s.%s.dev:6443" % (cl, org()),
                                                              "certificate-authority-data": b64e(rbytes(300))[:120] + "=="}}],
                        "users": [{"name": "admin", "user": {"client-certificate-data": b64e(rbytes(420)),
                                                             "client-key-data": ckd}},
                                  {"name": "deployer", "user": {"token": tok}}],
                        "contexts": [{"name": cl, "context": {"cluster": cl, "user": "admin"}}],
                        "current-context": cl}, indent=4)
    return "$ kubectl config view --raw -o json\n" + inner, [ckd, tok]


def ji_compose_env_list():
    pg, mn, ml = password(22, ALNUM), password(28, ALNUM), mixed(32, B64URL)
    inner = fill("""$ cat docker-compose.prod.yml
services:
  db:
    image: postgres:17-alpine
    environment:
      - POSTGRES_USER=app
      - POSTGRES_PASSWORD=@@pg@@
  minio:
    image: minio/minio:latest
    environment:
      - MINIO_ROOT_USER=admin
      - MINIO_ROOT_PASSWORD=@@mn@@
  search:
    image: getmeili/meilisearch:v1.11
    environment:
      - MEILI_MASTER_KEY=@@ml@@
      - MEILI_ENV=production
""", pg=pg, mn=mn, ml=ml)
    return inner, [pg, mn, ml]


def jc_curl_bearer():
    kind = rint(0, 3)
    if kind == 0:
        t, url = openai_key(), "https://api.openai.com/v1/models"
    elif kind == 1:
        t, url = "lin_api_" + mixed(40), "https://api.linear.app/graphql"
    elif kind == 2:
        t, url = mixed(24), "https://api.vercel.com/v9/projects"
    else:
        t, url = jwt({"sub": uid(), "scope": "admin"}), "https://api.%s.dev/v1/admin/users?limit=5" % org()
    cmd = 'curl -sS -H "Authorization: Bearer %s" -H "Content-Type: application/json" "%s" | jq \'.data | length\'' % (t, url)
    return cmd, [t]


def jc_curl_api_key_header():
    k = anthropic_key()
    cmd = ("curl https://api.anthropic.com/v1/messages -H \"x-api-key: %s\" -H \"anthropic-version: 2023-06-01\" "
           "-H \"content-type: application/json\" -d '{\"model\": \"claude-sonnet-4-5\", \"max_tokens\": 64, "
           "\"messages\": [{\"role\": \"user\", \"content\": \"ping\"}]}'" % k)
    return cmd, [k]


def ji_curl_verbose_output():
    t = ghp()
    inner = fill("""*   Trying 140.82.121.6:443...
* Connected to api.github.com (140.82.121.6) port 443
> GET /repos/@@o@@/@@r@@/actions/runs?per_page=1 HTTP/2
> Host: api.github.com
> User-Agent: curl/8.7.1
> Accept: application/vnd.github+json
> Authorization: Bearer @@t@@
>
< HTTP/2 200
< x-ratelimit-remaining: 4987
""", o=org(), r=pick(REPOS), t=t)
    return inner, [t]


def ji_gh_api_config():
    k, w = stripe_live("sk_live_"), "whsec_" + mixed(32)
    inner = "$ gh api repos/%s/%s/contents/config/prod.json --jq .content | base64 -d\n" % (org(), pick(REPOS)) + \
        json.dumps({"stripe": {"secretKey": k, "webhookSecret": w}, "features": {"invoices": True}}, indent=2) + "\n"
    return inner, [k, w]


def ji_portainer_stack():
    pw, tok = password(20, ALNUM), mixed(40, B64URL)
    stack = "services:\n  app:\n    image: ghcr.io/%s/app:latest\n    environment:\n      API_TOKEN: %s\n" % (org(), tok)
    inner = json.dumps({"Id": rint(2, 40), "Name": pick(SERVICES), "Type": 2, "EndpointId": rint(1, 5),
                        "Env": [{"name": "DB_PASSWORD", "value": pw}, {"name": "TZ", "value": "Europe/Berlin"}],
                        "StackFileContent": stack, "Status": 1})
    return "$ curl -s -H \"X-API-Key: $PORTAINER_KEY\" https://portainer.lan/api/stacks/%d | jq -c .\n%s\n" % (
        rint(2, 40), inner), [pw, tok]


def ji_ipynb_openai():
    k = openai_key()
    nb = {"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
                     "source": ["import os\n", "from openai import OpenAI\n", "\n",
                                "os.environ[\"OPENAI_API_KEY\"] = \"%s\"\n" % k, "client = OpenAI()\n"]},
                    {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [
                        {"name": "stdout", "output_type": "stream", "text": ["gpt-4.1-mini\n"]}],
                     "source": ["print(client.models.retrieve(\"gpt-4.1-mini\").id)"]}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1), [jesc(k)]


def ji_vscode_launch():
    sk, pw = stripe_live("rk_live_"), password(18, ALNUM + "-_")
    inner = json.dumps({"version": "0.2.0", "configurations": [
        {"type": "node", "request": "launch", "name": "API (prod data)", "program": "${workspaceFolder}/src/server.ts",
         "env": {"STRIPE_SECRET_KEY": sk, "DATABASE_URL": "postgres://readonly:%s@%s:5432/app" % (pw, pick(HOSTS)),
                 "NODE_ENV": "development"}}]}, indent=4)
    return inner, [sk, pw]


def ji_postman_collection():
    t, k = jwt({"sub": uid(), "role": "admin"}), mixed(32)
    inner = json.dumps({"info": {"_postman_id": uid(), "name": "%s API" % org().title(),
                                 "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
                        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": t, "type": "string"}]},
                        "item": [{"name": "List invoices", "request": {
                            "method": "GET", "url": "{{baseUrl}}/v1/invoices",
                            "header": [{"key": "X-Api-Key", "value": k}]}}]}, indent="\t")
    return inner, [t, k]


def ji_har_entry():
    t = jwt({"sub": uid(), "sid": uid()}, alg="RS256")
    sid = mixed(32, B64URL)
    inner = json.dumps({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                                "entries": [{"startedDateTime": ts(), "time": round(R.random() * 400, 3),
                                             "request": {"method": "GET", "url": "https://app.%s.dev/api/me" % org(),
                                                         "httpVersion": "http/2.0",
                                                         "headers": [{"name": "authorization", "value": "Bearer " + t},
                                                                     {"name": "cookie", "value": "sid=%s; theme=dark" % sid}]},
                                             "response": {"status": 401, "statusText": ""}}]}}, indent=2)
    return "$ head -c 2000 ~/Downloads/app.%s.dev.har\n%s" % (org(), inner), [t, sid]


def ji_tfstate_rds():
    pw = password(24, ALNUM + "!#%^*-_")
    inner = json.dumps({"mode": "managed", "type": "aws_db_instance", "name": "main", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                        "instances": [{"schema_version": 2, "attributes": {
                            "identifier": "%s-prod" % pick(SERVICES), "engine": "postgres", "engine_version": "16.4",
                            "username": "dbadmin", "password": pw, "port": 5432,
                            "kms_key_id": "arn:aws:kms:%s:%s:key/%s" % (pick(REGIONS), acct(), uid())},
                            "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]]}]}, indent=2)
    return "$ jq '.resources[] | select(.type==\"aws_db_instance\")' terraform.tfstate\n" + inner, [pw]


def ji_gha_workflow():
    hook = mixed(24)
    nt = npm_token()
    inner = fill("""name: release
on:
  push:
    tags: ["v*"]
env:
  SLACK_WEBHOOK_URL: https://hooks.slack.com/services/T@@t@@/B@@b@@/@@hook@@
  NPM_TOKEN: @@nt@@
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: npm ci && npm publish --access public
""", t=rs(10, UPAL), b=rs(10, UPAL), hook=hook, nt=nt)
    return inner, [hook, nt]


def ji_gh_hosts_yml():
    t = gho()
    u = pick(USERS).replace("_", "-")
    inner = "$ cat ~/.config/gh/hosts.yml\ngithub.com:\n    git_protocol: https\n    users:\n        %s:\n            oauth_token: %s\n    user: %s\n    oauth_token: %s\n" % (
        u, t, u, t)
    return inner, [t]


def ji_wp_config():
    pw = password(20, ALNUM + "!#%^*")
    salt_chars = ALNUM + "!@#$%^&*()-_[]{}<>~+=,.;:/?|"
    salts = [mixed(64, salt_chars) for _ in range(4)]
    names = ["AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY"]
    lines = "\n".join("define( '%s',%s'%s' );" % (n, " " * (17 - len(n)), s) for n, s in zip(names, salts))
    inner = fill("""<?php
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wp_@@o@@' );
define( 'DB_PASSWORD', '@@pw@@' );
define( 'DB_HOST', 'localhost' );

@@lines@@

$table_prefix = 'wp_';
""", o=org().replace("-", ""), pw=pw, lines=lines)
    return inner, [pw] + salts


def ji_appsettings_json():
    pw, jk = password(20, ALNUM + "!#%*"), mixed(64)
    doc = json.dumps({"ConnectionStrings": {"Default": "Server=sql-%s.database.windows.net;Database=app;User Id=appuser;Password=%s;Encrypt=True;" % (org(), pw)},
                      "Jwt": {"Issuer": "https://api.%s.dev" % org(), "Key": jk}, "Logging": {"LogLevel": {"Default": "Information"}}},
                     indent=2)
    inner = json.dumps({"path": "src/Api/appsettings.Production.json", "content": doc})
    return inner, [jesc(pw), jesc(jk)]


def ji_printenv_ci():
    gt, at, nt = ghs(), jwt({"scp": "Actions.Results:%s" % uid()}, alg="RS256"), npm_token()
    inner = fill("""$ printenv | sort | grep -E 'TOKEN|^RUNNER_'
ACTIONS_RUNTIME_TOKEN=@@at@@
GITHUB_TOKEN=@@gt@@
NPM_TOKEN=@@nt@@
RUNNER_ARCH=X64
RUNNER_OS=Linux
""", at=at, gt=gt, nt=nt)
    return inner, [at, gt, nt]


def ji_traceback_locals():
    k = anthropic_key()
    inner = fill("""Traceback (most recent call last):
  File "/app/agent/llm.py", line 88, in complete
    resp = client.messages.create(model=model, max_tokens=4096, messages=msgs)
╭──────────────────── locals ────────────────────╮
│   api_key = '@@k@@' │
│     model = 'claude-sonnet-4-5'                  │
│      msgs = [{'role': 'user', 'content': '...'}] │
╰──────────────────────────────────────────────────╯
anthropic.RateLimitError: Error code: 429""", k=k)
    return inner, [k]


def ji_git_diff_config():
    k = hx(32)
    inner = fill("""$ git diff config/default.json
diff --git a/config/default.json b/config/default.json
index @@a@@..@@b@@ 100644
--- a/config/default.json
+++ b/config/default.json
@@ -4,6 +4,7 @@
   "geocoder": {
     "provider": "opencage",
+    "apiKey": "@@k@@",
     "timeoutMs": 2500
   },""", a=short_sha(), b=short_sha(), k=k)
    return inner, [k]


def ji_yarnrc():
    t = npm_token()
    inner = "$ cat .yarnrc.yml\nnodeLinker: node-modules\nnpmScopes:\n  %s:\n    npmRegistryServer: \"https://registry.npmjs.org\"\n    npmAuthToken: %s\n" % (
        org(), t)
    return inner, [t]


def ji_pip_conf():
    u = pick(USERS)
    pw = password(20, ALNUM + "-_")
    inner = "$ pip config list\nglobal.index-url='https://%s:%s@nexus.%s.dev/repository/pypi-all/simple'\nglobal.timeout='60'\n" % (
        u, pw, org())
    return inner, [pw]


def ji_composer_auth():
    g, p = ghp(), mixed(40)
    inner = "$ cat ~/.composer/auth.json\n" + json.dumps(
        {"github-oauth": {"github.com": g}, "http-basic": {"repo.packagist.com": {"username": "token", "password": p}}},
        indent=4) + "\n"
    return inner, [g, p]


def ji_stripe_cli_config():
    rk = stripe_live("rk_live_")
    inner = fill("""$ cat ~/.config/stripe/config.toml
[default]
  device_name = '@@d@@'
  display_name = '@@o@@'
  live_mode_api_key = '@@rk@@'
  live_mode_key_expires_at = '@@e@@'
  live_mode_pub_key = 'pk_live_51@@pk@@'
""", d=pick(["mbp-amara", "devbox"]), o=org().title(), rk=rk, e=date(2027), pk=mixed(60))
    return inner, [rk]


def ji_gcloud_token():
    t = "ya29.a0" + mixed(rint(200, 240), B64URL)
    inner = "$ gcloud auth print-access-token\n%s\n$ gcloud auth list --format='value(account)'\n%s\n" % (t, email())
    return inner, [t]


def ji_ovpn_static_key():
    pem = pkcs8_pem()
    sk = "\n".join(hx(32) for _ in range(16))
    block = "-----BEGIN OpenVPN Static key V1-----\n%s\n-----END OpenVPN Static key V1-----" % sk
    inner = fill("""client
dev tun
proto udp
remote vpn.@@o@@.dev 1194
cipher AES-256-GCM
<key>
@@pem@@
</key>
<tls-crypt>
@@block@@
</tls-crypt>
""", o=org(), pem=pem, block=block)
    return inner, [pem, block]


def ji_pgp_private():
    body = wrap(b64e(rbytes(900)), 64)
    blk = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n%s\n=%s\n-----END PGP PRIVATE KEY BLOCK-----" % (body, rs(4, B64))
    inner = "$ gpg --export-secret-keys --armor %s\n%s\n" % (hx(16).upper(), blk)
    return inner, [blk]


def ji_git_config_token():
    t = ghs()
    inner = fill("""$ cat .git/config
[core]
	repositoryformatversion = 0
	filemode = true
	bare = false
[remote "origin"]
	url = https://x-access-token:@@t@@@github.com/@@o@@/@@r@@.git
	fetch = +refs/heads/*:refs/remotes/origin/*
[branch "main"]
	remote = origin
	merge = refs/heads/main
""", t=t, o=org(), r=pick(REPOS))
    return inner, [t]


def ji_helm_values_json():
    a, b, c, d = password(16, ALNUM), password(16, ALNUM), password(20, ALNUM), hx(64)
    inner = json.dumps({"postgresql": {"auth": {"username": "app", "password": a, "postgresPassword": b}},
                        "redis": {"auth": {"enabled": True, "password": c}}, "app": {"secretKey": d, "replicas": 3}})
    return "$ helm get values %s -n prod -o json\n%s\n" % (pick(SERVICES), inner), [a, b, c, d]


def ji_k8s_jsonpath_decode():
    v = mixed(40)
    s = pick(SERVICES)
    inner = "$ kubectl -n prod get secret %s-api -o jsonpath='{.data.api-key}' | base64 -d; echo\n%s\n$ kubectl -n prod rollout restart deploy/%s\ndeployment.apps/%s restarted\n" % (
        s, v, s, s)
    return inner, [v]


def ji_cursor_mcp():
    lk, pw = "lin_api_" + mixed(40), password(20, ALNUM)
    inner = json.dumps({"mcpServers": {
        "linear": {"command": "npx", "args": ["-y", "@tacticlaunch/mcp-linear"], "env": {"LINEAR_API_KEY": lk}},
        "postgres": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres",
                                                "postgresql://analyst:%s@%s:5432/warehouse" % (pw, pick(HOSTS))]}}}, indent=2)
    return inner, [lk, pw]


def ji_request_body_log():
    k = "sk_live_" + hx(40)
    body = json.dumps({"amount": rint(1000, 90000), "currency": "NGN", "api_key": k, "reference": uid()})
    line = json.dumps({"level": "debug", "ts": ts(), "msg": "outbound request", "url": "https://api.paystack.co/transaction/initialize",
                       "body": body})
    return "$ tail -n 1 /var/log/%s/app.log\n%s\n" % (pick(SERVICES), line), [jesc(k)]


def ji_serverless_print():
    k, t = mixed(32), mixed(48, B64URL)
    inner = fill("""$ npx serverless print --stage prod
service: @@s@@
provider:
  name: aws
  runtime: nodejs20.x
  region: @@r@@
  environment:
    GEOCODER_API_KEY: @@k@@
    PARTNER_TOKEN: @@t@@
functions:
  handler:
    handler: dist/handler.main
""", s=pick(SERVICES), r=pick(REGIONS), k=k, t=t)
    return inner, [k, t]


def ji_cloud_init_k3s():
    tok = "K10" + hx(64) + "::server:" + hx(32)
    inner = fill("""$ cat cloud-init/agent.yaml
#cloud-config
package_update: true
runcmd:
  - curl -sfL https://get.k3s.io | K3S_URL=https://@@ip@@:6443 K3S_TOKEN=@@tok@@ sh -
""", ip="10.0.%d.%d" % (rint(0, 9), rint(2, 250)), tok=tok)
    return inner, [tok]


def ji_ansible_inventory():
    a, b = password(18, ALNUM + "!#%"), password(18, ALNUM + "!#%")
    inner = fill("""$ cat inventories/prod/hosts.yml
all:
  children:
    web:
      hosts:
        web-01.@@o@@.dev:
        web-02.@@o@@.dev:
      vars:
        ansible_user: deploy
        ansible_password: "@@a@@"
        ansible_become_password: "@@b@@"
""", o=org(), a=a, b=b)
    return inner, [a, b]


def ji_vault_pki_issue():
    pem = rsa_pem()
    cert = pem_block("CERTIFICATE", rbytes(700))
    inner = json.dumps({"request_id": uid(), "lease_id": "pki/issue/web/" + uid(), "renewable": False, "lease_duration": 2591999,
                        "data": {"certificate": cert, "expiration": rint(1790000000, 1799999999), "issuing_ca": cert,
                                 "private_key": pem, "private_key_type": "rsa", "serial_number": colon_hex(20).lower()},
                        "warnings": None}, indent=2)
    return "$ vault write -format=json pki/issue/web common_name=%s.%s.dev ttl=720h\n%s" % (
        pick(SERVICES), org(), inner), [jesc(pem)]


JSON_ESCAPED = [jcase(ji_env_production), jcase(ji_apns_p8), jcase(ji_kubeconfig_json), jcase(ji_compose_env_list, "Read"),
                jcall(jc_curl_bearer), jcall(jc_curl_api_key_header), jcase(ji_curl_verbose_output),
                jcase(ji_gh_api_config), jcase(ji_portainer_stack), jcase(ji_ipynb_openai, "Read"),
                jcase(ji_vscode_launch, "Read"), jcase(ji_postman_collection, "Read"), jcase(ji_har_entry),
                jcase(ji_tfstate_rds), jcase(ji_gha_workflow, "Read"), jcase(ji_gh_hosts_yml), jcase(ji_wp_config, "Read"),
                jcase(ji_appsettings_json, "read_file"), jcase(ji_printenv_ci), jcase(ji_traceback_locals),
                jcase(ji_git_diff_config), jcase(ji_yarnrc), jcase(ji_pip_conf), jcase(ji_composer_auth),
                jcase(ji_stripe_cli_config), jcase(ji_gcloud_token), jcase(ji_ovpn_static_key, "Read"),
                jcase(ji_pgp_private), jcase(ji_git_config_token), jcase(ji_helm_values_json),
                jcase(ji_k8s_jsonpath_decode), jcase(ji_cursor_mcp, "Read"), jcase(ji_request_body_log),
                jcase(ji_serverless_print), jcase(ji_cloud_init_k3s), jcase(ji_ansible_inventory), jcase(ji_vault_pki_issue)]


# ================================================================ SECRET: code_constants
def c_rust_hmac_slice():
    s = mixed(40, ALNUM + "-_")
    return fill("""type HmacSha256 = Hmac<Sha256>;

pub fn sign_webhook(body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(b"@@s@@")
        .expect("HMAC can take key of any size");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}""", s=s), [s]


def c_rust_jsonwebtoken():
    s = mixed(48)
    return fill("""static KEYS: Lazy<Keys> = Lazy::new(|| {
    let secret = "@@s@@";
    Keys {
        encoding: EncodingKey::from_secret(secret.as_bytes()),
        decoding: DecodingKey::from_secret(secret.as_bytes()),
    }
});""", s=s), [s]


def c_rust_option_env():
    t = "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 12, 10 ** 13), mixed(24))
    return fill("""const SLACK_TOKEN: &str = match option_env!("SLACK_TOKEN") {
    Some(t) => t,
    None => "@@t@@",
};""", t=t), [t]


def c_rust_once_cell_hex():
    k = hx(64)
    return fill("""static PASETO_KEY: OnceCell<[u8; 32]> = OnceCell::new();

fn paseto_key() -> &'static [u8; 32] {
    PASETO_KEY.get_or_init(|| {
        hex::decode("@@k@@")
            .unwrap()
            .try_into()
            .unwrap()
    })
}""", k=k), [k]


def c_go_securecookie():
    h, b = mixed(64), mixed(32)
    return fill("""var cookieHandler = securecookie.New(
	[]byte("@@h@@"),
	[]byte("@@b@@"),
)""", h=h, b=b), [h, b]


def c_go_jwt_keyfunc():
    s = mixed(44, ALNUM + "_-")
    return fill("""func parseToken(raw string) (*jwt.Token, error) {
	return jwt.Parse(raw, func(t *jwt.Token) (interface{}, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return []byte("@@s@@"), nil
	})
}""", s=s), [s]


def c_go_mailgun_const():
    k = "key-" + hx(32)
    return fill("""const (
	mailgunDomain = "mg.@@o@@.dev"
	mailgunKey    = "@@k@@"
	senderAddress = "Support <support@@@o@@.dev>"
)

var mg = mailgun.NewMailgun(mailgunDomain, mailgunKey)""", o=org(), k=k), [k]


def c_go_cookiestore():
    s = mixed(32)
    return fill("""var store = sessions.NewCookieStore([]byte("@@s@@"))

func handler(w http.ResponseWriter, r *http.Request) {
	session, _ := store.Get(r, "session-name")
	session.Values["user_id"] = 42
	_ = session.Save(r, w)
}""", s=s), [s]


def c_ts_jwt_sign_literal():
    s = mixed(40, ALNUM + "!#%*")
    return fill("""export function issueAccessToken(user: User): string {
  return jwt.sign({ sub: user.id, role: user.role }, "@@s@@", {
    expiresIn: "15m",
    issuer: "api.@@o@@.dev",
  });
}""", s=s, o=org()), [s]


def c_js_express_session():
    s = mixed(36, ALNUM + "-_")
    return fill("""app.use(
  session({
    secret: '@@s@@',
    resave: false,
    saveUninitialized: false,
    cookie: { secure: true, httpOnly: true, maxAge: 1000 * 60 * 60 * 8 },
  })
);""", s=s), [s]


def c_ts_cryptojs():
    k = mixed(32)
    return fill("""import CryptoJS from "crypto-js";

export const encryptDraft = (draft: Draft) =>
  CryptoJS.AES.encrypt(JSON.stringify(draft), "@@k@@").toString();

export const decryptDraft = (blob: string): Draft =>
  JSON.parse(CryptoJS.AES.decrypt(blob, "@@k@@").toString(CryptoJS.enc.Utf8));""", k=k), [k]


def c_ts_scrypt_salt():
    s = hx(32)
    return fill("""const SALT = "@@s@@";

export function deriveKey(passphrase: string): Buffer {
  return scryptSync(passphrase, SALT, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}""", s=s), [s]


def c_ts_tweetnacl():
    k = b64e(rbytes(32))
    return fill("""import nacl from "tweetnacl";
import { decodeBase64, encodeBase64, decodeUTF8 } from "tweetnacl-util";

const key = decodeBase64("@@k@@");

export function seal(msg: string): string {
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  const box = nacl.secretbox(decodeUTF8(msg), nonce, key);
  return encodeBase64(nonce) + "." + encodeBase64(box);
}""", k=k), [k]


def c_ts_iron_session():
    p = mixed(48)
    return fill("""export const sessionOptions: SessionOptions = {
  password: "@@p@@",
  cookieName: "@@o@@_session",
  cookieOptions: { secure: process.env.NODE_ENV === "production" },
};""", p=p, o=org().replace("-", "_")), [p]


def c_py_jwt_encode():
    s = mixed(48, ALNUM + "-_")
    return fill("""def create_access_token(user_id: int) -> str:
    payload = {"sub": str(user_id), "exp": datetime.now(tz=timezone.utc) + timedelta(minutes=30)}
    return jwt.encode(payload, "@@s@@", algorithm="HS256")""", s=s), [s]


def c_py_aes_new():
    k = mixed(32)
    return fill("""from Crypto.Cipher import AES

def encrypt_field(value: str) -> bytes:
    cipher = AES.new(b"@@k@@", AES.MODE_GCM)
    ct, tag = cipher.encrypt_and_digest(value.encode())
    return cipher.nonce + tag + ct""", k=k), [k]


def c_py_itsdangerous():
    s = mixed(40, ALNUM + "-_")
    return fill("""from itsdangerous import URLSafeTimedSerializer

serializer = URLSafeTimedSerializer("@@s@@", salt="email-confirm")

def confirmation_token(email: str) -> str:
    return serializer.dumps(email)""", s=s), [s]


def c_py_flask_config():
    s = hx(48)
    return fill("""app = Flask(__name__)
app.config["SECRET_KEY"] = "@@s@@"
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///dev.db"
app.config["SESSION_COOKIE_SAMESITE"] = "Lax\"""", s=s), [s]


def c_py_getenv_default():
    k = sendgrid()
    return fill("""SENDGRID_API_KEY = os.getenv("SENDGRID_API_KEY", "@@k@@")
DEFAULT_FROM = os.getenv("DEFAULT_FROM", "hello@@@o@@.dev")""", k=k, o=org()), [k]


def c_py_pbkdf2_salt():
    s = mixed(24)
    return fill("""kdf = PBKDF2HMAC(
    algorithm=hashes.SHA256(),
    length=32,
    salt=b"@@s@@",
    iterations=480_000,
)
key = base64.urlsafe_b64encode(kdf.derive(master_password.encode()))""", s=s), [s]


def c_java_auth0_hmac():
    s = mixed(48)
    return fill("""public String createToken(User user) {
    Algorithm algorithm = Algorithm.HMAC256("@@s@@");
    return JWT.create()
            .withIssuer("@@o@@")
            .withSubject(user.getId().toString())
            .withExpiresAt(Instant.now().plus(Duration.ofHours(1)))
            .sign(algorithm);
}""", s=s, o=org()), [s]


def c_java_system_property():
    k = mixed(32)
    return fill("""private static final String PARTNER_API_KEY =
        System.getProperty("partner.apiKey", "@@k@@");""", k=k), [k]


def c_java_jjwt_parser():
    s = b64e(rbytes(48))
    return fill("""public Claims validate(String token) {
    return Jwts.parserBuilder()
            .setSigningKey(Decoders.BASE64.decode("@@s@@"))
            .build()
            .parseClaimsJws(token)
            .getBody();
}""", s=s), [s]


def c_kotlin_hmac():
    s = mixed(40)
    return fill("""private const val HMAC_SECRET = "@@s@@"

fun sign(payload: String): String {
    val mac = Mac.getInstance("HmacSHA256").apply {
        init(SecretKeySpec(HMAC_SECRET.toByteArray(), "HmacSHA256"))
    }
    return mac.doFinal(payload.toByteArray()).joinToString("") { "%02x".format(it) }
}""", s=s), [s]


def c_kotlin_companion_key():
    k = mixed(40)
    return fill("""class ApiKeyInterceptor : Interceptor {
    override fun intercept(chain: Interceptor.Chain): Response =
        chain.proceed(chain.request().newBuilder().addHeader("X-Api-Key", API_KEY).build())

    companion object {
        private const val API_KEY = "@@k@@"
    }
}""", k=k), [k]


def c_cs_hmacsha256():
    s = mixed(40)
    return fill("""public static string Sign(string payload)
{
    using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes("@@s@@"));
    return Convert.ToHexString(hmac.ComputeHash(Encoding.UTF8.GetBytes(payload))).ToLowerInvariant();
}""", s=s), [s]


def c_cs_aes_create():
    k, iv = b64e(rbytes(32)), b64e(rbytes(16))
    return fill("""using var aes = Aes.Create();
aes.Key = Convert.FromBase64String("@@k@@");
aes.IV = Convert.FromBase64String("@@iv@@");
using var enc = aes.CreateEncryptor();""", k=k, iv=iv), [k]


def c_cs_config_fallback():
    k = mixed(64)
    return fill("""var jwtKey = builder.Configuration["Jwt:Key"] ?? "@@k@@";
builder.Services.AddAuthentication().AddJwtBearer(o =>
    o.TokenValidationParameters = new() { IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwtKey)) });""",
                k=k), [k]


def c_php_openssl_encrypt():
    k = mixed(32)
    return fill("""function encrypt_payload(string $data): string
{
    $iv = random_bytes(16);
    $ct = openssl_encrypt($data, 'aes-256-cbc', '@@k@@', OPENSSL_RAW_DATA, $iv);
    return base64_encode($iv . $ct);
}""", k=k), [k]


def c_php_firebase_jwt():
    s = mixed(44)
    return fill("""use Firebase\\JWT\\JWT;

$jwt = JWT::encode([
    'iss' => 'https://api.@@o@@.dev',
    'sub' => $user->id,
    'exp' => time() + 3600,
], '@@s@@', 'HS256');""", o=org(), s=s), [s]


def c_php_define():
    k = hx(64)
    return fill("""<?php
// config/app.php
define('APP_ENV', 'production');
define('ENCRYPTION_KEY', '@@k@@');
define('SESSION_LIFETIME', 7200);""", k=k), [k]


def c_php_laravel_env_default():
    k = "base64:" + b64e(rbytes(32))
    return fill("""    'cipher' => 'AES-256-CBC',

    'key' => env('APP_KEY', '@@k@@'),

    'previous_keys' => [
        ...array_filter(explode(',', env('APP_PREVIOUS_KEYS', ''))),
    ],""", k=k), [k]


def c_ruby_jwt_encode():
    s = hx(64)
    return fill("""class JsonWebToken
  def self.encode(payload, exp = 24.hours.from_now)
    payload[:exp] = exp.to_i
    JWT.encode(payload, "@@s@@", "HS256")
  end
end""", s=s), [s]


def c_ruby_openssl_hmac():
    s = mixed(40)
    return fill("""def valid_signature?(request)
  expected = OpenSSL::HMAC.hexdigest("SHA256", "@@s@@", request.raw_post)
  ActiveSupport::SecurityUtils.secure_compare(expected, request.headers["X-Signature"].to_s)
end""", s=s), [s]


def c_ruby_env_or():
    s = "shpss_" + hx(32)
    return fill("""ShopifyAPI::Context.setup(
  api_key: ENV["SHOPIFY_API_KEY"],
  api_secret_key: ENV["SHOPIFY_API_SECRET"] || "@@s@@",
  host: "https://app.@@o@@.dev",
  scope: "read_orders,write_products",
  is_embedded: true,
  api_version: "2025-01"
)""", s=s, o=org()), [s]


def c_swift_hmac():
    s = mixed(40)
    return fill("""import CryptoKit

func signature(for body: Data) -> String {
    let key = SymmetricKey(data: Data("@@s@@".utf8))
    let mac = HMAC<SHA256>.authenticationCode(for: body, using: key)
    return Data(mac).map { String(format: "%02x", $0) }.joined()
}""", s=s), [s]


def c_swift_secrets_enum():
    a, p = hx(32), hx(20)
    return fill("""enum Secrets {
    static let algoliaAppID = "@@app@@"
    static let algoliaAdminKey = "@@a@@"
    static let pusherSecret = "@@p@@"
}""", app=rs(10, UPAL), a=a, p=p), [a, p]


def c_elixir_joken():
    s = mixed(64)
    return fill("""# config/config.exs
config :joken, default_signer: "@@s@@"

config :my_app, MyAppWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [json: MyAppWeb.ErrorJSON], layout: false]""", s=s), [s]


def c_elixir_phoenix_salts():
    skb, ss, lv = mixed(64, ALNUM + "+/"), mixed(8), mixed(8)
    return fill("""config :my_app, MyAppWeb.Endpoint,
  http: [ip: {127, 0, 0, 1}, port: 4000],
  secret_key_base: "@@skb@@",
  live_view: [signing_salt: "@@lv@@"]

# lib/my_app_web/endpoint.ex
@session_options [
  store: :cookie,
  key: "_my_app_key",
  signing_salt: "@@ss@@",
  same_site: "Lax"
]""", skb=skb, ss=ss, lv=lv), [skb, lv, ss]


def c_sh_readonly():
    t = mixed(40, B64URL)
    return fill("""#!/usr/bin/env bash
set -euo pipefail

readonly API_BASE="https://deploy.@@o@@.dev/api"
readonly API_TOKEN="@@t@@"

curl -fsS -X POST -H "Authorization: Bearer ${API_TOKEN}" "${API_BASE}/releases" -d "sha=$(git rev-parse HEAD)\"""",
                o=org(), t=t), [t]


def c_sh_openssl_hmac():
    s = mixed(32)
    return fill("""body=$(cat payload.json)
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "@@s@@" | awk '{print $2}')
curl -sS -X POST "https://hooks.@@o@@.dev/ingest" -H "X-Signature: sha256=$sig" --data-binary "$body\"""", s=s, o=org()), [s]


def c_sh_openssl_enc_k():
    k, iv = hx(64), hx(32)
    return fill("""# decrypt the bundled fixtures (CI only)
openssl enc -d -aes-256-cbc -K @@k@@ -iv @@iv@@ \\
    -in tests/fixtures/customers.csv.enc -out tests/fixtures/customers.csv""", k=k, iv=iv), [k]


def c_sh_default_expansion():
    k = b64e(rbytes(32))
    return fill("""#!/bin/sh
: "${SIGNING_KEY:=@@k@@}"
: "${PORT:=8080}"
export SIGNING_KEY PORT
exec /usr/local/bin/server""", k=k), [k]


def c_dart_const():
    k = mixed(40)
    return fill("""const _hmacKey = '@@k@@';

String signRequest(String path, int ts) {
  final hmac = Hmac(sha256, utf8.encode(_hmacKey));
  return hmac.convert(utf8.encode('$path:$ts')).toString();
}""", k=k), [k]


def c_scala_hocon():
    s = mixed(64)
    return fill("""# conf/application.conf
play.http.secret.key = "@@s@@"
play.filters.hosts.allowed = [".@@o@@.dev", "localhost:9000"]
db.default.driver = org.postgresql.Driver""", s=s, o=org()), [s]


def c_lua_openresty():
    s = mixed(32)
    return fill("""local SECRET = "@@s@@"

local expected = ngx.encode_base64(ngx.hmac_sha1(SECRET, ngx.var.uri .. ngx.var.arg_expires))
if ngx.var.arg_sig ~= expected then
    return ngx.exit(ngx.HTTP_FORBIDDEN)
end""", s=s), [s]


def c_perl_hmac():
    s = mixed(40)
    return fill("""use Digest::SHA qw(hmac_sha256_hex);

my $sig = hmac_sha256_hex($payload, '@@s@@');
die "bad signature\\n" unless $sig eq $req->header('X-Signature');""", s=s), [s]


def c_c_define():
    k = hx(32)
    return fill("""#define DEVICE_ID   "sensor-@@n@@"
#define DEVICE_KEY  "@@k@@"

static int sign_telemetry(const uint8_t *msg, size_t len, uint8_t out[32]) {
    return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                           (const unsigned char *)DEVICE_KEY, strlen(DEVICE_KEY), msg, len, out);
}""", n=str(rint(100, 999)), k=k), [k]


def c_r_sys_setenv():
    k = openai_key()
    return fill("""library(ellmer)

Sys.setenv(OPENAI_API_KEY = "@@k@@")
chat <- chat_openai(model = "gpt-4.1-mini")
chat$chat("Summarise the survey comments in three bullets")""", k=k), [k]


CODE_CONSTANTS = [c_rust_hmac_slice, c_rust_jsonwebtoken, c_rust_option_env, c_rust_once_cell_hex, c_go_securecookie,
                  c_go_jwt_keyfunc, c_go_mailgun_const, c_go_cookiestore, c_ts_jwt_sign_literal, c_js_express_session,
                  c_ts_cryptojs, c_ts_scrypt_salt, c_ts_tweetnacl, c_ts_iron_session, c_py_jwt_encode, c_py_aes_new,
                  c_py_itsdangerous, c_py_flask_config, c_py_getenv_default, c_py_pbkdf2_salt, c_java_auth0_hmac,
                  c_java_system_property, c_java_jjwt_parser, c_kotlin_hmac, c_kotlin_companion_key, c_cs_hmacsha256,
                  c_cs_aes_create, c_cs_config_fallback, c_php_openssl_encrypt, c_php_firebase_jwt, c_php_define,
                  c_php_laravel_env_default, c_ruby_jwt_encode, c_ruby_openssl_hmac, c_ruby_env_or, c_swift_hmac,
                  c_swift_secrets_enum, c_elixir_joken, c_elixir_phoenix_salts, c_sh_readonly, c_sh_openssl_hmac,
                  c_sh_openssl_enc_k, c_sh_default_expansion, c_dart_const, c_scala_hocon, c_lua_openresty,
                  c_perl_hmac, c_c_define, c_r_sys_setenv]


# ================================================================ CLEAN: option_docs
def o_pg_dump_conn():
    return """$ pg_dump --help | sed -n '/Connection options/,$p'
Connection options:
  -d, --dbname=DBNAME      database to dump
  -h, --host=HOSTNAME      database server host or socket directory
  -p, --port=PORT          database server port number
  -U, --username=NAME      connect as specified database user
  -w, --no-password        never prompt for password
  -W, --password           force password prompt (should happen automatically)
  --role=ROLENAME          do SET ROLE before dump

If no database name is supplied, then the PGDATABASE environment
variable value is used.

Report bugs to <pgsql-bugs@lists.postgresql.org>.
PostgreSQL home page: <https://www.postgresql.org/>"""


def o_mongodump_help():
    return """$ mongodump --help | sed -n '/authentication options/,/uri options/p'
authentication options:
  -u, --username=<username>                                 username for authentication
  -p, --password=<password>                                 password for authentication
      --authenticationDatabase=<database-name>              database that holds the user's credentials
      --authenticationMechanism=<mechanism>                 authentication mechanism to use
      --awsSessionToken=<aws-session-token>                 session token to authenticate via AWS IAM

kerberos options:
      --gssapiServiceName=<service-name>                    service name to use when authenticating using GSSAPI/Kerberos (default: mongodb)
      --gssapiHostName=<host-name>                          hostname to use when authenticating using GSSAPI/Kerberos (default: <remote server's address>)

uri options:"""


def o_sqlcmd_help():
    return """PS> sqlcmd -?
Microsoft (R) SQL Server Command Line Tool
Version 15.0.4298.1 Linux

usage: sqlcmd            [-U login id]          [-P password]
  [-S server or Dsn if -D is provided]
  [-H hostname]          [-E trusted connection]
  [-N Encrypt Connection][-C Trust Server Certificate]
  [-d use database name] [-l login timeout]     [-t query timeout]
  [-G use Azure Active Directory for authentication]
  [-i inputfile]         [-o outputfile]        [-z new password]
  [-Z new password and exit]
  Note: -P is deprecated; set the SQLCMDPASSWORD environment variable instead."""


def o_influx_auth_create():
    return """$ influx auth create --help
NAME:
   influx auth create - Create authorization

USAGE:
   influx auth create [command options] [arguments...]

COMMON OPTIONS:
   --host value                     HTTP address of InfluxDB [$INFLUX_HOST]
   --skip-verify                    Skip TLS certificate chain and host name verification [$INFLUX_SKIP_VERIFY]
   --configs-path value             Path to the influx CLI configurations [$INFLUX_CONFIGS_PATH]
   --active-config value, -c value  Config name to use for command [$INFLUX_ACTIVE_CONFIG]
   --http-debug
   --json                           Output data as JSON [$INFLUX_OUTPUT_JSON]
   --hide-headers                   Hide the table headers in output data [$INFLUX_HIDE_HEADERS]
   --token value, -t value          Token to authenticate request [$INFLUX_TOKEN]

OPTIONS:
   --org-id value                  The ID of the organization [$INFLUX_ORG_ID]
   --org value, -o value           The name of the organization [$INFLUX_ORG]
   --description value, -d value   Token description
   --all-access                    Grants all permissions in all organizations
   --operator                      Grants all permissions in all organizations
   --read-buckets                  Grants the permission to perform read actions against organization buckets
   --write-bucket value            The bucket id"""


def o_clickhouse_client():
    return """$ clickhouse-client --help | grep -iE 'password|user|jwt|ssh-key'
  -u [ --user ] arg                       user
  --password arg                          password
  --ask-password                          ask-password
  --ssh-key-file arg                      File containing the SSH private key for authenticate with the server.
  --ssh-key-passphrase arg                Passphrase for the SSH private key specified by --ssh-key-file.
  --jwt arg                               Use JWT for authentication
  --quota_key arg                         A string to differentiate quotas when the user have keyed quotas configured on server."""


def o_etcdctl_global():
    return """$ etcdctl --help | sed -n '/GLOBAL OPTIONS/,$p'
GLOBAL OPTIONS:
      --cacert=""                               verify certificates of TLS-enabled secure servers using this CA bundle
      --cert=""                                 identify secure client using this TLS certificate file
      --command-timeout=5s                      timeout for short running command (excluding dial timeout)
      --discovery-srv=""                        domain name to query for SRV records describing cluster endpoints
      --endpoints=[127.0.0.1:2379]              gRPC endpoints
      --insecure-transport[=true]               disable transport security for client connections
      --key=""                                  identify secure client using this TLS key file
      --password=""                             password for authentication (if this option is used, --user option shouldn't include password)
      --user=""                                 username[:password] for authentication (prompt if password is not supplied)
  -w, --write-out="simple"                      set the output format (fields, json, protobuf, simple, table)"""


def o_nats_cli():
    return """$ nats --help | sed -n '1,/^Commands/p'
usage: nats [<flags>] <command> [<args> ...]

NATS Utility

Flags:
  -h, --[no-]help            Show context-sensitive help
      --version              Show application version.
  -s, --server=URL           NATS server urls ($NATS_URL)
      --user=USER            Username or Token ($NATS_USER)
      --password=PASSWORD    Password ($NATS_PASSWORD)
      --creds=FILE           User credentials ($NATS_CREDS)
      --nkey=FILE            User NKEY ($NATS_NKEY)
      --tlscert=FILE         TLS client certificate ($NATS_CERT)
      --tlskey=FILE          TLS client key ($NATS_KEY)
      --context=NAME         Configuration context ($NATS_CONTEXT)

Commands:"""


def o_argocd_login():
    return """$ argocd login --help
Log in to Argo CD

Usage:
  argocd login SERVER [flags]

Examples:
# Login to Argo CD using a username and password
argocd login cd.argoproj.io

# Login to Argo CD using SSO
argocd login cd.argoproj.io --sso

Flags:
  -h, --help               help for login
      --name string        Name to use for the context
      --password string    The password of an account to authenticate
      --skip-test-tls      Skip testing whether the server is configured with TLS
      --sso                Perform SSO login
      --sso-port int       Port to run local OAuth2 login application (default 8085)
      --username string    The username of an account to authenticate
      --auth-token string  Authentication token; set this or the ARGOCD_AUTH_TOKEN environment variable"""


def o_helm_registry_login():
    return """$ helm registry login --help

Authenticate to a remote registry.

For example for Github Container Registry:

    echo "$GITHUB_TOKEN" | helm registry login ghcr.io -u $GITHUB_USER --password-stdin

Usage:
  helm registry login [host] [flags]

Flags:
      --ca-file string     verify certificates of HTTPS-enabled servers using this CA bundle
      --cert-file string   identify registry client using this SSL certificate file
  -h, --help               help for login
      --insecure           allow connections to TLS registry without certs
      --key-file string    identify registry client using this SSL key file
  -p, --password string    registry password or identity token
      --password-stdin     read password or identity token from stdin
  -u, --username string    registry username"""


def o_skopeo_creds():
    return """$ skopeo copy --help | grep -E 'creds|registry-token|authfile|password'
      --authfile string                path of the primary registry credentials file
      --dest-authfile string           path of the authentication file for the destination registry. Uses path given by `--authfile`, if not provided
      --dest-creds USERNAME[:PASSWORD]   Use USERNAME[:PASSWORD] for accessing the destination registry
      --dest-password string           Use PASSWORD for accessing the destination registry
      --dest-registry-token TOKEN        Provide a Bearer token for accessing the destination registry
      --src-creds USERNAME[:PASSWORD]    Use USERNAME[:PASSWORD] for accessing the source registry
      --src-password string            Use PASSWORD for accessing the source registry
      --src-registry-token TOKEN         Provide a Bearer token for accessing the source registry"""


def o_poetry_credentials_docs():
    return fill("""From the Poetry docs ("Repositories" > "Configuring credentials"):

    poetry config http-basic.@@r@@ <username> <password>

If you do not specify the password you will be prompted to write it.

To publish to PyPI, you can set your credentials for the repository named pypi.
Note that it is recommended to use API tokens when uploading packages to PyPI:

    poetry config pypi-token.pypi <my-token>

Credentials can also be provided through environment variables:
POETRY_HTTP_BASIC_<NAME>_USERNAME and POETRY_HTTP_BASIC_<NAME>_PASSWORD, or
POETRY_PYPI_TOKEN_<NAME> for tokens.""", r=pick(["foo", "internal", "gitlab"]))


def o_uv_index_auth_docs():
    return """uv reads index credentials from the environment, named after the index:

| Variable | Meaning |
|---|---|
| `UV_INDEX_<NAME>_USERNAME` | username for the index named `<name>` in `[[tool.uv.index]]` |
| `UV_INDEX_<NAME>_PASSWORD` | password (or token) for that index |
| `UV_KEYRING_PROVIDER` | `disabled` (default) or `subprocess` to ask the `keyring` CLI |

```toml
[[tool.uv.index]]
name = "internal"
url = "https://pypi.internal.example/simple"
```

so `UV_INDEX_INTERNAL_PASSWORD` is the one to set in CI. Never put the password into the `url` itself."""


def o_dotnet_nuget_add_source():
    return """$ dotnet nuget add source --help
Description:
  Add a NuGet source.

Usage:
  dotnet nuget add source <PackageSourcePath> [options]

Arguments:
  <PackageSourcePath>  The path to the package source.

Options:
  -n, --name <name>                              Name of the source.
  -u, --username <username>                      Username to be used when connecting to an authenticated source.
  -p, --password <password>                      Password to be used when connecting to an authenticated source.
  --store-password-in-clear-text                 Enables storing portable package source credentials by disabling password encryption.
  --valid-authentication-types <authTypes>       Comma-separated list of valid authentication types for this source.
  --configfile <FILE>                            The NuGet configuration file. If specified, only the settings from this file will be used.
  -?, -h, --help                                 Show command line help."""


def o_svn_help():
    return """$ svn help checkout | sed -n '/Global options/,$p'
Global options:
  --username ARG           : specify a username ARG
  --password ARG           : specify a password ARG (caution: on many operating
                             systems, other users will be able to see this)
  --password-from-stdin    : read password from stdin
  --no-auth-cache          : do not cache authentication tokens
  --non-interactive        : do no interactive prompting (default is to prompt
                             only if standard input is a terminal device)
  --trust-server-cert-failures ARG : with --non-interactive, accept SSL
                             server certificates with failures."""


def o_rsync_password():
    return """$ rsync --help | grep -iE 'pass|secrets'
--password-file=FILE     read daemon-access password from FILE
--early-input=FILE       use FILE for daemon's early exec input

(From rsyncd.conf(5): "secrets file" names a file of username:password pairs used for
daemon authentication; it must not be world-readable unless "strict modes = false".
The client can also take the password from the RSYNC_PASSWORD environment variable.)"""


def o_aria2c_http():
    return """$ aria2c --help=#http | grep -iE 'user|passwd|header'
 --http-user=USER             Set HTTP user. This affects all URLs.
 --http-passwd=PASSWD         Set HTTP password. This affects all URLs.
 --http-auth-challenge[=true|false] Send HTTP authorization header only when it
                              is requested by the server.
 --header=HEADER              Append HEADER to HTTP request header.
 --ftp-user=USER              Set FTP user. This affects all URLs.
 --ftp-passwd=PASSWD          Set FTP password. This affects all URLs."""


def o_smbclient_help():
    return """$ smbclient --help | sed -n '/Credential options/,/Deprecated/p'
Credential options:
  -U, --user=[DOMAIN/]USERNAME[%PASSWORD]        Set the network username
  -N, --no-pass                                  Don't ask for a password
      --password=STRING                          Password
      --pw-nt-hash                               The supplied password is the NT hash
  -A, --authentication-file=FILE                 Get the credentials from a file
  -P, --machine-pass                             Use stored machine account password
      --simple-bind-dn=DN                        DN to use for a simple bind
      --use-kerberos=desired|required|off        Use Kerberos authentication

Deprecated legacy options:"""


def o_mount_cifs_man():
    return """From mount.cifs(8):

    username=arg|user=arg
        specifies the username to connect as. If this is not given, then the
        environment variable USER is used.

    password=arg|pass=arg
        specifies the CIFS password. If this option is not given then the
        environment variable PASSWD is used. If the password is not specified
        directly or indirectly via an argument to mount, mount.cifs will prompt
        for a password, unless the guest option is specified.

    credentials=filename|cred=filename
        specifies a file that contains a username and/or password and
        optionally the name of the workgroup. The format of the file is:

            username=value
            password=value
            domain=value"""


def o_sshpass_help():
    return """$ sshpass
Usage: sshpass [-f|-d|-p|-e[env_var]] [-hV] command parameters
   -f filename   Take password to use from file
   -d number     Use number as file descriptor for getting password
   -p password   Provide password as argument (security unwise)
   -e[env_var]   Password is passed as env-var "env_var" if given, "SSHPASS" otherwise
   With no parameters - password will be taken from stdin

   -P prompt     Which string should sshpass search for to detect a password prompt
   -v            Be verbose about what you're doing
   -h            Show help (this screen)
   -V            Print version information
At most one of -f, -d, -p or -e should be used"""


def o_openvpn_auth():
    return """$ openvpn --help | grep -A2 -E 'auth-user-pass|askpass|auth-nocache'
--askpass [file]: Get PEM password from controlling tty before we daemonize.
--auth-nocache  : Don't cache --askpass or --auth-user-pass passwords.
--auth-user-pass [up] : Authenticate with server using username/password.
                  up is a file containing the username on the first line,
                  and a password on the second. If either the password or both
                  the username and the password are omitted imports will prompt for them from console."""


def o_certbot_eab():
    return """$ certbot --help all | grep -A2 -E 'eab-(kid|hmac-key)'
  --eab-kid EAB_KID     Key Identifier for External Account Binding (default:
                        None)
  --eab-hmac-key EAB_HMAC_KEY
                        HMAC key for External Account Binding (default: None)

ZeroSSL and Google Trust Services hand you both values in their dashboard; pass them
as --eab-kid "$EAB_KID" --eab-hmac-key "$EAB_HMAC_KEY" from your CI secrets."""


def o_step_ca_token():
    return """$ step ca token --help | sed -n '/OPTIONS/,/EXAMPLES/p'
OPTIONS
      --provisioner=name, --issuer=name
          The provisioner name to use.

      --password-file=file
          The path to the file containing the password to decrypt the one-time token
          generating key.

      --provisioner-password-file=file, --provisioner-password-file=file
          The path to the file containing the password to decrypt the provisioner key.

      --key=file
          The private key path used to sign the JWT. This is usually downloaded from
          the certificate authority.

      --not-after=time|duration
          The time|duration when the certificate validity period ends.

EXAMPLES"""


def o_kubeseal_help():
    return """$ kubeseal --help | grep -E 'cert|controller|raw|name|from-file'
      --cert string                      Certificate / public key file/URL to use for encryption. Overrides --controller-*
      --controller-name string           Name of sealed-secrets controller. (default "sealed-secrets-controller")
      --controller-namespace string      Namespace of sealed-secrets controller. (default "kube-system")
      --from-file strings                (only with --raw) Secret items can be sourced from files. Pro-tip: you can use /dev/stdin to read pipe input.
      --name string                      Name of the sealed secret (required with --raw and default (strict) scope)
      --raw                              Encrypt a raw value passed via the --from-* flags instead of the whole secret object
      --fetch-cert                       Write certificate to stdout. Useful for later use with --cert"""


def o_flux_create_secret_git():
    return """$ flux create secret git --help | sed -n '/Examples/,/Global Flags/p'
Examples:
  # Create a Git SSH authentication secret using an ECDSA P-521 curve public key
  flux create secret git podinfo-auth \\
    --url=ssh://git@github.com/stefanprodan/podinfo \\
    --ssh-key-algorithm=ecdsa \\
    --ssh-ecdsa-curve=p521

  # Create a Git HTTPS authentication secret using basic auth
  flux create secret git podinfo-auth \\
    --url=https://github.com/stefanprodan/podinfo \\
    --username=username \\
    --password=password

Flags:
      --bearer-token string           HTTP bearer token
  -p, --password string               basic authentication password
      --private-key-file string       path to a passwordless private key file used for authenticating to the Git SSH server
  -u, --username string               basic authentication username

Global Flags:"""


def o_glab_auth_login():
    return """$ glab auth login --help
Authenticate with a GitLab instance.
You can pass in a token on standard input by using `--stdin`.
The minimum required scopes for the token are: `api`, `write_repository`.

  USAGE
    glab auth login [--flags]

  EXAMPLES
    # Start interactive setup
    $ glab auth login
    # Authenticate against `gitlab.com` by reading the token from a file
    $ glab auth login --stdin < myaccesstoken.txt
    # Authenticate with GitLab Self-Managed or GitLab Dedicated
    $ glab auth login --hostname salsa.debian.org

  FLAGS
    -a --api-host     API host url.
    -h --help         Show help for this command.
    --hostname        The hostname of the GitLab instance to authenticate with. Defaults to 'gitlab.com'.
    --stdin           Read token from standard input.
    -t --token        Your GitLab access token."""


def o_ngrok_authtoken():
    return """$ ngrok config add-authtoken --help
NAME:
  add-authtoken - save authtoken to configuration file

DESCRIPTION:
  The add-authtoken command modifies your configuration file to include
  the specified authtoken.

  By default, this configuration file is located at the default ngrok configuration
  location.

USAGE:
  ngrok config add-authtoken TOKEN [flags]

EXAMPLES:
  ngrok config add-authtoken <token>"""


def o_cloudflared_token():
    return """$ cloudflared tunnel run --help | grep -B1 -A3 -- '--token'
   --token value
      The Tunnel token. When provided along with credentials, this will take precedence.
      Also takes the token from the TUNNEL_TOKEN environment variable. [$TUNNEL_TOKEN]
   --token-file value
      Filepath at which to read the tunnel token. When provided along with credentials, this will take precedence. [$TUNNEL_TOKEN_FILE]"""


def o_tailscale_up():
    return """$ tailscale up --help 2>&1 | grep -A3 -E 'auth-key|login-server'
  --auth-key string
    	node authorization key; if it begins with "file:", then it's a path to a file containing the authkey
  --login-server string
    	base URL of control server (default https://controlplane.tailscale.com)

(For CI: tailscale up --auth-key="$TS_AUTHKEY" --hostname="ci-$GITHUB_RUN_ID" --ephemeral)"""


def o_docker_swarm_join():
    return """$ docker swarm join --help

Usage:  docker swarm join [OPTIONS] HOST:PORT

Join a swarm as a node and/or manager

Options:
      --advertise-addr string   Advertised address (format: "<ip|interface>[:port]")
      --availability string     Availability of the node ("active", "pause", "drain") (default "active")
      --data-path-addr string   Address or interface to use for data path traffic (format: "<ip|interface>")
      --listen-addr node-addr   Listen address (format: "<ip|interface>[:port]") (default 0.0.0.0:2377)
      --token string            Token for entry into the swarm"""


def o_kubeadm_join():
    return """$ kubeadm join --help | sed -n '/Usage/,/--tls-bootstrap-token/p'
Usage:
  kubeadm join [api-server-endpoint] [flags]

Flags:
      --apiserver-advertise-address string            If the node should host a new control plane instance, the IP address the API Server will advertise it's listening on.
      --certificate-key string                        Use this key to decrypt the certificate secrets uploaded by init.
      --discovery-file string                         For file-based discovery, a file or URL from which to load cluster information.
      --discovery-token string                        For token-based discovery, the token used to validate cluster information fetched from the API server.
      --discovery-token-ca-cert-hash strings          For token-based discovery, validate that the root CA public key matches this hash (format: "<type>:<value>").
      --discovery-token-unsafe-skip-ca-verification   For token-based discovery, allow joining without --discovery-token-ca-cert-hash pinning.
      --token string                                  Use this token for both discovery-token and tls-bootstrap-token when those values are not provided.
      --tls-bootstrap-token string                    Specify the token used to temporarily authenticate with the Kubernetes Control Plane while joining the node."""


def o_gitlab_runner_register():
    return """$ gitlab-runner register --help | grep -E -- '--(url|token|registration-token|executor|docker-image)\\b'
   --url value, -u value                    GitLab instance URL [$CI_SERVER_URL]
   --token value, -t value                  Runner token [$CI_SERVER_TOKEN]
   --registration-token value, -r value     Runner's registration token (deprecated) [$REGISTRATION_TOKEN]
   --executor value                         Select executor, eg. shell, docker, etc. [$RUNNER_EXECUTOR]
   --docker-image value                     Docker image to be used [$DOCKER_IMAGE]"""


def o_act_secrets():
    return """$ act --help | grep -iE 'secret|token'
      --secret-file string                  file with list of secrets to read from (e.g. --secret-file .secrets) (default ".secrets")
  -s, --secret stringArray                  secret to make available to actions with optional value (e.g. -s mysecret=foo or -s mysecret)
      --var-file string                     file with list of vars to read from (e.g. --var-file .vars) (default ".vars")
      --github-instance string              GitHub instance to use. Only use this when using GitHub Enterprise Server. (default "github.com")

Tip: `act -s GITHUB_TOKEN="$(gh auth token)"` passes your gh login through without writing it to disk."""


def o_ansible_playbook_vault():
    return """$ ansible-playbook --help | sed -n '/--ask-vault-password/,/--vault-password-file/p'
  --ask-vault-password, --ask-vault-pass
                        ask for vault password
  --vault-id VAULT_IDS  the vault identity to use. This argument may be
                        specified multiple times.
  --vault-password-file VAULT_PASSWORD_FILES, --vault-pass-file VAULT_PASSWORD_FILES
                        vault password file

Connection Options:
  -k, --ask-pass        ask for connection password
  --private-key PRIVATE_KEY_FILE, --key-file PRIVATE_KEY_FILE
                        use this file to authenticate the connection
  -K, --ask-become-pass ask for privilege escalation password"""


def o_cosign_generate_key_pair():
    return """$ cosign generate-key-pair --help
Generates a key-pair for signing.

Usage:
  cosign generate-key-pair [flags]

Examples:
  cosign generate-key-pair [--kms KMSPATH]

  # generate key-pair and write to cosign.key and cosign.pub files
  cosign generate-key-pair

  # generate key-pair in Kubernetes secret
  cosign generate-key-pair k8s://[NAMESPACE]/[NAME]

CAVEATS:
  This command interactively prompts for a password. You can use
  the COSIGN_PASSWORD environment variable to provide one."""


def o_apksigner():
    return """$ apksigner sign --help | sed -n '/--ks-pass/,/--key-pass/p'
--ks-pass             KeyStore password (see --ks). The following formats are
                      supported:
                          pass:<password> password provided inline
                          env:<name>      password provided in the named
                                          environment variable
                          file:<file>     password provided in the named
                                          file, as a single line
                          stdin           password provided on standard input,
                                          as a single line
                      A password is required to open a KeyStore.
                      By default, the tool will prompt for password via console
                      or standard input.
--key-pass            Password of the private key (see --ks-pass)."""


def o_notarytool():
    return """$ xcrun notarytool store-credentials --help | sed -n '1,/--password/p'
OVERVIEW: Validate your authentication credentials and store them in the Keychain for later use.

USAGE: notarytool store-credentials [<profile-name>] [--apple-id <apple-id>] [--team-id <team-id>] [--password <password>] [--key <key>] [--key-id <key-id>] [--issuer <issuer>]

OPTIONS:
  --apple-id <apple-id>   Developer Apple ID username.
  --team-id <team-id>     Developer Team ID.
  --password <password>   App-specific password for your Apple ID. You will be prompted for this if omitted."""


def o_fastlane_match_env():
    return """From `fastlane action match` (selected options):

| Key | Description | Env Var |
|---|---|---|
| `git_url` | URL to the git repo containing all the certificates | `MATCH_GIT_URL` |
| `git_basic_authorization` | Use a basic authorization header to access the git repo (e.g.: private GitHub repos), provide the base64 encoded user:password | `MATCH_GIT_BASIC_AUTHORIZATION` |
| `git_bearer_authorization` | Use a bearer authorization header to access the git repo | `MATCH_GIT_BEARER_AUTHORIZATION` |
| `api_key_path` | Path to your App Store Connect API Key JSON file | `SIGH_API_KEY_PATH` |
| (none) | Passphrase used to encrypt/decrypt the certificates repo | `MATCH_PASSWORD` |
| `keychain_password` | This might be required the first time you access certificates on a new mac | `MATCH_KEYCHAIN_PASSWORD` |"""


def o_rails_credentials_help():
    return """$ bin/rails credentials:help | sed -n '1,24p'
=== Storing Encrypted Credentials in Source Control

The Rails `credentials` commands provide access to encrypted credentials,
so you can safely store access tokens, database passwords, and the like
safely inside the app without relying on a mess of ENVs.

This also allows for atomic deploys: no need to coordinate key changes
to get everything working as the keys are shipped with the code.

=== Setup

Applications after Rails 5.2 automatically have a basic credentials file generated
in `config/credentials.yml.enc`.

To add a new credential, run `bin/rails credentials:edit`.

By default, this file contains the application's `secret_key_base`, but it could
also be used to store other credentials such as access keys for external APIs.

Keep `config/master.key` out of version control; in production set RAILS_MASTER_KEY."""


def o_useradd_help():
    return """$ useradd --help | grep -E -- '-(p|K|s|m),'
  -K, --key KEY=VALUE           override /etc/login.defs defaults
  -m, --create-home             create the user's home directory
  -p, --password PASSWORD       encrypted password of the new account
  -s, --shell SHELL             login shell of the new account

Note: -p expects the crypt(3) hash (e.g. from `openssl passwd -6`), not the clear-text password."""


def o_powershell_new_localuser():
    return """PS C:\\> Get-Help New-LocalUser -Parameter Password

-Password <System.Security.SecureString>
    Specifies a password for the user account. You can use `Read-Host -AsSecureString`,
    `Get-Credential`, or `ConvertTo-SecureString` to create a SecureString object for the password.

    If you omit the Password and NoPassword parameters, New-LocalUser prompts you for the
    new user's password.

    Required?                    true
    Position?                    named
    Default value                None
    Accept pipeline input?       True (ByPropertyName)
    Accept wildcard characters?  false"""


def o_grafana_cli_reset():
    return """$ grafana cli admin reset-admin-password --help
NAME:
   Grafana CLI admin reset-admin-password - reset-admin-password <new password>

USAGE:
   Grafana CLI admin reset-admin-password [command options]

OPTIONS:
   --homepath value           Path to Grafana install/home path, defaults to working directory
   --config value             Path to config file
   --password-from-stdin      Read the password from stdin (default: false)
   --user-id value            The admin user's ID (default: 0)
   --help, -h                 show help"""


def o_borg_env_docs():
    return """Borg environment variables (from `borg help` / the docs):

BORG_PASSPHRASE
    When set, use the value to answer the passphrase question for encrypted repositories.
BORG_PASSCOMMAND
    When set, use the standard output of the command (trailing newlines are stripped)
    to answer the passphrase question, e.g. `BORG_PASSCOMMAND='pass show backup'`.
BORG_PASSPHRASE_FD
    When set, specifies a file descriptor to read a passphrase from.
BORG_NEW_PASSPHRASE
    When set, use the value to answer the passphrase question when a new passphrase is asked for."""


def o_kopia_repo_create():
    return """$ kopia repository create s3 --help | grep -E -- '--(bucket|access-key|secret-access-key|session-token|password)'
  --bucket=BUCKET               Name of the S3 bucket ($KOPIA_S3_BUCKET)
  --access-key=ACCESS-KEY       Access key ID (overrides AWS_ACCESS_KEY_ID environment variable) ($AWS_ACCESS_KEY_ID)
  --secret-access-key=SECRET-ACCESS-KEY
                                Secret access key (overrides AWS_SECRET_ACCESS_KEY environment variable) ($AWS_SECRET_ACCESS_KEY)
  --session-token=SESSION-TOKEN Session token (overrides AWS_SESSION_TOKEN environment variable) ($AWS_SESSION_TOKEN)
  --password=PASSWORD           Repository password. ($KOPIA_PASSWORD)"""


def o_mongod_conf_comments():
    return """# mongod.conf -- security section (see https://www.mongodb.com/docs/manual/reference/configuration-options/)
security:
  # Enable role-based access control; create the first user with the localhost exception.
  authorization: enabled
  # Shared key for internal authentication between replica-set members.
  # Generate with: openssl rand -base64 756 > /etc/mongod/keyfile && chmod 400 /etc/mongod/keyfile
  keyFile: /etc/mongod/keyfile
  # clusterAuthMode: keyFile | sendKeyFile | sendX509 | x509
  clusterAuthMode: keyFile"""


def o_pgbouncer_ini_comments():
    return """;; pgbouncer.ini -- authentication settings
;; any, trust, plain, md5, cert, hba, pam, scram-sha-256
auth_type = scram-sha-256
;; Path to the file with "username" "password" lines. The password may be
;; plain text, an md5 hash ("md5" + md5(password + username)) or a SCRAM secret.
auth_file = /etc/pgbouncer/userlist.txt
;; Query to load a user's password from the database (needs auth_user).
;auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=$1
;auth_user = pgbouncer"""


def o_odbc_ini_docs():
    return """odbc.ini keywords supported by the PostgreSQL ODBC driver (psqlODBC):

  Servername   host name or IP of the server
  Port         TCP port (default 5432)
  Database     database name
  Username     (or UID) user name to connect as
  Password     (or PWD) the user's password; leave it out and use a DSN-less
               connection string with PWD={...} from your secret store instead
  SSLmode      disable | allow | prefer | require | verify-ca | verify-full

Example:
  [analytics]
  Driver     = PostgreSQL Unicode
  Servername = warehouse.internal
  Database   = analytics
  Username   = report_reader"""


def o_openapi_security_schemes():
    return """components:
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      bearerFormat: JWT
      description: >
        Send the access token from `POST /oauth/token` as
        `Authorization: Bearer <access_token>`. Tokens expire after 15 minutes.
    apiKeyAuth:
      type: apiKey
      in: header
      name: X-API-Key
      description: Server-to-server key, created under Settings > API keys.
security:
  - bearerAuth: []"""


def o_readme_config_table():
    return fill("""## Configuration

| Key | Type | Default | Description |
|-----|------|---------|-------------|
| `auth.token` | string | — | API token used for requests to the @@o@@ API. Prefer `@@O@@_TOKEN`. |
| `auth.token_file` | path | — | Read the token from this file instead (mode 0600). |
| `db.password` | string | — | Database password. Supports `env:NAME` and `file:/path`. |
| `tls.key_password` | string | — | Passphrase for an encrypted `tls.key`. |
| `webhook.secret` | string | — | Shared secret used to verify `X-Signature` (HMAC-SHA256). |
| `session.secret_length` | int | `32` | Bytes of randomness for generated session secrets. |""", o=org(), O=org().upper().replace("-", "_"))


def o_jenkins_cli():
    return """$ java -jar jenkins-cli.jar -s https://ci.example.internal/ help 2>&1 | sed -n '1,14p'
Usage: java -jar jenkins-cli.jar [-s URL] command [opts...] args...
Options:
 -s URL       : the server URL (defaults to the JENKINS_URL env var)
 -http        : use a plain CLI protocol over HTTP(S) (the default; mutually exclusive with -ssh)
 -webSocket   : like -http but using WebSocket (works better with most reverse proxies)
 -ssh         : use SSH protocol (requires -user; SSH port must be open on server)
 -i KEY       : SSH private key file used for authentication (for use with -ssh)
 -noCertificateCheck : bypass HTTPS certificate check entirely. Use with caution
 -noKeyAuth   : don't try to load the SSH authentication private key. Conflicts with -i
 -user        : specify user (for use with -ssh)
 -strictHostKey : request strict host key checking (for use with -ssh)
 -logger FINE : enable detailed logging from the client
 -auth [ USER:SECRET | @FILE ] : specify username and either password or API token (or load from them both from a file);
                                 for use with -http."""


def o_keepassxc_cli_add():
    return """$ keepassxc-cli add --help
Usage: keepassxc-cli add [options] database entry
Add a new entry to a database.

Options:
  -q, --quiet                    Silence password prompt and other secondary
                                 outputs.
  -k, --key-file <path>          Key file of the database.
  --no-password                  Deactivate password key for the database.
  -u, --username <username>      Username for the entry.
  --url <URL>                    URL for the entry.
  -p, --password-prompt          Prompt for the entry's password.
  -g, --generate                 Generate a password for the entry.
  -L, --length <length>          Length of the generated password"""


def o_openssl_passwd():
    return """$ openssl passwd -help
Usage: passwd [options] [password]

General options:
 -help               Display this summary

Input options:
 -in infile          Read passwords from file
 -noverify           Never verify when reading password from terminal
 -stdin              Read passwords from stdin

Output options:
 -quiet              No warnings
 -table              Format output as table
 -reverse            Switch table columns

Cryptographic options:
 -salt val           Use provided salt
 -6                  SHA512-based password algorithm
 -5                  SHA256-based password algorithm
 -apr1               MD5-based password algorithm, Apache variant
 -1                  MD5-based password algorithm

Parameters:
 password            Password text to digest (optional)"""


def o_vercel_global_opts():
    return """$ vercel --help | sed -n '/Global Options/,/^$/p'
  Global Options:

       --cwd <DIR>                    Sets the current working directory for a single run of a command
  -d,  --debug                        Debug mode (default off)
  -Q,  --global-config <DIR>          Path to the global `.vercel` directory
  -h,  --help                         Output usage information
  -A,  --local-config <FILE>          Path to the local `vercel.json` file
       --no-color                     No color mode (default off)
  -S,  --scope                        Set a custom scope
  -t,  --token <TOKEN>                Login token
  -v,  --version                      Output the version number"""


def o_supabase_login():
    return """$ supabase login --help
Authenticate using an access token

Usage:
  supabase login [flags]

Flags:
  -h, --help           help for login
      --name string    Name that will be used to store token in your settings (default "built-in token name generator")
      --no-browser     Do not open browser automatically
      --token string   Use provided token instead of automatic login flow

In CI set SUPABASE_ACCESS_TOKEN instead of running `supabase login`."""


OPTION_DOCS = [o_pg_dump_conn, o_mongodump_help, o_sqlcmd_help, o_influx_auth_create, o_clickhouse_client,
               o_etcdctl_global, o_nats_cli, o_argocd_login, o_helm_registry_login, o_skopeo_creds,
               o_poetry_credentials_docs, o_uv_index_auth_docs, o_dotnet_nuget_add_source, o_svn_help,
               o_rsync_password, o_aria2c_http, o_smbclient_help, o_mount_cifs_man, o_sshpass_help, o_openvpn_auth,
               o_certbot_eab, o_step_ca_token, o_kubeseal_help, o_flux_create_secret_git, o_glab_auth_login,
               o_ngrok_authtoken, o_cloudflared_token, o_tailscale_up, o_docker_swarm_join, o_kubeadm_join,
               o_gitlab_runner_register, o_act_secrets, o_ansible_playbook_vault, o_cosign_generate_key_pair,
               o_apksigner, o_notarytool, o_fastlane_match_env, o_rails_credentials_help, o_useradd_help,
               o_powershell_new_localuser, o_grafana_cli_reset, o_borg_env_docs, o_kopia_repo_create,
               o_mongod_conf_comments, o_pgbouncer_ini_comments, o_odbc_ini_docs, o_openapi_security_schemes,
               o_readme_config_table, o_jenkins_cli, o_keepassxc_cli_add, o_openssl_passwd, o_vercel_global_opts,
               o_supabase_login]

OPTION_LEADS = ["", "", "", "", "Tool output:\n", "which of these flags should the deploy script use?\n\n",
                "here's the help text, I don't want the password ending up in shell history:\n\n",
                "for reference (from the CLI):\n\n"]


# ================================================================ CLEAN: infra_ids
def i_tf_state_show_instance():
    iid = "i-0" + hx(16)
    return fill("""$ terraform state show 'aws_instance.bastion'
# aws_instance.bastion:
resource "aws_instance" "bastion" {
    ami                                  = "ami-0@@ami@@"
    arn                                  = "arn:aws:ec2:@@r@@:@@a@@:instance/@@iid@@"
    associate_public_ip_address          = true
    availability_zone                    = "@@r@@b"
    id                                   = "@@iid@@"
    instance_type                        = "t3.micro"
    key_name                             = "bastion-@@y@@"
    primary_network_interface_id         = "eni-0@@eni@@"
    private_dns                          = "ip-10-0-1-@@ip@@.@@r@@.compute.internal"
    subnet_id                            = "subnet-0@@sn@@"
    vpc_security_group_ids               = [
        "sg-0@@sg@@",
    ]

    root_block_device {
        encrypted             = true
        kms_key_id            = "arn:aws:kms:@@r@@:@@a@@:key/@@kms@@"
        volume_id             = "vol-0@@vol@@"
    }
}""", ami=hx(16), r=pick(REGIONS), a=acct(), iid=iid, y="2026", eni=hx(16), ip=str(rint(2, 250)), sn=hx(16),
                sg=hx(16), kms=uid(), vol=hx(16))


def i_tf_output_json():
    return json.dumps({"cluster_endpoint": {"sensitive": False, "type": "string",
                                            "value": "https://%s.gr7.%s.eks.amazonaws.com" % (hx(32).upper(), pick(REGIONS))},
                       "cluster_certificate_authority_fingerprint": {"sensitive": False, "type": "string", "value": hx(40)},
                       "oidc_provider_arn": {"sensitive": False, "type": "string",
                                             "value": "arn:aws:iam::%s:oidc-provider/oidc.eks.%s.amazonaws.com/id/%s" % (
                                                 acct(), pick(REGIONS), hx(32).upper())},
                       "kms_key_id": {"sensitive": False, "type": "string", "value": uid()}}, indent=2)


def i_aws_ec2_key_pairs():
    return "$ aws ec2 describe-key-pairs\n" + json.dumps({"KeyPairs": [
        {"KeyPairId": "key-0" + hx(16), "KeyFingerprint": ":".join(hx(2) for _ in range(20)),
         "KeyName": "deploy-%s" % date()[:7], "KeyType": "rsa", "Tags": [], "CreateTime": ts()[:23] + "Z"},
        {"KeyPairId": "key-0" + hx(16), "KeyFingerprint": b64e(rbytes(32)).rstrip("=") + "=",
         "KeyName": "bastion-ed25519", "KeyType": "ed25519", "Tags": [], "CreateTime": ts()[:23] + "Z"}]}, indent=4)


def i_aws_lambda_get_function():
    fn = pick(SERVICES) + "-handler"
    return "$ aws lambda get-function-configuration --function-name %s\n" % fn + json.dumps({
        "FunctionName": fn, "FunctionArn": "arn:aws:lambda:%s:%s:function:%s" % (pick(REGIONS), acct(), fn),
        "Runtime": "python3.12", "Role": "arn:aws:iam::%s:role/%s-exec" % (acct(), fn), "Handler": "app.handler",
        "CodeSize": rint(10 ** 5, 10 ** 7), "CodeSha256": b64e(rbytes(32)), "Version": "$LATEST",
        "RevisionId": uid(), "KMSKeyArn": "arn:aws:kms:%s:%s:key/%s" % (pick(REGIONS), acct(), uid()),
        "LastUpdateStatus": "Successful", "Architectures": ["arm64"]}, indent=4)


def i_aws_secretsmanager_describe():
    n = "prod/%s/db" % pick(SERVICES)
    v1, v2 = uid(), uid()
    return "$ aws secretsmanager describe-secret --secret-id %s\n" % n + json.dumps({
        "ARN": "arn:aws:secretsmanager:%s:%s:secret:%s-%s" % (pick(REGIONS), acct(), n, rs(6)),
        "Name": n, "KmsKeyId": "alias/secrets", "RotationEnabled": True,
        "RotationLambdaARN": "arn:aws:lambda:%s:%s:function:SecretsManagerRDSPostgreSQLRotationSingleUser" % (pick(REGIONS), acct()),
        "RotationRules": {"AutomaticallyAfterDays": 30}, "LastRotatedDate": ts()[:19] + "+00:00",
        "VersionIdsToStages": {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}}, indent=4)


def i_aws_acm_describe():
    return "$ aws acm describe-certificate --certificate-arn arn:aws:acm:us-east-1:%s:certificate/%s --query Certificate\n" % (
        acct(), uid()) + json.dumps({"DomainName": "*.%s.dev" % org(), "Serial": ":".join(hx(2) for _ in range(16)),
                                     "Subject": "CN=*.%s.dev" % org(), "Issuer": "Amazon", "Status": "ISSUED",
                                     "KeyAlgorithm": "RSA-2048", "SignatureAlgorithm": "SHA256WITHRSA",
                                     "DomainValidationOptions": [{"DomainName": "*.%s.dev" % org(), "ValidationStatus": "SUCCESS",
                                                                  "ResourceRecord": {"Name": "_%s.%s.dev." % (hx(32), org()),
                                                                                     "Type": "CNAME",
                                                                                     "Value": "_%s.%s.acm-validations.aws." % (hx(32), rs(10, LO))}}]},
                                    indent=4)


def i_aws_rds_describe():
    return "$ aws rds describe-db-instances --query 'DBInstances[0].{id:DBInstanceIdentifier,res:DbiResourceId,kms:KmsKeyId,user:MasterUsername,secret:MasterUserSecret}'\n" + json.dumps({
        "id": "%s-prod" % pick(SERVICES), "res": "db-" + rs(26, UPAL),
        "kms": "arn:aws:kms:%s:%s:key/%s" % (pick(REGIONS), acct(), uid()), "user": "postgres",
        "secret": {"SecretArn": "arn:aws:secretsmanager:%s:%s:secret:rds!db-%s-%s" % (pick(REGIONS), acct(), uid(), rs(6)),
                   "SecretStatus": "active", "KmsKeyId": "arn:aws:kms:%s:%s:key/%s" % (pick(REGIONS), acct(), uid())}}, indent=4)


def i_aws_cfn_stack():
    sn = "%s-stack" % pick(SERVICES)
    return "$ aws cloudformation describe-stacks --stack-name %s --query 'Stacks[0]'\n" % sn + json.dumps({
        "StackId": "arn:aws:cloudformation:%s:%s:stack/%s/%s" % (pick(REGIONS), acct(), sn, uid()),
        "StackName": sn, "ChangeSetId": "arn:aws:cloudformation:%s:%s:changeSet/cdk-deploy-change-set/%s" % (pick(REGIONS), acct(), uid()),
        "StackStatus": "UPDATE_COMPLETE", "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        "Outputs": [{"OutputKey": "ApiKeyId", "OutputValue": rs(10, LOAL), "Description": "API Gateway API key id (not the value)"},
                    {"OutputKey": "UserPoolClientId", "OutputValue": rs(26, LOAL)}]}, indent=4)


def i_gcloud_instance_describe():
    return fill("""$ gcloud compute instances describe @@n@@ --zone europe-west1-b --format='yaml(id,fingerprint,labelFingerprint,metadata.fingerprint,networkInterfaces[0].fingerprint,selfLink)'
fingerprint: @@f1@@
id: '@@id@@'
labelFingerprint: @@f2@@
metadata:
  fingerprint: @@f3@@
networkInterfaces:
- fingerprint: @@f4@@
selfLink: https://www.googleapis.com/compute/v1/projects/@@p@@/zones/europe-west1-b/instances/@@n@@""",
                n=pick(SERVICES) + "-vm-1", f1=b64e(rbytes(8)), id=str(rint(10 ** 18, 9 * 10 ** 18)), f2=b64e(rbytes(8)),
                f3=b64e(rbytes(8)), f4=b64e(rbytes(8)), p=org() + "-prod")


def i_az_keyvault_key_show():
    kv = "kv-%s-prod" % org().replace("-", "")
    kn = pick(["cmk-storage", "sops", "tde-protector"])
    return "$ az keyvault key show --vault-name %s --name %s --query '{kid:key.kid, kty:key.kty, ops:key.keyOps, created:attributes.created}'\n" % (
        kv, kn) + json.dumps({"kid": "https://%s.vault.azure.net/keys/%s/%s" % (kv, kn, hx(32)), "kty": "RSA-HSM",
                              "ops": ["wrapKey", "unwrapKey"], "created": ts()[:19] + "+00:00"}, indent=2)


def i_az_account_show():
    return "$ az account show\n" + json.dumps({"environmentName": "AzureCloud", "homeTenantId": uid(), "id": uid(),
                                              "isDefault": True, "managedByTenants": [], "name": "%s-prod" % org(),
                                              "state": "Enabled", "tenantId": uid(),
                                              "user": {"name": email(), "type": "user"}}, indent=2)


def i_docker_inspect_image():
    repo = "ghcr.io/%s/%s" % (org(), pick(SERVICES))
    return "$ docker image inspect %s:latest --format '{{json .}}' | jq '{Id, RepoDigests, RootFS}'\n" % repo + json.dumps({
        "Id": "sha256:" + hx(64), "RepoDigests": ["%s@sha256:%s" % (repo, hx(64))],
        "RootFS": {"Type": "layers", "Layers": ["sha256:" + hx(64) for _ in range(4)]}}, indent=2)


def i_buildx_imagetools():
    img = "docker.io/%s/%s:%s" % (org(), pick(SERVICES), ver())
    return fill("""$ docker buildx imagetools inspect @@img@@
Name:      @@img@@
MediaType: application/vnd.oci.image.index.v1+json
Digest:    sha256:@@d@@

Manifests:
  Name:        @@img@@@sha256:@@d1@@
  MediaType:   application/vnd.oci.image.manifest.v1+json
  Platform:    linux/amd64

  Name:        @@img@@@sha256:@@d2@@
  MediaType:   application/vnd.oci.image.manifest.v1+json
  Platform:    linux/arm64

  Name:        @@img@@@sha256:@@d3@@
  MediaType:   application/vnd.oci.image.manifest.v1+json
  Platform:    unknown/unknown
  Annotations:
    vnd.docker.reference.digest: sha256:@@d1@@
    vnd.docker.reference.type:   attestation-manifest""", img=img, d=hx(64), d1=hx(64), d2=hx(64), d3=hx(64))


def i_skopeo_inspect():
    return "$ skopeo inspect docker://quay.io/%s/%s:%s | jq '{Digest, Layers}'\n" % (org(), pick(SERVICES), ver()) + json.dumps(
        {"Digest": "sha256:" + hx(64), "Layers": ["sha256:" + hx(64) for _ in range(3)]}, indent=2)


def i_git_reflog():
    rows = []
    for i in range(6):
        act = pick(["commit: fix token refresh race", "rebase (finish): returning to refs/heads/feat/api-keys",
                    "checkout: moving from main to feat/api-keys", "reset: moving to HEAD~1",
                    "commit (amend): rotate signing key id in jwks fixture", "pull --rebase origin main: Fast-forward"])
        rows.append("%s HEAD@{%d}: %s" % (short_sha(), i, act))
    return "$ git reflog -6\n" + "\n".join(rows)


def i_git_cat_file():
    return fill("""$ git cat-file -p HEAD
tree @@t@@
parent @@p1@@
parent @@p2@@
author @@n@@ <@@e@@> 17@@ts@@ +0100
committer GitHub <noreply@github.com> 17@@ts@@ +0100
gpgsig -----BEGIN PGP SIGNATURE-----

 wsFcBAABCAAQBQJn@@sig1@@
 @@sig2@@
 =@@crc@@
 -----END PGP SIGNATURE-----

Merge pull request #@@pr@@ from @@o@@/feat/secret-scanning

Add secret scanning to CI""", t=git_sha(), p1=git_sha(), p2=git_sha(), n=pick(NAMES), e=email(), ts=str(rint(60000000, 99999999)),
                sig1=rs(40, B64), sig2=rs(64, B64), crc=rs(4, B64), pr=str(rint(100, 4000)), o=org())


def i_git_submodule_blame():
    return fill("""$ git submodule status
 @@s1@@ vendor/openssl (openssl-3.3.2)
+@@s2@@ third_party/libsodium (1.0.20-RELEASE-12-g@@sh@@)
$ git blame -l -L 40,42 src/auth/keys.rs
@@b1@@ (@@n@@ 2026-03-02 11:04:51 +0100 40)     let key_id = jwk.kid.clone().unwrap_or_default();
@@b2@@ (@@n@@ 2026-03-02 11:04:51 +0100 41)     let secret = load_secret(&key_id)?;
@@b3@@ (@@n2@@ 2026-05-19 16:22:10 +0200 42)     Ok(Key { id: key_id, secret })""",
                s1=git_sha(), s2=git_sha(), sh=short_sha(), b1=git_sha(), b2=git_sha(), b3=git_sha(), n=pick(NAMES),
                n2=pick(NAMES))


def i_gha_checkout_log():
    return fill("""Current runner version: '2.@@rv@@.0'
Runner name: 'GitHub Actions @@rn@@'
Runner group name: 'GitHub Actions'
Operating System
  Ubuntu 24.04.1 LTS
GITHUB_TOKEN Permissions
  Contents: read
  Metadata: read
  PullRequests: write
Secret source: Actions
Prepare workflow directory
Prepare all required actions
Getting action download info
Download action repository 'actions/checkout@@@c1@@' (SHA:@@c1@@)
Download action repository 'actions/setup-node@@@c2@@' (SHA:@@c2@@)
Download action repository 'actions/cache@@@c3@@' (SHA:@@c3@@)
Complete job name: test (20.x)
Cache restored from key: Linux-node-modules-@@ck@@
Run ID: @@run@@ / Job ID: @@job@@""", rv=str(rint(318, 330)), rn=str(rint(10, 999)), c1=git_sha(), c2=git_sha(), c3=git_sha(),
                ck=hx(64), run=str(rint(10 ** 10, 2 * 10 ** 10)), job=str(rint(3 * 10 ** 10, 4 * 10 ** 10)))


def i_gitlab_ci_log():
    return fill("""Running with gitlab-runner 17.@@m@@.0 (@@rs@@)
  on docker-autoscaler-@@n@@ @@tok@@, system ID: s_@@sid@@
Preparing the "docker" executor
Using Docker executor with image node:20-alpine ...
Pulling docker image node:20-alpine ...
Using docker image sha256:@@img@@ for node:20-alpine with digest node@sha256:@@dig@@ ...
Preparing environment
Running on runner-@@tok@@-project-@@pid@@-concurrent-0 via runner-@@tok@@-s-l-s-amd64-@@ts@@-@@h@@...
Getting source from Git repository
Fetching changes with git depth set to 20...
Checking out @@sha@@ as detached HEAD (ref is refs/merge-requests/@@mr@@/head)...
Skipping Git submodules setup""", m=str(rint(0, 6)), rs=short_sha(), n=str(rint(1, 9)), tok=rs(8, LOAL), sid=hx(12),
                img=hx(64), dig=hx(64), pid=str(rint(10 ** 7, 7 * 10 ** 7)), ts=str(rint(1760000000, 1790000000)),
                h=hx(8), sha=short_sha() + "0", mr=str(rint(100, 3000)))


def i_sha256sums_release():
    v = ver()
    names = ["cli_%s_linux_amd64.tar.gz", "cli_%s_linux_arm64.tar.gz", "cli_%s_darwin_arm64.tar.gz",
             "cli_%s_windows_amd64.zip"]
    return "$ curl -sL https://github.com/%s/cli/releases/download/v%s/checksums.txt\n" % (org(), v) + \
        "\n".join("%s  %s" % (hx(64), n % v) for n in names) + "\n$ sha256sum -c --ignore-missing checksums.txt\ncli_%s_linux_amd64.tar.gz: OK" % v


def i_b3sum_md5():
    files = ["model.safetensors", "tokenizer.json", "config.json"]
    return "$ b3sum " + " ".join(files) + "\n" + "\n".join("%s  %s" % (hx(64), f) for f in files) + \
        "\n$ md5sum " + files[0] + "\n%s  %s" % (hx(32), files[0])


def i_pnpm_lock():
    return fill("""$ sed -n '/^packages:/,/^$/p' pnpm-lock.yaml | head -16
packages:

  '@babel/code-frame@7.26.2':
    resolution: {integrity: @@i1@@}
    engines: {node: '>=6.9.0'}

  '@noble/hashes@1.7.1':
    resolution: {integrity: @@i2@@}
    engines: {node: ^14.21.3 || >=16}

  jsonwebtoken@9.0.2:
    resolution: {integrity: @@i3@@}
    engines: {node: '>=12', npm: '>=6'}""", i1=integrity(), i2=integrity(), i3=integrity())


def i_poetry_uv_lock():
    if R.random() < 0.5:
        return fill("""[[package]]
name = "cryptography"
version = "44.0.1"
description = "cryptography is a package which provides cryptographic recipes and primitives to Python developers."
optional = false
python-versions = "!=3.9.0,!=3.9.1,>=3.7"
files = [
    {file = "cryptography-44.0.1-cp37-abi3-macosx_10_9_universal2.whl", hash = "sha256:@@h1@@"},
    {file = "cryptography-44.0.1-cp37-abi3-manylinux_2_28_x86_64.whl", hash = "sha256:@@h2@@"},
    {file = "cryptography-44.0.1.tar.gz", hash = "sha256:@@h3@@"},
]""", h1=hx(64), h2=hx(64), h3=hx(64))
    return fill("""[[package]]
name = "pyjwt"
version = "2.10.1"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.pythonhosted.org/packages/@@p1@@/pyjwt-2.10.1.tar.gz", hash = "sha256:@@h1@@", size = 87785 }
wheels = [
    { url = "https://files.pythonhosted.org/packages/@@p2@@/PyJWT-2.10.1-py3-none-any.whl", hash = "sha256:@@h2@@", size = 22997 },
]""", p1="%s/%s/%s" % (hx(2), hx(2), hx(60)), h1=hx(64), p2="%s/%s/%s" % (hx(2), hx(2), hx(60)), h2=hx(64))


def i_gemfile_lock_checksums():
    gems = ["bcrypt (3.1.20)", "devise (4.9.4)", "jwt (2.9.3)", "rotp (6.3.0)"]
    return "$ sed -n '/^CHECKSUMS/,/^$/p' Gemfile.lock\nCHECKSUMS\n" + "\n".join(
        "  %s sha256=%s" % (g, hx(64)) for g in gems)


def i_composer_lock():
    return json.dumps({"name": "lcobucci/jwt", "version": "5.4.2",
                       "source": {"type": "git", "url": "https://github.com/lcobucci/jwt.git", "reference": git_sha()},
                       "dist": {"type": "zip", "url": "https://api.github.com/repos/lcobucci/jwt/zipball/" + git_sha(),
                                "reference": git_sha(), "shasum": ""},
                       "require": {"php": "~8.2.0 || ~8.3.0 || ~8.4.0", "ext-openssl": "*", "ext-sodium": "*"}},
                      indent=4)


def i_mix_lock():
    return fill("""%{
  "bcrypt_elixir": {:hex, :bcrypt_elixir, "3.2.0", "@@a1@@", [:make, :mix], [{:comeonin, "~> 5.3", [hex: :comeonin, repo: "hexpm", optional: false]}], "hexpm", "@@a2@@"},
  "joken": {:hex, :joken, "2.6.2", "@@b1@@", [:mix], [{:jose, "~> 1.11.10", [hex: :jose, repo: "hexpm", optional: false]}], "hexpm", "@@b2@@"},
  "plug_crypto": {:hex, :plug_crypto, "2.1.0", "@@c1@@", [:mix], [], "hexpm", "@@c2@@"},
}""", a1=hx(64), a2=hx(64), b1=hx(64), b2=hx(64), c1=hx(64), c2=hx(64))


def i_podfile_package_resolved():
    if R.random() < 0.5:
        return "SPEC CHECKSUMS:\n" + "\n".join("  %s: %s" % (p, hx(40)) for p in
                                               ["Firebase", "FirebaseAuth", "KeychainAccess", "Sentry"]) + \
            "\n\nPODFILE CHECKSUM: %s\n\nCOCOAPODS: 1.16.2" % hx(40)
    return json.dumps({"originHash": hx(64), "pins": [
        {"identity": "swift-crypto", "kind": "remoteSourceControl", "location": "https://github.com/apple/swift-crypto.git",
         "state": {"revision": git_sha(), "version": "3.10.0"}},
        {"identity": "jwt-kit", "kind": "remoteSourceControl", "location": "https://github.com/vapor/jwt-kit.git",
         "state": {"revision": git_sha(), "version": "5.1.1"}}], "version": 3}, indent=2)


def i_helm_chart_lock():
    return fill("""$ cat charts/@@s@@/Chart.lock
dependencies:
- name: postgresql
  repository: oci://registry-1.docker.io/bitnamicharts
  version: 16.2.1
- name: redis
  repository: oci://registry-1.docker.io/bitnamicharts
  version: 20.6.0
digest: sha256:@@d@@
generated: "@@t@@\"""", s=pick(SERVICES), d=hx(64), t=ts()[:19] + ".%09d+01:00" % rint(0, 999999999))


def i_git_lfs_pointer():
    return fill("""$ git show HEAD:models/encoder.onnx
version https://git-lfs.github.com/spec/v1
oid sha256:@@oid@@
size @@sz@@
$ git lfs ls-files -l | head -2
@@oid@@ * models/encoder.onnx
@@oid2@@ * models/tokenizer.bin""", oid=hx(64), sz=str(rint(10 ** 6, 10 ** 9)), oid2=hx(64))


def i_sentry_cli_send_event():
    return fill("""$ sentry-cli send-event -m "deploy smoke test" --release @@rel@@
Event dispatched.
Event id: @@eid@@
$ sentry-cli releases finalize @@rel@@
Finalized release @@rel@@
$ sentry-cli releases deploys @@rel@@ new -e production
Created new deploy @@did@@ for 'production'""", rel="web@" + hx(12), eid=hx(32), did=str(rint(10 ** 7, 10 ** 8)))


def i_datadog_monitor_json():
    return json.dumps({"id": rint(10 ** 7, 10 ** 8), "org_id": rint(10 ** 5, 10 ** 6), "type": "query alert",
                       "name": "[%s] token refresh failures" % pick(SERVICES),
                       "query": "sum(last_5m):sum:auth.token_refresh.errors{env:prod}.as_count() > 50",
                       "creator": {"email": email(), "handle": email(), "id": rint(10 ** 6, 10 ** 7)},
                       "overall_state": "OK", "matching_downtimes": [],
                       "options": {"notify_no_data": False, "renotify_interval": 60, "thresholds": {"critical": 50}},
                       "restricted_roles": [uid()], "multi": False, "priority": 2, "deleted": None,
                       "created": ts(), "modified": ts()}, indent=2)


def i_xray_trace_ids():
    t = ts_seq(3)
    x1 = "1-%s-%s" % (hx(8), hx(24))
    return fill("""@@t0@@ INFO  [req] method=POST path=/v1/tokens/refresh status=200 dur_ms=@@d0@@ x_amzn_trace_id=Root=@@x1@@;Parent=@@p@@;Sampled=1
@@t1@@ INFO  [req] method=GET path=/v1/api-keys status=200 dur_ms=@@d1@@ request_id=@@rid@@ cf_ray=@@cf@@-FRA
@@t2@@ WARN  [auth] refresh token reuse detected user_id=@@uid@@ family_id=@@fam@@ trace_id=@@tr@@ span_id=@@sp@@""",
                t0=t[0], t1=t[1], t2=t[2], d0=str(rint(5, 400)), d1=str(rint(5, 400)), x1=x1, p=hx(16), rid=uid(), cf=hx(16),
                uid=str(rint(1000, 99999)), fam=uid(), tr=hx(32), sp=hx(16))


def i_twilio_status_callback():
    return fill("""@@t@@ POST /twilio/status 204
  form: MessageSid=SM@@sm@@&SmsSid=SM@@sm@@&SmsStatus=delivered&MessageStatus=delivered&To=%2B4915@@to@@&MessagingServiceSid=MG@@mg@@&AccountSid=AC@@ac@@&From=%2B1415@@fr@@&ApiVersion=2010-04-01
  headers: X-Twilio-Signature=@@sig@@ I-Twilio-Idempotency-Token=@@it@@""",
                t=ts(), sm=hx(32), to=str(rint(10 ** 7, 10 ** 8)), mg=hx(32), ac=hx(32), fr=str(rint(10 ** 6, 10 ** 7)),
                sig=b64e(rbytes(20)), it=uid())


def i_vault_audit_log():
    return json.dumps({"time": ts(), "type": "response",
                       "auth": {"client_token": "hmac-sha256:" + hx(64), "accessor": "hmac-sha256:" + hx(64),
                                "display_name": "approle", "policies": ["default", "%s-read" % pick(SERVICES)],
                                "token_type": "service", "token_ttl": 3600},
                       "request": {"id": uid(), "operation": "read", "mount_type": "kv",
                                   "client_token": "hmac-sha256:" + hx(64), "path": "secret/data/%s/prod" % pick(SERVICES),
                                   "remote_address": "10.0.%d.%d" % (rint(0, 9), rint(2, 250))},
                       "response": {"data": {"data": {"api_key": "hmac-sha256:" + hx(64), "password": "hmac-sha256:" + hx(64)},
                                             "metadata": {"version": rint(2, 30)}}}})


def i_ssh_keyscan_known_hosts():
    lines = []
    for _ in range(3):
        lines.append("|1|%s|%s %s" % (b64e(rbytes(20)), b64e(rbytes(20)), ssh_ed25519_pub()))
    return "$ ssh-keyscan -H -t ed25519 git.%s.dev 2>/dev/null >> ~/.ssh/known_hosts\n$ tail -3 ~/.ssh/known_hosts\n" % org() + \
        "\n".join(lines)


def i_istioctl_secret():
    return fill("""$ istioctl proxy-config secret deploy/@@s@@ -n prod
RESOURCE NAME     TYPE           STATUS     VALID CERT     SERIAL NUMBER                               NOT AFTER                NOT BEFORE
default           Cert Chain     ACTIVE     true           @@sn1@@            @@na@@     @@nb@@
ROOTCA            CA             ACTIVE     true           @@sn2@@            2036-01-12T09:14:07Z     2026-01-14T09:14:07Z""",
                s=pick(SERVICES), sn1=hx(32), sn2=hx(32), na=date() + "T" + hms() + "Z", nb=date() + "T" + hms() + "Z")


def i_npm_view_dist():
    return fill("""$ npm view jsonwebtoken@9.0.2 dist
{
  integrity: '@@i@@',
  shasum: '@@sh@@',
  tarball: 'https://registry.npmjs.org/jsonwebtoken/-/jsonwebtoken-9.0.2.tgz',
  fileCount: 15,
  unpackedSize: 43464,
  signatures: [
    {
      keyid: 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA',
      sig: 'MEUCIQ@@s1@@AiB@@s2@@'
    }
  ]
}""", i=integrity(), sh=hx(40), s1=rs(38, B64), s2=rs(40, B64))


def i_eth_tx_receipt():
    return fill("""$ cast receipt 0x@@tx@@ --rpc-url $SEPOLIA_RPC_URL

blockHash            0x@@bh@@
blockNumber          @@bn@@
contractAddress
cumulativeGasUsed    @@cg@@
effectiveGasPrice    @@gp@@
from                 0x@@fr@@
gasUsed              @@gu@@
logsBloom            0x@@lb@@
status               1 (success)
transactionHash      0x@@tx@@
transactionIndex     @@ti@@
to                   0x@@to@@""", tx=hx(64), bh=hx(64), bn=str(rint(7 * 10 ** 6, 8 * 10 ** 6)), cg=str(rint(10 ** 6, 10 ** 7)),
                gp=str(rint(10 ** 9, 10 ** 10)), fr=hx(40), gu=str(rint(21000, 300000)), lb="0" * 512, ti=str(rint(0, 120)), to=hx(40))


def i_codesign_identities():
    return fill("""$ security find-identity -v -p codesigning
  1) @@h1@@ "Apple Development: @@n@@ (@@t1@@)"
  2) @@h2@@ "Developer ID Application: @@o@@ GmbH (@@team@@)"
     2 valid identities found
$ codesign -dvvv build/@@app@@.app 2>&1 | grep -E 'CDHash|TeamIdentifier|Identifier='
Identifier=dev.@@o@@.@@app@@
CDHash=@@cd@@
TeamIdentifier=@@team@@""", h1=hx(40).upper(), h2=hx(40).upper(), n=pick(NAMES), t1=rs(10, UPAL), o=org(), team=rs(10, UPAL),
                app=pick(["Notes", "Relay", "Beacon"]), cd=hx(40))


def i_kubectl_get_rs_events():
    s = pick(SERVICES)
    h1, h2 = rs(10, "bcdfghjklmnpqrstvwxz2456789"), rs(10, "bcdfghjklmnpqrstvwxz2456789")
    return fill("""$ kubectl -n prod get rs -l app=@@s@@
NAME                         DESIRED   CURRENT   READY   AGE
@@s@@-@@h1@@           3         3         3       2d
@@s@@-@@h2@@           0         0         0       9d
$ kubectl -n prod get events --field-selector involvedObject.kind=Pod | tail -3
12m   Normal   Pulled      pod/@@s@@-@@h1@@-@@p1@@   Container image "ghcr.io/@@o@@/@@s@@@sha256:@@d@@" already present on machine
12m   Normal   Created     pod/@@s@@-@@h1@@-@@p1@@   Created container: @@s@@
12m   Normal   Started     pod/@@s@@-@@h1@@-@@p1@@   Started container @@s@@""", s=s, h1=h1, h2=h2,
                p1=rs(5, "bcdfghjklmnpqrstvwxz2456789"), o=org(), d=hx(64))


def i_kubectl_sa_yaml():
    s = pick(SERVICES)
    return fill("""$ kubectl -n prod get sa @@s@@ -o yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::@@a@@:role/@@s@@-irsa
  creationTimestamp: "@@t@@"
  name: @@s@@
  namespace: prod
  resourceVersion: "@@rv@@"
  uid: @@u@@
secrets:
- name: @@s@@-token-@@x@@""", s=s, a=acct(), t=ts()[:19] + "Z", rv=str(rint(10 ** 6, 10 ** 9)), u=uid(),
                x=rs(5, "bcdfghjklmnpqrstvwxz2456789"))


def i_cert_manager_get():
    return fill("""$ kubectl get certificate,certificaterequest -n prod
NAME                                            READY   SECRET                 AGE
certificate.cert-manager.io/api-@@o@@-dev-tls      True    api-@@o@@-dev-tls      41d

NAME                                                             APPROVED   DENIED   READY   ISSUER             REQUESTOR                                         AGE
certificaterequest.cert-manager.io/api-@@o@@-dev-tls-@@n@@         True                True    letsencrypt-prod   system:serviceaccount:cert-manager:cert-manager   11d
$ kubectl get secret api-@@o@@-dev-tls -n prod -o jsonpath='{.metadata.annotations.cert-manager\\.io/certificate-name}{"\\n"}{.metadata.uid}'
api-@@o@@-dev-tls
@@u@@""", o=org(), n=str(rint(1, 9)), u=uid())


def i_terraform_apply_ids():
    return fill("""aws_kms_key.sops: Creating...
aws_kms_key.sops: Creation complete after 2s [id=@@k@@]
aws_kms_alias.sops: Creating...
aws_kms_alias.sops: Creation complete after 0s [id=alias/sops-@@e@@]
aws_secretsmanager_secret.api: Creating...
aws_secretsmanager_secret.api: Creation complete after 1s [id=arn:aws:secretsmanager:@@r@@:@@a@@:secret:@@e@@/api-key-@@sfx@@]
aws_iam_access_key.ci: Creating...
aws_iam_access_key.ci: Creation complete after 1s [id=(sensitive value)]

Apply complete! Resources: 4 added, 0 changed, 0 destroyed.

Outputs:

sops_kms_arn = "arn:aws:kms:@@r@@:@@a@@:key/@@k@@"
api_secret_arn = "arn:aws:secretsmanager:@@r@@:@@a@@:secret:@@e@@/api-key-@@sfx@@\"""",
                k=uid(), e=pick(["prod", "staging"]), r=pick(REGIONS), a=acct(), sfx=rs(6))


def i_sqlx_query_cache():
    h = hx(64)
    return "$ ls .sqlx | head -2\nquery-%s.json\nquery-%s.json\n$ jq '{hash, describe: .describe.columns | map(.name)}' .sqlx/query-%s.json\n" % (
        h, hx(64), h) + json.dumps({"hash": h, "describe": ["id", "user_id", "token_hash", "expires_at", "revoked_at"]}, indent=2)


def i_detect_secrets_baseline():
    return json.dumps({"version": "1.5.0", "plugins_used": [{"name": "AWSKeyDetector"}, {"name": "KeywordDetector"}],
                       "results": {"tests/fixtures/settings_test.py": [
                           {"type": "Secret Keyword", "filename": "tests/fixtures/settings_test.py",
                            "hashed_secret": hx(40), "is_verified": False, "line_number": rint(5, 80)}],
                           "docs/setup.md": [{"type": "Basic Auth Credentials", "filename": "docs/setup.md",
                                              "hashed_secret": hx(40), "is_verified": False, "line_number": rint(5, 200)}]},
                       "generated_at": ts()[:19] + "Z"}, indent=2)


def i_pulumi_stack_history():
    return fill("""$ pulumi stack history --json | jq '.[0] | {version, kind, result, startTime, environment: {"git.head": .environment["git.head"], "exec.kind": .environment["exec.kind"]}}'
{
  "version": @@v@@,
  "kind": "update",
  "result": "succeeded",
  "startTime": "@@t@@",
  "environment": {
    "git.head": "@@h@@",
    "exec.kind": "cli"
  }
}
$ pulumi stack --show-ids | grep -E 'aws:kms|aws:secretsmanager'
    aws:kms/key:Key                      sops          @@k@@
    aws:secretsmanager/secret:Secret     api-token     arn:aws:secretsmanager:@@r@@:@@a@@:secret:api-token-@@s@@""",
                v=str(rint(10, 400)), t=ts()[:19] + "Z", h=git_sha(), k=uid(), r=pick(REGIONS), a=acct(), s=rs(6))


INFRA_IDS = [i_tf_state_show_instance, i_tf_output_json, i_aws_ec2_key_pairs, i_aws_lambda_get_function,
             i_aws_secretsmanager_describe, i_aws_acm_describe, i_aws_rds_describe, i_aws_cfn_stack,
             i_gcloud_instance_describe, i_az_keyvault_key_show, i_az_account_show, i_docker_inspect_image,
             i_buildx_imagetools, i_skopeo_inspect, i_git_reflog, i_git_cat_file, i_git_submodule_blame,
             i_gha_checkout_log, i_gitlab_ci_log, i_sha256sums_release, i_b3sum_md5, i_pnpm_lock, i_poetry_uv_lock,
             i_gemfile_lock_checksums, i_composer_lock, i_mix_lock, i_podfile_package_resolved, i_helm_chart_lock,
             i_git_lfs_pointer, i_sentry_cli_send_event, i_datadog_monitor_json, i_xray_trace_ids,
             i_twilio_status_callback, i_vault_audit_log, i_ssh_keyscan_known_hosts, i_istioctl_secret,
             i_npm_view_dist, i_eth_tx_receipt, i_codesign_identities, i_kubectl_get_rs_events, i_kubectl_sa_yaml,
             i_cert_manager_get, i_terraform_apply_ids, i_sqlx_query_cache, i_detect_secrets_baseline,
             i_pulumi_stack_history]


# ================================================================ CLEAN: secret_word_identifiers
def s_sql_api_keys_ddl():
    return """-- migrations/20261104093000_create_api_keys.sql
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key_prefix    text   NOT NULL,            -- first 8 chars, shown in the UI
    key_hash      bytea  NOT NULL,            -- sha256 of the full key
    scopes        text[] NOT NULL DEFAULT '{}',
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX api_keys_key_hash_idx ON api_keys (key_hash);
CREATE INDEX api_keys_account_id_idx ON api_keys (account_id) WHERE revoked_at IS NULL;"""


def s_psql_describe_users():
    return """app=> \\d users
                                         Table "public.users"
        Column          |           Type           | Collation | Nullable |              Default
------------------------+--------------------------+-----------+----------+-----------------------------------
 id                     | bigint                   |           | not null | nextval('users_id_seq'::regclass)
 email                  | citext                   |           | not null |
 password_hash          | text                     |           | not null |
 password_changed_at    | timestamp with time zone |           |          |
 totp_secret_encrypted  | bytea                    |           |          |
 reset_token_digest     | text                     |           |          |
 reset_token_expires_at | timestamp with time zone |           |          |
Indexes:
    "users_pkey" PRIMARY KEY, btree (id)
    "users_email_key" UNIQUE CONSTRAINT, btree (email)"""


def s_rails_schema_devise():
    return """  create_table "users", force: :cascade do |t|
    t.string "email", default: "", null: false
    t.string "encrypted_password", default: "", null: false
    t.string "reset_password_token"
    t.datetime "reset_password_sent_at"
    t.datetime "remember_created_at"
    t.string "confirmation_token"
    t.string "unlock_token"
    t.integer "failed_attempts", default: 0, null: false
    t.string "otp_secret"
    t.index ["confirmation_token"], name: "index_users_on_confirmation_token", unique: true
    t.index ["email"], name: "index_users_on_email", unique: true
    t.index ["reset_password_token"], name: "index_users_on_reset_password_token", unique: true
  end"""


def s_alembic_migration():
    return fill('''"""add oauth tokens

Revision ID: @@r1@@
Revises: @@r2@@
Create Date: @@d@@ 10:14:07.123456
"""
from alembic import op
import sqlalchemy as sa

revision = "@@r1@@"
down_revision = "@@r2@@"


def upgrade() -> None:
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
    )''', r1=hx(12), r2=hx(12), d=date())


def s_prisma_schema():
    return """model Account {
  id                String  @id @default(cuid())
  userId            String
  type              String
  provider          String
  providerAccountId String
  refresh_token     String? @db.Text
  access_token      String? @db.Text
  expires_at        Int?
  token_type        String?
  id_token          String? @db.Text
  session_state     String?
  user              User    @relation(fields: [userId], references: [id], onDelete: Cascade)

  @@unique([provider, providerAccountId])
}

model Session {
  id           String   @id @default(cuid())
  sessionToken String   @unique
  userId       String
  expires      DateTime
}"""


def s_ecto_migration():
    return """defmodule MyApp.Repo.Migrations.CreateUsersAuthTables do
  use Ecto.Migration

  def change do
    create table(:users) do
      add :email, :citext, null: false
      add :hashed_password, :string, null: false
      add :confirmed_at, :utc_datetime
      timestamps(type: :utc_datetime)
    end

    create table(:users_tokens) do
      add :user_id, references(:users, on_delete: :delete_all), null: false
      add :token, :binary, null: false
      add :context, :string, null: false
      add :sent_to, :string
      timestamps(type: :utc_datetime, updated_at: false)
    end

    create unique_index(:users_tokens, [:context, :token])
  end
end"""


def s_diesel_schema():
    return """// @generated automatically by Diesel CLI.

diesel::table! {
    personal_access_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        name -> Varchar,
        token_digest -> Bytea,
        token_last_four -> Bpchar,
        secret_version -> Int4,
        expires_at -> Nullable<Timestamptz>,
    }
}"""


def s_graphql_proto_schema():
    if R.random() < 0.5:
        return """type ApiKey {
  id: ID!
  name: String!
  prefix: String!
  scopes: [Scope!]!
  lastUsedAt: DateTime
  expiresAt: DateTime
}

type CreateApiKeyPayload {
  apiKey: ApiKey!
  \"\"\"The plaintext key. Returned exactly once; store it now.\"\"\"
  secret: String!
}

type Mutation {
  createApiKey(input: CreateApiKeyInput!): CreateApiKeyPayload!
  revokeApiKey(id: ID!): ApiKey!
  rotateWebhookSecret(webhookId: ID!): Webhook!
}"""
    return """syntax = "proto3";

package acme.secrets.v1;

service SecretService {
  rpc GetSecret(GetSecretRequest) returns (Secret);
  rpc RotateSecret(RotateSecretRequest) returns (RotateSecretResponse);
}

message GetSecretRequest {
  string secret_id = 1;
  int32 version = 2;
}

message RotateSecretRequest {
  string secret_id = 1;
  bool revoke_previous_token = 2;
}"""


def s_java_stack_trace():
    return fill("""@@t@@ ERROR 1 --- [nio-8080-exec-7] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() threw exception
io.jsonwebtoken.ExpiredJwtException: JWT expired 3600000 milliseconds ago at @@t@@. Current time: @@t@@. Allowed clock skew: 0 milliseconds.
	at io.jsonwebtoken.impl.DefaultJwtParser.parse(DefaultJwtParser.java:682)
	at com.@@o@@.security.JwtTokenProvider.validateToken(JwtTokenProvider.java:87)
	at com.@@o@@.security.JwtAuthenticationFilter.doFilterInternal(JwtAuthenticationFilter.java:41)
	at org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)
	at com.@@o@@.security.ApiKeyAuthFilter.doFilterInternal(ApiKeyAuthFilter.java:58)""", t=ts(), o=org().replace("-", ""))


def s_go_panic():
    return fill("""panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x@@pc@@]

goroutine 42 [running]:
github.com/@@o@@/@@r@@/internal/auth.(*TokenVerifier).Verify(0x0, {0x@@a@@, 0xc00012a000}, {0xc000416000, 0x2f2})
	/src/internal/auth/verifier.go:73 +0x2b
github.com/@@o@@/@@r@@/internal/auth.(*SecretRotator).rotateSigningKey(0xc0001b4000, {0x@@a@@, 0xc00012a000})
	/src/internal/auth/rotator.go:118 +0x1a5
created by github.com/@@o@@/@@r@@/internal/auth.(*SecretRotator).Start in goroutine 1
	/src/internal/auth/rotator.go:61 +0x9c
exit status 2""", pc=hx(6), o=org(), r=pick(REPOS), a=hx(6))


def s_node_token_error():
    return fill("""TokenExpiredError: jwt expired
    at /app/node_modules/jsonwebtoken/verify.js:190:21
    at getSecret (/app/node_modules/jsonwebtoken/verify.js:97:14)
    at module.exports [as verify] (/app/node_modules/jsonwebtoken/verify.js:101:10)
    at verifyAccessToken (/app/src/middleware/auth.ts:23:16)
    at requireAuth (/app/src/middleware/auth.ts:41:5) {
  expiredAt: @@d@@T@@h@@.000Z
}""", d=date(), h=hms())


def s_kotlin_swift_errors():
    if R.random() < 0.5:
        return """FATAL EXCEPTION: main
Process: dev.acme.notes, PID: 18233
kotlin.UninitializedPropertyAccessException: lateinit property apiKeyProvider has not been initialized
	at dev.acme.notes.data.RemoteNotesSource.getApiKeyProvider(RemoteNotesSource.kt:21)
	at dev.acme.notes.data.RemoteNotesSource.fetch(RemoteNotesSource.kt:34)
	at dev.acme.notes.ui.NotesViewModel$refresh$1.invokeSuspend(NotesViewModel.kt:58)"""
    return """Thread 1: Fatal error: Unexpectedly found nil while unwrapping an Optional value
#0  KeychainPasswordItem.readPassword() at Sources/Auth/KeychainPasswordItem.swift:64
#1  SessionStore.restoreRefreshToken() at Sources/Auth/SessionStore.swift:112
#2  AppDelegate.application(_:didFinishLaunchingWithOptions:) at Sources/App/AppDelegate.swift:29"""


def s_csharp_crypto_exception():
    return fill("""fail: Microsoft.AspNetCore.Server.Kestrel[13]
      Connection id "@@c@@", Request id "@@c@@:00000002": An unhandled exception was thrown by the application.
      System.Security.Cryptography.CryptographicException: The key {@@k@@} was not found in the key ring.
         at Microsoft.AspNetCore.DataProtection.KeyManagement.KeyRingBasedDataProtector.UnprotectCore(Byte[] protectedData, Boolean allowOperationsOnRevokedKeys, UnprotectStatus& status)
         at @@O@@.Api.Security.SecretProtector.Unprotect(String cipherText) in /src/Api/Security/SecretProtector.cs:line 37
         at @@O@@.Api.Controllers.TokensController.Refresh(RefreshTokenRequest request) in /src/Api/Controllers/TokensController.cs:line 52""",
                c="0HN" + rs(10, UPAL), k=uid(), O=org().replace("-", "").title())


def s_elixir_php_ruby_errors():
    k = rint(0, 2)
    if k == 0:
        return """** (KeyError) key :secret_key_base not found in: [
  url: [host: "localhost"],
  adapter: Bandit.PhoenixAdapter,
  render_errors: [formats: [html: MyAppWeb.ErrorHTML, json: MyAppWeb.ErrorJSON], layout: false],
  pubsub_server: MyApp.PubSub,
  live_view: [signing_salt: nil]
]
    (elixir 1.17.3) lib/keyword.ex:1395: Keyword.fetch!/2
    (phoenix 1.7.14) lib/phoenix/endpoint/supervisor.ex:62: Phoenix.Endpoint.Supervisor.init/1"""
    if k == 1:
        return """PHP Fatal error:  Uncaught Error: Call to undefined method Illuminate\\Auth\\Passwords\\PasswordBroker::sendResetLinkEmail() in /var/www/app/Http/Controllers/Auth/ForgotPasswordController.php:31
Stack trace:
#0 /var/www/vendor/laravel/framework/src/Illuminate/Routing/Controller.php(54): App\\Http\\Controllers\\Auth\\ForgotPasswordController->sendResetLink()
#1 {main}
  thrown in /var/www/app/Http/Controllers/Auth/ForgotPasswordController.php on line 31"""
    return """NameError: uninitialized constant ApiKeyAuthenticator
Did you mean?  ApiKeyAuthentication
# ./app/controllers/api/base_controller.rb:4:in `<class:BaseController>'
# ./spec/requests/api/tokens_spec.rb:3:in `<top (required)>'"""


def s_pytest_verbose():
    return fill("""$ pytest tests/auth -v
============================= test session starts ==============================
platform linux -- Python 3.12.7, pytest-8.3.3, pluggy-1.5.0
collected 7 items

tests/auth/test_api_keys.py::test_create_api_key_returns_secret_once PASSED [ 14%]
tests/auth/test_api_keys.py::test_rotate_api_key_revokes_old_key PASSED  [ 28%]
tests/auth/test_api_keys.py::test_api_key_hash_is_constant_time_compared PASSED [ 42%]
tests/auth/test_passwords.py::test_password_hash_uses_argon2id PASSED    [ 57%]
tests/auth/test_passwords.py::test_reject_password_in_breach_list PASSED [ 71%]
tests/auth/test_tokens.py::test_refresh_token_reuse_revokes_family FAILED [ 85%]
tests/auth/test_tokens.py::test_access_token_expiry_is_15_minutes PASSED [100%]

=========================== short test summary info ============================
FAILED tests/auth/test_tokens.py::test_refresh_token_reuse_revokes_family - AssertionError: assert 'revoked' == 'active'
========================= 1 failed, 6 passed in @@s@@s =========================""", s="%.2f" % (R.random() * 3 + 0.4))


def s_go_test_verbose():
    return """$ go test ./internal/secrets/... -run 'Test(Token|Secret)' -v
=== RUN   TestTokenBucket_Refill
--- PASS: TestTokenBucket_Refill (0.00s)
=== RUN   TestSecretCache_ExpiresEntries
--- PASS: TestSecretCache_ExpiresEntries (0.21s)
=== RUN   TestSecretRef_Parse
=== RUN   TestSecretRef_Parse/vault_path
=== RUN   TestSecretRef_Parse/aws_arn
--- PASS: TestSecretRef_Parse (0.00s)
    --- PASS: TestSecretRef_Parse/vault_path (0.00s)
    --- PASS: TestSecretRef_Parse/aws_arn (0.00s)
PASS
ok  	github.com/acme/platform/internal/secrets	0.413s"""


def s_jest_rspec():
    if R.random() < 0.5:
        return """ PASS  src/auth/__tests__/password.test.ts
  hashPassword
    ✓ hashes password with argon2id (45 ms)
    ✓ rejects passwords shorter than 12 characters (2 ms)
  verifyPassword
    ✓ returns false for a wrong password (38 ms)
    ✓ rehashes when the stored hash uses old parameters (41 ms)

Test Suites: 1 passed, 1 total
Tests:       4 passed, 4 total"""
    return """PasswordResetsController
  POST #create
    sends a reset token to a confirmed email
    does not reveal whether the email exists
  PATCH #update
    rejects an expired reset_password_token
    signs the user in after setting a new password

Finished in 1.84 seconds (files took 3.2 seconds to load)
4 examples, 0 failures"""


def s_junit_xml():
    return fill("""<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.@@o@@.auth.TokenServiceTest" tests="3" skipped="0" failures="0" errors="0" timestamp="@@t@@" hostname="runner" time="0.812">
  <testcase name="issuesAccessTokenWithConfiguredTtl" classname="com.@@o@@.auth.TokenServiceTest" time="0.311"/>
  <testcase name="rejectsTokenSignedWithRotatedKey" classname="com.@@o@@.auth.TokenServiceTest" time="0.204"/>
  <testcase name="refreshTokenCannotBeUsedAsAccessToken" classname="com.@@o@@.auth.TokenServiceTest" time="0.297"/>
</testsuite>""", o=org().replace("-", ""), t=ts()[:19])


def s_tree_paths():
    return """$ tree -L 2 src/security
src/security
├── api_key_guard.ts
├── password_policy.ts
├── secrets
│   ├── secret_manager_client.ts
│   ├── secret_cache.ts
│   └── index.ts
├── tokens
│   ├── access_token.ts
│   ├── refresh_token_store.ts
│   └── token_revocation_list.ts
└── keys
    ├── jwks_loader.ts
    └── signing_key_rotation.ts

4 directories, 10 files"""


def s_ls_ssh_dir():
    u = pick(USERS)
    return fill("""$ ls -la ~/.ssh
total 32
drwx------  2 @@u@@ @@u@@ 4096 Nov  3 09:12 .
drwxr-x--- 19 @@u@@ @@u@@ 4096 Nov  4 18:40 ..
-rw-------  1 @@u@@ @@u@@  411 Oct 21 14:02 authorized_keys
-rw-r--r--  1 @@u@@ @@u@@  203 Nov  3 09:12 config
-rw-------  1 @@u@@ @@u@@  464 Oct 21 13:58 id_ed25519
-rw-r--r--  1 @@u@@ @@u@@  104 Oct 21 13:58 id_ed25519.pub
-rw-------  1 @@u@@ @@u@@ 2602 Sep  2 10:31 id_rsa_legacy_deploy_key
-rw-r--r--  1 @@u@@ @@u@@ 1770 Nov  4 11:20 known_hosts""", u=u)


def s_git_diff_stat():
    return fill("""$ git diff --stat main...feat/token-rotation
 docs/SECRETS.md                                  |  42 +++++++-
 src/auth/secret_rotation.rs                      | 187 +++++++++++++++++++++++++
 src/auth/token.rs                                |  31 +++--
 src/config/api_key.rs                            |  12 +-
 tests/fixtures/rotated_secret_keys.json          |   8 ++
 tests/secret_rotation_test.rs                    |  96 +++++++++++++
 6 files changed, 360 insertions(+), 16 deletions(-)""")


def s_grep_references():
    return """$ rg -n 'api_key|secret' --type py app/
app/settings.py:14:    stripe_api_key: SecretStr = Field(alias="STRIPE_API_KEY")
app/settings.py:15:    webhook_secret: SecretStr = Field(alias="STRIPE_WEBHOOK_SECRET")
app/payments/client.py:9:        self._api_key = settings.stripe_api_key.get_secret_value()
app/payments/webhooks.py:22:    secret = settings.webhook_secret.get_secret_value()
app/payments/webhooks.py:23:    event = stripe.Webhook.construct_event(payload, sig_header, secret)"""


def s_bandit_output():
    return fill(""">> Issue: [B105:hardcoded_password_string] Possible hardcoded password: 'Bearer'
   Severity: Low   Confidence: Medium
   CWE: CWE-259 (https://cwe.mitre.org/data/definitions/259.html)
   Location: ./app/clients/http.py:18:17
17	    def _auth_header(self) -> dict[str, str]:
18	        scheme = "Bearer"
19	        return {"Authorization": f"{scheme} {self._token}"}

>> Issue: [B105:hardcoded_password_string] Possible hardcoded password: 'token_type'
   Severity: Low   Confidence: Medium
   Location: ./app/oauth/models.py:@@l@@:4
@@l@@	    TOKEN_TYPE_FIELD = "token_type"
""", l=str(rint(20, 90)))


def s_ruff_s105():
    return """$ ruff check --select S app/
app/auth/constants.py:3:20: S105 Possible hardcoded password assigned to: "PASSWORD_RESET_ROUTE"
app/auth/constants.py:4:23: S105 Possible hardcoded password assigned to: "TOKEN_COOKIE_NAME"
app/auth/forms.py:41:27: S106 Possible hardcoded password assigned to argument: "password_field"
Found 3 errors.
No fixes available (3 hidden fixes can be enabled with the `--unsafe-fixes` option)."""


def s_prometheus_metrics():
    return fill("""# HELP auth_token_refresh_total Token refresh attempts by result.
# TYPE auth_token_refresh_total counter
auth_token_refresh_total{result="ok"} @@a@@
auth_token_refresh_total{result="expired"} @@b@@
auth_token_refresh_total{result="reused"} @@c@@
# HELP secret_cache_hits_total Secret cache lookups served from memory.
# TYPE secret_cache_hits_total counter
secret_cache_hits_total{backend="vault"} @@d@@
# HELP api_key_last_used_age_seconds Age of the least recently used active API key.
# TYPE api_key_last_used_age_seconds gauge
api_key_last_used_age_seconds @@e@@""", a=str(rint(10 ** 4, 10 ** 6)), b=str(rint(10, 999)), c=str(rint(0, 9)),
                d=str(rint(10 ** 5, 10 ** 7)), e=str(rint(100, 10 ** 6)))


def s_env_names_only():
    return """$ env | cut -d= -f1 | grep -E 'KEY|TOKEN|SECRET|PASS' | sort
ANTHROPIC_API_KEY
AWS_SECRET_ACCESS_KEY
DATABASE_PASSWORD
GITHUB_TOKEN
NPM_TOKEN
SENTRY_AUTH_TOKEN
STRIPE_SECRET_KEY"""


def s_k8s_secret_keys():
    s = pick(SERVICES)
    return fill("""$ kubectl -n prod get secret @@s@@-env -o json | jq '.data | keys'
[
  "API_KEY",
  "DATABASE_PASSWORD",
  "JWT_SIGNING_SECRET",
  "REDIS_PASSWORD",
  "SLACK_BOT_TOKEN"
]
$ kubectl -n prod get secret @@s@@-env -o jsonpath='{.type}'
Opaque""", s=s)


def s_iam_policy_actions():
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadAppSecrets", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": "arn:aws:secretsmanager:*:*:secret:prod/%s/*" % pick(SERVICES)},
        {"Sid": "DecryptWithAppKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.%s.amazonaws.com" % pick(REGIONS)}}},
        {"Sid": "DenyAccessKeyCreation", "Effect": "Deny", "Action": ["iam:CreateAccessKey", "iam:UpdateAccessKey"],
         "Resource": "*"}]}, indent=2)


def s_vault_policy_hcl():
    s = pick(SERVICES)
    return fill("""# policies/@@s@@.hcl
path "secret/data/@@s@@/*" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "transit/encrypt/@@s@@-key" {
  capabilities = ["update"]
}

path "database/creds/@@s@@-readonly" {
  capabilities = ["read"]
}""", s=s)


def s_tf_variables_no_default():
    return """variable "db_password" {
  description = "Master password for the RDS instance (from the CI secret store)"
  type        = string
  sensitive   = true
}

variable "api_token" {
  description = "Cloudflare API token with Zone:DNS:Edit"
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.api_token) >= 40
    error_message = "api_token looks too short."
  }
}"""


def s_rust_types():
    return """error[E0277]: `SecretString` doesn't implement `std::fmt::Display`
  --> src/config.rs:48:32
   |
48 |     println!("using key {}", cfg.api_key);
   |                              ^^^^^^^^^^^ `SecretString` cannot be formatted with the default formatter
   |
   = help: the trait `std::fmt::Display` is not implemented for `SecretBox<str>`
   = note: in format strings you may be able to use `{:?}` (or {:#?} for pretty-print) instead
   = note: this error originates in the macro `$crate::format_args_nl` which comes from the expansion of the macro `println`"""


def s_ts_declarations():
    return """export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
}

export type ApiKeyScope = "read" | "write" | "admin";

export class PasswordResetTokenStore {
  constructor(private readonly redis: Redis, private readonly ttlSeconds = 900) {}

  async issue(userId: string): Promise<string> { /* ... */ }
  async consume(token: string): Promise<string | null> { /* ... */ }
}"""


def s_openapi_paths():
    return """paths:
  /v1/api-keys:
    post:
      operationId: createApiKey
      summary: Create an API key (the secret is returned once)
      responses:
        "201":
          content:
            application/json:
              schema: { $ref: "#/components/schemas/ApiKeyWithSecret" }
  /v1/api-keys/{apiKeyId}/rotate:
    post:
      operationId: rotateApiKey
  /v1/oauth/token:
    post:
      operationId: issueToken
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema: { $ref: "#/components/schemas/TokenRequest" }"""


def s_structured_log_fields():
    t = ts_seq(3)
    return fill("""{"ts":"@@t0@@","level":"info","msg":"api key created","api_key_id":"ak_@@a@@","key_prefix":"@@p@@","scopes":["read"]}
{"ts":"@@t1@@","level":"warn","msg":"password reset requested for unknown email","request_id":"@@r@@"}
{"ts":"@@t2@@","level":"info","msg":"token refreshed","token_family":"@@f@@","token_expires_at":"@@e@@"}""",
                t0=t[0], t1=t[1], t2=t[2], a=rs(10, LOAL), p=rs(6, LOAL), r=uid(), f=uid(), e=ts())


def s_webpack_chunks():
    return fill("""  asset static/js/PasswordResetPage.@@h1@@.chunk.js 14.2 KiB [emitted] [immutable] (name: PasswordResetPage)
  asset static/js/ApiKeysSettings.@@h2@@.chunk.js 22.7 KiB [emitted] [immutable] (name: ApiKeysSettings)
  asset static/js/TokenExpiredModal.@@h3@@.chunk.js 3.1 KiB [emitted] [immutable] (name: TokenExpiredModal)
webpack 5.97.1 compiled successfully in @@ms@@ ms""", h1=hx(8), h2=hx(8), h3=hx(8), ms=str(rint(2000, 20000)))


def s_mypy_errors():
    return """app/auth/service.py:57: error: Argument "secret" to "sign" has incompatible type "SecretStr"; expected "str"  [arg-type]
app/auth/service.py:63: error: Item "None" of "Optional[RefreshToken]" has no attribute "revoke"  [union-attr]
app/api/keys.py:12: error: Name "ApiKeyCreate" is not defined  [name-defined]
Found 3 errors in 2 files (checked 48 source files)"""


def s_django_migration():
    return """class Migration(migrations.Migration):

    initial = True
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token_hash", models.CharField(max_length=64, unique=True)),
                ("token_prefix", models.CharField(max_length=8)),
                ("password_changed_at", models.DateTimeField(null=True)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
        ),
    ]"""


def s_gh_secret_list():
    rows = ["ANTHROPIC_API_KEY", "AWS_ROLE_ARN", "DOCKERHUB_TOKEN", "NPM_TOKEN", "SENTRY_AUTH_TOKEN"]
    return "$ gh secret list\nNAME               UPDATED\n" + "\n".join(
        "%-18s %s" % (r, pick(["about 2 days ago", "about 1 month ago", "3 hours ago", "about 1 year ago"])) for r in rows)


SECRET_WORD_IDENTIFIERS = [s_sql_api_keys_ddl, s_psql_describe_users, s_rails_schema_devise, s_alembic_migration,
                           s_prisma_schema, s_ecto_migration, s_diesel_schema, s_graphql_proto_schema,
                           s_java_stack_trace, s_go_panic, s_node_token_error, s_kotlin_swift_errors,
                           s_csharp_crypto_exception, s_elixir_php_ruby_errors, s_pytest_verbose, s_go_test_verbose,
                           s_jest_rspec, s_junit_xml, s_tree_paths, s_ls_ssh_dir, s_git_diff_stat, s_grep_references,
                           s_bandit_output, s_ruff_s105, s_prometheus_metrics, s_env_names_only, s_k8s_secret_keys,
                           s_iam_policy_actions, s_vault_policy_hcl, s_tf_variables_no_default, s_rust_types,
                           s_ts_declarations, s_openapi_paths, s_structured_log_fields, s_webpack_chunks,
                           s_mypy_errors, s_django_migration, s_gh_secret_list]


# ================================================================ CLEAN: doc_example
def d_boto3_docs_example():
    return """From the boto3 credentials guide ("Passing credentials as parameters"):

```python
import boto3

client = boto3.client(
    's3',
    aws_access_key_id='AKIAIOSFODNN7EXAMPLE',
    aws_secret_access_key='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
)
```

The guide warns that this is only for illustration; use a profile or the environment instead."""


def d_aws_credentials_file_doc():
    return """# ~/.aws/credentials, as shown in the AWS CLI user guide
[default]
aws_access_key_id=AKIAIOSFODNN7EXAMPLE
aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

[user1]
aws_access_key_id=AKIAI44QH8DHBEXAMPLE
aws_secret_access_key=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"""


def d_stripe_docs_test_key():
    if R.random() < 0.5:
        return """```javascript
// Stripe docs sample (the key is the public documentation test key, not ours)
const stripe = require('stripe')('sk_test_4eC39HqLyjWDarjtT1zdp7dc');

const paymentIntent = await stripe.paymentIntents.create({
  amount: 2000,
  currency: 'usd',
  automatic_payment_methods: { enabled: true },
});
```"""
    return """In the storybook we load Stripe Elements with the key from Stripe's own docs:

    const stripePromise = loadStripe('pk_test_TYooMQauvdEDq54NiTphI7jx');

It is the publishable test key every Stripe docs page uses, so it is fine in the repo."""


def d_azurite_conn():
    return """# appsettings.Development.json uses the Azurite emulator's well-known dev account
# (documented by Microsoft; the same for every installation):
AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\""""


def d_hardhat_accounts():
    return """$ npx hardhat node
Started HTTP and WebSocket JSON-RPC server at http://127.0.0.1:8545/

Accounts
========

WARNING: These accounts, and their private keys, are publicly known.
Any funds sent to them on Mainnet or any other live network WILL BE LOST.

Account #0: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (10000 ETH)
Private Key: 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80

(mnemonic for all of them: test test test test test test test test test test test junk)"""


def d_localstack_test_creds():
    return """# LocalStack accepts any credentials; the docs use "test":
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION=us-east-1
aws --endpoint-url=http://localhost:4566 s3 mb s3://sample-bucket"""


def d_rfc4231_vectors():
    return """```python
# RFC 4231, test case 2 -- HMAC-SHA-256 known-answer test
KEY  = bytes.fromhex("4a656665")  # "Jefe"
DATA = bytes.fromhex("7768617420646f2079612077616e7420666f72206e6f7468696e673f")  # "what do ya want for nothing?"
EXPECTED = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

def test_hmac_sha256_rfc4231_case2():
    assert hmac.new(KEY, DATA, hashlib.sha256).hexdigest() == EXPECTED
```"""


def d_nist_aes_vector():
    return """#[test]
fn aes128_ecb_matches_nist_sp800_38a_f_1_1() {
    // NIST SP 800-38A, Appendix F.1.1 (ECB-AES128.Encrypt), block #1
    let key = hex!("2b7e151628aed2a6abf7158809cf4f3c");
    let plaintext = hex!("6bc1bee22e409f96e93d7e117393172a");
    let expected = hex!("3ad77bb40d7a3660a89ecaf32466ef97");
    assert_eq!(encrypt_block(&key, &plaintext), expected);
}"""


def d_rfc7636_pkce():
    return """it("derives the RFC 7636 Appendix B challenge", () => {
  // code_verifier and code_challenge exactly as printed in RFC 7636, Appendix B
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  expect(s256(verifier)).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});"""


def d_rfc7519_jwt():
    return """RFC 7519 §3.1 gives this example JWT (HS256) -- our parser test decodes it and
checks the claims {"iss":"joe","exp":1300819380,"http://example.com/is_root":true}:

eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"""


def d_totp_examples():
    return """Fixtures for the 2FA tests:

* `JBSWY3DPEHPK3PXP` -- the Base32 secret used in countless Google Authenticator examples
  (`otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example`)
* `12345678901234567890` -- the ASCII seed of the RFC 6238 Appendix B test vectors
  (at T=59s the SHA-1 TOTP is `94287082`)"""


def d_k8s_docs_password():
    return """The Kubernetes docs ("Managing Secrets using kubectl") show escaping special characters:

```shell
kubectl create secret generic db-user-pass \\
    --from-literal=username=admin \\
    --from-literal=password='S!B\\*d$zDsb='
```

You must use single quotes '' to escape special characters such as $, \\, *, =, and ! in your strings."""


def d_mongodb_uri_docs():
    return """MongoDB connection string examples (from the manual):

    mongodb://mongodb0.example.com:27017
    mongodb://myDBReader:D1fficultP%40ssw0rd@mongodb0.example.com:27017/?authSource=admin

If the username or password includes the characters $ : / ? # [ ] @ they must be
percent-encoded, which is why the example password shows %40 for @."""


def d_tf_rds_docs():
    return """```terraform
# Example Usage from the aws_db_instance resource docs
resource "aws_db_instance" "default" {
  allocated_storage    = 10
  db_name              = "mydb"
  engine               = "mysql"
  engine_version       = "8.0"
  instance_class       = "db.t3.micro"
  username             = "foo"
  password             = "foobarbaz"
  parameter_group_name = "default.mysql8.0"
  skip_final_snapshot  = true
}
```
We should use `manage_master_user_password = true` instead of copying this."""


def d_postgres_image_docs():
    return """From the postgres image on Docker Hub:

    $ docker run --name some-postgres -e POSTGRES_PASSWORD=mysecretpassword -d postgres

The default postgres user and database are created in the entrypoint with initdb."""


def d_redis_conf_foobared():
    return """# Excerpt of the default redis.conf:
#
# Warning: since Redis is pretty fast, an outside user can try up to
# 1 million passwords per second against a modern box. This means that you
# should use very strong passwords, otherwise they will be very easy to break.
#
# requirepass foobared"""


def d_env_example_placeholders():
    return fill("""# .env.example -- copy to .env and fill in
OPENAI_API_KEY=sk-...
ANTHROPIC_API_KEY=your-anthropic-api-key
STRIPE_SECRET_KEY=sk_test_...
STRIPE_WEBHOOK_SECRET=whsec_...
DATABASE_URL=postgresql://postgres:postgres@localhost:5432/@@d@@_dev
SESSION_SECRET=changeme
GITHUB_CLIENT_SECRET=<from github.com/settings/developers>""", d=pick(REPOS).replace("-", "_"))


def d_readme_quickstart_export():
    p = pick(["acme-sdk", "vectorly", "talkbox"])
    return fill("""## Quick start

```bash
pip install @@p@@
export @@P@@_API_KEY="your-api-key-here"
@@p@@ run examples/hello.py
```

Get a key from the dashboard; never commit it.""", p=p, P=p.split("-")[0].upper())


def d_docstring_doctest():
    return '''class Client:
    """HTTP client for the Widgets API.

    >>> client = Client(api_key="YOUR_API_KEY")
    >>> client.widgets.list(limit=2)
    [Widget(id='w_1'), Widget(id='w_2')]

    Args:
        api_key: Your secret API key (``wk_live_...``). Defaults to ``$WIDGETS_API_KEY``.
    """'''


def d_test_fixture_fakes():
    return """@pytest.fixture
def settings():
    return Settings(
        database_url="sqlite:///:memory:",
        jwt_secret="test-secret",
        stripe_api_key="sk_test_dummy",
        slack_webhook_url="https://hooks.slack.com/services/TEST/TEST/TEST",
        smtp_password="not-a-real-password",
    )"""


def d_what_not_to_use():
    return """Password rules we enforce (and why):

- at least 12 characters, checked against the HIBP breach corpus
- these all fail: `password123`, `Password1!`, `qwerty123`, `letmein`, `admin123`, `iloveyou`
- a long passphrase like `correct horse battery staple` (the XKCD example -- don't use *that* one)
  is better than `P@ssw0rd!`"""


def d_default_admin_creds():
    return """Default logins for the local docker-compose stack (all of these are the upstream defaults, dev only):

| Service | URL | User | Password |
|---|---|---|---|
| Grafana | http://localhost:3000 | admin | admin |
| RabbitMQ | http://localhost:15672 | guest | guest |
| Keycloak | http://localhost:8080 | admin | admin |
| MinIO console | http://localhost:9001 | minioadmin | minioadmin |"""


def d_keyboard_hex_example():
    return fill("""```yaml
# example config -- replace the values
api:
  base_url: https://api.example.com
  api_key: 1234567890abcdef1234567890abcdef
  client_id: 00000000-0000-0000-0000-000000000000
  signing_secret: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
  retries: @@n@@
```""", n=str(rint(2, 5)))


def d_ghp_placeholder_docs():
    return """To use the GitHub API from the CLI examples, set a token:

    export GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
    export GITLAB_TOKEN=glpat-XXXXXXXXXXXXXXXXXXXX

(replace the X's with your own token; fine-grained tokens start with github_pat_)"""


def d_jwt_secret_placeholder():
    return """// config.example.js
module.exports = {
  port: 3000,
  jwtSecret: process.env.JWT_SECRET || 'your-jwt-secret',
  sessionSecret: process.env.SESSION_SECRET || 'keyboard cat',
  mongoUri: 'mongodb://localhost:27017/dev',
};"""


def d_helm_values_placeholders():
    return """# values.yaml (chart defaults; override in your own values file)
auth:
  # -- Admin password. If empty a random one is generated and stored in a Secret.
  adminPassword: ""
  # -- Use an existing secret instead (keys: admin-password, api-token)
  existingSecret: ""
smtp:
  password: "<SMTP_PASSWORD>"
oidc:
  clientSecret: "REPLACE_ME"
"""


def d_slack_docs_tokens():
    return """From the Slack API docs ("Token types"):

| Token | Looks like |
|---|---|
| Bot token | `xoxb-` followed by numbers and letters, e.g. `xoxb-not-a-real-token` |
| User token | `xoxp-...` |
| App-level token | `xapp-...` |

Never paste a real one into an issue; use `xoxb-REDACTED` in bug reports."""


def d_openssl_rand_instructions():
    return """Generate the secrets yourself; the values in this guide are placeholders:

    $ openssl rand -hex 32
    <64 hex characters>
    $ openssl rand -base64 48
    <64 base64 characters>

then set `APP_SECRET=<the hex value>` and `COOKIE_KEY=<the base64 value>` in the environment."""


def d_dotnet_user_secrets_docs():
    return """From the ASP.NET Core docs ("Safe storage of app secrets in development"):

    dotnet user-secrets init
    dotnet user-secrets set "Movies:ServiceApiKey" "12345"

The value `12345` is the docs' example; the Secret Manager stores it outside the project tree in
`%APPDATA%\\Microsoft\\UserSecrets\\<user_secrets_id>\\secrets.json`."""


def d_ansible_docs_example():
    return """From the Ansible FAQ ("How do I generate encrypted passwords for the user module?"):

    ansible all -i localhost, -m debug -a "msg={{ 'mypassword' | password_hash('sha512', 'mysecretsalt') }}"

so in our role the task ends up as:

```yaml
- name: Create the deploy user
  ansible.builtin.user:
    name: deploy
    password: "{{ deploy_password | password_hash('sha512') }}"
```"""


def d_sendgrid_twilio_docs_fake():
    return """Sample `.env` from our SMS tutorial -- every value is fake and the format hints are deliberate:

TWILIO_ACCOUNT_SID=ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
TWILIO_AUTH_TOKEN=your_auth_token
SENDGRID_API_KEY=SG.your-key-here
MAILGUN_API_KEY=key-0000000000000000000000000000000"""


def d_curl_placeholder_bearer():
    return """```bash
curl https://api.example.com/v1/widgets \\
  -H "Authorization: Bearer $API_TOKEN" \\
  -H "X-Api-Key: <YOUR_API_KEY>"
```

`$API_TOKEN` comes from `POST /v1/oauth/token`; `<YOUR_API_KEY>` is on the Settings page."""


def d_spring_docs_jasypt():
    return """From the jasypt-spring-boot README:

    jasypt.encryptor.password=password
    spring.datasource.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)

Run with `-Djasypt.encryptor.password=<your master password>` instead of committing it."""


def d_docker_registry_htpasswd_docs():
    return """From the Docker registry "Native basic auth" docs:

    $ mkdir auth
    $ docker run --entrypoint htpasswd httpd:2 -Bbn testuser testpassword > auth/htpasswd

Then `docker login myregistrydomain.com:5000` with testuser / testpassword."""


def d_vault_docs_tokens():
    return """From the Vault tutorials:

    $ vault login s.XXXXXXXXXXXXXXXXXXXXXXXX
    $ vault kv put secret/hello foo=world excited=yes

and for AppRole: `role_id=675a50e7-cfe0-be76-e35f-49ec009731ea` is shown in the docs
output next to a `secret_id` of `<secret-id>`; generate your own with `vault write -f`."""


def d_laravel_env_example():
    return """# .env.example shipped with Laravel
APP_NAME=Laravel
APP_ENV=local
APP_KEY=
APP_DEBUG=true

DB_CONNECTION=mysql
DB_HOST=127.0.0.1
DB_PORT=3306
DB_DATABASE=laravel
DB_USERNAME=root
DB_PASSWORD=

MAIL_PASSWORD=null"""


def d_repeated_runs():
    return """// test/fixtures.ts -- obviously fake values so nothing here can ever work against a real API
export const FAKE_OPENAI_KEY = "sk-test-000000000000000000000000000000000000";
export const FAKE_GH_TOKEN = "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
export const FAKE_AES_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
export const FAKE_SECRET = "deadbeefdeadbeefdeadbeefdeadbeef";"""


DOC_EXAMPLE = [d_boto3_docs_example, d_aws_credentials_file_doc, d_stripe_docs_test_key, d_azurite_conn,
               d_hardhat_accounts, d_localstack_test_creds, d_rfc4231_vectors, d_nist_aes_vector, d_rfc7636_pkce,
               d_rfc7519_jwt, d_totp_examples, d_k8s_docs_password, d_mongodb_uri_docs, d_tf_rds_docs,
               d_postgres_image_docs, d_redis_conf_foobared, d_env_example_placeholders, d_readme_quickstart_export,
               d_docstring_doctest, d_test_fixture_fakes, d_what_not_to_use, d_default_admin_creds,
               d_keyboard_hex_example, d_ghp_placeholder_docs, d_jwt_secret_placeholder, d_helm_values_placeholders,
               d_slack_docs_tokens, d_openssl_rand_instructions, d_dotnet_user_secrets_docs, d_ansible_docs_example,
               d_sendgrid_twilio_docs_fake, d_curl_placeholder_bearer, d_spring_docs_jasypt,
               d_docker_registry_htpasswd_docs, d_vault_docs_tokens, d_laravel_env_example, d_repeated_runs]

DOC_LEADS = ["", "", "", "is this safe to commit?\n\n", "the tutorial says:\n\n", "Tool output (docs/setup.md):\n"]


# ================================================================ assembly
CLEAN = [("option_docs", OPTION_DOCS, 42, OPTION_LEADS), ("infra_ids", INFRA_IDS, 40, None),
         ("secret_word_identifiers", SECRET_WORD_IDENTIFIERS, 34, None), ("doc_example", DOC_EXAMPLE, 34, DOC_LEADS)]
SECRET = [("key_pairs", KEY_PAIRS, 42), ("provider_near_value", PROVIDER_NEAR_VALUE, 40),
          ("json_escaped", JSON_ESCAPED, 32), ("code_constants", CODE_CONSTANTS, 36)]

# templates that must appear (shapes the brief names explicitly); the rest are drawn at random
MUST = {
    # key_pairs
    "k_iam_create_text", "k_aws_configure_transcript", "k_credentials_multi", "k_rclone_connstring",
    "k_rclone_config_create_r2", "k_rclone_azureblob", "k_r2_dashboard_copy", "k_do_spaces_keys_create",
    "k_ali_create_ak_json", "k_ali_php", "k_tccli_configure", "k_tc_cos_go", "k_b2_ui_copy", "k_az_storage_keys_list",
    "k_az_shared_key_js", "k_twilio_py_client", "k_twilio_init", "k_oauth_nextauth_github", "k_oauth_requests_auth",
    "k_oauth_msal", "k_csv_powershell", "k_csv_python_rows", "k_csv_cat_a", "k_scw_api_key_create",
    "k_linode_obj_keys", "k_js_wasabi_v2", "k_passwd_s3fs", "k_mc_admin_user_add", "k_cpp_sdk",
    # provider_near_value
    "v_sendgrid_yaml", "v_posthog_env", "v_mixpanel_json", "v_next_line_together", "v_paren_fireworks",
    "v_arrow_deepseek", "v_commit_msg_honeybadger", "v_slack_chat_cerebras", "v_assemblyai_yaml",
    "v_serpapi_space", "v_airtable_next_line", "v_wandb_login", "v_atlas_pair",
    # json_escaped
    "ji_env_production", "ji_apns_p8", "ji_kubeconfig_json", "ji_compose_env_list", "jc_curl_bearer",
    "ji_appsettings_json", "ji_request_body_log", "ji_portainer_stack", "ji_vault_pki_issue", "ji_ipynb_openai",
    # code_constants
    "c_rust_hmac_slice", "c_go_jwt_keyfunc", "c_ts_jwt_sign_literal", "c_py_jwt_encode", "c_java_auth0_hmac",
    "c_kotlin_hmac", "c_cs_hmacsha256", "c_php_openssl_encrypt", "c_ruby_jwt_encode", "c_swift_hmac",
    "c_elixir_phoenix_salts", "c_sh_openssl_hmac", "c_py_getenv_default", "c_cs_config_fallback",
    "c_sh_default_expansion", "c_ts_scrypt_salt",
    # doc_example
    "d_stripe_docs_test_key", "d_boto3_docs_example", "d_env_example_placeholders", "d_what_not_to_use",
    "d_keyboard_hex_example", "d_readme_quickstart_export", "d_azurite_conn", "d_hardhat_accounts",
}


def schedule(fns, n):
    must = [f for f in fns if f.__name__ in MUST]
    rest = [f for f in fns if f.__name__ not in MUST]
    R.shuffle(rest)
    order = must + rest
    while len(order) < n:
        batch = list(fns)
        R.shuffle(batch)
        order.extend(batch)
    assert len(must) <= n, (len(must), n)
    return order[:n]


# obvious real-looking credential shapes that must never appear in a clean case
REAL_LOOKING = [
    re.compile(r"AKIA[A-Z2-7]{16}"), re.compile(r"ASIA[A-Z2-7]{16}"), re.compile(r"ghp_[A-Za-z0-9]{36}"),
    re.compile(r"gh[osu]_[A-Za-z0-9]{36}"), re.compile(r"github_pat_[A-Za-z0-9_]{80,}"),
    re.compile(r"glpat-[A-Za-z0-9_-]{20}"), re.compile(r"xox[abprs]-\d+-\d+"), re.compile(r"sk-proj-"),
    re.compile(r"sk-ant-api"), re.compile(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    re.compile(r"[sr]k_live_[A-Za-z0-9]{20,}"), re.compile(r"whsec_[A-Za-z0-9+/]{20,}"),
    re.compile(r"AIza[A-Za-z0-9_-]{35}"), re.compile(r"npm_[A-Za-z0-9]{36}"), re.compile(r"hvs\.[A-Za-z0-9_-]{20,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"), re.compile(r"LTAI[A-Za-z0-9]{16,}"),
    re.compile(r"AKID[A-Za-z0-9]{32}"), re.compile(r"K00\d[A-Za-z0-9]{27}"), re.compile(r"dop_v1_[0-9a-f]{64}"),
]
ALLOWED_IN_CLEAN = {"AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE", "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
                    "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "glpat-XXXXXXXXXXXXXXXXXXXX"}


def build():
    cases, seen = [], set()
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
                assert s and s in text, (fam, fn.__name__, s)
            assert len(set(secrets)) == len(secrets), (fam, fn.__name__)
            cases.append({"family": fam, "expect": "secret", "text": text, "secrets": secrets, "_fn": fn.__name__})
    R.shuffle(cases)
    return cases


def validate(cases):
    all_secrets = [s for c in cases for s in c["secrets"]]
    for c in cases:
        assert c["expect"] in ("secret", "clean")
        assert (c["expect"] == "secret") == bool(c["secrets"]), c["_fn"]
        if c["expect"] == "clean":
            for rx in REAL_LOOKING:
                for m in rx.finditer(c["text"]):
                    tok = c["text"][m.start():m.start() + 40]
                    assert any(tok.startswith(a) or a.startswith(m.group(0)) for a in ALLOWED_IN_CLEAN), (c["_fn"], m.group(0))
            for s in all_secrets:
                assert s not in c["text"], (c["_fn"], s)


def main():
    cases = build()
    validate(cases)
    out = sys.stdout.buffer
    for i, c in enumerate(cases, 1):
        rec = {"id": "t3-%04d" % i, "family": c["family"], "expect": c["expect"], "text": c["text"], "secrets": c["secrets"]}
        out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    counts = Counter((c["family"], c["expect"]) for c in cases)
    used = Counter(c["_fn"] for c in cases)
    print("wrote %d cases (%d templates used)" % (len(cases), len(used)), file=sys.stderr)
    for (fam, exp), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print("  %-26s %-6s %3d" % (fam, exp, n), file=sys.stderr)


if __name__ == "__main__":
    main()
