//! The device surface of PID 1: uevents, modules on MODALIAS (coldplug and
//! hotplug), block devices, and the power button.

use super::{alarm, say};
use ente_kernel::coldplug;
use ente_kernel::input::{self, POWER_BUTTON};
use ente_kernel::modules::ModuleIndex;
use ente_kernel::uevent::{Received, Uevent, UeventSocket};
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tokio::io::unix::AsyncFd;

/// Rounds of draining at coldplug: each module load can add devices whose
/// modules load in the next round (virtio_mmio -> virtio0 -> virtio_blk).
const COLDPLUG_ROUNDS: usize = 8;

#[derive(Debug)]
enum Index {
    Unread,
    Read(ModuleIndex),
    /// Said once on the console; no module is loaded.
    Absent,
}

#[derive(Debug)]
pub struct Devices {
    socket: Option<UeventSocket>,
    modules: Index,
    power_button: Option<PathBuf>,
    /// Uevents seen, for the record.
    pub seen: u64,
    /// Kernel uevents not yet handed to the graph.
    published: Vec<Uevent>,
}

impl Devices {
    /// Open the uevent socket, so that no device is missed from here on. The
    /// module index is read when the first module is wanted, after boot.
    pub fn start() -> Devices {
        let socket = match UeventSocket::open() {
            Ok(s) => Some(s),
            Err(e) => {
                alarm!("uevents unavailable: {e}");
                None
            }
        };
        Devices {
            socket,
            modules: Index::Unread,
            power_button: None,
            seen: 0,
            published: Vec::new(),
        }
    }

    /// The module index of the running kernel, read on first use.
    fn index(&mut self) -> Option<&mut ModuleIndex> {
        if let Index::Unread = self.modules {
            let release = nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = Path::new("/lib/modules").join(&release);
            self.modules = match ModuleIndex::open(&dir) {
                Ok(m) => Index::Read(m),
                Err(e) => {
                    alarm!("no module index for kernel {release}: {e}");
                    Index::Absent
                }
            };
        }
        match &mut self.modules {
            Index::Read(m) => Some(m),
            Index::Unread | Index::Absent => None,
        }
    }

    /// The socket, handed to the event loop once coldplug is done.
    pub fn socket(&mut self) -> Option<UeventSocket> {
        self.socket.take()
    }

    /// Load the modules of every device already present, then of every
    /// device those loads create, until nothing more appears.
    pub fn coldplug(&mut self) {
        for (_, alias) in coldplug::modaliases(Path::new("/sys/devices")) {
            self.load_for(&alias);
        }
        for _ in 0..COLDPLUG_ROUNDS {
            if self.drain_from(None) == 0 {
                break;
            }
        }
        self.find_power_button();
    }

    fn load_for(&mut self, alias: &str) {
        let Some(index) = self.index() else {
            return;
        };
        for (module, result) in index.load_for(alias) {
            match result {
                Ok(loaded) if loaded.is_empty() => {}
                Ok(loaded) => say!(
                    "module {module} loaded for {alias} (with {})",
                    loaded.join(", ")
                ),
                // A module that fails is an event with its reason, not a crash.
                Err(e) => alarm!("module {module} for {alias} not loaded: {e}"),
            }
        }
    }

    /// Handle every waiting uevent; returns how many.
    pub fn drain(&mut self, socket: &UeventSocket) -> usize {
        self.drain_from(Some(socket))
    }

    fn drain_from(&mut self, socket: Option<&UeventSocket>) -> usize {
        let mut n = 0;
        loop {
            let received = match socket.or(self.socket.as_ref()).map(UeventSocket::recv) {
                Some(Ok(Some(r))) => r,
                Some(Ok(None)) | None => return n,
                Some(Err(e)) => {
                    alarm!("uevent socket: {e}");
                    return n;
                }
            };
            n += 1;
            match received {
                Received::Event(e) => self.on_uevent(&e),
                Received::Foreign { port } => {
                    say!("uevent from port {port} (not the kernel) dropped")
                }
                Received::Malformed(e) => say!("malformed uevent dropped: {e}"),
            }
        }
    }

    /// The uevents seen since the last call, for the graph's device holders.
    pub fn take_published(&mut self) -> Vec<Uevent> {
        std::mem::take(&mut self.published)
    }

    fn on_uevent(&mut self, e: &Uevent) {
        self.seen += 1;
        self.published.push(e.clone());
        if e.action != "add" {
            return;
        }
        if let Some(alias) = &e.modalias {
            self.load_for(alias);
        }
        match (e.subsystem.as_deref(), e.devname.as_deref()) {
            (Some("block"), Some(dev)) => say!("block device /dev/{dev} present"),
            (Some("input"), Some(dev)) if dev.starts_with("input/event") => {
                self.find_power_button()
            }
            _ => {}
        }
    }

    fn find_power_button(&mut self) {
        if self.power_button.is_some() {
            return;
        }
        let found = input::devices_named(
            Path::new("/sys/class/input"),
            Path::new("/dev/input"),
            POWER_BUTTON,
        );
        if let Some(dev) = found.into_iter().next() {
            self.power_button = Some(dev);
        }
    }

    /// The power button's event device, opened non-blocking, once found.
    pub fn take_power_button(&mut self) -> Option<File> {
        let dev = self.power_button.as_ref()?;
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(dev)
        {
            Ok(f) => {
                say!("power key watched: {} ({POWER_BUTTON})", dev.display());
                Some(f)
            }
            Err(e) => {
                alarm!("power key {}: {e}", dev.display());
                None
            }
        }
    }
}

/// Wait until the power button reports KEY_POWER; `false` if it went away.
pub async fn power_pressed(fd: &AsyncFd<std::fs::File>) -> bool {
    use std::io::Read;
    let mut records = [0u8; ente_kernel::input::EVENT_SIZE * 16];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return false;
        };
        let read = guard.try_io(|f| f.get_ref().read(&mut records));
        match read {
            Ok(Ok(0)) => return false,
            Ok(Ok(n)) => {
                if records[..n]
                    .chunks_exact(ente_kernel::input::EVENT_SIZE)
                    .any(ente_kernel::input::is_power_press)
                {
                    return true;
                }
            }
            Ok(Err(_)) => return false,
            Err(_would_block) => continue,
        }
    }
}

/// Register an owned fd (the uevent socket, the power button) with the
/// event loop, for reading.
pub fn watch<T: std::os::fd::AsRawFd>(inner: T) -> Option<AsyncFd<T>> {
    // SAFETY: `T` is `UeventSocket` or `File`; each owns its descriptor
    // (an `OwnedFd`), keeps it open until dropped, and always returns the
    // same one from `as_raw_fd`. The `AsyncFd` owns `inner`, so the
    // descriptor outlives the registration.
    unsafe { AsyncFd::register_with_interest(inner, tokio::io::Interest::READABLE) }.ok()
}
