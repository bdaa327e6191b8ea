//! Built-in detection rules: vendor credential formats with distinctive
//! prefixes or shapes, and structural secrets (private key blocks, JWTs,
//! credentials inside URLs). Each rule names the keywords the prefilter looks
//! for; a rule's regex runs only on text that contains one of them.
//!
//! Patterns are compiled with the `regex` crate's byte engines in ASCII mode
//! (linear time; `\b`, `\w` and `(?i)` are ASCII, which keeps the fast DFA
//! in use on any input). A capture group named `s` marks the secret inside a
//! match; otherwise the whole match is the secret.

/// Rule groups an operator can switch on or off per column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Vendor credential formats (`ghp_…`, `AKIA…`, `xoxb-…`).
    Vendor,
    /// Private keys, JWTs, credentials in URLs and connection strings.
    Structural,
    /// Secrets recognised by the name they are assigned to, plus entropy.
    Context,
    /// Operators' own rules.
    Custom,
}

impl Group {
    pub fn parse(s: &str) -> Option<Group> {
        match s {
            "vendor" => Some(Group::Vendor),
            "structural" => Some(Group::Structural),
            "context" => Some(Group::Context),
            "custom" => Some(Group::Custom),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Group::Vendor => "vendor",
            Group::Structural => "structural",
            Group::Context => "context",
            Group::Custom => "custom",
        }
    }

    pub const ALL: [Group; 4] = [
        Group::Vendor,
        Group::Structural,
        Group::Context,
        Group::Custom,
    ];
}

/// One built-in regex rule.
pub struct RuleSpec {
    /// Stable redaction type: what the marker says.
    pub kind: &'static str,
    pub group: Group,
    /// Lower-case literals, one of which every match contains.
    pub keywords: &'static [&'static str],
    pub pattern: &'static str,
    /// Minimum Shannon entropy (bits/char) of the secret; 0 disables.
    pub min_entropy: f32,
    pub confidence: f32,
}

/// A vendor-format rule (confidence 0.95).
const fn v(
    kind: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
    min_entropy: f32,
) -> RuleSpec {
    RuleSpec {
        kind,
        group: Group::Vendor,
        keywords,
        pattern,
        min_entropy,
        confidence: 0.95,
    }
}

/// A structural rule (confidence 0.9).
const fn s(
    kind: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
    min_entropy: f32,
) -> RuleSpec {
    RuleSpec {
        group: Group::Structural,
        confidence: 0.9,
        ..v(kind, keywords, pattern, min_entropy)
    }
}

/// Terminator after a token: not another token character.
macro_rules! end {
    () => {
        r"(?:[^A-Za-z0-9_\-]|$)"
    };
}

pub static RULES: &[RuleSpec] = &[
    // ── Cloud providers ──────────────────────────────────────────────────
    v(
        "aws_access_key_id",
        &["akia", "asia", "abia", "acca", "a3t"],
        r"\b(?P<s>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        3.0,
    ),
    v(
        "aws_bedrock_key",
        &["absk"],
        r"\b(?P<s>ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{100,}={0,2})",
        0.0,
    ),
    v(
        "aws_bedrock_key",
        &["bedrock-api-key-"],
        r"(?P<s>bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=&%._-]*)",
        0.0,
    ),
    v(
        "gcp_api_key",
        &["aiza"],
        concat!(r"\b(?P<s>AIzaSy[A-Za-z0-9_\-]{33})", end!()),
        3.5,
    ),
    // Google OAuth access tokens (`gcloud auth print-access-token`).
    v(
        "gcp_oauth_token",
        &["ya29."],
        concat!(r"\b(?P<s>ya29\.[A-Za-z0-9_\-]{30,})", end!()),
        3.5,
    ),
    v(
        "azure_client_secret",
        &["q~"],
        r"(?:^|[^A-Za-z0-9_~.\-])(?P<s>[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)",
        3.5,
    ),
    v(
        "azure_storage_key",
        &["accountkey="],
        r"(?i:AccountKey)=(?P<s>[A-Za-z0-9+/]{40,100}={0,2})",
        3.5,
    ),
    v(
        "azure_sas_token",
        &["sig="],
        r"[?&]sig=(?P<s>[A-Za-z0-9%+/]{30,}(?:%3D|=){0,2})",
        3.5,
    ),
    // An Azure Functions key in its URL: `https://<app>.azurewebsites.net
    // /api/<fn>?code=…` (or the `x-functions-key` header's value).
    v(
        "azure_function_key",
        &["azurewebsites.net", "x-functions-key"],
        concat!(
            r"(?i:\.azurewebsites\.net/[^\s?#\x22']{0,200}\?(?:[^\s#\x22']{0,200}&)?code=|x-functions-key[\x22']?\s*[:=]\s*[\x22']?)(?P<s>[A-Za-z0-9_\-]{30,}={0,2})",
            r"(?:[^A-Za-z0-9_\-=]|$)"
        ),
        3.5,
    ),
    v(
        "alibaba_access_key",
        &["ltai"],
        r"\b(?P<s>LTAI[A-Za-z0-9]{20})\b",
        3.5,
    ),
    v(
        "tencent_secret_id",
        &["akid"],
        r"\b(?P<s>AKID[A-Za-z0-9]{32})\b",
        3.5,
    ),
    v(
        "digitalocean_token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"\b(?P<s>do[opr]_v1_[a-f0-9]{64})\b",
        3.0,
    ),
    v(
        "cloudflare_origin_ca_key",
        &["v1.0-"],
        r"\b(?P<s>v1\.0-[a-f0-9]{24}-[a-f0-9]{146})\b",
        3.0,
    ),
    v(
        "yandex_key",
        &["aqvn", "t1.", "yc"],
        concat!(
            r"\b(?P<s>AQVN[A-Za-z0-9_\-]{35,38}|YC[A-Za-z0-9_\-]{38}|t1\.[A-Z0-9a-z_-]+={0,2}\.[A-Z0-9a-z_-]{86}={0,2})",
            end!()
        ),
        3.5,
    ),
    v(
        "flyio_token",
        &["fo1_", "fm1", "fm2"],
        r"\b(?P<s>fo1_[\w-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})",
        3.5,
    ),
    v(
        "heroku_api_key",
        &["hrku-"],
        r"\b(?P<s>HRKU-AA[0-9A-Za-z_-]{58})",
        3.0,
    ),
    v(
        "vault_token",
        &["hvs.", "hvb.", "hvr."],
        r"\b(?P<s>hv[sbr]\.[\w-]{90,400})",
        3.5,
    ),
    v(
        "vault_token",
        &["vault", "token"],
        concat!(
            r"(?:vault|token|VAULT_TOKEN)[^\n]{0,20}?\b(?P<s>[sb]\.[A-Za-z0-9]{24})",
            end!()
        ),
        3.5,
    ),
    v(
        "hashicorp_tf_token",
        &["atlasv1"],
        r"(?P<s>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9\-_=]{60,70})",
        3.5,
    ),
    v(
        "openshift_token",
        &["sha256~"],
        concat!(r"\b(?P<s>sha256~[\w-]{43})", end!()),
        3.5,
    ),
    v(
        "planetscale_token",
        &["pscale_"],
        concat!(r"\b(?P<s>pscale_(?:tkn|oauth|pw)_[\w=.\-]{32,64})", end!()),
        3.5,
    ),
    v(
        "databricks_token",
        &["dapi"],
        concat!(r"\b(?P<s>dapi[a-f0-9]{32}(?:-\d)?)", end!()),
        3.0,
    ),
    v(
        "pulumi_token",
        &["pul-"],
        r"\b(?P<s>pul-[a-f0-9]{40})\b",
        3.0,
    ),
    v(
        "doppler_token",
        &["dp.pt."],
        r"\b(?P<s>dp\.pt\.[A-Za-z0-9]{43})\b",
        3.5,
    ),
    v(
        "dynatrace_token",
        &["dt0c01."],
        r"\b(?P<s>dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64})\b",
        3.5,
    ),
    v(
        "prefect_token",
        &["pnu_"],
        r"\b(?P<s>pnu_[A-Za-z0-9]{36})\b",
        3.5,
    ),
    v(
        "scalingo_token",
        &["tk-us-"],
        concat!(r"\b(?P<s>tk-us-[\w-]{48})", end!()),
        3.5,
    ),
    v(
        "infracost_token",
        &["ico-"],
        r"(?:^|[^A-Za-z0-9_.\-])(?P<s>ico-[A-Za-z0-9]{32})\b",
        3.5,
    ),
    v(
        "octopus_api_key",
        &["api-"],
        r"\b(?P<s>API-[A-Z0-9]{26})\b",
        3.5,
    ),
    v(
        "harness_token",
        &["pat.", "sat."],
        r"\b(?P<s>(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20})\b",
        3.5,
    ),
    v(
        "clickhouse_secret",
        &["4b1d"],
        r"\b(?P<s>4b1d[A-Za-z0-9]{38})\b",
        3.5,
    ),
    // ── Source hosting and package registries ────────────────────────────
    v(
        "github_token",
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{36,255})\b",
        3.5,
    ),
    v(
        "github_token",
        &["github_pat_"],
        r"\b(?P<s>github_pat_[A-Za-z0-9_]{82})\b",
        3.5,
    ),
    v(
        "gitlab_token",
        &[
            "glpat-", "glptt-", "glrt-", "glcbt-", "glimt-", "glagent-", "gloas-", "gldt-",
            "glsoat-", "glffct-", "glft-", "glrtr-",
        ],
        concat!(
            r"\b(?P<s>gl(?:pat|ptt|rt|rtr|cbt|imt|agent|oas|dt|soat|ffct|ft)-[\w\-.]{20,300})",
            end!()
        ),
        3.5,
    ),
    v(
        "gitlab_token",
        &["gr1348941"],
        concat!(r"\b(?P<s>GR1348941[\w-]{20})", end!()),
        3.5,
    ),
    v(
        "gitlab_session",
        &["_gitlab_session"],
        r"_gitlab_session=(?P<s>[0-9a-z]{32})",
        3.0,
    ),
    v(
        "docker_token",
        &["dckr_pat_", "dckr_oat_"],
        r"\b(?P<s>dckr_(?:pat|oat)_[A-Za-z0-9_\-]{20,})",
        3.5,
    ),
    v(
        "npm_token",
        &["npm_"],
        r"\b(?P<s>npm_[A-Za-z0-9]{36})\b",
        3.5,
    ),
    v(
        "pypi_token",
        &["pypi-ageichlwas5vcmc"],
        r"\b(?P<s>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})",
        0.0,
    ),
    v(
        "rubygems_token",
        &["rubygems_"],
        r"\b(?P<s>rubygems_[a-f0-9]{48})\b",
        3.0,
    ),
    v(
        "clojars_token",
        &["clojars_"],
        r"(?i)\b(?P<s>CLOJARS_[a-z0-9]{60})\b",
        3.5,
    ),
    v(
        "artifactory_token",
        &["akcp"],
        r"\b(?P<s>AKCp[A-Za-z0-9]{69})\b",
        3.5,
    ),
    v(
        "artifactory_token",
        &["cmvmd"],
        r"\b(?P<s>cmVmd[A-Za-z0-9]{59})\b",
        3.5,
    ),
    v(
        "sourcegraph_token",
        &["sgp_"],
        r"\b(?P<s>sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}|sgp_[a-fA-F0-9]{40})\b",
        3.0,
    ),
    v(
        "sonar_token",
        &["squ_", "sqp_", "sqa_"],
        r"\b(?P<s>sq[upa]_[A-Za-z0-9]{40})\b",
        3.0,
    ),
    v(
        "codecov_token",
        &["codecov"],
        r"(?i)codecov[\w.\-]{0,20}[\s'\x22]{0,3}(?:=|:|=>)[\s'\x22]{0,5}(?P<s>[a-z0-9]{32})\b",
        3.0,
    ),
    v(
        "sentry_token",
        &["sntrys_"],
        concat!(
            r"\b(?P<s>sntrys_eyJ[A-Za-z0-9+/=]{40,}_[A-Za-z0-9+/]{43})",
            end!()
        ),
        3.5,
    ),
    v(
        "sentry_token",
        &["sntryu_"],
        r"\b(?P<s>sntryu_[a-f0-9]{64})\b",
        3.0,
    ),
    // ── Typed prefixes of smaller providers ─────────────────────────────
    v(
        "pinecone_api_key",
        &["pcsk_"],
        concat!(
            r"\b(?P<s>pcsk_[A-Za-z0-9]{4,10}_[A-Za-z0-9]{40,90})",
            end!()
        ),
        3.5,
    ),
    v(
        "google_oauth_client_secret",
        &["gocspx-"],
        concat!(r"\b(?P<s>GOCSPX-[A-Za-z0-9_\-]{28})", end!()),
        3.0,
    ),
    v(
        "contentful_token",
        &["cfpat-"],
        concat!(r"\b(?P<s>CFPAT-[A-Za-z0-9_\-]{43})", end!()),
        3.5,
    ),
    v(
        "langsmith_api_key",
        &["lsv2_"],
        concat!(r"\b(?P<s>lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10})", end!()),
        3.0,
    ),
    // OpenWeather's key is its `appid` query parameter.
    v(
        "openweather_api_key",
        &["appid="],
        // (Its keys are 32 hex digits; other services' `appid` keys are
        // random letters and digits of the same length.)
        concat!(r"[?&]appid=(?P<s>[0-9A-Za-z]{32})", end!()),
        3.0,
    ),
    // Loggly's customer token, in its input URLs.
    v(
        "loggly_token",
        &["loggly.com/"],
        r"loggly\.com/(?:inputs|bulk)/(?P<s>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
        0.0,
    ),
    v(
        "openrouter_api_key",
        &["sk-or-v1-"],
        r"\b(?P<s>sk-or-v1-[a-f0-9]{64})\b",
        3.0,
    ),
    v(
        "groq_api_key",
        &["gsk_"],
        r"\b(?P<s>gsk_[A-Za-z0-9]{52})\b",
        3.5,
    ),
    v(
        "netlify_token",
        &["nfp_"],
        r"\b(?P<s>nfp_[A-Za-z0-9]{36,40})\b",
        3.5,
    ),
    v(
        "replicate_token",
        &["r8_"],
        r"\b(?P<s>r8_[A-Za-z0-9]{37})\b",
        3.5,
    ),
    v(
        "doppler_token",
        &["dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."],
        r"\b(?P<s>dp\.(?:st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44})\b",
        3.5,
    ),
    v(
        "buildkite_token",
        &["bkua_"],
        r"\b(?P<s>bkua_[a-f0-9]{40})\b",
        3.0,
    ),
    v(
        "hubspot_token",
        &["pat-na", "pat-eu", "pat-ap"],
        r"\b(?P<s>pat-(?:na|eu|ap)[0-9]-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b",
        0.0,
    ),
    v(
        "resend_api_key",
        &["re_"],
        r"\b(?P<s>re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24})\b",
        3.5,
    ),
    v(
        "elevenlabs_api_key",
        &["sk_"],
        r"\b(?P<s>sk_[a-f0-9]{48})\b",
        3.0,
    ),
    v(
        "backblaze_application_key",
        &["k00"],
        r"\b(?P<s>K00[0-9][A-Za-z0-9+/]{27})(?:[^A-Za-z0-9+/=]|$)",
        3.5,
    ),
    v(
        "posthog_api_key",
        &["phc_", "phx_"],
        r"\b(?P<s>ph[cx]_[A-Za-z0-9]{39,48})\b",
        3.5,
    ),
    v(
        "apify_token",
        &["apify_api_"],
        r"\b(?P<s>apify_api_[A-Za-z0-9]{30,40})\b",
        3.5,
    ),
    v(
        "neon_api_key",
        &["napi_"],
        r"\b(?P<s>napi_[a-z0-9]{60,70})\b",
        3.0,
    ),
    v(
        "xai_api_key",
        &["xai-"],
        r"\b(?P<s>xai-[A-Za-z0-9]{70,90})\b",
        3.5,
    ),
    v(
        "cerebras_api_key",
        &["csk-"],
        r"\b(?P<s>csk-[a-z0-9]{40,56})\b",
        3.0,
    ),
    v(
        "fireworks_api_key",
        &["fw_"],
        r"\b(?P<s>fw_[A-Za-z0-9]{20,30})\b",
        3.5,
    ),
    v(
        "firecrawl_api_key",
        &["fc-"],
        r"\b(?P<s>fc-[a-f0-9]{32})\b",
        3.0,
    ),
    v(
        "axiom_token",
        &["xaat-", "xapt-"],
        r"\b(?P<s>xa[ap]t-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b",
        0.0,
    ),
    v(
        "onesignal_api_key",
        &["os_v2_app_", "os_v2_org_"],
        r"\b(?P<s>os_v2_(?:app|org)_[a-z0-9]{80,120})\b",
        3.0,
    ),
    v(
        "mercadopago_token",
        &["app_usr-"],
        r"\b(?P<s>APP_USR-\d{10,20}-\d{6}-[a-f0-9]{32}-\d{6,12})\b",
        0.0,
    ),
    v(
        "cratesio_token",
        &["cio"],
        r"\b(?P<s>cio[A-Za-z0-9]{32})\b",
        3.5,
    ),
    // STS session tokens begin with the same serialised header.
    v(
        "aws_session_token",
        &["iqojb3jpz2lu", "fwogzxivyxdz"],
        r"(?P<s>(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9+/]{100,}={0,2})",
        0.0,
    ),
    // ── AI providers ─────────────────────────────────────────────────────
    v(
        "anthropic_api_key",
        &["sk-ant-"],
        concat!(
            r"\b(?P<s>sk-ant-(?:api|admin)\d\d-[\w\-]{80,100}AA)",
            end!()
        ),
        3.5,
    ),
    v(
        "openai_api_key",
        &["t3blbkfj"],
        concat!(r"\b(?P<s>sk-[\w\-]{0,90}T3BlbkFJ[\w\-]{20,90})", end!()),
        3.5,
    ),
    // OpenAI's typed prefixes, with or without the T3BlbkFJ marker.
    v(
        "openai_api_key",
        &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"],
        concat!(
            r"\b(?P<s>sk-(?:proj|svcacct|admin|None)-[\w\-]{20,})",
            end!()
        ),
        3.5,
    ),
    // OpenAI's original format: sk- and exactly 48 letters and digits.
    v(
        "openai_api_key",
        &["sk-"],
        concat!(r"\b(?P<s>sk-[A-Za-z0-9]{48})", end!()),
        4.0,
    ),
    v(
        "huggingface_token",
        &["hf_"],
        r"\b(?P<s>hf_[A-Za-z]{34})\b",
        3.5,
    ),
    v(
        "huggingface_token",
        &["api_org_"],
        r"\b(?P<s>api_org_[A-Za-z]{34})\b",
        3.5,
    ),
    v(
        "perplexity_api_key",
        &["pplx-"],
        r"\b(?P<s>pplx-[A-Za-z0-9]{48})\b",
        3.5,
    ),
    v(
        "cohere_api_key",
        &["co_api_key", "cohere"],
        r"(?i)(?:cohere|CO_API_KEY)[\w.\-]{0,20}[\s'\x22]{0,3}(?:=|:)[\s'\x22]{0,5}(?P<s>[a-zA-Z0-9]{40})\b",
        3.5,
    ),
    // ── Messaging and collaboration ──────────────────────────────────────
    v(
        "slack_token",
        &["xox"],
        concat!(r"\b(?P<s>xox[abposre]-[A-Za-z0-9\-]{10,250})", end!()),
        3.0,
    ),
    v(
        "slack_token",
        &["xoxe."],
        r"\b(?P<s>xoxe\.xox[bp]-\d-[A-Za-z0-9]{100,250})",
        3.0,
    ),
    v(
        "slack_token",
        &["xapp-"],
        r"\b(?P<s>xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)\b",
        3.0,
    ),
    v(
        "slack_webhook",
        &["hooks.slack.com"],
        r"(?P<s>(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,}|(?:https?://)?hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9]{8,}/[A-Za-z0-9]{8,}/[A-Za-z0-9/]{20,})",
        3.0,
    ),
    v(
        "teams_webhook",
        &["webhook.office.com"],
        r"(?P<s>https://[a-z0-9]+\.webhook\.office\.com/webhookb2/[^\s\x22'<>]{40,})",
        0.0,
    ),
    v(
        "discord_webhook",
        &["discord.com/api/webhooks", "discordapp.com/api/webhooks"],
        r"(?P<s>https://(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w\-]{60,})",
        3.0,
    ),
    v(
        "telegram_bot_token",
        &[":a"],
        r"(?:^|[^0-9:])(?P<s>\d{5,16}:A[A-Za-z0-9_\-]{34})(?:[^A-Za-z0-9_\-]|$)",
        3.5,
    ),
    v(
        "mattermost_token",
        &["mattermost"],
        r"(?i)mattermost[\w.\-]{0,20}[\s'\x22]{0,3}(?:=|:)[\s'\x22]{0,5}(?P<s>[a-z0-9]{26})\b",
        3.0,
    ),
    v(
        "twilio_api_key",
        &["sk"],
        r"\b(?P<s>SK[0-9a-fA-F]{32})\b",
        3.0,
    ),
    v(
        "sendgrid_api_key",
        &["sg."],
        concat!(
            r"\b(?P<s>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})",
            end!()
        ),
        3.5,
    ),
    v(
        "sendinblue_api_key",
        &["xkeysib-"],
        r"\b(?P<s>xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16})\b",
        3.0,
    ),
    v(
        "mailgun_key",
        &["key-", "pubkey-"],
        r"\b(?P<s>(?:pub)?key-[a-f0-9]{32})\b",
        3.0,
    ),
    v(
        "mailgun_key",
        &["mailgun"],
        r"(?i)mailgun[\w.\-]{0,20}[\s'\x22]{0,3}(?:=|:)[\s'\x22]{0,5}(?P<s>[a-h0-9]{32}-[a-h0-9]{8}-[a-h0-9]{8})\b",
        3.0,
    ),
    v(
        "mailchimp_api_key",
        &["-us"],
        r"\b(?P<s>[a-f0-9]{32}-us\d{1,2})\b",
        3.0,
    ),
    v(
        "notion_token",
        &["ntn_", "secret_"],
        r"\b(?P<s>ntn_\d{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})\b",
        3.5,
    ),
    v(
        "linear_api_key",
        &["lin_api_"],
        r"\b(?P<s>lin_api_[A-Za-z0-9]{40})\b",
        3.5,
    ),
    v(
        "atlassian_token",
        &["atatt3"],
        r"\b(?P<s>ATATT3[A-Za-z0-9_\-=]{186})",
        3.5,
    ),
    v(
        "postman_api_key",
        &["pmak-"],
        r"\b(?P<s>PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b",
        3.0,
    ),
    v(
        "typeform_token",
        &["tfp_"],
        r"\b(?P<s>tfp_[A-Za-z0-9\-_.=]{59})",
        3.5,
    ),
    v(
        "readme_api_key",
        &["rdme_"],
        r"\b(?P<s>rdme_[a-z0-9]{70})\b",
        3.5,
    ),
    v(
        "frameio_token",
        &["fio-u-"],
        r"\b(?P<s>fio-u-[A-Za-z0-9\-_=]{64})",
        3.5,
    ),
    v(
        "new_relic_key",
        &["nrak-", "nrjs-", "nrii-"],
        r"\b(?P<s>NRAK-[A-Z0-9]{27}|NRJS-[a-f0-9]{19}|NRII-[A-Za-z0-9\-]{32})\b",
        3.0,
    ),
    v(
        "grafana_token",
        &["glc_", "glsa_", "eyjrijoi"],
        r"\b(?P<s>glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|eyJrIjoi[A-Za-z0-9]{70,400}={0,3})",
        3.5,
    ),
    v(
        "intra42_secret",
        &["s-s4t2"],
        r"\b(?P<s>s-s4t2(?:ud|af)-[a-f0-9]{64})\b",
        3.0,
    ),
    v(
        "settlemint_token",
        &["sm_aat_", "sm_pat_", "sm_sat_"],
        r"\b(?P<s>sm_(?:aat|pat|sat)_[A-Za-z0-9]{16})\b",
        3.0,
    ),
    v(
        "authress_key",
        &["sc_", "ext_", "scauth_", "authress_"],
        r"\b(?P<s>(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[a-z0-9+/_=-]{30,120})",
        3.0,
    ),
    v(
        "onepassword_secret_key",
        &["a3-"],
        r"\b(?P<s>A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})\b",
        3.0,
    ),
    v(
        "onepassword_token",
        &["ops_eyj"],
        r"\b(?P<s>ops_eyJ[A-Za-z0-9+/]{100,}={0,3})",
        3.5,
    ),
    v(
        "age_secret_key",
        &["age-secret-key-1"],
        r"(?P<s>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        0.0,
    ),
    v(
        "airtable_token",
        &["pat"],
        r"\b(?P<s>pat[A-Za-z0-9]{14}\.[a-f0-9]{64})\b",
        3.0,
    ),
    v(
        "adobe_client_secret",
        &["p8e-"],
        r"\b(?P<s>p8e-[A-Za-z0-9]{32})\b",
        3.0,
    ),
    v(
        "beamer_token",
        &["beamer"],
        r"(?i)beamer[\w.\-]{0,20}[\s'\x22]{0,3}(?:=|:|=>|:=|\?=)[\s'\x22]{0,5}(?P<s>b_[a-z0-9=_\-]{44})",
        3.0,
    ),
    v(
        "duffel_token",
        &["duffel_"],
        r"\b(?P<s>duffel_(?:test|live)_[A-Za-z0-9_\-=]{43})",
        3.5,
    ),
    v(
        "easypost_token",
        &["ezak", "eztk"],
        r"\b(?P<s>EZ[AT]K[A-Za-z0-9]{54})\b",
        3.5,
    ),
    v(
        "flutterwave_key",
        &["flwpubk", "flwseck"],
        r"\b(?P<s>FLW(?:PUBK|SECK)_TEST-[a-h0-9]{32}-X|FLWSECK_TEST-[a-h0-9]{12})",
        3.0,
    ),
    v(
        "shippo_token",
        &["shippo_"],
        r"\b(?P<s>shippo_(?:live|test)_[a-fA-F0-9]{40})\b",
        3.0,
    ),
    v(
        "shopify_token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"\b(?P<s>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b",
        3.0,
    ),
    v(
        "square_token",
        &["sq0atp-", "sq0csp-", "eaaa"],
        concat!(
            r"\b(?P<s>sq0(?:atp|csp)-[0-9A-Za-z\-_]{22,43}|EAAA[\w\-]{60})",
            end!()
        ),
        3.5,
    ),
    v(
        "stripe_key",
        &["sk_", "rk_", "whsec_"],
        r"\b(?P<s>(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}|whsec_[A-Za-z0-9]{32,})\b",
        3.0,
    ),
    v(
        "plaid_token",
        &[
            "access-sandbox-",
            "access-development-",
            "access-production-",
        ],
        r"\b(?P<s>access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        3.0,
    ),
    v(
        "lob_api_key",
        &["lob"],
        r"(?i)lob[\w.\-]{0,20}[\s'\x22]{0,3}(?:=|:|=>|:=|\?=)[\s'\x22]{0,5}(?P<s>(?:live|test)(?:_pub)?_[a-f0-9]{31,35})\b",
        3.0,
    ),
    v(
        "facebook_token",
        &["eaam", "eaac"],
        r"\b(?P<s>EAA[MC][A-Za-z0-9]{100,})",
        3.5,
    ),
    v(
        "facebook_token",
        &["facebook"],
        concat!(
            r"(?i:facebook)[^\n]{0,40}?\b(?P<s>\d{15,16}(?:\||%7C)[A-Za-z0-9\-_]{27})",
            end!()
        ),
        3.0,
    ),
    v(
        "twitter_token",
        &["aaaaaaaaaaaaaaaaaaaaa"],
        r"\b(?P<s>A{22}[A-Za-z0-9%]{80,102})",
        3.0,
    ),
    v(
        "okta_token",
        &["okta"],
        r"(?i)(?:^|[^a-z])okta[\w.\-]{0,20}[\s'\x22]{0,3}(?:=|:|=>|:=)[\s'\x22]{0,5}(?P<s>00[\w=\-]{40})",
        3.5,
    ),
    // An Okta API token further along a line that names Okta: "Okta admin
    // API token for the org (created under …, named \"scim\"): 00…".
    v(
        "okta_token",
        &["okta"],
        concat!(
            r"(?:^|[^A-Za-z])(?i:okta)[^\n]{0,200}?[\s:'\x22`(=](?P<s>00[A-Za-z0-9_\-]{40})",
            end!()
        ),
        4.0,
    ),
    // `Authorization: SSWS 00…`, "okta api token (SSWS) 00…".
    v(
        "okta_token",
        &["ssws"],
        concat!(r"\bSSWS\)?[\s'\x22:]{1,5}(?P<s>00[\w=\-]{40})", end!()),
        3.5,
    ),
    // DeepL's key is a UUID with `:fx` (free plan) after it.
    v(
        "deepl_api_key",
        &[":fx"],
        concat!(
            r"\b(?P<s>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:fx)",
            end!()
        ),
        0.0,
    ),
    v(
        "sidekiq_secret",
        &["contribsys"],
        r"(?i)BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[\x22']?\s*(?:=|:)\s*[\x22']?(?P<s>[a-f0-9]{8}:[a-f0-9]{8})",
        0.0,
    ),
    v(
        "telnyx_or_generic_jwt_b64",
        &["zxlk"],
        r"\b(?P<s>ZXlK[A-Za-z0-9+/_\-]{40,}={0,2})",
        3.5,
    ),
    // ── Structural secrets ───────────────────────────────────────────────
    s(
        "jwt",
        &["eyj"],
        r"\b(?P<s>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)",
        3.0,
    ),
    // The private members of a JSON Web Key (RFC 7518 §6): `d` of an EC,
    // OKP or RSA key, the RSA primes and exponents, `k` of a symmetric key.
    // Public keys have only `n`, `e`, `x`, `y`; a text without `kty` holds
    // no JWK.
    // A Google app password: four groups of four lower-case letters, as
    // the account page shows it, after the words that name it.
    s(
        "google_app_password",
        &[
            "app password",
            "app-password",
            "app_password",
            "app-specific password",
            "app specific password",
        ],
        r"(?i:\bapp[ _-]?(?:specific[ _-]?)?passwords?\b)[^\n]{0,40}?(?:^|[^a-z])(?P<s>[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})(?:[^a-z]|$)",
        0.0,
    ),
    // An app password as a mail client's setting: msmtprc's and muttrc's
    // `password   abcd efgh ijkl mnop`.
    s(
        "google_app_password",
        &["password   ", "passwd   ", "password\t", "pass = "],
        r"(?m)^[ \t]*(?:set[ \t]+)?(?:password|passwd|smtp_pass|pass)[ \t]*=?[ \t]+[\x22']?(?P<s>[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})[\x22']?[ \t]*\r?$",
        0.0,
    ),
    s(
        "jwk_private_key",
        &["kty"],
        // (Quoted members, or a JavaScript object's bare ones: `d: "…"`.)
        r#"(?:\x22(?:d|p|q|dp|dq|qi|k)\x22|\b(?:d|p|q|dp|dq|qi|k))\s*:\s*[\x22'](?P<s>[A-Za-z0-9_\-]{22,})[\x22']"#,
        0.0,
    ),
    s(
        "private_key",
        &["-----begin"],
        r"(?s)(?P<s>-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z))",
        0.0,
    ),
    s(
        "private_key",
        &["putty-user-key-file"],
        r"(?s)(?P<s>PuTTY-User-Key-File-\d: .*?Private-MAC: [0-9a-f]+)",
        0.0,
    ),
    s(
        "password",
        &["mysql", "mariadb"],
        // (Not a pipe after the flag: `grep -E '^  -p|--password'` searches
        // a help text for it.)
        r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]{0,200}?\s-p(?P<s>'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22\-|][^\s'\x22]{3,})",
        0.0,
    ),
    s(
        "password",
        &["docker"],
        r"\bdocker\s+login\b[^\n]{0,200}?\s-p\s+(?P<s>'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22|[^\s'\x22\-][^\s'\x22]{3,})",
        0.0,
    ),
    s(
        "password",
        &["sshpass"],
        r"\bsshpass\s+-p\s*(?P<s>[^\s'\x22]{4,}|'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22)",
        0.0,
    ),
    // `AUTH [user] password` typed at redis-cli's prompt.
    s(
        "password",
        &["> auth "],
        // (At the prompt only: at a line's start `AUTH CRAM-MD5` is SMTP.)
        r"(?m)(?:\d|\]|redis)> ?(?i:auth) +(?:[A-Za-z0-9_\-]{1,32} +)?(?P<prose>)[\x22']?(?P<s>[^\s'\x22]{6,})[\x22']?[ \t]*\r?$",
        0.0,
    ),
    // A webhook's secret path segment: `/hooks/<id>/<token>`, as chat
    // servers (Mattermost, Rocket.Chat) and CI systems issue them.
    s(
        "webhook_token",
        &["/hooks/", "/webhook/", "/webhooks/"],
        // (In a URL, as its last segment: `@/hooks/useX` is a module path,
        // `/api/webhooks/<id>/deliveries` a resource.)
        r"(?i:https?)://[^\s/]+(?:/[^\s/?#\x22']*){0,6}?/(?i:hooks|webhooks?)/(?:[A-Za-z0-9_\-]{1,64}/){0,2}(?P<s>[A-Za-z0-9_\-]{24,128})(?:[\s\x22'`?#)\]>]|$)",
        4.0,
    ),
    // FreeRDP's Windows-style `/p:` flag.
    s(
        "password",
        &["freerdp"],
        r"(?i:freerdp)3?\b[^\n]{0,200}?\s/p:(?P<s>'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22$][^\s'\x22]{2,})",
        0.0,
    ),
    // A `.pgpass` line, `host:port:database:user:password`, also inside a
    // string (its end is a quote).
    s(
        "password",
        &[":5432:", ":5433:", ":5434:", ":6432:", ":25060:", ":*:"],
        // (The port is PostgreSQL's or a pooler's, and the password no
        // plain word: `node-1:5432:ok:running:primary` is a status.)
        r"(?m)^[ \t]*[A-Za-z0-9.\-_*]+:(?:543[2-4]|6432|25060|\*):[\w.\-*]+:[\w.\-*@]+:(?P<pgpass>)(?P<s>[^\s:\x22']{4,})(?:[ \t]*\r?$|[\x22'])",
        0.0,
    ),
    // An Ethereum account's private key: Hardhat's `accounts: ["0x…"]`,
    // `new Wallet("0x…")`, viem's `privateKeyToAccount("0x…")`.
    s(
        "ethereum_private_key",
        &[
            "accounts",
            "wallet(",
            "privatekeytoaccount",
            "fromprivatekey",
        ],
        concat!(
            r"(?:\baccounts\s*:\s*\[\s*|\bWallet\(\s*|\bprivateKeyToAccount\(\s*|\bfromPrivateKey\(\s*)",
            r"[\x22'`](?P<s>(?:0x)?[0-9a-fA-F]{64})[\x22'`]"
        ),
        3.0,
    ),
    // Password flags of database, directory and cloud CLIs: sqlcmd/bcp -P,
    // ldapsearch & co. -w, the mongo tools -p, az login -p.
    s(
        "password",
        &["sqlcmd", "bcp", "osql", "ldap", "mongo", "az "],
        concat!(
            r"(?:\b(?:sqlcmd|bcp|osql)\b[^\n]{0,200}?\s-P\s*",
            r"|\bldap(?:search|modify|add|delete|whoami|passwd|compare|modrdn|exop)\b[^\n]{0,200}?\s-w\s+",
            r"|\bmongo(?:sh|dump|restore|export|import|stat|top|files)?\b[^\n]{0,200}?\s-p\s+",
            r"|\baz\s+login\b[^\n]{0,200}?\s-p\s+)",
            r"(?P<s>'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22\-][^\s'\x22]{2,})"
        ),
        0.0,
    ),
    // smbclient -U user%password; rabbitmqctl add_user/change_password NAME
    // PASSWORD; htpasswd -b [FILE] USER PASSWORD.
    s(
        "password",
        &["smbclient", "rabbitmqctl", "htpasswd"],
        concat!(
            r"(?m)(?:\bsmbclient\b[^\n]{0,200}?\s(?:-U\s*|--user=)[^\s%]+%(?P<s>[^\s'\x22]{3,})",
            r"|\brabbitmqctl\s+(?:add_user|change_password)\s+(?:'[^'\n]*'|\x22[^\x22\n]*\x22|[^\s'\x22]+)\s+(?P<s2>'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22]{3,})",
            r"|\bhtpasswd\s+(?:-[A-Za-z]+\s+)*?-[A-Za-z]*b[A-Za-z]*\s+(?:-[A-Za-z]+\s+)*(?:[^\s\-]\S*\s+){1,2}(?P<s3>[^\s;&|]{3,})(?:[ \t]*$|[ \t]*[;&|]))"
        ),
        0.0,
    ),
    // A user/password pair in prose or notes: "login: admin / Adm1n!2024",
    // "creds are deploy:Depl0y!Pw", "user/pass: ops/Op5-Secret". The
    // `prose` group asks for the strict check (mixed case, digit, symbol).
    s(
        "password",
        &["cred", "login", "log in", "/pass"],
        concat!(
            r"(?i)(?P<prose>)\b(?:creds?|credentials|log ?ins?|user(?:name)?\s*/\s*pass(?:word)?)\b",
            r"\s*(?:(?:is|are|were|was|as|with)\s+|[:=]\s*)?(?:\x22|')?[A-Za-z0-9._@\-]{2,64}(?:\x22|')?",
            r"\s*[/:]\s*(?P<s>[^\s'\x22,;]{6,64})"
        ),
        0.0,
    ),
    // Passwords in account commands: MySQL's `IDENTIFIED [WITH plugin] BY
    // 'pw'`, PowerShell's `ConvertTo-SecureString "pw"`, Windows' `net user
    // NAME pw`, `echo 'user:pw' | chpasswd`.
    s(
        "password",
        &[
            "identified",
            "convertto-securestring",
            "net user",
            "chpasswd",
        ],
        concat!(
            r"(?i:\bidentified\s+(?:with\s+\w+\s+)?by\s+)(?P<s>'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22)",
            r"|(?i:\bconvertto-securestring\s+(?:-string\s+)?)(?P<s2>'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22)",
            r"|(?i:\bnet\s+user\s+)(?:\x22[^\x22\n]+\x22|[^\s/]+)\s+(?P<s3>[^\s/*\x22'][^\s]{3,})(?:[ \t]+/|(?m:[ \t]*$))",
            r"|\becho\s+(?:-e\s+)?['\x22]?[a-z_][a-z0-9_.\-]{0,31}:(?P<s4>[^\s'\x22:]{4,})['\x22]?\s*\|\s*(?:sudo\s+)?chpasswd\b"
        ),
        0.0,
    ),
    // Archive and key passphrases on the command line: zip/unzip -P, 7z
    // -pPASSWORD, ssh-keygen -N/-P; MQTT clients' -P; lftp -u user,pass.
    s(
        "password",
        &["zip", "7z", "ssh-keygen", "mosquitto_"],
        concat!(
            r"\b(?:zip|unzip)\b[^\n]{0,100}?\s-P\s+(?P<s>(?:'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22\-][^\s'\x22]{2,}))",
            r"|\b7za?\s+[a-z]\b[^\n]{0,100}?\s-p(?P<s2>(?:'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22\-][^\s'\x22]{2,}))",
            r"|\bssh-keygen\b[^\n]{0,200}?\s-[NP]\s+(?P<s3>'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22|[^\s'\x22\-][^\s'\x22]{3,})",
            r"|\bmosquitto_(?:pub|sub|rr)\b[^\n]{0,200}?\s-P\s+(?P<s4>(?:'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22\-][^\s'\x22]{2,}))"
        ),
        0.0,
    ),
    // OpenSSL's secrets on the command line: `-hmac KEY`, `-K HEXKEY`,
    // `-k PASS`, `-pass/-passin/-passout pass:PASS`, `-macopt key:KEY`.
    s(
        "password",
        &["openssl"],
        concat!(
            r"\bopenssl\s[^\n|;&]{0,200}?\s(?:-(?:hmac|K|k)\s+|-macopt\s+(?:hex)?key:)(?P<s>'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22|[^\s'\x22\-$][^\s'\x22]{3,})",
            r"|\bopenssl\s[^\n|;&]{0,200}?\s-pass(?:in|out)?\s+['\x22]?pass:(?P<s2>[^\s'\x22]{4,})"
        ),
        0.0,
    ),
    // lftp -u user,pass; redis.conf's requirepass and masterauth lines.
    s(
        "password",
        &["lftp", "requirepass", "masterauth"],
        concat!(
            r"(?m)\blftp\b[^\n]{0,100}?\s-u\s+[^\s,]+,(?P<s>[^\s'\x22]{3,})",
            r"|^[ \t]*(?:requirepass|masterauth)[ \t]+(?P<s2>(?:'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22|[^\s'\x22\-][^\s'\x22]{2,}))[ \t]*$"
        ),
        0.0,
    ),
    // Basic-auth pairs in code: requests' `auth=("user", "pw")`,
    // `HTTPBasicAuth('user', 'pw')`, aiohttp's `BasicAuth(...)`. Only quoted
    // literals: `auth=(user, password)` names variables.
    s(
        "password",
        &["auth"],
        r"(?:\bauth\s*=\s*[\(\[]|\b(?:HTTPBasicAuth|HTTPDigestAuth|HTTPProxyAuth|BasicAuth)\s*\()\s*(?:'[^'\n]{1,64}'|\x22[^\x22\n]{1,64}\x22)\s*,\s*(?P<s>'[^'\n]{3,}'|\x22[^\x22\n]{3,}\x22)",
        0.0,
    ),
    // A password piped into a command that reads it from stdin
    // (`echo pw | docker login --password-stdin`).
    s(
        "password",
        &["--password-stdin"],
        r"\becho\s+(?:-n\s+)?(?P<s>'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22|[^\s'\x22|$]{4,})\s*\|[^\n|]{0,160}?--password-stdin\b",
        0.0,
    ),
    // A password piped or fed to `sudo -S`.
    s(
        "password",
        &["sudo -s"],
        r"(?:\becho\s+(?:-n\s+)?(?P<s>'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22|[^\s'\x22|]{4,})\s*\|\s*sudo\s+-S\b|\bsudo\s+-S\s*<<<\s*(?P<s2>'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22|[^\s'\x22]{4,}))",
        0.0,
    ),
    // ~/.netrc and _netrc: `machine host login user password pw`.
    s(
        "password",
        &["machine"],
        r"\bmachine\s+[^\s]+\s+login\s+[^\s]+\s+password\s+(?P<s>[^\s]{4,})",
        0.0,
    ),
    s(
        "password",
        &["redis-cli"],
        r"\bredis-cli\b[^\n]{0,200}?\s-a\s+(?P<s>'[^'\n]{4,}'|\x22[^\x22\n]{4,}\x22|[^\s'\x22]{4,})",
        0.0,
    ),
    s(
        "bearer_token",
        &["bearer"],
        r"(?i)\bbearer[ \t]+(?P<s>[A-Za-z0-9\-._~+/]{16,}=*)",
        0.0,
    ),
    // Session cookies are bearer credentials: `Cookie: session=…`,
    // `PHPSESSID=…`, `connect.sid=…`, `sessionid=…` in headers and URLs.
    s(
        "session_token",
        &[
            "session=",
            "sessionid=",
            "session_id=",
            "sessid=",
            "sess=",
            "sid=",
        ],
        r"(?i)(?:^|[\s;,?&\x22'])[A-Za-z0-9_.\-]{0,32}(?:sess(?:ion)?(?:[_.\-]?id)?|\bsid)=(?P<s>[A-Za-z0-9%._~+/\-]{20,512}={0,2})",
        0.0,
    ),
    // Presigned URLs and SAS links: the signature is the credential.
    s(
        "url_signature",
        &["signature=", "sig="],
        r"(?i)[?&](?:x-amz-signature|x-goog-signature|signature|sig)=(?P<s>[A-Za-z0-9%+/=_\-]{16,1024})",
        3.0,
    ),
    // A key or token as a path segment: `/with/key/<key>` (IFTTT),
    // `/api_key/<key>/`, `/token/<token>`.
    s(
        "url_path_key",
        &[
            "/key/",
            "/token/",
            "/apikey/",
            "/api_key/",
            "/api-key/",
            "/access_token/",
        ],
        r"(?i)/(?:key|token|apikey|api_key|api-key|access_token)/(?P<s>[A-Za-z0-9_\-]{16,128})(?:[/?#\s\x22'`]|$)",
        3.5,
    ),
    s(
        "url_password",
        &["://"],
        r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://(?P<u>[^\s:/@\x22'<>]{0,128}):(?P<s>[^\s@/\x22'<>]{1,256})@[A-Za-z0-9.\-\[\]_]",
        0.0,
    ),
];
