//! Metrics in the Prometheus text format (the `prometheus` crate's
//! encoder): per Ente its state, restarts, failures, calls served and
//! failed, and CPU time, from the table and the bus; for the host the
//! leases held, granted, denied, renewed and expired, the requests
//! refused, the uevents delivered, the events of the spine (and those this
//! consumer missed), and the audit chain's length. Counts of events come
//! from a spine consumer ([`Tally`]); it reads a bounded ring, so it can
//! never hold the loop back, and says what it missed.
//!
//! Served by `ente up --metrics ADDR` (GET /metrics, off unless asked) and
//! `ente ctl metrics`.

use ente_audit::Log;
use ente_bus::LeaseEvent;
use ente_core::{Handles, Kind, Next};
use prometheus::proto::{Bucket, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{
    CounterVec, Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the spine said, counted.
#[derive(Debug, Default)]
pub struct Tally {
    granted: AtomicU64,
    denied: AtomicU64,
    renewed: AtomicU64,
    expired: AtomicU64,
    refused: AtomicU64,
    uevents: AtomicU64,
    events: AtomicU64,
    missed: AtomicU64,
}

/// What a scrape reads.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub handles: Handles,
    pub tally: Arc<Tally>,
    pub audit: Option<Arc<Log>>,
}

impl Metrics {
    /// Start counting the spine's events (call within a tokio runtime);
    /// the task ends with the spine, or when aborted.
    pub fn start(
        handles: Handles,
        audit: Option<Arc<Log>>,
    ) -> (Metrics, tokio::task::JoinHandle<()>) {
        let tally = Arc::new(Tally::default());
        let task = tokio::spawn(count(handles.spine.subscribe(), tally.clone()));
        (
            Metrics {
                handles,
                tally,
                audit,
            },
            task,
        )
    }

    /// The text a scrape answers.
    pub fn render(&self) -> Result<String, String> {
        let r = Registry::new();
        self.per_ente(&r).map_err(|e| e.to_string())?;
        self.host(&r).map_err(|e| e.to_string())?;
        let mut families = r.gather();
        families.push(self.latency());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .map_err(|e| e.to_string())?;
        String::from_utf8(out).map_err(|e| e.to_string())
    }

    fn per_ente(&self, r: &Registry) -> prometheus::Result<()> {
        let labels = ["ente", "label"];
        let state = IntGaugeVec::new(
            Opts::new("ente_state", "1 for each Ente's present phase."),
            &["ente", "label", "kind", "phase"],
        )?;
        let counter = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &labels);
        let restarts = counter("ente_restarts_total", "Restarts of each Ente.")?;
        let failures = counter(
            "ente_failures_total",
            "Starts of each Ente that failed in a row.",
        )?;
        let served = counter("ente_calls_served_total", "Calls each Ente served.")?;
        let failed = counter("ente_calls_failed_total", "Calls to each Ente that failed.")?;
        let cpu = CounterVec::new(
            Opts::new("ente_cpu_seconds_total", "CPU time of each Ente's calls."),
            &labels,
        )?;
        let memory = IntGaugeVec::new(
            Opts::new(
                "ente_memory_bytes",
                "Memory each Ente holds: the linear memory of its live stores, and its native process tree's cgroup (memory.current).",
            ),
            &labels,
        )?;
        let entes = IntGauge::new("ente_entes", "Entes in the table.")?;
        let t = self.handles.read();
        for rec in t.iter() {
            let (id, label) = (rec.id.to_string(), rec.label().to_owned());
            let ids = [id.as_str(), label.as_str()];
            let phase = format!("{:?}", rec.state.phase()).to_ascii_lowercase();
            let kind = crate::ctl::render::payload_kind(&rec.card.payload);
            state
                .with_label_values(&[id.as_str(), label.as_str(), kind, phase.as_str()])
                .set(1);
            restarts
                .with_label_values(&ids)
                .inc_by(u64::from(rec.restarts));
            failures
                .with_label_values(&ids)
                .inc_by(u64::from(rec.failures));
            let (s, f) = self
                .handles
                .bus
                .slot(rec.id)
                .map_or((0, 0), |slot| (slot.served(), slot.errors()));
            served.with_label_values(&ids).inc_by(s);
            failed.with_label_values(&ids).inc_by(f);
            cpu.with_label_values(&ids)
                .inc_by(rec.counters.cpu_ns.load(Ordering::Relaxed) as f64 / 1e9);
            memory.with_label_values(&ids).set(
                i64::try_from(crate::ctl::render::memory_bytes(&rec.counters)).unwrap_or(i64::MAX),
            );
            entes.inc();
        }
        drop(t);
        for c in [restarts, failures, served, failed] {
            r.register(Box::new(c))?;
        }
        r.register(Box::new(state))?;
        r.register(Box::new(cpu))?;
        r.register(Box::new(memory))?;
        r.register(Box::new(entes))
    }

    /// How long each Ente's calls took, as the bus counted them: a
    /// histogram family made here from the bus's buckets (the crate's own
    /// histogram would count a second time, under a lock).
    fn latency(&self) -> MetricFamily {
        let mut family = MetricFamily::default();
        family.set_name("ente_call_duration_seconds".into());
        family.set_help("How long each Ente took to serve a call (served or failed).".into());
        family.set_field_type(MetricType::HISTOGRAM);
        let t = self.handles.read();
        let metrics = t
            .iter()
            .map(|rec| {
                let read = self
                    .handles
                    .bus
                    .slot(rec.id)
                    .map(|slot| slot.latency.read())
                    .unwrap_or_else(|| ente_bus::Latency::default().read());
                let mut h = Histogram::default();
                h.set_sample_count(read.count);
                h.set_sample_sum(read.sum_seconds);
                h.set_bucket(
                    read.buckets
                        .iter()
                        .map(|&(bound, n)| {
                            let mut b = Bucket::default();
                            b.set_upper_bound(bound);
                            b.set_cumulative_count(n);
                            b
                        })
                        .collect(),
                );
                let mut m = Metric::default();
                m.set_label(vec![
                    label_pair("ente", rec.id.to_string()),
                    label_pair("label", rec.label().to_owned()),
                ]);
                m.set_histogram(h);
                m
            })
            .collect();
        family.set_metric(metrics);
        family
    }

    fn host(&self, r: &Registry) -> prometheus::Result<()> {
        let t = &self.tally;
        let total = |name: &str, help: &str, v: &AtomicU64| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            c.inc_by(v.load(Ordering::Relaxed));
            Ok(c)
        };
        for c in [
            total(
                "ente_leases_granted_total",
                "Leases the mediator granted.",
                &t.granted,
            )?,
            total(
                "ente_leases_denied_total",
                "Leases the mediator denied.",
                &t.denied,
            )?,
            total("ente_leases_renewed_total", "Leases renewed.", &t.renewed)?,
            total("ente_leases_expired_total", "Leases expired.", &t.expired)?,
            total(
                "ente_requests_refused_total",
                "Requests of ente:core/graph refused.",
                &t.refused,
            )?,
            total(
                "ente_uevents_delivered_total",
                "Kernel uevents handed to device holders.",
                &t.uevents,
            )?,
            total(
                "ente_events_total",
                "Events on the host's spine.",
                &t.events,
            )?,
            total(
                "ente_metrics_events_missed_total",
                "Events the metrics consumer fell behind on (its counts miss them).",
                &t.missed,
            )?,
        ] {
            r.register(Box::new(c))?;
        }
        let gauge = |name: &str, help: &str, v: u64| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
            Ok(g)
        };
        r.register(Box::new(gauge(
            "ente_leases_active",
            "Leases held now.",
            self.handles.bus.leases().len() as u64,
        )?))?;
        if let Some(audit) = &self.audit {
            r.register(Box::new(gauge(
                "ente_audit_entries",
                "Entries of the audit chain, committed.",
                audit.head().map_or(0, |(seq, _)| seq),
            )?))?;
        }
        Ok(())
    }
}

fn label_pair(name: &str, value: String) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.into());
    l.set_value(value);
    l
}

async fn count(mut events: ente_core::Subscription, t: Arc<Tally>) {
    loop {
        let e = match events.next().await {
            Next::Event(e) => e,
            Next::Missed(n) => {
                t.missed.fetch_add(n, Ordering::Relaxed);
                continue;
            }
            Next::Closed => return,
        };
        t.events.store(e.seq, Ordering::Relaxed);
        let counter = match &e.kind {
            Kind::Lease(LeaseEvent::Granted { .. }) => &t.granted,
            Kind::Lease(LeaseEvent::Denied { .. }) => &t.denied,
            Kind::Lease(LeaseEvent::Renewed { .. }) => &t.renewed,
            Kind::Lease(LeaseEvent::Expired { .. }) => &t.expired,
            Kind::Refused { .. } => &t.refused,
            Kind::Uevent { delivered, .. } => {
                t.uevents.fetch_add(*delivered as u64, Ordering::Relaxed);
                continue;
            }
            _ => continue,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Serve GET /metrics on `addr` (plain HTTP/1.1, one request per
/// connection; anything else is answered 404 or 400); the address bound
/// (a port 0 becomes the one given). A small responder written here: the
/// one request it takes needs no HTTP stack.
pub async fn serve_http(
    addr: std::net::SocketAddr,
    metrics: Metrics,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics {addr}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("--metrics {addr}: {e}"))?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let m = metrics.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), answer(stream, &m))
                    .await;
            });
        }
    });
    Ok((bound, task))
}

async fn answer(mut stream: tokio::net::TcpStream, m: &Metrics) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > 8192 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let (status, body) = match line.split(|&b| b == b' ').collect::<Vec<_>>().as_slice() {
        [b"GET", path, _] if path.starts_with(b"/metrics") => match m.render() {
            Ok(text) => ("200 OK", text),
            Err(e) => ("500 Internal Server Error", format!("{e}\n")),
        },
        [b"GET", ..] => ("404 Not Found", "only /metrics is here\n".to_owned()),
        _ => ("400 Bad Request", "GET /metrics\n".to_owned()),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}
