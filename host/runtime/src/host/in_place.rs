//! The `ente:core` host functions that take a string or a list from a
//! guest (`journal.log`, `bus.invoke`, `graph.*`), defined by hand so that
//! they read it in place in the guest's memory: a guest that passes 100 MB
//! gets its refusal without the host copying 100 MB first. What is kept is
//! bounded: a journal line is cut, a body is copied only when the bus can
//! carry it, a card only up to a card's size, an id only if it could be one.

use crate::bindings::{BusError, Endpoint, Level};
use crate::host::journal_gate::MAX_LINE;
use crate::state::EnteState;
use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Lift, Linker, WasmList, WasmStr};

/// `ente:core/types.endpoint`, its interface read in place.
#[derive(ComponentType, Lift)]
#[component(record)]
struct EndpointRef {
    interface: WasmStr,
    version: u32,
}

type Cx<'a> = StoreContextMut<'a, EnteState>;

/// The largest card `graph.spawn` reads.
const MAX_CARD: usize = 1 << 20;
/// The longest text that can be an Ente id (one is 26 characters).
const MAX_ID: usize = 64;

pub(crate) fn journal(l: &mut Linker<EnteState>) -> wasmtime::Result<()> {
    let mut i = l.instance("ente:core/journal@0.1.0")?;
    i.func_wrap("log", |cx: Cx<'_>, (level, message): (Level, WasmStr)| {
        let text = message.to_str(&cx)?;
        // The gate keeps at most MAX_LINE bytes of it, and says what it cut.
        cx.data().journal.line(level, &text);
        Ok(())
    })
}

/// Why `interface` cannot name an endpoint, if it cannot.
fn malformed(interface: &str) -> Option<String> {
    let b = interface.as_bytes();
    if b.len() == 32 && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let shown = if b.len() > 40 {
        format!("{} bytes", b.len())
    } else {
        format!("`{}`", interface.escape_debug())
    };
    Some(format!(
        "malformed endpoint: the interface is {shown}; an interface is 32 lowercase hex characters"
    ))
}

pub(crate) fn bus(l: &mut Linker<EnteState>) -> wasmtime::Result<()> {
    let mut i = l.instance("ente:core/bus@0.1.0")?;
    i.func_wrap(
        "invoke",
        |cx: Cx<'_>, (target, body): (EndpointRef, WasmList<u8>)| {
            let s = cx.data();
            let Some(port) = &s.bus else {
                return Ok((Err(BusError::NoProvider),));
            };
            let interface = target.interface.to_str(&cx)?;
            if let Some(why) = malformed(&interface) {
                return Ok((Err(BusError::Denied(why)),));
            }
            let max = port.max_request();
            if body.len() > max {
                return Ok((Err(BusError::TooLarge(max as u64)),));
            }
            let endpoint = Endpoint {
                interface: interface.into_owned(),
                version: target.version,
            };
            let bytes = body.as_le_slice(&cx).to_vec();
            // The caller is the store's identity: a guest cannot choose it.
            Ok((port.invoke(&s.identity, endpoint, bytes),))
        },
    )
}

pub(crate) fn graph(l: &mut Linker<EnteState>) -> wasmtime::Result<()> {
    let mut i = l.instance("ente:core/graph@0.1.0")?;
    i.func_wrap("spawn", |cx: Cx<'_>, (card,): (WasmStr,)| {
        let card = card.to_str(&cx)?;
        if card.len() > MAX_CARD {
            return Ok((Err(format!(
                "the card is {} bytes, more than a card may be ({MAX_CARD} bytes)",
                card.len()
            )),));
        }
        let card = card.into_owned();
        let s = cx.data();
        let within = s.clock.left();
        Ok((match &s.graph {
            Some(g) => g.spawn(&s.identity, card, within),
            None => Err("this Ente holds no Spawn capability".into()),
        },))
    })?;
    for name in ["stop", "restart"] {
        i.func_wrap(name, move |cx: Cx<'_>, (id,): (WasmStr,)| {
            let id = id.to_str(&cx)?;
            if id.len() > MAX_ID {
                return Ok((Err(format!("a {} byte text is not an Ente id", id.len())),));
            }
            let id = id.into_owned();
            let s = cx.data();
            let within = s.clock.left();
            Ok((match &s.graph {
                Some(g) if name == "stop" => g.stop(&s.identity, id, within),
                Some(g) => g.restart(&s.identity, id, within),
                None => Err("this Ente holds no Spawn capability".into()),
            },))
        })?;
    }
    Ok(())
}

const _: () = assert!(MAX_LINE < MAX_CARD);
