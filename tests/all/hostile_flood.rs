//! A flood of calls from one client: each call of the flooder is served or
//! answered `busy`, the host's memory stays bounded, and echo keeps serving
//! another client in turn (callers wait first come, first served, so the
//! flooder cannot starve anyone).

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_flooding_client_does_not_starve_echo_or_grow_the_host() {
    let flooder_ep = endpoint("flooder");
    let flooder = Ente::new("flooder", "hostile_caller")
        .provides(&flooder_ep)
        .requires(ECHO)
        .env("TARGET", &format!("{ECHO}@1"));
    let quiet = Ente::new("quiet", "client")
        .requires(ECHO)
        .requires(&flooder_ep);
    let mut cfg = config();
    cfg.call_deadline = Duration::from_secs(120);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), flooder, quiet]),
        cfg,
    );
    host.settled();
    // Warm up, then measure the host's memory around the flood.
    let _ = host.call_as("quiet", &flooder_ep, b"flood:1000");
    let before = rss_kib();
    let handles = host.handles.clone();
    let (quiet_id, flooder_ep2) = (host.id("quiet"), flooder_ep.clone());
    let flood = std::thread::spawn(move || {
        handles
            .bus
            .invoke(quiet_id, &crate::fixture::ep(&flooder_ep2), b"flood:20000")
    });
    // While the flood runs, the quiet client's own calls to echo get through.
    let t0 = Instant::now();
    let mut served = 0;
    while !flood.is_finished() {
        assert_eq!(host.call_as("quiet", ECHO, b"mine"), Ok(b"mine".to_vec()));
        served += 1;
    }
    let during = t0.elapsed();
    let answer = flood
        .join()
        .expect("flood thread")
        .expect("the flood is answered");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("ok 20000 of 20000"), "{answer}");
    assert!(
        served >= 100,
        "echo served the quiet client only {served} times during the flood"
    );
    contained(
        &format!("flood of 20,000 calls; the quiet client was served {served} times meanwhile"),
        during,
    );
    let after = rss_kib();
    assert!(
        after < before + 32 * 1024,
        "the host grew from {before} KiB to {after} KiB over the flood"
    );
}
