//! Serving the API over TLS: an [`axum::serve::Listener`] that hands axum connections whose
//! rustls handshake (tokio-rustls) already finished, so routing, keep-alive and graceful
//! shutdown stay axum's.
//!
//! Why handshakes run in their own tasks: `Listener::accept` is called in a loop by one
//! task, and a client that opens a connection and says nothing would otherwise stall every
//! other client. Each handshake has 10 s to finish.
//!
//! The TLS settings are taken from [`WebConfig::current`] at every handshake, so a rotated
//! certificate applies to the next connection (exporter-toolkit re-reads its config in
//! `GetConfigForClient`). A client speaking plain HTTP to the TLS port gets
//! `400 Client sent an HTTP request to an HTTPS server.`, as from Go's net/http, instead of a
//! connection that just closes.

use super::web_config::WebConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections waiting for axum; more wait in their handshake tasks.
const READY_QUEUE: usize = 64;

/// TLS connections, handshake done, for `axum::serve`.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` and shakes hands with the settings `web` has at each connection.
    /// The accepting task ends when the listener is dropped.
    ///
    /// # Errors
    /// The listener's local address cannot be read.
    pub fn new(tcp: TcpListener, web: Arc<WebConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = tx.closed() => break,
                    accepted = tcp.accept() => accepted,
                };
                match accepted {
                    Ok((stream, addr)) => {
                        tokio::spawn(handshake(stream, addr, Arc::clone(&web), tx.clone()));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off, as axum does.
                        tracing::warn!(error = %e, "Accepting a connection failed.");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok(TlsListener { ready, local })
    }
}

async fn handshake(
    stream: TcpStream,
    addr: SocketAddr,
    web: Arc<WebConfig>,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    // A TLS connection starts with a handshake record (0x16); anything else that looks like
    // text is someone speaking HTTP.
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0].is_ascii_alphabetic() => {
            let mut stream = stream;
            let _ = stream
                .write_all(
                    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
                )
                .await;
            let _ = stream.shutdown().await;
            return;
        }
        Ok(Ok(1)) => {}
        _ => return,
    }
    let config = match web.current() {
        Ok(settings) => match &settings.tls {
            Some(c) => Arc::clone(c),
            None => {
                tracing::error!(
                    file = %web.path().display(),
                    "tls_server_config was removed from the web config file; restart to serve plain HTTP. Refusing TLS connections."
                );
                return;
            }
        },
        // Logged by `current` once per change.
        Err(_) => return,
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let _ = tx.send((tls, addr)).await;
        }
        Ok(Err(e)) => tracing::debug!(peer = %addr, error = %e, "TLS handshake failed."),
        Err(_) => tracing::debug!(peer = %addr, "TLS handshake timed out."),
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task is gone (the runtime is shutting down): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
