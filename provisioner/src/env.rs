//! Environment files (`environments/<name>.toml`): read, checked completely before any request, and
//! turned into a typed `Environment`. Every problem is reported at once, with its place in the file.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PlanSku {
    B1,
    Y1,
    EP1,
    /// Flex Consumption: scale to zero, deployed from a blob container through One Deploy.
    FC1,
}

impl PlanSku {
    pub fn name(self) -> &'static str {
        match self {
            PlanSku::B1 => "B1",
            PlanSku::Y1 => "Y1",
            PlanSku::EP1 => "EP1",
            PlanSku::FC1 => "FC1",
        }
    }
}

/// Flex Consumption scale settings (`[plan] maximum_instances`, `instance_memory_mb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlexScale {
    pub maximum_instances: u32,
    pub instance_memory_mb: u32,
}

/// Allowed values, from learn.microsoft.com/azure/azure-functions/flex-consumption-plan
/// ("The lowest maximum scale is currently 40. The highest currently supported value is 1000";
/// instance sizes 512, 2048 and 4096 MB) and the stacks API's FC1 entry (default 100 and 2048).
pub const FLEX_MAXIMUM_INSTANCES: std::ops::RangeInclusive<i64> = 40..=1000;
pub const FLEX_INSTANCE_MEMORY_MB: &[i64] = &[512, 2048, 4096];

impl Default for FlexScale {
    fn default() -> Self {
        Self {
            maximum_instances: 100,
            instance_memory_mb: 2048,
        }
    }
}

/// Linux Consumption (Y1) is retired on this date: no new Y1 apps and no support after it
/// (learn.microsoft.com/azure/azure-functions/migration/migrate-plan-consumption-to-flex).
pub const Y1_RETIREMENT: &str = "2028-09-30";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PackageAccess {
    /// A service SAS bound to a stored access policy (revocable, renewed before it expires).
    Sas,
    /// The site's managed identity reads the package; no secret in the URL.
    Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthMethod {
    Auto,
    ClientSecret,
    WorkloadIdentity,
    AzureCli,
    ManagedIdentity,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoints {
    pub authority: String,
    pub resource_manager: String,
    pub graph: String,
    /// The audience ARM tokens are requested for.
    pub resource_manager_audience: String,
    pub graph_audience: String,
}

impl Endpoints {
    fn public() -> Self {
        Self {
            authority: "https://login.microsoftonline.com".into(),
            resource_manager: "https://management.azure.com".into(),
            graph: "https://graph.microsoft.com".into(),
            resource_manager_audience: "https://management.azure.com".into(),
            graph_audience: "https://graph.microsoft.com".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    pub file: PathBuf,
    pub subscription: String,
    pub tenant: String,
    pub location: String,
    pub prefix: String,
    pub suffix: String,
    pub plan: PlanSku,
    /// Used when `plan` is FC1.
    pub flex: FlexScale,
    /// Advice that is not an error (printed by plan, up and drift): a Y1 plan's retirement.
    pub warnings: Vec<String>,
    pub group_display_name: String,
    pub group_unique_name: String,
    pub group_members: Vec<String>,
    /// `[security_group] adopt = true`: a group with this uniqueName that provision did not
    /// create for this environment is taken over (and `down` then deletes it) instead of refused.
    pub group_adopt: bool,
    pub tags: BTreeMap<String, String>,
    pub package_access: PackageAccess,
    pub sas_lifetime_days: i64,
    pub sas_renew_within_days: i64,
    pub auth_method: AuthMethod,
    pub client_id: Option<String>,
    pub endpoints: Endpoints,
}

/// One problem in an environment file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub place: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("cannot read environment file {path}: {source}. Pass an existing file with --env-file, or --env NAME for environments/NAME.toml")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} has {} problem(s); nothing was sent to Azure:\n{}", problems.len(), problems.iter().map(|p| format!("  - {}: {}", p.place, p.message)).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
}

const TOP_KEYS: &[&str] = &[
    "name",
    "subscription",
    "tenant",
    "location",
    "prefix",
    "suffix",
    "plan",
    "security_group",
    "tags",
    "package",
    "auth",
    "endpoints",
];

pub fn path_for(name: &str, root: &Path) -> PathBuf {
    root.join("environments").join(format!("{name}.toml"))
}

pub fn load(path: &Path) -> Result<Environment, EnvError> {
    let text = std::fs::read_to_string(path).map_err(|source| EnvError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, path)
}

/// Reads the file's text into an `Environment`, or every problem it has.
pub fn parse(text: &str, path: &Path) -> Result<Environment, EnvError> {
    let invalid = |problems| EnvError::Invalid {
        path: path.display().to_string(),
        problems,
    };
    let table: Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let place = e
                .span()
                .map(|s| format!("line {}", text[..s.start].lines().count().max(1)))
                .unwrap_or_else(|| "file".into());
            return Err(invalid(vec![Problem {
                place,
                message: format!("not valid TOML: {}", e.message()),
            }]));
        }
    };
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    c.unknown_keys(&table, "", TOP_KEYS);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("env")
        .to_string();
    let name = c.string(&table, "name", "").unwrap_or(stem);
    if !name
        .chars()
        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        || name.is_empty()
        || name.len() > 12
    {
        c.problem("name", "the environment name must be 1-12 lowercase letters and digits (it is part of Azure resource names)");
    }
    let subscription = c.guid(&table, "subscription", "");
    let tenant = c.guid(&table, "tenant", "");
    let location = c
        .required_string(&table, "location", "")
        .unwrap_or_default();
    if !location.is_empty()
        && !location
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
    {
        c.problem(
            "location",
            "use the region's short name, e.g. `westeurope` (lowercase, no spaces)",
        );
    }
    let prefix = c.required_string(&table, "prefix", "").unwrap_or_default();
    if !prefix.is_empty()
        && (!prefix
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            || prefix.len() > 10
            || !prefix.starts_with(|ch: char| ch.is_ascii_lowercase()))
    {
        c.problem("prefix", "the prefix must be 1-10 lowercase letters and digits starting with a letter: storage account names allow nothing else");
    }
    let suffix = match c.string(&table, "suffix", "") {
        Some(s) => {
            if !(4..=6).contains(&s.len())
                || !s
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            {
                c.problem(
                    "suffix",
                    "the suffix must be 4-6 lowercase letters and digits",
                );
            }
            s
        }
        None => derived_suffix(subscription.as_deref().unwrap_or_default(), &name),
    };

    let plan_table = c.table(&table, "plan");
    c.unknown_keys(
        &plan_table,
        "plan",
        &["sku", "maximum_instances", "instance_memory_mb"],
    );
    let plan = match c.string(&plan_table, "sku", "plan").as_deref() {
        None | Some("B1") => PlanSku::B1,
        Some("Y1") => PlanSku::Y1,
        Some("EP1") => PlanSku::EP1,
        Some("FC1") => PlanSku::FC1,
        Some(other) => {
            c.problem(
                "plan.sku",
                &format!("`{other}` is not supported; use B1 (default), Y1 or EP1, or FC1 for Flex Consumption"),
            );
            PlanSku::B1
        }
    };
    let flex = flex_scale(&mut c, &plan_table, plan);
    let mut warnings = Vec::new();
    if plan == PlanSku::Y1 {
        warnings.push(format!(
            "{}: Linux Consumption (Y1) is retired on {Y1_RETIREMENT} (no new Y1 apps, no support after it); move to Flex Consumption with the one-line change `sku = \"FC1\"` in [plan]",
            c.place("plan.sku")
        ));
    }

    let group = c.table(&table, "security_group");
    c.unknown_keys(
        &group,
        "security_group",
        &["display_name", "unique_name", "members", "adopt"],
    );
    let group_display_name = c
        .string(&group, "display_name", "security_group")
        .unwrap_or_else(|| format!("{prefix}-{name}-data"));
    let group_unique_name = c
        .string(&group, "unique_name", "security_group")
        .unwrap_or_else(|| format!("{prefix}-{name}-data"));
    if !group_unique_name.is_empty()
        && !group_unique_name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        c.problem(
            "security_group.unique_name",
            "use letters, digits, '-' and '_' only (it is also the group's mail nickname)",
        );
    }
    let mut group_members = Vec::new();
    if let Some(v) = group.get("members") {
        match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().filter(|s| uuid::Uuid::parse_str(s).is_ok()) {
                        Some(s) => group_members.push(s.to_string()),
                        None => c.problem(
                            &format!("security_group.members[{i}]"),
                            "each member is an Entra object id (a GUID)",
                        ),
                    }
                }
            }
            None => c.problem(
                "security_group.members",
                "must be a list of Entra object ids",
            ),
        }
    }

    let group_adopt = match group.get("adopt") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(_) => {
            c.problem(
                "security_group.adopt",
                "must be true or false (true takes over an existing group with this unique_name that provision did not create)",
            );
            false
        }
    };

    let mut tags = BTreeMap::new();
    for (k, v) in c.table(&table, "tags") {
        match v.as_str() {
            Some(s) if k.len() <= 512 && s.len() <= 256 => {
                tags.insert(k.clone(), s.to_string());
            }
            Some(_) => c.problem(
                &format!("tags.{k}"),
                "tag names are at most 512 characters and values at most 256",
            ),
            None => c.problem(&format!("tags.{k}"), "tag values must be strings"),
        }
    }
    for reserved in ["managed-by", "environment"] {
        if tags.contains_key(reserved) {
            c.problem(
                &format!("tags.{reserved}"),
                "this tag is set by provision to mark ownership; remove it",
            );
        }
    }

    let package = c.table(&table, "package");
    c.unknown_keys(
        &package,
        "package",
        &["access", "sas_lifetime_days", "sas_renew_within_days"],
    );
    let package_access = match c.string(&package, "access", "package").as_deref() {
        None | Some("sas") => PackageAccess::Sas,
        Some("identity") => PackageAccess::Identity,
        Some(other) => {
            c.problem(
                "package.access",
                &format!("`{other}` is not an access mode; use `sas` (default) or `identity`"),
            );
            PackageAccess::Sas
        }
    };
    let sas_lifetime_days = c
        .integer(&package, "sas_lifetime_days", "package")
        .unwrap_or(365);
    let sas_renew_within_days = c
        .integer(&package, "sas_renew_within_days", "package")
        .unwrap_or(30);
    if !(1..=3650).contains(&sas_lifetime_days) {
        c.problem("package.sas_lifetime_days", "must be between 1 and 3650");
    }
    if sas_renew_within_days < 0 || sas_renew_within_days >= sas_lifetime_days {
        c.problem(
            "package.sas_renew_within_days",
            "must be at least 0 and less than sas_lifetime_days",
        );
    }

    let auth = c.table(&table, "auth");
    // A client_secret gets its own, clearer problem below, not "unknown key" as well.
    let mut auth_keys = auth.clone();
    auth_keys.remove("client_secret");
    c.unknown_keys(&auth_keys, "auth", &["method", "client_id"]);
    let auth_method = match c.string(&auth, "method", "auth").as_deref() {
        None | Some("auto") => AuthMethod::Auto,
        Some("client-secret") => AuthMethod::ClientSecret,
        Some("workload-identity") => AuthMethod::WorkloadIdentity,
        Some("azure-cli") => AuthMethod::AzureCli,
        Some("managed-identity") => AuthMethod::ManagedIdentity,
        Some(other) => {
            c.problem("auth.method", &format!("`{other}` is unknown; use auto, client-secret, workload-identity, azure-cli or managed-identity"));
            AuthMethod::Auto
        }
    };
    let client_id = c.string(&auth, "client_id", "auth");
    if let Some(id) = &client_id {
        if uuid::Uuid::parse_str(id).is_err() {
            c.problem(
                "auth.client_id",
                "must be the application (client) id, a GUID",
            );
        }
    }
    if auth.contains_key("client_secret") {
        c.problem("auth.client_secret", "secrets never go in environment files; set AZURE_CLIENT_SECRET in the environment instead");
    }

    let endpoints_table = c.table(&table, "endpoints");
    c.unknown_keys(
        &endpoints_table,
        "endpoints",
        &[
            "authority",
            "resource_manager",
            "graph",
            "resource_manager_audience",
            "graph_audience",
        ],
    );
    let mut endpoints = Endpoints::public();
    for (key, slot) in [
        ("authority", &mut endpoints.authority),
        ("resource_manager", &mut endpoints.resource_manager),
        ("graph", &mut endpoints.graph),
        (
            "resource_manager_audience",
            &mut endpoints.resource_manager_audience,
        ),
        ("graph_audience", &mut endpoints.graph_audience),
    ] {
        if let Some(v) = c.string(&endpoints_table, key, "endpoints") {
            match url::Url::parse(&v) {
                Ok(u)
                    if u.scheme() == "https"
                        || u.host_str() == Some("127.0.0.1")
                        || u.host_str() == Some("localhost") =>
                {
                    *slot = v.trim_end_matches('/').to_string()
                }
                _ => c.problem(
                    &format!("endpoints.{key}"),
                    "must be an https URL (plain http only for 127.0.0.1)",
                ),
            }
        }
    }

    let names_check = crate::names::Names::derive(&prefix, &name, &suffix);
    for (what, account) in [
        ("raw", &names_check.raw_account),
        ("standard", &names_check.standard_account),
        ("functions", &names_check.functions_account),
    ] {
        if !(3..=24).contains(&account.len()) {
            c.problem("prefix", &format!("the {what} storage account name `{account}` would break Azure's rule (3-24 lowercase letters and digits); shorten prefix or name"));
        }
    }

    if !c.problems.is_empty() {
        return Err(invalid(c.problems));
    }
    Ok(Environment {
        name,
        file: path.to_path_buf(),
        subscription: subscription.unwrap_or_default(),
        tenant: tenant.unwrap_or_default(),
        location,
        prefix,
        suffix,
        plan,
        flex,
        warnings,
        group_display_name,
        group_unique_name,
        group_members,
        group_adopt,
        tags,
        package_access,
        sas_lifetime_days,
        sas_renew_within_days,
        auth_method,
        client_id,
        endpoints,
    })
}

/// `maximum_instances` and `instance_memory_mb`: checked against what Flex Consumption allows, and
/// refused on any other plan (they would silently do nothing there).
fn flex_scale(c: &mut Checker, plan_table: &Table, plan: PlanSku) -> FlexScale {
    let mut scale = FlexScale::default();
    let maximum = c.integer(plan_table, "maximum_instances", "plan");
    let memory = c.integer(plan_table, "instance_memory_mb", "plan");
    if plan != PlanSku::FC1 {
        for (key, value) in [
            ("maximum_instances", maximum),
            ("instance_memory_mb", memory),
        ] {
            if value.is_some() {
                c.problem(
                    &format!("plan.{key}"),
                    &format!("applies to Flex Consumption only; remove it, or set `sku = \"FC1\"` (this plan is {})", plan.name()),
                );
            }
        }
        return scale;
    }
    if let Some(n) = maximum {
        match u32::try_from(n) {
            Ok(v) if FLEX_MAXIMUM_INSTANCES.contains(&n) => scale.maximum_instances = v,
            _ => c.problem(
                "plan.maximum_instances",
                &format!(
                    "{n} is outside what Flex Consumption allows; use a whole number from {} to {} (default 100)",
                    FLEX_MAXIMUM_INSTANCES.start(),
                    FLEX_MAXIMUM_INSTANCES.end()
                ),
            ),
        }
    }
    if let Some(n) = memory {
        match u32::try_from(n) {
            Ok(v) if FLEX_INSTANCE_MEMORY_MB.contains(&n) => scale.instance_memory_mb = v,
            _ => c.problem(
                "plan.instance_memory_mb",
                &format!("{n} MB is not a Flex Consumption instance size; use 512, 2048 (default) or 4096"),
            ),
        }
    }
    scale
}

/// Storage names are global: a stable 6-character suffix from subscription and environment.
pub fn derived_suffix(subscription: &str, env: &str) -> String {
    use sha2::Digest;
    let digest =
        sha2::Sha256::digest(format!("{}/{env}", subscription.to_ascii_lowercase()).as_bytes());
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    digest
        .iter()
        .take(6)
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

struct Checker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn place(&self, key: &str) -> String {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        let line = self.text.lines().position(|l| {
            let t = l.trim_start();
            t.starts_with(&format!("{leaf} "))
                || t.starts_with(&format!("{leaf}="))
                || t.starts_with(&format!("\"{leaf}\""))
        });
        match line {
            Some(n) => format!("{key} (line {})", n + 1),
            None => key.to_string(),
        }
    }

    fn problem(&mut self, key: &str, message: &str) {
        let place = self.place(key);
        self.problems.push(Problem {
            place,
            message: message.to_string(),
        });
    }

    fn unknown_keys(&mut self, table: &Table, section: &str, known: &[&str]) {
        for key in table.keys() {
            if !known.contains(&key.as_str()) {
                let full = if section.is_empty() {
                    key.clone()
                } else {
                    format!("{section}.{key}")
                };
                self.problem(
                    &full,
                    &format!("unknown key; expected one of: {}", known.join(", ")),
                );
            }
        }
    }

    fn table(&mut self, table: &Table, key: &str) -> Table {
        match table.get(key) {
            None => Table::new(),
            Some(Value::Table(t)) => t.clone(),
            Some(_) => {
                self.problem(key, "must be a table, e.g. [section]");
                Table::new()
            }
        }
    }

    fn string(&mut self, table: &Table, key: &str, section: &str) -> Option<String> {
        let full = if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        };
        match table.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(&full, "must be a string in quotes");
                None
            }
        }
    }

    fn required_string(&mut self, table: &Table, key: &str, section: &str) -> Option<String> {
        let value = self.string(table, key, section);
        if value.as_deref().is_none_or(str::is_empty) && table.get(key).is_none_or(|v| v.is_str()) {
            self.problem(key, "is required");
        }
        value
    }

    fn integer(&mut self, table: &Table, key: &str, section: &str) -> Option<i64> {
        match table.get(key) {
            None => None,
            Some(Value::Integer(i)) => Some(*i),
            Some(_) => {
                self.problem(&format!("{section}.{key}"), "must be a whole number");
                None
            }
        }
    }

    fn guid(&mut self, table: &Table, key: &str, section: &str) -> Option<String> {
        let value = self.required_string(table, key, section)?;
        if uuid::Uuid::parse_str(&value).is_err() {
            self.problem(
                key,
                &format!("`{value}` is not a GUID; copy it from `az account show`"),
            );
            return None;
        }
        Some(value.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
subscription = "00000000-0000-4000-8000-0000000000a1"
tenant = "72f988bf-0000-4000-8000-00000000e001"
location = "westeurope"
prefix = "superhero"
[tags]
team = "data"
"#;

    #[test]
    fn a_minimal_file_gets_defaults_and_a_stable_suffix() {
        let env = parse(GOOD, Path::new("environments/dev.toml")).expect("valid");
        assert_eq!(env.name, "dev");
        assert_eq!(env.plan, PlanSku::B1);
        assert_eq!(env.package_access, PackageAccess::Sas);
        assert_eq!(
            env.suffix,
            derived_suffix("00000000-0000-4000-8000-0000000000a1", "dev")
        );
        assert_ne!(
            env.suffix,
            derived_suffix("00000000-0000-4000-8000-0000000000a1", "prod")
        );
        assert_eq!(env.suffix.len(), 6);
    }

    #[test]
    fn every_problem_is_listed_with_its_place() {
        let text = r#"
subscription = "not-a-guid"
location = "West Europe"
prefix = "Super-Hero"
colour = "blue"
[plan]
sku = "P9"
[package]
access = "ftp"
[auth]
client_secret = "hunter2"
"#;
        let err = parse(text, Path::new("environments/dev.toml")).expect_err("invalid");
        let EnvError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        let places: Vec<&str> = problems.iter().map(|p| p.place.as_str()).collect();
        for expected in [
            "subscription (line 2)",
            "tenant",
            "location (line 3)",
            "prefix (line 4)",
            "colour (line 5)",
            "plan.sku (line 7)",
            "package.access (line 9)",
            "auth.client_secret (line 11)",
        ] {
            assert!(
                places.contains(&expected),
                "missing {expected} in {places:?}"
            );
        }
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "the secret is not echoed");
        assert!(text.contains("nothing was sent to Azure"));
    }

    #[test]
    fn adopting_an_existing_group_is_off_unless_the_file_says_true() {
        let env = parse(GOOD, Path::new("dev.toml")).expect("valid");
        assert!(!env.group_adopt, "never taken over by default");
        let adopt = format!("{GOOD}[security_group]\nadopt = true\n");
        assert!(
            parse(&adopt, Path::new("dev.toml"))
                .expect("valid")
                .group_adopt
        );
        let bad = format!("{GOOD}[security_group]\nadopt = \"yes\"\n");
        let err = parse(&bad, Path::new("dev.toml")).expect_err("not a boolean");
        let EnvError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        assert!(
            problems
                .iter()
                .any(|p| p.place.starts_with("security_group.adopt")
                    && p.message.contains("true or false")),
            "{err}"
        );
    }

    #[test]
    fn derived_storage_names_that_break_azure_rules_are_caught() {
        let text = GOOD
            .replace("prefix = \"superhero\"", "prefix = \"abcdefghij\"")
            .replace("location", "name = \"abcdefghijkl\"\nlocation");
        let err = parse(&text, Path::new("x.toml")).expect_err("too long");
        assert!(err.to_string().contains("storage account name"), "{err}");
        assert!(parse("not = [toml", Path::new("x.toml"))
            .expect_err("bad")
            .to_string()
            .contains("not valid TOML"));
    }

    fn problems_of(text: &str) -> Vec<Problem> {
        match parse(text, Path::new("dev.toml")) {
            Err(EnvError::Invalid { problems, .. }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn fc1_takes_its_scale_settings_and_defaults_them() {
        let env = parse(
            &format!("{GOOD}[plan]\nsku = \"FC1\"\n"),
            Path::new("dev.toml"),
        )
        .expect("valid");
        assert_eq!(env.plan, PlanSku::FC1);
        assert_eq!(
            (env.flex.maximum_instances, env.flex.instance_memory_mb),
            (100, 2048)
        );
        assert!(env.warnings.is_empty(), "{:?}", env.warnings);
        let env = parse(
            &format!(
                "{GOOD}[plan]\nsku = \"FC1\"\nmaximum_instances = 40\ninstance_memory_mb = 512\n"
            ),
            Path::new("dev.toml"),
        )
        .expect("valid");
        assert_eq!(
            (env.flex.maximum_instances, env.flex.instance_memory_mb),
            (40, 512)
        );
        let env = parse(
            &format!("{GOOD}[plan]\nsku = \"FC1\"\nmaximum_instances = 1000\ninstance_memory_mb = 4096\n"),
            Path::new("dev.toml"),
        )
        .expect("valid");
        assert_eq!(
            (env.flex.maximum_instances, env.flex.instance_memory_mb),
            (1000, 4096)
        );
    }

    #[test]
    fn fc1_values_flex_does_not_allow_are_refused_with_line_and_fix() {
        // GOOD has 7 lines (a leading newline), so [plan] is line 8.
        for (maximum, memory) in [(39, 1024), (1001, 0), (-5, 8192)] {
            let text = format!(
                "{GOOD}[plan]\nsku = \"FC1\"\nmaximum_instances = {maximum}\ninstance_memory_mb = {memory}\n"
            );
            let problems = problems_of(&text);
            let max = problems
                .iter()
                .find(|p| p.place == "plan.maximum_instances (line 10)")
                .unwrap_or_else(|| panic!("{problems:?}"));
            assert!(
                max.message.contains("from 40 to 1000")
                    && max.message.contains(&maximum.to_string()),
                "{max:?}"
            );
            let mem = problems
                .iter()
                .find(|p| p.place == "plan.instance_memory_mb (line 11)")
                .unwrap_or_else(|| panic!("{problems:?}"));
            assert!(
                mem.message.contains("512, 2048 (default) or 4096"),
                "{mem:?}"
            );
        }
        let problems = problems_of(&format!(
            "{GOOD}[plan]\nsku = \"FC1\"\nmaximum_instances = \"many\"\n"
        ));
        assert!(
            problems
                .iter()
                .any(|p| p.place.starts_with("plan.maximum_instances")
                    && p.message.contains("whole number")),
            "{problems:?}"
        );
    }

    #[test]
    fn flex_settings_on_another_plan_are_refused() {
        let problems = problems_of(&format!(
            "{GOOD}[plan]\nsku = \"B1\"\nmaximum_instances = 100\n"
        ));
        assert!(
            problems
                .iter()
                .any(|p| p.place == "plan.maximum_instances (line 10)"
                    && p.message.contains("sku = \"FC1\"")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_y1_environment_is_warned_of_the_retirement_with_the_change_to_make() {
        let env = parse(
            &format!("{GOOD}[plan]\nsku = \"Y1\"\n"),
            Path::new("dev.toml"),
        )
        .expect("a warning, not an error");
        assert_eq!(env.plan, PlanSku::Y1);
        assert_eq!(env.warnings.len(), 1, "{:?}", env.warnings);
        let warning = &env.warnings[0];
        assert!(warning.contains("2028-09-30"), "{warning}");
        assert!(warning.contains("sku = \"FC1\""), "{warning}");
        assert!(warning.starts_with("plan.sku (line 9)"), "{warning}");
        for other in ["B1", "EP1", "FC1"] {
            let env = parse(
                &format!("{GOOD}[plan]\nsku = \"{other}\"\n"),
                Path::new("dev.toml"),
            )
            .expect("valid");
            assert!(env.warnings.is_empty(), "{other}: {:?}", env.warnings);
        }
    }
}
