//! A service as a child process on a loopback port: started, waited for, and killed on drop.

use anyhow::Context;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a service may take to listen.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A free port on 127.0.0.1, as the kernel hands it out.
pub fn try_free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A free port on 127.0.0.1 for a child process that binds it itself, later. Not from the
/// kernel's ephemeral range (where port 0 binds land and outgoing connections take their source
/// ports): a port chosen there may be taken by the time the child binds it.
pub fn port_for_child() -> Option<u16> {
    (0..200).find_map(|_| {
        let port = rand::Rng::gen_range(&mut rand::thread_rng(), 20_000..32_000);
        TcpListener::bind(("127.0.0.1", port)).ok().map(|_| port)
    })
}

/// [`try_free_port`] for tests: panics when no loopback port can be bound.
pub fn free_port() -> u16 {
    match try_free_port() {
        Ok(port) => port,
        Err(e) => panic!("cannot bind a free port on 127.0.0.1: {e}"),
    }
}

/// Waits until `child` accepts connections on 127.0.0.1:`port`; fails early if `child` exits.
pub fn wait_listening(
    name: &str,
    port: u16,
    child: &mut Child,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() && listener_is(child.id(), port) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("{name} exited while starting ({status})");
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "{name} did not listen on 127.0.0.1:{port} within {} s",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the socket listening on `port` is process `pid`'s. Another process can hold the port:
/// two test processes may pick the same free port for their children at once, and then the
/// child that lost the race would pass for started (the other's service answering for it) until
/// that service went away. Where the sockets cannot be read (not Linux), or no listening socket on
/// the port is found, it answers yes, as the connection alone did before.
fn listener_is(pid: u32, port: u16) -> bool {
    let sockets = listening_sockets(port);
    if sockets.is_empty() {
        return true;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return true;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
    })
}

/// The sockets listening on `port` (any local address), from `/proc/net/tcp{,6}`, as a process's
/// fd links name them: `socket:[inode]`.
fn listening_sockets(port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
                    (local.ends_with(&port) && *state == LISTEN)
                        .then(|| format!("socket:[{inode}]"))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A running service. Dropping it kills the process; a test that panicked keeps its folder.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub port: u16,
    child: Child,
    log: PathBuf,
    /// A temporary folder the service owns (None when the caller chose where its data lives).
    dir: Option<tempfile::TempDir>,
}

impl Service {
    /// Spawns `command` (stdout and stderr to `log`) and waits until it listens on `port`.
    pub(crate) fn launch(
        name: &str,
        mut command: Command,
        port: u16,
        log: PathBuf,
        dir: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Self> {
        let out = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
        let mut service = Self {
            name: name.to_string(),
            port,
            child,
            log,
            dir,
        };
        if let Err(e) = wait_listening(name, port, &mut service.child, READY_TIMEOUT) {
            // The folder may go with the service, so the error carries the end of the log.
            let _ = service.child.kill();
            let _ = service.child.wait();
            let tail = log_tail(&service.log, 20);
            anyhow::bail!(
                "{e}; the end of its log ({}):\n{tail}",
                service.log.display()
            );
        }
        Ok(service)
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the service writes its output.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGINT, so the service can save what it holds, then SIGKILL after `grace`.
    pub fn stop(mut self, grace: Duration) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.is_running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                eprintln!(
                    "{} log kept for the failed test: {}",
                    self.name,
                    dir.keep()
                        .join(self.log.file_name().unwrap_or_default())
                        .display()
                );
            }
        }
    }
}
