//! The kernel side of the image: vmlinux out of Debian's bzImage, and the
//! modules the appliance needs with an index of just those.

use ente_kernel::modules::{ModuleIndex, module_name};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Compressed payloads a bzImage may carry: (magic, decompressor).
const PAYLOADS: &[(&[u8], &str, &[&str])] = &[
    (b"\xfd7zXZ\x00", "xz", &["-dc"]),
    (b"\x28\xb5\x2f\xfd", "zstd", &["-dc"]),
    (b"\x1f\x8b\x08", "gzip", &["-dc"]),
];

/// Extract the uncompressed ELF kernel from `bzimage`.
pub fn extract_vmlinux(bzimage: &Path, out: &Path) -> Result<(), String> {
    let image = std::fs::read(bzimage).map_err(|e| format!("{}: {e}", bzimage.display()))?;
    for (magic, tool, args) in PAYLOADS {
        let mut from = 0;
        while let Some(at) = find(&image[from..], magic).map(|i| i + from) {
            from = at + 1;
            let Ok(mut child) = Command::new(tool)
                .args(*args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
            else {
                break;
            };
            let payload = image[at..].to_vec();
            let mut stdin = child.stdin.take().ok_or("no stdin")?;
            let feeder = std::thread::spawn(move || {
                let _ = stdin.write_all(&payload);
            });
            let output = child
                .wait_with_output()
                .map_err(|e| format!("{tool}: {e}"))?;
            let _ = feeder.join();
            // Trailing data after the payload makes the tool complain; the
            // output is what counts.
            if output.stdout.starts_with(b"\x7fELF") {
                std::fs::write(out, &output.stdout)
                    .map_err(|e| format!("{}: {e}", out.display()))?;
                return Ok(());
            }
        }
    }
    Err(format!(
        "{}: no xz, zstd or gzip payload that decompresses to an ELF kernel",
        bzimage.display()
    ))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Copy `wanted` modules and their dependencies from `kdir`
/// (/lib/modules/<release>) into `stage`/lib/modules/<release>, with a
/// `modules.alias` and `modules.dep` that name only what was copied.
pub fn copy_modules(kdir: &Path, stage: &Path, wanted: &[String]) -> Result<Vec<String>, String> {
    let index = ModuleIndex::open(kdir).map_err(|e| e.to_string())?;
    let mut all = BTreeSet::new();
    for m in wanted {
        for dep in index.load_order(m).map_err(|e| e.to_string())? {
            all.insert(dep);
        }
    }
    let release = kdir.file_name().ok_or("no release in the module path")?;
    let dest = stage.join("lib/modules").join(release);
    let dep_text = std::fs::read_to_string(kdir.join("modules.dep")).map_err(|e| e.to_string())?;
    let mut dep_out = String::new();
    for line in dep_text.lines() {
        let Some((path, _)) = line.split_once(':') else {
            continue;
        };
        if !all.contains(&module_name(path)) {
            continue;
        }
        let target: PathBuf = dest.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::copy(kdir.join(path), &target).map_err(|e| format!("{path}: {e}"))?;
        dep_out.push_str(line);
        dep_out.push('\n');
    }
    let alias_text =
        std::fs::read_to_string(kdir.join("modules.alias")).map_err(|e| e.to_string())?;
    let alias_out: String = alias_text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(2)
                .is_some_and(|m| all.contains(&m.replace('-', "_")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dest.join("modules.dep"), dep_out).map_err(|e| e.to_string())?;
    std::fs::write(dest.join("modules.alias"), alias_out).map_err(|e| e.to_string())?;
    Ok(all.into_iter().collect())
}
