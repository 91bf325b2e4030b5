//! PID 1: the appliance's init. It mounts the kernel surface, loads the
//! modules the hardware asks for, starts the seed card's graph, and then
//! waits: for children to reap, uevents, signals and the power key. It never
//! exits and never panics on any input: every path ends in an orderly
//! power-off (or reboot), and a fault is reported on the console.

mod ctl_port;
mod devices;
mod entropy;
mod signals;
mod state;

use crate::up::Status;
use devices::{Devices, power_pressed, watch};
use ente_core::{Ending, Event, Kind, Next, Signal};
use ente_kernel::power::{Finish, finish};
use ente_kernel::{kmsg, monotonic_ms, surface};
use signals::Signals;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where the image puts the seed card, unless `ente.seed=` on the kernel
/// command line names another.
pub const DEFAULT_SEED: &str = "/cards/appliance.json";
/// PID 1's state: the store and the precompile cache.
pub const HOME: &str = "/var/lib/ente";

/// Print a line on the console (the kernel log once it is open), prefixed
/// so the transcript is easy to read.
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::console::line(&format!("ente: {}", format!($($arg)*)));
    }};
}
pub(crate) use say;

/// [`say!`] for something gone wrong: shown even on a `quiet` console.
macro_rules! alarm {
    ($($arg:tt)*) => {{
        $crate::console::alarm(&format!("ente: {}", format!($($arg)*)));
    }};
}
pub(crate) use alarm;

/// PID 1's entry point. Does not return.
pub fn main() -> ! {
    let t_init = monotonic_ms();
    // Before anything else: a signal sent while the graph starts stays
    // pending until the event loop watches it (to PID 1, a signal with the
    // default action would otherwise be discarded, not delivered).
    let held = signals::hold().map_err(|e| e.to_string());
    std::panic::set_hook(Box::new(|info| {
        // Recorded and survived: the task that panicked is gone, PID 1 is not.
        alarm!("panic (survived): {info}");
    }));
    let how = match std::panic::catch_unwind(|| run(t_init, held)) {
        Ok(how) => how,
        Err(_) => {
            alarm!("the main loop panicked; powering off in order");
            Finish::PowerOff
        }
    };
    let error = finish(how);
    alarm!("the kernel refused to {how:?}: {error}; halting here");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Route the console to the kernel log. Not if its rate limit stays on: the
/// kernel would drop all but a few lines.
fn kernel_log() -> Result<(), kmsg::KmsgError> {
    kmsg::Kmsg::unlimit(Path::new(kmsg::RATE_LIMIT_SYSCTL))?;
    crate::console::to_kernel_log(kmsg::Kmsg::open(Path::new(kmsg::DEVICE))?);
    Ok(())
}

fn seed_path(cmdline: &str) -> PathBuf {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ente.seed="))
        .map_or_else(|| PathBuf::from(DEFAULT_SEED), PathBuf::from)
}

/// Everything between the surface and the end; returns how to end.
///
/// The critical path to a ready graph holds only what the graph needs: /proc,
/// /sys and /dev, the uevent socket (so that no device is missed), the seed
/// card and the runtime. The rest of the surface, the module index, cgroup
/// controllers and coldplug follow once the graph settled; signals and
/// uevents wait for them in the kernel.
fn run(t_init: u64, held: Result<(), String>) -> Finish {
    for e in surface::mount_all(surface::Phase::Boot) {
        alarm!("{e}");
    }
    // From here on, PID 1 speaks through the kernel log; until here (only
    // to report a failed mount) through /dev/console.
    let console = kernel_log();
    crate::diagnostics::init(crate::diagnostics::Sink::Console);
    say!("PID 1 up at {t_init} ms (monotonic)");
    if let Err(e) = console {
        say!("{e}; lines go to /dev/console");
    }
    if let Err(e) = &held {
        alarm!("cannot hold signals during boot: {e}");
    }
    for result in [surface::become_subreaper(), surface::cad_as_signal()] {
        if let Err(e) = result {
            alarm!("{e}");
        }
    }
    let devices = Devices::start();
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();

    let seed = seed_path(&cmdline);
    let card = match ente_card::load(&seed) {
        Ok(card) => card,
        Err(e) => {
            alarm!("the seed card cannot load, so nothing can start:\n{e}");
            say!("powering off");
            return Finish::PowerOff;
        }
    };
    if let Err(e) = surface::set_hostname(&card.label) {
        alarm!("{e}");
    }
    // Found while the runtime opens; joined before the graph starts. Not
    // before the seed loads: a boot that powers off at once writes nothing.
    let state = state::open_async(state::Wanted::from_cmdline(&cmdline));
    // Native Entes start with the graph: they need /run (the native bus),
    // /tmp and cgroup2 with its controllers before it, not after it settled.
    let native = card.walk().any(|c| {
        matches!(
            c.payload,
            ente_card::Payload::Native { .. } | ente_card::Payload::Legacy { .. }
        )
    });
    if native {
        settle_surface();
    }

    let status = Arc::new(Status::new(false).with_clock(monotonic_ms));
    let native_host = Arc::new(crate::native::NativeHost::new(Default::default()));
    let build = || {
        crate::host::build_with(
            Path::new(HOME),
            &seed,
            card.clone(),
            appliance_config(),
            ente_runtime::Profile::Portable,
            native_host.clone(),
            None,
        )
    };
    let (mut core, mut handles) = match build() {
        Ok(built) => built,
        Err(message) => {
            alarm!("the graph cannot start:\n{message}");
            say!("powering off");
            return Finish::PowerOff;
        }
    };
    let kept = state.and_then(state::wait);
    if let Some(k) = &kept {
        if let Some((generation, slot, snapshot)) = &k.newest {
            let place = format!("{} slot {slot} (generation {generation})", k.path.display());
            if let Err(why) = crate::up::persist::restore_snapshot(
                &mut core,
                snapshot,
                &place,
                k.audit.as_deref(),
            ) {
                alarm!(
                    "the snapshot is refused, nothing of it is restored, and the graph starts from its seed: {why}"
                );
                if let Some(audit) = &k.audit {
                    audit.append(ente_audit::Decision::RestoreRefused { why });
                }
                // The half-restored core is dropped whole.
                drop(core);
                (core, handles) = match build() {
                    Ok(built) => built,
                    Err(message) => {
                        alarm!("the graph cannot start:\n{message}");
                        say!("powering off");
                        return Finish::PowerOff;
                    }
                };
            }
        } else {
            say!("no snapshot on the state disk: the graph starts from its seed");
        }
        if let Some(audit) = &k.audit {
            handles
                .spine
                .attach(Box::new(crate::audit::AuditConsumer(audit.clone())));
        }
    }
    status.note("runtime open");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            alarm!("cannot start the event loop: {e}; powering off");
            return Finish::PowerOff;
        }
    };
    // A panic in the loop still ends in an orderly power-off.
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(serve(
            core,
            handles,
            native_host.clone(),
            status,
            devices,
            t_init,
            Kept {
                state: kept.map(|k| Arc::new(std::sync::Mutex::new(k))),
                card,
            },
        ))
    }));
    let how = served.unwrap_or_else(|_| {
        alarm!("the event loop panicked; powering off in order");
        Finish::PowerOff
    });
    // Native trees still being taken down (a body dropped, not stopped).
    native_host.shutdown();
    say!("syncing; {how:?}");
    how
}

/// The host's settings on the appliance: the defaults, with two workers per
/// core (at least two): a guest that blocks holds one of them, and under
/// emulation each more thread costs boot time for no parallelism.
fn appliance_config() -> ente_core::Config {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    ente_core::Config {
        workers: (cores * 2).max(2),
        ..ente_core::Config::default()
    }
}

/// What PID 1 keeps at the power-off: the state disk, and the seed card
/// the snapshot is of.
struct Kept {
    state: Option<Arc<std::sync::Mutex<state::Kept>>>,
    card: ente_card::Card,
}

/// The loop of the core, fed by PID 1's sources: signals, reaped children,
/// uevents and the power key.
async fn serve(
    core: ente_core::Core,
    handles: ente_core::Handles,
    native: Arc<crate::native::NativeHost>,
    status: Arc<Status>,
    devices: Devices,
    t_init: u64,
    kept: Kept,
) -> Finish {
    let inbox = handles.inbox.clone();
    let signals = match Signals::watch() {
        Ok(s) => s,
        Err(e) => {
            alarm!("{e}; powering off");
            return Finish::PowerOff;
        }
    };
    // Watched now: what arrived during boot is delivered.
    if let Err(e) = signals::release() {
        alarm!("cannot release the signals held during boot: {e}");
    }
    tokio::spawn(signals.forward(inbox.clone()));
    // A snapshot on request (SIGUSR1), written once its states are in.
    let on_request = kept.state.clone().map(|state| {
        let card = kept.card.clone();
        tokio::spawn(crate::up::persist::on_request(
            handles.clone(),
            move |handles| {
                let mut k = state.lock().unwrap_or_else(|p| p.into_inner());
                state::save(&mut k, handles, &card);
            },
        ))
    });
    // The operator's surface, once /run is the settled surface's.
    let ctl = Arc::new(std::sync::Mutex::new(None));
    let serving = {
        let (ctl, handles, seed) = (ctl.clone(), handles.clone(), kept.card.id);
        let audit = kept
            .state
            .as_ref()
            .and_then(|s| s.lock().unwrap_or_else(|p| p.into_inner()).audit.clone());
        let mut events = handles.spine.subscribe();
        // What `ente ctl events` shows begins with the boot, not at settle.
        let history = crate::ctl::History::keep(&handles);
        tokio::spawn(async move {
            loop {
                match events.next().await {
                    Next::Event(e) if matches!(e.kind, Kind::Settled { .. }) => break,
                    Next::Closed => return,
                    _ => {}
                }
            }
            drop(events);
            settle_surface();
            let path = Path::new(crate::ctl::APPLIANCE_SOCKET);
            let metrics = crate::metrics::Metrics::start(handles.clone(), audit);
            match crate::ctl::serve(handles, seed, path, Some(metrics.0), history) {
                Ok(s) => {
                    say!("control socket: {}", path.display());
                    *ctl.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
                    ctl_port::start(path.to_owned());
                }
                Err(e) => alarm!("no control socket: {e}"),
            }
        })
    };
    let mut events = handles.spine.subscribe();
    let shown = tokio::spawn(async move {
        let mut devices = Some(devices);
        loop {
            match events.next().await {
                Next::Event(e) => {
                    status.show(&e);
                    match &e.kind {
                        Kind::Settled { ready, bodies } => {
                            say!(
                                "graph ready: {ready} of {bodies} Entes in {} ms since /init",
                                monotonic_ms().saturating_sub(t_init)
                            );
                            // After the graph: the rest of the surface, and devices.
                            if let Some(d) = devices.take() {
                                tokio::spawn(settle(d, inbox.clone()));
                            }
                        }
                        Kind::ShutdownBegun { why } => {
                            say!("orderly shutdown ({why}): stopping the graph");
                        }
                        Kind::ShutdownDone => say!("graph stopped at {} ms", monotonic_ms()),
                        _ => {}
                    }
                }
                Next::Missed(n) => say!("({n} events not shown: the console fell behind)"),
                Next::Closed => return,
            }
        }
    });
    let ending = core.run().await;
    // Native trees still being taken down, and the native bus's hold on
    // the spine, end before the spine's last events are shown.
    native.shutdown();
    if let Some(task) = on_request {
        task.abort();
    }
    serving.abort();
    if let Some(s) = ctl.lock().unwrap_or_else(|p| p.into_inner()).take() {
        s.close();
    }
    if let Some(state) = &kept.state {
        let mut k = state.lock().unwrap_or_else(|p| p.into_inner());
        state::save(&mut k, &handles, &kept.card);
    }
    drop(handles);
    let _ = tokio::time::timeout(Duration::from_millis(200), shown).await;
    match ending {
        Ending::Stopped => Finish::PowerOff,
        Ending::Reboot => Finish::Reboot,
    }
}

/// The rest of the surface and the cgroup2 controllers (for native bodies;
/// Wasm Entes need none of it). Once: mounted filesystems are not again.
fn settle_surface() {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return;
    }
    for e in surface::mount_all(surface::Phase::Settle) {
        alarm!("{e}");
    }
    match surface::enable_controllers(Path::new("/sys/fs/cgroup")) {
        Ok(c) => say!("cgroup2 controllers enabled: {}", c.join(" ")),
        Err(e) => alarm!("{e}"),
    }
}

/// After the graph settled: the rest of the surface, cgroup controllers,
/// coldplug, then uevents and the power key for as long as the host runs.
async fn settle(mut devices: Devices, inbox: mpsc::Sender<Event>) {
    settle_surface();
    devices.coldplug();
    // Both are watched from now on: a press after this point is kept by
    // evdev for this open file and handled once the loop runs.
    let uevents = devices.socket().and_then(watch);
    let mut power = devices.take_power_button().and_then(watch);
    say!(
        "devices settled at {} ms ({} uevents)",
        monotonic_ms(),
        devices.seen
    );
    for e in devices.take_published() {
        if inbox.send(Event::Uevent(e)).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            readable = async {
                match &uevents {
                    Some(fd) => fd.readable().await.map(|mut g| g.clear_ready()),
                    None => std::future::pending().await,
                }
            } => {
                if let (Ok(()), Some(fd)) = (readable, &uevents) {
                    devices.drain(fd.get_ref());
                    for e in devices.take_published() {
                        if inbox.send(Event::Uevent(e)).await.is_err() {
                            return;
                        }
                    }
                    if power.is_none() {
                        power = devices.take_power_button().and_then(watch);
                    }
                }
            }
            pressed = async {
                match &power {
                    Some(fd) => power_pressed(fd).await,
                    None => std::future::pending().await,
                }
            } => {
                if pressed {
                    say!("power key pressed at {} ms", monotonic_ms());
                    if inbox.send(Event::Signal(Signal::Stop("power key"))).await.is_err() {
                        return;
                    }
                }
                power = None;
            }
        }
    }
}
