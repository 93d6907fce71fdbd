//! Parsing of argument values (tenants, timestamps, counts, input paths)
//! and the one-line report of a value that does not parse.
//!
//! Values are parsed while the command line is read, so a command never
//! starts, and never opens the database, with an argument it cannot use.

use std::error::Error as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use eventsource::{interchange, TenantFilter, TenantId};

/// `--tenant`: a tenant's UUID, or `none` for events without a tenant.
pub fn parse_tenant_filter(text: &str) -> Result<TenantFilter, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(TenantFilter::NoTenant);
    }
    TenantId::from_str(text.trim())
        .map(TenantFilter::Tenant)
        .map_err(|_| format!("{text:?} is not a UUID (or \"none\")"))
}

/// `--tenant` where a tenant is required: a UUID.
pub fn parse_tenant_id(text: &str) -> Result<TenantId, String> {
    TenantId::from_str(text.trim()).map_err(|_| format!("{text:?} is not a UUID"))
}

/// `--since` and `--until`: an RFC 3339 instant with a time zone.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    interchange::parse_timestamp(text.trim())
}

/// `--limit`: a whole number.
pub fn parse_limit(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of events"))
}

/// Where `import` reads from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl FromStr for Input {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "-" => Ok(Self::Stdin),
            "" => Err("the input file name is empty".into()),
            path => Ok(Self::File(PathBuf::from(path))),
        }
    }
}

/// Reports a command line clap refused. A value that did not parse becomes
/// one line naming the option and the problem (`error: --tenant: "x" is not
/// a UUID (or "none")`); other usage errors keep clap's usage hint, and help
/// and version requests print as usual.
pub fn report_usage_error(error: clap::Error) -> ExitCode {
    if error.kind() != ErrorKind::ValueValidation {
        error.exit();
    }
    let option = match error.get(ContextKind::InvalidArg) {
        // clap names the argument with its value placeholder: `--tenant <ID|none>`.
        Some(ContextValue::String(arg)) => arg.split_whitespace().next().unwrap_or(arg).to_owned(),
        _ => "argument".to_owned(),
    };
    let problem = error
        .source()
        .map_or_else(|| error.to_string(), ToString::to_string);
    eprintln!("error: {option}: {problem}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_selects_events_without_a_tenant() {
        assert_eq!(parse_tenant_filter("none"), Ok(TenantFilter::NoTenant));
        assert_eq!(parse_tenant_filter("NONE"), Ok(TenantFilter::NoTenant));
    }

    #[test]
    fn a_uuid_selects_that_tenant() {
        let tenant = TenantId::new_random();
        assert_eq!(
            parse_tenant_filter(&tenant.to_string()),
            Ok(TenantFilter::Tenant(tenant))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_value_quoted() {
        assert_eq!(
            parse_tenant_filter("xyz"),
            Err(r#""xyz" is not a UUID (or "none")"#.to_owned())
        );
    }

    #[test]
    fn a_dash_means_standard_input() {
        assert_eq!("-".parse(), Ok(Input::Stdin));
        assert_eq!("events.jsonl".parse(), Ok(Input::File("events.jsonl".into())));
    }
}
