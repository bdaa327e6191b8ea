//! `han-crypto`: offline tools built on the core crate alone, so an auditor
//! verifies evidence without trusting (or reaching) the database.
//!
//! ```text
//! han-crypto audit verify EXPORT --public-key HEX|@FILE
//!            [--checkpoint JSON|@FILE] [--log SERVER_LOG] [--json]
//! han-crypto audit verify-standby SERVER_LOG --public-key HEX|@FILE [--json]
//! ```
//!
//! Exit status: 0 the export is intact, 1 it is not (or cannot be read as an
//! export), 2 the command line is wrong.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::process::ExitCode;

use han_crypto_core::audit::export::verify_export;
use han_crypto_core::audit::standby::verify_standby_log;
use han_crypto_core::audit::{AuditPublicKey, Checkpoint};
use serde_json::{json, Value as Json};

const USAGE: &str = "usage: han-crypto audit verify EXPORT --public-key HEX|@FILE [--checkpoint JSON|@FILE] [--log SERVER_LOG] [--json]
  EXPORT        the output of han_crypto.audit_export() (- for standard input)
  --public-key  han_crypto.audit_public_key(), as hex or @file holding it
  --checkpoint  a checkpoint kept outside the database (JSON or @file)
  --log         a server log: its newest 'han_crypto audit checkpoint' line is used
  --json        print the result as one JSON object
       han-crypto audit verify-standby SERVER_LOG --public-key HEX|@FILE [--json]
  SERVER_LOG    a hot standby's server log: its signed 'han_crypto audit standby event' lines";

/// The mirror's prefix before a checkpoint's JSON in a server log line.
const LOG_MARKER: &str = "han_crypto audit checkpoint ";

struct Args {
    /// verify-standby: `export` is a server log.
    standby: bool,
    export: String,
    public_key: String,
    checkpoint: Option<String>,
    log: Option<String>,
    json: bool,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    if argv.next().as_deref() != Some("audit") {
        return Err("unknown command".into());
    }
    let standby = match argv.next().as_deref() {
        Some("verify") => false,
        Some("verify-standby") => true,
        _ => return Err("unknown command".into()),
    };
    let mut export = None;
    let mut public_key = None;
    let mut checkpoint = None;
    let mut log = None;
    let mut json = false;
    while let Some(a) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--public-key" => public_key = Some(value("--public-key")?),
            "--checkpoint" => checkpoint = Some(value("--checkpoint")?),
            "--log" => log = Some(value("--log")?),
            "--json" => json = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ if export.is_none() => export = Some(a),
            _ => return Err("more than one export file".into()),
        }
    }
    if standby && (checkpoint.is_some() || log.is_some()) {
        return Err("verify-standby takes a server log and --public-key only".into());
    }
    Ok(Args {
        standby,
        export: export.ok_or("no export file")?,
        public_key: public_key.ok_or("--public-key is required")?,
        checkpoint,
        log,
        json,
    })
}

/// A value given inline or as `@file`.
fn inline_or_file(v: &str) -> Result<String, String> {
    match v.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}")),
        None => Ok(v.to_owned()),
    }
}

/// The newest checkpoint in a server log that `key` signed.
fn newest_logged_checkpoint(
    path: &str,
    key: &AuditPublicKey,
) -> Result<Option<Checkpoint>, String> {
    let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut best: Option<Checkpoint> = None;
    for line in BufReader::new(f).lines() {
        let Ok(line) = line else { continue };
        let Some(at) = line.find(LOG_MARKER) else {
            continue;
        };
        let Ok(j) = serde_json::from_str::<Json>(&line[at + LOG_MARKER.len()..]) else {
            continue;
        };
        let Ok(cp) = Checkpoint::from_json(j.get("checkpoint").unwrap_or(&j)) else {
            continue;
        };
        if cp.key_id == key.key_id() && best.as_ref().is_none_or(|b| cp.n > b.n) {
            best = Some(cp);
        }
    }
    Ok(best)
}

/// A standby's server log: every signed standby event line checked.
fn run_standby(args: &Args, key: &AuditPublicKey) -> Result<bool, String> {
    let f = File::open(&args.export).map_err(|e| format!("{}: {e}", args.export))?;
    let r = verify_standby_log(BufReader::new(f), key);
    let mut out = json!({"ok": r.ok(), "chains": r.chains, "events": r.events});
    if let Some((line, why)) = &r.fault {
        out["line"] = json!(line);
        out["detail"] = json!(why);
    }
    if args.json {
        println!("{out}");
    } else if r.ok() {
        println!(
            "intact: {} standby events in {} backend chains",
            r.events, r.chains
        );
    } else {
        let (line, why) = r.fault.as_ref().expect("not ok");
        println!("TAMPERED: log line {line}: {why}");
    }
    Ok(r.ok())
}

fn run(args: Args) -> Result<bool, String> {
    let key =
        AuditPublicKey::from_hex(&inline_or_file(&args.public_key)?).map_err(|e| e.to_string())?;
    if args.standby {
        return run_standby(&args, &key);
    }
    let mut external = match &args.checkpoint {
        Some(c) => {
            let text = inline_or_file(c)?;
            let j: Json =
                serde_json::from_str(text.trim()).map_err(|_| "--checkpoint is not JSON")?;
            Some(
                Checkpoint::from_json(j.get("checkpoint").unwrap_or(&j))
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    if let Some(log) = &args.log {
        if let Some(cp) = newest_logged_checkpoint(log, &key)? {
            if external.as_ref().is_none_or(|e| cp.n > e.n) {
                external = Some(cp);
            }
        }
    }
    let reader: Box<dyn BufRead> = if args.export == "-" {
        Box::new(BufReader::new(io::stdin()))
    } else {
        Box::new(BufReader::new(
            File::open(&args.export).map_err(|e| format!("{}: {e}", args.export))?,
        ))
    };
    let external_n = external.as_ref().map(|c| c.n);
    let result = verify_export(reader, &key, external);
    let (ok, out) = match result {
        Err(e) => (
            false,
            json!({"ok": false, "reason": "malformed", "detail": e.to_string()}),
        ),
        Ok(r) => {
            let rep = &r.report;
            let mut o = json!({
                "ok": rep.ok(),
                "checked": rep.checked,
                "checkpoints_checked": rep.checkpoints_checked,
                "last_seq": rep.last_seq,
                "signed_through": rep.signed_through,
                "unsigned_tail": rep.unsigned_tail(),
                "external_checkpoint": external_n,
            });
            if let Some(f) = &rep.fault {
                o["first_bad_seq"] = json!(f.first_bad_seq);
                o["reason"] = json!(f.reason.as_str());
                o["checkpoint"] = json!(f.checkpoint);
                o["detail"] = json!(f.detail);
            }
            (rep.ok(), o)
        }
    };
    if args.json {
        println!("{out}");
    } else if ok {
        println!(
            "intact: {} events, {} checkpoints verified, signed through seq {}{}",
            out["checked"],
            out["checkpoints_checked"],
            out["signed_through"],
            match out["unsigned_tail"].as_u64() {
                Some(0) | None => String::new(),
                Some(n) => format!(" ({n} later events not yet covered by a checkpoint)"),
            }
        );
    } else if out["reason"] == "malformed" {
        println!("not verifiable: {}", out["detail"].as_str().unwrap_or(""));
    } else {
        println!(
            "TAMPERED: first bad seq {} ({}): {}",
            out["first_bad_seq"],
            out["reason"].as_str().unwrap_or(""),
            out["detail"].as_str().unwrap_or("")
        );
    }
    Ok(ok)
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Err(why) => {
            if !why.is_empty() {
                eprintln!("han-crypto: {why}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Ok(args) => match run(args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(why) => {
                eprintln!("han-crypto: {why}");
                ExitCode::from(2)
            }
        },
    }
}
