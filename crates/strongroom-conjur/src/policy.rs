//! The policy text a write loads, and the name rules that keep it to one record.
//!
//! Names are absolute: a name is always the full variable id. A write declares the variable
//! in the configured policy branch, where ids are relative to the branch (`protocols.md` §1.5),
//! so the declared id is the name without the branch ([`declared_id`]); a name outside the
//! branch cannot be declared there and is refused before any request.
//!
//! Three locks, each enough on its own against the injections of `protocols.md` §1.5:
//! 1. an allowlist on the variable id ([`crate::ConjurStore::check_writable_name`]): letters,
//!    digits, `.`, `_`, `-`, `/`; no leading `/` (absolute id), no `..`, no `$`
//!    (`$namespace`), no empty segment, at most [`MAX_VARIABLE_ID_LEN`] bytes; annotation names
//!    have the same alphabet, annotation values no control characters ([`annotation_problem`]);
//! 2. every id, annotation name and value is emitted as a YAML **double-quoted** scalar in
//!    which every character outside printable ASCII, and `"` and `\`, is escaped
//!    ([`yaml_double_quoted`]) — so no line break, tag, alias, anchor, flow or comment syntax
//!    can leave the scalar;
//! 3. before anything is sent, the document is parsed back with a real YAML parser
//!    (`serde_yaml_ng`, tags preserved) and must be exactly one `!variable` record with
//!    exactly the id and annotations asked for ([`variable_document`]).
//!
//! Why not `serde_yaml_ng::to_string`: it picks the scalar style itself (plain or single-quoted)
//! and cannot be told to double-quote; the parse-back in step 3 uses it as the judge instead.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

/// The longest variable id a write accepts, in bytes.
pub const MAX_VARIABLE_ID_LEN: usize = 255;
/// The longest annotation name a write accepts, in bytes.
pub const MAX_ANNOTATION_NAME_LEN: usize = 128;
/// The longest annotation value a write accepts, in bytes.
pub const MAX_ANNOTATION_VALUE_LEN: usize = 4096;

/// Why `id` cannot be declared in a policy, or `None` when it can.
pub(crate) fn variable_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("an empty id cannot be declared");
    }
    if id.len() > MAX_VARIABLE_ID_LEN {
        return Some("Conjur variable ids written by Strongroom are at most 255 bytes");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
    {
        return Some(
            "to be declared in a Conjur policy a name may only use letters, digits, `.`, `_`, `-` and `/` \
             (no spaces, `$`, `:`, quotes or non-ASCII letters)",
        );
    }
    if id.starts_with('/') {
        return Some("a leading `/` would make the policy id absolute");
    }
    if id.contains("..") {
        return Some("`..` is not allowed in a Conjur variable id");
    }
    if id.split('/').any(str::is_empty) {
        return Some("empty segments (`//` or a trailing `/`) are not allowed");
    }
    None
}

/// The id `name` is declared as in `branch` (`None` = the root branch): the name itself in
/// root, else the name without `<branch>/`. A name outside the branch cannot be declared there.
///
/// ```
/// use strongroom_conjur::policy::declared_id;
/// assert_eq!(declared_id(Some("app"), "app/x/y"), Ok("x/y"));
/// assert_eq!(declared_id(None, "shared/x"), Ok("shared/x"));
/// assert!(declared_id(Some("app"), "shared/x").is_err());
/// assert!(declared_id(Some("app"), "app").is_err());
/// ```
pub fn declared_id<'a>(branch: Option<&str>, name: &'a str) -> Result<&'a str, String> {
    let Some(branch) = branch else {
        return Ok(name);
    };
    match name.strip_prefix(branch).and_then(|r| r.strip_prefix('/')) {
        Some(rest) if !rest.is_empty() => Ok(rest),
        _ => Err(format!(
            "`{name}` is outside the policy branch `{branch}`: names are full variable ids and \
             writes declare variables in `{branch}`, so only names under `{branch}/` can be written \
             through this store"
        )),
    }
}

/// Why an annotation cannot be written, or `None` when it can.
pub fn annotation_problem(name: &str, value: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_ANNOTATION_NAME_LEN {
        return Some(format!(
            "annotation names are 1 to {MAX_ANNOTATION_NAME_LEN} bytes"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        || name.starts_with('/')
    {
        return Some(format!(
            "the annotation name `{}` may only use letters, digits, `.`, `_`, `-` and `/`",
            name.escape_default()
        ));
    }
    if value.len() > MAX_ANNOTATION_VALUE_LEN {
        return Some(format!(
            "the value of annotation `{name}` is longer than {MAX_ANNOTATION_VALUE_LEN} bytes"
        ));
    }
    if value.chars().any(strongroom_core::is_forbidden_char) {
        return Some(format!(
            "the value of annotation `{name}` contains control or invisible characters"
        ));
    }
    None
}

/// `s` as a YAML double-quoted scalar: printable ASCII stays, `"` and `\` are escaped, every
/// other character becomes `\xXX`, `\uXXXX` or `\UXXXXXXXX` (YAML 1.1/1.2 §5.7), so the result
/// is a single line of printable ASCII whatever `s` holds.
pub fn yaml_double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The policy document declaring one variable: `- !variable "<id>"`.
///
/// Emits the id through [`yaml_double_quoted`], then parses the document back and refuses it
/// unless it is exactly one `!variable` record with exactly this id. Callers check the id
/// against the allowlist first; this function is the second and third lock.
pub fn variable_record(id: &str) -> Result<String, &'static str> {
    let doc = format!("- !variable {}\n", yaml_double_quoted(id));
    if is_single_variable_record(&doc, id) {
        Ok(doc)
    } else {
        Err("the policy text for this name did not parse back as exactly one !variable record")
    }
}

/// Whether `doc` parses as exactly one `!variable` record with id `id`.
pub fn is_single_variable_record(doc: &str, id: &str) -> bool {
    is_variable_document(doc, id, &BTreeMap::new())
}

/// The policy document declaring one variable with `annotations`: the short form
/// [`variable_record`] without annotations, else
///
/// ```yaml
/// - !variable
///   id: "<id>"
///   annotations:
///     "<name>": "<value>"
/// ```
///
/// Every scalar goes through [`yaml_double_quoted`]; the document is parsed back and refused
/// unless it is exactly one `!variable` record with exactly this id and these annotations.
///
/// ```
/// use std::collections::BTreeMap;
/// use strongroom_conjur::policy::variable_document;
/// let ann = BTreeMap::from([("description".to_string(), "db \"main\"\n- !permit".to_string())]);
/// let doc = variable_document("x/y", &ann).unwrap();
/// assert_eq!(doc.lines().count(), 4);
/// ```
pub fn variable_document(
    id: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<String, &'static str> {
    if annotations.is_empty() {
        return variable_record(id);
    }
    let mut doc = format!(
        "- !variable\n  id: {}\n  annotations:\n",
        yaml_double_quoted(id)
    );
    for (name, value) in annotations {
        doc.push_str(&format!(
            "    {}: {}\n",
            yaml_double_quoted(name),
            yaml_double_quoted(value)
        ));
    }
    if is_variable_document(&doc, id, annotations) {
        Ok(doc)
    } else {
        Err("the policy text for this write did not parse back as exactly one !variable record")
    }
}

/// Whether `doc` parses as exactly one `!variable` record with id `id` and exactly
/// `annotations` (the short form when there are none).
pub fn is_variable_document(doc: &str, id: &str, annotations: &BTreeMap<String, String>) -> bool {
    let Ok(Value::Sequence(items)) = serde_yaml_ng::from_str::<Value>(doc) else {
        return false;
    };
    let [Value::Tagged(tagged)] = items.as_slice() else {
        return false;
    };
    if tagged.tag != "variable" {
        return false;
    }
    let map = match &tagged.value {
        Value::String(s) => return annotations.is_empty() && s == id,
        Value::Mapping(map) => map,
        _ => return false,
    };
    let (Some(Value::String(got_id)), Some(Value::Mapping(got)), 2) =
        (map.get("id"), map.get("annotations"), map.len())
    else {
        return false;
    };
    got_id == id
        && got.len() == annotations.len()
        && got.iter().all(|(k, v)| match (k, v) {
            (Value::String(k), Value::String(v)) => annotations.get(k) == Some(v),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist() {
        for ok in ["a", "litellm/db-password", "A.b_c-d/e1", "x/y/z", "root"] {
            assert_eq!(variable_id_problem(ok), None, "{ok}");
        }
        let long = "a".repeat(MAX_VARIABLE_ID_LEN + 1);
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/",
            "a/../b",
            "a..b",
            "$namespace/x",
            "with space",
            "ключ",
            "a:b",
            "a\"b",
            "a\nb",
            "a#b",
            "*alias",
            "&anchor",
            "!tags",
            "a,b",
            long.as_str(),
        ] {
            assert!(
                variable_id_problem(bad).is_some(),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn emitter_keeps_hostile_text_in_one_record() {
        // Even without the allowlist, the emitter alone keeps every one of these a single record
        // whose id is exactly the input.
        let hostile = [
            "x\n- !permit\n  role: !user bob\n  privileges: [read]\n  resource: !variable x",
            "x\r\n- !grant {role: a, member: b}",
            "!tags",
            "*alias",
            "&anchor x",
            "/absolute",
            "$namespace/x",
            "x\u{85}- !permit {}",
            "x\u{2028}- !permit {}",
            "x\u{2029}- !deny {}",
            "x\" \n- !delete {record: !variable y}\n#",
            "{flow: map}",
            "[flow, seq]",
            "x: y",
            "# comment",
            "a\\\"b",
            "\u{feff}bom",
            "tab\there",
            "nul\0byte",
            "emoji 🔑",
            "'single'",
            "- !variable y",
            "%YAML 1.2",
            "--- \n...",
        ];
        for h in hostile {
            let doc = variable_record(h).unwrap_or_else(|e| panic!("{h:?}: {e}"));
            assert!(
                doc.ends_with('\n') && doc.lines().count() == 1,
                "one line: {doc:?}"
            );
            assert!(
                doc.bytes()
                    .all(|b| (b' '..=b'~').contains(&b) || b == b'\n'),
                "printable ASCII only: {doc:?}"
            );
            assert!(is_single_variable_record(&doc, h), "{h:?} -> {doc:?}");
        }
    }

    #[test]
    fn parse_back_rejects_documents_with_more_records() {
        assert!(!is_single_variable_record(
            "- !variable a\n- !permit {}\n",
            "a"
        ));
        assert!(!is_single_variable_record("- !variable b\n", "a"));
        assert!(!is_single_variable_record("- !user a\n", "a"));
        assert!(!is_single_variable_record("!variable a\n", "a"));
    }

    #[test]
    fn annotated_records_keep_hostile_text_inside_their_scalars() {
        for h in [
            "x\n- !permit {}",
            "\"dq\": y",
            "a: b\n  id: other",
            "*alias",
            "x\u{2028}- !deny {}",
            "emoji 🔑 ünïcødé",
        ] {
            let ann = BTreeMap::from([
                ("description".to_string(), h.to_string()),
                ("team".to_string(), "a".to_string()),
            ]);
            let doc = variable_document("x/y", &ann).unwrap_or_else(|e| panic!("{h:?}: {e}"));
            assert_eq!(doc.lines().count(), 5, "{doc}");
            assert!(is_variable_document(&doc, "x/y", &ann), "{doc}");
            assert!(!is_variable_document(&doc, "x/y", &BTreeMap::new()));
        }
        let ann = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert!(!is_variable_document(
            "- !variable\n  id: x\n  annotations: {a: \"1\", b: \"2\"}\n",
            "x",
            &ann
        ));
        assert!(!is_variable_document(
            "- !variable\n  id: x\n  owner: !user bob\n  annotations: {a: \"1\"}\n",
            "x",
            &ann
        ));
    }

    #[test]
    fn annotation_rules() {
        assert_eq!(annotation_problem("conjur/mime_type", "text/plain"), None);
        assert_eq!(annotation_problem("team", "Platform team, Berlin"), None);
        for (n, v) in [
            ("", "x"),
            ("with space", "x"),
            ("a:b", "x"),
            ("/abs", "x"),
            ("ok", "line\nbreak"),
            ("ok", "\u{202e}"),
        ] {
            assert!(annotation_problem(n, v).is_some(), "{n:?} {v:?}");
        }
        assert!(annotation_problem("ok", &"v".repeat(MAX_ANNOTATION_VALUE_LEN + 1)).is_some());
    }

    #[test]
    fn ordinary_record() {
        assert_eq!(
            variable_record("litellm/db-password").unwrap(),
            "- !variable \"litellm/db-password\"\n"
        );
    }
}
