//! Endpoints that never answer, for availability checks that must not wait on them.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

/// A TCP port on 127.0.0.1 where a connection attempt hangs: the listener's accept queue is
/// full and nobody accepts, so the kernel drops further SYNs (as a firewall that swallows
/// packets would). Keep the value alive while it is used.
pub struct Blackhole {
    listener: TcpListener,
    _filler: TcpStream,
}

impl Blackhole {
    pub fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        // Calling listen again on Linux sets the backlog: 0 leaves room for one connection.
        // SAFETY: listen(2) on a socket this function owns; no memory is passed.
        let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
        assert_eq!(rc, 0, "listen(fd, 0) failed");
        let filler = TcpStream::connect(listener.local_addr().unwrap()).expect("fill the queue");
        Blackhole {
            listener,
            _filler: filler,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }
}

/// A server that accepts connections (the kernel completes them) but never reads or answers:
/// an HTTP request to it waits forever.
pub struct Silent {
    listener: TcpListener,
}

impl Silent {
    pub fn start() -> Silent {
        Silent {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }
}
