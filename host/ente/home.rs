//! Where ente keeps its state: `$ENTE_HOME`, else `/var/lib/ente` as PID 1,
//! else `$XDG_DATA_HOME/ente` or `~/.local/share/ente`; and where the files a
//! command is given are (a file, or every `*.json` under a folder).

use std::path::{Path, PathBuf};

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

/// A file as itself; a folder as every `*.json` below it, sorted.
pub fn json_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !std::fs::metadata(path)?.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            json_files(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "json") {
            out.push(entry);
        }
    }
    Ok(())
}
