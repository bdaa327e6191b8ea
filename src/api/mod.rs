//! Every SQL-callable function, grouped by the part of the SQL surface it
//! belongs to. Each wrapper converts arguments, calls into the core or a
//! helper module, and maps errors; no logic lives here.

mod actor;
mod admin;
mod alerts;
mod audit;
mod crypto;
mod envelope;
mod keyrings;
mod protect;
mod quarantine;
mod redact;
mod sealed;
