//! The `ente ctl` command: one request to the host's control socket, its
//! replies printed for a person or (`--json`) one JSON object per line.
//!
//! Exit codes: 0 done; 1 the host refused (a name not found, the
//! authority's refusal, a bad frame); 3 no host answers at the socket.
//! (clap's 2 is a usage error.)

use ente_ctl::{EnteRow, EventLine, Reply, Request, VERSION, Verb, read_frame, write_frame};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;

/// No host at the socket.
const NO_HOST: u8 = 3;

/// What to print and how.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    pub json: bool,
    pub tree: bool,
}

pub fn run(socket: &Path, verb: Verb, shown: Shown) -> ExitCode {
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!(
                "ente ctl: refused: {} is not yours ({e}): only the host's user and root may use it",
                socket.display()
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!(
                "ente ctl: no host answers at {} ({e}): start one with `ente up`, or name its socket with --socket",
                socket.display()
            );
            return ExitCode::from(NO_HOST);
        }
    };
    if let Err(e) = write_frame(
        &mut stream,
        &Request {
            version: VERSION,
            verb,
        },
    ) {
        eprintln!("ente ctl: {e}");
        return ExitCode::from(NO_HOST);
    }
    let mut code = ExitCode::SUCCESS;
    loop {
        let reply: Reply = match read_frame(&mut stream) {
            Ok(r) => r,
            // A host that went away mid-stream (it stopped).
            Err(ente_ctl::WireError::Closed) => return code,
            Err(e) => {
                eprintln!("ente ctl: {e}");
                return ExitCode::FAILURE;
            }
        };
        match reply {
            Reply::End => return code,
            Reply::Status(rows) if shown.json => {
                for r in &rows {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                }
            }
            Reply::Status(rows) if shown.tree => print_tree(&rows),
            Reply::Status(rows) => print_status(&rows),
            Reply::Event(e) => print_event(&e, shown.json),
            Reply::Missed(n) if shown.json => println!("{{\"missed\":{n}}}"),
            Reply::Missed(n) => println!("({n} events missed: this reader fell behind)"),
            Reply::Done(what) if shown.json => {
                println!("{}", serde_json::json!({"done": what}));
            }
            Reply::Done(what) => println!("done: {what}"),
            Reply::Refused(why) => {
                eprintln!("ente ctl: refused: {why}");
                code = ExitCode::FAILURE;
            }
        }
    }
}

fn print_status(rows: &[EnteRow]) {
    if let [r] = rows {
        println!("{} ({})", r.label, r.id);
        println!("  state:     {}", r.state);
        println!(
            "  kind:      {}{}",
            r.kind,
            if r.spawned {
                ", spawned at run time"
            } else {
                ""
            }
        );
        println!(
            "  parent:    {}",
            r.parent.as_deref().unwrap_or("(the seed)")
        );
        println!("  restarts:  {} (failures {})", r.restarts, r.failures);
        println!("  calls:     {} served, {} failed", r.served, r.failed);
        println!("  cpu:       {} ms", r.cpu_ms);
        return;
    }
    println!(
        "{:<26}  {:<16}  {:<8}  {:>8}  {:>6}  {:>8}  STATE",
        "ID", "LABEL", "KIND", "SERVED", "FAILED", "RESTARTS"
    );
    for r in rows {
        println!(
            "{:<26}  {:<16}  {:<8}  {:>8}  {:>6}  {:>8}  {}",
            r.id, r.label, r.kind, r.served, r.failed, r.restarts, r.state
        );
    }
}

fn print_tree(rows: &[EnteRow]) {
    fn walk(rows: &[EnteRow], parent: Option<&str>, depth: usize) {
        for r in rows.iter().filter(|r| r.parent.as_deref() == parent) {
            println!("{}{} ({}): {}", "  ".repeat(depth), r.label, r.id, r.state);
            walk(rows, Some(&r.id), depth + 1);
        }
    }
    walk(rows, None, 0);
}

fn print_event(e: &EventLine, json: bool) {
    if json {
        println!("{}", serde_json::to_string(e).unwrap_or_default());
    } else if e.kind == "journal" {
        println!(
            "{:>8}  [{}] {}",
            e.seq,
            e.label.as_deref().unwrap_or(""),
            e.text
        );
    } else {
        println!("{:>8}  {}", e.seq, e.text);
    }
}
