//! [`Idle`]: a connection that fails once nothing has been read or written for a while, so an
//! idle HTTP/2 connection (hyper has no header timeout there) or a kept-alive HTTP/1.1 one
//! cannot hold one of the listener's connection slots for ever.
//!
//! Activity only records the time (no timer is touched on the hot path); the one timer is
//! moved forward when it fires early.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, closed with [`io::ErrorKind::TimedOut`] after `timeout` without a byte either way.
pub(crate) struct Idle<I> {
    inner: I,
    timeout: Duration,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<I> Idle<I> {
    pub(crate) fn new(inner: I, timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeout,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    /// Whether the connection has been idle for the whole timeout; while it has not, the timer
    /// is set to the new deadline (and registered with `cx`).
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let deadline = self.last_activity + self.timeout;
            if deadline <= Instant::now() {
                return true;
            }
            self.timer.as_mut().reset(deadline);
        }
    }

    fn idle_error(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("idle for {:?} (--idle-timeout-secs)", self.timeout),
        )
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Idle<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending if this.timed_out(cx) => Poll::Ready(Err(this.idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Idle<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.last_activity = Instant::now();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.last_activity = Instant::now();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_times_out_and_a_busy_one_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = Idle::new(server, Duration::from_secs(10));
        let mut client = client;
        // Busy: a byte every 6 s for a minute keeps it open.
        let talk = tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                client.write_all(b"x").await.unwrap();
            }
            client
        });
        let mut byte = [0u8; 1];
        for _ in 0..10 {
            server.read_exact(&mut byte).await.unwrap();
        }
        let _client = talk.await.unwrap();
        // Then silence: closed 10 s after the last byte.
        let started = Instant::now();
        let err = server.read(&mut byte).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}
