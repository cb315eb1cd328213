//! The service manager's notification protocol (`sd_notify`): a datagram of `KEY=value` lines
//! sent to the socket systemd names in `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
//! namespace). `start --wait` sends `READY=1` once the container runs and a `STATUS=` line that
//! `systemctl status` shows.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// Sends `message` to the manager's socket `socket` (the value of `$NOTIFY_SOCKET`).
pub fn notify(socket: &Path, message: &str) -> std::io::Result<()> {
    let datagram = UnixDatagram::unbound()?;
    let text = socket.to_string_lossy();
    if let Some(name) = text.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        datagram.send_to_addr(message.as_bytes(), &address)?;
    } else {
        datagram.send_to(message.as_bytes(), socket)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = UnixDatagram::bind(&path).unwrap();
        notify(&path, "READY=1\nSTATUS=running").unwrap();
        let mut buffer = [0u8; 64];
        let read = manager.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..read], b"READY=1\nSTATUS=running");
    }
}
