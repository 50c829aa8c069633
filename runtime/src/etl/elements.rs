//! The elements of one top-level JSON array, read from a byte stream into a reused buffer and handed
//! out as borrowed values.
//!
//! Each element is first read by [`direct::parse`], which checks a record against the contract and
//! leaves its values in slots in the same pass. An element that reader does not take is read as
//! before: its syntax checked by serde_json's raw-value reader over the slice (`&RawValue`), its text
//! then handed to [`super::record::parse`]. So exactly the same files and elements are accepted.

use std::io::{self, Read};

use serde::de::IgnoredAny;
use serde::Deserialize as _;
use serde_json::value::RawValue;

use super::convert::{classify, FileRejection};
use super::direct::{self, Parsed, RowSlots, Stop};
use super::schema::Column;

/// Bytes read from the input at a time; an element larger than what is left is read into a grown
/// buffer.
const CHUNK: usize = 256 * 1024;

pub(crate) struct ArrayElements<R: Read> {
    input: R,
    buf: Vec<u8>,
    /// Start of the bytes not yet consumed.
    at: usize,
    /// End of the bytes read so far.
    end: usize,
    eof: bool,
    state: State,
    /// Elements handed out so far.
    seen: u64,
}

/// One element of the array.
pub(crate) enum Element<'a> {
    /// A record that meets the contract, read in one pass: its values are in the [`RowSlots`] given,
    /// as spans of this text.
    Row(&'a str),
    /// Any other element, its syntax checked: the text for [`super::record::parse`].
    Text(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeArray,
    FirstElement,
    AfterElement,
    Done,
}

/// serde_json's whitespace between tokens.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

impl<R: Read> ArrayElements<R> {
    pub(crate) fn new(input: R) -> Self {
        Self {
            input,
            buf: vec![0; 2 * CHUNK],
            at: 0,
            end: 0,
            eof: false,
            state: State::BeforeArray,
            seen: 0,
        }
    }

    /// Reads more input behind the unconsumed bytes; false at the end of the input.
    fn refill(&mut self) -> Result<bool, FileRejection> {
        if self.eof {
            return Ok(false);
        }
        if self.at > 0 {
            self.buf.copy_within(self.at..self.end, 0);
            self.end -= self.at;
            self.at = 0;
        }
        if self.buf.len() - self.end < CHUNK {
            self.buf.resize(self.end + 2 * CHUNK, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FileRejection::Gzip(e.to_string())),
            }
        }
    }

    /// The next byte that is not whitespace (not consumed), or `None` at the end of the input.
    fn peek_token(&mut self) -> Result<Option<u8>, FileRejection> {
        loop {
            while self.at < self.end {
                let b = self.buf[self.at];
                if !is_space(b) {
                    return Ok(Some(b));
                }
                self.at += 1;
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    fn truncated(&self, what: &str) -> FileRejection {
        if self.seen > 0 {
            FileRejection::Json(format!("truncated after {} records: {what}", self.seen))
        } else {
            FileRejection::Json(what.to_owned())
        }
    }

    /// The next element, read into `row` when it is a record that meets the contract of `columns`;
    /// `None` after the closing bracket and the end of the input.
    pub(crate) fn next_record(
        &mut self,
        columns: &'static [Column],
        row: &mut RowSlots,
    ) -> Result<Option<Element<'_>>, FileRejection> {
        if !self.advance_to_element()? {
            return Ok(None);
        }
        let parsed = loop {
            match direct::parse(columns, &self.buf[self.at..self.end], row) {
                Ok(parsed) => break Some(parsed),
                // The raw-value reader would read more here too, so the reads stay the same.
                Err(Stop::NeedMore) if !self.eof => {
                    self.refill()?;
                }
                Err(_) => break None,
            }
        };
        let taken = match parsed {
            Some(Parsed { len, ascii: true }) => Some(len),
            Some(Parsed { len, ascii: false }) => {
                std::str::from_utf8(&self.buf[self.at..self.at + len])
                    .is_ok()
                    .then_some(len)
            }
            None => None,
        };
        if let Some(len) = taken {
            let start = self.at;
            self.at = start + len;
            self.seen += 1;
            self.state = State::AfterElement;
            // Checked above, or all ASCII: this cannot fail.
            return std::str::from_utf8(&self.buf[start..start + len])
                .map(|text| Some(Element::Row(text)))
                .map_err(|e| FileRejection::Json(format!("record {}: {e}", self.seen - 1)));
        }
        self.element().map(|text| Some(Element::Text(text)))
    }

    /// Moves to the start of the next element: true there, false after the closing bracket and the
    /// end of the input.
    fn advance_to_element(&mut self) -> Result<bool, FileRejection> {
        loop {
            match self.state {
                State::Done => return Ok(false),
                State::BeforeArray => match self.peek_token()? {
                    Some(b'[') => {
                        self.at += 1;
                        self.state = State::FirstElement;
                    }
                    _ => return Err(self.not_an_array()),
                },
                State::FirstElement => match self.peek_token()? {
                    Some(b']') => {
                        self.at += 1;
                        return self.after_array().map(|()| false);
                    }
                    Some(_) => return Ok(true),
                    None => return Err(self.truncated("EOF while parsing a list")),
                },
                State::AfterElement => match self.peek_token()? {
                    Some(b',') => {
                        self.at += 1;
                        match self.peek_token()? {
                            Some(b']') => {
                                return Err(FileRejection::Json(format!(
                                    "trailing comma after record {}",
                                    self.seen
                                )))
                            }
                            Some(_) => return Ok(true),
                            None => return Err(self.truncated("EOF while parsing a value")),
                        }
                    }
                    Some(b']') => {
                        self.at += 1;
                        return self.after_array().map(|()| false);
                    }
                    Some(other) => {
                        return Err(FileRejection::Json(format!(
                            "expected `,` or `]` after record {}, found {:?}",
                            self.seen,
                            char::from(other)
                        )))
                    }
                    None => return Err(self.truncated("EOF while parsing a list")),
                },
            }
        }
    }

    /// Reads the element starting at `self.at` (a non-whitespace byte); its text is valid JSON.
    fn element(&mut self) -> Result<&str, FileRejection> {
        // Where the reader failed last: an error that stays put when more bytes arrive is in the
        // element itself, one that moves was only the end of the bytes read so far (a number cut
        // after its `-` fails as "invalid number", not as the end of the input).
        let mut failed_at = None;
        let (start, len) = loop {
            let window = &self.buf[self.at..self.end];
            let mut values = serde_json::Deserializer::from_slice(window).into_iter::<&RawValue>();
            let error = match values.next() {
                // A number that ends where the bytes read so far end may go on in the next read.
                Some(Ok(raw)) if self.at + values.byte_offset() < self.end || self.eof => {
                    let start = raw.get().as_ptr() as usize - window.as_ptr() as usize;
                    break (self.at + start, raw.get().len());
                }
                Some(Ok(_)) | None => None,
                Some(Err(e)) => Some(e),
            };
            if let Some(e) = error {
                let here = (e.line(), e.column());
                if self.eof || failed_at == Some(here) {
                    return Err(if e.is_eof() {
                        self.truncated(&e.to_string())
                    } else {
                        FileRejection::Json(format!("record {}: {e}", self.seen))
                    });
                }
                failed_at = Some(here);
            }
            // At the end of the input this parses once more knowing that nothing follows.
            self.refill()?;
        };
        self.at = start + len;
        self.seen += 1;
        self.state = State::AfterElement;
        // The reader above has checked that the element is UTF-8: this cannot fail.
        std::str::from_utf8(&self.buf[start..start + len])
            .map_err(|e| FileRejection::Json(format!("record {}: {e}", self.seen - 1)))
    }

    /// Only whitespace may follow the array; reading to the end also lets the gzip decoder check
    /// its trailer.
    fn after_array(&mut self) -> Result<(), FileRejection> {
        self.state = State::Done;
        match self.peek_token()? {
            None => Ok(()),
            Some(b) => Err(FileRejection::TrailingData(format!(
                "trailing characters after the array (starting with {:?})",
                char::from(b)
            ))),
        }
    }

    /// The input does not start with `[`: serde_json's own reading of it names the problem, as the
    /// whole-value reader did.
    fn not_an_array(&mut self) -> FileRejection {
        let read = &self.buf[self.at..self.end];
        let rest = io::Cursor::new(read.to_vec()).chain(&mut self.input);
        let mut de = serde_json::Deserializer::from_reader(rest);
        match Vec::<IgnoredAny>::deserialize(&mut de).and_then(|_| de.end()) {
            Err(e) => classify(e, 0),
            Ok(()) => FileRejection::NotArray("expected a JSON array".into()),
        }
    }
}
