//! `ente ctl`: the operator's surface over the control socket, with the
//! verbs and habits of systemctl and journalctl (`server.rs` the host's
//! side, `client.rs` the command's, `render.rs` what both show).

pub mod client;
pub(crate) mod render;
pub mod server;

pub use server::{APPLIANCE_SOCKET, History, Serving, serve, socket_in};
