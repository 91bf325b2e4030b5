//! `ente ctl`: the operator's surface over the control socket, with the
//! verbs and habits of systemctl and journalctl (`server.rs` the host's
//! side, `client.rs` the command's, `render.rs` what both show).

mod brain;
pub mod client;
pub(crate) mod render;
pub mod replay;
pub mod server;

/// The largest rules file `ente ctl brain load` sends (within a frame).
pub const RULES_FILE_MAX: usize = 1 << 20;

pub use server::{APPLIANCE_SOCKET, History, Serving, serve, socket_in};
