//! The server: HTTP in, answers out, events delivered to callbacks or a channel.
//!
//! A `tiny_http` acceptor feeds a pool of worker threads. Each worker takes a
//! request, reads the body, **answers the camera first**, then parses the
//! body and runs your callbacks, so a slow callback never delays a camera's
//! `200`, and a callback stuck in one worker never stops the others.
//!
//! No client can take the workers away from the cameras: one address may
//! have only so many requests in progress (`per_address`), every body has a
//! deadline (`intake`, `watch`), and while some workers are held by slow
//! bodies, spares are started so that the configured number stay free
//! (`watch`, `spares`).

mod admit;
mod callbacks;
mod closing;
mod config;
mod deliver;
mod doorbell;
mod events;
mod forwarded;
mod generation;
mod guard;
mod intake;
mod net;
mod newcomers;
mod notices;
mod order;
#[cfg(target_os = "linux")]
mod own_fd;
mod pages;
mod per_address;
mod refusal;
mod shutdown;
mod sockets;
mod spares;
mod state;
mod stats;
mod supervisor;
mod watch;
mod worker;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;

pub use callbacks::UnparsedReason;
pub use config::{BuildError, Overflow, ServerBuilder};
pub use events::{Events, RecvTimeoutError, TryRecvError};
pub use guard::{Cidr, CidrError};
pub use pages::Page;
pub use refusal::Refusal;
pub use stats::{Camera, Protections, Stats};

use crate::body::Pool;
use crate::Event;
use closing::Closer;
use generation::{Current, Generation};
use guard::Credentials;
use per_address::PerAddress;
use state::Shared;
use supervisor::Supervisor;
use watch::Watch;
use worker::Worker;

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
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    rx: Option<Receiver<Event>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Holds the original listening socket until it exits.
    supervisor: Mutex<Option<JoinHandle<()>>>,
    /// Watches bodies in progress (see `watch`).
    watch: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("config", &self.shared.config)
            .field("callbacks", &self.shared.callbacks)
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

    fn start(builder: ServerBuilder) -> Result<Server, BuildError> {
        let ServerBuilder { config, callbacks } = builder;
        let listener = net::listen(config.bind, config.port, config.read_timeout)?;
        let bind_error = |source| BuildError::Bind {
            addr: SocketAddr::new(config.bind, config.port),
            source,
        };
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let first = Generation::start(0, &listener).map_err(bind_error)?;
        let (tx, rx) = crossbeam_channel::bounded(config.channel_capacity);
        let (notices, inbox) = notices::notices().map_err(BuildError::Spawn)?;
        let channel = config.channel.unwrap_or(callbacks.on_event.is_none());
        let credentials = config.credentials.as_ref().map(Credentials::new);
        // A closed connection's peer is remembered as long as tiny_http may
        // keep that connection open without traffic.
        let closer = Closer::new(&listener, config.read_timeout + Duration::from_secs(5));
        let shared = Arc::new(Shared {
            channel,
            callbacks,
            counters: Default::default(),
            listener,
            stopping: AtomicBool::new(false),
            live_workers: AtomicUsize::new(config.workers),
            busy: AtomicUsize::new(0),
            current: Current::new(first),
            local_addr,
            tx: Mutex::new(Some(tx)),
            notices,
            refusal_log: Default::default(),
            credentials,
            closer,
            per_address: PerAddress::new(config.max_per_address),
            newcomers: Default::default(),
            order: Default::default(),
            watch: Watch::default(),
            stopped: Default::default(),
            pool: Arc::new(Pool::new(config.workers * 2)),
            config,
        });
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .spawn(f)
                .map_err(|e| {
                    shutdown::begin(&shared);
                    BuildError::Spawn(e)
                })
        };
        let supervisor = Supervisor {
            shared: shared.clone(),
            inbox,
        };
        let supervisor = spawn(
            "viewtron-supervisor".into(),
            Box::new(move || supervisor.run()),
        )?;
        let workforce = spares::Workforce(shared.clone());
        let watch = spawn(
            "viewtron-watch".into(),
            Box::new(move || workforce.0.watch.run(&workforce)),
        )?;
        let mut workers = Vec::with_capacity(shared.config.workers);
        for i in 0..shared.config.workers {
            let worker = Worker::new(shared.clone());
            workers.push(spawn(
                format!("viewtron-worker-{i}"),
                Box::new(move || worker.run()),
            )?);
        }
        log::info!("listening on {local_addr} with {} workers", workers.len());
        Ok(Server {
            shared,
            local_addr,
            rx: Some(rx),
            workers: Mutex::new(workers),
            supervisor: Mutex::new(Some(supervisor)),
            watch: Mutex::new(Some(watch)),
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
        let handles = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            if handle.join().is_err() {
                log::error!("a worker thread panicked");
            }
        }
        // Another thread may be joining them: wait for the last one anyway.
        self.shared.stopped.wait();
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = supervisor {
            if handle.join().is_err() {
                log::error!("the supervisor thread panicked");
            }
        }
        let watch = self.watch.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = watch {
            if handle.join().is_err() {
                log::error!("the watch thread panicked");
            }
        }
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
        shutdown::begin(&self.shared);
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
            shared: self.shared.clone(),
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
        self.shared.stats()
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
    shared: Arc<Shared>,
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
        shutdown::begin(&self.shared);
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
        self.shared
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }
}
