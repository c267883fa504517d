//! The `## gcp` table of `docs/configuration.md` is `GcpConfig::fields()`: same rows, same
//! order, same variables and defaults (the workspace test checks every provider the same way;
//! this one runs with the crate).

use strongroom_core::config::ProviderConfig;
use strongroom_gcp::GcpConfig;

#[test]
fn the_gcp_table_matches_the_config_struct() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<String>> = doc
        .lines()
        .skip_while(|l| l.trim_end() != "## gcp")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    let want: Vec<[String; 4]> = GcpConfig::fields()
        .iter()
        .map(|f| {
            let field = if f.http {
                format!("`http.{}`", f.key)
            } else {
                format!("`{}`", f.key)
            };
            let env = if f.env.is_empty() {
                "—".to_owned()
            } else {
                let names: Vec<String> = f.env.iter().map(|e| format!("`{e}`")).collect();
                names.join(", ")
            };
            let default = if f.default.is_empty() {
                "—".to_owned()
            } else {
                format!("`{}`", f.default)
            };
            [field, format!("`{}`", f.key), env, default]
        })
        .collect();
    assert_eq!(rows.len(), want.len(), "one row per field");
    for (row, want) in rows.iter().zip(&want) {
        assert_eq!(row.len(), 5, "five cells: {row:?}");
        assert_eq!(&row[..4], want, "row of {}", want[1]);
        assert!(
            !row[4].is_empty() && row[4] != "…",
            "a meaning for {}",
            want[1]
        );
    }
}
