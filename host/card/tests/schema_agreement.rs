//! `schema/card.k` (through kcl-lib) and `schema/card.schema.json` (through
//! jsonschema) give the same verdict as ente's validator on every card under
//! cards/. JSON Schema cannot state relations between fields; on exactly the
//! cards whose only faults are such relations it accepts, and nowhere else
//! may it differ.
//!
//! The Python side is installed by `just setup` into target/py; set
//! ENTE_PYTHON to use another interpreter that has kcl-lib and jsonschema.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ENTE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = support::repo("target/py/bin/python3");
    assert!(
        venv.exists(),
        "{} is missing: run `just setup` (or set ENTE_PYTHON)",
        venv.display()
    );
    venv
}

#[test]
fn kcl_and_json_schema_agree_with_the_rust_validator() {
    let mut files = support::json_files("cards");
    files.extend(support::json_files("cards/invalid"));
    files.extend(support::json_files("cards/invalid-graph"));
    let out = Command::new(python())
        .arg(support::repo("tests/support/schema_verdicts.py"))
        .args(&files)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "schema_verdicts.py failed: {}",
        support::text(&out.stderr)
    );
    let verdicts: Vec<Value> = support::text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("verdict line"))
        .collect();
    assert_eq!(verdicts.len(), files.len());

    let (mut accepted, mut refused) = (0, 0);
    for (file, v) in files.iter().zip(&verdicts) {
        let rust = ente_card::load(file);
        let shown = file.display();
        let kcl = v["kcl"].as_bool().expect("kcl verdict");
        let json_schema = v["json_schema"].as_bool().expect("json_schema verdict");
        assert_eq!(
            kcl,
            rust.is_ok(),
            "{shown}: KCL says {kcl} ({}); ente: {rust:?}",
            v["kcl_error"]
        );
        // JSON Schema sees parsed JSON (a duplicate key is already resolved)
        // and cannot relate fields; everywhere else it must agree.
        let json_schema_blind = match &rust {
            Ok(_) => false,
            Err(ente_card::CardError::Syntax { message, .. }) => message.contains("appears twice"),
            Err(e) => e.faults().iter().all(|f| !f.rule.json_schema_expressible()),
        };
        let expected = rust.is_ok() || json_schema_blind;
        assert_eq!(
            json_schema, expected,
            "{shown}: JSON Schema says {json_schema} ({})",
            v["json_schema_error"]
        );
        if rust.is_ok() {
            accepted += 1
        } else {
            refused += 1
        }
    }
    assert!(
        accepted >= 5 && refused >= 50,
        "corpus too small: {accepted} valid, {refused} invalid"
    );
}
