//! The one place secrets are hidden: SAS signatures, function keys in URLs, OAuth secrets and
//! assertions, bearer tokens, account keys and connection-string keys. Everything that prints a
//! URL, a body or an error from Azure passes through [`redact`].

const REDACTED: &str = "REDACTED";

/// Query or form parameters whose value is a secret.
const SECRET_PARAMS: &[&str] = &[
    "sig",
    "code",
    "client_secret",
    "client_assertion",
    "access_token",
    "refresh_token",
    "assertion",
    "x-ms-identity-header",
];

/// JSON members whose string value is a secret.
const SECRET_MEMBERS: &[&str] = &[
    "access_token",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "value",
    "masterKey",
    "primaryKey",
    "secondaryKey",
    "blobs_extension",
    "key",
];

/// Connection-string keys (`AccountKey=...;`, `SharedAccessSignature=...`).
const SECRET_SETTINGS: &[&str] = &["AccountKey=", "SharedAccessKey=", "SharedAccessSignature="];

/// Hides every secret in `text`, whatever it is (a URL, a JSON body, an error message).
pub fn redact(text: &str) -> String {
    let mut out = redact_params(text);
    for setting in SECRET_SETTINGS {
        out = redact_after(&out, setting, |c| c == ';' || c == '"' || c.is_whitespace());
    }
    for member in SECRET_MEMBERS {
        out = redact_json_member(&out, member);
    }
    redact_after(&out, "Bearer ", |c| {
        c == '"' || c == '\'' || c == ',' || c.is_whitespace()
    })
}

/// Hides only SAS signatures (`sig=`): for text where other parameters must stay readable.
pub fn redact_sas(text: &str) -> String {
    redact_param(text, "sig")
}

fn redact_params(text: &str) -> String {
    SECRET_PARAMS
        .iter()
        .fold(text.to_string(), |acc, name| redact_param(&acc, name))
}

/// `name=value` where `name` starts a parameter (after `?`, `&`, start, or white space).
fn redact_param(text: &str, name: &str) -> String {
    let needle = format!("{name}=");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = find_ci(rest, &needle) {
        let starts_param = pos == 0
            || matches!(
                rest[..pos].chars().last(),
                Some('?' | '&' | ' ' | '"' | '\'' | '\n' | '(')
            );
        out.push_str(&rest[..pos + needle.len()]);
        let tail = &rest[pos + needle.len()..];
        if !starts_param {
            rest = tail;
            continue;
        }
        let end = tail
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c == ')' || c.is_whitespace())
            .unwrap_or(tail.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let lower = haystack.to_ascii_lowercase();
    lower.find(&needle.to_ascii_lowercase())
}

fn redact_after(text: &str, marker: &str, stop: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(marker) {
        out.push_str(&rest[..pos + marker.len()]);
        let tail = &rest[pos + marker.len()..];
        let end = tail.find(&stop).unwrap_or(tail.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `"member": "secret"` (JSON, any spacing) becomes `"member": "REDACTED"`.
fn redact_json_member(text: &str, member: &str) -> String {
    let needle = format!("\"{member}\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(&needle) {
        out.push_str(&rest[..pos + needle.len()]);
        let tail = &rest[pos + needle.len()..];
        let after_colon = tail.trim_start();
        let Some(value) = after_colon.strip_prefix(':') else {
            rest = tail;
            continue;
        };
        let value = value.trim_start();
        let Some(body) = value.strip_prefix('"') else {
            rest = tail;
            continue;
        };
        let Some(end) = string_end(body) else {
            rest = tail;
            continue;
        };
        let consumed = tail.len() - body.len();
        out.push_str(&tail[..consumed]);
        out.push_str(REDACTED);
        out.push('"');
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Index of the closing quote of a JSON string body, skipping escapes.
fn string_end(body: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_sas_signatures_and_function_keys_in_urls() {
        let text = "GET https://a.blob/x/y?sv=2025&sig=abc%2Fdef&se=2 then https://f/runtime/webhooks/blobs?functionName=F&code=hostkey123";
        let out = redact(text);
        assert!(
            !out.contains("abc%2Fdef") && !out.contains("hostkey123"),
            "{out}"
        );
        assert!(out.contains("sig=REDACTED&se=2"), "{out}");
        assert!(out.contains("functionName=F&code=REDACTED"), "{out}");
    }

    #[test]
    fn leaves_parameters_that_merely_end_in_a_secret_name() {
        let out = redact("https://x/?zipcode=12345&barcode=9");
        assert_eq!(out, "https://x/?zipcode=12345&barcode=9");
    }

    #[test]
    fn hides_oauth_form_secrets_and_bearer_tokens() {
        let form = "grant_type=client_credentials&client_id=app&client_secret=s3cr3t&client_assertion=eyJ.x.y";
        let out = redact(form);
        assert!(!out.contains("s3cr3t") && !out.contains("eyJ.x.y"), "{out}");
        assert!(out.contains("client_id=app"));
        let header = "authorization: Bearer eyJhbGciOi.payload.sig, next";
        assert_eq!(redact(header), "authorization: Bearer REDACTED, next");
    }

    #[test]
    fn hides_secret_json_members_and_connection_string_keys() {
        let body = r#"{"keys":[{"keyName":"key1","value":"AAAA+/=="}],"access_token" : "tok\"en","name":"kept","cs":"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v==;EndpointSuffix=core"}"#;
        let out = redact(body);
        for secret in ["AAAA+/==", "tok\\\"en", "Zm9v=="] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert!(out.contains(r#""name":"kept""#) && out.contains("AccountName=a;"));
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "still JSON: {out}"
        );
    }

    #[test]
    fn redact_sas_keeps_other_parameters() {
        assert_eq!(redact_sas("u?code=1&sig=x"), "u?code=1&sig=REDACTED");
    }
}
