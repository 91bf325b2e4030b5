//! The threads that run guest code. The core's loop never does: it hands
//! each start, stop and delivery to a worker here and hears of its end as an
//! event. A bus call a guest makes runs on its own worker (the fast path),
//! so a spinning guest holds one worker until its deadline, never the loop.
//!
//! The queue has no bound of its own, but the core keeps at most two jobs
//! per Ente in it (a start or a delivery, and a stop), so it never holds
//! more than twice as many jobs as there are Entes.

use crate::event::{Done, Event};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::mpsc::Sender;
use ulid::Ulid;

/// A piece of work for one Ente; its result is an event for the core.
pub(crate) struct Job {
    pub ente: Ulid,
    pub generation: u64,
    pub run: Box<dyn FnOnce() -> Event + Send>,
}

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

pub(crate) struct Executor {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("workers", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// `workers` threads; each finished job's event goes to `inbox`.
    pub(crate) fn new(workers: usize, inbox: Sender<Event>) -> std::io::Result<Executor> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        });
        let mut threads = Vec::new();
        for n in 0..workers.max(1) {
            let (shared, inbox) = (shared.clone(), inbox.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("ente-worker-{n}"))
                    .spawn(move || work(&shared, &inbox))?,
            );
        }
        Ok(Executor { shared, threads })
    }

    pub(crate) fn submit(&self, job: Job) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.jobs.push_back(job);
        drop(q);
        self.shared.ready.notify_one();
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.closed = true;
        q.jobs.clear();
        drop(q);
        self.shared.ready.notify_all();
        // Workers in a guest call finish it within its deadline; they are
        // not joined, so that dropping the core never waits on a guest.
    }
}

fn work(shared: &Shared, inbox: &Sender<Event>) {
    loop {
        let job = {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if q.closed {
                    return;
                }
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let (ente, generation) = (job.ente, job.generation);
        let event = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job.run)).unwrap_or_else(
            |panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                Event::Done(Done::Panicked {
                    ente,
                    generation,
                    what,
                })
            },
        );
        // The loop is gone only when the host stops.
        if inbox.blocking_send(event).is_err() {
            return;
        }
    }
}
