//! Requests to stop a long-running command: Ctrl-C, and on Unix also
//! SIGTERM (what service managers and `kill` send).
//!
//! The handlers are installed once and stay installed, so a signal that
//! arrives while the command is busy is not lost: the next
//! [`StopSignals::next`] completes at once.

use std::io;

/// The stop requests a command listens to.
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers; from now on these signals no longer end the
    /// process by themselves.
    ///
    /// # Errors
    ///
    /// When a handler cannot be installed.
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};

            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Completes at the next stop request, naming it.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "interrupt",
                _ = self.terminate.recv() => "terminate",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "interrupt",
                // Without a handler no request can come; wait forever
                // rather than stopping at once.
                Err(_) => std::future::pending().await,
            }
        }
    }
}
