//! `schema/rules.k` (through kcl-lib) and `schema/rules.schema.json`
//! (through jsonschema) give the same verdict as the brain's reader on
//! every rules file under cards/rules/ (valid, and one rule broken per file
//! under invalid/). JSON Schema cannot say that a name appears once: on
//! that file alone it accepts.
//!
//! The Python side is installed by `just setup` into target/py; set
//! ENTE_PYTHON to use another interpreter that has kcl-lib and jsonschema.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn json_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo(dir))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn kcl_and_json_schema_agree_with_the_brains_reader() {
    let python = std::env::var_os("ENTE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("target/py/bin/python3"));
    assert!(
        python.exists(),
        "{} is missing: run `just setup` (or set ENTE_PYTHON)",
        python.display()
    );
    let mut files = json_files("cards/rules");
    files.extend(json_files("cards/rules/invalid"));
    let out = Command::new(&python)
        .arg(repo("tests/support/schema_verdicts.py"))
        .arg("--rules")
        .args(&files)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schema_verdicts.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("verdict line"))
        .collect();
    assert_eq!(verdicts.len(), files.len());
    let (mut accepted, mut refused) = (0, 0);
    for (file, v) in files.iter().zip(&verdicts) {
        let text = std::fs::read_to_string(file).expect("read");
        let ours = ente_brain::RuleFile::parse(&text);
        let shown = file.display();
        let kcl = v["kcl"].as_bool().expect("kcl verdict");
        let json_schema = v["json_schema"].as_bool().expect("json_schema verdict");
        assert_eq!(
            kcl,
            ours.is_ok(),
            "{shown}: KCL says {kcl} ({}); ours: {ours:?}",
            v["kcl_error"]
        );
        let blind = file.ends_with("duplicate-name.json");
        assert_eq!(
            json_schema,
            ours.is_ok() || blind,
            "{shown}: JSON Schema says {json_schema} ({}); ours: {ours:?}",
            v["json_schema_error"]
        );
        if ours.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        accepted >= 1 && refused >= 7,
        "{accepted} accepted, {refused} refused"
    );
}
