//! `diary`: a `std` Ente that holds FilesystemRoot. It keeps a diary in its
//! one directory (`/` to it), appending a line at each start, and tries to
//! leave that directory, which must fail: its start is refused if it can.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/service" });

use exports::ente::core::lifecycle::Guest as Lifecycle;
use std::io::Write;

struct Diary;

impl Lifecycle for Diary {
    fn start() -> Result<(), String> {
        let mut diary = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open("/diary.txt")
            .map_err(|e| format!("open /diary.txt: {e}"))?;
        writeln!(diary, "dear diary").map_err(|e| format!("write /diary.txt: {e}"))?;
        let kept = std::fs::read_to_string("/diary.txt").map_err(|e| format!("read back: {e}"))?;
        println!("diary holds {} line(s)", kept.lines().count());
        for outside in ["/../escaped.txt", "../escaped.txt", "/../../etc/hostname"] {
            if std::fs::write(outside, b"out").is_ok() || std::fs::read(outside).is_ok() {
                return Err(format!("reached `{outside}`, outside its directory"));
            }
        }
        println!("nothing outside its directory was reachable");
        Ok(())
    }

    fn stop() {}
}

export!(Diary);
