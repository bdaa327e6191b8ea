//! Envelope format v1: a self-describing, authenticated container for one
//! encrypted value. Byte layout (all integers big-endian; see docs/FORMAT.md):
//!
//! ```text
//! off  len  field
//!   0    4  magic            0x89 'H' 'C' 'E'
//!   4    1  format version   1
//!   5    1  algorithm id     1 = XAES-256-GCM
//!   6    1  content type     0 = bytes, 1 = UTF-8 text, 2 = JSON text
//!   7    1  flags            0, or 1 = payload is a zstd frame (compress-then-encrypt)
//!   8   16  keyring id       UUID
//!  24    4  key version      >= 1
//!  28    4  ciphertext length n
//!  32   24  nonce            192 random bits
//!  56    n  ciphertext
//! 56+n  16  tag
//! ```
//!
//! The whole 56-byte header is authenticated: AAD = header ‖ context. So is
//! the caller's context, which binds the value to where it lives. Because the
//! header states the ciphertext length, truncation and appended bytes are
//! recognised structurally, before any key is touched.
//!
//! With the compression flag the ciphertext encrypts a zstd frame of the
//! plaintext instead of the plaintext itself. The flag is part of the
//! authenticated header, so it cannot be flipped; [`seal_with`] sets it only
//! when compression actually shrinks the value.

use zeroize::Zeroizing;

use crate::aead::{XaesKey, TAG_LEN, XAES_NONCE_LEN};
use crate::buffer;
use crate::keys::fill_random;
use crate::{Error, Result};

/// First four bytes of every envelope. The high bit of the first byte makes
/// it invalid as the start of UTF-8 text and survives no 7-bit channel.
pub const MAGIC: [u8; 4] = [0x89, b'H', b'C', b'E'];
/// The only format version this build writes and reads.
pub const FORMAT_V1: u8 = 1;
/// Header length in format v1.
pub const HEADER_LEN: usize = 56;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Largest plaintext one envelope carries (the length field is 32 bits;
/// PostgreSQL's own 1 GB datum limit is lower still).
pub const MAX_PLAINTEXT: usize = u32::MAX as usize;

/// The AEAD an envelope is sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Algorithm {
    /// XAES-256-GCM (C2SP), 192-bit nonce, 128-bit tag.
    Xaes256Gcm = 1,
}

impl Algorithm {
    /// Looks up a wire id; `None` for ids this build does not implement.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Xaes256Gcm),
            _ => None,
        }
    }

    /// Stable name used in the JSON form and `envelope_info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Xaes256Gcm => "XAES-256-GCM",
        }
    }

    /// Inverse of [`Algorithm::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "XAES-256-GCM" => Some(Self::Xaes256Gcm),
            _ => None,
        }
    }
}

/// What the plaintext is, so it is returned as the type it was stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ContentType {
    /// Arbitrary bytes (`bytea`).
    Bytes = 0,
    /// UTF-8 text (`text`, `varchar`).
    Text = 1,
    /// JSON text (`jsonb`), in PostgreSQL's canonical output form.
    Json = 2,
}

impl ContentType {
    /// Looks up a wire id.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::Bytes),
            1 => Some(Self::Text),
            2 => Some(Self::Json),
            _ => None,
        }
    }

    /// Stable name used in the JSON form and `envelope_info`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bytes => "bytea",
            Self::Text => "text",
            Self::Json => "jsonb",
        }
    }

    /// Inverse of [`ContentType::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bytea" => Some(Self::Bytes),
            "text" => Some(Self::Text),
            "jsonb" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Which key an envelope needs: keyring and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyRef {
    /// Keyring UUID bytes.
    pub keyring_id: [u8; 16],
    /// Key version within the keyring (>= 1).
    pub key_version: u32,
}

/// Flag bit: the payload is a zstd frame of the plaintext.
pub const FLAG_ZSTD: u8 = 0x01;
/// zstd level for compress-then-encrypt: fast, and most of zstd's ratio on
/// prose and JSON.
const ZSTD_LEVEL: i32 = 3;

/// How the plaintext was transformed before encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Stored as is.
    None,
    /// A zstd frame (with its content size) of the plaintext.
    Zstd,
}

impl Compression {
    /// Name used in JSON and by envelope_info().
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
        }
    }

    fn flags(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => FLAG_ZSTD,
        }
    }
}

/// A decoded v1 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// AEAD used.
    pub algorithm: Algorithm,
    /// Type of the plaintext.
    pub content: ContentType,
    /// Key that sealed it.
    pub key: KeyRef,
    /// Ciphertext length in bytes (the plaintext's, or its zstd frame's).
    pub ciphertext_len: u32,
    /// Whether the payload is compressed.
    pub compression: Compression,
    /// Random nonce.
    pub nonce: [u8; XAES_NONCE_LEN],
}

impl Header {
    /// The canonical 56 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = FORMAT_V1;
        h[5] = self.algorithm as u8;
        h[6] = self.content as u8;
        h[7] = self.compression.flags();
        h[8..24].copy_from_slice(&self.key.keyring_id);
        h[24..28].copy_from_slice(&self.key.key_version.to_be_bytes());
        h[28..32].copy_from_slice(&self.ciphertext_len.to_be_bytes());
        h[32..56].copy_from_slice(&self.nonce);
        h
    }

    /// Total envelope length this header announces.
    pub fn envelope_len(&self) -> usize {
        OVERHEAD + self.ciphertext_len as usize
    }
}

/// A parsed, not yet authenticated envelope borrowing its input.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// Decoded header (unauthenticated until [`Envelope::open`] succeeds).
    pub header: Header,
    header_bytes: &'a [u8],
    /// Ciphertext bytes.
    pub ciphertext: &'a [u8],
    /// Authentication tag.
    pub tag: [u8; TAG_LEN],
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Parses an envelope. Total: every input yields `Ok` or a specific `Err`.
///
/// Checks run from the outside in — magic, version, length, then fields — so
/// the error names the first thing wrong.
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>> {
    let n = bytes.len();
    let magic_seen = n.min(MAGIC.len());
    if bytes[..magic_seen] != MAGIC[..magic_seen] {
        return Err(Error::NotAnEnvelope);
    }
    if n <= MAGIC.len() {
        return Err(Error::Truncated {
            expected: OVERHEAD,
            actual: n,
        });
    }
    if bytes[4] != FORMAT_V1 {
        return Err(Error::UnsupportedVersion(bytes[4]));
    }
    if n < HEADER_LEN {
        return Err(Error::Truncated {
            expected: OVERHEAD,
            actual: n,
        });
    }
    let algorithm = Algorithm::from_id(bytes[5]).ok_or(Error::UnsupportedAlgorithm(bytes[5]))?;
    let content =
        ContentType::from_id(bytes[6]).ok_or(Error::MalformedHeader("unknown content type"))?;
    let compression = match bytes[7] {
        0 => Compression::None,
        FLAG_ZSTD => Compression::Zstd,
        _ => return Err(Error::MalformedHeader("reserved flags are set")),
    };
    let mut keyring_id = [0u8; 16];
    keyring_id.copy_from_slice(&bytes[8..24]);
    let key_version = be_u32(&bytes[24..28]);
    if key_version == 0 {
        return Err(Error::MalformedHeader("key version 0"));
    }
    let ciphertext_len = be_u32(&bytes[28..32]);
    let mut nonce = [0u8; XAES_NONCE_LEN];
    nonce.copy_from_slice(&bytes[32..56]);
    let header = Header {
        algorithm,
        content,
        key: KeyRef {
            keyring_id,
            key_version,
        },
        ciphertext_len,
        nonce,
        compression,
    };
    let expected = header.envelope_len();
    if n < expected {
        return Err(Error::Truncated {
            expected,
            actual: n,
        });
    }
    if n > expected {
        return Err(Error::TrailingBytes {
            extra: n - expected,
        });
    }
    let ct_end = HEADER_LEN + ciphertext_len as usize;
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&bytes[ct_end..]);
    Ok(Envelope {
        header,
        header_bytes: &bytes[..HEADER_LEN],
        ciphertext: &bytes[HEADER_LEN..ct_end],
        tag,
    })
}

fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context);
    aad
}

/// Encrypts `plaintext` under `key` (identified by `key_ref`) into a v1
/// envelope bound to `context`.
pub fn seal(
    key: &XaesKey,
    key_ref: KeyRef,
    content: ContentType,
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>> {
    let mut out = buffer::zeroed(sealed_len(plaintext.len())?)?;
    seal_into(key, key_ref, content, plaintext, context, &mut out)?;
    Ok(out)
}

/// Length of the envelope for a plaintext of `plaintext_len` bytes.
pub fn sealed_len(plaintext_len: usize) -> Result<usize> {
    if plaintext_len > MAX_PLAINTEXT {
        return Err(Error::TooLarge(plaintext_len));
    }
    Ok(OVERHEAD + plaintext_len)
}

/// Like [`seal`], writing into `out`, which must be exactly
/// [`sealed_len`]`(plaintext.len())` bytes (lets the caller seal straight
/// into memory it owns, such as a PostgreSQL datum).
pub fn seal_into(
    key: &XaesKey,
    key_ref: KeyRef,
    content: ContentType,
    plaintext: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<()> {
    seal_payload_into(
        key,
        key_ref,
        content,
        Compression::None,
        plaintext,
        context,
        out,
    )
}

/// Like [`seal`], compressing first when `compress` is set and zstd makes
/// the value smaller (incompressible values are stored as they are).
///
/// Compression before encryption lets the envelope's length depend on the
/// content: whoever can place chosen text next to a secret in the same value
/// and watch the stored size can learn about the secret. Off unless asked.
pub fn seal_with(
    key: &XaesKey,
    key_ref: KeyRef,
    content: ContentType,
    plaintext: &[u8],
    context: &[u8],
    compress: bool,
) -> Result<Vec<u8>> {
    if compress && plaintext.len() > 64 {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(Error::TooLarge(plaintext.len()));
        }
        let frame = zstd_frame(plaintext)?;
        if frame.len() < plaintext.len() {
            let mut out = buffer::zeroed(OVERHEAD + frame.len())?;
            seal_payload_into(
                key,
                key_ref,
                content,
                Compression::Zstd,
                &frame,
                context,
                &mut out,
            )?;
            return Ok(out);
        }
    }
    seal(key, key_ref, content, plaintext, context)
}

fn seal_payload_into(
    key: &XaesKey,
    key_ref: KeyRef,
    content: ContentType,
    compression: Compression,
    plaintext: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<()> {
    if out.len() != sealed_len(plaintext.len())? || key_ref.key_version == 0 {
        return Err(Error::TooLarge(plaintext.len()));
    }
    let mut nonce = [0u8; XAES_NONCE_LEN];
    fill_random(&mut nonce)?;
    let header = Header {
        algorithm: Algorithm::Xaes256Gcm,
        content,
        key: key_ref,
        ciphertext_len: plaintext.len() as u32,
        nonce,
        compression,
    };
    let header_bytes = header.encode();
    let (head, rest) = out.split_at_mut(HEADER_LEN);
    let (body, tag_out) = rest.split_at_mut(plaintext.len());
    head.copy_from_slice(&header_bytes);
    body.copy_from_slice(plaintext);
    let tag = key.seal_in_place(&nonce, &aad(&header_bytes, context), body)?;
    tag_out.copy_from_slice(&tag);
    Ok(())
}

impl Envelope<'_> {
    /// Authenticates and decrypts (and decompresses, for compressed
    /// envelopes). Returns the whole plaintext or an error, never part of it.
    pub fn open(&self, key: &XaesKey, context: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut payload = Zeroizing::new(buffer::zeroed(self.ciphertext.len())?);
        self.decrypt_payload(key, context, &mut payload)?;
        match self.header.compression {
            Compression::None => Ok(payload),
            Compression::Zstd => decompress(&payload),
        }
    }

    /// Authenticates without keeping the plaintext.
    pub fn verify(&self, key: &XaesKey, context: &[u8]) -> Result<bool> {
        let mut payload = Zeroizing::new(buffer::zeroed(self.ciphertext.len())?);
        Ok(self.decrypt_payload(key, context, &mut payload).is_ok())
    }

    /// Whether the payload is compressed (then [`Envelope::open_into`] does
    /// not apply: the plaintext's length is only known after decryption).
    pub fn is_compressed(&self) -> bool {
        self.header.compression != Compression::None
    }

    /// Like [`Envelope::open`], writing the plaintext of an uncompressed
    /// envelope into `out` (exactly `ciphertext.len()` bytes). On failure
    /// `out` holds only zeros.
    pub fn open_into(&self, key: &XaesKey, context: &[u8], out: &mut [u8]) -> Result<()> {
        if self.is_compressed() {
            return Err(Error::MalformedHeader(
                "compressed envelope: its plaintext length is not known before opening",
            ));
        }
        self.decrypt_payload(key, context, out)
    }

    fn decrypt_payload(&self, key: &XaesKey, context: &[u8], out: &mut [u8]) -> Result<()> {
        if out.len() != self.ciphertext.len() {
            return Err(Error::MalformedHeader(
                "output buffer length differs from ciphertext length",
            ));
        }
        out.copy_from_slice(self.ciphertext);
        key.open_in_place(
            &self.header.nonce,
            &aad(self.header_bytes, context),
            out,
            &self.tag,
        )
    }
}

thread_local! {
    // zstd contexts hold large tables; one per thread, reused for every
    // value, instead of one allocated and freed per value.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

fn with_compressor<T>(
    f: impl FnOnce(&mut zstd::bulk::Compressor<'static>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
        }
        f(slot.as_mut().expect("just created"))
    })
}

fn with_decompressor<T>(
    f: impl FnOnce(&mut zstd::bulk::Decompressor<'static>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        f(slot.as_mut().expect("just created"))
    })
}

/// Decompresses an authenticated zstd payload. The frame must state its
/// content size, within the format's limit, and deliver exactly that much.
fn decompress(frame: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let malformed = || Error::MalformedHeader("compressed payload is malformed");
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_PLAINTEXT as u64 => n as usize,
        Ok(Some(n)) => return Err(Error::TooLarge(usize::try_from(n).unwrap_or(usize::MAX))),
        _ => return Err(malformed()),
    };
    let mut out = Zeroizing::new(buffer::zeroed(size)?);
    let n = with_decompressor(|d| d.decompress_to_buffer(frame, &mut out[..]))
        .map_err(|_| malformed())?;
    if n != size {
        return Err(malformed());
    }
    Ok(out)
}

/// A zstd frame of `plaintext`, in a buffer reserved fallibly (the zstd
/// crate's own `compress` would allocate its bound infallibly).
fn zstd_frame(plaintext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let bound = zstd::zstd_safe::compress_bound(plaintext.len());
    let mut frame = Zeroizing::new(buffer::zeroed(bound)?);
    let n = with_compressor(|c| c.compress_to_buffer(plaintext, &mut frame[..]))
        .map_err(|_| Error::MalformedHeader("compression failed"))?;
    frame.truncate(n);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn key() -> XaesKey {
        XaesKey::new(&SecretKey::from_bytes(&[42; 32]).unwrap())
    }
    const KR: KeyRef = KeyRef {
        keyring_id: [7; 16],
        key_version: 1,
    };

    #[test]
    fn layout_matches_documentation() {
        let env = seal(&key(), KR, ContentType::Text, b"hello", b"").unwrap();
        assert_eq!(env.len(), OVERHEAD + 5);
        assert_eq!(&env[0..4], &MAGIC);
        assert_eq!(env[4], 1);
        assert_eq!(env[5], 1);
        assert_eq!(env[6], 1);
        assert_eq!(env[7], 0);
        assert_eq!(&env[8..24], &[7; 16]);
        assert_eq!(&env[24..28], &1u32.to_be_bytes());
        assert_eq!(&env[28..32], &5u32.to_be_bytes());
    }

    #[test]
    fn every_truncation_and_extension_is_structural() {
        let env = seal(&key(), KR, ContentType::Bytes, &[1, 2, 3], b"c").unwrap();
        for cut in 0..env.len() {
            let err = parse(&env[..cut]).unwrap_err();
            assert!(matches!(err, Error::Truncated { .. }), "cut {cut}: {err:?}");
        }
        for extra in [1usize, 16] {
            let mut longer = env.clone();
            longer.extend(std::iter::repeat_n(0, extra));
            assert_eq!(parse(&longer).unwrap_err(), Error::TrailingBytes { extra });
        }
    }

    #[test]
    fn wrong_context_and_key_fail_authentication() {
        let env = seal(&key(), KR, ContentType::Text, b"x", b"row 1").unwrap();
        let parsed = parse(&env).unwrap();
        assert_eq!(
            parsed.open(&key(), b"row 2").unwrap_err(),
            Error::AuthenticationFailed
        );
        let other = XaesKey::new(&SecretKey::from_bytes(&[43; 32]).unwrap());
        assert_eq!(
            parsed.open(&other, b"row 1").unwrap_err(),
            Error::AuthenticationFailed
        );
        assert_eq!(&*parsed.open(&key(), b"row 1").unwrap(), b"x");
    }

    #[test]
    fn version_and_algorithm_bytes_are_checked() {
        let mut env = seal(&key(), KR, ContentType::Text, b"x", b"").unwrap();
        env[4] = 2;
        assert_eq!(parse(&env).unwrap_err(), Error::UnsupportedVersion(2));
        env[4] = 1;
        env[5] = 0;
        assert_eq!(parse(&env).unwrap_err(), Error::UnsupportedAlgorithm(0));
    }

    #[test]
    fn compressed_envelopes_round_trip_and_stay_authenticated() {
        let prose = "The patient reports better sleep and fewer headaches. ".repeat(80);
        let env = seal_with(
            &key(),
            KR,
            ContentType::Text,
            prose.as_bytes(),
            b"ctx",
            true,
        )
        .unwrap();
        let parsed = parse(&env).unwrap();
        assert!(
            parsed.is_compressed() && env.len() < prose.len() / 4,
            "{} bytes",
            env.len()
        );
        assert_eq!(&*parsed.open(&key(), b"ctx").unwrap(), prose.as_bytes());
        assert!(
            parsed.verify(&key(), b"ctx").unwrap() && !parsed.verify(&key(), b"other").unwrap()
        );
        assert!(parsed
            .open_into(&key(), b"ctx", &mut vec![0; parsed.ciphertext.len()])
            .is_err());
        // The flag is authenticated: clearing it breaks the tag.
        let mut flipped = env.clone();
        flipped[7] = 0;
        assert_eq!(
            parse(&flipped).unwrap().open(&key(), b"ctx").unwrap_err(),
            Error::AuthenticationFailed
        );
        // Unknown flags are refused before any key is used.
        flipped[7] = 2;
        assert_eq!(
            parse(&flipped).unwrap_err(),
            Error::MalformedHeader("reserved flags are set")
        );
        // The JSON form carries the flag.
        let j = crate::envelope_json::to_json(&env).unwrap();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["meta"]["compression"], "zstd");
        assert_eq!(crate::envelope_json::from_json(&j).unwrap(), env);
    }

    #[test]
    fn incompressible_and_tiny_values_are_stored_as_they_are() {
        let mut noise = vec![0u8; 4096];
        crate::keys::fill_random(&mut noise).unwrap();
        for data in [&noise[..], b"short"] {
            let env = seal_with(&key(), KR, ContentType::Bytes, data, b"", true).unwrap();
            let parsed = parse(&env).unwrap();
            assert!(!parsed.is_compressed());
            assert_eq!(&*parsed.open(&key(), b"").unwrap(), data);
        }
    }
}
