//! A native Ente's live process tree: its readiness, its stop, and the
//! teardown report that proves nothing of it is left.
//!
//! The tree is its cgroup leaf where there is one, else its process group
//! (the program starts its own session). Its main process is known by its
//! pidfd; how it ended comes from the host's reaper through [`ExitCell`].

use crate::cgroup::Leaf;
use crate::spawn::Spawned;
use ente_kernel::reaper::Ending;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where the reaper leaves the main process's ending for the tree.
#[derive(Debug, Default)]
pub struct ExitCell {
    ending: Mutex<Option<Ending>>,
    set: Condvar,
}

impl ExitCell {
    pub fn set(&self, ending: Ending) {
        *self.ending.lock().unwrap_or_else(|p| p.into_inner()) = Some(ending);
        self.set.notify_all();
    }

    pub fn get(&self) -> Option<Ending> {
        *self.ending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ending, waiting up to `within` for the reaper to report it.
    pub fn wait(&self, within: Duration) -> Option<Ending> {
        let guard = self.ending.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .set
            .wait_timeout_while(guard, within, |e| e.is_none())
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

/// Why a program did not become ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("it {} before it was ready", match .0 {
        Some(Ending::Exited(code)) => format!("exited with {code}"),
        Some(e @ Ending::Signaled { .. }) => format!("was {e}"),
        None => "ended".to_owned(),
    })]
    Ended(Option<Ending>),
    #[error("it closed fd 3 (ENTE_READY_FD) without writing a line to it")]
    ClosedReadyFd,
    #[error("it was not ready within {waited:?}: {how}")]
    Timeout { waited: Duration, how: &'static str },
    #[error("the host ended its start")]
    Killed,
}

/// How the main process was made to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// It had ended before the stop began.
    AlreadyEnded,
    /// SIGTERM, and every process was gone within the grace.
    Term,
    /// SIGKILL to the whole tree: after the grace ran out, or at once
    /// (`None`: the body went without a stop, or its main process ended).
    Kill { grace: Option<Duration> },
}

/// What a stop left behind: nothing, when `clean()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teardown {
    pub pid: i32,
    pub how: How,
    pub ending: Option<Ending>,
    /// Processes of the tree still alive after the stop.
    pub left: Vec<i32>,
    /// The tree was its process group (no cgroup), and some still answer.
    pub group_left: bool,
    pub cgroups_removed: Vec<PathBuf>,
    pub cgroups_left: Vec<(PathBuf, String)>,
    pub took: Duration,
}

impl Teardown {
    /// No process left, and every cgroup removed.
    pub fn clean(&self) -> bool {
        self.left.is_empty() && !self.group_left && self.cgroups_left.is_empty()
    }
}

impl std::fmt::Display for Teardown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self.how {
            How::AlreadyEnded => "it had ended".to_owned(),
            How::Term => "SIGTERM".to_owned(),
            How::Kill { grace: Some(g) } => {
                format!("SIGTERM, then SIGKILL to the whole tree after {g:?}")
            }
            How::Kill { grace: None } => "SIGKILL to the whole tree".to_owned(),
        };
        write!(f, "pid {}: {how}", self.pid)?;
        if let Some(e) = self.ending {
            write!(f, " ({e})")?;
        }
        write!(f, " in {} ms; ", self.took.as_millis())?;
        if self.left.is_empty() && !self.group_left {
            write!(f, "no process left")?;
        } else if self.group_left {
            write!(f, "RESIDUE: its process group still has processes")?;
        } else {
            write!(f, "RESIDUE: pids {:?} left", self.left)?;
        }
        if !self.cgroups_removed.is_empty() {
            let paths: Vec<String> = self
                .cgroups_removed
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            write!(f, "; cgroups removed: {}", paths.join(", "))?;
        }
        for (p, why) in &self.cgroups_left {
            write!(f, "; RESIDUE: cgroup {} not removed ({why})", p.display())?;
        }
        Ok(())
    }
}

/// A started program and everything of it.
#[derive(Debug)]
pub struct Tree {
    pub pid: i32,
    pidfd: OwnedFd,
    ready: Option<OwnedFd>,
    leaf: Option<Leaf>,
    exit: Arc<ExitCell>,
    /// Set by an sd_notify listener on `READY=1`.
    notified: Arc<AtomicBool>,
    torn_down: bool,
}

impl Tree {
    /// `spawned`, its leaf, and where its ending will be reported.
    pub fn new(
        spawned: Spawned,
        leaf: Option<Leaf>,
        exit: Arc<ExitCell>,
    ) -> (Tree, OwnedFd, OwnedFd) {
        let tree = Tree {
            pid: spawned.pid,
            pidfd: spawned.pidfd,
            ready: spawned.ready,
            leaf,
            exit,
            notified: Arc::new(AtomicBool::new(false)),
            torn_down: false,
        };
        (tree, spawned.stdout, spawned.stderr)
    }

    /// Readiness is this flag (an sd_notify listener sets it on `READY=1`).
    pub fn ready_when(&mut self, flag: Arc<AtomicBool>) {
        self.notified = flag;
    }

    pub fn pidfd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Whether the main process has ended.
    pub fn ended(&self) -> bool {
        crate::pidfd_ended(self.pidfd.as_fd(), 0)
    }

    /// Wait until the program is ready (a line on its readiness fd, or
    /// `READY=1` noted), it ends, `deadline` passes or `killed()`.
    pub fn await_ready(
        &mut self,
        deadline: Instant,
        killed: &dyn Fn() -> bool,
    ) -> Result<(), NotReady> {
        let started = Instant::now();
        let mut line = Vec::new();
        loop {
            if self.notified.load(Ordering::Acquire) {
                return Ok(());
            }
            let mut fds = vec![libc::pollfd {
                fd: self.pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            if let Some(r) = &self.ready {
                fds.push(libc::pollfd {
                    fd: r.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // Short slices: the kill switch and sd_notify are looked at
            // between them.
            let slice = left.min(Duration::from_millis(5)).as_millis() as i32;
            // SAFETY: `fds` is a live array of `fds.len()` pollfds.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, slice) };
            if let Some(r) = fds.get(1).filter(|p| p.revents != 0)
                && let Some(fd) = &self.ready
            {
                let _ = r;
                let mut buf = [0u8; 256];
                // SAFETY: reads into a live local buffer.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    line.extend_from_slice(&buf[..n as usize]);
                    if line.contains(&b'\n') {
                        self.ready = None;
                        return Ok(());
                    }
                } else if n == 0 {
                    self.ready = None;
                    // An exit closes the fd a moment before the pidfd says so.
                    if !crate::pidfd_ended(self.pidfd.as_fd(), 50) {
                        return Err(NotReady::ClosedReadyFd);
                    }
                }
            }
            if fds[0].revents != 0 {
                return Err(NotReady::Ended(self.exit.wait(Duration::from_millis(200))));
            }
            if killed() {
                return Err(NotReady::Killed);
            }
            if Instant::now() >= deadline {
                return Err(NotReady::Timeout {
                    waited: started.elapsed(),
                    how: if self.ready.is_some() {
                        "it wrote no line to fd 3 (ENTE_READY_FD)"
                    } else {
                        "it sent no READY=1 to NOTIFY_SOCKET"
                    },
                });
            }
        }
    }

    /// Whether any process of the tree is alive.
    fn alive(&self) -> bool {
        if !self.ended() {
            return true;
        }
        match &self.leaf {
            Some(leaf) if leaf.tracks() => !leaf.procs().is_empty(),
            _ => group_alive(self.pid),
        }
    }

    fn signal_tree(&self, signal: i32) {
        let _ = crate::pidfd_signal(self.pidfd.as_fd(), signal);
        match &self.leaf {
            Some(leaf) if leaf.tracks() => {
                if signal == libc::SIGKILL {
                    leaf.kill_all();
                } else {
                    leaf.signal_all(signal);
                }
            }
            // SAFETY: kill(2) to the program's own process group (it
            // started its own session, so its pgid is its pid).
            _ => unsafe {
                libc::kill(-self.pid, signal);
            },
        }
    }

    fn wait_gone(&self, within: Duration) -> bool {
        let until = Instant::now() + within;
        loop {
            if !self.alive() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            crate::pidfd_ended(self.pidfd.as_fd(), 2);
            if self.ended() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Stop the tree: SIGTERM (and SIGCONT) to every process, up to `grace`
    /// for all to go, then SIGKILL to the whole tree; then its cgroups are
    /// removed. The report says what, if anything, is left.
    pub fn terminate(&mut self, grace: Duration) -> Teardown {
        let t0 = Instant::now();
        let how = if !self.alive() {
            How::AlreadyEnded
        } else {
            self.signal_tree(libc::SIGTERM);
            self.signal_tree(libc::SIGCONT);
            if self.wait_gone(grace) {
                How::Term
            } else {
                self.signal_tree(libc::SIGKILL);
                self.wait_gone(Duration::from_secs(2));
                How::Kill { grace: Some(grace) }
            }
        };
        self.finish(how, t0)
    }

    /// Kill the whole tree at once (no grace), and report.
    pub fn kill(&mut self) -> Teardown {
        let t0 = Instant::now();
        let how = if self.alive() {
            self.signal_tree(libc::SIGKILL);
            self.wait_gone(Duration::from_secs(2));
            How::Kill { grace: None }
        } else {
            How::AlreadyEnded
        };
        self.finish(how, t0)
    }

    fn finish(&mut self, how: How, t0: Instant) -> Teardown {
        self.torn_down = true;
        let (left, group_left) = match &self.leaf {
            Some(leaf) if leaf.tracks() => (leaf.procs(), false),
            _ => (Vec::new(), group_alive(self.pid)),
        };
        let mut removed = Vec::new();
        let mut cgroups_left = Vec::new();
        if let Some(leaf) = &self.leaf {
            let failed = leaf.remove();
            for p in leaf.paths() {
                match failed.iter().find(|(f, _)| f == p) {
                    Some((_, e)) => cgroups_left.push((p.to_path_buf(), e.to_string())),
                    None => removed.push(p.to_path_buf()),
                }
            }
        }
        let ending = if matches!(how, How::AlreadyEnded) || !left.is_empty() {
            self.exit.get()
        } else {
            self.exit.wait(Duration::from_millis(200))
        };
        Teardown {
            pid: self.pid,
            how,
            ending,
            left,
            group_left,
            cgroups_removed: removed,
            cgroups_left,
            took: t0.elapsed(),
        }
    }

    /// Whether [`Tree::terminate`] or [`Tree::kill`] ran.
    pub fn torn_down(&self) -> bool {
        self.torn_down
    }
}

/// Whether the process group `pgid` has a member (zombies included, until
/// the reaper takes them).
fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks.
    let r = unsafe { libc::kill(-pgid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}
