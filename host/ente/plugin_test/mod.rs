//! `ente test`: a harness for plugins, in the manner of spin-test and
//! Fuchsia's RealmBuilder. Each test file names a plugin, its grants, mocks
//! for the providers it calls and the steps to take; each file runs in a
//! host of its own (its own runtime, bus, timers, journal and a temporary
//! state directory), against the real linker, limits and deadlines. A line
//! per step; the exit code says whether every step passed.

mod junit;
mod mocks;
mod session;
mod setup;
pub mod spec;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What one step came to.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub name: String,
    /// What happened (passed), or why it failed.
    pub outcome: Result<String, String>,
    pub took: Duration,
}

/// What one test file came to.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    pub name: String,
    pub steps: Vec<StepReport>,
    pub took: Duration,
}

impl FileReport {
    pub fn failures(&self) -> usize {
        self.steps.iter().filter(|s| s.outcome.is_err()).count()
    }
}

/// Run every test file under `paths` (a folder: each `*.json` in it);
/// write JUnit XML to `junit` when asked.
pub fn run(home: &Path, paths: &[PathBuf], junit: Option<&Path>) -> ExitCode {
    let mut files = Vec::new();
    for path in paths {
        if let Err(e) = crate::home::json_files(path, &mut files) {
            eprintln!("ente test: {}: cannot read: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if files.is_empty() {
        eprintln!("ente test: no test files under {paths:?}");
        return ExitCode::from(2);
    }
    let mut reports = Vec::new();
    for file in &files {
        let report = run_file(home, file);
        print(&report);
        reports.push(report);
    }
    let failed = reports.iter().filter(|r| r.failures() > 0).count();
    println!(
        "{} test file{}: {} passed, {failed} failed",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        reports.len() - failed
    );
    if let Some(out) = junit
        && let Err(e) = junit::write(out, &reports)
    {
        eprintln!("ente test: --junit {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Run one test file.
pub fn run_file(home: &Path, file: &Path) -> FileReport {
    let t0 = Instant::now();
    let spec = match spec::load(file) {
        Ok(s) => s,
        Err(e) => {
            return FileReport {
                path: file.to_owned(),
                name: file.display().to_string(),
                steps: vec![StepReport {
                    name: "load".into(),
                    outcome: Err(e.to_string()),
                    took: t0.elapsed(),
                }],
                took: t0.elapsed(),
            };
        }
    };
    let steps = session::run(home, &spec);
    FileReport {
        path: file.to_owned(),
        name: spec.name,
        steps,
        took: t0.elapsed(),
    }
}

fn print(report: &FileReport) {
    println!("{} (`{}`)", report.path.display(), report.name);
    for (i, step) in report.steps.iter().enumerate() {
        let ms = step.took.as_secs_f64() * 1e3;
        match &step.outcome {
            Ok(what) => println!("  ok    {i} {}: {what} ({ms:.1} ms)", step.name),
            Err(why) => println!("  FAIL  {i} {}: {why} ({ms:.1} ms)", step.name),
        }
    }
    let failures = report.failures();
    if failures == 0 {
        let n = report.steps.len();
        println!(
            "ok {}: {n} step{} passed",
            report.path.display(),
            if n == 1 { "" } else { "s" }
        );
    } else {
        println!(
            "FAIL {}: {failures} of {} steps failed",
            report.path.display(),
            report.steps.len()
        );
    }
}
