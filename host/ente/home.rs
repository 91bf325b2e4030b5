//! Where ente keeps its state: `$ENTE_HOME`, else `/var/lib/ente` as PID 1,
//! else `$XDG_DATA_HOME/ente` or `~/.local/share/ente`.

use std::path::PathBuf;

pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("ENTE_HOME") {
        return PathBuf::from(h);
    }
    if std::process::id() == 1 {
        return PathBuf::from("/var/lib/ente");
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("ente");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/ente")
}
