//! The language kit, measured as a user meets it: whole `ente run
//! --invoke` processes for each language's echo against the Rust one (the
//! component already compiled and cached), and the time `ente run` takes
//! to refuse an 18 MB component with ungranted imports (read before it is
//! compiled; goal under 50 ms), against its first compile.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// (label, component under target/guests, endpoint)
const ECHOES: &[(&str, &str, &str)] = &[
    ("rust", "echo.wasm", "6563686f2d656e64706f696e742d7631@1"),
    ("c", "echo_c.wasm", "6563686f2d632d303030303030303031@1"),
    (
        "python",
        "echo_python.wasm",
        "6563686f2d707974686f6e2d30303031@1",
    ),
    (
        "javascript",
        "echo_js.wasm",
        "6563686f2d6a732d3030303030303031@1",
    ),
];

const RUNS: usize = 5;

/// One whole `ente run` process, in ms; whether it succeeded.
fn run_once(home: &Path, args: &[&str]) -> Result<(f64, bool), std::io::Error> {
    let t0 = Instant::now();
    let out = Command::new("target/release/ente")
        .args(args)
        .env("ENTE_HOME", home)
        .output()?;
    Ok((t0.elapsed().as_secs_f64() * 1e3, out.status.success()))
}

pub fn run(
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    let home = tempfile::tempdir()?;
    let mut rust_ms = None;
    for (label, file, endpoint) in ECHOES {
        let path = format!("target/guests/{file}");
        if !Path::new(&path).exists() {
            println!(
                "{:<26} (no {path}: run `just guests`)",
                format!("run_echo_{label}")
            );
            continue;
        }
        let args = [
            "run", &path, "--grant", "Journal", "--invoke", endpoint, "hello",
        ];
        let (first, ok) = run_once(home.path(), &args)?;
        if !ok {
            return Err(format!("ente run {path} failed").into());
        }
        let mut times = Vec::new();
        for _ in 0..RUNS {
            times.push(run_once(home.path(), &args)?.0);
        }
        let ms = super::median(times);
        let base = *rust_ms.get_or_insert(ms);
        println!(
            "{:<26} {ms:>10.1}ms {base:>10.1}ms {:>7.2}  (first run, compiling: {first:.0} ms)",
            format!("run_echo_{label}"),
            ms / base
        );
        results.insert(
            format!("run_echo_{label}"),
            serde_json::json!({"ms": (ms * 10.0).round() / 10.0, "rust_ms": (base * 10.0).round() / 10.0, "ratio": (ms / base * 1000.0).round() / 1000.0, "first_run_ms": first.round()}),
        );
    }
    let unpacked = "target/guests/echo_python.unpacked.wasm";
    if Path::new(unpacked).exists() {
        let bytes = std::fs::metadata(unpacked)?.len();
        let args = ["run", unpacked, "--grant", "Journal"];
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let (ms, ok) = run_once(home.path(), &args)?;
            if ok {
                return Err(format!("{unpacked} was not refused").into());
            }
            times.push(ms);
        }
        let ms = super::median(times);
        println!(
            "{:<26} {ms:>10.1}ms  (goal under 50 ms; a {:.1} MB component, whole process)",
            "refuse_ungranted_import",
            bytes as f64 / 1e6
        );
        results.insert(
            "refuse_ungranted_import".into(),
            serde_json::json!({"ms": (ms * 10.0).round() / 10.0, "goal_ms": 50, "component_bytes": bytes}),
        );
    }
    Ok(())
}
