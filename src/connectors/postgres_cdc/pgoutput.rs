//! Decoding of the `pgoutput` logical replication messages (protocol version 1) that arrive
//! in XLogData: Relation, Insert, Update, Delete, Truncate, Type and Origin. Begin and
//! Commit are decoded by `pgwire-replication` itself. Tuple values are kept in the text
//! format the server sends them in, the same text a `SELECT` returns, so snapshot rows and
//! streamed rows go through one conversion.

use thiserror::Error;

/// A malformed message: the server and the decoder disagree about the protocol.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed pgoutput message: {0}")]
pub struct DecodeError(pub String);

type Result<T> = std::result::Result<T, DecodeError>;

/// One column of a Relation message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (the key under REPLICA IDENTITY DEFAULT).
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    /// `atttypmod`: -1 when the type has none.
    pub type_modifier: i32,
}

/// A table's description, sent before the first change of each transaction that touches it
/// after (re)connection or after its definition changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    pub columns: Vec<RelationColumn>,
}

/// One column value of a tuple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TupleValue {
    Null,
    /// A TOASTed value that the change did not modify: its value is not in the WAL.
    UnchangedToast,
    Text(String),
}

/// A decoded pgoutput message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Relation(Relation),
    Insert {
        relation: u32,
        new: Vec<TupleValue>,
    },
    Update {
        relation: u32,
        /// The old row: its key columns (`K`) or every column under REPLICA IDENTITY FULL
        /// (`O`); None when the key did not change and identity is not FULL.
        old: Option<Vec<TupleValue>>,
        new: Vec<TupleValue>,
    },
    Delete {
        relation: u32,
        old: Vec<TupleValue>,
    },
    Truncate {
        relations: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
    /// Begin, Commit, Type, Origin, logical messages: nothing to emit.
    Other(u8),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.pos + n > self.buf.len() {
            return Err(DecodeError(format!(
                "needs {n} bytes at offset {}, has {}",
                self.pos,
                self.buf.len() - self.pos
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }
    fn cstr(&mut self) -> Result<String> {
        let rest = &self.buf[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| DecodeError("unterminated string".into()))?;
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }

    fn tuple(&mut self) -> Result<Vec<TupleValue>> {
        let n = self.u16()? as usize;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(match self.u8()? {
                b'n' => TupleValue::Null,
                b'u' => TupleValue::UnchangedToast,
                b't' => {
                    let len = self.u32()? as usize;
                    TupleValue::Text(String::from_utf8_lossy(self.take(len)?).into_owned())
                }
                b'b' => {
                    return Err(DecodeError(
                        "binary tuple data: the stream must use the text format".into(),
                    ))
                }
                other => return Err(DecodeError(format!("unknown tuple kind {other}"))),
            });
        }
        Ok(out)
    }
}

/// Decodes one message.
pub fn decode(data: &[u8]) -> Result<Message> {
    let mut r = Reader { buf: data, pos: 0 };
    let tag = r.u8()?;
    Ok(match tag {
        b'R' => {
            let oid = r.u32()?;
            let schema = r.cstr()?;
            let name = r.cstr()?;
            let replica_identity = r.u8()?;
            let n = r.u16()? as usize;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                let flags = r.u8()?;
                columns.push(RelationColumn {
                    key: flags & 1 == 1,
                    name: r.cstr()?,
                    type_oid: r.u32()?,
                    type_modifier: r.i32()?,
                });
            }
            Message::Relation(Relation {
                oid,
                schema,
                name,
                replica_identity,
                columns,
            })
        }
        b'I' => {
            let relation = r.u32()?;
            expect(r.u8()?, b'N', "Insert")?;
            Message::Insert {
                relation,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let mut kind = r.u8()?;
            let mut old = None;
            if kind == b'K' || kind == b'O' {
                old = Some(r.tuple()?);
                kind = r.u8()?;
            }
            expect(kind, b'N', "Update")?;
            Message::Update {
                relation,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let relation = r.u32()?;
            let kind = r.u8()?;
            if kind != b'K' && kind != b'O' {
                return Err(DecodeError(format!(
                    "Delete: expected K or O, got {}",
                    kind as char
                )));
            }
            Message::Delete {
                relation,
                old: r.tuple()?,
            }
        }
        b'T' => {
            let n = r.u32()? as usize;
            let options = r.u8()?;
            let mut relations = Vec::with_capacity(n);
            for _ in 0..n {
                relations.push(r.u32()?);
            }
            Message::Truncate {
                relations,
                cascade: options & 1 == 1,
                restart_identity: options & 2 == 2,
            }
        }
        other => Message::Other(other),
    })
}

fn expect(got: u8, want: u8, what: &str) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(DecodeError(format!(
            "{what}: expected {}, got {}",
            want as char, got as char
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(values: &[Option<&str>]) -> Vec<u8> {
        let mut out = (values.len() as u16).to_be_bytes().to_vec();
        for v in values {
            match v {
                None => out.push(b'n'),
                Some("\u{0}toast") => out.push(b'u'),
                Some(s) => {
                    out.push(b't');
                    out.extend((s.len() as u32).to_be_bytes());
                    out.extend(s.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn decodes_relation_and_changes() {
        let mut rel = vec![b'R'];
        rel.extend(16384u32.to_be_bytes());
        rel.extend(b"public\0items\0");
        rel.push(b'f');
        rel.extend(2u16.to_be_bytes());
        rel.push(1);
        rel.extend(b"id\0");
        rel.extend(23u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        rel.push(0);
        rel.extend(b"price\0");
        rel.extend(1700u32.to_be_bytes());
        rel.extend(((10 << 16) + 2 + 4i32).to_be_bytes());
        let Message::Relation(r) = decode(&rel).unwrap() else {
            panic!()
        };
        assert_eq!(r.schema, "public");
        assert_eq!(r.name, "items");
        assert_eq!(r.replica_identity, b'f');
        assert!(r.columns[0].key && !r.columns[1].key);
        assert_eq!(r.columns[1].type_oid, 1700);

        let mut upd = vec![b'U'];
        upd.extend(16384u32.to_be_bytes());
        upd.push(b'O');
        upd.extend(tuple(&[Some("1"), None]));
        upd.push(b'N');
        upd.extend(tuple(&[Some("1"), Some("\u{0}toast")]));
        assert_eq!(
            decode(&upd).unwrap(),
            Message::Update {
                relation: 16384,
                old: Some(vec![TupleValue::Text("1".into()), TupleValue::Null]),
                new: vec![TupleValue::Text("1".into()), TupleValue::UnchangedToast],
            }
        );

        let mut trunc = vec![b'T'];
        trunc.extend(2u32.to_be_bytes());
        trunc.push(3);
        trunc.extend(1u32.to_be_bytes());
        trunc.extend(2u32.to_be_bytes());
        assert_eq!(
            decode(&trunc).unwrap(),
            Message::Truncate {
                relations: vec![1, 2],
                cascade: true,
                restart_identity: true
            }
        );
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut ins = vec![b'I'];
        ins.extend(7u32.to_be_bytes());
        ins.push(b'N');
        ins.extend(1u16.to_be_bytes());
        ins.push(b't');
        ins.extend(100u32.to_be_bytes());
        ins.extend(b"short");
        assert!(decode(&ins).is_err());
        assert!(decode(&[b'D', 0, 0]).is_err());
    }
}
