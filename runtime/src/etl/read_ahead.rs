//! Reading on a second thread: the producer (here, the gzip inflater) fills chunks while the
//! consumer parses and encodes the previous ones, so on two cores inflate overlaps the rest. On one
//! core the cost is one channel hand-off per chunk.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes per chunk handed over.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight: one being filled, one queued, one being read.
const QUEUED: usize = 1;

/// The consumer's side: reads the chunks in order; a read error on the producer's side is returned
/// once, after the bytes read before it.
pub(crate) struct ChunkReader {
    chunks: Receiver<io::Result<Vec<u8>>>,
    spent: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    let spent = std::mem::replace(&mut self.current, chunk);
                    // The producer may have stopped: then the buffer is simply dropped.
                    let _ = self.spent.try_send(spent);
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Runs `consume` with a reader of `input`'s bytes while a scoped thread reads `input` ahead.
/// When `consume` returns early, the producer stops at its next chunk.
pub(crate) fn with_read_ahead<R: Read + Send, T>(
    mut input: R,
    consume: impl FnOnce(&mut ChunkReader) -> T,
) -> T {
    let (chunks_tx, chunks) = sync_channel::<io::Result<Vec<u8>>>(QUEUED);
    let (spent, spent_rx) = sync_channel::<Vec<u8>>(QUEUED + 2);
    std::thread::scope(|scope| {
        scope.spawn(move || loop {
            let mut chunk = spent_rx.try_recv().unwrap_or_default();
            chunk.resize(CHUNK, 0);
            let (filled, end) = fill(&mut input, &mut chunk);
            chunk.truncate(filled);
            if filled > 0 && chunks_tx.send(Ok(chunk)).is_err() {
                break;
            }
            match end {
                None => {}
                Some(Ok(())) => break,
                Some(Err(e)) => {
                    let _ = chunks_tx.send(Err(e));
                    break;
                }
            }
        });
        let mut reader = ChunkReader {
            chunks,
            spent,
            current: Vec::new(),
            at: 0,
            done: false,
        };
        consume(&mut reader)
        // `reader` drops here, before the scope joins the producer: a producer blocked on a full
        // channel then sees the disconnect and stops.
    })
}

/// Reads until `chunk` is full (then `None`) or the input ends (`Some(Ok)`) or fails (`Some(Err)`),
/// returning the bytes read before.
fn fill<R: Read>(input: &mut R, chunk: &mut [u8]) -> (usize, Option<io::Result<()>>) {
    let mut filled = 0;
    while filled < chunk.len() {
        match input.read(&mut chunk[filled..]) {
            Ok(0) => return (filled, Some(Ok(()))),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(Err(e))),
        }
    }
    (filled, None)
}
