//! The policy text a write loads, and the name rules that keep it to one record.
//!
//! Three locks, each enough on its own against the injections of `protocols.md` §1.5:
//! 1. an allowlist on the variable id ([`crate::ConjurStore::check_writable_name`]): letters, digits, `.`, `_`, `-`,
//!    `/`; no leading `/` (absolute id), no `..`, no `$` (`$namespace`), no empty segment,
//!    at most [`MAX_VARIABLE_ID_LEN`] bytes;
//! 2. the id is emitted as a YAML **double-quoted** scalar in which every character outside
//!    printable ASCII, and `"` and `\`, is escaped ([`yaml_double_quoted`]) — so no line break,
//!    tag, alias, anchor, flow or comment syntax can leave the scalar;
//! 3. before anything is sent, the document is parsed back with a real YAML parser
//!    (`serde_yaml_ng`, tags preserved) and must be exactly one `!variable` record whose id is
//!    the id asked for ([`variable_record`]).
//!
//! Why not `serde_yaml_ng::to_string`: it picks the scalar style itself (plain or single-quoted)
//! and cannot be told to double-quote; the parse-back in step 3 uses it as the judge instead.

use serde_yaml_ng::Value;

/// The longest variable id a write accepts, in bytes.
pub const MAX_VARIABLE_ID_LEN: usize = 255;

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

/// Checks a policy branch setting (same rules as variable ids; `root` is the root branch).
pub(crate) fn check_branch(branch: &str) -> Result<(), &'static str> {
    match variable_id_problem(branch) {
        Some(why) => Err(why),
        None => Ok(()),
    }
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
    let Ok(Value::Sequence(items)) = serde_yaml_ng::from_str::<Value>(doc) else {
        return false;
    };
    let [Value::Tagged(tagged)] = items.as_slice() else {
        return false;
    };
    tagged.tag == "variable" && matches!(&tagged.value, Value::String(s) if s == id)
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
    fn ordinary_record() {
        assert_eq!(
            variable_record("litellm/db-password").unwrap(),
            "- !variable \"litellm/db-password\"\n"
        );
    }
}
