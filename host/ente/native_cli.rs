//! `ente call` and `ente serve`: the native bus from a shell script. A
//! native Ente's program finds ente itself in `$ENTE` and the bus in
//! `$ENTE_BUS`; the host knows which Ente calls from the process, never
//! from anything the command says.

use ente_client::{Client, ClientError};
use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};

/// `ente call IFACE@VERSION BODY`: the reply on stdout. `-` as BODY reads
/// the body from stdin.
pub fn call(endpoint: &str, body: &str) -> ExitCode {
    let target = match crate::run::parse_endpoint(endpoint) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ente call: {e}");
            return ExitCode::from(2);
        }
    };
    let body = if body == "-" {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
            eprintln!("ente call: cannot read the body from stdin: {e}");
            return ExitCode::FAILURE;
        }
        buf
    } else {
        body.as_bytes().to_vec()
    };
    let reply =
        Client::connect().and_then(|mut c| c.call(&target.interface, target.version, &body));
    match reply {
        Ok(bytes) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&bytes).and_then(|()| out.flush());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ente call {endpoint}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `ente serve [--ready] -- CMD ARGS...`: answer each call to this Ente's
/// endpoints by running CMD with the body on stdin, the caller's id in
/// `ENTE_CALLER` and the endpoint in `ENTE_ENDPOINT`; its stdout is the
/// reply, or (when it fails) its stderr the error. `--ready` writes the
/// readiness line to `$ENTE_READY_FD` once the host takes the connection.
pub fn serve(ready: bool, command: &[String]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("ente serve: give the command that answers, after --");
        return ExitCode::from(2);
    };
    let client = match Client::connect() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ente serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let said_ready = || {
        if ready {
            say_ready();
        }
    };
    let served = client.serve(said_ready, |request| {
        let mut child = Command::new(program)
            .args(args)
            .env("ENTE_CALLER", &request.from)
            .env(
                "ENTE_ENDPOINT",
                format!("{}@{}", request.interface, request.version),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&request.body);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!(
                "{program} {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ ClientError::Refused(_)) | Err(e) => {
            eprintln!("ente serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A line on the readiness fd the host gave (`ENTE_READY_FD`), if any.
fn say_ready() {
    let Some(fd) = std::env::var("ENTE_READY_FD")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    // SAFETY: writes one byte from a static buffer to the fd the host said
    // is the readiness pipe; a wrong fd fails with EBADF and nothing else.
    unsafe { libc::write(fd, b"\n".as_ptr().cast(), 1) };
}

/// `ente notify VAR=VALUE...`: sd_notify variables for this process's
/// Legacy Ente (`READY=1`, `WATCHDOG=1`, `STATUS=...`), as `systemd-notify`
/// sends them; over the native bus, which knows the sender.
pub fn notify(vars: &[String]) -> ExitCode {
    if let Some(bad) = vars.iter().find(|v| !v.contains('=') || v.contains('\n')) {
        eprintln!("ente notify: `{bad}` is not one VAR=VALUE line");
        return ExitCode::from(2);
    }
    match Client::connect().and_then(|mut c| c.notify(vars)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ente notify: {e}");
            ExitCode::FAILURE
        }
    }
}
