//! The guest's clock under software emulation.
//!
//! Under TCG the guest's TSC is the host's, so it ticks at the host's rate.
//! The kernel learns that rate by timing it against the emulated PIT; when
//! the host is busy, QEMU's thread is descheduled during that window, the
//! calibration fails, the TSC is marked unstable and, with no HPET or ACPI
//! PM timer on microvm, the boot stalls before /init (on a loaded 2-core
//! host, 8 boots in 10). Measuring the rate here, against the host's own
//! monotonic clock, and giving it to the kernel as `tsc_early_khz` skips the
//! calibration: the guest's clock runs at the same rate, and no boot stalls.

use std::time::{Duration, Instant};

/// How long the host's TSC is timed.
const WINDOW: Duration = Duration::from_millis(100);

/// The kernel argument that gives the guest its TSC rate, with a leading
/// space, or nothing where the host's TSC cannot stand in for a clock.
pub fn kernel_args() -> String {
    match host_tsc_khz() {
        Some(khz) => format!(" tsc_early_khz={khz}"),
        None => String::new(),
    }
}

/// The host TSC's rate in kHz, if it is invariant (`constant_tsc` and
/// `nonstop_tsc`): the rate the kernel would calibrate on a quiet host.
pub fn host_tsc_khz() -> Option<u64> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    if !invariant_tsc(&cpuinfo) {
        return None;
    }
    let (ticks, elapsed) = time_tsc(WINDOW)?;
    khz(ticks, elapsed)
}

/// Whether the first CPU's flags promise a TSC of constant rate that does
/// not stop in idle states.
pub fn invariant_tsc(cpuinfo: &str) -> bool {
    let Some(flags) = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags").map(|rest| rest.trim_start()))
        .and_then(|rest| rest.strip_prefix(':'))
    else {
        return false;
    };
    let has = |name: &str| flags.split_whitespace().any(|f| f == name);
    has("constant_tsc") && has("nonstop_tsc")
}

/// TSC ticks per millisecond of `elapsed`, rounded; `None` for a window too
/// short to mean anything or a rate no x86 CPU has (under 100 MHz).
pub fn khz(ticks: u64, elapsed: Duration) -> Option<u64> {
    let micros = u64::try_from(elapsed.as_micros()).ok()?;
    if micros < 10_000 {
        return None;
    }
    let khz = (u128::from(ticks) * 1000 + u128::from(micros) / 2) / u128::from(micros);
    u64::try_from(khz).ok().filter(|&k| k >= 100_000)
}

#[cfg(target_arch = "x86_64")]
fn time_tsc(window: Duration) -> Option<(u64, Duration)> {
    // SAFETY: `rdtsc` reads a counter: it touches no memory, and every
    // x86_64 CPU has it (the baseline ISA includes TSC).
    let read = || unsafe { core::arch::x86_64::_rdtsc() };
    let start = Instant::now();
    let t0 = read();
    std::thread::sleep(window);
    let t1 = read();
    let elapsed = start.elapsed();
    Some((t1.checked_sub(t0)?, elapsed))
}

/// Elsewhere QEMU's emulated TSC follows another clock: the kernel
/// calibrates it.
#[cfg(not(target_arch = "x86_64"))]
fn time_tsc(_window: Duration) -> Option<(u64, Duration)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_ticks_per_millisecond() {
        let ms100 = Duration::from_millis(100);
        assert_eq!(khz(260_000_000, ms100), Some(2_600_000));
        assert_eq!(khz(260_000_049, ms100), Some(2_600_000));
        assert_eq!(khz(260_000_050, ms100), Some(2_600_001));
    }

    #[test]
    fn a_short_window_or_an_absurd_rate_gives_nothing() {
        assert_eq!(khz(26_000, Duration::from_millis(1)), None);
        assert_eq!(khz(1_000, Duration::from_millis(100)), None);
    }

    #[test]
    fn only_an_invariant_tsc_is_trusted() {
        let both = "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n";
        assert!(invariant_tsc(both));
        let constant_only = "flags\t\t: fpu tsc constant_tsc\n";
        assert!(!invariant_tsc(constant_only));
        // A flag named like another is not it.
        assert!(!invariant_tsc("flags : constant_tsc_x nonstop_tsc\n"));
        assert!(!invariant_tsc("processor : 0\n"));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn this_host_measures_a_plausible_rate() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        if invariant_tsc(&cpuinfo) {
            let khz = host_tsc_khz().expect("an invariant TSC has a rate");
            assert!((100_000..10_000_000).contains(&khz), "{khz} kHz");
            assert!(kernel_args().starts_with(" tsc_early_khz="));
        } else {
            assert_eq!(kernel_args(), "");
        }
    }
}
