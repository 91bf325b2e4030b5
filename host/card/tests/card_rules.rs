//! Every rule of the card grammar refuses a card that breaks it, and the
//! refusal names the field (its JSON path) and the rule.

mod support;

use support::{name, repo};

/// (file under cards/invalid, JSON path of the fault, rule code). Each card
/// breaks one rule; a card whose fix needs two faults lists both.
const CASES: &[(&str, &str, &str)] = &[
    ("argv-nul", "payload.argv[0]", "nul"),
    ("capability-kind-unknown", "requires[0].kind", "one-of"),
    ("card-unknown-field", "colour", "unknown-field"),
    ("cgroup-path-absolute", "soma.cgroup.path", "cgroup-path"),
    ("cgroup-path-escapes", "soma.cgroup.path", "cgroup-path"),
    ("child-lineage-mismatch", "genesis[0].lineage", "lineage"),
    ("child-lineage-missing", "genesis[0].lineage", "lineage"),
    (
        "child-nproc-too-large",
        "genesis[0].soma.rlimits.nproc",
        "range",
    ),
    ("cpu-affinity-1024", "soma.cpu_affinity[1]", "range"),
    ("cpu-affinity-negative", "soma.cpu_affinity[0]", "range"),
    ("cpu-weight-zero", "soma.cgroup.cpu_weight", "range"),
    (
        "device-class-missing",
        "requires[0].device_class",
        "required",
    ),
    (
        "endpoint-interface-short",
        "requires[1].endpoint_interface",
        "interface-hex",
    ),
    (
        "endpoint-interface-uppercase",
        "requires[1].endpoint_interface",
        "interface-hex",
    ),
    (
        "endpoint-version-missing",
        "requires[1].endpoint_version",
        "required",
    ),
    (
        "endpoint-version-negative",
        "requires[1].endpoint_version",
        "range",
    ),
    (
        "energy-budget-zero",
        "soma.rlimits.energy_budget_mw",
        "range",
    ),
    (
        "envp-name-with-equals",
        "payload.envp[0][\"A=B\"]",
        "env-name",
    ),
    ("envp-twice", "payload.envp[1].A", "env-twice"),
    ("genesis-not-array", "genesis", "type"),
    ("id-lowercase", "id", "ulid"),
    ("id-missing", "id", "required"),
    ("id-not-crockford", "id", "ulid"),
    ("id-null", "id", "required"),
    ("id-overflow", "id", "ulid"),
    ("id-too-short", "id", "ulid"),
    ("io-weight-too-large", "soma.cgroup.io_weight", "range"),
    (
        "journal-with-device-class",
        "requires[0].device_class",
        "not-for-kind",
    ),
    ("label-empty", "label", "empty"),
    ("label-not-a-string", "label", "type"),
    ("legacy-exec-missing", "payload.exec", "required"),
    ("legacy-fake-unknown", "payload.fakes[0]", "one-of"),
    ("lineage-not-ulid", "lineage", "ulid"),
    ("mem-bytes-over-1tib", "soma.rlimits.mem_bytes", "range"),
    ("mem-bytes-zero", "soma.rlimits.mem_bytes", "range"),
    (
        "module-blake3-sha256-field",
        "payload.module_sha256",
        "unknown-field",
    ),
    (
        "module-blake3-sha256-field",
        "payload.module_blake3",
        "required",
    ),
    ("module-blake3-short", "payload.module_blake3", "blake3-hex"),
    ("namespace-not-bool", "soma.namespaces.pid", "type"),
    ("native-exec-empty", "payload.exec", "empty"),
    ("native-exec-missing", "payload.exec", "required"),
    ("native-exec-relative", "payload.exec", "absolute-path"),
    (
        "netlink-family-missing",
        "requires[0].netlink_family",
        "required",
    ),
    (
        "netlink-family-unknown",
        "requires[0].netlink_family",
        "one-of",
    ),
    ("nofile-too-large", "soma.rlimits.nofile", "range"),
    (
        "oneshot-with-backoff",
        "supervision.initial_ms",
        "not-for-kind",
    ),
    ("payload-kind-unknown", "payload.kind", "one-of"),
    ("payload-missing", "payload", "required"),
    (
        "restart-initial-negative",
        "supervision.initial_ms",
        "range",
    ),
    (
        "restart-max-below-initial",
        "supervision.max_ms",
        "max-below-initial",
    ),
    ("restart-max-missing", "supervision.max_ms", "required"),
    (
        "rlimits-unknown-field",
        "soma.rlimits.nprocs",
        "unknown-field",
    ),
    ("schema-version-2", "schema_version", "schema-version"),
    ("schema-version-float", "schema_version", "type"),
    ("self-dependency", "requires[0]", "self-dependency"),
    ("supervision-kind-unknown", "supervision.kind", "one-of"),
    ("wasm-entry-missing", "payload.entry", "required"),
    ("wasm-with-exec", "payload.exec", "not-for-kind"),
];

/// Cards refused before the grammar: not JSON, or ambiguous JSON.
const SYNTAX: &[(&str, &str)] = &[
    ("duplicate-key", "key `label` appears twice"),
    ("not-json", "trailing comma"),
];

#[test]
fn each_invalid_card_is_refused_with_exactly_its_faults() {
    for file in support::json_files("cards/invalid") {
        let stem = name(&file).trim_end_matches(".json").to_owned();
        let err = ente_card::load(&file).expect_err(&format!("{stem} must be refused"));
        let message = err.to_string();
        assert!(
            message.starts_with(&file.display().to_string()),
            "{stem}: names the file: {message}"
        );
        if let Some((_, words)) = SYNTAX.iter().find(|(s, _)| *s == stem) {
            assert!(message.contains(words), "{stem}: {message}");
            assert!(err.faults().is_empty());
            continue;
        }
        let expected: Vec<(&str, &str)> = CASES
            .iter()
            .filter(|(s, _, _)| *s == stem)
            .map(|(_, p, r)| (*p, *r))
            .collect();
        assert!(
            !expected.is_empty(),
            "{stem}: add it to CASES in {}",
            file!()
        );
        let got: Vec<(String, &str)> = err
            .faults()
            .iter()
            .map(|f| (f.path.to_string(), f.rule.code()))
            .collect();
        let got_ref: Vec<(&str, &str)> = got.iter().map(|(p, r)| (p.as_str(), *r)).collect();
        assert_eq!(got_ref, expected, "{stem}: {message}");
        for fault in err.faults() {
            let line = fault.to_string();
            assert!(message.contains(&line), "{stem}: the message lists {line}");
            assert!(
                line.starts_with(&fault.path.to_string()),
                "{stem}: names the field: {line}"
            );
            assert!(
                line.contains(&fault.rule.to_string()),
                "{stem}: says the rule: {line}"
            );
        }
    }
}

#[test]
fn every_case_in_the_table_has_its_card() {
    let stems = CASES
        .iter()
        .map(|(s, _, _)| s)
        .chain(SYNTAX.iter().map(|(s, _)| s));
    for stem in stems {
        assert!(
            repo(&format!("cards/invalid/{stem}.json")).exists(),
            "{stem} has no card"
        );
    }
}

#[test]
fn a_refusal_shows_the_offending_value() {
    let err =
        ente_card::load(&repo("cards/invalid/child-nproc-too-large.json")).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("genesis[0].soma.rlimits.nproc = 70000: must be 1..=65535"),
        "{text}"
    );
}

#[test]
fn all_faults_of_a_card_are_reported_at_once() {
    let card = serde_json::json!({
        "id": "not-a-ulid",
        "label": "",
        "soma": {"rlimits": {"nproc": 0, "nofile": -1}, "cpu_affinity": [5000]},
        "payload": {"kind": "Wasm", "module_blake3": "xyz"},
        "supervision": {"kind": "Restart", "initial_ms": 9, "max_ms": 1},
        "genesis": [{"id": "01J0000000000000000000000Z", "label": "kid"}]
    });
    let faults = ente_card::from_value(&card).expect_err("refused");
    let got: Vec<String> = faults
        .iter()
        .map(|f| format!("{} {}", f.path, f.rule.code()))
        .collect();
    for want in [
        "id ulid",
        "label empty",
        "soma.rlimits.nproc range",
        "soma.rlimits.nofile range",
        "soma.cpu_affinity[0] range",
        "payload.module_blake3 blake3-hex",
        "payload.entry required",
        "supervision.max_ms max-below-initial",
        "genesis[0].soma required",
        "genesis[0].payload required",
        "genesis[0].supervision required",
    ] {
        assert!(
            got.iter().any(|g| g == want),
            "missing `{want}` in {got:#?}"
        );
    }
}

#[test]
fn a_card_too_large_is_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("huge.json");
    let size = usize::try_from(ente_card::MAX_CARD_BYTES).expect("fits") + 1;
    std::fs::write(&file, vec![b' '; size]).expect("write");
    let err = ente_card::load(&file).expect_err("refused");
    assert!(
        matches!(err, ente_card::CardError::TooLarge { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("huge.json"), "{err}");
}
