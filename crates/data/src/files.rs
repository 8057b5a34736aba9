//! Opening data files: plain or gzip-compressed (detected by the gzip magic bytes `1f 8b`,
//! not by the name), buffered for streaming.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::DataError;

/// Opens `path` for buffered reading, decompressing gzip transparently.
///
/// # Errors
/// [`DataError::Io`] if the file cannot be opened or read.
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead + Send>, DataError> {
    let mut file = BufReader::new(File::open(path).map_err(|e| DataError::io(path, e))?);
    let head = file.fill_buf().map_err(|e| DataError::io(path, e))?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(file))
    }
}

/// Reads a whole file, decompressing it if it starts with the gzip magic bytes. Returns the
/// bytes and whether they were compressed.
///
/// # Errors
/// [`DataError::Io`] for an unreadable file, [`DataError::Parse`] for corrupt gzip data.
pub fn read_maybe_gz(path: &Path) -> Result<(Vec<u8>, bool), DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::parse(path, "", format!("corrupt gzip data: {e}")))?;
        Ok((out, true))
    } else {
        Ok((raw, false))
    }
}

/// Reads a whole (possibly gzip-compressed) UTF-8 text file.
///
/// # Errors
/// As [`read_maybe_gz`], plus [`DataError::Parse`] naming the byte where the text stops being
/// UTF-8.
pub fn read_text(path: &Path) -> Result<String, DataError> {
    let (bytes, _) = read_maybe_gz(path)?;
    String::from_utf8(bytes).map_err(|e| {
        DataError::parse(
            path,
            format!("byte {}", e.utf8_error().valid_up_to()),
            "not valid UTF-8 text",
        )
    })
}
