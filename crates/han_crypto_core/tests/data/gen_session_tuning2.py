#!/usr/bin/env python3
"""Generate session_tuning2.jsonl: a second tuning set for the secret-redaction engine.

Each line: {"id": "t2-NNNN", "type", "expect": "secret"|"clean", "text", "secrets": [...]}.

Focus: the hardest shapes seen in AI coding-session text -- CLI help / man pages and
config comments that talk about passwords and tokens (clean), identifiers and ids that
sit next to the words key/token/secret (clean), visibly fake vendor-doc values (clean),
and real-looking secrets beside ids, provider names, JSON escapes and code expressions.

Every secret is drawn from a seeded PRNG (seed 20261202) using the alphabet / length /
prefix of the format it imitates; none of them is, or ever was, a real credential.
Only the secret halves of pairs are listed (never OAuth client ids, account SIDs, app
ids, key ids or public keys), except AWS / Alibaba access key IDs, which are listed.
Secrets are listed exactly as they occur in the text (JSON-escaped where the text is
JSON).  All templates are new relative to gen_session_tuning.py.

Run:  python3 gen_session_tuning2.py
"""
import base64
import json
import os
import random
import re
import string
import uuid

SEED = 20261202
R = random.Random(SEED)

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
ALNUM = UP + LO + DG
HEX = "0123456789abcdef"
HEXU = "0123456789ABCDEF"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
B32 = UP + "234567"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
PWCH = ALNUM + "!#%*-_.+"


# ---------------------------------------------------------------- basic helpers
def rs(n, a=ALNUM):
    return "".join(R.choice(a) for _ in range(n))


def mixed(n, a=ALNUM):
    """Random string that contains upper, lower and a digit (looks like a generated key)."""
    need = [cls for cls in (UP, LO, DG) if any(c in cls for c in a)]
    while True:
        s = rs(n, a)
        if all(any(c in cls for c in s) for cls in need):
            return s


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
    """s as it appears inside a JSON string literal."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


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


REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "ap-southeast-1",
           "ap-northeast-1", "ca-central-1"]
ALI_REGIONS = ["cn-hangzhou", "cn-shanghai", "cn-beijing", "ap-southeast-1", "eu-central-1"]
SERVICES = ["orders-api", "identity", "ledger-sync", "mailer", "catalog", "fulfilment", "risk-engine", "gateway",
            "analytics-etl", "uploads"]
USERS = ["nadia", "deploy", "kwame", "ci-bot", "ops", "yuki", "lars", "admin", "svc_app", "ingest"]
ORGS = ["fabrikam", "wayne-ent", "soylent", "cyberdyne", "vandelay", "stark-labs", "oscorp", "massive-dynamic"]
REPOS = ["storefront", "backend", "infra-live", "mobile", "ml-platform", "billing", "docs-site", "edge"]
NAMES = ["Nadia Haddad", "Kwame Mensah", "Yuki Tanaka", "Lars Eriksen", "Sofia Rossi", "Omar Farouk", "Mei Lin"]
BUCKETS = ["raw-events", "exports", "ml-datasets", "backups", "static-assets", "invoices-archive"]


def email():
    return "%s@%s.io" % (pick(USERS).replace("_", "."), pick(ORGS))


# ---------------------------------------------------------------- secret shapes
def aws_id(p="AKIA"):
    return p + rs(16, B32)


def aws_secret():
    return mixed(40, B64)


def sts_token():
    return "IQoJb3JpZ2luX2Vj" + rs(rint(380, 520), B64) + pick(["", "=", "=="])


def ali_id():
    return pick(["LTAI5t", "LTAI4G"]) + rs(18)


def ali_secret():
    return mixed(30)


def password(n=None, a=PWCH):
    n = n or rint(14, 24)
    return mixed(n, a)


def jwt(claims=None, alg="HS256"):
    h = b64u(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    now = rint(1764000000, 1790000000)
    c = {"iat": now, "exp": now + pick([3600, 86400, 315360000])}
    if claims:
        c.update(claims)
    p = b64u(json.dumps(c, separators=(",", ":")).encode())
    return h + "." + p + "." + rs(43 if alg == "HS256" else 342, B64URL)


def pem_block(label, der, width=64):
    return "-----BEGIN %s-----\n%s\n-----END %s-----" % (label, wrap(b64e(der), width), label)


def rsa_pem():
    return pem_block("RSA PRIVATE KEY", bytes.fromhex("308204a40201000282010100") + rbytes(1180))


def pkcs8_pem():
    pre = bytes.fromhex("308204be020100300d06092a864886f70d0101010500048204a8308204a40201000282010100")
    return pem_block("PRIVATE KEY", pre + rbytes(1168))


def pkcs8_ec_pem():
    der = bytes.fromhex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420") + rbytes(32) + \
        bytes.fromhex("a144034200") + b"\x04" + rbytes(64)
    return pem_block("PRIVATE KEY", der)


def ec_pem():
    der = (bytes.fromhex("30770201010420") + rbytes(32) + bytes.fromhex("a00a06082a8648ce3d030107a14403420004")
           + rbytes(64))
    return pem_block("EC PRIVATE KEY", der)


def openssh_pem(comment=None):
    pub = rbytes(32)
    c = (comment or "%s@%s" % (pick(USERS), pick(["laptop", "build-01", "mbp"]))).encode()
    der = (b"openssh-key-v1\x00" + b"\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01"
           + b"\x00\x00\x003\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00\x88"
           + rbytes(8) + b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + pub + b"\x00\x00\x00@" + rbytes(64)
           + bytes([0, 0, 0, len(c)]) + c + b"\x01\x02\x03")
    return pem_block("OPENSSH PRIVATE KEY", der, 70)


def wg_key():
    return b64e(rbytes(32))


def age_secret():
    return "AGE-SECRET-KEY-1" + rs(58, BECH32)


def age_public():
    return "age1" + rs(58, BECH32.lower())


def fernet_key():
    return base64.urlsafe_b64encode(rbytes(32)).decode()


def ssh_ed25519_pub():
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + rbytes(32)
    return "ssh-ed25519 " + b64e(blob)


def fp_sha256():
    return "SHA256:" + b64e(rbytes(32)).rstrip("=")


def colon_hex(n):
    return ":".join(hx(2).upper() for _ in range(n))


def gh_pat():
    return "github_pat_11" + rs(20, UP + DG) + "_" + rs(59)


def ghp():
    return "ghp_" + rs(36)


def stripe_sk():
    return "sk_live_51" + rs(97)


def openai_key():
    return "sk-proj-" + rs(74, ALNUM + "-_") + "T3BlbkFJ" + rs(74, ALNUM + "-_")


def anthropic_key():
    return "sk-ant-api03-" + rs(93, ALNUM + "-_") + "AA"


def slack_bot():
    return "xoxb-%d-%d-%s" % (rint(10 ** 10, 10 ** 12), rint(10 ** 10, 10 ** 12), rs(24))


def vault_token():
    return "hvs.CAESI" + rs(86, B64URL)


def snowflake_id():
    return str(rint(10 ** 17, 13 * 10 ** 17))


# ================================================================ CLEAN: option_docs
def o_redis_cli():
    return fill("""$ redis-cli --help | head -24
redis-cli @@v@@

Usage: redis-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server.
                     You can also use the REDISCLI_AUTH environment
                     variable to pass this password more safely
                     (if both are used, this argument takes precedence).
  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
  --pass <password>  Alias of -a for consistency with the new --user option.
  --askpass          Force user to input password with mask from STDIN.
                     If this argument is used, '-a' and REDISCLI_AUTH
                     environment variable will be ignored.
  -u <uri>           Server URI on format redis://user:password@host:port/dbnum
                     User, password and dbnum are optional. For authentication
                     without a username, use username 'default'. For TLS, use
                     the scheme 'rediss'.
  -r <repeat>        Execute specified command N times.
  -i <interval>      When -r is used, waits <interval> seconds per command.
  -n <db>            Database number.
  --tls              Establish a secure TLS connection.
  --key <file>       Client private key file to authenticate with.""", v=pick(["7.2.4", "7.4.1", "7.0.15"]))


def o_mysql_config_editor():
    return fill("""$ mysql_config_editor set --help
mysql_config_editor  Ver @@v@@ for Linux on x86_64 (MySQL Community Server - GPL)
Copyright (c) 2012, 2024, Oracle and/or its affiliates.

MySQL Configuration Utility.

Description: Write a login path to the login file.
Usage: mysql_config_editor [program options] [set [command options]]
  -?, --help          Display this help and exit.
  -h, --host=name     Host name to be entered into the login file.
  -G, --login-path=name
                      Name of the login path to use in the login file. (Default
                      : client)
  -p, --password      Prompt for password to be entered into the login file.
  -u, --user=name     User name to be entered into the login file.
  -S, --socket=name   Socket path to be entered into login file.
  -P, --port=name     Port number to be entered into login file.
  -W, --warn          Warn and ask for confirmation if set command attempts to
                      overwrite an existing login path (enabled by default).
                      (Defaults to on; use --skip-warn to disable.)""", v=pick(["8.0.36", "8.4.2", "8.0.40"]))


def o_createuser():
    return """$ createuser --help
createuser creates a new PostgreSQL role.

Usage:
  createuser [OPTION]... [ROLENAME]

Options:
  -c, --connection-limit=N  connection limit for role (default: no limit)
  -d, --createdb            role can create new databases
  -D, --no-createdb         role cannot create databases (default)
  -e, --echo                show the commands being sent to the server
  -g, --member-of=ROLE      new role will be a member of ROLE
  -i, --inherit             role inherits privileges of roles it is a
                            member of (default)
  -l, --login               role can login (default)
  -P, --pwprompt            assign a password to new role
  -r, --createrole          role can create, alter, drop, comment on,
                            change the security label for, and grant or
                            revoke membership in other roles
  -s, --superuser           role will be superuser
  -v, --valid-until=TIMESTAMP
                            password expiration date and time for role

Connection options:
  -h, --host=HOSTNAME       database server host or socket directory
  -p, --port=PORT           database server port
  -U, --username=USERNAME   user name to connect as (not the one to create)
  -w, --no-password         never prompt for password
  -W, --password            force password prompt"""


def o_curl_grep():
    return """$ curl --help all | grep -iE 'pass|key|token|user '
     --key <key>                          Private key filename
     --key-type <type>                    Private key file type (DER/PEM/ENG)
     --oauth2-bearer <token>              OAuth 2 Bearer Token
     --pass <phrase>                      Passphrase for the private key
     --proxy-key <key>                    Private key for HTTPS proxy
     --proxy-key-type <type>              Private key file type for proxy
     --proxy-pass <phrase>                Passphrase for private key for HTTPS proxy
     --proxy-tlspassword <string>         TLS password for HTTPS proxy
 -U, --proxy-user <user:password>         Proxy user and password
     --tlspassword <string>               TLS password
     --tlsuser <name>                     TLS username
 -u, --user <user:password>               Server user and password"""


def o_openssl_req():
    return """$ openssl req -help 2>&1 | sed -n '/Keys and Signing/,/^$/p'
Keys and Signing options:
 -key val            Key for signing, and to include unless -in given
 -keyform format     Key file format (ENGINE, other values ignored)
 -pubkey             Output public key
 -keyout outfile     File to write private key to
 -passin val         Private key and certificate password source
 -passout val        Output file pass phrase source
 -newkey val         Generate new key with [<alg>:]<nbits> or <alg>[:<file>] or param:<file>
 -pkeyopt val        Public key options as opt:value
 -sigopt val         Signature parameter in n:v form
 -vfyopt val         Verification parameter in n:v form
 -*                  Any supported digest"""


def o_openssl_enc():
    return """$ openssl enc -help
Usage: enc [options]

General options:
 -help               Display this summary
 -list               List ciphers
 -e                  Encrypt
 -d                  Decrypt
 -p                  Print the iv/key
 -P                  Print the iv/key and exit

Input options:
 -in infile          Input file
 -k val              Passphrase
 -kfile infile       Read passphrase from file

Output options:
 -out outfile        Output file
 -pass val           Passphrase source
 -a                  Base64 encode/decode, depending on encryption flag

Encryption options:
 -S val              Salt, in hex
 -K val              Raw key, in hex
 -iv val             IV in hex
 -md val             Use specified digest to create a key from the passphrase
 -iter +int          Specify the iteration count and force the use of PBKDF2
 -pbkdf2             Use password-based key derivation function 2 (PBKDF2)"""


def o_openssl_pkcs12():
    return """$ openssl pkcs12 -help 2>&1 | grep -E 'pass|key|nodes|noenc'
 -passin val         Input file pass phrase source
 -passout val        Output file pass phrase source
 -password val       Set PKCS#12 import/export password source
 -twopass            Separate MAC, encryption passwords
 -nokeys             Don't output private keys
 -noenc              Don't encrypt private keys
 -nodes              Don't encrypt private keys; deprecated
 -inkey val          Private key, else read from -in input file
 -keypbe val         Private key PBE algorithm (default AES-256 CBC)
 -keyex              Set key type to MS key exchange
 -keysig             Set key type to MS key signature"""


def o_ssh_keygen_man():
    return """$ man ssh-keygen | sed -n '/-N new_passphrase/,/-Q/p'
     -N new_passphrase
             Provides the new passphrase.

     -O option
             Specify a key/value option.  These are specific to the operation
             that ssh-keygen has been requested to perform.

     -P passphrase
             Provides the (old) passphrase.

     -p      Requests changing the passphrase of a private key file instead of
             creating a new private key.  The program will prompt for the file
             containing the private key, for the old passphrase, and twice for
             the new passphrase."""


def o_gpg_man():
    return """--passphrase-fd n
       Read the passphrase from file descriptor n. Only the first line will
       be read from file descriptor n. If you use 0 for n, the passphrase
       will be read from STDIN. This can only be used if only one passphrase
       is supplied.

--passphrase-file file
       Read the passphrase from file file. Only the first line will be read
       from file file. This can only be used if only one passphrase is
       supplied. Obviously, a passphrase stored in a file is of questionable
       security if other users can read this file.

--passphrase string
       Use string as the passphrase. This can only be used if only one
       passphrase is supplied. Obviously, this is of very questionable
       security on a multi-user system. Don't use this option if you can
       avoid it.

--pinentry-mode mode
       Set the pinentry mode to mode. Allowed values for mode are: default,
       ask, cancel, error, loopback."""


def o_vault_kv_put():
    return fill("""$ vault kv put -h
Usage: vault kv put [options] KEY [DATA]

  Writes the data to the given path in the key-value store. The data can be of
  any type.

      $ vault kv put -mount=secret foo bar=baz

  The data can also be consumed from a file on disk by prefixing with the "@"
  symbol. For example:

      $ vault kv put -mount=secret foo @data.json

  Or it can be read from stdin using the "-" symbol:

      $ echo "abcd1234" | vault kv put -mount=secret foo bar=-

Common Options:

  -mount=<string>
      Specifies the path where the KV backend is mounted. If specified, the
      next argument will be interpreted as the secret path.

  -cas=<int>
      Specifies to use a Check-And-Set operation. If not set the write will be
      allowed. If set to 0 a write will only be allowed if the key doesn't
      exist. The default is @@cas@@.""", cas="-1")


def o_vault_approle_api():
    return fill("""### Login With AppRole

Issues a Vault token based on the presented credentials. `role_id` is always
required; if `bind_secret_id` is enabled (the default) on the AppRole,
`secret_id` is required too.

| Method | Path                  |
| :----- | :-------------------- |
| `POST` | `/auth/approle/login` |

#### Parameters

- `role_id` `(string: <required>)` - RoleID of the AppRole.
- `secret_id` `(string: <required>)` - SecretID belonging to the RoleID.

#### Sample request

```shell-session
$ vault write auth/approle/login role_id=<ROLE_ID> secret_id=<SECRET_ID>
```

Use `-wrap-ttl=@@ttl@@` when a CI job only needs to unwrap the SecretID once.""", ttl=pick(["60s", "120s", "5m"]))


def o_terraform_login():
    return fill("""$ terraform login -help
Usage: terraform [global options] login [hostname]

  Retrieves an authentication token for the given hostname, if it supports
  automatic login, and saves it in a credentials file in your home directory.

  If no hostname is provided, the default hostname is app.terraform.io, to
  log in to HCP Terraform.

  If not overridden by credentials helper settings in the CLI configuration,
  the credentials will be written to the following local file:
      /home/@@u@@/.terraform.d/credentials.tfrc.json""", u=pick(USERS))


def o_tf_variables_sensitive():
    return fill("""# variables.tf
variable "db_master_password" {
  description = "Master password for the @@s@@ RDS instance. Supply it with TF_VAR_db_master_password; never commit it."
  type        = string
  sensitive   = true
}

variable "datadog_api_key" {
  description = "Datadog API key used by the forwarder Lambda (32 hex chars)."
  type        = string
  sensitive   = true
  default     = null
}

variable "github_token" {
  description = "Fine-grained PAT with contents:read on @@o@@/@@r@@; leave null to use the GitHub App."
  type        = string
  sensitive   = true
  default     = null
}""", s=pick(SERVICES), o=pick(ORGS), r=pick(REPOS))


def o_helm_repo_add():
    return """$ helm repo add --help
add a chart repository

Usage:
  helm repo add [NAME] [URL] [flags]

Flags:
      --allow-deprecated-repos     by default, this command will not allow adding official repos that have been permanently deleted. This disables that behavior
      --ca-file string             verify certificates of HTTPS-enabled servers using this CA bundle
      --cert-file string           identify HTTPS client using this SSL certificate file
      --force-update               replace (overwrite) the repo if it already exists
  -h, --help                       help for add
      --insecure-skip-tls-verify   skip tls certificate checks for the repository
      --key-file string            identify HTTPS client using this SSL key file
      --no-update                  Ignored. Formerly, it would disabled forced updates. It is deprecated by force-update.
      --pass-credentials           pass credentials to all domains
      --password string            chart repository password
      --password-stdin             read chart repository password from stdin
      --timeout duration           time to wait for the index file download to complete (default 2m0s)
      --username string            chart repository username"""


def o_npm_token():
    return """$ npm help token
npm-token(1)

NAME
       npm-token - Manage your authentication tokens

Synopsis
         npm token list
         npm token revoke <id|token>
         npm token create [--read-only] [--cidr=list]

Description
       This lets you list, create and revoke authentication tokens.

       o   npm token list: Shows a table of all active authentication tokens.
           You can request this as JSON with --json or tab-separated values
           with --parseable.

       o   npm token create [--read-only] [--cidr=<cidr-ranges>]: Create a
           new authentication token. It can be --read-only, or accept a list
           of CIDR ranges with which to limit use of this token. This will
           prompt you for your password, and, if you have two-factor
           authentication enabled, an otp."""


def o_npm_auth_settings():
    return """Auth related configuration

The settings _auth, _authToken, username, _password, certfile and keyfile must
all be scoped to a specific registry. This ensures that npm will never send
credentials to the wrong host.

  _auth          base64 encoded "username:password" (legacy basic auth)
  _authToken     bearer token for the registry
  _password      base64 encoded password, used together with "username"
  username       registry username
  certfile       path to a client certificate file (PEM)
  keyfile        path to the client private key file (PEM)

In your project's .npmrc use an environment variable instead of a literal:
  //npm.pkg.github.com/:_authToken=${GITHUB_PACKAGES_TOKEN}"""


def o_pip_index_flags():
    return """$ pip install --help | grep -A2 -E '(index-url|--cert|client-cert|keyring)'
  -i, --index-url <url>       Base URL of the Python Package Index (default https://pypi.org/simple). This should
                              point to a repository compliant with PEP 503 (the simple repository API) or a local
                              directory laid out in the same format.
  --extra-index-url <url>     Extra URLs of package indexes to use in addition to --index-url. Should follow the
                              same rules as --index-url.
  --cert <path>               Path to PEM-encoded CA certificate bundle. If provided, overrides the default. See
                              'SSL Certificate Verification' in pip documentation for more information.
  --client-cert <path>        Path to SSL client certificate, a single file containing the private key and the
                              certificate in PEM format.
  --keyring-provider <keyring_provider>
                              Enable the credential lookup via the keyring library if user input is allowed.
                              Specify which mechanism to use [auto, disabled, import, subprocess]. (default: auto)"""


def o_twine_upload():
    return """$ twine upload --help | sed -n '/-u USERNAME/,/--non-interactive/p'
  -u USERNAME, --username USERNAME
                        The username to authenticate to the repository (package index) as. Has no effect on
                        PyPI or TestPyPI. (Can also be set via TWINE_USERNAME environment variable.)
  -p PASSWORD, --password PASSWORD
                        The password to authenticate to the repository (package index) with. (Can also be set
                        via TWINE_PASSWORD environment variable.)
  --non-interactive     Do not interactively prompt for username/password if the required credentials are
                        missing. (Can also be set via TWINE_NON_INTERACTIVE environment variable.)"""


def o_cargo_login():
    return """$ cargo login --help
Log in to a registry.

Usage: cargo login [OPTIONS] [TOKEN] [-- [ARGS]...]

Arguments:
  [TOKEN]
  [ARGS]...  Additional arguments for the credential provider

Options:
      --registry <REGISTRY>  Registry to use
  -v, --verbose...           Use verbose output (-vv very verbose/build.rs output)
  -q, --quiet                Do not print cargo log messages
      --color <WHEN>         Coloring: auto, always, never
      --config <KEY=VALUE|PATH>  Override a configuration value
  -Z <FLAG>                  Unstable (nightly-only) flags to Cargo, see 'cargo -Z help' for details
  -h, --help                 Print help

Run `cargo help login` for more detailed information."""


def o_cargo_config_ref():
    return """#### `registry.token`
* Type: string
* Default: none
* Environment: `CARGO_REGISTRY_TOKEN`

Specifies the authentication token for crates.io. Note that this should not
be set in a config file that is checked into source control; use
`cargo login` instead, which writes it to `$CARGO_HOME/credentials.toml`.

#### `registries.<name>.token`
* Type: string
* Default: none
* Environment: `CARGO_REGISTRIES_<name>_TOKEN`

Specifies the authentication token for the given registry."""


def o_docker_secret_build():
    return """$ docker secret create --help

Usage:  docker secret create [OPTIONS] SECRET [file|-]

Create a secret from a file or STDIN as content

Options:
  -d, --driver string            Secret driver
  -l, --label list               Secret labels
      --template-driver string   Template driver

$ docker buildx build --help | grep -E -- '--(secret|ssh)'
      --secret stringArray            Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")
      --ssh stringArray               SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>|<key>[,<key>]]")"""


def o_kubectl_docker_registry():
    return """$ kubectl create secret docker-registry --help
Create a new secret for use with Docker registries.

        Dockercfg secrets are used to authenticate against Docker registries.

        When using the Docker command line to push images, you can authenticate to a given registry by running:
        '$ docker login DOCKER_REGISTRY_SERVER --username=DOCKER_USER --password=DOCKER_PASSWORD --email=DOCKER_EMAIL'.

Examples:
  # If you do not already have a .dockercfg file, create a dockercfg secret directly
  kubectl create secret docker-registry my-secret --docker-server=DOCKER_REGISTRY_SERVER --docker-username=DOCKER_USER --docker-password=DOCKER_PASSWORD --docker-email=DOCKER_EMAIL

  # Create a new secret named my-secret from ~/.docker/config.json
  kubectl create secret docker-registry my-secret --from-file=path/to/.docker/config.json

Options:
    --docker-email='':
        Email for Docker registry

    --docker-password='':
        Password for Docker registry authentication

    --docker-server='https://index.docker.io/v1/':
        Server location for Docker registry

    --docker-username='':
        Username for Docker registry authentication"""


def o_kubectl_set_credentials():
    return """$ kubectl config set-credentials --help
Set a user entry in kubeconfig.

 Specifying a name that already exists will merge new fields on top of existing values.

        Client-certificate flags:
        --client-certificate=certfile --client-key=keyfile

        Bearer token flags:
        --token=bearer_token

        Basic auth flags:
        --username=basic_user --password=basic_password

 Bearer token and basic auth are mutually exclusive.

Examples:
  # Set only the "client-key" field on the "cluster-admin"
  # entry, without touching other values
  kubectl config set-credentials cluster-admin --client-key=~/.kube/admin.key

  # Enable the OpenID Connect auth provider for the "cluster-admin" entry with additional arguments
  kubectl config set-credentials cluster-admin --auth-provider=oidc --auth-provider-arg=client-id=foo --auth-provider-arg=client-secret=bar"""


def o_kubectl_create_token():
    return """$ kubectl create token --help
Request a service account token.

Examples:
  # Request a token to authenticate to the kube-apiserver as the service account "myapp" in the current namespace
  kubectl create token myapp

  # Request a token with a custom expiration
  kubectl create token myapp --duration 10m

Options:
    --audience=[]:
        Audience of the requested token. If unset, defaults to requesting a token for use with the Kubernetes API
        server. May be repeated to request a token valid for multiple audiences.

    --bound-object-kind='':
        Kind of an object to bind the token to. Supported kinds are Node, Pod, Secret. If set, --bound-object-name
        must be provided.

    --duration=0s:
        Requested lifetime of the issued token. If not set or if set to 0, the lifetime will be determined by the
        server automatically. The server may return a token with a longer or shorter lifetime."""


def o_gh_secret_set():
    return """$ gh secret set --help
Set a value for a secret on one of the following levels:
- repository (default): available to GitHub Actions runs or Dependabot in a repository
- environment: available to GitHub Actions runs for a deployment environment in a repository
- organization: available to GitHub Actions runs, Dependabot, or Codespaces within an organization
- user: available to Codespaces for your user

Secret values are locally encrypted before being sent to GitHub.

USAGE
  gh secret set <secret-name> [flags]

FLAGS
  -a, --app string           Set the application for a secret: {actions|codespaces|dependabot}
  -b, --body string          The value for the secret (reads from standard input if not specified)
  -e, --env environment      Set deployment environment secret
  -f, --env-file file        Load secret names and values from a dotenv-formatted file
      --no-store             Print the encrypted, base64-encoded value instead of storing it on GitHub
  -o, --org organization     Set organization secret

EXAMPLES
  # Paste secret value for the current repository in an interactive prompt
  $ gh secret set MYSECRET

  # Read secret value from an environment variable
  $ gh secret set MYSECRET --body "$ENV_VALUE"

  # Read secret value from a file
  $ gh secret set MYSECRET < myfile.txt"""


def o_gh_auth_status():
    u = pick(USERS).replace("_", "-")
    return fill("""$ gh auth token --help
This command outputs the authentication token for an account on a given GitHub host.

USAGE
  gh auth token [flags]

FLAGS
  -h, --hostname string   The hostname of the GitHub instance authenticated with
  -u, --user string       The account to output the token for

$ gh auth status
github.com
  ✓ Logged in to github.com account @@u@@ (keyring)
  - Active account: true
  - Git operations protocol: https
  - Token: gho_************************************
  - Token scopes: 'gist', 'read:org', 'repo', 'workflow'""", u=u)


def o_aws_assume_role():
    return """$ aws sts assume-role help | sed -n '/OUTPUT/,/Expiration/p'
OUTPUT
       Credentials -> (structure)
          The temporary security credentials, which include an access key ID,
          a secret access key, and a security (or session) token.

              Note
              The size of the security token that STS API operations return is
              not fixed. We strongly recommend that you make no assumptions
              about the maximum size.

          AccessKeyId -> (string)
              The access key ID that identifies the temporary security
              credentials.

          SecretAccessKey -> (string)
              The secret access key that can be used to sign requests.

          SessionToken -> (string)
              The token that users must pass to the service API to use the
              temporary credentials.

          Expiration -> (timestamp)
              The date on which the current credentials expire."""


def o_aws_secretsmanager():
    return """$ aws secretsmanager put-secret-value help | sed -n '/--secret-string/,/--version-stages/p'
       --secret-string (string)
          The text to encrypt and store in the new version of the secret.

          You must include SecretBinary or SecretString , but not both.

          We recommend you create the secret string as JSON key/value pairs,
          as shown in the example.

          Sensitive: This field contains sensitive information, so the service
          does not include it in CloudTrail log entries. If you create your
          own log entries, you must also avoid logging the information in this
          field.

       --version-stages (list)"""


def o_aws_s3_ssec():
    return """$ aws s3 cp help | sed -n '/--sse-c-key /,/--sse-kms-key-id/p'
       --sse-c-key (blob) The customer-provided encryption key to use to
       server-side encrypt the object in S3. If you provide this value,
       --sse-c must be specified as well. The key provided should not be
       base64 encoded.

       --sse-kms-key-id (string) The customer-managed AWS Key Management
       Service (KMS) key ID that should be used to server-side encrypt the
       object in S3. You should only provide this parameter if you are using
       a customer managed customer master key (CMK) and not the AWS managed
       KMS CMK."""


def o_gcloud_print_token():
    return """NAME
    gcloud auth print-access-token - print an access token for the specified
        account

SYNOPSIS
    gcloud auth print-access-token [ACCOUNT] [--lifetime=LIFETIME]
        [--scopes=[SCOPE,...]] [GCLOUD_WIDE_FLAG ...]

DESCRIPTION
    gcloud auth print-access-token generates and prints an access token for
    the current account. See RFC6749 (https://tools.ietf.org/html/rfc6749)
    for more information about access tokens.

FLAGS
     --lifetime=LIFETIME
        Access token lifetime. The default access token lifetime is 3600
        seconds, but you can use this flag to reduce the lifetime or extend it
        up to 43200 seconds (12 hours). The org policy constraint
        constraints/iam.allowServiceAccountCredentialLifetimeExtension must be
        set if you want to extend the lifetime of the access token."""


def o_gcloud_secrets_add():
    return """$ gcloud secrets versions add --help
NAME
    gcloud secrets versions add - create a new version of an existing secret

SYNOPSIS
    gcloud secrets versions add SECRET --data-file=PATH [--location=LOCATION]
        [GCLOUD_WIDE_FLAG ...]

REQUIRED FLAGS
     --data-file=PATH
        File path from which to read secret data. Set this to "-" to read the
        secret data from stdin.

EXAMPLES
    Create a new version of an existing secret named 'my-secret' with secret
    data "s3cr3t":

        $ printf "s3cr3t" | gcloud secrets versions add my-secret \\
            --data-file=-"""


def o_gcloud_sa_keys():
    return """SYNOPSIS
    gcloud iam service-accounts keys create OUTPUT-FILE
        --iam-account=IAM_ACCOUNT [--key-file-type=KEY_FILE_TYPE; default="json"]
        [GCLOUD_WIDE_FLAG ...]

DESCRIPTION
    Create a private key for a service account. The key is written to
    OUTPUT-FILE; anyone with the file can act as the service account, so
    prefer Workload Identity Federation where possible.

POSITIONAL ARGUMENTS
     OUTPUT-FILE
        The path where the resulting private key should be written. File
        system write permission will be checked on the specified path prior to
        the key creation.

FLAGS
     --key-file-type=KEY_FILE_TYPE; default="json"
        The type of key to create. KEY_FILE_TYPE must be one of: json, p12."""


def o_az_login():
    return """$ az login --help
Arguments
    --allow-no-subscriptions : Support access tenants without subscriptions. It's uncommon but useful
                               to run tenant level commands, such as `az ad`.
    --federated-token        : Federated token that can be used for OIDC token exchange.
    --identity -i            : Log in using managed identity.
    --password -p            : Credentials like user password, or for a service principal, provide
                               client secret or a pem file with key and public certificate. Will
                               prompt if not given.
    --service-principal      : Log in with a service principal.
    --tenant -t              : The Microsoft Entra tenant, must be provided when using a service
                               principal.
    --username -u            : User name, service principal client ID, or managed identity ID.

Examples
    Log in with a service principal using client secret. Use -p=secret if the first character of the
    password is '-'.
        az login --service-principal -u http://azure-cli-2016-08-05-14-31-15 -p VerySecret --tenant contoso.onmicrosoft.com"""


def o_az_keyvault_secret_set():
    return """$ az keyvault secret set --help
Arguments
    --name -n         [Required] : Name of the secret.
    --content-type --description : Description of the secret contents (e.g. password, connection
                                   string, etc).
    --disabled                   : Create secret in disabled state.  Allowed values: false, true.
    --expires                    : Expiration UTC datetime  (Y-m-d'T'H:M:S'Z').
    --encoding -e                : Source file encoding. The value is saved as a tag
                                   (`file-encoding=<val>`) and used during download to
                                   automatically encode the resulting file.  Allowed values:
                                   ascii, base64, hex, utf-16be, utf-16le, utf-8.  Default: utf-8.
    --file -f                    : Source file for secret. Use in conjunction with '--encoding'.
    --value                      : Plain text secret value. Cannot be used with '--file' or
                                   '--encoding'."""


def o_az_storage_auth():
    return """$ az storage blob upload --help | sed -n '/Storage Account Arguments/,$p'
Storage Account Arguments
    --account-key       : Storage account key. Must be used in conjunction with storage account
                          name. Environment variable: AZURE_STORAGE_KEY.
    --account-name      : Storage account name. Related environment variable:
                          AZURE_STORAGE_ACCOUNT.
    --auth-mode         : The mode in which to run the command. "login" mode will directly use
                          your login credentials for the authentication.  Allowed values: key,
                          login.
    --connection-string : Storage account connection string. Environment variable:
                          AZURE_STORAGE_CONNECTION_STRING.
    --sas-token         : A Shared Access Signature (SAS). Must be used in conjunction with
                          storage account name or service endpoint. Environment variable:
                          AZURE_STORAGE_SAS_TOKEN."""


def o_psql_meta():
    return """$ psql -c '\\?' | grep -iE 'password|conninfo|encoding'
  \\conninfo              display information about current connection
  \\encoding [ENCODING]   show or set client encoding
  \\password [USERNAME]   securely change the password for a user"""


def o_pgpass_docs():
    return """32.16. The Password File

The file .pgpass in a user's home directory can contain passwords to be used
if the connection requires a password (and no password has been specified
otherwise). Each line of the file should be in the following format:

    hostname:port:database:username:password

(You can add a reminder comment to the file by copying the line above and
preceding it with #.) Each of the first four fields can be a literal value,
or *, which matches anything. On Unix systems, the permissions on a password
file must disallow any access to world or group; achieve this by a command
such as chmod 0600 ~/.pgpass."""


def o_pg_hba():
    return fill("""# METHOD can be "trust", "reject", "md5", "password", "scram-sha-256",
# "gss", "sspi", "ident", "peer", "pam", "ldap", "radius" or "cert".
# Note that "password" sends passwords in clear text; "md5" or
# "scram-sha-256" are preferred since they send encrypted passwords.
#
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             postgres                                peer
local   all             all                                     peer
host    all             all             127.0.0.1/32            scram-sha-256
host    @@db@@          @@u@@           10.@@a@@.0.0/16            scram-sha-256
hostssl replication     replicator      10.@@a@@.4.0/24            cert""", db=pick(REPOS).replace("-", "_"), u=pick(USERS).replace("-", "_"),
                a=str(rint(0, 40)))


def o_postgresql_conf():
    return """# - Authentication -

#authentication_timeout = 1min          # 1s-600s
#password_encryption = scram-sha-256    # scram-sha-256 or md5
#scram_iterations = 4096

# - SSL -

ssl = on
#ssl_ca_file = ''
ssl_cert_file = '/etc/ssl/certs/pg-server.crt'
#ssl_crl_file = ''
ssl_key_file = '/etc/ssl/private/pg-server.key'
#ssl_passphrase_command = ''
#ssl_passphrase_command_supports_reload = off"""


def o_redis_acl():
    return """ACL rules (from `ACL SETUSER` in the Redis docs)

  on / off        Enable or disable the user.
  ><password>     Add this password to the list of valid passwords for the user.
                  For example >mypass will add "mypass" to the list.
  <<password>     Remove this password from the list of valid passwords.
  #<hash>         Add this SHA-256 hash value to the list of valid passwords for
                  the user. The hash will be compared with the hash of a password
                  entered for an ACL user.
  nopass          All the set passwords of the user are removed, and the user is
                  flagged as requiring no password.
  resetpass       Flushes the list of allowed passwords and removes nopass."""


def o_mongosh_auth():
    return """$ mongosh --help | sed -n '/Authentication Options/,/^$/p'
  Authentication Options:

    -u, --username [arg]                       Username for authentication
    -p, --password [arg]                       Password for authentication
        --authenticationDatabase [arg]         User source (defaults to dbname)
        --authenticationMechanism [arg]        Authentication mechanism
        --awsIamSessionToken [arg]             AWS IAM Temporary Session Token ID
        --gssapiServiceName [arg]              Service name to use when authenticating using GSSAPI/Kerberos
        --sspiHostnameCanonicalization [arg]   Specify the SSPI hostname canonicalization (none or forward, available on Windows)
        --sspiRealmOverride [arg]              Specify the SSPI server realm (available on Windows)"""


def o_wget_auth():
    return """$ wget --help | grep -E -- '--(user|password|ask-password|http-|private-key|certificate)'
       --user=USER                 set both ftp and http user to USER
       --password=PASS             set both ftp and http password to PASS
       --ask-password              prompt for passwords
       --http-user=USER            set http user to USER
       --http-password=PASS        set http password to PASS
       --certificate=FILE          client certificate file
       --certificate-type=TYPE     client certificate type, PEM or DER
       --private-key=FILE          private key file
       --private-key-type=TYPE     private key type, PEM or DER"""


def o_ldapsearch():
    return """$ ldapsearch --help 2>&1 | sed -n '/Common options/,$p' | grep -E '^  -(D|w|W|x|y|Y|H|Z)'
  -D binddn  bind DN
  -H URI     LDAP Uniform Resource Identifier(s)
  -w passwd  bind password (for simple authentication)
  -W         prompt for bind password
  -x         Simple authentication
  -y file    Read password from file
  -Y mech    SASL mechanism
  -Z         Start TLS request (-ZZ to require successful response)"""


def o_mosquitto_pub():
    return """$ mosquitto_pub --help | grep -E '^ (-u|-P|--cafile|--cert|--key|--psk)'
 -u : provide a username
 -P : provide a password
 --cafile : path to a file containing trusted CA certificates to enable encrypted
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
 --keyform : keyfile type, can be either "pem" or "engine".
 --psk : pre-shared-key in hexadecimal (no leading 0x) to enable TLS-PSK mode.
 --psk-identity : client identity string for TLS-PSK mode."""


def o_keytool():
    return """$ keytool -genkeypair -help
keytool -genkeypair [OPTION]...

Generates a key pair

Options:

 -alias <alias>          alias name of the entry to process
 -keyalg <alg>           key algorithm name
 -keysize <size>         key bit size
 -groupname <name>       Group name. For example, an Elliptic Curve name.
 -sigalg <alg>           signature algorithm name
 -dname <name>           distinguished name
 -validity <days>        validity number of days
 -keypass <arg>          key password
 -keystore <keystore>    keystore name
 -storepass <arg>        keystore password
 -storetype <type>       keystore type
 -v                      verbose output
 -protected              password through protected mechanism

Use "keytool -?, -h, or --help" for this help message"""


def o_macos_security():
    return """$ security add-generic-password -h
Usage: add-generic-password [-a account] [-s service] [-w password] [options...] [-A|-T appPath] [keychain]
    -a  Specify account name (required)
    -c  Specify item creator (optional four-character code)
    -D  Specify kind (default is "application password")
    -j  Specify comment string (optional)
    -l  Specify label (if omitted, service name is used as default label)
    -s  Specify service name (required)
    -p  Specify password to be added (legacy option, equivalent to -w)
    -w  Specify password to be added. Put at end of command to be prompted (recommended)
    -A  Allow any application to access this item without warning (insecure, not recommended!)
    -T  Specify an application which may access this item (multiple -T options are allowed)
    -U  Update item if it already exists (if omitted, the item cannot already exist)"""


def o_pass_usage():
    return """$ pass help | sed -n '/pass insert/,/pass edit/p'
    pass insert [--echo,-e | --multiline,-m] [--force,-f] pass-name
        Insert new password. Optionally, echo the password back to the console
        during entry. Or, optionally, the entry may be multiline. Prompt before
        overwriting existing password unless forced.
    pass generate [--no-symbols,-n] [--clip,-c] [--in-place,-i | --force,-f] pass-name [pass-length]
        Generate a new password of pass-length (or 25 if unspecified) with optionally no symbols.
        Optionally put it on the clipboard and clear board after 45 seconds.
        Prompt before overwriting existing password unless forced.
        Optionally replace only the first line of an existing file with a new password.
    pass edit pass-name"""


def o_bw_unlock():
    return """$ bw unlock --help
Usage: bw unlock [options] [password]

Unlock the vault and return a new session key.

Options:
  --check                        Check lock status.
  --passwordenv <passwordenv>    Environment variable storing your password
  --passwordfile <passwordfile>  Path to a file containing your password as its first line
  --raw                          Return only the session key.
  -h, --help                     display help for command

Notes:

  After unlocking, any previous session keys will no longer be valid.

Examples:

  bw unlock
  bw unlock myPassword321
  bw unlock myPassword321 --raw
  bw unlock --passwordenv BW_PASSWORD
  bw unlock --passwordfile ~/Users/Me/Documents/mp.txt"""


def o_age_usage():
    return """$ age --help
Usage:
    age [--encrypt] (-r RECIPIENT | -R PATH)... [--armor] [-o OUTPUT] [INPUT]
    age [--encrypt] --passphrase [--armor] [-o OUTPUT] [INPUT]
    age --decrypt [-i PATH]... [-o OUTPUT] [INPUT]

Options:
    -e, --encrypt               Encrypt the input to the output. Default if omitted.
    -d, --decrypt               Decrypt the input to the output.
    -o, --output OUTPUT         Write the result to the file at path OUTPUT.
    -a, --armor                 Encrypt to a PEM encoded format.
    -p, --passphrase            Encrypt with a passphrase.
    -r, --recipient RECIPIENT   Encrypt to the specified RECIPIENT. Can be repeated.
    -R, --recipients-file PATH  Encrypt to recipients listed at PATH. Can be repeated.
    -i, --identity PATH         Use the identity file at PATH. Can be repeated.

RECIPIENT can be an age public key generated by age-keygen ("age1...")
or an SSH public key ("ssh-ed25519 AAAA...", "ssh-rsa AAAA...")."""


def o_ansible_vault():
    return """$ ansible-vault encrypt_string --help
usage: ansible-vault encrypt_string [-h] [--encrypt-vault-id ENCRYPT_VAULT_ID] [--vault-id VAULT_IDS]
                                    [-J | --vault-password-file VAULT_PASSWORD_FILES] [-v]
                                    [--output OUTPUT_FILE] [-p | --stdin-name ENCRYPT_STRING_STDIN_NAME]
                                    [--show-input] [-n ENCRYPT_STRING_NAMES]
                                    [args ...]

options:
  --vault-id VAULT_IDS  the vault identity to use. This argument may be specified multiple times.
  -J, --ask-vault-password, --ask-vault-pass
                        ask for vault password
  --vault-password-file VAULT_PASSWORD_FILES, --vault-pass-file VAULT_PASSWORD_FILES
                        vault password file
  -p, --prompt          Prompt for the string to encrypt
  --show-input          Do not hide input when prompted for the string to encrypt
  -n ENCRYPT_STRING_NAMES, --name ENCRYPT_STRING_NAMES
                        Specify the variable name"""


def o_consul_acl_token():
    return """$ consul acl token create -h
Usage: consul acl token create [options]

  When creating a new token policies may be linked using either the -policy-id
  or the -policy-name options.

Command Options:

  -accessor=<string>
     Create the token with this Accessor ID. It must be a UUID. If not
     provided one will be auto-generated.

  -description=<string>
     A description of the token

  -expires-ttl=<duration>
     Duration of time this token should be valid for

  -secret=<string>
     Create the token with this Secret ID. It must be a UUID. If not
     provided one will be auto-generated."""


def o_vault_operator_init():
    return """$ vault operator init -h | sed -n '/Init Options/,$p'
Init Options:

  -key-shares=<int>
      Number of key shares to split the generated root key into. This is the
      number of "unseal keys" to generate. The default is 5.

  -key-threshold=<int>
      Number of key shares required to reconstruct the root key. This must be
      less than or equal to -key-shares. The default is 3.

  -pgp-keys=<string>
      Comma-separated list of paths to files on disk containing public PGP
      keys OR a comma-separated list of Keybase usernames using the format
      "keybase:<username>". When supplied, the generated unseal keys will be
      encrypted and base64-encoded in the order specified in this list.

  -root-token-pgp-key=<string>
      Path to a file on disk containing a binary or base64-encoded public PGP
      key. This can also be specified as a Keybase username using the format
      "keybase:<username>"."""


def o_doctl_auth():
    return fill("""$ doctl auth init --help
This command allows you to initialize doctl with a token that allows it to query and manage your account details and resources.

You will need an API token, which you can generate in the control panel at https://cloud.digitalocean.com/account/api/tokens.

Usage:
  doctl auth init [flags]

Flags:
  -h, --help   help for init

Global Flags:
  -t, --access-token string   API V2 access token
  -u, --api-url string        Override default API endpoint
  -c, --config string         Specify a custom config file (default "/home/@@u@@/.config/doctl/config.yaml")
      --context string        Specify a custom authentication context name""", u=pick(USERS))


def o_stripe_listen():
    return """$ stripe listen --help
Usage:
  stripe listen [flags]

Flags:
  -e, --events strings        A comma-separated list of specific events to listen for. (default [*])
  -f, --forward-to string     The URL to forward webhook events to
  -H, --headers strings       A comma-separated list of custom headers to forward. Ex: "Key1:Value1, Key2:Value2"
  -h, --help                  help for listen
      --print-secret          Only print the webhook signing secret and exit
      --skip-verify           Skip certificate verification when forwarding to HTTPS endpoints

Global Flags:
      --api-key string        Your API key to use for the command
      --config string         config file (default is $HOME/.config/stripe/config.toml)
      --device-name string    device name
      --log-level string      log level (debug, info, trace, warn, error) (default "info")
  -p, --project-name string   the project name to read from for config (default "default")"""


def o_wrangler_secret():
    return """$ npx wrangler secret put --help
wrangler secret put <key>

Create or update a secret variable for a Worker

POSITIONALS
  key  The variable name to be accessible in the Worker  [string] [required]

GLOBAL FLAGS
  -c, --config   Path to Wrangler configuration file  [string]
  -e, --env      Environment to use for operations, and for selecting .env and .dev.vars files  [string]
  -h, --help     Show help  [boolean]

OPTIONS
      --name  Name of the Worker  [string]"""


def o_fly_secrets():
    return """$ fly secrets set --help
Set one or more encrypted secrets for an application.

Secrets are provided to apps at runtime as ENV variables. Names are
case sensitive and stored as-is, so ensure names are appropriate for
the application and vm environment.

Any value that equals "-" will be assigned from STDIN instead of args.

Usage:
  fly secrets set [flags] NAME=VALUE NAME=VALUE ...

Flags:
  -a, --app string   Application name
      --detach       Return immediately instead of monitoring deployment progress
  -h, --help         help for set
      --stage        Set secrets but skip deployment for machine apps"""


def o_sentry_cli():
    return """$ sentry-cli --help | sed -n '/^Options:/,$p'
Options:
      --header <KEY:VALUE>       Custom headers that should be attached to all requests
                                 in key:value format.
      --auth-token <AUTH_TOKEN>  Use the given Sentry auth token.
      --log-level <LOG_LEVEL>    Set the log output verbosity. [possible values: trace, debug, info, warn, error]
      --quiet                    Do not print any output while preserving correct exit code.
  -h, --help                     Print help
  -V, --version                  Print version"""


def o_rclone_s3_docs():
    return """#### --s3-access-key-id

AWS Access Key ID.

Leave blank for anonymous access or runtime credentials.

Properties:

- Config:      access_key_id
- Env Var:     RCLONE_S3_ACCESS_KEY_ID
- Type:        string
- Required:    false

#### --s3-secret-access-key

AWS Secret Access Key (password).

Leave blank for anonymous access or runtime credentials.

Properties:

- Config:      secret_access_key
- Env Var:     RCLONE_S3_SECRET_ACCESS_KEY
- Type:        string
- Required:    false"""


def o_minio_mc_docs():
    return """$ mc alias set --help
NAME:
  mc alias set - add a new alias to configuration file

USAGE:
  mc alias set ALIAS URL ACCESSKEY SECRETKEY

FLAGS:
  --api value                  API signature. Valid options are '[S3v4, S3v2]'
  --path value                 bucket path lookup supported by the server. Valid options are '[auto, on, off]' (default: "auto")

EXAMPLES:
  1. Add MinIO service under "myminio" alias. For security reasons turn off bash history momentarily.
     $ set +o history
     $ mc alias set myminio http://localhost:9000 minio minio123
     $ set -o history

  2. Add MinIO service under "myminio" alias, to use dns style bucket lookup. Prompt for credentials.
     $ mc alias set myminio http://localhost:9000 --api "s3v4" --path "off"
     Enter Access Key: ****
     Enter Secret Key: ****"""


def o_b2_authorize():
    return """$ b2 account authorize --help
usage: b2 account authorize [-h] [applicationKeyId] [applicationKey]

Prompts for Backblaze ``applicationKeyId`` and ``applicationKey`` (unless they are given
on the command line).

You can authorize with either the master application key or
a normal application key.

To use the master application key, provide the application key ID and
application key from the "B2 Cloud Storage Buckets" page on
the web site: https://secure.backblaze.com/b2_buckets.htm

Stores an account auth token in a local cache, see ``b2 --help`` for details on how
the location of this cache is determined.

positional arguments:
  applicationKeyId
  applicationKey"""


def o_sshd_config():
    return """# To disable tunneled clear text passwords, change to no here!
PasswordAuthentication no
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

#PubkeyAuthentication yes

# The default is to check both .ssh/authorized_keys and .ssh/authorized_keys2
# but this is overridden so installations will only check .ssh/authorized_keys
AuthorizedKeysFile	.ssh/authorized_keys

#HostKey /etc/ssh/ssh_host_rsa_key
#HostKey /etc/ssh/ssh_host_ecdsa_key
#HostKey /etc/ssh/ssh_host_ed25519_key"""


def o_nginx_ssl_password_file():
    return """Syntax:   ssl_password_file file;
Default:  —
Context:  http, server
This directive appeared in version 1.7.3.

Specifies a file with passphrases for secret keys where each passphrase is
specified on a separate line. Passphrases are tried in turn when loading the
key.

Example:

    http {
        ssl_password_file /etc/keys/global.pass;
        ...

        server {
            server_name www1.example.com;
            ssl_certificate_key /etc/keys/first.key;
        }
    }"""


def o_gitlab_ci_vars():
    return """| Variable | Description |
|----------|-------------|
| `CI_DEPLOY_PASSWORD` | The authentication password of the GitLab Deploy Token, if the project has one. |
| `CI_DEPLOY_USER` | The authentication username of the GitLab Deploy Token, if the project has one. |
| `CI_JOB_TOKEN` | A token to authenticate with certain API endpoints. The token is valid as long as the job is running. |
| `CI_REGISTRY_PASSWORD` | The password to push containers to the GitLab project's container registry. This password value is the same as the `CI_JOB_TOKEN` and is valid only as long as the job is running. |
| `CI_REGISTRY_USER` | The username to push containers to the project's GitLab container registry. |"""


def o_readme_env_vendors():
    return fill("""### Configuration

`@@s@@` reads everything from the environment:

| Name | Default | Description |
| ---- | ------- | ----------- |
| `TWILIO_ACCOUNT_SID` | — | Account SID (starts with `AC`) |
| `TWILIO_AUTH_TOKEN` | — | Auth token for the account above; **secret** |
| `SENDGRID_API_KEY` | — | API key with Mail Send permission |
| `AWS_SECRET_ACCESS_KEY` | — | Only needed outside ECS; the task role is used otherwise |
| `WEBHOOK_TOLERANCE_SECONDS` | `300` | Max clock skew accepted when verifying signatures |
| `REDIS_PASSWORD` | empty | Leave empty for local Redis without AUTH |""", s=pick(SERVICES))


def o_datadog_env_docs():
    return """| Env var | Required | Notes |
|---|---|---|
| `DD_API_KEY` | yes | Your Datadog API key. Found under Organization Settings > API Keys. |
| `DD_APP_KEY` | for `datadog-ci synthetics` | Application key; scoped to the user that created it. |
| `DD_SITE` | no | `datadoghq.com` (default), `datadoghq.eu`, `us3.datadoghq.com`, ... |
| `DD_ENV` | no | Sets the `env` tag on all telemetry. |

Never pass the keys with `--api-key` on a shared runner; they end up in the process list."""


def o_clap_derive_code():
    b = pick(["relay", "bucketd", "shipper"])
    return fill("""/// Command-line options for `@@b@@`.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// Base URL of the upload API.
    #[arg(long, default_value = "https://upload.@@o@@.io")]
    pub endpoint: Url,

    /// API token. Prefer the environment variable so it stays out of `ps`.
    #[arg(long, env = "@@B@@_TOKEN", hide_env_values = true)]
    pub token: Option<SecretString>,

    /// Read the token from this file instead (first line only).
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,

    /// Passphrase for the client key; prompted for when omitted.
    #[arg(long, env = "@@B@@_KEY_PASSPHRASE", hide_env_values = true)]
    pub key_passphrase: Option<SecretString>,
}""", b=b, B=b.upper(), o=pick(ORGS))


def o_cobra_flags_code():
    return """func init() {
	rootCmd.PersistentFlags().StringVar(&cfg.APIKey, "api-key", "", "API key (or set ACME_API_KEY)")
	rootCmd.PersistentFlags().StringVar(&cfg.APISecret, "api-secret", "", "API secret paired with --api-key")
	rootCmd.PersistentFlags().StringVar(&cfg.PasswordFile, "password-file", "", "file containing the admin password")
	rootCmd.PersistentFlags().BoolVar(&cfg.NoVerify, "insecure", false, "skip TLS verification")
	_ = viper.BindPFlag("api_key", rootCmd.PersistentFlags().Lookup("api-key"))
	_ = viper.BindEnv("api_key", "ACME_API_KEY")
}"""


def o_mysql_cnf_docs():
    return """# ~/.my.cnf  -- read by the mysql client programs
#
# [client] options apply to every client program. Storing the password here
# avoids typing it, but the file must be readable only by you:
#     chmod 600 ~/.my.cnf
# Prefer `mysql_config_editor set --login-path=client --password`, which keeps
# an obfuscated .mylogin.cnf instead of a plain-text password.
[client]
user = app_ro
host = 127.0.0.1
# password is intentionally not set here; see above
default-character-set = utf8mb4"""


def o_prompt_flag_question():
    return pick([
        "is `mysql -p` with nothing after it going to prompt in CI and hang? I'd rather use MYSQL_PWD or --defaults-extra-file, which one is less bad?",
        "What's the difference between `vault login -method=token` and setting VAULT_TOKEN? The docs say the token helper caches it in ~/.vault-token.",
        "`helm repo add --password-stdin` vs `--password`: does the stdin one still end up in ~/.config/helm/repositories.yaml?",
        "For `az login --service-principal`, is `-p` the client secret or the certificate path? The help says 'client secret or a pem file'.",
        "Should the wrangler secret be set with `wrangler secret put API_TOKEN` or in `[vars]`? vars seem to be plain text in wrangler.toml.",
        "npm says `--otp` is required for publish now. Is that the 6-digit code or something I generate with `npm token create`?",
    ])


OPTION_DOCS = [o_redis_cli, o_mysql_config_editor, o_createuser, o_curl_grep, o_openssl_req, o_openssl_enc,
               o_openssl_pkcs12, o_ssh_keygen_man, o_gpg_man, o_vault_kv_put, o_vault_approle_api, o_terraform_login,
               o_tf_variables_sensitive, o_helm_repo_add, o_npm_token, o_npm_auth_settings, o_pip_index_flags,
               o_twine_upload, o_cargo_login, o_cargo_config_ref, o_docker_secret_build, o_kubectl_docker_registry,
               o_kubectl_set_credentials, o_kubectl_create_token, o_gh_secret_set, o_gh_auth_status,
               o_aws_assume_role, o_aws_secretsmanager, o_aws_s3_ssec, o_gcloud_print_token, o_gcloud_secrets_add,
               o_gcloud_sa_keys, o_az_login, o_az_keyvault_secret_set, o_az_storage_auth, o_psql_meta,
               o_pgpass_docs, o_pg_hba, o_postgresql_conf, o_redis_acl, o_mongosh_auth, o_wget_auth, o_ldapsearch,
               o_mosquitto_pub, o_keytool, o_macos_security, o_pass_usage, o_bw_unlock, o_age_usage,
               o_ansible_vault, o_consul_acl_token, o_vault_operator_init, o_doctl_auth, o_stripe_listen,
               o_wrangler_secret, o_fly_secrets, o_sentry_cli, o_rclone_s3_docs, o_minio_mc_docs, o_b2_authorize,
               o_sshd_config, o_nginx_ssl_password_file, o_gitlab_ci_vars, o_readme_env_vendors, o_datadog_env_docs,
               o_clap_derive_code, o_cobra_flags_code, o_mysql_cnf_docs, o_prompt_flag_question]

OPTION_LEADS = ["", "", "", "", "Tool output:\n", "from the help output:\n\n",
                "I can't tell from this which flag takes the value non-interactively:\n\n",
                "copying the relevant part of the docs here so we agree on the flags:\n\n"]


# ================================================================ CLEAN: secret_word_identifiers
def s_rustc_mismatch():
    ln = rint(40, 220)
    return fill("""error[E0308]: mismatched types
   --> src/config/credentials.rs:@@ln@@:27
    |
@@ln@@ |         let api_key: SecretString = env::var("PARTNER_API_KEY")?;
    |                      ------------   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ expected `SecretBox<str>`, found `String`
    |                      |
    |                      expected due to this
    |
    = note: expected struct `SecretBox<str>`
               found struct `String`
help: call `Into::into` on this expression to convert `String` into `SecretBox<str>`
    |
@@ln@@ |         let api_key: SecretString = env::var("PARTNER_API_KEY")?.into();
    |                                                                +++++++""", ln=str(ln))


def s_rustc_moved():
    return """error[E0382]: borrow of moved value: `refresh_token`
  --> src/oauth/client.rs:88:24
   |
81 |     let refresh_token = stored.refresh_token.clone();
   |         ------------- move occurs because `refresh_token` has type `RefreshToken`, which does not implement the `Copy` trait
...
85 |     let req = TokenRequest::refresh(refresh_token);
   |                                     ------------- value moved here
...
88 |     cache.insert(&user_id, refresh_token.secret());
   |                            ^^^^^^^^^^^^^ value borrowed here after move"""


def s_gosec():
    return fill("""$ gosec ./...
[gosec] @@d@@ @@t@@ Including rules: default
[gosec] @@d@@ @@t@@ Checking package: auth
Results:

[/src/@@r@@/internal/auth/routes.go:14] - G101 (CWE-798): Potential hardcoded credentials (Confidence: LOW, Severity: HIGH)
    13: const (
  > 14:     passwordResetPath = "/v1/auth/password-reset"
    15:     tokenRefreshPath  = "/v1/auth/token/refresh"

Summary:
  Gosec  : dev
  Files  : 41
  Lines  : 5210
  Nosec  : 0
  Issues : 1""", d=date().replace("-", "/"), t=hms(), r=pick(REPOS))


def s_pydantic_settings():
    return """Traceback (most recent call last):
  File "/app/main.py", line 6, in <module>
    settings = Settings()
  File "/usr/local/lib/python3.12/site-packages/pydantic_settings/main.py", line 171, in __init__
    super().__init__(
pydantic_core._pydantic_core.ValidationError: 2 validation errors for Settings
stripe_secret_key
  Field required [type=missing, input_value={'database_url': 'postgre...'}, input_type=dict]
    For further information visit https://errors.pydantic.dev/2.9/v/missing
jwt_signing_key
  String should have at least 32 characters [type=string_too_short, input_value='dev', input_type=str]
    For further information visit https://errors.pydantic.dev/2.9/v/string_too_short"""


def s_jsonwebtoken_node():
    return fill("""Error: secretOrPrivateKey must have a value
    at module.exports [as sign] (/app/node_modules/jsonwebtoken/sign.js:111:20)
    at issueAccessToken (/app/src/auth/tokens.js:@@l@@:14)
    at AuthController.login (/app/src/auth/controller.js:57:25)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)

Node.js v@@v@@""", l=str(rint(10, 80)), v=pick(["20.18.0", "22.11.0", "18.20.4"]))


def s_node_hmac_key():
    return """TypeError [ERR_INVALID_ARG_TYPE]: The "key" argument must be of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, KeyObject, or CryptoKey. Received undefined
    at prepareSecretKey (node:internal/crypto/keys:632:11)
    at new Hmac (node:internal/crypto/hash:182:9)
    at createHmac (node:crypto:165:10)
    at verifyWebhookSignature (/srv/app/dist/webhooks/verify.js:9:22)
    at /srv/app/dist/webhooks/router.js:21:9 {
  code: 'ERR_INVALID_ARG_TYPE'
}"""


def s_java_badpadding():
    o = pick(["fabrikam", "oscorp", "vandelay"])
    return fill("""javax.crypto.BadPaddingException: Given final block not properly padded. Such issues can arise if a bad key is used during decryption.
	at java.base/com.sun.crypto.provider.CipherCore.unpad(CipherCore.java:862)
	at java.base/com.sun.crypto.provider.CipherCore.fillOutputBuffer(CipherCore.java:942)
	at java.base/javax.crypto.Cipher.doFinal(Cipher.java:2205)
	at com.@@o@@.security.TokenCipher.decrypt(TokenCipher.java:48)
	at com.@@o@@.security.RememberMeService.readCookie(RememberMeService.java:73)
	at com.@@o@@.web.SessionFilter.doFilter(SessionFilter.java:31)""", o=o)


def s_kotlin_unresolved():
    return """e: file:///workspace/app/src/main/kotlin/com/example/net/ApiKeyInterceptor.kt:23:9 Unresolved reference 'secretKeySpec'.
e: file:///workspace/app/src/main/kotlin/com/example/net/ApiKeyInterceptor.kt:31:38 Type mismatch: inferred type is String? but String was expected
w: file:///workspace/app/src/main/kotlin/com/example/auth/TokenRepository.kt:12:5 'getEncryptedSharedPreferences' is deprecated.

> Task :app:compileDebugKotlin FAILED"""


def s_swift_error():
    return """/Users/dev/Code/Wallet/Sources/Auth/KeychainStore.swift:42:24: error: value of type 'KeychainService' has no member 'readToken'
        guard let token = try keychain.readToken(account: account) else {
                              ~~~~~~~~ ^~~~~~~~~
/Users/dev/Code/Wallet/Sources/Auth/KeychainStore.swift:58:9: warning: initialization of immutable value 'secretData' was never used; consider replacing with assignment to '_' or removing it
        let secretData = Data(password.utf8)
        ~~~~^~~~~~~~~~"""


def s_csharp_cs0103():
    return """/src/Payments.Api/Services/StripeGateway.cs(27,38): error CS0103: The name 'ClientSecret' does not exist in the current context [/src/Payments.Api/Payments.Api.csproj]
/src/Payments.Api/Services/StripeGateway.cs(41,21): warning CS8618: Non-nullable property 'WebhookSigningSecret' must contain a non-null value when exiting constructor. [/src/Payments.Api/Payments.Api.csproj]

Build FAILED.
    1 Warning(s)
    1 Error(s)"""


def s_php_hash_hmac():
    return """PHP Fatal error:  Uncaught TypeError: hash_hmac(): Argument #3 ($key) must be of type string, null given in /var/www/app/src/Webhook/SignatureVerifier.php:27
Stack trace:
#0 /var/www/app/src/Webhook/SignatureVerifier.php(27): hash_hmac('sha256', '{"id":"evt_1","...', NULL)
#1 /var/www/app/src/Controller/WebhookController.php(44): App\\Webhook\\SignatureVerifier->verify(Object(Symfony\\Component\\HttpFoundation\\Request))
#2 {main}
  thrown in /var/www/app/src/Webhook/SignatureVerifier.php on line 27"""


def s_rails_secret_key_base():
    return """$ RAILS_ENV=production bin/rails assets:precompile
bin/rails aborted!
ArgumentError: Missing `secret_key_base` for 'production' environment, set this string with `bin/rails credentials:edit` (ArgumentError)
/app/config/environment.rb:5:in `<main>'
Tasks: TOP => environment
(See full trace by running task with --trace)"""


def s_tf_missing_arg():
    return """╷
│ Error: Missing required argument
│
│   with provider["registry.terraform.io/hashicorp/azuread"],
│   on providers.tf line 12, in provider "azuread":
│   12: provider "azuread" {
│
│ The argument "client_secret" is required, but no definition was found.
╵"""


def s_kubectl_get_secrets():
    rows = [("db-password", "Opaque", "1"), ("registry-token", "kubernetes.io/dockerconfigjson", "1"),
            ("tls-private-key", "kubernetes.io/tls", "2"), ("stripe-webhook-secret", "Opaque", "1"),
            ("sh.helm.release.v1.%s.v%d" % (pick(SERVICES), rint(2, 30)), "helm.sh/release.v1", "1"),
            ("oauth-client-secret", "Opaque", "2")]
    R.shuffle(rows)
    out = ["%-36s %-32s %-5s %s" % ("NAME", "TYPE", "DATA", "AGE")]
    for n, t, d in rows[:5]:
        out.append("%-36s %-32s %-5s %s" % (n, t, d, "%dd" % rint(1, 200)))
    return "$ kubectl get secrets -n %s\n" % pick(["prod", "payments", "default"]) + "\n".join(out)


def s_find_secret_files():
    return """$ find . -iname '*secret*' -o -iname '*token*' -o -iname '*.pem' | grep -v node_modules
./config/secrets.example.yml
./src/auth/token_store.ts
./src/auth/__tests__/token_store.test.ts
./src/lib/secret-manager.ts
./deploy/k8s/sealed-secret.yaml
./certs/dev-ca.pem
./scripts/rotate_api_tokens.sh"""


def s_git_status():
    return fill("""$ git status
On branch @@b@@
Your branch is ahead of 'origin/@@b@@' by 2 commits.

Changes not staged for commit:
  (use "git add <file>..." to update what will be committed)
	modified:   src/auth/api_key.rs
	modified:   src/auth/password_reset.rs
	modified:   tests/fixtures/tokens.json

Untracked files:
  (use "git add <file>..." to include in what will be committed)
	.env.example
	src/auth/secret_rotation.rs

no changes added to commit (use "git add" and/or "git commit -a")""", b=pick(["feat/key-rotation", "fix/reset-token", "auth-refactor"]))


def s_grep_password_py():
    return """$ grep -rn "password" app/ --include=*.py | head -8
app/auth/views.py:22:    password = request.form["password"]
app/auth/views.py:23:    if not user or not check_password_hash(user.password_hash, password):
app/auth/views.py:41:def reset_password(token: str):
app/auth/forms.py:9:    password = PasswordField("Password", validators=[DataRequired(), Length(min=12)])
app/auth/forms.py:10:    confirm_password = PasswordField("Repeat password", validators=[EqualTo("password")])
app/models.py:17:    password_hash = db.Column(db.String(255), nullable=False)
app/models.py:30:    def set_password(self, password: str) -> None:
app/models.py:31:        self.password_hash = generate_password_hash(password)"""


def s_structured_logs():
    t = ts_seq(4)
    return fill("""time=@@t0@@ level=INFO msg="loaded signing keys" component=jwks keys=2 active_kid=@@kid@@
time=@@t1@@ level=WARN msg="token refresh failed" component=oauth provider=github err="oauth2: token expired and refresh token is not set" user_id=@@u@@
time=@@t2@@ level=INFO msg="api key revoked" component=keys key_prefix=ak_live_@@p@@ actor=admin
time=@@t3@@ level=ERROR msg="secret not found" component=secrets path=kv/data/@@s@@/smtp-password""",
                t0=t[0], t1=t[1], t2=t[2], t3=t[3], kid="k-" + date().replace("-", "")[:6], u=str(rint(1000, 99999)),
                p=hx(4), s=pick(SERVICES))


def s_docker_build_check():
    return """$ docker build -t api:dev .
[+] Building 14.2s (12/12) FINISHED                                                docker:default
 => [internal] load build definition from Dockerfile                                        0.0s
 ...
 2 warnings found (use docker --debug to expand):
 - SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "NPM_TOKEN") (line 7)
 - SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "SENTRY_AUTH_TOKEN") (line 12)"""


def s_gha_skip_output():
    return fill("""Run ./.github/actions/get-token
Warning: Skip output 'token' since it may contain secret.
Run echo "using registry ${REGISTRY}"
using registry ghcr.io/@@o@@
Run docker/login-action@v3
Logging into ghcr.io...
Login Succeeded!""", o=pick(ORGS))


def s_semgrep():
    return """┌─────────────────┐
│ 1 Code Finding  │
└─────────────────┘

    app/auth/tokens.py
    ❯❯❱ python.jwt.security.jwt-hardcode.jwt-python-hardcoded-secret
          Hardcoded JWT secret or private key is used. This is a Insufficiently Protected Credentials
          weakness: https://cwe.mitre.org/data/definitions/522.html Consider using an appropriate
          security mechanism to protect the credentials (e.g. keeping secrets in environment variables)

           18┆ return jwt.encode(payload, settings.JWT_SECRET, algorithm="HS256")

  ⋮┆----------------------------------------
  Ran 1 rule on 118 files: 1 finding."""


def s_gitleaks_redacted():
    return fill("""$ gitleaks detect --redact -v
Finding:     aws_secret_access_key = REDACTED
Secret:      REDACTED
RuleID:      aws-access-token
Entropy:     4.732164
File:        deploy/old/terraform.tfvars
Line:        7
Commit:      @@c@@
Author:      @@n@@
Date:        @@d@@T@@t@@Z
Fingerprint: @@c@@:deploy/old/terraform.tfvars:aws-access-token:7

11:02AM WRN leaks found: 1""", c=hx(40), n=pick(NAMES), d=date(2025), t=hms())


def s_sql_column_error():
    return """ERROR:  column "api_key_hash" does not exist
LINE 1: SELECT id, user_id, api_key_hash FROM api_keys WHERE revoked...
                            ^
HINT:  Perhaps you meant to reference the column "api_keys.key_hash"."""


def s_unittest_output():
    return """test_expired_reset_token_rejected (tests.test_password_reset.PasswordResetTests.test_expired_reset_token_rejected) ... ok
test_reset_token_is_single_use (tests.test_password_reset.PasswordResetTests.test_reset_token_is_single_use) ... ok
test_api_key_scopes_enforced (tests.test_api_keys.ApiKeyTests.test_api_key_scopes_enforced) ... FAIL
test_secret_not_logged (tests.test_logging.RedactionTests.test_secret_not_logged) ... ok

======================================================================
FAIL: test_api_key_scopes_enforced (tests.test_api_keys.ApiKeyTests.test_api_key_scopes_enforced)
----------------------------------------------------------------------
AssertionError: 200 != 403
----------------------------------------------------------------------
Ran 4 tests in 0.412s

FAILED (failures=1)"""


def s_vitest():
    return """ ✓ src/redact/__tests__/url.test.ts (6 tests) 9ms
 ✓ src/redact/__tests__/headers.test.ts (4 tests) 5ms
 ❯ src/auth/__tests__/refreshToken.test.ts (5 tests | 1 failed) 31ms
   × refreshToken > rotates the refresh token on every use 12ms
     → expected 'rt_old' to not equal 'rt_old'

 Test Files  1 failed | 2 passed (3)
      Tests  1 failed | 14 passed (15)"""


def s_dotnet_test():
    return """  Passed Orders.Tests.ApiKeyHandlerTests.Rejects_missing_header [12 ms]
  Passed Orders.Tests.ApiKeyHandlerTests.Rejects_revoked_key [3 ms]
  Failed Orders.Tests.ClientSecretRotationTests.Keeps_previous_secret_for_grace_period [41 ms]
  Error Message:
   Assert.Equal() Failure: Values differ
Expected: 2
Actual:   1

Failed!  - Failed:     1, Passed:    37, Skipped:     0, Total:    38, Duration: 1 s - Orders.Tests.dll (net8.0)"""


def s_maven_401():
    o = pick(ORGS)
    return fill("""[ERROR] Failed to execute goal org.apache.maven.plugins:maven-deploy-plugin:3.1.2:deploy (default-deploy) on project @@s@@: Failed to deploy artifacts: Could not transfer artifact com.@@o@@:@@s@@:jar:2.4.0 from/to internal-releases (https://nexus.@@o@@.io/repository/maven-releases/): status code: 401, reason phrase: Unauthorized (401) -> [Help 1]
[ERROR]
[ERROR] Check that <server><id>internal-releases</id> in ~/.m2/settings.xml has a <username> and <password>
[ERROR] (or use ${env.NEXUS_PASSWORD}) and that the password has not expired.""", s=pick(SERVICES), o=o.replace("-", ""))


def s_cargo_no_token():
    return """$ cargo publish --registry internal
    Updating `internal` index
error: no token found for `internal`, please run `cargo login --registry internal`
or use environment variable CARGO_REGISTRIES_INTERNAL_TOKEN"""


def s_npm_e401():
    return fill("""npm error code E401
npm error Unable to authenticate, your authentication token seems to be invalid.
npm error To correct this please try logging in again with:
npm error   npm login
npm error A complete log of this run can be found in: /home/@@u@@/.npm/_logs/@@d@@T@@t@@_123Z-debug-0.log""",
                u=pick(USERS), d=date(), t=hms().replace(":", "_"))


def s_aws_errors():
    return pick(["""$ aws sts get-caller-identity --profile legacy

An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid.""",
                 """upload failed: ./dist.tar.gz to s3://%s-%s/dist.tar.gz An error occurred (SignatureDoesNotMatch) when calling the PutObject operation: The request signature we calculated does not match the signature you provided. Check your key and signing method.""" % (pick(ORGS), pick(BUCKETS))])


def s_vault_403():
    s = pick(SERVICES)
    return fill("""$ vault kv get -mount=secret @@s@@/prod/db
Error reading secret/data/@@s@@/prod/db: Error making API request.

URL: GET https://vault.@@o@@.internal:8200/v1/secret/data/@@s@@/prod/db
Code: 403. Errors:

* 1 error occurred:
	* permission denied""", s=s, o=pick(ORGS))


def s_clang_error():
    return """src/crypto/keystore.c:57:5: error: unknown type name 'secret_key_t'; did you mean 'secret_key_s'?
   57 |     secret_key_t *sk = keystore_lookup(ks, key_id);
      |     ^~~~~~~~~~~~
      |     secret_key_s
src/crypto/keystore.c:88:12: warning: implicit declaration of function 'explicit_bzero_token' [-Wimplicit-function-declaration]
   88 |     return explicit_bzero_token(tok, sizeof *tok);
      |            ^~~~~~~~~~~~~~~~~~~~"""


def s_django_check():
    return """$ python manage.py check --deploy
System check identified some issues:

WARNINGS:
?: (security.W004) You have not set a value for the SECURE_HSTS_SECONDS setting.
?: (security.W009) Your SECRET_KEY has less than 50 characters, less than 5 unique characters, or it's prefixed with 'django-insecure-' indicating that it was generated automatically by Django. Please generate a long and random value, otherwise many of Django's security-critical features will be vulnerable to attack.
?: (security.W016) You have 'django.middleware.csrf.CsrfViewMiddleware' in your MIDDLEWARE, but you have not set CSRF_COOKIE_SECURE to True.

System check identified 3 issues (0 silenced)."""


def s_typescript_types():
    return """$ npx tsc --noEmit
src/integrations/slack.ts:19:7 - error TS2741: Property 'signingSecret' is missing in type '{ token: string; }' but required in type 'AppOptions'.

19   new App({ token: env.SLACK_BOT_TOKEN });
         ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

  node_modules/@slack/bolt/dist/App.d.ts:41:5
    41     signingSecret?: string | (() => PromiseLike<string>);
           ~~~~~~~~~~~~~
    'signingSecret' is declared here.

Found 1 error in src/integrations/slack.ts:19"""


SECRET_WORD_IDENTIFIERS = [s_rustc_mismatch, s_rustc_moved, s_gosec, s_pydantic_settings, s_jsonwebtoken_node,
                           s_node_hmac_key, s_java_badpadding, s_kotlin_unresolved, s_swift_error, s_csharp_cs0103,
                           s_php_hash_hmac, s_rails_secret_key_base, s_tf_missing_arg, s_kubectl_get_secrets,
                           s_find_secret_files, s_git_status, s_grep_password_py, s_structured_logs,
                           s_docker_build_check, s_gha_skip_output, s_semgrep, s_gitleaks_redacted,
                           s_sql_column_error, s_unittest_output, s_vitest, s_dotnet_test, s_maven_401,
                           s_cargo_no_token, s_npm_e401, s_aws_errors, s_vault_403, s_clang_error, s_django_check,
                           s_typescript_types]


# ================================================================ CLEAN: infra_ids
def i_ssh_verbose():
    u = pick(USERS)
    return fill("""$ ssh -v git@github.com 2>&1 | grep -E 'host key|Offering|Server accepts|Authenticated'
debug1: Server host key: ssh-ed25519 SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU
debug1: Offering public key: /home/@@u@@/.ssh/id_ed25519 ED25519 @@fp@@ agent
debug1: Server accepts key: /home/@@u@@/.ssh/id_ed25519 ED25519 @@fp@@ agent
Authenticated to github.com ([140.82.121.4]:22) using "publickey".""", u=u, fp=fp_sha256())


def i_ssh_pubkey():
    c = "%s@%s" % (pick(USERS), pick(["laptop", "ci-runner", "workstation"]))
    pub = ssh_ed25519_pub()
    return fill("""$ cat ~/.ssh/id_ed25519.pub
@@pub@@ @@c@@
$ ssh-keygen -lf ~/.ssh/id_ed25519.pub
256 @@fp@@ @@c@@ (ED25519)""", pub=pub, c=c, fp=fp_sha256())


def i_gpg_secret_keys():
    k1, k2 = hx(16).upper(), hx(16).upper()
    return fill("""$ gpg --list-secret-keys --keyid-format=long
/home/@@u@@/.gnupg/pubring.kbx
------------------------------
sec   ed25519/@@k1@@ @@d@@ [SC] [expires: 2028-01-01]
      @@fpr@@@@k1@@
uid                 [ultimate] @@n@@ <@@e@@>
ssb   cv25519/@@k2@@ @@d@@ [E] [expires: 2028-01-01]
""", u=pick(USERS), k1=k1, k2=k2, d=date(2025), fpr=hx(24).upper(), n=pick(NAMES), e=email()).rstrip()


def i_kms_describe():
    k = uid()
    a, r = acct(), pick(REGIONS)
    return json.dumps({"KeyMetadata": {
        "AWSAccountId": a, "KeyId": k, "Arn": "arn:aws:kms:%s:%s:key/%s" % (r, a, k),
        "CreationDate": ts()[:19] + "+00:00", "Enabled": True, "Description": "%s envelope key" % pick(SERVICES),
        "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False}}, indent=4)


def i_sts_identity():
    a = acct()
    role = pick(["AWSReservedSSO_AdministratorAccess_" + hx(16), "gha-deploy", "eks-node-role"])
    sess = pick([email(), "botocore-session-%d" % rint(1700000000, 1790000000), "GitHubActions"])
    return json.dumps({"UserId": "AROA%s:%s" % (rs(17, B32), sess), "Account": a,
                       "Arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (a, role, sess)}, indent=4)


def i_helm_checksum():
    s = pick(SERVICES)
    return fill("""$ helm get manifest @@s@@ -n prod | grep -B2 -A6 'checksum/'
  template:
    metadata:
      annotations:
        checksum/config: @@c1@@
        checksum/secret: @@c2@@
        checksum/tls-key: @@c3@@
      labels:
        app.kubernetes.io/name: @@s@@
        app.kubernetes.io/instance: @@s@@""", s=s, c1=hx(64), c2=hx(64), c3=hx(64))


def i_kubectl_describe_secret():
    s = pick(["default-token", "deployer-token", "argocd-manager-token"])
    return fill("""$ kubectl describe secret @@s@@-@@x@@ -n kube-system
Name:         @@s@@-@@x@@
Namespace:    kube-system
Labels:       <none>
Annotations:  kubernetes.io/service-account.name: @@sa@@
              kubernetes.io/service-account.uid: @@u@@

Type:  kubernetes.io/service-account-token

Data
====
ca.crt:     1107 bytes
namespace:  11 bytes
token:      @@n@@ bytes""", s=s, x=rs(5, "bcdfghjklmnpqrstvwxz2456789"), sa=s.rsplit("-", 1)[0], u=uid(),
                n=str(rint(900, 1100)))


def i_wg_show():
    return fill("""$ sudo wg show
interface: wg0
  public key: @@p1@@
  private key: (hidden)
  listening port: 51820

peer: @@p2@@
  preshared key: (hidden)
  endpoint: 203.0.113.@@a@@:51820
  allowed ips: 10.8.0.@@b@@/32
  latest handshake: 1 minute, @@s@@ seconds ago
  transfer: @@rx@@ MiB received, @@tx@@ MiB sent""", p1=wg_key(), p2=wg_key(), a=str(rint(2, 250)), b=str(rint(2, 250)),
                s=str(rint(2, 59)), rx="%.2f" % (R.random() * 300), tx="%.2f" % (R.random() * 60))


def i_jwks():
    keys = []
    for _ in range(2):
        keys.append({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": hx(40),
                     "n": b64u(b"\xc1" + rbytes(255)), "e": "AQAB"})
    return "$ curl -s https://auth.%s.io/.well-known/jwks.json | jq .\n" % pick(ORGS) + json.dumps({"keys": keys}, indent=2)


def i_public_pem():
    der = bytes.fromhex("30820122300d06092a864886f70d01010105000382010f003082010a0282010100") + rbytes(256) + \
        bytes.fromhex("0203010001")
    return "$ openssl rsa -in jwt-signing.key -pubout 2>/dev/null\n" + pem_block("PUBLIC KEY", der) + \
        "\n$ # only the public half goes into the gateway config"


def i_x509_fingerprints():
    return fill("""$ openssl x509 -in api.@@o@@.io.crt -noout -serial -fingerprint -sha256 -ext subjectKeyIdentifier,authorityKeyIdentifier
serial=@@ser@@
sha256 Fingerprint=@@fp@@
X509v3 Subject Key Identifier:
    @@ski@@
X509v3 Authority Key Identifier:
    @@aki@@""", o=pick(ORGS), ser=hx(36).upper(), fp=colon_hex(32), ski=colon_hex(20), aki=colon_hex(20))


def i_android_signing_report():
    return fill("""> Task :app:signingReport
Variant: debug
Config: debug
Store: /home/@@u@@/.android/debug.keystore
Alias: AndroidDebugKey
MD5: @@md5@@
SHA1: @@sha1@@
SHA-256: @@sha256@@
Valid until: @@v@@
----------""", u=pick(USERS), md5=colon_hex(16), sha1=colon_hex(20), sha256=colon_hex(32),
                v="Friday, %d March 2054" % rint(1, 28))


def i_age_recipients():
    return fill("""$ cat .sops.yaml
creation_rules:
  - path_regex: secrets/prod/.*\\.yaml$
    age: >-
      @@a1@@,
      @@a2@@
  - path_regex: secrets/dev/.*\\.yaml$
    age: @@a3@@""", a1=age_public(), a2=age_public(), a3=age_public())


def i_stripe_ids_log():
    t = ts_seq(3)
    return fill("""@@t0@@ INFO webhook received type=payment_intent.succeeded id=evt_@@e@@ idempotency_key=@@k@@
@@t1@@ INFO charge captured payment_intent=pi_@@pi@@ customer=cus_@@cus@@ amount=4900 currency=eur
@@t2@@ INFO stripe request_id=req_@@req@@ api_version=2024-06-20 status=200""", t0=t[0], t1=t[1], t2=t[2],
                e="1" + rs(23), k=uid(), pi="3" + rs(23), cus=rs(14), req=rs(14))


def i_github_webhook_headers():
    return fill("""Request URL: https://ci.@@o@@.io/hooks/github
Request method: POST
Accept: */*
Content-Type: application/json
User-Agent: GitHub-Hookshot/@@ua@@
X-GitHub-Delivery: @@d@@
X-GitHub-Event: pull_request
X-GitHub-Hook-ID: @@hid@@
X-GitHub-Hook-Installation-Target-ID: @@tid@@
X-GitHub-Hook-Installation-Target-Type: repository
X-Hub-Signature: sha1=@@s1@@
X-Hub-Signature-256: sha256=@@s2@@""", o=pick(ORGS), ua=hx(7), d=uid(), hid=str(rint(400000000, 599999999)),
                tid=str(rint(600000000, 899999999)), s1=hx(40), s2=hx(64))


def i_slack_api_ids():
    return json.dumps({"ok": True, "channel": "C0" + rs(9, UP + DG), "ts": "%d.%06d" % (rint(1760000000, 1790000000), rint(0, 999999)),
                       "message": {"bot_id": "B0" + rs(9, UP + DG), "type": "message", "text": "Deploy finished :white_check_mark:",
                                   "user": "U0" + rs(9, UP + DG), "app_id": "A0" + rs(9, UP + DG), "team": "T0" + rs(9, UP + DG),
                                   "bot_profile": {"id": "B0" + rs(9, UP + DG), "name": "deploybot"}}}, indent=2)


def i_api_keys_table():
    rows = []
    for _ in range(3):
        rows.append(" %4d | %-10s | %s | %s | %s" % (rint(10, 999), "ak_" + hx(5), hx(64), date(), pick(["t", "f"])))
    return ("$ psql -c 'select id, key_prefix, key_sha256, created_at::date, revoked from api_keys order by id desc limit 3'\n"
            "  id  | key_prefix |                            key_sha256                            | created_at | revoked\n"
            "------+------------+------------------------------------------------------------------+------------+---------\n"
            + "\n".join(rows) + "\n(3 rows)")


def i_datadog_trace_log():
    return json.dumps({"timestamp": ts(), "status": "error", "service": pick(SERVICES), "message": "upstream timeout",
                       "dd": {"trace_id": str(rint(10 ** 18, 9 * 10 ** 18)), "span_id": str(rint(10 ** 18, 9 * 10 ** 18)),
                              "env": "prod", "version": hx(7)},
                       "event_id": str(rint(7 * 10 ** 18, 9 * 10 ** 18)), "aggregation_key": hx(32),
                       "monitor_id": rint(10000000, 99999999)})


def i_pagerduty_incident():
    return json.dumps({"event": {"id": rs(26, UP + DG), "event_type": "incident.triggered",
                                 "occurred_at": ts(), "data": {"id": "Q" + rs(13, UP + DG), "type": "incident",
                                                               "number": rint(1000, 9999),
                                                               "incident_key": hx(32),
                                                               "service": {"id": "P" + rs(6, UP + DG), "type": "service_reference"},
                                                               "escalation_policy": {"id": "P" + rs(6, UP + DG)},
                                                               "title": "High error rate on %s" % pick(SERVICES)}}}, indent=2)


def i_sentry_headers():
    tr = hx(32)
    return fill("""sentry-trace: @@tr@@-@@sp@@-1
baggage: sentry-environment=production,sentry-release=web%40@@rel@@,sentry-public_key=@@pk@@,sentry-trace_id=@@tr@@,sentry-sample_rate=0.2
Sentry event @@ev@@ grouped into issue WEB-@@iss@@ (fingerprint {{ default }})""", tr=tr, sp=hx(16), rel=hx(12),
                pk=hx(32), ev=hx(32), iss=rs(3, UP + DG))


def i_cloudflare_zone():
    return json.dumps({"result": {"id": hx(32), "name": "%s.io" % pick(ORGS), "status": "active", "paused": False,
                                  "type": "full", "name_servers": ["ada.ns.cloudflare.com", "rex.ns.cloudflare.com"],
                                  "account": {"id": hx(32), "name": "%s prod" % pick(ORGS)},
                                  "owner": {"id": hx(32), "type": "user"}, "plan": {"id": hx(32), "name": "Pro Website"}},
                       "success": True, "errors": [], "messages": []}, indent=2) + "\ncf-ray: %s-%s" % (hx(16), pick(["FRA", "AMS", "IAD"]))


def i_vault_secret_id_accessors():
    return fill("""$ vault list auth/approle/role/@@r@@/secret-id
Keys
----
@@a@@
@@b@@
@@c@@
$ vault read -field=role_id auth/approle/role/@@r@@/role-id
@@rid@@""", r=pick(["ci", "deployer", "etl"]), a=uid(), b=uid(), c=uid(), rid=uid())


def i_gcloud_sa_keys_list():
    rows = ["KEY_ID                                    CREATED_AT            EXPIRES_AT            DISABLED"]
    for _ in range(3):
        rows.append("%s  %sT%sZ  %s  " % (hx(40), date(2025), hms(), pick(["9999-12-31T23:59:59Z", date(2027) + "T00:00:00Z"])))
    return "$ gcloud iam service-accounts keys list --iam-account=%s@%s-prod.iam.gserviceaccount.com\n" % (
        pick(["terraform", "ci-deployer"]), pick(ORGS)) + "\n".join(rows)


def i_az_app_credentials():
    return json.dumps([{"customKeyIdentifier": None, "displayName": "github-actions", "endDateTime": date(2027) + "T10:00:00Z",
                        "hint": rs(3, ALNUM), "keyId": uid(), "secretText": None, "startDateTime": date(2025) + "T10:00:00Z"},
                       {"customKeyIdentifier": None, "displayName": "terraform", "endDateTime": date(2026) + "T09:30:00Z",
                        "hint": rs(3, ALNUM), "keyId": uid(), "secretText": None, "startDateTime": date(2025) + "T09:30:00Z"}],
                      indent=2)


def i_s3_head_object():
    return json.dumps({"AcceptRanges": "bytes", "LastModified": "Tue, 04 Nov 2026 %s GMT" % hms(), "ContentLength": rint(1000, 9 ** 9),
                       "ETag": "\"%s\"" % hx(32), "VersionId": rs(32, B64URL), "ContentType": "application/gzip",
                       "ServerSideEncryption": "aws:kms",
                       "SSEKMSKeyId": "arn:aws:kms:%s:%s:key/%s" % (pick(REGIONS), acct(), uid()),
                       "BucketKeyEnabled": True, "Metadata": {"sha256": hx(64)}}, indent=4)


def i_tf_plan_sensitive():
    u = pick(USERS).replace("_", "-")
    return fill("""  # aws_iam_access_key.@@u@@ will be created
  + resource "aws_iam_access_key" "@@u@@" {
      + create_date                    = (known after apply)
      + encrypted_secret               = (known after apply)
      + encrypted_ses_smtp_password_v4 = (known after apply)
      + id                             = (known after apply)
      + key_fingerprint                = (known after apply)
      + secret                         = (sensitive value)
      + ses_smtp_password_v4           = (sensitive value)
      + status                         = "Active"
      + user                           = "@@u@@"
    }

  # random_password.db will be created
  + resource "random_password" "db" {
      + id          = (known after apply)
      + length      = 32
      + result      = (sensitive value)
      + special     = true
    }

  # aws_kms_alias.app will be updated in-place
  ~ resource "aws_kms_alias" "app" {
        id            = "alias/@@s@@"
      ~ target_key_id = "@@k1@@" -> "@@k2@@"
    }

Plan: 2 to add, 1 to change, 0 to destroy.""", u=u, s=pick(SERVICES), k1=uid(), k2=uid())


def i_tf_lock_hcl():
    return fill("""# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "@@v@@"
  constraints = "~> 5.0"
  hashes = [
    "h1:@@h1@@=",
    "zh:@@z1@@",
    "zh:@@z2@@",
    "zh:@@z3@@",
  ]
}""", v="5.%d.%d" % (rint(40, 80), rint(0, 3)), h1=b64e(rbytes(32))[:43], z1=hx(64), z2=hx(64), z3=hx(64))


def i_nix_paths():
    p = [rs(32, "0123456789abcdfghijklmnpqrsvwxyz") for _ in range(3)]
    return fill("""$ nix path-info -r .#default | head -3
/nix/store/@@a@@-openssl-3.3.2
/nix/store/@@b@@-libsecret-0.21.4
/nix/store/@@c@@-api-server-0.9.1
$ nix flake metadata --json | jq -r '.locks.nodes.nixpkgs.locked | "\\(.rev) \\(.narHash)"'
@@rev@@ sha256-@@nh@@""", a=p[0], b=p[1], c=p[2], rev=hx(40), nh=b64e(rbytes(32)))


def i_git_ls_tree():
    files = ["api_key.rs", "secret_store.rs", "token.rs", "password_policy.rs", "mod.rs"]
    rows = "\n".join("100644 blob %s\t%s" % (hx(40), f) for f in files)
    return "$ git ls-tree HEAD src/auth/\n" + rows + "\n$ git ls-remote origin 'refs/heads/*'\n" + \
        "\n".join("%s\trefs/heads/%s" % (hx(40), b) for b in ["main", "release/2.4", "feat/api-key-scopes"])


def i_cosign_verify():
    img = "ghcr.io/%s/%s" % (pick(ORGS), pick(SERVICES))
    return fill("""$ cosign verify @@img@@@sha256:@@d@@ --certificate-identity-regexp '.*' --certificate-oidc-issuer https://token.actions.githubusercontent.com
Verification for @@img@@@sha256:@@d@@ --
The following checks were performed on each of these signatures:
  - The cosign claims were validated
  - Existence of the claims in the transparency log was verified offline
  - The code-signing certificate was verified using trusted certificate authority certificates
[{"critical":{"identity":{"docker-reference":"@@img@@"},"image":{"docker-manifest-digest":"sha256:@@d@@"},"type":"cosign container image signature"},"optional":{"1.3.6.1.4.1.57264.1.3":"@@sha@@","Bundle":{"Payload":{"logIndex":@@li@@,"logID":"@@lid@@"}}}}]""",
                img=img, d=hx(64), sha=hx(40), li=str(rint(10 ** 8, 2 * 10 ** 8)), lid=hx(64))


def i_npm_publish_notice():
    n = "@%s/%s" % (pick(ORGS), pick(["sdk", "ui-kit", "config"]))
    v = ver()
    return fill("""npm notice
npm notice package: @@n@@@@@v@@
npm notice Tarball Contents
npm notice 1.1kB LICENSE
npm notice 3.4kB README.md
npm notice 18.2kB dist/index.js
npm notice Tarball Details
npm notice name: @@n@@
npm notice version: @@v@@
npm notice shasum: @@sh@@
npm notice integrity: sha512-@@i@@[...]@@j@@==
npm notice total files: 3
npm notice Publishing to https://registry.npmjs.org/ with tag latest and public access""", n=n, v=v, sh=hx(40),
                i=rs(13, B64), j=rs(13, B64))


def i_docker_trust():
    return fill("""$ docker trust inspect --pretty @@r@@:@@t@@

Signatures for @@r@@:@@t@@

SIGNED TAG   DIGEST                                                             SIGNERS
@@t@@        @@d@@   ci

List of signers and their keys for @@r@@:@@t@@

SIGNER   KEYS
ci       @@k1@@

Administrative keys for @@r@@:@@t@@

  Repository Key:	@@k2@@
  Root Key:	@@k3@@""", r="docker.io/%s/%s" % (pick(ORGS), pick(SERVICES)), t="v" + ver(), d=hx(64), k1=hx(12),
                k2=hx(64), k3=hx(64))


def i_consul_token_list():
    out = []
    for d in ["Bootstrap Token (Global Management)", "%s agent token" % pick(SERVICES), "Anonymous Token"]:
        out.append("AccessorID:       %s\nSecretID:         <hidden>\nDescription:      %s\nLocal:            false\nCreate Time:      %s %s +0000 UTC"
                   % (uid(), d, date(2025), hms()))
    return "$ consul acl token list\n" + "\n\n".join(out)


INFRA_IDS = [i_ssh_verbose, i_ssh_pubkey, i_gpg_secret_keys, i_kms_describe, i_sts_identity, i_helm_checksum,
             i_kubectl_describe_secret, i_wg_show, i_jwks, i_public_pem, i_x509_fingerprints,
             i_android_signing_report, i_age_recipients, i_stripe_ids_log, i_github_webhook_headers,
             i_slack_api_ids, i_api_keys_table, i_datadog_trace_log, i_pagerduty_incident, i_sentry_headers,
             i_cloudflare_zone, i_vault_secret_id_accessors, i_gcloud_sa_keys_list, i_az_app_credentials,
             i_s3_head_object, i_tf_plan_sensitive, i_tf_lock_hcl, i_nix_paths, i_git_ls_tree, i_cosign_verify,
             i_npm_publish_notice, i_docker_trust, i_consul_token_list]


# ================================================================ CLEAN: doc_example
def d_aws_java_v2_docs():
    return fill("""// From the AWS SDK for Java 2.x developer guide ("Supply static credentials").
// Do not hard-code credentials in real code; these are the documentation values.
AwsBasicCredentials awsCreds = AwsBasicCredentials.create(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

S3Client s3 = S3Client.builder()
        .region(Region.@@R@@)
        .credentialsProvider(StaticCredentialsProvider.create(awsCreds))
        .build();""", R=pick(["US_WEST_2", "EU_WEST_1", "AP_NORTHEAST_1"]))


def d_aws_env_table_docs():
    return """| Setting | Environment variable | Example value |
|---|---|---|
| Access key ID | `AWS_ACCESS_KEY_ID` | `AKIAIOSFODNN7EXAMPLE` |
| Secret access key | `AWS_SECRET_ACCESS_KEY` | `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY` |
| Session token | `AWS_SESSION_TOKEN` | `AQoDYXdzEJr...<remainder of session token>` |
| Region | `AWS_REGION` | `us-west-2` |

(The values above are the placeholders used throughout the AWS documentation.)"""


def d_slack_bolt_docs():
    return """```python
# From the Bolt for Python getting-started guide
import os
from slack_bolt import App

# export SLACK_BOT_TOKEN=xoxb-your-token
# export SLACK_SIGNING_SECRET=your-signing-secret
app = App(
    token=os.environ.get("SLACK_BOT_TOKEN"),
    signing_secret=os.environ.get("SLACK_SIGNING_SECRET"),
)
```

Unit tests in the SDK use `xoxb-valid` and `xoxb-not-a-real-token-this-will-not-work` as token values."""


def d_vault_dev_server():
    return fill("""$ vault server -dev -dev-root-token-id=root
==> Vault server configuration:

             Api Address: http://127.0.0.1:8200
                     Cgo: disabled
         Cluster Address: https://127.0.0.1:8201
              Listener 1: tcp (addr: "127.0.0.1:8200", cluster address: "127.0.0.1:8201", tls: "disabled")
                 Version: Vault v@@v@@

WARNING! dev mode is enabled! In this mode, Vault runs entirely in-memory
and starts unsealed with a single unseal key. The root token is already
authenticated to the CLI, so you can immediately begin using Vault.

    $ export VAULT_ADDR='http://127.0.0.1:8200'

Root Token: root

Development mode should NOT be used in production installations!""", v=pick(["1.17.3", "1.18.1", "1.16.2"]))


def d_minio_defaults():
    return """# docker-compose.dev.yml -- local only, straight from the MinIO quickstart
services:
  minio:
    image: quay.io/minio/minio
    command: server /data --console-address ":9001"
    ports: ["9000:9000", "9001:9001"]
    environment:
      MINIO_ROOT_USER: minioadmin
      MINIO_ROOT_PASSWORD: minioadmin   # the documented default; change before exposing the port"""


def d_jwt_io_example():
    return """The jwt.io debugger opens with this sample token (HS256, secret `your-256-bit-secret`):

    eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c

Decoded payload: {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}. Our middleware test
uses it only to check that a token signed with the wrong key is rejected."""


def d_libpq_uri_docs():
    return """Examples of valid connection URIs (from the libpq documentation):

    postgresql://
    postgresql://localhost
    postgresql://localhost:5433
    postgresql://localhost/mydb
    postgresql://user@localhost
    postgresql://user:secret@localhost
    postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp
    postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp"""


def d_redis_acl_example():
    return """From the Redis ACL tutorial:

    > ACL SETUSER alice on >p1pp0 ~cached:* +get
    OK
    > AUTH alice p1pp0
    OK
    > GET foo
    (error) NOPERM this user has no permissions to access one of the keys used as arguments

Swap `p1pp0` for a generated password before copying this into the real ACL file."""


def d_rfc6750_curl():
    return """RFC 6750 section 2.1 shows the header form:

    GET /resource HTTP/1.1
    Host: server.example.com
    Authorization: Bearer mF_9.B5f-4.1JqM

so with curl that's `curl --oauth2-bearer "mF_9.B5f-4.1JqM" https://server.example.com/resource`,
or `-H "Authorization: Bearer $TOKEN"` once you have a real token."""


def d_rfc6749_token_response():
    return """RFC 6749 §5.1, example successful response (quoted verbatim):

    HTTP/1.1 200 OK
    Content-Type: application/json;charset=UTF-8
    Cache-Control: no-store
    Pragma: no-cache

    {
      "access_token":"2YotnFZFEjr1zCsicMWpAA",
      "token_type":"example",
      "expires_in":3600,
      "refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",
      "example_parameter":"example_value"
    }

Our parser should accept this shape; the test fixture just copies the RFC example."""


def d_k8s_secret_base64_docs():
    return """From the Kubernetes docs ("Managing Secrets using kubectl"):

    echo -n 'admin' | base64
    YWRtaW4=
    echo -n '1f2d1e2e67df' | base64
    MWYyZDFlMmU2N2Rm

    apiVersion: v1
    kind: Secret
    metadata:
      name: mysecret
    type: Opaque
    data:
      username: YWRtaW4=
      password: MWYyZDFlMmU2N2Rm"""


def d_mysql_image_docs():
    return fill("""From the official mysql image README:

    $ docker run --name some-mysql -e MYSQL_ROOT_PASSWORD=my-secret-pw -d mysql:@@t@@

    ... where `some-mysql` is the name you want to assign to your container,
    `my-secret-pw` is the password to be set for the MySQL root user and `tag`
    is the tag specifying the MySQL version you want.""", t=pick(["8.4", "9.1", "8.0"]))


def d_tf_provider_literal_docs():
    return """Static credentials can be provided by adding an `access_key` and `secret_key` in-line in the AWS
provider block (usage is not recommended; credentials can be leaked if the file is committed):

```terraform
provider "aws" {
  region     = "us-west-2"
  access_key = "my-access-key"
  secret_key = "my-secret-key"
}
```"""


def d_ansible_encrypt_string():
    return """From the Ansible docs, encrypting a single variable:

    ansible-vault encrypt_string --vault-password-file a_password_file 'foobar' --name 'the_secret'

The output is a `the_secret: !vault |` block; `foobar` is only the example plaintext and
`a_password_file` is a file path, not the password itself."""


def d_gitlab_private_token_docs():
    return fill("""```shell
curl --header "PRIVATE-TOKEN: <your_access_token>" \\
     "https://gitlab.example.com/api/v4/projects/@@p@@/pipelines?status=failed"
```

Replace `<your_access_token>` with a personal, project, or group access token with the `read_api` scope.""",
                p=str(rint(10, 9999)))


def d_datadog_install_docs():
    return """Agent one-line install (from the Datadog UI, with the key placeholder left in):

    DD_API_KEY=<YOUR_DATADOG_API_KEY> DD_SITE="datadoghq.eu" bash -c "$(curl -L https://install.datadoghq.com/scripts/install_script_agent7.sh)"

Replace <YOUR_DATADOG_API_KEY> with a key from Organization Settings > API Keys."""


def d_sentry_dsn_docs():
    return """```javascript
// Sentry JavaScript SDK quick start
import * as Sentry from "@sentry/browser";

Sentry.init({
  dsn: "https://examplePublicKey@o0.ingest.sentry.io/0",
  tracesSampleRate: 1.0,
});
```
(`examplePublicKey@o0` is the literal placeholder from the docs page.)"""


def d_algolia_docs():
    return """```js
// Algolia JavaScript API client v5 docs
import { algoliasearch } from 'algoliasearch';

const client = algoliasearch('YourApplicationID', 'YourWriteAPIKey');
const response = await client.saveObject({ indexName: 'movies_index', body: { title: 'Inception' } });
```"""


def d_mailgun_docs():
    return """```bash
curl -s --user 'api:YOUR_API_KEY' \\
    https://api.mailgun.net/v3/YOUR_DOMAIN_NAME/messages \\
    -F from='Excited User <mailgun@YOUR_DOMAIN_NAME>' \\
    -F to=YOU@YOUR_DOMAIN_NAME \\
    -F subject='Hello' \\
    -F text='Testing some Mailgun awesomeness!'
```"""


def d_supabase_env_docs():
    return """# .env.local (template from the Supabase Next.js quickstart)
NEXT_PUBLIC_SUPABASE_URL=https://your-project-ref.supabase.co
NEXT_PUBLIC_SUPABASE_ANON_KEY=your-anon-key
# server only -- never expose to the browser
SUPABASE_SERVICE_ROLE_KEY=your-service-role-key"""


def d_stripe_placeholder_docs():
    return """```ruby
# Set your secret key. Remember to switch to your live secret key in production.
# See your keys here: https://dashboard.stripe.com/apikeys
Stripe.api_key = 'sk_test_your_key_here'

Stripe::PaymentIntent.create({ amount: 2000, currency: 'usd', automatic_payment_methods: { enabled: true } })
```"""


def d_twilio_placeholder_docs():
    return """```python
# Download the helper library from https://www.twilio.com/docs/python/install
import os
from twilio.rest import Client

# Find your Account SID and Auth Token at twilio.com/console
account_sid = "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"  # 34 chars, starts with AC
auth_token = "your_auth_token"
client = Client(account_sid, auth_token)
```"""


def d_google_maps_docs():
    return """<script async
    src="https://maps.googleapis.com/maps/api/js?key=YOUR_API_KEY&loading=async&callback=initMap">
</script>

Replace YOUR_API_KEY with the key from the Cloud console (restrict it by HTTP referrer)."""


def d_spring_docs_props():
    return """# Spring Boot reference, "Security" section example
spring.security.user.name=user
spring.security.user.password=password
spring.security.user.roles=USER
# In production set SPRING_SECURITY_USER_PASSWORD or, better, configure a real UserDetailsService."""


def d_sendgrid_fake_docs():
    return fill("""Our README shows the key format with a visibly fake value:

    echo "export SENDGRID_API_KEY='SG.@@x@@.@@y@@'" > sendgrid.env

(22 x's, then 43 y's: the same shape as a real key, obviously not one.)""", x="x" * 22, y="y" * 43)


def d_openssl_pass_docs():
    return """From the openssl-passphrase-options(1) man page:

    pass:password
        The actual password is password. Since the password is visible to
        utilities (like 'ps' under Unix) this form should only be used where
        security is not important.

    env:var
        Obtain the password from the environment variable var.

Example: openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12 -passout pass:changeit"""


DOC_EXAMPLE = [d_aws_java_v2_docs, d_aws_env_table_docs, d_slack_bolt_docs, d_vault_dev_server, d_minio_defaults,
               d_jwt_io_example, d_libpq_uri_docs, d_redis_acl_example, d_rfc6750_curl, d_rfc6749_token_response,
               d_k8s_secret_base64_docs, d_mysql_image_docs, d_tf_provider_literal_docs, d_ansible_encrypt_string,
               d_gitlab_private_token_docs, d_datadog_install_docs, d_sentry_dsn_docs, d_algolia_docs,
               d_mailgun_docs, d_supabase_env_docs, d_stripe_placeholder_docs, d_twilio_placeholder_docs,
               d_google_maps_docs, d_spring_docs_props, d_sendgrid_fake_docs, d_openssl_pass_docs]

DOC_LEADS = ["", "", "", "is this the right way to do it?\n\n", "the docs say:\n\n", "Tool output (README.md):\n"]


# ================================================================ SECRET: key_pairs
def k_iam_wizard_csv():
    i, s = aws_id(), aws_secret()
    u = pick(USERS)
    pw = password() if R.random() < 0.5 else ""
    text = ("$ cat ~/Downloads/%s_credentials.csv\n"
            "User name,Password,Access key ID,Secret access key,Console login link\r\n"
            "%s,%s,%s,%s,https://%s.signin.aws.amazon.com/console\r\n") % (u, u, pw, i, s, acct())
    return text, [i, s] + ([pw] if pw else [])


def k_rootkey_csv():
    i, s = aws_id(), aws_secret()
    return ("found an old rootkey.csv in the shared drive, is it still active?\n\nAWSAccessKeyId=%s\r\nAWSSecretKey=%s\r\n"
            % (i, s)), [i, s]


def k_csv_column():
    rows = [(aws_id(), aws_secret()) for _ in range(2)]
    text = "$ column -s, -t < accessKeys.csv\nAccess key ID         Secret access key\n" + \
        "\n".join("%s  %s" % r for r in rows)
    return text, [x for r in rows for x in r]


def k_bare_two_lines():
    i, s = aws_id(), aws_secret()
    t = pick(["new keys for the %s-uploader user:\n%s\n%s\nput them in the CI vars please",
              "here you go (%s)\n\n%s\n%s\n"]) % (pick(BUCKETS), i, s)
    return t, [i, s]


def k_bare_one_line():
    i, s = aws_id(), aws_secret()
    t = pick(["can you add `%s %s` to the GitHub environment secrets for staging?",
              "aws creds: %s:%s (region %s)"])
    t = t % ((i, s) if t.count("%s") == 2 else (i, s, pick(REGIONS)))
    return t, [i, s]


def k_credentials_values_only():
    i, s = aws_id(), aws_secret()
    return ("this is what's under [%s] in my credentials file, the names got lost when I copied it:\n%s\n%s\n%s\n"
            % (pick(["ci", "prod-ro", "backfill"]), i, s, pick(REGIONS))), [i, s]


def k_java_v2():
    i, s = aws_id(), aws_secret()
    return fill("""@Bean
public SqsClient sqsClient() {
    return SqsClient.builder()
            .region(Region.@@R@@)
            .credentialsProvider(StaticCredentialsProvider.create(
                    AwsBasicCredentials.create("@@i@@", "@@s@@")))
            .build();
}""", R=pick(["EU_CENTRAL_1", "US_EAST_2", "CA_CENTRAL_1"]), i=i, s=s), [i, s]


def k_java_session():
    i, s, t = aws_id("ASIA"), aws_secret(), sts_token()
    return fill("""AwsSessionCredentials creds = AwsSessionCredentials.create(
        "@@i@@",
        "@@s@@",
        "@@t@@");
DynamoDbClient ddb = DynamoDbClient.builder()
        .credentialsProvider(StaticCredentialsProvider.create(creds))
        .build();""", i=i, s=s, t=t), [i, s, t]


def k_py_session():
    i, s = aws_id(), aws_secret()
    return fill("""session = boto3.Session(
    aws_access_key_id="@@i@@",
    aws_secret_access_key="@@s@@",
    region_name="@@r@@",
)
athena = session.client("athena")
resp = athena.start_query_execution(QueryString=sql, WorkGroup="primary")""", i=i, s=s, r=pick(REGIONS)), [i, s]


def k_py_s3fs():
    i, s = aws_id(), aws_secret()
    return fill("""import s3fs
import pyarrow.parquet as pq

fs = s3fs.S3FileSystem(key="@@i@@", secret="@@s@@")
table = pq.read_table("@@b@@/year=2026/month=11/", filesystem=fs)""", i=i, s=s, b=pick(ORGS) + "-" + pick(BUCKETS)), [i, s]


def k_pandas_storage_options():
    i, s = aws_id(), aws_secret()
    return fill("""df = pd.read_csv(
    "s3://@@b@@/exports/orders.csv.gz",
    storage_options={"key": "@@i@@", "secret": "@@s@@"},
)""", b=pick(ORGS) + "-" + pick(BUCKETS), i=i, s=s), [i, s]


def k_go_v2():
    i, s = aws_id(), aws_secret()
    return fill("""cfg, err := config.LoadDefaultConfig(ctx,
	config.WithRegion("@@r@@"),
	config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("@@i@@", "@@s@@", "")),
)
if err != nil {
	return fmt.Errorf("load aws config: %w", err)
}
client := s3.NewFromConfig(cfg)""", r=pick(REGIONS), i=i, s=s), [i, s]


def k_csharp_s3client():
    i, s = aws_id(), aws_secret()
    return fill("""using var s3 = new AmazonS3Client("@@i@@", "@@s@@", RegionEndpoint.@@R@@);
var resp = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "@@b@@", MaxKeys = 50 });""",
                i=i, s=s, R=pick(["EUCentral1", "USWest2", "APSoutheast1"]), b=pick(BUCKETS)), [i, s]


def k_rust_sdk():
    i, s = aws_id(), aws_secret()
    return fill("""let creds = aws_credential_types::Credentials::new(
    "@@i@@",
    "@@s@@",
    None,
    None,
    "hardcoded",
);
let conf = aws_sdk_s3::Config::builder()
    .region(Region::new("@@r@@"))
    .credentials_provider(creds)
    .behavior_version_latest()
    .build();""", i=i, s=s, r=pick(REGIONS)), [i, s]


def k_php_sdk():
    i, s = aws_id(), aws_secret()
    return fill("""$s3 = new Aws\\S3\\S3Client([
    'version'     => 'latest',
    'region'      => '@@r@@',
    'credentials' => [
        'key'    => '@@i@@',
        'secret' => '@@s@@',
    ],
]);""", r=pick(REGIONS), i=i, s=s), [i, s]


def k_node_v2():
    i, s = aws_id(), aws_secret()
    return fill("""const AWS = require("aws-sdk");
AWS.config.update({
  accessKeyId: "@@i@@",
  secretAccessKey: "@@s@@",
  region: "@@r@@",
});
const ses = new AWS.SES({ apiVersion: "2010-12-01" });""", i=i, s=s, r=pick(REGIONS)), [i, s]


def k_duckdb_secret():
    i, s = aws_id(), aws_secret()
    return fill("""D CREATE SECRET s3_raw (
      TYPE S3,
      KEY_ID '@@i@@',
      SECRET '@@s@@',
      REGION '@@r@@'
  );
┌─────────┐
│ Success │
│ boolean │
├─────────┤
│ true    │
└─────────┘
D SELECT count(*) FROM read_parquet('s3://@@b@@/events/*.parquet');""", i=i, s=s, r=pick(REGIONS), b=pick(BUCKETS)), [i, s]


def k_redshift_copy():
    i, s = aws_id(), aws_secret()
    return fill("""COPY analytics.page_views
FROM 's3://@@b@@/page_views/2026/11/'
ACCESS_KEY_ID '@@i@@'
SECRET_ACCESS_KEY '@@s@@'
FORMAT AS PARQUET;""", b=pick(ORGS) + "-" + pick(BUCKETS), i=i, s=s), [i, s]


def k_snowflake_stage():
    i, s = aws_id(), aws_secret()
    return fill("""CREATE OR REPLACE STAGE raw.events_stage
  URL = 's3://@@b@@/events/'
  CREDENTIALS = (AWS_KEY_ID = '@@i@@' AWS_SECRET_KEY = '@@s@@')
  FILE_FORMAT = (TYPE = JSON);""", b=pick(ORGS) + "-" + pick(BUCKETS), i=i, s=s), [i, s]


def k_spark_submit():
    i, s = aws_id(), aws_secret()
    return fill("""spark-submit \\
  --master k8s://https://kubernetes.default.svc \\
  --conf spark.hadoop.fs.s3a.access.key=@@i@@ \\
  --conf spark.hadoop.fs.s3a.secret.key=@@s@@ \\
  --conf spark.hadoop.fs.s3a.endpoint=s3.@@r@@.amazonaws.com \\
  jobs/compact_events.py --date 2026-11-03""", i=i, s=s, r=pick(REGIONS)), [i, s]


def k_ali_python():
    i, s = ali_id(), ali_secret()
    return fill("""from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest

client = AcsClient("@@i@@", "@@s@@", "@@r@@")
req = DescribeInstancesRequest()
req.set_PageSize(50)
print(client.do_action_with_exception(req))""", i=i, s=s, r=pick(ALI_REGIONS)), [i, s]


def k_ali_go_oss():
    i, s = ali_id(), ali_secret()
    return fill("""client, err := oss.New("https://oss-@@r@@.aliyuncs.com", "@@i@@", "@@s@@")
if err != nil {
	log.Fatal(err)
}
bucket, _ := client.Bucket("@@b@@")""", r=pick(ALI_REGIONS), i=i, s=s, b=pick(BUCKETS)), [i, s]


def k_ali_cli():
    i, s = ali_id(), ali_secret()
    return fill("""$ aliyun configure set --profile @@p@@ --mode AK --region @@r@@ \\
    --access-key-id @@i@@ --access-key-secret @@s@@
Configuring profile '@@p@@' in 'AK' authenticate mode...
Saving profile[@@p@@] ...Done.""", p=pick(["default", "prod", "oss-sync"]), r=pick(ALI_REGIONS), i=i, s=s), [i, s]


def k_ali_ossutilconfig():
    i, s = ali_id(), ali_secret()
    return fill("""$ cat ~/.ossutilconfig
[Credentials]
language=EN
endpoint=oss-@@r@@.aliyuncs.com
accessKeyID=@@i@@
accessKeySecret=@@s@@""", r=pick(ALI_REGIONS), i=i, s=s), [i, s]


def k_ali_java_oss():
    i, s = ali_id(), ali_secret()
    return fill("""String endpoint = "https://oss-@@r@@.aliyuncs.com";
OSS ossClient = new OSSClientBuilder().build(endpoint, "@@i@@", "@@s@@");
ossClient.putObject("@@b@@", "reports/daily.csv", new File("/tmp/daily.csv"));""",
                r=pick(ALI_REGIONS), i=i, s=s, b=pick(BUCKETS)), [i, s]


def k_minio_mc_alias():
    ak, sk = rs(20, UP + DG), mixed(40)
    return fill("""$ mc alias set @@a@@ https://minio.@@o@@.internal @@ak@@ @@sk@@
Added `@@a@@` successfully.
$ mc ls @@a@@/@@b@@ | head -3""", a=pick(["backup", "lake", "s3local"]), o=pick(ORGS), ak=ak, sk=sk, b=pick(BUCKETS)), [sk]


def k_minio_go():
    ak, sk = rs(20, UP + DG), mixed(40)
    return fill("""mc, err := minio.New("minio.@@o@@.internal:9000", &minio.Options{
	Creds:  credentials.NewStaticV4("@@ak@@", "@@sk@@", ""),
	Secure: true,
})""", o=pick(ORGS), ak=ak, sk=sk), [sk]


def k_minio_svcacct():
    ak, sk = rs(20, UP + DG), mixed(40)
    return fill("""$ mc admin user svcacct add --access-key "" local @@u@@
Access Key: @@ak@@
Secret Key: @@sk@@
Expiration: no-expiry""", u=pick(USERS), ak=ak, sk=sk), [sk]


def k_minio_compose():
    pw = password(24, ALNUM)
    return fill("""  minio:
    image: quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z
    command: server /data --console-address ":9001"
    environment:
      MINIO_ROOT_USER: @@u@@
      MINIO_ROOT_PASSWORD: @@pw@@
    volumes:
      - minio-data:/data""", u=pick(["minio-admin", "rootuser", "storage"]), pw=pw), [pw]


def b2_keyid():
    return "00" + str(rint(2, 5)) + hx(12) + "000000000" + str(rint(1, 9))


def b2_appkey():
    return "K00" + str(rint(2, 5)) + mixed(27)


def k_b2_python():
    kid, key = b2_keyid(), b2_appkey()
    return fill("""from b2sdk.v2 import InMemoryAccountInfo, B2Api

info = InMemoryAccountInfo()
b2_api = B2Api(info)
b2_api.authorize_account("production", "@@kid@@", "@@key@@")
bucket = b2_api.get_bucket_by_name("@@b@@")""", kid=kid, key=key, b=pick(BUCKETS)), [key]


def k_b2_key_create():
    kid, key = b2_keyid(), b2_appkey()
    return "$ b2 key create --bucket %s %s-writer listFiles,readFiles,writeFiles\n%s %s\n" % (
        pick(BUCKETS), pick(SERVICES), kid, key), [key]


def k_b2_rclone():
    kid, key = b2_keyid(), b2_appkey()
    return "[b2-offsite]\ntype = b2\naccount = %s\nkey = %s\nhard_delete = false\n" % (kid, key), [key]


def k_r2_boto():
    kid, sec = hx(32), hx(64)
    return fill("""r2 = boto3.client(
    "s3",
    endpoint_url="https://@@acc@@.r2.cloudflarestorage.com",
    aws_access_key_id="@@kid@@",
    aws_secret_access_key="@@sec@@",
    region_name="auto",
)""", acc=hx(32), kid=kid, sec=sec), [sec]


def k_gcs_hmac():
    aid, sec = "GOOG1E" + rs(55, UP + DG), mixed(40, B64)
    return fill("""$ gcloud storage hmac create @@sa@@@@@p@@.iam.gserviceaccount.com
accessId: @@aid@@
secret: @@sec@@
metadata:
  id: @@p@@/@@aid@@
  state: ACTIVE""", sa=pick(["hmac-uploader", "duckdb-reader"]), p=pick(ORGS) + "-data", aid=aid, sec=sec), [sec]


def k_tencent():
    sid, skey = "AKID" + rs(32), mixed(32)
    return fill("""cred = credential.Credential("@@sid@@", "@@sk@@")
client = cvm_client.CvmClient(cred, "ap-guangzhou")""", sid=sid, sk=skey), [skey]


def k_azure_storage_conn():
    acc = "st" + rs(10, LO + DG)
    key = b64e(rbytes(64))
    return ("AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net"
            % (acc, key)), [key]


def k_ibm_cos_hmac():
    kid, sec = hx(32), hx(48)
    text = json.dumps({"apikey": mixed(44, B64URL), "cos_hmac_keys": {"access_key_id": kid, "secret_access_key": sec},
                       "endpoints": "https://control.cloud-object-storage.cloud.ibm.com/v2/endpoints",
                       "iam_apikey_description": "Auto-generated for key crn:v1:bluemix:public:cloud-object-storage:global:a/%s" % hx(32),
                       "resource_instance_id": "crn:v1:bluemix:public:cloud-object-storage:global:a/%s:%s::" % (hx(32), uid())},
                      indent=2)
    d = json.loads(text)
    return text, [d["apikey"], sec]


KEY_PAIRS = [k_iam_wizard_csv, k_rootkey_csv, k_csv_column, k_bare_two_lines, k_bare_one_line,
             k_credentials_values_only, k_java_v2, k_java_session, k_py_session, k_py_s3fs, k_pandas_storage_options,
             k_go_v2, k_csharp_s3client, k_rust_sdk, k_php_sdk, k_node_v2, k_duckdb_secret, k_redshift_copy,
             k_snowflake_stage, k_spark_submit, k_ali_python, k_ali_go_oss, k_ali_cli, k_ali_ossutilconfig,
             k_ali_java_oss, k_minio_mc_alias, k_minio_go, k_minio_svcacct, k_minio_compose, k_b2_python,
             k_b2_key_create, k_b2_rclone, k_r2_boto, k_gcs_hmac, k_tencent, k_azure_storage_conn, k_ibm_cos_hmac]


# ================================================================ SECRET: provider_near_value
def v_groq_dash():
    k = "gsk_" + mixed(52)
    return pick(["groq - %s\nthat's the one for the eval harness, rate limit is per org",
                 "swapping the summariser over to groq — %s — can you update the .env on the staging box?"]) % k, [k]


def v_replicate_colon():
    k = "r8_" + mixed(37)
    return pick(["replicate: %s", "Replicate:%s (billing is on the team account)"]) % k, [k]


def v_openrouter_quote():
    k = "sk-or-v1-" + hx(64)
    return "the openrouter key \"%s\" keeps returning 402 even though the credits page shows $40 left" % k, [k]


def v_perplexity_space():
    k = "pplx-" + mixed(48)
    return "perplexity %s\nuse sonar-pro for the research agent" % k, [k]


def v_mistral_next_line():
    k = mixed(32)
    return "Mistral API key\n%s\n\nworkspace is 'agents-prod', model mistral-large-latest" % k, [k]


def v_cohere_yaml():
    k = mixed(40)
    return fill("""# rerank.yaml
provider: cohere
cohere: @@k@@
model: rerank-english-v3.0
top_n: 8""", k=k), [k]


def v_deepgram_toml():
    k = hx(40)
    return fill("""[speech]
engine = "deepgram"
deepgram = "@@k@@"
language = "en-US"
punctuate = true""", k=k), [k]


def v_elevenlabs_env():
    k = "sk_" + hx(48)
    return "ELEVENLABS=%s\nVOICE_ID=%s\n" % (k, mixed(20)), [k]


def v_atlassian_arrow():
    k = "ATATT3xFfGF0" + rs(170, B64URL) + "=" + hx(8).upper()
    return ("jira token for the triage bot -> %s\n(account %s, site %s.atlassian.net)"
            % (k, email(), pick(ORGS))), [k]


def v_bitbucket_app_password():
    k = "ATBB" + mixed(24) + hx(8).upper()
    return fill("""bitbucket:
  workspace: @@o@@
  username: @@u@@
  bitbucket_app_password: @@k@@""", o=pick(ORGS), u=pick(USERS), k=k), [k]


def v_sonar_ini():
    k = "squ_" + hx(40)
    return fill("""[sonar]
host = https://sonar.@@o@@.io
sonarqube = @@k@@
project = @@r@@""", o=pick(ORGS), k=k, r=pick(REPOS)), [k]


def v_grafana_prose():
    k = "glsa_" + mixed(32) + "_" + hx(8)
    return pick(["grafana sa token `%s` (Editor role, for the dashboard provisioning job)",
                 "Grafana: %s"]) % k, [k]


def v_doppler_nothing():
    k = "dp.st.%s.%s" % (pick(["prd", "dev", "stg"]), mixed(40))
    return pick(["doppler%s", "doppler=%s"]) % k + "\nproject api-%s" % pick(["core", "web"]), [k]


def v_tfc_next_line():
    k = mixed(14) + ".atlasv1." + mixed(67)
    return ("Terraform Cloud team token (owners):\n\n    %s\n\nworkspace %s-prod, org %s" %
            (k, pick(SERVICES), pick(ORGS))), [k]


def v_planetscale_yaml():
    u = rs(12, LO + DG)
    pw = "pscale_pw_" + mixed(43, B64URL)
    return fill("""planetscale:
  host: aws.connect.psdb.cloud
  username: @@u@@
  planetscale_password: @@pw@@
  database: @@d@@""", u=u, pw=pw, d=pick(REPOS)), [pw]


def v_supabase_service_role():
    t = jwt({"iss": "supabase", "ref": rs(20, LO), "role": "service_role"})
    return "supabase service role: %s\nonly for the cron worker, never ship it to the browser" % t, [t]


def v_shopify_app_secret():
    k = "shpss_" + hx(32)
    return "shopify app secret %s\napi key (public) is %s" % (k, hx(32)), [k]


def v_square_quote():
    k = "EAAA" + mixed(60, B64URL)
    return "Square production token: '%s'" % k, [k]


def v_paypal_pair_prose():
    cid = "A" + mixed(79, B64URL)
    sec = "E" + mixed(79, B64URL)
    return ("PayPal live app: client id %s\nsecret %s\nwebhook id %s" % (cid, sec, rs(17, UP + DG))), [sec]


def v_plaid_toml():
    cid = hx(24)
    sec = hx(30)
    return fill("""[plaid]
env = "production"
client_id = "@@cid@@"
plaid_secret = "@@s@@"
products = ["transactions", "auth"]""", cid=cid, s=sec), [sec]


def v_discord_space():
    t = b64u(snowflake_id().encode()) + "." + rs(6, B64URL) + "." + mixed(38, B64URL)
    return "discord bot %s\nguild 1%s" % (t, "".join(R.choice(DG) for _ in range(18))), [t]


def v_figma_paren():
    k = "figd_" + mixed(40, B64URL)
    return "Figma (%s) — read-only, for exporting the icon set in CI" % k, [k]


def v_contentful_ini():
    k = "CFPAT-" + mixed(43, B64URL)
    return "[contentful]\nspace = %s\ncontentful_management_token = %s\nenvironment = master\n" % (rs(12, LO + DG), k), [k]


def v_netlify_colon_space():
    k = "nfp_" + mixed(36)
    return "netlify: %s  <- personal access token, expires in 30 days" % k, [k]


def v_render_yaml():
    k = "rnd_" + mixed(32)
    return "deploy:\n  render: %s\n  service: srv-%s\n" % (k, rs(20, LO + DG)), [k]


def v_twitch_pair():
    cid = rs(30, LO + DG)
    sec = rs(30, LO + DG)
    while not any(c in DG for c in sec):
        sec = rs(30, LO + DG)
    return "twitch app — client id %s, client secret %s" % (cid, sec), [sec]


def v_trello_next_line():
    key = hx(32)
    tok = "ATTA" + hx(64) + hx(8).upper()
    return "Trello\nkey %s\ntoken\n%s" % (key, tok), [tok]


def v_asana_dash():
    t = "2/%d/%d:%s" % (rint(10 ** 15, 10 ** 16 - 1), rint(10 ** 15, 10 ** 16 - 1), hx(32))
    return "asana-%s" % t, [t]


def v_hubspot_yaml():
    t = "pat-%s-%s" % (pick(["na1", "eu1"]), uid())
    return "crm:\n  hubspot: %s\n  portal_id: %d\n" % (t, rint(10 ** 7, 10 ** 8)), [t]


def v_launchdarkly_properties():
    k = "sdk-" + uid()
    return "launchdarkly.sdk-key=%s\nlaunchdarkly.offline=false\n" % k, [k]


def v_pulumi_export():
    k = "pul-" + hx(40)
    return "pulumi token is %s, set it as PULUMI_ACCESS_TOKEN in the runner" % k, [k]


def v_postman_colon():
    k = "PMAK-" + hx(24) + "-" + hx(34)
    return "Postman:%s" % k, [k]


def v_dynatrace_yaml():
    k = "dt0c01." + rs(24, UP + DG) + "." + rs(64, UP + DG)
    return fill("""oneagent:
  tenant: https://@@t@@.live.dynatrace.com
  dynatrace: @@k@@""", t=rs(8, LO + DG), k=k), [k]


def v_databricks_space():
    k = "dapi" + hx(32)
    return "databricks %s\nhost is https://adb-%d.%d.azuredatabricks.net" % (k, rint(10 ** 15, 10 ** 16), rint(1, 19)), [k]


def v_tailscale_equals():
    k = "tskey-auth-k" + mixed(10) + "CNTRL-" + mixed(33)
    return "tailscale=%s  # ephemeral, tag:ci" % k, [k]


def v_ngrok_quote():
    k = "2" + mixed(26) + "_" + mixed(21)
    return "ngrok authtoken \"%s\" — free tier, so only one tunnel at a time" % k, [k]


def v_pinecone_toml():
    k = "pcsk_" + mixed(6) + "_" + mixed(63)
    return "[vectorstore]\nbackend = \"pinecone\"\npinecone = \"%s\"\nindex = \"docs-%s\"\n" % (k, pick(["v2", "prod"])), [k]


def v_brevo_backticks():
    k = "xkeysib-" + hx(64) + "-" + mixed(16)
    return "brevo `%s`" % k, [k]


def v_resend_next_line():
    k = "re_" + mixed(8) + "_" + mixed(24)
    return "resend key:\n%s\nsending domain mail.%s.io is verified" % (k, pick(ORGS)), [k]


def v_segment_rollbar_yaml():
    a, b = mixed(32), hx(32)
    return fill("""analytics:
  segment: @@a@@
errors:
  rollbar: @@b@@
  environment: production""", a=a, b=b), [a, b]


def v_circleci_prose():
    k = "CCIPAT_" + mixed(22) + "_" + hx(40)
    return "circleci token %s — needs to go into the org context, not the project" % k, [k]


def v_buildkite_ini():
    k = "bkua_" + hx(40)
    return "[buildkite]\norg = %s\nbuildkite = %s\n" % (pick(ORGS), k), [k]


def v_snyk_uuid_colon():
    k = uid()
    return "snyk: %s (service account, org-level)" % k, [k]


def v_mailjet_pair():
    pub, sec = hx(32), hx(32)
    return "mailjet\napi key %s\nsecret key %s" % (pub, sec), [sec]


PROVIDER_NEAR_VALUE = [v_groq_dash, v_replicate_colon, v_openrouter_quote, v_perplexity_space, v_mistral_next_line,
                       v_cohere_yaml, v_deepgram_toml, v_elevenlabs_env, v_atlassian_arrow,
                       v_bitbucket_app_password, v_sonar_ini, v_grafana_prose, v_doppler_nothing, v_tfc_next_line,
                       v_planetscale_yaml, v_supabase_service_role, v_shopify_app_secret, v_square_quote,
                       v_paypal_pair_prose, v_plaid_toml, v_discord_space, v_figma_paren, v_contentful_ini,
                       v_netlify_colon_space, v_render_yaml, v_twitch_pair, v_trello_next_line, v_asana_dash,
                       v_hubspot_yaml, v_launchdarkly_properties, v_pulumi_export, v_postman_colon,
                       v_dynatrace_yaml, v_databricks_space, v_tailscale_equals, v_ngrok_quote, v_pinecone_toml,
                       v_brevo_backticks, v_resend_next_line, v_segment_rollbar_yaml, v_circleci_prose,
                       v_buildkite_ini, v_snyk_uuid_colon, v_mailjet_pair]


# ================================================================ SECRET: json_escaped
def toolu():
    return "toolu_01" + rs(22)


def call_id():
    return "call_" + rs(24)


def esc(s, depth):
    for _ in range(depth):
        s = jesc(s)
    return s


def wrap_any(inner, tool="Bash"):
    """Serialise `inner` the way various agent harnesses log a tool result; returns (text, escape depth)."""
    kind = rint(0, 6)
    if kind == 0:
        d = {"type": "tool_result", "tool_use_id": toolu(), "content": [{"type": "text", "text": inner}], "is_error": False}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 1:
        out = json.dumps({"output": inner, "metadata": {"exit_code": 0, "duration_seconds": round(R.random() * 3, 1)}},
                         ensure_ascii=False)
        d = {"type": "function_call_output", "call_id": call_id(), "output": out}
        return json.dumps(d, ensure_ascii=False), 2
    if kind == 2:
        d = {"jsonrpc": "2.0", "id": rint(2, 90), "result": {"content": [{"type": "text", "text": inner}], "isError": False}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 3:
        d = {"id": str(rint(1, 400)), "msg": {"type": "exec_command_end", "call_id": call_id(), "stdout": inner,
                                              "stderr": "", "exit_code": 0, "duration": {"secs": rint(0, 3), "nanos": rint(0, 10 ** 9)}}}
        return json.dumps(d, ensure_ascii=False), 1
    if kind == 4:
        d = {"parentUuid": uid(), "isSidechain": False, "type": "user",
             "message": {"role": "user", "content": [{"tool_use_id": toolu(), "type": "tool_result", "content": inner}]},
             "uuid": uid(), "timestamp": ts()}
        return json.dumps(d, ensure_ascii=False, separators=(",", ":")), 1
    if kind == 5:
        d = {"event": "on_tool_end", "name": tool.lower(), "run_id": uid(), "data": {"output": inner}}
        return json.dumps(d, ensure_ascii=False, indent=2), 1
    d = {"role": "tool", "tool_call_id": call_id(), "name": tool, "content": inner}
    return json.dumps(d, ensure_ascii=False), 1


def jcase(inner_fn, tool="Bash"):
    def f():
        inner, secrets = inner_fn()
        text, depth = wrap_any(inner, tool)
        return text, [esc(s, depth) for s in secrets]
    f.__name__ = inner_fn.__name__
    return f


def ji_env_local():
    pw = password(20, ALNUM + "-_")
    ns = b64e(rbytes(32))
    rk = "re_" + mixed(8) + "_" + mixed(24)
    inner = fill("""$ cat .env.local
DATABASE_URL="postgresql://@@u@@:@@pw@@@db.@@o@@.internal:5432/app?sslmode=require"
NEXTAUTH_URL="https://app.@@o@@.io"
NEXTAUTH_SECRET="@@ns@@"
RESEND_API_KEY="@@rk@@"
NEXT_PUBLIC_POSTHOG_HOST="https://eu.i.posthog.com"
""", u=pick(USERS), pw=pw, o=pick(ORGS), ns=ns, rk=rk)
    return inner, [pw, ns, rk]


def ji_github_app_pem():
    pem = rsa_pem()
    return "$ cat deploy/keys/%s.%s.private-key.pem\n%s\n" % (pick(ORGS), date().replace("-", ""), pem), [pem]


def ji_sa_json_read():
    pem = pkcs8_pem()
    proj = "%s-%s-%d" % (pick(ORGS), pick(["prod", "analytics"]), rint(100, 999))
    mail = "%s@%s.iam.gserviceaccount.com" % (pick(["bq-loader", "gke-deployer"]), proj)
    inner = json.dumps({"type": "service_account", "project_id": proj, "private_key_id": hx(40),
                        "private_key": pem + "\n", "client_email": mail, "client_id": str(rint(10 ** 20, 10 ** 21 - 1)),
                        "token_uri": "https://oauth2.googleapis.com/token"}, indent=2)
    numbered = "\n".join("%6d\t%s" % (n, line) for n, line in enumerate(inner.split("\n"), 1))
    return numbered + "\n", [jesc(pem)]


def ji_k8s_secret_yaml():
    dbp, jw, sk = password(22, ALNUM + "!#%-_"), mixed(48, B64URL), "sk_live_51" + rs(97)
    inner = fill("""$ cat k8s/overlays/prod/secrets.yaml
apiVersion: v1
kind: Secret
metadata:
  name: @@s@@-env
  namespace: prod
type: Opaque
stringData:
  DB_PASSWORD: "@@dbp@@"
  JWT_SECRET: "@@jw@@"
  STRIPE_SECRET_KEY: "@@sk@@"
  LOG_LEVEL: "info"
""", s=pick(SERVICES), dbp=dbp, jw=jw, sk=sk)
    return inner, [dbp, jw, sk]


def ji_k8s_secret_json():
    user = pick(USERS)
    pw = password(20, ALNUM)
    tok = mixed(40, B64URL)
    pw64, tok64 = b64e(pw.encode()), b64e(tok.encode())
    inner = json.dumps({"apiVersion": "v1", "kind": "Secret",
                        "data": {"password": pw64, "api-token": tok64, "username": b64e(user.encode())},
                        "metadata": {"name": "%s-creds" % pick(SERVICES), "namespace": "prod", "uid": uid(),
                                     "resourceVersion": str(rint(10 ** 6, 10 ** 8))}, "type": "Opaque"}, indent=4)
    return "$ kubectl get secret -o json\n" + inner + "\n", [pw64, tok64]


def ji_secretsmanager():
    pw = password(28, ALNUM + "!#%*-_")
    inner_secret = json.dumps({"username": pick(USERS), "password": pw, "engine": "postgres",
                               "host": "%s.cluster-%s.%s.rds.amazonaws.com" % (pick(SERVICES), rs(12, LO + DG), pick(REGIONS)),
                               "port": 5432})
    a, r = acct(), pick(REGIONS)
    inner = json.dumps({"ARN": "arn:aws:secretsmanager:%s:%s:secret:prod/%s/db-%s" % (r, a, pick(SERVICES), rs(6)),
                        "Name": "prod/db", "VersionId": uid(), "SecretString": inner_secret,
                        "VersionStages": ["AWSCURRENT"], "CreatedDate": ts()[:23] + "000+00:00"}, indent=4)
    return "$ aws secretsmanager get-secret-value --secret-id prod/db\n" + inner + "\n", [pw]


def ji_vault_kv_json():
    k, pw = mixed(40), password(18, ALNUM + "-_")
    inner = json.dumps({"request_id": uid(), "lease_id": "", "lease_duration": 0, "renewable": False,
                        "data": {"data": {"partner_api_key": k, "smtp_password": pw, "smtp_user": "postmaster"},
                                 "metadata": {"created_time": ts(), "version": rint(2, 14), "destroyed": False}},
                        "warnings": None}, indent=2)
    return "$ vault kv get -format=json -mount=secret %s/prod\n%s\n" % (pick(SERVICES), inner), [k, pw]


def ji_docker_inspect_env():
    pg, rd = password(20, ALNUM), password(24, ALNUM)
    inner = json.dumps([{"Id": hx(64), "Config": {"Env": ["POSTGRES_PASSWORD=%s" % pg, "REDIS_PASSWORD=%s" % rd,
                                                           "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                           "NODE_ENV=production"],
                                                   "Image": "ghcr.io/%s/%s:%s" % (pick(ORGS), pick(SERVICES), hx(7))}}],
                       indent=4)
    return "$ docker inspect %s --format '{{json .}}' | jq '[{Id, Config: {Env: .Config.Env, Image: .Config.Image}}]'\n%s\n" % (
        pick(SERVICES), inner), [pg, rd]


def ji_tf_show_access_key():
    i, s = aws_id(), aws_secret()
    u = pick(USERS).replace("_", "-")
    inner = json.dumps({"address": "aws_iam_access_key.%s" % u, "mode": "managed", "type": "aws_iam_access_key",
                        "values": {"id": i, "secret": s, "status": "Active", "user": u, "pgp_key": None},
                        "sensitive_values": {"secret": True}}, indent=2)
    return "$ terraform show -json | jq '.values.root_module.resources[] | select(.type==\"aws_iam_access_key\")'\n" + inner, [i, s]


def ji_mcp_config():
    pat = gh_pat()
    brave = "BSA" + mixed(29)
    inner = json.dumps({"mcpServers": {
        "github": {"command": "docker", "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN",
                                                 "ghcr.io/github/github-mcp-server"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": pat}},
        "brave-search": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-brave-search"],
                         "env": {"BRAVE_API_KEY": brave}}}}, indent=2)
    return inner, [pat, brave]


def ji_pypirc():
    t = "pypi-AgEIcHlwaS5vcmc" + rs(160, B64URL)
    return "$ cat ~/.pypirc\n[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = %s\n" % t, [t]


def ji_openssh_key():
    k = openssh_pem()
    return "$ cat ~/.ssh/deploy_%s\n%s\n" % (pick(REPOS).replace("-", "_"), k), [k]


def ji_age_keys():
    sk = age_secret()
    inner = "$ cat ~/.config/sops/age/keys.txt\n# created: %sT%s+01:00\n# public key: %s\n%s\n" % (date(), hms(), age_public(), sk)
    return inner, [sk]


def ji_wireguard_conf():
    priv, psk = wg_key(), wg_key()
    inner = fill("""$ sudo cat /etc/wireguard/wg0.conf
[Interface]
Address = 10.8.0.@@a@@/24
ListenPort = 51820
PrivateKey = @@priv@@

[Peer]
PublicKey = @@pub@@
PresharedKey = @@psk@@
AllowedIPs = 10.8.0.0/24
Endpoint = vpn.@@o@@.io:51820
""", a=str(rint(2, 200)), priv=priv, pub=wg_key(), psk=psk, o=pick(ORGS))
    return inner, [priv, psk]


def ji_rails_credentials():
    skb = hx(128)
    i, s = aws_id(), aws_secret()
    inner = fill("""$ EDITOR=cat bin/rails credentials:show --environment production
secret_key_base: @@skb@@
aws:
  access_key_id: @@i@@
  secret_access_key: @@s@@
active_record_encryption:
  primary_key: @@pk@@
""", skb=skb, i=i, s=s, pk=mixed(32))
    pk = inner.split("primary_key: ")[1].split("\n")[0]
    return inner, [skb, i, s, pk]


def ji_compose_config():
    pg = password(22, ALNUM + "_-")
    inner = fill("""$ docker compose config
name: @@r@@
services:
  db:
    environment:
      POSTGRES_DB: app
      POSTGRES_PASSWORD: @@pg@@
      POSTGRES_USER: app
    image: postgres:17
  api:
    environment:
      DATABASE_URL: postgres://app:@@pg@@@db:5432/app
      SESSION_SECRET: "@@ss@@"
""", r=pick(REPOS), pg=pg, ss=hx(64))
    ss = inner.split('SESSION_SECRET: "')[1].split('"')[0]
    return inner, [pg, ss]


def ji_supabase_env():
    ref = rs(20, LO)
    sr = jwt({"iss": "supabase", "ref": ref, "role": "service_role"})
    js = mixed(40, B64URL)
    anon = jwt({"iss": "supabase", "ref": ref, "role": "anon"})
    inner = ("$ supabase status -o env\nAPI_URL=\"http://127.0.0.1:54321\"\nANON_KEY=\"%s\"\n"
             "SERVICE_ROLE_KEY=\"%s\"\nJWT_SECRET=\"%s\"\nDB_URL=\"postgresql://postgres:postgres@127.0.0.1:54322/postgres\"\n"
             % (anon, sr, js))
    return inner, [sr, js]


def ji_request_log():
    k = anthropic_key()
    inner = json.dumps({"method": "POST", "url": "https://api.anthropic.com/v1/messages",
                        "headers": {"x-api-key": k, "anthropic-version": "2023-06-01", "content-type": "application/json"},
                        "status": 529, "elapsed_ms": rint(200, 9000)})
    return "$ tail -n1 logs/llm-requests.jsonl\n" + inner + "\n", [k]


def ji_kaggle_json():
    k = hx(32)
    inner = "$ cat ~/.kaggle/kaggle.json\n" + json.dumps({"username": pick(USERS).replace("_", ""), "key": k}) + "\n"
    return inner, [k]


def ji_gh_show_token():
    t = "gho_" + mixed(36)
    inner = fill("""$ gh auth status --show-token
github.com
  ✓ Logged in to github.com account @@u@@ (keyring)
  - Active account: true
  - Git operations protocol: https
  - Token: @@t@@
  - Token scopes: 'gist', 'read:org', 'repo'
""", u=pick(USERS).replace("_", "-"), t=t)
    return inner, [t]


def ji_heroku_config():
    pw, rpw = mixed(64, LO + DG), mixed(32, ALNUM)
    inner = fill("""$ heroku config -s -a @@a@@
DATABASE_URL='postgres://u@@u@@:@@pw@@@ec2-@@ip@@.compute-1.amazonaws.com:5432/d@@d@@'
REDIS_URL='rediss://:@@rpw@@@ec2-@@ip2@@.compute-1.amazonaws.com:29080'
WEB_CONCURRENCY='2'
""", a=pick(SERVICES), u=rs(13, LO + DG), pw=pw, ip="-".join(str(rint(1, 254)) for _ in range(4)), d=rs(13, LO + DG),
                 rpw=rpw, ip2="-".join(str(rint(1, 254)) for _ in range(4)))
    return inner, [pw, rpw]


def ji_dockerconfigjson():
    u, t = pick(USERS).replace("_", "-"), ghp()
    auth = b64e(("%s:%s" % (u, t)).encode())
    inner = "$ kubectl get secret regcred -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d\n" + \
        json.dumps({"auths": {"ghcr.io": {"username": u, "password": t, "auth": auth}}}) + "\n"
    return inner, [t, auth]


def ji_netrc():
    hk, gt = uid(), ghp()
    u = email()
    inner = "$ cat ~/.netrc\nmachine api.heroku.com\n  login %s\n  password %s\nmachine github.com\n  login %s\n  password %s\n" % (
        u, hk, pick(USERS), gt)
    return inner, [hk, gt]


def ji_spring_prod_yml():
    pw = password(20, ALNUM + "!#%*")
    js = b64e(rbytes(48))
    inner = fill("""   1	spring:
   2	  datasource:
   3	    url: jdbc:postgresql://@@h@@:5432/@@d@@
   4	    username: @@u@@
   5	    password: "@@pw@@"
   6	jwt:
   7	  secret: "@@js@@"
   8	  expiration: 3600
""", h=pick(["pg-prod.internal", "10.0.4.12"]), d=pick(REPOS).replace("-", "_"), u=pick(USERS), pw=pw, js=js)
    return inner, [pw, js]


def ji_adc_json():
    cs = "GOCSPX-" + mixed(28, B64URL)
    rt = "1//0" + mixed(99, B64URL)
    inner = json.dumps({"account": "", "client_id": "%d-%s.apps.googleusercontent.com" % (rint(10 ** 11, 10 ** 12 - 1), rs(32, LO + DG)),
                        "client_secret": cs, "quota_project_id": "%s-dev" % pick(ORGS), "refresh_token": rt,
                        "type": "authorized_user", "universe_domain": "googleapis.com"}, indent=2)
    return "$ cat ~/.config/gcloud/application_default_credentials.json\n" + inner + "\n", [cs, rt]


def ji_git_credentials():
    t = gh_pat()
    u = pick(USERS).replace("_", "-")
    return "$ cat ~/.git-credentials\nhttps://%s:%s@github.com\n" % (u, t), [t]


JSON_INNER = [(ji_env_local, "Bash"), (ji_github_app_pem, "Bash"), (ji_sa_json_read, "Read"), (ji_k8s_secret_yaml, "Bash"),
              (ji_k8s_secret_json, "Bash"), (ji_secretsmanager, "Bash"), (ji_vault_kv_json, "Bash"),
              (ji_docker_inspect_env, "Bash"), (ji_tf_show_access_key, "Bash"), (ji_mcp_config, "Read"),
              (ji_pypirc, "Bash"), (ji_openssh_key, "Bash"), (ji_age_keys, "Bash"), (ji_wireguard_conf, "Bash"),
              (ji_rails_credentials, "Bash"), (ji_compose_config, "Bash"), (ji_supabase_env, "Bash"),
              (ji_request_log, "Bash"), (ji_kaggle_json, "Bash"), (ji_gh_show_token, "Bash"), (ji_heroku_config, "Bash"),
              (ji_dockerconfigjson, "Bash"), (ji_netrc, "Bash"), (ji_spring_prod_yml, "Read"), (ji_adc_json, "Bash"),
              (ji_git_credentials, "Bash")]
JSON_ESCAPED = [jcase(f, t) for f, t in JSON_INNER]


# ================================================================ SECRET: code_constants
def c_rust_aes_gcm():
    k = hx(64)
    return fill("""use aes_gcm::{aead::{Aead, KeyInit}, Aes256Gcm, Key, Nonce};
use hex_literal::hex;

pub fn seal(plain: &[u8], nonce: &[u8; 12]) -> Vec<u8> {
    let key = Key::<Aes256Gcm>::from_slice(&hex!("@@k@@"));
    Aes256Gcm::new(key).encrypt(Nonce::from_slice(nonce), plain).expect("encrypt")
}""", k=k), [k]


def c_rust_env_default():
    k = b64e(rbytes(32))
    return fill("""fn session_key() -> String {
    std::env::var("SESSION_KEY").unwrap_or_else(|_| "@@k@@".to_string())
}""", k=k), [k]


def c_rust_b64_decode():
    k = b64e(rbytes(32))
    return fill("""use base64::{engine::general_purpose::STANDARD, Engine as _};

static COOKIE_KEY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    STANDARD.decode("@@k@@").expect("valid base64")
});""", k=k), [k]


def c_go_hex_decode():
    k = hx(64)
    return fill("""func newSealer() (*Sealer, error) {
	key, err := hex.DecodeString("@@k@@")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &Sealer{block: block}, nil
}""", k=k), [k]


def c_go_b64_hmac():
    k = b64e(rbytes(32))
    return fill("""var webhookKey, _ = base64.StdEncoding.DecodeString("@@k@@")

func sign(payload []byte) string {
	mac := hmac.New(sha256.New, webhookKey)
	mac.Write(payload)
	return hex.EncodeToString(mac.Sum(nil))
}""", k=k), [k]


def c_go_getenv_default():
    w = "whsec_" + mixed(32)
    return fill("""func getEnv(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return fallback
}

var stripeWebhookSecret = getEnv("STRIPE_WEBHOOK_SECRET", "@@w@@")""", w=w), [w]


def c_go_hmac_literal():
    s = mixed(40)
    return fill("""func verify(r *http.Request, body []byte) bool {
	mac := hmac.New(sha256.New, []byte("@@s@@"))
	mac.Write(body)
	expected := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(expected), []byte(r.Header.Get("X-Hub-Signature-256")))
}""", s=s), [s]


def c_ts_buffer_b64():
    k = b64e(rbytes(32))
    return fill("""import { createCipheriv, randomBytes } from "node:crypto";

const KEY = Buffer.from("@@k@@", "base64");

export function encrypt(plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", KEY, iv);
  const enc = Buffer.concat([c.update(plain, "utf8"), c.final()]);
  return [iv, c.getAuthTag(), enc].map((b) => b.toString("base64url")).join(".");
}""", k=k), [k]


def c_ts_jose_secret():
    s = mixed(48, ALNUM + "-_")
    return fill("""import { SignJWT } from "jose";

const secret = new TextEncoder().encode("@@s@@");

export async function issue(sub: string) {
  return new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("2h").sign(secret);
}""", s=s), [s]


def c_ts_create_hmac():
    k = hx(64)
    return fill("""export const signPayload = (body: string) =>
  crypto.createHmac("sha256", "@@k@@").update(body).digest("hex");""", k=k), [k]


def c_ts_env_or():
    k = hx(64)
    return fill("""// lib/crypto.ts
const ENCRYPTION_KEY = process.env.ENCRYPTION_KEY || "@@k@@";
if (ENCRYPTION_KEY.length !== 64) throw new Error("ENCRYPTION_KEY must be 32 bytes hex");""", k=k), [k]


def c_py_fernet():
    k = fernet_key()
    return fill("""from cryptography.fernet import Fernet

_fernet = Fernet(b"@@k@@")

def encrypt_token(token: str) -> str:
    return _fernet.encrypt(token.encode()).decode()""", k=k), [k]


def c_py_hmac_inline():
    k = hx(64)
    return fill("""def verify_signature(body: bytes, header: str) -> bool:
    expected = hmac.new(bytes.fromhex("@@k@@"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))""", k=k), [k]


def c_py_environ_default():
    k = openai_key()
    return fill("""import os
from openai import OpenAI

client = OpenAI(api_key=os.environ.get("OPENAI_API_KEY", "@@k@@"))""", k=k), [k]


def c_py_b64decode():
    k = b64e(rbytes(32))
    return fill("""# crypto/keys.py
import base64

AES_KEY = base64.b64decode("@@k@@")
NONCE_SIZE = 12""", k=k), [k]


def c_java_secretkeyspec():
    s = mixed(44, ALNUM + "-_")
    return fill("""private static final SecretKeySpec HMAC_KEY =
        new SecretKeySpec("@@s@@".getBytes(StandardCharsets.UTF_8), "HmacSHA256");

public static String sign(String payload) throws GeneralSecurityException {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(HMAC_KEY);
    return HexFormat.of().formatHex(mac.doFinal(payload.getBytes(StandardCharsets.UTF_8)));
}""", s=s), [s]


def c_java_parse_hex():
    k = hx(64)
    return fill("""private static final byte[] MASTER_KEY = HexFormat.of().parseHex("@@k@@");
private static final SecretKey AES = new SecretKeySpec(MASTER_KEY, "AES");""", k=k), [k]


def c_java_getenv_default():
    k = "SG." + mixed(22, B64URL) + "." + mixed(43, B64URL)
    return fill("""public final class MailConfig {
    static final String SENDGRID_API_KEY =
            System.getenv().getOrDefault("SENDGRID_API_KEY", "@@k@@");
}""", k=k), [k]


def c_csharp_utf8_key():
    s = mixed(48, ALNUM + "!#%*")
    return fill("""builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
    .AddJwtBearer(o =>
    {
        o.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuerSigningKey = true,
            IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes("@@s@@")),
            ValidateIssuer = false,
            ValidateAudience = false,
        };
    });""", s=s), [s]


def c_csharp_fromhex():
    k = hx(64).upper()
    return fill("""private static readonly byte[] DataProtectionKey = Convert.FromHexString("@@k@@");""", k=k), [k]


def c_csharp_env_coalesce():
    t = slack_bot()
    return fill("""var slackToken = Environment.GetEnvironmentVariable("SLACK_BOT_TOKEN")
                 ?? "@@t@@";
var slack = new SlackClient(slackToken);""", t=t), [t]


def c_kotlin_android_b64():
    k = b64e(rbytes(32))
    return fill("""object CryptoKeys {
    private val rawKey: ByteArray = Base64.decode("@@k@@", Base64.DEFAULT)
    val aesKey: SecretKey = SecretKeySpec(rawKey, "AES")
}""", k=k), [k]


def c_kotlin_jjwt():
    s = mixed(64)
    return fill("""@Component
class JwtService {
    private val key = Keys.hmacShaKeyFor("@@s@@".toByteArray())

    fun issue(userId: String): String =
        Jwts.builder().subject(userId).expiration(Date.from(Instant.now().plusSeconds(3600))).signWith(key).compact()
}""", s=s), [s]


def c_swift_symmetric_key():
    k = b64e(rbytes(32))
    return fill("""import CryptoKit

enum Vault {
    static let key = SymmetricKey(data: Data(base64Encoded: "@@k@@")!)

    static func seal(_ data: Data) throws -> Data {
        try AES.GCM.seal(data, using: key).combined!
    }
}""", k=k), [k]


def c_swift_env_default():
    t = "glpat-" + mixed(20, ALNUM + "-_")
    return fill("""let gitlabToken = ProcessInfo.processInfo.environment["GITLAB_TOKEN"] ?? "@@t@@"
var request = URLRequest(url: URL(string: "https://gitlab.com/api/v4/projects")!)
request.setValue(gitlabToken, forHTTPHeaderField: "PRIVATE-TOKEN")""", t=t), [t]


def c_ruby_pack_hex():
    k = hx(64)
    return fill("""class TokenBox
  KEY = ["@@k@@"].pack("H*")

  def self.box
    RbNaCl::SecretBox.new(KEY)
  end
end""", k=k), [k]


def c_ruby_strict_decode():
    k = b64e(rbytes(32))
    return fill("""# config/initializers/lockbox.rb
Lockbox.master_key = Base64.strict_decode64("@@k@@")""", k=k), [k]


def c_ruby_env_fetch():
    s = hx(32)
    return fill("""SLACK_SIGNING_SECRET = ENV.fetch("SLACK_SIGNING_SECRET") { "@@s@@" }""", s=s), [s]


def c_php_hex2bin():
    k = hx(64)
    return fill("""<?php
final class Crypto
{
    public static function encrypt(string $plain): string
    {
        $key = hex2bin('@@k@@');
        $nonce = random_bytes(SODIUM_CRYPTO_SECRETBOX_NONCEBYTES);
        return base64_encode($nonce . sodium_crypto_secretbox($plain, $nonce, $key));
    }
}""", k=k), [k]


def c_php_getenv_elvis():
    k = hx(32) + "-" + hx(8) + "-" + hx(8)
    return fill("""<?php
$mgKey = getenv('MAILGUN_API_KEY') ?: '@@k@@';
$mg = Mailgun\\Mailgun::create($mgKey, 'https://api.eu.mailgun.net');""", k=k), [k]


def c_php_hash_hmac_literal():
    s = mixed(40)
    return fill("""<?php
$signature = hash_hmac('sha256', $request->getContent(), '@@s@@');
if (!hash_equals($signature, $request->headers->get('X-Signature'))) {
    abort(401);
}""", s=s), [s]


CODE_CONSTANTS = [c_rust_aes_gcm, c_rust_env_default, c_rust_b64_decode, c_go_hex_decode, c_go_b64_hmac,
                  c_go_getenv_default, c_go_hmac_literal, c_ts_buffer_b64, c_ts_jose_secret, c_ts_create_hmac,
                  c_ts_env_or, c_py_fernet, c_py_hmac_inline, c_py_environ_default, c_py_b64decode,
                  c_java_secretkeyspec, c_java_parse_hex, c_java_getenv_default, c_csharp_utf8_key,
                  c_csharp_fromhex, c_csharp_env_coalesce, c_kotlin_android_b64, c_kotlin_jjwt,
                  c_swift_symmetric_key, c_swift_env_default, c_ruby_pack_hex, c_ruby_strict_decode,
                  c_ruby_env_fetch, c_php_hex2bin, c_php_getenv_elvis, c_php_hash_hmac_literal]


# ================================================================ assembly
CLEAN = [("option_docs", OPTION_DOCS, 50, OPTION_LEADS), ("secret_word_identifiers", SECRET_WORD_IDENTIFIERS, 30, None),
         ("infra_ids", INFRA_IDS, 30, None), ("doc_example", DOC_EXAMPLE, 20, DOC_LEADS)]
SECRET = [("key_pairs", KEY_PAIRS, 30), ("provider_near_value", PROVIDER_NEAR_VALUE, 30),
          ("json_escaped", JSON_ESCAPED, 25), ("code_constants", CODE_CONSTANTS, 25)]


# templates that must appear (they cover tools / shapes the brief names explicitly)
MUST = {"o_redis_cli", "o_psql_meta", "o_pip_index_flags", "o_mysql_config_editor", "o_readme_env_vendors",
        "o_datadog_env_docs", "o_prompt_flag_question", "o_docker_secret_build", "o_gh_secret_set",
        "o_aws_assume_role", "o_gcloud_print_token", "o_az_login", "o_openssl_enc", "o_ssh_keygen_man", "o_gpg_man",
        "o_vault_approle_api", "o_terraform_login", "o_helm_repo_add", "o_npm_token", "o_cargo_login",
        "o_kubectl_set_credentials",
        "k_iam_wizard_csv", "k_csv_column", "k_credentials_values_only", "k_java_v2", "k_py_session", "k_go_v2",
        "k_csharp_s3client", "k_ali_python", "k_ali_java_oss", "k_minio_mc_alias", "k_minio_svcacct", "k_b2_python",
        "k_b2_key_create",
        "c_rust_aes_gcm", "c_py_hmac_inline", "c_go_hmac_literal", "c_ts_buffer_b64", "c_kotlin_android_b64",
        "c_java_secretkeyspec", "c_csharp_utf8_key", "c_swift_symmetric_key", "c_ruby_pack_hex", "c_php_hex2bin",
        "c_py_environ_default", "c_rust_env_default",
        "ji_github_app_pem", "ji_sa_json_read", "ji_env_local", "ji_k8s_secret_yaml",
        "v_groq_dash", "v_replicate_colon", "v_openrouter_quote", "v_perplexity_space", "v_doppler_nothing",
        "v_mistral_next_line", "v_tfc_next_line", "v_cohere_yaml", "v_sonar_ini", "v_segment_rollbar_yaml",
        "v_buildkite_ini", "v_hubspot_yaml", "v_postman_colon"}


def schedule(fns, n):
    must = [f for f in fns if f.__name__ in MUST]
    rest = [f for f in fns if f.__name__ not in MUST]
    R.shuffle(rest)
    order = must + rest
    while len(order) < n:
        batch = list(fns)
        R.shuffle(batch)
        order.extend(batch)
    assert len(must) <= n
    return order[:n]


def build():
    cases, seen = [], set()
    for fam, fns, n, leads in CLEAN:
        for fn in schedule(fns, n):
            for _ in range(20):
                text = fn()
                if leads:
                    text = pick(leads) + text
                if text not in seen:
                    break
            assert text not in seen, (fam, fn.__name__)
            seen.add(text)
            cases.append({"type": fam, "expect": "clean", "text": text, "secrets": [], "_fn": fn.__name__})
    for fam, fns, n in SECRET:
        for fn in schedule(fns, n):
            for _ in range(20):
                text, secrets = fn()
                if text not in seen:
                    break
            assert text not in seen, (fam, fn.__name__)
            seen.add(text)
            assert secrets, (fam, fn.__name__)
            for s in secrets:
                assert s and s in text, (fam, fn.__name__, s)
            assert len(set(secrets)) == len(secrets), (fam, fn.__name__)
            cases.append({"type": fam, "expect": "secret", "text": text, "secrets": secrets, "_fn": fn.__name__})
    R.shuffle(cases)
    return [{"id": "t2-%04d" % i, "type": c["type"], "expect": c["expect"], "text": c["text"], "secrets": c["secrets"]}
            for i, c in enumerate(cases, 1)]


def validate(path):
    from collections import Counter
    counts, n = Counter(), 0
    ids = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            assert set(o) == {"id", "type", "expect", "text", "secrets"}, o.get("id")
            assert o["id"] not in ids
            ids.add(o["id"])
            assert o["expect"] in ("secret", "clean")
            assert (o["expect"] == "secret") == bool(o["secrets"]), o["id"]
            for s in o["secrets"]:
                assert s in o["text"], (o["id"], s)
            counts[(o["type"], o["expect"])] += 1
            n += 1
    return n, counts


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "session_tuning2.jsonl")
    cases = build()
    with open(path, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    n, counts = validate(path)
    print("wrote %d cases to %s" % (n, path))
    for (t, e), c in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print("  %-26s %-6s %3d" % (t, e, c))
    print("  clean %d, secret %d" % (sum(c for (t, e), c in counts.items() if e == "clean"),
                                     sum(c for (t, e), c in counts.items() if e == "secret")))


if __name__ == "__main__":
    main()
