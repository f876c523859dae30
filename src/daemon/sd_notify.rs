//! systemd's notify protocol (`sd_notify(3)`), for `Type=notify` units: `READY=1` once the
//! first cycle finished (when `/-/ready` turns 200), `RELOADING=1` … `READY=1` around a
//! reload, `STOPPING=1` when a signal starts the drain.
//!
//! The protocol is one datagram per message to the socket named by `$NOTIFY_SOCKET` (a
//! path, or `@name` in the abstract namespace); a dozen lines, so no crate. Without the
//! variable (not under systemd) every call does nothing. `MONOTONIC_USEC` is not sent with
//! `RELOADING=1`: only `Type=notify-reload` needs it (systemd ≥ 253, newer than Debian 12's),
//! and the shipped unit reloads with `ExecReload=/bin/kill -HUP $MAINPID` as the Debian
//! Prometheus units do.

/// Where to send notifications, if systemd asked for them.
#[derive(Debug, Default)]
pub struct SdNotify {
    #[cfg(unix)]
    target: Option<(std::os::unix::net::UnixDatagram, std::os::unix::net::SocketAddr)>,
}

impl SdNotify {
    /// From `$NOTIFY_SOCKET`; inert when it is unset or unusable (logged).
    pub fn from_env() -> SdNotify {
        #[cfg(unix)]
        {
            let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
                return SdNotify::default();
            };
            match open(&name) {
                Ok(target) => SdNotify { target: Some(target) },
                Err(e) => {
                    tracing::warn!(socket = ?name, error = %e, "NOTIFY_SOCKET is set but unusable; not notifying systemd.");
                    SdNotify::default()
                }
            }
        }
        #[cfg(not(unix))]
        SdNotify::default()
    }

    /// Sends `state` (newline-separated `KEY=value` pairs). A failure is logged, never fatal.
    pub fn send(&self, state: &str) {
        #[cfg(unix)]
        if let Some((socket, addr)) = &self.target
            && let Err(e) = socket.send_to_addr(state.as_bytes(), addr)
        {
            tracing::warn!(error = %e, "Could not notify systemd.");
        }
        #[cfg(not(unix))]
        let _ = state;
    }
}

#[cfg(unix)]
fn open(
    name: &std::ffi::OsStr,
) -> std::io::Result<(std::os::unix::net::UnixDatagram, std::os::unix::net::SocketAddr)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = name.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(abstract_name) => {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name)?
        }
        _ => SocketAddr::from_pathname(std::path::Path::new(name))?,
    };
    Ok((UnixDatagram::unbound()?, addr))
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_reach_the_socket_named_by_the_path() {
        let dir = std::env::temp_dir().join(format!("opsadvisor-sdnotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let (socket, addr) = open(path.as_os_str()).unwrap();
        let n = SdNotify { target: Some((socket, addr)) };
        n.send("READY=1\nSTATUS=ok");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=ok");
        // Without the variable nothing is sent and nothing fails.
        SdNotify::default().send("READY=1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
