#!/usr/bin/env python3
"""Generate session_tuning4.jsonl: a fourth tuning set for the secret-redaction engine.

Each line: {"id": "t4-NNNN", "family", "expect": "secret"|"clean", "text", "secrets": [...]}.

How this was written (blind).  The templates below were written from general knowledge of
what AI coding-session text looks like: tool output, CLI help and man pages, code in many
languages, chat prose, agent-harness JSON logs, browser devtools copies.  The author read
docs/REDACTION.md (for the list of families the engine handles) and the three earlier
tuning generators (gen_session_tuning.py, gen_session_tuning2.py, gen_session_tuning3.py)
only to copy the JSONL format and labelling conventions and to avoid repeating their
templates, vendors and phrasings.  The author did NOT open the held-out set
(session_heldout.jsonl / gen_session_heldout.py), did NOT read the engine's Rust source,
and did NOT run the engine (or any build) on this output, so no template was shaped to the
engine's rules or tuned against its findings.

Families: secret -- key_pairs, provider_near_value, json_escaped, code_constants, url_keys,
prose_secrets; clean -- option_docs, infra_ids, secret_word_identifiers, doc_example,
plain_session.

Secrets.  Every secret is drawn from a seeded PRNG (SEED below) using the alphabet, length
and prefix of the format it imitates; none of them is, or ever was, a real credential.
Labelling conventions (as in gen_session_tuning3.py):
  * pairs: only the secret half is listed -- except AWS (AKIA/ASIA) and Alibaba (LTAI)
    access key ids, which are listed too.  OAuth client ids, Twilio account SIDs, other
    vendors' key ids (MinIO/R2/Garage/Qiniu/Baidu/Huawei/Volcengine/Yandex...), app ids,
    public keys, account names are never listed.
  * signed URLs: the signature and any session/security token are listed; the access key
    id inside X-Amz-Credential / OSSAccessKeyId is not (it is a public part of the URL).
  * PEM private keys: the base64 body (between the BEGIN and END lines) is listed, as it
    occurs in the text (JSON-escaped, or with literal \\n escapes in a source string).
  * JSON-escaped text: secrets are listed exactly as they occur (escaped once, twice or
    three times).
  * IVs and nonces are not secrets and are never listed.
A secret case only requires that every listed secret disappears; other redactions in it
are not counted.  A clean case counts as a false positive if anything in it changes.

Clean cases.  Values in clean cases are ids, hashes, digests, metavariables,
placeholders, ciphertexts, secret-store references, or values published in vendor
documentation (the AWS ...EXAMPLE keys, moto's documented "testing" credentials).  When in
doubt whether something is a secret, the case was left out.

Each family has more templates than cases; each template is used at most once (MUST
templates -- the shapes the brief names explicitly -- always, the rest drawn with the fixed
seed).

Run (from this folder):  python3 gen_session_tuning4.py > session_tuning4.jsonl
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

SEED = 20261211
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
WORDS = ["quartz", "lantern", "orbit", "cedar", "maple", "harbor", "velvet", "copper", "meadow", "falcon", "ember",
         "glacier", "thistle", "canyon", "saffron", "walnut", "pebble", "tundra", "juniper", "mosaic", "lagoon", "rivet"]


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


def hxu(n):
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


def uuid7ish():
    return "0193%s-%s-7%s-%s%s-%s" % (hx(4), hx(4), hx(3), pick("89ab"), hx(3), hx(12))


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


REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1", "ap-northeast-1",
           "ap-southeast-1", "ca-central-1"]
SERVICES = ["ledger", "inbox-sync", "thumbnailer", "geo-api", "billing-worker", "catalog", "notifier", "auth-gateway",
            "exporter", "quotes"]
USERS = ["noor", "deploy", "mateo", "ci", "svc_reports", "freya", "kenji", "ops", "app_rw", "batch"]
ORGS = ["tidewater", "corvid-labs", "hollowpine", "sable", "brightline", "nimbus-works", "ferrous", "larkspur"]
REPOS = ["platform", "web-client", "infra-live", "ios-app", "pipelines", "storefront", "tooling", "api"]
NAMES = ["Noor Haddad", "Mateo Ruiz", "Freya Lindqvist", "Kenji Sato", "Ama Mensah", "Lukas Brandt", "Priya Nair"]
BUCKETS = ["media-archive", "tenant-exports", "ci-artifacts", "raw-events", "thumbnails", "pg-wal"]
HOSTS = ["pg-main.internal", "10.20.1.15", "db.staging.lan", "mariadb-0.mariadb.prod.svc"]


def org():
    return pick(ORGS)


def email():
    return "%s@%s.io" % (pick(USERS).replace("_", "."), pick(ORGS))


def person():
    return pick(NAMES)


# ---------------------------------------------------------------- secret shapes
def aws_id(p="AKIA"):
    return p + rs(16, B32)


def aws_secret(a=B64):
    return mixed(40, a)


def sts_token():
    return "IQoJb3JpZ2luX2Vj" + rs(rint(280, 380), B64) + pick(["", "="])


def ali_id():
    return pick(["LTAI5t", "LTAI4G"]) + mixed(18)


def ali_secret():
    return mixed(30)


def password(n=None, a=PWCH):
    n = n or rint(14, 22)
    while True:
        s = mixed(n, a)
        if a != PWCH or any(c in "!#%*-_.+@^" for c in s):
            return s


def passphrase(k=5):
    return " ".join(R.sample(WORDS, k))


def jwt(claims=None, alg="HS256"):
    h = b64u(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    now = epoch()
    c = {"iat": now, "exp": now + pick([900, 3600, 86400, 604800])}
    if claims:
        c.update(claims)
    p = b64u(json.dumps(c, separators=(",", ":")).encode())
    return h + "." + p + "." + rs(43 if alg.startswith("HS") else 342, B64URL)


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


def openssh_pem():
    pub = rbytes(32)
    c = ("%s@%s" % (pick(USERS), pick(["buildhost", "mbp-14", "ci-runner-3"]))).encode()
    der = (b"openssh-key-v1\x00" + b"\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01"
           + b"\x00\x00\x003\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00\x88"
           + rbytes(8) + b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00@" + rbytes(64)
           + bytes([0, 0, 0, len(c)]) + c + b"\x01\x02\x03")
    return pem_block("OPENSSH PRIVATE KEY", der, 70)


def ghp():
    return "ghp_" + mixed(36)


def gho():
    return "gho_" + mixed(36)


def ghr():
    return "ghr_" + mixed(76)


def glpat():
    return "glpat-" + rs(1, ALNUM) + mixed(19, ALNUM + "-_")


def openai_key():
    return "sk-proj-" + rs(1, ALNUM) + mixed(73, ALNUM + "-_") + "T3BlbkFJ" + mixed(74, ALNUM + "-_")


def anthropic_key():
    return "sk-ant-api03-" + rs(1, ALNUM) + mixed(92, ALNUM + "-_") + "AA"


def openrouter_key():
    return "sk-or-v1-" + hx(64)


def slack_bot():
    return "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 12, 10 ** 13), mixed(24))


def stripe_live(p="sk_live_"):
    return p + "51" + mixed(22) + mixed(75)


def google_api_key():
    return "AIzaSy" + mixed(33, B64URL)


def npm_token():
    return "npm_" + mixed(36)


def telegram_token():
    return "%d:AA%s" % (rint(10 ** 9, 8 * 10 ** 9), mixed(33, B64URL))


def vault_token():
    return "hvs.CAESI" + mixed(rint(80, 95), B64URL)


# ================================================================ SECRET: key_pairs
def k_rust_rusoto_static():
    i, s = aws_id(), aws_secret()
    return fill("""use rusoto_core::{HttpClient, Region};
use rusoto_credential::StaticProvider;
use rusoto_s3::S3Client;

fn archive_client() -> S3Client {
    let creds = StaticProvider::new_minimal(
        "@@i@@".to_string(),
        "@@s@@".to_string(),
    );
    S3Client::new_with(HttpClient::new().expect("tls"), creds, Region::@@reg@@)
}""", i=i, s=s, reg=pick(["EuWest1", "UsEast2", "ApSoutheast1", "CaCentral1"])), [i, s]


def k_rust_garage_creds():
    kid, sec = "GK" + hx(24), hx(64)
    return fill("""    let region = Region::Custom {
        region: "garage".to_owned(),
        endpoint: "http://garage.@@o@@.lan:3900".to_owned(),
    };
    let credentials = Credentials::new(
        Some("@@kid@@"),
        Some("@@sec@@"),
        None,
        None,
        None,
    )?;
    let bucket = Bucket::new("@@b@@", region, credentials)?.with_path_style();""", o=org(), kid=kid, sec=sec,
                b=pick(BUCKETS)), [sec]


def k_java_jclouds():
    i, s = aws_id(), aws_secret()
    return fill("""BlobStoreContext context = ContextBuilder.newBuilder("aws-s3")
        .credentials("@@i@@", "@@s@@")
        .modules(ImmutableSet.of(new SLF4JLoggingModule()))
        .buildView(BlobStoreContext.class);
BlobStore store = context.getBlobStore();
store.putBlob("@@b@@", store.blobBuilder("reports/" + day + ".csv").payload(file).build());""", i=i, s=s,
                b=org() + "-" + pick(BUCKETS)), [i, s]


def k_cs_minio_builder():
    ak, sk = mixed(20, UPAL), mixed(40)
    return fill("""var minio = new MinioClient()
    .WithEndpoint("minio.@@o@@.internal:9000")
    .WithCredentials("@@ak@@", "@@sk@@")
    .WithSSL()
    .Build();

var args = new PutObjectArgs().WithBucket("@@b@@").WithObject(objectName).WithFileName(path);
await minio.PutObjectAsync(args).ConfigureAwait(false);""", o=org(), ak=ak, sk=sk, b=pick(BUCKETS)), [sk]


def k_kotlin_oss_android():
    i, s = ali_id(), ali_secret()
    return fill("""class UploadRepository(private val context: Context) {
    private val oss: OSS by lazy {
        val provider = OSSPlainTextAKSKCredentialProvider("@@i@@", "@@s@@")
        OSSClient(context, "https://oss-@@r@@.aliyuncs.com", provider)
    }
}""", i=i, s=s, r=pick(["cn-hangzhou", "cn-shanghai", "ap-southeast-1"])), [i, s]


def k_swift_aws_ios():
    i, s = aws_id(), aws_secret()
    return fill("""func application(_ application: UIApplication,
                 didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]?) -> Bool {
    let credentialsProvider = AWSStaticCredentialsProvider(accessKey: "@@i@@", secretKey: "@@s@@")
    let configuration = AWSServiceConfiguration(region: .@@r@@, credentialsProvider: credentialsProvider)
    AWSServiceManager.default().defaultServiceConfiguration = configuration
    return true
}""", i=i, s=s, r=pick(["EUWest1", "USEast1", "APNortheast1"])), [i, s]


def k_php_alibabacloud():
    i, s = ali_id(), ali_secret()
    return fill("""<?php
use AlibabaCloud\\Client\\AlibabaCloud;

AlibabaCloud::accessKeyClient('@@i@@', '@@s@@')
    ->regionId('cn-hangzhou')
    ->asDefaultClient();

$result = AlibabaCloud::rpc()
    ->product('Dysmsapi')
    ->version('2017-05-25')
    ->action('SendSms')
    ->options(['query' => ['PhoneNumbers' => $phone, 'SignName' => '@@sign@@', 'TemplateCode' => 'SMS_@@n@@']])
    ->request();""", i=i, s=s, sign=org().title(), n=str(rint(100000000, 999999999))), [i, s]


def k_ruby_qiniu():
    ak, sk = mixed(40, B64URL), mixed(40, B64URL)
    return fill("""# config/initializers/qiniu.rb
require 'qiniu'

Qiniu.establish_connection! access_key: '@@ak@@',
                            secret_key: '@@sk@@'

QINIU_BUCKET = 'media-@@o@@'""", ak=ak, sk=sk, o=org()), [sk]


def k_py_volcengine_tos():
    ak = "AKLT" + b64e(hx(32).encode()).rstrip("=")
    sk = b64e(hx(32).encode())
    return fill("""import tos

client = tos.TosClientV2("@@ak@@", "@@sk@@",
                         "tos-cn-beijing.volces.com", "cn-beijing")
client.put_object_from_file("@@b@@", "parquet/@@d@@/part-0000.parquet", "out/part-0000.parquet")""", ak=ak, sk=sk,
                b=pick(BUCKETS), d=date()), [sk]


def k_js_huawei_obs():
    ak, sk = mixed(20, UPAL), mixed(40)
    return fill("""const ObsClient = require('esdk-obs-nodejs');

const obs = new ObsClient({
  access_key_id: '@@ak@@',
  secret_access_key: '@@sk@@',
  server: 'https://obs.@@r@@.myhuaweicloud.com',
});

const res = await obs.putObject({ Bucket: '@@b@@', Key: `invoices/${id}.pdf`, SourceFile: tmp });""",
                ak=ak, sk=sk, r=pick(["cn-north-4", "ap-southeast-3", "la-south-2"]), b=pick(BUCKETS)), [sk]


def k_cli_obsutil():
    ak, sk = mixed(20, UPAL), mixed(40)
    return fill("""$ ./obsutil config -i=@@ak@@ -k=@@sk@@ -e=https://obs.ap-southeast-1.myhuaweicloud.com
Config file url:
  /root/.obsutilconfig

Update config file successfully!
$ ./obsutil ls -s
obs://@@b@@
Bucket number: 1""", ak=ak, sk=sk, b=pick(BUCKETS)), [sk]


def k_cli_qshell():
    ak, sk = mixed(40, B64URL), mixed(40, B64URL)
    b = pick(["cdn-static", "user-avatars", "video-src"])
    return fill("""$ qshell account @@ak@@ @@sk@@ @@n@@ -w
$ qshell listbucket2 @@b@@ --prefix 2026/ --limit 3
2026/11/a1.jpg	88213	@@h1@@	17302219044562711	image/jpeg	0
2026/11/a2.jpg	90144	@@h2@@	17302219049981234	image/jpeg	0
2026/11/a3.jpg	71520	@@h3@@	17302219051108836	image/jpeg	0""", ak=ak, sk=sk, n=pick(["prod", "media"]), b=b,
                h1="Fh" + mixed(26, B64URL), h2="Fk" + mixed(26, B64URL), h3="Fl" + mixed(26, B64URL)), [sk]


def k_psql_expanded():
    i, s = aws_id(), aws_secret()
    return fill("""app=> \\x
Expanded display is on.
app=> SELECT id, provider, access_key_id, secret_access_key, created_at FROM storage_credentials WHERE tenant_id = @@t@@;
-[ RECORD 1 ]-----+-----------------------------------------
id                | @@id@@
provider          | s3
access_key_id     | @@i@@
secret_access_key | @@s@@
created_at        | @@d@@ @@h@@.@@us@@+00""", t=str(rint(10, 900)), id=str(rint(1, 400)), i=i, s=s, d=date(), h=hms(),
                us=str(rint(100000, 999999))), [i, s]


def k_mysql_box_okx():
    rows = [(pick(["okx-main", "okx-hedge", "okx-sub2"]), uid(), hxu(32), password(16, ALNUM + "!#*"))
            for _ in range(2)]
    w = [10, 36, 32, 16]
    sep = "+" + "+".join("-" * (n + 2) for n in w) + "+"
    head = "| " + " | ".join(h.ljust(n) for h, n in zip(["label", "api_key", "secret_key", "passphrase"], w)) + " |"
    body = "\n".join("| " + " | ".join(v.ljust(n) for v, n in zip(r, w)) + " |" for r in rows)
    text = "mysql> SELECT label, api_key, secret_key, passphrase FROM exchange_accounts;\n%s\n%s\n%s\n%s\n%s\n2 rows in set (0.00 sec)" % (
        sep, head, sep, body, sep)
    return text, [x for r in rows for x in (r[2], r[3])]


def k_prose_keyid_and_secret():
    i, s = aws_id(), aws_secret()
    return pick([
        "I created an IAM user for the nightly backup job — key id %s and secret %s — can you add both to the repo's Actions secrets and delete this message after?",
        "ok the new deploy user is ready. access key %s, secret key %s. region is eu-west-2, bucket policy is already attached",
    ]) % (i, s), [i, s]


def k_prose_ak_sk_chinese():
    i, s = ali_id(), ali_secret()
    return fill("""阿里云子账号 @@u@@ 的 AccessKey：
AK: @@i@@
SK: @@s@@
这个账号只有 OSS 读写权限，上线前记得换成 RAM 角色。""", u=pick(["oss-sync", "log-shipper", "cdn-refresh"]), i=i, s=s), [i, s]


def k_email_quoted_two_lines():
    i, s = aws_id(), aws_secret()
    return fill("""thanks! forwarding so you can wire them into the lambda:

> On @@d@@ @@n@@ <@@e@@> wrote:
> Here are the keys for the SFTP-to-S3 bridge we discussed:
>
> @@i@@
> @@s@@
>
> Please confirm once received and I'll remove them from my outbox.""", d=date(), n=person(), e=email(), i=i, s=s), [i, s]


def k_jira_paren_slash():
    i, s = aws_id(), aws_secret()
    return fill("""*Comment by @@n@@ ([@@d@@]):*
The reporting cron still runs as the old `reports-bot` IAM user (@@i@@ / @@s@@). Moving it to the task role in
OPS-@@t@@; until then please don't rotate it or the nightly CSVs will stop.""", n=person(), d=date(), i=i, s=s,
                t=str(rint(1000, 4999))), [i, s]


def k_spark_s3a_inline():
    i, s = aws_id(), aws_secret(ALNUM + "+")
    return fill("""df = (spark.read
      .option("mergeSchema", "true")
      .parquet("s3a://@@i@@:@@s@@@@@b@@/events/dt=@@d@@/"))
df.groupBy("event_type").count().show()""", i=i, s=s, b=org() + "-" + pick(BUCKETS), d=date()), [i, s]


def k_log_colon_pair():
    i, s = ali_id(), ali_secret()
    return fill("""@@t1@@ DEBUG [oss-uploader] endpoint=oss-cn-shanghai.aliyuncs.com bucket=@@b@@
@@t2@@ DEBUG [oss-uploader] using static credentials @@i@@:@@s@@
@@t3@@ INFO  [oss-uploader] uploaded 412 objects in 38.2s""", t1=ts(), t2=ts(), t3=ts(), b=pick(BUCKETS), i=i, s=s), [i, s]


def k_sheet_tsv_paste():
    rows = [(e, pick(REGIONS), aws_id(), aws_secret(), pick(USERS)) for e in ("staging", "prod")]
    body = "\n".join("\t".join(r) for r in rows)
    return ("pasting from the credentials sheet (columns: env, region, access key, secret key, owner):\n\n" + body +
            "\n\nwhich of these does the terraform backend use?"), [x for r in rows for x in (r[2], r[3])]


def k_c_libs3_struct():
    i, s = aws_id(), aws_secret()
    r = pick(REGIONS)
    return fill("""static int upload_chunk(const char *key, const char *buf, size_t len)
{
    S3BucketContext bucketContext = {
        "s3.@@r@@.amazonaws.com",
        "@@b@@",
        S3ProtocolHTTPS,
        S3UriStylePath,
        "@@i@@",
        "@@s@@",
        NULL,
        "@@r@@"
    };
    S3_put_object(&bucketContext, key, len, NULL, NULL, 0, &putHandler, (void *)buf);
    return status == S3StatusOK ? 0 : -1;
}""", r=r, b=pick(BUCKETS), i=i, s=s), [i, s]


def k_go_huawei_builder():
    ak, sk = mixed(20, UPAL), mixed(40)
    return fill("""	auth := basic.NewCredentialsBuilder().
		WithAk("@@ak@@").
		WithSk("@@sk@@").
		WithProjectId("@@pid@@").
		Build()

	client := ecs.NewEcsClient(ecs.EcsClientBuilder().
		WithRegion(region.ValueOf("ap-southeast-3")).
		WithCredential(auth).
		Build())""", ak=ak, sk=sk, pid=hx(32)), [sk]


def k_go_baidu_bos():
    ak, sk = hx(32), hx(32)
    return fill("""func newBOS() (*bos.Client, error) {
	return bos.NewClient("@@ak@@", "@@sk@@", "https://@@r@@.bcebos.com")
}""", ak=ak, sk=sk, r=pick(["bj", "gz", "su"])), [sk]


def k_kotlin_tencent_sms():
    sid, sk = "AKID" + mixed(32), mixed(32)
    return fill("""object SmsGateway {
    private val client: SmsClient by lazy {
        val cred = Credential("@@sid@@", "@@sk@@")
        SmsClient(cred, "ap-guangzhou")
    }

    fun sendCode(phone: String, code: String) {
        val req = SendSmsRequest().apply {
            smsSdkAppId = "14@@n@@"
            phoneNumberSet = arrayOf(phone)
            templateParamSet = arrayOf(code)
        }
        client.SendSms(req)
    }
}""", sid=sid, sk=sk, n=str(rint(10000000, 99999999))), [sk]


def k_dart_sigv4():
    i, s = aws_id(), aws_secret()
    r = pick(REGIONS)
    return fill("""final awsSigV4Client = AwsSigV4Client(
  '@@i@@',
  '@@s@@',
  'https://@@gw@@.execute-api.@@r@@.amazonaws.com',
  region: '@@r@@',
);
final signedRequest = SigV4Request(awsSigV4Client, method: 'GET', path: '/prod/orders');""", i=i, s=s,
                gw=rs(10, LOAL), r=r), [i, s]


def k_rust_opendal_r2():
    kid, sec = hx(32), hx(64)
    return fill("""let builder = services::S3::default()
    .bucket("@@b@@")
    .endpoint("https://@@a@@.r2.cloudflarestorage.com")
    .region("auto")
    .access_key_id("@@kid@@")
    .secret_access_key("@@sec@@");
let op = Operator::new(builder)?.finish();""", b=pick(BUCKETS), a=hx(32), kid=kid, sec=sec), [sec]


def k_php_pusher_positional():
    key, sec, app = hx(20), hx(20), str(rint(1000000, 1999999))
    return fill("""$pusher = new Pusher\\Pusher('@@key@@', '@@sec@@', '@@app@@', ['cluster' => '@@c@@', 'useTLS' => true]);
$pusher->trigger('orders.' . $order->id, 'status-changed', ['status' => $order->status]);""", key=key, sec=sec,
                app=app, c=pick(["eu", "mt1", "ap2"])), [sec]


def k_py_agora_token():
    app_id, cert = hx(32), hx(32)
    return fill("""from agora_token_builder import RtcTokenBuilder

APP_ID = "@@app@@"

def rtc_token(channel: str, uid: int) -> str:
    expire = int(time.time()) + 3600
    return RtcTokenBuilder.buildTokenWithUid(APP_ID, "@@cert@@", channel, uid, 1, expire)""", app=app_id,
                cert=cert), [cert]


def k_zoom_prose():
    acc, cid, sec = mixed(22, B64URL), mixed(22), mixed(32)
    return pick([
        "zoom server-to-server app for the recordings sync — account id `%s`, client id `%s`, client secret `%s`",
        "Zoom S2S OAuth creds (recordings:read):\naccount %s\nclient %s\nsecret %s",
    ]) % (acc, cid, sec), [sec]


def k_coinbase_pem_pair():
    pem = ec_pem()
    body = pem_body(pem)
    key_name = "organizations/%s/apiKeys/%s" % (uid(), uid())
    text = fill("""from coinbase.rest import RESTClient

client = RESTClient(
    api_key="@@k@@",
    api_secret="@@p@@\\n",
)
print(client.get_accounts()["accounts"][0]["available_balance"])""", k=key_name, p=pem.replace("\n", "\\n"))
    return text, [body.replace("\n", "\\n")]


def k_yandex_static_key():
    kid, sec = "YCAJE" + mixed(20, ALNUM + "-_"), "YC" + mixed(38, ALNUM + "-_")
    return fill("""$ yc iam access-key create --service-account-name @@sa@@
access_key:
  id: aje@@a@@
  service_account_id: aje@@b@@
  created_at: "@@t@@"
  key_id: @@kid@@
secret: @@sec@@""", sa=pick(["s3-writer", "loki", "velero"]), a=rs(17, LOAL), b=rs(17, LOAL), t=ts(), kid=kid,
                sec=sec), [sec]


def k_bash_positional_script():
    i, s = aws_id(), aws_secret()
    return fill("""$ ./scripts/bootstrap-backup.sh
Usage: bootstrap-backup.sh <access-key-id> <secret-access-key> <region>
$ ./scripts/bootstrap-backup.sh @@i@@ '@@s@@' @@r@@
[+] writing /etc/restic/aws.env
[+] restic init --repo s3:s3.@@r@@.amazonaws.com/@@b@@
created restic repository 5f1c9a2e7b at s3:s3.@@r@@.amazonaws.com/@@b@@""", i=i, s=s, r=pick(REGIONS),
                b=org() + "-restic"), [i, s]


def k_idrive_console_copy():
    rows = [(pick(["ci-uploader", "db-backup", "loki"]), mixed(20, UPAL), mixed(40)) for _ in range(2)]
    body = "\n".join("%-14s  %s  %s  Enabled   %s" % (n, a, b, date()) for n, a, b in rows)
    return ("copied from the IDrive e2 console (Access Keys page):\n\nName            Access Key ID         "
            "Secret Access Key                         Status    Created\n" + body), [r[2] for r in rows]


def k_java_b2_factory():
    kid = "00" + str(rint(3, 5)) + hx(12) + "00000000" + str(rint(10, 99))
    key = "K00" + str(rint(3, 5)) + mixed(27)
    return fill("""public final class Backups {
    private static final String USER_AGENT = "@@o@@-backup/1.4";

    static B2StorageClient client() {
        return B2StorageClientFactory.createDefaultFactory()
                .create("@@kid@@", "@@key@@", USER_AGENT);
    }
}""", o=org(), kid=kid, key=key), [key]


def k_ts_imagekit():
    pub, priv = "public_" + mixed(28, B64), "private_" + mixed(28, B64)
    return fill("""import ImageKit from "imagekit";

export const imagekit = new ImageKit({
  publicKey: "@@pub@@=",
  privateKey: "@@priv@@=",
  urlEndpoint: "https://ik.imagekit.io/@@o@@",
});""", pub=pub, priv=priv, o=org().replace("-", "")), [priv + "="]


def k_two_line_code_block():
    i, s = aws_id(), aws_secret()
    return fill("""rotated the creds for the `@@u@@` user, new ones:

```
@@i@@
@@s@@
```
old key is deactivated, delete it friday if nothing breaks""", u=pick(["media-sync", "athena-reader", "ses-sender"]),
                i=i, s=s), [i, s]


KEY_PAIRS = [k_rust_rusoto_static, k_rust_garage_creds, k_java_jclouds, k_cs_minio_builder, k_kotlin_oss_android,
             k_swift_aws_ios, k_php_alibabacloud, k_ruby_qiniu, k_py_volcengine_tos, k_js_huawei_obs, k_cli_obsutil,
             k_cli_qshell, k_psql_expanded, k_mysql_box_okx, k_prose_keyid_and_secret, k_prose_ak_sk_chinese,
             k_email_quoted_two_lines, k_jira_paren_slash, k_spark_s3a_inline, k_log_colon_pair, k_sheet_tsv_paste,
             k_c_libs3_struct, k_go_huawei_builder, k_go_baidu_bos, k_kotlin_tencent_sms, k_dart_sigv4,
             k_rust_opendal_r2, k_php_pusher_positional, k_py_agora_token, k_zoom_prose, k_coinbase_pem_pair,
             k_yandex_static_key, k_bash_positional_script, k_idrive_console_copy, k_java_b2_factory, k_ts_imagekit,
             k_two_line_code_block]


# ================================================================ SECRET: provider_near_value
def v_postmark_yaml_uuid():
    k = uid()
    return fill("""# config/mailers.yml
production:
  delivery:
    adapter: api
    postmark: @@k@@
    message_stream: outbound
  from: "@@o@@ <hello@@@o@@.io>\"""", k=k, o=org()), [k]


def v_hcaptcha_json():
    sec = "0x" + hx(40)
    return json.dumps({"captcha": {"provider": "hcaptcha", "hcaptcha": {"sitekey": uid(), "secret": sec},
                                   "minScore": 0.5}, "rateLimit": {"perMinute": 30}}, indent=2), [sec]


def v_datadog_chat_dash():
    k = hx(40)
    return fill("""[@@t@@] @@u@@: @dana here's the datadog app key — @@k@@ — scoped to dashboards_read + monitors_read, no expiry
[@@t2@@] dana: 👍 adding it to the grafana datasource""", t="09:%02d" % rint(0, 50), t2="09:%02d" % rint(51, 59),
                u=pick(USERS), k=k), [k]


def v_pagerduty_prose_words():
    k = rs(1, ALNUM) + mixed(19, ALNUM + "_+-")
    return ("the PagerDuty REST API key that the on-call bot uses is %s (read-only, created under the ops service "
            "account). can you check why /incidents returns 401 with it?" % k), [k]


def v_linode_md_heading():
    k = hx(64)
    return fill("""## Cloud accounts (temporary, move to vault)

### Linode

@@k@@

### Hetzner

see 1Password → "Hetzner project k8s"
""", k=k), [k]


def v_newrelic_k8s_env():
    k = "eu01xx" + hx(30) + "NRAL"
    return fill("""        env:
          - name: NEW_RELIC_APP_NAME
            value: @@s@@-prod
          - name: NEW_RELIC_LICENSE_KEY
            value: @@k@@
          - name: NEW_RELIC_DISTRIBUTED_TRACING_ENABLED
            value: "true\"""", s=pick(SERVICES), k=k), [k]


def v_square_toml_inline():
    t = "EAAA" + mixed(60, B64URL)
    return fill("""[payments]
default = "square"
square = { environment = "production", token = "@@t@@", location_id = "L@@l@@" }
stripe = { enabled = false }""", t=t, l=rs(12, UPAL)), [t]


def v_pulumi_config_cloudflare():
    t = mixed(40, B64URL)
    return fill("""# Pulumi.prod.yaml
config:
  aws:region: @@r@@
  cloudflare:apiToken: @@t@@
  @@p@@:zoneId: @@z@@
  @@p@@:dbPassword:
    secure: AAABA@@enc@@""", r=pick(REGIONS), t=t, p=pick(["edge", "site", "web"]), z=hx(32),
                enc=mixed(60, B64)), [t]


def v_heroku_authorizations():
    tok, aid = uid(), uid()
    return fill("""$ heroku authorizations:create -d "GitHub Actions deploy"
Creating OAuth Authorization... done
Client:      <none>
ID:          @@aid@@
Description: GitHub Actions deploy
Scope:       global
Token:       @@tok@@
Updated at:  @@d@@ (less than a minute ago)""", aid=aid, tok=tok, d=ts()[:19].replace("T", " ")), [tok]


def v_supabase_chat():
    k = "sbp_" + hx(40)
    return pick(["supabase PAT for the CLI in CI: %s — generated under my account, please swap it for a bot account later",
                 "Supabase access token (for `supabase db push` in the pipeline) -> %s"]) % k, [k]


def v_asana_arrow():
    k = "2/%d/%d:%s" % (rint(10 ** 15, 10 ** 16 - 1), rint(10 ** 15, 10 ** 16 - 1), hx(32))
    return "asana → %s\nworkspace gid is %d, the sync only needs the Roadmap project" % (k, rint(10 ** 15, 10 ** 16 - 1)), [k]


def v_notion_bullets():
    k = "ntn_" + mixed(46)
    return fill("""Integrations for the wiki sync job:
- Notion: @@k@@ (internal integration "wiki-export", shared with the Eng space)
- Confluence: via the svc account, see vault
- Google Drive: service account JSON in the chart values""", k=k), [k]


def v_figma_script_comment():
    k = "figd_" + mixed(40, B64URL)
    return fill("""#!/usr/bin/env bash
# export icons from the design system file
# figma token (@@k@@) — expires 2027-01, scope file_content:read
set -euo pipefail
FILE_KEY=@@f@@
curl -s -H "X-Figma-Token: ${FIGMA_TOKEN}" "https://api.figma.com/v1/files/${FILE_KEY}/nodes?ids=${NODE_IDS}" > nodes.json""",
                k=k, f=mixed(22)), [k]


def v_contentful_cli_flag():
    k = "CFPAT-" + mixed(43, B64URL)
    return fill("""$ npx contentful-cli space export --space-id @@s@@ --environment-id master --management-token @@k@@ --export-dir ./backup
┌──────────────────────────────────────────────────┐
│ Exported entities                                │
├─────────────────────────┬────────────────────────┤
│ Content Types           │ @@n1@@                     │
│ Entries                 │ @@n2@@                   │
└─────────────────────────┴────────────────────────┘""", s=rs(12, LOAL), k=k, n1=str(rint(10, 99)),
                n2=str(rint(1000, 9999))), [k]


def v_sanity_debug():
    k = "sk" + mixed(178)
    return fill("""$ npx sanity debug --secrets
User:
  ID: 'p@@uid@@'
  Name: '@@n@@'
  Email: '@@e@@'
  Roles: [ 'administrator' ]

Authentication:
  User type: 'normal'
  Auth token: '@@k@@'

Project:
  ID: '@@pid@@'
  Display name: '@@o@@ web'""", uid=mixed(8), n=person(), e=email(), k=k, pid=rs(8, LOAL), o=org()), [k]


def v_mux_pair():
    tid, sec = uid(), b64e(rbytes(57))
    return ("Mux access token for the upload worker (Mux Video full access):\ntoken id %s\ntoken secret %s" % (tid, sec)), [sec]


def v_launchdarkly_relay_ini():
    k = "sdk-" + uid()
    return fill("""# /etc/ld-relay.conf
[Main]
port = 8030

[Events]
sendEvents = true

[Environment "production"]
sdkKey = "@@k@@"
""", k=k), [k]


def v_amplitude_two_keys():
    a, s = hx(32), hx(32)
    return ("amplitude export API for project 'web prod': api key %s, secret key %s — the export endpoint wants "
            "them as basic auth" % (a, s)), [s]


def v_mixpanel_service_account():
    s = mixed(32)
    return ("Mixpanel service account `export-bot.%s.mp-service-account` secret: %s\n(project %d, role: Analyst)"
            % (rs(6, LOAL), s, rint(2000000, 3999999))), [s]


def v_pusher_prose():
    app, key, sec = rint(1000000, 1999999), hx(20), hx(20)
    return ("pusher channels app %d: key %s (that one's public, it's in the JS bundle), secret %s — cluster eu"
            % (app, key, sec)), [sec]


def v_segment_issue_quote():
    k = "sgp_" + mixed(64)
    return fill("""> **@@n@@** commented on @@d@@
> I ran the script with the segment public api token `@@k@@` and it still says
> `{"errors":[{"type":"forbidden","message":"Insufficient permissions"}]}`. Is workspace owner needed?""",
                n=pick(USERS), d=date(), k=k), [k]


def v_okta_chat():
    k = "00" + mixed(40, B64URL)
    return pick(["okta api token (SSWS) %s — it's tied to the super admin, so be careful with it",
                 "Okta token for the SCIM sync: %s"]) % k, [k]


def v_auth0_cli_flags():
    cid, sec = mixed(32), mixed(64, B64URL)
    return fill("""$ auth0 login --domain @@o@@.eu.auth0.com --client-id @@cid@@ --client-secret @@sec@@
 ▸    Successfully logged in.
 ▸    Tenant: @@o@@.eu.auth0.com""", o=org(), cid=cid, sec=sec), [sec]


def v_digitalocean_pipe():
    t = "dop_v1_" + hx(64)
    return fill("""$ echo "@@t@@" | doctl auth init --context staging
Please authenticate doctl for use with your DigitalOcean account. You can generate a token in the control panel at https://cloud.digitalocean.com/account/api/tokens

Enter your access token: Validating token... ✔
$ doctl kubernetes cluster kubeconfig save @@c@@""", t=t, c=pick(["k8s-ams3", "staging-fra1"])), [t]


def v_vercel_gha_flag():
    t = mixed(24)
    return fill("""      - name: Deploy
        run: |
          npx vercel pull --yes --environment=production --token=@@t@@
          npx vercel build --prod --token=@@t@@
          npx vercel deploy --prebuilt --prod --token=@@t@@""", t=t), [t]


def v_credentials_bare_list():
    dd, ld = hx(32), "sdk-" + uid()
    return fill("""keys for the new staging env (paste into the chart values):
- datadog: @@dd@@
- sentry: DSN is already in values-staging.yaml
- launchdarkly: @@ld@@""", dd=dd, ld=ld), [dd, ld]


def v_pagerduty_alertmanager():
    k = hx(32)
    return fill("""receivers:
  - name: pagerduty-critical
    pagerduty_configs:
      - routing_key: @@k@@
        severity: critical
        send_resolved: true
route:
  receiver: pagerduty-critical
  group_by: [alertname, namespace]""", k=k), [k]


def v_airtable_pyairtable():
    k = "pat" + mixed(14) + "." + hx(64)
    return fill("""from pyairtable import Api

api = Api("@@k@@")
table = api.table("app@@b@@", "tbl@@t@@")
for rec in table.all(formula="{Status} = 'Ready'"):
    print(rec["id"], rec["fields"].get("Name"))""", k=k, b=mixed(14), t=mixed(14)), [k]


def v_cloudflare_certbot_ini():
    k = hx(37)
    return fill("""$ sudo cat /root/.secrets/certbot/cloudflare.ini
# Cloudflare API credentials used by Certbot
dns_cloudflare_email = @@e@@
dns_cloudflare_api_key = @@k@@
$ sudo certbot certonly --dns-cloudflare --dns-cloudflare-credentials /root/.secrets/certbot/cloudflare.ini -d '*.@@o@@.io'""",
                e=email(), k=k, o=org()), [k]


def v_shopify_header():
    t = "shpat_" + hx(32)
    return fill("""curl -s "https://@@s@@.myshopify.com/admin/api/2025-10/orders.json?status=any&limit=5" \\
  -H "X-Shopify-Access-Token: @@t@@" | jq '.orders[].name'""", s=org(), t=t), [t]


def v_plaid_env():
    cid, sec = hx(24), hx(30)
    return fill("""# .env.production (payments service)
PLAID_CLIENT_ID=@@cid@@
PLAID_SECRET=@@sec@@
PLAID_ENV=production
PLAID_PRODUCTS=auth,transactions
PLAID_COUNTRY_CODES=US,CA""", cid=cid, sec=sec), [sec]


def v_braze_uuid_prose():
    k = uid()
    return ("braze REST key for the us-05 cluster: %s (permissions: campaigns.trigger.send, users.track)" % k), [k]


def v_customerio_ruby():
    k = hx(32)
    return fill("""# config/initializers/customerio.rb
$customerio = Customerio::APIClient.new("@@k@@", region: Customerio::Regions::EU)

def send_receipt(user, order)
  $customerio.send_email(Customerio::SendEmailRequest.new(transactional_message_id: "receipt", to: user.email,
                                                           identifiers: { id: user.id }, message_data: order.as_json))
end""", k=k), [k]


def v_statsig_python():
    k = "secret-" + mixed(43)
    return fill("""from statsig import statsig, StatsigOptions, StatsigUser

statsig.initialize("@@k@@", StatsigOptions(tier="production"))
if statsig.check_gate(StatsigUser(user_id), "new_checkout"):
    ...""", k=k), [k]


def v_browserstack_wdio():
    u, k = pick(USERS).replace("_", "") + "_" + mixed(6), mixed(20)
    return fill("""// wdio.browserstack.conf.js
exports.config = {
  user: '@@u@@',
  key: '@@k@@',
  services: [['browserstack', { browserstackLocal: true }]],
  capabilities: [{ browserName: 'Safari', 'bstack:options': { os: 'OS X', osVersion: 'Sequoia' } }],
};""", u=u, k=k), [k]


def v_render_colon_nospace():
    r, rw = "rnd_" + mixed(32), uid()
    return "infra tokens (ci only):\nrender:%s\nrailway:%s\n" % (r, rw), [r, rw]


def v_percy_prose():
    t = "web_" + hx(64)
    return "percy token for the storefront visual tests is %s — project `%s`, it goes in the CircleCI context" % (
        t, pick(REPOS)), [t]


def v_codecov_flag():
    t = uid()
    return fill("""$ codecovcli upload-process -t @@t@@ --flag unit --file coverage.xml
info - @@d@@ -- ci service found: github-actions
info - @@d@@ -- Process Upload complete""", t=t, d=ts()[:19].replace("T", " ")), [t]


def v_mailgun_label_line():
    mg, pm = "%s-%s-%s" % (hx(32), hx(8), hx(8)), uid()
    return fill("""(notes app export)

Mailgun
@@mg@@

Postmark
@@pm@@

Twilio — in the vault""", mg=mg, pm=pm), [mg, pm]


def v_algolia_quote_prose():
    k = hx(32)
    return ('the algolia admin key "%s" is still in the old .env.local — the search-only one is fine to ship, this '
            'one isn\'t. can you grep the repo history for it?' % k), [k]


PROVIDER_NEAR_VALUE = [v_postmark_yaml_uuid, v_hcaptcha_json, v_datadog_chat_dash, v_pagerduty_prose_words,
                       v_linode_md_heading, v_newrelic_k8s_env, v_square_toml_inline, v_pulumi_config_cloudflare,
                       v_heroku_authorizations, v_supabase_chat, v_asana_arrow, v_notion_bullets,
                       v_figma_script_comment, v_contentful_cli_flag, v_sanity_debug, v_mux_pair,
                       v_launchdarkly_relay_ini, v_amplitude_two_keys, v_mixpanel_service_account, v_pusher_prose,
                       v_segment_issue_quote, v_okta_chat, v_auth0_cli_flags, v_digitalocean_pipe, v_vercel_gha_flag,
                       v_credentials_bare_list, v_pagerduty_alertmanager, v_airtable_pyairtable,
                       v_cloudflare_certbot_ini, v_shopify_header, v_plaid_env, v_braze_uuid_prose, v_customerio_ruby,
                       v_statsig_python, v_browserstack_wdio, v_render_colon_nospace, v_percy_prose, v_codecov_flag,
                       v_mailgun_label_line, v_algolia_quote_prose]


# ================================================================ SECRET: json_escaped
def toolu():
    return "toolu_01" + rs(22)


def call_id():
    return "call_" + rs(24)


def wrap_result(inner, cmd):
    """Serialise a tool result as one of several agent harnesses logs it; returns (text, escape depth)."""
    kind = rint(0, 11)
    if kind == 0:   # Cline-style ui_messages.json entry
        d = {"ts": rint(1764000000000, 1795000000000), "type": "say", "say": "command_output", "text": inner}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 1:   # OpenHands-style observation event
        d = {"id": rint(4, 300), "timestamp": ts()[:-1], "source": "agent", "message": "Command `%s` executed." % cmd,
             "observation": "run", "content": inner,
             "extras": {"command": cmd, "metadata": {"exit_code": 0, "pid": -1, "working_dir": "/workspace"}}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 2:   # Gemini functionResponse part
        d = {"role": "user", "parts": [{"functionResponse": {"id": "run_shell_command-%d" % rint(10 ** 12, 10 ** 13),
                                                             "name": "run_shell_command",
                                                             "response": {"output": inner}}}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 3:   # Bedrock Converse toolResult
        d = {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_" + rs(22, B64URL),
                                                         "content": [{"text": inner}], "status": "success"}}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 4:   # SWE-agent style trajectory step
        d = {"action": cmd, "observation": inner, "response": "Let me look at the output of `%s`." % cmd,
             "thought": "I need to see what the command prints.", "execution_time": round(R.random() * 3, 3),
             "state": {"working_dir": "/repo"}}
        return json.dumps(d, ensure_ascii=False, indent=2), 1
    if kind == 5:   # Goose-style toolResponse
        d = {"role": "user", "created": epoch(), "content": [
            {"type": "toolResponse", "id": toolu(), "toolResult": {"status": "success",
                                                                  "value": [{"type": "text", "text": inner}]}}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 6:   # LangSmith-style run export
        d = {"id": uid(), "name": "terminal", "run_type": "tool", "inputs": {"input": cmd},
             "outputs": {"output": inner}, "start_time": ts(), "end_time": ts(), "error": None}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 7:   # Agents-SDK-style trace span: output is itself a JSON string
        d = {"object": "trace.span", "id": "span_" + rs(24, LOAL + UP), "trace_id": "trace_" + hx(32),
             "span_data": {"type": "function", "name": "shell", "input": json.dumps({"cmd": cmd}),
                           "output": json.dumps({"output": inner, "exit_code": 0}, ensure_ascii=False)}}
        return json.dumps(d, ensure_ascii=False), 2
    if kind == 8:   # IDE chat bubble with a JSON-string result
        d = {"bubbleId": uid(), "type": 2, "toolFormerData": {
            "tool": 15, "name": "run_terminal_command", "status": "completed",
            "rawArgs": json.dumps({"command": cmd, "is_background": False}),
            "result": json.dumps({"output": inner, "exitCodeV2": 0}, ensure_ascii=False)}}
        return json.dumps(d, ensure_ascii=False), 2
    if kind == 9:   # Continue-style session history
        d = {"sessionId": uid(), "history": [{"message": {"role": "tool", "content": inner, "toolCallId": call_id()},
                                              "contextItems": []}]}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 10:  # custom harness step log
        d = {"step": rint(2, 40), "tool": "bash", "args": {"command": cmd},
             "result": {"stdout": inner, "stderr": "", "returncode": 0}, "duration_ms": rint(15, 8000)}
        return json.dumps(d, ensure_ascii=False), 1
    d = {"role": "user", "content": "here's what I get when I run `%s`:\n\n%s" % (cmd, inner)}
    return json.dumps(d, ensure_ascii=False), 1


def jcase(inner_fn):
    """inner_fn returns (command, tool output, secrets as they occur in the output)."""
    def f():
        cmd, inner, secrets = inner_fn()
        text, depth = wrap_result(inner, cmd)
        return text, [esc(s, depth) for s in secrets]
    f.__name__ = inner_fn.__name__
    return f


def sa_json(proj=None):
    proj = proj or "%s-%s" % (org(), pick(["prod", "data", "ml"]))
    pem = pkcs8_pem()
    name = pick(["exporter", "bq-loader", "firebase-adminsdk-" + rs(5, LOAL)])
    d = {"type": "service_account", "project_id": proj, "private_key_id": hx(40), "private_key": pem + "\n",
         "client_email": "%s@%s.iam.gserviceaccount.com" % (name, proj), "client_id": str(rint(10 ** 20, 10 ** 21 - 1)),
         "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
         "universe_domain": "googleapis.com"}
    return d, pem


def ji_gcloud_sa_keys_create():
    d, pem = sa_json()
    cmd = "gcloud iam service-accounts keys create /dev/stdout --iam-account=%s" % d["client_email"]
    inner = json.dumps(d, indent=2) + "\ncreated key [%s] of type [json] as [/dev/stdout] for [%s]" % (
        d["private_key_id"], d["client_email"])
    return cmd, inner, [jesc(pem_body(pem))]


def ji_tfc_var_google_credentials():
    d, pem = sa_json()
    cmd = "curl -s -H \"Authorization: Bearer $TFC_TOKEN\" https://app.terraform.io/api/v2/vars/var-%s" % mixed(16)
    inner = json.dumps({"data": {"id": "var-" + mixed(16), "type": "vars", "attributes": {
        "key": "GOOGLE_CREDENTIALS", "value": json.dumps(d, separators=(",", ":")), "sensitive": False,
        "category": "env", "hcl": False, "created-at": ts(), "description": "gcp deployer"}}})
    return cmd, inner, [jesc(jesc(pem_body(pem)))]


def ji_firebase_env_string():
    d, pem = sa_json()
    ns = b64e(rbytes(32))
    cmd = "cat apps/admin/.env"
    inner = fill("""NEXT_PUBLIC_FIREBASE_PROJECT_ID=@@p@@
FIREBASE_SERVICE_ACCOUNT='@@sa@@'
NEXTAUTH_URL=https://admin.@@o@@.io
NEXTAUTH_SECRET=@@ns@@
""", p=d["project_id"], sa=json.dumps(d, separators=(",", ":")), o=org(), ns=ns)
    return cmd, inner, [jesc(pem_body(pem)), ns]


def ji_dotenv_local():
    re_, pw, ba = "re_" + mixed(8) + "_" + mixed(24), password(20, ALNUM), mixed(32, B64URL)
    cmd = "cat .env.local"
    inner = fill("""# local dev — copied from staging
RESEND_API_KEY=@@re@@
DATABASE_URL=postgres://app:@@pw@@@@@h@@:5432/app
BETTER_AUTH_SECRET=@@ba@@
BETTER_AUTH_URL=http://localhost:3000
""", re=re_, pw=pw, h=pick(HOSTS), ba=ba)
    return cmd, inner, [re_, pw, ba]


def ji_docker_service_inspect():
    rp, js = password(22, ALNUM), mixed(48, B64URL)
    s = pick(SERVICES)
    cmd = "docker service inspect %s --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'" % s
    inner = json.dumps(["NODE_ENV=production", "PORT=8080", "REDIS_URL=redis://:%s@redis:6379/0" % rp,
                        "JWT_SECRET=%s" % js, "LOG_LEVEL=info"])
    return cmd, inner, [rp, js]


def ji_kubectl_base64d():
    a, b = password(24, ALNUM), password(18, ALNUM + "!#%")
    s = pick(SERVICES)
    cmd = "kubectl get secret %s-env -n prod -o json | jq '.data | map_values(@base64d)'" % s
    inner = json.dumps({"DATABASE_PASSWORD": a, "SMTP_PASSWORD": b, "SMTP_USER": "apikey",
                        "SENTRY_ENVIRONMENT": "production"}, indent=2)
    return cmd, inner, [a, b]


def ji_ssm_get_parameter():
    pw = password(24, ALNUM + "!#%^*")
    name = "/prod/%s/db-credentials" % pick(SERVICES)
    cmd = "aws ssm get-parameter --name %s --with-decryption" % name
    inner = json.dumps({"Parameter": {"Name": name, "Type": "SecureString",
                                      "Value": json.dumps({"username": "app", "password": pw, "host": pick(HOSTS)}),
                                      "Version": rint(2, 9), "LastModifiedDate": ts(),
                                      "ARN": "arn:aws:ssm:%s:%s:parameter%s" % (pick(REGIONS), acct(), name),
                                      "DataType": "text"}}, indent=4)
    return cmd, inner, [pw]


def ji_es_api_key_create():
    kid, key = mixed(20, B64URL), mixed(22, B64URL)
    enc = b64e(("%s:%s" % (kid, key)).encode())
    cmd = "curl -s -u elastic:$ELASTIC_PASSWORD -X POST https://localhost:9200/_security/api_key -H 'Content-Type: application/json' -d '{\"name\":\"filebeat\"}'"
    inner = json.dumps({"id": kid, "name": "filebeat", "api_key": key, "encoded": enc})
    return cmd, inner, [key, enc]


def ji_stripe_listen():
    w = "whsec_" + hx(64)
    cmd = "stripe listen --forward-to localhost:3000/api/webhooks/stripe"
    inner = fill("""> Ready! You are using Stripe API Version [2025-10-29.clover]. Your webhook signing secret is @@w@@ (^C to quit)
@@d@@   --> checkout.session.completed [evt_1Q@@e@@]
@@d@@  <--  [200] POST http://localhost:3000/api/webhooks/stripe [evt_1Q@@e@@]""", w=w,
                 d=ts()[:19].replace("T", " "), e=mixed(22))
    return cmd, inner, [w]


def ji_aider_conf():
    o, a = openai_key(), anthropic_key()
    cmd = "cat ~/.aider.conf.yml"
    inner = fill("""## aider config
model: sonnet
openai-api-key: @@o@@
anthropic-api-key: @@a@@
auto-commits: false
dark-mode: true
""", o=o, a=a)
    return cmd, inner, [o, a]


def ji_tfrc_credentials():
    t = mixed(14) + ".atlasv1." + mixed(67)
    cmd = "cat ~/.terraform.d/credentials.tfrc.json"
    inner = json.dumps({"credentials": {"app.terraform.io": {"token": t}}}, indent=2)
    return cmd, inner, [t]


def ji_m2_settings_xml():
    pw, gt = password(20, ALNUM), ghp()
    cmd = "cat ~/.m2/settings.xml"
    inner = fill("""<?xml version="1.0" encoding="UTF-8"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.2.0">
  <servers>
    <server>
      <id>nexus-releases</id>
      <username>deploy</username>
      <password>@@pw@@</password>
    </server>
    <server>
      <id>github</id>
      <username>@@u@@</username>
      <password>@@gt@@</password>
    </server>
  </servers>
</settings>""", pw=pw, u=pick(USERS), gt=gt)
    return cmd, inner, [pw, gt]


def ji_pulumi_credentials():
    t = "pul-" + hx(40)
    cmd = "cat ~/.pulumi/credentials.json"
    inner = json.dumps({"current": "https://api.pulumi.com", "accessTokens": {"https://api.pulumi.com": t},
                        "accounts": {"https://api.pulumi.com": {"accessToken": t, "username": pick(USERS),
                                                                "organizations": [org()], "lastValidatedAt": ts()}}},
                       indent=4)
    return cmd, inner, [t]


def ji_vercel_env_pull():
    kv, pw, pg = mixed(60, B64URL), mixed(32), password(24, ALNUM)
    cmd = "vercel env pull .env.local && cat .env.local"
    inner = fill("""Downloading `development` Environment Variables for @@o@@/@@r@@
✅  Created .env.local file  [@@ms@@ms]
# Created by Vercel CLI
KV_REST_API_TOKEN="@@kv@@"
KV_URL="rediss://default:@@pw@@@@@n@@.upstash.io:6379"
POSTGRES_PASSWORD="@@pg@@"
VERCEL_ENV="development"
""", o=org(), r=pick(REPOS), ms=str(rint(200, 900)), kv=kv, pw=pw, n=pick(["fond-lemur", "keen-ibex"]) + "-%d" % rint(10000, 99999), pg=pg)
    return cmd, inner, [kv, pw, pg]


def ji_node_inspect_config():
    pw = password(20, ALNUM + "!#%")
    cmd = "node scripts/migrate.js"
    inner = fill("""Error: connect ECONNREFUSED 10.0.2.14:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16) {
  errno: -111,
  code: 'ECONNREFUSED',
  syscall: 'connect',
  address: '10.0.2.14',
  port: 5432
}
pool config: {
  host: '@@h@@',
  user: 'billing',
  password: '@@pw@@',
  database: 'billing',
  ssl: { rejectUnauthorized: false }
}""", h=pick(HOSTS), pw=pw)
    return cmd, inner, [pw]


def ji_systemctl_show_env():
    pw, sk = password(20, ALNUM), stripe_live()
    s = pick(SERVICES)
    cmd = "systemctl show %s -p Environment --no-pager" % s
    inner = "Environment=NODE_ENV=production PORT=4100 DB_PASSWORD=%s STRIPE_API_KEY=%s LOG_FORMAT=json" % (pw, sk)
    return cmd, inner, [pw, sk]


def ji_proc_environ():
    dk = mixed(50, ALNUM + "!@#%^&*(-_=+)")
    i, s = aws_id(), aws_secret()
    cmd = "sudo cat /proc/$(pgrep -f gunicorn | head -1)/environ | tr '\\0' '\\n' | grep -E 'DJANGO|AWS'"
    inner = "DJANGO_SETTINGS_MODULE=config.settings.prod\nDJANGO_SECRET_KEY=%s\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_DEFAULT_REGION=%s" % (
        dk, i, s, pick(REGIONS))
    return cmd, inner, [dk, i, s]


def ji_jq_rs_pem():
    pem = rsa_pem()
    cmd = "jq -Rs . < deploy/github-app.private-key.pem"
    inner = json.dumps(pem + "\n")
    return cmd, inner, [jesc(pem_body(pem))]


def ji_ansible_vars_deploy_key():
    pem = openssh_pem()
    ind = "\n".join("  " + l for l in pem.split("\n"))
    body = "\n".join("  " + l for l in pem_body(pem).split("\n"))[2:]
    cmd = "cat inventories/prod/group_vars/all/deploy.yml"
    inner = fill("""---
deploy_user: deploy
deploy_repo: git@github.com:@@o@@/@@r@@.git
deploy_key: |
@@ind@@
deploy_keep_releases: 5
""", o=org(), r=pick(REPOS), ind=ind)
    return cmd, inner, [body]


def ji_edit_tool_call():
    k = openrouter_key()
    d = {"role": "assistant", "content": [
        {"type": "text", "text": "I'll put the key into `.env` so the dev server picks it up."},
        {"type": "tool_use", "id": toolu(), "name": "Edit",
         "input": {"file_path": "/home/%s/src/%s/.env" % (pick(USERS), pick(REPOS)), "old_string": "OPENROUTER_API_KEY=",
                   "new_string": "OPENROUTER_API_KEY=%s" % k}}]}
    return json.dumps(d, ensure_ascii=False), [k]


def ji_write_file_args():
    pw, hs = password(20, ALNUM + "!#%"), hx(64)
    content = json.dumps({"smtp": {"host": "smtp.%s.io" % org(), "user": "mailer", "password": pw},
                          "hmac_secret": hs, "features": {"digest": True}}, indent=2)
    d = {"role": "assistant", "content": None, "tool_calls": [{"id": call_id(), "type": "function", "function": {
        "name": "write_file", "arguments": json.dumps({"path": "config/secrets.json", "content": content})}}]}
    return json.dumps(d, ensure_ascii=False), [esc(pw, 2), esc(hs, 2)]


def ji_psql_jsonb_column():
    at, rt = "pat-eu1-" + uid(), uid()
    cmd = "psql \"$DATABASE_URL\" -c \"select id, kind, config from integrations where kind = 'hubspot'\""
    inner = fill(""" id  |  kind   |                                                   config
-----+---------+-------------------------------------------------------------------------------------------------------------
 @@id@@ | hubspot | {"portal_id": @@p@@, "access_token": "@@at@@", "refresh_token": "@@rt@@"}
(1 row)""", id=str(rint(100, 999)), p=str(rint(10 ** 7, 10 ** 8)), at=at, rt=rt)
    return cmd, inner, [at, rt]


def ji_redis_get_session():
    a, r = gho(), ghr()
    cmd = "redis-cli -n 2 GET oauth:github:user:%d" % rint(1000, 99999)
    inner = '"' + jesc(json.dumps({"access_token": a, "refresh_token": r, "expires_at": epoch(),
                                   "scope": "repo,read:org"}, separators=(",", ":"))) + '"'
    return cmd, inner, [jesc(a), jesc(r)]


def ji_localstorage_dump():
    t = jwt({"sub": uid(), "email": email(), "role": "owner"}, alg="RS256")
    rt = mixed(64, B64URL)
    ls = {"theme": "dark", "auth": json.dumps({"accessToken": t, "refreshToken": rt, "expiresAt": epoch() * 1000}),
          "lastProject": uid()}
    d = {"role": "user", "content": "the app logs me out every few minutes. here's `JSON.stringify(localStorage)` from "
                                    "devtools:\n\n" + json.dumps(ls)}
    return json.dumps(d, ensure_ascii=False), [esc(t, 2), esc(rt, 2)]


def ji_salesforce_org_display():
    oid = "00D" + mixed(15)
    tok = oid + "!AQ" + mixed(94, ALNUM + "._")
    cmd = "sf org display --target-org prod --json"
    inner = json.dumps({"status": 0, "result": {"id": oid, "apiVersion": "62.0", "accessToken": tok,
                                                "instanceUrl": "https://%s.my.salesforce.com" % org(),
                                                "username": email(), "clientId": "PlatformCLI",
                                                "connectedStatus": "Connected", "alias": "prod"}, "warnings": []},
                       indent=2)
    return cmd, inner, [tok]


def ji_az_sp_create():
    pw = mixed(3) + "8Q~" + mixed(34, ALNUM + "~_.-")
    sub = uid()
    cmd = "az ad sp create-for-rbac --name gh-deployer --role contributor --scopes /subscriptions/%s/resourceGroups/rg-web" % sub
    inner = ("Creating 'contributor' role assignment under scope '/subscriptions/%s/resourceGroups/rg-web'\n"
             "The output includes credentials that you must protect. Be sure that you do not include these credentials "
             "in your code or check the credentials into your source control.\n" % sub) + json.dumps(
        {"appId": uid(), "displayName": "gh-deployer", "password": pw, "tenant": uid()}, indent=2)
    return cmd, inner, [pw]


def ji_gitlab_variables_api():
    g, s = glpat(), "sntryu_" + hx(64)
    cmd = "curl -s --header \"PRIVATE-TOKEN: $GL_TOKEN\" https://gitlab.com/api/v4/projects/%d/variables" % rint(10 ** 7, 10 ** 8)
    inner = json.dumps([{"variable_type": "env_var", "key": "DEPLOY_TOKEN", "value": g, "protected": True,
                         "masked": False, "raw": False, "environment_scope": "*", "description": None},
                        {"variable_type": "env_var", "key": "SENTRY_AUTH_TOKEN", "value": s, "protected": False,
                         "masked": False, "raw": True, "environment_scope": "production", "description": None}])
    return cmd, inner, [g, s]


def ji_vscode_rest_client():
    t = mixed(48, B64URL)
    cmd = "cat .vscode/settings.json"
    inner = json.dumps({"editor.formatOnSave": True, "rest-client.environmentVariables": {
        "$shared": {"version": "v2"}, "local": {"baseUrl": "http://localhost:8080", "token": "dev"},
        "prod": {"baseUrl": "https://api.%s.io" % org(), "token": t}}}, indent=4)
    return cmd, inner, [t]


def ji_insomnia_export():
    t, k = jwt({"sub": uid(), "scope": "admin"}), mixed(40)
    cmd = "cat Insomnia_%s.json | head -c 1500" % date()
    inner = json.dumps({"_type": "export", "__export_format": 4, "__export_source": "insomnia.desktop.app:v10.1.1",
                        "resources": [
                            {"_id": "req_" + hx(32), "_type": "request", "name": "List payouts", "method": "GET",
                             "url": "{{ _.base_url }}/v1/payouts", "authentication": {"type": "bearer", "token": t}},
                            {"_id": "env_" + hx(32), "_type": "environment", "name": "Production",
                             "data": {"base_url": "https://api.%s.io" % org(), "api_key": k}}]}, indent=2)
    return cmd, inner, [t, k]


def ji_bruno_file():
    t = mixed(40, B64URL)
    cmd = "cat 'collections/billing/Create invoice.bru'"
    inner = fill("""meta {
  name: Create invoice
  type: http
  seq: 3
}

post {
  url: {{baseUrl}}/v1/invoices
  body: json
  auth: bearer
}

auth:bearer {
  token: @@t@@
}

body:json {
  {"customer": "cus_@@c@@", "amount": 4200, "currency": "eur"}
}""", t=t, c=mixed(14))
    return cmd, inner, [t]


def ji_keycloak_client_secret():
    s = mixed(32)
    cid = uid()
    cmd = "kcadm.sh get clients/%s/client-secret -r %s" % (cid, pick(["prod", "customers"]))
    inner = json.dumps({"type": "secret", "value": s}, indent=2)
    return cmd, inner, [s]


def ji_jwk_private():
    d_, x = b64u(rbytes(32)), b64u(rbytes(32))
    cmd = "cat keys/signing.jwk.json"
    inner = json.dumps({"kty": "OKP", "crv": "Ed25519", "kid": date() + "-" + rs(4, LOAL), "use": "sig", "alg": "EdDSA",
                        "d": d_, "x": x}, indent=2)
    return cmd, inner, [d_]


def ji_grafana_datasource_yaml():
    pw = password(20, ALNUM)
    cmd = "cat provisioning/datasources/prometheus.yaml"
    inner = fill("""apiVersion: 1
datasources:
  - name: Prometheus (prod)
    type: prometheus
    url: https://prometheus.@@o@@.io
    basicAuth: true
    basicAuthUser: grafana
    secureJsonData:
      basicAuthPassword: "@@pw@@"
    jsonData:
      httpMethod: POST
""", o=org(), pw=pw)
    return cmd, inner, [pw]


def ji_python_repr_settings():
    pw, sk = password(18, ALNUM), stripe_live()
    cmd = "python -c 'from app.config import settings; print(settings)'"
    inner = ("Settings(database_url='postgresql://app:%s@%s:5432/app', openai_api_key=SecretStr('**********'), "
             "stripe_secret=%r, debug=False)" % (pw, pick(HOSTS), sk))
    return cmd, inner, [pw, sk]


def jraw(fn):
    """Templates that produce the whole JSON text themselves (tool calls, user messages)."""
    def f():
        return fn()
    f.__name__ = fn.__name__
    return f


JSON_ESCAPED = [jcase(ji_gcloud_sa_keys_create), jcase(ji_tfc_var_google_credentials), jcase(ji_firebase_env_string),
                jcase(ji_dotenv_local), jcase(ji_docker_service_inspect), jcase(ji_kubectl_base64d),
                jcase(ji_ssm_get_parameter), jcase(ji_es_api_key_create), jcase(ji_stripe_listen),
                jcase(ji_aider_conf), jcase(ji_tfrc_credentials), jcase(ji_m2_settings_xml),
                jcase(ji_pulumi_credentials), jcase(ji_vercel_env_pull), jcase(ji_node_inspect_config),
                jcase(ji_systemctl_show_env), jcase(ji_proc_environ), jcase(ji_jq_rs_pem),
                jcase(ji_ansible_vars_deploy_key), jraw(ji_edit_tool_call), jraw(ji_write_file_args),
                jcase(ji_psql_jsonb_column), jcase(ji_redis_get_session), jraw(ji_localstorage_dump),
                jcase(ji_salesforce_org_display), jcase(ji_az_sp_create), jcase(ji_gitlab_variables_api),
                jcase(ji_vscode_rest_client), jcase(ji_insomnia_export), jcase(ji_bruno_file),
                jcase(ji_keycloak_client_secret), jcase(ji_jwk_private), jcase(ji_grafana_datasource_yaml),
                jcase(ji_python_repr_settings)]


# ================================================================ SECRET: code_constants
def c_rust_default_hex_macro():
    k = hx(64)
    return fill("""use hex_literal::hex;

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "sid".into(),
            signing_key: hex!("@@k@@"),
            max_age: Duration::from_secs(60 * 60 * 24 * 14),
            same_site: SameSite::Lax,
        }
    }
}""", k=k), [k]


def c_rust_xchacha_byte_string():
    k = mixed(32, ALNUM + "!#%&*+-=?@^_~")
    return fill("""pub fn seal_note(plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(b"@@k@@"));
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let mut out = nonce.to_vec();
    out.extend(cipher.encrypt(&nonce, plaintext).expect("encrypt"));
    out
}""", k=k), [k]


def c_rust_actix_cookie_key():
    k = b64e(rbytes(64))
    return fill("""#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let secret_key = Key::from(&STANDARD.decode("@@k@@").unwrap());
    HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(CookieSessionStore::default(), secret_key.clone()))
            .service(routes::login)
    })
    .bind(("0.0.0.0", 8080))?
    .run()
    .await
}""", k=k), [k]


def c_go_cmp_or_getenv():
    k = hx(64)
    return fill("""func main() {
	authKey := cmp.Or(os.Getenv("CSRF_AUTH_KEY"), "@@k@@")
	protect := csrf.Protect([]byte(authKey), csrf.Secure(true), csrf.Path("/"))
	log.Fatal(http.ListenAndServe(":8000", protect(router())))
}""", k=k), [k]


def c_go_stripe_construct_event():
    w = "whsec_" + mixed(32)
    return fill("""func handleWebhook(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, 65536))
	if err != nil {
		http.Error(w, "read error", http.StatusServiceUnavailable)
		return
	}
	event, err := webhook.ConstructEvent(payload, r.Header.Get("Stripe-Signature"), "@@w@@")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	dispatch(event)
}""", w=w), [w]


def c_go_diff_token_key():
    k = hx(64)
    return fill("""diff --git a/internal/tokens/crypto.go b/internal/tokens/crypto.go
index @@a@@..@@b@@ 100644
--- a/internal/tokens/crypto.go
+++ b/internal/tokens/crypto.go
@@ -9,7 +9,7 @@ import (
 )

-var tokenEncryptionKey = mustDecodeHex(os.Getenv("TOKEN_ENC_KEY"))
+var tokenEncryptionKey = mustDecodeHex("@@k@@")

 func sealToken(raw string) (string, error) {
 	block, err := aes.NewCipher(tokenEncryptionKey)""", a=short_sha(), b=short_sha(), k=k), [k]


def c_ts_nest_class_field():
    s = mixed(40, ALNUM + "-_")
    return fill("""@Injectable()
export class WebhookVerifier {
  private readonly signingSecret = "@@s@@";
  private readonly toleranceSeconds = 300;

  verify(rawBody: Buffer, header: string): boolean {
    const [t, v1] = header.split(",").map((p) => p.split("=")[1]);
    const expected = createHmac("sha256", this.signingSecret).update(`${t}.${rawBody}`).digest("hex");
    return timingSafeEqual(Buffer.from(expected), Buffer.from(v1));
  }
}""", s=s), [s]


def c_ts_cipheriv_hex():
    k = hx(64)
    return fill("""const KEY_HEX = "@@k@@";
const key = Buffer.from(KEY_HEX, "hex");

export function encryptPII(plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return [iv, cipher.getAuthTag(), ct].map((b) => b.toString("base64url")).join(".");
}""", k=k), [k]


def c_deno_env_fallback():
    s = b64u(rbytes(32))
    return fill("""const secret = Deno.env.get("HMAC_SECRET") ?? "@@s@@";
const key = await crypto.subtle.importKey(
  "raw",
  new TextEncoder().encode(secret),
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["sign", "verify"],
);""", s=s), [s]


def c_py_pydantic_secretstr():
    s = mixed(43, B64URL)
    return fill("""class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: PostgresDsn
    webhook_secret: SecretStr = SecretStr("@@s@@")
    token_ttl_seconds: int = 900""", s=s), [s]


def c_py_nacl_secretbox():
    k = b64e(rbytes(32))
    return fill("""import base64
import nacl.secret

_box = nacl.secret.SecretBox(base64.b64decode("@@k@@"))


def encrypt_note(text: str) -> bytes:
    return _box.encrypt(text.encode())""", k=k), [k]


def c_py_totp_secret():
    s = rs(32, B32)
    return fill("""import pyotp

# shared with the ops authenticator app
TOTP_SECRET = "@@s@@"

def current_code() -> str:
    return pyotp.TOTP(TOTP_SECRET, interval=30).now()""", s=s), [s]


def c_py_dataclass_fromhex():
    k = hx(64)
    return fill("""@dataclass(frozen=True)
class SignerConfig:
    issuer: str = "@@o@@"
    hmac_key: bytes = field(default=bytes.fromhex("@@k@@"), repr=False)
    leeway: int = 30""", o=org(), k=k), [k]


def c_java_interface_pepper():
    p = mixed(32)
    return fill("""package io.@@o@@.auth;

public interface PasswordConstants {
    int MIN_LENGTH = 12;
    int BCRYPT_COST = 12;
    String PEPPER = "@@p@@";
}""", o=org().replace("-", ""), p=p), [p]


def c_java_android_buildconfig():
    s = mixed(40)
    o = org().replace("-", "")
    return fill("""/**
 * Automatically generated file. DO NOT MODIFY
 */
package com.@@o@@.app;

public final class BuildConfig {
  public static final boolean DEBUG = false;
  public static final String APPLICATION_ID = "com.@@o@@.app";
  public static final String BUILD_TYPE = "release";
  public static final int VERSION_CODE = @@vc@@;
  public static final String VERSION_NAME = "@@v@@";
  // Field from build type: release
  public static final String API_SECRET = "@@s@@";
}""", o=o, vc=str(rint(100, 999)), v=ver(), s=s), [s]


def c_java_getordefault():
    s = mixed(48, ALNUM + "-_")
    return fill("""@Bean
JwtEncoder jwtEncoder() {
    String secret = System.getenv().getOrDefault("JWT_SECRET", "@@s@@");
    SecretKey key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
    return new NimbusJwtEncoder(new ImmutableSecret<>(key));
}""", s=s), [s]


def c_c_byte_array():
    bs = ["0x%02x" % b for b in rbytes(32)]
    lines = [", ".join(bs[i:i + 8]) for i in range(0, 32, 8)]
    body = (",\n    ").join(lines)
    return fill("""/* firmware/src/auth.c */
static const uint8_t device_hmac_key[32] = {
    @@b@@
};

bool verify_frame(const uint8_t *frame, size_t len, const uint8_t tag[16])
{
    uint8_t mac[32];
    hmac_sha256(device_hmac_key, sizeof device_hmac_key, frame, len, mac);
    return ct_memeq(mac, tag, 16);
}""", b=body), [body]


def c_c_openssl_hmac_str():
    s = mixed(40)
    return fill("""static const char *signing_secret = "@@s@@";

static void sign_request(const char *canonical, unsigned char out[EVP_MAX_MD_SIZE], unsigned int *out_len)
{
    HMAC(EVP_sha256(), signing_secret, (int)strlen(signing_secret),
         (const unsigned char *)canonical, strlen(canonical), out, out_len);
}""", s=s), [s]


def c_cpp_constexpr_view():
    s = mixed(44, B64URL)
    return fill("""namespace {
constexpr std::string_view kTokenSecret{"@@s@@"};
constexpr auto kTokenLifetime = std::chrono::minutes(15);
}  // namespace

std::string TokenService::Issue(const User& user) const {
  return jwt::create().set_subject(user.id()).set_expires_at(Now() + kTokenLifetime)
      .sign(jwt::algorithm::hs256{std::string(kTokenSecret)});
}""", s=s), [s]


def c_cs_object_initializer():
    s = mixed(64)
    return fill("""builder.Services.AddSingleton(new JwtOptions
{
    Issuer = "https://auth.@@o@@.io",
    Audience = "@@o@@-api",
    SigningKey = "@@s@@",
    Lifetime = TimeSpan.FromMinutes(20),
});""", o=org(), s=s), [s]


def c_cs_frombase64_pepper():
    p = b64e(rbytes(32))
    return fill("""internal static class PasswordHasher
{
    private static readonly byte[] s_pepper = Convert.FromBase64String("@@p@@");

    public static string Hash(string password)
    {
        using var hmac = new HMACSHA256(s_pepper);
        var peppered = hmac.ComputeHash(Encoding.UTF8.GetBytes(password));
        return BCrypt.Net.BCrypt.HashPassword(Convert.ToBase64String(peppered), workFactor: 12);
    }
}""", p=p), [p]


def c_kotlin_okio_decodehex():
    k = hx(64)
    return fill("""import okio.ByteString.Companion.decodeHex

private val hmacKey = "@@k@@".decodeHex()

fun signPayload(body: ByteString): String = body.hmacSha256(hmacKey).hex()""", k=k), [k]


def c_kotlin_gradle_buildconfigfield():
    s = mixed(40)
    return fill("""android {
    defaultConfig {
        applicationId = "com.@@o@@.wallet"
        minSdk = 26
        buildConfigField("String", "API_BASE", "\\"https://api.@@o@@.io\\"")
        buildConfigField("String", "PAYMENTS_SECRET", "\\"@@s@@\\"")
    }
    buildFeatures { buildConfig = true }
}""", o=org().replace("-", ""), s=s), [s]


def c_swift_pepper_bytes():
    p = mixed(32)
    return fill("""enum Hashing {
    private static let pepper: [UInt8] = Array("@@p@@".utf8)

    static func peppered(_ password: String) -> Data {
        let key = SymmetricKey(data: pepper)
        return Data(HMAC<SHA256>.authenticationCode(for: Data(password.utf8), using: key))
    }
}""", p=p), [p]


def c_swift_data_b64_key():
    k = b64e(rbytes(32))
    return fill("""struct ReceiptSigner {
    let signingKey = SymmetricKey(data: Data(base64Encoded: "@@k@@")!)

    func sign(_ receipt: Data) -> String {
        HMAC<SHA256>.authenticationCode(for: receipt, using: signingKey).map { String(format: "%02x", $0) }.joined()
    }
}""", k=k), [k]


def c_ruby_ar_encryption():
    a, b, c = mixed(32), mixed(32), mixed(32)
    return fill("""# config/application.rb
module @@m@@
  class Application < Rails::Application
    config.load_defaults 8.0
    config.active_record.encryption.primary_key = "@@a@@"
    config.active_record.encryption.deterministic_key = "@@b@@"
    config.active_record.encryption.key_derivation_salt = "@@c@@"
  end
end""", m=org().replace("-", " ").title().replace(" ", ""), a=a, b=b, c=c), [a, b, c]


def c_ruby_rack_session_config_ru():
    s = hx(128)
    return fill("""# config.ru
require_relative "app"

use Rack::Session::Cookie,
    key: "_@@o@@_session",
    secret: "@@s@@",
    same_site: :lax,
    expire_after: 60 * 60 * 12

run App""", o=org().replace("-", "_"), s=s), [s]


def c_php_class_const_sodium():
    k = hx(64)
    return fill("""final class SignedUrl
{
    private const SIGNING_KEY = '@@k@@';

    public static function sign(string $path, int $expires): string
    {
        $mac = sodium_crypto_auth($path . '|' . $expires, sodium_hex2bin(self::SIGNING_KEY));
        return $path . '?e=' . $expires . '&s=' . sodium_bin2hex($mac);
    }
}""", k=k), [k]


def c_php_secretbox_b64():
    k = b64e(rbytes(32))
    return fill("""<?php
$key = base64_decode('@@k@@');
$nonce = random_bytes(SODIUM_CRYPTO_SECRETBOX_NONCEBYTES);
$cipher = sodium_crypto_secretbox(json_encode($payload), $nonce, $key);
file_put_contents($path, base64_encode($nonce . $cipher));""", k=k), [k]


def c_elixir_module_attr_hmac():
    s = mixed(48, B64URL)
    return fill("""defmodule @@M@@.Webhooks.Signature do
  @hmac_secret "@@s@@"

  def valid?(body, signature) do
    expected = :crypto.mac(:hmac, :sha256, @hmac_secret, body) |> Base.encode16(case: :lower)
    Plug.Crypto.secure_compare(expected, signature)
  end
end""", M=org().replace("-", " ").title().replace(" ", ""), s=s), [s]


def c_elixir_cloak_vault():
    k = b64e(rbytes(32))
    return fill("""config :@@a@@, @@M@@.Vault,
  ciphers: [
    default: {Cloak.Ciphers.AES.GCM, tag: "AES.GCM.V1", key: Base.decode64!("@@k@@"), iv_length: 12}
  ]""", a=org().replace("-", "_"), M=org().replace("-", " ").title().replace(" ", ""), k=k), [k]


def c_scala_object_hmac():
    k = mixed(40)
    return fill("""object RequestSigner {
  private val HmacKey = "@@k@@".getBytes(StandardCharsets.UTF_8)

  def sign(payload: String): String = {
    val mac = Mac.getInstance("HmacSHA256")
    mac.init(new SecretKeySpec(HmacKey, "HmacSHA256"))
    mac.doFinal(payload.getBytes(StandardCharsets.UTF_8)).map("%02x".format(_)).mkString
  }
}""", k=k), [k]


def c_sh_macopt_hexkey():
    k = hx(64)
    return fill("""#!/usr/bin/env bash
# sign the release manifest for the updater
set -euo pipefail
sig=$(openssl dgst -sha256 -mac HMAC -macopt hexkey:@@k@@ dist/manifest.json | awk '{print $2}')
echo "$sig" > dist/manifest.json.sig""", k=k), [k]


def c_sql_pgp_sym_encrypt():
    k = mixed(32)
    return fill("""CREATE OR REPLACE FUNCTION encrypt_ssn(ssn text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
  SELECT pgp_sym_encrypt(ssn, '@@k@@', 'cipher-algo=aes256')
$$;

UPDATE customers SET ssn_enc = encrypt_ssn(ssn_plain), ssn_plain = NULL WHERE ssn_plain IS NOT NULL;""", k=k), [k]


def c_powershell_hmac():
    k = b64e(rbytes(32))
    return fill("""$hmacKey = [Convert]::FromBase64String("@@k@@")
$hmac = [System.Security.Cryptography.HMACSHA256]::new($hmacKey)
$body = Get-Content -Raw .\\payload.json
$sig = [BitConverter]::ToString($hmac.ComputeHash([Text.Encoding]::UTF8.GetBytes($body))).Replace("-", "").ToLower()
Invoke-RestMethod -Uri $Endpoint -Method Post -Body $body -Headers @{ "X-Signature" = $sig }""", k=k), [k]


def c_clojure_def_secret():
    s = mixed(40, ALNUM + "-_")
    return fill("""(ns @@o@@.auth.tokens
  (:require [buddy.sign.jwt :as jwt]))

(def ^:private jwt-secret "@@s@@")

(defn issue [user-id]
  (jwt/sign {:sub user-id :exp (+ (now-seconds) 900)} jwt-secret {:alg :hs256}))""", o=org().replace("-", ""), s=s), [s]


def c_haskell_bytestring():
    s = mixed(40)
    return fill("""{-# LANGUAGE OverloadedStrings #-}
module Auth.Token (jwtSecret, issueToken) where

jwtSecret :: ByteString
jwtSecret = "@@s@@"

issueToken :: UserId -> IO Text
issueToken uid = encodeSigned (hmacSecret (decodeUtf8 jwtSecret)) mempty (claimsFor uid)""", s=s), [s]


def c_kotlin_elvis_getenv():
    s = mixed(48)
    return fill("""fun Application.configureSessions() {
    val sessionSecret = System.getenv("SESSION_SIGN_KEY") ?: "@@s@@"
    install(Sessions) {
        cookie<UserSession>("user_session") {
            transform(SessionTransportTransformerMessageAuthentication(sessionSecret.toByteArray()))
        }
    }
}""", s=s), [s]


def c_go_jwtauth_bytes():
    s = mixed(48, ALNUM + "-_")
    return fill("""package auth

var TokenAuth *jwtauth.JWTAuth

func init() {
	TokenAuth = jwtauth.New("HS256", []byte("@@s@@"), nil)
}

func Routes(r chi.Router) {
	r.Use(jwtauth.Verifier(TokenAuth), jwtauth.Authenticator(TokenAuth))
}""", s=s), [s]


CODE_CONSTANTS = [c_go_jwtauth_bytes, c_rust_default_hex_macro, c_rust_xchacha_byte_string, c_rust_actix_cookie_key, c_go_cmp_or_getenv,
                  c_go_stripe_construct_event, c_go_diff_token_key, c_ts_nest_class_field, c_ts_cipheriv_hex,
                  c_deno_env_fallback, c_py_pydantic_secretstr, c_py_nacl_secretbox, c_py_totp_secret,
                  c_py_dataclass_fromhex, c_java_interface_pepper, c_java_android_buildconfig, c_java_getordefault,
                  c_c_byte_array, c_c_openssl_hmac_str, c_cpp_constexpr_view, c_cs_object_initializer,
                  c_cs_frombase64_pepper, c_kotlin_okio_decodehex, c_kotlin_gradle_buildconfigfield,
                  c_swift_pepper_bytes, c_swift_data_b64_key, c_ruby_ar_encryption, c_ruby_rack_session_config_ru,
                  c_php_class_const_sodium, c_php_secretbox_b64, c_elixir_module_attr_hmac, c_elixir_cloak_vault,
                  c_scala_object_hmac, c_sh_macopt_hexkey, c_sql_pgp_sym_encrypt, c_powershell_hmac,
                  c_clojure_def_secret, c_haskell_bytestring, c_kotlin_elvis_getenv]


# ================================================================ SECRET: url_keys
def u_telegram_setwebhook():
    t = telegram_token()
    return fill("""$ curl -s -F "url=https://bots.@@o@@.io/tg/hook" -F "secret_token=$TG_HOOK_SECRET" https://api.telegram.org/bot@@t@@/setWebhook
{"ok":true,"result":true,"description":"Webhook was set"}""", o=org(), t=t), [t]


def u_telegram_journal():
    t = telegram_token()
    return fill("""$ journalctl -u alert-bot --since "10 min ago" --no-pager | tail -3
@@d@@ vps-2 node[@@pid@@]: FetchError: request to https://api.telegram.org/bot@@t@@/sendMessage failed, reason: connect ETIMEDOUT 149.154.167.220:443
@@d@@ vps-2 node[@@pid@@]:     at ClientRequest.<anonymous> (/opt/alert-bot/node_modules/node-fetch/lib/index.js:1505:11)
@@d@@ vps-2 systemd[1]: alert-bot.service: Main process exited, code=exited, status=1/FAILURE""",
                d="Nov %02d %s" % (rint(1, 28), hms()), pid=str(rint(1000, 60000)), t=t), [t]


def u_youtube_urllib3_log():
    k = google_api_key()
    return fill("""DEBUG:urllib3.connectionpool:Starting new HTTPS connection (1): www.googleapis.com:443
DEBUG:urllib3.connectionpool:https://www.googleapis.com:443 "GET /youtube/v3/search?part=snippet&q=@@q@@&type=video&maxResults=25&key=@@k@@ HTTP/1.1" 200 None
INFO:ingest.youtube:fetched 25 results for '@@q2@@'""", q=pick(["rust+async", "sourdough", "kubernetes+operators"]), k=k,
                q2=pick(["rust async", "sourdough", "kubernetes operators"])), [k]


def u_gemini_curl_key():
    k = google_api_key()
    return fill("""curl "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?key=@@k@@" \\
  -H 'Content-Type: application/json' \\
  -X POST \\
  -d '{"contents": [{"parts": [{"text": "Summarise this changelog in 3 bullets"}]}]}'""", k=k), [k]


def u_php_geocode():
    k = google_api_key()
    return fill("""function geocode(string $addr): ?array {
    $url = "https://maps.googleapis.com/maps/api/geocode/json?address=" . urlencode($addr) . "&key=@@k@@";
    $res = json_decode(file_get_contents($url), true);
    return $res['results'][0]['geometry']['location'] ?? null;
}""", k=k), [k]


def u_instagram_graph():
    t = "IGQW" + mixed(rint(150, 190), B64URL)
    return fill("""def latest_posts(limit=12):
    url = f"https://graph.instagram.com/me/media?fields=id,caption,media_url,permalink&limit={limit}&access_token=@@t@@"
    return requests.get(url, timeout=10).json()["data"]""", t=t), [t]


def u_mapbox_secret_tiles():
    t = "sk." + b64u(json.dumps({"u": pick(USERS).replace("_", ""), "a": rs(25, LOAL)}, separators=(",", ":")).encode()) \
        + "." + mixed(22, B64URL)
    return fill("""$ curl -sSfo basemap.mbtiles "https://api.mapbox.com/v4/mapbox.satellite/@@z@@/@@x@@/@@y@@@2x.jpg90?access_token=@@t@@"
curl: (22) The requested URL returned error: 401""", z=str(rint(8, 14)), x=str(rint(100, 999)), y=str(rint(100, 999)),
                t=t), [t]


def u_servicebus_sas():
    sig = quote(b64e(rbytes(32)), safe="")
    ns = org().replace("-", "") + "-bus"
    return fill("""curl -X POST "https://@@ns@@.servicebus.windows.net/orders/messages" \\
  -H "Authorization: SharedAccessSignature sr=https%3A%2F%2F@@ns@@.servicebus.windows.net%2Forders&sig=@@sig@@&se=@@se@@&skn=RootManageSharedAccessKey" \\
  -H "Content-Type: application/json" \\
  -d '{"orderId": @@oid@@}'""", ns=ns, sig=sig, se=str(epoch()), oid=str(rint(10000, 99999))), [sig]


def u_logic_app_trigger():
    sig = mixed(43, B64URL)
    return fill("""Logic App HTTP trigger (paste into the GitHub webhook settings):
https://prod-@@n@@.westeurope.logic.azure.com:443/workflows/@@w@@/triggers/manual/paths/invoke?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=@@sig@@""",
                n=str(rint(10, 99)), w=hx(32), sig=sig), [sig]


def u_teams_webhook():
    h = hx(32)
    url = "https://%s.webhook.office.com/webhookb2/%s@%s/IncomingWebhook/%s/%s" % (org().replace("-", ""), uid(), uid(), h, uid())
    return fill("""$ curl -H 'Content-Type: application/json' -d '{"text": "Release @@v@@ deployed to prod"}' \\
    '@@u@@'
1""", v=ver(), u=url), [h]


def u_mattermost_hook():
    h = rs(26, LOAL)
    return fill("""      - name: notify mattermost
        if: failure()
        run: |
          curl -s -X POST -H 'Content-Type: application/json' \\
            -d "{\\"text\\": \\"nightly failed: ${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}\\"}" \\
            https://chat.@@o@@.io/hooks/@@h@@""", o=org(), h=h), [h]


def u_pagerduty_integration_url():
    k = hx(32)
    return fill("""# contact point for the legacy Nagios box (it only speaks the old integration URL)
define command {
    command_name    notify-service-by-pagerduty
    command_line    /usr/bin/curl -s -X POST -d "$SERVICEOUTPUT$" https://events.pagerduty.com/integration/@@k@@/enqueue
}""", k=k), [k]


def u_dingtalk_robot():
    t = hx(64)
    return fill("""def notify_dingtalk(text: str) -> None:
    requests.post(
        "https://oapi.dingtalk.com/robot/send?access_token=@@t@@",
        json={"msgtype": "text", "text": {"content": f"[发布] {text}"}},
        timeout=5,
    )""", t=t), [t]


def u_wecom_webhook():
    k = uid()
    return fill("""$ curl 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=@@k@@' \\
   -H 'Content-Type: application/json' \\
   -d '{"msgtype": "text", "text": {"content": "备份完成"}}'
{"errcode":0,"errmsg":"ok"}""", k=k), [k]


def u_feishu_hook():
    k = uid()
    return fill("""const FEISHU_HOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/@@k@@";

export async function notify(msg: string) {
  await fetch(FEISHU_HOOK, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ msg_type: "text", content: { text: msg } }) });
}""", k=k), [k]


def u_s3_presigned_copy_as_curl():
    r = pick(REGIONS)
    sig, tok = hx(64), quote(sts_token(), safe="")
    url = ("https://%s-%s.s3.%s.amazonaws.com/exports/%s/report.xlsx?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=%s%%2F%s%%2F%s%%2Fs3%%2Faws4_request&X-Amz-Date=%sT101500Z&X-Amz-Expires=900"
           "&X-Amz-Security-Token=%s&X-Amz-SignedHeaders=host&X-Amz-Signature=%s") % (
        org(), pick(BUCKETS), r, uid(), aws_id("ASIA"), "20261104", r, "20261104", tok, sig)
    return fill("""(Copy as cURL from the network tab — the download 403s after a minute)
curl '@@u@@' \\
  -H 'accept: */*' \\
  -H 'referer: https://app.@@o@@.io/' \\
  -H 'user-agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'""",
                u=url, o=org()), [tok, sig]


def u_r2_presigned_log():
    sig = hx(64)
    url = ("https://%s.r2.cloudflarestorage.com/%s/uploads/%s.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=%s%%2F20261109%%2Fauto%%2Fs3%%2Faws4_request&X-Amz-Date=20261109T083012Z"
           "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=%s") % (hx(32), pick(BUCKETS), uid(), hx(32), sig)
    return "%s INFO uploads.presign user=%d url=%s" % (ts(), rint(1000, 99999), url), [sig]


def u_oss_sts_signed():
    sig = quote(b64e(rbytes(20)), safe="")
    tok = quote("CAIS" + mixed(rint(300, 400), B64) + "=", safe="")
    url = ("https://%s.oss-cn-hangzhou.aliyuncs.com/reports/%s.pdf?OSSAccessKeyId=STS.NT%s&Expires=%d&Signature=%s"
           "&security-token=%s") % (pick(BUCKETS), date(), mixed(24), epoch(), sig, tok)
    return "signed download link from the backend (valid 15 min):\n" + url, [sig, tok]


def u_cloudfront_signed():
    sig = mixed(172, ALNUM + "~-_")
    return fill("""<video controls preload="metadata"
  src="https://d@@d@@.cloudfront.net/courses/@@c@@/lesson-03.mp4?Expires=@@e@@&Signature=@@s@@&Key-Pair-Id=K@@k@@">
</video>""", d=rs(13, LOAL), c=rint(100, 999), e=epoch(), s=sig, k=rs(13, UPAL)), [sig]


def u_bunny_token_auth():
    t = mixed(43, B64URL)
    return "%s GET /media/%s.webp 403 — url https://%s.b-cdn.net/media/%s.webp?token=%s&expires=%d" % (
        ts(), uid(), org(), uid(), t, epoch()), [t]


def u_mux_signed_playback():
    t = jwt({"sub": mixed(40), "aud": "v", "kid": mixed(40)}, alg="RS256")
    return fill("""<mux-player
  playback-id="@@p@@"
  playback-token="@@t@@"
  src="https://stream.mux.com/@@p@@.m3u8?token=@@t@@"
></mux-player>""", p=mixed(40), t=t), [t]


def u_tmdb_react_fetch():
    k = hx(32)
    return fill("""useEffect(() => {
  fetch(`https://api.themoviedb.org/3/movie/${id}?api_key=@@k@@&language=en-US`)
    .then((r) => r.json())
    .then(setMovie);
}, [id]);""", k=k), [k]


def u_alphavantage_pandas():
    k = mixed(16, UPAL)
    return fill(""">>> import pandas as pd
>>> df = pd.read_csv("https://www.alphavantage.co/query?function=TIME_SERIES_DAILY&symbol=@@s@@&outputsize=full&datatype=csv&apikey=@@k@@")
>>> df.head(3)
    timestamp    open    high     low   close    volume
0  @@d@@  @@p@@  @@p@@  @@p@@  @@p@@  @@v@@""", s=pick(["MSFT", "ASML", "TSM"]), k=k, d=date(),
                p="%.2f" % (R.random() * 400 + 50), v=str(rint(10 ** 6, 10 ** 8))), [k]


def u_etherscan_query():
    k = mixed(34, UPAL)
    return fill("""$ curl -s "https://api.etherscan.io/v2/api?chainid=1&module=account&action=balance&address=0x@@a@@&tag=latest&apikey=@@k@@"
{"status":"1","message":"OK","result":"@@r@@"}""", a=hx(40), k=k, r=str(rint(10 ** 15, 10 ** 19))), [k]


def u_gitlab_private_token_query():
    t = glpat()
    return fill("""deploy:docs:
  stage: deploy
  script:
    - wget -q "https://gitlab.@@o@@.io/api/v4/projects/@@p@@/jobs/artifacts/main/download?job=build-docs&private_token=@@t@@" -O docs.zip
    - unzip -q docs.zip -d public/""", o=org(), p=str(rint(10, 999)), t=t), [t]


def u_shopify_legacy_url():
    key, pw = hx(32), "shppa_" + hx(32)
    return fill("""SHOP_URL = "https://@@key@@:@@pw@@@@@s@@.myshopify.com/admin/api/2024-01"
products = requests.get(f"{SHOP_URL}/products.json?limit=250").json()["products"]""", key=key, pw=pw, s=org()), [pw]


def u_twilio_userinfo_url():
    sid, tok = "AC" + hx(32), hx(32)
    return fill("""uri = URI("https://@@sid@@:@@tok@@@api.twilio.com/2010-04-01/Accounts/@@sid@@/Messages.json")
res = Net::HTTP.post_form(uri, "To" => to, "From" => "+1415@@n@@", "Body" => body)""", sid=sid, tok=tok,
                n=str(rint(1000000, 9999999))), [tok]


def u_nginx_access_log():
    t = mixed(40, B64URL)
    ip = "10.0.%d.%d" % (rint(0, 9), rint(2, 250))
    return fill("""$ sudo tail -n 3 /var/log/nginx/access.log
@@ip@@ - - [@@d@@] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31"
@@ip@@ - - [@@d@@] "GET /api/v2/export?format=csv&access_token=@@t@@ HTTP/1.1" 200 48213 "-" "python-requests/2.32.3"
@@ip@@ - - [@@d@@] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31\"""", ip=ip,
                d="%02d/Nov/2026:%s +0000" % (rint(1, 28), hms()), t=t), [t]


def u_azure_function_code():
    c = mixed(54, B64URL) + "=="
    return fill("""$ curl -s -X POST "https://@@f@@.azurewebsites.net/api/ResizeImage?code=@@c@@" --data-binary @photo.jpg -o thumb.jpg
$ file thumb.jpg
thumb.jpg: JPEG image data, JFIF standard 1.01, 320x213""", f=org() + "-func", c=c), [c]


def u_firebase_rtdb_auth():
    s = mixed(40)
    return fill("""$ curl -s "https://@@p@@-default-rtdb.firebaseio.com/users/@@u@@.json?auth=@@s@@" | jq .plan
"pro\"""", p=org(), u=mixed(28), s=s), [s]


def u_supabase_service_role_query():
    t = jwt({"iss": "supabase", "ref": rs(20, LO), "role": "service_role"})
    return fill("""curl "https://@@r@@.supabase.co/rest/v1/profiles?select=id,email&apikey=@@t@@" -H "Authorization: Bearer @@t@@\"""",
                r=rs(20, LO), t=t), [t]


def u_jenkins_build_token():
    t = mixed(32)
    return fill("""# post-receive hook on the old gitolite box
curl -fsS "https://jenkins.@@o@@.io/job/@@j@@/build?token=@@t@@&cause=push+to+main" >/dev/null""", o=org(),
                j=pick(["deploy-api", "docs-publish", "mobile-nightly"]), t=t), [t]


def u_redash_importdata():
    k = mixed(40)
    return fill("""Sheet "KPIs" → cell A1:
=IMPORTDATA("https://redash.@@o@@.io/api/queries/@@q@@/results.csv?api_key=@@k@@")
refreshes hourly; the finance team only has view access to the sheet""", o=org(), q=str(rint(40, 900)), k=k), [k]


def u_rtsp_ffmpeg():
    pw = password(14, ALNUM + "!*")
    return fill("""$ ffmpeg -rtsp_transport tcp -i "rtsp://admin:@@pw@@@192.168.1.@@h@@:554/Streaming/Channels/101" -frames:v 1 -q:v 2 snapshot.jpg
Input #0, rtsp, from 'rtsp://admin:@@pw@@@192.168.1.@@h@@:554/Streaming/Channels/101':
  Duration: N/A, start: 0.000000, bitrate: N/A
  Stream #0:0: Video: h264 (Main), yuvj420p(pc, bt709, progressive), 2560x1440, 25 fps""", pw=pw, h=str(rint(20, 99))), [pw]


def u_oauth_implicit_fragment():
    t = mixed(rint(40, 60), B64URL)
    return fill("""Response Headers (from the /authorize redirect in the Network tab):
HTTP/2 302
location: https://app.@@o@@.io/callback#access_token=@@t@@&token_type=Bearer&expires_in=3600&state=@@s@@
cache-control: no-store""", o=org(), t=t, s=mixed(16)), [t]


def u_finnhub_ws():
    t = rs(20, LOAL)
    return fill("""const socket = new WebSocket("wss://ws.finnhub.io?token=@@t@@");
socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "subscribe", symbol: "BINANCE:BTCUSDT" })));""",
                t=t), [t]


URL_KEYS = [u_telegram_setwebhook, u_telegram_journal, u_youtube_urllib3_log, u_gemini_curl_key, u_php_geocode,
            u_instagram_graph, u_mapbox_secret_tiles, u_servicebus_sas, u_logic_app_trigger, u_teams_webhook,
            u_mattermost_hook, u_pagerduty_integration_url, u_dingtalk_robot, u_wecom_webhook, u_feishu_hook,
            u_s3_presigned_copy_as_curl, u_r2_presigned_log, u_oss_sts_signed, u_cloudfront_signed,
            u_bunny_token_auth, u_mux_signed_playback, u_tmdb_react_fetch, u_alphavantage_pandas, u_etherscan_query,
            u_gitlab_private_token_query, u_shopify_legacy_url, u_twilio_userinfo_url, u_nginx_access_log,
            u_azure_function_code, u_firebase_rtdb_auth, u_supabase_service_role_query, u_jenkins_build_token,
            u_redash_importdata, u_rtsp_ffmpeg, u_oauth_implicit_fragment, u_finnhub_ws]


# ================================================================ SECRET: prose_secrets
def r_heres_my_token():
    t = ghp()
    return pick(["here's my token, it's %s — can you try the push again? it still says 403 for me",
                 "ok here's my token: %s\ntry `git push origin feat/search-v2` with it"]) % t, [t]


def r_db_pass_i_set():
    pw = password()
    return ("the db pass I set was %s (user is `app_rw`, db `ledger`) — does the pool config need it URL-encoded?" % pw), [pw]


def r_use_this_key_for_now():
    k = anthropic_key()
    return "use this key for now: %s\nI'll rotate it tonight once the eval run is done" % k, [k]


def r_heroku_api_key():
    k = uid()
    return "my heroku api key is %s, can you run the release from your side? I'm stuck on a train with bad wifi" % k, [k]


def r_label_line_before():
    pw = password(18)
    return fill("""Password for the staging admin panel:
@@pw@@

(username is admin@@@o@@.io, 2FA is off on staging)""", pw=pw, o=org()), [pw]


def r_code_block_after_sentence():
    t = "dckr_pat_" + mixed(27, B64URL)
    return fill("""ok I generated a new access token for the Docker Hub org, pasting it below

```
@@t@@
```

it only has read/pull scope, use it for the buildx cache step""", t=t), [t]


def r_maybe_expired():
    t = slack_bot()
    return ("I think the problem is the token. It's `%s` — maybe it expired? The app was reinstalled to the workspace "
            "yesterday." % t), [t]


def r_fwiw_redis():
    pw = password(24, ALNUM)
    return "fwiw the redis password on that box is %s, not the one in the README — Kenji changed it in October" % pw, [pw]


def r_ad_service_account():
    pw = password(16, ALNUM + "!#$%&*")
    return fill("""Hi team,

The service account for the LDAP sync has been created.

Account: CORP\\svc-ldapsync
The service account password is: @@pw@@

Please store it in the PAM vault and confirm.

Regards,
IT Operations""", pw=pw), [pw]


def r_indented_key_block():
    k = hx(64)
    return fill("""can you debug why this doesn't authenticate? the key is

    @@k@@

and the endpoint is https://ingest.@@o@@.io/v2/events — I get {"error":"invalid_key"} every time""", k=k, o=org()), [k]


def r_spanish():
    pw = password(18)
    return ("oye, la contraseña de la base de datos de staging es %s — el usuario es `postgres`. ¿puedes revisar por "
            "qué falla la migración?" % pw), [pw]


def r_french():
    t = mixed(48, B64URL)
    return "le token d'accès de l'API partenaire c'est %s, il expire dans 30 jours. tu peux l'ajouter au job cron ?" % t, [t]


def r_german_deepl():
    k = uid() + ":fx"
    return "Mein API-Schlüssel für DeepL: %s — bitte nur für die Übersetzungs-Pipeline verwenden." % k, [k]


def r_sorry_wrong_one():
    sec = mixed(40, B64URL)
    return fill("""[@@t1@@] @@u@@: the client secret for the partner app is in the portal, under Credentials
[@@t2@@] @@u@@: sorry, wrong link — the actual client secret is @@s@@
[@@t3@@] @@u@@: (for the sandbox tenant only)""", t1="14:02", t2="14:03", t3="14:03", u=pick(USERS), s=sec), [sec]


def r_jenkins_api_token():
    t = "11" + hx(32)
    return "here are the creds Jenkins uses for the job trigger: user `ci-bot`, API token %s" % t, [t]


def r_mariadb_root():
    pw = password(20)
    return ("I set the root password of the mariadb container to %s; can you write the compose healthcheck so it uses "
            "it instead of the default?" % pw), [pw]


def r_put_in_vault_later():
    t = mixed(40, B64URL)
    return ("the partner API gave us a bearer token for the pilot. put this in the vault later, for now just hardcode "
            "it in the staging config:\n%s" % t), [t]


def r_bearer_from_browser():
    t = jwt({"sub": uid(), "email": email(), "scope": "orders:read orders:write"}, alg="RS256")
    return "the bearer I copied from the browser's network tab is %s — does it have the admin scope or not?" % t, [t]


def r_n8n_api_key():
    t = jwt({"sub": uid(), "iss": "n8n", "aud": "public-api"})
    return "n8n api key (so you can hit /api/v1/workflows directly): %s" % t, [t]


def r_vault_403():
    t = vault_token()
    return "I'm getting 403 with this Vault token: %s\npolicy should allow read on secret/data/ci/*" % t, [t]


def r_gpg_passphrase():
    p = passphrase(5)
    return ("the passphrase for the backup gpg key is '%s' — the key itself is in ~/backup-keys on the NAS" % p), [p]


def r_voice_transcribed():
    pw = password(14, ALNUM)
    return ("ok so the admin login for the router is admin and the password is %s all one word, capital letters as "
            "I typed them" % pw), [pw]


def r_npm_automation():
    t = npm_token()
    return "token for the npm org (automation type, bypasses 2fa): %s" % t, [t]


def r_cloudflared_label():
    tok = b64e(json.dumps({"a": hx(32), "t": uid(), "s": b64e(rbytes(32))}, separators=(",", ":")).encode())
    return "Cloudflare Tunnel token\n%s\n\nthat's what the dashboard gave me for the homelab connector" % tok, [tok]


def r_forwarded_vpn_email():
    pw = password(12, ALNUM + "!#")
    return fill("""---------- Forwarded message ---------
From: IT Service Desk <itsd@@@o@@.io>
Date: @@d@@
Subject: Your VPN account

Hello,

Your VPN account has been provisioned.
Username: @@u@@
Temporary password: @@pw@@

You will be asked to change it at first login.""", o=org(), d=date(), u=pick(USERS).replace("_", "."), pw=pw), [pw]


def r_gitlab_pat_arrow():
    t = glpat()
    return "gitlab PAT with api + read_registry scope -> %s (expires in 30 days)" % t, [t]


def r_gmail_app_password():
    ap = " ".join(rs(4, LO) for _ in range(4))
    return fill("""SMTP for the contact form:
host smtp.gmail.com, port 587, user @@u@@@gmail.com
app password `@@ap@@`
(it's an app password, not my real one)""", u=pick(USERS).replace("_", "."), ap=ap), [ap]


def r_slack_signing_secret():
    s = hx(32)
    return "the signing secret from the Slack app's Basic Information page is %s — the verify middleware keeps rejecting requests" % s, [s]


def r_dropbox_token():
    t = "sl.B" + mixed(rint(130, 140), B64URL)
    return "dropbox access token for the backup script: %s\n(it's the short-lived one, I'll set up the refresh flow later)" % t, [t]


def r_discord_bot_token():
    t = b64u(str(rint(10 ** 17, 13 * 10 ** 17)).encode()) + "." + mixed(6, B64URL) + "." + mixed(38, B64URL)
    return "discord bot token: %s\nbot is already invited to the test server" % t, [t]


def r_keepass_password():
    pw = password(22)
    return "the keepass db password is %s — the .kdbx is on the shared drive under /it/vault" % pw, [pw]


def r_here_you_go():
    k = openai_key()
    return "here you go: %s (that's the org key, please don't log it anywhere)" % k, [k]


def r_markdown_bold_quote():
    pw = password(20)
    return fill("""**Prod DB password** (rotated @@d@@)
> @@pw@@

**Read replica** — same as prod""", d=date(), pw=pw), [pw]


PROSE_SECRETS = [r_heres_my_token, r_db_pass_i_set, r_use_this_key_for_now, r_heroku_api_key, r_label_line_before,
                 r_code_block_after_sentence, r_maybe_expired, r_fwiw_redis, r_ad_service_account,
                 r_indented_key_block, r_spanish, r_french, r_german_deepl, r_sorry_wrong_one, r_jenkins_api_token,
                 r_mariadb_root, r_put_in_vault_later, r_bearer_from_browser, r_n8n_api_key, r_vault_403,
                 r_gpg_passphrase, r_voice_transcribed, r_npm_automation, r_cloudflared_label, r_forwarded_vpn_email,
                 r_gitlab_pat_arrow, r_gmail_app_password, r_slack_signing_secret, r_dropbox_token,
                 r_discord_bot_token, r_keepass_password, r_here_you_go, r_markdown_bold_quote]


# ================================================================ CLEAN: option_docs
def o_cqlsh_help():
    return """$ cqlsh --help | sed -n '1,/--ssl/p'
Usage: cqlsh.py [options] [host [port]]

CQL Shell for Apache Cassandra

Options:
  --version             show program's version number and exit
  -h, --help            show this help message and exit
  -C, --color           Always use color output
  --no-color            Never use color output
  --browser=BROWSER     The browser to use to display CQL help, where BROWSER
                        can be: one of the supported browsers in
                        https://docs.python.org/3/library/webbrowser.html.
  -u USERNAME, --username=USERNAME
                        Authenticate as user.
  -p PASSWORD, --password=PASSWORD
                        Authenticate using password.
  -k KEYSPACE, --keyspace=KEYSPACE
                        Authenticate to the given keyspace.
  --ssl                 Use SSL"""


def o_nomad_acl_token_create():
    return """$ nomad acl token create -h
Usage: nomad acl token create [options]

  Create is used to issue new ACL tokens. Requires a management token.

ACL Token Create Options:

  -name=""
    Sets the human readable name for the ACL token.

  -type="client"
    Sets the type of token. Must be one of "client" (default), or "management".

  -global=false
    Toggles the global mode of the token. Global tokens are replicated to all regions.

  -policy=""
    Specifies a policy to associate with the token. Can be specified multiple times.

  -ttl=""
    Specifies the time-to-live of the created ACL token. This takes the form of a
    time duration such as "5m" and "1h". By default, tokens will be created without a TTL."""


def o_boundary_authenticate():
    return """$ boundary authenticate password -h
Usage: boundary authenticate password [options] [args]

  Invoke the password auth method to authenticate the Boundary CLI:

    $ boundary authenticate password -auth-method-id ampw_1234567890 -login-name foo

Command Options:

  -auth-method-id=<string>
      The auth-method resource to use for the operation.

  -keyring-type=<string>
      The type of keyring to use. Defaults to "auto".

  -login-name=<string>
      The login name corresponding to an account within the given auth method.

  -password=<string>
      The password associated with the login name. This can be a reference to a
      file on disk (file://) or an env var (env://) from which the value will be read."""


def o_rabbitmqadmin_help():
    return """$ rabbitmqadmin --help | sed -n '/General Options/,/--ssl-ca-cert-file/p'
General Options:
  -c CONFIG, --config=CONFIG
                        configuration file [default: ~/.rabbitmqadmin.conf]
  -N NODE, --node=NODE  node described in the configuration file [default: 'default' only if
                        configuration file is specified]
  -H HOST, --host=HOST  connect to host HOST [default: localhost]
  -P PORT, --port=PORT  connect to port PORT [default: 15672]
  -V VHOST, --vhost=VHOST
                        connect to vhost VHOST [default: all vhosts for list, '/' for declare]
  -u USERNAME, --username=USERNAME
                        connect using username USERNAME [default: guest]
  -p PASSWORD, --password=PASSWORD
                        connect using password PASSWORD [default: guest]
  -U URI, --base-uri=URI
                        connect using a base HTTP API URI.
  --ssl-key-file=SSL_KEY_FILE
                        PEM format key file for SSL
  --ssl-ca-cert-file=SSL_CA_CERT_FILE"""


def o_kafka_client_properties_comments():
    return """# client.properties -- connection settings for the CLI tools
# (kafka-console-producer.sh --producer.config client.properties ...)
#
# security.protocol: PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
security.protocol=SASL_SSL
# sasl.mechanism: PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER
sasl.mechanism=SCRAM-SHA-512
# The JAAS line must contain the credentials of the client principal, e.g.
#   org.apache.kafka.common.security.scram.ScramLoginModule required username="<user>" password="<password>";
# Put the real line in client-secrets.properties (not committed) and pass both files.
ssl.truststore.location=/etc/kafka/truststore.jks
# ssl.truststore.password is only needed for JKS stores; PEM truststores need none."""


def o_gcloud_activate_sa():
    return """$ gcloud auth activate-service-account --help | sed -n '/SYNOPSIS/,/FLAGS/p'
SYNOPSIS
    gcloud auth activate-service-account [ACCOUNT] --key-file=KEY_FILE
        [--password-file=PASSWORD_FILE | --prompt-for-password]
        [GCLOUD_WIDE_FLAG ...]

DESCRIPTION
    To allow gcloud (and other tools in Google Cloud CLI) to use service
    account credentials to make requests, use this command to import these
    credentials from a file that contains a private authorization key, and
    activate them for use in gcloud.

    --key-file=KEY_FILE
        Path to the private key file.

    --password-file=PASSWORD_FILE
        Path to a file containing the password for the service account private
        key (only for a .p12 file).

FLAGS"""


def o_az_acr_login():
    return """$ az acr login --help

Command
    az acr login : Log in to an Azure Container Registry through the Docker CLI.
        Docker must be installed on your machine. Once done, use 'docker logout <registry url>' to
        log out. (If you only need an access token and do not want to install Docker, specify
        '--expose-token')

Arguments
    --name -n          [Required] : The name of the container registry.
    --expose-token -t             : Expose access token instead of automatically logging in
                                    through Docker CLI.  Default: False.
    --password -p                 : The password used to log into a container registry.
    --suffix                      : The tenant suffix in registry login server.
    --username -u                 : The username used to log into a container registry."""


def o_aws_ecr_get_login_password():
    return """$ aws ecr get-login-password help | sed -n '/DESCRIPTION/,/OPTIONS/p'
DESCRIPTION
       Retrieves an authentication token using the GetAuthorizationToken API.

       Use this command to authenticate to an Amazon ECR registry. The
       authorization token is valid for 12 hours. Pipe the output to the
       login command of the container client of your choice, for example
       docker login --username AWS --password-stdin <aws_account_id>.dkr.ecr.<region>.amazonaws.com

       The token is printed to standard output and is not stored anywhere by
       this command.

OPTIONS"""


def o_oras_login():
    return """$ oras login --help
Log in to a remote registry

Usage:
  oras login [flags] <registry>

Example - Log in with username and password from command line flags:
  oras login -u username -p password localhost:5000

Example - Log in with username and password from stdin:
  oras login -u username --password-stdin localhost:5000

Example - Log in with identity token from stdin:
  oras login --identity-token-stdin localhost:5000

Flags:
  -p, --password string         registry password or identity token
      --password-stdin          read password or identity token from stdin
      --identity-token string   registry identity token
  -u, --username string         registry username"""


def o_podman_login():
    return """$ podman login --help | grep -E -- '--(authfile|password|password-stdin|username|get-login|secret)'
      --authfile string        path of the authentication file. Use REGISTRY_AUTH_FILE environment variable to override
      --get-login              Return the current login user for the registry
  -p, --password string        Password for registry
      --password-stdin         Take the password from stdin
      --secret string          Retrieve password from a podman secret
  -u, --username string        Username for registry"""


def o_hcloud_context_create():
    return """$ hcloud context create --help
Create a new context

Usage:
  hcloud context create [--token-from-env] <name>

Flags:
  -h, --help             help for create
      --token-from-env   Read the API token from the HCLOUD_TOKEN environment variable

When --token-from-env is not given you are prompted for the token; it is stored
in ~/.config/hcloud/cli.toml with mode 0600."""


def o_terraform_docs_inputs():
    return """## Inputs

| Name | Description | Type | Default | Required |
|------|-------------|------|---------|:--------:|
| <a name="input_admin_password"></a> [admin\\_password](#input\\_admin\\_password) | Initial admin password; leave null to generate one and store it in Secrets Manager. | `string` | `null` | no |
| <a name="input_api_token"></a> [api\\_token](#input\\_api\\_token) | Token for the provider API (sensitive). | `string` | n/a | yes |
| <a name="input_kms_key_arn"></a> [kms\\_key\\_arn](#input\\_kms\\_key\\_arn) | KMS key used to encrypt the secret. | `string` | `null` | no |
| <a name="input_password_length"></a> [password\\_length](#input\\_password\\_length) | Length of the generated password. | `number` | `32` | no |
| <a name="input_rotation_days"></a> [rotation\\_days](#input\\_rotation\\_days) | Days between automatic rotations. | `number` | `30` | no |"""


def o_wp_user_create():
    return """$ wp help user create
NAME

  wp user create

DESCRIPTION

  Creates a new user.

SYNOPSIS

  wp user create <user-login> <user-email> [--role=<role>] [--user_pass=<password>] [--display_name=<name>] [--send-email] [--porcelain]

OPTIONS

  [--user_pass=<password>]
    The user password. Default: randomly generated

  [--send-email]
    Send an email to the user with their new account details."""


def o_lftp_man_user():
    return """$ man lftp | sed -n '/^ *open \\[OPTS\\]/,/^ *-s/p'
       open [OPTS] site
              Select a server by host name, URL or bookmark.

              -e cmd           execute the command just after selecting
              -u user[,pass]   use the user/password for authentication
              -p port          use the port for connection
              -s slot          assign the connection to this slot"""


def o_httpie_auth_help():
    return """$ http --help | sed -n '/^Authentication:/,/^Network:/p'
Authentication:

  --auth USER[:PASS], -a USER[:PASS]
      For username/password based authentication mechanisms (e.g
      basic auth or digest auth) if only the username is provided
      (-a username), HTTPie will prompt for the password.

  --auth-type {basic,bearer,digest}, -A {basic,bearer,digest}
      The authentication mechanism to be used. Defaults to "basic".
      "bearer": Bearer token authentication, use --auth TOKEN.

  --ignore-netrc
      Ignore credentials from .netrc.

Network:"""


def o_sqlplus_usage():
    return """$ sqlplus -H
SQL*Plus: Release 21.0.0.0.0 - Production

Use SQL*Plus to execute SQL, PL/SQL and SQL*Plus statements.

Usage 1: sqlplus -H | -V

Usage 2: sqlplus [ [<option>] [{logon | /nolog}] [<start>] ]

  <logon> is: {<username>[/<password>][@<connect_identifier>] | / }
              [AS {SYSDBA | SYSOPER | SYSASM | SYSBACKUP | SYSDG | SYSKM | SYSRAC}]

    Specifies the database account username, password and connect
    identifier for the database connection.  Without a connect
    identifier, SQL*Plus connects to the default database."""


def o_isql_usage():
    return """$ isql --help
**********************************************
* unixODBC - isql and iusql                  *
**********************************************
* Syntax                                     *
*                                            *
*      isql DSN [UID [PWD]] [options]        *
*                                            *
* Options                                    *
*                                            *
* -b         batch.(no prompting etc)        *
* -v         verbose.                        *
* -k         use SQLDriverConnect            *
* --version  version                         *
*                                            *
* Notes                                      *
*      UID and PWD override the DSN values.  *
**********************************************"""


def o_xfreerdp_help():
    return """$ xfreerdp /help | grep -E '^ *(/u|/p|/d|/pth|/from-stdin|/gateway|/gp|/gu)'
    /d:<domain>               Domain
    /from-stdin[:force]       Read credentials from stdin. With <force> the prompt is done before connection, otherwise on server request.
    /gateway:g:<gateway>[:<port>],u:<user>,d:<domain>,p:<password>,usage-method:[direct|detect]  Gateway Hostname
    /gp:<password>            Gateway password
    /gu:[[<domain>\\]<user>|<user>[@<domain>]]  Gateway username
    /p:<password>             Password
    /pth:<password-hash>      Pass the hash (restricted admin mode)
    /u:[[<domain>\\]<user>|<user>[@<domain>]]  Username"""


def o_openconnect_help():
    return """$ openconnect --help | sed -n '/Authentication/,/Server validation/p'
Authentication (two-phase):
  -C, --cookie=COOKIE             Use authentication cookie COOKIE
      --cookie-on-stdin           Read cookie from standard input
      --authenticate              Authenticate only and print login info
      --cookieonly                Fetch and print cookie only; don't connect
      --printcookie               Print cookie before connecting
  -u, --user=NAME                 Set login username
      --passwd-on-stdin           Read password from standard input
      --token-mode=MODE           Software token type: rsa, totp, hotp or oidc
      --token-secret=STRING       Software token secret or oidc token

Server validation:"""


def o_nmcli_settings_docs():
    return """From nm-settings-nmcli(5):

   802-1x setting
       password: The UTF-8 encoded password used for EAP authentication methods. If both the "password" property
       and the "password-raw" property are specified, "password" is preferred.
       password-flags: Flags indicating how to handle the "password" property. (agent-owned, not-saved, not-required)

   wifi-sec (802-11-wireless-security) setting
       psk: Pre-Shared-Key for WPA networks. For WPA-PSK, it's either an ASCII passphrase of 8 to 63 characters
       that is (as specified in the 802.11i standard) hashed to derive the actual key, or the key in form of 64
       hexadecimal character.
       psk-flags: Flags indicating how to handle the "psk" property."""


def o_wpa_passphrase_usage():
    return """$ wpa_passphrase
usage: wpa_passphrase <ssid> [passphrase]

If passphrase is left out, it will be read from stdin

Tip: run it as `wpa_passphrase "MyNetwork" | sudo tee -a /etc/wpa_supplicant/wpa_supplicant.conf`
and delete the commented #psk="..." line it adds, so the clear-text passphrase is not kept."""


def o_sops_key_flags():
    return """$ sops --help | grep -E -- '--(kms|pgp|age|gcp-kms|azure-kv|hc-vault-transit|encrypted-regex|unencrypted-suffix)'
   --kms value, -k value              comma separated list of KMS ARNs [$SOPS_KMS_ARN]
   --pgp value, -p value              comma separated list of PGP fingerprints [$SOPS_PGP_FP]
   --age value, -a value              comma separated list of age recipients [$SOPS_AGE_RECIPIENTS]
   --gcp-kms value                    comma separated list of GCP KMS resource IDs [$SOPS_GCP_KMS_IDS]
   --azure-kv value                   comma separated list of Azure Key Vault URLs [$SOPS_AZURE_KEYVAULT_URLS]
   --hc-vault-transit value           comma separated list of vault's key URI (e.g. 'https://vault.example.org:8200/v1/transit/keys/dev') [$SOPS_VAULT_URIS]
   --unencrypted-suffix value         override the unencrypted key suffix.
   --encrypted-regex value            set the encrypted key regex. When specified, only keys matching the regex will be encrypted."""


def o_kubectl_create_secret_tls():
    return """$ kubectl create secret tls --help | sed -n '1,/^Options/p;/--cert=/,/--key=/p'
Create a TLS secret from the given public/private key pair.

 The public/private key pair must exist beforehand. The public key certificate must be .PEM encoded and match the
given private key.

Examples:
  # Create a new TLS secret named tls-secret with the given key pair
  kubectl create secret tls tls-secret --cert=path/to/tls.crt --key=path/to/tls.key

Options:
    --cert='':
        Path to PEM encoded public key certificate.

    --key='':
        Path to private key associated with given certificate."""


def o_yarn_npm_login():
    return """$ yarn npm login --help
━━━ Yarn Package Manager ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━

  $ yarn npm login [-s,--scope #0] [--publish] [--always-auth]

━━━ Details ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━

  This command will ask you for your username, password, and 2FA One-Time-Password
  (when it applies). It will then modify your local configuration (in your home
  folder, never in the project itself) to reference the new tokens thus generated.

  Adding the `-s,--scope` flag will cause the authentication to be done against
  whatever registry is configured for the associated scope."""


def o_bunfig_docs_comments():
    return """# bunfig.toml -- registry auth (see https://bun.sh/docs/runtime/bunfig)
[install]
# Default registry. Can be a URL string or an object with token/username/password.
registry = "https://registry.npmjs.org"

[install.scopes]
# Scoped registries. Reference environment variables for the credentials --
# never write the token itself here, this file is committed.
# myorg = { token = "$NPM_TOKEN", url = "https://registry.myorg.com/" }
# other = { username = "$REG_USER", password = "$REG_PASSWORD", url = "https://npm.other.dev/" }"""


def o_deno_auth_tokens_docs():
    return """DENO_AUTH_TOKENS

  A semi-colon separated list of bearer tokens and hostnames to use when fetching
  remote modules from private repositories.

  Format:
    DENO_AUTH_TOKENS=<token>@<hostname>[:<port>];<username>:<password>@<hostname>

  Deno sends `Authorization: Bearer <token>` for the first form and basic auth for
  the second. Set it in your CI secrets, not in deno.json."""


def o_hf_auth_login():
    return """$ hf auth login --help
usage: hf auth login [-h] [--token TOKEN] [--add-to-git-credential]

Log in using a token from huggingface.co/settings/tokens.

options:
  -h, --help            show this help message and exit
  --token TOKEN         Token generated from https://huggingface.co/settings/tokens
  --add-to-git-credential
                        Save to git credential helper. Useful only if you plan to run git commands directly."""


def o_llm_keys_set():
    return """$ llm keys set --help
Usage: llm keys set [OPTIONS] NAME

  Save a key in the keys.json file

  Example usage:

      $ llm keys set openai
      Enter key: ...

Options:
  --value TEXT  Value to set
  --help        Show this message and exit.

$ llm keys path
/home/dev/.config/io.datasette.llm/keys.json"""


def o_aider_help_excerpt():
    return """$ aider --help | sed -n '/API Keys and settings/,/--set-env/p'
API Keys and settings:
  --openai-api-key OPENAI_API_KEY
                        Specify the OpenAI API key [env var: AIDER_OPENAI_API_KEY]
  --anthropic-api-key ANTHROPIC_API_KEY
                        Specify the Anthropic API key [env var: AIDER_ANTHROPIC_API_KEY]
  --openai-api-base OPENAI_API_BASE
                        Specify the api base url [env var: AIDER_OPENAI_API_BASE]
  --api-key PROVIDER=KEY
                        Set an API key for a provider (eg: --api-key provider=<key> sets PROVIDER_API_KEY=<key>) [env var: AIDER_API_KEY]
  --set-env ENV_VAR_NAME=value
                        Set an environment variable (to control API settings, can be used multiple times) [env var: AIDER_SET_ENV]"""


def o_duplicity_env_docs():
    return """ENVIRONMENT VARIABLES (duplicity(1))

   PASSPHRASE
          This passphrase is passed to GnuPG. If this is not set, the user will be prompted for the passphrase.

   SIGN_PASSPHRASE
          The passphrase to be used for --sign-key. If omitted and sign key is also one of the keys to
          encrypt against PASSPHRASE will be reused instead. Otherwise, if passphrase is needed but not
          set the user will be prompted for it.

   FTP_PASSWORD
          Supported by most backends which are password capable."""


def o_keycloak_start_help():
    return """$ bin/kc.sh start --help | grep -A2 -E -- '--(db-password|db-username|https-key-store-password|https-certificate-key-file|bootstrap-admin-password)'
--db-password <password>
                     The password of the database user.
--db-username <username>
                     The username of the database user.
--https-certificate-key-file <file>
                     The file path to a private key in PEM format.
--https-key-store-password <password>
                     The password of the key store file. Default: password."""


def o_jarsigner_help():
    return """$ jarsigner -help 2>&1 | grep -E -- '-(keystore|storepass|storetype|keypass|sigfile|tsa) '
[-keystore <url>]           keystore location
[-storepass <password>]     password for keystore integrity
[-storetype <type>]         keystore type
[-keypass <password>]       password for private key (if different)
[-sigfile <file>]           name of .SF/.DSA file
[-tsa <url>]                location of the Timestamping Authority

Use `-storepass:env STOREPASS` or `-storepass:file path` to keep the password off the command line."""


def o_dotnet_dev_certs():
    return """$ dotnet dev-certs https --help
Usage: dotnet dev-certs https [options]

Options:
  -ep|--export-path  Full path to the exported certificate
  -p|--password      Password to use when exporting the certificate with the private key into a pfx file or to
                     encrypt the Pem exported key
  -np|--no-password  Explicitly request that you don't use a password for the key when exporting a certificate to a
                     PEM format
  -c|--check         Check for the existence of the certificate but do not perform any action
  --clean            Cleans all HTTPS development certificates from the machine.
  --format           Export the certificate in the given format. Valid values are Pfx and Pem. Pfx is the default.
  -t|--trust         Trust the certificate on the current platform."""


def o_signtool_help():
    return """PS> signtool sign /?
Usage: signtool sign [options] <filename(s)>

Use the "sign" command to sign files using embedded signatures. Signing
protects a file from tampering, and allows users to verify the signer.

Certificate selection options:
/f <file>   Specify the signing cert in a file. If this file is a PFX with
            a password, the password may be supplied with the "/p" option.
/p <pass.>  Specify a password to use when opening a PFX file.
/sha1 <h>   Specify the SHA1 thumbprint of the signing cert.
/csp <name> Specify the CSP containing the Private Key Container.
/kc <name>  Specify the Key Container Name of the Private Key."""


def o_gradle_signing_docs():
    return """From the Gradle Signing Plugin docs ("Using Gpg Agent" / "Signatory credentials"):

  signing.keyId             The public key ID (the last 8 symbols of the keyId; `gpg -K` shows it).
  signing.password          The passphrase used to protect your private key.
  signing.secretKeyRingFile The absolute path to the secret key ring file containing your private key.

These go in ~/.gradle/gradle.properties (never the project's gradle.properties), or as
ORG_GRADLE_PROJECT_signingKey / ORG_GRADLE_PROJECT_signingPassword environment variables in CI
when you use useInMemoryPgpKeys(signingKey, signingPassword)."""


def o_typer_rich_help():
    return """$ python -m ops.backup --help

 Usage: python -m ops.backup [OPTIONS] TARGET

 Snapshot a database and upload it to object storage.

╭─ Arguments ──────────────────────────────────────────────────────────────────╮
│ *    target      TEXT  Database URL without credentials [required]           │
╰──────────────────────────────────────────────────────────────────────────────╯
╭─ Options ────────────────────────────────────────────────────────────────────╮
│ *  --password            TEXT     DB password [env var: BACKUP_DB_PASSWORD]  │
│                                   [required]                                 │
│    --encryption-key      PATH     age recipients file [default: ~/.age.pub]  │
│    --token-file          PATH     Read the upload token from this file       │
│    --help                         Show this message and exit.                │
╰──────────────────────────────────────────────────────────────────────────────╯"""


def o_picocli_usage():
    return """$ java -jar importer.jar --help
Usage: importer [-hV] [--dry-run] --url=<jdbcUrl> --user=<user>
                [--password[=<password>]] [--api-token-file=<tokenFile>]
Imports partner CSV exports into the warehouse.
      --api-token-file=<tokenFile>
                           File containing the partner API token
      --dry-run            Parse and validate only
  -h, --help               Show this help message and exit.
      --password[=<password>]
                           Database password (prompted interactively if no value is given)
      --url=<jdbcUrl>      JDBC URL of the warehouse
      --user=<user>        Database user
  -V, --version            Print version information and exit."""


def o_go_flag_usage():
    return """$ ./server -h
Usage of ./server:
  -addr string
    	listen address (default ":8080")
  -db-dsn string
    	postgres DSN; the password is read from -db-password-file
  -db-password-file string
    	path to a file holding the database password (default "/run/secrets/db_password")
  -jwt-secret-file string
    	file with the HMAC secret for session tokens (env JWT_SECRET_FILE)
  -token-ttl duration
    	lifetime of issued access tokens (default 15m0s)"""


def o_yargs_help():
    return """$ npx release-notes --help
Options:
      --help     Show help                                                 [boolean]
      --version  Show version number                                       [boolean]
  -r, --repo     owner/name of the GitHub repository             [string] [required]
  -t, --token    GitHub token with contents:read (defaults to $GITHUB_TOKEN)  [string]
      --from     tag to start from                                          [string]
      --to       tag to end at                                [string] [default: "HEAD"]"""


def o_bitnami_postgres_env_docs():
    return """### Environment variables (bitnami/postgresql)

| Name | Description | Default Value |
|------|-------------|---------------|
| `POSTGRESQL_USERNAME` | PostgreSQL admin user. | `postgres` |
| `POSTGRESQL_PASSWORD` | Password for the PostgreSQL created user. | `nil` |
| `POSTGRESQL_PASSWORD_FILE` | Path to a file that contains the PostgreSQL user password. This will override the value specified in `POSTGRESQL_PASSWORD`. | `nil` |
| `POSTGRESQL_POSTGRES_PASSWORD` | Password for the PostgreSQL postgres user. | `nil` |
| `POSTGRESQL_REPLICATION_PASSWORD` | Password for the PostgreSQL replication user. | `nil` |
| `ALLOW_EMPTY_PASSWORD` | Allow PostgreSQL access without any password. | `no` |"""


def o_systemd_loadcredential_man():
    return """From systemd.exec(5):

   LoadCredential=ID[:PATH], LoadCredentialEncrypted=ID[:PATH]
       Pass a credential to the unit. Credentials are limited-size binary or textual objects that
       may be passed to unit processes. They are primarily used for passing cryptographic keys
       (both public and private) or certificates, user account information or identity
       information from host to services. The data is accessible from the unit's processes via
       the file system, at a read-only location that (if possible and permitted) is backed by
       non-swappable memory. The $CREDENTIALS_DIRECTORY environment variable is set to the
       directory path."""


def o_git_crypt_help():
    return """$ git-crypt help
Usage: git-crypt COMMAND [ARGS ...]

Common commands:
  init                 generate a key and prepare repo to use git-crypt
  status               display which files are encrypted
  lock                 de-configure git-crypt and re-encrypt files in work tree

GPG commands:
  add-gpg-user USERID  add the user with the given GPG user ID as a collaborator
  unlock               decrypt this repo using a GPG key

Symmetric key commands:
  export-key FILE      export this repo's symmetric key to the given file
  unlock KEYFILE       decrypt this repo using the given symmetric key"""


def o_nextcloud_occ_resetpassword():
    return """$ sudo -u www-data php occ user:resetpassword --help
Description:
  Resets the password of the named user

Usage:
  user:resetpassword [options] [--] <user>

Arguments:
  user                       Username to reset password

Options:
      --password-from-env    read password from environment variable OC_PASS"""


def o_pgadmin_config_comments():
    return """# config_local.py (pgAdmin 4) -- overrides for config.py
#
# MASTER_PASSWORD_REQUIRED: when True, pgAdmin asks for a master password that is
# used to encrypt the saved server passwords. Set to False only for single-user
# desktop mode.
MASTER_PASSWORD_REQUIRED = True
#
# PASSWORD_LENGTH_MIN: minimum length of a pgAdmin login password.
PASSWORD_LENGTH_MIN = 12
#
# SECRET_KEY is generated on first start and stored in the configuration database;
# do not set it here."""


def o_clap_style_help():
    return """$ keyvault-sync --help
Sync secrets from Vault into Kubernetes Secrets

Usage: keyvault-sync [OPTIONS] --vault-addr <URL> <PATH>...

Arguments:
  <PATH>...  Vault KV paths to sync (e.g. secret/data/payments)

Options:
      --vault-addr <URL>          Vault address [env: VAULT_ADDR=]
      --token-file <FILE>         File holding a Vault token [env: VAULT_TOKEN_FILE=]
      --role <ROLE>               Kubernetes auth role; used when no token file is given
      --namespace <NS>            Target namespace [default: default]
      --dry-run                   Print the Secrets instead of applying them
  -h, --help                      Print help
  -V, --version                   Print version"""


OPTION_DOCS = [o_clap_style_help, o_cqlsh_help, o_nomad_acl_token_create, o_boundary_authenticate, o_rabbitmqadmin_help,
               o_kafka_client_properties_comments, o_gcloud_activate_sa, o_az_acr_login, o_aws_ecr_get_login_password,
               o_oras_login, o_podman_login, o_hcloud_context_create, o_terraform_docs_inputs, o_wp_user_create,
               o_lftp_man_user, o_httpie_auth_help, o_sqlplus_usage, o_isql_usage, o_xfreerdp_help,
               o_openconnect_help, o_nmcli_settings_docs, o_wpa_passphrase_usage, o_sops_key_flags,
               o_kubectl_create_secret_tls, o_yarn_npm_login, o_bunfig_docs_comments, o_deno_auth_tokens_docs,
               o_hf_auth_login, o_llm_keys_set, o_aider_help_excerpt, o_duplicity_env_docs, o_keycloak_start_help,
               o_jarsigner_help, o_dotnet_dev_certs, o_signtool_help, o_gradle_signing_docs, o_typer_rich_help,
               o_picocli_usage, o_go_flag_usage, o_yargs_help, o_bitnami_postgres_env_docs,
               o_systemd_loadcredential_man, o_git_crypt_help, o_nextcloud_occ_resetpassword,
               o_pgadmin_config_comments]

OPTION_LEADS = ["", "", "", "", "", "which of these flags keeps the secret out of `ps` output?\n\n",
                "for reference, the help text:\n\n", "Tool output:\n", "I only want the non-interactive variant, "
                                                                      "here's what the CLI says:\n\n"]


# ================================================================ CLEAN: infra_ids
def s3_version_id():
    return mixed(32, ALNUM + "._")


def i_s3_object_versions():
    key = "exports/%s/secrets-inventory.csv" % date()
    vs = []
    for n in range(3):
        vs.append({"ETag": '"%s"' % hx(32), "Size": rint(1000, 90000), "StorageClass": "STANDARD", "Key": key,
                   "VersionId": s3_version_id(), "IsLatest": n == 0, "LastModified": ts()[:19] + "+00:00",
                   "Owner": {"ID": hx(64)}})
    return "$ aws s3api list-object-versions --bucket %s-%s --prefix %s\n" % (org(), pick(BUCKETS), key) + json.dumps(
        {"Versions": vs, "RequestCharged": None}, indent=4)


def i_az_activity_log():
    sub = uid()
    ev = [{"correlationId": uid(), "eventDataId": uid(), "operationId": uid(),
           "operationName": {"value": pick(["Microsoft.KeyVault/vaults/secrets/write",
                                            "Microsoft.Compute/virtualMachines/start/action"])},
           "resourceId": "/subscriptions/%s/resourceGroups/rg-%s/providers/Microsoft.KeyVault/vaults/kv-%s" % (
               sub, pick(SERVICES), org()), "status": {"value": "Succeeded"}, "eventTimestamp": ts()} for _ in range(2)]
    return "$ az monitor activity-log list --offset 1h --query '[].{correlationId:correlationId,eventDataId:eventDataId,operationId:operationId,operationName:operationName,resourceId:resourceId,status:status,eventTimestamp:eventTimestamp}'\n" + json.dumps(ev, indent=2)


def i_kubectl_describe_node():
    n = "ip-10-0-%d-%d.%s.compute.internal" % (rint(0, 9), rint(2, 250), pick(REGIONS))
    return fill("""$ kubectl describe node @@n@@ | sed -n '/ProviderID/p;/System Info/,/Kube-Proxy/p'
ProviderID:                   aws:///@@az@@/i-0@@iid@@
System Info:
  Machine ID:                 @@mid@@
  System UUID:                @@su@@
  Boot ID:                    @@bid@@
  Kernel Version:             6.1.@@kv@@-@@kb@@.amzn2023.x86_64
  OS Image:                   Amazon Linux 2023.6.20241121
  Operating System:           linux
  Architecture:               amd64
  Container Runtime Version:  containerd://1.7.23
  Kubelet Version:            v1.31.2-eks-@@e@@
  Kube-Proxy Version:         v1.31.2-eks-@@e@@""", n=n, az=pick(REGIONS) + "b", iid=hx(16), mid=hx(32),
                su="ec2" + hx(5) + "-" + hx(4) + "-" + hx(4) + "-" + hx(4) + "-" + hx(12), bid=uid(),
                kv=str(rint(100, 130)), kb=str(rint(100, 199)), e=hx(7))


def i_kubectl_pod_status_yaml():
    s = pick(SERVICES)
    return fill("""$ kubectl get pod @@s@@-@@rs@@-@@p@@ -o yaml | yq '.metadata.uid, .status.containerStatuses'
@@uid@@
- containerID: containerd://@@c1@@
  image: ghcr.io/@@o@@/@@s@@:@@v@@
  imageID: ghcr.io/@@o@@/@@s@@@sha256:@@d1@@
  lastState: {}
  name: app
  ready: true
  restartCount: 0
  started: true
- containerID: containerd://@@c2@@
  image: docker.io/hashicorp/vault:1.18
  imageID: docker.io/hashicorp/vault@sha256:@@d2@@
  name: vault-agent
  ready: true
  restartCount: 1""", s=s, rs=hx(10), p=rs(5, LOAL), uid=uid(), c1=hx(64), o=org(), v=ver(), d1=hx(64), c2=hx(64),
                d2=hx(64))


def i_docker_ps_no_trunc():
    rows = []
    for name in ["api", "worker", "vault-agent"]:
        rows.append("%s   %s   \"/entrypoint.sh\"   %d hours ago   Up %d hours   %s-%s-1" % (
            hx(64), "sha256:" + hx(64) if name == "vault-agent" else "ghcr.io/%s/%s:%s" % (org(), name, ver()),
            rint(2, 9), rint(1, 2), pick(REPOS), name))
    return "$ docker ps --no-trunc --format '{{.ID}}   {{.Image}}   {{.Command}}   {{.RunningFor}}   {{.Status}}   {{.Names}}'\n" + "\n".join(rows)


def i_docker_history():
    lines = ["IMAGE                                                                     CREATED        CREATED BY                                        SIZE"]
    for cmd, size in [("CMD [\"node\" \"dist/server.js\"]", "0B"), ("COPY dist ./dist # buildkit", "4.1MB"),
                      ("RUN /bin/sh -c npm ci --omit=dev # buildkit", "61.3MB"), ("WORKDIR /app", "0B")]:
        lines.append("sha256:%s   %d days ago   %-48s  %s" % (hx(64), rint(1, 20), cmd, size))
    lines.append("<missing>                                                                 3 weeks ago    /bin/sh -c #(nop) ADD file:%s in /   7.8MB" % hx(64))
    return "$ docker history --no-trunc --format 'table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}' %s/api:latest\n" % org() + "\n".join(lines)


def i_crictl_images_digests():
    rows = ["IMAGE                                     TAG        DIGEST          IMAGE ID        SIZE"]
    for img, tag in [("registry.k8s.io/pause", "3.10"), ("quay.io/jetstack/cert-manager-controller", "v1.16.2"),
                     ("docker.io/bitnami/sealed-secrets-controller", "0.27.3"), ("ghcr.io/%s/auth-gateway" % org(), ver())]:
        rows.append("%-41s %-10s %-15s %-15s %dMB" % (img, tag, hx(13), hx(13), rint(1, 90)))
    return "$ sudo crictl images --digests\n" + "\n".join(rows)


def i_flake_lock():
    def node(owner, repo):
        return {"locked": {"lastModified": epoch(), "narHash": "sha256-" + b64e(rbytes(32)), "owner": owner,
                           "repo": repo, "rev": git_sha(), "type": "github"},
                "original": {"owner": owner, "ref": "nixos-unstable" if repo == "nixpkgs" else "main", "repo": repo,
                             "type": "github"}}
    return "$ cat flake.lock\n" + json.dumps({"nodes": {"nixpkgs": node("NixOS", "nixpkgs"),
                                                         "rust-overlay": node("oxalica", "rust-overlay"),
                                                         "root": {"inputs": {"nixpkgs": "nixpkgs",
                                                                             "rust-overlay": "rust-overlay"}}},
                                               "root": "root", "version": 7}, indent=2)


def i_cargo_checksum_json():
    files = {f: hx(64) for f in ["Cargo.toml", "README.md", "src/lib.rs", "src/hmac.rs", "src/key.rs", "tests/kat.rs"]}
    return "$ cat vendor/hmac-0.12.1/.cargo-checksum.json | jq .\n" + json.dumps({"files": files, "package": hx(64)}, indent=2)


def i_bun_lock():
    pk = [("jose", "5.9.6"), ("bcryptjs", "2.4.3"), ("@auth/core", "0.37.4")]
    lines = ["  \"packages\": {"]
    for n, v in pk:
        lines.append('    "%s": ["%s@%s", "", {}, "sha512-%s"],' % (n, n, v, b64e(rbytes(64))))
    lines.append("  }")
    return "$ sed -n '/\"packages\"/,/^  }/p' bun.lock\n" + "\n".join(lines)


def i_conda_lock():
    out = ["package:"]
    for n, v in [("openssl", "3.4.0"), ("cryptography", "44.0.0"), ("keyring", "25.5.0")]:
        out += ["- name: %s" % n, "  version: %s" % v, "  manager: conda", "  platform: linux-64",
                "  url: https://conda.anaconda.org/conda-forge/linux-64/%s-%s-h%s_0.conda" % (n, v, hx(7)),
                "  hash:", "    md5: %s" % hx(32), "    sha256: %s" % hx(64)]
    return "$ head -n 25 conda-lock.yml\n" + "\n".join(out)


def i_pipfile_lock():
    return "$ jq '{_meta: ._meta.hash, pyjwt: .default.pyjwt, keyring: .default.keyring}' Pipfile.lock\n" + json.dumps({
        "_meta": {"sha256": hx(64)},
        "pyjwt": {"hashes": ["sha256:" + hx(64), "sha256:" + hx(64)], "markers": "python_version >= '3.9'",
                  "version": "==2.10.1"},
        "keyring": {"hashes": ["sha256:" + hx(64), "sha256:" + hx(64)], "version": "==25.5.0"}}, indent=4)


def i_pubspec_lock():
    out = ["packages:"]
    for n, v in [("flutter_secure_storage", "9.2.2"), ("crypto", "3.0.6"), ("jwt_decoder", "2.0.1")]:
        out += ["  %s:" % n, "    dependency: \"direct main\"", "    description:", "      name: %s" % n,
                "      sha256: \"%s\"" % hx(64), "      url: \"https://pub.dev\"", "    source: hosted",
                "    version: \"%s\"" % v]
    return "$ sed -n '1,25p' pubspec.lock\n" + "\n".join(out)


def i_gradle_verification_metadata():
    out = ['<verification-metadata xmlns="https://schema.gradle.org/dependency-verification">',
           "   <configuration>", "      <verify-metadata>true</verify-metadata>", "      <verify-signatures>false</verify-signatures>",
           "   </configuration>", "   <components>"]
    for g, a, v in [("io.jsonwebtoken", "jjwt-api", "0.12.6"), ("org.bouncycastle", "bcprov-jdk18on", "1.79")]:
        out += ['      <component group="%s" name="%s" version="%s">' % (g, a, v),
                '         <artifact name="%s-%s.jar">' % (a, v),
                '            <sha256 value="%s" origin="Generated by Gradle"/>' % hx(64),
                "         </artifact>", "      </component>"]
    out += ["   </components>", "</verification-metadata>"]
    return "\n".join(out)


def i_terraform_import():
    b = "%s-%s" % (org(), pick(BUCKETS))
    return fill("""$ terraform import aws_kms_key.logs @@k@@
aws_kms_key.logs: Importing from ID "@@k@@"...
aws_kms_key.logs: Import prepared!
  Prepared aws_kms_key for import
aws_kms_key.logs: Refreshing state... [id=@@k@@]

Import successful!

The resources that were imported are shown above. These resources are now in
your Terraform state and will henceforth be managed by Terraform.

$ terraform state list | grep -E 'kms|s3'
aws_kms_alias.logs
aws_kms_key.logs
aws_s3_bucket.logs
aws_s3_bucket_server_side_encryption_configuration.logs
$ terraform state show aws_s3_bucket.logs | grep -E '^ +(id|arn|hosted_zone_id) '
    arn                         = "arn:aws:s3:::@@b@@"
    hosted_zone_id              = "Z@@z@@"
    id                          = "@@b@@\"""", k=uid(), b=b, z=rs(13, UPAL))


def i_cdk_deploy_outputs():
    st = "%sStack" % pick(["Api", "Ingest", "Edge"])
    r, a = pick(REGIONS), acct()
    return fill("""$ npx cdk deploy @@st@@ --require-approval never
✨  Synthesis time: 6.1s
@@st@@: deploying... [1/1]
@@st@@: creating CloudFormation changeset...

 ✅  @@st@@

✨  Deployment time: 84.32s

Outputs:
@@st@@.ApiEndpoint@@h1@@ = https://@@gw@@.execute-api.@@r@@.amazonaws.com/prod/
@@st@@.SecretArn = arn:aws:secretsmanager:@@r@@:@@a@@:secret:@@st@@DbSecret@@h2@@-@@sfx@@
@@st@@.TableName = @@st@@-Events@@h3@@-@@t@@
Stack ARN:
arn:aws:cloudformation:@@r@@:@@a@@:stack/@@st@@/@@u@@""", st=st, h1=hxu(8), gw=rs(10, LOAL), r=r, a=a, h2=hxu(8),
                sfx=mixed(6), h3=hxu(8), t=rs(12, UPAL), u=uid())


def i_git_ls_remote_tags():
    rows = ["%s\trefs/tags/v%s" % (git_sha(), ver()) for _ in range(4)]
    rows += ["%s\trefs/tags/v%s^{}" % (git_sha(), ver())]
    return "$ git ls-remote --tags origin | tail -5\n" + "\n".join(rows)


def i_git_fsck_bisect():
    g, b = git_sha(), git_sha()
    return fill("""$ git fsck --lost-found
Checking object directories: 100% (256/256), done.
dangling commit @@d1@@
dangling blob @@d2@@
$ git bisect log
git bisect start
# status: waiting for both good and bad commits
# bad: [@@b@@] fix(auth): refresh token before expiry
git bisect bad @@b@@
# good: [@@g@@] chore: bump jose to 5.9
git bisect good @@g@@
# first bad commit: [@@b@@] fix(auth): refresh token before expiry""", d1=git_sha(), d2=git_sha(), b=b, g=g)


def i_gh_run_list_json():
    runs = [{"databaseId": rint(10 ** 10, 2 * 10 ** 10), "headSha": git_sha(), "name": pick(["ci", "release", "secret-scan"]),
             "status": "completed", "conclusion": pick(["success", "failure"]), "event": "push",
             "createdAt": ts()[:19] + "Z"} for _ in range(3)]
    return "$ gh run list --limit 3 --json databaseId,headSha,name,status,conclusion,event,createdAt\n" + json.dumps(runs, indent=2)


def i_s3_error_xml():
    return fill("""botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied

DEBUG response body:
<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>@@rid@@</RequestId><HostId>@@hid@@</HostId></Error>""",
                rid=rs(16, UPAL), hid=b64e(rbytes(57)))


def i_curl_trace_headers():
    tp = "00-%s-%s-01" % (hx(32), hx(16))
    return fill("""$ curl -sv -H "traceparent: @@tp@@" https://cdn.@@o@@.io/assets/app.js -o /dev/null 2>&1 | grep -iE '^[<>] (traceparent|x-amz-cf-id|x-amz-cf-pop|cf-ray|x-cache|etag|age)'
> traceparent: @@tp@@
< etag: "@@et@@"
< x-cache: Hit from cloudfront
< x-amz-cf-pop: FRA56-P@@pop@@
< x-amz-cf-id: @@cf@@==
< age: @@age@@""", tp=tp, o=org(), et=hx(32), pop=str(rint(1, 9)), cf=mixed(54, ALNUM + "-_"), age=str(rint(10, 9000)))


def i_gcp_log_entry():
    proj = "%s-prod" % org()
    return json.dumps({"insertId": rs(14, LOAL) + "_" + rs(6, LOAL), "httpRequest": {
        "requestMethod": "POST", "requestUrl": "https://api.%s.io/v1/tokens/refresh" % org(), "status": 200,
        "latency": "0.0%ds" % rint(10, 99)}, "resource": {"type": "cloud_run_revision",
                                                          "labels": {"service_name": pick(SERVICES),
                                                                     "revision_name": "%s-000%d-%s" % (pick(SERVICES), rint(10, 99), rs(3, LOAL))}},
        "timestamp": ts(), "severity": "INFO", "trace": "projects/%s/traces/%s" % (proj, hx(32)),
        "spanId": str(rint(10 ** 18, 9 * 10 ** 18)), "traceSampled": True}, indent=2)


def i_rclone_hashsum():
    files = ["backup-%s.tar.zst" % date() for _ in range(3)]
    return "$ rclone hashsum md5 b2:%s-backups/db/ --max-depth 1\n" % org() + "\n".join(
        "%s  %s" % (hx(32), f) for f in files) + "\n$ rclone hashsum sha1 b2:%s-backups/db/%s\n%s  %s" % (
        org(), files[0], hx(40), files[0])


def i_powershell_get_filehash():
    return fill("""PS C:\\build> Get-FileHash .\\out\\Setup-@@v@@.msi, .\\out\\Setup-@@v@@.msi.sig -Algorithm SHA256 | Format-List

Algorithm : SHA256
Hash      : @@h1@@
Path      : C:\\build\\out\\Setup-@@v@@.msi

Algorithm : SHA256
Hash      : @@h2@@
Path      : C:\\build\\out\\Setup-@@v@@.msi.sig""", v=ver(), h1=hxu(64), h2=hxu(64))


def i_openssl_dgst():
    return fill("""$ openssl dgst -sha256 dist/*.whl
SHA2-256(dist/keyring_helper-@@v@@-py3-none-any.whl)= @@h1@@
SHA2-256(dist/keyring_helper-@@v@@-cp312-cp312-manylinux_2_28_x86_64.whl)= @@h2@@""", v=ver(), h1=hx(64), h2=hx(64))


def i_docker_manifest_inspect():
    return "$ docker manifest inspect -v ghcr.io/%s/auth-gateway:%s | jq '.[0].OCIManifest | {config, layers}'\n" % (
        org(), ver()) + json.dumps({"config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                               "digest": "sha256:" + hx(64), "size": rint(1000, 9000)},
                                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                                "digest": "sha256:" + hx(64), "size": rint(10 ** 5, 10 ** 7)}
                                               for _ in range(3)]}, indent=2)


def i_argocd_flux_revisions():
    return fill("""$ argocd app get @@s@@-prod | sed -n '1,12p'
Name:               argocd/@@s@@-prod
Project:            default
Server:             https://kubernetes.default.svc
Namespace:          @@s@@
Repo:               https://github.com/@@o@@/deploy.git
Target:             main
Path:               apps/@@s@@/overlays/prod
Sync Status:        Synced to main (@@sh@@)
Health Status:      Healthy
$ flux get kustomizations -A | head -3
NAMESPACE  	NAME     	REVISION                                     	SUSPENDED	READY	MESSAGE
flux-system	infra    	main@sha1:@@r1@@	False    	True 	Applied revision: main@sha1:@@r1@@
flux-system	secrets  	main@sha1:@@r1@@	False    	True 	Applied revision: main@sha1:@@r1@@""", s=pick(SERVICES),
                o=org(), sh=short_sha(), r1=git_sha())


def i_aws_org_accounts():
    return "$ aws organizations list-accounts --query 'Accounts[].{Id:Id,Arn:Arn,Name:Name,Status:Status}' --output json\n" + json.dumps(
        [{"Id": a, "Arn": "arn:aws:organizations::%s:account/o-%s/%s" % (m, o, a), "Name": n, "Status": "ACTIVE"}
         for m, o in [(acct(), rs(10, LOAL))] for a, n in [(acct(), "security"), (acct(), "log-archive"), (acct(), "prod")]],
        indent=2)


def i_aws_describe_images():
    return "$ aws ec2 describe-images --owners self --query 'Images[].{ImageId:ImageId,Name:Name,Snap:BlockDeviceMappings[0].Ebs.SnapshotId,Created:CreationDate}'\n" + json.dumps(
        [{"ImageId": "ami-0" + hx(16), "Name": "golden-al2023-%s" % date().replace("-", ""),
          "Snap": "snap-0" + hx(16), "Created": ts()} for _ in range(2)], indent=4)


def i_aws_kms_keys_aliases():
    ks = [uid() for _ in range(3)]
    r, a = pick(REGIONS), acct()
    return "$ aws kms list-keys --output json\n" + json.dumps(
        {"Keys": [{"KeyId": k, "KeyArn": "arn:aws:kms:%s:%s:key/%s" % (r, a, k)} for k in ks]}, indent=4) + \
        "\n$ aws kms list-aliases --query 'Aliases[?starts_with(AliasName, `alias/app`)].[AliasName,TargetKeyId]' --output text\n" + \
        "\n".join("alias/app-%s\t%s" % (n, k) for n, k in zip(["tokens", "backups", "pii"], ks))


def i_iam_ssh_public_keys():
    u = pick(USERS)
    return "$ aws iam list-ssh-public-keys --user-name %s\n" % u + json.dumps({"SSHPublicKeys": [
        {"UserName": u, "SSHPublicKeyId": "APKA" + rs(16, UPAL), "Status": "Active", "UploadDate": ts()[:19] + "+00:00"}
        for _ in range(2)]}, indent=4) + "\n(these are for CodeCommit over SSH; the ids go in ~/.ssh/config as User)"


def i_ansible_copy_output():
    return fill("""TASK [nginx : install TLS certificate] *****************************************
changed: [web-01] => {"changed": true, "checksum": "@@c@@", "dest": "/etc/nginx/tls/site.crt", "gid": 0, "group": "root", "md5sum": "@@m@@", "mode": "0644", "owner": "root", "size": 2114, "src": "/home/deploy/.ansible/tmp/ansible-tmp-@@t@@-@@p@@-@@r@@/source", "state": "file", "uid": 0}
ok: [web-02] => {"changed": false, "checksum": "@@c@@", "dest": "/etc/nginx/tls/site.crt", "mode": "0644", "path": "/etc/nginx/tls/site.crt", "size": 2114, "state": "file"}""",
                c=hx(40), m=hx(32), t="%d.%d" % (epoch(), rint(10 ** 5, 10 ** 6)), p=str(rint(1000, 99999)),
                r=str(rint(10 ** 14, 10 ** 15)))


def i_bazel_http_archive():
    return fill("""# MODULE.bazel / WORKSPACE excerpt
http_archive(
    name = "boringssl",
    sha256 = "@@a@@",
    strip_prefix = "boringssl-@@c@@",
    urls = ["https://github.com/google/boringssl/archive/@@c@@.tar.gz"],
)

http_archive(
    name = "com_github_grpc_grpc",
    integrity = "sha256-@@i@@",
    strip_prefix = "grpc-1.68.1",
    urls = ["https://github.com/grpc/grpc/archive/v1.68.1.tar.gz"],
)""", a=hx(64), c=git_sha(), i=b64e(rbytes(32)))


def i_homebrew_formula():
    return fill("""class Vaultenv < Formula
  desc "Run processes with secrets from a vault, without writing them to disk"
  homepage "https://github.com/@@o@@/vaultenv"
  url "https://github.com/@@o@@/vaultenv/archive/refs/tags/v@@v@@.tar.gz"
  sha256 "@@s@@"
  license "MIT"

  bottle do
    sha256 cellar: :any_skip_relocation, arm64_sequoia: "@@b1@@"
    sha256 cellar: :any_skip_relocation, arm64_sonoma:  "@@b2@@"
    sha256 cellar: :any_skip_relocation, x86_64_linux:  "@@b3@@"
  end
end""", o=org(), v=ver(), s=hx(64), b1=hx(64), b2=hx(64), b3=hx(64))


def i_pkgbuild_sums():
    return fill("""pkgname=age-plugin-yubikey
pkgver=@@v@@
pkgrel=1
arch=('x86_64' 'aarch64')
source=("$pkgname-$pkgver.tar.gz::https://github.com/str4d/$pkgname/archive/v$pkgver.tar.gz")
sha256sums=('@@s1@@')
b2sums=('@@b2@@')""", v=ver(), s1=hx(64), b2=hx(128))


def i_dvc_lock():
    return fill("""$ cat dvc.lock
schema: '2.0'
stages:
  featurize:
    cmd: python src/featurize.py data/raw data/features
    deps:
    - path: data/raw
      hash: md5
      md5: @@m1@@.dir
      size: @@s1@@
      nfiles: @@n1@@
    - path: src/featurize.py
      hash: md5
      md5: @@m2@@
      size: 3114
    outs:
    - path: data/features
      hash: md5
      md5: @@m3@@.dir
      size: @@s3@@
      nfiles: 2""", m1=hx(32), s1=str(rint(10 ** 7, 10 ** 9)), n1=str(rint(100, 9000)), m2=hx(32), m3=hx(32),
                s3=str(rint(10 ** 6, 10 ** 8)))


def i_mlflow_runs():
    rows = ["run_id                            experiment_id  status    start_time                 params.lr  metrics.auc"]
    for _ in range(3):
        rows.append("%s  %d             FINISHED  %s  %.0e     %.4f" % (hx(32), rint(1, 40), ts()[:23], pick([1e-3, 3e-4, 1e-4]),
                                                                    0.8 + R.random() / 10))
    return "$ mlflow runs list --experiment-id %d\n" % rint(1, 40) + "\n".join(rows) + \
        "\nartifact_uri: s3://%s-mlflow/%d/%s/artifacts" % (org(), rint(1, 40), hx(32))


def i_terraform_plan_replace():
    r, a = pick(REGIONS), acct()
    return fill("""$ terraform plan -target=aws_secretsmanager_secret_version.db
aws_secretsmanager_secret.db: Refreshing state... [id=arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/db-@@s@@]
aws_secretsmanager_secret_version.db: Refreshing state... [id=arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/db-@@s@@|@@v@@]

Terraform will perform the following actions:

  # aws_secretsmanager_secret_version.db must be replaced
-/+ resource "aws_secretsmanager_secret_version" "db" {
      ~ arn            = "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/db-@@s@@" -> (known after apply)
      ~ id             = "arn:aws:secretsmanager:@@r@@:@@a@@:secret:prod/db-@@s@@|@@v@@" -> (known after apply)
      ~ secret_string  = (sensitive value) # forces replacement
      ~ version_id     = "@@v@@" -> (known after apply)
      ~ version_stages = [
          - "AWSCURRENT",
        ] -> (known after apply)
        # (1 unchanged attribute hidden)
    }

Plan: 1 to add, 0 to change, 1 to destroy.""", r=r, a=a, s=mixed(6), v=uid())


def i_go_mod_download_json():
    mods = [("github.com/golang-jwt/jwt/v5", "v5.2.1"), ("golang.org/x/crypto", "v0.31.0")]
    out = []
    for m, v in mods:
        out.append(json.dumps({"Path": m, "Version": v, "Info": "/home/dev/go/pkg/mod/cache/download/%s/@v/%s.info" % (m, v),
                               "Sum": "h1:" + b64e(rbytes(32)), "GoModSum": "h1:" + b64e(rbytes(32))}, indent="\t"))
    return "$ go mod download -json github.com/golang-jwt/jwt/v5 golang.org/x/crypto\n" + "\n".join(out)


def i_git_log_graph():
    msgs = ["Merge pull request #%d from %s/feat/api-key-scopes" % (rint(100, 999), org()), "feat(keys): scope checks",
            "fix(auth): compare token hashes in constant time", "Merge branch 'main' into feat/api-key-scopes",
            "chore(deps): bump golang.org/x/crypto"]
    shapes = ["*   ", "|\\  ", "| * ", "| * ", "* | "]
    return "$ git log --graph --format='%h %an %s' -5\n" + "\n".join(
        "%s%s %s %s" % (sh, short_sha(), pick(NAMES).split()[0], m) for sh, m in zip(shapes, msgs))


INFRA_IDS = [i_terraform_plan_replace, i_go_mod_download_json, i_git_log_graph, i_s3_object_versions, i_az_activity_log, i_kubectl_describe_node, i_kubectl_pod_status_yaml,
             i_docker_ps_no_trunc, i_docker_history, i_crictl_images_digests, i_flake_lock, i_cargo_checksum_json,
             i_bun_lock, i_conda_lock, i_pipfile_lock, i_pubspec_lock, i_gradle_verification_metadata,
             i_terraform_import, i_cdk_deploy_outputs, i_git_ls_remote_tags, i_git_fsck_bisect, i_gh_run_list_json,
             i_s3_error_xml, i_curl_trace_headers, i_gcp_log_entry, i_rclone_hashsum, i_powershell_get_filehash,
             i_openssl_dgst, i_docker_manifest_inspect, i_argocd_flux_revisions, i_aws_org_accounts,
             i_aws_describe_images, i_aws_kms_keys_aliases, i_iam_ssh_public_keys, i_ansible_copy_output,
             i_bazel_http_archive, i_homebrew_formula, i_pkgbuild_sums, i_dvc_lock, i_mlflow_runs]


# ================================================================ CLEAN: secret_word_identifiers
def s_rustc_secretstring():
    return """$ cargo build
   Compiling auth-core v0.4.0 (/work/auth-core)
error[E0599]: no method named `expose_secret` found for struct `SecretString` in the current scope
  --> src/credentials/store.rs:58:37
   |
58 |         let raw = self.api_key_secret.expose_secret();
   |                                       ^^^^^^^^^^^^^ method not found in `SecretString`
   |
   = help: items from traits can only be used if the trait is in scope
help: trait `ExposeSecret` which provides `expose_secret` is implemented but not in scope; perhaps you want to import it
   |
1  + use secrecy::ExposeSecret;
   |

warning: unused variable: `password_hash`
  --> src/credentials/verify.rs:21:9
   |
21 |     let password_hash = row.get::<_, String>("password_hash");
   |         ^^^^^^^^^^^^^ help: if this is intentional, prefix it with an underscore: `_password_hash`"""


def s_swift_keychain_error():
    return """/Users/dev/src/ios-app/Sources/Auth/SessionManager.swift:44:27: error: value of optional type 'String?' must be unwrapped to a value of type 'String'
        let token: String = keychain.get("authToken")
                          ^~~~~~~~~~~~~~~~~~~~~~~~~~
/Users/dev/src/ios-app/Sources/Auth/SessionManager.swift:44:27: note: coalesce using '??' to provide a default when the optional value contains 'nil'
        let token: String = keychain.get("authToken")
                          ^
                                                      ?? <#default value#>
/Users/dev/src/ios-app/Sources/Auth/SessionManager.swift:51:14: warning: initialization of immutable value 'refreshTokenExpiry' was never used"""


def s_golangci_lint():
    return """$ golangci-lint run ./...
internal/auth/apikeys.go:17:2: var-naming: struct field apiKeyId should be apiKeyID (revive)
	apiKeyId   string
	^
internal/auth/session.go:33:6: func `newTokenTTL` is unused (unused)
func newTokenTTL(d time.Duration) tokenTTL {
     ^
internal/auth/password.go:88:12: Error return value of `bcrypt.CompareHashAndPassword` is not checked (errcheck)
	bcrypt.CompareHashAndPassword(hashed, []byte(candidatePassword))
	      ^
3 issues:
* errcheck: 1
* revive: 1
* unused: 1"""


def s_biome_lint():
    return """$ npx biome lint src/auth
src/auth/refresh.ts:12:9 lint/correctness/noUnusedVariables  FIXABLE  ━━━━━━━━━━━━━━━━━━━━━━━━

  ✖ This variable is unused.

    11 │ export async function refreshSession(session: Session) {
  > 12 │   const refreshTokenExpiry = session.refreshExpiresAt;
       │         ^^^^^^^^^^^^^^^^^^
    13 │   const res = await fetch("/api/auth/refresh", { method: "POST", credentials: "include" });

src/auth/apiKey.ts:4:14 lint/style/useNamingConvention ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━

  ✖ This const name should be in CONSTANT_CASE.

  > 4 │ export const apiKeyHeader = "x-api-key";
      │              ^^^^^^^^^^^^

Checked 14 files in 31ms. No fixes applied.
Found 2 errors."""


def s_zod_schema():
    return """export const signUpSchema = z
  .object({
    email: z.string().email(),
    password: z.string().min(12, "Password must be at least 12 characters"),
    confirmPassword: z.string(),
    inviteToken: z.string().uuid().optional(),
  })
  .refine((d) => d.password === d.confirmPassword, {
    message: "Passwords don't match",
    path: ["confirmPassword"],
  });

export type SignUpInput = z.infer<typeof signUpSchema>;"""


def s_avro_schema():
    return json.dumps({"type": "record", "name": "ApiKeyIssued", "namespace": "io.%s.events.auth" % org().replace("-", ""),
                       "fields": [{"name": "key_id", "type": "string"},
                                  {"name": "api_key_hash", "type": "string", "doc": "sha256 of the key, hex"},
                                  {"name": "api_key_prefix", "type": "string", "doc": "first 8 chars, for display"},
                                  {"name": "scopes", "type": {"type": "array", "items": "string"}},
                                  {"name": "issued_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]},
                      indent=2)


def s_json_schema_settings():
    return json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Connector settings",
                       "type": "object", "required": ["clientId", "clientSecret"],
                       "properties": {"clientId": {"type": "string", "description": "OAuth client id"},
                                      "clientSecret": {"type": "string", "writeOnly": True, "minLength": 16,
                                                       "description": "OAuth client secret; stored encrypted, never returned by the API"},
                                      "tokenUrl": {"type": "string", "format": "uri"},
                                      "refreshTokenTtlDays": {"type": "integer", "default": 30}}}, indent=2)


def s_spring_security_config():
    return """@Configuration
@EnableWebSecurity
public class SecurityConfig {

    @Bean
    public PasswordEncoder passwordEncoder() {
        return PasswordEncoderFactories.createDelegatingPasswordEncoder();
    }

    @Bean
    public SecurityFilterChain filterChain(HttpSecurity http, ApiKeyAuthFilter apiKeyAuthFilter) throws Exception {
        return http
                .csrf(csrf -> csrf.ignoringRequestMatchers("/api/**"))
                .addFilterBefore(apiKeyAuthFilter, UsernamePasswordAuthenticationFilter.class)
                .oauth2ResourceServer(o -> o.jwt(Customizer.withDefaults()))
                .build();
    }
}"""


def s_cs_apikey_handler():
    return """public sealed class ApiKeyAuthenticationHandler : AuthenticationHandler<ApiKeyAuthenticationOptions>
{
    public const string SchemeName = "ApiKey";
    private const string ApiKeyHeaderName = "X-Api-Key";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(ApiKeyHeaderName, out var providedKey))
            return AuthenticateResult.NoResult();

        var apiKey = await _apiKeyStore.FindByHashAsync(ApiKeyHasher.Hash(providedKey!));
        return apiKey is null ? AuthenticateResult.Fail("Invalid API key") : AuthenticateResult.Success(Ticket(apiKey));
    }
}"""


def s_kotlin_credentials_class():
    return """data class Credentials(val username: String, val password: CharArray) {
    override fun toString() = "Credentials(username=$username, password=***)"

    override fun equals(other: Any?) =
        other is Credentials && username == other.username && password.contentEquals(other.password)

    override fun hashCode() = 31 * username.hashCode() + password.contentHashCode()
}

fun Credentials.wipe() = password.fill('\\u0000')"""


def s_fastapi_passlib():
    return """from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto")


def verify_password(plain_password: str, hashed_password: str) -> bool:
    return pwd_context.verify(plain_password, hashed_password)


def get_password_hash(password: str) -> str:
    return pwd_context.hash(password)


def authenticate_user(db: Session, email: str, password: str) -> User | None:
    user = get_user_by_email(db, email)
    if not user or not verify_password(password, user.hashed_password):
        return None
    return user"""


def s_mysql_show_create_table():
    return """mysql> SHOW CREATE TABLE oauth_tokens\\G
*************************** 1. row ***************************
       Table: oauth_tokens
Create Table: CREATE TABLE `oauth_tokens` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `user_id` bigint unsigned NOT NULL,
  `client_id` varchar(80) NOT NULL,
  `access_token_hash` char(64) NOT NULL,
  `refresh_token_hash` char(64) DEFAULT NULL,
  `scopes` json NOT NULL,
  `expires_at` datetime NOT NULL,
  `revoked_at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_access_token_hash` (`access_token_hash`),
  KEY `idx_refresh_token_hash` (`refresh_token_hash`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci
1 row in set (0.00 sec)"""


def s_laravel_migration():
    return """<?php

return new class extends Migration
{
    public function up(): void
    {
        Schema::create('users', function (Blueprint $table) {
            $table->id();
            $table->string('name');
            $table->string('email')->unique();
            $table->timestamp('email_verified_at')->nullable();
            $table->string('password');
            $table->text('two_factor_secret')->nullable();
            $table->text('two_factor_recovery_codes')->nullable();
            $table->rememberToken();
            $table->timestamps();
        });

        Schema::create('password_reset_tokens', function (Blueprint $table) {
            $table->string('email')->primary();
            $table->string('token');
            $table->timestamp('created_at')->nullable();
        });
    }
};"""


def s_typeorm_entity():
    return """@Entity({ name: "accounts" })
export class Account {
  @PrimaryGeneratedColumn("uuid")
  id!: string;

  @Column({ unique: true })
  email!: string;

  @Column({ name: "password_hash", select: false })
  passwordHash!: string;

  @Column({ name: "totp_secret_enc", type: "bytea", nullable: true, select: false })
  totpSecretEnc?: Buffer | null;

  @Column({ name: "password_changed_at", type: "timestamptz", nullable: true })
  passwordChangedAt?: Date | null;
}"""


def s_flyway_migrations():
    return """$ ls db/migration
V10__create_users.sql
V11__add_password_changed_at.sql
V12__add_api_key_prefix.sql
V13__drop_plaintext_token_column.sql
$ cat db/migration/V12__add_api_key_prefix.sql
ALTER TABLE api_keys ADD COLUMN key_prefix varchar(12);
UPDATE api_keys SET key_prefix = left(key_hash, 8) WHERE key_prefix IS NULL;
ALTER TABLE api_keys ALTER COLUMN key_prefix SET NOT NULL;
CREATE INDEX idx_api_keys_prefix ON api_keys (key_prefix);"""


def s_exunit_output():
    return """$ mix test test/my_app/accounts
Running ExUnit with seed: @@seed@@, max_cases: 16

.......
  1) test reset_password/2 rejects a reused reset token (MyApp.AccountsTest)
     test/my_app/accounts_test.exs:142
     Assertion with == failed
     code:  assert {:error, :token_already_used} == Accounts.reset_password(token, @valid_password_attrs)
     left:  {:error, :token_already_used}
     right: {:ok, %MyApp.Accounts.User{}}

........
Finished in 0.9 seconds (0.4s async, 0.5s sync)
16 tests, 1 failure""".replace("@@seed@@", str(rint(10000, 999999)))


def s_gradle_test_output():
    return """$ ./gradlew :auth:test --tests '*ApiKey*'

> Task :auth:test

ApiKeyServiceTest > revokedKeyIsRejected() PASSED
ApiKeyServiceTest > expiredKeyReturns401() PASSED
ApiKeyServiceTest > keyPrefixIsStoredButSecretIsHashed() PASSED
ApiKeyRotationJobTest > rotatesKeysOlderThanNinetyDays() FAILED
    org.opentest4j.AssertionFailedError at ApiKeyRotationJobTest.kt:61

4 tests completed, 1 failed

FAILURE: Build failed with an exception."""


def s_phpunit_testdox():
    return """$ vendor/bin/phpunit --testdox tests/Feature/Auth
PHPUnit 11.4.3 by Sebastian Bergmann and contributors.

Password Reset (Tests\\Feature\\Auth\\PasswordReset)
 ✔ Reset password link screen can be rendered
 ✔ Reset password link can be requested
 ✔ Password can be reset with valid token
 ✘ Expired token cannot be used
   │
   │ Failed asserting that 302 is identical to 422.
   │

Password Confirmation (Tests\\Feature\\Auth\\PasswordConfirmation)
 ✔ Password can be confirmed
 ✔ Password is not confirmed with invalid password

Tests: 6, Assertions: 14, Failures: 1."""


def s_java_weakkeyexception():
    return """io.jsonwebtoken.security.WeakKeyException: The specified key byte array is 96 bits which is not secure enough for any JWT HMAC-SHA algorithm.  The JWT JWA Specification (RFC 7518, Section 3.2) states that keys used with HMAC-SHA algorithms MUST have a size >= 256 bits (the key size must be greater than or equal to the hash output size).
	at io.jsonwebtoken.security.Keys.hmacShaKeyFor(Keys.java:96)
	at com.example.auth.JwtTokenProvider.signingKey(JwtTokenProvider.java:41)
	at com.example.auth.JwtTokenProvider.createToken(JwtTokenProvider.java:58)
	at com.example.auth.AuthController.login(AuthController.java:37)"""


def s_go_panic_aes():
    return fill("""panic: crypto/aes: invalid key size 12

goroutine 1 [running]:
crypto/aes.NewCipher({0xc00001a0f0?, 0xc?, 0x10?})
	/usr/local/go/src/crypto/aes/cipher.go:@@l@@ +0x@@a@@
main.loadTokenCipher(...)
	/app/cmd/api/keys.go:29 +0x@@b@@
main.main()
	/app/cmd/api/main.go:44 +0x@@c@@
exit status 2""", l=str(rint(30, 50)), a=hx(2), b=hx(2), c=hx(3))


def s_gnupg_pass_tree():
    return """$ ls -la ~/.gnupg
drwx------  4 dev dev  4096 Nov  3 09:12 .
drwx------  2 dev dev  4096 Nov  3 09:12 private-keys-v1.d
-rw-------  1 dev dev  2342 Nov  3 09:12 pubring.kbx
-rw-------  1 dev dev  1280 Nov  3 09:12 trustdb.gpg
$ pass ls
Password Store
├── aws
│   ├── prod-access-key
│   └── staging-access-key
├── github
│   └── deploy-token
└── postgres
    ├── app-password
    └── replication-password"""


def s_shellcheck_bearer():
    return """$ shellcheck scripts/release.sh

In scripts/release.sh line 14:
curl -fsS -H "Authorization: Bearer $GITHUB_TOKEN" $API/releases -d @payload.json
                                                   ^--^ SC2086 (info): Double quote to prevent globbing and word splitting.

Did you mean:
curl -fsS -H "Authorization: Bearer $GITHUB_TOKEN" "$API"/releases -d @payload.json

In scripts/release.sh line 21:
read -p "Signing key passphrase: " PASSPHRASE
^--^ SC2162 (info): read without -r will mangle backslashes.

For more information:
  https://www.shellcheck.net/wiki/SC2086 -- Double quote to prevent globbing ..."""


def s_tflint_unused():
    return """$ tflint --recursive
2 issue(s) found:

Warning: variable "db_password" is declared but not used (terraform_unused_declarations)

  on modules/rds/variables.tf line 41:
  41: variable "db_password" {

Warning: `api_token` variable has no type (terraform_typed_variables)

  on modules/cloudflare/variables.tf line 3:
   3: variable "api_token" {"""


def s_kubectl_auth_can_i():
    return """$ kubectl auth can-i get secrets -n prod --as system:serviceaccount:ci:deployer
no
$ kubectl auth can-i list secrets -n ci --as system:serviceaccount:ci:deployer
yes
$ kubectl auth can-i --list --as system:serviceaccount:ci:deployer -n ci | grep -E 'secrets|tokenreviews'
secrets                                         []                 []               [get list watch]
tokenreviews.authentication.k8s.io              []                 []               [create]"""


def s_go_token_type_consts():
    return """type TokenType string

const (
	TokenTypeAccess  TokenType = "access"
	TokenTypeRefresh TokenType = "refresh"
	TokenTypeAPIKey  TokenType = "api_key"
	TokenTypeReset   TokenType = "password_reset"
)

var tokenTTL = map[TokenType]time.Duration{
	TokenTypeAccess:  15 * time.Minute,
	TokenTypeRefresh: 30 * 24 * time.Hour,
	TokenTypeReset:   time.Hour,
}"""


def s_keycloak_realm_settings():
    return json.dumps({"realm": "customers", "enabled": True, "sslRequired": "external",
                       "passwordPolicy": "length(12) and digits(1) and notUsername and passwordHistory(5)",
                       "accessTokenLifespan": 300, "ssoSessionIdleTimeout": 1800, "offlineSessionIdleTimeout": 2592000,
                       "refreshTokenMaxReuse": 0, "revokeRefreshToken": True, "bruteForceProtected": True,
                       "permanentLockout": False, "maxFailureWaitSeconds": 900}, indent=2)


def s_yaml_durations_config():
    return """auth:
  token_refresh_interval: 3600
  access_token_ttl: 15m
  refresh_token_ttl: 720h
  password_min_length: 12
  password_max_age_days: 0
  api_key_rotation_days: 90
  session_secret_length: 64
  secret_store: vault
  jwks_cache_seconds: 600"""


def s_i18n_auth_messages():
    return json.dumps({"auth": {"password": {"tooShort": "Password must be at least {min} characters",
                                             "mismatch": "Passwords do not match",
                                             "resetSent": "If an account exists, we've sent a reset link"},
                                "token": {"expired": "Your session has expired, please sign in again",
                                          "invalid": "This link is invalid or has already been used"},
                                "apiKey": {"created": "API key created — copy it now, you won't see it again",
                                           "revoked": "API key {name} revoked"}}}, indent=2, ensure_ascii=False)


def s_react_password_input():
    return """export function ApiKeyForm({ onSave }: { onSave: (key: string) => void }) {
  const [apiKey, setApiKey] = useState("");
  const [showKey, setShowKey] = useState(false);

  return (
    <form onSubmit={(e) => { e.preventDefault(); onSave(apiKey); }}>
      <label htmlFor="api-key">API key</label>
      <PasswordInput id="api-key" name="apiKey" autoComplete="off" value={apiKey}
                     visible={showKey} onToggle={() => setShowKey((v) => !v)}
                     onChange={(e) => setApiKey(e.target.value)} />
      <button type="submit" disabled={!apiKey}>Save</button>
    </form>
  );
}"""


def s_html_password_form():
    return """<form method="post" action="/account/password">
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
  <label for="current-password">Current password</label>
  <input type="password" id="current-password" name="current_password" autocomplete="current-password" required>
  <label for="new-password">New password</label>
  <input type="password" id="new-password" name="new_password" autocomplete="new-password" minlength="12" required>
  <button type="submit">Change password</button>
</form>"""


def s_git_branch_names():
    return """$ git branch -a --sort=-committerdate | head -8
* feat/rotate-api-keys
  fix/token-refresh-race
  chore/remove-legacy-password-column
  remotes/origin/HEAD -> origin/main
  remotes/origin/feat/rotate-api-keys
  remotes/origin/fix/secret-scanning-false-positives
  remotes/origin/main
  remotes/origin/spike/passkeys"""


def s_makefile_targets():
    return """.PHONY: gen-keys rotate-secrets check-secrets

gen-keys: ## generate local dev keys (not committed)
	mkdir -p .keys && openssl genpkey -algorithm ed25519 -out .keys/signing.pem

rotate-secrets: ## rotate secrets in the dev vault
	./scripts/rotate.sh --env dev --keys "$(SECRET_NAMES)"

check-secrets: ## scan the tree for committed secrets
	gitleaks detect --no-banner --redact"""


def s_vault_secrets_list():
    return fill("""$ vault secrets list -detailed | cut -c1-110
Path          Plugin       Accessor              Default TTL    Max TTL    Force No Cache    Replication    Seal Wrap
----          ------       --------              -----------    -------    --------------    -----------    ---------
cubbyhole/    cubbyhole    cubbyhole_@@a@@    n/a            n/a        false             local          false
identity/     identity     identity_@@b@@     system         system     false             replicated     false
kv/           kv           kv_@@c@@           system         system     false             replicated     false
secret/       kv           kv_@@d@@           system         system     false             replicated     false
transit/      transit      transit_@@e@@      system         system     false             replicated     false""",
                a=hx(8), b=hx(8), c=hx(8), d=hx(8), e=hx(8))


def s_azure_role_assignments():
    return fill("""$ az role assignment list --scope /subscriptions/@@s@@/resourceGroups/rg-@@g@@/providers/Microsoft.KeyVault/vaults/kv-@@g@@ -o table
Principal                             Role                           Scope
------------------------------------  -----------------------------  ------------------------------------------------------------
@@p1@@  Key Vault Secrets User         /subscriptions/@@s@@/resourceGroups/rg-@@g@@/providers/Microsoft.KeyVault/vaults/kv-@@g@@
@@p2@@  Key Vault Crypto Officer       /subscriptions/@@s@@/resourceGroups/rg-@@g@@/providers/Microsoft.KeyVault/vaults/kv-@@g@@""",
                s=uid(), g=pick(SERVICES), p1=uid(), p2=uid())


def s_nm_symbols():
    return fill("""$ nm -C --defined-only build/libauth.so | grep -iE 'key|token|secret'
00000000000@@a@@ T derive_session_key
00000000000@@b@@ T hmac_sha256_key_init
00000000000@@c@@ T token_bucket_refill
00000000000@@d@@ T secret_box_open
00000000000@@e@@ r kDefaultTokenLifetime
00000000000@@f@@ T auth::ApiKeyStore::lookup(std::basic_string_view<char, std::char_traits<char> >)""",
                a=hx(5), b=hx(5), c=hx(5), d=hx(5), e=hx(5), f=hx(5))


def s_python_dir_settings():
    return """>>> from django.conf import settings
>>> [n for n in dir(settings) if any(w in n for w in ("KEY", "PASSWORD", "TOKEN", "SECRET"))]
['AUTH_PASSWORD_VALIDATORS', 'CSRF_COOKIE_HTTPONLY', 'PASSWORD_HASHERS', 'PASSWORD_RESET_TIMEOUT', 'SECRET_KEY', 'SECRET_KEY_FALLBACKS', 'SIGNING_BACKEND']
>>> settings.PASSWORD_RESET_TIMEOUT
259200"""


def s_django_password_validators():
    return """PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]"""


def s_pyright_output():
    return """$ pyright app/auth
/work/app/auth/tokens.py
  /work/app/auth/tokens.py:27:16 - error: "refresh_token" is possibly unbound (reportPossiblyUnbound)
  /work/app/auth/tokens.py:41:12 - error: Argument of type "str | None" cannot be assigned to parameter "secret_key" of type "str" in function "encode"
    Type "str | None" is not assignable to type "str"
      "None" is not assignable to "str" (reportArgumentType)
/work/app/auth/passwords.py
  /work/app/auth/passwords.py:9:5 - warning: Import "passlib.hash" could not be resolved from source (reportMissingModuleSource)
2 errors, 1 warning, 0 informations"""


SECRET_WORD_IDENTIFIERS = [s_rustc_secretstring, s_swift_keychain_error, s_golangci_lint, s_biome_lint, s_zod_schema,
                           s_avro_schema, s_json_schema_settings, s_spring_security_config, s_cs_apikey_handler,
                           s_kotlin_credentials_class, s_fastapi_passlib, s_mysql_show_create_table,
                           s_laravel_migration, s_typeorm_entity, s_flyway_migrations, s_exunit_output,
                           s_gradle_test_output, s_phpunit_testdox, s_java_weakkeyexception, s_go_panic_aes,
                           s_gnupg_pass_tree, s_shellcheck_bearer, s_tflint_unused, s_kubectl_auth_can_i,
                           s_go_token_type_consts, s_keycloak_realm_settings, s_yaml_durations_config,
                           s_i18n_auth_messages, s_react_password_input, s_html_password_form, s_git_branch_names,
                           s_makefile_targets, s_vault_secrets_list, s_azure_role_assignments, s_nm_symbols,
                           s_python_dir_settings, s_django_password_validators, s_pyright_output]


# ================================================================ CLEAN: doc_example
def vault_block(label="prod", indent="          "):
    n = rint(6, 9)
    lines = ["$ANSIBLE_VAULT;1.2;AES256;%s" % label] + [hx(80) for _ in range(n - 1)] + [hx(rint(20, 78))]
    return "\n".join(indent + l for l in lines)


def d_ansible_vault_id_vars():
    return fill("""# inventories/prod/group_vars/db/vault.yml
postgres_replication_password: !vault |
@@a@@
pgbackrest_repo_cipher_pass: !vault |
@@b@@
postgres_port: 5432""", a=vault_block(), b=vault_block())


def sops_enc(n, typ="str"):
    return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]" % (b64e(rbytes(n)), b64e(rbytes(32)), b64e(rbytes(16)), typ)


def d_sops_dotenv():
    return fill("""$ cat deploy/prod.enc.env
DATABASE_PASSWORD=@@a@@
STRIPE_SECRET_KEY=@@b@@
JWT_SIGNING_KEY=@@c@@
sops_age__list_0__map_enc=-----BEGIN AGE ENCRYPTED FILE-----\\n@@ae@@\\n-----END AGE ENCRYPTED FILE-----\\n
sops_age__list_0__map_recipient=age1@@rc@@
sops_lastmodified=@@ts@@
sops_mac=@@mac@@
sops_unencrypted_suffix=_unencrypted
sops_version=3.9.1""", a=sops_enc(24), b=sops_enc(70), c=sops_enc(48), ae=b64e(rbytes(180)),
                rc=rs(58, "qpzry9x8gf2tvdw0s3jn54khce6mua7l"), ts=ts()[:19] + "Z", mac=sops_enc(32))


def d_kubeseal_output_json():
    return "$ kubectl create secret generic app-env --dry-run=client --from-env-file=.env -o json | kubeseal -o json\n" + json.dumps(
        {"kind": "SealedSecret", "apiVersion": "bitnami.com/v1alpha1",
         "metadata": {"name": "app-env", "namespace": "prod", "creationTimestamp": None},
         "spec": {"template": {"metadata": {"name": "app-env", "namespace": "prod"}, "type": "Opaque"},
                  "encryptedData": {"DATABASE_PASSWORD": "AgB" + b64e(rbytes(rint(400, 500))),
                                    "API_TOKEN": "AgC" + b64e(rbytes(rint(400, 500)))}}}, indent=2)


def d_k8s_dependent_env():
    return """    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:2.4.1
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: app-db
                  key: password
            - name: DATABASE_URL
              value: postgres://app:$(DB_PASSWORD)@pg-main.internal:5432/app?sslmode=require
            - name: REDIS_URL
              value: redis://:$(REDIS_PASSWORD)@redis-master:6379/0"""


def d_woodpecker_from_secret():
    return """# .woodpecker/release.yaml
steps:
  - name: publish
    image: woodpeckerci/plugin-docker-buildx
    settings:
      repo: registry.example.org/tools/cli
      username: ci
      password:
        from_secret: registry_password
  - name: npm
    image: node:22
    environment:
      NPM_TOKEN:
        from_secret: npm_publish_token
    commands:
      - npm publish --access public"""


def d_azure_pipelines_vars():
    return """# azure-pipelines.yml
variables:
  - group: prod-secrets        # linked to Key Vault kv-prod
steps:
  - script: echo "$(registryPassword)" | docker login $(registry) -u $(registryUser) --password-stdin
    displayName: Login
  - script: ./deploy.sh
    env:
      DB_PASSWORD: $(dbPassword)
      API_TOKEN: $(apiToken)

# .gitlab-ci.yml equivalent:
#   - echo "$CI_JOB_TOKEN" | docker login -u gitlab-ci-token --password-stdin $CI_REGISTRY"""


def d_bank_vaults_env():
    return """apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments
spec:
  template:
    metadata:
      annotations:
        vault.security.banzaicloud.io/vault-addr: "https://vault.vault:8200"
        vault.security.banzaicloud.io/vault-role: "payments"
    spec:
      containers:
        - name: payments
          env:
            - name: AWS_SECRET_ACCESS_KEY
              value: vault:secret/data/payments/aws#AWS_SECRET_ACCESS_KEY
            - name: STRIPE_API_KEY
              value: vault:secret/data/payments/stripe#api_key#2
            - name: DB_PASSWORD
              value: ">>vault:database/creds/payments#password\""""


def d_copilot_manifest_secrets():
    a = acct()
    return fill("""# copilot/api/manifest.yml
name: api
type: Load Balanced Web Service
variables:
  LOG_LEVEL: info
secrets:
  DB_PASSWORD: /copilot/@@app@@/prod/secrets/db_password
  STRIPE_KEY:
    secretsmanager: 'prod/stripe:api_key::'
  GITHUB_TOKEN: arn:aws:secretsmanager:@@r@@:@@a@@:secret:ci/github-token-@@s@@""", app=org(), r=pick(REGIONS), a=a,
                s=mixed(6))


def d_cloudbuild_available_secrets():
    return """# cloudbuild.yaml
steps:
  - name: node:22
    entrypoint: bash
    args: ["-c", "echo //registry.npmjs.org/:_authToken=$$NPM_TOKEN > .npmrc && npm publish"]
    secretEnv: ["NPM_TOKEN"]
availableSecrets:
  secretManager:
    - versionName: projects/$PROJECT_ID/secrets/npm-token/versions/latest
      env: NPM_TOKEN
    - versionName: projects/acme-prod/secrets/sentry-auth-token/versions/3
      env: SENTRY_AUTH_TOKEN"""


def d_op_inject_template():
    return """$ cat config.tpl.yml
database:
  host: pg-main.internal
  password: "{{ op://Production/payments-db/password }}"
stripe:
  secret_key: "{{ op://Production/Stripe/credential }}"
$ op inject -i config.tpl.yml -o config.yml
config.yml"""


def d_doppler_references():
    return """$ cat doppler.yaml
setup:
  - project: checkout
    config: prd
    path: apps/checkout/
$ doppler secrets get DATABASE_URL --raw --no-interpolate
postgres://app:${DB_PASSWORD}@${DB_HOST}:5432/checkout
$ doppler secrets get STRIPE_KEY --raw --no-interpolate
${shared.prd.STRIPE_SECRET_KEY}"""


def d_infisical_refs():
    return json.dumps({"workspaceId": uid(), "defaultEnvironment": "dev", "gitBranchToEnvironmentMapping": None},
                      indent=4).join(["$ cat .infisical.json\n", """
$ infisical secrets get DATABASE_URL --env=prod --plain --silent --expand=false
postgresql://app:${prod.DB_PASSWORD}@${prod.DB_HOST}/app
$ infisical run --env=prod -- npm start"""])


def d_appservice_keyvault_refs():
    return """$ az webapp config appsettings list -g rg-web -n app-web-prod --query "[?contains(value, 'KeyVault')]" -o table
Name              SlotSetting    Value
----------------  -------------  --------------------------------------------------------------------------------
DB_PASSWORD       False          @Microsoft.KeyVault(VaultName=kv-web-prod;SecretName=db-password)
STRIPE_API_KEY    False          @Microsoft.KeyVault(SecretUri=https://kv-web-prod.vault.azure.net/secrets/stripe-key/)
JWT_SECRET        False          @Microsoft.KeyVault(VaultName=kv-web-prod;SecretName=jwt-secret;SecretVersion=ec96f02080254f109c51a1f14cdb1931)"""


def d_aws_docs_create_access_key():
    return """From the AWS CLI reference (aws iam create-access-key, "Example 1"):

    aws iam create-access-key --user-name Bob

Output:

    {
        "AccessKey": {
            "UserName": "Bob",
            "Status": "Active",
            "CreateDate": "2015-03-09T18:39:23.411Z",
            "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
            "AccessKeyId": "AKIAIOSFODNN7EXAMPLE"
        }
    }"""


def d_aws_docs_assume_role():
    return """Example output from the STS docs (values are the documentation placeholders):

{
    "AssumedRoleUser": {
        "AssumedRoleId": "AROA3XFRBF535PLBIFPI4:s3-access-example",
        "Arn": "arn:aws:sts::123456789012:assumed-role/xaccounts3access/s3-access-example"
    },
    "Credentials": {
        "SecretAccessKey": "9drTJvcXLB89EXAMPLELB8923FB892xMFI",
        "SessionToken": "AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=",
        "Expiration": "2016-03-15T00:05:07Z",
        "AccessKeyId": "ASIAJEXAMPLEXEG2JICEA"
    }
}"""


def d_config_sample_toml():
    return """# config.sample.toml -- copy to config.toml
[server]
listen = "127.0.0.1:8080"

[github]
app_id = 0
# paste the token from https://github.com/settings/tokens here
token = "<PASTE_TOKEN_HERE>"
webhook_secret = "<generate with: openssl rand -hex 32>"

[database]
url = "postgres://app:CHANGE_ME@localhost:5432/app\""""


def d_jest_setup_fakes():
    return """// jest.setup.ts -- deterministic fake env for unit tests; nothing here is a real credential
process.env.STRIPE_SECRET_KEY = "sk_test_fake_key_for_unit_tests";
process.env.OPENAI_API_KEY = "test-openai-key-not-real";
process.env.JWT_SECRET = "dummy-jwt-secret-for-tests";
process.env.DATABASE_URL = "postgres://test:test@localhost:5433/test";
process.env.WEBHOOK_SIGNING_SECRET = "placeholder-signing-secret";"""


def d_storybook_demo_args():
    return """export default {
  title: "Settings/ApiKeyCard",
  component: ApiKeyCard,
  args: {
    name: "CI deploy key",
    apiKey: "demo_key_XXXXXXXXXXXXXXXXXXXX",
    lastUsed: "2 days ago",
    scopes: ["read:orders"],
  },
} satisfies Meta<typeof ApiKeyCard>;

export const Revealed: StoryObj = { args: { apiKey: "sample-api-key-1234", revealed: true } };"""


def d_k8s_stringdata_replace():
    return """# k8s/base/secret.example.yaml -- template only, the real one is created by the External Secrets operator
apiVersion: v1
kind: Secret
metadata:
  name: app-env
type: Opaque
stringData:
  DATABASE_PASSWORD: REPLACE_WITH_REAL_PASSWORD
  SMTP_PASSWORD: <smtp-password>
  API_TOKEN: your-api-token-here"""


def d_postman_env_refs():
    return """Import the Postman environment, then set the current values (never the initial ones):

| Variable | Initial value | Current value |
|---|---|---|
| `baseUrl` | `https://api.example.com` | — |
| `access_token` | *(empty)* | filled by the login request's test script |
| `api_key` | `YOUR_API_KEY` | your key from Settings → API |

Requests use `Authorization: Bearer {{access_token}}` and `X-Api-Key: {{api_key}}`."""


def d_moto_conftest():
    return """# tests/conftest.py (from the moto docs: "Recommended usage")
@pytest.fixture(scope="function")
def aws_credentials():
    \"\"\"Mocked AWS Credentials for moto.\"\"\"
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_SECURITY_TOKEN"] = "testing"
    os.environ["AWS_SESSION_TOKEN"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"


@pytest.fixture(scope="function")
def s3(aws_credentials):
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")"""


def d_redacted_logs():
    return fill("""@@t1@@ INFO  http outbound POST https://api.partner.example/v2/orders headers={"authorization": "Bearer [REDACTED]", "x-api-key": "<redacted>"}
@@t2@@ DEBUG db connect host=@@h@@ user=app password=******** sslmode=require
@@t3@@ WARN  retrying with token=*** (attempt 2/5)""", t1=ts(), t2=ts(), t3=ts(), h=pick(HOSTS))


def d_sequential_placeholders():
    return """# sample values for the integration docs -- obviously not real
webhook:
  id: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
  signing_secret: 0123456789abcdef0123456789abcdef
  api_key: abcdef1234567890abcdef1234567890
  token: 1111111111111111111111111111111111111111"""


def d_auth0_okta_docs():
    return """```js
// From the Auth0 quickstart -- replace the placeholders with your application's values
const config = {
  authRequired: false,
  auth0Logout: true,
  secret: 'a long, randomly-generated string stored in env',
  baseURL: 'http://localhost:3000',
  clientID: 'YOUR_CLIENT_ID',
  clientSecret: 'YOUR_CLIENT_SECRET',
  issuerBaseURL: 'https://{yourDomain}',
};
```
Okta's equivalent uses `https://{yourOktaDomain}/oauth2/default` and `${OKTA_API_TOKEN}`."""


def d_age_encrypted_armor():
    return "$ cat secrets/prod.env.age\n-----BEGIN AGE ENCRYPTED FILE-----\n%s\n-----END AGE ENCRYPTED FILE-----\n$ age -d -i ~/.config/age/keys.txt secrets/prod.env.age | wc -l\n14" % wrap(
        b64e(rbytes(rint(300, 420))), 64)


def d_k8s_encryption_config_docs():
    return """From the Kubernetes docs ("Encrypting Confidential Data at Rest"):

apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - aescbc:
          keys:
            - name: key1
              # See the following text for more details about the secret value
              secret: <BASE 64 ENCODED SECRET>
      - identity: {}

Generate the value with `head -c 32 /dev/urandom | base64` and keep it off the repo."""


def d_vault_agent_template():
    return """# vault-agent.hcl
template {
  destination = "/etc/app/env"
  perms       = "0600"
  contents    = <<EOT
{{ with secret "secret/data/payments/db" }}
DB_PASSWORD={{ .Data.data.password }}
{{ end }}
{{ with secret "database/creds/payments-ro" }}
RO_USER={{ .Data.username }}
RO_PASSWORD={{ .Data.password }}
{{ end }}
EOT
}"""


def d_chef_encrypted_data_bag():
    return "$ cat data_bags/credentials/postgres.json\n" + json.dumps({
        "id": "postgres",
        "password": {"encrypted_data": b64e(rbytes(48)) + "\n", "iv": b64e(rbytes(12)), "auth_tag": b64e(rbytes(16)),
                     "version": 3, "cipher": "aes-256-gcm"},
        "replication_password": {"encrypted_data": b64e(rbytes(48)) + "\n", "iv": b64e(rbytes(12)),
                                 "auth_tag": b64e(rbytes(16)), "version": 3, "cipher": "aes-256-gcm"}}, indent=2)


def d_hiera_eyaml():
    return "# hieradata/prod/common.eyaml\nprofile::db::password: >\n    ENC[PKCS7,%s]\nprofile::db::user: app\n" % (
        "\n    ".join(wrap("MIIBiQYJKoZIhvcNAQcDoIIBejCCAXYCAQAxggEhMIIBHQIBADAFMAACAQEw" + b64e(rbytes(280)), 64).split("\n")))


def d_spring_cloud_config_cipher():
    return fill("""# config-repo/payments-prod.yml (Spring Cloud Config server decrypts {cipher} values)
spring:
  datasource:
    url: jdbc:postgresql://pg-main.internal:5432/payments
    username: payments
    password: '{cipher}@@a@@'
stripe:
  api-key: '{cipher}@@b@@'""", a=hx(96), b=hx(128))


def d_jenkins_credentials_xml():
    return fill("""$ sudo cat /var/lib/jenkins/credentials.xml | sed -n '/<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>/,/<\\/com/p'
<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>
  <scope>GLOBAL</scope>
  <id>nexus-deploy</id>
  <description>Nexus deploy user</description>
  <username>deploy</username>
  <password>{@@p@@}</password>
  <usernameSecret>false</usernameSecret>
</com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>""", p="AQAAABAAAAAQ" + b64e(rbytes(48)))


def d_secret_provider_class():
    return """apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: kv-payments
spec:
  provider: azure
  parameters:
    keyvaultName: kv-payments-prod
    tenantId: "00000000-0000-0000-0000-000000000000"
    objects: |
      array:
        - |
          objectName: db-password
          objectType: secret
        - |
          objectName: stripe-api-key
          objectType: secret
          objectVersion: ""
  secretObjects:
    - secretName: payments-env
      type: Opaque
      data:
        - objectName: db-password
          key: DB_PASSWORD"""


def d_nomad_template_vars():
    return """task "api" {
  driver = "docker"
  template {
    destination = "secrets/app.env"
    env         = true
    data        = <<EOH
{{ with nomadVar "nomad/jobs/api" }}
DB_PASSWORD={{ .db_password }}
API_TOKEN={{ .api_token }}
{{ end }}
EOH
  }
}"""


def d_helm_randalphanum():
    return """{{- /* templates/secret.yaml */ -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "app.fullname" . }}
type: Opaque
data:
  {{- $existing := lookup "v1" "Secret" .Release.Namespace (include "app.fullname" .) }}
  {{- if $existing }}
  password: {{ index $existing.data "password" }}
  {{- else }}
  password: {{ .Values.auth.password | default (randAlphaNum 24) | b64enc | quote }}
  {{- end }}"""


def d_vault_transit_ciphertext():
    return fill("""$ vault write transit/encrypt/orders plaintext=$(echo -n "4111 1111 1111 1111" | base64)
Key            Value
---            -----
ciphertext     vault:v1:@@c@@
key_version    1
$ psql -c "UPDATE payment_methods SET pan_enc = 'vault:v1:@@c@@' WHERE id = @@i@@"
UPDATE 1""", c=b64e(rbytes(rint(40, 60))), i=str(rint(100, 9999)))


def d_kms_encrypt_output():
    return "$ aws kms encrypt --key-id alias/app-tokens --plaintext fileb://token.txt --output json\n" + json.dumps(
        {"CiphertextBlob": "AQICAHg" + b64e(rbytes(rint(150, 200))),
         "KeyId": "arn:aws:kms:%s:%s:key/%s" % (pick(REGIONS), acct(), uid()),
         "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, indent=4)


DOC_EXAMPLE = [d_ansible_vault_id_vars, d_sops_dotenv, d_kubeseal_output_json, d_k8s_dependent_env,
               d_woodpecker_from_secret, d_azure_pipelines_vars, d_bank_vaults_env, d_copilot_manifest_secrets,
               d_cloudbuild_available_secrets, d_op_inject_template, d_doppler_references, d_infisical_refs,
               d_appservice_keyvault_refs, d_aws_docs_create_access_key, d_aws_docs_assume_role, d_config_sample_toml,
               d_jest_setup_fakes, d_storybook_demo_args, d_k8s_stringdata_replace, d_postman_env_refs,
               d_moto_conftest, d_redacted_logs, d_sequential_placeholders, d_auth0_okta_docs, d_age_encrypted_armor,
               d_k8s_encryption_config_docs, d_vault_agent_template, d_chef_encrypted_data_bag, d_hiera_eyaml,
               d_spring_cloud_config_cipher, d_jenkins_credentials_xml, d_secret_provider_class,
               d_nomad_template_vars, d_helm_randalphanum, d_vault_transit_ciphertext, d_kms_encrypt_output]

DOC_LEADS = ["", "", "", "", "is this safe to commit as-is?\n\n",
             "the reviewer flagged this file, but I think it's fine:\n\n"]


# ================================================================ CLEAN: plain_session
def hexdump_c(data, base=0):
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexs = " ".join("%02x" % b for b in chunk[:8]) + "  " + " ".join("%02x" % b for b in chunk[8:])
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append("%08x  %-48s |%s|" % (base + off, hexs, asc))
    out.append("%08x" % (base + len(data)))
    return "\n".join(out)


def p_xxd_png_header():
    w, h = rint(64, 512), rint(64, 512)
    data = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + w.to_bytes(4, "big") + h.to_bytes(4, "big")
            + b"\x08\x06\x00\x00\x00" + rbytes(4) + b"\x00\x00\x00\x19tEXtSoftware\x00Adobe ImageReady")
    rows = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        pairs = " ".join(chunk[i:i + 2].hex() for i in range(0, len(chunk), 2))
        rows.append("%08x: %-39s  %s" % (off, pairs, "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)))
    return "the icon renders as a broken image in Safari only. first bytes of the file:\n\n$ xxd -l %d public/icon.png\n%s\n\nlooks like a normal PNG header to me?" % (
        len(data), "\n".join(rows))


def p_hexdump_protobuf():
    msg = b"\x08" + bytes([rint(1, 120)]) + b"\x12\x0b" + b"hello world" + b"\x1a\x06" + rbytes(6) + b"\x20\x01"
    return "$ hexdump -C /tmp/req.bin   # the raw protobuf the client sends\n" + hexdump_c(msg) + \
        "\n\nfield 3 is the 6-byte device fingerprint, so that part is expected to look random"


def p_tailwind_colors():
    shades = ["50", "100", "200", "300", "400", "500", "600", "700", "800", "900"]
    brand = ",\n".join('          %s: "#%s"' % (s, hx(6)) for s in shades)
    return fill("""// tailwind.config.ts
export default {
  content: ["./src/**/*.{ts,tsx}"],
  theme: {
    extend: {
      colors: {
        brand: {
@@b@@
        },
        ink: "#0b1021",
        paper: "#fbfaf7",
      },
    },
  },
} satisfies Config;""", b=brand)


def p_minified_js():
    v = [rs(1, LO) + rs(1, LOAL) for _ in range(6)]
    return fill("""the error points into the vendor bundle, line 1 col 48213:

!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?module.exports=t():"function"==typeof define&&define.amd?define(t):(e="undefined"!=typeof globalThis?globalThis:e||self).dayjs=t()}(this,(function(){"use strict";var @@a@@=1e3,@@b@@=6e4,@@c@@=36e5,@@d@@="millisecond",@@e@@="second",@@f@@="minute",h="hour",l="day",m="week",y="month",v="quarter",g="year",D="date",M="Invalid Date";return function(n){return n}}));
//# sourceMappingURL=dayjs.min.js.map

TypeError: Cannot read properties of undefined (reading 'locale')""", a=v[0], b=v[1], c=v[2], d=v[3], e=v[4], f=v[5])


def p_mime_base64_attachment():
    body = ("order_id,sku,qty,price_eur\n" + "\n".join("%d,SKU-%s,%d,%d.%02d" % (rint(10000, 99999), rs(5, UPAL), rint(1, 5),
                                                                                rint(3, 200), rint(0, 99)) for _ in range(6)) + "\n").encode()
    return fill("""The CSV attachment arrives empty in the customer's inbox. Raw message from the mail log:

Content-Type: multipart/mixed; boundary="=_@@bd@@"

--=_@@bd@@
Content-Type: text/plain; charset=utf-8

Your export is attached.

--=_@@bd@@
Content-Type: text/csv; name="orders.csv"
Content-Disposition: attachment; filename="orders.csv"
Content-Transfer-Encoding: base64

@@b64@@
--=_@@bd@@--""", bd=hx(16), b64=wrap(b64e(body), 76))


def p_grpcurl_bytes_field():
    thumb = b64e(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + rbytes(rint(60, 90)))
    return fill("""$ grpcurl -plaintext -d '{"id": "@@id@@"}' localhost:50051 media.v1.MediaService/GetThumbnail
{
  "id": "@@id@@",
  "mimeType": "image/jpeg",
  "width": 64,
  "height": 64,
  "data": "@@t@@"
}""", id=uid(), t=thumb)


def ulid():
    return "01J" + rs(23, "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def p_ulid_request_logs():
    lines = []
    for t in ts_seq(4):
        lines.append(json.dumps({"ts": t, "level": "info", "request_id": ulid(), "user_id": "usr_" + ulid()[3:],
                                 "method": pick(["GET", "POST"]), "path": pick(["/v1/projects", "/v1/tokens/refresh",
                                                                                "/v1/keys", "/v1/me"]),
                                 "status": pick([200, 200, 201, 204]), "dur_ms": rint(2, 300)}))
    return "\n".join(lines)


def p_ksuid_event_log():
    rows = ["%s  %s  %-22s  %s" % (t, rs(27, ALNUM), pick(["page_viewed", "signup_completed", "api_key_created",
                                                           "password_changed"]), "anon_" + rs(10, LOAL))
            for t in ts_seq(5)]
    return "$ ./events tail --limit 5\ntimestamp                 event_id (ksuid)             type                    actor\n" + "\n".join(rows)


def p_nanoid_slugs():
    rows = ['%s - "GET /p/%s HTTP/1.1" 200 %d' % (ts(), rs(21, ALNUM + "_-"), rint(2000, 90000)) for _ in range(4)]
    return "post permalinks use nanoid(21) slugs now; access log after the deploy:\n" + "\n".join(rows)


def p_git_rebase_todo():
    items = [("pick", "feat(keys): add key rotation endpoint"), ("squash", "fixup tests"),
             ("pick", "refactor(auth): extract TokenStore"), ("drop", "wip"), ("reword", "docs: password policy")]
    return "# .git/rebase-merge/git-rebase-todo\n" + "\n".join("%s %s %s" % (a, short_sha(), m) for a, m in items) + \
        "\n\n# Rebase %s..%s onto %s (5 commands)" % (short_sha(), short_sha(), short_sha())


def p_git_cherry_pick_stash():
    return fill("""$ git cherry-pick @@a@@
[release/2.8 @@b@@] fix(auth): don't log the Authorization header on 401
 Date: @@d@@
 2 files changed, 9 insertions(+), 3 deletions(-)
$ git stash list
stash@{0}: WIP on feat/rotate-api-keys: @@c@@ add revoke button
stash@{1}: On main: debugging token refresh""", a=git_sha(), b=short_sha(), d=date(), c=short_sha())


def p_explain_analyze():
    return fill("""=> EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM api_keys WHERE key_prefix = 'ak_7Qf2' AND revoked_at IS NULL;
                                                          QUERY PLAN
------------------------------------------------------------------------------------------------------------------------------
 Index Scan using idx_api_keys_prefix on api_keys  (cost=0.29..8.31 rows=1 width=112) (actual time=0.021..0.022 rows=1 loops=1)
   Index Cond: ((key_prefix)::text = 'ak_7Qf2'::text)
   Filter: (revoked_at IS NULL)
   Buffers: shared hit=4
 Planning Time: 0.@@p@@ ms
 Execution Time: 0.0@@e@@ ms
(6 rows)""", p=str(rint(60, 300)), e=str(rint(30, 99)))


def p_asset_manifest_md5():
    files = ["app.js", "app.css", "vendor.js", "logo.svg"]
    return "$ cat public/build/manifest.json\n" + json.dumps(
        {f: "%s.%s.%s" % (f.rsplit(".", 1)[0], hashlib.md5(rbytes(8)).hexdigest()[:12], f.rsplit(".", 1)[1]) for f in files},
        indent=2) + "\n\n(cache-busting names, the hash is md5 of the file contents)"


def p_vitest_snapshot():
    return fill("""$ npx vitest run src/components/LoginForm.test.tsx
 ❯ src/components/LoginForm.test.tsx (3 tests | 1 failed) 84ms
   × LoginForm > renders the password strength meter
     → Snapshot `LoginForm > renders the password strength meter 1` mismatched

- Expected
+ Received

-   <div class="meter_@@a@@ meter--weak_@@b@@">
+   <div class="meter_@@a@@ meter--fair_@@c@@">

 Test Files  1 failed (1)
      Tests  1 failed | 2 passed (3)""", a=rs(5, LOAL), b=rs(5, LOAL), c=rs(5, LOAL))


def p_podman_build():
    return fill("""$ podman build -t localhost/api:dev .
STEP 1/6: FROM docker.io/library/golang:1.23-alpine AS build
STEP 2/6: WORKDIR /src
--> Using cache @@a@@
--> @@sa@@
STEP 3/6: COPY go.mod go.sum ./
--> Using cache @@b@@
STEP 4/6: RUN go mod download
--> @@sb@@
STEP 5/6: COPY . .
--> @@sc@@
STEP 6/6: RUN CGO_ENABLED=0 go build -o /out/api ./cmd/api
COMMIT localhost/api:dev
--> @@sd@@
Successfully tagged localhost/api:dev
@@full@@""", a=hx(64), sa=hx(11), b=hx(64), sb=hx(11), sc=hx(11), sd=hx(11), full=hx(64))


def p_gradle_build_scan():
    return fill("""BUILD SUCCESSFUL in 1m 12s
47 actionable tasks: 12 executed, 35 up-to-date

Publishing build scan...
https://gradle.com/s/@@s@@

Configuration cache entry stored.""", s=rs(13, LOAL))


def p_psql_uuid_rows():
    rows = "\n".join(" %s | %-22s | %s | %s" % (uid(), email(), pick(["owner", "member", "viewer"]), date())
                     for _ in range(4))
    return "app=> SELECT id, email, role, created_at::date FROM members WHERE org_id = '%s' ORDER BY created_at LIMIT 4;\n" % uid() + \
        "                  id                  |         email          |  role  | created_at\n" + \
        "--------------------------------------+------------------------+--------+------------\n" + rows + "\n(4 rows)"


def p_goroutine_dump():
    return fill("""goroutine 73 [select, 4 minutes]:
net/http.(*persistConn).writeLoop(0xc000@@a@@)
	/usr/local/go/src/net/http/transport.go:2519 +0xe7
created by net/http.(*Transport).dialConn in goroutine 71
	/usr/local/go/src/net/http/transport.go:1875 +0x15a5

goroutine 12 [chan receive]:
github.com/@@o@@/api/internal/tokens.(*Refresher).loop(0xc0001@@b@@, {0x1f2c9a0, 0xc0000@@c@@})
	/src/internal/tokens/refresher.go:64 +0x9b
created by github.com/@@o@@/api/internal/tokens.NewRefresher in goroutine 1
	/src/internal/tokens/refresher.go:41 +0x1d1""", a=hx(6), o=org(), b=hx(5), c=hx(5))


def p_lldb_backtrace():
    frames = []
    for n, (lib, fn) in enumerate([("libobjc.A.dylib", "objc_msgSend"), ("App", "-[KeychainStore readItemForKey:error:]"),
                                   ("App", "KeychainStore.token.getter"), ("App", "SessionManager.restore()"),
                                   ("App", "AppDelegate.application(_:didFinishLaunchingWithOptions:)")]):
        frames.append("    frame #%d: 0x0000000%s %s`%s" % (n, hx(9), lib, fn))
    return "(lldb) bt\n* thread #1, queue = 'com.apple.main-thread', stop reason = EXC_BAD_ACCESS (code=1, address=0x10)\n" + "\n".join(frames)


def p_objdump_snippet():
    lines = []
    addr = start = rint(0x401000, 0x40f000)
    for ins in ["push   %rbp", "mov    %rsp,%rbp", "sub    $0x20,%rsp", "mov    %rdi,-0x18(%rbp)",
                "callq  401a30 <sha256_init>", "leave", "retq"]:
        n = rint(1, 5)
        lines.append("  %x:\t%-21s\t%s" % (addr, " ".join("%02x" % b for b in rbytes(n)), ins))
        addr += n
    return "$ objdump -d --no-show-raw-insn=false build/hash | sed -n '/<hash_file>:/,/ret/p'\n%016x <hash_file>:\n" % start + "\n".join(lines)


def p_tcpdump_hex():
    pkt = rbytes(20) + b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"
    rows = []
    for off in range(0, len(pkt), 16):
        c = pkt[off:off + 16]
        rows.append("\t0x%04x:  %-40s  %s" % (off, " ".join(c[i:i + 2].hex() for i in range(0, len(c), 2)),
                                               "".join(chr(b) if 32 <= b < 127 else "." for b in c)))
    return "$ sudo tcpdump -i eth0 -X -c 1 'tcp port 8080'\n%s IP 10.0.3.7.51234 > 10.0.3.9.8080: Flags [P.], length %d\n%s" % (
        hms() + ".%06d" % rint(0, 999999), len(pkt), "\n".join(rows))


def p_lorawan_csv():
    rows = ["%s,%s,%.1f,%.1f,%d" % (t, hxu(16), 18 + R.random() * 8, 40 + R.random() * 30, rint(-120, -60))
            for t in ts_seq(6)]
    return "can you plot humidity per device? sample of the export:\n\ntime,dev_eui,temp_c,humidity,rssi\n" + "\n".join(rows)


def p_phash_dedupe():
    rows = ["%-28s %s  %d" % ("img/%s.jpg" % rs(8, LOAL), hx(16), rint(0, 12)) for _ in range(5)]
    return "$ python dedupe.py --threshold 6 media/\nfile                         phash             dist\n" + "\n".join(rows) + \
        "\n2 near-duplicates found (hamming distance <= 6)"


def p_jwt_structure_explainer():
    return """A JWT is three base64url parts joined by dots:

    <header>.<payload>.<signature>

e.g. the header `{"alg":"RS256","typ":"JWT"}` encodes to `eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9`, so every
RS256 token starts with that same prefix. The middleware only needs to split on '.', decode the
payload, and verify the signature against the JWKS — never trust the payload before that."""


def p_circleci_cache_restore():
    return fill("""Restoring cache
Found a cache from build @@n@@ at v3-deps-{{ checksum "pnpm-lock.yaml" }}
Size: 412 MiB
Cached paths:
  * /home/circleci/.local/share/pnpm/store

Downloading cache archive...
Unarchiving cache...
Cache key: v3-deps-@@k@@""", n=str(rint(1000, 99999)), k=b64e(hashlib.sha256(rbytes(8)).digest()).rstrip("="))


def p_spotify_tracks_json():
    return json.dumps({"items": [{"track": {"id": rs(22, ALNUM), "name": n, "duration_ms": rint(150000, 300000),
                                            "uri": "spotify:track:" + rs(22, ALNUM), "popularity": rint(10, 90)}}
                                 for n in ["Weightless", "Avril 14th", "An Ending (Ascent)"]],
                       "next": None, "total": 3}, indent=2)


def p_airtable_records_json():
    return json.dumps({"records": [{"id": "rec" + rs(14, ALNUM), "createdTime": ts(),
                                    "fields": {"Name": n, "Status": s}}
                                   for n, s in [("Rotate staging keys", "Done"), ("Password policy doc", "In review")]],
                       "offset": "itr" + rs(14, ALNUM) + "/rec" + rs(14, ALNUM)}, indent=2)


def p_design_tokens_android_colors():
    return fill("""<!-- res/values/colors.xml -->
<resources>
    <color name="primary">#FF@@a@@</color>
    <color name="primary_variant">#FF@@b@@</color>
    <color name="on_primary">#FFFFFFFF</color>
    <color name="surface">#FF@@c@@</color>
    <color name="error">#FFB00020</color>
</resources>""", a=hxu(6), b=hxu(6), c=hxu(6))


def p_git_diff_index():
    return fill("""diff --git a/src/auth/rate_limit.rs b/src/auth/rate_limit.rs
index @@a@@..@@b@@ 100644
--- a/src/auth/rate_limit.rs
+++ b/src/auth/rate_limit.rs
@@ -31,7 +31,9 @@ impl TokenBucket {
     pub fn try_take(&mut self, now: Instant) -> bool {
         self.refill(now);
-        if self.tokens >= 1.0 {
+        // a burst of login attempts should not drain the bucket below zero
+        if self.tokens >= 1.0 && self.tokens.is_finite() {
             self.tokens -= 1.0;
             return true;
         }""", a=short_sha(), b=short_sha())


def p_od_elf_header():
    data = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x03\x00\x3e\x00\x01\x00\x00\x00" + rbytes(8)
    rows = ["%07o %s" % (off, " ".join("%02x" % b for b in data[off:off + 16])) for off in range(0, len(data), 16)]
    return "$ od -A o -t x1 -N 32 target/release/authd\n" + "\n".join(rows) + "\n0000040\n\nso it is a PIE (ET_DYN), x86-64"


def p_emotion_css_hashes():
    cls = [rs(7, LOAL) for _ in range(4)]
    return fill("""<style data-emotion="css" data-s="">.css-@@a@@{display:flex;gap:8px;align-items:center;}.css-@@b@@{font:500 14px/20px Inter,sans-serif;color:#1f2937;}.css-@@c@@{border:1px solid #d1d5db;border-radius:6px;padding:6px 10px;}.css-@@d@@:focus-visible{outline:2px solid #2563eb;}</style>
the input with class css-@@c@@ loses its border in dark mode""", a=cls[0], b=cls[1], c=cls[2], d=cls[3])


def p_hypothesis_seed():
    return fill("""$ pytest tests/test_password_policy.py -p randomly
Using --randomly-seed=@@s@@
============================= test session starts ==============================
collected 18 items

tests/test_password_policy.py ..........F.......                         [100%]

FAILED tests/test_password_policy.py::test_rejects_common_passwords - Falsifying example: test_rejects_common_passwords(
    candidate='Aaaaaaaaaaa1',
)
You can reproduce this example by temporarily adding @reproduce_failure('6.119.4', b'AXic@@r@@') as a decorator on your test case""",
                s=str(rint(10 ** 9, 4 * 10 ** 9)), r=rs(12, ALNUM))


def p_kubectl_logs_startup():
    return fill("""$ kubectl logs deploy/@@s@@ -n prod --since=2m | head -8
@@t1@@ INFO  starting @@s@@ version=@@v@@ commit=@@c@@
@@t2@@ INFO  config loaded from /etc/@@s@@/config.yaml (secrets from /run/secrets)
@@t3@@ INFO  connected to postgres host=@@h@@ db=@@s@@ pool=20
@@t4@@ INFO  jwks refreshed keys=3 next_refresh=10m
@@t5@@ INFO  listening on :8080""", s=pick(SERVICES), t1=ts(), t2=ts(), t3=ts(), t4=ts(), t5=ts(), v=ver(),
                c=short_sha(), h=pick(HOSTS))


PLAIN_SESSION = [p_xxd_png_header, p_hexdump_protobuf, p_tailwind_colors, p_minified_js, p_mime_base64_attachment,
                 p_grpcurl_bytes_field, p_ulid_request_logs, p_ksuid_event_log, p_nanoid_slugs, p_git_rebase_todo,
                 p_git_cherry_pick_stash, p_explain_analyze, p_asset_manifest_md5, p_vitest_snapshot, p_podman_build,
                 p_gradle_build_scan, p_psql_uuid_rows, p_goroutine_dump, p_lldb_backtrace, p_objdump_snippet,
                 p_tcpdump_hex, p_lorawan_csv, p_phash_dedupe, p_jwt_structure_explainer, p_circleci_cache_restore,
                 p_spotify_tracks_json, p_airtable_records_json, p_design_tokens_android_colors, p_git_diff_index,
                 p_od_elf_header, p_emotion_css_hashes, p_hypothesis_seed, p_kubectl_logs_startup]


# ================================================================ assembly
SECRET = [("key_pairs", KEY_PAIRS, 32), ("provider_near_value", PROVIDER_NEAR_VALUE, 32),
          ("json_escaped", JSON_ESCAPED, 30), ("code_constants", CODE_CONSTANTS, 30), ("url_keys", URL_KEYS, 28),
          ("prose_secrets", PROSE_SECRETS, 28)]
CLEAN = [("option_docs", OPTION_DOCS, 28, OPTION_LEADS), ("infra_ids", INFRA_IDS, 28, None),
         ("secret_word_identifiers", SECRET_WORD_IDENTIFIERS, 28, None), ("doc_example", DOC_EXAMPLE, 28, DOC_LEADS),
         ("plain_session", PLAIN_SESSION, 28, None)]

# templates that must appear (shapes the brief names explicitly); the rest are drawn at random
MUST = {
    # key_pairs
    "k_spark_s3a_inline", "k_log_colon_pair", "k_jira_paren_slash", "k_java_jclouds", "k_swift_aws_ios",
    "k_kotlin_oss_android", "k_rust_rusoto_static", "k_cs_minio_builder", "k_cli_qshell", "k_bash_positional_script",
    "k_psql_expanded", "k_mysql_box_okx", "k_sheet_tsv_paste", "k_prose_keyid_and_secret", "k_prose_ak_sk_chinese",
    "k_email_quoted_two_lines", "k_two_line_code_block", "k_go_huawei_builder", "k_php_alibabacloud", "k_ruby_qiniu",
    "k_py_volcengine_tos", "k_js_huawei_obs", "k_ts_imagekit",
    # provider_near_value
    "v_postmark_yaml_uuid", "v_hcaptcha_json", "v_datadog_chat_dash", "v_pagerduty_prose_words", "v_linode_md_heading",
    "v_newrelic_k8s_env", "v_heroku_authorizations", "v_supabase_chat", "v_asana_arrow", "v_notion_bullets",
    "v_figma_script_comment", "v_contentful_cli_flag", "v_sanity_debug", "v_launchdarkly_relay_ini", "v_okta_chat",
    "v_auth0_cli_flags", "v_digitalocean_pipe", "v_vercel_gha_flag", "v_cloudflare_certbot_ini", "v_shopify_header",
    "v_plaid_env", "v_mailgun_label_line", "v_algolia_quote_prose", "v_pusher_prose", "v_segment_issue_quote",
    "v_mixpanel_service_account", "v_amplitude_two_keys", "v_airtable_pyairtable", "v_render_colon_nospace",
    # json_escaped
    "ji_gcloud_sa_keys_create", "ji_tfc_var_google_credentials", "ji_firebase_env_string", "ji_dotenv_local",
    "ji_docker_service_inspect", "ji_kubectl_base64d", "ji_ssm_get_parameter", "ji_jq_rs_pem", "ji_write_file_args",
    "ji_m2_settings_xml", "ji_localstorage_dump",
    # code_constants
    "c_go_jwtauth_bytes", "c_rust_default_hex_macro", "c_rust_xchacha_byte_string", "c_go_cmp_or_getenv",
    "c_ts_cipheriv_hex", "c_py_dataclass_fromhex", "c_py_nacl_secretbox", "c_java_android_buildconfig",
    "c_c_byte_array", "c_cpp_constexpr_view", "c_cs_object_initializer", "c_kotlin_okio_decodehex",
    "c_swift_pepper_bytes", "c_ruby_ar_encryption", "c_php_class_const_sodium", "c_elixir_module_attr_hmac",
    "c_scala_object_hmac", "c_sh_macopt_hexkey", "c_java_getordefault", "c_deno_env_fallback",
    # url_keys
    "u_telegram_setwebhook", "u_youtube_urllib3_log", "u_gemini_curl_key", "u_servicebus_sas", "u_teams_webhook",
    "u_s3_presigned_copy_as_curl", "u_cloudfront_signed", "u_nginx_access_log", "u_instagram_graph",
    "u_tmdb_react_fetch", "u_mattermost_hook", "u_dingtalk_robot", "u_bunny_token_auth", "u_logic_app_trigger",
    # prose_secrets
    "r_heres_my_token", "r_db_pass_i_set", "r_use_this_key_for_now", "r_heroku_api_key", "r_label_line_before",
    "r_code_block_after_sentence",
    # option_docs
    "o_clap_style_help", "o_typer_rich_help", "o_go_flag_usage", "o_yargs_help", "o_hf_auth_login",
    "o_kafka_client_properties_comments", "o_pgadmin_config_comments", "o_terraform_docs_inputs",
    "o_bitnami_postgres_env_docs", "o_podman_login",
    # infra_ids
    "i_openssl_dgst", "i_pipfile_lock", "i_cargo_checksum_json", "i_bun_lock", "i_go_mod_download_json",
    "i_terraform_plan_replace", "i_kubectl_describe_node", "i_docker_manifest_inspect", "i_curl_trace_headers",
    "i_git_log_graph", "i_s3_error_xml", "i_aws_kms_keys_aliases", "i_gcp_log_entry",
    # secret_word_identifiers
    "s_rustc_secretstring", "s_java_weakkeyexception", "s_gradle_test_output", "s_gnupg_pass_tree",
    "s_go_token_type_consts", "s_yaml_durations_config", "s_mysql_show_create_table", "s_laravel_migration",
    "s_typeorm_entity", "s_zod_schema", "s_shellcheck_bearer",
    # doc_example
    "d_ansible_vault_id_vars", "d_sops_dotenv", "d_kubeseal_output_json", "d_k8s_dependent_env",
    "d_cloudbuild_available_secrets", "d_op_inject_template", "d_doppler_references", "d_infisical_refs",
    "d_bank_vaults_env", "d_copilot_manifest_secrets", "d_aws_docs_create_access_key", "d_config_sample_toml",
    "d_redacted_logs", "d_sequential_placeholders", "d_jest_setup_fakes",
    # plain_session
    "p_xxd_png_header", "p_mime_base64_attachment", "p_minified_js", "p_ulid_request_logs", "p_ksuid_event_log",
    "p_nanoid_slugs", "p_tailwind_colors", "p_git_diff_index", "p_explain_analyze", "p_jwt_structure_explainer",
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
    re.compile(r"LTAI[A-Za-z0-9]{16,}"), re.compile(r"AKID[A-Za-z0-9]{32}"), re.compile(r"dop_v1_[0-9a-f]{64}"),
    re.compile(r"shp(at|ss|ca|pa)_[0-9a-f]{32}"), re.compile(r"sbp_[0-9a-f]{40}"), re.compile(r"figd_"),
    re.compile(r"CFPAT-"), re.compile(r"ntn_[A-Za-z0-9]{40,}"), re.compile(r"lin_api_"), re.compile(r"NRAK-"),
    re.compile(r"dckr_pat_"), re.compile(r"sntry[us]_"), re.compile(r"pul-[0-9a-f]{40}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}"),
    re.compile(r"\d{8,10}:AA[A-Za-z0-9_-]{33}"), re.compile(r"EAAA[A-Za-z0-9_-]{50,}"),
]
ALLOWED_IN_CLEAN = {"AKIAIOSFODNN7EXAMPLE", "ASIAJEXAMPLEXEG2JICEA"}


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
                    if not any(m.group(0) in a for a in ALLOWED_IN_CLEAN):
                        problems.append((c["_fn"], m.group(0)[:40]))
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
        rec = {"id": "t4-%04d" % i, "family": c["family"], "expect": c["expect"], "text": c["text"],
               "secrets": c["secrets"]}
        assert rec["id"] not in ids
        ids.add(rec["id"])
        out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    counts = Counter((c["family"], c["expect"]) for c in cases)
    used = Counter(c["_fn"] for c in cases)
    assert max(used.values()) == 1
    total_tpl = sum(len(f) for _, f, _ in SECRET) + sum(len(f) for _, f, _, _ in CLEAN)
    print("wrote %d cases, %d listed secrets (%d of %d templates used, each once)" % (
        len(cases), n_secrets, len(used), total_tpl), file=sys.stderr)
    for fam, fns, n in SECRET:
        print("  %-26s secret %3d  (%d templates)" % (fam, counts[(fam, "secret")], len(fns)), file=sys.stderr)
    for fam, fns, n, _ in CLEAN:
        print("  %-26s clean  %3d  (%d templates)" % (fam, counts[(fam, "clean")], len(fns)), file=sys.stderr)
    print("validation: every secret occurs verbatim in its text; ids unique; no real-looking credential shape or "
          "other case's secret in any clean text", file=sys.stderr)


if __name__ == "__main__":
    main()
