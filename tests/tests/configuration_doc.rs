//! `docs/configuration.md` against the code: every `## <provider>` section holds one table with
//! one row per `XxxConfig::fields()` entry, in the same order — field (struct path), TOML key,
//! environment variables (priority order), default. On a mismatch the test prints the table
//! the code expects, ready to paste (the meaning column is kept where the row had one).

use strongroom::config::{FieldInfo, ProviderConfig};
use strongroom::providers::PROVIDERS;

/// One table row: field, TOML key, environment, default, meaning.
type Row = [String; 5];

fn doc() -> String {
    let path = strongroom_testkit::servers::workspace_root().join("docs/configuration.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The rows of the table in section `## name`, or `None` when there is no such section.
fn section_rows(doc: &str, name: &str) -> Option<Vec<Row>> {
    let heading = format!("## {name}");
    let mut lines = doc.lines().skip_while(|l| l.trim_end() != heading);
    lines.next()?;
    let rows = lines
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<String> = l
                .trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect();
            let mut row: Row = Default::default();
            for (i, c) in cells.into_iter().take(5).enumerate() {
                row[i] = c;
            }
            row
        })
        .filter(|r| r[0] != "field" && !r[0].starts_with("---"))
        .collect();
    Some(rows)
}

fn expected_row(f: &FieldInfo) -> [String; 4] {
    let field = if f.http {
        format!("`http.{}`", f.key)
    } else {
        format!("`{}`", f.key)
    };
    let env = if f.env.is_empty() {
        "—".to_owned()
    } else {
        f.env
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let default = if f.default.is_empty() {
        "—".to_owned()
    } else {
        format!("`{}`", f.default)
    };
    [field, format!("`{}`", f.key), env, default]
}

/// Compares one section; returns the problem and the expected table.
fn check(doc: &str, name: &str, fields: &[FieldInfo]) -> Option<String> {
    let rows = section_rows(doc, name);
    let have = rows.clone().unwrap_or_default();
    let want: Vec<[String; 4]> = fields.iter().map(expected_row).collect();
    let same = have.len() == want.len()
        && have
            .iter()
            .zip(&want)
            .all(|(h, w)| h[..4].iter().zip(w).all(|(a, b)| a == b));
    if same {
        return None;
    }
    let mut table = String::from(
        "| field | TOML key | environment | default | meaning |\n|---|---|---|---|---|\n",
    );
    for w in &want {
        let meaning = have
            .iter()
            .find(|h| h[1] == w[1])
            .map(|h| h[4].clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "…".to_owned());
        table.push_str(&format!(
            "| {} | {} | {} | {} | {meaning} |\n",
            w[0], w[1], w[2], w[3]
        ));
    }
    let problem = match rows {
        None => format!("docs/configuration.md has no `## {name}` section"),
        Some(_) => {
            let first = have
                .iter()
                .map(|h| h[..4].to_vec())
                .zip(want.iter().map(|w| w.to_vec()))
                .position(|(h, w)| h != w);
            match first {
                Some(i) => format!(
                    "`## {name}`: row {} is {:?}, the code says {:?}",
                    i + 1,
                    &have[i][..4],
                    want[i]
                ),
                None => format!(
                    "`## {name}`: {} rows, the code has {} fields",
                    have.len(),
                    want.len()
                ),
            }
        }
    };
    Some(format!("{problem}\nExpected table:\n\n{table}"))
}

#[test]
fn every_provider_table_matches_its_config_struct() {
    let doc = doc();
    let mut problems = Vec::new();
    for p in PROVIDERS {
        let fields = p
            .fields()
            .unwrap_or_else(|| panic!("provider {} is not compiled in the tests", p.name));
        if fields.is_empty() {
            continue;
        }
        problems.extend(check(&doc, p.name, &fields));
    }
    problems.extend(check(
        &doc,
        "redis",
        &strongroom::redis::RedisConfig::fields(),
    ));
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

#[test]
fn the_comparison_catches_a_wrong_row() {
    let fields = strongroom::builtin::FileConfig::fields();
    let good = "## file\n\n| field | TOML key | environment | default | meaning |\n|---|---|---|---|---|\n| `path` | `path` | `STRONGROOM_FILE` | `.strongroom/secrets.json` | the file |\n";
    assert_eq!(check(good, "file", &fields), None);
    let wrong = good.replace("`STRONGROOM_FILE`", "`FILE`");
    let report = check(&wrong, "file", &fields).expect("a mismatch");
    assert!(
        report.contains("row 1") && report.contains("| `path` | `path` | `STRONGROOM_FILE` |"),
        "{report}"
    );
    assert!(
        check("## other\n", "file", &fields)
            .unwrap()
            .contains("no `## file` section")
    );
}
