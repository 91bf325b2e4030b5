//! `ente check`: the card grammar, and with `--graph` the static graph
//! checks; a rules file (an object whose one field is `rules`) by the
//! brain's grammar, every fault with its path.

mod store;

use ente_card::{Card, Graph, Payload};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Check every card under `paths`; exit 0 only when all are valid. With
/// `graph`, the components in the store of `home` are read too.
pub fn run(paths: &[PathBuf], graph: bool, home: &Path) -> ExitCode {
    let mut files = Vec::new();
    let mut bad = 0usize;
    // A path that cannot be read counts as a file refused.
    let mut unread = 0usize;
    for path in paths {
        if let Err(e) = crate::home::json_files(path, &mut files) {
            eprintln!("{}: cannot read: {e}", path.display());
            bad += 1;
            unread += 1;
        }
    }
    let mut rules_files = 0usize;
    for file in &files {
        if let Some(verdict) = rules_file(file) {
            rules_files += 1;
            match verdict {
                Ok(n) => println!("ok  {} (rules file, {n} rule{})", file.display(), plural(n)),
                Err(message) => {
                    eprintln!("{message}");
                    bad += 1;
                }
            }
            continue;
        }
        match check_file(file, graph, home) {
            Ok(card) => {
                let n = card.walk().count();
                println!(
                    "ok  {} (`{}`, {n} card{})",
                    file.display(),
                    card.label,
                    plural(n)
                );
            }
            Err(message) => {
                eprintln!("{message}");
                bad += 1;
            }
        }
    }
    let total = files.len() + unread;
    let cards = total - rules_files;
    let what = match (cards, rules_files) {
        (_, 0) => format!("card file{}", plural(total)),
        (0, _) => format!("rules file{}", plural(total)),
        _ => format!(
            "file{} ({cards} card{}, {rules_files} rules)",
            plural(total),
            plural(cards)
        ),
    };
    if bad == 0 {
        println!("{total} {what} valid");
        ExitCode::SUCCESS
    } else {
        eprintln!("{bad} of {total} {what} refused");
        ExitCode::FAILURE
    }
}

/// A rules file's verdict (how many rules, or every fault), or `None` when
/// the file is not one (a card, or not JSON: the card's check says so).
fn rules_file(file: &Path) -> Option<Result<usize, String>> {
    let meta = std::fs::metadata(file).ok()?;
    if meta.len() > crate::ctl::RULES_FILE_MAX as u64 {
        // Read no further: a card this large is refused by its own check.
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let object = value.as_object()?;
    if !object.contains_key("rules") || object.contains_key("id") {
        return None;
    }
    Some(
        ente_brain::RuleFile::from_value(&value)
            .map(|f| f.rules.len())
            .map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
                format!(
                    "{}: {} fault{} (the rules grammar, schema/rules.k):\n{}",
                    file.display(),
                    errors.len(),
                    plural(errors.len()),
                    lines.join("\n")
                )
            }),
    )
}

fn check_file(file: &Path, graph: bool, home: &Path) -> Result<Card, String> {
    let card = ente_card::load(file).map_err(|e| e.to_string())?;
    if graph {
        let g = Graph::new(&card);
        let mut faults: Vec<String> = g.check().iter().map(ToString::to_string).collect();
        faults.extend(host_limits(&g));
        faults.extend(store::check(&g, home));
        if !faults.is_empty() {
            let lines: Vec<String> = faults.iter().map(|f| format!("  {f}")).collect();
            return Err(format!(
                "{}: {} graph fault{}:\n{}",
                file.display(),
                faults.len(),
                plural(faults.len()),
                lines.join("\n")
            ));
        }
    }
    Ok(card)
}

/// What this host cannot give a card although its grammar allows it: a
/// Wasm Ente's memory over the size of a pool slot.
fn host_limits(g: &Graph<'_>) -> Vec<String> {
    g.nodes
        .iter()
        .filter(|n| matches!(n.card.payload, Payload::Wasm { .. }))
        .filter_map(|n| {
            let asked = n.card.soma.rlimits.mem_bytes?;
            ente_runtime::memory_limit(Some(asked)).err()?;
            let at = n.path.field("soma").field("rlimits").field("mem_bytes");
            Some(format!(
                "{at} = {asked}: {}",
                ente_runtime::MemoryOverCap::RULE
            ))
        })
        .collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
