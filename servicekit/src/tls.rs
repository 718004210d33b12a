//! The accept loop of both services' TLS ports: accepts TCP connections, runs each TLS
//! handshake in its own task with a deadline (so a slow client cannot stall others), and yields
//! only the connections whose handshake succeeded (protocol version and, where required, client
//! certificate verified by rustls).
//!
//! The services run their own accept loop instead of tonic's `ServerTlsConfig` because tonic
//! offers no way to restrict protocol versions; the streams handed to `serve_with_incoming` are
//! `tokio_rustls::server::TlsStream<TcpStream>`, so `Request::peer_certs()` still works.

use std::{io, sync::Arc, time::Duration};

use rustls::ServerConfig;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tokio_util::sync::CancellationToken;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight at once; further connections wait in the kernel backlog.
const MAX_PENDING_HANDSHAKES: usize = 256;

/// Turns a bound listener into a stream of verified TLS connections for
/// `tonic::transport::Server::serve_with_incoming_shutdown`. The stream ends when `shutdown`
/// is cancelled, so no new connection is accepted while in-flight requests drain.
pub fn tls_incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<TlsStream<TcpStream>, io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    let permits = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                () = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (tcp, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(error) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let _permit = permit;
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    // Refused handshakes (no certificate, unknown CA, expired, TLS 1.2) are
                    // the client's problem; log at debug so a scanner cannot flood the logs.
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake refused"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
