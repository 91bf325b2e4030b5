//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path below the repository root.
pub fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

/// Every `*.json` file directly in `dir` (relative to the root), sorted.
pub fn json_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Run the `ente` binary built for these tests.
pub fn ente(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ente"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run ente")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A guest component built by `just guests`.
pub fn guest(name: &str) -> PathBuf {
    let path = repo(&format!("target/guests/{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `just guests`",
        path.display()
    );
    path
}

/// The echo endpoint the example guests use.
pub const ECHO: &str = "6563686f2d656e64706f696e742d7631@1";

/// Run `ente` with its store in `home`.
pub fn ente_in(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ente"))
        .args(args)
        .env("ENTE_HOME", home)
        .current_dir(root())
        .output()
        .expect("run ente")
}

/// A running `ente up`, its stdout read line by line.
pub struct Up {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Up {
    /// Start `ente up SEED` with its store in `home` (every guest added first).
    pub fn start(home: &Path, seed: &Path) -> Up {
        Up::start_with(home, seed, &[])
    }

    /// [`Up::start`] with more arguments to `ente up`.
    pub fn start_with(home: &Path, seed: &Path, args: &[&str]) -> Up {
        let cas = ente_runtime::Cas::new(home);
        for entry in std::fs::read_dir(repo("target/guests")).expect("guests") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "wasm") {
                cas.add_file(&path).expect("add guest");
            }
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_ente"))
            .arg("up")
            .arg(seed)
            .args(args)
            .env("ENTE_HOME", home)
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawn ente up");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Up {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait (up to 60 s) for a line containing `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        self.wait_after(0, needle)
    }

    /// How many lines were seen so far: a mark for [`Up::wait_after`].
    pub fn mark(&self) -> usize {
        self.seen.len()
    }

    /// [`Up::wait_for`], among the lines from the `mark`-th on.
    pub fn wait_after(&mut self, mark: usize, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        if let Some(l) = self.seen.iter().skip(mark).find(|l| l.contains(needle)) {
            return l.clone();
        }
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!(
            "`{needle}` never appeared; ente up printed:\n{}",
            self.seen.join("\n")
        );
    }

    /// Send SIGTERM and wait for the exit; returns (exit code, every line).
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        self.signal_term();
        let status = self.child.wait().expect("wait");
        while let Ok(line) = self.lines.recv_timeout(std::time::Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code(), std::mem::take(&mut self.seen))
    }
}

impl Up {
    pub fn signal_term(&self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        nix::sys::signal::kill(pid, signal).expect("kill");
    }

    /// Wait (up to `limit`) for the process to end.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A card JSON for a Wasm Ente of a built guest.
pub fn wasm_card(
    id: &str,
    lineage: &str,
    label: &str,
    guest_name: &str,
    provides: serde_json::Value,
    requires: serde_json::Value,
    envp: serde_json::Value,
) -> serde_json::Value {
    let digest = ente_runtime::digest_of(&std::fs::read(guest(guest_name)).expect("read guest"));
    serde_json::json!({
        "id": id, "lineage": lineage, "label": label,
        "provides": provides, "requires": requires, "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": digest.to_string(), "entry": "ente:core/lifecycle", "envp": envp},
        "supervision": {"kind": "OneShot"}
    })
}

/// A seed: a Virtual root providing Journal, with these children and the mediator.
pub fn seed_with(root_id: &str, mut children: Vec<serde_json::Value>) -> serde_json::Value {
    let mediator = {
        let mut m = wasm_card(
            "01J00000000000000000000MED",
            root_id,
            "mediator",
            "mediator",
            serde_json::json!([{"kind": "Endpoint", "endpoint_interface": "656e74652d6d65646961746f722d7631", "endpoint_version": 1}]),
            serde_json::json!([{"kind": "Journal"}]),
            serde_json::json!([]),
        );
        m["payload"]["entry"] = serde_json::json!("ente:core/mediator");
        m
    };
    children.insert(0, mediator);
    serde_json::json!({
        "id": root_id, "label": "test-seed",
        "provides": [{"kind": "Journal"}, {"kind": "Endpoint", "endpoint_interface": "656e74652d6d65646961746f722d7631", "endpoint_version": 1}],
        "soma": {},
        "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"}, "genesis": children
    })
}
