//! Loopback ports for services that tests and the local stack start as processes.
//!
//! A port found by binding port 0 comes from the kernel's ephemeral range, the same range every
//! outgoing connection on the machine draws its local port from: between the probe and the
//! service's own bind, a busy test run's client connections can take it ("Address already in
//! use"). These ports are drawn instead from just below that range, where only a listener that
//! asks for the exact number can land, and never twice in one process.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// The lowest port handed out.
const LOWEST: u16 = 20_000;

/// Ports this process already handed out.
static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port on 127.0.0.1 that is free now, outside the ephemeral range, and not handed out
/// before by this process.
pub fn free_port() -> std::io::Result<u16> {
    let ceiling = ephemeral_start().max(LOWEST + 1_000);
    let span = u64::from(ceiling - LOWEST);
    let seed = RandomState::new();
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for attempt in 0u64..1_000 {
        let offset = seed.hash_one((std::process::id(), attempt)) % span;
        let port = LOWEST + u16::try_from(offset).unwrap_or(0);
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            given.insert(port);
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        "no free loopback port below the ephemeral range after 1000 tries",
    ))
}

/// The first port of the kernel's ephemeral range (Linux's default when unreadable).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().expect("port")).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        let ceiling = ephemeral_start().max(LOWEST + 1_000);
        assert!(ports.iter().all(|p| (LOWEST..ceiling).contains(p)));
    }
}
