//! The host side of `ente:native/process`, linked into the native shim
//! alone: each call goes to the body's [`ProcessPort`] with the time left
//! of the shim's call, and ends early when the host kills the body.

use crate::bindings::Endpoint;
use crate::bindings::ente::native::process;
use crate::state::EnteState;

const NO_PORT: &str = "this host runs no native program for this component";

impl process::Host for EnteState {
    fn spawn(&mut self) -> Result<u32, String> {
        self.process
            .as_ref()
            .ok_or(NO_PORT)?
            .spawn(self.clock.left())
    }

    fn await_ready(&mut self) -> Result<(), String> {
        let port = self.process.as_ref().ok_or(NO_PORT)?;
        let interrupt = self.interrupt.clone();
        port.await_ready(self.clock.left(), &|| interrupt.is_killed())
    }

    fn deliver(
        &mut self,
        from: String,
        endpoint_interface: String,
        endpoint_version: u32,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let target = Endpoint {
            interface: endpoint_interface,
            version: endpoint_version,
        };
        let port = self.process.as_ref().ok_or(NO_PORT)?;
        port.deliver(&from, &target, body, self.clock.left())
    }

    fn stop(&mut self) -> String {
        match &self.process {
            Some(port) => port.stop(self.clock.left()),
            None => NO_PORT.to_owned(),
        }
    }
}
