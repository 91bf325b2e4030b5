//! `ente-client`: how a native program speaks on ente's bus.
//!
//! A native Ente's program finds the bus's Unix socket in `ENTE_BUS`. The
//! host knows who connects from the socket's peer credentials (the pid,
//! mapped to the Ente whose process tree holds it): a program never says
//! who it is, and a process that is no native Ente's is refused.
//!
//! Every message is a frame: its length as 4 bytes little-endian, then
//! that many bytes of postcard. A frame longer than [`MAX_FRAME`], one that
//! does not decode, or one cut short closes the connection (the host goes
//! on). [`Client::call`] invokes an endpoint as the Ente; [`Client::serve`]
//! answers the calls to the Ente's endpoints.

mod frame;

pub use frame::{Down, FrameError, MAX_FRAME, Up, WireError, read_frame, write_frame};

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable that names the bus's socket.
pub const BUS_ENV: &str = "ENTE_BUS";

/// Why a client could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{BUS_ENV} is not set: this program does not run as a native Ente")]
    NoBus,
    #[error("cannot connect to the bus at {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    #[error("the bus refused this process: {0}")]
    Refused(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("the bus answered out of turn: {0}")]
    Protocol(String),
    #[error("the call failed: {0}")]
    Call(WireError),
}

/// One delivery to a serving program: a call to one of its endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The caller's Ente id, stamped by the host.
    pub from: String,
    pub interface: String,
    pub version: u32,
    pub body: Vec<u8>,
}

/// A connection to the bus.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    next: u64,
}

impl Client {
    /// Connect to the socket `ENTE_BUS` names.
    pub fn connect() -> Result<Client, ClientError> {
        let path = std::env::var_os(BUS_ENV).ok_or(ClientError::NoBus)?;
        Client::connect_to(Path::new(&path))
    }

    pub fn connect_to(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Client { stream, next: 1 })
    }

    /// Wait at most `limit` for each answer (`None`: as long as it takes).
    pub fn set_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(limit)
    }

    /// Call `interface@version` with `body` as this program's Ente.
    pub fn call(
        &mut self,
        interface: &str,
        version: u32,
        body: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        let id = self.next;
        self.next += 1;
        self.send(&Up::Call {
            id,
            interface: interface.to_owned(),
            version,
            body: body.to_vec(),
        })?;
        match read_frame::<Down>(&mut self.stream)? {
            Down::Reply { id: got, result } if got == id => result.map_err(ClientError::Call),
            Down::Refused { reason } => Err(ClientError::Refused(reason)),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }

    /// Write `up`. A host that refuses this process says why and closes
    /// at once, and the write may then fail (a broken pipe) with the
    /// refusal already waiting to be read: it is read and returned.
    fn send(&mut self, up: &Up) -> Result<(), ClientError> {
        match write_frame(&mut self.stream, up) {
            Ok(()) => Ok(()),
            Err(e) => match read_frame::<Down>(&mut self.stream) {
                Ok(Down::Refused { reason }) => Err(ClientError::Refused(reason)),
                _ => Err(e.into()),
            },
        }
    }

    /// Send sd_notify variables for this program's Legacy Ente.
    pub fn notify(&mut self, vars: &[String]) -> Result<(), ClientError> {
        self.send(&Up::Notify {
            vars: vars.to_vec(),
        })?;
        match read_frame::<Down>(&mut self.stream)? {
            Down::Reply { id: 0, result } => result.map(|_| ()).map_err(ClientError::Call),
            Down::Refused { reason } => Err(ClientError::Refused(reason)),
            other => Err(ClientError::Protocol(format!("{other:?}"))),
        }
    }

    /// Answer every call to this Ente's endpoints with `handler`, until the
    /// host closes the connection (the Ente stops). `serving` runs once the
    /// host has taken this connection as the Ente's server (a program that
    /// serves says it is ready then).
    pub fn serve(
        mut self,
        serving: impl FnOnce(),
        mut handler: impl FnMut(Request) -> Result<Vec<u8>, String>,
    ) -> Result<(), ClientError> {
        self.send(&Up::Serve)?;
        match read_frame::<Down>(&mut self.stream)? {
            Down::Serving => serving(),
            Down::Refused { reason } => return Err(ClientError::Refused(reason)),
            other => return Err(ClientError::Protocol(format!("{other:?}"))),
        }
        loop {
            let down = match read_frame::<Down>(&mut self.stream) {
                Ok(d) => d,
                Err(FrameError::Closed) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            match down {
                Down::Deliver {
                    id,
                    from,
                    interface,
                    version,
                    body,
                } => {
                    let result = handler(Request {
                        from,
                        interface,
                        version,
                        body,
                    });
                    write_frame(&mut self.stream, &Up::Answer { id, result })?;
                }
                Down::Refused { reason } => return Err(ClientError::Refused(reason)),
                other => return Err(ClientError::Protocol(format!("{other:?}"))),
            }
        }
    }
}
