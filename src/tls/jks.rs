//! Reads Java's classic keystore format (JKS, `keytool -storetype JKS`): trusted certificates
//! and private keys protected by Sun's key protector. Written by hand because the one crate for
//! it always checks the store's integrity digest, while Java (and so Kafka) reads a truststore
//! without a password by skipping that check, and Amazon MSK's documented client configs rely
//! on it.
//!
//! Layout: magic `FEEDFEED`, version (1 or 2), entry count, entries (tag 1: private key, tag 2:
//! trusted certificate), then a SHA-1 over the password (UTF-16BE), the text
//! "Mighty Aphrodite" and everything before the digest.

use openssl::sha::Sha1;

const MAGIC: u32 = 0xFEED_FEED;
const PRIVATE_KEY: u32 = 1;
const TRUSTED_CERT: u32 = 2;
const WHITENER: &[u8] = b"Mighty Aphrodite";
/// 1.3.6.1.4.1.42.2.17.1.1, Sun's JKS key protector, DER-encoded.
const KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];

/// An entry of a JKS store: certificates are DER.
#[derive(Debug, Clone)]
pub enum JksEntry {
    PrivateKey {
        alias: String,
        /// The key protector's output: salt, encrypted PKCS#8 key, check digest.
        protected_key: Vec<u8>,
        chain: Vec<Vec<u8>>,
    },
    TrustedCert {
        alias: String,
        cert: Vec<u8>,
    },
}

/// Why a store could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JksError {
    #[error("not a JKS keystore")]
    NotJks,
    #[error("the keystore is truncated or malformed ({0})")]
    Malformed(&'static str),
    #[error("keystore password was incorrect (integrity check failed)")]
    WrongStorePassword,
    #[error("cannot recover key '{0}': the key password is incorrect")]
    WrongKeyPassword(String),
    #[error("key '{0}' is protected by an algorithm other than JKS's key protector")]
    UnsupportedKeyProtection(String),
}

/// Whether `bytes` start like a JKS store.
pub fn is_jks(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == MAGIC
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], JksError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(JksError::Malformed(what))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, JksError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, JksError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Java's `DataInput.readUTF`; aliases are ASCII in practice, anything else is kept lossily.
    fn utf(&mut self, what: &'static str) -> Result<String, JksError> {
        let len = self.u16(what)? as usize;
        Ok(String::from_utf8_lossy(self.take(len, what)?).into_owned())
    }

    fn certificate(&mut self, version: u32) -> Result<Vec<u8>, JksError> {
        if version == 2 {
            self.utf("certificate type")?;
        }
        let len = self.u32("certificate length")? as usize;
        Ok(self.take(len, "certificate")?.to_vec())
    }
}

fn password_bytes(password: &str) -> Vec<u8> {
    password
        .encode_utf16()
        .flat_map(|unit| unit.to_be_bytes())
        .collect()
}

/// Reads every entry. With a password the integrity digest is checked; without one it is
/// skipped, as Java does for `KeyStore.load(in, null)`.
pub fn read(bytes: &[u8], password: Option<&str>) -> Result<Vec<JksEntry>, JksError> {
    if !is_jks(bytes) {
        return Err(JksError::NotJks);
    }
    let mut r = Reader { bytes, pos: 4 };
    let version = r.u32("version")?;
    if version != 1 && version != 2 {
        return Err(JksError::Malformed("unknown version"));
    }
    let count = r.u32("entry count")?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let tag = r.u32("entry tag")?;
        let alias = r.utf("alias")?;
        r.take(8, "timestamp")?;
        match tag {
            PRIVATE_KEY => {
                let len = r.u32("key length")? as usize;
                let protected_key = r.take(len, "key")?.to_vec();
                let chain_len = r.u32("chain length")?;
                let chain = (0..chain_len)
                    .map(|_| r.certificate(version))
                    .collect::<Result<Vec<_>, _>>()?;
                entries.push(JksEntry::PrivateKey {
                    alias,
                    protected_key,
                    chain,
                });
            }
            TRUSTED_CERT => entries.push(JksEntry::TrustedCert {
                alias,
                cert: r.certificate(version)?,
            }),
            _ => return Err(JksError::Malformed("unknown entry type")),
        }
    }
    let body_end = r.pos;
    let digest = r.take(20, "integrity digest")?;
    if let Some(password) = password {
        let mut sha = Sha1::new();
        sha.update(&password_bytes(password));
        sha.update(WHITENER);
        sha.update(&bytes[..body_end]);
        if sha.finish().as_slice() != digest {
            return Err(JksError::WrongStorePassword);
        }
    }
    Ok(entries)
}

/// Reads one DER element's header at `pos`: (tag, content start, content end).
fn der_element(bytes: &[u8], pos: usize) -> Option<(u8, usize, usize)> {
    let tag = *bytes.get(pos)?;
    let first = *bytes.get(pos + 1)? as usize;
    let (len, start) = if first < 0x80 {
        (first, pos + 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *bytes.get(pos + 2 + i)? as usize;
        }
        (len, pos + 2 + n)
    };
    let end = start.checked_add(len).filter(|e| *e <= bytes.len())?;
    Some((tag, start, end))
}

/// Recovers the PKCS#8 DER key from a JKS private-key entry: the entry is an
/// `EncryptedPrivateKeyInfo` whose data is `salt(20) || key XOR keystream || check(20)`, the
/// keystream being chained SHA-1s of password and the previous block, seeded with the salt.
pub fn decrypt_key(alias: &str, protected_key: &[u8], password: &str) -> Result<Vec<u8>, JksError> {
    let malformed = || JksError::Malformed("encrypted key");
    let (tag, seq_start, seq_end) = der_element(protected_key, 0).ok_or_else(malformed)?;
    if tag != 0x30 {
        return Err(malformed());
    }
    let (tag, alg_start, alg_end) = der_element(protected_key, seq_start).ok_or_else(malformed)?;
    if tag != 0x30 {
        return Err(malformed());
    }
    let (tag, oid_start, oid_end) = der_element(protected_key, alg_start).ok_or_else(malformed)?;
    if tag != 0x06 || &protected_key[oid_start..oid_end] != KEY_PROTECTOR_OID {
        return Err(JksError::UnsupportedKeyProtection(alias.to_string()));
    }
    let (tag, data_start, data_end) = der_element(protected_key, alg_end).ok_or_else(malformed)?;
    if tag != 0x04 || data_end > seq_end {
        return Err(malformed());
    }
    let data = &protected_key[data_start..data_end];
    if data.len() < 40 {
        return Err(malformed());
    }
    let (salt, rest) = data.split_at(20);
    let (encrypted, check) = rest.split_at(rest.len() - 20);
    let pw = password_bytes(password);
    let mut key = Vec::with_capacity(encrypted.len());
    let mut block = salt.to_vec();
    for chunk in encrypted.chunks(20) {
        let mut sha = Sha1::new();
        sha.update(&pw);
        sha.update(&block);
        block = sha.finish().to_vec();
        key.extend(chunk.iter().zip(&block).map(|(c, k)| c ^ k));
    }
    let mut sha = Sha1::new();
    sha.update(&pw);
    sha.update(&key);
    if sha.finish().as_slice() != check {
        return Err(JksError::WrongKeyPassword(alias.to_string()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a JKS store the way keytool lays it out, protecting the key with the same scheme.
    fn store(password: &str, key_password: &str, key: &[u8], cert: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(MAGIC.to_be_bytes());
        body.extend(2u32.to_be_bytes());
        body.extend(2u32.to_be_bytes());
        // A private key entry.
        body.extend(PRIVATE_KEY.to_be_bytes());
        body.extend(3u16.to_be_bytes());
        body.extend(b"key");
        body.extend(0u64.to_be_bytes());
        let protected = protect(key, key_password);
        body.extend((protected.len() as u32).to_be_bytes());
        body.extend(&protected);
        body.extend(1u32.to_be_bytes());
        put_cert(&mut body, cert);
        // A trusted certificate entry.
        body.extend(TRUSTED_CERT.to_be_bytes());
        body.extend(2u16.to_be_bytes());
        body.extend(b"ca");
        body.extend(0u64.to_be_bytes());
        put_cert(&mut body, cert);
        let mut sha = Sha1::new();
        sha.update(&password_bytes(password));
        sha.update(WHITENER);
        sha.update(&body);
        body.extend(sha.finish());
        body
    }

    fn put_cert(out: &mut Vec<u8>, cert: &[u8]) {
        out.extend(5u16.to_be_bytes());
        out.extend(b"X.509");
        out.extend((cert.len() as u32).to_be_bytes());
        out.extend(cert);
    }

    fn protect(key: &[u8], password: &str) -> Vec<u8> {
        let pw = password_bytes(password);
        let salt = [7u8; 20];
        let mut data = salt.to_vec();
        let mut block = salt.to_vec();
        for chunk in key.chunks(20) {
            let mut sha = Sha1::new();
            sha.update(&pw);
            sha.update(&block);
            block = sha.finish().to_vec();
            data.extend(chunk.iter().zip(&block).map(|(c, k)| c ^ k));
        }
        let mut sha = Sha1::new();
        sha.update(&pw);
        sha.update(key);
        data.extend(sha.finish());
        let mut alg = vec![0x06, KEY_PROTECTOR_OID.len() as u8];
        alg.extend(KEY_PROTECTOR_OID);
        alg.extend([0x05, 0x00]);
        let mut inner = vec![0x30, alg.len() as u8];
        inner.extend(alg);
        inner.extend([0x04, 0x81, data.len() as u8]);
        inner.extend(data);
        let mut out = vec![0x30, 0x81, inner.len() as u8];
        out.extend(inner);
        out
    }

    #[test]
    fn reads_entries_and_recovers_the_key() {
        let key: Vec<u8> = (0..55u8).collect();
        let bytes = store("storepass", "keypass", &key, b"CERT");
        let entries = read(&bytes, Some("storepass")).unwrap();
        assert_eq!(entries.len(), 2);
        let JksEntry::PrivateKey {
            alias,
            protected_key,
            chain,
        } = &entries[0]
        else {
            panic!("{entries:?}")
        };
        assert_eq!(alias, "key");
        assert_eq!(chain, &vec![b"CERT".to_vec()]);
        assert_eq!(decrypt_key(alias, protected_key, "keypass").unwrap(), key);
        assert_eq!(
            decrypt_key(alias, protected_key, "nope"),
            Err(JksError::WrongKeyPassword("key".into()))
        );
        assert!(
            matches!(&entries[1], JksEntry::TrustedCert { alias, cert } if alias == "ca" && cert == b"CERT")
        );
    }

    #[test]
    fn password_checks_integrity_and_none_skips_it() {
        let bytes = store("storepass", "storepass", b"k", b"C");
        assert_eq!(
            read(&bytes, Some("wrong")).unwrap_err(),
            JksError::WrongStorePassword
        );
        assert_eq!(read(&bytes, None).unwrap().len(), 2);
        assert_eq!(read(b"\x30\x82", None).unwrap_err(), JksError::NotJks);
        assert!(matches!(
            read(&bytes[..30], None).unwrap_err(),
            JksError::Malformed(_)
        ));
    }
}
