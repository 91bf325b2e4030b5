//! One module per lifecycle action, each an `impl Core` block: what the
//! core does to start, stop, restart (supervise), spawn and deliver to an
//! Ente, and what it does when each job ends.

mod brain;
pub(crate) use brain::{feed_brain, record_rule};
mod deliver;
pub use deliver::device_class;
mod save;
pub(crate) use save::Saving;
mod spawn;
mod start;
mod stop;
mod supervise;
