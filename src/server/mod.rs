//! The server: HTTP in, answers out, events delivered to callbacks or a channel.
//!
//! Two layers, one way:
//!
//! - [`transport`]: tiny_http 0.12 and every repair it needs (its pool, its
//!   accept loop, connections it cannot close, bodies it cannot time out),
//!   behind a narrow interface: a request's head, its peer, its body as a
//!   reader with a deadline, and the ways to answer. Its module docs list
//!   each repair, the test that proves it, and what happens where it is
//!   unavailable.
//! - [`pipeline`]: what the server does with a request, in stages that own
//!   what they need: admit, route, read the body, **answer the camera
//!   first**, then parse and deliver to your callbacks or the channel, so a
//!   slow callback never delays a camera's `200`, and a callback stuck in
//!   one worker never stops the others.
//!
//! No client can take the workers away from the cameras: one address may
//! have only so many requests in progress, every body has a deadline
//! (`pipeline`'s intake), the transport cuts a read still waiting at it,
//! and while some workers are held by slow bodies it starts spares so that
//! the configured number stay free.
//!
//! The rest are the public types and the configuration they share.

mod callbacks;
mod config;
mod events;
mod forwarded;
mod guard;
mod net;
mod pages;
mod pipeline;
mod refusal;
mod stats;
mod transport;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam_channel::Receiver;

pub use callbacks::UnparsedReason;
pub use config::{BuildError, Overflow, ServerBuilder};
pub use events::{Events, RecvTimeoutError, TryRecvError};
pub use guard::{Cidr, CidrError};
pub use pages::Page;
pub use refusal::Refusal;
pub use stats::{Camera, Protections, Stats, TransportStats};

use crate::Event;
use config::Config;
use pipeline::Pipeline;
use transport::{Bound, Hire, Settings, Stopper, Transport};

/// A running event server.
///
/// [`ServerBuilder::build`] binds the socket and starts the workers. Then
/// either block in [`serve_forever`](Server::serve_forever) (callbacks) or
/// iterate [`events`](Server::events) (channel). Stop it from any thread with
/// a [`ShutdownHandle`].
///
/// ```no_run
/// use viewtron::Server;
///
/// let server = Server::builder()
///     .on_event(|event, ip| println!("[{}] {} from {ip}", event.category(), event.description()))
///     .build()?;
/// server.serve_forever(); // prints the banner, blocks until shut down
/// # Ok::<(), viewtron::BuildError>(())
/// ```
///
/// The channel loop:
///
/// ```no_run
/// let server = viewtron::Server::builder().build()?;
/// for event in server.events() {
///     println!("{:?} plate {:?}", event.category(), event.plate_number());
/// }
/// # Ok::<(), viewtron::BuildError>(())
/// ```
///
/// `Server` is `Send + Sync`: share it in an `Arc` to serve on one thread
/// while another reads [`stats`](Server::stats).
///
/// # Shutdown
///
/// After [`shutdown`](Server::shutdown), the server stops listening at once
/// (new connections are refused by the time [`wait`](Server::wait) or
/// `serve_forever` returns); workers answer and deliver every request already
/// received, then stop; [`events`](Server::events) ends once drained. Camera
/// connections that are still open stay open until the camera closes them
/// (tiny_http keeps no handle to close them); posts sent on them afterwards
/// are not answered, and the camera reconnects to whatever listens next.
pub struct Server {
    /// The checked settings, for `Debug`.
    config: Config,
    pipeline: Arc<Pipeline>,
    transport: Transport,
    local_addr: SocketAddr,
    rx: Option<Receiver<Event>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .field("callbacks", self.pipeline.callbacks())
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// Binds the socket and starts the workers; cameras are served from now
    /// on. Use [`Server::serve_forever`] to block, or [`Server::events`] to
    /// iterate.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// println!("listening on {}", server.local_addr());
    /// server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn build(self) -> Result<Server, BuildError> {
        Server::start(self.checked()?)
    }
}

impl Server {
    /// A builder with the defaults: port 5050 on all interfaces.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Binds, then starts the transport with a handler per worker from
    /// the pipeline (see `transport` for the boundary between the two).
    fn start(builder: ServerBuilder) -> Result<Server, BuildError> {
        let ServerBuilder { config, callbacks } = builder;
        let settings = Settings {
            workers: config.workers,
            max_workers: config.max_workers,
            read_timeout: config.read_timeout,
        };
        let bound = Bound::bind(config.bind, config.port, settings)?;
        let local_addr = bound.local_addr();
        let (tx, rx) = crossbeam_channel::bounded(config.channel_capacity);
        let channel = config.channel.unwrap_or(callbacks.on_event.is_none());
        let pipeline = Arc::new(Pipeline::new(
            &config,
            callbacks,
            channel,
            tx,
            bound.report(),
        ));
        let hire: Hire = {
            let pipeline = pipeline.clone();
            Box::new(move || pipeline.handler())
        };
        let transport = bound
            .start(hire)
            .inspect_err(|_| pipeline.close_channel())?;
        log::info!(
            "listening on {local_addr} with {} workers",
            transport.workers()
        );
        Ok(Server {
            config,
            pipeline,
            transport,
            local_addr,
            rx: Some(rx),
        })
    }

    /// The bound address (useful with port 0).
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Prints the banner and blocks until the server is shut down and every
    /// received request has been answered and delivered.
    ///
    /// The banner, on standard output (the only thing this library prints):
    ///
    /// ```text
    /// Viewtron Event Server
    /// Listening on http://192.168.1.100:5050
    /// Ready for camera events...
    /// ```
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// let stop = server.shutdown_handle();
    /// std::thread::spawn(move || stop.shutdown());
    /// server.serve_forever(); // returns once stopped
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn serve_forever(&self) {
        println!("Viewtron Event Server");
        println!("Listening on {}", self.url());
        println!("Ready for camera events...");
        self.wait();
    }

    /// The URL to configure on cameras: `http://<LAN IP>:<port>`. For a
    /// wildcard bind the LAN IP is the source address of the default route,
    /// found without sending any packet (a UDP `connect` only asks the
    /// kernel for a route); loopback when there is no route.
    ///
    /// ```
    /// let server = viewtron::Server::builder().bind("127.0.0.1".parse().unwrap()).port(0).build()?;
    /// assert_eq!(server.url(), format!("http://127.0.0.1:{}", server.local_addr().port()));
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn url(&self) -> String {
        let ip = net::lan_ip(self.local_addr.ip());
        format!("http://{}", net::url_authority(ip, self.local_addr.port()))
    }

    /// Blocks until the server is shut down and its workers have finished,
    /// without printing anything.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// server.shutdown();
    /// server.wait();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn wait(&self) {
        self.transport.wait();
    }

    /// Stops the server (see the type's docs on shutdown). Idempotent.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// server.shutdown();
    /// server.shutdown(); // no effect
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn shutdown(&self) {
        self.shutdown_handle().shutdown();
    }

    /// A cloneable handle that stops the server from any thread.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// let handle = server.shutdown_handle();
    /// let t = std::thread::spawn(move || server.serve_forever());
    /// handle.shutdown();
    /// t.join().unwrap();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            pipeline: self.pipeline.clone(),
            transport: self.transport.stopper(),
        }
    }

    /// A blocking iterator over events, in the order workers delivered them.
    /// It ends after shutdown, once every accepted event has been yielded.
    ///
    /// Events reach this channel when no [`on_event`](ServerBuilder::on_event)
    /// callback is set, or when [`channel(true)`](ServerBuilder::channel) asks
    /// for both. With the default [`Overflow::Block`], a full channel makes
    /// workers wait for you (nothing is lost; memory stays bounded by the
    /// channel capacity), so keep iterating.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// let events = server.events();
    /// server.shutdown();
    /// assert_eq!(events.count(), 0); // nothing was posted
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn events(&self) -> Events {
        Events::new(
            self.rx
                .clone()
                .expect("the receiver lives as long as the server"),
        )
    }

    /// A snapshot of the counters and cameras seen.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// assert_eq!(server.stats().requests, 0);
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.pipeline.stats()
    }
}

impl Drop for Server {
    /// Shuts down and waits for the workers. Events still queued for a
    /// dropped server with no live [`Events`] are counted as dropped.
    fn drop(&mut self) {
        self.shutdown();
        self.rx.take();
        self.wait();
    }
}

/// Stops a [`Server`] from any thread; cheap to clone.
///
/// ```
/// let server = viewtron::Server::builder().port(0).build()?;
/// let handle = server.shutdown_handle();
/// let other = handle.clone();
/// std::thread::spawn(move || other.shutdown()).join().unwrap();
/// assert!(handle.is_shutdown());
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    pipeline: Arc<Pipeline>,
    transport: Stopper,
}

impl ShutdownHandle {
    /// Stops the server. Idempotent.
    ///
    /// ```
    /// # let server = viewtron::Server::builder().port(0).build()?;
    /// server.shutdown_handle().shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn shutdown(&self) {
        // The order is the transport's shutdown sequence (its `run`
        // module): the channel's own sender first (step 2), so that only
        // the workers keep `events()` open; then stop accepting and wake
        // everyone (steps 1, 3, 4).
        self.pipeline.close_channel();
        self.transport.stop();
    }

    /// Whether shutdown has been requested.
    ///
    /// ```
    /// # let server = viewtron::Server::builder().port(0).build()?;
    /// assert!(!server.shutdown_handle().is_shutdown());
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.transport.is_stopped()
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }
}
