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

/// Begin a session on `stream`: its marker (a fresh nonce, never UNREAD:
/// the answer is found by it) and the request. A request the host refuses
/// unread (a peer it does not serve) is answered before the write fails:
/// only a request too large for a frame is an error here.
fn begin(stream: &UnixStream, verb: Verb) -> Result<u64, ente_ctl::WireError> {
    let nonce = getrandom::u64().unwrap_or_else(|_| u64::from(std::process::id())) | 1;
    let mut session = ente_ctl::session_marker(nonce).to_vec();
    write_frame(
        &mut session,
        &Request {
            version: VERSION,
            verb,
        },
    )?;
    let _ = std::io::Write::write_all(&mut &*stream, &session);
    Ok(nonce)
}

/// One request's whole answer (for a question that ends), or why none.
pub fn fetch(socket: &Path, verb: Verb) -> Result<Vec<Reply>, String> {
    let stream = UnixStream::connect(socket)
        .map_err(|e| format!("no host answers at {} ({e})", socket.display()))?;
    let nonce = begin(&stream, verb).map_err(|e| e.to_string())?;
    let mut stream = std::io::BufReader::new(&stream);
    ente_ctl::await_session(&mut stream, nonce).map_err(|e| e.to_string())?;
    let mut replies = Vec::new();
    loop {
        match read_frame::<Reply>(&mut stream) {
            Ok(Reply::End) | Err(ente_ctl::WireError::Closed) => return Ok(replies),
            Ok(r) => replies.push(r),
            Err(e) => return Err(e.to_string()),
        }
    }
}

pub fn run(socket: &Path, verb: Verb, shown: Shown) -> ExitCode {
    let stream = match UnixStream::connect(socket) {
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
    let nonce = match begin(&stream, verb) {
        Ok(nonce) => nonce,
        Err(ente_ctl::WireError::TooLarge { len }) => {
            eprintln!("ente ctl: the request is {len} bytes, more than a frame may hold");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("ente ctl: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stream = std::io::BufReader::new(&stream);
    // What comes before this session's marker is dropped: the tail of an
    // earlier answer that a control port still held.
    match ente_ctl::await_session(&mut stream, nonce) {
        Ok(_) => {}
        Err(ente_ctl::WireError::Closed) => {
            eprintln!(
                "ente ctl: the host at {} closed the connection without an answer",
                socket.display()
            );
            return ExitCode::from(NO_HOST);
        }
        Err(e) => {
            eprintln!("ente ctl: {}: {e}", socket.display());
            return ExitCode::from(NO_HOST);
        }
    }
    let mut code = ExitCode::SUCCESS;
    let mut rows = Vec::new();
    let mut answered = false;
    let mut refused = false;
    loop {
        let reply: Reply = match read_frame(&mut stream) {
            Ok(r) => r,
            Err(ente_ctl::WireError::Closed) if !answered => {
                eprintln!(
                    "ente ctl: the host at {} closed the connection without an answer",
                    socket.display()
                );
                return ExitCode::from(NO_HOST);
            }
            // After a refusal the host closes; otherwise it went away
            // mid-answer (it stopped).
            Err(ente_ctl::WireError::Closed) if refused => return code,
            Err(ente_ctl::WireError::Closed) => {
                eprintln!("ente ctl: the host closed the connection before its answer ended");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("ente ctl: {e}");
                return ExitCode::FAILURE;
            }
        };
        answered = true;
        match reply {
            Reply::End => {
                if !rows.is_empty() {
                    show_rows(&rows, shown);
                }
                return code;
            }
            Reply::Status(mut some) => rows.append(&mut some),
            Reply::Event(e) => print_event(&e, shown.json),
            Reply::Missed(n) if shown.json => println!("{{\"missed\":{n}}}"),
            Reply::Missed(n) => println!("({n} events missed: this reader fell behind)"),
            Reply::Done(what) if shown.json => {
                println!("{}", serde_json::json!({"done": what}));
            }
            Reply::Done(what) => println!("done: {what}"),
            Reply::Metrics(text) => print!("{text}"),
            Reply::Crystals(list) => print_crystals(&list, shown.json),
            Reply::Rules(json) => print_rules(&json, shown.json),
            Reply::Refused(why) => {
                eprintln!("ente ctl: refused: {why}");
                code = ExitCode::FAILURE;
                refused = true;
            }
        }
    }
}

fn show_rows(rows: &[EnteRow], shown: Shown) {
    if shown.json {
        for r in rows {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
    } else if shown.tree {
        print_tree(rows);
    } else {
        print_status(rows);
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
        if r.served + r.failed > 0 {
            println!(
                "  calls:     {} served, {} failed, {} µs each on average",
                r.served, r.failed, r.call_mean_us
            );
        } else {
            println!("  calls:     none yet");
        }
        if let Some(level) = &r.journal_floor {
            println!(
                "  journal:   {level} and above kept (`ente ctl log-level {} trace` keeps all)",
                r.label
            );
        }
        println!("  cpu:       {} ms", r.cpu_ms);
        println!("  memory:    {} KiB", r.mem_bytes / 1024);
        if r.leases.is_empty() {
            println!("  leases:    none held");
        }
        for (i, l) in r.leases.iter().enumerate() {
            println!(
                "  {}{l}",
                if i == 0 { "leases:    " } else { "           " }
            );
        }
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

fn print_crystals(list: &[ente_ctl::CrystalRow], json: bool) {
    if json {
        for c in list {
            println!(
                "{}",
                serde_json::json!({
                    "a": c.a, "b": c.b, "support": c.support, "p_b_given_a": c.p_b_given_a,
                    "pmi": c.pmi, "gaps": c.gaps, "gap_mean_ms": c.gap_mean_ms,
                    "gap_stddev_ms": c.gap_stddev_ms, "gap_max_ms": c.gap_max_ms,
                })
            );
        }
        return;
    }
    if list.is_empty() {
        println!("no crystal passes these thresholds");
        return;
    }
    println!(
        "{:<28}  {:<28}  {:>8}  {:>6}  {:>6}  {:>5}  GAP (mean ± σ, max)",
        "A", "B", "SUPPORT", "P(B|A)", "PMI", "GAPS"
    );
    for c in list {
        println!(
            "{:<28}  {:<28}  {:>8.1}  {:>6.2}  {:>6.2}  {:>5}  {:.0} ± {:.0} ms, {} ms",
            c.a,
            c.b,
            c.support,
            c.p_b_given_a,
            c.pmi,
            c.gaps,
            c.gap_mean_ms,
            c.gap_stddev_ms,
            c.gap_max_ms
        );
    }
}

fn print_rules(json: &str, as_json: bool) {
    let value: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(_) => {
            println!("{json}");
            return;
        }
    };
    if as_json {
        println!("{value}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| json.to_owned())
        );
    }
}
