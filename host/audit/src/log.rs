//! Appending to the chain: a group commit on a thread of its own.

use crate::ChainFault;
use crate::entry::{Decision, Entry, Hash, Head, Segment, VERSION};
use crate::store::{Home, Store, put_segment, write_head};
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

/// How long a commit gathers entries: what a crash can lose at most (and
/// the write's own time).
pub const WINDOW: Duration = Duration::from_millis(5);

/// At most this many entries wait for a commit. While the store cannot be
/// written, more are counted, not kept, and the count is the next commit's
/// last entry ([`Decision::Lost`]): the entries lost were the newest.
pub const MAX_PENDING: usize = 1 << 20;

struct State {
    pending: Vec<(u64, Decision)>,
    max_pending: usize,
    lost: u64,
    appended: u64,
    committed: u64,
    seq: u64,
    prev: Hash,
    segment: Option<Hash>,
    stop: bool,
    /// The writer returned.
    exited: bool,
    /// The store says a chain was started here.
    marked: bool,
    error: Option<String>,
}

struct Shared {
    store: Box<dyn Store>,
    /// Made at the first commit when the store holds none: on the
    /// appliance that waits for the kernel's CSPRNG, and appends do not.
    key: Mutex<Option<SigningKey>>,
    state: Mutex<State>,
    wake: Condvar,
    done: Condvar,
}

/// An open chain.
pub struct Log {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("store", &self.shared.store)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Log {
    /// Open the chain under `home`, or start one. A chain found broken is
    /// returned as the fault, and a new chain begins whose first entry
    /// records it.
    pub fn open(home: &Path) -> Result<(Log, Option<ChainFault>), ChainFault> {
        Self::open_in(Box::new(Home(home.to_path_buf())), MAX_PENDING)
    }

    /// [`Log::open`], with at most `max_pending` entries waiting.
    pub fn open_bounded(
        home: &Path,
        max_pending: usize,
    ) -> Result<(Log, Option<ChainFault>), ChainFault> {
        Self::open_in(Box::new(Home(home.to_path_buf())), max_pending)
    }

    /// Open the chain kept in `store`, or start one there, with at most
    /// `max_pending` entries waiting. The whole chain is walked first.
    pub fn open_in(
        store: Box<dyn Store>,
        max_pending: usize,
    ) -> Result<(Log, Option<ChainFault>), ChainFault> {
        // A key that cannot be read is a break like any other: the chain
        // it signed cannot be checked, and a new one begins with a new key.
        let (key, key_fault) = match store.signing_key() {
            Ok(key) => (key, None),
            Err(fault) => (None, Some(fault)),
        };
        let mut state = State {
            pending: Vec::new(),
            max_pending: max_pending.max(1),
            lost: 0,
            appended: 0,
            committed: 0,
            seq: 0,
            prev: [0; 32],
            segment: None,
            stop: false,
            exited: false,
            marked: false,
            error: None,
        };
        let walked = match (&key, key_fault) {
            (_, Some(fault)) => Err(fault),
            (Some(key), None) => crate::walk::check(store.as_ref(), &key.verifying_key()),
            (None, None) => match store.head() {
                Ok(None) => Err(ChainFault::NoHead),
                Ok(Some(_)) => Err(ChainFault::Key {
                    path: store.place(),
                    why: "missing, but a head is there: the chain cannot be checked".into(),
                }),
                Err(fault) => Err(fault),
            },
        };
        let found = match walked {
            Ok(w) => {
                state.seq = w.head.seq;
                state.prev = w.head.entry;
                state.segment = Some(w.head.segment);
                None
            }
            Err(ChainFault::NoHead) if !store.started() => None,
            Err(ChainFault::NoHead) => Some(ChainFault::HeadMissing),
            Err(fault) => Some(fault),
        };
        if let Some(fault) = &found {
            state.pending.push((
                now_ms(),
                Decision::ChainBreak {
                    why: fault.to_string(),
                },
            ));
            state.appended = 1;
        }
        // Marked started with the first head (a cut before it is no break).
        state.marked = store.started();
        let shared = Arc::new(Shared {
            store,
            key: Mutex::new(key),
            state: Mutex::new(state),
            wake: Condvar::new(),
            done: Condvar::new(),
        });
        let writing = shared.clone();
        let writer = std::thread::Builder::new()
            .name("ente-audit".into())
            .spawn(move || writing.run())
            .map_err(|e| ChainFault::Io {
                why: format!("cannot start the audit writer: {e}"),
            })?;
        Ok((
            Log {
                shared,
                writer: Mutex::new(Some(writer)),
            },
            found,
        ))
    }

    /// Where the chain is kept, for messages.
    pub fn place(&self) -> String {
        self.shared.store.place()
    }

    /// Add `decision` to the next commit. Never waits on a disk.
    pub fn append(&self, decision: Decision) {
        let mut s = self.shared.lock();
        if s.pending.len() >= s.max_pending {
            s.lost += 1;
            return;
        }
        s.pending.push((now_ms(), decision));
        s.appended += 1;
        drop(s);
        self.shared.wake.notify_one();
    }

    /// Wait (up to `within`) until every entry appended so far is committed.
    /// A store that cannot be written is retried until then; the error
    /// names why.
    pub fn flush(&self, within: Duration) -> Result<(), String> {
        let s = self.shared.lock();
        let target = s.appended;
        self.shared.wake.notify_one();
        let (s, _) = self
            .shared
            .done
            .wait_timeout_while(s, within, |s| s.committed < target)
            .unwrap_or_else(|p| p.into_inner());
        if s.committed < target {
            return Err(format!(
                "{} audit entries not committed within {within:?}{}",
                target - s.committed,
                s.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// The newest committed entry: its sequence number and hash (`None`
    /// before the first).
    pub fn head(&self) -> Option<(u64, Hash)> {
        let s = self.shared.lock();
        (s.seq > 0).then_some((s.seq, s.prev))
    }
}

impl Drop for Log {
    /// What is pending gets up to 5 s to be written; the writer then ends
    /// after the write it is in, or is left behind after 2 s more (a disk
    /// that hangs must not hang the host's end, PID 1's power-off above all).
    fn drop(&mut self) {
        let _ = self.flush(Duration::from_secs(5));
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        let s = self.shared.lock();
        let (s, _) = self
            .shared
            .done
            .wait_timeout_while(s, Duration::from_secs(2), |s| !s.exited)
            .unwrap_or_else(|p| p.into_inner());
        let exited = s.exited;
        drop(s);
        if let Some(w) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take()
            && exited
        {
            let _ = w.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The signing key; made and kept the first time it is wanted.
    fn key(&self) -> std::io::Result<SigningKey> {
        let mut key = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = &*key {
            return Ok(k.clone());
        }
        let made = self
            .store
            .seed()
            .map_err(|e| std::io::Error::other(format!("no randomness for a new key: {e}")))
            .map(|seed| SigningKey::from_bytes(&seed))?;
        self.store
            .keep_key(&made)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        *key = Some(made.clone());
        Ok(made)
    }

    fn run(&self) {
        self.write_until_stopped();
        self.lock().exited = true;
        self.done.notify_all();
    }

    fn write_until_stopped(&self) {
        loop {
            let (batch, mut seq, mut prev, segment, marked) = {
                let s = self.lock();
                let (mut s, _) = self
                    .wake
                    .wait_timeout_while(s, WINDOW, |s| s.pending.is_empty() && !s.stop)
                    .unwrap_or_else(|p| p.into_inner());
                if s.pending.is_empty() {
                    if s.stop {
                        return;
                    }
                    continue;
                }
                // The window: what arrives meanwhile joins this commit.
                drop(s);
                std::thread::sleep(WINDOW);
                s = self.lock();
                let mut batch = std::mem::take(&mut s.pending);
                if s.lost > 0 {
                    let count = std::mem::take(&mut s.lost);
                    batch.push((now_ms(), Decision::Lost { count }));
                    s.appended += 1;
                }
                (batch, s.seq, s.prev, s.segment, s.marked)
            };
            let n = batch.len() as u64;
            let mut entries = Vec::with_capacity(batch.len());
            for (wall_ms, decision) in batch.iter().cloned() {
                seq += 1;
                let e = Entry {
                    seq,
                    prev,
                    wall_ms,
                    decision,
                };
                prev = e.hash();
                entries.push(e);
            }
            let written = self.key().and_then(|key| {
                let digest = put_segment(
                    self.store.as_ref(),
                    &Segment {
                        version: VERSION,
                        prev_segment: segment,
                        entries,
                    },
                )?;
                write_head(
                    self.store.as_ref(),
                    &Head {
                        version: VERSION,
                        seq,
                        entry: prev,
                        segment: digest,
                        key: *key.verifying_key().as_bytes(),
                    },
                    &key,
                )?;
                if !marked {
                    // With the first head: a cut before it is no break.
                    self.store.mark_started()?;
                }
                Ok(digest)
            });
            let mut s = self.lock();
            match written {
                Ok(digest) => {
                    s.marked = true;
                    s.seq = seq;
                    s.prev = prev;
                    s.segment = Some(digest);
                    s.committed += n;
                    s.error = None;
                }
                Err(e) => {
                    if s.stop {
                        // The host is going and the store cannot be
                        // written: what waited is lost, as the flush that
                        // timed out said.
                        return;
                    }
                    // Kept, and tried again at the next window.
                    let mut again = batch;
                    again.append(&mut s.pending);
                    s.pending = again;
                    s.error = Some(format!("cannot write the audit chain: {e}"));
                    drop(s);
                    self.done.notify_all();
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
            drop(s);
            self.done.notify_all();
        }
    }
}
