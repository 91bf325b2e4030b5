//! Kernel uevents from NETLINK_KOBJECT_UEVENT.
//!
//! A message is `ACTION@DEVPATH\0` followed by `KEY=VALUE\0` pairs. Only
//! messages from the kernel (sender port 0) are taken; anything a process
//! sends to the group is dropped.

use nix::sys::socket::{
    AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recvfrom, setsockopt,
    socket, sockopt,
};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// The largest uevent message read (the kernel's own limit is 2048 + header).
const MAX_MESSAGE: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    pub action: String,
    pub devpath: String,
    pub subsystem: Option<String>,
    pub devname: Option<String>,
    pub seqnum: Option<u64>,
    pub modalias: Option<String>,
    /// Every KEY=VALUE of the message, the ones above included.
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UeventError {
    #[error("uevent message has no `ACTION@DEVPATH` header")]
    NoHeader,
    #[error("uevent field `{field}` is not KEY=VALUE")]
    BadField { field: String },
    #[error("uevent header says {header} but ACTION={env}")]
    Mismatch { header: String, env: String },
}

/// Parse one kernel uevent message.
pub fn parse(bytes: &[u8]) -> Result<Uevent, UeventError> {
    let mut fields = bytes
        .split(|&b| b == 0)
        .filter(|f| !f.is_empty())
        .map(String::from_utf8_lossy);
    let header = fields.next().ok_or(UeventError::NoHeader)?;
    let (action, devpath) = header.split_once('@').ok_or(UeventError::NoHeader)?;
    let (action, devpath) = (action.to_owned(), devpath.to_owned());
    let mut env = BTreeMap::new();
    for field in fields {
        let (k, v) = field.split_once('=').ok_or_else(|| UeventError::BadField {
            field: field.clone().into_owned(),
        })?;
        env.insert(k.to_owned(), v.to_owned());
    }
    if let Some(a) = env.get("ACTION")
        && *a != action
    {
        return Err(UeventError::Mismatch {
            header: action,
            env: a.clone(),
        });
    }
    Ok(Uevent {
        subsystem: env.get("SUBSYSTEM").cloned(),
        devname: env.get("DEVNAME").cloned(),
        seqnum: env.get("SEQNUM").and_then(|s| s.parse().ok()),
        modalias: env.get("MODALIAS").cloned(),
        action,
        devpath,
        env,
    })
}

/// What one read of the socket gave.
#[derive(Debug)]
pub enum Received {
    Event(Uevent),
    /// Not from the kernel: dropped.
    Foreign {
        port: u32,
    },
    Malformed(UeventError),
}

/// A socket bound to the kernel's uevent multicast group.
#[derive(Debug)]
pub struct UeventSocket {
    fd: OwnedFd,
}

impl UeventSocket {
    pub fn open() -> nix::Result<UeventSocket> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            SockProtocol::NetlinkKObjectUEvent,
        )?;
        // A burst at coldplug must not overflow: ask for a large buffer.
        let _ = setsockopt(&fd, sockopt::RcvBuf, &(4 << 20));
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 1))?;
        Ok(UeventSocket { fd })
    }

    /// Read one message; `Ok(None)` when nothing is waiting.
    pub fn recv(&self) -> nix::Result<Option<Received>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        match recvfrom::<NetlinkAddr>(self.fd.as_raw_fd(), &mut buf) {
            Ok((n, from)) => {
                let port = from.map_or(0, |a| a.pid());
                if port != 0 {
                    return Ok(Some(Received::Foreign { port }));
                }
                Ok(Some(match parse(&buf[..n]) {
                    Ok(e) => Received::Event(e),
                    Err(e) => Received::Malformed(e),
                }))
            }
            Err(nix::Error::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl AsFd for UeventSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for UeventSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
