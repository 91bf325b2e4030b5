//! The bus never deadlocks and never drops silently: a full mailbox answers
//! `busy`, a self-call or a call cycle answers `cycle`, and a provider stuck
//! in a long call stalls only its own callers.

use ente_bus::{
    Body, Bus, BusConfig, BusError, Decision, LeaseEvent, Mediator, Observer, Unserved,
};
use ente_card::Endpoint;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Barrier, Mutex, Weak};
use std::time::Duration;
use ulid::Ulid;

fn ep(n: u8) -> Endpoint {
    Endpoint {
        interface: format!("{n:032x}"),
        version: 1,
    }
}

/// Routes endpoint n to the n-th registered Ente.
struct Table(Vec<Ulid>);

impl Mediator for Table {
    fn decide(&self, _caller: Ulid, target: &Endpoint) -> Decision {
        let n = usize::from_str_radix(&target.interface, 16).unwrap_or(usize::MAX);
        match self.0.get(n) {
            Some(&provider) => Decision::Allow {
                provider,
                ttl: Duration::from_secs(60),
            },
            None => Decision::Deny("no such endpoint".into()),
        }
    }
}

enum Act {
    /// Reply with the body.
    Echo,
    /// Wait for a message before replying.
    Hold(Mutex<Receiver<()>>, Arc<Barrier>),
    /// Call the endpoint `n` as itself and reply with what that returned.
    Call(u8),
    /// Reply with this many bytes.
    Big(usize),
    /// Break (as a trap would).
    Break,
}

struct TestBody {
    me: Ulid,
    bus: Weak<Bus<TestBody>>,
    act: Act,
}

impl Body for TestBody {
    type Fault = String;

    fn handle(
        &mut self,
        _from: Ulid,
        _t: &Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, Unserved<String>> {
        match &self.act {
            Act::Echo => Ok(body.to_vec()),
            Act::Big(n) => Ok(vec![0; *n]),
            Act::Break => Err(Unserved::Broke("it trapped".into())),
            Act::Hold(release, entered) => {
                entered.wait();
                let _ = release.lock().map(|r| r.recv());
                Ok(body.to_vec())
            }
            Act::Call(n) => {
                let bus = self
                    .bus
                    .upgrade()
                    .ok_or_else(|| Unserved::Refused("bus gone".into()))?;
                match bus.invoke(self.me, &ep(*n), body) {
                    Ok(reply) => Ok(reply),
                    Err(e) => Ok(format!("inner: {e:?}").into_bytes()),
                }
            }
        }
    }

    fn broken(&self) -> Option<String> {
        None
    }
}

/// What the bus told the host.
#[derive(Default)]
struct Heard {
    broke: Mutex<Vec<(Ulid, String)>>,
    leases: Mutex<Vec<LeaseEvent>>,
}

impl Observer<String> for Heard {
    fn broke(&self, ente: Ulid, fault: &String) {
        self.broke
            .lock()
            .expect("heard")
            .push((ente, fault.clone()));
    }

    fn lease(&self, event: LeaseEvent) {
        self.leases.lock().expect("heard").push(event);
    }

    fn absent(&self, _ente: Ulid, ended: Option<&str>) -> String {
        format!(
            "backing off for a test, after {}",
            ended.unwrap_or("nothing")
        )
    }
}

fn bus_with(config: BusConfig, acts: Vec<Act>) -> (Arc<Bus<TestBody>>, Vec<Ulid>) {
    bus_heard(config, acts, Arc::new(Heard::default()))
}

fn bus_heard(
    config: BusConfig,
    acts: Vec<Act>,
    heard: Arc<Heard>,
) -> (Arc<Bus<TestBody>>, Vec<Ulid>) {
    let bus = Arc::new(Bus::with_observer(config, heard));
    let ids: Vec<Ulid> = acts.iter().map(|_| Ulid::new()).collect();
    for (act, &id) in acts.into_iter().zip(&ids) {
        bus.install(
            id,
            &format!("e{id}"),
            TestBody {
                me: id,
                bus: Arc::downgrade(&bus),
                act,
            },
        );
    }
    bus.set_mediator(Arc::new(Table(ids.clone())));
    (bus, ids)
}

#[test]
fn a_self_call_is_a_cycle_not_a_deadlock() {
    // Ente 0 calls endpoint 0, which it serves itself.
    let (bus, ids) = bus_with(BusConfig::default(), vec![Act::Call(0)]);
    let reply = bus
        .invoke(Ulid::new(), &ep(0), b"x")
        .expect("outer call answers");
    let text = String::from_utf8(reply).expect("utf8");
    assert!(text.starts_with("inner: Cycle("), "{text}");
    // The Ente is intact afterwards.
    assert!(bus.slot(ids[0]).expect("slot").is_live());
}

#[test]
fn a_call_cycle_through_two_entes_is_a_cycle() {
    // 0 calls 1, 1 calls 0.
    let (bus, _) = bus_with(BusConfig::default(), vec![Act::Call(1), Act::Call(0)]);
    let reply = bus.invoke(Ulid::new(), &ep(0), b"x").expect("answers");
    assert!(
        String::from_utf8_lossy(&reply).starts_with("inner: Cycle("),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn a_full_mailbox_answers_busy_and_loses_nothing() {
    let (release_tx, release_rx) = channel();
    let entered = Arc::new(Barrier::new(2));
    let config = BusConfig {
        mailbox: 1,
        wait: Duration::from_secs(20),
        ..BusConfig::default()
    };
    let (bus, ids) = bus_with(
        config,
        vec![Act::Hold(Mutex::new(release_rx), entered.clone())],
    );

    // First caller holds the provider.
    let b1 = bus.clone();
    let first = std::thread::spawn(move || b1.invoke(Ulid::new(), &ep(0), b"first"));
    entered.wait();
    // Second caller waits in the mailbox (capacity 1).
    let b2 = bus.clone();
    let second = std::thread::spawn(move || b2.invoke(Ulid::new(), &ep(0), b"second"));
    let slot = bus.slot(ids[0]).expect("slot");
    while slot.waiting() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Third caller: the mailbox is full.
    assert_eq!(
        bus.invoke(Ulid::new(), &ep(0), b"third"),
        Err(BusError::Busy(slot.label.clone()))
    );

    release_tx.send(()).expect("release first");
    assert_eq!(first.join().expect("join"), Ok(b"first".to_vec()));
    // The waiting call is served, not dropped.
    entered.wait();
    release_tx.send(()).expect("release second");
    assert_eq!(second.join().expect("join"), Ok(b"second".to_vec()));
    assert_eq!(slot.served(), 2);
}

#[test]
fn a_long_call_does_not_stall_uninvolved_entes() {
    let (release_tx, release_rx) = channel();
    let entered = Arc::new(Barrier::new(2));
    let (bus, _) = bus_with(
        BusConfig::default(),
        vec![
            Act::Hold(Mutex::new(release_rx), entered.clone()),
            Act::Echo,
        ],
    );
    let b = bus.clone();
    let long = std::thread::spawn(move || b.invoke(Ulid::new(), &ep(0), b"long"));
    entered.wait();
    // The long call holds its provider until released below: had these
    // calls waited for it, this loop would never end.
    for _ in 0..1000 {
        assert_eq!(
            bus.invoke(Ulid::new(), &ep(1), b"quick"),
            Ok(b"quick".to_vec())
        );
    }
    assert!(!long.is_finished(), "the long call is still in progress");
    release_tx.send(()).expect("release");
    assert_eq!(long.join().expect("join"), Ok(b"long".to_vec()));
}

#[test]
fn a_denied_call_carries_the_mediators_reason() {
    let (bus, _) = bus_with(BusConfig::default(), vec![Act::Echo]);
    assert_eq!(
        bus.invoke(Ulid::new(), &ep(7), b""),
        Err(BusError::Denied("no such endpoint".into()))
    );
}

#[test]
fn a_body_over_the_limit_is_refused_before_routing() {
    let config = BusConfig {
        max_request: 8,
        ..BusConfig::default()
    };
    let (bus, _) = bus_with(config, vec![Act::Echo]);
    assert_eq!(
        bus.invoke(Ulid::new(), &ep(0), &[0; 9]),
        Err(BusError::TooLarge {
            what: "request",
            size: 9,
            max: 8
        })
    );
}

#[test]
fn a_reply_over_the_limit_is_refused_and_the_provider_stays() {
    let config = BusConfig {
        max_reply: 8,
        ..BusConfig::default()
    };
    let (bus, ids) = bus_with(config, vec![Act::Big(9)]);
    assert_eq!(
        bus.invoke(Ulid::new(), &ep(0), b""),
        Err(BusError::TooLarge {
            what: "reply",
            size: 9,
            max: 8
        })
    );
    assert!(bus.slot(ids[0]).expect("slot").is_live());
}

#[test]
fn a_malformed_endpoint_never_reaches_the_mediator() {
    let heard = Arc::new(Heard::default());
    let (bus, _) = bus_heard(BusConfig::default(), vec![Act::Echo], heard.clone());
    let long = Endpoint {
        interface: "a".repeat(1 << 20),
        version: 1,
    };
    let err = bus.invoke(Ulid::new(), &long, b"").expect_err("malformed");
    assert_eq!(
        err.to_string(),
        "malformed endpoint: the interface is 1048576 bytes; an interface is 32 lowercase hex characters"
    );
    assert!(
        heard.leases.lock().expect("heard").is_empty(),
        "nothing was asked"
    );
}

#[test]
fn a_body_that_breaks_leaves_the_bus_and_its_death_is_heard() {
    let heard = Arc::new(Heard::default());
    let (bus, ids) = bus_heard(BusConfig::default(), vec![Act::Break], heard.clone());
    let caller = Ulid::new();
    let err = bus.invoke(caller, &ep(0), b"x").expect_err("broke");
    assert!(err.to_string().contains("it trapped"), "{err}");
    assert_eq!(
        *heard.broke.lock().expect("heard"),
        [(ids[0], "it trapped".to_string())]
    );
    // Its lease went with it, and a caller is told why it has no body.
    assert!(bus.leases().get(caller, &ep(0)).is_none());
    assert_eq!(
        bus.invoke(caller, &ep(0), b"x"),
        Err(BusError::NotRunning {
            provider: format!("e{}", ids[0]),
            state: "backing off for a test, after it trapped".into()
        })
    );
}

#[test]
fn callers_are_served_in_turn_so_a_loop_cannot_starve_a_waiter() {
    let (release_tx, release_rx) = channel();
    let entered = Arc::new(Barrier::new(2));
    let (bus, _) = bus_with(
        BusConfig::default(),
        vec![Act::Hold(Mutex::new(release_rx), entered.clone())],
    );
    // A holds the provider; B queues; then A, done, calls again at once.
    let a_bus = bus.clone();
    let a = std::thread::spawn(move || {
        let first = a_bus.invoke(Ulid::new(), &ep(0), b"a1");
        let second = a_bus.invoke(Ulid::new(), &ep(0), b"a2");
        (first, second)
    });
    entered.wait();
    let b_bus = bus.clone();
    let b = std::thread::spawn(move || b_bus.invoke(Ulid::new(), &ep(0), b"b"));
    let slot = bus.slots().pop().expect("slot");
    while slot.waiting() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    release_tx.send(()).expect("release a1");
    // The next to enter is B, who waited, not A's second call.
    entered.wait();
    release_tx.send(()).expect("release b");
    assert_eq!(b.join().expect("b"), Ok(b"b".to_vec()));
    entered.wait();
    release_tx.send(()).expect("release a2");
    let (a1, a2) = a.join().expect("a");
    assert_eq!((a1, a2), (Ok(b"a1".to_vec()), Ok(b"a2".to_vec())));
}

#[test]
fn crossing_calls_from_many_threads_never_deadlock() {
    // 0 calls 1 and 1 calls 0, from eight threads at once: every call ends,
    // served or refused as a cycle, however the threads interleave.
    let (bus, _) = bus_with(BusConfig::default(), vec![Act::Call(1), Act::Call(0)]);
    let (done_tx, done_rx) = channel();
    for t in 0..8u8 {
        let (bus, done) = (bus.clone(), done_tx.clone());
        std::thread::spawn(move || {
            for _ in 0..200 {
                let _ = bus.invoke(Ulid::new(), &ep(t % 2), b"x");
            }
            let _ = done.send(());
        });
    }
    for _ in 0..8 {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("every thread finished: no deadlock");
    }
}
