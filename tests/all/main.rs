//! The end-to-end tests of the host, in one binary (wasmtime is linked once
//! for all of them): real components from guests/, the real runtime, bus and
//! core, and the `ente` binary where a person would use it.
//!
//! The hostile suite (`hostile_*`) runs one hazard per test. Each asserts
//! that the host stays up, that the other Entes keep answering, and that
//! the spine recorded the event with its cause, and prints how long
//! containment took (`contained: ...`, shown with `--nocapture`).

mod cards;
mod components;
mod fixture;
mod support;

mod audit_chain_records_decisions;
mod audit_verify_reads_a_state_disk;
mod brain_acts_on_a_live_graph;
mod brain_state_reads_back;
mod check_cli;
mod cloudevents_are_valid_and_never_silently_lost;
#[cfg(feature = "nats")]
mod cloudevents_reach_a_nats_subject;
mod ctl_drives_a_running_host;
mod ente_test_harness;
mod filesystem_root_is_one_private_directory;
mod imports_are_checked_before_compiling;
mod languages;
mod link_refuses_ungranted_import;
mod linker_defines_only_the_wasi_imported;
mod mediator_denies_with_reason;
mod native_bus;
mod native_entes;
mod pack_denies_ungranted_wasi;
mod run_plugin_on_a_laptop;
mod snapshot_restores_children_and_state;
mod snapshot_show_reads_home_and_disk;
mod store_refuses_tampered_bytes;
mod uevents_reach_device_holders;
mod up_demo_starts_serves_and_stops;

mod dependencies_start_first;
mod spawn_authority;
mod supervision;
mod timers_wake_an_ente;
mod up_acts_on_sigterm_while_a_guest_spins;
mod up_runs_std_guests;

mod hostile_brain;
mod hostile_components;
mod hostile_crash_loop;
mod hostile_cycles;
mod hostile_flood;
mod hostile_host_calls;
mod hostile_infinite_loop;
mod hostile_journal_spam;
mod hostile_mediator;
mod hostile_memory_bomb;
mod hostile_native;
mod hostile_oversized;
mod hostile_recursion;
mod hostile_snapshot_save;
mod hostile_spawn_loop;
